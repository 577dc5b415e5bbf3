/* Rule bundles in KV stoat_rules: the pushing side (fetching and checking
 * is the bus's, src/bus/rules.h, shared with `stoat watch --publish`).
 *
 * A bundle is every rule file given, as entries "<name>\n<length>\n<bytes>"
 * (name: the file's path below the folder given, '/' separated, no "..";
 * length in decimal), zlib-compressed and cut into chunks of at most 512
 * KiB (a KV value is a message: 1 MiB at most) under bundle.<version>.<n>.
 * Only once every chunk is stored does "current" name the version, with
 * the SHA-256 of the compressed bytes and the chunk count, so a reader
 * never sees half a bundle, and checks what it put together. The version
 * is the first 16 hex digits of that hash: the same rules give the same
 * version, pushed again or not.
 *
 * The reader (stoat_bus_rules_fetch) treats a bundle as hostile input: sizes
 * capped, names checked before a file is written, a bundle whose hash does
 * not match refused whole. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zlib.h>

#include "fleet/fleet.h"
#include "rules/cache.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"

struct pack {
    struct buf raw;
    const char *root;
    size_t rootlen;
    char why[256];
    bool failed;
};

static bool rule_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && !strcmp(name + n - 4, ".yml")) || (n > 5 && !strcmp(name + n - 5, ".yaml"));
}

static int pack_file(void *ctx, const char *path)
{
    struct pack *p = ctx;
    char *data = NULL;
    size_t len = 0;
    if (fs_read_file(path, FLEET_BUNDLE_MAX, &data, &len, p->why, sizeof(p->why)) != 0) {
        p->failed = true;
        return 0;
    }
    const char *rel = path;
    if (!strncmp(path, p->root, p->rootlen) && path[p->rootlen] == '/')
        rel = path + p->rootlen + 1;
    while (*rel == '/')
        rel++;
    buf_printf(&p->raw, "%s\n%zu\n", rel, len);
    buf_put(&p->raw, data, len);
    free(data);
    if (p->raw.len > FLEET_BUNDLE_MAX) {
        snprintf(p->why, sizeof(p->why), "fleet: the rules are over %u MiB", FLEET_BUNDLE_MAX >> 20);
        p->failed = true;
    }
    return 0;
}

static void pack_err(void *ctx, const char *path, const char *why)
{
    struct pack *p = ctx;
    snprintf(p->why, sizeof(p->why), "%s: %s", path, why);
    p->failed = true;
}

static stoat_err kv_open(struct stoat_bus_conn *c, kvStore **kv, char *why, size_t whylen)
{
    natsStatus s = js_KeyValue(kv, stoat_bus_js(c), STOAT_BUS_KV_RULES);
    if (s != NATS_OK) {
        snprintf(why, whylen, "fleet: bucket %s: %s (has `stoat fleet setup` run?)", STOAT_BUS_KV_RULES,
                 natsStatus_GetText(s));
        return STOAT_ERR_IO;
    }
    return STOAT_OK;
}

static void hex(const unsigned char *h, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++)
        sprintf(out + 2 * i, "%02x", h[i]);
}

stoat_err stoat_fleet_bundle_push(struct stoat_bus_conn *c, const char *const *paths, size_t n, char *version,
                                  size_t vlen, char *why, size_t whylen)
{
    struct pack p = {0};
    kvStore *kv = NULL;
    unsigned char *z = NULL;
    stoat_err err = STOAT_ERR_IO;
    for (size_t i = 0; i < n && !p.failed; i++) {
        char *root = xstrdup(paths[i]);
        size_t rl = strlen(root);
        while (rl > 1 && root[rl - 1] == '/')
            root[--rl] = 0;
        p.root = root;
        p.rootlen = fs_is_dir(root) ? rl : 0;
        fs_walk(root, rule_name, pack_file, pack_err, &p);
        free(root);
    }
    if (p.failed || !p.raw.len) {
        snprintf(why, whylen, "%s", p.failed ? p.why : "fleet: no rule files (.yml, .yaml) in what was given");
        err = STOAT_ERR_INPUT;
        goto out;
    }
    uLongf zlen = compressBound(p.raw.len);
    z = xmalloc(zlen);
    if (compress2(z, &zlen, (const Bytef *)p.raw.p, p.raw.len, 9) != Z_OK) {
        snprintf(why, whylen, "fleet: cannot compress the bundle");
        goto out;
    }
    uint8_t h[RC_KEY_LEN];
    rulecache_sha256(z, zlen, h);
    char sha[2 * RC_KEY_LEN + 1];
    hex(h, sizeof(h), sha);
    snprintf(version, vlen, "%.16s", sha);
    if ((err = kv_open(c, &kv, why, whylen)) != STOAT_OK)
        goto out;
    size_t chunks = (zlen + FLEET_BUNDLE_CHUNK - 1) / FLEET_BUNDLE_CHUNK;
    char key[96];
    uint64_t rev = 0;
    for (size_t k = 0; k < chunks; k++) {
        size_t off = k * FLEET_BUNDLE_CHUNK, len = zlen - off < FLEET_BUNDLE_CHUNK ? zlen - off : FLEET_BUNDLE_CHUNK;
        snprintf(key, sizeof(key), "bundle.%.16s.%zu", sha, k);
        natsStatus s = kvStore_Put(&rev, kv, key, z + off, (int)len);
        if (s != NATS_OK) {
            snprintf(why, whylen, "fleet: storing %s: %s", key, natsStatus_GetText(s));
            err = STOAT_ERR_IO;
            goto out;
        }
    }
    struct buf cur = {0};
    buf_printf(&cur, "{\"version\":\"%.16s\",\"sha256\":\"%s\",\"chunks\":%zu,\"bytes\":%zu,\"pushed\":%lld}", sha, sha,
               chunks, p.raw.len, (long long)time(NULL));
    natsStatus s = kvStore_PutString(&rev, kv, "current", cur.p);
    buf_free(&cur);
    if (s != NATS_OK) {
        snprintf(why, whylen, "fleet: storing current: %s", natsStatus_GetText(s));
        err = STOAT_ERR_IO;
        goto out;
    }
    err = STOAT_OK;
out:
    free(z);
    buf_free(&p.raw);
    kvStore_Destroy(kv);
    return err;
}
