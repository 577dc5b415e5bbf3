/* See chains.h.
 *
 * Joining: records are fed in event time. A record joins the open chain of
 * its host and key (session or tree) when it is within the gap of that
 * chain's last alert; a record with a key and no chain of its own takes over
 * the host's open chain without a key (a correlation's alert, a script block
 * log came first); a record without a key joins the host's chain that was
 * active last. A chain closes when event time has moved a gap past its last
 * alert, or at the end; closed chains become incidents, oldest first, when
 * their score reaches the threshold.
 *
 * The score follows how far the chain got along the intrusion an analyst
 * fears here (discovery, then credentials, then collection and staging, then
 * exfiltration or command and control), with smaller weight for the steps in
 * between and for the rules' levels, so that routine administration (a few
 * discovery commands, a night's backup) stays below the line while one
 * intruder's evening crosses it. Exfiltration and command and control count
 * only where the judge found evidence; a rule's tag alone claims neither.
 * Informational alerts never reach here.
 *
 * Order: a record that arrives after later ones were chained (live: beyond
 * the lateness; offline: in a later batch) joins an open chain when it is
 * within the gap of that chain's span, else it starts a chain of its own. */
#include "behaviour/chains.h"

#include <stdlib.h>
#include <string.h>

#include "behaviour/quiet.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/sorted.h"
#include "util/strmap.h"
#include "util/text.h"

/* Tactics as kill-chain steps. The first five are the story's stages. */
enum tactic {
    T_DISCOVERY,
    T_CREDENTIAL,
    T_COLLECTION,
    T_EXFIL,
    T_C2,
    T_RECON,
    T_INITIAL,
    T_EXECUTION,
    T_PERSISTENCE,
    T_PRIVESC,
    T_EVASION,
    T_LATERAL,
    T_IMPACT,
    T_COUNT
};
_Static_assert(T_COUNT == CHAIN_TACTICS, "chains.h names the tactic count");
_Static_assert(T_DISCOVERY < CHAIN_TIMED_TACTICS && T_CREDENTIAL < CHAIN_TIMED_TACTICS &&
                   T_COLLECTION < CHAIN_TIMED_TACTICS && T_EXFIL >= CHAIN_TIMED_TACTICS,
               "a tally times the story's tactics the rules claim, and only those");

static const struct {
    const char *name; /* as in attack.<name> tags, hyphenated */
    int order;        /* kill-chain position, for output */
    int points;
} tactics[T_COUNT] = {
    [T_RECON] = {"reconnaissance", 0, 3},
    [T_INITIAL] = {"initial-access", 1, 5},
    [T_EXECUTION] = {"execution", 2, 4},
    [T_PERSISTENCE] = {"persistence", 3, 5},
    [T_PRIVESC] = {"privilege-escalation", 4, 5},
    [T_EVASION] = {"defense-evasion", 5, 4},
    [T_CREDENTIAL] = {"credential-access", 6, 20},
    [T_DISCOVERY] = {"discovery", 7, 10},
    [T_LATERAL] = {"lateral-movement", 8, 8},
    [T_COLLECTION] = {"collection", 9, 20},
    [T_C2] = {"command-and-control", 10, 15},
    [T_EXFIL] = {"exfiltration", 11, 25},
    [T_IMPACT] = {"impact", 12, 10},
};

/* The tactics in kill-chain order (tactics[].order's inverse): a chain's
 * score names them so, and a scan per position cost some 1,700
 * instructions a chain (test_chains checks the two agree). */
static const enum tactic by_order[T_COUNT] = {T_RECON,   T_INITIAL,    T_EXECUTION, T_PERSISTENCE, T_PRIVESC,
                                              T_EVASION, T_CREDENTIAL, T_DISCOVERY, T_LATERAL,     T_COLLECTION,
                                              T_C2,      T_EXFIL,      T_IMPACT};

/* what the rule tags may claim by themselves */
#define CLAIMED_BY_EVIDENCE ((1u << T_EXFIL) | (1u << T_C2))
#define IN_ORDER_BONUS      10

/* XGROW with the check in line: a chain's arrays grow by a record at a
 * time, and the call per record (mostly to find room) added up. */
#define GROW_BY_ONE(arr, n, cap)      \
    do {                              \
        if ((n) + 1 > (cap))          \
            XGROW(arr, cap, (n) + 1); \
    } while (0)

#define RULE_MEMO       1024 /* chains_rule's memo: more slots than the rules an attack's alerts name */
#define CHAIN_MAX_RULES 256  /* distinct rules counted per chain */
#define CHAIN_MAX_PROCS 512  /* distinct processes asked about per chain */

struct rule_info {
    char *id, *title;
    enum stoat_level level;
    uint32_t tactic_mask;
    uint64_t tie_hash; /* of the title, seeded with the level: its part of a record's tie */
};

struct rule_count {
    uint32_t rule;
    uint64_t n;
};

/* A chain's lists keep their first item in place (cap 0: that one only)
 * and go to the heap with the second: most chains hold one alert of one
 * rule and process, and three arrays of eight items were most of a chain's
 * memory, touched fresh. No pointer into the chain itself: chains move. */
union ids {
    uint64_t *heap;
    uint64_t one;
};
union rule_counts {
    struct rule_count *heap;
    struct rule_count one;
};

/* Three cache lines, no padding (an attack's records open tens of
 * thousands, each fresh memory); what finding a chain for a record reads
 * (key and span) in the first. */
struct chain {
    uint64_t key;
    int64_t span_lo, span_hi;      /* of the records' times (stand-ins included), for joining */
    int64_t first_ns, last_ns;     /* of the alerts with a time; INT64_MIN: none */
    uint64_t first_tie, first_seq; /* of its first record: ties between chains starting together */
    uint64_t total;                /* alerts joined, listed or not */
    union ids alerts, procs;
    union rule_counts rules;
    uint32_t host;
    uint32_t nalerts, acap, nprocs, pcap, nrules, rcap;
    bool mixed_logons;
    char logon[CHAIN_LOGON_MAX];
    struct chain_tally tally; /* tactics reached, distinct rules per level */
};
_Static_assert(sizeof(struct chain) == 192, "a chain is three cache lines");

/* The chains' lists past their first item, in blocks of LIST_MIN << k bytes
 * kept for the next list when freed: lists are made and freed by the
 * thousand (an attack's chains mostly hold two to eight alerts), and a
 * malloc, realloc and free for each were a good part of chaining. Lists
 * longer than the largest class go to malloc. */
#define LIST_MIN     32
#define LIST_CLASSES 8 /* up to 4 KiB */
#define LIST_SLAB    (64 * 1024)

struct list_pool {
    void *free[LIST_CLASSES]; /* each block's first bytes: the next free one */
    char *slab;               /* carved from its end */
    size_t slab_left;
    void **slabs;
    size_t nslabs, slabs_cap;
};

/* A kept record: a chain_alert in 64 bytes (88 as one). Its time is when,
 * unless !timed. Its session is a kept logon, one of the pending records'
 * (kept once for all the records naming it, found again by the record's
 * key, so at most one a record): the cap counts each record with one
 * (PEND_BYTES, the 88 a record took), so it keeps as many as before. */
struct pend {
    uint64_t id;
    int64_t when; /* the time, or the last one before it in input order */
    uint64_t key, proc;
    uint64_t tie; /* equal times: by what the record says, not where it came in (see tie_pending) */
    uint64_t seq; /* input order */
    uint32_t host, rule;
    uint32_t logon; /* 1 + its index in the kept logons, 0: none */
    bool timed;     /* when is the alert's own time (its time_ns was known) */
};
typedef char kept_logon[CHAIN_LOGON_MAX];
#define PEND_BYTES (sizeof(struct pend) + sizeof(kept_logon))
/* logons_keep_pending's mark: a kept logon's last byte, else always 0 */
#define LOGON_MARK (CHAIN_LOGON_MAX - 1)
_Static_assert(sizeof(struct pend) == 64 && PEND_BYTES == 88, "the cap keeps as many records as before");
#define RECENT_LOGONS 1024

/* strncmp(x, y, CHAIN_LOGON_MAX) == 0, without its call when the bytes
 * are the same (a kept copy of the other: the usual case) */
static bool same_logon(const char *x, const char *y)
{
    return memcmp(x, y, sizeof(kept_logon)) == 0 || strncmp(x, y, sizeof(kept_logon)) == 0;
}

struct chains {
    struct chains_opts o;
    struct chains_out out;
    struct strmap host_ids;
    char **hosts;
    size_t nhosts, hosts_cap;
    struct strmap rule_ids;
    struct rule_info *rules;
    size_t nrules, rules_cap;
    /* 1 + the id chains_rule gave last for a rule whose meta's address
     * falls in the slot (0: none), checked against the rule before use */
    uint32_t rule_memo[RULE_MEMO];
    struct pend *pending;
    size_t npending, pending_cap, max_pending;
    size_t ntied;       /* the first pending records whose tie is set */
    kept_logon *logons; /* the pending records' sessions (pend.logon) */
    size_t nlogons, logons_cap;
    /* 1 + the index of a kept logon by its record's key (a session's hash
     * when it names one), 0: none; a hint, checked before use */
    uint32_t recent_logon[RECENT_LOGONS];
    bool pending_mapped; /* pending is xcalloc_big's, max_pending long */
    uint64_t seq;
    int64_t last_time; /* the last known time in input order */
    int64_t fed_upto;  /* records up to this time have been chained (INT64_MIN: none) */
    /* per host (its id): the newest time chained, and no open chain of the
     * host closes before its clock passes soon. A host whose events run
     * hours behind another's (a fleet worker reads many) has its own time. */
    struct host_clock {
        int64_t clock, soon;
        uint64_t tie_hash; /* of the host's name: its part of a record's tie */
        /* where the host's open chains are in open[], ascending: joining and
         * closing visit them in the order a scan of all open chains would
         * (so the same chain is chosen), without that scan per record */
        uint32_t *pos;
        size_t npos, pos_cap;
        struct quiet_clock q; /* chains_quiet's */
    } * hc;
    size_t hc_cap;
    /* *_mapped: the array is xmap_huge's, that many bytes (0: malloc's) */
    struct chain *open;
    size_t nopen, open_cap, open_mapped;
    struct chain *done; /* closed, waiting to be reported oldest first */
    size_t ndone, done_cap, done_mapped;
    uint64_t next_incident;
    bool prepared; /* chains_finish_prepare ran, chains_finish not yet */
    struct list_pool lists;
    struct chains_stats st;
};

/* The class of a list of n bytes (a power of two from LIST_MIN), or
 * LIST_CLASSES past the largest. */
static unsigned list_class(size_t n)
{
    unsigned k = 0;
    while (k < LIST_CLASSES && (size_t)LIST_MIN << k < n)
        k++;
    return k;
}

static void *list_get(struct list_pool *p, size_t n)
{
    unsigned k = list_class(n);
    if (k == LIST_CLASSES)
        return xmalloc(n);
    void *b = p->free[k];
    if (b) {
        memcpy(&p->free[k], b, sizeof(void *));
        return b;
    }
    size_t size = (size_t)LIST_MIN << k;
    if (p->slab_left < size) {
        XGROW(p->slabs, p->slabs_cap, p->nslabs + 1);
        p->slab = p->slabs[p->nslabs++] = xmalloc(LIST_SLAB);
        p->slab_left = LIST_SLAB;
    }
    p->slab_left -= size;
    return p->slab + p->slab_left;
}

static void list_put(struct list_pool *p, void *b, size_t n)
{
    unsigned k = list_class(n);
    if (k == LIST_CLASSES) {
        free(b);
        return;
    }
    memcpy(b, &p->free[k], sizeof(void *));
    p->free[k] = b;
}

/* A list of n bytes (its first used ones) made room for want. */
static void *list_grow(struct list_pool *p, void *b, size_t used, size_t n, size_t want)
{
    if (list_class(n) == LIST_CLASSES)
        return xrealloc(b, want);
    void *nb = list_get(p, want);
    memcpy(nb, b, used);
    list_put(p, b, n);
    return nb;
}

/* a + b, saturating: event times come from the logs and may be anywhere in int64 */
static int64_t add_sat(int64_t a, int64_t b)
{
    if (b > 0 && a > INT64_MAX - b)
        return INT64_MAX;
    if (b < 0 && a < INT64_MIN - b)
        return INT64_MIN;
    return a + b;
}

struct chains *chains_create(const struct chains_opts *o, const struct chains_out *out)
{
    struct chains *c = xcalloc(1, sizeof(*c));
    c->o = *o;
    if (c->o.gap_ns < 0)
        c->o.gap_ns = 0;
    if (out)
        c->out = *out;
    size_t bytes = c->o.max_bytes ? c->o.max_bytes : (size_t)64 << 20;
    c->max_pending = bytes / PEND_BYTES;
    if (c->max_pending < 16)
        c->max_pending = 16;
    strmap_init(&c->host_ids);
    strmap_init(&c->rule_ids);
    c->last_time = c->fed_upto = INT64_MIN;
    return c;
}

static void chains_array_free(struct chain *arr, size_t mapped)
{
    if (mapped)
        xunmap_huge(arr, mapped);
    else
        free(arr);
}

/* Room for need chains in *arr (n in use), grown by doubling. */
static void chains_room(struct chain **arr, size_t *cap, size_t *mapped, size_t n, size_t need)
{
    if (need <= *cap)
        return;
    if (!*mapped) {
        XGROW(*arr, *cap, need);
        return;
    }
    /* a mapping is not realloc's: onto the heap, as one that grew there */
    size_t ncap = *cap * 2 < need ? need : *cap * 2;
    struct chain *p = xmalloc(ncap * sizeof(*p));
    if (n)
        memcpy(p, *arr, n * sizeof(*p));
    xunmap_huge(*arr, *mapped);
    *arr = p;
    *cap = ncap;
    *mapped = 0;
}

static void chain_free(struct chains *c, struct chain *ch)
{
    if (ch->acap)
        list_put(&c->lists, ch->alerts.heap, ch->acap * sizeof(*ch->alerts.heap));
    if (ch->rcap)
        list_put(&c->lists, ch->rules.heap, ch->rcap * sizeof(*ch->rules.heap));
    if (ch->pcap)
        list_put(&c->lists, ch->procs.heap, ch->pcap * sizeof(*ch->procs.heap));
    memset(ch, 0, sizeof(*ch));
}

void chains_destroy(struct chains *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nopen; i++)
        chain_free(c, &c->open[i]);
    for (size_t i = 0; i < c->ndone; i++)
        chain_free(c, &c->done[i]);
    chains_array_free(c->open, c->open_mapped);
    chains_array_free(c->done, c->done_mapped);
    if (c->pending_mapped)
        xfree_big(c->pending, c->pending_cap, sizeof(*c->pending));
    else
        free(c->pending);
    free(c->logons);
    for (size_t i = 0; i < c->nhosts; i++)
        free(c->hosts[i]);
    free(c->hosts);
    for (size_t i = 0; i < c->nhosts; i++)
        free(c->hc[i].pos);
    free(c->hc);
    for (size_t i = 0; i < c->nrules; i++) {
        free(c->rules[i].id);
        free(c->rules[i].title);
    }
    free(c->rules);
    strmap_free(&c->host_ids);
    strmap_free(&c->rule_ids);
    for (size_t i = 0; i < c->lists.nslabs; i++)
        free(c->lists.slabs[i]);
    free(c->lists.slabs);
    free(c);
}

uint32_t chains_host_find(const struct chains *c, const char *name)
{
    uint32_t id;
    return strmap_get(&c->host_ids, name, strlen(name), &id) ? id : CHAINS_NO_HOST;
}

uint32_t chains_host(struct chains *c, const char *name)
{
    uint32_t id = strmap_put(&c->host_ids, name, strlen(name), (uint32_t)c->nhosts);
    if (id == c->nhosts) {
        XGROW(c->hosts, c->hosts_cap, c->nhosts + 1);
        XGROW(c->hc, c->hc_cap, c->nhosts + 1);
        c->hc[c->nhosts] =
            (struct host_clock){.clock = INT64_MIN, .soon = INT64_MAX, .tie_hash = hash_bytes(name, strlen(name), 1)};
        c->hosts[c->nhosts++] = xstrdup(name);
    }
    return id;
}

/* The tactics by their names' first letter, as 1 + enum tactic (0 after
 * the last): a name is compared with the one to three of its letter, not
 * looked for among all (asked for every alert). */
static const uint8_t tactics_of_letter[26][4] = {
    ['c' - 'a'] = {1 + T_CREDENTIAL, 1 + T_COLLECTION, 1 + T_C2},
    ['d' - 'a'] = {1 + T_DISCOVERY, 1 + T_EVASION},
    ['e' - 'a'] = {1 + T_EXECUTION, 1 + T_EXFIL},
    ['i' - 'a'] = {1 + T_INITIAL, 1 + T_IMPACT},
    ['l' - 'a'] = {1 + T_LATERAL},
    ['p' - 'a'] = {1 + T_PERSISTENCE, 1 + T_PRIVESC},
    ['r' - 'a'] = {1 + T_RECON},
};

static int tactic_of(const char *name)
{
    unsigned letter = (unsigned)(unsigned char)name[0] - 'a';
    if (letter >= 26)
        return -1;
    for (const uint8_t *t = tactics_of_letter[letter]; *t; t++)
        if (strcmp(tactics[*t - 1].name, name) == 0)
            return *t - 1;
    return -1;
}

/* The slot of m in rule_memo. */
static size_t memo_slot(const struct stoat_rule_meta *m)
{
    return hash_mix((uintptr_t)m) & (RULE_MEMO - 1);
}

/* The id chains_rule gave m's rule before, found without building its key
 * (asked for every alert): the meta at that address last time names the
 * same id, title and level, as the rule kept, or UINT32_MAX. A meta
 * without id or title takes the key's way ("?" stands in for no title). */
static uint32_t rule_memo(const struct chains *c, const struct stoat_rule_meta *m)
{
    uint32_t v = c->rule_memo[memo_slot(m)];
    if (!v || !m->id || !m->title)
        return UINT32_MAX;
    const struct rule_info *ri = &c->rules[v - 1];
    if (ri->level != m->level || !ri->id || strcmp(ri->id, m->id) != 0 || strcmp(ri->title, m->title) != 0)
        return UINT32_MAX;
    return v - 1;
}

uint32_t chains_rule(struct chains *c, const struct stoat_rule_meta *m)
{
    uint32_t known = rule_memo(c, m);
    if (known != UINT32_MAX)
        return known;
    uint32_t id = chains_rule_by_key(c, m);
    if (m->id && m->title)
        c->rule_memo[memo_slot(m)] = id + 1;
    return id;
}

uint32_t chains_rule_by_key(struct chains *c, const struct stoat_rule_meta *m)
{
    /* id, title and level, each ended by a NUL; on the stack when it fits */
    size_t il = m->id ? strlen(m->id) : 0, tl = m->title ? strlen(m->title) : 0, n = il + 1 + tl + 1 + 1;
    char small[512], *k = n <= sizeof(small) ? small : xmalloc(n);
    if (il)
        memcpy(k, m->id, il);
    k[il] = 0;
    if (tl)
        memcpy(k + il + 1, m->title, tl);
    k[il + 1 + tl] = 0;
    k[n - 1] = (char)('0' + m->level);
    uint32_t id = strmap_put(&c->rule_ids, k, n, (uint32_t)c->nrules);
    if (k != small)
        free(k);
    if (id != c->nrules)
        return id;
    uint32_t mask = chain_tactics_of((const char *const *)m->attack_tactics.items, m->attack_tactics.n);
    XGROW(c->rules, c->rules_cap, c->nrules + 1);
    c->rules[c->nrules++] = (struct rule_info){.id = m->id ? xstrdup(m->id) : NULL,
                                               .title = xstrdup(m->title ? m->title : "?"),
                                               .level = m->level,
                                               .tactic_mask = mask};
    const char *title = c->rules[id].title;
    c->rules[id].tie_hash = hash_bytes(title, strlen(title), m->level);
    return id;
}

/* ------------------------------------------------------------- scoring */

void chain_tally_init(struct chain_tally *t)
{
    memset(t, 0, sizeof(*t));
    for (int k = 0; k < CHAIN_TIMED_TACTICS; k++)
        t->first[k] = INT64_MAX;
}

uint32_t chain_tactics_of(const char *const *names, size_t n)
{
    uint32_t mask = 0;
    for (size_t i = 0; i < n; i++) {
        int t = names[i] ? tactic_of(names[i]) : -1;
        if (t >= 0)
            mask |= 1u << t;
    }
    return mask;
}

void chain_tally_add(struct chain_tally *t, uint32_t tmask, enum stoat_level level, int64_t when, bool new_rule)
{
    if (new_rule && level < STOAT_LEVEL_COUNT && t->by_level[level] < UINT16_MAX)
        t->by_level[level]++;
    t->mask |= tmask & ((1u << T_COUNT) - 1);
    /* the timed ones only: most alerts name one or two tactics */
    for (uint32_t m = tmask & ((1u << CHAIN_TIMED_TACTICS) - 1); m; m &= m - 1) {
        int tac = __builtin_ctz(m);
        if (when < t->first[tac])
            t->first[tac] = when;
    }
}

void chain_tally_lateral(struct chain_tally *t, int64_t when)
{
    chain_tally_add(t, 1u << T_LATERAL, STOAT_LEVEL_INFORMATIONAL, when, false);
}

/* The tactics a chain reached: its rules' tags, but exfiltration and command
 * and control only where the evidence shows them. */
static uint32_t claimed_mask(const struct chain_tally *ta, const struct chain_claims *cl, int64_t last_ns,
                             int64_t first[T_COUNT])
{
    uint32_t mask = ta->mask & ~CLAIMED_BY_EVIDENCE;
    for (int k = 0; k < T_COUNT; k++)
        first[k] = k < CHAIN_TIMED_TACTICS ? ta->first[k] : INT64_MAX; /* the score reads the story's alone */
    if (cl->exfil) {
        mask |= 1u << T_EXFIL;
        first[T_EXFIL] = cl->exfil_ns != INT64_MIN ? cl->exfil_ns : last_ns;
    }
    if (cl->c2) {
        mask |= 1u << T_C2;
        first[T_C2] = cl->c2_ns != INT64_MIN ? cl->c2_ns : last_ns;
    }
    return mask;
}

static double chain_score(const struct chain_tally *ta, uint32_t mask, const int64_t first[T_COUNT])
{
    double s = 0, between = 0;
    /* the set bits only (whole points: their order adds up the same) */
    for (uint32_t m = mask & ((1u << T_COUNT) - 1); m; m &= m - 1) {
        int t = __builtin_ctz(m);
        if (t <= T_C2)
            s += tactics[t].points;
        else
            between += tactics[t].points;
    }
    s += between > 15 ? 15 : between;
    /* the story in order: discovery before credentials before collection
     * before the data leaves */
    static const int story[] = {T_DISCOVERY, T_CREDENTIAL, T_COLLECTION, T_EXFIL};
    int in_order = 0;
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < 4; i++) {
        int t = story[i];
        if (!(mask & (1u << t)))
            continue;
        if (first[t] >= prev) {
            in_order++;
            prev = first[t];
        }
    }
    if (in_order >= 3)
        s += IN_ORDER_BONUS;
    double lv = 0;
    const uint16_t *by = ta->by_level;
    if (by[STOAT_LEVEL_CRITICAL])
        lv += 15;
    lv += by[STOAT_LEVEL_HIGH] * 4.0 > 16 ? 16 : by[STOAT_LEVEL_HIGH] * 4.0;
    lv += by[STOAT_LEVEL_MEDIUM] > 5 ? 5 : by[STOAT_LEVEL_MEDIUM];
    s += lv;
    return s > 100 ? 100 : s;
}

double chain_tally_score(const struct chain_tally *t, const struct chain_claims *cl, int64_t last_ns,
                         const char **names, size_t *nnames, uint32_t *mask_out)
{
    int64_t first[T_COUNT];
    uint32_t mask = claimed_mask(t, cl, last_ns, first);
    /* the tactics as kill-chain positions, then those in order: set bits
     * only, where a look at every position was most of a chain's score */
    uint32_t at = 0;
    for (uint32_t m = mask & ((1u << T_COUNT) - 1); m; m &= m - 1)
        at |= 1u << tactics[__builtin_ctz(m)].order;
    size_t nt = 0;
    for (; at; at &= at - 1)
        names[nt++] = tactics[by_order[__builtin_ctz(at)]].name;
    *nnames = nt;
    if (mask_out)
        *mask_out = mask;
    return chain_score(t, mask, first);
}

/* -------------------------------------------------------------- chains */

static uint64_t *ids_of(union ids *u, uint32_t cap)
{
    return cap ? u->heap : &u->one;
}

static struct rule_count *rules_of(union rule_counts *u, uint32_t cap)
{
    return cap ? u->heap : &u->one;
}

/* Room for item n (cap as union ids says); returns where it goes. Inlined:
 * called for most alerts at the end, with the item's size known there. */
static inline __attribute__((always_inline)) void *room_for_item(struct chains *c, void **heap, void *one, size_t esz,
                                                                 uint32_t n, uint32_t *cap)
{
    if (n == 0 && *cap == 0)
        return one;
    if (*cap == 0) { /* the one in place moves out with the second */
        void *p = list_get(&c->lists, 4 * esz);
        memcpy(p, one, esz);
        *heap = p; /* over the one: copied first */
        *cap = 4;
    } else if (n == *cap) {
        *heap = list_grow(&c->lists, *heap, (size_t)n * esz, (size_t)*cap * esz, (size_t)*cap * 2 * esz);
        *cap *= 2;
    }
    return (char *)*heap + (size_t)n * esz;
}

static void ids_push(struct chains *c, union ids *u, uint32_t *n, uint32_t *cap, uint64_t v)
{
    uint64_t *at = room_for_item(c, (void **)&u->heap, &u->one, sizeof(v), *n, cap);
    *at = v;
    ++*n;
}

static void chain_add_proc(struct chains *c, struct chain *ch, uint64_t proc)
{
    if (!proc || ch->nprocs >= CHAIN_MAX_PROCS)
        return;
    const uint64_t *procs = ids_of(&ch->procs, ch->pcap);
    for (size_t i = 0; i < ch->nprocs; i++)
        if (procs[i] == proc)
            return;
    ids_push(c, &ch->procs, &ch->nprocs, &ch->pcap, proc);
}

/* logon: the record's session (CHAIN_LOGON_MAX bytes), NULL: none */
static void chain_join(struct chains *c, struct chain *ch, const struct pend *p, const char *logon)
{
    int64_t t = p->timed ? p->when : INT64_MIN;
    if (t != INT64_MIN) {
        if (ch->first_ns == INT64_MIN || t < ch->first_ns)
            ch->first_ns = t;
        if (ch->last_ns == INT64_MIN || t > ch->last_ns)
            ch->last_ns = t;
    }
    if (p->when < ch->span_lo)
        ch->span_lo = p->when;
    if (p->when > ch->span_hi)
        ch->span_hi = p->when;
    ch->total++;
    if (ch->nalerts < c->o.max_alerts && ch->nalerts < UINT32_MAX)
        ids_push(c, &ch->alerts, &ch->nalerts, &ch->acap, p->id);
    const struct rule_info *ri = &c->rules[p->rule];
    struct rule_count *rules = rules_of(&ch->rules, ch->rcap);
    size_t k = 0;
    while (k < ch->nrules && rules[k].rule != p->rule)
        k++;
    bool new_rule = false;
    if (k < ch->nrules) {
        rules[k].n++;
    } else if (ch->nrules < CHAIN_MAX_RULES) {
        struct rule_count *at =
            room_for_item(c, (void **)&ch->rules.heap, &ch->rules.one, sizeof(*at), ch->nrules, &ch->rcap);
        *at = (struct rule_count){.rule = p->rule, .n = 1};
        ch->nrules++;
        new_rule = true;
    }
    chain_tally_add(&ch->tally, ri->tactic_mask, ri->level, p->when, new_rule);
    if (logon && logon[0] && !ch->mixed_logons) {
        if (!ch->logon[0])
            memcpy(ch->logon, logon, sizeof(ch->logon));
        else if (!same_logon(ch->logon, logon))
            ch->mixed_logons = true;
    }
    chain_add_proc(c, ch, p->proc);
    int64_t close_at = add_sat(ch->span_hi, c->o.gap_ns);
    if (close_at < c->hc[ch->host].soon)
        c->hc[ch->host].soon = close_at;
}

/* Position p (of a chain in open[]) into host h's list, in order. */
static void pos_add(struct host_clock *h, uint32_t p)
{
    GROW_BY_ONE(h->pos, h->npos, h->pos_cap);
    size_t k = h->npos++;
    for (; k > 0 && h->pos[k - 1] > p; k--)
        h->pos[k] = h->pos[k - 1];
    h->pos[k] = p;
}

static void pos_del(struct host_clock *h, uint32_t p)
{
    size_t k = 0;
    while (k < h->npos && h->pos[k] != p)
        k++;
    if (k == h->npos)
        return;
    memmove(h->pos + k, h->pos + k + 1, (h->npos - k - 1) * sizeof(*h->pos));
    h->npos--;
}

static struct chain *chain_new(struct chains *c, const struct pend *p)
{
    pos_add(&c->hc[p->host], (uint32_t)c->nopen);
    if (c->nopen + 1 > c->open_cap)
        chains_room(&c->open, &c->open_cap, &c->open_mapped, c->nopen, c->nopen + 1);
    struct chain *ch = &c->open[c->nopen++];
    memset(ch, 0, sizeof(*ch));
    ch->host = p->host;
    ch->key = p->key;
    ch->first_ns = ch->last_ns = INT64_MIN;
    ch->span_lo = ch->span_hi = p->when;
    ch->first_tie = p->tie;
    ch->first_seq = p->seq;
    chain_tally_init(&ch->tally);
    return ch;
}

/* t within the gap of the chain's span (later alerts: of its last one) */
static bool within(const struct chains *c, const struct chain *ch, int64_t t)
{
    return t <= add_sat(ch->span_hi, c->o.gap_ns) && t >= add_sat(ch->span_lo, -c->o.gap_ns);
}

/* Moves open chain i to the closed ones (the last open chain takes its place). */
static void chain_close(struct chains *c, size_t i)
{
    size_t last = c->nopen - 1;
    pos_del(&c->hc[c->open[i].host], (uint32_t)i);
    if (i != last) {
        struct host_clock *moved = &c->hc[c->open[last].host];
        pos_del(moved, (uint32_t)last);
        pos_add(moved, (uint32_t)i);
    }
    chains_room(&c->done, &c->done_cap, &c->done_mapped, c->ndone, c->ndone + 1);
    c->done[c->ndone++] = c->open[i];
    c->open[i] = c->open[last];
    c->nopen--;
    c->st.chains++;
}

/* Closes the chains of host h that can no longer grow now that its time
 * reached t. */
static void sweep(struct chains *c, uint32_t h, int64_t t)
{
    struct host_clock *hc = &c->hc[h];
    if (t == INT64_MIN || t <= hc->soon)
        return;
    hc->soon = INT64_MAX;
    /* a closed chain's place takes the last open one: looked at next, as
     * in a scan of all (the host's list then holds the same index at k) */
    for (size_t k = 0; k < hc->npos;) {
        size_t i = hc->pos[k];
        int64_t close_at = add_sat(c->open[i].span_hi, c->o.gap_ns);
        if (t > close_at) {
            chain_close(c, i);
            continue;
        }
        if (close_at < hc->soon)
            hc->soon = close_at;
        k++;
    }
}

/* Host h's time reached t (when later than its clock); its chains that can
 * no longer grow close. */
static void host_time(struct chains *c, uint32_t h, int64_t t)
{
    if (t > c->hc[h].clock)
        c->hc[h].clock = t;
    sweep(c, h, c->hc[h].clock);
}

static struct chain *find_chain(struct chains *c, const struct pend *a, int64_t t)
{
    struct chain *keyless = NULL, *latest = NULL;
    const struct host_clock *hc = &c->hc[a->host];
    for (size_t k = 0; k < hc->npos; k++) {
        struct chain *ch = &c->open[hc->pos[k]];
        if (!within(c, ch, t))
            continue;
        if (a->key && ch->key == a->key)
            return ch;
        if (!ch->key && (!keyless || ch->span_hi > keyless->span_hi))
            keyless = ch;
        if (!latest || ch->span_hi > latest->span_hi)
            latest = ch;
    }
    if (a->key) {
        if (keyless)
            keyless->key = a->key; /* the session or tree it was about, now known */
        return keyless;
    }
    return latest;
}

static void feed(struct chains *c, const struct pend *p, const char *logon)
{
    if (p->when != INT64_MIN && p->when < c->hc[p->host].clock)
        c->st.late++;
    host_time(c, p->host, p->when);
    c->hc[p->host].q.active = true;
    struct chain *ch = find_chain(c, p, p->when);
    if (!ch)
        ch = chain_new(c, p);
    chain_join(c, ch, p, logon);
}

/* ------------------------------------------------------------ incidents */

static int cmp_done(const void *x, const void *y)
{
    const struct chain *a = x, *b = y;
    if (a->span_lo != b->span_lo)
        return a->span_lo < b->span_lo ? -1 : 1;
    if (a->first_tie != b->first_tie)
        return a->first_tie < b->first_tie ? -1 : 1;
    return a->first_seq < b->first_seq ? -1 : a->first_seq > b->first_seq;
}

void chain_story(struct buf *b, uint32_t mask, const char *const *names, size_t nnames)
{
    static const int story[] = {T_DISCOVERY, T_CREDENTIAL, T_COLLECTION, T_EXFIL, T_C2};
    static const char *const label[] = {"discovery", "credential access", "collection", "exfiltration",
                                        "command and control"};
    bool any = false;
    for (size_t k = 0; k < 5; k++)
        if (mask & (1u << story[k])) {
            if (any)
                buf_put(b, " -> ", 4);
            buf_puts(b, label[k]);
            any = true;
        }
    if (!any)
        buf_puts(b, nnames ? names[0] : "suspicious activity");
}

static void report(struct chains *c, struct chain *ch)
{
    struct chain_claims cl = {.exfil_ns = INT64_MIN, .c2_ns = INT64_MIN};
    if (c->out.judge && ch->nprocs)
        c->out.judge(c->out.ctx, ch->host, ids_of(&ch->procs, ch->pcap), ch->nprocs, &cl);
    const char *names[T_COUNT];
    size_t nt = 0;
    uint32_t mask;
    double score = chain_tally_score(&ch->tally, &cl, ch->last_ns, names, &nt, &mask);
    if (score < c->o.min_score || !c->out.incident)
        return;
    const char *host = c->hosts[ch->host];
    struct buf title = {0};
    /* pieces put, not printf'd: a hunt's every incident has a title */
    buf_puts(&title, host);
    buf_put(&title, ": ", 2);
    chain_story(&title, mask, names, nt);
    buf_put(&title, " (", 2);
    buf_put_u64(&title, ch->total);
    buf_puts(&title, " alerts, ");
    buf_put_u64(&title, ch->nrules);
    buf_puts(&title, " rules)");
    struct stoat_incident_rule *rules = xcalloc(ch->nrules ? ch->nrules : 1, sizeof(*rules));
    for (size_t i = 0; i < ch->nrules; i++) {
        const struct rule_count *rc = &rules_of(&ch->rules, ch->rcap)[i];
        const struct rule_info *ri = &c->rules[rc->rule];
        rules[i] = (struct stoat_incident_rule){.id = ri->id, .title = ri->title, .level = ri->level, .alerts = rc->n};
    }
    struct stoat_incident inc = {
        .id = ++c->next_incident,
        .host = host,
        .logon_id = ch->mixed_logons || !ch->logon[0] ? NULL : ch->logon,
        .title = title.p,
        .score = score,
        .level = score >= 80   ? STOAT_LEVEL_CRITICAL
                 : score >= 60 ? STOAT_LEVEL_HIGH
                               : STOAT_LEVEL_MEDIUM,
        .first_ns = ch->first_ns,
        .last_ns = ch->last_ns,
        .tactics = names,
        .ntactics = nt,
        .alert_ids = ids_of(&ch->alerts, ch->acap),
        .nalerts = ch->nalerts,
        .evidence = cl.evidence,
        .nevidence = cl.nevidence,
        .rules = rules,
        .nrules = ch->nrules,
    };
    c->st.incidents++;
    c->out.incident(c->out.ctx, &inc);
    free(rules);
    buf_free(&title);
}

/* Reports the closed chains, oldest first, so incident ids follow time. */
static void report_done(struct chains *c)
{
    sort_unless_sorted(c->done, c->ndone, sizeof(*c->done), cmp_done);
    for (size_t i = 0; i < c->ndone; i++) {
        report(c, &c->done[i]);
        chain_free(c, &c->done[i]);
    }
    c->ndone = 0;
}

/* -------------------------------------------------------------- records */

static int cmp_pend(const void *x, const void *y)
{
    const struct pend *a = x, *b = y;
    if (a->when != b->when)
        return a->when < b->when ? -1 : 1;
    if (a->tie != b->tie)
        return a->tie < b->tie ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Keeps only the logons the pending records name (so still at most one a
 * record): all go when none is pending (offline, after every batch), and
 * live they do not pile up behind the records chained. In place and with
 * no memory beside them, which the cap would not count: a kept logon's last
 * byte is 0 (keep_logon), so it marks the named ones; then the named ones
 * at the top move down into the slots of the others, each leaving its new
 * index where it was for the records naming it. Their order changes, which
 * nothing depends on (the hints by key go). */
static void logons_keep_pending(struct chains *c)
{
    memset(c->recent_logon, 0, sizeof(c->recent_logon));
    if (!c->npending) {
        c->nlogons = 0;
        return;
    }
    for (size_t i = 0; i < c->npending; i++)
        if (c->pending[i].logon)
            c->logons[c->pending[i].logon - 1][LOGON_MARK] = 1;
    size_t lo = 0, hi = c->nlogons; /* [0, lo) kept, [hi, nlogons) gone or moved */
    for (;;) {
        while (lo < hi && c->logons[lo][LOGON_MARK])
            c->logons[lo++][LOGON_MARK] = 0;
        while (lo < hi && !c->logons[hi - 1][LOGON_MARK])
            hi--;
        if (lo == hi)
            break;
        hi--;
        memcpy(c->logons[lo], c->logons[hi], sizeof(kept_logon));
        c->logons[lo][LOGON_MARK] = 0;
        uint32_t to = (uint32_t)++lo;
        memcpy(c->logons[hi], &to, sizeof(to));
    }
    for (size_t i = 0; i < c->npending; i++)
        if (c->pending[i].logon > lo)
            memcpy(&c->pending[i].logon, c->logons[c->pending[i].logon - 1], sizeof(c->pending[i].logon));
    c->nlogons = lo;
}

/* The record's tie: ids of hosts and rules follow input order, so their
 * names decide. */
static uint64_t tie_of(const struct chains *c, const struct pend *p)
{
    return hash_mix(p->key ^ hash_mix(p->proc)) ^ c->hc[p->host].tie_hash ^ c->rules[p->rule].tie_hash;
}

/* The ties of the records kept since the last: set just before they are
 * sorted, not as each comes in, when the host's clock (one of thousands,
 * read at random) had mostly left the cache; here in a pass that finds
 * them warm. */
static void tie_pending(struct chains *c)
{
    for (size_t i = c->ntied; i < c->npending; i++)
        c->pending[i].tie = tie_of(c, &c->pending[i]);
    c->ntied = c->npending;
}

/* Chains the kept records up to time upto, in time order. */
static void release(struct chains *c, int64_t upto)
{
    if (!c->npending)
        return;
    tie_pending(c);
    sort_unless_sorted(c->pending, c->npending, sizeof(*c->pending), cmp_pend);
    size_t n = 0;
    for (; n < c->npending && c->pending[n].when <= upto; n++) {
        const struct pend *p = &c->pending[n];
        feed(c, p, p->logon ? c->logons[p->logon - 1] : NULL);
    }
    memmove(c->pending, c->pending + n, (c->npending - n) * sizeof(*c->pending));
    c->npending -= n;
    c->ntied = c->npending;
    if (n)
        logons_keep_pending(c);
}

/* Room for one more kept record: offline, the most the cap keeps, at once
 * (a mapping touched only as it fills), where growing by doubling copied
 * the records to fresh pages again and again (an attack's every event
 * alerts, and fresh pages are dear). */
static void pending_room(struct chains *c)
{
    if (!c->pending_cap && !c->o.live && c->max_pending * sizeof(*c->pending) <= ((size_t)1 << 30)) {
        c->pending = xcalloc_big(c->max_pending, sizeof(*c->pending));
        c->pending_cap = c->max_pending;
        c->pending_mapped = true;
    }
    /* chains_add releases them all at the cap: a mapping never grows */
    if (!c->pending_mapped)
        GROW_BY_ONE(c->pending, c->npending, c->pending_cap);
}

/* The record's session as kept: an earlier one when the same (an attack's
 * alerts name a few sessions again and again), else a new one. */
static uint32_t keep_logon(struct chains *c, const struct chain_alert *a)
{
    if (!a->logon[0])
        return 0;
    uint32_t *recent = &c->recent_logon[(a->key ^ a->key >> 32) % RECENT_LOGONS];
    if (*recent && same_logon(c->logons[*recent - 1], a->logon))
        return *recent;
    XGROW(c->logons, c->logons_cap, c->nlogons + 1);
    memcpy(c->logons[c->nlogons], a->logon, sizeof(kept_logon));
    c->logons[c->nlogons++][LOGON_MARK] = 0; /* the string's end, or past it */
    return *recent = (uint32_t)c->nlogons;
}

void chains_add(struct chains *c, const struct chain_alert *a)
{
    struct pend p = {.id = a->id,
                     .key = a->key,
                     .proc = a->proc,
                     .seq = ++c->seq,
                     .host = a->host,
                     .rule = a->rule,
                     .timed = a->time_ns != INT64_MIN};
    if (a->time_ns != INT64_MIN)
        c->last_time = a->time_ns;
    p.when = a->time_ns != INT64_MIN ? a->time_ns : c->last_time;
    if (c->o.live && c->fed_upto != INT64_MIN && p.when <= c->fed_upto) {
        /* later than the lateness allowed: chained now, out of order */
        p.tie = tie_of(c, &p);
        feed(c, &p, a->logon);
        report_done(c);
        return;
    }
    if (c->npending >= c->max_pending) {
        /* the cap: chain what was kept as one batch and carry on */
        c->st.batches++;
        release(c, INT64_MAX);
        report_done(c);
    }
    pending_room(c);
    p.logon = keep_logon(c, a);
    c->pending[c->npending++] = p;
}

void chains_advance(struct chains *c, int64_t now_ns)
{
    if (!c->o.live || now_ns == INT64_MIN)
        return;
    int64_t upto = add_sat(now_ns, -(c->o.lateness_ns > 0 ? c->o.lateness_ns : 0));
    release(c, upto);
    if (upto > c->fed_upto)
        c->fed_upto = upto;
    for (uint32_t h = 0; h < c->nhosts; h++)
        host_time(c, h, upto);
    report_done(c);
}

void chains_quiet(struct chains *c, int64_t wall_ns)
{
    if (!c->o.live && c->npending) {
        c->st.batches++;
        release(c, INT64_MAX); /* what is kept is all there is for now */
    }
    int64_t to;
    for (uint32_t h = 0; h < c->nhosts; h++)
        if (quiet_look(&c->hc[h].q, wall_ns, c->hc[h].clock, &to))
            host_time(c, h, to);
    report_done(c);
}

/* Room for want chains in *arr (n in use), once: a mapping of its own,
 * whose untouched room costs nothing (the room is for the most chains the
 * records could open, some five times what an attack's do), on huge pages:
 * the chains filled it a 4 KiB fault at a time, most of a hunt's faults.
 * Small ones stay on the heap. */
static void reserve(struct chain **arr, size_t *cap, size_t *mapped, size_t n, size_t want)
{
    if (want <= *cap)
        return;
    size_t bytes = want <= SIZE_MAX / sizeof(**arr) ? want * sizeof(**arr) : 0;
    if (bytes < ((size_t)2 << 20)) {
        chains_room(arr, cap, mapped, n, want);
        return;
    }
    struct chain *p = xmap_huge(&bytes);
    if (n)
        memcpy(p, *arr, n * sizeof(*p));
    chains_array_free(*arr, *mapped);
    *arr = p;
    *cap = want;
    *mapped = bytes;
}

void chains_finish_prepare(struct chains *c)
{
    if (c->prepared)
        return;
    c->prepared = true;
    if (c->npending || !c->st.batches)
        c->st.batches++;
    /* Room for every chain the kept records can open, once: grown by
     * doubling, the chains were copied to fresh pages time and again, and
     * the first touch of a page (a fault) was most of this step's time. */
    size_t most = c->nopen + c->npending;
    reserve(&c->open, &c->open_cap, &c->open_mapped, c->nopen, most);
    reserve(&c->done, &c->done_cap, &c->done_mapped, c->ndone, c->ndone + most);
    release(c, INT64_MAX);
    /* every chain closes: all at once rather than one by one (report_done
     * sorts them by a total order, so the order they go in is no matter) */
    if (!c->ndone) {
        /* none closed before: the open ones are the closed ones, uncopied */
        struct chain *t = c->done;
        size_t tcap = c->done_cap, tmapped = c->done_mapped;
        c->done = c->open;
        c->done_cap = c->open_cap;
        c->done_mapped = c->open_mapped;
        c->open = t;
        c->open_cap = tcap;
        c->open_mapped = tmapped;
    } else {
        chains_room(&c->done, &c->done_cap, &c->done_mapped, c->ndone, c->ndone + c->nopen);
        if (c->nopen)
            memcpy(c->done + c->ndone, c->open, c->nopen * sizeof(*c->open));
    }
    c->ndone += c->nopen;
    c->st.chains += c->nopen;
    c->nopen = 0;
    for (size_t h = 0; h < c->nhosts; h++)
        c->hc[h].npos = 0;
}

void chains_finish(struct chains *c)
{
    chains_finish_prepare(c);
    c->prepared = false; /* a later round (live) prepares again */
    report_done(c);
}

void chains_get_stats(const struct chains *c, struct chains_stats *out)
{
    *out = c->st;
    if (c->o.live)
        out->batches = 0;
}
