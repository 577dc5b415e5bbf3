/* The harness of the correlation engine's unit tests (test_correlate.c,
 * test_correlate_random.c): rules loaded with the real loader, a recording
 * emit callback, and feeding matches by rule name with fields given as
 * name, value pairs. Everything is `static inline`, as in testutil.h, so each
 * test program takes what it uses. */
#ifndef STOAT_TESTS_CORR_TESTUTIL_H
#define STOAT_TESTS_CORR_TESTUTIL_H

#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "behaviour/correlate.h"
#include "rules/ruleset.h"

#define T0     ((int64_t)1767225600 * 1000000000) /* 2026-01-01T00:00:00Z */
#define SEC(x) (T0 + (int64_t)((x)*1e9))
#define MIN(x) SEC((x)*60)

/* ------------------------------------------------------------ harness */

#define MAXF 128

struct fired {
    char title[160];
    double value;
    int64_t first, last;
    size_t ngroup;
    char names[4][64], vals[4][64];
    size_t nids;
    uint64_t ids[8];
    char host[64];
    bool has_host;
};

struct env {
    struct stoat_ruleset *rs;
    struct corr_engine *e;
    size_t n;
    struct fired f[MAXF];
};

static inline void on_diag(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    char buf[512];
    stoat_diag_format(d, buf, sizeof(buf));
    fprintf(stderr, "diag: %s\n", buf);
    if (d->severity == STOAT_SEV_ERROR)
        fail_msg("rule rejected: %s", buf);
}

static inline void on_fire(void *ctx, const struct corr_fire *f)
{
    struct env *v = ctx;
    assert_true(v->n < MAXF);
    struct fired *x = &v->f[v->n++];
    memset(x, 0, sizeof(*x));
    snprintf(x->title, sizeof(x->title), "%s", f->meta->title ? f->meta->title : "");
    x->value = f->value;
    x->first = f->first_ns;
    x->last = f->last_ns;
    x->ngroup = f->ngroup;
    for (size_t i = 0; i < f->ngroup && i < 4; i++) {
        snprintf(x->names[i], sizeof(x->names[i]), "%s", f->group_names[i]);
        snprintf(x->vals[i], sizeof(x->vals[i]), "%s", f->group_values[i]);
    }
    x->nids = f->nalert_ids;
    for (size_t i = 0; i < f->nalert_ids && i < 8; i++)
        x->ids[i] = f->alert_ids[i];
    x->has_host = f->host != NULL;
    if (f->host)
        snprintf(x->host, sizeof(x->host), "%s", f->host);
}

static inline struct stoat_ruleset *load(const char *yaml)
{
    struct stoat_load_opts o = {.mapping_path = "data/mapping.yml", .diag = on_diag};
    struct stoat_loader *l = NULL;
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_create(&o, &l), STOAT_OK);
    assert_int_equal(stoat_loader_add_text(l, "test.yml", yaml, strlen(yaml)), STOAT_OK);
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    stoat_loader_destroy(l);
    assert_non_null(rs);
    return rs;
}

static inline void env_open(struct env *v, const char *yaml, const struct corr_opts *o)
{
    memset(v, 0, sizeof(*v));
    v->rs = load(yaml);
    v->e = corr_create(v->rs, o);
    assert_non_null(v->e);
}

static inline void env_close(struct env *v)
{
    corr_destroy(v->e);
    stoat_ruleset_destroy(v->rs);
}

static inline uint32_t rule(struct env *v, const char *name)
{
    long r = stoat_ruleset_find(v->rs, name);
    assert_true(r >= 0);
    return (uint32_t)r;
}

/* Feeds one match of rule `name` at t: the rest are name, value pairs up to NULL. */
static inline void feed_full(struct env *v, const char *name, int64_t t, uint64_t alert, const char *host, ...)
{
    struct stoat_field f[16];
    size_t n = 0;
    va_list ap;
    va_start(ap, host);
    for (const char *k; (k = va_arg(ap, const char *)) != NULL;) {
        const char *val = va_arg(ap, const char *);
        assert_true(n < 16);
        f[n++] = (struct stoat_field){.name = k,
                                      .value = val,
                                      .name_len = (uint32_t)strlen(k),
                                      .value_len = (uint32_t)strlen(val),
                                      .type = STOAT_V_STRING};
    }
    va_end(ap);
    struct corr_input in = {
        .rule = rule(v, name), .alert_id = alert, .time_ns = t, .fields = f, .nfields = n, .host = host};
    corr_feed(v->e, &in, on_fire, v);
}

#define feed(v, name, t, ...) feed_full(v, name, t, 0, NULL, __VA_ARGS__, NULL)

static inline void advance(struct env *v, int64_t now)
{
    corr_advance(v->e, now, on_fire, v);
}

static inline struct corr_stats stats(struct env *v)
{
    struct corr_stats s;
    corr_get_stats(v->e, &s);
    return s;
}

static inline size_t count_title(const struct env *v, const char *title)
{
    size_t k = 0;
    for (size_t i = 0; i < v->n; i++)
        k += strcmp(v->f[i].title, title) == 0;
    return k;
}

#endif
