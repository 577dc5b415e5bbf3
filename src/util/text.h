/* Byte-string helpers shared by the rule compiler, the readers and the
 * matcher: case folding (one definition, so rule literals and event values
 * fold identically), UTF-8 checks, hashing, numbers, timestamps and
 * timespans. */
#ifndef STOAT_UTIL_TEXT_H
#define STOAT_UTIL_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

extern const unsigned char ascii_lower_table[256];

/* Folds case for matching: ASCII plus the two-byte UTF-8 letters of Latin-1,
 * Latin Extended-A, Greek and Cyrillic. Never changes the length, so offsets
 * into the folded copy are offsets into the original. out may equal in. */
void fold_case(const char *in, size_t n, char *out);
/* True when fold_case would change nothing (no upper-case letters). */
bool is_folded(const char *s, size_t n);
/* The first occurrence of needle in hay (memmem, faster for the short
 * needles and values of events), or NULL. */
const char *find_bytes(const char *hay, size_t n, const char *needle, size_t len);

static inline bool ascii_eq_nocase(const char *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (ascii_lower_table[(unsigned char)a[i]] != ascii_lower_table[(unsigned char)b[i]])
            return false;
    return true;
}
bool str_ieq(const char *a, const char *b); /* ASCII, NUL-terminated */
/* strcasestr (ASCII, as in the C locale): the first place in hay, a NUL-ended
 * string, that needle matches case aside, or NULL. Its first letter found
 * in either case by strpbrk, not compared byte by byte. */
const char *str_find_nocase(const char *hay, const char *needle);

/* Length of the valid UTF-8 sequence at s (1..4), or 0 when invalid. */
size_t utf8_valid_prefix(const unsigned char *s, size_t n);
/* Length of one character for wildcard '?': a valid UTF-8 sequence, else one byte. */
static inline size_t utf8_char_len(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    if (s[0] < 0x80)
        return 1;
    size_t l = utf8_valid_prefix(s, n);
    return l ? l : 1;
}
/* Where to cut s to at most n bytes without splitting a character: n moved
 * back over continuation bytes (s holds more than n bytes). */
static inline size_t utf8_cut(const char *s, size_t n)
{
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}
/* Encodes code point cp, returns bytes written (1..4). */
size_t utf8_encode(uint32_t cp, char *out);

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

/* memcmp(a, b, n) == 0 for the short keys of hash tables (hosts, GUIDs,
 * names), inline: a table's hit is one compare, and the call to memcmp
 * cost more than it. Words that may overlap, none past either side. */
static inline bool bytes_equal(const void *a, const void *b, size_t n)
{
    const unsigned char *x = a, *y = b;
    uint64_t u, v;
    if (n >= 8) {
        for (size_t i = 0; i + 8 < n; i += 8) {
            memcpy(&u, x + i, 8);
            memcpy(&v, y + i, 8);
            if (u != v)
                return false;
        }
        memcpy(&u, x + n - 8, 8);
        memcpy(&v, y + n - 8, 8);
        return u == v;
    }
    if (n >= 4) {
        uint32_t s, t, s2, t2;
        memcpy(&s, x, 4);
        memcpy(&t, y, 4);
        memcpy(&s2, x + n - 4, 4);
        memcpy(&t2, y + n - 4, 4);
        return s == t && s2 == t2;
    }
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return false;
    return true;
}

static inline uint64_t hash_mix(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* The eight bytes of x with 'A'-'Z' made 'a'-'z', every other byte as it
 * is (ascii_lower_table's): per byte, the low seven bits compared with 'A'
 * and 'Z' by adding (no carry crosses a byte), an ASCII byte only. */
static inline uint64_t ascii_lower8(uint64_t x)
{
    const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
    uint64_t b = x & ~high;
    uint64_t from_a = b + ones * (0x80 - 'A'), past_z = b + ones * (0x80 - 'Z' - 1);
    uint64_t upper = from_a & ~past_z & ~x & high;
    return x | upper >> 2;
}

/* out[0..n) = in[0..n) through ascii_lower_table, eight bytes at a time. */
static inline void ascii_lower_copy(char *out, const char *in, size_t n)
{
    size_t k = 0;
    for (; k + 8 <= n; k += 8) {
        uint64_t x;
        memcpy(&x, in + k, 8);
        x = ascii_lower8(x);
        memcpy(out + k, &x, 8);
    }
    for (; k < n; k++)
        out[k] = (char)ascii_lower_table[(unsigned char)in[k]];
}

/* One of 2^bits slots for s[0..n), by its length and its first and last
 * eight bytes (most strings kept are paths, command lines and names): the
 * key of the small caches of strings kept elsewhere, which compare the
 * string whole on a hit. */
static inline size_t recent_key(const char *s, size_t n, unsigned bits)
{
    uint64_t w = n;
    if (n >= 8) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        w ^= a ^ (b << 29 | b >> 35);
    } else if (n) {
        w ^= (uint64_t)(unsigned char)s[0] << 8 | (uint64_t)(unsigned char)s[n >> 1] << 16 |
             (uint64_t)(unsigned char)s[n - 1] << 24;
    }
    return (size_t)((w * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
}

/* Decimal (optionally signed, fraction, exponent) or 0x-hex number. The
 * whole slice must be the number, surrounding blanks allowed. */
bool parse_number(const char *s, size_t n, double *out);
bool parse_int64(const char *s, size_t n, int64_t *out);
/* A span of time as Sigma correlations and stoat's own files write it: a
 * positive whole number and a unit (s, m, h, d, w, M for 30 days, y), "90m"
 * -> milliseconds; false when malformed. */
bool parse_timespan(const char *s, int64_t *ms);

/* A calendar timestamp: ISO 8601 / RFC 3339 ("2025-11-27T07:40:10.165324Z",
 * "+02:00" offsets) and the "2025-11-27 07:40:10.132" form of Sysmon's UtcTime. */
struct timestamp {
    int year, month, day, hour, minute, second;
    long nsec;
    int offset_minutes; /* east of UTC as written; 0 when absent */
};
bool parse_timestamp(const char *s, size_t n, struct timestamp *ts);
/* Nanoseconds since the epoch, UTC (the written offset applied). */
int64_t timestamp_to_ns(const struct timestamp *ts);
/* ISO week number 1..53. */
int timestamp_iso_week(const struct timestamp *ts);
/* "2025-11-27T07:40:10.165324Z" from nanoseconds; returns length (<= 31). */
size_t format_time_ns(int64_t ns, char out[32]);
/* The one time form of machine output (JSON lines, CSV, the store): RFC 3339
 * in UTC. raw, an event's own time text, is returned as it is when it is
 * already that form ("2025-11-27T07:40:10.1653247Z": its precision kept);
 * otherwise the instant ns (raw's time, read) is written into out, so
 * Sysmon's "2025-11-27 07:40:10.132" and "+02:00" offsets come out as
 * "...T...Z"; raw that is no time at all is returned unchanged (the event
 * said it; there is nothing to convert), NULL when there is neither. */
const char *time_rfc3339(const char *raw, int64_t ns, char out[32]);

/* Glob match used for rule selection and `1 of sel*` patterns: '*' only,
 * case-sensitive. */
bool glob_simple(const char *pat, const char *s);
bool glob_simple_nocase(const char *pat, const char *s);

#endif
