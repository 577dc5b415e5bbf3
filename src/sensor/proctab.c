/* The sensor's process table: (pid, start time) -> image, command line,
 * parent, for ParentImage/ParentCommandLine and for the Image of network and
 * file events (those records carry only the pid).
 *
 * Why it works this way:
 * - The key is the pair (tgid, start time): pids are reused, start times make
 *   the pair unique for the life of the boot.
 * - Bounded: a fixed pool of entries allocated at open, no growth. Entries of
 *   live processes sit on an LRU list (touched on fork/exec), entries of
 *   exited processes on a FIFO, because a child's exec or a late network
 *   record may still need a parent that just exited. Eviction when the pool
 *   is full: the oldest exited entry first; if none, the least recently
 *   touched live entry (counted in sensor_stats.proc_table_evictions; such a
 *   process is read again from /proc if it is still alive).
 * - Exited entries beyond a quarter of the pool are recycled at once, so a
 *   storm of short processes cannot push out long-lived parents.
 * - Chained hashing on tgid with indexes, not pointers, so the pool is one
 *   allocation and the links cannot dangle.
 */
#include "sensor/sensor_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct plist {
    uint32_t head, tail, n;
};

struct proctab {
    struct proc_info *e; /* pool */
    uint32_t cap;
    uint32_t *bucket;  /* index+1 */
    uint32_t nbucket;  /* power of two */
    uint32_t freelist; /* via hnext */
    struct plist live, dead;
    uint64_t evictions;
    size_t count;
};

static uint32_t hash_tgid(uint32_t t)
{
    return t * 2654435761u;
}

static void list_unlink(struct proctab *pt, struct plist *l, uint32_t i)
{
    struct proc_info *p = &pt->e[i - 1];
    if (p->prev)
        pt->e[p->prev - 1].next = p->next;
    else
        l->head = p->next;
    if (p->next)
        pt->e[p->next - 1].prev = p->prev;
    else
        l->tail = p->prev;
    p->prev = p->next = 0;
    l->n--;
}

static void list_append(struct proctab *pt, struct plist *l, uint32_t i)
{
    struct proc_info *p = &pt->e[i - 1];
    p->prev = l->tail;
    p->next = 0;
    if (l->tail)
        pt->e[l->tail - 1].next = i;
    else
        l->head = i;
    l->tail = i;
    l->n++;
}

static struct plist *list_of(struct proctab *pt, struct proc_info *p)
{
    return p->on_list == 2 ? &pt->dead : &pt->live;
}

struct proctab *proctab_new(size_t cap)
{
    struct proctab *pt = NULL;
    if (cap < 16)
        cap = 16;
    if (cap > (1u << 22))
        cap = 1u << 22;
    pt = calloc(1, sizeof(*pt));
    if (!pt)
        goto fail;
    pt->cap = (uint32_t)cap;
    pt->nbucket = 1;
    while (pt->nbucket < pt->cap)
        pt->nbucket <<= 1;
    pt->e = calloc(pt->cap, sizeof(*pt->e));
    pt->bucket = calloc(pt->nbucket, sizeof(*pt->bucket));
    if (!pt->e || !pt->bucket)
        goto fail;
    for (uint32_t i = pt->cap; i >= 1; i--) {
        pt->e[i - 1].hnext = pt->freelist;
        pt->freelist = i;
    }
    return pt;
fail:
    proctab_free(pt);
    return NULL;
}

void proctab_free(struct proctab *pt)
{
    if (!pt)
        return;
    if (pt->e)
        for (uint32_t i = 0; i < pt->cap; i++) {
            free(pt->e[i].image);
            free(pt->e[i].cmdline);
        }
    free(pt->e);
    free(pt->bucket);
    free(pt);
}

static bool start_match(uint64_t a, uint64_t b)
{
    uint64_t tick = proc_ticks_to_ns(1);
    uint64_t d = a > b ? a - b : b - a;
    return d <= tick;
}

struct proc_info *proctab_get(struct proctab *pt, uint32_t tgid, uint64_t start_ns)
{
    struct proc_info *best = NULL;
    if (!pt)
        return NULL;
    for (uint32_t i = pt->bucket[hash_tgid(tgid) & (pt->nbucket - 1)]; i; i = pt->e[i - 1].hnext) {
        struct proc_info *p = &pt->e[i - 1];
        if (p->tgid != tgid)
            continue;
        if (start_ns == 0) {
            if (!p->exited && (!best || p->start_ns > best->start_ns))
                best = p;
            continue;
        }
        if (p->start_ns == start_ns)
            return p;
        if (!best && start_match(p->start_ns, start_ns))
            best = p;
    }
    return best;
}

static void evict(struct proctab *pt, uint32_t i)
{
    struct proc_info *p = &pt->e[i - 1];
    uint32_t *link = &pt->bucket[hash_tgid(p->tgid) & (pt->nbucket - 1)];
    while (*link && *link != i)
        link = &pt->e[*link - 1].hnext;
    if (*link == i)
        *link = p->hnext;
    list_unlink(pt, list_of(pt, p), i);
    free(p->image);
    free(p->cmdline);
    memset(p, 0, sizeof(*p));
    p->hnext = pt->freelist;
    pt->freelist = i;
    pt->count--;
}

struct proc_info *proctab_put(struct proctab *pt, uint32_t tgid, uint64_t start_ns)
{
    struct proc_info *p = proctab_get(pt, tgid, start_ns);
    uint32_t i;
    if (!pt)
        return NULL;
    if (p) {
        i = (uint32_t)(p - pt->e) + 1;
        list_unlink(pt, list_of(pt, p), i);
        list_append(pt, list_of(pt, p), i);
        return p;
    }
    if (!pt->freelist) {
        if (pt->dead.head)
            evict(pt, pt->dead.head);
        else
            evict(pt, pt->live.head);
        pt->evictions++;
    }
    i = pt->freelist;
    p = &pt->e[i - 1];
    pt->freelist = p->hnext;
    memset(p, 0, sizeof(*p));
    p->tgid = tgid;
    p->start_ns = start_ns;
    p->on_list = 1;
    uint32_t *b = &pt->bucket[hash_tgid(tgid) & (pt->nbucket - 1)];
    p->hnext = *b;
    *b = i;
    list_append(pt, &pt->live, i);
    pt->count++;
    return p;
}

void proctab_exited(struct proctab *pt, struct proc_info *p)
{
    uint32_t i;
    if (!pt || !p || p->on_list != 1)
        return;
    i = (uint32_t)(p - pt->e) + 1;
    list_unlink(pt, &pt->live, i);
    p->exited = true;
    p->on_list = 2;
    list_append(pt, &pt->dead, i);
    while (pt->dead.n > pt->cap / 4 && pt->dead.head)
        evict(pt, pt->dead.head);
}

uint64_t proctab_evictions(const struct proctab *pt)
{
    return pt ? pt->evictions : 0;
}
size_t proctab_count(const struct proctab *pt)
{
    return pt ? pt->count : 0;
}
size_t proctab_capacity(const struct proctab *pt)
{
    return pt ? pt->cap : 0;
}

int proctab_set(char **dst, const char *s, size_t len)
{
    char *n;
    if (len > SENSOR_CMDLINE_KEEP)
        len = SENSOR_CMDLINE_KEEP;
    if (*dst && strlen(*dst) == len && memcmp(*dst, s, len) == 0)
        return 0;
    n = malloc(len + 1);
    if (!n)
        return -ENOMEM;
    memcpy(n, s, len);
    n[len] = 0;
    free(*dst);
    *dst = n;
    return 0;
}
