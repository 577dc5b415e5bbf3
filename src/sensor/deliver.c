/* Where both capture modes end: an event is completed from the process
 * table and handed to the callback. The eBPF decoder (decode.c) and the
 * fallback (fallback.c) make events; what the sensor knows about processes
 * is kept, and added to their events, here and only here.
 *
 * Why it works this way:
 * - exec, fork and exit keep the process table in step
 *   (sensor_deliver_proc): an exec records the new program, a fork a new
 *   process that starts as a copy of its parent, an exit marks the entry
 *   exited but keeps it a while for its children's late events. Other
 *   events of a process take its image, command line and parent from the
 *   table (sensor_enrich).
 * - The modes differ in what they know, not in what is done with it: a
 *   ring-buffer record names the parent by pid and start time; the fallback
 *   reads /proc after the fact (SENSOR_EF_FROM_PROC) and knows the parent by
 *   pid only, so the parent is that pid's newest live entry; its exits carry
 *   neither start time nor uid, so those come from the table.
 * - A process the table does not know (began before the sensor, or was
 *   evicted) is read once from /proc if its start time still matches, so a
 *   reused pid never lends its details to another process. A replay has the
 *   live run's reads in its capture and never reads this host's /proc; a
 *   capture records each read before the record that needed it.
 * - When the sensor will not keep CAP_SYS_PTRACE (privs.c), the exe link of
 *   another user's process cannot be read later: every process alive at
 *   start is read then (sensor_proc_prime), through the same lookup, so it
 *   is captured and replayed like any other read.
 * - Each table insert may evict: an event takes the table's string
 *   pointers only after the last insert made for it.
 * - Counting happens at delivery (events, by kind); a non-zero return of the
 *   callback is kept, and ends the batch.
 */
#include "sensor/sensor_int.h"

#include <dirent.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* An event of which nothing is known yet; "none" is -1 where 0 is a value. */
void sensor_event_init(struct sensor_event *ev, enum sensor_kind kind, uint64_t ts_ns, uint32_t pid, uint32_t tgid)
{
    memset(ev, 0, sizeof(*ev));
    ev->kind = kind;
    ev->ts_ns = ts_ns;
    ev->pid = pid;
    ev->tgid = tgid;
    ev->loginuid = ev->sessionid = (uint32_t)-1;
    ev->watch_index = -1;
    ev->fd = -1;
}

const char *sensor_join_argv(struct sensor *s, const char *argv, size_t len, uint32_t *argc)
{
    uint32_t n = 0;
    if (s->cmd_cap < len + 1) {
        size_t cap = len + 1 < 4096 ? 4096 : len + 1;
        char *nb = realloc(s->cmd, cap);
        if (!nb) {
            *argc = 0;
            return "";
        }
        s->cmd = nb;
        s->cmd_cap = cap;
    }
    while (len > 0 && argv[len - 1] == 0)
        len--;
    for (size_t i = 0; i < len; i++) {
        if (argv[i] == 0) {
            s->cmd[i] = ' ';
            n++;
        } else {
            s->cmd[i] = argv[i];
        }
    }
    s->cmd[len] = 0;
    *argc = len ? n + 1 : 0;
    return s->cmd;
}

/* A process we have no record of (began before the sensor, or evicted):
 * read it from /proc if it is the same process (start time within a tick). */
static struct proc_info *proc_lookup(struct sensor *s, uint32_t tgid, uint64_t start_ns)
{
    struct proc_info *pi = proctab_get(s->pt, tgid, start_ns);
    struct procstat st;
    ssize_t n;
    /* a replay has the live run's /proc reads in the capture, applied
	 * before the record that needed them; this host's /proc is not that one */
    if (pi || tgid == 0 || s->rp)
        return pi;
    if (proc_read_stat((int)tgid, &st) < 0)
        return NULL;
    uint64_t pst = proc_ticks_to_ns(st.start_ticks);
    uint64_t tick = proc_ticks_to_ns(1);
    if (start_ns && (pst > start_ns + tick || start_ns > pst + tick))
        return NULL; /* pid reused since */
    pi = proctab_put(s->pt, tgid, start_ns ? start_ns : pst);
    if (!pi)
        return NULL;
    pi->ppid = st.ppid;
    /* own buffers: the caller may hold pointers into image_buf and cmd */
    if (proc_readlink((int)tgid, "exe", s->lookup_buf, PATH_MAX) >= 0)
        proctab_set(&pi->image, s->lookup_buf, strlen(s->lookup_buf));
    n = proc_read_file((int)tgid, "cmdline", s->pbuf, SENSOR_CMDLINE_KEEP + 1);
    if (n > 0) {
        size_t len = (size_t)n;
        while (len > 0 && s->pbuf[len - 1] == 0)
            len--;
        for (size_t i = 0; i < len; i++)
            if (s->pbuf[i] == 0)
                s->pbuf[i] = ' ';
        proctab_set(&pi->cmdline, s->pbuf, len);
    }
    s->st.proc_lookups_from_proc++;
    if (s->cap)
        capture_proc(s, pi);
    return pi;
}

void sensor_proc_prime(struct sensor *s, size_t max)
{
    DIR *d = opendir("/proc");
    struct dirent *de;
    uint32_t self = (uint32_t)getpid();
    size_t n = 0;
    if (!d)
        return;
    while (n < max && (de = readdir(d))) {
        char *end;
        unsigned long pid = strtoul(de->d_name, &end, 10);
        if (end == de->d_name || *end || pid == 0 || pid > UINT32_MAX || pid == self)
            continue;
        if (proc_lookup(s, (uint32_t)pid, 0))
            n++;
    }
    closedir(d);
}

void sensor_enrich(struct sensor *s, struct sensor_event *ev)
{
    /* Each lookup may insert, and an insert into a full table may evict: take
	 * the scalars first, and the string pointers only after the last insert. */
    struct proc_info *pi = proc_lookup(s, ev->tgid, ev->start_time_ns);
    if (pi && !ev->ppid) {
        ev->ppid = pi->ppid;
        ev->parent_start_time_ns = pi->pstart_ns;
    }
    if (ev->ppid)
        proc_lookup(s, ev->ppid, ev->parent_start_time_ns);
    pi = proctab_get(s->pt, ev->tgid, ev->start_time_ns);
    if (pi) {
        if (!ev->image)
            ev->image = pi->image;
        if (!ev->cmdline)
            ev->cmdline = pi->cmdline;
    }
    struct proc_info *pp = ev->ppid ? proctab_get(s->pt, ev->ppid, ev->parent_start_time_ns) : NULL;
    if (pp && !ev->parent_image) {
        ev->parent_image = pp->image;
        ev->parent_cmdline = pp->cmdline;
    }
}

/* exec and fork: the process's entry takes the new program (exec) or starts
 * as a copy of its parent's (fork); the event takes its parent's details. */
static void proc_started(struct sensor *s, struct sensor_event *ev)
{
    bool is_fork = ev->kind == SENSOR_FORK;
    struct proc_info *pi, *pp;
    if (ev->flags & SENSOR_EF_FROM_PROC) {
        /* read from /proc after the fact: the parent is known by pid only */
        pp = ev->ppid ? proctab_get(s->pt, ev->ppid, 0) : NULL;
        if (pp)
            ev->parent_start_time_ns = pp->start_ns;
    } else {
        proc_lookup(s, ev->ppid, ev->parent_start_time_ns);
    }
    pi = proctab_put(s->pt, ev->tgid, ev->start_time_ns);
    pp = proctab_get(s->pt, ev->ppid, ev->parent_start_time_ns); /* the put may have evicted it */
    if (pi) {
        const char *image = is_fork ? (pp ? pp->image : NULL) : ev->image;
        const char *cmdline = is_fork ? (pp ? pp->cmdline : NULL) : ev->cmdline;
        pi->ppid = ev->ppid;
        pi->pstart_ns = ev->parent_start_time_ns;
        pi->uid = ev->uid;
        pi->stdin_pipe = is_fork ? (pp ? pp->stdin_pipe : 0) : ev->stdin_pipe;
        if (image)
            proctab_set(&pi->image, image, strlen(image));
        if (cmdline)
            proctab_set(&pi->cmdline, cmdline, strlen(cmdline));
        if (is_fork) {
            ev->image = pi->image;
            ev->cmdline = pi->cmdline;
        }
    }
    if (pp) {
        ev->parent_image = pp->image;
        ev->parent_cmdline = pp->cmdline;
    }
}

int sensor_deliver_proc(struct sensor *s, struct sensor_event *ev)
{
    struct proc_info *pi;
    int r;
    if (ev->kind != SENSOR_EXIT) {
        proc_started(s, ev);
        return sensor_deliver(s, ev);
    }
    pi = proctab_get(s->pt, ev->tgid, ev->start_time_ns);
    if (pi) {
        if (!ev->start_time_ns) {
            /* the proc connector names the pid only: the rest is the table's */
            ev->start_time_ns = pi->start_ns;
            ev->uid = pi->uid;
        }
        ev->image = pi->image;
        ev->cmdline = pi->cmdline;
        ev->ppid = pi->ppid;
        ev->parent_start_time_ns = pi->pstart_ns;
    }
    r = sensor_deliver(s, ev);
    if (pi)
        proctab_exited(s->pt, pi); /* kept a while: its children's events may come late */
    return r;
}

int sensor_deliver(struct sensor *s, struct sensor_event *ev)
{
    int r;
    if ((unsigned)ev->kind < SENSOR_KIND_MAX_)
        s->st.by_kind[ev->kind]++;
    s->st.events++;
    s->delivered++;
    if (!s->cb)
        return 0;
    r = s->cb(s->cbctx, ev);
    if (r)
        s->cbret = r;
    return r;
}
