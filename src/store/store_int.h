/* The store's handle and the layout of what it writes, shared by the
 * store's files: the handle holds one SQLite connection and the state of
 * every part (the writer, its thread, the packs, the search index, the
 * readers' cache), so each part finds its own fields here. The parts'
 * functions are in their own headers (db.h at the bottom: see store.c). */
#ifndef STOAT_STORE_INT_H
#define STOAT_STORE_INT_H

#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdint.h>

#include "stoat/store.h"
#include "util/buf.h"
#include "util/strmap.h"

#define SEQ_WINDOW        (4u << 20)
#define STORE_COUNT_SLOTS 4096 /* power of two */
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
#define PROC_SLOTS (1u << 16) /* power of two; 1 MiB a generation, near the CPU's cache */
struct store_proc_slot {
    uint64_t h; /* 0: empty */
    int64_t row : 63;
    bool has_parent : 1;
};
struct proc_gen {
    struct store_proc_slot *slots;
    size_t count;
};

/* Events go into the file in packs (see packs.c): at most PACK_EVENTS,
 * closed early once their text passes PACK_RAW_MAX bytes. */
#define PACK_EVENTS   64
#define PACK_RAW_MAX  (64u * 1024)
#define PACK_READ_MAX (64u << 20) /* a pack claiming more is damaged */

/* The search index (alert_words) holds runs of up to WORDS_GROUP
 * consecutive alerts of one transaction, each word once; a run's row id is
 * its first alert's id << WORDS_SHIFT | (alerts in it - 1). Its words are
 * those of the alerts' images, command lines and users, cut as FTS5's
 * ascii tokenizer cuts them (store_tok_char). See words.c. */
#define WORDS_SHIFT 4
#define WORDS_GROUP (1 << WORDS_SHIFT)
/* the same in SQL text: a run's first alert and its last */
#define WORDS_SQL_FIRST(r) "((" r ") >> 4)"
#define WORDS_SQL_LAST(r)  "((" r ") >> 4) + ((" r ") & 15)"
_Static_assert(WORDS_SHIFT == 4, "WORDS_SQL_FIRST and WORDS_SQL_LAST");
#define WORDS_SET 1024 /* words a run keeps once each; past 3/4 of it they may repeat */
struct word_slot {
    uint32_t gen, h, off, len;
};

static inline bool store_tok_char(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* The writer's statements, by index into s->st, prepared when a writer
 * opens (their SQL: writer.c). */
enum {
    ST_HOST_GET,
    ST_HOST_PUT,
    ST_RULE_PUT,
    ST_TACTIC_PUT,
    ST_TECH_PUT,
    ST_PACK_PUT,
    ST_PROC_PUT,
    ST_ALERT_PUT,
    ST_TEXT_PUT,
    ST_INC_PUT,
    ST_INC_ALERT,
    ST_COMMIT_PUT,
    ST_PROC_LINK,
    ST_PROC_FIND,
    ST_INC_ALERT_AT,
    ST_BEGIN,
    ST_COMMIT,
    ST_COUNT_HOUR,
    ST_COUNT_HOST,
    ST_COUNT_RULE,
    ST_CORR_PUT,
    ST_CORR_ALERT,
    ST_COUNT
};

struct store_job;
struct job_chunk;
struct zjob;
struct packer;
struct rule_snap;
struct rule_cache;

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
    int64_t prune_every_ms, last_prune_ms; /* retention during a run: see stoat_store_opts */
    int64_t run_id;
    bool run_locked; /* its writer's lock is held (runs.c) */
    int runs_fd;     /* the lock file beside the store, -1 when not open */
    bool in_tx;
    unsigned pending;
    int64_t tx_started_ns;
    uint64_t last_alert_id, commits;
    struct strmap hosts;      /* host name -> row id */
    struct proc_gen procs[2]; /* [0] young, [1] old */
    uint64_t proc_seed;
    bool procs_shared;        /* stoat_store_opts.shared_processes */
    struct rule_cache *rules; /* rule meta pointer -> row id */
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
    struct zjob *zsync;    /* a pack compressed by the writer itself, its buffers reused */
    struct packer *packer; /* the thread compressing full packs for the writer (packs.c) */
    bool on_writer;        /* the caller is the writer's thread */
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
    uint64_t seq_base; /* run-local id of seq_rows[0] */
    /* the open run of the search index: its first alert, how many, its words */
    int64_t wr_first;
    unsigned wr_n, wr_nset, wr_gen;
    struct buf wr_text;
    struct word_slot *wr_set;
    struct count_slot *counts; /* this batch's additions to the roll-ups */
    size_t ncounts;
    struct buf scratch;
    sqlite3_stmt *st[24]; /* prepared writer statements, by ST_ */
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
    stoat_err werr; /* the writer's first failure; s->errmsg says why */
    /* the producer's side: copies of the rules it was given (a ruleset may
     * be freed while its alerts wait), the last event, its scratch */
    struct job_chunk *pchunk; /* the chunk jobs are cut from */
    struct rule_snap **snaps;
    size_t nsnaps, capsnaps;
    char *pev_file;
    uint64_t pev_record;
    struct buf prec, ptext;
};
_Static_assert(ST_COUNT <= sizeof(((struct stoat_store *)0)->st) / sizeof(sqlite3_stmt *), "room for the statements");

#endif
