"""Coverage-guided differential fuzzing of the parsing and compaction kernels, with atheris.

    pip install atheris
    python fuzz/fuzz_kernels.py -max_total_time=300 -rss_limit_mb=4096 fuzz/corpus

Each input becomes a batch of message-header carriers and a policy. Both kernel modules parse
and compact it; they must agree byte for byte, the counts must add up, and a TypeError may only
name a carrier. Coverage guides the search through the pure twin (instrumented by atheris), while
every input also runs through the compiled kernels; a crash there stops the run with the input.
A crash it finds becomes a test in tests/test_reliability.py.
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from fastlinks import _core_py
    from fastlinks.policy import STRATEGIES

from fastlinks import _core

NAMES = ["traceparent", "TraceParent", "tracestate", "TRACESTATE", "x"]
VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def _value(fdp: atheris.FuzzedDataProvider) -> object:
    kind = fdp.ConsumeIntInRange(0, 5)
    if kind == 0:
        return fdp.ConsumeBytes(fdp.ConsumeIntInRange(0, 80))
    if kind == 1:
        return fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 80))
    if kind == 2:  # a valid value with a few bytes changed: reaches deep into the parser
        raw = bytearray(VALID.encode())
        for _ in range(fdp.ConsumeIntInRange(0, 3)):
            raw[fdp.ConsumeIntInRange(0, len(raw) - 1)] = fdp.ConsumeIntInRange(0, 255)
        return bytes(raw).decode("latin-1") + fdp.ConsumeUnicodeNoSurrogates(fdp.ConsumeIntInRange(0, 4))
    if kind == 3:
        return None
    if kind == 4:
        return fdp.ConsumeInt(4)
    return VALID


def _key(fdp: atheris.FuzzedDataProvider) -> object:
    name = fdp.PickValueInList(NAMES)
    return name.encode() if fdp.ConsumeBool() else name


def _carrier(fdp: atheris.FuzzedDataProvider) -> object:
    kind = fdp.ConsumeIntInRange(0, 3)
    pairs = [(_key(fdp), _value(fdp)) for _ in range(fdp.ConsumeIntInRange(0, 4))]
    if kind == 0:
        return dict(pairs)
    if kind == 1:
        return pairs
    if kind == 2:
        return None
    return [pair[:1] for pair in pairs] or 7  # malformed: must raise TypeError naming the carrier


def _run(kernels, carriers, policy):
    n = len(carriers)
    try:
        tids, sids, flags, remote, states = kernels.parse_carriers(carriers)
    except TypeError as error:
        assert str(error).startswith("carriers["), error
        return ("TypeError", str(error))
    kept, invalid, duplicates, over = kernels.compact(tids, sids, flags, None, *policy)
    assert invalid + duplicates + over + len(kept) == n
    return (
        tids.tobytes(),
        sids.tobytes(),
        flags.tobytes(),
        remote.tobytes(),
        states,
        kept.tobytes(),
        invalid,
        duplicates,
        over,
    )


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    carriers = [_carrier(fdp) for _ in range(fdp.ConsumeIntInRange(0, 24))]
    policy = (
        fdp.ConsumeIntInRange(0, 12),
        fdp.ConsumeBool(),
        fdp.PickValueInList(list(STRATEGIES)),
        fdp.ConsumeBool(),
        fdp.ConsumeIntInRange(0, 2**64 - 1),
    )
    assert _run(_core, carriers, policy) == _run(_core_py, carriers, policy)


if __name__ == "__main__":
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()
