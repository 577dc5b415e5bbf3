/* See lateral.h. Edges live in one array, found by a map from
 * "akey \x1f from \x1f to" to their index: lookups by the three names are
 * what the fact stream asks for, many times per edge. */
#include "behaviour/lateral.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/strmap.h"

struct lateral {
    struct strmap index;
    struct lateral_edge *edges;
    size_t n, cap, max;
    uint64_t dropped;
};

struct lateral *lateral_create(size_t max_edges)
{
    struct lateral *g = xcalloc(1, sizeof(*g));
    strmap_init(&g->index);
    g->max = max_edges ? max_edges : LATERAL_MAX_EDGES;
    return g;
}

void lateral_destroy(struct lateral *g)
{
    if (!g)
        return;
    for (size_t i = 0; i < g->n; i++) {
        free(g->edges[i].akey);
        free(g->edges[i].account);
        free(g->edges[i].from);
        free(g->edges[i].to);
    }
    free(g->edges);
    strmap_free(&g->index);
    free(g);
}

static void edge_key(struct buf *k, const char *akey, const char *from, const char *to)
{
    buf_clear(k);
    buf_puts(k, akey);
    buf_putc(k, '\x1f');
    buf_puts(k, from);
    buf_putc(k, '\x1f');
    buf_puts(k, to);
}

struct lateral_edge *lateral_find(const struct lateral *g, const char *akey, const char *from, const char *to)
{
    struct buf k = {0};
    edge_key(&k, akey, from, to);
    uint32_t i;
    bool found = strmap_get(&g->index, k.p, k.len, &i);
    buf_free(&k);
    return found ? &g->edges[i] : NULL;
}

struct lateral_edge *lateral_add(struct lateral *g, const char *akey, const char *account, const char *from,
                                 const char *to, unsigned via, int64_t time_ns, bool *created)
{
    *created = false;
    struct buf k = {0};
    edge_key(&k, akey, from, to);
    uint32_t i;
    struct lateral_edge *e = NULL;
    if (strmap_get(&g->index, k.p, k.len, &i)) {
        e = &g->edges[i];
        e->via |= via;
        e->count++;
        if (time_ns < e->first_ns)
            e->first_ns = time_ns;
        if (time_ns > e->last_ns)
            e->last_ns = time_ns;
    } else if (g->n >= g->max) {
        g->dropped++;
    } else {
        strmap_put(&g->index, k.p, k.len, (uint32_t)g->n);
        XGROW(g->edges, g->cap, g->n + 1);
        e = &g->edges[g->n++];
        *e = (struct lateral_edge){.akey = xstrdup(akey),
                                   .account = xstrdup(account ? account : akey),
                                   .from = xstrdup(from),
                                   .to = xstrdup(to),
                                   .via = via,
                                   .first_ns = time_ns,
                                   .last_ns = time_ns,
                                   .count = 1};
        *created = true;
    }
    buf_free(&k);
    return e;
}

size_t lateral_count(const struct lateral *g)
{
    return g->n;
}

const struct lateral_edge *lateral_get(const struct lateral *g, size_t i)
{
    return i < g->n ? &g->edges[i] : NULL;
}

uint64_t lateral_dropped(const struct lateral *g)
{
    return g->dropped;
}

void lateral_via_text(unsigned via, char *out, size_t n)
{
    static const struct {
        unsigned bit;
        const char *name;
    } names[] = {
        {CROSS_VIA_NETWORK, "network logon"}, {CROSS_VIA_EXPLICIT, "explicit credentials"}, {CROSS_VIA_RDP, "rdp"},
        {CROSS_VIA_WINRM, "winrm"},           {CROSS_VIA_SERVICE, "service install"},       {CROSS_VIA_SSH, "ssh"},
    };
    size_t used = 0;
    out[0] = 0;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
        if (!(via & names[i].bit))
            continue;
        int w = snprintf(out + used, n - used, "%s%s", used ? "+" : "", names[i].name);
        if (w < 0 || (size_t)w >= n - used)
            break;
        used += (size_t)w;
    }
}
