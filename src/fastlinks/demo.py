"""`python -m fastlinks demo`: one batch consumer, the usual way and the fastlinks way, side by side."""

from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from .batch import start_batch_span
from .linkset import LinkSet
from .policy import LinkPolicy
from .processor import LinkProcessor

MESSAGES = 10_000


def make_carriers(
    n: int, *, duplicates: float = 0.2, malformed: float = 0.05, sampled: float = 0.5, seed: int = 0
) -> list[dict[str, str]]:
    """`n` header dicts: a `duplicates` share re-delivers an earlier message, a `malformed` share
    has a broken traceparent, and a `sampled` share of producers set the sampled flag."""
    rng = np.random.default_rng(seed)
    trace_ids = rng.bytes(16 * n)
    span_ids = rng.bytes(8 * n)
    roll = rng.random((n, 3))
    out: list[dict[str, str]] = []
    for i in range(n):
        if out and roll[i, 0] < duplicates:
            out.append(out[int(roll[i, 1] * len(out))])
        elif roll[i, 1] < malformed:
            out.append({"traceparent": f"00-{trace_ids[16 * i : 16 * i + 16].hex()}-broken"})
        else:
            flags = "01" if roll[i, 2] < sampled else "00"
            tp = f"00-{trace_ids[16 * i : 16 * i + 16].hex()}-{span_ids[8 * i : 8 * i + 8].hex()}-{flags}"
            out.append({"traceparent": tp})
    return out


def _today(tracer: trace.Tracer, carriers: Sequence[dict[str, str]]) -> tuple[int, float]:
    """What consumers write today: the propagator per message, one Link each, all given to the SDK."""
    start = time.perf_counter()
    propagator = TraceContextTextMapPropagator()
    links = []
    for carrier in carriers:
        context = trace.get_current_span(propagator.extract(carrier)).get_span_context()
        if context.is_valid:
            links.append(Link(context))
    tracer.start_span("process batch (propagator + SDK)", links=links).end()
    return len(links), time.perf_counter() - start


def _fastlinks(tracer: trace.Tracer, carriers: Sequence[dict[str, str]]) -> float:
    start = time.perf_counter()
    start_batch_span(tracer, "process batch (fastlinks)", carriers).end()
    return time.perf_counter() - start


def _pipeline(exporter: SpanExporter, *processors: LinkProcessor) -> trace.Tracer:
    provider = TracerProvider()
    for processor in processors:
        provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("fastlinks.demo")


def _reachable(carriers: Sequence[dict[str, str]], today: ReadableSpan, fast: ReadableSpan) -> list[str]:
    """How many distinct producers each way leaves reachable from the consumer's span(s)."""
    recorder = InMemorySpanExporter()
    start_batch_span(_pipeline(recorder, LinkProcessor()), "process batch (spill)", carriers, overflow="spill").end()
    spilled = recorder.get_finished_spans()
    distinct = len({(lk.context.trace_id, lk.context.span_id) for span in spilled for lk in span.links})
    row = "  {:<38}{:>16}".format
    return [
        "producers reachable from the consumer:",
        row("  propagator+SDK (the last 128)", f"{_describe(today)[2]:,}"),
        row("  fastlinks, drop (the best 128)", f"{_describe(fast)[2]:,}"),
        row(f"  fastlinks, spill (+{len(spilled) - 1} overflow spans)", f"{distinct:,}"),
    ]


def _describe(span: ReadableSpan) -> tuple[int, int, int, int]:
    """Links kept, how many point at sampled traces, distinct (trace, span) pairs, dropped count."""
    contexts = [link.context for link in span.links]
    sampled = sum(ctx.trace_flags.sampled for ctx in contexts)
    distinct = len({(ctx.trace_id, ctx.span_id) for ctx in contexts})
    return len(contexts), sampled, distinct, span.dropped_links


def run(otlp_endpoint: str | None = None, export_timeout: float = 5.0, spill: bool = False) -> tuple[list[str], bool]:
    """Play the consumer once each way, timed in memory; then, with an endpoint, export the two
    spans the report describes (and nothing else). Returns the report lines, and False when the
    endpoint could not take the spans. `spill` adds how many producers each way can reach."""
    carriers = make_carriers(MESSAGES, seed=7)
    recorder = InMemorySpanExporter()
    today_tracer = _pipeline(recorder)
    fast_tracer = _pipeline(recorder, LinkProcessor())
    _today(today_tracer, carriers[:100])  # warm both paths up once
    _fastlinks(fast_tracer, carriers[:100])
    recorder.clear()
    valid_today, t_today = _today(today_tracer, carriers)
    t_fast = _fastlinks(fast_tracer, carriers)
    today_span, fast_span = recorder.get_finished_spans()
    stats = LinkSet.from_carriers(carriers).compact(LinkPolicy()).stats
    kept_t, sampled_t, distinct_t, dropped_t = _describe(today_span)
    kept_f, sampled_f, distinct_f, dropped_f = _describe(fast_span)
    row = "  {:<38}{:>16}{:>16}".format
    lines = [
        f"fastlinks demo: a batch consumer receives {MESSAGES:,} messages",
        "  (20% re-deliveries, 5% malformed traceparents, producers sampled at 50%)",
        "",
        row("", "propagator+SDK", "fastlinks"),
        row("candidate links (messages)", f"{MESSAGES:,}", f"{stats.input:,}"),
        row("  invalid, skipped", f"{MESSAGES - valid_today:,}", f"{stats.invalid:,}"),
        row("  duplicates removed", "0", f"{stats.duplicates:,}"),
        row("  over the cap", f"{valid_today - kept_t:,}", f"{stats.over_limit:,}"),
        row("  kept", f"{kept_t:,}", f"{kept_f:,}"),
        row("kept links to sampled traces", f"{sampled_t}", f"{sampled_f}"),
        row("kept links that are distinct", f"{distinct_t}", f"{distinct_f}"),
        row("dropped_links_count reported", f"{dropped_t:,}", f"{dropped_f:,}"),
        row("links actually dropped", f"{MESSAGES - kept_t:,}", f"{MESSAGES - kept_f:,}"),
        row("time: parse, link, start+end span", f"{t_today * 1e3:.1f} ms", f"{t_fast * 1e3:.2f} ms"),
        "",
        f"fastlinks was {t_today / t_fast:.0f}x faster, kept only distinct links, put sampled traces first,",
        "and reported every drop; the SDK kept the last 128 valid links, whatever they pointed at.",
    ]
    if spill:
        lines += ["", *_reachable(carriers, today_span, fast_span)]
    if not otlp_endpoint:
        return [*lines, "(timed in memory; --otlp URL also sends both spans to an OTLP/HTTP endpoint)"], True
    from .otlp.http import OTLPSpanExporter

    exporter = OTLPSpanExporter(endpoint=otlp_endpoint, timeout=export_timeout)
    try:
        sent = exporter.export([today_span, fast_span]) == SpanExportResult.SUCCESS
    finally:
        exporter.shutdown()
    if sent:
        return [*lines, f"(timed in memory, then both spans sent to {otlp_endpoint})"], True
    return [*lines, f"could not send the two spans to {otlp_endpoint} within {export_timeout:g} s"], False
