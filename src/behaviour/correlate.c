/* Sigma correlation rules (specification v2.1) over the stream of base
 * matches, in the order the hunt's writer sees them.
 *
 * Why it is built this way. The writer may feed millions of matches, and a
 * correlation only needs, per group (the correlation and the values of its
 * group-by fields), what can still decide its condition. So each group keeps
 * the smallest state that decides it exactly: the newest K times when the
 * condition only asks about K events (K = its largest bound + 2), the last
 * time of each rule for temporal, the K newest distinct values for
 * value_count, the chain state plus the events of the last lateness for
 * temporal_ordered, and the values themselves only for sums, means,
 * percentiles and windows judged when they close. Groups live in one hash
 * table keyed by (correlation, values); a timer heap closes them, or frees
 * them once no event can reach their window any more; the least recently fed
 * group is evicted at the caps. Field names are resolved once per event: the
 * event's names are compared with the few names that the correlations
 * reading its rule need (folded as the ruleset's field table folds them:
 * ASCII case and spaces do not matter), however many correlations read it.
 *
 * Time. The clock is the newest event time seen (or given to corr_advance).
 * An event older than clock - lateness is dropped and counted
 * (late_dropped); an event without a time counts as "now" (the clock). A
 * window is a closed interval as long as the timespan: two events exactly a
 * timespan apart are in one window, a nanosecond more and they are not.
 *
 * Groups. Every group-by field (after aliases: an alias names, per rule,
 * the field that stands for it) must be in the event and not null, or the
 * event does not count for that correlation (counted as unusable). Values
 * compare as bytes (case matters); a field that occurs twice counts with
 * its first value. value_sum, value_avg and a value_percentile with
 * `percentile` read numbers; an event whose field is absent or not a number
 * does not count either. An alias also applies to the condition's field.
 * A group without group-by fields is one group per correlation.
 *
 * When a correlation fires, and how often.
 * - Rising conditions (with gt or gte: `gte: 100`, ranges such as `gt: 100,
 *   lte: 200`, and temporal types without a condition) are judged at every
 *   event, over the sliding window that ends at the group's newest event.
 *   The correlation fires at the first event that makes the condition hold,
 *   and not again for that group until its lower bound (gt/gte) has stopped
 *   holding just before some later event (the window fell back); that
 *   re-arms it. A burst of 500 failed logons fires `gte: 100` once; another
 *   burst after a quiet timespan fires again. Windows slide: events at 00:50,
 *   01:05 and 01:10 are three in one hour.
 * - Conditions with only lt, lte, eq or neq can only be judged on a
 *   complete window. Those windows tumble with the activity, not the clock:
 *   a window opens at the group's earliest pending event a and holds the
 *   events in [a, a + timespan]; corr_advance closes it once clock - lateness
 *   has passed its end (no event that may still arrive can fall in it). It
 *   is judged once, and the next window opens at the next event.
 *   corr_advance(INT64_MAX) closes every window.
 * - The value judged: event_count counts events, value_count the distinct
 *   values of the field, temporal the distinct rules seen (condition by
 *   default: all of them), temporal_ordered the length of the longest
 *   prefix of its rule list seen in that order (by default the whole list;
 *   events at the same time are taken in input order), value_sum and
 *   value_avg the sum and the mean of the field.
 * - value_percentile. v2.1 names no percentile to compute, and its one
 *   example ("a process name rarer than 1% of all processes": field Image,
 *   lte: 1) reads its condition as a share. So without `percentile` each
 *   distinct value of the field has a share: the percentage of the window's
 *   events that carry it. The window is judged when it closes, and every
 *   value whose share meets the condition fires once, with the field and the
 *   value added to the fire's group names and values. With `percentile: P`
 *   (pySigma's key) the value is the P-th percentile of the window's numbers
 *   by nearest rank, the ceil(P/100 * N)-th smallest (judged at events: over
 *   the newest 1024 numbers of the window).
 * - A firing names the window's first and last event times, the host when
 *   all its group's events had the same one, and the alert ids of the
 *   reported base alerts in the window (the group's last 64 at most).
 * - A firing is fed to the correlations that read this one, as an input at
 *   its last event time with its group names and values as fields (not
 *   dropped as late: a window that closes is always behind the clock). A
 *   correlation read by another without `generate` is not reported (emit is
 *   not called), like a base rule; generate: true reports both. A
 *   correlation is never fed, even through others, while it is firing, so
 *   cycles end; chains deeper than 8 correlations stop there. emit must not
 *   call corr_feed or corr_advance (they return at once).
 *
 * Late events. Within the lateness an event is placed in time order: it
 * counts in its group's current sliding window, or in its pending tumbling
 * window, so a late event can complete a condition (a late event before a
 * tumbling window's first event opens that window earlier). Windows that
 * were already judged are not revisited: a late event that falls before its
 * group's sliding window (possible when the lateness exceeds the timespan)
 * is dropped and counted as late.
 *
 * Memory. Groups are capped by max_groups and all state by max_bytes. A
 * group grows only when there is room; otherwise the least recently fed
 * groups are dropped (evicted_groups), and when one group alone fills the
 * cap its oldest events (value_count: its oldest value) go to make room for
 * the new one (evicted_events). A temporal_ordered group folds its oldest
 * events into its chain state instead, which loses nothing but the place of
 * a late event that would come before them.
 */
#include "behaviour/correlate.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"
#include "util/mem.h"
#include "util/text.h"

#define CORR_DEPTH_MAX  8            /* correlations of correlations, nested */
#define CORR_ALERTS_MAX 64           /* alert ids remembered per group */
#define CORR_SAMPLE_MAX 1024         /* numbers kept per group for a rising percentile */
#define CORR_KEY_MAX    (1u << 20)   /* group-by values of one event, bytes */
#define CORR_KEEP_ALL   SIZE_MAX
#define CORR_NONE       INT64_MIN
#define NO_NAME         UINT32_MAX
#define NO_SLOT         UINT32_MAX
#define NOT_QUEUED      UINT32_MAX

/* ---------------------------------------------------------------- types */

/* One event, or several merged (same time and same rule or value). */
struct ent {
    int64_t t;
    double v;                        /* the value, or the sum of the merged values */
    uint32_t n;                      /* events merged */
    uint32_t aux;                    /* rule position, or value slot */
};

/* A distinct value of one group. */
struct vslot {
    char *s;                         /* NULL when free */
    uint64_t hash;
    int64_t last;                    /* newest time seen (rising value_count) */
    uint32_t len, refs;              /* refs: entries naming it */
    uint32_t hnext;                  /* hash chain, or the free list */
    uint32_t prev, next;             /* the list by last time */
    uint32_t mark, tally;            /* scratch when a window is judged */
    bool listed;
};

struct vtab {
    struct vslot *v;
    uint32_t n, cap, free;
    uint32_t *bucket;
    uint32_t nbucket, live;
    uint32_t first, last;            /* the list by last time: oldest, newest */
    uint32_t epoch;
    size_t strbytes;
};

/* What every event touches comes first: the lookup, the window's ring, the
 * host check; the key itself follows the struct in the same allocation. */
struct group {
    struct group *hnext;
    uint64_t hash;
    uint32_t corr, keylen;
    struct ent *ents;                /* ring, in time order */
    uint32_t head, len, cap;
    uint32_t pinned;                 /* firing: not to be evicted or trimmed */
    int64_t newest;
    uint64_t count;
    uint64_t host_hash;
    bool armed, host_mixed;
    uint32_t heap_at;
    int64_t due;                     /* heap key; never later than the real deadline */
    struct group *lprev, *lnext;
    double sum;
    uint32_t pops;                   /* removals since sum was recomputed */
    uint32_t al_next, al_len;
    int64_t *pt;                     /* per rule position: last time (temporal), chain start (ordered) */
    struct vtab *vt;
    int64_t *al_t;
    uint64_t *al_id;
    char *host;
    size_t hostlen;
    const char **vals;               /* into key; one more for value_percentile's value */
    size_t bytes;
    char key[];                      /* per value: u32 length, bytes, NUL */
};

struct cinfo {
    const struct correlation *c;
    enum stoat_corr_type type;
    int64_t span;
    uint32_t n, ngroup;
    bool rising;                     /* judged at events, else when a window closes */
    bool share;                      /* value_percentile without `percentile` */
    bool numeric;                    /* reads numbers */
    bool slots;                      /* entries name value slots */
    bool hidden;                     /* read by a correlation without generate */
    struct stoat_corr_condition cond;
    size_t keep;                     /* events or values that decide the condition */
    const char **names;              /* group-by names (+ the field, for share) */
};

struct reader {
    uint32_t corr, pos;
    uint32_t *gname;                 /* per group-by field: index into the source's names */
    uint32_t vname;
};

/* What reads one base rule (or one correlation's firings). */
struct source {
    struct reader *rd;
    uint32_t nrd;
    char **names;                    /* folded */
    uint32_t *nlen;
    uint32_t nnames;
};

struct scratch {
    const struct stoat_field **found;
    size_t nfound;
    char *key;
    size_t keycap;
    struct stoat_field *fields;      /* a firing as the next level's input */
    size_t nfields;
};

struct corr_engine {
    const struct stoat_ruleset *rs;
    struct corr_opts o;
    size_t nrules, ncorrs, nsrc;
    struct cinfo *ci;
    struct source *src;
    bool *active;                    /* firing now */
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
    struct scratch sc[CORR_DEPTH_MAX + 1];
    double *dbl;
    size_t dblcap;
    uint8_t *seen;
};

/* ------------------------------------------------------------- helpers */

static int64_t sat_add(int64_t a, int64_t b)   /* b >= 0 */
{
    return a > INT64_MAX - b ? INT64_MAX : a + b;
}

static int64_t sat_sub(int64_t a, int64_t b)   /* b >= 0 */
{
    return a < INT64_MIN + b ? INT64_MIN : a - b;
}

static bool cond_holds(const struct stoat_corr_condition *c, double v)
{
    if (isnan(v))
        return false;
    return (!c->has_gt || v > c->gt) && (!c->has_gte || v >= c->gte) && (!c->has_lt || v < c->lt) &&
           (!c->has_lte || v <= c->lte) && (!c->has_eq || v == c->eq) && (!c->has_neq || v != c->neq);
}

static bool lower_holds(const struct stoat_corr_condition *c, double v)
{
    return !isnan(v) && (!c->has_gt || v > c->gt) && (!c->has_gte || v >= c->gte);
}

/* Folds like the ruleset's field table: ASCII lower case, spaces dropped. */
static char *fold_dup(const char *s, uint32_t *len)
{
    size_t n = strlen(s), k = 0;
    char *o = xmalloc(n + 1);
    for (size_t i = 0; i < n; i++)
        if (s[i] != ' ')
            o[k++] = (char)ascii_lower_table[(unsigned char)s[i]];
    o[k] = 0;
    *len = (uint32_t)k;
    return o;
}

static bool name_is(const char *name, uint32_t len, const char *folded, uint32_t flen)
{
    if (len < flen)
        return false;
    uint32_t j = 0;
    for (uint32_t i = 0; i < len; i++) {
        unsigned char ch = (unsigned char)name[i];
        if (ch == ' ')
            continue;
        if (j == flen || ascii_lower_table[ch] != (unsigned char)folded[j])
            return false;
        j++;
    }
    return j == flen;
}

static void swap_d(double *a, double *b)
{
    double t = *a;
    *a = *b;
    *b = t;
}

/* The k-th smallest of x[0..n) (0-based), reordering x. */
static double select_kth(double *x, size_t n, size_t k)
{
    size_t lo = 0, hi = n - 1;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (x[mid] < x[lo])
            swap_d(&x[mid], &x[lo]);
        if (x[hi] < x[lo])
            swap_d(&x[hi], &x[lo]);
        if (x[hi] < x[mid])
            swap_d(&x[hi], &x[mid]);
        double pivot = x[mid];
        size_t i = lo, j = hi;
        while (i <= j) {
            while (x[i] < pivot)
                i++;
            while (x[j] > pivot)
                j--;
            if (i <= j) {
                swap_d(&x[i], &x[j]);
                i++;
                if (j == 0)
                    break;
                j--;
            }
        }
        if (k <= j)
            hi = j;
        else if (k >= i)
            lo = i;
        else
            break;
    }
    return x[k];
}

/* Nearest rank: the ceil(p/100 * n)-th smallest, at least the first. */
static double nearest_rank(double *x, size_t n, double p)
{
    if (!n)
        return NAN;
    double r = ceil(p / 100.0 * (double)n);
    size_t k = r < 1 ? 0 : r >= (double)n ? n - 1 : (size_t)r - 1;
    return select_kth(x, n, k);
}

static double *dbl_scratch(struct corr_engine *e, size_t n)
{
    if (n > e->dblcap) {
        e->dblcap = n < 64 ? 64 : n;
        free(e->dbl);
        e->dbl = xmalloc(e->dblcap * sizeof(*e->dbl));
    }
    return e->dbl;
}

/* ------------------------------------------------------------- entries */

static inline struct ent *ent_at(const struct group *g, uint32_t i)
{
    uint32_t j = g->head + i;
    return &g->ents[j >= g->cap ? j - g->cap : j];
}

static void ents_resize(struct group *g, uint32_t cap)
{
    struct ent *n = xmalloc((size_t)cap * sizeof(*n));
    for (uint32_t i = 0; i < g->len; i++)
        n[i] = *ent_at(g, i);
    free(g->ents);
    g->ents = n;
    g->cap = cap;
    g->head = 0;
}

/* Opens slot i (0..len), moving the later entries up; ents_reserve made room. */
static struct ent *ents_open(struct group *g, uint32_t i)
{
    if (g->len == g->cap)
        ents_resize(g, g->cap ? g->cap * 2 : 8);   /* not reached */
    for (uint32_t j = g->len; j > i; j--)
        *ent_at(g, j) = *ent_at(g, j - 1);
    g->len++;
    return ent_at(g, i);
}

/* Index of the first entry later than t: entries at t stay before it. */
static uint32_t ents_after(const struct group *g, int64_t t)
{
    if (!g->len || ent_at(g, g->len - 1)->t <= t)
        return g->len;
    uint32_t lo = 0, hi = g->len - 1;
    while (lo < hi) {
        uint32_t mid = lo + (hi - lo) / 2;
        if (ent_at(g, mid)->t > t)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

static void ents_pop(struct group *g)
{
    g->head = g->head + 1 == g->cap ? 0 : g->head + 1;
    g->len--;
    if (g->cap > 16 && g->len < g->cap / 4)
        ents_resize(g, g->cap / 2);
}

/* Adds one event at t; merges with an entry of the same time and aux when
 * merge is set. Returns true when a new entry was made. */
static bool ents_reserve(struct corr_engine *e, struct group *g, uint32_t k);
static uint32_t vt_add(struct corr_engine *e, struct group *g, const char *s, uint32_t len, uint64_t h);

static bool add_point(struct corr_engine *e, struct group *g, int64_t t, double v, uint32_t aux, bool merge)
{
    uint32_t i = ents_after(g, t);
    g->count++;
    if (merge && i > 0) {
        struct ent *p = ent_at(g, i - 1);
        if (p->t == t && p->aux == aux) {
            p->v += v;
            p->n++;
            return false;
        }
    }
    if (ents_reserve(e, g, 1))
        i = ents_after(g, t);   /* the oldest went to make room */
    struct ent *x = ents_open(g, i);
    x->t = t;
    x->v = v;
    x->n = 1;
    x->aux = aux;
    return true;
}

/* ------------------------------------------------------- value slots */

static struct vtab *vt_new(void)
{
    struct vtab *vt = xcalloc(1, sizeof(*vt));
    vt->nbucket = 8;
    vt->bucket = xmalloc(vt->nbucket * sizeof(*vt->bucket));
    memset(vt->bucket, 0xff, vt->nbucket * sizeof(*vt->bucket));
    vt->free = vt->first = vt->last = NO_SLOT;
    return vt;
}

static void vt_free(struct vtab *vt)
{
    if (!vt)
        return;
    for (uint32_t i = 0; i < vt->n; i++)
        free(vt->v[i].s);
    free(vt->v);
    free(vt->bucket);
    free(vt);
}

static void vt_rehash(struct vtab *vt)
{
    free(vt->bucket);
    vt->nbucket *= 2;
    vt->bucket = xmalloc(vt->nbucket * sizeof(*vt->bucket));
    memset(vt->bucket, 0xff, vt->nbucket * sizeof(*vt->bucket));
    for (uint32_t i = 0; i < vt->n; i++) {
        struct vslot *x = &vt->v[i];
        if (!x->s)
            continue;
        uint32_t b = (uint32_t)(x->hash & (vt->nbucket - 1));
        x->hnext = vt->bucket[b];
        vt->bucket[b] = i;
    }
}

static uint32_t vt_find(const struct vtab *vt, const char *s, uint32_t len, uint64_t h)
{
    for (uint32_t i = vt->bucket[h & (vt->nbucket - 1)]; i != NO_SLOT; i = vt->v[i].hnext)
        if (vt->v[i].hash == h && vt->v[i].len == len && memcmp(vt->v[i].s, s, len) == 0)
            return i;
    return NO_SLOT;
}

/* A new slot for s (not in the table). */
static uint32_t vt_new_slot(struct vtab *vt, const char *s, uint32_t len, uint64_t h)
{
    if (vt->live >= vt->nbucket)
        vt_rehash(vt);
    uint32_t i;
    if (vt->free != NO_SLOT) {
        i = vt->free;
        vt->free = vt->v[i].hnext;
    } else {
        if (vt->n == vt->cap) {
            vt->cap = vt->cap ? vt->cap * 2 : 8;
            vt->v = xrealloc(vt->v, vt->cap * sizeof(*vt->v));
        }
        i = vt->n++;
    }
    struct vslot *x = &vt->v[i];
    memset(x, 0, sizeof(*x));
    x->s = xmalloc((size_t)len + 1);
    memcpy(x->s, s, len);
    x->s[len] = 0;
    x->len = len;
    x->hash = h;
    x->last = CORR_NONE;
    x->prev = x->next = NO_SLOT;
    uint32_t b = (uint32_t)(h & (vt->nbucket - 1));
    x->hnext = vt->bucket[b];
    vt->bucket[b] = i;
    vt->live++;
    vt->strbytes += (size_t)len + 1;
    return i;
}

static void vt_unlink(struct vtab *vt, uint32_t i)
{
    struct vslot *x = &vt->v[i];
    if (!x->listed)
        return;
    if (x->prev != NO_SLOT)
        vt->v[x->prev].next = x->next;
    else
        vt->first = x->next;
    if (x->next != NO_SLOT)
        vt->v[x->next].prev = x->prev;
    else
        vt->last = x->prev;
    x->prev = x->next = NO_SLOT;
    x->listed = false;
}

/* Puts slot i in the list by its last time (from the newest end: in-order
 * events go straight to the end). */
static void vt_link(struct vtab *vt, uint32_t i)
{
    struct vslot *x = &vt->v[i];
    uint32_t after = vt->last;
    while (after != NO_SLOT && vt->v[after].last > x->last)
        after = vt->v[after].prev;
    x->prev = after;
    x->next = after == NO_SLOT ? vt->first : vt->v[after].next;
    if (x->next != NO_SLOT)
        vt->v[x->next].prev = i;
    else
        vt->last = i;
    if (after != NO_SLOT)
        vt->v[after].next = i;
    else
        vt->first = i;
    x->listed = true;
}

static void vt_release(struct vtab *vt, uint32_t i)
{
    struct vslot *x = &vt->v[i];
    vt_unlink(vt, i);
    uint32_t *pp = &vt->bucket[x->hash & (vt->nbucket - 1)];
    while (*pp != i)
        pp = &vt->v[*pp].hnext;
    *pp = x->hnext;
    vt->strbytes -= (size_t)x->len + 1;
    free(x->s);
    x->s = NULL;
    x->hnext = vt->free;
    vt->free = i;
    vt->live--;
}

/* --------------------------------------------------------- group state */

static size_t group_size(const struct corr_engine *e, const struct group *g)
{
    const struct cinfo *ci = &e->ci[g->corr];
    size_t b = sizeof(*g) + g->keylen + (ci->ngroup + 1) * sizeof(char *) + (size_t)g->cap * sizeof(struct ent);
    if (g->pt)
        b += ci->n * (ci->type == STOAT_CORR_TEMPORAL_ORDERED ? 2 : 1) * sizeof(int64_t);
    if (g->vt)
        b += sizeof(*g->vt) + g->vt->cap * sizeof(struct vslot) + g->vt->nbucket * sizeof(uint32_t) +
             g->vt->strbytes;
    if (g->al_t)
        b += CORR_ALERTS_MAX * (sizeof(int64_t) + sizeof(uint64_t));
    if (g->host)
        b += g->hostlen + 1;
    return b;
}

static void group_acct(struct corr_engine *e, struct group *g)
{
    size_t b = group_size(e, g);
    e->gbytes = e->gbytes - g->bytes + b;
    g->bytes = b;
}

static size_t engine_bytes(const struct corr_engine *e)
{
    return e->gbytes + e->nbucket * sizeof(*e->bucket) + e->heapcap * sizeof(*e->heap);
}

/* When the group's state can next change without an event: a tumbling
 * window's end, or a sliding window's last moment (then it is freed). */
static int64_t group_due(const struct cinfo *ci, const struct group *g)
{
    if (ci->rising)
        return sat_add(g->newest, ci->span);
    return g->len ? sat_add(ent_at(g, 0)->t, ci->span) : CORR_NONE;
}

static void heap_set(struct corr_engine *e, size_t i, struct group *g)
{
    e->heap[i] = g;
    g->heap_at = (uint32_t)i;
}

static void heap_up(struct corr_engine *e, size_t i)
{
    struct group *g = e->heap[i];
    while (i) {
        size_t p = (i - 1) / 2;
        if (e->heap[p]->due <= g->due)
            break;
        heap_set(e, i, e->heap[p]);
        i = p;
    }
    heap_set(e, i, g);
}

static void heap_down(struct corr_engine *e, size_t i)
{
    struct group *g = e->heap[i];
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        int64_t best = g->due;
        if (l < e->nheap && e->heap[l]->due < best) {
            m = l;
            best = e->heap[l]->due;
        }
        if (l + 1 < e->nheap && e->heap[l + 1]->due < best)
            m = l + 1;
        if (m == i)
            break;
        heap_set(e, i, e->heap[m]);
        i = m;
    }
    heap_set(e, i, g);
}

static void heap_push(struct corr_engine *e, struct group *g)
{
    if (e->nheap == e->heapcap) {
        e->heapcap = e->heapcap ? e->heapcap * 2 : 64;
        e->heap = xrealloc(e->heap, e->heapcap * sizeof(*e->heap));
    }
    heap_set(e, e->nheap++, g);
    heap_up(e, e->nheap - 1);
}

static void heap_remove(struct corr_engine *e, struct group *g)
{
    size_t i = g->heap_at;
    struct group *last = e->heap[--e->nheap];
    g->heap_at = NOT_QUEUED;
    if (i < e->nheap) {
        heap_set(e, i, last);
        heap_up(e, i);
        heap_down(e, last->heap_at);
    }
}

static void schedule(struct corr_engine *e, struct group *g)
{
    int64_t due = group_due(&e->ci[g->corr], g);
    if (due == CORR_NONE)
        return;
    if (g->heap_at == NOT_QUEUED) {
        g->due = due;
        heap_push(e, g);
    } else if (due < g->due) {
        g->due = due;
        heap_up(e, g->heap_at);
    }
}

static void lru_unlink(struct corr_engine *e, struct group *g)
{
    if (g->lprev)
        g->lprev->lnext = g->lnext;
    else
        e->lru_first = g->lnext;
    if (g->lnext)
        g->lnext->lprev = g->lprev;
    else
        e->lru_last = g->lprev;
    g->lprev = g->lnext = NULL;
}

static void lru_append(struct corr_engine *e, struct group *g)
{
    g->lprev = e->lru_last;
    g->lnext = NULL;
    if (e->lru_last)
        e->lru_last->lnext = g;
    else
        e->lru_first = g;
    e->lru_last = g;
}

static void group_free(struct corr_engine *e, struct group *g)
{
    if (g->heap_at != NOT_QUEUED)
        heap_remove(e, g);
    struct group **pp = &e->bucket[g->hash & (e->nbucket - 1)];
    while (*pp != g)
        pp = &(*pp)->hnext;
    *pp = g->hnext;
    lru_unlink(e, g);
    e->ngroups--;
    e->gbytes -= g->bytes;
    free(g->vals);
    free(g->ents);
    free(g->pt);
    vt_free(g->vt);
    free(g->al_t);
    free(g->al_id);
    free(g->host);
    free(g);
}

static void table_grow(struct corr_engine *e)
{
    size_t n = e->nbucket * 2;
    struct group **b = xcalloc(n, sizeof(*b));
    for (size_t i = 0; i < e->nbucket; i++) {
        struct group *g = e->bucket[i], *next;
        for (; g; g = next) {
            next = g->hnext;
            g->hnext = b[g->hash & (n - 1)];
            b[g->hash & (n - 1)] = g;
        }
    }
    free(e->bucket);
    e->bucket = b;
    e->nbucket = n;
}

static struct group *group_get(struct corr_engine *e, uint32_t corr, const char *key, uint32_t keylen, uint64_t h)
{
    for (struct group *g = e->bucket[h & (e->nbucket - 1)]; g; g = g->hnext)
        if (g->hash == h && g->corr == corr && g->keylen == keylen && memcmp(g->key, key, keylen) == 0)
            return g;
    const struct cinfo *ci = &e->ci[corr];
    struct group *g = xcalloc(1, sizeof(*g) + keylen);
    g->hash = h;
    g->corr = corr;
    g->heap_at = NOT_QUEUED;
    g->newest = CORR_NONE;
    g->armed = true;
    memcpy(g->key, key, keylen);
    g->keylen = keylen;
    g->vals = xcalloc(ci->ngroup + 1, sizeof(*g->vals));
    const char *p = g->key;
    for (uint32_t i = 0; i < ci->ngroup; i++) {
        uint32_t len;
        memcpy(&len, p, sizeof(len));
        g->vals[i] = p + sizeof(len);
        p += sizeof(len) + len + 1;
    }
    if (ci->type == STOAT_CORR_TEMPORAL || ci->type == STOAT_CORR_TEMPORAL_ORDERED) {
        uint32_t n = ci->n * (ci->type == STOAT_CORR_TEMPORAL_ORDERED ? 2 : 1);
        g->pt = xmalloc(n * sizeof(*g->pt));
        for (uint32_t i = 0; i < n; i++)
            g->pt[i] = CORR_NONE;
    }
    if (ci->type == STOAT_CORR_VALUE_COUNT || ci->share)
        g->vt = vt_new();
    if (e->ngroups >= e->nbucket)
        table_grow(e);
    size_t b = h & (e->nbucket - 1);
    g->hnext = e->bucket[b];
    e->bucket[b] = g;
    lru_append(e, g);
    e->ngroups++;
    group_acct(e, g);
    return g;
}

/* Hosts compare by length and a 64-bit hash, so that the check costs no
 * visit to the stored name. */
static void note_host(struct group *g, const char *host, size_t len, uint64_t h)
{
    if (!host || g->host_mixed)
        return;
    if (!g->host) {
        g->hostlen = len;
        g->host_hash = h;
        g->host = xstrndup(host, len);
    } else if (g->host_hash != h || g->hostlen != len) {
        g->host_mixed = true;
    }
}

static void note_alerts(struct group *g, int64_t t, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!ids[i])
            continue;
        if (!g->al_t) {
            g->al_t = xmalloc(CORR_ALERTS_MAX * sizeof(*g->al_t));
            g->al_id = xmalloc(CORR_ALERTS_MAX * sizeof(*g->al_id));
        }
        g->al_t[g->al_next] = t;
        g->al_id[g->al_next] = ids[i];
        g->al_next = (g->al_next + 1) % CORR_ALERTS_MAX;
        if (g->al_len < CORR_ALERTS_MAX)
            g->al_len++;
    }
}

static size_t collect_alerts(const struct group *g, int64_t first, int64_t last, uint64_t *out)
{
    size_t k = 0;
    uint32_t start = (g->al_next + CORR_ALERTS_MAX - g->al_len) % CORR_ALERTS_MAX;
    for (uint32_t i = 0; i < g->al_len; i++) {
        uint32_t j = (start + i) % CORR_ALERTS_MAX;
        if (g->al_t[j] >= first && g->al_t[j] <= last)
            out[k++] = g->al_id[j];
    }
    return k;
}

/* ------------------------------------------------------ per-type state */

static void sum_recompute(struct group *g)
{
    double s = 0;
    for (uint32_t i = 0; i < g->len; i++)
        s += ent_at(g, i)->v;
    g->sum = s;
    g->pops = 0;
}

/* Removes the oldest entry and what it added to the aggregates. */
static void drop_head(const struct cinfo *ci, struct group *g)
{
    struct ent *x = ent_at(g, 0);
    uint32_t aux = x->aux;
    g->count -= x->n;
    if (ci->numeric)
        g->sum -= x->v;
    ents_pop(g);
    if (ci->slots && --g->vt->v[aux].refs == 0)
        vt_release(g->vt, aux);
    if (ci->numeric && (!g->len || ++g->pops >= 4096))
        sum_recompute(g);   /* what subtraction drifted, from the entries (0 when none) */
}

/* One step of the ordered chain: pt[k] is the latest start of a chain of
 * the first k+1 rules, in order, among the events taken so far. */
static void ordered_step(int64_t *pt, uint32_t pos, int64_t t)
{
    if (pos == 0) {
        if (pt[0] == CORR_NONE || t > pt[0])
            pt[0] = t;
    } else if (pt[pos - 1] != CORR_NONE && (pt[pos] == CORR_NONE || pt[pos - 1] > pt[pos])) {
        pt[pos] = pt[pos - 1];
    }
}

/* pt[0..n) is the chain state over every event taken; pt[n..2n) over the
 * events folded out of the log: those that no late event can come before
 * any more (older than clock - lateness) or that left the window. So the log
 * holds at most the last lateness of events, and a late event replays only
 * those. */
static void ordered_recompute(const struct cinfo *ci, struct group *g)
{
    memcpy(g->pt, g->pt + ci->n, ci->n * sizeof(*g->pt));
    for (uint32_t i = 0; i < g->len; i++)
        ordered_step(g->pt, ent_at(g, i)->aux, ent_at(g, i)->t);
}

static void ordered_fold(const struct cinfo *ci, struct group *g, int64_t until)
{
    while (g->len && ent_at(g, 0)->t < until) {
        struct ent *x = ent_at(g, 0);
        ordered_step(g->pt + ci->n, x->aux, x->t);
        g->count -= x->n;
        ents_pop(g);
    }
}

/* A rising temporal_ordered keeps the events of the last lateness (older
 * ones are folded into pt[n..2n)), merging only events of one rule at one
 * time; an event in time order extends the chain state in one step, a late
 * one is placed among them and the log is replayed from the fold. */
static void ordered_add(struct corr_engine *e, const struct cinfo *ci, struct group *g, uint32_t pos, int64_t t)
{
    ordered_fold(ci, g, e->clock == CORR_NONE ? CORR_NONE : sat_sub(e->clock, e->o.lateness_ns));
    bool late = g->len && t < ent_at(g, g->len - 1)->t;
    if (!late)
        ordered_step(g->pt, pos, t);
    add_point(e, g, t, 0, pos, true);
    if (late)
        ordered_recompute(ci, g);
}

static double window_percentile(struct corr_engine *e, const struct cinfo *ci, const struct group *g, uint32_t m)
{
    double *x = dbl_scratch(e, m);
    for (uint32_t i = 0; i < m; i++)
        x[i] = ent_at(g, i)->v;
    return nearest_rank(x, m, ci->cond.percentile);
}

/* Drops what is older than the sliding window's start w0. */
static void rising_expire(const struct cinfo *ci, struct group *g, int64_t w0)
{
    if (ci->type == STOAT_CORR_VALUE_COUNT) {
        while (g->vt->first != NO_SLOT && g->vt->v[g->vt->first].last < w0)
            vt_release(g->vt, g->vt->first);
        return;
    }
    if (ci->type == STOAT_CORR_TEMPORAL_ORDERED)
        ordered_fold(ci, g, w0);
    while (g->len && ent_at(g, 0)->t < w0)
        drop_head(ci, g);
}

static double rising_value(struct corr_engine *e, const struct cinfo *ci, const struct group *g, int64_t w0)
{
    uint32_t k = 0;
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT:
        return (double)g->count;
    case STOAT_CORR_VALUE_COUNT:
        return (double)g->vt->live;
    case STOAT_CORR_TEMPORAL:
        for (uint32_t i = 0; i < ci->n; i++)
            k += g->pt[i] != CORR_NONE && g->pt[i] >= w0;
        return k;
    case STOAT_CORR_TEMPORAL_ORDERED:
        while (k < ci->n && g->pt[k] != CORR_NONE && g->pt[k] >= w0)
            k++;
        return k;
    case STOAT_CORR_VALUE_SUM:
        return g->count ? g->sum : 0;
    case STOAT_CORR_VALUE_AVG:
        return g->count ? g->sum / (double)g->count : NAN;
    case STOAT_CORR_VALUE_PERCENTILE:
        return window_percentile(e, ci, g, g->len);
    default:
        return NAN;
    }
}

static void rising_add(struct corr_engine *e, const struct cinfo *ci, struct group *g, uint32_t pos, int64_t t,
                       double num, const char *sv, uint32_t svlen, uint64_t svh)
{
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT:
        add_point(e, g, t, 0, 0, true);
        while (ci->keep != CORR_KEEP_ALL && g->count - ent_at(g, 0)->n >= ci->keep)
            drop_head(ci, g);
        break;
    case STOAT_CORR_VALUE_COUNT: {
        uint32_t i = vt_add(e, g, sv, svlen, svh);
        struct vslot *x = &g->vt->v[i];
        if (x->last == CORR_NONE || t > x->last) {
            x->last = t;
            vt_unlink(g->vt, i);
            vt_link(g->vt, i);
        }
        while (ci->keep != CORR_KEEP_ALL && g->vt->live > ci->keep)
            vt_release(g->vt, g->vt->first);
        break;
    }
    case STOAT_CORR_TEMPORAL:
        if (g->pt[pos] == CORR_NONE || t > g->pt[pos])
            g->pt[pos] = t;
        break;
    case STOAT_CORR_TEMPORAL_ORDERED:
        ordered_add(e, ci, g, pos, t);
        break;
    case STOAT_CORR_VALUE_SUM:
    case STOAT_CORR_VALUE_AVG:
        add_point(e, g, t, num, 0, true);
        g->sum += num;
        break;
    case STOAT_CORR_VALUE_PERCENTILE:
        add_point(e, g, t, num, 0, false);
        while (g->len > ci->keep)
            drop_head(ci, g);
        break;
    default:
        break;
    }
}

/* The earliest event of the window that the firing is about. */
static int64_t rising_first(const struct cinfo *ci, const struct group *g, int64_t w0, double value)
{
    int64_t first = g->newest;
    switch (ci->type) {
    case STOAT_CORR_VALUE_COUNT:
        return g->vt->first != NO_SLOT ? g->vt->v[g->vt->first].last : first;
    case STOAT_CORR_TEMPORAL:
        for (uint32_t i = 0; i < ci->n; i++)
            if (g->pt[i] != CORR_NONE && g->pt[i] >= w0 && g->pt[i] < first)
                first = g->pt[i];
        return first;
    case STOAT_CORR_TEMPORAL_ORDERED:
        return value >= 1 ? g->pt[(uint32_t)value - 1] : first;
    default:
        return g->len ? ent_at(g, 0)->t : first;
    }
}

/* --------------------------------------------------------------- firing */

static void feed_source(struct corr_engine *e, size_t s, int64_t t, const struct stoat_field *fields, size_t nfields,
                        const char *host, const uint64_t *ids, size_t nids, corr_emit_fn emit, void *ctx);

/* Reports (unless hidden) and feeds the correlations that read this one.
 * extra: value_percentile's value, shown as one more group field. */
static void fire(struct corr_engine *e, uint32_t c, struct group *g, int64_t first, int64_t last, double value,
                 const char *extra, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[c];
    uint64_t ids[CORR_ALERTS_MAX];
    size_t nids = g->al_len ? collect_alerts(g, first, last, ids) : 0;
    size_t ng = ci->ngroup + (extra ? 1 : 0);
    e->st.fired++;
    g->pinned++;
    e->active[c] = true;
    g->vals[ci->ngroup] = extra;
    struct corr_fire f = {
        .corr = c, .meta = &ci->c->meta, .first_ns = first, .last_ns = last, .group_names = ci->names,
        .group_values = g->vals, .ngroup = ng, .value = value, .alert_ids = ids, .nalert_ids = nids,
        .host = g->host_mixed ? NULL : g->host,
    };
    if (emit && !ci->hidden)
        emit(ctx, &f);
    size_t s = e->nrules + c;
    if (e->src[s].nrd && e->depth < CORR_DEPTH_MAX) {
        struct scratch *sc = &e->sc[e->depth + 1];
        if (sc->nfields < ng) {
            free(sc->fields);
            sc->nfields = ng;
            sc->fields = xmalloc(ng * sizeof(*sc->fields));
        }
        for (size_t i = 0; i < ng; i++) {
            sc->fields[i] = (struct stoat_field){
                .name = ci->names[i], .value = g->vals[i], .name_len = (uint32_t)strlen(ci->names[i]),
                .value_len = (uint32_t)strlen(g->vals[i]), .type = STOAT_V_STRING,
            };
        }
        e->depth++;
        feed_source(e, s, last, sc->fields, ng, f.host, ids, nids, emit, ctx);
        e->depth--;
    }
    g->vals[ci->ngroup] = NULL;
    e->active[c] = false;
    g->pinned--;
}

/* Judges the tumbling window [first entry, end] and removes its entries. */
static void close_window(struct corr_engine *e, struct group *g, int64_t end, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[g->corr];
    uint32_t m = 0;
    uint64_t events = 0;
    while (m < g->len && ent_at(g, m)->t <= end)
        events += ent_at(g, m++)->n;
    int64_t first = ent_at(g, 0)->t, last = ent_at(g, m - 1)->t;
    double v = NAN, sum = 0;
    uint32_t k = 0;
    struct vtab *vt = g->vt;
    if (ci->share) {
        /* every distinct value, in the order first seen, with its share */
        vt->epoch++;
        for (uint32_t i = 0; i < m; i++) {
            struct vslot *x = &vt->v[ent_at(g, i)->aux];
            if (x->mark != vt->epoch) {
                x->mark = vt->epoch;
                x->tally = 0;
            }
            x->tally += ent_at(g, i)->n;
        }
        for (uint32_t i = 0; i < m; i++) {
            struct vslot *x = &vt->v[ent_at(g, i)->aux];
            if (x->mark != vt->epoch)
                continue;
            x->mark = vt->epoch - 1;
            double share = 100.0 * x->tally / (double)events;
            if (cond_holds(&ci->cond, share))
                fire(e, g->corr, g, first, last, share, x->s, emit, ctx);
        }
        goto out;
    }
    switch (ci->type) {
    case STOAT_CORR_EVENT_COUNT:
        v = (double)events;
        break;
    case STOAT_CORR_VALUE_COUNT:
        vt->epoch++;
        for (uint32_t i = 0; i < m; i++) {
            struct vslot *x = &vt->v[ent_at(g, i)->aux];
            if (x->mark != vt->epoch) {
                x->mark = vt->epoch;
                k++;
            }
        }
        v = k;
        break;
    case STOAT_CORR_TEMPORAL:
        memset(e->seen, 0, ci->n);
        for (uint32_t i = 0; i < m; i++) {
            uint32_t pos = ent_at(g, i)->aux;
            k += !e->seen[pos];
            e->seen[pos] = 1;
        }
        v = k;
        break;
    case STOAT_CORR_TEMPORAL_ORDERED:
        for (uint32_t i = 0; i < m && k < ci->n; i++)
            if (ent_at(g, i)->aux == k)
                k++;
        v = k;
        break;
    case STOAT_CORR_VALUE_SUM:
    case STOAT_CORR_VALUE_AVG:
        for (uint32_t i = 0; i < m; i++)
            sum += ent_at(g, i)->v;
        v = ci->type == STOAT_CORR_VALUE_SUM ? sum : sum / (double)events;
        break;
    case STOAT_CORR_VALUE_PERCENTILE:
        v = window_percentile(e, ci, g, m);
        break;
    default:
        break;
    }
    if (cond_holds(&ci->cond, v))
        fire(e, g->corr, g, first, last, v, NULL, emit, ctx);
out:
    for (uint32_t i = 0; i < m; i++)
        drop_head(ci, g);
}

/* ------------------------------------------------------------- feeding */

static void rising_event(struct corr_engine *e, struct group *g, uint32_t pos, int64_t t, double num,
                         const char *sv, uint32_t svlen, uint64_t svh, corr_emit_fn emit, void *ctx)
{
    const struct cinfo *ci = &e->ci[g->corr];
    if (g->newest != CORR_NONE && t < sat_sub(g->newest, ci->span)) {
        e->st.late_dropped++;   /* before the group's window: too late for it */
        return;
    }
    int64_t newest = g->newest == CORR_NONE || t > g->newest ? t : g->newest;
    int64_t w0 = sat_sub(newest, ci->span);
    rising_expire(ci, g, w0);
    g->newest = newest;
    if (!lower_holds(&ci->cond, rising_value(e, ci, g, w0)))
        g->armed = true;
    rising_add(e, ci, g, pos, t, num, sv, svlen, svh);
    double v = rising_value(e, ci, g, w0);
    if (g->armed && cond_holds(&ci->cond, v)) {
        g->armed = false;
        fire(e, g->corr, g, rising_first(ci, g, w0, v), newest, v, NULL, emit, ctx);
    }
}

static void close_event(struct corr_engine *e, struct group *g, uint32_t pos, int64_t t, double num, const char *sv,
                        uint32_t svlen, uint64_t svh)
{
    const struct cinfo *ci = &e->ci[g->corr];
    if (g->newest == CORR_NONE || t > g->newest)
        g->newest = t;
    if (ci->slots) {
        uint32_t i = vt_add(e, g, sv, svlen, svh);
        g->vt->v[i].refs++;   /* held while its entry is made: making room must not free it */
        if (!add_point(e, g, t, 0, i, true))
            g->vt->v[i].refs--;
    } else if (ci->type == STOAT_CORR_TEMPORAL || ci->type == STOAT_CORR_TEMPORAL_ORDERED) {
        add_point(e, g, t, 0, pos, true);
    } else {
        add_point(e, g, t, num, 0, ci->type != STOAT_CORR_VALUE_PERCENTILE);
    }
}

/* Drops the least recently fed groups (not cur) until the caps hold with
 * `extra` more bytes; false when they cannot. */
static bool make_room(struct corr_engine *e, struct group *cur, size_t extra)
{
    struct group *v = e->lru_first;
    while (v && (e->ngroups > e->o.max_groups || engine_bytes(e) + extra > e->o.max_bytes)) {
        struct group *next = v->lnext;
        if (v != cur && !v->pinned) {
            group_free(e, v);
            e->st.evicted_groups++;
        }
        v = next;
    }
    return engine_bytes(e) + extra <= e->o.max_bytes;
}

static void enforce_caps(struct corr_engine *e, struct group *cur)
{
    make_room(e, cur, 0);
}

/* Room for k more entries: the ring grows while the caps allow (other groups
 * are evicted first), and when even one group alone is too big its oldest
 * events go. True when some were dropped. */
static bool ents_reserve(struct corr_engine *e, struct group *g, uint32_t k)
{
    const struct cinfo *ci = &e->ci[g->corr];
    bool dropped = false;
    while (g->len + k > g->cap) {
        uint32_t want = g->cap ? g->cap * 2 : 8, small = g->cap + (g->cap / 8 > k ? g->cap / 8 : k);
        if (make_room(e, g, (size_t)(want - g->cap) * sizeof(struct ent))) {
            ents_resize(g, want);
        } else if (make_room(e, g, (size_t)(small - g->cap) * sizeof(struct ent)) || !g->len) {
            ents_resize(g, small);
        } else if (ci->rising && ci->type == STOAT_CORR_TEMPORAL_ORDERED) {
            /* folding loses nothing but the place of a late event before it */
            ordered_fold(ci, g, sat_add(ent_at(g, 0)->t, 1));
        } else {
            e->st.evicted_events += ent_at(g, 0)->n;
            drop_head(ci, g);
            dropped = true;
        }
    }
    group_acct(e, g);
    return dropped;
}

/* The slot of value s, made when new; at the caps the oldest value (rising
 * value_count) or the oldest events go to free one. */
static uint32_t vt_add(struct corr_engine *e, struct group *g, const char *s, uint32_t len, uint64_t h)
{
    struct vtab *vt = g->vt;
    uint32_t i = vt_find(vt, s, len, h);
    if (i != NO_SLOT)
        return i;
    const struct cinfo *ci = &e->ci[g->corr];
    size_t need = (size_t)len + 1 + (vt->free == NO_SLOT && vt->n == vt->cap ? vt->cap * sizeof(struct vslot) : 0);
    if (!make_room(e, g, need)) {
        if (!ci->slots && vt->first != NO_SLOT) {
            e->st.evicted_events++;
            vt_release(vt, vt->first);
        } else {
            while (g->len && vt->free == NO_SLOT) {
                e->st.evicted_events += ent_at(g, 0)->n;
                drop_head(ci, g);
            }
        }
    }
    i = vt_new_slot(vt, s, len, h);
    group_acct(e, g);
    return i;
}

static bool build_key(struct scratch *sc, const struct reader *rd, uint32_t ngroup, uint32_t *keylen)
{
    size_t need = 0;
    for (uint32_t i = 0; i < ngroup; i++) {
        const struct stoat_field *f = sc->found[rd->gname[i]];
        if (!f)
            return false;
        need += sizeof(uint32_t) + f->value_len + 1;
    }
    if (need > CORR_KEY_MAX)
        return false;
    if (need > sc->keycap) {
        sc->keycap = need < 256 ? 256 : need;
        free(sc->key);
        sc->key = xmalloc(sc->keycap);
    }
    char *p = sc->key;
    for (uint32_t i = 0; i < ngroup; i++) {
        const struct stoat_field *f = sc->found[rd->gname[i]];
        uint32_t len = f->value_len;
        memcpy(p, &len, sizeof(len));
        p += sizeof(len);
        memcpy(p, f->value, len);
        p += len;
        *p++ = 0;
    }
    *keylen = (uint32_t)need;
    return true;
}

static void feed_source(struct corr_engine *e, size_t s, int64_t t, const struct stoat_field *fields, size_t nfields,
                        const char *host, const uint64_t *ids, size_t nids, corr_emit_fn emit, void *ctx)
{
    const struct source *src = &e->src[s];
    struct scratch *sc = &e->sc[e->depth];
    size_t hostlen = host ? strlen(host) : 0;
    uint64_t hosth = host ? hash_bytes(host, hostlen, 0x686f7374ULL) : 0;
    if (sc->nfound < src->nnames) {
        free(sc->found);
        sc->nfound = src->nnames;
        sc->found = xmalloc(sc->nfound * sizeof(*sc->found));
    }
    for (uint32_t k = 0; k < src->nnames; k++)
        sc->found[k] = NULL;
    uint32_t left = src->nnames;
    for (size_t i = 0; i < nfields && left; i++) {
        const struct stoat_field *f = &fields[i];
        if (!f->name || !f->value || f->type == STOAT_V_NULL)
            continue;
        for (uint32_t k = 0; k < src->nnames; k++)
            if (!sc->found[k] && name_is(f->name, f->name_len, src->names[k], src->nlen[k])) {
                sc->found[k] = f;
                left--;
            }
    }
    for (uint32_t r = 0; r < src->nrd; r++) {
        const struct reader *rd = &src->rd[r];
        const struct cinfo *ci = &e->ci[rd->corr];
        if (e->active[rd->corr])
            continue;
        uint32_t keylen;
        double num = 0;
        const char *sv = NULL;
        uint32_t svlen = 0;
        uint64_t svh = 0;
        if (!build_key(sc, rd, ci->ngroup, &keylen)) {
            e->st.unusable++;
            continue;
        }
        if (rd->vname != NO_NAME) {
            const struct stoat_field *f = sc->found[rd->vname];
            if (!f || (ci->numeric && (f->type == STOAT_V_BOOL || !parse_number(f->value, f->value_len, &num) ||
                                       !isfinite(num)))) {
                e->st.unusable++;
                continue;
            }
            if (!ci->numeric) {
                sv = f->value;
                svlen = f->value_len;
                svh = hash_bytes(sv, svlen, 0x76616c7565ULL);
            }
        }
        uint64_t h = hash_bytes(sc->key, keylen, 0x9E3779B97F4A7C15ULL * (rd->corr + 1));
        struct group *g = group_get(e, rd->corr, sc->key, keylen, h);
        lru_unlink(e, g);
        lru_append(e, g);
        note_host(g, host, hostlen, hosth);
        note_alerts(g, t, ids, nids);
        if (ci->rising)
            rising_event(e, g, rd->pos, t, num, sv, svlen, svh, emit, ctx);
        else
            close_event(e, g, rd->pos, t, num, sv, svlen, svh);
        schedule(e, g);
        group_acct(e, g);
        enforce_caps(e, g);
    }
}

/* ------------------------------------------------------------------ API */

void corr_default_opts(struct corr_opts *opts)
{
    opts->lateness_ns = 60 * (int64_t)1000000000;
    opts->max_groups = 100000;
    opts->max_bytes = (size_t)64 << 20;
}

bool corr_reads(const struct corr_engine *e, uint32_t rule)
{
    return e && rule < e->nrules && e->src[rule].nrd > 0;
}

void corr_feed(struct corr_engine *e, const struct corr_input *in, corr_emit_fn emit, void *ctx)
{
    if (!e || !in || e->busy || !corr_reads(e, in->rule))
        return;
    e->st.fed++;
    int64_t t = in->time_ns;
    if (t == INT64_MIN) {
        t = e->clock == CORR_NONE ? 0 : e->clock;
    } else {
        if (e->clock != CORR_NONE && t < sat_sub(e->clock, e->o.lateness_ns)) {
            e->st.late_dropped++;
            return;
        }
        if (e->clock == CORR_NONE || t > e->clock)
            e->clock = t;
    }
    e->busy = true;
    feed_source(e, in->rule, t, in->fields, in->nfields, in->host, &in->alert_id, 1, emit, ctx);
    e->busy = false;
}

void corr_advance(struct corr_engine *e, int64_t now_ns, corr_emit_fn emit, void *ctx)
{
    if (!e || e->busy)
        return;
    bool final = now_ns == INT64_MAX;
    if (!final && now_ns != INT64_MIN && (e->clock == CORR_NONE || now_ns > e->clock))
        e->clock = now_ns;
    if (!final && e->clock == CORR_NONE)
        return;
    int64_t wm = final ? INT64_MAX : sat_sub(e->clock, e->o.lateness_ns);
    e->busy = true;
    while (e->nheap) {
        struct group *g = e->heap[0];
        if (!final && g->due >= wm)
            break;
        const struct cinfo *ci = &e->ci[g->corr];
        int64_t due = group_due(ci, g);
        if (!final && due >= wm) {   /* the key was early: the group moved on */
            g->due = due;
            heap_down(e, 0);
            continue;
        }
        heap_remove(e, g);
        if (!ci->rising) {
            g->pinned++;
            while (g->len) {
                int64_t end = sat_add(ent_at(g, 0)->t, ci->span);
                if (!final && end >= wm)
                    break;
                close_window(e, g, end, emit, ctx);
            }
            g->pinned--;
            group_acct(e, g);
            if (g->len) {
                schedule(e, g);
                continue;
            }
        }
        group_free(e, g);
    }
    e->busy = false;
}

void corr_get_stats(const struct corr_engine *e, struct corr_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (!e)
        return;
    *out = e->st;
    out->groups = e->ngroups;
    out->bytes = engine_bytes(e);
}

/* ---------------------------------------------------------------- build */

static uint32_t source_name(struct source *s, const char *name)
{
    uint32_t fl;
    char *f = fold_dup(name, &fl);
    for (uint32_t i = 0; i < s->nnames; i++)
        if (s->nlen[i] == fl && memcmp(s->names[i], f, fl) == 0) {
            free(f);
            return i;
        }
    s->names = xrealloc(s->names, (s->nnames + 1) * sizeof(*s->names));
    s->nlen = xrealloc(s->nlen, (s->nnames + 1) * sizeof(*s->nlen));
    s->names[s->nnames] = f;
    s->nlen[s->nnames] = fl;
    return s->nnames++;
}

/* Whether an alias's rule reference names the rule at pos. */
static bool ref_is(const struct stoat_ruleset *rs, const struct correlation *k, uint32_t pos, const char *ref)
{
    if (strcmp(ref, k->corr.rules[pos]) == 0)
        return true;
    long ix = k->rule_index[pos];
    const struct stoat_rule_meta *m = ix >= 0 ? &rs->rules[ix].meta : ix <= -2 ? &rs->corrs[-2 - ix].meta : NULL;
    return m && ((m->id && strcmp(m->id, ref) == 0) || (m->name && strcmp(m->name, ref) == 0));
}

/* The field that the rule at pos calls `name` (aliases resolved). */
static const char *field_for(const struct stoat_ruleset *rs, const struct correlation *k, uint32_t pos,
                             const char *name)
{
    for (size_t i = 0; i < k->corr.naliases; i++) {
        const struct sigma_corr_alias *a = &k->corr.aliases[i];
        if (strcmp(a->name, name) != 0)
            continue;
        for (size_t j = 0; j < a->n; j++)
            if (ref_is(rs, k, pos, a->rules[j]))
                return a->fields[j];
        break;
    }
    return name;
}

static void cinfo_init(struct corr_engine *e, uint32_t c)
{
    const struct correlation *k = &e->rs->corrs[c];
    struct cinfo *ci = &e->ci[c];
    struct stoat_corr_condition *cc = &ci->cond;
    ci->c = k;
    ci->type = k->corr.type;
    ci->span = k->corr.timespan_ms > INT64_MAX / 1000000 ? INT64_MAX : k->corr.timespan_ms * 1000000;
    ci->n = (uint32_t)k->corr.nrules;
    ci->ngroup = (uint32_t)k->corr.ngroup_by;
    *cc = k->corr.cond;
    bool temporal = ci->type == STOAT_CORR_TEMPORAL || ci->type == STOAT_CORR_TEMPORAL_ORDERED;
    if (temporal && !(cc->has_gt || cc->has_gte || cc->has_lt || cc->has_lte || cc->has_eq || cc->has_neq)) {
        cc->has_gte = true;
        cc->gte = ci->n;
    }
    ci->share = ci->type == STOAT_CORR_VALUE_PERCENTILE && !cc->has_percentile;
    ci->numeric = ci->type == STOAT_CORR_VALUE_SUM || ci->type == STOAT_CORR_VALUE_AVG ||
                  (ci->type == STOAT_CORR_VALUE_PERCENTILE && cc->has_percentile);
    ci->rising = !ci->share && (cc->has_gt || cc->has_gte);
    ci->slots = ci->share || (ci->type == STOAT_CORR_VALUE_COUNT && !ci->rising);
    ci->keep = CORR_KEEP_ALL;
    if (ci->rising && (ci->type == STOAT_CORR_EVENT_COUNT || ci->type == STOAT_CORR_VALUE_COUNT)) {
        /* counts above every bound compare alike: keep one more than the largest */
        double m = 0;
        const bool has[] = {cc->has_gt, cc->has_gte, cc->has_lt, cc->has_lte, cc->has_eq, cc->has_neq};
        const double val[] = {cc->gt, cc->gte, cc->lt, cc->lte, cc->eq, cc->neq};
        for (size_t i = 0; i < sizeof(has) / sizeof(has[0]); i++)
            if (has[i] && val[i] > m)
                m = val[i];
        if (m < 1e9)
            ci->keep = (size_t)floor(m) + 2;
    }
    if (ci->rising && ci->type == STOAT_CORR_VALUE_PERCENTILE)
        ci->keep = CORR_SAMPLE_MAX;
    ci->names = xcalloc(ci->ngroup + 1, sizeof(*ci->names));
    for (uint32_t i = 0; i < ci->ngroup; i++)
        ci->names[i] = k->corr.group_by[i];
    if (ci->share)
        ci->names[ci->ngroup] = cc->field;
}

static void add_reader(struct corr_engine *e, uint32_t c, uint32_t pos)
{
    const struct correlation *k = &e->rs->corrs[c];
    const struct cinfo *ci = &e->ci[c];
    long ix = k->rule_index[pos];
    size_t s;
    if (ix >= 0 && (size_t)ix < e->nrules)
        s = (size_t)ix;
    else if (ix <= -2 && (size_t)(-2 - ix) < e->ncorrs)
        s = e->nrules + (size_t)(-2 - ix);
    else
        return;   /* not loaded: the loader warned */
    struct source *src = &e->src[s];
    if (ci->type != STOAT_CORR_TEMPORAL_ORDERED)
        for (uint32_t i = 0; i < src->nrd; i++)
            if (src->rd[i].corr == c)
                return;   /* named twice: one event still counts once */
    src->rd = xrealloc(src->rd, (src->nrd + 1) * sizeof(*src->rd));
    struct reader *rd = &src->rd[src->nrd++];
    rd->corr = c;
    rd->pos = pos;
    rd->gname = xmalloc((ci->ngroup ? ci->ngroup : 1) * sizeof(*rd->gname));
    for (uint32_t i = 0; i < ci->ngroup; i++)
        rd->gname[i] = source_name(src, field_for(e->rs, k, pos, k->corr.group_by[i]));
    bool valued = ci->type == STOAT_CORR_VALUE_COUNT || ci->type == STOAT_CORR_VALUE_SUM ||
                  ci->type == STOAT_CORR_VALUE_AVG || ci->type == STOAT_CORR_VALUE_PERCENTILE;
    rd->vname = valued && ci->cond.field ? source_name(src, field_for(e->rs, k, pos, ci->cond.field)) : NO_NAME;
}

struct corr_engine *corr_create(const struct stoat_ruleset *rs, const struct corr_opts *opts)
{
    struct corr_engine *e = NULL;
    if (!rs || !rs->ncorrs)
        goto out;
    e = xcalloc(1, sizeof(*e));
    corr_default_opts(&e->o);
    if (opts) {
        e->o.lateness_ns = opts->lateness_ns < 0 ? 0 : opts->lateness_ns;
        if (opts->max_groups)
            e->o.max_groups = opts->max_groups;
        if (opts->max_bytes)
            e->o.max_bytes = opts->max_bytes;
    }
    e->rs = rs;
    e->nrules = rs->nrules;
    e->ncorrs = rs->ncorrs;
    e->nsrc = e->nrules + e->ncorrs;
    e->ci = xcalloc(e->ncorrs, sizeof(*e->ci));
    e->src = xcalloc(e->nsrc, sizeof(*e->src));
    e->active = xcalloc(e->ncorrs, sizeof(*e->active));
    e->clock = CORR_NONE;
    uint32_t maxn = 1;
    for (uint32_t c = 0; c < e->ncorrs; c++) {
        cinfo_init(e, c);
        if (e->ci[c].n > maxn)
            maxn = e->ci[c].n;
    }
    e->seen = xcalloc(maxn, 1);
    for (uint32_t c = 0; c < e->ncorrs; c++) {
        const struct correlation *k = &rs->corrs[c];
        if (!k->rule_index)
            continue;
        for (size_t p = 0; p < k->corr.nrules; p++) {
            long ix = k->rule_index[p];
            if (ix <= -2 && (size_t)(-2 - ix) < e->ncorrs && !k->corr.generate)
                e->ci[-2 - ix].hidden = true;
        }
        /* an ordered correlation takes an event for its later positions first,
         * so that one event never chains with itself */
        bool ordered = e->ci[c].type == STOAT_CORR_TEMPORAL_ORDERED;
        for (uint32_t i = 0; i < e->ci[c].n; i++)
            add_reader(e, c, ordered ? e->ci[c].n - 1 - i : i);
    }
    e->nbucket = 64;
    e->bucket = xcalloc(e->nbucket, sizeof(*e->bucket));
out:
    return e;
}

void corr_destroy(struct corr_engine *e)
{
    if (!e)
        return;
    while (e->lru_first)
        group_free(e, e->lru_first);
    for (size_t s = 0; s < e->nsrc; s++) {
        struct source *src = &e->src[s];
        for (uint32_t i = 0; i < src->nrd; i++)
            free(src->rd[i].gname);
        for (uint32_t i = 0; i < src->nnames; i++)
            free(src->names[i]);
        free(src->rd);
        free(src->names);
        free(src->nlen);
    }
    for (size_t c = 0; c < e->ncorrs; c++)
        free(e->ci[c].names);
    for (size_t i = 0; i <= CORR_DEPTH_MAX; i++) {
        free(e->sc[i].found);
        free(e->sc[i].key);
        free(e->sc[i].fields);
    }
    free(e->ci);
    free(e->src);
    free(e->active);
    free(e->bucket);
    free(e->heap);
    free(e->dbl);
    free(e->seen);
    free(e);
}
