/* After loading: the sensor was loaded as root; the process becomes an
 * ordinary user (run_as) with at most two capabilities, and can win nothing
 * back.
 *
 * Why it keeps what it keeps:
 * - The eBPF programs, their maps and ring buffer, the proc connector's
 *   socket and the fanotify descriptor are open: reading them needs no
 *   capability (the loss counters are map lookups on a descriptor held,
 *   which kernels since 5.19 allow without CAP_BPF).
 * - /proc: stat, status and cmdline of any process are readable by anyone;
 *   the exe, cwd and fd/ links of another user's process need CAP_SYS_PTRACE
 *   (the kernel's ptrace access check), fd/ also CAP_DAC_READ_SEARCH.
 *   The eBPF mode gets exe and cwd from the kernel with every exec, and the
 *   processes that began before it are read here, while still root
 *   (sensor_proc_prime): it keeps no CAP_SYS_PTRACE. The fallback reads
 *   every process from /proc after the fact: it keeps CAP_SYS_PTRACE.
 * - CAP_DAC_READ_SEARCH (read and search any file, write none) stays in
 *   both modes: the fallback's fd/ reads, and `stoat watch`'s SIGHUP, which
 *   reads the rules, mapping and jewel files again wherever they are (they
 *   are often root's alone, /etc/stoat).
 * - CAP_SYS_PTRACE is kept for /proc's access check, not for ptrace: a
 *   seccomp filter refuses ptrace, process_vm_readv/writev, pidfd_getfd,
 *   kcmp, process_madvise and perf_event_open, the calls that reach into
 *   another process with it. On an architecture the filter does not know,
 *   CAP_SYS_PTRACE is not kept (the fallback then misses other users'
 *   images, working directories and stdio sockets).
 * - Nothing comes back: the bounding set is emptied (it limits what an
 *   exec could gain, not what is held, so the kept capabilities need no
 *   place in it) and the securebits are locked (NOROOT: uid 0 means no capabilities at exec,
 *   NO_SETUID_FIXUP, NO_CAP_AMBIENT_RAISE) while CAP_SETPCAP is still held;
 *   no_new_privs is set; the process is not dumpable (no other process of
 *   the user may ptrace it or read its memory); inheritable and ambient sets
 *   are empty.
 * - Order: bounding set and securebits need CAP_SETPCAP, setgroups and
 *   setres[ug]id need CAP_SETGID/CAP_SETUID, so they come before capset
 *   takes those away; PR_SET_KEEPCAPS keeps the permitted set across the
 *   change of uid where the securebits could not be set.
 * - Capabilities are per thread: with another thread alive this refuses
 *   rather than leave that thread privileged (stoat watch loads the sensor
 *   before starting any).
 */
#include "sensor/sensor_int.h"

#include <dirent.h>
#include <errno.h>
#include <grp.h>
#include <linux/audit.h>
#include <linux/capability.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <linux/securebits.h>
#include <pwd.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef PR_CAP_AMBIENT
#define PR_CAP_AMBIENT           47
#define PR_CAP_AMBIENT_CLEAR_ALL 4
#endif
#ifndef SECBIT_NO_CAP_AMBIENT_RAISE
#define SECBIT_NO_CAP_AMBIENT_RAISE        (1 << 6)
#define SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED (1 << 7)
#endif

/* the architecture the seccomp filter checks calls against */
#if defined(__x86_64__) && !defined(__ILP32__)
#define PRIVS_ARCH AUDIT_ARCH_X86_64
#elif defined(__i386__)
#define PRIVS_ARCH AUDIT_ARCH_I386
#elif defined(__aarch64__) && defined(__AARCH64EL__)
#define PRIVS_ARCH AUDIT_ARCH_AARCH64
#elif defined(__arm__) && defined(__ARMEL__)
#define PRIVS_ARCH AUDIT_ARCH_ARM
#elif defined(__riscv) && __riscv_xlen == 64 && defined(AUDIT_ARCH_RISCV64)
#define PRIVS_ARCH AUDIT_ARCH_RISCV64
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
#define PRIVS_ARCH AUDIT_ARCH_PPC64LE
#elif defined(__s390x__)
#define PRIVS_ARCH AUDIT_ARCH_S390X
#endif

#define CAPBIT(c) (1ull << (c))

/* LeakSanitizer checks at exit from a child that ptrace-attaches to this
 * process: in a sanitizer build (a test build, never shipped) ptrace stays
 * allowed by the filter and the process dumpable, or the check could not
 * run. Everything else is the same. */
#if defined(__SANITIZE_ADDRESS__)
#define PRIVS_LSAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(leak_sanitizer)
#define PRIVS_LSAN 1
#endif
#endif
#ifndef PRIVS_LSAN
#define PRIVS_LSAN 0
#endif

#ifdef PRIVS_ARCH
/* the calls that use CAP_SYS_PTRACE on another process */
static const long refused_calls[] = {
#if !PRIVS_LSAN
    SYS_ptrace,
#endif
    SYS_process_vm_readv, SYS_process_vm_writev, SYS_kcmp, SYS_perf_event_open,
#ifdef SYS_pidfd_getfd
    SYS_pidfd_getfd,
#endif
#ifdef SYS_process_madvise
    SYS_process_madvise,
#endif
};
#define NREFUSED (sizeof(refused_calls) / sizeof(refused_calls[0]))

static int install_filter(void)
{
    struct sock_filter f[8 + NREFUSED];
    unsigned k = 0;
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, PRIVS_ARCH, 1, 0);
    /* another ABI's numbers mean other calls: refuse them all (stoat makes none) */
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
#if defined(__x86_64__)
    /* x32 calls: the same arch, numbers with this bit set */
    f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, 0x40000000u, NREFUSED + 1, 0);
#endif
    for (unsigned i = 0; i < NREFUSED; i++)
        f[k++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)refused_calls[i], NREFUSED - i, 0);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
    f[k++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
    struct sock_fprog prog = {.len = (unsigned short)k, .filter = f};
    long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &prog);
    if (r < 0)
        return -errno;
    return r > 0 ? -EBUSY : 0; /* r: a thread that could not take the filter */
}
#define HAVE_FILTER true
#else
static int install_filter(void)
{
    return -ENOSYS;
}
#define HAVE_FILTER false
#endif

static int fail(char *errbuf, size_t errlen, int err, const char *what)
{
    snprintf(errbuf, errlen, "%s: %s", what, strerror(-err));
    return err;
}

static int thread_count(void)
{
    DIR *d = opendir("/proc/self/task");
    struct dirent *de;
    int n = 0;
    if (!d)
        return -errno;
    while ((de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

/* Bounding set emptied, securebits set and locked: needs CAP_SETPCAP. */
static int seal(void)
{
    /* up to the running kernel's last capability, which may be newer than our headers */
    for (int c = 0; c < 64; c++) {
        int in = prctl(PR_CAPBSET_READ, c, 0, 0, 0);
        if (in < 0)
            break;
        if (in == 1 && prctl(PR_CAPBSET_DROP, c, 0, 0, 0) < 0)
            return -errno;
    }
    int bits = prctl(PR_GET_SECUREBITS, 0, 0, 0, 0);
    int want = SECBIT_NOROOT | SECBIT_NOROOT_LOCKED | SECBIT_NO_SETUID_FIXUP | SECBIT_NO_SETUID_FIXUP_LOCKED |
               SECBIT_NO_CAP_AMBIENT_RAISE | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    if (bits < 0)
        return -errno;
    if ((bits & want) != want && prctl(PR_SET_SECUREBITS, bits | want, 0, 0, 0) < 0)
        return -errno;
    return 0;
}

int sensor_drop_privileges(struct sensor *s, const char *run_as, char *errbuf, size_t errlen)
{
    struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct data[2];
    uid_t uid = 0, ru, eu, su;
    gid_t gid = 0, rg, eg, sg;
    char what[160];
    int err;

    if (run_as) {
        struct passwd pw, *res = NULL;
        char buf[4096];
        int e = getpwnam_r(run_as, &pw, buf, sizeof(buf), &res);
        if (!res) {
            snprintf(errbuf, errlen, "no user %s to run as%s%s", run_as, e ? ": " : "", e ? strerror(e) : "");
            return -ENOENT;
        }
        uid = pw.pw_uid;
        gid = pw.pw_gid;
    }
    if ((err = thread_count()) != 1) {
        snprintf(errbuf, errlen, "dropping privileges: %s",
                 err < 0 ? strerror(-err) : "other threads already run, and capabilities are per thread");
        return err < 0 ? err : -EBUSY;
    }
    memset(data, 0, sizeof(data));
    if (syscall(SYS_capget, &hdr, data) < 0)
        return fail(errbuf, errlen, -errno, "capget");
    uint64_t have = (uint64_t)data[0].permitted | ((uint64_t)data[1].permitted << 32);
    uint64_t keep = CAPBIT(CAP_DAC_READ_SEARCH);
    if (s->fallback && HAVE_FILTER)
        keep |= CAPBIT(CAP_SYS_PTRACE);
    keep &= have;
    if (!(keep & CAPBIT(CAP_SYS_PTRACE)))
        sensor_proc_prime(s, proctab_capacity(s->pt) / 2); /* the last chance to read every exe */

    if (getresuid(&ru, &eu, &su) < 0 || getresgid(&rg, &eg, &sg) < 0)
        return fail(errbuf, errlen, -errno, "getresuid");
    bool change = run_as && (ru != uid || eu != uid || su != uid || rg != gid || eg != gid || sg != gid);
    if (have & CAPBIT(CAP_SETPCAP)) {
        /* without it (a replay, a container that withheld it) the
		 * bounding set and securebits are someone else's to set */
        if ((err = seal()) < 0)
            return fail(errbuf, errlen, err, "emptying the bounding set");
    }
    if (change) {
        snprintf(what, sizeof(what), "becoming user %s (uid %u, gid %u)", run_as, (unsigned)uid, (unsigned)gid);
        if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0 || setgroups(1, &gid) < 0 || setresgid(gid, gid, gid) < 0 ||
            setresuid(uid, uid, uid) < 0)
            return fail(errbuf, errlen, -errno, what);
    }
    if ((!PRIVS_LSAN && prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0) || prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return fail(errbuf, errlen, -errno, "prctl");
    data[0].effective = data[0].permitted = (uint32_t)keep;
    data[1].effective = data[1].permitted = (uint32_t)(keep >> 32);
    data[0].inheritable = data[1].inheritable = 0;
    if (syscall(SYS_capset, &hdr, data) < 0)
        return fail(errbuf, errlen, -errno, "capset");
    /* emptied already with the inheritable set; said outright for old kernels' sake */
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return fail(errbuf, errlen, -errno, "clearing the ambient set");
    if (HAVE_FILTER && (err = install_filter()) < 0)
        return fail(errbuf, errlen, err, "seccomp filter");
    return 0;
}
