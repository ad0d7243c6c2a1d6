"""Lossless batches: `overflow="spill"` keeps every distinct valid link, the batch span the
policy's choice and overflow spans the rest, with exact counts on every span."""

from __future__ import annotations

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from fastlinks import LinkPolicy, LinkProcessor, LinkSet, start_as_current_batch_span, start_batch_span
from fastlinks.demo import make_carriers
from fastlinks.policy import STRATEGIES

N = 10_000


def expected(carriers):
    """The distinct valid producer contexts, in first-seen order, as (trace ID, span ID, sampled)."""
    seen: dict[tuple[int, int], bool] = {}
    for carrier in carriers:
        parts = carrier["traceparent"].split("-")
        if len(parts) == 4 and len(parts[1]) == 32 and len(parts[2]) == 16 and len(parts[3]) == 2:
            seen.setdefault((int(parts[1], 16), int(parts[2], 16)), parts[3] == "01")
    return seen


def spans(policy, exporter_processor=None):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(LinkProcessor(policy))
    provider.add_span_processor(exporter_processor or SimpleSpanProcessor(exporter))
    return provider, provider.get_tracer("consumer"), exporter


@pytest.mark.parametrize("strategy", STRATEGIES)
def test_ten_thousand_carriers_spill_every_distinct_link_once(impl, strategy):
    carriers = make_carriers(N, seed=5)
    truth = expected(carriers)
    policy = LinkPolicy(strategy=strategy, seed=9)
    _, tracer, exporter = spans(policy)
    with start_as_current_batch_span(tracer, "process batch", carriers, policy, overflow="spill"):
        pass
    finished = exporter.get_finished_spans()
    (batch,) = [s for s in finished if s.name == "process batch"]
    overflow = [s for s in finished if s.name == "process batch links"]
    assert all(s.parent.span_id == batch.context.span_id for s in overflow)
    assert all(s.end_time <= batch.end_time for s in overflow)
    assert all(len(s.links) <= 128 for s in overflow) and len(batch.links) == 128
    assert sorted(s.attributes["fastlinks.overflow.index"] for s in overflow) == list(range(len(overflow)))
    assert {s.attributes["fastlinks.overflow.count"] for s in overflow} == {len(overflow)}
    got = [(lk.context.trace_id, lk.context.span_id) for s in [batch, *overflow] for lk in s.links]
    assert len(got) == len(set(got)) == len(truth) and set(got) == set(truth), "every distinct link, once"
    sampled = sum(truth.values())
    assert sampled >= 128 and all(lk.context.trace_flags.sampled for lk in batch.links), "sampled first"
    invalid = N - sum(1 for c in carriers if len(c["traceparent"]) == 55)
    duplicates = N - invalid - len(truth)
    assert batch.dropped_links == invalid + duplicates and all(s.dropped_links == 0 for s in overflow)
    assert dict(batch.attributes) == {
        "messaging.batch.message_count": N,
        "fastlinks.links.input": N,
        "fastlinks.links.invalid": invalid,
        "fastlinks.links.duplicates": duplicates,
        "fastlinks.links.over_limit": len(truth) - 128,
        "fastlinks.links.kept": 128,
    }


def test_drop_mode_counts_the_same_rows_as_dropped(impl):
    carriers = make_carriers(2000, seed=6)
    _, tracer, exporter = spans(LinkPolicy())
    start_batch_span(tracer, "batch", carriers).end()
    (span,) = exporter.get_finished_spans()
    assert span.dropped_links == 2000 - 128 == 2000 - span.attributes["fastlinks.links.kept"]
    quiet = LinkPolicy(record_counts=False)
    _, tracer, exporter = spans(quiet)
    start_batch_span(tracer, "batch", carriers, quiet).end()
    assert dict(exporter.get_finished_spans()[0].attributes) == {"messaging.batch.message_count": 2000}


def test_spill_through_the_otlp_exporter(impl):
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otlp extra is not installed")
    from _receiver import Receiver
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    from fastlinks.otlp import OTLPSpanExporter

    carriers = make_carriers(N, seed=8)
    truth = expected(carriers)
    with Receiver() as receiver:
        provider, tracer, _ = spans(LinkPolicy(), BatchSpanProcessor(OTLPSpanExporter(endpoint=receiver.endpoint)))
        start_batch_span(tracer, "batch", carriers, overflow="spill").end()
        provider.shutdown()
    received = [s for r in receiver.decoded() for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]
    links = [
        (int.from_bytes(lk.trace_id, "big"), int.from_bytes(lk.span_id, "big"), lk.flags)
        for s in received
        for lk in s.links
    ]
    assert {(t, s) for t, s, _ in links} == set(truth) and len(links) == len(truth)
    assert all(bool(f & 1) == truth[(t, s)] for t, s, f in links), "each link's sampled flag as sent"
    (batch,) = [s for s in received if s.name == "batch"]
    assert batch.dropped_links_count == N - len(truth)


def test_chunks_and_split(impl):
    ls = LinkSet.from_carriers(make_carriers(300, seed=2))
    chosen, rest = ls.split(LinkPolicy(max_links=50))
    assert len(chosen) == 50 and chosen.stats.over_limit == 0 and chosen.stats.dropped == 300 - 50 - len(rest)
    assert [len(c) for c in rest.chunks(100)] == [100] * (len(rest) // 100) + (
        [len(rest) % 100] if len(rest) % 100 else []
    )
    assert np.array_equal(np.concatenate([c.trace_ids for c in rest.chunks(7)]), rest.trace_ids)
    with pytest.raises(ValueError, match="positive int"):
        rest.chunks(0)
    with pytest.raises(ValueError, match="overflow must be"):
        start_batch_span(TracerProvider().get_tracer("t"), "b", [], overflow="keep")  # type: ignore[arg-type]
