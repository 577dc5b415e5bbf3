/* The report of regex evaluations stopped by a limit (engine.h): the rules
 * with most such evaluations, summed over the threads' match contexts. */
#include "engine/engine.h"

size_t engine_regex_limited_top(const struct stoat_ruleset *rs, const uint64_t *const *sums, size_t nsums,
                                struct stoat_rule_limit *top, size_t max, uint64_t *total)
{
    size_t nrules = 0, ntop = 0;
    uint64_t all = 0;
    for (size_t r = 0; r < rs->nrules; r++) {
        uint64_t n = 0;
        for (size_t k = 0; k < nsums; k++)
            n += sums[k] ? sums[k][r] : 0;
        if (!n)
            continue;
        nrules++;
        all += n;
        /* into the few kept, most first (ties: rule order) */
        size_t k = ntop < max ? ntop++ : max;
        while (k > 0 && top[k - 1].evaluations < n) {
            if (k < max)
                top[k] = top[k - 1];
            k--;
        }
        if (k < max)
            top[k] = (struct stoat_rule_limit){&rs->rules[r].meta, n};
    }
    if (total)
        *total = all;
    return nrules;
}
