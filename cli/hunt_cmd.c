/* `stoat hunt`: load rules, read logs, report alerts. Only wiring: the work
 * is libstoat's. The progress bar and colours appear only on a terminal. */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "stoat/sinks.h"
#include "stoat/store.h"

static void usage(FILE *f)
{
    fputs("usage: stoat hunt [options] PATH...\n"
          "Hunts event logs (files, folders searched recursively, - for standard input;\n"
          "EVTX, JSON lines, JSON arrays, concatenated JSON objects, auditd logs raw or\n"
          "from ausearch -i, Sysmon for Linux in syslog; gzip-compressed or not)\n"
          "with Sigma rules: stoat's own rules/ plus any given with -r.\n\n"
          "Output:\n"
          "      --format F          jsonl, csv or table (default: table on a terminal,\n"
          "                          jsonl otherwise or with -o)\n"
          "  -o, --output FILE       write alerts to FILE\n"
          "      --db FILE           also store alerts, incidents, their events and process\n"
          "                          trees in the SQLite store FILE (created when absent), for\n"
          "                          `stoat report` and `stoat serve`\n"
          "      --retain-days N     with --db: delete alerts stored more than N days ago\n"
          "      --retain-alerts N   with --db: keep at most the newest N alerts\n"
          "      --min-level L       report alerts of level L and above\n"
          "                          (informational, low, medium, high, critical)\n"
          "      --no-summary        no summary table at the end\n"
          "  -q, --quiet             no summary, no progress bar, input errors counted only\n"
          "      --fail-on-alert     exit 1 when an alert was reported\n"
          "  -j, --threads N         worker threads (default: one per core)\n"
          "      --host NAME         host of events whose log names none (an audit.log\n"
          "                          without node=)\n\n",
          f);
    cli_rule_options_help(f);
    fputc('\n', f);
    cli_behaviour_options_help(f, false);
    fputs("\nExit codes: 0 ran, 1 alerts (with --fail-on-alert), 2 usage, 3 fatal,\n"
          "4 ran but some inputs could not be read.\n",
          f);
}

struct progress {
    bool on;
    struct timespec start, last;
};

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    struct progress *p = ctx;
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double since = (double)(now.tv_sec - p->last.tv_sec) + (double)(now.tv_nsec - p->last.tv_nsec) / 1e9;
    double all = (double)(now.tv_sec - p->start.tv_sec) + (double)(now.tv_nsec - p->start.tv_nsec) / 1e9;
    if (since < 0.25 || all < 1.0)
        return;   /* short runs get no bar at all */
    p->last = now;
    p->on = true;
    double mb = (double)done / 1e6, rate = all > 0 ? mb / all : 0;
    if (total) {
        int width = 30, fill = (int)((double)done / (double)total * width);
        if (fill > width)
            fill = width;
        fprintf(stderr, "\r[%.*s%*s] %3.0f%%  %.0f MB  %.0f MB/s ", fill, "##############################",
                width - fill, "", (double)done * 100.0 / (double)total, mb, rate);
    } else {
        fprintf(stderr, "\r%.0f MB  %.0f MB/s ", mb, rate);
    }
    fflush(stderr);
}

int cmd_hunt(int argc, char **argv)
{
    static struct rule_args ra;
    const char *format = NULL, *output = NULL, *db = NULL, *host = NULL;
    int64_t retain_days = 0, retain_alerts = 0;
    const char **paths = calloc((size_t)argc + 1, sizeof(*paths));
    size_t npaths = 0;
    unsigned threads = 0;
    enum stoat_level min_level = STOAT_LEVEL_NONE;
    bool quiet = false, no_summary = false, fail_on_alert = false;
    struct stoat_behaviour_opts bo = {0};
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int t = cli_rule_option(&ra, argc, argv, &i);
        if (!t)
            t = cli_behaviour_option(&bo, argc, argv, &i);
        if (t < 0) {
            rc = EXIT_USAGE;
            goto out;
        }
        if (t > 0)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            goto out;
        } else if (!strcmp(a, "--format")) {
            if (!(format = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
            if (strcmp(format, "jsonl") && strcmp(format, "csv") && strcmp(format, "table") &&
                strcmp(format, "json")) {
                fprintf(stderr, "stoat: unknown format '%s' (jsonl, csv, table)\n", format);
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(output = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!strcmp(a, "--db")) {
            if (!(db = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!strcmp(a, "--retain-days") || !strcmp(a, "--retain-alerts")) {
            const char *v = cli_value(argc, argv, &i);
            char *end;
            long long n = v ? strtoll(v, &end, 10) : 0;
            if (!v || *end || n < 1 || n > 1000000000000LL) {
                fprintf(stderr, "stoat: %s takes a positive number\n", a);
                rc = EXIT_USAGE;
                goto out;
            }
            if (a[9] == 'd')
                retain_days = n;
            else
                retain_alerts = n;
        } else if (!strcmp(a, "--min-level")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || !stoat_level_parse(v, &min_level)) {
                fprintf(stderr, "stoat: --min-level takes informational, low, medium, high or critical\n");
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!strcmp(a, "-j") || !strcmp(a, "--threads")) {
            const char *v = cli_value(argc, argv, &i);
            char *end;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || n < 1 || n > 256) {
                fprintf(stderr, "stoat: -j takes a number of threads from 1 to 256\n");
                rc = EXIT_USAGE;
                goto out;
            }
            threads = (unsigned)n;
        } else if (!strcmp(a, "--host")) {
            if (!(host = cli_value(argc, argv, &i))) {
                rc = EXIT_USAGE;
                goto out;
            }
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = true;
        } else if (!strcmp(a, "--no-summary")) {
            no_summary = true;
        } else if (!strcmp(a, "--fail-on-alert")) {
            fail_on_alert = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stoat hunt: unknown option '%s' (see stoat hunt --help)\n", a);
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
                              .quiet_warnings = quiet, .max_input_errors = quiet ? 0 : 50};
    if (quiet)
        dp.max_input_errors = 1;
    /* Rule problems are `stoat rules check`'s business: a hunt counts them,
     * and prints only what stops it (a broken mapping file, say). */
    struct diag_printer rule_dp = dp;
    rule_dp.quiet_rules = true;
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = cli_load_rules(&ra, &rule_dp, &ls, true);
    if (!rs) {
        fprintf(stderr, "stoat: rules could not be loaded\n");
        rc = EXIT_FATAL;
        goto out;
    }
    if (ls.loaded == 0) {
        fprintf(stderr, "stoat: no rules loaded\n");
        stoat_ruleset_destroy(rs);
        rc = EXIT_FATAL;
        goto out;
    }
    if (ls.rejected && !quiet)
        fprintf(stderr, "stoat: %zu rule document%s rejected (stoat rules check PATH lists why)\n", ls.rejected,
                ls.rejected == 1 ? "" : "s");

    struct stoat_store *store = NULL;
    if (db) {
        struct stoat_store_opts so = {.create = true, .retain_days = retain_days, .retain_alerts = retain_alerts,
                                      .diag = cli_diag, .diag_ctx = &dp};
        if (stoat_store_open(db, &so, &store) != STOAT_OK) {
            stoat_ruleset_destroy(rs);
            rc = EXIT_FATAL;
            goto out;
        }
    }
    FILE *out = stdout;
    if (output) {
        out = fopen(output, "w");
        if (!out) {
            perror(output);
            stoat_store_close(store);
            stoat_ruleset_destroy(rs);
            rc = EXIT_FATAL;
            goto out;
        }
    }
    if (!format)
        format = (!output && cli_isatty(stdout)) ? "table" : "jsonl";
    struct progress prog = {0};
    clock_gettime(CLOCK_MONOTONIC, &prog.start);
    prog.last = prog.start;
    struct stoat_hunt_opts ho = {.threads = threads, .min_level = min_level, .diag = cli_diag, .diag_ctx = &dp,
                                 .progress = (!quiet && cli_isatty(stderr)) ? on_progress : NULL,
                                 .progress_ctx = &prog, .behaviour = bo, .host = host};
    struct stoat_hunt *h = NULL;
    stoat_hunt_create(rs, &ho, &h);
    struct stoat_sink sink;
    if (!strcmp(format, "csv"))
        stoat_sink_csv(out, &sink);
    else if (!strcmp(format, "table"))
        stoat_sink_table(out, out == stdout && cli_color(stdout), &sink);
    else
        stoat_sink_jsonl(out, &sink);
    stoat_hunt_add_sink(h, &sink);
    if (store) {
        /* the command line, for the store's record of runs */
        struct buf_args {
            char text[1024];
            size_t len;
        } ba = {.len = 0};
        for (int k = 0; k < argc && ba.len < sizeof(ba.text) - 1; k++)
            ba.len += (size_t)snprintf(ba.text + ba.len, sizeof(ba.text) - ba.len, "%s%s", k ? " " : "stoat ", argv[k]);
        struct stoat_sink ss;
        stoat_sink_store(store, false, "hunt", ba.text, &ss);
        stoat_hunt_add_sink(h, &ss);
    }
    if (!quiet && !no_summary) {
        /* the summary follows a table on the same stream; otherwise it goes to stderr */
        FILE *sf = !strcmp(format, "table") ? out : stderr;
        struct stoat_summary_opts so = {.color = cli_color(sf), .load = &ls};
        struct stoat_sink sum;
        stoat_sink_summary(sf, &so, &sum);
        stoat_hunt_add_sink(h, &sum);
    }
    stoat_err e = stoat_hunt_run(h, paths, npaths);
    if (prog.on)
        fprintf(stderr, "\r%60s\r", "");
    struct stoat_hunt_stats st;
    stoat_hunt_stats(h, &st);
    if (getenv("STOAT_STATS"))
        fprintf(stderr, "prefilter: %.1f rules of the logsource per event, %.2f evaluated\n",
                st.events ? (double)st.candidates / (double)st.events : 0,
                st.events ? (double)st.evaluated / (double)st.events : 0);
    stoat_hunt_destroy(h);
    stoat_ruleset_destroy(rs);
    if (store && e != STOAT_OK && e != STOAT_ERR_IO)
        fprintf(stderr, "stoat: %s\n", stoat_store_errmsg(store));
    if (store && e == STOAT_ERR_IO && stoat_store_errmsg(store)[0])
        fprintf(stderr, "stoat: %s\n", stoat_store_errmsg(store));
    stoat_store_close(store);
    if (output && fclose(out) != 0)
        e = STOAT_ERR_IO;
    if (e == STOAT_ERR_IO || (db && e != STOAT_OK)) {
        fprintf(stderr, "stoat: writing the output failed%s\n", db ? " (or the store could not be written)" : "");
        rc = EXIT_FATAL;
    } else if (st.files_failed) {
        rc = st.files == 0 ? EXIT_FATAL : EXIT_PARTIAL;
    } else if (fail_on_alert && st.alerts) {
        rc = EXIT_ALERTS;
    }
out:
    free(paths);
    return rc;
}
