/* `stoat baseline learn`: a profile of what is normal per host, from a
 * period's logs, for `stoat hunt --baseline`. */
#include <stddef.h>
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

struct baseline_args {
    struct rule_args ra;
    const char *output;
    unsigned threads;
    struct cli_paths paths;
};

static bool parse_threads(const struct cli_value *val, void *field)
{
    if (!val->v || atoi(val->v) < 1 || atoi(val->v) > 256)
        return false;
    *(unsigned *)field = (unsigned)atoi(val->v);
    return true;
}

#define BA(f) offsetof(struct baseline_args, f)
static const struct cli_option options[] = {
    {CLI_HELP, "--help", "-h"},
    {CLI_STRING, "--output", "-o", BA(output)},
    {CLI_PARSE, "--threads", "-j", BA(threads), parse_threads},
    {CLI_STRING, "--mapping", NULL, BA(ra.mapping)},
    {CLI_END},
};

static const struct cli_command command = {
    .name = "stoat baseline learn",
    .say = "stoat",
    .usage = usage,
    .options = options,
    .arg = cli_arg_path,
    .arg_off = BA(paths),
    .dash_is_arg = true,
};
#undef BA

int cmd_baseline(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "learn") != 0) {
        usage(argc < 2 || strcmp(argv[1], "--help") ? stderr : stdout);
        return argc >= 2 && !strcmp(argv[1], "--help") ? EXIT_OK : EXIT_USAGE;
    }
    struct baseline_args ba = {.output = "/dev/stdout"};
    ba.paths.v = calloc((size_t)argc + 1, sizeof(*ba.paths.v));
    int rc = cli_parse(&command, argc, argv, 2, &ba);
    if (rc != CLI_GO)
        goto out;
    rc = EXIT_OK;
    if (!ba.paths.n) {
        usage(stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr), .quiet_notes = true, .max_input_errors = 50};
    ba.ra.no_default_rules = true;
    ba.ra.baseline_learn = true;
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = cli_load_rules(&ba.ra, &dp, &ls, false);
    if (!rs) {
        rc = EXIT_FATAL;
        goto out;
    }
    struct stoat_hunt_opts ho = {.threads = ba.threads, .diag = cli_diag, .diag_ctx = &dp};
    ho.behaviour.baseline_out = ba.output;
    struct stoat_hunt *h;
    stoat_hunt_create(rs, &ho, &h);
    stoat_err e = stoat_hunt_run(h, ba.paths.v, ba.paths.n);
    struct stoat_hunt_stats st;
    stoat_hunt_stats(h, &st);
    stoat_hunt_destroy(h);
    stoat_ruleset_destroy(rs);
    if (e) {
        fprintf(stderr, "stoat: writing the baseline to %s failed\n", ba.output);
        rc = EXIT_FATAL;
    } else {
        fprintf(stderr, "stoat: baseline learned from %llu events of %llu files\n", (unsigned long long)st.events,
                (unsigned long long)st.files);
        if (st.files_failed)
            rc = st.files ? EXIT_PARTIAL : EXIT_FATAL;
    }
out:
    free(ba.paths.v);
    return rc;
}
