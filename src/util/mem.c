/* See mem.h: abort-on-exhaustion allocators and a bump arena. The arena's
 * reset keeps one block, sized to the largest request seen, so that a
 * per-event scratch arena settles into zero malloc calls per event. */
#include "util/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

struct arena_block {
    struct arena_block *next;
    size_t size;
    char data[];
};

static void oom(size_t n)
{
    fprintf(stderr, "stoat: out of memory (allocating %zu bytes)\n", n);
    abort();
}

void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p)
        oom(n);
    return p;
}

void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p)
        oom(n * size);
    return p;
}

/* Big tables whose every page gets touched (hash maps probed at random,
 * rings filled in turn): on a virtual machine each 4 KiB page's first touch
 * costs a fault of some microseconds, and a table of tens of MiB pays
 * thousands. Transparent huge pages (where the kernel offers them on
 * request) fault 2 MiB at a time, but only over 2 MiB-aligned stretches:
 * calloc's mapping starts anywhere, so a 4 MiB table got one huge page and
 * 512 small ones. A table of 2 MiB or more is therefore a mapping of its
 * own, aligned and rounded to 2 MiB (the rounding is address space only,
 * never touched), which the kernel hands out zeroed. */
#define HUGE_PAGE ((size_t)2 << 20)

static size_t big_bytes(size_t n, size_t size)
{
    if (size && n > SIZE_MAX / size - HUGE_PAGE)
        oom(SIZE_MAX);
    return n * size;
}

void *xcalloc_big(size_t n, size_t size)
{
    size_t bytes = big_bytes(n, size);
    if (bytes < HUGE_PAGE)
        return xcalloc(n, size);
    size_t len = (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1), span = len + HUGE_PAGE;
    char *m = mmap(NULL, span, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        oom(bytes);
    char *p = (char *)(((uintptr_t)m + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1));
    if (p > m)
        munmap(m, (size_t)(p - m));
    if (m + span > p + len)
        munmap(p + len, (size_t)(m + span - (p + len)));
#ifdef MADV_HUGEPAGE
    (void)madvise(p, len, MADV_HUGEPAGE); /* advice only: without it, small pages */
#endif
    return p;
}

void xfree_big(void *p, size_t n, size_t size)
{
    if (!p)
        return;
    size_t bytes = n * size;
    if (bytes < HUGE_PAGE)
        free(p);
    else
        munmap(p, (bytes + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
}

void *xrealloc(void *p, size_t n)
{
    void *q = realloc(p, n ? n : 1);
    if (!q)
        oom(n);
    return q;
}

char *xstrdup(const char *s)
{
    return xstrndup(s, strlen(s));
}

char *xstrndup(const char *s, size_t n)
{
    char *p = xmalloc(n + 1);
    memcpy(p, s, n);
    p[n] = 0;
    return p;
}

void xgrow(void **p, size_t *cap, size_t need, size_t esz)
{
    if (need <= *cap)
        return;
    size_t nc = *cap ? *cap : 8;
    while (nc < need)
        nc *= 2;
    *p = xrealloc(*p, nc * esz);
    *cap = nc;
}

void arena_init(struct arena *a, size_t block_size)
{
    memset(a, 0, sizeof(*a));
    a->block_size = block_size ? block_size : 4096;
}

static void arena_new_block(struct arena *a, size_t n)
{
    size_t size = a->block_size;
    while (size < n)
        size *= 2;
    struct arena_block *b = xmalloc(sizeof(*b) + size);
    b->size = size;
    b->next = a->head;
    a->head = b;
    a->cur = b->data;
    a->end = b->data + size;
}

void *arena_alloc(struct arena *a, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if ((size_t)(a->end - a->cur) < n)
        arena_new_block(a, n);
    void *p = a->cur;
    a->cur += n;
    a->used += n;
    return p;
}

void *arena_zalloc(struct arena *a, size_t n)
{
    void *p = arena_alloc(a, n);
    memset(p, 0, n);
    return p;
}

char *arena_strndup(struct arena *a, const char *s, size_t n)
{
    char *p = arena_alloc(a, n + 1);
    if (n)
        memcpy(p, s, n);
    p[n] = 0;
    return p;
}

char *arena_strdup(struct arena *a, const char *s)
{
    return arena_strndup(a, s, strlen(s));
}

void *arena_memdup(struct arena *a, const void *src, size_t n)
{
    void *p = arena_alloc(a, n);
    if (n)
        memcpy(p, src, n);
    return p;
}

void arena_reset(struct arena *a)
{
    if (!a->head)
        return;
    /* Keep the biggest block; when several exist, grow the default so the
     * next round fits in one. */
    struct arena_block *keep = a->head;
    size_t total = 0;
    for (struct arena_block *b = a->head; b; b = b->next) {
        total += b->size;
        if (b->size > keep->size)
            keep = b;
    }
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        if (b != keep)
            free(b);
        b = next;
    }
    if (total > keep->size && a->block_size < total)
        a->block_size = total;
    keep->next = NULL;
    a->head = keep;
    a->cur = keep->data;
    a->end = keep->data + keep->size;
    a->used = 0;
}

void arena_free(struct arena *a)
{
    struct arena_block *b = a->head;
    while (b) {
        struct arena_block *next = b->next;
        free(b);
        b = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->used = 0;
}
