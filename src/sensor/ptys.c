/* Relayed terminals: a program started on a pseudo-terminal whose master
 * end is held by a process that holds an inet socket. That is a reverse or
 * bind shell behind a pty (python's pty.spawn after dup2-ing a connected
 * socket, `socat exec:'bash -li',pty tcp:...`, `script -qc /bin/sh` started
 * with a socket as stdio): the shell's stdio is the terminal, not the socket,
 * so the socket-on-stdio check at exec (sock_stdio) does not see it.
 *
 * Why it works this way:
 * - The kernel says at exec which of fds 0..2 are one pty that the parent
 *   does not have on its own fd 0 (SENSOR_RF_PTY_FD0, sensor.bpf.c): a
 *   terminal made for this program. Its maker, who holds the master end, is
 *   nearly always the parent (pty.fork, socat, script, sshd). A command run
 *   from a login terminal shares its parent's terminal and stops there, so
 *   a tool with an open connection that runs a command in a terminal is not
 *   taken for a relay.
 * - Which processes hold a socket is known in user space, from the events
 *   the sensor already has: a connect that completed, an accept, a socket on
 *   stdio at exec; a fork inherits its parent's (the descriptors are
 *   copied), a close of that socket forgets it. Kept in the process table.
 * - The two happen in either order: a relay that connects first (pty.spawn
 *   after connect) is matched at the program's exec; one that starts the
 *   program first (socat's first address is the exec) keeps it as its
 *   waiting child, and its connect or accept then matches.
 * - One event per program process (an exec that execs again, `bash -c
 *   /bin/sh`, keeps its flag): a reverse shell is one alert, and the commands
 *   it runs share its terminal and are not relays.
 * - Not seen: a relay that is not the parent (a grandparent holding the
 *   master), a socket passed over a unix socket, UDP relays (only TCP connects
 *   and accepts are followed), the fallback mode (no pty bits).
 * - The event repeats no command line (the program's exec event has it; a
 *   copy would match a CommandLine or keyword rule twice).
 */
#include "sensor/sensor_int.h"

#include <string.h>

static void relay_event(struct sensor *s, uint64_t ts_ns, struct proc_info *prog, const struct proc_info *relay,
                        uint8_t fds)
{
    struct sensor_event ev;
    sensor_event_init(&ev, SENSOR_PTY_STDIO, ts_ns, prog->tgid, prog->tgid);
    ev.start_time_ns = prog->start_ns;
    ev.ppid = prog->ppid;
    ev.parent_start_time_ns = prog->pstart_ns;
    ev.uid = prog->uid;
    ev.image = prog->image;
    ev.pty_fds = fds;
    ev.relay_tgid = relay->tgid;
    ev.relay_start_ns = relay->start_ns;
    ev.relay_image = relay->image;
    ev.src = relay->sock_src;
    ev.dst = relay->sock_dst;
    ev.protocol = relay->sock_proto;
    ev.initiated = relay->sock_how == SENSOR_CONNECT;
    ev.fd = relay->sock_how;
    ev.sock_id = relay->sock_id;
    prog->pty_reported = true;
    sensor_deliver(s, &ev);
}

void ptys_exec(struct sensor *s, const struct sensor_event *ev)
{
    if (!ev->pty_fds)
        return;
    struct proc_info *pi = proctab_get(s->pt, ev->tgid, ev->start_time_ns);
    struct proc_info *pp = ev->ppid ? proctab_get(s->pt, ev->ppid, ev->parent_start_time_ns) : NULL;
    if (!pi || !pp || pi->pty_reported)
        return;
    if (pp->sock_id) {
        relay_event(s, ev->ts_ns, pi, pp, ev->pty_fds);
        return;
    }
    /* the parent may connect later: the newest such child waits on it */
    pp->pty_child_tgid = ev->tgid;
    pp->pty_child_start = ev->start_time_ns;
    pp->pty_child_fds = ev->pty_fds;
}

void ptys_fork(struct sensor *s, const struct sensor_event *ev)
{
    struct proc_info *pp = ev->ppid ? proctab_get(s->pt, ev->ppid, ev->parent_start_time_ns) : NULL;
    struct proc_info *pi = proctab_get(s->pt, ev->tgid, ev->start_time_ns);
    if (!pp || !pi || !pp->sock_id)
        return;
    pi->sock_src = pp->sock_src;
    pi->sock_dst = pp->sock_dst;
    pi->sock_id = pp->sock_id;
    pi->sock_proto = pp->sock_proto;
    pi->sock_how = pp->sock_how;
}

void ptys_net(struct sensor *s, const struct sensor_event *ev)
{
    struct proc_info *pi;
    if (ev->kind == SENSOR_CLOSE_STATS) {
        pi = proctab_get(s->pt, ev->tgid, ev->start_time_ns);
        if (pi && pi->sock_id == ev->sock_id)
            pi->sock_id = 0;
        return;
    }
    if ((ev->kind != SENSOR_CONNECT && ev->kind != SENSOR_ACCEPT && ev->kind != SENSOR_SOCK_STDIO) ||
        (ev->flags & SENSOR_EF_FAILED) || !ev->sock_id)
        return;
    pi = proctab_get(s->pt, ev->tgid, ev->start_time_ns);
    if (!pi)
        return;
    pi->sock_src = ev->src;
    pi->sock_dst = ev->dst;
    pi->sock_id = ev->sock_id;
    pi->sock_proto = ev->protocol;
    pi->sock_how = (uint8_t)ev->kind;
    if (!pi->pty_child_tgid)
        return;
    struct proc_info *child = proctab_get(s->pt, pi->pty_child_tgid, pi->pty_child_start);
    uint8_t fds = pi->pty_child_fds;
    pi->pty_child_tgid = 0;
    if (child && !child->exited && !child->pty_reported && child->ppid == pi->tgid)
        relay_event(s, ev->ts_ns, child, pi, fds);
}
