/* Routing and the prefilter, built once per ruleset. This is the build
 * only; engine/match.c routes and scans each event with what it makes.
 *
 * Rules are grouped by logsource, and each group compiles the literal atoms
 * of its rules into one Hyperscan database (caseless literals, reported at
 * every place they occur: HS_FLAG_SINGLEMATCH's bookkeeping, an exhaustion
 * check in every literal's program, cost more than the repeated reports it
 * saves, which on_atom takes again harmlessly; callgrind: scanning 199.6 M ->
 * 189.3 M instructions on 20,000 realistic events): scanning an event's values yields the atoms present,
 * hence the rules worth evaluating; rules without atoms run on every event.
 * Every kind of event the mapping names (a channel with an event id, a channel
 * with any other id, an unknown channel of a product) gets a class: the
 * groups whose logsource covers it. Groups are shared, so the big ones
 * (process_creation) are compiled once however many event kinds read them. */
#include <pthread.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "rules/cache.h"
#include "rules/ruleset.h"
#include "event/route.h"
#include "util/text.h"

struct key {
    enum {
        K_CE,
        K_C,
        K_P
    } kind;
    const char *channel; /* K_CE, K_C */
    const char *product; /* of the channel, or K_P's product */
    int64_t eid;
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
        if (s->channel ? !str_ieq(s->channel, k->channel)
                       : !(s->product && k->product && str_ieq(s->product, k->product)))
            return false;
        return has_eid(s, k->eid);
    case K_C:
        if (s->neids)
            return false;
        return s->channel ? str_ieq(s->channel, k->channel)
                          : (s->product && k->product && str_ieq(s->product, k->product));
    case K_P: return !s->channel && !s->neids && s->product && str_ieq(s->product, k->product);
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

struct class_build {
    uint32_t *group;
    uint16_t *rset;
    size_t n;
    uint64_t hash;
};

/* Compiles some of a group's atoms into one database. Runs on worker
 * threads, so it only touches its own output. */
struct hs_job {
    hs_database_t **out;
    const char **pats;
    unsigned *flags, *ids;
    size_t *lens;
    uint32_t *afield; /* each pattern's field (a group's jobs) */
    size_t npats;
    char errmsg[256];
    int failed;
};

/* Room for n patterns. */
static void job_alloc(struct hs_job *job, size_t n)
{
    job->pats = xcalloc(n + 1, sizeof(*job->pats));
    job->lens = xcalloc(n + 1, sizeof(*job->lens));
    job->flags = xcalloc(n + 1, sizeof(*job->flags));
    job->ids = xcalloc(n + 1, sizeof(*job->ids));
    job->afield = xcalloc(n + 1, sizeof(*job->afield));
}

static void *compile_jobs(void *arg)
{
    struct hs_job **jobs = arg;
    for (; *jobs; jobs++) {
        struct hs_job *j = *jobs;
        if (!j->npats)
            continue;
        hs_compile_error_t *err = NULL;
        if (hs_compile_lit_multi(j->pats, j->flags, j->ids, j->lens, (unsigned)j->npats, HS_MODE_BLOCK, NULL, j->out,
                                 &err) != HS_SUCCESS) {
            snprintf(j->errmsg, sizeof(j->errmsg), "%s", err && err->message ? err->message : "unknown error");
            j->failed = 1;
            hs_free_compile_error(err);
            *j->out = NULL;
        }
    }
    return NULL;
}

/* A field with at least this many atoms has a database of its own, the
 * group's other fields share one: FDR's cost per byte grows with its
 * literals (7 instructions with 64, 15 with 1,600), and one field's atoms
 * fire on a sibling's values too (Image's '\cmd.exe' in ParentImage); a
 * scan costs a few hundred. Callgrind, 10,000 attack / 20,000 realistic
 * events: 64 and a quarter of the group's (the old rule) 709.5 / 638.8 M;
 * 128: 686.4 / 626.8; 256: 686.1 / 625.7; 300 - 400: 687.0 / 622.5; 500:
 * 686.8 / 627.5. */
#define OWN_DB_MIN_ATOMS 320

/* A group with at most this many atoms is small: its databases go into its
 * classes' merged ones (struct merged_db), so an event's class scans them
 * all at once, and no database is compiled per small group. Callgrind on
 * 20,000 realistic / 10,000 attack events with every rule: 16: 751.0 /
 * 914.3 M; 32: 731.7 / 898.2; 64: 725.9 / 893.9; 128: 736.4 / 905.5; 256:
 * 740.3 / 911.0 (separate databases: 749.1 / 906.9). Larger merged
 * databases leave Teddy for FDR, slower per byte. */
#define SMALL_GROUP_ATOMS 64

/* A field needs this many token atoms for a table (tokens.h) */
#define TOKEN_MIN_ATOMS 16

/* The table of the first field of a large group whose atoms are all
 * ALGO=HEX tokens, and that field, which then leaves the databases (some
 * other database must be left: a group without one has no atoms); none
 * with STOAT_TOKENS=0 (the old way, for A/B and tests; use with
 * --no-cache). Measured on 10,000 attack events: Hashes values were a
 * third of the bytes process_creation's shared database scanned. */
static uint32_t take_token_field(struct stoat_ruleset *rs, struct rule_group *g, size_t natoms, const uint32_t *field,
                                 const char **text, const size_t *lens, const uint32_t *fields, const uint32_t *fcount,
                                 size_t nf)
{
    const char *off = getenv("STOAT_TOKENS");
    if ((off && off[0] == '0') || natoms <= SMALL_GROUP_ATOMS || nf < 2)
        return UINT32_MAX;
    for (size_t k = 0; k < nf; k++) {
        if (fields[k] == FIELD_ANY || fcount[k] < TOKEN_MIN_ATOMS)
            continue;
        const char **t = xcalloc(fcount[k], sizeof(*t));
        uint32_t *l = xcalloc(fcount[k], sizeof(*l)), *ids = xcalloc(fcount[k], sizeof(*ids)), n = 0;
        for (size_t i = 0; i < natoms; i++)
            if (field[i] == fields[k]) {
                t[n] = text[i];
                l[n] = (uint32_t)lens[i];
                ids[n++] = (uint32_t)i;
            }
        g->tokens = token_table_make(&rs->arena, fields[k], n, t, l, ids);
        free(t);
        free(l);
        free(ids);
        if (g->tokens)
            return fields[k];
    }
    return UINT32_MAX;
}

/* An atom's key in the maps: its text and its field, for the same text in
 * two fields is two atoms (each found in its own field's values). */
static size_t atom_key(char **buf, size_t *cap, const struct atom *a)
{
    size_t n = a->len + sizeof(a->field);
    if (n > *cap) {
        *buf = xrealloc(*buf, n);
        *cap = n;
    }
    memcpy(*buf, a->s, a->len);
    memcpy(*buf + a->len, &a->field, sizeof(a->field));
    return n;
}

/* The group's atom table as words (ruleset.h) from its entries rule * 2 +
 * set, off[] being their CSR offsets: each atom's entries merge by word. */
static void atom_words(struct stoat_ruleset *rs, struct rule_group *g, const uint32_t *off, const uint32_t *ent)
{
    uint32_t *woff = arena_alloc(&rs->arena, ((size_t)g->natoms + 1) * sizeof(*woff));
    uint32_t total = off[g->natoms];
    uint32_t *word = arena_alloc(&rs->arena, ((size_t)total + 1) * sizeof(*word));
    uint64_t *mask = arena_alloc(&rs->arena, ((size_t)total + 1) * sizeof(*mask));
    uint32_t n = 0;
    for (uint32_t i = 0; i < g->natoms; i++) {
        woff[i] = n;
        for (uint32_t k = off[i]; k < off[i + 1]; k++) {
            uint32_t e = ent[k] >> 1, w = (ent[k] & 1) * g->nwords + e / 64, j;
            for (j = woff[i]; j < n && word[j] != w; j++)
                ;
            if (j == n) {
                word[n] = w;
                mask[n++] = 0;
            }
            mask[j] |= 1ull << (e % 64);
        }
    }
    woff[g->natoms] = n;
    g->atom_off = woff;
    g->atom_word = word;
    g->atom_mask = mask;
}

/* The group's atom table (CSR atom -> rules) and the jobs that compile its
 * databases (see rule_group); returns how many jobs it appended. */
static size_t build_group_atoms(struct stoat_ruleset *rs, struct rule_group *g, struct hs_job **jobs, size_t *njobs,
                                size_t *jcap)
{
    struct strmap atoms;
    strmap_init(&atoms);
    uint32_t *counts = NULL, *first = NULL, *field = NULL;
    size_t ccap = 0, fcap = 0;
    char *kb = NULL;
    size_t kcap = 0;
    g->nwords = (g->n + 63) / 64;
    uint64_t *ungated = arena_zalloc(&rs->arena, (g->nwords ? g->nwords : 1) * sizeof(uint64_t));
    uint64_t *one_set = arena_zalloc(&rs->arena, (g->nwords ? g->nwords : 1) * sizeof(uint64_t));
    size_t natoms = 0;
    for (uint32_t e = 0; e < g->n; e++) {
        const struct rule *r = &rs->rules[g->rule[e]];
        if (!r->prog.natoms)
            ungated[e / 64] |= 1ull << (e % 64);
        bool has_b = false;
        for (uint32_t a = 0; a < r->prog.natoms; a++)
            has_b |= (r->prog.atoms[a].sets & 2) != 0;
        if (!has_b)
            one_set[e / 64] |= 1ull << (e % 64);
        for (uint32_t a = 0; a < r->prog.nall; a++) {
            size_t kl = atom_key(&kb, &kcap, &r->prog.atoms[a]);
            uint32_t id = strmap_put(&atoms, kb, kl, (uint32_t)natoms);
            if (id == natoms) {
                XGROW(counts, ccap, natoms + 1);
                XGROW(field, fcap, natoms + 1);
                counts[natoms] = 0;
                field[natoms] = r->prog.atoms[a].field;
                natoms++;
            }
            if (a < r->prog.natoms) /* only requirement atoms wake the rule */
                counts[id] += (r->prog.atoms[a].sets & 1) + (r->prog.atoms[a].sets >> 1 & 1);
        }
    }
    g->ungated = ungated;
    g->one_set = one_set;
    g->natoms = (uint32_t)natoms;
    uint32_t *off = xcalloc(natoms + 1, sizeof(*off));
    uint32_t total = 0;
    for (size_t i = 0; i < natoms; i++) {
        off[i] = total;
        total += counts[i];
    }
    off[natoms] = total;
    uint32_t *ent = xcalloc(total + 1, sizeof(*ent));
    first = xcalloc(natoms + 1, sizeof(*first));
    for (size_t i = 0; i < natoms; i++)
        first[i] = off[i];
    uint32_t *gid = arena_alloc(&rs->arena, (natoms + 1) * sizeof(*gid));
    const char **text = xcalloc(natoms + 1, sizeof(*text));
    size_t *lens = xcalloc(natoms + 1, sizeof(*lens));
    for (uint32_t e = 0; e < g->n; e++) {
        const struct rule *r = &rs->rules[g->rule[e]];
        for (uint32_t a = 0; a < r->prog.nall; a++) {
            uint32_t id;
            size_t kl = atom_key(&kb, &kcap, &r->prog.atoms[a]);
            strmap_get(&atoms, kb, kl, &id);
            if (a < r->prog.natoms) { /* a rule lists an atom once, in A, B or both */
                if (r->prog.atoms[a].sets & 1)
                    ent[first[id]++] = e * 2;
                if (r->prog.atoms[a].sets & 2)
                    ent[first[id]++] = e * 2 + 1;
            }
            text[id] = r->prog.atoms[a].s;
            lens[id] = r->prog.atoms[a].len;
            strmap_get(&rs->atoms, kb, kl, &gid[id]);
        }
    }
    atom_words(rs, g, off, ent);
    g->atom_gid = gid;
    /* databases: keywords alone, each field with many atoms
     * (OWN_DB_MIN_ATOMS) alone, the other fields together; atoms keep their
     * group-wide ids */
    uint32_t *fields = NULL, *fcount = NULL, *fdb = NULL;
    size_t nf = 0, nfcap = 0, nccap = 0, ndcap = 0;
    for (size_t i = 0; i < natoms; i++) {
        size_t k;
        for (k = 0; k < nf && fields[k] != field[i]; k++)
            ;
        if (k == nf) {
            XGROW(fields, nfcap, nf + 1);
            XGROW(fcount, nccap, nf + 1);
            fields[nf] = field[i];
            fcount[nf++] = 0;
        }
        fcount[k]++;
    }
    XGROW(fdb, ndcap, nf + 1);
    uint32_t ndb = 0, shared = UINT32_MAX;
    uint32_t tokens = take_token_field(rs, g, natoms, field, text, lens, fields, fcount, nf);
    for (size_t k = 0; k < nf; k++) {
        bool alone = fields[k] == FIELD_ANY || fcount[k] >= OWN_DB_MIN_ATOMS;
        if (g->tokens && fields[k] == tokens) {
            fdb[k] = UINT32_MAX; /* in no database: looked up in its table */
        } else if (alone) {
            fdb[k] = ndb++;
        } else {
            if (shared == UINT32_MAX)
                shared = ndb++;
            fdb[k] = shared;
        }
    }
    g->ndbs = ndb;
    g->dbs = arena_zalloc(&rs->arena, (ndb ? ndb : 1) * sizeof(*g->dbs));
    for (uint32_t d = 0; d < ndb; d++) {
        struct group_db *db = &g->dbs[d];
        uint32_t *fl = arena_alloc(&rs->arena, (nf ? nf : 1) * sizeof(*fl));
        for (size_t k = 0; k < nf; k++)
            if (fdb[k] == d)
                fl[db->nfields++] = fields[k];
        db->fields = fl;
        XGROW(*jobs, *jcap, *njobs + 1);
        struct hs_job *job = &(*jobs)[(*njobs)++];
        memset(job, 0, sizeof(*job));
        job->out = &db->db;
        size_t n = 0;
        for (size_t k = 0; k < nf; k++)
            if (fdb[k] == d)
                n += fcount[k];
        job_alloc(job, n);
        for (size_t i = 0; i < natoms; i++) {
            size_t k = 0;
            while (fields[k] != field[i])
                k++;
            if (fdb[k] != d)
                continue;
            job->pats[job->npats] = text[i];
            job->lens[job->npats] = lens[i];
            /* not HS_FLAG_SINGLEMATCH: see the top of the file */
            job->flags[job->npats] = HS_FLAG_CASELESS;
            job->ids[job->npats] = (unsigned)i;
            job->afield[job->npats++] = field[i];
        }
    }
    free(fcount);
    free(fdb);
    free(fields);
    free(text);
    free(lens);
    free(kb);
    free(counts);
    free(first);
    free(off);
    free(ent);
    free(field);
    strmap_free(&atoms);
    return ndb;
}

/* The fields a rule's tests read, and whether it has keyword tests (which
 * read every value). */
struct field_use {
    uint32_t *ids;
    size_t n, cap;
    bool any;
};

static void use_fields(const struct pnode *n, struct field_use *u, int depth)
{
    if (depth > 200) {
        u->any = true; /* deeper than we look: assume it reads everything */
        return;
    }
    if (n->op == N_TEST) {
        uint32_t f = n->u.test->field;
        if (f == FIELD_ANY) {
            u->any = true;
        } else {
            XGROW(u->ids, u->cap, u->n + 1);
            u->ids[u->n++] = f;
        }
        return;
    }
    if (n->op == N_TRUE || n->op == N_FALSE)
        return;
    for (uint32_t i = 0; i < n->n; i++)
        use_fields(n->u.kids[i], u, depth + 1);
}

static bool has_keywords(const struct rule *r)
{
    struct field_use u = {0};
    if (r->prog.root)
        use_fields(r->prog.root, &u, 0);
    free(u.ids);
    return u.any;
}

/* A rule's group key: its resolved logsource, and whether it has keywords. */
static size_t group_key(const struct rule *r, bool keywords, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s|%s|%s|%c", r->meta.product ? r->meta.product : "",
                     r->meta.category ? r->meta.category : "", r->meta.service ? r->meta.service : "",
                     keywords ? 'k' : '-');
    if (n < 0 || (size_t)n >= cap)
        return 0;
    for (int i = 0; i < n; i++)
        buf[i] = (char)ascii_lower_table[(unsigned char)buf[i]];
    return (size_t)n;
}

/* Each database's fields as the class's events name them: a group seen
 * through renames reads `to` from the event's `from`. */
static void class_db_fields(struct stoat_ruleset *rs, struct route_class *cls)
{
    size_t ndb = 0, nf = 0;
    for (uint32_t gi = 0; gi < cls->ngroups; gi++) {
        const struct rule_group *g = &rs->groups[cls->group[gi]];
        ndb += g->ndbs;
        for (uint32_t d = 0; d < g->ndbs; d++)
            nf += g->dbs[d].nfields;
    }
    uint32_t *off = arena_alloc(&rs->arena, (ndb + 1) * sizeof(*off));
    uint32_t *out = arena_alloc(&rs->arena, (nf ? nf : 1) * sizeof(*out));
    size_t k = 0, j = 0;
    for (uint32_t gi = 0; gi < cls->ngroups; gi++) {
        const struct rule_group *g = &rs->groups[cls->group[gi]];
        const struct renameset *rn = cls->rset[gi] ? &rs->rsets[cls->rset[gi]] : NULL;
        for (uint32_t d = 0; d < g->ndbs; d++) {
            off[k++] = (uint32_t)j;
            for (uint32_t x = 0; x < g->dbs[d].nfields; x++) {
                uint32_t f = g->dbs[d].fields[x];
                if (f == FIELD_ANY)
                    cls->scan_all = true;
                for (uint32_t i = 0; rn && f != FIELD_ANY && i < rn->n; i++)
                    if (rn->to[i] == f) {
                        f = rn->from[i];
                        break;
                    }
                out[j++] = f;
            }
        }
    }
    off[k] = (uint32_t)j;
    cls->db_off = off;
    cls->db_fields = out;
}

/* Deals the jobs to one thread per core, biggest first, and runs them. */
static void compile_all(struct hs_job *jobs, size_t n)
{
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    size_t nthreads = ncpu > 1 ? (size_t)ncpu : 1;
    if (nthreads > 16)
        nthreads = 16;
    struct hs_job ***lists = xcalloc(nthreads, sizeof(*lists));
    for (size_t t = 0; t < nthreads; t++)
        lists[t] = xcalloc(n + 1, sizeof(**lists));
    size_t *order = xcalloc(n + 1, sizeof(*order));
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = 1; i < n; i++) {
        size_t v = order[i], j = i;
        while (j > 0 && jobs[order[j - 1]].npats < jobs[v].npats) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    size_t *fill = xcalloc(nthreads, sizeof(*fill));
    size_t *load = xcalloc(nthreads, sizeof(*load));
    for (size_t i = 0; i < n; i++) {
        size_t best = 0;
        for (size_t t = 1; t < nthreads; t++)
            if (load[t] < load[best])
                best = t;
        lists[best][fill[best]++] = &jobs[order[i]];
        load[best] += jobs[order[i]].npats + 1;
    }
    pthread_t *th = xcalloc(nthreads, sizeof(*th));
    bool *started = xcalloc(nthreads, sizeof(*started));
    for (size_t t = 1; t < nthreads; t++) {
        started[t] = pthread_create(&th[t], NULL, compile_jobs, lists[t]) == 0;
        if (!started[t])
            compile_jobs(lists[t]); /* run it here instead */
    }
    compile_jobs(lists[0]);
    for (size_t t = 1; t < nthreads; t++)
        if (started[t])
            pthread_join(th[t], NULL);
    for (size_t t = 0; t < nthreads; t++)
        free(lists[t]);
    free(lists);
    free(th);
    free(started);
    free(order);
    free(fill);
    free(load);
}

/* What the route build carries from one step to the next. */
struct route_build {
    struct stoat_ruleset *rs;
    struct hs_job *jobs; /* the databases to compile */
    size_t njobs, jcap;
    size_t *group_jobs; /* the first job of each group, and njobs at [ngroups] */
    struct key *keys;   /* every kind of event some rule reads */
    size_t nkeys, kcap;
    struct settled_atom *settled; /* field: the group's, not the event's */
    size_t nsettled;
    uint32_t *settled_fields; /* fields whose merged atoms are all settled */
    size_t nsettled_fields;
    size_t rcap;               /* of rs->rsets */
    struct strmap merged_keys; /* a merged database's kind and groups -> its index */
    struct merged_key {
        uint8_t kind;
        uint32_t ngroups;
        const uint32_t *group;
    } * merged; /* the merged databases to make, by index */
    size_t nmerged, mcap;
};

/* 0. ruleset-wide atom ids, given to the patterns that can skip on them */
static void number_atoms(struct stoat_ruleset *rs)
{
    strmap_init(&rs->atoms);
    char *akb = NULL;
    size_t akcap = 0;
    for (size_t r = 0; r < rs->nrules; r++) {
        struct compiled *p = &rs->rules[r].prog;
        uint32_t *ids = xcalloc(p->nall + 1, sizeof(*ids));
        for (uint32_t a = 0; a < p->nall; a++) {
            size_t akl = atom_key(&akb, &akcap, &p->atoms[a]);
            ids[a] = strmap_put(&rs->atoms, akb, akl, (uint32_t)rs->natoms);
            if (ids[a] == rs->natoms)
                rs->natoms++;
        }
        for (uint32_t g = 0; g < p->ngated; g++)
            p->gated[g].pat->atom = ids[p->gated[g].atom];
        free(ids);
    }
    free(akb);
    /* after every rule's: a pattern of a shared filter gets its id from one */
    for (size_t r = 0; r < rs->nrules; r++)
        if (rs->rules[r].prog.root)
            program_set_req_atoms((struct pnode *)rs->rules[r].prog.root, (uint32_t)rs->natoms, 0);
}

/* 1. groups: the rules of each logsource, their roots and atom tables, and
 * the jobs that compile their databases */
static void build_groups(struct route_build *b)
{
    struct stoat_ruleset *rs = b->rs;
    char kb[ROUTE_KEY_MAX];
    struct strmap gkeys;
    strmap_init(&gkeys);
    uint32_t *rule_group = xcalloc(rs->nrules + 1, sizeof(*rule_group));
    size_t *gcount = NULL, gcap = 0, ng = 0;
    for (size_t r = 0; r < rs->nrules; r++) {
        if (!rs->rules[r].nsels)
            continue; /* unrouted: no event ever reaches it */
        size_t kl = group_key(&rs->rules[r], has_keywords(&rs->rules[r]), kb, sizeof(kb));
        uint32_t g = strmap_put(&gkeys, kb, kl, (uint32_t)ng);
        if (g == ng) {
            XGROW(gcount, gcap, ng + 1);
            gcount[ng++] = 0;
        }
        rule_group[r] = g;
        rs->rules[r].group = g;
        gcount[g]++;
    }
    rs->groups = arena_zalloc(&rs->arena, (ng ? ng : 1) * sizeof(*rs->groups));
    rs->ngroups = ng;
    for (size_t g = 0; g < ng; g++)
        rs->groups[g].rule = arena_alloc(&rs->arena, gcount[g] * sizeof(uint32_t));
    for (size_t r = 0; r < rs->nrules; r++)
        if (rs->rules[r].nsels) {
            struct rule_group *g = &rs->groups[rule_group[r]];
            ((uint32_t *)g->rule)[g->n++] = (uint32_t)r;
            g->nhidden += r >= rs->nrules - rs->nhidden;
        }
    for (size_t g = 0; g < ng; g++) {
        uintptr_t *roots = arena_alloc(&rs->arena, (rs->groups[g].n ? rs->groups[g].n : 1) * sizeof(*roots));
        for (uint32_t e = 0; e < rs->groups[g].n; e++) {
            const struct rule *r = &rs->rules[rs->groups[g].rule[e]];
            roots[e] = (uintptr_t)r->prog.root | (r->needs_ancestry ? 1u : 0u);
        }
        rs->groups[g].root = roots;
    }
    b->group_jobs = xcalloc(ng + 1, sizeof(*b->group_jobs));
    for (size_t g = 0; g < ng; g++) {
        b->group_jobs[g] = b->njobs;
        build_group_atoms(rs, &rs->groups[g], &b->jobs, &b->njobs, &b->jcap);
    }
    b->group_jobs[ng] = b->njobs;
    free(gcount);
    free(rule_group);
    strmap_free(&gkeys);
}

/* Appends a key not seen yet. */
static void add_key(struct route_build *b, struct strmap *seen, const char *kb, size_t kl, struct key k)
{
    if (!kl || strmap_get(seen, kb, kl, NULL))
        return;
    strmap_put(seen, kb, kl, 0);
    XGROW(b->keys, b->kcap, b->nkeys + 1);
    b->keys[b->nkeys++] = k;
}

/* 2. the keys: every channel with each event id a rule names, every channel
 * with any id, every product */
static void collect_keys(struct route_build *b)
{
    const struct stoat_ruleset *rs = b->rs;
    char kb[ROUTE_KEY_MAX];
    struct strmap seen;
    strmap_init(&seen);
    for (size_t r = 0; r < rs->nrules; r++) {
        for (size_t s = 0; s < rs->rules[r].nsels; s++) {
            const struct map_selector *sel = &rs->rules[r].sels[s];
            const char *product = sel->product;
            if (sel->channel) {
                if (!product)
                    product = mapping_channel_product(rs->map, sel->channel, strlen(sel->channel));
                for (size_t e = 0; e <= sel->neids; e++) {
                    bool any = e == sel->neids;
                    size_t kl =
                        route_key(kb, sizeof(kb), sel->channel, strlen(sel->channel), !any, any ? 0 : sel->eids[e]);
                    add_key(b, &seen, kb, kl,
                            (struct key){.kind = any ? K_C : K_CE,
                                         .channel = sel->channel,
                                         .product = product,
                                         .eid = any ? 0 : sel->eids[e]});
                }
            } else if (product) {
                size_t kl = route_key_product(kb, sizeof(kb), product);
                add_key(b, &seen, kb, kl, (struct key){.kind = K_P, .product = product});
            }
        }
    }
    /* Products of named channels need a product-wide key too, for channels
     * nobody named. */
    for (size_t k = 0, n = b->nkeys; k < n; k++) {
        if (b->keys[k].kind == K_P || !b->keys[k].product)
            continue;
        const char *product = b->keys[k].product;
        size_t kl = route_key_product(kb, sizeof(kb), product);
        add_key(b, &seen, kb, kl, (struct key){.kind = K_P, .product = product});
    }
    strmap_free(&seen);
}

/* 3. per key, the groups that take it (all rules of a group share their
 * selectors, so the group's first rule decides), deduplicated into classes */
static void build_classes(struct route_build *b)
{
    struct stoat_ruleset *rs = b->rs;
    size_t ng = rs->ngroups;
    char kb[ROUTE_KEY_MAX];
    struct class_build *cb = NULL;
    size_t ncb = 0, cbcap = 0;
    uint32_t *tg = xcalloc(ng + 1, sizeof(*tg));
    uint16_t *tr = xcalloc(ng + 1, sizeof(*tr));
    strmap_init(&rs->routes);
    for (size_t k = 0; k < b->nkeys; k++) {
        const struct key *key = &b->keys[k];
        size_t n = 0;
        for (size_t g = 0; g < ng; g++) {
            const struct rule *r0 = &rs->rules[rs->groups[g].rule[0]];
            for (size_t s = 0; s < r0->nsels; s++) {
                if (!accepts(&r0->sels[s], key))
                    continue;
                tg[n] = (uint32_t)g;
                tr[n] = intern_renames(rs, &b->rcap, &r0->sels[s]);
                n++;
                break; /* one view per group and key: the first selector that takes it */
            }
        }
        if (!n)
            continue;
        uint64_t h = hash_bytes(tg, n * sizeof(*tg), 7) ^ hash_bytes(tr, n * sizeof(*tr), 9);
        size_t ci;
        for (ci = 0; ci < ncb; ci++)
            if (cb[ci].hash == h && cb[ci].n == n && !memcmp(cb[ci].group, tg, n * sizeof(*tg)) &&
                !memcmp(cb[ci].rset, tr, n * sizeof(*tr)))
                break;
        if (ci == ncb) {
            XGROW(cb, cbcap, ncb + 1);
            cb[ncb].group = arena_memdup(&rs->arena, tg, n * sizeof(*tg));
            cb[ncb].rset = arena_memdup(&rs->arena, tr, n * sizeof(*tr));
            cb[ncb].n = n;
            cb[ncb].hash = h;
            ncb++;
        }
        size_t kl = key->kind == K_P
                        ? route_key_product(kb, sizeof(kb), key->product)
                        : route_key(kb, sizeof(kb), key->channel, strlen(key->channel), key->kind == K_CE, key->eid);
        strmap_put(&rs->routes, kb, kl, (uint32_t)ci);
    }
    rs->classes = arena_zalloc(&rs->arena, (ncb ? ncb : 1) * sizeof(*rs->classes));
    rs->nclasses = ncb;
    for (size_t i = 0; i < ncb; i++) {
        rs->classes[i] = (struct route_class){
            .ngroups = (uint32_t)cb[i].n, .group = cb[i].group, .rset = cb[i].rset, .hidden_only = true};
        for (size_t g = 0; g < cb[i].n; g++)
            rs->classes[i].hidden_only &= rs->groups[cb[i].group[g]].n == rs->groups[cb[i].group[g]].nhidden;
        class_db_fields(rs, &rs->classes[i]);
    }
    free(cb);
    free(tg);
    free(tr);
}

static bool is_keyword_db(const struct group_db *db)
{
    return db->nfields == 1 && db->fields[0] == FIELD_ANY;
}

/* Into which merged database (MERGED_*) database d of group g goes; 0: none. */
static uint8_t merge_kind(const struct rule_group *g, uint32_t d)
{
    if (g->natoms > SMALL_GROUP_ATOMS)
        return 0;
    return is_keyword_db(&g->dbs[d]) ? MERGED_KEYWORDS : MERGED_FIELDS;
}

/* Appends f to the set v (n entries), unless there. */
static void add_field(uint32_t **v, size_t *n, size_t *cap, uint32_t f)
{
    for (size_t i = 0; i < *n; i++)
        if ((*v)[i] == f)
            return;
    XGROW(*v, *cap, *n + 1);
    (*v)[(*n)++] = f;
}

/* Whether an atom is a whole value: NUL, bytes without NUL, NUL. */
static bool whole_value(const char *s, size_t len)
{
    return len >= 3 && s[0] == 0 && s[len - 1] == 0 && !memchr(s + 1, 0, len - 2);
}

static bool has_field(const uint32_t *v, size_t n, uint32_t f)
{
    for (size_t i = 0; i < n; i++)
        if (v[i] == f)
            return true;
    return false;
}

/* A field with more whole-value atoms than this stays scanned: the
 * compare costs per atom of the field, the scan per byte of its values.
 * Callgrind, every rule, 20,000 realistic / 10,000 attack events, cold
 * compile: nothing settled 691.0 / 827.3 / 4,928.1 M; up to 16 (Channel,
 * 3 atoms; QNAME, DestinationPort...) 686.9 / 823.3 / 4,922.6 M; EventID
 * too (133 atoms) 684.3 / 822.0 / 4,934.0 M (Hyperscan builds the merged
 * database without them more slowly). */
#define SETTLE_MAX_ATOMS 16

/* The fields whose atoms in the small groups' field databases are all
 * whole values, few (SETTLE_MAX_ATOMS), and those atoms (struct
 * settled_atom), which the merged database leaves out. Measured on 20,000
 * realistic events: a quarter of the merged scan's bytes were Channel
 * values, scanned for three atoms. STOAT_SETTLE=0 leaves every atom in the
 * database (the old way, for A/B and tests; a ruleset file read from the
 * cache keeps the form it was made with, so use it with --no-cache). */
static void settle_atoms(struct route_build *b)
{
    struct stoat_ruleset *rs = b->rs;
    const char *off = getenv("STOAT_SETTLE");
    if (off && off[0] == '0')
        return;
    uint32_t *all = NULL, *count = NULL; /* count: whole-value atoms, UINT32_MAX when some is not */
    size_t nall = 0, acap = 0, ccap = 0, scap = 0;
    for (size_t g = 0; g < rs->ngroups; g++)
        for (uint32_t d = 0; d < rs->groups[g].ndbs; d++) {
            const struct hs_job *j = &b->jobs[b->group_jobs[g] + d];
            for (size_t p = 0; merge_kind(&rs->groups[g], d) == MERGED_FIELDS && p < j->npats; p++) {
                size_t k = 0;
                while (k < nall && all[k] != j->afield[p])
                    k++;
                if (k == nall) {
                    add_field(&all, &nall, &acap, j->afield[p]);
                    XGROW(count, ccap, nall);
                    count[k] = 0;
                }
                if (!whole_value(j->pats[p], j->lens[p]))
                    count[k] = UINT32_MAX;
                else if (count[k] != UINT32_MAX)
                    count[k]++;
            }
        }
    for (size_t i = 0; i < nall; i++)
        if (count[i] <= SETTLE_MAX_ATOMS)
            add_field(&b->settled_fields, &b->nsettled_fields, &scap, all[i]);
    scap = 0;
    for (size_t g = 0; g < rs->ngroups && b->nsettled_fields; g++)
        for (uint32_t d = 0; d < rs->groups[g].ndbs; d++) {
            const struct hs_job *j = &b->jobs[b->group_jobs[g] + d];
            for (size_t p = 0; merge_kind(&rs->groups[g], d) == MERGED_FIELDS && p < j->npats; p++)
                if (has_field(b->settled_fields, b->nsettled_fields, j->afield[p])) {
                    XGROW(b->settled, scap, b->nsettled + 1);
                    b->settled[b->nsettled++] = (struct settled_atom){.field = j->afield[p],
                                                                      .group = (uint32_t)g,
                                                                      .atom = j->ids[p],
                                                                      .len = (uint32_t)j->lens[p] - 2,
                                                                      .lit = j->pats[p] + 1};
                }
        }
    free(count);
    free(all);
}

/* Whether pattern p of job j is left out of the merged database (settled). */
static bool is_settled(const struct route_build *b, const struct hs_job *j, size_t p)
{
    return j->afield && has_field(b->settled_fields, b->nsettled_fields, j->afield[p]);
}

/* The index of the merged database of a kind over some small groups
 * (ascending; none: every small group), one for all classes that scan it.
 * Keyword ones read every value: each class has its own (one of the
 * ruleset's 76 made Windows events pay for Linux's). Field ones per class
 * (40 to 100 atoms) were as slow to compile as the ruleset's, no faster.
 * Callgrind, 10,000 attack / 20,000 realistic events / cold compile: both
 * for the ruleset 687.1 / 622.5 / 4,510 M; keywords per class 679.1 /
 * 616.6 / 4,490 M; both per class 679.0 / 618.0 / 6,228 M. */
static uint32_t merged_index(struct route_build *b, uint8_t kind, const uint32_t *group, size_t ngroups)
{
    size_t kl = 1 + ngroups * sizeof(*group);
    uint8_t *key = xcalloc(kl, 1);
    key[0] = kind;
    memcpy(key + 1, group, ngroups * sizeof(*group));
    uint32_t i = strmap_put(&b->merged_keys, (const char *)key, kl, (uint32_t)b->nmerged);
    free(key);
    if (i == b->nmerged) {
        XGROW(b->merged, b->mcap, b->nmerged + 1);
        b->merged[b->nmerged++] =
            (struct merged_key){.kind = kind,
                                .ngroups = (uint32_t)ngroups,
                                .group = arena_memdup(&b->rs->arena, group, ngroups * sizeof(*group))};
    }
    return i;
}

/* The job of merged database md: every atom of its groups' databases of
 * its kind but the settled ones (as they come: ascending groups). */
static void merged_job(struct route_build *b, const struct merged_key *k, struct merged_db *md)
{
    struct stoat_ruleset *rs = b->rs;
    size_t npats = 0, ng = k->ngroups ? k->ngroups : rs->ngroups;
    for (size_t x = 0; x < ng; x++) {
        uint32_t g = k->ngroups ? k->group[x] : (uint32_t)x;
        for (uint32_t d = 0; d < rs->groups[g].ndbs; d++)
            if (merge_kind(&rs->groups[g], d) == k->kind) {
                const struct hs_job *j = &b->jobs[b->group_jobs[g] + d];
                for (size_t p = 0; p < j->npats; p++)
                    npats += k->kind != MERGED_FIELDS || !is_settled(b, j, p);
            }
    }
    if (!npats)
        return;
    XGROW(b->jobs, b->jcap, b->njobs + 1);
    struct hs_job *job = &b->jobs[b->njobs++];
    memset(job, 0, sizeof(*job));
    job->out = &md->db;
    job_alloc(job, npats);
    uint32_t *group = arena_alloc(&rs->arena, npats * sizeof(*group));
    uint32_t *atom = arena_alloc(&rs->arena, npats * sizeof(*atom));
    for (size_t x = 0; x < ng; x++) {
        uint32_t g = k->ngroups ? k->group[x] : (uint32_t)x;
        for (uint32_t d = 0; d < rs->groups[g].ndbs; d++) {
            if (merge_kind(&rs->groups[g], d) != k->kind)
                continue;
            const struct hs_job *from = &b->jobs[b->group_jobs[g] + d];
            for (size_t p = 0; p < from->npats; p++) {
                if (k->kind == MERGED_FIELDS && is_settled(b, from, p))
                    continue;
                size_t i = job->npats++;
                job->pats[i] = from->pats[p];
                job->lens[i] = from->lens[p];
                job->flags[i] = from->flags[p];
                job->ids[i] = (unsigned)i;
                group[i] = g;
                atom[i] = from->ids[p];
            }
        }
    }
    md->natoms = (uint32_t)npats;
    md->group = group;
    md->atom = atom;
}

/* The event's field that group slot gi of the class reads as f. */
static uint32_t event_field(const struct stoat_ruleset *rs, const struct route_class *cls, uint32_t gi, uint32_t f)
{
    const struct renameset *rn = cls->rset[gi] ? &rs->rsets[cls->rset[gi]] : NULL;
    for (uint32_t i = 0; rn && i < rn->n; i++)
        if (rn->to[i] == f)
            return rn->from[i];
    return f;
}

/* The settled atoms of the class's small groups, one field's together. */
static void settle_class(const struct route_build *b, struct route_class *cls)
{
    struct stoat_ruleset *rs = b->rs;
    struct settled_atom *v = NULL;
    size_t n = 0, cap = 0;
    for (uint32_t gi = 0; gi < cls->ngroups; gi++) {
        if (!cls->merged || !(cls->merged[gi] & MERGED_FIELDS))
            continue;
        for (size_t k = 0; k < b->nsettled; k++) {
            if (b->settled[k].group != cls->group[gi])
                continue;
            struct settled_atom a = b->settled[k];
            a.field = event_field(rs, cls, gi, a.field);
            XGROW(v, cap, n + 1);
            size_t at = n++;
            for (; at > 0 && v[at - 1].field > a.field; at--)
                v[at] = v[at - 1];
            v[at] = a;
        }
    }
    if (n) {
        cls->nsettled = (uint32_t)n;
        cls->settled = arena_memdup(&rs->arena, v, n * sizeof(*v));
    }
    free(v);
}

/* The fewest bytes a value needs to hold an atom of job j, if below min:
 * its bytes within its edge NULs, 0 with a NUL inside (it spans values). */
static uint32_t keyword_need(const struct hs_job *j, uint32_t min)
{
    for (size_t p = 0; p < j->npats; p++) {
        const char *s = j->pats[p], *e = s + j->lens[p];
        s += s < e && !*s;
        e -= e > s && !e[-1];
        uint32_t n = memchr(s, 0, (size_t)(e - s)) ? 0 : (uint32_t)(e - s);
        min = n < min ? n : min;
    }
    return min;
}

/* The class's merged scans, each kind its small groups have, over the union
 * of their databases' fields but settled ones; its shortest keyword atom. */
static void merge_class(struct route_build *b, struct route_class *cls)
{
    struct stoat_ruleset *rs = b->rs;
    struct class_merge m[2] = {{0}};
    uint32_t *fields[2] = {NULL, NULL}, *groups[2] = {NULL, NULL};
    size_t nf[2] = {0, 0}, fcap[2] = {0, 0}, ng[2] = {0, 0}, gcap[2] = {0, 0};
    uint8_t *merged = arena_zalloc(&rs->arena, (size_t)cls->ngroups + 1);
    uint32_t dbi = 0, need = UINT32_MAX;
    for (uint32_t gi = 0; gi < cls->ngroups; gi++) {
        const struct rule_group *g = &rs->groups[cls->group[gi]];
        for (uint32_t d = 0; d < g->ndbs; d++, dbi++) {
            if (is_keyword_db(&g->dbs[d]))
                need = keyword_need(&b->jobs[b->group_jobs[cls->group[gi]] + d], need);
            uint8_t kind = merge_kind(g, d);
            if (!kind)
                continue;
            if (!(merged[gi] & kind))
                add_field(&groups[kind - 1], &ng[kind - 1], &gcap[kind - 1], cls->group[gi]);
            merged[gi] |= kind;
            for (uint32_t k = cls->db_off[dbi]; k < cls->db_off[dbi + 1]; k++)
                if (kind != MERGED_FIELDS ||
                    !has_field(b->settled_fields, b->nsettled_fields, g->dbs[d].fields[k - cls->db_off[dbi]]))
                    add_field(&fields[kind - 1], &nf[kind - 1], &fcap[kind - 1], cls->db_fields[k]);
        }
    }
    uint32_t nm = 0;
    for (uint32_t k = 0; k < 2; k++) {
        if (nf[k]) {
            bool own = k + 1 == MERGED_KEYWORDS;
            m[nm].db = merged_index(b, (uint8_t)(k + 1), groups[k], own ? ng[k] : 0);
            m[nm].nfields = (uint32_t)nf[k];
            m[nm].fields = arena_memdup(&rs->arena, fields[k], nf[k] * sizeof(*fields[k]));
            nm++;
        }
        free(fields[k]);
        free(groups[k]);
    }
    if (nm) {
        cls->nmerges = nm;
        cls->merges = arena_memdup(&rs->arena, m, nm * sizeof(*m));
    }
    cls->merged = merged; /* even with no merged scan left: its groups' atoms are all settled */
    cls->keyword_min = need == UINT32_MAX ? 0 : need;
    settle_class(b, cls);
}

/* 3b. the small groups' databases merged per class, and each class's
 * scans of them; the groups' own are left uncompiled */
static void merge_small_databases(struct route_build *b)
{
    struct stoat_ruleset *rs = b->rs;
    settle_atoms(b);
    strmap_init(&b->merged_keys);
    for (size_t ci = 0; ci < rs->nclasses; ci++)
        merge_class(b, &rs->classes[ci]);
    rs->nmdbs = b->nmerged;
    rs->mdbs = arena_zalloc(&rs->arena, (b->nmerged ? b->nmerged : 1) * sizeof(*rs->mdbs));
    size_t natoms[2] = {0, 0};
    for (size_t i = 0; i < b->nmerged; i++) {
        merged_job(b, &b->merged[i], &rs->mdbs[i]);
        natoms[b->merged[i].kind - 1] += rs->mdbs[i].natoms;
    }
    for (size_t g = 0; g < rs->ngroups; g++)
        for (uint32_t d = 0; d < rs->groups[g].ndbs; d++)
            if (merge_kind(&rs->groups[g], d))
                b->jobs[b->group_jobs[g] + d].npats = 0; /* scanned only as part of merged databases */
    free(b->merged);
    strmap_free(&b->merged_keys);
    if (getenv("STOAT_STATS"))
        fprintf(stderr, "merged databases of the small groups: %zu, %zu field atoms, %zu keyword atoms; %zu settled\n",
                rs->nmdbs, natoms[0], natoms[1], b->nsettled);
}

/* STOAT_STATS=1: each group's size, ungated rules and databases on standard
 * error (=2: the ungated rules' titles too), for tuning the prefilter. */
static void print_group_stats(const struct route_build *b)
{
    const struct stoat_ruleset *rs = b->rs;
    for (size_t g = 0; g < rs->ngroups; g++) {
        unsigned ung = 0;
        for (uint32_t e = 0; e < rs->groups[g].n; e++)
            if (!rs->rules[rs->groups[g].rule[e]].prog.natoms) {
                ung++;
                if (getenv("STOAT_STATS")[0] == '2')
                    fprintf(stderr, "  ungated: %s\n", rs->rules[rs->groups[g].rule[e]].meta.title);
            }
        size_t natoms = 0;
        for (size_t j = b->group_jobs[g]; j < b->group_jobs[g + 1]; j++)
            natoms += b->jobs[j].npats;
        fprintf(stderr, "group %zu: %u rules (%u ungated), %zu atoms in %zu databases\n", g, rs->groups[g].n, ung,
                natoms, b->group_jobs[g + 1] - b->group_jobs[g]);
    }
}

static void say(const struct stoat_load_opts *o, enum stoat_severity sev, stoat_err code, const char *file,
                const char *fmt, const char *why)
{
    if (!o->diag)
        return;
    char msg[600];
    snprintf(msg, sizeof(msg), fmt, why);
    struct stoat_diag d = {.code = code, .severity = sev, .file = file, .message = msg};
    o->diag(o->diag_ctx, &d);
}

/* The databases to compile, keyed for the cache (cache.h); jobs without
 * patterns have none. */
static struct rc_db *cache_entries(const struct route_build *b, size_t *n)
{
    struct rc_db *e = xcalloc(b->njobs + 1, sizeof(*e));
    *n = 0;
    for (size_t j = 0; j < b->njobs; j++) {
        const struct hs_job *job = &b->jobs[j];
        if (!job->npats)
            continue;
        rulecache_db_key(job->pats, job->lens, job->flags, job->ids, job->npats, e[*n].key);
        e[(*n)++].db = job->out;
    }
    return e;
}

/* Reads the databases from the compiled file or the cache: true when every
 * one was read. *path is the cache file to write after a compile. */
static bool read_databases(const struct stoat_load_opts *o, const struct rc_db *e, size_t n, char **path,
                           stoat_err *err)
{
    char why[400];
    bool missing = false;
    *path = NULL;
    if (o->compiled_in) {
        if (rulecache_read(o->compiled_in, e, n, &missing, why, sizeof(why)))
            return true;
        say(o, STOAT_SEV_ERROR, STOAT_ERR_INPUT, o->compiled_in,
            "not the compiled form of these rules (%s); make it again with stoat rules compile -o", why);
        *err = STOAT_ERR_INPUT;
        return false;
    }
    if (!o->cache_dir)
        return false;
    uint8_t key[RC_KEY_LEN];
    rulecache_set_key(e, n, key);
    *path = rulecache_path(o->cache_dir, key, why, sizeof(why));
    if (!*path) {
        say(o, STOAT_SEV_NOTE, STOAT_OK, NULL, "rule cache not used: %s", why);
        return false;
    }
    if (rulecache_read(*path, e, n, &missing, why, sizeof(why))) {
        rulecache_touch(*path);
        return true;
    }
    if (!missing)
        say(o, STOAT_SEV_NOTE, STOAT_OK, *path, "rule cache ignored and rebuilt: %s", why);
    return false;
}

/* 4. the databases, read back or compiled on all cores, and the scratch
 * that fits them all */
static stoat_err compile_databases(struct route_build *b, const struct stoat_load_opts *o)
{
    stoat_err err = STOAT_OK;
    size_t n = 0;
    struct rc_db *e = cache_entries(b, &n);
    char *path = NULL, why[400];
    b->rs->stats.prefilter_cached = read_databases(o, e, n, &path, &err);
    if (!b->rs->stats.prefilter_cached && !err)
        compile_all(b->jobs, b->njobs);
    for (size_t j = 0; j < b->njobs && !err; j++) {
        if (b->jobs[j].failed) {
            char msg[400];
            snprintf(msg, sizeof(msg), "prefilter compilation failed: %s", b->jobs[j].errmsg);
            say(o, STOAT_SEV_ERROR, STOAT_ERR_UNSUPPORTED, NULL, "%s", msg);
            err = STOAT_ERR_UNSUPPORTED;
        }
        if (!err && *b->jobs[j].out && hs_alloc_scratch(*b->jobs[j].out, &b->rs->scratch_proto) != HS_SUCCESS)
            err = STOAT_ERR_NOMEM;
    }
    if (!err && path && !b->rs->stats.prefilter_cached) {
        if (!rulecache_write(path, e, n, why, sizeof(why)))
            say(o, STOAT_SEV_NOTE, STOAT_OK, path, "rule cache not written: %s", why);
        rulecache_trim(o->cache_dir, path, RC_MAX_FILES, RC_MAX_BYTES);
    }
    if (!err && o->compiled_out && !rulecache_write(o->compiled_out, e, n, why, sizeof(why))) {
        say(o, STOAT_SEV_ERROR, STOAT_ERR_IO, o->compiled_out, "cannot write the compiled rules: %s", why);
        err = STOAT_ERR_IO;
    }
    free(path);
    free(e);
    return err;
}

stoat_err ruleset_build_routes(struct stoat_ruleset *rs, const struct stoat_load_opts *opts)
{
    struct route_build b = {.rs = rs};
    number_atoms(rs);
    build_groups(&b);
    collect_keys(&b);
    build_classes(&b);
    if (getenv("STOAT_STATS"))
        print_group_stats(&b);
    merge_small_databases(&b);
    stoat_err err = compile_databases(&b, opts);
    for (size_t j = 0; j < b.njobs; j++) {
        free(b.jobs[j].pats);
        free(b.jobs[j].lens);
        free(b.jobs[j].flags);
        free(b.jobs[j].ids);
        free(b.jobs[j].afield);
    }
    free(b.settled);
    free(b.settled_fields);
    free(b.jobs);
    free(b.group_jobs);
    free(b.keys);
    return err;
}
