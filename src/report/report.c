/* `stoat report`: a store as one HTML file.
 *
 * The data goes into the page as one JSON document in compact form, made
 * of the store's export parts (stoat_store_export): alerts as arrays
 * (not objects) with hosts, rules, events and processes given once and
 * referred to by id, because a report of 100,000 alerts must parse and
 * render in a browser in well under two seconds. The browser code (web/
 * app.js, "report" mode) turns that into the same shapes the dashboard's
 * API returns, so one set of views serves both. The report knows nothing
 * of the store's tables: what it says about the file is only its name. The
 * page's CSP forbids every network request: the file works offline and
 * leaks nothing when opened.
 *
 * Both JSON documents (the data, and the events, parsed only when one is
 * opened) go in gzip-compressed and base64-encoded: a browser spends most
 * of a big report's first render just reading the file, and log text
 * compresses about tenfold. The page unpacks them with the browser's own
 * DecompressionStream (no code of ours, no network). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <zlib.h>

#include "report/page.h"
#include "stoat/report.h"
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

/* The data document's keys in order, each with its part of the store; the
 * events (no key) go into a document of their own. Read in this order. */
static const struct {
    const char *key;
    enum stoat_export_part part;
} layout[] = {
    {",\"runs\":", STOAT_EXPORT_RUNS},
    {"},\"rules\":", STOAT_EXPORT_RULES}, /* closes "meta" */
    {",\"hosts\":", STOAT_EXPORT_HOSTS},
    {",\"alerts\":", STOAT_EXPORT_ALERTS},
    {NULL, STOAT_EXPORT_EVENTS},
    {",\"procs\":", STOAT_EXPORT_PROCESSES},
    {",\"corrs\":", STOAT_EXPORT_CORRELATIONS},
    {",\"incidents\":", STOAT_EXPORT_INCIDENTS},
    {",\"triage\":", STOAT_EXPORT_TRIAGE},
};

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void append(void *ctx, const char *text, size_t len)
{
    buf_put(ctx, text, len);
}

/* The data document (d) and the events (ev); stats counts what they hold. */
static stoat_err report_data(struct stoat_store *s, const struct stoat_report_opts *opts, struct buf *d, struct buf *ev,
                             struct stoat_report_stats *stats)
{
    const char *path = stoat_store_path(s);
    int64_t now = now_ns();
    char gen[32];
    format_time_ns(now, gen);
    const char *title = opts->title;
    if (!title) {
        title = strrchr(path, '/');
        title = title ? title + 1 : path;
    }
    buf_printf(d, "{\"meta\":{\"id\":\"%llx-%llx\",\"generated\":\"%.19s UTC\",\"db\":", (unsigned long long)now,
               (unsigned long long)hash_bytes(path, strlen(path), 7), gen);
    buf_json_str(d, title, strlen(title));
    for (size_t i = 0; i < sizeof(layout) / sizeof(layout[0]); i++) {
        uint64_t n;
        if (layout[i].key)
            buf_puts(d, layout[i].key);
        stoat_err e = stoat_store_export(s, layout[i].part, opts->max_alerts, append, layout[i].key ? d : ev, &n);
        if (e != STOAT_OK)
            return e;
        switch (layout[i].part) {
        case STOAT_EXPORT_ALERTS: stats->alerts = n; break;
        case STOAT_EXPORT_EVENTS: stats->events = n; break;
        case STOAT_EXPORT_PROCESSES: stats->processes = n; break;
        case STOAT_EXPORT_INCIDENTS: stats->incidents = n; break;
        default: break;
        }
    }
    buf_putc(d, '}');
    return STOAT_OK;
}

/* One of the report's own failures, for the caller's diagnostics. */
static stoat_err report_fail(const struct stoat_report_opts *opts, stoat_err e, const char *why)
{
    if (opts->diag) {
        struct stoat_diag dg = {.code = e, .severity = STOAT_SEV_ERROR, .message = why};
        opts->diag(opts->diag_ctx, &dg);
    }
    return e;
}

stoat_err stoat_report_write(struct stoat_store *s, const struct stoat_report_opts *opts, FILE *out,
                             struct stoat_report_stats *stats)
{
    struct stoat_report_opts dflt = {0};
    struct stoat_report_stats st0 = {0};
    struct buf d = {0}, ev = {0}, pd = {0}, pe = {0}, page = {0};
    if (!opts)
        opts = &dflt;
    if (!stats)
        stats = &st0;
    memset(stats, 0, sizeof(*stats));
    stoat_err e = report_data(s, opts, &d, &ev, stats);
    if (e != STOAT_OK) {
        stoat_store_diag(s, e, opts->diag, opts->diag_ctx);
        goto out;
    }
    if (!pack(&d, &pd) || !pack(&ev, &pe)) {
        e = report_fail(opts, STOAT_ERR_NOMEM, "compressing the report's data failed");
        goto out;
    }
    buf_free(&d);
    buf_free(&ev);
    struct page_parts parts = {.mode = "report",
                               .csp = REPORT_CSP,
                               .csrf = "",
                               .data = pd.p,
                               .data_len = pd.len,
                               .events = pe.p,
                               .events_len = pe.len,
                               .packed = true};
    page_build(&page, &parts);
    buf_free(&pd);
    buf_free(&pe);
    if (fwrite(page.p, 1, page.len, out) != page.len || fflush(out) != 0)
        e = report_fail(opts, STOAT_ERR_IO, "writing the report failed");
    stats->bytes = page.len;
out:
    buf_free(&d);
    buf_free(&ev);
    buf_free(&pd);
    buf_free(&pe);
    buf_free(&page);
    return e;
}
