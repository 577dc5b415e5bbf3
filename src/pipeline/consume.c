/* See consume.h. */
#include "pipeline/consume.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "pipeline/trace.h"
#include "rules/ruleset.h"
#include "util/text.h"

int64_t consume_pid(const char *s, uint32_t n)
{
    int64_t v;
    return s && parse_int64(s, n, &v) && v >= 0 ? v : -1;
}

int64_t consume_time_slow(const char *s, uint32_t n)
{
    struct timestamp t;
    return s && parse_timestamp(s, n, &t) ? timestamp_to_ns(&t) : INT64_MIN;
}

static bool two_digits(const char *s, int *v)
{
    if (s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9')
        return false;
    *v = (s[0] - '0') * 10 + (s[1] - '0');
    return true;
}

/* The last minute a thread's events were of ("2026-11-18T11:06"): events
 * come in time order, and the date's arithmetic is then done once a minute. */
struct minute {
    char text[16];
    int64_t ns;
};
static _Thread_local struct minute last_minute;

/* "YYYY-MM-DD[T ]HH:MM:SS[.f{1,}][Z]", the shape nearly every log writes,
 * as parse_timestamp and timestamp_to_ns read it; false for anything else
 * (the slow path decides). */
static bool fast_time(const char *s, uint32_t n, int64_t *out)
{
    int sec;
    if (n < 19 || s[13] != ':' || s[16] != ':' || !two_digits(s + 17, &sec) || sec > 60)
        return false;
    uint32_t i = 19;
    int64_t frac = 0;
    if (i < n && (s[i] == '.' || s[i] == ',')) {
        int nd = 0;
        for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            if (nd < 9) {
                frac = frac * 10 + (s[i] - '0');
                nd++;
            }
        if (nd == 0)
            return false;
        while (nd++ < 9)
            frac *= 10;
    }
    if (i < n && (s[i] == 'Z' || s[i] == 'z'))
        i++;
    if (i != n)
        return false;
    struct minute *m = &last_minute;
    if (memcmp(m->text, s, sizeof(m->text)) != 0) {
        /* the minute by the slow path: "YYYY-MM-DDTHH:MM" alone, in UTC;
         * far from where nanoseconds saturate, or not taken */
        int year_hi, v;
        if (!two_digits(s, &year_hi) || !two_digits(s + 2, &v) || year_hi < 17 || year_hi > 21 || s[4] != '-' ||
            !two_digits(s + 5, &v) || s[7] != '-' || !two_digits(s + 8, &v) ||
            (s[10] != 'T' && s[10] != 't' && s[10] != ' ') || !two_digits(s + 11, &v) || !two_digits(s + 14, &v))
            return false;
        int64_t ns = consume_time_slow(s, 16);
        if (ns == INT64_MIN)
            return false;
        memcpy(m->text, s, sizeof(m->text));
        m->ns = ns;
    }
    *out = m->ns + sec * 1000000000LL + frac;
    return true;
}

int64_t consume_time(const char *s, uint32_t n)
{
    int64_t ns;
    return s && fast_time(s, n, &ns) ? ns : consume_time_slow(s, n);
}

/* Serials of events and of rulesets, unique in the process whatever the
 * number of consumers (stoat_alert's event_serial and rule_serial). */
static _Atomic uint64_t event_serials, ruleset_serials;

static uint64_t next_serial(_Atomic uint64_t *s)
{
    return atomic_fetch_add_explicit(s, 1, memory_order_relaxed) + 1;
}

static void emit_alert(struct consumer *c, struct stoat_alert *a)
{
    c->stats->alerts++;
    a->id = c->stats->alerts;
    c->stats->alerts_by_level[a->rule->level]++;
    for (size_t s = 0; s < c->nsinks; s++)
        if (c->sinks[s].alert) {
            stoat_err e = c->sinks[s].alert(c->sinks[s].ctx, a);
            if (e && !c->err)
                c->err = e;
        }
}

/* An alert concluded by behaviour or a correlation (not by a rule on one
 * event): numbered, reported, chained. */
static void on_behaviour_alert(void *ctx, struct stoat_alert *a)
{
    struct consumer *c = ctx;
    emit_alert(c, a);
    behaviour_alert(c->beh, a);
}

static void on_incident(void *ctx, const struct stoat_incident *inc)
{
    struct consumer *c = ctx;
    c->stats->incidents++;
    for (size_t s = 0; s < c->nsinks; s++)
        if (c->sinks[s].incident) {
            stoat_err e = c->sinks[s].incident(c->sinks[s].ctx, inc);
            if (e && !c->err)
                c->err = e;
        }
}

static struct corr_stream *corr_start(struct consumer *c);

void consumer_init(struct consumer *c, const struct stoat_ruleset *rs, const struct stoat_sink *sinks, size_t nsinks,
                   enum stoat_level min_level, bool all_events, const struct stoat_behaviour_opts *bo,
                   struct stoat_hunt_stats *stats)
{
    memset(c, 0, sizeof(*c));
    c->rs = rs;
    c->sinks = sinks;
    c->nsinks = nsinks;
    c->min_level = min_level;
    c->all_events = all_events;
    c->stats = stats;
    c->rs_serial = next_serial(&ruleset_serials);
    c->beh_opts = *bo;
    struct behaviour_out out = {.ctx = c, .incident = on_incident, .alert = on_behaviour_alert};
    c->beh = behaviour_create(rs, &c->beh_opts, &out);
    c->eng = engine_ctx_create(rs);
    c->corr = corr_start(c);
}

static void on_fact(void *ctx, const struct cross_fact *f)
{
    struct consumer *c = ctx;
    c->fact(c->fact_ctx, f);
}

/* A match for the correlations spanning hosts: a fact like the others. */
static void on_match(void *ctx, const struct cross_match *m)
{
    struct consumer *c = ctx;
    struct cross_fact f = {.kind = CROSS_FACT_MATCH, .match = *m};
    c->fact(c->fact_ctx, &f);
}

/* Correlations as the facts' destination wants them: split when the facts
 * go out (the workers keep those grouped by host, one clock per host, and
 * send the matches of the others on), else all here. */
static struct corr_stream *corr_start(struct consumer *c)
{
    struct corr_stream *s = corr_stream_create_part(c->rs, &c->beh_opts, c->min_level, c->stats, on_behaviour_alert, c,
                                                    c->fact ? CORR_PART_HOSTS : CORR_PART_ALL);
    if (c->fact)
        corr_stream_forward(s, on_match, c);
    return s;
}

void consumer_send_facts(struct consumer *c, void (*fn)(void *ctx, const struct cross_fact *f), void *ctx)
{
    c->fact = fn;
    c->fact_ctx = ctx;
    behaviour_send_facts(c->beh, on_fact);
    corr_stream_destroy(c->corr); /* before any input: nothing to close */
    c->corr = corr_start(c);
}

stoat_err consumer_fini(struct consumer *c)
{
    struct trace_span ts;
    trace_start(&ts);
    if (c->corr)
        corr_stream_finish(c->corr); /* its alerts join incidents: before the chains close */
    corr_stream_destroy(c->corr);
    c->corr = NULL;
    trace_add(TRACE_CORR_END, &ts);
    trace_start(&ts);
    if (c->finish_parallel)
        behaviour_finish_parallel(c->beh);
    else
        behaviour_finish(c->beh);
    trace_add(TRACE_BEHAVIOUR_END, &ts);
    if (c->beh_opts.baseline_out && behaviour_write_baseline(c->beh, c->beh_opts.baseline_out) && !c->err)
        c->err = STOAT_ERR_IO;
    struct behaviour_stats bs;
    behaviour_get_stats(c->beh, &bs);
    c->stats->proc_evicted = bs.procs.evicted;
    c->stats->cross_dropped = bs.cross_dropped;
    c->stats->incident_batches = bs.incident_batches;
    c->stats->incident_late = bs.incident_late;
    consumer_regex_stats(c, NULL, c->stats);
    free(c->regex_limited);
    c->regex_limited = NULL;
    behaviour_destroy(c->beh);
    engine_ctx_destroy(c->eng);
    c->beh = NULL;
    c->eng = NULL;
    return c->err;
}

void consumer_regex_stats(const struct consumer *c, const struct engine_ctx *more, struct stoat_hunt_stats *st)
{
    const uint64_t *sums[3] = {c->regex_limited, engine_regex_limited(c->eng), engine_regex_limited(more)};
    st->regex_limited_rules =
        engine_regex_limited_top(c->rs, sums, 3, st->regex_limits, STOAT_LIMIT_RULES, &st->regex_limited);
    st->regex_limited += c->regex_limited_before;
}

void consumer_proc(struct consumer *c, bool end, const char *host, int64_t t, const char *const fv[PF_COUNT],
                   const uint32_t fl[PF_COUNT])
{
    consumer_proc_ids(c, end, host, t, fv, consume_pid(fv[PF_PID], fl[PF_PID]), consume_pid(fv[PF_PPID], fl[PF_PPID]));
}

void consumer_proc_ids(struct consumer *c, bool end, const char *host, int64_t t, const char *const fv[PF_COUNT],
                       int64_t pid, int64_t ppid)
{
    if (end) {
        behaviour_proc_end(c->beh, host, fv[PF_GUID], pid, t);
        return;
    }
    struct proc_start ps = {
        .host = host,
        .guid = fv[PF_GUID],
        .parent_guid = fv[PF_PARENT_GUID],
        .pid = pid,
        .ppid = ppid,
        .time_ns = t,
        .image = fv[PF_IMAGE],
        .command_line = fv[PF_COMMAND_LINE],
        .user = fv[PF_USER],
        .logon_id = fv[PF_LOGON_ID],
        .parent_image = fv[PF_PARENT_IMAGE],
        .parent_command_line = fv[PF_PARENT_COMMAND_LINE],
        .parent_user = fv[PF_PARENT_USER],
    };
    behaviour_proc_start(c->beh, &ps);
}

void consumer_prefetch_host(const struct consumer *c, uint64_t host_hash)
{
    behaviour_prefetch_host(c->beh, host_hash);
}

void consumer_prefetch_rule(const struct consumer *c, uint32_t r)
{
    if (r >= c->rs->nrules)
        return;
    /* its record is large and read in two places: the meta's level and
     * title, and the flags after the program */
    const struct rule *ru = &c->rs->rules[r];
    __builtin_prefetch(&ru->meta.level);
    __builtin_prefetch(&ru->role);
    behaviour_prefetch_rule(c->beh, r);
}

void consumer_prefetch_spoof(const struct consumer *c, uint64_t self, uint64_t parent)
{
    behaviour_prefetch_spoof(c->beh, self, parent);
}

/* The event again, in this stage's own engine context, with the extension
 * fields from its ancestry (ancestry[0] is the process itself). */
static void rebuild_event(struct consumer *c, const struct stoat_alert *a)
{
    struct engine_ctx *e = c->eng;
    engine_event_begin(e);
    for (size_t i = 0; i < a->nfields; i++) {
        const struct stoat_field *f = &a->fields[i];
        engine_event_add(e, f->name, f->name_len, engine_field_id(e, f->name, f->name_len), f->value, f->value_len,
                         f->type);
    }
    uint32_t ids[2] = {c->rs->field_ancestors, c->rs->field_ancestor_cmds};
    static const char *const names[2] = {FIELD_ANCESTORS, FIELD_ANCESTOR_CMDS};
    for (size_t i = 1; i < a->nancestry; i++) {
        const char *v[2] = {a->ancestry[i].image, a->ancestry[i].command_line};
        for (int k = 0; k < 2; k++)
            if (v[k])
                engine_event_add(e, names[k], (uint32_t)strlen(names[k]), ids[k], v[k], (uint32_t)strlen(v[k]),
                                 STOAT_V_STRING);
    }
}

void consumer_event(struct consumer *c, struct stoat_alert *a, const uint32_t *rules, const uint8_t *use, size_t n,
                    const struct actor *who)
{
    a->event_serial = next_serial(&event_serials);
    if (c->all_events)
        for (size_t s = 0; s < c->nsinks; s++)
            if (c->sinks[s].event) {
                stoat_err e = c->sinks[s].event(c->sinks[s].ctx, a);
                if (e && !c->err)
                    c->err = e;
            }
    bool enriched = false, rebuilt = false;
    for (size_t i = 0; i < n; i++) {
        uint32_t r = rules[i];
        const struct rule *ru = &c->rs->rules[r];
        if (use[i] == USE_CORRELATION) {
            if (c->corr)
                corr_stream_match(c->corr, a, r, 0);
            continue;
        }
        if (use[i] == USE_BEHAVIOUR) {
            /* enriches a itself, when its role needs the process */
            a->rule = &ru->meta;
            behaviour_watch(c->beh, a, who, &enriched);
            continue;
        }
        if (!enriched) {
            behaviour_enrich(c->beh, a, who);
            enriched = true;
        }
        a->rule = &ru->meta;
        if (use[i] == USE_DEFERRED) {
            /* reads Ancestors: decide now that the process table knows them */
            if (!rebuilt) {
                rebuild_event(c, a);
                rebuilt = true;
            }
            if (!engine_eval_rule(c->eng, r))
                continue;
            if (ru->correlation_only || ru->meta.level < c->min_level) {
                if (c->corr && ru->feeds_correlation)
                    corr_stream_match(c->corr, a, r, 0);
                continue;
            }
        }
        /* the rule's serial only while its own alert is written: behaviour
         * copies a for alerts of other rules */
        a->rule_serial = c->rs_serial << 32 | (r + 1);
        emit_alert(c, a);
        a->rule_serial = 0;
        behaviour_alert(c->beh, a);
        if (c->corr && ru->feeds_correlation)
            corr_stream_match(c->corr, a, r, a->id);
    }
}

void consumer_set_ruleset(struct consumer *c, const struct stoat_ruleset *rs)
{
    /* correlation state names the old rules: close its windows, start anew */
    if (c->corr)
        corr_stream_finish(c->corr);
    corr_stream_destroy(c->corr);
    struct stoat_hunt_stats st = {0}; /* the old rules' regex limit counts: their total stays */
    consumer_regex_stats(c, NULL, &st);
    c->regex_limited_before = st.regex_limited;
    free(c->regex_limited);
    c->regex_limited = NULL;
    engine_ctx_destroy(c->eng);
    c->rs = rs;
    c->rs_serial = next_serial(&ruleset_serials);
    c->eng = engine_ctx_create(rs);
    behaviour_set_ruleset(c->beh, rs);
    c->corr = corr_start(c);
}

void consumer_advance(struct consumer *c, int64_t now_ns)
{
    if (c->corr)
        corr_stream_advance(c->corr, now_ns);
    behaviour_advance(c->beh, now_ns);
}

void consumer_quiet(struct consumer *c, int64_t wall_ns)
{
    corr_stream_quiet(c->corr, wall_ns); /* its alerts join chains: first */
    behaviour_quiet(c->beh, wall_ns);
}
