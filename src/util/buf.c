/* See buf.h. */
#include "util/buf.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "util/mem.h"
#include "util/text.h"

void buf_reserve(struct buf *b, size_t extra)
{
    size_t need = b->len + extra;
    if (need <= b->cap)
        return;
    size_t nc = b->cap ? b->cap : 256;
    while (nc < need)
        nc *= 2;
    b->p = xrealloc(b->p, nc);
    b->cap = nc;
}

void buf_free(struct buf *b)
{
    free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

void buf_vprintf(struct buf *b, const char *fmt, va_list ap)
{
    va_list ap2;
    va_copy(ap2, ap);
    int n = vsnprintf(b->p ? b->p + b->len : NULL, b->p ? b->cap - b->len : 0, fmt, ap);
    if (n < 0) {
        va_end(ap2);
        return;
    }
    if (!b->p || (size_t)n >= b->cap - b->len) {
        buf_reserve(b, (size_t)n + 1);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap2);
    }
    va_end(ap2);
    b->len += (size_t)n;
}

void buf_printf(struct buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(b, fmt, ap);
    va_end(ap);
}

void buf_put_f0(struct buf *b, double d)
{
    /* below 2^52 a double's whole part and fraction split exactly; others
     * (negative, -0, huge, NaN) are printf's */
    if (!(d >= 0 && d < 4503599627370496.0) || signbit(d)) {
        buf_printf(b, "%.0f", d);
        return;
    }
    uint64_t whole = (uint64_t)d;
    double frac = d - (double)whole;
    if (frac > 0.5 || (frac == 0.5 && (whole & 1)))
        whole++;
    buf_put_u64(b, whole);
}

/* Bytes JSON needs escaped: below 0x20, from 0x80 (checked as UTF-8),
 * the quote and the backslash. */
static bool plain_byte(unsigned char c)
{
    return c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
}

/* One byte that needs escaping (or a UTF-8 character) at *pp onto o; room
 * for six bytes is there. Returns the new end of the output. */
static char *escape_one(char *o, const unsigned char **pp, const unsigned char *end)
{
    static const char hex[] = "0123456789abcdef";
    const unsigned char *p = *pp;
    unsigned char c = *p;
    if (c >= 0x80) {
        size_t u = utf8_valid_prefix(p, (size_t)(end - p));
        if (u) {
            memcpy(o, p, u); /* at most four */
            *pp = p + u;
            return o + u;
        }
        memcpy(o, "\\ufffd", 6);
        *pp = p + 1;
        return o + 6;
    }
    *pp = p + 1;
    *o++ = '\\';
    switch (c) {
    case '"': *o++ = '"'; break;
    case '\\': *o++ = '\\'; break;
    case '\n': *o++ = 'n'; break;
    case '\r': *o++ = 'r'; break;
    case '\t': *o++ = 't'; break;
    default:
        memcpy(o, "u00", 3);
        o[3] = hex[c >> 4];
        o[4] = hex[c & 15];
        o += 5;
    }
    return o;
}

#if defined(__SSE2__)
/* The quotes and backslashes of a block of sixteen as block flags. */
static inline unsigned quote_flags(__m128i v)
{
    return (unsigned)_mm_movemask_epi8(
        _mm_or_si128(_mm_cmpeq_epi8(v, _mm_set1_epi8('"')), _mm_cmpeq_epi8(v, _mm_set1_epi8('\\'))));
}

/* The block of sixteen at p, already stored whole at o, escaped when the
 * bytes it flags (bits) are all quotes or backslashes (a Windows path): a
 * backslash over each, and the sixteen bytes from it stored again one
 * further on, with no new scan of the block. p has 31 readable bytes, o
 * room for 48. Returns the end of the block's output. */
static inline __attribute__((always_inline)) char *escape_quotes(char *o, const unsigned char *p, unsigned bits)
{
    unsigned k = 0;
    do {
        unsigned z = (unsigned)__builtin_ctz(bits);
        o[z + k] = '\\';
        k++;
        _mm_storeu_si128((__m128i *)(void *)(o + z + k), _mm_loadu_si128((const __m128i *)(const void *)(p + z)));
        bits &= bits - 1;
    } while (bits);
    return o + 16 + k;
}
#endif

/* Room an escape run needs past six bytes an input byte: a block stored
 * whole (sixteen) and an escape (six) beyond the last byte it was asked
 * for, and the NUL. */
#define ESCAPE_SLACK 32
/* Input escaped per check of the room: a long value (a script block of
 * megabytes) does not make room for six times itself at once. */
#define ESCAPE_CHUNK 4096

/* p.. escaped onto o until p reaches stop (it may go a block and one
 * character beyond); end is the text's end, start its beginning. o has room
 * for six bytes an input byte up to stop, plus ESCAPE_SLACK. A block of
 * sixteen (then eight) bytes is stored whole, whatever it holds, and the
 * output moves on by its plain bytes only: the escape then overwrites what
 * followed. A quote or backslash (Windows paths are full of them) is
 * escaped right here, the rarer bytes by escape_one. */
static inline __attribute__((always_inline)) char *escape_run(char *o, const unsigned char **pp,
                                                              const unsigned char *stop, const unsigned char *start,
                                                              const unsigned char *end)
{
    const unsigned char *p = *pp;
    (void)start; /* (read by the word scan only) */
    while (p < stop) {
#if defined(__SSE2__)
        if (end - p >= 16) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            _mm_storeu_si128((__m128i *)(void *)o, v);
            unsigned bits = buf_json_block_flags(v);
            if (!bits) {
                p += 16;
                o += 16;
                continue;
            }
            if (bits == quote_flags(v) && end - p >= 32 && stop - p >= 16) {
                o = escape_quotes(o, p, bits);
                p += 16;
                continue;
            }
            unsigned z = (unsigned)__builtin_ctz(bits);
            p += z;
            o += z;
            goto escape;
        }
#endif
#ifdef BUF_WORD_SCAN
        if (end - p >= 8) {
            uint64_t v, f;
            memcpy(&v, p, 8);
            memcpy(o, &v, 8);
            if (!(f = buf_json_word_flags(v))) {
                p += 8;
                o += 8;
                continue;
            }
            size_t z = (size_t)__builtin_ctzll(f) / 8;
            p += z;
            o += z;
            goto escape;
        }
        if (end - start >= 8) {
            /* the last few bytes as the word ending where the text does,
             * shifted down, plain 'a' above: its flags are the few's */
            size_t k = (size_t)(end - p);
            uint64_t v, f;
            memcpy(&v, end - 8, 8);
            v = (v >> (8 * (8 - k))) | ((0x0101010101010101ull * 'a') << (8 * k));
            memcpy(o, &v, 8);
            if (!(f = buf_json_word_flags(v))) {
                o += k;
                p = end;
                break;
            }
            size_t z = (size_t)__builtin_ctzll(f) / 8;
            p += z;
            o += z;
            goto escape;
        }
#endif
        if (plain_byte(*p)) {
            *o++ = (char)*p++;
            continue;
        }
#if defined(__SSE2__) || defined(BUF_WORD_SCAN)
    escape:
#endif
        if (*p == '"' || *p == '\\') {
            o[0] = '\\';
            o[1] = (char)*p++;
            o += 2;
        } else {
            o = escape_one(o, &p, end);
        }
    }
    *pp = p;
    return o;
}

#if defined(__SSE2__)
/* One block of sixteen at *pp escaped onto o (escape_run's step, without
 * its checks): 31 bytes past *pp readable, o with room for 48. */
static inline __attribute__((always_inline)) char *escape_step(char *o, const unsigned char **pp,
                                                               const unsigned char *end)
{
    const unsigned char *p = *pp;
    __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
    _mm_storeu_si128((__m128i *)(void *)o, v);
    unsigned bits = buf_json_block_flags(v);
    if (!bits) {
        *pp = p + 16;
        return o + 16;
    }
    if (bits == quote_flags(v)) {
        *pp = p + 16;
        return escape_quotes(o, p, bits);
    }
    unsigned z = (unsigned)__builtin_ctz(bits);
    p += z;
    o += z;
    if (*p == '"' || *p == '\\') {
        o[0] = '\\';
        o[1] = (char)*p++;
        *pp = p;
        return o + 2;
    }
    o = escape_one(o, &p, end);
    *pp = p;
    return o;
}

/* s[0..n) escaped onto o, a block at a time while 32 bytes are left, then
 * the rest (fewer) from a copy with plain bytes past its end: so every
 * block is loaded whole, a path shorter than two blocks and a long one's
 * last bytes take escape_quotes too, and the few bytes past the end,
 * written as themselves, are taken back at the end. o has room for six
 * bytes an input byte, plus ESCAPE_SLACK. */
static char *escape_padded(char *o, const unsigned char *s, size_t n)
{
    const unsigned char *p = s, *end = s + n;
    while (end - p >= 32)
        o = escape_step(o, &p, end);
    /* the rest, at the start of copy[] or (after 32 bytes or more) at the
     * end of the 32 it ends */
    unsigned char copy[64];
    size_t left = (size_t)(end - p);
    const unsigned char *q = copy;
    if (n >= 32) {
        _mm_storeu_si128((__m128i *)(void *)copy, _mm_loadu_si128((const __m128i *)(const void *)(end - 32)));
        _mm_storeu_si128((__m128i *)(void *)(copy + 16), _mm_loadu_si128((const __m128i *)(const void *)(end - 16)));
        q = copy + 32 - left;
    } else if (n >= 16) {
        _mm_storeu_si128((__m128i *)(void *)copy, _mm_loadu_si128((const __m128i *)(const void *)s));
        _mm_storeu_si128((__m128i *)(void *)(copy + n - 16),
                         _mm_loadu_si128((const __m128i *)(const void *)(end - 16)));
    } else if (n >= 8) {
        uint64_t x, y;
        memcpy(&x, s, 8);
        memcpy(&y, end - 8, 8);
        memcpy(copy, &x, 8);
        memcpy(copy + n - 8, &y, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, end - 4, 4);
        memcpy(copy, &x, 4);
        memcpy(copy + n - 4, &y, 4);
    } else {
        for (size_t i = 0; i < n; i++)
            copy[i] = s[i];
    }
    const unsigned char *qend = q + left;
    memset(copy + (qend - copy), 'a', 32);
    while (q < qend)
        o = escape_step(o, &q, qend);
    return o - (q - qend);
}
#endif

/* p..end escaped onto b, a chunk per check of the room. */
static void escape_into(struct buf *b, const unsigned char *p, const unsigned char *end)
{
    const unsigned char *start = p;
    while (p < end) {
        size_t n = (size_t)(end - p) < ESCAPE_CHUNK ? (size_t)(end - p) : ESCAPE_CHUNK;
        if (b->cap - b->len < 6 * n + ESCAPE_SLACK)
            buf_reserve(b, 6 * n + ESCAPE_SLACK);
        b->len = (size_t)(escape_run(b->p + b->len, &p, p + n, start, end) - b->p);
    }
}

void buf_json_escape(struct buf *b, const char *s, size_t n)
{
    buf_reserve(b, 1);
    escape_into(b, (const unsigned char *)s, (const unsigned char *)s + n);
    b->p[b->len] = 0;
}

/* Names and short values (up to 64 bytes) with nothing to escape
 * (buf_json_plain_copy); true when written (quotes included), false when
 * not (also when the buffer has no room: the other path makes it). */
static inline __attribute__((always_inline)) bool short_plain(struct buf *b, const char *s, size_t n)
{
    if (n > 64 || b->cap - b->len < n + 3) /* (no call here: no registers to save) */
        return false;
    char *o = b->p + b->len;
    if (!buf_json_plain_copy(o + 1, s, n))
        return false;
    o[0] = '"';
    o[n + 1] = '"';
    o[n + 2] = 0;
    b->len += n + 2;
    return true;
}

/* buf_json_str past short_plain: a call of its own, so that the short
 * values' path saves no registers for it. */
__attribute__((noinline)) void buf_json_str_escaped(struct buf *b, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    if (n > ESCAPE_CHUNK) {
        buf_putc(b, '"');
        escape_into(b, p, end);
        buf_putc(b, '"');
        return;
    }
    /* room for it all escaped, made sure of once */
    if (b->cap - b->len < 6 * n + ESCAPE_SLACK + 2)
        buf_reserve(b, 6 * n + ESCAPE_SLACK + 2);
    char *o = b->p + b->len;
    *o++ = '"';
#if defined(__SSE2__)
    (void)end;
    o = escape_padded(o, p, n);
#else
    o = escape_run(o, &p, end, p, end);
#endif
    *o++ = '"';
    *o = 0;
    b->len = (size_t)(o - b->p);
}

void buf_json_str(struct buf *b, const char *s, size_t n)
{
    if (!short_plain(b, s, n))
        buf_json_str_escaped(b, s, n);
}

void buf_csv_field(struct buf *b, const char *s, size_t n)
{
    int quote = 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] == ',' || s[i] == '"' || s[i] == '\n' || s[i] == '\r') {
            quote = 1;
            break;
        }
    if (!quote) {
        buf_put(b, s, n);
        return;
    }
    buf_putc(b, '"');
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            buf_putc(b, '"');
        buf_putc(b, s[i]);
    }
    buf_putc(b, '"');
}

void buf_json_strs(struct buf *b, const char *const *items, size_t n)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, items[i], strlen(items[i]));
    }
    buf_putc(b, ']');
}

/* Unicode's Bidi_Control characters: each can make a line read in another
 * order than it is written (a file name ending "exe.txt" shown as "txt.exe"). */
static bool bidi_control(uint32_t cp)
{
    return cp == 0x061C || cp == 0x200E || cp == 0x200F || (cp >= 0x202A && cp <= 0x202E) ||
           (cp >= 0x2066 && cp <= 0x2069);
}

static uint32_t utf8_decode(const unsigned char *p, size_t l)
{
    if (l == 2)
        return (uint32_t)(p[0] & 0x1F) << 6 | (p[1] & 0x3F);
    if (l == 3)
        return (uint32_t)(p[0] & 0x0F) << 12 | (uint32_t)(p[1] & 0x3F) << 6 | (p[2] & 0x3F);
    return (uint32_t)(p[0] & 0x07) << 18 | (uint32_t)(p[1] & 0x3F) << 12 | (uint32_t)(p[2] & 0x3F) << 6 | (p[3] & 0x3F);
}

void buf_visible(struct buf *b, const char *s, size_t n, bool quoted)
{
    const unsigned char *p = (const unsigned char *)s, *end = p + n;
    buf_reserve(b, n + 1);
    b->p[b->len] = 0; /* a string even when nothing is added */
    while (p < end) {
        const unsigned char *run = p;
        while (p < end && *p >= 0x20 && *p < 0x7F && !(quoted && (*p == '"' || *p == '\\')))
            p++;
        if (p > run)
            buf_put(b, run, (size_t)(p - run));
        if (p >= end)
            break;
        unsigned char c = *p;
        if (c >= 0x80) {
            size_t l = utf8_valid_prefix(p, (size_t)(end - p));
            uint32_t cp = l ? utf8_decode(p, l) : 0;
            if (l && cp >= 0xA0 && !bidi_control(cp))
                buf_put(b, p, l);
            else if (l)
                buf_printf(b, "\\u%04x", (unsigned)cp);
            else
                buf_printf(b, "\\x%02x", c);
            p += l ? l : 1;
            continue;
        }
        p++;
        switch (c) {
        case '"': buf_puts(b, "\\\""); break;
        case '\\': buf_puts(b, "\\\\"); break;
        case '\n': buf_puts(b, "\\n"); break;
        case '\r': buf_puts(b, "\\r"); break;
        case '\t': buf_puts(b, "\\t"); break;
        default: buf_printf(b, "\\x%02x", c);
        }
    }
}
