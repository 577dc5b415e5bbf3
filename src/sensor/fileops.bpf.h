/* Path operations on watched files (rename, unlink, rmdir, chmod, chown,
 * truncate, link, symlink): part of sensor.bpf.c, kept apart for its size.
 *
 * Why it works this way:
 * - These calls name their file by a string the kernel resolves later, and a
 *   syscall tracepoint has no dentry to walk. So the filter is two cheap
 *   tests at syscall entry: does a component of the path carry the last
 *   name of some watch (watch_leaves, by hash: "passwd", "cron.d",
 *   "authorized_keys"...), or, for a relative path, does the directory it is
 *   relative to (cwd or the dirfd) lie inside a watch (the same inode walk
 *   the opens use)? Anything else in the system costs a string read and a
 *   few hash lookups, and goes no further.
 * - A candidate waits in a per-thread table until the syscall exit and is
 *   sent only if the call succeeded (a refused chmod of /etc/shadow is not a
 *   change). The record carries the path as given and, if it is relative,
 *   the directory's path from the dentry; user space joins them and checks
 *   the watch list by string (fileops.c): a name that only looks like a
 *   watched one ("/srv/x/passwd") stops there.
 * - fchmod/fchown name an open file: that is matched by inode like an open.
 */

struct fop_pending {
    __u32 op, mode, owner, group;
    __s32 dfd, dfd2; /* dirfd of path / path2; for fchmod/fchown the fd itself */
    __u32 watch;     /* matched by inode (+1), or 0 */
    __u32 byfd;
    __u32 len, len2; /* bytes of path, path2 (without the NUL) */
    char path[SENSOR_FOP_PATH], path2[SENSOR_FOP_PATH];
};

struct {
    __uint(type, BPF_MAP_TYPE_LRU_HASH);
    __uint(max_entries, 4096);
    __type(key, __u64);
    __type(value, struct fop_pending);
} fop_pend SEC(".maps");

struct {
    __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
    __uint(max_entries, 1);
    __type(key, __u32);
    __type(value, struct fop_pending);
} fop_scratch SEC(".maps");

struct comp_ctx {
    __u32 len; /* bytes of the path (without its NUL) */
    __u32 h;   /* hash of the component so far */
    __u32 clen;
    __u32 hit;
    __u32 second; /* scan path2 instead of path */
};

/* bpf_loop callback: one byte of the path; at each '/' and at the end the
 * component's hash is looked up among the watched names */
static long comp_step(__u32 i, void *arg)
{
    struct comp_ctx *c = arg;
    __u32 zero = 0;
    struct fop_pending *fp = bpf_map_lookup_elem(&fop_scratch, &zero);
    if (!fp)
        return 1;
    char ch = i < c->len ? (c->second ? fp->path2 : fp->path)[i & (SENSOR_FOP_PATH - 1)] : '/';
    if (ch != '/') {
        c->h = (c->h ^ (__u8)ch) * SENSOR_FNV_PRIME;
        c->clen++;
        return 0;
    }
    if (c->clen) {
        struct sensor_leaf_key k = {.hash = c->h};
        if (bpf_map_lookup_elem(&watch_leaves, &k)) {
            c->hit = 1;
            return 1;
        }
    }
    c->h = SENSOR_FNV_BASIS;
    c->clen = 0;
    return i >= c->len;
}

/* the directory a path given with dfd is relative to */
static __always_inline int fop_base(struct task_struct *t, __s32 dfd, struct dentry **d, struct vfsmount **vm)
{
    if (dfd == AT_FDCWD_) {
        struct fs_struct *fs = BPF_CORE_READ(t, fs);
        *d = BPF_CORE_READ(fs, pwd.dentry);
        *vm = BPF_CORE_READ(fs, pwd.mnt);
    } else {
        struct file *f = fd_file(t, (__u32)dfd);
        if (!f)
            return -1;
        *d = BPF_CORE_READ(f, f_path.dentry);
        *vm = BPF_CORE_READ(f, f_path.mnt);
    }
    return *d && *vm ? 0 : -1;
}

/* reads the path argument into the scratch and says whether it may be watched */
static __always_inline int fop_path_hit(struct task_struct *t, struct fop_pending *fp, int second, __s32 dfd,
                                        const char *up)
{
    char *dst = second ? fp->path2 : fp->path;
    long n = bpf_probe_read_user_str(dst, SENSOR_FOP_PATH, up);
    if (n <= 1)
        return 0;
    if (second)
        fp->len2 = (__u32)(n - 1);
    else
        fp->len = (__u32)(n - 1);
    struct comp_ctx c = {.len = (__u32)(n - 1), .h = SENSOR_FNV_BASIS, .second = second};
    bpf_loop(SENSOR_FOP_PATH + 1, comp_step, &c, 0);
    if (c.hit)
        return 1;
    if (dst[0] == '/')
        return 0;
    struct dentry *d;
    struct vfsmount *vm;
    if (fop_base(t, dfd, &d, &vm) < 0)
        return 0;
    return watch_match(d, vm, 0) != 0;
}

/* syscall entry of a path operation: path (and path2, may be NULL) with their dirfds */
static __always_inline int fop_enter(__u32 op, __s32 dfd, const char *path, __s32 dfd2, const char *path2, __u32 mode,
                                     __u32 owner, __u32 group)
{
    if (nwatch == 0)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 zero = 0;
    if ((id >> 32) == self_tgid)
        return 0;
    struct fop_pending *fp = bpf_map_lookup_elem(&fop_scratch, &zero);
    if (!fp)
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    fp->op = op;
    fp->mode = mode;
    fp->owner = owner;
    fp->group = group;
    fp->dfd = dfd;
    fp->dfd2 = dfd2;
    fp->watch = 0;
    fp->byfd = 0;
    fp->path2[0] = 0;
    fp->len = fp->len2 = 0;
    int hit = fop_path_hit(t, fp, 0, dfd, path);
    if (path2 && fop_path_hit(t, fp, 1, dfd2, path2))
        hit = 1;
    if (!hit)
        return 0;
    if (bpf_map_update_elem(&fop_pend, &id, fp, BPF_ANY) < 0)
        loss(SENSOR_KLOSS_FOP_TABLE);
    return 0;
}

/* fchmod/fchown: the open file, matched by inode */
static __always_inline int fop_enter_fd(__u32 op, __s32 fd, __u32 mode, __u32 owner, __u32 group)
{
    if (nwatch == 0)
        return 0;
    __u64 id = bpf_get_current_pid_tgid();
    __u32 zero = 0;
    if ((id >> 32) == self_tgid)
        return 0;
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct file *f = fd_file(t, (__u32)fd);
    if (!f)
        return 0;
    __u32 w = watch_match(BPF_CORE_READ(f, f_path.dentry), BPF_CORE_READ(f, f_path.mnt), 0);
    if (!w)
        return 0;
    struct fop_pending *fp = bpf_map_lookup_elem(&fop_scratch, &zero);
    if (!fp)
        return 0;
    fp->op = op;
    fp->mode = mode;
    fp->owner = owner;
    fp->group = group;
    fp->dfd = fd;
    fp->dfd2 = AT_FDCWD_;
    fp->watch = ((w - 1) & ~SENSOR_WATCH_WRITES) + 1;
    fp->byfd = 1;
    fp->path[0] = fp->path2[0] = 0;
    fp->len = fp->len2 = 0;
    if (bpf_map_update_elem(&fop_pend, &id, fp, BPF_ANY) < 0)
        loss(SENSOR_KLOSS_FOP_TABLE);
    return 0;
}

/* the path of dfd's directory, or of the fd's file, at out; its length */
static __always_inline __u32 fop_dir_path(struct task_struct *t, __s32 dfd, char *out)
{
    struct dentry *d;
    struct vfsmount *vm;
    __u32 trunc = 0;
    if (fop_base(t, dfd, &d, &vm) < 0)
        return 0;
    return path_copy(d, vm, out, &trunc);
}

static __always_inline int fop_exit(long ret)
{
    __u64 id = bpf_get_current_pid_tgid();
    struct fop_pending *fp = bpf_map_lookup_elem(&fop_pend, &id);
    if (!fp)
        return 0;
    __u32 zero = 0;
    struct exec_scratch *es = bpf_map_lookup_elem(&escratch, &zero);
    if (ret != 0 || !es) {
        bpf_map_delete_elem(&fop_pend, &id);
        return 0;
    }
    struct task_struct *t = (struct task_struct *)bpf_get_current_task();
    struct sensor_rec_fileop *r = (struct sensor_rec_fileop *)es->buf;
    char *data = es->buf + sizeof(*r);
    __builtin_memset(r, 0, sizeof(*r));
    fill_hdr(&r->h, SENSOR_REC_FILEOP, 0, t);
    r->op = fp->op;
    r->mode = fp->mode;
    r->owner = fp->owner;
    r->group = fp->group;
    r->watch = fp->watch;
    __u32 off = 0;
    if (fp->byfd) {
        off = fop_dir_path(t, fp->dfd, data) & (SENSOR_PATH_MAX - 1);
        r->path_len = off;
    } else {
        __u32 l1 = fp->len & (SENSOR_FOP_PATH - 1);
        __u32 l2 = fp->len2 & (SENSOR_FOP_PATH - 1);
        bpf_probe_read_kernel(data, l1, fp->path);
        bpf_probe_read_kernel(data + l1, l2, fp->path2);
        r->path_len = l1;
        r->path2_len = l2;
        off = l1 + l2;
        __s32 d1 = fp->dfd, d2 = fp->dfd2;
        int rel1 = l1 && fp->path[0] != '/', rel2 = l2 && fp->path2[0] != '/';
        if (rel1) {
            __u32 b = fop_dir_path(t, d1, data + (off & (2 * SENSOR_FOP_PATH - 1))) & (SENSOR_PATH_MAX - 1);
            r->base_len = b;
            off = (off & (2 * SENSOR_FOP_PATH - 1)) + b;
        }
        if (rel2) {
            __u32 b = fop_dir_path(t, d2, data + (off & (2 * SENSOR_PATH_MAX - 1))) & (SENSOR_PATH_MAX - 1);
            r->base2_len = b;
            off = (off & (2 * SENSOR_PATH_MAX - 1)) + b;
        }
    }
    bpf_map_delete_elem(&fop_pend, &id);
    __u32 size = sizeof(*r) + (off & (4 * SENSOR_PATH_MAX - 1));
    r->h.size = size;
    barrier_var(size); /* one 32-bit value, clamped, and that one passed on */
    if (size > sizeof(es->buf))
        size = sizeof(es->buf);
    barrier_var(size);
    if (bpf_ringbuf_output(&rb, es->buf, size, rb_flags()) < 0)
        loss(SENSOR_KLOSS_RB_FILEOP);
    return 0;
}

#define FOP_EXIT(name)                                         \
    SEC("tp/syscalls/sys_exit_" #name)                         \
    int on_##name##_exit(struct trace_event_raw_sys_exit *ctx) \
    {                                                          \
        return fop_exit(ctx->ret);                             \
    }

#define A(n) ((const char *)ctx->args[n])
#define I(n) ((__s32)ctx->args[n])
#define U(n) ((__u32)ctx->args[n])
#define NONE ((__u32)-1)

SEC("tp/syscalls/sys_enter_rename")
int on_rename_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_RENAME, AT_FDCWD_, A(1), AT_FDCWD_, A(0), 0, NONE, NONE);
}
FOP_EXIT(rename)
SEC("tp/syscalls/sys_enter_renameat")
int on_renameat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_RENAME, I(2), A(3), I(0), A(1), 0, NONE, NONE);
}
FOP_EXIT(renameat)
SEC("tp/syscalls/sys_enter_renameat2")
int on_renameat2_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_RENAME, I(2), A(3), I(0), A(1), 0, NONE, NONE);
}
FOP_EXIT(renameat2)
SEC("tp/syscalls/sys_enter_unlink")
int on_unlink_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_UNLINK, AT_FDCWD_, A(0), AT_FDCWD_, NULL, 0, NONE, NONE);
}
FOP_EXIT(unlink)
SEC("tp/syscalls/sys_enter_unlinkat")
int on_unlinkat_enter(struct trace_event_raw_sys_enter *ctx)
{
    __u32 op = (U(2) & 0x200 /* AT_REMOVEDIR */) ? SENSOR_FOP_RMDIR : SENSOR_FOP_UNLINK;
    return fop_enter(op, I(0), A(1), AT_FDCWD_, NULL, 0, NONE, NONE);
}
FOP_EXIT(unlinkat)
SEC("tp/syscalls/sys_enter_rmdir")
int on_rmdir_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_RMDIR, AT_FDCWD_, A(0), AT_FDCWD_, NULL, 0, NONE, NONE);
}
FOP_EXIT(rmdir)
SEC("tp/syscalls/sys_enter_chmod")
int on_chmod_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_CHMOD, AT_FDCWD_, A(0), AT_FDCWD_, NULL, U(1), NONE, NONE);
}
FOP_EXIT(chmod)
SEC("tp/syscalls/sys_enter_fchmodat")
int on_fchmodat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_CHMOD, I(0), A(1), AT_FDCWD_, NULL, U(2), NONE, NONE);
}
FOP_EXIT(fchmodat)
SEC("tp/syscalls/sys_enter_fchmodat2")
int on_fchmodat2_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_CHMOD, I(0), A(1), AT_FDCWD_, NULL, U(2), NONE, NONE);
}
FOP_EXIT(fchmodat2)
SEC("tp/syscalls/sys_enter_fchmod")
int on_fchmod_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter_fd(SENSOR_FOP_CHMOD, I(0), U(1), NONE, NONE);
}
FOP_EXIT(fchmod)
SEC("tp/syscalls/sys_enter_chown")
int on_chown_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_CHOWN, AT_FDCWD_, A(0), AT_FDCWD_, NULL, 0, U(1), U(2));
}
FOP_EXIT(chown)
SEC("tp/syscalls/sys_enter_lchown")
int on_lchown_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_CHOWN, AT_FDCWD_, A(0), AT_FDCWD_, NULL, 0, U(1), U(2));
}
FOP_EXIT(lchown)
SEC("tp/syscalls/sys_enter_fchownat")
int on_fchownat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_CHOWN, I(0), A(1), AT_FDCWD_, NULL, 0, U(2), U(3));
}
FOP_EXIT(fchownat)
SEC("tp/syscalls/sys_enter_fchown")
int on_fchown_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter_fd(SENSOR_FOP_CHOWN, I(0), 0, U(1), U(2));
}
FOP_EXIT(fchown)
SEC("tp/syscalls/sys_enter_truncate")
int on_truncate_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_TRUNCATE, AT_FDCWD_, A(0), AT_FDCWD_, NULL, 0, NONE, NONE);
}
FOP_EXIT(truncate)
SEC("tp/syscalls/sys_enter_link")
int on_link_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_LINK, AT_FDCWD_, A(1), AT_FDCWD_, A(0), 0, NONE, NONE);
}
FOP_EXIT(link)
SEC("tp/syscalls/sys_enter_linkat")
int on_linkat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_LINK, I(2), A(3), I(0), A(1), 0, NONE, NONE);
}
FOP_EXIT(linkat)
/* symlink: the target is any string, not a path to check; only the new name counts */
SEC("tp/syscalls/sys_enter_symlink")
int on_symlink_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_LINK, AT_FDCWD_, A(1), AT_FDCWD_, NULL, 0, NONE, NONE);
}
FOP_EXIT(symlink)
SEC("tp/syscalls/sys_enter_symlinkat")
int on_symlinkat_enter(struct trace_event_raw_sys_enter *ctx)
{
    return fop_enter(SENSOR_FOP_LINK, I(1), A(2), AT_FDCWD_, NULL, 0, NONE, NONE);
}
FOP_EXIT(symlinkat)

#undef A
#undef I
#undef U
#undef NONE
