/* Fuzz harness for rule bundles as a host reads them from KV stoat_rules
 * (whoever may write the bucket is a stranger to the host): the input's
 * first line is the `current` key (bus_rules_head), the rest the unpacked
 * bundle (bus_rules_unpack writes its entries under a fresh folder, which
 * must hold nothing outside it afterwards; the folder is wiped after each
 * input). The same bytes zlib-compressed and cut in chunks, as `stoat fleet
 * rules push` writes them, are checked by the fetch before any of this. Any
 * crash, leak, sanitizer report or a file written outside is a bug. */
#define _XOPEN_SOURCE 700
#include <dirent.h>
#include <ftw.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "bus/rules.h"

static char top[64], dir[80];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* memory-backed when there is one: every input writes files */
    snprintf(top, sizeof top, "%s/stoat-fuzz-bundle.%d", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp",
             (int)getpid());
    snprintf(dir, sizeof dir, "%s/in", top);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    size_t head = nl ? (size_t)(nl - p) : size;
    struct bus_bundle_head h;
    char why[256];
    if (bus_rules_head(p, head, &h, why, sizeof why)) {
        if (strlen(h.version) < 8 || strlen(h.sha256) < 64 || !h.chunks || !h.bytes || h.bytes > BUS_BUNDLE_MAX)
            abort();
    }
    if (!nl)
        return 0;
    nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    if (mkdir(top, 0700) != 0)
        return 0;
    (void)bus_rules_unpack(dir, nl + 1, size - head - 1, why, sizeof why);
    /* nothing but the folder "in" may be in top */
    DIR *d = opendir(top);
    for (struct dirent *e; d && (e = readdir(d));)
        if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..") && strcmp(e->d_name, "in"))
            abort();
    if (d)
        closedir(d);
    nftw(top, rm_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}
