"""Pure-Python twin of `_compact.pyx`: the same hashing, deduplication, cap, take and span
scan in numpy and plain Python, with the same results. Used when the compiled module is not
built or FASTLINKS_NO_EXTENSIONS=1 is set, and as the reference the compiled one is tested against.
"""

from __future__ import annotations

import numpy as np
from opentelemetry.trace import SpanContext

from ._columns import _frozen

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_STRATEGIES = ("first", "last", "random", "consistent")


def _mix(x: np.ndarray) -> np.ndarray:
    """SplitMix64 over a uint64 array: add the golden gamma, then the 64-bit finalizer."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def _be64(columns: np.ndarray, start: int) -> np.ndarray:
    return np.ascontiguousarray(columns[:, start : start + 8]).view(">u8").ravel().astype(np.uint64)


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << np.uint64(r)) | (x >> np.uint64(64 - r))


def _words(what: str, trace_ids: np.ndarray, span_ids: np.ndarray) -> tuple[np.ndarray, ...]:
    """Each row's three big-endian words: trace ID high, trace ID low, span ID."""
    n = len(trace_ids)
    if n and (trace_ids.shape[1] != 16 or span_ids.shape != (n, 8)):
        raise ValueError(f"{what} needs (N, 16) trace IDs and (N, 8) span IDs")
    if n == 0:
        return (np.empty(0, dtype=np.uint64),) * 3
    return _be64(trace_ids, 0), _be64(trace_ids, 8), _be64(span_ids, 0)


def link_hash(trace_ids: np.ndarray, span_ids: np.ndarray) -> np.ndarray:
    high, low, span = _words("link_hash", trace_ids, span_ids)
    return _mix(_mix(_mix(high) ^ low) ^ span)


def table_hash(trace_ids: np.ndarray, span_ids: np.ndarray) -> np.ndarray:
    high, low, span = _words("table_hash", trace_ids, span_ids)
    return (high ^ _rotl(low, 21) ^ _rotl(span, 42)) * _GOLDEN


def compact(
    trace_ids, span_ids, trace_flags, keep_invalid, max_links, dedupe, strategy, prefer_sampled, seed, scratch=None
):
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


def take(trace_ids, span_ids, trace_flags, is_remote, rows):
    n = len(trace_ids)
    if len(rows) and (rows.min() < 0 or rows.max() >= n):
        bad = rows[(rows < 0) | (rows >= n)][0]
        raise IndexError(f"take: row {bad} out of range for {n} rows")
    return _frozen(trace_ids[rows], span_ids[rows], trace_flags[rows], np.asarray(is_remote, dtype=bool)[rows])


def _rows(rows, what):
    """The compiled kernels' check of a row-number array: C-contiguous, 1-D, int64."""
    if not (isinstance(rows, np.ndarray) and rows.dtype == np.int64 and rows.ndim == 1 and rows.flags.c_contiguous):
        raise ValueError(f"{what}: rows must be a C-contiguous 1-D int64 array")


def take_values(values, rows):
    if not isinstance(values, list):
        raise TypeError(f"take_values: values must be a list, got {type(values).__name__}")
    _rows(rows, "take_values")
    n = len(values)
    picked = rows.tolist()
    for r in picked:
        if r < 0 or r >= n:
            raise IndexError(f"take_values: row {r} out of range for {n} values")
    return [values[r] for r in picked]


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
