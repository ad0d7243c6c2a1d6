"""Shared by the examples: a tracer on the real SDK, and a printout of what was exported."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import fastlinks


def tracer_for(exporter: SpanExporter, name: str) -> trace.Tracer:
    """A TracerProvider of its own with fastlinks' LinkProcessor, exporting to `exporter`."""
    provider = TracerProvider()
    provider.add_span_processor(fastlinks.LinkProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer(name)


def show(spans: list[ReadableSpan]) -> None:
    """One line per span: name, trace, and where its links point."""
    for span in spans:
        links = ", ".join(f"{link.attributes.get('link.type')}->{link.context.span_id:016x}" for link in span.links)
        print(f"{span.name:28s} trace {span.context.trace_id:032x}  links [{links}]")


def main(run) -> None:  # type: ignore[no-untyped-def]
    exporter = InMemorySpanExporter()
    run(exporter)
    show(list(exporter.get_finished_spans()))
