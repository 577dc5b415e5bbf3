/* See cache_guess.h. */
#include "rules/cache_guess.h"

#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"

void cache_guess_start(struct cache_guess *g, const char *dir, const uint8_t key[RC_KEY_LEN])
{
    char why[400];
    bool missing;
    memset(g, 0, sizeof(*g));
    memcpy(g->key, key, RC_KEY_LEN);
    g->index = rulecache_path_ext(dir, g->key, ".rsg", why, sizeof(why));
    g->named = g->index && rulecache_index_read(g->index, g->key, g->ckey);
    if (g->named && (g->path = rulecache_path_ext(dir, g->ckey, ".rsc", why, sizeof(why))))
        g->rs = snapshot_read_file(g->path, g->ckey, &g->diags, &missing, why, sizeof(why));
}

bool cache_guess_take(struct cache_guess *g, const uint8_t ckey[RC_KEY_LEN], struct stoat_ruleset **rs,
                      struct snap_diags *diags, char **path)
{
    if (!g->rs || memcmp(g->ckey, ckey, RC_KEY_LEN) != 0)
        return false;
    *rs = g->rs;
    *diags = g->diags;
    *path = g->path;
    g->rs = NULL;
    g->path = NULL;
    snapshot_diags_init(&g->diags);
    rulecache_touch(g->index);
    return true;
}

void cache_guess_drop(struct cache_guess *g)
{
    stoat_ruleset_destroy(g->rs);
    g->rs = NULL;
    snapshot_diags_free(&g->diags);
}

void cache_guess_end(struct cache_guess *g, const uint8_t *ckey)
{
    if (g->index && ckey && !(g->named && !memcmp(g->ckey, ckey, RC_KEY_LEN)))
        rulecache_index_write(g->index, g->key, ckey);
    cache_guess_drop(g);
    free(g->index);
    free(g->path);
    memset(g, 0, sizeof(*g));
}
