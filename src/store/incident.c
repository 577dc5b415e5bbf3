/* A big incident, readable: its alerts a page at a time and grouped.
 *
 * Why it works this way:
 * - An incident can join 10,000 alerts or more; a document holding them all
 *   (and the ancestry of each) makes a page no analyst can read and a
 *   browser struggles to draw. So an incident's document carries one page
 *   of its alerts in event time, the process trees of that page only, and
 *   the groups: its alerts counted by rule and by the top of their process
 *   tree (the oldest ancestor the store knows), each with its span and one
 *   alert to open. The rest comes a page at a time (offset, limit).
 * - A page is an offset into (time, id) order: an incident's alerts are a
 *   fixed set once stored, so offsets stay valid, and it is at most
 *   STOAT_INCIDENT_PAGE_MAX rows a request.
 * - The top of a tree is found by walking parents, depth-capped as
 *   everywhere (a doctored file with a parent cycle ends after 64 steps).
 * - A fleet incident's story is told host by host: its alerts counted per
 *   host (by_host), and a page may be of one host's alerts, with that
 *   host's process trees (the page's SQL takes the host; 0 is every host). */
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/incident.h"
#include "store/queue.h"
#include "store/rows.h"

/* the page's alerts in event time (of host ?4, 0: all) */
#define PAGE_SQL                                                                            \
    "SELECT a.id, a.process_id FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id" \
    " WHERE ia.incident_id = ?1 AND (?4 = 0 OR a.host_id = ?4)"                             \
    " ORDER BY a.time_ns, a.id LIMIT ?2 OFFSET ?3"

static int run_rows_of(struct stoat_store *s, struct buf *b, const char *sql, int64_t id, int64_t host, unsigned limit,
                       unsigned offset, void (*emit)(struct buf *, sqlite3_stmt *, int))
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    if (limit) {
        sqlite3_bind_int(st, 2, (int)limit);
        sqlite3_bind_int(st, 3, (int)offset);
        sqlite3_bind_int64(st, 4, host);
    }
    int rc = store_rows(st, b, emit);
    sqlite3_finalize(st);
    return rc;
}

static int run_rows(struct stoat_store *s, struct buf *b, const char *sql, int64_t id, unsigned limit, unsigned offset,
                    void (*emit)(struct buf *, sqlite3_stmt *, int))
{
    return run_rows_of(s, b, sql, id, 0, limit, offset, emit);
}

static int64_t incident_alert_count(struct stoat_store *s, int64_t id, int64_t host, int *rc)
{
    sqlite3_stmt *st = store_prepare(s, host ? "SELECT count(*) FROM incident_alerts ia JOIN alerts a"
                                               " ON a.id = ia.alert_id WHERE ia.incident_id = ?1 AND a.host_id = ?2"
                                             : "SELECT count(*) FROM incident_alerts WHERE incident_id = ?1");
    if (!st) {
        *rc = SQLITE_ERROR;
        return 0;
    }
    sqlite3_bind_int64(st, 1, id);
    if (host)
        sqlite3_bind_int64(st, 2, host);
    int64_t n = 0;
    if ((*rc = sqlite3_step(st)) == SQLITE_ROW) {
        n = sqlite3_column_int64(st, 0);
        *rc = SQLITE_OK;
    }
    sqlite3_finalize(st);
    return n;
}

int store_incident_page(struct stoat_store *s, struct buf *b, int64_t id, int64_t host, unsigned offset, unsigned limit)
{
    if (limit == 0 || limit > STOAT_INCIDENT_PAGE_MAX)
        limit = STOAT_INCIDENT_PAGE;
    int rc;
    int64_t total = incident_alert_count(s, id, host, &rc);
    if (rc != SQLITE_OK)
        return rc;
    buf_puts(b, "\"alerts\":");
    rc = run_rows_of(s, b,
                     "SELECT " ALERT_COLS " FROM (" PAGE_SQL ") pg JOIN alerts a ON a.id = pg.id" ALERT_JOINS
                     " ORDER BY a.time_ns, a.id",
                     id, host, limit, offset, store_alert_item);
    if (rc != SQLITE_OK)
        return rc;
    /* the union of the ancestries of this page's alerts: one tree (or a few) */
    buf_puts(b, ",\"tree\":");
    rc = run_rows_of(s, b,
                     "WITH RECURSIVE pg AS (" PAGE_SQL "), up(id, depth) AS ("
                     " SELECT DISTINCT process_id, 0 FROM pg WHERE process_id NOT NULL"
                     " UNION SELECT p.parent_id, up.depth + 1 FROM processes p JOIN up ON p.id = up.id"
                     " WHERE p.parent_id NOT NULL AND up.depth < 63)"
                     " SELECT " PROC_COLS " FROM processes p WHERE p.id IN (SELECT id FROM up)"
                     " ORDER BY p.start_ns, p.id LIMIT 5000",
                     id, host, limit, offset, store_proc_item);
    if (rc != SQLITE_OK)
        return rc;
    buf_printf(b, ",\"offset\":%u,\"limit\":%u,\"total\":%lld,\"next\":", offset, limit, (long long)total);
    if ((int64_t)offset + limit < total)
        buf_printf(b, "%llu", (unsigned long long)offset + limit);
    else
        buf_puts(b, "null");
    return SQLITE_OK;
}

/* {rule, uid, title, level, root: {id, image, pid, seen} or null, n, first, last, alert} */
static void group_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_puts(b, "{\"rule\":");
    json_col_int(b, st, c);
    buf_puts(b, ",\"uid\":");
    json_col_text(b, st, c + 1);
    buf_puts(b, ",\"title\":");
    json_col_text(b, st, c + 2);
    buf_printf(b, ",\"level\":%d,\"root\":", sqlite3_column_int(st, c + 3));
    if (sqlite3_column_type(st, c + 4) == SQLITE_NULL) {
        buf_puts(b, "null");
    } else {
        buf_puts(b, "{\"id\":");
        json_col_int(b, st, c + 4);
        buf_puts(b, ",\"image\":");
        json_col_text(b, st, c + 5);
        buf_puts(b, ",\"pid\":");
        json_col_int(b, st, c + 6);
        buf_printf(b, ",\"seen\":%s}", sqlite3_column_type(st, c + 7) == SQLITE_NULL ? "false" : "true");
    }
    buf_printf(b, ",\"n\":%lld,\"first\":%lld,\"last\":%lld,\"alert\":%lld}",
               (long long)sqlite3_column_int64(st, c + 8), (long long)sqlite3_column_int64(st, c + 9),
               (long long)sqlite3_column_int64(st, c + 10), (long long)sqlite3_column_int64(st, c + 11));
}

/* g: the incident's alerts counted by rule and top of their tree. top: per
 * process of the incident, its oldest known ancestor (SQLite takes the bare
 * column from the row of max(depth)). */
#define GROUPS_CTE                                                                               \
    "WITH RECURSIVE ap(pid) AS (SELECT DISTINCT a.process_id FROM incident_alerts ia"            \
    " JOIN alerts a ON a.id = ia.alert_id WHERE ia.incident_id = ?1 AND a.process_id NOT NULL)," \
    " up(start, id, depth) AS (SELECT pid, pid, 0 FROM ap UNION ALL"                             \
    " SELECT up.start, p.parent_id, up.depth + 1 FROM up JOIN processes p ON p.id = up.id"       \
    " WHERE p.parent_id NOT NULL AND up.depth < 63),"                                            \
    " top(start, id, d) AS (SELECT start, id, max(depth) FROM up GROUP BY start),"               \
    " g AS (SELECT a.rule_id, t.id root, count(*) n, min(a.time_ns) first, max(a.time_ns) last," \
    " min(a.id) alert FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id"               \
    " LEFT JOIN top t ON t.start = a.process_id WHERE ia.incident_id = ?1 GROUP BY 1, 2)"

/* {rule, uid, title, level, n, first, last, alert, trees} */
static void by_rule_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_puts(b, "{\"rule\":");
    json_col_int(b, st, c);
    buf_puts(b, ",\"uid\":");
    json_col_text(b, st, c + 1);
    buf_puts(b, ",\"title\":");
    json_col_text(b, st, c + 2);
    buf_printf(b, ",\"level\":%d,\"n\":%lld,\"first\":%lld,\"last\":%lld,\"alert\":%lld,\"trees\":%lld}",
               sqlite3_column_int(st, c + 3), (long long)sqlite3_column_int64(st, c + 4),
               (long long)sqlite3_column_int64(st, c + 5), (long long)sqlite3_column_int64(st, c + 6),
               (long long)sqlite3_column_int64(st, c + 7), (long long)sqlite3_column_int64(st, c + 8));
}

/* {host, n, first, last}: one host's share of a fleet incident */
static void by_host_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_puts(b, "{\"host\":");
    json_col_text(b, st, c);
    buf_printf(b, ",\"n\":%lld,\"first\":%lld,\"last\":%lld}", (long long)sqlite3_column_int64(st, c + 1),
               (long long)sqlite3_column_int64(st, c + 2), (long long)sqlite3_column_int64(st, c + 3));
}

int store_incident_by_host(struct stoat_store *s, struct buf *b, int64_t id)
{
    buf_puts(b, "\"by_host\":");
    return run_rows(s, b,
                    "SELECT h.name, count(*), min(a.time_ns), max(a.time_ns) FROM incident_alerts ia"
                    " JOIN alerts a ON a.id = ia.alert_id JOIN hosts h ON h.id = a.host_id"
                    " WHERE ia.incident_id = ?1 GROUP BY a.host_id ORDER BY min(a.time_ns), h.name LIMIT 1000",
                    id, 0, 0, by_host_item);
}

int store_incident_groups(struct stoat_store *s, struct buf *b, int64_t id)
{
    /* every rule (an incident's rules are few), then its largest trees */
    buf_puts(b, "\"by_rule\":");
    int rc = run_rows(s, b,
                      GROUPS_CTE " SELECT r.id, r.uid, r.title, r.level, sum(g.n), min(g.first), max(g.last),"
                                 " min(g.alert), count(g.root) FROM g JOIN rules r ON r.id = g.rule_id"
                                 " GROUP BY r.id ORDER BY sum(g.n) DESC, min(g.first) LIMIT 1000",
                      id, 0, 0, by_rule_item);
    if (rc != SQLITE_OK)
        return rc;
    buf_puts(b, ",\"groups\":");
    return run_rows(s, b,
                    GROUPS_CTE " SELECT r.id, r.uid, r.title, r.level, g.root, p.image, p.pid, p.start_ns, g.n,"
                               " g.first, g.last, g.alert FROM g JOIN rules r ON r.id = g.rule_id"
                               " LEFT JOIN processes p ON p.id = g.root"
                               " ORDER BY g.n DESC, g.first LIMIT " STOAT_INCIDENT_GROUPS_MAX_S,
                    id, 0, 0, group_item);
}

stoat_err stoat_store_incident_alerts_json(struct stoat_store *s, uint64_t id, const char *host, unsigned offset,
                                           unsigned limit, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    if (id > INT64_MAX)
        return STOAT_ERR_NOTFOUND;
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM incidents WHERE id = ?1");
    if (!st)
        return STOAT_ERR_IO;
    sqlite3_bind_int64(st, 1, (int64_t)id);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc == SQLITE_DONE) {
        snprintf(s->errmsg, sizeof(s->errmsg), "no incident %llu", (unsigned long long)id);
        return STOAT_ERR_NOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return store_read_fail(s, NULL, rc, &b);
    int64_t hid = 0;
    if (host) { /* a host the store does not know has no alerts here: an empty page */
        st = store_prepare(s, "SELECT id FROM hosts WHERE name = ?1");
        if (!st)
            return STOAT_ERR_IO;
        sqlite3_bind_text(st, 1, host, -1, SQLITE_TRANSIENT);
        rc = sqlite3_step(st);
        hid = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
        sqlite3_finalize(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            return store_read_fail(s, NULL, rc, &b);
    }
    buf_putc(&b, '{');
    if (host) {
        buf_puts(&b, "\"host\":");
        buf_json_str(&b, host, strlen(host));
        buf_putc(&b, ',');
    }
    if ((rc = store_incident_page(s, &b, (int64_t)id, hid, offset, limit)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_putc(&b, '}');
    return store_hand_over(&b, json, len);
}
