"""OTLP/gRPC export with fastlinks' link encoding (needs opentelemetry-exporter-otlp-proto-grpc)."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as _stock_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan

from . import encode_spans

__all__ = ["OTLPSpanExporter"]


class OTLPSpanExporter(_stock_grpc.OTLPSpanExporter):
    """Drop-in for `opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter`."""

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        return encode_spans(data)
