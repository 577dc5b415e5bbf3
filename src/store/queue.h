/* The writer's thread and its queue (queue.c). */
#ifndef STOAT_STORE_QUEUE_H
#define STOAT_STORE_QUEUE_H

#include "store/store_int.h"

/* Waits until everything put is written and committed; the writer's error
 * if it failed. Every call but put_* starts with it. */
stoat_err store_quiesce(struct stoat_store *s);
/* store_quiesce, then commits the open transaction (a writer that was not
 * threaded has one): what the store holds is all in the file. */
stoat_err store_flush(struct stoat_store *s);
/* Stops the thread (after store_quiesce) and frees the producer's side. */
void store_queue_close(struct stoat_store *s);

#endif
