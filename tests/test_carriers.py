"""from_carriers over the header shapes messaging clients hand out, and LinkBuffer."""

from __future__ import annotations

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
