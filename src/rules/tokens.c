/* Token tables (tokens.h). */
#include "rules/tokens.h"

#include <string.h>

#include "util/text.h"

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

bool token_shape_of(const char *s, size_t len, size_t *al, size_t *hl)
{
    size_t i = 0;
    while (i < len && i <= TOKEN_MAX_ALGO && is_alnum((unsigned char)s[i]))
        i++;
    if (!i || i > TOKEN_MAX_ALGO || i >= len || s[i] != '=')
        return false;
    *al = i;
    *hl = len - i - 1;
    if (*hl < TOKEN_MIN_HEX || *hl > TOKEN_MAX_HEX)
        return false;
    for (size_t k = i + 1; k < len; k++)
        if (!is_hex((unsigned char)s[k]))
            return false;
    return true;
}

/* The first 8 hex bytes at p as a key: OR 0x20 folds hex letters to lower
 * case (digits have the bit already); other bytes folded with them only
 * cost a compare. */
static inline uint64_t token_key(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x | 0x2020202020202020ull;
}

/* The slot of shape s's entry with key x. */
static inline uint32_t token_slot(uint64_t x, uint32_t s, uint32_t mask)
{
    return (uint32_t)(((x ^ ((uint64_t)s << 59)) * 0x9E3779B97F4A7C15ull) >> 32) & mask;
}

struct token_table *token_table_make(struct arena *a, uint32_t field, uint32_t n, const char *const *texts,
                                     const uint32_t *lens, const uint32_t *atoms)
{
    struct token_table *t = arena_zalloc(a, sizeof(*t));
    t->field = field;
    t->n = n;
    uint8_t *shape = arena_alloc(a, (size_t)n + 1);
    uint32_t *off = arena_alloc(a, ((size_t)n + 1) * sizeof(*off));
    size_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        size_t al, hl;
        if (!token_shape_of(texts[i], lens[i], &al, &hl))
            return NULL;
        char algo[TOKEN_MAX_ALGO];
        for (size_t k = 0; k < al; k++)
            algo[k] = (char)ascii_lower_table[(unsigned char)texts[i][k]];
        uint32_t s = 0;
        while (s < t->nshapes &&
               !(t->shapes[s].al == al && t->shapes[s].hl == hl && !memcmp(t->shapes[s].algo, algo, al)))
            s++;
        if (s == t->nshapes) {
            if (s == TOKEN_MAX_SHAPES)
                return NULL;
            t->shapes[s] = (struct token_shape){.al = (uint8_t)al, .hl = (uint8_t)hl};
            memcpy(t->shapes[s].algo, algo, al);
            t->by_last[(unsigned char)algo[al - 1]] |= (uint16_t)(1u << s);
            t->nshapes++;
        }
        shape[i] = (uint8_t)s;
        off[i] = (uint32_t)total;
        total += lens[i];
    }
    char *blob = arena_alloc(a, total + 1);
    for (uint32_t i = 0; i < n; i++)
        memcpy(blob + off[i], texts[i], lens[i]);
    uint32_t nslots = 16;
    while (nslots < 4 * (size_t)n) /* a quarter full: a miss mostly meets an empty slot */
        nslots *= 2;
    uint32_t *slot = arena_zalloc(a, (size_t)nslots * sizeof(*slot));
    t->mask = nslots - 1;
    uint64_t *key = arena_alloc(a, ((size_t)n + 1) * sizeof(*key));
    for (uint32_t i = 0; i < n; i++) {
        key[i] = token_key(blob + off[i] + t->shapes[shape[i]].al + 1);
        uint32_t k = token_slot(key[i], shape[i], t->mask);
        while (slot[k])
            k = (k + 1) & t->mask;
        slot[k] = i + 1;
    }
    uint32_t *atom = arena_alloc(a, ((size_t)n + 1) * sizeof(*atom));
    if (n)
        memcpy(atom, atoms, (size_t)n * sizeof(*atom));
    t->atom = atom;
    t->shape = shape;
    t->key = key;
    t->off = off;
    t->blob = blob;
    t->slot = slot;
    return t;
}

void token_find(const struct token_table *t, const char *v, size_t n, void (*hit)(void *ctx, uint32_t atom), void *ctx)
{
    const char *end = v + n, *p = v;
    while (p < end && (p = memchr(p, '=', (size_t)(end - p))) != NULL) {
        size_t before = (size_t)(p - v), after = (size_t)(end - p) - 1;
        if (after < TOKEN_MIN_HEX || !before) {
            p++;
            continue;
        }
        uint64_t x = token_key(p + 1);
        /* the shapes whose name ends in the byte before the '=' */
        for (uint32_t m = t->by_last[ascii_lower_table[(unsigned char)p[-1]]]; m; m &= m - 1) {
            uint32_t s = (uint32_t)__builtin_ctz(m);
            const struct token_shape *sh = &t->shapes[s];
            if (before < sh->al || after < sh->hl || !ascii_eq_nocase(p - sh->al, sh->algo, sh->al))
                continue;
            for (uint32_t k = token_slot(x, s, t->mask); t->slot[k]; k = (k + 1) & t->mask) {
                uint32_t e = t->slot[k] - 1;
                if (t->key[e] == x && t->shape[e] == s &&
                    ascii_eq_nocase(p + 1, t->blob + t->off[e] + sh->al + 1, sh->hl))
                    hit(ctx, t->atom[e]);
            }
        }
        p++;
    }
}
