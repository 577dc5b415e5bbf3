/* Reading /proc for the sensor: the fallback mode's only source of details,
 * and the eBPF mode's source for processes that began before the sensor.
 *
 * Why it works this way: everything in /proc/<pid> belongs to a process that
 * may be hostile (it chooses its argv, its comm, even a comm with spaces and
 * parentheses) and may vanish between two reads. So every read is capped
 * (SENSOR_PROC_READ_MAX), every parse is bounded and checks what it consumes,
 * and /proc/<pid>/stat is parsed from the LAST ')' because comm may contain
 * anything. A vanished process is an ordinary outcome (-ENOENT/-ESRCH), not
 * an error.
 */
#include "sensor/sensor_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

ssize_t proc_read_file(int pid, const char *name, char *buf, size_t cap)
{
    char path[64];
    size_t got = 0;
    ssize_t ret;
    int fd;
    if (cap == 0)
        return -EINVAL;
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    while (got < cap - 1) {
        ret = read(fd, buf + got, cap - 1 - got);
        if (ret < 0) {
            if (errno == EINTR)
                continue;
            ret = -errno;
            goto out;
        }
        if (ret == 0)
            break;
        got += (size_t)ret;
    }
    ret = (ssize_t)got;
out:
    buf[got] = 0;
    close(fd);
    return ret;
}

int proc_readlink(int pid, const char *name, char *buf, size_t cap)
{
    char path[64];
    ssize_t n;
    if (cap == 0)
        return -EINVAL;
    snprintf(path, sizeof(path), "/proc/%d/%s", pid, name);
    n = readlink(path, buf, cap - 1);
    if (n < 0) {
        buf[0] = 0;
        return -errno;
    }
    buf[n] = 0;
    return (int)n;
}

uint64_t proc_ticks_to_ns(uint64_t ticks)
{
    static long hz;
    if (hz <= 0) {
        hz = sysconf(_SC_CLK_TCK);
        if (hz <= 0)
            hz = 100;
    }
    return ticks * (1000000000ull / (uint64_t)hz);
}

/* parses the unsigned decimal at *p, advancing; -1 if none */
static int next_num(const char **p, const char *end, long long *out)
{
    const char *s = *p;
    bool neg = false;
    long long v = 0;
    while (s < end && *s == ' ')
        s++;
    if (s < end && *s == '-') {
        neg = true;
        s++;
    }
    if (s >= end || *s < '0' || *s > '9')
        return -1;
    while (s < end && *s >= '0' && *s <= '9') {
        if (v > (LLONG_MAX - 9) / 10)
            return -1;
        v = v * 10 + (*s - '0');
        s++;
    }
    *p = s;
    *out = neg ? -v : v;
    return 0;
}

static int skip_field(const char **p, const char *end)
{
    const char *s = *p;
    while (s < end && *s == ' ')
        s++;
    if (s >= end)
        return -1;
    while (s < end && *s != ' ')
        s++;
    *p = s;
    return 0;
}

int proc_read_stat(int pid, struct procstat *st)
{
    char buf[1024];
    ssize_t n = proc_read_file(pid, "stat", buf, sizeof(buf));
    memset(st, 0, sizeof(*st));
    if (n < 0)
        return (int)n;
    return proc_parse_stat(buf, (size_t)n, st);
}

int proc_parse_stat(const char *buf, size_t n, struct procstat *st)
{
    const char *open_p, *close_p, *p, *end;
    long long v;
    memset(st, 0, sizeof(*st));
    end = buf + n;
    open_p = memchr(buf, '(', n);
    close_p = NULL;
    for (const char *q = end; q > buf; q--)
        if (q[-1] == ')') {
            close_p = q - 1;
            break;
        }
    if (!open_p || !close_p || close_p < open_p)
        return -EPROTO;
    size_t cl = (size_t)(close_p - open_p - 1);
    if (cl >= sizeof(st->comm))
        cl = sizeof(st->comm) - 1;
    memcpy(st->comm, open_p + 1, cl);
    st->comm[cl] = 0;
    p = close_p + 1;
    /* fields after comm: 3 state, 4 ppid, 5 pgrp, 6 session, 7 tty_nr, ..., 22 starttime */
    if (skip_field(&p, end) < 0 || next_num(&p, end, &v) < 0)
        return -EPROTO;
    st->ppid = (uint32_t)v;
    if (next_num(&p, end, &v) < 0 || next_num(&p, end, &v) < 0)
        return -EPROTO;
    st->sid = (uint32_t)v;
    if (next_num(&p, end, &v) < 0)
        return -EPROTO;
    st->tty_nr = (int32_t)v;
    for (int f = 8; f < 22; f++)
        if (next_num(&p, end, &v) < 0)
            return -EPROTO;
    if (next_num(&p, end, &v) < 0 || v < 0)
        return -EPROTO;
    st->start_ticks = (uint64_t)v;
    return 0;
}
