/* A rule's metadata beyond its parse: copied out of the parse's scratch
 * arena into a lasting one (the ruleset's), and matched against a
 * selection (stoat_rule_select), for the loader. */
#ifndef STOAT_RULES_META_H
#define STOAT_RULES_META_H

#include <stdbool.h>
#include <stddef.h>

#include "rules/sigma.h"
#include "stoat/rules.h"
#include "util/mem.h"

/* Copies of s in a: every string and list d points to lives in a. */
void meta_copy(struct arena *a, const struct stoat_rule_meta *s, struct stoat_rule_meta *d);
void corr_copy(struct arena *a, const struct sigma_correlation *s, struct sigma_correlation *d);
const char **strv_copy(struct arena *a, const char *const *v, size_t n);

/* Whether the selection keeps the rule m describes (level, status, tags, ids
 * and logsource; globs without case). */
bool meta_selected(const struct stoat_rule_select *s, const struct stoat_rule_meta *m);

#endif
