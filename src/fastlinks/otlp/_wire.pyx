# cython: language_level=3, freethreading_compatible=True
"""OTLP wire encoding: the bytes of a Span's repeated `links` field, with each link's W3C flags
and trace state, for `fastlinks.otlp` to merge into the stock encoder's Span messages.

`_wire_py.py` is the pure-Python twin and gives identical results; `_wire.pyi` types both.
"""
from cpython.mem cimport PyMem_RawFree, PyMem_RawRealloc
from cpython.object cimport PyTypeObject
from libc.stdint cimport int64_t, uint32_t, uint64_t
from libc.string cimport memcpy

from operator import index as _index

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.trace import Link, SpanContext, TraceFlags

cdef object _TRACE_ID_LIMIT = 2**128
cdef object _SPAN_ID_LIMIT = 2**64

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object, Py_ssize_t*) except NULL
    unsigned long long PyLong_AsUnsignedLongLongMask(object) except? -1

# Read as a tuple only when SpanContext really is the 6-tuple subclass; `_otel_compat` checks the
# whole layout and passes `fast`.
cdef bint _CONTEXT_IS_TUPLE = issubclass(SpanContext, tuple) and SpanContext.__itemsize__ == tuple.__itemsize__


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
    cdef Py_ssize_t klen = 0, vlen = 0, any_len = 0, kv_len  # set for every kind written; zero quiets GCC
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
