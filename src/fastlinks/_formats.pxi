# Included by _parse.pyx: the propagation formats besides W3C, each read as its official
# OpenTelemetry propagator reads it (its `extract`), so a composite resolves as the SDK's does.
# The pure twin of each is in _parse_py.py. Common shapes are decoded in C; the rare ones
# the jaeger and xray propagators accept through Python's int(text, 16) (signs, "0x", "_",
# spaces, Unicode digits) take the same Python-level code as the twin.

cdef int8_t _HEXANY[256]  # hex digit values in either case, -1 elsewhere
for _c in range(256):
    _HEXANY[_c] = _HEXVAL[_c] if _HEXVAL[_c] >= 0 else (_c - 55 if 65 <= _c <= 70 else -1)


cdef inline PyObject* _at(PyObject** slots, int touched, int slot) noexcept nogil:
    """A slot's value, or NULL when it was not set: `touched` has a bit per slot set, so the slots
    need no clearing before each carrier."""
    return slots[slot] if touched & (1 << slot) else NULL


cdef inline bint _view(PyObject* value, int* kind, const void** data, Py_ssize_t* n) noexcept:
    """The characters of a slot's value (a str or bytes, read through the slot's reference);
    False for an empty slot, None or _BAD."""
    if value == NULL or value == <PyObject*>None or value == <PyObject*>_BAD:
        return False
    if PyUnicode_Check(value):
        kind[0] = PyUnicode_KIND_PTR(value)
        data[0] = PyUnicode_DATA_PTR(value)
        n[0] = PyUnicode_GET_LENGTH(value)
    else:
        kind[0] = 1
        data[0] = PyBytes_AS_STRING(value)
        n[0] = PyBytes_GET_SIZE(value)
    return True


cdef bint _hex_into(int kind, const void* data, Py_ssize_t start, Py_ssize_t n,
                    uint8_t* out, int width, bint lower_only) noexcept nogil:
    """1 to 2*width ASCII hex digits at data[start:start+n] as a big-endian number in out[0:width]."""
    cdef Py_ssize_t j, pos
    cdef uint32_t c
    cdef int v
    if n < 1 or n > 2 * width:
        return False
    memset(out, 0, width)
    for j in range(n):
        c = _char(kind, data, start + j)
        if c >= 128:
            return False
        v = _HEXVAL[c] if lower_only else _HEXANY[c]
        if v < 0:
            return False
        pos = 2 * width - n + j
        out[pos >> 1] |= <uint8_t>(v if pos & 1 else v << 4)
    return True


cdef inline bint _equals(int kind, const void* data, Py_ssize_t start, Py_ssize_t n, const char* text) noexcept nogil:
    """data[start:start+n] is exactly the ASCII `text`."""
    cdef Py_ssize_t j
    for j in range(n):
        if text[j] == 0 or _char(kind, data, start + j) != <uint8_t>text[j]:
            return False
    return text[n] == 0


cdef inline bint _b3_sampled(int kind, const void* data, Py_ssize_t start, Py_ssize_t n) noexcept nogil:
    """The b3 propagator's sampled values: "1", "d" (debug), "true" and "True"."""
    cdef uint32_t c
    if n == 1:
        c = _char(kind, data, start)
        return (c == 49) | (c == 100)  # bitwise: a batch samples at random, a branch here missed half the time
    return n == 4 and (_equals(kind, data, start, n, b"true") or _equals(kind, data, start, n, b"True"))


cdef inline int _ids_state(uint8_t* tid, uint8_t* sid) noexcept nogil:
    return VALID if _nonzero(tid, 16) and _nonzero(sid, 8) else INVALID


cdef inline int _b3_ascii_ids(const uint8_t* t, Py_ssize_t tn, const uint8_t* s, bint sampled,
                              uint8_t* tid, uint8_t* sid, uint8_t* flags) noexcept nogil:
    """A B3 trace ID of 16 or 32 and a span ID of 16 ASCII hex digits in either case (lengths
    checked by the caller), 16 digits at a time, into the row: VALID, INVALID (all-zero) or ABSENT."""
    cdef bint ok
    if tn == 16:
        memset(tid, 0, 8)
        ok = fl_hex16_any(t, tid + 8)
    else:
        ok = fl_hex16_any(t, tid) & fl_hex16_any(t + 16, tid + 8)
    if not (ok and fl_hex16_any(s, sid)):
        return ABSENT
    flags[0] = sampled
    return _ids_state(tid, sid)


cdef enum:
    B3_IDS = (1 << SLOT_B3_TID) | (1 << SLOT_B3_SID)
    B3_OTHER = (1 << SLOT_B3) | (1 << SLOT_B3_FLAGS)


cdef inline int _b3(PyObject** slots, int touched, int bad, uint8_t* tid, uint8_t* sid, uint8_t* flags) noexcept:
    """`_b3_any`, with the commonest carrier read in line first: x-b3-traceid, x-b3-spanid and maybe
    x-b3-sampled, ASCII str each, no single header, no x-b3-flags (what B3MultiFormat injects).
    Same answers, about a third of the steps."""
    cdef Py_ssize_t tn = 0, sn = 0, vn = 0
    cdef const uint8_t* t
    cdef const uint8_t* s
    cdef const uint8_t* v
    cdef bint sampled = False
    if bad or touched & B3_OTHER or touched & B3_IDS != B3_IDS:
        return _b3_any(slots, touched, bad, tid, sid, flags)
    t = fl_ascii(slots[SLOT_B3_TID], &tn)
    s = fl_ascii(slots[SLOT_B3_SID], &sn)
    if t == NULL or s == NULL:
        return _b3_any(slots, touched, bad, tid, sid, flags)
    if touched & (1 << SLOT_B3_SAMPLED):
        v = fl_ascii(slots[SLOT_B3_SAMPLED], &vn)
        if v == NULL:
            return _b3_any(slots, touched, bad, tid, sid, flags)
        sampled = _b3_sampled(1, v, 0, vn)
    if (tn != 16 and tn != 32) or sn != 16:
        return ABSENT
    return _b3_ascii_ids(t, tn, s, sampled, tid, sid, flags)


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _b3_any(PyObject** slots, int touched, int bad, uint8_t* tid, uint8_t* sid, uint8_t* flags) noexcept:
    """opentelemetry-propagator-b3: the single `b3` header when set, else the x-b3-* headers;
    IDs of 16 or 32 (trace) and 16 (span) hex digits in either case; all-zero IDs give INVALID.
    Reads the slots' values (`_Headers.slots_` or `_dict_row`'s borrowed ones) through `_at`;
    `bad` has a bit for each slot holding `_BAD`. Runs no Python code."""
    cdef int kind = 1, skind = 1
    cdef const void* data = NULL
    cdef const void* sdata = NULL
    cdef Py_ssize_t n = 0, sn = 0, t0 = 0, tn = 0, s0 = 0, snn = 0
    cdef Py_ssize_t d[4]
    cdef int dashes = 0, vkind = 1
    cdef const void* vdata = NULL
    cdef Py_ssize_t vn = 0, j
    cdef bint sampled
    cdef PyObject* single = _at(slots, touched, SLOT_B3)
    if bad & (1 << SLOT_B3):
        return ABSENT
    if _view(single, &kind, &data, &n) and n > 0:
        for j in range(n):
            if _char(kind, data, j) == 45:
                d[dashes] = j
                dashes += 1
                if dashes == 4:
                    break
        if dashes == 0 or dashes == 4:  # only a sampling state, or more than four fields
            return ABSENT
        t0, tn, s0 = 0, d[0], d[0] + 1
        snn = (d[1] if dashes > 1 else n) - s0
        if dashes == 1:
            sampled = True  # the single header's "deferred" sampling, recorded as sampled
        else:
            sampled = _b3_sampled(kind, data, d[1] + 1, (d[2] if dashes > 2 else n) - d[1] - 1)
        skind, sdata = kind, data
    else:
        if bad & ((1 << SLOT_B3_TID) | (1 << SLOT_B3_SID) | (1 << SLOT_B3_SAMPLED) | (1 << SLOT_B3_FLAGS)):
            return ABSENT
        if (not _view(_at(slots, touched, SLOT_B3_TID), &kind, &data, &tn)
                or not _view(_at(slots, touched, SLOT_B3_SID), &skind, &sdata, &snn)):
            return ABSENT
        sampled = False
        if _view(_at(slots, touched, SLOT_B3_SAMPLED), &vkind, &vdata, &vn) and vn > 0:
            sampled = _b3_sampled(vkind, vdata, 0, vn)
        if not sampled and _view(_at(slots, touched, SLOT_B3_FLAGS), &vkind, &vdata, &vn):
            sampled = _equals(vkind, vdata, 0, vn, b"1")
    if (tn != 16 and tn != 32) or snn != 16:
        return ABSENT
    if kind == 1 and skind == 1:
        return _b3_ascii_ids(<const uint8_t*>data + t0, tn, <const uint8_t*>sdata + s0, sampled, tid, sid, flags)
    if not _hex_into(kind, data, t0, tn, tid, 16, False) or not _hex_into(skind, sdata, s0, snn, sid, 8, False):
        return ABSENT
    flags[0] = sampled
    return _ids_state(tid, sid)




@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _ottrace(PyObject** slots, int touched, uint8_t* tid, uint8_t* sid, uint8_t* flags) noexcept:
    """opentelemetry-propagator-ot-trace: lowercase hex IDs of 1-32 and 1-16 digits, sampled "true";
    an all-zero ID leaves the context as it was. Runs no Python code, as `_b3`."""
    cdef int kind = 1
    cdef const void* data = NULL
    cdef Py_ssize_t n = 0
    if not _view(_at(slots, touched, SLOT_OT_TID), &kind, &data, &n) or not _hex_into(kind, data, 0, n, tid, 16, True):
        return ABSENT
    if not _view(_at(slots, touched, SLOT_OT_SID), &kind, &data, &n) or not _hex_into(kind, data, 0, n, sid, 8, True):
        return ABSENT
    flags[0] = _view(_at(slots, touched, SLOT_OT_SAMPLED), &kind, &data, &n) and _equals(kind, data, 0, n, b"true")
    return VALID if _ids_state(tid, sid) == VALID else ABSENT


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _jaeger(_Headers h, uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """opentelemetry-propagator-jaeger: `trace:span:parent:flags`, IDs in hex without leading zeros.
    A zero ID leaves the context as it was; one out of range puts an invalid context in its place."""
    cdef int kind = 1
    cdef const void* data = NULL
    cdef Py_ssize_t n = 0, j
    cdef Py_ssize_t c[3]
    cdef int colons = 0
    cdef uint8_t last[1]
    value = h.get(SLOT_UBER)
    if not _view(<PyObject*>value, &kind, &data, &n):
        return ABSENT
    for j in range(n):
        if _char(kind, data, j) == 58:
            if colons == 3:
                return ABSENT
            c[colons] = j
            colons += 1
    if colons != 3:
        return ABSENT
    if (_hex_into(kind, data, 0, c[0], tid, 16, False) and _hex_into(kind, data, c[0] + 1, c[1] - c[0] - 1, sid, 8, False)
            and n - c[2] - 1 >= 1 and _hex_into(kind, data, n - 1, 1, last, 1, False)
            and _all_hex(kind, data, c[2] + 1, n - c[2] - 1)):
        flags[0] = last[0] & 1
        return VALID if _ids_state(tid, sid) == VALID else ABSENT
    return _from_ints(_jaeger_text(_text(value)), tid, sid, flags)


cdef inline bint _all_hex(int kind, const void* data, Py_ssize_t start, Py_ssize_t n) noexcept nogil:
    cdef Py_ssize_t j
    cdef uint32_t ch
    for j in range(n):
        ch = _char(kind, data, start + j)
        if ch >= 128 or _HEXANY[ch] < 0:
            return False
    return True


cdef object _int16(str text):
    """Python's int(text, 16), as the jaeger and xray propagators read IDs, or None."""
    try:
        return int(text, 16)
    except ValueError:
        return None


cdef object _context(object trace_id, object span_id, bint sampled):
    """What a propagator puts in the context: a valid SpanContext's IDs and flag, else _INVALID_IDS."""
    if 0 < trace_id < _TRACE_ID_END and 0 < span_id < _SPAN_ID_END:
        return (trace_id, span_id, int(sampled))
    return _INVALID_IDS


_TRACE_ID_END = 0x100000000000000000000000000000000  # 2**128
_SPAN_ID_END = 0x10000000000000000  # 2**64


cdef object _jaeger_text(str header):
    """The jaeger propagator's reading of a header the C path does not decode."""
    fields = header.split(":")
    if len(fields) != 4:
        return None
    flags = _int16(fields[3])
    trace_id = _int16(fields[0]) or 0
    span_id = _int16(fields[1]) or 0
    if flags is None or not trace_id or not span_id:
        return None
    return _context(trace_id, span_id, flags & 1)


cdef object _xray_text(str header):
    """opentelemetry-propagator-aws-xray: `Root=1-<8 hex>-<24 hex>;Parent=<16 hex>;Sampled=<0|1>`
    (keys and values stripped, others ignored); anything malformed or invalid leaves the context."""
    trace_id = span_id = 0
    sampled = False
    for pair in header.split(";"):
        parts = pair.split("=")
        if len(parts) != 2:
            return None
        key, value = parts[0].strip(), parts[1].strip()
        if key == "Root":
            if len(value) != 35 or value[0] != "1" or value[1] != "-" or value[10] != "-":
                return None
            parsed = _int16(value[2:10] + value[11:35])
            if parsed is None:
                return None
            trace_id = parsed
        elif key == "Parent":
            parsed = _int16(value) if len(value) == 16 else None
            if parsed is None:
                return None
            span_id = parsed
        elif key == "Sampled":
            if value != "0" and value != "1":
                return None
            sampled = value == "1"
    context = _context(trace_id, span_id, sampled)
    return None if context is _INVALID_IDS else context


@cython.boundscheck(False)
@cython.wraparound(False)
cdef int _xray(_Headers h, uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """X-Amzn-Trace-Id, else SQS's AWSTraceHeader system attribute, as the xray propagator reads it."""
    value = h.get(SLOT_XRAY)
    if value is None:
        value = h.get(SLOT_AWS)
    if value is None or value is _BAD:
        return ABSENT
    text = _text(value)  # an exact str: a subclass's methods (__len__ too) are never called
    return _from_ints(_xray_text(text), tid, sid, flags) if text else ABSENT


cdef int _from_ints(object found, uint8_t* tid, uint8_t* sid, uint8_t* flags) except -1:
    """A Python-level reading (None, _INVALID_IDS or (trace_id, span_id, sampled)) into the row."""
    cdef const uint8_t* p
    if found is None:
        return ABSENT
    if found is _INVALID_IDS:
        return INVALID
    raw = found[0].to_bytes(16, "big") + found[1].to_bytes(8, "big")
    p = <const uint8_t*><const char*><bytes>raw
    memcpy(tid, p, 16)
    memcpy(sid, p + 16, 8)
    flags[0] = 1 if found[2] else 0
    return VALID
