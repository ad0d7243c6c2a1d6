"""Types of the OTLP wire kernel: `_wire.pyx` and its pure twin `_wire_py.py`."""

from collections.abc import Callable, Iterable

from opentelemetry.trace import Link

def encode_links(
    links: Iterable[Link], encode_attribute: Callable[[object, object], bytes], fast: bool, fast_attributes: bool
) -> bytes:
    """The wire bytes of a Span's repeated `links` field (13), W3C flags and trace state included;
    raises (as the stock encoder would) for a link it cannot encode."""
