/* What the hunting harnesses share: a fixed ruleset built once, and each
 * input hunted through a memfd (so the real file path and reader detection
 * are used), optionally behind a fixed first part that makes detection pick
 * the reader under test. */
#ifndef STOAT_FUZZ_HUNT_H
#define STOAT_FUZZ_HUNT_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "stoat/hunt.h"
#include "stoat/rules.h"
#include "stoat/sinks.h"

static void fuzz_quiet(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    (void)d;
}

static struct stoat_ruleset *fuzz_ruleset(const char *rules, size_t len)
{
    struct stoat_load_opts o = {.mapping_path = "data/mapping.yml", .diag = fuzz_quiet};
    struct stoat_loader *l;
    struct stoat_ruleset *rs;
    if (stoat_loader_create(&o, &l))
        abort();
    stoat_loader_add_text(l, "fuzz-rules.yml", rules, len);
    if (stoat_loader_build(l, &rs))
        abort();
    stoat_loader_destroy(l);
    return rs;
}

/* head (may be empty) then data, hunted with opts (its diag is set here);
 * alerts go to /dev/null through the JSON lines sink, or the dump sink when
 * dump is set. */
static void fuzz_hunt(const struct stoat_ruleset *rs, struct stoat_hunt_opts opts, bool dump, const char *head,
                      size_t head_len, const uint8_t *data, size_t size)
{
    int fd = memfd_create("fuzz-input", 0);
    if (fd < 0)
        return;
    if ((head_len && write(fd, head, head_len) != (ssize_t)head_len) ||
        (size && write(fd, data, size) != (ssize_t)size)) {
        close(fd);
        return;
    }
    char path[64];
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    FILE *out = fopen("/dev/null", "w");
    opts.diag = fuzz_quiet;
    struct stoat_hunt *h;
    stoat_hunt_create(rs, &opts, &h);
    struct stoat_sink s;
    if (dump)
        stoat_sink_dump(out, &s);
    else
        stoat_sink_jsonl(out, &s);
    stoat_hunt_add_sink(h, &s);
    const char *paths[1] = {path};
    stoat_hunt_run(h, paths, 1);
    stoat_hunt_destroy(h);
    fclose(out);
    close(fd);
}

#endif
