"""Pure-Python twin of `_core.pyx`: the same kernels in numpy and plain Python, same results.

Used when the compiled module cannot be imported or `FASTLINKS_NO_EXTENSIONS=1` is set,
and as the reference the compiled kernels are tested against.
"""

from __future__ import annotations

import re
import struct
from collections.abc import Mapping
from operator import index as _index

import numpy as np
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import TraceState

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STRATEGIES = ("first", "last", "random", "consistent")
_MAX_MEMBERS = 32  # W3C: a tracestate with more list-members than this is discarded whole
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?", re.DOTALL)


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 over a uint64 array: add the golden gamma, then the 64-bit finalizer."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _be64(columns: np.ndarray, start: int) -> np.ndarray:
    return np.ascontiguousarray(columns[:, start : start + 8]).view(">u8").ravel().astype(np.uint64)


def link_hash(trace_ids: np.ndarray, span_ids: np.ndarray) -> np.ndarray:
    n = len(trace_ids)
    if n and (trace_ids.shape[1] != 16 or span_ids.shape != (n, 8)):
        raise ValueError("link_hash needs (N, 16) trace IDs and (N, 8) span IDs")
    if n == 0:
        return np.empty(0, dtype=np.uint64)
    return _mix(_mix(_mix(_be64(trace_ids, 0)) ^ _be64(trace_ids, 8)) ^ _be64(span_ids, 0))


def compact(trace_ids, span_ids, trace_flags, keep_invalid, max_links, dedupe, strategy, prefer_sampled, seed):
    n = len(trace_ids)
    if not isinstance(strategy, str) or strategy not in _STRATEGIES:
        raise ValueError(f"compact: strategy must be one of first, last, random, consistent; got {strategy!r}")
    if len(span_ids) != n or len(trace_flags) != n or (keep_invalid is not None and len(keep_invalid) != n):
        raise ValueError("compact: columns differ in length")
    if n and (trace_ids.shape[1] != 16 or span_ids.shape[1] != 8):
        raise ValueError("compact needs (N, 16) trace IDs and (N, 8) span IDs")
    if max_links < 0:
        raise ValueError("compact: max_links must be >= 0")
    valid = trace_ids.any(axis=1) & span_ids.any(axis=1)
    cls = valid.astype(np.uint8)  # 0 dropped, 1 valid, 2 invalid but kept
    if keep_invalid is not None:
        cls[~valid & np.asarray(keep_invalid, dtype=bool)] = 2
    invalid = int(np.count_nonzero(cls == 0))
    duplicates = 0
    if dedupe:
        rows = np.flatnonzero(valid)
        keys = np.ascontiguousarray(np.concatenate([trace_ids[rows], span_ids[rows]], axis=1))
        _, first = np.unique(keys.view(np.dtype((np.void, 24))).ravel(), return_index=True)
        repeat = np.ones(len(rows), dtype=bool)
        repeat[first] = False
        cls[rows[repeat]] = 0
        duplicates = int(np.count_nonzero(repeat))
    candidates = np.flatnonzero(cls)
    if len(candidates) <= max_links:
        return candidates.astype(np.int64), invalid, duplicates, 0
    unsampled = (trace_flags[candidates] & 1) == 0
    tier = np.where(cls[candidates] == 2, 2, np.where(prefer_sampled & unsampled, 1, 0))
    position = candidates.astype(np.uint64)
    if strategy == "first":
        key = position
    elif strategy == "last":
        key = np.uint64(n - 1) - position
    elif strategy == "random":
        key = _mix(np.uint64(seed) + position * _GOLDEN)
    else:
        key = link_hash(trace_ids[candidates], span_ids[candidates])
    chosen = np.lexsort((candidates, key, tier))[:max_links]
    return np.sort(candidates[chosen]).astype(np.int64), invalid, duplicates, len(candidates) - max_links


def _frozen(*columns):
    for column in columns:
        column.flags.writeable = False
    return columns


def _columns(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    return np.empty((n, 16), np.uint8), np.empty((n, 8), np.uint8), np.empty(n, np.uint8), np.ones(n, np.bool_)


def take(trace_ids, span_ids, trace_flags, is_remote, rows):
    n = len(trace_ids)
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        bad = rows[(rows < 0) | (rows >= n)][0]
        raise IndexError(f"take: row {bad} out of range for {n} rows")
    return _frozen(trace_ids[rows], span_ids[rows], trace_flags[rows], np.asarray(is_remote, dtype=bool)[rows])


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
    trace_ids, span_ids, trace_flags, remote = _columns(n)
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
    return (*_frozen(trace_ids, span_ids, trace_flags, remote), out_states)


def _is_key(key: object, name: str) -> bool:
    if isinstance(key, str):
        return len(key) == len(name) and key.isascii() and key.lower() == name
    if isinstance(key, bytes):
        return len(key) == len(name) and key.lower() == name.encode()
    return False


def parse_carriers(carriers):
    if isinstance(carriers, (str, bytes, Mapping)) or not hasattr(carriers, "__iter__"):
        raise TypeError(f"carriers: expected a sequence of header carriers, got {type(carriers).__name__}")
    carriers = list(carriers)
    n = len(carriers)
    trace_ids, span_ids, trace_flags, remote = _columns(n)
    states = None
    for i in range(n):
        carrier = carriers[i]
        traceparent = None
        tracestates: list[str] = []
        members = found = 0
        bad = False
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
    return (*_frozen(trace_ids, span_ids, trace_flags, remote), states)


def _id_value(value, limit: int) -> int:
    """An ID as an int in [0, limit), or 0 for anything else (out of range, not an integer)."""
    try:
        value = _index(value)
    except TypeError:
        return 0
    return value if 0 <= value < limit else 0


def ids_from_contexts(contexts, fast):
    n = len(contexts)
    trace_ids, span_ids, trace_flags, is_remote = _columns(n)
    states = None
    for i in range(n):
        ctx = contexts[i]
        if not isinstance(ctx, SpanContext):
            raise TypeError(f"contexts[{i}]: expected a SpanContext, got {type(ctx).__name__}")
        tid, sid = _id_value(ctx.trace_id, 2**128), _id_value(ctx.span_id, 2**64)
        if not ctx.is_valid and tid and sid:  # the context says invalid: its row must be too
            tid = sid = 0
        trace_ids[i] = np.frombuffer(tid.to_bytes(16, "big"), dtype=np.uint8)  # kept for invalid contexts too
        span_ids[i] = np.frombuffer(sid.to_bytes(8, "big"), dtype=np.uint8)
        try:
            trace_flags[i] = _index(ctx.trace_flags) & 0xFF
        except TypeError:
            raise TypeError(
                f"contexts[{i}]: trace_flags must be an integer, got {type(ctx.trace_flags).__name__}"
            ) from None
        is_remote[i] = bool(ctx.is_remote)
        state = ctx.trace_state
        if state and isinstance(state, TraceState):
            if states is None:
                states = [None] * n
            states[i] = state.to_header()
    return (*_frozen(trace_ids, span_ids, trace_flags, is_remote), states)


def make_links(
    trace_ids,
    span_ids,
    trace_flags,
    is_remote,
    rows,
    trace_states,
    attributes,
    dropped_attributes,
    link_type,
    stats,
    fast,
):
    n = len(trace_ids)
    if not (isinstance(link_type, type) and issubclass(link_type, Link)):
        raise TypeError(f"make_links: link_type must be a Link subclass, got {link_type!r}")
    per_row = isinstance(attributes, list)
    out = []
    for j, r in enumerate(range(n) if rows is None else rows.tolist()):
        if not 0 <= r < n:
            raise IndexError(f"make_links: row {r} out of range for {n} rows")
        context = SpanContext(
            int.from_bytes(trace_ids[r].tobytes(), "big"),
            int.from_bytes(span_ids[r].tobytes(), "big"),
            bool(is_remote[r]),
            TraceFlags(int(trace_flags[r])),
            None if trace_states is None else trace_states[j],
        )
        link = link_type(context, attributes[j] if per_row else attributes)
        if stats is not None:
            link._stats = stats
        if dropped_attributes is not None and dropped_attributes[j]:
            link._dropped_attributes = dropped_attributes[j]
        out.append(link)
    return out


def start_scan(span, config):
    list_type, list_attr, deque_attr, seen_attr, limit, dedupe, link_type, stats_type, fast = config
    links = getattr(span, list_attr, None)
    if type(links) is not list_type:
        return None
    held = getattr(links, deque_attr)
    if not held:
        return None
    needs_policy, origin_inputs, from_origins = scan_links(held, limit, dedupe, link_type, stats_type, fast)
    if needs_policy or origin_inputs:
        return needs_policy, origin_inputs, from_origins, links, held
    setattr(span, seen_attr, len(held) + links.dropped)
    return None


def links_added(span, config):
    list_type, list_attr, deque_attr, seen_attr = config[:4]
    links = getattr(span, list_attr, None)
    if type(links) is not list_type:
        return False
    return len(getattr(links, deque_attr)) + links.dropped != getattr(span, seen_attr, 0)


def scan_links(items, limit, dedupe, link_type, stats_type, fast):
    origins: dict[int, object] = {}
    from_origins = 0
    plain = False
    needs = len(items) > limit
    seen: set[tuple[int, int]] = set()
    for item in items:
        stats = getattr(item, "_stats", None)
        if stats is not None and isinstance(stats, stats_type):
            origins.setdefault(id(stats), stats)
            from_origins += 1
        else:
            plain = True
        if needs:
            continue
        ctx = item.context
        if not (type(ctx) is SpanContext and ctx.is_valid is True):
            needs = True  # an invalid context, or one only the full path reads
            continue
        tid, sid = ctx.trace_id, ctx.span_id
        if type(tid) is not int or type(sid) is not int or not (0 <= tid < 2**128 and 0 <= sid < 2**64):
            needs = True
            continue
        if dedupe:
            needs = (tid, sid) in seen
            seen.add((tid, sid))
    return plain and needs, sum(stats.input for stats in origins.values()), from_origins


def format_traceparents(trace_ids, span_ids, trace_flags) -> list[str]:
    return [
        f"00-{t.tobytes().hex()}-{s.tobytes().hex()}-{int(f):02x}"
        for t, s, f in zip(trace_ids, span_ids, trace_flags, strict=True)
    ]


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
