/* Bytes as machine words, shared by the C headers of the kernels; plain C, no Python. */
#ifndef FASTLINKS_BYTES_H
#define FASTLINKS_BYTES_H

#include <stdint.h>
#include <string.h>

#ifndef CYTHON_INLINE
#  define CYTHON_INLINE inline
#endif

/* Eight bytes as a little-endian word, whatever the machine's byte order. */
static CYTHON_INLINE uint64_t fl_le64(const unsigned char *p) {
    uint64_t v;
    memcpy(&v, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
    v = __builtin_bswap64(v);
#endif
    return v;
}

/* Eight bytes as a big-endian word: one load and one byte swap. GCC does not always see that in
   a loop of shifts (in make_links it ran the loop, 21 instructions a word), so it is spelled out. */
#if defined(_MSC_VER) && !defined(__clang__)
#  include <stdlib.h>
#endif
static CYTHON_INLINE uint64_t fl_be64(const unsigned char *p) {
#if defined(__GNUC__) || defined(__clang__)
    uint64_t v;
    memcpy(&v, p, 8);
#  if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    v = __builtin_bswap64(v);
#  endif
    return v;
#elif defined(_MSC_VER)
    uint64_t v; /* every Windows target is little-endian */
    memcpy(&v, p, 8);
    return _byteswap_uint64(v);
#else
    uint64_t v = 0;
    int j;
    for (j = 0; j < 8; j++)
        v = (v << 8) | p[j];
    return v;
#endif
}

#endif /* FASTLINKS_BYTES_H */
