/* The condition grammar: operators and their precedence (least to most
 * binding: or, and, not, x of, parentheses), `1 of`/`all of` over patterns
 * and `them`, condition lists, and the errors a broken condition gives (with
 * the column of the offending token). */
#include "testutil.h"

/* Three search identifiers a, b, c on CommandLine words, and the condition. */
#define ABC(cond)                                                                                  \
    PROC_RULE("  a:\n    CommandLine|contains: 'alpha'\n  b:\n    CommandLine|contains: 'bravo'\n" \
              "  c:\n    CommandLine|contains: 'charlie'\n  condition: " cond "\n")

/* Runs rule on events carrying the words of mask (1 = alpha, 2 = bravo,
 * 4 = charlie) and returns a bitmask over the 8 events of which matched. */
static unsigned truth_table(const char *rule)
{
    unsigned got = 0;
    for (unsigned m = 0; m < 8; m++) {
        char cl[64] = "x";
        if (m & 1)
            strcat(cl, " alpha");
        if (m & 2)
            strcat(cl, " bravo");
        if (m & 4)
            strcat(cl, " charlie");
        int n = tu_match_proc(rule, "CommandLine", cl, NULL);
        assert_true(n == 0 || n == 1);
        if (n)
            got |= 1u << m;
    }
    return got;
}

/* The expected truth table of f over (a, b, c). */
static unsigned table_of(bool (*f)(bool a, bool b, bool c))
{
    unsigned t = 0;
    for (unsigned m = 0; m < 8; m++)
        if (f(m & 1, m & 2, m & 4))
            t |= 1u << m;
    return t;
}

static bool f_a_or_b_and_c(bool a, bool b, bool c)
{
    return a || (b && c);
}
static bool f_not_a_and_b(bool a, bool b, bool c)
{
    (void)c;
    return !a && b;
}
static bool f_not_ab(bool a, bool b, bool c)
{
    (void)c;
    return !(a && b);
}
static bool f_a_and_b_or_c(bool a, bool b, bool c)
{
    return (a && b) || c;
}
static bool f_a_and_bc(bool a, bool b, bool c)
{
    return a && (b || c);
}
static bool f_not_not_a(bool a, bool b, bool c)
{
    (void)b;
    (void)c;
    return a;
}
static bool f_a_or_not_b_and_c(bool a, bool b, bool c)
{
    return a || (!b && c);
}
static bool f_not_a_or_b(bool a, bool b, bool c)
{
    (void)c;
    return !a || b;
}

#define CHECK_TABLE(cond, fn)                                                                             \
    do {                                                                                                  \
        unsigned got_ = truth_table(ABC(cond)), want_ = table_of(fn);                                     \
        if (got_ != want_)                                                                                \
            fprintf(stderr, "  -- condition '%s': truth table %02x, expected %02x\n", cond, got_, want_); \
        assert_int_equal(got_, want_);                                                                    \
    } while (0)

static void test_precedence(void **state)
{
    (void)state;
    CHECK_TABLE("a or b and c", f_a_or_b_and_c);
    CHECK_TABLE("b and c or a", f_a_or_b_and_c);
    CHECK_TABLE("not a and b", f_not_a_and_b);
    CHECK_TABLE("not (a and b)", f_not_ab);
    CHECK_TABLE("a and b or c", f_a_and_b_or_c);
    CHECK_TABLE("a and (b or c)", f_a_and_bc);
    CHECK_TABLE("not not a", f_not_not_a);
    CHECK_TABLE("a or not b and c", f_a_or_not_b_and_c);
    CHECK_TABLE("not a or b", f_not_a_or_b);
    CHECK_TABLE("((a)) and ((b or (c)))", f_a_and_bc);
}

/* sel1, sel2, filter1, filter2 and _hidden. */
#define OF(cond)                                                                                         \
    PROC_RULE("  sel1:\n    CommandLine|contains: 's1'\n  sel2:\n    CommandLine|contains: 's2'\n"       \
              "  filter1:\n    CommandLine|contains: 'f1'\n  filter2:\n    CommandLine|contains: 'f2'\n" \
              "  _hidden:\n    CommandLine|contains: 'hh'\n  condition: " cond "\n")

static void test_of(void **state)
{
    (void)state;
    const char *one = OF("1 of sel*");
    expect_proc(1, one, "CommandLine", "s1");
    expect_proc(1, one, "CommandLine", "s2");
    expect_proc(0, one, "CommandLine", "f1 f2");
    const char *all = OF("all of sel*");
    expect_proc(1, all, "CommandLine", "s1 s2");
    expect_proc(0, all, "CommandLine", "s1");
    /* x of binds tighter than not and and */
    const char *mix = OF("1 of sel* and not 1 of filter*");
    expect_proc(1, mix, "CommandLine", "s2");
    expect_proc(0, mix, "CommandLine", "s2 f2");
    expect_proc(0, mix, "CommandLine", "f1");
    const char *notall = OF("all of sel* and not all of filter*");
    expect_proc(1, notall, "CommandLine", "s1 s2 f1");
    expect_proc(0, notall, "CommandLine", "s1 s2 f1 f2");
    /* any is the same as 1 */
    const char *any = OF("any of filter*");
    expect_proc(1, any, "CommandLine", "f2");
    /* a pattern with the star in the middle, and one naming one identifier */
    const char *mid = OF("1 of f*2");
    expect_proc(1, mid, "CommandLine", "f2");
    expect_proc(0, mid, "CommandLine", "f1");
    /* N of */
    const char *two = OF("2 of sel* or 2 of filter*");
    expect_proc(1, two, "CommandLine", "f1 f2");
    expect_proc(0, two, "CommandLine", "s1 f1");
}

static void test_them(void **state)
{
    (void)state;
    const char *one = OF("1 of them");
    expect_proc(1, one, "CommandLine", "f2");
    expect_proc(0, one, "CommandLine", "hh"); /* _hidden is not one of them */
    const char *all = OF("all of them");
    expect_proc(1, all, "CommandLine", "s1 s2 f1 f2"); /* without hh */
    expect_proc(0, all, "CommandLine", "s1 s2 f1");
    /* _hidden can still be named */
    const char *named = OF("_hidden and not 1 of them");
    expect_proc(1, named, "CommandLine", "hh");
    expect_proc(0, named, "CommandLine", "hh s1");
    /* a pattern may still take underscore names */
    const char *under = OF("1 of _*");
    expect_proc(1, under, "CommandLine", "hh");
}

static void test_condition_list(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  a:\n    CommandLine|contains: 'alpha'\n  b:\n    CommandLine|contains: 'bravo'\n"
                              "  condition:\n    - a\n    - b\n");
    expect_proc(1, r, "CommandLine", "alpha");
    expect_proc(1, r, "CommandLine", "bravo");
    expect_proc(0, r, "CommandLine", "charlie");
    /* one event matching both conditions gives one alert, not two */
    expect_proc(1, r, "CommandLine", "alpha bravo");
}

static void test_search_lists_and_maps(void **state)
{
    (void)state;
    /* a list of maps is ORed, a map is ANDed */
    const char *r = PROC_RULE("  sel:\n    - Image|endswith: '\\a.exe'\n      CommandLine|contains: 'x'\n"
                              "    - Image|endswith: '\\b.exe'\n  condition: sel\n");
    expect_proc(1, r, "Image", "C:\\a.exe", "CommandLine", "x");
    expect_proc(0, r, "Image", "C:\\a.exe", "CommandLine", "y");
    expect_proc(1, r, "Image", "C:\\b.exe", "CommandLine", "y");
    expect_proc(0, r, "Image", "C:\\c.exe", "CommandLine", "x");
}

/* The condition is on line 13 of ABC(); its text starts at column 14. */
static void check_error(const char *rule, const char *msg, uint64_t line, uint64_t column)
{
    struct tu_diag d = {0};
    assert_true(rule_rejected_ex(rule, NULL, msg, &d));
    if (d.line != line || (column && d.column != column))
        fprintf(stderr, "  -- '%s' reported at %llu:%llu, expected %llu:%llu\n", d.text, (unsigned long long)d.line,
                (unsigned long long)d.column, (unsigned long long)line, (unsigned long long)column);
    assert_int_equal(d.line, line);
    if (column)
        assert_int_equal(d.column, column);
    assert_string_equal(d.file, "rule.yml");
    assert_non_null(d.rule_id);
    tu_diag_clear(&d);
}

static void test_errors(void **state)
{
    (void)state;
    check_error(ABC("a and nope"), "unknown search identifier 'nope'", 13, 14 + 6);
    check_error(ABC("(a and b"), "unbalanced", 13, 0);
    check_error(ABC("a and b)"), "unbalanced ')'", 13, 14 + 7);
    check_error(ABC("a and (b or c))"), "unbalanced", 13, 0);
    check_error(ABC("1 of filter*"), "'filter*' matches no search identifier", 13, 14 + 5);
    check_error(ABC("all of x*"), "matches no search identifier", 13, 0);
    check_error(ABC("a | count() > 5"), "Sigma 1.x", 13, 14 + 2);
    check_error(ABC("'| count() by x'"), "Sigma 1.x", 13, 15); /* quoted: the text starts at 15 */
    check_error(ABC("'a and nope'"), "nope", 13, 15 + 6);
    check_error(ABC("a and"), "operand", 13, 0);
    check_error(ABC("a b"), "'b'", 13, 14 + 2);
    check_error(ABC("a*"), "1 of", 13, 14);
    check_error(ABC("and a"), "unexpected", 13, 14);
    check_error(ABC("3 of a*"), "more than", 13, 0);
    check_error(ABC("0 of a*"), "never", 13, 0);
    check_error(ABC("1 a"), "of", 13, 0);
    check_error(ABC("not"), "operand", 13, 0);
    check_error(ABC("()"), "", 13, 0);
    /* Sigma 1.x aggregations are refused, not ignored */
    check_error(ABC("a | near b"), "Sigma 1.x", 13, 14 + 2);
}

static void test_missing_or_bad_condition(void **state)
{
    (void)state;
    assert_true(rule_rejected(PROC_RULE("  a:\n    CommandLine|contains: 'alpha'\n"), "condition"));
    assert_true(rule_rejected(PROC_RULE("  a:\n    CommandLine|contains: 'alpha'\n  condition:\n"), "condition"));
    assert_true(
        rule_rejected(PROC_RULE("  a:\n    CommandLine|contains: 'alpha'\n  condition: {x: 1}\n"), "condition"));
    assert_true(rule_rejected(PROC_RULE("  a:\n    CommandLine|contains: 'alpha'\n  condition:\n    - a\n"
                                        "    - nope\n"),
                              "nope"));
}

static void test_deep_nesting(void **state)
{
    (void)state;
    /* 40 levels are fine, 100 are refused (no unbounded recursion) */
    char cond[1024], rule[2048];
    int k = 0;
    for (int i = 0; i < 40; i++)
        cond[k++] = '(';
    k += sprintf(cond + k, "a or b");
    for (int i = 0; i < 40; i++)
        cond[k++] = ')';
    cond[k] = 0;
    snprintf(rule, sizeof(rule), ABC("%s"), cond);
    expect_proc(1, rule, "CommandLine", "alpha");
    k = 0;
    for (int i = 0; i < 100; i++)
        cond[k++] = '(';
    cond[k++] = 'a';
    for (int i = 0; i < 100; i++)
        cond[k++] = ')';
    cond[k] = 0;
    snprintf(rule, sizeof(rule), ABC("%s"), cond);
    assert_true(rule_rejected(rule, "deeper"));
    k = 0;
    for (int i = 0; i < 100; i++)
        k += sprintf(cond + k, "not ");
    cond[k++] = 'a';
    cond[k] = 0;
    snprintf(rule, sizeof(rule), ABC("%s"), cond);
    assert_true(rule_rejected(rule, "deeper"));
}

static void test_identifier_names(void **state)
{
    (void)state;
    /* names may hold dots, dashes and digits; operators are whole words */
    const char *r = PROC_RULE("  sel-1.x:\n    CommandLine|contains: 'alpha'\n  android:\n"
                              "    CommandLine|contains: 'bravo'\n  notes:\n    CommandLine|contains: 'charlie'\n"
                              "  condition: sel-1.x and android and not notes\n");
    expect_proc(1, r, "CommandLine", "alpha bravo");
    expect_proc(0, r, "CommandLine", "alpha bravo charlie");
    expect_proc(0, r, "CommandLine", "alpha");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_precedence),
        cmocka_unit_test(test_of),
        cmocka_unit_test(test_them),
        cmocka_unit_test(test_condition_list),
        cmocka_unit_test(test_search_lists_and_maps),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_missing_or_bad_condition),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_identifier_names),
    };
    return cmocka_run_group_tests_name("condition", tests, NULL, NULL);
}
