/* The store's connection: clocks, errors, statements. The bottom of the
 * store: every other part of it uses these, they use none of them. */
#ifndef STOAT_STORE_DB_H
#define STOAT_STORE_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

int64_t store_now_ns(void);
int64_t store_mono_ns(void);
int64_t store_mono_ms(void);

/* Stops the reads of a reader at its deadlines (stoat_store_set_deadline
 * and a query's own, s->local_deadline_ns). */
void store_watch_deadlines(struct stoat_store *s);

/* Maps an SQLite result code to stoat's errors, keeping the message in
 * s->errmsg ("<path>: <what>: <SQLite's message>"). */
stoat_err store_fail(struct stoat_store *s, int rc, const char *what);
/* Prepares sql, reporting failures into s->errmsg. */
sqlite3_stmt *store_prepare(struct stoat_store *s, const char *sql);
/* Runs sql; a failure's message goes into s->errmsg. */
int store_exec(struct stoat_store *s, const char *sql);
/* Rolls the open transaction back; s->errmsg keeps what went wrong. */
void store_rollback(struct stoat_store *s);
/* The first column of sql's first row (0 when there is none). */
int store_pragma_int(struct stoat_store *s, const char *sql, int64_t *out);
/* id of a row by name (bound to ?1), 0 when absent, -1 on a database error. */
int64_t store_lookup_id(struct stoat_store *s, const char *sql, const char *name);

/* Binding text: NULL binds NULL. */
void store_bind_text(sqlite3_stmt *st, int i, const char *v);

/* The writer's hot path, inline as they were when the writer was one file. */

/* v must stay unchanged until the statement has run: not copied. */
static inline void store_bind_textn(sqlite3_stmt *st, int i, const char *v, size_t n)
{
    if (v)
        sqlite3_bind_text(st, i, v, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static inline void store_bind_static(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

/* Steps a statement that returns nothing wanted and makes it ready again.
 * SQLITE_OK or the error. */
static inline int store_step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* For the statements run for every alert, which bind each parameter every
 * time (NULL included): clearing them all again costs more than it is worth. */
static inline int store_step_bound(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

#endif
