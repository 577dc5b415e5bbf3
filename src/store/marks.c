/* See marks.h. A host's run numbers its batches 1, 2, 3, ... and they
 * arrive mostly in order, so marks are kept as intervals [lo, hi]: a batch
 * extends the interval ending just before it, or starts one; a run is a few
 * rows however long it lasts. */
#include "store/marks.h"

#include "store/db.h"
#include "store/writer.h"

stoat_err store_mark_write(struct stoat_store *s, const char *host, const char *run, uint64_t seq)
{
    stoat_err e = store_tx_begin(s);
    if (e != STOAT_OK)
        return e;
    sqlite3_stmt *st = store_prepare(s, "UPDATE fleet_seen SET hi = ?3 WHERE host = ?1 AND run = ?2 AND hi = ?3 - 1");
    if (!st)
        return STOAT_ERR_IO;
    store_bind_text(st, 1, host);
    store_bind_text(st, 2, run);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, rc, "marking a fleet batch");
    if (sqlite3_changes(s->db) > 0)
        return STOAT_OK;
    st = store_prepare(s, "INSERT OR IGNORE INTO fleet_seen(host, run, lo, hi) VALUES(?1, ?2, ?3, ?3)");
    if (!st)
        return STOAT_ERR_IO;
    store_bind_text(st, 1, host);
    store_bind_text(st, 2, run);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STOAT_OK : store_fail(s, rc, "marking a fleet batch");
}
