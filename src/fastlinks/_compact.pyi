"""Types of the compaction kernels: `_compact.pyx` and its pure twin `_compact_py.py`."""

from collections.abc import Iterable
from typing import Any

import numpy as np
import numpy.typing as npt

_U8 = npt.NDArray[np.uint8]

def link_hash(trace_ids: _U8, span_ids: _U8) -> npt.NDArray[np.uint64]:
    """The documented 64-bit hash of each row's (trace ID, span ID)."""

def table_hash(trace_ids: _U8, span_ids: _U8) -> npt.NDArray[np.uint64]:
    """Each row's hash in the deduplication table (its top bits pick the slot): the row's three
    big-endian words, the second rotated left by 21 and the third by 42, XOR-ed, times the golden
    gamma. For tests and attack generators; results never depend on it."""

def compact(
    trace_ids: _U8,
    span_ids: _U8,
    trace_flags: _U8,
    keep_invalid: npt.NDArray[np.bool_] | None,
    max_links: int,
    dedupe: bool,
    strategy: str,
    prefer_sampled: bool,
    seed: int,
    scratch: bytearray | None = None,
) -> tuple[npt.NDArray[np.int64], int, int, int]:
    """Kept rows in input order, then the invalid, duplicate and over-the-cap counts; an unknown
    strategy is a ValueError naming it. `scratch`, if given, is work memory the compiled kernel
    grows as needed and leaves allocated for the next call (one caller at a time); the twin
    ignores it."""

def take(
    trace_ids: _U8, span_ids: _U8, trace_flags: _U8, is_remote: npt.NDArray[np.bool_], rows: npt.NDArray[np.int64]
) -> tuple[_U8, _U8, _U8, npt.NDArray[np.bool_]]:
    """The four link columns restricted to `rows`, as new read-only arrays."""

def take_values(values: list[Any], rows: npt.NDArray[np.int64]) -> list[Any]:
    """A list column restricted to `rows` (in bounds), in that order."""

def scan_links(
    items: Iterable[object], limit: int, dedupe: bool, link_type: type, stats_type: type, fast: bool
) -> tuple[bool, int, int]:
    """For LinkProcessor, over a span's links: whether the policy must run (some link is not from a
    compacted LinkSet, and some link is invalid, repeated or over `limit`, or unreadable here), the
    summed `input` of the distinct LinkSet stats the links carry, and how many links carry one."""

def start_scan(span: object, config: tuple[Any, ...]) -> tuple[bool, int, int, Any, Any] | None:
    """`LinkProcessor.on_start` in one call. `config` is (list type, list attribute, deque attribute,
    seen attribute, limit, dedupe, link type, stats type, fast). None when the span needs nothing
    more (the link count is then stored on it); else `scan_links`' answer, the list and its deque."""

def links_added(span: object, config: tuple[Any, ...]) -> bool:
    """True when the span's link count (held + dropped) is not the one `start_scan` stored."""
