"""W3C Trace Context `tracestate`: raw header values to OpenTelemetry TraceState objects.

Traceparent parsing is a kernel (`_parse`); a tracestate is only parsed for rows that become
Link objects, so a batch of thousands pays for the hundred or so it keeps.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache

from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState

MAX_MEMBERS = 32  # W3C: more list-members than this discards the whole tracestate

# The W3C grammar, as the OpenTelemetry API spells it (opentelemetry.trace.span).
_KEY = r"[a-z][_0-9a-z\-\*\/]{0,255}|[a-z0-9][_0-9a-z\-\*\/]{0,240}@[a-z][_0-9a-z\-\*\/]{0,13}"
_VALUE = r"[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
_MEMBER = re.compile(f"({_KEY})=({_VALUE})")


_CACHED_LENGTH = 512  # cache only headers this short, so the cache stays small


def parse_tracestate(header: str) -> TraceState:
    """One combined tracestate header to a TraceState; empty if it breaks the W3C rules.

    Same outcome as `TraceState.from_header` (the propagator's parser) without its per-member
    warnings, and without the propagator's 8192-character cap, which the W3C text does not set.
    Short headers are cached (TraceState is immutable): one producer sends the same one often.
    """
    return _parse_cached(header) if len(header) <= _CACHED_LENGTH else _parse(header)


_MEMBER_RUN = re.compile(r"[^,\x20\t][^,]*")  # a member: from its first non-OWS character to the next comma


def _parse(header: str) -> TraceState:
    """Members are found by one regular-expression scan that skips empty members and OWS in C,
    and the scan stops at the first bad member or the 33rd member: a huge header costs one
    linear pass at most, never a split into millions of pieces."""
    pairs: dict[str, str] = {}
    for run in _MEMBER_RUN.finditer(header):
        match = _MEMBER.fullmatch(run.group().rstrip(" \t"))
        if match is None or match.group(1) in pairs or len(pairs) == MAX_MEMBERS:
            return DEFAULT_TRACE_STATE
        pairs[match.group(1)] = match.group(2)
    return TraceState(list(pairs.items())) if pairs else DEFAULT_TRACE_STATE


def parse_tracestates(headers: list[str | None], rows: Iterable[int]) -> list[TraceState | None]:
    """`parse_tracestate` for `headers[r]` of each row; a header shared by many rows is parsed once."""
    parsed: dict[str, TraceState] = {}
    out: list[TraceState | None] = []
    for r in rows:
        raw = headers[r]
        if raw is None:
            out.append(None)
            continue
        state = parsed.get(raw)
        if state is None:
            state = parsed[raw] = parse_tracestate(raw)
        out.append(state)
    return out


_parse_cached = lru_cache(maxsize=4096)(_parse)
