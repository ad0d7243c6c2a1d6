/* Python ints <-> fixed-width big-endian IDs, each in one call (used by the kernels). */
#ifndef FASTLINKS_INTS_H
#define FASTLINKS_INTS_H

#include <Python.h>

#include "_bytes.h"


#if PY_VERSION_HEX < 0x030B0000
#  include "longintrepr.h"
#endif

/* A big-endian unsigned integer of 16 bytes (fl_int_from_be16) or 8 (fl_int_from_be8) as a
   Python int, in one allocation. fl_int_from_be16 wants a non-zero value: for zero, its
   _PyLong_FromByteArray fallback on CPython 3.11 reads a digit it never wrote, so callers use a
   0 they hold; fl_int_from_be8 takes any value. On CPython 3.10 to 3.13 with 30-bit digits (every
   64-bit build) the digits are written straight into a new int, as Cython's own conversions
   read them: a sixth of the work of _PyLong_FromByteArray, which walks the bytes one at a time,
   and half of PyLong_FromUnsignedLongLong's. A value below 2**30 takes the public call, which
   hands out CPython's shared small ints. Elsewhere, the public calls. */
#if PYLONG_BITS_IN_DIGIT == 30 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_LIMITED_API)
#  if PY_VERSION_HEX >= 0x030C0000
#    define FL_LONG_DIGITS(v) ((v)->long_value.ob_digit)
#  else
#    define FL_LONG_DIGITS(v) ((v)->ob_digit)
#  endif
static CYTHON_INLINE PyObject *fl_int_from_words(uint64_t hi, uint64_t lo) {
    uint32_t d[5];
    Py_ssize_t n;
    PyLongObject *v;
    if (hi == 0 && lo >> 30 == 0)
        return PyLong_FromUnsignedLongLong(lo);
    d[0] = (uint32_t)(lo & PyLong_MASK);
    d[1] = (uint32_t)((lo >> 30) & PyLong_MASK);
    d[2] = (uint32_t)(((lo >> 60) | (hi << 4)) & PyLong_MASK);
    d[3] = (uint32_t)((hi >> 26) & PyLong_MASK);
    d[4] = (uint32_t)(hi >> 56);
    /* the value is at least 2**30, so the top digit found is not zero */
    n = d[4] ? 5 : (d[3] ? 4 : (d[2] ? 3 : 2));
    v = _PyLong_New(n);
    if (v == NULL)
        return NULL;
    memcpy(FL_LONG_DIGITS(v), d, (size_t)n * sizeof(uint32_t));
    return (PyObject *)v;
}
static CYTHON_INLINE PyObject *fl_int_from_be16(const unsigned char *p) { return fl_int_from_words(fl_be64(p), fl_be64(p + 8)); }
static CYTHON_INLINE PyObject *fl_int_from_be8(const unsigned char *p) { return fl_int_from_words(0, fl_be64(p)); }
#elif PY_VERSION_HEX >= 0x030D0000
static CYTHON_INLINE PyObject *fl_int_from_be16(const unsigned char *p) {
    return PyLong_FromUnsignedNativeBytes(p, 16, Py_ASNATIVEBYTES_BIG_ENDIAN);
}
static CYTHON_INLINE PyObject *fl_int_from_be8(const unsigned char *p) { return PyLong_FromUnsignedLongLong(fl_be64(p)); }
#else
static CYTHON_INLINE PyObject *fl_int_from_be16(const unsigned char *p) {
    return _PyLong_FromByteArray(p, 16, 0, 0);
}
static CYTHON_INLINE PyObject *fl_int_from_be8(const unsigned char *p) { return PyLong_FromUnsignedLongLong(fl_be64(p)); }
#endif

/* An exact int in [0, 2**128) as two native 64-bit words (lo, hi); -1 when it does not fit. */
static CYTHON_INLINE int fl_int_to_words(PyObject *v, uint64_t *words) {
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
static CYTHON_INLINE int fl_int_to_word(PyObject *v, uint64_t *word) {
    unsigned long long value = PyLong_AsUnsignedLongLong(v);
    if (value == (unsigned long long)-1 && PyErr_Occurred()) { PyErr_Clear(); return -1; }
    *word = (uint64_t)value;
    return 0;
}

#endif /* FASTLINKS_INTS_H */
