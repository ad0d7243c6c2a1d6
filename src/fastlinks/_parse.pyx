# cython: language_level=3, freethreading_compatible=True
"""Parsing kernels: message headers to link columns. W3C traceparent and tracestate here; the
header names and carrier shapes in `_headers.pxi`; B3, Jaeger, X-Ray and OT in `_formats.pxi`.

`_parse_py.py` is the pure-Python twin and gives identical results; `_parse.pyi` types both.
No module-level mutable state (only constant tables), so safe from many threads, including on
free-threaded CPython. The hex digits of the IDs are decoded by `_hex.h`.
"""
cimport cython
from libc.stdint cimport int8_t, uint8_t, uint16_t, uint32_t, uint64_t
from libc.string cimport memcmp, memcpy, memset

cimport numpy as cnp
from cpython.object cimport PyObject

from fastlinks._arrays cimport NewColumns, _frozen, _new_columns, _nonzero

import sys
from collections.abc import Mapping

from fastlinks._columns import Columns

cnp.import_array()

cdef enum:
    TP_LEN = 55          # len("00-" + 32 hex + "-" + 16 hex + "-" + 2 hex)
    MAX_MEMBERS = 32     # W3C: a tracestate with more list-members than this is discarded whole

cdef extern from "Python.h":
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    int PyUnicode_KIND_PTR "PyUnicode_KIND"(PyObject*) noexcept
    void* PyUnicode_DATA_PTR "PyUnicode_DATA"(PyObject*) noexcept
    bint PyUnicode_Check(PyObject*) noexcept
    bint PyUnicode_CheckExact(PyObject*) noexcept
    bint PyBytes_CheckExact(PyObject*) noexcept
    Py_ssize_t PyUnicode_GET_LENGTH(PyObject*) noexcept
    bint PyBytes_Check(PyObject*) noexcept
    Py_ssize_t PyBytes_GET_SIZE(PyObject*) noexcept
    char* PyBytes_AS_STRING(PyObject*) noexcept
    bytes PyBytes_FromStringAndSize(const char*, Py_ssize_t)
    Py_ssize_t PyList_GET_SIZE(object)
    PyObject* PyList_GET_ITEM(object, Py_ssize_t)  # borrowed
    bint PyTuple_CheckExact(PyObject*) noexcept
    bint PyList_CheckExact(PyObject*) noexcept
    Py_ssize_t _list_size "PyList_GET_SIZE"(PyObject*) noexcept
    PyObject* _list_item "PyList_GET_ITEM"(PyObject*, Py_ssize_t) noexcept  # borrowed
    bint PyDict_CheckExact(PyObject*) noexcept
    Py_ssize_t _tuple_size "PyTuple_GET_SIZE"(PyObject*) noexcept
    PyObject* _tuple_item "PyTuple_GET_ITEM"(PyObject*, Py_ssize_t) noexcept  # borrowed
    Py_ssize_t PyDict_GET_SIZE(object)
    int PyDict_Next(object, Py_ssize_t*, PyObject**, PyObject**)

include "_dict.pxi"

cdef extern from "_hex.h":
    uint64_t fl_le64(const uint8_t*) noexcept nogil
    bint fl_hex_ids(const uint8_t*, uint8_t*, uint8_t*) noexcept nogil
    bint fl_hex16_any(const uint8_t*, uint8_t*) noexcept nogil
    const char* FL_HEX_DECODER

HEX_DECODER = FL_HEX_DECODER.decode()  # which fl_hex_ids this build uses: vector, sse2 or swar


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


cdef inline object _raw(object value):
    """A str or bytes tracestate value as it came, but exact (a subclass is copied): kept raw, it
    is decoded and parsed only for the rows that become links."""
    if type(value) is str or type(value) is bytes:
        return value
    if isinstance(value, str):
        return str.__str__(value)
    return PyBytes_FromStringAndSize(PyBytes_AS_STRING(<PyObject*>value), PyBytes_GET_SIZE(<PyObject*>value))


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
    cdef list seq = list(values)  # a copy, as the twin's: Python code a value runs cannot resize it
    cdef Py_ssize_t i, n = len(seq)
    cdef list raw = None, out_states = None
    cdef NewColumns out
    cdef tuple arrays = _new_columns(n, True, &out)
    cdef uint8_t* t = out.t
    cdef uint8_t* s = out.s
    cdef uint8_t* f = out.f
    if states is not None:
        raw = list(states)
        if len(raw) != n:
            raise ValueError(f"parse_traceparents: {len(raw)} trace states for {n} traceparents")
    for i in range(n):
        if not _parse_value(seq[i], t + 16 * i, s + 8 * i, f + i) or raw is None or raw[i] is None:
            continue
        state = raw[i]
        if not isinstance(state, (str, bytes)):  # a header value that is neither: the row is invalid
            _parse_value(None, t + 16 * i, s + 8 * i, f + i)
        else:
            state = _raw(state)  # exact: a subclass's methods (__len__ too) are never called
            if state:  # a trace state is only read for a valid traceparent
                if out_states is None:
                    out_states = [None] * n
                out_states[i] = state
    return tuple.__new__(Columns, _frozen(arrays) + (out_states,))  # a Columns, without its Python __new__


# ---------------------------------------------------------------- carriers

FORMATS = ("tracecontext", "b3", "b3multi", "jaeger", "xray", "ottrace")
REPEATED = ("last", "first", "invalid")

cdef enum:
    ABSENT = 0   # the format's headers are missing or malformed: the context is left as it was
    INVALID = 1  # the propagator puts an invalid context in place of what earlier ones found
    VALID = 2

include "_headers.pxi"
include "_formats.pxi"


include "_rows.pxi"


cdef enum:
    MAX_FORMATS = 64  # parts of one composite; more could only repeat a format


cdef tuple _codes(object formats, object repeated):
    """The formats in order as bits, their union, and `repeated` as a code; ValueError naming a bad one."""
    cdef list order = []
    cdef int enabled = 0
    for name in formats:
        bit = _FORMAT_BITS.get(name) if isinstance(name, str) else None
        if bit is None:
            raise ValueError(f"formats: unknown format {name!r}; known: {', '.join(FORMATS)}")
        order.append(bit)
        enabled |= bit
    if len(order) > MAX_FORMATS:
        raise ValueError(f"formats: at most {MAX_FORMATS} formats, got {len(order)}")
    if not isinstance(repeated, str) or repeated not in REPEATED:
        raise ValueError(f"repeated must be one of {', '.join(REPEATED)}; got {repeated!r}")
    return order, enabled, REPEATED.index(repeated)


cdef inline int _extract(_Headers h, PyObject** slots, int touched, int bad, int fmt,
                         uint8_t* tid, uint8_t* sid, uint8_t* flags) except -1:
    """One format's reading of the slots' values (see `_resolve`)."""
    if fmt == F_W3C:
        if h is not None:
            return h.tracecontext(tid, sid, flags)
        if not touched & (1 << SLOT_TRACEPARENT):
            return ABSENT
        return VALID if _parse_value(<object>slots[SLOT_TRACEPARENT], tid, sid, flags) else ABSENT
    if fmt == F_B3:
        return _b3(slots, touched, bad, tid, sid, flags)
    if fmt == F_JAEGER:
        return _jaeger(h, tid, sid, flags)
    if fmt == F_XRAY:
        return _xray(h, tid, sid, flags)
    return _ottrace(slots, touched, tid, sid, flags)


cdef inline int _resolve(_Headers h, PyObject** slots, int touched, int bad, const int* codes, int nformats,
                  uint8_t* tid, uint8_t* sid, uint8_t* flags, bint* from_w3c) except -1:
    """The formats in order, as CompositePropagator: a later format's context replaces an earlier
    one. Fills the row (zeroed unless the answer is VALID) and says whether tracecontext gave it.
    `h` is the general path's carrier, or None for `_dict_row`'s borrowed slots (every format
    C_ONLY there, so no Python code runs)."""
    cdef uint8_t t[16]
    cdef uint8_t s[8]
    cdef uint8_t fl[1]
    cdef int k, result, found = ABSENT
    from_w3c[0] = False
    if nformats == 1:  # one format: decoded straight into the row
        found = _extract(h, slots, touched, bad, codes[0], tid, sid, flags)
        from_w3c[0] = codes[0] == F_W3C
    else:
        for k in range(nformats):
            result = _extract(h, slots, touched, bad, codes[k], t, s, fl)
            if result == VALID:
                memcpy(tid, t, 16)
                memcpy(sid, s, 8)
                flags[0] = fl[0]
            if result != ABSENT:
                found = result
                from_w3c[0] = codes[k] == F_W3C
    if found != VALID:
        _parse_value(None, tid, sid, flags)
    return found


def parse_carriers(carriers, formats=("tracecontext",), repeated="last"):
    cdef list order
    cdef int enabled, code, k, bad
    cdef int codes[MAX_FORMATS]
    order, enabled, code = _codes(formats, repeated)
    for k in range(len(order)):
        codes[k] = order[k]
    cdef list seq = carriers if type(carriers) is list else list(carriers)  # copied before Python code runs
    cdef Py_ssize_t i, n = len(seq), nformats = len(order)
    cdef list states = None
    cdef _Headers h = None  # the general path's reader, made when a carrier first needs it
    cdef NewColumns out
    cdef tuple arrays = _new_columns(n, True, &out)
    cdef uint8_t* t = out.t
    cdef uint8_t* s = out.s
    cdef uint8_t* f = out.f
    cdef bint simple = not enabled & ~C_ONLY
    cdef bint from_w3c
    cdef dict kinds = {}  # carrier type -> whether it is a Mapping, for `_is_mapping`
    cdef Py_ssize_t start = 0
    if enabled == F_B3 and _b3_prefix(seq, t, s, f) == n:  # B3's commonest carriers, in a pass of their own
        return tuple.__new__(Columns, _frozen(arrays) + (None,))
    if enabled == F_W3C:  # W3C's commonest carriers, in passes of their own up to the first other one
        start = _w3c_plain(seq, 0, n, t, s, f)
        if start < n and type(seq[start]) is dict and PyDict_GET_SIZE(seq[start]) == 2:  # with a tracestate
            states = [None] * n
            if len(seq) == n:  # making the list ran no finalizer that changed the batch
                start = _w3c_states(seq, start, n, t, s, f, states)
    for i in range(start, n):
        carrier = seq[i]
        if carrier is not None and type(carrier) is not dict and type(carrier) is not list \
                and type(carrier) is not tuple and not isinstance(carrier, (dict, str, bytes)):
            if seq is carriers:  # Python code may run from here on (a client's headers(), say): read
                seq = list(seq)  # the batch as it was when called, as the twin does
            if isinstance(carrier, (list, tuple)):  # pairs, or a record with headers (kafka-python's)
                if hasattr(carrier, "headers"):
                    carrier = _client_headers(carrier, i)
            elif not _is_mapping(carrier, kinds):
                carrier = _client_headers(carrier, i)
        if simple:  # the shapes propagators and Kafka clients give, read in one C pass first
            state = _OTHER
            if type(carrier) is dict:
                if enabled == F_W3C and PyDict_GET_SIZE(carrier) <= 2:  # tighter still, for the commonest carrier
                    state = _w3c_row(<dict>carrier, t + 16 * i, s + 8 * i, f + i)
                if state is _OTHER:
                    state = _dict_row(<dict>carrier, codes, nformats, enabled, t + 16 * i, s + 8 * i, f + i)
            elif type(carrier) is list or type(carrier) is tuple:
                state = _pairs_row(carrier, codes, nformats, enabled, t + 16 * i, s + 8 * i, f + i)
            if state is not _OTHER:
                if state is not None:
                    if states is None:
                        states = [None] * n
                    states[i] = state
                continue
        if seq is carriers:  # the general path may run Python code too
            seq = list(seq)
        if h is None:
            h = _Headers(enabled, code)
        h.reset(isinstance(carrier, (list, tuple)))
        if carrier is None:
            pass
        elif type(carrier) is dict:
            h.see_dict(<dict>carrier)
        elif type(carrier) is list or type(carrier) is tuple:  # what Kafka clients deliver, in fewest steps
            h.see_pairs(carrier, i)
        elif _is_mapping(carrier, kinds):  # a dict subclass too: read through its items(), as the twin does
            for key, value in carrier.items():
                h.see(key, value)
        elif isinstance(carrier, (list, tuple)):
            h.see_pairs(carrier, i)
        else:
            raise TypeError(
                f"carriers[{i}]: expected a mapping or a sequence of (key, value) pairs, "
                f"got {type(carrier).__name__}")
        bad = h.bad() if enabled & F_B3 else 0
        if _resolve(h, h.slots_, h.touched, bad, codes, nformats, t + 16 * i, s + 8 * i, f + i, &from_w3c) == VALID \
                and from_w3c:
            state = h.tracestate()
            if state is not None:
                if states is None:
                    states = [None] * n
                states[i] = state
    return tuple.__new__(Columns, _frozen(arrays) + (states,))  # a Columns, without its Python __new__
