/* The spool: numbered segment files of length-prefixed, checksummed batch
 * records in one folder, appended at the newest, read and deleted from the
 * oldest (spool.h says why this shape).
 *
 * The in-memory picture is one entry per segment: its bytes, how many
 * batches and events it holds that were not handed out yet, how many are out
 * (handed to the publisher, not yet settled) and where reading stands. At
 * open every segment an earlier run left is read through once, so these
 * counts are exact from the start (a damaged record is reported there and
 * not counted); a segment goes when it is read to its end and every batch
 * handed out of it is settled, or when the cap needs its room. */
#include "bus/spool.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#define SEG_MAGIC  "STOATSPL"
#define SEG_HDR    16u
#define REC_MAGIC  0x43455253u /* "SREC" little-endian */
#define REC_HDR    12u
#define BODY_FIXED 20u

struct seg {
    uint64_t id;
    uint64_t bytes; /* file size (header included) */
    uint64_t read_off;
    uint64_t left_batches, left_events; /* not yet handed out */
    unsigned out;                       /* handed out, not settled */
    bool writing;
};

struct spool {
    pthread_mutex_t mu;
    char *dir;
    int lock_fd;
    int wfd; /* the newest segment, open for appending, or -1 */
    uint64_t max_bytes, seg_bytes;
    uint64_t next_id;
    struct seg *segs; /* oldest first */
    size_t nsegs, capsegs;
    struct stoat_bus_spool_stats st;
    void (*diag)(void *ctx, enum stoat_severity sev, const char *msg);
    void *diag_ctx;
};

/* ------------------------------------------------------------ the record */

static void put32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)v;
    p[1] = (unsigned char)(v >> 8);
    p[2] = (unsigned char)(v >> 16);
    p[3] = (unsigned char)(v >> 24);
}

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

void spool_encode(struct buf *b, const struct spool_rec *r)
{
    size_t body = BODY_FIXED + r->host_len + r->id_len + r->len;
    unsigned char h[REC_HDR + BODY_FIXED];
    put32(h, REC_MAGIC);
    put32(h + 4, (uint32_t)body);
    unsigned char *f = h + REC_HDR;
    f[0] = r->kind;
    f[1] = 0;
    f[2] = (unsigned char)r->host_len;
    f[3] = (unsigned char)(r->host_len >> 8);
    f[4] = (unsigned char)r->id_len;
    f[5] = (unsigned char)(r->id_len >> 8);
    f[6] = f[7] = 0;
    put32(f + 8, r->count);
    uint64_t t = (uint64_t)r->sealed_ns;
    put32(f + 12, (uint32_t)t);
    put32(f + 16, (uint32_t)(t >> 32));
    uLong crc = crc32(0L, f, BODY_FIXED);
    crc = crc32(crc, (const Bytef *)r->host, (uInt)r->host_len);
    crc = crc32(crc, (const Bytef *)r->id, (uInt)r->id_len);
    crc = crc32(crc, (const Bytef *)r->payload, (uInt)r->len);
    put32(h + 8, (uint32_t)crc);
    buf_put(b, h, sizeof h);
    buf_put(b, r->host, r->host_len);
    buf_put(b, r->id, r->id_len);
    buf_put(b, r->payload, r->len);
}

long spool_decode(const unsigned char *p, size_t n, struct spool_rec *r, char *why, size_t whylen)
{
    if (n < REC_HDR)
        return 0;
    if (get32(p) != REC_MAGIC) {
        snprintf(why, whylen, "no record magic");
        return -1;
    }
    uint32_t body = get32(p + 4);
    if (body < BODY_FIXED || body > SPOOL_RECORD_MAX) {
        snprintf(why, whylen, "record length %" PRIu32 " out of range", body);
        return -1;
    }
    if (n - REC_HDR < body)
        return 0;
    const unsigned char *f = p + REC_HDR;
    if ((uint32_t)crc32(0L, f, body) != get32(p + 8)) {
        snprintf(why, whylen, "checksum mismatch");
        return -1;
    }
    size_t hl = get16(f + 2), il = get16(f + 4);
    if (f[0] != BUS_KIND_EVENTS && f[0] != BUS_KIND_ALERTS) {
        snprintf(why, whylen, "unknown kind %u", f[0]);
        return -1;
    }
    if (hl > SPOOL_HOST_MAX || il == 0 || il > SPOOL_ID_MAX || BODY_FIXED + hl + il > body) {
        snprintf(why, whylen, "host or id length out of range");
        return -1;
    }
    uint32_t count = get32(f + 8);
    if (count == 0 || count > SPOOL_COUNT_MAX) {
        snprintf(why, whylen, "count %" PRIu32 " out of range", count);
        return -1;
    }
    r->kind = f[0];
    r->count = count;
    r->sealed_ns = (int64_t)((uint64_t)get32(f + 12) | (uint64_t)get32(f + 16) << 32);
    r->host = (const char *)f + BODY_FIXED;
    r->host_len = hl;
    r->id = r->host + hl;
    r->id_len = il;
    r->payload = r->id + il;
    r->len = body - BODY_FIXED - hl - il;
    return (long)(REC_HDR + body);
}

/* ------------------------------------------------------------ segments */

static void say(struct spool *s, enum stoat_severity sev, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct spool *s, enum stoat_severity sev, const char *fmt, ...)
{
    if (!s->diag)
        return;
    char msg[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    s->diag(s->diag_ctx, sev, msg);
}

static void seg_path(const struct spool *s, uint64_t id, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/seg-%016" PRIx64 ".spool", s->dir, id);
}

static struct seg *seg_add(struct spool *s, uint64_t id)
{
    if (s->nsegs == s->capsegs) {
        size_t cap = s->capsegs ? s->capsegs * 2 : 16;
        struct seg *n = realloc(s->segs, cap * sizeof *n);
        if (!n)
            return NULL;
        s->segs = n;
        s->capsegs = cap;
    }
    struct seg *g = &s->segs[s->nsegs++];
    memset(g, 0, sizeof *g);
    g->id = id;
    g->read_off = SEG_HDR;
    return g;
}

static struct seg *seg_find(struct spool *s, uint64_t id)
{
    for (size_t i = 0; i < s->nsegs; i++)
        if (s->segs[i].id == id)
            return &s->segs[i];
    return NULL;
}

/* Deletes segment i (file and entry); the caller has counted what it held. */
static void seg_remove(struct spool *s, size_t i)
{
    char path[4200];
    struct seg *g = &s->segs[i];
    if (g->writing && s->wfd >= 0) {
        close(s->wfd);
        s->wfd = -1;
    }
    seg_path(s, g->id, path, sizeof path);
    if (unlink(path) != 0 && errno != ENOENT)
        say(s, STOAT_SEV_WARNING, "spool: %s: cannot delete: %s", path, strerror(errno));
    s->st.bytes -= g->bytes;
    s->st.batches -= g->left_batches;
    s->st.events -= g->left_events;
    memmove(g, g + 1, (s->nsegs - i - 1) * sizeof *g);
    s->nsegs--;
}

/* A segment that is read to its end with nothing out is done. */
static void seg_settle(struct spool *s, size_t i)
{
    struct seg *g = &s->segs[i];
    if (g->left_batches == 0 && g->out == 0 && g->read_off >= g->bytes)
        seg_remove(s, i);
}

/* Reads the record at off of fd into store; its size, 0 at the end (or a
 * record cut short), -1 damaged (why). */
static long read_record(int fd, uint64_t off, uint64_t end, struct buf *store, struct spool_rec *r, char *why,
                        size_t whylen)
{
    unsigned char h[REC_HDR];
    if (end - off < REC_HDR)
        return 0;
    if (pread(fd, h, REC_HDR, (off_t)off) != (ssize_t)REC_HDR) {
        snprintf(why, whylen, "read error: %s", strerror(errno));
        return -1;
    }
    if (get32(h) != REC_MAGIC) {
        snprintf(why, whylen, "no record magic");
        return -1;
    }
    uint32_t body = get32(h + 4);
    if (body < BODY_FIXED || body > SPOOL_RECORD_MAX) {
        snprintf(why, whylen, "record length %" PRIu32 " out of range", body);
        return -1;
    }
    if (end - off - REC_HDR < body)
        return 0;
    buf_clear(store);
    buf_reserve(store, REC_HDR + body);
    memcpy(store->p, h, REC_HDR);
    if (pread(fd, store->p + REC_HDR, body, (off_t)(off + REC_HDR)) != (ssize_t)body) {
        snprintf(why, whylen, "read error: %s", strerror(errno));
        return -1;
    }
    store->len = REC_HDR + body;
    return spool_decode((const unsigned char *)store->p, store->len, r, why, whylen);
}

/* After damage at off: the offset of the next record that checks out, or
 * end. Looks at every byte: damage is rare and segments are bounded. */
static uint64_t resync(int fd, uint64_t off, uint64_t end, struct buf *store)
{
    unsigned char m[4];
    struct spool_rec r;
    char why[128];
    for (uint64_t o = off + 1; o + REC_HDR <= end; o++) {
        if (pread(fd, m, 4, (off_t)o) != 4)
            return end;
        if (get32(m) == REC_MAGIC && read_record(fd, o, end, store, &r, why, sizeof why) > 0)
            return o;
    }
    return end;
}

/* Counts the records of an earlier run's segment. */
static void seg_scan(struct spool *s, struct seg *g, const char *path)
{
    struct buf store = {0};
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    char hdr[SEG_HDR];
    if (fd < 0 || fstat(fd, &sb) != 0 || pread(fd, hdr, SEG_HDR, 0) != (ssize_t)SEG_HDR ||
        memcmp(hdr, SEG_MAGIC, 8) != 0) {
        say(s, STOAT_SEV_WARNING, "spool: %s: not a spool segment; left alone", path);
        g->bytes = g->read_off = 0;
        goto out;
    }
    g->bytes = (uint64_t)sb.st_size;
    uint64_t off = SEG_HDR;
    while (off < g->bytes) {
        struct spool_rec r;
        char why[128];
        long n = read_record(fd, off, g->bytes, &store, &r, why, sizeof why);
        if (n == 0) {
            if (off < g->bytes)
                say(s, STOAT_SEV_WARNING,
                    "spool: %s: offset %" PRIu64 ": a record cut short (a crash); the "
                    "segment ends there",
                    path, off);
            break;
        }
        if (n < 0) {
            s->st.damaged++;
            say(s, STOAT_SEV_WARNING, "spool: %s: offset %" PRIu64 ": damaged record (%s); skipped", path, off, why);
            off = resync(fd, off, g->bytes, &store);
            continue;
        }
        g->left_batches++;
        g->left_events += r.count;
        off += (uint64_t)n;
    }
out:
    if (fd >= 0)
        close(fd);
    buf_free(&store);
}

static int cmp_seg(const void *a, const void *b)
{
    const struct seg *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static stoat_err load_existing(struct spool *s, char *why, size_t whylen)
{
    DIR *d = opendir(s->dir);
    if (!d) {
        snprintf(why, whylen, "spool: %s: %s", s->dir, strerror(errno));
        return STOAT_ERR_IO;
    }
    struct dirent *e;
    while ((e = readdir(d))) {
        uint64_t id;
        char tail[16];
        if (sscanf(e->d_name, "seg-%16" SCNx64 ".%15s", &id, tail) != 2 || strcmp(tail, "spool") != 0)
            continue;
        if (!seg_add(s, id)) {
            closedir(d);
            snprintf(why, whylen, "spool: out of memory");
            return STOAT_ERR_NOMEM;
        }
    }
    closedir(d);
    if (s->nsegs)
        qsort(s->segs, s->nsegs, sizeof *s->segs, cmp_seg);
    char path[4200];
    for (size_t i = 0; i < s->nsegs; i++) {
        struct seg *g = &s->segs[i];
        seg_path(s, g->id, path, sizeof path);
        seg_scan(s, g, path);
        s->st.bytes += g->bytes;
        s->st.batches += g->left_batches;
        s->st.events += g->left_events;
        if (g->id >= s->next_id)
            s->next_id = g->id + 1;
    }
    /* segments with nothing in them (or not ours) go from the list; empty ones of ours are deleted */
    for (size_t i = 0; i < s->nsegs;) {
        if (s->segs[i].left_batches == 0) {
            if (s->segs[i].bytes == 0) { /* not a segment: keep the file, forget it */
                memmove(&s->segs[i], &s->segs[i + 1], (s->nsegs - i - 1) * sizeof *s->segs);
                s->nsegs--;
            } else {
                s->segs[i].read_off = s->segs[i].bytes;
                seg_remove(s, i);
            }
            continue;
        }
        i++;
    }
    s->st.found_batches = s->st.batches;
    s->st.found_events = s->st.events;
    s->st.segments = s->nsegs;
    return STOAT_OK;
}

stoat_err spool_open(const struct spool_opts *o, struct spool **out, char *why, size_t whylen)
{
    stoat_err err = STOAT_ERR_NOMEM;
    *out = NULL;
    struct spool *s = calloc(1, sizeof *s);
    if (!s || !(s->dir = strdup(o->dir))) {
        free(s);
        snprintf(why, whylen, "spool: out of memory");
        return err;
    }
    pthread_mutex_init(&s->mu, NULL);
    s->lock_fd = s->wfd = -1;
    s->diag = o->diag;
    s->diag_ctx = o->diag_ctx;
    s->max_bytes = o->max_bytes ? o->max_bytes : (1ull << 30);
    s->seg_bytes = o->segment_bytes ? o->segment_bytes : s->max_bytes / 32;
    if (s->seg_bytes < (64u << 10))
        s->seg_bytes = 64u << 10;
    if (s->seg_bytes > (32u << 20))
        s->seg_bytes = 32u << 20;
    s->next_id = 1;
    err = STOAT_ERR_IO;
    if (mkdir(o->dir, 0700) != 0 && errno != EEXIST) {
        snprintf(why, whylen, "spool: cannot make %s: %s", o->dir, strerror(errno));
        goto out;
    }
    char path[4200];
    snprintf(path, sizeof path, "%s/lock", o->dir);
    s->lock_fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (s->lock_fd < 0) {
        snprintf(why, whylen, "spool: cannot write in %s: %s", o->dir, strerror(errno));
        goto out;
    }
    if (flock(s->lock_fd, LOCK_EX | LOCK_NB) != 0) {
        snprintf(why, whylen, "spool: %s is in use by another stoat process (give each its own --spool)", o->dir);
        goto out;
    }
    if ((err = load_existing(s, why, whylen)) != STOAT_OK)
        goto out;
    if (s->st.found_batches)
        say(s, STOAT_SEV_NOTE, "spool: %s: %" PRIu64 " batches (%" PRIu64 " events) from an earlier run to send",
            o->dir, s->st.found_batches, s->st.found_events);
    *out = s;
    return STOAT_OK;
out:
    spool_close(s);
    return err;
}

/* Drops the oldest segment for room; false when there is none to drop. */
static bool drop_oldest(struct spool *s)
{
    if (s->nsegs == 0)
        return false;
    struct seg *g = &s->segs[0];
    uint64_t b = g->left_batches, e = g->left_events;
    s->st.dropped_batches += b;
    s->st.dropped_events += e;
    say(s, STOAT_SEV_WARNING,
        "spool: over its cap of %" PRIu64 " bytes: dropped the oldest %" PRIu64 " batches (%" PRIu64
        " events); %" PRIu64 " events dropped in all",
        s->max_bytes, b, e, s->st.dropped_events);
    seg_remove(s, 0);
    return true;
}

static stoat_err open_segment(struct spool *s)
{
    char path[4200];
    uint64_t id = s->next_id++;
    seg_path(s, id, path, sizeof path);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
    if (fd < 0) {
        say(s, STOAT_SEV_ERROR, "spool: cannot create %s: %s", path, strerror(errno));
        return STOAT_ERR_IO;
    }
    unsigned char h[SEG_HDR] = {0};
    memcpy(h, SEG_MAGIC, 8);
    put32(h + 8, 1);
    if (write(fd, h, SEG_HDR) != (ssize_t)SEG_HDR) {
        say(s, STOAT_SEV_ERROR, "spool: cannot write %s: %s", path, strerror(errno));
        close(fd);
        unlink(path);
        return STOAT_ERR_IO;
    }
    struct seg *g = seg_add(s, id);
    if (!g) {
        close(fd);
        unlink(path);
        return STOAT_ERR_NOMEM;
    }
    g->bytes = SEG_HDR;
    g->writing = true;
    s->wfd = fd;
    s->st.bytes += SEG_HDR;
    s->st.segments++;
    return STOAT_OK;
}

/* Closes the segment being written (synced), so the next append starts one. */
static void close_writing(struct spool *s)
{
    if (s->wfd < 0)
        return;
    fdatasync(s->wfd);
    close(s->wfd);
    s->wfd = -1;
    for (size_t i = 0; i < s->nsegs; i++)
        s->segs[i].writing = false;
}

stoat_err spool_append(struct spool *s, const struct spool_rec *r)
{
    stoat_err err = STOAT_OK;
    struct buf b = {0};
    pthread_mutex_lock(&s->mu);
    spool_encode(&b, r);
    if (b.len > s->max_bytes - SEG_HDR || b.len > REC_HDR + SPOOL_RECORD_MAX) {
        s->st.dropped_batches++;
        s->st.dropped_events += r->count;
        say(s, STOAT_SEV_WARNING,
            "spool: a batch of %zu bytes is over the cap of %" PRIu64 "; dropped (%" PRIu32 " events)", b.len,
            s->max_bytes, r->count);
        goto out;
    }
    if (s->wfd >= 0 && s->nsegs && s->segs[s->nsegs - 1].bytes + b.len > s->seg_bytes &&
        s->segs[s->nsegs - 1].bytes > SEG_HDR)
        close_writing(s);
    /* room: the new record, and a segment header if one must be started */
    while (s->st.bytes + b.len + (s->wfd < 0 ? SEG_HDR : 0) > s->max_bytes)
        if (!drop_oldest(s))
            break;
    if (s->wfd < 0 && (err = open_segment(s)) != STOAT_OK)
        goto lost;
    struct seg *g = &s->segs[s->nsegs - 1];
    ssize_t w = write(s->wfd, b.p, b.len);
    if (w != (ssize_t)b.len) {
        say(s, STOAT_SEV_ERROR, "spool: %s: write failed: %s", s->dir, w < 0 ? strerror(errno) : "short write");
        if (w > 0 && ftruncate(s->wfd, (off_t)g->bytes) != 0)
            close_writing(s); /* a partial record would end the segment when read: start a new one */
        err = STOAT_ERR_IO;
        goto lost;
    }
    g->bytes += b.len;
    g->left_batches++;
    g->left_events += r->count;
    s->st.bytes += b.len;
    s->st.batches++;
    s->st.events += r->count;
    s->st.written_batches++;
    s->st.written_events += r->count;
    goto out;
lost:
    s->st.dropped_batches++;
    s->st.dropped_events += r->count;
out:
    pthread_mutex_unlock(&s->mu);
    buf_free(&b);
    return err;
}

int spool_next(struct spool *s, struct spool_item *it, struct buf *store)
{
    int got = 0;
    char path[4200];
    pthread_mutex_lock(&s->mu);
    for (size_t i = 0; i < s->nsegs && !got;) {
        struct seg *g = &s->segs[i];
        if (g->left_batches == 0 || g->read_off >= g->bytes) {
            i++;
            continue;
        }
        seg_path(s, g->id, path, sizeof path);
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        if (fd < 0) {
            say(s, STOAT_SEV_ERROR, "spool: %s: %s; its %" PRIu64 " batches are lost", path, strerror(errno),
                g->left_batches);
            s->st.dropped_batches += g->left_batches;
            s->st.dropped_events += g->left_events;
            g->read_off = g->bytes;
            s->st.batches -= g->left_batches;
            s->st.events -= g->left_events;
            g->left_batches = g->left_events = 0;
            seg_settle(s, i);
            continue;
        }
        char why[128];
        long n = read_record(fd, g->read_off, g->bytes, store, &it->rec, why, sizeof why);
        if (n > 0) {
            g->read_off += (uint64_t)n;
            g->left_batches--;
            g->left_events -= it->rec.count <= g->left_events ? it->rec.count : g->left_events;
            s->st.batches--;
            s->st.events -= it->rec.count <= s->st.events ? it->rec.count : s->st.events;
            g->out++;
            it->segment = g->id;
            got = 1;
        } else if (n < 0) {
            s->st.damaged++;
            say(s, STOAT_SEV_WARNING, "spool: %s: offset %" PRIu64 ": damaged record (%s); skipped", path, g->read_off,
                why);
            g->read_off = resync(fd, g->read_off, g->bytes, store);
        } else { /* the end: what the counts still hold is not there */
            g->read_off = g->bytes;
            s->st.batches -= g->left_batches;
            s->st.events -= g->left_events;
            g->left_batches = g->left_events = 0;
        }
        close(fd);
        if (!got && g->read_off >= g->bytes) {
            if (g->writing)
                close_writing(s);
            seg_settle(s, i);
        }
    }
    /* read to the end of the one being written, nothing out: done with it */
    if (!got && s->nsegs) {
        struct seg *g = &s->segs[s->nsegs - 1];
        if (g->writing && g->left_batches == 0 && g->out == 0) {
            close_writing(s);
            g->read_off = g->bytes;
            seg_settle(s, s->nsegs - 1);
        }
    }
    pthread_mutex_unlock(&s->mu);
    return got;
}

void spool_done(struct spool *s, uint64_t segment)
{
    pthread_mutex_lock(&s->mu);
    struct seg *g = seg_find(s, segment);
    if (g && g->out) { /* else: dropped for the cap meanwhile */
        g->out--;
        if (!g->writing)
            seg_settle(s, (size_t)(g - s->segs));
    }
    pthread_mutex_unlock(&s->mu);
}

void spool_stats(struct spool *s, struct stoat_bus_spool_stats *out)
{
    pthread_mutex_lock(&s->mu);
    *out = s->st;
    out->segments = s->nsegs;
    pthread_mutex_unlock(&s->mu);
}

void spool_close(struct spool *s)
{
    if (!s)
        return;
    close_writing(s);
    if (s->lock_fd >= 0)
        close(s->lock_fd);
    pthread_mutex_destroy(&s->mu);
    free(s->segs);
    free(s->dir);
    free(s);
}
