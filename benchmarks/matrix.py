"""The ingest matrix: one batch workload in every shape a consumer meets, so no single shape can
hide a slow path. Header format (W3C `traceparent` or B3 multi-header), a `tracestate` on no
header or on every header (vendors and OpenTelemetry's probability sampling write one; it differs
per trace), and link attributes shared by every link or one value per link as well.

Every cell: 20% re-deliveries, 5% malformed contexts, half the producers sampled, cap 128.
A is the format's official propagator per message and one `Link` each, with the same attributes;
E is fastlinks compiled, reading that format, ending in the same ready-to-use `Link` objects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from opentelemetry import trace
from opentelemetry.propagators.b3 import B3MultiFormat
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fastlinks import LinkPolicy, LinkSet, PerRow
from fastlinks.demo import make_carriers

MATRIX_SIZES = (500, 2000, 10_000)
GOALS = {500: 50, 2000: 100, 10_000: 100}  # E vs A, in every cell
FORMATS = ("tracecontext", "b3multi")
WORKLOADS = [(fmt, state, attrs) for fmt in FORMATS for state in (False, True) for attrs in ("shared", "per-row")]
PROPAGATORS = {"tracecontext": TraceContextTextMapPropagator(), "b3multi": B3MultiFormat()}
SYSTEM = {"messaging.system": "kafka"}


def stage(fmt: str, tracestate: bool, attributes: str) -> str:
    """The stage name of one cell, e.g. "matrix b3multi +tracestate per-row"."""
    return f"matrix {fmt}{' +tracestate' if tracestate else ''} {attributes}"


def carriers(n: int, fmt: str, tracestate: bool) -> list[dict[str, str]]:
    """`make_carriers(n)` in the cell's format, with a per-trace tracestate on every header if asked."""
    out = []
    for carrier in make_carriers(n):
        _, trace_id, rest = carrier["traceparent"].split("-", 2)
        if fmt == "tracecontext":
            headers = dict(carrier)
        elif rest == "broken":
            headers = {"x-b3-traceid": trace_id, "x-b3-spanid": "broken", "x-b3-sampled": "1"}
        else:
            span_id, flags = rest.split("-")
            headers = {"x-b3-traceid": trace_id, "x-b3-spanid": span_id, "x-b3-sampled": str(int(flags, 16) & 1)}
        if tracestate:
            headers["tracestate"] = f"ot=th:8;rv:{trace_id[-14:]},vendor=acme"
        out.append(headers)
    return out


def build(fmt: str, tracestate: bool, attributes: str, contender: str, n: int) -> Callable[[], Any]:
    batch = carriers(n, fmt, tracestate)
    ids = [f"msg-{i}" for i in range(n)]
    if contender == "A":
        propagator = PROPAGATORS[fmt]

        def propagator_links() -> list[Link]:
            links = []
            for i, carrier in enumerate(batch):
                context = trace.get_current_span(propagator.extract(carrier)).get_span_context()
                if context.is_valid:
                    links.append(
                        Link(context, SYSTEM if attributes == "shared" else {**SYSTEM, "messaging.message.id": ids[i]})
                    )
            return links

        return propagator_links
    policy = LinkPolicy()
    formats = (fmt,)
    link_attributes = SYSTEM if attributes == "shared" else {**SYSTEM, "messaging.message.id": PerRow(ids)}

    def fastlinks_links() -> list[Link]:
        return list(LinkSet.from_carriers(batch, link_attributes, formats=formats).compact(policy))

    return fastlinks_links
