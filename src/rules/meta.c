/* See meta.h. */
#include "rules/meta.h"

#include "util/text.h"

/* ---------------------------------------------------------------- copying */

static const char *cp(struct arena *a, const char *s)
{
    return s ? arena_strdup(a, s) : NULL;
}

static struct stoat_strlist cp_list(struct arena *a, struct stoat_strlist l)
{
    const char **v = arena_alloc(a, (l.n ? l.n : 1) * sizeof(*v));
    for (size_t i = 0; i < l.n; i++)
        v[i] = arena_strdup(a, l.items[i]);
    return (struct stoat_strlist){v, l.n};
}

void meta_copy(struct arena *a, const struct stoat_rule_meta *s, struct stoat_rule_meta *d)
{
    *d = *s;
    d->id = cp(a, s->id);
    d->name = cp(a, s->name);
    d->title = cp(a, s->title);
    d->description = cp(a, s->description);
    d->author = cp(a, s->author);
    d->date = cp(a, s->date);
    d->modified = cp(a, s->modified);
    d->license = cp(a, s->license);
    d->taxonomy = cp(a, s->taxonomy);
    d->product = cp(a, s->product);
    d->category = cp(a, s->category);
    d->service = cp(a, s->service);
    d->definition = cp(a, s->definition);
    d->tags = cp_list(a, s->tags);
    d->references = cp_list(a, s->references);
    d->falsepositives = cp_list(a, s->falsepositives);
    d->fields = cp_list(a, s->fields);
    d->scope = cp_list(a, s->scope);
    d->attack_ids = cp_list(a, s->attack_ids);
    d->attack_tactics = cp_list(a, s->attack_tactics);
    d->file = cp(a, s->file);
}

const char **strv_copy(struct arena *a, const char *const *v, size_t n)
{
    const char **o = arena_alloc(a, (n ? n : 1) * sizeof(*o));
    for (size_t i = 0; i < n; i++)
        o[i] = arena_strdup(a, v[i]);
    return o;
}

void corr_copy(struct arena *a, const struct sigma_correlation *s, struct sigma_correlation *d)
{
    *d = *s;
    d->rules = strv_copy(a, s->rules, s->nrules);
    d->group_by = strv_copy(a, s->group_by, s->ngroup_by);
    d->timespan_text = cp(a, s->timespan_text);
    d->cond.field = cp(a, s->cond.field);
    d->aliases = arena_zalloc(a, (s->naliases ? s->naliases : 1) * sizeof(*d->aliases));
    for (size_t i = 0; i < s->naliases; i++) {
        d->aliases[i].name = cp(a, s->aliases[i].name);
        d->aliases[i].n = s->aliases[i].n;
        d->aliases[i].rules = strv_copy(a, s->aliases[i].rules, s->aliases[i].n);
        d->aliases[i].fields = strv_copy(a, s->aliases[i].fields, s->aliases[i].n);
    }
}

/* ------------------------------------------------------------- selection */

static bool any_glob(const char *const *globs, size_t n, const char *s)
{
    if (!s)
        return false;
    for (size_t i = 0; i < n; i++)
        if (glob_simple_nocase(globs[i], s))
            return true;
    return false;
}

static bool list_any_glob(const char *const *globs, size_t n, const struct stoat_strlist *l)
{
    for (size_t i = 0; i < l->n; i++)
        if (any_glob(globs, n, l->items[i]))
            return true;
    return false;
}

bool meta_selected(const struct stoat_rule_select *s, const struct stoat_rule_meta *m)
{
    if (s->level_mask && !(s->level_mask & (1u << m->level)))
        return false;
    unsigned sm =
        s->status_mask ? s->status_mask : ~((1u << STOAT_STATUS_DEPRECATED) | (1u << STOAT_STATUS_UNSUPPORTED));
    if (!(sm & (1u << m->status)))
        return false;
    if (s->ntags && !list_any_glob(s->tags, s->ntags, &m->tags))
        return false;
    if (s->nexclude_tags && list_any_glob(s->exclude_tags, s->nexclude_tags, &m->tags))
        return false;
    if (s->nids && !any_glob(s->ids, s->nids, m->id) && !any_glob(s->ids, s->nids, m->name))
        return false;
    if (s->nexclude_ids &&
        (any_glob(s->exclude_ids, s->nexclude_ids, m->id) || any_glob(s->exclude_ids, s->nexclude_ids, m->name)))
        return false;
    if (s->product && !any_glob(&s->product, 1, m->product))
        return false;
    if (s->category && !any_glob(&s->category, 1, m->category))
        return false;
    if (s->service && !any_glob(&s->service, 1, m->service))
        return false;
    return true;
}
