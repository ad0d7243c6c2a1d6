"""The compiled parser's one-pass rows (`_rows.pxi`): every shape it reads in one pass, and every
one it hands on, reads as the general path and the pure twin read it; B3's and W3C's own passes
read a batch as the twin reads each carrier alone."""

from __future__ import annotations

import sys
import sysconfig
from types import MappingProxyType

import pytest
from test_carriers import OTHER, SID, TID, VALID, _Message, _Pairs

B3 = {"x-b3-traceid": TID, "x-b3-spanid": SID, "x-b3-sampled": "1"}
DICT_SHAPES = [  # each a dict the compiled parser reads in one pass, or one it hands to its general path
    {"traceparent": VALID, "tracestate": "a=1"},
    {"traceparent": VALID, "content-type": "json", "x-b3-traceid": TID},  # headers no format asked for
    {"traceparent": VALID, "TraceParent": OTHER},  # case variants: the header is void
    {"tracestate": "a=1", "TRACESTATE": "b=2", "traceparent": VALID},  # repeated tracestate: joined
    {"traceparent": None, "tracestate": "a=1"},
    {"traceparent": VALID.encode(), "tracestate": b"a=1"},
    {"traceparent": 55},
    {"traceparent": {"StringValue": VALID}},  # an SQS attribute
    {"MessageAttributes": {"traceparent": {"stringValue": VALID}}},
    B3,
    {**B3, "tracestate": "a=1", "traceparent": OTHER},
    {**B3, "b3": f"{'1' * 32}-{'2' * 16}-0"},  # the single header wins
    {**B3, "X-B3-SpanId": SID},
    {**B3, "X-B3-TRACEID": "1" * 32},
    {**B3, "X-B3-Sampled": "0"},
    {"X-B3-TraceId": TID[16:].upper(), "x-b3-SpanID": SID, "x-b3-sampled": "d", "tracestate": "a=1"},  # any case
    {"x-b3-traceid": TID, "x-b3-sampled": "true"},  # no span ID
    {"x-b3-traceid": TID, "x-b3-spanid": SID.encode(), "x-b3-traceix": "1", "x_b3_spanid": "2"},  # names one off
    {"x-b3-traceid": TID, "x-b3-spanid": "é" * 16},
    {"x-b3-traceid": TID, "x-b3-spanid": [SID], "x-b3-sampled": "1"},
    {"x-b3-traceid": TID, "x-b3-spanid": SID[:15]},
    {**B3, "x-b3-sampled": None},
    {**B3, "x-b3-flags": b"1", "x-b3-sampled": "0"},
    {**B3, "x-b3-traceid": "0" * 32},  # b3's invalid context replaces an earlier one
    {"ot-tracer-traceid": TID[16:], "ot-tracer-spanid": SID, "ot-tracer-sampled": "true", "traceparent": OTHER},
]


@pytest.mark.parametrize(
    "formats",
    [("tracecontext",), ("b3multi",), ("tracecontext", "b3multi"), ("b3", "tracecontext"), ("ottrace", "b3")],
)
def test_a_dict_reads_as_any_other_mapping_of_the_same_headers(impl, formats):
    """The compiled parser reads plain dicts of str/bytes headers in one pass; every dict, whether
    it takes that pass or not, gives what the same headers give as another kind of Mapping."""
    as_dicts = impl.parse_carriers(DICT_SHAPES, formats)
    as_mappings = impl.parse_carriers([MappingProxyType(d) for d in DICT_SHAPES], formats)
    for a, b in zip(as_dicts[:4], as_mappings[:4], strict=True):
        assert (a == b).all()
    assert as_dicts[4] == as_mappings[4]
    assert as_dicts[0].any()  # something was read


PAIR_SHAPES = [  # B3 pair lists the compiled parser reads in one pass, or hands to its general path
    list(B3.items()),
    [*B3.items(), ("x-b3-traceid", "1" * 32)],  # a name repeated: `repeated` decides
    [*B3.items(), ("X-B3-SpanId", "2" * 16)],
    [*B3.items(), ("x-b3-sampled", "0")],
    [("x-b3-traceid", None), *B3.items()],
    [("X-B3-TRACEID", TID.upper()), ("x-b3-spanid", SID), ("tracestate", "a=1"), ("x-b3-sampled", "true")],
    [("x-b3-traceid", TID), ("x-b3-spanid", SID.encode())],
    [("x-b3-traceid", TID), ("x-b3-spanid", SID), ("b3", "0")],
    [("x-b3-traceid", TID), ("x-b3-spanid", SID), ("x-b3-flags", "1")],
    [("x-b3-traceid", TID), (7, "x"), ("x-b3-spanid", SID)],
    (("x-b3-traceid", TID[16:]), ("x-b3-spanid", SID)),
]


@pytest.mark.parametrize("repeated", ["last", "first", "invalid"])
def test_a_pair_list_reads_as_its_general_path_reads_it(impl, repeated):
    """Pair lists read in one pass give what the general path gives for the same pairs in a list
    subclass, whatever `repeated` says."""
    fast = impl.parse_carriers(PAIR_SHAPES, ("b3multi",), repeated)
    general = impl.parse_carriers([_Pairs(p) for p in PAIR_SHAPES], ("b3multi",), repeated)
    for a, b in zip(fast[:4], general[:4], strict=True):
        assert (a == b).all()
    assert fast[0].any(axis=1).sum() >= 5  # read, not all invalid


B3_FAST = [  # carriers B3's own pass reads whole
    B3,
    None,
    {},
    [(k.upper(), v.encode()) for k, v in B3.items()],  # confluent-kafka's bytes values, names in any case
    ((b"x-other", b"1"), ("x-b3-spanid", SID), ("x-b3-traceid", TID[16:])),
    {"x-b3-traceid": TID, "x-b3-spanid": "broken", "tracestate": "a=1"},
    {"X-B3-TraceId": TID, "x-b3-spanid": SID, "x-b3-sampled": None},
    {"x-b3-traceid": TID, "x-b3-spanid": SID, "x-b3-sampled": "0"},
    [("x-b3-traceid", TID), ("x-b3-spanid", SID), ("x-b3-sampled", b"true")],
]


@pytest.mark.parametrize("formats", [("b3multi",), ("b3", "b3multi")])
@pytest.mark.parametrize("odd", [False, True])
def test_every_carrier_of_a_b3_batch_reads_as_the_twin_reads_it_alone(both, formats, odd):
    """The compiled parser reads a B3 batch from its first carrier in a pass of its own; when a
    carrier needs another path, its usual loop reads the whole batch. Either way each carrier
    reads as the pure twin reads it alone."""
    compiled, pure = both
    batch = B3_FAST * 3
    if odd:
        batch = [*batch[:5], *DICT_SHAPES, _Message(list(B3.items())), *PAIR_SHAPES, *batch[5:]]
    whole = compiled.parse_carriers(batch, formats)
    for i, carrier in enumerate(batch):
        alone = pure.parse_carriers([carrier], formats)
        for a, b in zip(whole[:4], alone[:4], strict=True):
            assert (a[i] == b[0]).all(), (i, carrier)
    assert whole[0].any(axis=1).sum() >= 9


W3C_FAST = [  # carriers W3C's own passes read: one traceparent, or a traceparent and a tracestate
    {"traceparent": VALID},
    {"traceparent": OTHER},
    {"traceparent": VALID.encode()},
    {"TraceParent": f"  {VALID}\t"},  # another case, spaces to trim: the full comparison and _parse_value
    {"traceparent": f"00-{TID}-{SID}-01-future"},  # a longer version-00 header: invalid
    {"traceparent": "cc" + VALID[2:] + "-future"},  # a later version may carry more
    {"traceparent": VALID[:-1]},
    {"traceparent": "é" * 55},
]
W3C_WITH_STATES = [
    {"traceparent": VALID, "tracestate": "a=1"},
    {"tracestate": "b=2", "traceparent": OTHER},  # the other order
    {b"traceparent": VALID.encode(), b"TraceState": b"c=3"},
    {"traceparent": "00-" + "0" * 32 + f"-{SID}-01", "tracestate": "d=4"},  # invalid: no state noted
]
W3C_OTHER = [  # carriers the passes hand to parse_carriers' loop
    {"traceparent": None},
    {"traceparent": 55},
    {"traceparent": VALID, "content-type": "json"},
    {"traceparent": VALID, "TraceParent": OTHER},
    {"tracestate": "a=1", "TRACESTATE": "b=2", "traceparent": VALID},
    {"traceparent": VALID, "tracestate": None},
    {"tracestate": "a=1"},
    {"traceparent": [VALID]},
    [("traceparent", VALID)],
    None,
    MappingProxyType({"traceparent": VALID}),
]


@pytest.mark.parametrize("order", ["plain first", "states first", "mixed"])
def test_every_carrier_of_a_w3c_batch_reads_as_the_twin_reads_it_alone(both, order):
    """The compiled parser reads a W3C batch from its first carrier in passes of its own (dicts
    of one traceparent, then dicts with a tracestate too) up to the first carrier of another
    shape, and its usual loop reads the rest. Each carrier reads as the pure twin reads it alone,
    trace state included, wherever it stands in the batch."""
    compiled, pure = both
    if order == "plain first":
        batch = [*W3C_FAST * 2, *W3C_WITH_STATES * 2, *W3C_OTHER, *W3C_FAST, *W3C_WITH_STATES]
    elif order == "states first":
        batch = [*W3C_WITH_STATES * 2, *W3C_FAST, *W3C_OTHER, *W3C_WITH_STATES]
    else:
        batch = [c for group in zip(W3C_FAST, W3C_WITH_STATES * 2, W3C_OTHER, strict=False) for c in group]
    whole = compiled.parse_carriers(batch, ("tracecontext",))
    twin = pure.parse_carriers(batch, ("tracecontext",))
    assert all((a == b).all() for a, b in zip(whole[:4], twin[:4], strict=True)) and whole[4] == twin[4]
    for i, carrier in enumerate(batch):
        alone = pure.parse_carriers([carrier], ("tracecontext",))
        for a, b in zip(whole[:4], alone[:4], strict=True):
            assert (a[i] == b[0]).all(), (i, carrier)
        assert (whole.trace_states or [None] * len(batch))[i] == (alone.trace_states or [None])[0], (i, carrier)
    assert whole.trace_ids.any(axis=1).sum() >= 8


class _Attributes:
    """An object whose attributes are the headers: its __dict__ is a split (shared-keys) dict."""


def _layouts(headers: dict) -> list[dict]:
    """The same headers in dicts CPython lays out every way `_dict.h` reads or declines: with
    deleted entries and a two-byte index, with a key that is not a str, an instance's own dict."""
    grown = {f"pad{i}": "x" for i in range(300)} | headers
    for i in range(300):
        del grown[f"pad{i}"]
    instance = _Attributes()
    for name, value in headers.items():
        setattr(instance, name, value)
    return [dict(headers), grown, {**headers, 7: "x"}, {7: "x", **headers}, vars(instance)]


@pytest.mark.parametrize("formats", [("tracecontext",), ("b3multi",), ("tracecontext", "b3multi", "ottrace")])
def test_a_dict_reads_the_same_however_cpython_lays_it_out(impl, formats):
    shapes = [headers for headers in DICT_SHAPES if all(isinstance(name, str) for name in headers)]
    carriers = [d for headers in shapes for d in _layouts(headers)]
    dicts = impl.parse_carriers(carriers, formats)
    mappings = impl.parse_carriers([MappingProxyType(headers) for headers in shapes for _ in range(5)], formats)
    for a, b in zip(dicts[:4], mappings[:4], strict=True):
        assert (a == b).all()
    assert dicts[4] == mappings[4]
    assert dicts[0].any()


@pytest.mark.parametrize("formats", [("tracecontext",), ("tracecontext", "b3multi")])
def test_header_names_read_the_same_whether_interned_or_made_at_run_time(impl, formats):
    """The W3C names as propagators write them (interned strs) match at once in the compiled kernel;
    the same names made at run time, in another case or as bytes take the full comparison, and
    every one reads alike."""
    made = "".join(["trace", "parent"]), "".join(["trace", "state"])
    assert made[0] is not sys.intern("traceparent") and made[1] is not sys.intern("tracestate")
    names = [("traceparent", "tracestate"), made, ("TraceParent", "TRACESTATE"), (b"traceparent", b"tracestate")]
    carriers = [{tp: VALID, ts: "k=v"} for tp, ts in names] + [[(tp, VALID), (ts, "k=v")] for tp, ts in names]
    columns = impl.parse_carriers(carriers, formats)
    assert columns.trace_ids.any(axis=1).all() and columns.trace_states == ["k=v"] * len(carriers)


@pytest.mark.skipif(
    sys.implementation.name != "cpython"
    or not (3, 11) <= sys.version_info[:2] <= (3, 13)
    or bool(sysconfig.get_config_var("Py_GIL_DISABLED")),
    reason="dicts are read (and link attributes set) in place only on CPython 3.11 to 3.13 with the GIL",
)
def test_dicts_are_read_in_place_where_the_layout_is_known(both):
    """Header dicts in the parse kernel, per-row link attributes in the materialize kernel: if
    either import-time check ever disagrees with PyDict_Next (a CPython whose dict layout moved),
    fastlinks stays right but slower; this makes CI say so."""
    import fastlinks._materialize
    import fastlinks._parse

    assert fastlinks._parse.DICT_WALK is True and fastlinks._materialize.DICT_WALK is True
