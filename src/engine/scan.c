/* The event's prefilter scan (match_ctx.h, engine_scan): the values of the
 * event, laid out per class (scan_layout.h), scanned by each group's
 * databases and the class's merged ones, reports replayed from the scan
 * memo where the same bytes were scanned before; token atoms and settled
 * atoms found without a scan. Each atom seen stamps itself and wakes the
 * rules that need it. */
#include "engine/match_ctx.h"

#include <string.h>

#include "engine/scan_layout.h"
#include "util/text.h"

struct scan_ctx {
    const struct rule_group *g;
    uint64_t *hits;
    uint32_t *stamp;
    uint32_t gen;
    /* a merged database (merged_db): each group's hits lie at hits +
     * group_off[group] */
    const struct stoat_ruleset *rs;
    const struct merged_db *md;
    const size_t *group_off;
};

/* Group atom id of g was seen: stamp it, wake its rules. */
static inline void wake(const struct rule_group *g, uint64_t *hits, uint32_t *stamp, uint32_t gen, uint32_t id)
{
    stamp[g->atom_gid[id]] = gen;
    for (uint32_t k = g->atom_off[id]; k < g->atom_off[id + 1]; k++)
        hits[g->atom_word[k]] |= g->atom_mask[k];
}

/* Called at every place an atom occurs (the databases are not
 * single-match): what it does is idempotent, so repeats cost only time. */
static int on_atom(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    struct scan_ctx *s = ctx;
    if (id < s->g->natoms) /* a database read from a cache file reports only its group's atoms */
        wake(s->g, s->hits, s->stamp, s->gen, id);
    return 0;
}

/* The same for a merged database: atom id belongs to one of its groups,
 * maybe one outside the event's class, whose hits nobody reads this event
 * (each group's are cleared before its scans). */
static int on_merged_atom(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags,
                          void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    struct scan_ctx *s = ctx;
    if (id >= s->md->natoms)
        return 0;
    uint32_t g = s->md->group[id];
    wake(&s->rs->groups[g], s->hits + s->group_off[g], s->stamp, s->gen, s->md->atom[id]);
    return 0;
}

static void on_token(void *ctx, uint32_t id)
{
    struct scan_ctx *s = ctx;
    wake(s->g, s->hits, s->stamp, s->gen, id);
}

/* The group's token atoms (rules/tokens.h) in the values of its token
 * field as the class's view of the event names it. */
static void find_tokens(struct engine_ctx *c, const struct route_class *cls, uint32_t gi, struct scan_ctx *sc)
{
    const struct token_table *t = sc->g->tokens;
    const struct renameset *rn = cls->rset[gi] ? &c->rs->rsets[cls->rset[gi]] : NULL;
    uint32_t f = t->field;
    for (uint32_t i = 0; rn && i < rn->n; i++)
        if (rn->to[i] == t->field) {
            f = rn->from[i];
            break;
        }
    for (int32_t i = slot_get(c, f); i >= 0; i = c->f[i].next)
        if (c->f[i].type != STOAT_V_NULL)
            token_find(t, c->f[i].val, c->f[i].val_len, on_token, sc);
}

/* Whether the scan would find "\0lit\0" in value v: v equals lit, or holds
 * it between two NULs of its own. */
static bool value_holds(const struct ev_field *v, const struct settled_atom *a)
{
    if (v->val_len == a->len)
        return ascii_eq_nocase(v->val, a->lit, a->len);
    if (v->val_len < a->len || !memchr(v->val, 0, v->val_len))
        return false;
    const char *end = v->val + v->val_len;
    for (const char *p = v->val; p + a->len <= end; p++)
        if ((p == v->val || p[-1] == 0) && (p + a->len == end || p[a->len] == 0) && ascii_eq_nocase(p, a->lit, a->len))
            return true;
    return false;
}

/* The class's settled atoms (ruleset.h), found by comparing its fields'
 * values instead of scanning them. */
static void settle(struct engine_ctx *c, const struct route_class *cls)
{
    const struct settled_atom *a = cls->settled, *end = a + cls->nsettled;
    while (a < end) {
        const struct settled_atom *fe = a + 1;
        while (fe < end && fe->field == a->field)
            fe++;
        for (int32_t i = slot_get(c, a->field); i >= 0; i = c->f[i].next) {
            if (c->f[i].type == STOAT_V_NULL)
                continue;
            for (const struct settled_atom *x = a; x < fe; x++)
                if (value_holds(&c->f[i], x))
                    wake(&c->rs->groups[x->group], c->hits + c->group_off[x->group], c->atom_stamp, c->gen, x->atom);
        }
        a = fe;
    }
}

/* Every value of the event, each between NULs (atoms of startswith,
 * endswith and equals carry them), for keyword databases: first the values
 * of the layout's fields in its order (span_at says where each begins), so
 * that a field database whose fields are adjacent there reads them in
 * place, then the others but those shorter than every keyword atom (only
 * keyword databases read them: a third of the values, process ids, levels,
 * flags). Which value goes where matters to no scan: an atom never spans a
 * NUL it does not carry. */
static void build_scan_all(struct engine_ctx *c, const struct scan_layout *l)
{
    uint32_t norder = l->norder;
    if (__builtin_expect(c->span_cap < norder + 1u, 0))
        XGROW(c->span_at, c->span_cap, norder + 1u);
    if (__builtin_expect(c->laid_cap < c->n, 0)) {
        size_t old = c->laid_cap;
        XGROW(c->laid, c->laid_cap, c->n);
        memset(c->laid + old, 0, (c->laid_cap - old) * sizeof(*c->laid));
    }
    if (__builtin_expect(++c->laid_gen == 0, 0)) {
        memset(c->laid, 0, c->laid_cap * sizeof(*c->laid));
        c->laid_gen = 1;
    }
    buf_clear(&c->scan_all);
    buf_reserve(&c->scan_all, c->vbytes + 2);
    char *p = c->scan_all.p, *o = p + 1;
    *p = 0;
    /* in locals: the copies' stores through a char pointer would make the
     * compiler read them again for every value */
    const struct ev_field *f = c->f;
    uint32_t *laid = c->laid, *span_at = c->span_at;
    const uint32_t laid_gen = c->laid_gen, nf = c->n;
    for (uint32_t k = 0; k < norder; k++) {
        span_at[k] = (uint32_t)(o - p);
        for (int32_t i = slot_get(c, l->order[k]); i >= 0; i = f[i].next) {
            o = put_value(o, &f[i]);
            laid[i] = laid_gen;
        }
    }
    span_at[norder] = (uint32_t)(o - p);
    uint32_t need = l->keyword_min;
    for (uint32_t i = 0; i < nf; i++)
        if (laid[i] != laid_gen && f[i].val_len >= need)
            o = put_value(o, &f[i]);
    c->scan_all.len = (size_t)(o - p);
    *o = 0;
}

/* The values of some fields, each between NULs; false when there are none.
 * One pass: the buffer holds every value of the event, and grows only when
 * a field is listed twice (two renames from one field). */
static bool build_scan_fields(struct engine_ctx *c, const uint32_t *ids, uint32_t nids)
{
    buf_clear(&c->scan);
    buf_reserve(&c->scan, c->vbytes + 2);
    char *o = c->scan.p;
    *o++ = 0;
    for (uint32_t k = 0; k < nids; k++)
        for (int32_t i = slot_get(c, ids[k]); i >= 0; i = c->f[i].next) {
            size_t used = (size_t)(o - c->scan.p);
            if (__builtin_expect(used + c->f[i].val_len + 2 > c->scan.cap, 0)) {
                c->scan.len = used;
                buf_reserve(&c->scan, c->f[i].val_len + 2);
                o = c->scan.p + used;
            }
            o = put_value(o, &c->f[i]);
        }
    c->scan.len = (size_t)(o - c->scan.p);
    *o = 0;
    return c->scan.len > 1;
}

/* The layout of class cls, made on its first event. */
static const struct scan_layout *layout_of(struct engine_ctx *c, const struct route_class *cls)
{
    size_t ci = (size_t)(cls - c->rs->classes);
    if (__builtin_expect(!c->layouts[ci], 0))
        c->layouts[ci] = scan_layout_build(c->rs, cls);
    return c->layouts[ci];
}

/* What field database k of the class (scan_layout.h) scans: a span of
 * scan_all when its fields lie together there (built whenever the class
 * has a layout, engine_scan), else a copy of their values; false when the
 * event has none of them. */
static bool field_scan(struct engine_ctx *c, const struct scan_layout *l, uint32_t k, const uint32_t *ids,
                       uint32_t nids, const char **p, size_t *len)
{
    if (!l || l->first[k] == SPAN_COPY) {
        if (!build_scan_fields(c, ids, nids))
            return false;
        *p = c->scan.p;
        *len = c->scan.len;
        return true;
    }
    uint32_t from = c->span_at[l->first[k]], to = c->span_at[l->last[k]];
    *p = c->scan_all.p + from - 1; /* the NUL before its first value */
    *len = to - from + 1;
    return to > from;
}

/* Field database k's value in scan_memo's hash, and its slot asked for, when
 * it is a span of scan_all (built) short enough to be kept. */
static void ahead_one(struct engine_ctx *c, const struct scan_layout *l, uint32_t k, const void *db)
{
    c->ahead[k].db = NULL;
    if (l->first[k] == SPAN_COPY)
        return;
    uint32_t from = c->span_at[l->first[k]], to = c->span_at[l->last[k]];
    size_t len = to - from + 1;
    if (to <= from || len > SCAN_MEMO_MAX_LEN)
        return;
    c->ahead[k] = (struct memo_ahead){.db = db, .hash = scan_memo_hash(db, c->scan_all.p + from - 1, len)};
    scan_memo_ask(&c->scan_memo, c->ahead[k].hash);
}

/* Why look up ahead: a field scan's memo lookup waits on memory for its
 * slot and then for the slot's data, and an event has a few field scans,
 * each of whose waits came after the last one's. Asked for together, they
 * overlap: every slot first, then the data of those that may hold the
 * value. k runs over the class's databases as engine_event_match's loops
 * do (merged ones after the groups'). */
static void memo_ahead(struct engine_ctx *c, const struct route_class *cls, const struct scan_layout *l)
{
    uint32_t n = l->ndbs;
    if (__builtin_expect(c->ahead_cap < n, 0))
        XGROW(c->ahead, c->ahead_cap, n);
    uint32_t dbi = 0;
    for (uint32_t gi = 0; gi < cls->ngroups; gi++) {
        const struct rule_group *g = &c->rs->groups[cls->group[gi]];
        bool merged = cls->merged && cls->merged[gi] & MERGED_FIELDS;
        for (uint32_t d = 0; d < g->ndbs; d++) {
            const uint32_t *ids = cls->db_fields + cls->db_off[dbi + d];
            uint32_t nids = cls->db_off[dbi + d + 1] - cls->db_off[dbi + d];
            if (merged || scan_every_value(ids, nids))
                c->ahead[dbi + d].db = NULL; /* scanned merged, or a keyword database */
            else
                ahead_one(c, l, dbi + d, g->dbs[d].db);
        }
        dbi += g->ndbs;
    }
    for (uint32_t k = 0; k < cls->nmerges; k++) {
        const struct class_merge *m = &cls->merges[k];
        if (scan_every_value(m->fields, m->nfields))
            c->ahead[dbi + k].db = NULL;
        else
            ahead_one(c, l, dbi + k, c->rs->mdbs[m->db].db);
    }
    for (uint32_t k = 0; k < n; k++)
        if (c->ahead[k].db)
            scan_memo_ask_data(&c->scan_memo, c->ahead[k].db, c->ahead[k].hash);
    c->ahead_on = true;
}

/* A database's scan of p[0..len) (database k of the event's class). A field
 * database's report is replayed from the scan memo when it saw the same
 * bytes before; a keyword one reads every value of the event, whose bytes
 * hardly come back, so it is scanned. */
static void scan_db(struct engine_ctx *c, const hs_database_t *db, uint32_t k, bool keywords, const char *p, size_t len,
                    match_event_handler on, void *ctx)
{
    bool ok, remembered = false;
    if (keywords) {
        ok = hs_scan(db, p, (unsigned)len, 0, c->hs, on, ctx) == HS_SUCCESS;
    } else if (c->ahead_on && db && c->ahead[k].db == db) {
        c->counters.field_scans++;
        c->counters.scans_ahead++;
        ok = scan_memo_scan_hashed(&c->scan_memo, db, c->hs, p, len, c->ahead[k].hash, on, ctx, &remembered);
    } else {
        c->counters.field_scans++;
        ok = scan_memo_scan(&c->scan_memo, db, c->hs, p, len, on, ctx, &remembered);
    }
    if (!ok)
        c->atoms_valid = false;
    c->counters.scans_memo += remembered;
}

/* One merged scan of the class over its fields' values (or every value);
 * k: its index among the class's field databases. */
static void scan_merged(struct engine_ctx *c, const struct class_merge *m, const struct scan_layout *l, uint32_t k)
{
    const char *p;
    size_t len;
    bool keywords = scan_every_value(m->fields, m->nfields);
    if (keywords) {
        p = c->scan_all.p;
        len = c->scan_all.len;
    } else if (!field_scan(c, l, k, m->fields, m->nfields, &p, &len)) {
        return; /* the event has none of its fields */
    }
    const struct merged_db *md = &c->rs->mdbs[m->db];
    struct scan_ctx sc = {
        .stamp = c->atom_stamp, .gen = c->gen, .hits = c->hits, .rs = c->rs, .md = md, .group_off = c->group_off};
    scan_db(c, md->db, k, keywords, p, len, on_merged_atom, &sc);
}

void engine_scan(struct engine_ctx *c, const struct route_class *cls)
{
    c->atoms_valid = c->hs != NULL;
    /* a class without keyword databases copies only its fields' values; one
     * with them has a layout, and every value in scan_all before any scan */
    const struct scan_layout *l = c->hs && cls->scan_all ? layout_of(c, cls) : NULL;
    c->ahead_on = false;
    if (l) {
        build_scan_all(c, l);
        memo_ahead(c, cls, l);
    }
    uint32_t dbi = 0; /* the class's database index, across its groups */
    for (uint32_t gi = 0; gi < cls->ngroups; gi++) {
        const struct rule_group *g = &c->rs->groups[cls->group[gi]];
        uint32_t first = dbi;
        dbi += g->ndbs;
        if (!g->ndbs || !c->hs)
            continue;
        uint64_t *hits = c->hits + c->group_off[cls->group[gi]];
        memset(hits, 0, 2 * g->nwords * sizeof(*hits));
        uint8_t merged = cls->merged ? cls->merged[gi] : 0;
        struct scan_ctx sc = {.g = g, .hits = hits, .stamp = c->atom_stamp, .gen = c->gen};
        for (uint32_t d = 0; d < g->ndbs; d++) {
            const uint32_t *ids = cls->db_fields + cls->db_off[first + d];
            uint32_t nids = cls->db_off[first + d + 1] - cls->db_off[first + d];
            bool keywords = scan_every_value(ids, nids);
            if (merged & (keywords ? MERGED_KEYWORDS : MERGED_FIELDS))
                continue; /* in one of the class's merged scans, below */
            const char *p;
            size_t len;
            if (keywords) {
                p = c->scan_all.p;
                len = c->scan_all.len;
            } else if (!field_scan(c, l, first + d, ids, nids, &p, &len)) {
                continue; /* the event has none of its fields: nothing to find */
            }
            scan_db(c, g->dbs[d].db, first + d, keywords, p, len, on_atom, &sc);
        }
        if (g->tokens)
            find_tokens(c, cls, gi, &sc);
    }
    for (uint32_t k = 0; k < cls->nmerges && c->hs; k++)
        scan_merged(c, &cls->merges[k], l, dbi + k);
    if (cls->nsettled && c->hs)
        settle(c, cls);
}
