/* Unit tests for the auditd reader (src/readers/auditd*.c).
 *
 * Why whole hunts over hand-written logs: what matters is what a rule sees,
 * which needs the join on the reading thread, the decoding on the worker, the
 * mapping file's routing and the engine; so every test writes a small
 * audit.log (raw, enriched or `ausearch -i`), hunts it with a handful of test
 * rules and looks at the events, fields, alerts and diagnostics that come out.
 * The lines are written for these tests in the shapes Debian's auditd 3.0
 * and the kernel produce (and that other projects publish as samples).
 */
#include "testutil.h"

#include "reader_capture.h"
#include "readers/reader.h"

static struct stoat_ruleset *RS;

static const char RULES[] =
    "title: T execve id\nlogsource: {product: linux, service: auditd}\n"
    "detection:\n  sel:\n    type: EXECVE\n    a0: id\n  condition: sel\nlevel: low\n"
    "---\ntitle: T firewall stopped\nlogsource: {product: linux, service: auditd}\n"
    "detection:\n  sel:\n    type: SERVICE_STOP\n    unit: firewalld\n  condition: sel\nlevel: medium\n"
    "---\ntitle: T dmesg cleared\nlogsource: {product: linux, service: auditd}\n"
    "detection:\n  sel:\n    type: SYSCALL\n    SYSCALL: syslog\n    a0: [4, 5]\n  condition: sel\nlevel: low\n"
    "---\ntitle: T systemd unit created\nlogsource: {product: linux, service: auditd}\n"
    "detection:\n  path:\n    type: PATH\n    nametype: CREATE\n  name:\n    name|startswith: /etc/systemd/system/\n"
    "  condition: path and name\nlevel: medium\n"
    "---\ntitle: T key net\nlogsource: {product: linux, service: auditd}\n"
    "detection:\n  sel:\n    key: net_connect\n  condition: sel\nlevel: low\n"
    "---\ntitle: T grep password\nlogsource: {product: linux, service: auditd}\n"
    "detection:\n  sel:\n    type: EXECVE\n  kw:\n    '|all': [grep, password]\n  condition: sel and kw\nlevel: low\n"
    "---\ntitle: T proc curl\nlogsource: {product: linux, category: process_creation}\n"
    "detection:\n  sel:\n    Image|endswith: /curl\n  condition: sel\nlevel: low\n"
    "---\ntitle: T proc any\nlogsource: {product: linux, category: process_creation}\n"
    "detection:\n  sel:\n    Image|contains: /\n  condition: sel\nlevel: low\n"
    "---\ntitle: T net loopback\nlogsource: {product: linux, category: network_connection}\n"
    "detection:\n  sel:\n    DestinationIp|cidr: 127.0.0.0/8\n    Initiated: 'true'\n  condition: sel\nlevel: low\n"
    "---\ntitle: T file tmp\nlogsource: {product: linux, category: file_event}\n"
    "detection:\n  sel:\n    TargetFilename|startswith: /tmp/\n  condition: sel\nlevel: low\n"
    "---\ntitle: T file delete\nlogsource: {product: linux, category: file_delete}\n"
    "detection:\n  sel:\n    TargetFilename|contains: /\n  condition: sel\nlevel: low\n";

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

static void hunt(struct capture *c, const char *text)
{
    cap_run(c, RS, text, strlen(text), NULL, 1);
}

/* ------------------------------------------------------------- raw logs */

/* RAW format (no enrichment): hex arguments, hex cwd, proctitle, EOE. */
static const char EXEC_RAW[] =
    "type=SYSCALL msg=audit(1700000000.123:100): arch=c000003e syscall=59 success=yes exit=0 a0=55d0c8e0 "
    "a1=55d0c9a0 a2=55d0cb00 a3=8 items=2 ppid=4000 pid=4001 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 "
    "fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=7 comm=\"curl\" exe=\"/usr/bin/curl\" "
    "key=\"stoat_exec\"\n"
    "type=EXECVE msg=audit(1700000000.123:100): argc=3 a0=\"curl\" a1=\"-s\" "
    "a2=687474703A2F2F3132372E302E302E313A383038302F78\n"
    "type=CWD msg=audit(1700000000.123:100): cwd=2F686F6D652F616C6963652F4D7920446F6373\n"
    "type=PATH msg=audit(1700000000.123:100): item=0 name=\"/usr/bin/curl\" inode=1234 dev=fe:00 mode=0100755 "
    "ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n"
    "type=PATH msg=audit(1700000000.123:100): item=1 name=\"/lib64/ld-linux-x86-64.so.2\" inode=99 dev=fe:00 "
    "mode=0100755 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n"
    "type=PROCTITLE msg=audit(1700000000.123:100): "
    "proctitle=6375726C002D7300687474703A2F2F3132372E302E302E313A383038302F78\n"
    "type=EOE msg=audit(1700000000.123:100): \n";

static void test_raw_execve_joined(void **state)
{
    (void)state;
    struct capture c;
    hunt(&c, EXEC_RAW);
    assert_int_equal(cap_count(&c, "auditd", NULL), 1);
    const struct cap_event *e = cap_find(&c, "auditd", "1300", 0);
    assert_non_null(e);
    assert_int_equal(e->line, 1);
    /* one type per record; EOE ends the event and is not kept */
    assert_int_equal(ev_nvalues(e, "type"), 6);
    assert_str(ev_get(e, "type", 0), "SYSCALL");
    assert_str(ev_get(e, "type", 1), "EXECVE");
    assert_str(ev_get(e, "SYSCALL", 0), "execve"); /* named from the syscall table */
    assert_str(ev_get(e, "a0", 0), "curl");
    assert_str(ev_get(e, "a2", 0), "http://127.0.0.1:8080/x");
    assert_int_equal(ev_nvalues(e, "a0"), 1); /* the syscall's own a0 is syscall_a0 */
    assert_str(ev_get(e, "syscall_a0", 0), "55d0c8e0");
    assert_str(ev_get(e, "cwd", 0), "/home/alice/My Docs");
    assert_str(ev_get(e, "proctitle", 0), "curl -s http://127.0.0.1:8080/x");
    assert_int_equal(ev_nvalues(e, "name"), 2);
    assert_str(ev_get(e, "audit_time", 0), "2023-11-14T22:13:20.123000Z");
    assert_str(ev_get(e, "serial", 0), "100");
    assert_str(ev_get(e, "Computer", 0), "");
    /* the derived process view */
    const struct cap_event *p = cap_find(&c, "auditd-derived", "1", 0);
    assert_non_null(p);
    assert_int_equal(p->line, 1);
    assert_str(ev_get(p, "Image", 0), "/usr/bin/curl");
    assert_str(ev_get(p, "CommandLine", 0), "curl -s http://127.0.0.1:8080/x");
    assert_str(ev_get(p, "CurrentDirectory", 0), "/home/alice/My Docs");
    assert_str(ev_get(p, "User", 0), "1000");
    assert_str(ev_get(p, "LogonId", 0), "7");
    assert_str(ev_get(p, "ProcessId", 0), "4001");
    assert_str(ev_get(p, "ParentProcessId", 0), "4000");
    assert_null(ev_get(p, "ParentImage", 0)); /* the parent was never seen */
    assert_true(ev_fired(p, "T proc curl"));
    assert_false(ev_fired(e, "T proc curl")); /* process rules never see the raw event */
    assert_int_equal(c.ndiag, 0);
    assert_int_equal(c.st.skipped, 0);
    cap_free(&c);
}

/* ENRICHED format (Debian's default): the \x1d section gives SYSCALL, UID. */
static void test_enriched(void **state)
{
    (void)state;
    const char *log =
        "type=SYSCALL msg=audit(1700000001.500:200): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 "
        "a3=4 items=2 ppid=4001 pid=4002 auid=1000 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        "tty=pts1 ses=7 comm=\"id\" exe=\"/usr/bin/id\" subj=unconfined key=(null)\x1d"
        "ARCH=x86_64 "
        "SYSCALL=execve AUID=\"alice\" UID=\"root\" GID=\"root\" EUID=\"root\"\n"
        "type=EXECVE msg=audit(1700000001.500:200): argc=1 a0=\"id\"\n"
        "type=CWD msg=audit(1700000001.500:200): cwd=\"/root\"\n"
        "type=PATH msg=audit(1700000001.500:200): item=0 name=\"/usr/bin/id\" inode=5 dev=fe:00 mode=0100755 "
        "ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\x1d"
        "OUID=\"root\" OGID=\"root\"\n"
        "type=PROCTITLE msg=audit(1700000001.500:200): proctitle=\"id\"\n";
    struct capture c;
    hunt(&c, log);
    const struct cap_event *e = cap_find(&c, "auditd", "1300", 0);
    assert_non_null(e);
    assert_int_equal(ev_nvalues(e, "SYSCALL"), 1); /* enriched: not added twice */
    assert_str(ev_get(e, "SYSCALL", 0), "execve");
    assert_str(ev_get(e, "ARCH", 0), "x86_64");
    assert_str(ev_get(e, "AUID", 0), "alice");
    assert_str(ev_get(e, "OUID", 0), "root");
    assert_str(ev_get(e, "key", 0), "(null)");
    assert_true(ev_fired(e, "T execve id"));
    assert_int_equal(cap_alerts(&c, "T execve id"), 1); /* once: the derived view is not auditd */
    const struct cap_event *p = cap_find(&c, "auditd-derived", "1", 0);
    assert_str(ev_get(p, "User", 0), "root"); /* the enriched name */
    assert_str(ev_get(p, "CommandLine", 0), "id");
    cap_free(&c);
}

/* Long arguments: a1_len, a1[0], a1[1], ... over two EXECVE records, hex
 * and quoted pieces; more arguments after it. */
static void test_split_arguments(void **state)
{
    (void)state;
    const char *log =
        "type=SYSCALL msg=audit(1700000002.000:300): arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 "
        "a3=4 items=1 ppid=1 pid=5000 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) "
        "ses=1 comm=\"echo\" exe=\"/usr/bin/echo\" key=(null)\n"
        "type=EXECVE msg=audit(1700000002.000:300): argc=4 a0=\"echo\" a1_len=20 a1[0]=6162636465666768 "
        "a1[1]=\"ijkl\"\n"
        "type=EXECVE msg=audit(1700000002.000:300): a1[2]=\"mnopqrst\" a2=74776F20776F726473 a3=\"end\"\n"
        "type=EOE msg=audit(1700000002.000:300): \n";
    struct capture c;
    hunt(&c, log);
    const struct cap_event *e = cap_find(&c, "auditd", NULL, 0);
    assert_non_null(e);
    assert_str(ev_get(e, "a1", 0), "abcdefghijklmnopqrst");
    assert_str(ev_get(e, "a2", 0), "two words");
    assert_str(ev_get(e, "a3", 0), "end");
    assert_null(ev_get(e, "a1_len", 0));
    assert_null(ev_get(e, "a1[0]", 0));
    const struct cap_event *p = cap_find(&c, "auditd-derived", "1", 0);
    assert_str(ev_get(p, "CommandLine", 0), "echo abcdefghijklmnopqrst two words end");
    assert_int_equal(c.ndiag, 0);
    cap_free(&c);
}

/* Records of two events interleaved; auditd 3 writes no EOE. */
static void test_interleaved_serials(void **state)
{
    (void)state;
    const char *log =
        "type=SYSCALL msg=audit(1700000003.000:401): arch=c000003e syscall=59 success=yes exit=0 a0=0 a1=0 "
        "a2=0 a3=0 items=1 ppid=1 pid=6001 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        "tty=(none) ses=1 comm=\"id\" exe=\"/usr/bin/id\" key=(null)\n"
        "type=SYSCALL msg=audit(1700000003.001:402): arch=c000003e syscall=103 success=yes exit=0 a0=5 a1=0 "
        "a2=0 a3=0 items=0 ppid=1 pid=6002 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        "tty=(none) ses=1 comm=\"dmesg\" exe=\"/usr/bin/dmesg\" key=(null)\n"
        "type=EXECVE msg=audit(1700000003.000:401): argc=2 a0=\"id\" a1=\"-u\"\n"
        "type=PROCTITLE msg=audit(1700000003.001:402): proctitle=646D657367002D43\n"
        "type=CWD msg=audit(1700000003.000:401): cwd=\"/\"\n";
    struct capture c;
    hunt(&c, log);
    assert_int_equal(cap_count(&c, "auditd", NULL), 2);
    const struct cap_event *a = cap_find(&c, "auditd", NULL, 0), *b = cap_find(&c, "auditd", NULL, 1);
    assert_str(ev_get(a, "serial", 0), "401"); /* in the order the events began */
    assert_int_equal(a->line, 1);
    assert_int_equal(ev_nvalues(a, "type"), 3);
    assert_str(ev_get(a, "a1", 0), "-u");
    assert_str(ev_get(a, "cwd", 0), "/");
    assert_str(ev_get(b, "serial", 0), "402");
    assert_int_equal(b->line, 2);
    assert_int_equal(ev_nvalues(b, "type"), 2);
    assert_str(ev_get(b, "SYSCALL", 0), "syslog");
    assert_str(ev_get(b, "a0", 0), "5"); /* no EXECVE: the syscall's arguments keep their names */
    assert_str(ev_get(b, "proctitle", 0), "dmesg -C");
    assert_true(ev_fired(b, "T dmesg cleared"));
    assert_true(ev_fired(a, "T execve id"));
    assert_false(ev_fired(a, "T dmesg cleared"));
    cap_free(&c);
}

/* Garbage lines are reported at their line and skipped; the rest is kept. */
static void test_garbage_lines(void **state)
{
    (void)state;
    const char *log =
        "type=USER_LOGIN msg=audit(1700000004.000:500): pid=1 uid=0 auid=1000 ses=2 msg='op=login id=1000 "
        "exe=\"/usr/sbin/sshd\" hostname=10.0.0.5 addr=10.0.0.5 terminal=/dev/pts/0 res=success'\n"
        "this is not an audit record\n"
        "type=SYSCALL msg=audit(garbage): arch=c000003e\n"
        "type=SYSCALL msg=audit(1700000004.000:abc): arch=c000003e\n"
        "type=lower msg=audit(1700000004.000:7): x=1\n"
        "\n"
        "type=SERVICE_STOP msg=audit(1700000004.100:501): pid=1 uid=0 auid=4294967295 ses=4294967295 "
        "msg='unit=firewalld comm=\"systemd\" exe=\"/usr/lib/systemd/systemd\" hostname=? addr=? terminal=? "
        "res=success'\n";
    struct capture c;
    hunt(&c, log);
    assert_int_equal(cap_count(&c, "auditd", NULL), 2);
    assert_non_null(cap_diag(&c, 2, "error", "not an audit record"));
    assert_non_null(cap_diag(&c, 3, "error", "msg=audit"));
    assert_non_null(cap_diag(&c, 4, "error", "serial"));
    assert_non_null(cap_diag(&c, 5, "error", "record type"));
    assert_int_equal(c.ndiag, 4);
    assert_int_equal(c.st.skipped, 4);
    const struct cap_event *l = cap_find(&c, "auditd", "1112", 0);
    assert_non_null(l);
    /* the fields inside msg='...' */
    assert_str(ev_get(l, "op", 0), "login");
    assert_str(ev_get(l, "addr", 0), "10.0.0.5");
    assert_str(ev_get(l, "exe", 0), "/usr/sbin/sshd");
    assert_str(ev_get(l, "Computer", 0), ""); /* not the remote hostname */
    const struct cap_event *s = cap_find(&c, "auditd", "1131", 0);
    assert_non_null(s);
    assert_int_equal(s->line, 7);
    assert_true(ev_fired(s, "T firewall stopped"));
    cap_free(&c);
}

/* The last record cut in the middle of a quoted value (a log copied while
 * auditd wrote it): a warning at its line, the event kept. */
static void test_truncated_record(void **state)
{
    (void)state;
    const char *log =
        "type=SYSCALL msg=audit(1700000005.000:600): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c "
        "a1=7ffd a2=0 a3=0 items=1 ppid=1 pid=7000 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        "fsgid=0 tty=(none) ses=1 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"f\"\n"
        "type=PATH msg=audit(1700000005.000:600): item=0 name=\"/etc/pass";
    struct capture c;
    hunt(&c, log);
    const struct cap_event *e = cap_find(&c, "auditd", NULL, 0);
    assert_non_null(e);
    assert_str(ev_get(e, "name", 0), "/etc/pass");
    assert_non_null(cap_diag(&c, 2, "warning", "unterminated"));
    assert_null(cap_find(&c, "auditd-derived", NULL, 0)); /* a read: no file view */
    cap_free(&c);
}

/* ---------------------------------------------------------- ausearch -i */

static const char INTERPRETED[] =
    "----\n"
    "type=PROCTITLE msg=audit(11/19/26 21:37:05.200:4567) : proctitle=curl -s http://127.0.0.1:8080/x \n"
    "type=PATH msg=audit(11/19/26 21:37:05.200:4567) : item=0 name=/usr/bin/curl inode=1234 dev=fe:00 "
    "mode=file,755 ouid=root ogid=root rdev=00:00 nametype=NORMAL cap_fp=none cap_fi=none cap_fe=0 cap_fver=0 "
    "cap_frootid=0 \n"
    "type=CWD msg=audit(11/19/26 21:37:05.200:4567) : cwd=/home/alice \n"
    "type=EXECVE msg=audit(11/19/26 21:37:05.200:4567) : argc=4 a0=curl a1=-s a2=http://127.0.0.1:8080/x "
    "a3=two words=yes \n"
    "type=SYSCALL msg=audit(11/19/26 21:37:05.200:4567) : arch=x86_64 syscall=execve success=yes exit=0 "
    "a0=0x55d0c8e0 a1=0x55d0c9a0 a2=0x55d0cb00 a3=0x8 items=2 ppid=4000 pid=4001 auid=alice uid=alice "
    "gid=alice euid=alice suid=alice fsuid=alice egid=alice sgid=alice fsgid=alice tty=pts1 ses=7 comm=curl "
    "exe=/usr/bin/curl key=stoat_exec \n"
    "----\n"
    "type=SOCKADDR msg=audit(11/19/2026 21:37:05.300:4568) : saddr={ saddr_fam=inet laddr=127.0.0.1 "
    "lport=8080 } \n"
    "type=SYSCALL msg=audit(11/19/2026 21:37:05.300:4568) : arch=x86_64 syscall=connect success=no "
    "exit=EINPROGRESS(Operation now in progress) a0=0x5 a1=0x7ffc a2=0x10 a3=0x0 items=0 ppid=4000 pid=4001 "
    "auid=alice uid=alice gid=alice euid=alice suid=alice fsuid=alice egid=alice sgid=alice fsgid=alice "
    "tty=pts1 ses=7 comm=curl exe=/usr/bin/curl key=net_connect \n"
    "----\n"
    "type=USER_CMD msg=audit(11/19/26 21:37:06.000:4569) : pid=900 uid=alice auid=alice ses=7 "
    "msg='cwd=/home/alice cmd=ls -la /root terminal=pts/1 res=success' \n"
    /* ausearch -i prints the records last to first: pieces come reversed */
    "----\n"
    "type=EXECVE msg=audit(11/19/26 21:37:07.000:4570) : a1[2]=ijk a2=z \n"
    "type=EXECVE msg=audit(11/19/26 21:37:07.000:4570) : a1[1]=efgh \n"
    "type=EXECVE msg=audit(11/19/26 21:37:07.000:4570) : argc=3 a0=echo a1_len=11 a1[0]=abcd \n";

static void test_interpreted(void **state)
{
    (void)state;
    struct capture c;
    hunt(&c, INTERPRETED);
    assert_int_equal(cap_count(&c, "auditd", NULL), 4);
    const struct cap_event *e = cap_find(&c, "auditd", "1300", 0);
    assert_non_null(e);
    assert_int_equal(e->line, 2);
    assert_str(ev_get(e, "audit_time", 0), "2026-11-19T21:37:05.200");
    assert_str(ev_get(e, "proctitle", 0), "curl -s http://127.0.0.1:8080/x");
    assert_str(ev_get(e, "a3", 0), "two words=yes"); /* only a<N>= ends an argument */
    assert_str(ev_get(e, "SYSCALL", 0), "execve");
    assert_str(ev_get(e, "name", 0), "/usr/bin/curl");
    assert_str(ev_get(e, "mode", 0), "file,755");
    const struct cap_event *p = cap_find(&c, "auditd-derived", "1", 0);
    assert_non_null(p);
    assert_str(ev_get(p, "CommandLine", 0), "curl -s http://127.0.0.1:8080/x two words=yes");
    assert_str(ev_get(p, "User", 0), "alice");
    assert_str(ev_get(p, "CurrentDirectory", 0), "/home/alice");
    /* connect: the interpreted sockaddr */
    const struct cap_event *n = cap_find(&c, "auditd-derived", "3", 0);
    assert_non_null(n);
    assert_str(ev_get(n, "DestinationIp", 0), "127.0.0.1");
    assert_str(ev_get(n, "DestinationPort", 0), "8080");
    assert_str(ev_get(n, "Initiated", 0), "true");
    assert_str(ev_get(n, "Image", 0), "/usr/bin/curl");
    assert_true(ev_fired(n, "T net loopback"));
    const struct cap_event *k = cap_find(&c, "auditd", "1300", 1);
    assert_str(ev_get(k, "exit", 0), "EINPROGRESS(Operation now in progress)");
    assert_str(ev_get(k, "audit_time", 0), "2026-11-19T21:37:05.300");
    assert_true(ev_fired(k, "T key net"));
    const struct cap_event *u = cap_find(&c, "auditd", "1123", 0);
    assert_str(ev_get(u, "cmd", 0), "ls -la /root");
    const struct cap_event *x = cap_find(&c, "auditd", "1309", 0);
    assert_str(ev_get(x, "a1", 0), "abcdefghijk");
    assert_str(ev_get(x, "a2", 0), "z");
    assert_int_equal(c.ndiag, 0);
    cap_free(&c);
}

/* `ausearch` without -i: ---- and time-> lines around raw records. */
static void test_ausearch_raw(void **state)
{
    (void)state;
    const char *log = "----\n"
                      "time->Tue Nov 14 22:13:20 2023\n"
                      "type=USER_ERR msg=audit(1700000000.282:538): pid=2837 uid=0 auid=4294967295 ses=4294967295 "
                      "subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=PAM:bad_ident grantors=? acct=\"?\" "
                      "exe=\"/usr/sbin/sshd\" hostname=198.51.100.7 addr=198.51.100.7 terminal=ssh res=failed'\n"
                      "----\n"
                      "time->Tue Nov 14 22:13:20 2023\n"
                      "type=USER_LOGIN msg=audit(1700000000.282:540): pid=2837 uid=0 auid=4294967295 ses=4294967295 "
                      "subj=system_u:system_r:sshd_t:s0-s0:c0.c1023 msg='op=login acct=\"git\" exe=\"/usr/sbin/sshd\" "
                      "hostname=? addr=198.51.100.7 terminal=ssh res=failed'\n";
    const unsigned char *h = (const unsigned char *)log;
    assert_ptr_equal(reader_detect(h, strlen(log)), &reader_auditd);
    struct capture c;
    hunt(&c, log);
    assert_int_equal(cap_count(&c, "auditd", NULL), 2);
    assert_str(ev_get(cap_find(&c, "auditd", "1109", 0), "op", 0), "PAM:bad_ident");
    assert_str(ev_get(cap_find(&c, "auditd", "1112", 0), "acct", 0), "git");
    assert_int_equal(c.ndiag, 0);
    cap_free(&c);
}

/* ---------------------------------------------------------- host, node */

static void test_node_and_host(void **state)
{
    (void)state;
    const char *log =
        "node=fab-db01 type=DAEMON_START msg=audit(1700000006.000:1): op=start ver=3.0.9 format=enriched "
        "kernel=6.1.0 auid=4294967295 pid=400 uid=0 ses=4294967295 res=success\x1d"
        "AUID=\"unset\" UID=\"root\"\n"
        "type=CONFIG_CHANGE msg=audit(1700000006.100:2): auid=4294967295 ses=4294967295 op=add_rule "
        "key=73746F61745F65786563016E65745F636F6E6E656374 list=4 res=1\n"
        "type=SYSCALL msg=audit(1700000006.100:2): arch=c000003e syscall=44 success=yes exit=1068 a0=4 "
        "a1=7ffe a2=42c a3=0 items=0 ppid=1 pid=9895 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 "
        "sgid=0 fsgid=0 tty=(none) ses=4294967295 comm=\"auditctl\" exe=\"/usr/sbin/auditctl\" key=(null)\n";
    struct capture c;
    cap_run(&c, RS, log, strlen(log), "analyst-given", 2);
    const struct cap_event *d = cap_find(&c, "auditd", "1200", 0);
    assert_str(ev_get(d, "Computer", 0), "fab-db01");
    assert_str(ev_get(d, "node", 0), "fab-db01");
    const struct cap_event *k = cap_find(&c, "auditd", "1305", 0); /* CONFIG_CHANGE, not SYSCALL */
    assert_non_null(k);
    assert_str(ev_get(k, "Computer", 0), "analyst-given");
    /* several rule keys, hex with \x01 between them */
    assert_int_equal(ev_nvalues(k, "key"), 3);
    assert_str(ev_get(k, "key", 0), "stoat_exec");
    assert_str(ev_get(k, "key", 1), "net_connect");
    assert_str(ev_get(k, "key", 2), "(null)");
    assert_str(ev_get(k, "SYSCALL", 0), "sendto");
    cap_free(&c);
}

/* ------------------------------------------------------- derived views */

static void test_network_views(void **state)
{
    (void)state;
    const char *log =
        /* connect to 127.0.0.1:8080 (non-blocking: EINPROGRESS) */
        "type=SYSCALL msg=audit(1700000007.000:700): arch=c000003e syscall=42 success=no exit=-115 a0=5 "
        "a1=7ffc a2=10 a3=0 items=0 ppid=4000 pid=4001 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 "
        "fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=7 comm=\"curl\" exe=\"/usr/bin/curl\" "
        "key=\"net_connect\"\n"
        "type=SOCKADDR msg=audit(1700000007.000:700): saddr=02001F907F0000010000000000000000\x1d"
        "SADDR={ saddr_fam=inet laddr=127.0.0.1 lport=8080 }\n"
        /* accept4 of a peer at [2001:db8::5]:40000 */
        "type=SYSCALL msg=audit(1700000007.100:701): arch=c000003e syscall=288 success=yes exit=6 a0=3 "
        "a1=7ffc a2=7ffd a3=80000 items=0 ppid=1 pid=800 auid=4294967295 uid=33 gid=33 euid=33 suid=33 "
        "fsuid=33 egid=33 sgid=33 fsgid=33 tty=(none) ses=4294967295 comm=\"nginx\" exe=\"/usr/sbin/nginx\" "
        "key=\"net_accept\"\n"
        "type=SOCKADDR msg=audit(1700000007.100:701): saddr=0A009C400000000020010DB8000000000000000000000005"
        "00000000\n"
        /* connect on a unix socket: no network view */
        "type=SYSCALL msg=audit(1700000007.200:702): arch=c000003e syscall=42 success=yes exit=0 a0=3 "
        "a1=7ffc a2=6e a3=0 items=1 ppid=1 pid=801 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        "fsgid=0 tty=(none) ses=1 comm=\"logger\" exe=\"/usr/bin/logger\" key=(null)\n"
        "type=SOCKADDR msg=audit(1700000007.200:702): saddr=01002F6465762F6C6F6700\n";
    struct capture c;
    hunt(&c, log);
    assert_int_equal(cap_count(&c, "auditd", NULL), 3);
    assert_int_equal(cap_count(&c, "auditd-derived", "3"), 2);
    const struct cap_event *raw = cap_find(&c, "auditd", NULL, 0);
    assert_int_equal(ev_nvalues(raw, "laddr"), 1); /* decoded once, SADDR={...} not repeated */
    const struct cap_event *o = cap_find(&c, "auditd-derived", "3", 0);
    assert_str(ev_get(o, "DestinationIp", 0), "127.0.0.1");
    assert_str(ev_get(o, "DestinationPort", 0), "8080");
    assert_str(ev_get(o, "DestinationIsIpv6", 0), "false");
    assert_str(ev_get(o, "User", 0), "1000");
    assert_true(ev_fired(o, "T net loopback"));
    const struct cap_event *i = cap_find(&c, "auditd-derived", "3", 1);
    assert_str(ev_get(i, "Initiated", 0), "false");
    assert_str(ev_get(i, "SourceIp", 0), "2001:db8::5");
    assert_str(ev_get(i, "SourcePort", 0), "40000");
    assert_str(ev_get(i, "SourceIsIpv6", 0), "true");
    assert_false(ev_fired(i, "T net loopback"));
    const struct cap_event *u = cap_find(&c, "auditd", NULL, 2);
    assert_str(ev_get(u, "saddr_fam", 0), "local");
    assert_str(ev_get(u, "path", 0), "/dev/log");
    cap_free(&c);
}

static void test_file_views(void **state)
{
    (void)state;
    const char *log =
        /* openat(O_WRONLY|O_CREAT|O_TRUNC) of a relative name: file_event */
        "type=SYSCALL msg=audit(1700000008.000:800): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c "
        "a1=7ffc a2=241 a3=1b6 items=2 ppid=4000 pid=4100 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 "
        "fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=7 comm=\"tar\" exe=\"/usr/bin/tar\" key=\"f\"\n"
        "type=CWD msg=audit(1700000008.000:800): cwd=\"/tmp/work\"\n"
        "type=PATH msg=audit(1700000008.000:800): item=0 name=\"./\" inode=1 dev=fe:00 mode=040755 ouid=0 "
        "ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n"
        "type=PATH msg=audit(1700000008.000:800): item=1 name=\"./.stage.tar\" inode=2 dev=fe:00 mode=0100644 "
        "ouid=1000 ogid=1000 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n"
        /* a read-only open: no view */
        "type=SYSCALL msg=audit(1700000008.100:801): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c "
        "a1=7ffc a2=0 a3=0 items=1 ppid=4000 pid=4101 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 "
        "fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=7 comm=\"cat\" exe=\"/usr/bin/cat\" key=\"f\"\n"
        "type=PATH msg=audit(1700000008.100:801): item=0 name=\"/tmp/work/a.txt\" inode=3 dev=fe:00 "
        "mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
        "cap_frootid=0\n"
        /* a systemd unit with a blank in its name (hex) */
        "type=SYSCALL msg=audit(1700000008.200:802): arch=c000003e syscall=2 success=yes exit=3 a0=7ffc "
        "a1=241 a2=1b6 a3=0 items=2 ppid=1 pid=4102 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 "
        "fsgid=0 tty=pts1 ses=7 comm=\"vi\" exe=\"/usr/bin/vim.basic\" key=(null)\n"
        "type=PATH msg=audit(1700000008.200:802): item=0 name=\"/etc/systemd/system/\" inode=4 dev=fe:00 "
        "mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
        "cap_frootid=0\n"
        "type=PATH msg=audit(1700000008.200:802): item=1 "
        "name=2F6574632F73797374656D642F73797374656D2F6576696C207376632E73657276696365 inode=5 dev=fe:00 "
        "mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
        "cap_frootid=0\n"
        /* unlinkat: file_delete */
        "type=SYSCALL msg=audit(1700000008.300:803): arch=c000003e syscall=263 success=yes exit=0 a0=ffffff9c "
        "a1=7ffc a2=0 a3=0 items=2 ppid=4000 pid=4103 auid=1000 uid=1000 gid=1000 euid=1000 suid=1000 "
        "fsuid=1000 egid=1000 sgid=1000 fsgid=1000 tty=pts1 ses=7 comm=\"rm\" exe=\"/usr/bin/rm\" key=\"f\"\n"
        "type=PATH msg=audit(1700000008.300:803): item=0 name=\"/tmp/work/\" inode=1 dev=fe:00 mode=040755 "
        "ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0\n"
        "type=PATH msg=audit(1700000008.300:803): item=1 name=\"/tmp/work/.stage.tar\" inode=2 dev=fe:00 "
        "mode=0100644 ouid=1000 ogid=1000 rdev=00:00 nametype=DELETE cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 "
        "cap_frootid=0\n";
    struct capture c;
    hunt(&c, log);
    assert_int_equal(cap_count(&c, "auditd", NULL), 4);
    assert_int_equal(cap_count(&c, "auditd-derived", "11"), 2);
    const struct cap_event *t = cap_find(&c, "auditd-derived", "11", 0);
    assert_str(ev_get(t, "TargetFilename", 0), "/tmp/work/.stage.tar");
    assert_str(ev_get(t, "Image", 0), "/usr/bin/tar");
    assert_true(ev_fired(t, "T file tmp"));
    const struct cap_event *s = cap_find(&c, "auditd-derived", "11", 1);
    assert_str(ev_get(s, "TargetFilename", 0), "/etc/systemd/system/evil svc.service");
    assert_true(ev_fired(cap_find(&c, "auditd", NULL, 2), "T systemd unit created"));
    const struct cap_event *d = cap_find(&c, "auditd-derived", "23", 0);
    assert_str(ev_get(d, "TargetFilename", 0), "/tmp/work/.stage.tar");
    assert_true(ev_fired(d, "T file delete"));
    assert_null(cap_find(&c, "auditd-derived", "1", 0));
    assert_int_equal(cap_alerts(&c, "T proc any"), 0); /* no exec, no process rule */
    cap_free(&c);
}

/* ParentImage from an earlier event of the parent pid in the same file. */
static void test_parent_image(void **state)
{
    (void)state;
    const char *exec_fmt =
        "type=SYSCALL msg=audit(1700000009.%03d:%d): arch=c000003e syscall=59 success=yes exit=0 a0=0 a1=0 "
        "a2=0 a3=0 items=1 ppid=%d pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        "tty=(none) ses=1 comm=\"x\" exe=\"%s\" key=(null)\n"
        "type=EXECVE msg=audit(1700000009.%03d:%d): argc=1 a0=\"%s\"\n";
    char log[4096];
    int n = 0;
    n += snprintf(log + n, sizeof(log) - (size_t)n, exec_fmt, 1, 901, 1, 5100, "/usr/bin/bash", 1, 901, "bash");
    n += snprintf(log + n, sizeof(log) - (size_t)n, exec_fmt, 2, 902, 5100, 5101, "/usr/bin/curl", 2, 902, "curl");
    n += snprintf(log + n, sizeof(log) - (size_t)n, exec_fmt, 3, 903, 5101, 5101, "/usr/bin/sh", 3, 903, "sh");
    n += snprintf(log + n, sizeof(log) - (size_t)n, exec_fmt, 4, 904, 5101, 5102, "/usr/bin/id", 4, 904, "id");
    struct capture c;
    hunt(&c, log);
    assert_int_equal(cap_count(&c, "auditd-derived", "1"), 4);
    assert_null(ev_get(cap_find(&c, "auditd-derived", "1", 0), "ParentImage", 0));
    assert_str(ev_get(cap_find(&c, "auditd-derived", "1", 1), "ParentImage", 0), "/usr/bin/bash");
    /* pid 5101 exec'd again: its children have the newest image */
    assert_str(ev_get(cap_find(&c, "auditd-derived", "1", 3), "ParentImage", 0), "/usr/bin/sh");
    cap_free(&c);
}

/* A failed execve is no process. */
static void test_failed_exec(void **state)
{
    (void)state;
    const char *log =
        "type=SYSCALL msg=audit(1700000010.000:1000): arch=c000003e syscall=59 success=no exit=-2 a0=0 a1=0 "
        "a2=0 a3=0 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 "
        "tty=(none) ses=1 comm=\"sh\" exe=\"/usr/bin/dash\" key=(null)\n"
        "type=PATH msg=audit(1700000010.000:1000): item=0 name=\"/nope\" nametype=UNKNOWN cap_fp=0\n";
    struct capture c;
    hunt(&c, log);
    assert_int_equal(cap_count(&c, "auditd", NULL), 1);
    assert_int_equal(cap_count(&c, "auditd-derived", NULL), 0);
    cap_free(&c);
}

/* ---------------------------------------------------------------- caps */

static void test_caps(void **state)
{
    (void)state;
    size_t cap = 8u << 20;
    char *log = malloc(cap);
    size_t n = 0;
    /* 3000 EXECVE records of one event: over the per-event cap */
    n += (size_t)snprintf(log + n, cap - n,
                          "type=SYSCALL msg=audit(1700000011.000:1100): arch=c000003e syscall=59 success=yes "
                          "exit=0 a0=0 a1=0 a2=0 a3=0 items=0 ppid=1 pid=3 auid=0 uid=0 gid=0 euid=0 suid=0 "
                          "fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"find\" exe=\"/usr/bin/find\" "
                          "key=(null)\n");
    for (int i = 0; i < 3000; i++)
        n += (size_t)snprintf(log + n, cap - n, "type=EXECVE msg=audit(1700000011.000:1100): a%d=\"arg%d\"\n", i, i);
    /* a line over 64 KiB */
    n += (size_t)snprintf(log + n, cap - n, "type=PATH msg=audit(1700000011.000:1101): name=\"");
    memset(log + n, 'x', 70000);
    n += 70000;
    n += (size_t)snprintf(log + n, cap - n, "\"\n");
    /* one event whose records keep coming (PATH every 10 lines) while 300
     * one-record events pile up behind it: the cap of 128 open events pushes
     * it out, its later records make events of their own */
    n += (size_t)snprintf(log + n, cap - n,
                          "type=SYSCALL msg=audit(1700000012.000:1999): arch=c000003e syscall=2 success=yes exit=3 "
                          "a0=0 a1=0 a2=0 a3=0 items=1 ppid=1 pid=4 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 "
                          "egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"a\" exe=\"/a\" key=(null)\n");
    for (int i = 0; i < 300; i++) {
        n += (size_t)snprintf(log + n, cap - n,
                              "type=USER_CMD msg=audit(1700000012.000:%d): pid=%d uid=0 "
                              "res=success\n",
                              2000 + i, i);
        if (i % 10 == 9)
            n += (size_t)snprintf(log + n, cap - n,
                                  "type=PATH msg=audit(1700000012.000:1999): item=%d "
                                  "name=\"/p%d\" nametype=NORMAL\n",
                                  i / 10, i);
    }
    struct capture c;
    cap_run(&c, RS, log, n, NULL, 3);
    const struct cap_event *f = cap_find(&c, "auditd", "1300", 0);
    assert_non_null(f);
    assert_non_null(cap_diag(&c, 1, "warning", "records were left out"));
    assert_true(ev_nvalues(f, "a0") == 1 && ev_get(f, "a1023", 0) && !ev_get(f, "a1024", 0));
    assert_non_null(cap_diag(&c, 3002, "error", "64 KiB"));
    assert_int_equal(cap_count(&c, "auditd", "1123"), 300);
    const struct cap_event *a = cap_find(&c, "auditd", "1300", 1);
    size_t paths = ev_nvalues(a, "name");
    assert_true(paths > 0 && paths < 30);
    for (size_t i = 0; cap_find(&c, "auditd", "1302", i); i++)
        paths += ev_nvalues(cap_find(&c, "auditd", "1302", i), "name");
    assert_int_equal(paths, 30); /* every record is somewhere */
    free(log);
    cap_free(&c);
}

/* Thousands of interleaved events across unit boundaries, several threads:
 * every event whole, in order. */
static void test_unit_boundaries(void **state)
{
    (void)state;
    size_t cap = 16u << 20;
    char *log = malloc(cap);
    size_t n = 0;
    const int N = 12000;
    for (int i = 0; i < N; i++) {
        int s = 10000 + i;
        n += (size_t)snprintf(log + n, cap - n,
                              "type=SYSCALL msg=audit(1700001000.%03d:%d): arch=c000003e syscall=59 success=yes "
                              "exit=0 a0=0 a1=0 a2=0 a3=0 items=1 ppid=%d pid=%d auid=0 uid=0 gid=0 euid=0 suid=0 "
                              "fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=1 comm=\"id\" exe=\"/usr/bin/id\" "
                              "key=(null)\n",
                              i % 1000, s, 100 + i % 50, 20000 + i);
        if (i > 0) /* the previous event's last records come after this one's first */
            n += (size_t)snprintf(log + n, cap - n, "type=CWD msg=audit(1700001000.%03d:%d): cwd=\"/w\"\n",
                                  (i - 1) % 1000, s - 1);
        n +=
            (size_t)snprintf(log + n, cap - n,
                             "type=EXECVE msg=audit(1700001000.%03d:%d): argc=2 a0=\"id\" a1=\"%d\"\n", i % 1000, s, i);
    }
    n += (size_t)snprintf(log + n, cap - n, "type=CWD msg=audit(1700001000.%03d:%d): cwd=\"/w\"\n", (N - 1) % 1000,
                          10000 + N - 1);
    assert_true(n > 2 * (1u << 20));
    struct capture c;
    cap_run(&c, RS, log, n, NULL, 4);
    assert_int_equal(cap_count(&c, "auditd", "1300"), N);
    assert_int_equal(cap_count(&c, "auditd-derived", "1"), N);
    for (int i = 0; i < N; i += 997) {
        const struct cap_event *e = cap_find(&c, "auditd", "1300", (size_t)i);
        char want[16];
        snprintf(want, sizeof(want), "%d", i);
        assert_str(ev_get(e, "a1", 0), want);
        assert_int_equal(ev_nvalues(e, "type"), 3);
    }
    assert_int_equal(c.ndiag, 0);
    free(log);
    cap_free(&c);
}

/* --------------------------------------------------------------- probes */

static void test_probe(void **state)
{
    (void)state;
    const char *json = "{\"type\":\"SYSCALL\",\"msg\":\"audit(1.2:3)\"}\n";
    const char *audit = "type=SYSCALL msg=audit(1700000000.123:100): arch=c000003e syscall=59\n";
    const char *node = "node=h1 type=EOE msg=audit(1700000000.123:100): \n";
    const char *interp = "----\ntype=CWD msg=audit(11/19/26 21:37:05.200:4567) : cwd=/ \n";
    const char *syslog = "Nov 19 21:37:05 host sshd[1]: Accepted publickey for alice\n";
    const char *near = "type=SYSCALL but not really\n";
    assert_ptr_equal(reader_detect((const unsigned char *)json, strlen(json)), &reader_json);
    assert_ptr_equal(reader_detect((const unsigned char *)audit, strlen(audit)), &reader_auditd);
    assert_ptr_equal(reader_detect((const unsigned char *)node, strlen(node)), &reader_auditd);
    assert_ptr_equal(reader_detect((const unsigned char *)interp, strlen(interp)), &reader_auditd);
    assert_null(reader_detect((const unsigned char *)syslog, strlen(syslog)));
    assert_null(reader_detect((const unsigned char *)near, strlen(near)));
    /* a head that ends inside the first line still shows its header */
    char head[4096];
    memset(head, 'a', sizeof(head));
    memcpy(head, audit, 60);
    assert_ptr_equal(reader_detect((const unsigned char *)head, sizeof(head)), &reader_auditd);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_raw_execve_joined), cmocka_unit_test(test_enriched),
        cmocka_unit_test(test_split_arguments),   cmocka_unit_test(test_interleaved_serials),
        cmocka_unit_test(test_garbage_lines),     cmocka_unit_test(test_truncated_record),
        cmocka_unit_test(test_interpreted),       cmocka_unit_test(test_ausearch_raw),
        cmocka_unit_test(test_node_and_host),     cmocka_unit_test(test_network_views),
        cmocka_unit_test(test_file_views),        cmocka_unit_test(test_parent_image),
        cmocka_unit_test(test_failed_exec),       cmocka_unit_test(test_caps),
        cmocka_unit_test(test_unit_boundaries),   cmocka_unit_test(test_probe),
    };
    return cmocka_run_group_tests_name("auditd", tests, setup, teardown);
}
