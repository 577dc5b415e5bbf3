/* The text readers' fill says which unit holds a file's end (FILL_LAST):
 * a file that fits one unit goes out as one, not as its bytes and then an
 * empty unit, which doubled the hand-overs between threads on a folder of
 * small files; a larger one goes out as units whose last says so, with no
 * empty unit after it. (The EVTX reader's part is in test_evtx.c.) */
#include "testutil.h"

#include "readers/reader.h"

#include <zlib.h>

#define MAX_FILLS 64

struct fills {
    enum fill_result r[MAX_FILLS];
    size_t n;
    uint64_t bytes; /* what the units hold: their lengths, or their ranges */
    bool noted;     /* a unit had a note (a complaint) */
    uint64_t skipped;
};

/* Fills units from the file at path with reader ops, as the reading thread
 * does: until a result other than FILL_MORE. */
static void fill_all(const struct reader_ops *ops, const char *path, struct fills *out)
{
    char why[256];
    memset(out, 0, sizeof(*out));
    struct input *in = input_open(path, why, sizeof why);
    assert_non_null(in);
    struct input_file f = {.name = path, .reader = ops};
    assert_int_equal(ops->open(&f, in, why, sizeof why), 0);
    struct unit u;
    memset(&u, 0, sizeof u);
    enum fill_result r;
    do {
        assert_true(out->n < MAX_FILLS);
        u.len = 0;
        u.range_len = 0;
        r = ops->fill(&f, in, &u, why, sizeof why);
        out->r[out->n++] = r;
        out->bytes += u.range_len ? u.range_len : u.len;
        out->noted |= u.note[0] != 0;
        out->skipped += u.skipped;
        u.note[0] = 0;
        u.skipped = 0;
    } while (r == FILL_MORE);
    ops->close(&f);
    if (ops->release)
        ops->release(&f);
    input_close(in);
    free(u.data);
}

static void assert_ends_last(const struct fills *f, size_t units)
{
    assert_false(f->noted);
    assert_int_equal(f->skipped, 0);
    assert_int_equal(f->n, units);
    for (size_t i = 0; i + 1 < f->n; i++)
        assert_int_equal(f->r[i], FILL_MORE);
    assert_int_equal(f->r[f->n - 1], FILL_LAST);
}

/* fill_all of text s written to a temporary file ending in suffix. */
static void fill_text(const struct reader_ops *ops, const struct tu_str *s, const char *suffix, struct fills *out)
{
    char path[256];
    tu_write_temp(s->p, s->len, suffix, path, sizeof path);
    fill_all(ops, path, out);
    unlink(path);
}

/* JSON lines in a plain file: byte ranges the workers read. */
static void test_json_lines_ranges(void **state)
{
    (void)state;
    struct tu_str s = {0};
    for (int i = 0; i < 3; i++)
        tu_str_printf(&s, "{\"EventID\":1,\"n\":%d}\n", i);
    struct fills f;
    fill_text(&reader_json, &s, ".jsonl", &f);
    assert_ends_last(&f, 1);
    assert_int_equal(f.bytes, s.len);

    /* more than two ranges' worth (a range is 256 KiB) */
    while (s.len < (600u << 10))
        tu_str_printf(&s, "{\"EventID\":1,\"CommandLine\":\"a line of some length, %zu\"}\n", s.len);
    fill_text(&reader_json, &s, ".jsonl", &f);
    assert_ends_last(&f, 3);
    assert_int_equal(f.bytes, s.len);
    tu_str_free(&s);
}

/* A JSON array is read in order by the reading thread, a unit of 1 MiB at
 * a time, records whole. */
static void test_json_streamed(void **state)
{
    (void)state;
    struct tu_str s = {0};
    tu_str_puts(&s, "[\n  {\"EventID\": 1, \"n\": 0},\n  {\"EventID\": 1, \"n\": 1}\n]\n");
    struct fills f;
    fill_text(&reader_json, &s, ".json", &f);
    assert_ends_last(&f, 1);
    assert_int_equal(f.bytes, s.len);

    tu_str_free(&s);
    tu_str_puts(&s, "[\n");
    for (int i = 0; s.len < (5u << 19); i++)
        tu_str_printf(&s, "%s  {\"EventID\": 1, \"CommandLine\": \"a record of the array, %d\"}\n", i ? "," : "", i);
    tu_str_puts(&s, "]\n");
    fill_text(&reader_json, &s, ".json", &f);
    assert_ends_last(&f, 3);
    assert_int_equal(f.bytes, s.len);
    tu_str_free(&s);
}

/* A file of no bytes is the end at once (it was read as a record longer
 * than the cap, and a 16 MiB block grown for it); one of a blank line is
 * one unit, its last. */
static void test_empty_files(void **state)
{
    (void)state;
    struct tu_str s = {0};
    struct fills f;
    fill_text(&reader_json, &s, ".jsonl", &f);
    assert_int_equal(f.n, 1);
    assert_int_equal(f.r[0], FILL_END);
    assert_false(f.noted);
    assert_int_equal(f.skipped, 0);
    tu_str_puts(&s, "\n");
    fill_text(&reader_json, &s, ".jsonl", &f);
    assert_ends_last(&f, 1);
    assert_int_equal(f.bytes, 1);
    tu_str_free(&s);
}

/* A compressed stream of JSON lines of exactly a unit's bytes (1 MiB), the
 * last line ending it: the unit is full before the stream's end is seen,
 * so the call after finds nothing left. It reported a record longer than
 * 16 MiB there, and counted it skipped. */
static void test_stream_ends_on_a_cut(void **state)
{
    (void)state;
    struct tu_str s = {0};
    const size_t whole = UNIT_BYTES;
    while (s.len < whole - 200)
        tu_str_printf(&s, "{\"EventID\":1,\"n\":%zu}\n", s.len);
    size_t pad = whole - s.len - sizeof("{\"EventID\":1,\"pad\":\"\"}\n") + 1;
    tu_str_puts(&s, "{\"EventID\":1,\"pad\":\"");
    for (size_t i = 0; i < pad; i++)
        tu_str_puts(&s, "x");
    tu_str_puts(&s, "\"}\n");
    assert_int_equal(s.len, whole);
    char path[] = "/tmp/stoat-test-XXXXXX.jsonl.gz";
    int fd = mkstemps(path, 9);
    assert_true(fd >= 0);
    gzFile gz = gzdopen(fd, "wb");
    assert_non_null(gz);
    assert_int_equal(gzwrite(gz, s.p, (unsigned)s.len), (int)s.len);
    assert_int_equal(gzclose(gz), Z_OK);
    struct fills f;
    fill_all(&reader_json, path, &f);
    assert_false(f.noted);
    assert_int_equal(f.skipped, 0);
    assert_int_equal(f.bytes, whole);
    assert_int_equal(f.n, 2); /* the MiB, then the end (a stream's end is known only once read) */
    assert_int_equal(f.r[0], FILL_MORE);
    assert_int_equal(f.r[1], FILL_END);
    unlink(path);
    tu_str_free(&s);
}

/* auditd joins an event's records across lines: its last unit has every
 * event still open, and nothing follows it. */
static void test_auditd(void **state)
{
    (void)state;
    struct tu_str s = {0};
    for (int i = 0; i < 3; i++)
        tu_str_printf(&s,
                      "type=SYSCALL msg=audit(1700000000.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 "
                      "pid=%d comm=\"id\" exe=\"/usr/bin/id\"\n"
                      "type=EXECVE msg=audit(1700000000.%03d:%d): argc=1 a0=\"id\"\n",
                      i, 100 + i, 4000 + i, i, 100 + i);
    struct fills f;
    fill_text(&reader_auditd, &s, ".log", &f);
    assert_ends_last(&f, 1);
    assert_true(f.bytes > 0);
    tu_str_free(&s);
}

/* Sysmon for Linux: lines of XML events, cut at a line's end. */
static void test_sysmon_linux(void **state)
{
    (void)state;
    struct tu_str s = {0};
    for (int i = 0; i < 3; i++)
        tu_str_printf(&s,
                      "<Event><System><Provider Name=\"Linux-Sysmon\"/><EventID>1</EventID>"
                      "<Channel>Linux-Sysmon/Operational</Channel><Computer>h%d</Computer></System>"
                      "<EventData><Data Name=\"Image\">/usr/bin/id</Data></EventData></Event>\n",
                      i);
    struct fills f;
    fill_text(&reader_sysmon_linux, &s, ".log", &f);
    assert_ends_last(&f, 1);
    assert_int_equal(f.bytes, s.len);
    tu_str_free(&s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines_ranges),
        cmocka_unit_test(test_json_streamed),
        cmocka_unit_test(test_empty_files),
        cmocka_unit_test(test_stream_ends_on_a_cut),
        cmocka_unit_test(test_auditd),
        cmocka_unit_test(test_sysmon_linux),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
