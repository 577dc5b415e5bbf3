/* Sigma correlation rules (specification v2.1), evaluated over the stream
 * of base-rule matches that a pipeline's serial stage sees in input order.
 *
 * corr_stream.c calls corr_feed() for every match of a rule that some
 * correlation reads (rules marked correlation_only included: they feed
 * correlations without being reported themselves), and corr_advance() as
 * time moves on; a correlation that holds calls the emit callback. A fired
 * correlation is itself fed to the correlations that name it (correlations
 * of correlations). State is bounded by corr_opts; what had to be evicted is
 * counted, never silently lost. */
#ifndef STOAT_BEHAVIOUR_CORRELATE_H
#define STOAT_BEHAVIOUR_CORRELATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/event.h"
#include "stoat/rules.h"

struct stoat_ruleset;

struct corr_opts {
    int64_t lateness_ns; /* how late an event may arrive and still count (default 60 s) */
    size_t max_groups;   /* open group states over all correlations (default 100,000) */
    size_t max_bytes;    /* memory for all state (default 64 MiB) */
    const bool *skip;    /* per correlation: not evaluated by this engine (NULL: none skipped) */
};

/* One base match, as the writer has it. */
struct corr_input {
    uint32_t rule;                    /* index into the ruleset's rules */
    uint64_t alert_id;                /* the alert's id when it was reported, else 0 */
    int64_t time_ns;                  /* the event's time (INT64_MIN: unknown, counts as "now") */
    const struct stoat_field *fields; /* the event */
    size_t nfields;
    const char *host;
};

/* A correlation that held. */
struct corr_fire {
    size_t corr;                        /* index into the ruleset's correlations */
    const struct stoat_rule_meta *meta; /* the correlation rule's metadata */
    int64_t first_ns, last_ns;          /* the window's events */
    const char *const *group_names;     /* group-by names as the rule writes them (alias names), then
                                           value_percentile's field when it fires per value */
    const char *const *group_values;
    size_t ngroup;
    double value;              /* the count, distinct count, rules seen, sum, average, percentile or share */
    const uint64_t *alert_ids; /* reported base alerts inside the window (may be empty) */
    size_t nalert_ids;
    const char *host; /* when one host is involved, else NULL */
};

struct corr_stats {
    uint64_t fed, fired, late_dropped;
    uint64_t evicted_groups; /* state dropped to stay within the caps */
    uint64_t evicted_events; /* oldest events of one group dropped to stay within max_bytes */
    uint64_t unusable;       /* (input, correlation) pairs without a group-by or value field */
    size_t groups, bytes;    /* now */
};

typedef void (*corr_emit_fn)(void *ctx, const struct corr_fire *fire);

struct corr_engine;

/* The defaults above. In opts given to corr_create, max_groups or
 * max_bytes 0 also mean the default; lateness_ns is taken as given. */
void corr_default_opts(struct corr_opts *opts);
/* NULL when the ruleset has no correlations. opts NULL: the defaults. */
struct corr_engine *corr_create(const struct stoat_ruleset *rs, const struct corr_opts *opts);
/* True when rule feeds some correlation (the writer skips the others). */
bool corr_reads(const struct corr_engine *e, uint32_t rule);
/* in->fields are the event as the rule saw it (group-by names are looked up
 * in them, ASCII case and spaces ignored); they are not kept after the call.
 * emit runs for correlations that fire and are reported (not those read by
 * another correlation without `generate`); the fire is valid during the call
 * only, and emit must not call corr_feed or corr_advance (ignored). */
void corr_feed(struct corr_engine *e, const struct corr_input *in, corr_emit_fn emit, void *ctx);
/* Time has reached now_ns (the newest event time seen, minus nothing): close
 * what can no longer change. INT64_MAX at the end of input closes all.
 * Conditions judged on complete windows (lt, lte, eq, neq; value_percentile
 * without `percentile`) only fire from here. */
void corr_advance(struct corr_engine *e, int64_t now_ns, corr_emit_fn emit, void *ctx);
void corr_get_stats(const struct corr_engine *e, struct corr_stats *out);

/* An empty engine that judges what proto judges, sharing its tables of who
 * reads what (built from the ruleset once, large with many rules) instead
 * of building its own: a worker keeps one engine per host. proto must
 * outlive it. NULL when proto is NULL. */
struct corr_engine *corr_create_like(const struct corr_engine *proto);
/* Memory the engine holds now, its fixed part included. */
size_t corr_bytes(const struct corr_engine *e);
/* Drops the least recently fed groups until the engine holds at most
 * target bytes (or has no group left; counted as evicted_groups): a caller
 * keeping many engines under one cap takes memory from the idle ones.
 * Not from inside an emit callback. Returns corr_bytes after. */
size_t corr_trim(struct corr_engine *e, size_t target);

/* Which correlations span hosts (spans[k], ncorrs entries): those whose
 * group-by names no host field of the mapping (for every rule it reads,
 * aliases resolved), and every correlation linked to one by reading or
 * being read (a firing must reach its reader in the same engine). The
 * fleet evaluates these where every host's matches meet; the others stay
 * with the worker of the host's partition. Returns how many span hosts. */
size_t corr_spanning_hosts(const struct stoat_ruleset *rs, bool *spans);
void corr_destroy(struct corr_engine *e); /* accepts NULL */

#endif
