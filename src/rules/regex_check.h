/* A lint for regular expressions that may backtrack without end on some
 * values: repeated groups whose parts can match the same text in many ways
 * (regex_check.c). `stoat rules check` warns about them. */
#ifndef STOAT_RULES_REGEX_CHECK_H
#define STOAT_RULES_REGEX_CHECK_H

#include <stdbool.h>
#include <stddef.h>

/* True when the pattern (PCRE2 syntax, already accepted by PCRE2) holds
 * such a group; frag (may be NULL) receives its text, cut to fit. caseless:
 * the pattern is matched ignoring case. */
bool regex_backtrack_risk(const char *re, size_t len, bool caseless, char *frag, size_t fraglen);

#endif
