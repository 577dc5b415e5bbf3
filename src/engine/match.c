/* See engine.h. One event at a time: find its route (channel + event id),
 * scan its values once with the route's prefilter databases (scan.c), then
 * evaluate the rules the scan left standing, in rule order. Case folding of a
 * value happens at most once per event and only when a rule needs it.
 *
 * A regular expression runs under limits (a match context per thread): a
 * pattern that backtracks without end on some value (^(a+)+$ on "aaa...ab")
 * stops at ENGINE_RE_MATCH_LIMIT steps instead of taking the thread for
 * seconds. Such an evaluation cannot say "match", so it counts as no match,
 * but never silently: a flag set by the regex is looked at once per rule
 * evaluation, and the evaluations it marks are counted per rule in this
 * context (no atomics; the pipeline sums the contexts at the end). */
#include "engine/match_ctx.h"

#include <math.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "engine/value_ops.h"
#include "event/route.h"
#include "util/text.h"

/* The evaluation of rule r just ended with a regex stopped by a limit. */
static void note_re_limited(struct engine_ctx *c, uint32_t r)
{
    c->re_limited = false;
    if (!c->re_limited_rules)
        c->re_limited_rules = xcalloc(c->rs->nrules + 1, sizeof(*c->re_limited_rules));
    if (r < c->rs->nrules)
        c->re_limited_rules[r]++;
    c->counters.regex_limited++;
}

/* ----------------------------------------------------------- value tests */

static const char *fold_value(struct engine_ctx *c, struct ev_field *f)
{
    if (is_folded(f->val, f->val_len)) {
        f->folded = f->val;
    } else {
        char *o = arena_alloc(&c->scratch, f->val_len + 1);
        fold_case(f->val, f->val_len, o);
        o[f->val_len] = 0;
        f->folded = o;
    }
    return f->folded;
}

/* The value case-folded, made on first need and kept for the event. */
static inline const char *folded(struct engine_ctx *c, struct ev_field *f)
{
    return f->folded ? f->folded : fold_value(c, f);
}

/* Which bytes the value holds, as four 64-bit words. Marking a byte array
 * and packing it afterwards avoids the chain of read-modify-writes on one
 * word that setting bits byte by byte makes (a few times faster on long
 * values). */
static const uint64_t *byte_set(struct engine_ctx *c, const char *s, size_t n)
{
    uint64_t *set = arena_alloc(&c->scratch, 4 * sizeof(uint64_t));
    const unsigned char *u = (const unsigned char *)s;
#ifdef __SSE2__
    _Alignas(16) unsigned char seen[256];
    memset(seen, 0, sizeof(seen));
    size_t i = 0;
    for (; i + 8 <= n; i += 8) { /* eight a turn: the loop's own count and test cost as much as a mark */
        seen[u[i]] = 0x80;
        seen[u[i + 1]] = 0x80;
        seen[u[i + 2]] = 0x80;
        seen[u[i + 3]] = 0x80;
        seen[u[i + 4]] = 0x80;
        seen[u[i + 5]] = 0x80;
        seen[u[i + 6]] = 0x80;
        seen[u[i + 7]] = 0x80;
    }
    for (; i < n; i++)
        seen[u[i]] = 0x80;
    for (int w = 0; w < 4; w++) {
        uint64_t v = 0;
        for (int k = 0; k < 4; k++) {
            __m128i x = _mm_load_si128((const __m128i *)(seen + w * 64 + k * 16));
            v |= (uint64_t)(uint16_t)_mm_movemask_epi8(x) << (k * 16);
        }
        set[w] = v;
    }
#else
    memset(set, 0, 4 * sizeof(uint64_t));
    for (size_t i = 0; i < n; i++)
        set[u[i] >> 6] |= 1ull << (u[i] & 63);
#endif
    return set;
}

/* False when the value lacks one of the pattern's rare bytes: no match is
 * possible, and no search is needed to know it. Short values are searched
 * directly; the set only pays off on longer ones. */
static inline bool rare_bytes_present(struct engine_ctx *c, const struct pattern *p, struct ev_field *f)
{
    if (!p->nrare || f->val_len < 24)
        return true;
    const uint64_t *set;
    if (p->op == P_RE && f->bytes_folded) {
        set = f->bytes_folded; /* a regex's rare bytes are never letters: either set will do */
    } else if (p->cased || p->op == P_RE) {
        if (!f->bytes_raw)
            f->bytes_raw = byte_set(c, f->val, f->val_len);
        set = f->bytes_raw;
    } else {
        if (!f->bytes_folded)
            f->bytes_folded = byte_set(c, folded(c, f), f->val_len);
        set = f->bytes_folded;
    }
    for (uint8_t i = 0; i < p->nrare; i++)
        if (!(set[p->rare[i] >> 6] >> (p->rare[i] & 63) & 1))
            return false;
    return true;
}

/* False when the value holds none of the bytes in need (one of which each
 * of a test's patterns, or every match of a gated rule, needs). A short value is looked at byte by byte rather
 * than through a set: cheaper than the set, and far cheaper than searching
 * it for each of a long list (48 lookalike letters, 17 obfuscations) that
 * an ungated rule runs on every process start. */
static inline bool need_present(struct engine_ctx *c, const uint64_t need[4], struct ev_field *f)
{
    if (f->val_len < 16) {
        const unsigned char *s = (const unsigned char *)folded(c, f);
        for (uint32_t i = 0; i < f->val_len; i++)
            if (need[s[i] >> 6] >> (s[i] & 63) & 1)
                return true;
        return false;
    }
    if (!f->bytes_folded)
        f->bytes_folded = byte_set(c, folded(c, f), f->val_len);
    const uint64_t *s = f->bytes_folded;
    return ((s[0] & need[0]) | (s[1] & need[1]) | (s[2] & need[2]) | (s[3] & need[3])) != 0;
}

static bool re_run(struct engine_ctx *c, const struct pattern *p, const char *s, size_t n)
{
    pcre2_code *re = pattern_regex(p); /* compiled on first use after a warm load */
    int rc = re ? pcre2_match(re, (PCRE2_SPTR)s, n, 0, 0, c->md, c->mctx) : PCRE2_ERROR_NOMEMORY;
    if (rc >= 0)
        return true;
    if (rc != PCRE2_ERROR_NOMATCH)
        c->re_limited = true; /* a limit (or memory): undecided, counted by the caller */
    return false;
}

/* A regex's answer for a value, remembered: the same values come back event
 * after event (a service's command line, a task's image), and the regexes
 * no literal gates (obfuscation, odd file names) run on every process
 * start. A slot keeps the whole value, so an answer is only reused for the
 * same bytes and the same pattern; an evaluation a limit stopped is not kept
 * (it is counted again each time, as without the memo). */
static bool re_match(struct engine_ctx *c, const struct pattern *p, const char *s, size_t n)
{
    /* Shorter than any match (in characters, never more than bytes): PCRE2
     * answers no at once too, but only after the memo's hash and copy. The
     * ungated regexes of process starts (a hash's 64 hex digits) mostly
     * meet short command lines. */
    uint32_t min;
    pcre2_code *re = pattern_regex(p);
    if (re && pcre2_pattern_info(re, PCRE2_INFO_MINLENGTH, &min) == 0 && n < min)
        return false;
    if (n > RE_MEMO_MAX_LEN)
        return re_run(c, p, s, n);
    if (!c->re_memo)
        c->re_memo = xcalloc(RE_MEMO_SLOTS, sizeof(*c->re_memo));
    uint64_t h = hash_bytes(s, n, (uint64_t)(uintptr_t)p);
    struct re_memo *m = &c->re_memo[h & (RE_MEMO_SLOTS - 1)];
    if (m->p == p && m->len == n && memcmp(m->val, s, n) == 0)
        return m->match;
    bool limited = c->re_limited;
    c->re_limited = false;
    bool ok = re_run(c, p, s, n);
    if (!c->re_limited) {
        m->p = p;
        m->len = (uint16_t)n;
        m->match = ok;
        if (n)
            memcpy(m->val, s, n);
    }
    c->re_limited |= limited;
    return ok;
}

static bool cmp_num(double v, uint8_t cmp, double ref)
{
    switch (cmp) {
    case CMP_LT: return v < ref;
    case CMP_LTE: return v <= ref;
    case CMP_GT: return v > ref;
    case CMP_GTE: return v >= ref;
    default: return v == ref;
    }
}

/* Compared inline a word at a time (bytes_equal): a memcmp call costs more
 * than the comparison, and a first or last byte rejects too little (an
 * image suffix of a long list ends in 'e' as most images do; the word of
 * '\cmd.exe' or '\svchost' tells them apart at once). */
static inline bool str_op(uint8_t op, const char *s, size_t n, const char *lit, size_t len)
{
    switch (op) {
    case P_EQ: return n == len && bytes_equal(s, lit, len);
    case P_PREFIX: return n >= len && bytes_equal(s, lit, len);
    case P_SUFFIX: return n >= len && bytes_equal(s + n - len, lit, len);
    case P_CONTAINS: return len == 0 || (n >= len && find_bytes(s, n, lit, len) != NULL);
    default: return false;
    }
}

/* Whether s[0..len) folds to lit, told from its bytes up to the first
 * non-ASCII one: 1 yes, 0 no, -1 only fold_case can tell. An ASCII byte
 * folds alone (no UTF-8 sequence takes one in), so a byte that differs
 * before any non-ASCII one decides. */
static inline int ascii_folds_to(const char *s, const char *lit, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char b = (unsigned char)s[i];
        if (b >= 0x80)
            return -1;
        if (ascii_lower_table[b] != (unsigned char)lit[i])
            return 0;
    }
    return 1;
}

/* An equals, prefix or suffix test of p on f. A value not folded yet is
 * not folded for it when its bytes tell (folding keeps lengths): the short
 * values such tests read (logon ids, levels, hashes) are seldom folded for
 * anything else, and most tests fail at their first byte. */
static inline bool affix_op(struct engine_ctx *c, const struct pattern *p, struct ev_field *f)
{
    if (!p->cased && !f->folded) {
        size_t n = f->val_len;
        if (p->op == P_EQ ? n != p->len : n < p->len)
            return false;
        int r = ascii_folds_to(p->op == P_SUFFIX ? f->val + n - p->len : f->val, p->lit, p->len);
        if (r >= 0)
            return r;
    }
    return str_op(p->op, p->cased ? f->val : folded(c, f), f->val_len, p->lit, p->len);
}

static bool match_value(struct engine_ctx *c, const struct pattern *p, struct ev_field *f)
{
    if (f->type == STOAT_V_NULL)
        return false;
    if (p->atom != NO_ATOM && c->atoms_valid && c->atom_stamp[p->atom] != c->gen)
        return false; /* its literal is nowhere in the event */
    switch (p->op) {
    case P_EQ:
    case P_PREFIX:
    case P_SUFFIX: return affix_op(c, p, f);
    case P_CONTAINS:
        if (!rare_bytes_present(c, p, f))
            return false;
        return str_op(p->op, p->cased ? f->val : folded(c, f), f->val_len, p->lit, p->len);
    case P_GLOB:
        if (!rare_bytes_present(c, p, f))
            return false;
        return engine_glob_match(p, p->cased ? f->val : folded(c, f), f->val_len);
    case P_ANYVALUE: return true;
    case P_RE: return rare_bytes_present(c, p, f) && re_match(c, p, f->val, f->val_len);
    case P_CIDR: {
        struct cidr ip;
        return engine_parse_ip(f->val, f->val_len, &ip) && engine_in_net(&ip, &p->net);
    }
    case P_NUM: {
        double v;
        return parse_number(f->val, f->val_len, &v) && cmp_num(v, p->cmp, p->num);
    }
    case P_TIME: {
        struct timestamp ts;
        if (!parse_timestamp(f->val, f->val_len, &ts))
            return false;
        int part;
        switch (p->part) {
        case TP_MINUTE: part = ts.minute; break;
        case TP_HOUR: part = ts.hour; break;
        case TP_DAY: part = ts.day; break;
        case TP_WEEK: part = timestamp_iso_week(&ts); break;
        case TP_MONTH: part = ts.month; break;
        default: part = ts.year; break;
        }
        return cmp_num(part, p->cmp, p->num);
    }
    case P_FIELDREF: {
        for (int32_t i = slot_get(c, p->ref_field); i >= 0; i = c->f[i].next) {
            struct ev_field *o = &c->f[i];
            /* folding keeps lengths: a value longer than f's, or of another
             * length for equals, cannot match, and needs no folding to know */
            if (o->type == STOAT_V_NULL || o->val_len > f->val_len || (p->sub == P_EQ && o->val_len != f->val_len))
                continue;
            const char *a = p->cased ? f->val : folded(c, f);
            const char *b = p->cased ? o->val : folded(c, o);
            if (str_op(p->sub, a, f->val_len, b, o->val_len))
                return true;
        }
        return false;
    }
    default: return false;
    }
}

/* Whether some pattern of the test matches one value, in pattern order (as
 * match_value on each would): the plain string tests (most of a long list)
 * run here without a call each, and a list of networks reads the value as
 * an address once, not once per network. */
static inline __attribute__((always_inline)) bool any_pattern(struct engine_ctx *c, const struct test *t,
                                                              struct ev_field *f)
{
    if (f->type == STOAT_V_NULL)
        return false;
    struct cidr ip;
    int ip_state = 0; /* 0 not read yet, 1 an address, -1 not one */
    for (uint32_t p = 0; p < t->npat; p++) {
        const struct pattern *pt = &t->pat[p];
        if (pt->atom != NO_ATOM && c->atoms_valid && c->atom_stamp[pt->atom] != c->gen)
            continue; /* its literal is nowhere in the event */
        switch (pt->op) {
        case P_EQ:
        case P_PREFIX:
        case P_SUFFIX:
            if (affix_op(c, pt, f))
                return true;
            break;
        case P_CONTAINS:
            if (rare_bytes_present(c, pt, f) &&
                str_op(P_CONTAINS, pt->cased ? f->val : folded(c, f), f->val_len, pt->lit, pt->len))
                return true;
            break;
        case P_CIDR:
            if (!ip_state)
                ip_state = engine_parse_ip(f->val, f->val_len, &ip) ? 1 : -1;
            if (ip_state > 0 && engine_in_net(&ip, &pt->net))
                return true;
            break;
        default:
            if (match_value(c, pt, f))
                return true;
        }
    }
    return false;
}

/* Inlined into eval, as any_pattern into it: most tests decide after a few
 * loads, and the calls with their saved registers cost more than that. */
static inline __attribute__((always_inline)) bool eval_test(struct engine_ctx *c, const struct test *t)
{
    if (t->field == FIELD_ANY) {
        /* keywords: any value of the event */
        for (uint32_t p = 0; p < t->npat; p++) {
            bool found = false;
            for (uint32_t i = 0; i < c->n && !found; i++)
                found = match_value(c, &t->pat[p], &c->f[i]);
            if (t->all && !found)
                return false;
            if (!t->all && found)
                return true;
        }
        return t->all;
    }
    int32_t first = slot_get(c, t->field);
    if (t->npat == 1) {
        uint8_t op = t->pat[0].op;
        if (op == P_EXISTS)
            return first >= 0;
        if (op == P_NOT_EXISTS)
            return first < 0;
        if (op == P_NULL) {
            if (first < 0)
                return true;
            for (int32_t i = first; i >= 0; i = c->f[i].next)
                if (c->f[i].type == STOAT_V_NULL)
                    return true;
            return false;
        }
    }
    if (first < 0)
        return false;
    if (t->negate) {
        for (int32_t i = first; i >= 0; i = c->f[i].next)
            if (any_pattern(c, t, &c->f[i]))
                return false;
        return true;
    }
    if (c->f[first].next < 0 && !t->all) {
        struct ev_field *f = &c->f[first];
        if (f->type == STOAT_V_NULL)
            return false;
        if (t->has_need && !need_present(c, t->need_any, f))
            return false;
        return any_pattern(c, t, f);
    }
    for (uint32_t p = 0; p < t->npat; p++) {
        bool found = false;
        for (int32_t i = first; i >= 0 && !found; i = c->f[i].next)
            found = match_value(c, &t->pat[p], &c->f[i]);
        if (t->all && !found)
            return false;
        if (!t->all && found)
            return true;
    }
    return t->all;
}

/* A node whose required atom (program.h) the event's scan did not see is
 * false, as its evaluation would find after reading its test and pattern:
 * most branches of a long OR of gated ANDs ('Binary Running Under Another
 * Name': an original file name and not its image, for 26 programs) end
 * here. Only the first child of an AND lends its atom, so that no child
 * runs (or skips a regex limit) that did not before. */
static inline bool node_unseen(const struct engine_ctx *c, const struct pnode *n)
{
    return n->req_atom && c->atoms_valid && c->atom_stamp[n->req_atom - 1] != c->gen;
}

/* A child that is a test is read in its parent's loop rather than through
 * a call: most tests decide in a few loads, less than the call's saved
 * registers cost (half the nodes evaluated are ANDs, ORs and NOTs, their
 * children mostly tests). */
static bool eval(struct engine_ctx *c, const struct pnode *n)
{
    switch (n->op) {
    case N_TEST: return !node_unseen(c, n) && eval_test(c, n->u.test);
    case N_AND:
        if (node_unseen(c, n))
            return false;
        for (uint32_t i = 0; i < n->n; i++) {
            const struct pnode *k = n->u.kids[i];
            if (k->op == N_TEST ? node_unseen(c, k) || !eval_test(c, k->u.test) : !eval(c, k))
                return false;
        }
        return true;
    case N_OR:
        for (uint32_t i = 0; i < n->n; i++) {
            const struct pnode *k = n->u.kids[i];
            if (!node_unseen(c, k) && (k->op == N_TEST ? eval_test(c, k->u.test) : eval(c, k)))
                return true;
        }
        return false;
    case N_NOT: {
        const struct pnode *k = n->u.kids[0];
        return !(k->op == N_TEST ? !node_unseen(c, k) && eval_test(c, k->u.test) : eval(c, k));
    }
    case N_ATLEAST: {
        uint32_t got = 0;
        for (uint32_t i = 0; i < n->n; i++) {
            if (eval(c, n->u.kids[i]) && ++got >= n->need)
                return true;
            if (got + (n->n - i - 1) < n->need)
                return false;
        }
        return false;
    }
    case N_TRUE: return true;
    default: return false;
    }
}

/* Three-valued evaluation for rules that read fields only the writer knows
 * (Ancestors): a test of such a field is "unknown", and the rule goes to the
 * writer unless it is false whatever that field holds. */
enum {
    V_FALSE = 0,
    V_TRUE = 1,
    V_UNKNOWN = 2
};

static bool is_late(const struct engine_ctx *c, uint32_t field)
{
    return field == c->rs->field_ancestors || field == c->rs->field_ancestor_cmds;
}

static int eval3(struct engine_ctx *c, const struct pnode *n)
{
    switch (n->op) {
    case N_TEST: {
        const struct test *t = n->u.test;
        if (is_late(c, t->field))
            return V_UNKNOWN;
        for (uint32_t i = 0; i < t->npat; i++)
            if (t->pat[i].op == P_FIELDREF && is_late(c, t->pat[i].ref_field))
                return V_UNKNOWN;
        return eval_test(c, t) ? V_TRUE : V_FALSE;
    }
    case N_AND: {
        int r = V_TRUE;
        for (uint32_t i = 0; i < n->n; i++) {
            int k = eval3(c, n->u.kids[i]);
            if (k == V_FALSE)
                return V_FALSE;
            if (k == V_UNKNOWN)
                r = V_UNKNOWN;
        }
        return r;
    }
    case N_OR: {
        int r = V_FALSE;
        for (uint32_t i = 0; i < n->n; i++) {
            int k = eval3(c, n->u.kids[i]);
            if (k == V_TRUE)
                return V_TRUE;
            if (k == V_UNKNOWN)
                r = V_UNKNOWN;
        }
        return r;
    }
    case N_NOT: {
        int k = eval3(c, n->u.kids[0]);
        return k == V_UNKNOWN ? V_UNKNOWN : k == V_TRUE ? V_FALSE : V_TRUE;
    }
    case N_ATLEAST: {
        uint32_t yes = 0, maybe = 0;
        for (uint32_t i = 0; i < n->n; i++) {
            int k = eval3(c, n->u.kids[i]);
            yes += k == V_TRUE;
            maybe += k == V_UNKNOWN;
        }
        return yes >= n->need ? V_TRUE : yes + maybe >= n->need ? V_UNKNOWN : V_FALSE;
    }
    case N_TRUE: return V_TRUE;
    default: return V_FALSE;
    }
}

/* ------------------------------------------------------------ byte gates */

/* A rule without atoms (short literals, lookalike letters that fold, bare
 * regexes) runs on every event of its logsource; most of those events lack
 * every byte one of its required tests needs, which the field's byte set
 * (kept per value for the event) tells before any of the rule's tree is
 * read. The gate is made from the compiled tree on the rule's first
 * evaluation: only bytes every match must hold, as need_present and
 * rare_bytes_present rely on (a pattern's rare bytes; of a regex or a
 * cased pattern only ASCII non-letters, which folding leaves alone). */

/* How often byte b is in a value, roughly: a gate of rarer bytes rejects more. */
static int gate_commonness(unsigned b)
{
    if (b >= 0x80)
        return 0;
    if ((b | 0x20) >= 'a' && (b | 0x20) <= 'z')
        return 3;
    if ((b >= '0' && b <= '9') || (b && strchr(" \\./:-_\"", (int)b)))
        return 3;
    return 1;
}

static int gate_score(const uint64_t m[4])
{
    int worst = -1;
    for (unsigned b = 0; b < 256; b++)
        if (m[b >> 6] >> (b & 63) & 1 && gate_commonness(b) > worst)
            worst = gate_commonness(b);
    return worst;
}

/* One byte every match of p holds, as folded, into m; false: none known. */
static bool pattern_gate(const struct pattern *p, uint64_t m[4])
{
    int b = pattern_need_byte(p);
    if (b < 0)
        return false;
    m[b >> 6] |= 1ull << (b & 63);
    return true;
}

/* The gate of node n (its field and bytes); false: none. A test gates when
 * each of its patterns does (some value must match one), an AND by its best
 * gated child, an OR when all its children gate on one field. */
static bool node_gate(const struct pnode *n, uint32_t *field, uint64_t m[4], int depth)
{
    if (depth > 32)
        return false;
    switch (n->op) {
    case N_TEST: {
        const struct test *t = n->u.test;
        if (t->field == FIELD_ANY || t->negate || t->all || !t->npat)
            return false;
        uint64_t x[4] = {0};
        for (uint32_t i = 0; i < t->npat; i++)
            if (!pattern_gate(&t->pat[i], x))
                return false;
        *field = t->field;
        memcpy(m, x, sizeof(x));
        return true;
    }
    case N_AND: {
        bool found = false;
        for (uint32_t i = 0; i < n->n; i++) {
            uint32_t f;
            uint64_t x[4] = {0};
            if (node_gate(n->u.kids[i], &f, x, depth + 1) && (!found || gate_score(x) < gate_score(m))) {
                *field = f;
                memcpy(m, x, sizeof(x));
                found = true;
            }
        }
        return found;
    }
    case N_OR: {
        uint64_t u[4] = {0};
        uint32_t f0 = 0;
        for (uint32_t i = 0; i < n->n; i++) {
            uint32_t f;
            uint64_t x[4] = {0};
            if (!node_gate(n->u.kids[i], &f, x, depth + 1) || (i && f != f0))
                return false;
            f0 = f;
            for (int w = 0; w < 4; w++)
                u[w] |= x[w];
        }
        if (!n->n)
            return false;
        *field = f0;
        memcpy(m, u, sizeof(u));
        return true;
    }
    default: return false;
    }
}

/* Rule r's gate (root: its tree), made on first need; NULL: none. Only a
 * gate of rarer bytes than most values hold is kept: one of letters would
 * cost its check on every event and reject nothing. */
static const struct byte_gate *rule_gate(struct engine_ctx *c, uint32_t r, const struct pnode *root)
{
    if (__builtin_expect(!c->gate_of, 0))
        c->gate_of = xcalloc(c->rs->nrules, sizeof(*c->gate_of));
    if (__builtin_expect(!c->gate_of[r], 0)) {
        struct byte_gate g = {0};
        c->gate_of[r] = 1;
        if (node_gate(root, &g.field, g.mask, 0) && gate_score(g.mask) < 3 && c->ngates < UINT16_MAX - 2) {
            XGROW(c->gates, c->gates_cap, c->ngates + 1);
            c->gates[c->ngates++] = g;
            c->gate_of[r] = (uint16_t)(c->ngates + 1);
        }
    }
    return c->gate_of[r] > 1 ? &c->gates[c->gate_of[r] - 2] : NULL;
}

/* Whether some value of the gate's field holds one of its bytes. */
static bool gate_open(struct engine_ctx *c, const struct byte_gate *g)
{
    for (int32_t i = slot_get(c, g->field); i >= 0; i = c->f[i].next)
        if (c->f[i].type != STOAT_V_NULL && need_present(c, g->mask, &c->f[i]))
            return true;
    return false;
}

/* ---------------------------------------------------------------- routing */

static const struct ev_field *first_of(const struct engine_ctx *c, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int32_t k = slot_get(c, ids[i]);
        if (k >= 0 && c->f[k].type != STOAT_V_NULL)
            return &c->f[k];
    }
    return NULL;
}

/* The memo slot of a channel and event id value (route_memo): from the
 * channel's length and last bytes and the id's bytes, which tell most kinds
 * apart. NULL: too long to keep. */
static struct route_memo *memo_slot(struct engine_ctx *c, const struct ev_field *ch, const struct ev_field *id)
{
    if (ch->val_len == 0 || ch->val_len > ROUTE_MEMO_CHANNEL || id->val_len > sizeof(c->route_memo->eid))
        return NULL;
    if (__builtin_expect(!c->route_memo, 0))
        c->route_memo = xcalloc(ROUTE_MEMO_SLOTS, sizeof(*c->route_memo));
    uint64_t x = (uint64_t)ch->val_len << 56 ^ (uint64_t)(unsigned char)ch->val[ch->val_len - 1] << 48 ^
                 (uint64_t)(unsigned char)ch->val[ch->val_len / 2] << 40;
    for (uint32_t i = 0; i < id->val_len; i++)
        x = x * 131 + (unsigned char)id->val[i];
    return &c->route_memo[(x * 0x9E3779B97F4A7C15ull) >> (64 - 4)];
}

/* Keeps the event's kind, key and class in memo slot m (if any); returns
 * the class. */
static const struct route_class *memo_keep(struct engine_ctx *c, struct route_memo *m, const struct ev_field *ch,
                                           const struct ev_field *id, uint32_t cls)
{
    if (m && c->route_key_len <= sizeof(m->key)) {
        m->channel_len = (uint16_t)ch->val_len;
        m->eid_len = (uint16_t)id->val_len;
        m->key_len = (uint16_t)c->route_key_len;
        m->cls = cls;
        m->spec = c->route_spec = route_key_spec(c);
        m->key_hash = c->route_key_hash;
        memcpy(m->channel, ch->val, ch->val_len);
        memcpy(m->eid, id->val, id->val_len);
        memcpy(m->key, c->route_key, c->route_key_len);
    }
    return &c->rs->classes[cls];
}

static const struct route_class *route(struct engine_ctx *c)
{
    const struct stoat_ruleset *rs = c->rs;
    const struct ev_field *ch = first_of(c, rs->channel_ids, rs->nchannel_ids);
    const struct ev_field *id = first_of(c, rs->eid_ids, rs->neid_ids);
    char key[ROUTE_KEY_MAX];
    uint32_t cls;
    struct route_memo *m = ch && id ? memo_slot(c, ch, id) : NULL;
    if (m && m->channel_len == ch->val_len && m->eid_len == id->val_len &&
        memcmp(m->channel, ch->val, ch->val_len) == 0 && memcmp(m->eid, id->val, id->val_len) == 0) {
        memcpy(c->route_key, m->key, m->key_len);
        c->route_key_len = m->key_len;
        c->route_key_hash = m->key_hash;
        c->route_spec = m->spec;
        return &rs->classes[m->cls];
    }
    c->route_key_len = 0;
    c->route_spec = ROUTE_SPEC_UNKNOWN;
    if (ch && ch->val_len + 32 < sizeof(key)) {
        int64_t eid;
        if (id && parse_int64(id->val, id->val_len, &eid)) {
            size_t kl = route_key(c->route_key, sizeof(c->route_key), ch->val, ch->val_len, true, eid);
            c->route_key_len = kl;
            c->route_key_hash = strmap_hash(c->route_key, kl);
            if (kl && strmap_get_hashed(&rs->routes, c->route_key, kl, c->route_key_hash, &cls))
                return memo_keep(c, m, ch, id, cls);
        }
        size_t kl = route_key(key, sizeof(key), ch->val, ch->val_len, false, 0);
        if (kl && strmap_get(&rs->routes, key, kl, &cls)) /* the channel's class: the product plays no part */
            return c->route_key_len ? memo_keep(c, m, ch, id, cls) : &rs->classes[cls];
        const char *prod = mapping_channel_product(rs->map, ch->val, ch->val_len);
        if (prod && !c->product)
            c->product = prod;
    }
    if (c->product) {
        size_t kl = route_key_product(key, sizeof(key), c->product);
        if (kl && strmap_get(&rs->routes, key, kl, &cls))
            return &rs->classes[cls];
    }
    return NULL;
}

/* Switches the field index to renameset r (0: the event as it is). */
static void set_view(struct engine_ctx *c, uint16_t r)
{
    /* undo the previous view */
    for (size_t i = c->nsaved; i-- > 0;) {
        c->slot_gen[c->saved_id[i]] = c->saved_gen[i];
        c->slot_idx[c->saved_id[i]] = c->saved_idx[i];
    }
    c->nsaved = 0;
    if (!r)
        return;
    const struct renameset *rsn = &c->rs->rsets[r];
    /* read every source first: renames happen at once (ProcessId becomes
     * ParentProcessId while NewProcessId becomes ProcessId) */
    int32_t src[64];
    uint32_t n = rsn->n < 64 ? rsn->n : 64;
    for (uint32_t i = 0; i < n; i++)
        src[i] = slot_get(c, rsn->from[i]);
    if (c->saved_cap < n) {
        c->saved_cap = n;
        c->saved_id = xrealloc(c->saved_id, n * sizeof(*c->saved_id));
        c->saved_gen = xrealloc(c->saved_gen, n * sizeof(*c->saved_gen));
        c->saved_idx = xrealloc(c->saved_idx, n * sizeof(*c->saved_idx));
    }
    for (uint32_t i = 0; i < n; i++) {
        uint32_t to = rsn->to[i];
        if (to >= c->nslots)
            continue;
        c->saved_id[c->nsaved] = to;
        c->saved_gen[c->nsaved] = c->slot_gen[to];
        c->saved_idx[c->nsaved] = c->slot_idx[to];
        c->nsaved++;
        if (src[i] >= 0) {
            c->slot_gen[to] = c->gen;
            c->slot_idx[to] = src[i];
        } else {
            c->slot_gen[to] = 0; /* the renamed view has no such field */
        }
    }
}

size_t engine_event_match(struct engine_ctx *c, const uint32_t **rules)
{
    c->counters.events++;
    c->nmatched = 0;
    *rules = c->matched;
    const struct route_class *cls = route(c); /* also sets route_key */
    if (!cls || cls->hidden_only)
        c->counters.unrouted++; /* no rule of the user's reads it (behaviour's may) */
    if (!cls)
        return 0;
    /* Stamps are per event, so a pattern checked in any group may use the
     * atoms seen by every group's scan; scan all groups first. */
    engine_scan(c, cls);
    uint16_t view = 0;
    for (uint32_t gi = 0; gi < cls->ngroups; gi++) {
        const struct rule_group *g = &c->rs->groups[cls->group[gi]];
        c->counters.candidates += g->n - g->nhidden;
        uint64_t *hits = c->hits + c->group_off[cls->group[gi]];
        if (!g->ndbs || !c->atoms_valid)
            memset(hits, g->ndbs ? 0xff : 0, 2 * g->nwords * sizeof(*hits)); /* no scan: run everything gated */
        if (cls->rset[gi] != view) {
            view = cls->rset[gi];
            set_view(c, view);
        }
        const uint64_t *hits_b = hits + g->nwords;
        for (uint32_t w = 0; w < g->nwords; w++) {
            uint64_t bits = (hits[w] | g->ungated[w]) & (hits_b[w] | g->one_set[w]);
            /* A candidate's first read, its root node (with its test's
             * first fields, snapshot.c), is mostly a cache miss: ask for
             * every one of the word's now, so that they come in together
             * rather than one after another's evaluation. */
            for (uint64_t ahead = bits; ahead; ahead &= ahead - 1) {
                uint32_t e = w * 64 + (uint32_t)__builtin_ctzll(ahead);
                if (e >= g->n)
                    break;
                __builtin_prefetch((const void *)(g->root[e] & ~(uintptr_t)1));
            }
            while (bits) {
                uint32_t e = w * 64 + (uint32_t)__builtin_ctzll(bits);
                bits &= bits - 1;
                if (e >= g->n)
                    break;
                c->counters.evaluated++;
                uint32_t r = g->rule[e];
                uintptr_t root = g->root[e];
                uint32_t hit = UINT32_MAX;
                if (g->ungated[w] >> (e & 63) & 1 && !(root & 1)) {
                    const struct byte_gate *bg = rule_gate(c, r, (const struct pnode *)root);
                    if (bg && !gate_open(c, bg)) {
                        c->counters.byte_gated++;
                        continue;
                    }
                }
                if (!(root & 1))
                    hit = eval(c, (const struct pnode *)root) ? r : UINT32_MAX;
                else if (eval3(c, (const struct pnode *)(root & ~(uintptr_t)1)) != V_FALSE)
                    hit = r | ENGINE_DEFERRED;
                if (__builtin_expect(c->re_limited, 0))
                    note_re_limited(c, r);
                if (hit != UINT32_MAX) {
                    if (c->nmatched == c->matched_cap)
                        XGROW(c->matched, c->matched_cap, c->nmatched + 1);
                    c->matched[c->nmatched++] = hit;
                }
            }
        }
    }
    if (view)
        set_view(c, 0);
    *rules = c->matched;
    return c->nmatched;
}

bool engine_eval_rule(struct engine_ctx *c, uint32_t rule)
{
    const struct stoat_ruleset *rs = c->rs;
    const struct route_class *cls = route(c);
    uint16_t view = 0;
    for (uint32_t gi = 0; cls && gi < cls->ngroups; gi++)
        if (cls->group[gi] == rs->rules[rule].group)
            view = cls->rset[gi];
    c->atoms_valid = false; /* no scan: no pattern may skip itself */
    if (view)
        set_view(c, view);
    bool ok = eval(c, rs->rules[rule].prog.root);
    if (c->re_limited)
        note_re_limited(c, rule);
    if (view)
        set_view(c, 0);
    return ok;
}
