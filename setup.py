"""Only the extension list; everything else is in pyproject.toml.

FASTLINKS_NO_EXTENSIONS=1 builds a pure-Python wheel (py3-none-any) that uses `_core_py`.
"""

import os

from setuptools import Extension, setup

if os.environ.get("FASTLINKS_NO_EXTENSIONS", "").strip() not in ("", "0"):
    ext_modules = []
else:
    import numpy
    from Cython.Build import cythonize

    ext_modules = cythonize(
        [
            Extension(
                "fastlinks._core",
                ["src/fastlinks/_core.pyx"],
                include_dirs=[numpy.get_include()],
                define_macros=[("NPY_NO_DEPRECATED_API", "NPY_1_7_API_VERSION")],
            )
        ],
        compiler_directives={"language_level": 3},
    )

setup(ext_modules=ext_modules)
