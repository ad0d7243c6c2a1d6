"""OTLP/gRPC export with fastlinks' link encoding (the `grpc` extra: opentelemetry-exporter-otlp-proto-grpc).

Imports nothing of the HTTP exporter, so `pip install "fastlinks[grpc]"` alone is enough."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.grpc import trace_exporter as _stock_grpc
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace import ReadableSpan

from .. import _otel_compat as compat
from ._encoder import _encode_spans

__all__ = ["OTLPSpanExporter"]


class OTLPSpanExporter(_stock_grpc.OTLPSpanExporter):
    """Drop-in for `opentelemetry.exporter.otlp.proto.grpc.trace_exporter.OTLPSpanExporter`."""

    def _translate_data(self, data: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
        """fastlinks' encoding; what it cannot encode goes to the stock translation."""
        try:
            return _encode_spans(data)
        except Exception as error:
            compat.log_once("fastlinks.otlp.grpc.OTLPSpanExporter", error)
            return super()._translate_data(data)
