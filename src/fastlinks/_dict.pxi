# Included by _parse.pyx and _materialize.pyx: `_dict.h`, which reads dicts (and writes a value
# into a dict just copied) through CPython's own layout, and the check that turns that on.

cdef extern from "_dict.h":
    ctypedef struct fl_walk:
        pass
    void fl_walk_start(fl_walk*, object) noexcept
    bint fl_walk_next(fl_walk*, PyObject**, PyObject**) noexcept
    bint fl_dict_check(list) noexcept
    bint fl_dict_replace(object, Py_ssize_t, PyObject*, PyObject*) noexcept


def _dict_samples() -> list:
    """Dicts of every kind `_dict.h` walks in place: str keys, other keys, deleted entries, sizes
    up to an index of two bytes."""
    samples = [{"traceparent": "00-x", "tracestate": "a=b"}, {b"x-b3-traceid": b"1", 2: None}]
    for size in (5, 40, 300):
        d = {f"k{i}": i for i in range(size)}
        for i in range(0, size, 3):
            del d[f"k{i}"]
        samples += [d, {**d, (size, "t"): size}]
    return samples


DICT_WALK = fl_dict_check(_dict_samples())  # whether dicts are read in place in this module (see _dict.h)
