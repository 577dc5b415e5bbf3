/* The live kernel sensor: internal API for `stoat watch`.
 *
 * Why it looks like this: the engine wants decoded events with Sigma field
 * names and nothing about eBPF, netlink or /proc. So the sensor hands out one
 * flat struct per event (valid only during the callback, no allocation per
 * event for the caller), a mode string that says plainly what this run cannot
 * see, and loss counters per cause: a sensor that drops events must say so.
 *
 * Two capture modes behind the same API:
 *  - "ebpf": tracepoint programs (exec/fork/exit, opens of watched paths
 *    filtered in the kernel, TCP connect/accept/close with byte counts, shells
 *    whose stdio is a socket), one ring buffer.
 *  - fallback: netlink proc connector (exec/fork/exit) + /proc reads for the
 *    details + fanotify for watched paths; no network. Used when eBPF cannot
 *    load or when asked for.
 *
 * Capture and replay, for measuring and checking the user-space side alone:
 * with capture_path, every ring-buffer record is written to a file as it was
 * received, with what decoding took from outside the records (the clock
 * offset of each poll, the /proc reads of processes older than the sensor,
 * the wall clock at the end of each poll). With replay_path, the sensor opens
 * no kernel interface at all: sensor_poll feeds such a file through the same
 * decoding, process table and enrichment, one recorded poll per call, so a
 * replay delivers the events the live run delivered (capture.c says how).
 *
 * Threading: one sensor is driven by one thread (sensor_poll and
 * sensor_event_fields are not reentrant for the same sensor). Call
 * sensor_open before starting other threads if privileges are to be dropped:
 * capabilities are per thread.
 */
#ifndef STOAT_SENSOR_H
#define STOAT_SENSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sensor;

struct sensor_opts {
	const char *const *watch_paths;  /* absolute paths; a prefix matches on path-component
	                                    boundaries: "/srv/specs" covers /srv/specs/a/b.pdf */
	size_t nwatch;
	bool force_fallback;             /* skip eBPF even when it could load */
	bool keep_privileges;            /* default: drop capabilities after loading */
	size_t ringbuf_bytes;            /* 0: 16 MiB; rounded up to a power of two */
	size_t proc_table_size;          /* 0: 16384 processes kept for enrichment */
	const char *capture_path;        /* eBPF mode: every ring-buffer record to this file (created) */
	const char *replay_path;         /* decode this capture instead of the kernel: no BPF, no
	                                    privileges; watch_paths, force_fallback, keep_privileges
	                                    and ringbuf_bytes are ignored (the capture names its paths) */
	unsigned replay_passes;          /* replay the file this many times (0: once), each pass moved
	                                    later in time by the capture's length, so processes differ */
};

enum sensor_kind {
	SENSOR_EXEC = 1,      /* Sysmon EventID 1 */
	SENSOR_FORK,          /* stoat EventID 1001 (no Sysmon equivalent) */
	SENSOR_EXIT,          /* Sysmon EventID 5 */
	SENSOR_OPEN,          /* Sysmon EventID 11 (here: any open of a watched path) */
	SENSOR_CONNECT,       /* Sysmon EventID 3, Initiated=true */
	SENSOR_ACCEPT,        /* Sysmon EventID 3, Initiated=false */
	SENSOR_CLOSE_STATS,   /* Sysmon EventID 3 + BytesSent/BytesReceived, at close */
	SENSOR_SOCK_STDIO,    /* stoat EventID 1002: a process started with an inet socket on fd 0/1/2 */
	SENSOR_KIND_MAX_
};

/* event flags */
#define SENSOR_EF_ARGV_TRUNC    0x0001u  /* argv longer than the hard cap (128 KiB): cut, and counted */
#define SENSOR_EF_ARGV_MISSING  0x0002u  /* an argv part was lost (ring buffer full): counted */
#define SENSOR_EF_PATH_TRUNC    0x0004u  /* a path hit the depth/length cap */
#define SENSOR_EF_FAILED        0x0008u  /* connect that did not complete */
#define SENSOR_EF_FLAGS_GUESS   0x0010u  /* open flags taken from the file (no O_CREAT/O_TRUNC) */
#define SENSOR_EF_PROC_RACE     0x0020u  /* fallback: the process was gone before /proc was read */
#define SENSOR_EF_FROM_PROC     0x0040u  /* details read from /proc, not captured at the event */

struct sensor_addr {
	uint16_t family;      /* AF_INET, AF_INET6 */
	uint16_t port;
	uint8_t addr[16];     /* v4 in the first 4 bytes */
};

/* One decoded event. Pointers are valid during the callback only; strings are
 * NUL-terminated (argv is NUL-separated, argv_len bytes). NULL = unknown. */
struct sensor_event {
	enum sensor_kind kind;
	uint32_t flags;                  /* SENSOR_EF_* */
	uint64_t ts_ns;                  /* wall clock, ns since the epoch */
	uint32_t pid, tgid, ppid;        /* tgid is the process id */
	uint64_t start_time_ns;          /* boot-time ns: (tgid, start_time_ns) names a process uniquely */
	uint64_t parent_start_time_ns;
	uint32_t uid, gid, euid, egid;
	uint32_t loginuid, sessionid;    /* audit login uid / session (-1 if none) */
	uint32_t sid;                    /* POSIX session id */
	uint64_t cgroup_id;
	char comm[16];
	const char *tty;                 /* "pts3"; NULL: none */
	const char *image;               /* executable path */
	const char *cwd;
	const char *argv;
	size_t argv_len;
	uint32_t argc;
	const char *cmdline;             /* argv joined by spaces */
	const char *parent_image, *parent_cmdline;   /* from the process table */
	int32_t exit_code;               /* EXIT: wait status */
	const char *path;                /* OPEN */
	uint32_t open_flags;
	int32_t watch_index;             /* OPEN: which opts.watch_paths entry matched */
	int32_t fd;                      /* ACCEPT: fd; SOCK_STDIO: bit mask of fds 0..2 */
	struct sensor_addr src, dst;     /* src = local end */
	bool initiated;
	uint8_t protocol;                /* IPPROTO_TCP */
	uint64_t bytes_sent;             /* CLOSE_STATS: acknowledged bytes sent */
	uint64_t bytes_received;
	uint64_t sock_id;                /* joins CONNECT/ACCEPT with CLOSE_STATS */
};

enum sensor_loss {
	SENSOR_LOST_RINGBUF_EXEC,        /* ring buffer full, per record kind */
	SENSOR_LOST_RINGBUF_ARGV,
	SENSOR_LOST_RINGBUF_FORK,
	SENSOR_LOST_RINGBUF_EXIT,
	SENSOR_LOST_RINGBUF_OPEN,
	SENSOR_LOST_RINGBUF_NET,
	SENSOR_LOST_ARGV_CAP,            /* argv truncated at the hard cap (event kept, marked) */
	SENSOR_LOST_ARGV_READ,           /* argv unreadable */
	SENSOR_LOST_PATH_CAP,            /* path truncated (event kept, marked) */
	SENSOR_LOST_SOCK_TABLE,          /* connection not tracked: owner table full */
	SENSOR_LOST_OPEN_TABLE,          /* open flags table full */
	SENSOR_LOST_ARGV_PART,           /* exec arrived without all its argv parts */
	SENSOR_LOST_BAD_RECORD,          /* record failed validation */
	SENSOR_LOST_NETLINK,             /* fallback: proc connector overrun (ENOBUFS) */
	SENSOR_LOST_FANOTIFY,            /* fallback: fanotify queue overflow */
	SENSOR_LOST_PROC_RACE,           /* fallback: process gone before /proc was read (event kept, fields missing) */
	SENSOR_LOST_MAX_
};

struct sensor_stats {
	uint64_t events;                 /* delivered to the callback */
	uint64_t by_kind[SENSOR_KIND_MAX_];
	uint64_t lost[SENSOR_LOST_MAX_];
	uint64_t lost_total;             /* events dropped (not counting the "kept, marked" causes) */
	uint64_t proc_table_evictions;
	uint64_t proc_lookups_from_proc; /* processes that began before the sensor, read from /proc */
	uint64_t bpf_run_ns, bpf_run_cnt;/* time spent in the kernel programs and their runs, all
	                                    programs together (needs sysctl kernel.bpf_stats_enabled=1) */
	uint64_t capture_bytes;          /* written to capture_path */
	int capture_error;               /* errno of the first failed capture write (capturing stops), 0 */
};

int sensor_open(const struct sensor_opts *opts, struct sensor **out, char *errbuf, size_t errlen);
const char *sensor_mode(const struct sensor *s);
/* Waits up to timeout_ms (-1: forever) for events and calls cb for each one
 * ready. Returns the number of events delivered, or a negative errno; a
 * non-zero return of cb stops the batch and is returned as is. A replay
 * delivers one recorded poll per call without waiting, and returns -ENODATA
 * once the file (all its passes) has been delivered. */
int sensor_poll(struct sensor *s, int timeout_ms,
		int (*cb)(void *ctx, const struct sensor_event *ev), void *ctx);
void sensor_stats(const struct sensor *s, struct sensor_stats *st);
/* The wall clock (ns since the epoch) when the last sensor_poll returned:
 * the time a live consumer should judge quiet periods by. A replay gives
 * the time the capture recorded there, so it closes windows where the live
 * run closed them. */
int64_t sensor_clock_ns(const struct sensor *s);
void sensor_close(struct sensor *s);
const char *sensor_loss_name(enum sensor_loss l);
const char *sensor_kind_name(enum sensor_kind k);

/* Emits the event as Sigma-taxonomy fields, Sysmon-for-Linux style (see
 * fields.c for the table). Values are valid during emit only. Returns the
 * number of fields, or emit's non-zero return. */
int sensor_event_fields(struct sensor *s, const struct sensor_event *ev,
			int (*emit)(void *ctx, const char *name, const char *value), void *ctx);

#endif
