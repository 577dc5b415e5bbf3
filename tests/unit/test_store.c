/* Unit tests for the store (src/store): schema and refusals of foreign or
 * damaged files, writing alerts with ancestry and incidents, every query's
 * JSON (checked with SQLite's own json_valid), filters with hostile values,
 * triage, retention, readers during a write, a writer killed in the
 * middle of a batch, the report's export and the diagnostics of opening.
 * Each test makes its own file in a temporary folder. */
#include "testutil.h"

#include <pthread.h>
#include <signal.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "stoat/store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/stoat-store-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *path(const char *name)
{
    static char p[4][160];
    static int k;
    k = (k + 1) % 4;
    snprintf(p[k], sizeof(p[k]), "%s/%s", dir, name);
    return p[k];
}

static bool json_ok(const char *json)
{
    sqlite3 *db;
    sqlite3_open(":memory:", &db);
    sqlite3_stmt *st;
    sqlite3_prepare_v2(db, "SELECT json_valid(?1)", -1, &st, NULL);
    sqlite3_bind_text(st, 1, json, -1, SQLITE_STATIC);
    bool ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_int(st, 0) == 1;
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

/* A rule, a host and an alert with a three-deep ancestry. */
static const char *tac[] = {"credential-access", "discovery"};
static const char *tech[] = {"T1003.003", "T1087"};
static struct stoat_rule_meta rule = {.id = "11111111-2222-4333-8444-555555555555",
                                      .title = "NTDS Copied With ntdsutil",
                                      .level = STOAT_LEVEL_HIGH,
                                      .status = STOAT_STATUS_TEST,
                                      .product = "windows",
                                      .category = "process_creation",
                                      .attack_tactics = {tac, 2},
                                      .attack_ids = {tech, 2}};
static struct stoat_rule_meta rule2 = {.id = "99999999-2222-4333-8444-555555555555",
                                       .title = "Whoami",
                                       .level = STOAT_LEVEL_MEDIUM,
                                       .attack_tactics = {tac + 1, 1},
                                       .attack_ids = {tech + 1, 1}};

static void make_alert(struct stoat_alert *a, uint64_t id, const char *host, struct stoat_field *fs,
                       struct stoat_process *anc, char guid[3][32])
{
    for (int k = 0; k < 3; k++)
        snprintf(guid[k], 32, "{g-%s-%llu-%d}", host, (unsigned long long)(k == 0 ? id : 1), k);
    anc[0] = (struct stoat_process){"C:\\Windows\\System32\\ntdsutil.exe",
                                    "ntdsutil \"ac i ntds\" ifm",
                                    "CORP\\m.okafor",
                                    guid[0],
                                    4000 + (int64_t)id,
                                    1000};
    anc[1] = (struct stoat_process){
        "C:\\Windows\\System32\\cmd.exe", "cmd.exe /c ntdsutil", "CORP\\m.okafor", guid[1], 300, 900};
    anc[2] = (struct stoat_process){"C:\\Windows\\explorer.exe", NULL, "CORP\\m.okafor", guid[2], 200, 800};
    fs[0] = (struct stoat_field){"Image", anc[0].image, 5, (uint32_t)strlen(anc[0].image), STOAT_V_STRING};
    fs[1] = (struct stoat_field){"CommandLine", anc[0].command_line, 11, (uint32_t)strlen(anc[0].command_line),
                                 STOAT_V_STRING};
    fs[2] = (struct stoat_field){"ProcessId", "4242", 9, 4, STOAT_V_NUMBER};
    *a = (struct stoat_alert){.id = id,
                              .rule = id % 3 ? &rule : &rule2,
                              .pos = {.file = "ws07.evtx", .format = "evtx", .record = id, .offset = id * 100},
                              .timestamp = "2026-11-19T22:31:04Z",
                              .time_ns = 1795127464000000000LL + (int64_t)id * 1000000000LL,
                              .host = host,
                              .channel = "Microsoft-Windows-Sysmon/Operational",
                              .event_id = "1",
                              .logon_id = "0x1234",
                              .fields = fs,
                              .nfields = 3,
                              .ancestry = anc,
                              .nancestry = 3};
}

/* Alerts first..first+n-1 of make_alert, on two hosts by turns. */
static void put_alerts(struct stoat_store *s, unsigned first, unsigned n)
{
    for (unsigned i = first; i < first + n; i++) {
        struct stoat_alert a;
        struct stoat_field fs[3];
        struct stoat_process anc[3];
        char guid[3][32];
        make_alert(&a, i, i % 2 ? "fab-ws07" : "design-srv01", fs, anc, guid);
        assert_int_equal(stoat_store_put_alert(s, &a), STOAT_OK);
    }
}

/* stoat_store_open with its diagnostic kept in err, as "file: message". */
struct err_buf {
    char *p;
    size_t len;
};

static void keep_diag(void *ctx, const struct stoat_diag *d)
{
    struct err_buf *e = ctx;
    snprintf(e->p, e->len, "%s%s%s", d->file ? d->file : "", d->file ? ": " : "", d->message);
}

static stoat_err open_store(const char *file, const struct stoat_store_opts *opts, struct stoat_store **out, char *err,
                            size_t errlen)
{
    struct err_buf eb = {err, errlen};
    struct stoat_store_opts o = *opts;
    o.diag = keep_diag;
    o.diag_ctx = &eb;
    err[0] = 0;
    return stoat_store_open(file, &o, out);
}

static struct stoat_store *fill(const char *file, unsigned nalerts, bool incident)
{
    struct stoat_store *s = NULL;
    char err[512];
    struct stoat_store_opts o = {.create = true};
    assert_int_equal(open_store(file, &o, &s, err, sizeof(err)), STOAT_OK);
    assert_int_equal(stoat_store_run_begin(s, "test", "unit"), STOAT_OK);
    put_alerts(s, 1, nalerts);
    if (incident) {
        uint64_t ids[] = {1, 3, 5};
        const char *itac[] = {"discovery", "credential-access"};
        struct stoat_incident inc = {.id = 1,
                                     .host = "fab-ws07",
                                     .logon_id = "0x1234",
                                     .title = "Credential theft on fab-ws07",
                                     .score = 72,
                                     .level = STOAT_LEVEL_HIGH,
                                     .first_ns = 1,
                                     .last_ns = 2,
                                     .tactics = itac,
                                     .ntactics = 2,
                                     .alert_ids = ids,
                                     .nalerts = 3};
        assert_int_equal(stoat_store_put_incident(s, &inc), STOAT_OK);
    }
    assert_int_equal(stoat_store_run_end(s, NULL), STOAT_OK);
    return s;
}

static struct stoat_store *reader(const char *file)
{
    struct stoat_store *s = NULL;
    char err[512];
    struct stoat_store_opts o = {.readonly = true};
    assert_int_equal(open_store(file, &o, &s, err, sizeof(err)), STOAT_OK);
    return s;
}

static bool text_is(const char *file, const char *sql, const char *want)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    bool ok = !strcmp((const char *)sqlite3_column_text(st, 0), want);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return ok;
}

static int64_t count(const char *file, const char *sql)
{
    sqlite3 *db;
    sqlite3_stmt *st;
    assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
    assert_int_equal(sqlite3_prepare_v2(db, sql, -1, &st, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_step(st), SQLITE_ROW);
    int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return v;
}

/* ------------------------------------------------------------ tests */

/* Points the filter at the page after a listing; false on the last page. */
static bool next_page(struct stoat_filter *f, const char *listing)
{
    const char *nx = strstr(listing, "\"next\":\"");
    if (!nx)
        return false;
    f->has_cursor = true;
    f->cursor_ns = strtoll(nx + 8, NULL, 10);
    f->cursor_id = strtoull(strchr(nx + 8, ':') + 1, NULL, 10);
    return true;
}

static void test_refusals(void **state)
{
    (void)state;
    struct stoat_store *s = NULL;
    char err[512];
    struct stoat_store_opts ro = {.readonly = true}, rw = {.create = true};
    assert_int_equal(open_store(path("missing.db"), &ro, &s, err, sizeof(err)), STOAT_ERR_NOTFOUND);
    assert_null(s);

    FILE *f = fopen(path("text.db"), "w");
    fputs("this is not a database, just some text that is long enough to look like a header..........\n", f);
    fclose(f);
    assert_int_equal(open_store(path("text.db"), &rw, &s, err, sizeof(err)), STOAT_ERR_FORMAT);
    assert_non_null(strstr(err, "not a stoat store"));

    sqlite3 *db;
    sqlite3_open(path("foreign.db"), &db);
    sqlite3_exec(db, "CREATE TABLE customers(name); INSERT INTO customers VALUES('x');", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(open_store(path("foreign.db"), &rw, &s, err, sizeof(err)), STOAT_ERR_FORMAT);
    assert_non_null(strstr(err, "another program"));
    assert_int_equal(count(path("foreign.db"), "SELECT count(*) FROM customers"), 1); /* untouched */

    stoat_store_close(fill(path("newer.db"), 1, false));
    sqlite3_open(path("newer.db"), &db);
    sqlite3_exec(db, "PRAGMA user_version = 99", NULL, NULL, NULL);
    sqlite3_close(db);
    assert_int_equal(open_store(path("newer.db"), &ro, &s, err, sizeof(err)), STOAT_ERR_FORMAT);
    assert_non_null(strstr(err, "newer stoat"));
    stoat_store_close(NULL); /* accepts NULL */
}

static void test_write_and_read(void **state)
{
    (void)state;
    const char *file = path("a.db");
    stoat_store_close(fill(file, 10, true));
    assert_int_equal(count(file, "SELECT count(*) FROM alerts"), 10);
    assert_int_equal(count(file, "SELECT sum(n) FROM event_packs"), 10);
    /* ancestors are shared: 10 own processes + cmd and explorer per host */
    assert_int_equal(count(file, "SELECT count(*) FROM processes"), 14);
    assert_int_equal(count(file, "SELECT count(*) FROM incident_alerts"), 3);
    assert_true(text_is(file, "PRAGMA journal_mode", "wal"));

    struct stoat_store *s = reader(file);
    char *j = NULL;
    size_t n = 0;
    assert_int_equal(stoat_store_overview_json(s, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    assert_non_null(strstr(j, "\"total\":10"));
    assert_non_null(strstr(j, "\"nincidents\":1"));
    free(j);
    assert_int_equal(stoat_store_alert_json(s, 3, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    assert_non_null(strstr(j, "explorer.exe"));
    assert_non_null(strstr(j, "\"incidents\":[1]"));
    /* the event, from its pack */
    assert_non_null(strstr(j, "\"event\":{\"file\":\"ws07.evtx\",\"format\":\"evtx\",\"record\":3,"));
    assert_non_null(strstr(j, "\"ProcessId\":4242"));
    /* image and command line from the process row written with the alert */
    assert_non_null(strstr(j, "\"cmd\":\"ntdsutil \\\"ac i ntds\\\" ifm\""));
    assert_int_equal(count(file, "SELECT count(*) FROM alerts WHERE command_line IS NULL"), 10);
    free(j);
    assert_int_equal(stoat_store_tree_json(s, 3, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    free(j);
    assert_int_equal(stoat_store_incident_json(s, 1, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    /* the tree of the incident: 3 own processes under one cmd under explorer */
    int nodes = 0;
    for (const char *p = strstr(j, "\"tree\":"); p && (p = strstr(p, "\"guid\"")); p++)
        nodes++;
    assert_int_equal(nodes, 5);
    free(j);
    assert_int_equal(stoat_store_incident_json(s, 2, &j, &n), STOAT_ERR_NOTFOUND);
    assert_int_equal(stoat_store_alert_json(s, 999, &j, &n), STOAT_ERR_NOTFOUND);
    assert_int_equal(stoat_store_hosts_json(s, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    free(j);
    assert_int_equal(stoat_store_rules_json(s, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    free(j);
    assert_int_equal(stoat_store_version_json(s, &j, &n), STOAT_OK);
    assert_string_equal(j, "{\"alerts\":10,\"incidents\":1,\"triage\":0,\"runs\":1}");
    free(j);
    stoat_store_close(s);
}

static int64_t total_of(struct stoat_store *s, const struct stoat_filter *f)
{
    char *j = NULL;
    size_t n;
    assert_int_equal(stoat_store_alerts_json(s, f, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    const char *t = strstr(j, "\"total\":");
    assert_non_null(t);
    int64_t v = strtoll(t + 8, NULL, 10);
    free(j);
    return v;
}

static void test_filters(void **state)
{
    (void)state;
    const char *file = path("f.db");
    stoat_store_close(fill(file, 30, true));
    struct stoat_store *s = reader(file);
    struct stoat_filter f;
    stoat_filter_init(&f);
    assert_int_equal(total_of(s, &f), 30);
    f.host = "fab-ws07";
    assert_int_equal(total_of(s, &f), 15);
    f.min_level = STOAT_LEVEL_HIGH;
    assert_int_equal(total_of(s, &f), 10); /* ids 1..29 odd, not multiples of 3 */
    stoat_filter_init(&f);
    f.technique = "T1003"; /* the sub-technique T1003.003 counts */
    assert_int_equal(total_of(s, &f), 20);
    stoat_filter_init(&f);
    f.tactic = "discovery";
    assert_int_equal(total_of(s, &f), 30);
    stoat_filter_init(&f);
    f.incident = 1;
    assert_int_equal(total_of(s, &f), 3);
    stoat_filter_init(&f);
    f.q = "ntdsutil.exe m.okafor";
    assert_int_equal(total_of(s, &f), 30);
    f.q = "nosuchword";
    assert_int_equal(total_of(s, &f), 0);
    /* SQL and FTS metacharacters are only ever text */
    const char *evil[] = {"x' OR '1'='1",
                          "\"; DROP TABLE alerts; --",
                          "NEAR(a b) OR *",
                          "%_\\",
                          "' UNION SELECT 1 --",
                          "a\"b",
                          "^",
                          NULL};
    for (const char **e = evil; *e; e++) {
        stoat_filter_init(&f);
        f.host = *e;
        assert_int_equal(total_of(s, &f), 0);
        stoat_filter_init(&f);
        f.rule = *e;
        assert_int_equal(total_of(s, &f), 0);
        stoat_filter_init(&f);
        f.tactic = *e;
        assert_int_equal(total_of(s, &f), 0);
        stoat_filter_init(&f);
        f.technique = *e;
        assert_int_equal(total_of(s, &f), 0);
        stoat_filter_init(&f);
        f.q = *e;
        char *j = NULL;
        size_t n;
        assert_int_equal(stoat_store_alerts_json(s, &f, &j, &n), STOAT_OK);
        free(j);
        assert_int_equal(stoat_store_incidents_json(s, &f, &j, &n), STOAT_OK);
        assert_true(json_ok(j));
        free(j);
    }
    /* paging by cursor visits every alert once */
    stoat_filter_init(&f);
    f.limit = 7;
    int seen = 0;
    for (int page = 0; page < 10; page++) {
        char *j = NULL;
        size_t n;
        assert_int_equal(stoat_store_alerts_json(s, &f, &j, &n), STOAT_OK);
        for (const char *p = j; (p = strstr(p, "{\"id\":")); p++)
            seen++;
        bool more = next_page(&f, j);
        free(j);
        if (!more)
            break;
    }
    assert_int_equal(seen, 30);
    stoat_store_close(s);
    assert_int_equal(count(file, "SELECT count(*) FROM alerts"), 30);
}

static void test_triage(void **state)
{
    (void)state;
    const char *file = path("t.db");
    struct stoat_store *w = fill(file, 5, true);
    assert_int_equal(
        stoat_store_set_triage(w, STOAT_TARGET_INCIDENT, 1, STOAT_TRIAGE_ACKNOWLEDGED, "checked the DC", "ana"),
        STOAT_OK);
    assert_int_equal(stoat_store_set_triage(w, STOAT_TARGET_ALERT, 2, STOAT_TRIAGE_FALSE_POSITIVE, NULL, NULL),
                     STOAT_OK);
    assert_int_equal(stoat_store_set_triage(w, STOAT_TARGET_INCIDENT, 7, STOAT_TRIAGE_CLOSED, NULL, NULL),
                     STOAT_ERR_NOTFOUND);
    assert_int_equal(stoat_store_set_triage(w, STOAT_TARGET_ALERT, 1, (enum stoat_triage)9, NULL, NULL), STOAT_ERR_ARG);
    char big[STOAT_TRIAGE_NOTE_MAX + 2];
    memset(big, 'x', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    assert_int_equal(stoat_store_set_triage(w, STOAT_TARGET_ALERT, 1, STOAT_TRIAGE_CLOSED, big, NULL), STOAT_ERR_LIMIT);
    stoat_store_close(w);
    struct stoat_store *s = reader(file);
    assert_int_equal(stoat_store_set_triage(s, STOAT_TARGET_ALERT, 1, STOAT_TRIAGE_CLOSED, NULL, NULL), STOAT_ERR_ARG);
    char *j = NULL;
    size_t n;
    assert_int_equal(stoat_store_incident_json(s, 1, &j, &n), STOAT_OK);
    assert_non_null(strstr(j, "\"state\":1"));
    assert_non_null(strstr(j, "checked the DC"));
    assert_non_null(strstr(j, "\"who\":\"ana\""));
    free(j);
    struct stoat_filter f;
    stoat_filter_init(&f);
    f.state = STOAT_TRIAGE_FALSE_POSITIVE;
    assert_int_equal(total_of(s, &f), 1);
    stoat_store_close(s);
    enum stoat_triage t;
    assert_true(stoat_triage_parse("false-positive", &t));
    assert_int_equal(t, STOAT_TRIAGE_FALSE_POSITIVE);
    assert_false(stoat_triage_parse("open", &t));
}

static void test_retention(void **state)
{
    (void)state;
    const char *file = path("r.db");
    stoat_store_close(fill(file, 200, true));
    struct stoat_store *w = NULL;
    char err[512];
    struct stoat_store_opts o = {.retain_alerts = 10};
    assert_int_equal(open_store(file, &o, &w, err, sizeof(err)), STOAT_OK);
    uint64_t gone = 0;
    assert_int_equal(stoat_store_prune(w, &gone), STOAT_OK);
    assert_int_equal(gone, 190);
    stoat_store_close(w);
    assert_int_equal(count(file, "SELECT count(*) FROM alerts"), 10);
    assert_int_equal(count(file, "SELECT min(id) FROM alerts"), 191);
    /* packs of 64 events: those wholly before event 191 are gone */
    assert_int_equal(count(file, "SELECT count(*) FROM event_packs"), 2);
    assert_int_equal(count(file, "SELECT min(id) FROM event_packs"), 129);
    struct stoat_store *r = reader(file);
    char *j = NULL;
    size_t n = 0;
    assert_int_equal(stoat_store_alert_json(r, 191, &j, &n), STOAT_OK);
    assert_non_null(strstr(j, "\"record\":191"));
    free(j);
    stoat_store_close(r);
    assert_int_equal(count(file, "SELECT sum(n) FROM count_hour"), 10);
    assert_int_equal(count(file, "SELECT sum(n) FROM count_host"), 10);
    assert_int_equal(count(file, "SELECT sum(n) FROM count_rule"), 10);
    assert_int_equal(count(file, "SELECT count(*) FROM incidents"), 0); /* its alerts were 1, 3, 5 */
    /* the search index keeps no run of alerts that are all gone, and finds
     * only the alerts that stay */
    assert_int_equal(count(file, "SELECT count(*) FROM alert_words WHERE (rowid >> 4) + (rowid & 15) < 191"), 0);
    assert_true(count(file, "SELECT count(*) FROM alert_words WHERE alert_words MATCH 'ntdsutil'") > 0);
    r = reader(file);
    struct stoat_filter f;
    stoat_filter_init(&f);
    f.q = "ntdsutil";
    assert_int_equal(total_of(r, &f), 10);
    stoat_store_close(r);
    /* the setting stays in the store: the next writer applies it too */
    stoat_store_close(fill(file, 5, false));
    assert_int_equal(count(file, "SELECT count(*) FROM alerts"), 10);
}

/* A writer that never ends its run (stoat watch) applies retention in its
 * commits, at most every prune_every_ms: the store stays bounded while the
 * run goes on, and without the setting nothing is pruned before the end. */
static void test_retention_during_a_run(void **state)
{
    (void)state;
    for (int pruning = 0; pruning < 2; pruning++) {
        const char *file = path(pruning ? "live-pruned.db" : "live.db");
        struct stoat_store *w = NULL;
        char err[512];
        struct stoat_store_opts o = {.create = true, .retain_alerts = 10, .prune_every_ms = pruning ? 1 : 0};
        assert_int_equal(open_store(file, &o, &w, err, sizeof(err)), STOAT_OK);
        assert_int_equal(stoat_store_run_begin(w, "watch", "unit"), STOAT_OK);
        for (unsigned i = 1; i <= 60; i += 20) {
            put_alerts(w, i, 20);
            struct timespec pause = {0, 2000000}; /* past prune_every_ms */
            nanosleep(&pause, NULL);
            assert_int_equal(stoat_store_commit(w), STOAT_OK);
        }
        /* the run is still open: only commits have happened */
        assert_int_equal(count(file, "SELECT count(*) FROM alerts"), pruning ? 10 : 60);
        assert_int_equal(count(file, "SELECT min(id) FROM alerts"), pruning ? 51 : 1);
        assert_int_equal(count(file, "SELECT sum(n) FROM count_host"), pruning ? 10 : 60);
        assert_int_equal(stoat_store_run_end(w, NULL), STOAT_OK);
        stoat_store_close(w);
        assert_int_equal(count(file, "SELECT count(*) FROM alerts"), 10);
    }
}

/* A writer killed mid-batch: what it committed is there, the rest is not,
 * and the file opens cleanly. */
static void test_crash(void **state)
{
    (void)state;
    const char *file = path("c.db");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct stoat_store *s = NULL;
        char err[512];
        struct stoat_store_opts o = {.create = true, .batch_alerts = 100000, .batch_ms = 1000000};
        if (open_store(file, &o, &s, err, sizeof(err)) != STOAT_OK || stoat_store_run_begin(s, "t", NULL))
            _exit(1);
        for (unsigned i = 1; i <= 300; i++) {
            struct stoat_alert a;
            struct stoat_field fs[3];
            struct stoat_process anc[3];
            char guid[3][32];
            make_alert(&a, i, "h", fs, anc, guid);
            if (stoat_store_put_alert(s, &a) != STOAT_OK)
                _exit(1);
            if (i == 200 && stoat_store_commit(s) != STOAT_OK)
                _exit(1);
        }
        _exit(0); /* no close, no commit of the last 100 */
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    struct stoat_store *s = reader(file);
    struct stoat_filter f;
    stoat_filter_init(&f);
    assert_int_equal(total_of(s, &f), 200);
    stoat_store_close(s);
    assert_int_equal(count(file, "SELECT count(*) FROM alerts"), 200);
    assert_true(text_is(file, "PRAGMA quick_check", "ok"));
}

/* A reader is answered while a writer holds an open transaction: the
 * store's own (its thread may or may not have begun the batch yet) and,
 * for certain, one held open by a second connection. */
static void test_reader_not_blocked(void **state)
{
    (void)state;
    const char *file = path("b.db");
    struct stoat_store *w = fill(file, 5, false);
    assert_int_equal(stoat_store_run_begin(w, "t", NULL), STOAT_OK);
    struct stoat_alert a;
    struct stoat_field fs[3];
    struct stoat_process anc[3];
    char guid[3][32];
    make_alert(&a, 1, "h2", fs, anc, guid);
    assert_int_equal(stoat_store_put_alert(w, &a), STOAT_OK); /* not committed */
    struct stoat_store *r = reader(file);
    struct stoat_filter f;
    stoat_filter_init(&f);
    assert_int_equal(total_of(r, &f), 5);
    assert_int_equal(stoat_store_commit(w), STOAT_OK);
    assert_int_equal(total_of(r, &f), 6);
    stoat_store_close(w);
    sqlite3 *db;
    assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE; DELETE FROM alerts;", NULL, NULL, NULL), SQLITE_OK);
    char *j = NULL;
    size_t n;
    assert_int_equal(stoat_store_alert_json(r, 6, &j, &n), STOAT_OK); /* answered, from the last commit */
    free(j);
    assert_int_equal(total_of(r, &f), 6);
    sqlite3_exec(db, "ROLLBACK", NULL, NULL, NULL);
    sqlite3_close(db);
    stoat_store_close(r);
}

/* Another writer's lock: a handle waits for it as long as its busy_ms
 * says (a fleet worker waits minutes for one whose facts are going out),
 * then fails with SQLite's word for it. */
static void *release_later(void *db)
{
    struct timespec ts = {0, 300 * 1000000L};
    nanosleep(&ts, NULL);
    sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
    return NULL;
}

static void test_busy_wait(void **state)
{
    (void)state;
    const char *file = path("busy.db");
    stoat_store_close(fill(file, 2, false));
    sqlite3 *db;
    assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    struct stoat_store *quick = NULL, *patient = NULL;
    char err[512];
    struct stoat_store_opts o = {.busy_ms = 50};
    assert_int_equal(open_store(file, &o, &quick, err, sizeof(err)), STOAT_OK);
    assert_int_not_equal(stoat_store_run_begin(quick, "t", NULL), STOAT_OK);
    assert_non_null(strstr(stoat_store_errmsg(quick), "locked"));
    o.busy_ms = 30000;
    assert_int_equal(open_store(file, &o, &patient, err, sizeof(err)), STOAT_OK);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, release_later, db), 0);
    assert_int_equal(stoat_store_run_begin(patient, "t", NULL), STOAT_OK);
    put_alerts(patient, 3, 2);
    assert_int_equal(stoat_store_run_end(patient, NULL), STOAT_OK);
    pthread_join(t, NULL);
    struct stoat_filter f;
    stoat_filter_init(&f);
    assert_int_equal(total_of(patient, &f), 4);
    stoat_store_close(patient);
    stoat_store_close(quick);
    sqlite3_close(db);
}

/* Damage in the middle of the file: every query returns, with data or an
 * error, and nothing crashes (the sanitizer build checks the "nothing"). */
static void test_corrupt(void **state)
{
    (void)state;
    const char *file = path("x.db");
    stoat_store_close(fill(file, 400, true));
    FILE *f = fopen(file, "r+b");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    long size = ftell(f);
    unsigned seed = 7;
    for (long off = 4096; off < size; off += 3000) {
        fseek(f, off, SEEK_SET);
        for (int k = 0; k < 64; k++)
            fputc((int)((seed = seed * 1103515245u + 12345u) >> 16), f);
    }
    fclose(f);
    struct stoat_store *s = NULL;
    char err[512];
    struct stoat_store_opts ro = {.readonly = true};
    if (open_store(file, &ro, &s, err, sizeof(err)) != STOAT_OK) {
        assert_true(strlen(err) > 0);
        return;
    }
    char *j = NULL;
    size_t n;
    struct stoat_filter fl;
    stoat_filter_init(&fl);
    stoat_err e;
    if ((e = stoat_store_overview_json(s, &j, &n)) == STOAT_OK)
        free(j);
    if ((e = stoat_store_alerts_json(s, &fl, &j, &n)) == STOAT_OK)
        free(j);
    fl.q = "ntdsutil";
    if ((e = stoat_store_alerts_json(s, &fl, &j, &n)) == STOAT_OK)
        free(j);
    for (uint64_t id = 1; id < 400; id += 37) {
        if ((e = stoat_store_alert_json(s, id, &j, &n)) == STOAT_OK)
            free(j);
    }
    if ((e = stoat_store_incident_json(s, 1, &j, &n)) == STOAT_OK)
        free(j);
    stoat_store_close(s);
}

/* The sink: what `stoat hunt --db` and any other producer plug in. */
static void test_sink(void **state)
{
    (void)state;
    const char *file = path("s.db");
    struct stoat_store *s = NULL;
    char err[512];
    struct stoat_store_opts o = {.create = true};
    assert_int_equal(open_store(file, &o, &s, err, sizeof(err)), STOAT_OK);
    struct stoat_sink k;
    stoat_sink_store(s, true, "watch", "stoat watch --db s.db", &k);
    assert_int_equal(k.begin(k.ctx), STOAT_OK);
    for (unsigned i = 1; i <= 4; i++) {
        struct stoat_alert a;
        struct stoat_field fs[3];
        struct stoat_process anc[3];
        char guid[3][32];
        make_alert(&a, i, "sensor-host", fs, anc, guid);
        a.nancestry = i % 2 ? 3 : 0; /* with and without ancestry */
        assert_int_equal(k.alert(k.ctx, &a), STOAT_OK);
    }
    uint64_t ids[] = {2, 4, 99}; /* 99 was never stored: its link is dropped */
    struct stoat_incident inc = {
        .id = 1, .host = "sensor-host", .title = "t", .level = STOAT_LEVEL_LOW, .alert_ids = ids, .nalerts = 3};
    assert_int_equal(k.incident(k.ctx, &inc), STOAT_OK);
    struct stoat_hunt_stats st = {.files = 1, .alerts = 4};
    assert_int_equal(k.end(k.ctx, &st), STOAT_OK);
    k.destroy(k.ctx); /* closes the store it owns */
    assert_true(text_is(file, "SELECT producer || ' ' || status || ' ' || alerts FROM runs", "watch done 4"));
    assert_int_equal(count(file, "SELECT count(*) FROM incident_alerts"), 2);
    assert_int_equal(count(file, "SELECT count(*) FROM alerts WHERE process_id IS NULL"), 2);
}

/* A correlation's alert: its type, value, window and group are kept, with
 * links to the alerts it joins; both sides name each other. */
static void test_correlation(void **state)
{
    (void)state;
    const char *file = path("k.db");
    struct stoat_store *s = NULL;
    char err[512];
    struct stoat_store_opts o = {.create = true};
    assert_int_equal(open_store(file, &o, &s, err, sizeof(err)), STOAT_OK);
    assert_int_equal(stoat_store_run_begin(s, "test", NULL), STOAT_OK);
    for (unsigned i = 1; i <= 2; i++) {
        struct stoat_alert a;
        struct stoat_field fs[3];
        struct stoat_process anc[3];
        char guid[3][32];
        make_alert(&a, i, "fab-ws07", fs, anc, guid);
        assert_int_equal(stoat_store_put_alert(s, &a), STOAT_OK);
    }
    static struct stoat_rule_meta corr_rule = {.id = "c0000000-2222-4333-8444-555555555555",
                                               .title = "Burst Of Discovery",
                                               .level = STOAT_LEVEL_MEDIUM,
                                               .kind = STOAT_RULE_CORRELATION};
    const char *gn[] = {"Computer", "User"}, *gv[] = {"fab-ws07", NULL};
    uint64_t joined[] = {1, 2, 77}; /* 77 was never stored: no link */
    struct stoat_corr_evidence ev[] = {{1795127465500000000LL, "Whoami Run", "Image: /usr/bin/whoami | \"x\""}};
    struct stoat_corr_detail d = {.type = STOAT_CORR_VALUE_COUNT,
                                  .value = 4,
                                  .first_ns = 1795127465000000000LL,
                                  .last_ns = 1795127466000000000LL,
                                  .group_names = gn,
                                  .group_values = gv,
                                  .ngroup = 2,
                                  .alert_ids = joined,
                                  .nalert_ids = 3,
                                  .evidence = ev,
                                  .nevidence = 1};
    struct stoat_field cf[1] = {{"Computer", "fab-ws07", 8, 8, STOAT_V_STRING}};
    struct stoat_alert c = {.id = 3,
                            .rule = &corr_rule,
                            .correlation = &corr_rule,
                            .corr = &d,
                            .time_ns = 1795127466000000000LL,
                            .host = "fab-ws07",
                            .fields = cf,
                            .nfields = 1};
    assert_int_equal(stoat_store_put_alert(s, &c), STOAT_OK);
    assert_int_equal(stoat_store_run_end(s, NULL), STOAT_OK);
    stoat_store_close(s);
    struct stoat_store *r = reader(file);
    char *j = NULL;
    size_t n;
    assert_int_equal(stoat_store_alert_json(r, 3, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    assert_non_null(strstr(j, "\"corr\":true"));
    assert_non_null(strstr(j, "\"correlation\":{\"type\":\"value_count\",\"value\":4,\"first\":1795127465000000000,"
                              "\"last\":1795127466000000000,\"group\":{\"Computer\":\"fab-ws07\",\"User\":null},"
                              "\"evidence\":[{\"time\":1795127465500000000,\"rule\":\"Whoami Run\","
                              "\"summary\":\"Image: /usr/bin/whoami | \\\"x\\\"\"}],\"alerts\":[{\"id\":1,"));
    assert_non_null(strstr(j, "{\"id\":2,"));
    assert_non_null(strstr(j, "\"fields\":{\"Computer\":\"fab-ws07\"}"));
    free(j);
    assert_int_equal(stoat_store_alert_json(r, 1, &j, &n), STOAT_OK);
    assert_non_null(strstr(j, "\"correlation\":null,\"correlations\":[3]"));
    free(j);
    stoat_store_close(r);
    assert_int_equal(count(file, "SELECT count(*) FROM correlation_alerts"), 2);
}

/* Packs are compressed beside the writer and inserted before each commit:
 * over many packs and commits every alert's event is there. */
static void test_packs(void **state)
{
    (void)state;
    const char *file = path("packs.db");
    struct stoat_store *s = NULL;
    char err[512];
    struct stoat_store_opts o = {.create = true, .batch_alerts = 100};
    assert_int_equal(open_store(file, &o, &s, err, sizeof(err)), STOAT_OK);
    assert_int_equal(stoat_store_run_begin(s, "test", "packs"), STOAT_OK);
    for (unsigned i = 1; i <= 1000; i++) {
        struct stoat_alert a;
        struct stoat_field fs[3];
        struct stoat_process anc[3];
        char guid[3][32];
        make_alert(&a, i, "fab-ws07", fs, anc, guid);
        assert_int_equal(stoat_store_put_alert(s, &a), STOAT_OK);
    }
    assert_int_equal(stoat_store_run_end(s, NULL), STOAT_OK);
    stoat_store_close(s);
    assert_true(count(file, "SELECT count(*) FROM event_packs") >= 1000 / 64);
    assert_int_equal(count(file, "SELECT sum(n) FROM event_packs"), 1000);
    struct stoat_store *r = reader(file);
    for (unsigned i = 1; i <= 1000; i++) {
        char *j = NULL, want[32];
        size_t n;
        assert_int_equal(stoat_store_alert_json(r, i, &j, &n), STOAT_OK);
        snprintf(want, sizeof(want), "\"record\":%u,", i);
        if (!strstr(j, want))
            fail_msg("alert %u: its event is not there", i);
        free(j);
    }
    stoat_store_close(r);
}

/* ------------------------------------------------------------ search */

/* enough alerts for more runs of the index than a search reads (500) */
#define SN 9000
static const char *const s_hosts[3] = {"alpha-ws1", "beta-srv2", "gamma-db3"};

static void search_alert(unsigned i, char img[64], char cmd[96], const char **host)
{
    snprintf(img, 64, "C:\\bin\\app%u.exe", i % 4);
    snprintf(cmd, 96, "run tool%u arg%u%s", i % 7, i % 5, i % 97 ? "" : " rare");
    *host = s_hosts[(i / 2) % 3];
}

static bool tok(unsigned char c)
{
    return c >= 0x80 || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z');
}

/* A token of text equal to w (or starting with it), ASCII case folded. */
static bool text_has(const char *text, const char *w, bool prefix)
{
    size_t n = strlen(w);
    for (size_t i = 0; text[i];) {
        if (!tok((unsigned char)text[i])) {
            i++;
            continue;
        }
        size_t from = i;
        while (text[i] && tok((unsigned char)text[i]))
            i++;
        if ((i - from == n || (prefix && i - from > n)) && !strncasecmp(text + from, w, n))
            return true;
    }
    return false;
}

/* What the search must find, worked out the slow way: every word in the
 * rule's title, the host, the image, the command line or the user. */
static bool search_want(unsigned i, const char *q, bool prefix)
{
    char img[64], cmd[96], words[128];
    const char *host;
    search_alert(i, img, cmd, &host);
    const char *texts[5] = {i % 3 ? rule.title : rule2.title, host, img, cmd, "CORP\\m.okafor"};
    /* the search's words are cut as the index cuts them */
    snprintf(words, sizeof(words), "%s", q);
    for (char *p = words; *p; p++)
        if (!tok((unsigned char)*p))
            *p = ' ';
    char *save = NULL;
    char *w = strtok_r(words, " ", &save);
    while (w) {
        char *next = strtok_r(NULL, " ", &save);
        bool in = false;
        for (int t = 0; t < 5 && !in; t++)
            in = text_has(texts[t], w, prefix && !next);
        if (!in)
            return false;
        w = next;
    }
    return true;
}

static void search_check(struct stoat_store *s, const char *q)
{
    static bool want[SN + 1];
    int nwant = 0;
    for (unsigned i = 1; i <= SN; i++)
        nwant += want[i] = search_want(i, q, false);
    /* nothing has these whole words: the last one is still being typed */
    if (!nwant)
        for (unsigned i = 1; i <= SN; i++)
            nwant += want[i] = search_want(i, q, true);
    struct stoat_filter f;
    stoat_filter_init(&f);
    f.q = q;
    f.limit = 1000;
    char *j = NULL;
    size_t n;
    assert_int_equal(stoat_store_alerts_json(s, &f, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    /* every alert listed is one it must find, each once */
    static bool seen[SN + 1];
    memset(seen, 0, sizeof(seen));
    int listed = 0;
    for (const char *p = j; (p = strstr(p, "{\"id\":")); p++) {
        long id = strtol(p + 6, NULL, 10);
        if (id < 1 || id > SN)
            fail_msg("search \"%s\": alert %ld in %.300s", q, id, j);
        if (!want[id] || seen[id])
            fail_msg("search \"%s\" listed alert %ld", q, id);
        seen[id] = true;
        listed++;
    }
    const char *t = strstr(j, "\"total\":");
    assert_non_null(t);
    long total = strtol(t + 8, NULL, 10);
    bool more = strstr(j, "\"more\":true") != NULL, partial = strstr(j, "\"partial\":true") != NULL;
    /* a full answer (not cut short by the request's time limits) has them all */
    if (!partial && listed < 1000 && listed != nwant)
        fail_msg("search \"%s\": %d listed, %d expected", q, listed, nwant);
    if (!more && total != nwant)
        fail_msg("search \"%s\": total %ld, %d expected", q, total, nwant);
    if (total > nwant)
        fail_msg("search \"%s\": total %ld, more than the %d expected", q, total, nwant);
    free(j);
}

/* Pages through a search by its cursor: each of the alerts it must find
 * comes once. */
static void search_pages(struct stoat_store *s, const char *q, bool oldest)
{
    int nwant = 0;
    for (unsigned i = 1; i <= SN; i++)
        nwant += search_want(i, q, false);
    static bool seen[SN + 1];
    memset(seen, 0, sizeof(seen));
    struct stoat_filter f;
    stoat_filter_init(&f);
    f.q = q;
    f.limit = 700;
    f.oldest_first = oldest;
    int got = 0;
    for (int page = 0; page < 100; page++) {
        char *j = NULL;
        size_t n;
        assert_int_equal(stoat_store_alerts_json(s, &f, &j, &n), STOAT_OK);
        if (strstr(j, "\"partial\":true")) { /* cut short by its time limit: nothing to check */
            free(j);
            return;
        }
        long prev = oldest ? 0 : SN + 1;
        for (const char *p = j; (p = strstr(p, "{\"id\":")); p++) {
            long id = strtol(p + 6, NULL, 10);
            if (id < 1 || id > SN || seen[id] || !search_want((unsigned)id, q, false))
                fail_msg("search \"%s\" pages: alert %ld", q, id);
            /* many matches come in the order they were stored */
            if (strstr(j, "\"order\":\"stored\"") && (oldest ? id < prev : id > prev))
                fail_msg("search \"%s\" pages: alert %ld after %ld", q, id, prev);
            prev = id;
            seen[id] = true;
            got++;
        }
        bool more = next_page(&f, j);
        free(j);
        if (!more)
            break;
    }
    assert_int_equal(got, nwant);
}

static const char *const s_queries[] = {
    "tool3",
    "arg2",
    "app1.exe",
    "rare",
    "TOOL3 arg2",
    "tool3 tool4",
    "alpha",
    "ws1",
    "srv2 tool6",
    "alpha tool3",
    "whoami",
    "whoami alpha",
    "whoami beta arg4",
    "ntds alpha app1",
    "copied ntdsutil",
    "ntds okafor",
    "okafor corp",
    "run",
    "alpha beta",
    "nosuchword",
    "app",
    "alph",
    "tool3 ar",
    "whoami rare",
    "C:\\bin\\app2.exe tool5 gamma-db3",
    "ws1 srv2 db3",
    NULL,
};

static void test_search(void **state)
{
    (void)state;
    const char *file = path("search.db");
    struct stoat_store *s = NULL;
    char err[512];
    /* small batches: runs of the index end with their transaction */
    struct stoat_store_opts o = {.create = true, .batch_alerts = 100};
    assert_int_equal(open_store(file, &o, &s, err, sizeof(err)), STOAT_OK);
    assert_int_equal(stoat_store_run_begin(s, "test", "search"), STOAT_OK);
    for (unsigned i = 1; i <= SN; i++) {
        struct stoat_alert a;
        struct stoat_field fs[3];
        struct stoat_process anc[3];
        char guid[3][32], img[64], cmd[96];
        const char *host;
        search_alert(i, img, cmd, &host);
        make_alert(&a, i, host, fs, anc, guid);
        anc[0].image = img;
        anc[0].command_line = cmd;
        fs[0].value = img, fs[0].value_len = (uint32_t)strlen(img);
        fs[1].value = cmd, fs[1].value_len = (uint32_t)strlen(cmd);
        assert_int_equal(stoat_store_put_alert(s, &a), STOAT_OK);
    }
    assert_int_equal(stoat_store_run_end(s, NULL), STOAT_OK);
    for (const char *const *q = s_queries; *q; q++)
        search_check(s, *q); /* the writer's own handle */
    stoat_store_close(s);
    struct stoat_store *r = reader(file);
    for (const char *const *q = s_queries; *q; q++)
        search_check(r, *q);
    /* many matches (walked in the index), few (read by id), words of hosts */
    search_pages(r, "run", false);
    search_pages(r, "run", true);
    search_pages(r, "okafor tool3", false);
    search_pages(r, "arg2", true);
    search_pages(r, "alpha", false);
    search_pages(r, "rare tool5", false);
    stoat_store_close(r);

    /* a store of schema 2 (one index row per alert, with titles and host
     * names; runs without their writer) is brought to the current schema
     * by its next writer, and searches the same */
    sqlite3 *db;
    assert_int_equal(sqlite3_open(file, &db), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "DROP TABLE alert_words; CREATE VIRTUAL TABLE alert_text USING fts5(body,"
                                  " content='', detail=none, columnsize=0, tokenize='ascii');"
                                  " ALTER TABLE runs DROP COLUMN pid; ALTER TABLE runs DROP COLUMN host;"
                                  " ALTER TABLE runs DROP COLUMN writer_lock; PRAGMA user_version = 2",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    struct stoat_store_opts ro = {.readonly = true};
    assert_int_equal(open_store(file, &ro, &r, err, sizeof(err)), STOAT_ERR_FORMAT); /* readers do not upgrade */
    struct stoat_store_opts wo = {0};
    assert_int_equal(open_store(file, &wo, &s, err, sizeof(err)), STOAT_OK);
    stoat_store_close(s);
    assert_int_equal(count(file, "PRAGMA user_version"), STOAT_STORE_SCHEMA);
    r = reader(file);
    for (const char *const *q = s_queries; *q; q++)
        search_check(r, *q);
    stoat_store_close(r);
}

/* One part of the export, gathered from its pieces and checked as a JSON
 * value; its row count. */
struct gather {
    char *p;
    size_t len, pieces;
};

static void gather(void *ctx, const char *text, size_t len)
{
    struct gather *g = ctx;
    g->p = realloc(g->p, g->len + len + 1);
    memcpy(g->p + g->len, text, len);
    g->len += len;
    g->p[g->len] = 0;
    g->pieces++;
}

static uint64_t export_part(struct stoat_store *s, enum stoat_export_part part, uint64_t max_alerts, char **json)
{
    struct gather g = {0};
    uint64_t rows = 0;
    assert_int_equal(stoat_store_export(s, part, max_alerts, gather, &g, &rows), STOAT_OK);
    assert_non_null(g.p);
    assert_true(json_ok(g.p));
    *json = g.p;
    return rows;
}

static void test_export(void **state)
{
    (void)state;
    const char *file = path("export.db");
    struct stoat_store *w = fill(file, 10, true);
    assert_int_equal(stoat_store_set_triage(w, STOAT_TARGET_ALERT, 3, STOAT_TRIAGE_FALSE_POSITIVE, "first", "ana"),
                     STOAT_OK);
    assert_int_equal(stoat_store_set_triage(w, STOAT_TARGET_ALERT, 3, STOAT_TRIAGE_CLOSED, "second", "bo"), STOAT_OK);
    stoat_store_close(w);
    struct stoat_store *s = reader(file);
    static const char opens[STOAT_EXPORT_COUNT] = {'[', '[', '{', '[', '{', '{', '{', '[', '{'};
    uint64_t rows[STOAT_EXPORT_COUNT];
    char *parts[STOAT_EXPORT_COUNT];
    for (int p = 0; p < STOAT_EXPORT_COUNT; p++) {
        rows[p] = export_part(s, (enum stoat_export_part)p, 0, &parts[p]);
        assert_int_equal(parts[p][0], opens[p]);
    }
    assert_int_equal(rows[STOAT_EXPORT_ALERTS], 10);
    assert_int_equal(rows[STOAT_EXPORT_INCIDENTS], 1);
    assert_int_equal(rows[STOAT_EXPORT_EVENTS], count(file, "SELECT count(DISTINCT event_id) FROM alerts"));
    assert_int_equal(rows[STOAT_EXPORT_PROCESSES], count(file, "SELECT count(*) FROM processes"));
    /* a rule and an incident are written as the dashboard's documents write them */
    char *j = NULL;
    size_t n;
    assert_int_equal(stoat_store_alert_json(s, 1, &j, &n), STOAT_OK);
    char *r = strstr(j, "\"rule\":{"), *end = r ? strstr(r, "},\"event\":") : NULL;
    assert_non_null(end);
    end[1] = 0;
    assert_non_null(strstr(parts[STOAT_EXPORT_RULES], r + 7));
    free(j);
    assert_int_equal(stoat_store_incident_json(s, 1, &j, &n), STOAT_OK);
    char *inc = strstr(j, "\"incident\":{"), *iend = inc ? strstr(inc, ",\"run\":") : NULL;
    assert_non_null(iend);
    *iend = 0;
    assert_non_null(strstr(parts[STOAT_EXPORT_INCIDENTS], inc + 11));
    assert_non_null(strstr(parts[STOAT_EXPORT_INCIDENTS], "\"alerts\":[1,3,5]"));
    free(j);
    /* triage by target, newest first */
    char *a3 = strstr(parts[STOAT_EXPORT_TRIAGE], "\"a:3\":[");
    assert_non_null(a3);
    assert_true(strstr(a3, "second") < strstr(a3, "first"));
    for (int p = 0; p < STOAT_EXPORT_COUNT; p++)
        free(parts[p]);
    /* the newest 3 alerts and those of the incident (1, 3, 5) */
    assert_int_equal(export_part(s, STOAT_EXPORT_ALERTS, 3, &j), 6);
    assert_non_null(strstr(j, "[5,"));
    assert_null(strstr(j, "[6,"));
    free(j);
    uint64_t none = 7;
    struct gather g = {0};
    assert_int_equal(stoat_store_export(s, STOAT_EXPORT_COUNT, 0, gather, &g, &none), STOAT_ERR_ARG);
    assert_int_equal(none, 0);
    assert_int_equal(g.pieces, 0);
    stoat_store_close(s);
    /* a big part comes in pieces that join into one value */
    const char *big = path("export-big.db");
    stoat_store_close(fill(big, 1500, false));
    s = reader(big);
    g = (struct gather){0};
    uint64_t nrows = 0;
    assert_int_equal(stoat_store_export(s, STOAT_EXPORT_EVENTS, 0, gather, &g, &nrows), STOAT_OK);
    assert_true(g.pieces > 1);
    assert_true(json_ok(g.p));
    assert_int_equal(nrows, count(big, "SELECT count(DISTINCT event_id) FROM alerts"));
    free(g.p);
    stoat_store_close(s);
}

/* A store that cannot be opened says why through the diagnostic callback:
 * the store's path as the file, the sentence as the message. */
struct diag_seen {
    int n;
    struct stoat_diag d;
    char file[160], message[512];
};

static void see_diag(void *ctx, const struct stoat_diag *d)
{
    struct diag_seen *seen = ctx;
    seen->n++;
    seen->d = *d;
    snprintf(seen->file, sizeof(seen->file), "%s", d->file ? d->file : "(none)");
    snprintf(seen->message, sizeof(seen->message), "%s", d->message ? d->message : "(none)");
}

static void test_open_diagnostic(void **state)
{
    (void)state;
    struct diag_seen seen = {0};
    struct stoat_store *s = NULL;
    struct stoat_store_opts ro = {.readonly = true, .diag = see_diag, .diag_ctx = &seen};
    const char *missing = path("not-here.db");
    assert_int_equal(stoat_store_open(missing, &ro, &s), STOAT_ERR_NOTFOUND);
    assert_null(s);
    assert_int_equal(seen.n, 1);
    assert_int_equal(seen.d.code, STOAT_ERR_NOTFOUND);
    assert_int_equal(seen.d.severity, STOAT_SEV_ERROR);
    assert_string_equal(seen.file, missing);
    assert_string_equal(seen.message, "no such store");
    assert_int_equal(stoat_store_open("", &ro, &s), STOAT_ERR_ARG);
    assert_int_equal(seen.n, 2);
    assert_string_equal(seen.file, "(none)");
    assert_string_equal(seen.message, "no store file given");
    /* a handle's later errors go the same way */
    const char *file = path("diag.db");
    stoat_store_close(fill(file, 2, false));
    s = reader(file);
    assert_int_equal(stoat_store_alert_json(s, 99, &(char *){NULL}, NULL), STOAT_ERR_NOTFOUND);
    stoat_store_diag(s, STOAT_ERR_NOTFOUND, see_diag, &seen);
    assert_int_equal(seen.n, 3);
    assert_string_equal(seen.message, "no alert 99");
    assert_string_equal(stoat_store_path(s), file);
    stoat_store_close(s);
}

/* Many first writers of one new file at once (two hunts given the same new
 * --db): each creates or finds the schema, none fails, every alert of
 * each is stored. They start together: each waits on a pipe the parent
 * closes once all are forked. */
#define RACE_WRITERS 16
#define RACE_ALERTS  5
static void test_creation_race(void **state)
{
    (void)state;
    for (int round = 0; round < 3; round++) {
        char name[32];
        snprintf(name, sizeof(name), "race%d.db", round);
        const char *file = path(name);
        int go[2];
        assert_int_equal(pipe(go), 0);
        pid_t pids[RACE_WRITERS];
        for (int i = 0; i < RACE_WRITERS; i++) {
            pids[i] = fork();
            assert_true(pids[i] >= 0);
            if (pids[i] == 0) {
                close(go[1]);
                char c;
                if (read(go[0], &c, 1) != 0)
                    _exit(3);
                struct stoat_store *s = NULL;
                char err[512];
                struct stoat_store_opts o = {.create = true};
                if (open_store(file, &o, &s, err, sizeof(err)) != STOAT_OK) {
                    fprintf(stderr, "writer %d: %s\n", i, err);
                    _exit(1);
                }
                if (stoat_store_run_begin(s, "race", NULL) != STOAT_OK) {
                    fprintf(stderr, "writer %d: %s\n", i, stoat_store_errmsg(s));
                    _exit(1);
                }
                for (unsigned k = 1; k <= RACE_ALERTS; k++) {
                    struct stoat_alert a;
                    struct stoat_field fs[3];
                    struct stoat_process anc[3];
                    char guid[3][32], host[16];
                    snprintf(host, sizeof(host), "w%d", i);
                    make_alert(&a, k, host, fs, anc, guid);
                    if (stoat_store_put_alert(s, &a) != STOAT_OK)
                        _exit(1);
                }
                stoat_err e = stoat_store_run_end(s, NULL);
                if (e != STOAT_OK)
                    fprintf(stderr, "writer %d: %s\n", i, stoat_store_errmsg(s));
                stoat_store_close(s);
                _exit(e == STOAT_OK ? 0 : 1);
            }
        }
        close(go[0]);
        close(go[1]); /* all go */
        int failed = 0;
        for (int i = 0; i < RACE_WRITERS; i++) {
            int st;
            assert_int_equal(waitpid(pids[i], &st, 0), pids[i]);
            failed += !(WIFEXITED(st) && WEXITSTATUS(st) == 0);
        }
        assert_int_equal(failed, 0);
        assert_int_equal(count(file, "SELECT count(*) FROM runs WHERE status = 'done'"), RACE_WRITERS);
        assert_int_equal(count(file, "SELECT count(*) FROM alerts"), RACE_WRITERS * RACE_ALERTS);
        assert_int_equal(count(file, "SELECT count(DISTINCT host_id) FROM alerts"), RACE_WRITERS);
        assert_int_equal(count(file, "PRAGMA user_version"), STOAT_STORE_SCHEMA);
        assert_true(text_is(file, "PRAGMA quick_check", "ok"));
    }
}

/* A writer killed with SIGKILL in the middle of its run: while it lives
 * the run is "running" whoever opens the store (another process, or
 * another handle of this one); once it is gone, the next writer to open the
 * store marks the run "aborted", and the overview says so. */
static void test_stale_run(void **state)
{
    (void)state;
    const char *file = path("stale.db");
    stoat_store_close(fill(file, 3, false)); /* run 1: done */
    int ready[2];
    assert_int_equal(pipe(ready), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        struct stoat_store *s = NULL;
        char err[512];
        struct stoat_store_opts o = {.create = true};
        if (open_store(file, &o, &s, err, sizeof(err)) != STOAT_OK || stoat_store_run_begin(s, "hunt", "killed"))
            _exit(1);
        put_alerts(s, 1, 4);
        if (stoat_store_commit(s) != STOAT_OK || write(ready[1], "r", 1) != 1)
            _exit(1);
        for (;;)
            pause();
    }
    close(ready[1]);
    char c;
    assert_int_equal(read(ready[0], &c, 1), 1);
    close(ready[0]);
    /* alive: another writer's open leaves it running, and so does a
     * second handle of a process with a run of its own */
    struct stoat_store *w = NULL;
    char err[512];
    struct stoat_store_opts o = {.create = true};
    assert_int_equal(open_store(file, &o, &w, err, sizeof(err)), STOAT_OK);
    assert_int_equal(stoat_store_run_begin(w, "hunt", "alive"), STOAT_OK);
    put_alerts(w, 1, 2);
    assert_int_equal(stoat_store_commit(w), STOAT_OK);
    struct stoat_store *w2 = NULL;
    assert_int_equal(open_store(file, &o, &w2, err, sizeof(err)), STOAT_OK);
    stoat_store_close(w2);
    assert_int_equal(count(file, "SELECT count(*) FROM runs WHERE status = 'running'"), 2);
    /* killed */
    assert_int_equal(kill(pid, SIGKILL), 0);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFSIGNALED(st));
    assert_int_equal(count(file, "SELECT count(*) FROM runs WHERE status = 'running'"), 2); /* nobody looked yet */
    assert_int_equal(open_store(file, &o, &w2, err, sizeof(err)), STOAT_OK);
    stoat_store_close(w2);
    assert_true(text_is(file, "SELECT group_concat(args || ' ' || status, ', ') FROM (SELECT * FROM runs ORDER BY id)",
                        "unit done, killed aborted, alive running"));
    assert_int_equal(count(file, "SELECT count(*) FROM alerts"), 3 + 4 + 2); /* what it committed stays */
    struct stoat_store *r = reader(file);
    char *j = NULL;
    size_t n;
    assert_int_equal(stoat_store_overview_json(r, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    assert_non_null(strstr(j, "\"run_states\":{\"running\":1,\"done\":1,\"aborted\":1}"));
    const char *killed = strstr(j, "\"args\":\"killed\"");
    assert_non_null(killed);
    assert_non_null(strstr(killed, "\"status\":"));
    assert_memory_equal(strstr(killed, "\"status\":"), "\"status\":\"aborted\"", 18);
    free(j);
    stoat_store_close(r);
    /* the live one ends as it should */
    assert_int_equal(stoat_store_run_end(w, NULL), STOAT_OK);
    stoat_store_close(w);
    assert_true(
        text_is(file, "SELECT group_concat(status, ',') FROM (SELECT * FROM runs ORDER BY id)", "done,aborted,done"));
}

/* A fleet incident (cross.h): its hosts, account and logons are stored and
 * read back; a single host's incident says nothing of them. */
static void test_fleet_incident(void **state)
{
    (void)state;
    const char *file = path("fleet.db");
    struct stoat_store *s = fill(file, 6, true);
    stoat_store_close(s);
    char err[512];
    struct stoat_store_opts o = {0};
    assert_int_equal(open_store(file, &o, &s, err, sizeof(err)), STOAT_OK);
    assert_int_equal(stoat_store_run_begin(s, "test", "unit"), STOAT_OK);
    put_alerts(s, 1, 4);
    uint64_t ids[] = {1, 2, 3, 4}, a1[] = {1, 2}, a2[] = {3, 4};
    const char *procs[] = {"cmd.exe"};
    struct stoat_incident_host hosts[] = {
        {.host = "ws1", .alert_ids = a1, .nalerts = 2, .processes = procs, .nprocesses = 1},
        {.host = "fs1", .alert_ids = a2, .nalerts = 2}};
    struct stoat_incident_edge edges[] = {{.account = "CORP\\m.keller",
                                           .from = "ws1",
                                           .to = "fs1",
                                           .via = "network logon",
                                           .first_ns = 5,
                                           .last_ns = 6,
                                           .is_new = true}};
    struct stoat_incident inc = {.id = 2,
                                 .host = "ws1",
                                 .title = "fleet: m.keller across 2 hosts",
                                 .score = 90,
                                 .level = STOAT_LEVEL_CRITICAL,
                                 .first_ns = 1,
                                 .last_ns = 9,
                                 .alert_ids = ids,
                                 .nalerts = 4,
                                 .hosts = hosts,
                                 .nhosts = 2,
                                 .account = "CORP\\m.keller",
                                 .edges = edges,
                                 .nedges = 1};
    assert_int_equal(stoat_store_put_incident(s, &inc), STOAT_OK);
    assert_int_equal(stoat_store_run_end(s, NULL), STOAT_OK);
    stoat_store_close(s);
    assert_int_equal(count(file, "SELECT count(*) FROM incidents WHERE hosts IS NULL"), 1);
    s = reader(file);
    char *j = NULL;
    size_t n = 0;
    struct stoat_filter f = {0};
    assert_int_equal(stoat_store_incidents_json(s, &f, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    assert_non_null(strstr(j, "\"hosts\":[\"ws1\",\"fs1\"],\"account\":\"CORP\\\\m.keller\""));
    const char *first = strstr(j, "Credential theft"); /* the single host's: no hosts key */
    assert_non_null(first);
    const char *end = strchr(first, '}');
    assert_null(memmem(first, (size_t)(end - first), "\"hosts\"", 7));
    free(j);
    assert_int_equal(stoat_store_incident_json(s, 2, &j, &n), STOAT_OK);
    assert_true(json_ok(j));
    assert_non_null(strstr(j, "\"edges\":[{\"account\":\"CORP\\\\m.keller\",\"from\":\"ws1\",\"to\":\"fs1\","
                              "\"via\":\"network logon\",\"first\":5,\"last\":6,\"new\":true}]"));
    free(j);
    assert_int_equal(stoat_store_incident_json(s, 1, &j, &n), STOAT_OK);
    assert_null(strstr(j, "\"edges\""));
    free(j);
    stoat_store_close(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_write_and_read),
        cmocka_unit_test(test_fleet_incident),
        cmocka_unit_test(test_filters),
        cmocka_unit_test(test_triage),
        cmocka_unit_test(test_retention),
        cmocka_unit_test(test_retention_during_a_run),
        cmocka_unit_test(test_crash),
        cmocka_unit_test(test_reader_not_blocked),
        cmocka_unit_test(test_busy_wait),
        cmocka_unit_test(test_corrupt),
        cmocka_unit_test(test_sink),
        cmocka_unit_test(test_correlation),
        cmocka_unit_test(test_search),
        cmocka_unit_test(test_packs),
        cmocka_unit_test(test_export),
        cmocka_unit_test(test_open_diagnostic),
        cmocka_unit_test(test_creation_race),
        cmocka_unit_test(test_stale_run),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
