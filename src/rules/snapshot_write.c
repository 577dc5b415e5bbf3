/* Writes the whole ruleset as bytes (snapshot.h), and keeps a load's
 * diagnostics for the file.
 *
 * Why apart from the reader (snapshot.c): the writer trusts what it is
 * given (a ruleset the compiler just built) and the reader trusts nothing;
 * they share only the layout (snapshot_format.h). Each table goes out as
 * counts and values, pointers as indexes: a program's nodes are one table
 * in post-order, so a node names only nodes before it (shared nodes stay
 * shared, and no file the reader accepts can make a cycle). */
#include "rules/snapshot.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rules/ruleset.h"
#include "rules/snapshot_format.h"

/* ----------------------------------------------------------- diagnostics */

void snapshot_diags_init(struct snap_diags *d)
{
    memset(d, 0, sizeof(*d));
    arena_init(&d->a, 16384);
}

static const char *dup_or_null(struct arena *a, const char *s)
{
    return s ? arena_strdup(a, s) : NULL;
}

void snapshot_diags_add(struct snap_diags *d, const struct stoat_diag *diag)
{
    XGROW(d->v, d->cap, d->n + 1);
    struct stoat_diag *o = &d->v[d->n++];
    *o = *diag;
    o->file = dup_or_null(&d->a, diag->file);
    o->rule_id = dup_or_null(&d->a, diag->rule_id);
    o->field = dup_or_null(&d->a, diag->field);
    o->message = dup_or_null(&d->a, diag->message);
}

void snapshot_diags_free(struct snap_diags *d)
{
    if (!d)
        return;
    free(d->v);
    arena_free(&d->a);
    memset(d, 0, sizeof(*d));
}

/* ---------------------------------------------------------------- writing */

struct wr {
    uint8_t *b;
    size_t n, cap;
    /* node pointer -> index + 1, open addressing */
    const void **pk;
    uint32_t *pv;
    size_t pcap, pcount, nnodes;
};

static void w_raw(struct wr *w, const void *p, size_t n)
{
    XGROW(w->b, w->cap, w->n + n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}

static void w64(struct wr *w, uint64_t v)
{
    uint8_t b[8];
    for (int i = 0; i < 8; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_raw(w, b, 8);
}

static void w32(struct wr *w, uint32_t v)
{
    uint8_t b[4];
    for (int i = 0; i < 4; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    w_raw(w, b, 4);
}

static void w8(struct wr *w, uint8_t v)
{
    w_raw(w, &v, 1);
}

static void wf64(struct wr *w, double d)
{
    uint64_t v;
    memcpy(&v, &d, sizeof(v));
    w64(w, v);
}

/* bytes: length + 1 (0: NULL), then the bytes */
static void wbytes(struct wr *w, const void *p, size_t n)
{
    w32(w, p ? (uint32_t)n + 1 : 0);
    if (p)
        w_raw(w, p, n);
}

static void wstr(struct wr *w, const char *s)
{
    wbytes(w, s, s ? strlen(s) : 0);
}

static void wu32v(struct wr *w, const uint32_t *v, size_t n)
{
    w32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        w32(w, v[i]);
}

static void wstrv(struct wr *w, const char *const *v, size_t n)
{
    w32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++)
        wstr(w, v[i]);
}

static size_t ptr_slot(const struct wr *w, const void *p)
{
    size_t h = ((uintptr_t)p >> 3) * 0x9E3779B97F4A7C15ull;
    size_t i = h & (w->pcap - 1);
    while (w->pk[i] && w->pk[i] != p)
        i = (i + 1) & (w->pcap - 1);
    return i;
}

static void ptr_put(struct wr *w, const void *p, uint32_t v)
{
    if ((w->pcount + 1) * 2 > w->pcap) {
        const void **ok = w->pk;
        uint32_t *ov = w->pv;
        size_t ocap = w->pcap;
        w->pcap = ocap ? ocap * 2 : 1024;
        w->pk = xcalloc(w->pcap, sizeof(*w->pk));
        w->pv = xcalloc(w->pcap, sizeof(*w->pv));
        for (size_t i = 0; i < ocap; i++)
            if (ok[i]) {
                size_t s = ptr_slot(w, ok[i]);
                w->pk[s] = ok[i];
                w->pv[s] = ov[i];
            }
        free(ok);
        free(ov);
    }
    size_t s = ptr_slot(w, p);
    w->pk[s] = p;
    w->pv[s] = v;
    w->pcount++;
}

static uint32_t ptr_get(const struct wr *w, const void *p)
{
    if (!w->pcap)
        return 0;
    size_t s = ptr_slot(w, p);
    return w->pk[s] ? w->pv[s] : 0;
}

static void write_pattern(struct wr *w, const struct pattern *p)
{
    w8(w, p->op);
    w8(w, p->cased);
    w8(w, p->cmp);
    w8(w, p->part);
    w8(w, p->sub);
    wbytes(w, p->lit, p->len);
    w32(w, p->ntoks);
    for (uint32_t i = 0; i < p->ntoks; i++) {
        w8(w, p->toks[i].kind);
        w32(w, p->toks[i].off);
        w32(w, p->toks[i].len);
    }
    wf64(w, p->num);
    w32(w, p->ref_field);
    w32(w, p->op == P_RE ? p->re_opts : 0);
    w8(w, p->net.family);
    w8(w, p->net.bits);
    w_raw(w, p->net.addr, sizeof(p->net.addr));
    w32(w, p->atom);
    w_raw(w, p->rare, 2);
    w8(w, p->nrare);
}

/* A node after its children; returns its index + 1. */
static uint32_t write_node(struct wr *w, const struct pnode *n)
{
    uint32_t got = ptr_get(w, n);
    if (got)
        return got;
    bool test = n->op == N_TEST;
    uint32_t *kids = NULL;
    if (!test && n->op != N_TRUE && n->op != N_FALSE) {
        kids = xcalloc(n->n + 1, sizeof(*kids));
        for (uint32_t i = 0; i < n->n; i++)
            kids[i] = write_node(w, n->u.kids[i]) - 1;
    }
    w8(w, n->op);
    w32(w, n->need);
    w32(w, n->gate);
    w32(w, kids ? n->n : 0);
    if (kids)
        for (uint32_t i = 0; i < n->n; i++)
            w32(w, kids[i]);
    free(kids);
    if (test) {
        const struct test *t = n->u.test;
        w32(w, t->field);
        w8(w, t->all);
        w8(w, t->negate);
        w8(w, t->has_need);
        for (int i = 0; i < 4; i++)
            w64(w, t->need_any[i]);
        w32(w, t->npat);
        for (uint32_t i = 0; i < t->npat; i++)
            write_pattern(w, &t->pat[i]);
    }
    ptr_put(w, n, (uint32_t)++w->nnodes);
    return (uint32_t)w->nnodes;
}

static void write_meta(struct wr *w, const struct stoat_rule_meta *m)
{
    w32(w, m->kind);
    const char *s[] = {m->id,      m->name,     m->title,   m->description, m->author,  m->date,       m->modified,
                       m->license, m->taxonomy, m->product, m->category,    m->service, m->definition, m->file};
    for (size_t i = 0; i < sizeof(s) / sizeof(*s); i++)
        wstr(w, s[i]);
    w32(w, m->level);
    w32(w, m->status);
    const struct stoat_strlist *l[] = {&m->tags,  &m->references, &m->falsepositives, &m->fields,
                                       &m->scope, &m->attack_ids, &m->attack_tactics};
    for (size_t i = 0; i < sizeof(l) / sizeof(*l); i++)
        wstrv(w, l[i]->items, l[i]->n);
    w32(w, m->line);
}

static void write_corr(struct wr *w, const struct correlation *c)
{
    write_meta(w, &c->meta);
    const struct sigma_correlation *k = &c->corr;
    w32(w, k->type);
    wstrv(w, k->rules, k->nrules);
    wstrv(w, k->group_by, k->ngroup_by);
    w64(w, (uint64_t)k->timespan_ms);
    wstr(w, k->timespan_text);
    const struct stoat_corr_condition *cd = &k->cond;
    wstr(w, cd->field);
    const bool has[] = {cd->has_gt, cd->has_gte, cd->has_lt, cd->has_lte, cd->has_eq, cd->has_neq, cd->has_percentile};
    const double val[] = {cd->gt, cd->gte, cd->lt, cd->lte, cd->eq, cd->neq, cd->percentile};
    for (int i = 0; i < 7; i++) {
        w8(w, has[i]);
        wf64(w, val[i]);
    }
    w32(w, (uint32_t)k->naliases);
    for (size_t i = 0; i < k->naliases; i++) {
        wstr(w, k->aliases[i].name);
        wstrv(w, k->aliases[i].rules, k->aliases[i].n);
        wstrv(w, k->aliases[i].fields, k->aliases[i].n);
    }
    w8(w, k->generate);
    for (size_t i = 0; i < k->nrules; i++)
        w64(w, (uint64_t)(int64_t)c->rule_index[i]);
}

static void write_strmap(struct wr *w, const struct strmap *m)
{
    w32(w, (uint32_t)m->count);
    for (size_t i = 0; i < m->cap; i++)
        if (m->slots[i].key) {
            wbytes(w, m->slots[i].key, m->slots[i].len);
            w32(w, m->slots[i].value);
        }
}

/* A database, serialised (NULL: none). */
static bool write_db(struct wr *w, const hs_database_t *db)
{
    char *ser = NULL;
    size_t slen = 0;
    if (db && hs_serialize_database(db, &ser, &slen) != HS_SUCCESS)
        return false;
    wbytes(w, ser, slen);
    free(ser); /* hs_serialize_database allocates with malloc */
    return true;
}

static bool write_groups(struct wr *w, const struct stoat_ruleset *rs, char *why, size_t whylen)
{
    w32(w, (uint32_t)rs->ngroups);
    for (size_t gi = 0; gi < rs->ngroups; gi++) {
        const struct rule_group *g = &rs->groups[gi];
        wu32v(w, g->rule, g->n);
        w32(w, g->nhidden);
        for (uint32_t i = 0; i < g->nwords; i++) {
            w64(w, g->ungated[i]);
            w64(w, g->one_set[i]);
        }
        w32(w, g->ndbs);
        for (uint32_t d = 0; d < g->ndbs; d++) {
            wu32v(w, g->dbs[d].fields, g->dbs[d].nfields);
            if (!write_db(w, g->dbs[d].db)) {
                snprintf(why, whylen, "group %zu: database %u could not be serialised", gi, d);
                return false;
            }
        }
        w32(w, g->natoms);
        for (uint32_t i = 0; i <= g->natoms; i++)
            w32(w, g->atom_off[i]);
        for (uint32_t i = 0; i < g->atom_off[g->natoms]; i++) {
            w32(w, g->atom_word[i]);
            w64(w, g->atom_mask[i]);
        }
        for (uint32_t i = 0; i < g->natoms; i++)
            w32(w, g->atom_gid[i]);
        const struct token_table *t = g->tokens;
        w32(w, t ? t->n : 0); /* the table is rebuilt from its entries */
        if (!t)
            continue;
        w32(w, t->field);
        for (uint32_t i = 0; i < t->n; i++) {
            const struct token_shape *sh = &t->shapes[t->shape[i]];
            w32(w, t->atom[i]);
            wbytes(w, t->blob + t->off[i], (size_t)sh->al + 1 + sh->hl);
        }
    }
    return true;
}

static bool write_classes(struct wr *w, const struct stoat_ruleset *rs, char *why, size_t whylen)
{
    w32(w, (uint32_t)rs->nmdbs);
    for (size_t i = 0; i < rs->nmdbs; i++) {
        const struct merged_db *md = &rs->mdbs[i];
        wu32v(w, md->group, md->natoms);
        for (uint32_t k = 0; k < md->natoms; k++)
            w32(w, md->atom[k]);
        if (!write_db(w, md->db)) {
            snprintf(why, whylen, "merged database %zu could not be serialised", i);
            return false;
        }
    }
    w32(w, (uint32_t)rs->nclasses);
    for (size_t ci = 0; ci < rs->nclasses; ci++) {
        const struct route_class *c = &rs->classes[ci];
        wu32v(w, c->group, c->ngroups);
        size_t ndb = 0;
        for (uint32_t g = 0; g < c->ngroups; g++) {
            w32(w, c->rset[g]);
            ndb += rs->groups[c->group[g]].ndbs;
        }
        for (size_t k = 0; k <= ndb; k++)
            w32(w, c->db_off[k]);
        for (uint32_t k = 0; k < c->db_off[ndb]; k++)
            w32(w, c->db_fields[k]);
        w8(w, c->scan_all);
        w8(w, c->hidden_only);
        w32(w, c->keyword_min);
        w32(w, c->nmerges);
        w32(w, c->nsettled);
        if (!c->nmerges && !c->nsettled)
            continue;
        for (uint32_t g = 0; g < c->ngroups; g++)
            w8(w, c->merged[g]);
        for (uint32_t k = 0; k < c->nmerges; k++) {
            w32(w, c->merges[k].db);
            wu32v(w, c->merges[k].fields, c->merges[k].nfields);
        }
        for (uint32_t k = 0; k < c->nsettled; k++) {
            const struct settled_atom *a = &c->settled[k];
            w32(w, a->field);
            w32(w, a->group);
            w32(w, a->atom);
            wbytes(w, a->lit, a->len);
        }
    }
    return true;
}

static void write_stats(struct wr *w, const struct stoat_load_stats *s)
{
    const size_t v[] = {s->files,   s->documents, s->loaded,     s->correlations,
                        s->filters, s->rejected,  s->deselected, s->unrouted};
    for (size_t i = 0; i < sizeof(v) / sizeof(*v); i++)
        w64(w, v[i]);
}

static void write_diags(struct wr *w, const struct snap_diags *d)
{
    w32(w, (uint32_t)d->n);
    for (size_t i = 0; i < d->n; i++) {
        const struct stoat_diag *g = &d->v[i];
        w32(w, (uint32_t)g->code);
        w32(w, (uint32_t)g->severity);
        wstr(w, g->file);
        w64(w, g->line);
        w64(w, g->column);
        w64(w, g->offset);
        w8(w, g->has_offset != 0);
        wstr(w, g->rule_id);
        wstr(w, g->field);
        wstr(w, g->message);
    }
}

static bool write_body(struct wr *w, const struct stoat_ruleset *rs, const struct snap_diags *d, char *why,
                       size_t whylen)
{
    w32(w, (uint32_t)rs->fields.n);
    for (size_t i = 0; i < rs->fields.n; i++)
        wstr(w, rs->fields.names[i]);
    w32(w, (uint32_t)rs->natoms); /* before the patterns that name atoms */
    /* the programs' nodes, counted when done */
    size_t at = w->n;
    w32(w, 0);
    uint32_t *roots = xcalloc(rs->nrules + 1, sizeof(*roots));
    for (size_t r = 0; r < rs->nrules; r++)
        roots[r] = rs->rules[r].prog.root ? write_node(w, rs->rules[r].prog.root) : 0;
    for (int i = 0; i < 4; i++)
        w->b[at + (size_t)i] = (uint8_t)(w->nnodes >> (8 * i));
    w32(w, (uint32_t)rs->nrules);
    w32(w, (uint32_t)rs->nhidden);
    for (size_t r = 0; r < rs->nrules; r++) {
        const struct rule *x = &rs->rules[r];
        write_meta(w, &x->meta);
        w32(w, roots[r]); /* index + 1; 0: none */
        w32(w, (uint32_t)x->nsels);
        w8(w, (uint8_t)(x->correlation_only | x->feeds_correlation << 1 | x->needs_ancestry << 2));
        w8(w, x->role);
        w32(w, x->group);
    }
    free(roots);
    w32(w, (uint32_t)rs->ncorrs);
    for (size_t c = 0; c < rs->ncorrs; c++)
        write_corr(w, &rs->corrs[c]);
    w32(w, (uint32_t)rs->nrsets);
    for (size_t i = 0; i < rs->nrsets; i++) {
        wu32v(w, rs->rsets[i].from, rs->rsets[i].n);
        for (uint32_t k = 0; k < rs->rsets[i].n; k++)
            w32(w, rs->rsets[i].to[k]);
    }
    if (!write_groups(w, rs, why, whylen))
        return false;
    if (!write_classes(w, rs, why, whylen))
        return false;
    write_strmap(w, &rs->routes);
    w32(w, (uint32_t)rs->nprocs);
    for (size_t i = 0; i < rs->nprocs; i++) {
        w8(w, rs->procs[i].end);
        for (int f = 0; f < PF_COUNT; f++)
            w32(w, rs->procs[i].f[f]);
    }
    write_strmap(w, &rs->proc_routes);
    for (int a = 0; a < AF_COUNT; a++)
        wu32v(w, rs->actor_ids[a], rs->nactor_ids[a]);
    wu32v(w, rs->ts_ids, rs->nts_ids);
    wu32v(w, rs->host_ids, rs->nhost_ids);
    wu32v(w, rs->channel_ids, rs->nchannel_ids);
    wu32v(w, rs->eid_ids, rs->neid_ids);
    wu32v(w, rs->padded_ids, rs->npadded_ids);
    w32(w, rs->field_ancestors);
    w32(w, rs->field_ancestor_cmds);
    write_stats(w, &rs->stats);
    write_diags(w, d);
    return true;
}

uint8_t *snapshot_encode(const struct stoat_ruleset *rs, const struct snap_diags *d, const uint8_t key[RC_KEY_LEN],
                         size_t *len, char *why, size_t whylen)
{
    struct wr w = {0};
    w_raw(&w, SN_MAGIC, 8);
    w32(&w, SN_FORMAT);
    w32(&w, 0);
    w64(&w, 0); /* payload length, below */
    w_raw(&w, key, RC_KEY_LEN);
    w_raw(&w, key, RC_KEY_LEN); /* room for the checksum */
    bool ok = write_body(&w, rs, d, why, whylen);
    free(w.pk);
    free(w.pv);
    if (!ok) {
        free(w.b);
        return NULL;
    }
    uint64_t plen = w.n - SN_HEADER;
    for (int i = 0; i < 8; i++)
        w.b[16 + i] = (uint8_t)(plen >> (8 * i));
    rulecache_sum(w.b + SN_HEADER, w.n - SN_HEADER, w.b + 24 + RC_KEY_LEN);
    *len = w.n;
    return w.b;
}
