/* The whole ruleset as bytes (snapshot.h).
 *
 * Why a hand-written, typed format: the ruleset is a graph of pointers
 * (programs, patterns, groups, classes) and a file is hostile input, so the
 * reader must know the type of every word to check it. Each table is
 * written as counts and values, pointers as indexes: a program's nodes are
 * one table in post-order, so a node names only nodes before it and no file
 * can make a cycle (shared nodes, filters attached to many rules, stay
 * shared). Regular expressions travel as source and options, compiled on
 * first use (pattern_regex); Hyperscan databases as hs_serialize_database
 * bytes.
 *
 * Why it is safe to read: the header's magic, format, key and payload
 * length are checked, then a checksum of the payload (damage: cache.c's
 * rulecache_sum; the key, not the sum, keeps a foreign file out), then every
 * count is bounded by the bytes left before anything is allocated for it,
 * every index is checked against the table it points into, every field id
 * against the field table, enums against their ranges, a group's bitmaps
 * against its rules, and nodes against a depth the evaluator can recurse.
 * Anything wrong refuses the whole file; the loader then compiles. A regex
 * source that no longer compiles (behind a fitting checksum) matches nothing.
 *
 * Why it is fast: a warm load was mostly first touches of fresh memory (a
 * page fault each, dear on virtual machines), a SHA-256 of the file and
 * compiling every regex. What the file decodes to (tables, strings, the
 * databases, deserialised in place) goes into one mapping asked for huge
 * pages (region_map), the checksum is a cheap one, and regexes wait.
 *
 * This file reads; snapshot_write.c writes; snapshot_format.h is the
 * layout they share. */
#include "rules/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "rules/ruleset.h"
#include "rules/snapshot_format.h"

/* Under AddressSanitizer the region (below) is poisoned but for what was
 * handed out, with a red zone after each block, so the sanitizer still sees
 * a read past a table of the ruleset. */
#if defined(__SANITIZE_ADDRESS__)
#define SN_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SN_ASAN 1
#endif
#endif
#ifdef SN_ASAN
#include <sanitizer/asan_interface.h>
#define SN_REDZONE 16
#else
#define ASAN_POISON_MEMORY_REGION(p, n)   ((void)(p), (void)(n))
#define ASAN_UNPOISON_MEMORY_REGION(p, n) ((void)(p), (void)(n))
#define SN_REDZONE                        0
#endif

/* ---------------------------------------------------------------- reading */

struct rd {
    const uint8_t *p;
    size_t len, off;
    bool bad;
    char *why;
    size_t whylen;
    struct stoat_ruleset *rs;
    struct arena *a;
    struct pnode **nodes; /* by index: each sits with its test or children (read_nodes) */
    uint16_t *depth;
    size_t nnodes;
    uint8_t *mem; /* the ruleset's region (rs->region): mem[used .. cap) is free, zeroed */
    size_t used, cap;
    size_t lazy_cap;
};

static bool bad(struct rd *r, const char *what)
{
    if (!r->bad)
        snprintf(r->why, r->whylen, "%s at offset %zu", what, SN_HEADER + r->off);
    r->bad = true;
    return false;
}

/* Zeroed memory for the ruleset, aligned to align (a power of two): from
 * its region while there is room, else (a file far larger than its
 * figures) from its arena; NULL only for an aligned block the region lacks
 * room for (the caller then asks elsewhere). */
static inline void *ralloc_aligned(struct rd *r, size_t n, size_t align)
{
    size_t at = (r->used + SN_REDZONE + align - 1) & ~(align - 1);
    if (at <= r->cap && n <= r->cap - at) {
        r->used = at + n;
        ASAN_UNPOISON_MEMORY_REGION(r->mem + at, n);
        return r->mem + at;
    }
    return NULL;
}

static inline void *ralloc(struct rd *r, size_t n)
{
    void *p = ralloc_aligned(r, n, 8);
    return p ? p : arena_zalloc(r->a, n);
}

/* The same for the tables a ruleset frees alone unless its region holds
 * them (rules, correlations, renamesets: stoat_ruleset_destroy). */
static void *rtable(struct rd *r, size_t n)
{
    void *p = ralloc_aligned(r, n, 8);
    return p ? p : xcalloc(1, n);
}

static inline const uint8_t *r_take(struct rd *r, size_t n)
{
    if (r->bad || n > r->len - r->off) {
        bad(r, "truncated");
        return NULL;
    }
    const uint8_t *p = r->p + r->off;
    r->off += n;
    return p;
}

/* little-endian, whatever the host (a compiler makes one load of these) */
static inline uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t r64(struct rd *r)
{
    const uint8_t *p = r_take(r, 8);
    return p ? (uint64_t)get32(p) | (uint64_t)get32(p + 4) << 32 : 0;
}

static inline uint32_t r32(struct rd *r)
{
    const uint8_t *p = r_take(r, 4);
    return p ? get32(p) : 0;
}

static inline uint8_t r8(struct rd *r)
{
    const uint8_t *p = r_take(r, 1);
    return p ? *p : 0;
}

static double rf64(struct rd *r)
{
    uint64_t v = r64(r);
    double d;
    memcpy(&d, &v, sizeof(d));
    return d;
}

/* A count of items each taking at least `each` bytes: bounded by what is
 * left, so no count makes a large allocation. */
static inline uint32_t rcount(struct rd *r, size_t each)
{
    uint32_t n = r32(r);
    if (!r->bad && (uint64_t)n * each > r->len - r->off) {
        bad(r, "count past the end");
        return 0;
    }
    return r->bad ? 0 : n;
}

/* Bytes (NUL-terminated copy in the arena); *present false for NULL. */
static inline const char *rbytes(struct rd *r, uint32_t *len, bool *present)
{
    uint32_t n = r32(r);
    *present = n != 0;
    *len = 0;
    if (!n)
        return NULL;
    const uint8_t *p = r_take(r, n - 1);
    if (!p)
        return NULL;
    *len = n - 1;
    char *s = ralloc(r, n); /* zeroed: NUL-terminated */
    memcpy(s, p, n - 1);
    return s;
}

static const char *rstr(struct rd *r)
{
    uint32_t len;
    bool present;
    const char *s = rbytes(r, &len, &present);
    if (s && memchr(s, 0, len)) /* a C string here: no NUL inside */
        bad(r, "NUL inside a string");
    return r->bad ? NULL : s;
}

static const char **rstrv(struct rd *r, size_t *n)
{
    *n = rcount(r, 4);
    const char **v = ralloc(r, (*n ? *n : 1) * sizeof(*v));
    for (size_t i = 0; i < *n && !r->bad; i++)
        v[i] = rstr(r);
    return v;
}

static bool field_ok(const struct rd *r, uint32_t f)
{
    return f < r->rs->fields.n;
}

/* n field ids (each a field, or one of the two markers when allowed). */
static uint32_t *rfields(struct rd *r, size_t n, uint32_t allow)
{
    uint32_t *v = ralloc(r, (n ? n : 1) * sizeof(*v));
    for (size_t i = 0; i < n && !r->bad; i++) {
        v[i] = r32(r);
        if (!field_ok(r, v[i]) && !(allow && v[i] == allow))
            bad(r, "unknown field id");
    }
    return v;
}

static void read_fields(struct rd *r)
{
    size_t n = rcount(r, 4);
    if (n > FIELDS_MAX)
        bad(r, "too many fields");
    for (size_t i = 0; i < n && !r->bad; i++) {
        const char *s = rstr(r);
        if (!s || fieldtab_intern(&r->rs->fields, s, strlen(s)) != i)
            bad(r, "field name missing, too long or given twice");
    }
}

/* A regex is compiled on first use (pattern_regex): most of a ruleset's
 * never run in a given hunt, and compiling them all was a fifth of a warm
 * load. Its options are checked now; its source when compiled. */
static bool read_regex(struct rd *r, struct pattern *p, uint32_t opts)
{
    const uint32_t known = PCRE2_CASELESS | PCRE2_MULTILINE | PCRE2_DOTALL | PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
    if ((opts & ~known) || !(opts & PCRE2_UTF))
        return bad(r, "regular expression options");
    struct stoat_ruleset *rs = r->rs;
    XGROW(rs->lazy_re, r->lazy_cap, rs->nlazy_re + 1);
    rs->lazy_re[rs->nlazy_re++] = p;
    p->re_opts = opts;
    return true;
}

static void read_pattern(struct rd *r, struct pattern *p)
{
    p->op = r8(r);
    p->cased = r8(r);
    p->cmp = r8(r);
    p->part = r8(r);
    p->sub = r8(r);
    bool present;
    uint32_t len;
    p->lit = rbytes(r, &len, &present);
    p->len = len;
    p->ntoks = rcount(r, 9);
    struct glob_tok *t = p->ntoks ? ralloc(r, p->ntoks * sizeof(*t)) : NULL;
    for (uint32_t i = 0; i < p->ntoks && !r->bad; i++) {
        t[i].kind = r8(r);
        t[i].off = r32(r);
        t[i].len = r32(r);
        if (t[i].kind > G_DASH || t[i].off > p->len || t[i].len > p->len - t[i].off)
            bad(r, "glob token outside its pattern");
    }
    p->toks = p->ntoks ? t : NULL;
    p->num = rf64(r);
    p->ref_field = r32(r);
    uint32_t ro = r32(r);
    p->net.family = r8(r);
    p->net.bits = r8(r);
    const uint8_t *addr = r_take(r, sizeof(p->net.addr));
    if (addr)
        memcpy(p->net.addr, addr, sizeof(p->net.addr));
    p->atom = r32(r);
    const uint8_t *rare = r_take(r, 2);
    if (rare)
        memcpy(p->rare, rare, 2);
    p->nrare = r8(r);
    if (r->bad)
        return;
    if (p->op > P_TIME || p->cmp > CMP_GTE || p->part > TP_YEAR || p->sub > P_TIME || p->nrare > 2)
        bad(r, "pattern kind out of range");
    else if ((p->op == P_FIELDREF && (!field_ok(r, p->ref_field) || (p->sub != P_EQ && p->sub != P_PREFIX &&
                                                                     p->sub != P_SUFFIX && p->sub != P_CONTAINS))))
        bad(r, "field reference");
    else if (p->op == P_CIDR &&
             !((p->net.family == 4 && p->net.bits <= 32) || (p->net.family == 6 && p->net.bits <= 128)))
        bad(r, "network");
    else if (p->atom != NO_ATOM && p->atom >= r->rs->natoms)
        bad(r, "atom id");
    else if ((p->op == P_GLOB || p->op == P_RE || p->op <= P_CONTAINS) && !present)
        bad(r, "pattern without its literal");
    else if (p->op == P_RE)
        read_regex(r, p, ro);
}

static void read_test(struct rd *r, struct test *t)
{
    t->field = r32(r);
    t->all = r8(r);
    t->negate = r8(r);
    t->has_need = r8(r);
    for (int i = 0; i < 4; i++)
        t->need_any[i] = r64(r);
    t->npat = rcount(r, 40);
    if (!r->bad && t->field != FIELD_ANY && !field_ok(r, t->field))
        bad(r, "unknown field id");
    size_t size = (t->npat ? t->npat : 1) * sizeof(struct pattern);
    struct pattern *p = ralloc_aligned(r, size, 16); /* program.h: each one's hot part in one line */
    if (!p)
        p = arena_zalloc(r->a, size);
    for (uint32_t i = 0; i < t->npat && !r->bad; i++)
        read_pattern(r, &p[i]);
    t->pat = p;
}

/* A node's memory with what it points to, in the order eval reads them:
 * the node, then its test (the test's patterns follow, read_test) or its
 * children's addresses; a rule's nodes, written one after another, lie
 * together too. Evaluation was mostly cache misses in a 17 MB region (a
 * candidate's root in one table, its test and patterns elsewhere): on a
 * 64-byte boundary, node and test's first fields share one line. */
static struct pnode *node_alloc(struct rd *r, uint8_t op, uint32_t nk)
{
    size_t size = sizeof(struct pnode) + (op == N_TEST ? sizeof(struct test) : nk * sizeof(struct pnode *));
    void *m = ralloc_aligned(r, size, 64);
    return m ? m : arena_zalloc(r->a, size);
}

static void read_nodes(struct rd *r)
{
    size_t n = rcount(r, 13);
    r->nnodes = n;
    r->nodes = ralloc(r, (n + 1) * sizeof(*r->nodes));
    r->depth = ralloc(r, (n + 1) * sizeof(*r->depth));
    for (size_t i = 0; i < n && !r->bad; i++) {
        uint8_t op = r8(r);
        uint32_t need = r32(r), gate = r32(r);
        uint32_t nk = rcount(r, 4);
        bool inner = op != N_TEST && op != N_TRUE && op != N_FALSE;
        /* need and gate index nothing (an unmeetable need is false); the
         * shape is known before node_alloc sizes the node by it */
        if (op > N_FALSE || (inner ? 0 : nk) || (op == N_NOT && nk != 1)) {
            bad(r, op > N_FALSE ? "node kind out of range" : "node shape");
            break;
        }
        struct pnode *x = node_alloc(r, op, nk);
        r->nodes[i] = x;
        x->op = op;
        x->need = need;
        x->gate = gate;
        const struct pnode **kids = nk ? (const struct pnode **)(x + 1) : NULL;
        uint16_t d = 0;
        for (uint32_t k = 0; k < nk && !r->bad; k++) {
            uint32_t ki = r32(r);
            if (ki >= i) /* only nodes before it: no cycle */
                bad(r, "node refers to a later node");
            else {
                kids[k] = r->nodes[ki];
                d = r->depth[ki] > d ? r->depth[ki] : d;
            }
        }
        if (d + 1 > SN_MAX_DEPTH)
            bad(r, "nodes nested too deep");
        r->depth[i] = (uint16_t)(d + 1);
        x->n = nk;
        if (x->op == N_TEST) {
            struct test *t = (struct test *)(x + 1);
            read_test(r, t);
            x->u.test = t;
        } else {
            x->u.kids = kids;
        }
        if (!r->bad) /* its children are read, their atoms checked */
            x->req_atom = pnode_req_atom(x, (uint32_t)r->rs->natoms);
    }
}

static void read_meta(struct rd *r, struct stoat_rule_meta *m)
{
    m->kind = r32(r);
    const char **s[] = {&m->id,       &m->name,     &m->title,      &m->description, &m->author,
                        &m->date,     &m->modified, &m->license,    &m->taxonomy,    &m->product,
                        &m->category, &m->service,  &m->definition, &m->file};
    for (size_t i = 0; i < sizeof(s) / sizeof(*s); i++)
        *s[i] = rstr(r);
    uint32_t level = r32(r), status = r32(r);
    struct stoat_strlist *l[] = {&m->tags,  &m->references, &m->falsepositives, &m->fields,
                                 &m->scope, &m->attack_ids, &m->attack_tactics};
    for (size_t i = 0; i < sizeof(l) / sizeof(*l); i++)
        l[i]->items = rstrv(r, &l[i]->n);
    m->line = r32(r);
    if (m->kind > STOAT_RULE_FILTER || level >= STOAT_LEVEL_COUNT || status >= STOAT_STATUS_COUNT)
        bad(r, "rule kind, level or status out of range");
    m->level = level;
    m->status = status;
}

static void read_rules(struct rd *r)
{
    struct stoat_ruleset *rs = r->rs;
    size_t n = rcount(r, 64);
    rs->nhidden = r32(r);
    if (rs->nhidden > n)
        bad(r, "more hidden rules than rules");
    rs->rules = rtable(r, (n + 1) * sizeof(*rs->rules));
    rs->nrules = n;
    for (size_t i = 0; i < n && !r->bad; i++) {
        struct rule *x = &rs->rules[i];
        read_meta(r, &x->meta);
        uint32_t root = r32(r);
        x->nsels = r32(r); /* the selectors themselves are the build's: not kept */
        uint8_t flags = r8(r);
        x->role = r8(r);
        x->group = r32(r);
        if (root > r->nnodes || (flags >> 3)) {
            bad(r, "rule program");
            break;
        }
        x->prog.root = root ? r->nodes[root - 1] : NULL;
        x->correlation_only = flags & 1;
        x->feeds_correlation = flags >> 1 & 1;
        x->needs_ancestry = flags >> 2 & 1;
    }
}

static void read_corrs(struct rd *r)
{
    struct stoat_ruleset *rs = r->rs;
    size_t n = rcount(r, 64);
    rs->corrs = rtable(r, (n + 1) * sizeof(*rs->corrs));
    rs->ncorrs = n;
    for (size_t i = 0; i < n && !r->bad; i++) {
        struct correlation *c = &rs->corrs[i];
        read_meta(r, &c->meta);
        struct sigma_correlation *k = &c->corr;
        uint32_t type = r32(r);
        if (type > STOAT_CORR_VALUE_PERCENTILE)
            bad(r, "correlation type");
        k->type = type;
        k->rules = rstrv(r, &k->nrules);
        k->group_by = rstrv(r, &k->ngroup_by);
        k->timespan_ms = (int64_t)r64(r);
        k->timespan_text = rstr(r);
        struct stoat_corr_condition *cd = &k->cond;
        cd->field = rstr(r);
        bool *has[] = {&cd->has_gt, &cd->has_gte, &cd->has_lt,        &cd->has_lte,
                       &cd->has_eq, &cd->has_neq, &cd->has_percentile};
        double *val[] = {&cd->gt, &cd->gte, &cd->lt, &cd->lte, &cd->eq, &cd->neq, &cd->percentile};
        for (int j = 0; j < 7; j++) {
            *has[j] = r8(r) != 0;
            *val[j] = rf64(r);
        }
        k->naliases = rcount(r, 12);
        k->aliases = ralloc(r, (k->naliases ? k->naliases : 1) * sizeof(*k->aliases));
        for (size_t j = 0; j < k->naliases && !r->bad; j++) {
            struct sigma_corr_alias *al = &k->aliases[j];
            al->name = rstr(r);
            size_t nf;
            al->rules = rstrv(r, &al->n);
            al->fields = rstrv(r, &nf);
            if (nf != al->n)
                bad(r, "alias lists of two lengths");
        }
        k->generate = r8(r) != 0;
        long *idx = ralloc(r, (k->nrules ? k->nrules : 1) * sizeof(*idx));
        for (size_t j = 0; j < k->nrules && !r->bad; j++) {
            int64_t v = (int64_t)r64(r);
            if (!(v == -1 || (v >= 0 && (uint64_t)v < rs->nrules) || (v <= -2 && (uint64_t)(-2 - v) < n)))
                bad(r, "correlation names a rule out of range");
            idx[j] = (long)v;
        }
        c->rule_index = idx;
    }
}

static void read_rsets(struct rd *r)
{
    struct stoat_ruleset *rs = r->rs;
    size_t n = rcount(r, 4);
    if (n > UINT16_MAX)
        bad(r, "too many renamesets");
    rs->rsets = rtable(r, (n + 1) * sizeof(*rs->rsets));
    rs->nrsets = n;
    for (size_t i = 0; i < n && !r->bad; i++) {
        uint32_t k = rcount(r, 8);
        rs->rsets[i].n = k;
        rs->rsets[i].from = rfields(r, k, 0);
        rs->rsets[i].to = rfields(r, k, 0);
    }
}

static bool bits_within(const uint64_t *w, uint32_t nwords, uint32_t n)
{
    return !(n % 64) || !nwords || !(w[nwords - 1] >> (n % 64));
}

/* A serialised database (none when its length is 0), with room made for it
 * in the prototype scratch. */
static void read_db(struct rd *r, hs_database_t **out)
{
    uint32_t len = r32(r);
    const uint8_t *p = len ? r_take(r, len - 1) : NULL;
    if (!len || !p)
        return;
    /* into the ruleset's region when there is room: no allocation and
     * no page faults of its own (Hyperscan's header says the size) */
    size_t need = 0;
    void *at = NULL;
    if (hs_serialized_database_size((const char *)p, len - 1, &need) == HS_SUCCESS && need <= (size_t)len + 4096)
        at = ralloc_aligned(r, need, 64);
    hs_error_t e = at ? hs_deserialize_database_at((const char *)p, len - 1, at)
                      : hs_deserialize_database((const char *)p, len - 1, out);
    if (at && e == HS_SUCCESS)
        *out = at;
    if (e != HS_SUCCESS) {
        *out = NULL;
        bad(r, "Hyperscan refused a database");
    } else if (hs_alloc_scratch(*out, &r->rs->scratch_proto) != HS_SUCCESS) {
        bad(r, "no scratch for a database");
    }
}

static void read_group_dbs(struct rd *r, struct rule_group *g)
{
    uint32_t ndbs = rcount(r, 8);
    g->dbs = ralloc(r, (ndbs ? ndbs : 1) * sizeof(*g->dbs));
    g->ndbs = ndbs; /* zeroed: a failure below frees what was made */
    for (uint32_t d = 0; d < ndbs && !r->bad; d++) {
        struct group_db *db = &g->dbs[d];
        db->nfields = rcount(r, 4);
        db->fields = rfields(r, db->nfields, FIELD_ANY);
        read_db(r, &db->db);
    }
}

/* The group's token table (tokens.h), made again from its entries: each a
 * group atom, in no other entry, and a token atom. */
static void read_tokens(struct rd *r, struct rule_group *g)
{
    uint32_t n = rcount(r, 8);
    if (!n || r->bad)
        return;
    uint32_t field = r32(r);
    if (!field_ok(r, field) || !g->ndbs)
        bad(r, "token table of an unknown field, or of a group without a database");
    const char **text = xcalloc(n, sizeof(*text));
    uint32_t *lens = xcalloc(n, sizeof(*lens)), *atom = xcalloc(n, sizeof(*atom));
    uint8_t *seen = xcalloc((size_t)g->natoms + 1, 1);
    for (uint32_t i = 0; i < n && !r->bad; i++) {
        atom[i] = r32(r);
        bool present;
        text[i] = rbytes(r, &lens[i], &present);
        if (!r->bad && (atom[i] >= g->natoms || seen[atom[i]]))
            bad(r, "token of no atom, or twice");
        else if (!r->bad)
            seen[atom[i]] = 1;
    }
    if (!r->bad && !(g->tokens = token_table_make(r->a, field, n, text, lens, atom)))
        bad(r, "token table of atoms that are not tokens");
    if (r->bad)
        g->tokens = NULL;
    free(text);
    free(lens);
    free(atom);
    free(seen);
}

static void read_group(struct rd *r, struct rule_group *g, uint32_t gi)
{
    struct stoat_ruleset *rs = r->rs;
    g->n = rcount(r, 4);
    uint32_t *rule = ralloc(r, (g->n ? g->n : 1) * sizeof(*rule));
    uintptr_t *root = ralloc(r, (g->n ? g->n : 1) * sizeof(*root));
    for (uint32_t e = 0; e < g->n && !r->bad; e++) {
        rule[e] = r32(r);
        if (rule[e] >= rs->nrules || (e && rule[e] <= rule[e - 1]) || rs->rules[rule[e]].group != gi)
            bad(r, "group rule out of order or range");
        else {
            const struct rule *x = &rs->rules[rule[e]];
            if (!x->prog.root)
                bad(r, "group rule without a program");
            root[e] = (uintptr_t)x->prog.root | (x->needs_ancestry ? 1u : 0u);
        }
    }
    g->rule = rule;
    g->root = root;
    g->nhidden = r32(r);
    if (g->nhidden > g->n)
        bad(r, "more hidden rules than rules");
    g->nwords = (g->n + 63) / 64;
    uint64_t *ungated = ralloc(r, (g->nwords ? g->nwords : 1) * 8);
    uint64_t *one_set = ralloc(r, (g->nwords ? g->nwords : 1) * 8);
    for (uint32_t i = 0; i < g->nwords && !r->bad; i++) {
        ungated[i] = r64(r);
        one_set[i] = r64(r);
    }
    if (!bits_within(ungated, g->nwords, g->n) || !bits_within(one_set, g->nwords, g->n))
        bad(r, "group bitmap past its rules");
    g->ungated = ungated;
    g->one_set = one_set;
    read_group_dbs(r, g);
    g->natoms = rcount(r, 8);
    uint32_t *off = ralloc(r, ((size_t)g->natoms + 1) * sizeof(*off));
    for (uint32_t i = 0; i <= g->natoms && !r->bad; i++) {
        off[i] = r32(r);
        if ((i == 0 && off[i]) || (i && off[i] < off[i - 1]))
            bad(r, "atom table out of order");
    }
    uint32_t total = r->bad ? 0 : off[g->natoms];
    if ((uint64_t)total * 12 > r->len - r->off)
        bad(r, "atom table past the end");
    uint32_t *word = ralloc(r, ((size_t)(r->bad ? 0 : total) + 1) * sizeof(*word));
    uint64_t *mask = ralloc(r, ((size_t)(r->bad ? 0 : total) + 1) * sizeof(*mask));
    for (uint32_t i = 0; i < total && !r->bad; i++) {
        word[i] = r32(r);
        mask[i] = r64(r);
        /* bits past the last rule are harmless (the evaluation stops at
         * g->n) but say the file is not one stoat wrote */
        uint32_t left = word[i] < 2 * g->nwords ? g->n - word[i] % g->nwords * 64 : 0;
        if (!left || (left < 64 && mask[i] >> left))
            bad(r, "atom names a rule out of range");
    }
    uint32_t *gid = ralloc(r, ((size_t)g->natoms + 1) * sizeof(*gid));
    for (uint32_t i = 0; i < g->natoms && !r->bad; i++) {
        gid[i] = r32(r);
        if (gid[i] >= rs->natoms)
            bad(r, "atom id");
    }
    g->atom_off = off;
    g->atom_word = word;
    g->atom_mask = mask;
    g->atom_gid = gid;
    read_tokens(r, g);
}

static void read_groups(struct rd *r)
{
    struct stoat_ruleset *rs = r->rs;
    size_t n = rcount(r, 16);
    rs->groups = ralloc(r, (n ? n : 1) * sizeof(*rs->groups));
    rs->ngroups = n;
    for (size_t g = 0; g < n && !r->bad; g++)
        read_group(r, &rs->groups[g], (uint32_t)g);
    for (size_t i = 0; i < rs->nrules && !r->bad; i++)
        if (rs->rules[i].nsels && rs->rules[i].group >= n)
            bad(r, "rule in no group");
}

/* The class's settled atoms: each names a group atom of a group of the
 * class whose field database is merged, a field, and a value without NUL;
 * those of one field lie together (sorted by field). */
static void read_settled(struct rd *r, struct route_class *c, uint32_t n, const uint8_t *merged)
{
    struct settled_atom *v = ralloc(r, ((size_t)n + 1) * sizeof(*v));
    for (uint32_t k = 0; k < n && !r->bad; k++) {
        struct settled_atom *a = &v[k];
        a->field = r32(r);
        a->group = r32(r);
        a->atom = r32(r);
        bool present;
        a->lit = rbytes(r, &a->len, &present);
        if (r->bad)
            break;
        uint32_t gi = 0;
        while (gi < c->ngroups && c->group[gi] != a->group)
            gi++;
        if (!field_ok(r, a->field) || (k && a->field < v[k - 1].field))
            bad(r, "settled atom of an unknown field, or out of order");
        else if (gi == c->ngroups || !(merged[gi] & MERGED_FIELDS) || a->atom >= r->rs->groups[a->group].natoms)
            bad(r, "settled atom of no merged group");
        else if (!present || !a->len || memchr(a->lit, 0, a->len))
            bad(r, "settled atom without a value");
    }
    c->settled = v;
    c->nsettled = r->bad ? 0 : n;
}

static void read_merges(struct rd *r, struct route_class *c)
{
    uint32_t nm = r32(r);
    uint32_t ns = rcount(r, 16);
    if ((!nm && !ns) || r->bad)
        return;
    if (nm > 2)
        bad(r, "more than two merged scans");
    uint8_t *merged = ralloc(r, (size_t)c->ngroups + 1);
    for (uint32_t g = 0; g < c->ngroups && !r->bad; g++) {
        merged[g] = r8(r);
        if (merged[g] > (MERGED_FIELDS | MERGED_KEYWORDS) || (merged[g] && !r->rs->groups[c->group[g]].ndbs))
            bad(r, "merged group without a database");
    }
    struct class_merge *m = ralloc(r, 2 * sizeof(*m));
    for (uint32_t k = 0; k < nm && !r->bad; k++) {
        m[k].db = r32(r);
        if (m[k].db >= r->rs->nmdbs || !r->rs->mdbs[m[k].db].db)
            bad(r, "merged scan of no database");
        m[k].nfields = rcount(r, 4);
        m[k].fields = rfields(r, m[k].nfields, FIELD_ANY);
        if (!m[k].nfields)
            bad(r, "merged scan of no field");
    }
    c->merged = merged;
    c->merges = m;
    c->nmerges = r->bad ? 0 : nm;
    if (!r->bad)
        read_settled(r, c, ns, merged);
}

/* The merged databases: each atom names an atom of a group. */
static void read_mdbs(struct rd *r)
{
    struct stoat_ruleset *rs = r->rs;
    size_t nm = rcount(r, 8);
    rs->mdbs = ralloc(r, (nm ? nm : 1) * sizeof(*rs->mdbs));
    rs->nmdbs = r->bad ? 0 : nm;
    for (size_t i = 0; i < rs->nmdbs && !r->bad; i++) {
        struct merged_db *md = &rs->mdbs[i];
        uint32_t n = rcount(r, 8);
        uint32_t *group = ralloc(r, ((size_t)n + 1) * sizeof(*group));
        uint32_t *atom = ralloc(r, ((size_t)n + 1) * sizeof(*atom));
        for (uint32_t k = 0; k < n && !r->bad; k++) {
            group[k] = r32(r);
            if (group[k] >= rs->ngroups)
                bad(r, "merged atom of no group");
        }
        for (uint32_t k = 0; k < n && !r->bad; k++) {
            atom[k] = r32(r);
            if (atom[k] >= rs->groups[group[k]].natoms)
                bad(r, "merged atom out of range");
        }
        md->group = group;
        md->atom = atom;
        md->natoms = r->bad ? 0 : n;
        if (!r->bad)
            read_db(r, &md->db);
        if (!r->bad && !md->db != !n)
            bad(r, "merged database missing");
    }
}

static void read_classes(struct rd *r)
{
    struct stoat_ruleset *rs = r->rs;
    read_mdbs(r);
    size_t n = rcount(r, 10);
    rs->classes = ralloc(r, (n ? n : 1) * sizeof(*rs->classes));
    rs->nclasses = n;
    for (size_t ci = 0; ci < n && !r->bad; ci++) {
        struct route_class *c = &rs->classes[ci];
        c->ngroups = rcount(r, 8);
        uint32_t *group = ralloc(r, (c->ngroups ? c->ngroups : 1) * sizeof(*group));
        uint16_t *rset = ralloc(r, (c->ngroups ? c->ngroups : 1) * sizeof(*rset));
        for (uint32_t g = 0; g < c->ngroups && !r->bad; g++) {
            group[g] = r32(r);
            if (group[g] >= rs->ngroups)
                bad(r, "class names a group out of range");
        }
        size_t ndb = 0;
        for (uint32_t g = 0; g < c->ngroups && !r->bad; g++) {
            uint32_t v = r32(r);
            if (v >= rs->nrsets && v)
                bad(r, "class names a renameset out of range");
            rset[g] = (uint16_t)v;
            ndb += rs->groups[group[g]].ndbs;
        }
        if (!r->bad && (ndb + 1) * 4 > r->len - r->off)
            bad(r, "class databases past the end");
        uint32_t *off = ralloc(r, (r->bad ? 1 : ndb + 1) * sizeof(*off));
        size_t k = 0;
        for (uint32_t g = 0; g < c->ngroups && !r->bad; g++)
            for (uint32_t d = 0; d < rs->groups[group[g]].ndbs && !r->bad; d++, k++) {
                off[k] = r32(r);
                if ((k == 0 && off[k]) || (k && off[k] < off[k - 1]))
                    bad(r, "class database fields out of order");
            }
        uint32_t total = r->bad ? 0 : r32(r);
        if (!r->bad && ((k && total < off[k - 1]) || (!k && total)))
            bad(r, "class database fields out of order");
        off[r->bad ? 0 : k] = total;
        /* each database's slice as long as the database's field list */
        k = 0;
        for (uint32_t g = 0; g < c->ngroups && !r->bad; g++)
            for (uint32_t d = 0; d < rs->groups[group[g]].ndbs && !r->bad; d++, k++)
                if (off[k + 1] - off[k] != rs->groups[group[g]].dbs[d].nfields)
                    bad(r, "class database fields of another length");
        if (!r->bad && (uint64_t)total * 4 > r->len - r->off)
            bad(r, "class database fields past the end");
        c->db_fields = rfields(r, r->bad ? 0 : total, FIELD_ANY);
        c->db_off = off;
        c->group = group;
        c->rset = rset;
        c->scan_all = r8(r) != 0;
        c->hidden_only = r8(r) != 0;
        c->keyword_min = r32(r);
        read_merges(r, c);
    }
}

static void read_strmap(struct rd *r, struct strmap *m, size_t limit, const char *what)
{
    size_t n = rcount(r, 8);
    for (size_t i = 0; i < n && !r->bad; i++) {
        uint32_t len;
        bool present;
        const char *k = rbytes(r, &len, &present);
        uint32_t v = r32(r);
        if (!r->bad && (!present || v >= limit))
            bad(r, what);
        else if (!r->bad)
            strmap_put(m, k, len, v);
    }
}

static uint32_t *rids(struct rd *r, size_t *n)
{
    *n = rcount(r, 4);
    return rfields(r, *n, 0);
}

static void read_tail(struct rd *r, struct snap_diags *d)
{
    struct stoat_ruleset *rs = r->rs;
    read_strmap(r, &rs->routes, rs->nclasses, "route to a class out of range");
    rs->nprocs = rcount(r, 1 + 4 * PF_COUNT);
    rs->procs = ralloc(r, (rs->nprocs + 1) * sizeof(*rs->procs));
    for (size_t i = 0; i < rs->nprocs && !r->bad; i++) {
        rs->procs[i].end = r8(r) != 0;
        for (int f = 0; f < PF_COUNT && !r->bad; f++) {
            rs->procs[i].f[f] = r32(r);
            if (!field_ok(r, rs->procs[i].f[f]) && rs->procs[i].f[f] != FIELD_UNKNOWN)
                bad(r, "unknown field id");
        }
    }
    read_strmap(r, &rs->proc_routes, rs->nprocs, "process route out of range");
    for (int a = 0; a < AF_COUNT; a++)
        rs->actor_ids[a] = rids(r, &rs->nactor_ids[a]);
    rs->ts_ids = rids(r, &rs->nts_ids);
    rs->host_ids = rids(r, &rs->nhost_ids);
    rs->channel_ids = rids(r, &rs->nchannel_ids);
    rs->eid_ids = rids(r, &rs->neid_ids);
    rs->padded_ids = rids(r, &rs->npadded_ids);
    rs->field_ancestors = r32(r);
    rs->field_ancestor_cmds = r32(r);
    if (!field_ok(r, rs->field_ancestors) || !field_ok(r, rs->field_ancestor_cmds))
        bad(r, "unknown field id");
    size_t *st[] = {&rs->stats.files,   &rs->stats.documents, &rs->stats.loaded,     &rs->stats.correlations,
                    &rs->stats.filters, &rs->stats.rejected,  &rs->stats.deselected, &rs->stats.unrouted};
    for (size_t i = 0; i < sizeof(st) / sizeof(*st); i++)
        *st[i] = (size_t)r64(r);
    size_t n = rcount(r, 30);
    for (size_t i = 0; i < n && !r->bad; i++) {
        struct stoat_diag g = {0};
        g.code = (stoat_err)r32(r);
        uint32_t sev = r32(r);
        g.file = rstr(r);
        g.line = r64(r);
        g.column = r64(r);
        g.offset = r64(r);
        g.has_offset = r8(r);
        g.rule_id = rstr(r);
        g.field = rstr(r);
        g.message = rstr(r);
        if (sev > STOAT_SEV_NOTE || (uint32_t)g.code > STOAT_ERR_CONFIG)
            bad(r, "diagnostic");
        g.severity = sev;
        if (!r->bad)
            snapshot_diags_add(d, &g);
    }
}

static bool check_header(const uint8_t *buf, size_t len, const uint8_t key[RC_KEY_LEN], char *why, size_t whylen)
{
    if (len < SN_HEADER || memcmp(buf, SN_MAGIC, 8) != 0) {
        snprintf(why, whylen, "not a stoat ruleset cache (%s)", len < SN_HEADER ? "too short" : "no magic");
        return false;
    }
    uint32_t format = 0;
    uint64_t plen = 0;
    for (int i = 3; i >= 0; i--)
        format = format << 8 | buf[8 + i];
    for (int i = 7; i >= 0; i--)
        plen = plen << 8 | buf[16 + i];
    if (format != SN_FORMAT) {
        snprintf(why, whylen, "format %u, not %u", format, SN_FORMAT);
        return false;
    }
    if (memcmp(buf + 24, key, RC_KEY_LEN) != 0 || buf[12] || buf[13] || buf[14] || buf[15]) {
        snprintf(why, whylen, "made for other rules, another stoat or Hyperscan, or another host");
        return false;
    }
    if (plen != len - SN_HEADER) {
        snprintf(why, whylen, "payload of %llu bytes where %zu are left (truncated or padded)",
                 (unsigned long long)plen, len - SN_HEADER);
        return false;
    }
    uint8_t sum[RC_KEY_LEN];
    rulecache_sum(buf + SN_HEADER, len - SN_HEADER, sum);
    if (memcmp(buf + 24 + RC_KEY_LEN, sum, RC_KEY_LEN) != 0) {
        snprintf(why, whylen, "checksum mismatch (damaged)");
        return false;
    }
    return true;
}

/* The ruleset's region: address space for everything a file of len bytes
 * decodes to (its tables, strings and databases take at most a few times
 * its bytes; beyond, the arena), aligned and asked for huge pages. A warm
 * load was mostly page faults: first touches of fresh memory, each a trap,
 * costly on virtual machines; in 2 MiB pages there are a few. Pages never
 * touched cost nothing, and the tail left unused is given back. */
#define SN_HUGE (2u << 20)

size_t snapshot_region_cap;

static void region_map(struct rd *r, size_t len)
{
    size_t cap = ((len > SIZE_MAX / 8 ? SIZE_MAX / 8 : len) * 3 + SN_HUGE + SN_HUGE - 1) & ~(size_t)(SN_HUGE - 1);
    if (snapshot_region_cap) /* tests: the region filled up, the rest from elsewhere */
        cap = snapshot_region_cap;
    uint8_t *m = mmap(NULL, cap + SN_HUGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        return; /* all from the arena */
    size_t head = (SN_HUGE - ((uintptr_t)m & (SN_HUGE - 1))) & (SN_HUGE - 1);
    if (head)
        munmap(m, head);
    if (SN_HUGE - head)
        munmap(m + head + cap, SN_HUGE - head);
    r->mem = m + head;
    r->cap = cap;
    ASAN_POISON_MEMORY_REGION(r->mem, cap);
#ifdef MADV_HUGEPAGE
    if (len >= SN_HUGE)                      /* a small file's few tables would each zero a huge page */
        madvise(r->mem, cap, MADV_HUGEPAGE); /* a hint: without it, 4 KiB pages */
#endif
}

void snapshot_region_unmap(uint8_t *mem, size_t len)
{
    if (!mem)
        return;
    ASAN_UNPOISON_MEMORY_REGION(mem, len); /* the address range may be mapped again */
    munmap(mem, len);
}

/* The region to the ruleset, its unused tail unmapped. */
static void region_keep(struct rd *r)
{
    if (!r->mem)
        return;
    size_t keep = (r->used + SN_HUGE - 1) & ~(size_t)(SN_HUGE - 1);
    if (!keep)
        keep = SN_HUGE;
    if (keep < r->cap)
        snapshot_region_unmap(r->mem + keep, r->cap - keep);
    r->rs->region = r->mem;
    r->rs->region_unmap = snapshot_region_unmap;
    r->rs->region_len = keep < r->cap ? keep : r->cap;
}

struct stoat_ruleset *snapshot_decode(const uint8_t *buf, size_t len, const uint8_t key[RC_KEY_LEN],
                                      struct snap_diags *d, char *why, size_t whylen)
{
    if (!check_header(buf, len, key, why, whylen))
        return NULL;
    struct stoat_ruleset *rs = xcalloc(1, sizeof(*rs));
    arena_init(&rs->arena, 1 << 20);
    fieldtab_init(&rs->fields);
    strmap_init(&rs->routes);
    strmap_init(&rs->atoms);
    strmap_init(&rs->proc_routes);
    struct rd r = {
        .p = buf + SN_HEADER, .len = len - SN_HEADER, .why = why, .whylen = whylen, .rs = rs, .a = &rs->arena};
    region_map(&r, len);
    read_fields(&r);
    rs->natoms = r32(&r);
    if (rs->natoms > r.len) /* each atom is in some group's table, a word each */
        bad(&r, "atom count past the end");
    read_nodes(&r);
    read_rules(&r);
    read_corrs(&r);
    read_rsets(&r);
    read_groups(&r);
    read_classes(&r);
    read_tail(&r, d);
    if (!r.bad && r.off != r.len)
        bad(&r, "bytes after the end");
    region_keep(&r);
    if (r.bad) {
        stoat_ruleset_destroy(rs);
        snapshot_diags_free(d);
        snapshot_diags_init(d);
        return NULL;
    }
    return rs;
}

struct stoat_ruleset *snapshot_read_file(const char *path, const uint8_t key[RC_KEY_LEN], struct snap_diags *d,
                                         bool *missing, char *why, size_t whylen)
{
    const uint8_t *buf;
    size_t len;
    struct stoat_ruleset *rs = NULL;
    snapshot_diags_init(d);
    why[0] = 0;
    if (rulecache_file_map(path, &buf, &len, missing, why, whylen)) {
        rs = snapshot_decode(buf, len, key, d, why, whylen);
        rulecache_file_unmap(buf, len);
    }
    return rs;
}
