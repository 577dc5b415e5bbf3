/* The search index's words (words.c): the runs the writer puts in
 * alert_words, and the words of a search with the check of an alert. */
#ifndef STOAT_STORE_WORDS_H
#define STOAT_STORE_WORDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store/store_int.h"

/* ------------------------------------------------------------ writing */

/* The writer's statement that inserts a run (ST_TEXT_PUT). */
extern const char store_sql_words_put[];

/* Puts alert id and the words of its texts into the open run, or into a
 * new one when the run is full or id does not follow it (st: the writer's
 * statement, or a migration's). */
int store_words_alert(struct stoat_store *s, sqlite3_stmt *st, int64_t id, const char *const *texts, const size_t *lens,
                      int ntexts);
/* Writes the open run. */
int store_words_flush(struct stoat_store *s, sqlite3_stmt *st);
/* A rolled-back transaction: the open run goes. */
void store_words_drop(struct stoat_store *s);
void store_words_close(struct stoat_store *s);
/* Schema 2 -> 3: the runs made from the alerts already stored, with what
 * readers show for each (its own columns, else its process's). */
int store_words_rebuild(struct stoat_store *s);

/* ------------------------------------------------------------ searching */

#define Q_MAX     512 /* longest search text accepted */
#define WORDS_MAX 16  /* words of a search; more are ignored */

struct words {
    char buf[Q_MAX + WORDS_MAX + 1];
    const char *t[WORDS_MAX];
    size_t len[WORDS_MAX];
    size_t n;
    bool prefix; /* the last word is a prefix (what is still being typed) */
};

bool store_words_parse(const char *q, struct words *ws);
void store_words_text(const struct words *ws, struct buf *b);
size_t store_words_in(const struct words *ws, const char *text, bool *found, size_t nfound);
/* Registers stoat_words(words, text...) on a connection: 1 when each of the
 * words is in one of the texts. */
int store_words_register(sqlite3 *db);

#endif
