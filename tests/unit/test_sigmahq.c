/* SigmaHQ's own rules and regression data, when a copy is at hand: every
 * rule loads (those needing placeholder values are the only refusals, as no
 * placeholder file is given), and every regression case finds exactly its
 * rule's match count in the JSON event file, or is one of the reviewed
 * over-counts of tests/sigmahq/known-regression-differences.txt with the
 * very counts recorded there (a new over-count, a recorded one whose count
 * changed, or one that went away all fail: the list is kept exact).
 *
 * The data is not part of this repository. It is looked for in
 * $STOAT_SIGMA_DIR, then ../shared/data/sigma; without it both tests are
 * skipped, saying so. */
#include "testutil.h"

#include <sys/stat.h>

#include "stoat/regression.h"

static const char *sigma_dir(void)
{
    static char dir[4096];
    const char *env = getenv("STOAT_SIGMA_DIR");
    const char *cands[] = {env, "../shared/data/sigma", NULL};
    for (size_t i = 0; i < 2; i++) {
        if (!cands[i] || !*cands[i])
            continue;
        char p[4200];
        struct stat st;
        snprintf(p, sizeof(p), "%s/rules", cands[i]);
        if (stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
            snprintf(dir, sizeof(dir), "%s", cands[i]);
            return dir;
        }
    }
    return NULL;
}

static const char *const folders[] = {"rules", "rules-emerging-threats", "rules-threat-hunting", "rules-compliance",
                                      "rules-placeholder"};

static struct stoat_ruleset *load_all(const char *dir, struct tu_diags *ds, struct stoat_load_stats *ls)
{
    struct stoat_load_opts lo = {
        .mapping_path = tu_mapping(), .select = {.status_mask = ~0u}, .diag = tu_diag_cb, .diag_ctx = ds};
    struct stoat_loader *l = NULL;
    assert_int_equal(stoat_loader_create(&lo, &l), STOAT_OK);
    for (size_t i = 0; i < sizeof(folders) / sizeof(folders[0]); i++) {
        char p[4200];
        struct stat st;
        snprintf(p, sizeof(p), "%s/%s", dir, folders[i]);
        if (stat(p, &st) == 0)
            stoat_loader_add_path(l, p);
    }
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    stoat_loader_stats(l, ls);
    stoat_loader_destroy(l);
    return rs;
}

static void test_sigmahq_rules_load(void **state)
{
    (void)state;
    const char *dir = sigma_dir();
    if (!dir) {
        printf("  skipped: no SigmaHQ copy (set STOAT_SIGMA_DIR or put it at ../shared/data/sigma)\n");
        skip();
    }
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = load_all(dir, &ds, &ls);
    printf("  %zu documents, %zu loaded, %zu correlations, %zu filters, %zu rejected\n", ls.documents, ls.loaded,
           ls.correlations, ls.filters, ls.rejected);
    assert_true(ls.loaded > 1000);
    size_t bad = 0;
    for (size_t i = 0; i < ds.n; i++) {
        const struct tu_diag *d = &ds.v[i];
        if (d->severity != STOAT_SEV_ERROR)
            continue;
        if (d->code == STOAT_ERR_PLACEHOLDER)
            continue; /* %name% without a placeholder file: refused as the spec asks */
        fprintf(stderr, "  -- %s\n", d->text);
        bad++;
    }
    assert_int_equal(bad, 0);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
}

/* One reviewed over-count: "id expected got why" (see the file's header). */
struct known {
    char id[40];
    long expected, got;
    bool seen;
};

struct reg_result {
    size_t cases, exact, known, unexpected, missed, broken;
    struct known *k;
    size_t nk;
};

static size_t load_known(struct known **out)
{
    char path[4200];
    snprintf(path, sizeof(path), "%s/tests/sigmahq/known-regression-differences.txt", tu_home());
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    struct known *k = NULL;
    size_t n = 0;
    char line[2048];
    while (fgets(line, sizeof(line), f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        k = realloc(k, (n + 1) * sizeof(*k));
        assert_non_null(k);
        memset(&k[n], 0, sizeof(k[n]));
        int why = 0;
        assert_int_equal(sscanf(line, "%39s %ld %ld %n", k[n].id, &k[n].expected, &k[n].got, &why), 3);
        assert_true(why > 0 && line[why] != '\n' && line[why] != 0); /* every entry says why */
        n++;
    }
    fclose(f);
    *out = k;
    return n;
}

static void on_case(void *ctx, const struct stoat_regression_case *c)
{
    struct reg_result *r = ctx;
    r->cases++;
    if (c->why) {
        r->broken++;
        fprintf(stderr, "  -- %s: %s\n", c->info, c->why);
        return;
    }
    if (c->passed) {
        r->exact++;
        return;
    }
    if (c->got == 0) {
        r->missed++;
        fprintf(stderr, "  -- MISSED %s (%s): expected %ld, got 0\n", c->input, c->rule_title, c->expected);
        return;
    }
    for (size_t i = 0; i < r->nk; i++) {
        if (strcmp(r->k[i].id, c->rule_id) != 0)
            continue;
        if (r->k[i].expected == c->expected && r->k[i].got == c->got && !r->k[i].seen) {
            r->k[i].seen = true;
            r->known++;
            return;
        }
        fprintf(stderr, "  -- %s (%s): expected %ld, got %ld; the reviewed list says %ld -> %ld\n", c->input,
                c->rule_title, c->expected, c->got, r->k[i].expected, r->k[i].got);
        r->unexpected++;
        return;
    }
    fprintf(stderr, "  -- NEW OVER-COUNT %s (%s): expected %ld, got %ld (not in the reviewed list)\n", c->input,
            c->rule_title, c->expected, c->got);
    r->unexpected++;
}

static void test_sigmahq_regression(void **state)
{
    (void)state;
    const char *dir = sigma_dir();
    char reg[4200];
    struct stat st;
    if (dir)
        snprintf(reg, sizeof(reg), "%s/regression_data", dir);
    if (!dir || stat(reg, &st) != 0) {
        printf("  skipped: no SigmaHQ regression_data (set STOAT_SIGMA_DIR or put it at ../shared/data/sigma)\n");
        skip();
    }
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = load_all(dir, &ds, &ls);
    struct reg_result r = {0};
    r.nk = load_known(&r.k);
    struct stoat_regression_totals t = {0};
    stoat_regression_run(rs, reg, false, on_case, &r, &t);
    size_t stale = 0;
    for (size_t i = 0; i < r.nk; i++)
        if (!r.k[i].seen) {
            fprintf(stderr, "  -- %s: in the reviewed list (%ld -> %ld) but not seen so\n", r.k[i].id, r.k[i].expected,
                    r.k[i].got);
            stale++;
        }
    printf("  regression: %zu cases, %zu exact, %zu reviewed over-counts, %zu unexpected counts, %zu missed,"
           " %zu not run\n",
           r.cases, r.exact, r.known, r.unexpected, r.missed, r.broken);
    assert_true(r.cases > 50);
    assert_int_equal(r.missed, 0);
    assert_int_equal(r.broken, 0);
    assert_int_equal(r.unexpected, 0);
    assert_int_equal(stale, 0);
    free(r.k);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sigmahq_rules_load),
        cmocka_unit_test(test_sigmahq_regression),
    };
    return cmocka_run_group_tests_name("sigmahq", tests, NULL, NULL);
}
