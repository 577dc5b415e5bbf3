/* What the files of the rules compiler share, and nothing outside rules/
 * includes (the loader uses compile.h, which holds the entry points).
 *
 * compile.c      the driver: a rule's detection -> match tree, item by item
 * compile_ctx.c  the context below: the first error, symbol strings
 * modifiers.c    the value modifiers, one registry entry each
 * placeholders.c the `expand` modifier's values, from the placeholder file
 * patterns.c     one value -> the cheapest exact matcher and its rare bytes
 * atoms.c        the literals the prefilter gates a rule on
 * regex_literal.c what every match of a regex contains (regex_literal.h)
 *
 * They share one per-rule context (struct cctx: the compiler, the rule, a
 * scratch arena freed per rule, the first error) and the "symbol strings"
 * in which values travel through the modifiers (see compile.c). */
#ifndef STOAT_RULES_COMPILE_INT_H
#define STOAT_RULES_COMPILE_INT_H

#include <string.h>

#include "rules/compile_types.h"
#include "rules/sigma.h"
#include "util/mem.h"

/* A value's bytes (0..255) plus three symbols no byte can be mistaken for. */
typedef uint16_t sym;
enum {
    S_STAR = 256, /* any sequence */
    S_ONE = 257,  /* any one character */
    S_DASH = 258, /* windash: -, /, en dash, em dash, horizontal bar */
};

struct symstr {
    sym *s;
    uint32_t n;
};

struct symvec {
    struct symstr *v;
    size_t n, cap;
};

struct cctx {
    struct compiler *c;
    const struct sigma_rule *r;
    struct arena tmp; /* value processing scratch, freed per rule */
    stoat_err err;
};

/* Reports the rule's first error (file:line:column, rule id, field) through
 * the compiler's diag callback and remembers it in x->err; later ones are
 * dropped, so one mistake gives one message. */
void compile_fail(struct cctx *x, const struct sigma_loc *loc, const char *field, stoat_err code, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
/* A warning about the rule, which is kept. */
void compile_warn(struct cctx *x, const struct sigma_loc *loc, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static inline void symvec_push(struct cctx *x, struct symvec *v, struct symstr s)
{
    XGROW(v->v, v->cap, v->n + 1);
    v->v[v->n++] = s;
    (void)x;
}

static inline struct symstr sym_new(struct cctx *x, uint32_t n)
{
    struct symstr s = {.s = arena_alloc(&x->tmp, (n ? n : 1) * sizeof(sym)), .n = n};
    return s;
}

/* A Sigma string -> symbols, by the specification's escape table (with
 * expand, '%' may be escaped too). */
struct symstr sym_parse(struct cctx *x, const char *v, size_t n, bool expand);

#define COMPILE_MAX_MODS 32 /* modifiers of one item */

struct item_state;
struct modifier;
typedef bool (*modifier_setup_fn)(struct cctx *x, struct item_state *st, const struct modifier *m);
typedef void (*modifier_apply_fn)(struct cctx *x, struct item_state *st);

/* One entry of the modifier registry (modifiers.c). */
struct modifier {
    const char *name;
    modifier_setup_fn setup; /* when the item is read: its type, a flag, an option; false: refused */
    modifier_apply_fn apply; /* on the string values, in the rule's order (NULL: nothing to do) */
    uint32_t arg;            /* for setup: which flag, type, regex option, comparison or time part */
};

/* One detection item (field|modifiers: values) while it is compiled. */
struct item_state {
    struct symvec vals; /* the current value, as the transforms so far made it */
    bool all, cased, neq, expand;
    enum {
        T_STR,
        T_RE,
        T_CIDR,
        T_CMP,
        T_EXISTS,
        T_FIELDREF,
        T_TIME
    } type;
    uint8_t cmp;     /* enum cmp_op for T_CMP and T_TIME */
    uint8_t part;    /* T_TIME */
    uint8_t ref_sub; /* T_FIELDREF: P_EQ/P_PREFIX/P_SUFFIX/P_CONTAINS */
    uint32_t re_flags;
    const char *field;
    const struct sigma_loc *loc;
    const struct modifier *mods[COMPILE_MAX_MODS];
    uint32_t nmods;
    uint8_t ntypes; /* type modifiers seen */
    bool saw_re, saw_time, saw_cmp;
};

/* modifiers.c: reads the item's modifiers from the registry into st and
 * checks how they combine; false after compile_fail. */
bool modifiers_setup(struct cctx *x, const struct sigma_item *it, struct item_state *st);
/* Runs the transforms on st->vals, in the rule's order. */
void modifiers_apply(struct cctx *x, struct item_state *st);
/* '*' before and/or after each value (unless one is there). */
void modifiers_add_star(struct cctx *x, struct item_state *st, bool front, bool back);

/* True for the fields the writer adds (struct compiler's late_fields). */
static inline bool compile_late_field(const struct compiler *c, uint32_t field)
{
    return c && (field == c->late_fields[0] || field == c->late_fields[1]);
}

/* atoms.c: the rule's requirement into out->atoms, gated patterns into
 * out->gated. */
void atoms_set(struct cctx *x, struct compiled *out);

/* patterns.c: a symbol string -> the cheapest exact matcher, in *p. */
void patterns_make_string(struct cctx *x, const struct symstr *in, bool cased, struct pattern *p);
/* A regex pattern's rare bytes (those no case rule changes). */
void patterns_regex_rare(struct cctx *x, struct pattern *p, const char *re, size_t len);
/* "addr" or "addr/bits", IPv4 or IPv6; host bits cleared. */
bool patterns_parse_cidr(const char *s, size_t n, struct cidr *out);
/* Gives each list of patterns that are not all gated a byte mask (after
 * atoms_set, which marks the gated ones). */
void patterns_set_needs(const struct pnode *root);

#endif
