/* What the floors above the rules add to a load, without the rules knowing
 * what it means.
 *
 * Behaviour analytics (crown jewels, baselines) are written as Sigma rules
 * that the stage above generates: each is a source of YAML text, loaded and
 * compiled like a rule file, plus a role for some of its rules, by rule id.
 * The loader stores the role on every loaded rule with that id as a small
 * number; only the stage that handed it in reads it (behaviour/sources.h).
 * The data that stage read from its files travels with the ruleset as an
 * opaque attachment, freed with it. The public stoat_loader_create is that
 * stage's composition of these calls (behaviour/sources.c). */
#ifndef STOAT_RULES_LOADER_H
#define STOAT_RULES_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/rules.h"

/* The role of the rule with this id. */
struct rule_role {
    const char *id;
    uint8_t role; /* not 0 */
};

/* A source of rules generated above the rules. */
struct rule_source {
    const char *name; /* for messages, as a file's name would be */
    const char *text; /* YAML, one rule per document */
    size_t len;
    const struct rule_role *roles;
    size_t nroles;
    bool hidden; /* machinery, not the user's rules: loaded last (when the ruleset is
                                     * built), neither counted nor selected, invisible to the public API
                                     * (ruleset.h's nhidden) */
};

/* The loader with the mapping and the placeholders read: stoat_loader_create
 * without the sources of the floors above. */
stoat_err loader_create(const struct stoat_load_opts *opts, struct stoat_loader **out);
/* Loads a generated source like a file (not counted as one) and remembers its
 * roles for the build. */
stoat_err loader_add_source(struct stoat_loader *l, const struct rule_source *src);
/* Hands the ruleset data to keep, and the function that frees it (with the
 * ruleset, or with the loader when no ruleset is built). */
void loader_attach(struct stoat_loader *l, void *data, void (*free_fn)(void *data));
/* The build took the ruleset file it decoded while the rule folders were
 * listed (the guess, loader.c), for the tests. */
bool loader_guess_taken(const struct stoat_loader *l);

#endif
