"""Types shared by the compiled kernels (`_core.pyx`) and their pure twin (`_core_py.py`)."""

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import numpy as np
import numpy.typing as npt
from opentelemetry.trace import Link, SpanContext

U8 = npt.NDArray[np.uint8]

def link_hash(trace_ids: U8, span_ids: U8) -> npt.NDArray[np.uint64]:
    """The documented 64-bit hash of each row's (trace ID, span ID)."""

def compact(
    trace_ids: U8,
    span_ids: U8,
    trace_flags: U8,
    keep_invalid: npt.NDArray[np.bool_] | None,
    max_links: int,
    dedupe: bool,
    strategy: Literal["first", "last", "random", "consistent"] | str,
    prefer_sampled: bool,
    seed: int,
) -> tuple[npt.NDArray[np.int64], int, int, int]:
    """Kept rows in input order, then the invalid, duplicate and over-the-cap counts."""

Columns = tuple[U8, U8, U8, npt.NDArray[np.bool_], list[str | None] | None]

def take(
    trace_ids: U8, span_ids: U8, trace_flags: U8, is_remote: npt.NDArray[np.bool_], rows: npt.NDArray[np.int64]
) -> tuple[U8, U8, U8, npt.NDArray[np.bool_]]:
    """The four link columns restricted to `rows`, as new read-only arrays."""

def parse_traceparents(values: Sequence[object], states: Sequence[object] | None = None) -> Columns:
    """New read-only columns parsed from W3C traceparent values (a bad value zeroes its row), with
    the trace state of each valid row that has one; a state neither str nor bytes voids its row."""

def parse_carriers(carriers: Sequence[object]) -> Columns:
    """New read-only columns parsed from header carriers, with each valid row's raw tracestate."""

def ids_from_contexts(contexts: Sequence[SpanContext], fast: bool) -> Columns:
    """New read-only columns holding SpanContexts, with their tracestate headers. IDs that fit
    are kept even for an invalid context; `fast` reads an exact SpanContext as a tuple."""

def make_links(
    trace_ids: U8,
    span_ids: U8,
    trace_flags: U8,
    is_remote: npt.NDArray[np.bool_],
    rows: npt.NDArray[np.int64] | None,
    trace_states: list[object] | None,
    attributes: list[Mapping[str, object] | None] | Mapping[str, object] | None,
    dropped_attributes: list[int] | None,
    link_type: type[Link],
    stats: object,
    fast: bool,
) -> list[Link]:
    """One Link per row in `rows` (None: every row); per-row lists are aligned with `rows`.
    `link_type` defaults `_attributes`, `_stats` and `_dropped_attributes` as class attributes:
    they are only set on a link when given. `fast` builds contexts and links field by field
    (only when `_otel_compat` found the SDK's layout); otherwise through their constructors."""

def scan_links(
    items: Iterable[object], limit: int, dedupe: bool, link_type: type[Link], stats_type: type, fast: bool
) -> tuple[bool, int, int]:
    """For LinkProcessor, over a span's links: whether the policy must run (some link is not from a
    compacted LinkSet, and some link is invalid, repeated or over `limit`, or unreadable here), the
    summed `input` of the distinct LinkSet stats the links carry, and how many links carry one."""

def format_traceparents(trace_ids: U8, span_ids: U8, trace_flags: U8) -> list[str]:
    """Render each row as a version-00 traceparent."""

def encode_links(
    links: Iterable[Link], encode_attribute: Callable[[object, object], bytes], fast: bool, fast_attributes: bool
) -> bytes:
    """The wire bytes of a Span's repeated `links` field (13), W3C flags and trace state included;
    raises (as the stock encoder would) for a link it cannot encode."""

HEX_DECODER: str
"""Compiled module only: how this build decodes ID hex digits, "vector", "sse2" or "swar"."""
