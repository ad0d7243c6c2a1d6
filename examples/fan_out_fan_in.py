"""Scenario 3, fan-out / fan-in: a main span starts workers — in threads, then in worker
processes — and an aggregation span links to every worker."""

from __future__ import annotations

import pickle
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

from _common import main, tracer_for
from opentelemetry import context, trace
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

import fastlinks
from fastlinks import linktypes

WORKERS = 4


def work_in_process(traceparent: str, shard: int) -> bytes:
    """A worker process: its own SDK, its span a child of the main span (via its traceparent).

    It sends its span context back as a pickled one-row LinkSet (columns, not Link objects)."""
    tracer = tracer_for(InMemorySpanExporter(), "examples.worker")
    carrier = {"traceparent": traceparent}
    parent = TraceContextTextMapPropagator().extract(carrier)
    with tracer.start_as_current_span(f"process worker {shard}", context=parent) as span:
        span.set_attribute("shard", shard)
        return pickle.dumps(fastlinks.LinkSet.from_span_contexts([span.get_span_context()]))


def run(exporter: SpanExporter) -> None:
    tracer = tracer_for(exporter, "examples.fanout")
    with tracer.start_as_current_span("main") as main_span:
        ctx = context.get_current()

        def work_in_thread(shard: int) -> trace.SpanContext:
            with tracer.start_as_current_span(f"thread worker {shard}", context=ctx) as span:
                span.set_attribute("shard", shard)
                return span.get_span_context()

        with ThreadPoolExecutor(WORKERS) as pool:
            thread_workers = list(pool.map(work_in_thread, range(WORKERS)))
        with tracer.start_as_current_span(
            "aggregate threads", links=linktypes.from_contexts(thread_workers, linktypes.AGGREGATION)
        ):
            pass

        traceparent = fastlinks.LinkSet.from_span_contexts([main_span.get_span_context()]).to_traceparents()[0]
        with ProcessPoolExecutor(WORKERS) as pool:
            returned = list(pool.map(work_in_process, [traceparent] * WORKERS, range(WORKERS)))
        workers = fastlinks.LinkSet.concat([pickle.loads(blob) for blob in returned])
        links = fastlinks.LinkSet.from_arrays(
            workers.trace_ids,
            workers.span_ids,
            workers.trace_flags,
            is_remote=True,
            attributes={
                linktypes.LINK_TYPE: linktypes.AGGREGATION,
                "link.index": fastlinks.PerRow(range(len(workers))),
            },
        )
        with tracer.start_as_current_span("aggregate processes", links=links):
            pass


if __name__ == "__main__":
    main(run)
