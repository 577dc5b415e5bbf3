/* The compiled ruleset: immutable after build and shared by every hunting
 * thread. Rules are grouped by logsource; each group has a multi-pattern
 * prefilter database, so one scan of an event's values tells which of its
 * rules can possibly match. A kind of event (channel + event id) maps to a
 * "class": the groups it must be checked against. The loader and the
 * prefilter build (both here in rules/) make it; the engine and the stages
 * above only read it. */
#ifndef STOAT_RULES_RULESET_H
#define STOAT_RULES_RULESET_H

#include <hs/hs.h>

#include "event/fields.h"
#include "event/mapping.h"
#include "rules/compile.h"
#include "rules/program.h"
#include "rules/sigma.h"
#include "rules/tokens.h"
#include "stoat/rules.h"

struct rule {
    struct stoat_rule_meta meta;
    struct compiled prog;
    const struct map_selector *sels; /* the events of its logsource */
    size_t nsels;
    bool correlation_only;  /* referenced by a correlation without `generate` */
    bool feeds_correlation; /* some correlation reads its matches */
    bool needs_ancestry;    /* reads Ancestors: decided in the writer */
    uint8_t role;           /* given by a generated source (rules/loader.h); 0: none */
    uint32_t group;         /* its logsource group */
};

/* A renamed view of an event: field `to` reads the value of `from`. */
struct renameset {
    uint32_t n;
    const uint32_t *from, *to;
};

/* The rules of one logsource (same product/category/service), with the
 * prefilter database of their atoms. Events of several kinds share a group:
 * Sysmon 1 and Security 4688 both read the process_creation group, and its
 * database is compiled once. */
struct rule_group {
    uint32_t n;           /* rules */
    uint32_t nhidden;     /* of them hidden (the ruleset's nhidden): not counted as candidates */
    const uint32_t *rule; /* rule indexes, ascending */
    /* Each rule's program root, tagged in bit 0 when it reads Ancestors:
     * evaluation reads this small array, not the large rule records. */
    const uintptr_t *root;
    uint32_t nwords;         /* bitmap words over the group's rules */
    const uint64_t *ungated; /* rules to run on every event of the group */
    const uint64_t *one_set; /* rules whose requirement has no set B */
    /* Databases by the fields whose values they scan: a field with many of
     * the group's atoms has its own, the other fields share one (a database
     * costs about as much to start as to scan a short value), keywords
     * (FIELD_ANY) scan every value. None when no rule has atoms. */
    uint32_t ndbs;
    struct group_db {
        uint32_t nfields;
        const uint32_t *fields;
        hs_database_t *db;
    } * dbs;
    uint32_t natoms;
    /* The rules atom i wakes, as bitmap words to OR into the event's hits
     * (set A's nwords words, then set B's): entries atom_off[i] ..
     * atom_off[i+1] of atom_word (the word) and atom_mask (its bits). A
     * common atom wakes a hundred rules in a few dozen words. */
    const uint32_t *atom_off;
    const uint32_t *atom_word;
    const uint64_t *atom_mask;
    const uint32_t *atom_gid; /* ruleset-wide id of group atom i */
    /* A field whose atoms are all ALGO=HEX tokens (Hashes) is in no
     * database: its values are looked up in this table (rules/tokens.h).
     * NULL: none. */
    const struct token_table *tokens;
};

#define MERGED_FIELDS   1u
#define MERGED_KEYWORDS 2u

/* Small groups' databases of a kind (MERGED_FIELDS, _KEYWORDS) merged into
 * one, compiled once however many classes scan it (keyword ones per class,
 * field ones for the whole ruleset: prefilter.c, merged_index says why):
 * atom i is group atom atom[i] of group group[i]. */
struct merged_db {
    hs_database_t *db;
    uint32_t natoms;
    const uint32_t *group, *atom;
};

/* A class's scan with merged database mdbs[db] over the values of fields
 * (renames undone; FIELD_ANY alone: every value): a superset of what each
 * of its groups' databases scanned, which only wakes more rules. An atom
 * of a group outside the class wakes rules nobody reads this event. */
struct class_merge {
    uint32_t db;
    uint32_t nfields;
    const uint32_t *fields;
};

/* A whole-value atom ("\0lit\0") of a small group's field database, of a
 * field whose merged atoms are all such (EventID 4688, Channel Security):
 * instead of scanning the field's values for it, the engine compares each
 * value with lit (ASCII caseless, as the scan would), which costs less than
 * the scan of the bytes, and takes the field out of the merged scan. */
struct settled_atom {
    uint32_t field;       /* the event's field (renames undone) */
    uint32_t group, atom; /* the group atom it stands for */
    uint32_t len;
    const char *lit; /* the value, without the NULs */
};

/* What one kind of event is checked against: groups, each seen through a
 * renameset (0: the event as it is). */
struct route_class {
    uint32_t ngroups;
    const uint32_t *group;
    const uint16_t *rset;
    /* Per database of its groups, side by side: the event fields (renames
     * undone) it scans, db_fields[db_off[k] .. db_off[k + 1]); and whether
     * some database scans every value. */
    const uint32_t *db_off, *db_fields;
    bool scan_all;
    bool hidden_only; /* only hidden rules read these events: counted as unrouted */
    /* The fewest bytes a value needs to hold one of its keyword atoms (an
     * atom's bytes between NULs; 0: some atom spans a NUL): the values only
     * keyword databases read, of fields no field database scans, are left
     * out of the scan when shorter (engine/match.c, build_scan_all). */
    uint32_t keyword_min;
    /* The databases of its small groups, scanned as one or two merged
     * databases (fields, keywords) instead of one scan each: a scan costs
     * about as much to start as to search a short value. merged[gi] says
     * which databases of the group in slot gi are in them (MERGED_*). */
    uint32_t nmerges;
    const struct class_merge *merges;
    const uint8_t *merged;
    /* Its small groups' settled atoms, those of one field together. */
    uint32_t nsettled;
    const struct settled_atom *settled;
};

/* A copy of a correlation rule that outlives the YAML it came from. */
struct correlation {
    struct stoat_rule_meta meta;
    struct sigma_correlation corr;
    const long *rule_index; /* the rules (or correlations, as -2 - index) it reads; -1 unknown */
};

struct stoat_ruleset {
    struct arena arena;
    struct mapping *map;
    struct fieldtab fields;
    struct rule *rules;
    size_t nrules;
    size_t nhidden; /* the last nhidden rules came from hidden sources (loader.h) */
    struct correlation *corrs;
    size_t ncorrs;
    struct renameset *rsets;
    size_t nrsets;
    struct rule_group *groups;
    size_t ngroups;
    struct route_class *classes;
    size_t nclasses;
    struct strmap routes; /* route key -> class index */
    pcre2_code **regexes; /* owned, freed with the ruleset */
    size_t nregexes;
    hs_scratch_t *scratch_proto; /* big enough for every class database */
    struct merged_db *mdbs;      /* the classes' merged databases (class_merge) */
    size_t nmdbs;
    struct strmap atoms; /* atom text -> ruleset-wide id */
    size_t natoms;
    struct proc_spec *procs;
    size_t nprocs;
    struct strmap proc_routes; /* route key (channel + event id) -> proc spec */
    const uint32_t *actor_ids[AF_COUNT];
    size_t nactor_ids[AF_COUNT];
    uint32_t field_ancestors, field_ancestor_cmds;
    /* What the stage that generated rule sources keeps with the rules it
     * generated (loader_attach): read files go with the ruleset they were
     * read for, so a reload swaps both at once. Opaque here. */
    void *attached;
    void (*attached_free)(void *attached);
    const uint32_t *ts_ids, *host_ids, *channel_ids, *eid_ids; /* from the mapping, in priority order */
    size_t nts_ids, nhost_ids, nchannel_ids, neid_ids;
    const uint32_t *padded_ids; /* the mapping's padded fields: their trailing spaces are dropped */
    size_t npadded_ids;
    struct stoat_load_stats stats;
    /* A ruleset read from a cache file (snapshot.c) lives mostly in one
     * mapping of its own, unmapped last: what lies in it (tables, databases)
     * is not freed alone. Its regexes are compiled on first use; lazy_re
     * lists those patterns, whose regexes go with the ruleset. */
    uint8_t *region;
    size_t region_len;
    void (*region_unmap)(uint8_t *mem, size_t len); /* set with region, by whoever mapped it */
    const struct pattern **lazy_re;
    size_t nlazy_re;
};

/* Whether p lies in the ruleset's own mapping (nothing to free alone). */
bool ruleset_owns(const struct stoat_ruleset *rs, const void *p);

/* Builds classes, routes and prefilter databases (prefilter.c), the
 * databases read from the cache or compiled file the options name when they
 * hold them (rules/cache.h). */
stoat_err ruleset_build_routes(struct stoat_ruleset *rs, const struct stoat_load_opts *opts);

#endif
