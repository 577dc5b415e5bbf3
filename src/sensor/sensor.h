/* The live kernel sensor: internal API for `stoat watch`.
 *
 * Why it looks like this: the engine wants decoded events with Sigma field
 * names and nothing about eBPF, netlink or /proc. So the sensor hands out one
 * flat struct per event (valid only during the callback, no allocation per
 * event for the caller), a mode string that says plainly what this run cannot
 * see, and loss counters per cause: a sensor that drops events must say so.
 * The event and its counters are declared in sensor_event.h, included here.
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
 * replay delivers the events the live run delivered (replay.c says how).
 *
 * Threading: one sensor is driven by one thread (sensor_poll and
 * sensor_event_fields are not reentrant for the same sensor). Call
 * sensor_open before starting other threads if privileges are to be dropped:
 * capabilities are per thread, and it refuses to drop them with other
 * threads alive.
 */
#ifndef STOAT_SENSOR_H
#define STOAT_SENSOR_H

#include "sensor/sensor_event.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sensor;

struct sensor_opts {
    const char *const *watch_paths; /* absolute paths; a prefix matches on path-component
	                                    boundaries: "/srv/specs" covers /srv/specs/a/b.pdf */
    size_t nwatch;
    bool force_fallback;      /* skip eBPF even when it could load */
    bool keep_privileges;     /* default: drop privileges after loading (privs.c) */
    const char *run_as;       /* and become this user, with its primary group only;
	                                    NULL: keep the user (root keeps uid 0, not its powers) */
    size_t ringbuf_bytes;     /* 0: 16 MiB; rounded up to a power of two */
    size_t proc_table_size;   /* 0: 16384 processes kept for enrichment */
    const char *capture_path; /* eBPF mode: every ring-buffer record to this file (created) */
    const char *replay_path;  /* decode this capture instead of the kernel: no BPF, no
	                                    privileges; watch_paths, force_fallback, keep_privileges,
	                                    run_as and ringbuf_bytes are ignored (the capture names its paths) */
    unsigned replay_passes;   /* replay the file this many times (0: once), each pass moved
	                                    later in time by the capture's length, so processes differ */
    /* The default file set (eBPF mode): changes (writes, creates, renames,
     * deletes, mode and owner changes) of the persistence and privilege
     * files listed in fileops.c, every user's start-up files and
     * authorized_keys included, are reported without watch_paths.
     * no_default_files turns it off; extra_files adds paths to it (changes
     * only, like the defaults; a site's own files, or a test's). */
    bool no_default_files;
    const char *const *extra_files;
    size_t nextra;
};

int sensor_open(const struct sensor_opts *opts, struct sensor **out, char *errbuf, size_t errlen);
const char *sensor_mode(const struct sensor *s);
/* Waits up to timeout_ms (-1: forever) for events and calls cb for each one
 * ready. Returns the number of events delivered, or a negative errno; a
 * non-zero return of cb stops the batch and is returned as is. A replay
 * delivers one recorded poll per call without waiting, and returns -ENODATA
 * once the file (all its passes) has been delivered. */
int sensor_poll(struct sensor *s, int timeout_ms, int (*cb)(void *ctx, const struct sensor_event *ev), void *ctx);
void sensor_stats(const struct sensor *s, struct sensor_stats *st);
/* The wall clock (ns since the epoch) when the last sensor_poll returned:
 * the time a live consumer should judge quiet periods by. A replay gives
 * the time the capture recorded there, so it closes windows where the live
 * run closed them. */
int64_t sensor_clock_ns(const struct sensor *s);
void sensor_close(struct sensor *s);

#endif
