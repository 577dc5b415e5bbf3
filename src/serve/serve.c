/* The dashboard server. Why it is built this way:
 * - libmicrohttpd (opened when a server starts: mhd.c) with a small thread
 *   pool; each pool thread reads through its own read-only store
 *   connection (SQLite connections are not shared
 *   between threads), opened on first use. Triage writes go through one
 *   writer connection under a mutex. The store's WAL mode means readers see
 *   each commit of a `stoat watch` or `stoat hunt --db` writing the same
 *   file, without waiting for it; the page polls /api/version to notice.
 * - Every request is checked before it is routed: size caps, the Host
 *   header (a loopback server answers only to loopback names, which stops
 *   DNS rebinding), the token when one is configured, and for state changes
 *   the CSRF header, a JSON content type and a same-origin Origin. What
 *   fails a check changes nothing and gets a JSON error with the status.
 * - Connections are bounded before any of that: libmicrohttpd caps them in
 *   number and per client address; guard.c gives each a deadline for its
 *   whole request and keeps a reserve of slots for new clients.
 * - Query parameters are validated one by one against a list; an unknown
 *   or malformed one is a 400, never silently ignored. Values reach SQL
 *   only as bound parameters (src/store/query.c). */
#include <arpa/inet.h>
#include <errno.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>

#include "report/page.h"
#include "serve/guard.h"
#include "serve/mhd.h"
#include "stoat/serve.h"
#include "stoat/store.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/text.h"

#define PAGE_CSP                                                                                \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;" \
    " connect-src 'self'; form-action 'none'; frame-ancestors 'none'; base-uri 'none'"
/* the page's own copy (a <meta> CSP cannot carry frame-ancestors) */
#define PAGE_META_CSP                                                                           \
    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; img-src data:;" \
    " connect-src 'self'; form-action 'none'; base-uri 'none'"
#define MAX_READERS 64
#define REQUEST_MS  3000 /* no request holds a thread longer than this */

struct stoat_serve {
    struct MHD_Daemon *d;
    struct serve_guard *guard; /* deadlines and the reserve of slots */
    char db[1024];
    char token[512];
    size_t token_len;
    bool loopback, log;
    /* known before the daemon starts unless it was 0 (any free port):
     * then the request threads may read it while it is set */
    _Atomic uint16_t port;
    char csrf[65];
    struct buf page;      /* the live page, built once */
    pthread_mutex_t lock; /* readers list and the writer */
    struct stoat_store *readers[MAX_READERS];
    size_t nreaders;
    struct stoat_store *writer;
    /* overview, hosts and rules change only when the store does: their last
     * answer is kept with the version stamp it was made at */
    char *cache_key[3], *cache_val[3];
    size_t cache_len[3];
};

static _Thread_local struct stoat_store *tl_reader;
static _Thread_local struct stoat_serve *tl_owner;

bool stoat_serve_is_loopback(const char *addr)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (!addr)
        return true;
    if (inet_pton(AF_INET, addr, &a4) == 1)
        return (ntohl(a4.s_addr) >> 24) == 127;
    if (inet_pton(AF_INET6, addr, &a6) == 1)
        return IN6_IS_ADDR_LOOPBACK(&a6);
    return false;
}

/* Equal or not, in time that depends only on the expected length. */
static bool ct_equal(const char *given, size_t gn, const char *want, size_t wn)
{
    unsigned char diff = gn != wn;
    for (size_t i = 0; i < wn; i++) {
        unsigned char g = i < gn ? (unsigned char)given[i] : 0;
        diff |= (unsigned char)(g ^ (unsigned char)want[i]);
    }
    return diff == 0;
}

/* ------------------------------------------------------------ responses */

struct req {
    struct buf body;
    bool too_big;
};

static enum MHD_Result send_buf(struct MHD_Connection *c, unsigned status, const char *type, char *data, size_t len,
                                bool page)
{
    struct MHD_Response *r = serve_mhd.create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
    if (!r) {
        free(data);
        return MHD_NO;
    }
    serve_mhd.add_response_header(r, "Content-Type", type);
    serve_mhd.add_response_header(r, "Cache-Control", "no-store");
    serve_mhd.add_response_header(r, "X-Content-Type-Options", "nosniff");
    serve_mhd.add_response_header(r, "Referrer-Policy", "no-referrer");
    serve_mhd.add_response_header(r, "X-Frame-Options", "DENY");
    serve_mhd.add_response_header(r, "Cross-Origin-Resource-Policy", "same-origin");
    if (page)
        serve_mhd.add_response_header(r, "Content-Security-Policy", PAGE_CSP);
    enum MHD_Result ret = serve_mhd.queue_response(c, status, r);
    serve_mhd.destroy_response(r);
    return ret;
}

static enum MHD_Result send_json(struct MHD_Connection *c, unsigned status, char *json, size_t len)
{
    return send_buf(c, status, "application/json; charset=utf-8", json, len, false);
}

static enum MHD_Result send_error(struct MHD_Connection *c, unsigned status, const char *msg)
{
    struct buf b = {0};
    buf_puts(&b, "{\"error\":");
    buf_json_str(&b, msg, strlen(msg));
    buf_puts(&b, "}");
    return send_json(c, status, b.p, b.len);
}

static unsigned status_of(stoat_err e)
{
    switch (e) {
    case STOAT_OK: return MHD_HTTP_OK;
    case STOAT_ERR_NOTFOUND: return MHD_HTTP_NOT_FOUND;
    case STOAT_ERR_ARG:
    case STOAT_ERR_LIMIT: return MHD_HTTP_BAD_REQUEST;
    case STOAT_ERR_IO: return MHD_HTTP_SERVICE_UNAVAILABLE;
    default: return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* ------------------------------------------------------------ store handles */

/* A store's diagnostic as one line for the answer or the caller. */
struct err_line {
    char *p;
    size_t len;
};

static void err_line_diag(void *ctx, const struct stoat_diag *d)
{
    struct err_line *e = ctx;
    if (d->file)
        snprintf(e->p, e->len, "%s: %s", d->file, d->message);
    else
        snprintf(e->p, e->len, "%s", d->message);
}

/* Opens the store with o; on failure err says why. */
static stoat_err open_store(struct stoat_serve *sv, struct stoat_store_opts *o, struct stoat_store **out, char *err,
                            size_t errlen)
{
    struct err_line line = {err, errlen};
    o->diag = err_line_diag;
    o->diag_ctx = &line;
    return stoat_store_open(sv->db, o, out);
}

static struct stoat_store *reader(struct stoat_serve *sv, char *err, size_t errlen)
{
    if (tl_reader && tl_owner == sv)
        return tl_reader;
    struct stoat_store *s = NULL;
    struct stoat_store_opts o = {.readonly = true};
    if (open_store(sv, &o, &s, err, errlen) != STOAT_OK)
        return NULL;
    pthread_mutex_lock(&sv->lock);
    if (sv->nreaders == MAX_READERS) {
        pthread_mutex_unlock(&sv->lock);
        stoat_store_close(s);
        snprintf(err, errlen, "too many threads");
        return NULL;
    }
    sv->readers[sv->nreaders++] = s;
    pthread_mutex_unlock(&sv->lock);
    tl_reader = s;
    tl_owner = sv;
    return s;
}

/* ------------------------------------------------------------ parameters */

struct params {
    struct stoat_filter f;
    char bad[256];
    int n;
    int paging;  /* of n: offset and limit */
    bool search; /* /api/search: q is required */
};

static bool parse_u64(const char *v, uint64_t max, uint64_t *out)
{
    if (!v || !*v || strlen(v) > 20)
        return false;
    uint64_t x = 0;
    for (const char *p = v; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        uint64_t d = (uint64_t)(*p - '0');
        if (x > (UINT64_MAX - d) / 10)
            return false;
        x = x * 10 + d;
    }
    if (x > max)
        return false;
    *out = x;
    return true;
}

/* nanoseconds, or an ISO 8601 time */
static bool parse_time(const char *v, int64_t *out)
{
    uint64_t x;
    if (parse_u64(v, INT64_MAX, &x)) {
        *out = (int64_t)x;
        return true;
    }
    struct timestamp ts;
    if (!parse_timestamp(v, strlen(v), &ts))
        return false;
    *out = timestamp_to_ns(&ts);
    return true;
}

static enum MHD_Result param_cb(void *cls, enum MHD_ValueKind kind, const char *key, size_t key_size, const char *value,
                                size_t value_size)
{
    (void)kind;
    struct params *p = cls;
    if (p->bad[0])
        return MHD_NO;
    if (strlen(key) != key_size || (value && strlen(value) != value_size)) {
        snprintf(p->bad, sizeof(p->bad), "a parameter holds a NUL byte");
        return MHD_NO;
    }
    if (++p->n > 20) {
        snprintf(p->bad, sizeof(p->bad), "too many parameters");
        return MHD_NO;
    }
    struct stoat_filter *f = &p->f;
    const char *v = value ? value : "";
    if (strlen(v) > STOAT_SERVE_MAX_PARAM) {
        snprintf(p->bad, sizeof(p->bad), "parameter '%.40s' is too long", key);
        return MHD_NO;
    }
    uint64_t u;
    if (!strcmp(key, "host"))
        f->host = *v ? v : NULL;
    else if (!strcmp(key, "rule"))
        f->rule = *v ? v : NULL;
    else if (!strcmp(key, "tactic"))
        f->tactic = *v ? v : NULL;
    else if (!strcmp(key, "technique"))
        f->technique = *v ? v : NULL;
    else if (!strcmp(key, "q"))
        f->q = *v ? v : NULL;
    else if (!strcmp(key, "level")) {
        enum stoat_level l;
        if (!*v)
            ;
        else if (parse_u64(v, 5, &u))
            f->min_level = (int)u;
        else if (stoat_level_parse(v, &l))
            f->min_level = (int)l;
        else
            snprintf(p->bad, sizeof(p->bad), "level must be 0-5 or a level name");
    } else if (!strcmp(key, "state")) {
        enum stoat_triage t;
        if (!*v)
            ;
        else if (stoat_triage_parse(v, &t))
            f->state = (int)t;
        else
            snprintf(p->bad, sizeof(p->bad), "state must be new, acknowledged, false-positive or closed");
    } else if (!strcmp(key, "incident")) {
        if (*v && (!parse_u64(v, INT64_MAX, &u) || u == 0))
            snprintf(p->bad, sizeof(p->bad), "incident must be a positive number");
        else if (*v)
            f->incident = u;
    } else if (!strcmp(key, "limit")) {
        p->paging++;
        if (!parse_u64(v, 1000, &u) || u == 0)
            snprintf(p->bad, sizeof(p->bad), "limit must be a number from 1 to 1000");
        else
            f->limit = (unsigned)u;
    } else if (!strcmp(key, "offset")) {
        p->paging++;
        if (!parse_u64(v, 100000, &u))
            snprintf(p->bad, sizeof(p->bad), "offset must be a number from 0 to 100000");
        else
            f->offset = (unsigned)u;
    } else if (!strcmp(key, "order")) {
        if (!strcmp(v, "oldest"))
            f->oldest_first = true;
        else if (strcmp(v, "newest"))
            snprintf(p->bad, sizeof(p->bad), "order must be newest or oldest");
    } else if (!strcmp(key, "from") || !strcmp(key, "to")) {
        int64_t t;
        if (*v && !parse_time(v, &t))
            snprintf(p->bad, sizeof(p->bad), "%s must be nanoseconds or an ISO 8601 time", key);
        else if (*v)
            *(key[0] == 'f' ? &f->from_ns : &f->to_ns) = t;
    } else if (!strcmp(key, "cursor")) {
        /* "NS:ID" from a page's "next" */
        const char *colon = strchr(v, ':');
        char ns[32];
        uint64_t a, b;
        if (!*v)
            ;
        else if (!colon || (size_t)(colon - v) >= sizeof(ns) ||
                 (memcpy(ns, v, (size_t)(colon - v)), ns[colon - v] = 0, !parse_u64(ns, INT64_MAX, &a)) ||
                 !parse_u64(colon + 1, INT64_MAX, &b))
            snprintf(p->bad, sizeof(p->bad), "cursor must be the 'next' value of a page");
        else {
            f->has_cursor = true;
            f->cursor_ns = (int64_t)a;
            f->cursor_id = b;
        }
    } else {
        snprintf(p->bad, sizeof(p->bad), "unknown parameter '%.40s'", key);
    }
    return p->bad[0] ? MHD_NO : MHD_YES;
}

/* ------------------------------------------------------------ triage body */

/* A flat JSON object of strings and numbers, the only shape /api/triage
 * takes. Strings are decoded into out (NUL-terminated copies). */
struct jfield {
    char key[16];
    char *val;
    bool is_num;
};

static void skip_ws(const char **p, const char *e)
{
    while (*p < e && (**p == ' ' || **p == '\t' || **p == '\n' || **p == '\r'))
        (*p)++;
}

static bool jstring(const char **p, const char *e, struct buf *out)
{
    if (*p >= e || **p != '"')
        return false;
    (*p)++;
    while (*p < e && **p != '"') {
        unsigned char c = (unsigned char)**p;
        if (c < 0x20)
            return false;
        if (c != '\\') {
            buf_putc(out, (char)c);
            (*p)++;
            continue;
        }
        if (++*p >= e)
            return false;
        char x = **p;
        (*p)++;
        switch (x) {
        case '"': buf_putc(out, '"'); break;
        case '\\': buf_putc(out, '\\'); break;
        case '/': buf_putc(out, '/'); break;
        case 'b': buf_putc(out, '\b'); break;
        case 'f': buf_putc(out, '\f'); break;
        case 'n': buf_putc(out, '\n'); break;
        case 'r': buf_putc(out, '\r'); break;
        case 't': buf_putc(out, '\t'); break;
        case 'u': {
            if (e - *p < 4)
                return false;
            uint32_t cp = 0;
            for (int k = 0; k < 4; k++) {
                char h = (*p)[k];
                cp <<= 4;
                if (h >= '0' && h <= '9')
                    cp |= (uint32_t)(h - '0');
                else if ((h | 32) >= 'a' && (h | 32) <= 'f')
                    cp |= (uint32_t)((h | 32) - 'a' + 10);
                else
                    return false;
            }
            *p += 4;
            if (cp >= 0xd800 && cp <= 0xdfff)
                cp = 0xfffd; /* surrogates: not worth pairing for a note */
            if (cp == 0)
                return false;
            char u[4];
            buf_put(out, u, utf8_encode(cp, u));
            break;
        }
        default: return false;
        }
    }
    if (*p >= e)
        return false;
    (*p)++;
    return true;
}

static bool parse_flat(const char *s, size_t n, struct jfield *fs, size_t maxf, size_t *nf)
{
    const char *p = s, *e = s + n;
    struct buf tmp = {0};
    bool ok = false;
    *nf = 0;
    skip_ws(&p, e);
    if (p >= e || *p != '{')
        goto out;
    p++;
    skip_ws(&p, e);
    if (p < e && *p == '}') {
        p++;
        ok = true;
        goto out;
    }
    for (;;) {
        buf_clear(&tmp);
        skip_ws(&p, e);
        if (!jstring(&p, e, &tmp) || tmp.len >= sizeof(fs[0].key) || *nf == maxf)
            goto out;
        struct jfield *f = &fs[(*nf)++];
        memcpy(f->key, tmp.p, tmp.len + 1);
        f->val = NULL;
        f->is_num = false;
        skip_ws(&p, e);
        if (p >= e || *p != ':')
            goto out;
        p++;
        skip_ws(&p, e);
        buf_clear(&tmp);
        if (p < e && *p == '"') {
            if (!jstring(&p, e, &tmp))
                goto out;
            f->val = xstrndup(tmp.p ? tmp.p : "", tmp.len);
            if (strlen(f->val) != tmp.len) /* a NUL inside */
                goto out;
        } else if (p < e && (*p == '-' || (*p >= '0' && *p <= '9'))) {
            while (p < e && ((*p >= '0' && *p <= '9') || *p == '-') && tmp.len < 24)
                buf_putc(&tmp, *p++);
            f->is_num = true;
            f->val = xstrndup(tmp.p, tmp.len);
        } else if (e - p >= 4 && !memcmp(p, "null", 4)) {
            p += 4;
        } else {
            goto out;
        }
        skip_ws(&p, e);
        if (p < e && *p == ',') {
            p++;
            continue;
        }
        if (p < e && *p == '}') {
            p++;
            ok = true;
            break;
        }
        goto out;
    }
out:
    skip_ws(&p, e);
    ok = ok && p == e;
    buf_free(&tmp);
    return ok;
}

static void free_fields(struct jfield *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(fs[i].val);
}

static const char *jget(struct jfield *fs, size_t n, const char *key, bool *is_num)
{
    for (size_t i = 0; i < n; i++)
        if (!strcmp(fs[i].key, key)) {
            if (is_num)
                *is_num = fs[i].is_num;
            return fs[i].val;
        }
    return NULL;
}

static enum MHD_Result do_triage(struct stoat_serve *sv, struct MHD_Connection *c, struct req *rq)
{
    struct jfield fs[8];
    size_t nf = 0;
    enum MHD_Result ret;
    if (!parse_flat(rq->body.p ? rq->body.p : "", rq->body.len, fs, 8, &nf)) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, "the body must be a JSON object {kind, id, state, note, who}");
        goto out;
    }
    for (size_t i = 0; i < nf; i++)
        if (strcmp(fs[i].key, "kind") && strcmp(fs[i].key, "id") && strcmp(fs[i].key, "state") &&
            strcmp(fs[i].key, "note") && strcmp(fs[i].key, "who")) {
            ret = send_error(c, MHD_HTTP_BAD_REQUEST, "unknown field in the body");
            goto out;
        }
    bool num = false;
    const char *kind = jget(fs, nf, "kind", NULL), *idv = jget(fs, nf, "id", &num);
    const char *state = jget(fs, nf, "state", NULL), *note = jget(fs, nf, "note", NULL),
               *who = jget(fs, nf, "who", NULL);
    enum stoat_target target;
    enum stoat_triage t;
    uint64_t id;
    if (!kind || (strcmp(kind, "alert") && strcmp(kind, "incident"))) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, "kind must be alert or incident");
        goto out;
    }
    target = kind[0] == 'a' ? STOAT_TARGET_ALERT : STOAT_TARGET_INCIDENT;
    if (!idv || !parse_u64(idv, INT64_MAX, &id) || id == 0) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, "id must be a positive number");
        goto out;
    }
    if (!state || !stoat_triage_parse(state, &t)) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, "state must be new, acknowledged, false-positive or closed");
        goto out;
    }
    if ((note && strlen(note) > STOAT_TRIAGE_NOTE_MAX) || (who && strlen(who) > STOAT_TRIAGE_WHO_MAX)) {
        ret = send_error(c, MHD_HTTP_BAD_REQUEST, "note or name too long");
        goto out;
    }
    pthread_mutex_lock(&sv->lock);
    char err[2048] = "";
    stoat_err e = STOAT_OK;
    if (!sv->writer) {
        struct stoat_store_opts o = {.create = false, .batch_alerts = 1};
        e = open_store(sv, &o, &sv->writer, err, sizeof(err));
    }
    if (e == STOAT_OK) {
        e = stoat_store_set_triage(sv->writer, target, id, t, note, who);
        if (e != STOAT_OK)
            snprintf(err, sizeof(err), "%s", stoat_store_errmsg(sv->writer));
    }
    pthread_mutex_unlock(&sv->lock);
    if (e != STOAT_OK) {
        ret = send_error(c, status_of(e), e == STOAT_ERR_NOTFOUND ? "no such alert or incident" : err);
        goto out;
    }
    struct buf b = {0};
    buf_printf(&b, "{\"ok\":true,\"kind\":\"%s\",\"id\":%llu,\"state\":\"%s\"}", kind[0] == 'a' ? "alert" : "incident",
               (unsigned long long)id, stoat_triage_name(t));
    ret = send_json(c, MHD_HTTP_OK, b.p, b.len);
out:
    free_fields(fs, nf);
    return ret;
}

/* ------------------------------------------------------------ checks */

/* "NAME", "NAME:PORT", "[V6]" or "[V6]:PORT", where NAME is localhost or a
 * loopback literal and PORT ours; no port means 80, HTTP's default, which is
 * what browsers send for a server on port 80. */
static bool host_ok(struct stoat_serve *sv, struct MHD_Connection *c)
{
    if (!sv->loopback)
        return true; /* the token guards other addresses */
    const char *h = serve_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (!h)
        return false;
    const char *name = h, *end;
    if (h[0] == '[') {
        name = h + 1;
        if (!(end = strchr(name, ']')))
            return false;
        end++; /* the port, if any, follows the bracket */
    } else {
        end = h + strcspn(h, ":");
    }
    size_t nlen = (size_t)(end - name) - (h[0] == '[');
    char addr[64];
    if (nlen == 0 || nlen >= sizeof(addr))
        return false;
    memcpy(addr, name, nlen);
    addr[nlen] = 0;
    uint64_t port = 80;
    if (*end && (*end != ':' || !parse_u64(end + 1, 65535, &port)))
        return false;
    return port == atomic_load_explicit(&sv->port, memory_order_relaxed) &&
           (!strcasecmp(addr, "localhost") || stoat_serve_is_loopback(addr));
}

static bool token_ok(struct stoat_serve *sv, struct MHD_Connection *c)
{
    if (!sv->token_len)
        return true;
    const char *auth = serve_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Authorization");
    if (auth && !strncasecmp(auth, "Bearer ", 7))
        return ct_equal(auth + 7, strlen(auth + 7), sv->token, sv->token_len);
    const char *cookie = serve_mhd.lookup_connection_value(c, MHD_COOKIE_KIND, "stoat_token");
    if (cookie)
        return ct_equal(cookie, strlen(cookie), sv->token, sv->token_len);
    return false;
}

/* State changes: the page's CSRF token, JSON, and no foreign origin. */
static const char *csrf_problem(struct stoat_serve *sv, struct MHD_Connection *c)
{
    const char *tok = serve_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "X-Stoat-CSRF");
    if (!tok || !ct_equal(tok, strlen(tok), sv->csrf, strlen(sv->csrf)))
        return "missing or wrong X-Stoat-CSRF header";
    const char *ct = serve_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Content-Type");
    if (!ct || strncasecmp(ct, "application/json", 16) != 0)
        return "the body must be application/json";
    const char *site = serve_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Sec-Fetch-Site");
    if (site && strcmp(site, "same-origin") && strcmp(site, "none"))
        return "cross-site request refused";
    const char *origin = serve_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Origin");
    const char *host = serve_mhd.lookup_connection_value(c, MHD_HEADER_KIND, "Host");
    if (origin) {
        const char *o = origin;
        if (!strncmp(o, "http://", 7))
            o += 7;
        else if (!strncmp(o, "https://", 8))
            o += 8;
        else
            return "foreign origin refused";
        if (!host || strcasecmp(o, host))
            return "foreign origin refused";
    }
    return NULL;
}

/* ------------------------------------------------------------ routing */

static void log_line(struct stoat_serve *sv, const char *method, const char *url, unsigned status)
{
    if (sv->log)
        fprintf(stderr, "%s %.200s -> %u\n", method, url, status);
}

typedef stoat_err (*list_fn)(struct stoat_store *, const struct stoat_filter *, char **, size_t *);
typedef stoat_err (*doc_fn)(struct stoat_store *, char **, size_t *);
typedef stoat_err (*one_fn)(struct stoat_store *, uint64_t, char **, size_t *);

static enum MHD_Result answer(struct stoat_serve *sv, struct MHD_Connection *c, stoat_err e, struct stoat_store *s,
                              char *json, size_t len)
{
    if (e != STOAT_OK) {
        free(json);
        return send_error(c, status_of(e), stoat_store_errmsg(s));
    }
    (void)sv;
    return send_json(c, MHD_HTTP_OK, json, len);
}

static enum MHD_Result route_get(struct stoat_serve *sv, struct MHD_Connection *c, const char *url)
{
    if (!strcmp(url, "/") || !strcmp(url, "/index.html")) {
        char *p = xmalloc(sv->page.len + 1);
        memcpy(p, sv->page.p, sv->page.len + 1);
        return send_buf(c, MHD_HTTP_OK, "text/html; charset=utf-8", p, sv->page.len, true);
    }
    if (!strcmp(url, "/login")) {
        const char *t = serve_mhd.lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "token");
        if (!sv->token_len || !t || !ct_equal(t, strlen(t), sv->token, sv->token_len))
            return send_error(c, MHD_HTTP_UNAUTHORIZED, "wrong or missing token");
        struct MHD_Response *r = serve_mhd.create_response_from_buffer(0, (void *)"", MHD_RESPMEM_PERSISTENT);
        if (!r)
            return MHD_NO;
        struct buf ck = {0};
        buf_puts(&ck, "stoat_token=");
        buf_put(&ck, sv->token, sv->token_len);
        buf_puts(&ck, "; Path=/; HttpOnly; SameSite=Strict");
        serve_mhd.add_response_header(r, "Set-Cookie", ck.p);
        serve_mhd.add_response_header(r, "Location", "/");
        serve_mhd.add_response_header(r, "Cache-Control", "no-store");
        serve_mhd.add_response_header(r, "Referrer-Policy", "no-referrer");
        enum MHD_Result ret = serve_mhd.queue_response(c, MHD_HTTP_SEE_OTHER, r);
        serve_mhd.destroy_response(r);
        buf_free(&ck);
        return ret;
    }
    if (strncmp(url, "/api/", 5))
        return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
    const char *r = url + 5;
    struct params p;
    memset(&p, 0, sizeof(p));
    stoat_filter_init(&p.f);
    serve_mhd.get_connection_values_n(c, MHD_GET_ARGUMENT_KIND, param_cb, &p);
    if (p.bad[0])
        return send_error(c, MHD_HTTP_BAD_REQUEST, p.bad);
    char err[2048];
    struct stoat_store *s = reader(sv, err, sizeof(err));
    if (!s)
        return send_error(c, MHD_HTTP_SERVICE_UNAVAILABLE, err);
    stoat_store_set_deadline(s, REQUEST_MS);
    char *json = NULL;
    size_t len = 0;
    stoat_err e;
    doc_fn doc = !strcmp(r, "overview")  ? stoat_store_overview_json
                 : !strcmp(r, "hosts")   ? stoat_store_hosts_json
                 : !strcmp(r, "rules")   ? stoat_store_rules_json
                 : !strcmp(r, "version") ? stoat_store_version_json
                 : !strcmp(r, "fleet")   ? stoat_store_fleet_json
                                         : NULL;
    if (doc) {
        if (p.n)
            return send_error(c, MHD_HTTP_BAD_REQUEST, "this route takes no parameters");
        int slot = doc == stoat_store_overview_json ? 0
                   : doc == stoat_store_hosts_json  ? 1
                   : doc == stoat_store_rules_json  ? 2
                                                    : -1;
        char *ver = NULL;
        size_t vlen = 0;
        if (slot >= 0 && stoat_store_version_json(s, &ver, &vlen) == STOAT_OK) {
            pthread_mutex_lock(&sv->lock);
            if (sv->cache_key[slot] && !strcmp(sv->cache_key[slot], ver)) {
                len = sv->cache_len[slot];
                json = xmalloc(len + 1);
                memcpy(json, sv->cache_val[slot], len + 1);
            }
            pthread_mutex_unlock(&sv->lock);
            if (json) {
                free(ver);
                return send_json(c, MHD_HTTP_OK, json, len);
            }
        }
        e = doc(s, &json, &len);
        if (e == STOAT_OK && ver) {
            char *copy = xmalloc(len + 1);
            memcpy(copy, json, len + 1);
            pthread_mutex_lock(&sv->lock);
            free(sv->cache_key[slot]);
            free(sv->cache_val[slot]);
            sv->cache_key[slot] = ver;
            sv->cache_val[slot] = copy;
            sv->cache_len[slot] = len;
            pthread_mutex_unlock(&sv->lock);
            ver = NULL;
        }
        free(ver);
        return answer(sv, c, e, s, json, len);
    }
    if (!strcmp(r, "alerts") || !strcmp(r, "search")) {
        if (r[0] == 's' && !p.f.q)
            return send_error(c, MHD_HTTP_BAD_REQUEST, "search needs q");
        e = stoat_store_alerts_json(s, &p.f, &json, &len);
        return answer(sv, c, e, s, json, len);
    }
    if (!strcmp(r, "incidents")) {
        e = stoat_store_incidents_json(s, &p.f, &json, &len);
        return answer(sv, c, e, s, json, len);
    }
    /* alerts/ID, alerts/ID/tree, incidents/ID, incidents/ID/alerts (paged) */
    bool inc = !strncmp(r, "incidents/", 10), al = !strncmp(r, "alerts/", 7);
    if (inc || al) {
        const char *idp = r + (inc ? 10 : 7);
        char idbuf[24];
        const char *slash = strchr(idp, '/');
        size_t il = slash ? (size_t)(slash - idp) : strlen(idp);
        uint64_t id;
        if (il == 0 || il >= sizeof(idbuf))
            return send_error(c, MHD_HTTP_BAD_REQUEST, "the id must be a positive number");
        memcpy(idbuf, idp, il);
        idbuf[il] = 0;
        if (!parse_u64(idbuf, INT64_MAX, &id) || id == 0)
            return send_error(c, MHD_HTTP_BAD_REQUEST, "the id must be a positive number");
        if (inc && slash && !strcmp(slash, "/alerts")) {
            if (p.n != p.paging + (p.f.host != NULL))
                return send_error(c, MHD_HTTP_BAD_REQUEST, "this route takes only host, offset and limit");
            e = stoat_store_incident_alerts_json(s, id, p.f.host, p.f.offset, p.f.limit, &json, &len);
            return answer(sv, c, e, s, json, len);
        }
        if (p.n)
            return send_error(c, MHD_HTTP_BAD_REQUEST, "this route takes no parameters");
        one_fn one = NULL;
        if (!slash)
            one = inc ? stoat_store_incident_json : stoat_store_alert_json;
        else if (al && !strcmp(slash, "/tree"))
            one = stoat_store_tree_json;
        if (!one)
            return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
        e = one(s, id, &json, &len);
        return answer(sv, c, e, s, json, len);
    }
    return send_error(c, MHD_HTTP_NOT_FOUND, "not found");
}

static enum MHD_Result handler(void *cls, struct MHD_Connection *c, const char *url, const char *method,
                               const char *version, const char *upload, size_t *upload_size, void **con_cls)
{
    (void)version;
    struct stoat_serve *sv = cls;
    bool post = !strcmp(method, "POST");
    if (!*con_cls) {
        /* answer only once the whole request is in: a response queued
         * earlier makes libmicrohttpd close the connection after it */
        struct req *rq = xcalloc(1, sizeof(*rq));
        *con_cls = rq;
        return MHD_YES;
    }
    struct req *rq = *con_cls;
    if (*upload_size) {
        /* a body: kept up to the cap for POST, otherwise dropped; the
         * answer (413, 405) comes once the request is in */
        size_t n = *upload_size;
        *upload_size = 0;
        if (!post || rq->too_big)
            return MHD_YES;
        if (rq->body.len + n > STOAT_SERVE_MAX_BODY) {
            rq->too_big = true;
            buf_free(&rq->body);
        } else {
            buf_put(&rq->body, upload, n);
        }
        return MHD_YES;
    }
    serve_guard_request_in(sv->guard, c);
    enum MHD_Result ret;
    unsigned st = 0;
    if (strlen(url) > STOAT_SERVE_MAX_URL)
        ret = send_error(c, st = MHD_HTTP_URI_TOO_LONG, "request target too long");
    else if (!host_ok(sv, c))
        ret = send_error(c, st = MHD_HTTP_FORBIDDEN, "unexpected Host header");
    else if (strcmp(url, "/login") && !token_ok(sv, c))
        ret = send_error(c, st = MHD_HTTP_UNAUTHORIZED,
                         "a token is needed: Authorization: Bearer TOKEN, or /login?token=TOKEN");
    else if (!strcmp(method, "GET") || !strcmp(method, "HEAD"))
        ret = route_get(sv, c, url), st = 200;
    else if (post && !strcmp(url, "/api/triage")) {
        const char *why = csrf_problem(sv, c);
        if (why)
            ret = send_error(c, st = MHD_HTTP_FORBIDDEN, why);
        else if (rq->too_big)
            ret = send_error(c, st = MHD_HTTP_CONTENT_TOO_LARGE, "body too large");
        else
            ret = do_triage(sv, c, rq), st = 200;
    } else if (post)
        ret = send_error(c, st = MHD_HTTP_NOT_FOUND, "not found");
    else
        ret = send_error(c, st = MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    log_line(sv, method, url, st);
    return ret;
}

static void completed(void *cls, struct MHD_Connection *c, void **con_cls, enum MHD_RequestTerminationCode toe)
{
    struct stoat_serve *sv = cls;
    (void)toe;
    serve_guard_answered(sv->guard, c);
    struct req *rq = *con_cls;
    if (rq) {
        buf_free(&rq->body);
        free(rq);
    }
    *con_cls = NULL;
}

/* ------------------------------------------------------------ life */

stoat_err stoat_serve_start(const struct stoat_serve_opts *o, struct stoat_serve **out)
{
    *out = NULL;
    char err[2048] = "";
    const size_t errlen = sizeof(err);
    const char *addr = o->addr ? o->addr : "127.0.0.1";
    struct stoat_serve *sv = xcalloc(1, sizeof(*sv));
    stoat_err e = STOAT_OK;
    pthread_mutex_init(&sv->lock, NULL);
    snprintf(sv->db, sizeof(sv->db), "%s", o->db_path ? o->db_path : "");
    sv->loopback = stoat_serve_is_loopback(addr);
    atomic_init(&sv->port, o->port);
    sv->log = o->log;
    if (o->token) {
        size_t n = strlen(o->token);
        if (n < 16 || n >= sizeof(sv->token)) {
            snprintf(err, errlen, "the token must be 16 to %zu characters", sizeof(sv->token) - 1);
            e = STOAT_ERR_ARG;
            goto out;
        }
        memcpy(sv->token, o->token, n + 1);
        sv->token_len = n;
    }
    if (!sv->loopback && !sv->token_len) {
        snprintf(err, errlen, "%s is not a loopback address: give a token (--token or --token-file)", addr);
        e = STOAT_ERR_ARG;
        goto out;
    }
    /* the store must open now, so a wrong file is a clear error at start */
    char serr[2048];
    struct stoat_store *probe = NULL;
    struct stoat_store_opts ro = {.readonly = true};
    if ((e = open_store(sv, &ro, &probe, serr, sizeof(serr))) != STOAT_OK) {
        snprintf(err, errlen, "%s", serr);
        goto out;
    }
    stoat_store_close(probe);
    unsigned char rnd[32];
    if (getrandom(rnd, sizeof(rnd), 0) != (ssize_t)sizeof(rnd)) {
        snprintf(err, errlen, "no randomness for the CSRF token");
        e = STOAT_ERR_IO;
        goto out;
    }
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(sv->csrf + 2 * i, 3, "%02x", rnd[i]);
    struct page_parts parts = {.mode = "live", .csp = PAGE_META_CSP, .csrf = sv->csrf, .data = "", .data_len = 0};
    page_build(&sv->page, &parts);

    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL;
    struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, addr, &a4->sin_addr) == 1) {
        a4->sin_family = AF_INET;
        a4->sin_port = htons(o->port);
    } else if (inet_pton(AF_INET6, addr, &a6->sin6_addr) == 1) {
        a6->sin6_family = AF_INET6;
        a6->sin6_port = htons(o->port);
        flags |= MHD_USE_IPv6;
    } else {
        snprintf(err, errlen, "'%s' is not an IPv4 or IPv6 address", addr);
        e = STOAT_ERR_ARG;
        goto out;
    }
    unsigned threads = o->threads ? o->threads : 4;
    if (threads > 32)
        threads = 32;
    if (!serve_mhd_open(err, errlen)) {
        e = STOAT_ERR_IO;
        goto out;
    }
    sv->guard = serve_guard_start(STOAT_SERVE_MAX_CONNECTIONS, STOAT_SERVE_RESERVE, STOAT_SERVE_REQUEST_S * 1000u,
                                  STOAT_SERVE_ANSWER_S * 1000u, err, errlen);
    if (!sv->guard) {
        e = STOAT_ERR_IO;
        goto out;
    }
    /* the idle timeout stays as a second line: the guard's deadlines are
     * what bound a connection that keeps trickling */
    sv->d = serve_mhd_start(flags, o->port, handler, sv, MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
                            MHD_OPTION_THREAD_POOL_SIZE, threads, MHD_OPTION_CONNECTION_LIMIT,
                            (unsigned)STOAT_SERVE_MAX_CONNECTIONS, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
                            (unsigned)STOAT_SERVE_PER_ADDRESS, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
                            MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)65536, MHD_OPTION_NOTIFY_COMPLETED, completed,
                            sv, MHD_OPTION_NOTIFY_CONNECTION, serve_guard_notify, sv->guard, MHD_OPTION_END);
    if (!sv->d) {
        snprintf(err, errlen, "cannot listen on %s port %u: %s", addr, o->port, strerror(errno));
        e = STOAT_ERR_IO;
        goto out;
    }
    const union MHD_DaemonInfo *info = serve_mhd.get_daemon_info(sv->d, MHD_DAEMON_INFO_BIND_PORT);
    if (info)
        atomic_store_explicit(&sv->port, info->port, memory_order_relaxed);
out:
    if (e != STOAT_OK) {
        if (o->diag) {
            struct stoat_diag d = {.code = e, .severity = STOAT_SEV_ERROR, .message = err};
            o->diag(o->diag_ctx, &d);
        }
        stoat_serve_stop(sv);
        return e;
    }
    *out = sv;
    return STOAT_OK;
}

uint16_t stoat_serve_port(const struct stoat_serve *s)
{
    return s ? atomic_load_explicit(&s->port, memory_order_relaxed) : 0;
}

void stoat_serve_stop(struct stoat_serve *sv)
{
    if (!sv)
        return;
    if (sv->d)
        serve_mhd.stop_daemon(sv->d);
    serve_guard_stop(sv->guard); /* after the daemon: it reports the last closes */
    for (size_t i = 0; i < sv->nreaders; i++)
        stoat_store_close(sv->readers[i]);
    stoat_store_close(sv->writer);
    for (int i = 0; i < 3; i++) {
        free(sv->cache_key[i]);
        free(sv->cache_val[i]);
    }
    buf_free(&sv->page);
    pthread_mutex_destroy(&sv->lock);
    free(sv);
}
