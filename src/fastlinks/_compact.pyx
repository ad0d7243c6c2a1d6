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


cdef inline uint64_t _rotl(uint64_t x, int r) noexcept nogil:
    return (x << r) | (x >> (64 - r))


cdef inline uint64_t _table_hash(const uint8_t* t, const uint8_t* s) noexcept nogil:
    """Where a row goes in the deduplication table (its top bits): the row's three words, rotated
    apart, times the golden gamma (a fifth of the documented hash's work; a table needs no more,
    and rows crafted to collide in it only make `_dedupe` redo the pass on a keyed hash)."""
    return (_be64(t) ^ _rotl(_be64(t + 8), 21) ^ _rotl(_be64(s), 42)) * GOLDEN


cdef cnp.ndarray _row_hashes(trace_ids, span_ids, bint table, str what):
    """Each row's documented link hash, or its table hash, as a uint64 array (for tests and tools)."""
    cdef const uint8_t* t = _data(trace_ids, -1, 16, f"{what}: trace_ids")
    cdef Py_ssize_t i, n = _rows_of(trace_ids)
    cdef const uint8_t* s = _data(span_ids, n, 8, f"{what}: span_ids")
    cdef cnp.ndarray out = _empty(n, 0, cnp.NPY_UINT64)
    cdef uint64_t* h = <uint64_t*>cnp.PyArray_DATA(out)
    with nogil:
        for i in range(n):
            h[i] = _table_hash(t + 16 * i, s + 8 * i) if table else _link_hash(t + 16 * i, s + 8 * i)
    return out


def link_hash(trace_ids, span_ids):
    return _row_hashes(trace_ids, span_ids, False, "link_hash")


def table_hash(trace_ids, span_ids):
    return _row_hashes(trace_ids, span_ids, True, "table_hash")


# ---------------------------------------------------------------- compaction

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
                             const int32_t* rows, Py_ssize_t valid, Py_ssize_t budget, int32_t* table) noexcept nogil:
    """Open addressing on `hashes` in `table` (room for `_table_cap(valid)` slots) over the `valid`
    rows listed in `rows`, in row order: marks every later repeat as dropped and returns their
    number; OVER_BUDGET (marks undone) once probing takes more than `budget` steps."""
    cdef Py_ssize_t j, i, cap = _table_cap(valid), duplicates = 0, steps = 0
    cdef uint64_t mask, slot
    cdef int32_t other
    cdef int shift = 64
    memset(table, 0xFF, cap * sizeof(int32_t))
    mask = cap - 1
    while (<Py_ssize_t>1 << (64 - shift)) < cap:
        shift -= 1
    for j in range(valid):
        i = rows[j]
        slot = hashes[i] >> shift  # the top bits: a product's best mixed
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
            for j in range(valid):  # undone: every listed row was valid
                cls[rows[j]] = 1
            return OVER_BUDGET
    return duplicates


cdef uint64_t _TABLE_KEY = int.from_bytes(os.urandom(8), "little")  # secret, fixed for the process


cdef Py_ssize_t _dedupe(const uint8_t* tid, const uint8_t* sid, uint8_t* cls, const uint64_t* hashes,
                        Py_ssize_t n, const int32_t* rows, Py_ssize_t valid, int32_t* table) noexcept nogil:
    """Marks every later repeat of the valid rows (listed in `rows`) as dropped (cls 0) and returns
    their number, or NO_MEMORY. The table hash is public, so headers from an attacker can be made to
    collide in it and turn probing quadratic; when probing takes far longer than random IDs ever need,
    the pass is redone on a hash keyed with a per-process secret. The rows marked are the same
    either way."""
    cdef Py_ssize_t j, result
    cdef uint64_t* keyed
    result = _dedupe_pass(tid, sid, cls, hashes, rows, valid, 8 * valid + 1024, table)
    if result != OVER_BUDGET:
        return result
    keyed = <uint64_t*>PyMem_RawMalloc(n * sizeof(uint64_t) + 1)
    if keyed == NULL:
        return NO_MEMORY
    for j in range(valid):
        keyed[rows[j]] = _link_hash(tid + 16 * rows[j], sid + 8 * rows[j], _TABLE_KEY)
    result = _dedupe_pass(tid, sid, cls, keyed, rows, valid, PY_SSIZE_T_MAX, table)
    PyMem_RawFree(keyed)
    return result


cdef enum:
    FEW = 24  # keys left in question that `_kth_key` sorts rather than splits again


cdef inline int _bucket(const Py_ssize_t* counts, Py_ssize_t* need) noexcept nogil:
    """The byte whose bucket holds the need-th smallest of the keys counted (0 < need <= their
    number); `need` becomes its rank within that bucket."""
    cdef int b = 0
    while counts[b] < need[0]:
        need[0] -= counts[b]
        b += 1
    return b


cdef uint64_t _kth_key(const uint64_t* keys, Py_ssize_t count, Py_ssize_t k, int32_t* part,
                       Py_ssize_t* ties) noexcept nogil:
    """The k-th smallest of keys[0:count] (0 < k <= count), and in `ties` how many keys equal to it
    are among the k smallest. Radix selection a byte at a time from the top: each pass counts the
    keys still in question by their next byte and keeps the one bucket the k-th falls in, so it
    takes at most 8 passes whatever the keys (random ones leave a few after the first); `part`
    (room for `count`) lists the keys still in question."""
    cdef Py_ssize_t counts[256]
    cdef Py_ssize_t j, m, kept, need = k
    cdef int shift, b
    cdef uint64_t top
    cdef int32_t idx
    memset(counts, 0, sizeof(counts))  # the first pass reads the keys in place
    for j in range(count):
        counts[keys[j] >> 56] += 1
    b = _bucket(counts, &need)
    m = 0
    for j in range(count):
        part[m] = <int32_t>j
        m += <int>((keys[j] >> 56) == <uint64_t>b)
    shift = 48
    while True:
        if m <= FEW:  # the rest in order: insertion sort of the few keys left
            for j in range(1, m):
                idx = part[j]
                kept = j
                while kept > 0 and keys[part[kept - 1]] > keys[idx]:
                    part[kept] = part[kept - 1]
                    kept -= 1
                part[kept] = idx
            top = keys[part[need - 1]]
            ties[0] = 0
            for j in range(need):
                ties[0] += keys[part[j]] == top
            return top
        memset(counts, 0, sizeof(counts))
        for j in range(m):
            counts[(keys[part[j]] >> shift) & 0xFF] += 1
        b = _bucket(counts, &need)
        kept = 0
        for j in range(m):  # the bucket's keys, listed without a branch
            idx = part[j]
            part[kept] = idx
            kept += <int>(((keys[idx] >> shift) & 0xFF) == <uint64_t>b)
        m = kept
        if shift == 0:  # every key left is the same: the k-th
            ties[0] = need
            return keys[part[0]]
        shift -= 8


cdef void _pick(const int32_t* rows, Py_ssize_t count, Py_ssize_t stride, Py_ssize_t k, uint8_t* cls,
                int strategy, const uint8_t* t, const uint8_t* s, uint64_t seed, uint64_t* keys,
                int32_t* part) noexcept nogil:
    """Marks (cls 1) the `k` best of `count` rows of one tier (rows[0], rows[stride], ..., in row
    order) by (strategy key, row); 0 < k < count. `keys` and `part` have room for `count`."""
    cdef Py_ssize_t j, ties, row
    cdef uint64_t kth, key
    if strategy == FIRST:  # the key rises with the row: the first k
        for j in range(k):
            cls[rows[j * stride]] = 1
        return
    if strategy == LAST:
        for j in range(count - k, count):
            cls[rows[j * stride]] = 1
        return
    for j in range(count):
        row = rows[j * stride]
        if strategy == RANDOM:
            keys[j] = _mix(seed + <uint64_t>row * GOLDEN)
        else:
            keys[j] = _link_hash(t + 16 * row, s + 8 * row)
    kth = _kth_key(keys, count, k, part, &ties)
    for j in range(count):  # below the k-th, or equal to it among the first `ties` such rows
        key = keys[j]
        cls[rows[j * stride]] = key < kth
        if key == kth and ties > 0:  # rare: the k-th itself, and any rows sharing its key
            cls[rows[j * stride]] = 1
            ties -= 1


cdef Py_ssize_t _cap(const uint8_t* t, const uint8_t* s, const uint8_t* flags, uint8_t* cls, Py_ssize_t n,
                     Py_ssize_t k, int strategy, bint prefer_sampled, uint64_t seed, int32_t* order,
                     uint64_t* keys, int32_t* part) noexcept nogil:
    """Keep the `k` best candidates (cls != 0) by (tier, strategy key, row); clear the others' cls.
    Tier 0 is a valid row (sampled, when preferred), 1 an unsampled one, 2 an invalid one kept for
    its data. The rows are sorted into tiers first without a branch on the data (a batch's sampled
    rows come in no order, so a branch there was mispredicted for about every other row); only the
    tier the cap cuts through is ranked (`_pick`). `order`, `keys` and `part` have room for n
    rows. Returns the rows kept."""
    cdef Py_ssize_t i, j, tier, count, stride, m0 = 0, m1 = 0, m2 = 0, room = k
    cdef uint8_t one, low, prefer = 1 if prefer_sampled else 0
    cdef const int32_t* rows
    for i in range(n):  # tier 0 from the front of `order`, tier 1 from its back (never crossing)
        one = cls[i] == 1
        low = prefer & ~flags[i] & 1
        order[m0] = <int32_t>i
        m0 += one & (low ^ 1)
        order[n - 1 - m1] = <int32_t>i
        m1 += one & low
    if m0 + m1 < k:  # every valid row is kept: the invalid ones kept for their data compete for the rest
        for i in range(n):
            if cls[i] == 2:
                order[m0 + m2] = <int32_t>i
                m2 += 1
    memset(cls, 0, n)
    for tier in range(3):
        if room == 0:
            break
        if tier == 0:
            rows, count, stride = order, m0, 1
        elif tier == 1:
            rows, count, stride = order + n - 1, m1, -1  # in row order, read backwards
        else:
            rows, count, stride = order + m0, m2, 1
        if count <= room:
            for j in range(count):
                cls[rows[j * stride]] = 1
            room -= count
        else:
            _pick(rows, count, stride, room, cls, strategy, t, s, seed, keys, part)
            room = 0
    return k - room


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
    cdef Py_ssize_t i, valid = 0, invalid = 0, duplicates = 0, candidates, kept
    cdef uint8_t* cls
    cdef int32_t* order
    cdef int32_t* part
    cdef uint8_t ok, kept_invalid
    cdef uint64_t* hashes
    if keep_invalid is not None:
        keep_invalid = np.ascontiguousarray(keep_invalid, dtype=np.bool_)
        keep = _data(keep_invalid, n, 0, "compact: keep_invalid")
    if max_links < 0:
        raise ValueError("compact: max_links must be >= 0")
    if n > 0x7FFFFFFF:
        raise ValueError("compact: at most 2**31 - 1 rows at once")

    # one block: n words (the table hashes, then the cap's ranking keys), n row numbers (the valid
    # rows for deduplication, then the cap's tiers), n more (the ranking's), n classes (0 dropped,
    # 1 valid, 2 invalid but kept), then the deduplication table, with room for every row being
    # valid; in `scratch` when given
    cdef Py_ssize_t work_bytes = (n * 17 + 8) & ~7
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
        hashes = <uint64_t*>work
        order = <int32_t*>(work + 8 * n)
        part = order + n
        cls = <uint8_t*>(part + n)
        with nogil:
            for i in range(n):  # no branch on the row (5% malformed missed a prediction each)
                ok = _nonzero(t + 16 * i, 16) & _nonzero(s + 8 * i, 8)
                kept_invalid = (ok ^ 1) & (keep != NULL and keep[i] != 0)
                cls[i] = ok | (kept_invalid << 1)
                order[valid] = <int32_t>i  # the valid rows listed, for deduplication
                valid += ok
                invalid += (ok | kept_invalid) ^ 1
                if dedupe:  # every row's, without a branch (a dropped row's is never read)
                    hashes[i] = _table_hash(t + 16 * i, s + 8 * i)
            if dedupe and valid:
                duplicates = _dedupe(t, s, cls, hashes, n, order, valid, <int32_t*>(work + work_bytes))
            candidates = n - invalid - duplicates
            kept = candidates
            if duplicates >= 0 and candidates > max_links:
                kept = _cap(t, s, f, cls, n, max_links, strat, prefer_sampled, seed, order, hashes, part)
        if duplicates < 0:
            raise MemoryError()
        return _marked_rows(cls, n, kept, order), invalid, duplicates, candidates - kept
    finally:
        if scratch is None:
            PyMem_RawFree(work)


cdef cnp.ndarray _marked_rows(const uint8_t* cls, Py_ssize_t n, Py_ssize_t count, int32_t* listed):
    """The positions of the `count` non-zero entries of cls[0:n], ascending, as an int64 array;
    listed in `listed` (room for n) first, without a branch on the data (the kept rows lie
    anywhere: a branch here missed about twice per kept row)."""
    cdef cnp.ndarray out = _empty(count, 0, cnp.NPY_INT64)
    cdef int64_t* rows = <int64_t*>cnp.PyArray_DATA(out)
    cdef Py_ssize_t i, j = 0
    with nogil:
        for i in range(n):
            listed[j] = <int32_t>i
            j += cls[i] != 0
        for j in range(count):
            rows[j] = listed[j]
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
