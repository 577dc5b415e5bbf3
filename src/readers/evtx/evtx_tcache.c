/* Compiled templates kept across chunks (see evtx_tpl.h for why and what a
 * reuse is checked against).
 *
 * Each worker's scratch has its own cache, so there is no locking. Entries
 * live in one arena with a cap; the table is open addressing on a hash of
 * the definition's GUID and size. A lookup compares at most a few entries
 * with that GUID and size, each check costing no more than the compile it
 * saves (the bytes it read and the names it looked up), so a file full of
 * forged templates under one GUID costs a bounded amount more than without
 * the cache. The cache is only emptied between chunks, because the
 * templates of the current chunk point into it.
 */
#include "readers/evtx/evtx_tpl.h"

#include <stdlib.h>
#include <string.h>

#include "readers/evtx/evtx_int.h"

#define TC_SLOTS      2048u      /* power of two */
#define TC_MAX        1024u      /* entries: half the slots at most */
#define TC_BYTES      (4u << 20) /* arena cap */
#define TC_SAME_KEY   4u         /* entries compared per lookup, kept per GUID and size */
#define TC_MAX_LOG    4096u      /* logged reads in one compile */
#define TC_HEAD       20u        /* GUID and size, after the next-offset field */
#define TC_NAME_MASK  8u         /* an inline name: its offset field and the name's next offset */
#define TC_FIELD_MASK 4u         /* a name elsewhere: its offset field */

struct tc_ref {
    uint32_t rel; /* from the body's start */
    uint32_t kind;
    uint32_t n;           /* EVTX_TREF_NAME: characters of the name */
    const uint8_t *chars; /* EVTX_TREF_NAME: its UTF-16 */
};

struct tc_entry {
    uint32_t key;
    uint32_t size, used;
    uint8_t head[TC_HEAD];
    const uint8_t *body; /* the `used` bytes the compile read */
    struct tc_ref *refs;
    uint32_t nrefs;
    uint64_t cost;
    struct evtx_tpl tpl;
};

struct evtx_tcache {
    struct evtx_arena arena;
    struct tc_entry *slots[TC_SLOTS];
    uint32_t count;
    bool full;
};

void evtx_tlog_add(struct evtx_tlog *l, size_t pos, uint32_t kind)
{
    if (l->overflow)
        return;
    if (l->n == l->cap) {
        size_t n = l->cap ? l->cap * 2 : 64;
        struct evtx_tref *v = n <= TC_MAX_LOG ? realloc(l->v, n * sizeof *v) : NULL;
        if (!v) {
            l->overflow = true;
            return;
        }
        l->v = v;
        l->cap = n;
    }
    l->v[l->n++] = (struct evtx_tref){(uint32_t)pos, kind};
}

struct evtx_tcache *evtx_tcache_create(void)
{
    struct evtx_tcache *tc = calloc(1, sizeof *tc);
    if (tc)
        evtx_arena_init(&tc->arena, TC_BYTES);
    return tc;
}

void evtx_tcache_destroy(struct evtx_tcache *tc)
{
    if (!tc)
        return;
    evtx_arena_free(&tc->arena);
    free(tc);
}

void evtx_tcache_chunk(struct evtx_tcache *tc)
{
    if (!tc || !tc->full)
        return;
    memset(tc->slots, 0, sizeof tc->slots);
    evtx_arena_reset(&tc->arena);
    tc->arena.capped = false;
    tc->count = 0;
    tc->full = false;
}

static uint32_t key_of(const uint8_t *head)
{
    uint32_t h = 2166136261u;
    for (unsigned i = 0; i < TC_HEAD; i++)
        h = (h ^ head[i]) * 16777619u;
    return h;
}

/* The element-size guess of evtx_binxml.c's c_element at body offset p
   (rest bytes to the body's end): true when it takes the size at +1. */
static bool size_at_one(const uint8_t *e, size_t rest)
{
    if (rest < 11)
        return false;
    uint32_t s3 = evtx_le32(e + 3), s1 = evtx_le32(e + 1);
    return s3 > rest - 7 && s1 <= rest - 5;
}

/* Whether compiling the definition at off in this chunk would read what
   e's compile read. */
static bool same_read(const struct tc_entry *e, const uint8_t *chunk, size_t len, uint32_t off)
{
    size_t base = (size_t)off + 24;
    const uint8_t *b = chunk + base;
    size_t at = 0;
    for (uint32_t i = 0; i < e->nrefs; i++) {
        const struct tc_ref *r = &e->refs[i];
        if (r->kind == EVTX_TREF_SO1) {
            if (!size_at_one(b + r->rel, e->size - r->rel))
                return false;
            continue;
        }
        if (memcmp(b + at, e->body + at, r->rel - at) != 0)
            return false;
        uint32_t v = evtx_le32(b + r->rel);
        bool inl = v == base + r->rel + 4;
        if (r->kind == EVTX_TREF_INLINE) {
            if (!inl)
                return false;
            at = r->rel + TC_NAME_MASK;
            continue;
        }
        if (inl || (size_t)v + 8 + 2 * (size_t)r->n > len || evtx_le16(chunk + v + 6) != r->n ||
            memcmp(chunk + v + 8, r->chars, 2 * (size_t)r->n) != 0)
            return false;
        at = r->rel + TC_FIELD_MASK;
    }
    return memcmp(b + at, e->body + at, e->used - at) == 0;
}

bool evtx_tcache_find(struct evtx_tcache *tc, const uint8_t *chunk, size_t len, uint32_t off, struct evtx_tpl *t,
                      uint64_t *cost)
{
    if (!tc || (size_t)off + 24 > len)
        return false;
    const uint8_t *head = chunk + off + 4;
    uint32_t size = evtx_le32(head + 16);
    if ((size_t)off + 24 + size > len)
        return false;
    uint32_t key = key_of(head);
    unsigned same = 0;
    for (uint32_t i = 0; i < TC_SLOTS && same < TC_SAME_KEY; i++) {
        const struct tc_entry *e = tc->slots[(key + i) & (TC_SLOTS - 1)];
        if (!e)
            return false;
        if (e->key != key || memcmp(e->head, head, TC_HEAD) != 0)
            continue;
        same++;
        if (same_read(e, chunk, len, off)) {
            *t = e->tpl;
            t->off = off;
            *cost = e->cost;
            return true;
        }
    }
    return false;
}

/* Copies n bytes (and a NUL) into the cache's arena. */
static void *keep(struct evtx_tcache *tc, const void *p, size_t n)
{
    char *o = evtx_arena_alloc(&tc->arena, n + 1);
    if (o) {
        if (n)
            memcpy(o, p, n);
        o[n] = 0;
    }
    return o;
}

/* The template's ops and parts, and every string they point to, copied
   into the arena; false when it is full. */
static bool keep_tpl(struct evtx_tcache *tc, const struct evtx_tpl *t, struct evtx_tpl *out)
{
    *out = *t;
    out->ops = keep(tc, t->ops, t->nops * sizeof *t->ops);
    out->parts = keep(tc, t->parts, t->nparts * sizeof *t->parts);
    if (!out->ops || !out->parts)
        return false;
    for (uint32_t i = 0; i < t->nops; i++) {
        if (t->ops[i].name && !(out->ops[i].name = keep(tc, t->ops[i].name, t->ops[i].name_len)))
            return false;
    }
    for (uint32_t i = 0; i < t->nparts; i++) {
        if (t->parts[i].kind == P_STATIC && t->parts[i].s &&
            !(out->parts[i].s = keep(tc, t->parts[i].s, t->parts[i].len)))
            return false;
    }
    return true;
}

/* The logged reads as refs relative to the body; false when they are not
   in order (reads that overlap are not something to check cheaply). */
static bool keep_refs(struct evtx_tcache *tc, const uint8_t *chunk, size_t len, size_t base, size_t used,
                      const struct evtx_tlog *log, struct tc_entry *e)
{
    e->refs = evtx_arena_alloc(&tc->arena, log->n * sizeof *e->refs + 1);
    if (!e->refs)
        return false;
    size_t at = 0;
    for (size_t i = 0; i < log->n; i++) {
        const struct evtx_tref *l = &log->v[i];
        struct tc_ref *r = &e->refs[i];
        if (l->pos < base || l->pos - base < at)
            return false;
        r->rel = (uint32_t)(l->pos - base);
        r->kind = l->kind;
        r->n = 0;
        r->chars = NULL;
        if (l->kind == EVTX_TREF_SO1) {
            if (r->rel + 11 > used)
                return false;
            continue;
        }
        size_t mask = l->kind == EVTX_TREF_INLINE ? TC_NAME_MASK : TC_FIELD_MASK;
        if (r->rel + mask > used)
            return false;
        at = r->rel + mask;
        if (l->kind == EVTX_TREF_NAME) {
            uint32_t v = evtx_le32(chunk + l->pos);
            if ((size_t)v + 8 > len)
                return false;
            r->n = evtx_le16(chunk + v + 6);
            if ((size_t)v + 8 + 2 * (size_t)r->n > len || !(r->chars = keep(tc, chunk + v + 8, 2 * (size_t)r->n)))
                return false;
        }
    }
    e->nrefs = (uint32_t)log->n;
    return true;
}

void evtx_tcache_add(struct evtx_tcache *tc, const uint8_t *chunk, size_t len, uint32_t off, size_t used,
                     const struct evtx_tpl *t, uint64_t cost, const struct evtx_tlog *log)
{
    if (!tc || tc->full || log->overflow || t->status != 0 || (size_t)off + 24 + used > len)
        return;
    const uint8_t *head = chunk + off + 4;
    uint32_t key = key_of(head);
    uint32_t i = 0, same = 0;
    for (; i < TC_SLOTS; i++) {
        const struct tc_entry *e = tc->slots[(key + i) & (TC_SLOTS - 1)];
        if (!e)
            break;
        if (e->key == key && memcmp(e->head, head, TC_HEAD) == 0 && ++same >= TC_SAME_KEY)
            return; /* enough variants of this one: compile the rest */
    }
    if (tc->count >= TC_MAX) {
        tc->full = true;
        return;
    }
    struct tc_entry *e = evtx_arena_alloc(&tc->arena, sizeof *e);
    if (!e) {
        tc->full = true;
        return;
    }
    memset(e, 0, sizeof *e);
    e->key = key;
    memcpy(e->head, head, TC_HEAD);
    e->size = evtx_le32(head + 16);
    e->used = (uint32_t)used;
    e->cost = cost;
    e->body = keep(tc, chunk + off + 24, used);
    if (!e->body || !keep_refs(tc, chunk, len, (size_t)off + 24, used, log, e) || !keep_tpl(tc, t, &e->tpl)) {
        /* what was copied stays in the arena until the cache is emptied;
           out of room: empty it at the next chunk */
        tc->full = tc->full || tc->arena.capped;
        return;
    }
    tc->slots[(key + i) & (TC_SLOTS - 1)] = e;
    tc->count++;
}
