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
 * for a while as evidence the firing's alert shows.
 *
 * The fleet's streams (CORR_PART_HOSTS, CORR_PART_SPANNING, not live) feed
 * what they kept at each idle round, and a host's events may come out of
 * order (a publisher's spooled batch drains after its newer ones; a
 * partition's worker runs behind another's): each engine keeps the matches
 * it was fed, back to the lateness and within the memory cap, and a match
 * older than those rebuilds its windows from them in time order, as a hunt
 * would judge them. A window that fires again so is the same firing (rule,
 * group, window), which the centre's store knows; stats count rebuilds
 * (corr_rebuilt) and kept matches dropped for memory (corr_unkept). */
#ifndef STOAT_BEHAVIOUR_CORR_STREAM_H
#define STOAT_BEHAVIOUR_CORR_STREAM_H

#include <stdint.h>

#include "behaviour/correlate.h"
#include "behaviour/cross.h"
#include "stoat/alert.h"
#include "stoat/behaviour.h"

/* A correlation's alert, for the caller to report (it may set a->id). */
typedef void (*corr_alert_fn)(void *ctx, struct stoat_alert *a);
/* A match for the correlations that span hosts, sent on (valid during the call). */
typedef void (*corr_match_fn)(void *ctx, const struct cross_match *m);

/* Which correlations a stream evaluates. A hunt sees every host: all of
 * them, one clock. The fleet splits them (correlate.h: corr_spanning_hosts):
 * a partition worker evaluates those grouped by host, with one engine and
 * so one event clock per host (a host whose events run hours behind
 * another's is judged by its own time), and sends the matches of the
 * others' rules on (corr_stream_forward); the cross-host role evaluates
 * those spanning hosts over every worker's matches (corr_stream_remote). */
enum corr_part {
    CORR_PART_ALL,
    CORR_PART_HOSTS,
    CORR_PART_SPANNING
};

struct corr_stream;

/* NULL when rs has no correlations (CORR_PART_SPANNING: none spanning
 * hosts). Firings below min_level are not reported; the counts (fired,
 * late, evicted, ...) go into stats. */
struct corr_stream *corr_stream_create(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *o,
                                       enum stoat_level min_level, struct stoat_hunt_stats *stats, corr_alert_fn emit,
                                       void *ctx);
struct corr_stream *corr_stream_create_part(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *o,
                                            enum stoat_level min_level, struct stoat_hunt_stats *stats,
                                            corr_alert_fn emit, void *ctx, enum corr_part part);
/* CORR_PART_HOSTS: where the matches of the rules that correlations
 * spanning hosts read go (unset: nowhere). */
void corr_stream_forward(struct corr_stream *s, corr_match_fn fwd, void *ctx);
/* A match of a rule that correlations read (a the event, enriched or not);
 * alert_id is its alert's id, 0 when it was not reported. */
void corr_stream_match(struct corr_stream *s, const struct stoat_alert *a, uint32_t rule, uint64_t alert_id);
/* CORR_PART_SPANNING: a match a worker sent (its rule by id; a rule this
 * ruleset does not have is counted in stats as unusable). The match shows
 * in a firing as evidence (rule title and summary), not as an alert id:
 * the worker's ids are its own. */
void corr_stream_remote(struct corr_stream *s, const struct cross_match *m);
/* Live: time has reached now_ns; windows that can no longer change close. */
void corr_stream_advance(struct corr_stream *s, int64_t now_ns);
/* No input came for idle_ns: what is kept is fed (a firing at an event is
 * not held back until more arrive) and the clock moves that far past the
 * newest match, so windows that ended before it close (a fleet worker whose
 * hosts went quiet; the clock is event time, moved on by the wall's). */
void corr_stream_idle(struct corr_stream *s, int64_t idle_ns);
/* A fleet worker's look, about once a second, busy or idle (wall_ns: a
 * monotonic wall clock): what is kept is fed, and each host's clock moves
 * on by the wall time the host has been quiet (no match fed since an
 * earlier look), from where its newest match left it; a host fed since the
 * last look is quiet from this one on. So a host that went quiet has its
 * windows closed while the worker reads other hosts, and time never moves
 * faster than the wall's. */
void corr_stream_quiet(struct corr_stream *s, int64_t wall_ns);
/* The end of the input (or of a ruleset): feeds what is kept, closes every
 * window and adds the engine's counts to stats. */
void corr_stream_finish(struct corr_stream *s);
/* Memory of the correlation engines, the shared tables included, as last
 * counted (after each feed and advance): at most the cap given as
 * corr_max_bytes, whatever the number of hosts. */
size_t corr_stream_bytes(const struct corr_stream *s);
size_t corr_stream_engines(const struct corr_stream *s); /* one per host seen (CORR_PART_HOSTS) */
size_t corr_stream_kept(const struct corr_stream *s);    /* matches kept to rebuild windows (see below) */
void corr_stream_destroy(struct corr_stream *s);         /* accepts NULL */

#endif
