/* The sensor's front: sensor_open picks a capture mode, loads and attaches the
 * eBPF programs, registers the watched paths, drops privileges; sensor_poll
 * drains the ring buffer and turns records into struct sensor_event.
 *
 * Why it works this way:
 * - eBPF first, fallback second: if anything in the eBPF path fails (no BTF,
 *   verifier, attach) the reason is kept in the mode string and the proc
 *   connector + fanotify fallback is tried, so `stoat watch` runs everywhere
 *   and says what it cannot see.
 * - Watched paths are registered by letting the kernel program report the
 *   inode key of each watched path's parent directory (the sensor opens it
 *   with O_PATH while a flag is armed); the kernel and user space can never
 *   disagree on how a filesystem encodes its device number.
 * - Every record is validated against the size the ring buffer reports
 *   before a field is used; a record that does not add up is counted
 *   (SENSOR_LOST_BAD_RECORD) and skipped.
 * - Decoding reuses scratch buffers owned by the sensor; the callback gets
 *   pointers into them, valid until it returns. No allocation per event
 *   except when the process table stores a new image or command line.
 * - Capabilities: after attach, only CAP_SYS_PTRACE (readlink of
 *   /proc/<pid>/exe and cwd of other users' processes, for processes that
 *   began before the sensor) and CAP_DAC_READ_SEARCH (read /proc files of
 *   other users) stay; CAP_BPF, CAP_SYS_ADMIN, CAP_PERFMON, CAP_NET_ADMIN and
 *   the rest are dropped from the effective, permitted and inheritable sets of
 *   the calling thread. Loaded programs, the ring buffer mapping, the netlink
 *   and fanotify descriptors keep working without them. Root keeps uid 0,
 *   and an execve by uid 0 would be given every capability back: so, while
 *   CAP_SETPCAP is still held, the bounding set is cut to the two kept, the
 *   securebits stop uid 0 from meaning capabilities (SECBIT_NOROOT, locked)
 *   and no_new_privs is set, so nothing this process runs can regain them.
 */
#include "sensor/sensor.h"
#include "sensor/sensor_int.h"
#include "sensor/sensor_abi_user.h"
#include "sensor.skel.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/capability.h>
#include <linux/securebits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define DEFAULT_RINGBUF (16u << 20)
#define DEFAULT_PROCTAB 16384u
#define SENSOR_POLL_SLICE_MS 20

/* the kernel's loss counters map onto the public ones one to one */
static const enum sensor_loss kloss_map[SENSOR_KLOSS_MAX_] = {
	[SENSOR_KLOSS_RB_EXEC] = SENSOR_LOST_RINGBUF_EXEC,
	[SENSOR_KLOSS_RB_ARGV_PART] = SENSOR_LOST_RINGBUF_ARGV,
	[SENSOR_KLOSS_RB_FORK] = SENSOR_LOST_RINGBUF_FORK,
	[SENSOR_KLOSS_RB_EXIT] = SENSOR_LOST_RINGBUF_EXIT,
	[SENSOR_KLOSS_RB_OPEN] = SENSOR_LOST_RINGBUF_OPEN,
	[SENSOR_KLOSS_RB_NET] = SENSOR_LOST_RINGBUF_NET,
	[SENSOR_KLOSS_ARGV_CAP] = SENSOR_LOST_ARGV_CAP,
	[SENSOR_KLOSS_ARGV_READ] = SENSOR_LOST_ARGV_READ,
	[SENSOR_KLOSS_PATH_CAP] = SENSOR_LOST_PATH_CAP,
	[SENSOR_KLOSS_SOCK_TABLE] = SENSOR_LOST_SOCK_TABLE,
	[SENSOR_KLOSS_OPEN_TABLE] = SENSOR_LOST_OPEN_TABLE,
};

/* ---- libbpf messages: kept (tail) for the error text, printed only on demand ---- */
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

static void seterr(char *errbuf, size_t errlen, const char *fmt, ...)
{
	va_list ap;
	if (!errbuf || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(errbuf, errlen, fmt, ap);
	va_end(ap);
}

int64_t sensor_boot_to_wall(void)
{
	struct timespec rt, bt;
	clock_gettime(CLOCK_REALTIME, &rt);
	clock_gettime(CLOCK_BOOTTIME, &bt);
	return ((int64_t)rt.tv_sec - bt.tv_sec) * 1000000000ll + (rt.tv_nsec - bt.tv_nsec);
}

/* ---- watched paths ---- */

static uint32_t fnv(const char *s, size_t n)
{
	uint32_t h = SENSOR_FNV_BASIS;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * SENSOR_FNV_PRIME;
	return h;
}

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
		seterr(errbuf, errlen, "watch %s: cannot open %s: %s", path, dir, strerror(errno));
		goto out;
	}
	if (__atomic_load_n(&reg->seq, __ATOMIC_SEQ_CST) == seq0) {
		seterr(errbuf, errlen, "watch %s: the kernel program did not see the registration open", path);
		goto out;
	}
	struct sensor_dir_key dk = { .dev = reg->dev, .ino = reg->ino };
	struct sensor_name_key nk = { .dev = reg->dev, .ino = reg->ino,
				      .hash = fnv(slash + 1, strlen(slash + 1)) };
	if (bpf_map__update_elem(sk->maps.watch_dirs, &dk, sizeof(dk), &one, sizeof(one), BPF_ANY) < 0 ||
	    bpf_map__update_elem(sk->maps.watch_names, &nk, sizeof(nk), &widx, sizeof(widx), BPF_ANY) < 0) {
		ret = -errno;
		seterr(errbuf, errlen, "watch %s: map update: %s", path, strerror(errno));
		goto out;
	}
	ret = 0;
out:
	__atomic_store_n(&reg->armed, 0, __ATOMIC_SEQ_CST);
	if (fd >= 0)
		close(fd);
	return ret;
}

/* ---- privileges ---- */

static int drop_caps(void)
{
	struct __user_cap_header_struct hdr = { .version = _LINUX_CAPABILITY_VERSION_3, .pid = 0 };
	struct __user_cap_data_struct data[2];
	memset(data, 0, sizeof(data));
	uint64_t keep = (1ull << CAP_SYS_PTRACE) | (1ull << CAP_DAC_READ_SEARCH);
	if (syscall(SYS_capget, &hdr, data) < 0)
		return -errno;
	uint64_t have = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
	keep &= have;
	if (have & (1ull << CAP_SETPCAP)) {
		/* needs CAP_SETPCAP, so before the capset below; without it (an
		 * unprivileged replay, a container that withheld it) the bounding
		 * set and securebits are someone else's to set */
		/* up to the running kernel's last capability, which may be newer than our headers */
		for (int c = 0; c < 64; c++) {
			int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
			if (in < 0)
				break;
			if (in == 1 && !(keep & (1ull << c)) && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
				return -errno;
		}
		int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
		int want = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP |
			   SECBIT_NO_SETUID_FIXUP_LOCKED;
		if (bits < 0 || ((bits & want) != want && prctl(PR_SET_SECUREBITS, bits | want, 0, 0, 0) < 0))
			return -errno;
	}
	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return -errno;
	data[0].effective = data[0].permitted = (uint32_t)keep;
	data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
	data[0].inheritable = data[1].inheritable = 0;
	if (syscall(SYS_capset, &hdr, data) < 0)
		return -errno;
	return 0;
}

/* ---- eBPF mode ---- */

static int ensure_tracefs(void)
{
	if (access("/sys/kernel/tracing/events", F_OK) == 0 ||
	    access("/sys/kernel/debug/tracing/events", F_OK) == 0)
		return 0;
	/* syscall tracepoints need tracefs for their ids; mount it where the kernel expects it */
	if (mount("nodev", "/sys/kernel/tracing", "tracefs", 0, NULL) < 0)
		return -errno;
	return 0;
}

static int on_record(void *ctx, void *data, size_t size);
static int64_t wall_now_ns(void);

static int ebpf_open(struct sensor *s, const struct sensor_opts *o, char *errbuf, size_t errlen)
{
	struct sensor_bpf *sk = NULL;
	size_t rbsz = o->ringbuf_bytes ? o->ringbuf_bytes : DEFAULT_RINGBUF;
	size_t p = 4096;
	int err;

	libbpf_set_print(libbpf_print);
	libbpf_log_len = 0;
	libbpf_log[0] = 0;
	if (access("/sys/kernel/btf/vmlinux", R_OK) < 0) {
		seterr(errbuf, errlen, "no kernel BTF (/sys/kernel/btf/vmlinux)");
		err = -ENOENT;
		goto fail;
	}
	if ((err = ensure_tracefs()) < 0) {
		seterr(errbuf, errlen, "tracefs not mounted and cannot be: %s", strerror(-err));
		goto fail;
	}
	while (p < rbsz && p < (1u << 30))
		p <<= 1;
	sk = sensor_bpf__open();
	if (!sk) {
		err = -errno;
		seterr(errbuf, errlen, "bpf open: %s", strerror(errno));
		goto fail;
	}
	sk->rodata->self_tgid = (uint32_t)getpid();
	sk->rodata->nwatch = (uint32_t)s->nwatch;
	sk->rodata->wakeup_bytes = p / 16;
	bpf_map__set_max_entries(sk->maps.rb, (uint32_t)p);
	if (s->nwatch == 0) {
		/* no watched paths: the open hooks would only cost */
		struct bpf_program *prog;
		bpf_object__for_each_program(prog, sk->obj) {
			const char *sec = bpf_program__section_name(prog);
			if (strstr(sec, "open") || strstr(sec, "creat"))
				bpf_program__set_autoload(prog, false);
		}
	}
	if ((err = sensor_bpf__load(sk)) < 0) {
		seterr(errbuf, errlen, "bpf load: %s; %s", strerror(-err), libbpf_log);
		goto fail;
	}
	if ((err = sensor_bpf__attach(sk)) < 0) {
		seterr(errbuf, errlen, "bpf attach: %s; %s", strerror(-err), libbpf_log);
		goto fail;
	}
	s->skel = sk;
	for (size_t i = 0; i < s->nwatch; i++)
		if ((err = watch_register(s, i, errbuf, errlen)) < 0) {
			s->skel = NULL;
			goto fail;
		}
	s->rb = ring_buffer__new(bpf_map__fd(sk->maps.rb), on_record, s, NULL);
	if (!s->rb) {
		err = -errno;
		s->skel = NULL;
		seterr(errbuf, errlen, "ring buffer: %s", strerror(errno));
		goto fail;
	}
	snprintf(s->mode, sizeof(s->mode),
		 "ebpf (tracepoints, ring buffer %zu KiB); cannot see: UDP and raw sockets, "
		 "opens through io_uring or open_by_handle_at, failed opens, reads/writes after the open, "
		 "connections and processes that began before the sensor (those are read from /proc on first use)",
		 p >> 10);
	return 0;
fail:
	sensor_bpf__destroy(sk);
	return err;
}

/* ---- decoding ---- */

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
		return NULL;   /* pid reused since */
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

static void hdr_to_event(struct sensor *s, const struct sensor_rec_hdr *h, struct sensor_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	ev->ts_ns = h->ts_ns + (uint64_t)s->boot_to_wall_ns;
	ev->pid = h->pid;
	ev->tgid = h->tgid;
	ev->start_time_ns = h->start_ns;
	ev->uid = h->uid;
	ev->loginuid = ev->sessionid = (uint32_t)-1;
	memcpy(ev->comm, h->comm, sizeof(ev->comm));
	ev->comm[sizeof(ev->comm) - 1] = 0;
	ev->watch_index = -1;
	ev->fd = -1;
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
	if (size < sizeof(*r) || r->len > SENSOR_ARGV_CHUNK || sizeof(*r) + r->len > size ||
	    r->part == 0 || r->part >= SENSOR_ARGV_MAX_PARTS)
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
	    sizeof(*e) + (size_t)e->exe_len + e->cwd_len + e->argv_len > size)
		return -1;
	hdr_to_event(s, &e->h, &ev);
	ev.kind = SENSOR_EXEC;
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

	struct proc_info *pp = proc_lookup(s, ev.ppid, ev.parent_start_time_ns);
	struct proc_info *pi = proctab_put(s->pt, ev.tgid, ev.start_time_ns);   /* may evict pp */
	if (pi) {
		pi->ppid = ev.ppid;
		pi->pstart_ns = ev.parent_start_time_ns;
		pi->uid = ev.uid;
		if (ev.image)
			proctab_set(&pi->image, ev.image, strlen(ev.image));
		proctab_set(&pi->cmdline, ev.cmdline, strlen(ev.cmdline));
	}
	pp = proctab_get(s->pt, ev.ppid, ev.parent_start_time_ns);
	if (pp) {
		ev.parent_image = pp->image;
		ev.parent_cmdline = pp->cmdline;
	}
	sensor_deliver(s, &ev);
	return 0;
}

static int dec_fork(struct sensor *s, const struct sensor_rec_fork *r, size_t size)
{
	struct sensor_event ev;
	if (size < sizeof(*r))
		return -1;
	hdr_to_event(s, &r->h, &ev);
	ev.kind = SENSOR_FORK;
	ev.ppid = r->ppid;
	ev.parent_start_time_ns = r->pstart_ns;
	struct proc_info *pp = proc_lookup(s, r->ppid, r->pstart_ns);
	struct proc_info *pi = proctab_put(s->pt, ev.tgid, ev.start_time_ns);
	pp = proctab_get(s->pt, r->ppid, r->pstart_ns);   /* the put may have evicted it */
	if (pi) {
		pi->ppid = ev.ppid;
		pi->pstart_ns = ev.parent_start_time_ns;
		pi->uid = ev.uid;
		if (pp && pp->image)
			proctab_set(&pi->image, pp->image, strlen(pp->image));
		if (pp && pp->cmdline)
			proctab_set(&pi->cmdline, pp->cmdline, strlen(pp->cmdline));
		ev.image = pi->image;
		ev.cmdline = pi->cmdline;
	}
	if (pp) {
		ev.parent_image = pp->image;
		ev.parent_cmdline = pp->cmdline;
	}
	return sensor_deliver(s, &ev), 0;
}

static int dec_exit(struct sensor *s, const struct sensor_rec_exit *r, size_t size)
{
	struct sensor_event ev;
	if (size < sizeof(*r))
		return -1;
	hdr_to_event(s, &r->h, &ev);
	ev.kind = SENSOR_EXIT;
	ev.exit_code = r->exit_code;
	struct proc_info *pi = proctab_get(s->pt, ev.tgid, ev.start_time_ns);
	if (pi) {
		ev.image = pi->image;
		ev.cmdline = pi->cmdline;
		ev.ppid = pi->ppid;
		ev.parent_start_time_ns = pi->pstart_ns;
	}
	sensor_deliver(s, &ev);
	if (pi)
		proctab_exited(s->pt, pi);
	return 0;
}

static int dec_open(struct sensor *s, const struct sensor_rec_open *r, size_t size)
{
	struct sensor_event ev;
	if (size < sizeof(*r) || r->path_len >= SENSOR_PATH_MAX || sizeof(*r) + r->path_len > size ||
	    r->watch >= s->nwatch)
		return -1;
	hdr_to_event(s, &r->h, &ev);
	ev.kind = SENSOR_OPEN;
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
	hdr_to_event(s, &r->h, &ev);
	switch (r->h.type) {
	case SENSOR_REC_CONNECT: ev.kind = SENSOR_CONNECT; break;
	case SENSOR_REC_ACCEPT: ev.kind = SENSOR_ACCEPT; break;
	case SENSOR_REC_CLOSE: ev.kind = SENSOR_CLOSE_STATS; break;
	default: ev.kind = SENSOR_SOCK_STDIO; break;
	}
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
	return sensor_deliver(s, &ev), 0;
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

static int on_record(void *ctx, void *data, size_t size)
{
	return sensor_on_record(ctx, data, size);
}

/* ---- public ---- */

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
	if (!s->argv_buf ||!s->pt || !s->pbuf || !s->image_buf || !s->cwd_buf || !s->lookup_buf)
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
	s->boot_to_wall_ns = sensor_boot_to_wall();
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
		err = ebpf_open(s, opts, ebpf_err, sizeof(ebpf_err));
	if (err < 0) {
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
	if (!opts->keep_privileges && (err = drop_caps()) < 0) {
		seterr(errbuf, errlen, "dropping capabilities: %s", strerror(-err));
		goto out;
	}
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

int sensor_poll(struct sensor *s, int timeout_ms,
		int (*cb)(void *ctx, const struct sensor_event *ev), void *ctx)
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
	s->boot_to_wall_ns = sensor_boot_to_wall();
	if (s->cap)
		capture_frame(s, CAP_POLL, &s->boot_to_wall_ns, sizeof(s->boot_to_wall_ns), NULL, 0, NULL, 0);
	if (s->fallback) {
		r = fallback_poll(s, timeout_ms);
	} else {
		/* the kernel wakes us only when 1/16 of the ring is queued, so look
		 * every SENSOR_POLL_SLICE_MS until something arrives or time is up */
		struct timespec t0, t1;
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
	}
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

static int64_t wall_now_ns(void)
{
	struct timespec t;
	clock_gettime(CLOCK_REALTIME, &t);
	return (int64_t)t.tv_sec * 1000000000ll + t.tv_nsec;
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
	if (s->skel) {
		int ncpu = libbpf_num_possible_cpus();
		uint64_t *vals = ncpu > 0 ? calloc((size_t)ncpu, sizeof(uint64_t)) : NULL;
		for (uint32_t k = 0; vals && k < SENSOR_KLOSS_MAX_; k++) {
			if (bpf_map__lookup_elem(s->skel->maps.kloss, &k, sizeof(k), vals,
						 sizeof(uint64_t) * (size_t)ncpu, 0) < 0)
				continue;
			for (int c = 0; c < ncpu; c++)
				st->lost[kloss_map[k]] += vals[c];
		}
		free(vals);
		struct bpf_program *prog;
		bpf_object__for_each_program(prog, s->skel->obj) {
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
	ring_buffer__free(s->rb);
	sensor_bpf__destroy(s->skel);
	fallback_close(s);
	capture_close(s);
	replay_close(s);
	for (size_t i = 0; i < s->nwatch; i++)
		free(s->watch[i]);
	free(s->watch);
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
