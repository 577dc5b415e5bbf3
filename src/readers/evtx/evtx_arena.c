/* The EVTX reader's arena (evtx_arena.h says why), all but the inline
 * common case: the next block when the current one is full, reset and free.
 *
 * Every decoded byte of a chunk lives here, so the reader never frees piece
 * by piece and hostile input meets the cap, not the memory of the machine.
 * Blocks kept by a reset are used again in order before a new one is asked
 * for.
 */
#include "readers/evtx/evtx_arena.h"

#include <stdlib.h>

#define EVTX_BLOCK_MIN (256u << 10)

void evtx_arena_init(struct evtx_arena *a, size_t cap)
{
    a->head = a->cur = NULL;
    a->allocated = 0;
    a->capped = false;
    a->cap = cap;
}

void *evtx_arena_next(struct evtx_arena *a, size_t n)
{
    struct evtx_block *b = a->cur;
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
