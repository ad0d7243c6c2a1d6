"""The normal build ships the compiled kernels; FASTLINKS_NO_EXTENSIONS=1 forces the pure ones."""

import os
import subprocess
import sys

import fastlinks


def test_compiled_kernels_loaded_in_normal_build():
    if os.environ.get("FASTLINKS_NO_EXTENSIONS", "") not in ("", "0"):
        assert fastlinks.IMPLEMENTATION == "python"
    else:
        assert fastlinks.IMPLEMENTATION == "cython", "fastlinks._core did not import: the build is broken"


def test_environment_variable_forces_pure_python():
    code = "import fastlinks, fastlinks._kernels as k; print(fastlinks.IMPLEMENTATION, k.core.__name__)"
    env = {**os.environ, "FASTLINKS_NO_EXTENSIONS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["python", "fastlinks._core_py"]
