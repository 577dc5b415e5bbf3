/* The store's file, its schema and its writer.
 *
 * Why it is shaped like this:
 * - The file says it is ours (PRAGMA application_id) and which schema it has
 *   (PRAGMA user_version). Opening checks both before anything else, so a
 *   foreign SQLite file, a file that is not SQLite at all, or a store of a
 *   newer stoat is refused with a sentence instead of being written into.
 *   Older schemas are brought forward by the migrations below, each in one
 *   transaction, so a crash during a migration leaves the old schema intact.
 * - WAL journal and synchronous=FULL: readers never wait for the writer, and
 *   what was committed survives a crash of the process or of the machine
 *   (NORMAL would only fsync at checkpoints, so a power cut could take the
 *   last commits back; with a few commits a second the fsync costs little).
 *   Writes are grouped into transactions (batch_alerts or batch_ms) because
 *   a commit costs an fsync; per-alert commits would cap a hunt at a few
 *   hundred alerts per second.
 * - What a writer pays per alert is what decides the rate, so each alert is
 *   one row of `alerts` with three indexes (time, host, rule: level and
 *   tactic filters go through the rule) and a row for its own process.
 * - The search index costs per word per document, not per byte: most words
 *   of an alert (the user, the image's path, the usual arguments) are those
 *   of the alerts written just before it. So a document of `alert_words` is
 *   a run of up to WORDS_GROUP consecutive alerts of one transaction, each
 *   word in it once (its row id says which alerts: see store_int.h); a
 *   search finds the runs and checks each of their alerts for the words
 *   (query.c). Rule titles and host names are not in it at all: a few
 *   hundred rows of `rules` and `hosts` hold them, and a search matches
 *   them there. The FTS table keeps its text, so retention deletes the
 *   runs by row id. New files get 16 KiB pages: a quarter of the page
 *   writes, WAL frames and index splits of 4 KiB ones.
 * - The events an alert cites are not rows:
 *   they are written in packs of up to 64, zlib-compressed (event text is
 *   most of the bytes and compresses several times over), so the file and
 *   the WAL grow by a fraction of what they would.
 * - An event cited by several alerts is stored once; processes are stored
 *   once per host and process GUID (within what the writer remembers, a
 *   bounded two-generation table of keyed hashes, so no index has to be
 *   kept for them) with a link to their parent, so the ancestry of every
 *   alert of an incident folds into one tree. An alert's image, command
 *   line and user are left NULL when its own process row, written with it,
 *   holds the same; readers take them from there.
 * - Retention deletes a prefix of alert ids (alerts are stored in order), so
 *   everything hanging off alerts is found by id ranges, not by scans. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <zlib.h>

#include "store/store_int.h"
#include "util/mem.h"
#include "util/text.h"

#define STOAT_APP_ID 0x53746f61   /* "Stoa" */

/* Writes the event object (sinks/jsonl.c); a repeated name becomes a list. */
void stoat_json_event(struct buf *b, const struct stoat_field *fs, size_t n);

/* A rule as the producer gave it, copied: a watch frees its old ruleset
 * after a reload while alerts of it may still wait in the queue. */
struct rule_snap {
    const struct stoat_rule_meta *src;
    struct stoat_rule_meta m;
    struct arena mem;
};

/* ------------------------------------------------------------ schema */

static const char *const schema_v1 =
    "CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT) WITHOUT ROWID;"
    "CREATE TABLE runs(id INTEGER PRIMARY KEY, producer TEXT NOT NULL, args TEXT, started_ns INTEGER NOT NULL,"
    "  ended_ns INTEGER, files INTEGER, records INTEGER, events INTEGER, skipped INTEGER, alerts INTEGER,"
    "  status TEXT NOT NULL DEFAULT 'running');"
    "CREATE TABLE hosts(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);"
    "CREATE TABLE rules(id INTEGER PRIMARY KEY, key TEXT NOT NULL UNIQUE, uid TEXT, title TEXT, kind INTEGER,"
    "  level INTEGER NOT NULL, status TEXT, tags TEXT, techniques TEXT, tactics TEXT, product TEXT,"
    "  category TEXT, service TEXT, description TEXT, file TEXT);"
    "CREATE TABLE rule_tactics(tactic TEXT NOT NULL, rule_id INTEGER NOT NULL, PRIMARY KEY(tactic, rule_id))"
    "  WITHOUT ROWID;"
    "CREATE TABLE rule_techniques(technique TEXT NOT NULL, rule_id INTEGER NOT NULL,"
    "  PRIMARY KEY(technique, rule_id)) WITHOUT ROWID;"
    "CREATE TABLE events(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, file TEXT, format TEXT,"
    "  record INTEGER, line INTEGER, offset INTEGER, channel TEXT, event_id TEXT, fields TEXT NOT NULL);"
    "CREATE TABLE processes(id INTEGER PRIMARY KEY, host_id INTEGER NOT NULL, guid TEXT, pid INTEGER,"
    "  start_ns INTEGER, image TEXT, command_line TEXT, user TEXT, parent_id INTEGER);"
    "CREATE UNIQUE INDEX processes_guid ON processes(host_id, guid);"
    "CREATE TABLE alerts(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  time_ns INTEGER NOT NULL, timestamp TEXT, host_id INTEGER NOT NULL, rule_id INTEGER NOT NULL,"
    "  level INTEGER NOT NULL, event_id INTEGER, process_id INTEGER, logon_id TEXT, image TEXT,"
    "  command_line TEXT, user TEXT, state INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX alerts_time ON alerts(time_ns);"
    "CREATE INDEX alerts_host ON alerts(host_id, time_ns);"
    "CREATE INDEX alerts_rule ON alerts(rule_id, time_ns);"
    "CREATE INDEX alerts_level ON alerts(level, time_ns);"
    "CREATE VIRTUAL TABLE alert_text USING fts5(body, content='', detail=none, columnsize=0, tokenize='ascii');"

    "CREATE TABLE incidents(id INTEGER PRIMARY KEY, run_id INTEGER NOT NULL, seq INTEGER NOT NULL,"
    "  host_id INTEGER NOT NULL, logon_id TEXT, title TEXT, score REAL, level INTEGER NOT NULL,"
    "  first_ns INTEGER, last_ns INTEGER, tactics TEXT, nalerts INTEGER NOT NULL,"
    "  state INTEGER NOT NULL DEFAULT 0);"
    "CREATE INDEX incidents_host ON incidents(host_id, last_ns);"
    "CREATE INDEX incidents_time ON incidents(last_ns);"
    "CREATE TABLE incident_alerts(incident_id INTEGER NOT NULL, alert_id INTEGER NOT NULL,"
    "  PRIMARY KEY(incident_id, alert_id)) WITHOUT ROWID;"
    "CREATE INDEX incident_alerts_alert ON incident_alerts(alert_id);"
    "CREATE TABLE triage(id INTEGER PRIMARY KEY, kind INTEGER NOT NULL, target_id INTEGER NOT NULL,"
    "  state INTEGER NOT NULL, note TEXT, who TEXT, at_ns INTEGER NOT NULL);"
    "CREATE INDEX triage_target ON triage(kind, target_id);"
    "CREATE TABLE commits(id INTEGER PRIMARY KEY, last_alert INTEGER NOT NULL, at_ns INTEGER NOT NULL);"
    /* roll-ups kept by the writer, each small whatever the number of
     * alerts: the overview, hosts and rules read these, never the alerts */
    "CREATE TABLE count_hour(hour INTEGER NOT NULL, level INTEGER NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY(hour, level)) WITHOUT ROWID;"
    "CREATE TABLE count_host(host_id INTEGER NOT NULL, level INTEGER NOT NULL, n INTEGER NOT NULL,"
    "  first_ns INTEGER, last_ns INTEGER, PRIMARY KEY(host_id, level)) WITHOUT ROWID;"
    "CREATE TABLE count_rule(rule_id INTEGER NOT NULL, host_id INTEGER NOT NULL, n INTEGER NOT NULL,"
    "  PRIMARY KEY(rule_id, host_id)) WITHOUT ROWID;";

/* 1 -> 2: events in compressed packs (events_to_packs moves them); no
 * index on alert levels (a level is its rule's: filtered through rules)
 * nor on process GUIDs (the writer remembers them); correlations with
 * their window, value, group and the alerts they join. */
static const char *const schema_v2 =
    "CREATE TABLE event_packs(id INTEGER PRIMARY KEY, n INTEGER NOT NULL, raw INTEGER NOT NULL, data BLOB NOT NULL);"
    "DROP INDEX alerts_level;"
    "DROP INDEX processes_guid;"
    "CREATE TABLE correlations(alert_id INTEGER PRIMARY KEY, type TEXT, value REAL, first_ns INTEGER,"
    "  last_ns INTEGER, grp TEXT, evidence TEXT);"
    "CREATE TABLE correlation_alerts(corr_id INTEGER NOT NULL, alert_id INTEGER NOT NULL,"
    "  PRIMARY KEY(corr_id, alert_id)) WITHOUT ROWID;"
    "CREATE INDEX correlation_alerts_alert ON correlation_alerts(alert_id);";

/* 2 -> 3: the search index becomes runs of alerts without rule titles and
 * host names (words_rebuild fills it from the alerts); its pending words
 * are flushed once per transaction rather than every megabyte, so a
 * transaction leaves one segment to merge instead of several. */
static const char *const schema_v3 =
    "DROP TABLE alert_text;"
    "CREATE VIRTUAL TABLE alert_words USING fts5(body, detail=none, columnsize=0, tokenize='ascii');"
    "INSERT INTO alert_words(alert_words, rank) VALUES('hashsize', 33554432);";

static int events_to_packs(struct stoat_store *s);
static int words_rebuild(struct stoat_store *s);

struct migration {
    const char *const *sql;
    int (*then)(struct stoat_store *s);   /* what SQL alone cannot do, in the same transaction */
};
static const struct migration migrations[] = {
    {&schema_v1, NULL},             /* 0 -> 1 */
    {&schema_v2, events_to_packs},  /* 1 -> 2 */
    {&schema_v3, words_rebuild},    /* 2 -> 3 */
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(NMIGRATIONS == STOAT_STORE_SCHEMA, "one migration per schema version");

/* Writer statements, by index into s->st. */
enum {
    ST_HOST_GET, ST_HOST_PUT, ST_RULE_PUT, ST_TACTIC_PUT, ST_TECH_PUT, ST_PACK_PUT, ST_PROC_PUT, ST_ALERT_PUT,
    ST_TEXT_PUT, ST_INC_PUT, ST_INC_ALERT, ST_COMMIT_PUT, ST_PROC_LINK, ST_BEGIN, ST_COMMIT, ST_COUNT_HOUR,
    ST_COUNT_HOST, ST_COUNT_RULE, ST_CORR_PUT, ST_CORR_ALERT,
    ST_COUNT
};
_Static_assert(ST_COUNT <= sizeof(((struct stoat_store *)0)->st) / sizeof(sqlite3_stmt *), "room for the statements");

static const char *const writer_sql[ST_COUNT] = {
    [ST_HOST_GET] = "SELECT id FROM hosts WHERE name = ?1",
    [ST_HOST_PUT] = "INSERT INTO hosts(name) VALUES(?1)",
    [ST_RULE_PUT] = "INSERT INTO rules(key, uid, title, kind, level, status, tags, techniques, tactics, product,"
                    " category, service, description, file) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14)"
                    " ON CONFLICT(key) DO UPDATE SET title=excluded.title, level=excluded.level,"
                    " status=excluded.status, tags=excluded.tags, techniques=excluded.techniques,"
                    " tactics=excluded.tactics, description=excluded.description, file=excluded.file"
                    " RETURNING id",
    [ST_TACTIC_PUT] = "INSERT OR IGNORE INTO rule_tactics(tactic, rule_id) VALUES(?1, ?2)",
    [ST_TECH_PUT] = "INSERT OR IGNORE INTO rule_techniques(technique, rule_id) VALUES(?1, ?2)",
    [ST_PACK_PUT] = "INSERT INTO event_packs(id, n, raw, data) VALUES(?1,?2,?3,?4)",
    [ST_PROC_PUT] = "INSERT INTO processes(host_id, guid, pid, start_ns, image, command_line, user, parent_id)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [ST_PROC_LINK] = "UPDATE processes SET parent_id = ?2 WHERE id = ?1 AND parent_id IS NULL",
    [ST_ALERT_PUT] = "INSERT INTO alerts(run_id, seq, time_ns, timestamp, host_id, rule_id, level, event_id,"
                     " process_id, logon_id, image, command_line, user) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [ST_TEXT_PUT] = "INSERT INTO alert_words(rowid, body) VALUES(?1, ?2)",
    [ST_INC_PUT] = "INSERT INTO incidents(run_id, seq, host_id, logon_id, title, score, level, first_ns, last_ns,"
                   " tactics, nalerts) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11)",
    [ST_INC_ALERT] = "INSERT OR IGNORE INTO incident_alerts(incident_id, alert_id) VALUES(?1, ?2)",
    [ST_COMMIT_PUT] = "INSERT INTO commits(last_alert, at_ns) VALUES(?1, ?2)",
    [ST_BEGIN] = "BEGIN IMMEDIATE",
    [ST_COMMIT] = "COMMIT",
    [ST_COUNT_HOUR] = "INSERT INTO count_hour(hour, level, n) VALUES(?1,?2,?3)"
                      " ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [ST_COUNT_HOST] = "INSERT INTO count_host(host_id, level, n, first_ns, last_ns) VALUES(?1,?2,?3,?4,?5)"
                      " ON CONFLICT DO UPDATE SET n = n + excluded.n, first_ns = min(first_ns, excluded.first_ns),"
                      " last_ns = max(last_ns, excluded.last_ns)",
    [ST_COUNT_RULE] = "INSERT INTO count_rule(rule_id, host_id, n) VALUES(?1,?2,?3)"
                      " ON CONFLICT DO UPDATE SET n = n + excluded.n",
    [ST_CORR_PUT] = "INSERT INTO correlations(alert_id, type, value, first_ns, last_ns, grp, evidence)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7)",
    [ST_CORR_ALERT] = "INSERT OR IGNORE INTO correlation_alerts(corr_id, alert_id) VALUES(?1, ?2)",
};

struct rule_cache {
    const struct stoat_rule_meta *meta;
    int64_t id;
};

/* ------------------------------------------------------------ helpers */

int64_t store_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

int64_t store_mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

/* SQLite calls this every few thousand steps of a statement. */
static int store_progress(void *ctx)
{
    struct stoat_store *s = ctx;
    if (!s->deadline_ns && !s->local_deadline_ns)
        return 0;
    int64_t now = store_mono_ns();
    if (s->local_deadline_ns && now >= s->local_deadline_ns) {
        s->local_hit = true;
        return 1;
    }
    return s->deadline_ns && now >= s->deadline_ns;
}

void stoat_store_set_deadline(struct stoat_store *s, unsigned ms)
{
    if (s)
        s->deadline_ns = ms ? store_mono_ns() + (int64_t)ms * 1000000LL : 0;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

stoat_err store_fail(struct stoat_store *s, int rc, const char *what)
{
    const char *msg = s->db ? sqlite3_errmsg(s->db) : sqlite3_errstr(rc);
    int prim = rc & 0xff;
    if (prim == SQLITE_CORRUPT || prim == SQLITE_NOTADB)
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s: the store is damaged (%s)", s->path, what, msg);
    else
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s: %s", s->path, what, msg);
    switch (prim) {
    case SQLITE_NOMEM: return STOAT_ERR_NOMEM;
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_SCHEMA:
    case SQLITE_MISMATCH: return STOAT_ERR_FORMAT;
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_CANTOPEN:
    case SQLITE_READONLY:
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_PERM: return STOAT_ERR_IO;
    case SQLITE_TOOBIG: return STOAT_ERR_LIMIT;
    default: return STOAT_ERR_IO;
    }
}

sqlite3_stmt *store_prepare(struct stoat_store *s, const char *sql)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc != SQLITE_OK) {
        store_fail(s, rc, "preparing a statement");
        sqlite3_finalize(st);
        return NULL;
    }
    return st;
}

void store_bind_text(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, i);
}

/* For the hot path: v must stay unchanged until the statement has run. */
static void bind_textn(sqlite3_stmt *st, int i, const char *v, size_t n)
{
    if (v)
        sqlite3_bind_text(st, i, v, (int)n, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

static void bind_static(sqlite3_stmt *st, int i, const char *v)
{
    if (v)
        sqlite3_bind_text(st, i, v, -1, SQLITE_STATIC);
    else
        sqlite3_bind_null(st, i);
}

const char *stoat_store_errmsg(const struct stoat_store *s)
{
    return s ? s->errmsg : "no store";
}

static int exec(struct stoat_store *s, const char *sql)
{
    char *msg = NULL;
    int rc = sqlite3_exec(s->db, sql, NULL, NULL, &msg);
    if (rc != SQLITE_OK) {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: %s", s->path, msg ? msg : sqlite3_errstr(rc));
        sqlite3_free(msg);
    }
    return rc;
}

static int pragma_int(struct stoat_store *s, const char *sql, int64_t *out)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, sql, -1, &st, NULL);
    if (rc == SQLITE_OK) {
        rc = sqlite3_step(st);
        if (rc == SQLITE_ROW) {
            *out = sqlite3_column_int64(st, 0);
            rc = SQLITE_OK;
        } else if (rc == SQLITE_DONE) {
            *out = 0;
            rc = SQLITE_OK;
        }
    }
    sqlite3_finalize(st);
    return rc;
}

static int64_t meta_int(struct stoat_store *s, const char *key, int64_t dflt)
{
    sqlite3_stmt *st = store_prepare(s, "SELECT value FROM meta WHERE key = ?1");
    int64_t v = dflt;
    if (!st)
        return dflt;
    store_bind_text(st, 1, key);
    if (sqlite3_step(st) == SQLITE_ROW && sqlite3_column_type(st, 0) != SQLITE_NULL)
        v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    return v;
}

static int meta_set_int(struct stoat_store *s, const char *key, int64_t v, bool clear)
{
    sqlite3_stmt *st = store_prepare(s, clear ? "DELETE FROM meta WHERE key = ?1"
                                              : "INSERT INTO meta(key, value) VALUES(?1, ?2)"
                                                " ON CONFLICT(key) DO UPDATE SET value = excluded.value");
    if (!st)
        return SQLITE_ERROR;
    store_bind_text(st, 1, key);
    if (!clear)
        sqlite3_bind_int64(st, 2, v);
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    return rc == SQLITE_DONE ? SQLITE_OK : rc;
}

/* ------------------------------------------------------------ opening */

/* Checks what the file is and brings its schema to ours. */
static stoat_err check_and_migrate(struct stoat_store *s, bool fresh_ok)
{
    int64_t app = 0, ver = 0, ntables = 0;
    int rc = pragma_int(s, "PRAGMA application_id", &app);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_NOTADB) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: not a stoat store (not an SQLite database)", s->path);
            return STOAT_ERR_FORMAT;
        }
        return store_fail(s, rc, "reading the header");
    }
    if ((rc = pragma_int(s, "PRAGMA user_version", &ver)) != SQLITE_OK)
        return store_fail(s, rc, "reading the schema version");
    if ((rc = pragma_int(s, "SELECT count(*) FROM sqlite_schema", &ntables)) != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_NOTADB) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: not a stoat store (not an SQLite database)", s->path);
            return STOAT_ERR_FORMAT;
        }
        return store_fail(s, rc, "reading the schema");
    }
    if (app != STOAT_APP_ID) {
        if (app != 0 || ntables != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg),
                     "%s: an SQLite database of another program, not a stoat store; give a new file name",
                     s->path);
            return STOAT_ERR_FORMAT;
        }
        if (!fresh_ok) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: an empty database, not a stoat store", s->path);
            return STOAT_ERR_FORMAT;
        }
    }
    if (ver > STOAT_STORE_SCHEMA) {
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "%s: made by a newer stoat (schema %lld; this stoat reads up to %d)", s->path, (long long)ver,
                 STOAT_STORE_SCHEMA);
        return STOAT_ERR_FORMAT;
    }
    if (ver == STOAT_STORE_SCHEMA)
        return STOAT_OK;
    if (s->readonly) {
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "%s: schema %lld is older than this stoat's (%d); open it once for writing to upgrade",
                 s->path, (long long)ver, STOAT_STORE_SCHEMA);
        return STOAT_ERR_FORMAT;
    }
    for (int64_t v = ver; v < STOAT_STORE_SCHEMA; v++) {
        char tail[96];
        if ((rc = exec(s, "BEGIN IMMEDIATE")) != SQLITE_OK)
            return STOAT_ERR_IO;
        snprintf(tail, sizeof(tail), "PRAGMA application_id = %d; PRAGMA user_version = %lld;", STOAT_APP_ID,
                 (long long)v + 1);
        if ((rc = exec(s, *migrations[v].sql)) != SQLITE_OK ||
            (migrations[v].then && (rc = migrations[v].then(s)) != SQLITE_OK) || (rc = exec(s, tail)) != SQLITE_OK) {
            char keep[sizeof(s->errmsg)];
            memcpy(keep, s->errmsg, sizeof(keep));
            exec(s, "ROLLBACK");
            memcpy(s->errmsg, keep, sizeof(keep));
            return STOAT_ERR_IO;
        }
        if ((rc = exec(s, "COMMIT")) != SQLITE_OK)
            return STOAT_ERR_IO;
    }
    return STOAT_OK;
}

/* SQLite's memory statistics take a global mutex on every allocation; the
 * store does not use them. Must run before SQLite is first used. */
static void sqlite_setup(void)
{
    sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

stoat_err stoat_store_open(const char *path, const struct stoat_store_opts *opts, struct stoat_store **out,
                           char *err, size_t errlen)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, sqlite_setup);
    static const struct stoat_store_opts dflt = {0};
    stoat_err e = STOAT_OK;
    if (!opts)
        opts = &dflt;
    *out = NULL;
    struct stoat_store *s = xcalloc(1, sizeof(*s));
    snprintf(s->path, sizeof(s->path), "%s", path ? path : "");
    s->readonly = opts->readonly;
    s->batch_alerts = opts->batch_alerts ? opts->batch_alerts : 16384;
    s->batch_ms = opts->batch_ms ? opts->batch_ms : 1000;
    strmap_init(&s->hosts);
    s->proc_seed = hash_mix((uint64_t)store_now_ns() ^ (uint64_t)(uintptr_t)s ^ (uint64_t)getpid() << 32);
    if (!path || !*path) {
        snprintf(s->errmsg, sizeof(s->errmsg), "no store file given");
        e = STOAT_ERR_ARG;
        goto out;
    }
    if (opts->readonly || !opts->create) {
        if (access(path, F_OK) != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: no such store", path);
            e = STOAT_ERR_NOTFOUND;
            goto out;
        }
    }
    int flags = (opts->readonly ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE) |
                SQLITE_OPEN_NOMUTEX;
    int rc = sqlite3_open_v2(path, &s->db, flags, NULL);
    if (rc != SQLITE_OK) {
        e = store_fail(s, rc, "opening");
        goto out;
    }
    sqlite3_extended_result_codes(s->db, 1);
    sqlite3_busy_timeout(s->db, 10000);
    if ((rc = store_words_register(s->db)) != SQLITE_OK) {
        e = store_fail(s, rc, "opening");
        goto out;
    }
    /* Tolerate damage in reads rather than assert: never trust the file. */
    exec(s, "PRAGMA cell_size_check = ON");
    /* only takes effect on a file without tables yet (see the top) */
    if (!opts->readonly)
        exec(s, "PRAGMA page_size = 16384");
    if ((e = check_and_migrate(s, !opts->readonly)) != STOAT_OK)
        goto out;
    if (!opts->readonly) {
        int64_t mode = 0;
        sqlite3_stmt *st = store_prepare(s, "PRAGMA journal_mode = WAL");
        if (st && sqlite3_step(st) == SQLITE_ROW)
            mode = sqlite3_column_bytes(st, 0) == 3;
        sqlite3_finalize(st);
        if (!mode) {
            e = STOAT_ERR_IO;
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: cannot switch the store to WAL mode", path);
            goto out;
        }
        /* the WAL is copied into the file past 64 MiB (in pages of this
         * file, 16 KiB for new ones, 4 KiB for older) */
        int64_t psz = 0;
        pragma_int(s, "PRAGMA page_size", &psz);
        char ck[64];
        snprintf(ck, sizeof(ck), "PRAGMA wal_autocheckpoint = %lld", (long long)((64 << 20) / (psz > 0 ? psz : 4096)));
        if (exec(s, "PRAGMA synchronous = FULL; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;"
                    "PRAGMA cache_size = -65536") != SQLITE_OK || exec(s, ck) != SQLITE_OK) {
            e = STOAT_ERR_IO;
            goto out;
        }
        if (opts->retain_days)
            rc = meta_set_int(s, "retain_days", opts->retain_days, opts->retain_days < 0);
        if (rc == SQLITE_OK && opts->retain_alerts)
            rc = meta_set_int(s, "retain_alerts", opts->retain_alerts, opts->retain_alerts < 0);
        if (rc != SQLITE_OK) {
            e = store_fail(s, rc, "saving the retention setting");
            goto out;
        }
        s->retain_days = meta_int(s, "retain_days", 0);
        s->retain_alerts = meta_int(s, "retain_alerts", 0);
        s->prune_every_ms = opts->prune_every_ms;
        s->last_prune_ms = mono_ms();
        if ((rc = pragma_int(s, "SELECT id + n FROM event_packs ORDER BY id DESC LIMIT 1", &s->next_event)) != SQLITE_OK) {
            e = store_fail(s, rc, "reading the event packs");
            goto out;
        }
        if (s->next_event < 1)
            s->next_event = 1;
        for (int i = 0; i < ST_COUNT; i++)
            if (!(s->st[i] = store_prepare(s, writer_sql[i]))) {
                e = STOAT_ERR_IO;
                goto out;
            }
    } else {
        exec(s, "PRAGMA query_only = ON; PRAGMA cache_size = -32768");
        sqlite3_progress_handler(s->db, 4000, store_progress, s);
    }
out:
    if (e != STOAT_OK) {
        if (err && errlen)
            snprintf(err, errlen, "%s", s->errmsg[0] ? s->errmsg : stoat_strerror(e));
        stoat_store_close(s);
        return e;
    }
    *out = s;
    return STOAT_OK;
}

static stoat_err tx_end(struct stoat_store *s);
static void writer_stop(struct stoat_store *s);
static void packer_stop(struct stoat_store *s);
static void zjob_free(struct zjob *j);
static void chunk_unref(struct job_chunk *c);
static stoat_err run_begin_now(struct stoat_store *s, const char *producer, const char *args);

void stoat_store_close(struct stoat_store *s)
{
    if (!s)
        return;
    store_quiesce(s);
    writer_stop(s);
    chunk_unref(s->pchunk);
    if (s->in_tx)
        tx_end(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    for (size_t i = 0; i < s->nsnaps; i++) {
        arena_free(&s->snaps[i]->mem);
        free(s->snaps[i]);
    }
    free(s->snaps);
    free(s->pev_file);
    buf_free(&s->prec);
    buf_free(&s->ptext);
    sqlite3_finalize(s->rp_get);
    sqlite3_finalize(s->rp_valid);
    if (s->db && !s->readonly)
        sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close_v2(s->db);
    strmap_free(&s->hosts);
    free(s->procs[0].slots);
    free(s->procs[1].slots);
    free(s->rules);
    free(s->counts);
    free(s->wr_set);
    buf_free(&s->wr_text);
    free(s->seq_rows);
    free(s->ev_file);
    packer_stop(s);
    zjob_free(s->zsync);
    free(s->zsync);
    buf_free(&s->pk);
    buf_free(&s->rp);
    buf_free(&s->scratch);
    free(s);
}

/* ------------------------------------------------------------ writing */

static int step_done(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

/* For the statements run for every alert, which bind each parameter every
 * time (NULL included): clearing them all again costs more than it is worth. */
static int step_bound(sqlite3_stmt *st)
{
    int rc = sqlite3_step(st);
    sqlite3_reset(st);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? SQLITE_OK : rc;
}

static stoat_err tx_begin(struct stoat_store *s)
{
    if (s->in_tx)
        return STOAT_OK;
    int rc = step_done(s->st[ST_BEGIN]);
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "starting a transaction");
    s->in_tx = true;
    s->pending = 0;
    s->tx_started_ns = mono_ms();
    /* another writer (a hunt beside a watch) may have added packs since:
     * numbers are taken from the file under the write lock */
    int64_t next = 0;
    if ((rc = pragma_int(s, "SELECT id + n FROM event_packs ORDER BY id DESC LIMIT 1", &next)) != SQLITE_OK) {
        stoat_err e = store_fail(s, rc, "reading the event packs");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_tx = false;
        return e;
    }
    if (next > s->next_event)
        s->next_event = next;
    s->tx_next_event = s->next_event;
    return STOAT_OK;
}

/* ------------------------------------------------------------ processes */

static void procs_clear(struct stoat_store *s)
{
    for (int g = 0; g < 2; g++) {
        free(s->procs[g].slots);
        s->procs[g] = (struct proc_gen){0};
    }
}

static struct proc_slot *proc_find(struct proc_gen *g, uint64_t h)
{
    if (!g->slots)
        return NULL;
    for (size_t i = h & (PROC_SLOTS - 1);; i = (i + 1) & (PROC_SLOTS - 1)) {
        if (g->slots[i].h == h)
            return &g->slots[i];
        if (!g->slots[i].h)
            return NULL;
    }
}

static struct proc_slot *proc_put(struct stoat_store *s, uint64_t h, int64_t row, bool has_parent)
{
    struct proc_gen *y = &s->procs[0];
    if (y->count >= PROC_SLOTS / 2) {
        /* the old generation goes; what is used from now on moves up */
        free(s->procs[1].slots);
        s->procs[1] = *y;
        *y = (struct proc_gen){0};
    }
    if (!y->slots)
        y->slots = xcalloc(PROC_SLOTS, sizeof(*y->slots));
    size_t i = h & (PROC_SLOTS - 1);
    while (y->slots[i].h && y->slots[i].h != h)
        i = (i + 1) & (PROC_SLOTS - 1);
    if (!y->slots[i].h)
        y->count++;
    y->slots[i] = (struct proc_slot){h, row, has_parent};
    return &y->slots[i];
}

/* The slot of a process stored before, young or old (moved to the young). */
static struct proc_slot *proc_get(struct stoat_store *s, uint64_t h)
{
    struct proc_slot *p = proc_find(&s->procs[0], h);
    if (p)
        return p;
    if (!(p = proc_find(&s->procs[1], h)))
        return NULL;
    struct proc_slot keep = *p;
    return proc_put(s, h, keep.row, keep.has_parent);
}

/* Adds the batch's counts to the roll-ups. */
static int counts_flush(struct stoat_store *s)
{
    int rc = SQLITE_OK;
    for (size_t i = 0; i < STORE_COUNT_SLOTS && s->ncounts; i++) {
        struct count_slot *c = &s->counts[i];
        if (!c->n)
            continue;
        sqlite3_stmt *st = s->st[c->kind == 0 ? ST_COUNT_HOUR : c->kind == 1 ? ST_COUNT_HOST : ST_COUNT_RULE];
        sqlite3_bind_int64(st, 1, c->a);
        sqlite3_bind_int64(st, 2, c->b);
        sqlite3_bind_int64(st, 3, c->n);
        if (c->kind == 1) {
            sqlite3_bind_int64(st, 4, c->first);
            sqlite3_bind_int64(st, 5, c->last);
        }
        if (rc == SQLITE_OK)
            rc = step_done(st);
        c->n = 0;
    }
    s->ncounts = 0;
    return rc;
}

static int count_add(struct stoat_store *s, int kind, int64_t a, int64_t b, int64_t t)
{
    if (!s->counts)
        s->counts = xcalloc(STORE_COUNT_SLOTS, sizeof(*s->counts));
    uint64_t h = hash_mix((uint64_t)a * 0x9e3779b97f4a7c15ULL ^ (uint64_t)b * 0xc2b2ae3d27d4eb4fULL ^ (uint64_t)kind);
    for (size_t k = 0; k < STORE_COUNT_SLOTS; k++) {
        struct count_slot *c = &s->counts[(h + k) & (STORE_COUNT_SLOTS - 1)];
        if (c->n && c->kind == kind && c->a == a && c->b == b) {
            c->n++;
            if (t && (!c->first || t < c->first))
                c->first = t;
            if (t > c->last)
                c->last = t;
            return SQLITE_OK;
        }
        if (!c->n) {
            *c = (struct count_slot){a, b, 1, t, t, kind};
            if (++s->ncounts >= STORE_COUNT_SLOTS * 3 / 4)
                return counts_flush(s);
            return SQLITE_OK;
        }
    }
    return SQLITE_INTERNAL;
}

static int64_t hour_of(int64_t ns)
{
    if (ns <= 0)
        return 0;
    return ns / 3600000000000LL;
}

/* ------------------------------------------------------------ event packs */

/* A pack is zlib(offsets then records): n little-endian uint32 ends of the
 * records, counted from the first record, then the records, each a JSON
 * object. Its row id is the number of its first event; the others follow
 * on, so an event is found by the row at or below its number.
 *
 * Compressing a pack costs the writer about as much as an alert's row and
 * indexes, so a full pack is handed to a thread of its own (the packer)
 * while the writer goes on with the next; its row is inserted when the
 * next pack is full, and always before the transaction commits: a commit
 * never holds an alert whose event is not in the file. The open pack at a
 * commit, and all packs of a writer not on its own thread (a migration),
 * are compressed by the writer itself. */

/* A pack's bytes and, once compressed, its row. */
struct zjob {
    unsigned char *in;    /* offsets then records (owned) */
    size_t raw;
    int64_t id;
    unsigned n;
    z_stream *z;          /* reused: a fresh one per pack costs page faults */
    unsigned char *out;   /* reused */
    size_t cap, outn;
    bool ok;
};

static void zjob_compress(struct zjob *j)
{
    j->ok = false;
    if (!j->z) {
        j->z = xcalloc(1, sizeof(*j->z));
        /* raw deflate (no zlib header, no checksum: SQLite checks the page,
         * and the reader checks the size and the records) at level 1:
         * event text is repetitive enough that the fastest level already
         * shrinks it several times; more would cost the writer's rate */
        if (deflateInit2(j->z, 1, Z_DEFLATED, -15, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
            free(j->z);
            j->z = NULL;
            return;
        }
    } else {
        deflateReset(j->z);
    }
    size_t zn = deflateBound(j->z, (uLong)j->raw);
    if (j->cap < zn) {
        free(j->out);
        j->out = xmalloc(zn);
        j->cap = zn;
    }
    j->z->next_in = j->in;
    j->z->avail_in = (uInt)j->raw;
    j->z->next_out = j->out;
    j->z->avail_out = (uInt)zn;
    j->ok = deflate(j->z, Z_FINISH) == Z_STREAM_END;
    j->outn = zn - j->z->avail_out;
}

static void zjob_free(struct zjob *j)
{
    if (!j)
        return;
    free(j->in);
    free(j->out);
    if (j->z)
        deflateEnd(j->z);
    free(j->z);
}

static int zjob_insert(struct stoat_store *s, struct zjob *j)
{
    if (!j->ok)
        return SQLITE_NOMEM;
    sqlite3_stmt *st = s->st[ST_PACK_PUT];
    sqlite3_bind_int64(st, 1, j->id);
    sqlite3_bind_int(st, 2, (int)j->n);
    sqlite3_bind_int64(st, 3, (int64_t)j->raw);
    sqlite3_bind_blob(st, 4, j->out, (int)j->outn, SQLITE_STATIC);
    return step_done(st);
}

enum { PACKER_IDLE, PACKER_WORK, PACKER_DONE };
struct packer {
    pthread_t thr;
    pthread_mutex_t mu;
    pthread_cond_t cv;     /* a pack given, done, or stop */
    int state;
    bool stop;
    struct zjob job;
};

static void *packer_main(void *arg)
{
    struct packer *k = arg;
    pthread_setname_np(pthread_self(), "stoat-pack");   /* for top and perf */
    pthread_mutex_lock(&k->mu);
    for (;;) {
        while (k->state != PACKER_WORK && !k->stop)
            pthread_cond_wait(&k->cv, &k->mu);
        if (k->state != PACKER_WORK)
            break;
        pthread_mutex_unlock(&k->mu);
        zjob_compress(&k->job);
        pthread_mutex_lock(&k->mu);
        k->state = PACKER_DONE;
        pthread_cond_broadcast(&k->cv);
    }
    pthread_mutex_unlock(&k->mu);
    return NULL;
}

/* The packer, started on first need by the writer's thread; NULL for any
 * other caller, or when the thread cannot start (the writer compresses). */
static struct packer *packer_get(struct stoat_store *s)
{
    if (!s->on_writer)
        return NULL;
    if (!s->packer) {
        struct packer *k = xcalloc(1, sizeof(*k));
        pthread_mutex_init(&k->mu, NULL);
        pthread_cond_init(&k->cv, NULL);
        if (pthread_create(&k->thr, NULL, packer_main, k) != 0) {
            pthread_mutex_destroy(&k->mu);
            pthread_cond_destroy(&k->cv);
            free(k);
            s->on_writer = false;   /* not again */
            return NULL;
        }
        s->packer = k;
    }
    return s->packer;
}

/* Waits for the pack given to the packer, if any, and inserts its row
 * (keep) or drops it (a rollback). */
static int pack_collect(struct stoat_store *s, bool keep)
{
    struct packer *k = s->packer;
    if (!k)
        return SQLITE_OK;
    pthread_mutex_lock(&k->mu);
    bool had = k->state != PACKER_IDLE;
    while (k->state == PACKER_WORK)
        pthread_cond_wait(&k->cv, &k->mu);
    pthread_mutex_unlock(&k->mu);
    if (!had)
        return SQLITE_OK;
    int rc = keep ? zjob_insert(s, &k->job) : SQLITE_OK;
    free(k->job.in);
    k->job.in = NULL;
    pthread_mutex_lock(&k->mu);
    k->state = PACKER_IDLE;
    pthread_mutex_unlock(&k->mu);
    return rc;
}

static void packer_stop(struct stoat_store *s)
{
    struct packer *k = s->packer;
    if (!k)
        return;
    pthread_mutex_lock(&k->mu);
    k->stop = true;
    pthread_cond_broadcast(&k->cv);
    pthread_mutex_unlock(&k->mu);
    pthread_join(k->thr, NULL);
    pthread_mutex_destroy(&k->mu);
    pthread_cond_destroy(&k->cv);
    zjob_free(&k->job);
    free(k);
    s->packer = NULL;
}

/* Closes the open pack: to the packer (later: the row is inserted by the
 * next pack_collect), or compressed and inserted now (!later, or no
 * packer). Either way the pack before is inserted first. */
static int pack_flush(struct stoat_store *s, bool later)
{
    if (!s->pk_n)
        return pack_collect(s, true);
    size_t head = (size_t)s->pk_n * 4, raw = head + s->pk.len;
    unsigned char *in = xmalloc(raw);
    for (unsigned i = 0; i < s->pk_n; i++) {
        uint32_t v = s->pk_end[i];
        in[i * 4] = (unsigned char)v, in[i * 4 + 1] = (unsigned char)(v >> 8);
        in[i * 4 + 2] = (unsigned char)(v >> 16), in[i * 4 + 3] = (unsigned char)(v >> 24);
    }
    memcpy(in + head, s->pk.p, s->pk.len);
    int64_t id = s->pk_first;
    unsigned n = s->pk_n;
    s->pk_n = 0;
    buf_clear(&s->pk);
    int rc = pack_collect(s, true);
    struct packer *k = later && rc == SQLITE_OK ? packer_get(s) : NULL;
    if (k) {
        k->job.in = in, k->job.raw = raw, k->job.id = id, k->job.n = n;
        pthread_mutex_lock(&k->mu);
        k->state = PACKER_WORK;
        pthread_cond_broadcast(&k->cv);
        pthread_mutex_unlock(&k->mu);
        return SQLITE_OK;
    }
    if (rc == SQLITE_OK) {
        if (!s->zsync)
            s->zsync = xcalloc(1, sizeof(*s->zsync));
        struct zjob *j = s->zsync;
        j->in = in, j->raw = raw, j->id = id, j->n = n;
        zjob_compress(j);
        rc = zjob_insert(s, j);
        j->in = NULL;
    }
    free(in);
    return rc;
}

/* Adds an event record to the open pack; returns its number. */
static int pack_add(struct stoat_store *s, const char *rec, size_t n, int64_t *num)
{
    if (s->pk_n && s->pk.len + n > UINT32_MAX / 2) {
        int rc = pack_flush(s, true);
        if (rc != SQLITE_OK)
            return rc;
    }
    if (!s->pk_n)
        s->pk_first = s->next_event;
    buf_put(&s->pk, rec, n);
    s->pk_end[s->pk_n++] = (uint32_t)s->pk.len;
    *num = s->next_event++;
    if (s->pk_n == PACK_EVENTS || s->pk.len >= PACK_RAW_MAX)
        return pack_flush(s, true);
    return SQLITE_OK;
}

static uint32_t le32(const unsigned char *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Unpacks the pack holding ev into s->rp (kept for the next call: the
 * report reads events in order). *found is false when there is none or it
 * is damaged. */
static int pack_load(struct stoat_store *s, int64_t ev, bool *found)
{
    *found = false;
    if (s->rp_n && ev >= s->rp_id && ev - s->rp_id < (int64_t)s->rp_n) {
        *found = true;
        return SQLITE_OK;
    }
    if (!s->rp_get && !(s->rp_get = store_prepare(s, "SELECT id, n, raw, data FROM event_packs WHERE id <= ?1"
                                                     " ORDER BY id DESC LIMIT 1")))
        return SQLITE_ERROR;
    sqlite3_stmt *st = s->rp_get;
    sqlite3_bind_int64(st, 1, ev);
    int rc = sqlite3_step(st);
    if (rc == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0), n = sqlite3_column_int64(st, 1), raw = sqlite3_column_int64(st, 2);
        const void *zd = sqlite3_column_blob(st, 3);
        int zn = sqlite3_column_bytes(st, 3);
        s->rp_n = 0;
        buf_clear(&s->rp);
        bool ok = n > 0 && n <= PACK_EVENTS && ev - id < n && raw >= n * 4 && raw <= (int64_t)PACK_READ_MAX && zd;
        if (ok) {
            buf_reserve(&s->rp, (size_t)raw);
            z_stream z;
            memset(&z, 0, sizeof(z));
            ok = inflateInit2(&z, -15) == Z_OK;
            if (ok) {
                z.next_in = (unsigned char *)zd;
                z.avail_in = (uInt)zn;
                z.next_out = (unsigned char *)s->rp.p;
                z.avail_out = (uInt)raw;
                /* exactly raw bytes, no more: a pack that lies is damaged */
                ok = inflate(&z, Z_FINISH) == Z_STREAM_END && z.avail_out == 0;
                inflateEnd(&z);
            }
        }
        if (ok) {
            s->rp.len = (size_t)raw;
            /* the ends must rise and stay inside */
            const unsigned char *o = (const unsigned char *)s->rp.p;
            uint32_t last = 0;
            for (int64_t i = 0; i < n && ok; i++) {
                uint32_t v = le32(o + i * 4);
                ok = v >= last && v <= (uint64_t)raw - (uint64_t)n * 4;
                last = v;
            }
        }
        if (ok) {
            s->rp_id = id;
            s->rp_n = (unsigned)n;
            *found = true;
        }
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE) {
        rc = SQLITE_OK;
    }
    sqlite3_reset(st);
    return rc;
}

int store_event_json(struct stoat_store *s, int64_t ev, struct buf *b)
{
    bool found = false;
    int rc = ev > 0 ? pack_load(s, ev, &found) : SQLITE_OK;
    if (rc != SQLITE_OK || !found) {
        buf_puts(b, "null");
        return rc;
    }
    const unsigned char *o = (const unsigned char *)s->rp.p;
    size_t k = (size_t)(ev - s->rp_id), head = (size_t)s->rp_n * 4;
    uint32_t from = k ? le32(o + (k - 1) * 4) : 0, to = le32(o + k * 4);
    const char *rec = s->rp.p + head + from;
    size_t n = to - from;
    /* our writer made it, but the file may not be ours any more */
    if (!s->rp_valid && !(s->rp_valid = store_prepare(s, "SELECT json_valid(?1) AND json_type(?1) = 'object'")))
        return SQLITE_ERROR;
    sqlite3_stmt *v = s->rp_valid;
    sqlite3_bind_text(v, 1, rec, (int)n, SQLITE_STATIC);
    bool valid = sqlite3_step(v) == SQLITE_ROW && sqlite3_column_int(v, 0) == 1;
    sqlite3_reset(v);
    if (valid)
        buf_put(b, rec, n);
    else
        buf_puts(b, "null");
    return SQLITE_OK;
}

/* 1 -> 2: the rows of `events` become packs, numbered as they were (a gap
 * left by retention starts a new pack), and the table goes. */
static int events_to_packs(struct stoat_store *s)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT id, file, format, record, line, offset, channel, event_id,"
                                       " CASE WHEN json_valid(fields) THEN fields END FROM events ORDER BY id",
                                -1, &st, NULL);
    if (rc != SQLITE_OK)
        return rc;
    if (!s->st[ST_PACK_PUT] && (rc = sqlite3_prepare_v2(s->db, writer_sql[ST_PACK_PUT], -1, &s->st[ST_PACK_PUT], NULL)) !=
                                   SQLITE_OK) {
        sqlite3_finalize(st);
        return rc;
    }
    struct buf r = {0};
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        int64_t id = sqlite3_column_int64(st, 0);
        if (s->pk_n && id != s->next_event && (rc = pack_flush(s, false)) != SQLITE_OK)
            break;
        s->next_event = id;
        buf_clear(&r);
        buf_puts(&r, "{\"file\":");
        json_col_text(&r, st, 1);
        buf_puts(&r, ",\"format\":");
        json_col_text(&r, st, 2);
        static const char *const ints[] = {"record", "line", "offset"};
        for (int c = 0; c < 3; c++) {
            buf_printf(&r, ",\"%s\":", ints[c]);
            if (sqlite3_column_type(st, 3 + c) == SQLITE_NULL)
                buf_puts(&r, "null");
            else
                buf_printf(&r, "%lld", (long long)sqlite3_column_int64(st, 3 + c));
        }
        buf_puts(&r, ",\"channel\":");
        json_col_text(&r, st, 6);
        buf_puts(&r, ",\"event_id\":");
        json_col_text(&r, st, 7);
        buf_puts(&r, ",\"fields\":");
        if (sqlite3_column_type(st, 8) == SQLITE_NULL)
            buf_puts(&r, "{}");
        else
            buf_put(&r, sqlite3_column_text(st, 8), (size_t)sqlite3_column_bytes(st, 8));
        buf_putc(&r, '}');
        int64_t num;
        if ((rc = pack_add(s, r.p, r.len, &num)) != SQLITE_OK)
            break;
    }
    if (rc == SQLITE_DONE)
        rc = pack_flush(s, false);
    sqlite3_finalize(st);
    sqlite3_finalize(s->st[ST_PACK_PUT]);
    s->st[ST_PACK_PUT] = NULL;
    buf_free(&r);
    s->next_event = 0;
    if (rc == SQLITE_OK)
        rc = exec(s, "DROP TABLE events");
    return rc;
}

/* ------------------------------------------------------------ the search index */

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
                b->len = at;   /* the run has it */
                break;
            }
        }
    }
}

/* Writes the open run (with st: the writer's statement, or the
 * migration's). */
static int words_flush(struct stoat_store *s, sqlite3_stmt *st)
{
    if (!s->wr_n)
        return SQLITE_OK;
    sqlite3_bind_int64(st, 1, (int64_t)((uint64_t)s->wr_first << WORDS_SHIFT | (s->wr_n - 1)));
    bind_textn(st, 2, s->wr_text.p ? s->wr_text.p : "", s->wr_text.len);
    int rc = step_done(st);
    s->wr_n = 0;
    s->wr_nset = 0;
    s->wr_gen++;   /* empties the set without touching it */
    if (s->wr_gen == UINT32_MAX - 1) {
        memset(s->wr_set, 0, WORDS_SET * sizeof(*s->wr_set));
        s->wr_gen = 0;
    }
    buf_clear(&s->wr_text);
    return rc;
}

/* Puts alert id into the open run, or into a new one when the run is full
 * or id does not follow it. */
static int words_alert(struct stoat_store *s, sqlite3_stmt *st, int64_t id, const char *const *texts,
                       const size_t *lens, int ntexts)
{
    int rc = SQLITE_OK;
    if (s->wr_n && (s->wr_n == WORDS_GROUP || id != s->wr_first + (int64_t)s->wr_n))
        rc = words_flush(s, st);
    if (!s->wr_n)
        s->wr_first = id;
    s->wr_n++;
    for (int i = 0; i < ntexts; i++)
        words_add(s, texts[i], lens[i]);
    return rc;
}

/* 2 -> 3: the runs made from the alerts already stored, with what readers
 * show for each (its own columns, else its process's). */
static int words_rebuild(struct stoat_store *s)
{
    sqlite3_stmt *st = NULL, *put = NULL;
    int rc = sqlite3_prepare_v2(s->db, "SELECT a.id, coalesce(a.image, p.image), coalesce(a.command_line, p.command_line),"
                                       " coalesce(a.user, p.user) FROM alerts a LEFT JOIN processes p ON p.id = a.process_id"
                                       " ORDER BY a.id", -1, &st, NULL);
    if (rc == SQLITE_OK)
        rc = sqlite3_prepare_v2(s->db, writer_sql[ST_TEXT_PUT], -1, &put, NULL);
    while (rc == SQLITE_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *t[3];
        size_t n[3];
        for (int c = 0; c < 3; c++) {
            t[c] = (const char *)sqlite3_column_text(st, c + 1);
            n[c] = (size_t)sqlite3_column_bytes(st, c + 1);
        }
        rc = words_alert(s, put, sqlite3_column_int64(st, 0), t, n, 3);
    }
    if (rc == SQLITE_DONE)
        rc = words_flush(s, put);
    sqlite3_finalize(st);
    sqlite3_finalize(put);
    return rc;
}

static stoat_err tx_end(struct stoat_store *s)
{
    if (!s->in_tx)
        return STOAT_OK;
    /* a run never spans two transactions: retention and readers see whole runs */
    int rc = words_flush(s, s->st[ST_TEXT_PUT]);
    if (rc == SQLITE_OK)
        rc = counts_flush(s);
    if (rc == SQLITE_OK)
        rc = pack_flush(s, false);   /* and the packer's: all in before the commit */
    if (rc == SQLITE_OK && s->pending) {
        sqlite3_bind_int64(s->st[ST_COMMIT_PUT], 1, (int64_t)s->last_alert_id);
        sqlite3_bind_int64(s->st[ST_COMMIT_PUT], 2, store_now_ns());
        rc = step_done(s->st[ST_COMMIT_PUT]);
    }
    if (rc == SQLITE_OK)
        rc = step_done(s->st[ST_COMMIT]);
    if (rc != SQLITE_OK) {
        stoat_err e = store_fail(s, rc, "committing");
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        s->in_tx = false;
        pack_collect(s, false);
        /* the caches may name rows that were rolled back */
        strmap_free(&s->hosts);
        strmap_init(&s->hosts);
        procs_clear(s);
        s->nrules = 0;
        s->ev_id = 0;
        s->pk_n = 0;
        buf_clear(&s->pk);
        s->wr_n = 0;
        s->wr_nset = 0;
        s->wr_gen++;
        buf_clear(&s->wr_text);
        s->next_event = s->tx_next_event;
        if (s->counts)
            memset(s->counts, 0, STORE_COUNT_SLOTS * sizeof(*s->counts));
        s->ncounts = 0;
        return e;
    }
    s->in_tx = false;
    s->commits++;
    return STOAT_OK;
}

stoat_err stoat_store_commit(struct stoat_store *s)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = s->threaded ? store_quiesce(s) : tx_end(s);
    if (e == STOAT_OK && s->prune_every_ms && mono_ms() - s->last_prune_ms >= s->prune_every_ms) {
        s->last_prune_ms = mono_ms();
        e = stoat_store_prune(s, NULL);
    }
    return e;
}

static stoat_err maybe_commit(struct stoat_store *s)
{
    if (s->pending >= s->batch_alerts || mono_ms() - s->tx_started_ns >= (int64_t)s->batch_ms)
        return tx_end(s);
    return STOAT_OK;
}

static stoat_err run_begin_now(struct stoat_store *s, const char *producer, const char *args)
{
    stoat_err e = tx_end(s);
    if (e != STOAT_OK)
        return e;
    sqlite3_stmt *st = store_prepare(s, "INSERT INTO runs(producer, args, started_ns) VALUES(?1, ?2, ?3)");
    if (!st)
        return STOAT_ERR_IO;
    store_bind_text(st, 1, producer ? producer : "unknown");
    store_bind_text(st, 2, args);
    sqlite3_bind_int64(st, 3, store_now_ns());
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, rc, "recording the run");
    s->run_id = sqlite3_last_insert_rowid(s->db);
    s->ev_id = 0;
    s->nseq = 0;
    s->seq_base = 0;
    return STOAT_OK;
}

stoat_err stoat_store_run_begin(struct stoat_store *s, const char *producer, const char *args)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = store_quiesce(s);
    if (e != STOAT_OK)
        return e;
    free(s->pev_file);
    s->pev_file = NULL;
    return run_begin_now(s, producer, args);
}

static int64_t host_id(struct stoat_store *s, const char *name, int *rc)
{
    if (!name || !*name)
        name = "(unknown host)";
    size_t n = strlen(name);
    uint32_t v;
    if (strmap_get(&s->hosts, name, n, &v))
        return v;
    sqlite3_stmt *g = s->st[ST_HOST_GET];
    store_bind_text(g, 1, name);
    int64_t id = 0;
    if ((*rc = sqlite3_step(g)) == SQLITE_ROW)
        id = sqlite3_column_int64(g, 0);
    sqlite3_reset(g);
    if (*rc != SQLITE_ROW && *rc != SQLITE_DONE)
        return 0;
    if (!id) {
        sqlite3_stmt *p = s->st[ST_HOST_PUT];
        store_bind_text(p, 1, name);
        if ((*rc = step_done(p)) != SQLITE_OK)
            return 0;
        id = sqlite3_last_insert_rowid(s->db);
    }
    *rc = SQLITE_OK;
    if (id <= (int64_t)UINT32_MAX && s->hosts.count < STORE_CACHE_MAX)
        strmap_put(&s->hosts, name, n, (uint32_t)id);
    return id;
}

static int64_t rule_id(struct stoat_store *s, const struct stoat_rule_meta *r, int *rc)
{
    *rc = SQLITE_OK;
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].meta == r)
            return s->rules[i].id;
    sqlite3_stmt *st = s->st[ST_RULE_PUT];
    struct buf *b = &s->scratch;
    buf_clear(b);
    const char *title = r->title ? r->title : r->name ? r->name : "(untitled rule)";
    if (r->id)
        buf_puts(b, r->id);
    else {
        buf_puts(b, "title:");
        buf_puts(b, title);
    }
    store_bind_text(st, 1, b->p);
    store_bind_text(st, 2, r->id);
    store_bind_text(st, 3, title);
    sqlite3_bind_int(st, 4, (int)r->kind);
    sqlite3_bind_int(st, 5, (int)r->level);
    const char *status = stoat_status_name(r->status);
    store_bind_text(st, 6, status && *status ? status : NULL);
    buf_clear(b);
    buf_json_strs(b, r->tags.items, r->tags.n);
    store_bind_text(st, 7, b->p);
    buf_clear(b);
    buf_json_strs(b, r->attack_ids.items, r->attack_ids.n);
    store_bind_text(st, 8, b->p);
    buf_clear(b);
    buf_json_strs(b, r->attack_tactics.items, r->attack_tactics.n);
    store_bind_text(st, 9, b->p);
    store_bind_text(st, 10, r->product);
    store_bind_text(st, 11, r->category);
    store_bind_text(st, 12, r->service);
    store_bind_text(st, 13, r->description);
    store_bind_text(st, 14, r->file);
    int64_t id = 0;
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (*rc != SQLITE_ROW)
        return 0;
    *rc = SQLITE_OK;
    for (size_t i = 0; i < r->attack_tactics.n && *rc == SQLITE_OK; i++) {
        store_bind_text(s->st[ST_TACTIC_PUT], 1, r->attack_tactics.items[i]);
        sqlite3_bind_int64(s->st[ST_TACTIC_PUT], 2, id);
        *rc = step_done(s->st[ST_TACTIC_PUT]);
    }
    for (size_t i = 0; i < r->attack_ids.n && *rc == SQLITE_OK; i++) {
        store_bind_text(s->st[ST_TECH_PUT], 1, r->attack_ids.items[i]);
        sqlite3_bind_int64(s->st[ST_TECH_PUT], 2, id);
        *rc = step_done(s->st[ST_TECH_PUT]);
    }
    if (*rc != SQLITE_OK)
        return 0;
    if (s->nrules < STORE_CACHE_MAX) {
        XGROW(s->rules, s->caprules, s->nrules + 1);
        s->rules[s->nrules++] = (struct rule_cache){r, id};
    }
    return id;
}

/* What an alert needs that is worked out from the alert alone: done by the
 * producer's thread (put_alert), so the writer's thread only writes. */
#define PRE_ANC 64
struct pre {
    const char *rec;             /* the event's record (a JSON object) */
    size_t recn;
    bool shared_ev;              /* the same event as the alert before */
    const char *img, *cmd, *user;
    size_t imgn, cmdn, usern;
    bool from_anc;               /* all three from ancestry[0] (may then be left to its row) */
    const char *text;            /* the searchable words */
    size_t textn;
    const char *evidence;        /* a correlation's unreported matches, a JSON array (or NULL) */
    size_t evidencen;
    size_t nanc;
    uint64_t ph[PRE_ANC];        /* keyed hash of host and GUID per ancestor, 0 without a GUID */
    const char *guid[PRE_ANC];   /* the GUID, or pid@start made up */
};

static int64_t event_row(struct stoat_store *s, const struct pre *p, int *rc)
{
    *rc = SQLITE_OK;
    if (p->shared_ev && s->ev_id && s->ev_run == s->run_id)
        return s->ev_id;
    int64_t num = 0;
    if ((*rc = pack_add(s, p->rec, p->recn, &num)) != SQLITE_OK)
        return 0;
    s->ev_run = s->run_id;
    s->ev_id = num;
    return num;
}

/* Stores the ancestry, root first, each linked to its parent; returns the
 * row of the alert's own process (ancestry[0]), *fresh when this call
 * wrote that row (so it holds exactly the alert's image, command line and
 * user). */
static int64_t process_rows(struct stoat_store *s, int64_t host, const struct stoat_alert *a, const struct pre *pr,
                            bool *fresh, int *rc)
{
    *rc = SQLITE_OK;
    *fresh = false;
    int64_t parent = 0;
    for (size_t k = pr->nanc; k-- > 0;) {
        const struct stoat_process *p = &a->ancestry[k];
        const char *guid = pr->guid[k];
        uint64_t h = pr->ph[k];
        if (h) {
            struct proc_slot *c = proc_get(s, h);
            if (c) {
                if (parent && !c->has_parent && parent != c->row) {
                    /* first seen as the top of a chain, now its parent is known */
                    sqlite3_bind_int64(s->st[ST_PROC_LINK], 1, c->row);
                    sqlite3_bind_int64(s->st[ST_PROC_LINK], 2, parent);
                    if ((*rc = step_done(s->st[ST_PROC_LINK])) != SQLITE_OK)
                        return 0;
                    c->has_parent = true;
                }
                parent = c->row;
                continue;
            }
        }
        sqlite3_stmt *st = s->st[ST_PROC_PUT];
        sqlite3_bind_int64(st, 1, host);
        bind_static(st, 2, guid);
        if (p->pid >= 0)
            sqlite3_bind_int64(st, 3, p->pid);
        else
            sqlite3_bind_null(st, 3);
        if (p->start_ns != INT64_MIN)
            sqlite3_bind_int64(st, 4, p->start_ns);
        else
            sqlite3_bind_null(st, 4);
        bind_static(st, 5, p->image);
        bind_static(st, 6, p->command_line);
        bind_static(st, 7, p->user);
        if (parent)
            sqlite3_bind_int64(st, 8, parent);
        else
            sqlite3_bind_null(st, 8);
        if ((*rc = step_bound(st)) != SQLITE_OK)
            return 0;
        int64_t id = sqlite3_last_insert_rowid(s->db);
        if (h)
            proc_put(s, h, id, parent != 0);
        if (k == 0)
            *fresh = true;
        parent = id;
    }
    return parent;
}

/* First value of a field, by name. */
static const struct stoat_field *field(const struct stoat_alert *a, const char *name, size_t n)
{
    for (size_t i = 0; i < a->nfields; i++)
        if (a->fields[i].name_len == n && memcmp(a->fields[i].name, name, n) == 0 && a->fields[i].value_len)
            return &a->fields[i];
    return NULL;
}
#define FIELD(a, lit) field((a), lit, sizeof(lit) - 1)

static void text_add(struct buf *b, const char *s, size_t n)
{
    if (b->len)
        buf_putc(b, ' ');
    if (s && n)
        buf_put(b, s, n);
}

/* Remembers the row of run-local alert id seq (ids arrive in order). */
static void seq_note(struct stoat_store *s, uint64_t seq, int64_t row)
{
    if (s->nseq == 0)
        s->seq_base = seq;
    if (seq != s->seq_base + s->nseq) {
        /* a producer that numbers differently: start the window again */
        s->nseq = 0;
        s->seq_base = seq;
    }
    if (s->nseq == SEQ_WINDOW) {
        size_t drop = SEQ_WINDOW / 2;
        memmove(s->seq_rows, s->seq_rows + drop, (s->nseq - drop) * sizeof(*s->seq_rows));
        s->nseq -= drop;
        s->seq_base += drop;
    }
    XGROW(s->seq_rows, s->capseq, s->nseq + 1);
    s->seq_rows[s->nseq++] = row;
}

static int64_t seq_row(const struct stoat_store *s, uint64_t seq)
{
    if (seq < s->seq_base || seq - s->seq_base >= s->nseq)
        return 0;
    return s->seq_rows[seq - s->seq_base];
}

/* What a correlation saw, beside its alert row: type, value, window, group
 * and links to the alerts it joins that were stored in this run. */
static int correlation_row(struct stoat_store *s, int64_t id, const struct stoat_corr_detail *d, const char *evidence)
{
    struct buf *b = &s->scratch;
    buf_clear(b);
    buf_putc(b, '{');
    for (size_t i = 0; i < d->ngroup; i++) {
        if (i)
            buf_putc(b, ',');
        const char *k = d->group_names[i] ? d->group_names[i] : "";
        buf_json_str(b, k, strlen(k));
        buf_putc(b, ':');
        if (d->group_values[i])
            buf_json_str(b, d->group_values[i], strlen(d->group_values[i]));
        else
            buf_puts(b, "null");
    }
    buf_putc(b, '}');
    sqlite3_stmt *st = s->st[ST_CORR_PUT];
    sqlite3_bind_int64(st, 1, id);
    bind_static(st, 2, stoat_corr_type_name(d->type));
    sqlite3_bind_double(st, 3, d->value);
    if (d->first_ns != INT64_MIN)
        sqlite3_bind_int64(st, 4, d->first_ns);
    if (d->last_ns != INT64_MIN)
        sqlite3_bind_int64(st, 5, d->last_ns);
    bind_textn(st, 6, b->p, b->len);
    bind_static(st, 7, evidence);
    int rc = step_done(st);
    for (size_t i = 0; i < d->nalert_ids && rc == SQLITE_OK; i++) {
        int64_t aid = seq_row(s, d->alert_ids[i]);
        if (!aid)
            continue;   /* not stored in this run (or too long ago) */
        sqlite3_bind_int64(s->st[ST_CORR_ALERT], 1, id);
        sqlite3_bind_int64(s->st[ST_CORR_ALERT], 2, aid);
        rc = step_done(s->st[ST_CORR_ALERT]);
    }
    return rc;
}

/* ------------------------------------------------------------ putting alerts */

/* Works out pre for a; rec, text and gbuf hold what it points to. */
static void pre_build(uint64_t seed, const struct stoat_alert *a, struct pre *p,
                      struct buf *rec, struct buf *text, char (*gbuf)[48], const char **last_file, uint64_t *last_record)
{
    memset(p, 0, sizeof(*p));

    /* several alerts on one event share it; a correlation's alert has no
     * event of its own (no file), only its group's fields */
    const char *file = a->pos.file;
    p->shared_ev = file && *last_file && *last_record == a->pos.record && !strcmp(*last_file, file);
    *last_file = file;
    *last_record = a->pos.record;
    buf_clear(rec);
    buf_puts(rec, "{\"file\":");
    if (file)
        buf_json_str(rec, file, strlen(file));
    else
        buf_puts(rec, "null");
    buf_puts(rec, ",\"format\":");
    if (a->pos.format)
        buf_json_str(rec, a->pos.format, strlen(a->pos.format));
    else
        buf_puts(rec, "null");
    buf_printf(rec, ",\"record\":%llu", (unsigned long long)a->pos.record);
    if (a->pos.line)
        buf_printf(rec, ",\"line\":%llu,\"offset\":null", (unsigned long long)a->pos.line);
    else
        buf_printf(rec, ",\"line\":null,\"offset\":%llu", (unsigned long long)a->pos.offset);
    buf_puts(rec, ",\"channel\":");
    if (a->channel)
        buf_json_str(rec, a->channel, strlen(a->channel));
    else
        buf_puts(rec, "null");
    buf_puts(rec, ",\"event_id\":");
    if (a->event_id)
        buf_json_str(rec, a->event_id, strlen(a->event_id));
    else
        buf_puts(rec, "null");
    buf_puts(rec, ",\"fields\":");
    stoat_json_event(rec, a->fields, a->nfields);
    buf_putc(rec, '}');
    p->rec = rec->p;
    p->recn = rec->len;

    /* what the list shows without opening the event: the process's image,
     * command line and user, from the ancestry or the event's fields */
    if (a->nancestry) {
        p->img = a->ancestry[0].image, p->cmd = a->ancestry[0].command_line, p->user = a->ancestry[0].user;
        p->imgn = p->img ? strlen(p->img) : 0, p->cmdn = p->cmd ? strlen(p->cmd) : 0;
        p->usern = p->user ? strlen(p->user) : 0;
        p->from_anc = true;
    }
    const struct stoat_field *f;
    if (!p->img && ((f = FIELD(a, "Image")) || (f = FIELD(a, "exe")) || (f = FIELD(a, "NewProcessName"))))
        p->img = f->value, p->imgn = f->value_len, p->from_anc = false;
    if (!p->cmd && ((f = FIELD(a, "CommandLine")) || (f = FIELD(a, "proctitle")) || (f = FIELD(a, "ScriptBlockText"))))
        p->cmd = f->value, p->cmdn = f->value_len, p->from_anc = false;
    if (!p->user && ((f = FIELD(a, "User")) || (f = FIELD(a, "TargetUserName")) || (f = FIELD(a, "SubjectUserName"))))
        p->user = f->value, p->usern = f->value_len, p->from_anc = false;
    if (p->cmdn > 8192) {
        p->cmdn = 8192;
        p->from_anc = false;   /* the row has it whole, the list and the index a prefix */
    }

    /* the words of the search index: what the search checks an alert
     * against, less the rule's title and the host's name (see the top) */
    const char *hname = a->host && *a->host ? a->host : "(unknown host)";
    buf_clear(text);
    text_add(text, p->img, p->imgn);
    text_add(text, p->cmd, p->cmdn);
    text_add(text, p->user, p->usern);
    p->text = text->p ? text->p : "";
    p->textn = text->len;
    if (a->corr && a->corr->nevidence) {
        /* what the correlation counted that was not reported: [{time, rule,
         * summary}], oldest first; after the text in its buffer */
        size_t at = text->len;
        buf_putc(text, '[');
        for (size_t i = 0; i < a->corr->nevidence && i < 1000; i++) {
            const struct stoat_corr_evidence *v = &a->corr->evidence[i];
            buf_printf(text, "%s{\"time\":%lld,\"rule\":", i ? "," : "", (long long)(v->time_ns == INT64_MIN ? 0 : v->time_ns));
            if (v->rule)
                buf_json_str(text, v->rule, strlen(v->rule));
            else
                buf_puts(text, "null");
            buf_puts(text, ",\"summary\":");
            if (v->summary)
                buf_json_str(text, v->summary, strlen(v->summary));
            else
                buf_puts(text, "null");
            buf_putc(text, '}');
        }
        buf_putc(text, ']');
        p->text = text->p;   /* the buffer may have moved */
        p->evidence = text->p + at;
        p->evidencen = text->len - at;
    }

    /* processes by a hash keyed by a seed of this handle: no input can aim
     * at a collision */
    p->nanc = a->nancestry > PRE_ANC ? PRE_ANC : a->nancestry;
    uint64_t hseed = seed ^ hash_bytes(hname, strlen(hname), seed);
    for (size_t k = 0; k < p->nanc; k++) {
        const struct stoat_process *q = &a->ancestry[k];
        const char *guid = q->guid;
        if (!guid && q->pid >= 0 && q->start_ns != INT64_MIN) {
            snprintf(gbuf[k], 48, "%lld@%lld", (long long)q->pid, (long long)q->start_ns);
            guid = gbuf[k];
        }
        p->guid[k] = guid;
        if (guid) {
            uint64_t h = hash_bytes(guid, strlen(guid), hseed);
            p->ph[k] = h + !h;
        }
    }
}

/* The writer's part of an alert. */
static stoat_err write_alert(struct stoat_store *s, const struct stoat_alert *a, const struct pre *p)
{
    const struct stoat_rule_meta *r = a->rule ? a->rule : a->correlation;
    stoat_err e = STOAT_OK;
    int rc = SQLITE_OK;
    if (!s->run_id && (e = run_begin_now(s, "unknown", NULL)) != STOAT_OK)
        return e;
    if ((e = tx_begin(s)) != STOAT_OK)
        return e;
    int64_t host = host_id(s, a->host, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t rule = rule_id(s, r, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t ev = event_row(s, p, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    bool fresh = false;
    int64_t proc = process_rows(s, host, a, p, &fresh, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    /* the process row just written holds these: the alert row need not */
    bool in_proc = fresh && proc && p->from_anc;

    sqlite3_stmt *st = s->st[ST_ALERT_PUT];
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, (int64_t)a->id);
    sqlite3_bind_int64(st, 3, a->time_ns == INT64_MIN ? 0 : a->time_ns);
    bind_static(st, 4, a->timestamp);
    sqlite3_bind_int64(st, 5, host);
    sqlite3_bind_int64(st, 6, rule);
    sqlite3_bind_int(st, 7, (int)r->level);
    if (ev)
        sqlite3_bind_int64(st, 8, ev);
    else
        sqlite3_bind_null(st, 8);
    if (proc)
        sqlite3_bind_int64(st, 9, proc);
    else
        sqlite3_bind_null(st, 9);
    bind_static(st, 10, a->logon_id);
    if (!in_proc) {
        bind_textn(st, 11, p->img, p->imgn);
        bind_textn(st, 12, p->cmd, p->cmdn);
        /* three NULLs with a process mean "see the process row" to the
         * readers: say "none" otherwise */
        bind_textn(st, 13, p->user || p->img || p->cmd || !proc ? p->user : "", p->usern);
    } else {
        for (int i = 11; i <= 13; i++)
            sqlite3_bind_null(st, i);
    }
    if ((rc = step_bound(st)) != SQLITE_OK)
        goto fail;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    seq_note(s, a->id, id);
    int64_t t = a->time_ns == INT64_MIN || a->time_ns < 0 ? 0 : a->time_ns;
    if ((rc = count_add(s, 0, hour_of(t), (int)r->level, 0)) != SQLITE_OK ||
        (rc = count_add(s, 1, host, (int)r->level, t)) != SQLITE_OK || (rc = count_add(s, 2, rule, host, 0)) != SQLITE_OK)
        goto fail;
    if (a->corr && (rc = correlation_row(s, id, a->corr, p->evidence)) != SQLITE_OK)
        goto fail;
    if ((rc = words_alert(s, s->st[ST_TEXT_PUT], id, &p->text, &p->textn, 1)) != SQLITE_OK)
        goto fail;
    s->last_alert_id = (uint64_t)id;
    s->pending++;
    return maybe_commit(s);
fail:
    return store_fail(s, rc, "storing an alert");
}

static stoat_err write_incident(struct stoat_store *s, const struct stoat_incident *inc)
{
    stoat_err e;
    int rc = SQLITE_OK;
    if (!s->run_id && (e = run_begin_now(s, "unknown", NULL)) != STOAT_OK)
        return e;
    if ((e = tx_begin(s)) != STOAT_OK)
        return e;
    int64_t host = host_id(s, inc->host, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    struct buf *b = &s->scratch;
    buf_clear(b);
    buf_putc(b, '[');
    for (size_t i = 0; i < inc->ntactics; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, inc->tactics[i], strlen(inc->tactics[i]));
    }
    buf_putc(b, ']');
    sqlite3_stmt *st = s->st[ST_INC_PUT];
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, (int64_t)inc->id);
    sqlite3_bind_int64(st, 3, host);
    store_bind_text(st, 4, inc->logon_id);
    store_bind_text(st, 5, inc->title ? inc->title : "Incident");
    sqlite3_bind_double(st, 6, inc->score);
    sqlite3_bind_int(st, 7, (int)inc->level);
    sqlite3_bind_int64(st, 8, inc->first_ns == INT64_MIN ? 0 : inc->first_ns);
    sqlite3_bind_int64(st, 9, inc->last_ns == INT64_MIN ? 0 : inc->last_ns);
    store_bind_text(st, 10, b->p);
    sqlite3_bind_int64(st, 11, (int64_t)inc->nalerts);
    if ((rc = step_done(st)) != SQLITE_OK)
        goto fail;
    int64_t iid = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < inc->nalerts; i++) {
        int64_t aid = seq_row(s, inc->alert_ids[i]);
        if (!aid)
            continue;   /* not stored in this run (or too long ago): the link is dropped */
        sqlite3_bind_int64(s->st[ST_INC_ALERT], 1, iid);
        sqlite3_bind_int64(s->st[ST_INC_ALERT], 2, aid);
        if ((rc = step_done(s->st[ST_INC_ALERT])) != SQLITE_OK)
            goto fail;
    }
    s->pending++;
    return maybe_commit(s);
fail:
    return store_fail(s, rc, "storing an incident");
}

/* ------------------------------------------------------------ the writer's thread */

static const char *snap_str(struct arena *a, const char *v)
{
    if (!v)
        return NULL;
    size_t n = strlen(v);
    char *p = arena_alloc(a, n + 1);
    memcpy(p, v, n + 1);
    return p;
}

static struct stoat_strlist snap_list(struct arena *a, struct stoat_strlist l)
{
    const char **items = arena_alloc(a, (l.n ? l.n : 1) * sizeof(*items));
    for (size_t i = 0; i < l.n; i++)
        items[i] = snap_str(a, l.items[i]);
    return (struct stoat_strlist){items, l.n};
}

static bool str_same(const char *a, const char *b)
{
    return a == b || (a && b && !strcmp(a, b));
}

/* The copy of r (made on first sight; a freed rule's address given again
 * to another rule is told apart by its id, title, level and file). */
static const struct stoat_rule_meta *rule_snap(struct stoat_store *s, const struct stoat_rule_meta *r)
{
    for (size_t i = s->nsnaps; i-- > 0;) {
        struct rule_snap *k = s->snaps[i];
        if (k->src == r && k->m.level == r->level && k->m.kind == r->kind && str_same(k->m.id, r->id) &&
            str_same(k->m.title, r->title) && str_same(k->m.file, r->file))
            return &k->m;
    }
    struct rule_snap *k = xcalloc(1, sizeof(*k));
    arena_init(&k->mem, 1024);
    k->src = r;
    k->m = (struct stoat_rule_meta){.kind = r->kind, .level = r->level, .status = r->status};
    k->m.id = snap_str(&k->mem, r->id);
    k->m.name = snap_str(&k->mem, r->name);
    k->m.title = snap_str(&k->mem, r->title);
    k->m.description = snap_str(&k->mem, r->description);
    k->m.product = snap_str(&k->mem, r->product);
    k->m.category = snap_str(&k->mem, r->category);
    k->m.service = snap_str(&k->mem, r->service);
    k->m.file = snap_str(&k->mem, r->file);
    k->m.tags = snap_list(&k->mem, r->tags);
    k->m.attack_ids = snap_list(&k->mem, r->attack_ids);
    k->m.attack_tactics = snap_list(&k->mem, r->attack_tactics);
    XGROW(s->snaps, s->capsnaps, s->nsnaps + 1);
    s->snaps[s->nsnaps++] = k;
    return &k->m;
}

enum { JOB_ALERT, JOB_INCIDENT };

/* Jobs are cut from chunks of CHUNK_BYTES (a malloc and a free per alert,
 * the free on another thread, cost more than the copy); a chunk goes when
 * the producer has left it and the writer has done all its jobs. */
#define CHUNK_BYTES (1u << 20)
struct job_chunk {
    atomic_size_t refs;         /* its jobs not yet written, + 1 while the producer fills it */
    size_t used, cap;
    _Alignas(16) char data[];
};

static void chunk_unref(struct job_chunk *c)
{
    if (c && atomic_fetch_sub(&c->refs, 1) == 1)
        free(c);
}

/* What was put, copied into its chunk. */
struct store_job {
    struct store_job *next;
    struct job_chunk *chunk;
    int kind;
    struct stoat_alert a;
    struct stoat_corr_detail corr;
    struct stoat_incident inc;
    struct pre pre;
    char data[];
};

struct bump {
    char *p;
    size_t used, cap;
};

static void *bump(struct bump *b, size_t n)
{
    size_t at = (b->used + 7) & ~(size_t)7;
    b->used = at + n;
    return b->p ? b->p + at : NULL;   /* NULL while sizing */
}

static const char *bump_str(struct bump *b, const char *v, size_t n)
{
    if (!v)
        return NULL;
    char *p = bump(b, n + 1);
    if (p) {
        memcpy(p, v, n);
        p[n] = 0;
    }
    return p;
}

#define BSTR(b, v) bump_str((b), (v), (v) ? strlen(v) : 0)

/* Copies a (and its pre, rec and text) into j's data; with j NULL only
 * sizes it. */
static size_t job_alert(struct store_job *j, const struct stoat_alert *a, const struct stoat_rule_meta *rule,
                        const struct pre *pr)
{
    struct bump b = {j ? j->data : NULL, 0, 0};
    struct stoat_alert *c = j ? &j->a : &(struct stoat_alert){0};
    *c = *a;
    c->rule = rule;
    c->correlation = a->correlation ? rule : NULL;
    c->pos.file = BSTR(&b, a->pos.file);
    c->pos.format = BSTR(&b, a->pos.format);
    c->timestamp = BSTR(&b, a->timestamp);
    c->host = BSTR(&b, a->host);
    c->channel = BSTR(&b, a->channel);
    c->event_id = BSTR(&b, a->event_id);
    c->logon_id = BSTR(&b, a->logon_id);
    /* fields are not needed by the writer: the record holds the event */
    c->fields = NULL;
    c->nfields = 0;
    size_t nanc = pr->nanc;
    struct stoat_process *anc = bump(&b, nanc * sizeof(*anc));
    for (size_t k = 0; k < nanc; k++) {
        const struct stoat_process *q = &a->ancestry[k];
        struct stoat_process t = {BSTR(&b, q->image), BSTR(&b, q->command_line), BSTR(&b, q->user), NULL, q->pid,
                                  q->start_ns};
        if (anc)
            anc[k] = t;
    }
    c->ancestry = anc;
    c->nancestry = nanc;
    struct pre *p = j ? &j->pre : &(struct pre){0};
    *p = *pr;
    for (size_t k = 0; k < nanc; k++)
        p->guid[k] = BSTR(&b, pr->guid[k]);
    p->rec = bump_str(&b, pr->rec, pr->recn);
    p->text = bump_str(&b, pr->text, pr->textn);
    p->evidence = bump_str(&b, pr->evidence, pr->evidencen);
    /* img, cmd and user point into the ancestry or the fields: copied */
    p->img = bump_str(&b, pr->img, pr->imgn);
    p->cmd = bump_str(&b, pr->cmd, pr->cmdn);
    p->user = bump_str(&b, pr->user, pr->usern);
    if (a->corr) {
        const struct stoat_corr_detail *d = a->corr;
        struct stoat_corr_detail *cd = j ? &j->corr : &(struct stoat_corr_detail){0};
        *cd = *d;
        const char **gn = bump(&b, (d->ngroup ? d->ngroup : 1) * sizeof(char *));
        const char **gv = bump(&b, (d->ngroup ? d->ngroup : 1) * sizeof(char *));
        for (size_t i = 0; i < d->ngroup; i++) {
            const char *n = BSTR(&b, d->group_names[i]), *v = BSTR(&b, d->group_values[i]);
            if (gn)
                gn[i] = n, gv[i] = v;
        }
        uint64_t *ids = bump(&b, (d->nalert_ids ? d->nalert_ids : 1) * sizeof(uint64_t));
        if (ids && d->nalert_ids)
            memcpy(ids, d->alert_ids, d->nalert_ids * sizeof(uint64_t));
        cd->group_names = gn;
        cd->group_values = gv;
        cd->alert_ids = ids;
        cd->evidence = NULL;   /* in pre, as JSON */
        cd->nevidence = 0;
        c->corr = j ? &j->corr : NULL;
    }
    return b.used;
}

static size_t job_incident(struct store_job *j, const struct stoat_incident *inc)
{
    struct bump b = {j ? j->data : NULL, 0, 0};
    struct stoat_incident *c = j ? &j->inc : &(struct stoat_incident){0};
    *c = *inc;
    c->host = BSTR(&b, inc->host);
    c->logon_id = BSTR(&b, inc->logon_id);
    c->title = BSTR(&b, inc->title);
    const char **t = bump(&b, (inc->ntactics ? inc->ntactics : 1) * sizeof(char *));
    for (size_t i = 0; i < inc->ntactics; i++) {
        const char *v = BSTR(&b, inc->tactics[i]);
        if (t)
            t[i] = v;
    }
    c->tactics = t;
    uint64_t *ids = bump(&b, (inc->nalerts ? inc->nalerts : 1) * sizeof(uint64_t));
    if (ids && inc->nalerts)
        memcpy(ids, inc->alert_ids, inc->nalerts * sizeof(uint64_t));
    c->alert_ids = ids;
    return b.used;
}

/* A queue this long makes the producer wait: about 1.5 KiB a job. */
#define QUEUE_MAX 16384

static void *writer_main(void *arg)
{
    struct stoat_store *s = arg;
    pthread_setname_np(pthread_self(), "stoat-store");   /* for top and perf */
    s->on_writer = true;   /* only this thread reads it from now on */
    pthread_mutex_lock(&s->mu);
    for (;;) {
        bool due = false;
        while (!s->qhead && !s->stop && s->flush_req == s->flush_done) {
            if (!s->in_tx) {
                pthread_cond_wait(&s->cv_work, &s->mu);
                continue;
            }
            /* an open batch is committed after batch_ms even if nothing
             * else comes: a live producer's last alert is not kept back */
            int64_t at = s->tx_started_ns + (int64_t)s->batch_ms;   /* monotonic ms */
            struct timespec ts = {(time_t)(at / 1000), (long)(at % 1000) * 1000000L};
            if (pthread_cond_timedwait(&s->cv_work, &s->mu, &ts) != 0 && mono_ms() >= at) {
                due = true;
                break;
            }
        }
        struct store_job *list = s->qhead;
        s->qhead = s->qtail = NULL;
        s->qlen = 0;
        uint64_t req = s->flush_req;
        bool stop = s->stop;
        pthread_cond_broadcast(&s->cv_done);   /* room in the queue */
        pthread_mutex_unlock(&s->mu);
        stoat_err e = s->werr;
        while (list) {
            struct store_job *j = list;
            list = j->next;
            if (e == STOAT_OK)
                e = j->kind == JOB_ALERT ? write_alert(s, &j->a, &j->pre) : write_incident(s, &j->inc);
            chunk_unref(j->chunk);
        }
        if (e == STOAT_OK && (due || stop || req != s->flush_done))
            e = tx_end(s);
        pthread_mutex_lock(&s->mu);
        if (e != STOAT_OK && s->werr == STOAT_OK)
            s->werr = e;
        s->flush_done = req;
        pthread_cond_broadcast(&s->cv_done);
        if (stop && !s->qhead)
            break;
    }
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static stoat_err writer_start(struct stoat_store *s)
{
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv_work, &ca);
    pthread_cond_init(&s->cv_done, NULL);
    pthread_condattr_destroy(&ca);
    if (pthread_create(&s->thr, NULL, writer_main, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        pthread_cond_destroy(&s->cv_work);
        pthread_cond_destroy(&s->cv_done);
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: cannot start the writer's thread", s->path);
        return STOAT_ERR_NOMEM;
    }
    s->threaded = true;
    return STOAT_OK;
}

static stoat_err enqueue(struct stoat_store *s, struct store_job *j)
{
    pthread_mutex_lock(&s->mu);
    while (s->qlen >= QUEUE_MAX && s->werr == STOAT_OK)
        pthread_cond_wait(&s->cv_done, &s->mu);
    stoat_err e = s->werr;
    if (e == STOAT_OK) {
        j->next = NULL;
        if (s->qtail)
            s->qtail->next = j;
        else
            s->qhead = j;
        s->qtail = j;
        if (s->qlen++ == 0)
            pthread_cond_signal(&s->cv_work);
        j = NULL;
    }
    pthread_mutex_unlock(&s->mu);
    if (j)
        chunk_unref(j->chunk);
    return e;
}

/* Room for a job of need bytes after its header, in the producer's chunk. */
static struct store_job *job_new(struct stoat_store *s, size_t need)
{
    size_t size = (sizeof(struct store_job) + need + 15) & ~(size_t)15;
    struct job_chunk *c = s->pchunk;
    if (!c || c->cap - c->used < size) {
        chunk_unref(c);   /* the producer leaves it */
        size_t cap = size > CHUNK_BYTES ? size : CHUNK_BYTES;
        c = s->pchunk = xmalloc(sizeof(*c) + cap);
        atomic_init(&c->refs, 1);
        c->used = 0;
        c->cap = cap;
    }
    struct store_job *j = (struct store_job *)(c->data + c->used);
    c->used += size;
    atomic_fetch_add(&c->refs, 1);
    j->chunk = c;
    return j;
}

stoat_err store_quiesce(struct stoat_store *s)
{
    if (!s->threaded)
        return STOAT_OK;
    pthread_mutex_lock(&s->mu);
    uint64_t req = ++s->flush_req;
    pthread_cond_signal(&s->cv_work);
    while (s->flush_done < req)
        pthread_cond_wait(&s->cv_done, &s->mu);
    stoat_err e = s->werr;
    pthread_mutex_unlock(&s->mu);
    return e;
}

static void writer_stop(struct stoat_store *s)
{
    if (!s->threaded)
        return;
    pthread_mutex_lock(&s->mu);
    s->stop = true;
    pthread_cond_signal(&s->cv_work);
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->thr, NULL);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv_work);
    pthread_cond_destroy(&s->cv_done);
    s->threaded = false;
}

stoat_err stoat_store_put_alert(struct stoat_store *s, const struct stoat_alert *a)
{
    if (!s || s->readonly || !a)
        return STOAT_ERR_ARG;
    const struct stoat_rule_meta *r = a->rule ? a->rule : a->correlation;
    if (!r)
        return STOAT_ERR_ARG;
    if (!s->threaded) {
        stoat_err e = writer_start(s);
        if (e != STOAT_OK)
            return e;
    }
    struct pre pr;
    char gbuf[PRE_ANC][48];
    const char *last = s->pev_file;
    pre_build(s->proc_seed, a, &pr, &s->prec, &s->ptext, gbuf, &last, &s->pev_record);
    if (!str_same(last, s->pev_file)) {   /* a new file: kept to tell the next alert's */
        free(s->pev_file);
        s->pev_file = last ? xstrdup(last) : NULL;
    }
    const struct stoat_rule_meta *snap = rule_snap(s, r);
    size_t need = job_alert(NULL, a, snap, &pr);
    struct store_job *j = job_new(s, need);
    j->kind = JOB_ALERT;
    job_alert(j, a, snap, &pr);
    return enqueue(s, j);
}

stoat_err stoat_store_put_incident(struct stoat_store *s, const struct stoat_incident *inc)
{
    if (!s || s->readonly || !inc)
        return STOAT_ERR_ARG;
    if (!s->threaded) {
        stoat_err e = writer_start(s);
        if (e != STOAT_OK)
            return e;
    }
    size_t need = job_incident(NULL, inc);
    struct store_job *j = job_new(s, need);
    j->kind = JOB_INCIDENT;
    job_incident(j, inc);
    return enqueue(s, j);
}

stoat_err stoat_store_run_end(struct stoat_store *s, const struct stoat_hunt_stats *stats)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = store_quiesce(s);
    if (e == STOAT_OK)
        e = tx_end(s);
    if (e != STOAT_OK)
        return e;
    if (!s->run_id)
        return STOAT_OK;
    sqlite3_stmt *st = store_prepare(s, "UPDATE runs SET ended_ns=?2, files=?3, records=?4, events=?5, skipped=?6,"
                                        " alerts=?7, status='done' WHERE id=?1");
    if (!st)
        return STOAT_ERR_IO;
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, store_now_ns());
    if (stats) {
        sqlite3_bind_int64(st, 3, (int64_t)stats->files);
        sqlite3_bind_int64(st, 4, (int64_t)stats->records);
        sqlite3_bind_int64(st, 5, (int64_t)stats->events);
        sqlite3_bind_int64(st, 6, (int64_t)stats->skipped);
        sqlite3_bind_int64(st, 7, (int64_t)stats->alerts);
    }
    int rc = sqlite3_step(st);
    sqlite3_finalize(st);
    if (rc != SQLITE_DONE)
        return store_fail(s, rc, "recording the run's end");
    s->run_id = 0;
    return stoat_store_prune(s, NULL);
}

/* ------------------------------------------------------------ retention */

stoat_err stoat_store_prune(struct stoat_store *s, uint64_t *deleted)
{
    if (deleted)
        *deleted = 0;
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    if (!s->retain_days && !s->retain_alerts)
        return STOAT_OK;
    stoat_err e = store_quiesce(s);
    if (e == STOAT_OK)
        e = tx_end(s);
    if (e != STOAT_OK)
        return e;
    /* the highest alert id to delete */
    int64_t upto = 0, v = 0;
    int rc = SQLITE_OK;
    if (s->retain_alerts > 0) {
        char sql[160];
        snprintf(sql, sizeof(sql), "SELECT id FROM alerts ORDER BY id DESC LIMIT 1 OFFSET %lld",
                 (long long)s->retain_alerts);
        if ((rc = pragma_int(s, sql, &v)) != SQLITE_OK)
            return store_fail(s, rc, "applying retention");
        upto = v;
    }
    if (s->retain_days > 0) {
        char sql[160];
        int64_t cutoff = store_now_ns() - s->retain_days * 86400LL * 1000000000LL;
        snprintf(sql, sizeof(sql), "SELECT max(last_alert) FROM commits WHERE at_ns < %lld", (long long)cutoff);
        if ((rc = pragma_int(s, sql, &v)) != SQLITE_OK)
            return store_fail(s, rc, "applying retention");
        if (v > upto)
            upto = v;
    }
    if (upto <= 0)
        return STOAT_OK;
    char sql[4096];
    snprintf(sql, sizeof(sql),
             "BEGIN IMMEDIATE;"
             /* the roll-ups lose what the deleted alerts added (a host's first
              * and last times stay as they were: they only widen the range) */
             "CREATE TEMP TABLE IF NOT EXISTS gone_hour(hour, level, n);"
             "DELETE FROM gone_hour;"
             "INSERT INTO gone_hour SELECT max(time_ns, 0) / 3600000000000, level, count(*) FROM alerts"
             "  WHERE id <= %1$lld GROUP BY 1, 2;"
             "UPDATE count_hour SET n = n - (SELECT g.n FROM gone_hour g WHERE g.hour = count_hour.hour"
             "  AND g.level = count_hour.level) WHERE (hour, level) IN (SELECT hour, level FROM gone_hour);"
             "CREATE TEMP TABLE IF NOT EXISTS gone_host(host_id, level, n);"
             "DELETE FROM gone_host;"
             "INSERT INTO gone_host SELECT host_id, level, count(*) FROM alerts WHERE id <= %1$lld GROUP BY 1, 2;"
             "UPDATE count_host SET n = n - (SELECT g.n FROM gone_host g WHERE g.host_id = count_host.host_id"
             "  AND g.level = count_host.level) WHERE (host_id, level) IN (SELECT host_id, level FROM gone_host);"
             "CREATE TEMP TABLE IF NOT EXISTS gone_rule(rule_id, host_id, n);"
             "DELETE FROM gone_rule;"
             "INSERT INTO gone_rule SELECT rule_id, host_id, count(*) FROM alerts WHERE id <= %1$lld GROUP BY 1, 2;"
             "UPDATE count_rule SET n = n - (SELECT g.n FROM gone_rule g WHERE g.rule_id = count_rule.rule_id"
             "  AND g.host_id = count_rule.host_id) WHERE (rule_id, host_id) IN (SELECT rule_id, host_id FROM gone_rule);"
             "DELETE FROM count_hour WHERE n <= 0;"
             "DELETE FROM count_host WHERE n <= 0;"
             "DELETE FROM count_rule WHERE n <= 0;"
             /* the runs of the search index whose alerts all go (one that
              * straddles the cut stays: the search checks each alert) */
             "DELETE FROM alert_words WHERE rowid < %2$lld AND " WORDS_SQL_LAST("rowid") " <= %1$lld;"
             "DELETE FROM alerts WHERE id <= %1$lld;"
             /* events are numbered in the order of their alerts: the packs
              * wholly below the first event still cited go */
             "DELETE FROM event_packs WHERE id + n <= coalesce((SELECT event_id FROM alerts"
             "  WHERE event_id NOT NULL ORDER BY id LIMIT 1), (SELECT max(id + n) FROM event_packs));"
             "DELETE FROM correlation_alerts WHERE corr_id <= %1$lld OR alert_id <= %1$lld;"
             "DELETE FROM correlations WHERE alert_id <= %1$lld;"
             "DELETE FROM incident_alerts WHERE alert_id <= %1$lld;"
             "DELETE FROM incidents WHERE NOT EXISTS (SELECT 1 FROM incident_alerts ia WHERE ia.incident_id = incidents.id);"
             "DELETE FROM triage WHERE kind = 0 AND target_id <= %1$lld;"
             "DELETE FROM triage WHERE kind = 1 AND target_id NOT IN (SELECT id FROM incidents);"
             "DELETE FROM commits WHERE last_alert <= %1$lld;"
             /* processes still reachable from a remaining alert, and the rest go */
             "CREATE TEMP TABLE IF NOT EXISTS keep_proc(id INTEGER PRIMARY KEY);"
             "DELETE FROM keep_proc;"
             "INSERT OR IGNORE INTO keep_proc WITH RECURSIVE up(id, depth) AS ("
             "  SELECT DISTINCT process_id, 0 FROM alerts WHERE process_id NOT NULL"
             "  UNION SELECT p.parent_id, up.depth + 1 FROM processes p JOIN up ON p.id = up.id"
             "  WHERE p.parent_id NOT NULL AND up.depth < 64) SELECT id FROM up;"
             "DELETE FROM processes WHERE id NOT IN (SELECT id FROM keep_proc);"
             "COMMIT;",
             (long long)upto, (long long)(upto < INT64_MAX >> WORDS_SHIFT ? (upto + 1) << WORDS_SHIFT : INT64_MAX));
    int64_t before = 0, after = 0;
    pragma_int(s, "SELECT count(*) FROM alerts", &before);
    if ((rc = exec(s, sql)) != SQLITE_OK) {
        char keep[sizeof(s->errmsg)];
        memcpy(keep, s->errmsg, sizeof(keep));
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
        memcpy(s->errmsg, keep, sizeof(keep));
        return STOAT_ERR_IO;
    }
    pragma_int(s, "SELECT count(*) FROM alerts", &after);
    /* cached process rows may be gone */
    procs_clear(s);
    s->ev_id = 0;
    if (deleted)
        *deleted = (uint64_t)(before - after);
    return STOAT_OK;
}

/* ------------------------------------------------------------ triage */

static const char *const triage_names[STOAT_TRIAGE_COUNT] = {"new", "acknowledged", "false-positive", "closed"};

const char *stoat_triage_name(enum stoat_triage t)
{
    return (unsigned)t < STOAT_TRIAGE_COUNT ? triage_names[t] : "";
}

bool stoat_triage_parse(const char *name, enum stoat_triage *out)
{
    for (int i = 0; name && i < STOAT_TRIAGE_COUNT; i++)
        if (!strcmp(name, triage_names[i])) {
            *out = (enum stoat_triage)i;
            return true;
        }
    return false;
}

stoat_err stoat_store_set_triage(struct stoat_store *s, enum stoat_target kind, uint64_t id, enum stoat_triage state,
                                 const char *note, const char *who)
{
    if (!s || s->readonly || (unsigned)state >= STOAT_TRIAGE_COUNT || (kind != STOAT_TARGET_ALERT &&
                                                                        kind != STOAT_TARGET_INCIDENT))
        return STOAT_ERR_ARG;
    if ((note && strlen(note) > STOAT_TRIAGE_NOTE_MAX) || (who && strlen(who) > STOAT_TRIAGE_WHO_MAX) ||
        id > INT64_MAX) {
        snprintf(s->errmsg, sizeof(s->errmsg), "note or name too long");
        return STOAT_ERR_LIMIT;
    }
    stoat_err e = store_quiesce(s);
    if (e == STOAT_OK)
        e = tx_end(s);
    if (e != STOAT_OK)
        return e;
    sqlite3_stmt *up = NULL, *log = NULL;
    int rc = exec(s, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return STOAT_ERR_IO;
    up = store_prepare(s, kind == STOAT_TARGET_ALERT ? "UPDATE alerts SET state = ?2 WHERE id = ?1"
                                                     : "UPDATE incidents SET state = ?2 WHERE id = ?1");
    log = store_prepare(s, "INSERT INTO triage(kind, target_id, state, note, who, at_ns) VALUES(?1,?2,?3,?4,?5,?6)");
    if (!up || !log) {
        e = STOAT_ERR_IO;
        goto out;
    }
    sqlite3_bind_int64(up, 1, (int64_t)id);
    sqlite3_bind_int(up, 2, (int)state);
    if ((rc = sqlite3_step(up)) != SQLITE_DONE) {
        e = store_fail(s, rc, "changing the triage state");
        goto out;
    }
    if (sqlite3_changes(s->db) == 0) {
        snprintf(s->errmsg, sizeof(s->errmsg), "no %s %llu", kind == STOAT_TARGET_ALERT ? "alert" : "incident",
                 (unsigned long long)id);
        e = STOAT_ERR_NOTFOUND;
        goto out;
    }
    sqlite3_bind_int(log, 1, (int)kind);
    sqlite3_bind_int64(log, 2, (int64_t)id);
    sqlite3_bind_int(log, 3, (int)state);
    store_bind_text(log, 4, note && *note ? note : NULL);
    store_bind_text(log, 5, who && *who ? who : NULL);
    sqlite3_bind_int64(log, 6, store_now_ns());
    if ((rc = sqlite3_step(log)) != SQLITE_DONE) {
        e = store_fail(s, rc, "recording the triage");
        goto out;
    }
out:
    sqlite3_finalize(up);
    sqlite3_finalize(log);
    if (e == STOAT_OK) {
        if (exec(s, "COMMIT") != SQLITE_OK)
            e = STOAT_ERR_IO;
    }
    if (e != STOAT_OK)
        sqlite3_exec(s->db, "ROLLBACK", NULL, NULL, NULL);
    return e;
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

void stoat_sink_store(struct stoat_store *s, bool own, const char *producer, const char *args,
                      struct stoat_sink *sink)
{
    struct store_sink *k = xcalloc(1, sizeof(*k));
    k->s = s;
    k->own = own;
    k->producer = xstrdup(producer ? producer : "unknown");
    k->args = args ? xstrdup(args) : NULL;
    *sink = (struct stoat_sink){.ctx = k, .begin = sink_begin, .alert = sink_alert, .incident = sink_incident,
                                .end = sink_end, .destroy = sink_destroy};
}
