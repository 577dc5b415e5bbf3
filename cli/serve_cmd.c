/* `stoat serve DB`: the live dashboard and its JSON API. Only wiring: the
 * server is libstoat's (src/serve). Runs until SIGINT or SIGTERM. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
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

int cmd_serve(int argc, char **argv)
{
    const char *db = NULL, *token = NULL, *token_file = NULL;
    char addr[128] = "127.0.0.1";
    uint16_t port = 8080;
    unsigned threads = 0;
    bool log = false;
    char *file_token = NULL;
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            return EXIT_OK;
        } else if (!strcmp(a, "--listen")) {
            const char *v = cli_value(argc, argv, &i);
            if (!v || !parse_listen(v, addr, sizeof(addr), &port)) {
                fprintf(stderr, "stoat: --listen takes ADDR:PORT (127.0.0.1:8080, [::1]:8080)\n");
                return EXIT_USAGE;
            }
        } else if (!strcmp(a, "--token")) {
            if (!(token = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "--token-file")) {
            if (!(token_file = cli_value(argc, argv, &i)))
                return EXIT_USAGE;
        } else if (!strcmp(a, "-j") || !strcmp(a, "--threads")) {
            const char *v = cli_value(argc, argv, &i);
            char *end;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || *end || n < 1 || n > 32) {
                fprintf(stderr, "stoat: --threads takes 1 to 32\n");
                return EXIT_USAGE;
            }
            threads = (unsigned)n;
        } else if (!strcmp(a, "--log")) {
            log = true;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "stoat serve: unknown option '%s' (see stoat serve --help)\n", a);
            return EXIT_USAGE;
        } else if (!db) {
            db = a;
        } else {
            fprintf(stderr, "stoat serve: one store at a time\n");
            return EXIT_USAGE;
        }
    }
    if (!db) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (token && token_file) {
        fprintf(stderr, "stoat: --token or --token-file, not both\n");
        return EXIT_USAGE;
    }
    if (token_file) {
        const char *why = read_token_file(token_file, &file_token);
        if (why) {
            fprintf(stderr, "stoat: %s: %s\n", token_file, why);
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
    struct stoat_serve_opts so = {.db_path = db, .addr = addr, .port = port, .token = token, .threads = threads,
                                  .log = log};
    struct stoat_serve *sv = NULL;
    char err[2048];
    if (stoat_serve_start(&so, &sv, err, sizeof(err)) != STOAT_OK) {
        fprintf(stderr, "stoat: %s\n", err);
        free(file_token);
        return EXIT_FATAL;
    }
    bool v6 = strchr(addr, ':') != NULL;
    printf("stoat: serving %s on http://%s%s%s:%u/\n", db, v6 ? "[" : "", addr, v6 ? "]" : "", stoat_serve_port(sv));
    fflush(stdout);
    int sig = 0;
    sigwait(&set, &sig);
    stoat_serve_stop(sv);
    free(file_token);
    return rc;
}
