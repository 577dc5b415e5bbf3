/* Ring-buffer records (sensor_abi.h) to struct sensor_event: the decoder of
 * the eBPF mode, for live records (ebpf.c) and captured ones (replay.c).
 *
 * Why it works this way:
 * - Every record is validated against the size the ring buffer reports
 *   before a field is used; a record that does not add up is counted
 *   (SENSOR_LOST_BAD_RECORD) and skipped.
 * - A long argv comes in parts sent before its exec record; the parts wait in
 *   a few slots keyed by (pid, start time). An exec whose parts did not all
 *   arrive is delivered marked (SENSOR_EF_ARGV_MISSING) and counted.
 * - Decoding reuses scratch buffers owned by the sensor; the callback gets
 *   pointers into them, valid until it returns. No allocation per event
 *   except when the process table stores a new image or command line.
 * - With a capture open, each record is written after it is decoded, so the
 *   /proc reads its decoding made come first in the file.
 */
#include "sensor/sensor_int.h"
#include "sensor/sensor_abi_user.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

static void hdr_to_event(struct sensor *s, const struct sensor_rec_hdr *h, enum sensor_kind kind,
                         struct sensor_event *ev)
{
    sensor_event_init(ev, kind, h->ts_ns + (uint64_t)s->boot_to_wall_ns, h->pid, h->tgid);
    ev->start_time_ns = h->start_ns;
    ev->uid = h->uid;
    memcpy(ev->comm, h->comm, sizeof(ev->comm));
    ev->comm[sizeof(ev->comm) - 1] = 0;
}

static struct argv_pending *pending_find(struct sensor *s, uint32_t tgid, uint64_t start, bool create)
{
    struct argv_pending *old = NULL;
    for (size_t i = 0; i < SENSOR_PENDING_ARGV; i++) {
        struct argv_pending *p = &s->pend[i];
        if (p->buf && p->tgid == tgid && p->start_ns == start)
            return p;
        if (!old || !p->buf || (old->buf && p->seq < old->seq))
            old = p;
    }
    if (!create)
        return NULL;
    /* reuse the oldest slot; its parts belonged to an exec record the kernel
	 * already counted as lost (ringbuf_full_exec) */
    if (!old->buf) {
        old->buf = malloc((size_t)SENSOR_ARGV_CHUNK * SENSOR_ARGV_MAX_PARTS + 1);
        if (!old->buf)
            return NULL;
    }
    old->tgid = tgid;
    old->start_ns = start;
    old->seq = ++s->pend_seq;
    old->have_mask = 0;
    old->len = 0;
    return old;
}

static void pending_release(struct argv_pending *p)
{
    p->tgid = 0;
    p->start_ns = 0;
    p->have_mask = 0;
    p->len = 0;
}

static int dec_argv_part(struct sensor *s, const struct sensor_rec_argv_part *r, size_t size)
{
    if (size < sizeof(*r) || r->len > SENSOR_ARGV_CHUNK || sizeof(*r) + r->len > size || r->part == 0 ||
        r->part >= SENSOR_ARGV_MAX_PARTS)
        return -1;
    struct argv_pending *p = pending_find(s, r->h.tgid, r->h.start_ns, true);
    if (!p)
        return 0;
    size_t off = (size_t)r->part * SENSOR_ARGV_CHUNK;
    memcpy(p->buf + off, (const char *)(r + 1), r->len);
    p->have_mask |= 1u << r->part;
    if (off + r->len > p->len)
        p->len = off + r->len;
    return 0;
}

static int dec_exec(struct sensor *s, const struct sensor_rec_exec *e, size_t size)
{
    struct sensor_event ev;
    const char *d = (const char *)(e + 1);
    if (size < sizeof(*e) || e->exe_len >= SENSOR_PATH_MAX || e->cwd_len >= SENSOR_PATH_MAX ||
        e->argv_len > SENSOR_ARGV_CHUNK || e->nparts == 0 || e->nparts > SENSOR_ARGV_MAX_PARTS ||
        e->env_len > SENSOR_ENV_MAX || sizeof(*e) + (size_t)e->exe_len + e->cwd_len + e->argv_len + e->env_len > size)
        return -1;
    hdr_to_event(s, &e->h, SENSOR_EXEC, &ev);
    ev.ppid = e->ppid;
    ev.parent_start_time_ns = e->pstart_ns;
    ev.gid = e->gid;
    ev.euid = e->euid;
    ev.egid = e->egid;
    ev.loginuid = e->loginuid;
    ev.sessionid = e->sessionid;
    ev.sid = e->sid;
    ev.cgroup_id = e->cgroup_id;
    char tty[SENSOR_TTY_LEN + 1];
    memcpy(tty, e->tty, SENSOR_TTY_LEN);
    tty[SENSOR_TTY_LEN] = 0;
    ev.tty = tty[0] ? tty : NULL;
    memcpy(s->image_buf, d, e->exe_len);
    s->image_buf[e->exe_len] = 0;
    memcpy(s->cwd_buf, d + e->exe_len, e->cwd_len);
    s->cwd_buf[e->cwd_len] = 0;
    ev.image = e->exe_len ? s->image_buf : NULL;
    ev.cwd = e->cwd_len ? s->cwd_buf : NULL;
    if (e->h.flags & SENSOR_RF_ARGV_TRUNC)
        ev.flags |= SENSOR_EF_ARGV_TRUNC;
    if (e->h.flags & (SENSOR_RF_EXE_TRUNC | SENSOR_RF_CWD_TRUNC))
        ev.flags |= SENSOR_EF_PATH_TRUNC;

    const char *argv = d + e->exe_len + e->cwd_len;
    size_t alen = e->argv_len;
    char env[SENSOR_ENV_MAX + 1];
    memcpy(env, argv + alen, e->env_len);
    env[e->env_len] = 0;
    ev.env = e->env_len ? env : NULL;
    ev.env_len = e->env_len;
    if (e->h.flags & SENSOR_RF_ENV_TRUNC)
        ev.flags |= SENSOR_EF_ENV_TRUNC;
    struct argv_pending *p = NULL;
    if (e->nparts > 1) {
        p = pending_find(s, e->h.tgid, e->h.start_ns, true);
        if (p) {
            memcpy(p->buf, argv, alen);
            uint32_t want = (e->nparts >= 32 ? 0xffffffffu : ((1u << e->nparts) - 1)) & ~1u;
            if ((p->have_mask & want) != want) {
                ev.flags |= SENSOR_EF_ARGV_MISSING;
                s->st.lost[SENSOR_LOST_ARGV_PART]++;
            }
            alen = p->len > alen ? p->len : alen;
            argv = p->buf;
        } else {
            ev.flags |= SENSOR_EF_ARGV_MISSING;
            s->st.lost[SENSOR_LOST_ARGV_PART]++;
        }
    }
    /* argv must be NUL-terminated for the callback: copy into the join buffer's twin */
    ev.cmdline = sensor_join_argv(s, argv, alen, &ev.argc);
    memmove(s->argv_buf, argv, alen);
    s->argv_buf[alen] = 0;
    ev.argv = s->argv_buf;
    ev.argv_len = alen;
    if (p)
        pending_release(p);

    struct sensor_event link;
    ev.stdin_pipe = e->stdin_pipe;
    ev.pty_fds = (uint8_t)((e->h.flags & SENSOR_RF_PTY_MASK) / SENSOR_RF_PTY_FD0);
    int linked = pipes_exec(s, &ev, e->stdin_pipe, e->stdout_pipe, e->pipe_dev, &link);
    sensor_deliver_proc(s, &ev);
    if (linked) {
        sensor_enrich(s, &link);
        sensor_deliver(s, &link);
    }
    ptys_exec(s, &ev);
    return 0;
}

static int dec_fork(struct sensor *s, const struct sensor_rec_fork *r, size_t size)
{
    struct sensor_event ev;
    if (size < sizeof(*r))
        return -1;
    hdr_to_event(s, &r->h, SENSOR_FORK, &ev);
    ev.ppid = r->ppid;
    ev.parent_start_time_ns = r->pstart_ns;
    sensor_deliver_proc(s, &ev);
    ptys_fork(s, &ev);
    return 0;
}

static int dec_exit(struct sensor *s, const struct sensor_rec_exit *r, size_t size)
{
    struct sensor_event ev;
    if (size < sizeof(*r))
        return -1;
    hdr_to_event(s, &r->h, SENSOR_EXIT, &ev);
    ev.exit_code = r->exit_code;
    return sensor_deliver_proc(s, &ev), 0;
}

static int dec_open(struct sensor *s, const struct sensor_rec_open *r, size_t size)
{
    struct sensor_event ev;
    if (size < sizeof(*r) || r->path_len >= SENSOR_PATH_MAX || sizeof(*r) + r->path_len > size || r->watch >= s->nwatch)
        return -1;
    hdr_to_event(s, &r->h, SENSOR_OPEN, &ev);
    memcpy(s->cwd_buf, r + 1, r->path_len);
    s->cwd_buf[r->path_len] = 0;
    ev.path = s->cwd_buf;
    ev.open_flags = r->flags;
    ev.watch_index = (int32_t)r->watch;
    ev.fd = r->fd;
    if (r->h.flags & SENSOR_RF_PATH_TRUNC)
        ev.flags |= SENSOR_EF_PATH_TRUNC;
    if (r->h.flags & SENSOR_RF_FLAGS_GUESS)
        ev.flags |= SENSOR_EF_FLAGS_GUESS;
    sensor_enrich(s, &ev);
    return sensor_deliver(s, &ev), 0;
}

static void sa_copy(struct sensor_addr *d, const struct sensor_sa *sa)
{
    d->family = sa->family;
    d->port = sa->port;
    memcpy(d->addr, sa->addr, sizeof(d->addr));
}

static int dec_net(struct sensor *s, const struct sensor_rec_net *r, size_t size)
{
    struct sensor_event ev;
    if (size < sizeof(*r))
        return -1;
    enum sensor_kind kind;
    switch (r->h.type) {
    case SENSOR_REC_CONNECT: kind = SENSOR_CONNECT; break;
    case SENSOR_REC_ACCEPT: kind = SENSOR_ACCEPT; break;
    case SENSOR_REC_CLOSE: kind = SENSOR_CLOSE_STATS; break;
    default: kind = SENSOR_SOCK_STDIO; break;
    }
    hdr_to_event(s, &r->h, kind, &ev);
    sa_copy(&ev.src, &r->src);
    sa_copy(&ev.dst, &r->dst);
    ev.bytes_sent = r->bytes_acked;
    ev.bytes_received = r->bytes_received;
    ev.sock_id = r->sk;
    ev.fd = r->fd;
    ev.initiated = r->initiated != 0;
    ev.protocol = r->proto;
    if (r->h.flags & SENSOR_RF_FAILED)
        ev.flags |= SENSOR_EF_FAILED;
    sensor_enrich(s, &ev);
    sensor_deliver(s, &ev);
    ptys_net(s, &ev);
    return 0;
}

int sensor_on_record(struct sensor *s, void *data, size_t size)
{
    const struct sensor_rec_hdr *h = data;
    size_t rsize = size;
    int r = -1;
    if (s->cbret)
        return s->cbret < 0 ? s->cbret : -ECANCELED;
    if (size < sizeof(*h) || h->size < sizeof(*h) || h->size > size)
        goto bad;
    size = h->size;
    switch (h->type) {
    case SENSOR_REC_EXEC: r = dec_exec(s, data, size); break;
    case SENSOR_REC_ARGV_PART: r = dec_argv_part(s, data, size); break;
    case SENSOR_REC_FORK: r = dec_fork(s, data, size); break;
    case SENSOR_REC_EXIT: r = dec_exit(s, data, size); break;
    case SENSOR_REC_OPEN: r = dec_open(s, data, size); break;
    case SENSOR_REC_CONNECT:
    case SENSOR_REC_ACCEPT:
    case SENSOR_REC_CLOSE:
    case SENSOR_REC_SOCK_STDIO: r = dec_net(s, data, size); break;
    case SENSOR_REC_FILEOP: r = fileops_decode(s, data, size); break;
    default: break;
    }
    if (r == 0)
        goto out;
bad:
    s->st.lost[SENSOR_LOST_BAD_RECORD]++;
out:
    /* after decoding, so the /proc reads it made come first in the capture */
    if (s->cap)
        capture_frame(s, CAP_RECORD, data, rsize, NULL, 0, NULL, 0);
    return s->cbret ? -ECANCELED : 0;
}
