/* The eBPF mode: loads and attaches the tracepoint programs (sensor.bpf.c),
 * registers the watched paths in their maps, drains the ring buffer into the
 * record decoder (decode.c) and reads the kernel's loss counters.
 *
 * Why it works this way:
 * - Tracepoints only (no kprobes, fentry or LSM: they may be locked down).
 *   Syscall tracepoints need tracefs for their ids: it is mounted where the
 *   kernel expects it if it is not.
 * - Any failure (no BTF, verifier, attach) comes back with libbpf's last
 *   messages, so sensor_open can fall back and say why in the mode string;
 *   libbpf's messages go to stderr only with STOAT_SENSOR_DEBUG set.
 * - Watched paths are registered by letting the kernel program report the
 *   inode key of each watched path's parent directory (the sensor opens it
 *   with O_PATH while a flag is armed); the kernel and user space can never
 *   disagree on how a filesystem encodes its device number. Without watched
 *   paths the open hooks are not loaded at all.
 * - The loss counters are an mmapable array mapped here at load, and read
 *   from memory: a lookup through bpf() needs CAP_BPF on kernels before
 *   6.5 when unprivileged BPF is off, and privs.c drops it. (The programs'
 *   run-time figures, for the benchmark only, still come through bpf().)
 * - The kernel wakes the reader only when 1/16 of the ring is queued, so a
 *   storm costs no wakeup per event; the reader also looks every
 *   SENSOR_POLL_SLICE_MS, which bounds the latency.
 */
#include "sensor/sensor_int.h"
#include "sensor/sensor_abi_user.h"
#include "sensor.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RINGBUF      (16u << 20)
#define SENSOR_POLL_SLICE_MS 20

/* the kernel's loss counters map onto the public ones one to one */
static const enum sensor_loss kloss_map[SENSOR_KLOSS_MAX_] = {
    [SENSOR_KLOSS_RB_EXEC] = SENSOR_LOST_RINGBUF_EXEC,  [SENSOR_KLOSS_RB_ARGV_PART] = SENSOR_LOST_RINGBUF_ARGV,
    [SENSOR_KLOSS_RB_FORK] = SENSOR_LOST_RINGBUF_FORK,  [SENSOR_KLOSS_RB_EXIT] = SENSOR_LOST_RINGBUF_EXIT,
    [SENSOR_KLOSS_RB_OPEN] = SENSOR_LOST_RINGBUF_OPEN,  [SENSOR_KLOSS_RB_NET] = SENSOR_LOST_RINGBUF_NET,
    [SENSOR_KLOSS_ARGV_CAP] = SENSOR_LOST_ARGV_CAP,     [SENSOR_KLOSS_ARGV_READ] = SENSOR_LOST_ARGV_READ,
    [SENSOR_KLOSS_PATH_CAP] = SENSOR_LOST_PATH_CAP,     [SENSOR_KLOSS_SOCK_TABLE] = SENSOR_LOST_SOCK_TABLE,
    [SENSOR_KLOSS_OPEN_TABLE] = SENSOR_LOST_OPEN_TABLE,
};

/* libbpf messages: kept (the tail) for the error text, printed only on demand */
static char libbpf_log[4096];
static size_t libbpf_log_len;

static int libbpf_print(enum libbpf_print_level level, const char *fmt, va_list ap)
{
    char line[512];
    va_list ap2;
    va_copy(ap2, ap);
    if (getenv("STOAT_SENSOR_DEBUG"))
        vfprintf(stderr, fmt, ap2);
    va_end(ap2);
    int n = vsnprintf(line, sizeof(line), fmt, ap);
    if (n < 0)
        return 0;
    if ((size_t)n >= sizeof(line))
        n = sizeof(line) - 1;
    if (level == LIBBPF_DEBUG)
        return 0;
    if (libbpf_log_len + (size_t)n >= sizeof(libbpf_log))
        libbpf_log_len = 0;
    memcpy(libbpf_log + libbpf_log_len, line, (size_t)n);
    libbpf_log_len += (size_t)n;
    libbpf_log[libbpf_log_len] = 0;
    return 0;
}

/* ---- watched paths ---- */

static uint32_t fnv(const char *s, size_t n)
{
    uint32_t h = SENSOR_FNV_BASIS;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (uint8_t)s[i]) * SENSOR_FNV_PRIME;
    return h;
}

static int watch_register(struct sensor *s, size_t idx, char *errbuf, size_t errlen)
{
    struct sensor_bpf *sk = s->skel;
    volatile struct sensor_reg *reg = (volatile struct sensor_reg *)&sk->bss->reg;
    const char *path = s->watch[idx];
    const char *slash = strrchr(path, '/');
    char dir[PATH_MAX];
    size_t dl = (size_t)(slash - path);
    uint32_t seq0, one = 1, widx = (uint32_t)idx;
    int fd = -1, ret = -EIO;

    if (dl == 0)
        dl = 1;
    memcpy(dir, path, dl);
    dir[dl] = 0;
    seq0 = reg->seq;
    __atomic_store_n(&reg->armed, 1, __ATOMIC_SEQ_CST);
    fd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        ret = -errno;
        snprintf(errbuf, errlen, "watch %s: cannot open %s: %s", path, dir, strerror(errno));
        goto out;
    }
    if (__atomic_load_n(&reg->seq, __ATOMIC_SEQ_CST) == seq0) {
        snprintf(errbuf, errlen, "watch %s: the kernel program did not see the registration open", path);
        goto out;
    }
    struct sensor_dir_key dk = {.dev = reg->dev, .ino = reg->ino};
    struct sensor_name_key nk = {.dev = reg->dev, .ino = reg->ino, .hash = fnv(slash + 1, strlen(slash + 1))};
    struct sensor_leaf_key lk = {.hash = nk.hash};
    if (idx >= s->nuser_watch)
        widx |= SENSOR_WATCH_WRITES;
    if (bpf_map__update_elem(sk->maps.watch_dirs, &dk, sizeof(dk), &one, sizeof(one), BPF_ANY) < 0 ||
        bpf_map__update_elem(sk->maps.watch_names, &nk, sizeof(nk), &widx, sizeof(widx), BPF_ANY) < 0 ||
        bpf_map__update_elem(sk->maps.watch_leaves, &lk, sizeof(lk), &one, sizeof(one), BPF_ANY) < 0) {
        ret = -errno;
        snprintf(errbuf, errlen, "watch %s: map update: %s", path, strerror(errno));
        goto out;
    }
    ret = 0;
out:
    __atomic_store_n(&reg->armed, 0, __ATOMIC_SEQ_CST);
    if (fd >= 0)
        close(fd);
    return ret;
}

/* ---- loading ---- */

static int ensure_tracefs(void)
{
    if (access("/sys/kernel/tracing/events", F_OK) == 0 || access("/sys/kernel/debug/tracing/events", F_OK) == 0)
        return 0;
    /* syscall tracepoints need tracefs for their ids; mount it where the kernel expects it */
    if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
        return -errno;
    return 0;
}

static int on_record(void *ctx, void *data, size_t size)
{
    return sensor_on_record(ctx, data, size);
}

int ebpf_open(struct sensor *s, size_t ringbuf_bytes, char *errbuf, size_t errlen)
{
    struct sensor_bpf *sk = NULL;
    size_t rbsz = ringbuf_bytes ? ringbuf_bytes : DEFAULT_RINGBUF;
    size_t p = 4096;
    int err;

    libbpf_set_print(libbpf_print);
    libbpf_log_len = 0;
    libbpf_log[0] = 0;
    if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
        snprintf(errbuf, errlen, "no kernel BTF (/sys/kernel/btf/vmlinux)");
        err = -ENOENT;
        goto fail;
    }
    if ((err = ensure_tracefs()) < 0) {
        snprintf(errbuf, errlen, "tracefs not mounted and cannot be: %s", strerror(-err));
        goto fail;
    }
    while (p < rbsz && p < (1u << 30))
        p <<= 1;
    sk = sensor_bpf__open();
    if (!sk) {
        err = -errno;
        snprintf(errbuf, errlen, "bpf open: %s", strerror(errno));
        goto fail;
    }
    sk->rodata->self_tgid = (uint32_t)getpid();
    sk->rodata->nwatch = (uint32_t)s->nwatch;
    sk->rodata->wakeup_bytes = p / 16;
    bpf_map__set_max_entries(sk->maps.rb, (uint32_t)p);
    sk->rodata->all_opens = s->nuser_watch > 0;
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, sk->obj)
    {
        /* no watched paths: the open and path-operation hooks would only
         * cost; a syscall this kernel lacks (fchmodat2 before 6.6) is skipped */
        const char *sec = bpf_program__section_name(prog);
        char ev[256];
        if (strncmp(sec, "tp/syscalls/", 12) != 0 || strstr(sec, "accept"))
            continue;
        snprintf(ev, sizeof(ev), "/sys/kernel/tracing/events/syscalls/%s", sec + 12);
        if (s->nwatch == 0 ||
            (access(ev, F_OK) < 0 && errno == ENOENT && access("/sys/kernel/tracing/events/syscalls", F_OK) == 0))
            bpf_program__set_autoload(prog, false);
    }
    if ((err = sensor_bpf__load(sk)) < 0) {
        snprintf(errbuf, errlen, "bpf load: %s; %s", strerror(-err), libbpf_log);
        goto fail;
    }
    if ((err = sensor_bpf__attach(sk)) < 0) {
        snprintf(errbuf, errlen, "bpf attach: %s; %s", strerror(-err), libbpf_log);
        goto fail;
    }
    s->skel = sk;
    for (size_t i = 0; i < s->nwatch; i++)
        if ((err = watch_register(s, i, errbuf, errlen)) < 0) {
            s->skel = NULL;
            goto fail;
        }
    s->kloss_len = (size_t)sysconf(_SC_PAGESIZE);
    s->kloss = mmap(NULL, s->kloss_len, PROT_READ, MAP_SHARED, bpf_map__fd(sk->maps.kloss), 0);
    if (s->kloss == MAP_FAILED) {
        err = -errno;
        s->kloss = NULL;
        s->skel = NULL;
        snprintf(errbuf, errlen, "loss counters: mmap: %s", strerror(errno));
        goto fail;
    }
    s->rb = ring_buffer__new(bpf_map__fd(sk->maps.rb), on_record, s, NULL);
    if (!s->rb) {
        err = -errno;
        s->skel = NULL;
        snprintf(errbuf, errlen, "ring buffer: %s", strerror(errno));
        goto fail;
    }
    snprintf(s->mode, sizeof(s->mode),
             "ebpf (tracepoints, ring buffer %zu KiB); cannot see: UDP and raw sockets, "
             "opens through io_uring or open_by_handle_at, failed opens, reads/writes after the open, "
             "connections and processes that began before the sensor (those are read from /proc on first use)",
             p >> 10);
    return 0;
fail:
    if (s->kloss)
        munmap((void *)s->kloss, s->kloss_len);
    s->kloss = NULL;
    sensor_bpf__destroy(sk);
    return err;
}

/* ---- polling and counters ---- */

int ebpf_poll(struct sensor *s, int timeout_ms)
{
    /* the kernel wakes us only when 1/16 of the ring is queued, so look
	 * every SENSOR_POLL_SLICE_MS until something arrives or time is up */
    struct timespec t0, t1;
    int r;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (;;) {
        int slice = SENSOR_POLL_SLICE_MS;
        if (timeout_ms >= 0) {
            clock_gettime(CLOCK_MONOTONIC, &t1);
            long el = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
            if (timeout_ms - el < slice)
                slice = timeout_ms - el > 0 ? (int)(timeout_ms - el) : 0;
        }
        r = ring_buffer__poll(s->rb, slice);
        if (r == 0)
            r = ring_buffer__consume(s->rb);
        if (r != 0 || s->delivered || slice == 0)
            break;
    }
    return r;
}

/* The kernel's loss counters (per CPU) and the programs' run time, added to st. */
void ebpf_stats(const struct sensor *s, struct sensor_stats *st)
{
    if (!s->skel)
        return;
    for (uint32_t k = 0; s->kloss && k < SENSOR_KLOSS_MAX_; k++)
        st->lost[kloss_map[k]] += __atomic_load_n(&s->kloss[k], __ATOMIC_RELAXED);
    struct bpf_program *prog;
    bpf_object__for_each_program(prog, s->skel->obj)
    {
        struct bpf_prog_info info;
        uint32_t len = sizeof(info);
        int fd = bpf_program__fd(prog);
        memset(&info, 0, sizeof(info));
        if (fd >= 0 && bpf_obj_get_info_by_fd(fd, &info, &len) == 0) {
            st->bpf_run_ns += info.run_time_ns;
            st->bpf_run_cnt += info.run_cnt;
        }
    }
}

void ebpf_close(struct sensor *s)
{
    if (s->kloss)
        munmap((void *)s->kloss, s->kloss_len);
    s->kloss = NULL;
    ring_buffer__free(s->rb);
    sensor_bpf__destroy(s->skel);
    s->rb = NULL;
    s->skel = NULL;
}
