/* Triage: the analysts' states of alerts and incidents, with who set
 * them, when and why.
 *
 * A state change is the store's only write that comes from a reader (the
 * dashboard's POST /api/triage): it goes through the same connection rule
 * as the writer's own (the queue is written first) and in a transaction
 * of its own, the target's state and its history row together. */
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/queue.h"

static const char *const triage_names[STOAT_TRIAGE_COUNT] = {"new", "acknowledged", "false-positive", "closed"};

const char *stoat_triage_name(enum stoat_triage t)
{
    return (unsigned)t < STOAT_TRIAGE_COUNT ? triage_names[t] : "";
}

bool stoat_triage_parse(const char *name, enum stoat_triage *out)
{
    for (int i = 0; name && i < STOAT_TRIAGE_COUNT; i++)
        if (!strcmp(name, triage_names[i])) {
            *out = (enum stoat_triage)i;
            return true;
        }
    return false;
}

stoat_err stoat_store_set_triage(struct stoat_store *s, enum stoat_target kind, uint64_t id, enum stoat_triage state,
                                 const char *note, const char *who)
{
    if (!s || s->readonly || (unsigned)state >= STOAT_TRIAGE_COUNT ||
        (kind != STOAT_TARGET_ALERT && kind != STOAT_TARGET_INCIDENT))
        return STOAT_ERR_ARG;
    if ((note && strlen(note) > STOAT_TRIAGE_NOTE_MAX) || (who && strlen(who) > STOAT_TRIAGE_WHO_MAX) ||
        id > INT64_MAX) {
        snprintf(s->errmsg, sizeof(s->errmsg), "note or name too long");
        return STOAT_ERR_LIMIT;
    }
    stoat_err e = store_flush(s);
    if (e != STOAT_OK)
        return e;
    sqlite3_stmt *up = NULL, *log = NULL;
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return STOAT_ERR_IO;
    up = store_prepare(s, kind == STOAT_TARGET_ALERT ? "UPDATE alerts SET state = ?2 WHERE id = ?1"
                                                     : "UPDATE incidents SET state = ?2 WHERE id = ?1");
    log = store_prepare(s, "INSERT INTO triage(kind, target_id, state, note, who, at_ns) VALUES(?1,?2,?3,?4,?5,?6)");
    if (!up || !log) {
        e = STOAT_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(up, 1, (int64_t)id);
    sqlite3_bind_int(up, 2, (int)state);
    if ((rc = sqlite3_step(up)) != SQLITE_DONE) {
        e = store_fail(s, rc, "changing the triage state");
        goto out;
    }
    if (sqlite3_changes(s->db) == 0) {
        snprintf(s->errmsg, sizeof(s->errmsg), "no %s %llu", kind == STOAT_TARGET_ALERT ? "alert" : "incident",
                 (unsigned long long)id);
        e = STOAT_ERR_NOTFOUND;
        goto out;
    }
    sqlite3_bind_int(log, 1, (int)kind);
    sqlite3_bind_int64(log, 2, (int64_t)id);
    sqlite3_bind_int(log, 3, (int)state);
    store_bind_text(log, 4, note && *note ? note : NULL);
    store_bind_text(log, 5, who && *who ? who : NULL);
    sqlite3_bind_int64(log, 6, store_now_ns());
    if ((rc = sqlite3_step(log)) != SQLITE_DONE) {
        e = store_fail(s, rc, "recording the triage");
        goto out;
    }
out:
    sqlite3_finalize(up);
    sqlite3_finalize(log);
    if (e == STOAT_OK) {
        if (store_exec(s, "COMMIT") != SQLITE_OK)
            e = STOAT_ERR_IO;
    }
    if (e != STOAT_OK)
        store_rollback(s);
    return e;
}
