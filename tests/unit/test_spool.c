/* src/bus/spool.c: batches come back in the order written with every field
 * intact, across a reopen; the cap drops the oldest and counts exactly what
 * it dropped; a damaged record is skipped and the next one found; the record
 * decoder refuses what does not check out. */
#include "testutil.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "bus/spool.h"

static char g_dir[64];
static unsigned g_warnings;

static void diag(void *ctx, enum stoat_severity sev, const char *msg)
{
    (void)ctx;
    (void)msg;
    if (sev != STOAT_SEV_NOTE)
        g_warnings++;
}

static int setup(void **state)
{
    (void)state;
    snprintf(g_dir, sizeof g_dir, "/tmp/stoat-spool-XXXXXX");
    assert_non_null(mkdtemp(g_dir));
    g_warnings = 0;
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char p[512];
    while (d && (e = readdir(d)))
        if (e->d_name[0] != '.') {
            snprintf(p, sizeof p, "%s/%s", g_dir, e->d_name);
            unlink(p);
        }
    if (d)
        closedir(d);
    rmdir(g_dir);
    return 0;
}

static struct spool *open_spool(uint64_t max, uint64_t seg)
{
    struct spool_opts o = {.dir = g_dir, .max_bytes = max, .segment_bytes = seg, .diag = diag};
    struct spool *s = NULL;
    char why[512];
    assert_int_equal(spool_open(&o, &s, why, sizeof why), STOAT_OK);
    return s;
}

/* Batch i: host "h<i%3>", id "h:run:<i>", count i+1, a payload of i-dependent length. */
static void append_batch(struct spool *s, unsigned i)
{
    char host[16], id[32], payload[2048];
    snprintf(host, sizeof host, "h%u", i % 3);
    snprintf(id, sizeof id, "h:run:%u", i);
    size_t len = 100 + (i * 37) % 1500;
    for (size_t k = 0; k < len; k++)
        payload[k] = (char)('a' + (i + k) % 26);
    struct spool_rec r = {.kind = (uint8_t)(i % 5 == 0 ? BUS_KIND_ALERTS : BUS_KIND_EVENTS),
                          .count = i + 1,
                          .sealed_ns = 1700000000000000000LL + i,
                          .host = host,
                          .host_len = strlen(host),
                          .id = id,
                          .id_len = strlen(id),
                          .payload = payload,
                          .len = len};
    assert_int_equal(spool_append(s, &r), STOAT_OK);
}

static void check_batch(const struct spool_item *it, unsigned i)
{
    char host[16], id[32];
    snprintf(host, sizeof host, "h%u", i % 3);
    snprintf(id, sizeof id, "h:run:%u", i);
    assert_int_equal(it->rec.count, i + 1);
    assert_int_equal(it->rec.kind, i % 5 == 0 ? BUS_KIND_ALERTS : BUS_KIND_EVENTS);
    assert_true(it->rec.sealed_ns == 1700000000000000000LL + i);
    assert_int_equal(it->rec.host_len, strlen(host));
    assert_memory_equal(it->rec.host, host, strlen(host));
    assert_int_equal(it->rec.id_len, strlen(id));
    assert_memory_equal(it->rec.id, id, strlen(id));
    size_t len = 100 + (i * 37) % 1500;
    assert_int_equal(it->rec.len, len);
    for (size_t k = 0; k < len; k++)
        assert_int_equal(it->rec.payload[k], (char)('a' + (i + k) % 26));
}

static unsigned segment_files(void)
{
    unsigned n = 0;
    DIR *d = opendir(g_dir);
    struct dirent *e;
    while ((e = readdir(d)))
        n += strncmp(e->d_name, "seg-", 4) == 0;
    closedir(d);
    return n;
}

static void test_order_and_reopen(void **state)
{
    (void)state;
    struct spool *s = open_spool(1 << 20, 64 << 10);
    for (unsigned i = 0; i < 200; i++)
        append_batch(s, i);
    struct stoat_bus_spool_stats st;
    spool_stats(s, &st);
    assert_int_equal(st.batches, 200);
    assert_int_equal(st.events, 200 * 201 / 2);
    assert_true(st.segments > 1);
    struct buf store = {0};
    struct spool_item it;
    /* read 100 (more than a segment), settle them */
    for (unsigned i = 0; i < 100; i++) {
        assert_int_equal(spool_next(s, &it, &store), 1);
        check_batch(&it, i);
        spool_done(s, it.segment);
    }
    spool_close(s);
    /* a new run finds the rest, from a segment boundary at the latest: the
     * settled batches of a segment not yet finished come again (the stream's
     * duplicate window drops them), none is missing */
    s = open_spool(1 << 20, 64 << 10);
    spool_stats(s, &st);
    assert_true(st.found_batches >= 100 && st.found_batches < 200);
    unsigned first = 200 - (unsigned)st.found_batches;
    assert_true(first <= 100);
    for (unsigned i = first; i < 200; i++) {
        assert_int_equal(spool_next(s, &it, &store), 1);
        check_batch(&it, i);
        spool_done(s, it.segment);
    }
    assert_int_equal(spool_next(s, &it, &store), 0);
    spool_stats(s, &st);
    assert_int_equal(st.batches, 0);
    assert_int_equal(st.events, 0);
    assert_int_equal(st.dropped_batches, 0);
    assert_int_equal(segment_files(), 0);
    assert_int_equal(st.bytes, 0);
    /* writing after it was emptied works and comes back */
    append_batch(s, 7);
    assert_int_equal(spool_next(s, &it, &store), 1);
    check_batch(&it, 7);
    /* not settled yet: the segment stays */
    assert_int_equal(segment_files(), 1);
    spool_done(s, it.segment);
    assert_int_equal(spool_next(s, &it, &store), 0);
    assert_int_equal(segment_files(), 0);
    spool_close(s);
    buf_free(&store);
    assert_int_equal(g_warnings, 0);
}

static void test_cap_counts_exactly(void **state)
{
    (void)state;
    uint64_t cap = 200 << 10;
    struct spool *s = open_spool(cap, 64 << 10);
    uint64_t in_batches = 0, in_events = 0;
    for (unsigned i = 0; i < 600; i++) {
        append_batch(s, i);
        in_batches++;
        in_events += i + 1;
    }
    struct stoat_bus_spool_stats st;
    spool_stats(s, &st);
    assert_true(st.bytes <= cap);
    assert_true(st.dropped_batches > 0);
    assert_true(g_warnings > 0);
    /* what is left plus what was dropped is what went in, and what is left
     * is the newest, in order */
    assert_int_equal(st.batches + st.dropped_batches, in_batches);
    assert_int_equal(st.events + st.dropped_events, in_events);
    struct buf store = {0};
    struct spool_item it;
    uint64_t got = 0, got_events = 0;
    unsigned first = (unsigned)st.dropped_batches;
    while (spool_next(s, &it, &store)) {
        check_batch(&it, first + (unsigned)got);
        got++;
        got_events += it.rec.count;
        spool_done(s, it.segment);
    }
    assert_int_equal(got, st.batches);
    assert_int_equal(got_events, st.events);
    /* a batch bigger than the whole cap is dropped and counted */
    spool_close(s);
    s = open_spool(64 << 10, 0);
    char *big = calloc(1, 70 << 10);
    assert_non_null(big);
    struct spool_rec r = {.kind = BUS_KIND_EVENTS,
                          .count = 9,
                          .host = "h",
                          .host_len = 1,
                          .id = "i",
                          .id_len = 1,
                          .payload = big,
                          .len = 70 << 10};
    assert_int_equal(spool_append(s, &r), STOAT_OK);
    spool_stats(s, &st);
    assert_int_equal(st.dropped_batches, 1);
    assert_int_equal(st.dropped_events, 9);
    assert_int_equal(st.batches, 0);
    free(big);
    spool_close(s);
    buf_free(&store);
}

static void test_damaged_record_skipped(void **state)
{
    (void)state;
    struct spool *s = open_spool(1 << 20, 1 << 20);
    for (unsigned i = 0; i < 5; i++)
        append_batch(s, i);
    spool_close(s);
    /* flip a byte in the third record's payload */
    DIR *d = opendir(g_dir);
    struct dirent *e;
    char path[512] = "";
    while ((e = readdir(d)))
        if (strncmp(e->d_name, "seg-", 4) == 0)
            snprintf(path, sizeof path, "%s/%s", g_dir, e->d_name);
    closedir(d);
    struct buf b = {0};
    /* records 0 and 1: 12 + 20 + host + id + payload bytes each */
    size_t off = 16;
    for (unsigned i = 0; i < 2; i++)
        off += 12 + 20 + 2 + (i < 10 ? 7 : 8) + 100 + (i * 37) % 1500;
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    char c;
    assert_int_equal(pread(fd, &c, 1, (off_t)(off + 50)), 1);
    c ^= 0x55;
    assert_int_equal(pwrite(fd, &c, 1, (off_t)(off + 50)), 1);
    close(fd);
    g_warnings = 0;
    s = open_spool(1 << 20, 1 << 20);
    struct stoat_bus_spool_stats st;
    spool_stats(s, &st);
    assert_int_equal(st.found_batches, 4);
    assert_int_equal(st.damaged, 1);
    assert_true(g_warnings >= 1);
    struct spool_item it;
    unsigned want[] = {0, 1, 3, 4};
    for (unsigned k = 0; k < 4; k++) {
        assert_int_equal(spool_next(s, &it, &b), 1);
        check_batch(&it, want[k]);
        spool_done(s, it.segment);
    }
    assert_int_equal(spool_next(s, &it, &b), 0);
    spool_close(s);
    buf_free(&b);
}

static void test_decode_refuses(void **state)
{
    (void)state;
    struct buf b = {0};
    struct spool_rec r = {.kind = BUS_KIND_EVENTS,
                          .count = 3,
                          .sealed_ns = 42,
                          .host = "fs01",
                          .host_len = 4,
                          .id = "fs01:ab:1",
                          .id_len = 9,
                          .payload = "{\"a\":1}\n",
                          .len = 8};
    spool_encode(&b, &r);
    struct spool_rec o;
    char why[128];
    assert_int_equal(spool_decode((unsigned char *)b.p, b.len, &o, why, sizeof why), (long)b.len);
    assert_int_equal(o.count, 3);
    assert_true(o.sealed_ns == 42);
    assert_memory_equal(o.payload, "{\"a\":1}\n", 8);
    /* every prefix is "need more", never a record or damage */
    for (size_t n = 0; n < b.len; n++)
        assert_int_equal(spool_decode((unsigned char *)b.p, n, &o, why, sizeof why), 0);
    /* every single flipped bit in the body is caught */
    for (size_t i = 12; i < b.len; i++) {
        b.p[i] ^= 1;
        assert_int_equal(spool_decode((unsigned char *)b.p, b.len, &o, why, sizeof why), -1);
        b.p[i] ^= 1;
    }
    /* a huge announced length is damage, not a wait */
    unsigned char bad[12] = {'S', 'R', 'E', 'C', 0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
    assert_int_equal(spool_decode(bad, sizeof bad, &o, why, sizeof why), -1);
    buf_free(&b);
}

static void test_lock(void **state)
{
    (void)state;
    struct spool *s = open_spool(1 << 20, 0);
    struct spool_opts o = {.dir = g_dir};
    struct spool *t = NULL;
    char why[512];
    assert_int_equal(spool_open(&o, &t, why, sizeof why), STOAT_ERR_IO);
    assert_null(t);
    assert_non_null(strstr(why, "in use"));
    spool_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_order_and_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_cap_counts_exactly, setup, teardown),
        cmocka_unit_test_setup_teardown(test_damaged_record_skipped, setup, teardown),
        cmocka_unit_test(test_decode_refuses),
        cmocka_unit_test_setup_teardown(test_lock, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
