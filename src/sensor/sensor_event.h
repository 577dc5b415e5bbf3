/* What the live sensor hands out: one decoded event, its kinds and flags,
 * the causes of loss and the counters (the types of sensor.h, apart from
 * the sensor itself).
 *
 * Why a header of its own: every part of the sensor (the eBPF decoder, the
 * fallback, capture and replay, the field mapping) makes or reads these
 * events, while only the front (sensor.c) opens, polls and closes a sensor.
 * Kept apart, the parts below the front depend on the event, not on the
 * front that depends on them. The engine includes sensor.h, which includes
 * this.
 */
#ifndef STOAT_SENSOR_EVENT_H
#define STOAT_SENSOR_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sensor;

enum sensor_kind {
    SENSOR_EXEC = 1,    /* Sysmon EventID 1 */
    SENSOR_FORK,        /* stoat EventID 1001 (no Sysmon equivalent) */
    SENSOR_EXIT,        /* Sysmon EventID 5 */
    SENSOR_OPEN,        /* Sysmon EventID 11 (here: any open of a watched path) */
    SENSOR_CONNECT,     /* Sysmon EventID 3, Initiated=true */
    SENSOR_ACCEPT,      /* Sysmon EventID 3, Initiated=false */
    SENSOR_CLOSE_STATS, /* Sysmon EventID 3 + BytesSent/BytesReceived, at close */
    SENSOR_SOCK_STDIO,  /* stoat EventID 1002: a process started with an inet socket on fd 0/1/2 */
    SENSOR_FILE_CHANGE, /* Sysmon EventID 11: a watched file renamed into place, linked, truncated */
    SENSOR_FILE_DELETE, /* Sysmon EventID 23: a watched file unlinked or renamed away */
    SENSOR_FILE_ATTR,   /* stoat EventID 1003: mode or owner of a watched file changed */
    SENSOR_PIPELINE,    /* stoat EventID 1004: a reader's stdin writer, learnt after the reader's exec */
    SENSOR_PTY_STDIO,   /* stoat EventID 1005: a program on a pseudo-terminal whose master holder has a socket */
    SENSOR_KIND_MAX_
};

/* event flags */
#define SENSOR_EF_ARGV_TRUNC   0x0001u /* argv longer than the hard cap (128 KiB): cut, and counted */
#define SENSOR_EF_ARGV_MISSING 0x0002u /* an argv part was lost (ring buffer full): counted */
#define SENSOR_EF_PATH_TRUNC   0x0004u /* a path hit the depth/length cap */
#define SENSOR_EF_FAILED       0x0008u /* connect that did not complete */
#define SENSOR_EF_FLAGS_GUESS  0x0010u /* open flags taken from the file (no O_CREAT/O_TRUNC) */
#define SENSOR_EF_PROC_RACE    0x0020u /* fallback: the process was gone before /proc was read */
#define SENSOR_EF_FROM_PROC    0x0040u /* details read from /proc, not captured at the event */
#define SENSOR_EF_ENV_TRUNC    0x0080u /* exec: allow-listed environment cut at a cap */

struct sensor_addr {
    uint16_t family; /* AF_INET, AF_INET6 */
    uint16_t port;
    uint8_t addr[16]; /* v4 in the first 4 bytes */
};

/* One decoded event. Pointers are valid during the callback only; strings are
 * NUL-terminated (argv is NUL-separated, argv_len bytes). NULL = unknown. */
struct sensor_event {
    enum sensor_kind kind;
    uint32_t flags;           /* SENSOR_EF_* */
    uint64_t ts_ns;           /* wall clock, ns since the epoch */
    uint32_t pid, tgid, ppid; /* tgid is the process id */
    uint64_t start_time_ns;   /* boot-time ns: (tgid, start_time_ns) names a process uniquely */
    uint64_t parent_start_time_ns;
    uint32_t uid, gid, euid, egid;
    uint32_t loginuid, sessionid; /* audit login uid / session (-1 if none) */
    uint32_t sid;                 /* POSIX session id */
    uint64_t cgroup_id;
    char comm[16];
    const char *tty;   /* "pts3"; NULL: none */
    const char *image; /* executable path */
    const char *cwd;
    const char *argv;
    size_t argv_len;
    uint32_t argc;
    const char *cmdline;                       /* argv joined by spaces */
    const char *parent_image, *parent_cmdline; /* from the process table */
    int32_t exit_code;                         /* EXIT: wait status */
    const char *path;                          /* OPEN */
    uint32_t open_flags;
    int32_t watch_index;         /* OPEN: which opts.watch_paths entry matched */
    int32_t fd;                  /* ACCEPT: fd; SOCK_STDIO: bit mask of fds 0..2 */
    struct sensor_addr src, dst; /* src = local end */
    bool initiated;
    uint8_t protocol;    /* IPPROTO_TCP */
    uint64_t bytes_sent; /* CLOSE_STATS: acknowledged bytes sent */
    uint64_t bytes_received;
    uint64_t sock_id; /* joins CONNECT/ACCEPT with CLOSE_STATS */
    /* FILE_*: path is the file changed (the new name of a rename), path2 the
     * old name of a rename or what a link points to */
    const char *path2;
    uint32_t file_op;      /* enum sensor_fop (sensor_abi.h) */
    uint32_t file_mode;    /* chmod */
    uint32_t owner, group; /* chown (-1: unchanged) */
    const char *env;       /* EXEC: allow-listed variables, NAME=value, NUL-separated */
    size_t env_len;
    /* EXEC and PIPELINE: the process writing the pipe on stdin, if known */
    uint32_t stdin_tgid;
    uint64_t stdin_start_ns;
    const char *stdin_image;
    uint64_t stdin_pipe; /* EXEC: inode of the pipe on fd 0, 0: none (eBPF mode) */
    /* EXEC: bit mask of fds 0..2 on a pseudo-terminal the parent does not have
     * on its fd 0 (eBPF mode); PTY_STDIO: the same, of the program it names */
    uint8_t pty_fds;
    /* PTY_STDIO: the process holding the terminal's master end and the socket
     * (src, dst, protocol, initiated, sock_id are that socket's; fd is the
     * kind of event that told of it: CONNECT, ACCEPT or SOCK_STDIO) */
    uint32_t relay_tgid;
    uint64_t relay_start_ns;
    const char *relay_image;
};

enum sensor_loss {
    SENSOR_LOST_RINGBUF_EXEC, /* ring buffer full, per record kind */
    SENSOR_LOST_RINGBUF_ARGV,
    SENSOR_LOST_RINGBUF_FORK,
    SENSOR_LOST_RINGBUF_EXIT,
    SENSOR_LOST_RINGBUF_OPEN,
    SENSOR_LOST_RINGBUF_NET,
    SENSOR_LOST_ARGV_CAP,       /* argv truncated at the hard cap (event kept, marked) */
    SENSOR_LOST_ARGV_READ,      /* argv unreadable */
    SENSOR_LOST_PATH_CAP,       /* path truncated (event kept, marked) */
    SENSOR_LOST_SOCK_TABLE,     /* connection not tracked: owner table full */
    SENSOR_LOST_OPEN_TABLE,     /* open flags table full */
    SENSOR_LOST_ARGV_PART,      /* exec arrived without all its argv parts */
    SENSOR_LOST_BAD_RECORD,     /* record failed validation */
    SENSOR_LOST_NETLINK,        /* fallback: proc connector overrun (ENOBUFS) */
    SENSOR_LOST_FANOTIFY,       /* fallback: fanotify queue overflow */
    SENSOR_LOST_PROC_RACE,      /* fallback: process gone before /proc was read (event kept, fields missing) */
    SENSOR_LOST_RINGBUF_FILEOP, /* ring buffer full: rename/unlink/chmod... record */
    SENSOR_LOST_FOP_TABLE,      /* path operation table full: operation not seen */
    SENSOR_LOST_ENV_SCAN,       /* environment beyond the scan cap not looked at (event kept, marked) */
    SENSOR_LOST_MAX_
};

struct sensor_stats {
    uint64_t events; /* delivered to the callback */
    uint64_t by_kind[SENSOR_KIND_MAX_];
    uint64_t lost[SENSOR_LOST_MAX_];
    uint64_t lost_total; /* events dropped (not counting the "kept, marked" causes) */
    uint64_t proc_table_evictions;
    uint64_t proc_lookups_from_proc;  /* processes that began before the sensor, read from /proc */
    uint64_t bpf_run_ns, bpf_run_cnt; /* time spent in the kernel programs and their runs, all
	                                    programs together (needs sysctl kernel.bpf_stats_enabled=1) */
    uint64_t capture_bytes;           /* written to capture_path */
    int capture_error;                /* errno of the first failed capture write (capturing stops), 0 */
};

const char *sensor_loss_name(enum sensor_loss l);
const char *sensor_kind_name(enum sensor_kind k);

/* Emits the event as Sigma-taxonomy fields, Sysmon-for-Linux style (see
 * fields.c for the table). Values are valid during emit only. Returns the
 * number of fields, or emit's non-zero return. */
int sensor_event_fields(struct sensor *s, const struct sensor_event *ev,
                        int (*emit)(void *ctx, const char *name, const char *value), void *ctx);

#endif
