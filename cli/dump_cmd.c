/* `stoat dump`: every record of the inputs as one JSON object per line, with
 * the field names rules see (what evtx_dump is used for, for every format
 * stoat reads). */
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stoat/sinks.h"

static void usage(FILE *f)
{
    fputs("usage: stoat dump [-o FILE] [-j THREADS] [--host NAME] PATH...\n"
          "Prints every record of the inputs (EVTX, JSON, auditd, Sysmon for Linux; folders\n"
          "recursively; - for stdin)\n"
          "as JSON lines: {\"kind\":\"event\",\"timestamp\",\"host\",\"source\":{...},\"event\":{...}},\n"
          "with the flattened field names that Sigma rules use.\n",
          f);
}

int cmd_dump(int argc, char **argv)
{
    static struct rule_args ra;
    const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    size_t npaths = 0;
    const char *output = NULL, *host = NULL;
    unsigned threads = 0;
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
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
                fprintf(stderr, "stoat: -j takes a number of threads from 1 to 256\n");
                rc = EXIT_USAGE;
                goto out;
            }
            threads = (unsigned)atoi(v);
        } else if (!strcmp(a, "--host")) {
            if (!(host = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!strcmp(a, "--mapping")) {
            if (!(ra.mapping = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stoat dump: unknown option '%s'\n", a);
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
    struct stoat_ruleset *rs = cli_load_rules(&ra, &dp, NULL, false);
    if (!rs) {
        rc = EXIT_FATAL;
        goto out;
    }
    FILE *out = output ? fopen(output, "w") : stdout;
    if (!out) {
        perror(output);
        stoat_ruleset_destroy(rs);
        rc = EXIT_FATAL;
        goto out;
    }
    struct stoat_hunt_opts ho = {.threads = threads, .all_events = true, .diag = cli_diag, .diag_ctx = &dp,
                                 .host = host};
    struct stoat_hunt *h;
    stoat_hunt_create(rs, &ho, &h);
    struct stoat_sink sink;
    stoat_sink_dump(out, &sink);
    stoat_hunt_add_sink(h, &sink);
    stoat_err e = stoat_hunt_run(h, paths, npaths);
    struct stoat_hunt_stats st;
    stoat_hunt_stats(h, &st);
    stoat_hunt_destroy(h);
    stoat_ruleset_destroy(rs);
    if (output && fclose(out) != 0)
        e = STOAT_ERR_IO;
    if (e)
        rc = EXIT_FATAL;
    else if (st.files_failed)
        rc = st.files ? EXIT_PARTIAL : EXIT_FATAL;
out:
    free(paths);
    return rc;
}
