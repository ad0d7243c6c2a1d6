"""Types of the materialization kernels: `_materialize.pyx` and its pure twin `_materialize_py.py`."""

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import numpy.typing as npt
from opentelemetry.trace import Link, SpanContext
from opentelemetry.trace.span import TraceState

from ._columns import Columns

_U8 = npt.NDArray[np.uint8]

def ids_from_contexts(contexts: Sequence[SpanContext], fast: bool) -> Columns:
    """New read-only columns holding SpanContexts, with their tracestate headers. IDs that fit
    are kept even for an invalid context; `fast` reads an exact SpanContext as a tuple."""

def make_links(
    trace_ids: _U8,
    span_ids: _U8,
    trace_flags: _U8,
    is_remote: npt.NDArray[np.bool_],
    rows: npt.NDArray[np.int64] | None,
    trace_states: list[TraceState | None] | None,
    attributes: list[Mapping[str, object] | None] | Mapping[str, object] | None,
    columns: list[tuple[str, list[object]]] | None,
    dropped_attributes: list[int] | None,
    link_type: type[Link],
    stats: object,
    fast: bool,
) -> list[Link]:
    """One Link per row in `rows` (None: every row); per-row lists are aligned with `rows`.
    `attributes` is every link's mapping, or a list of each link's; with `columns` (key, values)
    it is a dict of shared attributes each link's own dict starts from, its values that are not
    None added (a link left with none gets None). A `link_type` whose four fields are slots
    (LinkSetLink) has them all set; otherwise `_stats` and `_dropped_attributes` are only set
    when given. `fast` builds contexts and links field by field (only when `_otel_compat` found
    the SDK's layout); otherwise through their constructors."""

def trace_states(headers: list[str | bytes | None], rows: Iterable[int], fast: bool) -> list[TraceState | None]:
    """A TraceState for `headers[r]` of each row (None stays None), as the W3C rules read it:
    empty when the header breaks them (a bad or repeated member, more than 32 members). A header
    object consecutive rows share is parsed once; a parse stops at the first bad member, so the
    work is at most linear in the rows' headers. `fast`
    builds each TraceState around its dict of members (only when `_otel_compat` found that
    layout); otherwise through its constructor."""

def format_traceparents(trace_ids: _U8, span_ids: _U8, trace_flags: _U8) -> list[str]:
    """Render each row as a version-00 traceparent."""

def snapshot(values: Iterable[object]) -> tuple[list[object], frozenset[type]]:
    """A list copy of a per-row attribute column and the exact types of its values, from a list or
    tuple in one pass (each value touched once)."""

def value_types(values: list[object]) -> frozenset[type]:
    """The exact types of the values in a per-row attribute column (subclasses are their own)."""

DICT_WALK: bool
"""Compiled module only: whether `make_links` sets per-row attribute values in place in each
link's copy of one dict (CPython 3.11 to 3.13 with the GIL, once an import-time check agreed
with PyDict_Next) rather than through PyDict_SetItem."""
