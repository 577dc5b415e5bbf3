/* The search index's words: what the writer puts in it, and the check a
 * search makes of each alert it reads.
 *
 * Why it works this way:
 * - The index costs per word per document, not per byte: most words of an
 *   alert (the user, the image's path, the usual arguments) are those of
 *   the alerts written just before it. So a document of `alert_words` is a
 *   run of up to WORDS_GROUP consecutive alerts of one transaction, each
 *   word in it once (its row id says which alerts: see store_int.h), and a
 *   run never spans two transactions, so retention and readers see whole
 *   runs. A search finds the runs and checks each of their alerts for the
 *   words (search.c) with stoat_words, an SQL function registered here.
 * - Rule titles and host names are not in it at all: a few hundred rows of
 *   `rules` and `hosts` hold them, and a search matches them there. The
 *   FTS table keeps its text, so retention deletes the runs by row id.
 * - Words are cut and folded as FTS5's ascii tokenizer cuts and folds them
 *   (store_tok_char, ASCII case only), on both sides, so what the index
 *   finds and what the check accepts agree. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "store/db.h"
#include "store/words.h"
#include "util/mem.h"

const char store_sql_words_put[] = "INSERT INTO alert_words(rowid, body) VALUES(?1, ?2)";

/* ------------------------------------------------------------ writing runs */

/* Adds the words of text to the open run, each once: a word is folded to
 * lower case as the tokenizer folds it, appended, and taken back when the
 * run has it already. */
static void words_add(struct stoat_store *s, const char *text, size_t n)
{
    if (!s->wr_set)
        s->wr_set = xcalloc(WORDS_SET, sizeof(*s->wr_set));
    struct buf *b = &s->wr_text;
    for (size_t i = 0; text && i < n;) {
        if (!store_tok_char((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t at = b->len, from = i;
        while (i < n && store_tok_char((unsigned char)text[i]))
            i++;
        if (at)
            buf_putc(b, ' ');
        size_t w = b->len, len = i - from;
        buf_put(b, text + from, len);
        uint32_t h = 2166136261u;
        for (size_t k = 0; k < len; k++) {
            unsigned char c = (unsigned char)b->p[w + k];
            if (c >= 'A' && c <= 'Z')
                b->p[w + k] = (char)(c | 32);
            h = (h ^ (unsigned char)b->p[w + k]) * 16777619u;
        }
        if (len > UINT32_MAX || w > UINT32_MAX)
            continue;
        for (uint32_t j = h & (WORDS_SET - 1);; j = (j + 1) & (WORDS_SET - 1)) {
            struct word_slot *e = &s->wr_set[j];
            if (e->gen != s->wr_gen + 1) {
                if (s->wr_nset < WORDS_SET * 3 / 4) {
                    *e = (struct word_slot){s->wr_gen + 1, h, (uint32_t)w, (uint32_t)len};
                    s->wr_nset++;
                }
                break;
            }
            if (e->h == h && e->len == len && !memcmp(b->p + e->off, b->p + w, len)) {
                b->len = at; /* the run has it */
                break;
            }
        }
    }
}

int store_words_flush(struct stoat_store *s, sqlite3_stmt *st)
{
    if (!s->wr_n)
        return SQLITE_OK;
    sqlite3_bind_int64(st, 1, (int64_t)((uint64_t)s->wr_first << WORDS_SHIFT | (s->wr_n - 1)));
    store_bind_textn(st, 2, s->wr_text.p ? s->wr_text.p : "", s->wr_text.len);
    int rc = store_step_done(st);
    s->wr_n = 0;
    s->wr_nset = 0;
    s->wr_gen++; /* empties the set without touching it */
    if (s->wr_gen == UINT32_MAX - 1) {
        memset(s->wr_set, 0, WORDS_SET * sizeof(*s->wr_set));
        s->wr_gen = 0;
    }
    buf_clear(&s->wr_text);
    return rc;
}

int store_words_alert(struct stoat_store *s, sqlite3_stmt *st, int64_t id, const char *const *texts, const size_t *lens,
                      int ntexts)
{
    int rc = SQLITE_OK;
    if (s->wr_n && (s->wr_n == WORDS_GROUP || id != s->wr_first + (int64_t)s->wr_n))
        rc = store_words_flush(s, st);
    if (!s->wr_n)
        s->wr_first = id;
    s->wr_n++;
    for (int i = 0; i < ntexts; i++)
        words_add(s, texts[i], lens[i]);
    return rc;
}

int store_words_rebuild(struct stoat_store *s)
{
    sqlite3_stmt *st = NULL, *put = NULL;
    int rc = sqlite3_prepare_v2(s->db,
                                "SELECT a.id, coalesce(a.image, p.image), coalesce(a.command_line, p.command_line),"
                                " coalesce(a.user, p.user) FROM alerts a LEFT JOIN processes p ON p.id = a.process_id"
                                " ORDER BY a.id",
                                -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, store_sql_words_put, -1, &put, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t[3];
        size_t n[3];
        for (int c = 0; c < 3; c++) {
            t[c] = (const char *)sqlite3_column_text(st, c + 1);
            n[c] = (size_t)sqlite3_column_bytes(st, c + 1);
        }
        rc = store_words_alert(s, put, sqlite3_column_int64(st, 0), t, n, 3);
    }
    if (rc == SQLITE_DONE)
        rc = store_words_flush(s, put);
    sqlite3_finalize(st);
    sqlite3_finalize(put);
    return rc;
}

void store_words_drop(struct stoat_store *s)
{
    s->wr_n = 0;
    s->wr_nset = 0;
    s->wr_gen++;
    buf_clear(&s->wr_text);
}

void store_words_close(struct stoat_store *s)
{
    free(s->wr_set);
    s->wr_set = NULL;
    buf_free(&s->wr_text);
}

/* ------------------------------------------------------------ checking alerts */

/* Cuts q into words; false when it is too long. A trailing '*' after the
 * last word makes it a prefix (the form stoat_words is given). */
bool store_words_parse(const char *q, struct words *ws)
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

/* The form stoat_words and a later store_words_parse read back. */
void store_words_text(const struct words *ws, struct buf *b)
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
size_t store_words_in(const struct words *ws, const char *text, bool *found, size_t nfound)
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
            if (!found[k] && (len == n || (len > n && ws->prefix && k + 1 == ws->n)) &&
                !strncasecmp(from, ws->t[k], n)) {
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
        if (!q || !store_words_parse(q, &local)) {
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
        n = store_words_in(ws, (const char *)sqlite3_value_text(argv[c]), found, n);
    sqlite3_result_int(ctx, ws->n > 0 && n == ws->n);
}

int store_words_register(sqlite3 *db)
{
    return sqlite3_create_function_v2(db, "stoat_words", -1, SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS,
                                      NULL, words_fn, NULL, NULL, NULL);
}
