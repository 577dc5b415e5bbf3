/* The per-rule context that the compiler's files share (compile_int.h):
 * how a rule's first error is reported, and how a Sigma string becomes the
 * symbol string that values travel in through the modifiers.
 *
 * Why it is a file of its own: the driver (compile.c) and the files it uses
 * (modifiers.c, placeholders.c, ...) all report errors and parse values the
 * same way; with these two below all of them, no file of the compiler needs
 * one above it. */
#include "rules/compile_int.h"

#include <stdarg.h>
#include <stdio.h>

/* Formats and reports one diagnostic about the rule. */
static void compile_vdiag(struct cctx *x, enum stoat_severity sev, const struct sigma_loc *loc, const char *field,
                          stoat_err code, const char *fmt, va_list ap)
{
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    if (x->c->diag) {
        struct stoat_diag d = {.code = code,
                               .severity = sev,
                               .file = loc && loc->file ? loc->file : x->r->meta.file,
                               .line = loc ? loc->line : x->r->meta.line,
                               .column = loc ? loc->col : 0,
                               .rule_id = x->r->meta.id,
                               .field = field,
                               .message = msg};
        x->c->diag(x->c->diag_ctx, &d);
    }
}

void compile_fail(struct cctx *x, const struct sigma_loc *loc, const char *field, stoat_err code, const char *fmt, ...)
{
    if (x->err)
        return;
    x->err = code;
    va_list ap;
    va_start(ap, fmt);
    compile_vdiag(x, STOAT_SEV_ERROR, loc, field, code, fmt, ap);
    va_end(ap);
}

void compile_warn(struct cctx *x, const struct sigma_loc *loc, const char *field, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    compile_vdiag(x, STOAT_SEV_WARNING, loc, field, STOAT_ERR_RULE, fmt, ap);
    va_end(ap);
}

/* The escape table of the specification: a backslash escapes '*', '?' and
 * itself; before anything else it is a plain backslash. With expand, '%' may be
 * escaped too (and then stays literal). */
struct symstr sym_parse(struct cctx *x, const char *v, size_t n, bool expand)
{
    struct symstr s = sym_new(x, (uint32_t)n);
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch == '\\' && i + 1 < n &&
            (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\' || (expand && v[i + 1] == '%'))) {
            s.s[k++] = (unsigned char)v[++i];
            continue;
        }
        s.s[k++] = ch == '*' ? S_STAR : ch == '?' ? S_ONE : ch;
    }
    s.n = k;
    return s;
}
