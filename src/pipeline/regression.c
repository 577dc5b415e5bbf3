/* See stoat/regression.h (`stoat rules test`). Each case is an ordinary
 * single-threaded hunt of one file with a sink that counts the alerts of the
 * case's rule, so the suite tests exactly what `stoat hunt` does. That is why
 * it lives here, beside the hunt it runs, and not in rules/ with what it
 * tests: rules/ sits below the pipeline and may not call a hunt. */
#include <stdio.h>
#include <string.h>

#include "stoat/regression.h"
#include "util/fs.h"
#include "util/yaml.h"

struct counter {
    const struct stoat_rule_meta *rule;
    long n;
};

static stoat_err count_alert(void *ctx, const struct stoat_alert *a)
{
    struct counter *c = ctx;
    if (a->rule == c->rule)
        c->n++;
    return STOAT_OK;
}

struct reg {
    const struct stoat_ruleset *rs;
    bool evtx;
    stoat_regression_fn fn;
    void *ctx;
    struct stoat_regression_totals *t;
};

static bool is_info(const char *name)
{
    return strcmp(name, "info.yml") == 0;
}

struct info_doc {
    struct ynode *root;
};

static int take_root(void *ctx, struct ynode *root, unsigned idx)
{
    struct info_doc *d = ctx;
    if (idx == 0)
        d->root = root;
    return 0;
}

static void run_case(struct reg *g, const char *info, const char *rule_id, const char *input, long expected)
{
    struct stoat_regression_case c = {.info = info, .rule_id = rule_id, .input = input, .expected = expected};
    long idx = stoat_ruleset_find(g->rs, rule_id);
    if (idx < 0) {
        c.why = "rule not loaded";
        g->t->failed++;
        g->fn(g->ctx, &c);
        return;
    }
    const struct stoat_rule_meta *m = stoat_ruleset_rule(g->rs, (size_t)idx);
    c.rule_title = m->title;
    struct counter cnt = {.rule = m};
    struct stoat_hunt_opts ho = {.threads = 1};
    struct stoat_hunt *h;
    stoat_hunt_create(g->rs, &ho, &h);
    struct stoat_sink s = {.ctx = &cnt, .alert = count_alert};
    stoat_hunt_add_sink(h, &s);
    const char *paths[1] = {input};
    stoat_hunt_run(h, paths, 1);
    struct stoat_hunt_stats st;
    stoat_hunt_stats(h, &st);
    stoat_hunt_destroy(h);
    c.got = cnt.n;
    if (st.files_failed || st.files == 0)
        c.why = "the event file could not be read";
    c.passed = !c.why && (expected < 0 ? cnt.n >= 1 : cnt.n == expected);
    if (c.passed)
        g->t->passed++;
    else
        g->t->failed++;
    g->fn(g->ctx, &c);
}

static int on_info(void *ctx, const char *path)
{
    struct reg *g = ctx;
    char *text;
    size_t len;
    char why[256];
    if (fs_read_file(path, 1u << 20, &text, &len, why, sizeof(why))) {
        struct stoat_regression_case c = {.info = path, .why = why};
        g->t->failed++;
        g->fn(g->ctx, &c);
        return 0;
    }
    struct arena a;
    arena_init(&a, 16384);
    struct info_doc d = {0};
    yaml_parse(path, text, len, &a, take_root, &d, NULL, NULL);
    const struct ynode *meta = ynode_get(d.root, "rule_metadata");
    const struct ynode *tests = ynode_get(d.root, "regression_tests_info");
    const char *rule_id = NULL;
    if (meta && meta->kind == YN_SEQ && meta->n > 0)
        rule_id = ynode_str(ynode_get(meta->items[0], "id"));
    char *dir = strdup(path);
    char *slash = strrchr(dir, '/');
    if (slash)
        *slash = 0;
    bool ran = false;
    for (uint32_t i = 0; rule_id && tests && tests->kind == YN_SEQ && i < tests->n; i++) {
        const struct ynode *t = tests->items[i];
        const char *tpath = ynode_str(ynode_get(t, "path"));
        const char *type = ynode_str(ynode_get(t, "type"));
        const char *mc = ynode_str(ynode_get(t, "match_count"));
        if (!tpath || (type && strcmp(type, "evtx") != 0))
            continue;
        const char *base = strrchr(tpath, '/');
        base = base ? base + 1 : tpath;
        char file[4096];
        snprintf(file, sizeof(file), "%s/%s", dir, base);
        if (!g->evtx) {
            char *dot = strrchr(file, '.');
            if (dot && strcmp(dot, ".evtx") == 0)
                strcpy(dot, ".json");
        }
        long expected = mc ? strtol(mc, NULL, 10) : -1;
        run_case(g, path, rule_id, file, expected);
        ran = true;
    }
    if (!ran)
        g->t->skipped++;
    free(dir);
    arena_free(&a);
    free(text);
    return 0;
}

stoat_err stoat_regression_run(const struct stoat_ruleset *rs, const char *dir, bool evtx, stoat_regression_fn fn,
                               void *ctx, struct stoat_regression_totals *totals)
{
    memset(totals, 0, sizeof(*totals));
    if (!fs_is_dir(dir))
        return STOAT_ERR_IO;
    struct reg g = {.rs = rs, .evtx = evtx, .fn = fn, .ctx = ctx, .t = totals};
    fs_walk(dir, is_info, on_info, NULL, &g);
    return STOAT_OK;
}
