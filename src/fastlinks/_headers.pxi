# Included by _parse.pyx: the header names each format reads, matched ASCII case-insensitively
# without running Python code, and `_Headers`, what one carrier holds of them (the pure twin of
# both is in _parse_py.py). Also the carrier shapes clients deliver: SQS/SNS message attributes
# and message objects with `headers`.

cdef enum:  # the headers a carrier is read for: a slot each, tracestate apart (its values are joined)
    SLOT_TRACEPARENT = 0
    SLOT_B3
    SLOT_B3_TID
    SLOT_B3_SID
    SLOT_B3_SAMPLED
    SLOT_B3_FLAGS
    SLOT_UBER
    SLOT_XRAY
    SLOT_AWS
    SLOT_OT_TID
    SLOT_OT_SID
    SLOT_OT_SAMPLED
    NSLOTS
    SLOT_TRACESTATE = 100
    SLOT_NESTED = 101  # an SQS message's MessageAttributes or Attributes, read as its headers
    SLOT_NONE = -1

cdef enum:  # formats, as bits of the set of headers to read and as codes in a composite's order
    F_W3C = 1
    F_B3 = 2
    F_JAEGER = 4
    F_XRAY = 8
    F_OT = 16
    F_ALL = 31

cdef enum:
    LAST = 0
    FIRST = 1
    VOID = 2

cdef object _BAD = object()  # a header present but unusable: repeated where that voids it, or not str/bytes
cdef tuple _INVALID_IDS = (0, 0, 0)
cdef dict _FORMAT_BITS = {"tracecontext": F_W3C, "b3": F_B3, "b3multi": F_B3, "jaeger": F_JAEGER,
                          "xray": F_XRAY, "ottrace": F_OT}

cdef extern from *:
    """
    /* An exact str of ASCII characters in CPython's compact form (every str a header name or value
       arrives as): its bytes and length; NULL for anything else. */
    static CYTHON_INLINE const unsigned char *fl_ascii(PyObject *v, Py_ssize_t *n) {
        if (v == NULL || !PyUnicode_CheckExact(v) || !PyUnicode_IS_COMPACT_ASCII(v))
            return NULL;
        *n = PyUnicode_GET_LENGTH(v);
        return (const unsigned char *)(((PyASCIIObject *)v) + 1);
    }
    """
    const uint8_t* fl_ascii(PyObject*, Py_ssize_t*) noexcept


cdef uint64_t _TRACEPAR = fl_le64(<const uint8_t*>b"tracepar")
# the names as W3C's propagator writes them (interned strs): a name that is one of them matches at once
cdef str _TRACEPARENT_NAME = sys.intern("traceparent")
cdef str _TRACESTATE_NAME = sys.intern("tracestate")


cdef inline bint _is_traceparent(PyObject* key) noexcept:
    """A str or bytes name matching `traceparent` ASCII case-insensitively: the most common name, in
    fewer steps than `_slot`."""
    cdef const uint8_t* p
    if key == <PyObject*>_TRACEPARENT_NAME:
        return True
    if PyUnicode_Check(key):
        if PyUnicode_GET_LENGTH(key) != 11 or PyUnicode_KIND_PTR(key) != 1:
            return False
        p = <const uint8_t*>PyUnicode_DATA_PTR(key)
    elif PyBytes_Check(key):
        if PyBytes_GET_SIZE(key) != 11:
            return False
        p = <const uint8_t*>PyBytes_AS_STRING(key)
    else:
        return False
    # the name is letters only, so OR-ing 0x20 into a byte lowercases it without aliasing another
    return ((fl_le64(p) | ONES * 0x20) == _TRACEPAR and (p[8] | 0x20) == 101 and (p[9] | 0x20) == 110
            and (p[10] | 0x20) == 116)


cdef struct _Name:
    uint64_t word[3]  # the lowercase name's bytes [0:8], [n-8:n] and (past 16) [8:16], little-endian
    uint64_t fold[3]  # 0x20 at each letter: a key's word OR-ed with it lowercases exactly those bytes
    int slot
    int fmt

cdef enum:
    NNAMES = 14
    NAME_MIN = 10  # the shortest name but "b3", which is matched on its own
    NAME_MAX = 17  # the longest, ot-tracer-traceid

cdef _Name _NAMES[NNAMES]
# A perfect hash over the names: for each length n, the names of that length differ in the low
# five bits of their byte at _PICK[n], so _AT[n - NAME_MIN][p[_PICK[n]] & 31] names the one
# candidate (its index in _NAMES + 1; 0: none), which is then compared whole.
cdef uint8_t _PICK[NAME_MAX + 1]
cdef uint8_t _AT[NAME_MAX - NAME_MIN + 1][32]


cdef inline void _windows(const uint8_t* p, Py_ssize_t n, uint64_t* w) noexcept nogil:
    """The words a name of n (10 to 17) bytes is compared by; together they cover every byte."""
    w[0] = fl_le64(p)
    w[1] = fl_le64(p + n - 8)
    w[2] = fl_le64(p + 8) if n > 16 else 0


cdef void _set_name(int k, bytes name, int slot, int fmt):
    cdef uint8_t letters[NAME_MAX]
    cdef int j
    for j in range(len(name)):
        letters[j] = 0x20 if 97 <= name[j] <= 122 else 0
    _windows(<const uint8_t*><const char*>name, len(name), _NAMES[k].word)
    _windows(letters, len(name), _NAMES[k].fold)
    _NAMES[k].slot = slot
    _NAMES[k].fmt = fmt


_NAME_LIST = [  # every name but "b3"
    (b"traceparent", SLOT_TRACEPARENT, F_W3C), (b"tracestate", SLOT_TRACESTATE, F_W3C),
    (b"x-b3-traceid", SLOT_B3_TID, F_B3), (b"x-b3-spanid", SLOT_B3_SID, F_B3),
    (b"x-b3-sampled", SLOT_B3_SAMPLED, F_B3), (b"x-b3-flags", SLOT_B3_FLAGS, F_B3),
    (b"uber-trace-id", SLOT_UBER, F_JAEGER), (b"x-amzn-trace-id", SLOT_XRAY, F_XRAY),
    (b"awstraceheader", SLOT_AWS, F_XRAY), (b"ot-tracer-traceid", SLOT_OT_TID, F_OT),
    (b"ot-tracer-spanid", SLOT_OT_SID, F_OT), (b"ot-tracer-sampled", SLOT_OT_SAMPLED, F_OT),
    (b"attributes", SLOT_NESTED, F_ALL), (b"messageattributes", SLOT_NESTED, F_ALL)]
memset(_AT, 0, sizeof(_AT))
for _k, (_n, _s, _f) in enumerate(_NAME_LIST):
    _set_name(_k, _n, _s, _f)
for _c in range(NAME_MIN, NAME_MAX + 1):
    _same = [(_k, _n) for _k, (_n, _s, _f) in enumerate(_NAME_LIST) if len(_n) == _c]
    _PICK[_c] = next(j for j in range(_c) if len({name[j] & 31 for _, name in _same}) == len(_same))
    for _k, _n in _same:
        _AT[_c - NAME_MIN][_n[_PICK[_c]] & 31] = _k + 1
del _NAME_LIST, _same


cdef inline int _slot(PyObject* key, int enabled) noexcept:
    """The slot of a header name (str or bytes, ASCII case-insensitive) an enabled format reads;
    reads the key through a borrowed reference and runs no Python code."""
    cdef Py_ssize_t n
    if key == <PyObject*>_TRACESTATE_NAME:
        return SLOT_TRACESTATE if enabled & F_W3C else SLOT_NONE
    cdef const uint8_t* p = fl_ascii(key, &n)  # the commonest name, an exact ASCII str, in fewest steps
    if p != NULL:
        if (n < NAME_MIN and n != 2) or n > NAME_MAX:
            return SLOT_NONE
    elif PyUnicode_Check(key):
        n = PyUnicode_GET_LENGTH(key)
        if (n < NAME_MIN and n != 2) or n > NAME_MAX or PyUnicode_KIND_PTR(key) != 1:
            return SLOT_NONE
        p = <const uint8_t*>PyUnicode_DATA_PTR(key)
    elif PyBytes_Check(key):
        n = PyBytes_GET_SIZE(key)
        if (n < NAME_MIN and n != 2) or n > NAME_MAX:
            return SLOT_NONE
        p = <const uint8_t*>PyBytes_AS_STRING(key)
    else:
        return SLOT_NONE
    if n == 2:
        return SLOT_B3 if enabled & F_B3 and (p[0] | 0x20) == 98 and p[1] == 51 else SLOT_NONE  # "b3"
    cdef int k = _AT[n - NAME_MIN][p[_PICK[n]] & 31]
    if k == 0:
        return SLOT_NONE
    cdef const _Name* name = &_NAMES[k - 1]
    if ((fl_le64(p) | name.fold[0]) == name.word[0] and (fl_le64(p + n - 8) | name.fold[1]) == name.word[1]
            and (n <= 16 or (fl_le64(p + 8) | name.fold[2]) == name.word[2]) and enabled & name.fmt):
        return name.slot
    return SLOT_NONE


cdef extern from "Python.h":
    void _incref "Py_INCREF"(PyObject*)
    void _xdecref "Py_XDECREF"(PyObject*)
    Py_ssize_t PyTuple_GET_SIZE(object)
    PyObject* PyTuple_GET_ITEM(object, Py_ssize_t)  # borrowed


cdef inline bint _no_value(int slot, Py_ssize_t n) noexcept:
    """Whether a header given a list of n values reads as absent: none at all, or X-Ray's given
    several (its propagator reads only a single one)."""
    return n == 0 or (n != 1 and (slot == SLOT_XRAY or slot == SLOT_AWS))


@cython.auto_pickle(False)
cdef class _Headers:
    """What one carrier holds of trace context, a value per slot; reused for every carrier of one call.

    A name seen twice follows `repeated` in a list of pairs, and voids the slot in a mapping (only
    case variants can repeat there). Repeated tracestate headers are collected and joined once,
    leaving out blank ones after the first (only spaces, tabs and commas: empty members, which
    the W3C text allows); past MAX_MEMBERS non-blank ones the joined value could only parse to an
    empty trace state, so collecting stops there and the row gets none. Work stays linear in the
    headers' bytes."""
    cdef PyObject* slots_[NSLOTS]  # each slot's value (a reference of its own), NULL when unset
    cdef object state  # the first tracestate value; any later ones go to `more`
    cdef list more
    cdef int members, enabled, repeated, touched, nused
    cdef int used[NSLOTS]  # the slots set, for reset
    cdef bint state_bad, pairs, nested

    def __cinit__(self, int enabled, int repeated):
        memset(self.slots_, 0, sizeof(self.slots_))
        self.enabled = enabled
        self.repeated = repeated
        self.touched = 0
        self.nused = 0
        self.nested = False

    def __dealloc__(self):
        cdef int slot
        for slot in range(NSLOTS):
            _xdecref(self.slots_[slot])

    cdef inline int bad(self) noexcept:
        """A bit for each slot holding _BAD."""
        cdef int k, mask = 0
        for k in range(self.nused):
            if self.slots_[self.used[k]] == <PyObject*>_BAD:
                mask |= 1 << self.used[k]
        return mask

    cdef inline object get(self, int slot):
        """A slot's value, or None."""
        return None if self.slots_[slot] == NULL else <object>self.slots_[slot]

    cdef inline void put(self, int slot, object value) noexcept:
        _incref(<PyObject*>value)
        _xdecref(self.slots_[slot])
        self.slots_[slot] = <PyObject*>value

    cdef inline void reset(self, bint pairs) noexcept:
        cdef int k
        for k in range(self.nused):
            _xdecref(self.slots_[self.used[k]])
            self.slots_[self.used[k]] = NULL
        self.nused = 0
        self.touched = 0
        self.state = None
        self.more = None
        self.members = 0
        self.state_bad = False
        self.pairs = pairs

    cdef inline int see(self, object key, object value) except -1:
        if value is None:
            return 0
        cdef int slot = _slot(<PyObject*>key, self.enabled)
        if slot == SLOT_NONE:
            return 0
        return self.see_slot(slot, value)

    cdef int see_dict(self, dict carrier) except -1:
        """Every item of a dict: names are matched on borrowed references, with no Python code run;
        only a value that is a mapping (an SQS/SNS attribute) calls into Python, and a dict changed
        by that is still read safely (PyDict_Next checks its bounds)."""
        cdef Py_ssize_t pos = 0
        cdef PyObject* key
        cdef PyObject* value
        cdef int slot
        with cython.critical_section(carrier):
            while PyDict_Next(carrier, &pos, &key, &value):
                if value == <PyObject*>None:
                    continue
                slot = _slot(key, self.enabled)
                if slot == SLOT_NONE:
                    continue
                if (slot < NSLOTS and not self.touched & (1 << slot)
                        and (PyUnicode_CheckExact(value) or PyBytes_CheckExact(value))):
                    self.touched |= 1 << slot  # the common case, first seen and str or bytes, in line
                    self.used[self.nused] = slot
                    self.nused += 1
                    self.put(slot, <object>value)
                else:
                    self.see_slot(slot, <object>value)
        return 0

    cdef int see_pairs(self, object carrier, Py_ssize_t i) except -1:
        """Every (key, value) pair of a list or tuple; TypeError naming carriers[i] for another item."""
        for pair in carrier:
            if type(pair) is tuple and PyTuple_GET_SIZE(pair) == 2:  # confluent-kafka's, aiokafka's
                self.see(<object>PyTuple_GET_ITEM(pair, 0), <object>PyTuple_GET_ITEM(pair, 1))
            elif isinstance(pair, (tuple, list)) and len(pair) == 2:
                self.see(pair[0], pair[1])
            else:
                raise TypeError(f"carriers[{i}]: header items must be (key, value) pairs, got {type(pair).__name__}")
        return 0

    cdef int see_nested(self, object value) except -1:
        """An SQS message as boto3 or a Lambda event delivers it: the mappings under its
        `MessageAttributes` and `Attributes` (any case) are read as its headers, one level deep."""
        if self.nested or not _is_mapping(value, None):
            return 0
        cdef bint pairs = self.pairs
        self.nested = True
        self.pairs = False
        try:
            if type(value) is dict:
                self.see_dict(<dict>value)
            else:
                for key, item in value.items():
                    self.see(key, item)
        finally:
            self.nested = False
            self.pairs = pairs
        return 0

    @cython.boundscheck(False)
    @cython.wraparound(False)
    cdef int see_slot(self, int slot, object value) except -1:
        if slot == SLOT_NESTED:
            return self.see_nested(value)
        if isinstance(value, (list, tuple)):
            return self.see_values(slot, value)
        if not isinstance(value, (str, bytes)):
            if _is_mapping(value, None):  # an SQS/SNS message attribute
                value = _attribute_value(value)
                if value is None:
                    return 0
            if not isinstance(value, (str, bytes)):
                value = _BAD
        if slot == SLOT_TRACESTATE:
            if value is _BAD:
                self.state_bad = True
            elif self.members <= MAX_MEMBERS:
                if self.state is None:
                    self.state = _raw(value)
                    self.members += not _blank(value)
                elif not _blank(value):  # a later blank value would add only empty members to the join
                    self.members += 1
                    if self.more is None:
                        self.more = [self.state, _raw(value)]
                    else:
                        self.more.append(_raw(value))
            return 0
        if not self.touched & (1 << slot):
            self.touched |= 1 << slot
            self.used[self.nused] = slot
            self.nused += 1
            self.put(slot, value)
        elif not self.pairs or self.repeated == VOID:  # a mapping's case variants are never a choice
            self.put(slot, _BAD)
        elif self.repeated == LAST:
            self.put(slot, value)
        return 0

    cdef int see_values(self, int slot, object values) except -1:
        """A header with a list or tuple of values, as OpenTelemetry's default getter passes a
        mapping's on, read as each official propagator reads it: every tracestate value; X-Ray's
        header only when it is the one value; any other the first (none: the header is absent)."""
        cdef list items = list(values)
        cdef Py_ssize_t k, n = len(items)
        if slot != SLOT_TRACESTATE:
            if _no_value(slot, n):
                return 0
            n = 1
        for k in range(n):
            value = items[k]
            self.see_slot(slot, _BAD if isinstance(value, (list, tuple)) else value)  # one level only
        return 0

    cdef inline object tracestate(self):
        """The tracestate: one header's raw value, several joined as str; None when there is none
        or it has more than MAX_MEMBERS members."""
        if self.members > MAX_MEMBERS:
            return None
        return self.state if self.more is None else ",".join([_text(value) for value in self.more])

    cdef inline int tracecontext(self, uint8_t* tid, uint8_t* sid, uint8_t* flags):
        value = self.get(SLOT_TRACEPARENT)
        if self.state_bad or value is None or value is _BAD:
            return ABSENT
        return VALID if _parse_value(value, tid, sid, flags) else ABSENT


cdef inline bint _is_mapping(object value, dict kinds) except -1:
    """isinstance(value, Mapping), settled without the ABC's check (which runs Python code, about
    0.5 µs) for the types that decide it at once: a dict (an SQS attribute as boto3 and Lambda
    deliver it) is one; None, str, bytes, list and tuple are not. For any other type the check
    runs, once per type when `kinds` (a call's cache by type) is not None."""
    if type(value) is dict:
        return True
    if value is None or type(value) is str or type(value) is bytes or type(value) is list or type(value) is tuple:
        return False
    if kinds is None:
        return isinstance(value, Mapping)
    known = kinds.get(type(value))
    if known is None:
        known = kinds[type(value)] = isinstance(value, Mapping)
    return known


cdef tuple _ATTRIBUTE_VALUES = ("StringValue", "stringValue", "Value", "BinaryValue")


cdef object _attribute_value(object attribute):
    """The value of an SQS or SNS message attribute: boto3's {"StringValue": ..., "DataType": ...},
    the Lambda event's {"stringValue": ...}, an SNS envelope's {"Type": ..., "Value": ...}, or a
    binary attribute's {"BinaryValue": b"..."}; None when it holds none of them."""
    for name in _ATTRIBUTE_VALUES:
        value = (<dict>attribute).get(name) if type(attribute) is dict else attribute.get(name)
        if value is not None:
            return value
    return None


cdef object _client_headers(object message, Py_ssize_t i):
    """A client's message object as delivered: its `headers` attribute or method (confluent-kafka's
    Message, aiokafka's and kafka-python's ConsumerRecord, pika's BasicProperties, aio-pika's
    messages), else boto3's SQS resource Message as the whole message it wraps (its
    `message_attributes` and `attributes`); TypeError naming the carrier when it has neither."""
    headers = getattr(message, "headers", None)
    if headers is None and not hasattr(message, "headers"):
        if hasattr(message, "message_attributes"):
            return {"MessageAttributes": message.message_attributes, "Attributes": getattr(message, "attributes", None)}
        raise TypeError(
            f"carriers[{i}]: expected a mapping, a sequence of (key, value) pairs, None, or a message with "
            f"headers, got {type(message).__name__} (read any other message type through getter=)")
    return headers() if callable(headers) else headers
