/* `stoat report DB -o FILE`: the store as one self-contained HTML file.
 * Only wiring: the work is libstoat's (src/report). */
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

int cmd_report(int argc, char **argv)
{
    const char *db = NULL, *output = "report.html";
    struct stoat_report_opts ro = {0};
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(output = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--title")) {
            if (!(ro.title = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--max-alerts")) {
            const char *v = cli_value(argc, argv, &i);
            char *end;
            long long n = v ? strtoll(v, &end, 10) : 0;
            if (!v || *end || n < 1) {
                fprintf(stderr, "stoat: --max-alerts takes a positive number\n");
                return EXIT_USAGE;
            }
            ro.max_alerts = (uint64_t)n;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stoat report: unknown option '%s' (see stoat report --help)\n", a);
            return EXIT_USAGE;
        } else if (!db) {
            db = a;
        } else {
            fprintf(stderr, "stoat report: one store at a time\n");
            return EXIT_USAGE;
        }
    }
    if (!db) {
        usage(stderr);
        return EXIT_USAGE;
    }
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr)};
    struct stoat_store *s = NULL;
    struct stoat_store_opts so = {.readonly = true, .diag = cli_diag, .diag_ctx = &dp};
    if (stoat_store_open(db, &so, &s) != STOAT_OK)
        return EXIT_FATAL;
    FILE *out = strcmp(output, "-") ? fopen(output, "w") : stdout;
    if (!out) {
        perror(output);
        stoat_store_close(s);
        return EXIT_FATAL;
    }
    struct stoat_report_stats st;
    ro.diag = cli_diag;
    ro.diag_ctx = &dp;
    stoat_err e = stoat_report_write(s, &ro, out, &st);
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
