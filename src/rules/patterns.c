/* One value, after its modifiers, becomes the cheapest matcher that is exact
 * for it, and learns what lets the matcher skip it cheaply.
 *
 * Why it works this way. Most Sigma values are a literal with a '*' at one
 * or both ends: those become equals, prefix, suffix or contains on folded
 * bytes, and only what is left needs the glob matcher. Each pattern also
 * keeps its two rarest bytes (by how common a byte is in command lines,
 * paths and registry keys): a value that holds neither cannot match, which
 * the event's byte set tells without a search. A list of patterns that the
 * prefilter cannot gate gets one mask of such bytes for the whole list. For
 * a regex only bytes no case rule can change count, so caseless regexes keep
 * their skip exact too. */
#include "rules/compile_int.h"

#include <arpa/inet.h>

#include "rules/regex_literal.h"
#include "util/text.h"

static const char *fold_dup(struct cctx *x, const unsigned char *b, size_t n, bool cased)
{
    char *o = arena_alloc(x->c->out, n + 1);
    if (cased)
        memcpy(o, b, n);
    else
        fold_case((const char *)b, n, o);
    o[n] = 0;
    return o;
}

/* How common a byte is in command lines, paths and registry keys: lower is
 * rarer. Letters by their frequency in such text, then digits and the usual
 * separators; other punctuation and non-ASCII bytes are rare. */
static int byte_commonness(unsigned char b)
{
    static const char letters[] = "etaoinsrhldcumfpgwybvkxjqz";
    if (b >= 'a' && b <= 'z')
        return 100 + 26 - (int)(strchr(letters, b) - letters);
    if (b >= '0' && b <= '9')
        return 90;
    switch (b) {
    case ' ':
    case '\\':
    case '.':
    case ':':
    case '/':
    case '-':
    case '"':
    case '_': return 140;
    case '=':
    case ',':
    case '\'':
    case '(':
    case ')': return 60;
    default: return b >= 0x80 ? 20 : 40;
    }
}

/* The two rarest distinct bytes of the literal text. */
static void pick_rare(struct pattern *p, const char *s, uint32_t n)
{
    int best[2] = {1000, 1000};
    for (uint32_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)s[i];
        if ((p->nrare >= 1 && p->rare[0] == b) || (p->nrare >= 2 && p->rare[1] == b))
            continue;
        int c = byte_commonness(b);
        if (p->nrare < 2) {
            p->rare[p->nrare] = b;
            best[p->nrare++] = c;
        } else if (c < best[0] || c < best[1]) {
            int k = best[0] > best[1] ? 0 : 1;
            p->rare[k] = b;
            best[k] = c;
        }
    }
}

/* A regular expression's rare bytes: from the literal every match contains,
 * only ASCII bytes that are not letters, which no case rule (Unicode's
 * caseless k matches the Kelvin sign) can match differently. A value without
 * them is not given to PCRE2 at all. */
void patterns_regex_rare(struct cctx *x, struct pattern *p, const char *re, size_t len)
{
    char *lit = arena_alloc(&x->tmp, len + 1);
    size_t n = regex_required_bytes(re, len, lit, len + 1), k = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char b = (unsigned char)lit[i];
        if (b < 0x80 && !((b | 0x20) >= 'a' && (b | 0x20) <= 'z'))
            lit[k++] = (char)b;
    }
    pick_rare(p, lit, (uint32_t)k);
}

/* Symbol string -> the cheapest exact matcher. */
void patterns_make_string(struct cctx *x, const struct symstr *in, bool cased, struct pattern *p)
{
    /* collapse runs of '*' */
    struct symstr s = sym_new(x, in->n);
    uint32_t k = 0;
    for (uint32_t i = 0; i < in->n; i++) {
        if (in->s[i] == S_STAR && k && s.s[k - 1] == S_STAR)
            continue;
        s.s[k++] = in->s[i];
    }
    s.n = k;
    memset(p, 0, sizeof(*p));
    p->atom = NO_ATOM;
    p->cased = cased;
    uint32_t stars = 0, others = 0;
    for (uint32_t i = 0; i < s.n; i++) {
        if (s.s[i] == S_STAR)
            stars++;
        else if (s.s[i] > 255)
            others++;
    }
    unsigned char *bytes = arena_alloc(&x->tmp, s.n + 1);
    uint32_t nb = 0;
    for (uint32_t i = 0; i < s.n; i++)
        if (s.s[i] < 256)
            bytes[nb++] = (unsigned char)s.s[i];
    bool lead = s.n && s.s[0] == S_STAR, trail = s.n > 1 && s.s[s.n - 1] == S_STAR;
    if (others == 0 && stars == 0) {
        p->op = P_EQ;
    } else if (others == 0 && s.n == 1 && stars == 1) {
        p->op = P_ANYVALUE;
    } else if (others == 0 && stars == 1 && lead) {
        p->op = P_SUFFIX;
    } else if (others == 0 && stars == 1 && s.s[s.n - 1] == S_STAR) {
        p->op = P_PREFIX;
    } else if (others == 0 && stars == 2 && lead && trail) {
        p->op = P_CONTAINS;
    } else {
        p->op = P_GLOB;
    }
    if (p->op != P_GLOB) {
        p->lit = fold_dup(x, bytes, nb, cased);
        p->len = nb;
        if (p->op != P_ANYVALUE)
            pick_rare(p, p->lit, p->len);
        return;
    }
    /* glob: literal runs point into one folded buffer */
    p->lit = fold_dup(x, bytes, nb, cased);
    p->len = nb;
    struct glob_tok *toks = arena_alloc(x->c->out, (s.n + 1) * sizeof(*toks));
    uint32_t nt = 0, off = 0;
    for (uint32_t i = 0; i < s.n;) {
        if (s.s[i] < 256) {
            uint32_t start = off;
            while (i < s.n && s.s[i] < 256) {
                i++;
                off++;
            }
            toks[nt++] = (struct glob_tok){.kind = G_LIT, .off = start, .len = off - start};
            continue;
        }
        toks[nt++] = (struct glob_tok){.kind = s.s[i] == S_STAR ? G_STAR : s.s[i] == S_ONE ? G_ONE : G_DASH};
        i++;
    }
    p->toks = toks;
    p->ntoks = nt;
    pick_rare(p, p->lit, p->len); /* every literal byte of a glob must appear */
}

bool patterns_parse_cidr(const char *s, size_t n, struct cidr *out)
{
    char buf[64];
    if (n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *slash = strchr(buf, '/');
    int bits = -1;
    if (slash) {
        *slash = 0;
        int64_t b;
        if (!parse_int64(slash + 1, strlen(slash + 1), &b) || b < 0 || b > 128)
            return false;
        bits = (int)b;
    }
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        if (bits > 32)
            return false;
        out->family = 4;
        out->bits = (uint8_t)(bits < 0 ? 32 : bits);
    } else if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = 6;
        out->bits = (uint8_t)(bits < 0 ? 128 : bits);
    } else {
        return false;
    }
    /* host bits must be zero in a network; clear them rather than refuse */
    for (int i = out->bits; i < (out->family == 4 ? 32 : 128); i++)
        out->addr[i / 8] &= (uint8_t) ~(0x80u >> (i % 8));
    return true;
}

/* See program.h. */
int pattern_need_byte(const struct pattern *p)
{
    switch (p->op) {
    case P_EQ:
    case P_PREFIX:
    case P_SUFFIX:
    case P_CONTAINS:
    case P_GLOB:
    case P_RE: break;
    default: return -1;
    }
    int best = -1, best_c = 1000;
    for (uint8_t k = 0; k < p->nrare; k++) {
        unsigned char b = p->rare[k];
        bool same_folded = b < 0x80 && !((b | 0x20) >= 'a' && (b | 0x20) <= 'z');
        if ((p->cased || p->op == P_RE) && !same_folded)
            continue;
        if (byte_commonness(b) < best_c) {
            best = b;
            best_c = byte_commonness(b);
        }
    }
    return best;
}

/* A list whose patterns are not all gated by atoms (short literals,
 * regexes) gets a byte mask that rejects most values in a few operations. */
static void set_needs(const struct pnode *n, int depth)
{
    if (depth > 200)
        return;
    if (n->op != N_TEST) {
        if (n->op != N_TRUE && n->op != N_FALSE)
            for (uint32_t i = 0; i < n->n; i++)
                set_needs(n->u.kids[i], depth + 1);
        return;
    }
    struct test *t = (struct test *)n->u.test;
    if (t->all || t->negate || t->npat < 2)
        return; /* one pattern checks its own rare bytes */
    uint64_t m[4] = {0};
    bool ungated = false;
    for (uint32_t i = 0; i < t->npat; i++) {
        int b = pattern_need_byte(&t->pat[i]);
        if (b < 0)
            return;
        m[b >> 6] |= 1ull << (b & 63);
        ungated |= t->pat[i].atom == NO_ATOM;
    }
    if (!ungated)
        return;
    memcpy(t->need_any, m, sizeof(m));
    t->has_need = 1;
}

void patterns_set_needs(const struct pnode *root)
{
    set_needs(root, 0);
}
