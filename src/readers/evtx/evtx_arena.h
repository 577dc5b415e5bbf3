/* The EVTX reader's arena: a list of blocks with a pointer bump, reset (not
 * freed) per chunk or per record, with a cap on the bytes it may hold.
 *
 * Why an arena: a chunk is at most 64 KiB and everything decoded from it
 * (names, compiled templates, field values) dies with it, so allocation is a
 * pointer bump and the reset per chunk keeps the blocks for the next one. The
 * record arena is reset after every record and holds only that record's
 * values. Both have a cap, so hostile input cannot make memory grow without
 * bound.
 *
 * The common case, room in the current block, is inline here: every
 * rendered value is allocated and then trimmed to its size. evtx_arena.c
 * holds the rest.
 */
#ifndef STOAT_READERS_EVTX_ARENA_H
#define STOAT_READERS_EVTX_ARENA_H

#include <stdbool.h>
#include <stddef.h>

struct evtx_block {
    struct evtx_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};
struct evtx_arena {
    struct evtx_block *head, *cur;
    size_t allocated; /* bytes in all blocks */
    size_t cap;
    bool capped; /* an allocation hit the cap (not a malloc failure) */
};
void evtx_arena_init(struct evtx_arena *a, size_t cap);
void evtx_arena_reset(struct evtx_arena *a);
void evtx_arena_free(struct evtx_arena *a);
/* The next block for an allocation of n (8-aligned) bytes that the current
   one cannot hold: a kept one, or a new one; NULL past the cap. */
void *evtx_arena_next(struct evtx_arena *a, size_t n);

/* n bytes, 8-aligned; NULL past the cap (a->capped set) or out of memory. */
static inline void *evtx_arena_alloc(struct evtx_arena *a, size_t n)
{
    struct evtx_block *b = a->cur;
    n = (n + 7u) & ~(size_t)7u;
    if (b && b->size - b->used >= n) {
        void *p = b->data + b->used;
        b->used += n;
        return p;
    }
    return evtx_arena_next(a, n);
}

/* Gives back the tail of the most recent allocation p, keeping `keep` bytes. */
static inline void evtx_arena_trim(struct evtx_arena *a, void *p, size_t keep)
{
    struct evtx_block *b = a->cur;
    if (!b)
        return;
    unsigned char *c = p;
    if (c < b->data || c > b->data + b->used)
        return;
    keep = (keep + 7u) & ~(size_t)7u;
    size_t off = (size_t)(c - b->data) + keep;
    if (off <= b->used)
        b->used = off;
}

#endif
