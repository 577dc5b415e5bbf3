/* See mem.h: abort-on-exhaustion allocators and a bump arena. The arena's
 * reset keeps one block, sized to the largest request seen, so that a
 * per-event scratch arena settles into zero malloc calls per event. */
#include "util/mem.h"

#include <malloc.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

struct arena_block {
    struct arena_block *next;
    size_t size;
    size_t mapped; /* a huge arena's block: the length of its mapping (else 0, from malloc) */
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

void *xcalloc_aligned(size_t align, size_t n, size_t size)
{
    if (size && n > (SIZE_MAX - align) / size)
        oom(SIZE_MAX);
    size_t bytes = (n * size + align - 1) & ~(align - 1); /* aligned_alloc's size is a multiple of align */
    void *p = aligned_alloc(align, bytes ? bytes : align);
    if (!p)
        oom(bytes);
    return memset(p, 0, bytes ? bytes : align);
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

void *xmap_huge(size_t *len)
{
    size_t n = (*len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1);
    if (n < *len)
        oom(*len);
    /* a huge page more than asked, to cut an aligned run out of */
    uint8_t *m = mmap(NULL, n + HUGE_PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED)
        oom(n);
    size_t head = (HUGE_PAGE - ((uintptr_t)m & (HUGE_PAGE - 1))) & (HUGE_PAGE - 1);
    if (head)
        munmap(m, head);
    if (HUGE_PAGE - head)
        munmap(m + head + n, HUGE_PAGE - head);
#ifdef MADV_HUGEPAGE
    (void)madvise(m + head, n, MADV_HUGEPAGE); /* advice only: without it, small pages */
#endif
    *len = n;
    return m + head;
}

void xunmap_huge(void *p, size_t len)
{
    if (p)
        munmap(p, (len + HUGE_PAGE - 1) & ~(HUGE_PAGE - 1));
}

/* Why the heap on huge pages: on the virtual machines stoat runs on, the
 * first touch of each fresh 4 KiB page is a trap that costs tens of
 * microseconds (a hypervisor shadows the page tables), and a warm rule
 * load touched some 500 pages of heap; a transparent huge page costs one
 * trap for 512 of them (perf record -e page-faults -d). The kernel gives
 * them only on advice (the usual THP setting "madvise"), and glibc advises
 * only when told at start-up by an environment variable. So the heap is
 * grown once by `bytes` (a block that large, freed again), that span
 * advised, and the unaligned start below its first huge page held by a
 * block never touched, so that what is allocated next lands on huge pages.
 * glibc keeps `bytes` free above the heap's top when it trims it (M_TOP_PAD,
 * also what it adds when it grows it), so the span is never handed back
 * and advised again; blocks up to 4 MiB come from the heap too rather than
 * mappings of their own (xcalloc_big advises larger ones). Each step is
 * advice: where one fails, small pages, as before. Call it first thing,
 * before threads. */
static void *volatile heap_below; /* kept, never touched but for its header's page (and no leak to a checker) */

void mem_heap_on_huge_pages(size_t bytes)
{
#if defined(MADV_HUGEPAGE) && defined(M_TOP_PAD)
    if (bytes < 2 * HUGE_PAGE || bytes > ((size_t)16 << 20))
        return;
    if (!mallopt(M_MMAP_THRESHOLD, (int)(bytes + HUGE_PAGE)))
        return;
    uintptr_t start = (uintptr_t)sbrk(0);
    void *volatile grow = malloc(bytes); /* volatile: a malloc freed unused is otherwise left out */
    uintptr_t top = (uintptr_t)sbrk(0);
    bool heap = grow && (uintptr_t)grow < top && top - start >= bytes;
    mallopt(M_TOP_PAD, (int)bytes); /* before the free, which would trim the heap back */
    free(grow);
    mallopt(M_MMAP_THRESHOLD, 4 << 20);
    if (!heap)
        return; /* no heap to grow (brk refused): malloc took a mapping */
    uintptr_t lo = ((uintptr_t)grow + HUGE_PAGE - 1) & ~(uintptr_t)(HUGE_PAGE - 1);
    uintptr_t hi = (uintptr_t)sbrk(0) & ~(uintptr_t)(HUGE_PAGE - 1);
    if (hi <= lo || madvise((void *)lo, hi - lo, MADV_HUGEPAGE) != 0)
        return;
    if (lo - (uintptr_t)grow >= 64)
        heap_below = malloc(lo - (uintptr_t)grow);
#else
    (void)bytes;
#endif
}

void *xcalloc_big(size_t n, size_t size)
{
    size_t bytes = big_bytes(n, size);
    if (bytes < HUGE_PAGE)
        return xcalloc(n, size);
    return xmap_huge(&bytes);
}

void xfree_big(void *p, size_t n, size_t size)
{
    if (n * size < HUGE_PAGE)
        free(p);
    else
        xunmap_huge(p, n * size);
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

void arena_init_huge(struct arena *a, size_t block_size)
{
    arena_init(a, block_size);
    a->huge = true;
}

static void block_free(struct arena_block *b)
{
    if (b->mapped)
        xunmap_huge(b, b->mapped);
    else
        free(b);
}

static void arena_new_block(struct arena *a, size_t n)
{
    size_t size = a->block_size;
    while (size < n)
        size *= 2;
    struct arena_block *b;
    if (a->huge) {
        size_t len = sizeof(*b) + size;
        b = xmap_huge(&len);
        b->mapped = len;
        size = len - sizeof(*b); /* the rest of the last huge page is the block's too */
    } else {
        b = xmalloc(sizeof(*b) + size);
        b->mapped = 0;
    }
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
            block_free(b);
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
        block_free(b);
        b = next;
    }
    a->head = NULL;
    a->cur = a->end = NULL;
    a->used = 0;
}

/* A thread other than main mostly allocates from another of glibc's arenas
 * (main.c allows one per core): a mapping glibc reserves (64 MiB,
 * inaccessible) and opens as it grows, which the heap's advice
 * (mem_heap_on_huge_pages) does not cover. So the tables a
 * hunt's writer grows on a worker (process tables, chains, correlations)
 * faulted in 4 KiB at a time: at -j 2 a realistic day took 3,000 faults
 * where one thread, on the advised heap, took 1,000. The arena is found
 * as the mapping that holds a fresh block, with the reserve that follows
 * it (/proc/self/maps), and advised whole. Advice only: where anything is
 * not as expected, nothing is advised. */
#if defined(MADV_HUGEPAGE) && MEM_MALLOC_IS_GLIBC
static bool mapping_of(uintptr_t at, uintptr_t *lo, uintptr_t *hi)
{
    FILE *f = fopen("/proc/self/maps", "re");
    if (!f)
        return false;
    char line[512];
    bool found = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b, inode;
        char perms[8];
        if (!strchr(line, '\n') || sscanf(line, "%lx-%lx %7s %*s %*s %lu", &a, &b, perms, &inode) != 4)
            continue; /* a line longer than line (a path) names a file, never an arena */
        if (found) {
            /* the reserve glibc opens as the arena grows: anonymous, inaccessible */
            if (a == *hi && inode == 0 && !strcmp(perms, "---p"))
                *hi = b;
            break;
        }
        if (a <= at && at < b) {
            if (inode != 0 || strncmp(perms, "rw", 2) != 0)
                break;
            *lo = a;
            *hi = b;
            found = true;
        }
    }
    fclose(f);
    return found;
}
#endif

void mem_thread_heap_on_huge_pages(void)
{
#if defined(MADV_HUGEPAGE) && MEM_MALLOC_IS_GLIBC
    void *probe = malloc(64);
    if (!probe)
        return;
    uintptr_t at = (uintptr_t)probe, lo, hi;
    free(probe);
    if (at < (uintptr_t)sbrk(0))
        return; /* the main arena, the heap mem_heap_on_huge_pages advised */
    if (mapping_of(at, &lo, &hi))
        (void)madvise((void *)lo, hi - lo, MADV_HUGEPAGE);
#endif
}
