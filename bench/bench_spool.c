/* The spool's own rates (src/bus/spool.c), without the network: batches of
 * realistic size appended until the spool holds BENCH_SPOOL_MB, then read
 * back and settled, oldest first, as the publisher drains it. Prints
 *   spool write: N events/s (M MB/s), B batches of E events
 *   spool drain: N events/s (M MB/s)
 * The folder is a temp folder on the disk the spool would use (TMPDIR). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/spool.h"

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(void)
{
    const char *mb_s = getenv("BENCH_SPOOL_MB");
    size_t mb = mb_s ? (size_t)atoi(mb_s) : 256;
    char dir[256];
    snprintf(dir, sizeof dir, "%s/stoat-bench-spool-XXXXXX", getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir))
        return 1;
    /* a batch as the publisher seals it: 250 event lines of about 1 KiB (256 KiB) */
    enum {
        EVENTS = 250,
        LINE = 1040
    };
    char *payload = malloc((size_t)EVENTS * LINE);
    for (size_t i = 0; i < (size_t)EVENTS * LINE; i++)
        payload[i] = (i + 1) % LINE == 0 ? '\n' : (char)('a' + i % 23);
    struct spool_opts o = {.dir = dir, .max_bytes = (uint64_t)(mb + 64) << 20};
    struct spool *s = NULL;
    char why[256];
    if (spool_open(&o, &s, why, sizeof why) != STOAT_OK) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    size_t batches = (mb << 20) / ((size_t)EVENTS * LINE);
    double t0 = now();
    for (size_t b = 0; b < batches; b++) {
        char id[64];
        int il = snprintf(id, sizeof id, "bench:0123456789abcdef:%zu", b + 1);
        struct spool_rec r = {.kind = BUS_KIND_EVENTS,
                              .count = EVENTS,
                              .sealed_ns = 1,
                              .host = "bench",
                              .host_len = 5,
                              .id = id,
                              .id_len = (size_t)il,
                              .payload = payload,
                              .len = (size_t)EVENTS * LINE};
        spool_append(s, &r);
    }
    spool_close(s); /* the sync at the end is part of writing */
    double t1 = now();
    if (spool_open(&o, &s, why, sizeof why) != STOAT_OK) {
        fprintf(stderr, "%s\n", why);
        return 1;
    }
    struct buf store = {0};
    struct spool_item it;
    size_t got = 0;
    double t2 = now();
    while (spool_next(s, &it, &store)) {
        got += it.rec.count;
        spool_done(s, it.segment);
    }
    double t3 = now();
    double bytes = (double)batches * EVENTS * LINE / 1e6;
    printf("spool write: %.0f events/s (%.0f MB/s), %zu batches of %d events\n", (double)batches * EVENTS / (t1 - t0),
           bytes / (t1 - t0), batches, EVENTS);
    printf("spool drain: %.0f events/s (%.0f MB/s) read back and settled (%zu events; the publisher's\n"
           "             --spool-rate, default 5000/s, is what limits it on the wire)\n",
           (double)got / (t3 - t2), bytes / (t3 - t2), got);
    spool_close(s);
    buf_free(&store);
    free(payload);
    rmdir(dir);
    return got == batches * EVENTS ? 0 : 1;
}
