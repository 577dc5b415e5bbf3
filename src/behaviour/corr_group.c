/* Group state of the correlation engine: where each group keeps its window
 * and how all groups stay within the caps (see corr_engine.c for the whole).
 *
 * Why it works this way. A group's events are a ring of entries in time
 * order, merged when they share a time and a rule or value, so a burst
 * costs one entry; an in-order event appends, a late one is placed by
 * binary search. Distinct values (value_count, shares) live in a small hash
 * table of slots, also linked by their last time so the oldest is found at
 * once. Groups are one hash table keyed by (correlation, group-by values),
 * a timer heap ordered by when each can next change without an event (its
 * key may be early, never late), and an LRU list by last feed. Every byte a
 * group holds is accounted when it changes, so the caps are checked against
 * a running total: a group grows only when there is room, after evicting
 * the least recently fed groups, and when one group alone is too big its
 * oldest events go (a temporal_ordered group folds them into its chain
 * state instead). */
#include "behaviour/correlate_int.h"

#include <string.h>

#include "util/mem.h"

/* ------------------------------------------------------------- entries */

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
        ents_resize(g, g->cap ? g->cap * 2 : 8); /* not reached */
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

void corr_vt_unlink(struct vtab *vt, uint32_t i)
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
void corr_vt_link(struct vtab *vt, uint32_t i)
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

void corr_vt_release(struct vtab *vt, uint32_t i)
{
    struct vslot *x = &vt->v[i];
    corr_vt_unlink(vt, i);
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
        b += sizeof(*g->vt) + g->vt->cap * sizeof(struct vslot) + g->vt->nbucket * sizeof(uint32_t) + g->vt->strbytes;
    if (g->al_t)
        b += CORR_ALERTS_MAX * (sizeof(int64_t) + sizeof(uint64_t));
    if (g->host)
        b += g->hostlen + 1;
    return b;
}

void corr_group_acct(struct corr_engine *e, struct group *g)
{
    size_t b = group_size(e, g);
    e->gbytes = e->gbytes - g->bytes + b;
    g->bytes = b;
}

size_t corr_engine_bytes(const struct corr_engine *e)
{
    return e->gbytes + e->nbucket * sizeof(*e->bucket) + e->heapcap * sizeof(*e->heap);
}

/* When the group's state can next change without an event: a tumbling
 * window's end, or a sliding window's last moment (then it is freed). */
int64_t corr_group_due(const struct cinfo *ci, const struct group *g)
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

void corr_heap_down(struct corr_engine *e, size_t i)
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

void corr_heap_remove(struct corr_engine *e, struct group *g)
{
    size_t i = g->heap_at;
    struct group *last = e->heap[--e->nheap];
    g->heap_at = NOT_QUEUED;
    if (i < e->nheap) {
        heap_set(e, i, last);
        heap_up(e, i);
        corr_heap_down(e, last->heap_at);
    }
}

void corr_schedule(struct corr_engine *e, struct group *g)
{
    int64_t due = corr_group_due(&e->ci[g->corr], g);
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

void corr_group_free(struct corr_engine *e, struct group *g)
{
    if (g->heap_at != NOT_QUEUED)
        corr_heap_remove(e, g);
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

/* The group of (corr, key), made when new; either way it becomes the most
 * recently fed (the end of the LRU list). */
struct group *corr_group_get(struct corr_engine *e, uint32_t corr, const char *key, uint32_t keylen, uint64_t h)
{
    for (struct group *g = e->bucket[h & (e->nbucket - 1)]; g; g = g->hnext)
        if (g->hash == h && g->corr == corr && g->keylen == keylen && (!keylen || memcmp(g->key, key, keylen) == 0)) {
            lru_unlink(e, g);
            lru_append(e, g);
            return g;
        }
    const struct cinfo *ci = &e->ci[corr];
    struct group *g = xcalloc(1, sizeof(*g) + keylen);
    g->hash = h;
    g->corr = corr;
    g->heap_at = NOT_QUEUED;
    g->newest = CORR_NONE;
    g->armed = true;
    if (keylen) /* a correlation without group-by has one group, keyed by nothing (key may be NULL) */
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
    corr_group_acct(e, g);
    return g;
}

/* ------------------------------------------------------------ dropping */

static void sum_recompute(struct group *g)
{
    double s = 0;
    for (uint32_t i = 0; i < g->len; i++)
        s += ent_at(g, i)->v;
    g->sum = s;
    g->pops = 0;
}

/* Removes the oldest entry and what it added to the aggregates. */
void corr_drop_head(const struct cinfo *ci, struct group *g)
{
    struct ent *x = ent_at(g, 0);
    uint32_t aux = x->aux;
    g->count -= x->n;
    if (ci->numeric)
        g->sum -= x->v;
    ents_pop(g);
    if (ci->slots && --g->vt->v[aux].refs == 0)
        corr_vt_release(g->vt, aux);
    if (ci->numeric && (!g->len || ++g->pops >= 4096))
        sum_recompute(g); /* what subtraction drifted, from the entries (0 when none) */
}

void corr_ordered_fold(const struct cinfo *ci, struct group *g, int64_t until)
{
    while (g->len && ent_at(g, 0)->t < until) {
        struct ent *x = ent_at(g, 0);
        corr_ordered_step(g->pt + ci->n, x->aux, x->t);
        g->count -= x->n;
        ents_pop(g);
    }
}

/* -------------------------------------------------------- memory caps */

/* Drops the least recently fed groups (not cur) until the caps hold with
 * `extra` more bytes; false when they cannot. */
static bool make_room(struct corr_engine *e, struct group *cur, size_t extra)
{
    struct group *v = e->lru_first;
    while (v && (e->ngroups > e->o.max_groups || corr_engine_bytes(e) + extra > e->o.max_bytes)) {
        struct group *next = v->lnext;
        if (v != cur && !v->pinned) {
            corr_group_free(e, v);
            e->st.evicted_groups++;
        }
        v = next;
    }
    return corr_engine_bytes(e) + extra <= e->o.max_bytes;
}

void corr_enforce_caps(struct corr_engine *e, struct group *cur)
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
            corr_ordered_fold(ci, g, sat_add(ent_at(g, 0)->t, 1));
        } else {
            e->st.evicted_events += ent_at(g, 0)->n;
            corr_drop_head(ci, g);
            dropped = true;
        }
    }
    corr_group_acct(e, g);
    return dropped;
}

/* The slot of value s, made when new; at the caps the oldest value (rising
 * value_count) or the oldest events go to free one. */
uint32_t corr_vt_add(struct corr_engine *e, struct group *g, const char *s, uint32_t len, uint64_t h)
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
            corr_vt_release(vt, vt->first);
        } else {
            while (g->len && vt->free == NO_SLOT) {
                e->st.evicted_events += ent_at(g, 0)->n;
                corr_drop_head(ci, g);
            }
        }
    }
    i = vt_new_slot(vt, s, len, h);
    corr_group_acct(e, g);
    return i;
}

/* -------------------------------------------------------------- adding */

bool corr_add_point(struct corr_engine *e, struct group *g, int64_t t, double v, uint32_t aux, bool merge)
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
        i = ents_after(g, t); /* the oldest went to make room */
    struct ent *x = ents_open(g, i);
    x->t = t;
    x->v = v;
    x->n = 1;
    x->aux = aux;
    return true;
}
