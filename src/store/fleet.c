/* The fleet's centre in the store: which bus batches are stored, and the
 * hosts' heartbeats.
 *
 * Why it works this way:
 * - A batch's mark is a job of the writer's queue (queue.c, marks.c), written after
 *   the alerts put before it and so in their transaction: the mark is in
 *   the file exactly when the batch's alerts are. A centre that dies before
 *   the commit leaves neither, the bus delivers the batch again and it is
 *   processed again; one that dies after it leaves both, and the batch
 *   delivered again finds its mark and is only acknowledged.
 * - A host's run numbers its batches 1, 2, 3, ... and they arrive mostly in
 *   order, so marks are kept as intervals [lo, hi]: a batch extends the
 *   interval ending just before it, or starts one. A run is a few rows
 *   however long it lasts.
 * - Heartbeats live in the hosts table beside the alerts' host rows, so the
 *   fleet page joins them with the alert counts without a second name. */
#include <string.h>

#include "store/alert.h"
#include "store/db.h"
#include "store/queue.h"
#include "store/rows.h"

#define HEARTBEAT_MAX (64u << 10)

int stoat_store_marked(struct stoat_store *s, const char *host, const char *run, uint64_t seq)
{
    if (!s || !host || !run)
        return -1;
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM fleet_seen WHERE host = ?1 AND run = ?2 AND lo <= ?3"
                                        " AND hi >= ?3 LIMIT 1");
    if (!st)
        return -1;
    store_bind_text(st, 1, host);
    store_bind_text(st, 2, run);
    sqlite3_bind_int64(st, 3, (int64_t)seq);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int stoat_store_fleet_incident_known(struct stoat_store *s, int64_t first_ns, const char *from, const char *to)
{
    if (!s || !from || !to)
        return -1;
    /* a chain is known by its first logon: the time and the two places */
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM incidents WHERE hosts IS NOT NULL AND edges IS NOT NULL"
                                        " AND json_extract(edges, '$[0].first') = ?1"
                                        " AND lower(json_extract(edges, '$[0].from')) = lower(?2)"
                                        " AND lower(json_extract(edges, '$[0].to')) = lower(?3) LIMIT 1");
    if (!st)
        return -1;
    sqlite3_bind_int64(st, 1, first_ns);
    store_bind_text(st, 2, from);
    store_bind_text(st, 3, to);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int stoat_store_incident_known(struct stoat_store *s, const struct stoat_incident *inc)
{
    if (!s || !inc || !inc->host || inc->nhosts)
        return -1;
    if (inc->first_ns == INT64_MIN && inc->last_ns == INT64_MIN)
        return 0; /* a chain without times has no identity: stored */
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM incidents i JOIN hosts h ON h.id = i.host_id"
                                        " WHERE i.hosts IS NULL AND h.name = ?1"
                                        " AND (i.first_ns = ?2 OR i.last_ns = ?3) LIMIT 1");
    if (!st)
        return -1;
    store_bind_text(st, 1, inc->host);
    if (inc->first_ns != INT64_MIN)
        sqlite3_bind_int64(st, 2, inc->first_ns);
    if (inc->last_ns != INT64_MIN)
        sqlite3_bind_int64(st, 3, inc->last_ns);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

int stoat_store_corr_known(struct stoat_store *s, const struct stoat_alert *a)
{
    if (!s || !a || !a->rule || !a->corr)
        return -1;
    const struct stoat_corr_detail *d = a->corr;
    if (d->first_ns == INT64_MIN && d->last_ns == INT64_MIN)
        return 0; /* a window without times has no identity: stored */
    /* the rule as the writer keys it (alert.c) */
    struct buf key = {0}, grp = {0};
    if (a->rule->id) {
        buf_puts(&key, a->rule->id);
    } else {
        buf_puts(&key, "title:");
        buf_puts(&key, a->rule->title ? a->rule->title : a->rule->name ? a->rule->name : "(untitled rule)");
    }
    store_corr_group_json(&grp, d);
    int rc = SQLITE_ERROR;
    sqlite3_stmt *st = store_prepare(s, "SELECT 1 FROM correlations c JOIN alerts a ON a.id = c.alert_id"
                                        " JOIN rules r ON r.id = a.rule_id WHERE r.key = ?1 AND c.grp = ?2"
                                        " AND (c.first_ns = ?3 OR c.last_ns = ?4)"
                                        " AND (?5 IS NULL OR a.host_id IN (SELECT id FROM hosts WHERE name = ?5))"
                                        " LIMIT 1");
    if (!st)
        goto out;
    sqlite3_bind_text(st, 1, key.p, (int)key.len, SQLITE_STATIC);
    sqlite3_bind_text(st, 2, grp.p, (int)grp.len, SQLITE_STATIC);
    if (d->first_ns != INT64_MIN)
        sqlite3_bind_int64(st, 3, d->first_ns);
    if (d->last_ns != INT64_MIN)
        sqlite3_bind_int64(st, 4, d->last_ns);
    store_bind_text(st, 5, a->host);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
out:
    buf_free(&key);
    buf_free(&grp);
    return rc == SQLITE_ROW ? 1 : rc == SQLITE_DONE ? 0 : -1;
}

stoat_err stoat_store_put_heartbeat(struct stoat_store *s, const char *host, int64_t seen_ns, const char *json,
                                    bool *was_silent)
{
    if (was_silent)
        *was_silent = false;
    if (!s || s->readonly || !host || !*host)
        return STOAT_ERR_ARG;
    stoat_err e = store_flush(s);
    if (e != STOAT_OK)
        return e;
    size_t jn = json ? strlen(json) : 0;
    if (jn > HEARTBEAT_MAX)
        json = NULL, jn = 0; /* hostile or broken: the time still counts */
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "storing a heartbeat");
    sqlite3_stmt *st = store_prepare(s, "INSERT OR IGNORE INTO hosts(name) VALUES(?1)");
    if (!st)
        goto fail;
    store_bind_text(st, 1, host);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto fail;
    st = store_prepare(s, "SELECT silent FROM hosts WHERE name = ?1");
    if (!st)
        goto fail;
    store_bind_text(st, 1, host);
    if ((rc = sqlite3_step(st)) == SQLITE_ROW && was_silent)
        *was_silent = sqlite3_column_int(st, 0) != 0;
    sqlite3_finalize(st);
    st = store_prepare(s, "UPDATE hosts SET last_seen_ns = max(coalesce(last_seen_ns, 0), ?2),"
                          " heartbeat = coalesce(?3, heartbeat), silent = 0 WHERE name = ?1");
    if (!st)
        goto fail;
    store_bind_text(st, 1, host);
    sqlite3_bind_int64(st, 2, seen_ns);
    store_bind_textn(st, 3, json, jn);
    rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        goto fail;
    if ((rc = store_exec(s, "COMMIT")) != SQLITE_OK)
        goto fail;
    return STOAT_OK;
fail:
    e = store_fail(s, rc == SQLITE_OK ? SQLITE_ERROR : rc, "storing a heartbeat");
    store_rollback(s);
    return e;
}

stoat_err stoat_store_flag_silent(struct stoat_store *s, int64_t before_ns,
                                  void (*fn)(void *ctx, const char *host, int64_t last_ns), void *ctx)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = store_flush(s);
    if (e != STOAT_OK)
        return e;
    sqlite3_stmt *st = store_prepare(s, "UPDATE hosts SET silent = 1 WHERE silent = 0 AND last_seen_ns IS NOT NULL"
                                        " AND last_seen_ns < ?1 RETURNING name, last_seen_ns");
    if (!st)
        return STOAT_ERR_IO;
    sqlite3_bind_int64(st, 1, before_ns);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        if (fn)
            fn(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? STOAT_OK : store_fail(s, rc, "flagging silent hosts");
}

static void fleet_host_item(struct buf *b, sqlite3_stmt *st, int first)
{
    if (!first)
        buf_putc(b, ',');
    buf_puts(b, "{\"name\":");
    buf_json_str(b, (const char *)sqlite3_column_text(st, 0), (size_t)sqlite3_column_bytes(st, 0));
    buf_printf(b, ",\"last_seen_ns\":%lld,\"silent\":%s,\"alerts\":%lld,\"heartbeat\":",
               (long long)sqlite3_column_int64(st, 1), sqlite3_column_int(st, 2) ? "true" : "false",
               (long long)sqlite3_column_int64(st, 3));
    /* stored as the host sent it: passed on only when it is one JSON object */
    const char *hb = (const char *)sqlite3_column_text(st, 4);
    int n = sqlite3_column_bytes(st, 4);
    if (hb && n >= 2 && hb[0] == '{' && hb[n - 1] == '}' && !memchr(hb, '\n', (size_t)n))
        buf_put(b, hb, (size_t)n);
    else
        buf_puts(b, "null");
    buf_putc(b, '}');
}

stoat_err stoat_store_fleet_json(struct stoat_store *s, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s);
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    buf_puts(&b, "{\"hosts\":[");
    sqlite3_stmt *st = store_prepare(s, "SELECT h.name, h.last_seen_ns, h.silent,"
                                        " (SELECT coalesce(sum(n), 0) FROM count_host c WHERE c.host_id = h.id),"
                                        " h.heartbeat FROM hosts h WHERE h.last_seen_ns IS NOT NULL ORDER BY h.name");
    if (!st) {
        buf_free(&b);
        return STOAT_ERR_IO;
    }
    int rc, first = 1;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        fleet_host_item(&b, st, first);
        first = 0;
    }
    if (rc != SQLITE_DONE)
        return store_read_fail(s, st, rc, &b);
    sqlite3_finalize(st);
    buf_puts(&b, "]}");
    return store_hand_over(&b, json, len);
}
