/* stoat's one error enum and its diagnostics.
 *
 * The enum only ever grows (values are never renumbered), so callers and
 * scripts can rely on them. A diagnostic carries where (file:line:column or a
 * byte offset), what (rule id, field) and why, for a human to read. */
#ifndef STOAT_ERROR_H
#define STOAT_ERROR_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef enum stoat_err {
    STOAT_OK = 0,
    STOAT_ERR_NOMEM = 1,
    STOAT_ERR_IO = 2,          /* a file could not be opened or read */
    STOAT_ERR_SYNTAX = 3,      /* YAML or JSON that is not well-formed */
    STOAT_ERR_RULE = 4,        /* a rule that breaks the Sigma specification */
    STOAT_ERR_UNSUPPORTED = 5, /* valid, but not something stoat can evaluate */
    STOAT_ERR_LIMIT = 6,       /* a size, depth or count cap was reached */
    STOAT_ERR_INPUT = 7,       /* a malformed input record */
    STOAT_ERR_ARG = 8,         /* a bad argument from the caller */
    STOAT_ERR_NOTFOUND = 9,
    STOAT_ERR_PLACEHOLDER = 10, /* an `expand` placeholder with no value */
    STOAT_ERR_FORMAT = 11,      /* an input whose format is not recognised */
    STOAT_ERR_CONFIG = 12,      /* a mapping or configuration file is wrong */
} stoat_err;

const char *stoat_strerror(stoat_err err);

enum stoat_severity {
    STOAT_SEV_ERROR = 0,
    STOAT_SEV_WARNING = 1,
    STOAT_SEV_NOTE = 2
};

struct stoat_diag {
    stoat_err code;
    enum stoat_severity severity;
    const char *file;      /* NULL when not about a file */
    uint64_t line, column; /* 1-based; 0 when unknown */
    uint64_t offset;       /* byte offset, for binary inputs; 0 when unknown */
    int has_offset;
    const char *rule_id; /* NULL when not about a rule */
    const char *field;   /* NULL when not about one field */
    const char *message;
};

typedef void (*stoat_diag_fn)(void *ctx, const struct stoat_diag *diag);

/* "file:line:column: error: message (rule ID, field F)"; returns the length
 * it wanted (as snprintf). */
int stoat_diag_format(const struct stoat_diag *diag, char *buf, size_t len);

#ifdef __cplusplus
}
#endif
#endif
