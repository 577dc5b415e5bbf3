/* See loader_int.h: the build's links, by rule id or name (the loader's
 * ids map), between rules parsed in any order. */
#include "rules/loader_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/mem.h"

static long find_rule(struct stoat_loader *l, const char *ref)
{
    uint32_t v;
    if (strmap_get(&l->ids, ref, strlen(ref), &v) && v)
        return (long)v - 1;
    return -1;
}

static long find_corr(struct stoat_loader *l, const char *ref)
{
    for (size_t i = 0; i < l->ncorrs; i++)
        if ((l->corrs[i].meta.id && strcmp(l->corrs[i].meta.id, ref) == 0) ||
            (l->corrs[i].meta.name && strcmp(l->corrs[i].meta.name, ref) == 0))
            return (long)i;
    return -1;
}

static void link_filters(struct stoat_loader *l)
{
    /* per rule: the filters naming it */
    const struct pnode ***per = xcalloc(l->nrules + 1, sizeof(*per));
    size_t *count = xcalloc(l->nrules + 1, sizeof(*count)), *cap = xcalloc(l->nrules + 1, sizeof(*cap));
    for (size_t f = 0; f < l->nfilters; f++) {
        const struct pending_filter *pf = &l->filters[f];
        bool any = false;
        for (size_t i = 0; i < pf->nrules; i++) {
            long r = find_rule(l, pf->rules[i]);
            if (r < 0)
                continue;
            any = true;
            XGROW(per[r], cap[r], count[r] + 1);
            per[r][count[r]++] = pf->root;
        }
        if (any)
            l->stats.filters++;
        else
            loader_diag_note(l, STOAT_SEV_WARNING, STOAT_ERR_NOTFOUND, pf->meta.file, pf->meta.line, pf->meta.id,
                             "filter names no loaded rule; it changes nothing");
    }
    for (size_t r = 0; r < l->nrules; r++) {
        if (count[r])
            compile_attach_filters(&l->comp, &l->rules[r].prog, per[r], count[r]);
        free(per[r]);
    }
    free(per);
    free(count);
    free(cap);
}

static void link_correlations(struct stoat_loader *l)
{
    for (size_t c = 0; c < l->ncorrs; c++) {
        struct correlation *k = &l->corrs[c];
        long *idx = arena_alloc(&l->rs->arena, (k->corr.nrules ? k->corr.nrules : 1) * sizeof(*idx));
        for (size_t i = 0; i < k->corr.nrules; i++) {
            long r = find_rule(l, k->corr.rules[i]);
            if (r >= 0) {
                idx[i] = r;
                l->rules[r].feeds_correlation = true;
                if (!k->corr.generate)
                    l->rules[r].correlation_only = true;
                continue;
            }
            long cc = find_corr(l, k->corr.rules[i]);
            idx[i] = cc >= 0 ? -2 - cc : -1;
            if (cc < 0) {
                char msg[300];
                snprintf(msg, sizeof(msg), "correlation refers to '%s', which is not loaded", k->corr.rules[i]);
                loader_diag_note(l, STOAT_SEV_WARNING, STOAT_ERR_NOTFOUND, k->meta.file, k->meta.line, k->meta.id, msg);
            }
        }
        k->rule_index = idx;
    }
}

void loader_link(struct stoat_loader *l)
{
    link_filters(l);
    link_correlations(l);
}
