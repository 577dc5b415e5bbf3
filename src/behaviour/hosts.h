/* The hosts the serial stage has seen, each interned once: an event's host
 * name is looked up once (the host met last is compared first: an event's
 * parts and most runs of events name the same) and its record keeps the id
 * each part (process table, chains, chains across hosts, spoofing) gave the
 * name, so that no part hashes it again. The parts keep their own ids,
 * given in their own order: the record only remembers them. */
#ifndef STOAT_BEHAVIOUR_HOSTS_H
#define STOAT_BEHAVIOUR_HOSTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strmap.h"

struct host_rec {
    const char *name;    /* as interned (NULL: the record of no host) */
    uint64_t spoof_hash; /* spoof_host_hash of the name ("" for none) */
    uint32_t procs;      /* the process table's id + 1 (0: not known yet) */
    uint32_t chains;     /* the chains' id + 1 (0: not asked yet) */
    uint32_t cross;      /* chains across hosts: their index + 1 (0: not noted yet) */
};

struct hosts {
    struct strmap ids;
    struct host_rec *recs; /* recs[0]: no host */
    size_t n, cap;
    uint32_t last; /* the record hosts_get gave last */
};

void hosts_init(struct hosts *h);
void hosts_free(struct hosts *h);

/* The record of name (NULL: no host); valid until the next new host. */
struct host_rec *hosts_get(struct hosts *h, const char *name);
/* Starts loading where hosts_get will look for a name of this hash
 * (strmap_hash), for a lookup soon after: a day's events come from
 * thousands of hosts, interleaved, and the table is out of the caches by
 * the next event. */
static inline void hosts_prefetch(const struct hosts *h, uint64_t hash)
{
    strmap_prefetch(&h->ids, hash);
}

#endif
