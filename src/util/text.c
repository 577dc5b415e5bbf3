/* See text.h. Case folding works on UTF-8 bytes without decoding whole
 * strings: ASCII through a table, and the few two-byte ranges whose lower
 * case stays two bytes long, which keeps folding length-preserving. */
#include "util/text.h"

#ifdef __SSE2__
#include <emmintrin.h>
#endif
#include <math.h>
#include <string.h>
#include <stdio.h>
#include <stdlib.h>

const unsigned char ascii_lower_table[256] = {
#define R(i)   ((i) >= 'A' && (i) <= 'Z' ? ((i) | 32) : (i)) /* | not +: no constant above 255 */
#define R4(i)  R(i), R(i + 1), R(i + 2), R(i + 3)
#define R16(i) R4(i), R4(i + 4), R4(i + 8), R4(i + 12)
#define R64(i) R16(i), R16(i + 16), R16(i + 32), R16(i + 48)
    R64(0), R64(64), R64(128), R64(192)
#undef R64
#undef R16
#undef R4
#undef R
};

static uint32_t fold_cp2(uint32_t cp)
{
    if (cp >= 0xC0 && cp <= 0xDE && cp != 0xD7)
        return cp + 0x20;             /* Latin-1 */
    if (cp >= 0x100 && cp <= 0x17F) { /* Latin Extended-A */
        if ((cp <= 0x137 || (cp >= 0x14A && cp <= 0x177)) && !(cp & 1) && cp != 0x130)
            return cp + 1;
        if (((cp >= 0x139 && cp <= 0x148) || (cp >= 0x179 && cp <= 0x17E)) && (cp & 1))
            return cp + 1;
        if (cp == 0x178)
            return 0xFF;
        return cp;
    }
    if (cp >= 0x391 && cp <= 0x3AB && cp != 0x3A2)
        return cp + 0x20; /* Greek */
    if (cp >= 0x410 && cp <= 0x42F)
        return cp + 0x20; /* Cyrillic */
    if (cp >= 0x400 && cp <= 0x40F)
        return cp + 0x50;
    return cp;
}

#ifdef __SSE2__
/* Sixteen ASCII bytes at a time: 'A'..'Z' get bit 5 set. Stops (returning
 * the bytes done) at the first block holding a byte >= 0x80. */
static size_t fold_ascii16(const unsigned char *s, size_t n, unsigned char *o)
{
    const __m128i a1 = _mm_set1_epi8('A' - 1), z1 = _mm_set1_epi8('Z' + 1), bit = _mm_set1_epi8(0x20);
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        if (_mm_movemask_epi8(v))
            break; /* non-ASCII: the byte loop folds this block */
        __m128i up = _mm_and_si128(_mm_cmpgt_epi8(v, a1), _mm_cmplt_epi8(v, z1));
        _mm_storeu_si128((__m128i *)(void *)(o + i), _mm_or_si128(v, _mm_and_si128(up, bit)));
    }
    return i;
}
#endif

void fold_case(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    unsigned char *o = (unsigned char *)out;
    size_t i = 0;
#ifdef __SSE2__
    i = fold_ascii16(s, n, o);
#endif
    /* what is left, or a short value, eight bytes at a time while ASCII
     * (is_folded tells capitals the same way; the last word may fold
     * bytes again that are folded already, to the same) */
    const uint64_t top = 0x8080808080808080ull;
    for (uint64_t x; i < n && n >= 8; i += 8) {
        size_t at = i + 8 <= n ? i : n - 8;
        memcpy(&x, s + at, 8);
        if (x & top)
            break; /* not ASCII: the byte loop folds from here */
        x |= ((x + 0x3F3F3F3F3F3F3F3Full) & ~(x + 0x2525252525252525ull) & top) >> 2;
        memcpy(o + at, &x, 8);
        if (at != i)
            return;
    }
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            o[i] = ascii_lower_table[c];
            i++;
            continue;
        }
        if (c >= 0xC2 && c <= 0xD3 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            uint32_t cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            uint32_t f = fold_cp2(cp);
            o[i] = (unsigned char)(0xC0 | (f >> 6));
            o[i + 1] = (unsigned char)(0x80 | (f & 0x3F));
            i += 2;
            continue;
        }
        o[i] = c;
        i++;
    }
}

bool is_folded(const char *in, size_t n)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t start = 0;
#ifdef __SSE2__
    /* ASCII blocks without capitals are folded already */
    const __m128i a1 = _mm_set1_epi8('A' - 1), z1 = _mm_set1_epi8('Z' + 1);
    for (; start + 16 <= n; start += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + start));
        if (_mm_movemask_epi8(v))
            break;
        if (_mm_movemask_epi8(_mm_and_si128(_mm_cmpgt_epi8(v, a1), _mm_cmplt_epi8(v, z1))))
            return false;
    }
#endif
    /* the rest, or all of a short value (an event id, a level, a logon id),
     * eight bytes at a time while they are ASCII: a byte b of a word has
     * its top bit set by b + 0x3F when b >= 'A', and by b + 0x25 when
     * b > 'Z'; the last word may overlap bytes already known to be plain */
    const uint64_t top = 0x8080808080808080ull;
    for (uint64_t x; start < n && n >= 8; start += 8) {
        size_t at = start + 8 <= n ? start : n - 8;
        memcpy(&x, s + at, 8);
        if (x & top)
            break; /* not ASCII: the byte loop tells what folds */
        if ((x + 0x3F3F3F3F3F3F3F3Full) & ~(x + 0x2525252525252525ull) & top)
            return false;
        if (at != start)
            return true;
    }
    for (size_t i = start; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 'A' && c <= 'Z')
            return false;
        if (c >= 0xC2 && c <= 0xD3 && i + 1 < n && (s[i + 1] & 0xC0) == 0x80) {
            uint32_t cp = ((uint32_t)(c & 0x1F) << 6) | (s[i + 1] & 0x3F);
            if (fold_cp2(cp) != cp)
                return false;
            i++;
        }
    }
    return true;
}

bool str_ieq(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    return la == lb && ascii_eq_nocase(a, b, la);
}

const char *str_find_nocase(const char *hay, const char *needle)
{
    if (!needle[0])
        return hay;
    unsigned char c = (unsigned char)needle[0];
    char first[3] = {(char)ascii_lower_table[c],
                     (char)(c >= 'a' && c <= 'z'   ? c - 32
                            : c >= 'A' && c <= 'Z' ? c
                                                   : 0),
                     0};
    if (first[1] == first[0])
        first[1] = 0;
    for (const char *p = hay; (p = strpbrk(p, first)) != NULL; p++) {
        size_t i = 1; /* hay's NUL differs from needle's every byte before its own */
        while (needle[i] && ascii_lower_table[(unsigned char)p[i]] == ascii_lower_table[(unsigned char)needle[i]])
            i++;
        if (!needle[i])
            return p;
    }
    return NULL;
}

size_t utf8_valid_prefix(const unsigned char *s, size_t n)
{
    if (n == 0)
        return 0;
    unsigned char c = s[0];
    if (c < 0x80)
        return 1;
    if (c < 0xC2)
        return 0;
    if (c < 0xE0)
        return (n >= 2 && (s[1] & 0xC0) == 0x80) ? 2 : 0;
    if (c < 0xF0) {
        if (n < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80)
            return 0;
        if (c == 0xE0 && s[1] < 0xA0)
            return 0; /* overlong */
        if (c == 0xED && s[1] >= 0xA0)
            return 0; /* surrogate */
        return 3;
    }
    if (c < 0xF5) {
        if (n < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 || (s[3] & 0xC0) != 0x80)
            return 0;
        if (c == 0xF0 && s[1] < 0x90)
            return 0;
        if (c == 0xF4 && s[1] >= 0x90)
            return 0;
        return 4;
    }
    return 0;
}

size_t utf8_encode(uint32_t cp, char *out)
{
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xC0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3F));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xE0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[2] = (unsigned char)(0x80 | (cp & 0x3F));
        return 3;
    }
    if (cp > 0x10FFFF)
        cp = 0xFFFD;
    if (cp >= 0x10000) {
        o[0] = (unsigned char)(0xF0 | (cp >> 18));
        o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
        o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
        o[3] = (unsigned char)(0x80 | (cp & 0x3F));
        return 4;
    }
    return utf8_encode(0xFFFD, out);
}

uint64_t hash_bytes(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ULL);
    bool whole_word_before = n >= 8;
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001B3ULL * 0x9E3779B1ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    /* the last 0-7 bytes as a little-endian word. Stores and fleet files
     * keep these hashes, so the value is the byte loop's (hash_bytes_tail
     * in test_text checks); the loads only make it a few steps, not one a
     * byte (most keys are GUIDs, paths and names of 8n+1..7 bytes) */
    uint64_t w = 0;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (n && whole_word_before) {
        memcpy(&w, s + n - 8, 8); /* the word that ends with the tail */
        w >>= 8 * (8 - n);
    } else {
        size_t at = 0;
        if (n & 4) {
            uint32_t v;
            memcpy(&v, s, 4);
            w = v;
            at = 4;
        }
        if (n & 2) {
            uint16_t v;
            memcpy(&v, s + at, 2);
            w |= (uint64_t)v << (8 * at);
            at += 2;
        }
        if (n & 1)
            w |= (uint64_t)s[at] << (8 * at);
    }
#else
    (void)whole_word_before;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)s[i] << (8 * i);
#endif
    h = (h ^ w) * 0xC2B2AE3D27D4EB4FULL;
    return hash_mix(h);
}

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

bool parse_int64(const char *s, size_t n, int64_t *out)
{
    trim(&s, &n);
    if (!n)
        return false;
    bool neg = false;
    size_t i = 0;
    if (s[0] == '-' || s[0] == '+') {
        neg = s[0] == '-';
        i++;
    }
    if (i >= n)
        return false;
    /* Accumulate the magnitude with the bound of the sign (INT64_MIN has no
     * positive twin), refusing what does not fit rather than wrapping. */
    uint64_t limit = neg ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    uint64_t v = 0;
    if (n - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        i += 2;
        for (; i < n; i++) {
            unsigned char c = (unsigned char)s[i];
            int d = c >= '0' && c <= '9' ? c - '0' : (c | 32) >= 'a' && (c | 32) <= 'f' ? (c | 32) - 'a' + 10 : -1;
            if (d < 0 || v > (limit - (uint64_t)d) / 16)
                return false;
            v = v * 16 + (uint64_t)d;
        }
    } else {
        for (; i < n; i++) {
            if (s[i] < '0' || s[i] > '9')
                return false;
            uint64_t d = (uint64_t)(s[i] - '0');
            if (v > (limit - d) / 10)
                return false;
            v = v * 10 + d;
        }
    }
    if (!neg)
        *out = (int64_t)v;
    else
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    return true;
}

bool parse_number(const char *s, size_t n, double *out)
{
    trim(&s, &n);
    if (!n || n > 64)
        return false;
    int64_t iv;
    if (parse_int64(s, n, &iv)) {
        *out = (double)iv;
        return true;
    }
    /* strtod on a bounded, NUL-terminated copy; reject what it does not consume,
     * and the words (inf, nan) that are not numbers in an event log. */
    char tmp[72];
    memcpy(tmp, s, n);
    tmp[n] = 0;
    for (size_t i = 0; i < n; i++) {
        char c = tmp[i];
        if (!((c >= '0' && c <= '9') || c == '.' || c == '-' || c == '+' || c == 'e' || c == 'E'))
            return false;
    }
    char *end;
    double v = strtod(tmp, &end);
    if (end != tmp + n || !isfinite(v))
        return false;
    *out = v;
    return true;
}

static bool digits(const char *s, size_t n, int *out)
{
    int v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (s[i] - '0');
    }
    *out = v;
    return true;
}

bool parse_timespan(const char *s, int64_t *ms)
{
    size_t n = strlen(s);
    if (n < 2)
        return false;
    int64_t v = 0;
    for (size_t i = 0; i + 1 < n; i++) {
        if (s[i] < '0' || s[i] > '9' || v > (INT64_MAX / 1000 / 604800 / 10))
            return false;
        v = v * 10 + (s[i] - '0');
    }
    int64_t unit;
    switch (s[n - 1]) {
    case 's': unit = 1000; break;
    case 'm': unit = 60000; break;
    case 'h': unit = 3600000; break;
    case 'd': unit = 86400000; break;
    case 'w': unit = 604800000; break;
    case 'M': unit = 2592000000LL; break; /* 30 days, as pySigma */
    case 'y': unit = 31536000000LL; break;
    default: return false;
    }
    *ms = v * unit;
    return v > 0;
}

bool parse_timestamp(const char *s, size_t n, struct timestamp *ts)
{
    trim(&s, &n);
    memset(ts, 0, sizeof(*ts));
    if (n < 10 || s[4] != '-' || s[7] != '-')
        return false;
    if (!digits(s, 4, &ts->year) || !digits(s + 5, 2, &ts->month) || !digits(s + 8, 2, &ts->day))
        return false;
    if (ts->month < 1 || ts->month > 12 || ts->day < 1 || ts->day > 31)
        return false;
    size_t i = 10;
    if (i < n && (s[i] == 'T' || s[i] == 't' || s[i] == ' ')) {
        i++;
        if (n - i < 5 || s[i + 2] != ':')
            return false;
        if (!digits(s + i, 2, &ts->hour) || !digits(s + i + 3, 2, &ts->minute))
            return false;
        i += 5;
        if (i < n && s[i] == ':') {
            if (n - i < 3 || !digits(s + i + 1, 2, &ts->second))
                return false;
            i += 3;
            if (i < n && (s[i] == '.' || s[i] == ',')) {
                i++;
                long frac = 0;
                int nd = 0;
                while (i < n && s[i] >= '0' && s[i] <= '9') {
                    if (nd < 9) {
                        frac = frac * 10 + (s[i] - '0');
                        nd++;
                    }
                    i++;
                }
                if (nd == 0)
                    return false;
                while (nd++ < 9)
                    frac *= 10;
                ts->nsec = frac;
            }
        }
        if (ts->hour > 23 || ts->minute > 59 || ts->second > 60)
            return false;
        /* "2022-03-18 13:43:22 +0900": Fluent Bit's in_winevtlog puts a blank before the zone */
        if (i + 1 < n && s[i] == ' ' && (s[i + 1] == '+' || s[i + 1] == '-' || s[i + 1] == 'Z'))
            i++;
        if (i < n && (s[i] == 'Z' || s[i] == 'z')) {
            i++;
        } else if (i < n && (s[i] == '+' || s[i] == '-')) {
            int sign = s[i] == '-' ? -1 : 1, oh, om = 0;
            i++;
            if (n - i < 2 || !digits(s + i, 2, &oh))
                return false;
            i += 2;
            if (i < n && s[i] == ':')
                i++;
            if (n - i >= 2 && digits(s + i, 2, &om))
                i += 2;
            ts->offset_minutes = sign * (oh * 60 + om);
        }
    }
    return i == n;
}

/* Days since 1970-01-01 of a proleptic Gregorian date. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int64_t timestamp_to_ns(const struct timestamp *ts)
{
    int64_t days = days_from_civil(ts->year, ts->month, ts->day);
    int64_t secs = days * 86400 + ts->hour * 3600 + ts->minute * 60 + ts->second - (int64_t)ts->offset_minutes * 60;
    /* nanoseconds since 1970 fit in 64 bits from 1677 to 2262: saturate
     * outside (year 0000 and 9999 are valid to parse_timestamp) */
    if (secs <= INT64_MIN / 1000000000LL)
        return INT64_MIN + 1;
    if (secs >= INT64_MAX / 1000000000LL)
        return INT64_MAX;
    return secs * 1000000000LL + ts->nsec;
}

int timestamp_iso_week(const struct timestamp *ts)
{
    int64_t days = days_from_civil(ts->year, ts->month, ts->day);
    int wday = (int)(((days % 7) + 7 + 3) % 7); /* Monday = 0 */
    int64_t jan1 = days_from_civil(ts->year, 1, 1);
    int yday = (int)(days - jan1);
    int week = (yday - wday + 10) / 7;
    if (week < 1) {
        struct timestamp prev = {.year = ts->year - 1, .month = 12, .day = 31};
        return timestamp_iso_week(&prev);
    }
    if (week == 53) {
        /* Week 53 only when Dec 31 is a Thursday, or Wednesday in a leap year. */
        int64_t dec31 = days_from_civil(ts->year, 12, 31);
        int w31 = (int)(((dec31 % 7) + 7 + 3) % 7);
        if (w31 < 3)
            return 1;
    }
    return week;
}

/* v as exactly width decimal digits (v < 10^width). */
static void put_digits(char *out, unsigned v, int width)
{
    for (int i = width - 1; i >= 0; i--) {
        out[i] = (char)('0' + v % 10);
        v /= 10;
    }
}

size_t format_time_ns(int64_t ns, char out[32])
{
    int64_t secs = ns / 1000000000LL;
    long frac = (long)(ns % 1000000000LL);
    if (frac < 0) {
        frac += 1000000000L;
        secs--;
    }
    int64_t days = secs / 86400, rem = secs % 86400;
    if (rem < 0) {
        rem += 86400;
        days--;
    }
    /* civil_from_days */
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t y = yoe + era * 400;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    int d = (int)(doy - (153 * mp + 2) / 5 + 1);
    int m = (int)(mp < 10 ? mp + 3 : mp - 9);
    y += m <= 2;
    if (y < 0 || y > 9999) { /* beyond int64 nanoseconds' reach; kept for safety */
        int n = snprintf(out, 32, "%04lld-%02d-%02dT%02d:%02d:%02d.%06ldZ", (long long)y, m, d, (int)(rem / 3600),
                         (int)(rem / 60 % 60), (int)(rem % 60), frac / 1000);
        return n > 0 ? (size_t)n : 0;
    }
    /* digits by hand: every alert and every published batch carries a
     * time, and snprintf's parsing of the format cost more than the rest */
    put_digits(out, (unsigned)y, 4);
    out[4] = '-';
    put_digits(out + 5, (unsigned)m, 2);
    out[7] = '-';
    put_digits(out + 8, (unsigned)d, 2);
    out[10] = 'T';
    put_digits(out + 11, (unsigned)(rem / 3600), 2);
    out[13] = ':';
    put_digits(out + 14, (unsigned)(rem / 60 % 60), 2);
    out[16] = ':';
    put_digits(out + 17, (unsigned)(rem % 60), 2);
    out[19] = '.';
    put_digits(out + 20, (unsigned)(frac / 1000), 6);
    out[26] = 'Z';
    out[27] = 0;
    return 27;
}

static bool glob_impl(const char *p, const char *s, bool nocase)
{
    const char *star = NULL, *ss = NULL;
    while (*s) {
        if (*p == '*') {
            star = p++;
            ss = s;
        } else if (*p &&
                   (nocase ? ascii_lower_table[(unsigned char)*p] == ascii_lower_table[(unsigned char)*s] : *p == *s)) {
            p++;
            s++;
        } else if (star) {
            p = star + 1;
            s = ++ss;
        } else {
            return false;
        }
    }
    while (*p == '*')
        p++;
    return !*p;
}

bool glob_simple(const char *pat, const char *s)
{
    return glob_impl(pat, s, false);
}
bool glob_simple_nocase(const char *pat, const char *s)
{
    return glob_impl(pat, s, true);
}

#ifdef __SSE2__
/* Of the sixteen start positions from a (b = a + len - 1), those where the
 * needle's first (f) and last (l) bytes sit. */
static inline unsigned find_candidates(const char *a, const char *b, __m128i f, __m128i l)
{
    __m128i x = _mm_loadu_si128((const __m128i *)(const void *)a);
    __m128i y = _mm_loadu_si128((const __m128i *)(const void *)b);
    return (unsigned)_mm_movemask_epi8(_mm_and_si128(_mm_cmpeq_epi8(x, f), _mm_cmpeq_epi8(y, l)));
}

/* The first of the candidates m (bit k: position at + k) that holds the
 * whole needle, or NULL. */
static inline const char *find_confirm(const char *hay, size_t at, unsigned m, const char *needle, size_t len)
{
    for (; m; m &= m - 1) {
        size_t k = at + (unsigned)__builtin_ctz(m);
        if (bytes_equal(hay + k + 1, needle + 1, len - 2))
            return hay + k;
    }
    return NULL;
}
#endif

const char *find_bytes(const char *hay, size_t n, const char *needle, size_t len)
{
    if (len == 0)
        return hay;
    if (len > n)
        return NULL;
    if (len == 1)
        return memchr(hay, (unsigned char)needle[0], n);
    size_t last = n - len; /* the last start position */
    size_t i = 0;
#ifdef __SSE2__
    /* Candidates are the positions where both the needle's first and last
     * bytes sit; sixteen positions are tested at once, and only those get a
     * full comparison. Most values have none. */
    const __m128i f = _mm_set1_epi8(needle[0]), l = _mm_set1_epi8(needle[len - 1]);
    if (last >= 15) {
        for (; i + 16 <= last + 1; i += 16) {
            const char *hit = find_confirm(hay, i, find_candidates(hay + i, hay + i + len - 1, f, l), needle, len);
            if (hit)
                return hit;
        }
        if (i > last)
            return NULL;
        /* the last positions: the sixteen that end at last, less those
         * before i (tested above); a byte-at-a-time loop cost more */
        size_t at = last - 15;
        unsigned m = find_candidates(hay + at, hay + at + len - 1, f, l) & (0xFFFFu << (i - at));
        return find_confirm(hay, at, m, needle, len);
    }
    if (last >= 3 && len <= 32) {
        /* fewer than sixteen positions (most values are short): the bytes
         * are copied to where sixteen can be read past each, and the
         * positions past last are masked off */
        char pad[48] = {0};
        memcpy(pad, hay, n); /* n = last + len <= 46 */
        unsigned m = find_candidates(pad, pad + len - 1, f, l) & ((1u << (last + 1)) - 1);
        return find_confirm(hay, 0, m, needle, len);
    }
#endif
    for (; i <= last; i++)
        if (hay[i] == needle[0] && hay[i + len - 1] == needle[len - 1] && bytes_equal(hay + i + 1, needle + 1, len - 2))
            return hay + i;
    return NULL;
}

/* The two digits at s as a number, or -1 when either is not a digit (the
 * second is read only when the first is one: never past a NUL). */
static int two_digits(const char *s)
{
    unsigned a = (unsigned)(unsigned char)s[0] - '0';
    if (a >= 10)
        return -1;
    unsigned b = (unsigned)(unsigned char)s[1] - '0';
    return b < 10 ? (int)(a * 10 + b) : -1;
}

/* "YYYY-MM-DDTHH:MM:SS[.f]Z" (f: 1-9 digits), strictly, within the ranges
 * parse_timestamp takes: the form time_rfc3339 keeps. Checked in one pass
 * of the bytes rather than by parse_timestamp (an alert's time is checked
 * for each alert written: ~500 instructions less each). The bytes are read
 * in order, each only after the one before matched: a shorter string ends
 * at its NUL, which matches nothing. */
static bool rfc3339_utc(const char *s)
{
    for (int i = 0; i < 4; i++)
        if (!(s[i] >= '0' && s[i] <= '9'))
            return false;
    if (s[4] != '-')
        return false;
    int month = two_digits(s + 5);
    if (month < 1 || month > 12 || s[7] != '-')
        return false;
    int day = two_digits(s + 8);
    if (day < 1 || day > 31 || s[10] != 'T')
        return false;
    int hour = two_digits(s + 11);
    if (hour < 0 || hour > 23 || s[13] != ':')
        return false;
    int minute = two_digits(s + 14);
    if (minute < 0 || minute > 59 || s[16] != ':')
        return false;
    int second = two_digits(s + 17);
    if (second < 0 || second > 60)
        return false;
    size_t i = 19;
    if (s[i] == '.') {
        size_t d = ++i;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d || i - d > 9)
            return false;
    }
    return s[i] == 'Z' && s[i + 1] == 0;
}

const char *time_rfc3339(const char *raw, int64_t ns, char out[32])
{
    if (raw && rfc3339_utc(raw))
        return raw;
    if (ns != INT64_MIN && ns != INT64_MAX) {
        format_time_ns(ns, out);
        return out;
    }
    return raw;
}
