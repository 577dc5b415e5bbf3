/* The condition language of Sigma detections: and/or/not, parentheses,
 * `1 of x*`, `all of x*`, `N of x*`, `them`. Parsed into a tree whose leaves
 * are search identifier indexes, resolved while parsing so that an unknown
 * name or an empty pattern is an error with its column. */
#ifndef STOAT_RULES_CONDITION_H
#define STOAT_RULES_CONDITION_H

#include <stdint.h>

#include "rules/sigma.h"

#define COND_MAX_DEPTH 64
#define COND_MAX_LEN   65536

enum cond_op {
    COND_AND,
    COND_OR,
    COND_NOT,
    COND_REF,
    COND_OF
};

struct cond_node {
    enum cond_op op;
    uint32_t search; /* COND_REF */
    uint32_t need;   /* COND_OF: how many kids must hold; nkids for `all` */
    uint32_t nkids;
    struct cond_node **kids;
};

/* Parses one condition string of det. loc points at the string in the file,
 * for messages; rule_id is for messages too. */
stoat_err cond_parse(const char *text, const struct sigma_detection *det, const struct sigma_loc *loc,
                     const char *rule_id, struct arena *a, struct cond_node **out, stoat_diag_fn diag, void *diag_ctx);

#endif
