/* From the Sigma syntax tree to the match program (rules/program.h).
 *
 * This is where a rule's meaning is checked: every modifier against the
 * registry, every value against what its modifiers need, the condition
 * against the search identifiers. What passes becomes a tree of tests with
 * literals already folded, regular expressions compiled and field names
 * interned, plus the literal "atoms" the prefilter uses to skip the rule on
 * events that cannot match it. The compiler's state and the compiled form
 * are in compile_types.h; the files that do the work are listed in
 * compile_int.h. */
#ifndef STOAT_RULES_COMPILE_H
#define STOAT_RULES_COMPILE_H

#include "event/fields.h"
#include "rules/program.h"
#include "rules/sigma.h"
#include "rules/compile_types.h"
#include "rules/placeholders.h"

/* stoat's extension fields for rules that test a process's ancestry: the
 * images and the command lines of all its ancestors (parent first). */
#define FIELD_ANCESTORS     "Ancestors"
#define FIELD_ANCESTOR_CMDS "AncestorCommandLines"

/* True when the program reads a late field (it must run in the writer). */
bool compile_needs_late(const struct compiler *c, const struct pnode *root);

stoat_err compile_detection(struct compiler *c, const struct sigma_rule *r, struct compiled *out);
/* A filter document's condition, to be ANDed (negated) onto the rules it names. */
stoat_err compile_filter(struct compiler *c, const struct sigma_rule *f, const struct pnode **out);
/* The rule's root with the filters' nodes as `and not`; its atoms still hold
 * (a negation adds no requirement). */
void compile_attach_filters(struct compiler *c, struct compiled *rule, const struct pnode *const *filters,
                            size_t nfilters);

#endif
