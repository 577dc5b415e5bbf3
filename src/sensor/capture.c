/* Capture of the sensor's ring-buffer records (eBPF mode): the input of a
 * replay (replay.c), so the user-space side of `stoat watch` (decoding,
 * process table, enrichment, then the engine) can be measured and checked
 * on its own, without the kernel.
 *
 * Why it works this way:
 * - The capture holds every ring-buffer record exactly as libbpf handed it
 *   over, so a replay runs the very decoder the live sensor runs
 *   (sensor_on_record), not a re-encoding of decoded events.
 * - Decoding also reads things that are not in the records; those are
 *   captured too, so a replay on another day (or host) delivers the same
 *   events: the boot-to-wall clock offset of each poll (CAP_POLL), the wall
 *   clock when each poll ended (CAP_CLOCK, which `stoat watch` judges quiet
 *   periods by), and every process read from /proc because it began before
 *   the sensor (CAP_PROC, written before the record whose decoding read it).
 *   The boot id and host name are in the header. User names are not
 *   captured: a replay resolves uids on the host it runs on.
 * - Frames are 8-byte aligned in the file (the format is in sensor_int.h),
 *   so a replay decodes records in place, as from the ring buffer.
 * - Only writing is here: the decoder and the enrichment below the front
 *   call it; the reading (replay.c) drives the decoder from above. A failed
 *   write stops the capture and is reported (sensor_stats.capture_error).
 *   The capture file holds command lines: it is created mode 0600.
 */
#include "sensor/sensor_int.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct capture {
    FILE *f;
    uint64_t bytes;
    int err;
};

static void cap_write(struct capture *c, const void *p, size_t n)
{
    if (c->err || n == 0)
        return;
    if (fwrite(p, 1, n, c->f) != n)
        c->err = errno ? errno : EIO;
    else
        c->bytes += n;
}

void capture_frame(struct sensor *s, enum cap_tag tag, const void *a, size_t alen, const void *b, size_t blen,
                   const void *c, size_t clen)
{
    static const char zero[8];
    struct capture *cp = s->cap;
    size_t n = alen + blen + clen;
    if (!cp || cp->err)
        return;
    if (n > CAP_FRAME_MAX) {
        cp->err = EFBIG;
        return;
    }
    struct cap_frame h = {.len = (uint32_t)n, .tag = (uint32_t)tag};
    cap_write(cp, &h, sizeof(h));
    cap_write(cp, a, alen);
    cap_write(cp, b, blen);
    cap_write(cp, c, clen);
    cap_write(cp, zero, cap_pad8(n) - n);
}

void capture_proc(struct sensor *s, const struct proc_info *pi)
{
    struct cap_proc p = {
        .tgid = pi->tgid,
        .ppid = pi->ppid,
        .start_ns = pi->start_ns,
        .image_len = pi->image ? (uint32_t)strlen(pi->image) : UINT32_MAX,
        .cmd_len = pi->cmdline ? (uint32_t)strlen(pi->cmdline) : UINT32_MAX,
    };
    capture_frame(s, CAP_PROC, &p, sizeof(p), pi->image, pi->image ? p.image_len : 0, pi->cmdline,
                  pi->cmdline ? p.cmd_len : 0);
}

int capture_open(struct sensor *s, const char *path, char *errbuf, size_t errlen)
{
    struct capture *c = calloc(1, sizeof(*c));
    int fd = -1, err = -ENOMEM;
    char *hdr = NULL;
    size_t hl = 8 + strlen(s->hostname) + 1, o;
    if (!c)
        goto fail;
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || !(c->f = fdopen(fd, "w"))) {
        err = -errno;
        snprintf(errbuf, errlen, "capture %s: %s", path, strerror(errno));
        goto fail;
    }
    fd = -1;
    setvbuf(c->f, NULL, _IOFBF, 1u << 20);
    for (size_t i = 0; i < s->nwatch; i++)
        hl += strlen(s->watch[i]) + 1;
    if (!(hdr = malloc(hl)))
        goto fail;
    uint32_t nw = (uint32_t)s->nwatch;
    memcpy(hdr, &s->boot_tag, 4);
    memcpy(hdr + 4, &nw, 4);
    o = 8;
    memcpy(hdr + o, s->hostname, strlen(s->hostname) + 1);
    o += strlen(s->hostname) + 1;
    for (size_t i = 0; i < s->nwatch; i++) {
        memcpy(hdr + o, s->watch[i], strlen(s->watch[i]) + 1);
        o += strlen(s->watch[i]) + 1;
    }
    s->cap = c;
    cap_write(c, CAP_MAGIC, CAP_MAGIC_LEN);
    capture_frame(s, CAP_HEADER, hdr, hl, NULL, 0, NULL, 0);
    free(hdr);
    if (fflush(c->f) != 0 || c->err) {
        err = -(c->err ? c->err : errno);
        snprintf(errbuf, errlen, "capture %s: %s", path, strerror(-err));
        s->cap = NULL;
        goto fail;
    }
    return 0;
fail:
    if (fd >= 0)
        close(fd);
    if (c && c->f)
        fclose(c->f);
    free(c);
    return err;
}

void capture_flush(struct sensor *s)
{
    struct capture *c = s->cap;
    if (c && !c->err && fflush(c->f) != 0)
        c->err = errno ? errno : EIO;
}

void capture_close(struct sensor *s)
{
    struct capture *c = s->cap;
    if (!c)
        return;
    capture_flush(s);
    fclose(c->f);
    free(c);
    s->cap = NULL;
}

void capture_stats(const struct sensor *s, struct sensor_stats *st)
{
    if (s->cap) {
        st->capture_bytes = s->cap->bytes;
        st->capture_error = s->cap->err;
    }
}
