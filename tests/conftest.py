"""Every test that takes `impl` runs once on the compiled kernels and once on the pure-Python twins;
`global_textmap` sets the global propagator for one test; `frequent_switches` makes threads
interleave more often."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType, SimpleNamespace

import pytest
from opentelemetry import propagate

from fastlinks import _kernels

CONCERNS = {"parse": "fastlinks._parse", "compact": "fastlinks._compact", "materialize": "fastlinks._materialize"}
CONCERNS["wire"] = "fastlinks.otlp._wire"


def _namespace(implementation: str, modules: list[ModuleType]) -> SimpleNamespace:
    """One object with every public kernel of an implementation, for tests that call them directly."""
    return SimpleNamespace(
        **{name: getattr(m, name) for m in modules for name in dir(m) if not name.startswith("_")},
        implementation=implementation,
    )


def _compiled() -> SimpleNamespace | None:
    try:
        return _namespace("cython", [importlib.import_module(name) for name in CONCERNS.values()])
    except ImportError:
        return None


COMPILED = _compiled()
PURE = _namespace("python", [importlib.import_module(f"{name}_py") for name in CONCERNS.values()])
IMPLEMENTATIONS = {"cython": COMPILED, "python": PURE}


@pytest.fixture(params=["cython", "python"])
def impl(request):
    """The kernels under test, also bound (through `_kernels.use`) as the ones fastlinks uses."""
    kernels = IMPLEMENTATIONS[request.param]
    if kernels is None:
        pytest.skip("compiled kernels not built (see test_build.py, which fails in a normal build)")
    saved = _kernels.IMPLEMENTATION
    _kernels.use(request.param)
    yield kernels
    _kernels.use(saved)  # type: ignore[arg-type]


@pytest.fixture
def both():
    """Both implementations, for tests that compare them row for row."""
    if COMPILED is None:
        pytest.skip("compiled kernels not built")
    return COMPILED, PURE


@pytest.fixture(autouse=True)
def _fresh_log_once():
    """Each test sees fastlinks' once-per-cause log lines afresh."""
    from fastlinks import _otel_compat

    _otel_compat._logged.clear()
    yield


@pytest.fixture
def global_textmap():
    """Set the global propagator for one test, restoring the application's afterwards."""
    saved = propagate.get_global_textmap()
    yield propagate.set_global_textmap
    propagate.set_global_textmap(saved)


@pytest.fixture
def frequent_switches():
    """Threads switch every 100 µs instead of every 5 ms, so a test's threads interleave at many
    more points in fewer iterations."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(1e-4)
    yield
    sys.setswitchinterval(saved)
