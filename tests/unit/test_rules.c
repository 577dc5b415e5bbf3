/* The loader: multi-document files, the three document kinds (detection,
 * filter, correlation), malformed documents (each refused with file, line,
 * column and reason while loading goes on), rule selection, and logsource
 * routing through data/mapping.yml. */
#include "testutil.h"

#define ID1 "00000000-0000-4000-8000-000000000001"

static const char *const whoami_rule =
    "title: Whoami\n"
    "id: " ID1 "\n"
    "name: whoami_exec\n"
    "status: test\n"
    "level: medium\n"
    "tags:\n  - attack.discovery\n  - attack.t1033\n  - attack.credential_access\n  - attack.g0016\n"
    "logsource:\n  product: windows\n  category: process_creation\n"
    "detection:\n  sel:\n    Image|endswith: '\\whoami.exe'\n  condition: sel\n";

/* Loads texts (one per file) and hunts events; returns alerts, fills stats. */
static int run(const char *const *texts, size_t n, const char *events, struct stoat_load_stats *ls, struct tu_diags *ds)
{
    struct tu_rules r = {.texts = texts, .ntexts = n};
    struct stoat_load_stats local;
    struct stoat_ruleset *rs = tu_build(&r, ds, ls ? ls : &local);
    assert_non_null(rs);
    struct tu_hunt h;
    tu_hunt_data(rs, events, strlen(events), ".jsonl", NULL, &h);
    int got = (int)h.n;
    tu_hunt_free(&h);
    stoat_ruleset_destroy(rs);
    return got;
}

static char *whoami_event(const char *user)
{
    return tu_event(TU_SYSMON, 1, "Image", "C:\\Windows\\System32\\whoami.exe", "User", user, "Computer", "ws1", NULL);
}

/* --------------------------------------------------------- documents */

static void test_multi_document(void **state)
{
    (void)state;
    const char *text = "title: A\nid: a0000000-0000-4000-8000-00000000000a\nlogsource: {product: windows, category: "
                       "process_creation}\ndetection:\n  sel:\n    CommandLine|contains: alpha\n  condition: sel\n"
                       "---\n"
                       "title: B\nid: b0000000-0000-4000-8000-00000000000b\nlogsource: {product: windows, category: "
                       "process_creation}\ndetection:\n  sel:\n    CommandLine|contains: bravo\n  condition: sel\n"
                       "...\n---\n"
                       "title: C\nlogsource: {product: windows, category: process_creation}\ndetection:\n  sel:\n"
                       "    CommandLine|contains: charlie\n  condition: sel\n";
    const char *texts[1] = {text};
    struct stoat_load_stats ls;
    char *ev = tu_event(TU_SYSMON, 1, "CommandLine", "alpha bravo charlie", NULL);
    assert_int_equal(run(texts, 1, ev, &ls, NULL), 3);
    assert_int_equal(ls.files, 1);
    assert_int_equal(ls.documents, 3);
    assert_int_equal(ls.loaded, 3);
    assert_int_equal(ls.rejected, 0);
    free(ev);

    struct tu_diags ds = {0};
    struct stoat_ruleset *rs = tu_build1(text, &ds, &ls);
    assert_non_null(rs);
    assert_int_equal(stoat_ruleset_count(rs), 3);
    long b = stoat_ruleset_find(rs, "b0000000-0000-4000-8000-00000000000b");
    assert_true(b >= 0);
    const struct stoat_rule_meta *m = stoat_ruleset_rule(rs, (size_t)b);
    assert_string_equal(m->title, "B");
    assert_string_equal(m->file, "rule.yml");
    assert_int_equal(m->line, 9); /* the document's first line */
    assert_int_equal(stoat_ruleset_find(rs, "nope"), -1);
    assert_null(stoat_ruleset_rule(rs, 3));
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
}

static void test_metadata(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = tu_build1(whoami_rule, NULL, NULL);
    assert_non_null(rs);
    assert_int_equal(stoat_ruleset_count(rs), 1);
    const struct stoat_rule_meta *m = stoat_ruleset_rule(rs, 0);
    assert_int_equal(m->kind, STOAT_RULE_DETECTION);
    assert_string_equal(m->id, ID1);
    assert_string_equal(m->name, "whoami_exec");
    assert_int_equal(m->level, STOAT_LEVEL_MEDIUM);
    assert_int_equal(m->status, STOAT_STATUS_TEST);
    assert_string_equal(m->product, "windows");
    assert_string_equal(m->category, "process_creation");
    assert_null(m->service);
    assert_int_equal(m->tags.n, 4);
    assert_int_equal(m->attack_ids.n, 1);
    assert_string_equal(m->attack_ids.items[0], "T1033");
    assert_int_equal(m->attack_tactics.n, 2);
    assert_string_equal(m->attack_tactics.items[0], "discovery");
    assert_string_equal(m->attack_tactics.items[1], "credential-access");
    assert_int_equal(stoat_ruleset_find(rs, "whoami_exec"), 0); /* by name too */
    stoat_ruleset_destroy(rs);
    /* the level and status tables */
    enum stoat_level l;
    assert_true(stoat_level_parse("Critical", &l));
    assert_int_equal(l, STOAT_LEVEL_CRITICAL);
    assert_true(stoat_level_parse("info", &l));
    assert_int_equal(l, STOAT_LEVEL_INFORMATIONAL);
    assert_false(stoat_level_parse("severe", &l));
    assert_string_equal(stoat_level_name(STOAT_LEVEL_LOW), "low");
    enum stoat_status s;
    assert_true(stoat_status_parse("deprecated", &s));
    assert_int_equal(s, STOAT_STATUS_DEPRECATED);
    assert_false(stoat_status_parse("beta", &s));
}

/* ------------------------------------------------------------ filters */

static void test_filter_by_id_and_name(void **state)
{
    (void)state;
    const char *by_id = "title: Not the admins\n"
                        "logsource: {product: windows, category: process_creation}\n"
                        "filter:\n  rules:\n    - " ID1 "\n"
                        "  selection:\n    User|startswith: 'CORP\\adm_'\n  condition: selection\n";
    const char *by_name = "title: Not the admins\n"
                          "logsource: {product: windows, category: process_creation}\n"
                          "filter:\n  rules: whoami_exec\n"
                          "  selection:\n    User|startswith: 'CORP\\adm_'\n  condition: selection\n";
    char *adm = whoami_event("CORP\\adm_alice");
    char *bob = whoami_event("CORP\\bob");
    for (int k = 0; k < 2; k++) {
        const char *texts[2] = {whoami_rule, k ? by_name : by_id};
        struct stoat_load_stats ls;
        assert_int_equal(run(texts, 2, adm, &ls, NULL), 0);
        assert_int_equal(ls.filters, 1);
        assert_int_equal(ls.loaded, 1);
        assert_int_equal(run(texts, 2, bob, &ls, NULL), 1);
        /* the filter may come first */
        const char *rev[2] = {k ? by_name : by_id, whoami_rule};
        assert_int_equal(run(rev, 2, adm, NULL, NULL), 0);
        assert_int_equal(run(rev, 2, bob, NULL, NULL), 1);
    }
    /* two filters on one rule: each removes its own events */
    const char *f2 = "title: Not bob\nlogsource: {product: windows, category: process_creation}\n"
                     "filter:\n  rules: [" ID1 "]\n  selection:\n    User: 'CORP\\bob'\n  condition: selection\n";
    const char *three[3] = {whoami_rule, by_id, f2};
    char *carol = whoami_event("CORP\\carol");
    assert_int_equal(run(three, 3, adm, NULL, NULL), 0);
    assert_int_equal(run(three, 3, bob, NULL, NULL), 0);
    assert_int_equal(run(three, 3, carol, NULL, NULL), 1);
    free(adm);
    free(bob);
    free(carol);
}

static void test_filter_naming_nothing_warns(void **state)
{
    (void)state;
    const char *f = "title: Orphan\nid: f0000000-0000-4000-8000-00000000000f\n"
                    "logsource: {product: windows, category: process_creation}\n"
                    "filter:\n  rules: [11111111-1111-4111-8111-111111111111]\n"
                    "  selection:\n    User: x\n  condition: selection\n";
    const char *texts[2] = {whoami_rule, f};
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    char *ev = whoami_event("x");
    assert_int_equal(run(texts, 2, ev, &ls, &ds), 1); /* the rule is untouched */
    assert_int_equal(ls.filters, 0);
    const struct tu_diag *d = tu_diags_find(&ds, "names no loaded rule");
    assert_non_null(d);
    assert_int_equal(d->severity, STOAT_SEV_WARNING);
    assert_string_equal(d->file, "rule2.yml");
    assert_true(d->line > 0);
    tu_diags_free(&ds);
    free(ev);
    /* a filter without rules is an error */
    assert_true(rule_rejected("title: F\nlogsource: {product: windows}\nfilter:\n  selection:\n    User: x\n"
                              "  condition: selection\n",
                              "rules"));
}

/* -------------------------------------------------------- correlations */

static const char *const corr_doc = "title: Many whoami\n"
                                    "id: c0000000-0000-4000-8000-00000000000c\n"
                                    "level: high\n"
                                    "correlation:\n"
                                    "  type: event_count\n"
                                    "  rules:\n    - whoami_exec\n"
                                    "  group-by:\n    - Computer\n"
                                    "  timespan: 5m\n"
                                    "  condition:\n    gte: 3\n";

static void test_correlation_file_loads(void **state)
{
    (void)state;
    /* the correlation and the rule it reads, in one file */
    size_t n = strlen(corr_doc) + strlen(whoami_rule) + 8;
    char *file = malloc(n);
    snprintf(file, n, "%s---\n%s", corr_doc, whoami_rule);
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build1(file, &ds, &ls);
    assert_non_null(rs);
    assert_int_equal(ls.documents, 2);
    assert_int_equal(ls.correlations, 1);
    assert_int_equal(ls.loaded, 1);
    assert_int_equal(ls.rejected, 0);
    assert_int_equal(tu_diags_count(&ds, STOAT_SEV_ERROR), 0);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    free(file);

    /* every correlation type parses, and one naming an unknown rule warns */
    static const char *const types[] = {
        "  type: value_count\n  rules: [whoami_exec]\n  group-by: [Computer]\n  timespan: 1h\n"
        "  condition:\n    field: User\n    gt: 2\n",
        "  type: temporal\n  rules: [whoami_exec, missing_rule]\n  group-by: [Computer]\n  timespan: 30s\n",
        "  type: temporal_ordered\n  rules: [whoami_exec, whoami_exec]\n  timespan: 2d\n",
        "  type: value_sum\n  rules: [whoami_exec]\n  timespan: 1h\n  condition:\n    field: Bytes\n    gte: 1000\n",
        "  type: value_avg\n  rules: [whoami_exec]\n  timespan: 1h\n  condition:\n    field: Bytes\n    lt: 10\n",
        "  type: value_percentile\n  rules: [whoami_exec]\n  timespan: 1h\n  condition:\n    field: Bytes\n"
        "    gte: 95\n",
    };
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        char doc[1024];
        snprintf(doc, sizeof(doc), "title: C\ncorrelation:\n%s", types[i]);
        const char *texts[2] = {whoami_rule, doc};
        struct tu_diags d2 = {0};
        struct tu_rules r = {.texts = texts, .ntexts = 2};
        rs = tu_build(&r, &d2, &ls);
        assert_non_null(rs);
        if (ls.correlations != 1)
            tu_diags_print(&d2, types[i]);
        assert_int_equal(ls.correlations, 1);
        if (i == 1)
            assert_non_null(tu_diags_find(&d2, "missing_rule"));
        stoat_ruleset_destroy(rs);
        tu_diags_free(&d2);
    }
    /* broken correlations are errors with a place */
    assert_true(
        rule_rejected("title: C\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: 5m\n", "condition"));
    assert_true(rule_rejected("title: C\ncorrelation:\n  type: events\n  rules: [a]\n  timespan: 5m\n", "events"));
    assert_true(rule_rejected("title: C\ncorrelation:\n  type: event_count\n  rules: [a]\n  timespan: soon\n"
                              "  condition: {gte: 1}\n",
                              "soon"));
    assert_true(rule_rejected("title: C\ncorrelation:\n  type: value_count\n  rules: [a]\n  timespan: 5m\n"
                              "  condition: {gte: 1}\n",
                              "field"));
}

/* A rule read by a correlation gives no alerts of its own unless the
 * correlation says `generate: true` (correlation specification, Generate). */
static void test_correlation_generate(void **state)
{
    (void)state;
    char *ev = whoami_event("bob");
    const char *texts[2] = {whoami_rule, corr_doc};
    assert_int_equal(run(texts, 2, ev, NULL, NULL), 0);
    /* `generate` is an attribute of the document (JSON schema), next to `correlation` */
    char top[1024];
    snprintf(top, sizeof(top), "%sgenerate: true\n", corr_doc);
    const char *t2[2] = {whoami_rule, top};
    assert_int_equal(run(t2, 2, ev, NULL, NULL), 1);
    /* pySigma also reads it inside the correlation map */
    char inner[1024];
    snprintf(inner, sizeof(inner), "%s  generate: true\n", corr_doc);
    const char *t3[2] = {whoami_rule, inner};
    assert_int_equal(run(t3, 2, ev, NULL, NULL), 1);
    free(ev);
}

/* ------------------------------------------------------ malformed rules */

struct bad_case {
    const char *why;       /* expected in the message */
    const char *doc;       /* one document */
    unsigned line, column; /* where (column 0: not checked) */
};

static const struct bad_case bad_cases[] = {
    {"YAML", "title: x\nlogsource: {product: windows\ndetection: {}\n", 3, 0},
    {"missing 'title'", "logsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s\n", 1, 1},
    {"missing 'logsource'", "title: x\ndetection:\n  s: {a: b}\n  condition: s\n", 1, 1},
    {"missing 'detection'", "title: x\nlogsource: {product: windows}\n", 1, 1},
    {"missing 'condition'", "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n", 4, 3},
    {"level 'severe'",
     "title: x\nlevel: severe\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n"
     "  condition: s\n",
     2, 8},
    {"status 'beta'",
     "title: x\nstatus: beta\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n"
     "  condition: s\n",
     2, 9},
    {"unknown modifier 'startwith'",
     "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n"
     "    Image|startwith: a\n  condition: s\n",
     5, 5},
    {"not a map",
     "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    Image:\n      a: b\n"
     "  condition: s\n",
     6, 7},
    {"null cannot be part of a list",
     "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n"
     "    Image:\n      - a\n      - null\n  condition: s\n",
     5, 5},
    {"'logsource' must be a map", "title: x\nlogsource: windows\ndetection:\n  s: {a: b}\n  condition: s\n", 2, 12},
    {"must be a map", "title: x\nlogsource: {product: windows}\ndetection: [a]\n", 3, 12},
    {"must be a string", "title: [x]\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s\n", 1, 8},
    {"empty", "title: x\nlogsource: {product: windows}\ndetection:\n  s: []\n  condition: s\n", 4, 6},
    {"unknown search identifier",
     "title: x\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n"
     "  condition: t\n",
     5, 14},
    {"a rule document must be a map", "- just\n- a list\n", 1, 1},
    /* a repeated key used to be kept silently, hiding one of the two values */
    {"key 'CommandLine|contains' repeated in one mapping",
     "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n"
     "    CommandLine|contains: a\n    Image: b\n    CommandLine|contains: c\n  condition: s\n",
     7, 5},
    {"key 'title' repeated in one mapping", "title: x\ntitle: y\nlogsource: {product: windows}\n", 2, 1},
    {"nesting deeper than 64", NULL, 0, 0}, /* built below */
};

static void test_malformed_rejected(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        const struct bad_case *c = &bad_cases[i];
        char deep[1024];
        const char *doc = c->doc;
        unsigned line = c->line;
        if (!doc) {
            /* 70 nested flow sequences in a detection value */
            int k = snprintf(deep, sizeof(deep),
                             "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n"
                             "    a: ");
            for (int j = 0; j < 70; j++)
                deep[k++] = '[';
            for (int j = 0; j < 70; j++)
                deep[k++] = ']';
            k += sprintf(deep + k, "\n  condition: s\n");
            doc = deep;
            line = 5;
        }
        struct tu_diag d = {0};
        if (!rule_rejected_ex(doc, NULL, c->why, &d))
            fail_msg("case %zu (%s) was not rejected as expected", i, c->why);
        if (d.line != line || (c->column && d.column != c->column))
            fail_msg("case %zu (%s): reported at %llu:%llu, expected %u:%u (%s)", i, c->why, (unsigned long long)d.line,
                     (unsigned long long)d.column, line, c->column, d.text);
        assert_non_null(d.message);
        tu_diag_clear(&d);
    }
}

/* A bad document does not stop the next ones, in the same file or the next. */
static void test_loading_goes_on(void **state)
{
    (void)state;
    char *file = malloc(8192);
    size_t k = 0;
    for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
        if (!bad_cases[i].doc || strstr(bad_cases[i].why, "YAML"))
            continue; /* a YAML syntax error ends the file's stream: see below */
        k += (size_t)sprintf(file + k, "%s---\n", bad_cases[i].doc);
    }
    k += (size_t)sprintf(file + k, "%s", whoami_rule);
    const char *texts[2] = {file, "title: [unclosed\n"};
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    char *ev = whoami_event("bob");
    assert_int_equal(run(texts, 2, ev, &ls, &ds), 1);
    assert_int_equal(ls.loaded, 1);
    assert_int_equal(ls.files, 2);
    size_t nbad = sizeof(bad_cases) / sizeof(bad_cases[0]) - 2;
    assert_int_equal(ls.rejected, nbad + 1);
    assert_true(tu_diags_count(&ds, STOAT_SEV_ERROR) >= nbad + 1);
    /* every error names its file and line */
    for (size_t i = 0; i < ds.n; i++)
        if (ds.v[i].severity == STOAT_SEV_ERROR) {
            assert_non_null(ds.v[i].file);
            assert_true(ds.v[i].line > 0);
        }
    tu_diags_free(&ds);

    /* a YAML error in a later document keeps the documents before it */
    char good_then_bad[2048];
    snprintf(good_then_bad, sizeof(good_then_bad), "%s---\ntitle: [x\n", whoami_rule);
    const char *t2[2] = {good_then_bad, "title: y\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n"
                                        "  condition: s\n"};
    assert_int_equal(run(t2, 2, ev, &ls, &ds), 1);
    assert_int_equal(ls.loaded, 2);
    const struct tu_diag *d = tu_diags_find(&ds, "YAML");
    assert_non_null(d);
    assert_string_equal(d->file, "rule1.yml");
    assert_int_equal(d->line, 20); /* libyaml finds the unclosed '[' where the stream ends */
    tu_diags_free(&ds);
    free(ev);
    free(file);
}

static void test_huge_documents(void **state)
{
    (void)state;
    /* a file over the 8 MiB cap */
    size_t big = (9u << 20);
    char *text = malloc(big + 1);
    size_t k = (size_t)sprintf(text, "title: x\ndescription: '");
    memset(text + k, 'a', big - k - 100);
    k = big - 100;
    k += (size_t)sprintf(text + k, "'\nlogsource: {product: windows}\ndetection:\n  s: {a: b}\n  condition: s\n");
    text[k] = 0;
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build1(text, &ds, &ls);
    assert_non_null(rs);
    assert_int_equal(ls.loaded, 0);
    assert_int_equal(ls.rejected, 1);
    const struct tu_diag *capd = tu_diags_find(&ds, "size cap");
    assert_non_null(capd);
    assert_int_equal(capd->code, STOAT_ERR_LIMIT);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    free(text);

    /* a document with more nodes than allowed (a 250000-value list) */
    size_t cap = 250000 * 6 + 512;
    text = malloc(cap);
    k = (size_t)sprintf(text, "title: x\nlogsource: {product: windows}\ndetection:\n  s:\n    a: [");
    for (int i = 0; i < 250000; i++)
        k += (size_t)sprintf(text + k, "%sv%d", i ? "," : "", i % 10);
    k += (size_t)sprintf(text + k, "]\n  condition: s\n");
    rs = tu_build1(text, &ds, &ls);
    assert_non_null(rs);
    assert_int_equal(ls.loaded, 0);
    assert_true(ls.rejected >= 1);
    assert_non_null(tu_diags_find(&ds, "too many nodes"));
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    free(text);

    /* a value list that is large but allowed: 5000 values still load and match */
    cap = 5000 * 24 + 512;
    text = malloc(cap);
    k = (size_t)sprintf(text, "title: x\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
                              "  s:\n    CommandLine|contains:\n");
    for (int i = 0; i < 5000; i++)
        k += (size_t)sprintf(text + k, "      - tok%05d\n", i);
    k += (size_t)sprintf(text + k, "  condition: s\n");
    char *ev = tu_event(TU_SYSMON, 1, "CommandLine", "x tok04999 y", NULL);
    char *ev2 = tu_event(TU_SYSMON, 1, "CommandLine", "x tok5000 y", NULL);
    assert_matches(text, ev, 1);
    assert_matches(text, ev2, 0);
    free(ev);
    free(ev2);
    free(text);
}

static void test_yaml_aliases(void **state)
{
    (void)state;
    /* anchors and aliases are shared nodes; an unknown alias is an error */
    const char *r = "title: x\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
                    "  a:\n    CommandLine|contains: &w whoami\n  b:\n    ParentCommandLine|contains: *w\n"
                    "  condition: a and b\n";
    expect_proc(1, r, "CommandLine", "whoami", "ParentCommandLine", "cmd /c whoami");
    expect_proc(0, r, "CommandLine", "whoami", "ParentCommandLine", "cmd");
    assert_true(rule_rejected("title: x\nlogsource: *nope\n", "alias"));
}

static void test_duplicate_id_warns(void **state)
{
    (void)state;
    const char *texts[2] = {whoami_rule, whoami_rule};
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    char *ev = whoami_event("bob");
    assert_int_equal(run(texts, 2, ev, &ls, &ds), 2); /* both kept */
    const struct tu_diag *d = tu_diags_find(&ds, "duplicate rule id");
    assert_non_null(d);
    assert_int_equal(d->severity, STOAT_SEV_WARNING);
    tu_diags_free(&ds);
    free(ev);
}

/* ----------------------------------------------------------- selection */

static const char *rule_with(const char *level, const char *status, const char *tag, const char *id,
                             const char *logsource, char *buf, size_t n)
{
    snprintf(buf, n,
             "title: r %s\nid: %s\nlevel: %s\nstatus: %s\ntags: [%s]\nlogsource: %s\n"
             "detection:\n  s:\n    CommandLine|contains: x\n  condition: s\n",
             id, id, level, status, tag, logsource);
    return buf;
}

static size_t count_selected(const struct stoat_rule_select *sel)
{
    char b[5][512];
    const char *texts[5] = {
        rule_with("low", "stable", "attack.t1003.001", "r1", TU_PROC, b[0], sizeof(b[0])),
        rule_with("high", "test", "attack.t1059", "r2", TU_PROC, b[1], sizeof(b[1])),
        rule_with("critical", "experimental", "attack.discovery", "r3", "{product: linux, category: process_creation}",
                  b[2], sizeof(b[2])),
        rule_with("medium", "deprecated", "attack.t1003.002", "r4", TU_PROC, b[3], sizeof(b[3])),
        rule_with("high", "unsupported", "cve.2021-1", "r5", "{product: windows, service: security}", b[4],
                  sizeof(b[4])),
    };
    struct tu_rules r = {.texts = texts, .ntexts = 5, .select = *sel};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls);
    assert_non_null(rs);
    assert_int_equal(ls.loaded + ls.deselected, 5);
    size_t n = stoat_ruleset_count(rs);
    assert_int_equal(n, ls.loaded);
    stoat_ruleset_destroy(rs);
    return n;
}

static void test_selection(void **state)
{
    (void)state;
    struct stoat_rule_select s = {0};
    assert_int_equal(count_selected(&s), 3); /* deprecated and unsupported left out */
    s.status_mask = (1u << STOAT_STATUS_DEPRECATED) | (1u << STOAT_STATUS_UNSUPPORTED);
    assert_int_equal(count_selected(&s), 2);
    s = (struct stoat_rule_select){.level_mask = 1u << STOAT_LEVEL_HIGH};
    assert_int_equal(count_selected(&s), 1); /* r2 (r5 is unsupported) */
    s.level_mask = (1u << STOAT_LEVEL_HIGH) | (1u << STOAT_LEVEL_CRITICAL) | (1u << STOAT_LEVEL_LOW);
    assert_int_equal(count_selected(&s), 3);
    const char *tags[] = {"attack.t1003*"};
    s = (struct stoat_rule_select){.tags = tags, .ntags = 1, .status_mask = ~0u};
    assert_int_equal(count_selected(&s), 2); /* r1, r4 */
    const char *xtags[] = {"ATTACK.*"};      /* globs ignore case */
    s = (struct stoat_rule_select){.exclude_tags = xtags, .nexclude_tags = 1, .status_mask = ~0u};
    assert_int_equal(count_selected(&s), 1); /* r5 */
    const char *ids[] = {"r2", "r3"};
    s = (struct stoat_rule_select){.ids = ids, .nids = 2};
    assert_int_equal(count_selected(&s), 2);
    const char *gids[] = {"r*"};
    const char *xids[] = {"r1"};
    s = (struct stoat_rule_select){.ids = gids, .nids = 1, .exclude_ids = xids, .nexclude_ids = 1};
    assert_int_equal(count_selected(&s), 2); /* r2, r3 */
    s = (struct stoat_rule_select){.product = "linux"};
    assert_int_equal(count_selected(&s), 1);
    s = (struct stoat_rule_select){.product = "win*", .category = "process_*", .status_mask = ~0u};
    assert_int_equal(count_selected(&s), 3); /* r1, r2, r4 */
    s = (struct stoat_rule_select){.service = "security", .status_mask = ~0u};
    assert_int_equal(count_selected(&s), 1);
}

/* ------------------------------------------------------------- routing */

#define SEC "Security"

static void test_routing_process_creation(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    Image|endswith: '\\certutil.exe'\n    ParentImage|endswith: '\\cmd.exe'\n"
                              "    CommandLine|contains: 'urlcache'\n  condition: sel\n");
    /* Sysmon 1, flat and in the SigmaHQ shape */
    char *s1 = tu_event(TU_SYSMON, 1, "Image", "C:\\W\\certutil.exe", "ParentImage", "C:\\W\\cmd.exe", "CommandLine",
                        "certutil -urlcache -f http://x", NULL);
    assert_matches(r, s1, 1);
    const char *nested =
        "{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-Windows-Sysmon\"}},"
        "\"EventID\":1,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"Computer\":\"h1\"},"
        "\"EventData\":{\"Image\":\"C:\\\\W\\\\certutil.exe\",\"ParentImage\":\"C:\\\\W\\\\cmd.exe\","
        "\"CommandLine\":\"certutil -urlcache -f http://x\"}}}\n";
    assert_matches(r, nested, 1);
    /* Security 4688 through the renames */
    char *sec = tu_event(SEC, 4688, "NewProcessName", "C:\\W\\certutil.exe", "ParentProcessName", "C:\\W\\cmd.exe",
                         "CommandLine", "certutil -urlcache -f http://x", NULL);
    assert_matches(r, sec, 1);
    /* the same fields on other events of the channels: nothing */
    char *s3 = tu_event(TU_SYSMON, 3, "Image", "C:\\W\\certutil.exe", "ParentImage", "C:\\W\\cmd.exe", "CommandLine",
                        "certutil -urlcache -f http://x", NULL);
    char *s4624 = tu_event(SEC, 4624, "NewProcessName", "C:\\W\\certutil.exe", "ParentProcessName", "C:\\W\\cmd.exe",
                           "CommandLine", "certutil -urlcache -f http://x", NULL);
    char *sec_sigma = tu_event(SEC, 4624, "Image", "C:\\W\\certutil.exe", "ParentImage", "C:\\W\\cmd.exe",
                               "CommandLine", "certutil -urlcache -f http://x", NULL);
    char *app = tu_event("Application", 1, "Image", "C:\\W\\certutil.exe", "ParentImage", "C:\\W\\cmd.exe",
                         "CommandLine", "certutil -urlcache -f http://x", NULL);
    char *lnx = tu_event("Linux-Sysmon/Operational", 1, "Image", "C:\\W\\certutil.exe", "ParentImage", "C:\\W\\cmd.exe",
                         "CommandLine", "certutil -urlcache -f http://x", NULL);
    assert_matches(r, s3, 0);
    assert_matches(r, s4624, 0);
    assert_matches(r, sec_sigma, 0);
    assert_matches(r, app, 0);
    assert_matches(r, lnx, 0);
    /* no channel at all: no logsource */
    assert_matches(r,
                   "{\"EventID\":1,\"Image\":\"C:\\\\W\\\\certutil.exe\",\"ParentImage\":\"C:\\\\W\\\\cmd.exe\","
                   "\"CommandLine\":\"certutil -urlcache\"}\n",
                   0);
    /* the renames are the 4688 view only: a Sysmon event's NewProcessName is not its Image */
    char *s1_renamed = tu_event(TU_SYSMON, 1, "NewProcessName", "C:\\W\\certutil.exe", "ParentImage", "C:\\W\\cmd.exe",
                                "CommandLine", "certutil -urlcache -f http://x", NULL);
    assert_matches(r, s1_renamed, 0);
    free(s1);
    free(sec);
    free(s3);
    free(s4624);
    free(sec_sigma);
    free(app);
    free(lnx);
    free(s1_renamed);
}

static void test_routing_4688_renames(void **state)
{
    (void)state;
    /* Security 4688's ProcessId is the creator's: ParentProcessId for Sigma,
     * while NewProcessId becomes ProcessId (renames happen at once) */
    const char *r = PROC_RULE("  sel:\n    ProcessId: '0x1f4'\n    ParentProcessId: '0x2a'\n"
                              "    User: 'bob'\n    IntegrityLevel: 'S-1-16-12288'\n    LogonId: '0x3e7'\n"
                              "  condition: sel\n");
    char *ev = tu_event(SEC, 4688, "NewProcessId", "0x1f4", "ProcessId", "0x2a", "SubjectUserName", "bob",
                        "MandatoryLabel", "S-1-16-12288", "SubjectLogonId", "0x3e7", NULL);
    assert_matches(r, ev, 1);
    char *swapped = tu_event(SEC, 4688, "NewProcessId", "0x2a", "ProcessId", "0x1f4", "SubjectUserName", "bob",
                             "MandatoryLabel", "S-1-16-12288", "SubjectLogonId", "0x3e7", NULL);
    assert_matches(r, swapped, 0);
    /* a security-service rule sees the event as written */
    const char *svc = TU_RULE("{product: windows, service: security}",
                              "  sel:\n    EventID: 4688\n    NewProcessName|endswith: '\\x.exe'\n  condition: sel\n");
    char *raw = tu_event(SEC, 4688, "NewProcessName", "C:\\x.exe", NULL);
    assert_matches(svc, raw, 1);
    free(ev);
    free(swapped);
    free(raw);
}

static void test_routing_product_only(void **state)
{
    (void)state;
    const char *r = TU_RULE("{product: windows}", "  sel:\n    Marker: 'zz-top'\n  condition: sel\n");
    static const char *const channels[] = {TU_SYSMON,
                                           "Security",
                                           "System",
                                           "Application",
                                           "Microsoft-Windows-PowerShell/Operational",
                                           "Microsoft-Windows-TaskScheduler/Operational"};
    for (size_t i = 0; i < sizeof(channels) / sizeof(channels[0]); i++) {
        char *ev = tu_event(channels[i], (int)(i * 1000 + 7), "Marker", "zz-top", NULL);
        assert_matches(r, ev, 1);
        free(ev);
    }
    char *lnx = tu_event("Linux-Sysmon/Operational", 1, "Marker", "zz-top", NULL);
    char *sensor = tu_event("stoat-sensor", 1, "Marker", "zz-top", NULL);
    assert_matches(r, lnx, 0);
    assert_matches(r, sensor, 0);
    const char *lr = TU_RULE("{product: linux}", "  sel:\n    Marker: 'zz-top'\n  condition: sel\n");
    assert_matches(lr, lnx, 1);
    assert_matches(lr, sensor, 1);
    char *win = tu_event("Security", 4624, "Marker", "zz-top", NULL);
    assert_matches(lr, win, 0);
    free(lnx);
    free(sensor);
    free(win);
}

static void test_routing_category_without_product(void **state)
{
    (void)state;
    /* category alone: Windows and Linux process creation */
    const char *r = TU_RULE("{category: process_creation}", "  sel:\n    CommandLine|contains: 'id -a'\n"
                                                            "  condition: sel\n");
    char *w = tu_event(TU_SYSMON, 1, "CommandLine", "id -a", NULL);
    char *l = tu_event("Linux-Sysmon/Operational", 1, "CommandLine", "id -a", NULL);
    char *n = tu_event("Linux-Sysmon/Operational", 3, "CommandLine", "id -a", NULL);
    assert_matches(r, w, 1);
    assert_matches(r, l, 1);
    assert_matches(r, n, 0);
    /* product + service narrowing: process creation seen through Sysmon only */
    const char *both = TU_RULE("{product: windows, category: process_creation, service: sysmon}",
                               "  sel:\n    CommandLine|contains: 'id -a'\n  condition: sel\n");
    char *sec = tu_event("Security", 4688, "CommandLine", "id -a", NULL);
    assert_matches(both, w, 1);
    assert_matches(both, sec, 0);
    free(w);
    free(l);
    free(n);
    free(sec);
}

static void test_unmapped_logsource(void **state)
{
    (void)state;
    const char *r = TU_RULE("{product: windows, category: no_such_category}",
                            "  sel:\n    CommandLine|contains: 'x'\n  condition: sel\n");
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build1(r, NULL, &ls);
    assert_non_null(rs);
    assert_int_equal(ls.loaded, 1);
    assert_int_equal(ls.unrouted, 1);
    char *ev = tu_event(TU_SYSMON, 1, "CommandLine", "x", NULL);
    struct tu_hunt h;
    tu_hunt_data(rs, ev, strlen(ev), ".jsonl", NULL, &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.stats.events, 1);
    tu_hunt_free(&h);
    stoat_ruleset_destroy(rs);
    free(ev);
    /* a logsource with nothing in it is unmapped too */
    assert_matches(TU_RULE("{}", "  sel:\n    CommandLine|contains: 'x'\n  condition: sel\n"),
                   "{\"Channel\":\"Security\",\"EventID\":4688,\"CommandLine\":\"x\"}\n", 0);
}

static void test_field_names(void **state)
{
    (void)state;
    /* field names ignore case, and spaces are stripped (Sigma's field naming) */
    const char *r = PROC_RULE("  sel:\n    commandline|contains: 'abc'\n    ThreatName: 'x'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "abc", "Threat Name", "x");
    expect_proc(1, r, "COMMANDLINE", "ABC", "ThreatName", "X");
    expect_proc(0, r, "Command_Line", "abc", "ThreatName", "x");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_multi_document),           cmocka_unit_test(test_metadata),
        cmocka_unit_test(test_filter_by_id_and_name),    cmocka_unit_test(test_filter_naming_nothing_warns),
        cmocka_unit_test(test_correlation_file_loads),   cmocka_unit_test(test_correlation_generate),
        cmocka_unit_test(test_malformed_rejected),       cmocka_unit_test(test_loading_goes_on),
        cmocka_unit_test(test_huge_documents),           cmocka_unit_test(test_yaml_aliases),
        cmocka_unit_test(test_duplicate_id_warns),       cmocka_unit_test(test_selection),
        cmocka_unit_test(test_routing_process_creation), cmocka_unit_test(test_routing_4688_renames),
        cmocka_unit_test(test_routing_product_only),     cmocka_unit_test(test_routing_category_without_product),
        cmocka_unit_test(test_unmapped_logsource),       cmocka_unit_test(test_field_names),
    };
    return cmocka_run_group_tests_name("rules", tests, NULL, NULL);
}
