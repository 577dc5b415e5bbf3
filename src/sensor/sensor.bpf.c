// SPDX-License-Identifier: GPL-2.0
/* stoat's kernel sensor: the programs that watch exec/fork/exit, opens of
 * watched paths and TCP connections, and put records on one ring buffer.
 *
 * Why it works this way:
 * - Only tracepoints (tp_btf, tp/syscalls): fentry/kprobes/LSM may be locked
 *   down, tracepoints are the stable, cheap hooks that load everywhere.
 * - CO-RE (BPF_CORE_READ against vmlinux.h) so one object runs on any kernel
 *   with BTF.
 * - Records vary in size: exec builds its record in a per-CPU scratch buffer
 *   and sends only the bytes used (bpf_ringbuf_output), so a storm of short
 *   execs costs a few hundred bytes each, not the 12 KiB worst case.
 * - A long argv goes in continuation records sent BEFORE the exec record that
 *   counts them; a hard cap truncates only with a flag and a counter.
 * - Every drop has a counter (kloss), nothing is lost silently. The counters
 *   are one mmapable array, added to atomically (drops are rare), so user
 *   space reads them from memory: after it drops its privileges, older
 *   kernels refuse it the bpf() calls a per-CPU map's lookup would need.
 * - Watched files are matched by inode, not by string: user space registers
 *   each watched path as (parent directory inode, hash of the last name), and
 *   an open matches when, walking up from the opened dentry, some ancestor is a
 *   registered directory and the child we came from carries a registered name.
 *   The walk reads a few words per level and does one hash lookup per level,
 *   so the string path is built only for the rare opens that match. Inode keys
 *   also survive relative paths, symlinks, bind mounts and chdir games.
 * - The inode key is taken from the kernel itself (the sensor opens each
 *   watched directory with O_PATH once; the exit hook reports the key), so user
 *   space never guesses how a filesystem encodes st_dev.
 * - TCP: inet_sock_set_state gives every transition; the owning process is
 *   only known in process context (connect: CLOSE->SYN_SENT; accept: accept()
 *   return), so an owner table keyed by the socket carries it to the
 *   softirq-time transitions (ESTABLISHED, CLOSE).
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_core_read.h>
#include <bpf/bpf_tracing.h>
#include "sensor_abi.h"

char LICENSE[] SEC("license") = "GPL";

#define AF_INET          2
#define AF_INET6         10
#define S_IFMT           00170000
#define S_IFSOCK         0140000
#define S_IFIFO          0010000
#define S_IFCHR          0020000
#define PTY_SLAVE_MAJOR  136 /* UNIX98 pty slaves: majors 136..143 */
#define O_RDWR           02
#define AT_FDCWD_        -100
#define O_WRONLY         01
#define O_CREAT          0100
#define O_TRUNC          01000
#define PIDTYPE_SID_     3
#define TCP_ESTABLISHED_ 1
#define TCP_SYN_SENT_    2
#define TCP_CLOSE_       7
#define IPPROTO_TCP_     6

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 8 << 20); /* resized by user space before load */
} rb SEC(".maps");

const volatile __u32 self_tgid = 0;
const volatile __u32 nwatch = 0;
const volatile __u32 all_opens = 0; /* a watch that reports reads too (--watch-path) exists */
const volatile __u64 wakeup_bytes = 256 * 1024;

/* Wake the reader only once enough is queued: a wakeup per record costs a
 * context switch per event, which in an exec storm is most of the sensor's
 * overhead. The reader polls on a short period anyway (sensor.c), so a quiet
 * system still sees its events within that period. */
static __always_inline __u64 rb_flags(void)
{
    return bpf_ringbuf_query(&rb, BPF_RB_AVAIL_DATA) >= wakeup_bytes ? BPF_RB_FORCE_WAKEUP : BPF_RB_NO_WAKEUP;
}

struct sensor_reg reg = {};

struct {
    __uint(type, BPF_MAP_TYPE_ARRAY);
    __uint(map_flags, BPF_F_MMAPABLE);
    __uint(max_entries, SENSOR_KLOSS_MAX_);
    __type(key, __u32);
    __type(value, __u64);
} kloss SEC(".maps");

struct exec_scratch {
    char buf[sizeof(struct sensor_rec_exec) + SENSOR_DATA_MAX];
};
struct path_scratch {
    char buf[SENSOR_PATH_MAX + 256];
};

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct exec_scratch);
} escratch SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct path_scratch);
} pscratch SEC(".maps");

/* Watched directories (any watched path's parent) and (dir, name hash) pairs. */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct sensor_dir_key);
    __type(value, __u32);
} watch_dirs SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 4096);
    __type(key, struct sensor_name_key);
    __type(value, __u32);
} watch_names SEC(".maps");

/* the last names of all watches, by hash: path operations (rename, unlink,
 * chmod...) name a file by string, and a path none of whose components is
 * such a name, from a directory outside every watch, cannot be watched */
struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 1024);
    __type(key, struct sensor_leaf_key);
    __type(value, __u32);
} watch_leaves SEC(".maps");

/* open flags seen at syscall enter, by thread; LRU so a missed exit never fills it */
struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 16384);
    __type(key, __u64);
    __type(value, __u32);
} open_flags SEC(".maps");

struct sock_owner {
    __u32 pid, tgid, uid;
    __u8 initiated;
    __u8 have_addrs;
    __u8 pad[2];
    __u64 start_ns;
    char comm[SENSOR_COMM_LEN];
    struct sensor_sa src, dst; /* as established: at CLOSE the kernel may have released the port */
};

struct {
    __uint(type, BPF_MAP_TYPE_HASH);
    __uint(max_entries, 65536);
    __type(key, __u64);
    __type(value, struct sock_owner);
} sock_owners SEC(".maps");

static __always_inline void loss(__u32 cause)
{
    __u64 *v = bpf_map_lookup_elem(&kloss, &cause);
    if (v)
        __sync_fetch_and_add(v, 1);
}

static __always_inline void fill_hdr(struct sensor_rec_hdr *h, __u32 type, __u32 size, struct task_struct *t)
{
    __u64 id = bpf_get_current_pid_tgid();
    h->type = type;
    h->size = size;
    h->ts_ns = bpf_ktime_get_boot_ns();
    h->pid = (__u32)id;
    h->tgid = id >> 32;
    h->start_ns = BPF_CORE_READ(t, group_leader, start_boottime);
    h->uid = (__u32)bpf_get_current_uid_gid();
    h->flags = 0;
    bpf_get_current_comm(h->comm, sizeof(h->comm));
}

/* One step of the path walk, as a bpf_loop callback: the verifier checks it
 * once instead of once per unrolled iteration, which is what keeps two path
 * walks and the argv loop within the verifier's budget. */
struct pb_ctx {
    struct dentry *d;
    struct vfsmount *vm;
    struct mount *m;
    int pos;
    __u32 done;
    __u32 trunc;
};

static long pb_step(__u32 i, void *arg)
{
    struct pb_ctx *c = arg;
    __u32 zero = 0;
    struct path_scratch *ps = bpf_map_lookup_elem(&pscratch, &zero);
    if (!ps)
        return 1;
    struct dentry *d = c->d;
    struct vfsmount *vm = c->vm;
    struct mount *m = c->m;
    struct dentry *root = BPF_CORE_READ(vm, mnt_root);
    struct dentry *parent = BPF_CORE_READ(d, d_parent);
    if (d == root || d == parent) {
        struct mount *mp = BPF_CORE_READ(m, mnt_parent);
        if (d != root || m == mp) {
            c->done = 1;
            return 1;
        }
        c->d = BPF_CORE_READ(m, mnt_mountpoint);
        c->m = mp;
        c->vm = __builtin_preserve_access_index(&mp->mnt);
        return 0;
    }
    struct qstr q = BPF_CORE_READ(d, d_name);
    __u32 len = q.len & 0xff;
    int pos = c->pos;
    if (pos - (int)len - 1 < 1) {
        c->trunc = 1;
        c->done = 1;
        return 1;
    }
    pos -= len;
    bpf_probe_read_kernel(ps->buf + (pos & (SENSOR_PATH_MAX - 1)), len & 0xff, q.name);
    pos -= 1;
    ps->buf[pos & (SENSOR_PATH_MAX - 1)] = '/';
    c->pos = pos;
    c->d = parent;
    return 0;
}

/* Builds the path of (d, vm) backwards into the per-CPU path scratch; returns
 * the start offset: the path is buf[start .. SENSOR_PATH_MAX). Sets *trunc
 * when a cap was hit. */
static __always_inline __u32 path_build(struct dentry *d, struct vfsmount *vm, char *pb, __u32 *trunc)
{
    struct pb_ctx c = {
        .d = d,
        .vm = vm,
        .m = container_of(vm, struct mount, mnt),
        .pos = SENSOR_PATH_MAX,
    };
    bpf_loop(SENSOR_PATH_DEPTH, pb_step, &c, 0);
    if (!c.done || c.trunc)
        *trunc = 1;
    int pos = c.pos;
    if (pos >= (int)SENSOR_PATH_MAX || pos < 1) {
        pos = SENSOR_PATH_MAX - 1;
        pb[SENSOR_PATH_MAX - 1] = '/';
    }
    return (__u32)pos & (SENSOR_PATH_MAX - 1);
}

/* Copies the path of (d, vm) to dst (room for SENSOR_PATH_MAX-1 bytes). */
static __always_inline __u32 path_copy(struct dentry *d, struct vfsmount *vm, char *dst, __u32 *trunc)
{
    __u32 zero = 0;
    struct path_scratch *ps = bpf_map_lookup_elem(&pscratch, &zero);
    if (!ps || !d || !vm)
        return 0;
    __u32 start = path_build(d, vm, ps->buf, trunc);
    ps = bpf_map_lookup_elem(&pscratch, &zero); /* re-derive after the loop */
    if (!ps)
        return 0;
    __u32 len = (SENSOR_PATH_MAX - start) & (SENSOR_PATH_MAX - 1);
    bpf_probe_read_kernel(dst, len, ps->buf + start);
    return len;
}

static __always_inline struct file *fd_file(struct task_struct *t, __u32 fd)
{
    struct files_struct *files = BPF_CORE_READ(t, files);
    struct fdtable *fdt = BPF_CORE_READ(files, fdt);
    struct file **arr;
    struct file *f = NULL;
    if (!fdt || fd >= BPF_CORE_READ(fdt, max_fds))
        return NULL;
    arr = BPF_CORE_READ(fdt, fd);
    bpf_probe_read_kernel(&f, sizeof(f), &arr[fd]);
    return f;
}

static __always_inline void sk_addrs(struct sock *sk, struct sensor_sa *src, struct sensor_sa *dst)
{
    __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
    src->family = dst->family = fam;
    src->port = BPF_CORE_READ(sk, __sk_common.skc_num);
    dst->port = __builtin_bswap16(BPF_CORE_READ(sk, __sk_common.skc_dport));
    if (fam == AF_INET) {
        __u32 s4 = BPF_CORE_READ(sk, __sk_common.skc_rcv_saddr);
        __u32 d4 = BPF_CORE_READ(sk, __sk_common.skc_daddr);
        __builtin_memcpy(src->addr, &s4, 4);
        __builtin_memcpy(dst->addr, &d4, 4);
    } else {
        bpf_core_read(src->addr, 16, &sk->__sk_common.skc_v6_rcv_saddr);
        bpf_core_read(dst->addr, 16, &sk->__sk_common.skc_v6_daddr);
    }
}

/* TCP's counters count sequence space: the SYN of an active open and each
 * FIN that was acknowledged or received take one unit. Payload bytes are what
 * an analyst means by "sent", so the control units are taken off: the SYN
 * when we initiated, our FIN when it was sent (only the FIN_WAIT1/FIN_WAIT2/
 * CLOSING/LAST_ACK states follow it) and acknowledged (snd_una == write_seq),
 * the peer's FIN when it was received (SOCK_DONE). */
#define SOCK_DONE_BIT 1
static __always_inline void payload_bytes(struct sock *sk, struct sock_owner *o, int oldstate, __u64 *sent,
                                          __u64 *recvd)
{
    struct tcp_sock *tp = (struct tcp_sock *)sk;
    __u64 acked = BPF_CORE_READ(tp, bytes_acked);
    __u64 rcvd = BPF_CORE_READ(tp, bytes_received);
    if (o->initiated && acked > 0)
        acked--;
    if ((oldstate == 4 || oldstate == 5 || oldstate == 11 || oldstate == 9) && acked > 0 &&
        BPF_CORE_READ(tp, snd_una) == BPF_CORE_READ(tp, write_seq))
        acked--;
    if ((BPF_CORE_READ(sk, __sk_common.skc_flags) & (1ul << SOCK_DONE_BIT)) && rcvd > 0)
        rcvd--;
    *sent = acked;
    *recvd = rcvd;
}

static __always_inline int emit_net(__u32 type, struct sock *sk, struct sock_owner *o, __s32 fd, __u32 flags,
                                    int oldstate)
{
    struct sensor_rec_net *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
    if (!r) {
        loss(SENSOR_KLOSS_RB_NET);
        return 0;
    }
    __builtin_memset(r, 0, sizeof(*r));
    r->h.type = type;
    r->h.size = sizeof(*r);
    r->h.ts_ns = bpf_ktime_get_boot_ns();
    r->h.pid = o->pid;
    r->h.tgid = o->tgid;
    r->h.start_ns = o->start_ns;
    r->h.uid = o->uid;
    r->h.flags = flags;
    __builtin_memcpy(r->h.comm, o->comm, sizeof(r->h.comm));
    if (o->have_addrs) {
        r->src = o->src;
        r->dst = o->dst;
    } else {
        sk_addrs(sk, &r->src, &r->dst);
    }
    if (type == SENSOR_REC_CLOSE)
        payload_bytes(sk, o, oldstate, &r->bytes_acked, &r->bytes_received);
    r->sk = (__u64)sk;
    r->fd = fd;
    r->initiated = o->initiated;
    r->proto = IPPROTO_TCP_;
    bpf_ringbuf_submit(r, rb_flags());
    return 0;
}

static __always_inline void owner_current(struct sock_owner *o, struct task_struct *t, __u8 initiated)
{
    __u64 id = bpf_get_current_pid_tgid();
    o->pid = (__u32)id;
    o->tgid = id >> 32;
    o->uid = (__u32)bpf_get_current_uid_gid();
    o->initiated = initiated;
    o->start_ns = BPF_CORE_READ(t, group_leader, start_boottime);
    bpf_get_current_comm(o->comm, sizeof(o->comm));
}

/* fds 0..2: report each distinct inet socket once, with the fds it serves */
static __always_inline void stdio_sockets(struct task_struct *t)
{
    struct file *seen[3] = {};
    for (__u32 i = 0; i < 3; i++) {
        struct file *f = fd_file(t, i);
        if (!f)
            continue;
        seen[i] = f;
        if (i > 0 && seen[0] == f)
            continue;
        if (i > 1 && seen[1] == f)
            continue;
        umode_t mode = BPF_CORE_READ(f, f_inode, i_mode);
        if ((mode & S_IFMT) != S_IFSOCK)
            continue;
        struct socket *so = BPF_CORE_READ(f, private_data);
        struct sock *sk = BPF_CORE_READ(so, sk);
        if (!sk)
            continue;
        __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
        if (fam != AF_INET && fam != AF_INET6)
            continue;
        __s32 mask = 0;
        for (__u32 j = 0; j < 3; j++)
            if (j >= i && fd_file(t, j) == f)
                mask |= 1 << j;
        struct sock_owner o = {};
        owner_current(&o, t, 0);
        struct sensor_rec_net *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
        if (!r) {
            loss(SENSOR_KLOSS_RB_NET);
            continue;
        }
        __builtin_memset(r, 0, sizeof(*r));
        fill_hdr(&r->h, SENSOR_REC_SOCK_STDIO, sizeof(*r), t);
        sk_addrs(sk, &r->src, &r->dst);
        r->sk = (__u64)sk;
        r->fd = mask;
        r->proto = BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol);
        bpf_ringbuf_submit(r, rb_flags());
    }
}

/* ---- the allow-listed environment at exec ---- */

/* Variables that change what a program loads or runs (the dynamic linker,
 * shells' start-up hooks, interpreters' module paths) or hides it
 * (HISTFILE). Only these are copied; the rest of the environment (tokens,
 * keys) never leaves the kernel. */
#define ENV_NAMES 16
static const char env_names[ENV_NAMES][16] = {
    "LD_PRELOAD=", "LD_LIBRARY_PATH=", "LD_AUDIT=", "BASH_ENV=",  "ENV=",     "PROMPT_COMMAND=",
    "PYTHONPATH=", "PYTHONSTARTUP=",   "PERL5LIB=", "PERL5OPT=",  "RUBYOPT=", "NODE_OPTIONS=",
    "GCONV_PATH=", "HISTFILE=",        "LD_DEBUG=", "SHELLOPTS=",
};

struct env_ctx {
    __u64 p, end;
    __u32 base;  /* where the environment goes in the exec scratch */
    __u32 used;  /* bytes written there */
    __u32 cont;  /* the last read ended inside a variable: the next one is its tail */
    __u32 trunc; /* something was cut */
};

static __always_inline int env_wanted(const char *b)
{
    /* first letters of the names above; most variables (PATH, HOME, LANG, XDG_...) stop here or at
     * the second byte */
    char c = b[0];
    if (c != 'L' && c != 'B' && c != 'E' && c != 'P' && c != 'R' && c != 'N' && c != 'G' && c != 'H' && c != 'S')
        return 0;
    for (int i = 0; i < ENV_NAMES; i++) {
        int ok = 1;
        for (int j = 0; j < 16; j++) {
            char w = env_names[i][j];
            if (!w)
                break;
            if (b[j] != w) {
                ok = 0;
                break;
            }
        }
        if (ok)
            return 1;
    }
    return 0;
}

static long env_step(__u32 i, void *arg)
{
    struct env_ctx *c = arg;
    __u32 zero = 0;
    if (c->p >= c->end)
        return 1;
    struct path_scratch *ps = bpf_map_lookup_elem(&pscratch, &zero);
    struct exec_scratch *es = bpf_map_lookup_elem(&escratch, &zero);
    if (!ps || !es)
        return 1;
    long n = bpf_probe_read_user_str(ps->buf, SENSOR_ENV_VAR_MAX, (void *)c->p);
    if (n <= 0)
        return 1;
    int whole = n < SENSOR_ENV_VAR_MAX; /* the NUL was within the read */
    if (!c->cont && env_wanted(ps->buf)) {
        __u32 len = n & (SENSOR_ENV_VAR_MAX - 1);
        if (!whole) {
            len = SENSOR_ENV_VAR_MAX - 1; /* cut: the copy ends with the read's NUL */
            c->trunc = 1;
        }
        if (c->used + SENSOR_ENV_VAR_MAX > SENSOR_ENV_MAX) {
            c->trunc = 1;
        } else {
            __u32 pos = c->base + c->used;
            if (pos > sizeof(es->buf) - SENSOR_ENV_VAR_MAX)
                return 1;
            bpf_probe_read_kernel(es->buf + pos, len & (SENSOR_ENV_VAR_MAX - 1), ps->buf);
            c->used += len;
        }
    }
    c->cont = !whole;
    c->p += whole ? (__u64)n : (__u64)n - 1;
    return 0;
}

/* the inode of the pipe on fd, 0 if it is not one */
static __always_inline __u64 fd_pipe(struct task_struct *t, __u32 fd, __u32 *dev)
{
    struct file *f = fd_file(t, fd);
    if (!f)
        return 0;
    struct inode *in = BPF_CORE_READ(f, f_inode);
    if ((BPF_CORE_READ(in, i_mode) & S_IFMT) != S_IFIFO)
        return 0;
    *dev = BPF_CORE_READ(in, i_sb, s_dev);
    return BPF_CORE_READ(in, i_ino);
}

/* SENSOR_RF_PTY_FD0 << fd for the fds 0..2 on the pseudo-terminal of fd 0,
 * when the parent's fd 0 is not that terminal: the terminal was made for this
 * program by its parent (which holds the master end), not inherited from a
 * login. Most execs stop at the first mode test. */
static __always_inline __u32 stdio_new_pty(struct task_struct *t, struct task_struct *parent)
{
    struct file *f = fd_file(t, 0);
    if (!f)
        return 0;
    struct inode *in = BPF_CORE_READ(f, f_inode);
    if ((BPF_CORE_READ(in, i_mode) & S_IFMT) != S_IFCHR)
        return 0;
    __u32 rdev = BPF_CORE_READ(in, i_rdev);
    __u32 major = rdev >> 20; /* the kernel's dev_t: 12 bits of major above 20 of minor */
    if (major < PTY_SLAVE_MAJOR || major > PTY_SLAVE_MAJOR + 7)
        return 0;
    struct file *pf = fd_file(parent, 0);
    if (pf && BPF_CORE_READ(pf, f_inode, i_rdev) == rdev)
        return 0;
    __u32 flags = SENSOR_RF_PTY_FD0;
    for (__u32 i = 1; i < 3; i++) {
        struct file *o = fd_file(t, i);
        if (o && BPF_CORE_READ(o, f_inode, i_rdev) == rdev)
            flags |= SENSOR_RF_PTY_FD0 << i;
    }
    return flags;
}

struct argv_ctx {
    struct task_struct *t;
    __u64 as;
    __u64 total;
};

/* bpf_loop callback: sends argv part i+1 (the exec record carries part 0) */
static long argv_part(__u32 i, void *arg)
{
    struct argv_ctx *c = arg;
    __u32 part = i + 1;
    if (part >= SENSOR_ARGV_MAX_PARTS)
        return 1;
    struct sensor_rec_argv_part *ap = bpf_ringbuf_reserve(&rb, sizeof(*ap) + SENSOR_ARGV_CHUNK, 0);
    if (!ap) {
        loss(SENSOR_KLOSS_RB_ARGV_PART);
        return 0;
    }
    __u64 pstart = (__u64)part * SENSOR_ARGV_CHUNK;
    __u32 plen = c->total - pstart > SENSOR_ARGV_CHUNK ? SENSOR_ARGV_CHUNK : c->total - pstart;
    fill_hdr(&ap->h, SENSOR_REC_ARGV_PART, sizeof(*ap) + plen, c->t);
    ap->part = part;
    ap->len = plen;
    /* a whole chunk first (the common case); the exact tail if that crosses the end of the mapping */
    if (bpf_probe_read_user((char *)(ap + 1), SENSOR_ARGV_CHUNK, (void *)(c->as + pstart)) < 0 &&
        bpf_probe_read_user((char *)(ap + 1), plen & (SENSOR_ARGV_CHUNK - 1), (void *)(c->as + pstart)) < 0)
        ap->h.flags |= SENSOR_RF_ARGV_FAULT;
    bpf_ringbuf_submit(ap, rb_flags());
    return 0;
}

SEC("tp_btf/sched_process_exec")
int BPF_PROG(on_exec, struct task_struct *p, pid_t old_pid, struct linux_binprm *bprm)
{
    __u32 zero = 0, trunc = 0;
    struct exec_scratch *es = bpf_map_lookup_elem(&escratch, &zero);
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    if (!es)
        return 0;
    struct sensor_rec_exec *e = (struct sensor_rec_exec *)es->buf;
    char *data = es->buf + sizeof(*e);

    __builtin_memset(e, 0, sizeof(*e));
    fill_hdr(&e->h, SENSOR_REC_EXEC, 0, t);
    struct task_struct *parent = BPF_CORE_READ(t, real_parent);
    e->ppid = BPF_CORE_READ(parent, tgid);
    e->pstart_ns = BPF_CORE_READ(parent, group_leader, start_boottime);
    e->gid = BPF_CORE_READ(t, real_cred, gid.val);
    e->euid = BPF_CORE_READ(t, cred, euid.val);
    e->egid = BPF_CORE_READ(t, cred, egid.val);
    if (bpf_core_field_exists(t->loginuid)) {
        e->loginuid = BPF_CORE_READ(t, loginuid.val);
        e->sessionid = BPF_CORE_READ(t, sessionid);
    } else {
        e->loginuid = (__u32)-1;
        e->sessionid = (__u32)-1;
    }
    struct pid *sidp = BPF_CORE_READ(t, signal, pids[PIDTYPE_SID_]);
    if (sidp)
        e->sid = BPF_CORE_READ(sidp, numbers[0].nr);
    struct tty_struct *tty = BPF_CORE_READ(t, signal, tty);
    if (tty)
        bpf_probe_read_kernel_str(e->tty, sizeof(e->tty), &tty->name);
    e->cgroup_id = bpf_get_current_cgroup_id();

    /* exe (like /proc/pid/exe) and cwd */
    struct mm_struct *mm = BPF_CORE_READ(t, mm);
    struct file *exe = BPF_CORE_READ(mm, exe_file);
    __u32 off = 0;
    if (exe) {
        trunc = 0;
        off = path_copy(BPF_CORE_READ(exe, f_path.dentry), BPF_CORE_READ(exe, f_path.mnt), data, &trunc);
        if (trunc)
            e->h.flags |= SENSOR_RF_EXE_TRUNC;
    }
    e->exe_len = off;
    off &= SENSOR_PATH_MAX - 1;
    trunc = 0;
    struct fs_struct *fs = BPF_CORE_READ(t, fs);
    __u32 clen = path_copy(BPF_CORE_READ(fs, pwd.dentry), BPF_CORE_READ(fs, pwd.mnt), data + off, &trunc);
    if (trunc)
        e->h.flags |= SENSOR_RF_CWD_TRUNC;
    e->cwd_len = clen;
    off = (off + clen) & (2 * SENSOR_PATH_MAX - 1);

    /* argv */
    __u64 as = BPF_CORE_READ(mm, arg_start), ae = BPF_CORE_READ(mm, arg_end);
    __u64 total = ae > as ? ae - as : 0;
    if (total > 0xffffffffull)
        total = 0xffffffffull;
    e->argv_total = total;
    if (total > (__u64)SENSOR_ARGV_CHUNK * SENSOR_ARGV_MAX_PARTS) {
        total = (__u64)SENSOR_ARGV_CHUNK * SENSOR_ARGV_MAX_PARTS;
        e->h.flags |= SENSOR_RF_ARGV_TRUNC;
        loss(SENSOR_KLOSS_ARGV_CAP);
    }
    __u32 nparts = (total + SENSOR_ARGV_CHUNK - 1) / SENSOR_ARGV_CHUNK;
    if (nparts == 0)
        nparts = 1;
    e->nparts = nparts;
    if (nparts > 1) {
        struct argv_ctx ac = {.t = t, .as = as, .total = total};
        bpf_loop(nparts - 1, argv_part, &ac, 0);
    }
    __u32 alen = total > SENSOR_ARGV_CHUNK ? SENSOR_ARGV_CHUNK : total;
    if (alen > 0 && bpf_probe_read_user(data + off, alen & (2 * SENSOR_ARGV_CHUNK - 1), (void *)as) < 0) {
        e->h.flags |= SENSOR_RF_ARGV_FAULT;
        loss(SENSOR_KLOSS_ARGV_READ);
    }
    e->argv_len = alen;
    /* the allow-listed environment, after argv */
    struct env_ctx ec = {.p = BPF_CORE_READ(mm, env_start),
                         .end = BPF_CORE_READ(mm, env_end),
                         .base = sizeof(*e) + ((off + alen) & (4 * SENSOR_PATH_MAX - 1))};
    bpf_loop(SENSOR_ENV_SCAN, env_step, &ec, 0);
    if (ec.p < ec.end) {
        ec.trunc = 1;
        loss(SENSOR_KLOSS_ENV_SCAN);
    }
    es = bpf_map_lookup_elem(&escratch, &zero); /* re-derive after the loop */
    if (!es)
        return 0;
    e = (struct sensor_rec_exec *)es->buf;
    e->env_len = ec.used;
    if (ec.trunc)
        e->h.flags |= SENSOR_RF_ENV_TRUNC;
    __u32 pdev = 0;
    e->stdin_pipe = fd_pipe(t, 0, &pdev);
    e->stdout_pipe = fd_pipe(t, 1, &pdev);
    e->pipe_dev = pdev;
    e->h.flags |= stdio_new_pty(t, parent);
    /* each part masked to its range, so the verifier sees the sum fits the scratch */
    __u32 size = (__u32)sizeof(*e) + (off & (2 * SENSOR_PATH_MAX - 1)) + (alen & (2 * SENSOR_ARGV_CHUNK - 1)) +
                 (ec.used & (2 * SENSOR_ENV_MAX - 1));
    e->h.size = size;
    barrier_var(size); /* one 32-bit value, clamped, and that one passed on */
    if (size > sizeof(es->buf))
        size = sizeof(es->buf);
    barrier_var(size);
    if (bpf_ringbuf_output(&rb, es->buf, size, rb_flags()) < 0)
        loss(SENSOR_KLOSS_RB_EXEC);

    stdio_sockets(t);
    return 0;
}

SEC("tp_btf/sched_process_fork")
int BPF_PROG(on_fork, struct task_struct *parent, struct task_struct *child)
{
    if (BPF_CORE_READ(child, pid) != BPF_CORE_READ(child, tgid))
        return 0; /* a thread, not a process */
    struct sensor_rec_fork *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
    if (!r) {
        loss(SENSOR_KLOSS_RB_FORK);
        return 0;
    }
    __builtin_memset(r, 0, sizeof(*r));
    r->h.type = SENSOR_REC_FORK;
    r->h.size = sizeof(*r);
    r->h.ts_ns = bpf_ktime_get_boot_ns();
    r->h.pid = BPF_CORE_READ(child, pid);
    r->h.tgid = BPF_CORE_READ(child, tgid);
    r->h.start_ns = BPF_CORE_READ(child, start_boottime);
    r->h.uid = BPF_CORE_READ(child, real_cred, uid.val);
    BPF_CORE_READ_STR_INTO(&r->h.comm, child, comm);
    struct task_struct *rp = BPF_CORE_READ(child, real_parent);
    r->ppid = BPF_CORE_READ(rp, tgid);
    r->pstart_ns = BPF_CORE_READ(rp, group_leader, start_boottime);
    bpf_ringbuf_submit(r, rb_flags());
    return 0;
}

SEC("tp_btf/sched_process_exit")
int BPF_PROG(on_exit, struct task_struct *p)
{
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct signal_struct *sig = BPF_CORE_READ(t, signal);
    if (BPF_CORE_READ(sig, live.counter) != 0)
        return 0; /* other threads still run: the process lives on */
    struct sensor_rec_exit *r = bpf_ringbuf_reserve(&rb, sizeof(*r), 0);
    if (!r) {
        loss(SENSOR_KLOSS_RB_EXIT);
        return 0;
    }
    __builtin_memset(r, 0, sizeof(*r));
    fill_hdr(&r->h, SENSOR_REC_EXIT, sizeof(*r), t);
    unsigned int sflags = BPF_CORE_READ(sig, flags);
    r->exit_code =
        (sflags & 0x4 /* SIGNAL_GROUP_EXIT */) ? BPF_CORE_READ(sig, group_exit_code) : BPF_CORE_READ(t, exit_code);
    bpf_ringbuf_submit(r, rb_flags());
    return 0;
}

/* ---- opens of watched paths ---- */

static __always_inline void open_enter(__u32 flags)
{
    if (nwatch == 0)
        return;
    /* without a watch that reports reads, a read-only open cannot match: it
     * costs no table entry, and its exit stops at the lookup */
    if (!all_opens && !(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)))
        return;
    __u64 id = bpf_get_current_pid_tgid();
    if (bpf_map_update_elem(&open_flags, &id, &flags, BPF_ANY) < 0)
        loss(SENSOR_KLOSS_OPEN_TABLE);
}

static __always_inline struct sensor_dir_key dkey(struct dentry *d)
{
    struct sensor_dir_key k = {};
    k.dev = BPF_CORE_READ(d, d_sb, s_dev);
    k.ino = BPF_CORE_READ(d, d_inode, i_ino);
    return k;
}

static __always_inline __u32 name_hash(struct dentry *d)
{
    __u32 zero = 0;
    struct path_scratch *ps = bpf_map_lookup_elem(&pscratch, &zero);
    if (!ps)
        return 0;
    struct qstr q = BPF_CORE_READ(d, d_name);
    __u32 len = q.len & 0xff;
    bpf_probe_read_kernel(ps->buf, len, q.name);
    __u32 h = SENSOR_FNV_BASIS;
    for (__u32 i = 0; i < SENSOR_NAME_MAX; i++) {
        if (i >= len)
            break;
        h = (h ^ (__u8)ps->buf[i]) * SENSOR_FNV_PRIME;
    }
    return h;
}

/* Walks up from (d, vm); returns 1 + the watch_names value that matched (the
 * index, with SENSOR_WATCH_WRITES for a watch of changes only), or 0. For a
 * read, watches of changes only are walked past. */
static __always_inline __u32 watch_match(struct dentry *d, struct vfsmount *vm, int read)
{
    struct mount *m = container_of(vm, struct mount, mnt);
    for (__u32 i = 0; i < SENSOR_MATCH_DEPTH; i++) {
        struct dentry *root = BPF_CORE_READ(vm, mnt_root);
        if (d == root) {
            struct mount *mp = BPF_CORE_READ(m, mnt_parent);
            if (m == mp)
                return 0;
            d = BPF_CORE_READ(m, mnt_mountpoint);
            m = mp;
            vm = __builtin_preserve_access_index(&m->mnt);
            continue;
        }
        struct dentry *parent = BPF_CORE_READ(d, d_parent);
        if (!parent || parent == d)
            return 0;
        struct sensor_dir_key dk = dkey(parent);
        if (bpf_map_lookup_elem(&watch_dirs, &dk)) {
            struct sensor_name_key nk = {.dev = dk.dev, .ino = dk.ino, .hash = name_hash(d)};
            __u32 *idx = bpf_map_lookup_elem(&watch_names, &nk);
            if (idx && !(read && (*idx & SENSOR_WATCH_WRITES)))
                return *idx + 1;
        }
        d = parent;
    }
    return 0;
}

static __always_inline int open_exit(long ret)
{
    if (nwatch == 0)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 tgid = id >> 32, flags = 0, rflags = 0;
    __u32 *fl = bpf_map_lookup_elem(&open_flags, &id);
    if (fl) {
        flags = *fl;
        bpf_map_delete_elem(&open_flags, &id);
    } else if (!all_opens && tgid != self_tgid) {
        return 0; /* a read (open_enter kept no entry), and only changes are watched */
    } else {
        rflags |= SENSOR_RF_FLAGS_GUESS;
    }
    if (ret < 0)
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct file *f = fd_file(t, (__u32)ret);
    if (!f)
        return 0;
    struct dentry *d = BPF_CORE_READ(f, f_path.dentry);
    struct vfsmount *vm = BPF_CORE_READ(f, f_path.mnt);
    if (tgid == self_tgid) {
        if (reg.armed) {
            struct sensor_dir_key k = dkey(d);
            reg.dev = k.dev;
            reg.ino = k.ino;
            reg.armed = 0;
            reg.seq++;
        }
        return 0;
    }
    if (rflags & SENSOR_RF_FLAGS_GUESS)
        flags = BPF_CORE_READ(f, f_flags);
    __u32 w = watch_match(d, vm, (flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC)) == 0);
    if (!w)
        return 0;

    __u32 zero = 0, trunc = 0;
    struct exec_scratch *es = bpf_map_lookup_elem(&escratch, &zero);
    if (!es)
        return 0;
    struct sensor_rec_open *r = (struct sensor_rec_open *)es->buf;
    __builtin_memset(r, 0, sizeof(*r));
    fill_hdr(&r->h, SENSOR_REC_OPEN, 0, t);
    __u32 plen = path_copy(d, vm, es->buf + sizeof(*r), &trunc);
    if (trunc) {
        rflags |= SENSOR_RF_PATH_TRUNC;
        loss(SENSOR_KLOSS_PATH_CAP);
    }
    r->h.flags = rflags;
    r->flags = flags;
    r->watch = (w - 1) & ~SENSOR_WATCH_WRITES;
    r->fd = ret;
    r->path_len = plen;
    __u32 size = sizeof(*r) + (plen & (SENSOR_PATH_MAX - 1));
    r->h.size = size;
    barrier_var(size); /* one 32-bit value, clamped, and that one passed on */
    if (size > sizeof(es->buf))
        size = sizeof(es->buf);
    barrier_var(size);
    if (bpf_ringbuf_output(&rb, es->buf, size, rb_flags()) < 0)
        loss(SENSOR_KLOSS_RB_OPEN);
    return 0;
}

SEC("tp/syscalls/sys_enter_openat")
int on_openat_enter(struct trace_event_raw_sys_enter *ctx)
{
    open_enter((__u32)ctx->args[2]);
    return 0;
}
SEC("tp/syscalls/sys_exit_openat")
int on_openat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return open_exit(ctx->ret);
}
SEC("tp/syscalls/sys_enter_open")
int on_open_enter(struct trace_event_raw_sys_enter *ctx)
{
    open_enter((__u32)ctx->args[1]);
    return 0;
}
SEC("tp/syscalls/sys_exit_open")
int on_open_exit(struct trace_event_raw_sys_exit *ctx)
{
    return open_exit(ctx->ret);
}
SEC("tp/syscalls/sys_enter_creat")
int on_creat_enter(struct trace_event_raw_sys_enter *ctx)
{
    open_enter(O_CREAT | O_WRONLY | O_TRUNC);
    return 0;
}
SEC("tp/syscalls/sys_exit_creat")
int on_creat_exit(struct trace_event_raw_sys_exit *ctx)
{
    return open_exit(ctx->ret);
}

SEC("tp/syscalls/sys_enter_openat2")
int on_openat2_enter(struct trace_event_raw_sys_enter *ctx)
{
    __u64 fl = 0;
    bpf_probe_read_user(&fl, sizeof(fl), (void *)ctx->args[2]); /* struct open_how.flags */
    open_enter((__u32)fl);
    return 0;
}
SEC("tp/syscalls/sys_exit_openat2")
int on_openat2_exit(struct trace_event_raw_sys_exit *ctx)
{
    return open_exit(ctx->ret);
}

#include "fileops.bpf.h"

/* ---- TCP ---- */

SEC("tp_btf/inet_sock_set_state")
int BPF_PROG(on_sk_state, const struct sock *csk, const int oldstate, const int newstate)
{
    struct sock *sk = (struct sock *)csk;
    if (BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP_)
        return 0;
    __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (fam != AF_INET && fam != AF_INET6)
        return 0;
    __u64 key = (__u64)sk;
    if (newstate == TCP_SYN_SENT_) {
        struct sock_owner o = {};
        owner_current(&o, (struct task_struct *)bpf_get_current_task(), 1);
        if (bpf_map_update_elem(&sock_owners, &key, &o, BPF_ANY) < 0)
            loss(SENSOR_KLOSS_SOCK_TABLE);
        return 0;
    }
    struct sock_owner *o = bpf_map_lookup_elem(&sock_owners, &key);
    if (!o)
        return 0;
    if (oldstate == TCP_SYN_SENT_ && newstate == TCP_ESTABLISHED_) {
        sk_addrs(sk, &o->src, &o->dst);
        o->have_addrs = 1;
        return emit_net(SENSOR_REC_CONNECT, sk, o, -1, 0, oldstate);
    }
    if (newstate == TCP_CLOSE_) {
        if (oldstate == TCP_SYN_SENT_)
            emit_net(SENSOR_REC_CONNECT, sk, o, -1, SENSOR_RF_FAILED, oldstate);
        else
            emit_net(SENSOR_REC_CLOSE, sk, o, -1, 0, oldstate);
        bpf_map_delete_elem(&sock_owners, &key);
    }
    return 0;
}

static __always_inline int accept_exit(long ret)
{
    if (ret < 0)
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct file *f = fd_file(t, (__u32)ret);
    if (!f)
        return 0;
    struct socket *so = BPF_CORE_READ(f, private_data);
    struct sock *sk = BPF_CORE_READ(so, sk);
    if (!sk || BPF_CORE_READ_BITFIELD_PROBED(sk, sk_protocol) != IPPROTO_TCP_)
        return 0;
    __u16 fam = BPF_CORE_READ(sk, __sk_common.skc_family);
    if (fam != AF_INET && fam != AF_INET6)
        return 0;
    struct sock_owner o = {};
    owner_current(&o, t, 0);
    sk_addrs(sk, &o.src, &o.dst);
    o.have_addrs = 1;
    if (BPF_CORE_READ(sk, __sk_common.skc_state) != TCP_CLOSE_) {
        __u64 key = (__u64)sk;
        if (bpf_map_update_elem(&sock_owners, &key, &o, BPF_ANY) < 0)
            loss(SENSOR_KLOSS_SOCK_TABLE);
    }
    return emit_net(SENSOR_REC_ACCEPT, sk, &o, (__s32)ret, 0, 0);
}

SEC("tp/syscalls/sys_exit_accept")
int on_accept_exit(struct trace_event_raw_sys_exit *ctx)
{
    return accept_exit(ctx->ret);
}
SEC("tp/syscalls/sys_exit_accept4")
int on_accept4_exit(struct trace_event_raw_sys_exit *ctx)
{
    return accept_exit(ctx->ret);
}
