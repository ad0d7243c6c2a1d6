"""A real Kafka protocol path: librdkafka's built-in mock cluster (``"test.mock.num.brokers": 1``,
listening on 127.0.0.1), the real confluent-kafka producer and consumer and aiokafka's `getmany`,
contexts injected by the real W3C and B3 propagators. The batch span's links and counts must
match the producers' spans."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest
from opentelemetry import trace
from opentelemetry.propagators.b3 import B3MultiFormat
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import Setter
from opentelemetry.sdk.trace import SpanLimits, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fastlinks import LinkPolicy, LinkSet, start_batch_span

kafka = pytest.importorskip("confluent_kafka", reason="the kafka extra: pip install 'fastlinks[kafka]'")

TOPIC = "orders"
MESSAGES = 400  # produced once each, then some re-delivered, some forwarded, some malformed
FORMATS = ["tracecontext", "b3multi"]


class _PairSetter(Setter[list]):
    """Kafka headers are (str, bytes) pairs; the propagators write str."""

    def set(self, carrier: list, key: str, value: str) -> None:
        carrier.append((key, value.encode()))


@pytest.fixture(scope="module")
def cluster() -> Any:
    """The producers' expected contexts, the bootstrap address of the mock cluster, and its producer
    (which owns the cluster: it lives as long as the producer)."""
    producer = kafka.Producer({"bootstrap.servers": "", "test.mock.num.brokers": 1, "log_level": 4})
    broker = next(iter(producer.list_topics(timeout=10).brokers.values()))  # the mock cluster's address
    exporter = InMemorySpanExporter()
    provider = TracerProvider(sampler=ParentBased(TraceIdRatioBased(0.5)), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("producer")
    w3c, b3 = TraceContextTextMapPropagator(), B3MultiFormat()
    expected = []  # the distinct valid contexts a consumer should link to
    sent: list[list[tuple[str, bytes]]] = []
    for i in range(MESSAGES):
        with tracer.start_as_current_span(f"send {i}", kind=trace.SpanKind.PRODUCER) as span:
            headers: list[tuple[str, bytes]] = [("message-id", str(i).encode())]
            (w3c if i % 2 == 0 else b3).inject(headers, setter=_PairSetter())
            if i % 10 == 4:  # consumed and re-produced by an instrumented service: a second traceparent, newer
                with tracer.start_as_current_span(f"forward {i}", kind=trace.SpanKind.PRODUCER) as hop:
                    w3c.inject(headers, setter=_PairSetter())
                    span = hop
            expected.append(span.get_span_context())
        sent.append(headers)
    malformed = [[("traceparent", b"00-not-a-context-01")], [("x-b3-traceid", b"zz"), ("x-b3-spanid", b"1" * 16)]]
    redelivered = sent[:40:4]
    for headers in sent + redelivered + malformed:
        producer.produce(TOPIC, value=b"{}", headers=headers, partition=0)
    assert producer.flush(30) == 0
    total = len(sent) + len(redelivered) + len(malformed)
    yield {
        "bootstrap": f"{broker.host}:{broker.port}",
        "expected": expected,
        "total": total,
        "duplicates": len(redelivered),
        "invalid": len(malformed),
        "sampled": sum(c.trace_flags.sampled for c in expected),
    }
    del producer


def _consume_all(bootstrap: str, total: int) -> list[Any]:
    """confluent-kafka's batch call, `consume(num_messages=...)`, until every message has arrived."""
    consumer = kafka.Consumer(
        {"bootstrap.servers": bootstrap, "group.id": "fastlinks-test", "enable.auto.commit": False}
    )
    consumer.assign([kafka.TopicPartition(TOPIC, 0, kafka.OFFSET_BEGINNING)])
    messages: list[Any] = []
    deadline = time.monotonic() + 60
    try:
        while len(messages) < total and time.monotonic() < deadline:
            messages += [m for m in consumer.consume(num_messages=total, timeout=1.0) if m.error() is None]
    finally:
        consumer.close()
    assert len(messages) == total
    return messages


def _contexts(links) -> list[tuple[int, int, bool]]:
    return _expected(link.context for link in links)


def _expected(contexts) -> list[tuple[int, int, bool]]:
    """IDs and the sampled flag (B3 carries no other flag bit, W3C carries the SDK's random-ID bit too)."""
    return sorted((c.trace_id, c.span_id, c.trace_flags.sampled) for c in contexts)


def _batch_tracer() -> tuple[trace.Tracer, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider(span_limits=SpanLimits(max_links=10_000), shutdown_on_exit=False)
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider.get_tracer("consumer"), exporter


def test_confluent_kafka_batch_links_every_producer(impl, cluster):
    messages = _consume_all(cluster["bootstrap"], cluster["total"])
    tracer, exporter = _batch_tracer()
    policy = LinkPolicy(max_links=10_000)
    start_batch_span(tracer, "process orders", messages, policy, formats=FORMATS).end()
    (span,) = exporter.get_finished_spans()
    assert _contexts(span.links) == _expected(cluster["expected"])
    attributes = span.attributes
    assert attributes["messaging.batch.message_count"] == cluster["total"]
    assert attributes["fastlinks.links.invalid"] == cluster["invalid"]
    assert attributes["fastlinks.links.duplicates"] == cluster["duplicates"]
    assert attributes["fastlinks.links.kept"] == MESSAGES


def test_the_default_cap_keeps_sampled_producers_first(impl, cluster):
    messages = _consume_all(cluster["bootstrap"], cluster["total"])
    links = LinkSet.from_carriers(messages, formats=FORMATS).compact(LinkPolicy(max_links=128))
    stats = links.stats
    assert stats.input == stats.invalid + stats.duplicates + stats.over_limit + stats.kept == cluster["total"]
    assert stats.kept == 128 and cluster["sampled"] >= 128
    assert all(link.context.trace_flags.sampled for link in links)


def test_the_global_propagator_chooses_the_formats(impl, cluster):
    from opentelemetry import propagate

    saved = propagate.get_global_textmap()
    propagate.set_global_textmap(CompositePropagator([TraceContextTextMapPropagator(), B3MultiFormat()]))
    try:
        links = LinkSet.from_carriers(_consume_all(cluster["bootstrap"], cluster["total"]))
    finally:
        propagate.set_global_textmap(saved)
    compacted = links.compact(LinkPolicy(max_links=10_000))
    assert _contexts(compacted) == _expected(cluster["expected"])


def test_aiokafka_getmany_gives_the_same_links(impl, cluster):
    aiokafka = pytest.importorskip("aiokafka")

    async def consume() -> list[Any]:
        consumer = aiokafka.AIOKafkaConsumer(
            TOPIC, bootstrap_servers=cluster["bootstrap"], auto_offset_reset="earliest", enable_auto_commit=False
        )
        await consumer.start()
        records: list[Any] = []
        try:
            deadline = time.monotonic() + 60
            while len(records) < cluster["total"] and time.monotonic() < deadline:
                batches = await consumer.getmany(timeout_ms=1000, max_records=cluster["total"])
                for batch in batches.values():
                    records += batch
        finally:
            await consumer.stop()
        return records

    records = asyncio.run(consume())
    assert len(records) == cluster["total"]
    links = LinkSet.from_carriers(records, formats=FORMATS).compact(LinkPolicy(max_links=10_000))
    assert _contexts(links) == _expected(cluster["expected"])
    assert (links.stats.invalid, links.stats.duplicates) == (cluster["invalid"], cluster["duplicates"])
