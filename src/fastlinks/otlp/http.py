"""OTLP/HTTP export with fastlinks' link encoding (the `otlp` extra: opentelemetry-exporter-otlp-proto-http)."""

from __future__ import annotations

from collections.abc import Sequence

from opentelemetry.exporter.otlp.proto.http import trace_exporter as _stock_http
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SpanExportResult

from .. import _otel_compat as compat
from ._encoder import encode_spans

__all__ = ["OTLPSpanExporter"]

_export = compat.export_with_encoder(_stock_http.OTLPSpanExporter.export, encode_spans)


class OTLPSpanExporter(_stock_http.OTLPSpanExporter):
    """Drop-in for `opentelemetry.exporter.otlp.proto.http.trace_exporter.OTLPSpanExporter`:
    same arguments and environment variables, links encoded with flags and trace state.

    `export` is the stock exporter's own code with the encoder swapped, so retries,
    compression, size limits and metrics stay the stock ones; it never raises."""

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        try:
            if _export is None:
                return super().export(spans)
            return _export(self, spans)  # type: ignore[no-any-return]
        except Exception as error:
            compat.log_once("fastlinks.otlp.OTLPSpanExporter.export", error)
            return SpanExportResult.FAILURE
