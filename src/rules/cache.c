/* The compiled prefilter cache (cache.h).
 *
 * Why only the databases: a load's time is two thirds Hyperscan compiling
 * (callgrind over every SigmaHQ rule), and the databases are plain bytes
 * that Hyperscan itself serialises. The rest of a ruleset (programs, regexes,
 * correlations, routing) is a graph of pointers that would need a second,
 * hand-written serialiser to keep in step with the compiler for ever; it is
 * rebuilt from the rules each time, and only the compilation is skipped.
 *
 * Why it cannot mis-match: each database is keyed by a hash of every input
 * of its compilation (patterns, lengths, flags, ids), and the file by those
 * keys with the format, stoat's and Hyperscan's versions and the host's
 * platform. Whatever changed in the rules, the mapping, the placeholders or
 * the generated sources, if a database would compile differently its key
 * differs and the file is another file. A file is input like any other:
 * magic, format, key, length and a SHA-256 of the payload are checked before
 * Hyperscan sees a byte, every count and length is bounded by what is left,
 * and anything wrong makes the caller compile as if there were no cache.
 *
 * File layout (little-endian):
 *   "STOATHSC" u32 format u32 count u64 payload_len u8[32] set_key u8[32] sha256(payload)
 *   payload: count x { u8[32] db_key, u64 len, len bytes of hs_serialize_database }
 */
#include <dirent.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* SHA-256 through the functions OpenSSL 3 calls deprecated, on purpose: the
 * first EVP digest of a process initialises the provider machinery and
 * reads openssl.cnf (6 M instructions and 23 system calls, callgrind and
 * strace), more than all the hashing of a warm rule load; these use the
 * same code (SHA extensions included) without it. */
#define OPENSSL_SUPPRESS_DEPRECATED
#include <openssl/sha.h>

#include "rules/cache.h"
#include "stoat/rules.h"
#include "util/fs.h"
#include "util/mem.h"

#if defined(__has_include)
#if __has_include("version.h")
#include "version.h"
#endif
#endif
#ifndef STOAT_VERSION
#define STOAT_VERSION "unknown"
#endif
#ifndef STOAT_GIT_DESCRIBE
#define STOAT_GIT_DESCRIBE ""
#endif

#define RC_MAGIC    "STOATHSC"
#define RC_FORMAT   1u
#define RC_HEADER   (8 + 4 + 4 + 8 + RC_KEY_LEN + RC_KEY_LEN)
#define RC_MAX_FILE (1ull << 30) /* far above any ruleset's databases */
#define RC_MAX_DBS  (1u << 20)

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    uint32_t v = 0;
    for (int i = 3; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static void hash_u64(SHA256_CTX *c, uint64_t v)
{
    uint8_t b[8];
    put64(b, v);
    SHA256_Update(c, b, sizeof(b));
}

static void hash_str(SHA256_CTX *c, const char *s)
{
    hash_u64(c, strlen(s));
    SHA256_Update(c, s, strlen(s));
}

static void digest(SHA256_CTX *c, uint8_t key[RC_KEY_LEN])
{
    SHA256_Final(key, c);
    free(c);
}

static SHA256_CTX *hash_begin(void)
{
    SHA256_CTX *c = xmalloc(sizeof(*c));
    SHA256_Init(c); /* cannot fail: it only sets the initial state */
    return c;
}

void rulecache_db_key(const char *const *pats, const size_t *lens, const unsigned *flags, const unsigned *ids, size_t n,
                      uint8_t key[RC_KEY_LEN])
{
    SHA256_CTX *c = hash_begin();
    hash_u64(c, HS_MODE_BLOCK);
    hash_u64(c, n);
    for (size_t i = 0; i < n; i++) {
        hash_u64(c, lens[i]);
        SHA256_Update(c, pats[i], lens[i]);
        hash_u64(c, flags[i]);
        hash_u64(c, ids[i]);
    }
    digest(c, key);
}

/* A key's material comes in thousands of small pieces (a name, eight stat
 * figures per rule file): gathered here and handed to SHA-256 in large
 * blocks, the same bytes in the same order, without a library call each. */
struct rc_hash {
    SHA256_CTX *c;
    size_t n;
    uint8_t buf[8192];
};

static void hb_flush(struct rc_hash *h)
{
    if (h->n)
        SHA256_Update(h->c, h->buf, h->n);
    h->n = 0;
}

static void hb_put(struct rc_hash *h, const void *p, size_t n)
{
    if (n > sizeof(h->buf) - h->n) {
        hb_flush(h);
        if (n > sizeof(h->buf)) {
            SHA256_Update(h->c, p, n);
            return;
        }
    }
    memcpy(h->buf + h->n, p, n);
    h->n += n;
}

void *rulecache_hash_begin(void)
{
    struct rc_hash *h = xmalloc(sizeof(*h));
    h->c = hash_begin();
    h->n = 0;
    return h;
}

void rulecache_hash_u64(void *h, uint64_t v)
{
    uint8_t b[8];
    put64(b, v);
    hb_put(h, b, sizeof(b));
}

void rulecache_hash_bytes(void *h, const void *p, size_t n)
{
    rulecache_hash_u64(h, n);
    hb_put(h, p, n);
}

void rulecache_hash_end(void *h, uint8_t key[RC_KEY_LEN])
{
    struct rc_hash *x = h;
    hb_flush(x);
    digest(x->c, key);
    free(x);
}

void rulecache_sha256(const void *p, size_t n, uint8_t sum[RC_KEY_LEN])
{
    SHA256_CTX *c = hash_begin();
    SHA256_Update(c, p, n);
    digest(c, sum);
}

/* The damage check of the whole-ruleset file (rules/snapshot.c): four lanes
 * of 64 bits, a word into each in turn. Each step is a bijection of its
 * lane's state for a given word (an odd multiplier, an addition, a right
 * xorshift), so a change anywhere changes that lane for good, and a damaged
 * file passes only if a second change undoes the first exactly: by chance,
 * 2^-64. A SHA-256 bought nothing more here and cost most of a warm load:
 * the file's key is checked apart (a foreign file is refused whatever its
 * sum), and anyone able to write into the cache folder can make any
 * unkeyed sum fit; what is read is bounds-checked either way. */
#define SUM_MUL 0x9fb21c651e98df25ull

static inline uint64_t sum_load(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return le64toh(v); /* one load on the usual hosts */
}

static inline uint64_t sum_step(uint64_t s, uint64_t w, uint64_t k)
{
    s = (s ^ w) * SUM_MUL + k;
    return s ^ (s >> 31);
}

void rulecache_sum(const void *p, size_t n, uint8_t sum[RC_KEY_LEN])
{
    static const uint64_t k[4] = {0x243f6a8885a308d3ull, 0x13198a2e03707344ull, 0xa4093822299f31d0ull,
                                  0x082efa98ec4e6c89ull};
    uint64_t s[4] = {k[0] ^ (uint64_t)n, k[1], k[2], k[3]};
    const uint8_t *b = p;
    size_t i = 0;
    for (; n - i >= 32; i += 32) { /* four independent chains: the multiplier's latency overlaps */
        s[0] = sum_step(s[0], sum_load(b + i), k[0]);
        s[1] = sum_step(s[1], sum_load(b + i + 8), k[1]);
        s[2] = sum_step(s[2], sum_load(b + i + 16), k[2]);
        s[3] = sum_step(s[3], sum_load(b + i + 24), k[3]);
    }
    uint8_t tail[32] = {0};
    if (n > i)
        memcpy(tail, b + i, n - i);
    for (int l = 0; l < 4; l++) {
        uint64_t v = sum_step(s[l], sum_load(tail + 8 * l), k[l]);
        v = sum_step(sum_step(v, k[(l + 1) & 3], k[l]), k[(l + 2) & 3], k[l]); /* every bit into every bit */
        for (int j = 0; j < 8; j++)
            sum[8 * l + j] = (uint8_t)(v >> (8 * j));
    }
}

static void hash_build(SHA256_CTX *c)
{
    hash_str(c, STOAT_VERSION);
    hash_str(c, STOAT_GIT_DESCRIBE);
    hash_str(c, hs_version());
    /* a database compiled for this host's CPU features */
    hs_platform_info_t plat;
    memset(&plat, 0, sizeof(plat));
    if (hs_populate_platform(&plat) == HS_SUCCESS) {
        hash_u64(c, plat.tune);
        hash_u64(c, plat.cpu_features);
    }
    hash_u64(c, sizeof(void *));
}

void rulecache_hash_build(void *h)
{
    struct rc_hash *x = h;
    hb_flush(x);
    hash_build(x->c);
}

void rulecache_set_key(const struct rc_db *dbs, size_t n, uint8_t key[RC_KEY_LEN])
{
    SHA256_CTX *c = hash_begin();
    hash_u64(c, RC_FORMAT);
    hash_build(c);
    hash_u64(c, n);
    for (size_t i = 0; i < n; i++)
        SHA256_Update(c, dbs[i].key, RC_KEY_LEN);
    digest(c, key);
}

static void free_dbs(const struct rc_db *dbs, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hs_free_database(*dbs[i].db);
        *dbs[i].db = NULL;
    }
}

/* The databases after a checked header: each under its key, its length
 * within what is left, and nothing after the last. */
static bool decode_entries(const uint8_t *buf, size_t len, const struct rc_db *dbs, size_t n, char *why, size_t whylen)
{
    size_t off = RC_HEADER;
    for (size_t i = 0; i < n; i++) {
        if (len - off < RC_KEY_LEN + 8) {
            snprintf(why, whylen, "database %zu: truncated at offset %zu", i, off);
            return false;
        }
        uint64_t dlen = get64(buf + off + RC_KEY_LEN);
        if (memcmp(buf + off, dbs[i].key, RC_KEY_LEN) != 0 || dlen > len - off - RC_KEY_LEN - 8) {
            snprintf(why, whylen, "database %zu at offset %zu: %s", i, off,
                     dlen > len - off - RC_KEY_LEN - 8 ? "length past the end" : "another database's key");
            return false;
        }
        off += RC_KEY_LEN + 8;
        if (hs_deserialize_database((const char *)buf + off, (size_t)dlen, dbs[i].db) != HS_SUCCESS) {
            *dbs[i].db = NULL;
            snprintf(why, whylen, "database %zu at offset %zu: Hyperscan refused it", i, off);
            return false;
        }
        off += (size_t)dlen;
    }
    if (off != len) {
        snprintf(why, whylen, "%zu bytes after the last database", len - off);
        return false;
    }
    return true;
}

bool rulecache_decode(const uint8_t *buf, size_t len, const struct rc_db *dbs, size_t n, char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++)
        *dbs[i].db = NULL;
    uint8_t want[RC_KEY_LEN], sum[RC_KEY_LEN];
    if (len < RC_HEADER || memcmp(buf, RC_MAGIC, 8) != 0) {
        snprintf(why, whylen, "not a stoat rule cache (%s)", len < RC_HEADER ? "too short" : "no magic");
        return false;
    }
    uint32_t format = get32(buf + 8), count = get32(buf + 12);
    uint64_t plen = get64(buf + 16);
    if (format != RC_FORMAT) {
        snprintf(why, whylen, "format %u, not %u", format, RC_FORMAT);
        return false;
    }
    rulecache_set_key(dbs, n, want);
    if (memcmp(buf + 24, want, RC_KEY_LEN) != 0 || count != n) {
        snprintf(why, whylen, "made for other rules, another stoat or Hyperscan, or another host");
        return false;
    }
    if (plen != len - RC_HEADER) {
        snprintf(why, whylen, "payload of %llu bytes where %zu are left (truncated or padded)",
                 (unsigned long long)plen, len - RC_HEADER);
        return false;
    }
    SHA256_CTX *c = hash_begin();
    SHA256_Update(c, buf + RC_HEADER, len - RC_HEADER);
    digest(c, sum);
    if (memcmp(buf + 24 + RC_KEY_LEN, sum, RC_KEY_LEN) != 0) {
        snprintf(why, whylen, "checksum mismatch (damaged)");
        return false;
    }
    if (!decode_entries(buf, len, dbs, n, why, whylen)) {
        free_dbs(dbs, n);
        return false;
    }
    return true;
}

bool rulecache_file_read(const char *path, uint8_t **out, size_t *outlen, bool *missing, char *why, size_t whylen)
{
    *missing = false;
    *out = NULL;
    *outlen = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT;
        snprintf(why, whylen, "%s", strerror(errno));
        return false;
    }
    bool ok = false;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > RC_MAX_FILE) {
        snprintf(why, whylen, "not a regular file under %llu bytes", (unsigned long long)RC_MAX_FILE);
        goto out;
    }
    size_t len = (size_t)st.st_size;
    buf = xmalloc(len ? len : 1);
    if (!fs_read_exact(fd, buf, len, why, whylen))
        goto out;
    *out = buf;
    *outlen = len;
    buf = NULL;
    ok = true;
out:
    free(buf);
    close(fd);
    return ok;
}

/* Why read into huge pages rather than map: on a virtual machine the first
 * touch of each page of a fresh mapping is a trap, populated or not (the
 * hypervisor shadows the page tables), and a whole-ruleset file is some
 * 3,300 pages of 4 KiB: its checksum, the first reader, took 17 ms, the
 * read() into 7 huge pages 6 ms and the checksum then 1 ms (min of 40, a
 * loaded machine). */
bool rulecache_file_map(const char *path, const uint8_t **out, size_t *outlen, bool *missing, char *why, size_t whylen)
{
    *missing = false;
    *out = NULL;
    *outlen = 0;
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        *missing = errno == ENOENT;
        snprintf(why, whylen, "%s", strerror(errno));
        return false;
    }
    bool ok = false;
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode) || (uint64_t)st.st_size > RC_MAX_FILE || st.st_size == 0) {
        snprintf(why, whylen, "not a regular file of 1 to %llu bytes", (unsigned long long)RC_MAX_FILE);
        goto out;
    }
    size_t len = (size_t)st.st_size, held = len;
    uint8_t *buf = xmap_huge(&held);
    if (!fs_read_exact(fd, buf, len, why, whylen)) {
        xunmap_huge(buf, held);
        goto out;
    }
    *out = buf;
    *outlen = len;
    ok = true;
out:
    close(fd);
    return ok;
}

void rulecache_file_unmap(const uint8_t *buf, size_t len)
{
    xunmap_huge((void *)buf, len);
}

bool rulecache_read(const char *path, const struct rc_db *dbs, size_t n, bool *missing, char *why, size_t whylen)
{
    for (size_t i = 0; i < n; i++)
        *dbs[i].db = NULL;
    uint8_t *buf;
    size_t len;
    if (!rulecache_file_read(path, &buf, &len, missing, why, whylen))
        return false;
    bool ok = rulecache_decode(buf, len, dbs, n, why, whylen);
    free(buf);
    return ok;
}

/* The whole file in memory: header and payload. */
static uint8_t *encode(const struct rc_db *dbs, size_t n, size_t *outlen, char *why, size_t whylen)
{
    char **ser = xcalloc(n + 1, sizeof(*ser));
    size_t *slen = xcalloc(n + 1, sizeof(*slen));
    uint8_t *buf = NULL;
    size_t total = RC_HEADER;
    for (size_t i = 0; i < n; i++) {
        if (!*dbs[i].db || hs_serialize_database(*dbs[i].db, &ser[i], &slen[i]) != HS_SUCCESS) {
            snprintf(why, whylen, "database %zu could not be serialised", i);
            goto out;
        }
        total += RC_KEY_LEN + 8 + slen[i];
    }
    buf = xmalloc(total);
    memcpy(buf, RC_MAGIC, 8);
    put32(buf + 8, RC_FORMAT);
    put32(buf + 12, (uint32_t)n);
    put64(buf + 16, total - RC_HEADER);
    rulecache_set_key(dbs, n, buf + 24);
    size_t off = RC_HEADER;
    for (size_t i = 0; i < n; i++) {
        memcpy(buf + off, dbs[i].key, RC_KEY_LEN);
        put64(buf + off + RC_KEY_LEN, slen[i]);
        memcpy(buf + off + RC_KEY_LEN + 8, ser[i], slen[i]);
        off += RC_KEY_LEN + 8 + slen[i];
    }
    SHA256_CTX *c = hash_begin();
    SHA256_Update(c, buf + RC_HEADER, total - RC_HEADER);
    digest(c, buf + 24 + RC_KEY_LEN);
    *outlen = total;
out:
    for (size_t i = 0; i < n; i++)
        free(ser[i]); /* hs_serialize_database allocates with the misc allocator: malloc */
    free(ser);
    free(slen);
    return buf;
}

bool rulecache_write(const char *path, const struct rc_db *dbs, size_t n, char *why, size_t whylen)
{
    if (n > RC_MAX_DBS) {
        snprintf(why, whylen, "%zu databases: more than a cache holds", n);
        return false;
    }
    size_t len = 0;
    uint8_t *buf = encode(dbs, n, &len, why, whylen);
    if (!buf)
        return false;
    bool ok = rulecache_file_write(path, buf, len, why, whylen);
    free(buf);
    return ok;
}

bool rulecache_file_write(const char *path, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
    size_t pl = strlen(path);
    char *tmp = xmalloc(pl + 16);
    memcpy(tmp, path, pl);
    memcpy(tmp + pl, ".tmp-XXXXXX", 12);
    bool ok = false;
    int fd = mkstemp(tmp); /* mode 0600 */
    if (fd < 0) {
        snprintf(why, whylen, "cannot create a file beside %s: %s", path, strerror(errno));
        goto out;
    }
    if (fchmod(fd, 0600) != 0 || !fs_write_all(fd, buf, len) || fsync(fd) != 0) {
        snprintf(why, whylen, "cannot write %s: %s", tmp, strerror(errno));
        close(fd);
        unlink(tmp);
        goto out;
    }
    if (close(fd) != 0 || rename(tmp, path) != 0) {
        snprintf(why, whylen, "cannot write %s: %s", path, strerror(errno));
        unlink(tmp);
        goto out;
    }
    ok = true;
out:
    free(tmp);
    return ok;
}

/* mkdir -p, each new folder 0700. */
static bool make_dirs(const char *dir, char *why, size_t whylen)
{
    char *p = xstrdup(dir);
    bool ok = true;
    for (char *s = p + 1;; s++) {
        if (*s && *s != '/')
            continue;
        char c = *s;
        *s = 0;
        if (mkdir(p, 0700) != 0 && errno != EEXIST) {
            snprintf(why, whylen, "cannot make %s: %s", p, strerror(errno));
            ok = false;
            break;
        }
        *s = c;
        if (!c)
            break;
    }
    free(p);
    return ok;
}

char *rulecache_path(const char *dir, const uint8_t key[RC_KEY_LEN], char *why, size_t whylen)
{
    return rulecache_path_ext(dir, key, ".hsc", why, whylen);
}

char *rulecache_path_ext(const char *dir, const uint8_t key[RC_KEY_LEN], const char *ext, char *why, size_t whylen)
{
    if (!make_dirs(dir, why, whylen))
        return NULL;
    struct stat st;
    if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(why, whylen, "%s is not a folder", dir);
        return NULL;
    }
    /* another user's folder, or one others may write, could hand us their
     * files: not used */
    if (st.st_uid != geteuid() || (st.st_mode & 022)) {
        snprintf(why, whylen, "%s is not ours alone (owner %u, mode %03o)", dir, (unsigned)st.st_uid,
                 (unsigned)(st.st_mode & 0777));
        return NULL;
    }
    size_t dl = strlen(dir);
    char *path = xmalloc(dl + 6 + 2 * RC_KEY_LEN + strlen(ext) + 2);
    char *w = path + sprintf(path, "%s/stoat-", dir);
    for (size_t i = 0; i < RC_KEY_LEN / 2; i++) /* 128 bits name it well enough; the header holds all */
        w += sprintf(w, "%02x", key[i]);
    strcpy(w, ext);
    return path;
}

/* "STOATRSI" u32 format u32 0, the stat key, the content key, and a
 * SHA-256 of those 80 bytes */
#define RI_MAGIC "STOATRSI"
#define RI_LEN   (8 + 4 + 4 + 2 * RC_KEY_LEN + RC_KEY_LEN)

bool rulecache_index_read(const char *path, const uint8_t skey[RC_KEY_LEN], uint8_t ckey[RC_KEY_LEN])
{
    uint8_t *buf = NULL, sum[RC_KEY_LEN];
    size_t len;
    bool missing;
    char why[300];
    if (!rulecache_file_read(path, &buf, &len, &missing, why, sizeof(why)))
        return false;
    bool ok = len == RI_LEN && !memcmp(buf, RI_MAGIC, 8) && get32(buf + 8) == 1 && get32(buf + 12) == 0 &&
              !memcmp(buf + 16, skey, RC_KEY_LEN);
    if (ok) {
        rulecache_sha256(buf, RI_LEN - RC_KEY_LEN, sum);
        ok = !memcmp(sum, buf + RI_LEN - RC_KEY_LEN, RC_KEY_LEN);
    }
    if (ok)
        memcpy(ckey, buf + 16 + RC_KEY_LEN, RC_KEY_LEN);
    free(buf);
    return ok;
}

void rulecache_index_write(const char *path, const uint8_t skey[RC_KEY_LEN], const uint8_t ckey[RC_KEY_LEN])
{
    uint8_t buf[RI_LEN];
    char why[300];
    memcpy(buf, RI_MAGIC, 8);
    put32(buf + 8, 1);
    put32(buf + 12, 0);
    memcpy(buf + 16, skey, RC_KEY_LEN);
    memcpy(buf + 16 + RC_KEY_LEN, ckey, RC_KEY_LEN);
    rulecache_sha256(buf, RI_LEN - RC_KEY_LEN, buf + RI_LEN - RC_KEY_LEN);
    rulecache_file_write(path, buf, RI_LEN, why, sizeof(why)); /* without it the next load reads the files */
}

void rulecache_touch(const char *path)
{
    utimensat(AT_FDCWD, path, NULL, AT_SYMLINK_NOFOLLOW);
}

struct cache_file {
    char *path;
    struct timespec used;
    uint64_t size;
};

static int by_use(const void *a, const void *b)
{
    const struct cache_file *x = a, *y = b;
    if (x->used.tv_sec != y->used.tv_sec)
        return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
    if (x->used.tv_nsec != y->used.tv_nsec)
        return x->used.tv_nsec < y->used.tv_nsec ? -1 : 1;
    return strcmp(x->path, y->path);
}

/* The endings of the cache's files: a prefilter, a whole ruleset, an
 * index by stat and a guess (rules/cache_guess.h). A name is one of them,
 * or (temp) one of them with a writer's ".tmp-XXXXXX" after it. */
static const char *const cache_endings[] = {".hsc", ".rsc", ".rsi", ".rsg"};

static bool cache_file_name(const char *name, size_t nl, bool *temp)
{
    *temp = false;
    if (nl <= 10 || strncmp(name, "stoat-", 6) != 0)
        return false;
    const size_t n = sizeof(cache_endings) / sizeof(*cache_endings);
    for (size_t i = 0; i < n && !*temp; i++) {
        char tmp[16];
        snprintf(tmp, sizeof(tmp), "%s.tmp-", cache_endings[i]);
        *temp = strstr(name, tmp) != NULL;
    }
    for (size_t i = 0; i < n && !*temp; i++)
        if (!strcmp(name + nl - 4, cache_endings[i]))
            return true;
    return *temp;
}

void rulecache_trim(const char *dir, const char *keep, size_t max_files, uint64_t max_bytes)
{
    DIR *d = opendir(dir);
    if (!d)
        return;
    struct cache_file *files = NULL;
    size_t n = 0, cap = 0;
    uint64_t total = 0;
    time_t now = time(NULL);
    for (struct dirent *e; (e = readdir(d));) {
        size_t nl = strlen(e->d_name);
        bool temp;
        if (!cache_file_name(e->d_name, nl, &temp))
            continue;
        char *p = xmalloc(strlen(dir) + nl + 2);
        sprintf(p, "%s/%s", dir, e->d_name);
        struct stat st;
        if (lstat(p, &st) != 0 || !S_ISREG(st.st_mode)) {
            free(p);
            continue;
        }
        if (temp) { /* left by a writer that died; an hour is far longer than a write */
            if (now - st.st_mtime > 3600)
                unlink(p);
            free(p);
            continue;
        }
        XGROW(files, cap, n + 1);
        files[n++] = (struct cache_file){.path = p, .used = st.st_mtim, .size = (uint64_t)st.st_size};
        total += (uint64_t)st.st_size;
    }
    closedir(d);
    if (n)
        qsort(files, n, sizeof(*files), by_use);
    size_t left = n;
    for (size_t i = 0; i < n && (left > max_files || total > max_bytes); i++) {
        if (keep && !strcmp(files[i].path, keep))
            continue;
        if (unlink(files[i].path) == 0) {
            left--;
            total -= files[i].size;
        }
    }
    for (size_t i = 0; i < n; i++)
        free(files[i].path);
    free(files);
}

/* $XDG_CACHE_HOME/stoat, else $HOME/.cache/stoat (root as any user); with
 * neither, /var/cache/stoat for root (a service without a home), else none. */
char *stoat_rules_cache_dir(void)
{
    const char *x = getenv("XDG_CACHE_HOME");
    if (x && x[0] == '/') /* the specification: a relative value is ignored */
        return fs_join(x, "stoat");
    const char *h = getenv("HOME");
    if (h && h[0] == '/')
        return fs_join(h, ".cache/stoat");
    if (geteuid() == 0)
        return xstrdup("/var/cache/stoat");
    return NULL;
}
