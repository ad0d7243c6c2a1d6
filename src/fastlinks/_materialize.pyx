# cython: language_level=3, freethreading_compatible=True
"""Materialization kernels: SpanContexts to link columns and back to OpenTelemetry `Link`
objects, built only for the rows asked for, with their trace states (`_tracestate.pxi`); and
columns back to traceparent strings.

`_materialize_py.py` is the pure-Python twin and gives identical results; `_materialize.pyi`
types both. With `fast` (set by `_otel_compat` after it checked the SDK's layout) contexts
and links are built field by field; otherwise through their constructors.
"""
from cpython.object cimport PyObject, PyTypeObject
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memchr, memcmp, memcpy, memset

cimport numpy as cnp

from fastlinks._arrays cimport NewColumns, _be64, _data, _frozen, _new_columns, _nonzero, _row_numbers, _rows_of

from operator import index as _index

from opentelemetry.trace import Link, SpanContext, TraceFlags
from opentelemetry.trace.span import DEFAULT_TRACE_STATE, TraceState

from fastlinks._columns import Columns

cnp.import_array()

cdef tuple _FLAGS = tuple(TraceFlags(i) for i in range(256))
cdef object _SPAN_CONTEXT = SpanContext  # module constants read as C globals, not looked up per link
cdef object _DEFAULT_STATE = DEFAULT_TRACE_STATE
cdef tuple _NO_ARGS = ()
cdef const char* _HEX = b"0123456789abcdef"
cdef object _TRACE_ID_LIMIT = 2**128

cdef enum:
    TP_LEN = 55  # len("00-" + 32 hex + "-" + 16 hex + "-" + 2 hex)

cdef extern from "Python.h":
    int PyUnicode_KIND(object)
    void* PyUnicode_DATA(object)
    object PyUnicode_New(Py_ssize_t, unsigned int)
    Py_ssize_t PyUnicode_GET_LENGTH(object)
    char* PyBytes_AS_STRING(object)
    Py_ssize_t PyBytes_GET_SIZE(object)
    PyObject* PyDict_SetDefault(object, object, object) except NULL  # a borrowed reference
    object PyLong_FromUnsignedLongLong(unsigned long long)
    object PyType_GenericAlloc(PyTypeObject*, Py_ssize_t)
    void PyTuple_SET_ITEM(object, Py_ssize_t, object)
    void Py_INCREF(object)

cdef extern from "_ints.h":
    object fl_int_from_be16(const uint8_t*)
    object fl_int_from_be8(const uint8_t*)


# ---------------------------------------------------------------- SpanContexts <-> columns

# SpanContext is a 6-tuple subclass (trace_id, span_id, is_remote, trace_flags, trace_state,
# is_valid) in every supported API; `_otel_compat` checks the whole layout and passes `fast`.
# This is the kernel's own guard: no tuple cast or allocation unless the type really is a tuple.
# A Python-level tuple subclass without __slots__: beyond tuple's items only its __dict__ and
# __weakref__ pointers (in the object on 3.11, before it when "managed" on 3.12+), which
# PyType_GenericAlloc sets up and leaves NULL (a dict is made on first use).
cdef bint _CONTEXT_IS_TUPLE = (issubclass(SpanContext, tuple)
                               and SpanContext.__itemsize__ == tuple.__itemsize__
                               and not any("__slots__" in vars(k) for k in SpanContext.__mro__[:-2])
                               and 0 <= SpanContext.__basicsize__ - tuple.__basicsize__ <= 2 * sizeof(void*))
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
    cdef NewColumns out
    cdef tuple arrays = _new_columns(n, False, &out)
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
    return tuple.__new__(Columns, _frozen(arrays) + (states,))  # a Columns, without its Python __new__


cdef inline void _set_item(object tup, Py_ssize_t i, object item) noexcept:
    Py_INCREF(item)  # PyTuple_SET_ITEM steals a reference
    PyTuple_SET_ITEM(tup, i, item)


cdef inline void _set_list_item(list items, Py_ssize_t i, object item) noexcept:
    """items[i] = item for a list the caller made and holds alone, without a bounds check."""
    cdef PyObject* old = PyList_GET_ITEM(items, i)
    Py_INCREF(item)  # PyList_SET_ITEM steals a reference
    PyList_SET_ITEM(items, i, item)
    Py_XDECREF(old)


cdef inline object _span_context(object tid, object sid, bint remote, object flags, object state, bint valid):
    """What `SpanContext(tid, sid, remote, flags, state)` returns, for IDs already validated:
    the same 6-tuple subclass, allocated as `tuple.__new__` would, without re-checking them.
    Only called when `_CONTEXT_IS_TUPLE` and the caller's `fast` (the full layout check) hold."""
    ctx = PyType_GenericAlloc(<PyTypeObject*>_SPAN_CONTEXT, 6)
    _set_item(ctx, 0, tid)
    _set_item(ctx, 1, sid)
    _set_item(ctx, 2, True if remote else False)
    _set_item(ctx, 3, flags)
    _set_item(ctx, 4, state)
    _set_item(ctx, 5, True if valid else False)
    return ctx


cdef extern from "Python.h":
    object PyDict_Copy(object)
    int PyDict_SetItem(object, object, object) except -1
    Py_ssize_t PyDict_GET_SIZE(object)
    PyTypeObject* PyDescr_TYPE(PyObject*)  # the class a descriptor was made for
    PyTypeObject* Py_TYPE(PyObject*)
    Py_ssize_t PyList_GET_SIZE(object)
    PyObject* PyList_GET_ITEM(object, Py_ssize_t)  # borrowed
    bint PyType_IsSubtype(PyTypeObject*, PyTypeObject*)
    void PyList_SET_ITEM(object, Py_ssize_t, object)  # steals a reference
    void Py_XDECREF(PyObject*)
    PyObject* PyDict_GetItemWithError(object, object) except? NULL  # borrowed

include "_dict.pxi"


cdef extern from "structmember.h":  # PyMemberDef, T_OBJECT_EX and READONLY on every CPython 3.10-3.13
    ctypedef struct PyMemberDef:
        int type
        Py_ssize_t offset
        int flags
    ctypedef struct PyMemberDescrObject:
        PyMemberDef* d_member
    int T_OBJECT_EX  # the kind of member a __slots__ entry makes
    int READONLY

cdef tuple _LINK_FIELDS = ("_context", "_attributes", "_stats", "_dropped_attributes")
cdef object _ZERO = 0
cdef object _MEMBER_DESCRIPTOR = type(type("_Slots", (), {"__slots__": ("x",)}).__dict__["x"])


cdef extern from *:
    """
    /* A new instance of `cls`, whose __new__ is object's and which is not abstract (the caller
       checked both). On CPython 3.10-3.13 (GIL builds) the type's own allocation, which leaves the
       instance's __dict__ to be made on first use, as for any object its type allocates (CPython's
       attribute code reads a missing dict and values as empty), rather than object.__new__'s block
       for instance values (3.11, 3.12) that a link never uses; elsewhere object.__new__ itself. */
    static PyObject *fl_new_link(PyTypeObject *cls, PyObject *no_args) {
    #if PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED)
        (void)no_args;
        return cls->tp_alloc(cls, 0);
    #else
        return cls->tp_new(cls, no_args, NULL);
    #endif
    }
    """
    object fl_new_link(PyTypeObject*, object)
    unsigned long Py_TPFLAGS_IS_ABSTRACT


cdef inline bint _slotted(object link_type, Py_ssize_t* offsets):
    """True when `link_type` keeps every field of `_LINK_FIELDS` in a slot of its own (LinkSetLink
    does) and is made by object.__new__: where each slot is in the object, read from its member
    descriptor (one `__slots__` made for this very class, an object reference inside the
    instance), so a new link's fields are stored as the descriptor's setter would store them,
    without a call per field."""
    cdef int k
    cdef PyMemberDef* member
    cdef PyObject* found
    cdef PyTypeObject* cls = <PyTypeObject*>link_type
    if (cls.tp_dict == NULL or cls.tp_new != (<PyTypeObject*>object).tp_new
            or cls.tp_flags & Py_TPFLAGS_IS_ABSTRACT):
        return False
    fields = <object>cls.tp_dict  # the class's own namespace (what __dict__ shows)
    for k in range(4):
        found = PyDict_GetItemWithError(fields, _LINK_FIELDS[k])
        if found == NULL or type(<object>found) is not _MEMBER_DESCRIPTOR:
            return False
        descr = <object>found
        member = (<PyMemberDescrObject*><PyObject*>descr).d_member
        if (PyDescr_TYPE(<PyObject*>descr) != <PyTypeObject*>link_type
                or member.type != T_OBJECT_EX or member.flags & READONLY
                or not <Py_ssize_t>sizeof(PyObject) <= member.offset <= (<PyTypeObject*>link_type).tp_basicsize
                - <Py_ssize_t>sizeof(PyObject*)):
            return False
        offsets[k] = member.offset
    return True


cdef inline void _put(object link, Py_ssize_t offset, object value) noexcept:
    """A slot of a link just made (so still NULL) set to `value`, as its descriptor would set it."""
    Py_INCREF(value)
    (<PyObject**>(<char*><PyObject*>link + offset))[0] = <PyObject*>value


cdef object _row_attributes(dict shared, dict template, Py_ssize_t first, list keys, list values, Py_ssize_t j):
    """Link j's attributes: the shared ones, then its values in the columns that are not None
    (None when there are none). From `template` (the shared values and a placeholder per
    column, in that order) when every value can be set in place in its copy, else key by key.
    `keys` and `values` are make_links' own lists, each column checked to hold j."""
    cdef Py_ssize_t c, ncolumns = PyList_GET_SIZE(keys)
    cdef PyObject* value
    if template is not None:
        out = PyDict_Copy(template)
        for c in range(ncolumns):
            value = PyList_GET_ITEM(<object>PyList_GET_ITEM(values, c), j)
            if value == <PyObject*>None or not fl_dict_replace(out, first + c, PyList_GET_ITEM(keys, c), value):
                break
        else:
            return out
    out = PyDict_Copy(shared)
    for c in range(ncolumns):
        value = PyList_GET_ITEM(<object>PyList_GET_ITEM(values, c), j)
        if value != <PyObject*>None:
            PyDict_SetItem(out, <object>PyList_GET_ITEM(keys, c), <object>value)
    return out if PyDict_GET_SIZE(out) else None


def make_links(trace_ids, span_ids, trace_flags, is_remote, rows, list trace_states, attributes, list columns,
               list dropped_attributes, link_type, stats, bint fast):
    cdef const uint8_t* t = _data(trace_ids, -1, 16, "make_links: trace_ids")
    cdef Py_ssize_t j, r, k, c, n = _rows_of(trace_ids)
    cdef const uint8_t* s = _data(span_ids, n, 8, "make_links: span_ids")
    cdef const uint8_t* f = _data(trace_flags, n, 0, "make_links: trace_flags")
    cdef const uint8_t* remote = _data(is_remote, n, 0, "make_links: is_remote")
    cdef const int64_t* picked = NULL
    cdef uint64_t sid
    cdef bint valid, per_row = isinstance(attributes, list), slotted
    cdef PyTypeObject* cls
    cdef Py_ssize_t offsets[4]
    cdef list keys = None, values = None
    cdef Py_ssize_t ncolumns = 0, first = 0
    cdef dict template = None
    cdef bint shared_key = False  # a column's key is a shared one too

    if not (isinstance(link_type, type) and PyType_IsSubtype(<PyTypeObject*>link_type, <PyTypeObject*>Link)):
        raise TypeError(f"make_links: link_type must be a Link subclass, got {link_type!r}")
    fast = fast and _CONTEXT_IS_TUPLE
    slotted = fast and _slotted(link_type, offsets)
    cls = <PyTypeObject*>link_type
    if rows is None:
        k = n
    else:
        picked = _row_numbers(rows, "make_links")
        k = _rows_of(rows)
    if columns is not None:
        if per_row or not isinstance(attributes, dict):
            raise TypeError("make_links: per-row columns need the shared attributes as a dict")
        keys, values = [], []  # the kernel's own lists: `_row_attributes` reads them unchecked
        for key, vals in columns:
            vals = list(vals)
            if len(<list>vals) != k:
                raise ValueError(f"make_links: column {key!r} has {len(<list>vals)} values for {k} links")
            keys.append(key)
            values.append(vals)
            shared_key = shared_key or key in attributes
        ncolumns = len(keys)
        if DICT_WALK and not shared_key:  # each link's dict: a copy of the shared values and a
            template = dict(attributes)   # placeholder for each column's, set in place
            first = len(template)         # (`_row_attributes`)
            for key in keys:
                template[key] = None
    cdef list out = [None] * k  # not PyList_New's NULLs: Python code may run below (a Link subclass's __init__)
    for j in range(k):
        r = j if picked == NULL else picked[j]
        if r < 0 or r >= n:
            raise IndexError(f"make_links: row {r} out of range for {n} rows")
        sid = _be64(s + 8 * r)
        state = _DEFAULT_STATE if trace_states is None or trace_states[j] is None else trace_states[j]
        valid = _nonzero(t + 16 * r, 16)
        tid = fl_int_from_be16(t + 16 * r) if valid else 0
        if columns is not None:
            row_attributes = _row_attributes(attributes, template, first, keys, values, j)
        else:
            row_attributes = None if attributes is None else ((<list>attributes)[j] if per_row else attributes)
        dropped = _ZERO if dropped_attributes is None else dropped_attributes[j]
        if fast:
            ctx = _span_context(tid, fl_int_from_be8(s + 8 * r), remote[r] != 0, _FLAGS[f[r]], state,
                                valid and sid != 0)
        else:
            ctx = SpanContext(tid, PyLong_FromUnsignedLongLong(sid), remote[r] != 0, _FLAGS[f[r]], state)
        if slotted:  # a new instance (fl_new_link) with every slot set in place
            link = fl_new_link(cls, _NO_ARGS)
            _put(link, offsets[0], ctx)
            _put(link, offsets[1], row_attributes)
            _put(link, offsets[2], stats)
            _put(link, offsets[3], dropped)
            _set_list_item(out, j, link)
            continue
        link = link_type(ctx, row_attributes)  # any other Link subclass: through its own __init__
        if stats is not None:
            link._stats = stats
        if dropped:
            link._dropped_attributes = dropped
        _set_list_item(out, j, link)
    return out


include "_tracestate.pxi"


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


cdef extern from "Python.h":
    list PyList_New(Py_ssize_t)
    Py_ssize_t _tuple_size "PyTuple_GET_SIZE"(object)
    PyObject* _tuple_item "PyTuple_GET_ITEM"(object, Py_ssize_t)  # borrowed
    void _incref "Py_INCREF"(PyObject*)
    void _list_set "PyList_SET_ITEM"(object, Py_ssize_t, PyObject*)  # steals a reference

cdef enum:
    FEW_TYPES = 8  # distinct value types `snapshot` notes while it copies


def snapshot(values):
    cdef Py_ssize_t i, k, n, distinct = 0
    cdef PyTypeObject* kinds[FEW_TYPES]
    cdef PyTypeObject* kind
    cdef PyTypeObject* last = NULL
    cdef PyObject* item
    cdef bint is_list = type(values) is list, more = False
    if not is_list and type(values) is not tuple:
        out = list(values)
        return out, value_types(out)
    n = PyList_GET_SIZE(values) if is_list else _tuple_size(values)
    cdef list copy = PyList_New(n)  # its empty items all set below, before any Python code can run
    for i in range(n):  # copied and typed in one pass, each value touched once
        item = PyList_GET_ITEM(values, i) if is_list else _tuple_item(values, i)
        _incref(item)  # into an empty slot: not `_set_list_item`, whose release of the old item
        _list_set(copy, i, item)  # cost this loop 8-12% at 500 values
        kind = Py_TYPE(item)
        if kind != last:  # runs of one type cost a pointer comparison each
            last = kind
            k = 0
            while k < distinct and kinds[k] != kind:
                k += 1
            if k == distinct:
                if distinct < FEW_TYPES:
                    kinds[distinct] = kind
                    distinct += 1
                else:
                    more = True
    if more:
        return copy, value_types(copy)
    seen = set()  # held by the copy's values from here: a metaclass's __hash__ may run Python code
    for k in range(distinct):
        seen.add(<object>kinds[k])
    return copy, frozenset(seen)


def value_types(list values):
    cdef set seen = set()
    cdef PyTypeObject* last = NULL  # held by `seen` once set
    cdef PyTypeObject* kind
    cdef Py_ssize_t i = 0
    while i < PyList_GET_SIZE(values):  # read again each time: a metaclass's __hash__ could shrink the list
        kind = Py_TYPE(PyList_GET_ITEM(values, i))
        if kind != last:  # runs of one type cost a pointer comparison each
            seen.add(<object>kind)
            last = kind
        i += 1
    return frozenset(seen)
