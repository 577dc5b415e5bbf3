/* Event packs: how the events alerts cite are written and read back
 * (packs.c). */
#ifndef STOAT_STORE_PACKS_H
#define STOAT_STORE_PACKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

/* The writer's statement that inserts a pack (ST_PACK_PUT). */
extern const char store_sql_pack_put[];

/* Adds an event record (a JSON object) to the open pack; *num is its
 * number. SQLITE_OK or an error. */
int store_pack_add(struct stoat_store *s, const char *rec, size_t n, int64_t *num);
/* Closes the open pack: to the packer (later: the row is inserted by the
 * next flush), or compressed and inserted now (!later, or no packer).
 * Either way the pack before is inserted first. */
int store_pack_flush(struct stoat_store *s, bool later);
/* The number the next event gets, from the file (another writer may have
 * added packs). */
int store_packs_next(struct stoat_store *s, int64_t *next);
/* A rolled-back transaction: its packs, given to the packer or open, go,
 * and numbering starts again where the transaction began. */
void store_packs_drop(struct stoat_store *s);
/* Stops the packer and frees what packs hold of the handle. */
void store_packs_close(struct stoat_store *s);

/* Appends the JSON object of event number ev ({"file":..,"fields":{..}})
 * to b, or null when the store does not have it. A pack that does not
 * unpack or a record that is not valid JSON reads as null: the file may
 * have been doctored. SQLITE_OK or a read error. */
int store_event_json(struct stoat_store *s, int64_t ev, struct buf *b);

/* Schema 1 -> 2: the rows of `events` become packs, numbered as they were
 * (a gap left by retention starts a new pack), and the table goes. */
int store_packs_migrate(struct stoat_store *s);

#endif
