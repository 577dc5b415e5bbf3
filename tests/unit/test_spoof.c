/* src/behaviour/spoof.c: parent-process spoofing and processes started with
 * another's token, from Security 4688 and Sysmon 1 as Windows writes them.
 *
 * Each attack shape is checked next to the legitimate events that look most
 * like it: Windows' own brokers (UAC's AppInfo, seclogon for runas,
 * winlogon, the task scheduler, WMI) create processes for other processes
 * and with other tokens, always calling as a built-in account. Then the
 * table's limits: a parent whose pid was reused, that ended, that started
 * too long ago, another host's process, hostile numbers, a full table. */
#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviour/spoof.h"
#include "event/event.h"
#include "event/fields.h"

#define HOST "ws1.corp.example"
#define T0   1780000000000000000LL /* ns */
#define SEC  1000000000LL

#define USER_A "0x00000000005a3c1f" /* an ordinary logon session */
#define USER_B "0x00000000006b1e04" /* another one (another user, or the elevated half of A) */
#define SYSTEM "0x00000000000003e7"

/* Name, value pairs up to a NULL name. */
struct kv {
    const char *name, *value;
};

/* Every table has a twin that sees each event as `stoat hunt` hands it
 * over: its facts worked out apart (spoof_facts_of, without the host and
 * the time, from copies of the fields freed before the table sees them, as
 * a matching thread does) and then applied (spoof_apply). Both must judge
 * alike, each event. */
#define TWINS 4
static struct spoof *twin_real[TWINS], *twin_of[TWINS];

static struct spoof *both_create(size_t max_procs)
{
    struct spoof *s = spoof_create(max_procs);
    for (int i = 0; i < TWINS; i++)
        if (!twin_real[i]) {
            twin_real[i] = s;
            twin_of[i] = spoof_create(max_procs);
            return s;
        }
    fail_msg("more than %d tables at once", TWINS);
    return s;
}

static void both_destroy(struct spoof *s)
{
    for (int i = 0; s && i < TWINS; i++)
        if (twin_real[i] == s) {
            spoof_destroy(twin_of[i]);
            twin_real[i] = twin_of[i] = NULL;
        }
    spoof_destroy(s);
}

static struct spoof *twin(const struct spoof *s)
{
    for (int i = 0; i < TWINS; i++)
        if (twin_real[i] == s)
            return twin_of[i];
    fail_msg("a table made without both_create");
    return NULL;
}

/* The facts of a, as a matching thread works them out. */
static void facts_apart(const struct stoat_alert *a, struct spoof_facts *out)
{
    struct stoat_field f[24];
    char *eid = a->event_id ? strdup(a->event_id) : NULL;
    for (size_t i = 0; i < a->nfields; i++) {
        f[i] = a->fields[i];
        f[i].name = strndup(a->fields[i].name, a->fields[i].name_len);
        f[i].value = strndup(a->fields[i].value, a->fields[i].value_len);
    }
    struct stoat_alert v = {.time_ns = INT64_MIN, .event_id = eid, .fields = f, .nfields = a->nfields};
    spoof_facts_of(&v, out);
    for (size_t i = 0; i < a->nfields; i++) {
        free((char *)f[i].name);
        free((char *)f[i].value);
    }
    free(eid);
}

static const struct stoat_rule_meta *judged(struct spoof *s, const struct stoat_alert *a)
{
    const struct stoat_rule_meta *m = spoof_event(s, a);
    struct spoof_facts f;
    facts_apart(a, &f);
    /* as the serial stage gets it: its sets loaded an event ahead */
    uint64_t self, parent;
    spoof_keys_of(spoof_host_hash_n(a->host ? a->host : "", a->host ? strlen(a->host) : 0), &f, &self, &parent);
    if (self)
        spoof_prefetch(twin(s), self);
    if (parent)
        spoof_prefetch(twin(s), parent);
    const struct stoat_rule_meta *apart = spoof_apply(twin(s), a, &f);
    if (m != apart)
        fail_msg("judged apart: %s, in one go: %s", apart ? apart->id : "nothing", m ? m->id : "nothing");
    return m;
}

static const struct stoat_rule_meta *feed_at(struct spoof *s, const char *host, const char *eid, int64_t t,
                                             const struct kv *kv)
{
    struct stoat_field f[24];
    size_t n = 0;
    for (; kv[n].name; n++) {
        assert_true(n < 24);
        f[n] = (struct stoat_field){.name = kv[n].name,
                                    .value = kv[n].value,
                                    .name_len = (uint32_t)strlen(kv[n].name),
                                    .value_len = (uint32_t)strlen(kv[n].value)};
    }
    struct stoat_alert a = {.host = host, .time_ns = t, .event_id = eid, .fields = f, .nfields = n};
    return judged(s, &a);
}

static const struct stoat_rule_meta *feed(struct spoof *s, const char *eid, int64_t t, const struct kv *kv)
{
    return feed_at(s, HOST, eid, t, kv);
}

static void expect(const struct stoat_rule_meta *got, const char *want_id, const char *what)
{
    if (!want_id && got)
        fail_msg("%s: no alert expected, got \"%s\"", what, got->title);
    if (want_id && !got)
        fail_msg("%s: expected %s, got none", what, want_id);
    if (want_id)
        assert_string_equal(got->id, want_id);
}

/* A Sysmon 1 start: pid, its session and account, parent pid and image. */
static const struct stoat_rule_meta *sysmon_start(struct spoof *s, int64_t t, const char *pid, const char *image,
                                                  const char *logon, const char *user, const char *ppid,
                                                  const char *pimage, const char *puser)
{
    struct kv kv[] = {{"ProcessId", pid},
                      {"Image", image},
                      {"LogonId", logon},
                      {"User", user},
                      {"ParentProcessId", ppid},
                      {"ParentImage", pimage},
                      {puser ? "ParentUser" : NULL, puser},
                      {NULL, NULL}};
    return feed(s, "1", t, kv);
}

/* A 4688 of Windows 10 (with Target and ParentProcessName); target NULL
 * leaves the Target fields out (the older event). */
static const struct stoat_rule_meta *sec_start(struct spoof *s, int64_t t, const char *pid, const char *image,
                                               const char *subject, const char *ppid, const char *pimage,
                                               const char *target)
{
    struct kv kv[] = {{"NewProcessId", pid},
                      {"NewProcessName", image},
                      {"SubjectLogonId", subject},
                      {"ProcessId", ppid},
                      {pimage ? "ParentProcessName" : "x-none", pimage ? pimage : "-"},
                      {target ? "TargetLogonId" : NULL, target},
                      {NULL, NULL}};
    return feed(s, "4688", t, kv);
}

#define WINLOGON "C:\\Windows\\System32\\winlogon.exe"
#define LSASS    "C:\\Windows\\System32\\lsass.exe"
#define EXPLORER "C:\\Windows\\explorer.exe"
#define CMD      "C:\\Windows\\System32\\cmd.exe"
#define SVCHOST  "C:\\Windows\\System32\\svchost.exe"

/* ------------------------------------------------- spoofing to SYSTEM */

static void test_parent_core_system(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    /* an admin's session creates cmd "under" winlogon: the child inherits
     * winlogon's SYSTEM token (Target 0x3e7) */
    expect(sec_start(s, T0, "0x1a0", CMD, USER_A, "0x2c4", WINLOGON, SYSTEM), SPOOF_ID_PARENT, "cmd under winlogon");
    /* the older event (no Target), under lsass */
    expect(sec_start(s, T0 + SEC, "0x1a4", CMD, USER_A, "0x2d0", LSASS, NULL), SPOOF_ID_PARENT, "cmd under lsass, v1");
    /* case and drive do not matter */
    expect(sec_start(s, T0 + 2 * SEC, "0x1a8", CMD, USER_A, "0x2d4", "d:\\WINDOWS\\system32\\SERVICES.EXE", SYSTEM),
           SPOOF_ID_PARENT, "cmd under services");
    both_destroy(s);
}

static void test_brokers_are_not_spoofing(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    /* winlogon starts userinit and the accessibility tools in the user's
     * session: the caller is winlogon itself (SYSTEM) */
    expect(sec_start(s, T0, "0x100", "C:\\Windows\\System32\\userinit.exe", SYSTEM, "0x2c4", WINLOGON, USER_A), NULL,
           "winlogon -> userinit");
    expect(sec_start(s, T0, "0x104", "C:\\Windows\\System32\\AtBroker.exe", SYSTEM, "0x2c4", WINLOGON, USER_A), NULL,
           "winlogon -> AtBroker");
    /* UAC: AppInfo (svchost, SYSTEM) creates the elevated program with the
     * user's explorer as its parent and the elevated token */
    expect(sec_start(s, T0, "0x108", "C:\\Windows\\System32\\mmc.exe", SYSTEM, "0x9f4", EXPLORER, USER_B), NULL,
           "UAC elevation under explorer");
    /* runas: seclogon (SYSTEM) names the caller's cmd as parent, another user's token */
    expect(sec_start(s, T0, "0x10c", CMD, SYSTEM, "0x408", CMD, USER_B), NULL, "runas under cmd");
    /* the task scheduler and WMI start programs in a user's session */
    expect(sec_start(s, T0, "0x110", "C:\\Windows\\System32\\taskhostw.exe", SYSTEM, "0x308", SVCHOST, USER_A), NULL,
           "scheduler -> taskhostw");
    expect(sec_start(s, T0, "0x114", CMD, "0x00000000000003e4", "0x244", "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
                     "0x0"),
           NULL, "WMI process create");
    /* services.exe starting a service as SYSTEM */
    expect(sec_start(s, T0, "0x118", "C:\\Windows\\PSEXESVC.exe", SYSTEM, "0x234",
                     "C:\\Windows\\System32\\services.exe", "0x0"),
           NULL, "services -> PSEXESVC");
    /* the same through Sysmon: ParentUser SYSTEM, a user's child */
    expect(sysmon_start(s, T0, "2000", "C:\\Windows\\System32\\userinit.exe", "0x5a3c1f", "CORP\\a.chen", "600",
                        WINLOGON, "NT AUTHORITY\\SYSTEM"),
           NULL, "sysmon: winlogon -> userinit");
    expect(sysmon_start(s, T0, "2004", "C:\\Windows\\System32\\wsmprovhost.exe", "0x6b1e04", "CORP\\adm.ops", "3000",
                        "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe", "NT AUTHORITY\\NETWORK SERVICE"),
           NULL, "sysmon: WmiPrvSE -> wsmprovhost");
    expect(sysmon_start(s, T0, "2008", "C:\\Windows\\System32\\taskhostw.exe", "0x3e7", "NT AUTHORITY\\SYSTEM", "1468",
                        SVCHOST, "NT AUTHORITY\\SYSTEM"),
           NULL, "sysmon: SYSTEM under SYSTEM");
    both_destroy(s);
}

static void test_ordinary_children(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    /* the user's explorer, cmd and its children: one session all along */
    expect(sec_start(s, T0, "0x9f4", EXPLORER, SYSTEM, "0x5c0", "C:\\Windows\\System32\\userinit.exe", USER_A), NULL,
           "explorer");
    expect(sec_start(s, T0 + SEC, "0xa00", CMD, USER_A, "0x9f4", EXPLORER, "0x0"), NULL, "explorer -> cmd");
    expect(sec_start(s, T0 + 2 * SEC, "0xa04", "C:\\Windows\\System32\\whoami.exe", USER_A, "0xa00", CMD, "0x0"), NULL,
           "cmd -> whoami");
    expect(sec_start(s, T0 + 3 * SEC, "0xa08", "C:\\Windows\\System32\\whoami.exe", USER_A, "0xa00", CMD, NULL), NULL,
           "cmd -> whoami, v1");
    /* a program named like a core process outside System32 is nobody's core process */
    expect(sec_start(s, T0 + 4 * SEC, "0xa0c", CMD, USER_A, "0xb00", "C:\\Users\\a\\lsass.exe", "0x0"), NULL,
           "under a look-alike lsass.exe");
    /* a service account's own children (SQL Server's xp_cmdshell) */
    expect(sec_start(s, T0, "0xc00", "C:\\Program Files\\SQL\\sqlservr.exe", SYSTEM, "0x234",
                     "C:\\Windows\\System32\\services.exe", "0x0000000001304385"),
           NULL, "services -> sqlservr as its account");
    expect(sec_start(s, T0 + SEC, "0xc04", CMD, "0x0000000001304385", "0xc00", "C:\\Program Files\\SQL\\sqlservr.exe",
                     "0x0"),
           NULL, "sqlservr -> cmd");
    both_destroy(s);
}

/* ------------------------------------- spoofing to another session */

static void test_parent_other_session(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    /* explorer of session B, seen by its Sysmon 1; then a 4688 whose caller
     * is session A names it as parent: an elevated process hiding under the
     * user's explorer, or another user's */
    expect(sysmon_start(s, T0, "2548", EXPLORER, "0x6b1e04", "CORP\\a.chen", "1400",
                        "C:\\Windows\\System32\\userinit.exe", "CORP\\a.chen"),
           NULL, "explorer (sysmon)");
    expect(sec_start(s, T0 + 60 * SEC, "0x1000", "C:\\Users\\a\\AppData\\Local\\Temp\\x.exe", USER_A, "0x9f4", EXPLORER,
                     "0x0"),
           SPOOF_ID_PARENT, "session A under session B's explorer");
    /* the same parent, the caller of its session: fine */
    expect(sec_start(s, T0 + 61 * SEC, "0x1004", CMD, USER_B, "0x9f4", EXPLORER, "0x0"), NULL, "B under B's explorer");
    both_destroy(s);
}

/* ----------------------------------------------- a token not the caller's */

static void test_token_from_elsewhere(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    /* Target says SYSTEM, the parent's start is not in the logs */
    expect(sec_start(s, T0, "0x200", CMD, USER_A, "0x3f0", SVCHOST, SYSTEM), SPOOF_ID_TOKEN,
           "ordinary caller, SYSTEM child");
    /* the older 4688 says nothing of the token; the same process's Sysmon 1,
     * a second later, does: both orders */
    expect(sec_start(s, T0 + 10 * SEC, "0x204", CMD, USER_A, "0x3f4", NULL, NULL), NULL, "v1 4688 alone");
    expect(sysmon_start(s, T0 + 11 * SEC, "516", CMD, "0x3e7", "NT AUTHORITY\\SYSTEM", "1012", SVCHOST,
                        "NT AUTHORITY\\SYSTEM"),
           SPOOF_ID_TOKEN, "its Sysmon 1 after");
    expect(sysmon_start(s, T0 + 20 * SEC, "520", CMD, "0x3e7", "NT AUTHORITY\\SYSTEM", "1016", SVCHOST,
                        "NT AUTHORITY\\SYSTEM"),
           NULL, "Sysmon 1 alone");
    expect(sec_start(s, T0 + 21 * SEC, "0x208", CMD, USER_A, "0x3f8", NULL, NULL), SPOOF_ID_TOKEN, "its 4688 after");
    /* a Sysmon 1 of the same pid long after is another process */
    expect(sec_start(s, T0 + 30 * SEC, "0x20c", CMD, USER_A, "0x3fc", NULL, NULL), NULL, "v1 4688");
    expect(sysmon_start(s, T0 + 90 * SEC, "524", CMD, "0x3e7", "NT AUTHORITY\\SYSTEM", "1020", SVCHOST,
                        "NT AUTHORITY\\SYSTEM"),
           NULL, "pid 524 a minute later");
    both_destroy(s);
}

/* ------------------------------------ SYSTEM under an ordinary process */

static void test_system_under_user(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    /* a tool of the admin's session starts cmd with a duplicated SYSTEM
     * token (in a session of its own) */
    expect(sysmon_start(s, T0, "2032", "C:\\Tools\\t.exe", "0x1f4c65f", "CORP\\adm", "2908", CMD, NULL), NULL, "tool");
    expect(sysmon_start(s, T0 + 30 * SEC, "5040", CMD, "0x2e6dea4", "NT AUTHORITY\\SYSTEM", "2032", "C:\\Tools\\t.exe",
                        NULL),
           SPOOF_ID_SYSTEM, "SYSTEM cmd under the tool");
    /* the parent known only by Sysmon's ParentUser: a service account's
     * process (a web pool) with a SYSTEM child */
    expect(sysmon_start(s, T0, "6000", CMD, "0x3e7", "NT AUTHORITY\\SYSTEM", "6100", "C:\\inetpub\\w3wp.exe",
                        "IIS APPPOOL\\site"),
           SPOOF_ID_SYSTEM, "SYSTEM under IIS APPPOOL");
    /* the same domain (NT AUTHORITY\NETWORK SERVICE, LOCAL SERVICE) is a built-in account */
    expect(sysmon_start(s, T0, "6004", CMD, "0x3e7", "NT AUTHORITY\\SYSTEM", "6104", SVCHOST,
                        "NT AUTHORITY\\LOCAL SERVICE"),
           NULL, "SYSTEM under LOCAL SERVICE");
    expect(sysmon_start(s, T0, "6008", CMD, "0x3e7", "NT AUTHORITY\\SYSTEM", "6108", SVCHOST, "-"), NULL,
           "ParentUser '-'");
    /* one alert per process, whichever of its events shows it */
    expect(sysmon_start(s, T0, "6000", CMD, "0x3e7", "NT AUTHORITY\\SYSTEM", "6100", "C:\\inetpub\\w3wp.exe",
                        "IIS APPPOOL\\site"),
           NULL, "the same event again");
    both_destroy(s);
}

/* ------------------------------------------------ what the table trusts */

/* Neither a SYSTEM token under a user's name (User says CORP\\ivan, LogonId
 * 0x3e7: only Sysmon's own inconsistency, nothing about the parent) nor a
 * parent whose pid a user's process of the same name had before (another
 * ProcessGuid) is SYSTEM under an ordinary session: 5,551 false high alerts
 * on a generated day before. */
static void test_system_not_by_user_name_or_reused_pid(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    expect(sysmon_start(s, T0, "58881", "C:\\Windows\\System32\\CompatTelRunner.exe", "0x3e7", "CORP\\ivan", "17109",
                        SVCHOST, "NT AUTHORITY\\SYSTEM"),
           NULL, "0x3e7 under a user's name, SYSTEM parent");
    struct kv user_svchost[] = {{"ProcessId", "3000"},
                                {"ProcessGuid", "{11111111-2222-3333-4444-555555555555}"},
                                {"Image", SVCHOST},
                                {"LogonId", "0x5a3c1f"},
                                {"User", "CORP\\a.chen"},
                                {"ParentProcessId", "700"},
                                {"ParentImage", "C:\\Windows\\System32\\services.exe"},
                                {NULL, NULL}};
    expect(feed(s, "1", T0 + SEC, user_svchost), NULL, "a user's svchost");
    struct kv system_child[] = {{"ProcessId", "3100"},
                                {"Image", "C:\\Windows\\System32\\taskhostw.exe"},
                                {"LogonId", "0x3e7"},
                                {"User", "NT AUTHORITY\\SYSTEM"},
                                {"ParentProcessId", "3000"},
                                {"ParentProcessGuid", "{99999999-2222-3333-4444-555555555555}"},
                                {"ParentImage", SVCHOST},
                                {"ParentUser", "NT AUTHORITY\\SYSTEM"},
                                {NULL, NULL}};
    expect(feed(s, "1", T0 + 60 * SEC, system_child), NULL, "parent pid reused by another svchost");
    /* the same parent by its GUID: SYSTEM under the user's svchost */
    system_child[0].value = "3104";
    system_child[5].value = "{11111111-2222-3333-4444-555555555555}";
    expect(feed(s, "1", T0 + 61 * SEC, system_child), SPOOF_ID_SYSTEM, "SYSTEM under the user's svchost");
    both_destroy(s);
}

static void test_stale_parents(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    /* pid 0x944 was a SYSTEM powershell weeks ago; today the user's cmd
     * with that pid (started before the logs) creates a child */
    expect(sec_start(s, T0, "0x944", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", SYSTEM, "0x300",
                     SVCHOST, "0x0"),
           NULL, "SYSTEM powershell");
    expect(sec_start(s, T0 + 40 * 86400 * SEC, "0xff0", "C:\\Windows\\System32\\wbem\\WMIC.exe", USER_A, "0x944", NULL,
                     "0x0"),
           NULL, "a child of pid 0x944 forty days later");
    /* the parent's program differs from the one the event names */
    expect(sec_start(s, T0, "0x948", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", SYSTEM, "0x300",
                     SVCHOST, "0x0"),
           NULL, "SYSTEM powershell 0x948");
    expect(sec_start(s, T0 + 60 * SEC, "0xff4", "C:\\Windows\\System32\\whoami.exe", USER_A, "0x948", CMD, "0x0"), NULL,
           "child of 0x948 named as cmd's");
    /* the parent ended (4689) before */
    expect(sec_start(s, T0, "0x94c", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe", SYSTEM, "0x300",
                     SVCHOST, "0x0"),
           NULL, "SYSTEM powershell 0x94c");
    expect(feed(s, "4689", T0 + 10 * SEC, (const struct kv[]){{"ProcessId", "0x94c"}, {NULL, NULL}}), NULL, "its end");
    expect(sec_start(s, T0 + 60 * SEC, "0xff8", "C:\\Windows\\System32\\whoami.exe", USER_A, "0x94c", NULL, "0x0"),
           NULL, "child of the ended 0x94c");
    /* while it lived, a child from another session was spoofed */
    expect(sec_start(s, T0 + 5 * SEC, "0xffc", "C:\\Windows\\System32\\whoami.exe", USER_A, "0x94c", NULL, "0x0"),
           SPOOF_ID_PARENT, "child of the living 0x94c");
    /* another host's process of the same pid is not the parent */
    expect(feed_at(s, "ws2.corp.example", "4688", T0 + 6 * SEC,
                   (const struct kv[]){{"NewProcessId", "0x1100"},
                                       {"SubjectLogonId", USER_A},
                                       {"ProcessId", "0x944"},
                                       {"TargetLogonId", "0x0"},
                                       {NULL, NULL}}),
           NULL, "pid 0x944 of another host");
    both_destroy(s);
}

static void test_hostile_fields(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    static const char *const bad[] = {"", "0x", "0xZZ", "12a", "0x11112222333344445", "99999999999999999999", "-5"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        /* a caller that does not parse is unknown: nothing is raised */
        expect(sec_start(s, T0, "0x300", CMD, bad[i], "0x2c4", WINLOGON, SYSTEM), NULL, bad[i]);
        expect(sec_start(s, T0, bad[i], CMD, USER_A, "0x2c4", WINLOGON, SYSTEM), NULL, bad[i]);
        expect(sec_start(s, T0, "0x304", CMD, USER_A, bad[i], WINLOGON, SYSTEM), NULL, bad[i]);
    }
    /* no host, no time, no event id, an event of another id */
    struct stoat_field f[] = {{.name = "NewProcessId", .value = "0x1", .name_len = 12, .value_len = 3}};
    struct stoat_alert a = {.time_ns = INT64_MIN, .event_id = "4688", .fields = f, .nfields = 1};
    expect(judged(s, &a), NULL, "no host, no time");
    a.event_id = NULL;
    expect(judged(s, &a), NULL, "no event id");
    a.event_id = "4624";
    expect(judged(s, &a), NULL, "a logon");
    both_destroy(s);
    both_destroy(NULL);
}

static void test_full_table(void **state)
{
    (void)state;
    /* 8 processes' room: a thousand starts push the oldest out, and a
     * spoofed child of a process still held is seen */
    struct spoof *s = both_create(8);
    char pid[32];
    for (int i = 0; i < 1000; i++) {
        snprintf(pid, sizeof(pid), "0x%x", 0x1000 + 4 * i);
        expect(sec_start(s, T0 + i, pid, CMD, USER_A, "0x9f4", EXPLORER, "0x0"), NULL, "a start");
    }
    expect(sec_start(s, T0 + 2000, "0x8000", CMD, USER_B, "0x1f9c", CMD, "0x0"), SPOOF_ID_PARENT,
           "under the newest, from another session");
    both_destroy(s);
}

/* A record's flags share the word of its insertion order: a process that
 * runs as SYSTEM and was raised on is still the oldest and goes first when
 * the table is full, as when the flags were fields of their own (with no
 * starts after it, it is known: its spoofed child is seen). */
static void test_flagged_oldest_goes(void **state)
{
    (void)state;
    for (int fill = 0; fill <= 1; fill++) {
        struct spoof *s = both_create(8);
        expect(sec_start(s, T0, "0x2c8", CMD, USER_A, "0x2c4", WINLOGON, SYSTEM), SPOOF_ID_PARENT,
               "cmd under winlogon: runs as SYSTEM, raised");
        char pid[32];
        for (int i = 0; fill && i < 1000; i++) {
            snprintf(pid, sizeof(pid), "0x%x", 0x1000 + 4 * i);
            expect(sec_start(s, T0 + 1 + i, pid, CMD, USER_A, "0x9f4", EXPLORER, "0x0"), NULL, "a start");
        }
        expect(sec_start(s, T0 + 2000, "0x8000", CMD, USER_B, "0x2c8", CMD, "0x0"), fill ? NULL : SPOOF_ID_PARENT,
               fill ? "its parent forgotten, the oldest" : "under the SYSTEM cmd, from another session");
        both_destroy(s);
    }
}

static void test_table_grows(void **state)
{
    (void)state;
    /* room for 65,536 processes, made as they come: twenty thousand starts
     * later, the first, a middle one and the last are all still known (a
     * spoofed child of each is seen) */
    struct spoof *s = both_create(0);
    char pid[32];
    for (int i = 0; i < 20000; i++) {
        snprintf(pid, sizeof(pid), "0x%x", 0x10000 + 4 * i);
        expect(sec_start(s, T0 + i, pid, CMD, USER_A, "0x9f4", EXPLORER, "0x0"), NULL, "a start");
    }
    static const int parents[] = {0, 7777, 19999};
    for (int k = 0; k < 3; k++) {
        char child[32], ppid[32];
        snprintf(child, sizeof(child), "0x%x", 0x100000 + 4 * k);
        snprintf(ppid, sizeof(ppid), "0x%x", 0x10000 + 4 * parents[k]);
        expect(sec_start(s, T0 + 30000, child, CMD, USER_B, ppid, CMD, "0x0"), SPOOF_ID_PARENT,
               "under an early, a middle and the newest start, from another session");
    }
    both_destroy(s);
}

/* The table doubles in place, its sets split into the next bit of the
 * key: two thousand starts take it through several doublings from its
 * first 256 sets, and a sample of them spread over all those doublings are
 * each still known (a spoofed child of each is seen), none lost or moved
 * to a set their key does not name. */
static void test_table_grows_in_place(void **state)
{
    (void)state;
    struct spoof *s = both_create(0);
    char pid[32];
    for (int i = 0; i < 2000; i++) {
        snprintf(pid, sizeof(pid), "0x%x", 0x20000 + 4 * i);
        expect(sec_start(s, T0 + i, pid, CMD, USER_A, "0x9f4", EXPLORER, "0x0"), NULL, "a start");
    }
    for (int k = 0; k < 2000; k += 10) {
        char child[32], ppid[32];
        snprintf(child, sizeof(child), "0x%x", 0x200000 + 4 * k);
        snprintf(ppid, sizeof(ppid), "0x%x", 0x20000 + 4 * k);
        expect(sec_start(s, T0 + 3000, child, CMD, USER_B, ppid, CMD, "0x0"), SPOOF_ID_PARENT,
               "under each sampled start, from another session");
    }
    both_destroy(s);
}

static void test_rules_text(void **state)
{
    (void)state;
    const char *t = spoof_rules();
    assert_non_null(strstr(t, SPOOF_RULE_SECURITY));
    assert_non_null(strstr(t, SPOOF_RULE_SYSMON));
}

/* The same facts, worked out two ways. */
static void assert_same_facts(const struct spoof_facts *fast, const struct spoof_facts *slow)
{
    assert_int_equal(fast->kind, slow->kind);
    assert_int_equal(fast->system, slow->system);
    assert_int_equal(fast->parent_core, slow->parent_core);
    assert_int_equal(fast->system_by_name, slow->system_by_name);
    assert_true(fast->pid == slow->pid && fast->ppid == slow->ppid);
    assert_true(fast->image == slow->image && fast->parent_image == slow->parent_image);
    assert_true(fast->guid == slow->guid && fast->parent_guid == slow->parent_guid);
    assert_true(fast->creator == slow->creator && fast->session == slow->session);
}

/* A rule set's names: spoof's own of the bits in mask, and a few others. */
static void names_known(struct fieldtab *t, uint32_t mask)
{
    fieldtab_init(t);
    fieldtab_intern(t, "CommandLine", 11);
    fieldtab_intern(t, "EventID", 7);
    for (size_t k = 0; k < SPOOF_NFIELDS; k++)
        if (mask >> k & 1)
            fieldtab_intern(t, spoof_field_name(k), strlen(spoof_field_name(k)));
}

/* spoof_facts_of_fields on f's fields as a reader and the engine give
 * them: ids from t, linked as engine_event_take links them. */
static void facts_by_id(const struct stoat_alert *a, const struct fieldtab *t, struct spoof_facts *out)
{
    struct ev_field fs[32];
    int32_t first_of[64];
    assert_true(a->nfields <= 32 && t->n < 64);
    for (size_t i = 0; i < 64; i++)
        first_of[i] = -1;
    for (size_t i = a->nfields; i-- > 0;) {
        const struct stoat_field *f = &a->fields[i];
        uint32_t id = fieldtab_lookup(t, f->name, f->name_len);
        fs[i] = (struct ev_field){.name = f->name,
                                  .name_len = f->name_len,
                                  .id = id,
                                  .val = f->value,
                                  .val_len = (uint32_t)f->value_len,
                                  .next = id < t->n ? first_of[id] : -1};
        if (id < t->n)
            first_of[id] = (int32_t)i;
    }
    const struct ev_field *first[SPOOF_NFIELDS];
    uint32_t no_id = 0;
    for (size_t k = 0; k < SPOOF_NFIELDS; k++) {
        uint32_t id = fieldtab_lookup(t, spoof_field_name(k), strlen(spoof_field_name(k)));
        if (id == FIELD_UNKNOWN)
            no_id |= 1u << k;
        first[k] = id < t->n && first_of[id] >= 0 ? &fs[first_of[id]] : NULL;
    }
    spoof_facts_of_fields(a->event_id, fs, a->nfields, first, no_id, out);
}

/* spoof_facts_of finds its fields in one pass, spoof_facts_of_fields by the
 * ids of their names (all, some or none of them known to the rule set);
 * spoof_facts_of_by_name looks each up by name. Random events of those
 * names (any case, repeated, empty, overlong, with a NUL, with spaces that
 * the ids fold away) and of others of the same lengths: the same facts. */
static void test_one_pass_as_by_name(void **state)
{
    (void)state;
    struct fieldtab known[4];
    names_known(&known[0], (1u << SPOOF_NFIELDS) - 1);
    names_known(&known[1], 0);
    names_known(&known[2], 0x5555);
    names_known(&known[3], 0x2aaa);
    assert_null(spoof_field_name(SPOOF_NFIELDS));
    static const char *const names[] = {"ProcessId",
                                        "ParentProcessId",
                                        "Image",
                                        "ParentImage",
                                        "ProcessGuid",
                                        "ParentProcessGuid",
                                        "LogonId",
                                        "User",
                                        "ParentUser",
                                        "NewProcessId",
                                        "NewProcessName",
                                        "ParentProcessName",
                                        "SubjectLogonId",
                                        "TargetLogonId",
                                        "TargetUserSid",
                                        "CommandLine",
                                        "Hashes",
                                        "UtcTime",
                                        "ParentCommandLine",
                                        "IntegrityLevel",
                                        "Useq",
                                        "{ser",
                                        "processid2",
                                        "ProcessI",
                                        "Imag@", /* bytes that are letters ORed with 0x20 */
                                        "USE[",
                                        "Parent\x09mage",
                                        "ParentProcessGui\x04",
                                        "PARENTPROCESSNAM\xc5",
                                        "NewProcessN\x01me",
                                        "Process Id", /* the ids fold spaces away, the names do not */
                                        "Parent Image",
                                        "User ",
                                        "Logon Id",
                                        "TargetLogon Id"};
    static const char *const values[] = {"",
                                         "0x3e7",
                                         "0x00000000005a3c1f",
                                         "4688",
                                         "1234",
                                         "0xZZ",
                                         "-5",
                                         "99999999999999999999",
                                         "0x11112222333344445",
                                         "C:\\Windows\\System32\\lsass.exe",
                                         "C:\\WINDOWS\\system32\\CMD.EXE",
                                         "/usr/sbin/sshd",
                                         "NT AUTHORITY\\SYSTEM",
                                         "CORP\\alice",
                                         "S-1-5-18",
                                         "{5A3C1F00-1111-2222-3333-444455556666}",
                                         "12\0"
                                         "34",
                                         "a\\b/"};
    static const char *const eids[] = {"1", "4688", "4689", "4624", "5"};
    static char longv[700];
    memset(longv, 'A', sizeof(longv) - 1);
    memcpy(longv, "0x1", 3);
    uint64_t r = 0x9e3779b97f4a7c15ULL;
    char names_buf[32][24];
    for (int round = 0; round < 20000; round++) {
        struct stoat_field f[32];
        size_t n = 0, want = 0;
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        want = (size_t)(r >> 59); /* up to 31 fields */
        for (; n < want; n++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            const char *name = names[(r >> 33) % (sizeof(names) / sizeof(names[0]))];
            size_t nl = strlen(name);
            memcpy(names_buf[n], name, nl + 1);
            for (size_t k = 0; k < nl; k++) /* any case */
                if ((r >> (k % 30)) & 1 && names_buf[n][k] >= 'a' && names_buf[n][k] <= 'z')
                    names_buf[n][k] = (char)(names_buf[n][k] - 32);
            size_t vi = (r >> 20) % (sizeof(values) / sizeof(values[0]) + 1);
            const char *v = vi < sizeof(values) / sizeof(values[0]) ? values[vi] : longv;
            uint32_t vl = vi < sizeof(values) / sizeof(values[0]) ? (uint32_t)strlen(v) : (uint32_t)sizeof(longv) - 1;
            if (v[0] == '1' && v[1] == '2' && v[2] == 0)
                vl = 5; /* "12\0" "34" with its NUL */
            f[n] = (struct stoat_field){.name = names_buf[n], .value = v, .name_len = (uint32_t)nl, .value_len = vl};
        }
        struct stoat_alert a = {.time_ns = INT64_MIN,
                                .event_id = eids[(r >> 8) % (sizeof(eids) / sizeof(eids[0]))],
                                .fields = f,
                                .nfields = n};
        struct spoof_facts fast, by_id, slow;
        spoof_facts_of(&a, &fast);
        facts_by_id(&a, &known[round & 3], &by_id);
        spoof_facts_of_by_name(&a, &slow);
        assert_same_facts(&fast, &slow);
        assert_same_facts(&by_id, &slow);
    }
    for (int i = 0; i < 4; i++)
        fieldtab_free(&known[i]);
}

/* Program names are keyed in lower case, eight bytes at a time: a name and
 * its ASCII lower case are one key, whatever the length, and a name that
 * differs by a byte that is no ASCII capital ('@' and '`', 0xC9 and 0xE9,
 * '[' and '{') is another. */
static void test_image_key_case(void **state)
{
    (void)state;
    static const char bytes[] = "AZaz@[`{09.-_\xc9\xe9\xff\x80Mm";
    uint64_t r = 77;
    for (int round = 0; round < 20000; round++) {
        char name[3][64];
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t n = 1 + (r >> 59);
        for (size_t k = 0; k < n; k++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            name[0][k] = bytes[(r >> 33) % (sizeof(bytes) - 1)];
            name[1][k] = (char)(name[0][k] >= 'A' && name[0][k] <= 'Z' ? name[0][k] + 32 : name[0][k]);
        }
        name[0][n] = name[1][n] = 0;
        /* the same with one byte's 0x20 bit flipped where that is no case */
        memcpy(name[2], name[1], n + 1);
        size_t at = (r >> 20) % n;
        unsigned char c = (unsigned char)name[2][at];
        bool letter = (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
        name[2][at] = (char)(c ^ 0x20);
        struct spoof_facts f[3];
        for (int v = 0; v < 3; v++) {
            char path[256];
            snprintf(path, sizeof(path), "C:\\Dir\\%s", name[v]);
            struct stoat_field fs[] = {
                {.name = "ProcessId", .value = "1", .name_len = 9, .value_len = 1},
                {.name = "ParentProcessId", .value = "2", .name_len = 15, .value_len = 1},
                {.name = "Image", .value = path, .name_len = 5, .value_len = (uint32_t)strlen(path)},
            };
            struct stoat_alert a = {.time_ns = INT64_MIN, .event_id = "1", .fields = fs, .nfields = 3};
            spoof_facts_of(&a, &f[v]);
        }
        bool sep = name[2][at] == '\\' || name[2][at] == '/' || c == '\\' || c == '/' || !name[2][at] || !c;
        assert_true(f[0].image == f[1].image);
        if (!letter && !sep)
            assert_true(f[1].image != f[2].image);
    }
}

/* The keys a worker hands the serial stage to load ahead: the host hashed
 * as the stage hashes its name (up to a NUL), a start's own key its
 * child's parent key, none for an event the watch does not take, no
 * parent for an end. */
static void test_keys_ahead(void **state)
{
    (void)state;
    assert_true(spoof_host_hash_n(HOST, strlen(HOST)) == spoof_host_hash(HOST));
    assert_true(spoof_host_hash_n(HOST "\0tail", strlen(HOST) + 5) == spoof_host_hash(HOST));
    assert_true(spoof_host_hash_n("", 0) == spoof_host_hash(""));
    uint64_t h = spoof_host_hash(HOST), self, parent, child_self, child_parent;
    struct spoof_facts start = {.kind = SPOOF_START_SECURITY, .pid = 0x2c8, .ppid = 0x2c4};
    struct spoof_facts child = {.kind = SPOOF_START_SYSMON, .pid = 0x1f9c, .ppid = 0x2c8};
    spoof_keys_of(h, &start, &self, &parent);
    spoof_keys_of(h, &child, &child_self, &child_parent);
    assert_true(self && parent && self != parent && child_self != self);
    assert_true(child_parent == self);
    spoof_keys_of(spoof_host_hash("other"), &child, &child_self, &child_parent);
    assert_true(child_parent != self);
    struct spoof_facts end = {.kind = SPOOF_END, .pid = 0x2c8};
    spoof_keys_of(h, &end, &child_self, &child_parent);
    assert_true(child_self == self && child_parent == 0);
    struct spoof_facts none = {.kind = SPOOF_NONE, .pid = 0x2c8, .ppid = 0x2c4};
    spoof_keys_of(h, &none, &child_self, &child_parent);
    assert_true(child_self == 0 && child_parent == 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parent_core_system),   cmocka_unit_test(test_brokers_are_not_spoofing),
        cmocka_unit_test(test_ordinary_children),    cmocka_unit_test(test_parent_other_session),
        cmocka_unit_test(test_token_from_elsewhere), cmocka_unit_test(test_system_under_user),
        cmocka_unit_test(test_stale_parents),        cmocka_unit_test(test_hostile_fields),
        cmocka_unit_test(test_full_table),           cmocka_unit_test(test_flagged_oldest_goes),
        cmocka_unit_test(test_table_grows),          cmocka_unit_test(test_table_grows_in_place),
        cmocka_unit_test(test_rules_text),           cmocka_unit_test(test_system_not_by_user_name_or_reused_pid),
        cmocka_unit_test(test_one_pass_as_by_name),  cmocka_unit_test(test_image_key_case),
        cmocka_unit_test(test_keys_ahead),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
