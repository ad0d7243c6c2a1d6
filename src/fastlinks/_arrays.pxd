# cython: language_level=3
"""Column plumbing shared by the compiled kernels (`cimport`ed; inline, so each kernel module
carries its own copy and no module depends on another at run time).

Columns are numpy arrays read through their data pointers after one check of dtype, shape and
layout; a kernel's new columns are allocated here and handed over read-only."""

cimport numpy as cnp
from libc.stdint cimport int64_t, uint8_t, uint64_t
from libc.string cimport memcpy, memset


cdef inline const uint8_t* _data(object arr, Py_ssize_t rows, int width, str what) except? NULL:
    """The data of a C-contiguous uint8 (or bool) array shaped (rows, width), or (rows,) when
    width is 0; rows < 0 accepts any number of rows."""
    cdef cnp.ndarray a
    if cnp.PyArray_Check(arr):
        a = <cnp.ndarray>arr
        if ((cnp.PyArray_TYPE(a) == cnp.NPY_UINT8 or cnp.PyArray_TYPE(a) == cnp.NPY_BOOL)
                and cnp.PyArray_IS_C_CONTIGUOUS(a)
                and cnp.PyArray_NDIM(a) == (2 if width else 1)
                and (rows < 0 or cnp.PyArray_DIM(a, 0) == rows)
                and (width == 0 or cnp.PyArray_DIM(a, 1) == width)):
            return <const uint8_t*>cnp.PyArray_DATA(a)
    shape = f"(N, {width})" if width else "(N,)"
    got = f"{arr.dtype} array of shape {arr.shape}" if cnp.PyArray_Check(arr) else type(arr).__name__
    raise ValueError(f"{what}: expected a C-contiguous uint8 array of shape {shape}"
                     f"{f' with N = {rows}' if rows >= 0 else ''}, got {got}")


cdef inline Py_ssize_t _rows_of(object arr) noexcept:
    return cnp.PyArray_DIM(<cnp.ndarray>arr, 0)


cdef inline const int64_t* _row_numbers(object rows, str what) except? NULL:
    """The data of a C-contiguous 1-D int64 array of row numbers."""
    if (cnp.PyArray_Check(rows) and cnp.PyArray_TYPE(<cnp.ndarray>rows) == cnp.NPY_INT64
            and cnp.PyArray_NDIM(<cnp.ndarray>rows) == 1 and cnp.PyArray_IS_C_CONTIGUOUS(<cnp.ndarray>rows)):
        return <const int64_t*>cnp.PyArray_DATA(<cnp.ndarray>rows)
    raise ValueError(f"{what}: rows must be a C-contiguous 1-D int64 array")


cdef inline cnp.ndarray _empty(Py_ssize_t rows, int width, int typenum=cnp.NPY_UINT8):
    """A fresh (rows, width) array, or (rows,) when width is 0."""
    cdef cnp.npy_intp dims[2]
    dims[0] = rows
    dims[1] = width
    return cnp.PyArray_EMPTY(2 if width else 1, dims, typenum, 0)


cdef struct NewColumns:
    uint8_t* t  # (n, 16) trace IDs
    uint8_t* s  # (n, 8) span IDs
    uint8_t* f  # (n,) flags
    uint8_t* r  # (n,) is_remote


cdef inline tuple _new_columns(Py_ssize_t n, bint remote, NewColumns* out):
    """Fresh trace ID, span ID, flag and remote columns for n rows, their data pointers in `out`
    for the kernel to fill; `_frozen` hands them over read-only."""
    cdef tuple arrays = (_empty(n, 16), _empty(n, 8), _empty(n, 0), _empty(n, 0, cnp.NPY_BOOL))
    out.t = <uint8_t*>cnp.PyArray_DATA(<cnp.ndarray>arrays[0])
    out.s = <uint8_t*>cnp.PyArray_DATA(<cnp.ndarray>arrays[1])
    out.f = <uint8_t*>cnp.PyArray_DATA(<cnp.ndarray>arrays[2])
    out.r = <uint8_t*>cnp.PyArray_DATA(<cnp.ndarray>arrays[3])
    if remote:  # every row is a remote context (parsed from headers)
        memset(out.r, 1, n)
    return arrays


cdef inline tuple _frozen(tuple arrays):
    for arr in arrays:
        cnp.PyArray_CLEARFLAGS(<cnp.ndarray>arr, cnp.NPY_ARRAY_WRITEABLE)
    return arrays


cdef extern from "_bytes.h":
    uint64_t _be64 "fl_be64"(const uint8_t* p) noexcept nogil  # eight bytes as a big-endian word


cdef inline bint _nonzero(const uint8_t* p, int width) noexcept nogil:
    """Any non-zero byte among `width` (8 or 16), read as native 64-bit words."""
    cdef uint64_t a, b = 0
    memcpy(&a, p, 8)
    if width == 16:
        memcpy(&b, p + 8, 8)
    return (a | b) != 0
