/* The EVTX reader's arena: a list of blocks with a pointer bump, reset (not
 * freed) per chunk or per record, with a cap on the bytes it may hold.
 *
 * Why: see evtx_int.h. Every decoded byte of a chunk lives here, so the
 * reader never frees piece by piece and hostile input meets the cap, not
 * the memory of the machine. Blocks kept by a reset are used again in order
 * before a new one is asked for.
 */
#include "readers/evtx/evtx_int.h"

#include <stdlib.h>

struct evtx_block {
    struct evtx_block *next;
    size_t size, used;
    _Alignas(16) unsigned char data[];
};

#define EVTX_BLOCK_MIN (256u << 10)

void evtx_arena_init(struct evtx_arena *a, size_t cap)
{
    a->head = a->cur = NULL;
    a->allocated = 0;
    a->capped = false;
    a->cap = cap;
}

void *evtx_arena_alloc(struct evtx_arena *a, size_t n)
{
    struct evtx_block *b = a->cur;
    n = (n + 7u) & ~(size_t)7u;
    while (b) {
        if (b->size - b->used >= n) {
            void *p = b->data + b->used;
            b->used += n;
            a->cur = b;
            return p;
        }
        /* Blocks after cur are empty (reset); try them before a new one. */
        b = b->next;
        if (b)
            b->used = 0;
    }
    size_t sz = n > EVTX_BLOCK_MIN ? n : EVTX_BLOCK_MIN;
    if (a->allocated + sz > a->cap) {
        a->capped = true;
        return NULL;
    }
    b = malloc(sizeof *b + sz);
    if (!b)
        return NULL;
    b->size = sz;
    b->used = n;
    b->next = NULL;
    a->allocated += sz;
    if (!a->head) {
        a->head = b;
    } else {
        /* append after the last block so earlier blocks stay in order */
        struct evtx_block *t = a->cur ? a->cur : a->head;
        while (t->next)
            t = t->next;
        t->next = b;
    }
    a->cur = b;
    return b->data;
}

void evtx_arena_trim(struct evtx_arena *a, void *p, size_t keep)
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

void evtx_arena_reset(struct evtx_arena *a)
{
    a->capped = false;
    a->cur = a->head;
    if (a->head)
        a->head->used = 0;
}

void evtx_arena_free(struct evtx_arena *a)
{
    struct evtx_block *b = a->head;
    while (b) {
        struct evtx_block *n = b->next;
        free(b);
        b = n;
    }
    a->head = a->cur = NULL;
    a->allocated = 0;
    a->capped = false;
}
