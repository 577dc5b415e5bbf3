/* Error strings and the one formatter of diagnostics, so every message a
 * user sees has the same shape: where, severity, what, which rule. */
#include <stdio.h>

#include "stoat/error.h"

const char *stoat_strerror(stoat_err err)
{
    switch (err) {
    case STOAT_OK: return "success";
    case STOAT_ERR_NOMEM: return "out of memory";
    case STOAT_ERR_IO: return "input/output error";
    case STOAT_ERR_SYNTAX: return "syntax error";
    case STOAT_ERR_RULE: return "invalid rule";
    case STOAT_ERR_UNSUPPORTED: return "unsupported";
    case STOAT_ERR_LIMIT: return "limit exceeded";
    case STOAT_ERR_INPUT: return "malformed input";
    case STOAT_ERR_ARG: return "invalid argument";
    case STOAT_ERR_NOTFOUND: return "not found";
    case STOAT_ERR_PLACEHOLDER: return "unresolved placeholder";
    case STOAT_ERR_FORMAT: return "unknown format";
    case STOAT_ERR_CONFIG: return "configuration error";
    }
    return "unknown error";
}

int stoat_diag_format(const struct stoat_diag *d, char *buf, size_t len)
{
    static const char *const sev[] = {"error", "warning", "note"};
    int n = 0;
#define OUT(...)                                                                             \
    do {                                                                                     \
        int room_ = buf && (size_t)n < len;                                                  \
        int k_ = snprintf(room_ ? buf + n : NULL, room_ ? len - (size_t)n : 0, __VA_ARGS__); \
        if (k_ > 0)                                                                          \
            n += k_;                                                                         \
    } while (0)
    if (d->file) {
        OUT("%s", d->file);
        if (d->line) {
            OUT(":%llu", (unsigned long long)d->line);
            if (d->column)
                OUT(":%llu", (unsigned long long)d->column);
        } else if (d->has_offset) {
            OUT(" @%llu", (unsigned long long)d->offset);
        }
        OUT(": ");
    }
    OUT("%s: %s", sev[d->severity <= STOAT_SEV_NOTE ? d->severity : 0],
        d->message ? d->message : stoat_strerror(d->code));
    if (d->rule_id && d->field)
        OUT(" (rule %s, field %s)", d->rule_id, d->field);
    else if (d->rule_id)
        OUT(" (rule %s)", d->rule_id);
    else if (d->field)
        OUT(" (field %s)", d->field);
#undef OUT
    return n;
}
