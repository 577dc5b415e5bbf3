/* Records the kernel programs put on the ring buffer, shared by sensor.bpf.c and
 * the user-space decoder. Why it looks like this:
 * - Only fixed-width types, no pointers: the same header compiles for the BPF
 *   target (after vmlinux.h) and for user space (after <stdint.h>).
 * - Every record starts with struct sensor_rec_hdr carrying its own size, so the
 *   decoder can check each record against what the ring buffer handed it before
 *   reading any field (a record is input like any other).
 * - Variable parts (paths, argv) follow the fixed part back to back with their
 *   lengths in the fixed part; nothing is NUL-terminated on the wire.
 * - A long argv is sent as continuation records (SENSOR_REC_ARGV_PART) BEFORE
 *   the exec record that owns them; the exec record says how many parts exist,
 *   so a lost part is noticed when the exec record arrives, never silently.
 */
#ifndef STOAT_SENSOR_ABI_H
#define STOAT_SENSOR_ABI_H

#define SENSOR_ARGV_CHUNK     4096u /* argv bytes per record */
#define SENSOR_ARGV_MAX_PARTS 32u   /* hard cap: 128 KiB of argv, then truncation is marked */
#define SENSOR_PATH_MAX       4096u /* path bytes, like PATH_MAX */
#define SENSOR_PATH_DEPTH     64u   /* dentries walked per path (mount crossings included) */
#define SENSOR_MATCH_DEPTH    32u   /* dentries walked when matching an open against watches */
#define SENSOR_NAME_MAX       255u
#define SENSOR_TTY_LEN        32u
#define SENSOR_COMM_LEN       16u
#define SENSOR_DATA_MAX       20480u /* room for exe + cwd + first argv chunk + env, masked sums */
#define SENSOR_ENV_MAX        1024u  /* allow-listed environment bytes per exec */
#define SENSOR_ENV_VAR_MAX    256u   /* bytes of one allow-listed variable (cut beyond) */
#define SENSOR_ENV_SCAN       256u   /* variables looked at per exec (then the scan stops, marked) */
#define SENSOR_FOP_PATH       256u   /* bytes of a path argument of rename/unlink/chmod/... */

enum sensor_rec_type {
    SENSOR_REC_EXEC = 1,
    SENSOR_REC_ARGV_PART,
    SENSOR_REC_FORK,
    SENSOR_REC_EXIT,
    SENSOR_REC_OPEN,
    SENSOR_REC_CONNECT,
    SENSOR_REC_ACCEPT,
    SENSOR_REC_CLOSE,
    SENSOR_REC_SOCK_STDIO,
    SENSOR_REC_FILEOP, /* rename, unlink, chmod, chown, truncate of a watched path */
    SENSOR_REC_MAX_
};

/* Loss counters kept in the kernel (per-CPU array indexed by this enum). */
enum sensor_kloss {
    SENSOR_KLOSS_RB_EXEC = 0,  /* ring buffer full: exec record dropped */
    SENSOR_KLOSS_RB_ARGV_PART, /* ring buffer full: argv continuation dropped */
    SENSOR_KLOSS_RB_FORK,
    SENSOR_KLOSS_RB_EXIT,
    SENSOR_KLOSS_RB_OPEN,
    SENSOR_KLOSS_RB_NET,     /* connect/accept/close/stdio-socket records */
    SENSOR_KLOSS_ARGV_CAP,   /* argv longer than the hard cap: truncated, marked */
    SENSOR_KLOSS_ARGV_READ,  /* argv could not be read from user memory */
    SENSOR_KLOSS_PATH_CAP,   /* a path deeper/longer than the caps: truncated, marked */
    SENSOR_KLOSS_SOCK_TABLE, /* socket owner table full: connection not tracked */
    SENSOR_KLOSS_OPEN_TABLE, /* openat enter/exit table full: flags unknown */
    SENSOR_KLOSS_RB_FILEOP,  /* ring buffer full: file operation record dropped */
    SENSOR_KLOSS_FOP_TABLE,  /* file operation enter/exit table full: operation not seen */
    SENSOR_KLOSS_ENV_SCAN,   /* environment longer than the scan cap: later variables not looked at */
    SENSOR_KLOSS_MAX_
};

/* flags in records */
#define SENSOR_RF_ARGV_TRUNC  0x01u /* argv hit SENSOR_ARGV_MAX_PARTS */
#define SENSOR_RF_EXE_TRUNC   0x02u
#define SENSOR_RF_CWD_TRUNC   0x04u
#define SENSOR_RF_PATH_TRUNC  0x08u
#define SENSOR_RF_ARGV_FAULT  0x10u  /* argv read failed */
#define SENSOR_RF_FLAGS_GUESS 0x20u  /* open flags taken from the file, enter not seen */
#define SENSOR_RF_CREATED     0x40u  /* the open created the file */
#define SENSOR_RF_FAILED      0x80u  /* connect failed (SYN_SENT -> CLOSE) */
#define SENSOR_RF_ENV_TRUNC   0x100u /* exec: allow-listed environment cut at a cap */
/* exec: fd 0 is a pseudo-terminal its parent does not have on its own fd 0 (a
 * terminal made for it: pty.spawn, socat pty, script); the bit of fd n is
 * SENSOR_RF_PTY_FD0 << n, set for each of fds 0..2 on that same terminal */
#define SENSOR_RF_PTY_FD0  0x200u
#define SENSOR_RF_PTY_MASK 0xe00u

/* watch_names values: the watch index, and this bit for the watches that
 * report only changes (the default persistence files): reads of them are
 * everyday (every `id` reads /etc/passwd) and not reported. */
#define SENSOR_WATCH_WRITES 0x80000000u

/* file operations (struct sensor_rec_fileop.op) */
enum sensor_fop {
    SENSOR_FOP_RENAME = 1,
    SENSOR_FOP_UNLINK,
    SENSOR_FOP_RMDIR,
    SENSOR_FOP_CHMOD,
    SENSOR_FOP_CHOWN,
    SENSOR_FOP_TRUNCATE,
    SENSOR_FOP_LINK, /* link or symlink: a new name in a watched place */
    SENSOR_FOP_MAX_
};

struct sensor_rec_hdr {
    __u32 type;
    __u32 size;     /* whole record, header included */
    __u64 ts_ns;    /* bpf_ktime_get_boot_ns() */
    __u32 pid;      /* thread id */
    __u32 tgid;     /* process id */
    __u64 start_ns; /* process (group leader) start, boot-time ns */
    __u32 uid;
    __u32 flags; /* SENSOR_RF_* */
    char comm[SENSOR_COMM_LEN];
};

struct sensor_rec_exec {
    struct sensor_rec_hdr h;
    __u32 ppid;
    __u32 gid;
    __u64 pstart_ns;
    __u32 euid, egid;
    __u32 loginuid, sessionid;
    __u32 sid;        /* POSIX session leader pid */
    __u32 argv_total; /* argv bytes in the process (may exceed what was sent if capped) */
    __u64 cgroup_id;
    __u32 nparts; /* argv records including this one */
    __u16 exe_len, cwd_len;
    __u16 argv_len;                /* argv bytes in this record */
    __u16 env_len;                 /* allow-listed environment bytes (NAME=value NUL ...) after argv */
    __u64 stdin_pipe, stdout_pipe; /* inode of the pipe on fd 0 / fd 1, 0: not a pipe */
    __u32 pipe_dev;                /* the pipes' device (pipefs) */
    __u32 pad2;
    char tty[SENSOR_TTY_LEN];
    /* data: exe, cwd, argv chunk 0, env */
};

struct sensor_rec_argv_part {
    struct sensor_rec_hdr h;
    __u32 part; /* 1 .. nparts-1 */
    __u32 len;
    /* data: argv bytes [part*CHUNK, part*CHUNK+len) */
};

struct sensor_rec_fork {
    struct sensor_rec_hdr h; /* the child */
    __u32 ppid;
    __u32 pad;
    __u64 pstart_ns;
};

struct sensor_rec_exit {
    struct sensor_rec_hdr h;
    __s32 exit_code; /* wait status */
    __u32 pad;
};

struct sensor_rec_open {
    struct sensor_rec_hdr h;
    __u32 flags; /* open(2) flags */
    __u32 watch; /* index of the watched path that matched */
    __s32 fd;
    __u16 path_len;
    __u16 pad;
    /* data: path */
};

/* A path operation on a watched file. Paths come as the program gave them
 * (path, path2 for rename/link's new name) with, for a relative one, the
 * directory it is relative to (base, base2) built from the kernel's dentry;
 * user space joins them and checks the watch list (see fileops.c). An
 * operation on an fd (fchmod, fchown) has its path built from the file and
 * no base. Sent at syscall exit, only when it succeeded. */
struct sensor_rec_fileop {
    struct sensor_rec_hdr h;
    __u32 op;           /* enum sensor_fop */
    __u32 mode;         /* chmod: the new mode */
    __u32 owner, group; /* chown: new uid, gid (-1: unchanged) */
    __u32 watch;        /* the watch that matched in the kernel (+1), 0: by name, user space decides */
    __u16 path_len, path2_len, base_len, base2_len;
    /* data: path, path2, base, base2 */
};

struct sensor_sa {
    __u16 family; /* AF_INET / AF_INET6 */
    __u16 port;   /* host order */
    __u8 addr[16];
};

struct sensor_rec_net {
    struct sensor_rec_hdr h;
    struct sensor_sa src, dst; /* src = local side */
    __u64 bytes_acked;         /* close: payload bytes sent and acknowledged */
    __u64 bytes_received;      /* close: payload bytes received */
    __u64 sk;                  /* socket cookie-like id, to join connect and close */
    __s32 fd;                  /* accept: fd; stdio: 0..2 */
    __u8 initiated;
    __u8 proto; /* IPPROTO_TCP */
    __u16 pad;
};

/* Result of registering a watched directory (see ebpf.c, watch_register). */
struct sensor_reg {
    __u32 armed;
    __u32 seq;
    __u32 dev;
    __u32 pad;
    __u64 ino;
};

struct sensor_dir_key {
    __u32 dev;
    __u32 pad;
    __u64 ino;
};
struct sensor_name_key {
    __u32 dev;
    __u32 hash;
    __u64 ino;
};

/* names of watched entries, by hash alone: the first filter of path operations */
struct sensor_leaf_key {
    __u32 hash;
};

/* FNV-1a, 32 bits, over a file name; user space and kernel must agree. */
#define SENSOR_FNV_BASIS 2166136261u
#define SENSOR_FNV_PRIME 16777619u

#endif
