/* A growable byte buffer: output formatting (JSON lines, CSV, tables) and
 * building strings whose size is only known at the end. */
#ifndef STOAT_UTIL_BUF_H
#define STOAT_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

struct buf {
    char *p;
    size_t len, cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_free(struct buf *b);
static inline void buf_clear(struct buf *b)
{
    b->len = 0;
}
static inline void buf_put(struct buf *b, const void *s, size_t n)
{
    if (b->cap - b->len < n + 1)
        buf_reserve(b, n + 1);
    if (n) /* an empty buffer's NULL is a valid source of nothing, not for memcpy */
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static inline void buf_putc(struct buf *b, char c)
{
    if (b->cap - b->len < 2)
        buf_reserve(b, 2);
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}
static inline void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}
/* A number in decimal: what printf would write, without its cost (an
 * alert has several, and the serial stage writes every alert). */
static inline void buf_put_u64(struct buf *b, uint64_t v)
{
    static const char pairs[] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                                "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                                "8081828384858687888990919293949596979899";
    /* its digits counted first, then written in place from the last, two
     * a step: no copy of a variable length */
    static const uint64_t pow10[20] = {1ull,
                                       10ull,
                                       100ull,
                                       1000ull,
                                       10000ull,
                                       100000ull,
                                       1000000ull,
                                       10000000ull,
                                       100000000ull,
                                       1000000000ull,
                                       10000000000ull,
                                       100000000000ull,
                                       1000000000000ull,
                                       10000000000000ull,
                                       100000000000000ull,
                                       1000000000000000ull,
                                       10000000000000000ull,
                                       100000000000000000ull,
                                       1000000000000000000ull,
                                       10000000000000000000ull};
    /* from its bits (1233 / 4096 ~ log10 2), one look at the table decides */
    unsigned t = (unsigned)(64 - __builtin_clzll(v | 1)) * 1233 >> 12;
    size_t n = t + 1 - ((v | 1) < pow10[t]);
    if (b->cap - b->len < n + 1)
        buf_reserve(b, n + 1);
    char *o = b->p + b->len + n;
    b->len += n;
    *o = 0;
    while (v >= 100) {
        o -= 2;
        memcpy(o, pairs + 2 * (v % 100), 2);
        v /= 100;
    }
    if (v >= 10)
        memcpy(o - 2, pairs + 2 * v, 2);
    else
        o[-1] = (char)('0' + v);
}

/* What printf's "%.0f" writes for d (rounded to nearest, ties to even),
 * without its float formatting: an incident's score. */
void buf_put_f0(struct buf *b, double d);
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* Bytes JSON needs escaped (below 0x20, from 0x80 (checked as UTF-8), the
 * quote and the backslash) as the flags (0x80 of a byte) of a word of eight
 * or a block of sixteen; a flag can be set in a byte above a flagged one
 * (a borrow), never in one below the first. */
#if defined(__GNUC__) && defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define BUF_WORD_SCAN 1
static inline uint64_t buf_json_word_flags(uint64_t v)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    uint64_t q = v ^ (ones * '"'), bs = v ^ (ones * '\\');
    return (v | ((v - ones * 0x20) & ~v) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs;
}
#endif
#if defined(__SSE2__)
static inline unsigned buf_json_block_flags(__m128i v)
{
    const __m128i quote = _mm_set1_epi8('"'), bsl = _mm_set1_epi8('\\'), space = _mm_set1_epi8(0x20);
    /* signed: bytes from 0x80 count as below the space too */
    __m128i m = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bsl)), _mm_cmplt_epi8(v, space));
    return (unsigned)_mm_movemask_epi8(m);
}
#endif

#if defined(BUF_WORD_SCAN)
/* Two words (a value's first and last eight bytes, or one word twice) with
 * nothing to escape: as one block where there are blocks, three operations
 * of the vector unit's against some thirty of the words' arithmetic (an
 * event's names are mostly 8 to 16 bytes, and each is tested). */
static inline bool buf_json_words_plain(uint64_t a, uint64_t b)
{
#if defined(__SSE2__)
    return !buf_json_block_flags(_mm_set_epi64x((long long)b, (long long)a));
#else
    return !(buf_json_word_flags(a) | buf_json_word_flags(b));
#endif
}
#endif

/* s[0..n) copied to o when no byte of it needs escaping in JSON (true), for
 * n up to 64; else (and when longer) false, o's bytes then undefined. A
 * few overlapping loads and stores, no call: for an event's names and short
 * values, written with their quotes by the caller. */
static inline __attribute__((always_inline)) bool buf_json_plain_copy(char *o, const char *s, size_t n)
{
#if defined(BUF_WORD_SCAN)
    if (n < 4) {
        if (!n)
            return true;
        /* the first, middle and last bytes are all of them; plain 'a' above */
        unsigned char a = (unsigned char)s[0], m = (unsigned char)s[n >> 1], z = (unsigned char)s[n - 1];
        uint64_t v = a | (uint32_t)m << 8 | (uint32_t)z << 16 | (0x0101010101010101ull * 'a') << 24;
        if (!buf_json_words_plain(v, v))
            return false;
        o[0] = (char)a;
        o[n >> 1] = (char)m;
        o[n - 1] = (char)z;
        return true;
    }
    if (n < 8) {
        uint32_t x, y; /* the first four and the last four: all of 4 to 8 */
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        uint64_t v = x | (uint64_t)y << 32;
        if (!buf_json_words_plain(v, v))
            return false;
        memcpy(o, &x, 4);
        memcpy(o + n - 4, &y, 4);
        return true;
    }
#if defined(__SSE2__)
    if (n >= 16) {
        if (n > 64)
            return false;
        __m128i v1 = _mm_loadu_si128((const __m128i *)(const void *)s),
                v2 = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 16));
        if (n > 32) {
            __m128i v3 = _mm_loadu_si128((const __m128i *)(const void *)(s + 16)),
                    v4 = _mm_loadu_si128((const __m128i *)(const void *)(s + n - 32));
            if (buf_json_block_flags(v1) | buf_json_block_flags(v2) | buf_json_block_flags(v3) |
                buf_json_block_flags(v4))
                return false;
            _mm_storeu_si128((__m128i *)(void *)(o + 16), v3);
            _mm_storeu_si128((__m128i *)(void *)(o + n - 32), v4);
        } else if (buf_json_block_flags(v1) | buf_json_block_flags(v2)) {
            return false;
        }
        _mm_storeu_si128((__m128i *)(void *)o, v1);
        _mm_storeu_si128((__m128i *)(void *)(o + n - 16), v2);
        return true;
    }
#endif
    if (n > 16)
        return false;
    uint64_t w1, w2; /* the first eight and the last eight: all of 8 to 16 */
    memcpy(&w1, s, 8);
    memcpy(&w2, s + n - 8, 8);
    if (!buf_json_words_plain(w1, w2))
        return false;
    memcpy(o, &w1, 8);
    memcpy(o + n - 8, &w2, 8);
    return true;
#else
    if (n > 64)
        return false;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x80 || c == '"' || c == '\\')
            return false;
        o[i] = (char)c;
    }
    return true;
#endif
}

/* JSON string body (no quotes): escapes controls, quotes and backslashes;
 * invalid UTF-8 becomes U+FFFD so the output is always valid JSON. */
void buf_json_escape(struct buf *b, const char *s, size_t n);
/* The same with the surrounding quotes. */
void buf_json_str(struct buf *b, const char *s, size_t n);
/* The same without trying the short plain path first (the caller has). */
void buf_json_str_escaped(struct buf *b, const char *s, size_t n);
/* A JSON array of strings. */
void buf_json_strs(struct buf *b, const char *const *items, size_t n);
/* CSV field: quoted when it holds a comma, quote, CR or LF. */
void buf_csv_field(struct buf *b, const char *s, size_t n);
/* Text from outside (an event, a rule file) for a person's terminal or a log
 * line, so it cannot move the cursor, set the clipboard, forge a line or
 * reorder what is shown: every control character (C0, DEL, C1 as a byte or
 * as UTF-8 U+0080..U+009F) and every Unicode bidi control (U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069) is written escaped, visibly:
 * \n \r \t, \x1b, \u202e; so is each byte of invalid UTF-8 (\xff).
 * quoted: for the inside of "...", also \" and \\. The one escaping of
 * every human-facing sink (table, summary, syslog). */
void buf_visible(struct buf *b, const char *s, size_t n, bool quoted);

#endif
