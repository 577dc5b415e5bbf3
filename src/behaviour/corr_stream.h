/* The matches a pipeline's serial stage sees, on their way into the
 * correlation engine (correlate.h), and the correlations' firings on their
 * way out as alerts.
 *
 * A match is fed through the view its rule had of the event (a renamed
 * logsource, such as Security 4688 read as process_creation, names fields as
 * the rule does), carrying only the fields some correlation reads. Offline,
 * matches are kept and fed in time order when the input ends (files of one
 * host come in any order); live, they are fed as they come. A firing becomes
 * an alert handed to the emit callback, which numbers it, reports it and
 * chains it: this stage knows nothing of the pipeline or the sinks behind
 * that callback. Matches that were not reported on their own are remembered
 * for a while as evidence the firing's alert shows. */
#ifndef STOAT_BEHAVIOUR_CORR_STREAM_H
#define STOAT_BEHAVIOUR_CORR_STREAM_H

#include <stdint.h>

#include "behaviour/correlate.h"
#include "stoat/alert.h"
#include "stoat/behaviour.h"

/* A correlation's alert, for the caller to report (it may set a->id). */
typedef void (*corr_alert_fn)(void *ctx, struct stoat_alert *a);

struct corr_stream;

/* NULL when rs has no correlations. Firings below min_level are not
 * reported; the counts (fired, late, evicted, ...) go into stats. */
struct corr_stream *corr_stream_create(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *o,
                                       enum stoat_level min_level, struct stoat_hunt_stats *stats, corr_alert_fn emit,
                                       void *ctx);
/* A match of a rule that correlations read (a the event, enriched or not);
 * alert_id is its alert's id, 0 when it was not reported. */
void corr_stream_match(struct corr_stream *s, const struct stoat_alert *a, uint32_t rule, uint64_t alert_id);
/* Live: time has reached now_ns; windows that can no longer change close. */
void corr_stream_advance(struct corr_stream *s, int64_t now_ns);
/* No input came for idle_ns: what is kept is fed (a firing at an event is
 * not held back until more arrive) and the clock moves that far past the
 * newest match, so windows that ended before it close (a fleet worker whose
 * hosts went quiet; the clock is event time, moved on by the wall's). */
void corr_stream_idle(struct corr_stream *s, int64_t idle_ns);
/* The end of the input (or of a ruleset): feeds what is kept, closes every
 * window and adds the engine's counts to stats. */
void corr_stream_finish(struct corr_stream *s);
void corr_stream_destroy(struct corr_stream *s); /* accepts NULL */

#endif
