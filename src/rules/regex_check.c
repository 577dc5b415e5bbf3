/* Regular expressions that may backtrack without end (regex_check.h).
 *
 * Why it works this way. A backtracking matcher takes exponential time when
 * a repeated group can match the same text in many ways: ^(a+)+$ on
 * "aaa...ab" tries every way of cutting the a's before it fails. The run
 * time limit (the engine's match limit) bounds the damage; this check names
 * such patterns when the rules are checked, before a value sets them off.
 *
 * It is a lint over the pattern's text, not a proof, and it leans towards
 * warning. It reads the pattern into groups, branches and pieces (an atom
 * with its quantifier), each piece with the set of bytes it may consume, and
 * calls a group that repeats (a maximum of two or more) risky when:
 * - one of its branches holds a piece that itself repeats (or a group that
 *   holds one) and no other piece the branch must match is disjoint from it:
 *   nothing then marks where one repetition ends and the next begins:
 *   (a+)+, (a*)*, (\w+\s?)+, (.*a){3}; but not (\d+\.){3}, whose dots
 *   cannot be digits;
 * - or two of its branches can begin with the same text: (a|a)*, (\w|\d)+.
 * Possessive quantifiers and atomic groups do not backtrack and are not
 * counted as repeating. Patterns it cannot read (extended mode,
 * conditionals, recursion) are left alone: PCRE2 has accepted them, and the
 * match limit still holds. */
#include "rules/regex_check.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "util/mem.h"

#define RX_INF   UINT32_MAX
#define RX_DEPTH 32

struct cset {
    uint64_t w[4];
};

struct piece {
    struct cset set;   /* the bytes it may consume */
    uint32_t min, max; /* how many times (after its quantifier) */
    bool zero;         /* consumes nothing: anchors, lookarounds, option settings */
    bool repeats;      /* may match a varying number of times and backtrack, or holds such a piece */
    bool single;       /* one byte exactly: an atom without a quantifier */
};

struct branch {
    struct piece *v;
    size_t n, cap;
};

struct alt {
    struct branch *b;
    size_t n, cap;
};

struct rx {
    const char *s;
    size_t n, i;
    bool fold; /* caseless somewhere: letters stand for both cases */
    bool giveup;
    bool found;
    size_t from, to; /* the first risky group */
};

/* ------------------------------------------------------------ byte sets */

static void cs_add(struct cset *c, unsigned b)
{
    c->w[(b >> 6) & 3] |= 1ull << (b & 63);
}

static void cs_range(struct cset *c, unsigned lo, unsigned hi)
{
    for (unsigned b = lo; b <= hi && b < 256; b++)
        cs_add(c, b);
}

static void cs_all(struct cset *c)
{
    memset(c, 0xff, sizeof(*c));
}

static void cs_or(struct cset *c, const struct cset *o)
{
    for (int k = 0; k < 4; k++)
        c->w[k] |= o->w[k];
}

static void cs_not(struct cset *c)
{
    for (int k = 0; k < 4; k++)
        c->w[k] = ~c->w[k];
}

static bool cs_meets(const struct cset *a, const struct cset *b)
{
    for (int k = 0; k < 4; k++)
        if (a->w[k] & b->w[k])
            return true;
    return false;
}

/* The one byte of a set that has one, else -1. */
static int cs_single(const struct cset *c)
{
    int found = -1;
    for (int k = 0; k < 4; k++) {
        if (!c->w[k])
            continue;
        if (found >= 0 || (c->w[k] & (c->w[k] - 1)))
            return -1;
        found = k * 64 + __builtin_ctzll(c->w[k]);
    }
    return found;
}

static void cs_byte(struct rx *x, struct cset *c, unsigned b)
{
    if (b >= 0x80) {
        cs_range(c, 0x80, 0xff); /* a code point past ASCII: its UTF-8 bytes */
        return;
    }
    cs_add(c, b);
    if (x->fold && ((b | 32) >= 'a' && (b | 32) <= 'z'))
        cs_add(c, b ^ 32);
}

/* \d \w \s \h \v and their complements; false for another letter */
static bool cs_class_escape(char e, struct cset *c)
{
    struct cset t = {0};
    switch (e | 32) {
    case 'd': cs_range(&t, '0', '9'); break;
    case 'w':
        cs_range(&t, '0', '9');
        cs_range(&t, 'a', 'z');
        cs_range(&t, 'A', 'Z');
        cs_add(&t, '_');
        break;
    case 's':
        cs_range(&t, '\t', '\r');
        cs_add(&t, ' ');
        break;
    case 'h':
        cs_add(&t, '\t');
        cs_add(&t, ' ');
        cs_range(&t, 0x80, 0xff);
        break;
    case 'v':
        cs_range(&t, '\n', '\r');
        cs_range(&t, 0x80, 0xff);
        break;
    default: return false;
    }
    if (e >= 'A' && e <= 'Z')
        cs_not(&t);
    cs_or(c, &t);
    return true;
}

static unsigned hex_digit(char ch)
{
    return ch >= '0' && ch <= '9' ? (unsigned)(ch - '0') : (unsigned)((ch | 32) - 'a' + 10);
}

static bool is_hex(char ch)
{
    return (ch >= '0' && ch <= '9') || ((ch | 32) >= 'a' && (ch | 32) <= 'f');
}

/* An escape at s[i] (after the backslash) that stands for bytes: adds them
 * to c and moves i past it. False for zero-width escapes (\b, \A, ...). */
static bool escape_set(struct rx *x, struct cset *c)
{
    const char *s = x->s;
    char e = s[x->i++];
    if (cs_class_escape(e, c))
        return true;
    switch (e) {
    case 'b':
    case 'B':
    case 'A':
    case 'z':
    case 'Z':
    case 'G':
    case 'K':
    case 'E': return false;
    case 'N':
    case 'R':
    case 'X':
    case 'C':
    case 'p':
    case 'P':
        if ((e == 'p' || e == 'P' || e == 'N') && x->i < x->n && s[x->i] == '{') {
            while (x->i < x->n && s[x->i] != '}')
                x->i++;
            x->i += x->i < x->n;
        } else if ((e == 'p' || e == 'P') && x->i < x->n) {
            x->i++;
        }
        cs_all(c);
        return true;
    case 'x': {
        unsigned v = 0;
        if (x->i < x->n && s[x->i] == '{') {
            for (x->i++; x->i < x->n && s[x->i] != '}'; x->i++)
                v = v < 0x110000 ? v * 16 + hex_digit(s[x->i]) : v;
            x->i += x->i < x->n;
        } else {
            for (int k = 0; k < 2 && x->i < x->n && is_hex(s[x->i]); k++)
                v = v * 16 + hex_digit(s[x->i++]);
        }
        cs_byte(x, c, v);
        return true;
    }
    case 'c':
        if (x->i < x->n)
            cs_byte(x, c, (unsigned)(unsigned char)s[x->i++] ^ 0x40);
        return true;
    case 'o':
    case 'k':
    case 'g':
        /* an octal value, or a back reference: its text varies */
        if (x->i < x->n && (s[x->i] == '{' || s[x->i] == '<' || s[x->i] == '\'')) {
            char close = s[x->i] == '{' ? '}' : s[x->i] == '<' ? '>' : '\'';
            while (x->i < x->n && s[x->i] != close)
                x->i++;
            x->i += x->i < x->n;
        } else {
            while (x->i < x->n && ((s[x->i] >= '0' && s[x->i] <= '9') || s[x->i] == '-' || s[x->i] == '+'))
                x->i++;
        }
        cs_all(c);
        return true;
    case 'a': cs_byte(x, c, 7); return true;
    case 'e': cs_byte(x, c, 27); return true;
    case 'f': cs_byte(x, c, '\f'); return true;
    case 'n': cs_byte(x, c, '\n'); return true;
    case 'r': cs_byte(x, c, '\r'); return true;
    case 't': cs_byte(x, c, '\t'); return true;
    default:
        if (e >= '0' && e <= '9') { /* octal or a back reference */
            while (x->i < x->n && s[x->i] >= '0' && s[x->i] <= '9')
                x->i++;
            cs_all(c);
            return true;
        }
        cs_byte(x, c, (unsigned char)e);
        return true;
    }
}

/* A character class at s[i] (after the '['). */
static void class_set(struct rx *x, struct cset *c)
{
    const char *s = x->s;
    struct cset t = {0};
    bool neg = x->i < x->n && s[x->i] == '^';
    x->i += neg;
    bool first = true;
    int prev = -1; /* the last single byte, for a range */
    while (x->i < x->n && (s[x->i] != ']' || first)) {
        first = false;
        if (s[x->i] == '[' && x->i + 1 < x->n && s[x->i + 1] == ':') {
            /* a POSIX class: taken as any byte */
            size_t j = x->i + 2;
            while (j + 1 < x->n && !(s[j] == ':' && s[j + 1] == ']'))
                j++;
            x->i = j + 1 < x->n ? j + 2 : x->n;
            cs_all(&t);
            prev = -1;
            continue;
        }
        if (s[x->i] == '-' && prev >= 0 && x->i + 1 < x->n && s[x->i + 1] != ']') {
            x->i++;
            int hi = (unsigned char)s[x->i++];
            if (hi == '\\' && x->i < x->n) {
                struct cset e = {0};
                escape_set(x, &e); /* a range to an escape: take the escape's bytes */
                cs_or(&t, &e);
                hi = prev;
            }
            for (int b = prev; b <= hi; b++)
                cs_byte(x, &t, (unsigned)b);
            prev = -1;
            continue;
        }
        if (s[x->i] == '\\' && x->i + 1 < x->n) {
            x->i++;
            struct cset e = {0};
            escape_set(x, &e);
            cs_or(&t, &e);
            prev = cs_single(&e); /* \x41, \-, \]: one byte, which may begin a range */
            continue;
        }
        prev = (unsigned char)s[x->i++];
        cs_byte(x, &t, (unsigned)prev);
    }
    x->i += x->i < x->n; /* the ']' */
    if (neg)
        cs_not(&t);
    cs_or(c, &t);
}

/* ------------------------------------------------------------ reading */

static void parse_alt(struct rx *x, struct alt *a, int depth);

static struct piece *branch_add(struct branch *b)
{
    XGROW(b->v, b->cap, b->n + 1);
    struct piece *p = &b->v[b->n++];
    memset(p, 0, sizeof(*p));
    p->min = p->max = 1;
    return p;
}

static void alt_free(struct alt *a)
{
    for (size_t i = 0; i < a->n; i++)
        free(a->b[i].v);
    free(a->b);
    memset(a, 0, sizeof(*a));
}

/* A quantifier at s[i], if any: *min, *max and whether it is possessive. */
static bool quantifier(struct rx *x, uint32_t *min, uint32_t *max, bool *possessive)
{
    const char *s = x->s;
    size_t i = x->i;
    if (i >= x->n)
        return false;
    if (s[i] == '*' || s[i] == '+' || s[i] == '?') {
        *min = s[i] == '+';
        *max = s[i] == '?' ? 1 : RX_INF;
        i++;
    } else if (s[i] == '{') {
        size_t j = i + 1;
        uint32_t lo = 0, hi;
        bool digits = false;
        for (; j < x->n && s[j] >= '0' && s[j] <= '9'; j++, digits = true)
            lo = lo < 100000 ? lo * 10 + (uint32_t)(s[j] - '0') : lo;
        hi = lo;
        if (j < x->n && s[j] == ',') {
            hi = RX_INF;
            bool hdigits = false;
            for (j++; j < x->n && s[j] >= '0' && s[j] <= '9'; j++, hdigits = true)
                hi = (hi == RX_INF ? 0 : hi < 100000 ? hi * 10 : hi) + (uint32_t)(s[j] - '0');
            if (!digits && !hdigits)
                return false;
        } else if (!digits) {
            return false;
        }
        if (j >= x->n || s[j] != '}')
            return false; /* not a quantifier: a literal brace */
        *min = lo;
        *max = hi;
        i = j + 1;
    } else {
        return false;
    }
    *possessive = i < x->n && s[i] == '+';
    i += i < x->n && (s[i] == '+' || s[i] == '?');
    x->i = i;
    return true;
}

/* May two branches begin with the same text? Leans to yes. */
static bool branches_overlap(const struct branch *a, const struct branch *b)
{
    size_t i = 0, j = 0;
    for (;;) {
        while (i < a->n && a->v[i].zero)
            i++;
        while (j < b->n && b->v[j].zero)
            j++;
        if (i >= a->n || j >= b->n)
            return true;
        if (!cs_meets(&a->v[i].set, &b->v[j].set))
            return false;
        if (!a->v[i].single || !b->v[j].single)
            return true;
        i++, j++;
    }
}

/* Whether a repeated group with these branches can match the same text in
 * many ways (see the top of the file). */
static bool group_risky(const struct alt *a)
{
    for (size_t k = 0; k < a->n; k++) {
        const struct branch *b = &a->b[k];
        for (size_t i = 0; i < b->n; i++) {
            const struct piece *p = &b->v[i];
            if (p->zero || !p->repeats)
                continue;
            bool separated = false;
            for (size_t j = 0; j < b->n && !separated; j++)
                separated = j != i && !b->v[j].zero && b->v[j].min > 0 && !cs_meets(&p->set, &b->v[j].set);
            if (!separated)
                return true;
        }
    }
    for (size_t k = 0; k < a->n; k++)
        for (size_t m = k + 1; m < a->n; m++)
            if (branches_overlap(&a->b[k], &a->b[m]))
                return true;
    return false;
}

/* A group at s[i] (after the '('): its piece, from its branches. */
static void parse_group(struct rx *x, struct piece *p, bool *atomic, struct alt *inner, int depth)
{
    const char *s = x->s;
    bool look = false;
    *atomic = false;
    if (x->i < x->n && s[x->i] == '*') { /* (*VERB) or (*UTF): zero-width */
        while (x->i < x->n && s[x->i] != ')')
            x->i++;
        x->i += x->i < x->n;
        p->zero = true;
        return;
    }
    if (x->i < x->n && s[x->i] == '?') {
        x->i++;
        char k = x->i < x->n ? s[x->i] : 0;
        if (k == '#') {
            while (x->i < x->n && s[x->i] != ')')
                x->i++;
            x->i += x->i < x->n;
            p->zero = true;
            return;
        }
        if (k == ':' || k == '|') {
            x->i++;
        } else if (k == '>') {
            x->i++;
            *atomic = true;
        } else if (k == '=' || k == '!') {
            x->i++;
            look = true;
        } else if (k == '<' && x->i + 1 < x->n && (s[x->i + 1] == '=' || s[x->i + 1] == '!')) {
            x->i += 2;
            look = true;
        } else if (k == '<' || k == '\'' || (k == 'P' && x->i + 1 < x->n && s[x->i + 1] == '<')) {
            char close = k == '\'' ? '\'' : '>';
            while (x->i < x->n && s[x->i] != close)
                x->i++;
            x->i += x->i < x->n;
        } else {
            /* options: (?i) alone, or (?i: ... ) */
            bool on = true;
            for (; x->i < x->n && s[x->i] != ')' && s[x->i] != ':'; x->i++) {
                char o = s[x->i];
                if (o == '-')
                    on = false;
                else if (o == 'i' && on)
                    x->fold = true;
                else if (o == 'x' && on)
                    x->giveup = true; /* extended mode: spaces and comments */
                else if (!strchr("imnsxUJ^", o))
                    x->giveup = true; /* conditionals, recursion, callouts */
            }
            if (x->i >= x->n || x->giveup)
                return;
            if (s[x->i++] == ')') {
                p->zero = true;
                return;
            }
        }
    }
    parse_alt(x, inner, depth + 1);
    if (x->i >= x->n || s[x->i] != ')') {
        x->giveup = true;
        return;
    }
    x->i++;
    p->zero = look;
    bool mandatory = inner->n > 0;
    for (size_t k = 0; k < inner->n; k++) {
        bool must = false;
        for (size_t i = 0; i < inner->b[k].n; i++) {
            const struct piece *q = &inner->b[k].v[i];
            cs_or(&p->set, &q->set);
            p->repeats |= q->repeats;
            must |= !q->zero && q->min > 0;
        }
        mandatory &= must;
    }
    if (!mandatory)
        p->min = 0;
    if (*atomic)
        p->repeats = false;
}

static void parse_branch(struct rx *x, struct branch *b, int depth)
{
    const char *s = x->s;
    while (x->i < x->n && !x->giveup && s[x->i] != '|' && s[x->i] != ')') {
        size_t from = x->i;
        char ch = s[x->i++];
        if (ch == '\\' && x->i < x->n && s[x->i] == 'Q') {
            for (x->i++; x->i < x->n && !(s[x->i] == '\\' && x->i + 1 < x->n && s[x->i + 1] == 'E'); x->i++) {
                struct piece *p = branch_add(b);
                cs_byte(x, &p->set, (unsigned char)s[x->i]);
                p->single = true;
            }
            x->i = x->i < x->n ? x->i + 2 : x->n;
            continue;
        }
        struct piece *p = branch_add(b);
        struct alt inner = {0};
        bool atomic = false, group = false;
        if (ch == '\\') {
            if (x->i >= x->n) {
                x->giveup = true;
                break;
            }
            p->zero = !escape_set(x, &p->set);
            p->single = !p->zero;
        } else if (ch == '[') {
            class_set(x, &p->set);
            p->single = true;
        } else if (ch == '(') {
            group = true;
            parse_group(x, p, &atomic, &inner, depth);
            if (x->giveup) {
                alt_free(&inner);
                break;
            }
        } else if (ch == '^' || ch == '$') {
            p->zero = true;
        } else if (ch == '.') {
            cs_all(&p->set);
            p->single = true;
        } else {
            cs_byte(x, &p->set, (unsigned char)ch);
            p->single = true;
        }
        uint32_t min, max;
        bool possessive = false;
        if (quantifier(x, &min, &max, &possessive)) {
            p->single = p->single && min == 1 && max == 1;
            if (!p->zero) {
                p->min = p->min ? min : 0;
                p->max = max;
                if (max >= 2 && !possessive)
                    p->repeats = true;
                if (possessive)
                    p->repeats = false;
            }
            if (group && max >= 2 && !possessive && !atomic && !x->found && group_risky(&inner)) {
                x->found = true;
                x->from = from;
                x->to = x->i;
            }
        }
        alt_free(&inner);
    }
}

static void parse_alt(struct rx *x, struct alt *a, int depth)
{
    if (depth > RX_DEPTH) {
        x->giveup = true;
        return;
    }
    for (;;) {
        XGROW(a->b, a->cap, a->n + 1);
        struct branch *b = &a->b[a->n++];
        memset(b, 0, sizeof(*b));
        parse_branch(x, b, depth);
        if (x->giveup || x->i >= x->n || x->s[x->i] != '|')
            return;
        x->i++;
    }
}

bool regex_backtrack_risk(const char *re, size_t len, bool caseless, char *frag, size_t fraglen)
{
    struct rx x = {.s = re, .n = len, .fold = caseless};
    /* an inline (?i) anywhere: letters are taken in both cases throughout */
    for (size_t i = 0; i + 2 < len && !x.fold; i++)
        if (re[i] == '(' && re[i + 1] == '?' && re[i + 2] == 'i')
            x.fold = true;
    struct alt top = {0};
    parse_alt(&x, &top, 0);
    alt_free(&top);
    if (x.giveup || !x.found)
        return false;
    if (frag && fraglen) {
        size_t n = x.to - x.from;
        bool cut = n > 60;
        snprintf(frag, fraglen, "%.*s%s", (int)(cut ? 57 : n), re + x.from, cut ? "..." : "");
    }
    return true;
}
