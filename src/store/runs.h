/* A run's row and the lock held for its life; runs whose writer is gone
 * (runs.c). */
#ifndef STOAT_STORE_RUNS_H
#define STOAT_STORE_RUNS_H

#include "store/store_int.h"

/* Ends the open transaction and records a new run (s->run_id), its
 * writer's lock held until it ends. */
stoat_err store_run_start(struct stoat_store *s, const char *producer, const char *args);
/* Records the run's end and figures (stats may be NULL), lets its lock go. */
stoat_err store_run_finish(struct stoat_store *s, const struct stoat_hunt_stats *stats);
/* A handle closed in the middle of its run: the run is marked aborted. */
void store_run_abandon(struct stoat_store *s);
/* Marks aborted the running runs whose writer is gone: how many, or -1
 * when it could not look (they are looked at again at the next open). */
int store_runs_reap(struct stoat_store *s);
/* Closes the lock file (which lets every lock of the handle go). */
void store_runs_close(struct stoat_store *s);

#endif
