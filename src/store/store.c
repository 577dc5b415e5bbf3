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
 *   what was committed survives a crash of the process or of the machine.
 *   Writes are grouped into transactions (batch_alerts or batch_ms) because
 *   a commit costs an fsync; per-alert commits would cap a hunt at a few
 *   hundred alerts per second.
 * - An event cited by several alerts is stored once; processes are stored
 *   once per host and process GUID with a link to their parent, so the
 *   ancestry of every alert of an incident folds into one tree.
 * - Retention deletes a prefix of alert ids (alerts are stored in order), so
 *   everything hanging off alerts is found by id ranges, not by scans. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store/store_int.h"
#include "util/mem.h"
#include "util/text.h"

#define STOAT_APP_ID 0x53746f61   /* "Stoa" */

/* Writes the event object (sinks/jsonl.c); a repeated name becomes a list. */
void stoat_json_event(struct buf *b, const struct stoat_field *fs, size_t n);

/* ------------------------------------------------------------ schema */

static const char *const migrations[] = {
    /* 0 -> 1 */
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
    "  PRIMARY KEY(rule_id, host_id)) WITHOUT ROWID;",
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(NMIGRATIONS == STOAT_STORE_SCHEMA, "one migration per schema version");

/* Writer statements, by index into s->st. */
enum {
    ST_HOST_GET, ST_HOST_PUT, ST_RULE_PUT, ST_TACTIC_PUT, ST_TECH_PUT, ST_EVENT_PUT, ST_PROC_PUT, ST_ALERT_PUT,
    ST_TEXT_PUT, ST_INC_PUT, ST_INC_ALERT, ST_COMMIT_PUT, ST_PROC_GET, ST_PROC_LINK, ST_BEGIN, ST_COMMIT, ST_COUNT_HOUR, ST_COUNT_HOST, ST_COUNT_RULE,
    ST_COUNT
};

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
    [ST_EVENT_PUT] = "INSERT INTO events(run_id, file, format, record, line, offset, channel, event_id, fields)"
                     " VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9)",
    [ST_PROC_PUT] = "INSERT OR IGNORE INTO processes(host_id, guid, pid, start_ns, image, command_line, user, parent_id)"
                    " VALUES(?1,?2,?3,?4,?5,?6,?7,?8)",
    [ST_PROC_GET] = "SELECT id, parent_id FROM processes WHERE host_id = ?1 AND guid = ?2",
    [ST_PROC_LINK] = "UPDATE processes SET parent_id = ?2 WHERE id = ?1",
    [ST_ALERT_PUT] = "INSERT INTO alerts(run_id, seq, time_ns, timestamp, host_id, rule_id, level, event_id,"
                     " process_id, logon_id, image, command_line, user) VALUES(?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13)",
    [ST_TEXT_PUT] = "INSERT INTO alert_text(rowid, body) VALUES(?1, ?2)",
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
        if ((rc = exec(s, migrations[v])) != SQLITE_OK || (rc = exec(s, tail)) != SQLITE_OK) {
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
    s->batch_alerts = opts->batch_alerts ? opts->batch_alerts : 4096;
    s->batch_ms = opts->batch_ms ? opts->batch_ms : 1000;
    strmap_init(&s->hosts);
    strmap_init(&s->procs);
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
    /* Tolerate damage in reads rather than assert: never trust the file. */
    exec(s, "PRAGMA cell_size_check = ON");
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
        if (exec(s, "PRAGMA synchronous = FULL; PRAGMA wal_autocheckpoint = 16384; PRAGMA foreign_keys = OFF; PRAGMA temp_store = MEMORY;"
                    "PRAGMA cache_size = -65536") != SQLITE_OK) {
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

void stoat_store_close(struct stoat_store *s)
{
    if (!s)
        return;
    if (s->in_tx)
        tx_end(s);
    for (int i = 0; i < ST_COUNT; i++)
        sqlite3_finalize(s->st[i]);
    if (s->db && !s->readonly)
        sqlite3_exec(s->db, "PRAGMA optimize", NULL, NULL, NULL);
    sqlite3_close_v2(s->db);
    strmap_free(&s->hosts);
    strmap_free(&s->procs);
    free(s->rules);
    free(s->counts);
    free(s->seq_rows);
    free(s->ev_file);
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
    return STOAT_OK;
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

static stoat_err tx_end(struct stoat_store *s)
{
    if (!s->in_tx)
        return STOAT_OK;
    int rc = counts_flush(s);
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
        /* the caches may name rows that were rolled back */
        strmap_free(&s->hosts);
        strmap_init(&s->hosts);
        strmap_free(&s->procs);
        strmap_init(&s->procs);
        s->nrules = 0;
        s->ev_id = 0;
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
    return tx_end(s);
}

static stoat_err maybe_commit(struct stoat_store *s)
{
    if (s->pending >= s->batch_alerts || mono_ms() - s->tx_started_ns >= (int64_t)s->batch_ms)
        return tx_end(s);
    return STOAT_OK;
}

stoat_err stoat_store_run_begin(struct stoat_store *s, const char *producer, const char *args)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
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

static int64_t event_row(struct stoat_store *s, const struct stoat_alert *a, int *rc)
{
    *rc = SQLITE_OK;
    const char *file = a->pos.file ? a->pos.file : "";
    /* several alerts on one event share its row; a correlation's alert has
     * no event of its own (no file), only its group's fields */
    if (a->pos.file && s->ev_id && s->ev_run == s->run_id && s->ev_record == a->pos.record && s->ev_file &&
        !strcmp(s->ev_file, file))
        return s->ev_id;
    sqlite3_stmt *st = s->st[ST_EVENT_PUT];
    sqlite3_bind_int64(st, 1, s->run_id);
    bind_static(st, 2, file);
    bind_static(st, 3, a->pos.format);
    sqlite3_bind_int64(st, 4, (int64_t)a->pos.record);
    if (a->pos.line)
        sqlite3_bind_int64(st, 5, (int64_t)a->pos.line);
    else
        sqlite3_bind_int64(st, 6, (int64_t)a->pos.offset);
    bind_static(st, 7, a->channel);
    bind_static(st, 8, a->event_id);
    struct buf *b = &s->scratch;
    buf_clear(b);
    stoat_json_event(b, a->fields, a->nfields);
    bind_textn(st, 9, b->p, b->len);
    if ((*rc = step_done(st)) != SQLITE_OK)
        return 0;
    free(s->ev_file);
    s->ev_file = xstrdup(file);
    s->ev_record = a->pos.record;
    s->ev_run = s->run_id;
    s->ev_id = sqlite3_last_insert_rowid(s->db);
    return s->ev_id;
}

/* Stores the ancestry, root first, each linked to its parent; returns the
 * row of the alert's own process (ancestry[0]). */
static int64_t process_rows(struct stoat_store *s, int64_t host, const struct stoat_alert *a, int *rc)
{
    *rc = SQLITE_OK;
    int64_t parent = 0;
    size_t n = a->nancestry > 64 ? 64 : a->nancestry;
    char key[600];
    for (size_t k = n; k-- > 0;) {
        const struct stoat_process *p = &a->ancestry[k];
        char gbuf[64];
        const char *guid = p->guid;
        if (!guid && p->pid >= 0 && p->start_ns != INT64_MIN) {
            snprintf(gbuf, sizeof(gbuf), "%lld@%lld", (long long)p->pid, (long long)p->start_ns);
            guid = gbuf;
        }
        int kl = 0;
        if (guid) {
            kl = snprintf(key, sizeof(key), "%lld|%s", (long long)host, guid);
            if (kl >= (int)sizeof(key))
                kl = (int)sizeof(key) - 1;
            uint32_t v;
            if (strmap_get(&s->procs, key, (size_t)kl, &v)) {
                parent = v;
                continue;
            }
        }
        sqlite3_stmt *st = s->st[ST_PROC_PUT];
        sqlite3_bind_int64(st, 1, host);
        bind_static(st, 2, guid);
        if (p->pid >= 0)
            sqlite3_bind_int64(st, 3, p->pid);
        if (p->start_ns != INT64_MIN)
            sqlite3_bind_int64(st, 4, p->start_ns);
        bind_static(st, 5, p->image);
        bind_static(st, 6, p->command_line);
        bind_static(st, 7, p->user);
        if (parent)
            sqlite3_bind_int64(st, 8, parent);
        if ((*rc = step_done(st)) != SQLITE_OK)
            return 0;
        int64_t id = 0;
        if (sqlite3_changes(s->db) == 1) {
            id = sqlite3_last_insert_rowid(s->db);
        } else {
            /* stored before (by an earlier run, or evicted from the cache):
             * find it, and give it the parent it may lack */
            sqlite3_stmt *g = s->st[ST_PROC_GET];
            sqlite3_bind_int64(g, 1, host);
            bind_static(g, 2, guid);
            int64_t has_parent = 0;
            *rc = sqlite3_step(g);
            if (*rc == SQLITE_ROW) {
                id = sqlite3_column_int64(g, 0);
                has_parent = sqlite3_column_type(g, 1) != SQLITE_NULL;
            }
            sqlite3_reset(g);
            sqlite3_clear_bindings(g);
            if (*rc != SQLITE_ROW) {
                if (*rc == SQLITE_DONE)
                    *rc = SQLITE_ERROR;
                return 0;
            }
            if (parent && !has_parent && parent != id) {
                sqlite3_bind_int64(s->st[ST_PROC_LINK], 1, id);
                sqlite3_bind_int64(s->st[ST_PROC_LINK], 2, parent);
                if ((*rc = step_done(s->st[ST_PROC_LINK])) != SQLITE_OK)
                    return 0;
            }
        }
        *rc = SQLITE_OK;
        if (guid && id <= (int64_t)UINT32_MAX) {
            if (s->procs.count >= STORE_CACHE_MAX) {
                strmap_free(&s->procs);
                strmap_init(&s->procs);
            }
            strmap_put(&s->procs, key, (size_t)kl, (uint32_t)id);
        }
        parent = id;
    }
    return parent;
}

/* First value of a field, by name. */
static const struct stoat_field *field(const struct stoat_alert *a, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < a->nfields; i++)
        if (a->fields[i].name_len == n && memcmp(a->fields[i].name, name, n) == 0 && a->fields[i].value_len)
            return &a->fields[i];
    return NULL;
}

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

stoat_err stoat_store_put_alert(struct stoat_store *s, const struct stoat_alert *a)
{
    if (!s || s->readonly || !a)
        return STOAT_ERR_ARG;
    const struct stoat_rule_meta *r = a->rule ? a->rule : a->correlation;
    if (!r)
        return STOAT_ERR_ARG;
    stoat_err e = STOAT_OK;
    int rc = SQLITE_OK;
    if (!s->run_id && (e = stoat_store_run_begin(s, "unknown", NULL)) != STOAT_OK)
        return e;
    if ((e = tx_begin(s)) != STOAT_OK)
        return e;
    int64_t host = host_id(s, a->host, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t rule = rule_id(s, r, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t ev = event_row(s, a, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t proc = process_rows(s, host, a, &rc);
    if (rc != SQLITE_OK)
        goto fail;

    /* what the list shows without opening the event: the process's image,
     * command line and user, from the ancestry or the event's fields */
    const char *img = NULL, *cmd = NULL, *user = NULL;
    size_t imgn = 0, cmdn = 0, usern = 0;
    if (a->nancestry) {
        img = a->ancestry[0].image, cmd = a->ancestry[0].command_line, user = a->ancestry[0].user;
        imgn = img ? strlen(img) : 0, cmdn = cmd ? strlen(cmd) : 0, usern = user ? strlen(user) : 0;
    }
    const struct stoat_field *f;
    if (!img && ((f = field(a, "Image")) || (f = field(a, "exe")) || (f = field(a, "NewProcessName"))))
        img = f->value, imgn = f->value_len;
    if (!cmd && ((f = field(a, "CommandLine")) || (f = field(a, "proctitle")) || (f = field(a, "ScriptBlockText"))))
        cmd = f->value, cmdn = f->value_len;
    if (!user && ((f = field(a, "User")) || (f = field(a, "TargetUserName")) || (f = field(a, "SubjectUserName"))))
        user = f->value, usern = f->value_len;
    if (cmdn > 8192)
        cmdn = 8192;

    sqlite3_stmt *st = s->st[ST_ALERT_PUT];
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, (int64_t)a->id);
    sqlite3_bind_int64(st, 3, a->time_ns == INT64_MIN ? 0 : a->time_ns);
    bind_static(st, 4, a->timestamp);
    sqlite3_bind_int64(st, 5, host);
    sqlite3_bind_int64(st, 6, rule);
    sqlite3_bind_int(st, 7, (int)r->level);
    sqlite3_bind_int64(st, 8, ev);
    if (proc)
        sqlite3_bind_int64(st, 9, proc);
    bind_static(st, 10, a->logon_id);
    bind_textn(st, 11, img, imgn);
    bind_textn(st, 12, cmd, cmdn);
    bind_textn(st, 13, user, usern);
    if ((rc = step_done(st)) != SQLITE_OK)
        goto fail;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    seq_note(s, a->id, id);
    int64_t t = a->time_ns == INT64_MIN || a->time_ns < 0 ? 0 : a->time_ns;
    if ((rc = count_add(s, 0, hour_of(t), (int)r->level, 0)) != SQLITE_OK ||
        (rc = count_add(s, 1, host, (int)r->level, t)) != SQLITE_OK || (rc = count_add(s, 2, rule, host, 0)) != SQLITE_OK)
        goto fail;

    /* the searchable text: exactly what prune recomputes in SQL to take it
     * out of the (contentless) index again, see TEXT_SQL */
    struct buf *b = &s->scratch;
    buf_clear(b);
    const char *title = r->title ? r->title : r->name ? r->name : "(untitled rule)";
    const char *hname = a->host && *a->host ? a->host : "(unknown host)";
    text_add(b, title, strlen(title));
    text_add(b, hname, strlen(hname));
    text_add(b, img, imgn);
    text_add(b, cmd, cmdn);
    text_add(b, user, usern);
    sqlite3_bind_int64(s->st[ST_TEXT_PUT], 1, id);
    bind_textn(s->st[ST_TEXT_PUT], 2, b->p ? b->p : "", b->len);
    if ((rc = step_done(s->st[ST_TEXT_PUT])) != SQLITE_OK)
        goto fail;
    s->last_alert_id = (uint64_t)id;
    s->pending++;
    return maybe_commit(s);
fail:
    return store_fail(s, rc, "storing an alert");
}

stoat_err stoat_store_put_incident(struct stoat_store *s, const struct stoat_incident *inc)
{
    if (!s || s->readonly || !inc)
        return STOAT_ERR_ARG;
    stoat_err e;
    int rc = SQLITE_OK;
    if (!s->run_id && (e = stoat_store_run_begin(s, "unknown", NULL)) != STOAT_OK)
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

stoat_err stoat_store_run_end(struct stoat_store *s, const struct stoat_hunt_stats *stats)
{
    if (!s || s->readonly)
        return STOAT_ERR_ARG;
    stoat_err e = tx_end(s);
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
    stoat_err e = tx_end(s);
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
             "CREATE TEMP TABLE IF NOT EXISTS gone_ev(id INTEGER PRIMARY KEY);"
             "DELETE FROM gone_ev;"
             "INSERT OR IGNORE INTO gone_ev SELECT event_id FROM alerts WHERE id <= %1$lld AND event_id NOT NULL;"
             "DELETE FROM gone_ev WHERE id IN (SELECT event_id FROM alerts WHERE id > %1$lld AND event_id <= (SELECT max(id) FROM gone_ev));"
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
             "INSERT INTO alert_text(alert_text, rowid, body) SELECT 'delete', a.id,"
             "  coalesce(r.title, '') || ' ' || coalesce(h.name, '') || ' ' || coalesce(a.image, '') || ' ' ||"
             "  coalesce(a.command_line, '') || ' ' || coalesce(a.user, '')"
             "  FROM alerts a LEFT JOIN rules r ON r.id = a.rule_id LEFT JOIN hosts h ON h.id = a.host_id"
             "  WHERE a.id <= %1$lld;"
             "DELETE FROM alerts WHERE id <= %1$lld;"
             "DELETE FROM events WHERE id IN (SELECT id FROM gone_ev);"
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
             (long long)upto);
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
    strmap_free(&s->procs);
    strmap_init(&s->procs);
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
    stoat_err e = tx_end(s);
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
