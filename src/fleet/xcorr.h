/* The cross-host role's Sigma correlations: those whose group-by spans
 * hosts (correlate.h: corr_spanning_hosts), judged over the matches every
 * partition worker sends as facts (behaviour/cross.h: struct cross_match).
 * Used by cross_role.c only. */
#ifndef STOAT_FLEET_XCORR_H
#define STOAT_FLEET_XCORR_H

#include <stddef.h>
#include <stdint.h>

#include "behaviour/corr_stream.h"
#include "stoat/behaviour.h"

struct fleet_xcorr;

/* NULL when rs has no correlation spanning hosts. emit gets each firing's
 * alert (the caller decides whether it was stored before). */
struct fleet_xcorr *fleet_xcorr_create(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *beh,
                                       enum stoat_level min_level, corr_alert_fn emit, void *ctx);
void fleet_xcorr_destroy(struct fleet_xcorr *x); /* accepts NULL */
/* One match fact as it came (parsed from a line of facts_json). */
void fleet_xcorr_add(struct fleet_xcorr *x, const struct cross_match *m);
/* The facts paused: what came since the last call is judged (see xcorr.c);
 * windows' clocks move idle_ns past their newest match. */
void fleet_xcorr_idle(struct fleet_xcorr *x, int64_t idle_ns);
/* Matches kept, and how often a late one made the windows be rebuilt. */
void fleet_xcorr_counts(const struct fleet_xcorr *x, uint64_t *kept, uint64_t *rebuilt);

#endif
