/* Each correlation type's state and the value its condition judges (see
 * corr_engine.c for the whole engine and the rules it follows).
 *
 * Why it works this way. A group keeps only what decides its condition:
 * event_count and value_count over a rising condition keep the newest K
 * events or values (K one more than the largest bound), temporal the last
 * time of each rule, temporal_ordered the chain state (pt[k]: the latest
 * start of a chain of the first k+1 rules in order) plus the events of the
 * last lateness, to replay when a late one arrives; sums and means keep a
 * running sum, recomputed from the entries now and then against drift;
 * percentiles keep their numbers. A rising condition is judged over the
 * sliding window that ends at the group's newest event; a closing one over
 * the tumbling window when it closes (corr_window_value). */
#include "behaviour/correlate_int.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

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
void corr_rising_expire(const struct cinfo *ci, struct group *g, int64_t w0)
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

double corr_rising_value(struct corr_engine *e, const struct cinfo *ci, const struct group *g, int64_t w0)
{
    uint32_t k = 0;
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT:
        return (double)g->count;
    case STOAT_CORR_VALUE_COUNT:
        return (double)g->vt->live;
    case STOAT_CORR_TEMPORAL:
        for (uint32_t i = 0; i < ci->n; i++)
            k += g->pt[i] != CORR_NONE && g->pt[i] >= w0;
        return k;
    case STOAT_CORR_TEMPORAL_ORDERED:
        while (k < ci->n && g->pt[k] != CORR_NONE && g->pt[k] >= w0)
            k++;
        return k;
    case STOAT_CORR_VALUE_SUM:
        return g->count ? g->sum : 0;
    case STOAT_CORR_VALUE_AVG:
        return g->count ? g->sum / (double)g->count : NAN;
    case STOAT_CORR_VALUE_PERCENTILE:
        return window_percentile(e, ci, g, g->len);
    default:
        return NAN;
    }
}

void corr_rising_add(struct corr_engine *e, const struct cinfo *ci, struct group *g, uint32_t pos, int64_t t,
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
    case STOAT_CORR_TEMPORAL_ORDERED:
        ordered_add(e, ci, g, pos, t);
        break;
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
    default:
        break;
    }
}

/* The earliest event of the window that the firing is about. */
int64_t corr_rising_first(const struct cinfo *ci, const struct group *g, int64_t w0, double value)
{
    int64_t first = g->newest;
    switch (ci->type) {
    case STOAT_CORR_VALUE_COUNT:
        return g->vt->first != NO_SLOT ? g->vt->v[g->vt->first].last : first;
    case STOAT_CORR_TEMPORAL:
        for (uint32_t i = 0; i < ci->n; i++)
            if (g->pt[i] != CORR_NONE && g->pt[i] >= w0 && g->pt[i] < first)
                first = g->pt[i];
        return first;
    case STOAT_CORR_TEMPORAL_ORDERED:
        return value >= 1 ? g->pt[(uint32_t)value - 1] : first;
    default:
        return g->len ? ent_at(g, 0)->t : first;
    }
}

/* The value of the tumbling window of the group's first m entries (events
 * events in all), as the correlation's type counts it. */
double corr_window_value(struct corr_engine *e, const struct cinfo *ci, const struct group *g, uint32_t m,
                         uint64_t events)
{
    double v = NAN, sum = 0;
    uint32_t k = 0;
    struct vtab *vt = g->vt;
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT:
        v = (double)events;
        break;
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
    case STOAT_CORR_VALUE_PERCENTILE:
        v = window_percentile(e, ci, g, m);
        break;
    default:
        break;
    }
    return v;
}
