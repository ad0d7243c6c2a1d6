"""Pure-Python twin of `_parse.pyx`: message headers to link columns, with the same results.
Used when the compiled module is not built or FASTLINKS_NO_EXTENSIONS=1 is set, and as the
reference the compiled one is tested against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ._columns import Columns, _frozen, empty_columns

_MAX_MEMBERS = 32  # W3C: a tracestate with more list-members than this is discarded whole
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)


def _parse_one(value: object) -> tuple[bytes, bytes, int] | None:
    """Parse one traceparent (W3C level 1, flag bits kept), or None if invalid."""
    if isinstance(value, bytes):
        text = value.decode("latin-1")
    elif isinstance(value, str):
        text = value
    else:
        return None
    match = _TRACEPARENT.fullmatch(text.strip(" \t"))
    if match is None:
        return None
    version, trace_hex, span_hex, flags_hex, rest = match.groups()
    if version == "ff" or (version == "00" and rest is not None):
        return None
    trace_id, span_id = bytes.fromhex(trace_hex), bytes.fromhex(span_hex)
    if not any(trace_id) or not any(span_id):
        return None
    return trace_id, span_id, int(flags_hex, 16)


def _store(value, trace_ids, span_ids, trace_flags, i) -> bool:
    parsed = _parse_one(value)
    if parsed is None:
        trace_ids[i] = 0
        span_ids[i] = 0
        trace_flags[i] = 0
        return False
    trace_ids[i] = np.frombuffer(parsed[0], dtype=np.uint8)
    span_ids[i] = np.frombuffer(parsed[1], dtype=np.uint8)
    trace_flags[i] = parsed[2]
    return True


def _text(value: str | bytes) -> str:
    """A str or bytes header value as an exact str (a subclass, numpy.str_ say, is copied)."""
    if type(value) is str:
        return value
    return str.__str__(value) if isinstance(value, str) else value.decode("latin-1")


def _blank(value: str | bytes) -> bool:
    """True for a value of spaces, tabs and commas only: a tracestate with no member."""
    return not (value.strip(" \t,") if isinstance(value, str) else value.strip(b" \t,"))


def parse_traceparents(values, states=None):
    values = list(values)
    n = len(values)
    raw = None if states is None else list(states)
    if raw is not None and len(raw) != n:
        raise ValueError(f"parse_traceparents: {len(raw)} trace states for {n} traceparents")
    trace_ids, span_ids, trace_flags, remote = empty_columns(n)
    out_states = None
    for i in range(n):
        if not _store(values[i], trace_ids, span_ids, trace_flags, i) or raw is None or raw[i] is None:
            continue
        if not isinstance(raw[i], (str, bytes)):  # a header value that is neither: the row is invalid
            _store(None, trace_ids, span_ids, trace_flags, i)
        elif raw[i]:  # a trace state is only read for a valid traceparent
            if out_states is None:
                out_states = [None] * n
            out_states[i] = _text(raw[i])
    return Columns(*_frozen(trace_ids, span_ids, trace_flags, remote), out_states)


def _is_key(key: object, name: str) -> bool:
    if isinstance(key, str):
        return len(key) == len(name) and key.isascii() and key.lower() == name
    if isinstance(key, bytes):
        return len(key) == len(name) and key.lower() == name.encode()
    return False


_ATTRIBUTE_VALUES = ("StringValue", "stringValue", "Value", "BinaryValue")


def _attribute_value(attribute):
    """The value of an SQS or SNS message attribute (boto3, the Lambda event, an SNS envelope)."""
    for name in _ATTRIBUTE_VALUES:
        value = attribute.get(name)
        if value is not None:
            return value
    return None


def _client_headers(message, i):
    """A client's message object as delivered: its `headers` attribute or method."""
    headers = getattr(message, "headers", None)
    if headers is None and not hasattr(message, "headers"):
        raise TypeError(
            f"carriers[{i}]: expected a mapping, a sequence of (key, value) pairs, None, or a message with "
            f"headers, got {type(message).__name__}"
        )
    return headers() if callable(headers) else headers


def parse_carriers(carriers):
    carriers = list(carriers)
    n = len(carriers)
    trace_ids, span_ids, trace_flags, remote = empty_columns(n)
    states = None
    for i in range(n):
        carrier = carriers[i]
        traceparent = None
        tracestates: list[str] = []
        members = found = 0
        bad = False
        if carrier is not None and not isinstance(carrier, (Mapping, list, tuple, str, bytes)):
            carrier = _client_headers(carrier, i)
        if carrier is not None:
            if isinstance(carrier, Mapping):
                pairs = carrier.items()
            elif isinstance(carrier, (list, tuple)):
                pairs = carrier
            else:
                raise TypeError(
                    f"carriers[{i}]: expected a mapping or a sequence of (key, value) pairs, "
                    f"got {type(carrier).__name__}"
                )
            for pair in pairs:
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise TypeError(
                        f"carriers[{i}]: header items must be (key, value) pairs, got {type(pair).__name__}"
                    )
                key, value = pair
                if value is None:
                    continue
                if not isinstance(value, (str, bytes)) and isinstance(value, Mapping):  # SQS/SNS attribute
                    if not (_is_key(key, "traceparent") or _is_key(key, "tracestate")):
                        continue
                    value = _attribute_value(value)
                    if value is None:
                        continue
                if _is_key(key, "traceparent"):
                    found += 1
                    traceparent = value
                elif _is_key(key, "tracestate"):
                    if not isinstance(value, (str, bytes)):
                        bad = True
                    elif members <= _MAX_MEMBERS:  # past that the joined value can only be empty
                        members += not _blank(value)
                        tracestates.append(_text(value))
        if found != 1 or bad:
            traceparent = None
        ok = _store(traceparent, trace_ids, span_ids, trace_flags, i)
        tracestate = ",".join(tracestates) if tracestates and members <= _MAX_MEMBERS else None
        if ok and tracestate is not None:
            if states is None:
                states = [None] * n
            states[i] = tracestate
    return Columns(*_frozen(trace_ids, span_ids, trace_flags, remote), states)
