"""Linear on hostile input: each case is timed against the same call on ordinary input of the
same size, and may cost only a generous multiple of it (a ratio, never an absolute time)."""

from __future__ import annotations

import time

import numpy as np

from fastlinks import LinkPolicy, LinkSet
from fastlinks.w3c import parse_tracestate

VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"
RATIO = 8  # both sides are linear; the quadratic versions were hundreds of times slower


def cost_ratio(hostile, ordinary, rounds: int = 7) -> float:
    """The hostile call's best time over the ordinary call's, their rounds interleaved: a stall of
    the machine (a busy neighbour, a collection) then spoils a round of each, never all of one."""
    best = [float("inf"), float("inf")]
    for _ in range(rounds):
        for side, call in enumerate((hostile, ordinary)):
            start = time.perf_counter()
            call()
            best[side] = min(best[side], time.perf_counter() - start)
    return best[0] / best[1]


def test_repeated_tracestate_headers_cost_what_other_headers_cost(impl):
    """40,000 tracestate headers (0.9 MB, under Kafka's 1 MB default) in one message."""
    hostile = [("traceparent", VALID)] + [("tracestate", f"k{i % 50}=value{i}") for i in range(40_000)]
    ordinary = [("traceparent", VALID)] + [("x-other-hdr", f"k{i % 50}=value{i}") for i in range(40_000)]
    ls = LinkSet.from_carriers([hostile])
    assert ls.valid.all() and not next(iter(ls)).context.trace_state  # over 32 members: empty
    assert cost_ratio(lambda: LinkSet.from_carriers([hostile]), lambda: LinkSet.from_carriers([ordinary])) < RATIO


def test_repeated_blank_tracestate_headers_are_joined_once(impl):
    hostile = [("traceparent", VALID)] + [("tracestate", " , ")] * 40_000 + [("tracestate", "k=v")]
    ordinary = [("traceparent", VALID)] + [("x-other-hdr", " , ")] * 40_000 + [("tracestate", "k=v")]
    ls = LinkSet.from_carriers([hostile])
    assert dict(next(iter(ls)).context.trace_state) == {"k": "v"}  # blank members do not count
    assert cost_ratio(lambda: LinkSet.from_carriers([hostile]), lambda: LinkSet.from_carriers([ordinary])) < RATIO


def _links_with_states(states: list[str]) -> LinkSet:
    rng = np.random.default_rng(0)
    return LinkSet.from_traceparents([f"00-{rng.bytes(16).hex()}-{rng.bytes(8).hex()}-01" for _ in states], states)


def test_a_huge_tracestate_shared_by_many_links_is_parsed_once(impl):
    """128 links whose messages carry the same 10 MB tracestate, against 128 links whose
    tracestates add up to the same 10 MB."""
    size = 10_000_000
    for huge in ("k=v" + " " * size, "a=1," * (size // 4)):
        hostile = _links_with_states([huge] * 128)
        ordinary = _links_with_states([f"k{i}=v" + " " * (size // 128) for i in range(128)])
        assert cost_ratio(lambda h=hostile: list(h), lambda o=ordinary: list(o)) < RATIO


def test_many_members_stop_the_parse_early():
    header = "a=1," * 2_500_000
    assert not parse_tracestate(header)
    short = "a=1," * 40
    assert cost_ratio(lambda: parse_tracestate(header), lambda: parse_tracestate(short + "x")) < 100


def test_keep_invalid_reads_a_shared_huge_tracestate_once(impl):
    """Invalid rows stay under keep_invalid_with_attributes when their tracestate parses."""
    size = 5_000_000
    zeros = np.zeros((64, 16), np.uint8), np.zeros((64, 8), np.uint8)
    hostile = LinkSet.from_arrays(*zeros, trace_states=["k=v" + " " * size] * 64)
    ordinary = LinkSet.from_arrays(*zeros, trace_states=[f"k{i}=v" + " " * (size // 64) for i in range(64)])
    policy = LinkPolicy(keep_invalid_with_attributes=True)
    assert len(hostile.compact(policy)) == len(ordinary.compact(policy)) == 64
    assert cost_ratio(lambda: hostile.compact(policy), lambda: ordinary.compact(policy)) < RATIO


FORMATS = ["tracecontext", "b3multi", "jaeger", "xray", "ottrace"]


def _shaped(size: int) -> list[dict[str, str]]:
    """Header values of about `size` characters shaped to stress each parser: separators everywhere,
    huge hex fields, and the Python-level int() the jaeger and xray propagators use."""
    return [
        {"b3": "-" * size},
        {"b3": "a" * size + "-" + "b" * 16},
        {"uber-trace-id": ":" * size},
        {"uber-trace-id": "0" * size + "1:2:0:1"},  # int(text, 16) on `size` digits: linear in base 16
        {"uber-trace-id": "f" * size + ":2:0:1"},  # out of range: an invalid context
        {"X-Amzn-Trace-Id": ";" * size},
        {"X-Amzn-Trace-Id": "Parent=53995c3f42cd8ad8;" * (size // 24)},
        {"X-Amzn-Trace-Id": "Root=" + "=" * size},
        {"ot-tracer-traceid": "a" * size, "ot-tracer-spanid": "1"},
        {"x-b3-traceid": "A" * size, "x-b3-spanid": "1" * size, "x-b3-sampled": "1" * size},
    ]


def test_every_format_reads_huge_values_in_linear_time(impl):
    """Eight times the bytes may cost about eight times the time (a quadratic parser: 64 times)."""
    small, large = _shaped(125_000), _shaped(1_000_000)
    links = LinkSet.from_carriers(large, formats=FORMATS)
    assert links.valid.tolist() == [False, False, False, True, False, False, False, False, False, False]
    assert (
        cost_ratio(
            lambda: LinkSet.from_carriers(large, formats=FORMATS), lambda: LinkSet.from_carriers(small, formats=FORMATS)
        )
        < 2 * 8
    )
