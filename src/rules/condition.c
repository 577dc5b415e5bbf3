/* See condition.h. A recursive-descent parser over a token list, one
 * function per precedence level (or < and < not < x of < parentheses, as the
 * specification orders them). Recursion depth is capped, so a hostile
 * condition cannot exhaust the stack. */
#include "rules/condition.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/text.h"

enum tok_kind {
    T_END,
    T_LPAREN,
    T_RPAREN,
    T_AND,
    T_OR,
    T_NOT,
    T_OF,
    T_ALL,
    T_ANY,
    T_THEM,
    T_NUM,
    T_IDENT,
    T_PIPE
};

struct tok {
    enum tok_kind kind;
    const char *s;
    size_t len;
    size_t pos;
};

struct cparse {
    const char *text;
    const struct sigma_detection *det;
    const struct sigma_loc *loc;
    const char *rule_id;
    struct arena *a;
    stoat_diag_fn diag;
    void *diag_ctx;
    struct tok *toks;
    size_t ntoks, at;
    int depth;
    stoat_err err;
};

static void cfail(struct cparse *p, size_t pos, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void cfail(struct cparse *p, size_t pos, const char *fmt, ...)
{
    if (p->err)
        return;
    p->err = STOAT_ERR_RULE;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (n > 0 && (size_t)n < sizeof(msg))
        snprintf(msg + n, sizeof(msg) - (size_t)n, " in condition '%.80s%s'", p->text,
                 strlen(p->text) > 80 ? "..." : "");
    if (p->diag) {
        uint64_t line = p->loc ? p->loc->line : 0, col = p->loc ? p->loc->col : 0;
        /* Column only when the condition sits on one line of the file. */
        if (col && !strchr(p->text, '\n'))
            col += pos;
        struct stoat_diag d = {.code = STOAT_ERR_RULE,
                               .severity = STOAT_SEV_ERROR,
                               .file = p->loc ? p->loc->file : NULL,
                               .line = line,
                               .column = col,
                               .rule_id = p->rule_id,
                               .message = msg};
        p->diag(p->diag_ctx, &d);
    }
}

static bool word_eq(const struct tok *t, const char *w)
{
    return t->len == strlen(w) && ascii_eq_nocase(t->s, w, t->len);
}

static void tokenize(struct cparse *p)
{
    const char *s = p->text;
    size_t n = strlen(s), cap = 0;
    for (size_t i = 0; i < n;) {
        char ch = s[i];
        if (ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r') {
            i++;
            continue;
        }
        struct tok t = {.s = s + i, .pos = i, .len = 1};
        if (ch == '(')
            t.kind = T_LPAREN;
        else if (ch == ')')
            t.kind = T_RPAREN;
        else if (ch == '|')
            t.kind = T_PIPE;
        else {
            size_t j = i;
            while (j < n && s[j] != ' ' && s[j] != '\t' && s[j] != '\n' && s[j] != '\r' && s[j] != '(' && s[j] != ')' &&
                   s[j] != '|')
                j++;
            t.len = j - i;
            t.kind = T_IDENT;
            if (word_eq(&t, "and"))
                t.kind = T_AND;
            else if (word_eq(&t, "or"))
                t.kind = T_OR;
            else if (word_eq(&t, "not"))
                t.kind = T_NOT;
            else if (word_eq(&t, "of"))
                t.kind = T_OF;
            else if (word_eq(&t, "all"))
                t.kind = T_ALL;
            else if (word_eq(&t, "any"))
                t.kind = T_ANY;
            else if (word_eq(&t, "them"))
                t.kind = T_THEM;
            else {
                bool num = true;
                for (size_t k = 0; k < t.len; k++)
                    if (t.s[k] < '0' || t.s[k] > '9')
                        num = false;
                if (num && t.len <= 6)
                    t.kind = T_NUM;
            }
        }
        XGROW(p->toks, cap, p->ntoks + 2);
        p->toks[p->ntoks++] = t;
        i += t.len;
    }
    XGROW(p->toks, cap, p->ntoks + 1);
    p->toks[p->ntoks] = (struct tok){.kind = T_END, .pos = n};
}

static struct tok *peek(struct cparse *p)
{
    return &p->toks[p->at];
}
static struct tok *next(struct cparse *p)
{
    struct tok *t = &p->toks[p->at];
    if (t->kind != T_END)
        p->at++;
    return t;
}

static struct cond_node *node(struct cparse *p, enum cond_op op, uint32_t nkids)
{
    struct cond_node *n = arena_zalloc(p->a, sizeof(*n));
    n->op = op;
    n->nkids = nkids;
    n->kids = nkids ? arena_zalloc(p->a, nkids * sizeof(*n->kids)) : NULL;
    return n;
}

static struct cond_node *parse_or(struct cparse *p);

static struct cond_node *parse_quantifier(struct cparse *p)
{
    struct tok *q = next(p);
    uint32_t need = 1;
    bool all = q->kind == T_ALL;
    if (q->kind == T_NUM) {
        need = 0;
        for (size_t k = 0; k < q->len; k++)
            need = need * 10 + (uint32_t)(q->s[k] - '0');
        if (need == 0) {
            cfail(p, q->pos, "'0 of' can never hold");
            return NULL;
        }
    }
    if (next(p)->kind != T_OF) {
        cfail(p, q->pos, "expected 'of' after '%.*s'", (int)q->len, q->s);
        return NULL;
    }
    struct tok *what = next(p);
    if (what->kind != T_THEM && what->kind != T_IDENT) {
        cfail(p, what->pos, "expected a search identifier pattern or 'them' after 'of'");
        return NULL;
    }
    char pat[256];
    if (what->len >= sizeof(pat)) {
        cfail(p, what->pos, "pattern too long");
        return NULL;
    }
    memcpy(pat, what->s, what->len);
    pat[what->len] = 0;
    uint32_t count = 0;
    for (size_t i = 0; i < p->det->nsearches; i++) {
        const char *name = p->det->searches[i].name;
        if (what->kind == T_THEM ? name[0] != '_' : glob_simple(pat, name))
            count++;
    }
    if (count == 0) {
        cfail(p, what->pos, "'%s' matches no search identifier", what->kind == T_THEM ? "them" : pat);
        return NULL;
    }
    struct cond_node *n = node(p, COND_OF, count);
    uint32_t k = 0;
    for (size_t i = 0; i < p->det->nsearches; i++) {
        const char *name = p->det->searches[i].name;
        if (what->kind == T_THEM ? name[0] != '_' : glob_simple(pat, name)) {
            struct cond_node *r = node(p, COND_REF, 0);
            r->search = (uint32_t)i;
            n->kids[k++] = r;
        }
    }
    n->need = all ? count : need;
    if (n->need > count) {
        /* "2 of x*" with one x: can never hold; say so rather than never alert. */
        cfail(p, q->pos, "'%u of %s' asks for more than the %u matching search identifiers", need, pat, count);
        return NULL;
    }
    return n;
}

static struct cond_node *parse_primary(struct cparse *p)
{
    struct tok *t = peek(p);
    switch (t->kind) {
    case T_LPAREN: {
        next(p);
        if (++p->depth > COND_MAX_DEPTH) {
            cfail(p, t->pos, "parentheses nested deeper than %d", COND_MAX_DEPTH);
            return NULL;
        }
        struct cond_node *n = parse_or(p);
        p->depth--;
        if (!n)
            return NULL;
        if (next(p)->kind != T_RPAREN) {
            cfail(p, t->pos, "unbalanced '('");
            return NULL;
        }
        return n;
    }
    case T_NUM:
    case T_ALL:
    case T_ANY: return parse_quantifier(p);
    case T_IDENT: {
        next(p);
        for (size_t i = 0; i < p->det->nsearches; i++) {
            const char *name = p->det->searches[i].name;
            if (strlen(name) == t->len && memcmp(name, t->s, t->len) == 0) {
                struct cond_node *r = node(p, COND_REF, 0);
                r->search = (uint32_t)i;
                return r;
            }
        }
        if (memchr(t->s, '*', t->len))
            cfail(p, t->pos, "pattern '%.*s' needs '1 of' or 'all of' before it", (int)t->len, t->s);
        else
            cfail(p, t->pos, "unknown search identifier '%.*s'", (int)t->len, t->s);
        return NULL;
    }
    case T_PIPE:
        cfail(p, t->pos, "aggregation expressions ('| count() ...') are Sigma 1.x syntax; use a correlation rule");
        return NULL;
    case T_END: cfail(p, t->pos, "condition ends where an operand was expected"); return NULL;
    default: cfail(p, t->pos, "unexpected '%.*s'", (int)t->len, t->s); return NULL;
    }
}

static struct cond_node *parse_not(struct cparse *p)
{
    if (peek(p)->kind == T_NOT) {
        struct tok *t = next(p);
        if (++p->depth > COND_MAX_DEPTH) {
            cfail(p, t->pos, "'not' nested deeper than %d", COND_MAX_DEPTH);
            return NULL;
        }
        struct cond_node *k = parse_not(p);
        p->depth--;
        if (!k)
            return NULL;
        struct cond_node *n = node(p, COND_NOT, 1);
        n->kids[0] = k;
        return n;
    }
    return parse_primary(p);
}

/* Collects a chain "a op b op c" into one n-ary node. */
static struct cond_node *parse_chain(struct cparse *p, enum tok_kind opk, enum cond_op op,
                                     struct cond_node *(*sub)(struct cparse *))
{
    struct cond_node *first = sub(p);
    if (!first || peek(p)->kind != opk)
        return first;
    struct cond_node **kids = NULL;
    size_t n = 0, cap = 0;
    XGROW(kids, cap, 1);
    kids[n++] = first;
    while (peek(p)->kind == opk) {
        next(p);
        struct cond_node *k = sub(p);
        if (!k) {
            free(kids);
            return NULL;
        }
        XGROW(kids, cap, n + 1);
        kids[n++] = k;
    }
    struct cond_node *res = node(p, op, (uint32_t)n);
    memcpy(res->kids, kids, n * sizeof(*kids));
    free(kids);
    return res;
}

static struct cond_node *parse_and(struct cparse *p)
{
    return parse_chain(p, T_AND, COND_AND, parse_not);
}
static struct cond_node *parse_or(struct cparse *p)
{
    return parse_chain(p, T_OR, COND_OR, parse_and);
}

stoat_err cond_parse(const char *text, const struct sigma_detection *det, const struct sigma_loc *loc,
                     const char *rule_id, struct arena *a, struct cond_node **out, stoat_diag_fn diag, void *diag_ctx)
{
    struct cparse p = {
        .text = text, .det = det, .loc = loc, .rule_id = rule_id, .a = a, .diag = diag, .diag_ctx = diag_ctx};
    *out = NULL;
    if (strlen(text) > COND_MAX_LEN) {
        cfail(&p, 0, "condition longer than %d bytes", COND_MAX_LEN);
        return p.err;
    }
    tokenize(&p);
    struct cond_node *n = parse_or(&p);
    if (n && peek(&p)->kind != T_END) {
        struct tok *t = peek(&p);
        if (t->kind == T_RPAREN)
            cfail(&p, t->pos, "unbalanced ')'");
        else if (t->kind == T_PIPE)
            cfail(&p, t->pos, "aggregation expressions ('| count() ...') are Sigma 1.x syntax; use a correlation rule");
        else
            cfail(&p, t->pos, "expected 'and' or 'or' before '%.*s'", (int)t->len, t->s);
        n = NULL;
    }
    if (!n && !p.err)
        cfail(&p, 0, "empty condition");
    free(p.toks);
    *out = n;
    return p.err;
}
