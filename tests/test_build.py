"""The build and the seam: the normal build binds the compiled kernels, each compiled module and
its pure twin offer the same functions with the same signatures, and a broken build says so."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import subprocess
import sys
import textwrap

import pytest

import fastlinks
from fastlinks import _kernels

COMPILED = ["fastlinks._parse", "fastlinks._compact", "fastlinks._materialize", "fastlinks.otlp._wire"]


def test_compiled_kernels_loaded_in_normal_build():
    if os.environ.get("FASTLINKS_NO_EXTENSIONS", "") not in ("", "0"):
        assert fastlinks.IMPLEMENTATION == "python"
    else:
        assert fastlinks.IMPLEMENTATION == "cython", "a compiled kernel did not import: the build is broken"


def test_environment_variable_forces_pure_python():
    code = "import fastlinks, fastlinks._kernels as k; print(fastlinks.IMPLEMENTATION, k.parse.__name__)"
    env = {**os.environ, "FASTLINKS_NO_EXTENSIONS": "1"}
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True).stdout
    assert out.split() == ["python", "fastlinks._parse_py"]


def _public(module):
    return {name: obj for name, obj in vars(module).items() if callable(obj) and not name.startswith("_")}


@pytest.mark.parametrize("name", COMPILED)
def test_each_twin_offers_the_same_functions_with_the_same_signatures(name):
    if fastlinks.IMPLEMENTATION != "cython":
        pytest.skip("compiled kernels not built")
    compiled, pure = importlib.import_module(name), importlib.import_module(f"{name}_py")
    functions = {n: f for n, f in _public(compiled).items() if getattr(f, "__module__", None) == name}
    twins = {n: f for n, f in _public(pure).items() if getattr(f, "__module__", None) == f"{name}_py"}
    assert functions.keys() == twins.keys()
    for function_name, function in functions.items():
        ours = inspect.signature(function)
        theirs = inspect.signature(twins[function_name])
        assert list(ours.parameters) == list(theirs.parameters), function_name
        defaults = [p.default for p in ours.parameters.values()]
        assert defaults == [p.default for p in theirs.parameters.values()], function_name


BROKEN = """
import importlib.abc, sys, warnings
class Broken(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name in {names!r}:
            raise {error}
sys.meta_path.insert(0, Broken())
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    import fastlinks
print(fastlinks.IMPLEMENTATION, len(caught), caught[0].message if caught else "")
"""


def _run_broken(names, error):
    code = textwrap.dedent(BROKEN.format(names=set(names), error=error))
    env = {key: value for key, value in os.environ.items() if key != "FASTLINKS_NO_EXTENSIONS"}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_a_compiled_module_that_fails_to_import_warns_naming_the_error():
    out = _run_broken(["fastlinks._compact"], 'ImportError("undefined symbol: PyFoo")')
    assert out.startswith("python 1 ") and "fastlinks._compact" in out and "undefined symbol: PyFoo" in out


def test_one_compiled_module_missing_of_four_warns():
    if importlib.util.find_spec("fastlinks._parse") is None:
        pytest.skip("no compiled module built (a pure wheel): nothing is missing of a set")
    out = _run_broken(["fastlinks._materialize"], 'ModuleNotFoundError("gone", name="fastlinks._materialize")')
    assert out.startswith("python 1 ") and "fastlinks._materialize" in out


def test_no_compiled_module_at_all_falls_back_silently():
    """A pure wheel: every compiled module is simply absent."""
    raise_missing = 'ModuleNotFoundError("absent", name=name)'
    out = _run_broken(COMPILED, raise_missing)
    assert out.split() == ["python", "0"]


def test_use_switches_every_kernel():
    saved = _kernels.IMPLEMENTATION
    try:
        _kernels.use("python")
        assert _kernels.parse.__name__ == "fastlinks._parse_py" and _kernels.wire.__name__ == "fastlinks.otlp._wire_py"
        with pytest.raises(ValueError, match="implementation must be"):
            _kernels.use("rust")  # type: ignore[arg-type]
    finally:
        _kernels.use(saved)  # type: ignore[arg-type]
