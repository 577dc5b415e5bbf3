/* See yaml.h. The parser keeps an explicit stack of open containers (depth
 * capped, so no recursion on input), collects children in growable vectors and
 * moves them into the arena when the container closes. */
#include "util/yaml.h"

#include <stdio.h>
#include <string.h>
#include <yaml.h>

#include "util/strmap.h"

struct anchor {
    const char *name;
    struct ynode *node;
};

struct frame {
    struct ynode *node;
    struct ynode **kids;
    size_t nkids, cap;
};

struct yparse {
    const char *file;
    struct arena *a;
    stoat_diag_fn diag;
    void *diag_ctx;
    struct frame stack[YAML_MAX_DEPTH + 1];
    int depth;
    struct anchor *anchors;
    size_t nanchors, anchors_cap;
    size_t nodes;
};

static void report(struct yparse *p, stoat_err code, uint64_t line, uint64_t col, const char *msg)
{
    if (!p->diag)
        return;
    struct stoat_diag d = {
        .code = code, .severity = STOAT_SEV_ERROR, .file = p->file, .line = line, .column = col, .message = msg};
    p->diag(p->diag_ctx, &d);
}

static struct ynode *new_node(struct yparse *p, enum ynode_kind k, const yaml_mark_t *m)
{
    struct ynode *n = arena_zalloc(p->a, sizeof(*n));
    n->kind = k;
    n->line = (uint32_t)m->line + 1;
    n->col = (uint32_t)m->column + 1;
    return n;
}

static void add_anchor(struct yparse *p, const unsigned char *name, struct ynode *n)
{
    if (!name)
        return;
    XGROW(p->anchors, p->anchors_cap, p->nanchors + 1);
    p->anchors[p->nanchors].name = arena_strdup(p->a, (const char *)name);
    p->anchors[p->nanchors].node = n;
    p->nanchors++;
}

static struct ynode *find_anchor(struct yparse *p, const unsigned char *name)
{
    for (size_t i = p->nanchors; i-- > 0;)
        if (strcmp(p->anchors[i].name, (const char *)name) == 0)
            return p->anchors[i].node;
    return NULL;
}

/* Attaches a finished node to the open container (or makes it the root). */
static void attach(struct yparse *p, struct ynode *n, struct ynode **root)
{
    if (p->depth == 0) {
        *root = n;
        return;
    }
    struct frame *f = &p->stack[p->depth - 1];
    XGROW(f->kids, f->cap, f->nkids + 1);
    f->kids[f->nkids++] = n;
}

/* The first scalar key of a mapping's kids that repeats an earlier one, or
 * NULL. YAML forbids repeated keys, and libyaml does not check: a rule whose
 * selection says `CommandLine|contains` twice would silently lose one of them.
 * Small mappings are compared pairwise; big ones (hostile files) through a map
 * so the check stays linear. */
static const struct ynode *repeated_key(struct ynode *const *kids, size_t nkids)
{
    size_t nkeys = nkids / 2;
    if (nkeys <= 16) {
        for (size_t i = 1; i < nkeys; i++) {
            const struct ynode *k = kids[2 * i];
            if (k->kind != YN_SCALAR)
                continue;
            for (size_t j = 0; j < i; j++) {
                const struct ynode *e = kids[2 * j];
                if (e->kind == YN_SCALAR && e->len == k->len && memcmp(e->str, k->str, k->len) == 0)
                    return k;
            }
        }
        return NULL;
    }
    struct strmap seen;
    strmap_init(&seen);
    const struct ynode *dup = NULL;
    for (size_t i = 0; i < nkeys && !dup; i++) {
        const struct ynode *k = kids[2 * i];
        if (k->kind == YN_SCALAR && strmap_put(&seen, k->str, k->len, (uint32_t)i + 1) != (uint32_t)i + 1)
            dup = k;
    }
    strmap_free(&seen);
    return dup;
}

static void free_stack(struct yparse *p)
{
    for (int i = 0; i < p->depth; i++)
        free(p->stack[i].kids);
    p->depth = 0;
}

stoat_err yaml_parse(const char *file, const char *text, size_t len, struct arena *a, ydoc_fn fn, void *ctx,
                     stoat_diag_fn diag, void *diag_ctx)
{
    return yaml_parse_capped(file, text, len, YAML_MAX_FILE_BYTES, YAML_MAX_NODES, a, fn, ctx, diag, diag_ctx);
}

stoat_err yaml_parse_capped(const char *file, const char *text, size_t len, size_t max_bytes, size_t max_nodes,
                            struct arena *a, ydoc_fn fn, void *ctx, stoat_diag_fn diag, void *diag_ctx)
{
    struct yparse p = {.file = file, .a = a, .diag = diag, .diag_ctx = diag_ctx};
    yaml_parser_t parser;
    yaml_event_t ev;
    stoat_err err = STOAT_OK;
    struct ynode *root = NULL;
    unsigned ndocs = 0, bad_docs = 0;
    bool doc_bad = false; /* this document broke a rule libyaml does not check */
    char msg[256];

    if (len > max_bytes) {
        report(&p, STOAT_ERR_LIMIT, 0, 0, "file larger than its size cap");
        return STOAT_ERR_LIMIT;
    }
    if (!yaml_parser_initialize(&parser))
        return STOAT_ERR_NOMEM;
    yaml_parser_set_input_string(&parser, (const unsigned char *)text, len);

    for (;;) {
        if (!yaml_parser_parse(&parser, &ev)) {
            snprintf(msg, sizeof(msg), "YAML: %s%s%s", parser.problem ? parser.problem : "parse error",
                     parser.context ? " " : "", parser.context ? parser.context : "");
            report(&p, STOAT_ERR_SYNTAX, parser.problem_mark.line + 1, parser.problem_mark.column + 1, msg);
            err = STOAT_ERR_SYNTAX;
            goto out;
        }
        yaml_event_type_t type = ev.type;
        switch (type) {
        case YAML_DOCUMENT_START_EVENT:
            root = NULL;
            doc_bad = false;
            p.nanchors = 0;
            p.nodes = 0;
            break;
        case YAML_DOCUMENT_END_EVENT:
            if (++ndocs > YAML_MAX_DOCS) {
                report(&p, STOAT_ERR_LIMIT, ev.start_mark.line + 1, 0, "too many YAML documents in one file");
                err = STOAT_ERR_LIMIT;
                yaml_event_delete(&ev);
                goto out;
            }
            if (root && !doc_bad && fn && fn(ctx, root, ndocs - 1)) {
                yaml_event_delete(&ev);
                goto out;
            }
            break;
        case YAML_SCALAR_EVENT: {
            struct ynode *n = new_node(&p, YN_SCALAR, &ev.start_mark);
            n->str = arena_strndup(a, (const char *)ev.data.scalar.value, ev.data.scalar.length);
            n->len = (uint32_t)ev.data.scalar.length;
            n->plain = ev.data.scalar.plain_implicit && ev.data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
            n->tagged_str = ev.data.scalar.tag && strcmp((const char *)ev.data.scalar.tag, YAML_STR_TAG) == 0;
            n->quoted = ev.data.scalar.style == YAML_SINGLE_QUOTED_SCALAR_STYLE ||
                        ev.data.scalar.style == YAML_DOUBLE_QUOTED_SCALAR_STYLE;
            if (ev.data.scalar.tag && !n->tagged_str)
                n->plain = true; /* !!int etc.: let the text decide */
            add_anchor(&p, ev.data.scalar.anchor, n);
            attach(&p, n, &root);
            break;
        }
        case YAML_ALIAS_EVENT: {
            struct ynode *n = find_anchor(&p, ev.data.alias.anchor);
            if (!n || n->open) {
                snprintf(msg, sizeof(msg), "YAML: %s alias *%s", n ? "recursive" : "unknown",
                         (const char *)ev.data.alias.anchor);
                report(&p, STOAT_ERR_SYNTAX, ev.start_mark.line + 1, ev.start_mark.column + 1, msg);
                err = STOAT_ERR_SYNTAX;
                yaml_event_delete(&ev);
                goto out;
            }
            attach(&p, n, &root);
            break;
        }
        case YAML_SEQUENCE_START_EVENT:
        case YAML_MAPPING_START_EVENT: {
            if (p.depth >= YAML_MAX_DEPTH) {
                report(&p, STOAT_ERR_LIMIT, ev.start_mark.line + 1, ev.start_mark.column + 1,
                       "YAML nesting deeper than 64 levels");
                err = STOAT_ERR_LIMIT;
                yaml_event_delete(&ev);
                goto out;
            }
            struct ynode *n = new_node(&p, type == YAML_SEQUENCE_START_EVENT ? YN_SEQ : YN_MAP, &ev.start_mark);
            add_anchor(&p,
                       type == YAML_SEQUENCE_START_EVENT ? ev.data.sequence_start.anchor : ev.data.mapping_start.anchor,
                       n);
            n->open = true;
            p.stack[p.depth++] = (struct frame){.node = n};
            break;
        }
        case YAML_SEQUENCE_END_EVENT:
        case YAML_MAPPING_END_EVENT: {
            struct frame *f = &p.stack[--p.depth];
            struct ynode *n = f->node;
            n->open = false;
            const struct ynode *dup = n->kind == YN_MAP && !doc_bad ? repeated_key(f->kids, f->nkids) : NULL;
            if (dup) {
                /* the document is rejected, not the file: the next documents are whole */
                snprintf(msg, sizeof(msg), "key '%.80s' repeated in one mapping (the second would hide the first)",
                         dup->str);
                report(&p, STOAT_ERR_SYNTAX, dup->line, dup->col, msg);
                doc_bad = true;
                bad_docs++;
            }
            n->items = arena_memdup(a, f->kids, f->nkids * sizeof(*f->kids));
            n->n = (uint32_t)(n->kind == YN_MAP ? f->nkids / 2 : f->nkids);
            free(f->kids);
            f->kids = NULL;
            attach(&p, n, &root);
            break;
        }
        default: break;
        }
        if (type == YAML_SCALAR_EVENT || type == YAML_SEQUENCE_START_EVENT || type == YAML_MAPPING_START_EVENT) {
            if (++p.nodes > max_nodes) {
                report(&p, STOAT_ERR_LIMIT, ev.start_mark.line + 1, ev.start_mark.column + 1,
                       "YAML document has too many nodes");
                err = STOAT_ERR_LIMIT;
                yaml_event_delete(&ev);
                goto out;
            }
        }
        yaml_event_delete(&ev);
        if (type == YAML_STREAM_END_EVENT)
            break;
    }
    if (bad_docs)
        err = STOAT_ERR_SYNTAX;
out:
    free_stack(&p);
    free(p.anchors);
    yaml_parser_delete(&parser);
    return err;
}

struct ynode *ynode_get(const struct ynode *m, const char *key)
{
    if (!m || m->kind != YN_MAP)
        return NULL;
    for (uint32_t i = 0; i < m->n; i++) {
        const struct ynode *k = m->items[2 * i];
        if (k->kind == YN_SCALAR && strcmp(k->str, key) == 0)
            return m->items[2 * i + 1];
    }
    return NULL;
}

bool ynode_is_scalar(const struct ynode *n)
{
    return n && n->kind == YN_SCALAR;
}

bool ynode_is_null(const struct ynode *n)
{
    if (!n || n->kind != YN_SCALAR || !n->plain)
        return false;
    return n->len == 0 || strcmp(n->str, "~") == 0 || strcmp(n->str, "null") == 0 || strcmp(n->str, "Null") == 0 ||
           strcmp(n->str, "NULL") == 0;
}

void yreport_fail(struct yreport *r, const struct ynode *n, const char *msg)
{
    if (r->err)
        return;
    r->err = STOAT_ERR_CONFIG;
    if (r->diag) {
        struct stoat_diag d = {.code = STOAT_ERR_CONFIG,
                               .severity = STOAT_SEV_ERROR,
                               .file = r->file,
                               .line = n ? n->line : 0,
                               .column = n ? n->col : 0,
                               .message = msg};
        r->diag(r->diag_ctx, &d);
    }
}
