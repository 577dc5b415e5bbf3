/* See xcorr.h.
 *
 * Why it works this way:
 * - The partitions run apart: one worker may send a host's whole day
 *   while another still holds the morning of a second host. A sliding
 *   window that has moved on drops an event that comes before it
 *   (correlate.h), so matches fed as they come would miss what a hunt over
 *   all the files finds. The stream (corr_stream.h, CORR_PART_SPANNING, not
 *   live) keeps what came until the facts pause (once a second) and feeds
 *   it in time order; it also keeps what it fed, for the workers' lateness
 *   (48 h) of event time within its memory cap, and when some of what came
 *   is older than what was fed, it rebuilds the windows from every kept
 *   match in time order, as a hunt would. A fleet worker's stream does the
 *   same host by host. What fires again is known to the store by rule,
 *   group and window (the caller asks it), so a rebuild, like a takeover's
 *   replay, stores nothing twice.
 * - The matches are few beside the events: only those of the rules that
 *   correlations spanning hosts read, with only the fields they read. */
#include "fleet/xcorr.h"

#include <stdlib.h>

#include "util/mem.h"

#define XCORR_HORIZON_NS (48 * 3600 * 1000000000LL) /* without a lateness of the options */

struct fleet_xcorr {
    struct corr_stream *s;
    struct stoat_hunt_stats stats;
};

struct fleet_xcorr *fleet_xcorr_create(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *beh,
                                       enum stoat_level min_level, corr_alert_fn emit, void *ctx)
{
    if (!rs)
        return NULL;
    struct stoat_behaviour_opts bo = {0};
    if (beh)
        bo = *beh;
    bo.corr_live = false; /* kept and fed in time order */
    if (bo.corr_offline_lateness_ns <= 0)
        bo.corr_offline_lateness_ns = XCORR_HORIZON_NS;
    struct fleet_xcorr *x = xcalloc(1, sizeof(*x));
    x->s = corr_stream_create_part(rs, &bo, min_level, &x->stats, emit, ctx, CORR_PART_SPANNING);
    if (!x->s) {
        fleet_xcorr_destroy(x);
        return NULL;
    }
    return x;
}

void fleet_xcorr_destroy(struct fleet_xcorr *x)
{
    if (!x)
        return;
    corr_stream_destroy(x->s);
    free(x);
}

void fleet_xcorr_add(struct fleet_xcorr *x, const struct cross_match *m)
{
    if (x)
        corr_stream_remote(x->s, m);
}

void fleet_xcorr_idle(struct fleet_xcorr *x, int64_t idle_ns)
{
    if (x)
        corr_stream_idle(x->s, idle_ns);
}

void fleet_xcorr_counts(const struct fleet_xcorr *x, uint64_t *kept, uint64_t *rebuilt)
{
    *kept = x ? corr_stream_kept(x->s) : 0;
    *rebuilt = x ? x->stats.corr_rebuilt : 0;
}
