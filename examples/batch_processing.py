"""Scenario 1, batch processing: requests with traces of their own are collected into batches
(by size or by timeout), and each batch span links to every request in it."""

from __future__ import annotations

from _common import main, tracer_for
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter

import fastlinks
from fastlinks import linktypes

MAX_BATCH = 4
MAX_WAIT = 0.5  # seconds a request may wait for its batch


def run(exporter: SpanExporter) -> None:
    tracer = tracer_for(exporter, "examples.batch")
    buffer = fastlinks.LinkBuffer()
    pending: list[tuple[str, float]] = []

    def flush() -> None:
        links = buffer.compact(attributes={linktypes.LINK_TYPE: linktypes.BATCH_ITEM})
        with tracer.start_as_current_span("process_batch", links=links) as batch:
            failures = sum(1 for request_id, _ in pending if request_id.endswith("7"))  # request 7 fails
            batch.set_attribute("batch.size", len(pending))
            batch.set_attribute("batch.success_count", len(pending) - failures)
            batch.set_attribute("batch.failure_count", failures)
        buffer.clear()
        pending.clear()

    arrivals = [0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 1.2, 2.0, 2.1]  # the last ones trickle in: timeout flush
    for i, now in enumerate(arrivals):
        if pending and now - pending[0][1] > MAX_WAIT:
            flush()
        request_id = f"req-{i}"
        with tracer.start_as_current_span("handle_request", context=trace.set_span_in_context(trace.INVALID_SPAN)):
            context = trace.get_current_span().get_span_context()  # each request is a trace of its own
        buffer.add_context(context, **{"item.id": request_id, "item.index": len(pending)})
        pending.append((request_id, now))
        if len(pending) == MAX_BATCH:
            flush()
    if pending:
        flush()


if __name__ == "__main__":
    main(run)
