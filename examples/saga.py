"""Scenario 5, saga: a step fails, and the compensations (`cancel_order`, `restore_inventory`)
link to the steps they undo, with the reason."""

from __future__ import annotations

from _common import main, tracer_for
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter

from fastlinks import linktypes


def run(exporter: SpanExporter) -> None:
    tracer = tracer_for(exporter, "examples.saga")
    done: dict[str, trace.SpanContext] = {}
    with tracer.start_as_current_span("place order saga") as saga:
        for step in ("create_order", "reserve_inventory", "charge_payment"):
            with tracer.start_as_current_span(step) as span:
                if step == "charge_payment":
                    span.set_status(trace.Status(trace.StatusCode.ERROR, "card declined"))
                    break
                done[step] = span.get_span_context()
        reason = "charge_payment failed: card declined"
        for compensating, original in (("restore_inventory", "reserve_inventory"), ("cancel_order", "create_order")):
            with tracer.start_as_current_span(compensating, links=[linktypes.compensation(done[original], reason)]):
                pass
        saga.set_status(trace.Status(trace.StatusCode.ERROR, reason))


if __name__ == "__main__":
    main(run)
