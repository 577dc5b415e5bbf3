/* The store's connection: clocks, errors and statements, for every other
 * part of the store.
 *
 * An error keeps its sentence in the handle (s->errmsg), beginning with
 * the store's path when it is about the file, because the calls that fail
 * are deep in a writer's batch or a reader's query while the caller who
 * shows it to a person is far above: stoat_store_errmsg reads it, and
 * stoat_store_diag hands it on as a diagnostic (the path as its file; both
 * in store.c).
 * A reader's queries stop at deadlines through SQLite's progress handler,
 * so a pathological filter cannot hold a dashboard's thread. */
#include <stdio.h>
#include <time.h>

#include "store/db.h"

int64_t store_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t store_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int64_t store_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* SQLite calls this every few thousand steps of a statement. */
static int store_progress(void *ctx)
{
    struct stoat_store *s = ctx;
    if (!s->deadline_ns && !s->local_deadline_ns)
        return 0;
    int64_t now = store_mono_ns();
    if (s->local_deadline_ns && now >= s->local_deadline_ns) {
        s->local_hit = true;
        return 1;
    }
    return s->deadline_ns && now >= s->deadline_ns;
}

void store_watch_deadlines(struct stoat_store *s)
{
    sqlite3_progress_handler(s->db, 4000, store_progress, s);
}

void stoat_store_set_deadline(struct stoat_store *s, unsigned ms)
{
    if (s)
        s->deadline_ns = ms ? store_mono_ns() + (int64_t)ms * 1000000LL : 0;
}

stoat_err store_fail(struct stoat_store *s, int rc, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    int prim = rc & 0xff;
    if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s: the store is damaged (%s)", s->path, what, msg);
    else
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s: %s", s->path, what, msg);
    switch (prim) {
    case SQLITE_NOMEM: return STOAT_ERR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
    case SQLITE_MISMATCH: return STOAT_ERR_FORMAT;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PERM: return STOAT_ERR_IO;
    case SQLITE_TOOBIG: return STOAT_ERR_LIMIT;
    default: return STOAT_ERR_IO;
    }
}

sqlite3_stmt *store_prepare(struct stoat_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_fail(s, rc, "preparing a statement");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

int store_exec(struct stoat_store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s", s->path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

void store_rollback(struct stoat_store *s)
{
    sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
}

int store_pragma_int(struct stoat_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

int64_t store_lookup_id(struct stoat_store *s, const char *sql, const char *name)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return -1;
    store_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    if (id < 0)
        store_fail(s, rc, "reading");
    sqlite3_finalize(st);
    return id;
}

void store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}
