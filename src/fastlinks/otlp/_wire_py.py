"""Pure-Python twin of `_wire.pyx`: a Span's `links` field as protobuf wire bytes, with the same
results, reading every link through its public properties.
"""

from __future__ import annotations

import struct
from operator import index as _index


def _varint(v: int) -> bytes:
    out = bytearray()
    while v >= 0x80:
        out.append((v & 0x7F) | 0x80)
        v >>= 7
    out.append(v)
    return bytes(out)


def _field(number: int, data: bytes) -> bytes:
    return _varint((number << 3) | 2) + _varint(len(data)) + data


def _key_value(key: object, value: object, encode_attribute) -> bytes:
    """One KeyValue for Span.Link.attributes: str/bool/int/float here, anything else by the stock encoder."""
    any_value = None
    if type(key) is str:
        try:
            if type(value) is str:
                any_value = _field(1, value.encode())
            elif type(value) is bool:
                any_value = bytes([2 << 3, 1 if value else 0])
            elif type(value) is int and -(2**63) <= value < 2**63:
                any_value = bytes([3 << 3]) + _varint(value & 0xFFFFFFFFFFFFFFFF)
            elif type(value) is float:
                any_value = bytes([(4 << 3) | 1]) + struct.pack("<d", value)
            key_bytes = key.encode()
        except UnicodeEncodeError:
            any_value = None
    if any_value is None:
        raw = encode_attribute(key, value)
        return _field(4, raw) if raw else b""
    return _field(4, (_field(1, key_bytes) if key_bytes else b"") + _field(2, any_value))


def _dropped_count(value) -> int:
    value = _index(value)
    if not 0 <= value < 2**32:
        raise ValueError(f"dropped_attributes {value} does not fit the OTLP uint32 field")
    return value


def encode_links(links, encode_attribute, fast, fast_attributes) -> bytes:
    out = []
    for link in links:
        ctx = link.context
        tid, sid, remote, trace_flags, state = (
            ctx.trace_id,
            ctx.span_id,
            ctx.is_remote,
            ctx.trace_flags,
            ctx.trace_state,
        )
        body = [_field(1, tid.to_bytes(16, "big")), _field(2, sid.to_bytes(8, "big"))]
        if state:
            body.append(_field(3, ",".join([f"{k}={v}" for k, v in state.items()]).encode()))
        attributes = link.attributes
        if attributes:
            for key, value in attributes.items():
                body.append(_key_value(key, value, encode_attribute))
        dropped = _dropped_count(link.dropped_attributes)
        if dropped:
            body.append(bytes([5 << 3]) + _varint(dropped))
        flags = (_index(trace_flags) & 0xFF) | 0x100 | (0x200 if remote else 0)
        body.append(bytes([(6 << 3) | 5]) + struct.pack("<I", flags))
        out.append(_field(13, b"".join(body)))
    return b"".join(out)
