/* The cross-host role of the centre: one `stoat fleet` process (the holder
 * of lease "cross") reads STOAT_FACTS with the durable pull consumer
 * "cross" and feeds the facts to the cross-host analytics (behaviour/
 * cross.h): the lateral movement graph and fleet incidents, which go to
 * the same store and JSON lines as the workers' alerts.
 *
 * Why it works this way:
 * - Facts are small (logons, addresses, alert digests), so one process
 *   sees every host's; the partition workers derive them (facts_out.c).
 * - Live, in event time: a chain is reported when the newest fact's time
 *   has moved the gap past it (cross.h). But the partitions run apart: a
 *   host's day may come in one batch while another worker still holds the
 *   batch with the logons that continue its chain. So event time moves on
 *   only when every partition consumer has nothing waiting and nothing
 *   unacknowledged (all facts of what was published are out), or, on a
 *   fleet that is never idle, when that was last seen a minute ago. A
 *   fleet replaying a recorded day, or a quiet one, has no newer facts to
 *   move time on, so when no fact at all came for --cross-idle seconds
 *   (and the partitions are drained) the open chains close as if the gap
 *   had passed.
 * - A round: fetch facts, feed them, store what closed, commit, then
 *   acknowledge. The state (facts within the chains' reach) lives only in
 *   memory, so a process that takes the lease (at start, or from one that
 *   died) first replays the stream's facts of the last --cross-replay
 *   seconds up to the consumer's ack floor, with an ordered consumer: the
 *   graph and open chains are rebuilt, and what the facts after the floor
 *   add comes from the durable consumer as usual.
 * - A chain reported again after a takeover (the replay closes it once
 *   more) is known by its first logon (time, from, to) in the store and
 *   not stored twice; the store is asked, not this process's memory, so it
 *   holds across processes sharing the store file.
 * - The incidents' alert ids are those of the workers' runs that stored the
 *   alerts: this role's store run links none of them (it stores no alert),
 *   rather than link wrong ones.
 * - Sigma correlations whose group-by spans hosts (one account's logons to
 *   many hosts) are judged here, over the matches of their rules that every
 *   partition worker sends as facts (xcorr.h), with the spec's windows and
 *   the workers' lateness, fed in time order when the facts pause, so that
 *   facts of several workers in any order count as a hunt over all the
 *   files would. A firing's alert is stored once: the store is asked first
 *   (by rule, group and window, as the workers' own), so the windows a
 *   takeover's replay (or a late match) rebuilds and judges again add
 *   nothing. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "behaviour/cross.h"
#include "behaviour/facts.h"
#include "fleet/fleet.h"
#include "fleet/xcorr.h"
#include "util/mem.h"

#define NS            1000000000LL
#define CROSS_FETCH   256
#define DRAIN_CHECK_S 2.0  /* the partitions' lag is asked at most this often */
#define BUSY_S        60.0 /* never drained this long: time moves on anyway */

struct fleet_cross {
    struct stoat_bus_conn *conn;
    struct fleet_cross_opts o;
    natsSubscription *sub; /* while the lease is held */
    struct cross *x;
    struct facts_store *fst;
    int64_t newest_ns;  /* the newest fact's event time */
    bool fresh;         /* facts came since the last idle close */
    double last_fact_s; /* monotonic */
    double last_check_s, last_drained_s;
    bool drained;             /* at the last check */
    int64_t advanced_ns;      /* event time last handed to the engine */
    struct fleet_xcorr *corr; /* correlations spanning hosts (NULL: none) */
    uint64_t corr_ids;        /* the firings' alert ids */
    double last_idle_s;       /* when the kept matches were last fed */
    stoat_err sink_err;
    struct fleet_cross_stats st;
};

static void say(struct fleet_cross *x, enum stoat_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct fleet_cross *x, enum stoat_severity sev, const char *fmt, ...)
{
    if (!x->o.diag)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    struct stoat_diag d = {.code = sev == STOAT_SEV_ERROR ? STOAT_ERR_IO : STOAT_OK, .severity = sev, .message = msg};
    x->o.diag(x->o.diag_ctx, &d);
}

static double mono_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * NS + ts.tv_nsec;
}

/* A fleet incident closed: stored unless the store has it already. */
static void on_incident(void *ctx, const struct stoat_incident *inc)
{
    struct fleet_cross *x = ctx;
    if (inc->nedges && x->o.rd &&
        stoat_store_fleet_incident_known(x->o.rd, inc->edges[0].first_ns, inc->edges[0].from, inc->edges[0].to) == 1) {
        x->st.known++;
        return;
    }
    x->st.incidents++;
    for (size_t s = 0; s < x->o.nsinks; s++)
        if (x->o.sinks[s].incident) {
            stoat_err e = x->o.sinks[s].incident(x->o.sinks[s].ctx, inc);
            if (e && !x->sink_err)
                x->sink_err = e;
        }
    if (x->o.verbose)
        say(x, STOAT_SEV_NOTE, "%s", inc->title ? inc->title : "fleet incident");
}

static void on_edge(void *ctx, const struct stoat_incident_edge *e)
{
    struct fleet_cross *x = ctx;
    x->st.edges++;
    if (e->is_new)
        x->st.new_edges++;
}

/* A correlation spanning hosts fired: stored unless the store has it. */
static void on_corr_alert(void *ctx, struct stoat_alert *a)
{
    struct fleet_cross *x = ctx;
    if (x->o.rd && stoat_store_corr_known(x->o.rd, a) == 1) {
        x->st.corr_known++;
        if (x->o.verbose)
            say(x, STOAT_SEV_NOTE, "fleet: correlation across hosts stored before: %s",
                a->rule && a->rule->title ? a->rule->title : "?");
        return;
    }
    a->id = ++x->corr_ids;
    x->st.corr_alerts++;
    for (size_t s = 0; s < x->o.nsinks; s++)
        if (x->o.sinks[s].alert) {
            stoat_err e = x->o.sinks[s].alert(x->o.sinks[s].ctx, a);
            if (e && !x->sink_err)
                x->sink_err = e;
        }
    if (x->o.verbose)
        say(x, STOAT_SEV_NOTE, "fleet: correlation across hosts: %s", a->rule && a->rule->title ? a->rule->title : "?");
}

static void corr_new(struct fleet_cross *x)
{
    fleet_xcorr_destroy(x->corr);
    x->corr = fleet_xcorr_create(x->o.rs, x->o.beh, x->o.min_level, on_corr_alert, x);
}

static void engine_new(struct fleet_cross *x)
{
    cross_destroy(x->x);
    corr_new(x);
    struct cross_opts co = {.gap_ns = x->o.gap_ns,
                            .min_score = x->o.min_score,
                            .live = true,
                            .lateness_ns = 60 * NS,
                            .profile = x->o.profile};
    x->x = cross_create(&co, &(struct cross_out){.ctx = x, .incident = on_incident, .edge = on_edge});
    x->newest_ns = x->advanced_ns = INT64_MIN;
    x->fresh = false;
}

/* Every partition consumer has nothing waiting and nothing unacknowledged:
 * the facts of every batch published so far are in STOAT_FACTS. */
static bool partitions_drained(struct fleet_cross *x)
{
    for (unsigned p = 0; p < x->o.partitions; p++) {
        char durable[32];
        snprintf(durable, sizeof(durable), STOAT_FLEET_CONSUMER_PREFIX "%u", p);
        jsConsumerInfo *ci = NULL;
        if (js_GetConsumerInfo(&ci, stoat_bus_js(x->conn), STOAT_BUS_STREAM_EVENTS, durable, NULL, NULL) != NATS_OK)
            return false;
        bool idle = ci->NumPending == 0 && ci->NumAckPending == 0;
        jsConsumerInfo_Destroy(ci);
        if (!idle)
            return false;
    }
    return true;
}

/* Hands event time to the engine when the partitions allow (see above);
 * force: now (the end of a replay, whose facts are all there). */
static void move_time(struct fleet_cross *x, bool force)
{
    if (x->newest_ns == INT64_MIN || x->newest_ns == x->advanced_ns)
        return;
    double now = mono_s();
    if (!force && now - x->last_check_s >= DRAIN_CHECK_S) {
        x->last_check_s = now;
        x->drained = partitions_drained(x);
        if (x->drained)
            x->last_drained_s = now;
    }
    if (force || x->drained || now - x->last_drained_s >= BUSY_S) {
        cross_advance(x->x, x->newest_ns);
        x->advanced_ns = x->newest_ns;
    }
}

struct fleet_cross *fleet_cross_create(struct stoat_bus_conn *c, const struct fleet_cross_opts *o)
{
    struct fleet_cross *x = xcalloc(1, sizeof(*x));
    x->conn = c;
    x->o = *o;
    if (x->o.gap_ns <= 0)
        x->o.gap_ns = 2 * 3600 * NS;
    if (x->o.idle_s <= 0)
        x->o.idle_s = 30;
    if (x->o.replay_s == 0)
        x->o.replay_s = 3.0 * (double)x->o.gap_ns / 1e9 + 3600;
    x->fst = xmalloc(sizeof(*x->fst));
    x->last_fact_s = x->last_drained_s = mono_s();
    x->last_check_s = -1e9;
    return x;
}

/* One message's facts (JSON lines) into the engine. */
static void feed(struct fleet_cross *x, natsMsg *m)
{
    const char *p = natsMsg_GetData(m);
    int len = natsMsg_GetDataLength(m);
    const char *end = p && len > 0 ? p + len : p;
    unsigned line = 0;
    x->st.messages++;
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
        line++;
        struct cross_fact f;
        char why[160];
        if (n && facts_parse(p, n, &f, x->fst, why, sizeof(why))) {
            if (f.kind == CROSS_FACT_MATCH) {
                fleet_xcorr_add(x->corr, &f.match);
                x->st.facts++;
                p = nl ? nl + 1 : end;
                continue;
            }
            cross_fact(x->x, &f);
            x->st.facts++;
            int64_t t = f.kind == CROSS_FACT_LOGON   ? f.logon.time_ns
                        : f.kind == CROSS_FACT_ALERT ? f.alert.time_ns
                                                     : INT64_MIN;
            if (t != INT64_MIN && t > x->newest_ns)
                x->newest_ns = t;
            x->fresh = true;
        } else if (n) {
            x->st.bad++;
            say(x, STOAT_SEV_WARNING, "fleet: %s, fact line %u: %s; skipped", natsMsg_GetSubject(m), line, why);
        }
        p = nl ? nl + 1 : end;
    }
}

static void replay_one(void *ctx, natsMsg *m)
{
    struct fleet_cross *x = ctx;
    feed(x, m);
    x->st.replayed++;
    natsMsg_Destroy(m);
}

/* The facts of the last replay_s seconds, up to what the durable consumer
 * has seen acknowledged: the state the last holder had. */
static void replay(struct fleet_cross *x)
{
    if (x->o.replay_s < 0)
        return;
    uint64_t before = x->st.replayed, floor_seq = 0;
    int je = 0;
    int r = fleet_replay(x->conn, STOAT_BUS_STREAM_FACTS, STOAT_FLEET_CONSUMER_CROSS, "stoat.fact.>",
                         wall_ns() - (int64_t)(x->o.replay_s * 1e9), 0, replay_one, x, &floor_seq, &je);
    if (r < 0)
        say(x, STOAT_SEV_WARNING, "fleet: cannot replay the facts (JetStream error %d): the graph starts empty", je);
    if (r <= 0)
        return;
    move_time(x, true);
    if (x->o.verbose)
        say(x, STOAT_SEV_NOTE, "fleet: %s replayed %llu fact messages", x->o.id ? x->o.id : "?",
            (unsigned long long)(x->st.replayed - before));
}

void fleet_cross_hold(struct fleet_cross *x, bool held)
{
    if (held && !x->sub) {
        jsSubOptions so;
        jsSubOptions_Init(&so);
        so.Stream = STOAT_BUS_STREAM_FACTS;
        so.Consumer = STOAT_FLEET_CONSUMER_CROSS;
        jsErrCode je = 0;
        natsStatus s = js_PullSubscribe(&x->sub, stoat_bus_js(x->conn), "stoat.fact.>", STOAT_FLEET_CONSUMER_CROSS,
                                        NULL, &so, &je);
        if (s != NATS_OK) {
            say(x, STOAT_SEV_WARNING, "fleet: cannot read consumer %s: %s (JetStream error %d); retrying",
                STOAT_FLEET_CONSUMER_CROSS, natsStatus_GetText(s), (int)je);
            x->sub = NULL;
            return;
        }
        if (x->o.verbose)
            say(x, STOAT_SEV_NOTE, "fleet: %s reads %s", x->o.id ? x->o.id : "?", STOAT_FLEET_CONSUMER_CROSS);
        engine_new(x);
        replay(x);
        x->last_fact_s = mono_s();
    } else if (!held && x->sub) {
        natsSubscription_Destroy(x->sub); /* not Unsubscribe: that could delete the consumer */
        x->sub = NULL;
        cross_destroy(x->x);
        x->x = NULL;
        fleet_xcorr_destroy(x->corr); /* its windows are the next holder's to rebuild */
        x->corr = NULL;
        if (x->o.verbose)
            say(x, STOAT_SEV_NOTE, "fleet: %s gave up the cross-host role", x->o.id ? x->o.id : "?");
    }
}

/* Quiet for idle_s: the open chains close as if their gap had passed. */
static void close_idle(struct fleet_cross *x)
{
    if (!x->fresh || x->newest_ns == INT64_MIN || mono_s() - x->last_fact_s < x->o.idle_s || !x->drained)
        return;
    int64_t past = x->newest_ns + x->o.gap_ns + 62 * NS; /* the gap, the lateness and a round */
    cross_advance(x->x, past < x->newest_ns ? INT64_MAX - 1 : past);
    x->fresh = false;
}

stoat_err fleet_cross_round(struct fleet_cross *x, bool *any)
{
    *any = false;
    if (!x->sub)
        return STOAT_OK;
    natsMsgList list = {0};
    jsFetchRequest fr;
    jsFetchRequest_Init(&fr);
    fr.Batch = CROSS_FETCH;
    fr.NoWait = true;
    natsStatus s = natsSubscription_FetchRequest(&list, x->sub, &fr);
    if (s == NATS_OK || list.Count) {
        for (int i = 0; i < list.Count; i++)
            feed(x, list.Msgs[i]);
        if (list.Count) {
            *any = true;
            x->last_fact_s = mono_s();
        }
    }
    move_time(x, false);
    close_idle(x);
    /* no facts this round: the kept matches are fed and the windows' clocks
     * move on by the quiet time, once a second (as the workers' idle) */
    double now = mono_s();
    if (!list.Count && x->corr && now - x->last_idle_s >= 1.0) {
        x->last_idle_s = now;
        fleet_xcorr_idle(x->corr, (int64_t)((now - x->last_fact_s) * 1e9));
    }
    stoat_err e = x->sink_err;
    x->sink_err = STOAT_OK;
    if (e == STOAT_OK && x->o.store)
        e = stoat_store_commit(x->o.store);
    if (e != STOAT_OK) {
        /* nothing acknowledged: delivered again; the graph has them already,
         * so the next holder's replay is what rebuilds it cleanly */
        stoat_store_diag(x->o.store, e, x->o.diag, x->o.diag_ctx);
        for (int i = 0; i < list.Count; i++)
            natsMsg_Nak(list.Msgs[i], NULL);
        natsMsgList_Destroy(&list);
        return e;
    }
    for (int i = 0; i < list.Count; i++) {
        if (i + 1 == list.Count)
            natsMsg_AckSync(list.Msgs[i], NULL, NULL);
        else
            natsMsg_Ack(list.Msgs[i], NULL);
    }
    natsMsgList_Destroy(&list);
    return STOAT_OK;
}

void fleet_cross_set_profile(struct fleet_cross *x, const struct baseline *profile)
{
    x->o.profile = profile;
    if (x->x)
        cross_set_profile(x->x, profile);
}

void fleet_cross_set_rules(struct fleet_cross *x, const struct stoat_ruleset *rs)
{
    if (!x)
        return;
    x->o.rs = rs;
    if (x->sub) /* the old rules' open windows go with them, as in the workers */
        corr_new(x);
}

void fleet_cross_stats(const struct fleet_cross *x, struct fleet_cross_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!x)
        return;
    *out = x->st;
    if (x->x) {
        struct cross_stats cs;
        cross_get_stats(x->x, &cs);
        out->dropped = cs.dropped;
    }
}

void fleet_cross_destroy(struct fleet_cross *x)
{
    if (!x)
        return;
    /* open chains are not closed here: the next holder replays their facts
     * and reports them whole (closing them now would report them early,
     * and the whole chain later would be known by the same first logon) */
    natsSubscription_Destroy(x->sub);
    cross_destroy(x->x);
    fleet_xcorr_destroy(x->corr);
    free(x->fst);
    free(x);
}
