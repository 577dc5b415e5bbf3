/* See sigma.h. Shape checks only: which keys exist, which are lists, maps or
 * scalars. Every complaint names the node's line and column. Unknown keys at
 * the top level are allowed (the specification permits custom fields). */
#include "rules/sigma.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "util/text.h"

struct sctx {
    const char *file;
    struct arena *a;
    stoat_diag_fn diag;
    void *diag_ctx;
    const char *rule_id;
};

static stoat_err fail(struct sctx *c, const struct ynode *n, stoat_err code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static stoat_err fail(struct sctx *c, const struct ynode *n, stoat_err code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->diag) {
        struct stoat_diag d = {.code = code,
                               .severity = STOAT_SEV_ERROR,
                               .file = c->file,
                               .line = n ? n->line : 0,
                               .column = n ? n->col : 0,
                               .rule_id = c->rule_id,
                               .message = msg};
        c->diag(c->diag_ctx, &d);
    }
    return code;
}

static void warn(struct sctx *c, const struct ynode *n, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void warn(struct sctx *c, const struct ynode *n, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (c->diag) {
        struct stoat_diag d = {.code = STOAT_ERR_RULE,
                               .severity = STOAT_SEV_WARNING,
                               .file = c->file,
                               .line = n ? n->line : 0,
                               .column = n ? n->col : 0,
                               .rule_id = c->rule_id,
                               .message = msg};
        c->diag(c->diag_ctx, &d);
    }
}

static struct sigma_loc loc_of(struct sctx *c, const struct ynode *n)
{
    return (struct sigma_loc){.file = c->file, .line = n ? n->line : 0, .col = n ? n->col : 0};
}

/* An optional scalar string attribute. */
static stoat_err get_str(struct sctx *c, const struct ynode *m, const char *key, const char **out)
{
    const struct ynode *n = ynode_get(m, key);
    *out = NULL;
    if (!n || ynode_is_null(n))
        return STOAT_OK;
    if (n->kind != YN_SCALAR)
        return fail(c, n, STOAT_ERR_RULE, "'%s' must be a string", key);
    *out = n->str;
    return STOAT_OK;
}

/* A list of strings; a single scalar is taken as a list of one. */
static stoat_err get_strlist(struct sctx *c, const struct ynode *m, const char *key, struct stoat_strlist *out)
{
    const struct ynode *n = ynode_get(m, key);
    out->items = NULL;
    out->n = 0;
    if (!n || ynode_is_null(n))
        return STOAT_OK;
    if (n->kind == YN_SCALAR) {
        const char **v = arena_alloc(c->a, sizeof(*v));
        v[0] = n->str;
        out->items = v;
        out->n = 1;
        return STOAT_OK;
    }
    if (n->kind != YN_SEQ)
        return fail(c, n, STOAT_ERR_RULE, "'%s' must be a list of strings", key);
    const char **v = arena_alloc(c->a, (n->n ? n->n : 1) * sizeof(*v));
    size_t k = 0;
    for (uint32_t i = 0; i < n->n; i++) {
        const struct ynode *it = n->items[i];
        if (it->kind != YN_SCALAR)
            return fail(c, it, STOAT_ERR_RULE, "'%s' must be a list of strings", key);
        if (ynode_is_null(it))
            continue;
        v[k++] = it->str;
    }
    out->items = v;
    out->n = k;
    return STOAT_OK;
}

/* attack.t1059.001 -> T1059.001; attack.credential_access -> credential-access. */
static void split_attack_tags(struct sctx *c, struct stoat_rule_meta *m)
{
    const char **ids = arena_alloc(c->a, (m->tags.n + 1) * sizeof(*ids));
    const char **tactics = arena_alloc(c->a, (m->tags.n + 1) * sizeof(*tactics));
    size_t ni = 0, nt = 0;
    for (size_t i = 0; i < m->tags.n; i++) {
        const char *t = m->tags.items[i];
        if (strncasecmp(t, "attack.", 7) != 0)
            continue;
        const char *rest = t + 7;
        size_t len = strlen(rest);
        if ((rest[0] == 't' || rest[0] == 'T') && len >= 5 && rest[1] >= '0' && rest[1] <= '9') {
            char *id = arena_strndup(c->a, rest, len);
            for (char *p = id; *p; p++)
                if (*p >= 'a' && *p <= 'z')
                    *p = (char)(*p - 32);
            ids[ni++] = id;
        } else if ((rest[0] == 'g' || rest[0] == 's') && len >= 5 && rest[1] >= '0' && rest[1] <= '9') {
            continue; /* groups and software ids */
        } else {
            char *tac = arena_strndup(c->a, rest, len);
            for (char *p = tac; *p; p++) {
                if (*p == '_')
                    *p = '-';
                else if (*p >= 'A' && *p <= 'Z')
                    *p = (char)(*p + 32);
            }
            tactics[nt++] = tac;
        }
    }
    m->attack_ids = (struct stoat_strlist){ids, ni};
    m->attack_tactics = (struct stoat_strlist){tactics, nt};
}

/* Levels and statuses by their Sigma names; public, for the command line and
 * the dashboard read them too. */
static const char *const level_names[] = {"", "informational", "low", "medium", "high", "critical"};
static const char *const status_names[] = {"", "stable", "test", "experimental", "deprecated", "unsupported"};

const char *stoat_level_name(enum stoat_level level)
{
    return (unsigned)level < STOAT_LEVEL_COUNT ? level_names[level] : "";
}

bool stoat_level_parse(const char *name, enum stoat_level *out)
{
    for (int i = 1; i < STOAT_LEVEL_COUNT; i++)
        if (str_ieq(name, level_names[i])) {
            *out = (enum stoat_level)i;
            return true;
        }
    if (str_ieq(name, "info")) {
        *out = STOAT_LEVEL_INFORMATIONAL;
        return true;
    }
    return false;
}

const char *stoat_status_name(enum stoat_status status)
{
    return (unsigned)status < STOAT_STATUS_COUNT ? status_names[status] : "";
}

bool stoat_status_parse(const char *name, enum stoat_status *out)
{
    for (int i = 1; i < STOAT_STATUS_COUNT; i++)
        if (str_ieq(name, status_names[i])) {
            *out = (enum stoat_status)i;
            return true;
        }
    return false;
}

static stoat_err parse_meta(struct sctx *c, const struct ynode *root, struct stoat_rule_meta *m)
{
    stoat_err e;
    const char *s;
    if ((e = get_str(c, root, "id", &m->id)))
        return e;
    c->rule_id = m->id;
    if ((e = get_str(c, root, "title", &m->title)) || (e = get_str(c, root, "name", &m->name)) ||
        (e = get_str(c, root, "description", &m->description)) || (e = get_str(c, root, "author", &m->author)) ||
        (e = get_str(c, root, "date", &m->date)) || (e = get_str(c, root, "modified", &m->modified)) ||
        (e = get_str(c, root, "license", &m->license)) || (e = get_str(c, root, "taxonomy", &m->taxonomy)))
        return e;
    if ((e = get_strlist(c, root, "tags", &m->tags)) || (e = get_strlist(c, root, "references", &m->references)) ||
        (e = get_strlist(c, root, "falsepositives", &m->falsepositives)) ||
        (e = get_strlist(c, root, "fields", &m->fields)) || (e = get_strlist(c, root, "scope", &m->scope)))
        return e;
    if (!m->title)
        return fail(c, root, STOAT_ERR_RULE, "missing 'title'");
    if (strlen(m->title) > 256)
        warn(c, ynode_get(root, "title"), "title longer than 256 characters");
    if ((e = get_str(c, root, "level", &s)))
        return e;
    if (s && !stoat_level_parse(s, &m->level))
        return fail(c, ynode_get(root, "level"), STOAT_ERR_RULE,
                    "level '%s' is not one of informational, low, medium, high, critical", s);
    if ((e = get_str(c, root, "status", &s)))
        return e;
    if (s && !stoat_status_parse(s, &m->status))
        return fail(c, ynode_get(root, "status"), STOAT_ERR_RULE,
                    "status '%s' is not one of stable, test, experimental, deprecated, unsupported", s);
    const struct ynode *ls = ynode_get(root, "logsource");
    if (ls && !ynode_is_null(ls)) {
        if (ls->kind != YN_MAP)
            return fail(c, ls, STOAT_ERR_RULE, "'logsource' must be a map");
        if ((e = get_str(c, ls, "product", &m->product)) || (e = get_str(c, ls, "category", &m->category)) ||
            (e = get_str(c, ls, "service", &m->service)) || (e = get_str(c, ls, "definition", &m->definition)))
            return e;
    }
    split_attack_tags(c, m);
    return STOAT_OK;
}

/* "CommandLine|contains|all" -> field and modifier names. */
static stoat_err parse_key(struct sctx *c, const struct ynode *k, struct sigma_item *it)
{
    if (k->kind != YN_SCALAR)
        return fail(c, k, STOAT_ERR_RULE, "a detection key must be a field name");
    const char *s = k->str;
    const char *bar = strchr(s, '|');
    size_t flen = bar ? (size_t)(bar - s) : strlen(s);
    it->field = flen ? arena_strndup(c->a, s, flen) : NULL;
    size_t nm = 0;
    for (const char *p = bar; p; p = strchr(p + 1, '|'))
        nm++;
    const char **mods = arena_alloc(c->a, (nm ? nm : 1) * sizeof(*mods));
    size_t i = 0;
    for (const char *p = bar; p; p = strchr(p + 1, '|')) {
        const char *q = strchr(p + 1, '|');
        size_t l = q ? (size_t)(q - p - 1) : strlen(p + 1);
        if (l == 0)
            return fail(c, k, STOAT_ERR_RULE, "empty modifier in '%s'", s);
        char *m = arena_strndup(c->a, p + 1, l);
        for (char *x = m; *x; x++)
            *x = (char)ascii_lower_table[(unsigned char)*x];
        mods[i++] = m;
    }
    it->mods = mods;
    it->nmods = nm;
    if (!it->field && nm == 0)
        return fail(c, k, STOAT_ERR_RULE, "empty field name");
    return STOAT_OK;
}

static stoat_err parse_values(struct sctx *c, const struct ynode *v, struct sigma_item *it)
{
    if (v->kind == YN_MAP)
        return fail(c, v, STOAT_ERR_RULE, "the value of '%s' must be a value or a list of values, not a map",
                    it->field ? it->field : "keywords");
    if (v->kind == YN_SCALAR) {
        const struct ynode **vals = arena_alloc(c->a, sizeof(*vals));
        vals[0] = v;
        it->values = vals;
        it->nvalues = 1;
        return STOAT_OK;
    }
    for (uint32_t i = 0; i < v->n; i++)
        if (v->items[i]->kind != YN_SCALAR)
            return fail(c, v->items[i], STOAT_ERR_RULE, "a list of values may hold only plain values");
    it->values = (const struct ynode *const *)v->items;
    it->nvalues = v->n;
    it->value_list = true;
    if (v->n == 0)
        return fail(c, v, STOAT_ERR_RULE, "empty list of values for '%s'", it->field ? it->field : "keywords");
    return STOAT_OK;
}

static stoat_err parse_map(struct sctx *c, const struct ynode *m, struct sigma_map *out)
{
    out->n = m->n;
    out->items = arena_zalloc(c->a, (m->n ? m->n : 1) * sizeof(*out->items));
    if (m->n == 0)
        return fail(c, m, STOAT_ERR_RULE, "empty map in a search identifier");
    for (uint32_t i = 0; i < m->n; i++) {
        struct sigma_item *it = &out->items[i];
        stoat_err e = parse_key(c, m->items[2 * i], it);
        if (e)
            return e;
        it->loc = loc_of(c, m->items[2 * i]);
        if ((e = parse_values(c, m->items[2 * i + 1], it)))
            return e;
    }
    return STOAT_OK;
}

static void keyword_alt(struct sctx *c, const struct ynode *v, struct sigma_map *out)
{
    struct sigma_item *it = arena_zalloc(c->a, sizeof(*it));
    const struct ynode **vals = arena_alloc(c->a, sizeof(*vals));
    vals[0] = v;
    it->values = vals;
    it->nvalues = 1;
    it->loc = loc_of(c, v);
    out->items = it;
    out->n = 1;
}

static stoat_err parse_search(struct sctx *c, const char *name, const struct ynode *v, struct sigma_search *s)
{
    s->name = name;
    s->loc = loc_of(c, v);
    if (v->kind == YN_MAP) {
        s->alts = arena_zalloc(c->a, sizeof(*s->alts));
        s->nalts = 1;
        return parse_map(c, v, &s->alts[0]);
    }
    if (v->kind == YN_SCALAR) {
        if (ynode_is_null(v))
            return fail(c, v, STOAT_ERR_RULE, "search identifier '%s' is empty", name);
        s->alts = arena_zalloc(c->a, sizeof(*s->alts));
        s->nalts = 1;
        keyword_alt(c, v, &s->alts[0]);
        return STOAT_OK;
    }
    if (v->n == 0)
        return fail(c, v, STOAT_ERR_RULE, "search identifier '%s' is an empty list", name);
    s->alts = arena_zalloc(c->a, v->n * sizeof(*s->alts));
    s->nalts = v->n;
    for (uint32_t i = 0; i < v->n; i++) {
        const struct ynode *e = v->items[i];
        if (e->kind == YN_MAP) {
            stoat_err r = parse_map(c, e, &s->alts[i]);
            if (r)
                return r;
        } else if (e->kind == YN_SCALAR) {
            keyword_alt(c, e, &s->alts[i]);
        } else {
            return fail(c, e, STOAT_ERR_RULE, "a list in search identifier '%s' may hold maps or values, not lists",
                        name);
        }
    }
    return STOAT_OK;
}

/* The search identifiers and condition of a `detection` (or `filter`) map;
 * skip names the keys that are not search identifiers there. */
static stoat_err parse_detection(struct sctx *c, const struct ynode *det, const char *const *skip,
                                 struct sigma_detection *d)
{
    if (!det || det->kind != YN_MAP)
        return fail(c, det, STOAT_ERR_RULE, "'detection' must be a map");
    d->searches = arena_zalloc(c->a, (det->n ? det->n : 1) * sizeof(*d->searches));
    for (uint32_t i = 0; i < det->n; i++) {
        const struct ynode *k = det->items[2 * i], *v = det->items[2 * i + 1];
        if (k->kind != YN_SCALAR)
            return fail(c, k, STOAT_ERR_RULE, "a search identifier must be a name");
        if (strcmp(k->str, "condition") == 0) {
            if (v->kind == YN_SCALAR && !ynode_is_null(v)) {
                const char **cs = arena_alloc(c->a, sizeof(*cs));
                struct sigma_loc *ls = arena_alloc(c->a, sizeof(*ls));
                cs[0] = v->str;
                ls[0] = loc_of(c, v);
                ls[0].col += v->quoted; /* columns inside the condition count from its text */
                d->conditions = cs;
                d->condition_locs = ls;
                d->nconditions = 1;
            } else if (v->kind == YN_SEQ && v->n > 0) {
                const char **cs = arena_alloc(c->a, v->n * sizeof(*cs));
                struct sigma_loc *ls = arena_alloc(c->a, v->n * sizeof(*ls));
                for (uint32_t j = 0; j < v->n; j++) {
                    if (v->items[j]->kind != YN_SCALAR)
                        return fail(c, v->items[j], STOAT_ERR_RULE, "a condition must be a string");
                    cs[j] = v->items[j]->str;
                    ls[j] = loc_of(c, v->items[j]);
                    ls[j].col += v->items[j]->quoted;
                }
                d->conditions = cs;
                d->condition_locs = ls;
                d->nconditions = v->n;
            } else {
                return fail(c, v, STOAT_ERR_RULE, "'condition' must be a string or a list of strings");
            }
            continue;
        }
        bool skipped = false;
        for (const char *const *s = skip; s && *s; s++)
            if (strcmp(k->str, *s) == 0)
                skipped = true;
        if (skipped)
            continue;
        stoat_err e = parse_search(c, k->str, v, &d->searches[d->nsearches]);
        if (e)
            return e;
        d->nsearches++;
    }
    if (d->nconditions == 0)
        return fail(c, det, STOAT_ERR_RULE, "missing 'condition'");
    return STOAT_OK;
}

static const struct {
    const char *name;
    enum stoat_corr_type type;
} corr_types[] = {
    {"event_count", STOAT_CORR_EVENT_COUNT},
    {"value_count", STOAT_CORR_VALUE_COUNT},
    {"temporal", STOAT_CORR_TEMPORAL},
    {"temporal_ordered", STOAT_CORR_TEMPORAL_ORDERED},
    {"value_sum", STOAT_CORR_VALUE_SUM},
    {"value_avg", STOAT_CORR_VALUE_AVG},
    {"value_percentile", STOAT_CORR_VALUE_PERCENTILE},
};

const char *stoat_corr_type_name(enum stoat_corr_type type)
{
    for (size_t i = 0; i < sizeof(corr_types) / sizeof(corr_types[0]); i++)
        if (corr_types[i].type == type)
            return corr_types[i].name;
    return "";
}

static stoat_err parse_number_node(struct sctx *c, const struct ynode *n, const char *key, double *out)
{
    if (!n || n->kind != YN_SCALAR || !parse_number(n->str, n->len, out))
        return fail(c, n, STOAT_ERR_RULE, "correlation condition '%s' needs a number", key);
    return STOAT_OK;
}

static stoat_err parse_correlation(struct sctx *c, const struct ynode *root, const struct ynode *cn,
                                   struct sigma_correlation *k)
{
    stoat_err e;
    const char *type;
    if (cn->kind != YN_MAP)
        return fail(c, cn, STOAT_ERR_RULE, "'correlation' must be a map");
    if ((e = get_str(c, cn, "type", &type)))
        return e;
    if (!type)
        return fail(c, cn, STOAT_ERR_RULE, "correlation without 'type'");
    for (size_t i = 0; i < sizeof(corr_types) / sizeof(corr_types[0]); i++)
        if (strcmp(type, corr_types[i].name) == 0)
            k->type = corr_types[i].type;
    if (!k->type)
        return fail(c, ynode_get(cn, "type"), STOAT_ERR_RULE, "unknown correlation type '%s'", type);

    struct stoat_strlist l;
    if ((e = get_strlist(c, cn, "rules", &l)))
        return e;
    if (l.n == 0)
        return fail(c, cn, STOAT_ERR_RULE, "correlation without 'rules'");
    k->rules = l.items;
    k->nrules = l.n;
    if ((e = get_strlist(c, cn, "group-by", &l)))
        return e;
    k->group_by = l.items;
    k->ngroup_by = l.n;

    const struct ynode *ts = ynode_get(cn, "timespan");
    if (!ts)
        ts = ynode_get(cn, "timeframe");
    if (!ts || ts->kind != YN_SCALAR)
        return fail(c, ts ? ts : cn, STOAT_ERR_RULE, "correlation without a 'timespan'");
    if (!parse_timespan(ts->str, &k->timespan_ms))
        return fail(c, ts, STOAT_ERR_RULE, "timespan '%s' is not a number followed by s, m, h or d", ts->str);
    k->timespan_text = ts->str;

    const struct ynode *cond = ynode_get(cn, "condition");
    if (cond && cond->kind != YN_MAP)
        return fail(c, cond, STOAT_ERR_RULE, "correlation 'condition' must be a map such as {gte: 10}");
    if (cond) {
        for (uint32_t i = 0; i < cond->n; i++) {
            const struct ynode *key = cond->items[2 * i], *val = cond->items[2 * i + 1];
            const char *ks = key->kind == YN_SCALAR ? key->str : "";
            struct stoat_corr_condition *cc = &k->cond;
            if (strcmp(ks, "field") == 0) {
                if (val->kind == YN_SCALAR)
                    cc->field = val->str;
                else if (val->kind == YN_SEQ && val->n >= 1 && val->items[0]->kind == YN_SCALAR)
                    cc->field = val->items[0]->str; /* several fields: the first names the value */
                else
                    return fail(c, val, STOAT_ERR_RULE, "correlation condition 'field' must be a field name");
            } else if (strcmp(ks, "gt") == 0) {
                cc->has_gt = true;
                if ((e = parse_number_node(c, val, ks, &cc->gt)))
                    return e;
            } else if (strcmp(ks, "gte") == 0) {
                cc->has_gte = true;
                if ((e = parse_number_node(c, val, ks, &cc->gte)))
                    return e;
            } else if (strcmp(ks, "lt") == 0) {
                cc->has_lt = true;
                if ((e = parse_number_node(c, val, ks, &cc->lt)))
                    return e;
            } else if (strcmp(ks, "lte") == 0) {
                cc->has_lte = true;
                if ((e = parse_number_node(c, val, ks, &cc->lte)))
                    return e;
            } else if (strcmp(ks, "eq") == 0) {
                cc->has_eq = true;
                if ((e = parse_number_node(c, val, ks, &cc->eq)))
                    return e;
            } else if (strcmp(ks, "neq") == 0) {
                cc->has_neq = true;
                if ((e = parse_number_node(c, val, ks, &cc->neq)))
                    return e;
            } else if (strcmp(ks, "percentile") == 0) {
                /* not in the v2.1 text; pySigma reads it for value_percentile */
                cc->has_percentile = true;
                if ((e = parse_number_node(c, val, ks, &cc->percentile)))
                    return e;
                if (!(cc->percentile > 0 && cc->percentile <= 100))
                    return fail(c, val, STOAT_ERR_RULE,
                                "correlation condition 'percentile' must be above 0 and at most 100");
            } else {
                return fail(c, key, STOAT_ERR_RULE, "unknown correlation condition '%s'", ks);
            }
        }
    }
    bool has_bound =
        k->cond.has_gt || k->cond.has_gte || k->cond.has_lt || k->cond.has_lte || k->cond.has_eq || k->cond.has_neq;
    bool temporal = k->type == STOAT_CORR_TEMPORAL || k->type == STOAT_CORR_TEMPORAL_ORDERED;
    if (!temporal && !has_bound)
        return fail(c, cond ? cond : cn, STOAT_ERR_RULE, "correlation type '%s' needs a condition", type);
    if (k->type >= STOAT_CORR_VALUE_COUNT && !temporal && !k->cond.field)
        return fail(c, cond ? cond : cn, STOAT_ERR_RULE, "correlation type '%s' needs 'field' in its condition", type);

    const struct ynode *al = ynode_get(cn, "aliases");
    if (al && al->kind != YN_MAP)
        return fail(c, al, STOAT_ERR_RULE, "'aliases' must be a map");
    if (al) {
        k->aliases = arena_zalloc(c->a, (al->n ? al->n : 1) * sizeof(*k->aliases));
        k->naliases = al->n;
        for (uint32_t i = 0; i < al->n; i++) {
            const struct ynode *an = al->items[2 * i], *am = al->items[2 * i + 1];
            if (an->kind != YN_SCALAR || am->kind != YN_MAP)
                return fail(c, am, STOAT_ERR_RULE, "an alias maps rule names to field names");
            struct sigma_corr_alias *a = &k->aliases[i];
            a->name = an->str;
            a->n = am->n;
            const char **rs = arena_alloc(c->a, (am->n ? am->n : 1) * sizeof(*rs));
            const char **fs = arena_alloc(c->a, (am->n ? am->n : 1) * sizeof(*fs));
            for (uint32_t j = 0; j < am->n; j++) {
                if (am->items[2 * j]->kind != YN_SCALAR || am->items[2 * j + 1]->kind != YN_SCALAR)
                    return fail(c, am->items[2 * j], STOAT_ERR_RULE, "an alias maps rule names to field names");
                rs[j] = am->items[2 * j]->str;
                fs[j] = am->items[2 * j + 1]->str;
            }
            a->rules = rs;
            a->fields = fs;
        }
    }
    /* The JSON schema puts `generate` next to `correlation`; pySigma reads it
     * inside the correlation map. Either will do. */
    const struct ynode *gen = ynode_get(cn, "generate");
    if (!gen)
        gen = ynode_get(root, "generate");
    if (gen) {
        if (gen->kind != YN_SCALAR || (strcmp(gen->str, "true") && strcmp(gen->str, "false") &&
                                       strcmp(gen->str, "True") && strcmp(gen->str, "False")))
            return fail(c, gen, STOAT_ERR_RULE, "'generate' must be true or false");
        k->generate = gen->str[0] == 't' || gen->str[0] == 'T';
    }
    return STOAT_OK;
}

stoat_err sigma_parse_doc(const char *file, const struct ynode *root, struct arena *a, struct sigma_rule *out,
                          stoat_diag_fn diag, void *diag_ctx)
{
    struct sctx c = {.file = file, .a = a, .diag = diag, .diag_ctx = diag_ctx};
    stoat_err e;
    memset(out, 0, sizeof(*out));
    out->loc = loc_of(&c, root);
    if (!root || root->kind != YN_MAP)
        return fail(&c, root, STOAT_ERR_RULE, "a rule document must be a map");
    const struct ynode *corr = ynode_get(root, "correlation");
    const struct ynode *filt = ynode_get(root, "filter");
    const struct ynode *det = ynode_get(root, "detection");
    out->kind = corr ? STOAT_RULE_CORRELATION : (filt && !det) ? STOAT_RULE_FILTER : STOAT_RULE_DETECTION;
    out->meta.kind = out->kind;
    out->meta.file = file;
    out->meta.line = root->line;
    /* A generic generator document of a correlation file (title + id only) would
     * otherwise be rejected; every document must still be a rule of some kind. */
    if ((e = parse_meta(&c, root, &out->meta)))
        return e;
    switch (out->kind) {
    case STOAT_RULE_CORRELATION: return parse_correlation(&c, root, corr, &out->corr);
    case STOAT_RULE_FILTER: {
        if (filt->kind != YN_MAP)
            return fail(&c, filt, STOAT_ERR_RULE, "'filter' must be a map");
        struct stoat_strlist l;
        if ((e = get_strlist(&c, filt, "rules", &l)))
            return e;
        if (l.n == 0)
            return fail(&c, filt, STOAT_ERR_RULE, "filter without 'rules' naming the rules it applies to");
        out->filter.rules = l.items;
        out->filter.nrules = l.n;
        static const char *const skip[] = {"rules", NULL};
        if (!ynode_get(root, "logsource"))
            return fail(&c, root, STOAT_ERR_RULE, "filter without 'logsource'");
        return parse_detection(&c, filt, skip, &out->det);
    }
    case STOAT_RULE_DETECTION:
        if (!det)
            return fail(&c, root, STOAT_ERR_RULE, "missing 'detection'");
        if (!ynode_get(root, "logsource"))
            return fail(&c, root, STOAT_ERR_RULE, "missing 'logsource'");
        {
            /* `timeframe` is Sigma 1.x aggregation syntax, not a search identifier. */
            static const char *const skip[] = {"timeframe", NULL};
            return parse_detection(&c, det, skip, &out->det);
        }
    }
    return STOAT_OK;
}
