# Included by _compact.pyx: the scan `LinkProcessor.on_start` runs on every span's links (start_scan,
# links_added, scan_links), telling whether the policy would change them without building anything;
# the same link hash as compaction, on a stack table for small spans. Twin: _compact_py.py.


cdef struct _Ids:
    uint64_t hi, lo, s


cdef enum:
    SCAN_STACK = 32  # links scanned without a heap allocation


cdef int _any_repeat(const _Ids* ids, Py_ssize_t n, int32_t* table, Py_ssize_t cap, uint64_t key,
                     Py_ssize_t budget) noexcept nogil:
    """1 if two of the n IDs are equal, else 0; OVER_BUDGET once probing takes more than `budget` steps."""
    cdef Py_ssize_t i, steps = 0
    cdef uint64_t h, mask = cap - 1
    cdef int32_t other
    memset(table, 0xFF, cap * sizeof(int32_t))
    for i in range(n):
        h = _mix(_mix(_mix(ids[i].hi ^ key) ^ ids[i].lo) ^ ids[i].s) & mask
        while True:
            other = table[h]
            if other < 0:
                table[h] = <int32_t>i
                break
            if ids[other].lo == ids[i].lo and ids[other].s == ids[i].s and ids[other].hi == ids[i].hi:
                return 1
            h = (h + 1) & mask
            steps += 1
            if steps > budget:
                return OVER_BUDGET
    return 0


def start_scan(span, tuple config):
    """`LinkProcessor.on_start` in one call: None when the span needs nothing more (no links, or
    links the policy keeps as they are: the span's link count is then stored on it), else what
    `scan_links` found with the span's link list and its deque, for the Python path."""
    list_type, list_attr, deque_attr, seen_attr, limit, dedupe, link_type, stats_type, fast = config
    links = getattr(span, list_attr, None)
    if type(links) is not list_type:
        return None
    held = getattr(links, deque_attr)
    if not held:
        return None
    needs_policy, origin_inputs, from_origins = scan_links(held, limit, dedupe, link_type, stats_type, fast)
    if needs_policy or origin_inputs:
        return needs_policy, origin_inputs, from_origins, links, held
    setattr(span, seen_attr, len(held) + links.dropped)
    return None


def links_added(span, tuple config):
    """True when the span's link count (held + dropped) is not the one `start_scan` stored."""
    list_type, list_attr, deque_attr, seen_attr = config[0], config[1], config[2], config[3]
    links = getattr(span, list_attr, None)
    if type(links) is not list_type:
        return False
    return len(getattr(links, deque_attr)) + links.dropped != getattr(span, seen_attr, 0)


cpdef tuple scan_links(items, Py_ssize_t limit, bint dedupe, link_type, stats_type, bint fast):
    cdef Py_ssize_t n = len(items), i = 0, cap = 2 * SCAN_STACK
    cdef _Ids stack_ids[SCAN_STACK]
    cdef int32_t stack_table[2 * SCAN_STACK]
    cdef _Ids* ids = stack_ids
    cdef int32_t* table = stack_table
    cdef uint64_t words[2]
    cdef uint64_t span_word
    cdef int repeat = 0
    cdef bint plain = False, needs = n > limit
    cdef list origins = None
    cdef Py_ssize_t from_origins = 0
    fast = fast and _CONTEXT_IS_TUPLE
    if n > SCAN_STACK and dedupe and not needs:
        while cap < 2 * n:
            cap <<= 1
        ids = <_Ids*>PyMem_RawMalloc(n * sizeof(_Ids))
        table = <int32_t*>PyMem_RawMalloc(cap * sizeof(int32_t))
        if ids == NULL or table == NULL:
            PyMem_RawFree(ids)
            PyMem_RawFree(table)
            raise MemoryError()
    try:
        for item in items:
            kind = type(item)
            stats = item._stats if kind is link_type else (None if kind is Link else getattr(item, "_stats", None))
            if stats is not None and isinstance(stats, stats_type):
                from_origins += 1
                if origins is None:
                    origins = [stats]
                elif not any([o is stats for o in origins]):
                    origins.append(stats)
            else:
                plain = True
            if needs:
                continue  # only the origins are still wanted
            ctx = item._context if fast and (kind is Link or kind is link_type) else item.context
            if not (fast and type(ctx) is SpanContext and (<tuple>ctx)[5] is True):
                needs = True  # an invalid context, or one only the full path reads
                continue
            tid = (<tuple>ctx)[0]
            sid = (<tuple>ctx)[1]
            if (type(tid) is not int or type(sid) is not int
                    or fl_int_to_words(tid, words) < 0 or fl_int_to_word(sid, &span_word) < 0):
                needs = True
                continue
            if dedupe:
                ids[i].lo = words[0]
                ids[i].hi = words[1]
                ids[i].s = span_word
                i += 1
        if dedupe and not needs:
            with nogil:
                repeat = _any_repeat(ids, i, table, cap, 0, 8 * i + 1024)
                if repeat == OVER_BUDGET:  # crafted collisions in the public hash: a secret key instead
                    repeat = _any_repeat(ids, i, table, cap, _TABLE_KEY, PY_SSIZE_T_MAX)
            needs = repeat == 1
    finally:
        if ids != stack_ids:
            PyMem_RawFree(ids)
            PyMem_RawFree(table)
    inputs = 0
    if origins is not None:
        for stats in origins:
            inputs += stats.input
    return plain and needs, inputs, from_origins
