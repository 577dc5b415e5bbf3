/* From the Sigma syntax tree to the match program (engine/program.h).
 *
 * This is where a rule's meaning is checked: every modifier against the
 * registry, every value against what its modifiers need, the condition
 * against the search identifiers. What passes becomes a tree of tests with
 * literals already folded, regular expressions compiled and field names
 * interned, plus the literal "atoms" the prefilter uses to skip the rule on
 * events that cannot match it. */
#ifndef STOAT_RULES_COMPILE_H
#define STOAT_RULES_COMPILE_H

#include "engine/fields.h"
#include "engine/program.h"
#include "rules/sigma.h"

#define COMPILE_MAX_PATTERNS  10000   /* per test, after expansions */
#define COMPILE_MAX_ATOMS     1024    /* per rule; more means the rule is not gated */
#define COMPILE_MIN_ATOM      3       /* shorter literals gate nothing useful */
#define COMPILE_MAX_VALUE     65536   /* bytes of one value */

struct placeholders;

struct compiler {
    struct arena *out;               /* the ruleset's arena: programs live here */
    struct fieldtab *fields;
    const struct placeholders *ph;
    stoat_diag_fn diag;
    void *diag_ctx;
    pcre2_code **regexes;            /* every regex compiled, owned here until handed to the ruleset */
    size_t nregexes, regex_cap;
    /* Fields no reader gives: the writer adds them from the process table
     * (the Ancestors extension). The prefilter cannot require them. */
    uint32_t late_fields[2];
};

/* stoat's extension fields for rules that test a process's ancestry: the
 * images and the command lines of all its ancestors (parent first). */
#define FIELD_ANCESTORS "Ancestors"
#define FIELD_ANCESTOR_CMDS "AncestorCommandLines"

/* True when the program reads a late field (it must run in the writer). */
bool compile_needs_late(const struct compiler *c, const struct pnode *root);

/* A literal the prefilter must have seen for the rule to be worth running. */
struct atom {
    const char *s;
    uint32_t len;
    uint32_t field;   /* the field whose values hold it; FIELD_ANY for keywords */
    uint8_t sets;     /* of a rule's requirement: bit 0 in set A, bit 1 in set B */
};

/* A pattern that can skip itself when its atom (atoms[atom]) was not seen. */
struct gated_pattern {
    struct pattern *pat;
    uint32_t atom;
};

struct compiled {
    const struct pnode *root;
    /* atoms[0..natoms): one of them must be in the event for the rule to
     * match (natoms 0: run on every event of the logsource). nall == natoms;
     * room for atoms scanned for only to let patterns skip (measured: not
     * worth it for SigmaHQ, see atoms_set). */
    const struct atom *atoms;
    uint32_t natoms, nall;
    struct gated_pattern *gated;     /* patterns to give the ruleset-wide atom ids to */
    uint32_t ngated;
};

stoat_err compile_detection(struct compiler *c, const struct sigma_rule *r, struct compiled *out);
/* A filter document's condition, to be ANDed (negated) onto the rules it names. */
stoat_err compile_filter(struct compiler *c, const struct sigma_rule *f, const struct pnode **out);
/* The rule's root with the filters' nodes as `and not`, atoms recomputed. */
void compile_attach_filters(struct compiler *c, struct compiled *rule, const struct pnode *const *filters,
                            size_t nfilters);

/* Placeholders for `expand`: a YAML map of name -> value or list of values. */
stoat_err placeholders_load(const char *path, struct placeholders **out, stoat_diag_fn diag, void *diag_ctx);
stoat_err placeholders_load_text(const char *name, const char *text, size_t len, struct placeholders **out,
                                 stoat_diag_fn diag, void *diag_ctx);
void placeholders_free(struct placeholders *p);

/* The longest literal any match of the regular expression must contain
 * (conservative: nothing when unsure). Exposed for tests. */
size_t regex_required_literal(const char *re, size_t len, char *out, size_t outcap);
/* Every literal character a match contains (not in order, not contiguous):
 * the top level's and those of groups that must occur. */
size_t regex_required_bytes(const char *re, size_t len, char *out, size_t cap);

#endif
