"""Pure-Python twin of `_materialize.pyx`: SpanContexts to columns, columns to `Link` objects and
traceparent strings, with the same results. Always through the public constructors (`fast` is
accepted for the same signature). Used when the compiled module is not built or
FASTLINKS_NO_EXTENSIONS=1 is set, and as the reference the compiled one is tested against.
"""

from __future__ import annotations

import re
from operator import index as _index

import numpy as np
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState

from ._columns import Columns, _frozen, empty_columns


def _id_value(value, limit: int) -> int:
    """An ID as an int in [0, limit), or 0 for anything else (out of range, not an integer)."""
    try:
        value = _index(value)
    except TypeError:
        return 0
    return value if 0 <= value < limit else 0


def ids_from_contexts(contexts, fast):
    n = len(contexts)
    trace_ids, span_ids, trace_flags, is_remote = empty_columns(n)
    states = None
    for i in range(n):
        ctx = contexts[i]
        if not isinstance(ctx, SpanContext):
            raise TypeError(f"contexts[{i}]: expected a SpanContext, got {type(ctx).__name__}")
        tid, sid = _id_value(ctx.trace_id, 2**128), _id_value(ctx.span_id, 2**64)
        if not ctx.is_valid and tid and sid:  # the context says invalid: its row must be too
            tid = sid = 0
        trace_ids[i] = np.frombuffer(tid.to_bytes(16, "big"), dtype=np.uint8)  # kept for invalid contexts too
        span_ids[i] = np.frombuffer(sid.to_bytes(8, "big"), dtype=np.uint8)
        try:
            trace_flags[i] = _index(ctx.trace_flags) & 0xFF
        except TypeError:
            raise TypeError(
                f"contexts[{i}]: trace_flags must be an integer, got {type(ctx.trace_flags).__name__}"
            ) from None
        is_remote[i] = bool(ctx.is_remote)
        state = ctx.trace_state
        if state and isinstance(state, TraceState):
            if states is None:
                states = [None] * n
            states[i] = state.to_header()
    return Columns(*_frozen(trace_ids, span_ids, trace_flags, is_remote), states)


def make_links(
    trace_ids,
    span_ids,
    trace_flags,
    is_remote,
    rows,
    trace_states,
    attributes,
    columns,
    dropped_attributes,
    link_type,
    stats,
    fast,
):
    n = len(trace_ids)
    if not (isinstance(link_type, type) and issubclass(link_type, Link)):
        raise TypeError(f"make_links: link_type must be a Link subclass, got {link_type!r}")
    per_row = isinstance(attributes, list)
    k = n if rows is None else len(rows)
    if columns is not None:
        if per_row or not isinstance(attributes, dict):
            raise TypeError("make_links: per-row columns need the shared attributes as a dict")
        for key, values in columns:
            if len(values) != k:
                raise ValueError(f"make_links: column {key!r} has {len(values)} values for {k} links")
    out = []
    for j, r in enumerate(range(n) if rows is None else rows.tolist()):
        if not 0 <= r < n:
            raise IndexError(f"make_links: row {r} out of range for {n} rows")
        context = SpanContext(
            int.from_bytes(trace_ids[r].tobytes(), "big"),
            int.from_bytes(span_ids[r].tobytes(), "big"),
            bool(is_remote[r]),
            TraceFlags(int(trace_flags[r])),
            None if trace_states is None else trace_states[j],
        )
        if columns is not None:  # the shared attributes, then this row's values that are not None
            row = dict(attributes)
            row.update((key, values[j]) for key, values in columns if values[j] is not None)
            row_attributes = row or None
        else:
            row_attributes = attributes[j] if per_row else attributes
        link = link_type(context, row_attributes)
        if stats is not None:
            link._stats = stats
        if dropped_attributes is not None and dropped_attributes[j]:
            link._dropped_attributes = dropped_attributes[j]
        out.append(link)
    return out


def format_traceparents(trace_ids, span_ids, trace_flags) -> list[str]:
    return [
        f"00-{t.tobytes().hex()}-{s.tobytes().hex()}-{int(f):02x}"
        for t, s, f in zip(trace_ids, span_ids, trace_flags, strict=True)
    ]


def snapshot(values):
    out = list(values)
    return out, frozenset(map(type, out))


def value_types(values):
    return frozenset(map(type, values))


MAX_MEMBERS = 32  # W3C: more list-members than this discards the whole tracestate

# The W3C grammar, as the OpenTelemetry API spells it (opentelemetry.trace.span).
_KEY = r"[a-z][_0-9a-z\-\*\/]{0,255}|[a-z0-9][_0-9a-z\-\*\/]{0,240}@[a-z][_0-9a-z\-\*\/]{0,13}"
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(f"({_KEY})=({_VALUE})")
_MEMBER_RUN = re.compile(r"[^,\x20\t][^,]*")  # a member: from its first non-OWS character to the next comma


def _trace_state(header, fast):
    """Members are found by one regular-expression scan that skips empty members and OWS, and
    the scan stops at the first bad member or the 33rd member: a huge header costs one linear
    pass at most, never a split into millions of pieces."""
    if isinstance(header, bytes):
        header = bytes.decode(header, "latin-1")
    elif not isinstance(header, str):
        raise TypeError(f"trace_states: a tracestate header must be str or bytes, got {type(header).__name__}")
    pairs = {}
    for run in _MEMBER_RUN.finditer(header):
        match = _MEMBER.fullmatch(run.group().rstrip(" \t"))
        if match is None or match.group(1) in pairs or len(pairs) == MAX_MEMBERS:
            return DEFAULT_TRACE_STATE
        pairs[match.group(1)] = match.group(2)
    return TraceState(list(pairs.items())) if pairs else DEFAULT_TRACE_STATE


def trace_states(headers, rows, fast):
    out = []
    last = state = None
    for r in rows:
        raw = headers[r]
        if raw is None:
            out.append(None)
            continue
        if raw is not last:  # a header object the previous row did not share
            state = _trace_state(raw, fast)
            last = raw
        out.append(state)
    return out
