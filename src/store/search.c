/* Filters and the search: what a request asks for, as SQL conditions on
 * the alerts, and how the words of a search are found.
 *
 * Why it works this way:
 * - Every value from a request is bound as a parameter; the only SQL text
 *   built at run time is a choice among fixed fragments (which filters are
 *   present), never a value. Names (host, rule) are resolved to row ids
 *   first, so the big table is filtered on integers through its indexes.
 * - A filter with many alerts is met soonest walking the time index newest
 *   first; one with few is fetched through its own index and sorted. The
 *   roll-ups tell which, without reading alerts (DRIVE_MAX).
 * - An alert has a word when the word is a token (as FTS5's ascii tokenizer
 *   cuts and folds: letters, digits and UTF-8 bytes, ASCII case folded) of
 *   its rule's title, its host's name, its image, command line or user; a
 *   search finds the alerts that have all its words. The index (alert_words,
 *   see words.c) holds runs of consecutive alerts, without titles and host
 *   names, and keeps no positions (it is built for write speed), so:
 *   - the words that are in no host name and no rule title ("pure" words)
 *     are matched in the index, all of them at once, which finds the runs
 *     that may hold such alerts; each alert of those runs is then checked
 *     for every word of the search against what it shows (stoat_words), so
 *     a word split across two alerts of a run, or a host's word, is exact;
 *   - when every word is in some host name or rule title, the alerts of
 *     those hosts and rules (and those the index finds for the word in
 *     their text) are the candidates, checked the same way.
 *   Each word is quoted in the MATCH expression, so FTS syntax in the input
 *   (NEAR, column filters, parentheses) is only ever text. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/db.h"
#include "store/rows.h"
#include "store/search.h"
#include "store/words.h"

#define COLLECT_MS 100 /* past this, the matches found so far stand for "many" */

/* How many alerts a filter on a set of rules or on words would find (capped
 * at DRIVE_MAX), to choose the plan: a few are fetched through their index
 * and sorted; many are met soonest by walking the time index newest first,
 * which the unary + in front of the column forces. */
#define DRIVE_MAX 2000

void stoat_filter_init(struct stoat_filter *f)
{
    memset(f, 0, sizeof(*f));
    f->state = -1;
}

/* ------------------------------------------------------------ conditions */

/* With noidx a condition on an indexed column of the alerts is written so
 * that no index serves it ("+a.host_id"): the search's ids drive instead. */
static void where_frag(struct where *w, const char *frag)
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

void store_where_int(struct where *w, const char *frag, int64_t v)
{
    where_frag(w, frag);
    w->kind[w->n] = 0;
    w->iv[w->n++] = v;
}

void store_where_text(struct where *w, const char *frag, const char *v)
{
    where_frag(w, frag);
    w->kind[w->n] = 1;
    w->tv[w->n++] = v;
}

static void where_more_text(struct where *w, const char *v)
{
    w->kind[w->n] = 1;
    w->tv[w->n++] = v;
}

void store_where_bind(struct where *w, sqlite3_stmt *st, int base)
{
    for (int i = 0; i < w->n; i++) {
        if (w->kind[i] == 0)
            sqlite3_bind_int64(st, base + i, w->iv[i]);
        else
            store_bind_text(st, base + i, w->tv[i]);
    }
}

void store_where_free(struct where *w)
{
    buf_free(&w->sql);
    buf_free(&w->fts);
    buf_free(&w->words);
    buf_free(&w->ids);
    buf_free(&w->hids);
    buf_free(&w->rids);
}

/* ------------------------------------------------------------ the search */

/* The alerts of the runs that match, checked for the words, newest runs
 * first: how many (up to SEARCH_FEW; SEARCH_FEW also when COLLECT_MS
 * passed first) and their ids as a JSON array. Without names the words
 * are pure (in no host name or rule title): only the alerts' own text is
 * read. */
static int64_t fts_collect(struct stoat_store *s, const char *match, const char *words, bool names, struct buf *ids)
{
    char sql[640];
    if (names)
        snprintf(sql, sizeof(sql),
                 "SELECT a.id FROM " RUN_JOIN ALERT_JOINS " WHERE t.alert_words MATCH ?1 AND " WORDS_CHECK
                 " ORDER BY t.rowid DESC LIMIT %d",
                 SEARCH_FEW);
    else
        snprintf(sql, sizeof(sql),
                 "SELECT a.id FROM " RUN_JOIN " LEFT JOIN processes ap ON ap.id = a.process_id"
                 " WHERE t.alert_words MATCH ?1 AND stoat_words(?2, coalesce(a.image, ap.image),"
                 " coalesce(a.command_line, ap.command_line), coalesce(a.user, ap.user))"
                 " ORDER BY t.rowid DESC LIMIT %d",
                 SEARCH_FEW);
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
        n = SEARCH_FEW; /* not all of them: many */
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
            store_words_in(ws, (const char *)sqlite3_column_text(st, 1), found, 0);
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
    sqlite3_stmt *st =
        store_prepare(s, "SELECT (SELECT coalesce(sum(n), 0) FROM count_host WHERE host_id IN"
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
    buf_put(fts, ws->t[i], ws->len[i]); /* letters, digits and UTF-8 bytes: no quote inside */
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
    store_words_text(ws, &w->words);
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
    struct words pw = {.n = 0}; /* the pure words */
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
            w->fts_sure = pw.n == 1; /* each of its runs has an alert with it */
        } else {
            /* checked for the pure words only: a word of hosts or rules
             * that few of these alerts have would make this walk long */
            struct buf pws = {0};
            store_words_text(&pw, &pws);
            w->fts_n = fts_collect(s, w->fts.p, pws.p, false, &w->ids);
            w->fts_sure = !w->named_any;
            buf_free(&pws);
        }
        if (w->fts_n < SEARCH_FEW || !w->named_any)
            goto out; /* none (nothing can match), few (their ids), an error, or many of the words alone */
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

/* ------------------------------------------------------------ an alert filter */

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

/* A technique and its sub-techniques, which sort between "T1003." and
 * "T1003/": head is the condition up to its first parameter. */
static void where_technique(struct where *w, const char *head, const char *technique)
{
    store_where_text(w, head, technique);
    buf_puts(&w->sql, " OR (technique > ? || '.' AND technique < ? || '/'))");
    where_more_text(w, technique);
    where_more_text(w, technique);
}

/* The search done for the listing, taken over by its count. */
static void search_reuse(struct where *w, const struct where *prev)
{
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
}

/* The hosts' and rules' alerts and the index's matches of the chosen word,
 * each checked for all the words; many candidates are met soonest walking
 * the time index. */
static void where_named(struct where *w)
{
    int64_t n = w->fts_n;
    if (n < SEARCH_FEW) {
        /* only the kinds of candidates there are: each arm costs a look-up
         * per alert walked */
        static const char *const arm[3] = {"a.host_id IN (SELECT value FROM json_each(?))",
                                           "a.rule_id IN (SELECT value FROM json_each(?))",
                                           "a.id IN (SELECT value FROM json_each(?))"};
        const char *v[3] = {w->hids.len ? w->hids.p : NULL, w->rids.len ? w->rids.p : NULL, n ? w->ids.p : NULL};
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
        where_frag(w, frag);
        for (int k = 0; k < 3; k++)
            if (v[k])
                where_more_text(w, v[k]);
    }
    /* else the word is in too many alerts' text to list: the check alone,
     * walking the time index */
    store_where_text(w, WORDS_CHECK, w->words.p);
    w->joins = true;
}

/* How the search's matches are found, once the search has run: list
 * (not count) chooses its plan; others: the filter has more than words;
 * drives: one of them has an index of its own that can drive a walk. */
static void where_search_plan(struct where *w, bool list, bool others, bool drives)
{
    int64_t n = w->fts_n;
    if (w->named_est) {
        where_named(w);
    } else if (n == 0) {
        w->empty = true;
    } else if (n < SEARCH_FEW || (!list && others && !w->ids_none)) {
        /* all of them: the alerts are read by id and put in time order,
         * and the other filters only check them. Or counting many matches
         * that other filters narrow: in the newest SEARCH_FEW matches only,
         * already at hand ("N or more"), rather than searching again and
         * reading on */
        store_where_text(w, "a.id IN (SELECT value FROM json_each(?))", w->ids.p);
        w->noidx = true;
        w->ids_partial = n >= SEARCH_FEW;
        if (w->named_any) {
            /* the ids have the pure words: now all of them */
            store_where_text(w, WORDS_CHECK, w->words.p);
            w->joins = true;
        }
    } else if (drives) {
        /* many, and a host, rule or incident: its index drives and each of
         * its alerts is checked */
        store_where_text(w, WORDS_CHECK, w->words.p);
        w->joins = true;
    } else if (list) {
        /* many: the runs in the index are walked newest stored first, each
         * run's alerts read and checked, up to the page (the listing does
         * it: SQLite would sort all the matches to order by run and alert
         * at once) */
        w->store_order = true;
        w->joins = true;
        store_where_text(w, WORDS_CHECK, w->words.p);
    } else {
        /* counting many: the runs joined to their alerts */
        w->fts_join = true;
        w->joins = true;
        store_where_text(w, "t.alert_words MATCH ?", w->fts.p);
        store_where_text(w, WORDS_CHECK, w->words.p);
    }
}

/* The conditions of f->q: the search runs (or prev's is taken over), then
 * its plan is chosen. */
static stoat_err where_search(struct stoat_store *s, const struct stoat_filter *f, struct where *w, bool list,
                              const struct where *prev)
{
    struct words ws;
    if (!store_words_parse(f->q, &ws)) {
        snprintf(s->errmsg, sizeof(s->errmsg), "search text longer than %d bytes", Q_MAX);
        return STOAT_ERR_LIMIT;
    }
    ws.prefix = false; /* a '*' typed is not syntax */
    if (!ws.n)
        return STOAT_OK;
    if (prev && prev->fts_done) {
        search_reuse(w, prev);
    } else {
        if (search_run(s, &ws, w) < 0) {
            w->empty = true;
            return STOAT_ERR_IO;
        }
        if (w->fts_n == 0 && !w->named_est) {
            /* nothing has these whole words: the last one is still being
             * typed */
            ws.prefix = true;
            w->fts_prefix = true;
            if (search_run(s, &ws, w) < 0) {
                w->empty = true;
                return STOAT_ERR_IO;
            }
        }
    }
    w->fts_done = true;
    const char *host_name = f->host && *f->host ? f->host : NULL;
    bool others = host_name || (f->rule && *f->rule) || (f->tactic && *f->tactic) || (f->technique && *f->technique) ||
                  f->min_level > 0 || f->state >= 0 || f->incident || f->from_ns || f->to_ns;
    bool drives = host_name || (f->rule && *f->rule) || f->incident;
    where_search_plan(w, list, others, drives);
    w->nsearch = w->n;
    return STOAT_OK;
}

/* The host and the rule, by name: resolved to row ids first, so the big
 * table is filtered on integers through its indexes. */
static stoat_err where_names(struct stoat_store *s, const struct stoat_filter *f, struct where *w)
{
    if (f->host && *f->host) {
        int64_t id = store_lookup_id(s, "SELECT id FROM hosts WHERE name = ?1", f->host);
        if (id < 0)
            return STOAT_ERR_IO;
        if (!id)
            w->empty = true;
        w->host_id = id;
        store_where_int(w, "a.host_id = ?", id);
    }
    if (f->rule && *f->rule) {
        int64_t id = store_lookup_id(s,
                                     "SELECT id FROM rules WHERE uid = ?1 OR title = ?1 OR key = ?1 ORDER BY id"
                                     " LIMIT 1",
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
        store_where_int(w, "a.rule_id = ?", id);
    }
    return STOAT_OK;
}

/* What the alerts' rules are (tactic, technique, level): each estimated
 * from the roll-ups, and a filter with many alerts walks the time index
 * (the + keeps the rule index from serving it). */
static void where_rules(struct stoat_store *s, const struct stoat_filter *f, struct where *w, bool list)
{
    if (f->tactic && *f->tactic) {
        int64_t est = estimate(s,
                               "SELECT coalesce(sum(n), 0) FROM count_rule WHERE rule_id IN"
                               " (SELECT rule_id FROM rule_tactics WHERE tactic = ?1)",
                               f->tactic);
        bool many = list && est >= DRIVE_MAX;
        if (est == 0)
            w->empty = true;
        store_where_text(w,
                         many ? "+a.rule_id IN (SELECT rule_id FROM rule_tactics WHERE tactic = ?)"
                              : "a.rule_id IN (SELECT rule_id FROM rule_tactics WHERE tactic = ?)",
                         f->tactic);
    }
    if (f->technique && *f->technique) {
        int64_t est = estimate(s,
                               "SELECT coalesce(sum(n), 0) FROM count_rule WHERE rule_id IN"
                               " (SELECT rule_id FROM rule_techniques WHERE technique = ?1"
                               " OR (technique > ?1 || '.' AND technique < ?1 || '/'))",
                               f->technique);
        bool many = list && est >= DRIVE_MAX;
        if (est == 0)
            w->empty = true;
        where_technique(w,
                        many ? "+a.rule_id IN (SELECT rule_id FROM rule_techniques WHERE technique = ?"
                             : "a.rule_id IN (SELECT rule_id FROM rule_techniques WHERE technique = ?",
                        f->technique);
    }
    if (f->min_level > 0) {
        /* an alert's level is its rule's: the rule index finds them, and
         * the level itself is checked too (a rule may have changed since) */
        char lv[16];
        snprintf(lv, sizeof(lv), "%d", f->min_level);
        int64_t est = estimate(s,
                               "SELECT coalesce(sum(n), 0) FROM count_rule WHERE rule_id IN"
                               " (SELECT id FROM rules WHERE level >= CAST(?1 AS INTEGER))",
                               lv);
        bool many = list && est >= DRIVE_MAX;
        if (est == 0)
            w->empty = true;
        store_where_int(w,
                        many ? "+a.rule_id IN (SELECT id FROM rules WHERE level >= ?)"
                             : "a.rule_id IN (SELECT id FROM rules WHERE level >= ?)",
                        f->min_level);
        store_where_int(w, "a.level >= ?", f->min_level);
    }
}

/* Where the listing goes on from (the last page's "next"). */
static void where_cursor(const struct stoat_filter *f, struct where *w, bool cursor)
{
    w->run_bound = f->oldest_first ? 0 : INT64_MAX;
    if (cursor && f->has_cursor && w->store_order) {
        /* the runs that can hold alerts past the cursor's, then those alerts */
        int64_t c =
            f->cursor_id > (uint64_t)INT64_MAX >> WORDS_SHIFT ? INT64_MAX >> WORDS_SHIFT : (int64_t)f->cursor_id;
        w->run_bound =
            f->oldest_first ? (c > WORDS_GROUP ? c - WORDS_GROUP + 1 : 0) << WORDS_SHIFT : (c + 1) << WORDS_SHIFT;
        store_where_int(w, f->oldest_first ? "a.id > ?" : "a.id < ?", c);
    } else if (cursor && f->has_cursor) {
        /* a row value: the time index serves it as a range */
        store_where_int(w, f->oldest_first ? "(a.time_ns, a.id) > (?, ?)" : "(a.time_ns, a.id) < (?, ?)", f->cursor_ns);
        w->kind[w->n] = 0;
        w->iv[w->n++] = (int64_t)f->cursor_id;
    }
}

stoat_err store_alert_where(struct stoat_store *s, const struct stoat_filter *f, struct where *w, bool cursor,
                            const struct where *prev)
{
    memset(w, 0, sizeof(*w));
    bool list = cursor; /* the listing (not the count) chooses its plan */
    stoat_err e;
    if (f->q && *f->q && (e = where_search(s, f, w, list, prev)) != STOAT_OK)
        return e;
    if ((e = where_names(s, f, w)) != STOAT_OK)
        return e;
    where_rules(s, f, w, list);
    if (f->state >= 0)
        store_where_int(w, "a.state = ?", f->state);
    if (f->incident)
        store_where_int(w, "a.id IN (SELECT alert_id FROM incident_alerts WHERE incident_id = ?)",
                        (int64_t)f->incident);
    if (f->from_ns)
        store_where_int(w, "a.time_ns >= ?", f->from_ns);
    if (f->to_ns)
        store_where_int(w, "a.time_ns <= ?", f->to_ns);
    where_cursor(f, w, cursor);
    return STOAT_OK;
}

bool store_rollup_count(struct stoat_store *s, const struct stoat_filter *f, const struct where *w, int64_t *total)
{
    if ((f->q && *f->q) || f->state >= 0 || f->incident || f->from_ns || f->to_ns)
        return false;
    struct where c;
    memset(&c, 0, sizeof(c));
    if (w->host_id)
        store_where_int(&c, "c.host_id = ?", w->host_id);
    if (w->rule_id)
        store_where_int(&c, "c.rule_id = ?", w->rule_id);
    if (f->tactic && *f->tactic)
        store_where_text(&c, "c.rule_id IN (SELECT rule_id FROM rule_tactics WHERE tactic = ?)", f->tactic);
    if (f->technique && *f->technique)
        where_technique(&c, "c.rule_id IN (SELECT rule_id FROM rule_techniques WHERE technique = ?", f->technique);
    if (f->min_level > 0)
        store_where_int(&c, "c.rule_id IN (SELECT id FROM rules WHERE level >= ?)", f->min_level);
    struct buf sql = {0};
    buf_printf(&sql, "SELECT coalesce(sum(c.n), 0) FROM count_rule c%s", c.sql.p ? c.sql.p : "");
    sqlite3_stmt *st = store_prepare(s, sql.p);
    bool ok = false;
    if (st) {
        store_where_bind(&c, st, 1);
        if (sqlite3_step(st) == SQLITE_ROW) {
            *total = sqlite3_column_int64(st, 0);
            ok = true;
        }
    }
    sqlite3_finalize(st);
    buf_free(&sql);
    store_where_free(&c);
    return ok;
}
