/* Unit tests for the correlation engine (src/behaviour/correlate.h, the
 * corr_*.c files).
 *
 * Rules are loaded with the real loader, as the hunt loads them, so names,
 * aliases, generate and references to correlations resolve exactly as in a
 * hunt; events are built by hand, as the writer would hand them over, so each
 * test states precisely the times and fields that must (or must not) make a
 * correlation fire. Every example of the v2.1 specification is here, each
 * with near misses: just outside the timespan, in the wrong order, in
 * another group; then late events, closing windows, the memory caps and
 * correlations of correlations. test_correlate_random.c checks random
 * streams against a reference.
 */
#include "corr_testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviour/correlate.h"
#include "rules/ruleset.h"

/* ---------------------------------------------- the specification's examples */

static const char *spec_login_yaml = "title: Correlation - Multiple Failed Logins Followed by Successful Login\n"
                                     "id: b180ead8-d58f-40b2-ae54-c8940995b9b6\n"
                                     "status: experimental\n"
                                     "correlation:\n"
                                     "    type: temporal_ordered\n"
                                     "    rules:\n"
                                     "        - multiple_failed_login\n"
                                     "        - successful_login\n"
                                     "    group-by:\n"
                                     "        - User\n"
                                     "    timespan: 10m\n"
                                     "%s"
                                     "level: high\n"
                                     "---\n"
                                     "title: Multiple failed logons\n"
                                     "id: a8418a5a-5fc4-46b5-b23b-6c73beb19d41\n"
                                     "name: multiple_failed_login\n"
                                     "correlation:\n"
                                     "    type: event_count\n"
                                     "    rules:\n"
                                     "        - failed_login\n"
                                     "    group-by:\n"
                                     "        - User\n"
                                     "    timespan: 10m\n"
                                     "    condition:\n"
                                     "        gte: 10\n"
                                     "%s"
                                     "---\n"
                                     "title: Single failed login\n"
                                     "id: 53ba33fd-3a50-4468-a5ef-c583635cfa92\n"
                                     "name: failed_login\n"
                                     "logsource:\n"
                                     "    product: windows\n"
                                     "    service: security\n"
                                     "detection:\n"
                                     "    selection:\n"
                                     "        EventID:\n"
                                     "            - 529\n"
                                     "            - 4625\n"
                                     "    condition: selection\n"
                                     "---\n"
                                     "title: Successful login\n"
                                     "id: 4d0a2c83-c62c-4ed4-b475-c7e23a9269b8\n"
                                     "name: successful_login\n"
                                     "logsource:\n"
                                     "    product: windows\n"
                                     "    service: security\n"
                                     "detection:\n"
                                     "    selection:\n"
                                     "        EventID:\n"
                                     "            - 528\n"
                                     "            - 4624\n"
                                     "    condition: selection\n";

#define OUTER "Correlation - Multiple Failed Logins Followed by Successful Login"
#define INNER "Multiple failed logons"

static void spec_login(struct env *v, bool generate)
{
    char yaml[4096];
    const char *gen = generate ? "    generate: true\n" : "";
    snprintf(yaml, sizeof(yaml), spec_login_yaml, gen, gen);
    env_open(v, yaml, NULL);
}

/* n failed logons of user u, one a second from t */
static void failures(struct env *v, const char *u, int64_t t, int n)
{
    for (int i = 0; i < n; i++)
        feed(v, "failed_login", t + (int64_t)i * 1000000000, "User", u, "EventID", "4625");
}

static void test_spec_failed_then_success(void **state)
{
    (void)state;
    struct env v;
    spec_login(&v, false);
    /* the base rules feed the correlation only */
    assert_true(v.rs->rules[rule(&v, "failed_login")].correlation_only);
    assert_true(v.rs->rules[rule(&v, "successful_login")].correlation_only);
    assert_true(corr_reads(v.e, rule(&v, "failed_login")));
    assert_true(corr_reads(v.e, rule(&v, "successful_login")));

    /* alice: ten failures in ten seconds, success five minutes later: fires */
    failures(&v, "alice", MIN(0), 10);
    assert_int_equal(v.n, 0); /* the inner correlation is not reported by itself */
    feed(&v, "successful_login", MIN(5), "User", "alice", "EventID", "4624");
    assert_int_equal(v.n, 1);
    assert_string_equal(v.f[0].title, OUTER);
    assert_int_equal(v.f[0].ngroup, 1);
    assert_string_equal(v.f[0].names[0], "User");
    assert_string_equal(v.f[0].vals[0], "alice");
    assert_true(v.f[0].value == 2);
    assert_true(v.f[0].first == SEC(9)); /* the inner firing: the tenth failure */
    assert_true(v.f[0].last == MIN(5));

    /* bob: nine failures only */
    failures(&v, "bob", MIN(20), 9);
    feed(&v, "successful_login", MIN(21), "User", "bob", "EventID", "4624");
    /* carol: success first, then the failures (wrong order) */
    feed(&v, "successful_login", MIN(30), "User", "carol", "EventID", "4624");
    failures(&v, "carol", MIN(30) + 1000000, 10);
    /* dave: the success comes 10 min 1 s after the tenth failure */
    failures(&v, "dave", MIN(40), 10);
    feed(&v, "successful_login", SEC(40 * 60 + 9 + 601), "User", "dave", "EventID", "4624");
    /* erin: exactly 10 min after: inside the (closed) window */
    failures(&v, "erin", MIN(60), 10);
    feed(&v, "successful_login", SEC(60 * 60 + 9 + 600), "User", "erin", "EventID", "4624");
    assert_int_equal(v.n, 2);
    assert_string_equal(v.f[1].vals[0], "erin");
    advance(&v, INT64_MAX);
    assert_int_equal(v.n, 2);
    struct corr_stats s = stats(&v);
    assert_int_equal(s.fired, 2 + 4); /* inner firings count too: alice, carol, dave, erin */
    assert_int_equal(s.groups, 0);
    env_close(&v);
}

static void test_spec_generate_true(void **state)
{
    (void)state;
    struct env v;
    spec_login(&v, true);
    assert_false(v.rs->rules[rule(&v, "failed_login")].correlation_only);
    assert_false(v.rs->rules[rule(&v, "successful_login")].correlation_only);
    failures(&v, "alice", MIN(0), 12);
    assert_int_equal(v.n, 1); /* generate: the inner correlation is reported too, once */
    assert_string_equal(v.f[0].title, INNER);
    assert_true(v.f[0].value == 10);
    feed(&v, "successful_login", MIN(1), "User", "alice", "EventID", "4624");
    assert_int_equal(v.n, 2);
    assert_string_equal(v.f[1].title, OUTER);
    env_close(&v);
}

static const char *brute_yaml = "title: Many failed logins\n"
                                "id: 0e95725d-7320-415d-80f7-004da920fc11\n"
                                "correlation:\n"
                                "    type: event_count\n"
                                "    rules:\n"
                                "        - 5638f7c0-ac70-491d-8465-2a65075e0d86\n"
                                "    group-by:\n"
                                "        - ComputerName\n"
                                "    timespan: 1h\n"
                                "    condition:\n"
                                "        gte: 100\n"
                                "---\n"
                                "title: Failed logon\n"
                                "id: 5638f7c0-ac70-491d-8465-2a65075e0d86\n"
                                "logsource: {product: windows, service: security}\n"
                                "detection:\n"
                                "    selection: {EventID: 4625}\n"
                                "    condition: selection\n";

#define FAILED "5638f7c0-ac70-491d-8465-2a65075e0d86"

static void test_spec_event_count(void **state)
{
    (void)state;
    struct env v;
    env_open(&v, brute_yaml, NULL);
    /* ws1: 99 in an hour do not fire, the 100th does, 150 more do not again */
    for (int i = 0; i < 99; i++)
        feed(&v, FAILED, SEC(i * 10), "ComputerName", "ws1");
    assert_int_equal(v.n, 0);
    feed(&v, FAILED, SEC(990), "ComputerName", "ws1");
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].value == 100);
    assert_string_equal(v.f[0].vals[0], "ws1");
    assert_true(v.f[0].first == SEC(0));
    assert_true(v.f[0].last == SEC(990));
    for (int i = 0; i < 150; i++)
        feed(&v, FAILED, SEC(1000 + i), "ComputerName", "ws1");
    assert_int_equal(v.n, 1);
    /* ws2: 100 spread over an hour and 3 s (one every 37 s): never 100 in an hour */
    for (int i = 0; i < 100; i++)
        feed(&v, FAILED, SEC(2000 + i * 37), "ComputerName", "ws2");
    assert_int_equal(v.n, 1);
    /* ws3: the 100th exactly an hour after the first: the window is closed */
    for (int i = 0; i < 100; i++)
        feed(&v, FAILED, SEC(6000) + (int64_t)i * 3600000000000 / 99, "ComputerName", "ws3");
    assert_int_equal(v.n, 2);
    assert_string_equal(v.f[1].vals[0], "ws3");
    assert_true(v.f[1].first == SEC(6000));
    assert_true(v.f[1].last == SEC(9600));
    /* ws4: events of other computers do not count for it */
    for (int i = 0; i < 198; i++)
        feed(&v, FAILED, SEC(10000 + i), "ComputerName", i % 2 ? "ws4" : "ws5");
    assert_int_equal(v.n, 2);
    env_close(&v);
}

static void test_sliding_not_buckets(void **state)
{
    (void)state;
    struct env v;
    const char *yaml = "title: Three in an hour\n"
                       "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 1h,\n"
                       "              condition: {gte: 3}}\n"
                       "---\n"
                       "title: Failed logon\nname: fail\n"
                       "logsource: {product: windows, service: security}\n"
                       "detection: {selection: {EventID: 4625}, condition: selection}\n";
    env_open(&v, yaml, NULL);
    /* 00:50, 01:05, 01:10: two clock hours, one sliding hour */
    feed(&v, "fail", MIN(50), "User", "u");
    feed(&v, "fail", MIN(65), "User", "u");
    assert_int_equal(v.n, 0);
    feed(&v, "fail", MIN(70), "User", "u");
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].first == MIN(50));
    env_close(&v);
}

static void test_rearm(void **state)
{
    (void)state;
    struct env v;
    const char *yaml = "title: Burst\n"
                       "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 10m,\n"
                       "              condition: {gte: 3}}\n"
                       "---\n"
                       "title: Failed logon\nname: fail\n"
                       "logsource: {product: windows, service: security}\n"
                       "detection: {selection: {EventID: 4625}, condition: selection}\n";
    env_open(&v, yaml, NULL);
    /* a steady stream, one a minute for an hour: it holds all along, fires once */
    for (int i = 0; i <= 60; i++)
        feed(&v, "fail", MIN(i), "User", "steady");
    assert_int_equal(v.n, 1);
    /* a burst, a quiet half hour, a burst: twice */
    for (int i = 0; i < 5; i++)
        feed(&v, "fail", MIN(100) + i, "User", "bursty");
    for (int i = 0; i < 5; i++)
        feed(&v, "fail", MIN(130) + i, "User", "bursty");
    assert_int_equal(v.n, 3);
    /* falling back between two events re-arms: 0, 1, 2 fire; at 10:30 the
     * window [0:30, 10:30] held only 1 and 2 before the new event */
    feed(&v, "fail", MIN(200), "User", "edge");
    feed(&v, "fail", MIN(201), "User", "edge");
    feed(&v, "fail", MIN(202), "User", "edge");
    assert_int_equal(v.n, 4);
    feed(&v, "fail", MIN(210.5), "User", "edge");
    assert_int_equal(v.n, 5);
    env_close(&v);
}

static const char *value_count_yaml = "title: Failed login\n"
                                      "id: 0e95725d-7320-415d-80f7-004da920fc12\n"
                                      "correlation:\n"
                                      "    type: value_count\n"
                                      "    rules:\n"
                                      "        - 5638f7c0-ac70-491d-8465-2a65075e0d86\n"
                                      "    group-by:\n"
                                      "        - ComputerName\n"
                                      "        - WorkstationName\n"
                                      "    timespan: 1d\n"
                                      "    condition:\n"
                                      "        field: User\n"
                                      "        gte: 100\n"
                                      "---\n"
                                      "title: Failed logon\n"
                                      "id: 5638f7c0-ac70-491d-8465-2a65075e0d86\n"
                                      "logsource: {product: windows, service: security}\n"
                                      "detection:\n"
                                      "    selection: {EventID: 4625}\n"
                                      "    condition: selection\n";

static void test_spec_value_count(void **state)
{
    (void)state;
    struct env v;
    env_open(&v, value_count_yaml, NULL);
    char user[32];
    /* 99 distinct users, each many times: no */
    for (int i = 0; i < 99 * 3; i++) {
        snprintf(user, sizeof(user), "user%d", i % 99);
        feed(&v, FAILED, SEC(i), "ComputerName", "dc1", "WorkstationName", "ws1", "User", user);
    }
    assert_int_equal(v.n, 0);
    /* the same 100th user from another workstation: another group */
    feed(&v, FAILED, SEC(400), "ComputerName", "dc1", "WorkstationName", "ws2", "User", "user99");
    /* without a workstation: does not count */
    feed(&v, FAILED, SEC(401), "ComputerName", "dc1", "User", "user99");
    assert_int_equal(v.n, 0);
    assert_int_equal(stats(&v).unusable, 1);
    feed(&v, FAILED, SEC(402), "ComputerName", "dc1", "WorkstationName", "ws1", "User", "user99");
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].value == 100);
    assert_int_equal(v.f[0].ngroup, 2);
    assert_string_equal(v.f[0].vals[0], "dc1");
    assert_string_equal(v.f[0].vals[1], "ws1");
    /* 1000 more distinct users: still the one firing, and the state stays small */
    for (int i = 0; i < 1000; i++) {
        snprintf(user, sizeof(user), "other%d", i);
        feed(&v, FAILED, SEC(500 + i), "ComputerName", "dc1", "WorkstationName", "ws1", "User", user);
    }
    assert_int_equal(v.n, 1);
    assert_true(stats(&v).bytes < 64 * 1024);
    /* a day and a second after the first 99 users: they have left the window */
    for (int i = 0; i < 99; i++) {
        snprintf(user, sizeof(user), "user%d", i);
        feed(&v, FAILED, SEC(86400 + 2000 + i), "ComputerName", "dc9", "WorkstationName", "ws1", "User", user);
    }
    feed(&v, FAILED, SEC(2 * 86400 + 2000 + 100), "ComputerName", "dc9", "WorkstationName", "ws1", "User", "late");
    assert_int_equal(v.n, 1);
    env_close(&v);
}

static const char *recon_rules = "---\n"
                                 "title: Recon A\nname: recon_cmd_a\n"
                                 "logsource: {product: windows, service: security}\n"
                                 "detection: {selection: {EventID: 1}, condition: selection}\n"
                                 "---\n"
                                 "title: Recon B\nname: recon_cmd_b\n"
                                 "logsource: {product: windows, service: security}\n"
                                 "detection: {selection: {EventID: 2}, condition: selection}\n"
                                 "---\n"
                                 "title: Recon C\nname: recon_cmd_c\n"
                                 "logsource: {product: windows, service: security}\n"
                                 "detection: {selection: {EventID: 3}, condition: selection}\n";

static void recon_env(struct env *v, const char *type)
{
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "title: Recon\n"
             "correlation:\n"
             "    type: %s\n"
             "    rules:\n"
             "        - recon_cmd_a\n"
             "        - recon_cmd_b\n"
             "        - recon_cmd_c\n"
             "    group-by:\n"
             "        - ComputerName\n"
             "        - User\n"
             "    timespan: 5m\n%s",
             type, recon_rules);
    env_open(v, yaml, NULL);
}

#define RECON(v, r, t, host, user) feed(v, "recon_cmd_" r, t, "ComputerName", host, "User", user)

static void test_spec_temporal(void **state)
{
    (void)state;
    struct env v;
    recon_env(&v, "temporal");
    /* any order within 5 min */
    RECON(&v, "c", MIN(0), "h1", "u1");
    RECON(&v, "a", MIN(2), "h1", "u1");
    RECON(&v, "a", MIN(3), "h1", "u1");
    assert_int_equal(v.n, 0);
    RECON(&v, "b", MIN(5), "h1", "u1");
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].value == 3);
    assert_true(v.f[0].first == MIN(0));
    assert_string_equal(v.f[0].vals[0], "h1");
    assert_string_equal(v.f[0].vals[1], "u1");
    /* one second too long */
    RECON(&v, "a", MIN(10), "h2", "u1");
    RECON(&v, "b", MIN(11), "h2", "u1");
    RECON(&v, "c", SEC(15 * 60 + 1), "h2", "u1");
    assert_int_equal(v.n, 1);
    /* then b at 11, c at 15:01 and a new a at 15:30 are within 5 min */
    RECON(&v, "a", SEC(15 * 60 + 30), "h2", "u1");
    assert_int_equal(v.n, 2);
    assert_true(v.f[1].first == MIN(11));
    /* another user on the same host */
    RECON(&v, "a", MIN(20), "h3", "u1");
    RECON(&v, "b", MIN(20), "h3", "u1");
    RECON(&v, "c", MIN(21), "h3", "u2");
    assert_int_equal(v.n, 2);
    env_close(&v);
}

static void test_spec_temporal_ordered(void **state)
{
    (void)state;
    struct env v;
    recon_env(&v, "temporal_ordered");
    RECON(&v, "a", MIN(0), "h1", "u1");
    RECON(&v, "b", MIN(1), "h1", "u1");
    RECON(&v, "c", MIN(2), "h1", "u1");
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].value == 3);
    assert_true(v.f[0].first == MIN(0));
    /* the wrong order */
    RECON(&v, "c", MIN(10), "h2", "u1");
    RECON(&v, "b", MIN(11), "h2", "u1");
    RECON(&v, "a", MIN(12), "h2", "u1");
    assert_int_equal(v.n, 1);
    /* a, c, b: not yet; another c completes a < b < c */
    RECON(&v, "a", MIN(20), "h3", "u1");
    RECON(&v, "c", MIN(21), "h3", "u1");
    RECON(&v, "b", MIN(22), "h3", "u1");
    assert_int_equal(v.n, 1);
    RECON(&v, "c", MIN(23), "h3", "u1");
    assert_int_equal(v.n, 2);
    /* in order but over 5 min: the chain must start within the window */
    RECON(&v, "a", MIN(30), "h4", "u1");
    RECON(&v, "b", MIN(33), "h4", "u1");
    RECON(&v, "c", SEC(35 * 60 + 1), "h4", "u1");
    assert_int_equal(v.n, 2);
    /* a later a does not help a chain that needs an earlier one ... */
    RECON(&v, "a", MIN(36), "h4", "u1");
    RECON(&v, "c", MIN(37), "h4", "u1");
    assert_int_equal(v.n, 2);
    /* ... but a b then c after it does */
    RECON(&v, "b", MIN(38), "h4", "u1");
    RECON(&v, "c", MIN(39), "h4", "u1");
    assert_int_equal(v.n, 3);
    assert_true(v.f[2].first == MIN(36));
    env_close(&v);
}

static const char *exfil_yaml = "title: Possible Exfiltration to Website\n"
                                "correlation:\n"
                                "    type: value_sum\n"
                                "    rules:\n"
                                "        - website_access\n"
                                "    group-by:\n"
                                "        - SourceIP\n"
                                "        - User\n"
                                "    timespan: 1h\n"
                                "    condition:\n"
                                "        field: bytes_sent\n"
                                "        gt: 1000000\n"
                                "---\n"
                                "title: Web access\nname: website_access\n"
                                "logsource: {product: windows, service: security}\n"
                                "detection: {selection: {EventID: 5156}, condition: selection}\n";

#define WEB(v, t, ip, user, bytes) feed(v, "website_access", t, "SourceIP", ip, "User", user, "bytes_sent", bytes)

static void test_spec_value_sum(void **state)
{
    (void)state;
    struct env v;
    env_open(&v, exfil_yaml, NULL);
    WEB(&v, MIN(0), "10.0.0.1", "u", "400000");
    WEB(&v, MIN(10), "10.0.0.1", "u", "400000");
    assert_int_equal(v.n, 0);
    WEB(&v, MIN(20), "10.0.0.1", "u", "400000");
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].value == 1200000);
    /* exactly 1000000 is not more; one byte more is */
    WEB(&v, MIN(100), "10.0.0.2", "u", "500000");
    WEB(&v, MIN(101), "10.0.0.2", "u", "500000");
    assert_int_equal(v.n, 1);
    WEB(&v, MIN(102), "10.0.0.2", "u", "1");
    assert_int_equal(v.n, 2);
    assert_true(v.f[1].value == 1000001);
    /* an hour and a second apart */
    WEB(&v, MIN(200), "10.0.0.3", "u", "600000");
    WEB(&v, SEC(260 * 60 + 1), "10.0.0.3", "u", "600000");
    /* another user, same address */
    WEB(&v, MIN(300), "10.0.0.4", "a", "600000");
    WEB(&v, MIN(301), "10.0.0.4", "b", "600000");
    /* not a number: does not count */
    WEB(&v, MIN(302), "10.0.0.4", "a", "lots");
    assert_int_equal(v.n, 2);
    assert_int_equal(stats(&v).unusable, 1);
    env_close(&v);
}

static void test_spec_value_avg(void **state)
{
    (void)state;
    struct env v;
    const char *yaml = "title: Suspicious average network traffic\n"
                       "correlation:\n"
                       "    type: value_avg\n"
                       "    rules: \n"
                       "        - rule_a_id\n"
                       "    group-by:\n"
                       "        - SourceIP\n"
                       "        - User\n"
                       "    timespan: 24h\n"
                       "    condition:\n"
                       "        field: BytesOut\n"
                       "        gt: 500\n"
                       "---\n"
                       "title: Traffic\nid: rule_a_id\n"
                       "logsource: {product: windows, service: security}\n"
                       "detection: {selection: {EventID: 5156}, condition: selection}\n";
    env_open(&v, yaml, NULL);
    feed(&v, "rule_a_id", MIN(0), "SourceIP", "a", "User", "u", "BytesOut", "400");
    assert_int_equal(v.n, 0);
    feed(&v, "rule_a_id", MIN(1), "SourceIP", "a", "User", "u", "BytesOut", "700");
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].value == 550);
    /* a mean of exactly 500 */
    feed(&v, "rule_a_id", MIN(1), "SourceIP", "b", "User", "u", "BytesOut", "400");
    feed(&v, "rule_a_id", MIN(2), "SourceIP", "b", "User", "u", "BytesOut", "500");
    feed(&v, "rule_a_id", MIN(3), "SourceIP", "b", "User", "u", "BytesOut", "600");
    assert_int_equal(v.n, 1);
    /* 600 a day and a minute after 400: alone in its window */
    feed(&v, "rule_a_id", MIN(3), "SourceIP", "c", "User", "u", "BytesOut", "400");
    feed(&v, "rule_a_id", MIN(3 + 24 * 60 + 1), "SourceIP", "c", "User", "u", "BytesOut", "700");
    assert_int_equal(v.n, 2);
    assert_true(v.f[1].value == 700);
    env_close(&v);
}

static void test_spec_value_percentile(void **state)
{
    (void)state;
    struct env v;
    const char *yaml = "title: A computer spawned a processes name in the last 24h than 1% of all the processes.\n"
                       "correlation:\n"
                       "    type: value_percentile\n"
                       "    rules: \n"
                       "        - process_creation\n"
                       "    group-by:\n"
                       "        - ComputerName\n"
                       "    timespan: 24h\n"
                       "    condition:\n"
                       "        field: Image\n"
                       "        lte: 1\n"
                       "---\n"
                       "title: Process\nname: process_creation\n"
                       "logsource: {product: windows, category: process_creation}\n"
                       "detection: {selection: {Image|endswith: '.exe'}, condition: selection}\n";
    env_open(&v, yaml, NULL);
    /* ws1: 150 explorer, 48 svchost, 2 certutil: certutil is 1% */
    for (int i = 0; i < 200; i++) {
        const char *img = i < 150 ? "explorer.exe" : i < 198 ? "svchost.exe" : "certutil.exe";
        feed(&v, "process_creation", SEC(i * 60), "ComputerName", "ws1", "Image", img);
    }
    /* ws2: 49 and 1: 2% */
    for (int i = 0; i < 50; i++)
        feed(&v, "process_creation", SEC(12000 + i * 60), "ComputerName", "ws2", "Image", i ? "a.exe" : "b.exe");
    assert_int_equal(v.n, 0);         /* a share is judged on the complete window */
    advance(&v, SEC(24 * 3600 + 30)); /* not past the lateness after the window yet */
    assert_int_equal(v.n, 0);
    advance(&v, SEC(24 * 3600 + 61));
    assert_int_equal(v.n, 1);
    assert_int_equal(v.f[0].ngroup, 2);
    assert_string_equal(v.f[0].vals[0], "ws1");
    assert_string_equal(v.f[0].names[1], "Image");
    assert_string_equal(v.f[0].vals[1], "certutil.exe");
    assert_true(v.f[0].value == 1);
    assert_true(v.f[0].first == SEC(0));
    assert_true(v.f[0].last == SEC(199 * 60));
    advance(&v, INT64_MAX);
    assert_int_equal(v.n, 1);
    assert_int_equal(stats(&v).groups, 0);
    env_close(&v);
}

static const struct fired *find(const struct env *v, const char *title, const char *val0)
{
    for (size_t i = 0; i < v->n; i++)
        if (strcmp(v->f[i].title, title) == 0 && (!val0 || strcmp(v->f[i].vals[0], val0) == 0))
            return &v->f[i];
    return NULL;
}

static void test_value_percentile_numeric(void **state)
{
    (void)state;
    struct env v;
    const char *yaml = "title: Slow p95\n"
                       "correlation:\n"
                       "    type: value_percentile\n"
                       "    rules: [req]\n"
                       "    group-by: [Host]\n"
                       "    timespan: 1h\n"
                       "    condition: {field: Duration, percentile: 95, gte: 1900}\n"
                       "---\n"
                       "title: p95 is 1900\n"
                       "correlation:\n"
                       "    type: value_percentile\n"
                       "    rules: [req]\n"
                       "    group-by: [Host]\n"
                       "    timespan: 1h\n"
                       "    condition: {field: Duration, percentile: 95, eq: 1900}\n"
                       "---\n"
                       "title: Median at most 10\n"
                       "correlation:\n"
                       "    type: value_percentile\n"
                       "    rules: [req]\n"
                       "    group-by: [Host]\n"
                       "    timespan: 1h\n"
                       "    condition: {field: Duration, percentile: 50, lte: 10}\n"
                       "---\n"
                       "title: Request\nname: req\n"
                       "logsource: {product: windows, service: security}\n"
                       "detection: {selection: {EventID: 1}, condition: selection}\n";
    env_open(&v, yaml, NULL);
    char d[16];
    /* 100, 200, ..., 2000 shuffled */
    static const int order[20] = {7, 3, 19, 0, 12, 5, 16, 9, 1, 14, 18, 2, 11, 6, 17, 4, 13, 8, 15, 10};
    for (int i = 0; i < 20; i++) {
        snprintf(d, sizeof(d), "%d", (order[i] + 1) * 100);
        feed(&v, "req", SEC(i), "Host", "h1", "Duration", d);
        if (i == 1) /* 800, 400: the 95th percentile of two is the larger */
            assert_int_equal(v.n, 0);
    }
    /* rising: fires at the third (800, 400, 2000: ceil(2.85) = 3rd smallest is 2000), and
     * stays up (for n <= 19 the rank is n: the largest; for 20 it is the 19th: 1900) */
    assert_int_equal(count_title(&v, "Slow p95"), 1);
    assert_true(find(&v, "Slow p95", "h1")->value == 2000);
    /* h2: durations 5, 50, 5, 5 */
    feed(&v, "req", SEC(20), "Host", "h2", "Duration", "5");
    feed(&v, "req", SEC(21), "Host", "h2", "Duration", "50");
    feed(&v, "req", SEC(22), "Host", "h2", "Duration", "5");
    feed(&v, "req", SEC(23), "Host", "h2", "Duration", "5");
    feed(&v, "req", SEC(24), "Host", "h2", "Duration", "soon"); /* not a number: does not count */
    assert_int_equal(count_title(&v, "Median at most 10"), 0);
    assert_int_equal(count_title(&v, "p95 is 1900"), 0);
    advance(&v, INT64_MAX);
    /* when the window closes: h1's 20 values, rank ceil(19) = 19th smallest */
    assert_int_equal(count_title(&v, "p95 is 1900"), 1);
    assert_non_null(find(&v, "p95 is 1900", "h1"));
    /* h1's median (10th smallest) is 1000; h2's (of 5, 5, 5, 50: the 2nd) is 5 */
    assert_int_equal(count_title(&v, "Median at most 10"), 1);
    assert_true(find(&v, "Median at most 10", "h2")->value == 5);
    assert_int_equal(stats(&v).unusable, 3);
    env_close(&v);
}

static void test_spec_aliases(void **state)
{
    (void)state;
    struct env v;
    const char *yaml = "title: Internal error after a connection\n"
                       "correlation:\n"
                       "    type: temporal\n"
                       "    rules:\n"
                       "        - internal_error\n"
                       "        - new_network_connection\n"
                       "    group-by:\n"
                       "        - internal_ip\n"
                       "        - remote_ip\n"
                       "    timespan: 10s\n"
                       "    aliases:\n"
                       "        internal_ip:\n"
                       "            internal_error: destination.ip\n"
                       "            new_network_connection: source.ip\n"
                       "        remote_ip:\n"
                       "            internal_error: source.ip\n"
                       "            new_network_connection: destination.ip\n"
                       "---\n"
                       "title: Internal error\nname: internal_error\n"
                       "logsource: {product: windows, service: security}\n"
                       "detection:\n"
                       "    selection:\n"
                       "        http.response.status_code: 500\n"
                       "    condition: selection\n"
                       "---\n"
                       "title: New connection\nname: new_network_connection\n"
                       "logsource: {product: windows, service: security}\n"
                       "detection:\n"
                       "    selection:\n"
                       "        event.category: network\n"
                       "        event.type: connection\n"
                       "        event.outcome: success\n"
                       "    condition: selection\n";
    env_open(&v, yaml, NULL);
#define CONN(t, src, dst) feed(&v, "new_network_connection", t, "source.ip", src, "destination.ip", dst)
#define ERR(t, src, dst) \
    feed(&v, "internal_error", t, "source.ip", src, "destination.ip", dst, "http.response.status_code", "500")
    /* the connection from 10.0.0.5 to 203.0.113.9, the error from 203.0.113.9 to 10.0.0.5 */
    CONN(SEC(0), "10.0.0.5", "203.0.113.9");
    ERR(SEC(4), "203.0.113.9", "10.0.0.5");
    assert_int_equal(v.n, 1);
    assert_string_equal(v.f[0].names[0], "internal_ip");
    assert_string_equal(v.f[0].vals[0], "10.0.0.5");
    assert_string_equal(v.f[0].names[1], "remote_ip");
    assert_string_equal(v.f[0].vals[1], "203.0.113.9");
    /* both in the same direction: not the same pair once aliased */
    CONN(SEC(100), "10.0.0.6", "203.0.113.9");
    ERR(SEC(101), "10.0.0.6", "203.0.113.9");
    /* eleven seconds apart */
    CONN(SEC(200), "10.0.0.7", "203.0.113.9");
    ERR(SEC(211), "203.0.113.9", "10.0.0.7");
    assert_int_equal(v.n, 1);
#undef CONN
#undef ERR
    env_close(&v);
}

static void count_diag(void *ctx, const struct stoat_diag *d)
{
    if (d->severity == STOAT_SEV_ERROR)
        ++*(int *)ctx;
}

static void test_percentile_key_checked(void **state)
{
    (void)state;
    static const char *bad[] = {"0", "100.5", "-3", "many"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char yaml[512];
        snprintf(yaml, sizeof(yaml),
                 "title: P\ncorrelation: {type: value_percentile, rules: [r], group-by: [Host], timespan: 1h,\n"
                 "                condition: {field: N, percentile: %s, gte: 1}}\n",
                 bad[i]);
        int errors = 0;
        struct stoat_load_opts o = {.mapping_path = "data/mapping.yml", .diag = count_diag, .diag_ctx = &errors};
        struct stoat_loader *l = NULL;
        assert_int_equal(stoat_loader_create(&o, &l), STOAT_OK);
        stoat_loader_add_text(l, "bad.yml", yaml, strlen(yaml));
        struct stoat_load_stats st;
        stoat_loader_stats(l, &st);
        assert_int_equal(st.rejected, 1);
        assert_int_equal(errors, 1);
        stoat_loader_destroy(l);
    }
}

/* --------------------------------------------------------------- late events */

static const char *count3_yaml = "title: Three in ten minutes\n"
                                 "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 10m,\n"
                                 "              condition: {gte: 3}}\n"
                                 "---\n"
                                 "title: Failed logon\nname: fail\n"
                                 "logsource: {product: windows, service: security}\n"
                                 "detection: {selection: {EventID: 4625}, condition: selection}\n";

static void test_late_events(void **state)
{
    (void)state;
    struct env v;
    env_open(&v, count3_yaml, NULL); /* lateness: 60 s */
    feed(&v, "fail", MIN(0), "User", "u");
    feed(&v, "fail", MIN(5), "User", "u");
    feed(&v, "fail", SEC(4 * 60 + 10), "User", "u"); /* 50 s late: counts */
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].first == MIN(0));
    assert_true(v.f[0].last == MIN(5));
    assert_int_equal(stats(&v).late_dropped, 0);
    /* another user: two in time, the third 90 s late */
    feed(&v, "fail", MIN(20), "User", "w");
    feed(&v, "fail", MIN(22), "User", "w");
    feed(&v, "fail", SEC(22 * 60 - 90), "User", "w");
    assert_int_equal(v.n, 1);
    assert_int_equal(stats(&v).late_dropped, 1);
    /* events of other groups move the clock too */
    feed(&v, "fail", MIN(30), "User", "x");
    feed(&v, "fail", MIN(32), "User", "y");
    feed(&v, "fail", SEC(30 * 60 + 30), "User", "x"); /* 90 s behind the clock */
    assert_int_equal(stats(&v).late_dropped, 2);
    env_close(&v);

    /* no lateness: any step back is dropped */
    struct corr_opts o;
    corr_default_opts(&o);
    o.lateness_ns = 0;
    env_open(&v, count3_yaml, &o);
    feed(&v, "fail", MIN(1), "User", "u");
    feed(&v, "fail", MIN(1), "User", "u"); /* the same time is not late */
    feed(&v, "fail", MIN(1) - 1, "User", "u");
    assert_int_equal(stats(&v).late_dropped, 1);
    env_close(&v);
}

static void test_late_ordered(void **state)
{
    (void)state;
    struct env v;
    recon_env(&v, "temporal_ordered");
    /* a, c, then b arrives a minute late: a < b < c in time */
    RECON(&v, "a", MIN(0), "h1", "u1");
    RECON(&v, "c", MIN(2), "h1", "u1");
    RECON(&v, "b", MIN(1), "h1", "u1");
    assert_int_equal(v.n, 1);
    /* b lands inside a run of c's: c(10:00) ... c(10:50), a at 9:00, late b at 10:20 */
    RECON(&v, "a", MIN(9), "h2", "u1");
    RECON(&v, "c", MIN(10), "h2", "u1");
    RECON(&v, "c", SEC(10 * 60 + 50), "h2", "u1");
    RECON(&v, "b", SEC(10 * 60 + 20), "h2", "u1");
    assert_int_equal(v.n, 2);
    /* late but before a: b, a, c -> no */
    RECON(&v, "a", MIN(21), "h3", "u1");
    RECON(&v, "b", SEC(20 * 60 + 30), "h3", "u1");
    RECON(&v, "c", MIN(22), "h3", "u1");
    assert_int_equal(v.n, 2);
    env_close(&v);
}

/* --------------------------------------------------------- closing windows */

static void test_close_judged(void **state)
{
    (void)state;
    struct env v;
    const char *yaml = "title: Few\n"
                       "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 10m,\n"
                       "              condition: {lt: 3}}\n"
                       "---\n"
                       "title: Exactly two users\n"
                       "correlation: {type: value_count, rules: [fail], group-by: [Host], timespan: 10m,\n"
                       "              condition: {field: User, eq: 2}}\n"
                       "---\n"
                       "title: Failed logon\nname: fail\n"
                       "logsource: {product: windows, service: security}\n"
                       "detection: {selection: {EventID: 4625}, condition: selection}\n";
    env_open(&v, yaml, NULL);
    feed(&v, "fail", MIN(0), "User", "a", "Host", "h");
    feed(&v, "fail", MIN(1), "User", "a", "Host", "h");
    for (int i = 0; i < 5; i++)
        feed(&v, "fail", MIN(2) + i, "User", "b", "Host", "h");
    assert_int_equal(v.n, 0);
    advance(&v, MIN(11)); /* the windows of a and h end at 10:00; 11:00 - 60 s is not past it */
    assert_int_equal(v.n, 0);
    advance(&v, MIN(11) + 1);
    assert_int_equal(v.n, 2);
    /* b again after its first window [2:00, 12:00]: a second window */
    feed(&v, "fail", MIN(13), "User", "b", "Host", "h2");
    const struct fired *f = find(&v, "Few", "a");
    assert_non_null(f);
    assert_true(f->value == 2);
    assert_true(f->first == MIN(0));
    assert_true(f->last == MIN(1));
    f = find(&v, "Exactly two users", "h");
    assert_non_null(f);
    assert_true(f->value == 2);
    advance(&v, MIN(14)); /* b's first window (5 events) ends at 12:00: judged, no */
    assert_int_equal(v.n, 2);
    advance(&v, INT64_MAX); /* b's second window (one event) and h2 (one user) */
    assert_int_equal(v.n, 3);
    f = find(&v, "Few", "b");
    assert_non_null(f);
    assert_true(f->value == 1);
    assert_true(f->first == MIN(13));
    assert_int_equal(stats(&v).groups, 0);
    env_close(&v);
}

/* --------------------------------------------------------------- memory caps */

static void test_eviction(void **state)
{
    (void)state;
    struct env v;
    struct corr_opts o;
    corr_default_opts(&o);
    o.max_groups = 3;
    env_open(&v, count3_yaml, &o);
    char user[16];
    for (int i = 0; i < 10; i++) {
        snprintf(user, sizeof(user), "u%d", i);
        feed(&v, "fail", SEC(i), "User", user);
    }
    struct corr_stats s = stats(&v);
    assert_int_equal(s.groups, 3);
    assert_int_equal(s.evicted_groups, 7);
    /* u9 is still there: two more fire it */
    feed(&v, "fail", SEC(20), "User", "u9");
    feed(&v, "fail", SEC(21), "User", "u9");
    assert_int_equal(v.n, 1);
    /* u0 was evicted: it starts again from nothing */
    feed(&v, "fail", SEC(22), "User", "u0");
    feed(&v, "fail", SEC(23), "User", "u0");
    assert_int_equal(v.n, 1);
    env_close(&v);

    /* a tiny byte cap: groups go, and one group alone loses its oldest events */
    corr_default_opts(&o);
    o.max_bytes = 8192;
    env_open(&v, exfil_yaml, &o);
    for (int i = 0; i < 2000; i++) {
        snprintf(user, sizeof(user), "u%d", i % 50);
        WEB(&v, SEC(i), "10.0.0.1", user, "1");
    }
    s = stats(&v);
    assert_true(s.evicted_groups > 0);
    assert_true(s.bytes <= 8192);
    for (int i = 0; i < 2000; i++)
        WEB(&v, SEC(3000 + i), "10.0.0.9", "one", "1");
    s = stats(&v);
    assert_true(s.evicted_events > 0);
    assert_true(s.bytes <= 8192);
    assert_int_equal(v.n, 0);
    env_close(&v);
}

/* ----------------------------------------------------------- odds and ends */

static void test_fields_hosts_alerts(void **state)
{
    (void)state;
    struct env v;
    env_open(&v, count3_yaml, NULL);
    /* field names fold like the ruleset's: case and spaces do not matter */
    feed_full(&v, "fail", MIN(0), 11, "ws1", "user", "u", NULL);
    feed_full(&v, "fail", MIN(1), 0, "ws1", "U SER", "u", NULL); /* not reported: no alert id */
    feed_full(&v, "fail", MIN(2), 13, "ws1", "USER", "u", NULL);
    assert_int_equal(v.n, 1);
    assert_true(v.f[0].has_host);
    assert_string_equal(v.f[0].host, "ws1");
    assert_int_equal(v.f[0].nids, 2);
    assert_int_equal(v.f[0].ids[0], 11);
    assert_int_equal(v.f[0].ids[1], 13);
    /* two hosts: none named */
    feed_full(&v, "fail", MIN(3), 0, "ws1", "User", "w", NULL);
    feed_full(&v, "fail", MIN(4), 0, "ws2", "User", "w", NULL);
    feed_full(&v, "fail", MIN(5), 0, "ws1", "User", "w", NULL);
    assert_int_equal(v.n, 2);
    assert_false(v.f[1].has_host);
    /* a null value is no value */
    struct stoat_field nf = {.name = "User", .value = "", .name_len = 4, .type = STOAT_V_NULL};
    struct corr_input in = {.rule = rule(&v, "fail"), .time_ns = MIN(6), .fields = &nf, .nfields = 1};
    corr_feed(v.e, &in, on_fire, &v);
    assert_int_equal(stats(&v).unusable, 1);
    /* an unknown time counts as now */
    in.time_ns = INT64_MIN;
    nf.type = STOAT_V_STRING;
    nf.value = "z";
    nf.value_len = 1;
    corr_feed(v.e, &in, on_fire, &v);
    corr_feed(v.e, &in, on_fire, &v);
    corr_feed(v.e, &in, on_fire, &v);
    assert_int_equal(v.n, 3);
    assert_true(v.f[2].last == MIN(6));
    assert_int_equal(stats(&v).fed, 10);
    env_close(&v);
}

static void test_no_correlations(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load("title: Failed logon\nname: fail\n"
                                    "logsource: {product: windows, service: security}\n"
                                    "detection: {selection: {EventID: 4625}, condition: selection}\n");
    assert_null(corr_create(rs, NULL));
    corr_destroy(NULL);
    assert_false(corr_reads(NULL, 0));
    corr_feed(NULL, NULL, NULL, NULL);
    corr_advance(NULL, 0, NULL, NULL);
    struct corr_stats s;
    corr_get_stats(NULL, &s);
    assert_int_equal(s.fed, 0);
    stoat_ruleset_destroy(rs);

    /* a rule no correlation reads */
    struct env v;
    char yaml[2048];
    snprintf(yaml, sizeof(yaml),
             "%s---\ntitle: Other\nname: other\n"
             "logsource: {product: windows, service: security}\n"
             "detection: {selection: {EventID: 1}, condition: selection}\n",
             count3_yaml);
    env_open(&v, yaml, NULL);
    assert_false(corr_reads(v.e, rule(&v, "other")));
    assert_true(corr_reads(v.e, rule(&v, "fail")));
    assert_false(corr_reads(v.e, 100000));
    feed(&v, "other", MIN(0), "User", "u");
    assert_int_equal(stats(&v).fed, 0);
    env_close(&v);
}

/* ------------------------------------------------ correlations of correlations */

static void test_cycle_and_depth(void **state)
{
    (void)state;
    struct env v;
    /* A reads B and B reads A: a firing never comes back to the correlation firing */
    env_open(&v,
             "title: A\nname: corr_a\n"
             "correlation: {type: event_count, rules: [base, corr_b], group-by: [User], timespan: 10m,\n"
             "              condition: {gte: 2}, generate: true}\n"
             "---\n"
             "title: B\nname: corr_b\n"
             "correlation: {type: event_count, rules: [corr_a], group-by: [User], timespan: 10m,\n"
             "              condition: {gte: 1}, generate: true}\n"
             "---\n"
             "title: Base\nname: base\nlogsource: {product: windows, service: security}\n"
             "detection: {selection: {EventID: 1}, condition: selection}\n",
             NULL);
    feed(&v, "base", MIN(0), "User", "u");
    feed(&v, "base", MIN(1), "User", "u");
    assert_int_equal(count_title(&v, "A"), 1);
    assert_int_equal(count_title(&v, "B"), 1);
    feed(&v, "base", MIN(2), "User", "u");
    assert_int_equal(v.n, 2);
    env_close(&v);

    /* a chain ten deep: firings go eight levels down, no further */
    char yaml[8192];
    size_t len = 0;
    for (int i = 1; i <= 10; i++) {
        char prev[16];
        snprintf(prev, sizeof(prev), i == 1 ? "base" : "c%d", i - 1);
        len += (size_t)snprintf(yaml + len, sizeof(yaml) - len,
                                "title: C%d\nname: c%d\n"
                                "correlation: {type: event_count, rules: [%s], group-by: [User], timespan: 10m,\n"
                                "              condition: {gte: 1}, generate: true}\n---\n",
                                i, i, prev);
    }
    snprintf(yaml + len, sizeof(yaml) - len,
             "title: Base\nname: base\nlogsource: {product: windows, service: security}\n"
             "detection: {selection: {EventID: 1}, condition: selection}\n");
    env_open(&v, yaml, NULL);
    feed(&v, "base", MIN(0), "User", "u");
    assert_int_equal(v.n, 9);
    assert_int_equal(count_title(&v, "C9"), 1);
    assert_int_equal(count_title(&v, "C10"), 0);
    env_close(&v);
}

/* A correlation judged when its window closes feeds a rising one: the inputs
 * come during corr_advance, at the closed window's times. */
static void test_close_feeds_rising(void **state)
{
    (void)state;
    struct env v;
    env_open(&v,
             "title: Twice quiet\n"
             "correlation: {type: event_count, rules: [quiet], group-by: [User], timespan: 1h, condition: {gte: 2}}\n"
             "---\n"
             "title: Quiet\nname: quiet\n"
             "correlation: {type: event_count, rules: [base], group-by: [User], timespan: 10m, condition: {lt: 3}}\n"
             "---\n"
             "title: Base\nname: base\nlogsource: {product: windows, service: security}\n"
             "detection: {selection: {EventID: 1}, condition: selection}\n",
             NULL);
    feed(&v, "base", MIN(0), "User", "u");
    feed(&v, "base", MIN(1), "User", "u");
    advance(&v, MIN(12)); /* [0:00, 10:00] closes: Quiet fires (hidden), Twice quiet counts 1 */
    assert_int_equal(v.n, 0);
    feed(&v, "base", MIN(30), "User", "u");
    advance(&v, MIN(42));
    assert_int_equal(v.n, 1);
    assert_string_equal(v.f[0].title, "Twice quiet");
    assert_true(v.f[0].first == MIN(1)); /* the first window's last event */
    assert_true(v.f[0].last == MIN(30));
    env_close(&v);
}

static struct env *reentry_env;

static void on_fire_reenter(void *ctx, const struct corr_fire *f)
{
    on_fire(ctx, f);
    /* not re-entrant: both are ignored from inside emit */
    corr_advance(reentry_env->e, INT64_MAX, on_fire, ctx);
    struct stoat_field fl = {.name = "User", .value = "x", .name_len = 4, .value_len = 1};
    struct corr_input in = {.rule = (uint32_t)stoat_ruleset_find(reentry_env->rs, "fail"),
                            .time_ns = f->last_ns,
                            .fields = &fl,
                            .nfields = 1};
    corr_feed(reentry_env->e, &in, on_fire, ctx);
}

static void test_reentry_and_pressure(void **state)
{
    (void)state;
    struct env v;
    env_open(&v, count3_yaml, NULL);
    reentry_env = &v;
    struct stoat_field f = {.name = "User", .value = "u", .name_len = 4, .value_len = 1};
    struct corr_input in = {.rule = rule(&v, "fail"), .fields = &f, .nfields = 1};
    for (int i = 0; i < 3; i++) {
        in.time_ns = MIN(i);
        corr_feed(v.e, &in, on_fire_reenter, &v);
    }
    assert_int_equal(v.n, 1);
    struct corr_stats s = stats(&v);
    assert_int_equal(s.fed, 3);
    assert_int_equal(s.groups, 1);
    env_close(&v);

    /* correlations of correlations with room for two groups: state is evicted
     * while firings feed on, and nothing breaks (the sanitizer build checks) */
    struct corr_opts o;
    corr_default_opts(&o);
    o.max_groups = 2;
    spec_login(&v, true);
    corr_destroy(v.e);
    v.e = corr_create(v.rs, &o);
    char user[16];
    for (int round = 0; round < 3; round++)
        for (int u = 0; u < 5; u++) {
            snprintf(user, sizeof(user), "user%d", u);
            failures(&v, user, MIN(round * 20 + u), 10);
            feed(&v, "successful_login", MIN(round * 20 + u) + SEC(30) - T0, "User", user, "EventID", "4624");
        }
    advance(&v, INT64_MAX);
    s = stats(&v);
    assert_true(s.evicted_groups > 0);
    assert_true(s.groups == 0);
    assert_int_equal(count_title(&v, INNER), 15); /* each burst of ten in its own group: fires */
    env_close(&v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spec_failed_then_success),
        cmocka_unit_test(test_spec_generate_true),
        cmocka_unit_test(test_spec_event_count),
        cmocka_unit_test(test_sliding_not_buckets),
        cmocka_unit_test(test_rearm),
        cmocka_unit_test(test_spec_value_count),
        cmocka_unit_test(test_spec_temporal),
        cmocka_unit_test(test_spec_temporal_ordered),
        cmocka_unit_test(test_spec_value_sum),
        cmocka_unit_test(test_spec_value_avg),
        cmocka_unit_test(test_spec_value_percentile),
        cmocka_unit_test(test_value_percentile_numeric),
        cmocka_unit_test(test_percentile_key_checked),
        cmocka_unit_test(test_spec_aliases),
        cmocka_unit_test(test_late_events),
        cmocka_unit_test(test_late_ordered),
        cmocka_unit_test(test_close_judged),
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_fields_hosts_alerts),
        cmocka_unit_test(test_no_correlations),
        cmocka_unit_test(test_cycle_and_depth),
        cmocka_unit_test(test_close_feeds_rising),
        cmocka_unit_test(test_reentry_and_pressure),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
