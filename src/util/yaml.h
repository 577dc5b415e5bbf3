/* A small YAML document tree on top of libyaml's event parser.
 *
 * libyaml gives events; rules and the configuration files (mapping,
 * placeholders, crown jewels, baselines) need a tree with line/column marks
 * for every node so that each complaint points at the exact spot. It sits in
 * util/ because every floor above reads YAML: the event mapping below the
 * rules as much as the rules themselves. The tree lives in the caller's
 * arena. Anchors and aliases are resolved by sharing nodes (no copies), and
 * every cap below is enforced while parsing. */
#ifndef STOAT_UTIL_YAML_H
#define STOAT_UTIL_YAML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"
#include "util/mem.h"

#define YAML_MAX_FILE_BYTES (8u << 20) /* one rule file */
#define YAML_MAX_DEPTH      64
#define YAML_MAX_NODES      200000 /* per document */
#define YAML_MAX_DOCS       10000  /* per file */

enum ynode_kind {
    YN_SCALAR,
    YN_SEQ,
    YN_MAP
};

struct ynode {
    enum ynode_kind kind;
    uint32_t line, col; /* 1-based */
    /* scalar */
    const char *str;
    uint32_t len;
    bool plain;      /* unquoted and untagged: type by its text */
    bool tagged_str; /* explicit !!str */
    bool quoted;     /* '...' or "...": the text starts one column after the mark */
    bool open;       /* container not yet closed: an alias to it would be a cycle */
    /* sequence: items[0..n); mapping: keys at items[2i], values at items[2i+1] */
    struct ynode **items;
    uint32_t n;
};

/* Called once per whole document; a non-zero return stops the parse. A
 * document the parser rejected (reported through diag: a repeated key) is not
 * handed over, the next ones are, and the parse then returns
 * STOAT_ERR_SYNTAX. */
typedef int (*ydoc_fn)(void *ctx, struct ynode *root, unsigned doc_index);

/* Parses every document of text. Errors go to diag with file:line:column;
 * documents before a syntax error have already been delivered. */
stoat_err yaml_parse(const char *file, const char *text, size_t len, struct arena *a, ydoc_fn fn, void *ctx,
                     stoat_diag_fn diag, void *diag_ctx);

/* The same with other caps (data files such as baselines are bigger than
 * rules). */
stoat_err yaml_parse_capped(const char *file, const char *text, size_t len, size_t max_bytes, size_t max_nodes,
                            struct arena *a, ydoc_fn fn, void *ctx, stoat_diag_fn diag, void *diag_ctx);

/* Mapping lookup by key text; NULL when absent or when m is not a mapping. */
struct ynode *ynode_get(const struct ynode *m, const char *key);
bool ynode_is_scalar(const struct ynode *n);
/* A scalar's text as a NUL-terminated string (scalars are stored that way). */
static inline const char *ynode_str(const struct ynode *n)
{
    return n && n->kind == YN_SCALAR ? n->str : NULL;
}
/* A plain scalar meaning null: "", "~", "null", "Null", "NULL". */
bool ynode_is_null(const struct ynode *n);

/* Where the loader of a configuration file (mapping, jewels, baseline)
 * reports its first problem, with the file and the node's line and column. */
struct yreport {
    const char *file;
    stoat_diag_fn diag;
    void *diag_ctx;
    stoat_err err; /* STOAT_ERR_CONFIG once a problem was reported */
};
void yreport_fail(struct yreport *r, const struct ynode *n, const char *msg);

#endif
