/* `stoat hunt` as a composition of the pipeline's stages (units.h):
 *
 *   files source --> match workers --> ordered writer --> consumer --> sinks
 *
 * This file only wires them: the sinks are begun, the consumer (process
 * trees, correlations, behaviour: consume.h) is set up over them, the units
 * run from the files source to the writer, and the end closes what is open
 * and hands the counts to the sinks. */
#include <time.h>
#include <unistd.h>

#include "pipeline/consume.h"
#include "pipeline/source_files.h"
#include "pipeline/trace.h"
#include "pipeline/units.h"
#include "stoat/hunt.h"
#include "util/mem.h"

#define MAX_SINKS 8

struct stoat_hunt {
    const struct stoat_ruleset *rs;
    struct stoat_hunt_opts opts;
    struct stoat_sink sinks[MAX_SINKS];
    size_t nsinks;
    struct stoat_hunt_stats stats;
    unsigned nthreads;
    struct consumer con; /* the serial stage: process trees, chains, sinks */
};

stoat_err stoat_hunt_create(const struct stoat_ruleset *rs, const struct stoat_hunt_opts *opts, struct stoat_hunt **out)
{
    *out = NULL;
    if (!rs)
        return STOAT_ERR_ARG;
    struct stoat_hunt *h = xcalloc(1, sizeof(*h));
    h->rs = rs;
    if (opts)
        h->opts = *opts;
    h->nthreads = h->opts.threads;
    if (!h->nthreads) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        h->nthreads = n > 0 ? (unsigned)n : 1;
    }
    if (h->nthreads > 256)
        h->nthreads = 256;
    *out = h;
    return STOAT_OK;
}

stoat_err stoat_hunt_add_sink(struct stoat_hunt *h, const struct stoat_sink *sink)
{
    if (h->nsinks >= MAX_SINKS)
        return STOAT_ERR_LIMIT;
    h->sinks[h->nsinks++] = *sink;
    return STOAT_OK;
}

stoat_err stoat_hunt_run(struct stoat_hunt *h, const char *const *paths, size_t npaths)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (size_t s = 0; s < h->nsinks; s++)
        if (h->sinks[s].begin)
            h->sinks[s].begin(h->sinks[s].ctx);
    consumer_init(&h->con, h->rs, h->sinks, h->nsinks, h->opts.min_level, h->opts.all_events, &h->opts.behaviour,
                  &h->stats);
    h->con.finish_parallel = h->nthreads > 1;

    struct units_opts uo = {.threads = h->nthreads,
                            .min_level = h->opts.min_level,
                            .all_events = h->opts.all_events,
                            .diag = h->opts.diag,
                            .diag_ctx = h->opts.diag_ctx,
                            .release = source_files_release};
    struct units *u = units_start(h->rs, &uo, &h->con, &h->stats);
    struct files_source src = {.units = u,
                               .stats = &h->stats,
                               .diag = h->opts.diag,
                               .diag_ctx = h->opts.diag_ctx,
                               .progress = h->opts.progress,
                               .progress_ctx = h->opts.progress_ctx,
                               .host = h->opts.host};
    struct trace_span ts;
    trace_start(&ts);
    source_files_run(&src, paths, npaths);
    trace_add(TRACE_SOURCE, &ts);
    units_finish(u);

    stoat_err err = consumer_fini(&h->con);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    h->stats.seconds = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    trace_start(&ts);
    for (size_t s = 0; s < h->nsinks; s++)
        if (h->sinks[s].end) {
            stoat_err e = h->sinks[s].end(h->sinks[s].ctx, &h->stats);
            if (e && !err)
                err = e;
        }
    trace_add(TRACE_SINKS_END, &ts);
    trace_report();
    return err;
}

void stoat_hunt_stats(const struct stoat_hunt *h, struct stoat_hunt_stats *out)
{
    *out = h->stats;
}

void stoat_hunt_destroy(struct stoat_hunt *h)
{
    if (!h)
        return;
    for (size_t s = 0; s < h->nsinks; s++)
        if (h->sinks[s].destroy)
            h->sinks[s].destroy(h->sinks[s].ctx);
    for (size_t i = 0; i < STOAT_SKIPPED_NAMED; i++)
        free((char *)h->stats.skipped_names[i]);
    free(h);
}
