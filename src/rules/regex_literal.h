/* What every match of a regular expression must contain, for the
 * prefilter's atoms and rare bytes (regex_literal.c). */
#ifndef STOAT_RULES_REGEX_LITERAL_H
#define STOAT_RULES_REGEX_LITERAL_H

#include <stddef.h>

/* The longest literal any match of the regular expression must contain
 * (conservative: nothing when unsure). */
size_t regex_required_literal(const char *re, size_t len, char *out, size_t outcap);
/* Every literal character a match contains (not in order, not contiguous):
 * the top level's and those of groups that must occur. */
size_t regex_required_bytes(const char *re, size_t len, char *out, size_t cap);

#endif
