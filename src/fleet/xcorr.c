/* See xcorr.h.
 *
 * Why it works this way:
 * - The partitions run apart: one worker may send a host's whole day
 *   while another still holds the morning of a second host. A sliding
 *   window that has moved on drops an event that comes before it
 *   (correlate.h), so matches fed as they come would miss what a hunt over
 *   all the files finds. So the matches are kept here, as the JSON lines
 *   they came in, for the workers' lateness (48 h) of event time, capped in
 *   bytes. When the facts pause (once a second), what came since is fed in
 *   time order (corr_stream.h keeps and sorts it); when some of it is older
 *   than what was fed before, the windows are rebuilt: a new stream is fed
 *   every kept match in time order, as a hunt would be. What fires again
 *   is known to the store by rule, group and window (the caller asks it),
 *   so a rebuild, like a takeover's replay, stores nothing twice.
 * - The matches are few beside the events: only those of the rules that
 *   correlations spanning hosts read, with only the fields they read. */
#include "fleet/xcorr.h"

#include <stdlib.h>
#include <string.h>

#include "behaviour/facts.h"
#include "util/buf.h"
#include "util/mem.h"

#define XCORR_HORIZON_NS (48 * 3600 * 1000000000LL) /* without a lateness of the options */
#define XCORR_MAX_BYTES  ((size_t)64 << 20)

struct kept {
    int64_t t; /* INT64_MIN: unknown */
    size_t off;
    uint32_t len;
};

struct fleet_xcorr {
    const struct stoat_ruleset *rs;
    struct stoat_behaviour_opts bo;
    enum stoat_level min_level;
    corr_alert_fn emit;
    void *ctx;
    struct corr_stream *s;
    struct stoat_hunt_stats stats;
    struct buf bytes; /* the kept matches' JSON, back to back */
    struct kept *k;
    size_t n, cap;
    size_t nfed;        /* k[0 .. nfed) are in s */
    int64_t fed_newest; /* the newest time fed (INT64_MIN: none) */
    int64_t horizon_ns;
    size_t max_bytes;
    uint64_t rebuilt, dropped;
    struct facts_store *fst;
};

static void stream_new(struct fleet_xcorr *x)
{
    corr_stream_destroy(x->s);
    x->s = corr_stream_create_part(x->rs, &x->bo, x->min_level, &x->stats, x->emit, x->ctx, CORR_PART_SPANNING);
    x->nfed = 0;
    x->fed_newest = INT64_MIN;
}

struct fleet_xcorr *fleet_xcorr_create(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *beh,
                                       enum stoat_level min_level, corr_alert_fn emit, void *ctx)
{
    if (!rs)
        return NULL;
    struct fleet_xcorr *x = xcalloc(1, sizeof(*x));
    *x = (struct fleet_xcorr){.rs = rs, .min_level = min_level, .emit = emit, .ctx = ctx};
    if (beh)
        x->bo = *beh;
    x->bo.corr_live = false; /* kept and fed in time order */
    x->horizon_ns = x->bo.corr_offline_lateness_ns > 0 ? x->bo.corr_offline_lateness_ns : XCORR_HORIZON_NS;
    x->bo.corr_offline_lateness_ns = x->horizon_ns;
    x->max_bytes = x->bo.corr_max_bytes ? x->bo.corr_max_bytes : XCORR_MAX_BYTES;
    stream_new(x);
    if (!x->s) {
        fleet_xcorr_destroy(x);
        return NULL;
    }
    x->fst = xmalloc(sizeof(*x->fst));
    return x;
}

void fleet_xcorr_destroy(struct fleet_xcorr *x)
{
    if (!x)
        return;
    corr_stream_destroy(x->s);
    buf_free(&x->bytes);
    free(x->k);
    free(x->fst);
    free(x);
}

void fleet_xcorr_add(struct fleet_xcorr *x, const char *json, size_t n, int64_t time_ns)
{
    if (!x || n > UINT32_MAX)
        return;
    XGROW(x->k, x->cap, x->n + 1);
    x->k[x->n++] = (struct kept){.t = time_ns, .off = x->bytes.len, .len = (uint32_t)n};
    buf_put(&x->bytes, json, n);
}

/* Kept match i into the stream (it parsed once already: it came in so). */
static void feed(struct fleet_xcorr *x, size_t i)
{
    struct cross_fact f;
    char why[160];
    if (facts_parse(x->bytes.p + x->k[i].off, x->k[i].len, &f, x->fst, why, sizeof(why)) && f.kind == CROSS_FACT_MATCH)
        corr_stream_remote(x->s, &f.match);
    if (x->k[i].t != INT64_MIN && x->k[i].t > x->fed_newest)
        x->fed_newest = x->k[i].t;
}

/* Forgets what no window can take any more (older than the horizon behind
 * the newest), then the oldest that came while over the byte cap. */
static void prune(struct fleet_xcorr *x)
{
    int64_t cut = x->fed_newest == INT64_MIN || x->fed_newest < INT64_MIN + x->horizon_ns
                      ? INT64_MIN
                      : x->fed_newest - x->horizon_ns;
    size_t over = x->bytes.len > x->max_bytes ? x->bytes.len - x->max_bytes : 0;
    size_t w = 0, at = 0;
    for (size_t i = 0; i < x->n; i++) {
        struct kept e = x->k[i];
        bool old = e.t != INT64_MIN && e.t < cut;
        if (old || over) {
            over = over > e.len ? over - e.len : 0;
            x->dropped += !old;
            continue;
        }
        memmove(x->bytes.p + at, x->bytes.p + e.off, e.len);
        e.off = at;
        at += e.len;
        x->k[w++] = e;
    }
    x->n = x->nfed = w;
    x->bytes.len = at;
}

void fleet_xcorr_idle(struct fleet_xcorr *x, int64_t idle_ns)
{
    if (!x)
        return;
    if (x->nfed < x->n) {
        bool late = false;
        for (size_t i = x->nfed; i < x->n && !late; i++)
            late = x->k[i].t != INT64_MIN && x->fed_newest != INT64_MIN && x->k[i].t < x->fed_newest;
        if (late) { /* the windows again, from every kept match in time order */
            stream_new(x);
            x->rebuilt++;
        }
        for (size_t i = x->nfed; i < x->n; i++)
            feed(x, i);
        x->nfed = x->n;
        corr_stream_idle(x->s, 0); /* fed in time order now, before the clocks move */
        prune(x);
    }
    corr_stream_idle(x->s, idle_ns);
}

void fleet_xcorr_counts(const struct fleet_xcorr *x, uint64_t *kept, uint64_t *rebuilt)
{
    *kept = x ? x->n : 0;
    *rebuilt = x ? x->rebuilt : 0;
}
