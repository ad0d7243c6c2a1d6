"""Scenario 4, retry: every attempt is a span of its own, linked to the failed attempt before it."""

from __future__ import annotations

from _common import main, tracer_for
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter

from fastlinks import linktypes

FAILURES = 2  # the call fails twice, then succeeds


def run(exporter: SpanExporter) -> None:
    tracer = tracer_for(exporter, "examples.retry")
    with tracer.start_as_current_span("charge card"):
        previous: trace.SpanContext | None = None
        for attempt in range(1, FAILURES + 2):
            links = [linktypes.retry(previous, attempt)] if previous else []
            with tracer.start_as_current_span(f"attempt {attempt}", links=links, record_exception=False) as span:
                span.set_attribute("retry.attempt", attempt)
                if attempt <= FAILURES:
                    span.set_status(trace.Status(trace.StatusCode.ERROR, "gateway timeout"))
                    previous = span.get_span_context()
                    continue
                break


if __name__ == "__main__":
    main(run)
