/* The fallback sensor, for hosts where eBPF cannot load (or when asked):
 * the netlink proc connector says that a process forked, exec'd or exited,
 * /proc/<pid> gives the details, fanotify reports opens of watched paths.
 *
 * Why it works this way, and what it cannot see:
 * - The proc connector sends only pids. Everything else (argv, exe, cwd, uid,
 *   parent, tty, session, start time) is read from /proc AFTER the event. A
 *   process that exits (or execs again) before we read it is lost to us in
 *   part: the event is still delivered, with SENSOR_EF_PROC_RACE set, the
 *   fields we could not read missing, and SENSOR_LOST_PROC_RACE counted. Short
 *   commands (`id`, `uname -a`) in a burst are the usual victims; a process
 *   can also rewrite its argv or exec again before we look, so CommandLine
 *   may be the later one. Start times come from /proc in clock ticks (10 ms).
 * - Under load the connector's socket buffer overruns (ENOBUFS): counted as
 *   SENSOR_LOST_NETLINK; the number of events lost is unknown.
 * - fanotify: each watched directory and the parent of each watched file is
 *   marked (FAN_EVENT_ON_CHILD), with subdirectories of watched directories
 *   marked once at start (up to a cap); directories created later below a
 *   watched directory are not seen. The opener's flags are not reported:
 *   AccessMode is "read" for an open, "write" for a close after writing.
 *   Queue overflow is counted as SENSOR_LOST_FANOTIFY.
 * - The default file set and --watch-file (changes only, as in the eBPF
 *   mode) are marked for close-after-write alone: an open of /etc is
 *   frequent, a write to it rare, so the folders they sit in cost little.
 *   A watched file is marked itself too, so a write reaches us even when the
 *   file is a bind mount whose own parent is elsewhere. Writes only: renames,
 *   deletes and mode or owner changes of those files are not seen (the
 *   notification API that reports them names no file we could open and
 *   needs newer kernels). A mark that fails (a file gone, a full mark
 *   table) is skipped: the rest stays watched.
 * - No network at all: no connect/accept/close, no byte counts. A shell whose
 *   stdio is a TCP socket is still reported, from /proc/<pid>/fd and
 *   /proc/<pid>/net/tcp{,6}, when the process lives long enough to be read.
 * Everything read from the kernel is checked against the lengths it claims.
 */
#include "sensor/sensor_int.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/cn_proc.h>
#include <linux/connector.h>
#include <linux/netlink.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/fanotify.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define FAN_MAX_DIRS 4096

static int nl_open(char *errbuf, size_t errlen)
{
    struct sockaddr_nl sa = {.nl_family = AF_NETLINK, .nl_groups = CN_IDX_PROC, .nl_pid = 0};
    int fd = socket(PF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, NETLINK_CONNECTOR);
    int rcv = 8 << 20;
    struct {
        struct nlmsghdr nl;
        struct cn_msg cn;
        enum proc_cn_mcast_op op;
    } __attribute__((packed)) req;
    if (fd < 0) {
        snprintf(errbuf, errlen, "proc connector socket: %s", strerror(errno));
        return -1;
    }
    setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv, sizeof(rcv));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        snprintf(errbuf, errlen, "proc connector bind: %s", strerror(errno));
        goto fail;
    }
    memset(&req, 0, sizeof(req));
    req.nl.nlmsg_len = sizeof(req);
    req.nl.nlmsg_type = NLMSG_DONE;
    req.nl.nlmsg_pid = (uint32_t)getpid();
    req.cn.id.idx = CN_IDX_PROC;
    req.cn.id.val = CN_VAL_PROC;
    req.cn.len = sizeof(req.op);
    req.op = PROC_CN_MCAST_LISTEN;
    if (send(fd, &req, sizeof(req), 0) < 0) {
        snprintf(errbuf, errlen, "proc connector listen: %s", strerror(errno));
        goto fail;
    }
    return fd;
fail:
    close(fd);
    return -1;
}

#define FAN_MASK_OPENS   (FAN_OPEN | FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD | FAN_ONDIR)
#define FAN_MASK_CHANGES (FAN_CLOSE_WRITE | FAN_EVENT_ON_CHILD)

static int fan_mark_tree(int fan, const char *dir, uint64_t mask, int depth, int *budget)
{
    DIR *d;
    struct dirent *de;
    if (*budget <= 0)
        return 0;
    if (fanotify_mark(fan, FAN_MARK_ADD, mask, AT_FDCWD, dir) < 0)
        return -errno;
    (*budget)--;
    if (depth <= 0 || !(d = opendir(dir)))
        return 0;
    while ((de = readdir(d)) && *budget > 0) {
        char sub[PATH_MAX];
        struct stat st;
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
            continue;
        if ((size_t)snprintf(sub, sizeof(sub), "%s/%s", dir, de->d_name) >= sizeof(sub))
            continue;
        if (lstat(sub, &st) == 0 && S_ISDIR(st.st_mode))
            fan_mark_tree(fan, sub, mask, depth - 1, budget);
    }
    closedir(d);
    return 0;
}

static int fan_open(struct sensor *s, char *errbuf, size_t errlen)
{
    int fan = fanotify_init(FAN_CLASS_NOTIF | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE | O_CLOEXEC);
    int budget = FAN_MAX_DIRS;
    if (fan < 0) {
        snprintf(errbuf, errlen, "fanotify_init: %s", strerror(errno));
        return -1;
    }
    for (size_t i = 0; i < s->nwatch; i++) {
        struct stat st;
        char parent[PATH_MAX];
        const char *w = s->watch[i];
        bool changes = i >= s->nuser_watch; /* the default set and --watch-file */
        uint64_t mask = changes ? FAN_MASK_CHANGES : FAN_MASK_OPENS;
        bool dir = stat(w, &st) == 0 && S_ISDIR(st.st_mode);
        if (dir)
            fan_mark_tree(fan, w, mask, 16, &budget);
        else if (changes)
            fanotify_mark(fan, FAN_MARK_ADD, FAN_CLOSE_WRITE, AT_FDCWD, w); /* may not exist yet */
        snprintf(parent, sizeof(parent), "%s", w);
        char *slash = strrchr(parent, '/');
        if (slash == parent)
            slash[1] = 0;
        else if (slash)
            *slash = 0;
        if (fanotify_mark(fan, FAN_MARK_ADD, mask, AT_FDCWD, parent) < 0 && !changes) {
            snprintf(errbuf, errlen, "fanotify_mark %s: %s", parent, strerror(errno));
            close(fan);
            return -1;
        }
    }
    return fan;
}

int fallback_open(struct sensor *s, char *errbuf, size_t errlen)
{
    s->nl_fd = nl_open(errbuf, errlen);
    if (s->nl_fd < 0)
        return -EPERM;
    if (s->nwatch) {
        s->fan_fd = fan_open(s, errbuf, errlen);
        if (s->fan_fd < 0) {
            close(s->nl_fd);
            s->nl_fd = -1;
            return -EPERM;
        }
    }
    snprintf(s->mode, sizeof(s->mode),
             "fallback (proc connector + fanotify); cannot see: any network activity (connect, accept, "
             "bytes sent), details of processes that exit before /proc is read (argv, exe, cwd may be "
             "missing or already replaced by a later exec), the flags of file opens, subdirectories "
             "created after start below watched directories, renames, deletes and mode or owner "
             "changes of the default file set (its writes are seen)");
    return 0;
}

void fallback_close(struct sensor *s)
{
    if (s->nl_fd >= 0)
        close(s->nl_fd);
    if (s->fan_fd >= 0)
        close(s->fan_fd);
    s->nl_fd = s->fan_fd = -1;
}

static uint64_t now_boot_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_BOOTTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* "Uid:\t0\t0\t0\t0" -> real and effective */
static void status_ids(const char *buf, const char *key, uint32_t *real, uint32_t *eff)
{
    const char *p = strstr(buf, key);
    unsigned long r, e;
    if (p && sscanf(p + strlen(key), "%lu %lu", &r, &e) == 2) {
        *real = (uint32_t)r;
        *eff = (uint32_t)e;
    }
}

/* fd 0..2 of pid that are TCP sockets: find them in /proc/<pid>/net/tcp{,6} */
static void stdio_sockets(struct sensor *s, const struct sensor_event *base)
{
    unsigned long inode[3] = {0, 0, 0};
    char link[64];
    for (int i = 0; i < 3; i++) {
        char name[16];
        snprintf(name, sizeof(name), "fd/%d", i);
        if (proc_readlink((int)base->tgid, name, link, sizeof(link)) > 0)
            sscanf(link, "socket:[%lu]", &inode[i]);
    }
    for (int i = 0; i < 3; i++) {
        if (!inode[i] || (i > 0 && inode[i] == inode[0]) || (i > 1 && inode[i] == inode[1]))
            continue;
        int mask = 0;
        for (int j = i; j < 3; j++)
            if (inode[j] == inode[i])
                mask |= 1 << j;
        for (int v6 = 0; v6 < 2; v6++) {
            ssize_t n = proc_read_file((int)base->tgid, v6 ? "net/tcp6" : "net/tcp", s->pbuf, SENSOR_PROC_READ_MAX);
            if (n <= 0)
                continue;
            for (char *line = s->pbuf, *nl; line && *line; line = nl ? nl + 1 : NULL) {
                nl = strchr(line, '\n');
                if (nl)
                    *nl = 0;
                char la[40], ra[40];
                unsigned lp, rp, st;
                unsigned long ino;
                if (sscanf(line, " %*u: %39[0-9A-Fa-f]:%x %39[0-9A-Fa-f]:%x %x %*s %*s %*s %*s %*s %lu", la, &lp, ra,
                           &rp, &st, &ino) != 6 ||
                    ino != inode[i])
                    continue;
                struct sensor_event ev = *base;
                ev.kind = SENSOR_SOCK_STDIO;
                ev.fd = mask;
                ev.protocol = 6;
                ev.src.family = ev.dst.family = v6 ? 10 : 2;
                ev.src.port = (uint16_t)lp;
                ev.dst.port = (uint16_t)rp;
                /* /proc/net/tcp prints addresses as host-order 32-bit words */
                for (int w = 0; w < (v6 ? 4 : 1); w++) {
                    unsigned a = 0, b = 0;
                    sscanf(la + 8 * w, "%8x", &a);
                    sscanf(ra + 8 * w, "%8x", &b);
                    memcpy(ev.src.addr + 4 * w, &a, 4);
                    memcpy(ev.dst.addr + 4 * w, &b, 4);
                }
                sensor_deliver(s, &ev);
                break;
            }
        }
    }
}

static void on_exec(struct sensor *s, uint32_t pid, uint32_t tgid, uint64_t ts)
{
    struct sensor_event ev;
    struct procstat st;
    sensor_event_init(&ev, SENSOR_EXEC, ts, pid, tgid);
    ev.flags = SENSOR_EF_FROM_PROC;
    bool race = false;
    if (proc_read_stat((int)tgid, &st) == 0) {
        ev.ppid = st.ppid;
        ev.sid = st.sid;
        ev.start_time_ns = proc_ticks_to_ns(st.start_ticks);
        memcpy(ev.comm, st.comm, sizeof(ev.comm));
    } else {
        race = true;
    }
    ssize_t n = proc_read_file((int)tgid, "status", s->pbuf, SENSOR_PROC_READ_MAX);
    if (n > 0) {
        status_ids(s->pbuf, "Uid:", &ev.uid, &ev.euid);
        status_ids(s->pbuf, "Gid:", &ev.gid, &ev.egid);
    }
    char tmp[32];
    if (proc_read_file((int)tgid, "loginuid", tmp, sizeof(tmp)) > 0)
        ev.loginuid = (uint32_t)strtoul(tmp, NULL, 10);
    if (proc_read_file((int)tgid, "sessionid", tmp, sizeof(tmp)) > 0)
        ev.sessionid = (uint32_t)strtoul(tmp, NULL, 10);
    if (proc_readlink((int)tgid, "exe", s->image_buf, PATH_MAX) >= 0)
        ev.image = s->image_buf;
    else
        race = true;
    if (proc_readlink((int)tgid, "cwd", s->cwd_buf, PATH_MAX) >= 0)
        ev.cwd = s->cwd_buf;
    n = proc_read_file((int)tgid, "cmdline", s->argv_buf, (size_t)SENSOR_ARGV_CHUNK * SENSOR_ARGV_MAX_PARTS);
    if (n >= 0) {
        ev.argv = s->argv_buf;
        ev.argv_len = (size_t)n;
        ev.cmdline = sensor_join_argv(s, s->argv_buf, (size_t)n, &ev.argc);
        if ((size_t)n >= (size_t)SENSOR_ARGV_CHUNK * SENSOR_ARGV_MAX_PARTS - 1)
            ev.flags |= SENSOR_EF_ARGV_TRUNC;
    } else {
        race = true;
    }
    if (race) {
        ev.flags |= SENSOR_EF_PROC_RACE;
        s->st.lost[SENSOR_LOST_PROC_RACE]++;
    }
    sensor_deliver_proc(s, &ev);
    if (!race)
        stdio_sockets(s, &ev);
}

static void on_fork(struct sensor *s, uint32_t ppid, uint32_t pid, uint32_t tgid, uint64_t ts)
{
    struct sensor_event ev;
    struct procstat st;
    if (pid != tgid)
        return; /* thread */
    sensor_event_init(&ev, SENSOR_FORK, ts, pid, tgid);
    ev.ppid = ppid;
    ev.flags = SENSOR_EF_FROM_PROC;
    if (proc_read_stat((int)tgid, &st) == 0) {
        ev.start_time_ns = proc_ticks_to_ns(st.start_ticks);
        memcpy(ev.comm, st.comm, sizeof(ev.comm));
    } else {
        ev.flags |= SENSOR_EF_PROC_RACE;
        s->st.lost[SENSOR_LOST_PROC_RACE]++;
        ev.start_time_ns = now_boot_ns(); /* best guess: it started just now */
    }
    if (!proctab_get(s->pt, ppid, 0))
        sensor_enrich(s, &(struct sensor_event){.tgid = ppid}); /* a parent older than the sensor */
    sensor_deliver_proc(s, &ev);
}

static void on_exit_ev(struct sensor *s, uint32_t pid, uint32_t tgid, uint32_t code, uint64_t ts)
{
    struct sensor_event ev;
    if (pid != tgid)
        return;
    sensor_event_init(&ev, SENSOR_EXIT, ts, pid, tgid);
    ev.exit_code = (int32_t)code;
    sensor_deliver_proc(s, &ev); /* start time, uid and the rest from the table */
}

/* Reads up to 256 of the connector's messages; true when none is left. */
static bool nl_drain(struct sensor *s)
{
    char buf[16384] __attribute__((aligned(8)));
    for (int rounds = 0; rounds < 256 && !s->cbret; rounds++) {
        struct sockaddr_nl from;
        socklen_t fl = sizeof(from);
        ssize_t n = recvfrom(s->nl_fd, buf, sizeof(buf), 0, (struct sockaddr *)&from, &fl);
        if (n < 0) {
            if (errno == ENOBUFS) {
                s->st.lost[SENSOR_LOST_NETLINK]++;
                continue;
            }
            return true; /* EAGAIN or a real error: nothing more now */
        }
        if (fl < sizeof(from) || from.nl_pid != 0)
            continue; /* only the kernel speaks here */
        int64_t b2w = s->boot_to_wall_ns;
        for (struct nlmsghdr *nh = (struct nlmsghdr *)buf; NLMSG_OK(nh, (size_t)n); nh = NLMSG_NEXT(nh, n)) {
            if (nh->nlmsg_type == NLMSG_NOOP || nh->nlmsg_type == NLMSG_ERROR)
                continue;
            size_t plen = NLMSG_PAYLOAD(nh, 0);
            if (plen < sizeof(struct cn_msg))
                goto bad;
            struct cn_msg *cn = NLMSG_DATA(nh);
            if (cn->id.idx != CN_IDX_PROC || cn->id.val != CN_VAL_PROC)
                continue;
            if (cn->len > plen - sizeof(*cn) || cn->len < offsetof(struct proc_event, event_data))
                goto bad;
            struct proc_event pe;
            memset(&pe, 0, sizeof(pe));
            memcpy(&pe, cn->data, cn->len < sizeof(pe) ? cn->len : sizeof(pe));
            uint64_t ts = pe.timestamp_ns + (uint64_t)b2w; /* ktime_get_ns: close enough to boot time */
            switch (pe.what) {
            case PROC_EVENT_FORK:
                on_fork(s, pe.event_data.fork.parent_tgid, pe.event_data.fork.child_pid, pe.event_data.fork.child_tgid,
                        ts);
                break;
            case PROC_EVENT_EXEC:
                on_exec(s, pe.event_data.exec.process_pid, pe.event_data.exec.process_tgid, ts);
                break;
            case PROC_EVENT_EXIT:
                on_exit_ev(s, pe.event_data.exit.process_pid, pe.event_data.exit.process_tgid,
                           pe.event_data.exit.exit_code, ts);
                break;
            default: break;
            }
            continue;
        bad:
            s->st.lost[SENSOR_LOST_BAD_RECORD]++;
        }
    }
    return false;
}

static bool under_watch(struct sensor *s, const char *path, int *idx)
{
    for (size_t i = 0; i < s->nwatch; i++) {
        size_t l = strlen(s->watch[i]);
        if (strncmp(path, s->watch[i], l) == 0 && (path[l] == 0 || path[l] == '/')) {
            *idx = (int)i;
            return true;
        }
    }
    return false;
}

static void fan_drain(struct sensor *s)
{
    char buf[8192] __attribute__((aligned(8)));
    for (int rounds = 0; rounds < 64 && !s->cbret; rounds++) {
        /* The process events queued before these opens first: an open is
         * named by the process table, and under load (more than one drain's
         * worth of starts waiting) it named the program a new process ran
         * before its exec, its parent's. The exec of an opener happened
         * before its open, so it is in the connector's queue by now. */
        for (int k = 0; k < 64 && !nl_drain(s); k++)
            ;
        ssize_t n = read(s->fan_fd, buf, sizeof(buf));
        if (n <= 0)
            return;
        for (struct fanotify_event_metadata *m = (void *)buf; FAN_EVENT_OK(m, n); m = FAN_EVENT_NEXT(m, n)) {
            if (m->vers != FANOTIFY_METADATA_VERSION) {
                s->st.lost[SENSOR_LOST_BAD_RECORD]++;
                if (m->fd >= 0)
                    close(m->fd);
                continue;
            }
            if (m->mask & FAN_Q_OVERFLOW) {
                s->st.lost[SENSOR_LOST_FANOTIFY]++;
                continue;
            }
            if (m->fd < 0)
                continue;
            char lp[64];
            int idx = -1;
            snprintf(lp, sizeof(lp), "/proc/self/fd/%d", m->fd);
            ssize_t l = readlink(lp, s->cwd_buf, PATH_MAX - 1);
            close(m->fd);
            if (l <= 0)
                continue;
            s->cwd_buf[l] = 0;
            if (!under_watch(s, s->cwd_buf, &idx) || m->pid == getpid())
                continue;
            /* an open below a folder of the default set: its folder is marked for writes, but a
             * user watch may have marked the same folder for opens too */
            if ((size_t)idx >= s->nuser_watch && !(m->mask & FAN_CLOSE_WRITE))
                continue;
            struct sensor_event ev;
            sensor_event_init(&ev, SENSOR_OPEN, now_boot_ns() + (uint64_t)s->boot_to_wall_ns, (uint32_t)m->pid,
                              (uint32_t)m->pid);
            ev.path = s->cwd_buf;
            ev.watch_index = idx;
            ev.open_flags = (m->mask & FAN_CLOSE_WRITE) ? O_WRONLY : O_RDONLY;
            ev.flags = SENSOR_EF_FLAGS_GUESS;
            struct proc_info *pi = proctab_get(s->pt, ev.tgid, 0);
            if (pi) {
                ev.start_time_ns = pi->start_ns;
                ev.uid = pi->uid;
            }
            sensor_enrich(s, &ev);
            sensor_deliver(s, &ev);
        }
    }
}

int fallback_poll(struct sensor *s, int timeout_ms)
{
    struct pollfd p[2] = {{.fd = s->nl_fd, .events = POLLIN}, {.fd = s->fan_fd, .events = POLLIN}};
    int r = poll(p, s->fan_fd >= 0 ? 2 : 1, timeout_ms);
    if (r < 0)
        return errno == EINTR ? 0 : -errno;
    if (p[0].revents & (POLLIN | POLLERR))
        nl_drain(s);
    if (s->fan_fd >= 0 && (p[1].revents & POLLIN))
        fan_drain(s);
    return 0;
}
