"""W3C Trace Context `tracestate`: raw header values to OpenTelemetry TraceState objects.

Traceparent parsing is a kernel (`_parse`); a tracestate is only parsed for rows that become
Link objects, so a batch of thousands pays for the hundred or so it keeps. The parsing itself
is the `materialize` kernel's `trace_states`.
"""

from __future__ import annotations

from collections.abc import Iterable

from opentelemetry.trace.span import TraceState

from . import _kernels
from ._otel_compat import FAST_TRACE_STATES


def parse_tracestate(header: str) -> TraceState:
    """One combined tracestate header to a TraceState; empty if it breaks the W3C rules.

    Same outcome as `TraceState.from_header` (the propagator's parser) without its per-member
    warnings, and without the propagator's 8192-character cap, which the W3C text does not set.
    """
    state = _kernels.materialize.trace_states([header], (0,), FAST_TRACE_STATES)[0]
    assert state is not None  # a str header always gives a TraceState
    return state


def parse_tracestates(headers: list[str | bytes | None], rows: Iterable[int]) -> list[TraceState | None]:
    """`parse_tracestate` for `headers[r]` of each row; one header object consecutive rows share is parsed once."""
    return _kernels.materialize.trace_states(headers, rows, FAST_TRACE_STATES)
