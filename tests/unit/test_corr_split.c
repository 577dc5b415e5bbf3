/* The fleet's split of Sigma correlations (behaviour/corr_stream.h):
 * which correlations span hosts (corr_spanning_hosts), a partition
 * worker's stream (CORR_PART_HOSTS: one clock per host; the matches of the
 * spanning correlations' rules sent on, not judged), the match as a fact
 * on the bus (facts_json) and the cross-host role's stream
 * (CORR_PART_SPANNING) firing over several hosts' matches. */
#include "corr_testutil.h"

#include "behaviour/corr_stream.h"
#include "behaviour/facts.h"
#include "util/buf.h"

#define HOUR(x) SEC((x)*3600)

static const char *split_yaml =
    "title: Three fails on one host\n"
    "name: per_host\n"
    "correlation: {type: event_count, rules: [fail], group-by: [Computer, TargetUserName],\n"
    "              timespan: 10m, condition: {gte: 3}}\n"
    "---\n"
    "title: One account on two hosts\n"
    "name: spanning\n"
    "correlation: {type: value_count, rules: [fail], group-by: [TargetUserName],\n"
    "              timespan: 1h, condition: {field: Computer, gte: 2}}\n"
    "---\n"
    "title: Two accounts over the fleet\n"
    "correlation: {type: event_count, rules: [spanning], timespan: 1d,\n"
    "              condition: {gte: 2}, generate: true}\n"
    "---\n"
    "title: Failed logon\nname: fail\nid: 5e0f3c1a-1111-4c4c-9d9d-000000000001\n"
    "logsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 4625}, condition: selection}\n";

struct out {
    size_t n;
    char title[8][80];
    char host[8][64];
    struct buf facts; /* forwarded matches, as facts_json lines */
    size_t nfwd;
};

static void on_alert(void *ctx, struct stoat_alert *a)
{
    struct out *o = ctx;
    assert_true(o->n < 8);
    snprintf(o->title[o->n], sizeof(o->title[0]), "%s", a->rule->title);
    snprintf(o->host[o->n], sizeof(o->host[0]), "%s", a->host ? a->host : "");
    o->n++;
}

static void on_match(void *ctx, const struct cross_match *m)
{
    struct out *o = ctx;
    struct cross_fact f = {.kind = CROSS_FACT_MATCH, .match = *m};
    facts_json(&f, &o->facts);
    buf_putc(&o->facts, '\n');
    o->nfwd++;
}

static void match(struct corr_stream *s, uint32_t rule_ix, const char *host, const char *user, int64_t t)
{
    struct stoat_field f[3] = {
        {.name = "EventID", .name_len = 7, .value = "4625", .value_len = 4, .type = STOAT_V_NUMBER},
        {.name = "Computer", .name_len = 8, .value = host, .value_len = (uint32_t)strlen(host)},
        {.name = "TargetUserName", .name_len = 14, .value = user, .value_len = (uint32_t)strlen(user)},
    };
    struct stoat_alert a = {.host = host, .time_ns = t, .fields = f, .nfields = 3};
    corr_stream_match(s, &a, rule_ix, 0);
}

static size_t count(const struct out *o, const char *title)
{
    size_t n = 0;
    for (size_t i = 0; i < o->n; i++)
        n += strcmp(o->title[i], title) == 0;
    return n;
}

/* Grouped by Computer (a host field of the mapping): stays with the host's
 * worker. Grouped by the account alone: spans hosts, and so does the
 * correlation that reads its firings. */
static void test_spanning(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(split_yaml);
    bool spans[3] = {0};
    assert_int_equal(rs->ncorrs, 3);
    assert_int_equal(corr_spanning_hosts(rs, spans), 2);
    for (size_t k = 0; k < 3; k++)
        assert_int_equal(spans[k], strcmp(rs->corrs[k].meta.title, "Three fails on one host") != 0);
    stoat_ruleset_destroy(rs);
}

/* A worker's stream: one clock per host. A host whose matches come after
 * another host's day, ten hours ahead, still counts (with one clock its
 * matches were beyond the lateness and dropped: the hunt's stream, which
 * sees every host at once, shows that); the spanning correlation's matches
 * go on as facts and are not judged here. */
static void test_worker_clock_per_host(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(split_yaml);
    uint32_t fail = (uint32_t)stoat_ruleset_find(rs, "fail");
    struct stoat_behaviour_opts bo = {.corr_offline_lateness_ns = HOUR(1) - T0};
    for (int part = CORR_PART_ALL; part <= CORR_PART_HOSTS; part++) {
        struct out o = {0};
        struct stoat_hunt_stats st = {0};
        struct corr_stream *s = corr_stream_create_part(rs, &bo, STOAT_LEVEL_NONE, &st, on_alert, &o, part);
        assert_non_null(s);
        corr_stream_forward(s, on_match, &o);
        for (int i = 0; i < 3; i++)
            match(s, fail, "ahead", "bob", HOUR(10) + SEC(i));
        corr_stream_idle(s, 1000000000LL); /* a worker's idle round: what was kept is fed */
        for (int i = 0; i < 3; i++)
            match(s, fail, "behind", "bob", SEC(i));
        corr_stream_finish(s);
        if (part == CORR_PART_ALL) {
            assert_int_equal(count(&o, "Three fails on one host"), 1); /* ahead only: behind was late */
            assert_int_equal(st.corr_late, 3);
            assert_int_equal(o.nfwd, 0);
            assert_int_equal(count(&o, "One account on two hosts"), 0); /* 10 h apart */
        } else {
            assert_int_equal(count(&o, "Three fails on one host"), 2);
            assert_int_equal(st.corr_late, 0);
            assert_int_equal(count(&o, "One account on two hosts"), 0); /* not judged here */
            assert_int_equal(o.nfwd, 6);
        }
        corr_stream_destroy(s);
        buf_free(&o.facts);
    }
    stoat_ruleset_destroy(rs);
}

/* A busy worker's looks (corr_stream_quiet, about once a second): one host
 * has a match before every look, another went quiet after one. The quiet
 * host's window, judged when it closes, closes once the wall time it has
 * been quiet carries its clock past the window's end and the lateness,
 * although the worker never ran out of input (an idle-only advance never
 * closed it before the stop); the busy host's clock is its matches'. */
static const char *lone_yaml = "title: A lone fail on a host\n"
                               "correlation: {type: event_count, rules: [fail], group-by: [Computer],\n"
                               "              timespan: 10m, condition: {lte: 1}}\n"
                               "---\n"
                               "title: Failed logon\nname: fail\nid: 5e0f3c1a-1111-4c4c-9d9d-000000000001\n"
                               "logsource: {product: windows, service: security}\n"
                               "detection: {selection: {EventID: 4625}, condition: selection}\n";

static void test_worker_quiet_host(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(lone_yaml);
    uint32_t fail = (uint32_t)stoat_ruleset_find(rs, "fail");
    struct stoat_behaviour_opts bo = {.corr_offline_lateness_ns = SEC(60) - T0};
    struct out o = {0};
    struct stoat_hunt_stats st = {0};
    struct corr_stream *s = corr_stream_create_part(rs, &bo, STOAT_LEVEL_NONE, &st, on_alert, &o, CORR_PART_HOSTS);
    const int64_t wall0 = 5000 * 1000000000LL;
    match(s, fail, "quiet", "bob", SEC(0));
    for (int k = 0; k <= 700; k++) {
        match(s, fail, "busy", "bob", SEC(k));
        corr_stream_quiet(s, wall0 + (int64_t)k * 1000000000LL);
        if (k < 660) /* the window ends at 600 s, the lateness is 60 s */
            assert_int_equal(o.n, 0);
    }
    assert_int_equal(o.n, 1);
    assert_string_equal(o.host[0], "quiet");
    corr_stream_finish(s);
    for (size_t i = 1; i < o.n; i++) /* the busy host's windows hold many */
        assert_string_not_equal(o.host[i], "quiet");
    corr_stream_destroy(s);
    buf_free(&o.facts);
    stoat_ruleset_destroy(rs);
}

/* The matches a worker sends, read back from their JSON by the cross-host
 * role's stream: one account's fails on two hosts held by different
 * workers fire the spanning correlation, without a host, and its firing
 * feeds the correlation that reads it. */
static void test_cross_role(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(split_yaml);
    uint32_t fail = (uint32_t)stoat_ruleset_find(rs, "fail");
    struct stoat_behaviour_opts bo = {0};
    struct out w1 = {0}, w2 = {0}, role = {0};
    struct stoat_hunt_stats st = {0};
    struct corr_stream *a = corr_stream_create_part(rs, &bo, STOAT_LEVEL_NONE, &st, on_alert, &w1, CORR_PART_HOSTS);
    struct corr_stream *b = corr_stream_create_part(rs, &bo, STOAT_LEVEL_NONE, &st, on_alert, &w2, CORR_PART_HOSTS);
    corr_stream_forward(a, on_match, &w1);
    corr_stream_forward(b, on_match, &w2);
    match(a, fail, "ws1", "eve", MIN(0));
    match(b, fail, "srv2", "eve", MIN(5));
    match(a, fail, "ws1", "mallory", MIN(30));
    match(b, fail, "srv2", "mallory", MIN(31));
    corr_stream_finish(a);
    corr_stream_finish(b);
    assert_int_equal(w1.n + w2.n, 0); /* neither worker sees two hosts */
    struct corr_stream *x =
        corr_stream_create_part(rs, &bo, STOAT_LEVEL_NONE, &st, on_alert, &role, CORR_PART_SPANNING);
    assert_non_null(x);
    struct facts_store *fst = malloc(sizeof(*fst));
    const struct buf *in[2] = {&w2.facts, &w1.facts}; /* the workers' facts in any order */
    for (int k = 0; k < 2; k++)
        for (const char *p = in[k]->p, *end = in[k]->p + in[k]->len; p < end;) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            struct cross_fact f;
            char why[160];
            assert_true(facts_parse(p, (size_t)(nl - p), &f, fst, why, sizeof(why)));
            assert_int_equal(f.kind, CROSS_FACT_MATCH);
            assert_string_equal(f.match.rule_id, "5e0f3c1a-1111-4c4c-9d9d-000000000001");
            corr_stream_remote(x, &f.match);
            p = nl + 1;
        }
    corr_stream_finish(x);
    assert_int_equal(count(&role, "One account on two hosts"), 2);
    assert_int_equal(count(&role, "Two accounts over the fleet"), 1); /* fed the two firings */
    for (size_t i = 0; i < role.n; i++)
        assert_string_equal(role.host[i], "");                    /* two hosts: none named */
    assert_int_equal(count(&role, "Three fails on one host"), 0); /* the workers' */
    free(fst);
    corr_stream_destroy(a);
    corr_stream_destroy(b);
    corr_stream_destroy(x);
    buf_free(&w1.facts);
    buf_free(&w2.facts);
    buf_free(&role.facts);
    stoat_ruleset_destroy(rs);
}

/* A worker sees thousands of hosts: the memory cap holds for all their
 * engines together (each once had the whole cap, and its own copy of the
 * rule tables), the quiet hosts give theirs back first, and a busy host
 * still fires. */
static void test_worker_memory_many_hosts(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(split_yaml);
    uint32_t fail = (uint32_t)stoat_ruleset_find(rs, "fail");
    const size_t cap = 256 << 10;
    struct stoat_behaviour_opts bo = {.corr_max_bytes = cap, .corr_live = true}; /* fed as they come */
    struct out o = {0};
    struct stoat_hunt_stats st = {0};
    struct corr_stream *s = corr_stream_create_part(rs, &bo, STOAT_LEVEL_NONE, &st, on_alert, &o, CORR_PART_HOSTS);
    corr_stream_forward(s, on_match, &o);
    char host[32];
    size_t most = 0;
    for (int h = 0; h < 5000; h++) {
        snprintf(host, sizeof(host), "srv%04d", h);
        for (int i = 0; i < 2; i++) {
            match(s, fail, host, "svc", MIN(h % 600) + (int64_t)i * 1000000000);
            if (corr_stream_bytes(s) > most)
                most = corr_stream_bytes(s);
        }
        buf_clear(&o.facts); /* the forwarded matches are not what is measured */
    }
    assert_int_equal(corr_stream_engines(s), 5000);
    assert_true(most <= cap);
    assert_true(most > cap / 2); /* the cap was reached, so it was what held */
    for (int i = 0; i < 3; i++)
        match(s, fail, "busy", "eve", MIN(700) + (int64_t)i * 1000000000);
    corr_stream_finish(s);
    assert_int_equal(count(&o, "Three fails on one host"), 1);
    assert_string_equal(o.host[0], "busy");
    assert_true(st.corr_evicted > 0); /* what the cap took is counted */
    corr_stream_destroy(s);
    buf_free(&o.facts);
    stoat_ruleset_destroy(rs);
}

/* A match fact off the bus is hostile input: caps and order checked. */
static void test_match_fact_bytes(void **state)
{
    (void)state;
    struct facts_store *fst = malloc(sizeof(*fst));
    struct cross_fact f;
    char why[160];
    const char *ok = "{\"fact\":\"match\",\"host\":\"h\",\"rule_id\":\"r\",\"time\":5,\"name\":\"A\",\"value\":\"1\","
                     "\"type\":1,\"name\":\"B\",\"value\":\"\"}";
    assert_true(facts_parse(ok, strlen(ok), &f, fst, why, sizeof(why)));
    assert_int_equal(f.match.nfields, 2);
    assert_string_equal(f.match.names[1], "B");
    assert_int_equal(f.match.types[0], STOAT_V_NUMBER);
    assert_true(f.match.time_ns == 5);
    const char *orphan = "{\"fact\":\"match\",\"value\":\"1\"}";
    assert_false(facts_parse(orphan, strlen(orphan), &f, fst, why, sizeof(why)));
    const char *badtype = "{\"fact\":\"match\",\"name\":\"A\",\"type\":9}";
    assert_false(facts_parse(badtype, strlen(badtype), &f, fst, why, sizeof(why)));
    struct buf many = {0};
    buf_puts(&many, "{\"fact\":\"match\"");
    for (int i = 0; i <= CROSS_MATCH_FIELDS; i++)
        buf_printf(&many, ",\"name\":\"f%d\",\"value\":\"v\"", i);
    buf_putc(&many, '}');
    assert_false(facts_parse(many.p, many.len, &f, fst, why, sizeof(why)));
    assert_non_null(strstr(why, "more fields"));
    buf_free(&many);
    free(fst);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spanning),         cmocka_unit_test(test_worker_clock_per_host),
        cmocka_unit_test(test_cross_role),       cmocka_unit_test(test_worker_memory_many_hosts),
        cmocka_unit_test(test_match_fact_bytes), cmocka_unit_test(test_worker_quiet_host),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
