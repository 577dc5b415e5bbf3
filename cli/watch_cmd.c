/* `stoat watch`: the live sensor with the hunt's engine. SIGHUP reloads the
 * rules on a thread of their own while events keep flowing; the new ruleset
 * is swapped in between two polls. SIGTERM and SIGINT flush and exit. Lost
 * events are reported every ten seconds they occur, and at exit. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "behaviour/jewels.h"
#include "cli.h"
#include "stoat/sinks.h"
#include "stoat/store.h"
#include "stoat/watch.h"
#include "util/mem.h"

static volatile sig_atomic_t stop_requested, reload_requested;

static void on_stop(int sig)
{
    (void)sig;
    stop_requested = 1;
}

static void on_hup(int sig)
{
    (void)sig;
    reload_requested = 1;
}

static void usage(FILE *f)
{
    fputs("usage: stoat watch [options]\n"
          "Watches this Linux host live (root): a kernel sensor (eBPF on tracepoints; the proc\n"
          "connector and fanotify where eBPF cannot load) feeding stoat's rules, process trees,\n"
          "correlations and crown-jewel watch. SIGHUP reloads the rules and reopens -o (for\nlog rotation), SIGTERM stops.\n\n"
          "  --watch-path PATH       report opens of files under PATH (repeatable; the crown-jewel\n"
          "                          file's folders are watched too)\n"
          "  --format F              table (default on a terminal) or jsonl\n"
          "  -o, --output FILE       alerts to FILE (appended)\n"
          "      --syslog            alerts and incidents to syslog as well\n"
          "      --record FILE       every event as JSON lines, for a later stoat hunt\n"
          "      --db FILE           also store alerts, incidents, events and process trees in the\n"
          "                          SQLite store FILE (created when absent); `stoat serve FILE`\n"
          "                          shows them live\n"
          "      --retain-days N     with --db: delete alerts stored more than N days ago\n"
          "      --retain-alerts N   with --db: keep at most the newest N alerts\n"
          "                          (both applied every minute while watching)\n"
          "      --capture FILE      the sensor's raw ring-buffer records (eBPF mode), for --replay\n"
          "      --replay FILE       no sensor: run a --capture file through the same decoding, rules\n"
          "                          and analytics as fast as it goes, then stop (no root needed)\n"
          "      --min-level L       report alerts of level L and above\n"
          "      --fallback          do not use eBPF (proc connector and fanotify)\n"
          "      --duration SECONDS  stop after this long (default: run until stopped)\n"
          "  -q, --quiet             no status lines on standard error\n\n",
          f);
    cli_rule_options_help(f);
    fputc('\n', f);
    cli_behaviour_options_help(f, true);
}

struct reload {
    struct rule_args *ra;
    struct diag_printer *dp;
    struct stoat_ruleset *rs;      /* the result */
    volatile int done;
};

static void *reload_main(void *arg)
{
    struct reload *r = arg;
    r->rs = cli_load_rules(r->ra, r->dp, NULL, true);
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Watched paths: the ones given, and the literal folders of the jewels. */
static size_t jewel_paths(const char *jewels, const char **out, size_t max)
{
    struct jewels *j = NULL;
    if (!jewels || jewels_load(jewels, &j, NULL, NULL))
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < j->npaths + j->ncanaries && n < max; i++) {
        const char *p = i < j->npaths ? j->paths[i] : j->canaries[i - j->npaths];
        if (p[0] != '/')
            continue;   /* Windows paths mean nothing here */
        /* the part before the first wildcard, cut back to a folder */
        size_t len = strcspn(p, "*?");
        while (len > 1 && p[len - 1] != '/' && p[len] != 0)
            len--;
        while (len > 1 && p[len - 1] == '/')
            len--;
        if (len <= 1)
            continue;
        char *w = xstrndup(p, len);
        /* The sensor watches a path by its folder's inode: a jewel folder
         * this host does not have (the example file's, say) is named and
         * left out rather than stopping the watch; rules still apply. */
        char *slash = strrchr(w, '/');
        char *dir = xstrndup(w, slash > w ? (size_t)(slash - w) : 1);
        struct stat st;
        if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
            fprintf(stderr, "stoat watch: warning: crown-jewel path %s: %s is not a folder here; not watched\n", w,
                    dir);
            free(w);
        } else {
            out[n++] = w;
        }
        free(dir);
    }
    jewels_free(j);
    return n;
}

int cmd_watch(int argc, char **argv)
{
    static struct rule_args ra;
    const char *paths[256];
    size_t npaths = 0, nowned = 0;
    const char *output = NULL, *format = NULL, *record = NULL, *capture = NULL, *replay = NULL, *db = NULL;
    int64_t retain_days = 0, retain_alerts = 0;
    struct stoat_store *store = NULL;
    bool use_syslog = false, fallback = false, quiet = false;
    double duration = 0;
    enum stoat_level min_level = STOAT_LEVEL_NONE;
    struct stoat_behaviour_opts bo = {0};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        int t = cli_rule_option(&ra, argc, argv, &i);
        if (!t)
            t = cli_behaviour_option(&bo, argc, argv, &i);
        if (t < 0)
            return EXIT_USAGE;
        if (t > 0)
            continue;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--watch-path")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || npaths >= 200)
                return EXIT_USAGE;
            paths[npaths++] = v;
        } else if (!strcmp(a, "--format")) {
            if (!(format = cli_value(argc, argv, &i)) || (strcmp(format, "table") && strcmp(format, "jsonl"))) {
                fprintf(stderr, "stoat watch: --format takes table or jsonl\n");
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "-o") || !strcmp(a, "--output")) {
            if (!(output = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--record")) {
            if (!(record = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--db")) {
            if (!(db = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--retain-days") || !strcmp(a, "--retain-alerts")) {
            const char *v = cli_value(argc, argv, &i);
            char *end;
            long long n = v ? strtoll(v, &end, 10) : 0;
            if (!v || *end || n < 1 || n > 1000000000000LL) {
                fprintf(stderr, "stoat watch: %s takes a positive number\n", a);
                return EXIT_USAGE;
            }
            *(a[9] == 'd' ? &retain_days : &retain_alerts) = n;
        } else if (!strcmp(a, "--capture")) {
            if (!(capture = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--replay")) {
            if (!(replay = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--syslog")) {
            use_syslog = true;
        } else if (!strcmp(a, "--fallback")) {
            fallback = true;
        } else if (!strcmp(a, "-q") || !strcmp(a, "--quiet")) {
            quiet = true;
        } else if (!strcmp(a, "--min-level")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || !stoat_level_parse(v, &min_level))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--duration")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || (duration = atof(v)) <= 0)
                return EXIT_USAGE;
        } else {
            fprintf(stderr, "stoat watch: unknown option '%s' (see stoat watch --help)\n", a);
            return EXIT_USAGE;
        }
    }
    size_t ngiven = npaths;
    nowned = jewel_paths(ra.jewels, paths + npaths, 256 - npaths);
    npaths += nowned;

    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr), .quiet_notes = true,
                              .quiet_warnings = true, .quiet_rules = true};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = cli_load_rules(&ra, &dp, &ls, true);
    int rc = EXIT_OK;
    struct stoat_watch *w = NULL;
    FILE *out = NULL;
    bool store_owned = false;
    if (!rs) {
        fprintf(stderr, "stoat watch: rules could not be loaded\n");
        rc = EXIT_FATAL;
        goto out;
    }
    /* outputs first: after the sensor loads, privileges are dropped */
    out = output ? fopen(output, "a") : stdout;
    if (!out) {
        perror(output);
        rc = EXIT_FATAL;
        goto out;
    }
    if (db) {
        /* a watch runs for weeks: retention every minute, not only at its end;
         * dp is quiet about limits (of rules), the store's are printed */
        struct diag_printer sdp = {.out = stderr, .color = cli_color(stderr)};
        struct stoat_store_opts so = {.create = true, .retain_days = retain_days, .retain_alerts = retain_alerts,
                                      .prune_every_ms = 60000, .diag = cli_diag, .diag_ctx = &sdp};
        if (stoat_store_open(db, &so, &store) != STOAT_OK) {
            rc = EXIT_FATAL;
            goto out;
        }
    }
    if (!format)
        format = (!output && cli_isatty(stdout)) ? "table" : "jsonl";
    struct stoat_watch_opts wo = {.watch_paths = paths, .nwatch = npaths, .force_fallback = fallback,
                                  .min_level = min_level, .record_path = record, .capture_path = capture,
                                  .replay_path = replay, .behaviour = bo,
                                  .diag = cli_diag, .diag_ctx = &dp};
    char err[512];
    if (stoat_watch_create(rs, &wo, &w, err, sizeof(err))) {
        fprintf(stderr, "stoat watch: the sensor could not start: %s\n", err);
        rc = EXIT_FATAL;
        goto out;
    }
    struct stoat_sink sink;
    if (!strcmp(format, "table"))
        stoat_sink_table(out, out == stdout && cli_color(stdout), &sink);
    else
        stoat_sink_jsonl(out, &sink);
    stoat_watch_add_sink(w, &sink);
    if (use_syslog) {
        stoat_sink_syslog("stoat", &sink);
        stoat_watch_add_sink(w, &sink);
    }
    if (store) {
        char args[1024];
        size_t len = 0;
        for (int k = 0; k < argc && len < sizeof(args) - 1; k++)
            len += (size_t)snprintf(args + len, sizeof(args) - len, "%s%s", k ? " " : "stoat ", argv[k]);
        stoat_sink_store(store, true, "watch", args, &sink);
        stoat_watch_add_sink(w, &sink);
        store_owned = true;
    }
    if (!quiet)
        fprintf(stderr, "stoat watch: %zu rules, mode: %s\n", ls.loaded, stoat_watch_mode(w));

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);

    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t reported_lost = 0, reported_re = 0;
    time_t last_report = 0, last_re_report = 0;
    struct reload rl = {.ra = &ra, .dp = &dp};
    pthread_t rt;
    bool reloading = false;
    while (!stop_requested) {
        int n = stoat_watch_poll(w, 200);
        if (n == STOAT_WATCH_END)
            break;   /* a replay is through */
        if (n < 0) {
            fprintf(stderr, "stoat watch: the sensor failed\n");
            rc = EXIT_FATAL;
            break;
        }
        /* live, an alert waits at most one poll for its commit: a dashboard
         * on the store shows it now (a replay goes by the store's batches) */
        if (store && !replay && stoat_store_commit(store) != STOAT_OK) {
            fprintf(stderr, "stoat watch: %s\n", stoat_store_errmsg(store));
            rc = EXIT_FATAL;
            break;
        }
        if (reload_requested && !reloading) {
            reload_requested = 0;
            /* log rotation: the output file is opened again by name, here on
             * the thread the sinks write from */
            if (output && out && out != stdout) {
                /* the new file takes the old descriptor's place, so the sinks'
                 * FILE stays valid; if it cannot be opened, writing goes on */
                fflush(out);
                FILE *fresh = fopen(output, "a");
                if (!fresh || dup2(fileno(fresh), fileno(out)) < 0)
                    fprintf(stderr, "stoat watch: cannot reopen %s: %s; still writing the old file\n", output,
                            strerror(errno));
                if (fresh)
                    fclose(fresh);
            }
            rl.done = 0;
            rl.rs = NULL;
            reloading = pthread_create(&rt, NULL, reload_main, &rl) == 0;
        }
        if (reloading && __atomic_load_n(&rl.done, __ATOMIC_ACQUIRE)) {
            pthread_join(rt, NULL);
            reloading = false;
            if (rl.rs) {
                stoat_watch_set_rules(w, rl.rs);
                stoat_ruleset_destroy(rs);
                rs = rl.rs;
                if (!quiet)
                    fprintf(stderr, "stoat watch: rules reloaded (%zu)\n", stoat_ruleset_count(rs));
            } else {
                fprintf(stderr, "stoat watch: reloading failed; the previous rules stay\n");
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct stoat_watch_stats st;
        stoat_watch_stats(w, &st);
        if (st.lost > reported_lost && now.tv_sec - last_report >= 10) {
            /* never silent: say what was lost and why */
            fprintf(stderr, "stoat watch: %llu events lost so far (%s)\n", (unsigned long long)st.lost,
                    st.lost_detail);
            reported_lost = st.lost;
            last_report = now.tv_sec;
        }
        if (st.regex_limited > reported_re && now.tv_sec - last_re_report >= 10) {
            fprintf(stderr, "stoat watch: %llu rule evaluations undecided at a regex limit so far (%s)\n",
                    (unsigned long long)st.regex_limited, st.regex_detail);
            reported_re = st.regex_limited;
            last_re_report = now.tv_sec;
        }
        if (duration > 0 && (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= duration)
            break;
    }
    if (reloading) {
        pthread_join(rt, NULL);
        stoat_ruleset_destroy(rl.rs);
    }
    stoat_watch_poll(w, 0);   /* what the kernel still holds */
    if (stoat_watch_finish(w))
        rc = EXIT_FATAL;
    struct stoat_watch_stats st;
    stoat_watch_stats(w, &st);
    if (st.capture_error) {
        fprintf(stderr, "stoat watch: writing the capture failed: %s\n", strerror(st.capture_error));
        rc = EXIT_FATAL;
    }
    if (!quiet || st.lost)
        fprintf(stderr, "stoat watch: %llu events, %llu lost%s%s%s, %llu alerts, %llu incidents\n",
                (unsigned long long)st.events, (unsigned long long)st.lost, st.lost_detail[0] ? " (" : "",
                st.lost_detail, st.lost_detail[0] ? ")" : "", (unsigned long long)st.alerts,
                (unsigned long long)st.incidents);
    if (st.regex_limited)
        fprintf(stderr, "stoat watch: %llu rule evaluations undecided at a regex limit, counted as no match (%s)\n",
                (unsigned long long)st.regex_limited, st.regex_detail);
out:
    stoat_watch_destroy(w);   /* closes the store when its sink was added */
    if (!store_owned)
        stoat_store_close(store);
    if (out && out != stdout)
        fclose(out);
    stoat_ruleset_destroy(rs);
    for (size_t i = ngiven; i < npaths; i++)
        free((char *)paths[i]);
    return rc;
}
