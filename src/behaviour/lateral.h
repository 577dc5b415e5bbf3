/* The lateral movement graph: who (an account) logged on from where (a host,
 * or an address no host is known by) to where, with when it was first and
 * last seen, how often, and how (enum cross_via). One edge per account,
 * source and destination, in a map; the graph is bounded (past the cap new
 * edges are counted, not kept), so a hostile or huge fleet cannot grow it
 * without end. Novelty against a learned baseline is decided by the caller
 * (cross.c) when an edge is created. */
#ifndef STOAT_BEHAVIOUR_LATERAL_H
#define STOAT_BEHAVIOUR_LATERAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a logon was made (bits). */
enum cross_via {
    CROSS_VIA_NETWORK = 1u << 0,  /* Security 4624 type 3 (SMB, WinRM, WMI, PsExec) */
    CROSS_VIA_RDP = 1u << 1,      /* 4624 type 10, RDP 1149, LocalSessionManager 21/25 */
    CROSS_VIA_EXPLICIT = 1u << 2, /* 4648: explicit credentials used towards a server */
    CROSS_VIA_SERVICE = 1u << 3,  /* a service installed (7045, 4697) by the session */
    CROSS_VIA_WINRM = 1u << 4,    /* a WinRM shell (wsmprovhost) in the session */
    CROSS_VIA_SSH = 1u << 5,      /* sshd accepted a logon */
};

#define LATERAL_MAX_EDGES 1000000

struct lateral_edge {
    char *akey;    /* the account as compared (cross_account_key) */
    char *account; /* as the logs spelled it first */
    char *from, *to;
    unsigned via; /* enum cross_via bits seen */
    int64_t first_ns, last_ns;
    uint64_t count;
    bool is_new; /* not in the baseline */
};

struct lateral;

struct lateral *lateral_create(size_t max_edges); /* 0: LATERAL_MAX_EDGES */
void lateral_destroy(struct lateral *g);          /* accepts NULL */

/* Records one logon; returns its edge (NULL past the cap) and sets *created
 * when the edge is new to the graph. */
struct lateral_edge *lateral_add(struct lateral *g, const char *akey, const char *account, const char *from,
                                 const char *to, unsigned via, int64_t time_ns, bool *created);
struct lateral_edge *lateral_find(const struct lateral *g, const char *akey, const char *from, const char *to);
size_t lateral_count(const struct lateral *g);
const struct lateral_edge *lateral_get(const struct lateral *g, size_t i);
uint64_t lateral_dropped(const struct lateral *g);

/* "network logon+explicit credentials" for via bits (out has n bytes). */
void lateral_via_text(unsigned via, char *out, size_t n);

#endif
