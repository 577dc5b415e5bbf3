/* Loading and compiling Sigma rules.
 *
 * A loader reads rule files (YAML, many documents each, from files and
 * directories), reports every rule it cannot accept with file:line:column and
 * the reason, and goes on. Building turns what it accepted into an immutable
 * ruleset that any number of hunting threads share. */
#ifndef STOAT_RULES_H
#define STOAT_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"

#ifdef __cplusplus
extern "C" {
#endif

enum stoat_level {
    STOAT_LEVEL_NONE = 0, /* the rule gives none */
    STOAT_LEVEL_INFORMATIONAL = 1,
    STOAT_LEVEL_LOW = 2,
    STOAT_LEVEL_MEDIUM = 3,
    STOAT_LEVEL_HIGH = 4,
    STOAT_LEVEL_CRITICAL = 5,
};
#define STOAT_LEVEL_COUNT 6
const char *stoat_level_name(enum stoat_level level);
/* Accepts the Sigma names and "info"; false when unknown. */
bool stoat_level_parse(const char *name, enum stoat_level *out);

enum stoat_status {
    STOAT_STATUS_NONE = 0,
    STOAT_STATUS_STABLE,
    STOAT_STATUS_TEST,
    STOAT_STATUS_EXPERIMENTAL,
    STOAT_STATUS_DEPRECATED,
    STOAT_STATUS_UNSUPPORTED,
};
#define STOAT_STATUS_COUNT 6
const char *stoat_status_name(enum stoat_status status);
bool stoat_status_parse(const char *name, enum stoat_status *out);

enum stoat_rule_kind {
    STOAT_RULE_DETECTION = 0,
    STOAT_RULE_CORRELATION = 1,
    STOAT_RULE_FILTER = 2
};

enum stoat_corr_type {
    STOAT_CORR_NONE = 0,
    STOAT_CORR_EVENT_COUNT,
    STOAT_CORR_VALUE_COUNT,
    STOAT_CORR_TEMPORAL,
    STOAT_CORR_TEMPORAL_ORDERED,
    STOAT_CORR_VALUE_SUM,
    STOAT_CORR_VALUE_AVG,
    STOAT_CORR_VALUE_PERCENTILE,
};

/* "event_count", "temporal_ordered", ... as the specification writes them */
const char *stoat_corr_type_name(enum stoat_corr_type type);

/* A correlation condition: each bound present is ANDed. */
struct stoat_corr_condition {
    const char *field; /* value_* and value_count */
    bool has_gt, has_gte, has_lt, has_lte, has_eq, has_neq;
    double gt, gte, lt, lte, eq, neq;
    bool has_percentile; /* value_percentile: `percentile: P` (pySigma's key, 0 < P <= 100) */
    double percentile;
};

struct stoat_strlist {
    const char *const *items;
    size_t n;
};

struct stoat_rule_meta {
    enum stoat_rule_kind kind;
    const char *id, *name, *title, *description, *author, *date, *modified, *license, *taxonomy;
    enum stoat_level level;
    enum stoat_status status;
    const char *product, *category, *service, *definition;
    struct stoat_strlist tags, references, falsepositives, fields, scope;
    struct stoat_strlist attack_ids;     /* "T1059.001" split out of attack.* tags */
    struct stoat_strlist attack_tactics; /* "discovery", "credential-access", ... */
    const char *file;
    uint32_t line;
};

/* A rule some of whose evaluations a regular expression could not decide:
 * it hit PCRE2's match, depth or heap limit (a pattern that backtracks
 * without end on some value, ^(a+)+$ on "aaa...ab"). Such an evaluation
 * counts as no match. The hunt's and the watch's figures name them. */
struct stoat_rule_limit {
    const struct stoat_rule_meta *rule; /* the ruleset's: valid while it lives */
    uint64_t evaluations;
};
#define STOAT_LIMIT_RULES 8

/* Which rules to keep (all given criteria must hold). Globs use '*'. */
struct stoat_rule_select {
    unsigned level_mask;     /* bit per enum stoat_level; 0 = all */
    unsigned status_mask;    /* bit per enum stoat_status; 0 = all but deprecated/unsupported */
    const char *const *tags; /* any of these tag globs */
    size_t ntags;
    const char *const *exclude_tags;
    size_t nexclude_tags;
    const char *const *ids; /* any of these ids (or names) */
    size_t nids;
    const char *const *exclude_ids;
    size_t nexclude_ids;
    const char *product, *category, *service; /* logsource globs; NULL = any */
};

struct stoat_load_opts {
    const char *mapping_path;      /* logsource and field mapping (data/mapping.yml) */
    const char *placeholders_path; /* values for `expand`; NULL = none defined */
    const char *jewels_path;       /* crown jewels (what must not leave); NULL = none */
    const char *baseline_path;     /* a host profile to raise first uses against; NULL = none */
    bool baseline_learn;           /* load the watch for learning a profile (stoat baseline learn) */
    const char *lotl_path;         /* the watched tools; NULL = lotl-tools.yml beside the mapping */
    struct stoat_rule_select select;
    stoat_diag_fn diag;
    void *diag_ctx;
    /* The compiled prefilter (Hyperscan databases) is kept in cache_dir
     * (stoat_rules_cache_dir gives the usual one; NULL: no cache) and read
     * back when the same rules load again. compiled_in: read the databases
     * from this file only (stoat rules compile -o) and fail rather than
     * compile when it does not hold these rules'. compiled_out: write them
     * to this file after the build. */
    const char *cache_dir;
    const char *compiled_in;
    const char *compiled_out;
};

struct stoat_load_stats {
    size_t files;        /* rule files read */
    size_t documents;    /* YAML documents seen */
    size_t loaded;       /* detection rules compiled */
    size_t correlations; /* correlation rules kept */
    size_t filters;      /* filter documents applied */
    size_t rejected;     /* documents refused, each with a diagnostic */
    size_t deselected;   /* valid but left out by the selection */
    size_t unrouted;     /* loaded rules whose logsource maps to no event source */
    /* Rule files reached again (given twice, by a link, in two folders
     * given) and folders given again (by any path): each read once. */
    size_t files_again, folders_again;
    double load_seconds;
    bool prefilter_cached; /* the prefilter was read (cache or compiled file), not compiled */
};

struct stoat_loader;
struct stoat_ruleset;

stoat_err stoat_loader_create(const struct stoat_load_opts *opts, struct stoat_loader **out);
/* A rule file or a directory (searched recursively for *.yml and *.yaml). A
 * file reached again, by any path (the same device and inode), is loaded
 * once, in its first place; a folder given again is not read again. Each
 * is a note in the diagnostics and a count in the stats. */
stoat_err stoat_loader_add_path(struct stoat_loader *l, const char *path);
stoat_err stoat_loader_add_text(struct stoat_loader *l, const char *name, const char *text, size_t len);
/* Compiles everything accepted so far. The loader may be destroyed after. */
stoat_err stoat_loader_build(struct stoat_loader *l, struct stoat_ruleset **out);
void stoat_loader_stats(const struct stoat_loader *l, struct stoat_load_stats *out);
void stoat_loader_destroy(struct stoat_loader *l);

size_t stoat_ruleset_count(const struct stoat_ruleset *rs);
const struct stoat_rule_meta *stoat_ruleset_rule(const struct stoat_ruleset *rs, size_t i);
/* Index of the rule with this id or name, or -1. */
long stoat_ruleset_find(const struct stoat_ruleset *rs, const char *id_or_name);
void stoat_ruleset_stats(const struct stoat_ruleset *rs, struct stoat_load_stats *out);
/* Rules whose id an earlier rule of the set has: two different files with
 * one id (two copies of a rule folder) are both kept, and both alert. */
size_t stoat_ruleset_duplicate_ids(const struct stoat_ruleset *rs);
void stoat_ruleset_destroy(struct stoat_ruleset *rs);

/* The folder for the compiled-rule cache: $XDG_CACHE_HOME/stoat, else
 * $HOME/.cache/stoat; with neither, /var/cache/stoat for root and NULL
 * (no cache) for others. malloc'd. */
char *stoat_rules_cache_dir(void);

#ifdef __cplusplus
}
#endif
#endif
