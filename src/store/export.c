/* The report's parts: a whole store (or its newest alerts) as the JSON
 * values `stoat report` puts in its page.
 *
 * Why it works this way:
 * - A report of 100,000 alerts must parse and render in a browser in well
 *   under two seconds, so its parts are compact: alerts and processes as
 *   arrays, not objects, with hosts, rules, events and processes given once
 *   and referred to by id. The browser code (web/app.js, "report" mode)
 *   turns them into the shapes of the dashboard's API; what both carry
 *   whole (a rule, an incident, a triage entry, a correlation's head) is
 *   written by the same functions (rows.c).
 * - The report reads through this public call, never the store's tables,
 *   so the schema stays the store's own business.
 * - With max_alerts the parts keep the newest alerts and every alert of an
 *   incident, and what those alerts cite (events, processes,
 *   correlations); events are read in order, so each pack is unpacked
 *   once.
 * - A part is handed to the caller in pieces as it is written, not as one
 *   string: a report's events run to a hundred megabytes, which would
 *   otherwise be held, and copied, twice. */
#include <stdio.h>

#include "store/db.h"
#include "store/packs.h"
#include "store/queue.h"
#include "store/rows.h"

/* ------------------------------------------------------------ rows */

/* "id": name */
static void emit_host(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "\"%lld\":", (long long)sqlite3_column_int64(st, c));
    json_col_text(b, st, c + 1);
}

/* [id, ns, ts, host, level, rule, image, cmd, user, state, logon, run, proc, ev] */
static void emit_alert(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "[%lld,%lld,", (long long)sqlite3_column_int64(st, c), (long long)sqlite3_column_int64(st, c + 1));
    json_col_text(b, st, c + 2);
    buf_printf(b, ",%lld,%d,%lld,", (long long)sqlite3_column_int64(st, c + 3), sqlite3_column_int(st, c + 4),
               (long long)sqlite3_column_int64(st, c + 5));
    json_col_text(b, st, c + 6);
    buf_putc(b, ',');
    json_col_text(b, st, c + 7);
    buf_putc(b, ',');
    json_col_text(b, st, c + 8);
    buf_printf(b, ",%d,", sqlite3_column_int(st, c + 9));
    json_col_text(b, st, c + 10);
    buf_printf(b, ",%lld,", (long long)sqlite3_column_int64(st, c + 11));
    json_col_int(b, st, c + 12);
    buf_putc(b, ',');
    json_col_int(b, st, c + 13);
    buf_putc(b, ']');
}

/* "id": [parent, image, cmd, user, pid, start, guid] */
static void emit_proc(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "\"%lld\":[", (long long)sqlite3_column_int64(st, c));
    json_col_int(b, st, c + 1);
    for (int k = 2; k <= 4; k++) {
        buf_putc(b, ',');
        json_col_text(b, st, c + k);
    }
    buf_putc(b, ',');
    json_col_int(b, st, c + 5);
    buf_putc(b, ',');
    json_col_int(b, st, c + 6);
    buf_putc(b, ',');
    json_col_text(b, st, c + 7);
    buf_putc(b, ']');
}

/* "alert id": {type, value, first, last, group, evidence, alerts: [ids]} */
static void emit_corr(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "\"%lld\":", (long long)sqlite3_column_int64(st, c));
    store_corr_head(b, st, c + 1);
    buf_puts(b, ",\"alerts\":[");
    /* group_concat of integers: digits and commas only */
    if (sqlite3_column_type(st, c + 7) != SQLITE_NULL)
        buf_put(b, sqlite3_column_text(st, c + 7), (size_t)sqlite3_column_bytes(st, c + 7));
    buf_puts(b, "]}");
}

/* an incident with "alerts": [ids] (and a fleet incident's "edges") */
static void emit_incident(struct buf *b, sqlite3_stmt *st, int c)
{
    store_incident_item(b, st, c);
    b->len--; /* reopen the object for its alert ids */
    buf_puts(b, ",\"alerts\":[");
    int ids = c + INCIDENT_NCOLS;
    if (sqlite3_column_type(st, ids) != SQLITE_NULL)
        buf_put(b, sqlite3_column_text(st, ids), (size_t)sqlite3_column_bytes(st, ids));
    buf_putc(b, ']');
    if (sqlite3_column_type(st, ids + 1) != SQLITE_NULL) {
        buf_puts(b, ",\"edges\":");
        json_col_raw(b, st, ids + 1, "[]");
    }
    buf_putc(b, '}');
}

/* ------------------------------------------------------------ parts */

/* The text of a part on its way to the caller: rows are written into b and
 * handed over in pieces of about EXPORT_PIECE bytes, so a part of a
 * hundred megabytes is never held twice. */
#define EXPORT_PIECE (64u * 1024)
struct out {
    struct buf b;
    stoat_text_fn write;
    void *ctx;
};

static void out_flush(struct out *o, bool all)
{
    if (o->b.len && (all || o->b.len >= EXPORT_PIECE)) {
        o->write(o->ctx, o->b.p, o->b.len);
        buf_clear(&o->b);
    }
}

/* Runs sql and lets emit write each row; between rows writes sep. */
static stoat_err export_rows(struct stoat_store *s, const char *sql, struct out *o, const char *sep,
                             void (*emit)(struct buf *, sqlite3_stmt *, int), uint64_t *count)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return STOAT_ERR_IO;
    int rc;
    uint64_t n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            buf_puts(&o->b, sep);
        emit(&o->b, st, 0);
        out_flush(o, false);
    }
    stoat_err e = rc == SQLITE_DONE ? STOAT_OK : store_fail(s, rc, "reading for the report");
    sqlite3_finalize(st);
    *count = n;
    return e;
}

/* "id": {file, format, record, line, offset, channel, event_id, fields},
 * as the store keeps them */
static stoat_err export_events(struct stoat_store *s, const char *sel, struct out *o, uint64_t *count)
{
    struct buf q = {0};
    buf_printf(&q, "SELECT DISTINCT a.event_id FROM alerts a WHERE (%s) AND a.event_id NOT NULL ORDER BY 1", sel);
    sqlite3_stmt *st = store_prepare(s, q.p);
    buf_free(&q);
    if (!st)
        return STOAT_ERR_IO;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (*count)
            buf_puts(&o->b, ",\n");
        buf_printf(&o->b, "\"%lld\":", (long long)id);
        int erc = store_event_json(s, id, &o->b);
        if (erc != SQLITE_OK) {
            rc = erc;
            break;
        }
        (*count)++;
        out_flush(o, false);
    }
    stoat_err e = rc == SQLITE_DONE ? STOAT_OK : store_fail(s, rc, "reading for the report");
    sqlite3_finalize(st);
    return e;
}

/* "a:12" or "i:3": [{state, note, who, at}, ...] newest first */
static stoat_err export_triage(struct stoat_store *s, struct out *o)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT kind, target_id, " TRIAGE_COLS " FROM triage"
                                        " ORDER BY kind, target_id, id DESC");
    if (!st)
        return STOAT_ERR_IO;
    struct buf *b = &o->b;
    int rc, kind = -1;
    int64_t target = 0;
    bool open = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int k = sqlite3_column_int(st, 0);
        int64_t t = sqlite3_column_int64(st, 1);
        if (!open || k != kind || t != target) {
            if (open)
                buf_puts(b, "],");
            buf_printf(b, "\"%c:%lld\":[", k == STOAT_TARGET_INCIDENT ? 'i' : 'a', (long long)t);
            kind = k, target = t, open = true;
        } else {
            buf_putc(b, ',');
        }
        store_triage_item(b, st, 2);
        out_flush(o, false);
    }
    if (open)
        buf_putc(b, ']');
    stoat_err e = rc == SQLITE_DONE ? STOAT_OK : store_fail(s, rc, "reading for the report");
    sqlite3_finalize(st);
    return e;
}

struct part {
    const char *open, *close, *sep;
    const char *sql; /* with %s for the alerts' selection when selected */
    bool selected;
    void (*emit)(struct buf *, sqlite3_stmt *, int);
};

static const struct part parts[STOAT_EXPORT_COUNT] = {
    [STOAT_EXPORT_RUNS] = {"[", "]", ",", "SELECT " RUN_COLS " FROM runs ORDER BY id", false, store_run_item},
    [STOAT_EXPORT_RULES] = {"[", "]", ",", "SELECT " RULE_COLS " FROM rules r ORDER BY r.id", false, store_rule_item},
    [STOAT_EXPORT_HOSTS] = {"{", "}", ",", "SELECT id, name FROM hosts ORDER BY id", false, emit_host},
    /* image, command line and user are left out (null) when the alert's
     * process row says the same: the page takes them from there */
    [STOAT_EXPORT_ALERTS] = {"[", "]", ",\n",
                             "SELECT a.id, a.time_ns, a.timestamp, a.host_id, a.level, a.rule_id,"
                             " CASE WHEN a.image IS p.image THEN NULL ELSE a.image END,"
                             " CASE WHEN a.command_line IS p.command_line THEN NULL ELSE a.command_line END,"
                             " CASE WHEN a.user IS p.user THEN NULL ELSE a.user END,"
                             " a.state, a.logon_id, a.run_id, a.process_id, a.event_id FROM alerts a"
                             " LEFT JOIN processes p ON p.id = a.process_id WHERE %s ORDER BY a.id",
                             true, emit_alert},
    [STOAT_EXPORT_EVENTS] = {"{", "}", ",\n", NULL, true, NULL},
    [STOAT_EXPORT_PROCESSES] =
        {"{", "}", ",\n",
         "WITH RECURSIVE up(id, depth) AS (SELECT DISTINCT a.process_id, 0 FROM alerts a"
         " WHERE (%s) AND a.process_id NOT NULL UNION SELECT p.parent_id, up.depth + 1"
         " FROM processes p JOIN up ON p.id = up.id WHERE p.parent_id NOT NULL AND up.depth < 63)"
         " SELECT id, parent_id, image, command_line, user, pid, start_ns, guid FROM processes"
         " WHERE id IN (SELECT id FROM up) ORDER BY id",
         true, emit_proc},
    [STOAT_EXPORT_CORRELATIONS] =
        {"{", "}", ",\n",
         "SELECT c.alert_id, " CORR_COLS ","
         " (SELECT group_concat(alert_id) FROM (SELECT ca.alert_id FROM correlation_alerts ca"
         "  WHERE ca.corr_id = c.alert_id ORDER BY ca.alert_id LIMIT 1000))"
         " FROM correlations c JOIN alerts a ON a.id = c.alert_id WHERE %s ORDER BY c.alert_id",
         true, emit_corr},
    [STOAT_EXPORT_INCIDENTS] = {"[", "]", ",\n",
                                "SELECT " INCIDENT_COLS ", (SELECT group_concat(alert_id) FROM incident_alerts ia"
                                " WHERE ia.incident_id = i.id), i.edges"
                                " FROM incidents i JOIN hosts h ON h.id = i.host_id ORDER BY i.id",
                                false, emit_incident},
    [STOAT_EXPORT_TRIAGE] = {"{", "}", ",", NULL, false, NULL},
};

stoat_err stoat_store_export(struct stoat_store *s, enum stoat_export_part part, uint64_t max_alerts,
                             stoat_text_fn write, void *ctx, uint64_t *count)
{
    uint64_t n = 0;
    if (count)
        *count = 0;
    if (!s || !write || (unsigned)part >= STOAT_EXPORT_COUNT)
        return STOAT_ERR_ARG;
    stoat_err e = store_quiesce(s); /* a writer's own queue first */
    if (e != STOAT_OK)
        return e;
    const struct part *p = &parts[part];
    struct buf sel = {0}, sql = {0};
    struct out o = {.write = write, .ctx = ctx};
    /* which alerts: all, or the newest N plus those of incidents */
    if (max_alerts)
        buf_printf(&sel,
                   "a.id > coalesce((SELECT id FROM alerts ORDER BY id DESC LIMIT 1 OFFSET %llu), 0)"
                   " OR a.id IN (SELECT alert_id FROM incident_alerts)",
                   (unsigned long long)max_alerts);
    else
        buf_puts(&sel, "1");
    buf_puts(&o.b, p->open);
    if (part == STOAT_EXPORT_EVENTS) {
        e = export_events(s, sel.p, &o, &n);
    } else if (part == STOAT_EXPORT_TRIAGE) {
        e = export_triage(s, &o);
    } else {
        if (p->selected)
            buf_printf(&sql, p->sql, sel.p);
        else
            buf_puts(&sql, p->sql);
        e = export_rows(s, sql.p, &o, p->sep, p->emit, &n);
    }
    if (e == STOAT_OK) {
        buf_puts(&o.b, p->close);
        out_flush(&o, true);
        if (count)
            *count = n;
    }
    buf_free(&o.b);
    buf_free(&sel);
    buf_free(&sql);
    return e;
}
