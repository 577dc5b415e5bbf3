/* The sensor's front: sensor_open picks a capture mode (eBPF, else the
 * fallback; or a replay), normalises the watched paths and drops privileges;
 * sensor_poll, sensor_stats and sensor_close hand on to the mode that runs.
 *
 * Why it works this way:
 * - eBPF first, fallback second: if anything in the eBPF path fails (no BTF,
 *   verifier, attach) the reason is kept in the mode string and the proc
 *   connector + fanotify fallback is tried, so `stoat watch` runs everywhere
 *   and says what it cannot see.
 * - The modes only make events (ebpf.c with decode.c, fallback.c, replay.c);
 *   the process table and the delivery they share are below them
 *   (deliver.c), and this file above them, so no mode knows another.
 * - Privileges: once everything that needs root is open (programs, ring
 *   buffer, netlink and fanotify descriptors, the capture file), privs.c
 *   makes the process the user asked for with only what the running mode
 *   still needs; it is the last step of sensor_open, so a sensor that could
 *   not drop them is not handed out.
 */
#include "sensor/sensor.h"
#include "sensor/sensor_int.h"
#include "sensor/sensor_abi_user.h"

#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_PROCTAB 16384u

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    if (!errbuf || errlen == 0)
        return;
    va_start(ap, fmt);
    vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
}

static int64_t boot_to_wall(void)
{
    struct timespec rt, bt;
    clock_gettime(CLOCK_REALTIME, &rt);
    clock_gettime(CLOCK_BOOTTIME, &bt);
    return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000ll + (rt.tv_nsec - bt.tv_nsec);
}

static int64_t wall_now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_REALTIME, &t);
    return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
}

/* ---- watched paths ---- */

/* Absolute, no trailing '/', symlinks resolved where the path exists; the
 * parent directory must exist. */
static int watch_normalise(const char *in, char **out, char *errbuf, size_t errlen)
{
    char tmp[PATH_MAX], res[PATH_MAX];
    size_t n = in ? strlen(in) : 0;
    int ret = -EINVAL;
    *out = NULL;
    if (n == 0 || in[0] != '/' || n >= sizeof(tmp)) {
        seterr(errbuf, errlen, "watch path must be absolute and shorter than PATH_MAX: '%s'", in ? in : "");
        goto out;
    }
    memcpy(tmp, in, n + 1);
    while (n > 1 && tmp[n - 1] == '/')
        tmp[--n] = 0;
    if (strcmp(tmp, "/") == 0) {
        seterr(errbuf, errlen, "watching / is not supported; name the directories that matter");
        goto out;
    }
    if (realpath(tmp, res)) {
        *out = strdup(res);
    } else {
        char *slash = strrchr(tmp, '/');
        *slash = 0;
        const char *dir = tmp[0] ? tmp : "/";
        if (!realpath(dir, res)) {
            seterr(errbuf, errlen, "watch path %s: parent directory %s: %s", in, dir, strerror(errno));
            goto out;
        }
        size_t rl = strlen(res), bl = strlen(slash + 1);
        if (rl + 1 + bl + 1 > sizeof(res)) {
            seterr(errbuf, errlen, "watch path too long: %s", in);
            goto out;
        }
        if (rl > 1)
            res[rl++] = '/';
        memcpy(res + rl, slash + 1, bl + 1);
        *out = strdup(res);
    }
    ret = *out ? 0 : -ENOMEM;
out:
    return ret;
}

/* ---- the API ---- */

int sensor_open(const struct sensor_opts *opts, struct sensor **out, char *errbuf, size_t errlen)
{
    struct sensor_opts dflt = {0};
    struct sensor *s = NULL;
    char ebpf_err[1024] = "";
    char boot[64];
    int err = -ENOMEM;

    if (!out) {
        err = -EINVAL;
        goto out;
    }
    *out = NULL;
    if (!opts)
        opts = &dflt;
    s = calloc(1, sizeof(*s));
    if (!s)
        goto out;
    s->nl_fd = s->fan_fd = -1;
    s->pt = proctab_new(opts->proc_table_size ? opts->proc_table_size : DEFAULT_PROCTAB);
    s->pbuf = malloc(SENSOR_PROC_READ_MAX + 1);
    s->image_buf = malloc(PATH_MAX + 1);
    s->cwd_buf = malloc(PATH_MAX + 1);
    s->lookup_buf = malloc(PATH_MAX + 1);
    s->argv_buf = malloc((size_t)SENSOR_ARGV_CHUNK * SENSOR_ARGV_MAX_PARTS + 1);
    if (!s->argv_buf || !s->pt || !s->pbuf || !s->image_buf || !s->cwd_buf || !s->lookup_buf)
        goto out;
    if (opts->nwatch && !opts->watch_paths) {
        err = -EINVAL;
        seterr(errbuf, errlen, "nwatch without watch_paths");
        goto out;
    }
    if (opts->nwatch > 512) {
        err = -E2BIG;
        seterr(errbuf, errlen, "at most 512 watched paths");
        goto out;
    }
    if (opts->nwatch && !opts->replay_path) {
        s->watch = calloc(opts->nwatch, sizeof(*s->watch));
        if (!s->watch)
            goto out;
    }
    for (size_t i = 0; i < opts->nwatch && !opts->replay_path; i++) {
        if ((err = watch_normalise(opts->watch_paths[i], &s->watch[i], errbuf, errlen)) < 0)
            goto out;
        s->nwatch = i + 1;
    }
    s->nuser_watch = s->nwatch;
    if (!opts->replay_path &&
        (err = sensor_default_files(s, opts->extra_files, opts->nextra, !opts->no_default_files)) < 0) {
        seterr(errbuf, errlen, "default file set: %s", strerror(-err));
        goto out;
    }
    if (!(s->pipes = pipes_new(0))) {
        err = -ENOMEM;
        goto out;
    }
    if (gethostname(s->hostname, sizeof(s->hostname) - 1) < 0)
        strcpy(s->hostname, "localhost");
    FILE *bf = fopen("/proc/sys/kernel/random/boot_id", "re");
    if (bf) {
        if (fgets(boot, sizeof(boot), bf) && strlen(boot) > 8) {
            boot[8] = 0;
            s->boot_tag = (uint32_t)strtoul(boot, NULL, 16);
        }
        fclose(bf);
    }
    s->boot_to_wall_ns = boot_to_wall();
    s->clock_ns = wall_now_ns();

    if (opts->replay_path) {
        /* no kernel interface and nothing to drop: the capture is the source */
        if ((err = replay_open(s, opts->replay_path, opts->replay_passes, errbuf, errlen)) < 0)
            goto out;
        *out = s;
        s = NULL;
        err = 0;
        goto out;
    }
    err = -1;
    if (!opts->force_fallback)
        err = ebpf_open(s, opts->ringbuf_bytes, ebpf_err, sizeof(ebpf_err));
    if (err < 0) {
        /* the default file set too: fanotify marks its folders for writes only (fallback.c) */
        s->fallback = true;
        if ((err = fallback_open(s, errbuf, errlen)) < 0) {
            if (ebpf_err[0]) {
                size_t l = errbuf ? strlen(errbuf) : 0;
                if (errbuf && l + 8 < errlen)
                    snprintf(errbuf + l, errlen - l, "; ebpf: %s", ebpf_err);
            }
            goto out;
        }
        if (ebpf_err[0]) {
            size_t l = strlen(s->mode);
            snprintf(s->mode + l, sizeof(s->mode) - l, " [ebpf unavailable: %.160s]", ebpf_err);
        } else if (opts->force_fallback) {
            size_t l = strlen(s->mode);
            snprintf(s->mode + l, sizeof(s->mode) - l, " [forced]");
        }
    }
    if (opts->capture_path) {
        if (s->fallback) {
            err = -ENOTSUP;
            seterr(errbuf, errlen, "capturing ring-buffer records needs the eBPF mode; it runs %s", s->mode);
            goto out;
        }
        /* opened before the privileges go: the path may be anywhere root can write */
        if ((err = capture_open(s, opts->capture_path, errbuf, errlen)) < 0)
            goto out;
    }
    if (!opts->keep_privileges && (err = sensor_drop_privileges(s, opts->run_as, errbuf, errlen)) < 0)
        goto out;
    *out = s;
    s = NULL;
    err = 0;
out:
    sensor_close(s);
    return err;
}

const char *sensor_mode(const struct sensor *s)
{
    return s ? s->mode : "none";
}

int sensor_poll(struct sensor *s, int timeout_ms, int (*cb)(void *ctx, const struct sensor_event *ev), void *ctx)
{
    int r;
    if (!s)
        return -EINVAL;
    s->cb = cb;
    s->cbctx = ctx;
    s->cbret = 0;
    s->delivered = 0;
    if (s->rp) {
        r = replay_poll(s);
        s->cb = NULL;
        if (s->cbret)
            return s->cbret;
        return r < 0 ? r : s->delivered;
    }
    s->boot_to_wall_ns = boot_to_wall();
    if (s->cap)
        capture_frame(s, CAP_POLL, &s->boot_to_wall_ns, sizeof(s->boot_to_wall_ns), NULL, 0, NULL, 0);
    r = s->fallback ? fallback_poll(s, timeout_ms) : ebpf_poll(s, timeout_ms);
    s->cb = NULL;
    s->clock_ns = wall_now_ns();
    if (s->cap) {
        capture_frame(s, CAP_CLOCK, &s->clock_ns, sizeof(s->clock_ns), NULL, 0, NULL, 0);
        capture_flush(s);
    }
    if (s->cbret)
        return s->cbret;
    if (r < 0 && r != -EINTR && r != -ECANCELED)
        return r;
    return s->delivered;
}

int64_t sensor_clock_ns(const struct sensor *s)
{
    return s ? s->clock_ns : wall_now_ns();
}

void sensor_stats(const struct sensor *s, struct sensor_stats *st)
{
    if (!st)
        return;
    memset(st, 0, sizeof(*st));
    if (!s)
        return;
    *st = s->st;
    ebpf_stats(s, st);
    capture_stats(s, st);
    st->proc_table_evictions = proctab_evictions(s->pt);
    st->lost_total = 0;
    for (int l = 0; l < SENSOR_LOST_MAX_; l++)
        if (l != SENSOR_LOST_ARGV_CAP && l != SENSOR_LOST_PATH_CAP && l != SENSOR_LOST_PROC_RACE)
            st->lost_total += st->lost[l];
}

void sensor_close(struct sensor *s)
{
    if (!s)
        return;
    ebpf_close(s);
    fallback_close(s);
    capture_close(s);
    replay_close(s);
    for (size_t i = 0; i < s->nwatch; i++)
        free(s->watch[i]);
    free(s->watch);
    pipes_free(s->pipes);
    for (size_t i = 0; i < SENSOR_PENDING_ARGV; i++)
        free(s->pend[i].buf);
    proctab_free(s->pt);
    free(s->cmd);
    free(s->pbuf);
    free(s->image_buf);
    free(s->cwd_buf);
    free(s->lookup_buf);
    free(s->argv_buf);
    free(s);
}
