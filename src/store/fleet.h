/* The fleet's part of the store (fleet.c): marks of stored batches and the
 * hosts' heartbeats. */
#ifndef STOAT_STORE_FLEET_H
#define STOAT_STORE_FLEET_H

#include <stdint.h>

#include "store/store_int.h"

/* On the writer's thread, inside its transaction: batch seq of (host, run)
 * is stored. */
stoat_err store_mark_write(struct stoat_store *s, const char *host, const char *run, uint64_t seq);

#endif
