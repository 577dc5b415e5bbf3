/* Event packs: the events alerts cite, in zlib-compressed packs.
 *
 * Why it works this way:
 * - The events an alert cites are not rows: they are written in packs of up
 *   to PACK_EVENTS, compressed (event text is most of the bytes and
 *   compresses several times over), so the file and the WAL grow by a
 *   fraction of what they would. Events are numbered in the order of their
 *   alerts, so retention deletes packs by number (retention.c).
 * - A pack is zlib(offsets then records): n little-endian uint32 ends of the
 *   records, counted from the first record, then the records, each a JSON
 *   object. Its row id is the number of its first event; the others follow
 *   on, so an event is found by the row at or below its number.
 * - Compressing a pack costs the writer about as much as an alert's row and
 *   indexes, so a full pack is handed to a thread of its own (the packer)
 *   while the writer goes on with the next; its row is inserted when the
 *   next pack is full, and always before the transaction commits: a commit
 *   never holds an alert whose event is not in the file. The open pack at a
 *   commit, and all packs of a writer not on its own thread (a migration),
 *   are compressed by the writer itself.
 * - A reader trusts nothing of a pack: its size, its ends and each record
 *   (json_valid) are checked, and what fails reads as null. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "store/db.h"
#include "store/packs.h"
#include "store/rows.h"
#include "util/mem.h"

const char store_sql_pack_put[] = "INSERT INTO event_packs(id, n, raw, data) VALUES(?1,?2,?3,?4)";

/* A pack's bytes and, once compressed, its row. */
struct zjob {
    unsigned char *in; /* offsets then records (owned) */
    size_t raw;
    int64_t id;
    unsigned n;
    z_stream *z;        /* reused: a fresh one per pack costs page faults */
    unsigned char *out; /* reused */
    size_t cap, outn;
    bool ok;
};

static void zjob_compress(struct zjob *j)
{
    j->ok = false;
    if (!j->z) {
        j->z = xcalloc(1, sizeof(*j->z));
        /* raw deflate (no zlib header, no checksum: SQLite checks the page,
         * and the reader checks the size and the records) at level 1:
         * event text is repetitive enough that the fastest level already
         * shrinks it several times; more would cost the writer's rate */
        if (deflateInit2(j->z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(j->z);
            j->z = NULL;
            return;
        }
    } else {
        deflateReset(j->z);
    }
    size_t zn = deflateBound(j->z, (uLong)j->raw);
    if (j->cap < zn) {
        free(j->out);
        j->out = xmalloc(zn);
        j->cap = zn;
    }
    j->z->next_in = j->in;
    j->z->avail_in = (uInt)j->raw;
    j->z->next_out = j->out;
    j->z->avail_out = (uInt)zn;
    j->ok = deflate(j->z, Z_FINISH) == Z_STREAM_END;
    j->outn = zn - j->z->avail_out;
}

static void zjob_free(struct zjob *j)
{
    if (!j)
        return;
    free(j->in);
    free(j->out);
    if (j->z)
        deflateEnd(j->z);
    free(j->z);
}

static int zjob_insert(struct stoat_store *s, struct zjob *j)
{
    if (!j->ok)
        return SQLITE_NOMEM;
    sqlite3_stmt *st = s->st[ST_PACK_PUT];
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_int(st, 2, (int)j->n);
    sqlite3_bind_int64(st, 3, (int64_t)j->raw);
    sqlite3_bind_blob(st, 4, j->out, (int)j->outn, SQLITE_STATIC);
    return store_step_done(st);
}

enum {
    PACKER_IDLE,
    PACKER_WORK,
    PACKER_DONE
};
struct packer {
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv; /* a pack given, done, or stop */
    int state;
    bool stop;
    struct zjob job;
};

static void *packer_main(void *arg)
{
    struct packer *k = arg;
    pthread_setname_np(pthread_self(), "stoat-pack"); /* for top and perf */
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (k->state != PACKER_WORK && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->state != PACKER_WORK)
            break;
        pthread_mutex_unlock(&k->mu);
        zjob_compress(&k->job);
        pthread_mutex_lock(&k->mu);
        k->state = PACKER_DONE;
        pthread_cond_broadcast(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* The packer, started on first need by the writer's thread; NULL for any
 * other caller, or when the thread cannot start (the writer compresses). */
static struct packer *packer_get(struct stoat_store *s)
{
    if (!s->on_writer)
        return NULL;
    if (!s->packer) {
        struct packer *k = xcalloc(1, sizeof(*k));
        pthread_mutex_init(&k->mu, NULL);
        pthread_cond_init(&k->cv, NULL);
        if (pthread_create(&k->thr, NULL, packer_main, k) != 0) {
            pthread_mutex_destroy(&k->mu);
            pthread_cond_destroy(&k->cv);
            free(k);
            s->on_writer = false; /* not again */
            return NULL;
        }
        s->packer = k;
    }
    return s->packer;
}

/* Waits for the pack given to the packer, if any, and inserts its row
 * (keep) or drops it (a rollback). */
static int pack_collect(struct stoat_store *s, bool keep)
{
    struct packer *k = s->packer;
    if (!k)
        return SQLITE_OK;
    pthread_mutex_lock(&k->mu);
    bool had = k->state != PACKER_IDLE;
    while (k->state == PACKER_WORK)
        pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
    if (!had)
        return SQLITE_OK;
    int rc = keep ? zjob_insert(s, &k->job) : SQLITE_OK;
    free(k->job.in);
    k->job.in = NULL;
    pthread_mutex_lock(&k->mu);
    k->state = PACKER_IDLE;
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static void packer_stop(struct stoat_store *s)
{
    struct packer *k = s->packer;
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thr, NULL);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    zjob_free(&k->job);
    free(k);
    s->packer = NULL;
}

int store_pack_flush(struct stoat_store *s, bool later)
{
    if (!s->pk_n)
        return pack_collect(s, true);
    size_t head = (size_t)s->pk_n * 4, raw = head + s->pk.len;
    unsigned char *in = xmalloc(raw);
    for (unsigned i = 0; i < s->pk_n; i++) {
        uint32_t v = s->pk_end[i];
        in[i * 4] = (unsigned char)v, in[i * 4 + 1] = (unsigned char)(v >> 8);
        in[i * 4 + 2] = (unsigned char)(v >> 16), in[i * 4 + 3] = (unsigned char)(v >> 24);
    }
    memcpy(in + head, s->pk.p, s->pk.len);
    int64_t id = s->pk_first;
    unsigned n = s->pk_n;
    s->pk_n = 0;
    buf_clear(&s->pk);
    int rc = pack_collect(s, true);
    struct packer *k = later && rc == SQLITE_OK ? packer_get(s) : NULL;
    if (k) {
        k->job.in = in, k->job.raw = raw, k->job.id = id, k->job.n = n;
        pthread_mutex_lock(&k->mu);
        k->state = PACKER_WORK;
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        return SQLITE_OK;
    }
    if (rc == SQLITE_OK) {
        if (!s->zsync)
            s->zsync = xcalloc(1, sizeof(*s->zsync));
        struct zjob *j = s->zsync;
        j->in = in, j->raw = raw, j->id = id, j->n = n;
        zjob_compress(j);
        rc = zjob_insert(s, j);
        j->in = NULL;
    }
    free(in);
    return rc;
}

int store_pack_add(struct stoat_store *s, const char *rec, size_t n, int64_t *num)
{
    if (s->pk_n && s->pk.len + n > UINT32_MAX / 2) {
        int rc = store_pack_flush(s, true);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (!s->pk_n)
        s->pk_first = s->next_event;
    buf_put(&s->pk, rec, n);
    s->pk_end[s->pk_n++] = (uint32_t)s->pk.len;
    *num = s->next_event++;
    if (s->pk_n == PACK_EVENTS || s->pk.len >= PACK_RAW_MAX)
        return store_pack_flush(s, true);
    return SQLITE_OK;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Unpacks the pack holding ev into s->rp (kept for the next call: the
 * report reads events in order). *found is false when there is none or it
 * is damaged. */
static int pack_load(struct stoat_store *s, int64_t ev, bool *found)
{
    *found = false;
    if (s->rp_n && ev >= s->rp_id && ev - s->rp_id < (int64_t)s->rp_n) {
        *found = true;
        return SQLITE_OK;
    }
    if (!s->rp_get && !(s->rp_get = store_prepare(s, "SELECT id, n, raw, data FROM event_packs WHERE id <= ?1"
                                                     " ORDER BY id DESC LIMIT 1")))
        return SQLITE_ERROR;
    sqlite3_stmt *st = s->rp_get;
    sqlite3_bind_int64(st, 1, ev);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1), raw = sqlite3_column_int64(st, 2);
        const void *zd = sqlite3_column_blob(st, 3);
        int zn = sqlite3_column_bytes(st, 3);
        s->rp_n = 0;
        buf_clear(&s->rp);
        bool ok = n > 0 && n <= PACK_EVENTS && ev - id < n && raw >= n * 4 && raw <= (int64_t)PACK_READ_MAX && zd;
        if (ok) {
            buf_reserve(&s->rp, (size_t)raw);
            z_stream z;
            memset(&z, 0, sizeof(z));
            ok = inflateInit2(&z, -15) == Z_OK;
            if (ok) {
                z.next_in = (unsigned char *)zd;
                z.avail_in = (uInt)zn;
                z.next_out = (unsigned char *)s->rp.p;
                z.avail_out = (uInt)raw;
                /* exactly raw bytes, no more: a pack that lies is damaged */
                ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.avail_out == 0;
                inflateEnd(&z);
            }
        }
        if (ok) {
            s->rp.len = (size_t)raw;
            /* the ends must rise and stay inside */
            const unsigned char *o = (const unsigned char *)s->rp.p;
            uint32_t last = 0;
            for (int64_t i = 0; i < n && ok; i++) {
                uint32_t v = le32(o + i * 4);
                ok = v >= last && v <= (uint64_t)raw - (uint64_t)n * 4;
                last = v;
            }
        }
        if (ok) {
            s->rp_id = id;
            s->rp_n = (unsigned)n;
            *found = true;
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return rc;
}

int store_event_json(struct stoat_store *s, int64_t ev, struct buf *b)
{
    bool found = false;
    int rc = ev > 0 ? pack_load(s, ev, &found) : SQLITE_OK;
    if (rc != SQLITE_OK || !found) {
        buf_puts(b, "null");
        return rc;
    }
    const unsigned char *o = (const unsigned char *)s->rp.p;
    size_t k = (size_t)(ev - s->rp_id), head = (size_t)s->rp_n * 4;
    uint32_t from = k ? le32(o + (k - 1) * 4) : 0, to = le32(o + k * 4);
    const char *rec = s->rp.p + head + from;
    size_t n = to - from;
    /* our writer made it, but the file may not be ours any more */
    if (!s->rp_valid && !(s->rp_valid = store_prepare(s, "SELECT json_valid(?1) AND json_type(?1) = 'object'")))
        return SQLITE_ERROR;
    sqlite3_stmt *v = s->rp_valid;
    sqlite3_bind_text(v, 1, rec, (int)n, SQLITE_STATIC);
    bool valid = sqlite3_step(v) == SQLITE_ROW && sqlite3_column_int(v, 0) == 1;
    sqlite3_reset(v);
    if (valid)
        buf_put(b, rec, n);
    else
        buf_puts(b, "null");
    return SQLITE_OK;
}

int store_packs_migrate(struct stoat_store *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT id, file, format, record, line, offset, channel, event_id,"
                                " CASE WHEN json_valid(fields) THEN fields END FROM events ORDER BY id",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (!s->st[ST_PACK_PUT] &&
        (rc = sqlite3_prepare_v2(s->db, store_sql_pack_put, -1, &s->st[ST_PACK_PUT], NULL)) != SQLITE_OK) {
        sqlite3_finalize(st);
        return rc;
    }
    struct buf r = {0};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (s->pk_n && id != s->next_event && (rc = store_pack_flush(s, false)) != SQLITE_OK)
            break;
        s->next_event = id;
        buf_clear(&r);
        buf_puts(&r, "{\"file\":");
        json_col_text(&r, st, 1);
        buf_puts(&r, ",\"format\":");
        json_col_text(&r, st, 2);
        static const char *const ints[] = {"record", "line", "offset"};
        for (int c = 0; c < 3; c++) {
            buf_printf(&r, ",\"%s\":", ints[c]);
            json_col_int(&r, st, 3 + c);
        }
        buf_puts(&r, ",\"channel\":");
        json_col_text(&r, st, 6);
        buf_puts(&r, ",\"event_id\":");
        json_col_text(&r, st, 7);
        buf_puts(&r, ",\"fields\":");
        if (sqlite3_column_type(st, 8) == SQLITE_NULL)
            buf_puts(&r, "{}");
        else
            buf_put(&r, sqlite3_column_text(st, 8), (size_t)sqlite3_column_bytes(st, 8));
        buf_putc(&r, '}');
        int64_t num;
        if ((rc = store_pack_add(s, r.p, r.len, &num)) != SQLITE_OK)
            break;
    }
    if (rc == SQLITE_DONE)
        rc = store_pack_flush(s, false);
    sqlite3_finalize(st);
    sqlite3_finalize(s->st[ST_PACK_PUT]);
    s->st[ST_PACK_PUT] = NULL;
    buf_free(&r);
    s->next_event = 0;
    if (rc == SQLITE_OK)
        rc = store_exec(s, "DROP TABLE events");
    return rc;
}

/* ------------------------------------------------------------ the writer's numbering */

int store_packs_next(struct stoat_store *s, int64_t *next)
{
    return store_pragma_int(s, "SELECT id + n FROM event_packs ORDER BY id DESC LIMIT 1", next);
}

void store_packs_drop(struct stoat_store *s)
{
    pack_collect(s, false);
    s->pk_n = 0;
    buf_clear(&s->pk);
    s->next_event = s->tx_next_event;
}

void store_packs_close(struct stoat_store *s)
{
    sqlite3_finalize(s->rp_get);
    sqlite3_finalize(s->rp_valid);
    s->rp_get = s->rp_valid = NULL;
    packer_stop(s);
    zjob_free(s->zsync);
    free(s->zsync);
    s->zsync = NULL;
    buf_free(&s->pk);
    buf_free(&s->rp);
}
