/* The serial stage every pipeline ends in (hunt's writer, watch's callback,
 * next the fleet's consumer): given an event's matches, in input order,
 * decide what is reported, enrich alerts with their ancestry, feed process
 * trees, correlations (behaviour/corr_stream.h) and behaviour, and hand
 * alerts and incidents to the sinks. The matching before it runs in parallel
 * (hunt) or inline (watch); what happens here needs order. It knows the
 * sinks and the behaviour stage, nothing of where events come from. */
#ifndef STOAT_PIPELINE_CONSUME_H
#define STOAT_PIPELINE_CONSUME_H

#include "behaviour/behaviour.h"
#include "behaviour/corr_stream.h"
#include "pipeline/matcher.h"
#include "stoat/alert.h"

struct consumer {
    const struct stoat_ruleset *rs;
    const struct stoat_sink *sinks;
    size_t nsinks;
    enum stoat_level min_level;
    bool all_events;
    struct behaviour *beh;
    struct engine_ctx *eng;         /* for deferred rules */
    struct stoat_hunt_stats *stats; /* counts alerts and incidents here */
    stoat_err err;                  /* first sink error */
    struct stoat_behaviour_opts beh_opts;
    struct corr_stream *corr; /* NULL when the ruleset has no correlations */
    /* rule evaluations a regex limit stopped, per rule of rs: the matching
     * threads' engines add theirs (engine_regex_limited_add) when they end
     * or the rules change; and the count of earlier rulesets */
    uint64_t *regex_limited;
    uint64_t regex_limited_before;
    /* facts for cross-host analytics, when they go out (consumer_send_facts) */
    void (*fact)(void *ctx, const struct cross_fact *f);
    void *fact_ctx;
    uint64_t rs_serial; /* of this ruleset here: the upper half of the alerts' rule_serial */
    /* the end of the run may take a second thread (hunt -j 2 and more):
     * behaviour_finish_parallel */
    bool finish_parallel;
};

/* all_events: every event goes to the sinks' event callback too. */
void consumer_init(struct consumer *c, const struct stoat_ruleset *rs, const struct stoat_sink *sinks, size_t nsinks,
                   enum stoat_level min_level, bool all_events, const struct stoat_behaviour_opts *bo,
                   struct stoat_hunt_stats *stats);
/* Closes correlations and chains, writes a learned baseline, fills the
 * regex limit figures of the stats, frees; returns the first sink (or
 * baseline) error. */
stoat_err consumer_fini(struct consumer *c);
/* The regex limit figures of st from what the consumer holds and its own
 * engine's, with those of more (may be NULL): a live producer's engine. */
void consumer_regex_stats(const struct consumer *c, const struct engine_ctx *more, struct stoat_hunt_stats *st);

/* The facts behaviour derives for cross-host analytics go to fn (on the
 * consumer's thread) instead of its own chains across hosts: the fleet's
 * workers publish them to the cross-host role. */
void consumer_send_facts(struct consumer *c, void (*fn)(void *ctx, const struct cross_fact *f), void *ctx);

/* A process start (or end): host, time and the PF_* details (NULL: absent). */
void consumer_proc(struct consumer *c, bool end, const char *host, int64_t time_ns, const char *const fields[PF_COUNT],
                   const uint32_t lens[PF_COUNT]);
/* The same with the pid and parent pid read (consume_pid) by the caller:
 * the matching threads, in parallel. */
void consumer_proc_ids(struct consumer *c, bool end, const char *host, int64_t time_ns,
                       const char *const fields[PF_COUNT], int64_t pid, int64_t ppid);
/* An event of a host whose name has this strmap_hash is about to come (the
 * writer reads a unit's records ahead): what its lookups will touch starts
 * loading. */
void consumer_prefetch_host(const struct consumer *c, uint64_t host_hash);
/* The same for an event whose spoofing facts have these keys (spoof_keys_of). */
void consumer_prefetch_spoof(const struct consumer *c, uint64_t self, uint64_t parent);
/* The same for an event that matched the ruleset's rule r. */
void consumer_prefetch_rule(const struct consumer *c, uint32_t r);
/* An event with matches: a has the event (fields, host, time, position);
 * rules/use as the matcher passed them on (matcher.h). */
void consumer_event(struct consumer *c, struct stoat_alert *a, const uint32_t *rules, const uint8_t *use, size_t n,
                    const struct actor *who);
/* Rules were reloaded (watch): carry on with the new ones. */
void consumer_set_ruleset(struct consumer *c, const struct stoat_ruleset *rs);
/* Wall-clock time for live use: closes chains that went quiet and
 * correlation windows that can no longer change. */
void consumer_advance(struct consumer *c, int64_t now_ns);
/* A fleet worker's look, about once a second, busy or idle (wall_ns: a
 * monotonic wall clock): correlations feed what they keep, and each host
 * quiet since an earlier look has its clock moved on by the wall time it
 * has been quiet, so its windows and chains that time has passed close
 * (corr_stream_quiet, chains_quiet). Only while no input is in flight. */
void consumer_quiet(struct consumer *c, int64_t wall_ns);

/* Event values as the serial stage reads them: a pid (-1 when absent or
 * not a number) and a timestamp (INT64_MIN when absent or unreadable). */
int64_t consume_pid(const char *s, uint32_t n);
int64_t consume_time(const char *s, uint32_t n);
/* consume_time without its fast path for the usual shape and its cache of
 * the last minute: the reference the tests compare it with. */
int64_t consume_time_slow(const char *s, uint32_t n);

#endif
