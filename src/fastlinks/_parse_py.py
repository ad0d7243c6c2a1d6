"""Pure-Python twin of `_parse.pyx`: message headers to link columns, with the same results.
Used when the compiled module is not built or FASTLINKS_NO_EXTENSIONS=1 is set, and as the
reference the compiled one is tested against.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import numpy as np

from ._columns import Columns, _frozen, empty_columns
from ._columns import raw_state as _raw

_MAX_MEMBERS = 32  # W3C: a tracestate with more list-members than this is discarded whole
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)


def _parse_one(value: object) -> tuple[bytes, bytes, int] | None:
    """Parse one traceparent (W3C level 1, flag bits kept), or None if invalid."""
    if not isinstance(value, (str, bytes)):
        return None
    match = _TRACEPARENT.fullmatch(_text(value).strip(" \t"))
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
    return str.__str__(value) if isinstance(value, str) else bytes.decode(value, "latin-1")


def _blank(value: str | bytes) -> bool:
    """True for a value of spaces, tabs and commas only: a tracestate with no member."""
    return not (str.strip(value, " \t,") if isinstance(value, str) else bytes.strip(value, b" \t,"))


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
        elif state := _raw(raw[i]):  # exact; a trace state is only read for a valid traceparent
            if out_states is None:
                out_states = [None] * n
            out_states[i] = state
    return Columns(*_frozen(trace_ids, span_ids, trace_flags, remote), out_states)


# ---------------------------------------------------------------- carriers

FORMATS = ("tracecontext", "b3", "b3multi", "jaeger", "xray", "ottrace")
REPEATED = ("last", "first", "invalid")
_MAX_FORMATS = 64  # parts of one composite; more could only repeat a format
_HEADERS = {  # each format's header names, lowercase; b3 and b3multi read the same headers
    "tracecontext": ("traceparent", "tracestate"),
    "b3": ("b3", "x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags"),
    "jaeger": ("uber-trace-id",),
    "xray": ("x-amzn-trace-id", "awstraceheader"),
    "ottrace": ("ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled"),
}
_NESTED = "attributes"  # an SQS message's MessageAttributes or Attributes, read as its headers
_NESTED_NAMES = ("attributes", "messageattributes")
_BAD = object()  # a header present but unusable: repeated where that voids it, or neither str nor bytes
_INVALID = (0, 0, 0)  # a format that puts an invalid context in place of what earlier ones found
_B3_SAMPLED = frozenset(("1", "True", "true", "d"))
_B3_TRACE_ID = re.compile(r"[0-9a-fA-F]{16}|[0-9a-fA-F]{32}")
_HEX = re.compile(r"[0-9a-fA-F]+")
_OT_TRACE_ID = re.compile(r"[0-9a-f]{1,32}")
_OT_SPAN_ID = re.compile(r"[0-9a-f]{1,16}")


def _codes(formats, repeated):
    """The enabled header names (each mapped to itself) and the formats in order, checked."""
    formats = tuple(formats)
    for name in formats:
        if name not in FORMATS:
            raise ValueError(f"formats: unknown format {name!r}; known: {', '.join(FORMATS)}")
    if len(formats) > _MAX_FORMATS:
        raise ValueError(f"formats: at most {_MAX_FORMATS} formats, got {len(formats)}")
    if not isinstance(repeated, str) or repeated not in REPEATED:
        raise ValueError(f"repeated must be one of {', '.join(REPEATED)}; got {repeated!r}")
    order = tuple("b3" if name == "b3multi" else name for name in formats)
    wanted = {header: header for name in order for header in _HEADERS[name]}
    if order:
        wanted.update(dict.fromkeys(_NESTED_NAMES, _NESTED))
    return wanted, order


def _name(key, wanted):
    """The lowercase header name `key` is, if a format in use reads it (ASCII case-insensitively)."""
    if isinstance(key, str):
        return wanted.get(str.lower(key)) if str.isascii(key) else None
    if isinstance(key, bytes):
        return wanted.get(bytes.decode(bytes.lower(key), "latin-1"))
    return None


def _as_text(value):
    """A slot's value as str for a format parser; None when absent or unusable."""
    return None if value is None or value is _BAD else _text(value)


def _context(trace_id: int, span_id: int, sampled: bool):
    """What a propagator puts in the context: a valid SpanContext's IDs and flag, else _INVALID."""
    if 0 < trace_id < 1 << 128 and 0 < span_id < 1 << 64:
        return trace_id, span_id, int(sampled)
    return _INVALID


def _tracecontext(values, state_bad):
    value = values.get("traceparent")
    parsed = None if value is _BAD or state_bad else _parse_one(value)
    if parsed is None:
        return None
    return int.from_bytes(parsed[0], "big"), int.from_bytes(parsed[1], "big"), parsed[2]


def _b3(values):
    """opentelemetry-propagator-b3's extract: the single header when set, else the multi headers."""
    single = values.get("b3")
    if single is _BAD:
        return None
    trace_id = span_id = ""
    sampled, flags = "0", None
    single = _as_text(single)
    if single:
        sampled = "1"  # the single header's "deferred" sampling, recorded as sampled
        fields = single.split("-", 4)
        if len(fields) == 1:
            sampled = fields[0]
        elif len(fields) in (2, 3, 4):
            trace_id, span_id = fields[0], fields[1]
            sampled = fields[2] if len(fields) > 2 else sampled
    else:
        multi = [values.get(name) for name in ("x-b3-traceid", "x-b3-spanid", "x-b3-sampled", "x-b3-flags")]
        if any(value is _BAD for value in multi):
            return None
        trace_id, span_id, sampled_text, flags = (_as_text(value) for value in multi)
        trace_id, span_id, sampled = trace_id or "", span_id or "", sampled_text or sampled
        flags = flags or None
    if not _B3_TRACE_ID.fullmatch(trace_id) or len(span_id) != 16 or not _HEX.fullmatch(span_id):
        return None
    return _context(int(trace_id, 16), int(span_id, 16), sampled in _B3_SAMPLED or flags == "1")


def _int16(text: str) -> int | None:
    """Python's int(text, 16), as the jaeger and xray propagators read IDs, or None."""
    try:
        return int(text, 16)
    except ValueError:
        return None


def _jaeger(values):
    """opentelemetry-propagator-jaeger's extract: `trace:span:parent:flags`, hex without leading zeros."""
    header = _as_text(values.get("uber-trace-id"))
    fields = header.split(":") if header is not None else ()
    if len(fields) != 4:
        return None
    flags = _int16(fields[3])
    trace_id = _int16(fields[0]) or 0
    span_id = _int16(fields[1]) or 0
    if flags is None or not trace_id or not span_id:
        return None
    return _context(trace_id, span_id, bool(flags & 1))


def _xray(values):
    """opentelemetry-propagator-aws-xray's extract: `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`,
    from X-Amzn-Trace-Id, else from SQS's AWSTraceHeader system attribute."""
    header = values.get("x-amzn-trace-id")
    header = _as_text(header if header is not None else values.get("awstraceheader"))
    if not header:
        return None
    trace_id = span_id = 0
    sampled = False
    for pair in header.split(";"):
        parts = pair.split("=")
        if len(parts) != 2:
            return None
        key, value = parts[0].strip(), parts[1].strip()
        if key == "Root":
            if len(value) != 35 or value[0] != "1" or value[1] != "-" or value[10] != "-":
                return None
            parsed = _int16(value[2:10] + value[11:35])
            if parsed is None:
                return None
            trace_id = parsed
        elif key == "Parent":
            parsed = _int16(value) if len(value) == 16 else None
            if parsed is None:
                return None
            span_id = parsed
        elif key == "Sampled":
            if value not in ("0", "1"):
                return None
            sampled = value == "1"
    context = _context(trace_id, span_id, sampled)
    return None if context is _INVALID else context  # the xray propagator leaves an invalid one out


def _ottrace(values):
    """opentelemetry-propagator-ot-trace's extract: lowercase hex IDs of 1-32 and 1-16 digits."""
    trace_id, span_id, sampled = (
        _as_text(values.get(name)) for name in ("ot-tracer-traceid", "ot-tracer-spanid", "ot-tracer-sampled")
    )
    if trace_id is None or span_id is None or not _OT_TRACE_ID.fullmatch(trace_id):
        return None
    if not _OT_SPAN_ID.fullmatch(span_id):
        return None
    trace_int, span_int = int(trace_id, 16), int(span_id, 16)
    return (trace_int, span_int, int(sampled == "true")) if trace_int and span_int else None


_EXTRACT = {"b3": _b3, "jaeger": _jaeger, "xray": _xray, "ottrace": _ottrace}


def _attribute_value(attribute):
    """The value of an SQS or SNS message attribute (boto3, the Lambda event, an SNS envelope)."""
    for name in _ATTRIBUTE_VALUES:
        value = attribute.get(name)
        if value is not None:
            return value
    return None


_ATTRIBUTE_VALUES = ("StringValue", "stringValue", "Value", "BinaryValue")


def _client_headers(message, i):
    """A client's message object as delivered: its `headers` attribute or method, else boto3's SQS
    resource Message as the whole message it wraps."""
    headers = getattr(message, "headers", None)
    if headers is None and not hasattr(message, "headers"):
        if hasattr(message, "message_attributes"):
            return {"MessageAttributes": message.message_attributes, "Attributes": getattr(message, "attributes", None)}
        raise TypeError(
            f"carriers[{i}]: expected a mapping, a sequence of (key, value) pairs, None, or a message with "
            f"headers, got {type(message).__name__} (read any other message type through getter=)"
        )
    return headers() if callable(headers) else headers


def _pairs(carrier, i):
    """The carrier's (key, value) items, and whether it is a list of pairs (where names repeat)."""
    if carrier is not None and not isinstance(carrier, (Mapping, str, bytes)):
        pairs = isinstance(carrier, (list, tuple))  # pairs, or a record with headers (kafka-python's)
        if not pairs or (type(carrier) not in (list, tuple) and hasattr(carrier, "headers")):
            carrier = _client_headers(carrier, i)
    if carrier is None:
        return (), False
    if isinstance(carrier, Mapping):
        return carrier.items(), False
    if isinstance(carrier, (list, tuple)):
        return carrier, True
    raise TypeError(
        f"carriers[{i}]: expected a mapping or a sequence of (key, value) pairs, got {type(carrier).__name__}"
    )


def _items(pairs, is_pairs, wanted, i):
    """(name, value, from a list of pairs) for each header a format in use reads; the mappings
    under an SQS message's MessageAttributes and Attributes, one level deep, as its headers."""
    for pair in pairs:
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"carriers[{i}]: header items must be (key, value) pairs, got {type(pair).__name__}")
        key, value = pair
        name = None if value is None else _name(key, wanted)
        if name is None:
            continue
        if name != _NESTED:
            yield name, value, is_pairs
        elif isinstance(value, Mapping):
            for inner_key, inner in value.items():
                inner_name = None if inner is None else _name(inner_key, wanted)
                if inner_name is not None and inner_name != _NESTED:
                    yield inner_name, inner, False


def _values(name, value):
    """A header's values: itself, or those of a list or tuple as OpenTelemetry's default getter
    passes a mapping's on, read as each official propagator reads them: every tracestate value;
    X-Ray's header only when it is the one value; any other the first (none: the header is absent)."""
    if not isinstance(value, (list, tuple)):
        return (value,)
    values = [_BAD if isinstance(item, (list, tuple)) else item for item in value]  # one level only
    if name == "tracestate":
        return values
    if not values or (len(values) != 1 and name in _HEADERS["xray"]):
        return ()
    return values[:1]


def parse_carriers(carriers, formats=("tracecontext",), repeated="last"):
    wanted, order = _codes(formats, repeated)
    carriers = list(carriers)
    n = len(carriers)
    trace_ids, span_ids, trace_flags, remote = empty_columns(n)
    states = None
    for i in range(n):
        pairs, is_pairs = _pairs(carriers[i], i)
        values: dict[str, object] = {}
        tracestates: list[str | bytes] = []
        members = 0
        state_bad = False
        for name, header, in_pairs in _items(pairs, is_pairs, wanted, i):
            for value in _values(name, header):
                if not isinstance(value, (str, bytes)) and isinstance(value, Mapping):  # an SQS/SNS attribute
                    value = _attribute_value(value)
                    if value is None:
                        continue
                if name == "tracestate":
                    if not isinstance(value, (str, bytes)):
                        state_bad = True
                    elif members <= _MAX_MEMBERS:  # past that the joined value can only be empty
                        blank = _blank(value)
                        if not tracestates or not blank:  # a later blank one would add only empty members
                            members += not blank
                            tracestates.append(_raw(value))
                    continue
                if not isinstance(value, (str, bytes)):
                    value = _BAD
                if name not in values:
                    values[name] = value
                elif not in_pairs or repeated == "invalid":  # a mapping's case variants are never a choice
                    values[name] = _BAD
                elif repeated == "last":
                    values[name] = value
        found = None
        state = None
        for name in order:  # as CompositePropagator: a later format's context replaces an earlier one
            extracted = _tracecontext(values, state_bad) if name == "tracecontext" else _EXTRACT[name](values)
            if extracted is not None:
                found = extracted
                state = name == "tracecontext"
        if found is None or found is _INVALID:
            trace_ids[i] = span_ids[i] = trace_flags[i] = 0
            continue
        trace_ids[i] = np.frombuffer(found[0].to_bytes(16, "big"), np.uint8)
        span_ids[i] = np.frombuffer(found[1].to_bytes(8, "big"), np.uint8)
        trace_flags[i] = found[2]
        if state and tracestates and members <= _MAX_MEMBERS:
            if states is None:
                states = [None] * n
            states[i] = tracestates[0] if len(tracestates) == 1 else ",".join(map(_text, tracestates))
    return Columns(*_frozen(trace_ids, span_ids, trace_flags, remote), states)
