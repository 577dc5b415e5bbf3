/* The store's handle: opening the file, a run's beginning, commits and end,
 * closing; and the hunt sink that writes into a store.
 *
 * Why it is shaped like this:
 * - The parts of the store stand on each other in one direction: db.c (the
 *   connection) at the bottom; rows.c (the JSON rows readers write),
 *   packs.c (event packs) and words.c (the search index) on it; schema.c
 *   (the file and its migrations) and writer.c (transactions, caches) on
 *   those; alert.c (what an alert writes), queue.c (the writer's thread),
 *   runs.c (a run's row and the lock held for its life), retention.c and
 *   triage.c above; this file on top of the writing side.
 *   The readers stand beside it: search.c (filters and the search plan),
 *   query.c and overview.c (the dashboard's documents) and export.c (the
 *   report's parts). store_int.h holds the handle they share.
 * - WAL journal and synchronous=FULL: readers never wait for the writer, and
 *   what was committed survives a crash of the process or of the machine
 *   (NORMAL would only fsync at checkpoints, so a power cut could take the
 *   last commits back; with a few commits a second the fsync costs little).
 * - A store that cannot be opened says why once, through the caller's
 *   diagnostic callback (stoat_store_opts.diag), like every other create
 *   function of the library; later failures are read with
 *   stoat_store_errmsg or handed on with stoat_store_diag. */
#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/db.h"
#include "store/packs.h"
#include "store/queue.h"
#include "store/runs.h"
#include "store/schema.h"
#include "store/words.h"
#include "store/writer.h"
#include "util/mem.h"
#include "util/text.h"

/* ------------------------------------------------------------ opening */

/* SQLite's memory statistics take a global mutex on every allocation; the
 * store does not use them. Must run before SQLite is first used. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

/* A writer's connection: WAL, durable commits, its settings, its
 * statements. */
static stoat_err open_writer(struct stoat_store *s, const struct stoat_store_opts *opts)
{
    /* Switching a rollback-journal file to WAL takes its exclusive lock
     * without SQLite's busy handler: writers opening a new file together
     * (schema.c) find it held by each other, so the switch is retried for
     * as long as the busy timeout would wait. */
    int64_t mode = 0;
    for (int tries = 0; tries < 1000 && !mode; tries++) {
        sqlite3_stmt *st = store_prepare(s, "PRAGMA journal_mode = WAL");
        int rc = st ? sqlite3_step(st) : SQLITE_ERROR;
        if (rc == SQLITE_ROW)
            mode = sqlite3_column_bytes(st, 0) == 3;
        sqlite3_finalize(st);
        if ((rc & 0xff) != SQLITE_BUSY && (rc & 0xff) != SQLITE_LOCKED)
            break;
        sqlite3_sleep(10);
    }
    if (!mode) {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: cannot switch the store to WAL mode", s->path);
        return STOAT_ERR_IO;
    }
    /* the WAL is copied into the file past 64 MiB (in pages of this
     * file, 16 KiB for new ones, 4 KiB for older) */
    int64_t psz = 0;
    store_pragma_int(s, "PRAGMA page_size", &psz);
    char ck[64];
    snprintf(ck, sizeof(ck), "PRAGMA wal_autocheckpoint = %lld", (long long)((64 << 20) / (psz > 0 ? psz : 4096)));
    if (store_exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;"
                      "PRAGMA cache_size = -65536") != SQLITE_OK ||
        store_exec(s, ck) != SQLITE_OK)
        return STOAT_ERR_IO;
    int rc = SQLITE_OK;
    if (opts->retain_days)
        rc = store_meta_set_int(s, "retain_days", opts->retain_days, opts->retain_days < 0);
    if (rc == SQLITE_OK && opts->retain_alerts)
        rc = store_meta_set_int(s, "retain_alerts", opts->retain_alerts, opts->retain_alerts < 0);
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "saving the retention setting");
    s->retain_days = store_meta_int(s, "retain_days", 0);
    s->retain_alerts = store_meta_int(s, "retain_alerts", 0);
    s->prune_every_ms = opts->prune_every_ms;
    s->last_prune_ms = store_mono_ms();
    if ((rc = store_packs_next(s, &s->next_event)) != SQLITE_OK)
        return store_fail(s, rc, "reading the event packs");
    if (s->next_event < 1)
        s->next_event = 1;
    store_runs_reap(s); /* not fatal: what it cannot judge now waits for the next open */
    /* made here rather than by a schema version: only writers that share
     * hosts look processes up, and the others' inserts stay index-free */
    s->procs_shared = opts->shared_processes;
    if (s->procs_shared &&
        (rc = store_exec(s, "CREATE INDEX IF NOT EXISTS processes_host_guid ON processes(host_id, guid)")) != SQLITE_OK)
        return store_fail(s, rc, "indexing the processes");
    return store_writer_prepare(s);
}

/* The file: there (unless it may be made), SQLite, ours, at our schema. */
static stoat_err open_file(struct stoat_store *s, const char *path, const struct stoat_store_opts *opts)
{
    if (!path || !*path) {
        snprintf(s->errmsg, sizeof(s->errmsg), "no store file given");
        return STOAT_ERR_ARG;
    }
    if ((opts->readonly || !opts->create) && access(path, F_OK) != 0) {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: no such store", path);
        return STOAT_ERR_NOTFOUND;
    }
    int flags =
        (opts->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) | SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "opening");
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, opts->busy_ms && opts->busy_ms <= INT_MAX ? (int)opts->busy_ms : 10000);
    if ((rc = store_words_register(s->db)) != SQLITE_OK)
        return store_fail(s, rc, "opening");
    /* Tolerate damage in reads rather than assert: never trust the file. */
    store_exec(s, "PRAGMA cell_size_check = ON");
    /* only takes effect on a file without tables yet (schema.c) */
    if (!opts->readonly)
        store_exec(s, "PRAGMA page_size = 16384");
    return store_schema_check(s, !opts->readonly);
}

stoat_err stoat_store_open(const char *path, const struct stoat_store_opts *opts, struct stoat_store **out)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    static const struct stoat_store_opts dflt = {0};
    if (!opts)
        opts = &dflt;
    *out = NULL;
    struct stoat_store *s = xcalloc(1, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "%s", path ? path : "");
    s->readonly = opts->readonly;
    s->batch_alerts = opts->batch_alerts ? opts->batch_alerts : 16384;
    s->batch_ms = opts->batch_ms ? opts->batch_ms : 1000;
    strmap_init(&s->hosts);
    s->runs_fd = -1;
    s->proc_seed = hash_mix((uint64_t)store_now_ns() ^ (uint64_t)(uintptr_t)s ^ (uint64_t)getpid() << 32);
    stoat_err e = open_file(s, path, opts);
    if (e == STOAT_OK && !opts->readonly) {
        e = open_writer(s, opts);
    } else if (e == STOAT_OK) {
        store_exec(s, "PRAGMA query_only = ON; PRAGMA cache_size = -32768");
        store_watch_deadlines(s);
    }
    if (e != STOAT_OK) {
        stoat_store_diag(s, e, opts->diag, opts->diag_ctx);
        stoat_store_close(s);
        return e;
    }
    *out = s;
    return STOAT_OK;
}

void stoat_store_close(struct stoat_store *s)
{
    if (!s)
        return;
    store_quiesce(s);
    store_queue_close(s);
    if (s->in_tx)
        store_tx_end(s);
    store_run_abandon(s); /* a run not ended by its producer */
    store_runs_close(s);
    store_writer_close(s);
    store_packs_close(s);
    if (s->db && !s->readonly)
        sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close_v2(s->db);
    store_words_close(s);
    free(s);
}

/* ------------------------------------------------------------ errors */

const char *stoat_store_errmsg(const struct stoat_store *s)
{
    return s ? s->errmsg : "no store";
}

const char *stoat_store_path(const struct stoat_store *s)
{
    return s ? s->path : "";
}

void stoat_store_diag(const struct stoat_store *s, stoat_err e, stoat_diag_fn diag, void *diag_ctx)
{
    if (!diag)
        return;
    const char *msg = s && s->errmsg[0] ? s->errmsg : stoat_strerror(e);
    size_t n = s ? strlen(s->path) : 0;
    bool about_file = n && !strncmp(msg, s->path, n) && msg[n] == ':' && msg[n + 1] == ' ';
    struct stoat_diag d = {.code = e,
                           .severity = STOAT_SEV_ERROR,
                           .file = about_file ? s->path : NULL,
                           .message = about_file ? msg + n + 2 : msg};
    diag(diag_ctx, &d);
}

/* ------------------------------------------------------------ runs */

stoat_err stoat_store_run_begin(struct stoat_store *s, const char *producer, const char *args)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = store_quiesce(s);
    if (e != STOAT_OK)
        return e;
    free(s->pev_file);
    s->pev_file = NULL;
    return store_run_start(s, producer, args);
}

stoat_err stoat_store_commit(struct stoat_store *s)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = s->threaded ? store_quiesce(s) : store_tx_end(s);
    if (e == STOAT_OK && s->prune_every_ms && store_mono_ms() - s->last_prune_ms >= s->prune_every_ms) {
        s->last_prune_ms = store_mono_ms();
        e = stoat_store_prune(s, NULL);
    }
    return e;
}

stoat_err stoat_store_run_end(struct stoat_store *s, const struct stoat_hunt_stats *stats)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = store_flush(s);
    if (e != STOAT_OK)
        return e;
    if (!s->run_id)
        return STOAT_OK;
    if ((e = store_run_finish(s, stats)) != STOAT_OK)
        return e;
    return stoat_store_prune(s, NULL);
}

/* ------------------------------------------------------------ the sink */

struct store_sink {
    struct stoat_store *s;
    bool own;
    char *producer, *args;
};

static stoat_err sink_begin(void *ctx)
{
    struct store_sink *k = ctx;
    return stoat_store_run_begin(k->s, k->producer, k->args);
}

static stoat_err sink_alert(void *ctx, const struct stoat_alert *a)
{
    struct store_sink *k = ctx;
    return stoat_store_put_alert(k->s, a);
}

static stoat_err sink_incident(void *ctx, const struct stoat_incident *inc)
{
    struct store_sink *k = ctx;
    return stoat_store_put_incident(k->s, inc);
}

static stoat_err sink_end(void *ctx, const struct stoat_hunt_stats *st)
{
    struct store_sink *k = ctx;
    return stoat_store_run_end(k->s, st);
}

static void sink_destroy(void *ctx)
{
    struct store_sink *k = ctx;
    if (!k)
        return;
    if (k->own)
        stoat_store_close(k->s);
    free(k->producer);
    free(k->args);
    free(k);
}

void stoat_sink_store(struct stoat_store *s, bool own, const char *producer, const char *args, struct stoat_sink *sink)
{
    struct store_sink *k = xcalloc(1, sizeof(*k));
    k->s = s;
    k->own = own;
    k->producer = xstrdup(producer ? producer : "unknown");
    k->args = args ? xstrdup(args) : NULL;
    *sink = (struct stoat_sink){.ctx = k,
                                .begin = sink_begin,
                                .alert = sink_alert,
                                .incident = sink_incident,
                                .end = sink_end,
                                .destroy = sink_destroy};
}
