/* EVTX value rendering: one table maps each BinXML value type to the
 * renderer that turns its bytes into text, plus the UTF-16 converter
 * everything else uses.
 *
 * Why the text looks the way it does: Sigma rules and analysts compare
 * against what Windows tools and evtxexport print, so every renderer follows
 * evtxexport's rendering of that type (checked field by field by
 * tests/evtx_compare). Keeping them in one table means a new type or a fix is
 * one line, not a hunt through the parser.
 */
#include "readers/evtx/evtx_int.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

/* ---------------------------------------------------------------- UTF-16 */

/* Converts up to `units` UTF-16LE code units, stopping at the first NUL;
   *consumed says how many units were read (the NUL not included). */
static size_t utf16_convert(char *dst, const uint8_t *p, size_t units, size_t *consumed)
{
    char *o = dst;
    size_t i = 0;
    while (i < units) {
        /* ASCII fast path: most event text is plain ASCII. Eight units at a
           time where SSE2 is (every x86-64), then four, leaving it for a
           unit >= 0x80 or a NUL. */
#ifdef __SSE2__
        const __m128i zero = _mm_setzero_si128(), high = _mm_set1_epi16((short)0xff80);
        while (i + 8 <= units) {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
            unsigned ascii = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi16(_mm_and_si128(v, high), zero));
            unsigned nul = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi16(v, zero));
            unsigned stop = (~ascii & 0xffffu) | nul;
            /* all eight stored; the ASCII before the first unit that
               stops it kept (a string's closing NUL is in its last block) */
            _mm_storel_epi64((__m128i *)(void *)o, _mm_packus_epi16(v, v));
            if (stop) {
                unsigned k = (unsigned)__builtin_ctz(stop) / 2;
                o += k;
                i += k;
                break;
            }
            o += 8;
            i += 8;
        }
#endif
        while (i + 4 <= units) {
            uint64_t w;
            memcpy(&w, p + 2 * i, 8);
            if ((w & 0xff80ff80ff80ff80ull) || ((w - 0x0001000100010001ull) & ~w & 0x8000800080008000ull))
                break;
            o[0] = (char)(w & 0x7f);
            o[1] = (char)((w >> 16) & 0x7f);
            o[2] = (char)((w >> 32) & 0x7f);
            o[3] = (char)((w >> 48) & 0x7f);
            o += 4;
            i += 4;
        }
        if (i >= units)
            break;
        uint32_t c = evtx_le16(p + 2 * i);
        if (c == 0)
            break;
        i++;
        if (c < 0x80) {
            *o++ = (char)c;
            continue;
        }
        if (c >= 0xd800 && c <= 0xdbff && i < units) {
            uint32_t d = evtx_le16(p + 2 * i);
            if (d >= 0xdc00 && d <= 0xdfff) {
                i++;
                c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
            } else {
                c = 0xfffd;
            }
        } else if (c >= 0xd800 && c <= 0xdfff) {
            c = 0xfffd;
        }
        if (c < 0x800) {
            *o++ = (char)(0xc0 | (c >> 6));
            *o++ = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            *o++ = (char)(0xe0 | (c >> 12));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        } else {
            *o++ = (char)(0xf0 | (c >> 18));
            *o++ = (char)(0x80 | ((c >> 12) & 0x3f));
            *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *o++ = (char)(0x80 | (c & 0x3f));
        }
    }
    *consumed = i;
    return (size_t)(o - dst);
}

int evtx_utf16_to_utf8(struct evtx_arena *a, const uint8_t *p, size_t units, const char **out, uint32_t *out_len)
{
    /* A string value ends at its first NUL, as in the Windows API. */
    char *d = evtx_arena_alloc(a, units * 3 + 1);
    if (!d)
        return -2;
    size_t used;
    size_t n = utf16_convert(d, p, units, &used);
    d[n] = 0;
    evtx_arena_trim(a, d, n + 1);
    *out = d;
    *out_len = (uint32_t)n;
    return 0;
}

/* ---------------------------------------------------------------- renderers */

/* Windows-1252, evtxexport's default codepage for ANSI strings: 0x80-0x9f. */
static const uint16_t cp1252_hi[32] = {
    0x20ac, 0xfffd, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021, 0x02c6, 0x2030, 0x0160,
    0x2039, 0x0152, 0xfffd, 0x017d, 0xfffd, 0xfffd, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022,
    0x2013, 0x2014, 0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0xfffd, 0x017e, 0x0178,
};

typedef int (*evtx_render_fn)(char *o, const uint8_t *d, size_t n);

/* "00" to "99": numbers are written two digits a step (a division by 100
   where there were two by 10); nearly every record has a dozen of them. */
static const char dec2[201] = "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
                              "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
                              "8081828384858687888990919293949596979899";

static char *put_u64(char *o, uint64_t v)
{
    if (v < 10) {
        *o = (char)('0' + v);
        return o + 1;
    }
    int len = 2;
    for (uint64_t t = v / 100; t; t /= 10)
        len++;
    char *e = o + len, *q = e;
    while (v >= 100) {
        unsigned r = (unsigned)(v % 100);
        v /= 100;
        q -= 2;
        memcpy(q, dec2 + 2 * r, 2);
    }
    if (v >= 10) {
        q -= 2;
        memcpy(q, dec2 + 2 * v, 2);
    } else {
        *--q = (char)('0' + v);
    }
    return e;
}

static char *put_i64(char *o, int64_t v)
{
    if (v < 0) {
        *o++ = '-';
        return put_u64(o, (uint64_t)0 - (uint64_t)v);
    }
    return put_u64(o, (uint64_t)v);
}

static int r_i8(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_i64(o, (int8_t)d[0]) - o);
}
static int r_u8(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_u64(o, d[0]) - o);
}
static int r_i16(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_i64(o, (int16_t)evtx_le16(d)) - o);
}
static int r_u16(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_u64(o, evtx_le16(d)) - o);
}
static int r_i32(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_i64(o, (int32_t)evtx_le32(d)) - o);
}
static int r_u32(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_u64(o, evtx_le32(d)) - o);
}
static int r_i64(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_i64(o, (int64_t)evtx_le64(d)) - o);
}
static int r_u64(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return (int)(put_u64(o, evtx_le64(d)) - o);
}

static const char hexlo[] = "0123456789abcdef";
static const char hexup[] = "0123456789ABCDEF";

/* Hex numbers as Windows writes them in an event's XML (and as other
   readers and the Sigma rules written against them have them): "0x" and
   the digits without leading zeros, "0x3e7" rather than evtxexport's
   "0x00000000000003e7". A rule's `Status: '0xc000006d'` or
   `AccessMask: '0x100'` then matches an EVTX file as it matches the
   same event forwarded as JSON, and logon ids agree across the two. */
static int put_hex(char *o, uint64_t v)
{
    char digits[16];
    int n = 0;
    do {
        digits[n++] = hexlo[v & 15];
        v >>= 4;
    } while (v);
    o[0] = '0';
    o[1] = 'x';
    for (int i = 0; i < n; i++)
        o[2 + i] = digits[n - 1 - i];
    return 2 + n;
}

static int r_hex32(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return put_hex(o, evtx_le32(d));
}

static int r_hex64(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    return put_hex(o, evtx_le64(d));
}

/* size_t carries no width of its own: the value size decides. */
static int r_size(char *o, const uint8_t *d, size_t n)
{
    return n == 8 ? r_hex64(o, d, n) : r_hex32(o, d, n);
}

/* Floats print as evtxexport (and the Windows C runtime) print them: six
   digits after the point and an exponent of at least three digits,
   "3.199234e+003". */
static int put_float(char *o, double v)
{
    int n = snprintf(o, 64, "%.6e", v);
    char *e = strchr(o, 'e');
    if (!e || n < 4)
        return n;              /* inf, nan */
    size_t ed = strlen(e + 2); /* exponent digits after the sign */
    if (ed < 3) {
        size_t pad = 3 - ed;
        memmove(e + 2 + pad, e + 2, ed + 1);
        memset(e + 2, '0', pad);
        n += (int)pad;
    }
    return n;
}

static int r_f32(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    float f;
    memcpy(&f, d, 4);
    return put_float(o, (double)f);
}

static int r_f64(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    double f;
    memcpy(&f, d, 8);
    return put_float(o, f);
}

static int r_bool(char *o, const uint8_t *d, size_t n)
{
    uint32_t v = n >= 4 ? evtx_le32(d) : d[0];
    if (v) {
        memcpy(o, "true", 4);
        return 4;
    }
    memcpy(o, "false", 5);
    return 5;
}

static int r_binary(char *o, const uint8_t *d, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        o[2 * i] = hexup[d[i] >> 4];
        o[2 * i + 1] = hexup[d[i] & 15];
    }
    return (int)(2 * n);
}

/* The n bytes at d, in the order given by step (1, or -1 from the last
   byte of a little-endian number), as upper-case hex. */
static char *put_hex_bytes(char *o, const uint8_t *d, int n, int step)
{
    for (int i = 0; i < n; i++, d += step) {
        *o++ = hexup[*d >> 4];
        *o++ = hexup[*d & 15];
    }
    return o;
}

static int r_guid(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    char *p = o;
    *p++ = '{';
    p = put_hex_bytes(p, d + 3, 4, -1);
    *p++ = '-';
    p = put_hex_bytes(p, d + 5, 2, -1);
    *p++ = '-';
    p = put_hex_bytes(p, d + 7, 2, -1);
    *p++ = '-';
    p = put_hex_bytes(p, d + 8, 2, 1);
    *p++ = '-';
    p = put_hex_bytes(p, d + 10, 6, 1);
    *p++ = '}';
    return (int)(p - o);
}

static int r_sid(char *o, const uint8_t *d, size_t n)
{
    /* revision, sub-authority count, 48-bit big-endian authority, then
       32-bit little-endian sub-authorities */
    if (n < 8)
        return -1;
    unsigned cnt = d[1];
    if (8 + 4 * (size_t)cnt > n)
        return -1;
    char *p = o;
    *p++ = 'S';
    *p++ = '-';
    p = put_u64(p, d[0]);
    uint64_t auth = 0;
    for (int i = 2; i < 8; i++)
        auth = auth << 8 | d[i];
    *p++ = '-';
    p = put_u64(p, auth);
    for (unsigned i = 0; i < cnt; i++) {
        *p++ = '-';
        p = put_u64(p, evtx_le32(d + 8 + 4 * i));
    }
    return (int)(p - o);
}

static char *put_dec(char *o, unsigned v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        o[i] = (char)('0' + v % 10);
        v /= 10;
    }
    return o + digits;
}

/* Days since 1601-01-01 to a civil date (proleptic Gregorian). */
static void civil_from_days(int64_t days, unsigned *y, unsigned *m, unsigned *d)
{
    /* shift to days since 0000-03-01, Howard Hinnant's civil algorithm */
    int64_t z = days + 584694; /* 1601-01-01 is day 584694 after 0000-03-01 */
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    unsigned doe = (unsigned)(z - era * 146097);
    unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t yy = (int64_t)yoe + era * 400;
    unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    unsigned mp = (5 * doy + 2) / 153;
    *d = doy - (153 * mp + 2) / 5 + 1;
    *m = mp < 10 ? mp + 3 : mp - 9;
    *y = (unsigned)(yy + (*m <= 2));
}

static int r_filetime(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    uint64_t ft = evtx_le64(d);
    uint64_t secs = ft / 10000000u;
    unsigned frac = (unsigned)(ft % 10000000u);
    unsigned y, mo, dd;
    civil_from_days((int64_t)(secs / 86400u), &y, &mo, &dd);
    unsigned sod = (unsigned)(secs % 86400u);
    char *p = o;
    p = put_dec(p, y, 4);
    *p++ = '-';
    p = put_dec(p, mo, 2);
    *p++ = '-';
    p = put_dec(p, dd, 2);
    *p++ = 'T';
    p = put_dec(p, sod / 3600, 2);
    *p++ = ':';
    p = put_dec(p, sod / 60 % 60, 2);
    *p++ = ':';
    p = put_dec(p, sod % 60, 2);
    *p++ = '.';
    p = put_dec(p, frac, 7);
    *p++ = '0';
    *p++ = '0';
    *p++ = 'Z';
    return (int)(p - o);
}

static int r_systime(char *o, const uint8_t *d, size_t n)
{
    (void)n;
    char *p = o;
    p = put_dec(p, evtx_le16(d) % 10000u, 4);
    *p++ = '-';
    p = put_dec(p, evtx_le16(d + 2) % 100u, 2);
    *p++ = '-';
    p = put_dec(p, evtx_le16(d + 6) % 100u, 2);
    *p++ = 'T';
    p = put_dec(p, evtx_le16(d + 8) % 100u, 2);
    *p++ = ':';
    p = put_dec(p, evtx_le16(d + 10) % 100u, 2);
    *p++ = ':';
    p = put_dec(p, evtx_le16(d + 12) % 100u, 2);
    *p++ = '.';
    p = put_dec(p, evtx_le16(d + 14) % 1000u, 3);
    memcpy(p, "000000Z", 7);
    p += 7;
    return (int)(p - o);
}

static int r_null(char *o, const uint8_t *d, size_t n)
{
    (void)o;
    (void)d;
    (void)n;
    return 0;
}

static int r_utf16(char *o, const uint8_t *d, size_t n)
{
    /* A value that is one line feed shows as empty in Event Viewer and
       evtxexport; follow them. */
    if ((n == 2 || (n >= 4 && d[2] == 0 && d[3] == 0)) && d[0] == '\n' && d[1] == 0)
        return 0;
    size_t used;
    return (int)utf16_convert(o, d, n / 2, &used);
}

static int r_ansi(char *o, const uint8_t *d, size_t n)
{
    char *p = o;
    for (size_t i = 0; i < n && d[i]; i++) {
        unsigned c = d[i];
        if (c >= 0x80 && c < 0xa0)
            c = cp1252_hi[c - 0x80];
        if (c < 0x80) {
            *p++ = (char)c;
        } else if (c < 0x800) {
            *p++ = (char)(0xc0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else {
            *p++ = (char)(0xe0 | (c >> 12));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        }
    }
    return (int)(p - o);
}

/* The one table: on-disk type -> public type, exact size (0 = any, with
   `min` as the least), worst-case output bytes (per input byte when
   per_byte), renderer. */
struct evtx_vdesc {
    uint8_t vtype;
    uint8_t size;     /* exact size required, 0 = variable */
    uint8_t per_byte; /* output bound is out_max * n + out_max */
    uint8_t out_max;
    evtx_render_fn fn;
};

static const struct evtx_vdesc vdesc[0x16] = {
    [EVTX_T_NULL] = {EVTX_V_NULL, 0, 0, 0, r_null},
    [EVTX_T_STRING] = {EVTX_V_STRING, 0, 2, 2, r_utf16}, /* 3 bytes per 2 */
    [EVTX_T_ANSI] = {EVTX_V_STRING, 0, 1, 3, r_ansi},
    [EVTX_T_I8] = {EVTX_V_INT, 1, 0, 8, r_i8},
    [EVTX_T_U8] = {EVTX_V_UINT, 1, 0, 8, r_u8},
    [EVTX_T_I16] = {EVTX_V_INT, 2, 0, 8, r_i16},
    [EVTX_T_U16] = {EVTX_V_UINT, 2, 0, 8, r_u16},
    [EVTX_T_I32] = {EVTX_V_INT, 4, 0, 16, r_i32},
    [EVTX_T_U32] = {EVTX_V_UINT, 4, 0, 16, r_u32},
    [EVTX_T_I64] = {EVTX_V_INT, 8, 0, 24, r_i64},
    [EVTX_T_U64] = {EVTX_V_UINT, 8, 0, 24, r_u64},
    [EVTX_T_F32] = {EVTX_V_FLOAT, 4, 0, 64, r_f32},
    [EVTX_T_F64] = {EVTX_V_FLOAT, 8, 0, 64, r_f64},
    [EVTX_T_BOOL] = {EVTX_V_BOOL, 0, 0, 8, r_bool},
    [EVTX_T_BINARY] = {EVTX_V_BINARY, 0, 2, 2, r_binary},
    [EVTX_T_GUID] = {EVTX_V_GUID, 16, 0, 40, r_guid},
    [EVTX_T_SIZE] = {EVTX_V_HEX, 0, 0, 24, r_size},
    [EVTX_T_FILETIME] = {EVTX_V_TIME, 8, 0, 40, r_filetime},
    [EVTX_T_SYSTIME] = {EVTX_V_TIME, 16, 0, 40, r_systime},
    [EVTX_T_SID] = {EVTX_V_SID, 0, 1, 12, r_sid},
    [EVTX_T_HEX32] = {EVTX_V_HEX, 4, 0, 16, r_hex32},
    [EVTX_T_HEX64] = {EVTX_V_HEX, 8, 0, 24, r_hex64},
};

int evtx_render_value(struct evtx_arena *a, uint8_t t, const uint8_t *data, size_t n, const char **out,
                      uint32_t *out_len, uint8_t *vtype)
{
    if (t == EVTX_T_NULL) { /* the table's r_null, without an allocation */
        *vtype = EVTX_V_NULL;
        *out = "";
        *out_len = 0;
        return 0;
    }
    if (t >= sizeof vdesc / sizeof vdesc[0] || !vdesc[t].fn)
        return -1;
    const struct evtx_vdesc *v = &vdesc[t];
    if (v->size && n != v->size)
        return -1;
    if (t == EVTX_T_BOOL && n != 4 && n != 1)
        return -1;
    if (t == EVTX_T_SIZE && n != 4 && n != 8)
        return -1;
    size_t bound = v->per_byte ? (size_t)v->out_max * n + v->out_max : v->out_max;
    char *o = evtx_arena_alloc(a, bound + 1);
    if (!o)
        return -2;
    int w = v->fn(o, data, n);
    if (w < 0)
        return -1;
    o[w] = 0;
    evtx_arena_trim(a, o, (size_t)w + 1);
    *out = o;
    *out_len = (uint32_t)w;
    *vtype = v->vtype;
    return 0;
}

int evtx_array_each(uint8_t t, const uint8_t *data, size_t n, evtx_elem_fn fn, void *ctx)
{
    int count = 0;
    if (t == EVTX_T_STRING || t == EVTX_T_ANSI) {
        size_t w = t == EVTX_T_STRING ? 2 : 1;
        size_t start = 0, i = 0;
        n -= n % w;
        for (; i < n; i += w) {
            bool nul = w == 2 ? (data[i] == 0 && data[i + 1] == 0) : data[i] == 0;
            if (nul) {
                if (fn(ctx, data + start, i - start))
                    return -1;
                count++;
                start = i + w;
            }
        }
        if (start < n) {
            if (fn(ctx, data + start, n - start))
                return -1;
            count++;
        }
        return count;
    }
    size_t sz;
    switch (t) {
    case EVTX_T_I8:
    case EVTX_T_U8: sz = 1; break;
    case EVTX_T_I16:
    case EVTX_T_U16: sz = 2; break;
    case EVTX_T_I32:
    case EVTX_T_U32:
    case EVTX_T_F32:
    case EVTX_T_BOOL:
    case EVTX_T_HEX32: sz = 4; break;
    case EVTX_T_I64:
    case EVTX_T_U64:
    case EVTX_T_F64:
    case EVTX_T_FILETIME:
    case EVTX_T_HEX64: sz = 8; break;
    case EVTX_T_GUID:
    case EVTX_T_SYSTIME: sz = 16; break;
    case EVTX_T_SIZE: sz = 8; break; /* 64-bit writers; see evtx_binxml.c */
    case EVTX_T_SID: {
        size_t i = 0;
        while (i + 8 <= n) {
            size_t len = 8 + 4 * (size_t)data[i + 1];
            if (i + len > n)
                return -1;
            if (fn(ctx, data + i, len))
                return -1;
            count++;
            i += len;
        }
        return i == n ? count : -1;
    }
    default: return -1;
    }
    if (n % sz)
        return -1;
    for (size_t i = 0; i < n; i += sz) {
        if (fn(ctx, data + i, sz))
            return -1;
        count++;
    }
    return count;
}

const char *evtx_vtype_name(uint8_t type)
{
    static const char *const names[EVTX_V_COUNT] = {
        "string", "int", "uint", "float", "bool", "null", "hex", "binary", "guid", "sid", "time",
    };
    return type < EVTX_V_COUNT ? names[type] : "?";
}

/* ---------------------------------------------------------------- names and text (evtx_binxml.c judges a template by them) */

/* XML names in event templates are ASCII identifiers; text decoded from
   the wrong offset (a stale template under a recovered record) is not. */
bool evtx_plausible_name(const char *n, uint32_t len)
{
    if (len == 0 || len > 256)
        return false;
    for (uint32_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)n[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
                  (i && ((c >= '0' && c <= '9') || c == '-' || c == '.' || c == ':'));
        if (!ok)
            return false;
    }
    return true;
}

/* Static text with control characters (other than tab and line breaks) is
   what a template decoded from overwritten bytes looks like. */
static bool plausible_bytes(const char *s, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch < 0x20 && ch != '\t' && ch != '\n' && ch != '\r')
            return false;
    }
    return true;
}

/* Raw-element records carry all their text inline, every character of it
   judged here: 16 bytes a step, and only a block holding a byte below 0x20
   is looked at a byte at a time. */
bool evtx_plausible_text(const char *s, uint32_t len)
{
    uint32_t i = 0;
#ifdef __SSE2__
    const __m128i top = _mm_set1_epi8(0x1f);
    for (; i + 16 <= len; i += 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(s + i));
        /* min(v, 0x1f) == v: the byte is below 0x20 (unsigned) */
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(_mm_min_epu8(v, top), v)) && !plausible_bytes(s + i, 16))
            return false;
    }
#endif
    return plausible_bytes(s + i, len - i);
}

/* Joins "Elem" "_" "Attr" in the chunk arena. */
const char *evtx_join_name(struct evtx_arena *a, const char *e, uint32_t el, const char *t, uint32_t tl, uint32_t *len)
{
    char *o = evtx_arena_alloc(a, (size_t)el + tl + 2);
    if (!o)
        return NULL;
    memcpy(o, e, el);
    o[el] = '_';
    memcpy(o + el + 1, t, tl);
    o[el + 1 + tl] = 0;
    *len = el + 1 + tl;
    return o;
}
