/* See scan_layout.h. A class's field databases read overlapping sets of
 * fields (a big group's shared database, the merged database of the small
 * groups, single fields), so no order suits them all: the two largest sets
 * are laid as A-only, both, B-only, each later set goes after them when its
 * placed fields end the order, and a set that fits nowhere is copied. */
#include "engine/scan_layout.h"

#include <stdlib.h>

#include "util/mem.h"

/* One field database's fields, deduplicated (two renames may read one). */
struct fset {
    uint32_t k; /* its index among the class's field databases */
    uint32_t n;
    uint32_t *ids;
};

static uint32_t find(const uint32_t *v, uint32_t n, uint32_t id)
{
    for (uint32_t i = 0; i < n; i++)
        if (v[i] == id)
            return i;
    return UINT32_MAX;
}

static void set_of(struct fset *s, uint32_t k, const uint32_t *ids, uint32_t n)
{
    s->k = k;
    s->n = 0;
    s->ids = xcalloc(n ? n : 1, sizeof(*s->ids));
    for (uint32_t i = 0; i < n; i++)
        if (find(s->ids, s->n, ids[i]) == UINT32_MAX)
            s->ids[s->n++] = ids[i];
}

static bool in_set(const struct fset *s, uint32_t id)
{
    return find(s->ids, s->n, id) != UINT32_MAX;
}

static int by_size_desc(const void *a, const void *b)
{
    const struct fset *x = a, *y = b;
    if (x->n != y->n)
        return x->n > y->n ? -1 : 1;
    return x->k < y->k ? -1 : x->k > y->k;
}

/* Appends the fields of s not in the order yet; when some are, only if
 * they are the order's last entries (s stays one span). */
static void place(struct scan_layout *l, const struct fset *s)
{
    uint32_t placed = 0, lo = UINT32_MAX;
    for (uint32_t i = 0; i < s->n; i++) {
        uint32_t p = find(l->order, l->norder, s->ids[i]);
        if (p != UINT32_MAX) {
            placed++;
            lo = p < lo ? p : lo;
        }
    }
    if (placed && lo != l->norder - placed)
        return; /* its placed fields are not the tail, or not adjacent: copied */
    for (uint32_t i = 0; i < s->n; i++)
        if (find(l->order, l->norder, s->ids[i]) == UINT32_MAX)
            l->order[l->norder++] = s->ids[i];
}

/* The class's field databases, k in scan_layout order; keyword ones left
 * out (n = 0). Returns how many slots k there are. */
static uint32_t collect_sets(const struct stoat_ruleset *rs, const struct route_class *cls, struct fset **out)
{
    uint32_t ndb = 0;
    for (uint32_t gi = 0; gi < cls->ngroups; gi++)
        ndb += rs->groups[cls->group[gi]].ndbs;
    uint32_t nk = ndb + cls->nmerges;
    struct fset *s = xcalloc(nk + 1, sizeof(*s));
    for (uint32_t k = 0; k < ndb; k++) {
        const uint32_t *ids = cls->db_fields + cls->db_off[k];
        uint32_t n = cls->db_off[k + 1] - cls->db_off[k];
        bool keywords = scan_every_value(ids, n);
        set_of(&s[k], k, ids, keywords ? 0 : n);
    }
    for (uint32_t m = 0; m < cls->nmerges; m++) {
        const struct class_merge *cm = &cls->merges[m];
        bool keywords = scan_every_value(cm->fields, cm->nfields);
        set_of(&s[ndb + m], ndb + m, cm->fields, keywords ? 0 : cm->nfields);
    }
    *out = s;
    return nk;
}

struct scan_layout *scan_layout_build(const struct stoat_ruleset *rs, const struct route_class *cls)
{
    struct fset *s;
    uint32_t nk = collect_sets(rs, cls, &s);
    size_t total = 0;
    for (uint32_t k = 0; k < nk; k++)
        total += s[k].n;
    struct scan_layout *l = xcalloc(1, sizeof(*l));
    l->keyword_min = cls->keyword_min;
    l->ndbs = nk;
    l->order = xcalloc(total + 1, sizeof(*l->order));
    l->first = xcalloc(nk + 1, sizeof(*l->first));
    l->last = xcalloc(nk + 1, sizeof(*l->last));
    struct fset *sorted = xcalloc(nk + 1, sizeof(*sorted));
    for (uint32_t k = 0; k < nk; k++)
        sorted[k] = s[k];
    qsort(sorted, nk, sizeof(*sorted), by_size_desc);
    if (nk >= 2 && sorted[1].n >= 2) {
        /* A-only, then both: B's part of A ends the order, B-only follows */
        const struct fset *a = &sorted[0], *b = &sorted[1];
        for (uint32_t pass = 0; pass < 2; pass++)
            for (uint32_t i = 0; i < a->n; i++)
                if (in_set(b, a->ids[i]) == (pass == 1))
                    l->order[l->norder++] = a->ids[i];
    }
    for (uint32_t k = 0; k < nk; k++)
        place(l, &sorted[k]);
    /* each set's span, checked rather than trusted to the placing */
    for (uint32_t k = 0; k < nk; k++) {
        uint32_t lo = UINT32_MAX, hi = 0, found = 0;
        for (uint32_t i = 0; i < s[k].n; i++) {
            uint32_t p = find(l->order, l->norder, s[k].ids[i]);
            if (p == UINT32_MAX)
                break;
            found++;
            lo = p < lo ? p : lo;
            hi = p + 1 > hi ? p + 1 : hi;
        }
        bool span = s[k].n && found == s[k].n && hi - lo == s[k].n;
        l->first[k] = span ? lo : SPAN_COPY;
        l->last[k] = span ? hi : 0;
    }
    for (uint32_t k = 0; k < nk; k++)
        free(s[k].ids);
    free(s);
    free(sorted);
    return l;
}

void scan_layout_free(struct scan_layout *l)
{
    if (!l)
        return;
    free(l->order);
    free(l->first);
    free(l->last);
    free(l);
}
