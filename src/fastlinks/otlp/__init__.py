"""OTLP export that keeps each link's W3C flags and trace state, with links encoded by a kernel.

`fastlinks.otlp.OTLPSpanExporter` is the OTLP/HTTP exporter (`pip install "fastlinks[otlp]"`),
`fastlinks.otlp.grpc.OTLPSpanExporter` the OTLP/gRPC one (`pip install "fastlinks[grpc]"`), and
`fastlinks.otlp.encode_spans` the encoder both share. Each is imported when first used, so
either extra works alone.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ._encoder import encode_spans
    from .http import OTLPSpanExporter

__all__ = ["OTLPSpanExporter", "encode_spans"]

_LAZY = {"OTLPSpanExporter": (".http", "otlp"), "encode_spans": ("._encoder", "otlp] or [grpc")}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'fastlinks.otlp' has no attribute {name!r}")
    module, extra = _LAZY[name]
    from importlib import import_module

    try:
        value = getattr(import_module(module, __name__), name)
    except ImportError as error:
        raise ImportError(
            f"fastlinks.otlp.{name} needs an OTLP exporter: pip install 'fastlinks[{extra}]' ({error})"
        ) from error
    globals()[name] = value
    return value
