/* `stoat fleet`: the centre of a fleet on NATS JetStream (src/fleet).
 *
 *   stoat fleet [options]                 consume the event stream, store alerts
 *   stoat fleet setup [...]               streams, consumers, buckets (idempotent)
 *   stoat fleet status                    hosts, last seen, lag, counters
 *   stoat fleet rules push DIR...         a versioned rule bundle into stoat_rules
 *   stoat fleet creds HOST [-o FILE]      a host's credentials and server config
 *
 * Only wiring: the work is libstoat's. */
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "stoat/fleet.h"
#include "stoat/sinks.h"
#include "stoat/store.h"

static void usage(FILE *f)
{
    fputs("usage: stoat fleet [options]\n"
          "       stoat fleet setup [--replicas R] [--partitions P] [--max-age SECONDS] [--max-bytes B]\n"
          "       stoat fleet status [--db FILE]\n"
          "       stoat fleet rules push DIR...\n"
          "       stoat fleet creds HOST [-o FILE]\n"
          "The centre of a fleet: reads the events hosts publish (stoat watch --publish,\n"
          "stoat publish) from NATS JetStream, runs the rules, process trees and\n"
          "correlations per host, and stores alerts as `stoat hunt --db` does. Several\n"
          "processes share the work: each takes a share of the partitions. One of them\n"
          "also holds the cross-host role: the facts every worker derives (logons,\n"
          "addresses, alert digests) make the lateral movement graph and fleet incidents.\n\n"
          "Bus:\n"
          "      --server URL        nats://HOST:PORT (repeatable; default STOAT_NATS_URL,\n"
          "                          else nats://127.0.0.1:4222)\n"
          "      --creds FILE        user and password (stoat fleet creds), mode 0600\n"
          "      --tls-ca FILE       TLS, servers verified against this CA\n\n"
          "Centre:\n"
          "      --db FILE           the store (required; created when absent)\n"
          "  -o, --output FILE       also write alerts as JSON lines to FILE\n"
          "      --duration S        stop after S seconds (default: until SIGINT/SIGTERM)\n"
          "      --worker NAME       this worker's name (default: host-pid-random)\n"
          "      --silence S         a host without heartbeat for S seconds is reported (30)\n"
          "      --replay S          a partition taken over first replays the last S seconds of\n"
          "                          its stored batches, alerts muted, to rebuild process trees\n"
          "                          and correlation windows (default 900)\n"
          "      --no-replay         do not\n"
          "      --cross-idle S      the cross-host role closes its open chains (fleet incidents)\n"
          "                          when no fact came for S seconds (default 30)\n"
          "      --cross-replay S    on taking the cross-host role, replay the last S seconds of\n"
          "                          facts (default: three incident gaps and an hour)\n"
          "  -j, --threads N         match workers (default 2)\n"
          "  -v, --verbose           leases taken and given, reloads\n\n",
          f);
    cli_rule_options_help(f);
    fputc('\n', f);
    cli_behaviour_options_help(f, true);
}

struct fleet_args {
    struct rule_args ra;
    struct stoat_behaviour_opts bo;
    const char *servers[STOAT_BUS_MAX_SERVERS];
    size_t nservers;
    const char *creds, *tls_ca, *db, *output, *id;
    int64_t duration, silence, replicas, partitions, max_age, max_bytes, replay, cross_idle, cross_replay;
    bool no_replay;
    unsigned threads;
    enum stoat_level min_level;
    bool verbose;
    struct cli_paths paths;
};

static bool parse_server(const struct cli_value *val, void *field)
{
    (void)field;
    struct fleet_args *fa = (struct fleet_args *)((char *)field - offsetof(struct fleet_args, servers));
    if (!val->v)
        return false;
    if (fa->nservers >= STOAT_BUS_MAX_SERVERS) {
        fprintf(stderr, "stoat: at most %d --server\n", STOAT_BUS_MAX_SERVERS);
        return false;
    }
    fa->servers[fa->nservers++] = val->v;
    return true;
}

#define FA(f) offsetof(struct fleet_args, f)
static const struct cli_option options[] = {
    {CLI_GROUP, .off = FA(ra), .group = cli_rule_options},
    {CLI_GROUP, .off = FA(bo), .group = cli_behaviour_options},
    {CLI_HELP, "--help", "-h"},
    {CLI_PARSE, "--server", NULL, FA(servers), parse_server},
    {CLI_STRING, "--creds", NULL, FA(creds)},
    {CLI_STRING, "--tls-ca", NULL, FA(tls_ca)},
    {CLI_STRING, "--db", NULL, FA(db)},
    {CLI_STRING, "--output", "-o", FA(output)},
    {CLI_STRING, "--worker", NULL, FA(id)},
    {CLI_PARSE, "--duration", NULL, FA(duration), cli_parse_count},
    {CLI_PARSE, "--silence", NULL, FA(silence), cli_parse_count},
    {CLI_PARSE, "--replay", NULL, FA(replay), cli_parse_count},
    {CLI_FLAG, "--no-replay", NULL, FA(no_replay)},
    {CLI_PARSE, "--cross-idle", NULL, FA(cross_idle), cli_parse_count},
    {CLI_PARSE, "--cross-replay", NULL, FA(cross_replay), cli_parse_count},
    {CLI_PARSE, "--replicas", NULL, FA(replicas), cli_parse_count},
    {CLI_PARSE, "--partitions", NULL, FA(partitions), cli_parse_count},
    {CLI_PARSE, "--max-age", NULL, FA(max_age), cli_parse_count},
    {CLI_PARSE, "--max-bytes", NULL, FA(max_bytes), cli_parse_count},
    {CLI_PARSE, "--threads", "-j", FA(threads), cli_parse_threads, .max = 256,
     .bad = "stoat: -j takes a number of threads from 1 to 256"},
    {CLI_FLAG, "--verbose", "-v", FA(verbose)},
    {CLI_END},
};

static const struct cli_command command = {
    .name = "stoat fleet",
    .say = "stoat",
    .see_help = true,
    .usage = usage,
    .options = options,
    .arg = cli_arg_path,
    .arg_off = FA(paths),
};
#undef FA

static volatile sig_atomic_t stop_flag;
static void on_signal(int sig)
{
    (void)sig;
    stop_flag = 1;
}

/* Set before closing: the connection's going is then no news. */
static volatile int bus_closing;

static void bus_say(void *ctx, enum stoat_severity sev, const char *msg)
{
    (void)ctx;
    if (sev != STOAT_SEV_NOTE && !bus_closing)
        fprintf(stderr, "stoat: %s\n", msg);
}

static struct stoat_bus_conn *connect_bus(const struct fleet_args *fa, const char *name)
{
    struct stoat_bus_opts bo = {.servers = fa->servers,
                                .nservers = fa->nservers,
                                .creds = fa->creds,
                                .tls_ca = fa->tls_ca,
                                .name = name,
                                .connect_wait_ms = 5000,
                                .diag = bus_say};
    struct stoat_bus_conn *c = NULL;
    char why[512];
    if (stoat_bus_connect(&bo, &c, why, sizeof(why)) != STOAT_OK) {
        fprintf(stderr, "stoat: %s\n", why);
        return NULL;
    }
    if (!stoat_bus_conn_wait(c, 5000)) {
        fprintf(stderr, "stoat: no NATS server answered\n");
        bus_closing = 1;
        stoat_bus_close(c);
        return NULL;
    }
    return c;
}

/* ------------------------------------------------------------ setup */

static int do_setup(const struct fleet_args *fa)
{
    struct stoat_bus_conn *c = connect_bus(fa, "stoat fleet setup");
    if (!c)
        return EXIT_FATAL;
    char why[512];
    struct stoat_bus_setup_opts so = {.replicas = (int)fa->replicas,
                                      .max_age_ns = fa->max_age * 1000000000LL,
                                      .max_bytes = fa->max_bytes,
                                      .partitions = (unsigned)fa->partitions};
    unsigned parts = 0;
    int rc = EXIT_OK;
    if (stoat_bus_ensure_streams(c, &so, why, sizeof(why)) != STOAT_OK ||
        stoat_bus_read_partitions(c, &parts, why, sizeof(why)) != STOAT_OK ||
        stoat_fleet_setup_consumers(c, parts, (int)fa->replicas, why, sizeof(why)) != STOAT_OK) {
        fprintf(stderr, "stoat: %s\n", why);
        rc = EXIT_FATAL;
    } else {
        printf("fleet: streams, %u partition consumers, health and cross consumers and buckets ready (replicas %d)\n",
               parts, fa->replicas > 0 ? (int)fa->replicas : 1);
    }
    bus_closing = 1;
    stoat_bus_close(c);
    stoat_bus_shutdown();
    return rc;
}

/* ------------------------------------------------------------ status */

static int do_status(const struct fleet_args *fa)
{
    struct stoat_bus_conn *c = connect_bus(fa, "stoat fleet status");
    if (c) {
        stoat_fleet_status(c, stdout);
        bus_closing = 1;
        stoat_bus_close(c);
        stoat_bus_shutdown();
    }
    if (!fa->db)
        return c ? EXIT_OK : EXIT_FATAL;
    struct stoat_store_opts so = {.readonly = true};
    struct stoat_store *s = NULL;
    if (stoat_store_open(fa->db, &so, &s) != STOAT_OK) {
        fprintf(stderr, "stoat: cannot read %s\n", fa->db);
        return EXIT_FATAL;
    }
    char *json = NULL;
    size_t len = 0;
    int rc = EXIT_OK;
    if (stoat_store_fleet_json(s, &json, &len) == STOAT_OK)
        printf("%s\n", json);
    else
        rc = EXIT_FATAL;
    free(json);
    stoat_store_close(s);
    return rc;
}

/* ------------------------------------------------------------ rules push, creds */

static int do_push(const struct fleet_args *fa, const char *const *paths, size_t n)
{
    if (!n) {
        fprintf(stderr, "usage: stoat fleet rules push DIR...\n");
        return EXIT_USAGE;
    }
    struct stoat_bus_conn *c = connect_bus(fa, "stoat fleet rules push");
    if (!c)
        return EXIT_FATAL;
    char ver[80], why[512];
    int rc = EXIT_OK;
    if (stoat_fleet_bundle_push(c, paths, n, ver, sizeof(ver), why, sizeof(why)) != STOAT_OK) {
        fprintf(stderr, "stoat: %s\n", why);
        rc = EXIT_FATAL;
    } else {
        printf("rules: version %s pushed\n", ver);
    }
    bus_closing = 1;
    stoat_bus_close(c);
    stoat_bus_shutdown();
    return rc;
}

static int do_creds(const struct fleet_args *fa, const char *host)
{
    char def[300], conf[4096], why[512];
    snprintf(def, sizeof(def), "%s.creds", host);
    const char *path = fa->output ? fa->output : def;
    if (stoat_fleet_creds_make(host, path, conf, sizeof(conf), why, sizeof(why)) != STOAT_OK) {
        fprintf(stderr, "stoat: %s\n", why);
        return EXIT_FATAL;
    }
    fprintf(stderr, "stoat: credentials written to %s (mode 0600); add this to the server's users:\n", path);
    fputs(conf, stdout);
    return EXIT_OK;
}

/* ------------------------------------------------------------ the centre */

struct reload_ctx {
    const struct fleet_args *fa;
    struct diag_printer *dp;
};

static struct stoat_ruleset *reload_rules(void *ctx, const char *dir, const char *version)
{
    struct reload_ctx *r = ctx;
    struct rule_args ra = r->fa->ra;
    ra.rule_paths[0] = dir;
    ra.nrule_paths = 1;
    ra.no_default_rules = true;
    struct stoat_load_stats ls;
    struct diag_printer dp = *r->dp;
    dp.quiet_rules = true;
    struct stoat_ruleset *rs = cli_load_rules(&ra, &dp, &ls, false);
    if (rs && !ls.loaded) {
        stoat_ruleset_destroy(rs);
        rs = NULL;
    }
    if (!rs)
        fprintf(stderr, "stoat: rule bundle %s has no rule that loads; the rules stay as they were\n", version);
    return rs;
}

static void fleet_diag(void *ctx, const struct stoat_diag *d)
{
    cli_diag(ctx, d);
}

static int do_run(struct fleet_args *fa, int argc, char **argv)
{
    if (!fa->db) {
        fprintf(stderr, "stoat fleet: --db FILE is required (alerts and what was processed live there)\n");
        return EXIT_USAGE;
    }
    struct diag_printer dp = {
        .out = stderr, .color = cli_color(stderr), .quiet_notes = !fa->verbose, .max_input_errors = 50};
    struct diag_printer rule_dp = dp;
    rule_dp.quiet_rules = true;
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = cli_load_rules(&fa->ra, &rule_dp, &ls, true);
    if (!rs || !ls.loaded) {
        fprintf(stderr, "stoat: no rules loaded\n");
        stoat_ruleset_destroy(rs);
        return EXIT_FATAL;
    }
    int rc = EXIT_OK;
    struct stoat_store *store = NULL, *xstore = NULL;
    struct stoat_bus_conn *c = NULL;
    FILE *out = NULL;
    /* commits only when the centre says (alerts and marks together); a
     * host's processes may be stored by the worker it was taken from */
    struct stoat_store_opts so = {.create = true,
                                  .batch_alerts = 1u << 30,
                                  .batch_ms = 1u << 30,
                                  .shared_processes = true,
                                  /* another worker holds the lock while its round's facts go out,
                                   * up to a minute on a bus in trouble: wait, do not lose the round */
                                  .busy_ms = 120000,
                                  .diag = cli_diag,
                                  .diag_ctx = &dp};
    /* the cross-host role's incidents: a handle (and run) of their own, as
     * their alerts are in the workers' runs */
    if (stoat_store_open(fa->db, &so, &store) != STOAT_OK || stoat_store_open(fa->db, &so, &xstore) != STOAT_OK) {
        rc = EXIT_FATAL;
        goto out;
    }
    if (fa->output && !(out = fopen(fa->output, "w"))) {
        perror(fa->output);
        rc = EXIT_FATAL;
        goto out;
    }
    if (!(c = connect_bus(fa, "stoat fleet"))) {
        rc = EXIT_FATAL;
        goto out;
    }
    struct stoat_sink sinks[2], xsinks[2];
    size_t nsinks = 0;
    char args[1024];
    cli_command_line(argc, argv, args, sizeof(args));
    stoat_sink_store(store, false, "fleet", args, &sinks[nsinks++]);
    stoat_sink_store(xstore, false, "fleet-cross", args, &xsinks[0]);
    if (out)
        stoat_sink_jsonl(out, &sinks[nsinks++]);
    if (out)
        xsinks[1] = sinks[1];
    char id[160], host[64] = "centre";
    gethostname(host, sizeof(host) - 1);
    srand((unsigned)time(NULL) ^ (unsigned)getpid());
    snprintf(id, sizeof(id), "%s", fa->id ? fa->id : "");
    if (!id[0])
        snprintf(id, sizeof(id), "%.60s-%d-%04x", host, (int)getpid(), (unsigned)rand() & 0xffff);
    struct sigaction sa = {.sa_handler = on_signal};
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    struct reload_ctx rctx = {fa, &dp};
    struct stoat_fleet_opts fo = {.rs = rs,
                                  .rule_version = "local",
                                  .sinks = sinks,
                                  .nsinks = nsinks,
                                  .store = store,
                                  .db_path = fa->db,
                                  .min_level = fa->min_level,
                                  .beh = &fa->bo,
                                  .threads = fa->threads ? fa->threads : 2,
                                  .id = id,
                                  .duration_s = (double)fa->duration,
                                  .silence_ms = fa->silence * 1000,
                                  .replay_s = fa->no_replay ? -1 : (double)fa->replay,
                                  .cross_sinks = xsinks,
                                  .ncross_sinks = out ? 2 : 1,
                                  .cross_store = xstore,
                                  .cross_idle_s = (double)fa->cross_idle,
                                  .cross_replay_s = (double)fa->cross_replay,
                                  .stop = &stop_flag,
                                  .reload = reload_rules,
                                  .reload_ctx = &rctx,
                                  .diag = fleet_diag,
                                  .diag_ctx = &dp,
                                  .verbose = fa->verbose};
    struct stoat_fleet_stats fs;
    stoat_err e = stoat_fleet_run(c, &fo, &fs);
    fprintf(
        stderr,
        "fleet %s: %llu batches, %llu events, %llu alerts, %llu duplicates dropped, %llu heartbeats, "
        "%llu silent, %llu reloads, %llu replayed, %llu forged, %llu unreadable, %llu miscounted, %llu correlation alerts stored before; latency p50 %.3f s, "
        "p99 %.3f s over "
        "%llu batches\n",
        id, (unsigned long long)fs.batches, (unsigned long long)fs.events, (unsigned long long)fs.hunt.alerts,
        (unsigned long long)fs.duplicates, (unsigned long long)fs.heartbeats, (unsigned long long)fs.silent,
        (unsigned long long)fs.reloads, (unsigned long long)fs.replayed, (unsigned long long)fs.forged,
        (unsigned long long)fs.undecodable, (unsigned long long)fs.miscounted, (unsigned long long)fs.corr_known,
        fs.latency_p50_s, fs.latency_p99_s, (unsigned long long)fs.latency_n);
    if (fs.busy_s > 0 && fs.events)
        fprintf(stderr,
                "fleet %s: drained %llu events in %.2f s from the first batch to the last commit: %.0f events/s, "
                "%.2f CPU s (%.2f us an event; last commit at %.3f)\n",
                id, (unsigned long long)fs.events, fs.busy_s, (double)fs.events / fs.busy_s, fs.busy_cpu_s,
                fs.busy_cpu_s * 1e6 / (double)fs.events, (double)fs.last_commit_ns / 1e9);
    if (fa->verbose && fs.rounds)
        fprintf(stderr,
                "fleet %s: %llu rounds stored batches; their wall time: fetching %.2f s, the stages %.2f s, "
                "facts and commit %.2f s, acknowledging %.2f s\n",
                id, (unsigned long long)fs.rounds, fs.t_fetch, fs.t_stages, fs.t_commit, fs.t_acks);
    fprintf(stderr,
            "fleet %s: facts published: %llu (%llu messages) of %llu derived, %llu with replayed batches (sent "
            "before); cross-host role: %llu facts read, %llu edges (%llu new), %llu fleet incidents stored, %llu "
            "known already\n",
            id, (unsigned long long)fs.facts, (unsigned long long)fs.fact_messages,
            (unsigned long long)fs.facts_derived, (unsigned long long)fs.facts_replayed,
            (unsigned long long)fs.cross_facts, (unsigned long long)fs.cross_edges,
            (unsigned long long)fs.cross_new_edges, (unsigned long long)fs.cross_incidents,
            (unsigned long long)fs.cross_known);
    fprintf(stderr,
            "fleet %s: incidents stored before: %llu; correlations across hosts: %llu stored, %llu known already; "
            "a host's correlation windows rebuilt %llu times (its matches came out of order), %llu matches too "
            "late, %llu not kept for a rebuild (memory)\n",
            id, (unsigned long long)fs.incidents_known, (unsigned long long)fs.cross_corr,
            (unsigned long long)fs.cross_corr_known, (unsigned long long)fs.hunt.corr_rebuilt,
            (unsigned long long)fs.hunt.corr_late, (unsigned long long)fs.hunt.corr_unkept);
    if (e != STOAT_OK)
        rc = EXIT_FATAL;
    for (size_t i = 0; i < nsinks; i++)
        if (sinks[i].destroy)
            sinks[i].destroy(sinks[i].ctx);
    if (xsinks[0].destroy)
        xsinks[0].destroy(xsinks[0].ctx);
out:
    bus_closing = 1;
    stoat_bus_close(c);
    if (c)
        stoat_bus_shutdown();
    if (out && fclose(out) != 0)
        rc = EXIT_FATAL;
    stoat_store_close(store);
    stoat_store_close(xstore);
    stoat_ruleset_destroy(rs);
    return rc;
}

int cmd_fleet(int argc, char **argv)
{
    struct fleet_args fa = {.min_level = STOAT_LEVEL_NONE};
    fa.paths.v = calloc((size_t)argc + 1, sizeof(*fa.paths.v));
    const char *sub = argc > 1 && argv[1][0] != '-' ? argv[1] : NULL;
    int first = sub ? 2 : 1;
    if (sub && !strcmp(sub, "rules"))
        first = 3;
    int rc = cli_parse(&command, argc, argv, first, &fa);
    if (rc != CLI_GO)
        goto out;
    if (!sub) {
        rc = fa.paths.n ? EXIT_USAGE : do_run(&fa, argc, argv);
        if (fa.paths.n)
            fprintf(stderr, "stoat fleet: unexpected argument '%s'\n", fa.paths.v[0]);
    } else if (!strcmp(sub, "setup")) {
        rc = do_setup(&fa);
    } else if (!strcmp(sub, "status")) {
        rc = do_status(&fa);
    } else if (!strcmp(sub, "rules") && argc > 2 && !strcmp(argv[2], "push")) {
        rc = do_push(&fa, fa.paths.v, fa.paths.n);
    } else if (!strcmp(sub, "creds") && fa.paths.n == 1) {
        rc = do_creds(&fa, fa.paths.v[0]);
    } else {
        usage(stderr);
        rc = EXIT_USAGE;
    }
out:
    free(fa.paths.v);
    return rc;
}
