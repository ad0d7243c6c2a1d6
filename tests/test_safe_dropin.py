"""fastlinks installed globally never raises into the application, and changes nothing the stock
SDK does for inputs it accepts: every odd input goes through `tracer.start_span` with
`LinkProcessor` and `LinkAwareSampler` installed, and through the OTLP exporter, and is compared
with the same pipeline without fastlinks."""

from __future__ import annotations

import enum
import logging
import os
import subprocess
import sys
import textwrap

import _fork
import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ALWAYS_ON, ParentBased
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import TraceState

from fastlinks import LinkAwareSampler, LinkPolicy, LinkProcessor, LinkSet
from fastlinks import _otel_compat as compat

VALID_TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def ctx(i: int, flags: int = 1, **kw) -> SpanContext:
    return SpanContext(0xA000 + i, 0xB000 + i, True, TraceFlags(flags), **kw)


class DuckContext:
    """Not a SpanContext, but everything the SDK and the stock encoder read of one."""

    def __init__(self, i: int) -> None:
        self.trace_id, self.span_id = 0xC000 + i, 0xD000 + i
        self.is_remote, self.trace_flags, self.trace_state, self.is_valid = True, TraceFlags(1), TraceState(), True


class RenamedLink(Link):
    """A Link subclass whose `context` property computes something else than `_context`."""

    @property
    def context(self) -> SpanContext:
        return ctx(99)


class Strategy(str, enum.Enum):
    CONSISTENT = "consistent"


# name -> links=; each is accepted by the stock SDK, and fastlinks must give the same links and counts
ODD_INPUTS = {
    "a link to None": lambda: [Link(None)],  # type: ignore[arg-type]
    "None among links": lambda: [None, Link(ctx(1))],
    "plain int trace_flags": lambda: [Link(SpanContext(0xA1, 0xB1, True, 1))],  # type: ignore[arg-type]
    "numpy integer IDs": lambda: [Link(SpanContext(np.uint64(0xA2), np.uint64(0xB2), True, TraceFlags(1)))],
    "a str trace_state": lambda: [Link(SpanContext(0xA3, 0xB3, True, TraceFlags(1), "k=v"))],  # type: ignore[arg-type]
    "a duck-typed context": lambda: [Link(DuckContext(1)), Link(ctx(2))],  # type: ignore[arg-type]
    "a Link subclass with its own context": lambda: [RenamedLink(ctx(3)), Link(ctx(4))],
    "a trace state": lambda: [Link(ctx(6, trace_state=TraceState([("k", "v")])))],
    "attributes of every kind": lambda: [Link(ctx(7), {"s": "x", "b": True, "i": 3, "f": 1.5, "l": ["a", "b"]})],
    "a tuple of links": lambda: (Link(ctx(8)), Link(ctx(9, 0))),
    "a generator of links": lambda: (Link(ctx(i)) for i in range(3)),
    "no links": lambda: [],
    "links=None": lambda: None,
}


def _run(links_factory, fastlinks: bool, policy: LinkPolicy | None = None):
    exporter = InMemorySpanExporter()
    sampler = ParentBased(ALWAYS_ON)
    provider = TracerProvider(sampler=LinkAwareSampler(sampler) if fastlinks else sampler)
    if fastlinks:
        provider.add_span_processor(LinkProcessor(policy))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("t").start_span("s", links=links_factory())
    span.add_link(ctx(50))
    span.end()
    (finished,) = exporter.get_finished_spans()
    return finished


def _key(context):
    """What identifies a link's context across two runs (a duck-typed one is a new object each run)."""
    if isinstance(context, SpanContext):
        return context
    return (type(context).__name__, getattr(context, "trace_id", None), getattr(context, "span_id", None))


def _summary(span):
    return [(_key(link.context), dict(link.attributes or {})) for link in span.links], span.dropped_links


@pytest.mark.parametrize("name", list(ODD_INPUTS))
def test_odd_links_give_what_the_stock_sdk_gives(impl, name, caplog):
    stock = _run(ODD_INPUTS[name], fastlinks=False)
    with caplog.at_level(logging.WARNING, "fastlinks"):
        ours = _run(ODD_INPUTS[name], fastlinks=True)
    assert _summary(ours) == _summary(stock)


INVALID_WITH_ATTRIBUTES = {
    "an invalid context with attributes": lambda: [Link(SpanContext(5, 0, True), {"a": 1}), Link(ctx(5))],
    "an out-of-range trace ID": lambda: [Link(SpanContext(2**128 + 1, 7, True, TraceFlags(1)), {"a": 1})],
}


@pytest.mark.parametrize("name", list(INVALID_WITH_ATTRIBUTES))
def test_invalid_links_with_attributes_follow_the_policy(impl, name):
    """The SDK keeps an invalid context that carries attributes; the policy drops and counts it
    (documented), or, with keep_invalid_with_attributes, keeps the very same link, IDs and all."""
    stock_links, stock_dropped = _summary(_run(INVALID_WITH_ATTRIBUTES[name], fastlinks=False))
    links, dropped = _summary(_run(INVALID_WITH_ATTRIBUTES[name], fastlinks=True))
    assert links == [link for link in stock_links if link[0].is_valid]
    assert dropped == stock_dropped + 1
    kept = _run(INVALID_WITH_ATTRIBUTES[name], True, LinkPolicy(keep_invalid_with_attributes=True))
    assert _summary(kept) == (stock_links, stock_dropped)


def test_a_generator_reaches_the_span_whole(impl):
    """The sampler must not take links out of a generator before the SDK reads it."""
    span = _run(lambda: (Link(ctx(i)) for i in range(3)), fastlinks=True)
    assert [link.context for link in span.links][:3] == [ctx(i) for i in range(3)]


def test_huge_link_limit_in_the_environment(impl, monkeypatch):
    monkeypatch.setenv("FASTLINKS_LINK_LIMIT", str(2**64))
    links = [Link(ctx(i)) for i in range(5)] + [Link(ctx(0))]
    span = _run(lambda: links, fastlinks=True)
    assert [link.context for link in span.links] == [ctx(i) for i in range(5)] + [ctx(50)]
    assert span.dropped_links == 1  # the duplicate: deduplicated, not cut


@pytest.mark.skipif(not compat.ON_ENDING, reason="SDK without SpanProcessor._on_ending (before 1.40)")
def test_a_str_enum_strategy(impl):
    policy = LinkPolicy(max_links=2, strategy=Strategy.CONSISTENT)  # type: ignore[arg-type]
    assert type(policy.strategy) is str
    span = _run(lambda: [Link(ctx(i)) for i in range(4)], fastlinks=True, policy=policy)
    assert len(span.links) == 2 and span.dropped_links == 3  # the cap again at ending, over the added link too


def test_a_broken_link_list_logs_once_and_leaves_the_span(impl, caplog):
    """A link whose context raises when read: the span keeps the SDK's links, one log line."""

    class Exploding:
        is_valid = True
        trace_state = None

        @property
        def trace_id(self):
            raise RuntimeError("boom")

    with caplog.at_level(logging.WARNING, "fastlinks"):
        for _ in range(3):
            span = _run(lambda: [Link(Exploding()), Link(ctx(1)), Link(ctx(1))], fastlinks=True)  # type: ignore[arg-type]
            assert len(span.links) == 4  # left as the stock SDK made it: duplicate and added link and all
    assert sum("LinkProcessor.on_start" in r.getMessage() for r in caplog.records) == 1


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_fork_while_the_log_lock_is_held_leaves_the_child_able_to_log():
    """A worker forked (gunicorn, Celery, multiprocessing) while another thread was logging
    through fastlinks: the child's first log_once must not wait forever on the copied lock."""

    def child_logs() -> bool:
        compat.log_once("a forked child", RuntimeError("after fork"))
        return True

    with compat._log_lock:
        pid = _fork.fork(child_logs)
    assert _fork.exit_code(pid, "the forked child hung in log_once on the lock held at fork") == 0


def test_sampler_falls_back_to_its_delegate(impl):
    class Odd(Link):
        @property
        def context(self):
            raise RuntimeError("unreadable")

    sampler = LinkAwareSampler(ParentBased(ALWAYS_ON))
    result = sampler.should_sample(None, 1, "s", links=[Odd(ctx(1))])
    assert result.decision.is_sampled()
    assert sampler.get_description().startswith("LinkAwareSampler{")


# ---------------------------------------------------------------- the exporter (the otlp extra)


def _exporters():
    pytest.importorskip("opentelemetry.exporter.otlp.proto.http", reason="the otlp extra is not installed")
    from _receiver import Receiver
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as StockExporter

    from fastlinks.otlp import OTLPSpanExporter, encode_spans

    return Receiver, StockExporter, OTLPSpanExporter, encode_spans


@pytest.mark.parametrize("name", list(ODD_INPUTS))
def test_odd_links_export_as_the_stock_exporter_does(impl, name):
    Receiver, StockExporter, OTLPSpanExporter, _ = _exporters()
    span = _run(ODD_INPUTS[name], fastlinks=False)
    with Receiver() as receiver:
        stock = StockExporter(endpoint=receiver.endpoint, timeout=5).export([span])
        ours = OTLPSpanExporter(endpoint=receiver.endpoint, timeout=5).export([span])
    assert ours == stock
    if stock == SpanExportResult.SUCCESS:
        theirs_links, our_links = (r.resource_spans[0].scope_spans[0].spans[0].links for r in receiver.decoded())
        assert [(lk.trace_id, lk.span_id) for lk in our_links] == [(lk.trace_id, lk.span_id) for lk in theirs_links]


def test_a_link_to_a_non_context_fails_the_batch_like_the_stock_exporter(impl, caplog):
    from opentelemetry.sdk.trace import ReadableSpan

    Receiver, _, OTLPSpanExporter, encode_spans = _exporters()
    span = ReadableSpan("s", SpanContext(1, 2, False), links=[Link("not-a-context")])  # type: ignore[arg-type]
    with caplog.at_level(logging.WARNING):
        with pytest.raises(AttributeError):
            encode_spans([span])  # what the stock encode_spans raises, after fastlinks' own attempt
        with Receiver() as receiver:
            assert OTLPSpanExporter(endpoint=receiver.endpoint, timeout=5).export([span]) == SpanExportResult.FAILURE
    assert not receiver.requests


def test_a_non_context_link_does_not_crash_the_process():
    """It used to be a segfault (SIGSEGV, exit 139): run it where a crash cannot take pytest down."""
    _exporters()
    code = textwrap.dedent(
        """
        from opentelemetry.sdk.trace import ReadableSpan
        from opentelemetry.trace import Link, SpanContext
        from fastlinks import _kernels
        from fastlinks.otlp._encoder import _encode_attribute, encode_spans
        spans = [ReadableSpan("s", SpanContext(1, 2, False), links=[Link("not-a-context")])]
        for odd in ("not-a-context", None, 5, (1, 2, 3), object()):
            for fast in (True, False):
                try:
                    _kernels.wire.encode_links([Link(odd)], _encode_attribute, fast, fast)
                except Exception:
                    pass
        try:
            encode_spans(spans)
        except Exception as error:
            print("raised", type(error).__name__)
        """
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "raised AttributeError" in done.stdout


# ---------------------------------------------------------------- links added after start


@pytest.mark.skipif(not compat.ON_ENDING, reason="SDK without SpanProcessor._on_ending (before 1.40)")
def test_links_added_after_start_are_compacted_at_ending(impl, monkeypatch):
    """aiokafka's getmany instrumentation adds a link per message to a span already started."""
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "100000")  # the SDK's cap lifted, as the README advises
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(LinkProcessor(LinkPolicy(max_links=128)))
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    span = provider.get_tracer("t").start_span("getmany", links=[Link(ctx(0))])
    for i in range(460):
        span.add_link(ctx(i % 300, flags=1 if i % 3 == 0 else 0))  # 300 producers, 160 re-deliveries
    span.add_link(SpanContext(0, 0, False), {"a": 1})  # invalid with attributes: the SDK keeps it
    span.end()
    (finished,) = exporter.get_finished_spans()
    assert len(finished.links) == 128
    assert finished.dropped_links == 462 - 128  # 161 duplicates, 1 invalid, 172 over the cap
    assert len({(lk.context.trace_id, lk.context.span_id) for lk in finished.links}) == 128
    assert sum(lk.context.trace_flags.sampled for lk in finished.links) == 100  # every sampled producer kept


def test_spans_without_added_links_are_left_at_ending(impl):
    span = _run(lambda: [Link(ctx(1)), Link(ctx(2))], fastlinks=True)
    assert [lk.context for lk in span.links] == [ctx(1), ctx(2), ctx(50)] and span.dropped_links == 0


# ---------------------------------------------------------------- str and bytes subclasses


class Text(str):
    pass


class Raw(bytes):
    pass


def test_str_and_bytes_subclasses_parse_alike_in_both_kernels(both):
    carriers = [
        {np.str_("traceparent"): np.str_(VALID_TP), "tracestate": np.str_("k=v")},
        [(Text("traceparent"), Text(VALID_TP)), (Raw(b"tracestate"), Raw(b"a=1")), ("tracestate", Text("b=2"))],
        {Raw(b"TraceParent"): Raw(VALID_TP.encode())},
    ]
    compiled, pure = (kernels.parse_carriers(carriers) for kernels in both)
    assert all((a == b).all() for a, b in zip(compiled[:4], pure[:4], strict=True))
    assert compiled[4] == pure[4] == ["k=v", "a=1,b=2", None]
    assert all(type(s) is str for s in compiled[4] if s is not None)
    assert all(type(s) is str for s in pure[4] if s is not None)
    states = [np.str_("k=v"), Raw(b"a=1")]
    compiled, pure = (kernels.parse_traceparents([Text(VALID_TP), VALID_TP], states) for kernels in both)
    assert compiled[4] == pure[4] == ["k=v", b"a=1"]  # raw, but exact: a subclass is copied
    assert [type(s) for s in compiled[4]] == [type(s) for s in pure[4]] == [str, bytes]


# ---------------------------------------------------------------- the processor's scan, both kernels


def _scan_inputs():
    stats = LinkSet.from_traceparents([VALID_TP] * 3).compact().stats
    from fastlinks.linkset import LinkSetLink

    from_set = LinkSetLink(ctx(1))
    from_set._stats = stats
    return {
        "plain distinct": [Link(ctx(i)) for i in range(5)],
        "a repeat": [Link(ctx(1)), Link(ctx(2)), Link(ctx(1))],
        "over the cap": [Link(ctx(i)) for i in range(40)],
        "many distinct": [Link(ctx(i)) for i in range(33)],
        "invalid": [Link(SpanContext(0, 1, False), {"a": 1})],
        "numpy IDs": [Link(SpanContext(np.uint64(1), np.uint64(2), False))],
        "duck": [Link(DuckContext(1))],
        "subclass": [RenamedLink(ctx(1))],
        "from a LinkSet": [from_set, from_set],
        "mixed": [from_set, Link(ctx(2))],
        "same span ID, other trace": [Link(SpanContext(1, 5, False)), Link(SpanContext(2**64 + 1, 5, False))],
    }


@pytest.mark.parametrize("name", list(_scan_inputs()))
@pytest.mark.parametrize("dedupe", [True, False])
def test_the_scan_kernels_agree(both, name, dedupe):
    from fastlinks.linkset import LinkSetLink
    from fastlinks.policy import CompactionStats

    items = _scan_inputs()[name]
    compiled, pure = (k.scan_links(items, 32, dedupe, LinkSetLink, CompactionStats, True) for k in both)
    assert compiled == pure
