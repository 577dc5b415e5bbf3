/* The writer's thread and its queue: what producers hand the store.
 *
 * Why it works this way:
 * - A producer (a hunt's writer stage, the live sensor) must not be held up
 *   by SQLite, so stoat_store_put_alert and _put_incident copy what they
 *   are given into a job, with what can be worked out from the alert alone
 *   (store_alert_prepare), queue it and return; the writer's thread writes
 *   the jobs in order. A full queue (QUEUE_MAX) makes the producer wait.
 * - Every other call first waits until the queue is written and committed
 *   (store_quiesce), so the connection is only ever used by one thread at
 *   a time, and what a call returns for is in the file.
 * - Jobs are cut from chunks of a megabyte, not malloc'd one by one: a
 *   malloc and a free per alert, the free on another thread, cost more
 *   than the copy.
 * - The rules an alert names are copied once (rule_snap): a watch frees
 *   its old ruleset after a reload while alerts of it may still wait.
 * - An open batch is committed after batch_ms even if nothing else comes,
 *   so a live producer's last alert is not kept back. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/alert.h"
#include "store/db.h"
#include "store/marks.h"
#include "store/queue.h"
#include "store/writer.h"
#include "util/mem.h"

/* A rule as the producer gave it, copied: a watch frees its old ruleset
 * after a reload while alerts of it may still wait in the queue. */
struct rule_snap {
    const struct stoat_rule_meta *src;
    struct stoat_rule_meta m;
    struct arena mem;
};

static const char *snap_str(struct arena *a, const char *v)
{
    if (!v)
        return NULL;
    size_t n = strlen(v);
    char *p = arena_alloc(a, n + 1);
    memcpy(p, v, n + 1);
    return p;
}

static struct stoat_strlist snap_list(struct arena *a, struct stoat_strlist l)
{
    const char **items = arena_alloc(a, (l.n ? l.n : 1) * sizeof(*items));
    for (size_t i = 0; i < l.n; i++)
        items[i] = snap_str(a, l.items[i]);
    return (struct stoat_strlist){items, l.n};
}

static bool str_same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The copy of r (made on first sight; a freed rule's address given again
 * to another rule is told apart by its id, title, level and file). */
static const struct stoat_rule_meta *rule_snap(struct stoat_store *s, const struct stoat_rule_meta *r)
{
    for (size_t i = s->nsnaps; i-- > 0;) {
        struct rule_snap *k = s->snaps[i];
        if (k->src == r && k->m.level == r->level && k->m.kind == r->kind && str_same(k->m.id, r->id) &&
            str_same(k->m.title, r->title) && str_same(k->m.file, r->file))
            return &k->m;
    }
    struct rule_snap *k = xcalloc(1, sizeof(*k));
    arena_init(&k->mem, 1024);
    k->src = r;
    k->m = (struct stoat_rule_meta){.kind = r->kind, .level = r->level, .status = r->status};
    k->m.id = snap_str(&k->mem, r->id);
    k->m.name = snap_str(&k->mem, r->name);
    k->m.title = snap_str(&k->mem, r->title);
    k->m.description = snap_str(&k->mem, r->description);
    k->m.product = snap_str(&k->mem, r->product);
    k->m.category = snap_str(&k->mem, r->category);
    k->m.service = snap_str(&k->mem, r->service);
    k->m.file = snap_str(&k->mem, r->file);
    k->m.tags = snap_list(&k->mem, r->tags);
    k->m.attack_ids = snap_list(&k->mem, r->attack_ids);
    k->m.attack_tactics = snap_list(&k->mem, r->attack_tactics);
    XGROW(s->snaps, s->capsnaps, s->nsnaps + 1);
    s->snaps[s->nsnaps++] = k;
    return &k->m;
}

enum {
    JOB_ALERT,
    JOB_INCIDENT,
    JOB_MARK
};

/* Jobs are cut from chunks of CHUNK_BYTES (a malloc and a free per alert,
 * the free on another thread, cost more than the copy); a chunk goes when
 * the producer has left it and the writer has done all its jobs. */
#define CHUNK_BYTES (1u << 20)
struct job_chunk {
    atomic_size_t refs; /* its jobs not yet written, + 1 while the producer fills it */
    size_t used, cap;
    _Alignas(16) char data[];
};

static void chunk_unref(struct job_chunk *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        free(c);
}

/* What was put, copied into its chunk. */
struct store_job {
    struct store_job *next;
    struct job_chunk *chunk;
    int kind;
    struct stoat_alert a;
    struct stoat_corr_detail corr;
    struct stoat_incident inc;
    struct pre pre;
    char data[];
};

struct bump {
    char *p;
    size_t used, cap;
};

static void *bump(struct bump *b, size_t n)
{
    size_t at = (b->used + 7) & ~(size_t)7;
    b->used = at + n;
    return b->p ? b->p + at : NULL; /* NULL while sizing */
}

static const char *bump_str(struct bump *b, const char *v, size_t n)
{
    if (!v)
        return NULL;
    char *p = bump(b, n + 1);
    if (p) {
        memcpy(p, v, n);
        p[n] = 0;
    }
    return p;
}

#define BSTR(b, v) bump_str((b), (v), (v) ? strlen(v) : 0)

/* Copies a (and its pre, rec and text) into j's data; with j NULL only
 * sizes it. */
static size_t job_alert(struct store_job *j, const struct stoat_alert *a, const struct stoat_rule_meta *rule,
                        const struct pre *pr)
{
    struct bump b = {j ? j->data : NULL, 0, 0};
    struct stoat_alert *c = j ? &j->a : &(struct stoat_alert){0};
    *c = *a;
    c->rule = rule;
    c->correlation = a->correlation ? rule : NULL;
    c->pos.file = BSTR(&b, a->pos.file);
    c->pos.format = BSTR(&b, a->pos.format);
    c->timestamp = BSTR(&b, a->timestamp);
    c->host = BSTR(&b, a->host);
    c->channel = BSTR(&b, a->channel);
    c->event_id = BSTR(&b, a->event_id);
    c->logon_id = BSTR(&b, a->logon_id);
    /* fields are not needed by the writer: the record holds the event */
    c->fields = NULL;
    c->nfields = 0;
    c->fields_json = NULL;
    c->fields_json_len = 0;
    size_t nanc = pr->nanc;
    struct stoat_process *anc = bump(&b, nanc * sizeof(*anc));
    for (size_t k = 0; k < nanc; k++) {
        const struct stoat_process *q = &a->ancestry[k];
        struct stoat_process t = {BSTR(&b, q->image), BSTR(&b, q->command_line), BSTR(&b, q->user), NULL, q->pid,
                                  q->start_ns};
        if (anc)
            anc[k] = t;
    }
    c->ancestry = anc;
    c->nancestry = nanc;
    struct pre *p = j ? &j->pre : &(struct pre){0};
    *p = *pr;
    for (size_t k = 0; k < nanc; k++)
        p->guid[k] = BSTR(&b, pr->guid[k]);
    p->rec = bump_str(&b, pr->rec, pr->recn);
    p->text = bump_str(&b, pr->text, pr->textn);
    p->evidence = bump_str(&b, pr->evidence, pr->evidencen);
    /* img, cmd and user point into the ancestry or the fields: copied */
    p->img = bump_str(&b, pr->img, pr->imgn);
    p->cmd = bump_str(&b, pr->cmd, pr->cmdn);
    p->user = bump_str(&b, pr->user, pr->usern);
    if (a->corr) {
        const struct stoat_corr_detail *d = a->corr;
        struct stoat_corr_detail *cd = j ? &j->corr : &(struct stoat_corr_detail){0};
        *cd = *d;
        const char **gn = bump(&b, (d->ngroup ? d->ngroup : 1) * sizeof(char *));
        const char **gv = bump(&b, (d->ngroup ? d->ngroup : 1) * sizeof(char *));
        for (size_t i = 0; i < d->ngroup; i++) {
            const char *n = BSTR(&b, d->group_names[i]), *v = BSTR(&b, d->group_values[i]);
            if (gn)
                gn[i] = n, gv[i] = v;
        }
        uint64_t *ids = bump(&b, (d->nalert_ids ? d->nalert_ids : 1) * sizeof(uint64_t));
        if (ids && d->nalert_ids)
            memcpy(ids, d->alert_ids, d->nalert_ids * sizeof(uint64_t));
        cd->group_names = gn;
        cd->group_values = gv;
        cd->alert_ids = ids;
        cd->evidence = NULL; /* in pre, as JSON */
        cd->nevidence = 0;
        c->corr = j ? &j->corr : NULL;
    }
    return b.used;
}

/* A fleet incident's hosts, account and edges, into c (sizing when the bump
 * has no memory). Only what the store writes is copied: host names, and
 * each host's alerts (id and time: found in the file when another run
 * stored them). */
static void job_incident_fleet(struct bump *b, struct stoat_incident *c, const struct stoat_incident *inc)
{
    c->account = BSTR(b, inc->account);
    struct stoat_incident_host *h = bump(b, (inc->nhosts ? inc->nhosts : 1) * sizeof(*h));
    for (size_t i = 0; i < inc->nhosts; i++) {
        const struct stoat_incident_host *x = &inc->hosts[i];
        const char *name = BSTR(b, x->host);
        size_t n = x->alert_times ? x->nalerts : 0;
        uint64_t *ids = bump(b, (n ? n : 1) * sizeof(*ids));
        int64_t *times = bump(b, (n ? n : 1) * sizeof(*times));
        if (ids && n) {
            memcpy(ids, x->alert_ids, n * sizeof(*ids));
            memcpy(times, x->alert_times, n * sizeof(*times));
        }
        if (h)
            h[i] = (struct stoat_incident_host){
                .host = name, .alert_ids = ids, .alert_times = n ? times : NULL, .nalerts = n};
    }
    c->hosts = h;
    struct stoat_incident_edge *e = bump(b, (inc->nedges ? inc->nedges : 1) * sizeof(*e));
    for (size_t i = 0; i < inc->nedges; i++) {
        const struct stoat_incident_edge *x = &inc->edges[i];
        const char *acct = BSTR(b, x->account), *from = BSTR(b, x->from), *to = BSTR(b, x->to), *via = BSTR(b, x->via);
        if (e)
            e[i] = (struct stoat_incident_edge){.account = acct,
                                                .from = from,
                                                .to = to,
                                                .via = via,
                                                .first_ns = x->first_ns,
                                                .last_ns = x->last_ns,
                                                .is_new = x->is_new};
    }
    c->edges = e;
}

static size_t job_incident(struct store_job *j, const struct stoat_incident *inc)
{
    struct bump b = {j ? j->data : NULL, 0, 0};
    struct stoat_incident *c = j ? &j->inc : &(struct stoat_incident){0};
    *c = *inc;
    c->host = BSTR(&b, inc->host);
    c->logon_id = BSTR(&b, inc->logon_id);
    c->title = BSTR(&b, inc->title);
    const char **t = bump(&b, (inc->ntactics ? inc->ntactics : 1) * sizeof(char *));
    for (size_t i = 0; i < inc->ntactics; i++) {
        const char *v = BSTR(&b, inc->tactics[i]);
        if (t)
            t[i] = v;
    }
    c->tactics = t;
    uint64_t *ids = bump(&b, (inc->nalerts ? inc->nalerts : 1) * sizeof(uint64_t));
    if (ids && inc->nalerts)
        memcpy(ids, inc->alert_ids, inc->nalerts * sizeof(uint64_t));
    c->alert_ids = ids;
    struct stoat_incident_evidence *ev = bump(&b, (inc->nevidence ? inc->nevidence : 1) * sizeof(*ev));
    for (size_t i = 0; i < inc->nevidence; i++) {
        const char *tactic = BSTR(&b, inc->evidence[i].tactic), *text = BSTR(&b, inc->evidence[i].text);
        if (ev)
            ev[i] =
                (struct stoat_incident_evidence){.tactic = tactic, .time_ns = inc->evidence[i].time_ns, .text = text};
    }
    c->evidence = ev;
    struct stoat_incident_rule *ru = bump(&b, (inc->nrules ? inc->nrules : 1) * sizeof(*ru));
    for (size_t i = 0; i < inc->nrules; i++) {
        const char *id = BSTR(&b, inc->rules[i].id), *title = BSTR(&b, inc->rules[i].title);
        if (ru)
            ru[i] = (struct stoat_incident_rule){
                .id = id, .title = title, .level = inc->rules[i].level, .alerts = inc->rules[i].alerts};
    }
    c->rules = ru;
    job_incident_fleet(&b, c, inc);
    return b.used;
}

/* A queue this long makes the producer wait: about 1.5 KiB a job. */
#define QUEUE_MAX 16384

static void *writer_main(void *arg)
{
    struct stoat_store *s = arg;
    pthread_setname_np(pthread_self(), "stoat-store"); /* for top and perf */
    s->on_writer = true;                               /* only this thread reads it from now on */
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool due = false;
        while (!s->qhead && !s->stop && s->flush_req == s->flush_done) {
            if (!s->in_tx) {
                pthread_cond_wait(&s->cv_work, &s->mu);
                continue;
            }
            /* an open batch is committed after batch_ms even if nothing
             * else comes: a live producer's last alert is not kept back */
            int64_t at = s->tx_started_ns + (int64_t)s->batch_ms; /* monotonic ms */
            struct timespec ts = {(time_t)(at / 1000), (long)(at % 1000) * 1000000L};
            if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) != 0 && store_mono_ms() >= at) {
                due = true;
                break;
            }
        }
        struct store_job *list = s->qhead;
        s->qhead = s->qtail = NULL;
        s->qlen = 0;
        uint64_t req = s->flush_req;
        bool stop = s->stop;
        pthread_cond_broadcast(&s->cv_done); /* room in the queue */
        pthread_mutex_unlock(&s->mu);
        stoat_err e = s->werr;
        while (list) {
            struct store_job *j = list;
            list = j->next;
            if (e == STOAT_OK)
                e = j->kind == JOB_ALERT ? store_alert_write(s, &j->a, &j->pre)
                    : j->kind == JOB_INCIDENT
                        ? store_incident_write(s, &j->inc)
                        : store_mark_write(s, j->data, j->data + strlen(j->data) + 1, j->pre.recn);
            chunk_unref(j->chunk);
        }
        if (e == STOAT_OK && (due || stop || req != s->flush_done))
            e = store_tx_end(s);
        pthread_mutex_lock(&s->mu);
        if (e != STOAT_OK && s->werr == STOAT_OK)
            s->werr = e;
        s->flush_done = req;
        pthread_cond_broadcast(&s->cv_done);
        if (stop && !s->qhead)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static stoat_err writer_start(struct stoat_store *s)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_work, &ca);
    pthread_cond_init(&s->cv_done, NULL);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thr, NULL, writer_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv_work);
        pthread_cond_destroy(&s->cv_done);
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: cannot start the writer's thread", s->path);
        return STOAT_ERR_NOMEM;
    }
    s->threaded = true;
    return STOAT_OK;
}

static stoat_err enqueue(struct stoat_store *s, struct store_job *j)
{
    pthread_mutex_lock(&s->mu);
    while (s->qlen >= QUEUE_MAX && s->werr == STOAT_OK)
        pthread_cond_wait(&s->cv_done, &s->mu);
    stoat_err e = s->werr;
    if (e == STOAT_OK) {
        j->next = NULL;
        if (s->qtail)
            s->qtail->next = j;
        else
            s->qhead = j;
        s->qtail = j;
        if (s->qlen++ == 0)
            pthread_cond_signal(&s->cv_work);
        j = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (j)
        chunk_unref(j->chunk);
    return e;
}

/* Room for a job of need bytes after its header, in the producer's chunk. */
static struct store_job *job_new(struct stoat_store *s, size_t need)
{
    size_t size = (sizeof(struct store_job) + need + 15) & ~(size_t)15;
    struct job_chunk *c = s->pchunk;
    if (!c || c->cap - c->used < size) {
        chunk_unref(c); /* the producer leaves it */
        size_t cap = size > CHUNK_BYTES ? size : CHUNK_BYTES;
        c = s->pchunk = xmalloc(sizeof(*c) + cap);
        atomic_init(&c->refs, 1);
        c->used = 0;
        c->cap = cap;
    }
    struct store_job *j = (struct store_job *)(c->data + c->used);
    c->used += size;
    atomic_fetch_add(&c->refs, 1);
    j->chunk = c;
    return j;
}

stoat_err store_quiesce(struct stoat_store *s)
{
    if (!s->threaded)
        return STOAT_OK;
    pthread_mutex_lock(&s->mu);
    uint64_t req = ++s->flush_req;
    pthread_cond_signal(&s->cv_work);
    while (s->flush_done < req)
        pthread_cond_wait(&s->cv_done, &s->mu);
    stoat_err e = s->werr;
    pthread_mutex_unlock(&s->mu);
    return e;
}

stoat_err store_flush(struct stoat_store *s)
{
    stoat_err e = store_quiesce(s);
    if (e == STOAT_OK)
        e = store_tx_end(s);
    return e;
}

static void writer_stop(struct stoat_store *s)
{
    if (!s->threaded)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thr, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_done);
    s->threaded = false;
}

stoat_err stoat_store_put_alert(struct stoat_store *s, const struct stoat_alert *a)
{
    if (!s || s->readonly || !a)
        return STOAT_ERR_ARG;
    const struct stoat_rule_meta *r = a->rule ? a->rule : a->correlation;
    if (!r)
        return STOAT_ERR_ARG;
    if (!s->threaded) {
        stoat_err e = writer_start(s);
        if (e != STOAT_OK)
            return e;
    }
    struct pre pr;
    char gbuf[PRE_ANC][48];
    const char *last = s->pev_file;
    store_alert_prepare(s->proc_seed, a, &pr, &s->prec, &s->ptext, gbuf, &last, &s->pev_record);
    if (!str_same(last, s->pev_file)) { /* a new file: kept to tell the next alert's */
        free(s->pev_file);
        s->pev_file = last ? xstrdup(last) : NULL;
    }
    const struct stoat_rule_meta *snap = rule_snap(s, r);
    size_t need = job_alert(NULL, a, snap, &pr);
    struct store_job *j = job_new(s, need);
    j->kind = JOB_ALERT;
    job_alert(j, a, snap, &pr);
    return enqueue(s, j);
}

stoat_err stoat_store_put_incident(struct stoat_store *s, const struct stoat_incident *inc)
{
    if (!s || s->readonly || !inc)
        return STOAT_ERR_ARG;
    if (!s->threaded) {
        stoat_err e = writer_start(s);
        if (e != STOAT_OK)
            return e;
    }
    size_t need = job_incident(NULL, inc);
    struct store_job *j = job_new(s, need);
    j->kind = JOB_INCIDENT;
    job_incident(j, inc);
    return enqueue(s, j);
}

/* The mark's host and run follow the job as two strings; its sequence
 * rides in pre.recn. */
stoat_err stoat_store_put_mark(struct stoat_store *s, const char *host, const char *run, uint64_t seq)
{
    if (!s || s->readonly || !host || !run)
        return STOAT_ERR_ARG;
    if (!s->threaded) {
        stoat_err e = writer_start(s);
        if (e != STOAT_OK)
            return e;
    }
    size_t hn = strlen(host), rn = strlen(run);
    struct store_job *j = job_new(s, hn + rn + 2);
    j->kind = JOB_MARK;
    memcpy(j->data, host, hn + 1);
    memcpy(j->data + hn + 1, run, rn + 1);
    j->pre.recn = (size_t)seq;
    return enqueue(s, j);
}

void store_queue_close(struct stoat_store *s)
{
    writer_stop(s);
    chunk_unref(s->pchunk);
    s->pchunk = NULL;
    for (size_t i = 0; i < s->nsnaps; i++) {
        arena_free(&s->snaps[i]->mem);
        free(s->snaps[i]);
    }
    free(s->snaps);
    s->snaps = NULL;
    s->nsnaps = s->capsnaps = 0;
    free(s->pev_file);
    s->pev_file = NULL;
    buf_free(&s->prec);
    buf_free(&s->ptext);
}
