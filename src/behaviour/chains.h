/* Attack chains: alerts joined over event time into incidents.
 *
 * Alerts reach behaviour in input order, which is not time order when a hunt
 * reads a folder of log files (Security.evtx before Sysmon.evtx, samples of
 * different years). So chaining works on small records of the alerts, kept
 * and sorted by event time before they are joined: a hunt keeps them all and
 * chains at the end (or, when they reach their memory cap, chains what it kept
 * as one batch and carries on); live, they wait a lateness window and are
 * chained as event time passes it. The chain's score and claims are decided
 * when it closes; what the evidence says about exfiltration and command and
 * control is asked of the caller (judge), so this module knows nothing of
 * events and can be tested with records alone. */
#ifndef STOAT_BEHAVIOUR_CHAINS_H
#define STOAT_BEHAVIOUR_CHAINS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/alert.h"

#define CHAIN_LOGON_MAX 24 /* logon ids kept for display (longer ones are cut; the key has them whole) */

/* One alert as chaining needs it. */
struct chain_alert {
    uint64_t id;                 /* the alert's id */
    int64_t time_ns;             /* INT64_MIN: unknown (the time of the alert before it in input order stands in) */
    uint64_t key;                /* the logon session or process tree within the host; 0: the event names neither */
    uint64_t proc;               /* the process the alert is about; 0: unknown */
    uint32_t host;               /* chains_host */
    uint32_t rule;               /* chains_rule */
    char logon[CHAIN_LOGON_MAX]; /* the session, "" when none */
};

/* What the evidence shows about a chain's processes. Strings and the array
 * stay valid until the judge is called again. */
struct chain_claims {
    bool exfil, c2;          /* data left; a process talked to an outside address */
    int64_t exfil_ns, c2_ns; /* when first seen (INT64_MIN: unknown) */
    const struct stoat_incident_evidence *evidence;
    size_t nevidence;
};

struct chains_out {
    void *ctx;
    /* may be NULL: then nothing is claimed beyond the alerts' own tactics */
    void (*judge)(void *ctx, uint32_t host, const uint64_t *procs, size_t nprocs, struct chain_claims *out);
    void (*incident)(void *ctx, const struct stoat_incident *inc);
};

struct chains_opts {
    int64_t gap_ns;    /* alerts further apart than this (from the chain's last) start a new chain */
    double min_score;  /* chains scoring less are not incidents */
    size_t max_alerts; /* alert ids listed per incident */
    size_t max_bytes;  /* records kept waiting to be chained */
    bool live;         /* records wait lateness_ns of event time, then are chained */
    int64_t lateness_ns;
};

struct chains_stats {
    uint64_t chains, incidents;
    uint64_t batches; /* offline: time-sorted batches chained (1 unless the cap was reached) */
    uint64_t late;    /* records chained after later ones (live: beyond the lateness) */
};

/* How far a set of alerts got along the attack, as chains score it: shared
 * with the cross-host chains (cross.h), which join alerts of several hosts. */
#define CHAIN_TACTICS 13
/* The tactics whose first times the score orders (the story's discovery,
 * credential access and collection: the first of chains.c's enum; the
 * fourth, exfiltration, is timed by the evidence alone). A chain holds a
 * tally, and the open chains are many: their size is fresh memory. */
#define CHAIN_TIMED_TACTICS 3
struct chain_tally {
    uint32_t mask; /* tactics reached (bit per chains.c's enum) */
    /* distinct rules per level, saturating: the score reads each only up
     * to a handful */
    uint16_t by_level[STOAT_LEVEL_COUNT];
    int64_t first[CHAIN_TIMED_TACTICS]; /* when each was first seen (INT64_MAX: not) */
};
void chain_tally_init(struct chain_tally *t);
/* The tactics bits of ATT&CK tactic names ("credential-access", ...). */
uint32_t chain_tactics_of(const char *const *names, size_t n);
/* An alert's tactics at time when; new_rule: its rule was not counted yet. */
void chain_tally_add(struct chain_tally *t, uint32_t tactics, enum stoat_level level, int64_t when, bool new_rule);
/* Lateral movement seen between hosts (not a rule's tag: observed). */
void chain_tally_lateral(struct chain_tally *t, int64_t when);
/* The score (0..100) with exfiltration and command and control claimed only
 * as cl says; names (CHAIN_TACTICS entries) gets the tactics reached in
 * kill-chain order, *nnames their count. last_ns stands in for a claim's
 * unknown time. */
double chain_tally_score(const struct chain_tally *t, const struct chain_claims *cl, int64_t last_ns,
                         const char **names, size_t *nnames, uint32_t *mask_out);

struct buf;
/* The story a title tells: "discovery -> credential access -> ...", else
 * the first tactic, else "suspicious activity". */
void chain_story(struct buf *b, uint32_t mask, const char *const *names, size_t nnames);

struct chains;

struct chains *chains_create(const struct chains_opts *o, const struct chains_out *out);
void chains_destroy(struct chains *c); /* accepts NULL */

/* Ids for hosts and rules (rules by id, title and level: a reload may bring
 * other rules while chains are open). */
uint32_t chains_host(struct chains *c, const char *name);
/* A host's id without adding it: CHAINS_NO_HOST when never seen. Only
 * reads, so it may run beside chains_finish_prepare. */
#define CHAINS_NO_HOST UINT32_MAX
uint32_t chains_host_find(const struct chains *c, const char *name);
uint32_t chains_rule(struct chains *c, const struct stoat_rule_meta *m);
/* The same without chains_rule's memo of the last rules asked: the
 * reference the tests compare it with. */
uint32_t chains_rule_by_key(struct chains *c, const struct stoat_rule_meta *m);

void chains_add(struct chains *c, const struct chain_alert *a);
/* Live: event time has reached now_ns; records older than the lateness are
 * chained, chains that can no longer grow become incidents. */
void chains_advance(struct chains *c, int64_t now_ns);
/* A fleet worker's look, about once a second, busy or idle (wall_ns: a
 * monotonic wall clock): offline, what is kept is chained now, in time
 * order; each host's clock (the newest time chained for it) moves on by
 * the wall time the host has been quiet (nothing chained since an earlier
 * look), from where it stood then, and its chains that can no longer grow
 * become incidents: a quiet host's incidents close while the worker reads
 * other hosts, and its time never runs faster than the wall's. */
void chains_quiet(struct chains *c, int64_t wall_ns);
/* End of input: chain everything, close every chain. */
void chains_finish(struct chains *c);
/* The part of chains_finish that reports nothing: chains everything kept
 * and closes every chain, touching only c (no callbacks), so it may run on
 * another thread while the cross-host chains finish; chains_finish then
 * only reports. Nothing may be added after it. */
void chains_finish_prepare(struct chains *c);
void chains_get_stats(const struct chains *c, struct chains_stats *out);

#endif
