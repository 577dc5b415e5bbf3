/* Hunting: running a ruleset over event logs.
 *
 * A hunt reads files, directories (recursively) and standard input, in any
 * format stoat recognises, spreads the work over threads and hands every
 * alert, in input order, to the sinks added to it. Bad records are reported
 * (file, line or offset, reason) and skipped; everything else is processed.
 * What it hands out (alerts, incidents, the sink interface) is stoat/alert.h's,
 * the same for every pipeline. */
#ifndef STOAT_HUNT_H
#define STOAT_HUNT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/alert.h"
#include "stoat/behaviour.h"
#include "stoat/error.h"
#include "stoat/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

struct stoat_hunt_opts {
    unsigned threads;           /* 0: one per core */
    enum stoat_level min_level; /* alerts below are not reported */
    bool all_events;            /* hand every event to the sinks' event callback */
    struct stoat_behaviour_opts behaviour;
    stoat_diag_fn diag; /* bad input, unreadable files */
    void *diag_ctx;
    /* Called from the reading thread now and then; bytes_total is 0 when
     * unknown (standard input, compressed files count compressed bytes). */
    void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total);
    void *progress_ctx;
    /* The host of events whose log does not name one (an audit.log without
     * node=); NULL leaves them without a host. */
    const char *host;
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
