/* Watching a live Linux host: the kernel sensor (eBPF on tracepoints, or the
 * proc connector and fanotify where eBPF cannot load) feeding the same engine
 * and the same behaviour analytics as `stoat hunt`, in one thread, as events
 * happen. Rules can be replaced while it runs; nothing the sensor delivered
 * is dropped by the swap, and everything it had to drop is counted. */
#ifndef STOAT_WATCH_H
#define STOAT_WATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/hunt.h"

#ifdef __cplusplus
extern "C" {
#endif

struct stoat_watch_opts {
    const char *const *watch_paths; /* files whose opens are reported (prefixes) */
    size_t nwatch;
    bool force_fallback; /* no eBPF: the proc connector and fanotify */
    /* The default file set (changes of persistence and privilege files,
     * eBPF mode; src/sensor/README.md lists it): off, or extended */
    bool no_default_files;
    const char *const *extra_files;
    size_t nextra;
    /* After loading, the process becomes this user (its primary group, no
     * others) and keeps only CAP_DAC_READ_SEARCH, plus CAP_SYS_PTRACE in
     * the fallback (src/sensor/privs.c says why). NULL: the user stays (root
     * keeps uid 0, with the same capabilities only). Ignored by a replay. */
    const char *run_as;
    enum stoat_level min_level;
    const char *record_path; /* every event as JSON lines, for a later stoat hunt */
    /* The sensor's raw records: capture_path writes every ring-buffer record
     * as received (eBPF mode only); replay_path reads such a capture instead
     * of the kernel (no root needed), through the same decoding, process
     * table, rules and analytics, as fast as it goes; replay_passes repeats
     * it (0: once), each pass later in time so its processes are new ones. */
    const char *capture_path;
    const char *replay_path;
    unsigned replay_passes;
    struct stoat_behaviour_opts behaviour;
    stoat_diag_fn diag;
    void *diag_ctx;
};

struct stoat_watch_stats {
    uint64_t events; /* from the sensor */
    uint64_t lost;   /* events the sensor could not deliver (all causes) */
    uint64_t marked; /* delivered but marked incomplete (argv cut, /proc race) */
    uint64_t alerts, incidents;
    uint64_t reloads;
    int capture_error;      /* errno of a failed capture write (capturing stopped), 0 */
    char lost_detail[512];  /* per cause, for a human */
    uint64_t regex_limited; /* rule evaluations a regex limit left undecided (as in stoat_hunt_stats) */
    char regex_detail[512]; /* the rules with most of them and how many, for a human */
};

struct stoat_watch;

/* Loads the sensor (needs root, except for a replay); after this the process
 * runs as opts->run_as with only the capabilities the sensor needs, so open
 * whatever needs root first, and call it before starting threads. On failure *out is NULL and opts->diag (when given) has said why. */
stoat_err stoat_watch_create(const struct stoat_ruleset *rs, const struct stoat_watch_opts *opts,
                             struct stoat_watch **out);
/* Which mode runs and what it cannot see. */
const char *stoat_watch_mode(const struct stoat_watch *w);
stoat_err stoat_watch_add_sink(struct stoat_watch *w, const struct stoat_sink *sink);
/* Every event the sensor delivers, matched or not, to sink's event callback
 * (the fleet's publisher: stoat_sink_lines with events); one such sink. */
stoat_err stoat_watch_add_event_sink(struct stoat_watch *w, const struct stoat_sink *sink);
/* Handles what the sensor has, waiting up to timeout_ms; returns the number
 * of events handled, -1 on a sensor error, or STOAT_WATCH_END once a replay
 * has handled the whole capture. */
#define STOAT_WATCH_END (-2)
int stoat_watch_poll(struct stoat_watch *w, int timeout_ms);
/* Replaces the rules between polls; the old ruleset may be freed after. */
void stoat_watch_set_rules(struct stoat_watch *w, const struct stoat_ruleset *rs);
void stoat_watch_stats(const struct stoat_watch *w, struct stoat_watch_stats *out);
/* Closes open chains (incidents are reported) and flushes the sinks. */
stoat_err stoat_watch_finish(struct stoat_watch *w);
void stoat_watch_destroy(struct stoat_watch *w);

#ifdef __cplusplus
}
#endif
#endif
