/* See compile.h.
 *
 * Values travel through modifiers as "symbol strings": bytes plus three
 * special symbols (any sequence, any one character, and the windash class of
 * -, /, en dash, em dash, horizontal bar). Wildcards and escapes are decoded
 * once, by the specification's table, when the YAML scalar is read; after that
 * transformations such as base64 or utf16 never confuse a literal '*' with a
 * wildcard. The last step classifies each symbol string into the cheapest
 * matcher that is exact for it (equals, prefix, suffix, contains, glob).
 *
 * Modifiers live in one registry table below, one entry each. */
#include "rules/compile_int.h"

#include <arpa/inet.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "rules/condition.h"
#include "util/fs.h"
#include "util/text.h"

/* ------------------------------------------------------------------ context */

void compile_fail(struct cctx *x, const struct sigma_loc *loc, const char *field, stoat_err code, const char *fmt,
                  ...)
{
    if (x->err)
        return;
    x->err = code;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (x->c->diag) {
        struct stoat_diag d = {.code = code, .severity = STOAT_SEV_ERROR,
                               .file = loc && loc->file ? loc->file : x->r->meta.file,
                               .line = loc ? loc->line : x->r->meta.line, .column = loc ? loc->col : 0,
                               .rule_id = x->r->meta.id, .field = field, .message = msg};
        x->c->diag(x->c->diag_ctx, &d);
    }
}

/* ------------------------------------------------------------------ symbols */

/* The escape table of the specification: a backslash escapes '*', '?' and
 * itself; before anything else it is a plain backslash. With expand, '%' may be
 * escaped too (and then stays literal). */
struct symstr sym_parse(struct cctx *x, const char *v, size_t n, bool expand)
{
    struct symstr s = sym_new(x, (uint32_t)n);
    uint32_t k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)v[i];
        if (ch == '\\' && i + 1 < n && (v[i + 1] == '*' || v[i + 1] == '?' || v[i + 1] == '\\' ||
                                        (expand && v[i + 1] == '%'))) {
            s.s[k++] = (unsigned char)v[++i];
            continue;
        }
        s.s[k++] = ch == '*' ? S_STAR : ch == '?' ? S_ONE : ch;
    }
    s.n = k;
    return s;
}

static struct symstr sym_literal(struct cctx *x, const char *v, size_t n)
{
    struct symstr s = sym_new(x, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        s.s[i] = (unsigned char)v[i];
    return s;
}

/* --------------------------------------------------------------- values */

enum vtype { V_NULL, V_BOOL, V_INT, V_FLOAT, V_STRING };

struct value {
    enum vtype type;
    const char *text;     /* canonical text */
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

/* ------------------------------------------------------------ transforms */

typedef void (*xform_fn)(struct cctx *x, struct item_state *st);

static void add_star(struct cctx *x, struct item_state *st, bool front, bool back)
{
    for (size_t i = 0; i < st->vals.n; i++) {
        struct symstr *s = &st->vals.v[i];
        bool f = front && !(s->n && s->s[0] == S_STAR);
        bool b = back && !(s->n && s->s[s->n - 1] == S_STAR);
        struct symstr t = sym_new(x, s->n + f + b);
        uint32_t k = 0;
        if (f)
            t.s[k++] = S_STAR;
        memcpy(t.s + k, s->s, s->n * sizeof(sym));
        k += s->n;
        if (b)
            t.s[k++] = S_STAR;
        t.n = k;
        *s = t;
    }
}

static void xf_contains(struct cctx *x, struct item_state *st)
{
    if (st->type == T_FIELDREF) {
        st->ref_sub = P_CONTAINS;
        return;
    }
    add_star(x, st, true, true);
    st->wildcarded = true;
}

static void xf_startswith(struct cctx *x, struct item_state *st)
{
    if (st->type == T_FIELDREF) {
        st->ref_sub = P_PREFIX;
        return;
    }
    add_star(x, st, false, true);
    st->wildcarded = true;
}

static void xf_endswith(struct cctx *x, struct item_state *st)
{
    if (st->type == T_FIELDREF) {
        st->ref_sub = P_SUFFIX;
        return;
    }
    add_star(x, st, true, false);
    st->wildcarded = true;
}

/* Encodings work on bytes: a windash class must first become its concrete
 * alternatives, and wildcards cannot be encoded at all. */
static bool expand_dashes(struct cctx *x, struct item_state *st, const char *mod)
{
    static const char *const dashes[] = {"-", "/", "\xe2\x80\x93", "\xe2\x80\x94", "\xe2\x80\x95"};
    struct symvec out = {0};
    for (size_t i = 0; i < st->vals.n; i++) {
        struct symstr s = st->vals.v[i];
        uint32_t nd = 0;
        for (uint32_t j = 0; j < s.n; j++) {
            if (s.s[j] == S_STAR || s.s[j] == S_ONE) {
                compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%s' cannot encode a value with wildcards", mod);
                free(out.v);
                return false;
            }
            nd += s.s[j] == S_DASH;
        }
        if (nd == 0) {
            symvec_push(x, &out, s);
            continue;
        }
        uint64_t combos = 1;
        for (uint32_t j = 0; j < nd; j++)
            combos *= 5;
        if (combos + out.n > COMPILE_MAX_PATTERNS) {
            compile_fail(x, st->loc, st->field, STOAT_ERR_LIMIT, "windash followed by '%s' gives too many values", mod);
            free(out.v);
            return false;
        }
        for (uint64_t c = 0; c < combos; c++) {
            struct symstr t = sym_new(x, s.n * 3);
            uint32_t k = 0;
            uint64_t cc = c;
            for (uint32_t j = 0; j < s.n; j++) {
                if (s.s[j] != S_DASH) {
                    t.s[k++] = s.s[j];
                    continue;
                }
                const char *d = dashes[cc % 5];
                cc /= 5;
                for (; *d; d++)
                    t.s[k++] = (unsigned char)*d;
            }
            t.n = k;
            symvec_push(x, &out, t);
        }
    }
    free(st->vals.v);
    st->vals = out;
    return true;
}

static const char b64chars[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static struct symstr b64_encode(struct cctx *x, const unsigned char *in, size_t n)
{
    struct symstr s = sym_new(x, (uint32_t)(4 * ((n + 2) / 3)));
    uint32_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)in[i] << 16;
        if (i + 1 < n)
            v |= (uint32_t)in[i + 1] << 8;
        if (i + 2 < n)
            v |= in[i + 2];
        s.s[k++] = (unsigned char)b64chars[(v >> 18) & 63];
        s.s[k++] = (unsigned char)b64chars[(v >> 12) & 63];
        s.s[k++] = i + 1 < n ? (unsigned char)b64chars[(v >> 6) & 63] : '=';
        s.s[k++] = i + 2 < n ? (unsigned char)b64chars[v & 63] : '=';
    }
    s.n = k;
    return s;
}

static unsigned char *sym_bytes(struct cctx *x, const struct symstr *s)
{
    unsigned char *b = arena_alloc(&x->tmp, s->n + 1);
    for (uint32_t i = 0; i < s->n; i++)
        b[i] = (unsigned char)s->s[i];
    return b;
}

static void xf_base64(struct cctx *x, struct item_state *st)
{
    if (!expand_dashes(x, st, "base64"))
        return;
    for (size_t i = 0; i < st->vals.n; i++) {
        struct symstr *s = &st->vals.v[i];
        *s = b64_encode(x, sym_bytes(x, s), s->n);
    }
    st->encoded = true;
}

/* The value may sit at any offset of the encoded data: encode it behind 0, 1
 * and 2 filler bytes and keep only the characters that do not depend on the
 * unknown neighbours (those before and after). */
static void xf_base64offset(struct cctx *x, struct item_state *st)
{
    if (!expand_dashes(x, st, "base64offset"))
        return;
    struct symvec out = {0};
    static const uint32_t lead[3] = {0, 2, 3};
    static const uint32_t trail[3] = {0, 3, 2};
    for (size_t i = 0; i < st->vals.n; i++) {
        struct symstr *s = &st->vals.v[i];
        unsigned char *raw = sym_bytes(x, s);
        for (uint32_t shift = 0; shift < 3; shift++) {
            unsigned char *buf = arena_alloc(&x->tmp, s->n + 3);
            memset(buf, ' ', shift);
            memcpy(buf + shift, raw, s->n);
            struct symstr e = b64_encode(x, buf, s->n + shift);
            uint32_t cut_end = trail[(s->n + shift) % 3];
            if (e.n < lead[shift] + cut_end || e.n - lead[shift] - cut_end == 0)
                continue;
            struct symstr t = {.s = e.s + lead[shift], .n = e.n - lead[shift] - cut_end};
            symvec_push(x, &out, t);
        }
    }
    free(st->vals.v);
    st->vals = out;
    st->encoded = true;
}

/* UTF-8 -> UTF-16 code units, little or big endian, optionally with a BOM.
 * Wildcards pass through as wildcards. */
static void utf16(struct cctx *x, struct item_state *st, bool big, bool bom)
{
    if (!expand_dashes(x, st, big ? "utf16be" : "utf16le"))
        return;
    for (size_t i = 0; i < st->vals.n; i++) {
        struct symstr *s = &st->vals.v[i];
        struct symstr t = sym_new(x, s->n * 4 + 2);
        uint32_t k = 0;
        if (bom) {
            t.s[k++] = big ? 0xFE : 0xFF;
            t.s[k++] = big ? 0xFF : 0xFE;
        }
        unsigned char *raw = sym_bytes(x, s);
        for (uint32_t j = 0; j < s->n;) {
            uint32_t cp;
            size_t l = utf8_valid_prefix(raw + j, s->n - j);
            if (l == 0) {
                cp = 0xFFFD;
                l = 1;
            } else if (l == 1) {
                cp = raw[j];
            } else if (l == 2) {
                cp = ((raw[j] & 0x1Fu) << 6) | (raw[j + 1] & 0x3Fu);
            } else if (l == 3) {
                cp = ((raw[j] & 0x0Fu) << 12) | ((raw[j + 1] & 0x3Fu) << 6) | (raw[j + 2] & 0x3Fu);
            } else {
                cp = ((raw[j] & 0x07u) << 18) | ((raw[j + 1] & 0x3Fu) << 12) | ((raw[j + 2] & 0x3Fu) << 6) |
                     (raw[j + 3] & 0x3Fu);
            }
            j += (uint32_t)l;
            uint16_t units[2];
            int nu = 1;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[0] = (uint16_t)(0xD800 | (cp >> 10));
                units[1] = (uint16_t)(0xDC00 | (cp & 0x3FF));
                nu = 2;
            } else {
                units[0] = (uint16_t)cp;
            }
            for (int u = 0; u < nu; u++) {
                t.s[k++] = big ? (units[u] >> 8) : (units[u] & 0xFF);
                t.s[k++] = big ? (units[u] & 0xFF) : (units[u] >> 8);
            }
        }
        t.n = k;
        *s = t;
    }
    st->encoded = true;
}

static void xf_utf16le(struct cctx *x, struct item_state *st) { utf16(x, st, false, false); }
static void xf_utf16be(struct cctx *x, struct item_state *st) { utf16(x, st, true, false); }
static void xf_utf16(struct cctx *x, struct item_state *st) { utf16(x, st, false, true); }

static bool is_word(sym c)
{
    return c < 256 && (c == '_' || (c >= '0' && c <= '9') || ((c | 32) >= 'a' && (c | 32) <= 'z') || c >= 0x80);
}

/* A '-' or '/' that starts a word after a non-word character (a command line
 * switch) may be written with any of the five dash characters. */
static void xf_windash(struct cctx *x, struct item_state *st)
{
    (void)x;
    for (size_t i = 0; i < st->vals.n; i++) {
        struct symstr *s = &st->vals.v[i];
        for (uint32_t j = 0; j < s->n; j++) {
            if (s->s[j] != '-' && s->s[j] != '/')
                continue;
            bool before_nonword = j == 0 || !is_word(s->s[j - 1]);
            bool after_word = j + 1 < s->n && is_word(s->s[j + 1]);
            if (before_nonword && after_word)
                s->s[j] = S_DASH;
        }
    }
}

enum mod_kind { MK_XFORM, MK_FLAG, MK_TYPE, MK_REFLAG, MK_CMP, MK_TIME };
enum mod_id {
    M_CONTAINS, M_STARTSWITH, M_ENDSWITH, M_BASE64, M_BASE64OFFSET, M_UTF16LE, M_UTF16BE, M_UTF16, M_WIDE,
    M_WINDASH, M_ALL, M_CASED, M_NEQ, M_EXPAND, M_RE, M_RE_I, M_RE_M, M_RE_S, M_CIDR, M_EXISTS, M_FIELDREF,
    M_LT, M_LTE, M_GT, M_GTE, M_MINUTE, M_HOUR, M_DAY, M_WEEK, M_MONTH, M_YEAR,
};

struct modifier_def {
    const char *name;
    enum mod_id id;
    enum mod_kind kind;
    xform_fn xform;
};

/* The value modifiers of Sigma specification v2.1, one entry each. */
static const struct modifier_def modifier_table[] = {
    {"contains", M_CONTAINS, MK_XFORM, xf_contains},
    {"startswith", M_STARTSWITH, MK_XFORM, xf_startswith},
    {"endswith", M_ENDSWITH, MK_XFORM, xf_endswith},
    {"base64", M_BASE64, MK_XFORM, xf_base64},
    {"base64offset", M_BASE64OFFSET, MK_XFORM, xf_base64offset},
    {"utf16le", M_UTF16LE, MK_XFORM, xf_utf16le},
    {"utf16be", M_UTF16BE, MK_XFORM, xf_utf16be},
    {"utf16", M_UTF16, MK_XFORM, xf_utf16},
    {"wide", M_WIDE, MK_XFORM, xf_utf16le},
    {"windash", M_WINDASH, MK_XFORM, xf_windash},
    {"all", M_ALL, MK_FLAG, NULL},
    {"cased", M_CASED, MK_FLAG, NULL},
    {"neq", M_NEQ, MK_FLAG, NULL},
    {"expand", M_EXPAND, MK_FLAG, NULL},
    {"re", M_RE, MK_TYPE, NULL},
    {"i", M_RE_I, MK_REFLAG, NULL},
    {"m", M_RE_M, MK_REFLAG, NULL},
    {"s", M_RE_S, MK_REFLAG, NULL},
    {"cidr", M_CIDR, MK_TYPE, NULL},
    {"exists", M_EXISTS, MK_TYPE, NULL},
    {"fieldref", M_FIELDREF, MK_TYPE, NULL},
    {"lt", M_LT, MK_CMP, NULL},
    {"lte", M_LTE, MK_CMP, NULL},
    {"gt", M_GT, MK_CMP, NULL},
    {"gte", M_GTE, MK_CMP, NULL},
    {"minute", M_MINUTE, MK_TIME, NULL},
    {"hour", M_HOUR, MK_TIME, NULL},
    {"day", M_DAY, MK_TIME, NULL},
    {"week", M_WEEK, MK_TIME, NULL},
    {"month", M_MONTH, MK_TIME, NULL},
    {"year", M_YEAR, MK_TIME, NULL},
};

static const struct modifier_def *modifier_find(const char *name)
{
    for (size_t i = 0; i < sizeof(modifier_table) / sizeof(modifier_table[0]); i++)
        if (strcmp(modifier_table[i].name, name) == 0)
            return &modifier_table[i];
    return NULL;
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

static struct pnode *compile_item(struct cctx *x, const struct sigma_item *it)
{
    struct item_state st = {.field = it->field, .loc = &it->loc};
    uint32_t type_mods = 0;
    bool saw_re = false, saw_time = false, saw_cmp = false;
    const struct modifier_def *defs[32];
    if (it->nmods > 32) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_LIMIT, "more than 32 modifiers");
        return NULL;
    }
    /* pass 1: names, type and flags */
    for (size_t i = 0; i < it->nmods; i++) {
        const struct modifier_def *d = modifier_find(it->mods[i]);
        defs[i] = d;
        if (!d) {
            compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "unknown modifier '%s'", it->mods[i]);
            return NULL;
        }
        switch (d->kind) {
        case MK_FLAG:
            if (d->id == M_ALL)
                st.all = true;
            else if (d->id == M_CASED)
                st.cased = true;
            else if (d->id == M_NEQ)
                st.neq = true;
            else if (d->id == M_EXPAND)
                st.expand = true;
            break;
        case MK_TYPE:
            if (++type_mods > 1) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%s' cannot be combined with another type modifier",
                      d->name);
                return NULL;
            }
            st.type = d->id == M_RE ? T_RE : d->id == M_CIDR ? T_CIDR : d->id == M_EXISTS ? T_EXISTS : T_FIELDREF;
            saw_re = d->id == M_RE;
            break;
        case MK_REFLAG:
            if (!saw_re) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%s' is a sub-modifier of 're' and must follow it",
                      d->name);
                return NULL;
            }
            st.re_flags |= d->id == M_RE_I ? PCRE2_CASELESS : d->id == M_RE_M ? PCRE2_MULTILINE : PCRE2_DOTALL;
            break;
        case MK_CMP:
            if (saw_cmp) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "only one of lt, lte, gt, gte may be given");
                return NULL;
            }
            saw_cmp = true;
            st.cmp = d->id == M_LT ? CMP_LT : d->id == M_LTE ? CMP_LTE : d->id == M_GT ? CMP_GT : CMP_GTE;
            if (!saw_time) {
                if (++type_mods > 1) {
                    compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE,
                          "'%s' cannot be combined with another type modifier", d->name);
                    return NULL;
                }
                st.type = T_CMP;
            }
            break;
        case MK_TIME:
            if (saw_time || ++type_mods > 1) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%s' cannot be combined with another type modifier",
                      d->name);
                return NULL;
            }
            saw_time = true;
            st.type = T_TIME;
            st.part = d->id == M_MINUTE ? TP_MINUTE : d->id == M_HOUR ? TP_HOUR : d->id == M_DAY ? TP_DAY
                      : d->id == M_WEEK ? TP_WEEK : d->id == M_MONTH ? TP_MONTH : TP_YEAR;
            break;
        case MK_XFORM:
            if (st.type == T_RE || st.type == T_CIDR || st.type == T_EXISTS || st.type == T_CMP ||
                st.type == T_TIME) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%s' cannot follow a type modifier", d->name);
                return NULL;
            }
            if (st.type == T_FIELDREF && d->id != M_CONTAINS && d->id != M_STARTSWITH && d->id != M_ENDSWITH) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%s' cannot be applied to a field reference",
                      d->name);
                return NULL;
            }
            break;
        }
    }
    if (st.all && it->nvalues < 2) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE,
              "'all' needs a list of two or more values (the specification forbids it on one)");
        return NULL;
    }
    if (!it->field && (st.type == T_EXISTS || st.type == T_FIELDREF || st.type == T_CMP || st.type == T_TIME ||
                       st.type == T_CIDR || st.neq)) {
        compile_fail(x, &it->loc, NULL, STOAT_ERR_RULE, "a keyword search cannot use a field modifier");
        return NULL;
    }
    for (size_t i = 0; i < it->nmods; i++)
        if (defs[i]->kind == MK_XFORM && defs[i]->id != M_CONTAINS && defs[i]->id != M_STARTSWITH &&
            defs[i]->id != M_ENDSWITH && st.type != T_STR) {
            compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%s' applies to string values only", defs[i]->name);
            return NULL;
        }

    struct test *t = arena_zalloc(x->c->out, sizeof(*t));
    t->field = it->field ? fieldtab_intern(x->c->fields, it->field, strlen(it->field)) : FIELD_ANY;
    if (it->field && t->field == FIELD_UNKNOWN) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_LIMIT, "field name too long");
        return NULL;
    }
    t->all = st.all;
    t->negate = st.neq;
    struct pnode *node = new_node(x, N_TEST, 0);
    node->u.test = t;

    /* exists: one boolean */
    if (st.type == T_EXISTS) {
        struct value v = it->nvalues == 1 ? value_of(x, it->values[0]) : (struct value){.type = V_NULL};
        if (it->nvalues != 1 || v.type != V_BOOL || it->nmods != 1) {
            compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'exists' takes one value, true or false, alone");
            return NULL;
        }
        struct pattern *p = arena_zalloc(x->c->out, sizeof(*p));
        p->op = v.boolean ? P_EXISTS : P_NOT_EXISTS;
        p->atom = NO_ATOM;
        t->pat = p;
        t->npat = 1;
        return node;
    }

    struct pattern *pats = NULL;
    size_t npats = 0, cap = 0;
    for (size_t vi = 0; vi < it->nvalues && !x->err; vi++) {
        struct value v = value_of(x, it->values[vi]);
        if (v.type == V_NULL) {
            if (it->nmods) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "null takes no modifiers");
                break;
            }
            if (it->nvalues > 1) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE,
                      "null cannot be part of a list of values (use its own selection)");
                break;
            }
            if (!it->field) {
                compile_fail(x, &it->loc, NULL, STOAT_ERR_RULE, "null needs a field");
                break;
            }
            XGROW(pats, cap, npats + 1);
            memset(&pats[npats], 0, sizeof(*pats));
            pats[npats++].op = P_NULL;
            continue;
        }
        if (v.len > COMPILE_MAX_VALUE) {
            compile_fail(x, &it->loc, it->field, STOAT_ERR_LIMIT, "value longer than %d bytes", COMPILE_MAX_VALUE);
            break;
        }
        switch (st.type) {
        case T_RE: {
            int errcode;
            PCRE2_SIZE erroff;
            uint32_t opts = st.re_flags | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
            pcre2_code *re = pcre2_compile((PCRE2_SPTR)v.text, v.len, opts, &errcode, &erroff, NULL);
            if (!re) {
                PCRE2_UCHAR msg[256];
                pcre2_get_error_message(errcode, msg, sizeof(msg));
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "regular expression error at offset %zu: %s",
                      (size_t)erroff, (const char *)msg);
                break;
            }
            pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);   /* falls back to the interpreter if JIT is absent */
            XGROW(x->c->regexes, x->c->regex_cap, x->c->nregexes + 1);
            x->c->regexes[x->c->nregexes++] = re;
            XGROW(pats, cap, npats + 1);
            struct pattern *p = &pats[npats++];
            memset(p, 0, sizeof(*p));
            p->op = P_RE;
            p->re = re;
            p->lit = arena_strndup(x->c->out, v.text, v.len);
            p->len = (uint32_t)v.len;
            p->cased = !(st.re_flags & PCRE2_CASELESS);
            pattern_regex_rare(x, p, v.text, v.len);
            break;
        }
        case T_CIDR: {
            XGROW(pats, cap, npats + 1);
            struct pattern *p = &pats[npats];
            memset(p, 0, sizeof(*p));
            p->op = P_CIDR;
            if (!pattern_parse_cidr(v.text, v.len, &p->net)) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%.*s' is not an IPv4 or IPv6 network",
                      (int)(v.len > 64 ? 64 : v.len), v.text);
                break;
            }
            npats++;
            break;
        }
        case T_CMP:
        case T_TIME: {
            double num;
            if (v.type == V_INT || v.type == V_FLOAT)
                num = v.num;
            else if (!parse_number(v.text, v.len, &num)) {
                compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%.*s' is not a number",
                      (int)(v.len > 64 ? 64 : v.len), v.text);
                break;
            }
            XGROW(pats, cap, npats + 1);
            struct pattern *p = &pats[npats++];
            memset(p, 0, sizeof(*p));
            p->op = st.type == T_CMP ? P_NUM : P_TIME;
            p->cmp = st.cmp;   /* CMP_EQ (0) when a time part has no comparison */
            p->part = st.part;
            p->num = num;
            break;
        }
        case T_FIELDREF: {
            XGROW(pats, cap, npats + 1);
            struct pattern *p = &pats[npats++];
            memset(p, 0, sizeof(*p));
            p->op = P_FIELDREF;
            p->cased = st.cased;
            p->ref_field = fieldtab_intern(x->c->fields, v.text, v.len);
            p->lit = arena_strndup(x->c->out, v.text, v.len);
            p->len = (uint32_t)v.len;
            break;
        }
        default:
            break;
        case T_STR: {
            struct symvec vals = {0};
            if (v.type != V_STRING)
                symvec_push(x, &vals, sym_literal(x, v.text, v.len));
            else if (st.expand) {
                if (!placeholders_expand(x, &st, v.text, v.len, &vals)) {
                    free(vals.v);
                    break;
                }
            } else
                symvec_push(x, &vals, sym_parse(x, v.text, v.len, false));
            st.vals = vals;
            st.encoded = st.wildcarded = false;
            for (size_t i = 0; i < it->nmods && !x->err; i++)
                if (defs[i]->kind == MK_XFORM)
                    defs[i]->xform(x, &st);
            /* A keyword is searched for inside every value. */
            if (!it->field && !x->err)
                add_star(x, &st, true, true);
            for (size_t i = 0; i < st.vals.n && !x->err; i++) {
                if (npats >= COMPILE_MAX_PATTERNS) {
                    compile_fail(x, &it->loc, it->field, STOAT_ERR_LIMIT, "more than %d values after modifiers",
                          COMPILE_MAX_PATTERNS);
                    break;
                }
                XGROW(pats, cap, npats + 1);
                pattern_from_symbols(x, &st.vals.v[i], st.cased, &pats[npats++]);
            }
            free(st.vals.v);
            st.vals = (struct symvec){0};
            break;
        }
        }
    }
    if (st.type == T_FIELDREF) {
        /* contains/startswith/endswith on a field reference only pick the
         * comparison; the transforms above run for string values alone. */
        for (size_t i = 0; i < it->nmods; i++)
            if (defs[i]->kind == MK_XFORM)
                defs[i]->xform(x, &st);
    }
    if (st.type == T_FIELDREF)
        for (size_t i = 0; i < npats; i++)
            pats[i].sub = st.ref_sub ? st.ref_sub : P_EQ;
    if (x->err) {
        free(pats);   /* regexes stay owned by the compiler's list */
        return NULL;
    }
    for (size_t i = 0; i < npats; i++)
        pats[i].atom = NO_ATOM;
    t->pat = arena_memdup(x->c->out, pats, npats * sizeof(*pats));
    t->npat = (uint32_t)npats;
    free(pats);
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
    case N_NOT:
        return node_cost(n->u.kids[0]);
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
    case COND_REF:
        return searches[c->search];
    case COND_NOT: {
        struct pnode *n = new_node(x, N_NOT, 1);
        ((const struct pnode **)n->u.kids)[0] = compile_cond(x, c->kids[0], searches);
        return n;
    }
    case COND_AND:
    case COND_OR:
    case COND_OF: {
        enum pnode_op op = c->op == COND_AND ? N_AND : c->op == COND_OR ? N_OR
                           : c->need == 1    ? N_OR
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
        if (late_field(c, n->u.test->field))
            return true;
        for (uint32_t i = 0; i < n->u.test->npat; i++)
            if (n->u.test->pat[i].op == P_FIELDREF && late_field(c, n->u.test->pat[i].ref_field))
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
        patterns_set_needs(out->root);   /* after the gating: it masks lists not all gated */
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
        ((const struct pnode **)not->u.kids)[0] = filters[i];
        k[i + 1] = not;
    }
    rule->root = and;
    /* a NOT adds no requirement: the atoms of the rule still hold */
}
