/* Copies of the short strings an event is made of (names, ids, paths),
 * inlined where they are laid into a buffer: most are under 64 bytes, and
 * a call of memcpy costs more than copying them with a few overlapping
 * loads and stores, which read and write only the n bytes. */
#ifndef STOAT_UTIL_COPY_H
#define STOAT_UTIL_COPY_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* s[0..n) to o (not overlapping); memcpy beyond 64 bytes. */
static inline __attribute__((always_inline)) void copy_short(char *o, const char *s, size_t n)
{
    if (n < 8) {
        if (n >= 4) {
            uint32_t x, y;
            memcpy(&x, s, 4);
            memcpy(&y, s + n - 4, 4);
            memcpy(o, &x, 4);
            memcpy(o + n - 4, &y, 4);
        } else if (n) { /* 1 to 3 */
            o[0] = s[0];
            o[n >> 1] = s[n >> 1];
            o[n - 1] = s[n - 1];
        }
    } else if (n < 16) {
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, s + n - 8, 8);
        memcpy(o, &x, 8);
        memcpy(o + n - 8, &y, 8);
    } else if (n <= 64) {
#ifdef __SSE2__
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)s),
                z = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
        if (n > 32) {
            __m128i b = _mm_loadu_si128((const __m128i *)(const void *)(s + 16)),
                    y = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 32));
            _mm_storeu_si128((__m128i *)(void *)(o + 16), b);
            _mm_storeu_si128((__m128i *)(void *)(o + n - 32), y);
        }
        _mm_storeu_si128((__m128i *)(void *)o, a);
        _mm_storeu_si128((__m128i *)(void *)(o + n - 16), z);
#else
        memcpy(o, s, n);
#endif
    } else {
        memcpy(o, s, n);
    }
}

#endif
