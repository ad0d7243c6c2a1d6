"""Scenario 2, message queue: a producer injects `traceparent`/`tracestate` into message headers;
consumers link their spans to the producer's, one message at a time or a whole batch at once.

With confluent-kafka installed (the `kafka` extra) the messages travel over the real Kafka
protocol, through librdkafka's built-in mock cluster on 127.0.0.1 (no server needed), and the
batch consumer hands fastlinks the client's `Message` objects as delivered; otherwise they go
through an in-memory queue."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from _common import main, tracer_for
from opentelemetry import trace
from opentelemetry.propagate import extract, inject
from opentelemetry.sdk.trace.export import SpanExporter
from opentelemetry.trace import Link, SpanKind, TraceFlags, TraceState

import fastlinks
from fastlinks import linktypes


@dataclass(frozen=True)
class Message:
    """A message of the in-memory queue: like a client's, it has `headers` (fastlinks reads those)."""

    key: str
    headers: dict[str, str]


class MemoryQueue:
    """Messages in a list."""

    name = "in-memory queue"

    def __init__(self) -> None:
        self._messages: list[Message] = []

    def send(self, key: str, headers: dict[str, str]) -> None:
        self._messages.append(Message(key, headers))

    def receive(self) -> list[Any]:
        return list(self._messages)

    @staticmethod
    def key(message: Any) -> Any:
        return message.key

    @staticmethod
    def headers(message: Any) -> dict[str, str]:
        return message.headers


class KafkaQueue:
    """confluent-kafka's Producer and Consumer on librdkafka's mock cluster (it lives as long as
    the producer); the consumer reads the whole topic with `consume(num_messages=...)`."""

    name = "Kafka (librdkafka mock cluster)"
    topic = "orders"

    def __init__(self, kafka: Any) -> None:
        self._kafka = kafka
        self._sent = 0
        # log_level 4: without librdkafka's notice that the mock cluster replaced bootstrap.servers
        self._producer = kafka.Producer({"bootstrap.servers": "", "test.mock.num.brokers": 1, "log_level": 4})
        broker = next(iter(self._producer.list_topics(timeout=10).brokers.values()))  # the mock's address
        self._bootstrap = f"{broker.host}:{broker.port}"

    def send(self, key: str, headers: dict[str, str]) -> None:
        pairs = [(name, value.encode()) for name, value in headers.items()]  # Kafka headers: (str, bytes)
        self._producer.produce(self.topic, key=key.encode(), value=b"{}", headers=pairs, partition=0)
        self._sent += 1

    def receive(self) -> list[Any]:
        self._producer.flush(30)
        kafka = self._kafka
        consumer = kafka.Consumer({"bootstrap.servers": self._bootstrap, "group.id": "examples"})
        consumer.assign([kafka.TopicPartition(self.topic, 0, kafka.OFFSET_BEGINNING)])
        messages: list[Any] = []
        deadline = time.monotonic() + 30
        try:
            while len(messages) < self._sent and time.monotonic() < deadline:
                messages += [m for m in consumer.consume(num_messages=self._sent, timeout=1.0) if m.error() is None]
        finally:
            consumer.close()
        return messages

    @staticmethod
    def key(message: Any) -> Any:
        return message.key()  # bytes: fastlinks decodes per-row bytes as UTF-8

    @staticmethod
    def headers(message: Any) -> dict[str, str]:
        return {name: value.decode() for name, value in message.headers() or ()}


def make_queue() -> MemoryQueue | KafkaQueue:
    """Kafka over librdkafka's mock cluster when confluent-kafka is installed, else in memory."""
    try:
        import confluent_kafka
    except ImportError:
        return MemoryQueue()
    return KafkaQueue(confluent_kafka)


def run(exporter: SpanExporter, queue: MemoryQueue | KafkaQueue | None = None) -> None:
    tracer = tracer_for(exporter, "examples.queue")
    queue = queue if queue is not None else make_queue()
    print(f"messages travel over: {queue.name}")

    # The producer's trace carries vendor state in its tracestate; both travel in the headers.
    upstream = trace.SpanContext(0x5A5A, 0x77, True, TraceFlags(TraceFlags.SAMPLED), TraceState([("vendor", "blue")]))
    with tracer.start_as_current_span(
        "publish orders", context=trace.set_span_in_context(trace.NonRecordingSpan(upstream))
    ):
        for i in range(3):
            with tracer.start_as_current_span(f"send m{i}", kind=SpanKind.PRODUCER):
                headers: dict[str, str] = {}
                inject(headers)  # traceparent and tracestate of the "send" span
                queue.send(f"m{i}", headers)
    messages = queue.receive()

    # Several consumers, each with a span of its own linked to the producer.
    for name in ("billing", "shipping"):
        for message in messages:
            producer = trace.get_current_span(extract(queue.headers(message))).get_span_context()
            link = Link(producer, {linktypes.LINK_TYPE: linktypes.FOLLOWS_FROM, "messaging.operation": "process"})
            with tracer.start_as_current_span(f"{name} process", kind=SpanKind.CONSUMER, links=[link]):
                pass

    # A batch consumer: one span for the whole batch, linked to every producer it saw; fastlinks
    # reads the messages as the client delivered them.
    with fastlinks.start_as_current_batch_span(
        tracer,
        "analytics process batch",
        messages,
        kind=SpanKind.CONSUMER,
        link_attributes={
            linktypes.LINK_TYPE: linktypes.BATCH_ITEM,
            "messaging.operation": "process",
            "messaging.message.id": fastlinks.PerRow([queue.key(m) for m in messages]),
        },
    ):
        pass


if __name__ == "__main__":
    main(run)
