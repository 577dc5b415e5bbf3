/* The JSON rows of the store's readers, each written in one place.
 *
 * Why it works this way:
 * - The dashboard's API and the report put the same things in front of the
 *   same browser code: an alert, a rule, an incident, a process, a triage
 *   entry and a correlation are each written by one function here, from
 *   the columns of one SQL fragment beside it (rows.h), whoever reads them.
 * - Text read back from the file is escaped as JSON strings (invalid UTF-8
 *   becomes U+FFFD); text the writer stored as JSON is copied through only
 *   where the SQL that reads it checked it with json_valid, so a doctored
 *   file cannot break the page. */
#include <stdio.h>

#include "store/db.h"
#include "store/rows.h"

void json_col_text(struct buf *b, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        buf_puts(b, "null");
        return;
    }
    const char *t = (const char *)sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    buf_json_str(b, t ? t : "", t ? (size_t)n : 0);
}

/* A column that holds JSON we wrote; anything that does not parse is null. */
void json_col_raw(struct buf *b, sqlite3_stmt *st, int col, const char *fallback)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL) {
        buf_puts(b, fallback);
        return;
    }
    const char *t = (const char *)sqlite3_column_text(st, col);
    int n = sqlite3_column_bytes(st, col);
    if (!t || n == 0)
        buf_puts(b, fallback);
    else
        buf_put(b, t, (size_t)n);
}

void json_col_int(struct buf *b, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        buf_puts(b, "null");
    else
        buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, col));
}

void store_alert_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "{\"id\":%lld,\"ns\":%lld,\"ts\":", (long long)sqlite3_column_int64(st, c),
               (long long)sqlite3_column_int64(st, c + 1));
    json_col_text(b, st, c + 2);
    buf_puts(b, ",\"host\":");
    json_col_text(b, st, c + 3);
    buf_printf(b, ",\"level\":%d,\"rule\":%lld,\"title\":", sqlite3_column_int(st, c + 4),
               (long long)sqlite3_column_int64(st, c + 5));
    json_col_text(b, st, c + 6);
    buf_puts(b, ",\"image\":");
    json_col_text(b, st, c + 7);
    buf_puts(b, ",\"cmd\":");
    json_col_text(b, st, c + 8);
    buf_puts(b, ",\"user\":");
    json_col_text(b, st, c + 9);
    buf_printf(b, ",\"state\":%d,\"logon\":", sqlite3_column_int(st, c + 10));
    json_col_text(b, st, c + 11);
    buf_printf(b, ",\"run\":%lld,\"proc\":", (long long)sqlite3_column_int64(st, c + 12));
    json_col_int(b, st, c + 13);
    buf_puts(b, ",\"ev\":");
    json_col_int(b, st, c + 14);
    if (sqlite3_column_int(st, c + 15) == STOAT_RULE_CORRELATION)
        buf_puts(b, ",\"corr\":true");
    buf_putc(b, '}');
}

void store_rule_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "{\"id\":%lld,\"uid\":", (long long)sqlite3_column_int64(st, c));
    json_col_text(b, st, c + 1);
    buf_puts(b, ",\"title\":");
    json_col_text(b, st, c + 2);
    buf_printf(b, ",\"level\":%d,\"status\":", sqlite3_column_int(st, c + 3));
    json_col_text(b, st, c + 4);
    buf_puts(b, ",\"tags\":");
    json_col_raw(b, st, c + 5, "[]");
    buf_puts(b, ",\"techniques\":");
    json_col_raw(b, st, c + 6, "[]");
    buf_puts(b, ",\"tactics\":");
    json_col_raw(b, st, c + 7, "[]");
    buf_puts(b, ",\"product\":");
    json_col_text(b, st, c + 8);
    buf_puts(b, ",\"category\":");
    json_col_text(b, st, c + 9);
    buf_puts(b, ",\"service\":");
    json_col_text(b, st, c + 10);
    buf_puts(b, ",\"description\":");
    json_col_text(b, st, c + 11);
    buf_puts(b, ",\"file\":");
    json_col_text(b, st, c + 12);
    buf_printf(b, ",\"correlation\":%s}", sqlite3_column_int(st, c + 13) == 1 ? "true" : "false");
}

void store_incident_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "{\"id\":%lld,\"host\":", (long long)sqlite3_column_int64(st, c));
    json_col_text(b, st, c + 1);
    buf_puts(b, ",\"logon\":");
    json_col_text(b, st, c + 2);
    buf_puts(b, ",\"title\":");
    json_col_text(b, st, c + 3);
    buf_printf(b, ",\"score\":%.1f,\"level\":%d,\"first\":%lld,\"last\":%lld,\"tactics\":",
               sqlite3_column_double(st, c + 4), sqlite3_column_int(st, c + 5),
               (long long)sqlite3_column_int64(st, c + 6), (long long)sqlite3_column_int64(st, c + 7));
    json_col_raw(b, st, c + 8, "[]");
    buf_printf(b, ",\"n\":%lld,\"state\":%d,\"run\":%lld", (long long)sqlite3_column_int64(st, c + 9),
               sqlite3_column_int(st, c + 10), (long long)sqlite3_column_int64(st, c + 11));
    /* a fleet incident's hosts and account (none for a single host's) */
    if (sqlite3_column_type(st, c + 12) != SQLITE_NULL) {
        buf_puts(b, ",\"hosts\":");
        json_col_raw(b, st, c + 12, "[]");
        buf_puts(b, ",\"account\":");
        json_col_text(b, st, c + 13);
    }
    buf_putc(b, '}');
}

void store_proc_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "{\"id\":%lld,\"parent\":", (long long)sqlite3_column_int64(st, c));
    json_col_int(b, st, c + 1);
    buf_puts(b, ",\"image\":");
    json_col_text(b, st, c + 2);
    buf_puts(b, ",\"cmd\":");
    json_col_text(b, st, c + 3);
    buf_puts(b, ",\"user\":");
    json_col_text(b, st, c + 4);
    buf_puts(b, ",\"pid\":");
    json_col_int(b, st, c + 5);
    buf_puts(b, ",\"start\":");
    json_col_int(b, st, c + 6);
    buf_puts(b, ",\"guid\":");
    json_col_text(b, st, c + 7);
    buf_putc(b, '}');
}

void store_run_item(struct buf *b, sqlite3_stmt *st, int c)
{
    static const struct {
        const char *key;
        bool text;
    } cols[] = {{"producer", true}, {"args", true},   {"started", false}, {"ended", false},
                {"alerts", false},  {"status", true}, {"pid", false},     {"host", true}};
    buf_printf(b, "{\"id\":%lld", (long long)sqlite3_column_int64(st, c));
    for (int i = 0; i < 8; i++) {
        buf_printf(b, ",\"%s\":", cols[i].key);
        (cols[i].text ? json_col_text : json_col_int)(b, st, c + 1 + i);
    }
    buf_putc(b, '}');
}

void store_triage_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "{\"state\":%d,\"note\":", sqlite3_column_int(st, c));
    json_col_text(b, st, c + 1);
    buf_puts(b, ",\"who\":");
    json_col_text(b, st, c + 2);
    buf_printf(b, ",\"at\":%lld}", (long long)sqlite3_column_int64(st, c + 3));
}

void store_corr_head(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_puts(b, "{\"type\":");
    json_col_text(b, st, c);
    buf_printf(b, ",\"value\":%.15g,\"first\":", sqlite3_column_double(st, c + 1));
    json_col_int(b, st, c + 2);
    buf_puts(b, ",\"last\":");
    json_col_int(b, st, c + 3);
    buf_puts(b, ",\"group\":");
    json_col_raw(b, st, c + 4, "{}");
    /* the matches it counted that were not reported (rule, time, a glance) */
    buf_puts(b, ",\"evidence\":");
    json_col_raw(b, st, c + 5, "[]");
}

/* ------------------------------------------------------------ plumbing */

int store_rows(sqlite3_stmt *st, struct buf *b, void (*emit)(struct buf *, sqlite3_stmt *, int))
{
    int rc;
    bool first = true;
    buf_putc(b, '[');
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first)
            buf_putc(b, ',');
        first = false;
        emit(b, st, 0);
    }
    buf_putc(b, ']');
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

stoat_err store_hand_over(struct buf *b, char **json, size_t *len)
{
    if (!b->p)
        buf_puts(b, "");
    *json = b->p;
    if (len)
        *len = b->len;
    b->p = NULL;
    b->len = b->cap = 0;
    return STOAT_OK;
}

stoat_err store_read_fail(struct stoat_store *s, sqlite3_stmt *st, int rc, struct buf *b)
{
    stoat_err e = store_fail(s, rc, "reading");
    sqlite3_finalize(st);
    buf_free(b);
    return e;
}
