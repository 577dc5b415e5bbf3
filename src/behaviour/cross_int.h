/* The parts of cross.c that cross_report.c shares: the kept facts, the
 * cross-host state and a chain of hosts, so that a fleet incident is built
 * (cross_report.c) apart from how facts are kept and chained (cross.c). */
#ifndef STOAT_BEHAVIOUR_CROSS_INT_H
#define STOAT_BEHAVIOUR_CROSS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "behaviour/chains.h"
#include "behaviour/cross.h"
#include "util/strmap.h"

struct xlogon {
    char *reporter, *account, *src_host, *src_addr, *dst_host, *dst_logon;
    int64_t t;
    unsigned via;
    uint64_t seq;
};

#define KEPT_RULES  4096 /* entries of the table of rules' kept strings (a power of two) */
#define RECENT_BITS 10   /* entries of the table of recent kept strings: 2^10 */

struct xalert {
    uint64_t id, proc;
    const char *host, *account, *logon, *rule_id, *rule_title, *image, *parent;
    int64_t t;
    /* packed: the kept alerts are many, and each byte is fresh memory */
    uint32_t level : 8;    /* enum stoat_level */
    uint32_t tactics : 24; /* chain_tactics_of's bits (CHAIN_TACTICS of them) */
    uint32_t host_index;   /* host_names' index + 1 of host (0: none), as note_host found it */
};
_Static_assert(CHAIN_TACTICS <= 24, "xalert's tactics hold every tactic's bit");

/* a logon resolved to an account and two places */
struct move {
    const struct xlogon *f;
    char akey[256];
    const char *from, *to; /* host names (the host table's) or the raw place */
    bool from_host;        /* from is a host seen */
    unsigned via;
    int64_t t;
};

struct cross {
    struct cross_opts o;
    struct cross_out out;
    struct xlogon *logons;
    size_t nlogons, lcap;
    struct xalert *alerts;
    size_t nalerts, acap;
    bool alerts_mapped; /* alerts is xcalloc_big's, acap long, never grown */
    /* Offline, the alerts' strings, each kept once (an attack's alerts
     * repeat a few hosts, users, images and rules): the map's arena holds
     * them, each entry's key is the copy. Live, each alert's are its own
     * block, freed as time passes. */
    struct strmap strs;
    /* kept strings by recent_key (NULL: none): most of an alert's strings
     * were kept before, and are found here without a hash and a probe */
    const char *recent[1u << RECENT_BITS];
    uint64_t last_event_serial; /* of the alert kept last (0: none) */
    size_t last_event_len;      /* its event_strs_len */
    /* by the rule's meta (KEPT_RULES of them): its id and title as kept,
     * whether the alert gave them (NULL or not), and the room they take
     * (slen of both as the alert gave them) */
    struct kept_rule {
        const void *meta;
        uint64_t rule_serial; /* the alert's that kept them (0: none) */
        const char *id, *title;
        bool id_given, title_given;
        size_t len;
    } * kept_rules;
    uint64_t seq;
    struct strmap hosts;  /* lower-case name -> index in host_names */
    struct strmap shorts; /* lower-case first label -> index + 1 (0: ambiguous) */
    char **host_names;
    size_t nhosts, hcap;
    size_t last_noted;   /* index + 1 of the host note_host met last (0: none): most alerts repeat it */
    struct strmap addrs; /* address -> host index */
    struct lateral *graph;
    struct strmap emitted; /* live: chains already reported (account and start) */
    uint64_t *covered;     /* alert ids named by fleet incidents, sorted at the end */
    size_t ncovered, ccap;
    int64_t done_upto; /* live: chained up to here */
    size_t bytes;      /* kept facts, roughly (structs and strings) */
    uint64_t next_id;
    struct cross_stats st;
};

struct xchain {
    char akey[256];
    const char **hosts; /* in the order reached */
    size_t nhosts, hcap;
    const struct move **moves;
    size_t nmoves, mcap;
    int64_t first, last;
};

/* the account's alerts, attributed (indexes into c->alerts, time order) */
struct acct_alerts {
    size_t *idx;
    size_t n, cap;
};

/* Reports ch as a fleet incident when it scores enough (cross_report.c). */
void cross_report_chain(struct cross *c, const struct xchain *ch, const struct acct_alerts *aa);

#endif
