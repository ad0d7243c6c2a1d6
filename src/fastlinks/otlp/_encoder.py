"""The OTLP encoder both exporters share: it keeps each link's W3C flags and trace state, and
the links' wire bytes are written by a kernel.

The stock encoder (opentelemetry-exporter-otlp-proto-common) sends every link with flags
0x100/0x300 — the W3C bits, sampled among them, are lost — and no trace_state, and spends about
15 µs per link. `encode_spans` lets the stock encoder write everything but the links, then
merges in the links' wire bytes written by the `_wire` kernel.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans
from opentelemetry.sdk.trace import ReadableSpan

from .. import _kernels
from .. import _otel_compat as compat

__all__ = ["encode_spans"]

_stock = compat.stock_otlp()
_encode_attributes = _stock["_encode_attributes"]
_encode_span = _stock["_encode_span"]
_stock_encode_spans = _stock["encode_spans"]


class _WithoutLinks:
    """What the stock `_encode_span` reads of a span, with no links; other reads go to the span."""

    __slots__ = (
        "_context",
        "_span",
        "attributes",
        "dropped_attributes",
        "dropped_events",
        "dropped_links",
        "end_time",
        "events",
        "kind",
        "name",
        "parent",
        "start_time",
        "status",
    )
    links = ()

    def __init__(self, span: ReadableSpan) -> None:
        self._span = span
        self._context = span.get_span_context()
        self.attributes = span.attributes
        self.dropped_attributes = span.dropped_attributes
        self.dropped_events = span.dropped_events
        self.dropped_links = span.dropped_links
        self.end_time = span.end_time
        self.events = span.events
        self.kind = span.kind
        self.name = span.name
        self.parent = span.parent
        self.start_time = span.start_time
        self.status = span.status

    def get_span_context(self):  # type: ignore[no-untyped-def]
        return self._context

    def __getattr__(self, name: str) -> Any:
        return getattr(self._span, name)


def _encode_attribute(key: Any, value: Any) -> bytes:
    """One KeyValue the kernel leaves to the stock encoder (arrays, bytes, mappings...), serialized."""
    encoded = _encode_attributes({key: value})
    return encoded[0].SerializeToString() if encoded else b""


class _Encoded:
    """Resource and scope messages encoded once per object: both are immutable and few."""

    def __init__(self, encode: Any) -> None:
        self._encode = encode
        self._cache: dict[int, tuple[object, object]] = {}

    def __call__(self, key: Any) -> Any:
        hit = self._cache.get(id(key))
        if hit is None or hit[0] is not key:
            if len(self._cache) >= 256:
                self._cache.clear()
            hit = self._cache[id(key)] = (key, self._encode(key))
        return hit[1]


_resource = _Encoded(_stock["_encode_resource"])
_scope = _Encoded(_stock["_encode_instrumentation_scope"])


def encode_spans(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """Like the stock `encode_spans`, plus each link's W3C flags and trace state; same return type.

    Never worse than the stock encoder: a batch fastlinks cannot encode (a link whose context
    is not a SpanContext, say) is encoded by the stock `encode_spans` instead, which raises
    for it exactly when the stock exporter would, and the cause is logged once."""
    try:
        return _encode_spans(spans)
    except Exception as error:
        compat.log_once("fastlinks.otlp.encode_spans", error)
        return _stock_encode_spans(spans)


def _encode_spans(spans: Sequence[ReadableSpan]) -> ExportTraceServiceRequest:
    """fastlinks' encoding, which raises on what it cannot encode.

    Spans are grouped by resource and scope as the stock encoder groups them, and every message
    but the links is written by the stock encoder's own functions. Links are merged in last, in
    place, so their bytes are parsed once and never copied."""
    groups: dict[Any, dict[Any, list[ReadableSpan]]] = {}
    for span in spans:
        groups.setdefault(span.resource, {}).setdefault(span.instrumentation_scope or None, []).append(span)
    request = ExportTraceServiceRequest(
        resource_spans=[
            ResourceSpans(
                resource=_resource(resource),
                scope_spans=[
                    ScopeSpans(
                        scope=_scope(scope),
                        spans=[_encode_span(_WithoutLinks(span)) for span in group],  # type: ignore[arg-type]
                        schema_url=scope.schema_url if scope else None,  # type: ignore[arg-type]  # as the stock
                    )
                    for scope, group in scopes.items()
                ],
                schema_url=resource.schema_url,
            )
            for resource, scopes in groups.items()
        ]
    )
    encode_links = _kernels.wire.encode_links
    fast, fast_attributes = compat.FAST_CONTEXTS, compat.FAST_ATTRIBUTES
    for resource_spans, scopes in zip(request.resource_spans, groups.values(), strict=True):
        for scope_spans, group in zip(resource_spans.scope_spans, scopes.values(), strict=True):
            for encoded, span in zip(scope_spans.spans, group, strict=True):
                links = span.links
                if links:
                    encoded.MergeFromString(encode_links(links, _encode_attribute, fast, fast_attributes))
    return request
