"""Link attributes held as columns: one shared mapping plus per-row value columns."""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np

from . import _kernels

_SCALARS = (str, bool, int, float)
_ROW_TYPES = frozenset({str, bytes, bool, int, float, type(None), tuple, list})
_ARRAY_KINDS = "biufU"  # bool, int, uint, float, unicode: what becomes OTel attribute values
_INT64 = (-(2**63), 2**63 - 1)


def _scalar(key: str, value: object) -> object:
    """A value shared by every row, checked against the SDK's attribute rules."""
    if isinstance(value, bytes):
        try:
            return value.decode()
        except UnicodeDecodeError:
            raise ValueError(f"attributes[{key!r}]: bytes must be UTF-8") from None
    if isinstance(value, int) and not isinstance(value, bool) and not _INT64[0] <= value <= _INT64[1]:
        raise ValueError(f"attributes[{key!r}]: {value} does not fit a 64-bit attribute integer")
    if not isinstance(value, _SCALARS):
        raise TypeError(
            f"attributes[{key!r}]: expected str, bytes, bool, int, float or a per-row sequence, "
            f"got {type(value).__name__}"
        )
    return value


def _check_sequence(where: str, value: Sequence[Any]) -> None:
    """A sequence attribute value holds one of str, bool, int, float (the SDK's rule)."""
    kinds = {type(v) for v in value}
    if len(kinds) > 1 or not kinds <= {str, bool, int, float}:
        raise TypeError(f"{where}: a sequence value must hold one of str, bool, int, float")


def row_value(key: object, value: object) -> object:
    """One row's value for a per-row column, checked as the column would check it: str, bytes
    (UTF-8, decoded), bool, int (64-bit), float, None, or a list/tuple of one of the first four."""
    if not isinstance(key, str) or not key:
        raise TypeError(f"attributes: keys must be non-empty str, got {key!r}")
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        _check_sequence(f"attributes[{key!r}]", value)
        return value
    return _scalar(key, value)


class PerRow:
    """Per-link values for one attribute key: ``attributes={"messaging.message.id": PerRow(ids)}``
    gives link i the value ``ids[i]`` (None: that link has no value for the key). Values are
    str, bytes (UTF-8, decoded), bool, int, float, or a homogeneous list/tuple of those; a 1-D
    numpy array of numbers, bools or strings works too."""

    __slots__ = ("values",)

    def __init__(self, values: Sequence[Any] | np.ndarray) -> None:
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            raise TypeError(f"PerRow: expected a sequence of per-link values, got {type(values).__name__}")
        self.values = values

    def __len__(self) -> int:
        return len(self.values)

    def __repr__(self) -> str:
        return f"PerRow({self.values!r})"


def _decoded(key: str, value: bytes) -> str:
    try:
        return value.decode()
    except UnicodeDecodeError:
        raise ValueError(f"attributes[{key!r}]: bytes must be UTF-8") from None


def column(key: str, value: Sequence[Any] | np.ndarray, n: int) -> list[Any] | np.ndarray:
    """A per-row column: a 1-D array or a list with one value (or None) per row."""
    if isinstance(value, np.ndarray):
        if value.ndim != 1:
            raise ValueError(f"attributes[{key!r}]: a per-row column must be 1-D, got shape {value.shape}")
        if value.dtype.kind not in _ARRAY_KINDS:
            raise TypeError(f"attributes[{key!r}]: unsupported array dtype {value.dtype}")
        out: list[Any] | np.ndarray = value.copy()
    else:
        out, kinds = _kernels.materialize.snapshot(value)
        if not kinds <= _ROW_TYPES:
            bad = next(t for t in kinds if t not in _ROW_TYPES)
            raise TypeError(f"attributes[{key!r}]: unsupported value type {bad.__name__} in a per-row column")
        if bytes in kinds:  # message keys and IDs often arrive as bytes (confluent-kafka's key())
            out = [_decoded(key, v) if type(v) is bytes else v for v in out]
        if tuple in kinds or list in kinds:
            for i, v in enumerate(out):
                if isinstance(v, (tuple, list)):
                    _check_sequence(f"attributes[{key!r}][{i}]", v)
    if len(out) != n:
        raise ValueError(f"attributes[{key!r}]: a per-row column needs {n} values (one per link), got {len(out)}")
    return out


def shared_value(key: str, value: object) -> object:
    """A value every row shares: a scalar, or a homogeneous list/tuple (kept as a tuple)."""
    if type(value) is str:  # the commonest, settled at once
        return value
    if isinstance(value, (list, tuple)):
        _check_sequence(f"attributes[{key!r}]", value)
        return tuple(value)
    return _scalar(key, value)


_GUESS = (
    "attributes[{key!r}]: a plain list, tuple or array with one value per link is read as per-link "
    "values for now; wrap it in fastlinks.PerRow(...) (a plain list will become one list-valued "
    "attribute that every link shares)"
)


def split(attributes: Mapping[str, Any] | None, n: int) -> tuple[dict[str, Any], dict[str, Any]]:
    """Split user attributes into (shared values, per-row columns of length n): `PerRow` values are
    per-row; a plain sequence of length n is too, with a DeprecationWarning; any other plain
    list or tuple is one sequence value every link shares."""
    if attributes is None:
        return {}, {}
    if type(attributes) is not dict and not isinstance(attributes, Mapping):  # a dict without the ABC's check
        raise TypeError(f"attributes: expected a mapping, got {type(attributes).__name__}")
    shared: dict[str, Any] = {}
    columns: dict[str, Any] = {}
    for key, value in attributes.items():
        if not isinstance(key, str) or not key:
            raise TypeError(f"attributes: keys must be non-empty str, got {key!r}")
        if type(value) is str:  # the commonest, settled at once
            shared[key] = value
        elif isinstance(value, PerRow):
            columns[key] = column(key, value.values, n)
        elif isinstance(value, np.ndarray) or (isinstance(value, (list, tuple)) and len(value) == n):
            warnings.warn(_GUESS.format(key=key), DeprecationWarning, stacklevel=4)
            columns[key] = column(key, value, n)
        else:
            shared[key] = shared_value(key, value)
    return shared, columns


def take(columns: Mapping[str, Any], rows: np.ndarray) -> dict[str, Any]:
    """The columns restricted to `rows` (an int64 array, in bounds), in that order."""
    gather = _kernels.compact.take_values
    return {k: c[rows] if isinstance(c, np.ndarray) else gather(c, rows) for k, c in columns.items()}


def per_row(
    shared: Mapping[str, Any], columns: Mapping[str, Any], rows: np.ndarray | None, n: int, limit: int | None
) -> tuple[
    Mapping[str, Any] | list[Mapping[str, Any] | None] | None, list[tuple[str, list[Any]]] | None, list[int] | None
]:
    """What each link of `rows` (None: all `n`, in order) gets as attributes, for `make_links`:
    (attributes, columns, dropped counts over `limit`).

    Shared attributes come first. With no per-row column every link shares one read-only
    mapping, so materializing 128 links builds one mapping, not 128. With columns and nothing
    over the limit, the kernel builds each link's dict from the shared dict and the columns'
    values for `rows`; past the limit, a list of each link's attributes is built here.
    """
    k = n if rows is None else len(rows)
    if not columns:
        if not shared:
            return None, None, None
        if limit is None or len(shared) <= limit:  # all of them: one read-only copy every link shares
            return MappingProxyType(dict(shared)), None, None
        kept = dict(list(shared.items())[:limit])
        return MappingProxyType(kept), None, [len(shared) - limit] * k
    if rows is None:  # every row, in order: the columns as they are
        values = {key: (c.tolist() if isinstance(c, np.ndarray) else c) for key, c in columns.items()}
    else:
        values = {
            key: (c[rows].tolist() if isinstance(c, np.ndarray) else _kernels.compact.take_values(c, rows))
            for key, c in columns.items()
        }
    if limit is None or len(shared) + len(values) <= limit:  # nothing can be over the cap: no count to keep
        return dict(shared), list(values.items()), None
    out: list[Mapping[str, Any] | None] = []
    dropped_counts: list[int] = []
    for j in range(k):
        attrs = dict(shared)
        for key, vals in values.items():
            v = vals[j]
            if v is not None:
                attrs[key] = v
        dropped = 0
        if len(attrs) > limit:
            dropped = len(attrs) - limit
            attrs = dict(list(attrs.items())[:limit])
        out.append(attrs or None)
        dropped_counts.append(dropped)
    return out, None, (dropped_counts if any(dropped_counts) else None)


def has_values(shared: Mapping[str, Any], columns: Mapping[str, Any], n: int) -> np.ndarray:
    """Rows that carry at least one attribute."""
    if shared:
        return np.ones(n, dtype=bool)
    mask = np.zeros(n, dtype=bool)
    for c in columns.values():
        if isinstance(c, np.ndarray) and c.dtype != object:
            return np.ones(n, dtype=bool)
        values = c if type(c) is list else list(c)  # a column is a list (`column`, `take`): not copied again
        if type(None) not in _kernels.materialize.value_types(values):  # one C pass: every row has a value
            return np.ones(n, dtype=bool)
        mask |= np.fromiter((v is not None for v in values), dtype=bool, count=n)
    return mask


def concat(
    parts: Sequence[tuple[Mapping[str, Any], Mapping[str, Any], int]],
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Join (shared, columns, n) parts: a key shared with one value everywhere stays shared."""
    keys: dict[str, None] = {}
    for shared, columns, _ in parts:
        keys.update(dict.fromkeys(shared))
        keys.update(dict.fromkeys(columns))
    out_shared: dict[str, Any] = {}
    out_columns: dict[str, Any] = {}
    for key in keys:
        values = [shared.get(key, _MISSING) for shared, _, _ in parts]
        first = values[0]
        if first is not _MISSING and all(type(v) is type(first) and v == first for v in values):
            out_shared[key] = first
            continue
        merged: list[Any] = []
        for (_, columns, n), v in zip(parts, values, strict=True):
            if key in columns:
                c = columns[key]
                merged.extend(c.tolist() if isinstance(c, np.ndarray) else c)
            else:
                merged.extend([None if v is _MISSING else v] * n)
        out_columns[key] = merged
    return out_shared, out_columns


_MISSING = object()
