/* See strmap.h. Linear probing over a power-of-two table kept at most half
 * full; the stored hash short-circuits most key comparisons. */
#include "util/strmap.h"

#include <stdlib.h>
#include <string.h>

#include "util/text.h"

#define STRMAP_SEED 0x53544f41ULL

void strmap_init(struct strmap *m)
{
    memset(m, 0, sizeof(*m));
    arena_init(&m->keys, 16384);
}

void strmap_free(struct strmap *m)
{
    free(m->slots);
    arena_free(&m->keys);
    memset(m, 0, sizeof(*m));
}

static struct strmap_slot *find(const struct strmap *m, const char *key, size_t len, uint64_t h)
{
    if (!m->cap)
        return NULL;
    size_t mask = m->cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct strmap_slot *s = &m->slots[i];
        if (!s->key)
            return s;
        if (s->hash == h && s->len == len && bytes_equal(s->key, key, len))
            return s;
    }
}

static void grow(struct strmap *m)
{
    size_t nc = m->cap ? m->cap * 2 : 64;
    struct strmap_slot *old = m->slots;
    size_t oldcap = m->cap;
    m->slots = xcalloc(nc, sizeof(*m->slots));
    m->cap = nc;
    for (size_t i = 0; i < oldcap; i++)
        if (old[i].key)
            *find(m, old[i].key, old[i].len, old[i].hash) = old[i];
    free(old);
}

uint64_t strmap_hash(const char *key, size_t len)
{
    return hash_bytes(key, len, STRMAP_SEED);
}

bool strmap_get(const struct strmap *m, const char *key, size_t len, uint32_t *value)
{
    return strmap_get_hashed(m, key, len, hash_bytes(key, len, STRMAP_SEED), value);
}

bool strmap_get_hashed(const struct strmap *m, const char *key, size_t len, uint64_t h, uint32_t *value)
{
    struct strmap_slot *s = find(m, key, len, h);
    if (!s || !s->key)
        return false;
    if (value)
        *value = s->value;
    return true;
}

uint32_t *strmap_value(struct strmap *m, const char *key, size_t len)
{
    struct strmap_slot *s = find(m, key, len, hash_bytes(key, len, STRMAP_SEED));
    return s && s->key ? &s->value : NULL;
}

const char *strmap_key(const struct strmap *m, const char *key, size_t len)
{
    struct strmap_slot *s = find(m, key, len, hash_bytes(key, len, STRMAP_SEED));
    return s && s->key ? s->key : NULL;
}

struct strmap_slot *strmap_upsert(struct strmap *m, const char *key, size_t len, uint32_t value, bool *added)
{
    if ((m->count + 1) * 2 > m->cap)
        grow(m);
    uint64_t h = hash_bytes(key, len, STRMAP_SEED);
    struct strmap_slot *s = find(m, key, len, h);
    *added = !s->key;
    if (s->key)
        return s;
    s->hash = h;
    s->key = arena_strndup(&m->keys, key, len);
    s->len = (uint32_t)len;
    s->value = value;
    m->count++;
    return s;
}

uint32_t strmap_put(struct strmap *m, const char *key, size_t len, uint32_t value)
{
    bool added;
    return strmap_upsert(m, key, len, value, &added)->value;
}
