/* The compiled ruleset's public reading and its destruction (ruleset.h):
 * apart from the loader, for a ruleset is made either by building the rules
 * (loader.c) or by reading a ruleset cache file (snapshot.c), and both free
 * it the same way. */
#include <string.h>

#include "rules/ruleset.h"

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

void stoat_ruleset_destroy(struct stoat_ruleset *rs)
{
    if (!rs)
        return;
    for (size_t i = 0; i < rs->ngroups; i++)
        for (uint32_t k = 0; k < rs->groups[i].ndbs; k++)
            hs_free_database(rs->groups[i].dbs[k].db);
    hs_free_scratch(rs->scratch_proto);
    for (size_t i = 0; i < rs->nregexes; i++)
        pcre2_code_free(rs->regexes[i]);
    free(rs->regexes);
    free(rs->rules);
    free(rs->corrs);
    free(rs->rsets);
    strmap_free(&rs->routes);
    strmap_free(&rs->atoms);
    strmap_free(&rs->proc_routes);
    fieldtab_free(&rs->fields);
    mapping_free(rs->map);
    if (rs->attached_free)
        rs->attached_free(rs->attached);
    arena_free(&rs->arena);
    free(rs);
}
