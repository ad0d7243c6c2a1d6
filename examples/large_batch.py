"""Scenario 1 at scale: a consumer processes 10,000 messages in one batch and keeps a link to every
distinct producer, by spilling what its span cannot hold into linked overflow spans."""

from __future__ import annotations

from _common import tracer_for
from opentelemetry import trace
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import fastlinks
from fastlinks import linktypes

MESSAGES = 10_000
PRODUCERS = 2_500  # each producer's message is delivered four times


def run(exporter: SpanExporter) -> None:
    tracer = tracer_for(exporter, "examples.large_batch")
    propagator = TraceContextTextMapPropagator()
    producers = []
    for i in range(PRODUCERS):
        with tracer.start_as_current_span(f"send {i}", context=trace.set_span_in_context(trace.INVALID_SPAN)):
            headers: dict[str, str] = {}
            propagator.inject(headers)
            producers.append(headers)
    queue = [producers[i % PRODUCERS] for i in range(MESSAGES)]  # re-deliveries
    with fastlinks.start_as_current_batch_span(
        tracer,
        "process batch",
        queue,
        link_attributes={linktypes.LINK_TYPE: linktypes.BATCH_ITEM},
        overflow="spill",
    ):
        pass


def summary(exporter: InMemorySpanExporter) -> None:
    spans = exporter.get_finished_spans()
    batch = [s for s in spans if s.name == "process batch"]
    overflow = [s for s in spans if s.name == "process batch links"]
    reachable = {lk.context.span_id for s in batch + overflow for lk in s.links}
    print(f"{len(batch)} batch span with {len(batch[0].links)} links, dropped {batch[0].dropped_links}")
    print(f"{len(overflow)} overflow spans with {sum(len(s.links) for s in overflow)} links [{MESSAGES:,} messages]")
    print(f"producers reachable from the batch: {len(reachable):,} of {PRODUCERS:,}")


if __name__ == "__main__":
    memory = InMemorySpanExporter()
    run(memory)
    summary(memory)
