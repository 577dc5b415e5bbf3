/* Sigma correlation rules (sigma-correlation-rules-specification.md) in a
 * hunt: event_count, value_count and temporal over group-by fields and a
 * timespan. A correlation's alert reaches the sinks with the correlation as
 * its rule; the rules it reads stay silent unless it says `generate: true`.
 *
 * Loading correlations is tested in test_rules.c; this file is about them
 * firing. */
#include "testutil.h"

#define CORR_ID "c0000000-0000-4000-8000-0000000000c1"

static const char *const base_rules =
    "title: Whoami\nid: b0000000-0000-4000-8000-0000000000b1\nname: whoami_exec\nlevel: low\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n"
    "---\n"
    "title: Net\nid: b0000000-0000-4000-8000-0000000000b2\nname: net_exec\nlevel: low\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel:\n    Image|endswith: '\\net.exe'\n  condition: sel\n"
    "---\n"
    "title: Nltest\nid: b0000000-0000-4000-8000-0000000000b3\nname: nltest_exec\nlevel: low\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n  sel:\n    Image|endswith: '\\nltest.exe'\n  condition: sel\n";

static char *ev(const char *ts, const char *host, const char *user, const char *image)
{
    return tu_event(TU_SYSMON, 1, "UtcTime", ts, "Computer", host, "User", user, "Image", image, NULL);
}

/* Alerts of the correlation (and of anything else) on the events. */
static size_t corr_alerts(const char *corr, const char *events, size_t *others)
{
    const char *texts[2] = {base_rules, corr};
    struct tu_rules r = {.texts = texts, .ntexts = 2};
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, &ds, &ls);
    assert_non_null(rs);
    if (ls.correlations != 1)
        tu_diags_print(&ds, "loading the correlation");
    assert_int_equal(ls.correlations, 1);
    struct tu_hunt h;
    tu_hunt_data(rs, events, strlen(events), ".jsonl", NULL, &h);
    size_t n = 0, o = 0;
    for (size_t i = 0; i < h.n; i++) {
        if (h.v[i].rule_id && strcmp(h.v[i].rule_id, CORR_ID) == 0)
            n++;
        else
            o++;
    }
    if (others)
        *others = o;
    tu_hunt_free(&h);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    return n;
}

static const char *const event_count =
    "title: Three whoami\nid: " CORR_ID "\nlevel: high\n"
    "correlation:\n  type: event_count\n  rules: [whoami_exec]\n  group-by: [Computer]\n  timespan: 5m\n"
    "  condition:\n    gte: 3\n";

#define NOT_EVALUATED                                                                                 \
    "correlation rules are loaded but never evaluated in a hunt (no correlation stage in src/hunt); " \
    "the rules they name are silenced, so nothing is reported"

static void test_event_count(void **state)
{
    (void)state;
    struct tu_str s = {0};
    char *e;
    const char *times[] = {"2026-11-20 08:00:00.000", "2026-11-20 08:01:00.000", "2026-11-20 08:02:30.000"};
    for (int i = 0; i < 3; i++) {
        e = ev(times[i], "h1", "CORP\\bob", "C:\\W\\whoami.exe");
        tu_str_puts(&s, e);
        free(e);
    }
    size_t others = 99;
    size_t n = corr_alerts(event_count, s.p, &others);
    tu_str_free(&s);
    assert_int_equal(others, 0); /* the base rule is silent (no generate) */
    if (n != 1)
        fail_msg("event_count of 3 within 5m on one host: %zu correlation alerts, expected 1: " NOT_EVALUATED, n);
}

static void test_event_count_negative(void **state)
{
    (void)state;
    struct tu_str s = {0};
    char *e;
    /* two events only; three spread over 20 minutes; three on three hosts */
    static const struct {
        const char *ts, *host;
    } evs[] = {
        {"2026-11-20 08:00:00.000", "h1"}, {"2026-11-20 08:01:00.000", "h1"}, {"2026-11-20 09:00:00.000", "h2"},
        {"2026-11-20 09:10:00.000", "h2"}, {"2026-11-20 09:20:00.000", "h2"}, {"2026-11-20 10:00:00.000", "h3"},
        {"2026-11-20 10:00:01.000", "h4"}, {"2026-11-20 10:00:02.000", "h5"},
    };
    for (size_t i = 0; i < sizeof(evs) / sizeof(evs[0]); i++) {
        e = ev(evs[i].ts, evs[i].host, "CORP\\bob", "C:\\W\\whoami.exe");
        tu_str_puts(&s, e);
        free(e);
    }
    size_t n = corr_alerts(event_count, s.p, NULL);
    tu_str_free(&s);
    assert_int_equal(n, 0);
}

static void test_value_count(void **state)
{
    (void)state;
    const char *corr = "title: Three tools\nid: " CORR_ID "\nlevel: high\n"
                       "correlation:\n  type: value_count\n  rules: [whoami_exec, net_exec, nltest_exec]\n"
                       "  group-by: [Computer, User]\n  timespan: 10m\n"
                       "  condition:\n    field: Image\n    gte: 3\n";
    struct tu_str s = {0};
    const char *imgs[] = {"C:\\W\\whoami.exe", "C:\\W\\whoami.exe", "C:\\W\\net.exe", "C:\\W\\nltest.exe"};
    for (int i = 0; i < 4; i++) {
        char ts[48];
        snprintf(ts, sizeof(ts), "2026-11-20 08:0%d:00.000", i % 10);
        char *e = ev(ts, "h1", "CORP\\bob", imgs[i]);
        tu_str_puts(&s, e);
        free(e);
    }
    size_t n = corr_alerts(corr, s.p, NULL);
    tu_str_free(&s);
    if (n != 1)
        fail_msg("value_count of 3 images within 10m: %zu correlation alerts, expected 1: " NOT_EVALUATED, n);
}

static void test_temporal(void **state)
{
    (void)state;
    const char *corr = "title: Whoami then net\nid: " CORR_ID "\nlevel: high\n"
                       "correlation:\n  type: temporal\n  rules: [whoami_exec, net_exec]\n"
                       "  group-by: [Computer]\n  timespan: 2m\n";
    struct tu_str s = {0};
    char *e = ev("2026-11-20 08:00:00.000", "h1", "CORP\\bob", "C:\\W\\whoami.exe");
    tu_str_puts(&s, e);
    free(e);
    e = ev("2026-11-20 08:01:00.000", "h1", "CORP\\bob", "C:\\W\\net.exe");
    tu_str_puts(&s, e);
    free(e);
    size_t n = corr_alerts(corr, s.p, NULL);
    tu_str_free(&s);
    if (n != 1)
        fail_msg("temporal whoami and net within 2m: %zu correlation alerts, expected 1: " NOT_EVALUATED, n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_event_count),
        cmocka_unit_test(test_event_count_negative),
        cmocka_unit_test(test_value_count),
        cmocka_unit_test(test_temporal),
    };
    return cmocka_run_group_tests_name("correlation", tests, NULL, NULL);
}
