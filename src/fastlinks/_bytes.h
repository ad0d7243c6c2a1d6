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

/* Eight bytes as a big-endian word (compilers turn the shifts into one byte swap). */
static CYTHON_INLINE uint64_t fl_be64(const unsigned char *p) {
    uint64_t v = 0;
    int j;
    for (j = 0; j < 8; j++)
        v = (v << 8) | p[j];
    return v;
}

#endif /* FASTLINKS_BYTES_H */
