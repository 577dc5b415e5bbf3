/* EVTX as a hunt input: the glue between the EVTX parser (evtx.h) and the
 * reader interface. A plain file with a header is opened by that header
 * alone (the head input_open has read), and each worker reads the chunks of
 * its unit itself (pread into a buffer of its own, reused): the reading
 * thread, which at -j 2 is a third thread on two cores, does no more per
 * file than open it, the reads run in parallel, and no file's bytes are
 * held (or fresh memory touched) while units wait for the writer. A file
 * whose header is gone (its chunks are found by scanning it) is read whole
 * into memory, or memory-mapped when large; standard input and gzip are read
 * into memory, up to a cap. A unit is a run of chunks, so workers parse
 * chunks of one file in parallel. What workers read lives until the writer
 * has seen the file's last unit (release); at most one file per unit of the
 * pool is open at once, so what is held stays bounded. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "readers/evtx/evtx.h"
#include "readers/reader.h"
#include "util/mem.h"

/* One chunk a unit: a large log (a 20 MB Security.evtx) is spread over as
 * many workers as there are, and a unit still carries a hundred records or
 * more (the hand-over per unit is a lock and a wake-up). More would make
 * each unit's output (copies of the alerting events, rendered) several
 * times larger: every unit of the pool grows its buffer to the largest it
 * carried, and each page of that is a page fault the first time. */
#define EVTX_CHUNKS_PER_UNIT 1
#define EVTX_MAX_IN_MEMORY   (2ull << 30) /* stdin or gzip: read whole, up to this */
#define EVTX_READ_WHOLE      (1u << 20)   /* plain files up to this are read, not mapped */
#define EVTX_POPULATE        (64u << 20)  /* mapped files up to this are mapped at once */

struct evtx_state {
    struct evtx_file *ef;
    uint8_t *data;
    size_t len;
    bool mapped;
    int fd; /* >= 0: the workers read each chunk themselves (pread), data is NULL */
    uint32_t next, nchunks;
    uint64_t hole_begin, hole_end; /* fd: the hole at or after the chunks handed out */
};

static bool evtx_reader_probe(const unsigned char *head, size_t n)
{
    return evtx_probe(head, n) || evtx_probe_chunks(head, n);
}

/* Reads the rest of in into s->data (cap bytes to start with), to its end
 * or, when want is not 0 (a plain file's size), to want bytes. */
static int read_whole(struct evtx_state *s, struct input *in, size_t cap, size_t want, char *why, size_t whylen)
{
    s->data = xmalloc(cap);
    while (!want || s->len < want) {
        if (s->len == cap) {
            if (cap >= EVTX_MAX_IN_MEMORY) {
                snprintf(why, whylen, "EVTX from a pipe or gzip larger than 2 GiB; give the plain file");
                return -1;
            }
            cap *= 2;
            s->data = xrealloc(s->data, cap);
        }
        long r = input_read(in, (char *)s->data + s->len, cap - s->len, why, whylen);
        if (r < 0)
            return -1;
        if (r == 0)
            return 0;
        s->len += (size_t)r;
    }
    return 0;
}

static void free_bytes(struct evtx_state *s)
{
    if (s->fd >= 0)
        close(s->fd);
    else if (s->mapped)
        munmap(s->data, s->len);
    else
        free(s->data);
}

static void opened(struct input_file *f, struct evtx_state *s)
{
    s->nchunks = evtx_chunk_count(s->ef);
    f->incomplete = evtx_file_truncated(s->ef);
    f->reader_state = s;
    f->product = "windows";
}

/* A plain file with a header: opened by the header input_open read, and
   read by the workers a chunk at a time, each into a buffer of its own it
   reuses. The reading thread then only opens files (it does not read or
   map them, which the workers would wait for), no file's bytes are held in
   memory while it waits for the writer, and no fresh memory is touched per
   file. Returns 0, 1 when the file is not one for this (the caller reads it
   whole), -1 with why. */
static int open_by_head(struct input_file *f, struct input *in, struct evtx_state *s, char *why, size_t whylen)
{
    uint64_t size = input_raw_size(in);
    int fd = input_fd(in);
    const unsigned char *head;
    size_t nh = input_peek(in, &head);
    if (fd < 0 || size < EVTX_FILE_HEADER_SIZE || nh < EVTX_FILE_HEADER_SIZE || !evtx_probe(head, nh))
        return 1;
    s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0); /* input_close closes its own */
    if (s->fd < 0)
        return 1;
    struct evtx_error err = {0};
    if (evtx_open_head(head, nh, size, f->name, &s->ef, &err)) {
        snprintf(why, whylen, "not a usable EVTX file: %s", err.reason ? err.reason : "bad header");
        return -1;
    }
    s->len = (size_t)size;
    return 0;
}

static int evtx_reader_open(struct input_file *f, struct input *in, char *why, size_t whylen)
{
    struct evtx_state *s = xcalloc(1, sizeof(*s));
    s->fd = -1;
    int rc = open_by_head(f, in, s, why, whylen);
    if (rc == 0) {
        opened(f, s);
        return 0;
    }
    if (rc < 0) {
        free_bytes(s);
        free(s);
        return -1;
    }
    uint64_t size = input_raw_size(in); /* a regular file's, 0 for others */
    int fd = input_fd(in);
    if (fd >= 0 && size > EVTX_READ_WHOLE) {
        /* mapped in one go up to a size: unused chunks are zeros that are
         * read too, and a fault per 64 KiB costs more than the mapping */
        int pop = size <= EVTX_POPULATE ? MAP_POPULATE : 0;
        void *m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE | pop, fd, 0);
        if (m != MAP_FAILED) {
            s->data = m;
            s->len = (size_t)size;
            s->mapped = true;
            madvise(m, s->len, MADV_SEQUENTIAL);
        }
    }
    /* a small file, or a pipe or a compressed file: read it whole (chunks
     * refer to each other only through the header, but random access is
     * simplest); a plain file up to the size it had when opened, as the
     * mapping of a larger one is */
    bool plain = fd >= 0 && size && size <= EVTX_READ_WHOLE;
    if (!s->mapped && read_whole(s, in, plain ? (size_t)size : 1 << 20, plain ? (size_t)size : 0, why, whylen)) {
        free(s->data);
        free(s);
        return -1;
    }
    struct evtx_error err = {0};
    if (evtx_open_mem(s->data, s->len, f->name, &s->ef, &err)) {
        snprintf(why, whylen, "not a usable EVTX file: %s", err.reason ? err.reason : "bad header");
        free_bytes(s);
        free(s);
        return -1;
    }
    opened(f, s);
    return 0;
}

/* Whether chunk slot c lies wholly in a hole of a sparse file: such a slot
   is zeros, never written (a log's unused chunks, in a copy that left them
   out), which parse to nothing, so it is not handed out (nor read, nor
   compared with zeros). Chunk 0 always is (header problems). The holes
   are found as the slots reach them, two lseek calls per hole; where the
   file system cannot say, the whole file is data. */
static bool in_hole(struct evtx_state *s, uint32_t c)
{
    if (c == 0 || s->fd < 0)
        return false;
    uint64_t from = evtx_chunk_offset(s->ef, c);
    uint64_t to = s->len - from < EVTX_CHUNK_SIZE ? s->len : from + EVTX_CHUNK_SIZE;
    if (from >= s->hole_end) {
        off_t h = lseek(s->fd, (off_t)from, SEEK_HOLE);
        off_t d = h < 0 || (uint64_t)h >= s->len ? -1 : lseek(s->fd, h, SEEK_DATA);
        if (h < 0 || (uint64_t)h >= s->len || (d < 0 && errno != ENXIO)) {
            s->hole_begin = s->hole_end = UINT64_MAX; /* no hole up to the end */
            return false;
        }
        s->hole_begin = (uint64_t)h;
        s->hole_end = d < 0 ? s->len : (uint64_t)d; /* ENXIO: no data after it */
    }
    return from >= s->hole_begin && to <= s->hole_end;
}

static enum fill_result evtx_reader_fill(struct input_file *f, struct input *in, struct unit *u, char *why,
                                         size_t whylen)
{
    (void)why;
    (void)whylen;
    struct evtx_state *s = f->reader_state;
    /* chunk 0 is always handed out, even when the file has none, so that
     * header damage gets reported */
    if (s->next >= s->nchunks && !(s->next == 0 && s->nchunks == 0))
        return FILL_END;
    if (s->nchunks == 0) {
        s->next = 1;
        u->map = s->data;
        u->map_len = s->len;
        u->range_len = s->len; /* (what has the worker look at it when it reads) */
        u->part_begin = u->part_end = 0;
        if (s->fd >= 0)
            input_handed_out(in, s->len);
        return FILL_LAST;
    }
    while (s->next < s->nchunks && in_hole(s, s->next))
        s->next++;
    if (s->next >= s->nchunks) { /* the rest was holes */
        input_handed_out(in, s->len);
        return FILL_END;
    }
    u->map = s->data;
    u->map_len = s->len;
    u->part_begin = s->next;
    u->part_end = s->next + EVTX_CHUNKS_PER_UNIT < s->nchunks ? s->next + EVTX_CHUNKS_PER_UNIT : s->nchunks;
    u->file_offset = evtx_chunk_offset(s->ef, s->next);
    s->next = u->part_end;
    uint64_t to = s->next < s->nchunks ? evtx_chunk_offset(s->ef, s->next) : s->len;
    u->range_begin = u->file_offset;
    u->range_len = to - u->file_offset;
    if (s->mapped || s->fd >= 0) /* the progress follows the chunks handed out */
        input_handed_out(in, to);
    /* (holes at the end still make a call, which ends with no unit) */
    return s->next >= s->nchunks ? FILL_LAST : FILL_MORE;
}

/* The producer is done; the mapping stays for the workers (see release). */
static void evtx_reader_close(struct input_file *f)
{
    (void)f;
}

static void evtx_reader_release(struct input_file *f)
{
    struct evtx_state *s = f->reader_state;
    if (!s)
        return;
    evtx_close(s->ef);
    free_bytes(s);
    free(s);
    f->reader_state = NULL;
}

/* ----------------------------------------------------------------- worker */

#define NAME_CACHE    512
#define NAME_MEMO     1024u /* a power of two */
#define NAME_MEMO_LEN 48u   /* longer names are looked up every time */

struct name_slot {
    const char *name;
    uint32_t len;
    uint32_t id;
};

/* A name's bytes and its id: kept for the worker's life, as the id is a
 * function of the bytes alone (the rule set is immutable). */
struct name_memo {
    uint32_t len, id;
    char name[NAME_MEMO_LEN];
};

struct evtx_worker {
    struct evtx_scratch *scratch;
    uint8_t *chunk; /* EVTX_CHUNK_SIZE bytes: a chunk read from a file (evtx_state.fd) */
    /* field name -> id, keyed by the name's address: names live in the
     * chunk's template table, so the cache is emptied per chunk */
    struct name_slot cache[NAME_CACHE];
    /* behind it, keyed by the bytes: every chunk names the same few dozen
     * fields again, and a lookup in the rule set's field table (case
     * folding, hashing) costs ten times a look here */
    struct name_memo memo[NAME_MEMO];
    const void *memo_ctx; /* the sink whose ids the memo holds */
    const struct event_sink *sink;
    struct unit *u;
    uint64_t local;
};

static void *evtx_worker_create(const struct mapping *map)
{
    (void)map;
    struct evtx_worker *w = xcalloc(1, sizeof(*w));
    w->scratch = evtx_scratch_create();
    w->chunk = xmalloc(EVTX_CHUNK_SIZE);
    return w;
}

static void evtx_worker_destroy(void *ws)
{
    struct evtx_worker *w = ws;
    if (!w)
        return;
    evtx_scratch_destroy(w->scratch);
    free(w->chunk);
    free(w);
}

static uint8_t stoat_type(uint8_t t)
{
    switch (t) {
    case EVTX_V_INT:
    case EVTX_V_UINT:
    case EVTX_V_FLOAT: return STOAT_V_NUMBER;
    case EVTX_V_BOOL: return STOAT_V_BOOL;
    case EVTX_V_NULL: return STOAT_V_NULL;
    default: return STOAT_V_STRING;
    }
}

/* Hash of a name for the memo: its length and its first and last eight
 * bytes (field names differ early or late: Data_1, SubjectUserName), the
 * bytes themselves are compared on a hit. */
static uint32_t memo_hash(const char *name, uint32_t len)
{
    uint64_t a = 0, b = 0;
    if (len >= 8) {
        memcpy(&a, name, 8);
        memcpy(&b, name + len - 8, 8);
    } else {
        memcpy(&a, name, len);
    }
    uint64_t h = (a * 0x9e3779b97f4a7c15ull) ^ (b + len) * 0xc2b2ae3d27d4eb4full;
    return (uint32_t)(h >> 40);
}

static uint32_t name_lookup(struct evtx_worker *w, const char *name, uint32_t len)
{
    if (len == 0 || len > NAME_MEMO_LEN)
        return w->sink->field_id(w->sink->ctx, name, len);
    struct name_memo *m = &w->memo[memo_hash(name, len) & (NAME_MEMO - 1)];
    if (m->len == len && memcmp(m->name, name, len) == 0)
        return m->id;
    m->len = len;
    memcpy(m->name, name, len);
    m->id = w->sink->field_id(w->sink->ctx, name, len);
    return m->id;
}

static uint32_t name_id(struct evtx_worker *w, const struct evtx_field *f)
{
    const char *name = f->name;
    uint32_t len = f->name_len;
    if (f->name_fresh) /* its address is no key */
        return name_lookup(w, name, len);
    size_t slot = (((uintptr_t)name >> 3) ^ len) % NAME_CACHE;
    struct name_slot *c = &w->cache[slot];
    if (c->name == name && c->len == len)
        return c->id;
    c->name = name;
    c->len = len;
    c->id = name_lookup(w, name, len);
    return c->id;
}

static int on_record(void *ctx, const struct evtx_record *rec)
{
    struct evtx_worker *w = ctx;
    const struct event_sink *s = w->sink;
    w->u->records++;
    s->begin(s->ctx, ++w->local, 0, rec->file_offset);
    for (size_t i = 0; i < rec->nfields; i++) {
        const struct evtx_field *f = &rec->fields[i];
        if (!s->field(s->ctx, f->name, f->name_len, name_id(w, f), f->value, f->value_len, stoat_type(f->type)))
            break;
    }
    s->end(s->ctx);
    w->u->events++;
    return 0;
}

static void on_error(void *ctx, const struct evtx_error *e)
{
    struct evtx_worker *w = ctx;
    char msg[300];
    if (e->chunk == UINT32_MAX) {
        /* a dirty, inconsistent, missing or short header: a warning,
         * the chunks that are there are still read */
        snprintf(msg, sizeof(msg), "%s", e->reason);
        w->sink->bad(w->sink->ctx, 0, e->offset, true, true, msg);
        return;
    }
    if (e->rest_skipped)
        snprintf(msg, sizeof(msg), "chunk %u: %s; the rest of the chunk is skipped", e->chunk, e->reason);
    else
        snprintf(msg, sizeof(msg), "chunk %u: %s; skipped, the valid records around it are kept", e->chunk, e->reason);
    w->sink->bad(w->sink->ctx, 0, e->offset, true, false, msg);
    w->u->skipped++;
}

/* Reads chunk slot c of the file into buf (EVTX_CHUNK_SIZE bytes): the
   bytes read, fewer when the file ends (or was cut since it was opened),
   -1 on an error (errno). */
static long read_chunk(const struct evtx_state *s, uint32_t c, uint8_t *buf)
{
    uint64_t off = evtx_chunk_offset(s->ef, c);
    size_t want = s->len - off < EVTX_CHUNK_SIZE ? (size_t)(s->len - off) : EVTX_CHUNK_SIZE;
    size_t got = 0;
    while (got < want) {
        ssize_t r = pread(s->fd, buf + got, want - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (long)got;
}

static void evtx_parse(void *ws, struct unit *u, const struct event_sink *sink)
{
    struct evtx_worker *w = ws;
    struct evtx_state *s = u->file->reader_state;
    if (w->memo_ctx != sink->ctx) { /* ids are another engine's */
        memset(w->memo, 0, sizeof(w->memo));
        w->memo_ctx = sink->ctx;
    }
    w->sink = sink;
    w->u = u;
    w->local = 0;
    struct evtx_visitor v = {.ctx = w, .record = on_record, .error = on_error};
    uint32_t end = u->part_end > u->part_begin ? u->part_end : u->part_begin + 1;
    for (uint32_t c = u->part_begin; c < end; c++) {
        memset(w->cache, 0, sizeof(w->cache));
        if (c >= s->nchunks && c != 0)
            continue;
        if (s->fd < 0) {
            evtx_parse_chunk(s->ef, c, w->scratch, &v);
            continue;
        }
        long got = c < s->nchunks ? read_chunk(s, c, w->chunk) : 0;
        if (got < 0) {
            snprintf(u->note, sizeof(u->note), "read error at offset %llu, chunk %u skipped: %s",
                     (unsigned long long)evtx_chunk_offset(s->ef, c), c, strerror(errno));
            u->read_failed = true;
            return;
        }
        evtx_parse_chunk_at(s->ef, c, w->chunk, (size_t)got, w->scratch, &v);
    }
}

const struct reader_ops reader_evtx = {
    .name = "evtx",
    .probe = evtx_reader_probe,
    .open = evtx_reader_open,
    .fill = evtx_reader_fill,
    .close = evtx_reader_close,
    .release = evtx_reader_release,
    .worker_create = evtx_worker_create,
    .worker_destroy = evtx_worker_destroy,
    .parse = evtx_parse,
};
