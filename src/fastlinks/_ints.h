/* Python ints <-> fixed-width big-endian IDs, each in one call (used by the kernels). */
#ifndef FASTLINKS_INTS_H
#define FASTLINKS_INTS_H

#include <Python.h>

#include "_bytes.h"


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

#endif /* FASTLINKS_INTS_H */
