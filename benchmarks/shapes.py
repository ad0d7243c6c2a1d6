"""Ingest of messages in the shapes clients deliver them. A is what their OpenTelemetry
instrumentations do per message, with the format's own propagator as in the matrix (the global
one adds baggage): `extract` with a getter over that shape, and one `Link` each.

- dict: a header dict (the matrix's W3C cell), read by the default getter;
- Kafka: confluent-kafka's `headers()`, a list of (str, bytes) pairs, read as the confluent-kafka
  instrumentation's getter reads it (a scan of the pairs for each name, the value decoded);
- SQS: whole messages as boto3's `receive_message` returns them, the trace context in
  `MessageAttributes` as {"StringValue": ..., "DataType": "String"}, read as the botocore SQS
  extension's getter reads it;
- getter: a message type fastlinks does not read itself (shaped as google-cloud-pubsub delivers,
  the context in `message.attributes`), read through the application's `Getter` by both.

W3C traceparent and a per-trace tracestate on every message; 20% re-deliveries, 5% malformed,
half sampled, cap 128; one shared attribute. E hands the same carriers to `from_carriers`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from matrix import SYSTEM
from matrix import carriers as matrix_carriers
from opentelemetry import trace
from opentelemetry.propagators.textmap import Getter
from opentelemetry.trace import Link
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fastlinks import LinkPolicy, LinkSet

SHAPES = ("dict", "kafka", "sqs", "getter")
SHAPES_SIZE = 2000
PROPAGATOR = TraceContextTextMapPropagator()


def stage(shape: str) -> str:
    """The stage name of one shape, e.g. "client shapes kafka"."""
    return f"client shapes {shape}"


class _PairsGetter(Getter[list[tuple[str, bytes]]]):
    """A list of (name, bytes) pairs: each name's first value, decoded."""

    def get(self, carrier: list[tuple[str, bytes]], key: str) -> list[str] | None:
        for name, value in carrier:
            if name == key and value is not None:
                return [value.decode()]
        return None

    def keys(self, carrier: list[tuple[str, bytes]]) -> list[str]:
        return [name for name, _ in carrier]


class _SqsGetter(Getter[dict[str, Any]]):
    """SQS message attributes: each name's StringValue."""

    def get(self, carrier: dict[str, Any], key: str) -> list[str] | None:
        attribute = carrier.get(key)
        value = attribute.get("StringValue") if attribute is not None else None
        return [value] if value is not None else None

    def keys(self, carrier: dict[str, Any]) -> list[str]:
        return list(carrier)


class _Message:
    """A message's payload and attributes, as google-cloud-pubsub's `ReceivedMessage.message`."""

    __slots__ = ("attributes", "data")

    def __init__(self, attributes: dict[str, str]) -> None:
        self.data = b"{}"
        self.attributes = attributes


class _Received:
    """A received message, as google-cloud-pubsub's `ReceivedMessage`: an ack ID and the message."""

    __slots__ = ("ack_id", "message")

    def __init__(self, attributes: dict[str, str]) -> None:
        self.ack_id = "a"
        self.message = _Message(attributes)


class _ReceivedGetter(Getter[_Received]):
    """The application's getter for its message type: a name's attribute value."""

    def get(self, carrier: _Received, key: str) -> list[str] | None:
        value = carrier.message.attributes.get(key)
        return [value] if value is not None else None

    def keys(self, carrier: _Received) -> list[str]:
        return list(carrier.message.attributes)


GETTERS: dict[str, Getter[Any]] = {"kafka": _PairsGetter(), "sqs": _SqsGetter(), "getter": _ReceivedGetter()}
"""Each shape's getter, as its instrumentation (or, for "getter", the application) reads it."""


def messages(shape: str, n: int) -> list[Any]:
    """n messages in `shape`: the matrix's own dicts, or Kafka, SQS and Pub/Sub-shaped messages with
    header names of their own in each, as a client decodes them."""
    out: list[Any] = []
    for headers in matrix_carriers(n, "tracecontext", True):
        if shape == "dict":
            out.append(headers)
        elif shape == "getter":
            out.append(_Received({name.encode().decode(): value for name, value in headers.items()}))
        elif shape == "kafka":
            out.append([(name.encode().decode(), value.encode()) for name, value in headers.items()])
        else:
            attributes = {
                name.encode().decode(): {"StringValue": value, "DataType": "String"} for name, value in headers.items()
            }
            out.append({"MessageId": "m", "ReceiptHandle": "r", "Body": "{}", "MessageAttributes": attributes})
    return out


def build(shape: str, contender: str, n: int) -> Callable[[], Any]:
    batch = messages(shape, n)
    if contender == "A":
        getter = GETTERS.get(shape)
        carriers = [m["MessageAttributes"] for m in batch] if shape == "sqs" else batch

        def propagator_links() -> list[Link]:
            links = []
            for carrier in carriers:
                context = PROPAGATOR.extract(carrier, getter=getter) if getter else PROPAGATOR.extract(carrier)
                span_context = trace.get_current_span(context).get_span_context()
                if span_context.is_valid:
                    links.append(Link(span_context, SYSTEM))
            return links

        return propagator_links
    policy = LinkPolicy()
    own = GETTERS["getter"] if shape == "getter" else None  # the one shape fastlinks reads through a getter

    def fastlinks_links() -> list[Link]:
        return list(LinkSet.from_carriers(batch, SYSTEM, formats=("tracecontext",), getter=own).compact(policy))

    return fastlinks_links
