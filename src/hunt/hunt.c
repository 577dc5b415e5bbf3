/* The hunt pipeline: one reading thread, N matching workers, one writer.
 *
 *   reading thread --units--> workers --units with results--> writer --> sinks
 *
 * The reading thread fills a fixed pool of units (so memory is bounded by
 * the pool whatever the input size); a worker parses a unit, matches its
 * events and serialises what the writer needs (matches, bad-record notes) into
 * the unit's output buffer, because the event's memory is gone by the time
 * the writer runs. The writer takes units strictly in sequence, so alerts come
 * out in input order whatever the thread count. With one thread everything
 * runs inline, without queues. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "engine/engine.h"
#include "hunt/consume.h"
#include "readers/reader.h"
#include "stoat/hunt.h"
#include "util/fs.h"
#include "util/text.h"

#define MAX_SINKS 8

struct worker;

struct stoat_hunt {
    const struct stoat_ruleset *rs;
    struct stoat_hunt_opts opts;
    struct stoat_sink sinks[MAX_SINKS];
    size_t nsinks;
    struct stoat_hunt_stats stats;
    unsigned nthreads;
    /* pipeline */
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done, cv_free;
    struct unit *units;
    size_t nunits;
    struct unit **freel;
    size_t nfree;
    struct unit **work;        /* FIFO ring */
    size_t work_head, work_n;
    struct unit **done;        /* slot seq % nunits */
    uint64_t next_seq;         /* to dispatch */
    bool producing_done;
    stoat_err sink_err;
    /* writer state */
    struct input_file *wfile;  /* file of the previous unit seen by the writer */
    uint64_t wrecords;         /* records of that file before the unit */
    struct stoat_field *wfields;
    size_t wfields_cap;
    struct consumer con;       /* the serial stage: process trees, chains, sinks */
    uint32_t *wrules;
    uint8_t *wuse;
    size_t wrules_cap;
    /* progress */
    uint64_t bytes_before;     /* bytes of finished inputs */
};

struct reader_ws {
    const struct reader_ops *ops;
    void *state;
};

struct worker {
    struct stoat_hunt *h;
    struct engine_ctx *eng;
    struct reader_ws ws[8];
    size_t nws;
    struct unit *u;            /* being parsed */
    uint64_t record, line, offset;
    pthread_t th;
    struct engine_counters counters;
    uint32_t *rules;           /* classify_matches' output */
    uint8_t *use;
    size_t cap;
};

/* ------------------------------------------------------------- records */

enum { REC_MATCH = 'M', REC_DIAG = 'D', REC_PROC = 'P' };

static void put_u32(struct buf *b, uint32_t v) { buf_put(b, &v, sizeof(v)); }
static void put_u64(struct buf *b, uint64_t v) { buf_put(b, &v, sizeof(v)); }
static void put_i32(struct buf *b, int32_t v) { buf_put(b, &v, sizeof(v)); }
static void put_str(struct buf *b, const char *s, uint32_t n)
{
    put_u32(b, n);
    buf_put(b, s, n);
    buf_putc(b, 0);
}

static uint32_t get_u32(const char **p)
{
    uint32_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}
static uint64_t get_u64(const char **p)
{
    uint64_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}
static int32_t get_i32(const char **p)
{
    int32_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}
static const char *get_str(const char **p, uint32_t *n)
{
    *n = get_u32(p);
    if (*n == UINT32_MAX) {   /* absent (NO_STR) */
        *n = 0;
        return NULL;
    }
    const char *s = *p;
    *p += *n + 1;
    return s;
}



/* ---------------------------------------------------------- event sink */

static void ws_begin(void *ctx, uint64_t record, uint64_t line, uint64_t offset)
{
    struct worker *w = ctx;
    engine_event_begin(w->eng);
    if (w->u->file->product)
        engine_event_product(w->eng, w->u->file->product);
    w->record = record;
    w->line = line;
    w->offset = offset;
}

static char *ws_scratch(void *ctx, size_t n)
{
    return engine_scratch(((struct worker *)ctx)->eng, n);
}

static uint32_t ws_field_id(void *ctx, const char *name, size_t len)
{
    return engine_field_id(((struct worker *)ctx)->eng, name, len);
}

static bool ws_field(void *ctx, const char *name, uint32_t nlen, uint32_t id, const char *val, uint32_t vlen,
                     uint8_t type)
{
    return engine_event_add(((struct worker *)ctx)->eng, name, nlen, id, val, vlen, type);
}

static int32_t index_of(const struct ev_field *base, const struct ev_field *f)
{
    return f ? (int32_t)(f - base) : -1;
}

static const struct ev_field *first_of(struct engine_ctx *e, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ev_field *f = engine_event_get(e, ids[i]);
        if (f && f->type != STOAT_V_NULL)
            return f;
    }
    return NULL;
}

#define NO_STR UINT32_MAX

/* A string that may be absent. */
static void put_opt(struct buf *b, const struct ev_field *f)
{
    if (!f || f->type == STOAT_V_NULL)
        put_u32(b, NO_STR);
    else
        put_str(b, f->val, f->val_len);
}

static const struct ev_field *get_id(struct engine_ctx *e, uint32_t id)
{
    const struct ev_field *f = id == FIELD_UNKNOWN ? NULL : engine_event_get(e, id);
    return f && f->type != STOAT_V_NULL ? f : NULL;
}

static void ws_end(void *ctx)
{
    struct worker *w = ctx;
    const struct stoat_ruleset *rs = w->h->rs;
    struct engine_ctx *eng = w->eng;
    struct buf *b = &w->u->out;
    const uint32_t *rules;
    size_t n = engine_event_match(eng, &rules);
    const struct ev_field *host = first_of(eng, rs->host_ids, rs->nhost_ids);
    const struct ev_field *ts = first_of(eng, rs->ts_ids, rs->nts_ids);

    /* process starts and ends feed the writer's process table, matched or not */
    int spec = engine_event_procspec(eng);
    if (spec >= 0) {
        const struct proc_spec *ps = &rs->procs[spec];
        buf_putc(b, REC_PROC);
        buf_putc(b, (char)ps->end);
        put_opt(b, host);
        put_opt(b, ts);
        for (int f = 0; f < PF_COUNT; f++)
            put_opt(b, get_id(eng, ps->f[f]));
    }
    /* rules to report, and rules whose matches feed correlations or behaviour */
    if (n > w->cap) {
        w->cap = n;
        w->rules = xrealloc(w->rules, n * sizeof(*w->rules));
        w->use = xrealloc(w->use, n * sizeof(*w->use));
    }
    size_t nk = classify_matches(rs, w->h->opts.min_level, rules, n, w->rules, w->use);
    if (!nk && !w->h->opts.all_events)
        return;
    buf_putc(b, REC_MATCH);
    put_u32(b, (uint32_t)nk);
    for (size_t i = 0; i < nk; i++) {
        put_u32(b, w->rules[i]);
        buf_putc(b, (char)w->use[i]);
    }
    const struct ev_field *fs;
    size_t nf = engine_event_fields(eng, &fs);
    put_u64(b, w->record);
    put_u64(b, w->line);
    put_u64(b, w->offset);
    put_i32(b, index_of(fs, ts));
    put_i32(b, index_of(fs, host));
    put_i32(b, index_of(fs, first_of(eng, rs->channel_ids, rs->nchannel_ids)));
    put_i32(b, index_of(fs, first_of(eng, rs->eid_ids, rs->neid_ids)));
    /* the process the event is about: a start names the new process itself */
    const struct ev_field *guid, *pid, *logon;
    if (spec >= 0 && !rs->procs[spec].end) {
        guid = get_id(eng, rs->procs[spec].f[PF_GUID]);
        pid = get_id(eng, rs->procs[spec].f[PF_PID]);
        logon = get_id(eng, rs->procs[spec].f[PF_LOGON_ID]);
    } else {
        guid = first_of(eng, rs->actor_ids[AF_GUID], rs->nactor_ids[AF_GUID]);
        pid = first_of(eng, rs->actor_ids[AF_PID], rs->nactor_ids[AF_PID]);
        logon = first_of(eng, rs->actor_ids[AF_LOGON_ID], rs->nactor_ids[AF_LOGON_ID]);
    }
    put_opt(b, guid);
    put_opt(b, pid);
    put_opt(b, logon);
    put_u32(b, (uint32_t)nf);
    for (size_t i = 0; i < nf; i++) {
        put_str(b, fs[i].name, fs[i].name_len);
        put_str(b, fs[i].val, fs[i].val_len);
        buf_putc(b, (char)fs[i].type);
    }
}

static void ws_bad(void *ctx, uint64_t line, uint64_t offset, bool has_offset, bool warning, const char *why)
{
    struct worker *w = ctx;
    struct buf *b = &w->u->out;
    buf_putc(b, REC_DIAG);
    buf_putc(b, (char)warning);
    put_u64(b, line);
    put_u64(b, offset);
    buf_putc(b, (char)has_offset);
    put_str(b, why, (uint32_t)strlen(why));
}

static void *reader_state(struct worker *w, const struct reader_ops *ops)
{
    for (size_t i = 0; i < w->nws; i++)
        if (w->ws[i].ops == ops)
            return w->ws[i].state;
    if (w->nws == sizeof(w->ws) / sizeof(w->ws[0]))
        return NULL;
    w->ws[w->nws].ops = ops;
    w->ws[w->nws].state = ops->worker_create(w->h->rs->map);
    return w->ws[w->nws++].state;
}

static void process_unit(struct worker *w, struct unit *u)
{
    if (!u->len && !u->map)
        return;
    w->u = u;
    struct event_sink sink = {
        .ctx = w, .begin = ws_begin, .scratch = ws_scratch, .field_id = ws_field_id, .field = ws_field,
        .end = ws_end, .bad = ws_bad, .map = w->h->rs->map,
    };
    void *st = reader_state(w, u->file->reader);
    if (st)
        u->file->reader->parse(st, u, &sink);
}

static void worker_init(struct worker *w, struct stoat_hunt *h)
{
    memset(w, 0, sizeof(*w));
    w->h = h;
    w->eng = engine_ctx_create(h->rs);
}

static void worker_fini(struct worker *w)
{
    engine_counters(w->eng, &w->counters);
    engine_regex_limited_add(w->eng, &w->h->con.regex_limited);
    for (size_t i = 0; i < w->nws; i++)
        w->ws[i].ops->worker_destroy(w->ws[i].state);
    engine_ctx_destroy(w->eng);
    free(w->rules);
    free(w->use);
}

/* -------------------------------------------------------------- writer */

static void report(struct stoat_hunt *h, enum stoat_severity sev, stoat_err code, const char *file, uint64_t line,
                   uint64_t offset, bool has_offset, const char *msg)
{
    if (!h->opts.diag)
        return;
    struct stoat_diag d = {.code = code, .severity = sev, .file = file, .line = line, .offset = offset,
                           .has_offset = has_offset, .message = msg};
    h->opts.diag(h->opts.diag_ctx, &d);
}

static void write_unit(struct stoat_hunt *h, struct unit *u)
{
    if (u->file != h->wfile) {
        h->wfile = u->file;
        h->wrecords = 0;
    }
    /* A note is a diagnostic only: the records it skipped are the reader's
     * to count (u->skipped), and a read error is counted in files_failed. */
    if (u->note[0])
        report(h, STOAT_SEV_ERROR, STOAT_ERR_INPUT, u->file->name, u->note_line, 0, false, u->note);
    const char *p = u->out.p, *end = p ? p + u->out.len : NULL;
    while (p && p < end) {
        char kind = *p++;
        if (kind == REC_DIAG) {
            bool warning = *p++;
            uint64_t line = get_u64(&p), offset = get_u64(&p);
            bool has_offset = *p++;
            uint32_t n;
            const char *msg = get_str(&p, &n);
            report(h, warning ? STOAT_SEV_WARNING : STOAT_SEV_ERROR, STOAT_ERR_INPUT, u->file->name, line, offset,
                   has_offset, msg);
            continue;
        }
        if (kind == REC_PROC) {
            bool is_end = *p++;
            uint32_t hl, tl, fl[PF_COUNT];
            const char *hs = get_str(&p, &hl), *tss = get_str(&p, &tl), *fv[PF_COUNT];
            for (int f = 0; f < PF_COUNT; f++)
                fv[f] = get_str(&p, &fl[f]);
            consumer_proc(&h->con, is_end, hs, consume_time(tss, tl), fv, fl);
            continue;
        }
        uint32_t nr = get_u32(&p);
        if (nr > h->wrules_cap) {
            h->wrules_cap = nr;
            h->wrules = xrealloc(h->wrules, nr * sizeof(*h->wrules));
            h->wuse = xrealloc(h->wuse, nr * sizeof(*h->wuse));
        }
        for (uint32_t i = 0; i < nr; i++) {
            h->wrules[i] = get_u32(&p);
            h->wuse[i] = (uint8_t)*p++;
        }
        uint64_t record = get_u64(&p), line = get_u64(&p), offset = get_u64(&p);
        int32_t ts = get_i32(&p), host = get_i32(&p), chan = get_i32(&p), eid = get_i32(&p);
        uint32_t gl, pl, ll;
        const char *guid = get_str(&p, &gl), *pid = get_str(&p, &pl), *logon = get_str(&p, &ll);
        uint32_t nf = get_u32(&p);
        if (nf > h->wfields_cap) {
            h->wfields_cap = nf;
            h->wfields = xrealloc(h->wfields, nf * sizeof(*h->wfields));
        }
        for (uint32_t i = 0; i < nf; i++) {
            struct stoat_field *f = &h->wfields[i];
            f->name = get_str(&p, &f->name_len);
            f->value = get_str(&p, &f->value_len);
            f->type = (uint8_t)*p++;
        }
        struct stoat_alert a = {
            .pos = {.file = u->file->name, .format = u->file->reader->name, .record = h->wrecords + record,
                    .line = line, .offset = offset},
            .timestamp = ts >= 0 ? h->wfields[ts].value : NULL,
            .time_ns = ts >= 0 ? consume_time(h->wfields[ts].value, h->wfields[ts].value_len) : INT64_MIN,
            .host = host >= 0 ? h->wfields[host].value : NULL,
            .channel = chan >= 0 ? h->wfields[chan].value : NULL,
            .event_id = eid >= 0 ? h->wfields[eid].value : NULL,
            .fields = h->wfields,
            .nfields = nf,
        };
        struct actor who = {.guid = guid, .pid = consume_pid(pid, pl), .logon_id = logon};
        consumer_event(&h->con, &a, h->wrules, h->wuse, nr, &who);
    }
    h->stats.records += u->records;
    h->stats.events += u->events;
    h->stats.skipped += u->skipped;
    h->wrecords += u->records;
    if (u->last) {
        /* The file is freed with this unit and the next one may get its
         * address: forget it here rather than compare pointers later. */
        h->wfile = NULL;
        h->wrecords = 0;
    }
}

/* ------------------------------------------------------------ pipeline */

static void unit_reset(struct unit *u)
{
    if (u->cap > 4 * (size_t)UNIT_BYTES) {
        /* a huge record grew it: give the memory back */
        free(u->data);
        u->data = NULL;
        u->cap = 0;
    }
    u->len = 0;
    u->map = NULL;
    u->map_len = 0;
    u->part_begin = u->part_end = 0;
    u->last = false;
    u->note[0] = 0;
    u->note_line = 0;
    u->mode = 0;
    u->first_line = 0;
    u->file_offset = 0;
    buf_clear(&u->out);
    u->records = u->events = u->skipped = 0;
}

static struct unit *take_free(struct stoat_hunt *h)
{
    pthread_mutex_lock(&h->mu);
    while (h->nfree == 0)
        pthread_cond_wait(&h->cv_free, &h->mu);
    struct unit *u = h->freel[--h->nfree];
    pthread_mutex_unlock(&h->mu);
    unit_reset(u);
    return u;
}

static void dispatch(struct stoat_hunt *h, struct unit *u)
{
    pthread_mutex_lock(&h->mu);
    u->seq = h->next_seq++;
    h->work[(h->work_head + h->work_n) % h->nunits] = u;
    h->work_n++;
    pthread_cond_signal(&h->cv_work);
    pthread_mutex_unlock(&h->mu);
}

static void *worker_main(void *arg)
{
    struct worker *w = arg;
    struct stoat_hunt *h = w->h;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        while (h->work_n == 0 && !h->producing_done)
            pthread_cond_wait(&h->cv_work, &h->mu);
        if (h->work_n == 0) {
            pthread_mutex_unlock(&h->mu);
            break;
        }
        struct unit *u = h->work[h->work_head];
        h->work_head = (h->work_head + 1) % h->nunits;
        h->work_n--;
        pthread_mutex_unlock(&h->mu);
        process_unit(w, u);
        pthread_mutex_lock(&h->mu);
        h->done[u->seq % h->nunits] = u;
        pthread_cond_broadcast(&h->cv_done);
        pthread_mutex_unlock(&h->mu);
    }
    return NULL;
}

static void release_file(struct input_file *f)
{
    if (f->reader && f->reader->release)
        f->reader->release(f);
    free((char *)f->name);
    free(f);
}

static void *writer_main(void *arg)
{
    struct stoat_hunt *h = arg;
    uint64_t next = 0;
    for (;;) {
        pthread_mutex_lock(&h->mu);
        struct unit *u;
        while (!(u = h->done[next % h->nunits]) || u->seq != next) {
            if (h->producing_done && next == h->next_seq) {
                pthread_mutex_unlock(&h->mu);
                return NULL;
            }
            pthread_cond_wait(&h->cv_done, &h->mu);
        }
        h->done[next % h->nunits] = NULL;
        pthread_mutex_unlock(&h->mu);
        write_unit(h, u);
        if (u->last)
            release_file(u->file);
        next++;
        pthread_mutex_lock(&h->mu);
        h->freel[h->nfree++] = u;
        pthread_cond_signal(&h->cv_free);
        pthread_mutex_unlock(&h->mu);
    }
}

/* --------------------------------------------------------------- inputs */

struct run {
    struct stoat_hunt *h;
    struct worker *inline_worker;    /* one thread: parse where we read */
    bool in_dir;                     /* unknown formats inside directories are notes */
};

static void run_unit(struct run *r, struct unit *u)
{
    struct stoat_hunt *h = r->h;
    if (r->inline_worker) {
        process_unit(r->inline_worker, u);
        write_unit(h, u);
        if (u->last)
            release_file(u->file);
        h->freel[h->nfree++] = u;
        return;
    }
    dispatch(h, u);
}

static struct unit *get_unit(struct run *r)
{
    struct stoat_hunt *h = r->h;
    if (r->inline_worker) {
        struct unit *u = h->freel[--h->nfree];
        unit_reset(u);
        return u;
    }
    return take_free(h);
}

static void progress(struct stoat_hunt *h, struct input *in, uint64_t total)
{
    if (h->opts.progress)
        h->opts.progress(h->opts.progress_ctx, h->bytes_before + input_raw_pos(in), total);
}

static int hunt_file(void *ctx, const char *path)
{
    struct run *r = ctx;
    struct stoat_hunt *h = r->h;
    char why[256];
    struct input *in = input_open(path, why, sizeof(why));
    if (!in) {
        report(h, STOAT_SEV_ERROR, STOAT_ERR_IO, path, 0, 0, false, why);
        h->stats.files_failed++;
        return 0;
    }
    const unsigned char *head;
    size_t nh = input_peek(in, &head);
    const struct reader_ops *ops = reader_detect(head, nh);
    if (!ops) {
        if (nh == 0) {
            h->stats.files++;   /* an empty file: nothing to read, nothing wrong */
        } else if (r->in_dir) {
            report(h, STOAT_SEV_NOTE, STOAT_ERR_FORMAT, path, 0, 0, false, "not an event log stoat reads; skipped");
            h->stats.files_skipped++;
        } else {
            report(h, STOAT_SEV_ERROR, STOAT_ERR_FORMAT, path, 0, 0, false,
                   "not a format stoat reads (EVTX, JSON lines, JSON arrays, JSON objects, auditd logs, "
                   "Sysmon for Linux syslog; gzip or not)");
            h->stats.files_failed++;
        }
        input_close(in);
        return 0;
    }
    struct input_file *f = xcalloc(1, sizeof(*f));
    f->name = xstrdup(path);
    f->reader = ops;
    f->host = h->opts.host;
    if (ops->open(f, in, why, sizeof(why))) {
        report(h, STOAT_SEV_ERROR, STOAT_ERR_INPUT, path, 0, 0, false, why);
        h->stats.files_failed++;
        release_file(f);
        input_close(in);
        return 0;
    }
    h->stats.files++;
    uint64_t total = input_raw_size(in);
    for (;;) {
        struct unit *u = get_unit(r);
        u->file = f;
        int rc = ops->fill(f, in, u, why, sizeof(why));
        progress(h, in, total);
        if (rc <= 0) {
            if (rc < 0) {
                snprintf(u->note, sizeof(u->note), "read error, the rest of the file is skipped: %s", why);
                h->stats.files_failed++;
            }
            /* Done reading: close before the last unit goes out, because
             * whoever writes that unit frees f. */
            ops->close(f);
            u->last = true;   /* what the failed read left in the unit is still parsed */
            run_unit(r, u);
            break;
        }
        run_unit(r, u);
    }
    h->bytes_before += input_raw_pos(in);
    h->stats.bytes += input_raw_pos(in);
    input_close(in);
    return 0;
}

static void walk_err(void *ctx, const char *path, const char *why)
{
    struct run *r = ctx;
    report(r->h, STOAT_SEV_ERROR, STOAT_ERR_IO, path, 0, 0, false, why);
    r->h->stats.files_failed++;
}

/* ------------------------------------------------------------------ API */

stoat_err stoat_hunt_create(const struct stoat_ruleset *rs, const struct stoat_hunt_opts *opts,
                            struct stoat_hunt **out)
{
    *out = NULL;
    if (!rs)
        return STOAT_ERR_ARG;
    struct stoat_hunt *h = xcalloc(1, sizeof(*h));
    h->rs = rs;
    if (opts)
        h->opts = *opts;
    h->nthreads = h->opts.threads;
    if (!h->nthreads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        h->nthreads = n > 0 ? (unsigned)n : 1;
    }
    if (h->nthreads > 256)
        h->nthreads = 256;
    *out = h;
    return STOAT_OK;
}

stoat_err stoat_hunt_add_sink(struct stoat_hunt *h, const struct stoat_sink *sink)
{
    if (h->nsinks >= MAX_SINKS)
        return STOAT_ERR_LIMIT;
    h->sinks[h->nsinks++] = *sink;
    return STOAT_OK;
}

stoat_err stoat_hunt_run(struct stoat_hunt *h, const char *const *paths, size_t npaths)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t s = 0; s < h->nsinks; s++)
        if (h->sinks[s].begin)
            h->sinks[s].begin(h->sinks[s].ctx);
    consumer_init(&h->con, h->rs, h->sinks, h->nsinks, &h->opts, &h->stats);

    bool threaded = h->nthreads > 1;
    h->nunits = threaded ? 2 * (size_t)h->nthreads + 2 : 1;
    h->units = xcalloc(h->nunits, sizeof(*h->units));
    h->freel = xcalloc(h->nunits, sizeof(*h->freel));
    h->work = xcalloc(h->nunits, sizeof(*h->work));
    h->done = xcalloc(h->nunits, sizeof(*h->done));
    for (size_t i = 0; i < h->nunits; i++)
        h->freel[h->nfree++] = &h->units[i];
    pthread_mutex_init(&h->mu, NULL);
    pthread_cond_init(&h->cv_work, NULL);
    pthread_cond_init(&h->cv_done, NULL);
    pthread_cond_init(&h->cv_free, NULL);

    struct worker *workers = xcalloc(h->nthreads, sizeof(*workers));
    struct run r = {.h = h};
    pthread_t writer;
    size_t started = 0;
    if (threaded) {
        for (unsigned i = 0; i < h->nthreads; i++) {
            worker_init(&workers[i], h);
            if (pthread_create(&workers[i].th, NULL, worker_main, &workers[i]) == 0)
                started++;
        }
        if (pthread_create(&writer, NULL, writer_main, h) != 0 || started == 0)
            threaded = false;   /* cannot happen in practice; keep going inline */
    }
    if (!threaded) {
        if (!started)
            worker_init(&workers[0], h);
        r.inline_worker = &workers[0];
    }

    for (size_t i = 0; i < npaths; i++) {
        if (strcmp(paths[i], "-") == 0) {
            r.in_dir = false;
            hunt_file(&r, "-");
        } else if (fs_is_dir(paths[i])) {
            r.in_dir = true;
            fs_walk(paths[i], NULL, hunt_file, walk_err, &r);
        } else {
            r.in_dir = false;
            hunt_file(&r, paths[i]);
        }
    }

    if (threaded) {
        pthread_mutex_lock(&h->mu);
        h->producing_done = true;
        pthread_cond_broadcast(&h->cv_work);
        pthread_cond_broadcast(&h->cv_done);
        pthread_mutex_unlock(&h->mu);
        for (unsigned i = 0; i < h->nthreads; i++)
            if (i < started)
                pthread_join(workers[i].th, NULL);
        pthread_join(writer, NULL);
    }
    size_t nw = threaded ? started : 1;
    for (size_t i = 0; i < (threaded ? h->nthreads : 1); i++) {
        worker_fini(&workers[i]);
        if (i < nw) {
            h->stats.unrouted += workers[i].counters.unrouted;
            h->stats.evaluated += workers[i].counters.evaluated;
            h->stats.candidates += workers[i].counters.candidates;
        }
    }
    free(workers);
    for (size_t i = 0; i < h->nunits; i++) {
        free(h->units[i].data);
        buf_free(&h->units[i].out);
    }
    free(h->units);
    free(h->freel);
    free(h->work);
    free(h->done);
    h->units = NULL;
    pthread_mutex_destroy(&h->mu);
    pthread_cond_destroy(&h->cv_work);
    pthread_cond_destroy(&h->cv_done);
    pthread_cond_destroy(&h->cv_free);

    consumer_fini(&h->con, &h->opts);
    if (h->con.err && !h->sink_err)
        h->sink_err = h->con.err;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    h->stats.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    stoat_err err = h->sink_err;
    for (size_t s = 0; s < h->nsinks; s++)
        if (h->sinks[s].end) {
            stoat_err e = h->sinks[s].end(h->sinks[s].ctx, &h->stats);
            if (e && !err)
                err = e;
        }
    return err;
}

void stoat_hunt_stats(const struct stoat_hunt *h, struct stoat_hunt_stats *out)
{
    *out = h->stats;
}

void stoat_hunt_destroy(struct stoat_hunt *h)
{
    if (!h)
        return;
    for (size_t s = 0; s < h->nsinks; s++)
        if (h->sinks[s].destroy)
            h->sinks[s].destroy(h->sinks[s].ctx);
    free(h->wfields);
    free(h->wrules);
    free(h->wuse);
    free(h);
}
