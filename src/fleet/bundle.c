/* Rule bundles in KV stoat_rules.
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
 * Reading is hostile-input code: a bundle is only as trusted as whoever
 * may write the bucket, so sizes are capped (FLEET_BUNDLE_MAX unpacked),
 * names are checked before a file is written, and a bundle whose hash does
 * not match is refused whole. */
#include <errno.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <zlib.h>

#include "fleet/fleet.h"
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

static stoat_err kv_open(struct bus_conn *c, kvStore **kv, char *why, size_t whylen)
{
    natsStatus s = js_KeyValue(kv, bus_js(c), BUS_KV_RULES);
    if (s != NATS_OK) {
        snprintf(why, whylen, "fleet: bucket %s: %s (has `stoat fleet setup` run?)", BUS_KV_RULES,
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

stoat_err fleet_bundle_push(struct bus_conn *c, const char *const *paths, size_t n, char *version, size_t vlen,
                            char *why, size_t whylen)
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
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256(z, zlen, h);
    char sha[2 * SHA256_DIGEST_LENGTH + 1];
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
    buf_printf(&cur, "{\"version\":\"%.16s\",\"sha256\":\"%s\",\"chunks\":%zu,\"bytes\":%zu,\"pushed\":%lld}", sha,
               sha, chunks, p.raw.len, (long long)time(NULL));
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

/* A string or number member of the small "current" object (ours, but read
 * as a stranger's). */
static bool member(const char *json, const char *name, char *out, size_t outlen)
{
    char pat[40];
    snprintf(pat, sizeof(pat), "\"%s\":", name);
    const char *p = strstr(json, pat);
    if (!p)
        return false;
    p += strlen(pat);
    bool quoted = *p == '"';
    p += quoted;
    size_t n = 0;
    while (p[n] && n + 1 < outlen && (quoted ? p[n] != '"' : (p[n] >= '0' && p[n] <= '9')))
        n++;
    if (!n || (quoted && p[n] != '"'))
        return false;
    memcpy(out, p, n);
    out[n] = 0;
    return true;
}

static bool safe_name(const char *name, size_t n)
{
    if (!n || n > 4096 || name[0] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name[i] || name[i] == '\n')
            return false;
        if (name[i] == '.' && name[i + 1] == '.' && (i == 0 || name[i - 1] == '/') &&
            (i + 2 == n || name[i + 2] == '/'))
            return false;
    }
    return true;
}

/* Writes the entries of raw under dir. */
static stoat_err unpack(const char *dir, const char *raw, size_t n, char *why, size_t whylen)
{
    size_t off = 0;
    while (off < n) {
        const char *nl = memchr(raw + off, '\n', n - off);
        if (!nl)
            goto bad;
        size_t namelen = (size_t)(nl - (raw + off));
        if (!safe_name(raw + off, namelen))
            goto bad;
        char *name = xmalloc(namelen + 1);
        memcpy(name, raw + off, namelen);
        name[namelen] = 0;
        off += namelen + 1;
        char *end = NULL;
        unsigned long long len = strtoull(raw + off, &end, 10);
        if (end == raw + off || *end != '\n' || len > n - (size_t)(end + 1 - raw)) {
            free(name);
            goto bad;
        }
        off = (size_t)(end + 1 - raw);
        char *path = fs_join(dir, name);
        free(name);
        for (char *s = path + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
            *s = 0;
            mkdir(path, 0700);
            *s = '/';
        }
        FILE *f = fopen(path, "wbx");
        bool ok = f && fwrite(raw + off, 1, len, f) == len;
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok) {
            snprintf(why, whylen, "fleet: cannot write %s: %s", path, strerror(errno));
            free(path);
            return STOAT_ERR_IO;
        }
        free(path);
        off += len;
    }
    return STOAT_OK;
bad:
    snprintf(why, whylen, "fleet: the rule bundle is damaged at byte %zu; not loaded", off);
    return STOAT_ERR_FORMAT;
}

stoat_err fleet_bundle_fetch(struct bus_conn *c, const char *dir, char *version, size_t vlen, char *why,
                             size_t whylen)
{
    version[0] = 0;
    kvStore *kv = NULL;
    kvEntry *e = NULL;
    struct buf z = {0};
    char *raw = NULL;
    stoat_err err = kv_open(c, &kv, why, whylen);
    if (err != STOAT_OK)
        return err;
    natsStatus s = kvStore_Get(&e, kv, "current");
    if (s == NATS_NOT_FOUND) {
        err = STOAT_OK;   /* no bundle pushed yet */
        goto out;
    }
    char ver[32], sha[80], chunks_s[16], bytes_s[24];
    const char *cur = s == NATS_OK ? kvEntry_ValueString(e) : NULL;
    err = STOAT_ERR_FORMAT;
    if (!cur || !member(cur, "version", ver, sizeof(ver)) || !member(cur, "sha256", sha, sizeof(sha)) ||
        !member(cur, "chunks", chunks_s, sizeof(chunks_s)) || !member(cur, "bytes", bytes_s, sizeof(bytes_s))) {
        snprintf(why, whylen, "fleet: %s current is not a rule bundle's", BUS_KV_RULES);
        goto out;
    }
    snprintf(version, vlen, "%s", ver);
    if (!dir) {
        err = STOAT_OK;
        goto out;
    }
    unsigned long chunks = strtoul(chunks_s, NULL, 10), bytes = strtoul(bytes_s, NULL, 10);
    if (!chunks || chunks > FLEET_BUNDLE_MAX / FLEET_BUNDLE_CHUNK + 1 || bytes > FLEET_BUNDLE_MAX) {
        snprintf(why, whylen, "fleet: rule bundle %s: %lu chunks, %lu bytes: over the caps", ver, chunks, bytes);
        goto out;
    }
    for (unsigned long k = 0; k < chunks; k++) {
        char key[96];
        snprintf(key, sizeof(key), "bundle.%s.%lu", ver, k);
        kvEntry *ce = NULL;
        if (kvStore_Get(&ce, kv, key) != NATS_OK) {
            snprintf(why, whylen, "fleet: rule bundle %s: chunk %lu missing", ver, k);
            goto out;
        }
        buf_put(&z, kvEntry_Value(ce), (size_t)kvEntry_ValueLen(ce));
        kvEntry_Destroy(ce);
    }
    unsigned char h[SHA256_DIGEST_LENGTH];
    char got[2 * SHA256_DIGEST_LENGTH + 1];
    SHA256((const unsigned char *)z.p, z.len, h);
    hex(h, sizeof(h), got);
    if (strcmp(got, sha)) {
        snprintf(why, whylen, "fleet: rule bundle %s: its SHA-256 does not match; not loaded", ver);
        goto out;
    }
    uLongf rawlen = bytes;
    raw = xmalloc(bytes + 1);
    if (uncompress((Bytef *)raw, &rawlen, (const Bytef *)z.p, z.len) != Z_OK || rawlen != bytes) {
        snprintf(why, whylen, "fleet: rule bundle %s does not decompress to its size; not loaded", ver);
        goto out;
    }
    err = unpack(dir, raw, rawlen, why, whylen);
out:
    free(raw);
    buf_free(&z);
    kvEntry_Destroy(e);
    kvStore_Destroy(kv);
    return err;
}
