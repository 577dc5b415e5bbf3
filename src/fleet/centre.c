/* The centre's loop: rounds of fetch, process, commit, acknowledge.
 *
 * Why it works this way:
 * - A round fetches up to a batch of messages from every partition whose
 *   lease this worker holds (without waiting on empty ones), hands their
 *   events to the same stages as a hunt (pipeline/source_bus.h), waits
 *   until the writer has passed every batch through the consumer, commits
 *   the store, and only then acknowledges. A batch's mark is queued on the
 *   writer's thread right after its alerts, and the store commits only when
 *   told (its batch sizes are set out of reach), so alerts and marks share
 *   one transaction: the bus may deliver a batch again (a worker died, an
 *   ack was lost) and the mark makes it a no-op.
 * - Between rounds nothing is in flight: that is when leases move, the
 *   rules are swapped for a newly pushed bundle (the workers are restarted
 *   on the new set; no event is between stages), heartbeats are stored and
 *   silent hosts raised. Memory is bounded by the round: partitions held
 *   times the batch, each message at most 1 MiB (the server's cap).
 * - The health role (heartbeats) is a lease like a partition, so exactly
 *   one worker raises a silent host's alert.
 * - A batch is acknowledged once its own alerts are stored, but its events
 *   also live on in state: process trees, open correlation windows, chains
 *   whose alerts come later. A worker that takes a partition over (from a
 *   dead worker, or at start) first replays the partition's recent stored
 *   batches (--replay, by the stream's time: the longest correlation window
 *   and then some) through the same stages with the sinks muted: the state
 *   is rebuilt, and what those events raise again, already stored by the
 *   worker before, is not stored twice. Only batches with a mark are
 *   replayed: the others are still the durable consumer's to deliver.
 * - A correlation window rebuilt by a replay is judged again after it; so a
 *   correlation alert is known by its rule, group, host and window times,
 *   and one the store holds already is not stored again (whoever judged
 *   the window first). Once a second, busy or idle, a worker feeds its
 *   correlations what they kept and moves the clocks of the hosts that went
 *   quiet on by the wall's time, so an alert does not wait for the hosts'
 *   next events; a clean stop closes every window. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "behaviour/sources.h"
#include "fleet/fleet.h"
#include "pipeline/consume.h"
#include "pipeline/source_bus.h"
#include "pipeline/units.h"
#include "bus/batch.h"
#include "util/mem.h"

#define LATENCY_SAMPLES        200000 /* kept for the percentiles; beyond, a reservoir */
#define MAX_SINKS              8
#define FLEET_CORR_LATENESS_NS (48 * 3600 * 1000000000LL)

struct batch {
    struct bus_input in; /* first: the writer hands it back */
    struct centre *c;
    natsMsg *msg;
    char name[360]; /* "bus:<host>:<run>:<seq>" for positions */
    char host[256], run[64];
    uint64_t seq;
    unsigned span;    /* sequence numbers it stands for (Stoat-Span): all marked */
    int64_t sent_ns;  /* INT64_MIN: unknown */
    bool replay;      /* state only: no mark, no ack */
    bool last;        /* its partition's last of the round: acknowledged synchronously */
    uint64_t events;  /* lines in the decoded batch */
    unsigned part;    /* its partition */
    uint64_t sseq;    /* its stream sequence (0: unknown) */
    struct buf lines; /* the inflated payload (bus/batch.h), when it was compressed */
};

struct centre {
    const struct stoat_fleet_opts *o;
    struct stoat_bus_conn *conn;
    struct stoat_fleet_stats *fs;
    struct stoat_hunt_stats *stats;
    const struct stoat_ruleset *rs;
    struct stoat_ruleset *owned; /* a reloaded set, ours to free */
    char version[80];
    struct units *units;
    struct consumer con;
    struct units_opts uo;
    struct stoat_store *rd;      /* marks are read here */
    struct stoat_store *rd_corr; /* and stored correlations, on the writer's thread */
    unsigned partitions;
    natsSubscription **subs; /* per role, while held */
    struct fleet_leases *leases;
    struct stoat_bus_rules_watch *rules; /* NULL: no reload */
    bool *held;
    bool *ever;         /* held before in this process: its state is here up to done_seq */
    uint64_t *done_seq; /* per partition: the highest stream sequence whose events are in this worker's state */
    /* the round */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned outstanding;
    stoat_err mark_err;
    struct batch **round;
    size_t nround, capround;
    natsMsg **acks; /* duplicates: acknowledged with the round */
    size_t nacks, capacks;
    natsMsg **hbs; /* heartbeats: stored after the round's commit */
    size_t nhbs, caphbs;
    double *lat;
    size_t nlat;
    uint64_t seen_lat;
    natsSubscription *ack_sub; /* answers to the partitions' last acks of a round */
    char ack_inbox[160];
    uint64_t ack_round;
    /* the sinks the consumer sees: the caller's, muted during a replay */
    struct stoat_sink *mute;
    struct mute_ctx *mute_ctx;
    bool muted;
    bool corr_drop;                 /* the correlation alert being handed out is stored already */
    bool inc_drop;                  /* likewise the incident */
    struct fleet_facts *facts;      /* what the batches' events tell the cross-host role */
    struct fleet_cross *cross;      /* that role, while this worker holds its lease */
    struct stoat_behaviour_opts bo; /* the workers' (and the cross role's correlations') */
};

struct mute_ctx {
    struct centre *c;
    const struct stoat_sink *in;
};

/* Writer's thread (or the main one between rounds); the flag only changes
 * while the pipeline is idle. A correlation's firing is known by its rule,
 * group and window: one stored already (by a worker before this one, whose
 * events this one replayed to rebuild the window) is not stored again, so
 * it may pass the mute (a worker that died before its window closed never
 * stored it). */
static stoat_err mute_alert(void *ctx, const struct stoat_alert *a)
{
    struct mute_ctx *m = ctx;
    if (!m->in->alert || (m->c->muted && !a->corr))
        return STOAT_OK;
    if (a->corr && m->in == &m->c->o->sinks[0]) { /* asked once per alert, for the first sink */
        m->c->corr_drop = stoat_store_corr_known(m->c->rd_corr, a) == 1;
        m->c->fs->corr_known += m->c->corr_drop;
    }
    if (a->corr && m->c->corr_drop)
        return STOAT_OK;
    return m->in->alert(m->in->ctx, a);
}

/* Likewise an incident: its chain, rebuilt by a replay, closes again (at
 * a quiet host's clock moving on, or the stop) after the worker before this one stored it;
 * known by its host and its first or last alert's time. */
static stoat_err mute_incident(void *ctx, const struct stoat_incident *inc)
{
    struct mute_ctx *m = ctx;
    if (m->c->muted || !m->in->incident)
        return STOAT_OK;
    if (m->in == &m->c->o->sinks[0]) { /* asked once per incident, for the first sink */
        m->c->inc_drop = stoat_store_incident_known(m->c->rd_corr, inc) == 1;
        m->c->fs->incidents_known += m->c->inc_drop;
    }
    if (m->c->inc_drop)
        return STOAT_OK;
    return m->in->incident(m->in->ctx, inc);
}

static stoat_err mute_event(void *ctx, const struct stoat_alert *e)
{
    struct mute_ctx *m = ctx;
    if (m->c->muted || !m->in->event)
        return STOAT_OK;
    return m->in->event(m->in->ctx, e);
}

static void say(struct centre *c, enum stoat_severity sev, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void say(struct centre *c, enum stoat_severity sev, const char *fmt, ...)
{
    if (!c->o->diag)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct stoat_diag d = {.code = sev == STOAT_SEV_ERROR ? STOAT_ERR_IO : STOAT_OK, .severity = sev, .message = msg};
    c->o->diag(c->o->diag_ctx, &d);
}

/* A stop's error, said: the exit status alone told nobody what was lost. */
static void say_store_err(struct centre *c, const struct stoat_store *s, stoat_err e, const char *what)
{
    const char *m = s ? stoat_store_errmsg(s) : NULL;
    say(c, STOAT_SEV_ERROR, "fleet %s: %s: %s", c->o->id, what, m && *m ? m : stoat_strerror(e));
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* CPU seconds of the whole process, every thread (the figures' cost per event). */
static double cpu_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* "2026-12-05T00:40:00.123Z" -> ns; INT64_MIN when not that. */
static int64_t parse_sent(const char *s)
{
    int y, mo, d, h, mi, sec, ms = 0;
    if (!s || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d.%3dZ", &y, &mo, &d, &h, &mi, &sec, &ms) < 6)
        return INT64_MIN;
    struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d, .tm_hour = h, .tm_min = mi, .tm_sec = sec};
    time_t t = timegm(&tm);
    return (int64_t)t * 1000000000LL + (int64_t)ms * 1000000LL;
}

static void rfc3339(int64_t ns, char out[64], size_t n)
{
    time_t t = (time_t)(ns / 1000000000LL);
    struct tm tm;
    gmtime_r(&t, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ns / 1000000 % 1000));
}

/* ------------------------------------------------------------ the pipeline */

/* Writer's thread: the batch's alerts are with the sinks; its mark follows
 * them into the store's queue. */
static void batch_done(void *ctx, struct bus_input *in)
{
    (void)ctx;
    struct batch *b = (struct batch *)in;
    struct centre *c = b->c;
    stoat_err e = STOAT_OK;
    for (unsigned k = 0; b->run[0] && !b->replay && k < b->span && e == STOAT_OK; k++)
        e = stoat_store_put_mark(c->o->store, b->host, b->run, b->seq + k);
    fleet_facts_seal(c->facts, b->host, b->run, b->seq, !b->replay);
    pthread_mutex_lock(&c->mu);
    if (e != STOAT_OK && c->mark_err == STOAT_OK)
        c->mark_err = e;
    c->outstanding--;
    pthread_cond_signal(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void pipeline_start(struct centre *c)
{
    c->uo = (struct units_opts){.threads = c->o->threads ? c->o->threads : 1,
                                .min_level = c->o->min_level,
                                .diag = c->o->diag,
                                .diag_ctx = c->o->diag_ctx,
                                .release = source_bus_release};
    c->units = units_start(c->rs, &c->uo, &c->con, c->stats);
}

static void replay_partition(struct centre *c, unsigned p);
static const char *header(natsMsg *m, const char *name);

/* ------------------------------------------------------------ subscriptions */

static void role_names(struct centre *c, unsigned r, char *durable, char *filter, const char **stream)
{
    if (r == c->partitions) {
        strcpy(durable, STOAT_FLEET_CONSUMER_HEALTH);
        strcpy(filter, "stoat.hb.>");
        *stream = STOAT_BUS_STREAM_HEALTH;
    } else {
        sprintf(durable, STOAT_FLEET_CONSUMER_PREFIX "%u", r);
        sprintf(filter, "stoat.ev.*.%u", r);
        *stream = STOAT_BUS_STREAM_EVENTS;
    }
}

static void subs_follow_leases(struct centre *c)
{
    for (unsigned r = 0; r <= c->partitions; r++) {
        if (c->held[r] && !c->subs[r]) {
            char durable[32], filter[64];
            const char *stream;
            role_names(c, r, durable, filter, &stream);
            jsSubOptions so;
            jsSubOptions_Init(&so);
            so.Stream = stream;
            so.Consumer = durable; /* bind: the consumer is setup's, never deleted here */
            jsErrCode je = 0;
            natsStatus s = js_PullSubscribe(&c->subs[r], stoat_bus_js(c->conn), filter, durable, NULL, &so, &je);
            if (s != NATS_OK) {
                say(c, STOAT_SEV_WARNING, "fleet: cannot read consumer %s: %s (JetStream error %d); retrying", durable,
                    natsStatus_GetText(s), (int)je);
                c->subs[r] = NULL;
            } else {
                if (c->o->verbose)
                    say(c, STOAT_SEV_NOTE, "fleet: %s reads %s", c->o->id, durable);
                if (r < c->partitions)
                    replay_partition(c, r);
                c->ever[r] = true;
            }
        } else if (!c->held[r] && c->subs[r]) {
            natsSubscription_Destroy(c->subs[r]); /* not Unsubscribe: that could delete the consumer */
            c->subs[r] = NULL;
            if (c->o->verbose)
                say(c, STOAT_SEV_NOTE, "fleet: %s gave up role %u", c->o->id, r);
        }
    }
}

/* ------------------------------------------------------------ a round */

static const char *header(natsMsg *m, const char *name)
{
    const char *v = NULL;
    return natsMsgHeader_Get(m, name, &v) == NATS_OK ? v : NULL;
}

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    buf_free(&b->lines);
    free(b);
}

/* The batch's JSON lines (bus/batch.h), or NULL after saying why it cannot
 * be read: the caller acknowledges it (a redelivery would fail the same
 * way and hold its partition back) and counts it. A count that differs
 * from Stoat-Count is said, and the lines there are read. */
static const char *batch_lines(struct centre *c, struct batch *b, natsMsg *m, size_t *len)
{
    char why[256];
    struct bus_batch_view v;
    const char *data = natsMsg_GetData(m);
    int n = natsMsg_GetDataLength(m);
    if (bus_batch_decode(header(m, BUS_HDR_ENC), data, n > 0 ? (size_t)n : 0, &b->lines, &v, why, sizeof why) !=
        STOAT_OK) {
        c->fs->undecodable++;
        say(c, STOAT_SEV_WARNING, "fleet: batch %s:%s:%llu of host \"%.64s\" cannot be read: %s; dropped",
            b->host[0] ? b->host : "?", b->run[0] ? b->run : "?", (unsigned long long)b->seq, b->host, why);
        return NULL;
    }
    const char *cnt = header(m, BUS_HDR_COUNT);
    char *end = NULL;
    unsigned long long declared = cnt ? strtoull(cnt, &end, 10) : 0;
    if (cnt && (end == cnt || *end || declared != v.lines)) {
        c->fs->miscounted++;
        say(c, STOAT_SEV_WARNING, "fleet: batch %s:%s:%llu declares %.20s events and holds %llu; read as it is",
            b->host[0] ? b->host : "?", b->run[0] ? b->run : "?", (unsigned long long)b->seq, cnt,
            (unsigned long long)v.lines);
    }
    b->events = v.lines;
    *len = v.len;
    return v.data;
}

static uint64_t stream_seq(natsMsg *m)
{
    uint64_t n = 0;
    jsMsgMetaData *md = NULL;
    if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
        n = md->Sequence.Stream;
        jsMsgMetaData_Destroy(md);
    }
    return n;
}

static void wait_idle(struct centre *c);

/* A batch stored by another worker (its mark is there) that the bus
 * delivers again to this one, past what the takeover's replay covered (the
 * consumer's ack floor can be behind what was stored: an ack lost with a
 * node). Its events belong in the hosts' state here too, so it goes
 * through the stages with the sinks muted, as a replay. One this worker
 * processed itself (at or below what it committed on the partition) is
 * not: its events are in the state already. Either way it is acknowledged
 * with the round and not stored again. */
static void replay_marked(struct centre *c, struct batch *b, natsMsg *m)
{
    if (!b->sseq || b->sseq <= c->done_seq[b->part])
        return;
    size_t len = 0;
    const char *data = batch_lines(c, b, m, &len);
    if (!data)
        return;
    wait_idle(c); /* what the round sent so far is through: the mute starts clean */
    c->muted = true;
    b->replay = true;
    snprintf(b->name, sizeof(b->name), "replay:%s:%s:%llu", b->host, b->run, (unsigned long long)b->seq);
    b->in.file.name = b->name;
    b->in.file.host = b->host[0] ? b->host : NULL;
    b->in.done = batch_done;
    b->in.ctx = c;
    pthread_mutex_lock(&c->mu);
    c->outstanding++;
    pthread_mutex_unlock(&c->mu);
    source_bus_send(c->units, &b->in, data, len);
    buf_free(&b->lines);
    wait_idle(c);
    c->muted = false;
    c->done_seq[b->part] = b->sseq;
    c->fs->replayed++;
}

static void take_event_batch(struct centre *c, unsigned part, natsMsg *m)
{
    const char *host = header(m, BUS_HDR_HOST), *run = header(m, BUS_HDR_RUN), *seq = header(m, BUS_HDR_SEQ);
    struct batch *b = xcalloc(1, sizeof(*b));
    b->c = c;
    b->msg = m;
    b->part = part;
    b->sseq = stream_seq(m);
    snprintf(b->host, sizeof(b->host), "%s", host ? host : "");
    if (run && seq && strlen(run) < sizeof(b->run) && host) {
        char *end = NULL;
        b->seq = strtoull(seq, &end, 10);
        if (end != seq && !*end && b->seq)
            snprintf(b->run, sizeof(b->run), "%s", run);
    }
    b->sent_ns = parse_sent(header(m, BUS_HDR_SENT));
    const char *span = header(m, BUS_HDR_SPAN);
    char *span_end = NULL;
    unsigned long sp = span ? strtoul(span, &span_end, 10) : 1;
    b->span = span && (span_end == span || *span_end || sp < 1 || sp > BUS_SPAN_MAX) ? 1 : (unsigned)sp;
    /* The server lets a host publish only under its own token: a batch whose
     * header names another host is a forgery (or a broken publisher). */
    char tok[STOAT_BUS_TOKEN_MAX + 1];
    const char *subj = natsMsg_GetSubject(m);
    size_t tl = stoat_bus_host_token(b->host, strlen(b->host), tok);
    if (!host || !subj || strncmp(subj, "stoat.ev.", 9) || strncmp(subj + 9, tok, tl) || subj[9 + tl] != '.') {
        c->fs->forged++;
        say(c, STOAT_SEV_WARNING, "fleet: a batch on %s names host \"%.64s\": not its subject's; dropped",
            subj ? subj : "?", b->host);
        XGROW(c->acks, c->capacks, c->nacks + 1);
        c->acks[c->nacks++] = m;
        batch_free(b);
        return;
    }
    if (b->run[0]) {
        int marked = stoat_store_marked(c->rd, b->host, b->run, b->seq);
        if (marked == 1) {
            c->fs->duplicates++;
            replay_marked(c, b, m);
            XGROW(c->acks, c->capacks, c->nacks + 1);
            c->acks[c->nacks++] = m;
            batch_free(b);
            return;
        }
    }
    size_t len = 0;
    const char *data = batch_lines(c, b, m, &len);
    if (!data) {
        XGROW(c->acks, c->capacks, c->nacks + 1);
        c->acks[c->nacks++] = m;
        batch_free(b);
        return;
    }
    snprintf(b->name, sizeof(b->name), "bus:%s:%s:%llu", b->host[0] ? b->host : "?", b->run[0] ? b->run : "?",
             (unsigned long long)b->seq);
    b->in.file.name = b->name;
    b->in.file.host = b->host[0] ? b->host : NULL;
    b->in.done = batch_done;
    b->in.ctx = c;
    XGROW(c->round, c->capround, c->nround + 1);
    c->round[c->nround++] = b;
    pthread_mutex_lock(&c->mu);
    c->outstanding++;
    pthread_mutex_unlock(&c->mu);
    c->fs->batches++;
    source_bus_send(c->units, &b->in, data, len);
    /* the units hold copies: the inflated lines need not wait for the round */
    buf_free(&b->lines);
}

static void alert_all(struct centre *c, const struct stoat_rule_meta *rule, const char *host, int64_t at_ns)
{
    char ts[64];
    rfc3339(at_ns, ts, sizeof(ts));
    struct stoat_alert a = {.rule = rule, .timestamp = ts, .time_ns = at_ns, .host = host};
    a.id = ++c->stats->alerts;
    c->stats->alerts_by_level[rule->level]++;
    for (size_t i = 0; i < c->o->nsinks; i++)
        if (c->o->sinks[i].alert)
            c->o->sinks[i].alert(c->o->sinks[i].ctx, &a);
}

static void take_heartbeat(struct centre *c, natsMsg *m)
{
    const char *data = natsMsg_GetData(m);
    int len = natsMsg_GetDataLength(m);
    char host[256];
    if (!fleet_heartbeat_host(data, len > 0 ? (size_t)len : 0, host, sizeof(host))) {
        /* the subject's token, when the body names none */
        const char *subj = natsMsg_GetSubject(m);
        snprintf(host, sizeof(host), "%s", subj && strlen(subj) > 9 ? subj + 9 : "unknown");
    }
    int64_t at = wall_ns();
    jsMsgMetaData *md = NULL;
    if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
        at = md->Timestamp;
        jsMsgMetaData_Destroy(md);
    }
    char *json = NULL;
    if (data && len > 0 && len < (64 << 10)) {
        json = xmalloc((size_t)len + 1);
        memcpy(json, data, (size_t)len);
        json[len] = 0;
    }
    bool was_silent = false;
    if (stoat_store_put_heartbeat(c->o->store, host, at, json, &was_silent) == STOAT_OK) {
        c->fs->heartbeats++;
        if (was_silent) {
            c->fs->returned++;
            alert_all(c, fleet_silence_rule(true), host, at);
        }
    }
    free(json);
}

/* Called while the store steps its UPDATE of the hosts: the names are
 * kept, and alerted once it is done (an alert put from here went to the
 * writer's thread on the same connection in the middle of that statement,
 * and a commit later failed on the search index: the worker exited). */
struct silent_list {
    char **hosts;
    size_t n, cap;
};

static void on_silent(void *ctx, const char *host, int64_t last_ns)
{
    struct silent_list *l = ctx;
    (void)last_ns;
    XGROW(l->hosts, l->cap, l->n + 1);
    l->hosts[l->n++] = xstrdup(host);
}

static void flag_silent(struct centre *c, int64_t silence_ns)
{
    struct silent_list l = {0};
    stoat_store_flag_silent(c->o->store, wall_ns() - silence_ns, on_silent, &l);
    for (size_t i = 0; i < l.n; i++) {
        c->fs->silent++;
        alert_all(c, fleet_silence_rule(false), l.hosts[i], wall_ns());
        free(l.hosts[i]);
    }
    free(l.hosts);
}

static void note_latency(struct centre *c, double s)
{
    c->seen_lat++;
    if (c->nlat < LATENCY_SAMPLES) {
        c->lat[c->nlat++] = s;
    } else {
        uint64_t k = (uint64_t)rand() % c->seen_lat; /* a reservoir: every sample as likely */
        if (k < LATENCY_SAMPLES)
            c->lat[k] = s;
    }
}

/* Fetches what the held roles have; true when something came. */
static bool round_fetch(struct centre *c, unsigned batch)
{
    bool any = false;
    for (unsigned r = 0; r <= c->partitions; r++) {
        if (!c->subs[r])
            continue;
        natsMsgList list = {0};
        jsFetchRequest fr;
        jsFetchRequest_Init(&fr);
        fr.Batch = (int)batch;
        fr.NoWait = true;
        natsStatus s = natsSubscription_FetchRequest(&list, c->subs[r], &fr);
        if (s != NATS_OK && list.Count == 0) {
            natsMsgList_Destroy(&list);
            continue;
        }
        size_t first = c->nround;
        for (int i = 0; i < list.Count; i++) {
            natsMsg *m = list.Msgs[i];
            list.Msgs[i] = NULL;
            any = true;
            if (r == c->partitions) {
                /* not now: storing one commits, and the round's alerts
                 * and marks must commit together */
                XGROW(c->hbs, c->caphbs, c->nhbs + 1);
                c->hbs[c->nhbs++] = m;
            } else {
                take_event_batch(c, r, m);
            }
        }
        if (c->nround > first)
            c->round[c->nround - 1]->last = true;
        natsMsgList_Destroy(&list);
    }
    return any;
}

/* An ack whose answer is awaited: sent with a reply subject of this
 * round's (what natsMsg_AckSync does, without waiting here), so a round's
 * partitions wait for their answers together, one round trip in all
 * rather than one per partition. Without the inbox: AckSync. */
static void ack_answered(struct centre *c, natsMsg *m, const char *reply, unsigned *want)
{
    const char *to = natsMsg_GetReply(m);
    if (c->ack_sub && to && natsConnection_PublishRequestString(bus_nats(c->conn), to, reply, "+ACK") == NATS_OK)
        (*want)++;
    else
        natsMsg_AckSync(m, NULL, NULL);
}

/* Waits (5 s at most) for want answers to this round's acks; an answer
 * of an earlier round (one that came late) is not counted. */
static void acks_wait(struct centre *c, const char *reply, unsigned want)
{
    if (!want)
        return;
    natsConnection_Flush(bus_nats(c->conn));
    double until = mono_s() + 5.0;
    while (want) {
        double left = until - mono_s();
        natsMsg *m = NULL;
        if (left <= 0 || natsSubscription_NextMsg(&m, c->ack_sub, (int64_t)(left * 1000) + 1) != NATS_OK)
            break; /* unanswered: the next fetch may find the partition still full, no more */
        if (!strcmp(natsMsg_GetSubject(m), reply))
            want--;
        natsMsg_Destroy(m);
    }
}

static void acks_open(struct centre *c)
{
    natsInbox *ib = NULL;
    if (natsInbox_Create(&ib) != NATS_OK)
        return;
    char subj[180];
    snprintf(c->ack_inbox, sizeof c->ack_inbox, "%s", (const char *)ib);
    snprintf(subj, sizeof subj, "%s.*", c->ack_inbox);
    natsInbox_Destroy(ib);
    if (natsConnection_SubscribeSync(&c->ack_sub, bus_nats(c->conn), subj) != NATS_OK)
        c->ack_sub = NULL;
}

/* Waits for the writer, commits, acknowledges. */
static stoat_err round_settle(struct centre *c)
{
    double t0 = mono_s(), t1 = 0, t2 = 0;
    pthread_mutex_lock(&c->mu);
    while (c->outstanding)
        pthread_cond_wait(&c->cv, &c->mu);
    stoat_err e = c->mark_err;
    pthread_mutex_unlock(&c->mu);
    /* facts before the commit: a batch whose alerts are stored has its facts
     * out (a crash in between derives them again under the same ids) */
    char why[256];
    t1 = mono_s();
    if (e == STOAT_OK && fleet_facts_flush(c->facts, why, sizeof(why)) != STOAT_OK) {
        say(c, STOAT_SEV_ERROR, "%s", why);
        e = STOAT_ERR_IO;
    }
    if (e == STOAT_OK && c->nround)
        e = stoat_store_commit(c->o->store);
    if (e != STOAT_OK) {
        /* nothing acknowledged: the bus delivers it all again */
        stoat_store_diag(c->o->store, e, c->o->diag, c->o->diag_ctx);
        for (size_t i = 0; i < c->nround; i++) {
            natsMsg_Nak(c->round[i]->msg, NULL);
            natsMsg_Destroy(c->round[i]->msg);
            batch_free(c->round[i]);
        }
        for (size_t i = 0; i < c->nacks; i++)
            natsMsg_Destroy(c->acks[i]);
        for (size_t i = 0; i < c->nhbs; i++)
            natsMsg_Destroy(c->hbs[i]);
        c->nround = c->nacks = c->nhbs = 0;
        return e;
    }
    int64_t now = wall_ns();
    char reply[200];
    unsigned want = 0;
    t2 = mono_s();
    if (c->nround) {
        c->fs->t_stages += t1 - t0;
        c->fs->t_commit += t2 - t1;
    }
    snprintf(reply, sizeof reply, "%s.%llu", c->ack_inbox, (unsigned long long)++c->ack_round);
    for (size_t i = 0; i < c->nround; i++) {
        struct batch *b = c->round[i];
        c->fs->events += b->events;
        if (b->sseq > c->done_seq[b->part])
            c->done_seq[b->part] = b->sseq;
        if (b->sent_ns != INT64_MIN)
            note_latency(c, (double)(now - b->sent_ns) / 1e9);
        /* The partition's last ack waits for the server's answer: the
         * consumer holds at most a batch unacknowledged (MaxAckPending), so
         * the next fetch would find nothing while acks are still on the way.
         * The answers of every partition are awaited together (acks_wait). */
        if (b->last)
            ack_answered(c, b->msg, reply, &want);
        else
            natsMsg_Ack(b->msg, NULL);
        c->fs->acked++;
        natsMsg_Destroy(b->msg);
        batch_free(b);
    }
    for (size_t i = 0; i < c->nacks; i++) {
        natsMsg_Ack(c->acks[i], NULL);
        c->fs->acked++;
        natsMsg_Destroy(c->acks[i]);
    }
    bool stored = c->nround > 0;
    c->nround = c->nacks = 0;
    acks_wait(c, reply, want);
    if (stored) {
        c->fs->t_acks += mono_s() - t2;
        c->fs->rounds++;
    }
    /* the pipeline is idle now: heartbeats may commit and alert */
    for (size_t i = 0; i < c->nhbs; i++) {
        take_heartbeat(c, c->hbs[i]);
        natsMsg_Ack(c->hbs[i], NULL);
        natsMsg_Destroy(c->hbs[i]);
    }
    c->nhbs = 0;
    return STOAT_OK;
}

/* ------------------------------------------------------------ between rounds */

static void wait_idle(struct centre *c)
{
    pthread_mutex_lock(&c->mu);
    while (c->outstanding)
        pthread_cond_wait(&c->cv, &c->mu);
    pthread_mutex_unlock(&c->mu);
}

/* A stored batch to replay (sinks muted, no mark, no ack). */
static struct batch *replay_batch(struct centre *c, natsMsg *m, const char *host, const char *run, uint64_t sq)
{
    struct batch *b = xcalloc(1, sizeof(*b));
    b->c = c;
    b->msg = m;
    b->replay = true;
    b->seq = sq;
    snprintf(b->host, sizeof(b->host), "%s", host);
    snprintf(b->run, sizeof(b->run), "%.63s", run);
    snprintf(b->name, sizeof(b->name), "replay:%s:%s:%llu", host, run, (unsigned long long)sq);
    b->in.file.name = b->name;
    b->in.file.host = b->host;
    b->in.done = batch_done;
    b->in.ctx = c;
    return b;
}

/* A replay's batches in flight: at most 256 before the writer catches up. */
struct replay_held {
    struct centre *c;
    struct batch **held;
    size_t n, cap;
    uint64_t replayed;
};

static void release_held(struct replay_held *r)
{
    wait_idle(r->c);
    for (size_t i = 0; i < r->n; i++) {
        natsMsg_Destroy(r->held[i]->msg);
        batch_free(r->held[i]);
    }
    r->n = 0;
}

/* A stored batch of the partition goes through the stages (sinks muted). */
static void replay_one(void *ctx, natsMsg *m)
{
    struct replay_held *r = ctx;
    struct centre *c = r->c;
    const char *host = header(m, BUS_HDR_HOST), *run = header(m, BUS_HDR_RUN), *seq = header(m, BUS_HDR_SEQ);
    uint64_t sq = seq ? strtoull(seq, NULL, 10) : 0;
    struct batch *b = NULL;
    if (host && run && sq && stoat_store_marked(c->rd, host, run, sq) == 1)
        b = replay_batch(c, m, host, run, sq);
    if (!b) {
        natsMsg_Destroy(m);
        return;
    }
    XGROW(r->held, r->cap, r->n + 1);
    r->held[r->n++] = b;
    pthread_mutex_lock(&c->mu);
    c->outstanding++;
    pthread_mutex_unlock(&c->mu);
    size_t len = 0;
    const char *data = batch_lines(c, b, m, &len);
    source_bus_send(c->units, &b->in, data ? data : "", data ? len : 0);
    buf_free(&b->lines);
    r->replayed++;
    if (r->n >= 256) /* bounded: let the writer catch up */
        release_held(r);
}

/* Partition p was just taken: its recent stored batches rebuild the state
 * (sinks muted). Between rounds, so nothing else is in flight. Taken back
 * after another worker held it, only what came after this worker's own
 * state (done_seq) is replayed: the other's batches, which this state lacks
 * (a correlation window judged without them missed its alert). */
static void replay_partition(struct centre *c, unsigned p)
{
    if (c->o->replay_s < 0)
        return;
    char durable[32], filter[64];
    snprintf(durable, sizeof(durable), STOAT_FLEET_CONSUMER_PREFIX "%u", p);
    snprintf(filter, sizeof(filter), "stoat.ev.*.%u", p);
    struct replay_held r = {.c = c};
    uint64_t floor_seq = 0;
    int je = 0;
    c->muted = true;
    uint64_t from_seq = c->ever[p] && c->done_seq[p] ? c->done_seq[p] + 1 : 0;
    int got = fleet_replay(c->conn, STOAT_BUS_STREAM_EVENTS, durable, filter,
                           wall_ns() - (int64_t)((c->o->replay_s ? c->o->replay_s : 900) * 1e9), from_seq, replay_one,
                           &r, &floor_seq, &je);
    release_held(&r);
    free(r.held);
    c->muted = false;
    if (got < 0)
        say(c, STOAT_SEV_WARNING,
            "fleet: cannot replay partition %u (JetStream error %d): its hosts' process "
            "trees and open correlation windows start empty",
            p, je);
    if (got <= 0)
        return;
    c->fs->replayed += r.replayed;
    if (floor_seq > c->done_seq[p]) /* what is at or below the floor is in the state now, or was never stored */
        c->done_seq[p] = floor_seq;
    if (c->o->verbose)
        say(c, STOAT_SEV_NOTE, "fleet: %s replayed %llu stored batches of partition %u", c->o->id,
            (unsigned long long)r.replayed, p);
}

static void maybe_reload(struct centre *c)
{
    char version[80], why[512];
    if (!c->rules || !stoat_bus_rules_watch_changed(c->rules, version, sizeof(version)) || !strcmp(version, c->version))
        return;
    char dir[] = "/tmp/stoat-rules-XXXXXX";
    if (!mkdtemp(dir))
        return;
    struct stoat_ruleset *rs = NULL;
    if (stoat_bus_rules_fetch(c->conn, dir, version, sizeof(version), why, sizeof(why)) == STOAT_OK && version[0])
        rs = c->o->reload(c->o->reload_ctx, dir, version);
    else
        say(c, STOAT_SEV_WARNING, "%s", why);
    char cmd[64];
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    if (system(cmd) != 0) {
        /* a temporary folder left behind is no reason to stop */
    }
    snprintf(c->version, sizeof(c->version), "%s", version); /* a bad bundle is not tried again and again */
    if (!rs)
        return;
    /* nothing is in flight between rounds: restart the workers on the new set */
    units_finish(c->units);
    consumer_set_ruleset(&c->con, rs);
    struct stoat_ruleset *old = c->owned;
    c->rs = c->owned = rs;
    const struct behaviour_data *d = behaviour_data_of(rs);
    fleet_cross_set_profile(c->cross, d ? d->baseline : NULL); /* the old set's goes with it */
    fleet_cross_set_rules(c->cross, rs);
    pipeline_start(c);
    stoat_ruleset_destroy(old);
    c->fs->reloads++;
    say(c, STOAT_SEV_NOTE, "fleet: rules %s loaded", version);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static void latency_figures(struct centre *c)
{
    c->fs->latency_n = c->seen_lat;
    if (!c->nlat)
        return;
    qsort(c->lat, c->nlat, sizeof(double), cmp_double);
    c->fs->latency_p50_s = c->lat[(c->nlat - 1) / 2];
    c->fs->latency_p99_s = c->lat[(size_t)((double)(c->nlat - 1) * 0.99)];
}

/* What the worker's clock closed outside a batch (idle, stop) reaches the
 * cross-host role now (facts_out.c says why). */
static stoat_err loose_facts_out(struct centre *c)
{
    if (!fleet_facts_seal_loose(c->facts))
        return STOAT_OK;
    char why[256];
    if (fleet_facts_flush(c->facts, why, sizeof(why)) == STOAT_OK)
        return STOAT_OK;
    say(c, STOAT_SEV_ERROR, "%s", why);
    return STOAT_ERR_IO;
}

/* Once a second, busy or idle: correlations feed the matches they kept and
 * chains take the alerts they held back (a worker that always has batches
 * to read fed them only at its stop), and time moves on for the hosts that
 * went quiet, like watch on a quiet sensor: a host's windows and chains
 * close that the wall time since its last alert has carried its clock past,
 * so an alert does not wait for the host's next events, nor for the other
 * hosts to go quiet too. What they raise is committed here. */
static stoat_err feed_kept(struct centre *c, double *last_feed)
{
    double now = mono_s();
    if (now - *last_feed < 1.0)
        return STOAT_OK;
    *last_feed = now;
    uint64_t before = c->stats->alerts + c->stats->incidents;
    consumer_quiet(&c->con, (int64_t)(now * 1e9));
    stoat_err e = loose_facts_out(c);
    if (e != STOAT_OK || c->stats->alerts + c->stats->incidents == before)
        return e;
    e = stoat_store_commit(c->o->store);
    if (e != STOAT_OK)
        stoat_store_diag(c->o->store, e, c->o->diag, c->o->diag_ctx);
    return e;
}

static stoat_err centre_open(struct centre *c, char *why, size_t whylen)
{
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    struct stoat_store_opts ro = {.readonly = true};
    if (stoat_store_open(c->o->db_path, &ro, &c->rd) != STOAT_OK ||
        stoat_store_open(c->o->db_path, &ro, &c->rd_corr) != STOAT_OK) {
        snprintf(why, whylen, "fleet: cannot read %s", c->o->db_path);
        return STOAT_ERR_IO;
    }
    if (stoat_bus_read_partitions(c->conn, &c->partitions, why, whylen) != STOAT_OK)
        return STOAT_ERR_IO;
    c->subs = xcalloc(c->partitions + 1, sizeof(*c->subs));
    c->held = xcalloc(c->partitions + 2, sizeof(bool)); /* + health, cross */
    c->ever = xcalloc(c->partitions + 2, sizeof(bool));
    c->done_seq = xcalloc(c->partitions + 2, sizeof(uint64_t));
    c->lat = xmalloc(LATENCY_SAMPLES * sizeof(double));
    acks_open(c);
    if (c->o->reload && stoat_bus_rules_watch_start(c->conn, &c->rules, why, whylen) != STOAT_OK)
        return STOAT_ERR_IO;
    return fleet_leases_open(c->conn, c->o->id, c->partitions, &c->leases, why, whylen);
}

/* A sink of the cross-host role's that the workers' list does not have
 * (its store run): begun and ended here. */
static bool own_cross_sink(const struct stoat_fleet_opts *o, size_t i)
{
    for (size_t s = 0; s < o->nsinks; s++)
        if (o->sinks[s].ctx == o->cross_sinks[i].ctx)
            return false;
    return true;
}

/* The facts go out from every worker; the cross-host role is taken by
 * whoever gets its lease. */
static void cross_start(struct centre *c)
{
    const struct stoat_fleet_opts *o = c->o;
    c->facts = fleet_facts_create(c->conn, o->id);
    consumer_send_facts(&c->con, fleet_facts_add, c->facts);
    const struct behaviour_data *d = behaviour_data_of(c->rs);
    struct fleet_cross_opts xo = {.sinks = o->cross_sinks,
                                  .nsinks = o->ncross_sinks,
                                  .store = o->cross_store,
                                  .rd = c->rd,
                                  .profile = d ? d->baseline : NULL,
                                  .gap_ns = o->beh->incident_gap_ns,
                                  .min_score = o->beh->incident_min_score,
                                  .idle_s = o->cross_idle_s,
                                  .replay_s = o->cross_replay_s,
                                  .partitions = c->partitions,
                                  .rs = c->rs,
                                  .beh = &c->bo,
                                  .min_level = o->min_level,
                                  .id = o->id,
                                  .diag = o->diag,
                                  .diag_ctx = o->diag_ctx,
                                  .verbose = o->verbose};
    for (size_t i = 0; i < o->ncross_sinks; i++)
        if (o->cross_sinks[i].begin && own_cross_sink(o, i))
            o->cross_sinks[i].begin(o->cross_sinks[i].ctx);
    c->cross = fleet_cross_create(c->conn, &xo);
}

static stoat_err cross_stop(struct centre *c)
{
    const struct stoat_fleet_opts *o = c->o;
    struct fleet_cross_stats xs;
    fleet_cross_stats(c->cross, &xs);
    fleet_facts_counts(c->facts, &c->fs->fact_messages, &c->fs->facts, &c->fs->facts_derived, &c->fs->facts_replayed);
    c->fs->cross_facts = xs.facts;
    c->fs->cross_incidents = xs.incidents;
    c->fs->cross_known = xs.known;
    c->fs->cross_edges = xs.edges;
    c->fs->cross_new_edges = xs.new_edges;
    c->fs->cross_corr = xs.corr_alerts;
    c->fs->cross_corr_known = xs.corr_known;
    fleet_cross_destroy(c->cross);
    c->cross = NULL;
    stoat_err err = STOAT_OK;
    for (size_t i = 0; i < o->ncross_sinks; i++)
        if (o->cross_sinks[i].end && own_cross_sink(o, i)) {
            stoat_err e = o->cross_sinks[i].end(o->cross_sinks[i].ctx, NULL);
            if (e)
                say_store_err(c, o->cross_store, e, "ending the cross-host role's run");
            if (e && !err)
                err = e;
        }
    return err;
}

stoat_err stoat_fleet_run(struct stoat_bus_conn *conn, const struct stoat_fleet_opts *o, struct stoat_fleet_stats *fs)
{
    memset(fs, 0, sizeof(*fs));
    struct centre c = {.o = o, .conn = conn, .fs = fs, .stats = &fs->hunt, .rs = o->rs};
    snprintf(c.version, sizeof(c.version), "%s", o->rule_version ? o->rule_version : "local");
    char why[512] = "";
    stoat_err err = centre_open(&c, why, sizeof(why));
    if (err != STOAT_OK) {
        say(&c, STOAT_SEV_ERROR, "%s", why);
        goto out;
    }
    for (size_t s = 0; s < o->nsinks; s++)
        if (o->sinks[s].begin)
            o->sinks[s].begin(o->sinks[s].ctx);
    c.mute = xcalloc(o->nsinks ? o->nsinks : 1, sizeof(*c.mute));
    c.mute_ctx = xcalloc(o->nsinks ? o->nsinks : 1, sizeof(*c.mute_ctx));
    for (size_t s = 0; s < o->nsinks; s++) {
        c.mute_ctx[s] = (struct mute_ctx){&c, &o->sinks[s]};
        c.mute[s] = (struct stoat_sink){
            .ctx = &c.mute_ctx[s], .alert = mute_alert, .incident = mute_incident, .event = mute_event};
    }
    /* correlations are fed early when the worker goes idle (idle_advance):
     * a host's matches that come after that still count up to two days
     * behind its newest (its clock is its own, but one host's files come
     * in any order: Security, then Sysmon) */
    c.bo = *o->beh;
    if (!c.bo.corr_offline_lateness_ns)
        c.bo.corr_offline_lateness_ns = FLEET_CORR_LATENESS_NS;
    consumer_init(&c.con, c.rs, c.mute, o->nsinks, o->min_level, false, &c.bo, c.stats);
    cross_start(&c);
    pipeline_start(&c);
    unsigned batch = o->batch ? o->batch : FLEET_BATCH;
    double t0 = mono_s(), last_tick = -1e9, last_silence = mono_s(), last_feed = mono_s();
    double first_work = -1, first_cpu = 0;
    useconds_t idle_us = 10000;
    int64_t silence_ns = (o->silence_ms ? o->silence_ms : 3 * FLEET_HEARTBEAT_MS) * 1000000LL;
    while (!(o->stop && *o->stop) && !(o->duration_s > 0 && mono_s() - t0 >= o->duration_s)) {
        if (mono_s() - last_tick >= FLEET_RENEW_MS / 1000.0) {
            bool changed = false;
            fleet_leases_tick(c.leases, c.held, &changed);
            subs_follow_leases(&c);
            fleet_cross_hold(c.cross, c.held[c.partitions + 1]);
            maybe_reload(&c);
            last_tick = mono_s();
        }
        double r0 = mono_s(), cpu0 = first_work < 0 ? cpu_s() : 0;
        bool any = round_fetch(&c, batch);
        bool work = c.nround > 0;
        if (work)
            fs->t_fetch += mono_s() - r0;
        if ((err = round_settle(&c)) != STOAT_OK)
            break;
        if (work) {
            if (first_work < 0) {
                first_work = r0;
                first_cpu = cpu0;
            }
            fs->busy_s = mono_s() - first_work;
            fs->busy_cpu_s = cpu_s() - first_cpu;
            fs->last_commit_ns = wall_ns();
        }
        bool facts = false;
        if ((err = fleet_cross_round(c.cross, &facts)) != STOAT_OK)
            break;
        any = any || facts;
        if (c.held[c.partitions] && mono_s() - last_silence >= 1.0) {
            flag_silent(&c, silence_ns);
            last_silence = mono_s();
        }
        /* idle: each round asks every held partition's consumer (a request
         * the cluster answers), so an idle worker backs off from 20 ms to
         * 100 ms between rounds; work brings it back to 20 */
        idle_us = any ? 20000 : (idle_us * 2 > 100000 ? 100000 : idle_us * 2);
        if ((err = feed_kept(&c, &last_feed)) != STOAT_OK)
            break;
        if (!any)
            usleep(idle_us);
    }
    fleet_leases_release(c.leases);
    units_finish(c.units);
    stoat_err fe = consumer_fini(&c.con);
    if (err == STOAT_OK)
        err = fe;
    fe = loose_facts_out(&c); /* what the stop closed */
    if (err == STOAT_OK)
        err = fe;
    /* committed before the cross-host role ends: its handle writes the same
     * file, and this handle's open transaction would hold it off until
     * SQLite gives up, its run left unended */
    if ((fe = stoat_store_commit(o->store)) != STOAT_OK)
        say_store_err(&c, o->store, fe, "storing what the stop closed");
    if (err == STOAT_OK)
        err = fe;
    fe = cross_stop(&c);
    if (err == STOAT_OK)
        err = fe;
    latency_figures(&c);
    fs->hunt.seconds = mono_s() - t0;
    for (size_t s = 0; s < o->nsinks; s++)
        if (o->sinks[s].end) {
            stoat_err e = o->sinks[s].end(o->sinks[s].ctx, &fs->hunt);
            if (e)
                say_store_err(&c, o->store, e, "ending the worker's run");
            if (e && !err)
                err = e;
        }
out:
    for (unsigned r = 0; c.subs && r <= c.partitions; r++)
        natsSubscription_Destroy(c.subs[r]);
    free(c.subs);
    if (c.ack_sub)
        natsSubscription_Unsubscribe(c.ack_sub);
    natsSubscription_Destroy(c.ack_sub);
    free(c.held);
    free(c.ever);
    free(c.done_seq);
    free(c.round);
    free(c.acks);
    free(c.hbs);
    free(c.mute);
    free(c.mute_ctx);
    free(c.lat);
    fleet_leases_close(c.leases);
    fleet_cross_destroy(c.cross);
    fleet_facts_destroy(c.facts);
    stoat_bus_rules_watch_stop(c.rules);
    stoat_store_close(c.rd);
    stoat_store_close(c.rd_corr);
    stoat_ruleset_destroy(c.owned);
    pthread_mutex_destroy(&c.mu);
    pthread_cond_destroy(&c.cv);
    return err;
}
