/* The rules compiler's state and its output: what the loader hands the
 * compiler (struct compiler) and what it gets back for each rule (struct
 * compiled: the match tree and the prefilter's atoms), with the compiler's
 * limits. The ruleset keeps struct compiled; every file of the compiler
 * reads these, so they sit below all of them (compile.h has the entry
 * points, compile_int.h what the compiler's files share). */
#ifndef STOAT_RULES_COMPILE_TYPES_H
#define STOAT_RULES_COMPILE_TYPES_H

#include <stddef.h>
#include <stdint.h>

#include "rules/program.h"
#include "stoat/error.h"

#define COMPILE_MAX_PATTERNS 10000 /* per test, after expansions */
#define COMPILE_MAX_ATOMS    1024  /* per rule; more means the rule is not gated */
#define COMPILE_MIN_ATOM     3     /* shorter literals gate nothing useful */
#define COMPILE_MAX_VALUE    65536 /* bytes of one value */

struct arena;
struct fieldtab;
struct placeholders;

struct compiler {
    struct arena *out; /* the ruleset's arena: programs live here */
    struct fieldtab *fields;
    const struct placeholders *ph;
    stoat_diag_fn diag;
    void *diag_ctx;
    pcre2_code **regexes; /* every regex compiled, owned here until handed to the ruleset */
    size_t nregexes, regex_cap;
    /* Fields no reader gives: the writer adds them from the process table
     * (the Ancestors extension). The prefilter cannot require them. */
    uint32_t late_fields[2];
};

/* A literal the prefilter must have seen for the rule to be worth running. */
struct atom {
    const char *s;
    uint32_t len;
    uint32_t field; /* the field whose values hold it; FIELD_ANY for keywords */
    uint8_t sets;   /* of a rule's requirement: bit 0 in set A, bit 1 in set B */
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
    struct gated_pattern *gated; /* patterns to give the ruleset-wide atom ids to */
    uint32_t ngated;
};

#endif
