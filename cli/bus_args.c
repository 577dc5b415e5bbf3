/* The bus options every fleet command shares (`stoat publish`, `stoat watch
 * --publish`, `stoat fleet`): the servers, credentials, TLS CA and the
 * spool, as one option group, and the connection made from them, so that
 * every command connects and reports the same way. */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static bool parse_server(const struct cli_value *val, void *field)
{
    struct bus_args *b = (struct bus_args *)((char *)field - offsetof(struct bus_args, servers));
    if (!val->v)
        return false;
    if (b->nservers >= STOAT_BUS_MAX_SERVERS) {
        fprintf(stderr, "%s: at most %d --server options\n", val->cmd->say, STOAT_BUS_MAX_SERVERS);
        return false;
    }
    if (strncmp(val->v, "nats://", 7) != 0 && strncmp(val->v, "tls://", 6) != 0) {
        fprintf(stderr, "%s: --server takes nats://HOST:PORT or tls://HOST:PORT, not \"%s\"\n", val->cmd->say, val->v);
        return false;
    }
    b->servers[b->nservers++] = val->v;
    return true;
}

/* A size in bytes with an optional K, M, G suffix (powers of 1024). */
static bool parse_size(const struct cli_value *val, void *field)
{
    char *end = NULL;
    unsigned long long n = val->v ? strtoull(val->v, &end, 10) : 0;
    unsigned long long mul = 1;
    if (end && *end) {
        switch (*end) {
        case 'k':
        case 'K': mul = 1ull << 10; break;
        case 'm':
        case 'M': mul = 1ull << 20; break;
        case 'g':
        case 'G': mul = 1ull << 30; break;
        default: mul = 0;
        }
        if (end[1] && !(end[1] == 'B' && !end[2]) && !(end[1] == 'i' && end[2] == 'B' && !end[3]))
            mul = 0;
    }
    if (!val->v || end == val->v || mul == 0 || n == 0 || n > (1ull << 50) / mul) {
        fprintf(stderr, "%s: %s takes a size in bytes (K, M, G suffixes allowed)\n", val->cmd->say, val->opt);
        return false;
    }
    *(uint64_t *)field = n * mul;
    return true;
}

static bool parse_rate(const struct cli_value *val, void *field)
{
    char *end = NULL;
    double r = val->v ? strtod(val->v, &end) : 0;
    if (!val->v || end == val->v || *end || !(r >= 1) || r > 1e9) {
        fprintf(stderr, "%s: %s takes events per second (1 or more)\n", val->cmd->say, val->opt);
        return false;
    }
    *(double *)field = r;
    return true;
}

static bool parse_encoding(const struct cli_value *val, void *field)
{
    if (!val->v || (strcmp(val->v, "zstd") != 0 && strcmp(val->v, "zlib") != 0)) {
        fprintf(stderr, "%s: %s takes zstd or zlib\n", val->cmd->say, val->opt);
        return false;
    }
    *(bool *)field = strcmp(val->v, "zlib") == 0;
    return true;
}

#define BA(f) offsetof(struct bus_args, f)
const struct cli_option cli_bus_options[] = {
    {CLI_PARSE, "--server", NULL, BA(servers), parse_server},
    {CLI_STRING, "--creds", NULL, BA(creds)},
    {CLI_STRING, "--tls-ca", NULL, BA(tls_ca)},
    {CLI_STRING, "--spool", NULL, BA(spool)},
    {CLI_PARSE, "--spool-max", NULL, BA(spool_max), parse_size},
    {CLI_PARSE, "--spool-rate", NULL, BA(spool_rate), parse_rate},
    {CLI_PARSE, "--encoding", NULL, BA(zlib), parse_encoding},
    {CLI_END},
};
#undef BA

void cli_bus_options_help(FILE *f)
{
    fputs("Bus options:\n"
          "  --server URL       a NATS server, nats://HOST:PORT or tls://HOST:PORT (repeatable;\n"
          "                     default: $STOAT_NATS_URL, a comma list, else nats://127.0.0.1:4222)\n"
          "  --creds FILE       this host's credentials (`stoat fleet creds HOST`; mode 0600)\n"
          "  --tls-ca FILE      TLS, with the servers' certificates checked against this CA\n"
          "  --spool DIR        where batches wait while the bus is away (default " CLI_SPOOL_DEFAULT ")\n"
          "  --spool-max SIZE   the spool's cap (default 1G); past it the oldest batches are dropped\n"
          "                     and counted\n"
          "  --spool-rate N     events per second drained from the spool after an outage (default 5000)\n"
          "  --encoding E       event batches on the wire: zstd (default), or zlib for a centre older\n"
          "                     than zstd\n",
          f);
}

static void bus_diag(void *ctx, enum stoat_severity sev, const char *msg)
{
    struct diag_printer *dp = ctx;
    if (sev == STOAT_SEV_NOTE && dp && dp->quiet_notes)
        return;
    fprintf(stderr, "stoat: %s%s\n",
            sev == STOAT_SEV_ERROR     ? "error: "
            : sev == STOAT_SEV_WARNING ? "warning: "
                                       : "",
            msg);
}

struct stoat_bus_conn *cli_bus_connect(const struct bus_args *b, const char *host, struct diag_printer *dp)
{
    char tok[STOAT_BUS_TOKEN_MAX + 1], inbox[STOAT_BUS_TOKEN_MAX + 16];
    stoat_bus_host_token(host, strlen(host), tok);
    snprintf(inbox, sizeof inbox, "_INBOX_%s", tok);
    char name[128];
    snprintf(name, sizeof name, "stoat %s", host);
    /* the host's own inbox prefix only with per-host credentials: the
     * server's permissions for that user allow replies there alone */
    struct stoat_bus_opts o = {.servers = b->servers,
                               .nservers = b->nservers,
                               .creds = b->creds,
                               .tls_ca = b->tls_ca,
                               .inbox = b->creds ? inbox : NULL,
                               .name = name,
                               .diag = bus_diag,
                               .diag_ctx = dp};
    struct stoat_bus_conn *c = NULL;
    char why[512];
    if (stoat_bus_connect(&o, &c, why, sizeof why) != STOAT_OK) {
        fprintf(stderr, "stoat: %s\n", why);
        return NULL;
    }
    return c;
}

void cli_bus_pub_opts(const struct bus_args *b, const char *host, const char *role, struct diag_printer *dp,
                      struct stoat_bus_pub_opts *o)
{
    *o = (struct stoat_bus_pub_opts){.agent = host,
                                     .role = role,
                                     .spool_dir = b->spool ? b->spool : CLI_SPOOL_DEFAULT,
                                     .spool_max = b->spool_max,
                                     .spool_rate = b->spool_rate,
                                     .zlib = b->zlib,
                                     .diag = bus_diag,
                                     .diag_ctx = dp};
}
