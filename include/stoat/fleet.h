/* The fleet centre's face (`stoat fleet`): the consumers its setup makes,
 * the centre's loop with its options and figures, rule bundles pushed to
 * the fleet and the hosts' credentials. The layer itself is src/fleet/
 * (fleet.h there draws it); what is not here is its own. */
#ifndef STOAT_FLEET_H
#define STOAT_FLEET_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stoat/alert.h"
#include "stoat/error.h"

/* Only pointers to these, so that this header includes no layer's face
 * (stoat/bus.h is the bus's, behaviour.h the behaviour layer's): it stands
 * with alert.h and error.h on the ground floor. */
struct stoat_bus_conn;
struct stoat_behaviour_opts;
struct stoat_store;

#ifdef __cplusplus
extern "C" {
#endif

#define STOAT_FLEET_CONSUMER_PREFIX "part-"
#define STOAT_FLEET_CONSUMER_HEALTH "health"
#define STOAT_FLEET_CONSUMER_CROSS  "cross" /* on STOAT_FACTS, read by the cross-host role */

/* ---- setup: the durable pull consumers part-<p> (and health), after the
 * bus's streams and buckets (stoat_bus_ensure_streams). Idempotent. ---- */
stoat_err stoat_fleet_setup_consumers(struct stoat_bus_conn *c, unsigned partitions, int replicas, char *why,
                                      size_t whylen);

/* `stoat fleet status`: the partitions' lag, the workers' leases and the
 * rule bundle in force, printed to out (what it cannot read, to stderr). */
void stoat_fleet_status(struct stoat_bus_conn *c, FILE *out);

/* ---- the centre (src/fleet/centre.c) ---- */

/* A new rule set from the stoat_rules bucket (stoat_bus_rules_fetch unpacked it
 * into dir): the caller loads it; NULL keeps the old one. */
typedef struct stoat_ruleset *(*stoat_fleet_reload_fn)(void *ctx, const char *dir, const char *version);

struct stoat_fleet_opts {
    const struct stoat_ruleset *rs;
    const char *rule_version;       /* "local" when the rules came from the command line */
    const struct stoat_sink *sinks; /* -o, and more (f-cross's facts: any sink) */
    size_t nsinks;
    struct stoat_store *store; /* required: alerts and batch marks */
    const char *db_path;       /* a second, reading handle asks for marks */
    enum stoat_level min_level;
    const struct stoat_behaviour_opts *beh; /* required */
    unsigned threads;                       /* match workers */
    const char *id;                         /* NULL: <hostname>-<pid>-<random> */
    double duration_s;                      /* 0: until stopped */
    int64_t silence_ms;                     /* a host silent this long is reported; 0: 3 heartbeats */
    unsigned batch;                         /* 0: FLEET_BATCH */
    double replay_s;                        /* a partition taken over replays this much of its stored
                                          batches (stream time) to rebuild state; 0: 900; <0: none */
    volatile sig_atomic_t *stop;            /* set by a signal handler */
    /* the cross-host role (cross_role.c): where its fleet incidents go (a
     * store sink on cross_store, a handle of its own, and -o); none: the
     * role is not taken by this process */
    const struct stoat_sink *cross_sinks;
    size_t ncross_sinks;
    struct stoat_store *cross_store; /* committed before facts are acknowledged */
    double cross_idle_s;             /* see fleet_cross_opts */
    double cross_replay_s;
    stoat_fleet_reload_fn reload;
    void *reload_ctx;
    stoat_diag_fn diag;
    void *diag_ctx;
    bool verbose; /* leases taken and given, reloads, on diag as notes */
};

struct stoat_fleet_stats {
    uint64_t batches, events, duplicates, acked, heartbeats, silent, returned, reloads, replayed;
    uint64_t corr_known;                    /* correlation alerts not stored again: a worker before stored them */
    uint64_t forged;                        /* batches whose host is not their subject's: dropped */
    uint64_t undecodable;                   /* batches whose payload cannot be read (bus/batch.h): dropped, said */
    uint64_t miscounted;                    /* batches holding another number of events than Stoat-Count: read */
    uint64_t fact_messages, facts;          /* published by this worker's partitions */
    uint64_t facts_derived, facts_replayed; /* derived; dropped with a replayed batch (sent before) */
    uint64_t cross_facts, cross_incidents, cross_known, cross_edges, cross_new_edges;
    /* incidents not stored again (a worker before stored them); the
     * cross-host role's correlations spanning hosts, stored and known */
    uint64_t incidents_known, cross_corr, cross_corr_known;
    uint64_t latency_n;
    double latency_p50_s, latency_p99_s; /* Stoat-Sent to the commit of its alerts */
    double busy_s;                       /* from the first batch fetched to the last commit: the drain's time */
    int64_t last_commit_ns;              /* wall clock of the last commit that stored batches */
    double busy_cpu_s;                   /* CPU seconds of the process (every thread) over busy_s */
    /* where the wall time of the rounds that stored batches went (seconds):
     * fetching, the stages (until the writer passed every batch), facts
     * and commit, acknowledging */
    double t_fetch, t_stages, t_commit, t_acks;
    uint64_t rounds;
    struct stoat_hunt_stats hunt;
};

stoat_err stoat_fleet_run(struct stoat_bus_conn *c, const struct stoat_fleet_opts *o, struct stoat_fleet_stats *st);

/* ---- rule bundles: `stoat fleet rules push` ---- */
/* Packs every .yml/.yaml file under the paths and stores it; version out. */
stoat_err stoat_fleet_bundle_push(struct stoat_bus_conn *c, const char *const *paths, size_t n, char *version,
                                  size_t vlen, char *why, size_t whylen);

/* ---- credentials: `stoat fleet creds` ---- */
/* Writes a new creds file for host at path (0600, refusing to overwrite)
 * and fills conf with the server config block: the user, a bcrypt hash of
 * the password, and the host's permissions. */
stoat_err stoat_fleet_creds_make(const char *host, const char *path, char *conf, size_t conflen, char *why,
                                 size_t whylen);

#ifdef __cplusplus
}
#endif

#endif
