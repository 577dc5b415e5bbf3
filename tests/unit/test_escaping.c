/* The escape table of the Sigma specification ("Escape Character" in
 * sigma-rules-specification.md), row by row, and the `?` wildcard on
 * multi-byte characters. Rule values are YAML single-quoted strings, so the
 * backslashes below are exactly what the rule author wrote (doubled for C). */
#include "testutil.h"

#define RULE_EQ(v)       PROC_RULE("  sel:\n    CommandLine: '" v "'\n  condition: sel\n")
#define RULE_CONTAINS(v) PROC_RULE("  sel:\n    CommandLine|contains: '" v "'\n  condition: sel\n")

static void test_escaped_star_is_literal(void **state)
{
    (void)state;
    const char *r = RULE_EQ("a\\*b"); /* \* */
    expect_proc(1, r, "CommandLine", "a*b");
    expect_proc(0, r, "CommandLine", "axb");
    expect_proc(0, r, "CommandLine", "ab");
    expect_proc(0, r, "CommandLine", "a\\*b");
    const char *c = RULE_CONTAINS("dir \\*.docx");
    expect_proc(1, c, "CommandLine", "cmd /c dir *.docx /s");
    expect_proc(0, c, "CommandLine", "cmd /c dir secret.docx /s");
}

static void test_escaped_question_is_literal(void **state)
{
    (void)state;
    const char *r = RULE_EQ("what\\?"); /* \? */
    expect_proc(1, r, "CommandLine", "what?");
    expect_proc(0, r, "CommandLine", "whatx");
    expect_proc(0, r, "CommandLine", "what\\?");
}

static void test_escaped_backslash_then_wildcard(void **state)
{
    (void)state;
    const char *r = RULE_EQ("C:\\\\*"); /* \\* : a backslash, then any sequence */
    expect_proc(1, r, "CommandLine", "C:\\");
    expect_proc(1, r, "CommandLine", "C:\\Windows\\x.exe");
    expect_proc(0, r, "CommandLine", "C:x");
    expect_proc(0, r, "CommandLine", "C:*");
    const char *q = RULE_EQ("C:\\\\?"); /* \\? : a backslash, then one character */
    expect_proc(1, q, "CommandLine", "C:\\x");
    expect_proc(0, q, "CommandLine", "C:\\xy");
    expect_proc(0, q, "CommandLine", "C:\\?x");
}

static void test_three_backslashes_star(void **state)
{
    (void)state;
    const char *r = RULE_EQ("a\\\\\\*"); /* \\\* : a backslash and a literal star */
    expect_proc(1, r, "CommandLine", "a\\*");
    expect_proc(0, r, "CommandLine", "a\\x");
    expect_proc(0, r, "CommandLine", "a\\");
    expect_proc(0, r, "CommandLine", "a*");
}

static void test_double_backslash(void **state)
{
    (void)state;
    /* \\\\ is the plain value \\ */
    const char *four = RULE_EQ("\\\\\\\\fileserver\\share");
    expect_proc(1, four, "CommandLine", "\\\\fileserver\\share");
    expect_proc(0, four, "CommandLine", "\\fileserver\\share");
    /* three backslashes before a plain character are a double backslash too */
    const char *three = RULE_EQ("\\\\\\fileserver\\share");
    expect_proc(1, three, "CommandLine", "\\\\fileserver\\share");
    expect_proc(0, three, "CommandLine", "\\fileserver\\share");
    /* \\ before a plain character is one backslash, as is \ */
    const char *two = RULE_EQ("C:\\\\Windows");
    expect_proc(1, two, "CommandLine", "C:\\Windows");
    expect_proc(0, two, "CommandLine", "C:\\\\Windows");
}

static void test_single_backslash_plain(void **state)
{
    (void)state;
    const char *r = RULE_EQ("C:\\Windows\\System32\\cmd.exe");
    expect_proc(1, r, "CommandLine", "C:\\Windows\\System32\\cmd.exe");
    expect_proc(0, r, "CommandLine", "C:WindowsSystem32cmd.exe");
    /* a backslash before other characters stays too: \n is not a newline */
    const char *n = RULE_EQ("C:\\new\\temp");
    expect_proc(1, n, "CommandLine", "C:\\new\\temp");
    expect_proc(0, n, "CommandLine", "C:\new\temp");
}

static void test_trailing_backslash(void **state)
{
    (void)state;
    const char *c = RULE_CONTAINS("\\ProgramData\\");
    expect_proc(1, c, "CommandLine", "C:\\ProgramData\\x");
    expect_proc(1, c, "CommandLine", "copy a C:\\PROGRAMDATA\\");
    expect_proc(0, c, "CommandLine", "C:\\ProgramData");
    expect_proc(0, c, "CommandLine", "C:\\ProgramDatax");
    const char *sw = PROC_RULE("  sel:\n    Image|startswith: 'C:\\Users\\Public\\'\n  condition: sel\n");
    expect_proc(1, sw, "Image", "C:\\Users\\Public\\a.exe");
    const char *eq = RULE_EQ("C:\\");
    expect_proc(1, eq, "CommandLine", "C:\\");
    expect_proc(0, eq, "CommandLine", "C:\\x");
}

static void test_question_mark_is_one_utf8_character(void **state)
{
    (void)state;
    const char *r = RULE_EQ("caf?");
    expect_proc(1, r, "CommandLine", "cafe");
    expect_proc(1, r, "CommandLine", "caf\xc3\xa9");         /* é: two bytes */
    expect_proc(1, r, "CommandLine", "caf\xe2\x82\xac");     /* €: three bytes */
    expect_proc(1, r, "CommandLine", "caf\xf0\x9f\x98\x80"); /* U+1F600: four bytes */
    expect_proc(0, r, "CommandLine", "caf");
    expect_proc(0, r, "CommandLine", "caf\xc3\xa9s");
    const char *two = RULE_EQ("x??y");
    expect_proc(0, two, "CommandLine", "x\xc3\xa9y"); /* one character, two bytes */
    expect_proc(1, two, "CommandLine", "x\xc3\xa9\xc3\xa9y");
    expect_proc(1, two, "CommandLine", "xaby");
    /* inside contains, after a backslash (\\? is a backslash, then the wildcard) */
    const char *c = RULE_CONTAINS("\\\\?\\r?.exe");
    expect_proc(1, c, "CommandLine", "C:\\Users\\\xd0\x96\\r\xd0\x96.exe -x"); /* Ж */
    expect_proc(0, c, "CommandLine", "C:\\Users\\ab\\r.exe");
}

static void test_star_spans_anything(void **state)
{
    (void)state;
    const char *r = RULE_EQ("*\\temp\\\\*.ps1");
    expect_proc(1, r, "CommandLine", "C:\\Users\\a\\AppData\\Local\\Temp\\x.ps1");
    expect_proc(1, r, "CommandLine", "\\temp\\.ps1");
    expect_proc(1, r, "CommandLine", "C:\\temp\\a\\temp\\b.ps1");
    expect_proc(0, r, "CommandLine", "C:\\temp\\x.ps1.txt");
    /* backtracking over repeated literals */
    const char *b = RULE_EQ("*aab*aab");
    expect_proc(1, b, "CommandLine", "aaaabaaab");
    expect_proc(0, b, "CommandLine", "aaaabaaa");
    const char *m = RULE_EQ("a*b?c*d");
    expect_proc(1, m, "CommandLine", "axxbycqqd");
    expect_proc(1, m, "CommandLine", "abbbcbxcd");
    expect_proc(0, m, "CommandLine", "abcd");
}

static void test_escapes_before_encoding(void **state)
{
    (void)state;
    /* the escaped star is a literal and is encoded: base64("a*") = "YSo=" */
    const char *r = PROC_RULE("  sel:\n    CommandLine|base64: 'a\\*'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "YSo=");
    /* a real wildcard cannot be encoded */
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|base64: 'a*'\n  condition: sel\n"), "wildcard"));
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|base64offset|contains: 'a?b'\n  condition: sel\n"),
                              "wildcard"));
}

static void test_no_escapes_in_regex(void **state)
{
    (void)state;
    /* a regular expression is passed as written: \* is the regex escape */
    const char *r = PROC_RULE("  sel:\n    CommandLine|re: 'a\\*b'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "xa*by");
    expect_proc(0, r, "CommandLine", "aab");
    const char *bs = PROC_RULE("  sel:\n    CommandLine|re: '^C:\\\\Windows$'\n  condition: sel\n");
    expect_proc(1, bs, "CommandLine", "C:\\Windows");
    expect_proc(0, bs, "CommandLine", "C:\\\\Windows");
}

static void test_percent_without_expand(void **state)
{
    (void)state;
    /* only expand makes \% an escape */
    const char *r = RULE_EQ("100\\%");
    expect_proc(1, r, "CommandLine", "100\\%");
    expect_proc(0, r, "CommandLine", "100%");
    const char *p = RULE_EQ("%COMSPEC%");
    expect_proc(1, p, "CommandLine", "%comspec%");
}

static void test_double_quoted_yaml(void **state)
{
    (void)state;
    /* In a double-quoted YAML string YAML itself unescapes first:
     * "C:\\Windows\\*" reaches Sigma as C:\Windows\* (a literal star). */
    const char *r = PROC_RULE("  sel:\n    CommandLine: \"C:\\\\Windows\\\\*\"\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "C:\\Windows*");
    expect_proc(0, r, "CommandLine", "C:\\Windows\\x");
    /* plain (unquoted) YAML keeps backslashes as they are */
    const char *p = PROC_RULE("  sel:\n    CommandLine|endswith: \\cmd.exe\n  condition: sel\n");
    expect_proc(1, p, "CommandLine", "C:\\w\\cmd.exe");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_escaped_star_is_literal),
        cmocka_unit_test(test_escaped_question_is_literal),
        cmocka_unit_test(test_escaped_backslash_then_wildcard),
        cmocka_unit_test(test_three_backslashes_star),
        cmocka_unit_test(test_double_backslash),
        cmocka_unit_test(test_single_backslash_plain),
        cmocka_unit_test(test_trailing_backslash),
        cmocka_unit_test(test_question_mark_is_one_utf8_character),
        cmocka_unit_test(test_star_spans_anything),
        cmocka_unit_test(test_escapes_before_encoding),
        cmocka_unit_test(test_no_escapes_in_regex),
        cmocka_unit_test(test_percent_without_expand),
        cmocka_unit_test(test_double_quoted_yaml),
    };
    return cmocka_run_group_tests_name("escaping", tests, NULL, NULL);
}
