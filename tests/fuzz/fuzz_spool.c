/* Fuzz harness for the spool's bytes on disk: a segment file is what an
 * earlier run (or a crash, a full disk, a stranger with write access to the
 * folder) left behind. The input is decoded as one record (spool_decode),
 * then written as a segment (the first 16 bytes its header, "STOATSPL..."
 * forced in when the input lacks it half the time) in a fresh folder, which
 * spool_open takes over and spool_next drains, settling every batch. Any
 * crash, leak or sanitizer report is a bug. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bus/spool.h"

static char dir[64];

static void quiet(void *ctx, enum stoat_severity sev, const char *msg)
{
    (void)ctx;
    (void)sev;
    (void)msg;
}

static void wipe(void)
{
    char path[128];
    static const char *const names[] = {"seg-0000000000000001.spool", "seg-0000000000000002.spool", "lock"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* memory-backed when there is one: the spool syncs its files */
    snprintf(dir, sizeof dir, "%s/stoat-fuzz-spool.%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             (int)getpid());
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct spool_rec r;
    char why[128];
    (void)spool_decode(data, size, &r, why, sizeof why);

    wipe();
    rmdir(dir);
    struct spool *s = NULL;
    struct spool_opts o = {.dir = dir, .max_bytes = 1u << 20, .diag = quiet};
    if (spool_open(&o, &s, why, sizeof why) != STOAT_OK)
        return 0;
    spool_close(s);
    s = NULL;
    char path[128];
    snprintf(path, sizeof path, "%s/seg-0000000000000001.spool", dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0)
        return 0;
    bool force = size && (data[0] & 1);
    if (force && write(fd, "STOATSPL\0\0\0\0\0\0\0\0", 16) != 16)
        abort();
    if (size && write(fd, data, size) != (ssize_t)size)
        abort();
    close(fd);
    if (spool_open(&o, &s, why, sizeof why) == STOAT_OK) {
        struct buf store = {0};
        struct spool_item it;
        for (int k = 0; k < 100000 && spool_next(s, &it, &store) == 1; k++) {
            if (it.rec.host_len > SPOOL_HOST_MAX || !it.rec.id_len || it.rec.count == 0)
                abort(); /* decode let through a record it must refuse */
            spool_done(s, it.segment);
        }
        /* a live append after the takeover, past the found segment */
        struct spool_rec w = {.kind = BUS_KIND_EVENTS,
                              .count = 1,
                              .host = "h",
                              .host_len = 1,
                              .id = "h:1:1",
                              .id_len = 5,
                              .payload = "{}\n",
                              .len = 3};
        (void)spool_append(s, &w);
        buf_free(&store);
        spool_close(s);
    }
    wipe();
    return 0;
}
