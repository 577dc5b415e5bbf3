/* A host's quiet time, for a fleet worker's looks (about once a second,
 * busy or idle): the wall time since the first look that found nothing new
 * of the host, added to the event time its clock stood at then. Measured
 * from that one look, not added again at each: the host's time never runs
 * faster than the wall's. Shared by the chains and the correlations. */
#ifndef STOAT_BEHAVIOUR_QUIET_H
#define STOAT_BEHAVIOUR_QUIET_H

#include <stdbool.h>
#include <stdint.h>

struct quiet_clock {
    bool active; /* something of the host came since the last look */
    bool quiet;
    int64_t from, base; /* wall time of the look it went quiet at; its clock then */
};

/* A look at wall_ns; clock: the host's event time now (INT64_MIN: none).
 * True, with *to, when the host has been quiet since an earlier look and
 * its clock should move on to *to. */
static inline bool quiet_look(struct quiet_clock *q, int64_t wall_ns, int64_t clock, int64_t *to)
{
    if (q->active || !q->quiet) { /* quiet from this look on */
        *q = (struct quiet_clock){.quiet = true, .from = wall_ns, .base = clock};
        return false;
    }
    int64_t quiet = wall_ns - q->from;
    if (q->base == INT64_MIN || quiet <= 0)
        return false;
    *to = q->base > INT64_MAX - quiet ? INT64_MAX - 1 : q->base + quiet;
    return true;
}

#endif
