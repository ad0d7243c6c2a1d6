"""The kernels, bound once at import: the compiled modules, or their pure-Python twins.

Each concern is a compiled module with a pure twin and one stub: `parse` (headers to columns),
`compact` (hash, deduplicate, cap, take; the processor's scan), `materialize` (contexts and
Links), `wire` (OTLP link bytes). Code reads them as ``_kernels.parse.parse_carriers(...)``;
mypy types every call through the stubs. The twins are used when FASTLINKS_NO_EXTENSIONS is
set, or silently when no compiled module was built (a pure wheel); a compiled module that is
present but fails to import (a broken build, an ABI mismatch) warns once, naming the error.
`use()` switches implementations, for tests and benchmarks.
"""

from __future__ import annotations

import importlib
import os
import threading
import warnings
from types import ModuleType
from typing import TYPE_CHECKING, Any, Literal

_NAMES = {
    "parse": "fastlinks._parse",
    "compact": "fastlinks._compact",
    "materialize": "fastlinks._materialize",
    "wire": "fastlinks.otlp._wire",
}

if TYPE_CHECKING:  # typed by the stubs; bound at run time by use()
    from . import _compact as compact
    from . import _materialize as materialize
    from . import _parse as parse
    from .otlp import _wire as wire

__all__ = ["IMPLEMENTATION", "compact", "compact_rows", "materialize", "parse", "use", "wire"]


def _pure() -> dict[str, ModuleType]:
    return {key: importlib.import_module(f"{name}_py") for key, name in _NAMES.items()}


def _compiled() -> dict[str, ModuleType] | None:
    """The compiled modules; None when none was built (silently) or one fails to import (warned)."""
    found: dict[str, ModuleType] = {}
    missing: list[str] = []
    for key, name in _NAMES.items():
        try:
            found[key] = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:  # the module is there, something it needs is not
                _warn(name, error)
                return None
            missing.append(name)
        except ImportError as error:
            _warn(name, error)
            return None
    if missing and found:
        _warn(missing[0], ModuleNotFoundError(f"{missing[0]} was not built, though {next(iter(found))} was"))
        return None
    return found or None


def _warn(name: str, error: BaseException) -> None:
    warnings.warn(
        f"fastlinks: the compiled kernels cannot be used ({name}: {type(error).__name__}: {error}); "
        "falling back to the pure-Python ones, about 50x slower",
        RuntimeWarning,
        stacklevel=3,
    )


def use(implementation: Literal["cython", "python"]) -> None:
    """Bind the compiled ("cython") or the pure-Python ("python") kernels, for every caller."""
    if implementation == "cython":
        modules = _compiled()
        if modules is None:
            raise ImportError("fastlinks: the compiled kernels are not available")
    elif implementation == "python":
        modules = _pure()
    else:
        raise ValueError(f"implementation must be 'cython' or 'python', got {implementation!r}")
    globals().update(modules, IMPLEMENTATION=implementation)


IMPLEMENTATION: str
"""Which kernels are bound: "cython" or "python"."""

_SCRATCH = threading.local()
SCRATCH_MAX = 16 << 20  # bytes of work memory a thread keeps between batches (a batch of ~600,000 rows)


def compact_rows(
    trace_ids: Any,
    span_ids: Any,
    trace_flags: Any,
    keep_invalid: Any,
    max_links: int,
    dedupe: bool,
    strategy: str,
    prefer_sampled: bool,
    seed: int,
) -> tuple[Any, int, int, int]:
    """`compact.compact(...)` in this thread's work memory, kept between batches: allocated and
    freed each batch, glibc hands the top of the heap back to the OS and faults it in again on
    the next (about 0.1 ms at 10,000 rows). A block grown past SCRATCH_MAX is let go after use."""
    block = getattr(_SCRATCH, "block", None)
    if block is None:
        block = _SCRATCH.block = bytearray()
    try:
        return compact.compact(
            trace_ids, span_ids, trace_flags, keep_invalid, max_links, dedupe, strategy, prefer_sampled, seed, block
        )
    finally:
        if len(block) > SCRATCH_MAX:
            _SCRATCH.block = bytearray()


if os.environ.get("FASTLINKS_NO_EXTENSIONS", "").strip() not in ("", "0"):
    use("python")
else:
    _modules = _compiled()
    use("cython" if _modules is not None else "python")
