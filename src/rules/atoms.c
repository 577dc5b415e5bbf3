/* The literal "atoms" the prefilter gates a rule on: a rule runs only on
 * events whose scan saw one atom of its set A (and, when it has one, one of
 * its set B).
 *
 * Why it works this way. The gate must never hide a match, so an atom is
 * only a literal every match of its test holds, as the caseless scan sees
 * it: runs of bytes that case folding leaves alone, at least
 * COMPILE_MIN_ATOM long; an OR needs an atom from each branch, a negation or
 * a late field (Ancestors) gives none. An AND may choose its most selective
 * children: two sets from the two best gate far better than one (a common
 * company name and a short image suffix are rare together), and so may an
 * |all test (its best two patterns). Selective means longer atoms, fewer of
 * them, and none nearly every event holds (atom_weakness: the `ubiquitous`
 * list, short value edges, booleans). A literal that must start or end a
 * value carries the NUL that separates values in the scanned text. Patterns
 * whose own atom is among the rule's are marked, so the ruleset can let them
 * skip themselves on events whose scan did not see it. */
#include "rules/compile_int.h"

#include "rules/regex_literal.h"
#include "util/text.h"

struct atomset {
    bool top;       /* no requirement can be stated */
    uint8_t common; /* the weakest atom's weakness (atom_weakness): 0 none */
    struct atom *v;
    uint32_t n;
    size_t cap;
    uint32_t minlen;
};

/* Text most events of a Windows or Linux host hold (as the prefilter sees
 * it: folded, values between NULs). An atom inside it gates nothing and
 * costs a match on nearly every scan, so a requirement without such atoms
 * is preferred (measured on the benchmark corpus: half the scan matches of
 * process starts were these). */
static const struct {
    const char *s;
    uint32_t len;
} ubiquitous[] = {
#define U(lit)               \
    {                        \
        lit, sizeof(lit) - 1 \
    }
    U("\0c:\\windows\\system32\\"),
    U("\0c:\\windows\\syswow64\\"),
    U("\0c:\\program files (x86)\\"),
    U("\0c:\\users\\"),
    U(".exe\0"),
    U("\0microsoft corporation\0"),
    U("\0medium\0"),
    U("\0high\0"),
    U("\0system\0"),
    U("\0nt authority\\system\0"),
    U("\0/usr/bin/"),
    U("\0/usr/sbin/"),
    U("\0/usr/lib/"),
#undef U
};

static bool ubiquitous_atom(const char *p, uint32_t len)
{
    for (size_t i = 0; i < sizeof(ubiquitous) / sizeof(ubiquitous[0]); i++)
        if (len <= ubiquitous[i].len && memmem(ubiquitous[i].s, ubiquitous[i].len, p, len))
            return true;
    return false;
}

/* How little an atom gates, judged from its own text: 2 when nearly every
 * event of its logsource holds it (the list above; a value start or end of
 * fewer than COMPILE_MIN_ATOM characters, as startswith '0x' of a logon id;
 * a whole-value boolean, as Initiated 'true'), else 0. Measured: such atoms
 * woke rules on most events of both corpora while the rule offered a better
 * one. (Ranking whole numbers below other atoms too chose short access
 * masks over event ids, and made the Security database eight times slower
 * to compile.) */
static uint8_t atom_weakness(const char *p, uint32_t len)
{
    if (ubiquitous_atom(p, len))
        return 2;
    uint32_t b = 0, e = len;
    while (b < e && p[b] == 0)
        b++;
    while (e > b && p[e - 1] == 0)
        e--;
    if (b == 0 && e == len)
        return 0;           /* no value edge: a plain substring */
    if (b == 0 || e == len) /* one edge: a start or an end */
        return e - b < COMPILE_MIN_ATOM ? 2 : 0;
    if ((e - b == 4 && memcmp(p + b, "true", 4) == 0) || (e - b == 5 && memcmp(p + b, "false", 5) == 0))
        return 2;
    return 0;
}

static void as_add(struct atomset *s, const char *p, uint32_t len, uint32_t field)
{
    for (uint32_t i = 0; i < s->n; i++)
        if (s->v[i].len == len && s->v[i].field == field && memcmp(s->v[i].s, p, len) == 0)
            return;
    if (s->n >= COMPILE_MAX_ATOMS) {
        s->top = true;
        return;
    }
    XGROW(s->v, s->cap, s->n + 1);
    s->v[s->n++] = (struct atom){p, len, field};
    uint8_t w = atom_weakness(p, len);
    if (w > s->common)
        s->common = w;
    if (s->n == 1 || len < s->minlen)
        s->minlen = len;
}

static void as_free(struct atomset *s)
{
    free(s->v);
    memset(s, 0, sizeof(*s));
}

/* Bytes the caseless prefilter compares exactly as the matcher does: ASCII,
 * and multi-byte sequences that case folding never changes. The two-byte
 * letters that fold (lead bytes C3..D3) would need folding the prefilter does
 * not do, so they end a run. */
static uint32_t stable_len(const unsigned char *p, uint32_t i, uint32_t len)
{
    unsigned char c = p[i];
    if (c < 0x80)
        return 1;
    if (c >= 0xC2 && c <= 0xD3)
        return 0;
    size_t l = utf8_valid_prefix(p + i, len - i);
    return l ? (uint32_t)l : 1;
}

/* The longest run of stable bytes. */
static bool best_run(const char *p, uint32_t len, struct atom *out)
{
    const unsigned char *u = (const unsigned char *)p;
    uint32_t best = 0, bestoff = 0;
    for (uint32_t i = 0; i < len;) {
        while (i < len && stable_len(u, i, len) == 0)
            i += (u[i] >= 0xC2 && u[i] <= 0xD3 && i + 1 < len) ? 2 : 1;
        uint32_t st = i, k;
        while (i < len && (k = stable_len(u, i, len)) > 0)
            i += k;
        if (i - st > best) {
            best = i - st;
            bestoff = st;
        }
    }
    if (best < COMPILE_MIN_ATOM)
        return false;
    out->s = p + bestoff;
    out->len = best;
    return true;
}

static bool pattern_atom(const struct pattern *p, struct atom *out)
{
    switch (p->op) {
    case P_EQ:
    case P_PREFIX:
    case P_SUFFIX:
    case P_CONTAINS: return best_run(p->lit, p->len, out);
    case P_GLOB: {
        bool found = false;
        for (uint32_t i = 0; i < p->ntoks; i++) {
            struct atom a;
            if (p->toks[i].kind == G_LIT && best_run(p->lit + p->toks[i].off, p->toks[i].len, &a) &&
                (!found || a.len > out->len)) {
                *out = a;
                found = true;
            }
        }
        return found;
    }
    case P_RE: return out->s != NULL && out->len >= COMPILE_MIN_ATOM; /* filled by caller */
    default: return false;
    }
}

/* A rule's requirement: every match holds some atom of a and, unless b is
 * top, some atom of b. Two sets from the two best children of an AND gate a
 * rule far better than one: Company 'Microsoft Corporation' and Image
 * endswith '\\csi.exe' each alone are common or short, together rare. */
struct req {
    struct atomset a, b;
};

static void req_of(const struct compiler *c, struct arena *a, const struct pnode *n, struct req *out, int depth);

static bool better(const struct atomset *a, const struct atomset *b)
{
    if (a->top)
        return false;
    if (b->top)
        return true;
    if (a->common != b->common)
        return a->common < b->common;
    if (a->minlen != b->minlen)
        return a->minlen > b->minlen;
    return a->n < b->n;
}

/* Stable bytes at the start (head) and at the end (tail) of a literal. */
static void edge_runs(const char *p, uint32_t len, uint32_t *head, uint32_t *tail)
{
    const unsigned char *u = (const unsigned char *)p;
    uint32_t i = 0, k, st = 0;
    *head = 0;
    while (i < len && (k = stable_len(u, i, len)) > 0)
        i += k;
    *head = i;
    /* the last run that reaches the end */
    for (i = 0; i < len;) {
        k = stable_len(u, i, len);
        if (k == 0) {
            i += (u[i] >= 0xC2 && u[i] <= 0xD3 && i + 1 < len) ? 2 : 1;
            st = i;
        } else {
            i += k;
        }
    }
    *tail = len - st;
}

/* The prefilter scans an event's values each between NUL bytes, so a
 * literal that must start or end a value can carry that NUL: Image|endswith
 * '/id' gives the atom "/id\0", selective where "/id" alone is too short and
 * too common. Returns an atom at least as long as *at when it finds one. */
static bool anchored_atom(struct arena *a, const struct pattern *p, struct atom *at, bool have)
{
    if (p->op != P_EQ && p->op != P_PREFIX && p->op != P_SUFFIX)
        return false;
    uint32_t head, tail;
    edge_runs(p->lit, p->len, &head, &tail);
    bool whole = head == p->len;
    uint32_t pre = (p->op == P_PREFIX || p->op == P_EQ) ? head : 0;
    uint32_t post = (p->op == P_SUFFIX || p->op == P_EQ) ? tail : 0;
    uint32_t n;
    char *s;
    if (whole && p->op == P_EQ) {
        n = p->len + 2;
        s = arena_alloc(a, n);
        s[0] = 0;
        memcpy(s + 1, p->lit, p->len);
        s[n - 1] = 0;
    } else if (pre && pre >= post) {
        n = pre + 1;
        s = arena_alloc(a, n);
        s[0] = 0;
        memcpy(s + 1, p->lit, pre);
    } else if (post) {
        n = post + 1;
        s = arena_alloc(a, n);
        memcpy(s, p->lit + p->len - post, post);
        s[n - 1] = 0;
    } else {
        return false;
    }
    if (n < COMPILE_MIN_ATOM || (have && n <= at->len))
        return false;
    at->s = s;
    at->len = n;
    return true;
}

/* The literal any match of p must contain, as the prefilter will see it. */
static bool pattern_best_atom(struct arena *a, const struct pattern *p, struct atom *at)
{
    memset(at, 0, sizeof(*at));
    if (p->op != P_RE) {
        bool have = pattern_atom(p, at);
        return anchored_atom(a, p, at, have) || have;
    }
    char *lit = arena_alloc(a, p->len + 1);
    size_t l = regex_required_literal(p->lit, p->len, lit, p->len + 1);
    if (!l || !best_run(lit, (uint32_t)l, at))
        return false;
    /* the prefilter is caseless: fold so the atom text is canonical */
    fold_case(at->s, at->len, (char *)at->s);
    return true;
}

/* The shortest second atom an |all test gives as set B. */
#define ALL_SECOND_MIN 6

/* Whether atom x gates better than y: weaker last, then longer. */
static bool atom_better(const struct atom *x, const struct atom *y)
{
    uint8_t wx = atom_weakness(x->s, x->len), wy = atom_weakness(y->s, y->len);
    return wx != wy ? wx < wy : x->len > y->len;
}

/* A test's requirement. Every pattern of an |all test must match, so each
 * pattern's atom is a requirement of its own: the best two become sets A
 * and B (ParentCommandLine|contains|all '\svchost.exe', 'termsvcs' then
 * runs only where both are). */
static void req_test(const struct compiler *c, struct arena *a, const struct test *t, struct req *out)
{
    memset(out, 0, sizeof(*out));
    out->b.top = true;
    if (t->negate || t->npat == 0 || compile_late_field(c, t->field)) {
        out->a.top = true;
        return;
    }
    struct atom best = {0}, second = {0};
    bool have_best = false, have_second = false;
    for (uint32_t i = 0; i < t->npat; i++) {
        struct atom at;
        bool ok = pattern_best_atom(a, &t->pat[i], &at);
        if (t->all) {
            if (!ok || (have_best && at.len == best.len && memcmp(at.s, best.s, at.len) == 0))
                continue;
            if (!have_best || atom_better(&at, &best)) {
                second = best;
                have_second = have_best;
                best = at;
                have_best = true;
            } else if (!have_second || atom_better(&at, &second)) {
                second = at;
                have_second = true;
            }
            continue;
        }
        if (!ok) {
            out->a.top = true;
            return;
        }
        as_add(&out->a, at.s, at.len, t->field);
    }
    if (t->all) {
        if (!have_best) {
            out->a.top = true;
            return;
        }
        as_add(&out->a, best.s, best.len, t->field);
        /* a short second atom ('cmd', '0x40') gates little and made the
         * databases of some logsources many times slower to compile */
        if (have_second && second.len >= ALL_SECOND_MIN && !atom_weakness(second.s, second.len)) {
            out->b.top = false;
            as_add(&out->b, second.s, second.len, t->field);
        }
    }
}

static void req_free(struct req *r)
{
    as_free(&r->a);
    as_free(&r->b);
}

static void as_add_all(struct atomset *dst, const struct atomset *src)
{
    for (uint32_t j = 0; j < src->n && !dst->top; j++)
        as_add(dst, src->v[j].s, src->v[j].len, src->v[j].field);
}

/* Keeps the two best sets offered (ownership passes); returns whether s
 * became the best. */
static bool offer(struct atomset *best, struct atomset *second, struct atomset *s)
{
    if (better(s, best)) {
        as_free(second);
        *second = *best;
        *best = *s;
        return true;
    }
    if (better(s, second)) {
        as_free(second);
        *second = *s;
    } else {
        as_free(s);
    }
    return false;
}

static void req_of(const struct compiler *c, struct arena *a, const struct pnode *n, struct req *out, int depth)
{
    memset(out, 0, sizeof(*out));
    out->a.top = out->b.top = true;
    if (depth > 200)
        return;
    switch (n->op) {
    case N_TEST: req_test(c, a, n->u.test, out); return;
    case N_AND: {
        struct atomset best = {.top = true}, second = {.top = true};
        uint32_t gate = UINT32_MAX;
        for (uint32_t i = 0; i < n->n; i++) {
            struct req k;
            req_of(c, a, n->u.kids[i], &k, depth + 1);
            if (offer(&best, &second, &k.a))
                gate = i;
            offer(&best, &second, &k.b);
        }
        /* The children keep their order of cost (compile.c), the gating
         * one among them: a rule runs because its scan saw the gate's
         * atoms, so the gate mostly holds, and what decides "false" is a
         * cheaper child, a filter most of all, better read first
         * (measured: moving the gate first cost 3 M instructions in 10,000
         * attack events, 1 M in 20,000 of a day's). */
        ((struct pnode *)n)->gate = gate;
        out->a = best;
        out->b = second;
        return;
    }
    case N_ATLEAST:
    case N_OR: {
        /* (A1 and B1) or A2 = (A1 or A2) and (B1 or A2) */
        out->a.top = out->b.top = false;
        bool any_b = false;
        for (uint32_t i = 0; i < n->n; i++) {
            struct req k;
            req_of(c, a, n->u.kids[i], &k, depth + 1);
            if (k.a.top) {
                req_free(&k);
                req_free(out);
                out->a.top = out->b.top = true;
                return;
            }
            as_add_all(&out->a, &k.a);
            if (!k.b.top) {
                as_add_all(&out->b, &k.b);
                any_b = true;
            } else {
                as_add_all(&out->b, &k.a);
            }
            req_free(&k);
            if (out->a.top) {
                req_free(out);
                out->a.top = out->b.top = true;
                return;
            }
        }
        if (!any_b || out->b.top) {
            as_free(&out->b);
            out->b.top = true;
        }
        return;
    }
    default: return;
    }
}

struct gate_list {
    struct gated_pattern *v;
    size_t n, cap;
    struct atom *atoms; /* the rule's requirement */
    uint32_t natoms;
    size_t acap;
    bool frozen; /* no atoms are added: patterns only look theirs up */
};

static uint32_t gate_atom(struct gate_list *g, const struct atom *at)
{
    for (uint32_t k = 0; k < g->natoms; k++)
        if (g->atoms[k].len == at->len && g->atoms[k].field == at->field && memcmp(g->atoms[k].s, at->s, at->len) == 0)
            return k;
    if (g->frozen || g->natoms >= COMPILE_MAX_ATOMS)
        return UINT32_MAX;
    XGROW(g->atoms, g->acap, (size_t)g->natoms + 1);
    g->atoms[g->natoms] = *at;
    return g->natoms++;
}

/* A pattern cannot match where its own atom is absent: every pattern whose
 * atom is among the rule's (hence in the database) can skip itself on events
 * whose scan did not see it. */
static void mark_gated(struct cctx *x, const struct pnode *n, struct gate_list *g, int depth)
{
    if (depth > 200)
        return;
    if (n->op != N_TEST) {
        if (n->op != N_TRUE && n->op != N_FALSE)
            for (uint32_t i = 0; i < n->n; i++)
                mark_gated(x, n->u.kids[i], g, depth + 1);
        return;
    }
    const struct test *t = n->u.test;
    if (compile_late_field(x->c, t->field))
        return; /* not in the scanned values */
    for (uint32_t i = 0; i < t->npat; i++) {
        struct pattern *p = (struct pattern *)&t->pat[i];
        if (p->atom != NO_ATOM)
            continue; /* a node shared by two references: done already */
        struct atom at;
        if (!pattern_best_atom(&x->tmp, p, &at))
            continue;
        at.field = t->field;
        uint32_t k = gate_atom(g, &at);
        if (k == UINT32_MAX)
            continue;
        XGROW(g->v, g->cap, g->n + 1);
        g->v[g->n++] = (struct gated_pattern){.pat = p, .atom = k};
        p->atom = NO_ATOM - 1; /* claimed; the ruleset gives the real id */
    }
}

static void mark_set(struct gate_list *g, uint32_t k, uint8_t bit)
{
    if (k != UINT32_MAX)
        g->atoms[k].sets |= bit;
}

void atoms_set(struct cctx *x, struct compiled *out)
{
    struct req s;
    req_of(x->c, x->c->out, out->root, &s, 0);
    struct gate_list g = {0};
    if (!s.a.top) {
        for (uint32_t i = 0; i < s.a.n; i++)
            mark_set(&g, gate_atom(&g, &s.a.v[i]), 1);
        /* set B only when all of it fits beside A (a missing atom of B
         * would hide the rule), and not when nearly every event holds it:
         * scanning for it cost more than the evaluations it saved */
        if (!s.b.top && s.b.common < 2 && g.natoms + s.b.n <= COMPILE_MAX_ATOMS)
            for (uint32_t i = 0; i < s.b.n; i++)
                mark_set(&g, gate_atom(&g, &s.b.v[i]), 2);
    }
    out->natoms = out->nall = g.natoms;
    /* Only the requirement's atoms are scanned for: adding every pattern's
     * atom made the databases a third bigger, slower to build and to scan,
     * for less than it saved in evaluation (measured with make bench). */
    g.frozen = true;
    if (g.natoms)
        mark_gated(x, out->root, &g, 0);
    if (g.natoms) {
        struct atom *v = arena_alloc(x->c->out, g.natoms * sizeof(*v));
        for (uint32_t i = 0; i < g.natoms; i++) {
            v[i].s = arena_strndup(x->c->out, g.atoms[i].s, g.atoms[i].len);
            v[i].len = g.atoms[i].len;
            v[i].field = g.atoms[i].field;
            v[i].sets = g.atoms[i].sets;
        }
        out->atoms = v;
    }
    out->gated = arena_memdup(x->c->out, g.v, g.n * sizeof(*g.v));
    out->ngated = (uint32_t)g.n;
    free(g.v);
    free(g.atoms);
    req_free(&s);
}
