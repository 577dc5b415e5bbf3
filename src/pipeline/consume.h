/* The serial stage that hunt's writer and the live watch share: given an
 * event's matches, in input order, decide what is reported, enrich alerts
 * with their ancestry, feed process trees, correlations and behaviour, and
 * hand alerts and incidents to the sinks. The matching before it runs in
 * parallel (hunt) or inline (watch); what happens here needs order. */
#ifndef STOAT_PIPELINE_CONSUME_H
#define STOAT_PIPELINE_CONSUME_H

#include "behaviour/behaviour.h"
#include "behaviour/corr_stream.h"
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
    struct stoat_behaviour_opts beh_opts;
    struct corr_stream *corr;          /* NULL when the ruleset has no correlations */
};

void consumer_init(struct consumer *c, const struct stoat_ruleset *rs, const struct stoat_sink *sinks,
                   size_t nsinks, const struct stoat_hunt_opts *opts, struct stoat_hunt_stats *stats);
/* Closes chains, writes a learned baseline, frees. */
void consumer_fini(struct consumer *c, const struct stoat_hunt_opts *opts);

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
