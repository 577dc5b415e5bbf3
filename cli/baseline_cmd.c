/* `stoat baseline learn`: a profile of what is normal per host, from a
 * period's logs, for `stoat hunt --baseline`. */
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static void usage(FILE *f)
{
    fputs("usage: stoat baseline learn [-o FILE] [-j THREADS] PATH...\n"
          "Reads a period of logs (as stoat hunt does) and writes, per host, which\n"
          "living-off-the-land tools ran, under which parents and with which command-line\n"
          "shapes (variable parts masked), as YAML a person can read and edit (to -o FILE,\n"
          "default standard output). Then: stoat hunt --baseline FILE ... raises the first\n"
          "use of a tool, parent or shape on a host. The watched tools are listed in\n"
          "data/lotl-tools.yml.\n",
          f);
}

int cmd_baseline(int argc, char **argv)
{
    static struct rule_args ra;
    if (argc < 2 || strcmp(argv[1], "learn") != 0) {
        usage(argc < 2 || strcmp(argv[1], "--help") ? stderr : stdout);
        return argc >= 2 && !strcmp(argv[1], "--help") ? EXIT_OK : EXIT_USAGE;
    }
    const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    size_t npaths = 0;
    const char *output = "/dev/stdout";
    unsigned threads = 0;
    int rc = EXIT_OK;
    for (int i = 2; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto out;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(output = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!strcmp(a, "-j") || !strcmp(a, "--threads")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || atoi(v) < 1 || atoi(v) > 256) {
                rc = EXIT_USAGE;
                goto out;
            }
            threads = (unsigned)atoi(v);
        } else if (!strcmp(a, "--mapping")) {
            if (!(ra.mapping = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stoat baseline learn: unknown option '%s'\n", a);
            rc = EXIT_USAGE;
            goto out;
        } else {
            paths[npaths++] = a;
        }
    }
    if (!npaths) {
        usage(stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr), .quiet_notes = true,
                              .max_input_errors = 50};
    ra.no_default_rules = true;
    ra.baseline_learn = true;
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = cli_load_rules(&ra, &dp, &ls, false);
    if (!rs) {
        rc = EXIT_FATAL;
        goto out;
    }
    struct stoat_hunt_opts ho = {.threads = threads, .diag = cli_diag, .diag_ctx = &dp};
    ho.behaviour.baseline_out = output;
    struct stoat_hunt *h;
    stoat_hunt_create(rs, &ho, &h);
    stoat_err e = stoat_hunt_run(h, paths, npaths);
    struct stoat_hunt_stats st;
    stoat_hunt_stats(h, &st);
    stoat_hunt_destroy(h);
    stoat_ruleset_destroy(rs);
    if (e) {
        fprintf(stderr, "stoat: writing the baseline to %s failed\n", output);
        rc = EXIT_FATAL;
    } else {
        fprintf(stderr, "stoat: baseline learned from %llu events of %llu files\n", (unsigned long long)st.events,
                (unsigned long long)st.files);
        if (st.files_failed)
            rc = st.files ? EXIT_PARTIAL : EXIT_FATAL;
    }
out:
    free(paths);
    return rc;
}
