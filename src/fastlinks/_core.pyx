# cython: language_level=3, freethreading_compatible=True
"""Compiled kernels: parse, validate, deduplicate, cap and materialize links.

`_core_py.py` is the pure-Python twin and gives identical results; `_core.pyi` types both.
The kernels keep no module-level mutable state (only constant lookup tables), so they are
safe to call from many threads, including on free-threaded CPython.
"""
cimport cython
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc, PyMem_RawRealloc
from libc.string cimport memcmp, memcpy, memset

cimport numpy as cnp

from collections.abc import Mapping

import numpy as np
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE

cnp.import_array()

cdef tuple _FLAGS = tuple(TraceFlags(i) for i in range(256))
cdef const char* _HEX = b"0123456789abcdef"
cdef object _TRACE_ID_LIMIT = 2**128
cdef dict _STRATEGIES = {"first": 0, "last": 1, "random": 2, "consistent": 3}

cdef enum:
    FIRST = 0
    LAST = 1
    RANDOM = 2
    CONSISTENT = 3
    TP_LEN = 55          # len("00-" + 32 hex + "-" + 16 hex + "-" + 2 hex)

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's gamma

cdef extern from "Python.h":
    ctypedef struct PyTypeObject
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*) except NULL
    unsigned long long PyLong_AsUnsignedLongLongMask(object) except? -1
    unsigned long long PyLong_AsUnsignedLongLong(object) except? -1
    bint PyObject_TypeCheck(object, PyTypeObject*)
    object PyType_GenericAlloc(PyTypeObject*, Py_ssize_t)
    void PyTuple_SET_ITEM(object, Py_ssize_t, object)
    void Py_INCREF(object)

# ---------------------------------------------------------------- hashing

cdef inline uint64_t _mix(uint64_t x) noexcept nogil:
    """SplitMix64: add the golden gamma, then the 64-bit finalizer."""
    x += GOLDEN
    x = (x ^ (x >> 30)) * <uint64_t>0xBF58476D1CE4E5B9
    x = (x ^ (x >> 27)) * <uint64_t>0x94D049BB133111EB
    return x ^ (x >> 31)


cdef inline uint64_t _be64(const uint8_t* p) noexcept nogil:
    cdef uint64_t v = 0
    cdef int j
    for j in range(8):
        v = (v << 8) | p[j]
    return v


cdef inline bint _nonzero(const uint8_t* p, int width) noexcept nogil:
    """Any non-zero byte among `width` (8 or 16), read as native 64-bit words."""
    cdef uint64_t a, b = 0
    memcpy(&a, p, 8)
    if width == 16:
        memcpy(&b, p + 8, 8)
    return (a | b) != 0


cdef inline uint64_t _link_hash(const uint8_t* t, const uint8_t* s) noexcept nogil:
    return _mix(_mix(_mix(_be64(t)) ^ _be64(t + 8)) ^ _be64(s))


@cython.boundscheck(False)
@cython.wraparound(False)
def link_hash(const uint8_t[:, ::1] trace_ids, const uint8_t[:, ::1] span_ids):
    cdef Py_ssize_t i, n = trace_ids.shape[0]
    out = np.empty(n, dtype=np.uint64)
    cdef uint64_t[::1] h = out
    if n and (trace_ids.shape[1] != 16 or span_ids.shape[1] != 8 or span_ids.shape[0] != n):
        raise ValueError("link_hash needs (N, 16) trace IDs and (N, 8) span IDs")
    with nogil:
        for i in range(n):
            h[i] = _link_hash(&trace_ids[i, 0], &span_ids[i, 0])
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


cdef void _sift_down(_Keyed* heap, Py_ssize_t size, Py_ssize_t i) noexcept nogil:
    """Max-heap on _before: the worst kept row sits at heap[0]."""
    cdef Py_ssize_t child
    cdef _Keyed tmp
    while True:
        child = 2 * i + 1
        if child >= size:
            return
        if child + 1 < size and _before(&heap[child], &heap[child + 1]):
            child += 1
        if not _before(&heap[i], &heap[child]):
            return
        tmp = heap[i]
        heap[i] = heap[child]
        heap[child] = tmp
        i = child


cdef void _sift_up(_Keyed* heap, Py_ssize_t i) noexcept nogil:
    cdef Py_ssize_t parent
    cdef _Keyed tmp
    while i > 0:
        parent = (i - 1) // 2
        if not _before(&heap[parent], &heap[i]):
            return
        tmp = heap[i]
        heap[i] = heap[parent]
        heap[parent] = tmp
        i = parent


@cython.boundscheck(False)
@cython.wraparound(False)
@cython.cdivision(True)
cdef Py_ssize_t _dedupe(const uint8_t[:, ::1] tid, const uint8_t[:, ::1] sid,
                        uint8_t* cls, uint64_t* hashes, Py_ssize_t n) except -1 nogil:
    """Open addressing on the link hash; marks every later repeat of a valid row as dropped."""
    cdef Py_ssize_t i, valid = 0, cap = 16, duplicates = 0
    cdef uint64_t mask, slot
    cdef int64_t other
    cdef int32_t* table
    for i in range(n):
        valid += cls[i] == 1
    while cap < 2 * valid:
        cap <<= 1
    table = <int32_t*>PyMem_RawMalloc(cap * sizeof(int32_t))
    if table == NULL:
        with gil:
            raise MemoryError()
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
                    and memcmp(&tid[other, 0], &tid[i, 0], 16) == 0
                    and memcmp(&sid[other, 0], &sid[i, 0], 8) == 0):
                cls[i] = 0
                duplicates += 1
                break
            slot = (slot + 1) & mask
    PyMem_RawFree(table)
    return duplicates


@cython.boundscheck(False)
@cython.wraparound(False)
def compact(const uint8_t[:, ::1] trace_ids, const uint8_t[:, ::1] span_ids,
            const uint8_t[::1] trace_flags, keep_invalid, Py_ssize_t max_links,
            bint dedupe, str strategy, bint prefer_sampled, uint64_t seed):
    cdef Py_ssize_t n = trace_ids.shape[0]
    cdef int strat = _STRATEGIES[strategy]
    cdef const uint8_t[::1] keep
    cdef bint has_keep = keep_invalid is not None
    if has_keep:
        keep = np.ascontiguousarray(keep_invalid, dtype=np.bool_).view(np.uint8)
    if span_ids.shape[0] != n or trace_flags.shape[0] != n or (has_keep and keep.shape[0] != n):
        raise ValueError("compact: columns differ in length")
    if n and (trace_ids.shape[1] != 16 or span_ids.shape[1] != 8):
        raise ValueError("compact needs (N, 16) trace IDs and (N, 8) span IDs")
    if max_links < 0:
        raise ValueError("compact: max_links must be >= 0")
    if n > 0x7FFFFFFF:
        raise ValueError("compact: at most 2**31 - 1 rows at once")

    cls_arr = np.empty(n, dtype=np.uint8)          # 0 dropped, 1 valid, 2 invalid but kept
    hash_arr = np.empty(n, dtype=np.uint64)
    cdef uint8_t[::1] cls = cls_arr
    cdef uint64_t[::1] hashes = hash_arr
    cdef Py_ssize_t i, invalid = 0, duplicates = 0, candidates = 0, k, size = 0
    cdef _Keyed item
    cdef _Keyed* heap = NULL

    with nogil:
        for i in range(n):
            if _nonzero(&trace_ids[i, 0], 16) and _nonzero(&span_ids[i, 0], 8):
                cls[i] = 1
            elif has_keep and keep[i]:
                cls[i] = 2
            else:
                cls[i] = 0
                invalid += 1
            if dedupe or strat == CONSISTENT:
                hashes[i] = _link_hash(&trace_ids[i, 0], &span_ids[i, 0])
        if dedupe and n:
            duplicates = _dedupe(trace_ids, span_ids, &cls[0], &hashes[0], n)
        for i in range(n):
            candidates += cls[i] != 0

    if candidates <= max_links:
        return _marked_rows(cls, candidates), invalid, duplicates, 0

    k = max_links
    heap = <_Keyed*>PyMem_RawMalloc((k + 1) * sizeof(_Keyed))
    if heap == NULL:
        raise MemoryError()
    try:
        with nogil:
            for i in range(n):
                if cls[i] == 0:
                    continue
                item.row = i
                item.tier = 2 if cls[i] == 2 else (1 if prefer_sampled and not (trace_flags[i] & 1) else 0)
                if strat == FIRST:
                    item.key = <uint64_t>i
                elif strat == LAST:
                    item.key = <uint64_t>(n - 1 - i)
                elif strat == RANDOM:
                    item.key = _mix(seed + <uint64_t>i * GOLDEN)
                else:
                    item.key = hashes[i]
                if size < k:
                    heap[size] = item
                    _sift_up(heap, size)
                    size += 1
                elif k and _before(&item, &heap[0]):
                    heap[0] = item
                    _sift_down(heap, size, 0)
            for i in range(n):
                cls[i] = 0
            for i in range(size):
                cls[heap[i].row] = 1
    finally:
        PyMem_RawFree(heap)
    return _marked_rows(cls, size), invalid, duplicates, candidates - k


@cython.boundscheck(False)
@cython.wraparound(False)
cdef cnp.ndarray _marked_rows(const uint8_t[::1] cls, Py_ssize_t count):
    """The positions of the `count` non-zero entries of `cls`, ascending, as an int64 array."""
    cdef cnp.npy_intp size = count
    cdef cnp.ndarray out = cnp.PyArray_EMPTY(1, &size, cnp.NPY_INT64, 0)
    cdef int64_t[::1] rows = out
    cdef Py_ssize_t i, j = 0
    with nogil:
        for i in range(cls.shape[0]):
            if cls[i]:
                rows[j] = i
                j += 1
    return out


@cython.boundscheck(False)
@cython.wraparound(False)
def take(const uint8_t[:, ::1] trace_ids, const uint8_t[:, ::1] span_ids, const uint8_t[::1] trace_flags,
         is_remote, const int64_t[::1] rows):
    """The four link columns restricted to `rows` (in bounds), gathered in one pass."""
    cdef const uint8_t[::1] remote = np.ascontiguousarray(is_remote, dtype=np.bool_).view(np.uint8)
    cdef Py_ssize_t j, r, k = rows.shape[0], n = trace_ids.shape[0]
    cdef cnp.npy_intp dims[2]
    dims[0] = k
    dims[1] = 16
    cdef cnp.ndarray t_arr = cnp.PyArray_EMPTY(2, dims, cnp.NPY_UINT8, 0)
    dims[1] = 8
    cdef cnp.ndarray s_arr = cnp.PyArray_EMPTY(2, dims, cnp.NPY_UINT8, 0)
    cdef cnp.ndarray f_arr = cnp.PyArray_EMPTY(1, dims, cnp.NPY_UINT8, 0)
    cdef cnp.ndarray r_arr = cnp.PyArray_EMPTY(1, dims, cnp.NPY_BOOL, 0)
    cdef uint8_t[:, ::1] t = t_arr
    cdef uint8_t[:, ::1] s = s_arr
    cdef uint8_t[::1] f = f_arr
    cdef uint8_t[::1] rr = r_arr.view(np.uint8)
    for j in range(k):
        if rows[j] < 0 or rows[j] >= n:
            raise IndexError(f"take: row {rows[j]} out of range for {n} rows")
    with nogil:
        for j in range(k):
            r = rows[j]
            memcpy(&t[j, 0], &trace_ids[r, 0], 16)
            memcpy(&s[j, 0], &span_ids[r, 0], 8)
            f[j] = trace_flags[r]
            rr[j] = remote[r]
    return t_arr, s_arr, f_arr, r_arr


# ---------------------------------------------------------------- W3C traceparent

cdef int8_t _HEXVAL[256]  # lowercase hex digit values, -1 elsewhere; filled once at import
cdef int _c
for _c in range(256):
    _HEXVAL[_c] = _c - 48 if 48 <= _c <= 57 else (_c - 87 if 97 <= _c <= 102 else -1)


cdef inline uint32_t _char(int kind, const void* data, Py_ssize_t i) noexcept nogil:
    if kind == 1:
        return (<const uint8_t*>data)[i]
    if kind == 2:
        return (<const uint16_t*>data)[i]
    return (<const uint32_t*>data)[i]


cdef inline int _hex2(const uint8_t* p) noexcept nogil:
    """Two lowercase hex digits as 0..255, or -1."""
    cdef int hi = _HEXVAL[p[0]], lo = _HEXVAL[p[1]]
    if hi < 0 or lo < 0:
        return -1
    return (hi << 4) | lo


cdef bint _parse_ascii(const uint8_t* p, Py_ssize_t length,
                       uint8_t* tid, uint8_t* sid, uint8_t* flags) noexcept nogil:
    """Parse a trimmed traceparent of `length` chars; reads at most p[0:56]."""
    cdef int version, f, b, bad = 0
    cdef uint8_t any_t = 0, any_s = 0
    cdef Py_ssize_t j
    if length < TP_LEN or p[2] != 45 or p[35] != 45 or p[52] != 45:
        return False
    version = _hex2(p)
    f = _hex2(p + 53)
    if version < 0 or version == 0xFF or f < 0:
        return False
    if length > TP_LEN and (version == 0 or p[TP_LEN] != 45):
        return False
    for j in range(16):
        b = _hex2(p + 3 + 2 * j)
        bad |= b
        tid[j] = <uint8_t>b
        any_t |= <uint8_t>b
    for j in range(8):
        b = _hex2(p + 36 + 2 * j)
        bad |= b
        sid[j] = <uint8_t>b
        any_s |= <uint8_t>b
    flags[0] = <uint8_t>f
    return bad >= 0 and any_t != 0 and any_s != 0


cdef bint _parse_tp(int kind, const void* data, Py_ssize_t n,
                    uint8_t* tid, uint8_t* sid, uint8_t* flags) noexcept nogil:
    """Trim spaces and tabs, then parse (W3C level 1, flag bits kept); only reads data[0:n]."""
    cdef Py_ssize_t start = 0, end = n, j
    cdef uint32_t c
    cdef uint8_t buf[TP_LEN + 1]
    cdef const uint8_t* p = <const uint8_t*>data
    if kind == 1 and n == TP_LEN and p[0] > 32 and p[TP_LEN - 1] > 32:  # the common case: no spaces to trim
        return _parse_ascii(p, TP_LEN, tid, sid, flags)
    while start < end and (_char(kind, data, start) == 32 or _char(kind, data, start) == 9):
        start += 1
    while end > start and (_char(kind, data, end - 1) == 32 or _char(kind, data, end - 1) == 9):
        end -= 1
    if end - start < TP_LEN:
        return False
    if kind == 1:
        return _parse_ascii(<const uint8_t*>data + start, end - start, tid, sid, flags)
    for j in range(min(end - start, TP_LEN + 1)):  # wide str: non-ASCII never parses, so map it to 0
        c = _char(kind, data, start + j)
        buf[j] = <uint8_t>c if c < 128 else 0
    return _parse_ascii(buf, end - start, tid, sid, flags)


cdef bint _parse_value(object value, uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """Parse a str or bytes traceparent into the row; anything else, or a bad value, zeroes it."""
    cdef bint ok = False
    if isinstance(value, str):
        ok = _parse_tp(PyUnicode_KIND(value), PyUnicode_DATA(value), len(<str>value), tid, sid, flags)
    elif isinstance(value, bytes):
        ok = _parse_tp(1, <const char*><bytes>value, len(<bytes>value), tid, sid, flags)
    if not ok:
        memset(tid, 0, 16)
        memset(sid, 0, 8)
        flags[0] = 0
    return ok


@cython.boundscheck(False)
@cython.wraparound(False)
def parse_traceparents(values, uint8_t[:, ::1] trace_ids, uint8_t[:, ::1] span_ids, uint8_t[::1] trace_flags):
    cdef list seq = values if isinstance(values, list) else list(values)
    cdef Py_ssize_t i, n = len(seq)
    if trace_ids.shape[0] != n or span_ids.shape[0] != n or trace_flags.shape[0] != n:
        raise ValueError("parse_traceparents: output columns must have one row per value")
    for i in range(n):
        _parse_value(seq[i], &trace_ids[i, 0], &span_ids[i, 0], &trace_flags[i])


# ---------------------------------------------------------------- carriers

cdef enum:
    OTHER = 0
    TRACEPARENT = 1
    TRACESTATE = 2


cdef inline int _header(object key):
    """TRACEPARENT or TRACESTATE for a str or bytes name matching it ASCII case-insensitively."""
    cdef const uint8_t* p
    cdef const char* name
    cdef Py_ssize_t n, j
    cdef uint8_t c
    if isinstance(key, str):
        n = len(<str>key)
        if (n != 11 and n != 10) or PyUnicode_KIND(key) != 1:
            return OTHER
        p = <const uint8_t*>PyUnicode_DATA(key)
    elif isinstance(key, bytes):
        n = len(<bytes>key)
        if n != 11 and n != 10:
            return OTHER
        p = <const uint8_t*><const char*><bytes>key
    else:
        return OTHER
    name = b"traceparent" if n == 11 else b"tracestate"
    for j in range(n):
        c = p[j]
        if 65 <= c <= 90:
            c += 32
        if c != <uint8_t>name[j]:
            return OTHER
    return TRACEPARENT if n == 11 else TRACESTATE


cdef class _Headers:
    """What one carrier holds of trace context; reused for every carrier of one call."""
    cdef object traceparent, tracestate
    cdef int found
    cdef bint bad

    cdef inline void reset(self):
        self.traceparent = None
        self.tracestate = None
        self.found = 0
        self.bad = False

    cdef inline void see(self, object key, object value):
        cdef int which
        if value is None:
            return
        which = _header(key)
        if which == TRACEPARENT:
            self.found += 1
            self.traceparent = value
        elif which == TRACESTATE:
            if not isinstance(value, (str, bytes)):
                self.bad = True
            else:
                value = value if isinstance(value, str) else (<bytes>value).decode("latin-1")
                self.tracestate = value if self.tracestate is None else self.tracestate + "," + value


@cython.boundscheck(False)
@cython.wraparound(False)
def parse_carriers(carriers, uint8_t[:, ::1] trace_ids, uint8_t[:, ::1] span_ids, uint8_t[::1] trace_flags):
    cdef list seq = carriers if isinstance(carriers, list) else list(carriers)
    cdef Py_ssize_t i, n = len(seq)
    cdef list states = None
    cdef _Headers h = _Headers()
    if trace_ids.shape[0] != n or span_ids.shape[0] != n or trace_flags.shape[0] != n:
        raise ValueError("parse_carriers: output columns must have one row per carrier")
    for i in range(n):
        carrier = seq[i]
        if type(carrier) is dict and len(<dict>carrier) == 1:  # the common case: one header...
            value = (<dict>carrier).get("traceparent")
            if value is not None:  # ...and it is exactly "traceparent"
                _parse_value(value, &trace_ids[i, 0], &span_ids[i, 0], &trace_flags[i])
                continue
        h.reset()
        if carrier is None:
            pass
        elif isinstance(carrier, dict):
            for key, value in (<dict>carrier).items():
                h.see(key, value)
        elif isinstance(carrier, Mapping):
            for key, value in carrier.items():
                h.see(key, value)
        elif isinstance(carrier, (list, tuple)):
            for pair in carrier:
                if not isinstance(pair, (tuple, list)) or len(pair) != 2:
                    raise TypeError(f"carriers[{i}]: header items must be (key, value) pairs, "
                                    f"got {type(pair).__name__}")
                h.see(pair[0], pair[1])
        else:
            raise TypeError(
                f"carriers[{i}]: expected a mapping or a sequence of (key, value) pairs, "
                f"got {type(carrier).__name__}")
        if (_parse_value(h.traceparent if h.found == 1 and not h.bad else None,
                         &trace_ids[i, 0], &span_ids[i, 0], &trace_flags[i])
                and h.tracestate is not None):
            if states is None:
                states = [None] * n
            states[i] = h.tracestate
    return states


# ---------------------------------------------------------------- SpanContexts <-> columns

@cython.boundscheck(False)
@cython.wraparound(False)
def ids_from_contexts(contexts, uint8_t[:, ::1] trace_ids, uint8_t[:, ::1] span_ids,
                      uint8_t[::1] trace_flags, uint8_t[::1] is_remote):
    cdef Py_ssize_t i, n = len(contexts)
    cdef list states = None
    cdef bytes raw
    if trace_ids.shape[0] != n or span_ids.shape[0] != n or trace_flags.shape[0] != n or is_remote.shape[0] != n:
        raise ValueError("ids_from_contexts: output columns must have one row per context")
    for i in range(n):
        ctx = contexts[i]
        if not isinstance(ctx, SpanContext):
            raise TypeError(f"contexts[{i}]: expected a SpanContext, got {type(ctx).__name__}")
        if (<tuple>ctx)[5]:
            raw = (<tuple>ctx)[0].to_bytes(16, "big")
            memcpy(&trace_ids[i, 0], <const char*>raw, 16)
            raw = (<tuple>ctx)[1].to_bytes(8, "big")
            memcpy(&span_ids[i, 0], <const char*>raw, 8)
        else:
            memset(&trace_ids[i, 0], 0, 16)
            memset(&span_ids[i, 0], 0, 8)
        trace_flags[i] = int((<tuple>ctx)[3]) & 0xFF
        is_remote[i] = 1 if (<tuple>ctx)[2] else 0
        state = (<tuple>ctx)[4]
        if state:
            if states is None:
                states = [None] * n
            states[i] = state.to_header()
    return states


if not issubclass(SpanContext, tuple):
    raise ImportError("fastlinks: opentelemetry's SpanContext is no longer the tuple subclass fastlinks builds")


cdef inline void _set_item(object tup, Py_ssize_t i, object item):
    Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(tup, i, item)


cdef inline object _span_context(object tid, object sid, bint remote, object flags, object state, bint valid):
    """What `SpanContext(tid, sid, remote, flags, state)` returns, for IDs already validated:
    the same 6-tuple subclass, allocated as `tuple.__new__` would, without re-checking them."""
    ctx = PyType_GenericAlloc(<PyTypeObject*>SpanContext, 6)
    _set_item(ctx, 0, tid)
    _set_item(ctx, 1, sid)
    _set_item(ctx, 2, True if remote else False)
    _set_item(ctx, 3, flags)
    _set_item(ctx, 4, state)
    _set_item(ctx, 5, True if valid else False)
    return ctx


@cython.boundscheck(False)
@cython.wraparound(False)
def make_links(const uint8_t[:, ::1] trace_ids, const uint8_t[:, ::1] span_ids,
               const uint8_t[::1] trace_flags, is_remote, const int64_t[::1] rows,
               list trace_states, attributes, list dropped_attributes, link_type, stats):
    cdef const uint8_t[::1] remote = np.ascontiguousarray(is_remote, dtype=np.bool_).view(np.uint8)
    cdef Py_ssize_t j, r, k = rows.shape[0], n = trace_ids.shape[0]
    cdef uint64_t hi, lo, s
    cdef bint per_row = isinstance(attributes, list)
    cdef list out = [None] * k
    new = link_type.__new__
    for j in range(k):
        r = rows[j]
        if r < 0 or r >= n:
            raise IndexError(f"make_links: row {r} out of range for {n} rows")
        hi = _be64(&trace_ids[r, 0])
        lo = _be64(&trace_ids[r, 8])
        s = _be64(&span_ids[r, 0])
        tid = (<object>hi << 64) | <object>lo if hi else <object>lo
        state = DEFAULT_TRACE_STATE if trace_states is None or trace_states[j] is None else trace_states[j]
        ctx = _span_context(tid, s, remote[r] != 0, _FLAGS[trace_flags[r]], state, (hi != 0 or lo != 0) and s != 0)
        link = new(link_type)
        link._context = ctx
        link._attributes = (<list>attributes)[j] if per_row else attributes
        if stats is not None:
            link._stats = stats
        if dropped_attributes is not None and dropped_attributes[j]:
            link._dropped_attributes = dropped_attributes[j]
        out[j] = link
    return out


@cython.boundscheck(False)
@cython.wraparound(False)
def format_traceparents(const uint8_t[:, ::1] trace_ids, const uint8_t[:, ::1] span_ids,
                        const uint8_t[::1] trace_flags):
    cdef Py_ssize_t i, j, n = trace_ids.shape[0]
    cdef char buf[TP_LEN]
    cdef list out = [None] * n
    buf[0] = 48
    buf[1] = 48
    buf[2] = 45
    buf[35] = 45
    buf[52] = 45
    for i in range(n):
        for j in range(16):
            buf[3 + 2 * j] = _HEX[trace_ids[i, j] >> 4]
            buf[4 + 2 * j] = _HEX[trace_ids[i, j] & 15]
        for j in range(8):
            buf[36 + 2 * j] = _HEX[span_ids[i, j] >> 4]
            buf[37 + 2 * j] = _HEX[span_ids[i, j] & 15]
        buf[53] = _HEX[trace_flags[i] >> 4]
        buf[54] = _HEX[trace_flags[i] & 15]
        out[i] = buf[:TP_LEN].decode("ascii")
    return out


# ---------------------------------------------------------------- OTLP: Span.links wire bytes

cdef struct _Buf:
    char* data
    Py_ssize_t size
    Py_ssize_t cap


cdef int _grow(_Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap = b.cap if b.cap else 256
    cdef char* data
    if b.size + extra <= b.cap:
        return 0
    while cap < b.size + extra:
        cap *= 2
    data = <char*>PyMem_RawRealloc(b.data, cap)
    if data == NULL:
        raise MemoryError()
    b.data = data
    b.cap = cap
    return 0


cdef inline int _put(_Buf* b, const char* src, Py_ssize_t n) except -1:
    _grow(b, n)
    memcpy(b.data + b.size, src, n)
    b.size += n
    return 0


cdef inline int _varint_len(uint64_t v) noexcept nogil:
    cdef int n = 1
    while v >= 0x80:
        v >>= 7
        n += 1
    return n


cdef inline int _varint(_Buf* b, uint64_t v) except -1:
    _grow(b, 10)
    while v >= 0x80:
        b.data[b.size] = <char>((v & 0x7F) | 0x80)
        b.size += 1
        v >>= 7
    b.data[b.size] = <char>v
    b.size += 1
    return 0


cdef inline int _fixed(_Buf* b, uint64_t v, int width) except -1:
    cdef int j
    _grow(b, width)
    for j in range(width):
        b.data[b.size + j] = <char>((v >> (8 * j)) & 0xFF)
    b.size += width
    return 0


cdef inline int _field(_Buf* b, int number, const char* data, Py_ssize_t n) except -1:
    """A length-delimited field: tag, length, bytes."""
    _varint(b, (number << 3) | 2)
    _varint(b, n)
    _put(b, data, n)
    return 0


cdef int _key_value(_Buf* b, object key, object value, encode_attribute) except -1:
    """Span.Link.attributes (field 4): one KeyValue. str/bool/int/float are written here; any
    other value, or an int beyond int64, goes to `encode_attribute`, the stock encoder."""
    cdef Py_ssize_t klen, vlen = 0, any_len, kv_len
    cdef const char* kdata
    cdef const char* vdata = NULL
    cdef uint64_t bits = 0
    cdef double d
    cdef type t = type(value)
    cdef int kind = 0
    if type(key) is str:
        try:
            kdata = PyUnicode_AsUTF8AndSize(key, &klen)
            if t is str:
                vdata = PyUnicode_AsUTF8AndSize(value, &vlen)
                kind = 1
                any_len = 1 + _varint_len(vlen) + vlen
            elif t is bool:
                kind = 2
                bits = 1 if value else 0
                any_len = 2
            elif t is int and -(2**63) <= value < 2**63:
                kind = 3
                bits = <uint64_t>(<int64_t>value)
                any_len = 1 + _varint_len(bits)
            elif t is float:
                kind = 4
                d = value
                memcpy(&bits, &d, 8)
                any_len = 9
        except UnicodeEncodeError:  # lone surrogates: let the stock encoder decide
            kind = 0
    if kind == 0:
        raw = encode_attribute(key, value)
        if raw:
            _field(b, 4, <const char*><bytes>raw, len(<bytes>raw))
        return 0
    kv_len = (1 + _varint_len(klen) + klen if klen else 0) + 1 + _varint_len(any_len) + any_len
    _varint(b, (4 << 3) | 2)
    _varint(b, kv_len)
    if klen:
        _field(b, 1, kdata, klen)
    _varint(b, (2 << 3) | 2)
    _varint(b, any_len)
    if kind == 1:
        _field(b, 1, vdata, vlen)
    elif kind == 4:
        _varint(b, (4 << 3) | 1)
        _fixed(b, bits, 8)
    else:
        _varint(b, (kind << 3) | 0)
        _varint(b, bits)
    return 0


cdef int _id_field(_Buf* b, int number, uint64_t hi, uint64_t lo, int width) except -1:
    """A trace ID (16 bytes: hi, lo) or span ID (8 bytes: lo) as a big-endian bytes field."""
    cdef int j
    _varint(b, (number << 3) | 2)
    _varint(b, width)
    _grow(b, width)
    if width == 16:
        for j in range(8):
            b.data[b.size + j] = <char>((hi >> (56 - 8 * j)) & 0xFF)
        b.size += 8
    for j in range(8):
        b.data[b.size + j] = <char>((lo >> (56 - 8 * j)) & 0xFF)
    b.size += 8
    return 0


def encode_links(links, encode_attribute):
    """The wire bytes of a Span's repeated `links` field (13), with the link's W3C flags and
    trace state; merge them into a Span message with `MergeFromString`."""
    cdef _Buf out
    cdef _Buf link
    cdef bytes raw
    cdef uint32_t flags
    cdef Py_ssize_t dropped
    cdef bint is_link
    out.data = NULL
    out.size = out.cap = 0
    link.data = NULL
    link.size = link.cap = 0
    try:
        for item in links:
            link.size = 0
            is_link = PyObject_TypeCheck(item, <PyTypeObject*>Link)  # C-level check: Link is an ABC, isinstance is slow
            ctx = item._context if is_link else item.context
            tid = (<tuple>ctx)[0]
            if not 0 <= tid < _TRACE_ID_LIMIT:
                raise OverflowError(f"trace_id {tid!r} does not fit 16 bytes")
            _id_field(&link, 1, PyLong_AsUnsignedLongLongMask(tid >> 64), PyLong_AsUnsignedLongLongMask(tid), 16)
            _id_field(&link, 2, 0, PyLong_AsUnsignedLongLong((<tuple>ctx)[1]), 8)
            state = (<tuple>ctx)[4]
            if state:
                raw = ",".join([f"{k}={v}" for k, v in state.items()]).encode()
                _field(&link, 3, raw, len(raw))
            attributes = item._attributes if is_link else item.attributes
            if type(attributes) is BoundedAttributes:  # what the SDK stores: read its dict directly
                for key, value in (<dict>attributes._dict).items():
                    _key_value(&link, key, value, encode_attribute)
                dropped = attributes.dropped if type(item) is Link else item.dropped_attributes
            else:
                if attributes:
                    for key, value in attributes.items():
                        _key_value(&link, key, value, encode_attribute)
                dropped = item.dropped_attributes
            if dropped:
                _varint(&link, (5 << 3) | 0)
                _varint(&link, dropped)
            flags = (<uint32_t>PyLong_AsUnsignedLongLongMask((<tuple>ctx)[3]) & 0xFF) | 0x100
            if (<tuple>ctx)[2]:
                flags |= 0x200
            _varint(&link, (6 << 3) | 5)
            _fixed(&link, flags, 4)
            _field(&out, 13, link.data, link.size)
        return out.data[:out.size] if out.size else b""
    finally:
        PyMem_RawFree(out.data)
        PyMem_RawFree(link.data)
