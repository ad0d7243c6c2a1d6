"""compact(): validate -> deduplicate -> prefer sampled -> cap, on both kernel implementations."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from _attacks import colliding_ids, ids_with_link_hashes, table_colliding_ids
from _budget import examples
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from fastlinks import CompactionStats, LinkPolicy, LinkSet, PerRow
from fastlinks.policy import STRATEGIES

SETTINGS = settings(
    max_examples=examples(150), deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@st.composite
def link_columns(draw, max_rows=120):
    """Rows drawn from a small pool of IDs (so duplicates are common), some all-zero (invalid).

    A pool entry carries its own flags, so repeats of one link agree on them."""
    pool = draw(st.integers(1, 40))
    n = draw(st.integers(0, max_rows))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    pool_t = rng.integers(0, 256, (pool, 16), dtype=np.uint8)
    pool_s = rng.integers(0, 256, (pool, 8), dtype=np.uint8)
    zero_t = rng.random(pool) < 0.1
    zero_s = rng.random(pool) < 0.05
    pool_t[zero_t] = 0
    pool_s[zero_s] = 0
    pool_f = rng.integers(0, 4, pool).astype(np.uint8)
    pick = rng.integers(0, pool, n)
    return pool_t[pick], pool_s[pick], pool_f[pick]


def keys(ls: LinkSet) -> list[bytes]:
    return [t.tobytes() + s.tobytes() for t, s in zip(ls.trace_ids, ls.span_ids, strict=True)]


def run(impl, tids, sids, flags, policy: LinkPolicy, keep_invalid=None, seed=7):
    return impl.compact(
        tids, sids, flags, keep_invalid, policy.link_limit, policy.dedupe, policy.strategy, policy.prefer_sampled, seed
    )


@SETTINGS
@given(
    cols=link_columns(),
    max_links=st.integers(0, 60),
    strategy=st.sampled_from(STRATEGIES),
    dedupe=st.booleans(),
    prefer_sampled=st.booleans(),
)
def test_compaction_invariants(impl, cols, max_links, strategy, dedupe, prefer_sampled):
    tids, sids, flags = cols
    policy = LinkPolicy(max_links=max_links, strategy=strategy, dedupe=dedupe, prefer_sampled=prefer_sampled, seed=3)
    kept_rows, invalid, duplicates, over = run(impl, tids, sids, flags, policy)
    out = LinkSet.from_arrays(tids, sids, flags).compact(policy)
    s = out.stats
    assert s.input == len(tids) == s.invalid + s.duplicates + s.over_limit + s.kept
    assert (s.invalid, s.duplicates, s.over_limit, s.kept) == (invalid, duplicates, over, len(kept_rows))
    assert s.kept == min(max_links, len(tids) - invalid - duplicates)
    assert np.all(np.diff(kept_rows) > 0), "kept rows stay in input order"
    valid = tids.any(axis=1) & sids.any(axis=1)
    row_keys = [t.tobytes() + s.tobytes() for t, s in zip(tids, sids, strict=True)]
    assert invalid == int((~valid).sum())
    assert valid[kept_rows].all(), "every kept row is valid"
    distinct_valid = {k for k, ok in zip(row_keys, valid, strict=True) if ok}
    if dedupe:
        assert len(set(keys(out))) == len(out), "no duplicate kept"
        assert duplicates == int(valid.sum()) - len(distinct_valid)
    else:
        assert duplicates == 0
    if over and prefer_sampled and not (flags[kept_rows] & 1).all():
        # an unsampled row is kept only when every sampled candidate is
        sampled = {k for k, ok, f in zip(row_keys, valid, flags, strict=True) if ok and f & 1}
        assert sampled <= set(keys(out))


@SETTINGS
@given(
    cols=link_columns(),
    max_links=st.integers(0, 60),
    strategy=st.sampled_from(STRATEGIES),
    seed=st.integers(0, 2**64 - 1),
)
def test_implementations_are_identical(both, cols, max_links, strategy, seed):
    compiled, pure = both
    tids, sids, flags = cols
    keep = np.random.default_rng(seed % 2**32).random(len(tids)) < 0.5
    scratch = bytearray(b"\xa5" * (seed % 4000))  # work memory left by earlier batches: its contents must not matter
    for keep_invalid, prefer, dedupe in itertools.product((None, keep), (True, False), (True, False)):
        a = compiled.compact(tids, sids, flags, keep_invalid, max_links, dedupe, strategy, prefer, seed, scratch)
        b = pure.compact(tids, sids, flags, keep_invalid, max_links, dedupe, strategy, prefer, seed)
        c = compiled.compact(tids, sids, flags, keep_invalid, max_links, dedupe, strategy, prefer, seed)
        assert a[0].dtype == b[0].dtype == np.int64
        assert a[0].tobytes() == b[0].tobytes() == c[0].tobytes() and a[1:] == b[1:] == c[1:]
    assert compiled.link_hash(tids, sids).tobytes() == pure.link_hash(tids, sids).tobytes()
    assert compiled.table_hash(tids, sids).tobytes() == pure.table_hash(tids, sids).tobytes()
    assert compiled.format_traceparents(tids, sids, flags) == pure.format_traceparents(tids, sids, flags)


@SETTINGS
@given(cols=link_columns(), max_links=st.integers(0, 30), perm_seed=st.integers(0, 2**32 - 1))
def test_consistent_keeps_the_same_set_whatever_the_order(impl, cols, max_links, perm_seed):
    tids, sids, flags = cols
    order = np.random.default_rng(perm_seed).permutation(len(tids))
    policy = LinkPolicy(max_links=max_links, strategy="consistent")
    a = LinkSet.from_arrays(tids, sids, flags).compact(policy)
    b = LinkSet.from_arrays(tids[order], sids[order], flags[order]).compact(policy)
    assert sorted(keys(a)) == sorted(keys(b))


def test_consistent_hash_is_the_documented_splitmix64_chain(impl):
    """h = mix(mix(mix(T_hi) ^ T_lo) ^ S), mix = SplitMix64 (add 0x9E3779B97F4A7C15, then finalize)."""
    mask = 2**64 - 1

    def mix(x):
        x = (x + 0x9E3779B97F4A7C15) & mask
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        return x ^ (x >> 31)

    tid = bytes(range(1, 17))
    sid = bytes(range(100, 108))
    expected = mix(
        mix(mix(int.from_bytes(tid[:8], "big")) ^ int.from_bytes(tid[8:], "big")) ^ int.from_bytes(sid, "big")
    )
    got = impl.link_hash(np.frombuffer(tid, np.uint8).reshape(1, 16), np.frombuffer(sid, np.uint8).reshape(1, 8))
    assert int(got[0]) == expected


def make(n, sampled=None, seed=0):
    rng = np.random.default_rng(seed)
    tids = rng.integers(1, 256, (n, 16), dtype=np.uint8)
    sids = rng.integers(1, 256, (n, 8), dtype=np.uint8)
    flags = np.ones(n, np.uint8) if sampled is None else np.asarray(sampled, np.uint8)
    return tids, sids, flags


@pytest.mark.parametrize(("strategy", "expected"), [("first", [0, 1, 2]), ("last", [7, 8, 9])])
def test_first_and_last(impl, strategy, expected):
    tids, sids, flags = make(10)
    kept, *_ = run(impl, tids, sids, flags, LinkPolicy(max_links=3, strategy=strategy))
    assert kept.tolist() == expected


def test_prefer_sampled_over_the_cap(impl):
    tids, sids, _ = make(6)
    flags = np.array([0, 1, 0, 1, 0, 1], np.uint8)
    kept, *_ = run(impl, tids, sids, flags, LinkPolicy(max_links=3, strategy="first"))
    assert kept.tolist() == [1, 3, 5]
    kept, *_ = run(impl, tids, sids, flags, LinkPolicy(max_links=3, strategy="first", prefer_sampled=False))
    assert kept.tolist() == [0, 1, 2]


def test_random_is_seeded_and_uniform(impl):
    tids, sids, flags = make(50)
    policy = LinkPolicy(max_links=5, strategy="random", seed=11)
    a, *_ = run(impl, tids, sids, flags, policy, seed=11)
    b, *_ = run(impl, tids, sids, flags, policy, seed=11)
    c, *_ = run(impl, tids, sids, flags, policy, seed=12)
    assert a.tolist() == b.tolist() != c.tolist()
    counts = np.zeros(50)
    for seed in range(2000):
        kept, *_ = run(impl, tids, sids, flags, policy, seed=seed)
        counts[kept] += 1
    # each row is kept with p = 5/50 -> expected 200 of 2000; 6 sigma is about 80
    assert counts.min() > 120 and counts.max() < 280


def test_first_occurrence_wins_with_its_attributes(impl):
    tids, sids, flags = make(3)
    tids[2], sids[2] = tids[0], sids[0]
    ls = LinkSet.from_arrays(tids, sids, flags, attributes={"n": PerRow([0, 1, 2])}).compact()
    assert [link.attributes["n"] for link in ls] == [0, 1]
    assert ls.stats == CompactionStats(3, 0, 1, 0, 2)


def test_recompaction_keeps_counts_cumulative(impl):
    tids, sids, flags = make(20)
    tids[0] = 0
    tids[5], sids[5] = tids[6], sids[6]
    once = LinkSet.from_arrays(tids, sids, flags).compact(LinkPolicy(max_links=10))
    twice = once.compact(LinkPolicy(max_links=4))
    assert once.stats == CompactionStats(20, 1, 1, 8, 10)
    assert twice.stats == CompactionStats(20, 1, 1, 14, 4)
    assert twice.stats.dropped == 16


def test_keep_invalid_with_attributes(impl):
    tids, sids, flags = make(6)
    tids[[1, 2]] = 0
    tids[3], sids[3] = tids[4], sids[4]
    ls = LinkSet.from_arrays(
        tids,
        sids,
        flags,
        attributes={"note": PerRow([None, "why", None, None, None, None])},
        trace_states=[None, None, None, None, None, None],
    )
    kept = ls.compact(LinkPolicy(keep_invalid_with_attributes=True))
    assert kept.stats == CompactionStats(6, 1, 1, 0, 4)
    assert [lk.context.is_valid for lk in kept] == [True, False, True, True]
    capped = ls.compact(LinkPolicy(keep_invalid_with_attributes=True, max_links=3, strategy="first"))
    assert all(lk.context.is_valid for lk in capped), "invalid rows rank after valid ones"
    states = LinkSet.from_arrays(tids, sids, flags, trace_states=[None, "k=v", "bad state", None, None, None])
    kept = states.compact(LinkPolicy(keep_invalid_with_attributes=True))
    assert kept.stats.invalid == 1 and not kept[1].context.is_valid
    assert kept[1].context.trace_state.to_header() == "k=v"
    note = {"note": PerRow([None, None, "why", None, None, None])}
    both = LinkSet.from_arrays(tids, sids, flags, attributes=note, trace_states=[None, "k=v", "bad", None, None, None])
    kept = both.compact(LinkPolicy(keep_invalid_with_attributes=True))
    assert kept.stats.invalid == 0, "row 1 kept for its trace state, row 2 for its attribute"
    shared = LinkSet.from_arrays(tids, sids, flags, attributes={"note": "all"}, trace_states=[None] * 6)
    assert shared.compact(LinkPolicy(keep_invalid_with_attributes=True)).stats.invalid == 0
    every = LinkSet.from_arrays(tids, sids, flags, attributes={"note": PerRow(list("abcdef"))})
    assert every.compact(LinkPolicy(keep_invalid_with_attributes=True)).stats.invalid == 0


def test_attribute_cap_counts_dropped(impl):
    tids, sids, flags = make(2)
    ls = LinkSet.from_arrays(
        tids, sids, flags, attributes={"a": 1, "b": 2, "c": PerRow([3, 4]), "d": PerRow([5, None])}
    )
    kept = ls.compact(LinkPolicy(max_attributes_per_link=2))
    assert [dict(lk.attributes) for lk in kept] == [{"a": 1, "b": 2}, {"a": 1, "b": 2}]
    assert [lk.dropped_attributes for lk in kept] == [2, 1]
    shared_only = LinkSet.from_arrays(tids, sids, attributes={"a": 1, "b": 2, "c": 3}).compact(
        LinkPolicy(max_attributes_per_link=1)
    )
    assert [(dict(lk.attributes), lk.dropped_attributes) for lk in shared_only] == [({"a": 1}, 2)] * 2


def test_max_links_zero_keeps_nothing(impl):
    tids, sids, flags = make(4)
    out = LinkSet.from_arrays(tids, sids, flags).compact(LinkPolicy(max_links=0))
    assert len(out) == 0 and out.stats == CompactionStats(4, 0, 0, 4, 0)


def test_empty_input(impl):
    out = LinkSet.from_arrays(np.empty((0, 16), np.uint8), np.empty((0, 8), np.uint8)).compact()
    assert out.stats == CompactionStats(0, 0, 0, 0, 0)


def test_policy_reads_the_environment(monkeypatch):
    monkeypatch.delenv("FASTLINKS_LINK_LIMIT", raising=False)
    monkeypatch.delenv("OTEL_SPAN_LINK_COUNT_LIMIT", raising=False)
    monkeypatch.delenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", raising=False)
    assert LinkPolicy().link_limit == 128 and LinkPolicy().attribute_limit == 128
    monkeypatch.setenv("OTEL_SPAN_LINK_COUNT_LIMIT", "1000")
    assert LinkPolicy().link_limit == 1000
    monkeypatch.setenv("FASTLINKS_LINK_LIMIT", "64")
    assert LinkPolicy().link_limit == 64
    assert LinkPolicy(max_links=5).link_limit == 5
    monkeypatch.setenv("OTEL_LINK_ATTRIBUTE_COUNT_LIMIT", "7")
    assert LinkPolicy().attribute_limit == 7
    monkeypatch.setenv("FASTLINKS_LINK_LIMIT", "lots")
    with pytest.raises(ValueError, match="FASTLINKS_LINK_LIMIT"):
        LinkPolicy()
    monkeypatch.setenv("FASTLINKS_LINK_LIMIT", "0")
    assert LinkPolicy().link_limit == 1000


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"max_links": -1}, ValueError),
        ({"max_links": 1.5}, TypeError),
        ({"max_links": True}, TypeError),
        ({"strategy": "best"}, ValueError),
        ({"seed": -1}, ValueError),
        ({"seed": 2**64}, ValueError),
        ({"max_attributes_per_link": -3}, ValueError),
        ({"dedupe": "yes"}, TypeError),
    ],
)
def test_policy_rejects_bad_values(kwargs, error):
    with pytest.raises(error, match=next(iter(kwargs))):
        LinkPolicy(**kwargs)


@pytest.mark.parametrize("same_hash", [True, False], ids=["one-hash", "one-table-slot"])
def test_rows_crafted_against_the_table_hash_change_no_result(both, same_hash):
    """The deduplication table's hash is public, so headers can be crafted to land in one slot
    (tests/_attacks.table_colliding_ids); the compiled dedupe then switches to a secretly keyed
    hash, and must keep the same rows as the twin."""
    compiled, pure = both
    tids, sids = table_colliding_ids(3000, same_hash=same_hash)
    hashes = compiled.table_hash(tids, sids)
    assert len(np.unique(hashes if same_hash else hashes >> np.uint64(32))) == 1
    rows = np.r_[np.arange(3000), np.arange(0, 3000, 7), np.arange(5)]  # 434 repeats, in input order
    tids, sids = tids[rows], sids[rows]
    flags = (np.arange(len(rows)) % 2).astype(np.uint8)
    policy = LinkPolicy(max_links=100, seed=3)
    got = run(compiled, tids, sids, flags, policy)
    assert got[1:] == (0, 434, 3000 - 100)
    assert got[0].tolist() == run(pure, tids, sids, flags, policy)[0].tolist()


@pytest.mark.parametrize("same_hash", [True, False], ids=["one-key", "low-half-shared"])
@pytest.mark.parametrize("dedupe", [True, False])
def test_rows_crafted_against_the_link_hash_rank_as_the_twin_ranks_them(both, same_hash, dedupe):
    """The "consistent" cap ranks by the public link hash (tests/_attacks.colliding_ids): keys all
    equal, or equal in their low half, take every pass of the compiled radix selection, and ties
    go to the earliest rows, as in the twin."""
    compiled, pure = both
    tids, sids = colliding_ids(3000, same_hash=same_hash)
    assert len(np.unique(compiled.link_hash(tids, sids) & np.uint64(0xFFFFFFFF))) == 1
    rows = np.r_[np.arange(3000), np.arange(0, 3000, 7)]
    tids, sids = tids[rows], sids[rows]
    flags = (np.arange(len(rows)) % 3 == 0).astype(np.uint8)
    for max_links in (1, 100, 1000, 2999):
        policy = LinkPolicy(max_links=max_links, dedupe=dedupe)
        got, want = run(compiled, tids, sids, flags, policy), run(pure, tids, sids, flags, policy)
        assert got[0].tolist() == want[0].tolist() and got[1:] == want[1:]


@SETTINGS
@given(
    n=st.integers(1, 400),
    pool=st.integers(1, 400),
    shared=st.integers(0, 8),
    max_links=st.integers(1, 400),
    seed=st.integers(0, 2**32 - 1),
)
def test_consistent_cap_over_keys_sharing_their_top_bytes(both, n, pool, shared, max_links, seed):
    """Ranking keys that agree in their top `shared` bytes (the radix selection's every level) and
    repeat (ties, from a pool of `pool` keys): the compiled cap keeps the rows the twin keeps. The
    rows are built so that their link hashes are exactly those keys (the link hash is invertible)."""
    compiled, pure = both
    rng = np.random.default_rng(seed)
    mask = np.uint64((1 << (64 - 8 * shared)) - 1 if shared < 8 else 0)
    keys = rng.integers(0, 2**64, pool, dtype=np.uint64, endpoint=False)[rng.integers(0, pool, n)]
    target = (keys & mask) | (np.uint64(0xA5A5A5A5A5A5A5A5) & ~mask)
    tids, sids = ids_with_link_hashes(target)
    assert compiled.link_hash(tids, sids).tobytes() == target.tobytes()
    flags = np.ones(n, np.uint8)
    policy = LinkPolicy(max_links=max_links, dedupe=False)
    got, want = run(compiled, tids, sids, flags, policy), run(pure, tids, sids, flags, policy)
    assert got[0].tolist() == want[0].tolist() and got[1:] == want[1:]


def test_each_thread_keeps_its_compaction_scratch_and_lets_a_large_one_go(impl, monkeypatch):
    """`compact_rows` runs the kernel in work memory kept per thread between batches (the compiled
    kernel grows it; the twin ignores it); a block grown past SCRATCH_MAX is replaced after use."""
    from concurrent.futures import ThreadPoolExecutor

    from fastlinks import _kernels

    def batch(n: int) -> LinkSet:
        rng = np.random.default_rng(n)
        return LinkSet.from_arrays(rng.integers(1, 256, (n, 16), np.uint8), rng.integers(1, 256, (n, 8), np.uint8))

    small = batch(300)
    expected = small.compact().stats
    assert small.compact().stats == expected
    block = _kernels._SCRATCH.block
    assert (len(block) > 0) == (_kernels.IMPLEMENTATION == "cython")
    assert batch(200).compact() and _kernels._SCRATCH.block is block  # kept, whatever the batch
    with ThreadPoolExecutor(1) as pool:
        other = pool.submit(lambda: (small.compact().stats, _kernels._SCRATCH.block)).result()
    assert other[0] == expected and other[1] is not block
    monkeypatch.setattr(_kernels, "SCRATCH_MAX", 1000)
    assert batch(3000).compact().stats.kept == 128
    assert len(_kernels._SCRATCH.block) == 0
    assert (_kernels._SCRATCH.block is not block) == (_kernels.IMPLEMENTATION == "cython")


def test_take_values_gathers_a_list_column(impl):
    """A per-row attribute column restricted to kept rows, in their order; rows out of range, rows
    that are not an int64 array and values that are not a list are errors naming what was wrong."""

    class Values(list):
        pass

    values = ["a", None, 3, ("x", "y"), b"k"]
    rows = np.array([4, 0, 0, 2], np.int64)
    assert impl.take_values(values, rows) == [b"k", "a", "a", 3]
    assert impl.take_values(Values(values), rows[:1]) == [b"k"]
    assert impl.take_values([], np.array([], np.int64)) == []
    with pytest.raises(IndexError, match="row 5 out of range for 5 values"):
        impl.take_values(values, np.array([1, 5], np.int64))
    with pytest.raises(IndexError, match="row -1 out of range"):
        impl.take_values(values, np.array([-1], np.int64))
    with pytest.raises(ValueError, match="take_values: rows must be a C-contiguous 1-D int64 array"):
        impl.take_values(values, np.array([1], np.int32))
    with pytest.raises(TypeError, match="take_values: values must be a list, got tuple"):
        impl.take_values(tuple(values), rows)
