/* Rule bundles, the host's side (rules.h says why this shape). The watcher
 * thread keeps a nats.c key watcher on `current` alive across outages and a
 * missing bucket; the fetch reads and checks the bundle and writes its files.
 * Everything read from the bucket is hostile input: the bundle is only as
 * trusted as whoever may write the bucket. */
#include "bus/rules.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "rules/cache.h"
#include "util/buf.h"
#include "util/mem.h"

struct stoat_bus_rules_watch {
    struct stoat_bus_conn *conn;
    pthread_t thread;
    pthread_mutex_t mu;
    bool stop;
    char seen[STOAT_BUS_VERSION_MAX], given[STOAT_BUS_VERSION_MAX];
};

/* A string or number member of the small "current" object. */
static bool member(const char *json, size_t n, const char *name, char *out, size_t outlen)
{
    char pat[40];
    int pl = snprintf(pat, sizeof pat, "\"%s\":", name);
    const char *p = memmem(json, n, pat, (size_t)pl);
    if (!p)
        return false;
    p += pl;
    const char *end = json + n;
    bool quoted = p < end && *p == '"';
    p += quoted;
    size_t k = 0;
    while (p + k < end && k + 1 < outlen && (quoted ? p[k] != '"' && p[k] != '\\' : (p[k] >= '0' && p[k] <= '9')))
        k++;
    if (!k || (quoted && (p + k >= end || p[k] != '"')))
        return false;
    memcpy(out, p, k);
    out[k] = 0;
    return true;
}

static bool hex_word(const char *s, size_t min)
{
    size_t n = strlen(s);
    if (n < min)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
            return false;
    return true;
}

/* ------------------------------------------------------------ watching */

static void *watch_main(void *arg)
{
    struct stoat_bus_rules_watch *w = arg;
    kvStore *kv = NULL;
    kvWatcher *kw = NULL;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        bool stop = w->stop;
        pthread_mutex_unlock(&w->mu);
        if (stop)
            break;
        if (!kw) {
            if (bus_conn_state(w->conn) != STOAT_BUS_CONNECTED ||
                js_KeyValue(&kv, stoat_bus_js(w->conn), STOAT_BUS_KV_RULES) != NATS_OK ||
                kvStore_Watch(&kw, kv, "current", NULL) != NATS_OK) {
                kvStore_Destroy(kv);
                kv = NULL;
                kw = NULL;
                for (int i = 0; i < 20; i++) { /* 2 s, stoppable */
                    pthread_mutex_lock(&w->mu);
                    stop = w->stop;
                    pthread_mutex_unlock(&w->mu);
                    if (stop)
                        break;
                    usleep(100000);
                }
                continue;
            }
        }
        kvEntry *e = NULL;
        natsStatus s = kvWatcher_Next(&e, kw, 500);
        if (s == NATS_TIMEOUT)
            continue;
        if (s != NATS_OK) { /* the watcher is gone (closed, an outage): bind again */
            kvWatcher_Destroy(kw);
            kvStore_Destroy(kv);
            kw = NULL;
            kv = NULL;
            continue;
        }
        if (e && kvEntry_Operation(e) == kvOp_Put) {
            char v[STOAT_BUS_VERSION_MAX];
            const char *val = (const char *)kvEntry_Value(e);
            int len = kvEntry_ValueLen(e);
            if (val && len > 0 && member(val, (size_t)len, "version", v, sizeof v) && hex_word(v, 8)) {
                pthread_mutex_lock(&w->mu);
                snprintf(w->seen, sizeof w->seen, "%s", v);
                pthread_mutex_unlock(&w->mu);
            }
        }
        kvEntry_Destroy(e); /* NULL: the initial values are all delivered */
    }
    kvWatcher_Destroy(kw);
    kvStore_Destroy(kv);
    return NULL;
}

stoat_err stoat_bus_rules_watch_start(struct stoat_bus_conn *c, struct stoat_bus_rules_watch **out, char *why,
                                      size_t whylen)
{
    struct stoat_bus_rules_watch *w = xcalloc(1, sizeof *w);
    w->conn = c;
    pthread_mutex_init(&w->mu, NULL);
    if (pthread_create(&w->thread, NULL, watch_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        free(w);
        snprintf(why, whylen, "bus: cannot start the rules watcher");
        return STOAT_ERR_NOMEM;
    }
    *out = w;
    return STOAT_OK;
}

bool stoat_bus_rules_watch_changed(struct stoat_bus_rules_watch *w, char *out, size_t outlen)
{
    pthread_mutex_lock(&w->mu);
    bool changed = w->seen[0] && strcmp(w->seen, w->given) != 0;
    if (changed) {
        memcpy(w->given, w->seen, sizeof w->given);
        snprintf(out, outlen, "%s", w->seen);
    }
    pthread_mutex_unlock(&w->mu);
    return changed;
}

void stoat_bus_rules_watch_stop(struct stoat_bus_rules_watch *w)
{
    if (!w)
        return;
    pthread_mutex_lock(&w->mu);
    w->stop = true;
    pthread_mutex_unlock(&w->mu);
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    free(w);
}

/* ------------------------------------------------------------ fetching */

/* A relative path without "..", NUL or newline. */
static bool safe_name(const char *name, size_t n)
{
    if (!n || n > 4096 || name[0] == '/')
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!name[i] || name[i] == '\n')
            return false;
        if (name[i] == '.' && i + 1 < n && name[i + 1] == '.' && (i == 0 || name[i - 1] == '/') &&
            (i + 2 == n || name[i + 2] == '/'))
            return false;
    }
    return true;
}

stoat_err bus_rules_unpack(const char *dir, const char *raw, size_t n, char *why, size_t whylen)
{
    size_t off = 0;
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "bus: cannot make %s: %s", dir, strerror(errno));
        return STOAT_ERR_IO;
    }
    while (off < n) {
        const char *nl = memchr(raw + off, '\n', n - off);
        size_t namelen = nl ? (size_t)(nl - (raw + off)) : 0;
        if (!nl || !safe_name(raw + off, namelen))
            goto bad;
        const char *name = raw + off;
        off += namelen + 1;
        unsigned long long len = 0;
        size_t d = 0;
        while (off + d < n && raw[off + d] >= '0' && raw[off + d] <= '9' && d < 12)
            len = len * 10 + (unsigned long long)(raw[off + d++] - '0');
        if (!d || off + d >= n || raw[off + d] != '\n' || len > n - (off + d + 1))
            goto bad;
        off += d + 1;
        struct buf path = {0};
        buf_printf(&path, "%s/%.*s", dir, (int)namelen, name);
        for (char *s = path.p + strlen(dir) + 1; (s = strchr(s, '/')); s++) {
            *s = 0;
            mkdir(path.p, 0700);
            *s = '/';
        }
        FILE *f = fopen(path.p, "wbx");
        bool ok = f && fwrite(raw + off, 1, len, f) == len;
        if (f && fclose(f) != 0)
            ok = false;
        if (!ok) {
            snprintf(why, whylen, "bus: cannot write %s: %s", path.p, strerror(errno));
            buf_free(&path);
            return STOAT_ERR_IO;
        }
        buf_free(&path);
        off += len;
    }
    return STOAT_OK;
bad:
    snprintf(why, whylen, "bus: the rule bundle is damaged at byte %zu; not loaded", off);
    return STOAT_ERR_FORMAT;
}

bool bus_rules_head(const char *json, size_t n, struct bus_bundle_head *h, char *why, size_t whylen)
{
    char chunks_s[16], bytes_s[24];
    if (!member(json, n, "version", h->version, sizeof h->version) ||
        !member(json, n, "sha256", h->sha256, sizeof h->sha256) ||
        !member(json, n, "chunks", chunks_s, sizeof chunks_s) || !member(json, n, "bytes", bytes_s, sizeof bytes_s) ||
        !hex_word(h->version, 8) || !hex_word(h->sha256, 64)) {
        snprintf(why, whylen, "bus: %s current is not a rule bundle's", STOAT_BUS_KV_RULES);
        return false;
    }
    h->chunks = strtoul(chunks_s, NULL, 10);
    h->bytes = strtoul(bytes_s, NULL, 10);
    if (!h->chunks || h->chunks > BUS_BUNDLE_MAX / BUS_BUNDLE_CHUNK + 1 || !h->bytes || h->bytes > BUS_BUNDLE_MAX) {
        snprintf(why, whylen, "bus: rule bundle %s: %lu chunks, %lu bytes: over the caps", h->version, h->chunks,
                 h->bytes);
        return false;
    }
    return true;
}

static void sha256_hex(const void *p, size_t n, char out[65])
{
    uint8_t h[32];
    rulecache_sha256(p, n, h);
    for (unsigned i = 0; i < 32; i++)
        snprintf(out + 2 * i, 3, "%02x", h[i]);
}

stoat_err stoat_bus_rules_fetch(struct stoat_bus_conn *c, const char *dir, char *version, size_t vlen, char *why,
                                size_t whylen)
{
    version[0] = 0;
    kvStore *kv = NULL;
    kvEntry *e = NULL;
    struct buf z = {0};
    char *raw = NULL;
    stoat_err err = STOAT_ERR_IO;
    natsStatus s = js_KeyValue(&kv, stoat_bus_js(c), STOAT_BUS_KV_RULES);
    if (s != NATS_OK) {
        snprintf(why, whylen, "bus: bucket %s: %s", STOAT_BUS_KV_RULES, natsStatus_GetText(s));
        goto out;
    }
    s = kvStore_Get(&e, kv, "current");
    if (s == NATS_NOT_FOUND) {
        err = STOAT_OK; /* nothing pushed yet */
        goto out;
    }
    struct bus_bundle_head h;
    const char *cur = s == NATS_OK ? (const char *)kvEntry_Value(e) : NULL;
    size_t curlen = cur ? (size_t)kvEntry_ValueLen(e) : 0;
    err = STOAT_ERR_FORMAT;
    if (!cur) {
        snprintf(why, whylen, "bus: %s current: %s", STOAT_BUS_KV_RULES, natsStatus_GetText(s));
        goto out;
    }
    if (!bus_rules_head(cur, curlen, &h, why, whylen))
        goto out;
    const char *ver = h.version, *sha = h.sha256;
    unsigned long chunks = h.chunks, bytes = h.bytes;
    for (unsigned long k = 0; k < chunks; k++) {
        char key[96];
        snprintf(key, sizeof key, "bundle.%s.%lu", ver, k);
        kvEntry *ce = NULL;
        if (kvStore_Get(&ce, kv, key) != NATS_OK || z.len + (size_t)kvEntry_ValueLen(ce) > BUS_BUNDLE_MAX) {
            kvEntry_Destroy(ce);
            snprintf(why, whylen, "bus: rule bundle %s: chunk %lu missing or too big", ver, k);
            goto out;
        }
        buf_put(&z, kvEntry_Value(ce), (size_t)kvEntry_ValueLen(ce));
        kvEntry_Destroy(ce);
    }
    char got[65];
    sha256_hex(z.p, z.len, got);
    if (strcmp(got, sha) != 0) {
        snprintf(why, whylen, "bus: rule bundle %s: its SHA-256 does not match; not loaded", ver);
        goto out;
    }
    uLongf rawlen = bytes;
    raw = xmalloc(bytes + 1);
    if (uncompress((Bytef *)raw, &rawlen, (const Bytef *)z.p, z.len) != Z_OK || rawlen != bytes) {
        snprintf(why, whylen, "bus: rule bundle %s does not decompress to its size; not loaded", ver);
        goto out;
    }
    if ((err = bus_rules_unpack(dir, raw, rawlen, why, whylen)) == STOAT_OK)
        snprintf(version, vlen, "%s", ver);
out:
    free(raw);
    buf_free(&z);
    kvEntry_Destroy(e);
    kvStore_Destroy(kv);
    return err;
}
