/* `stoat report`: a store as one HTML file.
 *
 * The data goes into the page as one JSON document in compact form: alerts
 * as arrays (not objects) with hosts, rules, events and processes given once
 * and referred to by id, because a report of 100,000 alerts must parse and
 * render in a browser in well under two seconds. The browser code (web/
 * app.js, "report" mode) turns that into the same shapes the dashboard's
 * API returns, so one set of views serves both. The page's CSP forbids every
 * network request: the file works offline and leaks nothing when opened.
 *
 * Both JSON documents go in gzip-compressed and base64-encoded: a browser
 * spends most of a big report's first render just reading the file, and
 * log text compresses about tenfold. The page unpacks them with the
 * browser's own DecompressionStream (no code of ours, no network). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "report/page.h"
#include "stoat/report.h"
#include "store/db.h"
#include "store/packs.h"
#include "store/queue.h"
#include "store/rows.h"
#include "util/mem.h"
#include "util/text.h"

#define REPORT_CSP \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:; connect-src 'none'; form-action 'none'; base-uri 'none'"

/* out = base64(gzip(in)). */
static bool pack(const struct buf *in, struct buf *out)
{
    z_stream z;
    memset(&z, 0, sizeof(z));
    if (deflateInit2(&z, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return false;
    size_t cap = deflateBound(&z, (uLong)in->len) + 16;
    unsigned char *gz = xmalloc(cap);
    z.next_in = (unsigned char *)(in->p ? in->p : "");
    z.avail_in = (uInt)in->len;
    z.next_out = gz;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    size_t n = cap - z.avail_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(gz);
        return false;
    }
    static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    buf_reserve(out, (n + 2) / 3 * 4 + 1);
    char *o = out->p + out->len;
    size_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)gz[i] << 16 | (uint32_t)gz[i + 1] << 8 | gz[i + 2];
        *o++ = b64[v >> 18], *o++ = b64[(v >> 12) & 63], *o++ = b64[(v >> 6) & 63], *o++ = b64[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)gz[i] << 16 | (i + 1 < n ? (uint32_t)gz[i + 1] << 8 : 0);
        *o++ = b64[v >> 18], *o++ = b64[(v >> 12) & 63];
        *o++ = i + 1 < n ? b64[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    out->len = (size_t)(o - out->p);
    out->p[out->len] = 0;
    free(gz);
    return true;
}

static void col_int(struct buf *b, sqlite3_stmt *st, int c)
{
    if (sqlite3_column_type(st, c) == SQLITE_NULL)
        buf_puts(b, "null");
    else
        buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, c));
}

/* Runs sql and lets emit write each row; between rows writes sep. */
static int each(struct stoat_store *s, const char *sql, int64_t bind, struct buf *b, const char *sep,
                void (*emit)(struct buf *, sqlite3_stmt *), uint64_t *count)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return SQLITE_ERROR;
    if (bind)
        sqlite3_bind_int64(st, 1, bind);
    int rc;
    uint64_t n = 0;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (n++)
            buf_puts(b, sep);
        emit(b, st);
    }
    sqlite3_finalize(st);
    if (count)
        *count = n;
    if (rc != SQLITE_DONE) {
        store_fail(s, rc, "reading for the report");
        return rc;
    }
    return SQLITE_OK;
}

static void emit_run(struct buf *b, sqlite3_stmt *st)
{
    buf_printf(b, "{\"id\":%lld,\"producer\":", (long long)sqlite3_column_int64(st, 0));
    json_col_text(b, st, 1);
    buf_puts(b, ",\"args\":");
    json_col_text(b, st, 2);
    buf_puts(b, ",\"started\":");
    col_int(b, st, 3);
    buf_puts(b, ",\"ended\":");
    col_int(b, st, 4);
    buf_puts(b, ",\"alerts\":");
    col_int(b, st, 5);
    buf_putc(b, '}');
}

static void emit_rule(struct buf *b, sqlite3_stmt *st)
{
    store_rule_item(b, st, 0);
}

static void emit_host(struct buf *b, sqlite3_stmt *st)
{
    buf_printf(b, "\"%lld\":", (long long)sqlite3_column_int64(st, 0));
    json_col_text(b, st, 1);
}

/* [id, ns, ts, host, level, rule, image, cmd, user, state, logon, run, proc, ev] */
static void emit_alert(struct buf *b, sqlite3_stmt *st)
{
    buf_printf(b, "[%lld,%lld,", (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1));
    json_col_text(b, st, 2);
    buf_printf(b, ",%lld,%d,%lld,", (long long)sqlite3_column_int64(st, 3), sqlite3_column_int(st, 4),
               (long long)sqlite3_column_int64(st, 5));
    json_col_text(b, st, 6);
    buf_putc(b, ',');
    json_col_text(b, st, 7);
    buf_putc(b, ',');
    json_col_text(b, st, 8);
    buf_printf(b, ",%d,", sqlite3_column_int(st, 9));
    json_col_text(b, st, 10);
    buf_printf(b, ",%lld,", (long long)sqlite3_column_int64(st, 11));
    col_int(b, st, 12);
    buf_putc(b, ',');
    col_int(b, st, 13);
    buf_putc(b, ']');
}

/* "id": [parent, image, cmd, user, pid, start, guid] */
static void emit_proc(struct buf *b, sqlite3_stmt *st)
{
    buf_printf(b, "\"%lld\":[", (long long)sqlite3_column_int64(st, 0));
    col_int(b, st, 1);
    for (int c = 2; c <= 4; c++) {
        buf_putc(b, ',');
        json_col_text(b, st, c);
    }
    buf_putc(b, ',');
    col_int(b, st, 5);
    buf_putc(b, ',');
    col_int(b, st, 6);
    buf_putc(b, ',');
    json_col_text(b, st, 7);
    buf_putc(b, ']');
}

static void emit_corr(struct buf *b, sqlite3_stmt *st)
{
    buf_printf(b, "\"%lld\":{\"type\":", (long long)sqlite3_column_int64(st, 0));
    json_col_text(b, st, 1);
    buf_printf(b, ",\"value\":%.15g,\"first\":", sqlite3_column_double(st, 2));
    col_int(b, st, 3);
    buf_puts(b, ",\"last\":");
    col_int(b, st, 4);
    buf_puts(b, ",\"group\":");
    if (sqlite3_column_type(st, 5) == SQLITE_NULL)
        buf_puts(b, "{}");
    else
        buf_put(b, sqlite3_column_text(st, 5), (size_t)sqlite3_column_bytes(st, 5));
    buf_puts(b, ",\"evidence\":");
    if (sqlite3_column_type(st, 6) == SQLITE_NULL)
        buf_puts(b, "[]");
    else
        buf_put(b, sqlite3_column_text(st, 6), (size_t)sqlite3_column_bytes(st, 6));
    buf_puts(b, ",\"alerts\":[");
    /* group_concat of integers: digits and commas only */
    if (sqlite3_column_type(st, 7) != SQLITE_NULL)
        buf_put(b, sqlite3_column_text(st, 7), (size_t)sqlite3_column_bytes(st, 7));
    buf_puts(b, "]}");
}

static void emit_incident(struct buf *b, sqlite3_stmt *st)
{
    store_incident_item(b, st, 0);
    b->len--;   /* reopen the object for its alert ids */
    buf_puts(b, ",\"alerts\":[");
    if (sqlite3_column_type(st, 12) != SQLITE_NULL)
        buf_put(b, sqlite3_column_text(st, 12), (size_t)sqlite3_column_bytes(st, 12));
    buf_puts(b, "]}");
}

/* "a:12": [{state, note, who, at}, ...] newest first, grouped by target */
struct triage_acc {
    int kind;
    int64_t target;
    bool open;
};

stoat_err stoat_report_write(struct stoat_store *s, const struct stoat_report_opts *opts, FILE *out,
                             struct stoat_report_stats *stats)
{
    struct stoat_report_opts dflt = {0};
    struct stoat_report_stats st0 = {0};
    struct buf d = {0}, page = {0}, sel = {0}, ev = {0};
    stoat_err e = STOAT_OK;
    int rc = SQLITE_OK;
    sqlite3_stmt *st = NULL;
    if ((e = store_quiesce(s)) != STOAT_OK)
        return e;
    if (!opts)
        opts = &dflt;
    if (!stats)
        stats = &st0;
    memset(stats, 0, sizeof(*stats));

    /* which alerts: all, or the newest N plus those of incidents */
    if (opts->max_alerts)
        buf_printf(&sel, "a.id > coalesce((SELECT id FROM alerts ORDER BY id DESC LIMIT 1 OFFSET %llu), 0)"
                         " OR a.id IN (SELECT alert_id FROM incident_alerts)",
                   (unsigned long long)opts->max_alerts);
    else
        buf_puts(&sel, "1");

    int64_t now = store_now_ns();
    char gen[32];
    format_time_ns(now, gen);
    const char *title = opts->title;
    if (!title) {
        title = strrchr(s->path, '/');
        title = title ? title + 1 : s->path;
    }
    buf_printf(&d, "{\"meta\":{\"id\":\"%llx-%llx\",\"generated\":\"%.19s UTC\",\"db\":",
               (unsigned long long)now, (unsigned long long)hash_bytes(s->path, strlen(s->path), 7), gen);
    buf_json_str(&d, title, strlen(title));
    buf_puts(&d, ",\"runs\":[");
    if ((rc = each(s, "SELECT id, producer, args, started_ns, ended_ns, alerts FROM runs ORDER BY id", 0, &d, ",",
                   emit_run, NULL)) != SQLITE_OK)
        goto fail;
    buf_puts(&d, "]},\"rules\":[");
    if ((rc = each(s, "SELECT " RULE_COLS " FROM rules r ORDER BY r.id", 0, &d, ",", emit_rule, NULL)) != SQLITE_OK)
        goto fail;
    buf_puts(&d, "],\"hosts\":{");
    if ((rc = each(s, "SELECT id, name FROM hosts ORDER BY id", 0, &d, ",", emit_host, NULL)) != SQLITE_OK)
        goto fail;
    buf_puts(&d, "},\"alerts\":[");
    struct buf q = {0};
    /* image, command line and user are left out (null) when the alert's
     * process row says the same: the page takes them from there */
    buf_printf(&q, "SELECT a.id, a.time_ns, a.timestamp, a.host_id, a.level, a.rule_id,"
                   " CASE WHEN a.image IS p.image THEN NULL ELSE a.image END,"
                   " CASE WHEN a.command_line IS p.command_line THEN NULL ELSE a.command_line END,"
                   " CASE WHEN a.user IS p.user THEN NULL ELSE a.user END,"
                   " a.state, a.logon_id, a.run_id, a.process_id, a.event_id FROM alerts a"
                   " LEFT JOIN processes p ON p.id = a.process_id WHERE %s ORDER BY a.id", sel.p);
    rc = each(s, q.p, 0, &d, ",\n", emit_alert, &stats->alerts);
    if (rc != SQLITE_OK) {
        buf_free(&q);
        goto fail;
    }
    buf_puts(&d, "]");
    /* "id": {file, format, record, line, offset, channel, event_id, fields},
     * as the store keeps them (in order, so each pack is unpacked once) */
    buf_putc(&ev, '{');
    buf_clear(&q);
    buf_printf(&q, "SELECT DISTINCT a.event_id FROM alerts a WHERE (%s) AND a.event_id NOT NULL ORDER BY 1", sel.p);
    st = store_prepare(s, q.p);
    buf_free(&q);
    if (!st) {
        rc = SQLITE_ERROR;
        goto fail;
    }
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (stats->events)
            buf_puts(&ev, ",\n");
        buf_printf(&ev, "\"%lld\":", (long long)id);
        int erc = store_event_json(s, id, &ev);
        if (erc != SQLITE_OK) {
            rc = erc;
            break;
        }
        stats->events++;
    }
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE)
        goto fail;
    rc = SQLITE_OK;
    buf_putc(&ev, '}');
    buf_puts(&d, ",\"procs\":{");
    buf_clear(&q);
    buf_printf(&q, "WITH RECURSIVE up(id, depth) AS (SELECT DISTINCT a.process_id, 0 FROM alerts a WHERE (%s)"
                   " AND a.process_id NOT NULL UNION SELECT p.parent_id, up.depth + 1 FROM processes p JOIN up"
                   " ON p.id = up.id WHERE p.parent_id NOT NULL AND up.depth < 63)"
                   " SELECT id, parent_id, image, command_line, user, pid, start_ns, guid FROM processes"
                   " WHERE id IN (SELECT id FROM up) ORDER BY id", sel.p);
    rc = each(s, q.p, 0, &d, ",\n", emit_proc, &stats->processes);
    buf_free(&q);
    if (rc != SQLITE_OK)
        goto fail;
    /* correlation alerts: "alert id": {type, value, first, last, group, alerts} */
    buf_puts(&d, "},\"corrs\":{");
    buf_clear(&q);
    buf_printf(&q, "SELECT c.alert_id, c.type, c.value, c.first_ns, c.last_ns,"
                   " CASE WHEN json_valid(c.grp) AND json_type(c.grp) = 'object' THEN c.grp END,"
                   " CASE WHEN json_valid(c.evidence) AND json_type(c.evidence) = 'array' THEN c.evidence END,"
                   " (SELECT group_concat(alert_id) FROM (SELECT ca.alert_id FROM correlation_alerts ca"
                   "  WHERE ca.corr_id = c.alert_id ORDER BY ca.alert_id LIMIT 1000))"
                   " FROM correlations c JOIN alerts a ON a.id = c.alert_id WHERE %s ORDER BY c.alert_id", sel.p);
    rc = each(s, q.p, 0, &d, ",\n", emit_corr, NULL);
    buf_free(&q);
    if (rc != SQLITE_OK)
        goto fail;
    buf_puts(&d, "},\"incidents\":[");
    if ((rc = each(s, "SELECT " INCIDENT_COLS ", (SELECT group_concat(alert_id) FROM incident_alerts ia"
                      " WHERE ia.incident_id = i.id) FROM incidents i JOIN hosts h ON h.id = i.host_id ORDER BY i.id",
                   0, &d, ",\n", emit_incident, &stats->incidents)) != SQLITE_OK)
        goto fail;
    buf_puts(&d, "],\"triage\":{");
    st = store_prepare(s, "SELECT kind, target_id, state, note, who, at_ns FROM triage ORDER BY kind, target_id, id DESC");
    if (!st) {
        rc = SQLITE_ERROR;
        goto fail;
    }
    struct triage_acc acc = {-1, 0, false};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int kind = sqlite3_column_int(st, 0);
        int64_t target = sqlite3_column_int64(st, 1);
        if (!acc.open || kind != acc.kind || target != acc.target) {
            if (acc.open)
                buf_puts(&d, "],");
            buf_printf(&d, "\"%c:%lld\":[", kind == STOAT_TARGET_INCIDENT ? 'i' : 'a', (long long)target);
            acc = (struct triage_acc){kind, target, true};
        } else {
            buf_putc(&d, ',');
        }
        buf_printf(&d, "{\"state\":%d,\"note\":", sqlite3_column_int(st, 2));
        json_col_text(&d, st, 3);
        buf_puts(&d, ",\"who\":");
        json_col_text(&d, st, 4);
        buf_printf(&d, ",\"at\":%lld}", (long long)sqlite3_column_int64(st, 5));
    }
    if (acc.open)
        buf_putc(&d, ']');
    sqlite3_finalize(st);
    st = NULL;
    if (rc != SQLITE_DONE) {
        store_fail(s, rc, "reading for the report");
        goto fail;
    }
    rc = SQLITE_OK;
    buf_puts(&d, "}}");

    struct buf pd = {0}, pe = {0};
    if (!pack(&d, &pd) || !pack(&ev, &pe)) {
        buf_free(&pd);
        buf_free(&pe);
        snprintf(s->errmsg, sizeof(s->errmsg), "compressing the report's data failed");
        e = STOAT_ERR_NOMEM;
        goto out;
    }
    struct page_parts parts = {.mode = "report", .csp = REPORT_CSP, .csrf = "", .data = pd.p, .data_len = pd.len,
                               .events = pe.p, .events_len = pe.len, .packed = true};
    page_build(&page, &parts);
    buf_free(&pd);
    buf_free(&pe);
    buf_free(&d);
    buf_free(&ev);
    if (fwrite(page.p, 1, page.len, out) != page.len || fflush(out) != 0) {
        snprintf(s->errmsg, sizeof(s->errmsg), "writing the report failed");
        e = STOAT_ERR_IO;
    }
    stats->bytes = page.len;
    goto out;
fail:
    e = rc == SQLITE_NOMEM ? STOAT_ERR_NOMEM : ((rc & 0xff) == SQLITE_CORRUPT || (rc & 0xff) == SQLITE_NOTADB) ? STOAT_ERR_FORMAT
                                                                                                             : STOAT_ERR_IO;
out:
    sqlite3_finalize(st);
    buf_free(&d);
    buf_free(&ev);
    buf_free(&page);
    buf_free(&sel);
    return e;
}
