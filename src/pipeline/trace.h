/* Where a hunt's threads spend their time, for STOAT_STATS=pipeline: per
 * thread, the wall and CPU time of each stage (parsing a unit, holding the
 * writer's role, waiting for work or a free unit) and the steps of the end
 * of the run, printed to stderr when the hunt ends. It exists to find what
 * stops -j N scaling; off (the default) each call is one branch. CPU time
 * is the thread's own (CLOCK_THREAD_CPUTIME_ID): on a loaded machine the
 * wall times include being descheduled, the CPU times do not. */
#ifndef STOAT_PIPELINE_TRACE_H
#define STOAT_PIPELINE_TRACE_H

#include <stdbool.h>
#include <stdint.h>

enum trace_step {
    TRACE_PARSE,         /* a worker parses and matches a unit */
    TRACE_WRITE,         /* the writer's role: the serial stage over units */
    TRACE_WAIT_WORK,     /* a worker waits for a unit to parse */
    TRACE_WAIT_FREE,     /* the source waits for a free unit */
    TRACE_SOURCE,        /* the source splits the inputs into units */
    TRACE_JOIN,          /* the source waits for the workers to end */
    TRACE_CORR_END,      /* the end of the run: correlations closed */
    TRACE_BEHAVIOUR_END, /* cross-host and host chains, incidents */
    TRACE_SINKS_END,     /* the sinks' end (counts, flush) */
    TRACE_STEPS
};

struct trace_span {
    int64_t wall, cpu;
};

/* Reads STOAT_STATS once; true when it asks for the pipeline's figures. */
bool trace_on(void);
/* The calling thread's clocks, when tracing. */
void trace_start(struct trace_span *s);
/* Adds the time since s to the calling thread's total for step. */
void trace_add(enum trace_step step, const struct trace_span *s);
/* Prints the totals (per thread, in the order threads first traced) and
 * clears them. */
void trace_report(void);

#endif
