/* What the store's files share with each other and with the report and the
 * dashboard (which are parts of the library): the handle, its SQLite
 * connection and small helpers for binding and for writing JSON. */
#ifndef STOAT_STORE_INT_H
#define STOAT_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "stoat/store.h"
#include "util/buf.h"
#include "util/strmap.h"

#define SEQ_WINDOW (4u << 20)
#define STORE_COUNT_SLOTS 4096   /* power of two */
/* One row of a roll-up: kind 0 count_hour (a = hour, b = level), 1
 * count_host (a = host, b = level, with first and last time), 2 count_rule
 * (a = rule, b = host). */
struct count_slot {
    int64_t a, b, n, first, last;
    int kind;
};

/* Caches of the writer: names and rules seen, so a batch of alerts does not
 * look the same host up a thousand times. Bounded: cleared when full. */
#define STORE_CACHE_MAX 65536

/* Processes the writer has stored, by a keyed hash of host and GUID: two
 * generations of PROC_SLOTS slots; when the young one is half full (short
 * probes) the old one is dropped, and what is still used moves up. */
#define PROC_SLOTS (1u << 16)   /* power of two; 1 MiB a generation, near the CPU's cache */
struct proc_slot {
    uint64_t h;                 /* 0: empty */
    int64_t row : 63;
    bool has_parent : 1;
};
struct proc_gen {
    struct proc_slot *slots;
    size_t count;
};

/* Events go into the file in packs (see store.c): at most PACK_EVENTS,
 * closed early once their text passes PACK_RAW_MAX bytes. */
#define PACK_EVENTS 64
#define PACK_RAW_MAX (64u * 1024)
#define PACK_READ_MAX (64u << 20)   /* a pack claiming more is damaged */

/* The search index (alert_words) holds runs of up to WORDS_GROUP
 * consecutive alerts of one transaction, each word once; a run's row id is
 * its first alert's id << WORDS_SHIFT | (alerts in it - 1). Its words are
 * those of the alerts' images, command lines and users, cut as FTS5's
 * ascii tokenizer cuts them (store_tok_char). */
#define WORDS_SHIFT 4
#define WORDS_GROUP (1 << WORDS_SHIFT)
/* the same in SQL text: a run's first alert and its last */
#define WORDS_SQL_FIRST(r) "((" r ") >> 4)"
#define WORDS_SQL_LAST(r) "((" r ") >> 4) + ((" r ") & 15)"
_Static_assert(WORDS_SHIFT == 4, "WORDS_SQL_FIRST and WORDS_SQL_LAST");
#define WORDS_SET 1024   /* words a run keeps once each; past 3/4 of it they may repeat */
struct word_slot {
    uint32_t gen, h, off, len;
};

static inline bool store_tok_char(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* Registers stoat_words(words, text...) on a connection (query.c). */
int store_words_register(sqlite3 *db);

struct store_job;
struct job_chunk;
struct zjob;
struct packer;
struct rule_snap;

struct stoat_store {
    sqlite3 *db;
    char path[1024];
    bool readonly;
    char errmsg[2048];
    /* reads stop (SQLITE_INTERRUPT) at these monotonic times, 0 = never:
     * the caller's (stoat_store_set_deadline) and a query's own */
    int64_t deadline_ns, local_deadline_ns;
    bool local_hit;
    /* writer state */
    unsigned batch_alerts, batch_ms;
    int64_t retain_days, retain_alerts;
    int64_t prune_every_ms, last_prune_ms;   /* retention during a run: see stoat_store_opts */
    int64_t run_id;
    bool in_tx;
    unsigned pending;
    int64_t tx_started_ns;
    uint64_t last_alert_id, commits;
    struct strmap hosts;            /* host name -> row id */
    struct proc_gen procs[2];       /* [0] young, [1] old */
    uint64_t proc_seed;
    struct rule_cache *rules;       /* rule meta pointer -> row id */
    size_t nrules, caprules;
    /* the event of the last alert, so alerts of one event share it */
    char *ev_file;
    uint64_t ev_record;
    int64_t ev_run, ev_id;
    /* the open pack: event records (JSON objects) and where each ends */
    struct buf pk;
    uint32_t pk_end[PACK_EVENTS];
    unsigned pk_n;
    int64_t pk_first, next_event, tx_next_event;
    struct zjob *zsync;             /* a pack compressed by the writer itself, its buffers reused */
    struct packer *packer;          /* the thread compressing full packs for the writer (store.c) */
    bool on_writer;                 /* the caller is the writer's thread */
    /* readers: the last pack unpacked, as offsets then records */
    int64_t rp_id;
    unsigned rp_n;
    struct buf rp;
    sqlite3_stmt *rp_get, *rp_valid;
    /* row ids of the current run's alerts by their run-local id (alert.id
     * counts 1, 2, 3... within a run), so incidents find their alerts
     * without an index; the newest SEQ_WINDOW are kept */
    int64_t *seq_rows;
    size_t nseq, capseq;
    uint64_t seq_base;              /* run-local id of seq_rows[0] */
    /* the open run of the search index: its first alert, how many, its words */
    int64_t wr_first;
    unsigned wr_n, wr_nset, wr_gen;
    struct buf wr_text;
    struct word_slot *wr_set;
    struct count_slot *counts;      /* this batch's additions to the roll-ups */
    size_t ncounts;
    struct buf scratch;
    sqlite3_stmt *st[24];           /* prepared writer statements, see store.c */
    /* The writer's thread, started by the first alert or incident put:
     * put_* queue a copy of what they are given (with what can be worked
     * out from it alone) and return; every other call waits until the
     * queue is written and committed (store_quiesce), so the connection is
     * only ever used by one thread at a time. */
    bool threaded, stop;
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    struct store_job *qhead, *qtail;
    size_t qlen;
    uint64_t flush_req, flush_done;
    stoat_err werr;                 /* the writer's first failure; s->errmsg says why */
    /* the producer's side: copies of the rules it was given (a ruleset may
     * be freed while its alerts wait), the last event, its scratch */
    struct job_chunk *pchunk;       /* the chunk jobs are cut from */
    struct rule_snap **snaps;
    size_t nsnaps, capsnaps;
    char *pev_file;
    uint64_t pev_record;
    struct buf prec, ptext;
};

/* Waits until everything put is written and committed; the writer's error
 * if it failed. Every call but put_* starts with it. */
stoat_err store_quiesce(struct stoat_store *s);

/* Appends the JSON object of event number ev ({"file":..,"fields":{..}})
 * to b, or null when the store does not have it. A pack that does not
 * unpack or a record that is not valid JSON reads as null: the file may
 * have been doctored. SQLITE_OK or a read error. */
int store_event_json(struct stoat_store *s, int64_t ev, struct buf *b);

int64_t store_now_ns(void);
int64_t store_mono_ns(void);
/* Prepares sql, reporting failures into s->errmsg. */
sqlite3_stmt *store_prepare(struct stoat_store *s, const char *sql);
/* Maps an SQLite result code to stoat's errors, keeping the message. */
stoat_err store_fail(struct stoat_store *s, int rc, const char *what);
void store_bind_text(sqlite3_stmt *st, int i, const char *v);

/* JSON helpers for column values. */
void json_col_text(struct buf *b, sqlite3_stmt *st, int col);   /* string or null */
void json_key(struct buf *b, bool *first, const char *key);
void json_ns_iso(struct buf *b, int64_t ns);                    /* "2026-...Z" or null */

/* Writes an alert list item (the columns of ALERT_COLS at col). */
/* An alert's image, command line and user are NULL when its process row
 * holds them (store.c), hence the join. */
#define ALERT_COLS                                                                                          \
    "a.id, a.time_ns, a.timestamp, h.name, a.level, a.rule_id, r.title, coalesce(a.image, ap.image),"       \
    " coalesce(a.command_line, ap.command_line), coalesce(a.user, ap.user), a.state, a.logon_id, a.run_id,"  \
    " a.process_id, a.event_id, r.kind"
#define ALERT_JOINS                                                           \
    " JOIN hosts h ON h.id = a.host_id JOIN rules r ON r.id = a.rule_id" \
    " LEFT JOIN processes ap ON ap.id = a.process_id"
#define ALERT_NCOLS 16
void store_alert_item(struct buf *b, sqlite3_stmt *st, int col);
/* Rule object from the columns of RULE_COLS. */
#define RULE_COLS "r.id, r.uid, r.title, r.level, r.status, r.tags, r.techniques, r.tactics, r.product, r.category, r.service, r.description, r.file, r.kind"
void store_rule_item(struct buf *b, sqlite3_stmt *st, int col);
/* The incident list item from INCIDENT_COLS. */
#define INCIDENT_COLS                                                                                  \
    "i.id, h.name, i.logon_id, i.title, i.score, i.level, i.first_ns, i.last_ns, i.tactics, i.nalerts, " \
    "i.state, i.run_id"
void store_incident_item(struct buf *b, sqlite3_stmt *st, int col);

#endif
