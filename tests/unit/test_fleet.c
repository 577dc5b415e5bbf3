/* Unit tests for the fleet centre's parts that need no server: batch marks
 * in the store (written with the alerts' transaction, seen by a second
 * handle only once committed, kept as intervals, surviving a writer that
 * dies before its commit as nothing), heartbeats and silence in the host
 * table, the fleet page's JSON, and the heartbeat's host read from a
 * stranger's JSON. */
#include "testutil.h"

#include <signal.h>
#include <sqlite3.h>
#include <sys/wait.h>

#include "behaviour/cross.h"
#include "fleet/fleet.h"
#include "stoat/store.h"

static char dir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/stoat-fleet-test-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *db_path(void)
{
    static char p[128];
    snprintf(p, sizeof(p), "%s/fleet.db", dir);
    return p;
}

static struct stoat_rule_meta rule = {
    .id = "11111111-2222-4333-8444-555555555555", .title = "Whoami", .level = STOAT_LEVEL_MEDIUM};

static void put_alert(struct stoat_store *s, uint64_t id, const char *host)
{
    struct stoat_alert a = {.id = id,
                            .rule = &rule,
                            .pos = {.file = "bus:x", .format = "json", .record = id},
                            .timestamp = "2026-11-19T22:31:04Z",
                            .time_ns = 1795127464000000000LL,
                            .host = host};
    assert_int_equal(stoat_store_put_alert(s, &a), STOAT_OK);
}

static int64_t count(const char *sql)
{
    sqlite3 *db;
    sqlite3_open(db_path(), &db);
    sqlite3_stmt *st;
    int64_t n = -1;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK && sqlite3_step(st) == SQLITE_ROW)
        n = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close(db);
    return n;
}

/* The centre's writer: commits only when told. */
static struct stoat_store *open_writer(void)
{
    struct stoat_store_opts o = {.create = true, .batch_alerts = 1u << 30, .batch_ms = 1u << 30};
    struct stoat_store *s = NULL;
    assert_int_equal(stoat_store_open(db_path(), &o, &s), STOAT_OK);
    assert_int_equal(stoat_store_run_begin(s, "fleet", NULL), STOAT_OK);
    return s;
}

static struct stoat_store *open_reader(void)
{
    struct stoat_store_opts o = {.readonly = true};
    struct stoat_store *s = NULL;
    assert_int_equal(stoat_store_open(db_path(), &o, &s), STOAT_OK);
    return s;
}

static void test_marks_commit_with_alerts(void **state)
{
    (void)state;
    struct stoat_store *w = open_writer(), *r = open_reader();
    put_alert(w, 1, "fs01");
    assert_int_equal(stoat_store_put_mark(w, "fs01", "00aa", 1), STOAT_OK);
    put_alert(w, 2, "fs01");
    assert_int_equal(stoat_store_put_mark(w, "fs01", "00aa", 2), STOAT_OK);
    /* queued, not committed: another handle sees neither */
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 1), 0);
    assert_int_equal(stoat_store_commit(w), STOAT_OK);
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 1), 1);
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 2), 1);
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 3), 0);
    assert_int_equal(stoat_store_marked(r, "fs01", "00bb", 1), 0); /* another run */
    assert_int_equal(stoat_store_marked(r, "dc01", "00aa", 1), 0); /* another host */
    assert_int_equal(count("SELECT count(*) FROM alerts"), 2);
    /* consecutive batches make one interval; a gap starts another */
    for (uint64_t q = 3; q <= 50; q++)
        assert_int_equal(stoat_store_put_mark(w, "fs01", "00aa", q), STOAT_OK);
    assert_int_equal(stoat_store_put_mark(w, "fs01", "00aa", 60), STOAT_OK);
    assert_int_equal(stoat_store_commit(w), STOAT_OK);
    assert_int_equal(count("SELECT count(*) FROM fleet_seen"), 2);
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 50), 1);
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 55), 0);
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 60), 1);
    assert_int_equal(stoat_store_marked(NULL, "fs01", "00aa", 1), -1);
    stoat_store_close(r);
    assert_int_equal(stoat_store_run_end(w, NULL), STOAT_OK);
    stoat_store_close(w);
}

/* A centre killed after putting alerts and marks but before its commit
 * leaves neither: the batch comes again and is processed again. */
static void test_marks_die_with_their_alerts(void **state)
{
    (void)state;
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        struct stoat_store *w = open_writer();
        put_alert(w, 1, "fs01");
        stoat_store_put_mark(w, "fs01", "00aa", 1);
        stoat_store_commit(w);
        put_alert(w, 2, "fs01");
        stoat_store_put_mark(w, "fs01", "00aa", 2);
        usleep(200000); /* written by now or not: uncommitted either way */
        kill(getpid(), SIGKILL);
    }
    int st;
    waitpid(pid, &st, 0);
    assert_true(WIFSIGNALED(st));
    struct stoat_store *r = open_reader();
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 1), 1);
    assert_int_equal(stoat_store_marked(r, "fs01", "00aa", 2), 0);
    stoat_store_close(r);
    assert_int_equal(count("SELECT count(*) FROM alerts"), 1);
}

static int64_t silent_seen;
static char silent_host[64];
static void on_silent(void *ctx, const char *host, int64_t last_ns)
{
    (void)ctx;
    snprintf(silent_host, sizeof(silent_host), "%s", host);
    silent_seen = last_ns;
}

static void test_heartbeats_and_silence(void **state)
{
    (void)state;
    struct stoat_store *w = open_writer();
    bool was = true;
    assert_int_equal(stoat_store_put_heartbeat(w, "fs01", 1000, "{\"host\":\"fs01\",\"rule_version\":\"ab12\"}", &was),
                     STOAT_OK);
    assert_false(was);
    assert_int_equal(stoat_store_put_heartbeat(w, "dc01", 5000, "not json", NULL), STOAT_OK);
    /* an older heartbeat delivered late does not move last seen back */
    assert_int_equal(stoat_store_put_heartbeat(w, "fs01", 500, NULL, NULL), STOAT_OK);
    assert_int_equal(count("SELECT last_seen_ns FROM hosts WHERE name = 'fs01'"), 1000);
    /* fs01 silent since before 2000; dc01 not */
    assert_int_equal(stoat_store_flag_silent(w, 2000, on_silent, NULL), STOAT_OK);
    assert_string_equal(silent_host, "fs01");
    assert_int_equal(silent_seen, 1000);
    /* flagged once only */
    silent_host[0] = 0;
    assert_int_equal(stoat_store_flag_silent(w, 2000, on_silent, NULL), STOAT_OK);
    assert_string_equal(silent_host, "");
    char *json = NULL;
    size_t len = 0;
    assert_int_equal(stoat_store_fleet_json(w, &json, &len), STOAT_OK);
    assert_non_null(strstr(json, "\"name\":\"fs01\",\"last_seen_ns\":1000,\"silent\":true"));
    assert_non_null(strstr(json, "\"rule_version\":\"ab12\""));
    assert_non_null(strstr(json, "\"name\":\"dc01\",\"last_seen_ns\":5000,\"silent\":false,\"alerts\":0,"
                                 "\"heartbeat\":null"));
    free(json);
    /* it speaks again: the flag is cleared and the caller told */
    assert_int_equal(stoat_store_put_heartbeat(w, "fs01", 9000, NULL, &was), STOAT_OK);
    assert_true(was);
    assert_int_equal(count("SELECT silent FROM hosts WHERE name = 'fs01'"), 0);
    assert_int_equal(stoat_store_run_end(w, NULL), STOAT_OK);
    stoat_store_close(w);
}

static void test_heartbeat_host(void **state)
{
    (void)state;
    char out[16];
    const char *j = "{\"run\":\"x\",\"host\":\"fs01\",\"n\":1}";
    assert_string_equal(fleet_heartbeat_host(j, strlen(j), out, sizeof(out)), "fs01");
    /* a "host" inside a nested object or a string is not the host */
    j = "{\"extra\":{\"host\":\"evil\"},\"note\":\"\\\"host\\\":\\\"evil\\\"\",\"host\":\"dc01\"}";
    assert_string_equal(fleet_heartbeat_host(j, strlen(j), out, sizeof(out)), "dc01");
    j = "{\"host\":\"a\\u0000b\"}"; /* escapes are refused, not decoded */
    assert_null(fleet_heartbeat_host(j, strlen(j), out, sizeof(out)));
    j = "{\"host\":\"a-name-longer-than-the-buffer\"}";
    assert_null(fleet_heartbeat_host(j, strlen(j), out, sizeof(out)));
    j = "{\"host\":\"unterminated";
    assert_null(fleet_heartbeat_host(j, strlen(j), out, sizeof(out)));
    j = "{\"host\":42}";
    assert_null(fleet_heartbeat_host(j, strlen(j), out, sizeof(out)));
    assert_null(fleet_heartbeat_host("[]", 2, out, sizeof(out)));
    assert_null(fleet_heartbeat_host(NULL, 0, out, sizeof(out)));
    assert_string_equal(fleet_silence_rule(false)->title, "Host stopped reporting");
    assert_int_equal(fleet_silence_rule(false)->level, STOAT_LEVEL_HIGH);
}

/* The cross-host role asks whether a fleet incident is stored already (a
 * takeover reports the chains it replays again): known by its first logon,
 * once committed, and only fleet incidents. */
static void put_incident(struct stoat_store *w, uint64_t id, int64_t first, bool fleet)
{
    struct stoat_incident_edge edges[2] = {{.account = "CORP\\anna.sato",
                                            .from = "ws20.corp",
                                            .to = "FS05.corp",
                                            .via = "network logon",
                                            .first_ns = first,
                                            .last_ns = first},
                                           {.account = "CORP\\anna.sato",
                                            .from = "fs05.corp",
                                            .to = "dc07.corp",
                                            .via = "network logon",
                                            .first_ns = first + 60,
                                            .last_ns = first + 60}};
    struct stoat_incident_host hosts[3] = {{.host = "ws20.corp"}, {.host = "fs05.corp"}, {.host = "dc07.corp"}};
    struct stoat_incident inc = {.id = id,
                                 .host = "ws20.corp",
                                 .title = "fleet: anna.sato across 3 hosts",
                                 .score = 90,
                                 .level = STOAT_LEVEL_CRITICAL,
                                 .first_ns = first,
                                 .last_ns = first + 60};
    if (fleet) {
        inc.hosts = hosts;
        inc.nhosts = 3;
        inc.account = "CORP\\anna.sato";
        inc.edges = edges;
        inc.nedges = 2;
    }
    assert_int_equal(stoat_store_put_incident(w, &inc), STOAT_OK);
}

static void test_fleet_incident_known(void **state)
{
    (void)state;
    struct stoat_store *w = open_writer(), *r = open_reader();
    const int64_t t = 1795127464000000000LL;
    put_incident(w, 1, t, true);
    put_incident(w, 2, t + 5, false); /* a host's own incident: never a fleet one */
    assert_int_equal(stoat_store_fleet_incident_known(r, t, "ws20.corp", "fs05.corp"), 0); /* not committed */
    assert_int_equal(stoat_store_commit(w), STOAT_OK);
    assert_int_equal(stoat_store_fleet_incident_known(r, t, "ws20.corp", "fs05.corp"), 1);
    assert_int_equal(stoat_store_fleet_incident_known(r, t, "WS20.corp", "fs05.CORP"), 1); /* names as spelled */
    assert_int_equal(stoat_store_fleet_incident_known(r, t + 1, "ws20.corp", "fs05.corp"), 0);
    assert_int_equal(stoat_store_fleet_incident_known(r, t, "ws21.corp", "fs05.corp"), 0);
    assert_int_equal(stoat_store_fleet_incident_known(r, t, "ws20.corp", "dc07.corp"), 0);
    /* the second edge is not the chain's start */
    assert_int_equal(stoat_store_fleet_incident_known(r, t + 60, "fs05.corp", "dc07.corp"), 0);
    assert_int_equal(stoat_store_fleet_incident_known(r, t + 5, "ws20.corp", "fs05.corp"), 0);
    assert_int_equal(stoat_store_fleet_incident_known(NULL, t, "ws20.corp", "fs05.corp"), -1);
    assert_int_equal(stoat_store_fleet_incident_known(r, t, NULL, "fs05.corp"), -1);
    stoat_store_close(r);
    assert_int_equal(stoat_store_run_end(w, NULL), STOAT_OK);
    stoat_store_close(w);
}

/* One batch's facts over the message cap (matches for the correlations
 * spanning hosts can be many) go out as several messages cut at whole
 * lines, each under the cap, the later ids ending ":<part>"; the same facts
 * sealed again (the batch reprocessed after a worker died) are cut the same
 * way under the same ids, so the stream's duplicate window drops them. */
static void seal_matches(struct fleet_facts *f, int n)
{
    char value[900], host[32];
    memset(value, 'x', sizeof(value) - 1);
    value[sizeof(value) - 1] = 0;
    for (int i = 0; i < n; i++) {
        snprintf(host, sizeof(host), "srv%03d", i % 300);
        struct cross_fact fact = {.kind = CROSS_FACT_MATCH,
                                  .match = {.host = host,
                                            .rule_id = "5e0f3c1a-1111-4c4c-9d9d-000000000001",
                                            .time_ns = (int64_t)i * 1000000000,
                                            .summary = "a failed logon",
                                            .nfields = 1,
                                            .names = {"CommandLine"},
                                            .values = {value + (i % 700)}}};
        fleet_facts_add(f, &fact);
    }
    fleet_facts_seal(f, "srv001", "run7", 42, true);
}

static void test_facts_split(void **state)
{
    (void)state;
    struct fleet_facts *a = fleet_facts_create(NULL, "w1"), *b = fleet_facts_create(NULL, "w2");
    seal_matches(a, 3000);
    seal_matches(b, 3000);
    size_t n = fleet_facts_sealed(a, SIZE_MAX, NULL, NULL, NULL, NULL);
    assert_true(n >= 3);
    assert_int_equal(fleet_facts_sealed(b, SIZE_MAX, NULL, NULL, NULL, NULL), n);
    unsigned total = 0;
    for (size_t i = 0; i < n; i++) {
        const char *id, *p, *id2, *p2;
        size_t len, len2;
        unsigned count, count2;
        fleet_facts_sealed(a, i, &id, &p, &len, &count);
        fleet_facts_sealed(b, i, &id2, &p2, &len2, &count2);
        char want[64];
        snprintf(want, sizeof(want), i ? "fact:srv001:run7:42:%zu" : "fact:srv001:run7:42", i + 1);
        assert_string_equal(id, want);
        assert_string_equal(id2, want); /* stable across a reprocessing */
        assert_true(len2 == len && count2 == count && memcmp(p, p2, len) == 0);
        assert_true(len > 0 && len <= 512 * 1024);   /* under the cap, well under the server's 1 MiB */
        assert_int_equal(p[len - 1], '\n');          /* whole lines */
        assert_true(i == n - 1 || len > 400 * 1024); /* filled before cutting */
        size_t lines = 0;
        for (size_t k = 0; k < len; k++)
            lines += p[k] == '\n';
        assert_int_equal(lines, count);
        total += count;
    }
    assert_int_equal(total, 3000); /* nothing lost or doubled at the cuts */
    fleet_facts_destroy(a);
    fleet_facts_destroy(b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_marks_commit_with_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_marks_die_with_their_alerts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_heartbeats_and_silence, setup, teardown),
        cmocka_unit_test(test_heartbeat_host),
        cmocka_unit_test_setup_teardown(test_fleet_incident_known, setup, teardown),
        cmocka_unit_test(test_facts_split),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
