/* fastlinks' hex decoder: a traceparent's 32 + 16 ID digits to 16 + 8 bytes, with a check that
 * every digit was lowercase hex. Plain C, compiled into the parse kernel (`_parse.pyx`) and on
 * its own by tests/test_hex_header.py, which checks each path against Python.
 *
 * fl_hex_ids(p, tid, sid): decodes p[3:35] into tid and p[36:52] into sid; returns 1 when every
 * digit was valid. Every path reads exactly those 48 bytes.
 * fl_hex16_any(p, out): 16 hex digits in either case (B3, Jaeger) to 8 bytes; 1 when all were valid.
 * FL_HEX_DECODER names the path built: "vector", "sse2" or "swar".
 */
#ifndef FASTLINKS_HEX_H
#define FASTLINKS_HEX_H

#include "_bytes.h"

/* Lowercase hex digits to bytes: fl_hex_ids decodes a traceparent's 32 + 16 ID digits (at
   p + 3 and p + 36) into 16 + 8 bytes and says whether every one was a lowercase hex digit.
   16 digits are checked per vector instruction: GCC/Clang vector extensions on little-endian
   machines (SSE2, NEON), SSE2 intrinsics under MSVC; elsewhere 8 digits per 64-bit word
   (SWAR). -DFASTLINKS_SSE2 / -DFASTLINKS_SWAR force a path, so CI tests each one.
   Every path reads exactly p[3:35] and p[36:52]. */
#if defined(FASTLINKS_SWAR)
#  define FL_HEX_SWAR 1
#elif defined(FASTLINKS_SSE2) || (defined(_MSC_VER) && (defined(_M_X64) || defined(_M_AMD64)))
#  define FL_HEX_SSE2 1
#elif defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__ && defined(__has_builtin)
#  if __has_builtin(__builtin_convertvector)
#    define FL_HEX_VECTOR 1
#  else
#    define FL_HEX_SWAR 1
#  endif
#else
#  define FL_HEX_SWAR 1
#endif

#if defined(FL_HEX_VECTOR)
static const char FL_HEX_DECODER[] = "vector";
typedef unsigned char fl_u8x16 __attribute__((vector_size(16)));
typedef unsigned char fl_u8x8 __attribute__((vector_size(8)));
typedef unsigned short fl_u16x8 __attribute__((vector_size(16)));
typedef unsigned long long fl_u64x2 __attribute__((vector_size(16)));
/* `fold` 0x20 accepts 'A'..'F' too: OR-ing 0x20 maps exactly 'A'..'F' and 'a'..'f' onto 'a'..'f'. */
static CYTHON_INLINE fl_u64x2 fl_hex16(const unsigned char *p, unsigned char *out, unsigned char fold) {
    fl_u8x16 c, d, a, is_digit, is_letter;
    fl_u16x8 pairs;
    fl_u8x8 bytes;
    memcpy(&c, p, 16);
    d = c - (unsigned char)'0';
    a = (c | fold) - (unsigned char)'a';
    is_digit = (fl_u8x16)(d < 10);
    is_letter = (fl_u8x16)(a < 6);
    pairs = (fl_u16x8)((d & is_digit) | ((a + 10) & is_letter));  /* lane j: digit 2j | digit 2j+1 << 8 */
    pairs = ((pairs << 4) | (pairs >> 8)) & 0xFF;
    bytes = __builtin_convertvector(pairs, fl_u8x8);
    memcpy(out, &bytes, 8);
    return (fl_u64x2)(is_digit | is_letter);  /* all ones where the digit was valid */
}
static CYTHON_INLINE int fl_hex_ids(const unsigned char *p, unsigned char *tid, unsigned char *sid) {
    fl_u64x2 ok = fl_hex16(p + 3, tid, 0) & fl_hex16(p + 19, tid + 8, 0) & fl_hex16(p + 36, sid, 0);
    return (ok[0] & ok[1]) == ~0ULL;
}

#elif defined(FL_HEX_SSE2)
#include <emmintrin.h>
static const char FL_HEX_DECODER[] = "sse2";
static CYTHON_INLINE __m128i fl_hex16(const unsigned char *p, unsigned char *out, char fold) {
    __m128i c = _mm_loadu_si128((const __m128i *)p);
    __m128i d = _mm_sub_epi8(c, _mm_set1_epi8('0'));
    __m128i a = _mm_sub_epi8(_mm_or_si128(c, _mm_set1_epi8(fold)), _mm_set1_epi8('a'));
    __m128i is_digit = _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(9)), d);   /* d <= 9, unsigned */
    __m128i is_letter = _mm_cmpeq_epi8(_mm_min_epu8(a, _mm_set1_epi8(5)), a);  /* a <= 5, unsigned */
    __m128i v = _mm_or_si128(_mm_and_si128(d, is_digit),
                             _mm_and_si128(_mm_add_epi8(a, _mm_set1_epi8(10)), is_letter));
    __m128i pairs = _mm_and_si128(_mm_or_si128(_mm_slli_epi16(v, 4), _mm_srli_epi16(v, 8)),
                                  _mm_set1_epi16(0xFF));
    _mm_storel_epi64((__m128i *)out, _mm_packus_epi16(pairs, pairs));
    return _mm_or_si128(is_digit, is_letter);
}
static CYTHON_INLINE int fl_hex_ids(const unsigned char *p, unsigned char *tid, unsigned char *sid) {
    __m128i ok = _mm_and_si128(_mm_and_si128(fl_hex16(p + 3, tid, 0), fl_hex16(p + 19, tid + 8, 0)),
                               fl_hex16(p + 36, sid, 0));
    return _mm_movemask_epi8(ok) == 0xFFFF;
}

#else
static const char FL_HEX_DECODER[] = "swar";
#define FL_ONES 0x0101010101010101ULL
#define FL_HIGH 0x8080808080808080ULL
static CYTHON_INLINE int fl_hex8(const unsigned char *p, unsigned char *out, unsigned char fold) {
    uint64_t v = fl_le64(p), folded = v | FL_ONES * fold;
    /* for bytes below 0x80, bit 7 of (b + 0x80 - lo) says b >= lo; no lane carries into the next */
    uint64_t digit = (v + FL_ONES * (0x80 - 0x30)) & ~(v + FL_ONES * (0x7F - 0x39));
    uint64_t letter = (folded + FL_ONES * (0x80 - 0x61)) & ~(folded + FL_ONES * (0x7F - 0x66));
    uint64_t w = (v & (FL_ONES * 0x0F)) + ((v >> 6) & FL_ONES) * 9;  /* letters have bit 6 set */
    w = ((w << 4) | (w >> 8)) & 0x00FF00FF00FF00FFULL;  /* digit pairs -> bytes, then gather them */
    w = (w | (w >> 8)) & 0x0000FFFF0000FFFFULL;
    w = w | (w >> 16);
    out[0] = (unsigned char)w; out[1] = (unsigned char)(w >> 8);
    out[2] = (unsigned char)(w >> 16); out[3] = (unsigned char)(w >> 24);
    return !(v & FL_HIGH) && ((digit | letter) & FL_HIGH) == FL_HIGH;
}
static CYTHON_INLINE int fl_hex_ids(const unsigned char *p, unsigned char *tid, unsigned char *sid) {
    return fl_hex8(p + 3, tid, 0) & fl_hex8(p + 11, tid + 4, 0) & fl_hex8(p + 19, tid + 8, 0)
         & fl_hex8(p + 27, tid + 12, 0) & fl_hex8(p + 36, sid, 0) & fl_hex8(p + 44, sid + 4, 0);
}
#endif

static CYTHON_INLINE int fl_hex16_any(const unsigned char *p, unsigned char *out) {
#if defined(FL_HEX_VECTOR)
    fl_u64x2 ok = fl_hex16(p, out, 0x20);
    return (ok[0] & ok[1]) == ~0ULL;
#elif defined(FL_HEX_SSE2)
    return _mm_movemask_epi8(fl_hex16(p, out, 0x20)) == 0xFFFF;
#else
    return fl_hex8(p, out, 0x20) & fl_hex8(p + 8, out + 4, 0x20);
#endif
}

#endif /* FASTLINKS_HEX_H */
