"""LinkSet: constructors, input checks, the Sequence-of-Link view, pickling, concat."""

from __future__ import annotations

import gc
import pickle

import numpy as np
import pytest
from opentelemetry.trace import Link, SpanContext, TraceFlags, TraceState

from fastlinks import CompactedLinkSet, CompactionStats, LinkPolicy, LinkSet, PerRow
from fastlinks.linkset import LinkSetLink


def ids(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    tids = rng.integers(1, 256, (n, 16), dtype=np.uint8)
    sids = rng.integers(1, 256, (n, 8), dtype=np.uint8)
    return tids, sids


def test_from_arrays_columns_and_defaults(impl):
    tids, sids = ids(3)
    ls = LinkSet.from_arrays(tids, sids)
    assert ls.trace_ids.shape == (3, 16) and ls.trace_ids.dtype == np.uint8
    assert ls.span_ids.shape == (3, 8)
    assert ls.trace_flags.tolist() == [0, 0, 0]
    assert ls.is_remote.tolist() == [False, False, False]
    assert ls.stats is None
    assert len(ls) == 3


def test_links_are_real_otel_links_with_python_ints(impl):
    tids, sids = ids(2)
    ls = LinkSet.from_arrays(tids, sids, trace_flags=[1, 0], is_remote=[True, False])
    links = list(ls)
    assert all(isinstance(link, Link) for link in links)
    ctx = links[0].context
    assert type(ctx.trace_id) is int and type(ctx.span_id) is int
    assert ctx.trace_id == int.from_bytes(tids[0].tobytes(), "big")
    assert ctx.span_id == int.from_bytes(sids[0].tobytes(), "big")
    assert ctx.trace_flags == TraceFlags.SAMPLED and isinstance(ctx.trace_flags, TraceFlags)
    assert ctx.is_remote is True and ctx.is_valid
    assert links[1].context.trace_flags.sampled is False
    assert ctx == SpanContext(ctx.trace_id, ctx.span_id, True, TraceFlags(1))
    assert ls[-1].context == links[1].context


def test_trace_ids_of_every_width_come_back_exact(impl):
    """Each bit width a trace ID can have, and the edges of the kernel's 30-bit digits, round-trip
    through the columns into the Links' Python ints."""
    rng = np.random.default_rng(7)
    ids = [1, 2**64 - 1, 2**64, 2**90 - 1, 2**90, 2**120 - 1, 2**120, 2**128 - 1]
    ids += [int(rng.integers(1, 2**62)) << int(rng.integers(0, 67)) for _ in range(300)]
    ids = [i % 2**128 or 1 for i in ids]
    trace_ids = np.frombuffer(b"".join(i.to_bytes(16, "big") for i in ids), np.uint8).reshape(-1, 16)
    links = list(LinkSet.from_arrays(trace_ids, np.ones((len(ids), 8), np.uint8)))
    assert [link.context.trace_id for link in links] == ids
    assert all(type(link.context.trace_id) is int for link in links)


def test_span_ids_of_every_width_come_back_exact(impl):
    """The same for span IDs (the kernel's own 64-bit path): every width and digit edge."""
    rng = np.random.default_rng(8)
    ids = [1, 5, 256, 257, 2**30 - 1, 2**30, 2**60 - 1, 2**60, 2**63, 2**64 - 1]
    ids += [int(rng.integers(1, 2**62)) << int(rng.integers(0, 3)) for _ in range(300)]
    ids = [i % 2**64 or 1 for i in ids]
    span_ids = np.frombuffer(b"".join(i.to_bytes(8, "big") for i in ids), np.uint8).reshape(-1, 8)
    links = list(LinkSet.from_arrays(np.ones((len(ids), 16), np.uint8), span_ids))
    assert [link.context.span_id for link in links] == ids
    assert all(type(link.context.span_id) is int for link in links)


def test_uint64_words_are_big_endian_hi_lo(impl):
    tid_words = np.array([[0x0102030405060708, 0x090A0B0C0D0E0F10]], dtype=np.uint64)
    sid_words = np.array([0x1112131415161718], dtype=np.uint64)
    ls = LinkSet.from_arrays(tid_words, sid_words)
    assert ls.trace_ids[0].tobytes() == bytes(range(1, 17))
    assert ls.span_ids[0].tobytes() == bytes(range(0x11, 0x19))
    assert ls[0].context.trace_id == 0x0102030405060708090A0B0C0D0E0F10


def test_non_contiguous_arrays_are_accepted(impl):
    tids, sids = ids(10)
    ls = LinkSet.from_arrays(tids[::2], sids[::2], trace_flags=np.ones(10, np.uint8)[::2])
    assert np.array_equal(ls.trace_ids, tids[::2])
    assert ls.trace_ids.flags.c_contiguous


@pytest.mark.parametrize(
    ("kwargs", "error", "words"),
    [
        ({"trace_ids": np.zeros((2, 15), np.uint8)}, TypeError, ["trace_ids", "(N, 16)", "(2, 15)"]),
        ({"trace_ids": np.zeros((2, 16), np.int64)}, TypeError, ["trace_ids", "int64"]),
        ({"trace_ids": np.full((2, 2), np.nan)}, TypeError, ["trace_ids", "float64"]),
        ({"trace_ids": np.zeros((2, 2), np.int64) - 1}, TypeError, ["trace_ids", "uint64"]),
        ({"span_ids": np.zeros((3, 8), np.uint8)}, ValueError, ["span_ids", "2 rows", "(3, 8)"]),
        ({"span_ids": np.zeros((2, 4), np.uint8)}, TypeError, ["span_ids", "(N, 8)"]),
        ({"trace_flags": [1, 2, 3]}, ValueError, ["trace_flags", "(2,)", "(3,)"]),
        ({"trace_flags": [256, 0]}, ValueError, ["trace_flags", "[0, 255]"]),
        ({"trace_flags": [-1, 0]}, ValueError, ["trace_flags"]),
        ({"trace_flags": [0.5, 0]}, TypeError, ["trace_flags", "float64"]),
        ({"is_remote": [True]}, ValueError, ["is_remote"]),
        ({"trace_states": ["a=b"]}, ValueError, ["trace_states", "2 values"]),
        ({"trace_states": "a=b"}, TypeError, ["trace_states"]),
        ({"trace_states": [1, None]}, TypeError, ["trace_states[0]", "int"]),
    ],
)
def test_from_arrays_errors_name_the_argument(impl, kwargs, error, words):
    tids, sids = ids(2)
    args = {"trace_ids": tids, "span_ids": sids, **kwargs}
    with pytest.raises(error) as info:
        LinkSet.from_arrays(**args)
    for word in words:
        assert word in str(info.value)


def test_attributes_shared_and_per_row(impl):
    tids, sids = ids(3)
    ls = LinkSet.from_arrays(
        tids,
        sids,
        attributes={
            "link.type": "batch_item",
            "messaging.message.id": PerRow(["m0", "m1", None]),
            "item.index": PerRow(np.arange(3)),
        },
    )
    attrs = [dict(link.attributes) for link in ls]
    assert attrs[0] == {"link.type": "batch_item", "messaging.message.id": "m0", "item.index": 0}
    assert attrs[2] == {"link.type": "batch_item", "item.index": 2}
    assert all(type(a["item.index"]) is int for a in attrs)


@pytest.mark.parametrize(
    "shared",
    [{}, {"messaging.system": "kafka"}, {"link.type": "batch_item", "n": 7}],
    ids=["none shared", "one shared", "a column's key shared too"],
)
def test_each_link_gets_its_own_attribute_dict_as_the_twin_builds_it(both, shared):
    """The compiled kernel sets a row's values in place in a copy of one dict where it can (plain
    values, none None, no key also shared); every other row goes key by key. Either way: the
    twin's keys in the twin's order, its values, its GC tracking, and a dict of each link's own."""
    compiled, pure = both
    tids, sids = ids(6)
    columns = [
        ("messaging.message.id", ["m0", "m1", None, "m3", "m4", "m5"]),
        ("n", [0, 1.5, 2, None, True, 5]),
        ("tags", ["a", "b", "c", "d", ("e",), ["f"]]),
    ]
    args = (tids, sids, np.zeros(6, np.uint8), np.ones(6, bool), None, None, shared, columns, None, LinkSetLink)
    fast, twin = (kernels.make_links(*args, None, True) for kernels in (compiled, pure))
    for a, b in zip(fast, twin, strict=True):
        assert list(a.attributes.items()) == list(b.attributes.items())
        assert gc.is_tracked(a.attributes) == gc.is_tracked(b.attributes)
    fast[0].attributes["messaging.message.id"] = "changed"
    assert [link.attributes.get("messaging.message.id") for link in fast[:2]] == ["changed", "m1"]
    assert shared.get("messaging.message.id") is None


class _Str(str):
    pass


@pytest.mark.parametrize(
    "values",
    [
        [],
        ["m0", "m1", None, b"k", 3, 2.5, True, ("a",), ["b"]],
        tuple(f"m{i}" for i in range(300)),
        [_Str("a"), "a", 1, 1.0, False, None, b"", (), [], frozenset(), object, 2**70, 3j],  # past eight types
        range(5),
    ],
    ids=["empty", "mixed list", "tuple", "thirteen types", "an iterator"],
)
def test_a_column_snapshot_is_a_copy_and_its_types_as_the_twin_reads_them(both, values):
    """`snapshot` copies a per-row column and notes its value types in one pass: the same list and
    types as the twin, and a copy the caller's later changes do not reach."""
    compiled, pure = both
    given = values
    copy, kinds = compiled.snapshot(given if isinstance(given, (list, tuple)) else iter(given))
    assert (copy, kinds) == pure.snapshot(given) and [type(v) for v in copy] == [type(v) for v in given]
    assert type(copy) is list and copy is not given and kinds == frozenset(type(v) for v in given)
    if isinstance(given, list) and given:
        given[0] = "changed"
        assert copy[0] != "changed"


@pytest.mark.parametrize(
    ("attributes", "error", "word"),
    [
        ({"x": PerRow([1, 2])}, ValueError, "needs 3 values"),
        ({"x": PerRow(np.zeros((3, 2)))}, ValueError, "1-D"),
        ({"x": {"a": 1}}, TypeError, "dict"),
        ({"x": None}, TypeError, "NoneType"),
        ({"x": PerRow([object(), 1, 2])}, TypeError, "object"),
        ({"x": PerRow([[1, "a"], [1], [2]])}, TypeError, "one of"),
        ({"x": PerRow(np.zeros(3, complex))}, TypeError, "complex"),
        ({"x": 2**70}, ValueError, "64-bit"),
        ({"x": b"\xff"}, ValueError, "UTF-8"),
        ({1: "a"}, TypeError, "keys"),
        ("notamapping", TypeError, "mapping"),
    ],
)
def test_bad_attributes_raise(impl, attributes, error, word):
    tids, sids = ids(3)
    with pytest.raises(error, match=word):
        LinkSet.from_arrays(tids, sids, attributes=attributes)


def test_from_span_contexts_and_links_round_trip(impl):
    contexts = [
        SpanContext(0xABC, 0x1, True, TraceFlags(1), TraceState([("k", "v")])),
        SpanContext(0xDEF, 0x2, False, TraceFlags(0)),
        SpanContext(0, 0x3, False),  # invalid: kept as a row, counted by compact()
    ]
    ls = LinkSet.from_span_contexts(contexts)
    links = list(ls)
    assert [link.context for link in links[:2]] == contexts[:2]
    assert links[0].context.trace_state.to_header() == "k=v"
    assert not links[2].context.is_valid
    again = LinkSet.from_links([Link(contexts[0], {"a": 1}), Link(contexts[1], {"b": "x"})])
    assert [dict(link.attributes) for link in again] == [{"a": 1}, {"b": "x"}]
    with pytest.raises(TypeError, match=r"contexts\[1\]"):
        LinkSet.from_span_contexts([contexts[0], "nope"])
    with pytest.raises(TypeError, match=r"links\[0\]"):
        LinkSet.from_links([contexts[0]])


def test_sequence_protocol(impl):
    tids, sids = ids(5)
    ls = LinkSet.from_arrays(tids, sids)
    assert isinstance(ls[0], LinkSetLink)
    with pytest.raises(IndexError):
        ls[5]
    with pytest.raises(IndexError):
        ls[-6]
    part = ls[1:4]
    assert isinstance(part, LinkSet) and len(part) == 3
    assert part[0].context == ls[1].context
    assert [lk.context for lk in ls[::-2]] == [ls[4].context, ls[2].context, ls[0].context]
    assert bool(LinkSet.from_arrays(tids[:0], sids[:0])) is False


def test_columns_are_read_only(impl):
    tids, sids = ids(2)
    ls = LinkSet.from_arrays(tids, sids)
    with pytest.raises(ValueError):
        ls.trace_ids[0, 0] = 0
    tids[0, 0] = 0  # the caller's array is copied, not shared
    assert ls.trace_ids[0, 0] != 0


def test_pickle_keeps_columns_states_attributes_and_stats(impl):
    tids, sids = ids(4)
    tids[3] = tids[0]
    sids[3] = sids[0]
    ls = LinkSet.from_arrays(
        tids,
        sids,
        trace_flags=[1, 0, 1, 1],
        trace_states=["a=1", None, b"b=2", None],  # raw: a client's bytes stay bytes
        attributes={"i": PerRow([0, 1, 2, 3])},
    ).compact(LinkPolicy(max_links=2))
    blob = pickle.dumps(ls)
    back = pickle.loads(blob)
    assert back.stats == ls.stats
    assert back.trace_states == ls.trace_states == ["a=1", b"b=2"]
    assert [lk.context.trace_state.to_header() for lk in back] == ["a=1", "b=2"]
    assert np.array_equal(back.trace_ids, ls.trace_ids)
    assert [(lk.context, dict(lk.attributes)) for lk in back] == [(lk.context, dict(lk.attributes)) for lk in ls]
    big = LinkSet.from_arrays(*ids(10_000))
    assert len(pickle.dumps(big)) < 10_000 * 30  # columns, not Link objects


def test_to_traceparents_round_trips(impl):
    tids, sids = ids(3)
    ls = LinkSet.from_arrays(tids, sids, trace_flags=[0, 1, 3])
    tps = ls.to_traceparents()
    assert tps[1] == f"00-{tids[1].tobytes().hex()}-{sids[1].tobytes().hex()}-01"
    back = LinkSet.from_traceparents(tps)
    assert np.array_equal(back.trace_ids, tids) and back.trace_flags.tolist() == [0, 1, 3]


def test_concat_joins_rows_attributes_and_carries_stats(impl):
    a_t, a_s = ids(3, 1)
    b_t, b_s = ids(2, 2)
    a = LinkSet.from_arrays(a_t, a_s, attributes={"k": "a", "same": 1}, trace_states=["x=1", None, None])
    b = LinkSet.from_arrays(b_t, b_s, attributes={"k": "b", "same": 1, "only_b": PerRow([5, 6])})
    joined = LinkSet.concat([a, b])
    assert len(joined) == 5 and joined.stats is None
    attrs = [dict(link.attributes) for link in joined]
    assert attrs[0] == {"same": 1, "k": "a"}
    assert attrs[4] == {"same": 1, "k": "b", "only_b": 6}
    assert joined[0].context.trace_state.to_header() == "x=1"
    compacted = a.compact(LinkPolicy(max_links=1))
    mixed = LinkSet.concat([compacted, b])
    assert mixed.stats == CompactionStats(input=5, invalid=0, duplicates=0, over_limit=2, kept=3)
    assert len(LinkSet.concat([])) == 0
    with pytest.raises(TypeError, match=r"sets\[1\]"):
        LinkSet.concat([a, [1]])


def test_per_row_is_explicit_and_the_old_guess_is_deprecated(impl):
    tids, sids = np.ones((3, 16), np.uint8), np.arange(1, 25, dtype=np.uint8).reshape(3, 8)
    with pytest.warns(DeprecationWarning, match=r"fastlinks\.PerRow"):
        guessed = LinkSet.from_arrays(tids, sids, attributes={"id": ["a", "b", "c"]})
    assert [lk.attributes["id"] for lk in guessed] == ["a", "b", "c"]
    tagged = LinkSet.from_arrays(tids, sids, attributes={"tags": ["x", "y"], "id": PerRow([b"k0", b"k1", None])})
    assert [dict(lk.attributes) for lk in tagged] == [
        {"tags": ("x", "y"), "id": "k0"},
        {"tags": ("x", "y"), "id": "k1"},
        {"tags": ("x", "y")},
    ]  # a list of another length is one sequence value every link shares; bytes are decoded
    with pytest.raises(TypeError, match="PerRow: expected a sequence"):
        PerRow("abc")


def test_the_constructor_is_keyword_only_and_compaction_is_in_the_type(impl):
    ls = LinkSet.from_traceparents(["00-" + "1" * 32 + "-" + "2" * 16 + "-01"] * 2)
    with pytest.raises(TypeError):
        LinkSet(*ls.columns)  # type: ignore[misc]
    assert LinkSet(columns=ls.columns).stats is None and type(ls) is LinkSet
    compacted = ls.compact()
    assert isinstance(compacted, CompactedLinkSet) and compacted.stats.kept == 1
    assert isinstance(compacted[:1], CompactedLinkSet) and type(ls[:1]) is LinkSet
    with pytest.raises(ValueError, match=r"stats\.kept is 5"):
        CompactedLinkSet(columns=compacted.columns, stats=CompactionStats(5, 0, 0, 0, 5))
