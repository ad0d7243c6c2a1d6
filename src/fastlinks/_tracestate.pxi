# Included by _materialize.pyx: tracestate headers to TraceState objects, only for the rows that
# become links (trace_states), validated as the SDK's regular expressions validate them, in one
# linear pass. Twin: _materialize_py.py.


cdef object _TRACE_STATE = TraceState  # read as a C global, not looked up per state

cdef enum:
    MAX_MEMBERS = 32  # W3C: more list-members than this discards the whole tracestate


cdef enum:  # what a character may be in a tracestate member, as bits of _CLASS
    KEY = 1      # after a key's first character: a-z 0-9 _ - * /
    VALUE = 2    # in a value: printable ASCII but "," and "="
    LOWER = 4    # a-z: what a key (or a tenant key's system part) starts with
    DIGIT = 8    # 0-9: what a tenant key may also start with

cdef uint8_t _CLASS[256]
for _c in range(256):
    _CLASS[_c] = ((KEY if (97 <= _c <= 122 or 48 <= _c <= 57 or _c in b"_-*/") else 0)
                  | (VALUE if 32 <= _c <= 126 and _c not in b",=" else 0)
                  | (LOWER if 97 <= _c <= 122 else 0) | (DIGIT if 48 <= _c <= 57 else 0))


cdef bint _valid_key(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """`[a-z][key chars]{0,255}`, or `[a-z0-9][key chars]{0,240}@[a-z][key chars]{0,13}`."""
    cdef Py_ssize_t j, at = -1
    cdef uint8_t ok = KEY
    for j in range(n):
        if p[j] == 64 and at < 0:  # "@": a multi-tenant key, once
            at = j
        else:
            ok &= _CLASS[p[j]]
    if not ok:
        return False
    if at < 0:
        return n <= 256 and _CLASS[p[0]] & LOWER
    return 1 <= at <= 241 and 1 <= n - at - 1 <= 14 and _CLASS[p[0]] & (LOWER | DIGIT) and _CLASS[p[at + 1]] & LOWER


cdef bint _valid_value(const uint8_t* p, Py_ssize_t n) noexcept nogil:
    """1 to 256 printable ASCII characters but `,` and `=`, the last not a space."""
    cdef Py_ssize_t j
    cdef uint8_t ok = VALUE
    if not 1 <= n <= 256 or p[n - 1] == 32:
        return False
    for j in range(n):
        ok &= _CLASS[p[j]]
    return ok != 0


cdef inline str _ascii(const uint8_t* p, Py_ssize_t n):
    """A str of n ASCII characters (already checked), copied in one step."""
    text = PyUnicode_New(n, 127)
    memcpy(PyUnicode_DATA(text), p, n)
    return <str>text


cdef enum:
    KNOWN_KEYS = 8  # member keys remembered per call: a batch's states repeat a few vendors' keys


cdef inline bint _same(object text, const uint8_t* p, Py_ssize_t n) noexcept:
    """Whether an ASCII str made by `_ascii` holds the n bytes at p."""
    return PyUnicode_GET_LENGTH(text) == n and memcmp(PyUnicode_DATA(text), p, n) == 0


cdef str _key(const uint8_t* p, Py_ssize_t n, list known):
    """The key p[0:n] as a str: one of `known` when it is there (no new string, its hash kept)."""
    cdef Py_ssize_t k
    for k in range(len(known)):
        key = known[k]
        if _same(key, p, n):
            return <str>key
    key = _ascii(p, n)
    if len(known) < KNOWN_KEYS:
        known.append(key)
    return <str>key


cdef struct _Member:  # one list-member of a header: where its key and its value are
    Py_ssize_t key, key_len, value, value_len


cdef class _Last:
    """The members of the last TraceState a call made: its dict (never changed: a state holds it),
    and its keys and values in order. A batch's headers mostly repeat one vendor's keys in one
    order with values that differ per trace, so the next dict is a copy of this one with the
    changed values set in place, an unchanged value the same str, and only a changed value
    checked (the last one's were valid)."""
    cdef dict members
    cdef list keys, values

    cdef object follow(self, const uint8_t* p, const _Member* m, Py_ssize_t count):
        """The members dict for the header `p` (members `m`, not yet checked) from the last one,
        when its keys are the last one's in the same order; None when they are not, and
        `_DEFAULT_STATE` when a changed value is not valid."""
        cdef Py_ssize_t k
        cdef uint64_t changed = 0  # bit k: member k's value is not the last one's (count <= 32)
        cdef dict members
        if self.keys is None or len(self.keys) != count:
            return None
        for k in range(count):
            if not _same(self.keys[k], p + m[k].key, m[k].key_len):
                return None
        for k in range(count):  # every value checked before anything changes
            if not _same(self.values[k], p + m[k].value, m[k].value_len):
                if not _valid_value(p + m[k].value, m[k].value_len):
                    return _DEFAULT_STATE
                changed |= (<uint64_t>1) << k
        members = PyDict_Copy(self.members)
        for k in range(count):
            if changed >> k & 1:
                value = _ascii(p + m[k].value, m[k].value_len)
                self.values[k] = value
                if not fl_dict_replace(members, k, <PyObject*>self.keys[k], <PyObject*>value):
                    members[self.keys[k]] = value
        self.members = members
        return members

    cdef void keep(self, dict members):
        self.members = members
        self.keys = list(members)
        self.values = list(members.values())


cdef object _trace_state(object header, bint fast, list known, _Last last):
    """One header's TraceState, as the twin's regular expressions read it: members are the runs
    from a character that is not `,`, space or tab to the next comma, trailing spaces and tabs
    cut; a bad or repeated member, or a 33rd, gives the empty TraceState (so the work is linear
    in the header, however long)."""
    cdef const uint8_t* p
    cdef Py_ssize_t i = 0, j, end, eq, n, k, count = 0
    cdef _Member m[MAX_MEMBERS]
    if isinstance(header, bytes):  # read as its latin-1 text, which has these very bytes
        p = <const uint8_t*>PyBytes_AS_STRING(header)
        n = PyBytes_GET_SIZE(header)
    elif isinstance(header, str):
        if PyUnicode_KIND(header) != 1:
            return _DEFAULT_STATE  # a character past U+00FF is in some member, and no member may hold it
        p = <const uint8_t*>PyUnicode_DATA(header)
        n = len(<str>header)
    else:
        raise TypeError(f"trace_states: a tracestate header must be str or bytes, got {type(header).__name__}")
    cdef const uint8_t* found
    while i < n:
        if p[i] == 44 or p[i] == 32 or p[i] == 9:
            i += 1
            continue
        found = <const uint8_t*>memchr(p + i, 44, n - i)
        j = n if found == NULL else found - p
        end = j
        while p[end - 1] == 32 or p[end - 1] == 9:
            end -= 1  # the run starts with another character, so this stops there
        found = <const uint8_t*>memchr(p + i, 61, end - i)
        if found == NULL or found == p + i or count == MAX_MEMBERS:
            return _DEFAULT_STATE
        eq = found - p
        m[count].key, m[count].key_len, m[count].value, m[count].value_len = i, eq - i, eq + 1, end - eq - 1
        count += 1
        i = j
    if count == 0:
        return _DEFAULT_STATE
    members = last.follow(p, m, count)
    if members is _DEFAULT_STATE:
        return _DEFAULT_STATE
    if members is None:
        for k in range(count):
            if not _valid_key(p + m[k].key, m[k].key_len) or not _valid_value(p + m[k].value, m[k].value_len):
                return _DEFAULT_STATE
        members = {}
        for k in range(count):
            value = _ascii(p + m[k].value, m[k].value_len)
            if PyDict_SetDefault(members, _key(p + m[k].key, m[k].key_len, known), value) != <PyObject*>value:
                return _DEFAULT_STATE  # a repeated key
        last.keep(<dict>members)
    if not fast:
        return TraceState(list((<dict>members).items()))
    state = (<PyTypeObject*>_TRACE_STATE).tp_new(_TRACE_STATE, <PyObject*>_NO_ARGS, NULL)  # object.__new__
    state._dict = members
    return state


def trace_states(list headers, rows, bint fast):
    cdef list out = [], known = []
    cdef _Last members = _Last()
    cdef Py_ssize_t r  # a C index: headers[r] without an int object's lookup (negative ones count from the end)
    last = state = None
    for row in rows:
        r = row
        raw = headers[r]
        if raw is None:
            out.append(None)
            continue
        if raw is not last:  # a header object the previous row did not share
            state = _trace_state(raw, fast, known, members)
            last = raw
        out.append(state)
    return out
