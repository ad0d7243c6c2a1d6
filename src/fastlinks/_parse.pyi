"""Types of the parsing kernels: `_parse.pyx` and its pure twin `_parse_py.py`."""

from collections.abc import Sequence

from ._columns import Columns

def parse_traceparents(values: Sequence[object], states: Sequence[object] | None = None) -> Columns:
    """New read-only columns parsed from W3C traceparent values (a bad value zeroes its row), with
    the trace state of each valid row that has one; a state neither str nor bytes voids its row."""

def parse_carriers(
    carriers: Sequence[object], formats: Sequence[str] = ("tracecontext",), repeated: str = "last"
) -> Columns:
    """New read-only columns parsed from carriers in `formats` (in order, a later valid context
    replacing an earlier one), with the raw tracestate of each row W3C gave; a name repeated in a
    list of pairs follows `repeated`; a carrier of the wrong type is a TypeError naming its index."""

FORMATS: tuple[str, ...]
"""The format names `parse_carriers` takes."""
REPEATED: tuple[str, ...]
"""The choices for a name repeated in a list of pairs: "last", "first", "invalid"."""

HEX_DECODER: str
"""Compiled module only: how this build decodes ID hex digits, "vector", "sse2" or "swar"."""
DICT_WALK: bool
"""Compiled module only: whether header dicts are read in place (CPython 3.11 to 3.13 with the
GIL, once an import-time check agreed with PyDict_Next) rather than through PyDict_Next."""
