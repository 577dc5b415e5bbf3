/* Open-addressing map from byte strings to uint32 values. Used to intern
 * field names (name -> id) when a ruleset is compiled, and for the other
 * name lookups done at load time. Keys are copied into the map's arena. */
#ifndef STOAT_UTIL_STRMAP_H
#define STOAT_UTIL_STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/mem.h"

struct strmap_slot {
    uint64_t hash;
    const char *key;
    uint32_t len;
    uint32_t value;
};

struct strmap {
    struct strmap_slot *slots;
    size_t cap, count; /* cap is a power of two */
    struct arena keys;
};

void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
/* Returns true and sets *value when the key is present. */
bool strmap_get(const struct strmap *m, const char *key, size_t len, uint32_t *value);
/* The hash a key is looked up by: a key looked up in several maps is
 * hashed once. */
uint64_t strmap_hash(const char *key, size_t len);
/* strmap_get with h = strmap_hash(key, len). */
bool strmap_get_hashed(const struct strmap *m, const char *key, size_t len, uint64_t h, uint32_t *value);
/* Starts loading the slot a key with hash h (strmap_hash) is looked up
 * from, for a lookup soon after: its cache miss then overlaps other work. */
static inline void strmap_prefetch(const struct strmap *m, uint64_t h)
{
    if (m->cap)
        __builtin_prefetch(&m->slots[h & (m->cap - 1)]);
}
/* Inserts when absent; returns the value now stored (the old one if present). */
uint32_t strmap_put(struct strmap *m, const char *key, size_t len, uint32_t value);
/* strmap_put giving the key's entry (its stored copy of the key and its
 * value, writable) and whether the put added it: what a put followed by
 * strmap_key or strmap_value would find, with one hash and probe. Valid
 * until the next put. */
struct strmap_slot *strmap_upsert(struct strmap *m, const char *key, size_t len, uint32_t value, bool *added);
/* The stored value of a key, writable in place; NULL when absent. */
uint32_t *strmap_value(struct strmap *m, const char *key, size_t len);
/* The stored copy of a key (NUL-terminated), or NULL. */
const char *strmap_key(const struct strmap *m, const char *key, size_t len);

#endif
