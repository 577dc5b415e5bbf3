/* The JSON reader's names: how a nested name becomes a Sigma field name,
 * and the tree of names that makes that cheap.
 *
 * Flattening follows the mapping file: a path of components joined by '.'
 * ("Event.System.Provider.#attributes.Name", where #attributes and #text add
 * no component and the children of #attributes join with '_') is renamed
 * exactly when the mapping says so, else loses the first of the mapping's
 * prefixes that it starts with ("Event.System." and the like, * standing for
 * one component), so that it becomes "Provider_Name".
 *
 * The names of a record form a tree: "Event" -> "System" -> "Provider" ...
 * Each worker keeps the nodes of that tree it has seen, keyed by (parent,
 * key), so a field costs a look-up of its own key rather than a hash of its
 * whole dotted path, and the flattened path and its Sigma name are worked out
 * once per node. Records of one log repeat their names in the same order, so
 * a node also remembers the key that came first under it and the key that
 * followed it last time; the parser tries that guess against the input bytes
 * ("key": with its quotes and colon) first and, when it holds (most keys),
 * needs neither a scan for the closing quote nor a hash.
 *
 * Both are bounded: nodes and their bytes are cached up to PATH_CACHE_MAX and
 * PATH_CACHE_BYTES (then nodes are made on the stack for the record alone),
 * and a path longer than PATH_MAX_BYTES is refused. */
#include <string.h>

#include "readers/json_int.h"
#include "util/text.h"

/* Path -> Sigma name, by the mapping: exact renames first, then prefixes. */
static void map_path(struct json_worker *w, const char *p, size_t n, const char **name, size_t *nlen)
{
    const struct mapping *m = w->map;
    for (size_t i = 0; i < m->njson_renames; i++) {
        size_t l = strlen(m->json_renames[i].from);
        if (l == n && memcmp(m->json_renames[i].from, p, n) == 0) {
            *name = m->json_renames[i].to;
            *nlen = strlen(*name);
            return;
        }
    }
    for (size_t i = 0; i < m->nstrip; i++) {
        const char *pre = m->strip[i];
        size_t a = 0, b = 0;
        bool ok = true;
        while (pre[a] && ok) {
            if (pre[a] == '*') {
                /* one path component */
                while (b < n && p[b] != '.')
                    b++;
                a++;
                if (b == n)
                    ok = false;
                continue;
            }
            if (b >= n || pre[a] != p[b])
                ok = false;
            a++;
            b++;
        }
        if (ok && b < n) {
            *name = p + b;
            *nlen = n - b;
            return;
        }
    }
    *name = p;
    *nlen = n;
}

enum key_kind json_key_kind(const char *key, uint32_t klen)
{
    if (klen == 11 && memcmp(key, "#attributes", 11) == 0)
        return KK_ATTRIBUTES;
    if (klen == 5 && memcmp(key, "#text", 5) == 0)
        return KK_TEXT;
    if ((klen == 4 && memcmp(key, "Name", 4) == 0) || (klen == 5 && memcmp(key, "@Name", 5) == 0))
        return KK_NAME;
    return KK_PLAIN;
}

static void cache_insert(struct json_worker *w, struct jnode *n)
{
    if ((w->nnodes + 1) * 2 > w->table_cap) {
        size_t nc = w->table_cap * 2;
        struct jnode **nt = xcalloc(nc, sizeof(*nt));
        for (size_t i = 0; i < w->table_cap; i++) {
            if (!w->table[i])
                continue;
            size_t j = w->table[i]->hash & (nc - 1);
            while (nt[j])
                j = (j + 1) & (nc - 1);
            nt[j] = w->table[i];
        }
        free(w->table);
        w->table = nt;
        w->table_cap = nc;
    }
    size_t mask = w->table_cap - 1, i = n->hash & mask;
    while (w->table[i])
        i = (i + 1) & mask;
    w->table[i] = n;
    w->nnodes++;
}

/* The child of parent named key: a cached node, or *tmp filled in when the
 * parent is not cached or the cache is full. NULL when the path would be too
 * long. Under w->named every key is a plain component. */
struct jnode *json_child_of(struct json_worker *w, struct jnode *parent, const char *key, uint32_t klen,
                            struct jnode *tmp)
{
    bool named = parent == &w->named;
    enum key_kind kind = named ? KK_PLAIN : json_key_kind(key, klen);
    bool component = kind == KK_PLAIN || kind == KK_NAME;
    if (component && !named && parent->plen + klen + 1 >= PATH_MAX_BYTES)
        return NULL;
    uint64_t h = 0;
    if (parent->serial) {
        h = hash_bytes(key, klen, parent->serial);
        size_t mask = w->table_cap - 1;
        for (size_t i = h & mask; w->table[i]; i = (i + 1) & mask) {
            struct jnode *e = w->table[i];
            if (e->hash == h && e->parent == parent && e->klen == klen && memcmp(e->key, key, klen) == 0)
                return e;
        }
    }
    *tmp = (struct jnode){
        .need16 = UINT32_MAX,
        .cneed = UINT32_MAX,
        .key = key,
        .parent = parent,
        .head = 1,
        .klen = klen,
        .qlen = klen + 3,
        .plen = !component     ? parent->plen
                : parent->plen ? parent->plen + 1 + klen
                               : klen,
        .kind = (uint8_t)kind,
        .attr = kind == KK_ATTRIBUTES,
    };
    tmp->state = tmp->plen ? NS_UNRESOLVED : NS_SILENT;
    /* a hostile input with endless distinct names: stop caching */
    if (!parent->serial || w->nnodes >= PATH_CACHE_MAX || w->cache_bytes >= PATH_CACHE_BYTES)
        return tmp;
    w->cache_bytes += sizeof(struct jnode) + tmp->qlen + 8 + tmp->plen;
    struct jnode *n = arena_alloc(&w->mem, sizeof(*n));
    *n = *tmp;
    n->serial = ++w->serials;
    n->hash = h;
    char *q = arena_zalloc(&w->mem, n->qlen < 8 ? 8 : n->qlen);
    q[0] = '"';
    memcpy(q + 1, key, klen);
    q[klen + 1] = '"';
    q[klen + 2] = ':';
    n->qkey = q;
    n->key = q + 1;
    if (!memchr(key, '"', klen) && !memchr(key, '\\', klen)) {
        unsigned char ones[8] = {0};
        memset(ones, 0xFF, n->qlen < 8 ? n->qlen : 8);
        memcpy(&n->mask, ones, sizeof(n->mask));
        n->head = json_load64(q) & n->mask;
        n->need16 = n->qlen < 16 ? 16 : n->qlen;
        n->qv_ignore = n->qlen < 16 ? 0xFFFFu << n->qlen & 0xFFFFu : 0;
        memcpy(n->qv, q, n->qlen < 16 ? n->qlen : 16);
        n->cneed = n->qlen < 15 ? 16 : n->qlen + 1;
        n->cv_ignore = n->qlen < 15 ? 0xFFFFu << (n->qlen + 1) & 0xFFFFu : 0;
        n->cv[0] = ',';
        memcpy(n->cv + 1, q, n->qlen < 15 ? n->qlen : 15);
    }
    n->need = n->qlen < 8 ? 8 : n->qlen;
    n->tail_at = n->need - 8;
    n->tail_mask = n->tail_at ? ~(uint64_t)0 : n->mask;
    n->tail = json_load64(q + n->tail_at) & n->tail_mask;
    if (!component) {
        n->path = parent->path;
    } else if (!parent->plen) {
        n->path = n->key; /* the key alone */
    } else {
        char *path = arena_alloc(&w->mem, n->plen);
        memcpy(path, parent->path, parent->plen);
        path[parent->plen] = parent->attr ? '_' : '.';
        memcpy(path + parent->plen + 1, key, klen);
        n->path = path;
    }
    cache_insert(w, n);
    return n;
}

/* Works out n's Sigma name and id. A node that is not cached has its path
 * built from its chain of keys up to the nearest cached ancestor, and a name
 * taken from that path is copied into the event scratch: the engine keeps the
 * pointer until the end of the event. */
void json_resolve(struct json_worker *w, struct jnode *n)
{
    const char *path = n->path;
    if (!n->serial) {
        const struct jnode *a = n;
        for (; !a->serial; a = a->parent) {
            if (a->kind == KK_ATTRIBUTES || a->kind == KK_TEXT)
                continue;
            uint32_t at = a->plen - a->klen;
            memcpy(w->path + at, a->key, a->klen);
            if (a->parent->plen)
                w->path[at - 1] = a->parent->attr ? '_' : '.';
        }
        memcpy(w->path, a->path, a->plen);
        path = w->path;
    }
    const char *name;
    size_t nlen;
    map_path(w, path, n->plen, &name, &nlen);
    if (!n->serial && name >= w->path && name < w->path + n->plen) {
        char *copy = w->sink->scratch(w->sink->ctx, nlen + 1);
        memcpy(copy, name, nlen);
        copy[nlen] = 0;
        name = copy;
    }
    n->field.name = name;
    n->field.name_len = (uint32_t)nlen;
    n->field.id = w->sink->field_id(w->sink->ctx, name, nlen);
    n->name_plain = nlen <= 64;
    for (size_t i = 0; i < nlen && n->name_plain; i++) {
        unsigned char c = (unsigned char)name[i];
        n->name_plain = c >= 0x20 && c < 0x80 && c != '"' && c != '\\';
    }
    n->state = NS_READY;
}
