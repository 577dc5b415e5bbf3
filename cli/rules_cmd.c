/* `stoat rules check`, `stoat rules test` and `stoat rules compile`. Their
 * last output lines are a contract with scripts: "rules: N loaded, M
 * rejected" and "regression: P passed, F failed". */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stoat/regression.h"
#include "util/fs.h"
#include "util/mem.h"

static void usage(FILE *f)
{
    fputs("usage: stoat rules check [options] PATH...\n"
          "       stoat rules test [options] [--evtx] REGRESSION_DIR\n"
          "       stoat rules compile -o FILE [options] [PATH...]\n\n"
          "check   loads every rule under PATH, reports each it cannot accept with\n"
          "        file:line:column and the reason; last line: rules: N loaded, M rejected\n"
          "test    runs the SigmaHQ regression suite (info.yml + event files) and checks\n"
          "        each rule's match count; last line: regression: P passed, F failed.\n"
          "        Rules come from -r, or else from the rules* folders next to REGRESSION_DIR.\n"
          "compile writes the compiled prefilter of the rules a hunt or watch with the same\n"
          "        rule options loads (stoat's own rules, -r, PATH...) to FILE, for\n"
          "        --compiled FILE: a sensor that never compiles\n"
          "  -o, --output FILE       compile: where to write\n"
          "  -v, --verbose           list every case (test) or every loaded rule (check)\n"
          "      --evtx              run the .evtx event files instead of the .json ones\n\n",
          f);
    cli_rule_options_help(f);
}

struct rules_args {
    struct rule_args ra;
    bool verbose, evtx;
    const char *dir;
};

/* check: every argument is a rule path (beyond 256, left out) */
static bool add_rule_path(const struct cli_command *cmd, void *field, const char *a)
{
    (void)cmd;
    struct rule_args *ra = field;
    if (ra->nrule_paths < 256)
        ra->rule_paths[ra->nrule_paths++] = a;
    return true;
}

/* test: the last argument is the folder */
static bool set_dir(const struct cli_command *cmd, void *field, const char *a)
{
    (void)cmd;
    *(const char **)field = a;
    return true;
}

#define RA(f) offsetof(struct rules_args, f)
static const struct cli_option check_options[] = {
    {CLI_GROUP, .off = RA(ra), .group = cli_rule_options},
    {CLI_FLAG, "--verbose", "-v", RA(verbose)},
    {CLI_HELP, "--help", "-h"},
    {CLI_END},
};

static const struct cli_option compile_options[] = {
    {CLI_GROUP, .off = RA(ra), .group = cli_rule_options},
    {CLI_STRING, "--output", "-o", RA(ra.compile_out)},
    {CLI_HELP, "--help", "-h"},
    {CLI_END},
};

static const struct cli_option test_options[] = {
    {CLI_GROUP, .off = RA(ra), .group = cli_rule_options},
    {CLI_FLAG, "--verbose", "-v", RA(verbose)},
    {CLI_FLAG, "--evtx", NULL, RA(evtx)},
    {CLI_HELP, "--help", "-h"},
    {CLI_END},
};

static const struct cli_command check_command = {
    .name = "stoat rules check",
    .say = "stoat",
    .usage = usage,
    .options = check_options,
    .arg = add_rule_path,
    .arg_off = RA(ra),
};

static const struct cli_command compile_command = {
    .name = "stoat rules compile",
    .say = "stoat",
    .usage = usage,
    .options = compile_options,
    .arg = add_rule_path,
    .arg_off = RA(ra),
};

static const struct cli_command test_command = {
    .name = "stoat rules test",
    .say = "stoat",
    .usage = usage,
    .options = test_options,
    .arg = set_dir,
    .arg_off = RA(dir),
};
#undef RA

/* Rules named more than once: the loader read each once, and said so in
 * a note per folder or file, which -v prints. */
static void print_again(const struct stoat_load_stats *ls, bool verbose)
{
    if (!ls->folders_again && !ls->files_again)
        return;
    char folders[64] = "", files[64] = "";
    if (ls->folders_again)
        snprintf(folders, sizeof(folders), "%zu folder%s given again", ls->folders_again,
                 ls->folders_again == 1 ? "" : "s");
    if (ls->files_again)
        snprintf(files, sizeof(files), "%zu rule file%s reached again", ls->files_again,
                 ls->files_again == 1 ? "" : "s");
    bool one = ls->folders_again + ls->files_again == 1;
    const char *hint = verbose ? "" : one ? " (-v names it)" : " (-v names them)";
    printf("note: %s%s%s, %s once%s\n", folders, *folders && *files ? " and " : "", files, one ? "read" : "each read",
           hint);
}

static int check(int argc, char **argv)
{
    struct rules_args a = {0};
    int rc = cli_parse(&check_command, argc, argv, 1, &a);
    if (rc != CLI_GO)
        return rc;
    struct rule_args *ra = &a.ra;
    if (!ra->nrule_paths) {
        usage(stderr);
        return EXIT_USAGE;
    }
    /* everything named, deprecated or not: check is about validity */
    if (!ra->select.status_mask)
        ra->select.status_mask = ~0u;
    struct diag_printer dp = {.out = stdout, .color = cli_color(stdout), .quiet_notes = !a.verbose};
    struct stoat_load_stats ls = {0};
    struct stoat_ruleset *rs = cli_load_rules(ra, &dp, &ls, false);
    if (a.verbose && rs)
        for (size_t i = 0; i < stoat_ruleset_count(rs); i++) {
            const struct stoat_rule_meta *m = stoat_ruleset_rule(rs, i);
            printf("loaded %s %s (%s)\n", m->id ? m->id : "-", m->title, m->file);
        }
    if (a.verbose && rs)
        printf("note: prefilter %s\n", ls.prefilter_cached ? "read back, not compiled" : "compiled");
    if (ls.unrouted)
        printf("note: %zu loaded rule%s read a logsource the mapping file does not route to any event source\n",
               ls.unrouted, ls.unrouted == 1 ? "" : "s");
    if (ls.correlations || ls.filters)
        printf("note: %zu correlation rule%s kept, %zu filter%s applied\n", ls.correlations,
               ls.correlations == 1 ? "" : "s", ls.filters, ls.filters == 1 ? "" : "s");
    print_again(&ls, a.verbose);
    printf("rules: %zu loaded, %zu rejected\n", ls.loaded + ls.correlations + ls.filters, ls.rejected);
    stoat_ruleset_destroy(rs);
    if (!rs)
        return EXIT_FATAL;
    return ls.rejected ? EXIT_ALERTS : EXIT_OK;
}

/* compile: loads as a hunt would and writes the prefilter */
static int compile(int argc, char **argv)
{
    struct rules_args a = {0};
    int rc = cli_parse(&compile_command, argc, argv, 1, &a);
    if (rc != CLI_GO)
        return rc;
    if (!a.ra.compile_out || a.ra.compiled) {
        fprintf(stderr, "stoat rules compile: %s\n",
                a.ra.compiled ? "--compiled is for hunt and watch" : "-o FILE is needed");
        return EXIT_USAGE;
    }
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr), .quiet_rules = true, .name_rejected = 10};
    struct stoat_load_stats ls = {0};
    struct stoat_ruleset *rs = cli_load_rules(&a.ra, &dp, &ls, true);
    if (!rs)
        return EXIT_FATAL;
    printf("compiled: %zu rules to %s\n", ls.loaded + ls.correlations, a.ra.compile_out);
    stoat_ruleset_destroy(rs);
    return EXIT_OK;
}

struct test_ctx {
    bool verbose;
    bool color;
};

static void on_case(void *ctx, const struct stoat_regression_case *c)
{
    struct test_ctx *t = ctx;
    if (c->passed && !t->verbose)
        return;
    const char *tag = c->passed ? "PASS" : "FAIL";
    if (t->color)
        printf("%s%s\033[0m ", c->passed ? "\033[32m" : "\033[31m", tag);
    else
        printf("%s ", tag);
    if (c->why)
        printf("%s: %s (rule %s)\n", c->input ? c->input : c->info, c->why, c->rule_id ? c->rule_id : "?");
    else if (c->expected < 0)
        printf("%s: %s: expected at least 1 match, got %ld\n", c->input, c->rule_title, c->got);
    else
        printf("%s: %s: expected %ld match%s, got %ld\n", c->input, c->rule_title, c->expected,
               c->expected == 1 ? "" : "es", c->got);
}

static int test(int argc, char **argv)
{
    struct rules_args a = {0};
    int rc = cli_parse(&test_command, argc, argv, 1, &a);
    if (rc != CLI_GO)
        return rc;
    struct rule_args *ra = &a.ra;
    bool verbose = a.verbose, evtx = a.evtx;
    const char *dir = a.dir;
    if (!dir) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (!fs_is_dir(dir)) {
        fprintf(stderr, "stoat rules test: %s is not a folder\n", dir);
        return EXIT_USAGE;
    }
    char *owned[8] = {0};
    size_t nowned = 0;
    if (!ra->nrule_paths) {
        /* SigmaHQ layout: regression_data/ sits beside rules*, whose paths it mirrors */
        static const char *const sets[] = {"rules", "rules-threat-hunting", "rules-emerging-threats",
                                           "rules-placeholder", "rules-compliance"};
        char *parent = fs_join(dir, "..");
        for (size_t i = 0; i < sizeof(sets) / sizeof(sets[0]); i++) {
            char *p = fs_join(parent, sets[i]);
            if (fs_is_dir(p))
                ra->rule_paths[ra->nrule_paths++] = owned[nowned++] = p;
            else
                free(p);
        }
        free(parent);
    }
    if (!ra->select.status_mask)
        ra->select.status_mask = ~0u; /* deprecated rules have regression tests too */
    ra->no_default_rules = true;
    struct diag_printer dp = {.out = stderr,
                              .color = cli_color(stderr),
                              .quiet_notes = true,
                              .quiet_warnings = true,
                              .quiet_rules = !verbose};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = cli_load_rules(ra, &dp, &ls, false);
    rc = EXIT_FATAL;
    if (rs) {
        struct test_ctx tc = {.verbose = verbose, .color = cli_color(stdout)};
        struct stoat_regression_totals tot;
        stoat_regression_run(rs, dir, evtx, on_case, &tc, &tot);
        if (tot.skipped)
            printf("note: %u info.yml without a runnable test (no evtx test listed) skipped\n", tot.skipped);
        printf("regression: %u passed, %u failed\n", tot.passed, tot.failed);
        rc = tot.failed ? EXIT_ALERTS : EXIT_OK;
        stoat_ruleset_destroy(rs);
    }
    for (size_t i = 0; i < nowned; i++)
        free(owned[i]);
    return rc;
}

int cmd_rules(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? EXIT_USAGE : EXIT_OK;
    }
    if (!strcmp(argv[1], "check"))
        return check(argc - 1, argv + 1);
    if (!strcmp(argv[1], "test"))
        return test(argc - 1, argv + 1);
    if (!strcmp(argv[1], "compile"))
        return compile(argc - 1, argv + 1);
    fprintf(stderr, "stoat rules: unknown command '%s' (check, test, compile)\n", argv[1]);
    return EXIT_USAGE;
}
