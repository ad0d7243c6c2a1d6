"""fastlinks inside the real opentelemetry-sdk: links, dropped counts, LinkProcessor, LinkAwareSampler."""

from __future__ import annotations

import logging
import threading

import numpy as np
import pytest
from opentelemetry import trace
from opentelemetry.sdk._configuration import _get_sampler, _import_sampler
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_OFF, ALWAYS_ON, ParentBased
from opentelemetry.trace import Link, SpanContext, TraceFlags

import fastlinks._kernels as kernels
from fastlinks import (
    LinkAwareSampler,
    LinkPolicy,
    LinkProcessor,
    LinkSet,
    start_as_current_batch_span,
    start_batch_span,
)


def pipeline(*processors, sampler=None, max_links=None):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=sampler, span_limits=SpanLimits(max_links=max_links) if max_links else None)
    for processor in processors:
        provider.add_span_processor(processor)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("test"), exporter


def carriers(n, seed=0, dup=0.2, bad=0.05, sampled=0.5):
    """n message headers: some repeat an earlier producer, some are malformed, half unsampled."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        if out and rng.random() < dup:
            out.append(dict(out[rng.integers(len(out))]))
        elif rng.random() < bad:
            out.append({"traceparent": "00-garbage"})
        else:
            flags = "01" if rng.random() < sampled else "00"
            out.append({"traceparent": f"00-{rng.bytes(16).hex()}-{rng.bytes(8).hex()}-{flags}"})
    return out


def ctx(i, sampled=True):
    return SpanContext(i + 1, i + 1, True, TraceFlags(1 if sampled else 0))


def test_compacted_linkset_goes_straight_into_the_sdk(impl):
    tracer, exporter = pipeline(LinkProcessor())
    links = LinkSet.from_carriers(carriers(500)).compact()
    with tracer.start_as_current_span("batch", links=links):
        pass
    (span,) = exporter.get_finished_spans()
    assert len(span.links) == len(links) == 128
    assert [lk.context for lk in span.links] == [lk.context for lk in links]
    assert span.dropped_links == links.stats.dropped == 500 - 128
    assert all(lk.context.trace_flags.sampled for lk in span.links), "250 sampled candidates: all kept first"


def test_sdk_cap_below_the_policy_is_counted_too(impl):
    tracer, exporter = pipeline(LinkProcessor(), max_links=100)
    links = LinkSet.from_carriers(carriers(500)).compact()
    tracer.start_span("batch", links=links).end()
    (span,) = exporter.get_finished_spans()
    assert len(span.links) == 100
    assert span.dropped_links == 500 - 100


def test_unsampled_span_materializes_no_link(impl, monkeypatch):
    calls = []
    real = kernels.materialize.make_links
    monkeypatch.setattr(kernels.materialize, "make_links", lambda *a: calls.append(1) or real(*a))
    tracer, exporter = pipeline(LinkProcessor(), sampler=ALWAYS_OFF)
    links = LinkSet.from_carriers(carriers(300)).compact()
    tracer.start_span("dropped", links=links).end()
    assert calls == [] and exporter.get_finished_spans() == ()
    tracer2, _ = pipeline(LinkProcessor())
    tracer2.start_span("kept", links=links).end()
    assert calls, "the counter does see materialization"


def test_processor_compacts_plain_link_lists(impl):
    tracer, exporter = pipeline(LinkProcessor(LinkPolicy(max_links=50)), max_links=10_000)
    plain = [Link(ctx(i % 80, sampled=i % 2 == 0), {"i": i}) for i in range(200)]  # 80 distinct, 40 sampled
    tracer.start_span("consumer", links=plain).end()
    (span,) = exporter.get_finished_spans()
    kept = [lk.context.span_id for lk in span.links]
    assert len(kept) == 50 == len(set(kept))
    assert sum(lk.context.trace_flags.sampled for lk in span.links) == 40, "sampled links go first"
    assert span.dropped_links == 150  # 120 duplicates + 30 over the cap
    assert [lk.attributes["i"] for lk in span.links] == sorted(lk.attributes["i"] for lk in span.links)
    assert all(lk.attributes["i"] < 80 for lk in span.links), "the first occurrence wins"


def test_processor_after_the_sdk_default_cap(impl, monkeypatch):
    monkeypatch.delenv("OTEL_SPAN_LINK_COUNT_LIMIT", raising=False)
    tracer, exporter = pipeline(LinkProcessor())
    plain = [Link(ctx(i % 100)) for i in range(300)]
    tracer.start_span("consumer", links=plain).end()
    (span,) = exporter.get_finished_spans()
    assert len(span.links) == 100
    assert span.dropped_links == 300 - 100  # 172 evicted by the SDK, 28 duplicates of what it kept


def test_processor_leaves_compacted_links_alone(impl):
    tracer, exporter = pipeline(LinkProcessor(LinkPolicy(max_links=5)))
    links = LinkSet.from_carriers(carriers(20)).compact(LinkPolicy(max_links=10))
    span = tracer.start_span("batch", links=links)
    span.end()
    (done,) = exporter.get_finished_spans()
    assert len(done.links) == 10 and done.dropped_links == 10


def test_mixed_compacted_and_plain_links(impl):
    tracer, exporter = pipeline(LinkProcessor(LinkPolicy(max_links=10)), max_links=1000)
    compacted = LinkSet.from_carriers(carriers(30, seed=3)).compact(LinkPolicy(max_links=8))
    plain = [Link(ctx(i)) for i in range(5)] + [Link(ctx(0))]
    tracer.start_span("mixed", links=list(compacted) + plain).end()
    (span,) = exporter.get_finished_spans()
    assert len(span.links) == 10
    # 22 dropped by the first compaction; of 14 links, 1 duplicate and 3 over the cap
    assert span.dropped_links == 22 + 1 + 3


@pytest.mark.parametrize("with_processor", [True, False])
def test_start_batch_span_counts_are_true(impl, with_processor):
    processors = [LinkProcessor()] if with_processor else []
    tracer, exporter = pipeline(*processors)
    batch = carriers(500, seed=1)
    span = start_batch_span(tracer, "process", batch, attributes={"app": "x"}, kind=trace.SpanKind.CONSUMER)
    span.end()
    (done,) = exporter.get_finished_spans()
    assert done.attributes["messaging.batch.message_count"] == 500 and done.attributes["app"] == "x"
    assert done.kind == trace.SpanKind.CONSUMER
    assert len(done.links) == 128 and done.dropped_links == 500 - 128


@pytest.mark.parametrize("with_processor", [True, False])
def test_start_batch_span_when_nothing_is_kept(impl, with_processor):
    processors = [LinkProcessor()] if with_processor else []
    tracer, exporter = pipeline(*processors)
    span = start_batch_span(tracer, "process", [{"traceparent": "bad"}, None, {}])
    span.end()
    (done,) = exporter.get_finished_spans()
    assert len(done.links) == 0 and done.dropped_links == 3


def test_start_as_current_batch_span(impl):
    tracer, exporter = pipeline(LinkProcessor())
    batch = carriers(50, seed=2)
    with start_as_current_batch_span(tracer, "process", batch, LinkPolicy(max_links=10)) as span:
        assert trace.get_current_span() is span
        with tracer.start_as_current_span("child"):
            pass
    with pytest.raises(RuntimeError), start_as_current_batch_span(tracer, "failing", batch):
        raise RuntimeError("boom")
    child, parent, failing = exporter.get_finished_spans()
    assert child.parent.span_id == parent.context.span_id
    assert len(parent.links) == 10 and parent.dropped_links == 40
    assert failing.status.status_code == trace.StatusCode.ERROR


# ---- LinkAwareSampler


def decide(sampler, links, parent=None):
    tracer, exporter = pipeline(sampler=sampler)
    context = trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent else None
    tracer.start_span("consumer", context=context, links=links).end()
    return len(exporter.get_finished_spans()) == 1


def test_link_aware_sampler_decisions(impl, monkeypatch):
    sampler = LinkAwareSampler(ParentBased(ALWAYS_OFF))
    sampled = [Link(ctx(1, True)), Link(ctx(2, False))]
    unsampled = [Link(ctx(1, False))]
    invalid_sampled = [Link(SpanContext(0, 0, True, TraceFlags(1)))]
    assert decide(sampler, sampled) is True
    assert decide(sampler, unsampled) is False
    assert decide(sampler, invalid_sampled) is False
    assert decide(sampler, []) is False
    assert decide(LinkAwareSampler(ALWAYS_ON), unsampled) is True
    unsampled_parent = SpanContext(9, 9, True, TraceFlags(0))
    assert decide(sampler, sampled, parent=unsampled_parent) is False, "only root spans are linked in"
    calls = []
    real = kernels.materialize.make_links
    monkeypatch.setattr(kernels.materialize, "make_links", lambda *a: calls.append(1) or real(*a))
    column = LinkSet.from_carriers(carriers(300)).compact()
    assert decide(LinkAwareSampler(ALWAYS_OFF), column) is True
    no_sampled = LinkSet.from_carriers(carriers(300, sampled=0.0)).compact()
    assert sampler.should_sample(None, 1, "x", links=no_sampled).decision.is_sampled() is False
    assert sampler.should_sample(None, 1, "x", links=column).decision.is_sampled() is True
    assert len(calls) == 1, "the sampler reads the flag column; only the exported span built links"
    assert sampler.get_description() == f"LinkAwareSampler{{{ParentBased(ALWAYS_OFF).get_description()}}}"
    with pytest.raises(TypeError, match="delegate"):
        LinkAwareSampler("always_on")


def test_sampler_entry_point_through_sdk_configuration(monkeypatch, caplog):
    """OTEL_TRACES_SAMPLER / OTEL_TRACES_SAMPLER_ARG, read the way the SDK's configurator reads them."""
    monkeypatch.setenv("OTEL_TRACES_SAMPLER", "linkaware_parentbased_traceidratio")
    monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", "0.25")
    sampler = _import_sampler(_get_sampler())
    assert isinstance(sampler, LinkAwareSampler)
    assert "TraceIdRatioBased{0.25}" in sampler.get_description()
    monkeypatch.delenv("OTEL_TRACES_SAMPLER_ARG")
    assert "TraceIdRatioBased{1.0}" in _import_sampler(_get_sampler()).get_description()
    for bad in ("lots", "1.5", "-0.1", "nan"):
        monkeypatch.setenv("OTEL_TRACES_SAMPLER_ARG", bad)
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            assert _import_sampler(_get_sampler()) is None  # the SDK keeps its default sampler
        assert f"OTEL_TRACES_SAMPLER_ARG must be a ratio between 0 and 1, got '{bad}'" in caplog.text


# ---- threads


def test_many_threads_end_spans_with_exact_counts(impl):
    exporter = InMemorySpanExporter()
    provider = TracerProvider(
        sampler=LinkAwareSampler(ParentBased(ALWAYS_OFF)), span_limits=SpanLimits(max_links=10_000)
    )
    provider.add_span_processor(LinkProcessor(LinkPolicy(max_links=16)))
    provider.add_span_processor(BatchSpanProcessor(exporter, max_queue_size=100_000, schedule_delay_millis=50))
    tracer = provider.get_tracer("threads")
    batch = LinkSet.from_carriers(carriers(100, seed=4))
    expected = batch.compact(LinkPolicy(max_links=16)).stats
    threads_n, spans_n = 8, 300
    errors = []

    def work(t):
        try:
            for i in range(spans_n):
                if i % 2:
                    links = batch.compact(LinkPolicy(max_links=16))
                else:  # plain links with 40 distinct, all sampled, for the processor
                    links = [Link(ctx(t * 1000 + j % 40)) for j in range(60)]
                tracer.start_span(f"s{t}-{i}", links=links).end()
        except Exception as error:
            errors.append(error)

    threads = [threading.Thread(target=work, args=(t,)) for t in range(threads_n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "deadlock"
    provider.force_flush()
    assert errors == []
    spans = exporter.get_finished_spans()
    assert len(spans) == threads_n * spans_n, "every root span had a sampled link"
    for span in spans:
        if int(span.name.rsplit("-", 1)[1]) % 2:
            assert (len(span.links), span.dropped_links) == (expected.kept, expected.dropped)
        else:
            assert (len(span.links), span.dropped_links) == (16, 44)
    provider.shutdown()
