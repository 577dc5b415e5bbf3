/* Filters and the search: a request's filter as SQL conditions, with the
 * plan the search chose (search.c), for the listings of query.c. */
#ifndef STOAT_STORE_SEARCH_H
#define STOAT_STORE_SEARCH_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store_int.h"

/* An alert's check against the words (bound first), with ALERT_JOINS. */
#define WORDS_CHECK                                                                                           \
    "stoat_words(?, r.title, h.name, coalesce(a.image, ap.image), coalesce(a.command_line, ap.command_line)," \
    " coalesce(a.user, ap.user))"
/* The runs of the index and their alerts (see store_int.h), newest stored
 * first when ordered by t.rowid, a.id. */
#define RUN_JOIN \
    "alert_words t CROSS JOIN alerts a ON a.id BETWEEN " WORDS_SQL_FIRST("t.rowid") " AND " WORDS_SQL_LAST("t.rowid")

/* A search is run once per request, up to this many matches: fewer are all
 * of them (read by id, in time order); more are walked in the index, newest
 * stored first. Kept small because it is paid by every search. */
#define SEARCH_FEW 500

struct where {
    bool fts_join;    /* the runs of the index are joined to the alerts as "t" */
    bool store_order; /* many matches: walk the index newest stored first */
    struct buf sql;
    /* parameters in order: kinds and values */
    int n;
    int kind[24]; /* 0 int64, 1 text */
    int64_t iv[24];
    const char *tv[24];
    bool empty; /* a name that does not exist: nothing can match */
    /* the search, done once per request (and reused for the count) */
    bool fts_done, fts_prefix;
    bool noidx;
    bool ids_partial;         /* counting in the newest SEARCH_FEW matches only */
    bool joins;               /* the conditions name h, r, ap (ALERT_JOINS) */
    int nsearch;              /* parameters of the search */
    int64_t host_id, rule_id; /* resolved names, 0 when not filtered */
    int64_t fts_n;            /* matches found, up to SEARCH_FEW */
    bool named_any;           /* some word is in host names or rule titles: ids are of the pure words only */
    bool ids_none;            /* many matches, not read: no ids */
    bool fts_sure;            /* at least fts_n alerts have the words (read, or runs of one pure word) */
    int64_t run_bound;        /* store_order: the runs' row ids below (newest first) or from (oldest) */
    int64_t named_est;        /* every word named a host or rule: their alerts, by the roll-ups */
    struct buf fts;           /* the MATCH expression of the pure words ("" when none) */
    struct buf words;         /* the words, for stoat_words */
    struct buf ids;           /* up to SEARCH_FEW matches, a JSON array */
    struct buf hids, rids;    /* no pure word: the hosts and rules that have the chosen one */
};

/* Conditions in order with their parameters (frag holds one '?' for v). */
void store_where_int(struct where *w, const char *frag, int64_t v);
void store_where_text(struct where *w, const char *frag, const char *v);
/* Binds the parameters from base on. */
void store_where_bind(struct where *w, sqlite3_stmt *st, int base);
void store_where_free(struct where *w);

/* The conditions of an alert filter, the search run or, for a count, taken
 * over from prev (the same filter's listing); cursor: the listing, which
 * chooses its plan and goes on from the cursor. On an error w is still to
 * be freed. */
stoat_err store_alert_where(struct stoat_store *s, const struct stoat_filter *f, struct where *w, bool cursor,
                            const struct where *prev);
/* A filter made only of hosts and of what rules are (rule, level, tactic,
 * technique) is counted exactly from the count_rule roll-up, without
 * reading an alert. false when the filter has anything else. */
bool store_rollup_count(struct stoat_store *s, const struct stoat_filter *f, const struct where *w, int64_t *total);

#endif
