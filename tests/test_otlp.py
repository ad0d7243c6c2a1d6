"""fastlinks.otlp end to end: the real exporter against OTLP receivers started on 127.0.0.1."""

from __future__ import annotations

import socket
from concurrent import futures

import numpy as np
import pytest
from _receiver import Receiver
from opentelemetry.exporter.otlp.proto.common.trace_encoder import encode_spans as stock_encode_spans
from opentelemetry.exporter.otlp.proto.http import Compression
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExportResult
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, TraceFlags, TraceState

from fastlinks import LinkPolicy, LinkProcessor, LinkSet, PerRow
from fastlinks.otlp import OTLPSpanExporter, encode_spans


def finished_spans(candidates: int, seed: int = 0) -> list:
    """Spans as the SDK hands them to exporters: one from a compacted LinkSet of `candidates`
    headers (sampled and unsampled, with tracestates, attributes and a per-link attribute cap),
    one with plain Links, and one with none."""
    rng = np.random.default_rng(seed)
    carriers = []
    for i in range(candidates):
        flags = ("00", "01", "03")[i % 3]
        headers = {"traceparent": f"00-{rng.bytes(16).hex()}-{rng.bytes(8).hex()}-{flags}"}
        if i % 4 == 0:
            headers["tracestate"] = f"vendor=v{i},other@tenant=x"
        carriers.append(headers)
    exporter = InMemorySpanExporter()
    provider = TracerProvider(resource=Resource.create({"service.name": "otlp-test"}))
    provider.add_span_processor(LinkProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = provider.get_tracer("fastlinks.test", "1.0")
    links = LinkSet.from_carriers(
        carriers,
        attributes={
            "link.type": "batch_item",
            "item.index": PerRow(range(candidates)),
            "score": PerRow([i / 3 for i in range(candidates)]),
            "ok": PerRow([i % 2 == 0 for i in range(candidates)]),
            "tags": PerRow([("a", "b")] * candidates),
            "unicode": PerRow(["é" * (i % 3) for i in range(candidates)]),
        },
    ).compact(LinkPolicy(max_attributes_per_link=5))
    tracer.start_span("batch", links=links, attributes={"n": candidates}).end()
    plain = [
        Link(SpanContext(i + 1, i + 1, i % 2 == 0, TraceFlags(i % 2), TraceState([("k", str(i))])), {"i": i})
        for i in range(min(candidates, 3))
    ]
    tracer.start_span("plain", links=plain).end()
    tracer.start_span("none").end()
    return list(exporter.get_finished_spans())


def without_links(request: ExportTraceServiceRequest) -> ExportTraceServiceRequest:
    copy = ExportTraceServiceRequest()
    copy.CopyFrom(request)
    for resource_spans in copy.resource_spans:
        for scope_spans in resource_spans.scope_spans:
            for span in scope_spans.spans:
                span.ClearField("links")
    return copy


def check_request(request: ExportTraceServiceRequest, spans) -> None:
    stock = stock_encode_spans(spans)
    assert without_links(request).SerializeToString() == without_links(stock).SerializeToString()
    encoded = [s for rs in request.resource_spans for ss in rs.scope_spans for s in ss.spans]
    stock_spans = [s for rs in stock.resource_spans for ss in rs.scope_spans for s in ss.spans]
    groups: dict = {}  # the encoders' order: grouped by resource, then scope, in order of appearance
    for span in spans:
        groups.setdefault(span.resource, {}).setdefault(span.instrumentation_scope, []).append(span)
    ordered = [span for scopes in groups.values() for group in scopes.values() for span in group]
    for pb, stock_pb, span in zip(encoded, stock_spans, ordered, strict=True):
        assert pb.dropped_links_count == span.dropped_links
        assert len(pb.links) == len(span.links)
        for got, stock_link, link in zip(pb.links, stock_pb.links, span.links, strict=True):
            ctx = link.context
            assert got.trace_id == ctx.trace_id.to_bytes(16, "big")
            assert got.span_id == ctx.span_id.to_bytes(8, "big")
            assert got.flags == int(ctx.trace_flags) | 0x100 | (0x200 if ctx.is_remote else 0)
            assert got.trace_state == ctx.trace_state.to_header()
            assert list(got.attributes) == list(stock_link.attributes)
            assert got.dropped_attributes_count == link.dropped_attributes == stock_link.dropped_attributes_count
            assert stock_link.flags & 0xFF == 0 and stock_link.trace_state == "", "the stock encoder loses both"


@pytest.mark.parametrize("candidates", [0, 1, 128, 1000])
def test_exporter_end_to_end(impl, candidates):
    spans = finished_spans(candidates)
    with Receiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    (request,) = receiver.decoded()
    check_request(request, spans)
    batch = spans[0]
    assert len(batch.links) == min(candidates, 128)
    assert batch.dropped_links == max(candidates - 128, 0)
    if candidates:
        assert all(link.dropped_attributes == 1 for link in batch.links), "6 attributes over a cap of 5"
    if candidates >= 128:
        assert any(link.context.trace_state for link in batch.links)
        assert any(not link.context.trace_flags.sampled for link in batch.links) == (candidates == 128)


def test_encoders_agree_across_implementations(both):
    compiled, pure = both
    from fastlinks.otlp._encoder import _encode_attribute

    for span in finished_spans(300, seed=5):
        assert compiled.encode_links(span.links, _encode_attribute, True, True) == pure.encode_links(
            span.links, _encode_attribute, True, True
        )


def test_attribute_values_of_every_kind_encode_like_the_stock_encoder(impl):
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    ctx = SpanContext(1, 2, False, TraceFlags(1))
    values = {
        "s": "text é",
        "empty": "",
        "t": True,
        "f": False,
        "zero": 0,
        "big": 2**63 - 1,
        "neg": -(2**63),
        "pi": 3.14,
        "nan": float("nan"),
        "bytes": b"\x00\xff",
        "floats": [1.5, 2.5],
        "strs": ("a", "b"),
    }
    provider.get_tracer("t").start_span("odd", links=[Link(ctx, values)]).end()
    spans = exporter.get_finished_spans()
    ours = encode_spans(spans).resource_spans[0].scope_spans[0].spans[0].links[0]
    stock = stock_encode_spans(spans).resource_spans[0].scope_spans[0].spans[0].links[0]
    assert len(ours.attributes) == len(values)
    assert [a.SerializeToString() for a in ours.attributes] == [a.SerializeToString() for a in stock.attributes]
    assert ours.flags == 0x101


def test_links_outside_the_sdk_empty_keys_and_plain_mappings(impl):
    from opentelemetry.exporter.otlp.proto.common._internal import _encode_attributes
    from opentelemetry.proto.trace.v1.trace_pb2 import Span as PB2Span

    from fastlinks.otlp._encoder import _encode_attribute

    attributes = {"": "no key", "k": 1, 5: "non-str key"}
    raw = impl.encode_links([Link(SpanContext(3, 4, True, TraceFlags(3)), attributes)], _encode_attribute, True, True)
    (link,) = PB2Span.FromString(raw).links
    assert [a.SerializeToString() for a in link.attributes] == [
        a.SerializeToString() for a in _encode_attributes(attributes)
    ]
    assert link.flags == 0x303


def test_spans_of_several_resources_and_scopes_group_like_the_stock_encoder(impl):
    exporter = InMemorySpanExporter()
    spans = []
    for service in ("a", "b"):
        provider = TracerProvider(resource=Resource.create({"service.name": service}))
        provider.add_span_processor(SimpleSpanProcessor(exporter))
        for scope in ("s1", "s2"):
            tracer = provider.get_tracer(scope)
            ctx = SpanContext(7, 8, True, TraceFlags(1))
            tracer.start_span(f"{service}-{scope}", links=[Link(ctx)]).end()
    spans = list(exporter.get_finished_spans())
    spans = spans[::-1] + spans  # interleaved, repeated
    request = encode_spans(spans)
    assert len(request.resource_spans) == 2 and len(request.resource_spans[0].scope_spans) == 2
    check_request(request, spans)


def test_gzip(impl):
    spans = finished_spans(128)
    with Receiver() as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint, compression=Compression.Gzip)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    headers, _ = receiver.requests[0]
    assert headers["Content-Encoding"] == "gzip"
    check_request(receiver.decoded()[0], spans)


def test_environment_variables_configure_it(impl, monkeypatch):
    spans = finished_spans(1)
    with Receiver() as receiver:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint)
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS", "x-tenant=acme")
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_TRACES_COMPRESSION", "gzip")
        assert OTLPSpanExporter().export(spans) == SpanExportResult.SUCCESS
    headers, _ = receiver.requests[0]
    assert headers["x-tenant"] == "acme" and headers["Content-Encoding"] == "gzip"


def test_retries_503_then_succeeds(impl):
    spans = finished_spans(10)
    with Receiver(statuses=[503, 200]) as receiver:
        exporter = OTLPSpanExporter(endpoint=receiver.endpoint, timeout=10)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
    assert len(receiver.requests) == 2
    first, second = receiver.decoded()
    assert first == second


def test_receiver_down_fails_quietly(impl):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # nothing listens here once the socket closes
    exporter = OTLPSpanExporter(endpoint=f"http://127.0.0.1:{port}/v1/traces", timeout=0.5)
    assert exporter.export(finished_spans(5)) == SpanExportResult.FAILURE
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("app").start_span("still fine").end()  # nothing raises in the application


def test_grpc_exporter(impl):
    grpc = pytest.importorskip("grpc")
    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc")
    from opentelemetry.proto.collector.trace.v1 import trace_service_pb2_grpc

    from fastlinks.otlp.grpc import OTLPSpanExporter as GrpcExporter

    received = []

    class Service(trace_service_pb2_grpc.TraceServiceServicer):
        def Export(self, request, context):
            received.append(request)
            return ExportTraceServiceResponse()

    server = grpc.server(futures.ThreadPoolExecutor(max_workers=2))
    trace_service_pb2_grpc.add_TraceServiceServicer_to_server(Service(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    try:
        spans = finished_spans(128)
        exporter = GrpcExporter(endpoint=f"127.0.0.1:{port}", insecure=True, timeout=10)
        assert exporter.export(spans) == SpanExportResult.SUCCESS
        exporter.shutdown()
    finally:
        server.stop(None)
    check_request(received[0], spans)


def test_the_grpc_exporter_does_not_import_the_http_one():
    """`pip install "fastlinks[grpc]"` alone must be enough: nothing HTTP is imported on the way."""
    import subprocess
    import sys

    pytest.importorskip("opentelemetry.exporter.otlp.proto.grpc", reason="the grpc extra is not installed")

    code = (
        "import sys, fastlinks.otlp.grpc\n"
        "assert 'opentelemetry.exporter.otlp.proto.http' not in sys.modules, 'HTTP exporter imported'\n"
        "import fastlinks.otlp\n"
        "assert 'opentelemetry.exporter.otlp.proto.http' not in sys.modules, 'HTTP exporter imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
