"""Inputs a hostile producer can craft: for the tests (and the benchmark stage "compact, crafted IDs")."""

from __future__ import annotations

import numpy as np

from fastlinks._compact_py import _GOLDEN, _mix

_M1_INVERSE = np.uint64(pow(0xBF58476D1CE4E5B9, -1, 2**64))
_M2_INVERSE = np.uint64(pow(0x94D049BB133111EB, -1, 2**64))


def _unxorshift(y: np.ndarray, shift: int) -> np.ndarray:
    x = y
    for _ in range(64 // shift + 1):
        x = y ^ (x >> np.uint64(shift))
    return x


def _unmix(z: np.ndarray) -> np.ndarray:
    """The inverse of SplitMix64's finalizer (`_compact_py._mix`): every step of it is a bijection."""
    x = _unxorshift(z, 31) * _M2_INVERSE
    x = _unxorshift(x, 27) * _M1_INVERSE
    return _unxorshift(x, 30) - _GOLDEN


def colliding_ids(n: int, *, same_hash: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`n` distinct (trace ID, span ID) rows a hostile producer can craft, since the link hash is
    public: with `same_hash` all share one 64-bit hash; otherwise their hashes differ but share
    the low 32 bits, so a hash table indexed by them puts every row in one slot."""
    with np.errstate(over="ignore"):
        high = np.arange(1, n + 1, dtype=np.uint64)
        span = np.full(n, 7, dtype=np.uint64)
        target = np.full(n, 0xC0FFEE, dtype=np.uint64)
        if not same_hash:
            target |= high << np.uint64(32)
        low = _mix(high) ^ _unmix(_unmix(target) ^ span)  # so that mix(mix(mix(high) ^ low) ^ span) == target
    trace_ids = np.stack([high, low], axis=1).astype(">u8").view(np.uint8).reshape(n, 16)
    return trace_ids, span.astype(">u8").view(np.uint8).reshape(n, 8)
