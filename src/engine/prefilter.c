/* Routing and the prefilter, built once per ruleset.
 *
 * Every kind of event the mapping names (a channel with an event id, a
 * channel with any other id, an unknown channel of a product) gets the list of
 * rules whose logsource covers it. Identical lists share one class. Each
 * class then compiles the literal atoms of its rules into one Hyperscan
 * database (caseless literals, one report per pattern per scan): scanning an
 * event's values once yields the atoms present, hence the rules worth
 * evaluating. Rules without atoms run on every event of the class. */
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "engine/ruleset.h"
#include "util/text.h"

size_t route_key(char *buf, size_t cap, const char *channel, size_t clen, bool has_eid, int64_t eid)
{
    if (clen + 32 > cap)
        return 0;
    buf[0] = 'c';
    fold_case(channel, clen, buf + 1);
    size_t n = 1 + clen;
    if (has_eid)
        n += (size_t)snprintf(buf + n, cap - n, "\x1f%lld", (long long)eid);
    else
        buf[n++] = '\x1e';
    return n;
}

size_t route_key_product(char *buf, size_t cap, const char *product)
{
    size_t l = strlen(product);
    if (l + 2 > cap)
        return 0;
    buf[0] = 'p';
    fold_case(product, l, buf + 1);
    return l + 1;
}

struct key {
    enum { K_CE, K_C, K_P } kind;
    const char *channel;   /* K_CE, K_C */
    const char *product;   /* of the channel, or K_P's product */
    int64_t eid;
};

struct entry {
    uint32_t rule;
    uint16_t rset;
};

static bool has_eid(const struct map_selector *s, int64_t e)
{
    if (!s->neids)
        return true;
    size_t lo = 0, hi = s->neids;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (s->eids[mid] == e)
            return true;
        if (s->eids[mid] < e)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

static bool accepts(const struct map_selector *s, const struct key *k)
{
    switch (k->kind) {
    case K_CE:
        if (s->channel ? !str_ieq(s->channel, k->channel) : !(s->product && k->product && str_ieq(s->product, k->product)))
            return false;
        return has_eid(s, k->eid);
    case K_C:
        if (s->neids)
            return false;
        return s->channel ? str_ieq(s->channel, k->channel)
                          : (s->product && k->product && str_ieq(s->product, k->product));
    case K_P:
        return !s->channel && !s->neids && s->product && str_ieq(s->product, k->product);
    }
    return false;
}

static uint16_t intern_renames(struct stoat_ruleset *rs, size_t *cap, const struct map_selector *s)
{
    if (!s->nrenames)
        return 0;
    uint32_t *from = arena_alloc(&rs->arena, s->nrenames * sizeof(*from));
    uint32_t *to = arena_alloc(&rs->arena, s->nrenames * sizeof(*to));
    for (size_t i = 0; i < s->nrenames; i++) {
        from[i] = fieldtab_intern(&rs->fields, s->renames[i].from, strlen(s->renames[i].from));
        to[i] = fieldtab_intern(&rs->fields, s->renames[i].to, strlen(s->renames[i].to));
    }
    for (size_t i = 1; i < rs->nrsets; i++)
        if (rs->rsets[i].n == s->nrenames && !memcmp(rs->rsets[i].from, from, s->nrenames * sizeof(*from)) &&
            !memcmp(rs->rsets[i].to, to, s->nrenames * sizeof(*to)))
            return (uint16_t)i;
    if (rs->nrsets == 0) {
        XGROW(rs->rsets, *cap, 1);
        rs->rsets[rs->nrsets++] = (struct renameset){0};
    }
    if (rs->nrsets >= UINT16_MAX)
        return 0;
    XGROW(rs->rsets, *cap, rs->nrsets + 1);
    rs->rsets[rs->nrsets] = (struct renameset){.n = (uint32_t)s->nrenames, .from = from, .to = to};
    return (uint16_t)rs->nrsets++;
}

static int cmp_entry(const void *a, const void *b)
{
    const struct entry *x = a, *y = b;
    if (x->rset != y->rset)
        return x->rset < y->rset ? -1 : 1;
    return x->rule < y->rule ? -1 : x->rule > y->rule;
}

struct class_build {
    struct entry *ent;
    size_t n;
    uint64_t hash;
};

/* Compiles one class's atoms into its database. Runs on worker threads, so it
 * only touches its own class and reads the rules. */
struct hs_job {
    struct stoat_ruleset *rs;
    struct route_class *cls;
    const char **pats;
    unsigned *flags, *ids;
    size_t *lens;
    size_t npats;
    char errmsg[256];
    int failed;
};

static void *compile_jobs(void *arg)
{
    struct hs_job **jobs = arg;
    for (; *jobs; jobs++) {
        struct hs_job *j = *jobs;
        if (!j->npats)
            continue;
        hs_compile_error_t *err = NULL;
        if (hs_compile_lit_multi(j->pats, j->flags, j->ids, j->lens, (unsigned)j->npats, HS_MODE_BLOCK, NULL,
                                 &j->cls->db, &err) != HS_SUCCESS) {
            snprintf(j->errmsg, sizeof(j->errmsg), "%s", err && err->message ? err->message : "unknown error");
            j->failed = 1;
            hs_free_compile_error(err);
            j->cls->db = NULL;
        }
    }
    return NULL;
}

static void build_class_atoms(struct stoat_ruleset *rs, struct route_class *c, struct hs_job *job)
{
    struct strmap atoms;
    strmap_init(&atoms);
    /* atom -> entries, CSR built in two passes */
    uint32_t *counts = NULL, *first = NULL;
    size_t ccap = 0, fcap = 0;
    c->nwords = (c->n + 63) / 64;
    uint64_t *ungated = arena_zalloc(&rs->arena, (c->nwords ? c->nwords : 1) * sizeof(uint64_t));
    size_t natoms = 0;
    for (uint32_t e = 0; e < c->n; e++) {
        const struct rule *r = &rs->rules[c->rule[e]];
        if (!r->prog.atoms) {
            ungated[e / 64] |= 1ull << (e % 64);
            continue;
        }
        for (uint32_t a = 0; a < r->prog.natoms; a++) {
            uint32_t id = strmap_put(&atoms, r->prog.atoms[a].s, r->prog.atoms[a].len, (uint32_t)natoms);
            if (id == natoms) {
                XGROW(counts, ccap, natoms + 1);
                counts[natoms] = 0;
                natoms++;
            }
            counts[id]++;
        }
    }
    c->ungated = ungated;
    c->natoms = (uint32_t)natoms;
    uint32_t *off = arena_alloc(&rs->arena, (natoms + 1) * sizeof(*off));
    uint32_t total = 0;
    for (size_t i = 0; i < natoms; i++) {
        off[i] = total;
        total += counts[i];
    }
    off[natoms] = total;
    uint32_t *ent = arena_alloc(&rs->arena, (total ? total : 1) * sizeof(*ent));
    XGROW(first, fcap, natoms + 1);
    for (size_t i = 0; i < natoms; i++)
        first[i] = off[i];
    job->pats = xcalloc(natoms + 1, sizeof(*job->pats));
    job->lens = xcalloc(natoms + 1, sizeof(*job->lens));
    job->flags = xcalloc(natoms + 1, sizeof(*job->flags));
    job->ids = xcalloc(natoms + 1, sizeof(*job->ids));
    for (uint32_t e = 0; e < c->n; e++) {
        const struct rule *r = &rs->rules[c->rule[e]];
        for (uint32_t a = 0; r->prog.atoms && a < r->prog.natoms; a++) {
            uint32_t id;
            strmap_get(&atoms, r->prog.atoms[a].s, r->prog.atoms[a].len, &id);
            if (first[id] == off[id] || ent[first[id] - 1] != e)   /* a rule lists an atom once */
                ent[first[id]++] = e;
            job->pats[id] = r->prog.atoms[a].s;
            job->lens[id] = r->prog.atoms[a].len;
        }
    }
    /* duplicates skipped above leave holes: compact each run */
    uint32_t w = 0;
    for (size_t i = 0; i < natoms; i++) {
        uint32_t start = w;
        for (uint32_t k = off[i]; k < first[i]; k++)
            ent[w++] = ent[k];
        off[i] = start;
    }
    off[natoms] = w;
    c->atom_off = off;
    c->atom_ent = ent;
    for (size_t i = 0; i < natoms; i++) {
        job->flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        job->ids[i] = (unsigned)i;
    }
    job->npats = natoms;
    job->rs = rs;
    job->cls = c;
    free(counts);
    free(first);
    strmap_free(&atoms);
}

stoat_err ruleset_build_routes(struct stoat_ruleset *rs, stoat_diag_fn diag, void *diag_ctx)
{
    stoat_err err = STOAT_OK;
    struct key *keys = NULL;
    size_t nkeys = 0, kcap = 0, rcap = 0;
    struct strmap seen;
    strmap_init(&seen);
    char kb[ROUTE_KEY_MAX];

    /* 1. the keys */
    for (size_t r = 0; r < rs->nrules; r++) {
        for (size_t s = 0; s < rs->rules[r].nsels; s++) {
            const struct map_selector *sel = &rs->rules[r].sels[s];
            const char *product = sel->product;
            if (sel->channel) {
                if (!product)
                    product = mapping_channel_product(rs->map, sel->channel, strlen(sel->channel));
                for (size_t e = 0; e <= sel->neids; e++) {
                    bool any = e == sel->neids;
                    size_t kl = route_key(kb, sizeof(kb), sel->channel, strlen(sel->channel), !any,
                                          any ? 0 : sel->eids[e]);
                    if (!kl || strmap_get(&seen, kb, kl, NULL))
                        continue;
                    strmap_put(&seen, kb, kl, 0);
                    XGROW(keys, kcap, nkeys + 1);
                    keys[nkeys++] = (struct key){.kind = any ? K_C : K_CE, .channel = sel->channel,
                                                 .product = product, .eid = any ? 0 : sel->eids[e]};
                }
            } else if (product) {
                size_t kl = route_key_product(kb, sizeof(kb), product);
                if (!kl || strmap_get(&seen, kb, kl, NULL))
                    continue;
                strmap_put(&seen, kb, kl, 0);
                XGROW(keys, kcap, nkeys + 1);
                keys[nkeys++] = (struct key){.kind = K_P, .product = product};
            }
        }
    }
    /* Channels named with ids also need their product-wide selectors for the
     * ids not named: covered by K_C above. Products of named channels need a
     * K_P key too, for channels nobody named. */
    for (size_t k = 0, n = nkeys; k < n; k++) {
        if (keys[k].kind == K_P || !keys[k].product)
            continue;
        size_t kl = route_key_product(kb, sizeof(kb), keys[k].product);
        if (!kl || strmap_get(&seen, kb, kl, NULL))
            continue;
        strmap_put(&seen, kb, kl, 0);
        XGROW(keys, kcap, nkeys + 1);
        keys[nkeys++] = (struct key){.kind = K_P, .product = keys[k].product};
    }

    /* 2. entries per key, deduplicated into classes */
    struct class_build *cb = NULL;
    size_t ncb = 0, cbcap = 0;
    struct entry *tmp = NULL;
    size_t tcap = 0;
    strmap_init(&rs->routes);
    for (size_t k = 0; k < nkeys; k++) {
        size_t n = 0;
        for (size_t r = 0; r < rs->nrules; r++) {
            for (size_t s = 0; s < rs->rules[r].nsels; s++) {
                const struct map_selector *sel = &rs->rules[r].sels[s];
                if (!accepts(sel, &keys[k]))
                    continue;
                XGROW(tmp, tcap, n + 1);
                tmp[n++] = (struct entry){.rule = (uint32_t)r, .rset = intern_renames(rs, &rcap, sel)};
                break;   /* one view per rule and key: the first selector that takes it */
            }
        }
        if (!n)
            continue;
        qsort(tmp, n, sizeof(*tmp), cmp_entry);
        uint64_t h = hash_bytes(tmp, n * sizeof(*tmp), 7);
        size_t ci;
        for (ci = 0; ci < ncb; ci++)
            if (cb[ci].hash == h && cb[ci].n == n && !memcmp(cb[ci].ent, tmp, n * sizeof(*tmp)))
                break;
        if (ci == ncb) {
            XGROW(cb, cbcap, ncb + 1);
            cb[ncb].ent = xmalloc(n * sizeof(*tmp));
            memcpy(cb[ncb].ent, tmp, n * sizeof(*tmp));
            cb[ncb].n = n;
            cb[ncb].hash = h;
            ncb++;
        }
        size_t kl = keys[k].kind == K_P ? route_key_product(kb, sizeof(kb), keys[k].product)
                                        : route_key(kb, sizeof(kb), keys[k].channel, strlen(keys[k].channel),
                                                    keys[k].kind == K_CE, keys[k].eid);
        strmap_put(&rs->routes, kb, kl, (uint32_t)ci);
    }
    free(tmp);

    /* 3. classes and their databases, compiled on all cores */
    rs->classes = arena_zalloc(&rs->arena, (ncb ? ncb : 1) * sizeof(*rs->classes));
    rs->nclasses = ncb;
    struct hs_job *jobs = xcalloc(ncb + 1, sizeof(*jobs));
    for (size_t i = 0; i < ncb; i++) {
        struct route_class *c = &rs->classes[i];
        uint32_t *rule = arena_alloc(&rs->arena, cb[i].n * sizeof(*rule));
        uint16_t *rset = arena_alloc(&rs->arena, cb[i].n * sizeof(*rset));
        for (size_t e = 0; e < cb[i].n; e++) {
            rule[e] = cb[i].ent[e].rule;
            rset[e] = cb[i].ent[e].rset;
        }
        c->n = (uint32_t)cb[i].n;
        c->rule = rule;
        c->rset = rset;
        build_class_atoms(rs, c, &jobs[i]);
    }
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = ncpu > 1 ? (size_t)ncpu : 1;
    if (nthreads > 16)
        nthreads = 16;
    /* deal the biggest databases out first, round robin */
    struct hs_job ***lists = xcalloc(nthreads, sizeof(*lists));
    for (size_t t = 0; t < nthreads; t++)
        lists[t] = xcalloc(ncb + 1, sizeof(**lists));
    size_t *order = xcalloc(ncb + 1, sizeof(*order));
    for (size_t i = 0; i < ncb; i++)
        order[i] = i;
    for (size_t i = 1; i < ncb; i++) {
        size_t v = order[i], j = i;
        while (j > 0 && jobs[order[j - 1]].npats < jobs[v].npats) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    size_t *fill = xcalloc(nthreads, sizeof(*fill));
    size_t *load = xcalloc(nthreads, sizeof(*load));
    for (size_t i = 0; i < ncb; i++) {
        size_t best = 0;
        for (size_t t = 1; t < nthreads; t++)
            if (load[t] < load[best])
                best = t;
        lists[best][fill[best]++] = &jobs[order[i]];
        load[best] += jobs[order[i]].npats + 1;
    }
    pthread_t *th = xcalloc(nthreads, sizeof(*th));
    for (size_t t = 1; t < nthreads; t++)
        if (pthread_create(&th[t], NULL, compile_jobs, lists[t]) != 0) {
            th[t] = 0;
            compile_jobs(lists[t]);   /* run it here instead */
        }
    compile_jobs(lists[0]);
    for (size_t t = 1; t < nthreads; t++)
        if (th[t])
            pthread_join(th[t], NULL);
    for (size_t i = 0; i < ncb && !err; i++) {
        if (jobs[i].failed) {
            if (diag) {
                char msg[400];
                snprintf(msg, sizeof(msg), "prefilter compilation failed: %s", jobs[i].errmsg);
                struct stoat_diag d = {.code = STOAT_ERR_UNSUPPORTED, .message = msg};
                diag(diag_ctx, &d);
            }
            err = STOAT_ERR_UNSUPPORTED;
        }
        if (!err && rs->classes[i].db && hs_alloc_scratch(rs->classes[i].db, &rs->scratch_proto) != HS_SUCCESS)
            err = STOAT_ERR_NOMEM;
    }
    for (size_t i = 0; i < ncb; i++) {
        free(jobs[i].pats);
        free(jobs[i].lens);
        free(jobs[i].flags);
        free(jobs[i].ids);
        free(cb[i].ent);
    }
    for (size_t t = 0; t < nthreads; t++)
        free(lists[t]);
    free(lists);
    free(th);
    free(order);
    free(fill);
    free(load);
    free(jobs);
    free(cb);
    free(keys);
    strmap_free(&seen);
    return err;
}
