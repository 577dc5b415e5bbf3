/* The matching stage, the same in every pipeline.
 *
 * A producer (a reader on a hunt's worker, the sensor's callback in watch)
 * builds one event in the matcher's engine context; matcher_run routes and
 * matches it and finds, once and in one place, what the serial stage needs
 * besides the event's fields:
 * - how each matched rule is used (reported, read by correlations only,
 *   decided later because it reads Ancestors, behaviour's own);
 * - the event head: its time, host, channel and event id, and the process
 *   the event is about (a process start names the new process itself);
 * - for a process start or end, the process's details for the process table.
 * Whether the results then travel inside a unit to another thread
 * (records.c) or go straight to the serial stage (watch.c) is the
 * pipeline's business, not this stage's. */
#ifndef STOAT_PIPELINE_MATCHER_H
#define STOAT_PIPELINE_MATCHER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/engine.h"
#include "event/mapping.h"

/* How a matched rule is used (decided where the match happens). */
enum match_use {
    USE_CORRELATION = 0, /* feeds correlations only */
    USE_REPORT = 1,      /* an alert */
    USE_DEFERRED = 2,    /* reads Ancestors: decided by the serial stage */
    USE_BEHAVIOUR = 3,   /* for the behaviour analytics only */
};

/* Fields of the current event by role; NULL when the event has none (or
 * only a null value). They point into the engine context's event. Each part
 * is found only when someone reads it (most events are neither passed on
 * nor process starts): time and host when the event is passed on or is a
 * process start or end, proc[] for a start or end, the rest when passed on. */
struct match_head {
    const struct ev_field *time, *host;
    const struct ev_field *proc[PF_COUNT]; /* a process start or end: its details */
    const struct ev_field *channel, *event_id;
    const struct ev_field *guid, *pid, *logon_id; /* the process the event is about */
};

struct match_result {
    const uint32_t *rules; /* the rules worth passing on (ruleset indexes) */
    const uint8_t *use;    /* and their enum match_use */
    size_t n;
    int spec;    /* the event's process start/end spec (ruleset procs), or -1 */
    bool passed; /* the event goes on to the serial stage (n > 0, or always) */
    struct match_head head;
};

/* One per thread. */
struct matcher {
    const struct stoat_ruleset *rs;
    struct engine_ctx *eng; /* the producer builds the event here */
    enum stoat_level min_level;
    uint32_t *rules;
    uint8_t *use;
    size_t cap;
};

void matcher_init(struct matcher *m, const struct stoat_ruleset *rs, enum stoat_level min_level);
void matcher_fini(struct matcher *m);

/* Matches the event built in m->eng and finds its head as far as the
 * serial stage will read it. always: every event goes on, matched or not.
 * Valid until the next event. */
void matcher_run(struct matcher *m, bool always, struct match_result *r);

#endif
