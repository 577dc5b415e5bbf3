/* The dashboard's documents of alerts and incidents: lists with filters,
 * one alert with its event, tree and correlation, one incident with its
 * alerts and tree.
 *
 * Why it works this way:
 * - Lists page by a cursor (time, id of the last row), which costs the same
 *   on page 1 and page 10,000; counts stop at COUNT_CAP ("10,000 or more")
 *   or after COUNT_MS instead of counting a million rows per request, and
 *   a listing that almost nothing matches stops after LIST_MS with what it
 *   found ("partial"). Which way a filter's alerts are found is search.c's.
 * - Every document is written from the rows of rows.c, the same the report
 *   carries, and a writer's own handle first writes its queue, so a reader
 *   sees what it was given. */
#include <stdio.h>
#include <string.h>

#include "store/db.h"
#include "store/incident.h"
#include "store/packs.h"
#include "store/queue.h"
#include "store/rows.h"
#include "store/search.h"
#include "store/words.h"

#define COUNT_CAP 10000
#define COUNT_MS  25
#define LIST_MS   250

static unsigned clamp_limit(unsigned l)
{
    return l == 0 ? 100 : l > 1000 ? 1000 : l;
}

/* ------------------------------------------------------------ alerts */

/* A page of the listing: how many of how many it may hold, and the last. */
struct page {
    unsigned got, limit;
    int64_t last_ns, last_id;
    bool partial;
};

/* The listing of many matches, newest stored first: the matching runs from
 * the index, and the alerts of each that pass the filters (w), in order,
 * until the page is full or LIST_MS has passed ("partial"). */
static stoat_err list_by_runs(struct stoat_store *s, const struct stoat_filter *f, struct where *w, struct page *pg,
                              struct buf *b)
{
    struct buf sql = {0};
    stoat_err e = STOAT_OK;
    sqlite3_stmt *runs =
        store_prepare(s, f->oldest_first ? "SELECT rowid FROM alert_words WHERE alert_words MATCH ?1 AND rowid >= ?2"
                                           " ORDER BY rowid"
                                         : "SELECT rowid FROM alert_words WHERE alert_words MATCH ?1 AND rowid < ?2"
                                           " ORDER BY rowid DESC");
    /* w's conditions begin " WHERE ": they follow the run's range here */
    buf_printf(
        &sql, "SELECT " ALERT_COLS " FROM alerts a" ALERT_JOINS " WHERE a.id BETWEEN ?1 AND ?2 AND %s ORDER BY a.id %s",
        w->sql.p + 7, f->oldest_first ? "ASC" : "DESC");
    sqlite3_stmt *st = runs ? store_prepare(s, sql.p) : NULL;
    if (!st) {
        e = STOAT_ERR_IO;
        goto out;
    }
    store_bind_text(runs, 1, w->fts.p);
    sqlite3_bind_int64(runs, 2, w->run_bound);
    unsigned skip = f->offset > 1000000 ? 1000000 : f->offset;
    int rc;
    s->local_deadline_ns = store_mono_ns() + LIST_MS * 1000000LL;
    s->local_hit = false;
    while (pg->got < pg->limit && (rc = sqlite3_step(runs)) == SQLITE_ROW) {
        int64_t r = sqlite3_column_int64(runs, 0), first = (int64_t)((uint64_t)r >> WORDS_SHIFT);
        sqlite3_bind_int64(st, 1, first);
        sqlite3_bind_int64(st, 2, first + (r & (WORDS_GROUP - 1)));
        store_where_bind(w, st, 3);
        while (pg->got < pg->limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (skip) {
                skip--;
                continue;
            }
            if (pg->got++)
                buf_putc(b, ',');
            store_alert_item(b, st, 0);
            pg->last_ns = sqlite3_column_int64(st, 1);
            pg->last_id = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            break;
        rc = SQLITE_DONE;
    }
    s->local_deadline_ns = 0;
    if (pg->got >= pg->limit)
        rc = SQLITE_DONE;
    if ((rc & 0xff) == SQLITE_INTERRUPT && s->local_hit) {
        rc = SQLITE_DONE;
        pg->partial = true;
    }
    if (rc != SQLITE_DONE)
        e = store_fail(s, rc, "listing alerts");
out:
    sqlite3_finalize(runs);
    sqlite3_finalize(st);
    buf_free(&sql);
    return e;
}

/* The listing in time order: the filter's conditions as one statement. */
static stoat_err list_by_time(struct stoat_store *s, const struct stoat_filter *f, struct where *w, struct page *pg,
                              struct buf *b)
{
    struct buf sql = {0};
    stoat_err e = STOAT_OK;
    const char *dir = f->oldest_first ? "ASC" : "DESC";
    buf_printf(&sql,
               "SELECT " ALERT_COLS " FROM alerts a" ALERT_JOINS "%s ORDER BY a.time_ns %s, a.id %s LIMIT %u OFFSET %u",
               w->sql.p ? w->sql.p : "", dir, dir, pg->limit, f->offset > 1000000 ? 1000000 : f->offset);
    sqlite3_stmt *st = store_prepare(s, sql.p);
    buf_free(&sql);
    if (!st)
        return STOAT_ERR_IO;
    store_where_bind(w, st, 1);
    /* a filter that almost nothing matches can walk the whole table: it is
     * stopped after LIST_MS with what it found ("partial") */
    s->local_deadline_ns = store_mono_ns() + LIST_MS * 1000000LL;
    s->local_hit = false;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (pg->got++)
            buf_putc(b, ',');
        store_alert_item(b, st, 0);
        pg->last_ns = sqlite3_column_int64(st, 1);
        pg->last_id = sqlite3_column_int64(st, 0);
    }
    s->local_deadline_ns = 0;
    if ((rc & 0xff) == SQLITE_INTERRUPT && s->local_hit) {
        rc = SQLITE_DONE;
        pg->partial = true;
    }
    if (rc != SQLITE_DONE)
        e = store_fail(s, rc, "listing alerts");
    sqlite3_finalize(st);
    return e;
}

/* Counts the matches of a filter that the roll-ups cannot count (the
 * listing's w gives its search): *total, *more when there may be more,
 * *cap the most counted. */
static stoat_err count_walk(struct stoat_store *s, const struct stoat_filter *f, const struct where *w, int64_t *total,
                            int64_t *cap, bool *more)
{
    struct where wc;
    struct buf sql = {0};
    sqlite3_stmt *st = NULL;
    stoat_err e = store_alert_where(s, f, &wc, false, w);
    if (e != STOAT_OK)
        goto out;
    if (wc.n == 0) {
        buf_puts(&sql, "SELECT coalesce(sum(n), 0) FROM count_hour");
    } else {
        /* the search alone is counted in its index, without reading
         * alerts; many matches with other filters are each read, so that
         * count stops sooner, at SEARCH_FEW ("500 or more") */
        if (wc.fts_join && wc.n > wc.nsearch)
            *cap = SEARCH_FEW;
        buf_printf(&sql, "SELECT 1 FROM %s%s%s LIMIT %lld", wc.fts_join ? RUN_JOIN : "alerts a",
                   wc.joins ? ALERT_JOINS : "", wc.sql.p, (long long)*cap + 1);
    }
    if (!(st = store_prepare(s, sql.p))) {
        e = STOAT_ERR_IO;
        goto out;
    }
    store_where_bind(&wc, st, 1);
    int rc;
    if (wc.n == 0) {
        rc = sqlite3_step(st);
        *total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
        rc = rc == SQLITE_ROW ? SQLITE_DONE : rc;
    } else {
        /* count the matches one by one, for at most COUNT_MS: past that
         * the answer is "at least N" */
        s->local_deadline_ns = store_mono_ns() + COUNT_MS * 1000000LL;
        s->local_hit = false;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW)
            (*total)++;
        s->local_deadline_ns = 0;
        if ((rc & 0xff) == SQLITE_INTERRUPT && s->local_hit) {
            rc = SQLITE_DONE;
            *more = true;
        }
    }
    if (wc.ids_partial)
        *more = true;
    if (rc != SQLITE_DONE)
        e = store_fail(s, rc, "counting alerts");
out:
    sqlite3_finalize(st);
    store_where_free(&wc);
    buf_free(&sql);
    return e;
}

/* "total" and "more" of the listing: the count ignores the cursor ("N
 * alerts match"). */
static stoat_err count_alerts(struct stoat_store *s, const struct stoat_filter *f, const struct where *w,
                              const struct page *pg, struct buf *b)
{
    int64_t total = 0, cap = COUNT_CAP;
    bool more = false;
    if (!w->empty && !w->named_est && w->fts_n >= SEARCH_FEW) {
        /* many matches: counting them would read and check each of their
         * alerts (and merge again every word a prefix starts), so it is
         * "at least" the SEARCH_FEW known for the words alone, or what the
         * page found; all of them when the page saw every match */
        bool sure = w->fts_sure && w->n == w->nsearch;
        total = sure ? w->fts_n : (int64_t)pg->got;
        more = sure || pg->got == pg->limit || pg->partial || f->has_cursor || f->offset;
    } else if (!w->empty && w->n > 0 && store_rollup_count(s, f, w, &total)) {
        cap = INT64_MAX; /* exact, however many */
    } else if (!w->empty) {
        stoat_err e = count_walk(s, f, w, &total, &cap, &more);
        if (e != STOAT_OK)
            return e;
    }
    if (w->n > 0 && total > cap) {
        total = cap;
        more = true;
    }
    buf_printf(b, ",\"total\":%lld,\"more\":%s}", (long long)total, more ? "true" : "false");
    return STOAT_OK;
}

stoat_err stoat_store_alerts_json(struct stoat_store *s, const struct stoat_filter *f, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    struct where w;
    struct page pg = {.limit = clamp_limit(f->limit)};
    stoat_err e = store_alert_where(s, f, &w, true, NULL);
    if (e != STOAT_OK)
        goto out;
    buf_puts(&b, "{\"alerts\":[");
    if (!w.empty)
        e = w.store_order ? list_by_runs(s, f, &w, &pg, &b) : list_by_time(s, f, &w, &pg, &b);
    if (e != STOAT_OK)
        goto out;
    buf_putc(&b, ']');
    if (pg.partial)
        buf_puts(&b, ",\"partial\":true");
    if (pg.got == pg.limit)
        buf_printf(&b, ",\"next\":\"%lld:%lld\",\"order\":\"%s\"", (long long)pg.last_ns, (long long)pg.last_id,
                   w.store_order ? "stored" : "time");
    else
        buf_puts(&b, ",\"next\":null");
    e = count_alerts(s, f, &w, &pg, &b);
out:
    store_where_free(&w);
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    return store_hand_over(&b, json, len);
}

/* ------------------------------------------------------------ one alert */

static int triage_history(struct stoat_store *s, struct buf *b, int kind, int64_t id)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT " TRIAGE_COLS " FROM triage WHERE kind = ?1 AND target_id = ?2"
                                        " ORDER BY id DESC LIMIT 100");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_int64(st, 2, id);
    int rc = store_rows(st, b, store_triage_item);
    sqlite3_finalize(st);
    return rc;
}

/* The ancestry of a process, itself first (depth-capped: a doctored file
 * with a parent cycle ends after 64 steps). */
static int chain(struct stoat_store *s, struct buf *b, int64_t proc)
{
    sqlite3_stmt *st =
        store_prepare(s, "WITH RECURSIVE up(id, depth) AS (SELECT ?1, 0 UNION ALL"
                         " SELECT p.parent_id, up.depth + 1 FROM processes p JOIN up ON p.id = up.id"
                         " WHERE p.parent_id NOT NULL AND up.depth < 63)"
                         " SELECT " PROC_COLS " FROM up JOIN processes p ON p.id = up.id ORDER BY up.depth");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, proc);
    int rc = store_rows(st, b, store_proc_item);
    sqlite3_finalize(st);
    return rc == SQLITE_OK ? SQLITE_OK : SQLITE_ERROR;
}

/* A correlation alert's window, value and group, and the alerts it joins. */
static int correlation_doc(struct stoat_store *s, struct buf *b, int64_t id)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT " CORR_COLS " FROM correlations c WHERE c.alert_id = ?1");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        buf_puts(b, "null");
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    store_corr_head(b, st, 0);
    sqlite3_finalize(st);
    buf_puts(b, ",\"alerts\":");
    st = store_prepare(s, "SELECT " ALERT_COLS
                          " FROM correlation_alerts ca JOIN alerts a ON a.id = ca.alert_id" ALERT_JOINS
                          " WHERE ca.corr_id = ?1 ORDER BY a.time_ns, a.id LIMIT 1000");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    rc = store_rows(st, b, store_alert_item);
    sqlite3_finalize(st);
    buf_putc(b, '}');
    return rc;
}

/* ids of rows named by sql (bound to id), as a JSON array */
static int id_list(struct stoat_store *s, struct buf *b, const char *sql, int64_t id)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    int rc;
    bool first = true;
    buf_putc(b, '[');
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        buf_printf(b, "%s%lld", first ? "" : ",", (long long)sqlite3_column_int64(st, 0));
        first = false;
    }
    buf_putc(b, ']');
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

stoat_err stoat_store_alert_json(struct stoat_store *s, uint64_t id, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    if (id > INT64_MAX)
        return STOAT_ERR_NOTFOUND;
    sqlite3_stmt *st =
        store_prepare(s, "SELECT " ALERT_COLS ", " RULE_COLS " FROM alerts a" ALERT_JOINS " WHERE a.id = ?1");
    if (!st)
        return STOAT_ERR_IO;
    sqlite3_bind_int64(st, 1, (int64_t)id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        snprintf(s->errmsg, sizeof(s->errmsg), "no alert %llu", (unsigned long long)id);
        return STOAT_ERR_NOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return store_read_fail(s, st, rc, &b);
    buf_puts(&b, "{\"alert\":");
    store_alert_item(&b, st, 0);
    buf_puts(&b, ",\"rule\":");
    store_rule_item(&b, st, ALERT_NCOLS);
    int64_t proc = sqlite3_column_type(st, 13) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 13);
    int64_t ev = sqlite3_column_type(st, 14) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 14);
    bool corr = sqlite3_column_int(st, 15) == STOAT_RULE_CORRELATION;
    sqlite3_finalize(st);
    buf_puts(&b, ",\"event\":");
    if ((rc = store_event_json(s, ev, &b)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"tree\":");
    if (proc)
        rc = chain(s, &b, proc);
    else
        buf_puts(&b, "[]"), rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"correlation\":");
    if (corr)
        rc = correlation_doc(s, &b, (int64_t)id);
    else
        buf_puts(&b, "null");
    if (rc != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    /* the correlations that joined this alert */
    buf_puts(&b, ",\"correlations\":");
    if ((rc = id_list(s, &b, "SELECT corr_id FROM correlation_alerts WHERE alert_id = ?1 ORDER BY corr_id LIMIT 100",
                      (int64_t)id)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"incidents\":");
    if ((rc = id_list(s, &b, "SELECT incident_id FROM incident_alerts WHERE alert_id = ?1 ORDER BY incident_id",
                      (int64_t)id)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"triage\":");
    if ((rc = triage_history(s, &b, STOAT_TARGET_ALERT, (int64_t)id)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_putc(&b, '}');
    return store_hand_over(&b, json, len);
}

stoat_err stoat_store_tree_json(struct stoat_store *s, uint64_t alert_id, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    if (alert_id > INT64_MAX)
        return STOAT_ERR_NOTFOUND;
    sqlite3_stmt *st = store_prepare(s, "SELECT process_id FROM alerts WHERE id = ?1");
    if (!st)
        return STOAT_ERR_IO;
    sqlite3_bind_int64(st, 1, (int64_t)alert_id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        snprintf(s->errmsg, sizeof(s->errmsg), "no alert %llu", (unsigned long long)alert_id);
        return STOAT_ERR_NOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return store_read_fail(s, st, rc, &b);
    int64_t proc = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    buf_printf(&b, "{\"alert\":%llu,\"tree\":", (unsigned long long)alert_id);
    if (proc)
        rc = chain(s, &b, proc);
    else
        buf_puts(&b, "[]");
    if (rc != SQLITE_OK && rc != SQLITE_ROW)
        return store_read_fail(s, NULL, rc, &b);
    buf_putc(&b, '}');
    return store_hand_over(&b, json, len);
}

/* ------------------------------------------------------------ incidents */

stoat_err stoat_store_incidents_json(struct stoat_store *s, const struct stoat_filter *f, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0}, sql = {0};
    struct where w;
    memset(&w, 0, sizeof(w));
    sqlite3_stmt *st = NULL;
    stoat_err e = STOAT_OK;
    int rc;
    if (f->host && *f->host) {
        int64_t id = store_lookup_id(s, "SELECT id FROM hosts WHERE name = ?1", f->host);
        if (id < 0) {
            e = STOAT_ERR_IO;
            goto out;
        }
        store_where_int(&w, "i.host_id = ?", id);
    }
    if (f->min_level > 0)
        store_where_int(&w, "i.level >= ?", f->min_level);
    if (f->state >= 0)
        store_where_int(&w, "i.state = ?", f->state);
    if (f->tactic && *f->tactic)
        store_where_text(&w,
                         "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(i.tactics) THEN i.tactics END) j"
                         " WHERE j.value = ?)",
                         f->tactic);
    if (f->q && *f->q) {
        if (strlen(f->q) > Q_MAX) {
            e = STOAT_ERR_LIMIT;
            snprintf(s->errmsg, sizeof(s->errmsg), "search text longer than %d bytes", Q_MAX);
            goto out;
        }
        store_where_text(&w, "instr(lower(i.title || ' ' || h.name), lower(?)) > 0", f->q);
    }
    if (f->from_ns)
        store_where_int(&w, "i.last_ns >= ?", f->from_ns);
    if (f->to_ns)
        store_where_int(&w, "i.first_ns <= ?", f->to_ns);
    buf_printf(&sql,
               "SELECT " INCIDENT_COLS " FROM incidents i JOIN hosts h ON h.id = i.host_id%s"
               " ORDER BY i.state = 0 DESC, i.level DESC, i.score DESC, i.last_ns DESC LIMIT %u OFFSET %u",
               w.sql.p ? w.sql.p : "", clamp_limit(f->limit), f->offset > 1000000 ? 1000000 : f->offset);
    if (!(st = store_prepare(s, sql.p))) {
        e = STOAT_ERR_IO;
        goto out;
    }
    store_where_bind(&w, st, 1);
    buf_puts(&b, "{\"incidents\":");
    rc = store_rows(st, &b, store_incident_item);
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_OK) {
        e = store_fail(s, rc, "listing incidents");
        goto out;
    }
    buf_clear(&sql);
    buf_printf(&sql, "SELECT count(*) FROM incidents i JOIN hosts h ON h.id = i.host_id%s", w.sql.p ? w.sql.p : "");
    if (!(st = store_prepare(s, sql.p))) {
        e = STOAT_ERR_IO;
        goto out;
    }
    store_where_bind(&w, st, 1);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        e = store_fail(s, rc, "counting incidents");
        goto out;
    }
    buf_printf(&b, ",\"total\":%lld}", (long long)sqlite3_column_int64(st, 0));
out:
    sqlite3_finalize(st);
    store_where_free(&w);
    buf_free(&sql);
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    return store_hand_over(&b, json, len);
}

stoat_err stoat_store_incident_json(struct stoat_store *s, uint64_t id, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s); /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    if (id > INT64_MAX)
        return STOAT_ERR_NOTFOUND;
    sqlite3_stmt *st = store_prepare(s, "SELECT " INCIDENT_COLS ", i.evidence, i.rules, i.edges FROM incidents i"
                                        " JOIN hosts h ON h.id = i.host_id WHERE i.id = ?1");
    if (!st)
        return STOAT_ERR_IO;
    sqlite3_bind_int64(st, 1, (int64_t)id);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_DONE) {
        sqlite3_finalize(st);
        snprintf(s->errmsg, sizeof(s->errmsg), "no incident %llu", (unsigned long long)id);
        return STOAT_ERR_NOTFOUND;
    }
    if (rc != SQLITE_ROW)
        return store_read_fail(s, st, rc, &b);
    buf_puts(&b, "{\"incident\":");
    store_incident_item(&b, st, 0);
    /* what its claims rest on, and its alerts by rule (for grouping a large one) */
    buf_puts(&b, ",\"evidence\":");
    json_col_raw(&b, st, INCIDENT_NCOLS, "[]");
    buf_puts(&b, ",\"rules\":");
    json_col_raw(&b, st, INCIDENT_NCOLS + 1, "[]");
    bool fleet = sqlite3_column_type(st, INCIDENT_NCOLS + 2) != SQLITE_NULL;
    if (fleet) {
        buf_puts(&b, ",\"edges\":"); /* a fleet incident's logons, in order */
        json_col_raw(&b, st, INCIDENT_NCOLS + 2, "[]");
    }
    sqlite3_finalize(st);
    if (fleet) { /* and its alerts host by host */
        buf_putc(&b, ',');
        if ((rc = store_incident_by_host(s, &b, (int64_t)id)) != SQLITE_OK)
            return store_read_fail(s, NULL, rc, &b);
    }
    /* a page of its alerts, and all of them grouped: see incident.c */
    buf_putc(&b, ',');
    if ((rc = store_incident_page(s, &b, (int64_t)id, 0, 0, STOAT_INCIDENT_PAGE)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_putc(&b, ',');
    if ((rc = store_incident_groups(s, &b, (int64_t)id)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"triage\":");
    if ((rc = triage_history(s, &b, STOAT_TARGET_INCIDENT, (int64_t)id)) != SQLITE_OK)
        return store_read_fail(s, NULL, rc, &b);
    buf_putc(&b, '}');
    return store_hand_over(&b, json, len);
}
