/* The store's file: what it is, its schema and the settings it keeps.
 *
 * Why it works this way:
 * - The file says it is ours (PRAGMA application_id) and which schema it has
 *   (PRAGMA user_version). Opening checks both before anything else, so a
 *   foreign SQLite file, a file that is not SQLite at all, or a store of a
 *   newer stoat is refused with a sentence instead of being written into.
 *   Older schemas are brought forward by the migrations below, each in one
 *   transaction, so a crash during a migration leaves the old schema intact.
 *   What SQL alone cannot do in a migration is done by the part that owns
 *   the data (packs.c, words.c), in the same transaction.
 * - Several writers may open one new file at the same moment (two hunts
 *   given the same --db): each migration re-reads the version under the
 *   write lock (BEGIN IMMEDIATE) and does only what is still to be done,
 *   so the second finds the first's schema instead of creating it again.
 * - What a writer pays per alert is what decides the rate, so each alert is
 *   one row of `alerts` with three indexes (time, host, rule: level and
 *   tactic filters go through the rule) and a row for its own process; the
 *   overview, hosts and rules read small roll-ups the writer keeps, never
 *   the alerts. New files get 16 KiB pages: a quarter of the page writes,
 *   WAL frames and index splits of 4 KiB ones.
 * - Settings that outlive a writer (retention) are rows of `meta`.
 * - A run's status is 'running', 'done', or 'aborted' when its writer went
 *   without recording its end (runs.c). */
#include <stdio.h>

#include "store/db.h"
#include "store/packs.h"
#include "store/schema.h"
#include "store/words.h"

#define STOAT_APP_ID 0x53746f61 /* "Stoa" */

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

/* 1 -> 2: events in compressed packs (store_packs_migrate moves them); no
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
 * host names (store_words_rebuild fills it from the alerts); its pending words
 * are flushed once per transaction rather than every megabyte, so a
 * transaction leaves one segment to merge instead of several. */
static const char *const schema_v3 =
    "DROP TABLE alert_text;"
    "CREATE VIRTUAL TABLE alert_words USING fts5(body, detail=none, columnsize=0, tokenize='ascii');"
    "INSERT INTO alert_words(alert_words, rank) VALUES('hashsize', 33554432);";

/* 3 -> 4: an incident keeps what its claims rest on (evidence) and its
 * alerts counted by rule, both JSON arrays; older incidents have neither.
 * The columns are added by incidents_v4, only where missing. */
static const char *const schema_v4 = "";

/* Adds the TEXT columns of incidents that are missing. */
static int incidents_add_columns(struct stoat_store *s, const char *const *cols, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        char sql[160];
        int64_t have = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM pragma_table_info('incidents') WHERE name = '%s'", cols[i]);
        int rc = store_pragma_int(s, sql, &have);
        if (rc != SQLITE_OK)
            return rc;
        snprintf(sql, sizeof(sql), "ALTER TABLE incidents ADD COLUMN %s TEXT", cols[i]);
        if (!have && (rc = store_exec(s, sql)) != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

static int incidents_v4(struct stoat_store *s)
{
    static const char *const cols[] = {"evidence", "rules"};
    return incidents_add_columns(s, cols, 2);
}

/* 4 -> 5: a run records its writer (pid, host) and whether the writer
 * holds the run's lock, so a run whose writer is gone can be told (runs.c). */
static const char *const schema_v5 = "ALTER TABLE runs ADD COLUMN pid INTEGER;"
                                     "ALTER TABLE runs ADD COLUMN host TEXT;"
                                     "ALTER TABLE runs ADD COLUMN writer_lock INTEGER;";

/* 5 -> 6: the fleet's centre (stoat fleet). fleet_seen holds, per
 * publishing host and run, the intervals of batch sequences whose alerts
 * are stored, written in the transaction of those alerts, so a batch the
 * bus delivers again is recognised and never alerts twice. A host's row
 * keeps its last heartbeat (when, the JSON as sent) and whether it is
 * flagged silent. */
static const char *const schema_v6 =
    "CREATE TABLE IF NOT EXISTS fleet_seen(host TEXT NOT NULL, run TEXT NOT NULL, lo INTEGER NOT NULL,"
    "  hi INTEGER NOT NULL, PRIMARY KEY(host, run, lo)) WITHOUT ROWID;";

/* The hosts' columns, each added only where missing (a store may have
 * been brought back to an older version number by hand, as the tests do). */
static int hosts_v6(struct stoat_store *s)
{
    static const char *const cols[][2] = {
        {"last_seen_ns", "INTEGER"}, {"heartbeat", "TEXT"}, {"silent", "INTEGER NOT NULL DEFAULT 0"}};
    for (size_t i = 0; i < 3; i++) {
        char sql[160];
        int64_t have = 0;
        snprintf(sql, sizeof(sql), "SELECT count(*) FROM pragma_table_info('hosts') WHERE name = '%s'", cols[i][0]);
        int rc = store_pragma_int(s, sql, &have);
        if (rc != SQLITE_OK)
            return rc;
        snprintf(sql, sizeof(sql), "ALTER TABLE hosts ADD COLUMN %s %s", cols[i][0], cols[i][1]);
        if (!have && (rc = store_exec(s, sql)) != SQLITE_OK)
            return rc;
    }
    return SQLITE_OK;
}

/* 6 -> 7: a fleet incident (cross.h) names its hosts (a JSON array of
 * names; host_id is the first), the account and the logons between them
 * (a JSON array); a single host's incident has NULL in all three. Added
 * only where missing, as a store numbered back by hand may have them. */
static const char *const schema_v7 = "";

static int incidents_v7(struct stoat_store *s)
{
    static const char *const cols[] = {"hosts", "account", "edges"};
    return incidents_add_columns(s, cols, 3);
}

struct migration {
    const char *const *sql;
    int (*then)(struct stoat_store *s); /* what SQL alone cannot do, in the same transaction */
};
static const struct migration migrations[] = {
    {&schema_v1, NULL},                /* 0 -> 1 */
    {&schema_v2, store_packs_migrate}, /* 1 -> 2 */
    {&schema_v3, store_words_rebuild}, /* 2 -> 3 */
    {&schema_v4, incidents_v4},        /* 3 -> 4 */
    {&schema_v5, NULL},                /* 4 -> 5 */
    {&schema_v6, hosts_v6},            /* 5 -> 6 */
    {&schema_v7, incidents_v7},        /* 6 -> 7 */
};
#define NMIGRATIONS (sizeof(migrations) / sizeof(migrations[0]))
_Static_assert(NMIGRATIONS == STOAT_STORE_SCHEMA, "one migration per schema version");

/* ------------------------------------------------------------ settings */

int64_t store_meta_int(struct stoat_store *s, const char *key, int64_t dflt)
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

int store_meta_set_int(struct stoat_store *s, const char *key, int64_t v, bool clear)
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

/* ------------------------------------------------------------ checking */

/* What the file is: OK with *ver its schema (0: a new, empty file), or why
 * it is refused. Run once outside any transaction, then again inside each
 * migration's write transaction: another writer may have created or
 * migrated the file in between. */
static stoat_err schema_read(struct stoat_store *s, bool fresh_ok, int64_t *ver)
{
    int64_t app = 0, ntables = 0;
    int rc = store_pragma_int(s, "PRAGMA application_id", &app);
    if (rc != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_NOTADB) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: not a stoat store (not an SQLite database)", s->path);
            return STOAT_ERR_FORMAT;
        }
        return store_fail(s, rc, "reading the header");
    }
    if ((rc = store_pragma_int(s, "PRAGMA user_version", ver)) != SQLITE_OK)
        return store_fail(s, rc, "reading the schema version");
    if ((rc = store_pragma_int(s, "SELECT count(*) FROM sqlite_schema", &ntables)) != SQLITE_OK) {
        if ((rc & 0xff) == SQLITE_NOTADB) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: not a stoat store (not an SQLite database)", s->path);
            return STOAT_ERR_FORMAT;
        }
        return store_fail(s, rc, "reading the schema");
    }
    if (app != STOAT_APP_ID) {
        if (app != 0 || ntables != 0) {
            snprintf(s->errmsg, sizeof(s->errmsg),
                     "%s: an SQLite database of another program, not a stoat store; give a new file name", s->path);
            return STOAT_ERR_FORMAT;
        }
        if (!fresh_ok) {
            snprintf(s->errmsg, sizeof(s->errmsg), "%s: an empty database, not a stoat store", s->path);
            return STOAT_ERR_FORMAT;
        }
    }
    if (*ver > STOAT_STORE_SCHEMA) {
        snprintf(s->errmsg, sizeof(s->errmsg), "%s: made by a newer stoat (schema %lld; this stoat reads up to %d)",
                 s->path, (long long)*ver, STOAT_STORE_SCHEMA);
        return STOAT_ERR_FORMAT;
    }
    return STOAT_OK;
}

/* One step forward from the version read under the write lock, which may
 * be past `from` already: another writer that opened the new file at the
 * same moment created or migrated it first. *ver: the version after. */
static stoat_err schema_step(struct stoat_store *s, bool fresh_ok, int64_t *ver)
{
    int rc = store_exec(s, "BEGIN IMMEDIATE");
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "locking the store to upgrade it");
    int64_t v = 0;
    stoat_err e = schema_read(s, fresh_ok, &v);
    if (e != STOAT_OK) {
        store_rollback(s);
        return e;
    }
    if (v < STOAT_STORE_SCHEMA) {
        char tail[96];
        snprintf(tail, sizeof(tail), "PRAGMA application_id = %d; PRAGMA user_version = %lld;", STOAT_APP_ID,
                 (long long)v + 1);
        if ((rc = store_exec(s, *migrations[v].sql)) != SQLITE_OK ||
            (migrations[v].then && (rc = migrations[v].then(s)) != SQLITE_OK) ||
            (rc = store_exec(s, tail)) != SQLITE_OK) {
            store_rollback(s);
            return STOAT_ERR_IO;
        }
        v++;
    }
    if ((rc = store_exec(s, "COMMIT")) != SQLITE_OK) {
        store_rollback(s);
        return STOAT_ERR_IO;
    }
    *ver = v;
    return STOAT_OK;
}

stoat_err store_schema_check(struct stoat_store *s, bool fresh_ok)
{
    /* in one read transaction: the header and the tables of one moment,
     * not a new file's empty header and another writer's first tables */
    int64_t ver = 0;
    int rc = store_exec(s, "BEGIN");
    if (rc != SQLITE_OK)
        return store_fail(s, rc, "reading the header");
    stoat_err e = schema_read(s, fresh_ok, &ver);
    store_rollback(s);
    if (e != STOAT_OK || ver == STOAT_STORE_SCHEMA)
        return e;
    if (s->readonly) {
        snprintf(s->errmsg, sizeof(s->errmsg),
                 "%s: schema %lld is older than this stoat's (%d); open it once for writing to upgrade", s->path,
                 (long long)ver, STOAT_STORE_SCHEMA);
        return STOAT_ERR_FORMAT;
    }
    while (ver < STOAT_STORE_SCHEMA)
        if ((e = schema_step(s, fresh_ok, &ver)) != STOAT_OK)
            return e;
    return STOAT_OK;
}
