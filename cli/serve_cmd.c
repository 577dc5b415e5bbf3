/* `stoat serve DB`: the live dashboard and its JSON API. Only wiring: the
 * server is libstoat's (src/serve). Runs until SIGINT or SIGTERM. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "stoat/serve.h"

static void usage(FILE *f)
{
    fputs("usage: stoat serve [options] DB\n"
          "Serves the store DB (made by `stoat hunt --db DB` or `stoat watch --db DB`) as a live\n"
          "dashboard with a JSON API, and keeps the analysts' triage in it.\n\n"
          "      --listen ADDR:PORT  where to listen (default 127.0.0.1:8080; [::1]:PORT for IPv6;\n"
          "                          port 0 picks a free one). Any address that is not loopback\n"
          "                          needs a token.\n"
          "      --token TOKEN       require this token (16+ characters): Authorization: Bearer\n"
          "                          TOKEN, or open /login?token=TOKEN once in the browser\n"
          "      --token-file FILE   the token is the first line of FILE\n"
          "  -j, --threads N         request threads (default 4)\n"
          "      --log               one line per request on standard error\n\n"
          "API: GET /api/overview, /api/alerts, /api/alerts/ID, /api/alerts/ID/tree,\n"
          "/api/incidents, /api/incidents/ID, /api/hosts, /api/rules, /api/search?q=,\n"
          "/api/version; POST /api/triage. Filters: host rule tactic technique q level state\n"
          "incident from to limit offset order cursor.\n",
          f);
}

/* The first line of path into *out; NULL, or why not. */
static const char *read_token_file(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return strerror(errno);
    char line[600];
    const char *why = NULL;
    if (!fgets(line, sizeof(line), f)) {
        why = ferror(f) ? strerror(errno) : "the token file is empty";
    } else {
        line[strcspn(line, "\r\n")] = 0;
        if (!line[0])
            why = "the token file's first line is empty (the token must be on it)";
        else
            *out = strdup(line);
    }
    fclose(f);
    return why;
}

/* "ADDR:PORT", "[V6]:PORT" or "PORT" */
static bool parse_listen(const char *v, char *addr, size_t alen, uint16_t *port)
{
    const char *colon;
    const char *a = v, *ae;
    if (v[0] == '[') {
        ae = strchr(v, ']');
        if (!ae || ae[1] != ':')
            return false;
        a = v + 1;
        colon = ae + 1;
    } else {
        colon = strrchr(v, ':');
        if (!colon) {
            colon = v - 1;
            a = "127.0.0.1";
            ae = a + strlen(a);
        } else {
            ae = colon;
        }
    }
    if ((size_t)(ae - a) >= alen)
        return false;
    memcpy(addr, a, (size_t)(ae - a));
    addr[ae - a] = 0;
    char *end;
    long p = strtol(colon + 1, &end, 10);
    if (!colon[1] || *end || p < 0 || p > 65535)
        return false;
    *port = (uint16_t)p;
    return true;
}

struct serve_args {
    const char *db, *token, *token_file;
    char addr[128];
    uint16_t port;
    unsigned threads;
    bool log;
};

static bool parse_listen_opt(const struct cli_value *val, void *field)
{
    struct serve_args *sa = field;
    if (val->v && parse_listen(val->v, sa->addr, sizeof(sa->addr), &sa->port))
        return true;
    fprintf(stderr, "stoat: --listen takes ADDR:PORT (127.0.0.1:8080, [::1]:8080)\n");
    return false;
}

#define SA(f) offsetof(struct serve_args, f)
static const struct cli_option options[] = {
    {CLI_HELP, "--help", "-h"},
    {CLI_PARSE, "--listen", NULL, 0, parse_listen_opt},
    {CLI_STRING, "--token", NULL, SA(token)},
    {CLI_STRING, "--token-file", NULL, SA(token_file)},
    {CLI_PARSE, "--threads", "-j", SA(threads), cli_parse_threads, .max = 32, .bad = "stoat: --threads takes 1 to 32"},
    {CLI_FLAG, "--log", NULL, SA(log)},
    {CLI_END},
};

static const struct cli_command command = {
    .name = "stoat serve",
    .say = "stoat",
    .see_help = true,
    .usage = usage,
    .options = options,
    .arg = cli_arg_store,
    .arg_off = SA(db),
    .dash_is_arg = true,
};
#undef SA

int cmd_serve(int argc, char **argv)
{
    struct serve_args sa = {.addr = "127.0.0.1", .port = 8080};
    char *file_token = NULL;
    int rc = cli_parse(&command, argc, argv, 1, &sa);
    if (rc != CLI_GO)
        return rc;
    rc = EXIT_OK;
    const char *token = sa.token, *addr = sa.addr;
    if (!sa.db) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (token && sa.token_file) {
        fprintf(stderr, "stoat: --token or --token-file, not both\n");
        return EXIT_USAGE;
    }
    if (sa.token_file) {
        const char *why = read_token_file(sa.token_file, &file_token);
        if (why) {
            fprintf(stderr, "stoat: %s: %s\n", sa.token_file, why);
            return EXIT_FATAL;
        }
        token = file_token;
    }
    if (!token && !stoat_serve_is_loopback(addr)) {
        fprintf(stderr, "stoat: %s is not a loopback address: give a token (--token or --token-file)\n", addr);
        free(file_token);
        return EXIT_USAGE;
    }
    /* block the signals before the server's threads start, then wait for one */
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &set, NULL);
    struct diag_printer dp = {.out = stderr, .color = cli_color(stderr)};
    struct stoat_serve_opts so = {.db_path = sa.db,
                                  .addr = addr,
                                  .port = sa.port,
                                  .token = token,
                                  .threads = sa.threads,
                                  .log = sa.log,
                                  .diag = cli_diag,
                                  .diag_ctx = &dp};
    struct stoat_serve *sv = NULL;
    if (stoat_serve_start(&so, &sv) != STOAT_OK) {
        free(file_token);
        return EXIT_FATAL;
    }
    bool v6 = strchr(addr, ':') != NULL;
    printf("stoat: serving %s on http://%s%s%s:%u/\n", sa.db, v6 ? "[" : "", addr, v6 ? "]" : "", stoat_serve_port(sv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    stoat_serve_stop(sv);
    free(file_token);
    return rc;
}
