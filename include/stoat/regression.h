/* The SigmaHQ regression suite: a folder of info.yml files, each naming a
 * rule and event files on which the rule must match exactly match_count
 * times (at least once when no count is given). */
#ifndef STOAT_REGRESSION_H
#define STOAT_REGRESSION_H

#include <stdbool.h>

#include "stoat/hunt.h"
#include "stoat/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

struct stoat_regression_case {
    const char *info; /* the info.yml */
    const char *rule_id;
    const char *rule_title;
    const char *input; /* the event file run */
    long expected;     /* -1: at least one */
    long got;
    bool passed;
    const char *why; /* when it could not run */
};

struct stoat_regression_totals {
    unsigned passed, failed, skipped;
};

typedef void (*stoat_regression_fn)(void *ctx, const struct stoat_regression_case *c);

/* Runs every case under dir with the .json event files, or the .evtx ones. */
stoat_err stoat_regression_run(const struct stoat_ruleset *rs, const char *dir, bool evtx, stoat_regression_fn fn,
                               void *ctx, struct stoat_regression_totals *totals);

#ifdef __cplusplus
}
#endif
#endif
