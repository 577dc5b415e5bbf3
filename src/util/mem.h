/* Allocation helpers. stoat bounds its memory with explicit caps on every
 * input, so running out of memory means the machine is in trouble; like git's
 * xmalloc we report and abort rather than thread NULL checks through every
 * parser. Arenas give the compiled ruleset and per-event scratch their
 * lifetime: one free (or one reset) for many objects. */
#ifndef STOAT_UTIL_MEM_H
#define STOAT_UTIL_MEM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
/* xcalloc starting at a multiple of align (a power of two: a cache line's
 * 64, say); freed with free. */
void *xcalloc_aligned(size_t align, size_t n, size_t size);
/* xcalloc for tables of many MiB: backed by huge pages where the kernel
 * gives them on advice; freed with xfree_big and the same n and size. */
void *xcalloc_big(size_t n, size_t size);
void xfree_big(void *p, size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Grows *p (element size esz) so that it holds at least need elements. */
void xgrow(void **p, size_t *cap, size_t need, size_t esz);
#define XGROW(arr, cap, need) xgrow((void **)&(arr), &(cap), (need), sizeof(*(arr)))

/* len bytes (rounded up to whole 2 MiB pages, the length put back in
 * *len) of zeroed memory mapped at a 2 MiB boundary and advised to be
 * backed by transparent huge pages; freed with xunmap_huge, given either
 * length. */
void *xmap_huge(size_t *len);
void xunmap_huge(void *p, size_t len);

/* 1 where malloc is glibc's, whose heap and arenas the advice below works
 * on; 0 under AddressSanitizer, whose malloc is its own (its regions are not
 * glibc's arenas, and advising them would only grow what it holds). */
#if defined(__SANITIZE_ADDRESS__)
#define MEM_MALLOC_IS_GLIBC 0
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MEM_MALLOC_IS_GLIBC 0
#endif
#endif
#ifndef MEM_MALLOC_IS_GLIBC
#define MEM_MALLOC_IS_GLIBC 1
#endif

/* The process heap's next `bytes` on transparent huge pages (mem.c says
 * why and how); a no-op where the kernel or the C library does not allow
 * it. Called once, at the start of main. */
void mem_heap_on_huge_pages(size_t bytes);
/* The same for the calling thread's own malloc arena (mem.c says how):
 * called first thing by a thread that grows big tables. */
void mem_thread_heap_on_huge_pages(void);

struct arena_block;
struct arena {
    struct arena_block *head; /* newest block first */
    char *cur, *end;
    size_t block_size;
    size_t used; /* bytes handed out since the last reset */
    bool huge;   /* blocks from xmap_huge */
};

void arena_init(struct arena *a, size_t block_size);
/* An arena whose blocks are huge-page mappings (xmap_huge): for one that
 * fills hundreds of KiB at once, on threads whose heap is not the one
 * mem_heap_on_huge_pages advised. */
void arena_init_huge(struct arena *a, size_t block_size);
void *arena_alloc(struct arena *a, size_t n); /* 8-byte aligned */
void *arena_zalloc(struct arena *a, size_t n);
char *arena_strndup(struct arena *a, const char *s, size_t n);
char *arena_strdup(struct arena *a, const char *s);
void *arena_memdup(struct arena *a, const void *p, size_t n);
/* Keeps the first (largest) block so per-event scratch does not touch malloc. */
void arena_reset(struct arena *a);
void arena_free(struct arena *a);

#endif
