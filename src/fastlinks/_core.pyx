# cython: language_level=3, freethreading_compatible=True
"""Compiled kernels: parse, validate, deduplicate, cap and materialize links.

`_core_py.py` is the pure-Python twin and gives identical results; `_core.pyi` types both.
The kernels keep no module-level mutable state (only constant lookup tables), so they are
safe to call from many threads, including on free-threaded CPython. Columns are numpy
arrays read through their data pointers after one check of dtype, shape and layout; the
columns a kernel returns are fresh and read-only.
"""
cimport cython
from cpython.mem cimport PyMem_RawFree, PyMem_RawMalloc, PyMem_RawRealloc
from cpython.pyport cimport PY_SSIZE_T_MAX
from cpython.object cimport PyObject, PyTypeObject
from libc.stdint cimport int8_t, int32_t, int64_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset

cimport numpy as cnp

import os
from collections.abc import Mapping

import numpy as np
from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState
from operator import index as _index

cnp.import_array()

cdef tuple _FLAGS = tuple(TraceFlags(i) for i in range(256))
cdef tuple _NO_ARGS = ()
cdef const char* _HEX = b"0123456789abcdef"
cdef object _TRACE_ID_LIMIT = 2**128
cdef dict _STRATEGIES = {"first": 0, "last": 1, "random": 2, "consistent": 3}

cdef enum:
    FIRST = 0
    LAST = 1
    RANDOM = 2
    CONSISTENT = 3
    TP_LEN = 55          # len("00-" + 32 hex + "-" + 16 hex + "-" + 2 hex)
    MAX_MEMBERS = 32     # W3C: a tracestate with more list-members than this is discarded whole

cdef uint64_t GOLDEN = 0x9E3779B97F4A7C15  # SplitMix64's gamma

cdef extern from "Python.h":
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    Py_ssize_t PyDict_GET_SIZE(object)
    int PyDict_Next(object, Py_ssize_t*, PyObject**, PyObject**)
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*) except NULL
    unsigned long long PyLong_AsUnsignedLongLongMask(object) except? -1
    unsigned long long PyLong_AsUnsignedLongLong(object) except? -1
    object PyLong_FromUnsignedLongLong(unsigned long long)
    bint PyObject_TypeCheck(object, PyTypeObject*)
    object PyType_GenericAlloc(PyTypeObject*, Py_ssize_t)
    void PyTuple_SET_ITEM(object, Py_ssize_t, object)
    void Py_INCREF(object)

cdef extern from *:
    """
    #include <stdint.h>
    #include <string.h>
    /* Eight bytes as a little-endian word, whatever the machine's byte order. */
    static CYTHON_INLINE uint64_t fl_le64(const unsigned char *p) {
        uint64_t v;
        memcpy(&v, p, 8);
    #if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
        v = __builtin_bswap64(v);
    #endif
        return v;
    }
    /* A non-zero 16-byte big-endian unsigned integer as a Python int, in one allocation (for
       zero, CPython 3.11 reads a digit it never wrote: callers use a 0 they hold instead). */
    static PyObject *fl_int_from_be16(const unsigned char *p) {
    #if PY_VERSION_HEX >= 0x030D0000
        return PyLong_FromUnsignedNativeBytes(p, 16, Py_ASNATIVEBYTES_BIG_ENDIAN);
    #else
        return _PyLong_FromByteArray(p, 16, 0, 0);
    #endif
    }

    /* An exact int in [0, 2**128) as two native 64-bit words (lo, hi); -1 when it does not fit. */
    static int fl_int_to_words(PyObject *v, uint64_t *words) {
        unsigned char buf[16];
    #if PY_VERSION_HEX >= 0x030D0000
        Py_ssize_t need = PyLong_AsNativeBytes(v, buf, 16,
                                               Py_ASNATIVEBYTES_LITTLE_ENDIAN | Py_ASNATIVEBYTES_UNSIGNED_BUFFER
                                               | Py_ASNATIVEBYTES_REJECT_NEGATIVE);
        if (need < 0) { PyErr_Clear(); return -1; }
        if (need > 16) return -1;
    #else
        if (_PyLong_AsByteArray((PyLongObject *)v, buf, 16, 1, 0) < 0) { PyErr_Clear(); return -1; }
    #endif
        words[0] = fl_le64(buf);
        words[1] = fl_le64(buf + 8);
        return 0;
    }

    /* An exact int in [0, 2**64) as a native word; -1 when it does not fit. */
    static int fl_int_to_word(PyObject *v, uint64_t *word) {
        unsigned long long value = PyLong_AsUnsignedLongLong(v);
        if (value == (unsigned long long)-1 && PyErr_Occurred()) { PyErr_Clear(); return -1; }
        *word = (uint64_t)value;
        return 0;
    }

    /* Lowercase hex digits to bytes: fl_hex_ids decodes a traceparent's 32 + 16 ID digits (at
       p + 3 and p + 36) into 16 + 8 bytes and says whether every one was a lowercase hex digit.
       16 digits are checked per vector instruction: GCC/Clang vector extensions on little-endian
       machines (SSE2, NEON), SSE2 intrinsics under MSVC; elsewhere 8 digits per 64-bit word
       (SWAR). -DFASTLINKS_SSE2 / -DFASTLINKS_SWAR force a path, so CI tests each one.
       Every path reads exactly p[3:35] and p[36:52]. */
    #if defined(FASTLINKS_SWAR)
    #  define FL_HEX_SWAR 1
    #elif defined(FASTLINKS_SSE2) || (defined(_MSC_VER) && (defined(_M_X64) || defined(_M_AMD64)))
    #  define FL_HEX_SSE2 1
    #elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__has_builtin)
    #  if __has_builtin(__builtin_convertvector)
    #    define FL_HEX_VECTOR 1
    #  else
    #    define FL_HEX_SWAR 1
    #  endif
    #else
    #  define FL_HEX_SWAR 1
    #endif

    #if defined(FL_HEX_VECTOR)
    static const char FL_HEX_DECODER[] = "vector";
    typedef unsigned char fl_u8x16 __attribute__((vector_size(16)));
    typedef unsigned char fl_u8x8 __attribute__((vector_size(8)));
    typedef unsigned short fl_u16x8 __attribute__((vector_size(16)));
    typedef unsigned long long fl_u64x2 __attribute__((vector_size(16)));
    static CYTHON_INLINE fl_u64x2 fl_hex16(const unsigned char *p, unsigned char *out) {
        fl_u8x16 c, d, a, is_digit, is_letter;
        fl_u16x8 pairs;
        fl_u8x8 bytes;
        memcpy(&c, p, 16);
        d = c - (unsigned char)'0';
        a = c - (unsigned char)'a';
        is_digit = (fl_u8x16)(d < 10);
        is_letter = (fl_u8x16)(a < 6);
        pairs = (fl_u16x8)((d & is_digit) | ((a + 10) & is_letter));  /* lane j: digit 2j | digit 2j+1 << 8 */
        pairs = ((pairs << 4) | (pairs >> 8)) & 0xFF;
        bytes = __builtin_convertvector(pairs, fl_u8x8);
        memcpy(out, &bytes, 8);
        return (fl_u64x2)(is_digit | is_letter);  /* all ones where the digit was valid */
    }
    static CYTHON_INLINE int fl_hex_ids(const unsigned char *p, unsigned char *tid, unsigned char *sid) {
        fl_u64x2 ok = fl_hex16(p + 3, tid) & fl_hex16(p + 19, tid + 8) & fl_hex16(p + 36, sid);
        return (ok[0] & ok[1]) == ~0ULL;
    }

    #elif defined(FL_HEX_SSE2)
    #include <emmintrin.h>
    static const char FL_HEX_DECODER[] = "sse2";
    static CYTHON_INLINE __m128i fl_hex16(const unsigned char *p, unsigned char *out) {
        __m128i c = _mm_loadu_si128((const __m128i *)p);
        __m128i d = _mm_sub_epi8(c, _mm_set1_epi8('0'));
        __m128i a = _mm_sub_epi8(c, _mm_set1_epi8('a'));
        __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);   /* d <= 9, unsigned */
        __m128i is_letter = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(5)), a);  /* a <= 5, unsigned */
        __m128i v = _mm_or_si128(_mm_and_si128(d, is_digit),
                                 _mm_and_si128(_mm_add_epi8(a, _mm_set1_epi8(10)), is_letter));
        __m128i pairs = _mm_and_si128(_mm_or_si128(_mm_slli_epi16(v, 4), _mm_srli_epi16(v, 8)),
                                      _mm_set1_epi16(0xFF));
        _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(pairs, pairs));
        return _mm_or_si128(is_digit, is_letter);
    }
    static CYTHON_INLINE int fl_hex_ids(const unsigned char *p, unsigned char *tid, unsigned char *sid) {
        __m128i ok = _mm_and_si128(_mm_and_si128(fl_hex16(p + 3, tid), fl_hex16(p + 19, tid + 8)),
                                   fl_hex16(p + 36, sid));
        return _mm_movemask_epi8(ok) == 0xFFFF;
    }

    #else
    static const char FL_HEX_DECODER[] = "swar";
    #define FL_ONES 0x0101010101010101ULL
    #define FL_HIGH 0x8080808080808080ULL
    static CYTHON_INLINE int fl_hex8(const unsigned char *p, unsigned char *out) {
        uint64_t v = fl_le64(p);
        /* for bytes below 0x80, bit 7 of (b + 0x80 - lo) says b >= lo; no lane carries into the next */
        uint64_t digit = (v + FL_ONES * (0x80 - 0x30)) & ~(v + FL_ONES * (0x7F - 0x39));
        uint64_t letter = (v + FL_ONES * (0x80 - 0x61)) & ~(v + FL_ONES * (0x7F - 0x66));
        uint64_t w = (v & (FL_ONES * 0x0F)) + ((v >> 6) & FL_ONES) * 9;  /* letters have bit 6 set */
        w = ((w << 4) | (w >> 8)) & 0x00FF00FF00FF00FFULL;  /* digit pairs -> bytes, then gather them */
        w = (w | (w >> 8)) & 0x0000FFFF0000FFFFULL;
        w = w | (w >> 16);
        out[0] = (unsigned char)w; out[1] = (unsigned char)(w >> 8);
        out[2] = (unsigned char)(w >> 16); out[3] = (unsigned char)(w >> 24);
        return !(v & FL_HIGH) && ((digit | letter) & FL_HIGH) == FL_HIGH;
    }
    static CYTHON_INLINE int fl_hex_ids(const unsigned char *p, unsigned char *tid, unsigned char *sid) {
        return fl_hex8(p + 3, tid) & fl_hex8(p + 11, tid + 4) & fl_hex8(p + 19, tid + 8)
             & fl_hex8(p + 27, tid + 12) & fl_hex8(p + 36, sid) & fl_hex8(p + 44, sid + 4);
    }
    #endif
    """
    uint64_t fl_le64(const uint8_t*) noexcept nogil
    object fl_int_from_be16(const uint8_t*)
    int fl_int_to_words(object, uint64_t*)
    int fl_int_to_word(object, uint64_t*)
    bint fl_hex_ids(const uint8_t*, uint8_t*, uint8_t*) noexcept nogil
    const char* FL_HEX_DECODER

HEX_DECODER = FL_HEX_DECODER.decode()  # which fl_hex_ids this build uses: vector, sse2 or swar

# ---------------------------------------------------------------- columns

cdef const uint8_t* _data(object arr, Py_ssize_t rows, int width, str what) except? NULL:
    """The data of a C-contiguous uint8 (or bool) array shaped (rows, width), or (rows,) when
    width is 0; rows < 0 accepts any number of rows."""
    cdef cnp.ndarray a
    if cnp.PyArray_Check(arr):
        a = <cnp.ndarray>arr
        if ((cnp.PyArray_TYPE(a) == cnp.NPY_UINT8 or cnp.PyArray_TYPE(a) == cnp.NPY_BOOL)
                and cnp.PyArray_IS_C_CONTIGUOUS(a)
                and cnp.PyArray_NDIM(a) == (2 if width else 1)
                and (rows < 0 or cnp.PyArray_DIM(a, 0) == rows)
                and (width == 0 or cnp.PyArray_DIM(a, 1) == width)):
            return <const uint8_t*>cnp.PyArray_DATA(a)
    shape = f"(N, {width})" if width else "(N,)"
    got = f"{arr.dtype} array of shape {arr.shape}" if cnp.PyArray_Check(arr) else type(arr).__name__
    raise ValueError(f"{what}: expected a C-contiguous uint8 array of shape {shape}"
                     f"{f' with N = {rows}' if rows >= 0 else ''}, got {got}")


cdef inline Py_ssize_t _rows_of(object arr) noexcept:
    return cnp.PyArray_DIM(<cnp.ndarray>arr, 0)


cdef const int64_t* _row_numbers(object rows, str what) except? NULL:
    """The data of a C-contiguous 1-D int64 array of row numbers."""
    if (cnp.PyArray_Check(rows) and cnp.PyArray_TYPE(<cnp.ndarray>rows) == cnp.NPY_INT64
            and cnp.PyArray_NDIM(<cnp.ndarray>rows) == 1 and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>rows)):
        return <const int64_t*>cnp.PyArray_DATA(<cnp.ndarray>rows)
    raise ValueError(f"{what}: rows must be a C-contiguous 1-D int64 array")


cdef cnp.ndarray _empty(Py_ssize_t rows, int width, int typenum=cnp.NPY_UINT8):
    """A fresh (rows, width) array, or (rows,) when width is 0."""
    cdef cnp.npy_intp dims[2]
    dims[0] = rows
    dims[1] = width
    return cnp.PyArray_EMPTY(2 if width else 1, dims, typenum, 0)


cdef class _NewColumns:
    """A kernel's output: fresh (n, 16) trace ID, (n, 8) span ID, (n,) flag and (n,) bool remote
    columns, with their data pointers for the kernel to fill; `frozen()` hands them over read-only."""
    cdef cnp.ndarray trace_ids, span_ids, trace_flags, is_remote
    cdef uint8_t* t
    cdef uint8_t* s
    cdef uint8_t* f
    cdef uint8_t* r

    def __cinit__(self, Py_ssize_t n, bint remote):
        self.trace_ids = _empty(n, 16)
        self.span_ids = _empty(n, 8)
        self.trace_flags = _empty(n, 0)
        self.is_remote = _empty(n, 0, cnp.NPY_BOOL)
        self.t = <uint8_t*>cnp.PyArray_DATA(self.trace_ids)
        self.s = <uint8_t*>cnp.PyArray_DATA(self.span_ids)
        self.f = <uint8_t*>cnp.PyArray_DATA(self.trace_flags)
        self.r = <uint8_t*>cnp.PyArray_DATA(self.is_remote)
        if remote:  # every row is a remote context (parsed from headers)
            memset(self.r, 1, n)

    cdef tuple frozen(self):
        for arr in (self.trace_ids, self.span_ids, self.trace_flags, self.is_remote):
            cnp.PyArray_CLEARFLAGS(<cnp.ndarray>arr, cnp.NPY_ARRAY_WRITEABLE)
        return self.trace_ids, self.span_ids, self.trace_flags, self.is_remote

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


@cython.cdivision(True)
cdef Py_ssize_t _dedupe_pass(const uint8_t* tid, const uint8_t* sid, uint8_t* cls, const uint64_t* hashes,
                             Py_ssize_t n, Py_ssize_t valid, Py_ssize_t budget) noexcept nogil:
    """Open addressing on `hashes`: marks every later repeat of a valid row as dropped and returns
    their number; OVER_BUDGET (marks undone) once probing takes more than `budget` steps."""
    cdef Py_ssize_t i, cap = 16, duplicates = 0, steps = 0
    cdef uint64_t mask, slot
    cdef int32_t other
    cdef int32_t* table
    while cap < 2 * valid:
        cap <<= 1
    table = <int32_t*>PyMem_RawMalloc(cap * sizeof(int32_t))
    if table == NULL:
        return NO_MEMORY
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
            PyMem_RawFree(table)
            for i in range(n):  # a dropped row with non-zero IDs was a repeat: valid again
                if cls[i] == 0 and _nonzero(tid + 16 * i, 16) and _nonzero(sid + 8 * i, 8):
                    cls[i] = 1
            return OVER_BUDGET
    PyMem_RawFree(table)
    return duplicates


cdef uint64_t _TABLE_KEY = int.from_bytes(os.urandom(8), "little")  # secret, fixed for the process


cdef Py_ssize_t _dedupe(const uint8_t* tid, const uint8_t* sid, uint8_t* cls, const uint64_t* hashes,
                        Py_ssize_t n, Py_ssize_t valid) noexcept nogil:
    """Marks every later repeat of a valid row as dropped (cls 0) and returns their number, or
    NO_MEMORY. The link hash is public, so headers from an attacker can be made to collide and
    turn probing quadratic; when probing takes far longer than random IDs ever need, the pass
    is redone on a hash keyed with a per-process secret. The rows marked are the same either way."""
    cdef Py_ssize_t i, result
    cdef uint64_t* keyed
    result = _dedupe_pass(tid, sid, cls, hashes, n, valid, 8 * valid + 1024)
    if result != OVER_BUDGET:
        return result
    keyed = <uint64_t*>PyMem_RawMalloc(n * sizeof(uint64_t) + 1)
    if keyed == NULL:
        return NO_MEMORY
    for i in range(n):
        if cls[i] == 1:
            keyed[i] = _link_hash(tid + 16 * i, sid + 8 * i, _TABLE_KEY)
    result = _dedupe_pass(tid, sid, cls, keyed, n, valid, PY_SSIZE_T_MAX)
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
            bint dedupe, object strategy, bint prefer_sampled, uint64_t seed):
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

    # one block: n hashes (only when needed), then n classes: 0 dropped, 1 valid, 2 invalid but kept
    cdef uint8_t* work = <uint8_t*>PyMem_RawMalloc(n * (9 if hashed else 1) + 1)
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
                duplicates = _dedupe(t, s, cls, hashes, n, valid)
            candidates = n - invalid - duplicates
            kept = candidates
            if duplicates >= 0 and candidates > max_links:
                kept = _cap(f, cls, hashes, n, max_links, strat, prefer_sampled, seed)
        if duplicates < 0 or kept < 0:
            raise MemoryError()
        return _marked_rows(cls, n, kept), invalid, duplicates, candidates - kept
    finally:
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
    cdef _NewColumns out = _NewColumns(k, False)
    with nogil:
        for j in range(k):
            r = picked[j]
            memcpy(out.t + 16 * j, t + 16 * r, 16)
            memcpy(out.s + 8 * j, s + 8 * r, 8)
            out.f[j] = f[r]
            out.r[j] = remote[r] != 0
    return out.frozen()


# ---------------------------------------------------------------- W3C traceparent

cdef int8_t _HEXVAL[256]  # lowercase hex digit values, -1 elsewhere; filled once at import
cdef int _c
for _c in range(256):
    _HEXVAL[_c] = _c - 48 if 48 <= _c <= 57 else (_c - 87 if 97 <= _c <= 102 else -1)

cdef uint64_t ONES = 0x0101010101010101


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
    cdef int version, f
    if length < TP_LEN or p[2] != 45 or p[35] != 45 or p[52] != 45:
        return False
    version = _hex2(p)
    f = _hex2(p + 53)
    if version < 0 or version == 0xFF or f < 0:
        return False
    if length > TP_LEN and (version == 0 or p[TP_LEN] != 45):
        return False
    flags[0] = <uint8_t>f
    return fl_hex_ids(p, tid, sid) and _nonzero(tid, 16) and _nonzero(sid, 8)


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


cdef inline str _text(object value):
    """A str or bytes header value as an exact str (a subclass, numpy.str_ say, is copied)."""
    if type(value) is str:
        return <str>value
    if isinstance(value, str):
        return str.__str__(value)
    return (<bytes>value).decode("latin-1")


cdef inline bint _blank(object value):
    """True for a str or bytes value of spaces, tabs and commas only: a tracestate with no member."""
    cdef Py_ssize_t i, n
    cdef int kind
    cdef const void* data
    cdef uint32_t c
    if isinstance(value, str):
        kind = PyUnicode_KIND(value)
        data = PyUnicode_DATA(value)
        n = len(<str>value)
    else:
        kind = 1
        data = <const char*><bytes>value
        n = len(<bytes>value)
    for i in range(n):
        c = _char(kind, data, i)
        if c != 32 and c != 9 and c != 44:
            return False
    return True


def parse_traceparents(values, states=None):
    cdef list seq = values if isinstance(values, list) else list(values)
    cdef Py_ssize_t i, n = len(seq)
    cdef list raw = None, out_states = None
    cdef _NewColumns out = _NewColumns(n, True)
    cdef uint8_t* t = out.t
    cdef uint8_t* s = out.s
    cdef uint8_t* f = out.f
    if states is not None:
        raw = states if isinstance(states, list) else list(states)
        if len(raw) != n:
            raise ValueError(f"parse_traceparents: {len(raw)} trace states for {n} traceparents")
    for i in range(n):
        if not _parse_value(seq[i], t + 16 * i, s + 8 * i, f + i) or raw is None or raw[i] is None:
            continue
        state = raw[i]
        if not isinstance(state, (str, bytes)):  # a header value that is neither: the row is invalid
            _parse_value(None, t + 16 * i, s + 8 * i, f + i)
        elif state:  # a trace state is only read for a valid traceparent
            if out_states is None:
                out_states = [None] * n
            out_states[i] = _text(state)
    return out.frozen() + (out_states,)


# ---------------------------------------------------------------- carriers

cdef enum:
    OTHER = 0
    TRACEPARENT = 1
    TRACESTATE = 2


cdef uint64_t _TRACEPAR = fl_le64(<const uint8_t*>b"tracepar")
cdef uint64_t _TRACESTA = fl_le64(<const uint8_t*>b"tracesta")


cdef inline int _header(object key):
    """TRACEPARENT or TRACESTATE for a str or bytes name matching it ASCII case-insensitively."""
    cdef const uint8_t* p
    cdef Py_ssize_t n
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
    # both names are letters only, so OR-ing 0x20 into a byte lowercases it without aliasing another
    if n == 11:
        if ((fl_le64(p) | ONES * 0x20) == _TRACEPAR and (p[8] | 0x20) == 101 and (p[9] | 0x20) == 110
                and (p[10] | 0x20) == 116):
            return TRACEPARENT
    elif (fl_le64(p) | ONES * 0x20) == _TRACESTA and (p[8] | 0x20) == 116 and (p[9] | 0x20) == 101:
        return TRACESTATE
    return OTHER


cdef class _Headers:
    """What one carrier holds of trace context; reused for every carrier of one call.

    Repeated tracestate headers are collected and joined once; past MAX_MEMBERS non-blank ones
    the joined value could only parse to an empty trace state, so collecting stops there and
    the row gets none. Work stays linear in the headers' bytes whatever a producer sends."""
    cdef object traceparent
    cdef list states
    cdef int found, members
    cdef bint bad

    cdef inline void reset(self):
        self.traceparent = None
        self.states = None
        self.found = 0
        self.members = 0
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
            elif self.members <= MAX_MEMBERS:
                if not _blank(value):
                    self.members += 1
                if self.states is None:
                    self.states = [_text(value)]
                else:
                    self.states.append(_text(value))

    cdef inline object tracestate(self):
        """The joined tracestate, or None when there is none or it has more than MAX_MEMBERS members."""
        if self.states is None or self.members > MAX_MEMBERS:
            return None
        return self.states[0] if len(self.states) == 1 else ",".join(self.states)


cdef inline object _only_traceparent(dict carrier):
    """For a one-header dict: its value if the header is a traceparent, else None."""
    cdef Py_ssize_t pos = 0
    cdef PyObject* key
    cdef PyObject* value
    cdef object found = None
    with cython.critical_section(carrier):
        if PyDict_Next(carrier, &pos, &key, &value) and _header(<object>key) == TRACEPARENT:
            found = <object>value  # a new reference, taken while the dict cannot change
    return found


def parse_carriers(carriers):
    if isinstance(carriers, (str, bytes, Mapping)) or not hasattr(carriers, "__iter__"):
        raise TypeError(f"carriers: expected a sequence of header carriers, got {type(carriers).__name__}")
    cdef list seq = carriers if isinstance(carriers, list) else list(carriers)
    cdef Py_ssize_t i, n = len(seq)
    cdef list states = None
    cdef _Headers h = _Headers()
    cdef _NewColumns out = _NewColumns(n, True)
    cdef uint8_t* t = out.t
    cdef uint8_t* s = out.s
    cdef uint8_t* f = out.f
    for i in range(n):
        carrier = seq[i]
        if type(carrier) is dict and PyDict_GET_SIZE(carrier) == 1:  # the common case: one header
            _parse_value(_only_traceparent(<dict>carrier), t + 16 * i, s + 8 * i, f + i)
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
        if _parse_value(h.traceparent if h.found == 1 and not h.bad else None, t + 16 * i, s + 8 * i, f + i):
            state = h.tracestate()
            if state is not None:
                if states is None:
                    states = [None] * n
                states[i] = state
    return out.frozen() + (states,)


# ---------------------------------------------------------------- SpanContexts <-> columns

# SpanContext is a 6-tuple subclass (trace_id, span_id, is_remote, trace_flags, trace_state,
# is_valid) in every supported API; `_otel_compat` checks the whole layout and passes `fast`.
# This is the kernel's own guard: no tuple cast or allocation unless the type really is a tuple.
# Beyond tuple's own fields it may only have the __dict__/__weakref__ pointers, which
# PyType_GenericAlloc leaves NULL (a dict is made on first use).
cdef bint _CONTEXT_IS_TUPLE = (issubclass(SpanContext, tuple)
                               and SpanContext.__itemsize__ == tuple.__itemsize__
                               and SpanContext.__basicsize__ - tuple.__basicsize__
                               == sizeof(void*) * ((SpanContext.__dictoffset__ != 0)
                                                   + (SpanContext.__weakrefoffset__ != 0)))
cdef object _SPAN_ID_LIMIT = 2**64


cdef inline object _id_value(object value, object limit):
    """An ID as a Python int in [0, limit), or 0 for anything else (out of range, not an integer)."""
    if type(value) is not int:
        try:
            value = _index(value)
        except TypeError:
            return 0
    return value if 0 <= value < limit else 0


cdef inline void _put_id(object value, uint8_t* out, int width):
    cdef bytes raw = value.to_bytes(width, "big")
    memcpy(out, <const char*>raw, width)


def ids_from_contexts(contexts, bint fast):
    cdef Py_ssize_t i, n = len(contexts)
    cdef list states = None
    cdef _NewColumns out = _NewColumns(n, False)
    cdef uint8_t* t = out.t
    cdef uint8_t* s = out.s
    cdef uint8_t* f = out.f
    cdef uint8_t* r = out.r
    fast = fast and _CONTEXT_IS_TUPLE
    for i in range(n):
        ctx = contexts[i]
        if fast and type(ctx) is SpanContext:
            tid, sid, remote, flags, state, valid = <tuple>ctx
        elif isinstance(ctx, SpanContext):  # a subclass may compute its fields: ask it
            tid, sid, remote, flags = ctx.trace_id, ctx.span_id, ctx.is_remote, ctx.trace_flags
            state, valid = ctx.trace_state, ctx.is_valid
        else:
            raise TypeError(f"contexts[{i}]: expected a SpanContext, got {type(ctx).__name__}")
        tid = _id_value(tid, _TRACE_ID_LIMIT)
        sid = _id_value(sid, _SPAN_ID_LIMIT)
        if not valid and tid and sid:  # the context says invalid: its row must be too
            tid = sid = 0
        _put_id(tid, t + 16 * i, 16)  # kept even for an invalid context, as the SDK keeps them
        _put_id(sid, s + 8 * i, 8)
        try:
            f[i] = (flags if type(flags) is int or type(flags) is TraceFlags else _index(flags)) & 0xFF
        except TypeError:
            raise TypeError(f"contexts[{i}]: trace_flags must be an integer, got {type(flags).__name__}") from None
        r[i] = 1 if remote else 0
        if state and isinstance(state, TraceState):
            if states is None:
                states = [None] * n
            states[i] = state.to_header()
    return out.frozen() + (states,)


cdef inline void _set_item(object tup, Py_ssize_t i, object item):
    Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(tup, i, item)


cdef inline object _span_context(object tid, object sid, bint remote, object flags, object state, bint valid):
    """What `SpanContext(tid, sid, remote, flags, state)` returns, for IDs already validated:
    the same 6-tuple subclass, allocated as `tuple.__new__` would, without re-checking them.
    Only called when `_CONTEXT_IS_TUPLE` and the caller's `fast` (the full layout check) hold."""
    ctx = PyType_GenericAlloc(<PyTypeObject*>SpanContext, 6)
    _set_item(ctx, 0, tid)
    _set_item(ctx, 1, sid)
    _set_item(ctx, 2, True if remote else False)
    _set_item(ctx, 3, flags)
    _set_item(ctx, 4, state)
    _set_item(ctx, 5, True if valid else False)
    return ctx


def make_links(trace_ids, span_ids, trace_flags, is_remote, rows, list trace_states, attributes,
               list dropped_attributes, link_type, stats, bint fast):
    cdef const uint8_t* t = _data(trace_ids, -1, 16, "make_links: trace_ids")
    cdef Py_ssize_t j, r, k, n = _rows_of(trace_ids)
    cdef const uint8_t* s = _data(span_ids, n, 8, "make_links: span_ids")
    cdef const uint8_t* f = _data(trace_flags, n, 0, "make_links: trace_flags")
    cdef const uint8_t* remote = _data(is_remote, n, 0, "make_links: is_remote")
    cdef const int64_t* picked = NULL
    cdef uint64_t sid
    cdef bint valid, per_row = isinstance(attributes, list)
    cdef PyTypeObject* cls
    if not (isinstance(link_type, type) and issubclass(link_type, Link)):
        raise TypeError(f"make_links: link_type must be a Link subclass, got {link_type!r}")
    fast = fast and _CONTEXT_IS_TUPLE
    cls = <PyTypeObject*>link_type
    if rows is None:
        k = n
    else:
        picked = _row_numbers(rows, "make_links")
        k = _rows_of(rows)
    cdef list out = [None] * k
    for j in range(k):
        r = j if picked == NULL else picked[j]
        if r < 0 or r >= n:
            raise IndexError(f"make_links: row {r} out of range for {n} rows")
        sid = _be64(s + 8 * r)
        state = DEFAULT_TRACE_STATE if trace_states is None or trace_states[j] is None else trace_states[j]
        valid = _nonzero(t + 16 * r, 16)
        tid = fl_int_from_be16(t + 16 * r) if valid else 0
        row_attributes = None if attributes is None else ((<list>attributes)[j] if per_row else attributes)
        if fast:
            ctx = _span_context(tid, PyLong_FromUnsignedLongLong(sid), remote[r] != 0, _FLAGS[f[r]], state,
                                valid and sid != 0)
            link = cls.tp_new(link_type, <PyObject*>_NO_ARGS, NULL)  # object.__new__(link_type), called directly
            link._context = ctx
            if row_attributes is not None:  # link_type's class attributes are the defaults for what is not set
                link._attributes = row_attributes
        else:
            ctx = SpanContext(tid, PyLong_FromUnsignedLongLong(sid), remote[r] != 0, _FLAGS[f[r]], state)
            link = link_type(ctx, row_attributes)
        if stats is not None:
            link._stats = stats
        if dropped_attributes is not None and dropped_attributes[j]:
            link._dropped_attributes = dropped_attributes[j]
        out[j] = link
    return out


cdef struct _Ids:
    uint64_t hi, lo, s


cdef enum:
    SCAN_STACK = 32  # links scanned without a heap allocation


cdef int _any_repeat(const _Ids* ids, Py_ssize_t n, int32_t* table, Py_ssize_t cap, uint64_t key,
                     Py_ssize_t budget) noexcept nogil:
    """1 if two of the n IDs are equal, else 0; OVER_BUDGET once probing takes more than `budget` steps."""
    cdef Py_ssize_t i, steps = 0
    cdef uint64_t h, mask = cap - 1
    cdef int32_t other
    memset(table, 0xFF, cap * sizeof(int32_t))
    for i in range(n):
        h = _mix(_mix(_mix(ids[i].hi ^ key) ^ ids[i].lo) ^ ids[i].s) & mask
        while True:
            other = table[h]
            if other < 0:
                table[h] = <int32_t>i
                break
            if ids[other].lo == ids[i].lo and ids[other].s == ids[i].s and ids[other].hi == ids[i].hi:
                return 1
            h = (h + 1) & mask
            steps += 1
            if steps > budget:
                return OVER_BUDGET
    return 0


def start_scan(span, tuple config):
    """`LinkProcessor.on_start` in one call: None when the span needs nothing more (no links, or
    links the policy keeps as they are: the span's link count is then stored on it), else what
    `scan_links` found with the span's link list and its deque, for the Python path."""
    list_type, list_attr, deque_attr, seen_attr, limit, dedupe, link_type, stats_type, fast = config
    links = getattr(span, list_attr, None)
    if type(links) is not list_type:
        return None
    held = getattr(links, deque_attr)
    if not held:
        return None
    needs_policy, origin_inputs, from_origins = scan_links(held, limit, dedupe, link_type, stats_type, fast)
    if needs_policy or origin_inputs:
        return needs_policy, origin_inputs, from_origins, links, held
    setattr(span, seen_attr, len(held) + links.dropped)
    return None


def links_added(span, tuple config):
    """True when the span's link count (held + dropped) is not the one `start_scan` stored."""
    list_type, list_attr, deque_attr, seen_attr = config[0], config[1], config[2], config[3]
    links = getattr(span, list_attr, None)
    if type(links) is not list_type:
        return False
    return len(getattr(links, deque_attr)) + links.dropped != getattr(span, seen_attr, 0)


cpdef tuple scan_links(items, Py_ssize_t limit, bint dedupe, link_type, stats_type, bint fast):
    cdef Py_ssize_t n = len(items), i = 0, cap = 2 * SCAN_STACK
    cdef _Ids stack_ids[SCAN_STACK]
    cdef int32_t stack_table[2 * SCAN_STACK]
    cdef _Ids* ids = stack_ids
    cdef int32_t* table = stack_table
    cdef uint64_t words[2]
    cdef uint64_t span_word
    cdef int repeat = 0
    cdef bint plain = False, needs = n > limit
    cdef list origins = None
    cdef Py_ssize_t from_origins = 0
    fast = fast and _CONTEXT_IS_TUPLE
    if n > SCAN_STACK and dedupe and not needs:
        while cap < 2 * n:
            cap <<= 1
        ids = <_Ids*>PyMem_RawMalloc(n * sizeof(_Ids))
        table = <int32_t*>PyMem_RawMalloc(cap * sizeof(int32_t))
        if ids == NULL or table == NULL:
            PyMem_RawFree(ids)
            PyMem_RawFree(table)
            raise MemoryError()
    try:
        for item in items:
            kind = type(item)
            stats = item._stats if kind is link_type else (None if kind is Link else getattr(item, "_stats", None))
            if stats is not None and isinstance(stats, stats_type):
                from_origins += 1
                if origins is None:
                    origins = [stats]
                elif not any([o is stats for o in origins]):
                    origins.append(stats)
            else:
                plain = True
            if needs:
                continue  # only the origins are still wanted
            ctx = item._context if fast and (kind is Link or kind is link_type) else item.context
            if not (fast and type(ctx) is SpanContext and (<tuple>ctx)[5] is True):
                needs = True  # an invalid context, or one only the full path reads
                continue
            tid = (<tuple>ctx)[0]
            sid = (<tuple>ctx)[1]
            if (type(tid) is not int or type(sid) is not int
                    or fl_int_to_words(tid, words) < 0 or fl_int_to_word(sid, &span_word) < 0):
                needs = True
                continue
            if dedupe:
                ids[i].lo = words[0]
                ids[i].hi = words[1]
                ids[i].s = span_word
                i += 1
        if dedupe and not needs:
            with nogil:
                repeat = _any_repeat(ids, i, table, cap, 0, 8 * i + 1024)
                if repeat == OVER_BUDGET:  # crafted collisions in the public hash: a secret key instead
                    repeat = _any_repeat(ids, i, table, cap, _TABLE_KEY, PY_SSIZE_T_MAX)
            needs = repeat == 1
    finally:
        if ids != stack_ids:
            PyMem_RawFree(ids)
            PyMem_RawFree(table)
    inputs = 0
    if origins is not None:
        for stats in origins:
            inputs += stats.input
    return plain and needs, inputs, from_origins


def format_traceparents(trace_ids, span_ids, trace_flags):
    cdef const uint8_t* t = _data(trace_ids, -1, 16, "format_traceparents: trace_ids")
    cdef Py_ssize_t i, j, n = _rows_of(trace_ids)
    cdef const uint8_t* s = _data(span_ids, n, 8, "format_traceparents: span_ids")
    cdef const uint8_t* f = _data(trace_flags, n, 0, "format_traceparents: trace_flags")
    cdef char buf[TP_LEN]
    cdef list out = [None] * n
    buf[0] = 48
    buf[1] = 48
    buf[2] = 45
    buf[35] = 45
    buf[52] = 45
    for i in range(n):
        for j in range(16):
            buf[3 + 2 * j] = _HEX[t[16 * i + j] >> 4]
            buf[4 + 2 * j] = _HEX[t[16 * i + j] & 15]
        for j in range(8):
            buf[36 + 2 * j] = _HEX[s[8 * i + j] >> 4]
            buf[37 + 2 * j] = _HEX[s[8 * i + j] & 15]
        buf[53] = _HEX[f[i] >> 4]
        buf[54] = _HEX[f[i] & 15]
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


cdef inline bint _reads_fields(type t):
    """True when a link of type `t` returns `_context` and `_attributes` from Link's own
    properties, so they may be read directly (a subclass may override them)."""
    return t is Link or (issubclass(t, Link) and t.context is Link.context and t.attributes is Link.attributes)


cdef Py_ssize_t _dropped_count(object value) except -1:
    """A link's dropped-attributes count, as the OTLP uint32 field takes it."""
    value = _index(value)
    if not 0 <= value < 2**32:
        raise ValueError(f"dropped_attributes {value} does not fit the OTLP uint32 field")
    return value


def encode_links(links, encode_attribute, bint fast, bint fast_attributes):
    """The wire bytes of a Span's repeated `links` field (13), with the link's W3C flags and
    trace state; merge them into a Span message with `MergeFromString`.

    Links and contexts of the SDK's own types (checked before any C-level read) take the
    direct path; anything else is read through its public properties, exactly as the pure twin
    and the stock encoder read it, and raises as they do when it cannot be encoded."""
    cdef _Buf out
    cdef _Buf link
    cdef bytes raw
    cdef uint32_t flags
    cdef Py_ssize_t dropped
    cdef bint direct, exact
    cdef type seen_type = None  # the last link type checked, and whether it reads fields directly
    cdef bint seen_direct = False
    out.data = NULL
    out.size = out.cap = 0
    link.data = NULL
    link.size = link.cap = 0
    fast = fast and _CONTEXT_IS_TUPLE
    try:
        for item in links:
            link.size = 0
            if type(item) is not seen_type:
                seen_type = type(item)
                seen_direct = fast and _reads_fields(seen_type)
            direct = seen_direct
            ctx = item._context if direct else item.context
            exact = fast and type(ctx) is SpanContext
            if exact:
                tid, sid, remote, trace_flags, state = (<tuple>ctx)[0], (<tuple>ctx)[1], (<tuple>ctx)[2], \
                    (<tuple>ctx)[3], (<tuple>ctx)[4]
            else:
                tid, sid, remote, trace_flags, state = (ctx.trace_id, ctx.span_id, ctx.is_remote,
                                                        ctx.trace_flags, ctx.trace_state)
            if type(tid) is int and 0 <= tid < _TRACE_ID_LIMIT:
                _id_field(&link, 1, PyLong_AsUnsignedLongLongMask(tid >> 64), PyLong_AsUnsignedLongLongMask(tid), 16)
            else:  # what the pure twin and the stock encoder do, with their errors
                raw = tid.to_bytes(16, "big")
                _field(&link, 1, raw, 16)
            if type(sid) is int and 0 <= sid < _SPAN_ID_LIMIT:
                _id_field(&link, 2, 0, PyLong_AsUnsignedLongLongMask(sid), 8)
            else:
                raw = sid.to_bytes(8, "big")
                _field(&link, 2, raw, 8)
            if state:
                raw = ",".join([f"{k}={v}" for k, v in state.items()]).encode()
                _field(&link, 3, raw, len(raw))
            attributes = item._attributes if direct else item.attributes
            if direct and fast_attributes and type(attributes) is BoundedAttributes:  # the SDK's: read its dict
                for key, value in (<dict>attributes._dict).items():
                    _key_value(&link, key, value, encode_attribute)
                dropped = attributes.dropped if type(item) is Link else _dropped_count(item.dropped_attributes)
            else:
                if attributes:
                    for key, value in attributes.items():
                        _key_value(&link, key, value, encode_attribute)
                dropped = _dropped_count(item.dropped_attributes)
            if dropped:
                _varint(&link, (5 << 3) | 0)
                _varint(&link, dropped)
            if type(trace_flags) is not TraceFlags and type(trace_flags) is not int:
                trace_flags = _index(trace_flags)
            flags = (<uint32_t>PyLong_AsUnsignedLongLongMask(trace_flags) & 0xFF) | 0x100
            if remote:
                flags |= 0x200
            _varint(&link, (6 << 3) | 5)
            _fixed(&link, flags, 4)
            _field(&out, 13, link.data, link.size)
        return out.data[:out.size] if out.size else b""
    finally:
        PyMem_RawFree(out.data)
        PyMem_RawFree(link.data)
