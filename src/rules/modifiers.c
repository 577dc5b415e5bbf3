/* The value modifiers of Sigma specification v2.1: a registry table, one
 * entry each (name -> what it does), and the rules for combining them.
 *
 * Why it works this way. A modifier acts twice. When the item is read, its
 * setup says what it makes of the item: a type (re, cidr, exists, fieldref,
 * lt..gte, minute..year), a flag (all, cased, neq, expand), a regex option
 * (i, m, s, after re), or a transform; and it refuses what cannot combine,
 * with the modifier's name in the message. Then, for string values, each
 * transform's apply runs on the item's symbol strings in the rule's order
 * (contains adds '*' around them, base64 encodes them, windash marks the
 * dashes of switches, ...). So order matters: `base64offset|contains`
 * encodes and then searches, while `contains|base64offset` would have to
 * encode a wildcard and is refused. Encodings work on bytes: a windash class
 * becomes its concrete alternatives first, and a wildcard cannot be encoded
 * at all. Adding a modifier is one entry in the table and its functions. */
#include "rules/compile_int.h"

#include "util/text.h"

/* ------------------------------------------------------------ transforms */

void modifiers_add_star(struct cctx *x, struct item_state *st, bool front, bool back)
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
    modifiers_add_star(x, st, true, true);
}

static void xf_startswith(struct cctx *x, struct item_state *st)
{
    if (st->type == T_FIELDREF) {
        st->ref_sub = P_PREFIX;
        return;
    }
    modifiers_add_star(x, st, false, true);
}

static void xf_endswith(struct cctx *x, struct item_state *st)
{
    if (st->type == T_FIELDREF) {
        st->ref_sub = P_SUFFIX;
        return;
    }
    modifiers_add_star(x, st, true, false);
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
}

static void xf_utf16le(struct cctx *x, struct item_state *st)
{
    utf16(x, st, false, false);
}
static void xf_utf16be(struct cctx *x, struct item_state *st)
{
    utf16(x, st, true, false);
}
static void xf_utf16(struct cctx *x, struct item_state *st)
{
    utf16(x, st, false, true);
}

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

/* ----------------------------------------------------------------- setup */

enum {
    F_ALL,
    F_CASED,
    F_NEQ,
    F_EXPAND
};

static bool set_flag(struct cctx *x, struct item_state *st, const struct modifier *m)
{
    (void)x;
    switch (m->arg) {
    case F_ALL: st->all = true; break;
    case F_CASED: st->cased = true; break;
    case F_NEQ: st->neq = true; break;
    case F_EXPAND: st->expand = true; break;
    }
    return true;
}

static bool set_type(struct cctx *x, struct item_state *st, const struct modifier *m)
{
    if (++st->ntypes > 1) {
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%s' cannot be combined with another type modifier",
                     m->name);
        return false;
    }
    st->type = m->arg;
    st->saw_re = m->arg == T_RE;
    return true;
}

static bool set_re_option(struct cctx *x, struct item_state *st, const struct modifier *m)
{
    if (!st->saw_re) {
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%s' is a sub-modifier of 're' and must follow it",
                     m->name);
        return false;
    }
    st->re_flags |= m->arg;
    return true;
}

/* lt..gte compare numbers, or a time part when one came before. */
static bool set_compare(struct cctx *x, struct item_state *st, const struct modifier *m)
{
    if (st->saw_cmp) {
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "only one of lt, lte, gt, gte may be given");
        return false;
    }
    st->saw_cmp = true;
    st->cmp = (uint8_t)m->arg;
    if (!st->saw_time) {
        if (++st->ntypes > 1) {
            compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%s' cannot be combined with another type modifier",
                         m->name);
            return false;
        }
        st->type = T_CMP;
    }
    return true;
}

static bool set_time_part(struct cctx *x, struct item_state *st, const struct modifier *m)
{
    if (st->saw_time || ++st->ntypes > 1) {
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%s' cannot be combined with another type modifier",
                     m->name);
        return false;
    }
    st->saw_time = true;
    st->type = T_TIME;
    st->part = (uint8_t)m->arg;
    return true;
}

/* contains, startswith, endswith: also on a field reference, where they
 * pick the comparison. */
static bool set_wildcard(struct cctx *x, struct item_state *st, const struct modifier *m)
{
    if (st->type == T_RE || st->type == T_CIDR || st->type == T_EXISTS || st->type == T_CMP || st->type == T_TIME) {
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%s' cannot follow a type modifier", m->name);
        return false;
    }
    return true;
}

/* The encodings and windash: string values only. */
static bool set_transform(struct cctx *x, struct item_state *st, const struct modifier *m)
{
    if (!set_wildcard(x, st, m))
        return false;
    if (st->type == T_FIELDREF) {
        compile_fail(x, st->loc, st->field, STOAT_ERR_RULE, "'%s' cannot be applied to a field reference", m->name);
        return false;
    }
    return true;
}

/* -------------------------------------------------------------- registry */

static const struct modifier modifier_table[] = {
    {"contains", set_wildcard, xf_contains, 0},
    {"startswith", set_wildcard, xf_startswith, 0},
    {"endswith", set_wildcard, xf_endswith, 0},
    {"base64", set_transform, xf_base64, 0},
    {"base64offset", set_transform, xf_base64offset, 0},
    {"utf16le", set_transform, xf_utf16le, 0},
    {"utf16be", set_transform, xf_utf16be, 0},
    {"utf16", set_transform, xf_utf16, 0},
    {"wide", set_transform, xf_utf16le, 0},
    {"windash", set_transform, xf_windash, 0},
    {"all", set_flag, NULL, F_ALL},
    {"cased", set_flag, NULL, F_CASED},
    {"neq", set_flag, NULL, F_NEQ},
    {"expand", set_flag, NULL, F_EXPAND},
    {"re", set_type, NULL, T_RE},
    {"i", set_re_option, NULL, PCRE2_CASELESS},
    {"m", set_re_option, NULL, PCRE2_MULTILINE},
    {"s", set_re_option, NULL, PCRE2_DOTALL},
    {"cidr", set_type, NULL, T_CIDR},
    {"exists", set_type, NULL, T_EXISTS},
    {"fieldref", set_type, NULL, T_FIELDREF},
    {"lt", set_compare, NULL, CMP_LT},
    {"lte", set_compare, NULL, CMP_LTE},
    {"gt", set_compare, NULL, CMP_GT},
    {"gte", set_compare, NULL, CMP_GTE},
    {"minute", set_time_part, NULL, TP_MINUTE},
    {"hour", set_time_part, NULL, TP_HOUR},
    {"day", set_time_part, NULL, TP_DAY},
    {"week", set_time_part, NULL, TP_WEEK},
    {"month", set_time_part, NULL, TP_MONTH},
    {"year", set_time_part, NULL, TP_YEAR},
};

static const struct modifier *modifier_find(const char *name)
{
    for (size_t i = 0; i < sizeof(modifier_table) / sizeof(modifier_table[0]); i++)
        if (strcmp(modifier_table[i].name, name) == 0)
            return &modifier_table[i];
    return NULL;
}

bool modifiers_setup(struct cctx *x, const struct sigma_item *it, struct item_state *st)
{
    if (it->nmods > COMPILE_MAX_MODS) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_LIMIT, "more than %d modifiers", COMPILE_MAX_MODS);
        return false;
    }
    for (size_t i = 0; i < it->nmods; i++) {
        const struct modifier *m = modifier_find(it->mods[i]);
        if (!m) {
            compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "unknown modifier '%s'", it->mods[i]);
            return false;
        }
        st->mods[st->nmods++] = m;
        if (!m->setup(x, st, m))
            return false;
    }
    if (st->all && it->nvalues < 2) {
        compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE,
                     "'all' needs a list of two or more values (the specification forbids it on one)");
        return false;
    }
    if (!it->field && (st->type == T_EXISTS || st->type == T_FIELDREF || st->type == T_CMP || st->type == T_TIME ||
                       st->type == T_CIDR || st->neq)) {
        compile_fail(x, &it->loc, NULL, STOAT_ERR_RULE, "a keyword search cannot use a field modifier");
        return false;
    }
    /* a transform before a type modifier: the value is no string to transform */
    for (uint32_t i = 0; i < st->nmods; i++)
        if (st->mods[i]->setup == set_transform && st->type != T_STR) {
            compile_fail(x, &it->loc, it->field, STOAT_ERR_RULE, "'%s' applies to string values only",
                         st->mods[i]->name);
            return false;
        }
    return true;
}

void modifiers_apply(struct cctx *x, struct item_state *st)
{
    for (uint32_t i = 0; i < st->nmods && !x->err; i++)
        if (st->mods[i]->apply)
            st->mods[i]->apply(x, st);
}
