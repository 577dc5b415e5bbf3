/* `stoat watch`: the live sensor with the hunt's engine. SIGHUP reloads the
 * rules on a thread of their own while events keep flowing; the new ruleset
 * is swapped in between two polls. SIGTERM and SIGINT flush and exit. Lost
 * events are reported every ten seconds they occur, and at exit. */
#include <errno.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "stoat/behaviour.h"
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
    fputs(
        "usage: stoat watch [options]\n"
        "Watches this Linux host live (root): a kernel sensor (eBPF on tracepoints; the proc\n"
        "connector and fanotify where eBPF cannot load) feeding stoat's rules, process trees,\n"
        "correlations and crown-jewel watch. SIGHUP reloads the rules and reopens -o (for\nlog rotation), SIGTERM stops.\n\n"
        "  --watch-path PATH       report opens of files under PATH (repeatable; the crown-jewel\n"
        "                          file's folders are watched too)\n"
        "      --watch-file PATH   add PATH to the default file set: its changes (writes, creates,\n"
        "                          renames, deletes, mode and owner changes) are reported\n"
        "      --no-default-files  do not watch the default file set (persistence and privilege\n"
        "                          files: passwd, sudoers, cron, systemd units, shell start-up\n"
        "                          files, authorized_keys, ld.so.preload...; src/sensor/README.md)\n"
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
        "      --user NAME         once the sensor is loaded, run as NAME and its group with\n"
        "                          only the capabilities the sensor still needs (default: stoat\n"
        "                          when that user exists, else nobody; root keeps uid 0)\n"
        "      --duration SECONDS  stop after this long (default: run until stopped)\n"
        "  -q, --quiet             no status lines on standard error\n"
        "      --publish URL       also publish every event and alert to the fleet's NATS\n"
        "                          JetStream at URL (nats://HOST:PORT; the bus options below);\n"
        "                          detection stays local, the bus being down or not\n\n",
        f);
    cli_bus_options_help(f);
    fputc('\n', f);
    cli_rule_options_help(f);
    fputc('\n', f);
    cli_behaviour_options_help(f, true);
}

struct reload {
    const struct rule_args *ra;
    struct diag_printer *dp;
    struct watch_pub *wp;     /* with --publish */
    char version[40];         /* a bundle from the fleet's bucket to load, or "" (SIGHUP) */
    char *dir;                /* where that bundle was unpacked */
    struct stoat_ruleset *rs; /* the result */
    volatile int done;
};

static void *reload_main(void *arg)
{
    struct reload *r = arg;
    if (!r->version[0]) {
        r->rs = cli_load_rules(r->ra, r->dp, NULL, true);
    } else if ((r->dir = watch_pub_fetch_rules(r->wp, r->version))) {
        /* the bundle replaces the rule paths; jewels, baseline and the rest stay
         * (but not --compiled: it was made for the rules the bundle replaces, so
         * the bundle compiles, through the cache) */
        struct rule_args ra = *r->ra;
        ra.rule_paths[0] = r->dir;
        ra.nrule_paths = 1;
        ra.no_default_rules = true;
        ra.compiled = NULL;
        r->rs = cli_load_rules(&ra, r->dp, NULL, false);
    }
    __atomic_store_n(&r->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Watched paths: the ones given, and the literal folders of the jewels. */
static size_t jewel_paths(const char *jewels, const char **out, size_t max)
{
    char *found[256];
    size_t nfound = stoat_jewels_folders(jewels, found, max < 256 ? max : 256, NULL, NULL);
    size_t n = 0;
    for (size_t i = 0; i < nfound; i++) {
        char *w = found[i];
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
    return n;
}

struct watch_args {
    struct rule_args ra;
    struct stoat_behaviour_opts bo;
    const char *paths[256]; /* given with --watch-path, then the jewels' folders */
    size_t npaths;
    const char *files[64]; /* --watch-file */
    size_t nfiles;
    bool no_default_files;
    const char *output, *format, *record, *capture, *replay, *db, *user;
    int64_t retain_days, retain_alerts;
    bool use_syslog, fallback, quiet;
    double duration;
    enum stoat_level min_level;
    bool publish;
    struct bus_args bus;
};

static bool parse_watch_path(const struct cli_value *val, void *field)
{
    struct watch_args *wa = field;
    if (!val->v || wa->npaths >= 200)
        return false;
    wa->paths[wa->npaths++] = val->v;
    return true;
}

static bool parse_watch_file(const struct cli_value *val, void *field)
{
    struct watch_args *wa = field;
    if (!val->v || wa->nfiles >= sizeof(wa->files) / sizeof(wa->files[0]))
        return false;
    wa->files[wa->nfiles++] = val->v;
    return true;
}

static bool parse_publish(const struct cli_value *val, void *field)
{
    struct watch_args *wa = field;
    if (!val->v)
        return false;
    if (strncmp(val->v, "nats://", 7) != 0 && strncmp(val->v, "tls://", 6) != 0) {
        fprintf(stderr, "stoat watch: --publish takes nats://HOST:PORT or tls://HOST:PORT\n");
        return false;
    }
    if (wa->bus.nservers >= STOAT_BUS_MAX_SERVERS)
        return false;
    wa->bus.servers[wa->bus.nservers++] = val->v;
    wa->publish = true;
    return true;
}

static bool parse_format(const struct cli_value *val, void *field)
{
    const char *v = val->v;
    if (!v || (strcmp(v, "table") && strcmp(v, "jsonl"))) {
        fprintf(stderr, "stoat watch: --format takes table or jsonl\n");
        return false;
    }
    *(const char **)field = v;
    return true;
}

/* --min-level and --duration say nothing of a bad value */
static bool parse_min_level(const struct cli_value *val, void *field)
{
    return val->v && stoat_level_parse(val->v, field);
}

static bool parse_duration(const struct cli_value *val, void *field)
{
    return val->v && (*(double *)field = atof(val->v)) > 0;
}

/* The user the sensor runs as once loaded: a dedicated system user when the
 * host has one (make install documents how to create it), else nobody, which
 * every Linux host has; a user other than root stays who they are. root is taken at its word: uid 0 stays, with the
 * same capabilities cut (it still owns root's files). */
static const char *run_as_user(const char *given)
{
    if (given)
        return strcmp(given, "root") ? given : NULL;
    if (getuid() != 0)
        return NULL; /* started as someone already: stays them */
    struct passwd pw, *res = NULL;
    char buf[4096];
    return getpwnam_r("stoat", &pw, buf, sizeof(buf), &res) == 0 && res ? "stoat" : "nobody";
}

#define WA(f) offsetof(struct watch_args, f)
static const struct cli_option options[] = {
    {CLI_GROUP, .off = WA(ra), .group = cli_rule_options},
    {CLI_GROUP, .off = WA(bo), .group = cli_behaviour_options},
    {CLI_HELP, "--help", "-h"},
    {CLI_PARSE, "--watch-path", NULL, 0, parse_watch_path},
    {CLI_PARSE, "--watch-file", NULL, 0, parse_watch_file},
    {CLI_FLAG, "--no-default-files", NULL, WA(no_default_files)},
    {CLI_PARSE, "--format", NULL, WA(format), parse_format},
    {CLI_STRING, "--output", "-o", WA(output)},
    {CLI_STRING, "--record", NULL, WA(record)},
    {CLI_STRING, "--db", NULL, WA(db)},
    {CLI_PARSE, "--retain-days", NULL, WA(retain_days), cli_parse_count},
    {CLI_PARSE, "--retain-alerts", NULL, WA(retain_alerts), cli_parse_count},
    {CLI_STRING, "--capture", NULL, WA(capture)},
    {CLI_STRING, "--replay", NULL, WA(replay)},
    {CLI_STRING, "--user", NULL, WA(user)},
    {CLI_FLAG, "--syslog", NULL, WA(use_syslog)},
    {CLI_FLAG, "--fallback", NULL, WA(fallback)},
    {CLI_FLAG, "--quiet", "-q", WA(quiet)},
    {CLI_PARSE, "--min-level", NULL, WA(min_level), parse_min_level},
    {CLI_PARSE, "--duration", NULL, WA(duration), parse_duration},
    {CLI_PARSE, "--publish", NULL, 0, parse_publish},
    {CLI_GROUP, .off = WA(bus), .group = cli_bus_options},
    {CLI_END},
};
#undef WA

static const struct cli_command command = {
    .name = "stoat watch",
    .say = "stoat watch",
    .see_help = true,
    .usage = usage,
    .options = options,
};

/* What the loop works with. */
struct watch_run {
    const struct watch_args *wa;
    struct diag_printer *dp;
    struct stoat_watch *w;
    struct stoat_ruleset *rs;
    struct stoat_store *store;
    FILE *out;
    struct watch_pub *wp; /* --publish */
};

/* The alerts' sink, syslog's and the store's; true when the store's sink
 * took the store over. */
static bool add_sinks(struct watch_run *r, int argc, char **argv)
{
    struct stoat_sink sink;
    if (!strcmp(r->wa->format, "table"))
        stoat_sink_table(r->out, r->out == stdout && cli_color(stdout), &sink);
    else
        stoat_sink_jsonl(r->out, &sink);
    stoat_watch_add_sink(r->w, &sink);
    if (r->wa->use_syslog) {
        stoat_sink_syslog("stoat", &sink);
        stoat_watch_add_sink(r->w, &sink);
    }
    if (!r->store)
        return false;
    char args[1024];
    cli_command_line(argc, argv, args, sizeof(args));
    stoat_sink_store(r->store, true, "watch", args, &sink);
    stoat_watch_add_sink(r->w, &sink);
    return true;
}

/* Log rotation: the output file is opened again by name, here on the thread
 * the sinks write from. The new file takes the old descriptor's place, so
 * the sinks' FILE stays valid; if it cannot be opened, writing goes on. */
static void reopen_output(const char *output, FILE *out)
{
    if (!output || !out || out == stdout)
        return;
    fflush(out);
    FILE *fresh = fopen(output, "a");
    if (!fresh || dup2(fileno(fresh), fileno(out)) < 0)
        fprintf(stderr,
                "stoat watch: cannot reopen %s: %s (it is opened as the user the watch runs as, see "
                "--user); still writing the old file\n",
                output, strerror(errno));
    if (fresh)
        fclose(fresh);
}

/* A reload that finished: its rules replace the running ones. */
static void take_reload(struct watch_run *r, struct reload *rl)
{
    if (!rl->rs) {
        fprintf(stderr, "stoat watch: reloading failed; the previous rules stay\n");
        return;
    }
    stoat_watch_set_rules(r->w, rl->rs);
    stoat_ruleset_destroy(r->rs);
    r->rs = rl->rs;
    if (r->wp)
        watch_pub_rules_taken(r->wp, rl->dir ? rl->dir : "local");
    if (!r->wa->quiet)
        fprintf(stderr, "stoat watch: rules reloaded (%zu)%s%s\n", stoat_ruleset_count(r->rs),
                rl->dir ? " from the fleet's bundle " : "", rl->dir ? rl->version : "");
}

/* Polls until stopped, the replay is through, the duration is up or the
 * sensor fails; returns the exit code so far. */
static int watch_loop(struct watch_run *r)
{
    int rc = EXIT_OK;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t reported_lost = 0, reported_re = 0;
    time_t last_report = 0, last_re_report = 0;
    struct reload rl = {.ra = &r->wa->ra, .dp = r->dp, .wp = r->wp};
    pthread_t rt;
    bool reloading = false;
    while (!stop_requested) {
        int n = stoat_watch_poll(r->w, 200);
        if (n == STOAT_WATCH_END)
            break; /* a replay is through */
        if (n < 0) {
            fprintf(stderr, "stoat watch: the sensor failed\n");
            rc = EXIT_FATAL;
            break;
        }
        /* live, an alert waits at most one poll for its commit: a dashboard
         * on the store shows it now (a replay goes by the store's batches) */
        if (r->store && !r->wa->replay && stoat_store_commit(r->store) != STOAT_OK) {
            fprintf(stderr, "stoat watch: %s\n", stoat_store_errmsg(r->store));
            rc = EXIT_FATAL;
            break;
        }
        bool bundle = false;
        if (!reloading && (reload_requested || (bundle = watch_pub_new_rules(r->wp, rl.version, sizeof(rl.version))))) {
            if (!bundle) {
                reload_requested = 0;
                reopen_output(r->wa->output, r->out);
                rl.version[0] = 0;
            }
            rl.done = 0;
            rl.rs = NULL;
            reloading = pthread_create(&rt, NULL, reload_main, &rl) == 0;
        }
        if (reloading && __atomic_load_n(&rl.done, __ATOMIC_ACQUIRE)) {
            pthread_join(rt, NULL);
            reloading = false;
            take_reload(r, &rl);
            free(rl.dir);
            rl.dir = NULL;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        struct stoat_watch_stats st;
        stoat_watch_stats(r->w, &st);
        if (r->wp)
            watch_pub_update(r->wp, st.lost);
        if (st.lost > reported_lost && now.tv_sec - last_report >= 10) {
            /* never silent: say what was lost and why */
            fprintf(stderr, "stoat watch: %llu events lost so far (%s)\n", (unsigned long long)st.lost, st.lost_detail);
            reported_lost = st.lost;
            last_report = now.tv_sec;
        }
        if (st.regex_limited > reported_re && now.tv_sec - last_re_report >= 10) {
            fprintf(stderr, "stoat watch: %llu rule evaluations undecided at a regex limit so far (%s)\n",
                    (unsigned long long)st.regex_limited, st.regex_detail);
            reported_re = st.regex_limited;
            last_re_report = now.tv_sec;
        }
        double ran = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
        if (r->wa->duration > 0 && ran >= r->wa->duration)
            break;
    }
    if (reloading) {
        pthread_join(rt, NULL);
        stoat_ruleset_destroy(rl.rs);
        free(rl.dir);
    }
    return rc;
}

/* What the kernel still holds, the end of chains and sinks, the last word. */
static int watch_finish(struct watch_run *r, int rc)
{
    stoat_watch_poll(r->w, 0);
    if (stoat_watch_finish(r->w))
        rc = EXIT_FATAL;
    struct stoat_watch_stats st;
    stoat_watch_stats(r->w, &st);
    if (st.capture_error) {
        fprintf(stderr, "stoat watch: writing the capture failed: %s\n", strerror(st.capture_error));
        rc = EXIT_FATAL;
    }
    if (!r->wa->quiet || st.lost)
        fprintf(stderr, "stoat watch: %llu events, %llu lost%s%s%s, %llu alerts, %llu incidents\n",
                (unsigned long long)st.events, (unsigned long long)st.lost, st.lost_detail[0] ? " (" : "",
                st.lost_detail, st.lost_detail[0] ? ")" : "", (unsigned long long)st.alerts,
                (unsigned long long)st.incidents);
    if (st.regex_limited)
        fprintf(stderr, "stoat watch: %llu rule evaluations undecided at a regex limit, counted as no match (%s)\n",
                (unsigned long long)st.regex_limited, st.regex_detail);
    return rc;
}

int cmd_watch(int argc, char **argv)
{
    struct watch_args wa = {.min_level = STOAT_LEVEL_NONE};
    int rc = cli_parse(&command, argc, argv, 1, &wa);
    if (rc != CLI_GO)
        return rc;
    size_t ngiven = wa.npaths;
    wa.npaths += jewel_paths(wa.ra.jewels, wa.paths + wa.npaths, 256 - wa.npaths);

    struct diag_printer dp = {
        .out = stderr, .color = cli_color(stderr), .quiet_notes = true, .quiet_warnings = true, .quiet_rules = true};
    struct stoat_load_stats ls;
    struct watch_run r = {.wa = &wa, .dp = &dp, .rs = cli_load_rules(&wa.ra, &dp, &ls, true)};
    rc = EXIT_OK;
    bool store_owned = false;
    if (!r.rs) {
        fprintf(stderr, "stoat watch: rules could not be loaded\n");
        rc = EXIT_FATAL;
        goto out;
    }
    /* outputs first: after the sensor loads, privileges are dropped */
    r.out = wa.output ? fopen(wa.output, "a") : stdout;
    if (!r.out) {
        perror(wa.output);
        rc = EXIT_FATAL;
        goto out;
    }
    if (wa.db) {
        /* a watch runs for weeks: retention every minute, not only at its end;
         * dp is quiet about limits (of rules), the store's are printed */
        struct diag_printer sdp = {.out = stderr, .color = cli_color(stderr)};
        struct stoat_store_opts so = {.create = true,
                                      .retain_days = wa.retain_days,
                                      .retain_alerts = wa.retain_alerts,
                                      .prune_every_ms = 60000,
                                      .diag = cli_diag,
                                      .diag_ctx = &sdp};
        if (stoat_store_open(wa.db, &so, &r.store) != STOAT_OK) {
            rc = EXIT_FATAL;
            goto out;
        }
    }
    if (!wa.format)
        wa.format = (!wa.output && cli_isatty(stdout)) ? "table" : "jsonl";
    struct stoat_watch_opts wo = {.watch_paths = wa.paths,
                                  .nwatch = wa.npaths,
                                  .force_fallback = wa.fallback,
                                  .no_default_files = wa.no_default_files,
                                  .extra_files = wa.files,
                                  .nextra = wa.nfiles,
                                  .run_as = run_as_user(wa.user),
                                  .min_level = wa.min_level,
                                  .record_path = wa.record,
                                  .capture_path = wa.capture,
                                  .replay_path = wa.replay,
                                  .behaviour = wa.bo,
                                  .diag = cli_diag,
                                  .diag_ctx = &dp};
    if (wa.publish && !watch_pub_prepare(&wa.bus, wo.run_as)) {
        rc = EXIT_FATAL;
        goto out;
    }
    if (stoat_watch_create(r.rs, &wo, &r.w)) {
        fprintf(stderr, "stoat watch: the sensor could not start (the reason is above)\n");
        rc = EXIT_FATAL;
        goto out;
    }
    store_owned = add_sinks(&r, argc, argv);
    if (wa.publish && !(r.wp = watch_pub_start(&wa.bus, r.w, &dp))) {
        rc = EXIT_FATAL;
        goto out;
    }
    if (!wa.quiet)
        fprintf(stderr, "stoat watch: %zu rules, mode: %s\n", ls.loaded, stoat_watch_mode(r.w));

    struct sigaction sa = {0};
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    rc = watch_finish(&r, watch_loop(&r));
out:
    watch_pub_stop(r.wp, wa.quiet);
    stoat_watch_destroy(r.w); /* closes the store when its sink was added */
    if (!store_owned)
        stoat_store_close(r.store);
    if (r.out && r.out != stdout)
        fclose(r.out);
    stoat_ruleset_destroy(r.rs);
    for (size_t i = ngiven; i < wa.npaths; i++)
        free((char *)wa.paths[i]);
    return rc;
}
