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


cdef str _key(const uint8_t* p, Py_ssize_t n, list known):
    """The key p[0:n] as a str: one of `known` when it is there (no new string, its hash kept)."""
    cdef Py_ssize_t k
    for k in range(len(known)):
        key = known[k]
        if PyUnicode_GET_LENGTH(key) == n and memcmp(PyUnicode_DATA(key), p, n) == 0:
            return <str>key
    key = _ascii(p, n)
    if len(known) < KNOWN_KEYS:
        known.append(key)
    return <str>key


cdef object _trace_state(object header, bint fast, list known):
    """One header's TraceState, as the twin's regular expressions read it: members are the runs
    from a character that is not `,`, space or tab to the next comma, trailing spaces and tabs
    cut; a bad or repeated member, or a 33rd, gives the empty TraceState at once (so the work
    is linear in the header, however long)."""
    cdef const uint8_t* p
    cdef Py_ssize_t i = 0, j, end, eq, n
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
    cdef dict members = {}
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
        if found == NULL or len(members) == MAX_MEMBERS:
            return _DEFAULT_STATE
        eq = found - p
        if eq == i or not _valid_key(p + i, eq - i) or not _valid_value(p + eq + 1, end - eq - 1):
            return _DEFAULT_STATE
        value = _ascii(p + eq + 1, end - eq - 1)
        if PyDict_SetDefault(members, _key(p + i, eq - i, known), value) != <PyObject*>value:
            return _DEFAULT_STATE  # a repeated key
        i = j
    if not members:
        return _DEFAULT_STATE
    if not fast:
        return TraceState(list(members.items()))
    state = (<PyTypeObject*>_TRACE_STATE).tp_new(_TRACE_STATE, <PyObject*>_NO_ARGS, NULL)  # object.__new__
    state._dict = members
    return state


def trace_states(list headers, rows, bint fast):
    cdef list out = [], known = []
    cdef Py_ssize_t r  # a C index: headers[r] without an int object's lookup (negative ones count from the end)
    last = state = None
    for row in rows:
        r = row
        raw = headers[r]
        if raw is None:
            out.append(None)
            continue
        if raw is not last:  # a header object the previous row did not share
            state = _trace_state(raw, fast, known)
            last = raw
        out.append(state)
    return out
