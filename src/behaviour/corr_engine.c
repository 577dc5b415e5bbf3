/* Sigma correlation rules (specification v2.1) over the stream of base
 * matches, in the order the hunt's writer sees them.
 *
 * Why it is built this way. The writer may feed millions of matches, and a
 * correlation only needs, per group (the correlation and the values of its
 * group-by fields), what can still decide its condition. So each group keeps
 * the smallest state that decides it exactly: the newest K times when the
 * condition only asks about K events (K = its largest bound + 2), the last
 * time of each rule for temporal, the K newest distinct values for
 * value_count, the chain state plus the events of the last lateness for
 * temporal_ordered, and the values themselves only for sums, means,
 * percentiles and windows judged when they close. Groups live in one hash
 * table keyed by (correlation, values); a timer heap closes them, or frees
 * them once no event can reach their window any more; the least recently fed
 * group is evicted at the caps. Field names are resolved once per event: the
 * event's names are compared with the few names that the correlations
 * reading its rule need (folded as the ruleset's field table folds them:
 * ASCII case and spaces do not matter), however many correlations read it.
 *
 * Time. The clock is the newest event time seen (or given to corr_advance).
 * An event older than clock - lateness is dropped and counted
 * (late_dropped); an event without a time counts as "now" (the clock). A
 * window is a closed interval as long as the timespan: two events exactly a
 * timespan apart are in one window, a nanosecond more and they are not.
 *
 * Groups. Every group-by field (after aliases: an alias names, per rule,
 * the field that stands for it) must be in the event and not null, or the
 * event does not count for that correlation (counted as unusable). Values
 * compare as bytes (case matters); a field that occurs twice counts with
 * its first value. value_sum, value_avg and a value_percentile with
 * `percentile` read numbers; an event whose field is absent or not a number
 * does not count either. An alias also applies to the condition's field.
 * A group without group-by fields is one group per correlation.
 *
 * When a correlation fires, and how often.
 * - Rising conditions (with gt or gte: `gte: 100`, ranges such as `gt: 100,
 *   lte: 200`, and temporal types without a condition) are judged at every
 *   event, over the sliding window that ends at the group's newest event.
 *   The correlation fires at the first event that makes the condition hold,
 *   and not again for that group until its lower bound (gt/gte) has stopped
 *   holding just before some later event (the window fell back); that
 *   re-arms it. A burst of 500 failed logons fires `gte: 100` once; another
 *   burst after a quiet timespan fires again. Windows slide: events at 00:50,
 *   01:05 and 01:10 are three in one hour.
 * - Conditions with only lt, lte, eq or neq can only be judged on a
 *   complete window. Those windows tumble with the activity, not the clock:
 *   a window opens at the group's earliest pending event a and holds the
 *   events in [a, a + timespan]; corr_advance closes it once clock - lateness
 *   has passed its end (no event that may still arrive can fall in it). It
 *   is judged once, and the next window opens at the next event.
 *   corr_advance(INT64_MAX) closes every window.
 * - The value judged: event_count counts events, value_count the distinct
 *   values of the field, temporal the distinct rules seen (condition by
 *   default: all of them), temporal_ordered the length of the longest
 *   prefix of its rule list seen in that order (by default the whole list;
 *   events at the same time are taken in input order), value_sum and
 *   value_avg the sum and the mean of the field.
 * - value_percentile. v2.1 names no percentile to compute, and its one
 *   example ("a process name rarer than 1% of all processes": field Image,
 *   lte: 1) reads its condition as a share. So without `percentile` each
 *   distinct value of the field has a share: the percentage of the window's
 *   events that carry it. The window is judged when it closes, and every
 *   value whose share meets the condition fires once, with the field and the
 *   value added to the fire's group names and values. With `percentile: P`
 *   (pySigma's key) the value is the P-th percentile of the window's numbers
 *   by nearest rank, the ceil(P/100 * N)-th smallest (judged at events: over
 *   the newest 1024 numbers of the window).
 * - A firing names the window's first and last event times, the host when
 *   all its group's events had the same one, and the alert ids of the
 *   reported base alerts in the window (the group's last 64 at most).
 * - A firing is fed to the correlations that read this one, as an input at
 *   its last event time with its group names and values as fields (not
 *   dropped as late: a window that closes is always behind the clock). A
 *   correlation read by another without `generate` is not reported (emit is
 *   not called), like a base rule; generate: true reports both. A
 *   correlation is never fed, even through others, while it is firing, so
 *   cycles end; chains deeper than 8 correlations stop there. emit must not
 *   call corr_feed or corr_advance (they return at once).
 *
 * Late events. Within the lateness an event is placed in time order: it
 * counts in its group's current sliding window, or in its pending tumbling
 * window, so a late event can complete a condition (a late event before a
 * tumbling window's first event opens that window earlier). Windows that
 * were already judged are not revisited: a late event that falls before its
 * group's sliding window (possible when the lateness exceeds the timespan)
 * is dropped and counted as late.
 *
 * Memory. Groups are capped by max_groups and all state by max_bytes. A
 * group grows only when there is room; otherwise the least recently fed
 * groups are dropped (evicted_groups), and when one group alone fills the
 * cap its oldest events (value_count: its oldest value) go to make room for
 * the new one (evicted_events). A temporal_ordered group folds its oldest
 * events into its chain state instead, which loses nothing but the place of
 * a late event that would come before them.
 *
 * Files. This one implements correlate.h and builds the engine from the
 * ruleset (which rules and correlations each correlation reads, under which
 * names); corr_window.c feeds, keeps each type's state and fires;
 * corr_group.c keeps the groups and the caps (correlate_int.h).
 */
#include "behaviour/correlate_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"
#include "util/mem.h"
#include "util/text.h"

/* ------------------------------------------------------------------ API */

void corr_default_opts(struct corr_opts *opts)
{
    opts->lateness_ns = 60 * (int64_t)1000000000;
    opts->max_groups = 100000;
    opts->max_bytes = (size_t)64 << 20;
    opts->skip = NULL;
}

bool corr_reads(const struct corr_engine *e, uint32_t rule)
{
    return e && rule < e->nrules && e->src[rule].nrd > 0;
}

void corr_feed(struct corr_engine *e, const struct corr_input *in, corr_emit_fn emit, void *ctx)
{
    if (!e || !in || e->busy || !corr_reads(e, in->rule))
        return;
    e->st.fed++;
    int64_t t = in->time_ns;
    if (t == INT64_MIN) {
        t = e->clock == CORR_NONE ? 0 : e->clock;
    } else {
        if (e->clock != CORR_NONE && t < sat_sub(e->clock, e->o.lateness_ns)) {
            e->st.late_dropped++;
            return;
        }
        if (e->clock == CORR_NONE || t > e->clock)
            e->clock = t;
    }
    e->busy = true;
    corr_feed_source(e, in->rule, t, in->fields, in->nfields, in->host, &in->alert_id, 1, emit, ctx);
    e->busy = false;
}

void corr_advance(struct corr_engine *e, int64_t now_ns, corr_emit_fn emit, void *ctx)
{
    if (!e || e->busy)
        return;
    bool final = now_ns == INT64_MAX;
    if (!final && now_ns != INT64_MIN && (e->clock == CORR_NONE || now_ns > e->clock))
        e->clock = now_ns;
    if (!final && e->clock == CORR_NONE)
        return;
    int64_t wm = final ? INT64_MAX : sat_sub(e->clock, e->o.lateness_ns);
    e->busy = true;
    while (e->nheap) {
        struct group *g = e->heap[0];
        if (!final && g->due >= wm)
            break;
        const struct cinfo *ci = &e->ci[g->corr];
        int64_t due = corr_group_due(ci, g);
        if (!final && due >= wm) { /* the key was early: the group moved on */
            g->due = due;
            corr_heap_down(e, 0);
            continue;
        }
        corr_heap_remove(e, g);
        if (!ci->rising) {
            g->pinned++;
            while (g->len) {
                int64_t end = sat_add(ent_at(g, 0)->t, ci->span);
                if (!final && end >= wm)
                    break;
                corr_close_window(e, g, end, emit, ctx);
            }
            g->pinned--;
            corr_group_acct(e, g);
            if (g->len) {
                corr_schedule(e, g);
                continue;
            }
        }
        corr_group_free(e, g);
    }
    e->busy = false;
}

void corr_get_stats(const struct corr_engine *e, struct corr_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!e)
        return;
    *out = e->st;
    out->groups = e->ngroups;
    out->bytes = corr_engine_bytes(e);
}

/* ---------------------------------------------------------------- build */

/* Folds like the ruleset's field table: ASCII lower case, spaces dropped. */
static char *fold_dup(const char *s, uint32_t *len)
{
    size_t n = strlen(s), k = 0;
    char *o = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ')
            o[k++] = (char)ascii_lower_table[(unsigned char)s[i]];
    o[k] = 0;
    *len = (uint32_t)k;
    return o;
}

static uint32_t source_name(struct corr_source *s, const char *name)
{
    uint32_t fl;
    char *f = fold_dup(name, &fl);
    for (uint32_t i = 0; i < s->nnames; i++)
        if (s->nlen[i] == fl && memcmp(s->names[i], f, fl) == 0) {
            free(f);
            return i;
        }
    s->names = xrealloc(s->names, (s->nnames + 1) * sizeof(*s->names));
    s->nlen = xrealloc(s->nlen, (s->nnames + 1) * sizeof(*s->nlen));
    s->names[s->nnames] = f;
    s->nlen[s->nnames] = fl;
    return s->nnames++;
}

/* Whether an alias's rule reference names the rule at pos. */
static bool ref_is(const struct stoat_ruleset *rs, const struct correlation *k, uint32_t pos, const char *ref)
{
    if (strcmp(ref, k->corr.rules[pos]) == 0)
        return true;
    long ix = k->rule_index[pos];
    const struct stoat_rule_meta *m = ix >= 0 ? &rs->rules[ix].meta : ix <= -2 ? &rs->corrs[-2 - ix].meta : NULL;
    return m && ((m->id && strcmp(m->id, ref) == 0) || (m->name && strcmp(m->name, ref) == 0));
}

/* The field that the rule at pos calls `name` (aliases resolved). */
static const char *field_for(const struct stoat_ruleset *rs, const struct correlation *k, uint32_t pos,
                             const char *name)
{
    for (size_t i = 0; i < k->corr.naliases; i++) {
        const struct sigma_corr_alias *a = &k->corr.aliases[i];
        if (strcmp(a->name, name) != 0)
            continue;
        for (size_t j = 0; j < a->n; j++)
            if (ref_is(rs, k, pos, a->rules[j]))
                return a->fields[j];
        break;
    }
    return name;
}

static void cinfo_init(struct corr_engine *e, uint32_t c)
{
    const struct correlation *k = &e->rs->corrs[c];
    struct cinfo *ci = &e->ci[c];
    struct stoat_corr_condition *cc = &ci->cond;
    ci->meta = &k->meta;
    ci->type = k->corr.type;
    ci->span = k->corr.timespan_ms > INT64_MAX / 1000000 ? INT64_MAX : k->corr.timespan_ms * 1000000;
    ci->n = (uint32_t)k->corr.nrules;
    ci->ngroup = (uint32_t)k->corr.ngroup_by;
    *cc = k->corr.cond;
    bool temporal = ci->type == STOAT_CORR_TEMPORAL || ci->type == STOAT_CORR_TEMPORAL_ORDERED;
    if (temporal && !(cc->has_gt || cc->has_gte || cc->has_lt || cc->has_lte || cc->has_eq || cc->has_neq)) {
        cc->has_gte = true;
        cc->gte = ci->n;
    }
    ci->share = ci->type == STOAT_CORR_VALUE_PERCENTILE && !cc->has_percentile;
    ci->numeric = ci->type == STOAT_CORR_VALUE_SUM || ci->type == STOAT_CORR_VALUE_AVG ||
                  (ci->type == STOAT_CORR_VALUE_PERCENTILE && cc->has_percentile);
    ci->rising = !ci->share && (cc->has_gt || cc->has_gte);
    ci->slots = ci->share || (ci->type == STOAT_CORR_VALUE_COUNT && !ci->rising);
    ci->keep = CORR_KEEP_ALL;
    if (ci->rising && (ci->type == STOAT_CORR_EVENT_COUNT || ci->type == STOAT_CORR_VALUE_COUNT)) {
        /* counts above every bound compare alike: keep one more than the largest */
        double m = 0;
        const bool has[] = {cc->has_gt, cc->has_gte, cc->has_lt, cc->has_lte, cc->has_eq, cc->has_neq};
        const double val[] = {cc->gt, cc->gte, cc->lt, cc->lte, cc->eq, cc->neq};
        for (size_t i = 0; i < sizeof(has) / sizeof(has[0]); i++)
            if (has[i] && val[i] > m)
                m = val[i];
        if (m < 1e9)
            ci->keep = (size_t)floor(m) + 2;
    }
    if (ci->rising && ci->type == STOAT_CORR_VALUE_PERCENTILE)
        ci->keep = CORR_SAMPLE_MAX;
    ci->names = xcalloc(ci->ngroup + 1, sizeof(*ci->names));
    for (uint32_t i = 0; i < ci->ngroup; i++)
        ci->names[i] = k->corr.group_by[i];
    if (ci->share)
        ci->names[ci->ngroup] = cc->field;
}

static void add_reader(struct corr_engine *e, uint32_t c, uint32_t pos)
{
    const struct correlation *k = &e->rs->corrs[c];
    const struct cinfo *ci = &e->ci[c];
    long ix = k->rule_index[pos];
    size_t s;
    if (ix >= 0 && (size_t)ix < e->nrules)
        s = (size_t)ix;
    else if (ix <= -2 && (size_t)(-2 - ix) < e->ncorrs)
        s = e->nrules + (size_t)(-2 - ix);
    else
        return; /* not loaded: the loader warned */
    struct corr_source *src = &e->src[s];
    if (ci->type != STOAT_CORR_TEMPORAL_ORDERED)
        for (uint32_t i = 0; i < src->nrd; i++)
            if (src->rd[i].corr == c)
                return; /* named twice: one event still counts once */
    src->rd = xrealloc(src->rd, (src->nrd + 1) * sizeof(*src->rd));
    struct corr_reader *rd = &src->rd[src->nrd++];
    rd->corr = c;
    rd->pos = pos;
    rd->gname = xmalloc((ci->ngroup ? ci->ngroup : 1) * sizeof(*rd->gname));
    for (uint32_t i = 0; i < ci->ngroup; i++)
        rd->gname[i] = source_name(src, field_for(e->rs, k, pos, k->corr.group_by[i]));
    bool valued = ci->type == STOAT_CORR_VALUE_COUNT || ci->type == STOAT_CORR_VALUE_SUM ||
                  ci->type == STOAT_CORR_VALUE_AVG || ci->type == STOAT_CORR_VALUE_PERCENTILE;
    rd->vname = valued && ci->cond.field ? source_name(src, field_for(e->rs, k, pos, ci->cond.field)) : NO_NAME;
}

/* Whether group-by name `name` of k is a host field for every rule k reads. */
static bool host_field(const struct stoat_ruleset *rs, const struct correlation *k, const char *name)
{
    for (uint32_t pos = 0; pos < k->corr.nrules; pos++) {
        const char *f = field_for(rs, k, pos, name);
        uint32_t id = fieldtab_lookup(&rs->fields, f, strlen(f));
        bool host = false;
        for (size_t i = 0; id != FIELD_UNKNOWN && i < rs->nhost_ids && !host; i++)
            host = rs->host_ids[i] == id;
        if (!host)
            return false;
    }
    return k->corr.nrules > 0;
}

size_t corr_spanning_hosts(const struct stoat_ruleset *rs, bool *spans)
{
    for (size_t c = 0; c < rs->ncorrs; c++) {
        const struct correlation *k = &rs->corrs[c];
        bool by_host = false;
        for (size_t i = 0; k->rule_index && i < k->corr.ngroup_by && !by_host; i++)
            by_host = host_field(rs, k, k->corr.group_by[i]);
        spans[c] = !by_host;
    }
    /* a correlation and the ones it reads go together: until nothing changes */
    for (bool changed = true; changed;) {
        changed = false;
        for (size_t c = 0; c < rs->ncorrs; c++) {
            const struct correlation *k = &rs->corrs[c];
            for (size_t p = 0; k->rule_index && p < k->corr.nrules; p++) {
                long ix = k->rule_index[p];
                if (ix > -2 || (size_t)(-2 - ix) >= rs->ncorrs || spans[c] == spans[-2 - ix])
                    continue;
                spans[c] = spans[-2 - ix] = true;
                changed = true;
            }
        }
    }
    size_t n = 0;
    for (size_t c = 0; c < rs->ncorrs; c++)
        n += spans[c];
    return n;
}

struct corr_engine *corr_create(const struct stoat_ruleset *rs, const struct corr_opts *opts)
{
    struct corr_engine *e = NULL;
    if (!rs || !rs->ncorrs)
        goto out;
    e = xcalloc(1, sizeof(*e));
    corr_default_opts(&e->o);
    if (opts) {
        e->o.lateness_ns = opts->lateness_ns < 0 ? 0 : opts->lateness_ns;
        if (opts->max_groups)
            e->o.max_groups = opts->max_groups;
        if (opts->max_bytes)
            e->o.max_bytes = opts->max_bytes;
    }
    e->rs = rs;
    e->nrules = rs->nrules;
    e->ncorrs = rs->ncorrs;
    e->nsrc = e->nrules + e->ncorrs;
    e->ci = xcalloc(e->ncorrs, sizeof(*e->ci));
    e->src = xcalloc(e->nsrc, sizeof(*e->src));
    e->active = xcalloc(e->ncorrs, sizeof(*e->active));
    e->clock = CORR_NONE;
    uint32_t maxn = 1;
    for (uint32_t c = 0; c < e->ncorrs; c++) {
        cinfo_init(e, c);
        if (e->ci[c].n > maxn)
            maxn = e->ci[c].n;
    }
    e->seen = xcalloc(maxn, 1);
    e->nseen = maxn;
    for (uint32_t c = 0; c < e->ncorrs; c++) {
        const struct correlation *k = &rs->corrs[c];
        if (!k->rule_index || (opts && opts->skip && opts->skip[c]))
            continue;
        for (size_t p = 0; p < k->corr.nrules; p++) {
            long ix = k->rule_index[p];
            if (ix <= -2 && (size_t)(-2 - ix) < e->ncorrs && !k->corr.generate)
                e->ci[-2 - ix].hidden = true;
        }
        /* an ordered correlation takes an event for its later positions first,
         * so that one event never chains with itself */
        bool ordered = e->ci[c].type == STOAT_CORR_TEMPORAL_ORDERED;
        for (uint32_t i = 0; i < e->ci[c].n; i++)
            add_reader(e, c, ordered ? e->ci[c].n - 1 - i : i);
    }
    e->nbucket = 64;
    e->bucket = xcalloc(e->nbucket, sizeof(*e->bucket));
out:
    return e;
}

struct corr_engine *corr_create_like(const struct corr_engine *proto)
{
    if (!proto)
        return NULL;
    struct corr_engine *e = xcalloc(1, sizeof(*e));
    e->o = proto->o;
    e->rs = proto->rs;
    e->nrules = proto->nrules;
    e->ncorrs = proto->ncorrs;
    e->nsrc = proto->nsrc;
    e->ci = proto->ci;
    e->src = proto->src;
    e->shares_plan = true;
    e->active = xcalloc(e->ncorrs, sizeof(*e->active));
    e->clock = CORR_NONE;
    e->seen = xcalloc(proto->nseen, 1);
    e->nseen = proto->nseen;
    e->nbucket = 64;
    e->bucket = xcalloc(e->nbucket, sizeof(*e->bucket));
    return e;
}

size_t corr_bytes(const struct corr_engine *e)
{
    if (!e)
        return 0;
    return sizeof(*e) + e->ncorrs * sizeof(*e->active) + e->nseen + corr_engine_bytes(e);
}

size_t corr_trim(struct corr_engine *e, size_t target)
{
    if (!e || e->busy)
        return corr_bytes(e);
    for (struct group *v = e->lru_first; v && corr_bytes(e) > target;) {
        struct group *next = v->lnext;
        if (!v->pinned) {
            corr_group_free(e, v);
            e->st.evicted_groups++;
        }
        v = next;
    }
    return corr_bytes(e);
}

void corr_destroy(struct corr_engine *e)
{
    if (!e)
        return;
    while (e->lru_first)
        corr_group_free(e, e->lru_first);
    for (size_t s = 0; !e->shares_plan && s < e->nsrc; s++) {
        struct corr_source *src = &e->src[s];
        for (uint32_t i = 0; i < src->nrd; i++)
            free(src->rd[i].gname);
        for (uint32_t i = 0; i < src->nnames; i++)
            free(src->names[i]);
        free(src->rd);
        free(src->names);
        free(src->nlen);
    }
    for (size_t c = 0; !e->shares_plan && c < e->ncorrs; c++)
        free(e->ci[c].names);
    for (size_t i = 0; i <= CORR_DEPTH_MAX; i++) {
        free(e->sc[i].found);
        free(e->sc[i].key);
        free(e->sc[i].fields);
    }
    if (!e->shares_plan) {
        free(e->ci);
        free(e->src);
    }
    free(e->active);
    free(e->bucket);
    free(e->heap);
    free(e->dbl);
    free(e->seen);
    free(e);
}
