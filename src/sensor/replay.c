/* Replay of a capture (capture.c writes it): with replay_path, sensor_poll
 * feeds the file through the decoder the live sensor runs (sensor_on_record),
 * its process table and enrichment, and opens no kernel interface.
 *
 * Why it works this way:
 * - One recorded poll per sensor_poll call (the frames up to the next
 *   CAP_CLOCK), so the consumer sees the batches, and the clock between
 *   them, that the live consumer saw.
 * - What decoding took from outside the records comes from the capture: the
 *   clock offset of each poll, the wall clock at its end, and the processes
 *   read from /proc (put into the process table before the record whose
 *   decoding read them live; this host's /proc is not that one).
 * - Frames are read into an aligned buffer, so records are decoded in place,
 *   as from the ring buffer. The file is read in chunks, not loaded whole: a
 *   replay's memory is the watch's own.
 * - Passes: replaying a short capture many times would make every pass
 *   repeat the same (pid, start time) pairs, which the process table treats
 *   as one process. Each pass moves every time (event times, start times,
 *   the clock) by the capture's length plus ten seconds, so each pass is a
 *   later period of the same workload with new processes.
 * - The file is input like any other: lengths are checked against caps and
 *   against what was read; a frame that does not add up ends the pass and is
 *   counted as a bad record.
 */
#include "sensor/sensor_int.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define REPLAY_BUF    (4u << 20)     /* holds the largest frame */
#define REPLAY_GAP_NS 10000000000ull /* between passes */

struct replay {
    int fd;
    char *buf;
    size_t off, len;
    bool eof;
    off_t pos;        /* file offset of buf[0] */
    off_t data_start; /* the first frame after the header */
    off_t data_end;   /* after the last whole frame (a capture cut short ends there) */
    bool scanned;     /* data_end is known */
    unsigned pass, passes;
    uint64_t span; /* ns a pass is moved by */
    int64_t delta;
    bool done;
};

/* Makes at least `need` bytes available at rp->off; false at the end of the file. */
static bool rp_fill(struct replay *rp, size_t need)
{
    if (rp->len - rp->off >= need)
        return true;
    /* frames start 8-aligned in the file, and stay so at the buffer's start */
    memmove(rp->buf, rp->buf + rp->off, rp->len - rp->off);
    rp->pos += (off_t)rp->off;
    rp->len -= rp->off;
    rp->off = 0;
    while (!rp->eof && rp->len < need) {
        ssize_t n = read(rp->fd, rp->buf + rp->len, REPLAY_BUF - rp->len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            rp->eof = true;
            break;
        }
        rp->len += (size_t)n;
    }
    return rp->len >= need;
}

/* 1: a frame; 0: the end of the file; -1: a frame that does not add up. */
static int rp_next(struct replay *rp, uint32_t *tag, char **payload, uint32_t *len)
{
    struct cap_frame h;
    if (rp->scanned && rp->pos + (off_t)rp->off >= rp->data_end)
        return 0;
    if (!rp_fill(rp, sizeof(h)))
        return rp->len == rp->off ? 0 : -1;
    memcpy(&h, rp->buf + rp->off, sizeof(h));
    if (h.len > CAP_FRAME_MAX || !rp_fill(rp, sizeof(h) + cap_pad8(h.len)))
        return -1;
    *tag = h.tag;
    *len = h.len;
    *payload = rp->buf + rp->off + sizeof(h);
    rp->off += sizeof(h) + cap_pad8(h.len);
    return 1;
}

static int rp_rewind(struct replay *rp)
{
    if (lseek(rp->fd, rp->data_start, SEEK_SET) < 0)
        return -errno;
    rp->off = rp->len = 0;
    rp->pos = rp->data_start;
    rp->eof = false;
    return 0;
}

/* Moves a record's times by the pass's delta (zero times mean "unknown"). */
static void rp_shift(char *p, uint32_t len, int64_t delta)
{
    struct sensor_rec_hdr *h = (struct sensor_rec_hdr *)p;
    if (!delta || len < sizeof(*h))
        return;
    h->ts_ns += (uint64_t)delta;
    if (h->start_ns)
        h->start_ns += (uint64_t)delta;
    if (h->type == SENSOR_REC_EXEC && len >= sizeof(struct sensor_rec_exec)) {
        struct sensor_rec_exec *e = (struct sensor_rec_exec *)p;
        if (e->pstart_ns)
            e->pstart_ns += (uint64_t)delta;
    } else if (h->type == SENSOR_REC_FORK && len >= sizeof(struct sensor_rec_fork)) {
        struct sensor_rec_fork *f = (struct sensor_rec_fork *)p;
        if (f->pstart_ns)
            f->pstart_ns += (uint64_t)delta;
    }
}

/* What proc_lookup put into the table in the live run. */
static int rp_proc(struct sensor *s, const char *p, uint32_t len, int64_t delta)
{
    struct cap_proc cp;
    if (len < sizeof(cp))
        return -1;
    memcpy(&cp, p, sizeof(cp));
    size_t il = cp.image_len == UINT32_MAX ? 0 : cp.image_len;
    size_t cl = cp.cmd_len == UINT32_MAX ? 0 : cp.cmd_len;
    if (il > PATH_MAX || cl > SENSOR_CMDLINE_KEEP || sizeof(cp) + il + cl != len)
        return -1;
    struct proc_info *pi = proctab_put(s->pt, cp.tgid, cp.start_ns ? cp.start_ns + (uint64_t)delta : 0);
    if (!pi)
        return 0;
    pi->ppid = cp.ppid;
    if (cp.image_len != UINT32_MAX)
        proctab_set(&pi->image, p + sizeof(cp), il);
    if (cp.cmd_len != UINT32_MAX)
        proctab_set(&pi->cmdline, p + sizeof(cp) + il, cl);
    s->st.proc_lookups_from_proc++;
    return 0;
}

static int rp_header(struct sensor *s, const char *p, uint32_t len, char *errbuf, size_t errlen)
{
    uint32_t nw;
    const char *end = p + len, *q;
    if (len < 9 || p[len - 1] != 0)
        goto bad;
    memcpy(&s->boot_tag, p, 4);
    memcpy(&nw, p + 4, 4);
    if (nw > SENSOR_WATCH_MAX)
        goto bad;
    q = p + 8;
    snprintf(s->hostname, sizeof(s->hostname), "%s", q);
    q += strlen(q) + 1;
    if (nw && !(s->watch = calloc(nw, sizeof(*s->watch))))
        return -ENOMEM;
    for (uint32_t i = 0; i < nw; i++) {
        if (q >= end)
            goto bad;
        if (!(s->watch[i] = strdup(q)))
            return -ENOMEM;
        s->nwatch = i + 1;
        q += strlen(q) + 1;
    }
    return 0;
bad:
    snprintf(errbuf, errlen, "replay: the capture's header does not add up");
    return -EINVAL;
}

int replay_open(struct sensor *s, const char *path, unsigned passes, char *errbuf, size_t errlen)
{
    struct replay *rp = calloc(1, sizeof(*rp));
    uint32_t tag, len;
    char *p;
    uint64_t nrec = 0, ts_min = UINT64_MAX, ts_max = 0;
    int err = -ENOMEM, k;
    if (!rp)
        return -ENOMEM;
    rp->fd = -1;
    s->rp = rp; /* freed by replay_close, from sensor_close */
    rp->passes = passes ? passes : 1;
    if (!(rp->buf = aligned_alloc(64, REPLAY_BUF)))
        goto out;
    rp->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (rp->fd < 0) {
        err = -errno;
        snprintf(errbuf, errlen, "replay %s: %s", path, strerror(errno));
        goto out;
    }
    err = -EINVAL;
    if (!rp_fill(rp, CAP_MAGIC_LEN) || memcmp(rp->buf, CAP_MAGIC, CAP_MAGIC_LEN) != 0) {
        snprintf(errbuf, errlen, "replay %s: not a stoat sensor capture", path);
        goto out;
    }
    rp->off = CAP_MAGIC_LEN;
    if (rp_next(rp, &tag, &p, &len) != 1 || tag != CAP_HEADER) {
        snprintf(errbuf, errlen, "replay %s: no header", path);
        goto out;
    }
    if ((err = rp_header(s, p, len, errbuf, errlen)) < 0)
        goto out;
    rp->data_start = (off_t)(CAP_MAGIC_LEN + sizeof(struct cap_frame) + cap_pad8(len));
    /* one pass to check the framing and find the capture's length in time */
    while ((k = rp_next(rp, &tag, &p, &len)) == 1) {
        rp->data_end = rp->pos + (off_t)rp->off;
        if (tag != CAP_RECORD || len < sizeof(struct sensor_rec_hdr))
            continue;
        uint64_t ts;
        memcpy(&ts, p + offsetof(struct sensor_rec_hdr, ts_ns), sizeof(ts));
        ts_min = ts < ts_min ? ts : ts_min;
        ts_max = ts > ts_max ? ts : ts_max;
        nrec++;
    }
    /* a capture whose writer was killed may end inside a frame: it ends
	 * before that frame (data_end), which the mode says */
    bool cut = k < 0;
    if (!rp->data_end)
        rp->data_end = rp->data_start;
    rp->scanned = true;
    rp->span = (nrec ? ts_max - ts_min : 0) + REPLAY_GAP_NS;
    if ((err = rp_rewind(rp)) < 0) {
        snprintf(errbuf, errlen, "replay %s: %s", path, strerror(-err));
        goto out;
    }
    snprintf(s->mode, sizeof(s->mode), "replay of %.200s (%llu records captured on %.64s%s, %u pass%s)", path,
             (unsigned long long)nrec, s->hostname, cut ? ", cut short after them" : "", rp->passes,
             rp->passes == 1 ? "" : "es");
    err = 0;
out:
    return err;
}

int replay_poll(struct sensor *s)
{
    struct replay *rp = s->rp;
    uint32_t tag, len;
    char *p;
    if (rp->done)
        return -ENODATA;
    while (!s->cbret) {
        int k = rp_next(rp, &tag, &p, &len);
        if (k < 0)
            s->st.lost[SENSOR_LOST_BAD_RECORD]++; /* checked at open: the file changed since */
        if (k <= 0) {
            if (rp->pass + 1 >= rp->passes || rp_rewind(rp) < 0) {
                rp->done = true;
                return s->delivered ? 0 : -ENODATA;
            }
            rp->pass++;
            rp->delta = (int64_t)(rp->span * rp->pass);
            /* the next pass repeats the pipe inodes: a reader must not meet the last pass's writer */
            pipes_free(s->pipes);
            s->pipes = pipes_new(0);
            continue;
        }
        switch (tag) {
        case CAP_RECORD:
            rp_shift(p, len, rp->delta);
            sensor_on_record(s, p, len);
            break;
        case CAP_POLL:
            if (len == sizeof(int64_t))
                memcpy(&s->boot_to_wall_ns, p, sizeof(int64_t));
            break;
        case CAP_CLOCK:
            if (len == sizeof(int64_t)) {
                memcpy(&s->clock_ns, p, sizeof(int64_t));
                s->clock_ns += rp->delta;
            }
            return 0; /* one live poll's worth */
        case CAP_PROC:
            if (rp_proc(s, p, len, rp->delta) < 0)
                s->st.lost[SENSOR_LOST_BAD_RECORD]++;
            break;
        default: break; /* a later version's frame: skipped */
        }
    }
    return 0;
}

void replay_close(struct sensor *s)
{
    struct replay *rp = s->rp;
    if (!rp)
        return;
    if (rp->fd >= 0)
        close(rp->fd);
    free(rp->buf);
    free(rp);
    s->rp = NULL;
}
