/* `stoat report DB -o FILE`: the store as one self-contained HTML file.
 * Only wiring: the work is libstoat's (src/report). */
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stoat/report.h"

static void usage(FILE *f)
{
    fputs("usage: stoat report [options] DB\n"
          "Writes the store DB (made by `stoat hunt --db DB`) as one HTML file that opens\n"
          "offline: overview, incidents and their chains, ATT&CK matrix, every alert with\n"
          "its event and process tree, search and filters, triage kept in the browser.\n\n"
          "  -o, --output FILE       the HTML file (default: report.html)\n"
          "      --max-alerts N      only the newest N alerts (and all alerts of incidents)\n"
          "      --title TEXT        the source named in the page (default: DB's file name)\n",
          f);
}

struct report_args {
    const char *db, *output;
    struct stoat_report_opts ro;
};

static bool parse_max_alerts(const struct cli_value *val, void *field)
{
    char *end;
    long long n = val->v ? strtoll(val->v, &end, 10) : 0;
    if (!val->v || *end || n < 1) {
        fprintf(stderr, "stoat: --max-alerts takes a positive number\n");
        return false;
    }
    *(uint64_t *)field = (uint64_t)n;
    return true;
}

#define RA(f) offsetof(struct report_args, f)
static const struct cli_option options[] = {
    {CLI_HELP, "--help", "-h"},
    {CLI_STRING, "--output", "-o", RA(output)},
    {CLI_STRING, "--title", NULL, RA(ro.title)},
    {CLI_PARSE, "--max-alerts", NULL, RA(ro.max_alerts), parse_max_alerts},
    {CLI_END},
};

static const struct cli_command command = {
    .name = "stoat report",
    .say = "stoat",
    .see_help = true,
    .usage = usage,
    .options = options,
    .arg = cli_arg_store,
    .arg_off = RA(db),
    .dash_is_arg = true,
};
#undef RA

int cmd_report(int argc, char **argv)
{
    struct report_args ra = {.output = "report.html"};
    int rc = cli_parse(&command, argc, argv, 1, &ra);
    if (rc != CLI_GO)
        return rc;
    rc = EXIT_OK;
    const char *output = ra.output;
    if (!ra.db) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr)};
    struct stoat_store *s = NULL;
    struct stoat_store_opts so = {.readonly = true, .diag = cli_diag, .diag_ctx = &dp};
    if (stoat_store_open(ra.db, &so, &s) != STOAT_OK)
        return EXIT_FATAL;
    FILE *out = strcmp(output, "-") ? fopen(output, "w") : stdout;
    if (!out) {
        perror(output);
        stoat_store_close(s);
        return EXIT_FATAL;
    }
    struct stoat_report_stats st;
    ra.ro.diag = cli_diag;
    ra.ro.diag_ctx = &dp;
    stoat_err e = stoat_report_write(s, &ra.ro, out, &st);
    if (out != stdout && fclose(out) != 0 && e == STOAT_OK) {
        perror(output);
        e = STOAT_ERR_IO;
    }
    if (e == STOAT_OK && out != stdout)
        fprintf(stderr, "stoat: %s: %llu alerts, %llu incidents, %.1f MB\n", output, (unsigned long long)st.alerts,
                (unsigned long long)st.incidents, (double)st.bytes / 1e6);
    stoat_store_close(s);
    if (e != STOAT_OK)
        rc = EXIT_FATAL;
    return rc;
}
