/* The Sigma syntax tree: what a rule document says, checked only for shape
 * (right keys, right node kinds). Meaning (modifiers, conditions, values) is
 * checked by the compiler in compile.c. Three document kinds share the tree:
 * detection rules, correlation rules and filters (spec v2.1). Strings point
 * into the YAML arena of the file being loaded. */
#ifndef STOAT_RULES_SIGMA_H
#define STOAT_RULES_SIGMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/rules.h"
#include "util/yaml.h"

struct sigma_loc {
    const char *file;
    uint32_t line, col;
};

/* One `field|mod|mod: values` entry, or a keyword value (field NULL). */
struct sigma_item {
    const char *field;       /* NULL: keyword search over all values */
    const char *const *mods; /* modifier names in order */
    size_t nmods;
    const struct ynode *const *values;
    size_t nvalues;
    bool value_list; /* the YAML value was a list */
    struct sigma_loc loc;
};

/* A map: its items are ANDed. */
struct sigma_map {
    struct sigma_item *items;
    size_t n;
};

/* A search identifier: a list of alternatives, ORed. A plain map is a list of
 * one; a keyword list is one single-item map per keyword. */
struct sigma_search {
    const char *name;
    struct sigma_map *alts;
    size_t nalts;
    struct sigma_loc loc;
};

struct sigma_detection {
    struct sigma_search *searches;
    size_t nsearches;
    const char *const *conditions; /* a list is ORed */
    struct sigma_loc *condition_locs;
    size_t nconditions;
};

struct sigma_corr_alias {
    const char *name;
    const char *const *rules; /* rule name -> field, pairwise */
    const char *const *fields;
    size_t n;
};

struct sigma_correlation {
    enum stoat_corr_type type;
    const char *const *rules;
    size_t nrules;
    const char *const *group_by;
    size_t ngroup_by;
    int64_t timespan_ms;
    const char *timespan_text;
    struct stoat_corr_condition cond;
    struct sigma_corr_alias *aliases;
    size_t naliases;
    bool generate;
};

struct sigma_filter {
    const char *const *rules; /* ids or names of the rules it tunes */
    size_t nrules;
};

struct sigma_rule {
    enum stoat_rule_kind kind;
    struct stoat_rule_meta meta; /* strings in the YAML arena */
    struct sigma_detection det;  /* detection rules and filters */
    struct sigma_correlation corr;
    struct sigma_filter filter;
    struct sigma_loc loc;
};

/* Builds the tree for one YAML document. On error reports through diag
 * (file:line:column, rule id when known) and returns non-zero. */
stoat_err sigma_parse_doc(const char *file, const struct ynode *root, struct arena *a, struct sigma_rule *out,
                          stoat_diag_fn diag, void *diag_ctx);

#endif
