"""Synthetic batches of message headers, as a batch consumer sees them: for the demo and benchmarks."""

from __future__ import annotations

import numpy as np


def make_carriers(
    n: int, *, duplicates: float = 0.2, malformed: float = 0.05, sampled: float = 0.5, seed: int = 0
) -> list[dict[str, str]]:
    """`n` header dicts: a `duplicates` share re-delivers an earlier message, a `malformed` share
    has a broken traceparent, and a `sampled` share of producers set the sampled flag."""
    rng = np.random.default_rng(seed)
    trace_ids = rng.bytes(16 * n)
    span_ids = rng.bytes(8 * n)
    roll = rng.random((n, 3))
    out: list[dict[str, str]] = []
    for i in range(n):
        if out and roll[i, 0] < duplicates:
            out.append(out[int(roll[i, 1] * len(out))])
        elif roll[i, 1] < malformed:
            out.append({"traceparent": f"00-{trace_ids[16 * i : 16 * i + 16].hex()}-broken"})
        else:
            flags = "01" if roll[i, 2] < sampled else "00"
            tp = f"00-{trace_ids[16 * i : 16 * i + 16].hex()}-{span_ids[8 * i : 8 * i + 8].hex()}-{flags}"
            out.append({"traceparent": tp})
    return out
