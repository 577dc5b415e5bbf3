/* Internals shared by the sensor's files (not for the engine): the sensor
 * object, the process table, the capture file format and the functions the
 * files call across, grouped by the file that defines them. Kept in one
 * header so each mode stays a thin producer of struct sensor_event and the
 * enrichment (process table, user names) lives in one place. It includes the
 * event types (sensor_event.h), never the front's sensor.h. */
#ifndef STOAT_SENSOR_INT_H
#define STOAT_SENSOR_INT_H

#include "sensor/sensor_event.h"
#include "sensor/sensor_abi_user.h"
#include <sys/types.h>

#define SENSOR_CMDLINE_KEEP  8192u          /* bytes of a command line kept in the process table */
#define SENSOR_PROC_READ_MAX (128u * 1024u) /* cap on any /proc file we read */
#define SENSOR_USER_CACHE    256u
#define SENSOR_PENDING_ARGV  16u   /* execs whose argv parts are in flight */
#define SENSOR_WATCH_MAX     4000u /* watches of all kinds: the kernel's watch maps hold 4096 */

struct proc_info {
    uint32_t tgid, ppid, uid;
    uint64_t start_ns, pstart_ns;
    char *image;
    char *cmdline;
    uint64_t stdin_pipe; /* inode of the pipe on fd 0 at its exec (a fork: its parent's), 0: none */
    /* ptys.c: the inet socket the process holds (connected, accepted, on its
     * stdio at exec, or a fork's parent's), and a child on a terminal of its
     * own waiting for one */
    struct sensor_addr sock_src, sock_dst;
    uint64_t sock_id; /* 0: none */
    uint8_t sock_proto;
    uint8_t sock_how;  /* enum sensor_kind of the event that told: CONNECT, ACCEPT or SOCK_STDIO */
    bool pty_reported; /* this process's relayed-terminal event was sent */
    uint32_t pty_child_tgid;
    uint64_t pty_child_start;
    uint8_t pty_child_fds;
    bool exited;
    /* table links */
    uint32_t hnext;      /* hash chain, index+1 */
    uint32_t prev, next; /* list (live LRU or exited FIFO), index+1 */
    uint8_t on_list;     /* 0 free, 1 live, 2 exited */
};

struct proctab;
struct proctab *proctab_new(size_t cap);
void proctab_free(struct proctab *pt);
/* start_ns == 0: the newest entry for tgid that has not exited. Otherwise an
 * entry whose start matches to within one clock tick (/proc has ticks). */
struct proc_info *proctab_get(struct proctab *pt, uint32_t tgid, uint64_t start_ns);
/* Returns the entry for (tgid, start), created if missing (evicting if full). */
struct proc_info *proctab_put(struct proctab *pt, uint32_t tgid, uint64_t start_ns);
void proctab_exited(struct proctab *pt, struct proc_info *pi);
uint64_t proctab_evictions(const struct proctab *pt);
size_t proctab_count(const struct proctab *pt);
size_t proctab_capacity(const struct proctab *pt);
int proctab_set(char **dst, const char *s, size_t len); /* copies, capped, NUL-terminated */

/* /proc helpers (hostile input: capped reads, parsed with bounds) */
struct procstat {
    uint32_t ppid, sid;
    int32_t tty_nr;
    uint64_t start_ticks;
    char comm[16];
};
ssize_t proc_read_file(int pid, const char *name, char *buf, size_t cap); /* -errno or bytes */
int proc_read_stat(int pid, struct procstat *st);
int proc_parse_stat(const char *buf, size_t len, struct procstat *st); /* buf need not be NUL-terminated */
int proc_readlink(int pid, const char *name, char *buf, size_t cap);
uint64_t proc_ticks_to_ns(uint64_t ticks);

struct argv_pending {
    uint32_t tgid;
    uint64_t start_ns;
    uint64_t seq;
    uint32_t nparts_seen;
    uint32_t have_mask; /* bit per part (32 parts max) */
    size_t len;         /* highest byte written */
    char *buf;          /* SENSOR_ARGV_CHUNK * SENSOR_ARGV_MAX_PARTS */
};

struct sensor_bpf;
struct ring_buffer;
struct capture;
struct replay;

struct sensor {
    bool fallback;
    char mode[512];
    char **watch; /* normalised absolute paths: watch_paths, then the default file set */
    size_t nwatch;
    size_t nuser_watch;  /* the first nuser_watch report every open; the rest changes only */
    struct pipes *pipes; /* pipe ends seen at exec (pipes.c) */
    struct proctab *pt;
    struct sensor_stats st;
    uint64_t kloss_base[SENSOR_LOST_MAX_];
    int64_t boot_to_wall_ns; /* wall = boot + this */
    uint32_t boot_tag;       /* 32 bits of the boot id, for ProcessGuid */
    char hostname[256];

    /* ebpf */
    struct sensor_bpf *skel;
    struct ring_buffer *rb;
    const uint64_t *kloss; /* the kernel's loss counters, mapped (ebpf.c) */
    size_t kloss_len;
    struct argv_pending pend[SENSOR_PENDING_ARGV];
    uint64_t pend_seq;

    /* fallback */
    int nl_fd, fan_fd;

    /* capture (eBPF mode, capture.c) and replay (replay.c) */
    struct capture *cap;
    struct replay *rp;
    int64_t clock_ns; /* wall clock at the end of the last poll */

    /* delivery */
    int (*cb)(void *ctx, const struct sensor_event *ev);
    void *cbctx;
    int cbret;
    int delivered;

    /* scratch, reused per event */
    char *cmd; /* joined command line */
    size_t cmd_cap;
    char *pbuf;                /* /proc reads */
    char *image_buf, *cwd_buf; /* PATH_MAX each */
    char *argv_buf;            /* the whole argv of one exec, NUL-terminated */
    char *lookup_buf;          /* proc_lookup's own readlink buffer */

    struct {
        uint32_t uid;
        char name[64];
        bool used;
    } users[SENSOR_USER_CACHE];
    /* UtcTime down to the second, made when the second changes (fields.c) */
    int64_t utc_sec;
    size_t utc_len;
    bool utc_valid;
    char utc[48];
};

/* deliver.c: what every mode shares */
void sensor_event_init(struct sensor_event *ev, enum sensor_kind kind, uint64_t ts_ns, uint32_t pid, uint32_t tgid);
const char *sensor_join_argv(struct sensor *s, const char *argv, size_t len, uint32_t *argc);
/* an event of a process (open, network): image, command line and parent from the table */
void sensor_enrich(struct sensor *s, struct sensor_event *ev);
/* exec, fork, exit: the table follows the process, the event takes what the
 * table knows; then delivered. SENSOR_EF_FROM_PROC: the parent's start time
 * is not known (the fallback); an exit without a start time is the fallback's. */
int sensor_deliver_proc(struct sensor *s, struct sensor_event *ev);
int sensor_deliver(struct sensor *s, struct sensor_event *ev);
/* every process alive now into the table (at most max), read from /proc */
void sensor_proc_prime(struct sensor *s, size_t max);

/* decode.c */
int sensor_on_record(struct sensor *s, void *data, size_t size); /* one ring-buffer record */

/* ebpf.c */
int ebpf_open(struct sensor *s, size_t ringbuf_bytes, char *errbuf, size_t errlen);
int ebpf_poll(struct sensor *s, int timeout_ms);
void ebpf_stats(const struct sensor *s, struct sensor_stats *st);
void ebpf_close(struct sensor *s);

/* capture.c writes, replay.c reads. The capture file: "STOATCP1", then
 * frames of [u32 payload length][u32 tag][payload][zero pad to 8 bytes]. */
#define CAP_MAGIC     "STOATCP1"
#define CAP_MAGIC_LEN 8u
#define CAP_FRAME_MAX (3u << 20) /* the header may name 512 paths of PATH_MAX */
struct cap_frame {
    uint32_t len;
    uint32_t tag;
};
static inline size_t cap_pad8(size_t n)
{
    return (n + 7u) & ~(size_t)7u;
}
enum cap_tag {
    CAP_HEADER = 1, /* u32 boot_tag, u32 nwatch, hostname NUL, nwatch paths NUL each */
    CAP_RECORD,     /* one ring-buffer record, bytes as received */
    CAP_POLL,       /* i64 boot_to_wall_ns: a poll starts */
    CAP_CLOCK,      /* i64 wall-clock ns: the poll ended (sensor_clock_ns) */
    CAP_PROC,       /* struct cap_proc + image + command line: a process read from /proc */
};
struct cap_proc {
    uint32_t tgid, ppid;
    uint64_t start_ns;
    uint32_t image_len, cmd_len; /* UINT32_MAX: absent */
};
int capture_open(struct sensor *s, const char *path, char *errbuf, size_t errlen);
void capture_frame(struct sensor *s, enum cap_tag tag, const void *a, size_t alen, const void *b, size_t blen,
                   const void *c, size_t clen);
void capture_proc(struct sensor *s, const struct proc_info *pi);
void capture_flush(struct sensor *s);
void capture_close(struct sensor *s);
void capture_stats(const struct sensor *s, struct sensor_stats *st);
int replay_open(struct sensor *s, const char *path, unsigned passes, char *errbuf, size_t errlen);
int replay_poll(struct sensor *s);
void replay_close(struct sensor *s);

/* fallback.c */
int fallback_open(struct sensor *s, char *errbuf, size_t errlen);
int fallback_poll(struct sensor *s, int timeout_ms);
void fallback_close(struct sensor *s);

/* privs.c: after loading, become run_as (NULL: keep the user) with only
 * what the running mode needs; see privs.c for what stays and why */
int sensor_drop_privileges(struct sensor *s, const char *run_as, char *errbuf, size_t errlen);

/* fileops.c: the default file set, and path operations (rename, unlink,
 * chmod...) decoded and checked against the watch list */
int sensor_default_files(struct sensor *s, const char *const *extra, size_t nextra, bool defaults);
int fileops_decode(struct sensor *s, const struct sensor_rec_fileop *r, size_t size);
/* the watch that an absolute path falls under (component prefix), or -1 */
int fileops_watch_of(const struct sensor *s, const char *path);
/* base + "/" + path, with "." and ".." taken out lexically, into out (PATH_MAX) */
int fileops_join(const char *base, size_t blen, const char *path, size_t plen, char *out, size_t cap);
const char *sensor_fop_name(uint32_t op);

/* pipes.c: who writes the pipe on a reader's stdin (see pipes.c) */
struct pipes *pipes_new(size_t cap);
void pipes_free(struct pipes *p);
/* an exec with pipes on fd 0 and/or 1: fills ev's stdin_from fields when the
 * writer is known; returns a pipeline event to deliver after ev (a reader
 * that exec'd before its writer) in *link, or 0 */
int pipes_exec(struct sensor *s, struct sensor_event *ev, uint64_t in_pipe, uint64_t out_pipe, uint32_t dev,
               struct sensor_event *link);

/* ptys.c: a program on a terminal made by a parent holding an inet socket
 * (see ptys.c); each is called after the event was delivered, and may
 * deliver one SENSOR_PTY_STDIO event */
void ptys_exec(struct sensor *s, const struct sensor_event *ev);
void ptys_fork(struct sensor *s, const struct sensor_event *ev);
void ptys_net(struct sensor *s, const struct sensor_event *ev);

/* fields.c */
const char *sensor_user_name(struct sensor *s, uint32_t uid);

#endif
