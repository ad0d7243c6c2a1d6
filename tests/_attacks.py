"""Inputs a hostile producer can craft: for the tests (and the benchmark stage "compact, crafted IDs")."""

from __future__ import annotations

import numpy as np

from fastlinks._compact_py import _GOLDEN, _mix

_M1_INVERSE = np.uint64(pow(0xBF58476D1CE4E5B9, -1, 2**64))
_M2_INVERSE = np.uint64(pow(0x94D049BB133111EB, -1, 2**64))
_GOLDEN_INVERSE = np.uint64(pow(int(_GOLDEN), -1, 2**64))


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


def _rotr(x: np.ndarray, r: int) -> np.ndarray:
    return (x >> np.uint64(r)) | (x << np.uint64(64 - r))


def _rows(high: np.ndarray, low: np.ndarray, span: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    trace_ids = np.stack([high, low], axis=1).astype(">u8").view(np.uint8).reshape(len(high), 16)
    return trace_ids, span.astype(">u8").view(np.uint8).reshape(len(high), 8)


def table_colliding_ids(n: int, *, same_hash: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`n` distinct rows crafted against the deduplication table's hash (`_compact.table_hash`,
    public like all of it): with `same_hash` all share one hash; otherwise their hashes differ but
    share the top 32 bits, which pick the table slot, so every row lands in one slot."""
    with np.errstate(over="ignore"):
        high = np.arange(1, n + 1, dtype=np.uint64)
        span = np.full(n, 7, dtype=np.uint64)
        target = np.full(n, 0xC0FFEE << 32, dtype=np.uint64)
        if not same_hash:
            target |= high
        mixed = target * _GOLDEN_INVERSE  # so that (high ^ rotl(low, 21) ^ rotl(span, 42)) * GOLDEN == target
        low = _rotr(mixed ^ high ^ ((span << np.uint64(42)) | (span >> np.uint64(22))), 21)
    return _rows(high, low, span)


def ids_with_link_hashes(target: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One distinct row per entry of `target` (uint64) whose documented link hash is that entry."""
    with np.errstate(over="ignore"):
        high = np.arange(1, len(target) + 1, dtype=np.uint64)
        span = np.full(len(target), 7, dtype=np.uint64)
        low = _mix(high) ^ _unmix(_unmix(target) ^ span)  # so that mix(mix(mix(high) ^ low) ^ span) == target
    return _rows(high, low, span)


def colliding_ids(n: int, *, same_hash: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """`n` distinct (trace ID, span ID) rows a hostile producer can craft, since the documented link
    hash (the "consistent" strategy's ranking key) is public: with `same_hash` all share one 64-bit
    hash; otherwise their hashes differ but share the low 32 bits."""
    target = np.full(n, 0xC0FFEE, dtype=np.uint64)
    if not same_hash:
        target |= np.arange(1, n + 1, dtype=np.uint64) << np.uint64(32)
    return ids_with_link_hashes(target)
