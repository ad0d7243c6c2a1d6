"""Types of the parsing kernels: `_parse.pyx` and its pure twin `_parse_py.py`."""

from collections.abc import Sequence

from ._columns import Columns

def parse_traceparents(values: Sequence[object], states: Sequence[object] | None = None) -> Columns:
    """New read-only columns parsed from W3C traceparent values (a bad value zeroes its row), with
    the trace state of each valid row that has one; a state neither str nor bytes voids its row."""

def parse_carriers(carriers: Sequence[object]) -> Columns:
    """New read-only columns parsed from header carriers, with each valid row's raw tracestate;
    a carrier of the wrong type is a TypeError naming its index."""

HEX_DECODER: str
"""Compiled module only: how this build decodes ID hex digits, "vector", "sse2" or "swar"."""
