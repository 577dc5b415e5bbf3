/* Regular expressions under limits: a pattern that backtracks without end
 * (^(a+)+$ on "aaa...ab") stops at the engine's match limit, the
 * evaluation counts as no match and is counted for its rule in the hunt's
 * figures, whichever thread ran it; and the rules check warns about such
 * patterns (a lint over the pattern text) while leaving alone the usual
 * ones. Nothing here is timed: the values are sized so that PCRE2's own
 * default limit (ten million steps) would let the match run to its end
 * (about four million steps), so only stoat's limit can stop it. */
#include "testutil.h"

#define EVIL_ID  "00000000-0000-4000-8000-0000000000e1"
#define PLAIN_ID "00000000-0000-4000-8000-0000000000e2"

static const char evil_rule[] = "title: Evil Nested Quantifier\n"
                                "id: " EVIL_ID "\n"
                                "status: test\n"
                                "level: medium\n"
                                "logsource: " TU_PROC "\n"
                                "detection:\n"
                                "  sel:\n"
                                "    CommandLine|re: '^(a+)+$'\n"
                                "  condition: sel\n";
static const char plain_rule[] = "title: Plain Regex\n"
                                 "id: " PLAIN_ID "\n"
                                 "status: test\n"
                                 "level: low\n"
                                 "logsource: " TU_PROC "\n"
                                 "detection:\n"
                                 "  sel:\n"
                                 "    CommandLine|re: 'whoami\\s+/(all|priv)'\n"
                                 "  condition: sel\n";

/* nevil values that set the pattern off, ngood it matches, nother neither
 * rule matches, and nwho the plain rule matches; interleaved. */
static char *events(unsigned nevil, unsigned ngood, unsigned nother, unsigned nwho)
{
    struct tu_str s = {0};
    char evil[32], good[16];
    memset(evil, 'a', 22); /* 2^22 steps to fail: under PCRE2's default limit, far over stoat's */
    evil[22] = 'b';
    evil[23] = 0;
    memset(good, 'a', 12);
    good[12] = 0;
    unsigned most = nevil > ngood ? nevil : ngood;
    most = most > nother ? most : nother;
    most = most > nwho ? most : nwho;
    for (unsigned i = 0; i < most; i++) {
        const char *v[4] = {i < nevil ? evil : NULL, i < ngood ? good : NULL, i < nother ? "cmd.exe /c dir" : NULL,
                            i < nwho ? "whoami /priv" : NULL};
        for (int k = 0; k < 4; k++) {
            if (!v[k])
                continue;
            char *e = tu_event(TU_SYSMON, 1, "Image", "C:\\x.exe", "CommandLine", v[k], NULL);
            tu_str_puts(&s, e);
            free(e);
        }
    }
    return s.p;
}

static struct stoat_ruleset *both_rules(void)
{
    const char *texts[2] = {plain_rule, evil_rule};
    struct tu_rules r = {.texts = texts, .ntexts = 2};
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, &ds, &ls);
    assert_non_null(rs);
    assert_int_equal(ls.loaded, 2);
    tu_diags_free(&ds);
    return rs;
}

/* nfiles files of the same events, hunted with threads threads */
static void check_counts(unsigned threads, unsigned nfiles)
{
    struct stoat_ruleset *rs = both_rules();
    char *ev = events(40, 7, 9, 3);
    char paths[8][256];
    const char *pp[8];
    for (unsigned f = 0; f < nfiles; f++) {
        tu_write_temp(ev, strlen(ev), ".jsonl", paths[f], sizeof(paths[f]));
        pp[f] = paths[f];
    }
    struct tu_hunt_opts o = {.threads = threads};
    struct tu_hunt h;
    assert_int_equal(tu_hunt_paths(rs, pp, nfiles, &o, &h), STOAT_OK);
    for (unsigned f = 0; f < nfiles; f++)
        unlink(paths[f]);
    /* the good values still match, the evil ones do not, and say why */
    size_t evil_alerts = 0, plain_alerts = 0;
    for (size_t i = 0; i < h.n; i++) {
        evil_alerts += !strcmp(h.v[i].rule_id, EVIL_ID);
        plain_alerts += !strcmp(h.v[i].rule_id, PLAIN_ID);
    }
    assert_int_equal(evil_alerts, 7 * nfiles);
    assert_int_equal(plain_alerts, 3 * nfiles);
    assert_int_equal(h.stats.regex_limited, 40 * nfiles);
    assert_int_equal(h.stats.regex_limited_rules, 1);
    assert_non_null(h.stats.regex_limits[0].rule);
    assert_string_equal(h.stats.regex_limits[0].rule->id, EVIL_ID);
    assert_string_equal(h.stats.regex_limits[0].rule->title, "Evil Nested Quantifier");
    assert_int_equal(h.stats.regex_limits[0].evaluations, 40 * nfiles);
    tu_hunt_free(&h);
    free(ev);
    stoat_ruleset_destroy(rs);
}

static void test_limit_counted(void **state)
{
    (void)state;
    check_counts(1, 1);
}

/* Counted per thread and summed at the end: every file's count. */
static void test_limit_counted_threads(void **state)
{
    (void)state;
    check_counts(4, 8);
}

/* Without a value that sets it off, the pattern is an ordinary one. */
static void test_no_limit_no_count(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = both_rules();
    char *ev = events(0, 5, 5, 2);
    struct tu_hunt h;
    assert_int_equal(tu_hunt_data(rs, ev, strlen(ev), ".jsonl", NULL, &h), STOAT_OK);
    assert_int_equal(h.n, 7);
    assert_int_equal(h.stats.regex_limited, 0);
    assert_int_equal(h.stats.regex_limited_rules, 0);
    tu_hunt_free(&h);
    free(ev);
    stoat_ruleset_destroy(rs);
}

/* ------------------------------------------------------------ the lint */

/* Warnings of loading a process-creation rule with this regex. */
static size_t lint_warnings(const char *re, bool caseless, struct tu_diags *ds)
{
    char rule[512];
    snprintf(rule, sizeof(rule), PROC_RULE("  sel:\n    CommandLine|re%s: '%s'\n  condition: sel\n"),
             caseless ? "|i" : "", re);
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build1(rule, ds, &ls);
    assert_non_null(rs);
    assert_int_equal(ls.loaded, 1); /* a warning, never a rejection */
    stoat_ruleset_destroy(rs);
    return tu_diags_count(ds, STOAT_SEV_WARNING);
}

/* A regex's answers are remembered per value (engine re_match): the same
 * value gives the same answer every time, values that differ in one byte
 * or only past the longest remembered length are told apart, and a value
 * the limit stops is never remembered (counted each time, as above). */
static void test_memo_same_answers(void **state)
{
    (void)state;
    const char *texts[1] = {"title: memo\nid: memo\nlevel: low\nlogsource: " TU_PROC
                            "\ndetection:\n  sel:\n    CommandLine|re: '^x+y$'\n  condition: sel\n"};
    struct tu_rules r = {.texts = texts, .ntexts = 1};
    char longy[300], longz[300];
    memset(longy, 'x', 298);
    longy[298] = 'y';
    longy[299] = 0;
    memcpy(longz, longy, sizeof(longz));
    longz[298] = 'z';
    const char *vals[] = {"xxy", "xxz", "xxy", "xxz", "xy", longy, longz, longy, longz, "xxy"};
    const int want[] = {1, 0, 1, 0, 1, 1, 0, 1, 0, 1};
    for (size_t n = 1; n <= sizeof(vals) / sizeof(vals[0]); n++) {
        /* the first n values in one hunt: one context remembers them all */
        struct tu_str s = {0};
        int expect = 0;
        for (size_t i = 0; i < n; i++) {
            char *e = tu_event(TU_SYSMON, 1, "Image", "C:\\x.exe", "CommandLine", vals[i], NULL);
            tu_str_puts(&s, e);
            free(e);
            expect += want[i];
        }
        assert_int_equal(tu_count(&r, s.p, NULL), expect);
        tu_str_free(&s);
    }
}

static void test_lint_warns(void **state)
{
    (void)state;
    static const char *const risky[] = {
        "^(a+)+$",       "(a*)*",       "(a|a)*",  "(.*a){5}",        "(\\w+\\s?)+",
        "x(\\s*\\w+)+y", "(?:(a+)|b)+", "(a|aa)+", "([a-z]+[0-9]*)+", "(\\w|\\d)+",
    };
    for (size_t i = 0; i < sizeof(risky) / sizeof(risky[0]); i++) {
        struct tu_diags ds = {0};
        if (lint_warnings(risky[i], false, &ds) != 1)
            fail_msg("no warning for %s", risky[i]);
        const struct tu_diag *d = tu_diags_find(&ds, "may backtrack without end");
        assert_non_null(d);
        assert_string_equal(d->field, "CommandLine");
        assert_int_equal(d->line, 8); /* the value's line in the rule */
        tu_diags_free(&ds);
    }
    /* the group named is the repeated one */
    struct tu_diags ds = {0};
    lint_warnings("^start(x+)+end$", false, &ds);
    assert_non_null(tu_diags_find(&ds, "the repeated group '(x+)+'"));
    tu_diags_free(&ds);
    /* caseless: A and a are the same text */
    lint_warnings("(A|a)+", true, &ds);
    assert_int_equal(tu_diags_count(&ds, STOAT_SEV_WARNING), 1);
    tu_diags_free(&ds);
}

static void test_lint_leaves_usual_patterns(void **state)
{
    (void)state;
    static const char *const fine[] = {
        "whoami\\s+/(all|priv)",
        "(\\d+\\.){3}\\d+",
        "(\\d{1,3}\\.){3}\\d{1,3}",
        "(\\w+\\s)+end",
        "(ab|ac)+",
        "(\\\\|/)+",
        "(?:[^\"]*\"){2}",
        "(?>a+)+",
        "(a++)+",
        "(a+)++",
        "(\\.exe|\\.dll)+$",
        "[\\x00-\\x1f]+",
        "(A|a)+", /* case-sensitive: not the same text */
    };
    for (size_t i = 0; i < sizeof(fine) / sizeof(fine[0]); i++) {
        struct tu_diags ds = {0};
        if (lint_warnings(fine[i], false, &ds) != 0)
            fail_msg("a warning for %s: %s", fine[i], ds.v[0].text);
        tu_diags_free(&ds);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_counted),     cmocka_unit_test(test_limit_counted_threads),
        cmocka_unit_test(test_no_limit_no_count), cmocka_unit_test(test_memo_same_answers),
        cmocka_unit_test(test_lint_warns),        cmocka_unit_test(test_lint_leaves_usual_patterns),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
