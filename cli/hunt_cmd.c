/* `stoat hunt`: load rules, read logs, report alerts. Only wiring: the work
 * is libstoat's. The progress bar and colours appear only on a terminal. */
#include <stddef.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "stoat/sinks.h"
#include "stoat/store.h"

#define OUT_BUF_BYTES (1u << 20) /* alerts written in blocks of this (see cmd_hunt) */

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
          "  -o, --output FILE       write alerts to FILE (- for standard output)\n"
          "      --db FILE           also store alerts, incidents, their events and process\n"
          "                          trees in the SQLite store FILE (created when absent), for\n"
          "                          `stoat report` and `stoat serve`\n"
          "      --retain-days N     with --db: delete alerts stored more than N days ago\n"
          "      --retain-alerts N   with --db: keep at most the newest N alerts\n"
          "      --min-level L       report alerts of level L and above\n"
          "                          (informational, low, medium, high, critical)\n"
          "      --no-summary        no summary table at the end\n"
          "  -q, --quiet             no summary, no progress bar, input errors counted only\n"
          "  -v, --verbose           name every file skipped as not an event log (the\n"
          "                          summary names the first few)\n"
          "      --fail-on-alert     exit 1 when an alert was reported\n"
          "  -j, --threads N         worker threads (default: one per core)\n"
          "      --host NAME         host of events whose log names none (an audit.log\n"
          "                          without node=)\n\n",
          f);
    cli_rule_options_help(f);
    fputc('\n', f);
    cli_behaviour_options_help(f, false);
    fputs("\nExit codes:\n"
          "  0  ran; every input was read whole (malformed records are skipped and counted)\n"
          "  1  alerts were reported and --fail-on-alert was given\n"
          "  2  usage: a bad option, or a rules path (-r, --jewels, --placeholders,\n"
          "     --mapping) that does not exist; said before any work\n"
          "  3  fatal: nothing hunted (no rules loaded, no input readable, output or\n"
          "     store not writable)\n"
          "  4  ran, but some inputs could not be read, or not whole: missing,\n"
          "     unreadable, damaged, truncated (an EVTX cut short); each is named\n",
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
        return; /* short runs get no bar at all */
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

struct hunt_args {
    struct rule_args ra;
    struct stoat_behaviour_opts bo;
    const char *format, *output, *db, *host;
    int64_t retain_days, retain_alerts;
    unsigned threads;
    enum stoat_level min_level;
    bool quiet, no_summary, fail_on_alert, verbose;
    struct cli_paths paths;
};

static bool parse_format(const struct cli_value *val, void *field)
{
    const char *v = val->v;
    if (!v)
        return false;
    if (strcmp(v, "jsonl") && strcmp(v, "csv") && strcmp(v, "table") && strcmp(v, "json")) {
        fprintf(stderr, "stoat: unknown format '%s' (jsonl, csv, table)\n", v);
        return false;
    }
    *(const char **)field = v;
    return true;
}

static bool parse_min_level(const struct cli_value *val, void *field)
{
    if (val->v && stoat_level_parse(val->v, field))
        return true;
    fprintf(stderr, "stoat: --min-level takes informational, low, medium, high or critical\n");
    return false;
}

#define HA(f) offsetof(struct hunt_args, f)
static const struct cli_option options[] = {
    {CLI_GROUP, .off = HA(ra), .group = cli_rule_options},
    {CLI_GROUP, .off = HA(bo), .group = cli_behaviour_options},
    {CLI_HELP, "--help", "-h"},
    {CLI_PARSE, "--format", NULL, HA(format), parse_format},
    {CLI_STRING, "--output", "-o", HA(output)},
    {CLI_STRING, "--db", NULL, HA(db)},
    {CLI_PARSE, "--retain-days", NULL, HA(retain_days), cli_parse_count},
    {CLI_PARSE, "--retain-alerts", NULL, HA(retain_alerts), cli_parse_count},
    {CLI_PARSE, "--min-level", NULL, HA(min_level), parse_min_level},
    {CLI_PARSE, "--threads", "-j", HA(threads), cli_parse_threads, .max = 256,
     .bad = "stoat: -j takes a number of threads from 1 to 256"},
    {CLI_STRING, "--host", NULL, HA(host)},
    {CLI_FLAG, "--quiet", "-q", HA(quiet)},
    {CLI_FLAG, "--no-summary", NULL, HA(no_summary)},
    {CLI_FLAG, "--fail-on-alert", NULL, HA(fail_on_alert)},
    {CLI_FLAG, "--verbose", "-v", HA(verbose)},
    {CLI_END},
};

static const struct cli_command command = {
    .name = "stoat hunt",
    .say = "stoat",
    .see_help = true,
    .usage = usage,
    .options = options,
    .arg = cli_arg_path,
    .arg_off = HA(paths),
    .dash_is_arg = true,
};
#undef HA

/* The output sink, the store's and the summary. */
static void add_sinks(struct stoat_hunt *h, const struct hunt_args *ha, FILE *out, struct stoat_store *store,
                      const struct stoat_load_stats *ls, int argc, char **argv)
{
    struct stoat_sink sink;
    if (!strcmp(ha->format, "csv"))
        stoat_sink_csv(out, &sink);
    else if (!strcmp(ha->format, "table"))
        stoat_sink_table(out, out == stdout && cli_color(stdout), &sink);
    else if (!cli_isatty(out))
        stoat_sink_jsonl_blocks(out, 0, &sink); /* the lines once in memory, not copied into out's buffer too */
    else
        stoat_sink_jsonl(out, &sink); /* a terminal sees each line as it comes */
    stoat_hunt_add_sink(h, &sink);
    if (store) {
        /* the command line, for the store's record of runs */
        char args[1024];
        cli_command_line(argc, argv, args, sizeof(args));
        stoat_sink_store(store, false, "hunt", args, &sink);
        stoat_hunt_add_sink(h, &sink);
    }
    if (!ha->quiet && !ha->no_summary) {
        /* the summary follows a table on the same stream; otherwise it goes to stderr */
        FILE *sf = !strcmp(ha->format, "table") ? out : stderr;
        struct stoat_summary_opts so = {.color = cli_color(sf), .load = ls};
        stoat_sink_summary(sf, &so, &sink);
        stoat_hunt_add_sink(h, &sink);
    }
}

/* Rule problems are `stoat rules check`'s business: a hunt names the first
 * 20 rejected documents with their reason (a count alone says nothing about
 * which detections are missing), keeps warnings quiet, and prints what stops
 * it (a broken mapping file, say). */
static struct stoat_ruleset *load_rules(struct hunt_args *ha, const struct diag_printer *dp,
                                        struct stoat_load_stats *ls)
{
    struct diag_printer rule_dp = *dp;
    rule_dp.quiet_rules = true;
    rule_dp.name_rejected = ha->quiet ? 0 : 20;
    struct stoat_ruleset *rs = cli_load_rules(&ha->ra, &rule_dp, ls, true);
    if (!rs) {
        fprintf(stderr, "stoat: rules could not be loaded\n");
        return NULL;
    }
    if (ls->loaded == 0) {
        fprintf(stderr, "stoat: no rules loaded\n");
        stoat_ruleset_destroy(rs);
        return NULL;
    }
    /* said even with -q: every such rule's alerts come out twice */
    size_t twice = stoat_ruleset_duplicate_ids(rs);
    if (twice)
        fprintf(stderr,
                "stoat: %zu rule%s the id of a rule loaded before from another file: both are kept and both alert "
                "(two copies of a rule folder? stoat rules check names them)\n",
                twice, twice == 1 ? " has" : "s have");
    if (ls->rejected && !ha->quiet)
        fprintf(stderr, "stoat: %zu rule document%s rejected%s\n", ls->rejected, ls->rejected == 1 ? "" : "s",
                rule_dp.rejected_unnamed ? " (stoat rules check PATH lists the others)" : " (named above)");
    return rs;
}

/* STOAT_STATS=pipeline: the command's own parts beside the hunt's stages
 * (pipeline/trace.h), so that what a run's wall time holds besides them
 * shows: the rule load (its listing threads' CPU counted) and the close
 * (freeing, the output's last flush). */
enum {
    PHASE_LOAD,
    PHASE_HUNT,
    PHASE_CLOSE,
    PHASES
};
struct phase_clock {
    double wall[PHASES + 1], cpu[PHASES + 1];
};

static double clock_s(clockid_t id)
{
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void phase_mark(struct phase_clock *pc, int at)
{
    pc->wall[at] = clock_s(CLOCK_MONOTONIC);
    pc->cpu[at] = clock_s(CLOCK_PROCESS_CPUTIME_ID);
}

static void phase_report(const struct phase_clock *pc)
{
    const char *s = getenv("STOAT_STATS");
    if (!s || !strstr(s, "pipeline"))
        return;
    static const char *const names[PHASES] = {"load rules, open output", "hunt", "close"};
    fputs("pipeline: command:", stderr);
    for (int i = 0; i < PHASES; i++)
        fprintf(stderr, " %s %.3f s (cpu %.3f, all threads);", names[i], pc->wall[i + 1] - pc->wall[i],
                pc->cpu[i + 1] - pc->cpu[i]);
    fputc('\n', stderr);
}

int cmd_hunt(int argc, char **argv)
{
    struct hunt_args ha = {.min_level = STOAT_LEVEL_NONE};
    ha.paths.v = calloc((size_t)argc + 1, sizeof(*ha.paths.v));
    int rc = cli_parse(&command, argc, argv, 1, &ha);
    if (rc != CLI_GO)
        goto out;
    rc = EXIT_OK;
    if (!ha.paths.n) {
        usage(stderr);
        rc = EXIT_USAGE;
        goto out;
    }
    struct diag_printer dp = {.out = stderr,
                              .color = cli_color(stderr),
                              .quiet_notes = !ha.verbose,
                              .quiet_warnings = ha.quiet,
                              .max_input_errors = ha.quiet ? 1 : 50};
    struct stoat_load_stats ls;
    struct phase_clock pc;
    phase_mark(&pc, PHASE_LOAD);
    struct stoat_ruleset *rs = load_rules(&ha, &dp, &ls);
    if (!rs) {
        rc = EXIT_FATAL;
        goto out;
    }
    struct stoat_store *store = NULL;
    if (ha.db) {
        struct stoat_store_opts so = {.create = true,
                                      .retain_days = ha.retain_days,
                                      .retain_alerts = ha.retain_alerts,
                                      .diag = cli_diag,
                                      .diag_ctx = &dp};
        if (stoat_store_open(ha.db, &so, &store) != STOAT_OK) {
            stoat_ruleset_destroy(rs);
            rc = EXIT_FATAL;
            goto out;
        }
    }
    if (ha.output && strcmp(ha.output, "-") == 0)
        ha.output = NULL; /* "-" is standard output, as for `stoat report -o` */
    FILE *out = stdout;
    if (ha.output && !(out = fopen(ha.output, "w"))) {
        perror(ha.output);
        stoat_store_close(store);
        stoat_ruleset_destroy(rs);
        rc = EXIT_FATAL;
        goto out;
    }
    if (!ha.format)
        ha.format = (!ha.output && cli_isatty(stdout)) ? "table" : "jsonl";
    /* Alerts go out in blocks of 1 MiB rather than 4 KiB: the writes are
     * made by the one serial stage, which every worker waits on at scale.
     * Not to a terminal, which should see them as they come. The buffer is
     * freed once its file is closed (stdout's lives on for the flush at exit), and glibc ignores the size of
     * a buffer it is to allocate itself. It comes from the heap, whose start
     * is on huge pages (util/mem.c), not from static storage: there its 256
     * pages were each a first-touch fault of some 20 us on the virtual
     * machines stoat runs on (half the faults of an EVTX folder's hunt). */
    static char *out_buf;
    if (!cli_isatty(out) && (out_buf = malloc(OUT_BUF_BYTES)))
        setvbuf(out, out_buf, _IOFBF, OUT_BUF_BYTES);
    /* Only the serial stage writes to out, one thread at a time, handed on
     * under the pipeline's own lock: stdio's lock per line (taken and let go
     * for each of an attack's alerts) guards nothing here. */
    if (!cli_isatty(out))
        __fsetlocking(out, FSETLOCKING_BYCALLER);
    struct progress prog = {0};
    clock_gettime(CLOCK_MONOTONIC, &prog.start);
    prog.last = prog.start;
    struct stoat_hunt_opts ho = {.threads = ha.threads,
                                 .min_level = ha.min_level,
                                 .diag = cli_diag,
                                 .diag_ctx = &dp,
                                 .progress = (!ha.quiet && cli_isatty(stderr)) ? on_progress : NULL,
                                 .progress_ctx = &prog,
                                 .behaviour = ha.bo,
                                 .host = ha.host};
    struct stoat_hunt *h = NULL;
    phase_mark(&pc, PHASE_HUNT);
    stoat_hunt_create(rs, &ho, &h);
    add_sinks(h, &ha, out, store, &ls, argc, argv);
    stoat_err e = stoat_hunt_run(h, ha.paths.v, ha.paths.n);
    if (prog.on)
        fprintf(stderr, "\r%60s\r", "");
    struct stoat_hunt_stats st;
    stoat_hunt_stats(h, &st);
    if (getenv("STOAT_STATS"))
        fprintf(stderr, "prefilter: %.1f rules of the logsource per event, %.2f evaluated\n",
                st.events ? (double)st.candidates / (double)st.events : 0,
                st.events ? (double)st.evaluated / (double)st.events : 0);
    phase_mark(&pc, PHASE_CLOSE);
    stoat_hunt_destroy(h);
    stoat_ruleset_destroy(rs);
    if (store && e != STOAT_OK && e != STOAT_ERR_IO)
        fprintf(stderr, "stoat: %s\n", stoat_store_errmsg(store));
    if (store && e == STOAT_ERR_IO && stoat_store_errmsg(store)[0])
        fprintf(stderr, "stoat: %s\n", stoat_store_errmsg(store));
    stoat_store_close(store);
    if (ha.output) {
        if (fclose(out) != 0)
            e = STOAT_ERR_IO;
        free(out_buf); /* its stream is closed; stdout's stays for the flush at exit */
    }
    phase_mark(&pc, PHASES);
    phase_report(&pc);
    if (e == STOAT_ERR_IO || (ha.db && e != STOAT_OK)) {
        fprintf(stderr, "stoat: writing the output failed%s\n", ha.db ? " (or the store could not be written)" : "");
        rc = EXIT_FATAL;
    } else if (st.files_failed) {
        rc = st.files == 0 ? EXIT_FATAL : EXIT_PARTIAL;
    } else if (ha.fail_on_alert && st.alerts) {
        rc = EXIT_ALERTS;
    }
out:
    free(ha.paths.v);
    return rc;
}
