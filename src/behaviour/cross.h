/* Cross-host analytics: the lateral movement graph and fleet incidents.
 *
 * It reads facts, not events: small records of what each host saw that
 * matters across hosts (facts.h derives them from events): logons from one
 * place to another, the addresses hosts use, and a digest of every alert.
 * So the same code runs inside `stoat hunt` over a folder of several hosts'
 * logs (behaviour feeds it) and at the fleet's centre, which gets the facts
 * from its partition workers over the bus and feeds them here; the volume it
 * sees is that of logons and alerts, not of events.
 *
 * What comes out, through the callbacks of cross_out: fleet incidents (one
 * account's alerts on several hosts, joined by that account's logons from
 * each host to the next, in time order), and the graph's edges as they are
 * first seen (new against a learned baseline when one is given).
 *
 * Order: facts may come in any order (a hunt reads one host's files after
 * another). Offline they are kept and chained at cross_finish; live
 * (cross_opts.live) chains close when event time (cross_advance) has moved
 * a gap past them plus the lateness, and what is older goes. */
#ifndef STOAT_BEHAVIOUR_CROSS_H
#define STOAT_BEHAVIOUR_CROSS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "behaviour/chains.h"
#include "behaviour/lateral.h"
#include "stoat/alert.h"

struct baseline;

/* A logon fact. Some facts are halves: sshd's accept names the address, its
 * child process the account; a service install names the session, not where
 * it came from. cross joins the halves (same host, close in time, same
 * session). Strings are copied. */
struct cross_logon {
    const char *reporter;  /* the host whose logs said it */
    const char *account;   /* NULL: not named by this half */
    const char *src_host;  /* a name: the workstation, or the reporter itself (4648) */
    const char *src_addr;  /* the address it came from */
    const char *dst_host;  /* where to (a name as the logs write it) */
    const char *dst_logon; /* the session it opened there, when known */
    int64_t time_ns;       /* INT64_MIN: unknown (the fact is dropped) */
    unsigned via;          /* enum cross_via */
};

/* An alert's digest. Strings are copied. */
struct cross_alert {
    uint64_t id; /* the alert's id */
    const char *host;
    int64_t time_ns; /* INT64_MIN: unknown (not chained across hosts) */
    const char *rule_id, *rule_title;
    enum stoat_level level;
    uint32_t tactics;     /* chain_tactics_of its ATT&CK tactics */
    const char *account;  /* the user the event or its process names */
    const char *logon_id; /* the session, when named */
    const char *image, *parent_image;
    uint64_t proc; /* the caller's key of its process for judge (0: none) */
    /* for strings kept once: stoat_alert's event_serial (0: unknown), whose
     * alerts name the same host, account, session and images; the rule's
     * meta (NULL: unknown), whose alerts mostly name the same id and title */
    uint64_t event_serial;
    const void *rule_meta;
    /* unique in the process (0: unknown): alerts with one are of one rule,
     * with the same meta, id and title */
    uint64_t rule_serial;
    /* the caller's memo of host's index here + 1 (0: not noted yet), filled
     * when first noted; only for facts given to this cross directly (NULL:
     * none, the name is looked up) */
    uint32_t *host_slot;
};

/* A match of a base rule that a correlation spanning hosts reads
 * (correlate.h: corr_spanning_hosts): the fleet's workers send it to the
 * cross-host role, where every host's matches meet (corr_stream.h). Only
 * the fields correlations read travel, as the rule saw them. cross.c
 * itself takes no such fact. */
#define CROSS_MATCH_FIELDS 64
struct cross_match {
    const char *host;
    const char *rule_id; /* the base rule's id (its title when it has none) */
    int64_t time_ns;     /* INT64_MIN: unknown */
    const char *summary; /* the event at a glance: the correlation's evidence */
    size_t nfields;
    const char *names[CROSS_MATCH_FIELDS], *values[CROSS_MATCH_FIELDS];
    uint8_t types[CROSS_MATCH_FIELDS]; /* enum stoat_vtype */
};

/* Any fact, as it travels (facts.h writes and reads it as JSON). */
enum cross_fact_kind {
    CROSS_FACT_LOGON = 1,
    CROSS_FACT_ALERT,
    CROSS_FACT_ADDRESS,
    CROSS_FACT_MATCH
};
struct cross_fact {
    enum cross_fact_kind kind;
    struct cross_logon logon; /* CROSS_FACT_LOGON */
    struct cross_alert alert; /* CROSS_FACT_ALERT */
    const char *host, *addr;  /* CROSS_FACT_ADDRESS: cross_address's */
    struct cross_match match; /* CROSS_FACT_MATCH */
};

struct cross_out {
    void *ctx;
    /* a fleet incident (nhosts >= 2); every string valid during the call */
    void (*incident)(void *ctx, const struct stoat_incident *inc);
    /* may be NULL: what the evidence on a host shows about processes
     * (chains_out.judge by host name); without it, no exfiltration or
     * command-and-control claim */
    void (*judge)(void *ctx, const char *host, const uint64_t *procs, size_t nprocs, struct chain_claims *out);
    /* may be NULL: an edge of the graph first seen; is_new when a baseline
     * that knows the destination lacks it */
    void (*edge)(void *ctx, const struct stoat_incident_edge *e);
};

struct cross_opts {
    int64_t gap_ns;   /* activity further apart does not chain (default 2 h) */
    double min_score; /* fleet chains scoring less are not incidents (default 50) */
    size_t max_facts; /* logons, and alerts, kept (default 1,000,000 each) */
    size_t max_bytes; /* and their bytes (default 64 MiB); past either, new facts are
                                     * dropped, counted (live, old ones go as time passes) */
    bool live;
    int64_t lateness_ns;            /* live (default 60 s) */
    const struct baseline *profile; /* the learned logons (baseline.h), or NULL */
    uint64_t first_incident_id;     /* incident ids start here (default 1) */
};

struct cross_stats {
    uint64_t logons, alerts, addresses; /* facts taken */
    uint64_t edges, new_edges;          /* graph edges; of them not in the baseline */
    uint64_t incidents, dropped;        /* fleet incidents; facts dropped at the cap */
};

struct cross;

struct cross *cross_create(const struct cross_opts *o, const struct cross_out *out);
void cross_destroy(struct cross *c); /* accepts NULL */

void cross_logon(struct cross *c, const struct cross_logon *f);
void cross_alert(struct cross *c, const struct cross_alert *a);
/* An alert of the rule whose meta is at rule_meta comes soon (offline:
 * its id and title as kept start loading). */
void cross_prefetch_rule(const struct cross *c, const void *rule_meta);
/* host uses address addr (seen as the source of its own connections) */
void cross_address(struct cross *c, const char *host, const char *addr);
/* One of the three above, by kind (a match is not cross.c's: ignored). */
void cross_fact(struct cross *c, const struct cross_fact *f);

/* Rules were reloaded: the baseline now comes from there (NULL: none). */
void cross_set_profile(struct cross *c, const struct baseline *profile);
/* Live: event time reached now_ns. */
void cross_advance(struct cross *c, int64_t now_ns);
/* End of input: chain everything. */
void cross_finish(struct cross *c);
/* The alert was named by a fleet incident (so a single-host incident of
 * only such alerts adds nothing). */
bool cross_covered(const struct cross *c, uint64_t alert_id);
/* Learning: every edge seen goes into the profile as normal. */
void cross_learn(const struct cross *c, struct baseline *profile);
void cross_get_stats(const struct cross *c, struct cross_stats *out);

/* The account as compared across hosts: lower case, without "DOMAIN\" or
 * "@realm" (out has 256 bytes); "" for machine and service accounts that
 * say nothing of who moved (SYSTEM, LOCAL SERVICE, "HOST$", "-"). */
void cross_account_key(const char *account, char out[256]);

#endif
