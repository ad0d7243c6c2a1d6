"""from_carriers over the header shapes messaging clients hand out, and LinkBuffer."""

from __future__ import annotations

import sys
import sysconfig
from collections import OrderedDict
from types import MappingProxyType

import numpy as np
import pytest
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.trace import SpanContext, TraceFlags, TraceState, get_current_span
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from fastlinks import LinkBuffer, LinkPolicy, LinkSet, PerRow

TID = "0af7651916cd43dd8448eb211c80319c"
SID = "b7ad6b7169203331"
VALID = f"00-{TID}-{SID}-01"
OTHER = f"00-{'1' * 32}-{'2' * 16}-00"


def test_header_shapes(impl):
    carriers = [
        {"traceparent": VALID},  # dict
        MappingProxyType({"TraceParent": VALID}),  # any Mapping, any case
        OrderedDict(traceparent=VALID),
        [("traceparent", VALID.encode()), ("other", b"x")],  # confluent_kafka: list of (str, bytes)
        ((b"TRACEPARENT", VALID.encode()),),  # aiokafka: tuple of pairs, bytes keys
        [["traceparent", VALID]],  # pairs as lists
        None,  # no headers at all
        {},  # empty headers
        {"traceparent": None},  # None value counts as absent
    ]
    ls = LinkSet.from_carriers(carriers)
    assert ls.valid.tolist() == [True] * 6 + [False] * 3
    assert ls.is_remote.all() and ls.trace_flags[:6].tolist() == [1] * 6
    assert ls[3].context.trace_id == int(TID, 16)


class _Pairs(list):
    pass


class _PairTuple(tuple):
    __slots__ = ()


class _Headers(dict):  # a dict subclass: read through items()
    pass


class _Record:  # aiokafka's ConsumerRecord shape: a headers attribute
    def __init__(self, headers):
        self.headers = headers


class _Message:  # confluent-kafka's Message shape: a headers() method
    def __init__(self, headers):
        self._headers = headers

    def headers(self):
        return self._headers


def test_carrier_types_mixed_in_one_batch(impl):
    """Each carrier is read by its own type, whatever else the batch holds: the compiled parser
    settles common types without the Mapping ABC's check and asks it once per other type."""
    pair = ("traceparent", VALID.encode())
    carriers = [
        _Message([pair]),
        MappingProxyType({"traceparent": VALID}),
        _Record((pair,)),
        _Pairs([pair]),
        _PairTuple((pair,)),
        _Headers(traceparent=VALID),
        {"MessageAttributes": {"traceparent": MappingProxyType({"StringValue": VALID})}},  # any Mapping attribute
        {"traceparent": {"DataType": "String"}},  # an attribute with no value: absent
        _Message([pair, ("traceparent", b"broken")]),  # the last traceparent wins, and it is malformed
        _Record(None),
        MappingProxyType({"traceparent": OTHER}),
        _Message([("traceparent", OTHER)]),
        [("x-other", {"StringValue": VALID})],  # a mapping value under a name no format reads
    ]
    ls = LinkSet.from_carriers(carriers, formats=["tracecontext"])
    assert ls.valid.tolist() == [True] * 7 + [False] * 3 + [True, True, False]
    assert [int.from_bytes(t.tobytes(), "big") for t in ls.trace_ids[-3:-1]] == [int("1" * 32, 16)] * 2


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


@pytest.mark.parametrize(
    "repeated, expected", [("last", int("1" * 32, 16)), ("first", int(TID, 16)), ("invalid", None)]
)
def test_a_traceparent_repeated_in_a_pair_list_follows_repeated(impl, repeated, expected):
    """A consumer that re-produces with the incoming headers adds a second traceparent: by default
    the last one (the most recent hop, as OpenTelemetry Java's Kafka getter) wins."""
    ls = LinkSet.from_carriers(
        [
            [("traceparent", VALID), ("traceparent", OTHER)],
            [("traceparent", VALID), ("traceparent", None)],  # a None value is no header
            {"traceparent": VALID, "TraceParent": VALID},  # a mapping's case variants: invalid in every mode
        ],
        formats=["tracecontext"],
        repeated=repeated,
    )
    assert ls.valid.tolist() == [expected is not None, True, False]
    if expected is not None:
        assert ls[0].context.trace_id == expected


def test_repeated_must_name_a_choice():
    with pytest.raises(ValueError, match="repeated must be one of last, first, invalid; got 'newest'"):
        LinkSet.from_carriers([{}], repeated="newest")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="repeated must be one of"):
        LinkBuffer(repeated="all")  # type: ignore[arg-type]


def test_value_types(impl):
    ls = LinkSet.from_carriers(
        [
            {"traceparent": 42},
            {"traceparent": [VALID]},  # a multi-valued header (test_formats holds these to the propagators)
            {"traceparent": VALID, "tracestate": 7},
            {"traceparent": bytearray(VALID.encode())},
            {"traceparent": {VALID}},
        ]
    )
    assert ls.valid.tolist() == [False, True, False, False, False]


def test_repeated_tracestate_headers_combine(impl):
    ls = LinkSet.from_carriers(
        [
            [("traceparent", VALID), ("tracestate", "a=1"), ("TraceState", b"b=2")],
            {"traceparent": VALID, "tracestate": ""},
        ]
    )
    assert ls.trace_states[0] == "a=1,b=2"
    assert list(ls[0].context.trace_state.items()) == [("a", "1"), ("b", "2")]
    assert len(ls[1].context.trace_state) == 0


@pytest.mark.parametrize(
    "values", [["k=v", "  "], ["k=v", " , "], ["  ", "k=v"], ["k=v", ""], [" ", "a=1", "\t,", "b=2", ","]]
)
def test_blank_tracestate_headers_change_nothing(impl, values):
    """Blank tracestate values (spaces, tabs, commas) after the first are left out of the join:
    they hold only empty members, which the W3C text allows. The expected state is the official
    propagator's for the same headers without the blank ones (opentelemetry-api 1.30 discards the
    whole state for a whitespace-only member; 1.45 skips it, as the text and fastlinks do)."""
    kept = {"traceparent": VALID, "tracestate": [v for v in values if v.strip(" \t,")]}
    expected = get_current_span(TraceContextTextMapPropagator().extract(kept)).get_span_context().trace_state
    assert len(expected) > 0
    pairs = [("traceparent", VALID)] + [("tracestate", value) for value in values]
    ls = LinkSet.from_carriers([pairs, {"traceparent": VALID, "tracestate": values}])
    for link in ls:
        assert link.context.trace_state == expected
    assert ls.trace_states[0] == ls.trace_states[1] == ",".join(values[:1] + [v for v in values[1:] if v.strip(" \t,")])


def test_non_ascii_and_non_utf8_header_names_and_values(impl):
    ls = LinkSet.from_carriers(
        [
            {"traceparenté": VALID},
            {"tracepar\u0130nt": VALID},
            {b"\xfftraceparent": VALID},
            {"traceparent": VALID.encode() + b"\xff"},
            {"traceparent": "cc" + VALID[2:] + "-\xff\u20ac", "tracestate": b"a=\xff"},
        ]
    )
    assert ls.valid.tolist() == [False, False, False, False, True]
    assert len(ls[4].context.trace_state) == 0


@pytest.mark.parametrize("bad", [42, "traceparent", b"raw", object()])
def test_carrier_of_the_wrong_type_raises_naming_its_index(impl, bad):
    with pytest.raises(TypeError, match=r"carriers\[1\]"):
        LinkSet.from_carriers([{"traceparent": VALID}, bad])


@pytest.mark.parametrize("item", [("traceparent",), "traceparent", ("a", "b", "c"), 3])
def test_header_item_that_is_not_a_pair_raises_naming_the_carrier(impl, item):
    with pytest.raises(TypeError, match=r"carriers\[2\].*pairs"):
        LinkSet.from_carriers([None, {}, [("x", "y"), item]])


def test_generators_and_attributes(impl):
    ls = LinkSet.from_carriers(
        ({"traceparent": VALID} for _ in range(3)), attributes={"messaging.message.id": PerRow(["a", "b", "c"])}
    )
    assert [lk.attributes["messaging.message.id"] for lk in ls] == ["a", "b", "c"]


def test_link_buffer_collects_and_hands_over(impl):
    buf = LinkBuffer(capacity=1)
    buf.add_carrier({"traceparent": VALID, "tracestate": "a=1"}, **{"messaging.message.id": "m1"})
    buf.add_carrier([("traceparent", b"garbage")])
    buf.add_traceparent(OTHER, tracestate=b"k=v", partition=3)
    buf.add_context(SpanContext(5, 6, False, TraceFlags(1), TraceState([("s", "t")])))
    buf.add_carrier({"traceparent": VALID}, **{"messaging.message.id": "dup"})
    assert len(buf) == 5
    ls = buf.to_linkset(attributes={"link.type": "batch_item"})
    assert ls.valid.tolist() == [True, False, True, True, True]
    assert ls.is_remote.tolist() == [True, True, True, False, True]
    assert ls.trace_states == ["a=1", None, b"k=v", "s=t", None]  # raw, as each header came
    links = list(ls)
    assert links[2].context.trace_state.to_header() == "k=v"
    assert dict(links[0].attributes) == {"messaging.message.id": "m1", "link.type": "batch_item"}
    assert dict(links[2].attributes) == {"partition": 3, "link.type": "batch_item"}
    compacted = buf.compact(LinkPolicy(max_links=10))
    assert compacted.stats.input == 5 and compacted.stats.invalid == 1 and compacted.stats.duplicates == 1
    buf.clear()
    assert len(buf) == 0 and len(buf.to_linkset()) == 0
    with pytest.raises(TypeError, match=r"headers"):
        buf.add_carrier(42)
    with pytest.raises(TypeError, match=r"span_context"):
        buf.add_context("nope")
    assert len(buf) == 0, "a rejected message adds no row"


def test_link_buffer_grows_amortized(impl):
    buf = LinkBuffer(capacity=2)
    for i in range(1000):
        buf.add_traceparent(f"00-{i + 1:032x}-{i + 1:016x}-01")
    ls = buf.to_linkset()
    assert len(ls) == 1000 and ls.valid.all()
    assert int.from_bytes(ls.trace_ids[999].tobytes(), "big") == 1000
    assert np.array_equal(ls.trace_flags, np.ones(1000, np.uint8))


def test_link_buffer_judges_each_traceparent_like_from_traceparents(impl):
    pairs = [(VALID, "k=v"), (OTHER, 7), ("broken", "k=v"), (OTHER, b"a=b"), (None, None), (VALID, "")]
    buf = LinkBuffer(capacity=1)
    for value, state in pairs:
        buf.add_traceparent(value, state)
    got = buf.to_linkset()
    expected = LinkSet.from_traceparents([v for v, _ in pairs], [s for _, s in pairs])
    for column in ("trace_ids", "span_ids", "trace_flags", "is_remote"):
        assert np.array_equal(getattr(got, column), getattr(expected, column)), column
    assert [link.context.trace_state for link in got] == [link.context.trace_state for link in expected]
    assert got.valid.tolist() == [True, False, False, True, False, True]  # a state of type int voids its row
    assert dict(got[3].context.trace_state) == {"a": "b"}


_SAFE = {"__new__", "__init__", "__getattribute__", "__setattr__", "__delattr__", "__class__", "__init_subclass__"}
_SAFE |= {"__subclasshook__", "__hash__", "__eq__", "__ne__", "__repr__", "__reduce__", "__reduce_ex__", "__sizeof__"}


def _sealed(base: type) -> type:
    """A subclass of `base` whose methods (`lower`, `strip`, `decode`, `__len__`, `__str__`, ...) all
    raise: a reader may use only the value's own characters, as the compiled kernels do, never a
    method an application's subclass may have overridden (hashing and equality stay: dict keys)."""

    def refuse(self, *args, **kwargs):
        raise AssertionError(f"a method of a {base.__name__} subclass was called")

    names = [name for name in dir(base) if callable(getattr(base, name)) and name not in _SAFE]
    return type(f"Sealed{base.__name__}", (base,), dict.fromkeys(names, refuse))


SEALED_STR, SEALED_BYTES = _sealed(str), _sealed(bytes)


def _seal(text: str, as_bytes: bool) -> object:
    return SEALED_BYTES(text.encode("utf-8")) if as_bytes else SEALED_STR(text)


def _sealed_shapes(carriers: list[dict[str, str]]) -> list[object]:
    """The carriers with sealed names and values, as mappings, pairs, lists of values and SQS attributes."""
    out: list[object] = []
    for i, carrier in enumerate(carriers):
        items = [(_seal(k, i % 2 == 0), _seal(v, i % 3 == 0)) for k, v in carrier.items()]
        shape = i % 4
        if shape == 0:
            out.append(dict(items))
        elif shape == 1:
            out.append(items)
        elif shape == 2:
            out.append({k: [v] for k, v in items})
        else:
            out.append({"MessageAttributes": {k: {"DataType": "String", "StringValue": v} for k, v in items}})
    return out


def _same_links(ours: LinkSet, plain: LinkSet) -> None:
    assert ours.valid.tolist() == plain.valid.tolist()
    assert plain.valid.mean() > 0.3  # the comparison covers valid rows, not only invalid ones
    for i in np.flatnonzero(plain.valid):
        assert ours[i].context == plain[i].context


FORMATS = [["tracecontext"], ["b3multi"], ["b3"], ["jaeger"], ["xray"], ["ottrace"], ["tracecontext", "b3multi"]]


@pytest.mark.parametrize("formats", FORMATS, ids=",".join)
def test_str_and_bytes_subclasses_read_as_their_plain_values(impl, formats, global_textmap):
    """Names and values of a str or bytes subclass give what the same plain text gives, whatever
    the subclass overrides: in bulk, through a propagator called per message, and as traceparents."""
    pytest.importorskip("opentelemetry.propagators.aws")  # test_formats' official propagators (not in the minimal set)
    from test_formats import _carriers, _subclassed

    carriers = _carriers(formats, 150, seed=23)
    plain = LinkSet.from_carriers(carriers, formats=formats)
    _same_links(LinkSet.from_carriers(_sealed_shapes(carriers), formats=formats), plain)
    global_textmap(CompositePropagator([_subclassed(name) for name in formats]))
    _same_links(LinkSet.from_carriers(_sealed_shapes(carriers)), LinkSet.from_carriers(carriers))
    if formats == ["tracecontext"]:
        parents = [c["traceparent"] for c in carriers]
        states = [_seal(c.get("tracestate", ""), i % 2 == 0) for i, c in enumerate(carriers)]
        sealed = LinkSet.from_traceparents([_seal(tp, i % 3 == 0) for i, tp in enumerate(parents)], states)
        _same_links(sealed, LinkSet.from_traceparents(parents, [c.get("tracestate", "") for c in carriers]))
