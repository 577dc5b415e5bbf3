/* The mapping data file: logsources made of channels and event ids, field
 * renames per source, JSON path flattening (renames, stripped prefixes) and
 * the fields that give an event's time, host, channel and id. A custom
 * mapping shows that all of it is data; broken mappings are refused with
 * file:line. Also the API's argument checks. */
#include "testutil.h"

static const char *const custom_mapping = "logsources:\n"
                                          "  - logsource: {product: acme}\n"
                                          "    events:\n"
                                          "      - {product: acme}\n"
                                          "  - logsource: {product: acme, category: login}\n"
                                          "    events:\n"
                                          "      - {channel: AcmeAuth, event_id: [100, 101]}\n"
                                          "      - channel: LegacyAuth\n"
                                          "        event_id: 7\n"
                                          "        rename: {usr: UserName, src: SourceAddress}\n"
                                          "  - logsource: {product: acme, service: auth}\n"
                                          "    events: [{channel: AcmeAuth}, {channel: LegacyAuth}]\n"
                                          "json:\n"
                                          "  rename:\n"
                                          "    meta.chan: Channel\n"
                                          "    meta.id: EventID\n"
                                          "  strip:\n"
                                          "    - payload.\n"
                                          "    - wrap.*.\n"
                                          "event:\n"
                                          "  timestamp: [meta.when]\n"
                                          "  host: [meta.node]\n"
                                          "  channel: [Channel]\n"
                                          "  event_id: [EventID]\n";

static int run_custom(const char *rule, const char *events, struct tu_hunt *out)
{
    char *mp = tu_temp_text(custom_mapping, ".yml");
    const char *texts[1] = {rule};
    struct tu_rules r = {.texts = texts, .ntexts = 1, .mapping_path = mp};
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, &ds, &ls);
    if (!rs || ls.loaded != 1)
        tu_diags_print(&ds, "custom mapping");
    assert_non_null(rs);
    assert_int_equal(ls.loaded, 1);
    struct tu_hunt h;
    tu_hunt_data(rs, events, strlen(events), ".jsonl", NULL, &h);
    int n = (int)h.n;
    if (out)
        *out = h;
    else
        tu_hunt_free(&h);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    unlink(mp);
    free(mp);
    return n;
}

#define ACME_RULE(ls, det) "title: acme\nid: acme-1\nlogsource: " ls "\ndetection:\n" det

static void test_custom_logsources(void **state)
{
    (void)state;
    const char *login = ACME_RULE("{product: acme, category: login}",
                                  "  s:\n    UserName: root\n    SourceAddress|cidr: 192.0.2.0/24\n  condition: s\n");
    const char *events =
        "{\"meta\":{\"chan\":\"AcmeAuth\",\"id\":100,\"when\":\"2026-01-02T03:04:05Z\",\"node\":\"gw1\"},"
        "\"payload\":{\"UserName\":\"root\",\"SourceAddress\":\"192.0.2.7\"}}\n" /* 1: yes */
        "{\"meta\":{\"chan\":\"AcmeAuth\",\"id\":102},\"payload\":{\"UserName\":\"root\","
        "\"SourceAddress\":\"192.0.2.7\"}}\n" /* 2: id */
        "{\"meta\":{\"chan\":\"LegacyAuth\",\"id\":7},\"wrap\":{\"v1\":{\"usr\":\"root\",\"src\":\"192.0.2.9\"}}}\n" /* 3 */
        "{\"meta\":{\"chan\":\"LegacyAuth\",\"id\":8},\"wrap\":{\"v1\":{\"usr\":\"root\",\"src\":\"192.0.2.9\"}}}\n" /* 4 */
        "{\"meta\":{\"chan\":\"Other\",\"id\":100},\"payload\":{\"UserName\":\"root\","
        "\"SourceAddress\":\"192.0.2.7\"}}\n"; /* 5 */
    struct tu_hunt h;
    assert_int_equal(run_custom(login, events, &h), 2);
    assert_int_equal(h.v[0].record, 1);
    assert_string_equal(h.v[0].host, "gw1");
    assert_string_equal(h.v[0].timestamp, "2026-01-02T03:04:05Z");
    assert_string_equal(h.v[0].channel, "AcmeAuth");
    assert_string_equal(h.v[0].event_id, "100");
    assert_int_equal(h.v[1].record, 3); /* LegacyAuth 7 through its renames */
    tu_hunt_free(&h);
    /* the service sees both channels, every id, without renames */
    const char *svc = ACME_RULE("{product: acme, service: auth}", "  s:\n    usr: root\n  condition: s\n");
    assert_int_equal(run_custom(svc, events, NULL), 2); /* 3 and 4 */
    /* the product sees all its channels */
    const char *prod = ACME_RULE("{product: acme}", "  s:\n    - UserName: root\n    - usr: root\n  condition: s\n");
    assert_int_equal(run_custom(prod, events, NULL), 4);
    /* the default mapping's sources are not in this one */
    const char *win =
        ACME_RULE("{product: windows, category: process_creation}", "  s:\n    CommandLine: x\n  condition: s\n");
    assert_int_equal(run_custom(win, "{\"meta\":{\"chan\":\"" TU_SYSMON "\",\"id\":1},\"CommandLine\":\"x\"}\n", NULL),
                     0);
}

struct bad_mapping {
    const char *text;
    const char *why;
    unsigned line;
};

static void test_bad_mappings(void **state)
{
    (void)state;
    static const struct bad_mapping cases[] = {
        {"- a\n- b\n", "map", 1},
        {"logsources: {a: b}\n", "'logsources' must be a list", 1},
        {"logsources: []\n", "no logsources", 0},
        {"logsources:\n  - logsource: {product: x}\n", "needs 'logsource'", 2},
        {"logsources:\n  - logsource: {category: x}\n    events:\n      - {event_id: [1]}\n", "channel or a product",
         4},
        {"logsources:\n  - logsource: {product: x}\n    events:\n      - {channel: c, event_id: [one]}\n", "integer",
         4},
        {"logsources:\n  - logsource: {product: x}\n    events:\n      - {channel: c, rename: [a]}\n", "rename", 4},
        {"logsources:\n  - logsource: {product: x}\n    events: [{product: x}]\n---\nlogsources: []\n",
         "one YAML document", 5},
        {"logsources: [\n", "YAML", 2},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *mp = tu_temp_text(cases[i].text, ".yml");
        struct tu_diags ds = {0};
        struct stoat_load_opts lo = {.mapping_path = mp, .diag = tu_diag_cb, .diag_ctx = &ds};
        struct stoat_loader *l = (struct stoat_loader *)&ds; /* must be reset to NULL on failure */
        stoat_err e = stoat_loader_create(&lo, &l);
        if (e != STOAT_ERR_CONFIG && e != STOAT_ERR_SYNTAX) {
            tu_diags_print(&ds, cases[i].text);
            fail_msg("mapping case %zu accepted (%d)", i, e);
        }
        assert_null(l);
        const struct tu_diag *d = tu_diags_find(&ds, cases[i].why);
        if (!d || d->line != cases[i].line) {
            tu_diags_print(&ds, cases[i].text);
            fail_msg("mapping case %zu: no diagnostic '%s' at line %u", i, cases[i].why, cases[i].line);
        }
        assert_string_equal(d->file, mp);
        tu_diags_free(&ds);
        unlink(mp);
        free(mp);
    }
}

static void test_api_arguments(void **state)
{
    (void)state;
    struct stoat_loader *l = (struct stoat_loader *)1;
    assert_int_equal(stoat_loader_create(NULL, &l), STOAT_ERR_ARG);
    assert_null(l);
    struct stoat_load_opts none = {0};
    l = (struct stoat_loader *)1;
    assert_int_equal(stoat_loader_create(&none, &l), STOAT_ERR_ARG);
    assert_null(l);
    /* a mapping that cannot be read */
    struct tu_diags ds = {0};
    struct stoat_load_opts lo = {
        .mapping_path = "/tmp/stoat-test-no-such-mapping.yml", .diag = tu_diag_cb, .diag_ctx = &ds};
    assert_int_equal(stoat_loader_create(&lo, &l), STOAT_ERR_CONFIG);
    assert_non_null(tu_diags_find(&ds, "cannot read the mapping file"));
    tu_diags_free(&ds);
    /* a placeholder file that cannot be read, or is not a map */
    lo = (struct stoat_load_opts){.mapping_path = tu_mapping(),
                                  .placeholders_path = "/tmp/stoat-test-nope.yml",
                                  .diag = tu_diag_cb,
                                  .diag_ctx = &ds};
    assert_int_equal(stoat_loader_create(&lo, &l), STOAT_ERR_CONFIG);
    assert_non_null(tu_diags_find(&ds, "placeholder file"));
    tu_diags_free(&ds);
    char *ph = tu_temp_text("- a\n- b\n", ".yml");
    lo.placeholders_path = ph;
    assert_int_equal(stoat_loader_create(&lo, &l), STOAT_ERR_CONFIG);
    assert_non_null(tu_diags_find(&ds, "placeholder file is one map"));
    tu_diags_free(&ds);
    unlink(ph);
    free(ph);
    /* a rule path that does not exist */
    lo = (struct stoat_load_opts){.mapping_path = tu_mapping(), .diag = tu_diag_cb, .diag_ctx = &ds};
    assert_int_equal(stoat_loader_create(&lo, &l), STOAT_OK);
    assert_int_equal(stoat_loader_add_path(l, "/tmp/stoat-test-no-rules-here"), STOAT_ERR_IO);
    assert_non_null(tu_diags_find(&ds, "no-rules-here"));
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    assert_int_equal(stoat_ruleset_count(rs), 0);
    stoat_loader_destroy(l);
    /* a hunt over an empty ruleset reads and reports nothing */
    struct tu_hunt h;
    char *ev = tu_event(TU_SYSMON, 1, "CommandLine", "x", NULL);
    tu_hunt_data(rs, ev, strlen(ev), ".jsonl", NULL, &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.stats.events, 1);
    assert_int_equal(h.stats.unrouted, 1);
    tu_hunt_free(&h);
    free(ev);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    /* every destroy takes NULL */
    stoat_loader_destroy(NULL);
    stoat_ruleset_destroy(NULL);
    stoat_hunt_destroy(NULL);
    struct stoat_hunt *hh = (struct stoat_hunt *)1;
    assert_int_equal(stoat_hunt_create(NULL, NULL, &hh), STOAT_ERR_ARG);
    assert_null(hh);
    assert_int_equal(stoat_ruleset_count(NULL), 0);
    /* the error strings and the diagnostic format */
    assert_string_equal(stoat_strerror(STOAT_ERR_PLACEHOLDER), "unresolved placeholder");
    assert_string_equal(stoat_strerror((stoat_err)999), "unknown error");
    struct stoat_diag d = {.code = STOAT_ERR_RULE,
                           .severity = STOAT_SEV_WARNING,
                           .file = "r.yml",
                           .line = 3,
                           .column = 7,
                           .rule_id = "x-1",
                           .field = "Image",
                           .message = "m"};
    char buf[128];
    int n = stoat_diag_format(&d, buf, sizeof(buf));
    assert_string_equal(buf, "r.yml:3:7: warning: m (rule x-1, field Image)");
    assert_int_equal(n, (int)strlen(buf));
    char small[8];
    assert_int_equal(stoat_diag_format(&d, small, sizeof(small)), n); /* snprintf-like */
    assert_int_equal(small[7], 0);
    struct stoat_diag off = {.code = STOAT_ERR_INPUT, .file = "a.evtx", .offset = 4096, .has_offset = 1};
    stoat_diag_format(&off, buf, sizeof(buf));
    assert_string_equal(buf, "a.evtx @4096: error: malformed input");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_custom_logsources),
        cmocka_unit_test(test_bad_mappings),
        cmocka_unit_test(test_api_arguments),
    };
    return cmocka_run_group_tests_name("mapping", tests, NULL, NULL);
}
