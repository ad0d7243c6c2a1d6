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

def take(
    trace_ids: U8, span_ids: U8, trace_flags: U8, is_remote: npt.NDArray[np.bool_], rows: npt.NDArray[np.int64]
) -> tuple[U8, U8, U8, npt.NDArray[np.bool_]]:
    """The four link columns restricted to `rows`."""

def parse_traceparents(values: Sequence[object], trace_ids: U8, span_ids: U8, trace_flags: U8) -> None:
    """Parse W3C traceparent values into the given columns; a bad value zeroes its row."""

def parse_carriers(carriers: Sequence[object], trace_ids: U8, span_ids: U8, trace_flags: U8) -> list[str | None] | None:
    """Parse header carriers into the columns; returns the raw tracestate per row, or None if no row has one."""

def ids_from_contexts(
    contexts: Sequence[SpanContext], trace_ids: U8, span_ids: U8, trace_flags: U8, is_remote: U8
) -> list[str | None] | None:
    """Write SpanContexts into the columns; returns their tracestate headers, or None if none has one."""

def make_links(
    trace_ids: U8,
    span_ids: U8,
    trace_flags: U8,
    is_remote: npt.NDArray[np.bool_],
    rows: npt.NDArray[np.int64],
    trace_states: list[object] | None,
    attributes: list[Mapping[str, object] | None] | Mapping[str, object] | None,
    dropped_attributes: list[int] | None,
    link_type: type[Link],
    stats: object,
) -> list[Link]:
    """Build one Link per row in `rows`: per-row lists are aligned with `rows`."""

def format_traceparents(trace_ids: U8, span_ids: U8, trace_flags: U8) -> list[str]:
    """Render each row as a version-00 traceparent."""
