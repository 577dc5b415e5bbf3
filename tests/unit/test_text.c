/* src/util/text.c: case folding, UTF-8 checks, numbers, timestamps, ISO
 * weeks, globs and time formatting. ISO weeks are also checked day by day
 * against an independent computation from the C library's gmtime. */
#include "testutil.h"

#include <ctype.h>
#include <time.h>

#include "util/buf.h"
#include "util/copy.h"
#include "util/strmap.h"
#include "util/text.h"

static void fold_expect(const char *in, const char *want)
{
    size_t n = strlen(in);
    assert_int_equal(strlen(want), n); /* folding never changes the length */
    char out[256];
    assert_true(n < sizeof(out));
    fold_case(in, n, out);
    out[n] = 0;
    if (memcmp(out, want, n) != 0)
        fprintf(stderr, "  -- fold_case(\"%s\") = \"%s\", expected \"%s\"\n", in, out, want);
    assert_memory_equal(out, want, n);
    /* in place gives the same */
    char inplace[256];
    memcpy(inplace, in, n + 1);
    fold_case(inplace, n, inplace);
    assert_memory_equal(inplace, want, n);
    /* the result is folded; the input is folded only when nothing changed */
    assert_true(is_folded(out, n));
    assert_int_equal(is_folded(in, n), memcmp(in, want, n) == 0);
}

static void test_fold_ascii(void **state)
{
    (void)state;
    fold_expect("", "");
    fold_expect("C:\\Windows\\System32\\CMD.EXE", "c:\\windows\\system32\\cmd.exe");
    fold_expect("AZaz09@[`{~", "azaz09@[`{~");
    fold_expect("already lower", "already lower");
}

static void test_fold_latin1(void **state)
{
    (void)state;
    fold_expect("ÀÉÎÕÜ", "àéîõü");
    fold_expect("ÆØÅ", "æøå");
    fold_expect("Þ", "þ");
    fold_expect("×", "×"); /* U+00D7 multiplication sign is no letter */
    fold_expect("ß", "ß"); /* no single-character upper case */
    fold_expect("ÿ", "ÿ");
}

static void test_fold_latin_ext_a(void **state)
{
    (void)state;
    fold_expect("ĀĂĄĆČĎĒĘĚĞĢĪĮĶ", "āăąćčďēęěğģīįķ");
    fold_expect("ŁŃŇ", "łńň"); /* 0x139..0x148: odd upper */
    fold_expect("ŊŌŐŒŘŚŠŤŪŮŰŲŴŶ", "ŋōőœřśšťūůűųŵŷ");
    fold_expect("ŹŻŽ", "źżž");
    fold_expect("Ÿ", "ÿ"); /* U+0178 -> U+00FF */
    fold_expect("İ", "İ"); /* dotted I has no same-length lower case */
    fold_expect("ı", "ı");
    fold_expect("łukasz žofie", "łukasz žofie");
}

static void test_fold_greek_cyrillic(void **state)
{
    (void)state;
    fold_expect("ΑΒΓΔΕΖΗΘΙΚΛΜΝΞΟΠΡΣΤΥΦΧΨΩ", "αβγδεζηθικλμνξοπρστυφχψω");
    fold_expect("ΪΫ", "ϊϋ");
    fold_expect("АБВГДЕЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ", "абвгдежзийклмнопрстуфхцчшщъыьэюя");
    fold_expect("ЀЁЂЃЄЅІЇЈЉЊЋЌЍЎЏ", "ѐёђѓєѕіїјљњћќѝўџ");
    fold_expect("Привет, МИР", "привет, мир");
}

static void test_fold_leaves_the_rest(void **state)
{
    (void)state;
    fold_expect("€ 日本 😀", "€ 日本 😀"); /* three and four byte characters */
    /* invalid UTF-8 passes unchanged, ASCII around it still folds */
    fold_expect("A\xc3", "a\xc3"); /* truncated sequence at the end */
    fold_expect("\xc3"
                "A",
                "\xc3"
                "a");                      /* lead byte without continuation */
    fold_expect("\x80\xbfZ", "\x80\xbfz"); /* stray continuations */
    fold_expect("\xc0\x80", "\xc0\x80");   /* overlong NUL */
    fold_expect("\xff\xfe", "\xff\xfe");
    /* a NUL byte inside is just a byte */
    char in[4] = {'A', 0, 'B', 0}, out[4];
    fold_case(in, 3, out);
    assert_memory_equal(out, "a\0b", 3);
}

/* Reference fold: byte by byte, the way fold_case treats each byte without
 * its sixteen-byte fast path (ASCII through the table; the rest compared
 * with fold_case on that one character). */
static void fold_reference(const unsigned char *in, size_t n, unsigned char *out)
{
    for (size_t i = 0; i < n;) {
        size_t k = (in[i] >= 0xC2 && in[i] <= 0xD3 && i + 1 < n && (in[i + 1] & 0xC0) == 0x80) ? 2 : 1;
        fold_case((const char *)in + i, k, (char *)out + i);
        i += k;
    }
}

/* Long values go sixteen bytes at a time while they are ASCII, and what is
 * left eight at a time: every length and every place of a capital or a
 * multi-byte letter gives what the byte loop gives, in place too, and
 * is_folded agrees. */
static void test_fold_long_values(void **state)
{
    (void)state;
    unsigned char in[80], want[80], got[80];
    /* and the neighbours of the capitals, which a word-wide test of a
     * short value must tell from them */
    static const char *const pieces[] = {"A",    "z", "\\", "\xc3\x84", "\xd0\x94", "\xce\xa3",
                                         "\x80", " ", "@",  "[",        "`{",       "Z"};
    const size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
    unsigned seed = 7;
    for (int round = 0; round < 5000; round++) {
        size_t n = 0;
        size_t target = (size_t)(round % 70);
        while (n < target) {
            seed = seed * 1103515245u + 12345u;
            const char *p = pieces[(seed >> 16) % npieces];
            size_t l = strlen(p);
            if ((seed >> 8) % 4 && n + 1 <= target) {
                in[n++] = (unsigned char)('a' + (seed >> 20) % 26 - ((seed >> 12) % 3 == 0 ? 32 : 0));
                continue;
            }
            if (n + l > target)
                break;
            memcpy(in + n, p, l);
            n += l;
        }
        fold_reference(in, n, want);
        fold_case((const char *)in, n, (char *)got);
        assert_memory_equal(got, want, n);
        memcpy(got, in, n); /* in place, as atoms.c folds */
        fold_case((const char *)got, n, (char *)got);
        assert_memory_equal(got, want, n);
        assert_int_equal(is_folded((const char *)in, n), memcmp(in, want, n) == 0);
        assert_true(is_folded((const char *)got, n));
    }
}

/* find_bytes against memmem on values with many near misses. */
static void test_find_bytes(void **state)
{
    (void)state;
    char hay[100], needle[12];
    unsigned seed = 3;
    for (int round = 0; round < 20000; round++) {
        size_t n = (size_t)(round % 100), len = 1 + (size_t)(round / 100) % 11;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            hay[i] = "ab\\c"[(seed >> 16) % 4];
        }
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            needle[i] = "ab\\c"[(seed >> 16) % 4];
        }
        const char *want = memmem(hay, n, needle, len);
        assert_ptr_equal(find_bytes(hay, n, needle, len), want);
    }
    assert_ptr_equal(find_bytes("abc", 3, "", 0), "abc");
    /* every path (sixteen positions at a time and the last sixteen; fewer
     * than sixteen, copied; the byte loop) against memmem, each haystack
     * the exact size of its allocation so that a read past it is caught
     * under the sanitizers, with the needle planted at every position */
    for (size_t n = 1; n <= 70; n++) {
        for (size_t len = 2; len <= 40 && len <= n; len++) {
            for (size_t at = 0; at + len <= n; at++) {
                char *hp = malloc(n), nd[40];
                assert_non_null(hp);
                for (size_t i = 0; i < n; i++) {
                    seed = seed * 1103515245u + 12345u;
                    hp[i] = "ab"[(seed >> 16) % 2];
                }
                for (size_t i = 0; i < len; i++) {
                    seed = seed * 1103515245u + 12345u;
                    nd[i] = "ab"[(seed >> 16) % 2];
                }
                nd[len - 1] = 'z';
                memcpy(hp + at, nd, len);
                const char *want = memmem(hp, n, nd, len);
                assert_ptr_equal(find_bytes(hp, n, nd, len), want);
                assert_ptr_equal(want, hp + at); /* the only z */
                free(hp);
            }
        }
    }
    const char *h = "C:\\Windows\\System32\\cmd.exe /c whoami /all";
    assert_ptr_equal(find_bytes(h, strlen(h), "whoami", 6), strstr(h, "whoami"));
    assert_null(find_bytes(h, strlen(h), "whoamis", 7));
}

static void test_utf8_valid_prefix(void **state)
{
    (void)state;
    static const struct {
        const char *s;
        size_t n, want;
    } cases[] = {
        {"a", 1, 1},
        {"\x7f", 1, 1},
        {"\xc3\xa9", 2, 2},
        {"\xc3\xa9xyz", 5, 2},
        {"\xe2\x82\xac", 3, 3},
        {"\xf0\x9f\x98\x80", 4, 4},
        {"\xf4\x8f\xbf\xbf", 4, 4}, /* U+10FFFF */
        {"\x80", 1, 0},             /* continuation byte */
        {"\xc0\x80", 2, 0},         /* overlong */
        {"\xc1\xbf", 2, 0},
        {"\xe0\x80\xaf", 3, 0},     /* overlong three-byte */
        {"\xf0\x80\x80\xaf", 4, 0}, /* overlong four-byte */
        {"\xed\xa0\x80", 3, 0},     /* surrogate */
        {"\xf4\x90\x80\x80", 4, 0}, /* above U+10FFFF */
        {"\xf5\x80\x80\x80", 4, 0},
        {"\xe2\x82", 2, 0},     /* truncated */
        {"\xe2\x82\xac", 2, 0}, /* truncated by n */
        {"\xc3\x28", 2, 0},     /* bad continuation */
        {"", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t got = utf8_valid_prefix((const unsigned char *)cases[i].s, cases[i].n);
        if (got != cases[i].want)
            fprintf(stderr, "  -- case %zu: got %zu\n", i, got);
        assert_int_equal(got, cases[i].want);
    }
    char b[4];
    assert_int_equal(utf8_encode(0x41, b), 1);
    assert_int_equal(utf8_encode(0xE9, b), 2);
    assert_memory_equal(b, "\xc3\xa9", 2);
    assert_int_equal(utf8_encode(0x20AC, b), 3);
    assert_memory_equal(b, "\xe2\x82\xac", 3);
    assert_int_equal(utf8_encode(0x1F600, b), 4);
    assert_memory_equal(b, "\xf0\x9f\x98\x80", 4);
    assert_int_equal(utf8_encode(0x110000, b), 3); /* out of range: U+FFFD */
    assert_memory_equal(b, "\xef\xbf\xbd", 3);
}

static void num_ok(const char *s, double want)
{
    double v = -12345;
    bool ok = parse_number(s, strlen(s), &v);
    if (!ok || v != want)
        fprintf(stderr, "  -- parse_number(\"%s\"): ok=%d v=%g, expected %g\n", s, ok, v, want);
    assert_true(ok);
    assert_true(v == want);
}

static void num_bad(const char *s)
{
    double v;
    bool ok = parse_number(s, strlen(s), &v);
    if (ok)
        fprintf(stderr, "  -- parse_number(\"%s\") accepted: %g\n", s, v);
    assert_false(ok);
}

static void test_parse_number(void **state)
{
    (void)state;
    num_ok("0", 0);
    num_ok("42", 42);
    num_ok("-42", -42);
    num_ok("+7", 7);
    num_ok(" 7 ", 7);
    num_ok("\t-3\t", -3);
    num_ok("0x1F", 31);
    num_ok("0X1f", 31);
    num_ok("-0x10", -16);
    num_ok("3.5", 3.5);
    num_ok("-2.5e3", -2500);
    num_ok("1e5", 100000);
    num_ok("1E-2", 0.01);
    num_ok(".5", 0.5);
    num_ok("9007199254740993", 9007199254740992.0); /* nearest double */
    num_bad("");
    num_bad("  ");
    num_bad("abc");
    num_bad("12abc");
    num_bad("1.2.3");
    num_bad("0x");
    num_bad("0xG1");
    num_bad("inf");
    num_bad("nan");
    num_bad("NaN");
    num_bad("1e");
    num_bad("--1");
    num_bad("-");
    num_bad("1 2");
    num_bad("1e999"); /* not finite */
    char longnum[100];
    memset(longnum, '1', 80);
    longnum[80] = 0;
    num_bad(longnum); /* longer than any number in a log */
}

static void test_parse_int64(void **state)
{
    (void)state;
    int64_t v;
    assert_true(parse_int64("4688", 4, &v));
    assert_int_equal(v, 4688);
    assert_true(parse_int64("-1", 2, &v));
    assert_int_equal(v, -1);
    assert_true(parse_int64("9223372036854775807", 19, &v));
    assert_true(v == INT64_MAX);
    assert_true(parse_int64("-9223372036854775808", 20, &v));
    assert_true(v == INT64_MIN);
    assert_false(parse_int64("9223372036854775808", 19, &v));
    assert_false(parse_int64("-9223372036854775809", 20, &v));
    assert_false(parse_int64("99999999999999999999", 20, &v));
    assert_true(parse_int64("0x7fffffffffffffff", 18, &v));
    assert_true(v == INT64_MAX);
    assert_true(parse_int64("-0x8000000000000000", 19, &v));
    assert_true(v == INT64_MIN);
    /* beyond int64: refused, not wrapped */
    assert_false(parse_int64("0x8000000000000000", 18, &v));
    assert_false(parse_int64("0xffffffffffffffff", 18, &v));
    assert_false(parse_int64("-0x8000000000000001", 19, &v));
    assert_false(parse_int64("0x10000000000000000", 19, &v));
    assert_false(parse_int64("1.0", 3, &v));
    assert_false(parse_int64("", 0, &v));
    assert_false(parse_int64("+", 1, &v));
    /* only the given length counts */
    assert_true(parse_int64("12345", 2, &v));
    assert_int_equal(v, 12);
}

static void ts_ok(const char *s, int y, int mo, int d, int h, int mi, int sec, long ns, int off)
{
    struct timestamp t;
    bool ok = parse_timestamp(s, strlen(s), &t);
    if (!ok)
        fprintf(stderr, "  -- parse_timestamp(\"%s\") refused\n", s);
    assert_true(ok);
    assert_int_equal(t.year, y);
    assert_int_equal(t.month, mo);
    assert_int_equal(t.day, d);
    assert_int_equal(t.hour, h);
    assert_int_equal(t.minute, mi);
    assert_int_equal(t.second, sec);
    assert_int_equal(t.nsec, ns);
    assert_int_equal(t.offset_minutes, off);
}

static void ts_bad(const char *s)
{
    struct timestamp t;
    bool ok = parse_timestamp(s, strlen(s), &t);
    if (ok)
        fprintf(stderr, "  -- parse_timestamp(\"%s\") accepted\n", s);
    assert_false(ok);
}

static void test_parse_timestamp(void **state)
{
    (void)state;
    ts_ok("2025-11-27T07:40:10.165324Z", 2025, 11, 27, 7, 40, 10, 165324000, 0);
    ts_ok("2025-11-27T07:40:10Z", 2025, 11, 27, 7, 40, 10, 0, 0);
    ts_ok("2025-11-27t07:40:10z", 2025, 11, 27, 7, 40, 10, 0, 0);
    ts_ok("2025-11-27T07:40:10.1234567891Z", 2025, 11, 27, 7, 40, 10, 123456789, 0); /* ns precision */
    ts_ok("2025-11-27T07:40:10+02:00", 2025, 11, 27, 7, 40, 10, 0, 120);
    ts_ok("2025-11-27T07:40:10-05:30", 2025, 11, 27, 7, 40, 10, 0, -330);
    ts_ok("2025-11-27T07:40:10.5+0200", 2025, 11, 27, 7, 40, 10, 500000000, 120);
    ts_ok("2025-11-27T07:40:10+02", 2025, 11, 27, 7, 40, 10, 0, 120);
    ts_ok("2025-11-27 07:40:10.132", 2025, 11, 27, 7, 40, 10, 132000000, 0); /* Sysmon UtcTime */
    ts_ok("2025-11-27 07:40:10,132", 2025, 11, 27, 7, 40, 10, 132000000, 0);
    ts_ok("2025-11-27T07:40", 2025, 11, 27, 7, 40, 0, 0, 0);
    ts_ok("2025-11-27", 2025, 11, 27, 0, 0, 0, 0, 0);
    ts_ok(" 2025-11-27T07:40:10Z ", 2025, 11, 27, 7, 40, 10, 0, 0);
    ts_ok("2016-12-31T23:59:60Z", 2016, 12, 31, 23, 59, 60, 0, 0); /* leap second */
    ts_bad("");
    ts_bad("2025-13-01T00:00:00Z");
    ts_bad("2025-00-01T00:00:00Z");
    ts_bad("2025-11-32T00:00:00Z");
    ts_bad("2025-11-00");
    ts_bad("2025-11-27T24:00:00Z");
    ts_bad("2025-11-27T07:60:00Z");
    ts_bad("2025/11/27 07:40:10");
    ts_bad("27.11.2025 07:40");
    ts_bad("2025-11-27T07:40:10.Z");
    ts_bad("2025-11-27T07:40:10Zjunk");
    ts_bad("2025-11-27T7:40:10Z");
    ts_bad("20251127T074010Z");
    ts_bad("2025-11-27T");
    ts_bad("Nov 27 07:40:10");
}

static void test_timestamp_to_ns_and_format(void **state)
{
    (void)state;
    struct timestamp t;
    char buf[32];
    assert_true(parse_timestamp("1970-01-01T00:00:00Z", 20, &t));
    assert_true(timestamp_to_ns(&t) == 0);
    assert_true(parse_timestamp("2025-11-27T07:40:10.165324Z", 27, &t));
    assert_true(timestamp_to_ns(&t) == 1764229210165324000LL);
    /* offsets are applied: 09:40:10+02:00 is 07:40:10Z */
    struct timestamp t2;
    assert_true(parse_timestamp("2025-11-27T09:40:10.165324+02:00", 32, &t2));
    assert_true(timestamp_to_ns(&t2) == timestamp_to_ns(&t));
    assert_true(parse_timestamp("2024-02-29 23:59:59.000", 23, &t));
    assert_true(timestamp_to_ns(&t) == 1709251199LL * 1000000000LL);

    assert_int_equal(format_time_ns(0, buf), 27);
    assert_string_equal(buf, "1970-01-01T00:00:00.000000Z");
    format_time_ns(1764229210165324999LL, buf); /* microseconds, truncated */
    assert_string_equal(buf, "2025-11-27T07:40:10.165324Z");
    format_time_ns(-1, buf);
    assert_string_equal(buf, "1969-12-31T23:59:59.999999Z");
    format_time_ns(1709251199LL * 1000000000LL, buf);
    assert_string_equal(buf, "2024-02-29T23:59:59.000000Z");
    format_time_ns(951782400LL * 1000000000LL, buf); /* 2000-02-29, a leap century */
    assert_string_equal(buf, "2000-02-29T00:00:00.000000Z");
    /* the same bytes as the printf form, from before 1970 to the end of
     * int64 nanoseconds, odd fractions included */
    for (int64_t ns = INT64_MIN + 1; ns < INT64_MAX - 7777777777777777LL; ns += 7777777777777777LL + 123457) {
        char want[64];
        format_time_ns(ns, buf);
        int64_t secs = ns / 1000000000LL, frac = ns % 1000000000LL;
        if (frac < 0) {
            frac += 1000000000LL;
            secs--;
        }
        time_t tt = (time_t)secs;
        struct tm tm;
        gmtime_r(&tt, &tm);
        snprintf(want, sizeof want, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900, tm.tm_mon + 1,
                 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (long long)(frac / 1000));
        assert_string_equal(buf, want);
    }
    /* round trip every 17 hours and a bit across four years */
    for (int64_t s = 1577836800; s < 1577836800 + 4 * 366 * 86400LL; s += 61237) {
        int64_t ns = s * 1000000000LL + 123456000;
        size_t n = format_time_ns(ns, buf);
        assert_true(parse_timestamp(buf, n, &t));
        assert_true(timestamp_to_ns(&t) == ns);
    }
}

static int week_of(int y, int m, int d)
{
    struct timestamp t = {.year = y, .month = m, .day = d};
    return timestamp_iso_week(&t);
}

/* Machine output has one time form: RFC 3339 UTC. */
static void test_time_rfc3339(void **state)
{
    (void)state;
    char out[32];
    struct timestamp ts;
    /* already the form: kept as written, precision and all */
    const char *evtx = "2019-03-19T23:34:25.1234567Z";
    assert_ptr_equal(time_rfc3339(evtx, 0, out), evtx);
    const char *whole = "2026-12-03T09:00:01Z";
    assert_ptr_equal(time_rfc3339(whole, 0, out), whole);
    /* Sysmon's UtcTime, as the live sensor writes it */
    const char *sysmon = "2026-12-04 19:24:22.905";
    assert_true(parse_timestamp(sysmon, strlen(sysmon), &ts));
    assert_string_equal(time_rfc3339(sysmon, timestamp_to_ns(&ts), out), "2026-12-04T19:24:22.905000Z");
    /* an offset east of UTC: the same instant in UTC */
    const char *east = "2026-12-04T21:24:22+02:00";
    assert_true(parse_timestamp(east, strlen(east), &ts));
    assert_string_equal(time_rfc3339(east, timestamp_to_ns(&ts), out), "2026-12-04T19:24:22.000000Z");
    /* near misses of the form are rewritten too */
    const char *lower = "2026-12-04t19:24:22z", *nofrac = "2026-12-04T19:24:22.Z";
    assert_true(parse_timestamp(lower, strlen(lower), &ts));
    assert_string_equal(time_rfc3339(lower, timestamp_to_ns(&ts), out), "2026-12-04T19:24:22.000000Z");
    assert_string_equal(time_rfc3339(nofrac, timestamp_to_ns(&ts), out), "2026-12-04T19:24:22.000000Z");
    /* nothing to convert: the event's text, or nothing */
    assert_string_equal(time_rfc3339("yesterday", INT64_MIN, out), "yesterday");
    assert_null(time_rfc3339(NULL, INT64_MIN, out));
    assert_string_equal(time_rfc3339(NULL, 0, out), "1970-01-01T00:00:00.000000Z");
}

/* time_rfc3339's check of the form as it was: the shape, then
 * parse_timestamp for the ranges. The one-pass check must agree. */
static bool rfc3339_utc_reference(const char *s)
{
    static const char shape[] = "dddd-dd-ddTdd:dd:dd";
    size_t i = 0;
    for (; shape[i]; i++)
        if (shape[i] == 'd' ? !(s[i] >= '0' && s[i] <= '9') : s[i] != shape[i])
            return false;
    if (s[i] == '.') {
        size_t d = ++i;
        while (s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d || i - d > 9)
            return false;
    }
    struct timestamp ts;
    return s[i] == 'Z' && s[i + 1] == 0 && parse_timestamp(s, i + 1, &ts);
}

/* raw is kept exactly when the reference takes it; each string is also
 * tried cut at every length, in a block of its own size (the sanitizers
 * see a read past its NUL). */
static void rfc3339_agrees(const char *raw)
{
    size_t n = strlen(raw);
    for (size_t cut = 0; cut <= n; cut++) {
        char *s = malloc(cut + 1);
        assert_non_null(s);
        memcpy(s, raw, cut);
        s[cut] = 0;
        char out[32];
        bool kept = time_rfc3339(s, 0, out) == s; /* else the time of 0 is written */
        if (kept != rfc3339_utc_reference(s))
            fprintf(stderr, "  -- time_rfc3339(\"%s\") kept=%d\n", s, kept);
        assert_int_equal(kept, rfc3339_utc_reference(s));
        free(s);
    }
}

static void test_time_rfc3339_one_pass(void **state)
{
    (void)state;
    static const char *const cases[] = {
        "2019-03-19T23:34:25Z",
        "2019-03-19T23:34:25.1Z",
        "2019-03-19T23:34:25.12Z",
        "2019-03-19T23:34:25.123Z",
        "2019-03-19T23:34:25.1234Z",
        "2019-03-19T23:34:25.12345Z",
        "2019-03-19T23:34:25.123456Z",
        "2019-03-19T23:34:25.1234567Z",
        "2019-03-19T23:34:25.12345678Z",
        "2019-03-19T23:34:25.123456789Z",
        "2019-03-19T23:34:25.1234567890Z",
        "2019-03-19T23:34:25.Z",
        "2019-03-19T23:34:25,5Z",
        "2016-12-31T23:59:60Z",
        "2016-12-31T23:59:60.999999999Z",
        "2016-12-31T23:59:61Z", /* leap seconds */
        "0000-01-01T00:00:00Z",
        "9999-12-31T23:59:59.999999999Z",
        "2021-02-29T00:00:00Z",
        "2021-02-31T12:00:00Z",
        "2021-00-10T00:00:00Z",
        "2021-13-10T00:00:00Z",
        "2021-01-00T00:00:00Z",
        "2021-01-32T00:00:00Z",
        "2021-01-01T24:00:00Z",
        "2021-01-01T23:60:00Z",
        "2021-01-01T99:99:99Z",
        "2021-1-01T00:00:00Z",
        "2021-01-01T00:00:00+00:00",
        "2021-01-01T00:00:00-05:30",
        "2021-01-01T00:00:00.5+01:00",
        "2021-01-01T00:00:00z",
        "2021-01-01t00:00:00Z",
        "2021-01-01 00:00:00Z",
        "2021-01-01T00:00:00Z ",
        " 2021-01-01T00:00:00Z",
        "2021-01-01T00:00:00ZZ",
        "2021-01-01T00:00Z",
        "2021-01-01",
        "",
        "2021-01-01T00:00:00.\xff"
        "Z",
        "\xff\xff\xff\xff-01-01T00:00:00Z",
        "2021-01-01T00:00:00.-1Z",
        "+2021-01-01T00:00:00Z",
        "-2021-01-01T00:00:00Z",
        "20210101T000000Z",
        "2021-01-01T0:00:00Z",
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        rfc3339_agrees(cases[i]);
    /* every byte of a good time, each replaced by each of the bytes that
     * mean something to either check */
    static const char good[] = "2024-02-29T23:59:59.123456789Z";
    static const char subst[] = "0123456789-T:.Zzt+ ,\x01\x7f\xff";
    for (size_t at = 0; at < sizeof(good) - 1; at++)
        for (size_t k = 0; k < sizeof(subst) - 1; k++) {
            char s[sizeof(good)];
            memcpy(s, good, sizeof(good));
            s[at] = subst[k];
            rfc3339_agrees(s);
        }
    /* two-digit fields through their whole range */
    for (int v = 0; v < 100; v++) {
        char s[32];
        snprintf(s, sizeof(s), "2024-%02d-10T10:10:10Z", v);
        rfc3339_agrees(s);
        snprintf(s, sizeof(s), "2024-10-%02dT10:10:10Z", v);
        rfc3339_agrees(s);
        snprintf(s, sizeof(s), "2024-10-10T%02d:10:10Z", v);
        rfc3339_agrees(s);
        snprintf(s, sizeof(s), "2024-10-10T10:%02d:10Z", v);
        rfc3339_agrees(s);
        snprintf(s, sizeof(s), "2024-10-10T10:10:%02dZ", v);
        rfc3339_agrees(s);
    }
}

/* ascii_lower_copy is ascii_lower_table's, a byte at a time: every byte
 * value at every place of a word and of the tail, every length to 40. */
static void test_ascii_lower_copy(void **state)
{
    (void)state;
    char in[48], out[48], want[48];
    for (int v = 0; v < 256; v++)
        for (size_t n = 1; n <= 40; n++)
            for (size_t at = 0; at < n; at += (n > 20 ? 3 : 1)) {
                for (size_t i = 0; i < n; i++)
                    in[i] = (char)("aZ@[`{AzQ\x80\xc1\xe0 9"[(i * 7 + (size_t)v) % 14]);
                in[at] = (char)v;
                for (size_t i = 0; i < n; i++)
                    want[i] = (char)ascii_lower_table[(unsigned char)in[i]];
                memset(out, 'x', sizeof(out));
                ascii_lower_copy(out, in, n);
                assert_memory_equal(out, want, n);
                assert_int_equal(out[n], 'x'); /* nothing past n */
            }
}

static void test_iso_week(void **state)
{
    (void)state;
    assert_int_equal(week_of(2025, 11, 27), 48);
    assert_int_equal(week_of(2021, 1, 3), 53);
    assert_int_equal(week_of(2021, 1, 4), 1);
    assert_int_equal(week_of(2024, 12, 30), 1);
    assert_int_equal(week_of(2026, 12, 31), 53);
    assert_int_equal(week_of(2027, 1, 1), 53);
    assert_int_equal(week_of(2020, 12, 31), 53);
    assert_int_equal(week_of(2018, 12, 31), 1);
    assert_int_equal(week_of(2016, 1, 3), 53);
    assert_int_equal(week_of(2008, 12, 29), 1);
    assert_int_equal(week_of(2010, 1, 3), 53);
    /* every day from 1995 to 2035 against gmtime: the week of a day is the
     * week of its Thursday, counted in the Thursday's year */
    for (time_t s = 788918400; s < 2082758400; s += 86400) {
        struct tm tm;
        gmtime_r(&s, &tm);
        int wd = (tm.tm_wday + 6) % 7; /* Monday 0 */
        time_t thu = s + (time_t)(3 - wd) * 86400;
        struct tm tt;
        gmtime_r(&thu, &tt);
        int want = tt.tm_yday / 7 + 1;
        int got = week_of(tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
        if (got != want)
            fprintf(stderr, "  -- %04d-%02d-%02d: week %d, expected %d\n", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday,
                    got, want);
        assert_int_equal(got, want);
    }
}

/* buf_json_escape's word and block paths against a byte-by-byte escaper: every
 * special byte (control, quote, backslash, UTF-8 lead, DEL) at every
 * position of values of every length up to 72, and buf_json_str alike. */
static void escape_bytewise(struct buf *b, const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x80) {
            size_t l = utf8_valid_prefix(s + i, n - i);
            if (l) {
                buf_put(b, s + i, l);
                i += l - 1;
            } else {
                buf_puts(b, "\\ufffd");
            }
        } else if (c == '"' || c == '\\') {
            buf_putc(b, '\\');
            buf_putc(b, (char)c);
        } else if (c == '\n') {
            buf_puts(b, "\\n");
        } else if (c == '\r') {
            buf_puts(b, "\\r");
        } else if (c == '\t') {
            buf_puts(b, "\\t");
        } else if (c < 0x20) {
            buf_printf(b, "\\u%04x", c);
        } else {
            buf_putc(b, (char)c);
        }
    }
}

static void test_json_escape_every_position(void **state)
{
    (void)state;
    static const unsigned char special[] = {0x00, 0x01, 0x1f, '"', '\\', '\n', 0x7f, 0x80, 0xc3, 0xe2, 0xff, ' ', '~'};
    struct buf got = {0}, want = {0}, str = {0};
    /* past 40: the sixteen-byte blocks, and buf_json_str's 8..32 byte path */
    for (size_t n = 0; n <= 72; n++)
        for (size_t at = 0; at < (n ? n : 1); at++)
            for (size_t k = 0; k < sizeof(special); k++) {
                unsigned char *v = malloc(n ? n : 1); /* exactly n: a read past it is the sanitizer's */
                for (size_t i = 0; i < n; i++)
                    v[i] = (unsigned char)('a' + (i * 7 + at) % 26);
                if (n) {
                    v[at] = special[k];
                    if (special[k] == 0xc3 && at + 1 < n)
                        v[at + 1] = 0xa9; /* a whole two-byte character */
                }
                buf_clear(&got);
                buf_clear(&want);
                buf_json_escape(&got, (const char *)v, n);
                escape_bytewise(&want, v, n);
                assert_int_equal(got.len, want.len);
                assert_memory_equal(got.p ? got.p : "", want.p ? want.p : "", got.len);
                buf_clear(&str); /* with its quotes, after something already in the buffer */
                buf_puts(&str, "x");
                buf_json_str(&str, (const char *)v, n);
                assert_int_equal(str.len, want.len + 3);
                assert_int_equal(str.p[1], '"');
                assert_memory_equal(str.p + 2, want.p ? want.p : "", want.len);
                assert_int_equal(str.p[str.len - 1], '"');
                assert_int_equal(str.p[str.len], 0);
                free(v);
            }
    buf_free(&got);
    buf_free(&want);
    buf_free(&str);
}

/* Values as events hold them (Windows paths: a backslash every few bytes,
 * quoted command lines, UTF-8, a control now and then), of every length to
 * 300 and past the escaper's 4,096-byte chunk (a character across its
 * edge), escaped by buf_json_escape and buf_json_str, into an empty buffer
 * and after what one holds, against the byte-by-byte escaper. */
static void test_json_escape_dense(void **state)
{
    (void)state;
    static const unsigned char alphabet[] = "ab\\\\\"\"  xyz:.\x01\x1f\n\t\x7f";
    static const unsigned char utf8[][4] = {{0xc3, 0xa9}, {0xe2, 0x82, 0xac}, {0xf0, 0x9f, 0x98, 0x80}, {0xc3}, {0xff}};
    static const size_t utf8_len[] = {2, 3, 4, 1, 1};
    struct buf got = {0}, want = {0}, str = {0};
    uint32_t seed = 12345;
    for (int round = 0; round < 3000; round++) {
        size_t n = round < 2700 ? (size_t)round % 301 : 4000 + (size_t)(round - 2700);
        unsigned char *v = malloc(n ? n : 1);
        for (size_t i = 0; i < n;) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            if (r % 16 == 0) {
                size_t k = (r >> 4) % 5, l = utf8_len[k];
                for (size_t j = 0; j < l && i < n; j++)
                    v[i++] = utf8[k][j];
            } else {
                v[i++] = alphabet[(r >> 4) % (sizeof(alphabet) - 1)];
            }
        }
        buf_clear(&want);
        escape_bytewise(&want, v, n);
        buf_free(&got); /* no room made beforehand, then some */
        for (int pass = 0; pass < 2; pass++) {
            buf_clear(&got);
            buf_json_escape(&got, (const char *)v, n);
            assert_int_equal(got.len, want.len);
            assert_memory_equal(got.p, want.p ? want.p : "", got.len);
            assert_int_equal(got.p[got.len], 0);
        }
        buf_free(&str);
        for (int pass = 0; pass < 2; pass++) {
            buf_clear(&str);
            buf_puts(&str, pass ? "xyz" : "");
            size_t at = str.len;
            buf_json_str(&str, (const char *)v, n);
            assert_int_equal(str.len, at + want.len + 2);
            assert_int_equal(str.p[at], '"');
            assert_memory_equal(str.p + at + 1, want.p ? want.p : "", want.len);
            assert_int_equal(str.p[str.len - 1], '"');
            assert_int_equal(str.p[str.len], 0);
        }
        free(v);
    }
    buf_free(&got);
    buf_free(&want);
    buf_free(&str);
}

/* Blocks whose only bytes to escape are quotes and backslashes (Windows
 * paths, quoted command lines) take their own path, in buf_json_str's
 * padded copy of a short value and in the long values' run: every length
 * to 300 and around 4,096, from none to all of a block's bytes backslashes,
 * a control or UTF-8 now and then, against the byte-by-byte escaper. */
static void test_json_escape_paths(void **state)
{
    (void)state;
    static const unsigned char alphabet[] = "\\\\\"abcdefgh:. ";
    struct buf want = {0}, str = {0}, esc = {0};
    uint32_t seed = 777;
    for (int round = 0; round < 4000; round++) {
        size_t n = round < 3600 ? (size_t)round % 301 : 4080 + (size_t)(round - 3600) % 40;
        unsigned char *v = malloc(n ? n : 1); /* exactly n: a read past it is the sanitizer's */
        int dense = round % 4;                /* 0: a backslash now and then .. 3: all backslashes */
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            if (dense == 3)
                v[i] = '\\';
            else if (r % 97 == 0 && round % 5 == 0)
                v[i] = (r >> 8) & 1 ? 0x01 : 0xc3; /* a control, a cut UTF-8 character */
            else if (dense == 0)
                v[i] = r % 9 ? (unsigned char)('a' + r % 26) : '\\';
            else
                v[i] = alphabet[(r >> 4) % (dense == 1 ? sizeof(alphabet) - 1 : 6)];
        }
        buf_clear(&want);
        escape_bytewise(&want, v, n);
        buf_clear(&str);
        buf_puts(&str, round % 2 ? "xy" : "");
        size_t at = str.len;
        buf_json_str(&str, (const char *)v, n);
        assert_int_equal(str.len, at + want.len + 2);
        assert_int_equal(str.p[at], '"');
        assert_memory_equal(str.p + at + 1, want.p ? want.p : "", want.len);
        assert_int_equal(str.p[str.len - 1], '"');
        assert_int_equal(str.p[str.len], 0);
        buf_clear(&esc);
        buf_json_escape(&esc, (const char *)v, n);
        assert_int_equal(esc.len, want.len);
        assert_memory_equal(esc.p, want.p ? want.p : "", want.len);
        free(v);
    }
    buf_free(&want);
    buf_free(&str);
    buf_free(&esc);
}

/* buf_visible: what reaches a terminal or a syslog line holds no control
 * character, no bidi control and no invalid UTF-8, and shows each of them. */
static void visible_expect(const char *in, size_t n, bool quoted, const char *want)
{
    struct buf b = {0};
    buf_visible(&b, in, n, quoted);
    assert_string_equal(b.p ? b.p : "", want);
    buf_free(&b);
}

#define VISIBLE(in, quoted, want) visible_expect(in, sizeof(in) - 1, quoted, want)

/* True when s holds a byte or code point a terminal may act on. */
static bool holds_control(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n;) {
        if (s[i] < 0x20 || s[i] == 0x7f)
            return true;
        size_t l = utf8_char_len(s + i, n - i);
        if (s[i] >= 0x80 && !utf8_valid_prefix(s + i, n - i))
            return true;
        uint32_t cp = s[i];
        if (l == 2)
            cp = (uint32_t)(s[i] & 0x1f) << 6 | (s[i + 1] & 0x3f);
        else if (l == 3)
            cp = (uint32_t)(s[i] & 0x0f) << 12 | (uint32_t)(s[i + 1] & 0x3f) << 6 | (s[i + 2] & 0x3f);
        if ((cp >= 0x80 && cp < 0xa0) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
            (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            return true;
        i += l;
    }
    return false;
}

static void test_visible_escapes(void **state)
{
    (void)state;
    VISIBLE("plain C:\\Windows\\cmd.exe \"x\"", false, "plain C:\\Windows\\cmd.exe \"x\"");
    VISIBLE("a \"b\" c\\d", true, "a \\\"b\\\" c\\\\d");
    /* OSC 52 (clipboard), clear screen, a carriage return forging a line */
    VISIBLE("\x1b]52;c;ZWNobyBoaQ==\x07", false, "\\x1b]52;c;ZWNobyBoaQ==\\x07");
    VISIBLE("\x1b[2J\x1b[H", false, "\\x1b[2J\\x1b[H");
    VISIBLE("ok\r2026-01-01 critical forged\n", false, "ok\\r2026-01-01 critical forged\\n");
    VISIBLE("\t\x00\x7f", false, "\\t\\x00\\x7f");
    /* C1: a raw byte (8-bit CSI) is not UTF-8; U+009B encoded is a control */
    VISIBLE("\x9b"
            "31m",
            false, "\\x9b31m");
    VISIBLE("\xc2\x9b"
            "31m \xc2\x85",
            false, "\\u009b31m \\u0085");
    /* bidi: "gpj.exe" shown reversed by U+202E; isolates and marks too */
    VISIBLE("invoice\xe2\x80\xaegpj.exe", false, "invoice\\u202egpj.exe");
    VISIBLE("\xe2\x81\xa6x\xe2\x81\xa9 \xe2\x80\x8f \xd8\x9c", false, "\\u2066x\\u2069 \\u200f \\u061c");
    /* other text is kept: accents, U+00A0, CJK, emoji; invalid UTF-8 shown */
    VISIBLE("\xc3\xa9t\xc3\xa9 \xc2\xa0 \xe6\x97\xa5 \xf0\x9f\x90\xbf", false,
            "\xc3\xa9t\xc3\xa9 \xc2\xa0 \xe6\x97\xa5 \xf0\x9f\x90\xbf");
    VISIBLE("\xff\xc3 \xe2\x80", false, "\\xff\\xc3 \\xe2\\x80");
    VISIBLE("", true, "");

    /* every byte value, alone and between letters, in both modes */
    struct buf b = {0};
    for (int q = 0; q < 2; q++)
        for (unsigned c = 0; c < 256; c++) {
            unsigned char v[3] = {'a', (unsigned char)c, 'z'};
            buf_clear(&b);
            buf_visible(&b, (const char *)v, 3, q);
            assert_false(holds_control((const unsigned char *)b.p, b.len));
        }
    /* every code point up to U+2FFF encoded in UTF-8 */
    for (uint32_t cp = 1; cp < 0x3000; cp++) {
        if (cp >= 0xd800 && cp < 0xe000)
            continue;
        char v[8];
        size_t l = utf8_encode(cp, v);
        buf_clear(&b);
        buf_visible(&b, v, l, false);
        assert_false(holds_control((const unsigned char *)b.p, b.len));
        bool shown = cp < 0x20 || (cp >= 0x7f && cp < 0xa0) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
                     (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
        if (!shown) {
            assert_int_equal(b.len, l); /* kept as it is */
            assert_memory_equal(b.p, v, l);
        } else {
            assert_true(b.p[0] == '\\');
        }
    }
    buf_free(&b);
}

static void test_glob_simple(void **state)
{
    (void)state;
    assert_true(glob_simple("*", ""));
    assert_true(glob_simple("*", "anything"));
    assert_true(glob_simple("", ""));
    assert_false(glob_simple("", "a"));
    assert_true(glob_simple("sel*", "sel"));
    assert_true(glob_simple("sel*", "selection_1"));
    assert_false(glob_simple("sel*", "filter"));
    assert_false(glob_simple("sel*", "Sel1")); /* case-sensitive */
    assert_true(glob_simple("*_1", "sel_1"));
    assert_false(glob_simple("*_1", "sel_10"));
    assert_true(glob_simple("a*b*c", "axxbyyc"));
    assert_true(glob_simple("a*b*c", "abbbc"));
    assert_true(glob_simple("a*b*c", "abcbc"));
    assert_false(glob_simple("a*b*c", "axxbyy"));
    assert_true(glob_simple("a**c", "ac"));
    assert_true(glob_simple("exact", "exact"));
    assert_false(glob_simple("exact", "exactly"));
    assert_false(glob_simple("exactly", "exact"));
    assert_true(glob_simple("*aab", "aaab"));
    assert_true(glob_simple("?", "?")); /* only '*' is special */
    assert_false(glob_simple("?", "a"));
    assert_true(glob_simple_nocase("ATTACK.T1003*", "attack.t1003.001"));
    assert_false(glob_simple_nocase("attack.t1003*", "attack.t1059"));
    assert_true(str_ieq("Windows", "WINDOWS"));
    assert_false(str_ieq("Windows", "Window"));
}

/* hash_bytes as it was written first, a byte at a time after the words:
 * stores and fleet files keep these hashes, so the tail's word loads must
 * give the same value for every length and alignment. */
static uint64_t hash_bytes_bytewise(const void *p, size_t n, uint64_t seed)
{
    const unsigned char *s = p;
    uint64_t h = seed ^ (n * 0x9E3779B97F4A7C15ULL);
    while (n >= 8) {
        uint64_t w;
        memcpy(&w, s, 8);
        h = (h ^ w) * 0x100000001B3ULL * 0x9E3779B1ULL;
        h ^= h >> 29;
        s += 8;
        n -= 8;
    }
    uint64_t w = 0;
    for (size_t i = 0; i < n; i++)
        w |= (uint64_t)s[i] << (8 * i);
    h = (h ^ w) * 0xC2B2AE3D27D4EB4FULL;
    return hash_mix(h);
}

static void test_hash_bytes_tail(void **state)
{
    (void)state;
    uint64_t r = 0x2545F4914F6CDD1DULL;
    for (size_t n = 0; n <= 80; n++) {
        for (size_t at = 0; at < 8; at++) {
            /* exactly the bytes hashed, so a load past them is an error under AddressSanitizer */
            unsigned char *b = malloc(at + n + 1);
            assert_non_null(b);
            for (size_t i = 0; i < at + n; i++) {
                r ^= r << 13, r ^= r >> 7, r ^= r << 17;
                b[i] = (unsigned char)(i % 3 ? r : 0xFF - (r & 1));
            }
            unsigned char *key = malloc(n ? n : 1);
            assert_non_null(key);
            memcpy(key, b + at, n);
            for (uint64_t seed = 0; seed < 3; seed++) {
                uint64_t want = hash_bytes_bytewise(key, n, seed * 0x53544f41ULL);
                assert_true(hash_bytes(key, n, seed * 0x53544f41ULL) == want);
                assert_true(hash_bytes(b + at, n, seed * 0x53544f41ULL) == want);
            }
            free(key);
            free(b);
        }
    }
}

/* bytes_equal against memcmp: every length to 40, equal, and one byte
 * different at every position, in blocks of exactly the bytes compared. */
static void test_bytes_equal(void **state)
{
    (void)state;
    for (size_t n = 0; n <= 40; n++) {
        unsigned char *a = malloc(n ? n : 1), *b = malloc(n ? n : 1);
        assert_non_null(a);
        assert_non_null(b);
        for (size_t i = 0; i < n; i++)
            a[i] = b[i] = (unsigned char)(i * 37 + n);
        assert_true(bytes_equal(a, b, n));
        for (size_t at = 0; at < n; at++) {
            for (unsigned bit = 0; bit < 8; bit += 7) {
                b[at] ^= (unsigned char)(1u << bit);
                assert_int_equal(bytes_equal(a, b, n), memcmp(a, b, n) == 0);
                assert_false(bytes_equal(a, b, n));
                b[at] ^= (unsigned char)(1u << bit);
            }
        }
        free(a);
        free(b);
    }
}

/* str_find_nocase finds what strcasestr finds (the C locale: ASCII): random
 * haystacks over letters of both cases, signs, bytes past 0x7f and partial
 * matches, needles that start with a letter or not, empty, longer than the
 * haystack, at its very end. */
static void test_find_nocase(void **state)
{
    (void)state;
    static const char alphabet[] = "aAbBxX-_ \\/\x80\xc3\xa9\x0d";
    static const char *const needles[] = {"-InFile",
                                          "UploadData",
                                          "-Method Put",
                                          "ab",
                                          "A",
                                          "-",
                                          "x",
                                          "\xc3\xa9",
                                          "aB-",
                                          "",
                                          "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
                                          "\\x",
                                          "\x80"
                                          "a"};
    uint64_t r = 0x9E3779B97F4A7C15ULL;
    char hay[64];
    for (int round = 0; round < 20000; round++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t n = r % sizeof(hay);
        for (size_t i = 0; i < n; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            hay[i] = alphabet[r % (sizeof(alphabet) - 1)];
        }
        hay[n] = 0;
        const char *needle = needles[round % (sizeof(needles) / sizeof(needles[0]))];
        /* now and then the needle itself, its case changed, somewhere in hay */
        size_t nl = strlen(needle);
        if (round % 3 == 0 && nl < sizeof(hay) - 1 && nl <= n) {
            size_t at = (r >> 20) % (n - nl + 1);
            for (size_t i = 0; i < nl; i++)
                hay[at + i] = (char)((r >> i) & 1 && needle[i] >= 'a' && needle[i] <= 'z' ? needle[i] - 32 : needle[i]);
        }
        assert_ptr_equal(str_find_nocase(hay, needle), strcasestr(hay, needle));
    }
    assert_ptr_equal(str_find_nocase("", "a"), NULL);
    const char *h = "x -INFILE";
    assert_ptr_equal(str_find_nocase(h, "-infile"), h + 2);
}

/* strmap_upsert against a put followed by strmap_key and strmap_value (the
 * two look-ups it saves): the same values, the same stored key, added just
 * for new keys, across the map's growth; keys with NUL bytes and empty. */
static void test_strmap_upsert(void **state)
{
    (void)state;
    struct strmap fast, slow;
    strmap_init(&fast);
    strmap_init(&slow);
    uint64_t r = 88172645463325252ULL;
    char key[24];
    for (uint32_t i = 0; i < 5000; i++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t len = (size_t)(r % 12);
        for (size_t k = 0; k < len; k++)
            key[k] = (char)((r >> (8 + k * 3)) % 5); /* few distinct keys: most puts find one */
        bool added;
        uint32_t had = 0;
        bool known = strmap_get(&slow, key, len, &had);
        struct strmap_slot *s = strmap_upsert(&fast, key, len, i, &added);
        uint32_t want = strmap_put(&slow, key, len, i);
        assert_int_equal(added, !known);
        assert_int_equal(s->value, want);
        assert_int_equal(s->len, len);
        assert_memory_equal(s->key, key, len);
        assert_int_equal(s->key[len], 0);
        assert_ptr_equal(s->key, strmap_key(&fast, key, len));
        assert_ptr_equal(&s->value, strmap_value(&fast, key, len));
        if (i % 7 == 0) { /* written in place, as note_host does */
            s->value = i;
            *strmap_value(&slow, key, len) = i;
        }
    }
    assert_int_equal(fast.count, slow.count);
    strmap_free(&fast);
    strmap_free(&slow);
}

/* ascii_lower_table is tolower in the C locale (stoat sets no other),
 * byte for byte: the keys that moved from tolower to the table (session
 * ids, Windows paths) hash as before. */
static void test_lower_table_as_tolower(void **state)
{
    (void)state;
    for (int c = 0; c < 256; c++)
        assert_int_equal(ascii_lower_table[c], (unsigned char)tolower(c));
}

/* copy_short writes exactly n bytes at every length and offset: its
 * overlapping loads and stores change at 4, 8, 16, 32 and 64 bytes. */
static void test_copy_short_exact(void **state)
{
    (void)state;
    char src[160], dst[176];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)(i * 7 + 1);
    for (size_t n = 0; n <= 130; n++)
        for (size_t at = 0; at < 3; at++) {
            memset(dst, 0x5A, sizeof(dst));
            copy_short(dst + 8 + at, src + at, n);
            for (size_t i = 0; i < sizeof(dst); i++) {
                bool inside = i >= 8 + at && i < 8 + at + n;
                assert_int_equal((unsigned char)dst[i], inside ? (unsigned char)src[i - 8] : 0x5A);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_ascii),
        cmocka_unit_test(test_copy_short_exact),
        cmocka_unit_test(test_fold_latin1),
        cmocka_unit_test(test_fold_latin_ext_a),
        cmocka_unit_test(test_fold_greek_cyrillic),
        cmocka_unit_test(test_fold_leaves_the_rest),
        cmocka_unit_test(test_fold_long_values),
        cmocka_unit_test(test_find_bytes),
        cmocka_unit_test(test_hash_bytes_tail),
        cmocka_unit_test(test_bytes_equal),
        cmocka_unit_test(test_utf8_valid_prefix),
        cmocka_unit_test(test_parse_number),
        cmocka_unit_test(test_parse_int64),
        cmocka_unit_test(test_parse_timestamp),
        cmocka_unit_test(test_timestamp_to_ns_and_format),
        cmocka_unit_test(test_iso_week),
        cmocka_unit_test(test_time_rfc3339),
        cmocka_unit_test(test_time_rfc3339_one_pass),
        cmocka_unit_test(test_ascii_lower_copy),
        cmocka_unit_test(test_glob_simple),
        cmocka_unit_test(test_json_escape_every_position),
        cmocka_unit_test(test_json_escape_dense),
        cmocka_unit_test(test_json_escape_paths),
        cmocka_unit_test(test_visible_escapes),
        cmocka_unit_test(test_find_nocase),
        cmocka_unit_test(test_strmap_upsert),
        cmocka_unit_test(test_lower_table_as_tolower),
    };
    return cmocka_run_group_tests_name("text", tests, NULL, NULL);
}
