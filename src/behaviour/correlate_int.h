/* What the files of the correlation engine share; nothing outside
 * behaviour/ includes it (the writer uses correlate.h).
 *
 * corr_engine.c    the API of correlate.h (create, feed, advance, stats,
 *                  destroy) and building the engine from the ruleset:
 *                  which rules each correlation reads
 * corr_window.c    the event path: one input into the groups of the
 *                  correlations that read it, each type's state and value,
 *                  windows judged, correlations fired and fed onward
 * corr_group.c     group state: the entry ring, value slots, the group table,
 *                  the timer heap, the LRU list and the memory caps
 *
 * Each file uses only the ones listed below it. corr_engine.c says at its
 * top how the engine works and why. */
#ifndef STOAT_BEHAVIOUR_CORRELATE_INT_H
#define STOAT_BEHAVIOUR_CORRELATE_INT_H

#include "behaviour/correlate.h"

#define CORR_DEPTH_MAX  8          /* correlations of correlations, nested */
#define CORR_ALERTS_MAX 64         /* alert ids remembered per group */
#define CORR_SAMPLE_MAX 1024       /* numbers kept per group for a rising percentile */
#define CORR_KEY_MAX    (1u << 20) /* group-by values of one event, bytes */
#define CORR_KEEP_ALL   SIZE_MAX
#define CORR_NONE       INT64_MIN
#define NO_NAME         UINT32_MAX
#define NO_SLOT         UINT32_MAX
#define NOT_QUEUED      UINT32_MAX

/* ---------------------------------------------------------------- types */

/* One event, or several merged (same time and same rule or value). */
struct ent {
    int64_t t;
    double v;     /* the value, or the sum of the merged values */
    uint32_t n;   /* events merged */
    uint32_t aux; /* rule position, or value slot */
};

/* A distinct value of one group. */
struct vslot {
    char *s; /* NULL when free */
    uint64_t hash;
    int64_t last;         /* newest time seen (rising value_count) */
    uint32_t len, refs;   /* refs: entries naming it */
    uint32_t hnext;       /* hash chain, or the free list */
    uint32_t prev, next;  /* the list by last time */
    uint32_t mark, tally; /* scratch when a window is judged */
    bool listed;
};

struct vtab {
    struct vslot *v;
    uint32_t n, cap, free;
    uint32_t *bucket;
    uint32_t nbucket, live;
    uint32_t first, last; /* the list by last time: oldest, newest */
    uint32_t epoch;
    size_t strbytes;
};

/* What every event touches comes first: the lookup, the window's ring, the
 * host check; the key itself follows the struct in the same allocation. */
struct group {
    struct group *hnext;
    uint64_t hash;
    uint32_t corr, keylen;
    struct ent *ents; /* ring, in time order */
    uint32_t head, len, cap;
    uint32_t pinned; /* firing: not to be evicted or trimmed */
    int64_t newest;
    uint64_t count;
    uint64_t host_hash;
    bool armed, host_mixed;
    uint32_t heap_at;
    int64_t due; /* heap key; never later than the real deadline */
    struct group *lprev, *lnext;
    double sum;
    uint32_t pops; /* removals since sum was recomputed */
    uint32_t al_next, al_len;
    int64_t *pt; /* per rule position: last time (temporal), chain start (ordered) */
    struct vtab *vt;
    int64_t *al_t;
    uint64_t *al_id;
    char *host;
    size_t hostlen;
    const char **vals; /* into key; one more for value_percentile's value */
    size_t bytes;
    char key[]; /* per value: u32 length, bytes, NUL */
};

struct cinfo {
    const struct stoat_rule_meta *meta; /* the correlation rule's */
    enum stoat_corr_type type;
    int64_t span;
    uint32_t n, ngroup;
    bool rising;  /* judged at events, else when a window closes */
    bool share;   /* value_percentile without `percentile` */
    bool numeric; /* reads numbers */
    bool slots;   /* entries name value slots */
    bool hidden;  /* read by a correlation without generate */
    struct stoat_corr_condition cond;
    size_t keep;        /* events or values that decide the condition */
    const char **names; /* group-by names (+ the field, for share) */
};

struct corr_reader {
    uint32_t corr, pos;
    uint32_t *gname; /* per group-by field: index into the source's names */
    uint32_t vname;
};

/* What reads one base rule (or one correlation's firings). */
struct corr_source {
    struct corr_reader *rd;
    uint32_t nrd;
    char **names; /* folded */
    uint32_t *nlen;
    uint32_t nnames;
};

struct corr_scratch {
    const struct stoat_field **found;
    size_t nfound;
    char *key;
    size_t keycap;
    struct stoat_field *fields; /* a firing as the next level's input */
    size_t nfields;
};

struct corr_engine {
    const struct stoat_ruleset *rs;
    struct corr_opts o;
    size_t nrules, ncorrs, nsrc;
    struct cinfo *ci;
    struct corr_source *src;
    bool *active; /* firing now */
    struct group **bucket;
    size_t nbucket, ngroups;
    struct group *lru_first, *lru_last;
    struct group **heap;
    size_t nheap, heapcap;
    int64_t clock;
    size_t gbytes;
    struct corr_stats st;
    unsigned depth;
    bool busy;
    struct corr_scratch sc[CORR_DEPTH_MAX + 1];
    double *dbl;
    size_t dblcap;
    uint8_t *seen;
    uint32_t nseen;
    bool shares_plan; /* ci and src belong to the engine it was made like */
};

static inline int64_t sat_add(int64_t a, int64_t b) /* b >= 0 */
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static inline int64_t sat_sub(int64_t a, int64_t b) /* b >= 0 */
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

static inline struct ent *ent_at(const struct group *g, uint32_t i)
{
    uint32_t j = g->head + i;
    return &g->ents[j >= g->cap ? j - g->cap : j];
}

/* One step of the ordered chain: pt[k] is the latest start of a chain of
 * the first k+1 rules, in order, among the events taken so far. */
static inline void corr_ordered_step(int64_t *pt, uint32_t pos, int64_t t)
{
    if (pos == 0) {
        if (pt[0] == CORR_NONE || t > pt[0])
            pt[0] = t;
    } else if (pt[pos - 1] != CORR_NONE && (pt[pos] == CORR_NONE || pt[pos - 1] > pt[pos])) {
        pt[pos] = pt[pos - 1];
    }
}

/* ---- corr_group.c: entries, value slots, groups, the heap, the caps */
/* Adds one event at t (aux: rule position or value slot); merges it with an
 * entry of the same time and aux when merge is set. True when a new entry
 * was made. */
bool corr_add_point(struct corr_engine *e, struct group *g, int64_t t, double v, uint32_t aux, bool merge);
uint32_t corr_vt_add(struct corr_engine *e, struct group *g, const char *s, uint32_t len, uint64_t h);
void corr_vt_link(struct vtab *vt, uint32_t i);
void corr_vt_unlink(struct vtab *vt, uint32_t i);
void corr_vt_release(struct vtab *vt, uint32_t i);
void corr_ordered_fold(const struct cinfo *ci, struct group *g, int64_t until);
/* Removes the oldest entry and what it added to the aggregates. */
void corr_drop_head(const struct cinfo *ci, struct group *g);
/* The group of (corr, key), made when new, now the most recently fed. */
struct group *corr_group_get(struct corr_engine *e, uint32_t corr, const char *key, uint32_t keylen, uint64_t h);
void corr_group_free(struct corr_engine *e, struct group *g);
void corr_group_acct(struct corr_engine *e, struct group *g);
/* When the group can next change without an event (CORR_NONE: never). */
int64_t corr_group_due(const struct cinfo *ci, const struct group *g);
/* Puts the group on the timer heap by its due time (or moves it earlier). */
void corr_schedule(struct corr_engine *e, struct group *g);
void corr_heap_down(struct corr_engine *e, size_t i);
void corr_heap_remove(struct corr_engine *e, struct group *g);
size_t corr_engine_bytes(const struct corr_engine *e);
void corr_enforce_caps(struct corr_engine *e, struct group *cur);

/* ---- corr_window.c */
/* Feeds one input of source s (a rule, or nrules + a correlation's index)
 * to the correlations that read it. */
void corr_feed_source(struct corr_engine *e, size_t s, int64_t t, const struct stoat_field *fields, size_t nfields,
                      const char *host, const uint64_t *ids, size_t nids, corr_emit_fn emit, void *ctx);
void corr_close_window(struct corr_engine *e, struct group *g, int64_t end, corr_emit_fn emit, void *ctx);

#endif
