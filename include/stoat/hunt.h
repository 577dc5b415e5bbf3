/* Hunting: running a ruleset over event logs.
 *
 * A hunt reads files, directories (recursively) and standard input, in any
 * format stoat recognises, spreads the work over threads and hands every
 * alert, in input order, to the sinks added to it. Bad records are reported
 * (file, line or offset, reason) and skipped; everything else is processed. */
#ifndef STOAT_HUNT_H
#define STOAT_HUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"
#include "stoat/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

enum stoat_vtype { STOAT_V_STRING = 0, STOAT_V_NUMBER = 1, STOAT_V_BOOL = 2, STOAT_V_NULL = 3 };

struct stoat_field {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
    uint8_t type;              /* enum stoat_vtype */
};

/* Where an event came from. line is 0 for binary formats (offset is set). */
struct stoat_record_pos {
    const char *file;          /* "-" for standard input */
    const char *format;        /* "json", "evtx", ... */
    uint64_t record;           /* 1-based index of the record in the file */
    uint64_t line;
    uint64_t offset;
};

struct stoat_alert {
    const struct stoat_rule_meta *rule;
    struct stoat_record_pos pos;
    const char *timestamp;     /* as the event wrote it, NULL when absent */
    int64_t time_ns;           /* INT64_MIN when unknown */
    const char *host;          /* NULL when absent */
    const char *channel;
    const char *event_id;
    const struct stoat_field *fields;
    size_t nfields;
};

struct stoat_hunt_stats {
    uint64_t files;             /* inputs read */
    uint64_t files_failed;      /* inputs that could not be opened, recognised or read to the end */
    uint64_t files_skipped;     /* files inside folders that are not event logs (a README, say) */
    uint64_t bytes;             /* bytes read (compressed size for .gz) */
    uint64_t records;           /* records seen */
    uint64_t events;            /* records turned into events */
    uint64_t skipped;           /* malformed records skipped */
    uint64_t unrouted;          /* events of sources no loaded rule reads */
    uint64_t alerts;
    uint64_t alerts_by_level[STOAT_LEVEL_COUNT];
    uint64_t evaluated;         /* rule evaluations after the prefilter */
    uint64_t candidates;        /* rules that routing alone would have evaluated */
    double seconds;
};

/* A sink receives alerts one at a time, in input order, from one thread. */
struct stoat_sink {
    void *ctx;
    stoat_err (*begin)(void *ctx);
    stoat_err (*alert)(void *ctx, const struct stoat_alert *a);
    /* With stoat_hunt_opts.all_events: every event, matched or not (rule NULL). */
    stoat_err (*event)(void *ctx, const struct stoat_alert *e);
    stoat_err (*end)(void *ctx, const struct stoat_hunt_stats *stats);
    void (*destroy)(void *ctx);
};

struct stoat_hunt_opts {
    unsigned threads;                  /* 0: one per core */
    enum stoat_level min_level;        /* alerts below are not reported */
    bool all_events;                   /* hand every event to the sinks' event callback */
    stoat_diag_fn diag;                /* bad input, unreadable files */
    void *diag_ctx;
    /* Called from the reading thread now and then; bytes_total is 0 when
     * unknown (standard input, compressed files count compressed bytes). */
    void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total);
    void *progress_ctx;
};

struct stoat_hunt;

stoat_err stoat_hunt_create(const struct stoat_ruleset *rs, const struct stoat_hunt_opts *opts,
                            struct stoat_hunt **out);
/* The hunt takes the sink; its destroy is called with the hunt's. */
stoat_err stoat_hunt_add_sink(struct stoat_hunt *h, const struct stoat_sink *sink);
/* Paths: files, directories (recursive), "-" for standard input. */
stoat_err stoat_hunt_run(struct stoat_hunt *h, const char *const *paths, size_t npaths);
void stoat_hunt_stats(const struct stoat_hunt *h, struct stoat_hunt_stats *out);
void stoat_hunt_destroy(struct stoat_hunt *h);

#ifdef __cplusplus
}
#endif
#endif
