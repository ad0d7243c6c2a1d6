# cython: language_level=3, freethreading_compatible=True
"""Compaction kernels: hash, deduplicate, cap and take link rows; and (in `_scan.pxi`) the scan
`LinkProcessor` runs on every span's links to tell whether the policy would change them.

`_compact_py.py` is the pure-Python twin and gives identical results; `_compact.pyi` types
both. No module-level mutable state (the secret hash key is fixed at import), so safe from
many threads, including on free-threaded CPython; `compact`'s optional scratch buffer belongs
to one caller at a time (LinkSet keeps one per thread).
"""
cimport cython
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc
from cpython.object cimport PyObject
from cpython.pyport cimport PY_SSIZE_T_MAX
from libc.stdint cimport int32_t, int64_t, uint8_t, uint64_t
from libc.string cimport memcmp, memcpy, memset

cimport numpy as cnp

from fastlinks._arrays cimport (NewColumns, _be64, _data, _empty, _frozen, _new_columns, _nonzero, _row_numbers,
                                _rows_of)

import os

import numpy as np
from opentelemetry.trace import Link, SpanContext

cnp.import_array()

cdef extern from "Python.h":
    object PyList_New(Py_ssize_t)
    PyObject* PyList_GET_ITEM(object, Py_ssize_t)  # borrowed
    void PyList_SET_ITEM(object, Py_ssize_t, PyObject*)  # steals a reference
    void Py_INCREF(PyObject*)
    int PyByteArray_Resize(object, Py_ssize_t) except -1
    char* PyByteArray_AS_STRING(object)
    Py_ssize_t PyByteArray_GET_SIZE(object)

cdef dict _STRATEGIES = {"first": 0, "last": 1, "random": 2, "consistent": 3}
cdef object _SPAN_ID_LIMIT = 2**64

cdef enum:
    FIRST = 0
    LAST = 1
    RANDOM = 2
    CONSISTENT = 3

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's gamma

cdef extern from "_ints.h":
    int fl_int_to_words(object, uint64_t*)
    int fl_int_to_word(object, uint64_t*)

# Read as a tuple only when SpanContext really is the 6-tuple subclass; `_otel_compat` checks the
# whole layout and passes `fast`.
cdef bint _CONTEXT_IS_TUPLE = issubclass(SpanContext, tuple) and SpanContext.__itemsize__ == tuple.__itemsize__


# ---------------------------------------------------------------- hashing

cdef inline uint64_t _mix(uint64_t x) noexcept nogil:
    """SplitMix64: add the golden gamma, then the 64-bit finalizer."""
    x += GOLDEN
    x = (x ^ (x >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


cdef inline uint64_t _link_hash(const uint8_t* t, const uint8_t* s, uint64_t key=0) noexcept nogil:
    """The documented link hash (key 0); another key gives a hash of the same shape nobody can predict."""
    return _mix(_mix(_mix(_be64(t) ^ key) ^ _be64(t + 8)) ^ _be64(s))


def link_hash(trace_ids, span_ids):
    cdef const uint8_t* t = _data(trace_ids, -1, 16, "link_hash: trace_ids")
    cdef Py_ssize_t i, n = _rows_of(trace_ids)
    cdef const uint8_t* s = _data(span_ids, n, 8, "link_hash: span_ids")
    cdef cnp.ndarray out = _empty(n, 0, cnp.NPY_UINT64)
    cdef uint64_t* h = <uint64_t*>cnp.PyArray_DATA(out)
    with nogil:
        for i in range(n):
            h[i] = _link_hash(t + 16 * i, s + 8 * i)
    return out


# ---------------------------------------------------------------- compaction

cdef struct _Keyed:
    uint8_t tier
    uint64_t key
    int64_t row


cdef inline bint _before(const _Keyed* a, const _Keyed* b) noexcept nogil:
    """Strict total order (tier, key, row): smaller is kept first."""
    if a.tier != b.tier:
        return a.tier < b.tier
    if a.key != b.key:
        return a.key < b.key
    return a.row < b.row


cdef void _sift_down(_Keyed* heap, Py_ssize_t size, _Keyed item) noexcept nogil:
    """Put `item` at the root of a max-heap on _before (the worst kept row at heap[0]) and
    move it down to its place, lifting the worse child into the hole at each level."""
    cdef Py_ssize_t i = 0, child
    while True:
        child = 2 * i + 1
        if child >= size:
            break
        if child + 1 < size and _before(&heap[child], &heap[child + 1]):
            child += 1
        if not _before(&item, &heap[child]):
            break
        heap[i] = heap[child]
        i = child
    heap[i] = item


cdef void _sift_up(_Keyed* heap, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t parent
    cdef _Keyed item = heap[i]
    while i > 0:
        parent = (i - 1) // 2
        if not _before(&heap[parent], &item):
            break
        heap[i] = heap[parent]
        i = parent
    heap[i] = item


cdef enum:
    NO_MEMORY = -1
    OVER_BUDGET = -2


cdef inline Py_ssize_t _table_cap(Py_ssize_t valid) noexcept nogil:
    """Slots of the open-addressing table for `valid` rows: a power of two, at least twice as many."""
    cdef Py_ssize_t cap = 16
    while cap < 2 * valid:
        cap <<= 1
    return cap


@cython.cdivision(True)
cdef Py_ssize_t _dedupe_pass(const uint8_t* tid, const uint8_t* sid, uint8_t* cls, const uint64_t* hashes,
                             Py_ssize_t n, Py_ssize_t valid, Py_ssize_t budget, int32_t* table) noexcept nogil:
    """Open addressing on `hashes` in `table` (room for `_table_cap(valid)` slots): marks every later
    repeat of a valid row as dropped and returns their number; OVER_BUDGET (marks undone) once
    probing takes more than `budget` steps."""
    cdef Py_ssize_t i, cap = _table_cap(valid), duplicates = 0, steps = 0
    cdef uint64_t mask, slot
    cdef int32_t other
    memset(table, 0xFF, cap * sizeof(int32_t))
    mask = cap - 1
    for i in range(n):
        if cls[i] != 1:
            continue
        slot = hashes[i] & mask
        while True:
            other = table[slot]
            if other < 0:
                table[slot] = <int32_t>i
                break
            if (hashes[other] == hashes[i]
                    and memcmp(tid + 16 * other, tid + 16 * i, 16) == 0
                    and memcmp(sid + 8 * other, sid + 8 * i, 8) == 0):
                cls[i] = 0
                duplicates += 1
                break
            slot = (slot + 1) & mask
            steps += 1
        if steps > budget:
            for i in range(n):  # a dropped row with non-zero IDs was a repeat: valid again
                if cls[i] == 0 and _nonzero(tid + 16 * i, 16) and _nonzero(sid + 8 * i, 8):
                    cls[i] = 1
            return OVER_BUDGET
    return duplicates


cdef uint64_t _TABLE_KEY = int.from_bytes(os.urandom(8), "little")  # secret, fixed for the process


cdef Py_ssize_t _dedupe(const uint8_t* tid, const uint8_t* sid, uint8_t* cls, const uint64_t* hashes,
                        Py_ssize_t n, Py_ssize_t valid, int32_t* table) noexcept nogil:
    """Marks every later repeat of a valid row as dropped (cls 0) and returns their number, or
    NO_MEMORY. The link hash is public, so headers from an attacker can be made to collide and
    turn probing quadratic; when probing takes far longer than random IDs ever need, the pass
    is redone on a hash keyed with a per-process secret. The rows marked are the same either way."""
    cdef Py_ssize_t i, result
    cdef uint64_t* keyed
    result = _dedupe_pass(tid, sid, cls, hashes, n, valid, 8 * valid + 1024, table)
    if result != OVER_BUDGET:
        return result
    keyed = <uint64_t*>PyMem_RawMalloc(n * sizeof(uint64_t) + 1)
    if keyed == NULL:
        return NO_MEMORY
    for i in range(n):
        if cls[i] == 1:
            keyed[i] = _link_hash(tid + 16 * i, sid + 8 * i, _TABLE_KEY)
    result = _dedupe_pass(tid, sid, cls, keyed, n, valid, PY_SSIZE_T_MAX, table)
    PyMem_RawFree(keyed)
    return result


cdef Py_ssize_t _cap(const uint8_t* flags, uint8_t* cls, const uint64_t* hashes, Py_ssize_t n, Py_ssize_t k,
                     int strategy, bint prefer_sampled, uint64_t seed) noexcept nogil:
    """Keep the `k` best candidates (cls != 0) by (tier, strategy key, row); clear the others' cls.
    Returns k, or -1 when the heap cannot be allocated."""
    cdef Py_ssize_t i, size = 0
    cdef _Keyed item
    cdef _Keyed* heap = <_Keyed*>PyMem_RawMalloc((k + 1) * sizeof(_Keyed))
    if heap == NULL:
        return -1
    for i in range(n):
        if cls[i] == 0:
            continue
        item.row = i
        item.tier = 2 if cls[i] == 2 else (1 if prefer_sampled and not (flags[i] & 1) else 0)
        if size == k and (k == 0 or item.tier > heap[0].tier):
            continue  # nothing is kept, or worse than every kept row whatever its key
        if strategy == FIRST:
            item.key = <uint64_t>i
        elif strategy == LAST:
            item.key = <uint64_t>(n - 1 - i)
        elif strategy == RANDOM:
            item.key = _mix(seed + <uint64_t>i * GOLDEN)
        else:
            item.key = hashes[i]
        if size < k:
            heap[size] = item
            _sift_up(heap, size)
            size += 1
        elif k and _before(&item, &heap[0]):
            _sift_down(heap, size, item)
    memset(cls, 0, n)
    for i in range(size):
        cls[heap[i].row] = 1
    PyMem_RawFree(heap)
    return size


@cython.boundscheck(False)
@cython.wraparound(False)
def compact(trace_ids, span_ids, trace_flags, keep_invalid, Py_ssize_t max_links,
            bint dedupe, object strategy, bint prefer_sampled, uint64_t seed, bytearray scratch=None):
    cdef const uint8_t* t = _data(trace_ids, -1, 16, "compact: trace_ids")
    cdef Py_ssize_t n = _rows_of(trace_ids)
    cdef const uint8_t* s = _data(span_ids, n, 8, "compact: span_ids")
    cdef const uint8_t* f = _data(trace_flags, n, 0, "compact: trace_flags")
    cdef const uint8_t* keep = NULL
    cdef object known = _STRATEGIES.get(strategy) if isinstance(strategy, str) else None
    if known is None:
        raise ValueError(f"compact: strategy must be one of first, last, random, consistent; got {strategy!r}")
    cdef int strat = known
    cdef bint hashed = dedupe or strat == CONSISTENT
    cdef Py_ssize_t i, valid = 0, invalid = 0, duplicates = 0, candidates, kept
    cdef uint8_t* cls
    cdef uint64_t* hashes = NULL
    if keep_invalid is not None:
        keep_invalid = np.ascontiguousarray(keep_invalid, dtype=np.bool_)
        keep = _data(keep_invalid, n, 0, "compact: keep_invalid")
    if max_links < 0:
        raise ValueError("compact: max_links must be >= 0")
    if n > 0x7FFFFFFF:
        raise ValueError("compact: at most 2**31 - 1 rows at once")

    # one block: n hashes (only when needed), n classes (0 dropped, 1 valid, 2 invalid but kept),
    # then the deduplication table, with room for every row being valid; in `scratch` when given
    cdef Py_ssize_t work_bytes = (n * (9 if hashed else 1) + 8) & ~7
    cdef Py_ssize_t need = work_bytes + (<Py_ssize_t>sizeof(int32_t) * _table_cap(n) if dedupe else 0)
    cdef uint8_t* work
    if scratch is not None:
        if PyByteArray_GET_SIZE(scratch) < need:
            PyByteArray_Resize(scratch, need)
        work = <uint8_t*>PyByteArray_AS_STRING(scratch)
    else:
        work = <uint8_t*>PyMem_RawMalloc(need)
        if work == NULL:
            raise MemoryError()
    try:
        if hashed:
            hashes = <uint64_t*>work
        cls = work + (8 * n if hashed else 0)
        with nogil:
            for i in range(n):
                if _nonzero(t + 16 * i, 16) and _nonzero(s + 8 * i, 8):
                    cls[i] = 1
                    valid += 1
                elif keep != NULL and keep[i]:
                    cls[i] = 2
                else:
                    cls[i] = 0
                    invalid += 1
                    continue
                if hashed:
                    hashes[i] = _link_hash(t + 16 * i, s + 8 * i)
            if dedupe and valid:
                duplicates = _dedupe(t, s, cls, hashes, n, valid, <int32_t*>(work + work_bytes))
            candidates = n - invalid - duplicates
            kept = candidates
            if duplicates >= 0 and candidates > max_links:
                kept = _cap(f, cls, hashes, n, max_links, strat, prefer_sampled, seed)
        if duplicates < 0 or kept < 0:
            raise MemoryError()
        return _marked_rows(cls, n, kept), invalid, duplicates, candidates - kept
    finally:
        if scratch is None:
            PyMem_RawFree(work)


cdef cnp.ndarray _marked_rows(const uint8_t* cls, Py_ssize_t n, Py_ssize_t count):
    """The positions of the `count` non-zero entries of cls[0:n], ascending, as an int64 array."""
    cdef cnp.ndarray out = _empty(count, 0, cnp.NPY_INT64)
    cdef int64_t* rows = <int64_t*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, j = 0
    with nogil:
        for i in range(n):
            if cls[i]:
                rows[j] = i
                j += 1
    return out


def take(trace_ids, span_ids, trace_flags, is_remote, rows):
    """The four link columns restricted to `rows` (in bounds), gathered in one pass."""
    cdef const uint8_t* t = _data(trace_ids, -1, 16, "take: trace_ids")
    cdef Py_ssize_t j, r, n = _rows_of(trace_ids)
    cdef const uint8_t* s = _data(span_ids, n, 8, "take: span_ids")
    cdef const uint8_t* f = _data(trace_flags, n, 0, "take: trace_flags")
    cdef const uint8_t* remote = _data(is_remote, n, 0, "take: is_remote")
    cdef const int64_t* picked = _row_numbers(rows, "take")
    cdef Py_ssize_t k = _rows_of(rows)
    for j in range(k):
        if picked[j] < 0 or picked[j] >= n:
            raise IndexError(f"take: row {picked[j]} out of range for {n} rows")
    cdef NewColumns out
    cdef tuple arrays = _new_columns(k, False, &out)
    with nogil:
        for j in range(k):
            r = picked[j]
            memcpy(out.t + 16 * j, t + 16 * r, 16)
            memcpy(out.s + 8 * j, s + 8 * r, 8)
            out.f[j] = f[r]
            out.r[j] = remote[r] != 0
    return _frozen(arrays)


def take_values(values, rows):
    """A list column restricted to `rows` (in bounds), in that order: one pass, no index objects."""
    if not isinstance(values, list):  # a subclass too: its items are a list's
        raise TypeError(f"take_values: values must be a list, got {type(values).__name__}")
    cdef const int64_t* picked = _row_numbers(rows, "take_values")
    cdef Py_ssize_t j, r, k = _rows_of(rows), n = len(values)
    for j in range(k):
        if picked[j] < 0 or picked[j] >= n:
            raise IndexError(f"take_values: row {picked[j]} out of range for {n} values")
    cdef list out = PyList_New(k)
    cdef PyObject* item
    for j in range(k):
        item = PyList_GET_ITEM(values, picked[j])
        Py_INCREF(item)
        PyList_SET_ITEM(out, j, item)
    return out


include "_scan.pxi"
