/* The compiled form of a detection: what the matcher runs per event. The
 * compiler writes it and the engine only reads it, so it belongs to the
 * rules' floor and the engine includes it from above.
 *
 * Each rule is a small tree of boolean nodes over tests; a test is one field
 * (or every field, for keywords) against a list of patterns. Everything here
 * is immutable once the ruleset is built, lives in the ruleset's arena, and is
 * shared by all hunting threads. Field names are integers (interned when the
 * ruleset was compiled); literals are already case-folded unless `cased`. */
#ifndef STOAT_RULES_PROGRAM_H
#define STOAT_RULES_PROGRAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#define FIELD_ANY UINT32_MAX /* keyword search: every field value */

enum pat_op {
    P_EQ, /* whole value equals lit */
    P_PREFIX,
    P_SUFFIX,
    P_CONTAINS,
    P_GLOB,     /* wildcards inside: glob tokens */
    P_ANYVALUE, /* '*': any non-null value */
    P_RE,
    P_CIDR,
    P_NUM,    /* numeric comparison (cmp) with num */
    P_NULL,   /* field absent or null */
    P_EXISTS, /* field present */
    P_NOT_EXISTS,
    P_FIELDREF, /* compare with another field (sub: P_EQ/PREFIX/SUFFIX/CONTAINS) */
    P_TIME,     /* a part of a timestamp, compared numerically */
};

enum cmp_op {
    CMP_EQ,
    CMP_LT,
    CMP_LTE,
    CMP_GT,
    CMP_GTE
};
enum time_part {
    TP_MINUTE,
    TP_HOUR,
    TP_DAY,
    TP_WEEK,
    TP_MONTH,
    TP_YEAR
};

enum glob_kind {
    G_LIT,
    G_STAR,
    G_ONE,
    G_DASH
};
struct glob_tok {
    uint8_t kind;
    uint32_t off, len; /* G_LIT: bytes of pattern.lit */
};

struct cidr {
    uint8_t family; /* 4 or 6 */
    uint8_t bits;
    uint8_t addr[16];
};

/* The fields any_pattern reads for every pattern come first, within 24
 * bytes: an array of patterns (80 bytes each, 16-aligned) then holds each
 * one's hot part in one cache line three times in four, and a pattern its
 * atom skips costs one line, not two. */
struct pattern {
    /* A prefilter atom this pattern cannot match without (ruleset-wide id),
     * or NO_ATOM: when the event's scan did not see it, skip the pattern. */
    uint32_t atom;
    uint8_t op;    /* enum pat_op */
    uint8_t cased; /* compare bytes as they are */
    /* Its rarest bytes (as compared: folded unless cased): a value holding
     * neither cannot match, which a per-value byte set tells without a search. */
    uint8_t nrare;
    uint8_t rare[2];
    uint8_t cmp;  /* P_NUM, P_TIME */
    uint8_t part; /* P_TIME */
    uint8_t sub;  /* P_FIELDREF */
    uint32_t len;
    const char *lit; /* literal bytes; G_LIT tokens point into it */
    uint32_t ntoks;
    uint32_t ref_field; /* P_FIELDREF */
    const struct glob_tok *toks;
    double num;
    /* P_RE: compiled with re_opts. A ruleset read from a cache file
     * compiles each regex on first use (pattern_regex), from any thread,
     * so the pointer is atomic; a compiled one never changes again. */
    pcre2_code *_Atomic re;
    uint32_t re_opts;
    struct cidr net;
};

#define NO_ATOM UINT32_MAX

/* The regex of a P_RE pattern, compiled now if it was not yet (a warm
 * load, rules/snapshot.c, compiles no regex it may never run). NULL when
 * it does not compile (a damaged cache file whose checksum fits): such a
 * pattern matches nothing. */
pcre2_code *program_regex_compile(const struct pattern *p);

static inline pcre2_code *pattern_regex(const struct pattern *p)
{
    pcre2_code *re = atomic_load_explicit(&p->re, memory_order_acquire);
    return re ? re : program_regex_compile(p);
}

struct test {
    uint32_t field; /* field id, or FIELD_ANY */
    uint8_t all;    /* every pattern must match (|all) */
    uint8_t negate; /* neq: the field exists and no pattern matches */
    /* When some pattern has no atom and every one needs a byte (as folded)
     * from need_any: a value holding none of those bytes matches none of
     * them, which one look at its byte set tells. */
    uint8_t has_need;
    uint32_t npat;
    const struct pattern *pat;
    uint64_t need_any[4];
};

enum pnode_op {
    N_AND,
    N_OR,
    N_NOT,
    N_ATLEAST,
    N_TEST,
    N_TRUE,
    N_FALSE
};

struct pnode {
    uint8_t op;
    uint32_t need; /* N_ATLEAST */
    uint32_t gate; /* N_AND: the child whose atoms gate the rule, or UINT32_MAX */
    uint32_t n;
    /* 1 + the atom (ruleset-wide id) without which the node is false when
     * the event's scan did not see it: a test's only pattern's, an AND's
     * first child's (which runs first anyway); 0: none. The
     * engine drops such a branch without reading its test and pattern. */
    uint32_t req_atom;
    union {
        const struct pnode *const *kids;
        const struct test *test;
    } u;
};

/* Node n's req_atom, from its test or its children's (set before it);
 * natoms: the ruleset's, above any id a pattern may hold. */
static inline uint32_t pnode_req_atom(const struct pnode *n, uint32_t natoms)
{
    if (n->op == N_TEST) {
        const struct test *t = n->u.test;
        return t->npat == 1 && !t->negate && t->pat[0].atom < natoms ? t->pat[0].atom + 1 : 0;
    }
    return n->op == N_AND && n->n ? n->u.kids[0]->req_atom : 0;
}

/* Sets req_atom in every node of the tree at n, children first (once its
 * patterns have their atoms). */
void program_set_req_atoms(struct pnode *n, uint32_t natoms, int depth);

/* The rarest byte every match of p holds that is the same in a folded
 * value, or -1 (a cased pattern's or a regex's letters and non-ASCII bytes
 * may fold): what a test's need_any and the engine's byte gates are made of. */
int pattern_need_byte(const struct pattern *p);

#endif
