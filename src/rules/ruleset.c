/* The compiled ruleset's public reading and its destruction (ruleset.h):
 * apart from the loader, for a ruleset is made either by building the rules
 * (loader.c) or by reading a ruleset cache file (snapshot.c), and both free
 * it the same way. */
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"
#include "util/mem.h"
#include "util/strmap.h"

/* the user's rules: hidden ones are behaviour's machinery */
size_t stoat_ruleset_count(const struct stoat_ruleset *rs)
{
    return rs ? rs->nrules - rs->nhidden : 0;
}

const struct stoat_rule_meta *stoat_ruleset_rule(const struct stoat_ruleset *rs, size_t i)
{
    return i < stoat_ruleset_count(rs) ? &rs->rules[i].meta : NULL;
}

long stoat_ruleset_find(const struct stoat_ruleset *rs, const char *id_or_name)
{
    for (size_t i = 0; i < stoat_ruleset_count(rs); i++)
        if ((rs->rules[i].meta.id && strcmp(rs->rules[i].meta.id, id_or_name) == 0) ||
            (rs->rules[i].meta.name && strcmp(rs->rules[i].meta.name, id_or_name) == 0))
            return (long)i;
    return -1;
}

void stoat_ruleset_stats(const struct stoat_ruleset *rs, struct stoat_load_stats *out)
{
    *out = rs->stats;
}

/* A table of rule indexes + 1 by id, the ids not copied: asked at every
 * hunt's start, beside a warm load of some 28 ms. */
size_t stoat_ruleset_duplicate_ids(const struct stoat_ruleset *rs)
{
    size_t n = stoat_ruleset_count(rs), cap = 16, again = 0;
    while (cap < 2 * n)
        cap *= 2;
    uint32_t *slot = xcalloc(cap, sizeof(*slot));
    for (size_t i = 0; i < n; i++) {
        const char *id = rs->rules[i].meta.id;
        if (!id)
            continue;
        size_t len = strlen(id), k = strmap_hash(id, len) & (cap - 1);
        while (slot[k] && strcmp(rs->rules[slot[k] - 1].meta.id, id) != 0)
            k = (k + 1) & (cap - 1);
        if (slot[k])
            again++;
        else
            slot[k] = (uint32_t)i + 1;
    }
    free(slot);
    return again;
}

bool ruleset_owns(const struct stoat_ruleset *rs, const void *p)
{
    const uint8_t *b = p;
    return rs->region && b >= rs->region && b < rs->region + rs->region_len;
}

static void free_own(struct stoat_ruleset *rs, void *p)
{
    if (!ruleset_owns(rs, p))
        free(p);
}

void stoat_ruleset_destroy(struct stoat_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->ngroups; i++)
        for (uint32_t k = 0; k < rs->groups[i].ndbs; k++)
            if (!ruleset_owns(rs, rs->groups[i].dbs[k].db))
                hs_free_database(rs->groups[i].dbs[k].db);
    for (size_t i = 0; i < rs->nmdbs; i++)
        if (!ruleset_owns(rs, rs->mdbs[i].db))
            hs_free_database(rs->mdbs[i].db);
    hs_free_scratch(rs->scratch_proto);
    for (size_t i = 0; i < rs->nregexes; i++)
        pcre2_code_free(rs->regexes[i]);
    free(rs->regexes);
    for (size_t i = 0; i < rs->nlazy_re; i++)
        pcre2_code_free(atomic_load_explicit(&rs->lazy_re[i]->re, memory_order_acquire));
    free(rs->lazy_re);
    free_own(rs, rs->rules);
    free_own(rs, rs->corrs);
    free_own(rs, rs->rsets);
    strmap_free(&rs->routes);
    strmap_free(&rs->atoms);
    strmap_free(&rs->proc_routes);
    fieldtab_free(&rs->fields);
    mapping_free(rs->map);
    if (rs->attached_free)
        rs->attached_free(rs->attached);
    arena_free(&rs->arena);
    if (rs->region_unmap)
        rs->region_unmap(rs->region, rs->region_len);
    free(rs);
}
