/* A dict's entries read in place: what PyDict_Next gives, in order, without its call per entry
 * (about 53 instructions an entry on CPython 3.11; about 27 here, the caller's loop included).
 * Used only where no Python code can run while the dict is read (the parse kernel's one-pass
 * rows), so the dict cannot change under the walk. fl_dict_replace writes a value into a dict
 * the materialize kernel has just copied, through the same layout.
 *
 * The layout read is CPython's own private one (Include/internal/pycore_dict.h), mirrored for
 * 3.11 to 3.13 with the GIL; on any other build, and for a split (instance) dict, fl_walk_next is
 * PyDict_Next. fl_dict_check() compares the walk with PyDict_Next on dicts of every kind the
 * walk reads before it is turned on, and leaves it off if any detail differs, so a build against
 * a CPython whose layout moved still gives the right answers, only slower.
 */
#ifndef FASTLINKS_DICT_H
#define FASTLINKS_DICT_H

#include <Python.h>
#include <stdint.h>

#ifndef CYTHON_INLINE
#  define CYTHON_INLINE inline
#endif

#if PY_VERSION_HEX >= 0x030B0000 && PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED) \
    && !defined(PYPY_VERSION) && !defined(Py_LIMITED_API)
#  define FL_DICT_WALK 1
typedef struct {  /* struct _dictkeysobject, 3.11 to 3.13 */
    Py_ssize_t dk_refcnt;
    uint8_t dk_log2_size;
    uint8_t dk_log2_index_bytes;
    uint8_t dk_kind;          /* 0 general (hash, key, value), 1 unicode (key, value), 2 split */
    uint32_t dk_version;
    Py_ssize_t dk_usable;
    Py_ssize_t dk_nentries;
    char dk_indices[];        /* 1 << dk_log2_index_bytes bytes of index, then the entries */
} fl_dict_keys;
#else
#  define FL_DICT_WALK 0
#endif

static int fl_dict_walk_on = 0;  /* set by fl_dict_check() */

typedef struct {
    PyObject *dict;
    PyObject **entry;   /* the current entry's key, then its value; NULL: PyDict_Next is used */
    Py_ssize_t pos;     /* PyDict_Next's position, or the entries left */
    Py_ssize_t stride;  /* pointers from one entry to the next */
} fl_walk;

/* The walk of `dict` (an exact dict) from its first entry: in place when `in_place` and its
   table is combined (not split), else through PyDict_Next. */
static CYTHON_INLINE void fl_walk_from(fl_walk *w, PyObject *dict, int in_place) {
    w->dict = dict;
    w->entry = NULL;
    w->pos = 0;
    w->stride = 0;
#if FL_DICT_WALK
    if (in_place && ((PyDictObject *)dict)->ma_values == NULL) {
        fl_dict_keys *keys = (fl_dict_keys *)((PyDictObject *)dict)->ma_keys;
        int general = keys->dk_kind == 0;
        if (general || keys->dk_kind == 1) {
            w->stride = general ? 3 : 2;
            w->entry = (PyObject **)(keys->dk_indices + ((size_t)1 << keys->dk_log2_index_bytes)) + general;
            w->pos = keys->dk_nentries;
        }
    }
#else
    (void)in_place;
#endif
}

/* The walk of `dict`, in place once fl_dict_check() has turned that on. */
static CYTHON_INLINE void fl_walk_start(fl_walk *w, PyObject *dict) {
    fl_walk_from(w, dict, fl_dict_walk_on);
}

/* The next entry's borrowed key and value, as PyDict_Next; 0 once there is none. */
static CYTHON_INLINE int fl_walk_next(fl_walk *w, PyObject **key, PyObject **value) {
    if (w->entry == NULL) {  /* through a copy of pos: w's own address never escapes, so it stays in registers */
        Py_ssize_t pos = w->pos;
        int found = PyDict_Next(w->dict, &pos, key, value);
        w->pos = pos;
        return found;
    }
    while (w->pos > 0) {
        PyObject **entry = w->entry;
        w->entry += w->stride;
        w->pos--;
        if (entry[1] != NULL) {  /* NULL: a deleted entry */
            *key = entry[0];
            *value = entry[1];
            return 1;
        }
    }
    return 0;
}

#if FL_DICT_WALK
/* 1 when walking `dict` in place gives exactly what PyDict_Next gives. The layout is checked
   first, and nothing read through it is dereferenced (pointers are only compared), so a layout
   other than the one mirrored is found out, never followed. */
static int fl_dict_same(PyObject *dict) {
    fl_dict_keys *keys = (fl_dict_keys *)((PyDictObject *)dict)->ma_keys;
    Py_ssize_t pos = 0, n = 0, size = (Py_ssize_t)1 << keys->dk_log2_size;
    PyObject *key, *value, *k2, *v2;
    fl_walk w;
    if (((PyDictObject *)dict)->ma_values != NULL || keys->dk_kind > 1 || keys->dk_log2_size < 3
        || keys->dk_log2_size >= 16 || keys->dk_log2_index_bytes != keys->dk_log2_size + (keys->dk_log2_size >= 8)
        || keys->dk_nentries < PyDict_GET_SIZE(dict) || keys->dk_nentries > (size << 1) / 3)
        return 0;
    fl_walk_from(&w, dict, 1);
    while (PyDict_Next(dict, &pos, &key, &value)) {
        if (!fl_walk_next(&w, &k2, &v2) || k2 != key || v2 != value)
            return 0;
        n++;
    }
    return n == PyDict_GET_SIZE(dict) && !fl_walk_next(&w, &k2, &v2);
}
#endif

/* Turns the walk on when every dict in `dicts` (a list of exact dicts) is walked as PyDict_Next
   walks it; returns whether it is on. */
static int fl_dict_check(PyObject *dicts) {
    fl_dict_walk_on = 0;
#if FL_DICT_WALK
    Py_ssize_t i;
    for (i = 0; i < PyList_GET_SIZE(dicts); i++)
        if (!PyDict_CheckExact(PyList_GET_ITEM(dicts, i)) || !fl_dict_same(PyList_GET_ITEM(dicts, i)))
            return 0;
    fl_dict_walk_on = 1;
#endif
    return fl_dict_walk_on;
}

/* Entry `index` of `dict` set to `value` in place, when that entry holds `key` and the table is
   combined and the dict's own (a fresh PyDict_Copy, which keeps its source's entry order): 1
   when done, 0 when the caller must use PyDict_SetItem (the walk is off, or any of that does
   not hold). For a dict no other code has seen yet (so no version tag or watcher to bump) and a
   `value` the GC never tracks (the dict's tracking stays right). Skips PyDict_SetItem's hash
   lookup: about 200 instructions a call on CPython 3.11. */
static CYTHON_INLINE int fl_dict_replace(PyObject *dict, Py_ssize_t index, PyObject *key, PyObject *value) {
#if FL_DICT_WALK
    if (fl_dict_walk_on && ((PyDictObject *)dict)->ma_values == NULL && !PyObject_IS_GC(value)) {
        fl_dict_keys *keys = (fl_dict_keys *)((PyDictObject *)dict)->ma_keys;
        if (keys->dk_kind <= 1 && keys->dk_refcnt == 1 && index >= 0 && index < keys->dk_nentries) {
            int general = keys->dk_kind == 0;
            PyObject **entry = (PyObject **)(keys->dk_indices + ((size_t)1 << keys->dk_log2_index_bytes))
                               + (general ? 3 : 2) * index + general;
            if (entry[0] == key && entry[1] != NULL) {
                PyObject *old = entry[1];
                Py_INCREF(value);
                entry[1] = value;
                Py_DECREF(old);
                return 1;
            }
        }
    }
#else
    (void)dict; (void)index; (void)key; (void)value;
#endif
    return 0;
}

#endif
