/* See compile.h. The driver: a rule's detection, search by search and item
 * by item, becomes the match tree; compile_int.h lists the files that do
 * the rest (modifiers, placeholders, patterns, atoms, regex literals).
 *
 * Values travel through modifiers as "symbol strings": bytes plus three
 * special symbols (any sequence, any one character, and the windash class of
 * -, /, en dash, em dash, horizontal bar). Wildcards and escapes are decoded
 * once, by the specification's table, when the YAML scalar is read; after that
 * transformations such as base64 or utf16 never confuse a literal '*' with a
 * wildcard. The last step classifies each symbol string into the cheapest
 * matcher that is exact for it (equals, prefix, suffix, contains, glob).
 *
 * An item is read in two passes: its modifiers first (modifiers_setup: the
 * registry says what each makes of the item, and refuses what cannot
 * combine), then its values, each turned into patterns by the item's type.
 * The first error of a rule is the one reported (compile_fail). AND children
 * are ordered cheapest first; the prefilter's atoms are chosen last, over
 * the whole tree (atoms.c). */
#include "rules/compile.h"

#include "rules/compile_int.h"

#include <stdio.h>
#include <string.h>

#include "rules/condition.h"
#include "rules/regex_check.h"
#include "util/text.h"

/* ------------------------------------------------------------------ symbols */

static struct symstr sym_literal(struct cctx *x, const char *v, size_t n)
{
    struct symstr s = sym_new(x, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        s.s[i] = (unsigned char)v[i];
    return s;
}

/* --------------------------------------------------------------- values */

enum vtype {
    V_NULL,
    V_BOOL,
    V_INT,
    V_FLOAT,
    V_STRING
};

struct value {
    enum vtype type;
    const char *text; /* canonical text */
    size_t len;
    double num;
    bool boolean;
};

static bool plain_is(const struct ynode *n, const char *const *words)
{
    for (; *words; words++)
        if (strcmp(n->str, *words) == 0)
            return true;
    return false;
}

static struct value value_of(struct cctx *x, const struct ynode *n)
{
    struct value v = {.type = V_STRING, .text = n->str, .len = n->len};
    if (!n->plain || n->tagged_str)
        return v;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL", NULL};
    static const char *const trues[] = {"true", "True", "TRUE", NULL};
    static const char *const falses[] = {"false", "False", "FALSE", NULL};
    if (plain_is(n, nulls)) {
        v.type = V_NULL;
        return v;
    }
    if (plain_is(n, trues) || plain_is(n, falses)) {
        v.type = V_BOOL;
        v.boolean = n->str[0] == 't' || n->str[0] == 'T';
        v.text = v.boolean ? "true" : "false";
        v.len = strlen(v.text);
        return v;
    }
    int64_t iv;
    const char *s = n->str;
    size_t len = n->len;
    /* YAML 1.2 integers: decimal, 0x hex, 0o octal. */
    if (len > 2 && s[0] == '0' && s[1] == 'o') {
        int64_t o = 0;
        bool ok = true;
        for (size_t i = 2; i < len; i++) {
            if (s[i] < '0' || s[i] > '7' || o > INT64_MAX / 8) {
                ok = false;
                break;
            }
            o = o * 8 + (s[i] - '0');
        }
        if (ok) {
            v.type = V_INT;
            v.num = (double)o;
            v.text = arena_alloc(&x->tmp, 24);
            v.len = (size_t)snprintf((char *)v.text, 24, "%lld", (long long)o);
            return v;
        }
    }
    if (parse_int64(s, len, &iv) && s[0] != ' ' && s[len - 1] != ' ') {
        v.type = V_INT;
        v.num = (double)iv;
        v.text = arena_alloc(&x->tmp, 24);
        v.len = (size_t)snprintf((char *)v.text, 24, "%lld", (long long)iv);
        return v;
    }
    double d;
    if (parse_number(s, len, &d)) {
        v.type = V_FLOAT;
        v.num = d;
        return v;
    }
    return v;
}

/* ------------------------------------------------------------------ items */

static struct pnode *new_node(struct cctx *x, enum pnode_op op, uint32_t nkids)
{
    struct pnode *n = arena_zalloc(x->c->out, sizeof(*n));
    n->op = (uint8_t)op;
    n->n = nkids;
    if (nkids)
        n->u.kids = arena_zalloc(x->c->out, nkids * sizeof(struct pnode *));
    return n;
}

struct patvec {
    struct pattern *v;
    size_t n, cap;
};

static struct pattern *pat_add(struct patvec *pv)
{
    XGROW(pv->v, pv->cap, pv->n + 1);
    struct pattern *p = &pv->v[pv->n++];
    memset(p, 0, sizeof(*p));
    return p;
}

/* exists: one boolean, alone. */
static bool item_exists(struct cctx *x, const struct sigma_item *it, struct test *t)
{
    struct value v = it->nvalues == 1 ? value_of(x, it->values[0]) : (struct value){.type = V_NULL};
    if (it->nvalues != 1 || v.type != V_BOOL || it->nmods != 1) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'exists' takes one value, true or false, alone");
        return false;
    }
    struct pattern *p = arena_zalloc(x->c->out, sizeof(*p));
    p->op = v.boolean ? P_EXISTS : P_NOT_EXISTS;
    p->atom = NO_ATOM;
    t->pat = p;
    t->npat = 1;
    return true;
}

static void item_regex(struct cctx *x, struct item_state *st, const struct value *v, struct patvec *pv)
{
    int errcode;
    PCRE2_SIZE erroff;
    uint32_t opts = st->re_flags | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->text, v->len, opts, &errcode, &erroff, NULL);
    if (!re) {
        PCRE2_UCHAR msg[256];
        pcre2_get_error_message(errcode, msg, sizeof(msg));
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "regular expression error at offset %zu: %s",
                     (size_t)erroff, (const char *)msg);
        return;
    }
    pcre2_jit_compile(re, PCRE2_JIT_COMPLETE); /* falls back to the interpreter if JIT is absent */
    char frag[64];
    if (regex_backtrack_risk(v->text, v->len, st->re_flags & PCRE2_CASELESS, frag, sizeof(frag)))
        compile_warn(x, st->loc, st->field,
                     "regular expression may backtrack without end: the repeated group '%s' can match the same"
                     " text in many ways (nested quantifiers or overlapping alternatives); on a value that sets"
                     " it off, matching stops at the regex limit and counts as no match",
                     frag);
    XGROW(x->c->regexes, x->c->regex_cap, x->c->nregexes + 1);
    x->c->regexes[x->c->nregexes++] = re;
    struct pattern *p = pat_add(pv);
    p->op = P_RE;
    p->re = re;
    p->re_opts = opts;
    p->lit = arena_strndup(x->c->out, v->text, v->len);
    p->len = (uint32_t)v->len;
    p->cased = !(st->re_flags & PCRE2_CASELESS);
    patterns_regex_rare(x, p, v->text, v->len);
}

static void item_cidr(struct cctx *x, struct item_state *st, const struct value *v, struct patvec *pv)
{
    struct pattern *p = pat_add(pv);
    p->op = P_CIDR;
    if (!patterns_parse_cidr(v->text, v->len, &p->net))
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%.*s' is not an IPv4 or IPv6 network",
                     (int)(v->len > 64 ? 64 : v->len), v->text);
}

/* lt..gte, and the time parts (with or without a comparison). */
static void item_number(struct cctx *x, struct item_state *st, const struct value *v, struct patvec *pv)
{
    double num;
    if (v->type == V_INT || v->type == V_FLOAT) {
        num = v->num;
    } else if (!parse_number(v->text, v->len, &num)) {
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%.*s' is not a number", (int)(v->len > 64 ? 64 : v->len),
                     v->text);
        return;
    }
    struct pattern *p = pat_add(pv);
    p->op = st->type == T_CMP ? P_NUM : P_TIME;
    p->cmp = st->cmp; /* CMP_EQ (0) when a time part has no comparison */
    p->part = st->part;
    p->num = num;
}

static void item_fieldref(struct cctx *x, struct item_state *st, const struct value *v, struct patvec *pv)
{
    struct pattern *p = pat_add(pv);
    p->op = P_FIELDREF;
    p->cased = st->cased;
    p->ref_field = fieldtab_intern(x->c->fields, v->text, v->len);
    p->lit = arena_strndup(x->c->out, v->text, v->len);
    p->len = (uint32_t)v->len;
}

/* A string value through the modifiers' transforms, then one pattern per
 * value they make. */
static void item_strings(struct cctx *x, struct item_state *st, const struct value *v, struct patvec *pv)
{
    struct symvec vals = {0};
    if (v->type != V_STRING) {
        symvec_push(x, &vals, sym_literal(x, v->text, v->len));
    } else if (st->expand) {
        if (!placeholders_expand(x, st, v->text, v->len, &vals)) {
            free(vals.v);
            return;
        }
    } else {
        symvec_push(x, &vals, sym_parse(x, v->text, v->len, false));
    }
    st->vals = vals;
    modifiers_apply(x, st);
    /* A keyword is searched for inside every value. */
    if (!st->field && !x->err)
        modifiers_add_star(x, st, true, true);
    for (size_t i = 0; i < st->vals.n && !x->err; i++) {
        if (pv->n >= COMPILE_MAX_PATTERNS) {
            compile_fail(x, st->loc, st->field, STOAT_ERR_LIMIT, "more than %d values after modifiers",
                         COMPILE_MAX_PATTERNS);
            break;
        }
        patterns_make_string(x, &st->vals.v[i], st->cased, pat_add(pv));
    }
    free(st->vals.v);
    st->vals = (struct symvec){0};
}

/* What each type of item makes of one value (exists: item_exists). */
typedef void (*item_value_fn)(struct cctx *x, struct item_state *st, const struct value *v, struct patvec *pv);
static const item_value_fn value_by_type[] = {
    [T_STR] = item_strings, [T_RE] = item_regex,    [T_CIDR] = item_cidr,
    [T_CMP] = item_number,  [T_TIME] = item_number, [T_FIELDREF] = item_fieldref,
};

/* One value of the item: null, or the patterns the item's type makes of it. */
static void item_value(struct cctx *x, const struct sigma_item *it, struct item_state *st, const struct ynode *n,
                       struct patvec *pv)
{
    struct value v = value_of(x, n);
    if (v.type == V_NULL) {
        if (it->nmods)
            compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "null takes no modifiers");
        else if (it->nvalues > 1)
            compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE,
                         "null cannot be part of a list of values (use its own selection)");
        else if (!it->field)
            compile_fail(x, &it->loc, NULL, STOAT_ERR_RULE, "null needs a field");
        else
            pat_add(pv)->op = P_NULL;
        return;
    }
    if (v.len > COMPILE_MAX_VALUE) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_LIMIT, "value longer than %d bytes", COMPILE_MAX_VALUE);
        return;
    }
    if (value_by_type[st->type])
        value_by_type[st->type](x, st, &v, pv);
}

static struct pnode *compile_item(struct cctx *x, const struct sigma_item *it)
{
    struct item_state st = {.field = it->field, .loc = &it->loc};
    if (!modifiers_setup(x, it, &st))
        return NULL;
    /* the node, then its test: side by side, as eval reads them */
    struct pnode *node = new_node(x, N_TEST, 0);
    struct test *t = arena_zalloc(x->c->out, sizeof(*t));
    node->u.test = t;
    t->field = it->field ? fieldtab_intern(x->c->fields, it->field, strlen(it->field)) : FIELD_ANY;
    if (it->field && t->field == FIELD_UNKNOWN) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_LIMIT, "field name too long");
        return NULL;
    }
    t->all = st.all;
    t->negate = st.neq;
    if (st.type == T_EXISTS)
        return item_exists(x, it, t) ? node : NULL;

    struct patvec pv = {0};
    for (size_t vi = 0; vi < it->nvalues && !x->err; vi++)
        item_value(x, it, &st, it->values[vi], &pv);
    if (st.type == T_FIELDREF) {
        /* contains/startswith/endswith on a field reference only pick the
         * comparison; the transforms above run for string values alone. */
        modifiers_apply(x, &st);
        for (size_t i = 0; i < pv.n; i++)
            pv.v[i].sub = st.ref_sub ? st.ref_sub : P_EQ;
    }
    if (x->err) {
        free(pv.v); /* regexes stay owned by the compiler's list */
        return NULL;
    }
    for (size_t i = 0; i < pv.n; i++)
        pv.v[i].atom = NO_ATOM;
    t->pat = arena_memdup(x->c->out, pv.v, pv.n * sizeof(*pv.v));
    t->npat = (uint32_t)pv.n;
    free(pv.v);
    return node;
}

/* Cost to evaluate, for ordering AND children: cheap, selective tests first. */
static unsigned node_cost(const struct pnode *n)
{
    switch (n->op) {
    case N_TEST: {
        const struct test *t = n->u.test;
        unsigned c = t->field == FIELD_ANY ? 40 : 1;
        for (uint32_t i = 0; i < t->npat; i++) {
            uint8_t op = t->pat[i].op;
            c += op == P_RE ? 20 : op == P_GLOB ? 4 : op == P_CONTAINS ? 3 : 1;
        }
        return c;
    }
    case N_NOT: return node_cost(n->u.kids[0]);
    default: {
        unsigned c = 2;
        for (uint32_t i = 0; i < n->n && c < 100000; i++)
            c += node_cost(n->u.kids[i]);
        return c;
    }
    }
}

static void sort_by_cost(struct pnode *n)
{
    /* insertion sort: few children */
    const struct pnode **k = (const struct pnode **)n->u.kids;
    for (uint32_t i = 1; i < n->n; i++) {
        const struct pnode *v = k[i];
        unsigned cv = node_cost(v);
        uint32_t j = i;
        while (j > 0 && node_cost(k[j - 1]) > cv) {
            k[j] = k[j - 1];
            j--;
        }
        k[j] = v;
    }
}

static const struct pnode *compile_search(struct cctx *x, const struct sigma_search *s)
{
    struct pnode *alts = new_node(x, N_OR, (uint32_t)s->nalts);
    for (size_t a = 0; a < s->nalts; a++) {
        const struct sigma_map *m = &s->alts[a];
        struct pnode *and = new_node(x, N_AND, (uint32_t)m->n);
        for (size_t i = 0; i < m->n; i++) {
            struct pnode *t = compile_item(x, &m->items[i]);
            if (!t)
                return NULL;
            ((const struct pnode **)and->u.kids)[i] = t;
        }
        sort_by_cost(and);
        ((const struct pnode **)alts->u.kids)[a] = and->n == 1 ? and->u.kids[0] : and;
    }
    return alts->n == 1 ? alts->u.kids[0] : alts;
}

static const struct pnode *compile_cond(struct cctx *x, const struct cond_node *c, const struct pnode *const *searches)
{
    switch (c->op) {
    case COND_REF: return searches[c->search];
    case COND_NOT: {
        struct pnode *n = new_node(x, N_NOT, 1);
        ((const struct pnode **)n->u.kids)[0] = compile_cond(x, c->kids[0], searches);
        return n;
    }
    case COND_AND:
    case COND_OR:
    case COND_OF: {
        enum pnode_op op = c->op == COND_AND     ? N_AND
                           : c->op == COND_OR    ? N_OR
                           : c->need == 1        ? N_OR
                           : c->need == c->nkids ? N_AND
                                                 : N_ATLEAST;
        struct pnode *n = new_node(x, op, c->nkids);
        n->need = c->need;
        for (uint32_t i = 0; i < c->nkids; i++)
            ((const struct pnode **)n->u.kids)[i] = compile_cond(x, c->kids[i], searches);
        if (op == N_AND)
            sort_by_cost(n);
        return n->n == 1 ? n->u.kids[0] : n;
    }
    }
    return NULL;
}

static const struct pnode *compile_det(struct cctx *x, const struct sigma_detection *d)
{
    const struct pnode **searches = arena_zalloc(&x->tmp, (d->nsearches + 1) * sizeof(*searches));
    for (size_t i = 0; i < d->nsearches; i++) {
        searches[i] = compile_search(x, &d->searches[i]);
        if (!searches[i])
            return NULL;
    }
    struct pnode *any = new_node(x, N_OR, (uint32_t)d->nconditions);
    for (size_t i = 0; i < d->nconditions; i++) {
        struct cond_node *cn;
        if (cond_parse(d->conditions[i], d, &d->condition_locs[i], x->r->meta.id, &x->tmp, &cn, x->c->diag,
                       x->c->diag_ctx)) {
            x->err = STOAT_ERR_RULE;
            return NULL;
        }
        ((const struct pnode **)any->u.kids)[i] = compile_cond(x, cn, searches);
    }
    return any->n == 1 ? any->u.kids[0] : any;
}

/* ------------------------------------------------------------- entry points */

static bool reads_late(const struct compiler *c, const struct pnode *n, int depth)
{
    if (!n || depth > 200)
        return false;
    if (n->op == N_TEST) {
        if (compile_late_field(c, n->u.test->field))
            return true;
        for (uint32_t i = 0; i < n->u.test->npat; i++)
            if (n->u.test->pat[i].op == P_FIELDREF && compile_late_field(c, n->u.test->pat[i].ref_field))
                return true;
        return false;
    }
    if (n->op == N_TRUE || n->op == N_FALSE)
        return false;
    for (uint32_t i = 0; i < n->n; i++)
        if (reads_late(c, n->u.kids[i], depth + 1))
            return true;
    return false;
}

bool compile_needs_late(const struct compiler *c, const struct pnode *root)
{
    return reads_late(c, root, 0);
}

stoat_err compile_detection(struct compiler *c, const struct sigma_rule *r, struct compiled *out)
{
    struct cctx x = {.c = c, .r = r};
    arena_init(&x.tmp, 16384);
    memset(out, 0, sizeof(*out));
    const struct pnode *root = compile_det(&x, &r->det);
    if (!root && !x.err)
        x.err = STOAT_ERR_RULE;
    if (!x.err) {
        out->root = root;
        atoms_set(&x, out);
        patterns_set_needs(out->root); /* after the gating: it masks lists not all gated */
    }
    arena_free(&x.tmp);
    return x.err;
}

stoat_err compile_filter(struct compiler *c, const struct sigma_rule *f, const struct pnode **out)
{
    struct cctx x = {.c = c, .r = f};
    arena_init(&x.tmp, 16384);
    *out = compile_det(&x, &f->det);
    if (!*out && !x.err)
        x.err = STOAT_ERR_RULE;
    arena_free(&x.tmp);
    return x.err;
}

void compile_attach_filters(struct compiler *c, struct compiled *rule, const struct pnode *const *filters,
                            size_t nfilters)
{
    struct cctx x = {.c = c};
    struct pnode *and = new_node(&x, N_AND, (uint32_t)(nfilters + 1));
    const struct pnode **k = (const struct pnode **)and->u.kids;
    k[0] = rule->root;
    for (size_t i = 0; i < nfilters; i++) {
        struct pnode *not = new_node(&x, N_NOT, 1);
        ((const struct pnode **)not ->u.kids)[0] = filters[i];
        k[i + 1] = not ;
    }
    rule->root = and;
    /* a NOT adds no requirement: the atoms of the rule still hold */
}
