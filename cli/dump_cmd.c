/* `stoat dump`: every record of the inputs as one JSON object per line, with
 * the field names rules see (what evtx_dump is used for, for every format
 * stoat reads). */
#include <stddef.h>
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

struct dump_args {
    struct rule_args ra;
    const char *output, *host;
    unsigned threads;
    struct cli_paths paths;
};

static bool parse_threads(const struct cli_value *val, void *field)
{
    if (!val->v || atoi(val->v) < 1 || atoi(val->v) > 256) {
        fprintf(stderr, "stoat: -j takes a number of threads from 1 to 256\n");
        return false;
    }
    *(unsigned *)field = (unsigned)atoi(val->v);
    return true;
}

#define DA(f) offsetof(struct dump_args, f)
static const struct cli_option options[] = {
    {CLI_HELP, "--help", "-h"},
    {CLI_STRING, "--output", "-o", DA(output)},
    {CLI_PARSE, "--threads", "-j", DA(threads), parse_threads},
    {CLI_STRING, "--host", NULL, DA(host)},
    {CLI_STRING, "--mapping", NULL, DA(ra.mapping)},
    {CLI_END},
};

static const struct cli_command command = {
    .name = "stoat dump",
    .say = "stoat",
    .usage = usage,
    .options = options,
    .arg = cli_arg_path,
    .arg_off = DA(paths),
    .dash_is_arg = true,
};
#undef DA

int cmd_dump(int argc, char **argv)
{
    struct dump_args da = {0};
    da.paths.v = calloc((size_t)argc + 1, sizeof(*da.paths.v));
    int rc = cli_parse(&command, argc, argv, 1, &da);
    if (rc != CLI_GO)
        goto out;
    rc = EXIT_OK;
    if (!da.paths.n) {
        usage(stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr), .quiet_notes = true, .max_input_errors = 50};
    da.ra.no_default_rules = true;
    struct stoat_ruleset *rs = cli_load_rules(&da.ra, &dp, NULL, false);
    if (!rs) {
        rc = EXIT_FATAL;
        goto out;
    }
    FILE *out = da.output ? fopen(da.output, "w") : stdout;
    if (!out) {
        perror(da.output);
        stoat_ruleset_destroy(rs);
        rc = EXIT_FATAL;
        goto out;
    }
    struct stoat_hunt_opts ho = {
        .threads = da.threads, .all_events = true, .diag = cli_diag, .diag_ctx = &dp, .host = da.host};
    struct stoat_hunt *h;
    stoat_hunt_create(rs, &ho, &h);
    struct stoat_sink sink;
    stoat_sink_dump(out, &sink);
    stoat_hunt_add_sink(h, &sink);
    stoat_err e = stoat_hunt_run(h, da.paths.v, da.paths.n);
    struct stoat_hunt_stats st;
    stoat_hunt_stats(h, &st);
    stoat_hunt_destroy(h);
    stoat_ruleset_destroy(rs);
    if (da.output && fclose(out) != 0)
        e = STOAT_ERR_IO;
    if (e)
        rc = EXIT_FATAL;
    else if (st.files_failed)
        rc = st.files ? EXIT_PARTIAL : EXIT_FATAL;
out:
    free(da.paths.v);
    return rc;
}
