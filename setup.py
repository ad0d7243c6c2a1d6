"""Only the extension list; everything else is in pyproject.toml.

One compiled module per kernel concern, each with its pure-Python twin (`<name>_py.py`):
parsing, compaction, materialization and OTLP wire encoding. FASTLINKS_NO_EXTENSIONS=1 builds a
pure-Python wheel (py3-none-any) that uses the twins.
"""

import os
import sys

from setuptools import Extension, setup

KERNELS = ["fastlinks._parse", "fastlinks._compact", "fastlinks._materialize", "fastlinks.otlp._wire"]


def _flags() -> list[str]:
    """-O3 when CFLAGS is set without an -O level: setuptools then uses CFLAGS in place of Python's
    own flags (-O2 or -O3 among them), so `CFLAGS=-Werror pip install .` would build the kernels
    unoptimized. No debug info in what ships; FASTLINKS_DEBUG_INFO=1 keeps it (scripts/memcheck)."""
    if sys.platform == "win32":
        return []
    cflags = os.environ.get("CFLAGS")
    level = [] if cflags is None or any(f.startswith("-O") for f in cflags.split()) else ["-O3"]
    return level + ([] if os.environ.get("FASTLINKS_DEBUG_INFO") else ["-g0"])


if os.environ.get("FASTLINKS_NO_EXTENSIONS", "").strip() not in ("", "0"):
    ext_modules = []
else:
    import numpy
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [
            Extension(
                name,
                ["src/" + name.replace(".", "/") + ".pyx"],
                include_dirs=[numpy.get_include(), "src/fastlinks"],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
                extra_compile_args=_flags(),
            )
            for name in KERNELS
        ],
        compiler_directives={"language_level": 3},
        include_path=["src"],
    )

setup(ext_modules=ext_modules)
