/* The fleet's centre (`stoat fleet`): the consumers of the event stream,
 * the leases that share its partitions between centre processes, the
 * store of what was processed, heartbeats and silence, and the rule
 * bundles. Above the pipeline (whose stages it feeds, as a hunt does) and
 * the bus (src/bus: connection, names, streams); below the command line.
 *
 *   STOAT_EVENTS --pull part-<p>--> fetch --> bus source --> match workers --> writer --> consumer --> sinks
 *      (one lease holder per partition)            (pipeline/source_bus.h)                   store: alerts
 *                                                                                            + batch marks
 *   after a round: commit (alerts and marks in one transaction), then ack
 *
 *   facts (logons, addresses, alert digests) of each batch, published to
 *   stoat.fact.<worker> before its ack --> STOAT_FACTS --pull cross--> the
 *   cross-host role (one lease holder): lateral movement graph, fleet
 *   incidents --> the same sinks and store
 *
 * Files: setup.c (consumers), lease.c (work sharing), centre.c (the
 * loop), health.c (heartbeats, silence), bundle.c (rule bundles),
 * creds.c (host credentials and their server config), facts_out.c (the
 * workers' facts), cross_role.c (the cross-host role). */
#ifndef STOAT_FLEET_FLEET_H
#define STOAT_FLEET_FLEET_H

#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "bus/rules.h"
#include "stoat/alert.h"
#include "stoat/behaviour.h"
#include "stoat/fleet.h"
#include "stoat/store.h"

#define FLEET_CROSS_PENDING 1024 /* its MaxAckPending */
#define FLEET_ACK_WAIT_NS   (30LL * 1000000000LL)
#define FLEET_BATCH         64    /* messages fetched per partition and round (MaxAckPending) */
#define FLEET_LEASE_MS      15000 /* a lease or a worker's liveness lasts this long unrenewed */
#define FLEET_RENEW_MS      5000
#define FLEET_HEARTBEAT_MS  10000 /* the hosts' interval; silent after 3 of them */

/* ---- leases (lease.c) ---- */
struct fleet_leases;
/* Binds to stoat_fleet; id is this worker's (unique in the fleet). */
stoat_err fleet_leases_open(struct stoat_bus_conn *c, const char *id, unsigned partitions, struct fleet_leases **out,
                            char *why, size_t whylen);
/* Renews this worker's liveness and its leases, takes free or expired
 * ones up to its share (ceil((partitions + 2) / live workers): the extra
 * ones are the health role, lease "health", and the cross-host role, lease
 * "cross"), lets go of what is over its share. held[p] (partitions + 2
 * entries: the partitions, then health, then cross) says what is held
 * afterwards; changed says whether that moved. */
void fleet_leases_tick(struct fleet_leases *l, bool *held, bool *changed);
/* Gives every lease back (a clean stop: others take over at once). */
void fleet_leases_release(struct fleet_leases *l);
void fleet_leases_close(struct fleet_leases *l);

/* What a role's last holder had: the messages of stream under filter from
 * start_ns (wall clock), or from stream sequence start_seq when it is not 0,
 * up to the durable consumer's ack floor, in order, each handed to fn,
 * which owns it. Returns 0 when the consumer has
 * acknowledged nothing, -1 when the stream cannot be read (*je says why),
 * else 1; *floor_seq is the floor. */
typedef void (*fleet_replay_fn)(void *ctx, natsMsg *m);
int fleet_replay(struct stoat_bus_conn *conn, const char *stream, const char *durable, const char *filter,
                 int64_t start_ns, uint64_t start_seq, fleet_replay_fn fn, void *ctx, uint64_t *floor_seq, int *je);

/* ---- the workers' facts (facts_out.c) ---- */
struct cross_fact;
struct fleet_facts;
struct fleet_facts *fleet_facts_create(struct stoat_bus_conn *c, const char *worker);
void fleet_facts_destroy(struct fleet_facts *f); /* accepts NULL */
/* A fact of the batch being processed (the consumer's thread; ctx: f). */
void fleet_facts_add(void *ctx, const struct cross_fact *fact);
/* The batch was handed back: its facts become one message, id
 * "fact:<host>:<run>:<seq>" (keep false: dropped, a replayed batch's). */
void fleet_facts_seal(struct fleet_facts *f, const char *host, const char *run, uint64_t seq, bool keep);
/* Facts that came outside any batch (an idle round, the stop) become their
 * own message, id "fact:loose:<hash of their bytes>"; returns how many. */
size_t fleet_facts_seal_loose(struct fleet_facts *f);
/* Publishes what was sealed, each waiting for the stream's ack. */
stoat_err fleet_facts_flush(struct fleet_facts *f, char *why, size_t whylen);
/* Published (facts and messages), derived, and dropped with a replayed batch
 * (published when it was first processed). */
void fleet_facts_counts(const struct fleet_facts *f, uint64_t *messages, uint64_t *facts, uint64_t *derived,
                        uint64_t *replayed);
/* The sealed messages waiting for fleet_facts_flush: how many, and message i's
 * id, payload and fact count (i below the number returned; NULLs skipped). */
size_t fleet_facts_sealed(const struct fleet_facts *f, size_t i, const char **id, const char **payload, size_t *len,
                          unsigned *count);

/* ---- the cross-host role (cross_role.c) ---- */
struct baseline;
struct fleet_cross_opts {
    const struct stoat_sink *sinks; /* fleet incidents */
    size_t nsinks;
    struct stoat_store *store;      /* committed before facts are acknowledged */
    struct stoat_store *rd;         /* asked whether an incident is stored already */
    const struct baseline *profile; /* learned logons, or NULL */
    int64_t gap_ns;                 /* as the hosts' incidents (0: 2 h) */
    double min_score;               /* 0: 50 */
    double idle_s;                  /* no fact at all this long: open chains close (0: 30) */
    double replay_s;                /* on taking the role, facts replayed (0: 3 gaps + 1 h; <0: none) */
    unsigned partitions;            /* whose consumers' lag says when event time may move */
    /* the correlations spanning hosts (corr_stream.h), over the workers'
     * matches: their rules, windows and the alerts' lowest level */
    const struct stoat_ruleset *rs;
    const struct stoat_behaviour_opts *beh;
    enum stoat_level min_level;
    const char *id;
    stoat_diag_fn diag;
    void *diag_ctx;
    bool verbose;
};
struct fleet_cross_stats {
    uint64_t messages, facts, bad, replayed; /* fact messages and facts read; lines refused */
    uint64_t incidents, known;               /* stored; closed again but stored before */
    uint64_t edges, new_edges, dropped;
    uint64_t corr_alerts, corr_known; /* correlations spanning hosts: stored; fired again but stored before */
};
struct fleet_cross;
struct fleet_cross *fleet_cross_create(struct stoat_bus_conn *c, const struct fleet_cross_opts *o);
void fleet_cross_destroy(struct fleet_cross *x); /* accepts NULL */
/* The lease moved (between rounds): reads the consumer, after replaying
 * the facts, or lets go. */
void fleet_cross_hold(struct fleet_cross *x, bool held);
/* Fetches facts, feeds them, stores what closed, commits, acknowledges. */
stoat_err fleet_cross_round(struct fleet_cross *x, bool *any);
void fleet_cross_stats(const struct fleet_cross *x, struct fleet_cross_stats *out);
/* Rules were reloaded: the learned logons now come from there (NULL: none). */
void fleet_cross_set_profile(struct fleet_cross *x, const struct baseline *profile);
/* Rules were reloaded: the correlations spanning hosts start anew on rs
 * (their open windows were the old rules'). */
void fleet_cross_set_rules(struct fleet_cross *x, const struct stoat_ruleset *rs);

/* ---- health (health.c) ---- */

/* The host a heartbeat names ("host" of its JSON object), or NULL when it
 * is not one; into out (at most outlen - 1 bytes). */
const char *fleet_heartbeat_host(const char *json, size_t len, char *out, size_t outlen);
/* The rule set's meta for the fleet's own alerts: a host stopped
 * reporting (returned false) or reports again (true). */
const struct stoat_rule_meta *fleet_silence_rule(bool returned);

/* ---- rule bundles (bundle.c): KV stoat_rules keys bundle.<v>.<n> and
 * current = {"version","sha256","chunks","bytes","pushed"} ---- */
#define FLEET_BUNDLE_MAX   BUS_BUNDLE_MAX /* unpacked bytes of a bundle */
#define FLEET_BUNDLE_CHUNK BUS_BUNDLE_CHUNK

/* ---- credentials (creds.c) ---- */

#endif
