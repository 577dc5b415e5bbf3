/* The writer's transactions, caches and roll-ups (writer.c); what one
 * alert writes is alert.c's, the thread that calls them queue.c's. */
#ifndef STOAT_STORE_WRITER_H
#define STOAT_STORE_WRITER_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store_int.h"

/* Prepares the writer's statements (s->st); on failure s->errmsg says why. */
stoat_err store_writer_prepare(struct stoat_store *s);
/* Finalizes them and frees the writer's caches. */
void store_writer_close(struct stoat_store *s);

/* Opens a transaction unless one is open. */
stoat_err store_tx_begin(struct stoat_store *s);
/* Writes what is pending and commits it (rolls back on failure). */
stoat_err store_tx_end(struct stoat_store *s);
/* Commits when the batch is full or old enough. */
stoat_err store_tx_maybe_end(struct stoat_store *s);

/* The processes the writer has stored, by keyed hash (never 0). */
struct store_proc_slot *store_proc_get(struct stoat_store *s, uint64_t h);
struct store_proc_slot *store_proc_put(struct stoat_store *s, uint64_t h, int64_t row, bool has_parent);
/* Forgets them (their rows may be gone: a rollback, retention). */
void store_procs_clear(struct stoat_store *s);

/* Counts an alert in a roll-up (kinds: struct count_slot). */
int store_count_add(struct stoat_store *s, int kind, int64_t a, int64_t b, int64_t t);

#endif
