"""Every test that takes `impl` runs once on the compiled kernels and once on the pure-Python twin."""

from __future__ import annotations

import importlib

import pytest

import fastlinks._kernels as kernels
from fastlinks import _core_py


def _compiled():
    try:
        return importlib.import_module("fastlinks._core")
    except ImportError:
        return None


COMPILED = _compiled()
IMPLEMENTATIONS = {"cython": COMPILED, "python": _core_py}


@pytest.fixture(params=["cython", "python"])
def impl(request, monkeypatch):
    """The kernel module under test, also installed as the one fastlinks uses."""
    module = IMPLEMENTATIONS[request.param]
    if module is None:
        pytest.skip("compiled kernels not built (see test_build.py, which fails in a normal build)")
    monkeypatch.setattr(kernels, "core", module)
    return module


@pytest.fixture
def both():
    """Both kernel modules, for tests that compare them row for row."""
    if COMPILED is None:
        pytest.skip("compiled kernels not built")
    return COMPILED, _core_py


@pytest.fixture(autouse=True)
def _fresh_log_once():
    """Each test sees fastlinks' once-per-cause log lines afresh."""
    from fastlinks import _otel_compat

    _otel_compat._logged.clear()
    yield
