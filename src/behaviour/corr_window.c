/* The correlation engine's event path: one input into the groups of the
 * correlations that read it, each type's state and the value it judges,
 * and a correlation that holds reported and fed onward (see corr_engine.c
 * for the rules it follows; corr_group.c keeps the groups).
 *
 * Why it works this way. The names a source's correlations need are looked
 * up once per input, however many correlations read it; the group key is
 * the group-by values with their lengths, hashed once. A group keeps only
 * what decides its condition: event_count and value_count over a rising
 * condition the newest K events or values (K one more than the largest
 * bound), temporal the last time of each rule, temporal_ordered the chain
 * state (pt[k]: the latest start of a chain of the first k+1 rules in
 * order) plus the events of the last lateness, to replay when a late one
 * arrives; sums and means a running sum, recomputed from the entries now
 * and then against drift; percentiles their numbers. A rising condition is
 * judged at every event over the sliding window that ends at the group's
 * newest event, fires at the event that makes it hold and re-arms only when
 * its lower bound stopped holding; a closing one is judged once, when
 * corr_advance closes its window. A firing is fed, as an input with its
 * group as fields, to the correlations that read this one, one level deeper
 * each time (at most CORR_DEPTH_MAX), and never to a correlation that is
 * firing, so cycles end. A group that is firing is pinned: making room
 * never evicts it. The whole path is one file so that the compiler can
 * inline it (split in two, bench_corr ran 7% more instructions). */
#include "behaviour/correlate_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/text.h"

/* ------------------------------------------------------------- helpers */

static bool cond_holds(const struct stoat_corr_condition *c, double v)
{
    if (isnan(v))
        return false;
    return (!c->has_gt || v > c->gt) && (!c->has_gte || v >= c->gte) && (!c->has_lt || v < c->lt) &&
           (!c->has_lte || v <= c->lte) && (!c->has_eq || v == c->eq) && (!c->has_neq || v != c->neq);
}

static bool lower_holds(const struct stoat_corr_condition *c, double v)
{
    return !isnan(v) && (!c->has_gt || v > c->gt) && (!c->has_gte || v >= c->gte);
}

static bool name_is(const char *name, uint32_t len, const char *folded, uint32_t flen)
{
    if (len < flen)
        return false;
    uint32_t j = 0;
    for (uint32_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == ' ')
            continue;
        if (j == flen || ascii_lower_table[ch] != (unsigned char)folded[j])
            return false;
        j++;
    }
    return j == flen;
}

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* The k-th smallest of x[0..n) (0-based), reordering x. */
static double select_kth(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo])
            swap_d(&x[mid], &x[lo]);
        if (x[hi] < x[lo])
            swap_d(&x[hi], &x[lo]);
        if (x[hi] < x[mid])
            swap_d(&x[hi], &x[mid]);
        double pivot = x[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                swap_d(&x[i], &x[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return x[k];
}

/* Nearest rank: the ceil(p/100 * n)-th smallest, at least the first. */
static double nearest_rank(double *x, size_t n, double p)
{
    if (!n)
        return NAN;
    double r = ceil(p / 100.0 * (double)n);
    size_t k = r < 1 ? 0 : r >= (double)n ? n - 1 : (size_t)r - 1;
    return select_kth(x, n, k);
}

static double *dbl_scratch(struct corr_engine *e, size_t n)
{
    if (n > e->dblcap) {
        e->dblcap = n < 64 ? 64 : n;
        free(e->dbl);
        e->dbl = xmalloc(e->dblcap * sizeof(*e->dbl));
    }
    return e->dbl;
}

/* ------------------------------------------------------ per-type state */

static double window_percentile(struct corr_engine *e, const struct cinfo *ci, const struct group *g, uint32_t m)
{
    double *x = dbl_scratch(e, m);
    for (uint32_t i = 0; i < m; i++)
        x[i] = ent_at(g, i)->v;
    return nearest_rank(x, m, ci->cond.percentile);
}

/* pt[0..n) is the chain state over every event taken; pt[n..2n) over the
 * events folded out of the log: those that no late event can come before
 * any more (older than clock - lateness) or that left the window. So the log
 * holds at most the last lateness of events, and a late event replays only
 * those. */
static void ordered_recompute(const struct cinfo *ci, struct group *g)
{
    memcpy(g->pt, g->pt + ci->n, ci->n * sizeof(*g->pt));
    for (uint32_t i = 0; i < g->len; i++)
        corr_ordered_step(g->pt, ent_at(g, i)->aux, ent_at(g, i)->t);
}

/* A rising temporal_ordered keeps the events of the last lateness (older
 * ones are folded into pt[n..2n)), merging only events of one rule at one
 * time; an event in time order extends the chain state in one step, a late
 * one is placed among them and the log is replayed from the fold. */
static void ordered_add(struct corr_engine *e, const struct cinfo *ci, struct group *g, uint32_t pos, int64_t t)
{
    corr_ordered_fold(ci, g, e->clock == CORR_NONE ? CORR_NONE : sat_sub(e->clock, e->o.lateness_ns));
    bool late = g->len && t < ent_at(g, g->len - 1)->t;
    if (!late)
        corr_ordered_step(g->pt, pos, t);
    corr_add_point(e, g, t, 0, pos, true);
    if (late)
        ordered_recompute(ci, g);
}

/* Drops what is older than the sliding window's start w0. */
static void rising_expire(const struct cinfo *ci, struct group *g, int64_t w0)
{
    if (ci->type == STOAT_CORR_VALUE_COUNT) {
        while (g->vt->first != NO_SLOT && g->vt->v[g->vt->first].last < w0)
            corr_vt_release(g->vt, g->vt->first);
        return;
    }
    if (ci->type == STOAT_CORR_TEMPORAL_ORDERED)
        corr_ordered_fold(ci, g, w0);
    while (g->len && ent_at(g, 0)->t < w0)
        corr_drop_head(ci, g);
}

static double rising_value(struct corr_engine *e, const struct cinfo *ci, const struct group *g, int64_t w0)
{
    uint32_t k = 0;
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT: return (double)g->count;
    case STOAT_CORR_VALUE_COUNT: return (double)g->vt->live;
    case STOAT_CORR_TEMPORAL:
        for (uint32_t i = 0; i < ci->n; i++)
            k += g->pt[i] != CORR_NONE && g->pt[i] >= w0;
        return k;
    case STOAT_CORR_TEMPORAL_ORDERED:
        while (k < ci->n && g->pt[k] != CORR_NONE && g->pt[k] >= w0)
            k++;
        return k;
    case STOAT_CORR_VALUE_SUM: return g->count ? g->sum : 0;
    case STOAT_CORR_VALUE_AVG: return g->count ? g->sum / (double)g->count : NAN;
    case STOAT_CORR_VALUE_PERCENTILE: return window_percentile(e, ci, g, g->len);
    default: return NAN;
    }
}

static void rising_add(struct corr_engine *e, const struct cinfo *ci, struct group *g, uint32_t pos, int64_t t,
                       double num, const char *sv, uint32_t svlen, uint64_t svh)
{
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT:
        corr_add_point(e, g, t, 0, 0, true);
        while (ci->keep != CORR_KEEP_ALL && g->count - ent_at(g, 0)->n >= ci->keep)
            corr_drop_head(ci, g);
        break;
    case STOAT_CORR_VALUE_COUNT: {
        uint32_t i = corr_vt_add(e, g, sv, svlen, svh);
        struct vslot *x = &g->vt->v[i];
        if (x->last == CORR_NONE || t > x->last) {
            x->last = t;
            corr_vt_unlink(g->vt, i);
            corr_vt_link(g->vt, i);
        }
        while (ci->keep != CORR_KEEP_ALL && g->vt->live > ci->keep)
            corr_vt_release(g->vt, g->vt->first);
        break;
    }
    case STOAT_CORR_TEMPORAL:
        if (g->pt[pos] == CORR_NONE || t > g->pt[pos])
            g->pt[pos] = t;
        break;
    case STOAT_CORR_TEMPORAL_ORDERED: ordered_add(e, ci, g, pos, t); break;
    case STOAT_CORR_VALUE_SUM:
    case STOAT_CORR_VALUE_AVG:
        corr_add_point(e, g, t, num, 0, true);
        g->sum += num;
        break;
    case STOAT_CORR_VALUE_PERCENTILE:
        corr_add_point(e, g, t, num, 0, false);
        while (g->len > ci->keep)
            corr_drop_head(ci, g);
        break;
    default: break;
    }
}

/* The earliest event of the window that the firing is about. */
static int64_t rising_first(const struct cinfo *ci, const struct group *g, int64_t w0, double value)
{
    int64_t first = g->newest;
    switch (ci->type) {
    case STOAT_CORR_VALUE_COUNT: return g->vt->first != NO_SLOT ? g->vt->v[g->vt->first].last : first;
    case STOAT_CORR_TEMPORAL:
        for (uint32_t i = 0; i < ci->n; i++)
            if (g->pt[i] != CORR_NONE && g->pt[i] >= w0 && g->pt[i] < first)
                first = g->pt[i];
        return first;
    case STOAT_CORR_TEMPORAL_ORDERED: return value >= 1 ? g->pt[(uint32_t)value - 1] : first;
    default: return g->len ? ent_at(g, 0)->t : first;
    }
}

/* The value of the tumbling window of the group's first m entries (events
 * events in all), as the correlation's type counts it. */
static double window_value(struct corr_engine *e, const struct cinfo *ci, const struct group *g, uint32_t m,
                           uint64_t events)
{
    double v = NAN, sum = 0;
    uint32_t k = 0;
    struct vtab *vt = g->vt;
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT: v = (double)events; break;
    case STOAT_CORR_VALUE_COUNT:
        vt->epoch++;
        for (uint32_t i = 0; i < m; i++) {
            struct vslot *x = &vt->v[ent_at(g, i)->aux];
            if (x->mark != vt->epoch) {
                x->mark = vt->epoch;
                k++;
            }
        }
        v = k;
        break;
    case STOAT_CORR_TEMPORAL:
        memset(e->seen, 0, ci->n);
        for (uint32_t i = 0; i < m; i++) {
            uint32_t pos = ent_at(g, i)->aux;
            k += !e->seen[pos];
            e->seen[pos] = 1;
        }
        v = k;
        break;
    case STOAT_CORR_TEMPORAL_ORDERED:
        for (uint32_t i = 0; i < m && k < ci->n; i++)
            if (ent_at(g, i)->aux == k)
                k++;
        v = k;
        break;
    case STOAT_CORR_VALUE_SUM:
    case STOAT_CORR_VALUE_AVG:
        for (uint32_t i = 0; i < m; i++)
            sum += ent_at(g, i)->v;
        v = ci->type == STOAT_CORR_VALUE_SUM ? sum : sum / (double)events;
        break;
    case STOAT_CORR_VALUE_PERCENTILE: v = window_percentile(e, ci, g, m); break;
    default: break;
    }
    return v;
}

/* ------------------------------------------------- what a firing names */

/* Hosts compare by length and a 64-bit hash, so that the check costs no
 * visit to the stored name. */
static void note_host(struct group *g, const char *host, size_t len, uint64_t h)
{
    if (!host || g->host_mixed)
        return;
    if (!g->host) {
        g->hostlen = len;
        g->host_hash = h;
        g->host = xstrndup(host, len);
    } else if (g->host_hash != h || g->hostlen != len) {
        g->host_mixed = true;
    }
}

static void note_alerts(struct group *g, int64_t t, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!ids[i])
            continue;
        if (!g->al_t) {
            g->al_t = xmalloc(CORR_ALERTS_MAX * sizeof(*g->al_t));
            g->al_id = xmalloc(CORR_ALERTS_MAX * sizeof(*g->al_id));
        }
        g->al_t[g->al_next] = t;
        g->al_id[g->al_next] = ids[i];
        g->al_next = (g->al_next + 1) % CORR_ALERTS_MAX;
        if (g->al_len < CORR_ALERTS_MAX)
            g->al_len++;
    }
}

static size_t collect_alerts(const struct group *g, int64_t first, int64_t last, uint64_t *out)
{
    size_t k = 0;
    uint32_t start = (g->al_next + CORR_ALERTS_MAX - g->al_len) % CORR_ALERTS_MAX;
    for (uint32_t i = 0; i < g->al_len; i++) {
        uint32_t j = (start + i) % CORR_ALERTS_MAX;
        if (g->al_t[j] >= first && g->al_t[j] <= last)
            out[k++] = g->al_id[j];
    }
    return k;
}

/* --------------------------------------------------------------- firing */

/* Reports (unless hidden) and feeds the correlations that read this one.
 * extra: value_percentile's value, shown as one more group field. */
static void fire(struct corr_engine *e, uint32_t c, struct group *g, int64_t first, int64_t last, double value,
                 const char *extra, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[c];
    uint64_t ids[CORR_ALERTS_MAX];
    size_t nids = g->al_len ? collect_alerts(g, first, last, ids) : 0;
    size_t ng = ci->ngroup + (extra ? 1 : 0);
    e->st.fired++;
    g->pinned++;
    e->active[c] = true;
    g->vals[ci->ngroup] = extra;
    struct corr_fire f = {
        .corr = c,
        .meta = ci->meta,
        .first_ns = first,
        .last_ns = last,
        .group_names = ci->names,
        .group_values = g->vals,
        .ngroup = ng,
        .value = value,
        .alert_ids = ids,
        .nalert_ids = nids,
        .host = g->host_mixed ? NULL : g->host,
    };
    if (emit && !ci->hidden)
        emit(ctx, &f);
    size_t s = e->nrules + c;
    if (e->src[s].nrd && e->depth < CORR_DEPTH_MAX) {
        struct corr_scratch *sc = &e->sc[e->depth + 1];
        if (sc->nfields < ng) {
            free(sc->fields);
            sc->nfields = ng;
            sc->fields = xmalloc(ng * sizeof(*sc->fields));
        }
        for (size_t i = 0; i < ng; i++) {
            sc->fields[i] = (struct stoat_field){
                .name = ci->names[i],
                .value = g->vals[i],
                .name_len = (uint32_t)strlen(ci->names[i]),
                .value_len = (uint32_t)strlen(g->vals[i]),
                .type = STOAT_V_STRING,
            };
        }
        e->depth++;
        corr_feed_source(e, s, last, sc->fields, ng, f.host, ids, nids, emit, ctx);
        e->depth--;
    }
    g->vals[ci->ngroup] = NULL;
    e->active[c] = false;
    g->pinned--;
}

/* value_percentile without `percentile`: every distinct value of the
 * window's m entries, in the order first seen, with its share. */
static void fire_shares(struct corr_engine *e, struct group *g, uint32_t m, uint64_t events, int64_t first,
                        int64_t last, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[g->corr];
    struct vtab *vt = g->vt;
    vt->epoch++;
    for (uint32_t i = 0; i < m; i++) {
        struct vslot *x = &vt->v[ent_at(g, i)->aux];
        if (x->mark != vt->epoch) {
            x->mark = vt->epoch;
            x->tally = 0;
        }
        x->tally += ent_at(g, i)->n;
    }
    for (uint32_t i = 0; i < m; i++) {
        struct vslot *x = &vt->v[ent_at(g, i)->aux];
        if (x->mark != vt->epoch)
            continue;
        x->mark = vt->epoch - 1;
        double share = 100.0 * x->tally / (double)events;
        if (cond_holds(&ci->cond, share))
            fire(e, g->corr, g, first, last, share, x->s, emit, ctx);
    }
}

/* Judges the tumbling window [first entry, end] and removes its entries. */
void corr_close_window(struct corr_engine *e, struct group *g, int64_t end, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[g->corr];
    uint32_t m = 0;
    uint64_t events = 0;
    while (m < g->len && ent_at(g, m)->t <= end)
        events += ent_at(g, m++)->n;
    int64_t first = ent_at(g, 0)->t, last = ent_at(g, m - 1)->t;
    if (ci->share) {
        fire_shares(e, g, m, events, first, last, emit, ctx);
    } else {
        double v = window_value(e, ci, g, m, events);
        if (cond_holds(&ci->cond, v))
            fire(e, g->corr, g, first, last, v, NULL, emit, ctx);
    }
    for (uint32_t i = 0; i < m; i++)
        corr_drop_head(ci, g);
}

/* ------------------------------------------------------------- feeding */

static void rising_event(struct corr_engine *e, struct group *g, uint32_t pos, int64_t t, double num, const char *sv,
                         uint32_t svlen, uint64_t svh, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[g->corr];
    if (g->newest != CORR_NONE && t < sat_sub(g->newest, ci->span)) {
        e->st.late_dropped++; /* before the group's window: too late for it */
        return;
    }
    int64_t newest = g->newest == CORR_NONE || t > g->newest ? t : g->newest;
    int64_t w0 = sat_sub(newest, ci->span);
    rising_expire(ci, g, w0);
    g->newest = newest;
    if (!lower_holds(&ci->cond, rising_value(e, ci, g, w0)))
        g->armed = true;
    rising_add(e, ci, g, pos, t, num, sv, svlen, svh);
    double v = rising_value(e, ci, g, w0);
    if (g->armed && cond_holds(&ci->cond, v)) {
        g->armed = false;
        fire(e, g->corr, g, rising_first(ci, g, w0, v), newest, v, NULL, emit, ctx);
    }
}

static void close_event(struct corr_engine *e, struct group *g, uint32_t pos, int64_t t, double num, const char *sv,
                        uint32_t svlen, uint64_t svh)
{
    const struct cinfo *ci = &e->ci[g->corr];
    if (g->newest == CORR_NONE || t > g->newest)
        g->newest = t;
    if (ci->slots) {
        uint32_t i = corr_vt_add(e, g, sv, svlen, svh);
        g->vt->v[i].refs++; /* held while its entry is made: making room must not free it */
        if (!corr_add_point(e, g, t, 0, i, true))
            g->vt->v[i].refs--;
    } else if (ci->type == STOAT_CORR_TEMPORAL || ci->type == STOAT_CORR_TEMPORAL_ORDERED) {
        corr_add_point(e, g, t, 0, pos, true);
    } else {
        corr_add_point(e, g, t, num, 0, ci->type != STOAT_CORR_VALUE_PERCENTILE);
    }
}

static bool build_key(struct corr_scratch *sc, const struct corr_reader *rd, uint32_t ngroup, uint32_t *keylen)
{
    size_t need = 0;
    for (uint32_t i = 0; i < ngroup; i++) {
        const struct stoat_field *f = sc->found[rd->gname[i]];
        if (!f)
            return false;
        need += sizeof(uint32_t) + f->value_len + 1;
    }
    if (need > CORR_KEY_MAX)
        return false;
    if (need > sc->keycap) {
        sc->keycap = need < 256 ? 256 : need;
        free(sc->key);
        sc->key = xmalloc(sc->keycap);
    }
    char *p = sc->key;
    for (uint32_t i = 0; i < ngroup; i++) {
        const struct stoat_field *f = sc->found[rd->gname[i]];
        uint32_t len = f->value_len;
        memcpy(p, &len, sizeof(len));
        p += sizeof(len);
        memcpy(p, f->value, len);
        p += len;
        *p++ = 0;
    }
    *keylen = (uint32_t)need;
    return true;
}

void corr_feed_source(struct corr_engine *e, size_t s, int64_t t, const struct stoat_field *fields, size_t nfields,
                      const char *host, const uint64_t *ids, size_t nids, corr_emit_fn emit, void *ctx)
{
    const struct corr_source *src = &e->src[s];
    struct corr_scratch *sc = &e->sc[e->depth];
    size_t hostlen = host ? strlen(host) : 0;
    uint64_t hosth = host ? hash_bytes(host, hostlen, 0x686f7374ULL) : 0;
    if (sc->nfound < src->nnames) {
        free(sc->found);
        sc->nfound = src->nnames;
        sc->found = xmalloc(sc->nfound * sizeof(*sc->found));
    }
    for (uint32_t k = 0; k < src->nnames; k++)
        sc->found[k] = NULL;
    uint32_t left = src->nnames;
    for (size_t i = 0; i < nfields && left; i++) {
        const struct stoat_field *f = &fields[i];
        if (!f->name || !f->value || f->type == STOAT_V_NULL)
            continue;
        for (uint32_t k = 0; k < src->nnames; k++)
            if (!sc->found[k] && name_is(f->name, f->name_len, src->names[k], src->nlen[k])) {
                sc->found[k] = f;
                left--;
            }
    }
    for (uint32_t r = 0; r < src->nrd; r++) {
        const struct corr_reader *rd = &src->rd[r];
        const struct cinfo *ci = &e->ci[rd->corr];
        if (e->active[rd->corr])
            continue;
        uint32_t keylen;
        double num = 0;
        const char *sv = NULL;
        uint32_t svlen = 0;
        uint64_t svh = 0;
        if (!build_key(sc, rd, ci->ngroup, &keylen)) {
            e->st.unusable++;
            continue;
        }
        if (rd->vname != NO_NAME) {
            const struct stoat_field *f = sc->found[rd->vname];
            if (!f || (ci->numeric &&
                       (f->type == STOAT_V_BOOL || !parse_number(f->value, f->value_len, &num) || !isfinite(num)))) {
                e->st.unusable++;
                continue;
            }
            if (!ci->numeric) {
                sv = f->value;
                svlen = f->value_len;
                svh = hash_bytes(sv, svlen, 0x76616c7565ULL);
            }
        }
        uint64_t h = hash_bytes(sc->key, keylen, 0x9E3779B97F4A7C15ULL * (rd->corr + 1));
        struct group *g = corr_group_get(e, rd->corr, sc->key, keylen, h);
        note_host(g, host, hostlen, hosth);
        note_alerts(g, t, ids, nids);
        if (ci->rising)
            rising_event(e, g, rd->pos, t, num, sv, svlen, svh, emit, ctx);
        else
            close_event(e, g, rd->pos, t, num, sv, svlen, svh);
        corr_schedule(e, g);
        corr_group_acct(e, g);
        corr_enforce_caps(e, g);
    }
}
