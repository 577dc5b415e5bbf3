/* See trace.h. The totals live in a fixed table, a row per thread taken on
 * its first trace_add; a thread keeps its row in a thread-local index, so
 * adding is a store into its own row, no lock. */
#include "pipeline/trace.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TRACE_THREADS 64

struct trace_row {
    int64_t wall[TRACE_STEPS], cpu[TRACE_STEPS];
    uint64_t n[TRACE_STEPS];
};

static struct trace_row rows[TRACE_THREADS];
static _Atomic unsigned nrows, generation;
static _Thread_local int my_row = -1;
static _Thread_local unsigned my_generation; /* rows are taken anew after a report */
static int enabled = -1;                     /* not yet read */

static const char *const step_names[TRACE_STEPS] = {
    [TRACE_PARSE] = "parse",
    [TRACE_WRITE] = "write",
    [TRACE_WAIT_WORK] = "wait for work",
    [TRACE_WAIT_FREE] = "wait for unit",
    [TRACE_SOURCE] = "source",
    [TRACE_JOIN] = "wait for workers",
    [TRACE_CORR_END] = "end: correlations",
    [TRACE_BEHAVIOUR_END] = "end: behaviour",
    [TRACE_SINKS_END] = "end: sinks",
};

bool trace_on(void)
{
    if (enabled < 0) {
        const char *s = getenv("STOAT_STATS");
        enabled = s && strstr(s, "pipeline") != NULL;
    }
    return enabled;
}

static int64_t ns_of(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

void trace_start(struct trace_span *s)
{
    if (!trace_on())
        return;
    s->wall = ns_of(CLOCK_MONOTONIC);
    s->cpu = ns_of(CLOCK_THREAD_CPUTIME_ID);
}

void trace_add(enum trace_step step, const struct trace_span *s)
{
    if (!trace_on())
        return;
    if (my_row < 0 || my_generation != atomic_load(&generation)) {
        my_generation = atomic_load(&generation);
        unsigned r = atomic_fetch_add(&nrows, 1);
        if (r >= TRACE_THREADS)
            return;
        my_row = (int)r;
    }
    struct trace_row *row = &rows[my_row];
    row->wall[step] += ns_of(CLOCK_MONOTONIC) - s->wall;
    row->cpu[step] += ns_of(CLOCK_THREAD_CPUTIME_ID) - s->cpu;
    row->n[step]++;
}

void trace_report(void)
{
    if (!trace_on())
        return;
    unsigned n = atomic_load(&nrows);
    for (unsigned r = 0; r < n && r < TRACE_THREADS; r++) {
        fprintf(stderr, "pipeline: thread %u:", r);
        for (int s = 0; s < TRACE_STEPS; s++)
            if (rows[r].n[s])
                fprintf(stderr, " %s %.3f s (cpu %.3f, %llu);", step_names[s], (double)rows[r].wall[s] / 1e9,
                        (double)rows[r].cpu[s] / 1e9, (unsigned long long)rows[r].n[s]);
        fputc('\n', stderr);
    }
    memset(rows, 0, sizeof(rows));
    atomic_store(&nrows, 0);
    atomic_fetch_add(&generation, 1);
}
