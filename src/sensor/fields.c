/* The sensor's events as Sigma-taxonomy fields, named as Sysmon for Linux
 * names them, so rules written for Sysmon (process_creation,
 * network_connection, file_event, process_termination on linux) match the live
 * sensor unchanged. The names of event kinds (EventType) and of loss causes
 * (the summary) are here too.
 *
 *   kind         EventID  fields (besides Channel, EventID, EventType, Computer, UtcTime)
 *   exec         1        ProcessGuid ProcessId Image CommandLine CurrentDirectory User UserId
 *                         LogonId TerminalSessionId Tty ParentProcessGuid ParentProcessId
 *                         ParentImage ParentCommandLine CgroupId [ArgvTruncated]
 *   exit         5        ProcessGuid ProcessId Image User ExitCode
 *   connect/     3        ProcessGuid ProcessId Image User Protocol Initiated SourceIsIpv6 SourceIp
 *   accept/close          SourcePort DestinationIsIpv6 DestinationIp DestinationPort NetworkEvent
 *                         [BytesSent BytesReceived at close] [ConnectionFailed]
 *   open         11       ProcessGuid ProcessId Image User TargetFilename AccessMode WatchedPath
 *   fork         1001     ProcessGuid ProcessId Image ParentProcessGuid ParentProcessId
 *                         ParentImage (no command line: a fork runs none)
 *   sock_stdio   1002     ProcessGuid ProcessId Image CommandLine User StdioFds Protocol
 *                         SourceIp SourcePort DestinationIp DestinationPort
 *   pipeline     1004     ProcessGuid ProcessId Image StdinFromProcessGuid StdinFromProcessId
 *                         StdinFromImage (no command line: the reader's exec has it)
 *   pty_stdio    1005     ProcessGuid ProcessId Image User StdioFds (those on the terminal)
 *                         RelayProcessGuid RelayProcessId RelayImage (holds the master and the
 *                         socket) Protocol [Initiated] SourceIp SourcePort DestinationIp
 *                         DestinationPort (the relay's socket)
 *
 * Why it works this way: values are formatted into buffers on the stack, so
 * emitting costs no allocation; user names are resolved once per uid and
 * cached (a fixed table, replaced round-robin), because getpwuid per event
 * would read /etc/passwd per event. ProcessGuid is made from 32 bits of the
 * boot id, the start time and the pid: the same process always gets the same
 * id, two processes never share one within a boot.
 *
 * Numbers, ids and times are formatted by hand, not with snprintf: every
 * event has a dozen of them, and printf's generality (format parsing, the
 * stdio string machinery) was the largest single cost of the whole
 * user-space side in the replay benchmark (bench/bench_watch.c). UtcTime's
 * date and time of day are made once per second (gmtime and strftime are
 * dear) and the milliseconds appended.
 */
#include "sensor/sensor_int.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static const char *const loss_names[SENSOR_LOST_MAX_] = {
    [SENSOR_LOST_RINGBUF_EXEC] = "ringbuf_full_exec",
    [SENSOR_LOST_RINGBUF_ARGV] = "ringbuf_full_argv_part",
    [SENSOR_LOST_RINGBUF_FORK] = "ringbuf_full_fork",
    [SENSOR_LOST_RINGBUF_EXIT] = "ringbuf_full_exit",
    [SENSOR_LOST_RINGBUF_OPEN] = "ringbuf_full_open",
    [SENSOR_LOST_RINGBUF_NET] = "ringbuf_full_net",
    [SENSOR_LOST_ARGV_CAP] = "argv_truncated_at_cap",
    [SENSOR_LOST_ARGV_READ] = "argv_unreadable",
    [SENSOR_LOST_PATH_CAP] = "path_truncated_at_cap",
    [SENSOR_LOST_SOCK_TABLE] = "socket_table_full",
    [SENSOR_LOST_OPEN_TABLE] = "open_table_full",
    [SENSOR_LOST_ARGV_PART] = "argv_part_missing",
    [SENSOR_LOST_BAD_RECORD] = "bad_record",
    [SENSOR_LOST_NETLINK] = "proc_connector_overrun",
    [SENSOR_LOST_FANOTIFY] = "fanotify_overflow",
    [SENSOR_LOST_PROC_RACE] = "proc_race_fields_missing",
    [SENSOR_LOST_RINGBUF_FILEOP] = "ringbuf_full_fileop",
    [SENSOR_LOST_FOP_TABLE] = "fileop_table_full",
    [SENSOR_LOST_ENV_SCAN] = "env_scan_cap",
};

static const char *const kind_names[SENSOR_KIND_MAX_] = {
    [SENSOR_EXEC] = "exec",
    [SENSOR_FORK] = "fork",
    [SENSOR_EXIT] = "exit",
    [SENSOR_OPEN] = "open",
    [SENSOR_CONNECT] = "connect",
    [SENSOR_ACCEPT] = "accept",
    [SENSOR_CLOSE_STATS] = "close",
    [SENSOR_SOCK_STDIO] = "sock_stdio",
    [SENSOR_FILE_CHANGE] = "file_change",
    [SENSOR_FILE_DELETE] = "file_delete",
    [SENSOR_FILE_ATTR] = "file_attr",
    [SENSOR_PIPELINE] = "pipeline",
    [SENSOR_PTY_STDIO] = "pty_stdio",
};

const char *sensor_loss_name(enum sensor_loss l)
{
    return (unsigned)l < SENSOR_LOST_MAX_ ? loss_names[l] : "?";
}

const char *sensor_kind_name(enum sensor_kind k)
{
    return (unsigned)k < SENSOR_KIND_MAX_ && kind_names[k] ? kind_names[k] : "?";
}

const char *sensor_user_name(struct sensor *s, uint32_t uid)
{
    size_t slot = uid % SENSOR_USER_CACHE;
    if (s->users[slot].used && s->users[slot].uid == uid)
        return s->users[slot].name;
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(uid, &pw, buf, sizeof(buf), &res) == 0 && res && res->pw_name)
        snprintf(s->users[slot].name, sizeof(s->users[slot].name), "%s", res->pw_name);
    else
        snprintf(s->users[slot].name, sizeof(s->users[slot].name), "%u", uid);
    s->users[slot].uid = uid;
    s->users[slot].used = true;
    return s->users[slot].name;
}

struct fctx {
    struct sensor *s;
    int (*emit)(void *ctx, const char *name, const char *value);
    void *ctx;
    int n;
    int ret;
};

static void put(struct fctx *f, const char *name, const char *value)
{
    if (f->ret || !value)
        return;
    int r = f->emit(f->ctx, name, value);
    if (r)
        f->ret = r;
    else
        f->n++;
}

/* v in decimal at out (room for 21 bytes), NUL-terminated; returns the length */
static size_t fmt_u64(char *out, uint64_t v)
{
    char t[20];
    size_t n = 0, i = 0;
    do {
        t[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    while (n)
        out[i++] = t[--n];
    out[i] = 0;
    return i;
}

static void putu(struct fctx *f, const char *name, uint64_t v)
{
    char b[24];
    fmt_u64(b, v);
    put(f, name, b);
}

static void puti(struct fctx *f, const char *name, int64_t v)
{
    char b[24];
    if (v < 0) {
        b[0] = '-';
        fmt_u64(b + 1, (uint64_t)0 - (uint64_t)v);
    } else {
        fmt_u64(b, (uint64_t)v);
    }
    put(f, name, b);
}

/* the low `digits` hex digits of v, lower case, zero-padded */
static void fmt_hex(char *out, uint64_t v, int digits)
{
    for (int i = digits - 1; i >= 0; i--) {
        out[i] = "0123456789abcdef"[v & 15];
        v >>= 4;
    }
}

/* {bbbbbbbb-ssss-ssss-ssss-sssspppppppp}: boot tag, start time, pid */
static void guid(struct fctx *f, const char *name, uint32_t pid, uint64_t start)
{
    char b[40];
    if (!pid)
        return;
    b[0] = '{';
    fmt_hex(b + 1, f->s->boot_tag, 8);
    b[9] = '-';
    fmt_hex(b + 10, start >> 48, 4);
    b[14] = '-';
    fmt_hex(b + 15, start >> 32, 4);
    b[19] = '-';
    fmt_hex(b + 20, start >> 16, 4);
    b[24] = '-';
    fmt_hex(b + 25, start, 4);
    fmt_hex(b + 29, pid, 8);
    b[37] = '}';
    b[38] = 0;
    put(f, name, b);
}

/* "YYYY-MM-DD HH:MM:SS.mmm" (UTC) into out (room for 64 bytes) */
static void utc_time(struct sensor *s, uint64_t ts_ns, char *out)
{
    int64_t secs = (int64_t)(ts_ns / 1000000000ull);
    if (!s->utc_valid || s->utc_sec != secs) {
        time_t t = (time_t)secs;
        struct tm tm;
        gmtime_r(&t, &tm);
        s->utc_len = strftime(s->utc, sizeof(s->utc), "%Y-%m-%d %H:%M:%S", &tm);
        s->utc_sec = secs;
        s->utc_valid = true;
    }
    unsigned ms = (unsigned)(ts_ns / 1000000ull % 1000);
    memcpy(out, s->utc, s->utc_len);
    out[s->utc_len] = '.';
    out[s->utc_len + 1] = (char)('0' + ms / 100);
    out[s->utc_len + 2] = (char)('0' + ms / 10 % 10);
    out[s->utc_len + 3] = (char)('0' + ms % 10);
    out[s->utc_len + 4] = 0;
}

static void addr(struct fctx *f, const char *isv6, const char *ip, const char *port, const struct sensor_addr *a)
{
    char buf[INET6_ADDRSTRLEN];
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (a->family == AF_INET6 && memcmp(a->addr, mapped, 12) == 0) {
        inet_ntop(AF_INET, a->addr + 12, buf, sizeof(buf));
        put(f, isv6, "false");
    } else if (a->family == AF_INET6) {
        inet_ntop(AF_INET6, a->addr, buf, sizeof(buf));
        put(f, isv6, "true");
    } else {
        inet_ntop(AF_INET, a->addr, buf, sizeof(buf));
        put(f, isv6, "false");
    }
    put(f, ip, buf);
    putu(f, port, a->port);
}

static const char *access_mode(char *buf, size_t len, uint32_t fl, bool guess)
{
    const char *acc = (fl & O_ACCMODE) == O_RDONLY ? "read" : (fl & O_ACCMODE) == O_WRONLY ? "write" : "readwrite";
    snprintf(buf, len, "%s%s%s%s", acc, !guess && (fl & O_CREAT) ? "|create" : "",
             !guess && (fl & O_TRUNC) ? "|truncate" : "", (fl & O_APPEND) ? "|append" : "");
    return buf;
}

/* the allow-listed variables, space-separated (a value's own spaces stay) */
static void environment(struct fctx *f, const struct sensor_event *ev)
{
    char b[SENSOR_ENV_MAX + 1];
    size_t n = 0;
    if (!ev->env || !ev->env_len)
        return;
    for (size_t i = 0; i < ev->env_len && n < SENSOR_ENV_MAX; i++)
        b[n++] = ev->env[i] ? ev->env[i] : ' ';
    while (n && b[n - 1] == ' ')
        n--;
    b[n] = 0;
    put(f, "Environment", b);
    if (ev->flags & SENSOR_EF_ENV_TRUNC)
        put(f, "EnvironmentTruncated", "true");
}

/* The writer of the pipe on stdin: its id and program, not its command line,
 * which its own exec event carries (a keyword or CommandLine rule would match
 * that command line twice, on the writer and on the reader). */
static void stdin_from(struct fctx *f, const struct sensor_event *ev)
{
    if (!ev->stdin_tgid)
        return;
    guid(f, "StdinFromProcessGuid", ev->stdin_tgid, ev->stdin_start_ns);
    putu(f, "StdinFromProcessId", ev->stdin_tgid);
    put(f, "StdinFromImage", ev->stdin_image);
}

/* "0,1,2": the fds of a bit mask */
static void stdio_fds(struct fctx *f, unsigned mask)
{
    char fds[8];
    size_t o = 0;
    for (int i = 0; i < 3; i++)
        if (mask & (1u << i)) {
            if (o)
                fds[o++] = ',';
            fds[o++] = (char)('0' + i);
        }
    fds[o] = 0;
    put(f, "StdioFds", fds);
}

static void file_fields(struct fctx *f, const struct sensor_event *ev)
{
    char b[16];
    put(f, "User", sensor_user_name(f->s, ev->uid));
    put(f, "TargetFilename", ev->path);
    put(f, "FileOperation", sensor_fop_name(ev->file_op));
    if (ev->path2)
        put(f, "SourceFilename", ev->path2);
    if (ev->file_op == SENSOR_FOP_CHMOD) {
        snprintf(b, sizeof(b), "%04o", ev->file_mode & 07777);
        put(f, "Mode", b);
    }
    if (ev->file_op == SENSOR_FOP_CHOWN) {
        if (ev->owner != (uint32_t)-1)
            put(f, "OwnerUser", sensor_user_name(f->s, ev->owner));
        if (ev->group != (uint32_t)-1)
            putu(f, "OwnerGroupId", ev->group);
    }
    if (ev->watch_index >= 0 && (size_t)ev->watch_index < f->s->nwatch)
        put(f, "WatchedPath", f->s->watch[ev->watch_index]);
}

int sensor_event_fields(struct sensor *s, const struct sensor_event *ev,
                        int (*emit)(void *ctx, const char *name, const char *value), void *ctx)
{
    struct fctx f = {.s = s, .emit = emit, .ctx = ctx};
    char tbuf[64], mbuf[64];
    if (!s || !ev || !emit)
        return -1;
    utc_time(s, ev->ts_ns, tbuf);

    put(&f, "Channel", "stoat-sensor");
    switch (ev->kind) {
    case SENSOR_EXEC: put(&f, "EventID", "1"); break;
    case SENSOR_EXIT: put(&f, "EventID", "5"); break;
    case SENSOR_OPEN: put(&f, "EventID", "11"); break;
    case SENSOR_FORK: put(&f, "EventID", "1001"); break;
    case SENSOR_SOCK_STDIO: put(&f, "EventID", "1002"); break;
    case SENSOR_FILE_CHANGE: put(&f, "EventID", "11"); break;
    case SENSOR_FILE_DELETE: put(&f, "EventID", "23"); break;
    case SENSOR_FILE_ATTR: put(&f, "EventID", "1003"); break;
    case SENSOR_PIPELINE: put(&f, "EventID", "1004"); break;
    case SENSOR_PTY_STDIO: put(&f, "EventID", "1005"); break;
    default: put(&f, "EventID", "3"); break;
    }
    put(&f, "EventType", sensor_kind_name(ev->kind));
    put(&f, "Computer", s->hostname);
    put(&f, "UtcTime", tbuf);
    guid(&f, "ProcessGuid", ev->tgid, ev->start_time_ns);
    putu(&f, "ProcessId", ev->tgid);
    if (ev->pid != ev->tgid)
        putu(&f, "ThreadId", ev->pid);
    put(&f, "Image", ev->image ? ev->image : ev->comm);

    switch (ev->kind) {
    case SENSOR_EXEC:
    case SENSOR_FORK:
        /* A fork runs no new command line: it carries none, nor its parent's
         * (a loop of subshells would match a rule on the command line once per
         * iteration); the process table copies them from the parent. */
        if (ev->kind == SENSOR_EXEC) {
            put(&f, "CommandLine", ev->cmdline);
            put(&f, "CurrentDirectory", ev->cwd);
            put(&f, "User", sensor_user_name(s, ev->uid));
            putu(&f, "UserId", ev->uid);
            if (ev->euid != ev->uid)
                put(&f, "EffectiveUser", sensor_user_name(s, ev->euid));
            if (ev->sessionid != (uint32_t)-1)
                putu(&f, "LogonId", ev->sessionid);
            putu(&f, "TerminalSessionId", ev->sid);
            put(&f, "Tty", ev->tty);
            putu(&f, "CgroupId", ev->cgroup_id);
            if (ev->flags & (SENSOR_EF_ARGV_TRUNC | SENSOR_EF_ARGV_MISSING))
                put(&f, "ArgvTruncated", "true");
            environment(&f, ev);
            stdin_from(&f, ev);
        }
        guid(&f, "ParentProcessGuid", ev->ppid, ev->parent_start_time_ns);
        putu(&f, "ParentProcessId", ev->ppid);
        put(&f, "ParentImage", ev->parent_image);
        if (ev->kind == SENSOR_EXEC)
            put(&f, "ParentCommandLine", ev->parent_cmdline);
        break;
    case SENSOR_EXIT:
        put(&f, "User", sensor_user_name(s, ev->uid));
        puti(&f, "ExitCode", ev->exit_code);
        break;
    case SENSOR_OPEN:
        put(&f, "User", sensor_user_name(s, ev->uid));
        put(&f, "TargetFilename", ev->path);
        put(&f, "AccessMode",
            access_mode(mbuf, sizeof(mbuf), ev->open_flags, (ev->flags & SENSOR_EF_FLAGS_GUESS) != 0));
        if (ev->watch_index >= 0 && (size_t)ev->watch_index < s->nwatch)
            put(&f, "WatchedPath", s->watch[ev->watch_index]);
        break;
    case SENSOR_FILE_CHANGE:
    case SENSOR_FILE_DELETE:
    case SENSOR_FILE_ATTR: file_fields(&f, ev); break;
    case SENSOR_PIPELINE:
        /* the link alone: the reader's command line and parent are on its
         * exec event (the same ProcessGuid), and repeated here they made a
         * rule on them match one process twice */
        stdin_from(&f, ev);
        break;
    case SENSOR_PTY_STDIO:
        put(&f, "User", sensor_user_name(s, ev->uid));
        stdio_fds(&f, ev->pty_fds);
        guid(&f, "RelayProcessGuid", ev->relay_tgid, ev->relay_start_ns);
        putu(&f, "RelayProcessId", ev->relay_tgid);
        put(&f, "RelayImage", ev->relay_image);
        put(&f, "Protocol", ev->protocol == 6 ? "tcp" : ev->protocol == 17 ? "udp" : "other");
        if (ev->fd != SENSOR_SOCK_STDIO) /* a socket found on stdio: who opened it is not known */
            put(&f, "Initiated", ev->initiated ? "true" : "false");
        addr(&f, "SourceIsIpv6", "SourceIp", "SourcePort", &ev->src);
        addr(&f, "DestinationIsIpv6", "DestinationIp", "DestinationPort", &ev->dst);
        break;
    case SENSOR_CONNECT:
    case SENSOR_ACCEPT:
    case SENSOR_CLOSE_STATS:
    case SENSOR_SOCK_STDIO:
        put(&f, "User", sensor_user_name(s, ev->uid));
        put(&f, "Protocol", ev->protocol == 6 ? "tcp" : ev->protocol == 17 ? "udp" : "other");
        if (ev->kind == SENSOR_SOCK_STDIO) {
            put(&f, "CommandLine", ev->cmdline);
            stdio_fds(&f, (unsigned)ev->fd);
        } else {
            put(&f, "Initiated", ev->initiated ? "true" : "false");
            put(&f, "NetworkEvent", sensor_kind_name(ev->kind));
        }
        addr(&f, "SourceIsIpv6", "SourceIp", "SourcePort", &ev->src);
        addr(&f, "DestinationIsIpv6", "DestinationIp", "DestinationPort", &ev->dst);
        if (ev->kind == SENSOR_CLOSE_STATS) {
            putu(&f, "BytesSent", ev->bytes_sent);
            putu(&f, "BytesReceived", ev->bytes_received);
        }
        if (ev->flags & SENSOR_EF_FAILED)
            put(&f, "ConnectionFailed", "true");
        break;
    default: break;
    }
    return f.ret ? f.ret : f.n;
}
