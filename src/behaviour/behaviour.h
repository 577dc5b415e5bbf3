/* Behaviour beyond single events, run by a pipeline's serial stage (the
 * hunt's writer, watch's callback) in input order:
 * the process table (every alert's ancestry), attack chains joining alerts
 * into incidents in event time (chains.h) on the evidence of what was sent
 * and to where (evidence.h), and, as they land, correlations, crown jewels
 * and baselines. It sees every process start and every match; what it concludes
 * goes back to that stage as alerts and incidents through callbacks. The
 * rules it generated for jewels and baselines it knows by their roles
 * (sources.h), looked up whenever it is given a ruleset. */
#ifndef STOAT_BEHAVIOUR_BEHAVIOUR_H
#define STOAT_BEHAVIOUR_BEHAVIOUR_H

#include <stdbool.h>
#include <stdint.h>

#include "behaviour/proctree.h"
#include "stoat/alert.h"
#include "stoat/behaviour.h"

struct stoat_ruleset;
struct cross_fact;

#define behaviour_opts stoat_behaviour_opts

/* Where the writer sends what behaviour concludes. */
struct behaviour_out {
    void *ctx;
    void (*incident)(void *ctx, const struct stoat_incident *inc);
    /* an alert behaviour concluded; the writer numbers it, reports it and
     * hands it back to behaviour_alert */
    void (*alert)(void *ctx, struct stoat_alert *a);
    /* may be NULL. Set, the facts for cross-host analytics (cross.h) go here
     * (the fleet's partition workers publish them to its cross-host role)
     * and this behaviour makes no fleet incidents itself; unset, it chains
     * them across the hosts it sees (a hunt over several hosts' logs). */
    void (*fact)(void *ctx, const struct cross_fact *f);
};

/* The process an alert's event was about (from the event's fields). */
struct actor {
    const char *guid;
    int64_t pid;
    const char *logon_id;
    /* what the parent-spoofing watch reads of the event, worked out by the
     * matching stage (spoof.h); NULL: behaviour_watch works it out */
    const struct spoof_facts *spoof;
    /* 1 + the index of the event's field that names its account
     * (facts_digest's), -1 when none, 0 when not worked out */
    int32_t account_field;
};

struct behaviour;
struct spoof_facts;

struct behaviour *behaviour_create(const struct stoat_ruleset *rs, const struct behaviour_opts *opts,
                                   const struct behaviour_out *out);
void behaviour_destroy(struct behaviour *b); /* accepts NULL */

void behaviour_proc_start(struct behaviour *b, const struct proc_start *p);
/* An event of a host whose name has this strmap_hash comes soon: the
 * lookup of its record is started. */
void behaviour_prefetch_host(const struct behaviour *b, uint64_t host_hash);
/* An event whose spoofing facts have these keys (spoof_keys_of) comes soon. */
void behaviour_prefetch_spoof(const struct behaviour *b, uint64_t self, uint64_t parent);
/* An alert of the ruleset's rule r comes soon. */
void behaviour_prefetch_rule(const struct behaviour *b, uint32_t r);
void behaviour_proc_end(struct behaviour *b, const char *host, const char *guid, int64_t pid, int64_t time_ns);

/* Fills a->ancestry (into storage owned by b, valid until the next call) and
 * a->logon_id from the process table. */
void behaviour_enrich(struct behaviour *b, struct stoat_alert *a, const struct actor *who);
/* An alert was reported: chain it. */
void behaviour_alert(struct behaviour *b, const struct stoat_alert *a);
/* A behaviour-only rule matched (who as for behaviour_enrich, may be NULL):
 * e.g. a transfer tool ran after a crown jewel was touched in the same
 * session or tree, data may be leaving. a is enriched here (behaviour_enrich)
 * unless *enriched says it was, and only when the rule's role reads the
 * process or raises an alert: most process starts only feed the spoofing
 * table, and walking their ancestry was most of their cost. *enriched then
 * says so. */
void behaviour_watch(struct behaviour *b, struct stoat_alert *a, const struct actor *who, bool *enriched);

/* From now on the facts for cross-host analytics go to out.fact (the
 * fleet's partition workers publish them), not into this behaviour's own
 * chains across hosts. */
void behaviour_send_facts(struct behaviour *b, void (*fact)(void *ctx, const struct cross_fact *f));

/* Live: event time has reached now_ns; alerts older than the lateness are
 * chained and chains that can no longer grow become incidents. */
void behaviour_advance(struct behaviour *b, int64_t now_ns);
/* A fleet worker's look, about once a second: the kept alerts are chained
 * and each quiet host's chains that the wall's time has closed become
 * incidents (chains_quiet). */
void behaviour_quiet(struct behaviour *b, int64_t wall_ns);
/* Learning a baseline: writes the profile. */
stoat_err behaviour_write_baseline(const struct behaviour *b, const char *path);

/* End of input: close everything. */
void behaviour_finish(struct behaviour *b);
/* The same, with the hosts' chains built on a second thread while the
 * cross-host chains finish: the same reports, in the same order. */
void behaviour_finish_parallel(struct behaviour *b);

/* Rules were reloaded: the process table, chains and touches carry on; the
 * roles, the baseline profile and the jewels' window come from rs now. */
void behaviour_set_ruleset(struct behaviour *b, const struct stoat_ruleset *rs);

struct behaviour_stats {
    struct proctree_stats procs;
    uint64_t chains, incidents;
    uint64_t incident_batches, incident_late; /* chains_stats' batches and late */
    uint64_t evidence_evicted;                /* processes whose evidence was dropped (evidence.h) */
    uint64_t cross_dropped;                   /* cross-host facts dropped at their cap (cross.h) */
};
void behaviour_get_stats(const struct behaviour *b, struct behaviour_stats *out);

#endif
