/* Reading the store as JSON documents, for the dashboard's API.
 *
 * Why it works this way:
 * - Every value from a request is bound as a parameter; the only SQL text
 *   built at run time is a choice among fixed fragments (which filters are
 *   present), never a value. Names (host, rule) are resolved to row ids
 *   first, so the big table is filtered on integers through its indexes.
 * - Lists page by a cursor (time, id of the last row), which costs the same
 *   on page 1 and page 10,000; counts stop at COUNT_CAP ("10,000 or more")
 *   instead of counting a million rows per request.
 * - Totals, hosts, rules and the timeline read the roll-ups the writer
 *   keeps (count_hour, count_host, count_rule), never the alert table.
 * - Text read back from the file is escaped as JSON strings (invalid UTF-8
 *   becomes U+FFFD); the stored event objects are checked with json_valid
 *   before being copied through, so a doctored file cannot break the page. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "store/store_int.h"
#include "util/mem.h"
#include "util/text.h"

#define COUNT_CAP 10000
#define Q_MAX 512          /* longest search text accepted */

void stoat_filter_init(struct stoat_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->state = -1;
}

/* ------------------------------------------------------------ JSON bits */

void json_key(struct buf *b, bool *first, const char *key)
{
    if (!*first)
        buf_putc(b, ',');
    *first = false;
    buf_putc(b, '"');
    buf_puts(b, key);
    buf_puts(b, "\":");
}

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
static void json_col_raw(struct buf *b, sqlite3_stmt *st, int col, const char *fallback)
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

static void json_col_int(struct buf *b, sqlite3_stmt *st, int col)
{
    if (sqlite3_column_type(st, col) == SQLITE_NULL)
        buf_puts(b, "null");
    else
        buf_printf(b, "%lld", (long long)sqlite3_column_int64(st, col));
}

void json_ns_iso(struct buf *b, int64_t ns)
{
    if (ns <= 0) {
        buf_puts(b, "null");
        return;
    }
    char t[32];
    size_t n = format_time_ns(ns, t);
    buf_putc(b, '"');
    buf_put(b, t, n);
    buf_putc(b, '"');
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
    buf_printf(b, ",\"n\":%lld,\"state\":%d,\"run\":%lld}", (long long)sqlite3_column_int64(st, c + 9),
               sqlite3_column_int(st, c + 10), (long long)sqlite3_column_int64(st, c + 11));
}

/* ------------------------------------------------------------ plumbing */

static stoat_err hand_over(struct buf *b, char **json, size_t *len)
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

static stoat_err step_fail(struct stoat_store *s, sqlite3_stmt *st, int rc, struct buf *b)
{
    stoat_err e = store_fail(s, rc, "reading");
    sqlite3_finalize(st);
    buf_free(b);
    return e;
}

/* Runs st (bound by the caller) and appends each row with emit, as a JSON
 * array. Finalizes st. */
static int rows(sqlite3_stmt *st, struct buf *b, void (*emit)(struct buf *, sqlite3_stmt *, int))
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

/* id of a row by name, 0 when absent, -1 on a database error. */
static int64_t lookup_id(struct stoat_store *s, const char *sql, const char *name)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return -1;
    store_bind_text(st, 1, name);
    int rc = sqlite3_step(st);
    int64_t id = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : rc == SQLITE_DONE ? 0 : -1;
    if (id < 0)
        store_fail(s, rc, "reading");
    sqlite3_finalize(st);
    return id;
}

/* ------------------------------------------------------------ search
 *
 * An alert has a word when the word is a token (as FTS5's ascii tokenizer
 * cuts and folds: letters, digits and UTF-8 bytes, ASCII case folded) of
 * its rule's title, its host's name, its image, command line or user; a
 * search finds the alerts that have all its words. The index (alert_words,
 * see store.c) holds runs of consecutive alerts, without titles and host
 * names, and keeps no positions (it is built for write speed), so:
 * - the words that are in no host name and no rule title ("pure" words)
 *   are matched in the index, all of them at once, which finds the runs
 *   that may hold such alerts; each alert of those runs is then checked
 *   for every word of the search against what it shows (stoat_words), so
 *   a word split across two alerts of a run, or a host's word, is exact;
 * - when every word is in some host name or rule title, the alerts of
 *   those hosts and rules (and those the index finds for the word in
 *   their text) are the candidates, checked the same way.
 * Each word is quoted in the MATCH expression, so FTS syntax in the input
 * (NEAR, column filters, parentheses) is only ever text. */

#define WORDS_MAX 16   /* words of a search; more are ignored */

struct words {
    char buf[Q_MAX + WORDS_MAX + 1];
    const char *t[WORDS_MAX];
    size_t len[WORDS_MAX];
    size_t n;
    bool prefix;        /* the last word is a prefix (what is still being typed) */
};

/* Cuts q into words; false when it is too long. A trailing '*' after the
 * last word makes it a prefix (the form stoat_words is given). */
static bool words_of(const char *q, struct words *ws)
{
    ws->n = 0;
    ws->prefix = false;
    size_t n = strlen(q), at = 0;
    if (n > Q_MAX)
        return false;
    for (size_t i = 0; i < n && ws->n < WORDS_MAX;) {
        if (!store_tok_char((unsigned char)q[i])) {
            i++;
            continue;
        }
        size_t from = i;
        while (i < n && store_tok_char((unsigned char)q[i]))
            i++;
        ws->t[ws->n] = ws->buf + at;
        ws->len[ws->n++] = i - from;
        memcpy(ws->buf + at, q + from, i - from);
        at += i - from;
        ws->buf[at++] = 0;
    }
    ws->prefix = ws->n && n && q[n - 1] == '*';
    return true;
}

/* The form stoat_words and a later words_of read back. */
static void words_put(const struct words *ws, struct buf *b)
{
    buf_clear(b);
    for (size_t i = 0; i < ws->n; i++) {
        if (i)
            buf_putc(b, ' ');
        buf_put(b, ws->t[i], ws->len[i]);
    }
    if (ws->prefix)
        buf_putc(b, '*');
}

/* Marks in found[] the words that are tokens of text (or, for a prefix,
 * start one), comparing as the tokenizer folds: ASCII case only. Returns
 * how many words are found now. Each search checks every alert it reads
 * this way: one pass over the text, not one per word. */
static size_t words_in(const struct words *ws, const char *text, bool *found, size_t nfound)
{
    for (const char *p = text; p && *p && nfound < ws->n;) {
        if (!store_tok_char((unsigned char)*p)) {
            p++;
            continue;
        }
        const char *from = p;
        while (*p && store_tok_char((unsigned char)*p))
            p++;
        size_t len = (size_t)(p - from);
        for (size_t k = 0; k < ws->n; k++) {
            size_t n = ws->len[k];
            if (!found[k] && (len == n || (len > n && ws->prefix && k + 1 == ws->n)) && !strncasecmp(from, ws->t[k], n)) {
                found[k] = true;
                nfound++;
            }
        }
    }
    return nfound;
}


/* stoat_words(words, text, ...): 1 when each of the words is in one of the
 * texts. The words, parsed once per statement, are kept with it. */
static void words_fn(sqlite3_context *ctx, int argc, sqlite3_value **argv)
{
    struct words local, *ws = sqlite3_get_auxdata(ctx, 0);
    if (!ws) {
        const char *q = (const char *)sqlite3_value_text(argv[0]);
        if (!q || !words_of(q, &local)) {
            sqlite3_result_int(ctx, 0);
            return;
        }
        struct words *keep = sqlite3_malloc(sizeof(*keep));
        ws = &local;
        if (keep) {
            /* the words point into buf: moved with it */
            *keep = local;
            for (size_t i = 0; i < keep->n; i++)
                keep->t[i] = keep->buf + (local.t[i] - local.buf);
            sqlite3_set_auxdata(ctx, 0, keep, sqlite3_free);
        }
    }
    bool found[WORDS_MAX] = {false};
    size_t n = 0;
    for (int c = 1; c < argc && n < ws->n; c++)
        n = words_in(ws, (const char *)sqlite3_value_text(argv[c]), found, n);
    sqlite3_result_int(ctx, ws->n > 0 && n == ws->n);
}

int store_words_register(sqlite3 *db)
{
    return sqlite3_create_function_v2(db, "stoat_words", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS, NULL,
                                      words_fn, NULL, NULL, NULL);
}

/* An alert's check against the words (bound first), with ALERT_JOINS. */
#define WORDS_CHECK                                                                                              \
    "stoat_words(?, r.title, h.name, coalesce(a.image, ap.image), coalesce(a.command_line, ap.command_line)," \
    " coalesce(a.user, ap.user))"
/* The runs of the index and their alerts (see store_int.h), newest stored
 * first when ordered by t.rowid, a.id. */
#define RUN_JOIN "alert_words t CROSS JOIN alerts a ON a.id BETWEEN " WORDS_SQL_FIRST("t.rowid") " AND " WORDS_SQL_LAST("t.rowid")

/* A search is run once per request, up to this many matches: fewer are all
 * of them (read by id, in time order); more are walked in the index, newest
 * stored first. Kept small because it is paid by every search. */
#define SEARCH_FEW 500
#define COLLECT_MS 100   /* past this, the matches found so far stand for "many" */

/* How many alerts a filter on a set of rules or on words would find (capped
 * at DRIVE_MAX), to choose the plan: a few are fetched through their index
 * and sorted; many are met soonest by walking the time index newest first,
 * which the unary + in front of the column forces. */
#define DRIVE_MAX 2000

struct where {
    bool fts_join;     /* the runs of the index are joined to the alerts as "t" */
    bool store_order;  /* many matches: walk the index newest stored first */
    struct buf sql;
    /* parameters in order: kinds and values */
    int n;
    int kind[24];      /* 0 int64, 1 text */
    int64_t iv[24];
    const char *tv[24];
    bool empty;        /* a name that does not exist: nothing can match */
    /* the search, done once per request (and reused for the count) */
    bool fts_done, fts_prefix;
    bool noidx;
    bool ids_partial;   /* counting in the newest SEARCH_FEW matches only */
    bool joins;         /* the conditions name h, r, ap (ALERT_JOINS) */
    int nsearch;        /* parameters of the search */
    int64_t host_id, rule_id;   /* resolved names, 0 when not filtered */
    int64_t fts_n;      /* matches found, up to SEARCH_FEW */
    bool named_any;     /* some word is in host names or rule titles: ids are of the pure words only */
    bool ids_none;      /* many matches, not read: no ids */
    bool fts_sure;      /* at least fts_n alerts have the words (read, or runs of one pure word) */
    int64_t run_bound;  /* store_order: the runs' row ids below (newest first) or from (oldest) */
    int64_t named_est;  /* every word named a host or rule: their alerts, by the roll-ups */
    struct buf fts;     /* the MATCH expression of the pure words ("" when none) */
    struct buf words;   /* the words, for stoat_words */
    struct buf ids;     /* up to SEARCH_FEW matches, a JSON array */
    struct buf hids, rids;   /* no pure word: the hosts and rules that have the chosen one */
};

/* With noidx a condition on an indexed column of the alerts is written so
 * that no index serves it ("+a.host_id"): the search's ids drive instead. */
static void w_frag(struct where *w, const char *frag)
{
    buf_puts(&w->sql, w->sql.len ? " AND " : " WHERE ");
    if (w->noidx && !strncmp(frag, "a.", 2))
        buf_putc(&w->sql, '+');
    else if (w->noidx && !strncmp(frag, "(a.", 3)) {
        buf_puts(&w->sql, "(+");
        frag++;
    }
    buf_puts(&w->sql, frag);
}

static void w_int(struct where *w, const char *frag, int64_t v)
{
    w_frag(w, frag);
    w->kind[w->n] = 0;
    w->iv[w->n++] = v;
}

static void w_text(struct where *w, const char *frag, const char *v)
{
    w_frag(w, frag);
    w->kind[w->n] = 1;
    w->tv[w->n++] = v;
}

static void w_more_text(struct where *w, const char *v)
{
    w->kind[w->n] = 1;
    w->tv[w->n++] = v;
}

static void w_bind(struct where *w, sqlite3_stmt *st, int base)
{
    for (int i = 0; i < w->n; i++) {
        if (w->kind[i] == 0)
            sqlite3_bind_int64(st, base + i, w->iv[i]);
        else
            store_bind_text(st, base + i, w->tv[i]);
    }
}

static void w_free(struct where *w)
{
    buf_free(&w->sql);
    buf_free(&w->fts);
    buf_free(&w->words);
    buf_free(&w->ids);
    buf_free(&w->hids);
    buf_free(&w->rids);
}

/* The alerts of the runs that match, checked for the words, newest runs
 * first: how many (up to SEARCH_FEW; SEARCH_FEW also when COLLECT_MS
 * passed first) and their ids as a JSON array. Without names the words
 * are pure (in no host name or rule title): only the alerts' own text is
 * read. */
static int64_t fts_collect(struct stoat_store *s, const char *match, const char *words, bool names, struct buf *ids)
{
    char sql[640];
    if (names)
        snprintf(sql, sizeof(sql), "SELECT a.id FROM " RUN_JOIN ALERT_JOINS " WHERE t.alert_words MATCH ?1 AND " WORDS_CHECK
                 " ORDER BY t.rowid DESC LIMIT %d", SEARCH_FEW);
    else
        snprintf(sql, sizeof(sql), "SELECT a.id FROM " RUN_JOIN " LEFT JOIN processes ap ON ap.id = a.process_id"
                 " WHERE t.alert_words MATCH ?1 AND stoat_words(?2, coalesce(a.image, ap.image),"
                 " coalesce(a.command_line, ap.command_line), coalesce(a.user, ap.user))"
                 " ORDER BY t.rowid DESC LIMIT %d", SEARCH_FEW);
    sqlite3_stmt *st = store_prepare(s, sql);
    buf_clear(ids);
    if (!st)
        return -1;
    store_bind_text(st, 1, match);
    store_bind_text(st, 2, words);
    int64_t n = 0;
    int rc;
    buf_putc(ids, '[');
    s->local_deadline_ns = store_mono_ns() + COLLECT_MS * 1000000LL;
    s->local_hit = false;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW)
        buf_printf(ids, "%s%lld", n++ ? "," : "", (long long)sqlite3_column_int64(st, 0));
    s->local_deadline_ns = 0;
    buf_putc(ids, ']');
    if ((rc & 0xff) == SQLITE_INTERRUPT && s->local_hit) {
        rc = SQLITE_DONE;
        n = SEARCH_FEW;   /* not all of them: many */
    }
    if (rc != SQLITE_DONE)
        store_fail(s, rc, "searching");
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? n : -1;
}

/* How many runs of the index match (up to cap), without reading an alert:
 * as many runs have at least as many alerts with a single word, and the
 * words of several are most often in one alert of a run. -1 on an error. */
static int64_t fts_runs(struct stoat_store *s, const char *match, int64_t cap)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT count(*) FROM (SELECT 1 FROM alert_words WHERE alert_words MATCH ?1"
                                        " LIMIT ?2)");
    if (!st)
        return -1;
    store_bind_text(st, 1, match);
    sqlite3_bind_int64(st, 2, cap);
    int rc = sqlite3_step(st);
    int64_t n = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : -1;
    if (n < 0)
        store_fail(s, rc, "searching");
    sqlite3_finalize(st);
    return n;
}

/* For each word, the hosts and the rules whose name or title has it (JSON
 * arrays, empty when none). SQLITE_OK or a read error. */
static int named_words(struct stoat_store *s, const struct words *ws, struct buf *hosts, struct buf *rules)
{
    static const char *const sql[2] = {"SELECT id, name FROM hosts", "SELECT id, title FROM rules"};
    for (int k = 0; k < 2; k++) {
        struct buf *out = k ? rules : hosts;
        sqlite3_stmt *st = store_prepare(s, sql[k]);
        if (!st)
            return SQLITE_ERROR;
        int rc;
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            bool found[WORDS_MAX] = {false};
            words_in(ws, (const char *)sqlite3_column_text(st, 1), found, 0);
            for (size_t i = 0; i < ws->n; i++)
                if (found[i])
                    buf_printf(&out[i], "%s%lld", out[i].len ? "," : "[", (long long)sqlite3_column_int64(st, 0));
        }
        sqlite3_finalize(st);
        if (rc != SQLITE_DONE)
            return store_fail(s, rc, "searching"), rc;
    }
    for (size_t i = 0; i < ws->n; i++) {
        if (hosts[i].len)
            buf_putc(&hosts[i], ']');
        if (rules[i].len)
            buf_putc(&rules[i], ']');
    }
    return SQLITE_OK;
}

/* Alerts of the hosts and rules (JSON arrays or empty), by the roll-ups: an
 * estimate (an alert of both counts twice). */
static int64_t named_count(struct stoat_store *s, const struct buf *hosts, const struct buf *rules)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT (SELECT coalesce(sum(n), 0) FROM count_host WHERE host_id IN"
                                        " (SELECT value FROM json_each(?1))) + (SELECT coalesce(sum(n), 0) FROM count_rule"
                                        " WHERE rule_id IN (SELECT value FROM json_each(?2)))");
    if (!st)
        return DRIVE_MAX;
    store_bind_text(st, 1, hosts->len ? hosts->p : "[]");
    store_bind_text(st, 2, rules->len ? rules->p : "[]");
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : DRIVE_MAX;
    sqlite3_finalize(st);
    return n;
}

/* Appends src to dst (an empty src may have no memory at all). */
static void buf_add(struct buf *dst, const struct buf *src)
{
    if (src->len)
        buf_put(dst, src->p, src->len);
}

static void fts_word(struct buf *fts, const struct words *ws, size_t i)
{
    if (fts->len)
        buf_puts(fts, " AND ");
    buf_putc(fts, '"');
    buf_put(fts, ws->t[i], ws->len[i]);   /* letters, digits and UTF-8 bytes: no quote inside */
    buf_putc(fts, '"');
    if (ws->prefix && i + 1 == ws->n)
        buf_putc(fts, '*');
}

/* Runs the search once, choosing how its matches are found:
 * - the pure words in the index (w->fts), when they have few matches or
 *   no word names a host or rule: their ids (fewer than SEARCH_FEW) or
 *   "many";
 * - else by the word that names hosts or rules with the fewest alerts:
 *   the alerts of those (hids, rids, named_est) and the index's matches
 *   of the pure words with that word in their text (ids), all checked.
 * -1 on a read error (store_fail has said why). */
static int search_run(struct stoat_store *s, const struct words *ws, struct where *w)
{
    struct buf hosts[WORDS_MAX], rules[WORDS_MAX];
    memset(hosts, 0, sizeof(hosts));
    memset(rules, 0, sizeof(rules));
    int ret = 0;
    words_put(ws, &w->words);
    buf_clear(&w->fts);
    buf_clear(&w->hids);
    buf_clear(&w->rids);
    w->named_est = 0;
    if (named_words(s, ws, hosts, rules) != SQLITE_OK) {
        ret = -1;
        goto out;
    }
    size_t chosen = WORDS_MAX;
    int64_t best = -1;
    struct words pw = {.n = 0};   /* the pure words */
    memcpy(pw.buf, ws->buf, sizeof(pw.buf));
    for (size_t i = 0; i < ws->n; i++) {
        if (hosts[i].len || rules[i].len) {
            int64_t est = named_count(s, &hosts[i], &rules[i]);
            if (best < 0 || est < best)
                best = est, chosen = i;
        } else {
            fts_word(&w->fts, ws, i);
            pw.t[pw.n] = pw.buf + (ws->t[i] - ws->buf);
            pw.len[pw.n++] = ws->len[i];
            pw.prefix = ws->prefix && i + 1 == ws->n;
        }
    }
    w->named_any = chosen != WORDS_MAX;
    if (w->fts.len) {
        /* runs enough for many matches are not read: the listing meets
         * them soonest */
        int64_t runs = fts_runs(s, w->fts.p, SEARCH_FEW);
        if (runs < 0 || runs >= SEARCH_FEW) {
            w->fts_n = runs < 0 ? -1 : SEARCH_FEW;
            w->ids_none = true;
            w->fts_sure = pw.n == 1;   /* each of its runs has an alert with it */
        } else {
            /* checked for the pure words only: a word of hosts or rules
             * that few of these alerts have would make this walk long */
            struct buf pws = {0};
            words_put(&pw, &pws);
            w->fts_n = fts_collect(s, w->fts.p, pws.p, false, &w->ids);
            w->fts_sure = !w->named_any;
            buf_free(&pws);
        }
        if (w->fts_n < SEARCH_FEW || !w->named_any)
            goto out;   /* none (nothing can match), few (their ids), an error, or many of the words alone */
    }
    /* a word of hosts or rules chooses the candidates; with the pure words
     * the index finds those that have it in their text */
    struct buf pure = {0};
    buf_add(&pure, &w->fts);
    fts_word(&w->fts, ws, chosen);
    struct buf ids = {0};
    int64_t n = fts_runs(s, w->fts.p, SEARCH_FEW);
    if (n >= 0 && n < SEARCH_FEW)
        n = fts_collect(s, w->fts.p, w->words.p, true, &ids);
    if (n >= 0 && n >= SEARCH_FEW && pure.len) {
        /* too many of those too: the pure words' many matches stay the way */
        buf_clear(&w->fts);
        buf_add(&w->fts, &pure);
    } else if (n >= 0) {
        buf_clear(&w->ids);
        buf_add(&w->ids, &ids);
        w->fts_n = n;
        w->ids_none = n >= SEARCH_FEW;
        buf_add(&w->hids, &hosts[chosen]);
        buf_add(&w->rids, &rules[chosen]);
        w->named_est = best > 0 ? best : 1;
    } else {
        ret = -1;
    }
    buf_free(&pure);
    buf_free(&ids);
out:
    if (w->fts_n < 0)
        ret = -1;
    for (size_t i = 0; i < WORDS_MAX; i++) {
        buf_free(&hosts[i]);
        buf_free(&rules[i]);
    }
    return ret;
}

static int64_t estimate(struct stoat_store *s, const char *sql, const char *v)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return DRIVE_MAX;
    store_bind_text(st, 1, v);
    int64_t n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int64(st, 0) : DRIVE_MAX;
    sqlite3_finalize(st);
    return n;
}

/* prev: the same filter's listing, whose search is reused for the count. */
static stoat_err alert_where(struct stoat_store *s, const struct stoat_filter *f, struct where *w, bool cursor,
                             const struct where *prev)
{
    memset(w, 0, sizeof(*w));
    bool list = cursor;   /* the listing (not the count) chooses its plan */
    const char *host_name = f->host && *f->host ? f->host : NULL;
    bool others = host_name || (f->rule && *f->rule) || (f->tactic && *f->tactic) || (f->technique && *f->technique) ||
                  f->min_level > 0 || f->state >= 0 || f->incident || f->from_ns || f->to_ns;
    /* filters with an index of their own that can drive a walk */
    bool drives = host_name || (f->rule && *f->rule) || f->incident;
    if (f->q && *f->q) {
        struct words ws;
        if (!words_of(f->q, &ws)) {
            snprintf(s->errmsg, sizeof(s->errmsg), "search text longer than %d bytes", Q_MAX);
            return STOAT_ERR_LIMIT;
        }
        ws.prefix = false;   /* a '*' typed is not syntax */
        if (ws.n) {
            if (prev && prev->fts_done) {
                buf_add(&w->fts, &prev->fts);
                buf_add(&w->words, &prev->words);
                buf_add(&w->ids, &prev->ids);
                buf_add(&w->hids, &prev->hids);
                buf_add(&w->rids, &prev->rids);
                w->fts_n = prev->fts_n;
                w->named_est = prev->named_est;
                w->named_any = prev->named_any;
                w->ids_none = prev->ids_none;
                w->fts_sure = prev->fts_sure;
                w->fts_prefix = prev->fts_prefix;
            } else {
                if (search_run(s, &ws, w) < 0) {
                    w->empty = true;
                    return STOAT_ERR_IO;
                }
                if (w->fts_n == 0 && !w->named_est) {
                    /* nothing has these whole words: the last one is still
                     * being typed */
                    ws.prefix = true;
                    w->fts_prefix = true;
                    if (search_run(s, &ws, w) < 0) {
                        w->empty = true;
                        return STOAT_ERR_IO;
                    }
                }
            }
            w->fts_done = true;
            int64_t n = w->fts_n;
            if (w->named_est) {
                /* the hosts' and rules' alerts and the index's matches of
                 * the chosen word, each checked for all the words; many
                 * candidates are met soonest walking the time index */
                if (n < SEARCH_FEW) {
                    /* only the kinds of candidates there are: each arm
                     * costs a look-up per alert walked */
                    static const char *const arm[3] = {"a.host_id IN (SELECT value FROM json_each(?))",
                                                       "a.rule_id IN (SELECT value FROM json_each(?))",
                                                       "a.id IN (SELECT value FROM json_each(?))"};
                    const char *v[3] = {w->hids.len ? w->hids.p : NULL, w->rids.len ? w->rids.p : NULL,
                                        n ? w->ids.p : NULL};
                    char frag[400] = "(";
                    for (int k = 0; k < 3; k++) {
                        if (!v[k])
                            continue;
                        if (frag[1])
                            strcat(frag, " OR ");
                        if (w->named_est >= DRIVE_MAX)
                            strcat(frag, "+");
                        strcat(frag, arm[k]);
                    }
                    strcat(frag, ")");
                    w_frag(w, frag);
                    for (int k = 0; k < 3; k++)
                        if (v[k])
                            w_more_text(w, v[k]);
                }
                /* else the word is in too many alerts' text to list: the
                 * check alone, walking the time index */
                w_text(w, WORDS_CHECK, w->words.p);
                w->joins = true;
            } else if (n == 0) {
                w->empty = true;
            } else if (n < SEARCH_FEW || (!list && others && !w->ids_none)) {
                /* all of them: the alerts are read by id and put in time
                 * order, and the other filters only check them. Or
                 * counting many matches that other filters narrow: in the
                 * newest SEARCH_FEW matches only, already at hand ("N or
                 * more"), rather than searching again and reading on */
                w_text(w, "a.id IN (SELECT value FROM json_each(?))", w->ids.p);
                w->noidx = true;
                w->ids_partial = n >= SEARCH_FEW;
                if (w->named_any) {
                    /* the ids have the pure words: now all of them */
                    w_text(w, WORDS_CHECK, w->words.p);
                    w->joins = true;
                }
            } else if (drives) {
                /* many, and a host, rule or incident: its index drives and
                 * each of its alerts is checked */
                w_text(w, WORDS_CHECK, w->words.p);
                w->joins = true;
            } else if (list) {
                /* many: the runs in the index are walked newest stored
                 * first, each run's alerts read and checked, up to the page
                 * (the listing does it: SQLite would sort all the matches
                 * to order by run and alert at once) */
                w->store_order = true;
                w->joins = true;
                w_text(w, WORDS_CHECK, w->words.p);
            } else {
                /* counting many: the runs joined to their alerts */
                w->fts_join = true;
                w->joins = true;
                w_text(w, "t.alert_words MATCH ?", w->fts.p);
                w_text(w, WORDS_CHECK, w->words.p);
            }
            w->nsearch = w->n;
        }
    }
    if (f->host && *f->host) {
        int64_t id = lookup_id(s, "SELECT id FROM hosts WHERE name = ?1", f->host);
        if (id < 0)
            return STOAT_ERR_IO;
        if (!id)
            w->empty = true;
        w->host_id = id;
        w_int(w, "a.host_id = ?", id);
    }
    if (f->rule && *f->rule) {
        int64_t id = lookup_id(s, "SELECT id FROM rules WHERE uid = ?1 OR title = ?1 OR key = ?1 ORDER BY id LIMIT 1",
                               f->rule);
        if (id < 0)
            return STOAT_ERR_IO;
        if (!id) {
            /* a numeric rule row id, as the dashboard links use */
            char *end;
            long long v = strtoll(f->rule, &end, 10);
            if (*end == 0 && v > 0)
                id = v;
            else
                w->empty = true;
        }
        w->rule_id = id;
        w_int(w, "a.rule_id = ?", id);
    }
    if (f->tactic && *f->tactic) {
        int64_t est = estimate(s, "SELECT coalesce(sum(n), 0) FROM count_rule WHERE rule_id IN"
                                  " (SELECT rule_id FROM rule_tactics WHERE tactic = ?1)", f->tactic);
        bool many = list && est >= DRIVE_MAX;
        if (est == 0)
            w->empty = true;
        w_text(w, many ? "+a.rule_id IN (SELECT rule_id FROM rule_tactics WHERE tactic = ?)"
                       : "a.rule_id IN (SELECT rule_id FROM rule_tactics WHERE tactic = ?)", f->tactic);
    }
    if (f->technique && *f->technique) {
        int64_t est = estimate(s, "SELECT coalesce(sum(n), 0) FROM count_rule WHERE rule_id IN"
                                  " (SELECT rule_id FROM rule_techniques WHERE technique = ?1"
                                  " OR (technique > ?1 || '.' AND technique < ?1 || '/'))", f->technique);
        bool many = list && est >= DRIVE_MAX;
        if (est == 0)
            w->empty = true;
        w_text(w, many ? "+a.rule_id IN (SELECT rule_id FROM rule_techniques WHERE technique = ?"
                       : "a.rule_id IN (SELECT rule_id FROM rule_techniques WHERE technique = ?", f->technique);
        /* sub-techniques sort between "T1003." and "T1003/" */
        buf_puts(&w->sql, " OR (technique > ? || '.' AND technique < ? || '/'))");
        w->kind[w->n] = 1;
        w->tv[w->n++] = f->technique;
        w->kind[w->n] = 1;
        w->tv[w->n++] = f->technique;
    }
    if (f->min_level > 0) {
        /* an alert's level is its rule's: the rule index finds them, and
         * the level itself is checked too (a rule may have changed since) */
        char lv[16];
        snprintf(lv, sizeof(lv), "%d", f->min_level);
        int64_t est = estimate(s, "SELECT coalesce(sum(n), 0) FROM count_rule WHERE rule_id IN"
                                  " (SELECT id FROM rules WHERE level >= CAST(?1 AS INTEGER))", lv);
        bool many = list && est >= DRIVE_MAX;
        if (est == 0)
            w->empty = true;
        w_int(w, many ? "+a.rule_id IN (SELECT id FROM rules WHERE level >= ?)"
                      : "a.rule_id IN (SELECT id FROM rules WHERE level >= ?)", f->min_level);
        w_int(w, "a.level >= ?", f->min_level);
    }
    if (f->state >= 0)
        w_int(w, "a.state = ?", f->state);
    if (f->incident)
        w_int(w, "a.id IN (SELECT alert_id FROM incident_alerts WHERE incident_id = ?)", (int64_t)f->incident);
    if (f->from_ns)
        w_int(w, "a.time_ns >= ?", f->from_ns);
    if (f->to_ns)
        w_int(w, "a.time_ns <= ?", f->to_ns);
    w->run_bound = f->oldest_first ? 0 : INT64_MAX;
    if (cursor && f->has_cursor && w->store_order) {
        /* the runs that can hold alerts past the cursor's, then those alerts */
        int64_t c = f->cursor_id > (uint64_t)INT64_MAX >> WORDS_SHIFT ? INT64_MAX >> WORDS_SHIFT : (int64_t)f->cursor_id;
        w->run_bound = f->oldest_first ? (c > WORDS_GROUP ? c - WORDS_GROUP + 1 : 0) << WORDS_SHIFT
                                       : (c + 1) << WORDS_SHIFT;
        w_int(w, f->oldest_first ? "a.id > ?" : "a.id < ?", c);
    } else if (cursor && f->has_cursor) {
        /* a row value: the time index serves it as a range */
        w_int(w, f->oldest_first ? "(a.time_ns, a.id) > (?, ?)" : "(a.time_ns, a.id) < (?, ?)", f->cursor_ns);
        w->kind[w->n] = 0;
        w->iv[w->n++] = (int64_t)f->cursor_id;
    }
    return STOAT_OK;
}

#define COUNT_MS 25
#define LIST_MS 250

static unsigned clamp_limit(unsigned l)
{
    return l == 0 ? 100 : l > 1000 ? 1000 : l;
}

/* A filter made only of hosts and of what rules are (rule, level, tactic,
 * technique) is counted exactly from the count_rule roll-up, without
 * reading an alert. false when the filter has anything else. */
static bool rollup_count(struct stoat_store *s, const struct stoat_filter *f, const struct where *w, int64_t *total)
{
    if ((f->q && *f->q) || f->state >= 0 || f->incident || f->from_ns || f->to_ns)
        return false;
    struct where c;
    memset(&c, 0, sizeof(c));
    if (w->host_id)
        w_int(&c, "c.host_id = ?", w->host_id);
    if (w->rule_id)
        w_int(&c, "c.rule_id = ?", w->rule_id);
    if (f->tactic && *f->tactic)
        w_text(&c, "c.rule_id IN (SELECT rule_id FROM rule_tactics WHERE tactic = ?)", f->tactic);
    if (f->technique && *f->technique) {
        w_text(&c, "c.rule_id IN (SELECT rule_id FROM rule_techniques WHERE technique = ?", f->technique);
        buf_puts(&c.sql, " OR (technique > ? || '.' AND technique < ? || '/'))");
        c.kind[c.n] = 1;
        c.tv[c.n++] = f->technique;
        c.kind[c.n] = 1;
        c.tv[c.n++] = f->technique;
    }
    if (f->min_level > 0)
        w_int(&c, "c.rule_id IN (SELECT id FROM rules WHERE level >= ?)", f->min_level);
    struct buf sql = {0};
    buf_printf(&sql, "SELECT coalesce(sum(c.n), 0) FROM count_rule c%s", c.sql.p ? c.sql.p : "");
    sqlite3_stmt *st = store_prepare(s, sql.p);
    bool ok = false;
    if (st) {
        w_bind(&c, st, 1);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *total = sqlite3_column_int64(st, 0);
            ok = true;
        }
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    w_free(&c);
    return ok;
}

/* The listing of many matches, newest stored first: the matching runs from
 * the index, and the alerts of each that pass the filters (w), in order,
 * until the page is full or LIST_MS has passed ("partial"). */
static stoat_err list_by_runs(struct stoat_store *s, const struct stoat_filter *f, struct where *w, unsigned limit,
                              struct buf *b, unsigned *got, int64_t *last_ns, int64_t *last_id, bool *partial)
{
    struct buf sql = {0};
    stoat_err e = STOAT_OK;
    sqlite3_stmt *runs = store_prepare(s, f->oldest_first
                                              ? "SELECT rowid FROM alert_words WHERE alert_words MATCH ?1 AND rowid >= ?2"
                                                " ORDER BY rowid"
                                              : "SELECT rowid FROM alert_words WHERE alert_words MATCH ?1 AND rowid < ?2"
                                                " ORDER BY rowid DESC");
    /* w's conditions begin " WHERE ": they follow the run's range here */
    buf_printf(&sql, "SELECT " ALERT_COLS " FROM alerts a" ALERT_JOINS " WHERE a.id BETWEEN ?1 AND ?2 AND %s ORDER BY a.id %s",
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
    while (*got < limit && (rc = sqlite3_step(runs)) == SQLITE_ROW) {
        int64_t r = sqlite3_column_int64(runs, 0), first = (int64_t)((uint64_t)r >> WORDS_SHIFT);
        sqlite3_bind_int64(st, 1, first);
        sqlite3_bind_int64(st, 2, first + (r & (WORDS_GROUP - 1)));
        w_bind(w, st, 3);
        while (*got < limit && (rc = sqlite3_step(st)) == SQLITE_ROW) {
            if (skip) {
                skip--;
                continue;
            }
            if ((*got)++)
                buf_putc(b, ',');
            store_alert_item(b, st, 0);
            *last_ns = sqlite3_column_int64(st, 1);
            *last_id = sqlite3_column_int64(st, 0);
        }
        sqlite3_reset(st);
        if (rc != SQLITE_ROW && rc != SQLITE_DONE)
            break;
        rc = SQLITE_DONE;
    }
    s->local_deadline_ns = 0;
    if (*got >= limit)
        rc = SQLITE_DONE;
    if ((rc & 0xff) == SQLITE_INTERRUPT && s->local_hit) {
        rc = SQLITE_DONE;
        *partial = true;
    }
    if (rc != SQLITE_DONE)
        e = store_fail(s, rc, "listing alerts");
out:
    sqlite3_finalize(runs);
    sqlite3_finalize(st);
    buf_free(&sql);
    return e;
}

stoat_err stoat_store_alerts_json(struct stoat_store *s, const struct stoat_filter *f, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0}, sql = {0};
    struct where w;
    sqlite3_stmt *st = NULL;
    stoat_err e = alert_where(s, f, &w, true, NULL);
    int rc = SQLITE_OK;
    unsigned limit = clamp_limit(f->limit);
    if (e != STOAT_OK)
        goto out;
    buf_puts(&b, "{\"alerts\":[");
    int64_t last_ns = 0, last_id = 0;
    unsigned got = 0;
    bool partial = false;
    if (!w.empty) {
        const char *dir = f->oldest_first ? "ASC" : "DESC";
        if (w.store_order) {
            e = list_by_runs(s, f, &w, limit, &b, &got, &last_ns, &last_id, &partial);
            if (e != STOAT_OK)
                goto out;
        } else {
            buf_printf(&sql, "SELECT " ALERT_COLS " FROM alerts a" ALERT_JOINS "%s ORDER BY a.time_ns %s, a.id %s LIMIT %u OFFSET %u",
                       w.sql.p ? w.sql.p : "", dir, dir, limit, f->offset > 1000000 ? 1000000 : f->offset);
            if (!(st = store_prepare(s, sql.p))) {
                e = STOAT_ERR_IO;
                goto out;
            }
            w_bind(&w, st, 1);
            /* a filter that almost nothing matches can walk the whole table:
             * it is stopped after LIST_MS with what it found ("partial") */
            s->local_deadline_ns = store_mono_ns() + LIST_MS * 1000000LL;
            s->local_hit = false;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
                if (got++)
                    buf_putc(&b, ',');
                store_alert_item(&b, st, 0);
                last_ns = sqlite3_column_int64(st, 1);
                last_id = sqlite3_column_int64(st, 0);
            }
            s->local_deadline_ns = 0;
            if ((rc & 0xff) == SQLITE_INTERRUPT && s->local_hit) {
                rc = SQLITE_DONE;
                partial = true;
            }
            if (rc != SQLITE_DONE) {
                e = store_fail(s, rc, "listing alerts");
                goto out;
            }
            sqlite3_finalize(st);
            st = NULL;
        }
    }
    buf_putc(&b, ']');
    if (partial)
        buf_puts(&b, ",\"partial\":true");
    if (got == limit)
        buf_printf(&b, ",\"next\":\"%lld:%lld\",\"order\":\"%s\"", (long long)last_ns, (long long)last_id,
                   w.store_order ? "stored" : "time");
    else
        buf_puts(&b, ",\"next\":null");
    /* the count ignores the cursor: "N alerts match" */
    int64_t total = 0, cap = COUNT_CAP;
    bool more = false;
    if (!w.empty && !w.named_est && w.fts_n >= SEARCH_FEW) {
        /* many matches: counting them would read and check each of their
         * alerts (and merge again every word a prefix starts), so it is
         * "at least" the SEARCH_FEW known for the words alone, or what the
         * page found; all of them when the page saw every match */
        bool sure = w.fts_sure && w.n == w.nsearch;
        total = sure ? w.fts_n : (int64_t)got;
        more = sure || got == limit || partial || f->has_cursor || f->offset;
    } else if (!w.empty && w.n > 0 && rollup_count(s, f, &w, &total)) {
        cap = INT64_MAX;   /* exact, however many */
    } else if (!w.empty) {
        struct where wc;
        if ((e = alert_where(s, f, &wc, false, &w)) != STOAT_OK) {
            w_free(&wc);
            goto out;
        }
        buf_clear(&sql);
        if (wc.n == 0) {
            buf_puts(&sql, "SELECT coalesce(sum(n), 0) FROM count_hour");
        } else {
            /* the search alone is counted in its index, without reading
             * alerts; many matches with other filters are each read, so
             * that count stops sooner, at SEARCH_FEW ("500 or more") */
            if (wc.fts_join && wc.n > wc.nsearch)
                cap = SEARCH_FEW;
            buf_printf(&sql, "SELECT 1 FROM %s%s%s LIMIT %lld", wc.fts_join ? RUN_JOIN : "alerts a",
                       wc.joins ? ALERT_JOINS : "", wc.sql.p, (long long)cap + 1);
        }
        st = store_prepare(s, sql.p);
        if (!st) {
            w_free(&wc);
            e = STOAT_ERR_IO;
            goto out;
        }
        w_bind(&wc, st, 1);
        if (wc.n == 0) {
            rc = sqlite3_step(st);
            total = rc == SQLITE_ROW ? sqlite3_column_int64(st, 0) : 0;
            rc = rc == SQLITE_ROW ? SQLITE_DONE : rc;
        } else {
            /* count the matches one by one, for at most COUNT_MS: past
             * that the answer is "at least N" */
            s->local_deadline_ns = store_mono_ns() + COUNT_MS * 1000000LL;
            s->local_hit = false;
            while ((rc = sqlite3_step(st)) == SQLITE_ROW)
                total++;
            s->local_deadline_ns = 0;
            if ((rc & 0xff) == SQLITE_INTERRUPT && s->local_hit) {
                rc = SQLITE_DONE;
                more = true;
            }
        }
        if (wc.ids_partial)
            more = true;
        w_free(&wc);
        if (rc != SQLITE_DONE) {
            e = store_fail(s, rc, "counting alerts");
            goto out;
        }
        sqlite3_finalize(st);
        st = NULL;
    }
    if (w.n > 0 && total > cap) {
        total = cap;
        more = true;
    }
    buf_printf(&b, ",\"total\":%lld,\"more\":%s}", (long long)total, more ? "true" : "false");
out:
    sqlite3_finalize(st);
    w_free(&w);
    buf_free(&sql);
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    return hand_over(&b, json, len);
}

/* ------------------------------------------------------------ one alert */

static int triage_history(struct stoat_store *s, struct buf *b, int kind, int64_t id)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT state, note, who, at_ns FROM triage WHERE kind = ?1 AND target_id = ?2"
                                        " ORDER BY id DESC LIMIT 100");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int(st, 1, kind);
    sqlite3_bind_int64(st, 2, id);
    int rc;
    bool first = true;
    buf_putc(b, '[');
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!first)
            buf_putc(b, ',');
        first = false;
        buf_printf(b, "{\"state\":%d,\"note\":", sqlite3_column_int(st, 0));
        json_col_text(b, st, 1);
        buf_puts(b, ",\"who\":");
        json_col_text(b, st, 2);
        buf_printf(b, ",\"at\":%lld}", (long long)sqlite3_column_int64(st, 3));
    }
    buf_putc(b, ']');
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

static void proc_item(struct buf *b, sqlite3_stmt *st, int c)
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

#define PROC_COLS "p.id, p.parent_id, p.image, p.command_line, p.user, p.pid, p.start_ns, p.guid"

/* The ancestry of a process, itself first (depth-capped: a doctored file
 * with a parent cycle ends after 64 steps). */
static int chain(struct stoat_store *s, struct buf *b, int64_t proc)
{
    sqlite3_stmt *st = store_prepare(s, "WITH RECURSIVE up(id, depth) AS (SELECT ?1, 0 UNION ALL"
                                        " SELECT p.parent_id, up.depth + 1 FROM processes p JOIN up ON p.id = up.id"
                                        " WHERE p.parent_id NOT NULL AND up.depth < 63)"
                                        " SELECT " PROC_COLS " FROM up JOIN processes p ON p.id = up.id ORDER BY up.depth");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, proc);
    return rows(st, b, proc_item) == SQLITE_OK ? (sqlite3_finalize(st), SQLITE_OK) : (sqlite3_finalize(st), SQLITE_ERROR);
}

/* A correlation alert's window, value and group, and the alerts it joins. */
static int correlation_doc(struct stoat_store *s, struct buf *b, int64_t id)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT type, value, first_ns, last_ns,"
                                        " CASE WHEN json_valid(grp) AND json_type(grp) = 'object' THEN grp END,"
                                        " CASE WHEN json_valid(evidence) AND json_type(evidence) = 'array' THEN evidence END"
                                        " FROM correlations WHERE alert_id = ?1");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    int rc = sqlite3_step(st);
    if (rc != SQLITE_ROW) {
        sqlite3_finalize(st);
        buf_puts(b, "null");
        return rc == SQLITE_DONE ? SQLITE_OK : rc;
    }
    buf_puts(b, "{\"type\":");
    json_col_text(b, st, 0);
    buf_printf(b, ",\"value\":%.15g,\"first\":", sqlite3_column_double(st, 1));
    json_col_int(b, st, 2);
    buf_puts(b, ",\"last\":");
    json_col_int(b, st, 3);
    buf_puts(b, ",\"group\":");
    json_col_raw(b, st, 4, "{}");
    /* the matches it counted that were not reported (rule, time, a glance) */
    buf_puts(b, ",\"evidence\":");
    json_col_raw(b, st, 5, "[]");
    sqlite3_finalize(st);
    buf_puts(b, ",\"alerts\":");
    st = store_prepare(s, "SELECT " ALERT_COLS " FROM correlation_alerts ca JOIN alerts a ON a.id = ca.alert_id"
                          ALERT_JOINS " WHERE ca.corr_id = ?1 ORDER BY a.time_ns, a.id LIMIT 1000");
    if (!st)
        return SQLITE_ERROR;
    sqlite3_bind_int64(st, 1, id);
    rc = rows(st, b, store_alert_item);
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
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    if (id > INT64_MAX)
        return STOAT_ERR_NOTFOUND;
    sqlite3_stmt *st = store_prepare(s, "SELECT " ALERT_COLS ", " RULE_COLS " FROM alerts a" ALERT_JOINS
                                        " WHERE a.id = ?1");
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
        return step_fail(s, st, rc, &b);
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
        return step_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"tree\":");
    if (proc)
        rc = chain(s, &b, proc);
    else
        buf_puts(&b, "[]"), rc = SQLITE_OK;
    if (rc != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"correlation\":");
    if (corr)
        rc = correlation_doc(s, &b, (int64_t)id);
    else
        buf_puts(&b, "null");
    if (rc != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    /* the correlations that joined this alert */
    buf_puts(&b, ",\"correlations\":");
    if ((rc = id_list(s, &b, "SELECT corr_id FROM correlation_alerts WHERE alert_id = ?1 ORDER BY corr_id LIMIT 100",
                      (int64_t)id)) != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"incidents\":");
    if ((rc = id_list(s, &b, "SELECT incident_id FROM incident_alerts WHERE alert_id = ?1 ORDER BY incident_id",
                      (int64_t)id)) != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"triage\":");
    if ((rc = triage_history(s, &b, STOAT_TARGET_ALERT, (int64_t)id)) != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    buf_putc(&b, '}');
    return hand_over(&b, json, len);
}

stoat_err stoat_store_tree_json(struct stoat_store *s, uint64_t alert_id, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
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
        return step_fail(s, st, rc, &b);
    int64_t proc = sqlite3_column_type(st, 0) == SQLITE_NULL ? 0 : sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    buf_printf(&b, "{\"alert\":%llu,\"tree\":", (unsigned long long)alert_id);
    if (proc)
        rc = chain(s, &b, proc);
    else
        buf_puts(&b, "[]");
    if (rc != SQLITE_OK && rc != SQLITE_ROW)
        return step_fail(s, NULL, rc, &b);
    buf_putc(&b, '}');
    return hand_over(&b, json, len);
}

/* ------------------------------------------------------------ incidents */

stoat_err stoat_store_incidents_json(struct stoat_store *s, const struct stoat_filter *f, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0}, sql = {0};
    struct where w;
    memset(&w, 0, sizeof(w));
    sqlite3_stmt *st = NULL;
    stoat_err e = STOAT_OK;
    int rc;
    if (f->host && *f->host) {
        int64_t id = lookup_id(s, "SELECT id FROM hosts WHERE name = ?1", f->host);
        if (id < 0) {
            e = STOAT_ERR_IO;
            goto out;
        }
        w_int(&w, "i.host_id = ?", id);
    }
    if (f->min_level > 0)
        w_int(&w, "i.level >= ?", f->min_level);
    if (f->state >= 0)
        w_int(&w, "i.state = ?", f->state);
    if (f->tactic && *f->tactic)
        w_text(&w, "EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid(i.tactics) THEN i.tactics END) j"
                   " WHERE j.value = ?)", f->tactic);
    if (f->q && *f->q) {
        if (strlen(f->q) > Q_MAX) {
            e = STOAT_ERR_LIMIT;
            snprintf(s->errmsg, sizeof(s->errmsg), "search text longer than %d bytes", Q_MAX);
            goto out;
        }
        w_text(&w, "instr(lower(i.title || ' ' || h.name), lower(?)) > 0", f->q);
    }
    if (f->from_ns)
        w_int(&w, "i.last_ns >= ?", f->from_ns);
    if (f->to_ns)
        w_int(&w, "i.first_ns <= ?", f->to_ns);
    buf_printf(&sql, "SELECT " INCIDENT_COLS " FROM incidents i JOIN hosts h ON h.id = i.host_id%s"
                     " ORDER BY i.state = 0 DESC, i.level DESC, i.score DESC, i.last_ns DESC LIMIT %u OFFSET %u",
               w.sql.p ? w.sql.p : "", clamp_limit(f->limit), f->offset > 1000000 ? 1000000 : f->offset);
    if (!(st = store_prepare(s, sql.p))) {
        e = STOAT_ERR_IO;
        goto out;
    }
    w_bind(&w, st, 1);
    buf_puts(&b, "{\"incidents\":");
    rc = rows(st, &b, store_incident_item);
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
    w_bind(&w, st, 1);
    if ((rc = sqlite3_step(st)) != SQLITE_ROW) {
        e = store_fail(s, rc, "counting incidents");
        goto out;
    }
    buf_printf(&b, ",\"total\":%lld}", (long long)sqlite3_column_int64(st, 0));
out:
    sqlite3_finalize(st);
    w_free(&w);
    buf_free(&sql);
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    return hand_over(&b, json, len);
}

static void alert_row(struct buf *b, sqlite3_stmt *st, int c)
{
    store_alert_item(b, st, c);
}

stoat_err stoat_store_incident_json(struct stoat_store *s, uint64_t id, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    if (id > INT64_MAX)
        return STOAT_ERR_NOTFOUND;
    sqlite3_stmt *st = store_prepare(s, "SELECT " INCIDENT_COLS " FROM incidents i JOIN hosts h ON h.id = i.host_id"
                                        " WHERE i.id = ?1");
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
        return step_fail(s, st, rc, &b);
    buf_puts(&b, "{\"incident\":");
    store_incident_item(&b, st, 0);
    sqlite3_finalize(st);
    buf_puts(&b, ",\"alerts\":");
    st = store_prepare(s, "SELECT " ALERT_COLS " FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id" ALERT_JOINS
                          " WHERE ia.incident_id = ?1 ORDER BY a.time_ns, a.id LIMIT 5000");
    if (!st)
        return step_fail(s, NULL, SQLITE_ERROR, &b);
    sqlite3_bind_int64(st, 1, (int64_t)id);
    rc = rows(st, &b, alert_row);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    /* the union of the ancestries of its alerts: one tree (or a few) */
    buf_puts(&b, ",\"tree\":");
    st = store_prepare(s, "WITH RECURSIVE up(id, depth) AS ("
                          " SELECT DISTINCT a.process_id, 0 FROM incident_alerts ia JOIN alerts a ON a.id = ia.alert_id"
                          " WHERE ia.incident_id = ?1 AND a.process_id NOT NULL"
                          " UNION SELECT p.parent_id, up.depth + 1 FROM processes p JOIN up ON p.id = up.id"
                          " WHERE p.parent_id NOT NULL AND up.depth < 63)"
                          " SELECT " PROC_COLS " FROM processes p WHERE p.id IN (SELECT id FROM up)"
                          " ORDER BY p.start_ns, p.id LIMIT 5000");
    if (!st)
        return step_fail(s, NULL, SQLITE_ERROR, &b);
    sqlite3_bind_int64(st, 1, (int64_t)id);
    rc = rows(st, &b, proc_item);
    sqlite3_finalize(st);
    if (rc != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    buf_puts(&b, ",\"triage\":");
    if ((rc = triage_history(s, &b, STOAT_TARGET_INCIDENT, (int64_t)id)) != SQLITE_OK)
        return step_fail(s, NULL, rc, &b);
    buf_putc(&b, '}');
    return hand_over(&b, json, len);
}

/* ------------------------------------------------------------ overview */

static stoat_err simple_doc(struct stoat_store *s, const char *head, const char *sql,
                            void (*emit)(struct buf *, sqlite3_stmt *, int), struct buf *b)
{
    sqlite3_stmt *st = store_prepare(s, sql);
    if (!st)
        return STOAT_ERR_IO;
    buf_puts(b, head);
    int rc = rows(st, b, emit);
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

#define HOSTS_SQL                                                                                             \
    "SELECT h.name, c.n, c.mx, c.l0, c.l1, c.l2, c.l3, c.l4, c.l5, c.t0, c.t1,"                             \
    " (SELECT count(*) FROM incidents i WHERE i.host_id = h.id),"                                         \
    " (SELECT count(*) FROM incidents i WHERE i.host_id = h.id AND i.state = 0)"                          \
    " FROM (SELECT host_id, sum(n) n, max(level) mx, sum(n * (level = 0)) l0, sum(n * (level = 1)) l1,"   \
    " sum(n * (level = 2)) l2, sum(n * (level = 3)) l3, sum(n * (level = 4)) l4, sum(n * (level = 5)) l5," \
    " min(nullif(first_ns, 0)) t0, max(last_ns) t1 FROM count_host GROUP BY host_id) c"                     \
    " JOIN hosts h ON h.id = c.host_id ORDER BY c.mx DESC, c.n DESC"

static void rule_count_item(struct buf *b, sqlite3_stmt *st, int c)
{
    buf_printf(b, "{\"n\":%lld,\"hosts\":%lld,\"rule\":", (long long)sqlite3_column_int64(st, c),
               (long long)sqlite3_column_int64(st, c + 1));
    store_rule_item(b, st, c + 2);
    buf_putc(b, '}');
}

#define RULES_SQL                                                                                  \
    "SELECT c.n, c.hosts, " RULE_COLS " FROM (SELECT rule_id, sum(n) n, count(*) hosts"              \
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

stoat_err stoat_store_overview_json(struct stoat_store *s, char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
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
    if ((e = simple_doc(s, ",\"hours\":",
                        "SELECT hour, level, n FROM count_hour WHERE hour > 0 ORDER BY hour LIMIT 200000",
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
    if ((e = simple_doc(s, ",\"incidents\":",
                        "SELECT " INCIDENT_COLS " FROM incidents i JOIN hosts h ON h.id = i.host_id"
                        " ORDER BY i.state = 0 DESC, i.level DESC, i.score DESC, i.last_ns DESC LIMIT 20",
                        store_incident_item, &b)) != STOAT_OK)
        goto out;
    int64_t v = 0;
    sqlite3_stmt *st = store_prepare(s, "SELECT (SELECT coalesce(sum(n), 0) FROM count_hour),"
                                        " (SELECT count(*) FROM incidents), (SELECT count(*) FROM incidents WHERE state = 0),"
                                        " (SELECT count(*) FROM runs), (SELECT max(started_ns) FROM runs)");
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
    buf_printf(&b, ",\"total\":%lld,\"nincidents\":%lld,\"open\":%lld,\"runs\":%lld,\"last_run\":%lld}",
               (long long)v, (long long)sqlite3_column_int64(st, 1), (long long)sqlite3_column_int64(st, 2),
               (long long)sqlite3_column_int64(st, 3), (long long)sqlite3_column_int64(st, 4));
    sqlite3_finalize(st);
out:
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    return hand_over(&b, json, len);
}

/* {"<name>": [the rows of sql, each written by emit]} */
static stoat_err list_doc(struct stoat_store *s, const char *head, const char *sql,
                          void (*emit)(struct buf *, sqlite3_stmt *, int), char **json, size_t *len)
{
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
    if (qe != STOAT_OK)
        return qe;
    struct buf b = {0};
    stoat_err e = simple_doc(s, head, sql, emit, &b);
    if (e != STOAT_OK) {
        buf_free(&b);
        return e;
    }
    buf_putc(&b, '}');
    return hand_over(&b, json, len);
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
    stoat_err qe = store_quiesce(s);   /* a writer's own queue first */
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
        return step_fail(s, st, rc, &b);
    buf_printf(&b, "{\"alerts\":%lld,\"incidents\":%lld,\"triage\":%lld,\"runs\":%lld}",
               (long long)sqlite3_column_int64(st, 0), (long long)sqlite3_column_int64(st, 1),
               (long long)sqlite3_column_int64(st, 2), (long long)sqlite3_column_int64(st, 3));
    sqlite3_finalize(st);
    return hand_over(&b, json, len);
}
