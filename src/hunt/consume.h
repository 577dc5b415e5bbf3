/* The serial stage that hunt's writer and the live watch share: given an
 * event's matches, in input order, decide what is reported, enrich alerts
 * with their ancestry, feed process trees, correlations and behaviour, and
 * hand alerts and incidents to the sinks. The matching before it runs in
 * parallel (hunt) or inline (watch); what happens here needs order. */
#ifndef STOAT_HUNT_CONSUME_H
#define STOAT_HUNT_CONSUME_H

#include "behaviour/behaviour.h"
#include "behaviour/correlate.h"
#include "engine/engine.h"
#include "stoat/hunt.h"

/* How a matched rule is used (decided where the match happens). */
enum match_use {
    USE_CORRELATION = 0,   /* feeds correlations only */
    USE_REPORT = 1,        /* an alert */
    USE_DEFERRED = 2,      /* reads Ancestors: decided here */
    USE_BEHAVIOUR = 3,     /* for the behaviour analytics only */
};

/* Splits a match list (engine_event_match's) into the rules worth passing
 * on and their use; returns how many. out/use hold n entries. */
size_t classify_matches(const struct stoat_ruleset *rs, enum stoat_level min_level, const uint32_t *rules, size_t n,
                        uint32_t *out, uint8_t *use);

struct consumer {
    const struct stoat_ruleset *rs;
    const struct stoat_sink *sinks;
    size_t nsinks;
    enum stoat_level min_level;
    bool all_events;
    struct behaviour *beh;
    struct engine_ctx *eng;            /* for deferred rules */
    struct stoat_hunt_stats *stats;    /* counts alerts and incidents here */
    stoat_err err;                     /* first sink error */
    /* correlations (NULL when the ruleset has none) */
    struct corr_engine *corr;
    bool corr_live;
    struct corr_opts corr_opts;
    struct fieldtab corr_names;        /* the fields correlations read */
    struct buf corr_kept;              /* offline: matches kept until the end */
    struct corr_kept *corr_index;
    size_t ncorr_index, corr_index_cap;
    int64_t corr_last_time;            /* for matches without a time */
    struct corr_evidence *evidence;    /* a ring of the unreported matches fed lately */
    uint64_t nevidence;
    /* rule evaluations a regex limit stopped, per rule of rs: the matching
     * threads' engines add theirs (engine_regex_limited_add) when they end
     * or the rules change; and the count of earlier rulesets */
    uint64_t *regex_limited;
    uint64_t regex_limited_before;
};

void consumer_init(struct consumer *c, const struct stoat_ruleset *rs, const struct stoat_sink *sinks,
                   size_t nsinks, const struct stoat_hunt_opts *opts, struct stoat_hunt_stats *stats);
/* Closes chains, writes a learned baseline, fills the regex limit figures
 * of the stats, frees. */
void consumer_fini(struct consumer *c, const struct stoat_hunt_opts *opts);
/* The regex limit figures of st from what the consumer holds and its own
 * engine's, with those of more (may be NULL): a live producer's engine. */
void consumer_regex_stats(const struct consumer *c, const struct engine_ctx *more, struct stoat_hunt_stats *st);

/* A process start (or end): host, time and the PF_* details (NULL: absent). */
void consumer_proc(struct consumer *c, bool end, const char *host, int64_t time_ns,
                   const char *const fields[PF_COUNT], const uint32_t lens[PF_COUNT]);
/* An event with matches: a has the event (fields, host, time, position);
 * rules/use as classify_matches made them. */
void consumer_event(struct consumer *c, struct stoat_alert *a, const uint32_t *rules, const uint8_t *use, size_t n,
                    const struct actor *who);
/* Rules were reloaded (watch): carry on with the new ones. */
void consumer_set_ruleset(struct consumer *c, const struct stoat_ruleset *rs);
/* Wall-clock time for live use: closes chains that went quiet and
 * correlation windows that can no longer change. */
void consumer_advance(struct consumer *c, int64_t now_ns);

int64_t consume_pid(const char *s, uint32_t n);
int64_t consume_time(const char *s, uint32_t n);

#endif
