/* See consume.h. */
#include "hunt/consume.h"

#include <stdlib.h>
#include <string.h>

#include "behaviour/sources.h"
#include "event/route.h"
#include "rules/compile.h"
#include "rules/ruleset.h"
#include "sinks/glance.h"
#include "util/text.h"

size_t classify_matches(const struct stoat_ruleset *rs, enum stoat_level min_level, const uint32_t *rules, size_t n,
                        uint32_t *out, uint8_t *use)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = rules[i] & ~ENGINE_DEFERRED;
        const struct rule *r = &rs->rules[idx];
        bool silent = behaviour_role_silent(r->role);
        bool report = !r->correlation_only && !silent && r->meta.level >= min_level;
        if (!report && !r->feeds_correlation && !silent)
            continue;
        out[k] = idx;
        use[k] = silent ? USE_BEHAVIOUR
                 : (rules[i] & ENGINE_DEFERRED) ? USE_DEFERRED
                 : report ? USE_REPORT
                          : USE_CORRELATION;
        k++;
    }
    return k;
}

int64_t consume_pid(const char *s, uint32_t n)
{
    int64_t v;
    return s && parse_int64(s, n, &v) && v >= 0 ? v : -1;
}

int64_t consume_time(const char *s, uint32_t n)
{
    struct timestamp t;
    return s && parse_timestamp(s, n, &t) ? timestamp_to_ns(&t) : INT64_MIN;
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

/* An alert concluded by behaviour (not by a rule on one event). */
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


/* ------------------------------------------------------------ correlations */

/* Offline, the matches correlations read are kept (only the fields they
 * read) and fed in time order when the input ends: logs of one host come in
 * several files (Security, Sysmon, PowerShell), so input order is not time
 * order. When the kept matches reach their memory cap they are fed as one
 * time-sorted batch and keeping starts again; later batches' events that are
 * older than the correlation clock allows are counted as late. Live, matches
 * arrive in time order give or take the lateness and are fed at once. */
struct corr_kept {
    int64_t key;      /* time (or the last time before it) */
    uint64_t seq;     /* input order among equal times */
    size_t off;       /* into corr_kept */
};

#define CORR_VIEW_MAX 64   /* fields a correlation may read per event */

/* Matches of rules that only feed correlations are not alerts, so a firing
 * would name nothing the analyst can see. Each one fed gets an evidence id
 * (the correlation engine keeps it like an alert id, marked by the top bit)
 * and a line in this ring; a firing shows the lines still here. */
#define EVIDENCE_BIT (1ull << 63)
#define EVIDENCE_RING 4096
#define EVIDENCE_GLANCE 300
struct corr_evidence {
    uint64_t id;        /* 0: empty */
    int64_t time_ns;
    char *rule, *summary;
};

static uint64_t note_evidence(struct consumer *c, uint32_t rule, int64_t t, const char *summary, size_t n)
{
    if (!c->evidence)
        c->evidence = xcalloc(EVIDENCE_RING, sizeof(*c->evidence));
    uint64_t id = ++c->nevidence;
    struct corr_evidence *e = &c->evidence[id % EVIDENCE_RING];
    free(e->rule);
    free(e->summary);
    const char *title = c->rs->rules[rule].meta.title;
    *e = (struct corr_evidence){.id = id, .time_ns = t, .rule = xstrdup(title ? title : "?"),
                                .summary = xstrndup(summary, n)};
    return id | EVIDENCE_BIT;
}

static void free_evidence(struct consumer *c)
{
    for (size_t i = 0; c->evidence && i < EVIDENCE_RING; i++) {
        free(c->evidence[i].rule);
        free(c->evidence[i].summary);
    }
    free(c->evidence);
    c->evidence = NULL;
}

static void corr_want(struct consumer *c, const char *name)
{
    if (name && *name)
        fieldtab_intern(&c->corr_names, name, strlen(name));
}

static void corr_setup(struct consumer *c, const struct stoat_behaviour_opts *o)
{
    c->corr = NULL;
    corr_default_opts(&c->corr_opts);
    c->corr_live = o->corr_live;
    if (o->corr_live && o->corr_lateness_ns > 0)
        c->corr_opts.lateness_ns = o->corr_lateness_ns;
    if (o->corr_max_bytes)
        c->corr_opts.max_bytes = o->corr_max_bytes;
    c->corr_last_time = INT64_MIN;
    fieldtab_init(&c->corr_names);
    const struct stoat_ruleset *rs = c->rs;
    if (!rs->ncorrs || !(c->corr = corr_create(rs, &c->corr_opts)))
        return;
    for (size_t k = 0; k < rs->ncorrs; k++) {
        const struct sigma_correlation *sc = &rs->corrs[k].corr;
        for (size_t i = 0; i < sc->ngroup_by; i++)
            corr_want(c, sc->group_by[i]);
        for (size_t i = 0; i < sc->naliases; i++)
            for (size_t j = 0; j < sc->aliases[i].n; j++)
                corr_want(c, sc->aliases[i].fields[j]);
        corr_want(c, sc->cond.field);
    }
}

/* The renamed view the rule saw this event through (Security 4688 read as
 * process_creation calls SubjectUserName "User"), or NULL. */
static const struct renameset *rule_view(const struct stoat_ruleset *rs, const struct stoat_alert *a, uint32_t rule)
{
    if (!a->channel || !rs->nrsets)
        return NULL;
    char key[ROUTE_KEY_MAX];
    uint32_t cls;
    int64_t eid;
    size_t clen = strlen(a->channel), kl = 0;
    if (clen + 32 >= sizeof(key))
        return NULL;
    if (a->event_id && parse_int64(a->event_id, strlen(a->event_id), &eid))
        kl = route_key(key, sizeof(key), a->channel, clen, true, eid);
    if (!kl || !strmap_get(&rs->routes, key, kl, &cls)) {
        kl = route_key(key, sizeof(key), a->channel, clen, false, 0);
        if (!kl || !strmap_get(&rs->routes, key, kl, &cls))
            return NULL;
    }
    const struct route_class *rc = &rs->classes[cls];
    for (uint32_t g = 0; g < rc->ngroups; g++)
        if (rc->group[g] == rs->rules[rule].group)
            return rc->rset[g] ? &rs->rsets[rc->rset[g]] : NULL;
    return NULL;
}

static bool view_has(const struct stoat_field *v, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].name_len == len && strncasecmp(v[i].name, name, len) == 0)
            return true;
    return false;
}

static bool renamed_to(const struct renameset *rv, uint32_t id)
{
    for (uint32_t k = 0; rv && id != FIELD_UNKNOWN && k < rv->n; k++)
        if (rv->to[k] == id)
            return true;
    return false;
}

/* The event's fields that correlations read, as the rule saw it: through a
 * renamed view a target name (ProcessId for 4688) is the renamed field's,
 * never the raw field of that name. */
static size_t corr_view(const struct consumer *c, const struct stoat_alert *a, uint32_t rule,
                        struct stoat_field out[CORR_VIEW_MAX])
{
    const struct renameset *rv = rule_view(c->rs, a, rule);
    const struct fieldtab *ft = &c->rs->fields;
    size_t n = 0;
    for (size_t i = 0; i < a->nfields && n < CORR_VIEW_MAX; i++) {
        const struct stoat_field *f = &a->fields[i];
        if (fieldtab_lookup(&c->corr_names, f->name, f->name_len) == FIELD_UNKNOWN)
            continue;
        if (rv && renamed_to(rv, fieldtab_lookup(ft, f->name, f->name_len)))
            continue;
        out[n++] = *f;
    }
    for (size_t i = 0; rv && i < a->nfields && n < CORR_VIEW_MAX; i++) {
        uint32_t id = fieldtab_lookup(ft, a->fields[i].name, a->fields[i].name_len);
        for (uint32_t k = 0; id != FIELD_UNKNOWN && k < rv->n && n < CORR_VIEW_MAX; k++) {
            if (rv->from[k] != id)
                continue;
            const char *to = fieldtab_name(ft, rv->to[k]);
            size_t tl = strlen(to);
            if (fieldtab_lookup(&c->corr_names, to, tl) == FIELD_UNKNOWN || view_has(out, n, to, tl))
                continue;
            out[n] = a->fields[i];
            out[n].name = to;
            out[n].name_len = (uint32_t)tl;
            n++;
        }
    }
    return n;
}

static void emit_alert(struct consumer *c, struct stoat_alert *a);

static void on_corr_fire(void *ctx, const struct corr_fire *f)
{
    struct consumer *c = ctx;
    if (f->meta->level < c->min_level)
        return;
    struct stoat_field gf[32];
    size_t ng = f->ngroup < 32 ? f->ngroup : 32;
    for (size_t i = 0; i < ng; i++)
        gf[i] = (struct stoat_field){.name = f->group_names[i], .name_len = (uint32_t)strlen(f->group_names[i]),
                                     .value = f->group_values[i] ? f->group_values[i] : "",
                                     .value_len = f->group_values[i] ? (uint32_t)strlen(f->group_values[i]) : 0,
                                     .type = STOAT_V_STRING};
    uint64_t ids[64];
    struct stoat_corr_evidence ev[64];
    size_t nids = 0, nev = 0;
    for (size_t i = 0; i < f->nalert_ids; i++) {
        uint64_t id = f->alert_ids[i];
        if (!(id & EVIDENCE_BIT)) {
            if (nids < 64)
                ids[nids++] = id;
            continue;
        }
        const struct corr_evidence *e = c->evidence ? &c->evidence[(id & ~EVIDENCE_BIT) % EVIDENCE_RING] : NULL;
        if (e && e->id == (id & ~EVIDENCE_BIT) && nev < 64)
            ev[nev++] = (struct stoat_corr_evidence){.time_ns = e->time_ns, .rule = e->rule, .summary = e->summary};
    }
    struct stoat_corr_detail d = {
        .type = c->rs->corrs[f->corr].corr.type, .value = f->value, .first_ns = f->first_ns, .last_ns = f->last_ns,
        .group_names = f->group_names, .group_values = f->group_values, .ngroup = f->ngroup,
        .alert_ids = ids, .nalert_ids = nids, .evidence = ev, .nevidence = nev,
    };
    char ts[32];
    bool timed = f->last_ns != INT64_MIN && f->last_ns != INT64_MAX;
    if (timed)
        format_time_ns(f->last_ns, ts);
    struct stoat_alert a = {
        .rule = f->meta, .correlation = f->meta, .corr = &d, .timestamp = timed ? ts : NULL,
        .time_ns = timed ? f->last_ns : INT64_MIN, .host = f->host, .fields = gf, .nfields = ng,
    };
    c->stats->corr_fired++;
    emit_alert(c, &a);
    behaviour_alert(c->beh, &a);
}

static void corr_feed_now(struct consumer *c, const struct corr_input *in)
{
    corr_feed(c->corr, in, on_corr_fire, c);
}

static void put32(struct buf *b, uint32_t v) { buf_put(b, &v, sizeof v); }
static void put64(struct buf *b, uint64_t v) { buf_put(b, &v, sizeof v); }
static uint32_t get32(const char **p) { uint32_t v; memcpy(&v, *p, sizeof v); *p += sizeof v; return v; }
static uint64_t get64(const char **p) { uint64_t v; memcpy(&v, *p, sizeof v); *p += sizeof v; return v; }

static int kept_cmp(const void *x, const void *y)
{
    const struct corr_kept *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Feeds the kept matches in time order and forgets them. */
static void corr_feed_kept(struct consumer *c)
{
    if (!c->ncorr_index)
        return;
    qsort(c->corr_index, c->ncorr_index, sizeof(*c->corr_index), kept_cmp);
    struct stoat_field view[CORR_VIEW_MAX];
    for (size_t i = 0; i < c->ncorr_index; i++) {
        const char *p = c->corr_kept.p + c->corr_index[i].off;
        struct corr_input in = {.rule = get32(&p)};
        in.alert_id = get64(&p);
        in.time_ns = (int64_t)get64(&p);
        uint32_t hl = get32(&p), nf = get32(&p), gl = get32(&p);
        in.host = hl ? p : NULL;
        p += hl ? hl + 1 : 0;
        if (!in.alert_id)
            in.alert_id = note_evidence(c, in.rule, in.time_ns, p, gl);
        p += gl;
        for (uint32_t k = 0; k < nf; k++) {
            view[k].name_len = get32(&p);
            view[k].value_len = get32(&p);
            view[k].type = (uint8_t)*p++;
            view[k].name = p;
            p += view[k].name_len;
            view[k].value = p;
            p += view[k].value_len;
        }
        in.fields = view;
        in.nfields = nf;
        corr_feed_now(c, &in);
    }
    c->stats->corr_batches++;
    c->ncorr_index = 0;
    buf_clear(&c->corr_kept);
}

/* A match of a rule that correlations read; alert_id 0 when not reported. */
static void corr_match(struct consumer *c, const struct stoat_alert *a, uint32_t rule, uint64_t alert_id)
{
    struct stoat_field view[CORR_VIEW_MAX];
    size_t nf = corr_view(c, a, rule, view);
    struct buf glance = {0};
    if (!alert_id)
        sink_glance(&glance, a->fields, a->nfields, EVIDENCE_GLANCE);
    if (c->corr_live) {
        if (!alert_id)
            alert_id = note_evidence(c, rule, a->time_ns, glance.p ? glance.p : "", glance.len);
        buf_free(&glance);
        struct corr_input in = {.rule = rule, .alert_id = alert_id, .time_ns = a->time_ns, .fields = view,
                                .nfields = nf, .host = a->host};
        corr_feed_now(c, &in);
        return;
    }
    if (a->time_ns != INT64_MIN)
        c->corr_last_time = a->time_ns;
    size_t need = 32;
    for (size_t i = 0; i < nf; i++)
        need += 9 + view[i].name_len + view[i].value_len;
    need += (a->host ? strlen(a->host) + 1 : 0) + glance.len;
    if (c->corr_kept.len && c->corr_kept.len + need > c->corr_opts.max_bytes)
        corr_feed_kept(c);
    XGROW(c->corr_index, c->corr_index_cap, c->ncorr_index + 1);
    c->corr_index[c->ncorr_index] = (struct corr_kept){.key = c->corr_last_time, .seq = c->ncorr_index,
                                                       .off = c->corr_kept.len};
    c->ncorr_index++;
    struct buf *b = &c->corr_kept;
    put32(b, rule);
    put64(b, alert_id);
    put64(b, (uint64_t)a->time_ns);
    size_t hl = a->host ? strlen(a->host) : 0;
    put32(b, (uint32_t)hl);
    put32(b, (uint32_t)nf);
    put32(b, (uint32_t)glance.len);
    if (hl) {
        buf_put(b, a->host, hl);
        buf_putc(b, 0);
    }
    buf_put(b, glance.p, glance.len);
    buf_free(&glance);
    for (size_t i = 0; i < nf; i++) {
        put32(b, view[i].name_len);
        put32(b, view[i].value_len);
        buf_putc(b, (char)view[i].type);
        buf_put(b, view[i].name, view[i].name_len);
        buf_put(b, view[i].value, view[i].value_len);
    }
}

static void corr_finish(struct consumer *c)
{
    if (!c->corr)
        return;
    corr_feed_kept(c);
    corr_advance(c->corr, INT64_MAX, on_corr_fire, c);
    struct corr_stats cs;
    corr_get_stats(c->corr, &cs);
    c->stats->corr_late += cs.late_dropped;
    c->stats->corr_evicted += cs.evicted_groups + cs.evicted_events;
    c->stats->corr_unusable += cs.unusable;
}

static void corr_teardown(struct consumer *c)
{
    free_evidence(c);
    corr_destroy(c->corr);
    c->corr = NULL;
    fieldtab_free(&c->corr_names);
    buf_free(&c->corr_kept);
    free(c->corr_index);
    c->corr_index = NULL;
    c->ncorr_index = c->corr_index_cap = 0;
}

void consumer_init(struct consumer *c, const struct stoat_ruleset *rs, const struct stoat_sink *sinks,
                   size_t nsinks, const struct stoat_hunt_opts *opts, struct stoat_hunt_stats *stats)
{
    memset(c, 0, sizeof(*c));
    c->rs = rs;
    c->sinks = sinks;
    c->nsinks = nsinks;
    c->min_level = opts->min_level;
    c->all_events = opts->all_events;
    c->stats = stats;
    struct behaviour_out bo = {.ctx = c, .incident = on_incident, .alert = on_behaviour_alert};
    c->beh = behaviour_create(rs, &opts->behaviour, &bo);
    c->eng = engine_ctx_create(rs);
    corr_setup(c, &opts->behaviour);
}

void consumer_fini(struct consumer *c, const struct stoat_hunt_opts *opts)
{
    corr_finish(c);   /* its alerts join incidents: before the chains close */
    corr_teardown(c);
    behaviour_finish(c->beh);
    if (opts->behaviour.baseline_out && behaviour_write_baseline(c->beh, opts->behaviour.baseline_out) && !c->err)
        c->err = STOAT_ERR_IO;
    struct behaviour_stats bs;
    behaviour_get_stats(c->beh, &bs);
    c->stats->proc_evicted = bs.procs.evicted;
    consumer_regex_stats(c, NULL, c->stats);
    free(c->regex_limited);
    c->regex_limited = NULL;
    behaviour_destroy(c->beh);
    engine_ctx_destroy(c->eng);
    c->beh = NULL;
    c->eng = NULL;
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
    if (end) {
        behaviour_proc_end(c->beh, host, fv[PF_GUID], consume_pid(fv[PF_PID], fl[PF_PID]), t);
        return;
    }
    struct proc_start ps = {
        .host = host, .guid = fv[PF_GUID], .parent_guid = fv[PF_PARENT_GUID],
        .pid = consume_pid(fv[PF_PID], fl[PF_PID]), .ppid = consume_pid(fv[PF_PPID], fl[PF_PPID]), .time_ns = t,
        .image = fv[PF_IMAGE], .command_line = fv[PF_COMMAND_LINE], .user = fv[PF_USER],
        .logon_id = fv[PF_LOGON_ID], .parent_image = fv[PF_PARENT_IMAGE],
        .parent_command_line = fv[PF_PARENT_COMMAND_LINE], .parent_user = fv[PF_PARENT_USER],
    };
    behaviour_proc_start(c->beh, &ps);
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
                corr_match(c, a, r, 0);
            continue;
        }
        if (!enriched) {
            behaviour_enrich(c->beh, a, who);
            enriched = true;
        }
        a->rule = &ru->meta;
        if (use[i] == USE_BEHAVIOUR) {
            behaviour_watch(c->beh, a);
            continue;
        }
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
                    corr_match(c, a, r, 0);
                continue;
            }
        }
        emit_alert(c, a);
        behaviour_alert(c->beh, a);
        if (c->corr && ru->feeds_correlation)
            corr_match(c, a, r, a->id);
    }
}

void consumer_set_ruleset(struct consumer *c, const struct stoat_ruleset *rs)
{
    /* correlation state names the old rules: close its windows, start anew */
    corr_finish(c);
    struct stoat_behaviour_opts o = {.corr_live = c->corr_live, .corr_lateness_ns = c->corr_opts.lateness_ns,
                                     .corr_max_bytes = c->corr_opts.max_bytes};
    corr_teardown(c);
    struct stoat_hunt_stats st = {0};   /* the old rules' regex limit counts: their total stays */
    consumer_regex_stats(c, NULL, &st);
    c->regex_limited_before = st.regex_limited;
    free(c->regex_limited);
    c->regex_limited = NULL;
    engine_ctx_destroy(c->eng);
    c->rs = rs;
    c->eng = engine_ctx_create(rs);
    behaviour_set_ruleset(c->beh, rs);
    corr_setup(c, &o);
}

void consumer_advance(struct consumer *c, int64_t now_ns)
{
    if (c->corr && c->corr_live && now_ns != INT64_MIN)
        corr_advance(c->corr, now_ns, on_corr_fire, c);
    behaviour_advance(c->beh, now_ns);
}
