/* See mapping.h. Logsource resolution follows the order the data file
 * documents: an exact entry; else the union of the entries that say at least
 * what the rule says; else the intersection of the entries the rule narrows
 * (a rule of product windows, category process_creation, service sysmon reads
 * the events that are both). */
#include "event/mapping.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/config.h"
#include "util/text.h"
#include "util/yaml.h"

struct mload {
    struct mapping *m;
    struct yreport r;
};

static void mfail(struct mload *l, const struct ynode *n, const char *msg)
{
    yreport_fail(&l->r, n, msg);
}

static char *lower_dup(struct arena *a, const char *s)
{
    char *d = arena_strdup(a, s);
    for (char *p = d; *p; p++)
        *p = (char)ascii_lower_table[(unsigned char)*p];
    return d;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return x < y ? -1 : x > y;
}

static void load_strlist(struct mload *l, const struct ynode *n, const char ***out, size_t *count)
{
    *out = NULL;
    *count = 0;
    if (!n)
        return;
    if (n->kind != YN_SEQ) {
        mfail(l, n, "expected a list of names");
        return;
    }
    const char **v = arena_alloc(&l->m->a, (n->n + 1) * sizeof(*v));
    for (uint32_t i = 0; i < n->n; i++) {
        if (n->items[i]->kind != YN_SCALAR) {
            mfail(l, n->items[i], "expected a name");
            return;
        }
        v[i] = arena_strdup(&l->m->a, n->items[i]->str);
    }
    *out = v;
    *count = n->n;
}

static void load_selector(struct mload *l, const struct ynode *n, const char *entry_product, struct map_selector *s)
{
    struct arena *a = &l->m->a;
    if (n->kind != YN_MAP) {
        mfail(l, n, "an event selector is a map with channel (or product), event_id and rename");
        return;
    }
    const struct ynode *ch = ynode_get(n, "channel"), *pr = ynode_get(n, "product");
    const struct ynode *ids = ynode_get(n, "event_id"), *rn = ynode_get(n, "rename");
    if (ch && ch->kind == YN_SCALAR)
        s->channel = arena_strdup(a, ch->str);
    if (pr && pr->kind == YN_SCALAR)
        s->product = lower_dup(a, pr->str);
    else if (entry_product)
        s->product = entry_product;
    if (!s->channel && !s->product) {
        mfail(l, n, "an event selector needs a channel or a product");
        return;
    }
    if (ids) {
        const struct ynode *const *items = (const struct ynode *const *)&ids;
        uint32_t cnt = 1;
        if (ids->kind == YN_SEQ) {
            items = (const struct ynode *const *)ids->items;
            cnt = ids->n;
        }
        if (cnt > MAP_MAX_EVENT_IDS) {
            mfail(l, ids, "too many event ids in one selector");
            return;
        }
        int64_t *v = arena_alloc(a, (cnt ? cnt : 1) * sizeof(*v));
        for (uint32_t i = 0; i < cnt; i++) {
            if (items[i]->kind != YN_SCALAR || !parse_int64(items[i]->str, items[i]->len, &v[i])) {
                mfail(l, items[i], "an event id must be an integer");
                return;
            }
        }
        qsort(v, cnt, sizeof(*v), cmp_i64);
        s->eids = v;
        s->neids = cnt;
    }
    if (rn) {
        if (rn->kind != YN_MAP) {
            mfail(l, rn, "'rename' maps the source's field names to Sigma names");
            return;
        }
        struct map_rename *r = arena_alloc(a, (rn->n + 1) * sizeof(*r));
        for (uint32_t i = 0; i < rn->n; i++) {
            if (rn->items[2 * i]->kind != YN_SCALAR || rn->items[2 * i + 1]->kind != YN_SCALAR) {
                mfail(l, rn, "'rename' maps names to names");
                return;
            }
            r[i].from = arena_strdup(a, rn->items[2 * i]->str);
            r[i].to = arena_strdup(a, rn->items[2 * i + 1]->str);
        }
        s->renames = r;
        s->nrenames = rn->n;
    }
}

const char *const proc_field_names[PF_COUNT] = {
    "guid",         "parent_guid",         "pid",         "ppid", "image", "command_line", "user", "logon_id",
    "parent_image", "parent_command_line", "parent_user",
};

static void load_procs(struct mload *l, const struct ynode *list, bool end)
{
    struct mapping *m = l->m;
    if (!list)
        return;
    if (list->kind != YN_SEQ) {
        mfail(l, list, "processes: start and end are lists");
        return;
    }
    size_t cap = m->nprocs + list->n + 1;
    struct map_proc *v = arena_zalloc(&m->a, cap * sizeof(*v));
    if (m->nprocs)
        memcpy(v, m->procs, m->nprocs * sizeof(*v));
    m->procs = v;
    for (uint32_t i = 0; i < list->n && !l->r.err; i++) {
        const struct ynode *e = list->items[i];
        const struct ynode *ch = ynode_get(e, "channel"), *ids = ynode_get(e, "event_id"), *f = ynode_get(e, "fields");
        if (!ch || ch->kind != YN_SCALAR || !f || f->kind != YN_MAP) {
            mfail(l, e, "a process entry needs channel, event_id and fields");
            return;
        }
        struct map_proc *p = &m->procs[m->nprocs++];
        p->channel = arena_strdup(&m->a, ch->str);
        p->end = end;
        /* event ids as in a logsource selector */
        if (ids) {
            const struct ynode *const *items = (const struct ynode *const *)&ids;
            uint32_t cnt = 1;
            if (ids->kind == YN_SEQ) {
                items = (const struct ynode *const *)ids->items;
                cnt = ids->n;
            }
            int64_t *eids = arena_alloc(&m->a, (cnt ? cnt : 1) * sizeof(*eids));
            for (uint32_t k = 0; k < cnt; k++)
                if (items[k]->kind != YN_SCALAR || !parse_int64(items[k]->str, items[k]->len, &eids[k])) {
                    mfail(l, items[k], "an event id must be an integer");
                    return;
                }
            p->eids = eids;
            p->neids = cnt;
        }
        for (uint32_t k = 0; k < f->n; k++) {
            const struct ynode *key = f->items[2 * k], *val = f->items[2 * k + 1];
            int which = -1;
            for (int q = 0; q < PF_COUNT; q++)
                if (key->kind == YN_SCALAR && strcmp(key->str, proc_field_names[q]) == 0)
                    which = q;
            if (which < 0 || val->kind != YN_SCALAR) {
                mfail(l, key,
                      "unknown process field (guid, parent_guid, pid, ppid, image, command_line, user, "
                      "logon_id, parent_image, parent_command_line, parent_user)");
                return;
            }
            p->fields[which] = arena_strdup(&m->a, val->str);
        }
    }
}

static int on_doc(void *ctx, struct ynode *root, unsigned idx)
{
    struct mload *l = ctx;
    struct mapping *m = l->m;
    struct arena *a = &m->a;
    if (idx > 0) {
        mfail(l, root, "the mapping file holds one YAML document");
        return 1;
    }
    if (root->kind != YN_MAP) {
        mfail(l, root, "the mapping file is a map with logsources, json and event");
        return 1;
    }
    const struct ynode *ls = ynode_get(root, "logsources");
    if (!ls || ls->kind != YN_SEQ) {
        mfail(l, root, "'logsources' must be a list");
        return 1;
    }
    m->entries = arena_zalloc(a, (ls->n + 1) * sizeof(*m->entries));
    for (uint32_t i = 0; i < ls->n && !l->r.err; i++) {
        const struct ynode *e = ls->items[i];
        const struct ynode *src = ynode_get(e, "logsource"), *evs = ynode_get(e, "events");
        if (!src || src->kind != YN_MAP || !evs || evs->kind != YN_SEQ) {
            mfail(l, e, "a logsources entry needs 'logsource' (a map) and 'events' (a list)");
            return 1;
        }
        struct map_entry *me = &m->entries[m->nentries++];
        const struct ynode *p = ynode_get(src, "product"), *c = ynode_get(src, "category"),
                           *s = ynode_get(src, "service");
        me->product = p && p->kind == YN_SCALAR ? lower_dup(a, p->str) : NULL;
        me->category = c && c->kind == YN_SCALAR ? lower_dup(a, c->str) : NULL;
        me->service = s && s->kind == YN_SCALAR ? lower_dup(a, s->str) : NULL;
        me->sels = arena_zalloc(a, (evs->n + 1) * sizeof(*me->sels));
        me->nsels = evs->n;
        for (uint32_t j = 0; j < evs->n && !l->r.err; j++)
            load_selector(l, evs->items[j], me->product, &me->sels[j]);
    }
    const struct ynode *js = ynode_get(root, "json");
    if (js) {
        const struct ynode *rn = ynode_get(js, "rename");
        if (rn && rn->kind == YN_MAP) {
            m->json_renames = arena_alloc(a, (rn->n + 1) * sizeof(*m->json_renames));
            for (uint32_t i = 0; i < rn->n; i++) {
                m->json_renames[i].from = arena_strdup(a, ynode_str(rn->items[2 * i]) ? rn->items[2 * i]->str : "");
                m->json_renames[i].to =
                    arena_strdup(a, ynode_str(rn->items[2 * i + 1]) ? rn->items[2 * i + 1]->str : "");
            }
            m->njson_renames = rn->n;
        }
        load_strlist(l, ynode_get(js, "strip"), &m->strip, &m->nstrip);
    }
    const struct ynode *pr = ynode_get(root, "processes");
    if (pr) {
        load_procs(l, ynode_get(pr, "start"), false);
        load_procs(l, ynode_get(pr, "end"), true);
        const struct ynode *ac = ynode_get(pr, "actor");
        static const char *const an[AF_COUNT] = {"guid", "pid", "image", "logon_id"};
        for (int k = 0; k < AF_COUNT && ac; k++)
            load_strlist(l, ynode_get(ac, an[k]), &m->actor[k], &m->nactor[k]);
    }
    const struct ynode *ev = ynode_get(root, "event");
    if (ev) {
        load_strlist(l, ynode_get(ev, "timestamp"), &m->ts_fields, &m->nts);
        load_strlist(l, ynode_get(ev, "host"), &m->host_fields, &m->nhost);
        load_strlist(l, ynode_get(ev, "channel"), &m->channel_fields, &m->nchannel);
        load_strlist(l, ynode_get(ev, "event_id"), &m->eid_fields, &m->neid);
        load_strlist(l, ynode_get(ev, "provider"), &m->provider_fields, &m->nprovider);
        load_strlist(l, ynode_get(ev, "padded"), &m->padded_fields, &m->npadded);
    }
    return l->r.err != 0;
}

stoat_err mapping_load_text(const char *name, const char *text, size_t len, struct mapping **out, stoat_diag_fn diag,
                            void *diag_ctx)
{
    struct mapping *m = xcalloc(1, sizeof(*m));
    arena_init(&m->a, 16384);
    struct arena yarena;
    arena_init(&yarena, 65536);
    struct mload l = {.m = m, .r = {.file = arena_strdup(&m->a, name), .diag = diag, .diag_ctx = diag_ctx}};
    stoat_err e = yaml_parse(l.r.file, text, len, &yarena, on_doc, &l, diag, diag_ctx);
    arena_free(&yarena);
    if (!e)
        e = l.r.err;
    if (!e && m->nentries == 0) {
        mfail(&l, NULL, "the mapping file defines no logsources");
        e = l.r.err;
    }
    if (e) {
        mapping_free(m);
        *out = NULL;
        return e;
    }
    *out = m;
    return STOAT_OK;
}

static stoat_err parse_mapping(const char *name, const char *text, size_t len, void *out, stoat_diag_fn diag,
                               void *diag_ctx)
{
    return mapping_load_text(name, text, len, out, diag, diag_ctx);
}

stoat_err mapping_load(const char *path, struct mapping **out, stoat_diag_fn diag, void *diag_ctx)
{
    *out = NULL;
    return config_load(path, 4u << 20, "the mapping file", parse_mapping, out, diag, diag_ctx);
}

void mapping_free(struct mapping *m)
{
    if (!m)
        return;
    arena_free(&m->a);
    free(m);
}

static bool key_eq(const char *entry, const char *rule)
{
    if (!entry || !rule)
        return entry == rule;
    return str_ieq(entry, rule);
}

/* Every key the rule gives, the entry gives with the same value. */
static bool entry_says_rule(const struct map_entry *e, const char *p, const char *c, const char *s)
{
    return (!p || key_eq(e->product, p)) && (!c || key_eq(e->category, c)) && (!s || key_eq(e->service, s));
}

/* Every key the entry gives, the rule gives with the same value. */
static bool rule_says_entry(const struct map_entry *e, const char *p, const char *c, const char *s)
{
    return (!e->product || (p && key_eq(e->product, p))) && (!e->category || (c && key_eq(e->category, c))) &&
           (!e->service || (s && key_eq(e->service, s)));
}

static bool sel_has_eid(const struct map_selector *s, int64_t id)
{
    if (!s->neids)
        return true;
    return bsearch(&id, s->eids, s->neids, sizeof(*s->eids), cmp_i64) != NULL;
}

/* The events both a and b select, as one selector, or false when none. */
static bool intersect(const struct map_selector *a, const struct map_selector *b, struct arena *ar,
                      struct map_selector *out)
{
    memset(out, 0, sizeof(*out));
    if (a->channel && b->channel && !str_ieq(a->channel, b->channel))
        return false;
    const char *channel = a->channel ? a->channel : b->channel;
    if (!a->channel && !b->channel && !key_eq(a->product, b->product))
        return false;
    if (!a->channel && b->channel && a->product && b->product && !key_eq(a->product, b->product))
        return false;
    if (a->channel && !b->channel && a->product && b->product && !key_eq(a->product, b->product))
        return false;
    out->channel = channel;
    out->product = a->product ? a->product : b->product;
    if (a->neids || b->neids) {
        const struct map_selector *x = a->neids ? a : b, *y = a->neids ? b : a;
        int64_t *ids = arena_alloc(ar, x->neids * sizeof(*ids));
        size_t n = 0;
        for (size_t i = 0; i < x->neids; i++)
            if (sel_has_eid(y, x->eids[i]))
                ids[n++] = x->eids[i];
        if (!n)
            return false;
        out->eids = ids;
        out->neids = n;
    }
    size_t nr = a->nrenames + b->nrenames;
    if (nr) {
        struct map_rename *r = arena_alloc(ar, nr * sizeof(*r));
        memcpy(r, a->renames, a->nrenames * sizeof(*r));
        if (b->nrenames)
            memcpy(r + a->nrenames, b->renames, b->nrenames * sizeof(*r));
        out->renames = r;
        out->nrenames = nr;
    }
    return true;
}

size_t mapping_resolve(const struct mapping *m, const char *product, const char *category, const char *service,
                       struct arena *a, struct map_selector **out)
{
    *out = NULL;
    if (!product && !category && !service)
        return 0;
    /* 1. exact */
    for (size_t i = 0; i < m->nentries; i++) {
        const struct map_entry *e = &m->entries[i];
        if (key_eq(e->product, product) && key_eq(e->category, category) && key_eq(e->service, service)) {
            *out = e->sels;
            return e->nsels;
        }
    }
    /* 2. union of the entries that say everything the rule says */
    size_t n = 0;
    for (size_t i = 0; i < m->nentries; i++)
        if (entry_says_rule(&m->entries[i], product, category, service))
            n += m->entries[i].nsels;
    if (n) {
        struct map_selector *v = arena_alloc(a, n * sizeof(*v));
        size_t k = 0;
        for (size_t i = 0; i < m->nentries; i++)
            if (entry_says_rule(&m->entries[i], product, category, service)) {
                memcpy(v + k, m->entries[i].sels, m->entries[i].nsels * sizeof(*v));
                k += m->entries[i].nsels;
            }
        *out = v;
        return n;
    }
    /* 3. intersection of the most specific entries the rule narrows */
    const struct map_entry *parts[8];
    size_t np = 0;
    for (size_t i = 0; i < m->nentries && np < 8; i++) {
        const struct map_entry *e = &m->entries[i];
        if (!rule_says_entry(e, product, category, service))
            continue;
        /* keep only entries not narrowed further by another matching entry */
        bool narrower_exists = false;
        for (size_t j = 0; j < m->nentries; j++) {
            const struct map_entry *f = &m->entries[j];
            if (f == e || !rule_says_entry(f, product, category, service))
                continue;
            int ke = !!e->product + !!e->category + !!e->service, kf = !!f->product + !!f->category + !!f->service;
            if (kf > ke && (!e->product || key_eq(e->product, f->product)) &&
                (!e->category || key_eq(e->category, f->category)) && (!e->service || key_eq(e->service, f->service)))
                narrower_exists = true;
        }
        if (!narrower_exists)
            parts[np++] = e;
    }
    if (np < 2)
        return 0; /* one part alone would select more than the rule asks for */
    size_t cap = parts[0]->nsels;
    struct map_selector *cur = arena_alloc(a, (cap ? cap : 1) * sizeof(*cur));
    memcpy(cur, parts[0]->sels, cap * sizeof(*cur));
    size_t ncur = cap;
    for (size_t p = 1; p < np && ncur; p++) {
        size_t nn = 0;
        struct map_selector *next = arena_alloc(a, (ncur * parts[p]->nsels + 1) * sizeof(*next));
        for (size_t i = 0; i < ncur; i++)
            for (size_t j = 0; j < parts[p]->nsels; j++)
                if (intersect(&cur[i], &parts[p]->sels[j], a, &next[nn]))
                    nn++;
        cur = next;
        ncur = nn;
    }
    *out = cur;
    return ncur;
}

const char *mapping_channel_product(const struct mapping *m, const char *channel, size_t len)
{
    for (size_t i = 0; i < m->nentries; i++)
        for (size_t j = 0; j < m->entries[i].nsels; j++) {
            const struct map_selector *s = &m->entries[i].sels[j];
            if (s->channel && strlen(s->channel) == len && ascii_eq_nocase(s->channel, channel, len))
                return s->product;
        }
    return NULL;
}
