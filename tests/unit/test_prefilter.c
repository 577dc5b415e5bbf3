/* The prefilter must never hide a match: the literal "atoms" a rule is gated
 * on have to be in every event the rule matches. Checked on
 * regex_required_literal directly (every subject PCRE2 matches must contain
 * the literal, caselessly) and on whole rules whose atoms are easy to get
 * wrong (regex escapes, negations, filters, keywords, encodings). */
#include "testutil.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <ctype.h>
#include <strings.h>

#include "engine/engine.h"
#include "engine/scan_layout.h"
#include "rules/regex_literal.h"
#include "rules/ruleset.h"

static bool pcre_matches(const char *re, const char *subject)
{
    int err;
    PCRE2_SIZE off;
    pcre2_code *c =
        pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF | PCRE2_MATCH_INVALID_UTF, &err, &off, NULL);
    if (!c)
        fail_msg("test regex '%s' does not compile (offset %zu)", re, (size_t)off);
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(c, (PCRE2_SPTR)subject, strlen(subject), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    pcre2_code_free(c);
    return rc >= 0;
}

static bool contains_nocase(const char *hay, const char *needle, size_t n)
{
    size_t h = strlen(hay);
    for (size_t i = 0; i + n <= h; i++)
        if (strncasecmp(hay + i, needle, n) == 0)
            return true;
    return n == 0;
}

/* Each regex with subjects it matches (checked here with PCRE2 itself). */
static const struct {
    const char *re;
    const char *subjects[4];
    const char *want; /* the literal expected, or NULL when only safety is checked */
} regexes[] = {
    {"whoami", {"cmd /c whoami"}, "whoami"},
    {"abc|def", {"abc", "def"}, ""},
    {"a(b|c)def", {"abdef", "acdef"}, "def"},
    {"mimikatz?", {"mimikat", "mimikatz"}, "mimikat"},
    {"mimikatz*x", {"mimikatx", "mimikatzzzx"}, "mimikat"},
    {"vssadmin+ del", {"vssadminnnn del"}, NULL},
    {"ab{0,2}cdef", {"acdef", "abbcdef"}, "cdef"},
    {"(?i)mimikatz", {"MIMIKATZ"}, "mimikatz"},
    {"\\.exe$", {"a.exe"}, ".exe"},
    {"[abc]def", {"adef", "cdef"}, "def"},
    {"[^x]yz", {"ayz"}, "yz"},
    {"[]x]yz", {"]yz", "xyz"}, "yz"},
    {"foo\\d+bar", {"foo12bar"}, NULL},
    {"a.b", {"axb"}, NULL},
    {"ab\\|cd", {"ab|cd"}, "ab|cd"},
    {"(?!abc)def", {"def"}, "def"},
    {"\\.?exe", {"exe", ".exe"}, "exe"},
    {"(?x) a b c", {"abc"}, ""},
    /* escapes that stand for other characters than the ones written */
    {"\\x41BCDEF", {"ABCDEF"}, NULL},
    {"\\x{41}BCDEF", {"ABCDEF"}, NULL},
    {"\\101BCDEF", {"ABCDEF"}, NULL},
    {"\\o{101}BCDEF", {"ABCDEF"}, NULL},
    {"\\cAxyz", {"\x01xyz"}, NULL},
    {"\\N{U+41}BCD", {"ABCD"}, NULL},
    {"(?<w>ab)cd\\k<w>", {"abcdab"}, NULL},
    {"(ab)xyz\\g{1}", {"abxyzab"}, NULL},
    {"(ab)xyz\\g1", {"abxyzab"}, NULL},
    {"\\p{Lu}abc", {"Xabc"}, NULL},
    {"[[:alpha:]]abcd", {"Xabcd"}, NULL},
    {"[[:digit:]x]abcd", {"1abcd"}, NULL},
    {"ab{2}cd", {"abbcd"}, NULL},
    {"\\Qa.b\\E", {"a.b"}, NULL},
    {"\\u0041bc", {"u0041bc"}, NULL}, /* without PCRE2_ALT_BSUX \u is an error... see below */
};

static void test_regex_required_literal(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(regexes) / sizeof(regexes[0]); i++) {
        const char *re = regexes[i].re;
        int err;
        PCRE2_SIZE off;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
        if (!c)
            continue; /* not a regex PCRE2 takes (the \u case): nothing to prefilter */
        pcre2_code_free(c);
        char lit[256];
        size_t n = regex_required_literal(re, strlen(re), lit, sizeof(lit));
        for (size_t s = 0; s < 4 && regexes[i].subjects[s]; s++) {
            const char *subj = regexes[i].subjects[s];
            assert_true(pcre_matches(re, subj));
            if (!contains_nocase(subj, lit, n))
                fail_msg("regex '%s': required literal '%.*s' is not in '%s', which it matches", re, (int)n, lit, subj);
        }
        if (regexes[i].want) {
            if (n != strlen(regexes[i].want) || memcmp(lit, regexes[i].want, n) != 0)
                fail_msg("regex '%s': literal '%.*s', expected '%s'", re, (int)n, lit, regexes[i].want);
        }
    }
    /* a tiny output buffer is never overrun */
    char small[4] = {'X', 'X', 'X', 'X'};
    size_t n = regex_required_literal("abcdefgh", 8, small, 3);
    assert_true(n <= 3);
}

static bool holds_caseless(const char *subject, char b)
{
    for (const char *s = subject; *s; s++)
        if (*s == b || ((b | 0x20) >= 'a' && (b | 0x20) <= 'z' && (*s | 0x20) == (b | 0x20)))
            return true;
    return false;
}

/* Every byte regex_required_bytes names is in every subject the regex
 * matches; and groups that must occur give theirs. */
static void test_regex_required_bytes(void **state)
{
    (void)state;
    static const struct {
        const char *re;
        const char *subjects[4];
        const char *want; /* the bytes in order, or NULL: only safety */
    } more[] = {
        {"\"(?:\\{\\d\\})+\"\\s*-f", {"\"{0}{1}\" -f"}, "\"{}\"-f"},
        {"\\w+`(?:\\w+|-|.)`[\\w+|\\s]", {"a`b`c"}, "``"},
        {"(?i)\\$\\{`?e`?n`?v`?:`?p`?a`?t`?h`?\\}", {"${env:path}", "${e`nv:pAth}"}, "${env:path}"},
        {"a(?:bc)?d", {"ad", "abcd"}, "ad"},
        {"a(?:bc)*d", {"ad"}, "ad"},
        {"a(?:bc){0,2}d", {"ad"}, "ad"},
        {"a(?:bc){2}d", {"abcbcd"}, "abcd"},
        {"a(?:b|c)d", {"abd", "acd"}, "ad"},
        {"a(?<n>x;y)b", {"ax;yb"}, "ax;yb"},
        {"a(?=;)", {"a;"}, "a"},
        {"a(?<!;)b", {"ab"}, "ab"},
        {"(*UTF)x;y", {"x;y"}, "x;y"},
        {"a(?i)b", {"aB"}, "ab"},
        {"a(?i:B;)c", {"ab;c"}, "aB;c"},
        {"a((b)c)+d", {"abcd"}, "abcd"},
        {"x[(;]y", {"x(y"}, "xy"},
        {"x[]a]y", {"x]y"}, "xy"},
        {"(a|b)|c", {"c"}, ""},
        {"(?x) a ; b", {"a;b"}, ""},
    };
    char got[256];
    for (size_t i = 0; i < sizeof(more) / sizeof(more[0]); i++) {
        size_t n = regex_required_bytes(more[i].re, strlen(more[i].re), got, sizeof(got));
        for (size_t s = 0; s < 4 && more[i].subjects[s]; s++) {
            assert_true(pcre_matches(more[i].re, more[i].subjects[s]));
            for (size_t k = 0; k < n; k++)
                if (!holds_caseless(more[i].subjects[s], got[k]))
                    fail_msg("regex '%s': byte '%c' is not in '%s', which it matches", more[i].re, got[k],
                             more[i].subjects[s]);
        }
        if (more[i].want && (n != strlen(more[i].want) || memcmp(got, more[i].want, n) != 0))
            fail_msg("regex '%s': bytes '%.*s', expected '%s'", more[i].re, (int)n, got, more[i].want);
    }
    /* and the literal table's regexes: no byte outside what they match */
    for (size_t i = 0; i < sizeof(regexes) / sizeof(regexes[0]); i++) {
        int err;
        PCRE2_SIZE off;
        pcre2_code *c = pcre2_compile((PCRE2_SPTR)regexes[i].re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
        if (!c)
            continue;
        pcre2_code_free(c);
        size_t n = regex_required_bytes(regexes[i].re, strlen(regexes[i].re), got, sizeof(got));
        for (size_t s = 0; s < 4 && regexes[i].subjects[s]; s++)
            for (size_t k = 0; k < n; k++)
                if (!holds_caseless(regexes[i].subjects[s], got[k]))
                    fail_msg("regex '%s': byte '%c' is not in '%s', which it matches", regexes[i].re, got[k],
                             regexes[i].subjects[s]);
    }
    /* a tiny output buffer is never overrun */
    char small[4] = {'X', 'X', 'X', 'X'};
    assert_true(regex_required_bytes("a;b;c;d;e", 9, small, 3) <= 3);
}

/* The same through whole rules: a regex whose written characters are not
 * the ones it matches must still fire. */
static void test_regex_rules_not_hidden(void **state)
{
    (void)state;
    static const struct {
        const char *re;    /* YAML single-quoted */
        const char *value; /* an event value it matches */
    } cases[] = {
        {"\\x41BCDEF", "xx ABCDEF yy"}, {"\\x{41}BCDEF", "ABCDEF"},   {"\\101BCDEF", "ABCDEF"},
        {"\\cAxyz", "\x01xyz"},         {"[[:alpha:]]abcd", "Xabcd"}, {"(?<w>ab)cdef\\k<w>", "abcdefab"},
        {"(ab)xyzw\\g{1}", "abxyzwab"}, {"\\N{U+41}BCD", "ABCD"},     {"\\o{101}BCDEF", "ABCDEF"},
        {"mimikatz?", "mimikat"},       {"ab{0,2}cdef", "acdef"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char rule[512];
        snprintf(rule, sizeof(rule), PROC_RULE("  sel:\n    CommandLine|re: '%s'\n  condition: sel\n"), cases[i].re);
        assert_true(pcre_matches(cases[i].re, cases[i].value));
        int got = tu_match_proc(rule, "CommandLine", cases[i].value, NULL);
        if (got != 1)
            fprintf(stderr, "  -- re '%s' on '%s': %d alerts (the prefilter hid the match)\n", cases[i].re,
                    cases[i].value, got);
        assert_int_equal(got, 1);
    }
}

static void test_atoms_with_logic(void **state)
{
    (void)state;
    /* OR of a gated and an ungated branch: the ungated one still fires */
    const char * or = PROC_RULE("  a:\n    CommandLine|contains: 'longliteral'\n  b:\n    IntegrityLevel|neq: 'x'\n"
                                "  condition: a or b\n");
    expect_proc(1, or, "IntegrityLevel", "High");
    /* NOT of a gated selection */
    const char *not = PROC_RULE("  a:\n    Image|endswith: '\\cmd.exe'\n  f:\n    CommandLine|contains: 'harmless'\n"
                                "  condition: a and not f\n");
    expect_proc(1, not, "Image", "C:\\cmd.exe", "CommandLine", "evil");
    expect_proc(0, not, "Image", "C:\\cmd.exe", "CommandLine", "harmless");
    /* 2 of 3 */
    const char *two = PROC_RULE("  s1:\n    CommandLine|contains: 'alpha'\n  s2:\n    CommandLine|contains: 'bravo'\n"
                                "  s3:\n    CommandLine|contains: 'charlie'\n  condition: 2 of s*\n");
    expect_proc(1, two, "CommandLine", "charlie alpha");
    expect_proc(0, two, "CommandLine", "charlie");
    /* literals shorter than an atom, and wildcard-only values */
    const char *shortv = PROC_RULE("  a:\n    CommandLine|contains: 'ab'\n    Image: '*'\n  condition: a\n");
    expect_proc(1, shortv, "CommandLine", "xaby", "Image", "i");
    /* the same atom in two rules and in a filter */
    const char *texts[3] = {
        "title: one\nid: r1\nlogsource: {product: windows, category: process_creation}\ndetection:\n  s:\n"
        "    CommandLine|contains: 'secretsdump'\n  condition: s\n",
        "title: two\nid: r2\nlogsource: {product: windows, category: process_creation}\ndetection:\n  s:\n"
        "    CommandLine|contains|all: ['secretsdump', '-just-dc']\n  condition: s\n",
        "title: f\nlogsource: {product: windows, category: process_creation}\nfilter:\n  rules: [r2]\n"
        "  selection:\n    CommandLine|contains: 'secretsdump.py'\n  condition: selection\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 3};
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,"
                              "\"CommandLine\":\"python secretsdump -just-dc x\"}\n",
                              NULL),
                     2);
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,"
                              "\"CommandLine\":\"python secretsdump.py -just-dc x\"}\n",
                              NULL),
                     1);
}

static void test_atoms_case_and_encoding(void **state)
{
    (void)state;
    /* the prefilter is caseless like the matcher, also for cased and re|i */
    const char *c = PROC_RULE("  a:\n    CommandLine|contains|cased: 'DumpCreds'\n  condition: a\n");
    expect_proc(1, c, "CommandLine", "x -DumpCreds");
    const char *ri = PROC_RULE("  a:\n    CommandLine|re|i: 'invoke-mimikatz'\n  condition: a\n");
    expect_proc(1, ri, "CommandLine", "INVOKE-MIMIKATZ");
    /* non-ASCII letters fold in the matcher; atoms must not need them folded */
    const char *na = PROC_RULE("  a:\n    CommandLine|contains: 'ÄÖÜabc'\n  condition: a\n");
    expect_proc(1, na, "CommandLine", "x äöüABC y");
    const char *cy = PROC_RULE("  a:\n    CommandLine|contains: 'ДОКУМЕНТЫ'\n  condition: a\n");
    expect_proc(1, cy, "CommandLine", "copy документы");
    /* values that span fields are not found (the scan separates values) */
    const char *span = PROC_RULE("  a:\n    CommandLine|contains: 'alphabravo'\n  condition: a\n");
    expect_proc(0, span, "CommandLine", "alpha", "Image", "bravo");
}

/* Short startswith/endswith/equals literals are gated on the value's edges
 * (the scan puts a NUL between values): the edge must be the value's own. */
static void test_edge_atoms(void **state)
{
    (void)state;
    const char *end = PROC_RULE("  a:\n    Image|endswith: '/id'\n  condition: a\n");
    expect_proc(1, end, "Image", "/usr/bin/id");
    expect_proc(1, end, "Image", "/ID");
    expect_proc(0, end, "Image", "/usr/bin/idx");
    expect_proc(1, end, "CommandLine", "x", "Image", "/bin/id"); /* not the first value */
    expect_proc(1, end, "Image", "/bin/id", "CommandLine", "x"); /* not the last */
    const char *start = PROC_RULE("  a:\n    CommandLine|startswith: 'w '\n  condition: a\n");
    expect_proc(1, start, "CommandLine", "w -h");
    expect_proc(1, start, "Image", "/usr/bin/w", "CommandLine", "w -h");
    expect_proc(0, start, "CommandLine", "ls w -h");
    /* the event's very first value */
    assert_int_equal(count_matches(start, "{\"CommandLine\":\"w -h\",\"Channel\":\"" TU_SYSMON "\",\"EventID\":1}\n"),
                     1);
    const char *eq = PROC_RULE("  a:\n    User: 'ab'\n  condition: a\n");
    expect_proc(1, eq, "User", "AB");
    expect_proc(0, eq, "User", "abc");
    expect_proc(1, eq, "CommandLine", "ab", "User", "ab");
    /* a value that itself holds a NUL byte does not confuse the edges */
    const char *nul = PROC_RULE("  a:\n    Image|endswith: '/id'\n  condition: a\n");
    expect_proc(1, nul, "Image", "a\\u0000/bin/id");
}

/* The scan holds only the values of fields the rules name: keywords still
 * see every value, and a renamed field is scanned under the event's name. */
static void test_named_field_scan(void **state)
{
    (void)state;
    const char *texts[2] = {
        "title: kw\nid: kw\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  k:\n    - 'kwlongliteral'\n  condition: k\n",
        "title: img\nid: img\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    Image|endswith: '\\evilbinary.exe'\n  condition: s\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 2};
    /* a keyword in a field no rule names */
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,"
                              "\"NoRuleNamesThis\":\"x kwlongliteral y\"}\n",
                              NULL),
                     1);
    /* the field rule's literal only in an unnamed field: no match */
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,"
                              "\"Image\":\"C:\\\\a.exe\",\"Other\":\"C:\\\\evilbinary.exe\"}\n",
                              NULL),
                     0);
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,"
                              "\"Image\":\"C:\\\\evilbinary.exe\"}\n",
                              NULL),
                     1);
    /* Security 4688 names the image NewProcessName: renamed to Image */
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"Security\",\"EventID\":4688,"
                              "\"NewProcessName\":\"C:\\\\evilbinary.exe\"}\n",
                              NULL),
                     1);
}

/* A field a database reads twice: Security 4688's NewProcessName is Image
 * too (renamed), and a rule reads it under its own name as well. The scan
 * buffer, sized for every value of the event once, grows for the second
 * copy; the values written after it (CommandLine's) must still be seen. */
static void test_field_scanned_twice_grows_its_buffer(void **state)
{
    (void)state;
    const char *texts[3] = {
        "title: img\nid: img\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    Image|endswith: '\\evilbinary.exe'\n  condition: s\n",
        "title: npn\nid: npn\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    NewProcessName|endswith: '\\evilbinary.exe'\n  condition: s\n",
        "title: cmd\nid: cmd\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    CommandLine|contains: 'longcmdliteral'\n  condition: s\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 3};
    struct tu_str ev = {0};
    for (int len = 100; len <= 4000; len *= 3) {
        tu_str_puts(&ev, "{\"Channel\":\"Security\",\"EventID\":4688,\"NewProcessName\":\"C:\\\\");
        for (int i = 0; i < len; i++)
            tu_str_puts(&ev, "a");
        tu_str_puts(&ev, "\\\\evilbinary.exe\",\"CommandLine\":\"x longcmdliteral y\"}\n");
    }
    assert_int_equal(tu_count(&r, ev.p, NULL), 3 * 4);
    tu_str_free(&ev);
}

/* A ruleset of stoat's own rules and one rule no Windows event reaches. */
static struct stoat_ruleset *hidden_only(void)
{
    return tu_build1("title: other\nlogsource: {product: linux, category: process_creation}\ndetection:\n"
                     "  s:\n    Image|endswith: '/nothing-here'\n  condition: s\n",
                     NULL, NULL);
}

/* Evaluations of stoat's own (hidden) rules on these events: what a test
 * counting its own rules' evaluations takes off. */
static uint64_t hidden_evaluations(const char *events, size_t len)
{
    struct stoat_ruleset *rs0 = hidden_only();
    struct tu_hunt h;
    tu_hunt_data(rs0, events, len, ".jsonl", NULL, &h);
    uint64_t n = h.stats.evaluated;
    tu_hunt_free(&h);
    stoat_ruleset_destroy(rs0);
    return n;
}

/* Two requirement sets: a rule whose AND has two gating parts is evaluated
 * only on events holding an atom of each, and matches exactly as before. */
static void test_two_set_gating(void **state)
{
    (void)state;
    const char *texts[2] = {
        "title: csi\nid: csi\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  img:\n    Image|endswith: '\\csi.exe'\n  co:\n    Company: 'Microsoft Corporation'\n"
        "  condition: img and co\n",
        "title: or\nid: or\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  a:\n    CommandLine|contains: 'alphalit'\n  b:\n    User|contains: 'bravolit'\n"
        "  c:\n    Image|endswith: '\\charlie.exe'\n  condition: (a and b) or c\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 2};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls);
    assert_int_equal(ls.loaded, 2);
    struct tu_str ev = {0};
    /* 50 events with the common part only: nothing evaluated */
    for (int i = 0; i < 50; i++)
        tu_str_printf(&ev,
                      "{\"Channel\":\"%s\",\"EventID\":1,\"Company\":\"Microsoft Corporation\","
                      "\"Image\":\"C:\\\\w\\\\other%d.exe\",\"CommandLine\":\"alphalit\"}\n",
                      TU_SYSMON, i);
    struct tu_hunt h;
    tu_hunt_data(rs, ev.p, ev.len, ".jsonl", NULL, &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.stats.evaluated - hidden_evaluations(ev.p, ev.len), 0);
    tu_hunt_free(&h);
    tu_str_free(&ev);
    stoat_ruleset_destroy(rs);
    /* and the matches are the specification's */
    const char *both = "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Company\":\"Microsoft Corporation\","
                       "\"Image\":\"C:\\\\x\\\\csi.exe\"}\n";
    assert_int_equal(tu_count(&r, both, NULL), 1);
    assert_int_equal(
        tu_count(&r, "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":\"C:\\\\x\\\\csi.exe\"}\n", NULL), 0);
    /* (a and b) or c: c alone, a with b, not a alone */
    assert_int_equal(
        tu_count(&r, "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":\"C:\\\\charlie.exe\"}\n", NULL), 1);
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"x alphalit\","
                              "\"User\":\"bravolit\"}\n",
                              NULL),
                     1);
    assert_int_equal(
        tu_count(&r, "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"x alphalit\"}\n", NULL), 0);
    assert_int_equal(tu_count(&r,
                              "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"alphalit\","
                              "\"User\":\"bravolit\",\"Image\":\"C:\\\\charlie.exe\"}\n",
                              NULL),
                     1);
}

/* Many rules in one group: each fires on its own word, none on another's. */
static void test_many_rules(void **state)
{
    (void)state;
    enum {
        N = 300
    };
    char **texts = calloc(N, sizeof(*texts));
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(512);
        snprintf(texts[i], 512,
                 "title: r%d\nid: id-%d\nlogsource: {product: windows, category: process_creation}\n"
                 "detection:\n  s:\n    CommandLine|%s: 'word%04dx'\n  condition: s\n",
                 i, i,
                 i % 3 == 0   ? "contains"
                 : i % 3 == 1 ? "endswith"
                              : "startswith",
                 i);
    }
    struct tu_rules r = {.texts = (const char *const *)texts, .ntexts = N};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls);
    assert_int_equal(ls.loaded, N);
    struct tu_str ev = {0};
    for (int i = 0; i < N; i++)
        tu_str_printf(&ev, "{\"Channel\":\"%s\",\"EventID\":1,\"CommandLine\":\"word%04dx\"}\n", TU_SYSMON, i);
    struct tu_hunt h;
    tu_hunt_data(rs, ev.p, ev.len, ".jsonl", NULL, &h);
    assert_int_equal(h.n, N);
    for (int i = 0; i < N; i++) {
        char id[32];
        snprintf(id, sizeof(id), "id-%d", i);
        assert_string_equal(h.v[i].rule_id, id);
        assert_int_equal(h.v[i].record, (uint64_t)i + 1);
    }
    /* the prefilter did its job: far fewer evaluations than candidates */
    assert_true(h.stats.candidates == (uint64_t)N * N);
    assert_true(h.stats.evaluated < h.stats.candidates / 10);
    tu_hunt_free(&h);
    tu_str_free(&ev);
    stoat_ruleset_destroy(rs);
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(texts);
}

/* The databases report an atom at every place it occurs, not once per scan:
 * an event repeating an atom hundreds of times, in one field and in two, is
 * matched and evaluated exactly as one holding it once (the parent's atom
 * carries the NUL that ends a value, so values joined by NULs repeat it). */
static void test_repeated_atoms(void **state)
{
    (void)state;
    const char *texts[3] = {
        "title: cl\nid: cl\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    CommandLine|contains: 'repeatlit'\n  condition: s\n",
        "title: both\nid: both\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  a:\n    CommandLine|contains: 'repeatlit'\n  b:\n    ParentImage|endswith: '\\repparent.exe'\n"
        "  condition: a and b\n",
        "title: par\nid: par\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    ParentImage|endswith: '\\repparent.exe'\n  condition: s\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 3};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls);
    assert_int_equal(ls.loaded, 3);
    for (int reps = 1; reps <= 300; reps += 299) {
        struct tu_str ev = {0};
        /* all three; the command line only; the parent only (its atom also
         * repeated in another field of the same database) */
        tu_str_printf(&ev, "{\"Channel\":\"%s\",\"EventID\":1,\"CommandLine\":\"", TU_SYSMON);
        for (int i = 0; i < reps; i++)
            tu_str_puts(&ev, "repeatlit ");
        tu_str_puts(&ev, "\",\"ParentImage\":\"C:\\\\repparent.exe\"}\n");
        tu_str_printf(&ev, "{\"Channel\":\"%s\",\"EventID\":1,\"CommandLine\":\"", TU_SYSMON);
        for (int i = 0; i < reps; i++)
            tu_str_puts(&ev, "xrepeatlitx");
        tu_str_puts(&ev, "\"}\n");
        tu_str_printf(&ev, "{\"Channel\":\"%s\",\"EventID\":1,\"ParentImage\":\"", TU_SYSMON);
        for (int i = 1; i < reps; i++)
            tu_str_puts(&ev, "C:\\\\repparent.exe\\u0000");
        tu_str_puts(&ev, "C:\\\\repparent.exe\"}\n");
        struct tu_hunt h;
        tu_hunt_data(rs, ev.p, ev.len, ".jsonl", NULL, &h);
        assert_int_equal(h.n, 5);
        const char *want[5][2] = {{"cl", "1"}, {"both", "1"}, {"par", "1"}, {"cl", "2"}, {"par", "3"}};
        for (int i = 0; i < 5; i++) {
            assert_string_equal(h.v[i].rule_id, want[i][0]);
            assert_int_equal(h.v[i].record, (uint64_t)atoi(want[i][1]));
        }
        /* each rule evaluated once where its atoms are, however often they occur */
        assert_int_equal(h.stats.evaluated - hidden_evaluations(ev.p, ev.len), 5);
        tu_hunt_free(&h);
        tu_str_free(&ev);
    }
    stoat_ruleset_destroy(rs);
}

/* Rule evaluations the prefilter lets through for one event. */
static uint64_t evaluations(const struct stoat_ruleset *rs, const char *const *kv, size_t nkv, bool *matched,
                            uint32_t rule)
{
    struct engine_ctx *c = engine_ctx_create(rs);
    engine_event_begin(c);
    for (size_t i = 0; i + 1 < nkv; i += 2)
        engine_event_add(c, kv[i], (uint32_t)strlen(kv[i]), engine_field_id(c, kv[i], strlen(kv[i])), kv[i + 1],
                         (uint32_t)strlen(kv[i + 1]), STOAT_V_STRING);
    const uint32_t *rules;
    size_t n = engine_event_match(c, &rules);
    bool gated = false;
    for (size_t i = 0; i < n; i++)
        gated |= (rules[i] & ~ENGINE_DEFERRED) == rule;
    if (matched) {
        /* and without the prefilter (engine_eval_rule scans nothing) */
        if (engine_eval_rule(c, rule) != gated)
            fail_msg("rule %s: %s the prefilter", rs->rules[rule].meta.title,
                     gated ? "matches only with" : "matches only without");
        *matched = gated;
    }
    struct engine_counters k;
    engine_counters(c, &k);
    engine_ctx_destroy(c);
    return k.evaluated;
}

/* One event through the engine with the prefilter (engine_event_match) and
 * without it: for the rule with this id the two must agree. Returns whether
 * it matched and, in *own, how many of the test's rules the prefilter let
 * through (evaluations beyond those of stoat's own hidden rules, counted on
 * rs0, a ruleset without the test's). */
static int with_and_without(const struct stoat_ruleset *rs, const struct stoat_ruleset *rs0, const char *id,
                            const char *const *kv, size_t nkv, uint64_t *own)
{
    uint32_t rule = UINT32_MAX;
    for (uint32_t r = 0; r < rs->nrules; r++)
        if (rs->rules[r].meta.id && strcmp(rs->rules[r].meta.id, id) == 0)
            rule = r;
    assert_true(rule != UINT32_MAX);
    bool matched;
    uint64_t ev = evaluations(rs, kv, nkv, &matched, rule);
    *own = ev - evaluations(rs0, kv, nkv, NULL, UINT32_MAX);
    return matched;
}

#define KV(...) (const char *const[]){__VA_ARGS__}, sizeof((const char *const[]){__VA_ARGS__}) / sizeof(char *)

/* Every pattern of an |all test must match, so each one's atom is a
 * requirement of its own: the rule is gated on two of them (sets A and B),
 * and runs only where both are. */
static void test_all_gives_two_sets(void **state)
{
    (void)state;
    const char *texts[2] = {
        "title: termsrv\nid: t1\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    ParentCommandLine|contains|all: ['\\svchost.exe', 'termsvcs']\n"
        "  f:\n    Image|endswith: '\\rdpclip.exe'\n  condition: s and not f\n",
        "title: three\nid: t2\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    CommandLine|contains|all: ['findstr', 'wscript.exe', '.lnk', 'ab', 'findstr']\n  condition: s\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 2};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls), *rs0 = hidden_only();
    assert_int_equal(ls.loaded, 2);
    uint64_t ev;
#define PROC(...) KV("Channel", TU_SYSMON, "EventID", "1", __VA_ARGS__)
    /* one atom of each rule only: neither evaluated */
    assert_int_equal(with_and_without(rs, rs0, "t1",
                                      PROC("ParentCommandLine", "C:\\Windows\\System32\\svchost.exe -k netsvcs",
                                           "CommandLine", "findstr x.lnk"),
                                      &ev),
                     0);
    assert_int_equal(ev, 0);
    /* both rules' atoms: both run and match */
    assert_int_equal(with_and_without(rs, rs0, "t1",
                                      PROC("ParentCommandLine", "C:\\x\\svchost.exe -k termsvcs", "Image",
                                           "C:\\x\\cmd.exe", "CommandLine", "findstr ab wscript.exe .lnk"),
                                      &ev),
                     1);
    assert_int_equal(ev, 2);
    assert_int_equal(with_and_without(rs, rs0, "t2",
                                      PROC("ParentCommandLine", "C:\\x\\svchost.exe -k termsvcs", "Image",
                                           "C:\\x\\cmd.exe", "CommandLine", "findstr ab wscript.exe .lnk"),
                                      &ev),
                     1);
    /* the filter still works; the short pattern still counts */
    assert_int_equal(
        with_and_without(rs, rs0, "t1",
                         PROC("ParentCommandLine", "C:\\x\\svchost.exe -k termsvcs", "Image", "C:\\rdpclip.exe"), &ev),
        0);
    assert_int_equal(with_and_without(rs, rs0, "t2", PROC("CommandLine", "findstr wscript.exe .lnk"), &ev), 0);
    stoat_ruleset_destroy(rs);
    stoat_ruleset_destroy(rs0);
}

/* Whether a reference search finds one of the needles in v, ASCII letters
 * compared caselessly (as the rule's contains does). */
static bool any_contains_nocase(const char *v, const char *const *needles, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (strcasestr(v, needles[k]))
            return true;
    return false;
}

/* A list of short literals (no atom: the rule runs on every process start)
 * rejects a value that holds none of their needed bytes: a value shorter
 * than the byte set pays for is looked at byte by byte. Many values of
 * every length around that bound, from bytes that the literals need and
 * bytes they do not (upper case among them, and a non-ASCII character),
 * matched through the engine with and without its prefilter, against a
 * plain search. */
static void test_short_values_need_bytes(void **state)
{
    (void)state;
    static const char *const needles[] = {"^^", ",;,", "qx", "\xe2\x82\xac", "%c"};
    const char *rule = PROC_RULE("  sel:\n    CommandLine|contains:\n      - '^^'\n      - ',;,'\n      - 'Qx'\n"
                                 "      - '\xe2\x82\xac'\n      - '%c'\n  condition: sel\n");
    struct stoat_ruleset *rs = tu_build1(rule, NULL, NULL);
    assert_non_null(rs);
    assert_true(rs->nrules > rs->nhidden);
    uint32_t r = 0;                                /* the hidden rules come last */
    assert_int_equal(rs->rules[r].prog.natoms, 0); /* ungated: the byte check is what rejects */
    static const char *const pieces[] = {"^", ",", ";", "%", "c", "C", "q", "Q", "x", "X", "a", " ", "\xe2\x82\xac",
                                         "\\"};
    const size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
    uint64_t seed = 12345;
    size_t matched = 0, tried = 0;
    for (size_t len = 1; len <= 24; len++)
        for (int round = 0; round < 400; round++) {
            char v[128];
            size_t n = 0;
            while (n < len) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                const char *p = pieces[(seed >> 33) % npieces];
                size_t pl = strlen(p);
                if (n + pl >= sizeof(v))
                    break;
                memcpy(v + n, p, pl);
                n += pl;
            }
            v[n] = 0;
            bool want = any_contains_nocase(v, needles, sizeof(needles) / sizeof(needles[0]));
            bool got;
            evaluations(rs, PROC("CommandLine", v), &got, r); /* fails when the two paths differ */
            if (got != want)
                fail_msg("'%s': %s", v, want ? "missed" : "matched");
            matched += got;
            tried++;
        }
    assert_true(matched > tried / 10 && matched < tried - tried / 10); /* both kinds were tried */
    stoat_ruleset_destroy(rs);
}

/* A value made of random pieces, at most len bytes long (*seed advances). */
static void random_value(uint64_t *seed, const char *const *pieces, size_t npieces, size_t len, char *v, size_t cap)
{
    size_t n = 0;
    while (n < len) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        const char *p = pieces[(*seed >> 33) % npieces];
        size_t pl = strlen(p);
        if (n + pl >= cap)
            break;
        memcpy(v + n, p, pl);
        n += pl;
    }
    v[n] = 0;
}

/* Rules without atoms (as SigmaHQ's obfuscation, lookalike-letter and bare
 * regex rules of process starts) are ended by their byte gate on events
 * lacking every byte one of their tests needs: over many events, some
 * matching, the engine with its gates (engine_event_match, one context for
 * all, as a hunting thread) must agree with engine_eval_rule, which reads
 * each rule's whole tree; and the gates must have ended some evaluations. */
static void test_byte_gates(void **state)
{
    (void)state;
    const char *texts[] = {
        /* short literals (no atom) of rare bytes */
        "title: dosf\nid: g1\nlogsource: " TU_PROC "\ndetection:\n  sel:\n    CommandLine|contains:\n"
        "      - '^^'\n      - ',;,'\n      - ' c^m'\n  condition: sel\n",
        /* bare regexes (one byte literals) and a filter */
        "title: token\nid: g2\nlogsource: " TU_PROC "\ndetection:\n  sel:\n"
        "    - CommandLine|re: '\\w+`(?:\\w+|-|.)`'\n    - CommandLine|re: '\"(?:\\{\\d\\})+\"\\s*-f'\n"
        "  filter:\n    CommandLine|contains: '${env:path}'\n  condition: sel and not filter\n",
        /* letters that fold (Cyrillic), in two selections of one field */
        "title: glyph\nid: g3\nlogsource: " TU_PROC "\ndetection:\n  upper:\n    CommandLine|contains:\n"
        "      - \"\\u0410\"\n      - \"\\u0421\"\n  lower:\n    CommandLine|contains:\n      - \"\\u0430\"\n"
        "      - \"\\u03bf\"\n  condition: 1 of upper or 1 of lower\n",
        /* an image's letters and odd characters, neither with an atom: the rarer gate */
        "title: uni\nid: g4\nlogsource: " TU_PROC "\ndetection:\n  img:\n    Image|contains: 'md'\n"
        "  chars:\n    CommandLine|contains:\n      - \"\\u02e3\"\n      - \"\\u00a0\"\n      - '^'\n  condition: img and chars\n",
        /* a cased list: a letter that folds (Cyrillic Io, to other bytes) gates nothing */
        "title: cased\nid: g5\nlogsource: " TU_PROC "\ndetection:\n  sel:\n    CommandLine|contains|cased:\n"
        "      - '%X'\n      - '~$'\n      - \"\\u0401\"\n  condition: sel\n",
    };
    const size_t nt = sizeof(texts) / sizeof(texts[0]);
    struct tu_rules tr = {.texts = texts, .ntexts = nt};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&tr, NULL, &ls);
    assert_int_equal(ls.loaded, nt);
    static const char *const pieces[] = {
        "a",           "b",        "Q",         "x ",       "-f",       "`",        "w`x`y",    "\"{0}{1}\" -f",
        "${env:path}", "^",        "^^",        ",",        ";",        ",;,",      " c^m",     "\xd0\x90",
        "\xd0\xb0",    "\xd0\xa1", "\xd1\x81",  "\xce\x9f", "\xcf\x8f", "\xce\xbf", "\xcb\xa3", "\xc2\xa0",
        "%x",          "%X",       "~$",        "\xd0\x81", "\xd1\x91", "~",        "$",        "\\",
        ".",           "0",        "          "};
    static const char *const images[] = {"C:\\Windows\\System32\\cmd.exe", "C:\\x\\CMD.EXE", "C:\\x\\pwsh.exe", ""};
    struct engine_ctx *c = engine_ctx_create(rs);
    uint32_t cl = engine_field_id(c, "CommandLine", 11), img = engine_field_id(c, "Image", 5),
             ch = engine_field_id(c, "Channel", 7), eid = engine_field_id(c, "EventID", 7);
    uint64_t seed = 777;
    size_t matches[8] = {0};
    for (int round = 0; round < 6000; round++) {
        char v[160];
        random_value(&seed, pieces, sizeof(pieces) / sizeof(pieces[0]), 1 + (size_t)(round % 40), v, sizeof(v));
        const char *im = images[(seed >> 40) % 4];
        engine_event_begin(c);
        engine_event_add(c, "Channel", 7, ch, TU_SYSMON, (uint32_t)strlen(TU_SYSMON), STOAT_V_STRING);
        engine_event_add(c, "EventID", 7, eid, "1", 1, STOAT_V_STRING);
        engine_event_add(c, "CommandLine", 11, cl, v, (uint32_t)strlen(v), STOAT_V_STRING);
        if (round % 7) /* and now and then an event without the image */
            engine_event_add(c, "Image", 5, img, im, (uint32_t)strlen(im), STOAT_V_STRING);
        const uint32_t *hit;
        size_t n = engine_event_match(c, &hit);
        for (uint32_t r = 0; r < rs->nrules - rs->nhidden; r++) {
            bool gated = false;
            for (size_t i = 0; i < n; i++)
                gated |= (hit[i] & ~ENGINE_DEFERRED) == r;
            if (engine_eval_rule(c, r) != gated)
                fail_msg("rule %s on '%s': %s the byte gates", rs->rules[r].meta.title, v,
                         gated ? "matches only with" : "matches only without");
            matches[r < 8 ? r : 7] += gated;
        }
    }
    struct engine_counters k;
    engine_counters(c, &k);
    for (uint32_t r = 0; r < nt; r++)
        if (matches[r] < 20 || matches[r] > 5000)
            fail_msg("rule %s matched %zu of 6000 events: too few or too many to tell", rs->rules[r].meta.title,
                     matches[r]);
    if (getenv("TU_VERBOSE"))
        fprintf(stderr, "byte gates: %zu %zu %zu %zu %zu matches, %llu ended\n", matches[0], matches[1], matches[2],
                matches[3], matches[4], (unsigned long long)k.byte_gated);
    assert_true(k.byte_gated > 6000); /* the gates did end evaluations */
    engine_ctx_destroy(c);
    stoat_ruleset_destroy(rs);
}

/* Atoms nearly every event of a logsource holds (a boolean value, a short
 * value start as startswith '0x', a small number) are chosen last: the rule
 * is gated on its port instead of Initiated 'true', and a rule with nothing
 * better is still gated on them and still matches. */
static void test_weak_atoms_chosen_last(void **state)
{
    (void)state;
    const char *texts[3] = {
        "title: winrm\nid: w1\nlogsource: {product: windows, category: raw_access_thread}\ndetection:\n"
        "  s:\n    DestinationPort: [5985, 5986]\n    Initiated: 'true'\n    SourceIsIpv6: 'false'\n"
        "  condition: s\n",
        "title: weakonly\nid: w2\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    EventID: 1\n    LogonId|startswith: '0x'\n    IntegrityLevel: 'High'\n  condition: s\n",
        "title: short\nid: w3\nlogsource: {product: windows, category: raw_access_thread}\ndetection:\n"
        "  s:\n    Description: '\\?'\n  f:\n    Image|contains: '\\Downloads\\'\n  condition: s and f\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 3};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls), *rs0 = hidden_only();
    assert_int_equal(ls.loaded, 3);
    uint64_t ev;
#define RAW(...) KV("Channel", TU_SYSMON, "EventID", "9", __VA_ARGS__)
    assert_int_equal(with_and_without(rs, rs0, "w1",
                                      RAW("DestinationPort", "443", "Initiated", "true", "SourceIsIpv6", "false"), &ev),
                     0);
    assert_int_equal(ev, 0);
    assert_int_equal(with_and_without(rs, rs0, "w1",
                                      RAW("DestinationPort", "5986", "Initiated", "true", "SourceIsIpv6", "false"),
                                      &ev),
                     1);
    assert_int_equal(ev, 1);
    assert_int_equal(with_and_without(rs, rs0, "w1",
                                      RAW("DestinationPort", "5986", "Initiated", "false", "SourceIsIpv6", "false"),
                                      &ev),
                     0);
    /* only weak atoms: still gated on them, still matching */
    assert_int_equal(with_and_without(rs, rs0, "w2", PROC("LogonId", "0x3e7", "IntegrityLevel", "High"), &ev), 1);
    assert_int_equal(with_and_without(rs, rs0, "w2", PROC("LogonId", "0x3e7", "IntegrityLevel", "Medium"), &ev), 0);
    assert_int_equal(with_and_without(rs, rs0, "w2", PROC("LogonId", "3e7", "IntegrityLevel", "High"), &ev), 0);
    /* a short whole value is no value edge: it still gates, beside the other */
    assert_int_equal(with_and_without(rs, rs0, "w3", RAW("Description", "Tool", "Image", "C:\\Downloads\\a.exe"), &ev),
                     0);
    assert_int_equal(ev, 0);
    assert_int_equal(with_and_without(rs, rs0, "w3", RAW("Description", "?", "Image", "C:\\Downloads\\a.exe"), &ev), 1);
    assert_int_equal(ev, 1);
    stoat_ruleset_destroy(rs);
    stoat_ruleset_destroy(rs0);
}

/* An atom that wakes many rules sets their bits a word at a time (set A's
 * words, then set B's): across word boundaries each rule still runs exactly
 * where both its atoms are, as without the prefilter. */
static void test_atom_words(void **state)
{
    (void)state;
    enum {
        N = 200
    };
    char **texts = calloc(N, sizeof(*texts));
    for (int i = 0; i < N; i++) {
        texts[i] = malloc(512);
        snprintf(texts[i], 512,
                 "title: r%d\nid: w-%d\nlogsource: {product: windows, category: process_creation}\n"
                 "detection:\n  a:\n    CommandLine|contains: 'sharedatomlit'\n  b:\n    User|contains: 'own%03dx'\n"
                 "  condition: a and b\n",
                 i, i, i);
    }
    struct tu_rules r = {.texts = (const char *const *)texts, .ntexts = N};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls), *rs0 = hidden_only();
    assert_int_equal(ls.loaded, N);
    static const int probe[] = {0, 1, 63, 64, 65, 127, 128, 150, 199};
    for (size_t k = 0; k < sizeof(probe) / sizeof(probe[0]); k++) {
        char user[32], id[32];
        snprintf(user, sizeof(user), "own%03dx", probe[k]);
        uint64_t ev;
        for (size_t j = 0; j < sizeof(probe) / sizeof(probe[0]); j++) {
            snprintf(id, sizeof(id), "w-%d", probe[j]);
            assert_int_equal(with_and_without(rs, rs0, id, PROC("CommandLine", "x sharedatomlit", "User", user), &ev),
                             j == k);
            assert_int_equal(ev, 1);
            assert_int_equal(with_and_without(rs, rs0, id, PROC("CommandLine", "x", "User", user), &ev), 0);
            assert_int_equal(ev, 0);
        }
    }
    stoat_ruleset_destroy(rs);
    stoat_ruleset_destroy(rs0);
    for (int i = 0; i < N; i++)
        free(texts[i]);
    free(texts);
}

/* A field compared with another answers "no" from the lengths alone when
 * they cannot fit (equals: other lengths; the rest: a longer reference),
 * without folding either value: the same answers as comparing them. */
static void test_fieldref_lengths(void **state)
{
    (void)state;
    const char *eq = PROC_RULE("  sel:\n    Image|fieldref: ParentImage\n  condition: sel\n");
    expect_proc(1, eq, "Image", "C:\\A\\B.exe", "ParentImage", "c:\\a\\b.EXE");
    expect_proc(0, eq, "Image", "C:\\A\\B.exe", "ParentImage", "C:\\A\\B.exe ");
    expect_proc(0, eq, "Image", "C:\\A\\B.exe", "ParentImage", "C:\\A\\B.ex");
    expect_proc(1, eq, "Image", "C:\\Ä\\B.exe", "ParentImage", "c:\\ä\\b.exe");
    expect_proc(1, eq, "Image", "", "ParentImage", "");
    const char *ct = PROC_RULE("  sel:\n    CommandLine|fieldref|contains: User\n  condition: sel\n");
    expect_proc(1, ct, "CommandLine", "bob", "User", "BOB");
    expect_proc(0, ct, "CommandLine", "bob", "User", "bobby");
    expect_proc(1, ct, "CommandLine", "x", "User", "");
    const char *sw = PROC_RULE("  sel:\n    CommandLine|fieldref|startswith: Image\n  condition: sel\n");
    expect_proc(0, sw, "CommandLine", "a.exe", "Image", "a.exe -x");
    expect_proc(1, sw, "CommandLine", "A.EXE -x", "Image", "a.exe");
}

/* A test of one pattern whose atom the scan did not see answers no before
 * its field is looked up (eval: atom_unseen); the branches of an OR of
 * gated ANDs, each 'a name and not its image', and a negated test (true
 * then) give the same answers as without the prefilter. */
static void test_unseen_atom_branches(void **state)
{
    (void)state;
    const char *texts[1] = {
        "title: renamed\nid: rn\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  n0:\n    OriginalFileName: 'Cmd.Exe'\n  a0:\n    Image|endswith: '\\cmd.exe'\n"
        "  n1:\n    OriginalFileName: 'wmic.exe'\n  a1:\n    Image|endswith: '\\wmic.exe'\n"
        "  f:\n    CommandLine|contains: 'benignlit'\n"
        "  condition: ((n0 and not a0) or (n1 and not a1)) and not f\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 1};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, NULL, &ls), *rs0 = hidden_only();
    assert_int_equal(ls.loaded, 1);
    uint64_t ev;
    static const struct {
        const char *ofn, *image, *cmd;
        int want;
    } cases[] = {
        {"Cmd.Exe", "C:\\x\\cmd.exe", "cmd /c x", 0},   {"Cmd.Exe", "C:\\x\\notcmd.com", "cmd /c x", 1},
        {"wmic.exe", "C:\\x\\WMIC.EXE", "wmic x", 0},   {"WMIC.EXE", "C:\\x\\w.exe", "wmic x", 1},
        {"wmic.exe", "C:\\x\\w.exe", "x benignlit", 0}, {"Cmd.Exe", "C:\\x\\wmic.exe", "x BenignLit y", 0},
        {"Cmd.Exe", "C:\\x\\wmic.exe", "x benign", 1},  {"net.exe", "C:\\x\\a.exe", "x", 0},
        {"Cmd.Exe2", "C:\\x\\a.exe", "x", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        assert_int_equal(with_and_without(rs, rs0, "rn",
                                          PROC("OriginalFileName", cases[i].ofn, "Image", cases[i].image, "CommandLine",
                                               cases[i].cmd),
                                          &ev),
                         cases[i].want);
    stoat_ruleset_destroy(rs);
    stoat_ruleset_destroy(rs0);
}

/* Whole values, starts and ends are compared a word at a time: literals of
 * every length around the word sizes, equal and one byte off at each end,
 * give the answers of a byte-wise comparison. */
static void test_string_ops_by_words(void **state)
{
    (void)state;
    const char *full = "abcdefghijklmnopqrstu";
    for (size_t len = 1; len <= 20; len++) {
        char lit[32], rule[512], off[32];
        memcpy(lit, full + 21 - len, len);
        lit[len] = 0;
        snprintf(rule, sizeof(rule), PROC_RULE("  sel:\n    CommandLine|endswith: '%s'\n  condition: sel\n"), lit);
        expect_proc(1, rule, "CommandLine", full);
        for (size_t k = 0; k < len; k += len - 1 ? len - 1 : 1) {
            snprintf(off, sizeof(off), "%s", full);
            off[21 - len + k] = '#';
            expect_proc(0, rule, "CommandLine", off);
        }
        memcpy(lit, full, len);
        lit[len] = 0;
        snprintf(rule, sizeof(rule), PROC_RULE("  sel:\n    CommandLine|startswith: '%s'\n  condition: sel\n"), lit);
        expect_proc(1, rule, "CommandLine", full);
        snprintf(off, sizeof(off), "%s", full);
        off[len - 1] = '#';
        expect_proc(0, rule, "CommandLine", off);
        snprintf(rule, sizeof(rule), PROC_RULE("  sel:\n    CommandLine: '%s'\n  condition: sel\n"), lit);
        expect_proc(1, rule, "CommandLine", lit);
        off[len] = 0;
        expect_proc(0, rule, "CommandLine", off);
    }
}

/* Alerts of one hunt of events on rs. */
static size_t hunt_count(const struct stoat_ruleset *rs, const char *events)
{
    struct tu_hunt h;
    tu_hunt_data(rs, events, strlen(events), ".jsonl", NULL, &h);
    size_t n = h.n;
    tu_hunt_free(&h);
    return n;
}

/* The rules loaded through a cache folder: the second load of the same
 * rules reads the ruleset file (snapshot.c) the first wrote. */
static struct stoat_ruleset *load_cached(const char *dir, const char *const *texts, size_t n)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .cache_dir = dir};
    struct stoat_loader *l = NULL;
    assert_int_equal(stoat_loader_create(&o, &l), STOAT_OK);
    for (size_t i = 0; i < n; i++)
        assert_int_equal(stoat_loader_add_text(l, "m.yml", texts[i], strlen(texts[i])), STOAT_OK);
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    assert_non_null(rs);
    return rs;
}

/* The small groups' databases are scanned as two merged ones (field atoms
 * of the whole ruleset's small groups, keyword atoms of the class's), over
 * the union of a class's fields: an atom found in another rule's field, or
 * of another logsource, must wake nothing that matches. Every count is the
 * specification's, compiled and read back from the cache. */
static void test_merged_small_groups(void **state)
{
    (void)state;
    const char *texts[4] = {
        "title: rn\nid: rn\nlogsource: {product: windows, service: sysmon}\ndetection:\n"
        "  s:\n    RuleName|contains: 'alphamerge'\n  condition: s\n",
        "title: img\nid: img\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    Image|endswith: '\\mergebin.exe'\n  condition: s\n",
        "title: kw\nid: kw\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  k:\n    - 'kwmergeword'\n  condition: k\n",
        "title: net\nid: net\nlogsource: {product: windows, category: network_connection}\ndetection:\n"
        "  s:\n    DestinationHostname|contains: 'netmergehost'\n  condition: s\n",
    };
    char *dir = tu_temp_dir();
    struct stoat_ruleset *rs = load_cached(dir, texts, 4);
    struct stoat_ruleset *warm = load_cached(dir, texts, 4);
    const struct stoat_ruleset *both[2] = {rs, warm};
    for (int k = 0; k < 2; k++) {
        size_t nmerged = 0;
        for (size_t c = 0; c < both[k]->nclasses; c++)
            nmerged += both[k]->classes[c].nmerges;
        assert_true(nmerged >= 2);
        assert_true(both[k]->nmdbs >= 2);
        for (size_t i = 0; i < both[k]->nmdbs; i++)
            assert_non_null(both[k]->mdbs[i].db);
    }
    assert_non_null(warm->region); /* read from the ruleset file */
    static const struct {
        const char *ev;
        size_t want;
    } cases[] = {
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"RuleName\":\"x alphamerge\"}\n", 1},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":\"C:\\\\mergebin.exe\"}\n", 1},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"a kwmergeword b\"}\n", 1},
        /* another rule's atom in a field the merged scan reads */
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":\"C:\\\\alphamerge.exe\"}\n", 0},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"RuleName\":\"mergebin.exe\"}\n", 0},
        /* an atom of a group outside the class */
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":\"C:\\\\netmergehost\"}\n", 0},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":3,\"DestinationHostname\":\"netmergehost.example\"}\n", 1},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":3,\"RuleName\":\"alphamerge\",\"Image\":\"C:\\\\mergebin.exe\"}\n",
         1},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"RuleName\":\"alphamerge\",\"Image\":\"C:\\\\mergebin.exe\","
         "\"CommandLine\":\"kwmergeword\"}\n",
         3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t fresh = hunt_count(rs, cases[i].ev), again = hunt_count(warm, cases[i].ev);
        if (fresh != cases[i].want || again != cases[i].want)
            fail_msg("case %zu: %zu alerts compiled, %zu from the cache, expected %zu", i, fresh, again, cases[i].want);
    }
    stoat_ruleset_destroy(warm);
    stoat_ruleset_destroy(rs);
    tu_rm_rf(dir);
    free(dir);
}

/* order[first, last) holds exactly the n distinct ids of a field database. */
static void assert_span(const struct scan_layout *l, uint32_t k, const uint32_t *ids, uint32_t n)
{
    assert_true(l->first[k] != SPAN_COPY);
    assert_int_equal(l->last[k] - l->first[k], n);
    for (uint32_t i = 0; i < n; i++) {
        bool in = false;
        for (uint32_t p = l->first[k]; p < l->last[k]; p++)
            in |= l->order[p] == ids[i];
        assert_true(in);
    }
}

/* The scan layout: the two largest field sets overlap and both read a span
 * of the one buffer, a single field too; a set whose fields cannot lie
 * together is copied; keyword databases have no span. */
static void test_scan_layout_spans(void **state)
{
    (void)state;
    static const uint32_t single[] = {10}, a[] = {1, 2, 3, 4}, b[] = {3, 4, 5, 5}, split[] = {2, 5};
    static const uint32_t fields[] = {10, 1, 2, 3, 4, FIELD_ANY, 3, 4, 5, 5};
    static const uint32_t off[] = {0, 1, 5, 6, 10};
    struct rule_group groups[2] = {{.ndbs = 3}, {.ndbs = 1}};
    struct stoat_ruleset rs = {.groups = groups, .ngroups = 2};
    static const uint32_t anyf[] = {FIELD_ANY};
    struct class_merge merges[2] = {{.db = 0, .nfields = 2, .fields = split}, {.db = 1, .nfields = 1, .fields = anyf}};
    static const uint32_t cgroups[] = {0, 1};
    struct route_class cls = {
        .ngroups = 2, .group = cgroups, .db_off = off, .db_fields = fields, .nmerges = 2, .merges = merges};
    struct scan_layout *l = scan_layout_build(&rs, &cls);
    assert_int_equal(l->norder, 6);
    assert_span(l, 0, single, 1);
    assert_span(l, 1, a, 4);
    assert_int_equal(l->first[2], SPAN_COPY); /* keywords */
    assert_span(l, 3, b, 3);                  /* 5 listed twice (two renames) */
    assert_int_equal(l->first[4], SPAN_COPY); /* 2 and 5 are not adjacent */
    assert_int_equal(l->first[5], SPAN_COPY);
    scan_layout_free(l);
}

/* Events whose field databases read spans of the laid-out buffer: values
 * null, repeated, in fields no rule names, in both sets, match as a copy
 * of each database's fields would. */
static void test_scan_layout_matches(void **state)
{
    (void)state;
    const char *texts[4] = {
        "title: img\nid: img\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    Image|endswith: '\\layoutbin.exe'\n  condition: s\n",
        "title: cmd\nid: cmd\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    CommandLine|contains: 'layoutcmd'\n    ParentImage|endswith: '\\layoutparent.exe'\n"
        "  condition: s\n",
        "title: kw\nid: kw\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  k:\n    - 'layoutkeyword'\n  condition: k\n",
        "title: par\nid: par\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    ParentImage|endswith: '\\layoutparent.exe'\n  condition: s\n",
    };
    struct tu_rules r = {.texts = texts, .ntexts = 4};
    static const struct {
        const char *ev;
        int want;
    } cases[] = {
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":null,\"CommandLine\":\"a layoutcmd\","
         "\"ParentImage\":\"C:\\\\layoutparent.exe\"}\n",
         2},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Other\":\"layoutkeyword\",\"Image\":\"x\","
         "\"CommandLine\":\"layoutcmd\"}\n",
         1},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":\"C:\\\\layoutbin.exe\",\"User\":\"u\"}\n", 1},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Other\":\"C:\\\\layoutbin.exe\",\"Image\":\"y\"}\n", 0},
        {"{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Image\":\"\",\"ParentImage\":\"layoutkeyword\","
         "\"CommandLine\":\"\"}\n",
         1},
        {"{\"Channel\":\"Security\",\"EventID\":4688,\"NewProcessName\":\"C:\\\\layoutbin.exe\","
         "\"ParentProcessName\":\"C:\\\\layoutparent.exe\",\"CommandLine\":\"layoutcmd\"}\n",
         3},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = tu_count(&r, cases[i].ev, NULL);
        if (n != cases[i].want)
            fail_msg("case %zu: %d alerts, expected %d", i, n, cases[i].want);
    }
}

/* engine_event_take (all fields at once, the JSON reader's way) leaves the
 * event as engine_event_add field by field does: the same fields in order,
 * the same chains of repeated names, the same first values and matches; and
 * a field added after a take goes after its fields. */
static void test_take_matches_add(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = tu_build1("title: T\nid: take-1\nlogsource: {product: windows, service: security}\n"
                                         "detection:\n  sel: {EventID: 4688, CommandLine|contains: evil}\n"
                                         "  condition: sel\nlevel: high\n",
                                         NULL, NULL);
    assert_non_null(rs);
    struct engine_ctx *a = engine_ctx_create(rs), *b = engine_ctx_create(rs);
    const char *kv[][2] = {{"Channel", "Security"}, {"CommandLine", "x"},        {"EventID", "4688"},
                           {"NotARuleField", "1"},  {"CommandLine", "run evil"}, {"CommandLine", "z"},
                           {"Other", ""},           {"NotARuleField", "2"}};
    enum {
        N = sizeof(kv) / sizeof(kv[0])
    };
    for (int round = 0; round < 3; round++) { /* later rounds reuse the slots of earlier events */
        struct ev_field fs[N];
        engine_event_begin(a);
        engine_event_begin(b);
        for (uint32_t i = 0; i < N; i++) {
            uint32_t nl = (uint32_t)strlen(kv[i][0]), vl = (uint32_t)strlen(kv[i][1]);
            uint32_t id = engine_field_id(a, kv[i][0], nl);
            engine_event_add(a, kv[i][0], nl, id, kv[i][1], vl, STOAT_V_STRING);
            ev_field_set(&fs[i], kv[i][0], nl, id, kv[i][1], vl, STOAT_V_STRING);
        }
        engine_event_take(b, fs, N);
        const struct ev_field *fa, *fb;
        assert_int_equal(engine_event_fields(a, &fa), N);
        assert_int_equal(engine_event_fields(b, &fb), N);
        assert_ptr_equal(fb, fs);
        for (uint32_t i = 0; i < N; i++) {
            assert_ptr_equal(fa[i].val, fb[i].val);
            assert_int_equal(fa[i].id, fb[i].id);
            assert_int_equal(fa[i].next, fb[i].next);
            const struct ev_field *ga = engine_event_get(a, fa[i].id), *gb = engine_event_get(b, fb[i].id);
            assert_int_equal(ga ? ga - fa : -1, gb ? gb - fb : -1);
        }
        const uint32_t *ra, *rb;
        size_t na = engine_event_match(a, &ra), nb = engine_event_match(b, &rb);
        assert_int_equal(na, 1);
        assert_int_equal(nb, na);
        assert_int_equal(ra[0], rb[0]);
        assert_int_equal(engine_event_procspec(a), engine_event_procspec(b));
    }
    /* added after a take: b copies the taken fields to add to */
    engine_event_begin(b);
    struct ev_field one;
    ev_field_set(&one, "CommandLine", 11, engine_field_id(b, "CommandLine", 11), "a", 1, STOAT_V_STRING);
    engine_event_take(b, &one, 1);
    assert_true(engine_event_add(b, "CommandLine", 11, one.id, "b", 1, STOAT_V_STRING));
    const struct ev_field *fb;
    assert_int_equal(engine_event_fields(b, &fb), 2);
    assert_ptr_not_equal(fb, &one);
    assert_string_equal(fb[0].val, "a");
    assert_int_equal(fb[0].next, 1);
    assert_string_equal(fb[1].val, "b");
    engine_ctx_destroy(a);
    engine_ctx_destroy(b);
    stoat_ruleset_destroy(rs);
}

/* The user's rules matched by one event given as name/value pairs (a
 * value's length from vlen when non-zero: NULs inside), sorted. */
static size_t match_pairs(const struct stoat_ruleset *rs, const char *const (*kv)[2], const uint32_t *vlen, size_t n,
                          uint32_t *out)
{
    struct engine_ctx *c = engine_ctx_create(rs);
    engine_event_begin(c);
    for (size_t i = 0; i < n; i++) {
        uint32_t nl = (uint32_t)strlen(kv[i][0]);
        uint32_t vl = vlen[i] ? vlen[i] : (uint32_t)strlen(kv[i][1]);
        engine_event_add(c, kv[i][0], nl, engine_field_id(c, kv[i][0], nl), kv[i][1], vl,
                         strcmp(kv[i][1], "null") ? STOAT_V_STRING : STOAT_V_NULL);
    }
    const uint32_t *r;
    size_t nr = engine_event_match(c, &r), m = 0;
    for (size_t i = 0; i < nr; i++) {
        if ((r[i] & ~ENGINE_DEFERRED) >= rs->nrules - rs->nhidden)
            continue; /* behaviour's own rules (4624 with logon type 10 is one's) */
        size_t k = m++;
        for (; k > 0 && out[k - 1] > r[i]; k--)
            out[k] = out[k - 1];
        out[k] = r[i];
    }
    engine_ctx_destroy(c);
    return m;
}

/* Atoms of fields whose small-group atoms are all whole values (EventID,
 * Channel) are settled by comparing values, not scanned: on events covering
 * case, |cased, several gates, renames, a class without a fixed event id,
 * repeated, null and NUL-holding values, a field with a contains atom too,
 * the rules matched are those of the old scan (STOAT_SETTLE=0), compiled
 * and read back from the cache. */
static void test_settled_atoms_match_scan(void **state)
{
    (void)state;
#define SEC(det) "logsource: {product: windows, service: security}\ndetection:\n" det "  condition: s\n"
    const char *texts[] = {
        "title: a\nid: st-a\n" SEC("  s:\n    EventID: 4688\n"),
        "title: b\nid: st-b\n" SEC("  s:\n    Channel: 'SECURITY'\n    EventID: 4689\n"),
        "title: c\nid: st-c\n" SEC("  s:\n    EventID: 4624\n    LogonType: 10\n"),
        "title: d\nid: st-d\n" SEC("  s:\n    EventID: 4720\n    TargetUserName|cased: 'ExactName'\n"),
        "title: e\nid: st-e\n" SEC("  s:\n    Workstation|contains: 'settlews'\n"),
        "title: f\nid: st-f\n" SEC("  s:\n    Workstation: 'wsexact'\n"),
        "title: g\nid: st-g\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
        "  s:\n    Image: 'C:\\settle\\bin.exe'\n  condition: s\n",
        "title: h\nid: st-h\nlogsource: {product: windows, service: system}\ndetection:\n"
        "  s:\n    Provider_Name: 'Service Control Manager'\n  condition: s\n",
        "title: k\nid: st-k\nlogsource: {product: windows, service: security}\ndetection:\n"
        "  k:\n    - 'settlekw'\n  condition: k\n",
    };
#undef SEC
    enum {
        NT = sizeof(texts) / sizeof(texts[0])
    };
    char *dir = tu_temp_dir();
    struct stoat_ruleset *rs = load_cached(dir, texts, NT), *warm = load_cached(dir, texts, NT);
    setenv("STOAT_SETTLE", "0", 1);
    struct stoat_ruleset *old = load_cached(NULL, texts, NT);
    unsetenv("STOAT_SETTLE");
    assert_non_null(warm->region);
    const struct stoat_ruleset *sets[3] = {rs, warm, old};
    for (int k = 0; k < 3; k++) {
        size_t n = 0;
        for (size_t c = 0; c < sets[k]->nclasses; c++)
            n += sets[k]->classes[c].nsettled;
        if (k < 2)
            assert_true(n >= 6); /* EventID, Channel, LogonType, TargetUserName, Image, Provider_Name */
        else
            assert_int_equal(n, 0);
    }
    static const char nul_id[] = "4688\0x";
    static const struct {
        const char *kv[6][2];
        uint32_t vlen[6];
        size_t want;
    } cases[] = {
        {{{"Channel", "Security"}, {"EventID", "4688"}, {"NewProcessName", "C:\\Settle\\Bin.exe"}}, {0}, 2},
        {{{"Channel", "Security"}, {"EventID", "4689"}, {"Other", "security"}}, {0}, 1},
        {{{"Channel", "Security"}, {"EventID", "4690"}, {"Other", "security"}}, {0}, 0},
        {{{"Channel", "Security"}, {"EventID", "4624"}, {"LogonType", "10"}}, {0}, 1},
        {{{"Channel", "Security"}, {"EventID", "4624"}, {"LogonType", "3"}, {"Other", "10"}}, {0}, 0},
        {{{"Channel", "Security"}, {"EventID", "4624"}, {"LogonType", "3"}, {"LogonType", "10"}}, {0}, 1},
        {{{"Channel", "Security"}, {"EventID", "4720"}, {"TargetUserName", "exactname"}}, {0}, 0},
        {{{"Channel", "Security"}, {"EventID", "4720"}, {"TargetUserName", "ExactName"}}, {0}, 1},
        {{{"Channel", "Security"}, {"EventID", "4625"}, {"Workstation", "a SettleWS b"}}, {0}, 1},
        {{{"Channel", "Security"}, {"EventID", "4625"}, {"Workstation", "WSEXACT"}}, {0}, 1},
        {{{"Channel", "Security"}, {"EventID", "4625"}, {"Workstation", "wsexact2"}, {"x", "settlekw"}}, {0}, 1},
        {{{"Channel", TU_SYSMON}, {"EventID", "1"}, {"Image", "c:\\settle\\bin.exe"}}, {0}, 1},
        {{{"Channel", TU_SYSMON}, {"EventID", "1"}, {"Image", "c:\\settle\\bin.exe.bak"}}, {0}, 0},
        {{{"Channel", "System"}, {"EventID", "7045"}, {"Provider_Name", "service control manager"}}, {0}, 1},
        {{{"Channel", "System"}, {"Provider_Name", "Service Control Manager"}}, {0}, 1},
        {{{"Channel", "System"}, {"EventID", "7045"}, {"Provider_Name", "Service Control"}}, {0}, 0},
        /* the first id routes (no class of its own); the second still matches */
        {{{"Channel", "Security"}, {"EventID", "1"}, {"EventID", "4688"}}, {0}, 1},
        {{{"Channel", "Security"}, {"EventID", nul_id}}, {0, sizeof(nul_id) - 1}, 0},
        {{{"Channel", "Security"}, {"EventID", "null"}, {"Workstation", "wsexact"}}, {0}, 1},
    };
    size_t total = 0;
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        size_t n = 0;
        while (n < 6 && cases[i].kv[n][0])
            n++;
        uint32_t got[3][NT];
        size_t m[3];
        for (int k = 0; k < 3; k++)
            m[k] = match_pairs(sets[k], cases[i].kv, cases[i].vlen, n, got[k]);
        if (m[0] != cases[i].want || m[1] != m[0] || m[2] != m[0])
            fail_msg("case %zu: %zu rules matched, %zu from the cache, %zu scanning every atom; expected %zu", i, m[0],
                     m[1], m[2], cases[i].want);
        for (int k = 1; k < 3; k++)
            assert_memory_equal(got[0], got[k], m[0] * sizeof(uint32_t));
        total += m[0];
    }
    assert_true(total >= 12);
    stoat_ruleset_destroy(old);
    stoat_ruleset_destroy(warm);
    stoat_ruleset_destroy(rs);
    tu_rm_rf(dir);
    free(dir);
}

/* Hex digits of hash j of rule i (upper case for odd i): the test's hashes. */
static void tok_hex(char *o, size_t len, unsigned i, unsigned j)
{
    uint32_t x = i * 2654435761u + j * 40503u + 1;
    for (size_t k = 0; k < len; k++) {
        x = x * 1103515245u + 12345u;
        o[k] = (i & 1 ? "0123456789ABCDEF" : "0123456789abcdef")[(x >> 16) & 15];
    }
    o[len] = 0;
}

static void tok_lower(char *s)
{
    for (; *s; s++)
        *s = (char)tolower((unsigned char)*s);
}

/* Hashes atoms that are ALGO=HEX tokens are looked up in a table, not
 * scanned: on crafted Hashes values (cases, order, spaces, a prefix of an
 * atom, repeated algorithms, empty, no '=', a NUL, very long, a token
 * inside a longer one) the rules matched are those of the old scan
 * (STOAT_TOKENS=0), compiled and read back from the cache. */
static void test_token_table_matches_scan(void **state)
{
    (void)state;
    enum {
        NR = 44,
        NC = 24
    };
    static const char *const algo[4] = {"MD5", "SHA256", "IMPHASH", "SHA1"};
    static const size_t hexlen[4] = {32, 64, 32, 40};
    char *texts[NR];
    char h[NR][2][80];
    for (unsigned i = 0; i < NR; i++) {
        unsigned a = i % 4, b = (i + 1) % 4;
        tok_hex(h[i][0], hexlen[a], i, 0);
        tok_hex(h[i][1], hexlen[b], i, 1);
        texts[i] = xcalloc(1, 8192);
        snprintf(texts[i], 8192,
                 "title: t%u\nid: tok-%u\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
                 "  s:\n    Hashes|contains:\n      - '%s=%s'\n      - '%s=%s'\n%s  condition: s\n",
                 i, i, algo[a], h[i][0], i % 3 ? algo[b] : "sha256", h[i][1],
                 i % 5 == 0 ? "    Image|endswith: '\\tokbin.exe'\n" : "");
    }
    texts[NR - 1][0] = 0; /* the last: a rule of other fields */
    snprintf(texts[NR - 1], 8192,
             "title: c\nid: tok-c\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
             "  s:\n    CommandLine|contains: 'tokcmdline'\n  condition: s\n");
    char *dir = tu_temp_dir();
    struct stoat_ruleset *rs = load_cached(dir, (const char *const *)texts, NR);
    struct stoat_ruleset *warm = load_cached(dir, (const char *const *)texts, NR);
    setenv("STOAT_TOKENS", "0", 1);
    struct stoat_ruleset *old = load_cached(NULL, (const char *const *)texts, NR);
    unsetenv("STOAT_TOKENS");
    assert_non_null(warm->region);
    const struct stoat_ruleset *sets[3] = {rs, warm, old};
    for (int k = 0; k < 3; k++) {
        size_t n = 0;
        for (size_t g = 0; g < sets[k]->ngroups; g++)
            n += sets[k]->groups[g].tokens ? sets[k]->groups[g].tokens->n : 0;
        if (k < 2)
            assert_true(n >= 60);
        else
            assert_int_equal(n, 0);
    }
    char *v[NC];
    uint32_t vlen[NC] = {0};
    char lo[80], big[20000];
    for (size_t c = 0; c < NC; c++)
        v[c] = xcalloc(1, 24000);
    /* 0-2: every rule 4's hashes, as written, lower case, other order */
    snprintf(v[0], 600, "SHA1=%.40s,MD5=%s,SHA256=%s,IMPHASH=%s", h[2][1], h[4][0], h[4][1], h[3][0]);
    strcpy(v[1], v[0]);
    tok_lower(v[1]);
    snprintf(v[2], 600, "SHA256=%s,md5=%s", h[4][1], h[4][0]);
    /* 3-5: spaces, within a token or around it */
    snprintf(v[3], 600, "MD5= %s,SHA256 =%s", h[4][0], h[4][1]);
    snprintf(v[4], 600, " MD5=%s , SHA256=%s ", h[4][0], h[4][1]);
    snprintf(v[5], 600, "MD5=%s", h[5][0]);
    /* 6-8: a prefix of an atom, a longer hex, a token inside a longer name */
    snprintf(v[6], 600, "MD5=%.20s,SHA256=%.63s", h[4][0], h[4][1]);
    snprintf(v[7], 600, "SHA256=%s00,XMD5=%sZZ", h[4][1], h[4][0]);
    snprintf(v[8], 600, "IMPHASH=%s", h[6][0]);
    /* 9-10: an algorithm twice, the second or the first the rule's */
    snprintf(v[9], 600, "MD5=%s,MD5=%s,SHA256=%s", h[8][1], h[8][0], h[8][1]);
    snprintf(v[10], 600, "SHA256=%s,SHA256=%s", h[9][0], h[9][1]);
    /* 11-14: empty, no '=', only '=', hex without a name */
    v[11][0] = 0;
    snprintf(v[12], 600, "%s%s", h[4][0], h[4][1]);
    snprintf(v[13], 600, "=====");
    snprintf(v[14], 600, "=%s", h[4][1]);
    /* 15-16: a NUL inside, the token after it and before it */
    int n15 = snprintf(v[15], 600, "x%cMD5=%s", 0, h[12][0]);
    vlen[15] = (uint32_t)n15;
    int n16 = snprintf(v[16], 600, "MD5=%s%cjunk", h[12][0], 0);
    vlen[16] = (uint32_t)n16;
    /* 17-18: very long values: many '=' then a token, a token then many */
    memset(big, '=', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    snprintf(v[17], 24000, "%sSHA1=%s", big, h[3][0]);
    snprintf(v[18], 24000, "md5=%s%s", h[12][0], big);
    /* 19-21: the other case of an upper-case rule, mixed case, a name cut short */
    snprintf(lo, sizeof(lo), "%s", h[13][0]);
    tok_lower(lo);
    snprintf(v[19], 600, "SHA256=%s", lo);
    snprintf(v[20], 600, "sHa256=%s", h[13][0]);
    snprintf(v[21], 600, "HA256=%s,D5=%s", h[13][0], h[16][0]);
    /* 22-23: many tokens of many rules, and every rule's first hash */
    size_t at = 0;
    for (unsigned i = 0; i < NR - 1 && at < 20000; i += 2)
        at += (size_t)snprintf(v[22] + at, 24000 - at, "%s=%s,", algo[i % 4], h[i][0]);
    at = 0;
    for (unsigned i = 0; i < NR - 1 && at < 20000; i++)
        at += (size_t)snprintf(v[23] + at, 24000 - at, "%s=%s;", algo[i % 4], h[i][0]);
    size_t total = 0;
    for (size_t c = 0; c < NC; c++) {
        const char *kv[3][2] = {{"Channel", TU_SYSMON}, {"EventID", "1"}, {"Hashes", v[c]}};
        const char *kv2[4][2] = {
            {"Channel", TU_SYSMON}, {"EventID", "1"}, {"Hashes", v[c]}, {"Image", "c:\\tokbin.exe"}};
        uint32_t vl[4] = {0, 0, vlen[c] ? vlen[c] : (uint32_t)strlen(v[c]), 0};
        for (int img = 0; img < 2; img++) {
            uint32_t got[3][NR];
            size_t m[3];
            for (int k = 0; k < 3; k++)
                m[k] = img ? match_pairs(sets[k], kv2, vl, 4, got[k]) : match_pairs(sets[k], kv, vl, 3, got[k]);
            if (m[1] != m[0] || m[2] != m[0])
                fail_msg("case %zu: %zu rules matched, %zu from the cache, %zu scanning every atom", c, m[0], m[1],
                         m[2]);
            for (int k = 1; k < 3; k++)
                assert_memory_equal(got[0], got[k], m[0] * sizeof(uint32_t));
            total += m[0];
        }
    }
    assert_true(total >= 40);
    for (size_t c = 0; c < NC; c++)
        free(v[c]);
    for (unsigned i = 0; i < NR; i++)
        free(texts[i]);
    stoat_ruleset_destroy(old);
    stoat_ruleset_destroy(warm);
    stoat_ruleset_destroy(rs);
    tu_rm_rf(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_regex_required_literal),
        cmocka_unit_test(test_regex_required_bytes),
        cmocka_unit_test(test_regex_rules_not_hidden),
        cmocka_unit_test(test_atoms_with_logic),
        cmocka_unit_test(test_atoms_case_and_encoding),
        cmocka_unit_test(test_edge_atoms),
        cmocka_unit_test(test_named_field_scan),
        /* the scan buffer */
        cmocka_unit_test(test_field_scanned_twice_grows_its_buffer),
        cmocka_unit_test(test_two_set_gating),
        cmocka_unit_test(test_many_rules),
        cmocka_unit_test(test_repeated_atoms),
        cmocka_unit_test(test_all_gives_two_sets),
        cmocka_unit_test(test_weak_atoms_chosen_last),
        cmocka_unit_test(test_atom_words),
        cmocka_unit_test(test_fieldref_lengths),
        cmocka_unit_test(test_unseen_atom_branches),
        cmocka_unit_test(test_string_ops_by_words),
        cmocka_unit_test(test_merged_small_groups),
        cmocka_unit_test(test_scan_layout_spans),
        cmocka_unit_test(test_scan_layout_matches),
        cmocka_unit_test(test_take_matches_add),
        cmocka_unit_test(test_settled_atoms_match_scan),
        cmocka_unit_test(test_token_table_matches_scan),
        cmocka_unit_test(test_short_values_need_bytes),
        cmocka_unit_test(test_byte_gates),
    };
    return cmocka_run_group_tests_name("prefilter", tests, NULL, NULL);
}
