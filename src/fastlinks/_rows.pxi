# Included by _parse.pyx: the carriers read in one C pass, through borrowed references and with
# no Python code run (the shapes propagators inject, Kafka clients deliver, and boto3 and Lambda
# give SQS messages and their attributes in); any other shape answers `_OTHER` and takes
# `_Headers`, the general path. The pure twin has no such shortcut: tests/test_formats.py and the
# fuzzer hold both to the same results, and tests/test_carriers.py each fast row to the general path's.

cdef object _OTHER = object()  # a fast row's answer for a carrier the general path must read


cdef enum:
    C_ONLY = F_W3C | F_B3 | F_OT  # the formats decoded without running Python code


cdef extern from "Python.h":
    void _list_set "PyList_SET_ITEM"(object, Py_ssize_t, PyObject*)  # steals a reference


cdef inline bint _w3c_value(PyObject* traceparent, uint8_t* tid, uint8_t* sid, uint8_t* flags) noexcept:
    """A traceparent header's value (an exact str or bytes) into the row; whether it was valid. The
    commonest, an exact ASCII str of 55 characters with nothing to trim, straight from its data."""
    cdef Py_ssize_t length
    cdef const uint8_t* p = fl_ascii(traceparent, &length)
    if p != NULL and length == TP_LEN and p[0] > 32 and p[TP_LEN - 1] > 32:
        if _parse_ascii(p, TP_LEN, tid, sid, flags):
            return True
        _parse_value(None, tid, sid, flags)  # the row zeroed, as `_parse_value` leaves a bad one
        return False
    return _parse_value(<object>traceparent, tid, sid, flags)


cdef object _w3c_row(dict carrier, uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """The commonest case, W3C alone asked for and a dict as its propagator's `inject` writes it: a
    traceparent and at most a tracestate, both str or bytes (1.7 ns a carrier less than `_dict_row`,
    which reads any mix of headers). Parses the traceparent into the row and returns the trace
    state (None when there is none or the row is invalid); `_OTHER` for a dict of any other shape,
    which then takes `_dict_row`. Reads through borrowed references and runs no Python code
    while the dict cannot change."""
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* traceparent = NULL
    cdef PyObject* tracestate = NULL
    cdef int slot
    cdef fl_walk w
    with cython.critical_section(carrier):
        fl_walk_start(&w, carrier)
        while fl_walk_next(&w, &key, &value):
            if not (PyUnicode_CheckExact(value) or PyBytes_CheckExact(value)):
                return _OTHER
            slot = SLOT_TRACEPARENT if _is_traceparent(key) else _slot(key, F_W3C)
            if slot == SLOT_TRACEPARENT and traceparent == NULL:
                traceparent = value
            elif slot == SLOT_TRACESTATE and tracestate == NULL:
                tracestate = value
            else:
                return _OTHER
        if traceparent == NULL:
            return _OTHER
        if not _w3c_value(traceparent, tid, sid, flags) or tracestate == NULL:
            return None
        return <object>tracestate  # an exact str or bytes, kept raw


cdef Py_ssize_t _w3c_plain_rows(list seq, Py_ssize_t start, Py_ssize_t n,
                                uint8_t* t, uint8_t* s, uint8_t* f) noexcept:
    """W3C alone asked for: the rows of the batch's carriers from `start` for as long as each is a
    dict of one traceparent (str or bytes), as a propagator's `inject` writes it; how many
    carriers it has read then. Takes no reference and makes no object, so no Python code runs and
    the list cannot change under it (n is its length). 81 instructions a carrier fewer than
    `parse_carriers`' loop, which reads the rest."""
    cdef Py_ssize_t i
    cdef PyObject* carrier
    cdef PyObject* key
    cdef PyObject* value
    cdef fl_walk w
    for i in range(start, n):
        carrier = PyList_GET_ITEM(seq, i)
        if not PyDict_CheckExact(carrier) or PyDict_GET_SIZE(<dict>carrier) != 1:
            return i
        with cython.critical_section(<dict>carrier):
            fl_walk_start(&w, <dict>carrier)
            if not fl_walk_next(&w, &key, &value) or not _is_traceparent(key) \
                    or not (PyUnicode_CheckExact(value) or PyBytes_CheckExact(value)):
                return i
            _w3c_value(value, t + 16 * i, s + 8 * i, f + i)
    return n


cdef Py_ssize_t _w3c_state_rows(list seq, Py_ssize_t start, Py_ssize_t n,
                                uint8_t* t, uint8_t* s, uint8_t* f, list states) noexcept:
    """`_w3c_plain_rows` for dicts of a traceparent and a tracestate, in either order: a valid
    row's trace state is noted raw in `states` (a list of n, made with None), as `_w3c_row`
    returns it. Takes a reference to those only."""
    cdef Py_ssize_t i
    cdef PyObject* carrier
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* other
    cdef PyObject* traceparent
    cdef PyObject* tracestate
    cdef fl_walk w
    for i in range(start, n):
        carrier = PyList_GET_ITEM(seq, i)
        if not PyDict_CheckExact(carrier) or PyDict_GET_SIZE(<dict>carrier) != 2:
            return i
        with cython.critical_section(<dict>carrier):
            fl_walk_start(&w, <dict>carrier)
            if not fl_walk_next(&w, &key, &value) or not fl_walk_next(&w, &other, &tracestate):
                return i
            if _is_traceparent(key):
                traceparent = value
            else:  # the other order: the tracestate first
                traceparent, tracestate, key, other = tracestate, value, other, key
                if not _is_traceparent(key):
                    return i
            if (_slot(other, F_W3C) != SLOT_TRACESTATE
                    or not (PyUnicode_CheckExact(traceparent) or PyBytes_CheckExact(traceparent))
                    or not (PyUnicode_CheckExact(tracestate) or PyBytes_CheckExact(tracestate))):
                return i
            if _w3c_value(traceparent, t + 16 * i, s + 8 * i, f + i):
                value = PyList_GET_ITEM(states, i)  # the None the list was made with: nothing is freed
                _incref(tracestate)
                _list_set(states, i, tracestate)
                _xdecref(value)
    return n


# Called through pointers, so that the C compiler keeps them out of parse_carriers.
cdef Py_ssize_t (*_w3c_plain)(list, Py_ssize_t, Py_ssize_t, uint8_t*, uint8_t*, uint8_t*) noexcept
cdef Py_ssize_t (*_w3c_states)(list, Py_ssize_t, Py_ssize_t, uint8_t*, uint8_t*, uint8_t*, list) noexcept
_w3c_plain = _w3c_plain_rows
_w3c_states = _w3c_state_rows


# x-b3-traceid, x-b3-sampled (12 bytes) and x-b3-spanid (11) as their first and last 8 bytes, read
# as little-endian words; a name's word OR-ed with the fold (0x20 at each letter) is lowercased.
cdef uint64_t _FOLD_HEAD = fl_le64(<const uint8_t*>b"\x20\x00\x20\x00\x00\x20\x20\x20")  # "x-b3-tra" and the like
cdef uint64_t _FOLD_TAIL12 = fl_le64(<const uint8_t*>b"\x00\x20\x20\x20\x20\x20\x20\x20")  # "-traceid", "-sampled"
cdef uint64_t _FOLD_TAIL11 = fl_le64(<const uint8_t*>b"\x00\x00\x20\x20\x20\x20\x20\x20")  # "3-spanid"
cdef uint64_t _B3_TRA = fl_le64(<const uint8_t*>b"x-b3-tra")
cdef uint64_t _B3_SAM = fl_le64(<const uint8_t*>b"x-b3-sam")
cdef uint64_t _B3_SPA = fl_le64(<const uint8_t*>b"x-b3-spa")
cdef uint64_t _TRACEID = fl_le64(<const uint8_t*>b"-traceid")
cdef uint64_t _SAMPLED = fl_le64(<const uint8_t*>b"-sampled")
cdef uint64_t _SPANID = fl_le64(<const uint8_t*>b"3-spanid")


cdef struct _B3Seen:  # what `_b3_header` found of a carrier's B3 headers: each one's bytes and length
    const uint8_t* t
    const uint8_t* s
    const uint8_t* v
    Py_ssize_t tn, sn, vn


cdef inline bint _b3_header(PyObject* key, PyObject* value, _B3Seen* b) noexcept:
    """One header of `_b3_row`, the B3-only fast row: x-b3-traceid, x-b3-spanid and x-b3-sampled
    in any case, with an ASCII str or a bytes value, noted in `b`; any name B3 does not read is
    passed over. False when the carrier must take the general path: one of those three read twice
    or with another value, a B3 name this row does not read (the single `b3`, x-b3-flags), or an
    SQS message's attributes."""
    cdef Py_ssize_t n = 0
    cdef const uint8_t* p
    cdef const uint8_t** text = NULL
    cdef Py_ssize_t* length = NULL
    cdef uint64_t head, tail
    if value == <PyObject*>None:
        return True  # as `_header`: a header without a value is not there
    p = fl_ascii(key, &n)
    if p != NULL and (n == 12 or n == 11):  # ASCII-folded: OR-ing 0x20 lowercases only the letters
        head = fl_le64(p) | _FOLD_HEAD
        tail = fl_le64(p + n - 8) | (_FOLD_TAIL12 if n == 12 else _FOLD_TAIL11)
        if n == 12 and head == _B3_TRA and tail == _TRACEID:
            text, length = &b.t, &b.tn
        elif n == 11 and head == _B3_SPA and tail == _SPANID:
            text, length = &b.s, &b.sn
        elif n == 12 and head == _B3_SAM and tail == _SAMPLED:
            text, length = &b.v, &b.vn
    if text == NULL:
        return _slot(key, F_B3) == SLOT_NONE
    if text[0] != NULL:
        return False
    text[0] = fl_ascii(value, length)
    if text[0] == NULL and PyBytes_CheckExact(value):  # Kafka clients' values: read as `_b3` reads bytes
        text[0] = <const uint8_t*>PyBytes_AS_STRING(value)
        length[0] = PyBytes_GET_SIZE(value)
    return text[0] != NULL


cdef inline object _b3_finish(const _B3Seen* b, uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """The row from what `_b3_header` found, as `_b3` decodes it (a missing ID header leaves the
    context absent, as with no B3 header at all); None, as B3 has no trace state."""
    cdef int found = ABSENT
    if b.t != NULL and b.s != NULL and (b.tn == 16 or b.tn == 32) and b.sn == 16:
        found = _b3_ascii_ids(b.t, b.tn, b.s, b.v != NULL and _b3_sampled(1, b.v, 0, b.vn), tid, sid, flags)
    if found != VALID:
        _parse_value(None, tid, sid, flags)
    return None


cdef object _b3_row(object carrier, uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """B3 alone asked for, and a dict as B3MultiFormat's `inject` writes it or a list or tuple of
    (name, value) tuples as Kafka clients deliver it, maybe among other headers (`_b3_header`).
    None (no headers) too. Fills the row as `_dict_row` or `_pairs_row` would and returns None;
    `_OTHER` for any other carrier, which `parse_carriers` then reads. Borrowed references, no
    Python code run, as theirs."""
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* pair
    cdef Py_ssize_t k, n
    cdef _B3Seen b
    cdef fl_walk w
    memset(&b, 0, sizeof(b))
    if carrier is None:  # no headers at all
        return _b3_finish(&b, tid, sid, flags)
    if type(carrier) is dict:
        with cython.critical_section(carrier):
            fl_walk_start(&w, carrier)
            while fl_walk_next(&w, &key, &value):
                if not _b3_header(key, value, &b):
                    return _OTHER
            return _b3_finish(&b, tid, sid, flags)
    if type(carrier) is not list and type(carrier) is not tuple:
        return _OTHER
    with cython.critical_section(carrier):
        n = PyList_GET_SIZE(carrier) if type(carrier) is list else PyTuple_GET_SIZE(carrier)
        for k in range(n):
            pair = PyList_GET_ITEM(carrier, k) if type(carrier) is list else PyTuple_GET_ITEM(carrier, k)
            if (not PyTuple_CheckExact(pair) or _tuple_size(pair) != 2
                    or not _b3_header(_tuple_item(pair, 0), _tuple_item(pair, 1), &b)):
                return _OTHER
        return _b3_finish(&b, tid, sid, flags)


cdef Py_ssize_t _b3_rows(list seq, uint8_t* t, uint8_t* s, uint8_t* f) except -1:
    """B3 alone asked for: the batch's rows from the first for as long as `_b3_row` reads its
    carriers; how many it read. Unless that is all of them, `parse_carriers` reads the whole
    batch again (at most one pass more, and only for a batch with a carrier of another shape). A
    pass of its own, so that parse_carriers' loop, which every other batch takes, keeps the
    compiler's layout (a call inside it cost every W3C carrier 4-8 instructions). Runs no Python
    code, so `seq` cannot change under it."""
    cdef Py_ssize_t i, n = PyList_GET_SIZE(seq)
    for i in range(n):
        if _b3_row(<object>PyList_GET_ITEM(seq, i), t + 16 * i, s + 8 * i, f + i) is _OTHER:
            return i
    return n


# Called through a pointer, so that the C compiler keeps it out of parse_carriers.
cdef Py_ssize_t (*_b3_prefix)(list, uint8_t*, uint8_t*, uint8_t*) except -1
_b3_prefix = _b3_rows


cdef inline bint _header(PyObject* key, PyObject* value, int enabled, PyObject** slots, int* touched,
                         PyObject** tracestate, bint nested) noexcept:
    """One header of a fast row into its borrowed slots; False when the carrier must take the
    general path: a header read twice, or a value other than an exact str or bytes, None, an SQS
    or SNS attribute dict, (at the top) a dict of an SQS message's attributes, or a list or tuple
    of values `_other_header` reads."""
    if value == <PyObject*>None:
        return True  # as the general path: a header without a value is not there
    cdef int slot = _slot(key, enabled)
    if slot == SLOT_NONE:
        return True
    if PyUnicode_CheckExact(value) or PyBytes_CheckExact(value):
        return _put(slot, value, slots, touched, tracestate)
    return _other_header(slot, value, enabled, slots, touched, tracestate, nested)


cdef inline bint _put(int slot, PyObject* value, PyObject** slots, int* touched, PyObject** tracestate) noexcept:
    """A header's value into its slot; False when it is not an exact str or bytes, or the slot
    already holds one."""
    if not (PyUnicode_CheckExact(value) or PyBytes_CheckExact(value)):
        return False
    if slot == SLOT_TRACESTATE:
        if tracestate[0] != NULL:
            return False
        tracestate[0] = value
    elif slot == SLOT_NESTED or touched[0] & (1 << slot):
        return False
    else:
        touched[0] |= 1 << slot
        slots[slot] = value
    return True


cdef bint _other_header(int slot, PyObject* value, int enabled, PyObject** slots, int* touched,
                        PyObject** tracestate, bint nested) noexcept:
    """`_header` for a value that is not a str or bytes (out of line: rarer): an SQS message's
    attributes (read one level deep), one SQS/SNS message attribute (the value it holds), or a
    list or tuple of values, read as `_Headers.see_values` reads it (several tracestate values
    take the general path, which joins them). False for anything else."""
    cdef Py_ssize_t n
    cdef bint is_list = PyList_CheckExact(value)
    if PyDict_CheckExact(value):
        if slot == SLOT_NESTED:
            return not nested and _nested(value, enabled, slots, touched, tracestate)
        value = _attribute(value)
        if value == NULL:
            return False
        if value == <PyObject*>None:
            return True
    elif slot != SLOT_NESTED and (is_list or PyTuple_CheckExact(value)):
        n = _list_size(value) if is_list else _tuple_size(value)
        if _no_value(slot, n):
            return True
        if n != 1 and slot == SLOT_TRACESTATE:
            return False
        value = _list_item(value, 0) if is_list else _tuple_item(value, 0)
    else:
        return False
    return _put(slot, value, slots, touched, tracestate)


cdef bint _nested(PyObject* attributes, int enabled, PyObject** slots, int* touched, PyObject** tracestate) noexcept:
    """The entries of an SQS message's attribute dict as its headers (`_Headers.see_nested`)."""
    cdef PyObject* key
    cdef PyObject* value
    cdef fl_walk w
    with cython.critical_section(<object>attributes):
        fl_walk_start(&w, <object>attributes)
        while fl_walk_next(&w, &key, &value):
            if not _header(key, value, enabled, slots, touched, tracestate, True):
                return False
    return True


cdef enum:
    NVALUE_NAMES = 4

cdef tuple _VALUE_BYTES = tuple(name.encode() for name in _ATTRIBUTE_VALUES)  # holds the bytes _VALUE_NAMES point into
cdef const char* _VALUE_NAMES[NVALUE_NAMES]  # `_ATTRIBUTE_VALUES`, in the order they are asked for
cdef Py_ssize_t _VALUE_LENGTHS[NVALUE_NAMES]


cdef void _set_value_names():
    cdef Py_ssize_t k
    cdef bytes name
    assert len(_VALUE_BYTES) == NVALUE_NAMES
    for k in range(NVALUE_NAMES):
        name = _VALUE_BYTES[k]
        _VALUE_NAMES[k] = name
        _VALUE_LENGTHS[k] = len(name)


_set_value_names()


cdef PyObject* _attribute(PyObject* attribute) noexcept:
    """What `_attribute_value` finds in an attribute dict (the first of its names whose value is
    not None; None when none is), read through borrowed references; NULL when a key is not an
    exact str, as asking the dict for a name could then run that key's Python code."""
    cdef Py_ssize_t n
    cdef PyObject* key
    cdef PyObject* value
    cdef fl_walk w
    cdef PyObject* found[NVALUE_NAMES]
    cdef const uint8_t* p
    cdef int k
    memset(found, 0, sizeof(found))
    with cython.critical_section(<object>attribute):
        fl_walk_start(&w, <object>attribute)
        while fl_walk_next(&w, &key, &value):
            if not PyUnicode_CheckExact(key):
                return NULL
            p = fl_ascii(key, &n)
            if p == NULL or value == <PyObject*>None:
                continue  # a non-ASCII name is none of them; a None value is as good as none
            for k in range(NVALUE_NAMES):
                if n == _VALUE_LENGTHS[k] and memcmp(p, _VALUE_NAMES[k], n) == 0:
                    found[k] = value
                    break
    for k in range(NVALUE_NAMES):
        if found[k] != NULL:
            return found[k]
    return <PyObject*>None


cdef inline object _row(PyObject** slots, int touched, PyObject* tracestate, const int* codes, int nformats,
                        uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """The row from `_header`'s slots, and its raw trace state (None when there is none or the
    row is invalid). Runs no Python code: every format is C_ONLY here."""
    cdef bint from_w3c = False
    if (_resolve(None, slots, touched, 0, codes, nformats, tid, sid, flags, &from_w3c) != VALID
            or not from_w3c or tracestate == NULL):
        return None
    return <object>tracestate  # an exact str or bytes, kept raw


cdef object _dict_row(dict carrier, const int* codes, int nformats, int enabled,
                      uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """The common case, a dict as a propagator's `inject` writes it, maybe among other headers: each
    header read is a str or bytes, present once, and every format asked for is decoded in C
    (`C_ONLY`). Fills the row and returns its trace state (None when there is none or the row is
    invalid); `_OTHER` for a dict of any other shape, which then takes the general path. The
    values are read through borrowed references while the dict cannot change (no Python code
    runs), so none is copied or counted."""
    cdef PyObject* key
    cdef PyObject* value
    cdef PyObject* slots[NSLOTS]  # set where `touched` has the slot's bit
    cdef PyObject* tracestate = NULL
    cdef int touched = 0
    cdef fl_walk w
    with cython.critical_section(carrier):
        fl_walk_start(&w, carrier)
        while fl_walk_next(&w, &key, &value):
            if not _header(key, value, enabled, slots, &touched, &tracestate, False):
                return _OTHER
        return _row(slots, touched, tracestate, codes, nformats, tid, sid, flags)


cdef object _pairs_row(object carrier, const int* codes, int nformats, int enabled,
                       uint8_t* tid, uint8_t* sid, uint8_t* flags):
    """`_dict_row` for a list or tuple of (name, value) tuples, what Kafka clients deliver; `_OTHER`
    for any other item, a value that is not str or bytes, or a name read twice (the general path
    applies `repeated`). Borrowed references, no Python code run, as `_dict_row`."""
    cdef Py_ssize_t k, n
    cdef PyObject* pair
    cdef PyObject* slots[NSLOTS]
    cdef PyObject* tracestate = NULL
    cdef int touched = 0
    with cython.critical_section(carrier):
        n = PyList_GET_SIZE(carrier) if type(carrier) is list else PyTuple_GET_SIZE(carrier)
        for k in range(n):
            pair = PyList_GET_ITEM(carrier, k) if type(carrier) is list else PyTuple_GET_ITEM(carrier, k)
            if (not PyTuple_CheckExact(pair) or _tuple_size(pair) != 2
                    or not _header(_tuple_item(pair, 0), _tuple_item(pair, 1), enabled, slots, &touched, &tracestate,
                                   False)):
                return _OTHER
        return _row(slots, touched, tracestate, codes, nformats, tid, sid, flags)
