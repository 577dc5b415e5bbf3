/* Retention: the store's growth bounded by age and by count.
 *
 * Why it works this way:
 * - Alerts are stored in order, so what retention deletes is a prefix of
 *   alert ids, and everything hanging off alerts is found by id ranges,
 *   not by scans: the search index's runs by row id (a run straddling the
 *   cut stays: the search checks each alert), event packs by number (events
 *   are numbered in the order of their alerts), correlations, incident
 *   links and triage by alert id. By age, the cut is the last alert of the
 *   newest commit older than the limit (`commits` notes each).
 * - The roll-ups lose what the deleted alerts added, in the same
 *   transaction, so the overview never counts what is gone.
 * - Processes go when no remaining alert reaches them through its
 *   ancestry; the writer's cache of stored processes is forgotten. */
#include <stdio.h>

#include "store/db.h"
#include "store/queue.h"
#include "store/writer.h"

stoat_err stoat_store_prune(struct stoat_store *s, uint64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    if (!s->retain_days && !s->retain_alerts)
        return STOAT_OK;
    stoat_err e = store_flush(s);
    if (e != STOAT_OK)
        return e;
    /* the highest alert id to delete */
    int64_t upto = 0, v = 0;
    int rc = SQLITE_OK;
    if (s->retain_alerts > 0) {
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT id FROM alerts ORDER BY id DESC LIMIT 1 OFFSET %lld",
                 (long long)s->retain_alerts);
        if ((rc = store_pragma_int(s, sql, &v)) != SQLITE_OK)
            return store_fail(s, rc, "applying retention");
        upto = v;
    }
    if (s->retain_days > 0) {
        char sql[160];
        int64_t cutoff = store_now_ns() - s->retain_days * 86400LL * 1000000000LL;
        snprintf(sql, sizeof(sql), "SELECT max(last_alert) FROM commits WHERE at_ns < %lld", (long long)cutoff);
        if ((rc = store_pragma_int(s, sql, &v)) != SQLITE_OK)
            return store_fail(s, rc, "applying retention");
        if (v > upto)
            upto = v;
    }
    if (upto <= 0)
        return STOAT_OK;
    char sql[4096];
    snprintf(
        sql, sizeof(sql),
        "BEGIN IMMEDIATE;"
        /* the roll-ups lose what the deleted alerts added (a host's first
              * and last times stay as they were: they only widen the range) */
        "CREATE TEMP TABLE IF NOT EXISTS gone_hour(hour, level, n);"
        "DELETE FROM gone_hour;"
        "INSERT INTO gone_hour SELECT max(time_ns, 0) / 3600000000000, level, count(*) FROM alerts"
        "  WHERE id <= %1$lld GROUP BY 1, 2;"
        "UPDATE count_hour SET n = n - (SELECT g.n FROM gone_hour g WHERE g.hour = count_hour.hour"
        "  AND g.level = count_hour.level) WHERE (hour, level) IN (SELECT hour, level FROM gone_hour);"
        "CREATE TEMP TABLE IF NOT EXISTS gone_host(host_id, level, n);"
        "DELETE FROM gone_host;"
        "INSERT INTO gone_host SELECT host_id, level, count(*) FROM alerts WHERE id <= %1$lld GROUP BY 1, 2;"
        "UPDATE count_host SET n = n - (SELECT g.n FROM gone_host g WHERE g.host_id = count_host.host_id"
        "  AND g.level = count_host.level) WHERE (host_id, level) IN (SELECT host_id, level FROM gone_host);"
        "CREATE TEMP TABLE IF NOT EXISTS gone_rule(rule_id, host_id, n);"
        "DELETE FROM gone_rule;"
        "INSERT INTO gone_rule SELECT rule_id, host_id, count(*) FROM alerts WHERE id <= %1$lld GROUP BY 1, 2;"
        "UPDATE count_rule SET n = n - (SELECT g.n FROM gone_rule g WHERE g.rule_id = count_rule.rule_id"
        "  AND g.host_id = count_rule.host_id) WHERE (rule_id, host_id) IN (SELECT rule_id, host_id FROM gone_rule);"
        "DELETE FROM count_hour WHERE n <= 0;"
        "DELETE FROM count_host WHERE n <= 0;"
        "DELETE FROM count_rule WHERE n <= 0;"
        /* the runs of the search index whose alerts all go (one that
              * straddles the cut stays: the search checks each alert) */
        "DELETE FROM alert_words WHERE rowid < %2$lld AND " WORDS_SQL_LAST(
            "rowid") " <= %1$lld;"
                     "DELETE FROM alerts WHERE id <= %1$lld;"
                     /* events are numbered in the order of their alerts: the packs
              * wholly below the first event still cited go */
                     "DELETE FROM event_packs WHERE id + n <= coalesce((SELECT event_id FROM alerts"
                     "  WHERE event_id NOT NULL ORDER BY id LIMIT 1), (SELECT max(id + n) FROM event_packs));"
                     "DELETE FROM correlation_alerts WHERE corr_id <= %1$lld OR alert_id <= %1$lld;"
                     "DELETE FROM correlations WHERE alert_id <= %1$lld;"
                     "DELETE FROM incident_alerts WHERE alert_id <= %1$lld;"
                     "DELETE FROM incidents WHERE NOT EXISTS (SELECT 1 FROM incident_alerts ia WHERE ia.incident_id = incidents.id);"
                     "DELETE FROM triage WHERE kind = 0 AND target_id <= %1$lld;"
                     "DELETE FROM triage WHERE kind = 1 AND target_id NOT IN (SELECT id FROM incidents);"
                     "DELETE FROM commits WHERE last_alert <= %1$lld;"
                     /* processes still reachable from a remaining alert, and the rest go */
                     "CREATE TEMP TABLE IF NOT EXISTS keep_proc(id INTEGER PRIMARY KEY);"
                     "DELETE FROM keep_proc;"
                     "INSERT OR IGNORE INTO keep_proc WITH RECURSIVE up(id, depth) AS ("
                     "  SELECT DISTINCT process_id, 0 FROM alerts WHERE process_id NOT NULL"
                     "  UNION SELECT p.parent_id, up.depth + 1 FROM processes p JOIN up ON p.id = up.id"
                     "  WHERE p.parent_id NOT NULL AND up.depth < 64) SELECT id FROM up;"
                     "DELETE FROM processes WHERE id NOT IN (SELECT id FROM keep_proc);"
                     "COMMIT;",
        (long long)upto, (long long)(upto < INT64_MAX >> WORDS_SHIFT ? (upto + 1) << WORDS_SHIFT : INT64_MAX));
    int64_t before = 0, after = 0;
    store_pragma_int(s, "SELECT count(*) FROM alerts", &before);
    if ((rc = store_exec(s, sql)) != SQLITE_OK) {
        store_rollback(s);
        return STOAT_ERR_IO;
    }
    store_pragma_int(s, "SELECT count(*) FROM alerts", &after);
    /* cached process rows may be gone */
    store_procs_clear(s);
    s->ev_id = 0;
    if (deleted)
        *deleted = (uint64_t)(before - after);
    return STOAT_OK;
}
