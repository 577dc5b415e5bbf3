/* Writing a batch mark, on the writer's thread (marks.c); the rest of the
 * fleet's part of the store is fleet.c. Apart so that the writer's queue,
 * which calls it, and fleet.c, which waits on the queue, form no circle. */
#ifndef STOAT_STORE_MARKS_H
#define STOAT_STORE_MARKS_H

#include <stdint.h>

#include "store/store_int.h"

/* Inside the writer's transaction: batch seq of (host, run) is stored. */
stoat_err store_mark_write(struct stoat_store *s, const char *host, const char *run, uint64_t seq);

#endif
