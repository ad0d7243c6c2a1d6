"""Counts that never lie: slices, indexes, concat and pickles of LinkSets keep
``input == invalid + duplicates + over_limit + kept``, and the span reports what was dropped."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import Link, SpanContext, TraceFlags

from fastlinks import CompactionStats, LinkPolicy, LinkProcessor, LinkSet, PerRow, start_batch_span
from fastlinks.linkset import _unpickle


def batch(n: int, seed: int = 0) -> LinkSet:
    rng = np.random.default_rng(seed)
    values = [f"00-{rng.bytes(16).hex()}-{rng.bytes(8).hex()}-0{i % 2}" for i in range(n)]
    values[::10] = ["garbage"] * len(values[::10])
    return LinkSet.from_traceparents(values + values[:20])


def span_of(links) -> object:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(LinkProcessor())
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    provider.get_tracer("t").start_span("s", links=links).end()
    return exporter.get_finished_spans()[0]


def test_a_slice_of_a_compacted_set_carries_its_parents_drops_and_the_cut(impl):
    compacted = batch(300).compact()
    part = compacted[:50]
    assert part.stats == CompactionStats(
        compacted.stats.input, compacted.stats.invalid, compacted.stats.duplicates, compacted.stats.over_limit + 78, 50
    )
    span = span_of(part)
    assert len(span.links) == 50 and span.dropped_links == compacted.stats.input - 50


def test_links_taken_one_by_one_count_what_the_span_did_not_get(impl):
    compacted = batch(300).compact()
    span = span_of([compacted[0], compacted[5]])
    assert len(span.links) == 2 and span.dropped_links == compacted.stats.input - 2


def test_a_slice_of_a_raw_set_stays_raw(impl):
    raw = batch(30)
    assert raw[:5].stats is None and len(raw[:5]) == 5


def test_concat_of_compacted_and_raw_applies_the_policy_to_the_raw_part(impl):
    compacted = batch(300, seed=1).compact()
    raw = batch(40, seed=2)
    joined = LinkSet.concat([compacted, raw], policy=LinkPolicy(max_links=10))
    raw_alone = raw.compact(LinkPolicy(max_links=10))
    assert len(joined) == 128 + 10
    assert joined.stats == CompactionStats(*(a + b for a, b in zip(compacted.stats, raw_alone.stats, strict=True)))
    assert joined.stats.input == 320 + 60


def test_concat_of_raw_sets_is_raw(impl):
    assert LinkSet.concat([batch(10), batch(10, 1)]).stats is None


@pytest.mark.parametrize(
    "counts",
    [(5, 100, 0, 0, 1), (3, 1, 1, 1, 1), (-1, 0, 0, 0, -1), (1, 0, 0, 0, True), (1.0, 0, 0, 0, 1)],
)
def test_stats_that_break_the_identity_are_refused(counts):
    with pytest.raises((ValueError, TypeError), match="CompactionStats"):
        CompactionStats(*counts)
    with pytest.raises((ValueError, TypeError), match="CompactionStats"):
        CompactionStats._make(counts)


def test_a_kernels_counts_that_do_not_add_up_are_refused():
    """compact() builds its stats from the kernel's counts checking only their sum (the kernel's
    own ints, never negative); a sum that is off still raises, naming the counts."""
    assert CompactionStats._counted(10, 1, 2, 3, 4) == CompactionStats(10, 1, 2, 3, 4)
    assert type(CompactionStats._counted(10, 1, 2, 3, 4)) is CompactionStats
    with pytest.raises(ValueError, match="input"):
        CompactionStats._counted(10, 1, 2, 3, 5)


def test_stats_replace_is_checked_too():
    with pytest.raises(ValueError, match="input"):
        CompactionStats(3, 1, 0, 0, 2)._replace(kept=5)


def test_pickle_round_trip(impl):
    compacted = LinkSet.from_traceparents(
        ["00-" + "1" * 32 + "-" + "2" * 16 + "-01"], ["k=v"], {"a": 1, "b": PerRow([2])}
    ).compact()
    back = pickle.loads(pickle.dumps(compacted))
    assert list(back) == list(compacted) or [lk.context for lk in back] == [lk.context for lk in compacted]
    assert back.stats == compacted.stats and not back.trace_ids.flags.writeable


def good_parts():
    ls = batch(10).compact()
    return list(ls.__reduce__()[1])


@pytest.mark.parametrize(
    ("index", "bad", "message"),
    [
        (0, np.zeros((3, 16), np.uint8), "span_ids has shape"),
        (0, np.zeros((9, 15), np.uint8), "trace_ids has shape"),
        (1, np.zeros((9, 8), np.int64), "span_ids must be"),
        (2, np.zeros(4, np.uint8), "trace_flags has shape"),
        (3, [True] * 9, "is_remote must be"),
        (4, ["k=v"], "trace_states"),
        (5, {"a": object()}, "attributes"),
        (6, {"a": [1]}, "a per-row column needs"),
        (7, CompactionStats(5, 0, 0, 0, 5), "stats.kept is 5"),
        (7, (9, 0, 0, 0, 9), "stats must be CompactionStats"),
        (8, -1, "attribute_limit"),
    ],
)
def test_crafted_pickles_are_refused_naming_what_is_wrong(index, bad, message):
    parts = good_parts()
    n = len(parts[0])
    if index == 0 and bad.shape[0] != n and bad.shape[1] == 16:
        parts[0] = bad  # fewer trace IDs than the other columns
    else:
        parts[index] = bad
    with pytest.raises(ValueError, match=message):
        _unpickle(*parts)


def test_index_errors_name_the_problem(impl):
    ls = batch(5)
    for bad in (1.5, "a", None):
        with pytest.raises(TypeError, match="LinkSet indices must be integers or slices"):
            ls[bad]  # type: ignore[index]
    with pytest.raises(IndexError, match="out of range"):
        ls[99]


def test_constructor_errors_name_the_argument(impl):
    with pytest.raises(TypeError, match="carriers: expected a sequence"):
        LinkSet.from_carriers(12)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="carriers: expected a sequence"):
        start_batch_span(TracerProvider().get_tracer("t"), "batch", 12)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="contexts: expected a sequence"):
        LinkSet.from_span_contexts(SpanContext(1, 2, False))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="links: expected a sequence"):
        LinkSet.from_links(Link(SpanContext(1, 2, False, TraceFlags(1))))  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="sets: expected a sequence"):
        LinkSet.concat(5)  # type: ignore[arg-type]


def test_unknown_strategy_in_a_kernel_is_a_value_error_naming_it(impl):
    ls = batch(5)
    with pytest.raises(ValueError, match=r"strategy must be one of .*'fastest'"):
        impl.compact(ls.trace_ids, ls.span_ids, ls.trace_flags, None, 1, True, "fastest", True, 0)
