"""Scenario 2, message queue: a producer injects `traceparent`/`tracestate` into message headers;
consumers link their spans to the producer's, one message at a time or a whole batch at once."""

from __future__ import annotations

from _common import main, tracer_for
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Link, SpanKind, TraceFlags, TraceState

import fastlinks
from fastlinks import linktypes


def run(exporter: SpanExporter) -> None:
    tracer = tracer_for(exporter, "examples.queue")
    queue: list[dict[str, str]] = []

    # The producer's trace carries vendor state in its tracestate; both travel in the headers.
    upstream = trace.SpanContext(0x5A5A, 0x77, True, TraceFlags(TraceFlags.SAMPLED), TraceState([("vendor", "blue")]))
    with tracer.start_as_current_span(
        "publish orders", context=trace.set_span_in_context(trace.NonRecordingSpan(upstream))
    ):
        for i in range(3):
            with tracer.start_as_current_span(f"send m{i}", kind=SpanKind.PRODUCER):
                headers = {"message-id": f"m{i}"}
                inject(headers)  # traceparent and tracestate of the "send" span
                queue.append(headers)

    # Several consumers, each with a span of its own linked to the producer.
    for name in ("billing", "shipping"):
        for headers in queue:
            producer = trace.get_current_span(extract(headers)).get_span_context()
            link = Link(producer, {linktypes.LINK_TYPE: linktypes.FOLLOWS_FROM, "messaging.operation": "process"})
            with tracer.start_as_current_span(f"{name} process", kind=SpanKind.CONSUMER, links=[link]):
                pass

    # A batch consumer: one span for the whole batch, linked to every producer it saw.
    with fastlinks.start_as_current_batch_span(
        tracer,
        "analytics process batch",
        queue,
        kind=SpanKind.CONSUMER,
        link_attributes={
            linktypes.LINK_TYPE: linktypes.BATCH_ITEM,
            "messaging.operation": "process",
            "messaging.message.id": fastlinks.PerRow([h["message-id"] for h in queue]),
        },
    ):
        pass


if __name__ == "__main__":
    main(run)
