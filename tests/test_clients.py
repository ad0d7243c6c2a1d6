"""Carriers as clients deliver them: message objects with `headers` (confluent-kafka, aiokafka,
kafka-python, pika, aio-pika), boto3's SQS resource messages, built with the real libraries where
they are installed, and SQS/SNS message attributes, read in the parse kernel; each gives the links
the same headers give as a plain mapping."""

from __future__ import annotations

import collections

import numpy as np
import pytest

from fastlinks import LinkSet, PerRow

TP = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
TP2 = "00-1af7651916cd43dd8448eb211c80319c-c7ad6b7169203331-00"


def columns(ls: LinkSet) -> tuple:
    """The ID columns and each row's trace state as text (a client's bytes header stays bytes, raw)."""
    states = [s.decode("latin-1") if isinstance(s, bytes) else s for s in ls.trace_states or []]
    return ls.trace_ids.tobytes(), ls.span_ids.tobytes(), ls.trace_flags.tobytes(), states


def plain() -> LinkSet:
    return LinkSet.from_carriers([{"traceparent": TP, "tracestate": "k=v"}, {"traceparent": TP2}, None])


def test_confluent_kafka_messages(impl):
    kafka = pytest.importorskip("confluent_kafka")
    messages = [
        kafka.Message(topic="t", headers=[("traceparent", TP.encode()), ("tracestate", b"k=v")], key=b"m0"),
        kafka.Message(topic="t", headers=[("traceparent", TP2.encode())], key=b"m1"),
        kafka.Message(topic="t", key=b"m2"),  # no headers: headers() is None
    ]
    ls = LinkSet.from_carriers(messages, {"messaging.message.id": PerRow([m.key() for m in messages])})
    assert columns(ls) == columns(plain())
    assert ls.trace_states == [b"k=v", None, None]  # kept as the client's bytes: only kept rows decode it
    assert [lk.context.trace_state.to_header() for lk in ls] == ["k=v", "", ""]
    assert [lk.attributes["messaging.message.id"] for lk in ls] == ["m0", "m1", "m2"]  # keys arrive as bytes


def test_aiokafka_consumer_records(impl):
    structs = pytest.importorskip("aiokafka.structs")

    def record(headers):
        return structs.ConsumerRecord("t", 0, 0, 0, 0, b"k", b"v", None, 1, 1, headers)

    records = [record([("traceparent", TP.encode()), ("tracestate", b"k=v")]), record([("traceparent", TP2.encode())])]
    ls = LinkSet.from_carriers([*records, None])
    assert columns(ls) == columns(plain())


def test_pika_properties(impl):
    pika = pytest.importorskip("pika")
    props = [
        pika.BasicProperties(headers={"traceparent": TP, "tracestate": "k=v"}),
        pika.BasicProperties(headers={"traceparent": TP2}),
    ]
    assert columns(LinkSet.from_carriers([*props, pika.BasicProperties()])) == columns(plain())


def test_kafka_python_consumer_records(impl):
    fetcher = pytest.importorskip("kafka.consumer.fetcher")

    def record(headers):  # every field by name: kafka-python's record grew fields between releases
        fields = dict.fromkeys(fetcher.ConsumerRecord._fields)
        return fetcher.ConsumerRecord(**{**fields, "topic": "t", "headers": headers})

    records = [record([("traceparent", TP.encode()), ("tracestate", b"k=v")]), record([("traceparent", TP2.encode())])]
    assert columns(LinkSet.from_carriers([*records, record([])])) == columns(plain())


def test_aio_pika_incoming_messages(impl):
    """aio-pika's IncomingMessage around a content header that went through pamqp's AMQP frame
    codec, as aio-pika receives it (a table's strings come back as str, other headers as theirs)."""
    aio_pika = pytest.importorskip("aio_pika")
    from aiormq.abc import DeliveredMessage
    from pamqp import commands, frame, header

    def delivered(headers):
        wire = frame.marshal(header.ContentHeader(0, 0, commands.Basic.Properties(headers=headers)), 1)
        content = frame.unmarshal(wire)[2]
        deliver = commands.Basic.Deliver("consumer", 1, False, "exchange", "key")
        return aio_pika.IncomingMessage(DeliveredMessage(deliver, content, b"", None), no_ack=True)  # type: ignore[arg-type]

    headers = {"traceparent": TP, "tracestate": "k=v", "x-retries": 3, "x-raw": bytearray(b"\xff")}
    messages = [delivered(headers), delivered({"traceparent": TP2})]
    assert {k: type(v) for k, v in messages[0].headers.items()} == {k: type(v) for k, v in headers.items()}
    assert columns(LinkSet.from_carriers([*messages, delivered(None)])) == columns(plain())


def test_sqs_sns_and_lambda_attributes(impl):
    boto3 = {
        "traceparent": {"StringValue": TP, "DataType": "String"},
        "tracestate": {"StringValue": "k=v", "DataType": "String"},
    }
    lambda_event = {"traceparent": {"stringValue": TP2, "dataType": "String"}}
    sns = {"traceparent": {"Type": "String", "Value": TP}, "other": {"Type": "Number", "Value": "3"}}
    binary = {"traceparent": {"BinaryValue": TP2.encode(), "DataType": "Binary"}}
    ls = LinkSet.from_carriers([boto3, lambda_event, sns, binary, {"traceparent": {"DataType": "String"}}])
    assert ls.valid.tolist() == [True, True, True, True, False]
    assert ls.to_traceparents()[:4] == [TP, TP2, TP, TP2] and ls.trace_states[0] == "k=v"


XRAY = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1"


def test_whole_sqs_messages_as_boto3_and_lambda_deliver_them(impl):
    """`response["Messages"]` from boto3's receive_message and `event["Records"]` of a Lambda SQS
    event: the mappings under MessageAttributes and Attributes are the message's headers, so W3C
    context in a message attribute and X-Ray's AWSTraceHeader system attribute are both read."""
    boto3_messages = [
        {
            "MessageId": "m0",
            "Body": "{}",
            "Attributes": {"SentTimestamp": "1", "AWSTraceHeader": XRAY},
            "MessageAttributes": {"traceparent": {"StringValue": TP, "DataType": "String"}},
        },
        {"MessageId": "m1", "Body": "{}", "Attributes": {"AWSTraceHeader": XRAY}},
    ]
    lambda_records = [
        {
            "messageId": "m2",
            "attributes": {"AWSTraceHeader": XRAY},
            "messageAttributes": {"traceparent": {"stringValue": TP2, "dataType": "String"}},
        }
    ]
    records = boto3_messages + lambda_records
    w3c = LinkSet.from_carriers(records, formats=["tracecontext"])
    assert w3c.valid.tolist() == [True, False, True] and w3c.to_traceparents()[::2] == [TP, TP2]
    xray = LinkSet.from_carriers(records, formats=["xray"])
    assert xray.valid.all() and {link.context.span_id for link in xray} == {0x53995C3F42CD8AD8}
    both = LinkSet.from_carriers(records, formats=["xray", "tracecontext"])  # W3C, later, wins where present
    assert both.to_traceparents()[::2] == [TP, TP2] and both[1].context.trace_id == 0x5759E988BD862E3FE1BE46A994272793
    nested_twice = {"MessageAttributes": {"Attributes": {"traceparent": TP}}}  # one level deep only
    assert not LinkSet.from_carriers([nested_twice], formats=["tracecontext"]).valid[0]


def _string(value: str) -> dict[str, str]:
    """An SQS String message attribute as boto3 returns it."""
    return {"StringValue": value, "DataType": "String"}


def test_boto3_sqs_resource_messages(impl):
    """boto3's resource API (`queue.receive_messages()`) hands out Message objects, built here by
    boto3 itself from a ReceiveMessage response (botocore's Stubber, no network): each reads as the
    whole message it wraps, its message attributes and its AWSTraceHeader system attribute."""
    boto3 = pytest.importorskip("boto3")
    from botocore.stub import Stubber

    sqs = boto3.resource("sqs", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
    queue = sqs.Queue("https://sqs.us-east-1.amazonaws.com/123456789012/q")
    received = [
        {"MessageAttributes": {"traceparent": _string(TP), "tracestate": _string("k=v")}},
        {"MessageAttributes": {"traceparent": _string(TP2)}, "Attributes": {"AWSTraceHeader": XRAY}},
        {},
    ]
    response = {
        "Messages": [
            {"MessageId": f"m{i}", "ReceiptHandle": f"r{i}", "Body": "{}", **m} for i, m in enumerate(received)
        ]
    }
    with Stubber(sqs.meta.client) as stub:
        stub.add_response("receive_message", response)
        messages = queue.receive_messages(MessageAttributeNames=["All"])
    assert type(messages[0]).__name__ == "sqs.Message" and not hasattr(messages[0], "headers")
    assert columns(LinkSet.from_carriers(messages, formats=["tracecontext"])) == columns(plain())
    xray = LinkSet.from_carriers(messages, formats=["xray"])
    assert xray.valid.tolist() == [False, True, False] and xray[1].context.span_id == 0x53995C3F42CD8AD8


def test_an_object_without_headers_names_the_carrier(impl):
    with pytest.raises(TypeError, match=r"carriers\[1\]: .*a message with headers, got object \(.*getter=\)"):
        LinkSet.from_carriers([{"traceparent": TP}, object()])


def test_a_client_that_resizes_the_batch_while_it_is_read(impl):
    """A message's headers() is Python code that could shrink or grow the very list being read:
    the kernels read the batch as it was when called, as the pure twin does."""
    carriers: list = []

    class Message:
        def __init__(self, change):
            self.change = change

        def headers(self):
            self.change()
            return [("traceparent", TP)]

    carriers += [{"traceparent": TP}, Message(carriers.clear), {"traceparent": TP2}, None]
    assert LinkSet.from_carriers(carriers).valid.tolist() == [True, True, True, False]
    carriers += [Message(lambda: carriers.extend([None] * 100)), {"traceparent": TP2}]
    assert LinkSet.from_carriers(carriers).valid.tolist() == [True, True]


class _Key(str):
    """A str subclass as an attribute's key: asking a dict for a name could run its Python code."""


def test_sqs_shapes_read_alike_in_both_kernels(both):
    """SQS/SNS attribute dicts and whole messages in every shape the one-pass reader takes or
    hands on (value names in each order of precedence, None values, a non-str key, a header in
    both attribute maps or twice, nesting past one level), parsed by both kernels alike."""
    value_keys = [
        {"StringValue": TP, "DataType": "String"},
        {"stringValue": TP2, "StringValue": None, "Value": TP},
        {"Value": TP, "BinaryValue": TP2.encode(), "Type": "String"},
        {"BinaryValue": TP2.encode()},
        {"DataType": "String"},
        {"StringValue": 42},
        {_Key("StringValue"): TP},
        {"StringValue": b"\xff" + TP.encode()},
    ]
    carriers: list = []
    for attribute in value_keys:
        carriers += [
            {"traceparent": attribute, "tracestate": {"StringValue": "k=v"}},
            {"MessageId": "m", "MessageAttributes": {"traceparent": attribute}, "Attributes": {"SentTimestamp": "1"}},
            [("messageAttributes", {"traceparent": attribute, "other": None})],
        ]
    carriers += [
        {"MessageAttributes": {"traceparent": {"StringValue": TP}}, "Attributes": {"traceparent": TP2}},
        {"traceparent": TP, "MessageAttributes": {"traceparent": {"StringValue": TP2}}},
        {"MessageAttributes": {"Attributes": {"traceparent": TP}}},
        {"MessageAttributes": "not a mapping", "traceparent": TP},
        {"MessageAttributes": {"tracestate": {"StringValue": "a=1"}, "traceparent": {"StringValue": TP}}},
        {"traceparent": None, "tracestate": None},
    ]
    for formats in (["tracecontext"], ["tracecontext", "b3multi"], ["xray", "tracecontext"]):
        compiled, pure = (k.parse_carriers(carriers, formats) for k in both)
        assert all(np.array_equal(a, b) for a, b in zip(compiled[:4], pure[:4], strict=True)), formats
        assert compiled[4] == pure[4], formats
    assert LinkSet.from_carriers(carriers[:3]).valid.tolist() == [True, True, True]


def test_both_kernels_read_clients_alike(both):
    pika = pytest.importorskip("pika")
    carriers = [
        pika.BasicProperties(headers={"traceparent": TP, "TraceState": {"StringValue": "a=1"}}),
        {"traceparent": {"Value": TP2}},
        [("traceparent", {"stringValue": TP})],
    ]
    compiled, pure = (k.parse_carriers(carriers) for k in both)
    assert all(np.array_equal(a, b) for a, b in zip(compiled[:4], pure[:4], strict=True)) and compiled[4] == pure[4]
    assert compiled[4] == ["a=1", None, None]


class _Pairs(list):
    """A list subclass of header pairs, without `headers`: read as pairs."""


def test_a_tuple_with_headers_is_a_record_and_a_list_subclass_is_pairs(both):
    """A named tuple with `headers` (kafka-python's ConsumerRecord is one) is a message, read
    through its headers; a list or tuple subclass without is a sequence of pairs; both kernels."""
    record = collections.namedtuple("record", "topic headers")
    carriers = [record("t", [("traceparent", TP2.encode())]), _Pairs([("traceparent", TP)]), record("t", None)]
    compiled, pure = (k.parse_carriers(carriers) for k in both)
    assert all(np.array_equal(a, b) for a, b in zip(compiled[:4], pure[:4], strict=True)) and compiled[4] == pure[4]
    high = [int(TP2[3:19], 16), int(TP[3:19], 16), 0]  # a record without headers: an invalid row (zero IDs)
    assert compiled[0].view(">u8")[:, 0].tolist() == high
