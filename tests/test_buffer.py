"""LinkBuffer under many threads and across a fork, and bad row attributes refused before they reach the batch."""

from __future__ import annotations

import os
import threading

import _fork
import numpy as np
import pytest

from fastlinks import LinkBuffer, LinkPolicy


def carrier(thread: int, i: int) -> dict[str, str]:
    return {"traceparent": f"00-{thread + 1:016x}{i + 1:016x}-{i + 1:016x}-01", "tracestate": f"t={thread}"}


@pytest.mark.slow
def test_eight_threads_feed_one_buffer(impl, frequent_switches):
    buf = LinkBuffer()
    per_thread = 1_000
    errors: list[BaseException] = []

    def feed(thread: int) -> None:
        try:
            for i in range(per_thread):
                buf.add_carrier(carrier(thread, i), **{"thread": thread, "i": i})
        except BaseException as error:  # any error fails the test below
            errors.append(error)

    threads = [threading.Thread(target=feed, args=(t,)) for t in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert len(buf) == 8 * per_thread
    ls = buf.to_linkset()
    # every row's columns, trace state and attributes still belong to the same message
    thread_of_row = ls.trace_ids[:, :8].view(">u8").ravel() - 1
    assert np.array_equal(np.sort(np.bincount(thread_of_row.astype(np.int64))), [per_thread] * 8)
    assert ls._per_row["thread"] == thread_of_row.tolist()
    assert ls.trace_states == [f"t={t}" for t in thread_of_row.tolist()]
    compacted = buf.compact(LinkPolicy(max_links=128))
    assert compacted.stats.input == 8 * per_thread and len(compacted) == 128


@pytest.mark.parametrize("bad", [{"bad": 1}, {1, 2}, object(), b"\xff", 2**64, ["a", 1]])
def test_a_bad_row_attribute_is_refused_naming_the_key(impl, bad):
    buf = LinkBuffer()
    buf.add_carrier(carrier(0, 0), k="fine")
    with pytest.raises((TypeError, ValueError), match="'k'"):
        buf.add_carrier(carrier(0, 1), k=bad)
    assert len(buf) == 1
    buf.add_carrier(carrier(0, 2), k=b"bytes are decoded")
    assert [lk.attributes["k"] for lk in buf.compact()] == ["fine", "bytes are decoded"]


def test_clear_and_reuse_from_threads(impl):
    buf = LinkBuffer()
    stop = threading.Event()

    def feed() -> None:
        i = 0
        while not stop.is_set():
            buf.add_carrier(carrier(1, i % 1000))
            i += 1

    worker = threading.Thread(target=feed)
    worker.start()
    try:
        for _ in range(50):
            ls = buf.compact()
            assert ls.stats.input == ls.stats.invalid + ls.stats.duplicates + ls.stats.over_limit + ls.stats.kept
            buf.clear()
    finally:
        stop.set()
        worker.join()


@pytest.mark.skipif(not hasattr(os, "fork"), reason="no fork here")
def test_a_fork_while_a_row_is_half_appended_leaves_the_child_a_whole_buffer(impl):
    """A process forked (multiprocessing, a pre-fork server) while another thread was inside
    `add_carrier`: the child's copy of the lock is held, the columns grown part-way and a row
    half-appended. The child's buffer must take new rows, holding only whole ones."""
    buf = LinkBuffer(capacity=1)
    buf.add_carrier(carrier(0, 0), i=0)

    def child_appends() -> bool:
        buf.add_carrier(carrier(0, 1), i=1)
        buf.add_carrier(carrier(0, 2))
        values = [(lk.attributes or {}).get("i") for lk in buf.compact()]
        return values == [0, 1, None] and buf.to_linkset().trace_states == ["t=0"] * 3

    with buf._lock:  # where that thread stopped: every column grown but the last; a state and a value appended
        buf._trace_ids, buf._span_ids = np.resize(buf._trace_ids, (2, 16)), np.resize(buf._span_ids, (2, 8))
        buf._flags = np.resize(buf._flags, 2)
        buf._states.append("t=half")
        buf._columns["i"].append(-1)
        pid = _fork.fork(child_appends)
    assert _fork.exit_code(pid, "the forked child hung on the buffer's lock held at fork") == 0
