/* Placeholders for the `expand` modifier: `field|expand: '%Servers%'` takes
 * the values the placeholder file gives the name Servers.
 *
 * Why it works this way. The file is one YAML map (name: value or name:
 * [values]), read once per ruleset and kept in one arena. A placeholder's
 * value is a Sigma string, wildcards and escapes included, so it is spliced
 * into the rule's text before the escape table is applied, and a value with
 * several placeholders expands to every combination, capped at
 * COMPILE_MAX_PATTERNS. A name without a value rejects the rule with a
 * message that says how to give one: a rule that silently matched nothing
 * would look like a clean result. Names compare without ASCII case. */
#include "rules/placeholders.h"

#include "rules/compile_int.h"

#include <stdio.h>

#include "util/config.h"
#include "util/text.h"

struct placeholder {
    const char *name;
    const char *const *values;
    size_t n;
};

struct placeholders {
    struct arena a;
    struct placeholder *v;
    size_t n;
};

struct phload {
    struct placeholders *p;
    const char *file;
    stoat_diag_fn diag;
    void *diag_ctx;
    stoat_err err;
};

static int ph_doc(void *ctx, struct ynode *root, unsigned idx)
{
    struct phload *l = ctx;
    const char *msg = NULL;
    const struct ynode *bad = root;
    if (idx > 0 || root->kind != YN_MAP) {
        msg = "a placeholder file is one map of name: value or name: [values]";
        goto out;
    }
    l->p->v = arena_zalloc(&l->p->a, (root->n + 1) * sizeof(*l->p->v));
    for (uint32_t i = 0; i < root->n; i++) {
        const struct ynode *k = root->items[2 * i], *v = root->items[2 * i + 1];
        struct placeholder *ph = &l->p->v[l->p->n];
        if (k->kind != YN_SCALAR) {
            msg = "a placeholder name must be a string";
            bad = k;
            goto out;
        }
        ph->name = arena_strdup(&l->p->a, k->str);
        const struct ynode *const *items = (const struct ynode *const *)&v;
        uint32_t cnt = 1;
        if (v->kind == YN_SEQ) {
            items = (const struct ynode *const *)v->items;
            cnt = v->n;
        } else if (v->kind != YN_SCALAR) {
            msg = "a placeholder value must be a string or a list of strings";
            bad = v;
            goto out;
        }
        const char **vals = arena_alloc(&l->p->a, (cnt ? cnt : 1) * sizeof(*vals));
        for (uint32_t j = 0; j < cnt; j++) {
            if (items[j]->kind != YN_SCALAR) {
                msg = "a placeholder value must be a string or a list of strings";
                bad = items[j];
                goto out;
            }
            vals[j] = arena_strdup(&l->p->a, items[j]->str);
        }
        ph->values = vals;
        ph->n = cnt;
        l->p->n++;
    }
out:
    if (msg) {
        l->err = STOAT_ERR_CONFIG;
        if (l->diag) {
            struct stoat_diag d = {.code = STOAT_ERR_CONFIG,
                                   .severity = STOAT_SEV_ERROR,
                                   .file = l->file,
                                   .line = bad ? bad->line : 0,
                                   .column = bad ? bad->col : 0,
                                   .message = msg};
            l->diag(l->diag_ctx, &d);
        }
        return 1;
    }
    return 0;
}

stoat_err placeholders_load_text(const char *name, const char *text, size_t len, struct placeholders **out,
                                 stoat_diag_fn diag, void *diag_ctx)
{
    struct placeholders *p = xcalloc(1, sizeof(*p));
    arena_init(&p->a, 4096);
    struct arena y;
    arena_init(&y, 16384);
    struct phload l = {.p = p, .file = name, .diag = diag, .diag_ctx = diag_ctx};
    stoat_err e = yaml_parse(name, text, len, &y, ph_doc, &l, diag, diag_ctx);
    arena_free(&y);
    if (!e)
        e = l.err;
    if (e) {
        placeholders_free(p);
        *out = NULL;
        return e;
    }
    *out = p;
    return STOAT_OK;
}

static stoat_err parse_placeholders(const char *name, const char *text, size_t len, void *out, stoat_diag_fn diag,
                                    void *diag_ctx)
{
    return placeholders_load_text(name, text, len, out, diag, diag_ctx);
}

stoat_err placeholders_load(const char *path, struct placeholders **out, stoat_diag_fn diag, void *diag_ctx)
{
    *out = NULL;
    return config_load(path, 4u << 20, "the placeholder file", parse_placeholders, out, diag, diag_ctx);
}

void placeholders_free(struct placeholders *p)
{
    if (!p)
        return;
    arena_free(&p->a);
    free(p);
}

static const struct placeholder *ph_find(const struct placeholders *p, const char *name, size_t len)
{
    if (!p)
        return NULL;
    for (size_t i = 0; i < p->n; i++)
        if (strlen(p->v[i].name) == len && ascii_eq_nocase(p->v[i].name, name, len))
            return &p->v[i];
    return NULL;
}

/* Replaces each unescaped %name% by each of its values (a product when there
 * are several placeholders). Placeholder values are Sigma strings (wildcards
 * allowed). */
bool placeholders_expand(struct cctx *x, struct item_state *st, const char *v, size_t n, struct symvec *out)
{
    /* find the first unescaped %...% */
    for (size_t i = 0; i < n; i++) {
        if (v[i] == '\\' && i + 1 < n) {
            i++;
            continue;
        }
        if (v[i] != '%')
            continue;
        const char *end = memchr(v + i + 1, '%', n - i - 1);
        if (!end)
            break;
        size_t nl = (size_t)(end - (v + i + 1));
        const struct placeholder *ph = ph_find(x->c->ph, v + i + 1, nl);
        if (!ph) {
            compile_fail(x, st->loc, st->field, STOAT_ERR_PLACEHOLDER,
                         "placeholder %%%.*s%% has no value (give one in a placeholder file, --placeholders FILE)",
                         (int)nl, v + i + 1);
            return false;
        }
        for (size_t j = 0; j < ph->n; j++) {
            size_t pl = strlen(ph->values[j]);
            size_t rest = n - (size_t)(end + 1 - v);
            char *joined = arena_alloc(&x->tmp, i + pl + rest + 1);
            memcpy(joined, v, i);
            /* The head before the placeholder is still in escaped form; the
             * value is a Sigma string too, so both parse the same way. */
            memcpy(joined + i, ph->values[j], pl);
            memcpy(joined + i + pl, end + 1, rest);
            /* Expansion continues after the substituted text only. */
            struct symvec tail = {0};
            if (!placeholders_expand(x, st, end + 1, rest, &tail)) {
                free(tail.v);
                return false;
            }
            struct symstr head = sym_parse(x, joined, i + pl, true);
            for (size_t t = 0; t < tail.n; t++) {
                if (out->n >= COMPILE_MAX_PATTERNS) {
                    free(tail.v);
                    compile_fail(x, st->loc, st->field, STOAT_ERR_LIMIT, "placeholder expansion gives too many values");
                    return false;
                }
                struct symstr c = sym_new(x, head.n + tail.v[t].n);
                memcpy(c.s, head.s, head.n * sizeof(sym));
                memcpy(c.s + head.n, tail.v[t].s, tail.v[t].n * sizeof(sym));
                symvec_push(x, out, c);
            }
            free(tail.v);
        }
        return true;
    }
    symvec_push(x, out, sym_parse(x, v, n, true));
    return true;
}
