/* Feeding and firing: one input into the groups of the correlations that
 * read it, and a correlation that holds reported and fed onward (see
 * corr_engine.c for the rules).
 *
 * Why it works this way. The names a source's correlations need are looked
 * up once per input, however many correlations read it; the group key is
 * the group-by values with their lengths, hashed once. A rising condition
 * fires at the event that makes it hold and re-arms only when its lower
 * bound stopped holding; a closing one is judged when corr_advance closes
 * its window. A firing is fed, as an input with its group as fields, to the
 * correlations that read this one, one level deeper each time (at most
 * CORR_DEPTH_MAX), and never to a correlation that is firing, so cycles
 * end. A group that is firing is pinned: making room never evicts it. */
#include "behaviour/correlate_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/text.h"

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

/* --------------------------------------------------------------- firing */

/* Reports (unless hidden) and feeds the correlations that read this one.
 * extra: value_percentile's value, shown as one more group field. */
static void fire(struct corr_engine *e, uint32_t c, struct group *g, int64_t first, int64_t last, double value,
                 const char *extra, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[c];
    uint64_t ids[CORR_ALERTS_MAX];
    size_t nids = g->al_len ? corr_collect_alerts(g, first, last, ids) : 0;
    size_t ng = ci->ngroup + (extra ? 1 : 0);
    e->st.fired++;
    g->pinned++;
    e->active[c] = true;
    g->vals[ci->ngroup] = extra;
    struct corr_fire f = {
        .corr = c, .meta = ci->meta, .first_ns = first, .last_ns = last, .group_names = ci->names,
        .group_values = g->vals, .ngroup = ng, .value = value, .alert_ids = ids, .nalert_ids = nids,
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
                .name = ci->names[i], .value = g->vals[i], .name_len = (uint32_t)strlen(ci->names[i]),
                .value_len = (uint32_t)strlen(g->vals[i]), .type = STOAT_V_STRING,
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
        double v = corr_window_value(e, ci, g, m, events);
        if (cond_holds(&ci->cond, v))
            fire(e, g->corr, g, first, last, v, NULL, emit, ctx);
    }
    for (uint32_t i = 0; i < m; i++)
        corr_drop_head(ci, g);
}

/* ------------------------------------------------------------- feeding */

static void rising_event(struct corr_engine *e, struct group *g, uint32_t pos, int64_t t, double num,
                         const char *sv, uint32_t svlen, uint64_t svh, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[g->corr];
    if (g->newest != CORR_NONE && t < sat_sub(g->newest, ci->span)) {
        e->st.late_dropped++;   /* before the group's window: too late for it */
        return;
    }
    int64_t newest = g->newest == CORR_NONE || t > g->newest ? t : g->newest;
    int64_t w0 = sat_sub(newest, ci->span);
    corr_rising_expire(ci, g, w0);
    g->newest = newest;
    if (!lower_holds(&ci->cond, corr_rising_value(e, ci, g, w0)))
        g->armed = true;
    corr_rising_add(e, ci, g, pos, t, num, sv, svlen, svh);
    double v = corr_rising_value(e, ci, g, w0);
    if (g->armed && cond_holds(&ci->cond, v)) {
        g->armed = false;
        fire(e, g->corr, g, corr_rising_first(ci, g, w0, v), newest, v, NULL, emit, ctx);
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
        g->vt->v[i].refs++;   /* held while its entry is made: making room must not free it */
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
            if (!f || (ci->numeric && (f->type == STOAT_V_BOOL || !parse_number(f->value, f->value_len, &num) ||
                                       !isfinite(num)))) {
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
        corr_note_host(g, host, hostlen, hosth);
        corr_note_alerts(g, t, ids, nids);
        if (ci->rising)
            rising_event(e, g, rd->pos, t, num, sv, svlen, svh, emit, ctx);
        else
            close_event(e, g, rd->pos, t, num, sv, svlen, svh);
        corr_schedule(e, g);
        corr_group_acct(e, g);
        corr_enforce_caps(e, g);
    }
}
