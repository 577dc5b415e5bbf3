/* Placeholders for the `expand` modifier, read from the placeholder file
 * (--placeholders FILE) once per ruleset; see placeholders.c. */
#ifndef STOAT_RULES_PLACEHOLDERS_H
#define STOAT_RULES_PLACEHOLDERS_H

#include <stdbool.h>
#include <stddef.h>

#include "stoat/error.h"

struct placeholders;
struct cctx;
struct item_state;
struct symvec;

/* Placeholders for `expand`: a YAML map of name -> value or list of values. */
stoat_err placeholders_load(const char *path, struct placeholders **out, stoat_diag_fn diag, void *diag_ctx);
stoat_err placeholders_load_text(const char *name, const char *text, size_t len, struct placeholders **out,
                                 stoat_diag_fn diag, void *diag_ctx);
void placeholders_free(struct placeholders *p);

/* v (a Sigma string) with each unescaped %name% replaced by each of its
 * values, as symbol strings appended to out: the product when there are
 * several; false after compile_fail. For the compiler's driver. */
bool placeholders_expand(struct cctx *x, struct item_state *st, const char *v, size_t n, struct symvec *out);

#endif
