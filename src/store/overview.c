/* The dashboard's overview documents: totals, hosts, rules, the timeline,
 * the ATT&CK matrix, the newest runs and their states, and a stamp that
 * changes with the store.
 *
 * Each of them reads the roll-ups the writer keeps (count_hour,
 * count_host, count_rule: writer.c), never the alert table, so they cost
 * the same for a thousand alerts and for ten million. */
#include <stdio.h>

#include "store/db.h"
#include "store/queue.h"
#include "store/rows.h"

static stoat_err simple_doc(struct stoat_store *s, const char *head, const char *sql,
                            void (*emit)(struct buf *, sqlite3_stmt *, int), struct buf *b)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return STOAT_ERR_IO;
    buf_puts(b, head);
    int rc = store_rows(st, b, emit);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "reading");
    return STOAT_OK;
}

static void host_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_puts(b, "{\"host\":");
    json_col_text(b, st, c);
    buf_printf(b, ",\"n\":%lld,\"max\":%d,\"levels\":[", (long long)sqlite3_column_int64(st, c + 1),
               sqlite3_column_int(st, c + 2));
    for (int i = 0; i < STOAT_LEVEL_COUNT; i++)
        buf_printf(b, "%s%lld", i ? "," : "", (long long)sqlite3_column_int64(st, c + 3 + i));
    buf_printf(b, "],\"first\":%lld,\"last\":%lld,\"incidents\":%lld,\"open\":%lld}",
               (long long)sqlite3_column_int64(st, c + 9), (long long)sqlite3_column_int64(st, c + 10),
               (long long)sqlite3_column_int64(st, c + 11), (long long)sqlite3_column_int64(st, c + 12));
}

#define HOSTS_SQL                                                                                          \
    "SELECT h.name, c.n, c.mx, c.l0, c.l1, c.l2, c.l3, c.l4, c.l5, c.t0, c.t1,"                            \
    " (SELECT count(*) FROM incidents i WHERE i.host_id = h.id),"                                          \
    " (SELECT count(*) FROM incidents i WHERE i.host_id = h.id AND i.state = 0)"                           \
    " FROM (SELECT host_id, sum(n) n, max(level) mx, sum(n * (level = 0)) l0, sum(n * (level = 1)) l1,"    \
    " sum(n * (level = 2)) l2, sum(n * (level = 3)) l3, sum(n * (level = 4)) l4, sum(n * (level = 5)) l5," \
    " min(nullif(first_ns, 0)) t0, max(last_ns) t1 FROM count_host GROUP BY host_id) c"                    \
    " JOIN hosts h ON h.id = c.host_id ORDER BY c.mx DESC, c.n DESC"

static void rule_count_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "{\"n\":%lld,\"hosts\":%lld,\"rule\":", (long long)sqlite3_column_int64(st, c),
               (long long)sqlite3_column_int64(st, c + 1));
    store_rule_item(b, st, c + 2);
    buf_putc(b, '}');
}

#define RULES_SQL                                                                       \
    "SELECT c.n, c.hosts, " RULE_COLS " FROM (SELECT rule_id, sum(n) n, count(*) hosts" \
    " FROM count_rule GROUP BY rule_id) c JOIN rules r ON r.id = c.rule_id ORDER BY c.n DESC"

static void hour_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "[%lld,%d,%lld]", (long long)sqlite3_column_int64(st, c), sqlite3_column_int(st, c + 1),
               (long long)sqlite3_column_int64(st, c + 2));
}

static void attack_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_puts(b, "[");
    json_col_text(b, st, c);
    buf_putc(b, ',');
    json_col_text(b, st, c + 1);
    buf_printf(b, ",%lld,%d]", (long long)sqlite3_column_int64(st, c + 2), sqlite3_column_int(st, c + 3));
}

static void technique_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_puts(b, "[");
    json_col_text(b, st, c);
    buf_printf(b, ",%lld,%d,", (long long)sqlite3_column_int64(st, c + 1), sqlite3_column_int(st, c + 2));
    json_col_text(b, st, c + 3);
    buf_putc(b, ']');
}

stoat_err stoat_store_overview_json(struct stoat_store *s, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    stoat_err e;
    buf_putc(&b, '{');
    if ((e = simple_doc(s, "\"hosts\":", HOSTS_SQL, host_item, &b)) != STOAT_OK)
        goto out;
    if ((e = simple_doc(s, ",\"rules\":", RULES_SQL " LIMIT 50", rule_count_item, &b)) != STOAT_OK)
        goto out;
    /* [hour, level, n] for the chart; the browser bins the hours */
    if ((e = simple_doc(
             s, ",\"hours\":", "SELECT hour, level, n FROM count_hour WHERE hour > 0 ORDER BY hour LIMIT 200000",
             hour_item, &b)) != STOAT_OK)
        goto out;
    /* [tactic, technique, alerts, max level] for the ATT&CK matrix */
    if ((e = simple_doc(s, ",\"attack\":",
                        "SELECT t.tactic, q.technique, sum(c.n), max(r.level)"
                        " FROM (SELECT rule_id, sum(n) n FROM count_rule GROUP BY rule_id) c"
                        " JOIN rules r ON r.id = c.rule_id JOIN rule_tactics t ON t.rule_id = c.rule_id"
                        " LEFT JOIN rule_techniques q ON q.rule_id = c.rule_id GROUP BY 1, 2",
                        attack_item, &b)) != STOAT_OK)
        goto out;
    /* [technique, alerts, max level, "tactics,of,its,rules"]: the page
     * places a technique under its own tactics (data/attack-techniques.tsv)
     * and counts each alert once, whatever its rule's other tags; its
     * rules' tactics are only for a technique the table does not know */
    if ((e = simple_doc(s, ",\"techniques\":",
                        "SELECT q.technique, sum(c.n), max(r.level), (SELECT group_concat(DISTINCT t.tactic)"
                        " FROM rule_tactics t JOIN rule_techniques q2 ON q2.rule_id = t.rule_id"
                        " WHERE q2.technique = q.technique)"
                        " FROM (SELECT rule_id, sum(n) n FROM count_rule GROUP BY rule_id) c"
                        " JOIN rules r ON r.id = c.rule_id JOIN rule_techniques q ON q.rule_id = c.rule_id"
                        " GROUP BY q.technique",
                        technique_item, &b)) != STOAT_OK)
        goto out;
    if ((e = simple_doc(s, ",\"incidents\":",
                        "SELECT " INCIDENT_COLS " FROM incidents i JOIN hosts h ON h.id = i.host_id"
                        " ORDER BY i.state = 0 DESC, i.level DESC, i.score DESC, i.last_ns DESC LIMIT 20",
                        store_incident_item, &b)) != STOAT_OK)
        goto out;
    /* the newest runs, a killed writer's among them (runs.c) */
    if ((e = simple_doc(s, ",\"recent_runs\":", "SELECT " RUN_COLS " FROM runs ORDER BY id DESC LIMIT 10",
                        store_run_item, &b)) != STOAT_OK)
        goto out;
    int64_t v = 0;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT (SELECT coalesce(sum(n), 0) FROM count_hour),"
                         " (SELECT count(*) FROM incidents), (SELECT count(*) FROM incidents WHERE state = 0),"
                         " (SELECT count(*) FROM runs), (SELECT max(started_ns) FROM runs),"
                         " (SELECT count(*) FROM runs WHERE status = 'running'),"
                         " (SELECT count(*) FROM runs WHERE status = 'done'),"
                         " (SELECT count(*) FROM runs WHERE status = 'aborted')");
    if (!st) {
        e = STOAT_ERR_IO;
        goto out;
    }
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        e = store_fail(s, rc, "reading");
        sqlite3_finalize(st);
        goto out;
    }
    v = sqlite3_column_int64(st, 0);
    buf_printf(&b,
               ",\"total\":%lld,\"nincidents\":%lld,\"open\":%lld,\"runs\":%lld,\"last_run\":%lld,"
               "\"run_states\":{\"running\":%lld,\"done\":%lld,\"aborted\":%lld}}",
               (long long)v, (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2),
               (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4),
               (long long)sqlite3_column_int64(st, 5), (long long)sqlite3_column_int64(st, 6),
               (long long)sqlite3_column_int64(st, 7));
    sqlite3_finalize(st);
out:
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    return store_hand_over(&b, json, len);
}

/* {"<name>": [the rows of sql, each written by emit]} */
static stoat_err list_doc(struct stoat_store *s, const char *head, const char *sql,
                          void (*emit)(struct buf *, sqlite3_stmt *, int), char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    stoat_err e = simple_doc(s, head, sql, emit, &b);
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    buf_putc(&b, '}');
    return store_hand_over(&b, json, len);
}

stoat_err stoat_store_hosts_json(struct stoat_store *s, char **json, size_t *len)
{
    return list_doc(s, "{\"hosts\":", HOSTS_SQL, host_item, json, len);
}

stoat_err stoat_store_rules_json(struct stoat_store *s, char **json, size_t *len)
{
    return list_doc(s, "{\"rules\":", RULES_SQL, rule_count_item, json, len);
}

stoat_err stoat_store_version_json(struct stoat_store *s, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    sqlite3_stmt *st = store_prepare(s, "SELECT (SELECT coalesce(max(id), 0) FROM alerts),"
                                        " (SELECT coalesce(max(id), 0) FROM incidents),"
                                        " (SELECT coalesce(max(id), 0) FROM triage),"
                                        " (SELECT coalesce(max(id), 0) FROM runs)");
    if (!st)
        return STOAT_ERR_IO;
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW)
        return store_read_fail(s, st, rc, &b);
    buf_printf(&b, "{\"alerts\":%lld,\"incidents\":%lld,\"triage\":%lld,\"runs\":%lld}",
               (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
               (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3));
    sqlite3_finalize(st);
    return store_hand_over(&b, json, len);
}
