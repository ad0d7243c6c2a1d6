"""Link columns: the type the kernels return, and the checks of what a LinkSet accepts as its
columns, from callers and from pickles."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, NamedTuple

import numpy as np

from . import _attributes
from .policy import CompactionStats


def _frozen(
    trace_ids: np.ndarray, span_ids: np.ndarray, trace_flags: np.ndarray, is_remote: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Columns a LinkSet owns are read-only: a LinkSet never changes once built."""
    for column in (trace_ids, span_ids, trace_flags, is_remote):
        column.flags.writeable = False
    return trace_ids, span_ids, trace_flags, is_remote


class Columns(NamedTuple):
    """What a kernel returns for N links: fresh read-only columns and each row's raw tracestate."""

    trace_ids: np.ndarray  # (N, 16) uint8, big-endian
    span_ids: np.ndarray  # (N, 8) uint8, big-endian
    trace_flags: np.ndarray  # (N,) uint8
    is_remote: np.ndarray  # (N,) bool
    trace_states: list[str | bytes | None] | None  # raw header values; None when no row has one


def empty_columns(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Uninitialized trace ID, span ID and flag columns, and an is_remote column of True, for n rows."""
    return np.empty((n, 16), np.uint8), np.empty((n, 8), np.uint8), np.empty(n, np.uint8), np.ones(n, np.bool_)


def _ids(name: str, value: Any, n: int | None, width: int) -> np.ndarray:
    """An (N, width) uint8 big-endian ID column from uint8 bytes or uint64 words."""
    arr = np.asarray(value)
    words = width // 8
    if arr.dtype == np.uint8 and arr.ndim == 2 and arr.shape[1] == width:
        out = np.array(arr, dtype=np.uint8, order="C")
    elif arr.dtype == np.uint64 and ((words == 1 and arr.ndim == 1) or (arr.ndim == 2 and arr.shape[1] == words)):
        out = np.ascontiguousarray(arr.reshape(len(arr), words), dtype=">u8").view(np.uint8).reshape(len(arr), width)
    else:
        word_shape = "(N,)" if words == 1 else f"(N, {words})"
        raise TypeError(
            f"{name}: expected a (N, {width}) uint8 array or a {word_shape} uint64 array, "
            f"got shape {arr.shape} dtype {arr.dtype}"
        )
    if n is not None and len(out) != n:
        raise ValueError(f"{name}: expected {n} rows, got shape {arr.shape}")
    return out


def _row_column(name: str, value: Any, n: int, dtype: type, limit: int) -> np.ndarray:
    """A (N,) column from None (zeros), a scalar (broadcast) or an array of N values in [0, limit]."""
    if value is None:
        return np.zeros(n, dtype=dtype)
    arr = np.asarray(value)
    if arr.dtype.kind not in "biu":
        raise TypeError(f"{name}: expected integers or bools, got dtype {arr.dtype}")
    if arr.ndim == 0:
        arr = np.full(n, arr)
    if arr.shape != (n,):
        raise ValueError(f"{name}: expected shape ({n},), got {arr.shape}")
    if n and (arr.min() < 0 or arr.max() > limit):
        raise ValueError(f"{name}: values must be in [0, {limit}]")
    return arr.astype(dtype)


def raw_state(value: str | bytes) -> str | bytes:
    """A str or bytes tracestate value as it came, but exact (a subclass is copied): kept raw, it
    is decoded and parsed only for the rows that become links."""
    if type(value) is str or type(value) is bytes:
        return value
    return str.__str__(value) if isinstance(value, str) else bytes.__getitem__(value, slice(None))


def _states(name: str, value: Any, n: int) -> list[str | bytes | None] | None:
    if value is None:
        return None
    if isinstance(value, (str, bytes)):
        raise TypeError(f"{name}: expected a sequence of one tracestate per row, got {type(value).__name__}")
    states = list(value)
    if len(states) != n:
        raise ValueError(f"{name}: expected {n} values (one per row), got {len(states)}")
    for i, s in enumerate(states):
        if isinstance(s, (str, bytes)):
            states[i] = raw_state(s)
        elif s is not None:
            raise TypeError(f"{name}[{i}]: expected str, bytes or None, got {type(s).__name__}")
    return states if any(states) else None


def check_pickled(
    trace_ids: Any,
    span_ids: Any,
    trace_flags: Any,
    is_remote: Any,
    trace_states: Any,
    shared: Any,
    columns: Any,
    stats: Any,
    attribute_limit: Any,
) -> int:
    """The row count of a pickled LinkSet's parts, after checking everything a crafted pickle
    could get wrong; a ValueError names what was."""
    checks = (
        ("trace_ids", trace_ids, np.uint8, 2, 16),
        ("span_ids", span_ids, np.uint8, 2, 8),
        ("trace_flags", trace_flags, np.uint8, 1, None),
        ("is_remote", is_remote, np.bool_, 1, None),
    )
    n = len(trace_ids) if isinstance(trace_ids, np.ndarray) and trace_ids.ndim else -1
    for name, column, dtype, ndim, width in checks:
        if not isinstance(column, np.ndarray) or column.dtype != dtype or column.ndim != ndim:
            raise ValueError(f"pickled LinkSet: {name} must be a {ndim}-D {np.dtype(dtype)} array")
        if len(column) != n or (width is not None and column.shape[1] != width):
            raise ValueError(
                f"pickled LinkSet: {name} has shape {column.shape}, expected ({n}{f', {width}' if width else ''})"
            )
    if trace_states is not None and (
        not isinstance(trace_states, list)
        or len(trace_states) != n
        or not all(s is None or type(s) is str or type(s) is bytes for s in trace_states)
    ):
        raise ValueError(f"pickled LinkSet: trace_states must be None or a list of {n} str/bytes/None")
    if not isinstance(shared, dict) or not isinstance(columns, dict):
        raise ValueError("pickled LinkSet: attributes must be dicts")
    if not all(isinstance(k, str) and k for k in [*shared, *columns]):
        raise ValueError("pickled LinkSet: attribute keys must be non-empty str")
    if not all(isinstance(c, (list, np.ndarray)) for c in columns.values()):
        raise ValueError("pickled LinkSet: per-row attribute columns must be lists or arrays")
    try:
        for key, value in shared.items():
            if _attributes.shared_value(key, value) != value or isinstance(value, list):
                raise ValueError(f"attributes[{key!r}]: a shared value must be a scalar or a tuple")
        for key, value in columns.items():
            _attributes.column(key, value, n)
    except (TypeError, ValueError) as error:
        raise ValueError(f"pickled LinkSet: {error}") from None
    if stats is not None:
        if not isinstance(stats, CompactionStats):
            raise ValueError(f"pickled LinkSet: stats must be CompactionStats or None, got {type(stats).__name__}")
        if stats.kept != n:
            raise ValueError(f"pickled LinkSet: stats.kept is {stats.kept} for {n} rows")
    if attribute_limit is not None and (type(attribute_limit) is not int or attribute_limit < 0):
        raise ValueError(f"pickled LinkSet: attribute_limit must be None or an int >= 0, got {attribute_limit!r}")
    return n


def iterable(name: str, value: Any) -> Iterable[Any]:
    """`value` if it is an iterable of items (not a str, bytes or mapping); TypeError naming `name` if not."""
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise TypeError(f"{name}: expected a sequence, got {type(value).__name__}")
    return value
