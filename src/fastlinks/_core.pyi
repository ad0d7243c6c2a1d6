"""Types shared by the compiled kernels (`_core.pyx`) and their pure twin (`_core_py.py`)."""

from collections.abc import Mapping, Sequence
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
    strategy: Literal["first", "last", "random", "consistent"],
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

def ids_from_contexts(contexts: Sequence[SpanContext]) -> Columns:
    """New read-only columns holding SpanContexts, with their tracestate headers."""

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
) -> list[Link]:
    """One Link per row in `rows` (None: every row); per-row lists are aligned with `rows`.
    `link_type` defaults `_attributes`, `_stats` and `_dropped_attributes` as class attributes:
    they are only set on a link when given."""

def format_traceparents(trace_ids: U8, span_ids: U8, trace_flags: U8) -> list[str]:
    """Render each row as a version-00 traceparent."""

HEX_DECODER: str
"""Compiled module only: how this build decodes ID hex digits, "vector", "sse2" or "swar"."""
