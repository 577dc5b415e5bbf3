/* The bus: stoat's layer over NATS JetStream (nats.c), between the event
 * model and readers below and the pipelines and the command line above. It
 * carries events as the JSON lines the readers read back (it never parses
 * them) and knows the fleet's contract (docs/fleet.md): the names of
 * subjects, streams and buckets, the host token and the partition, the
 * credentials file, and a connection that outlives outages.
 *
 * Headers of the layer, each used on its own:
 *   bus.h       this one: connection, subjects and names, credentials
 *   publish.h   the host side: batches, acks, spool, heartbeats
 *   spool.h     the bounded on-disk spool the publisher keeps
 *   batch.h     an event batch's bytes on the wire (zlib out, a bounded inflate in)
 *   rules.h     rule bundles and the stoat_rules bucket
 *
 * Why a connection object of our own rather than nats.c's directly: every
 * stoat process connects the same way (servers from the command line or
 * STOAT_NATS_URL, a 0600 credentials file, TLS with a CA and a name check,
 * the host's own inbox prefix so that its permissions can stay narrow,
 * reconnecting forever), and the library's errors arrive on its threads as
 * status codes: here they become sentences (a permission violation names the
 * subject and says what to check) and state changes a caller can wait on. */
#ifndef STOAT_BUS_BUS_H
#define STOAT_BUS_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "stoat/error.h"

/* ---- names (fixed: server configs and scripts rely on them) ---- */

#define BUS_STREAM_EVENTS      "STOAT_EVENTS" /* stoat.ev.>   */
#define BUS_STREAM_ALERTS      "STOAT_ALERTS" /* stoat.al.>   */
#define BUS_STREAM_HEALTH      "STOAT_HEALTH" /* stoat.hb.>   */
#define BUS_STREAM_FACTS       "STOAT_FACTS"  /* stoat.fact.> */
#define BUS_KV_RULES           "stoat_rules"
#define BUS_KV_FLEET           "stoat_fleet"
#define BUS_KEY_PARTITIONS     "config.partitions"
#define BUS_DEFAULT_PARTITIONS 16u
#define BUS_MAX_PARTITIONS     4096u
#define BUS_DEFAULT_URL        "nats://127.0.0.1:4222"

/* Headers every event and alert batch carries. */
#define BUS_HDR_MSG_ID "Nats-Msg-Id" /* <token>:<run>:<seq> */
#define BUS_HDR_HOST   "Stoat-Host"  /* the host name as the events give it */
#define BUS_HDR_RUN    "Stoat-Run"   /* 16 hex digits, new per publishing process */
#define BUS_HDR_SEQ    "Stoat-Seq"   /* 1, 2, ... per (host, run, kind) */
#define BUS_HDR_COUNT  "Stoat-Count" /* events (or alerts) in the payload */
#define BUS_HDR_SENT   "Stoat-Sent"  /* RFC 3339 UTC with ms: when the batch was sealed */

/* ---- subjects ---- */

/* A host name as one subject token: lower case, bytes outside [a-z0-9_-]
 * become '_', an empty name is "unknown"; a name longer than 64 bytes keeps
 * its first 55 and gets '-' and 8 hex digits of the FNV-1a hash of the whole
 * name, so the token is at most BUS_TOKEN_MAX bytes. */
#define BUS_TOKEN_MAX 64
size_t bus_host_token(const char *name, size_t len, char out[BUS_TOKEN_MAX + 1]);

/* 32-bit FNV-1a. */
uint32_t bus_fnv1a(const void *p, size_t n);
/* FNV-1a(token) % partitions (partitions >= 1). */
unsigned bus_partition(const char *token, unsigned partitions);

/* "stoat.ev.<token>.<part>", "stoat.al.<token>", "stoat.hb.<token>"; the
 * length written (out holds at least BUS_SUBJECT_MAX bytes). */
#define BUS_SUBJECT_MAX 96
size_t bus_subject_events(char *out, const char *token, unsigned part);
size_t bus_subject_alerts(char *out, const char *token);
size_t bus_subject_heartbeat(char *out, const char *token);

/* ---- credentials: the file `stoat fleet creds HOST` writes ----
 *
 *   # stoat fleet credentials for host fs01
 *   user: fs01
 *   password: 3x...
 *
 * Lines "key: value" (user and password; blank lines and # comments
 * allowed; at most 4 KiB). The file must be a regular file that only its
 * owner may read or write (mode 0600 or stricter): it is refused otherwise. */
#define BUS_CREDS_MAX 4096
struct bus_creds {
    char user[256];
    char password[512];
};
stoat_err bus_creds_load(const char *path, struct bus_creds *out, char *why, size_t whylen);
/* The file's text for user and password (for `stoat fleet creds`). */
void bus_creds_format(char *out, size_t outlen, const char *host, const struct bus_creds *c);

/* ---- connection ---- */

enum bus_state {
    BUS_CONNECTING = 0, /* no server answered yet; retrying */
    BUS_CONNECTED = 1,
    BUS_DISCONNECTED = 2, /* lost; reconnecting (forever) */
    BUS_CLOSED = 3,
};
const char *bus_state_name(enum bus_state s);

/* What the connection reports: errors (a refused subject, a lost server)
 * and notes (reconnected). Called from the library's threads. */
typedef void (*bus_diag_fn)(void *ctx, enum stoat_severity sev, const char *msg);

#define BUS_MAX_SERVERS 32
struct bus_opts {
    const char *const *servers; /* nats://HOST:PORT (tls:// too); none: STOAT_NATS_URL (a comma
                                     list), else BUS_DEFAULT_URL */
    size_t nservers;
    const char *creds;       /* --creds FILE, or NULL */
    const char *tls_ca;      /* --tls-ca FILE: TLS, servers verified against this CA */
    const char *tls_name;    /* the name the servers' certificates must carry; NULL: the
                                     host of the first server */
    const char *inbox;       /* inbox prefix "_INBOX_<token>" for this host token; NULL: the
                                     library's "_INBOX" (the centre) */
    const char *name;        /* the client's name in the server's monitoring */
    int64_t connect_wait_ms; /* how long bus_connect waits for a first server; 0: 2000 */
    bus_diag_fn diag;
    void *diag_ctx;
    /* State changes (from the library's threads); may be NULL. */
    void (*on_state)(void *ctx, enum bus_state st);
    void *state_ctx;
};

struct bus_conn;

/* Connects; when no server answers within connect_wait_ms it returns the
 * connection anyway in BUS_CONNECTING and keeps trying in the background
 * with backoff (1 s doubling to 15 s, plus up to a quarter of jitter),
 * forever. Errors only for
 * what retrying cannot fix: a bad URL, an unreadable or too open credentials
 * file, an unreadable CA file (why says which). */
stoat_err bus_connect(const struct bus_opts *o, struct bus_conn **out, char *why, size_t whylen);
enum bus_state bus_conn_state(const struct bus_conn *c);
/* Waits until connected, up to ms; true when connected. */
bool bus_conn_wait(struct bus_conn *c, int64_t ms);
/* The server's URL now connected to ("" when none). */
void bus_conn_url(struct bus_conn *c, char *out, size_t outlen);
/* nats.c's objects, for what this layer does not wrap (the centre's pull
 * consumers): valid until bus_close. */
natsConnection *bus_nats(struct bus_conn *c);
jsCtx *bus_js(struct bus_conn *c);

/* Counters of the connection's life. */
struct bus_conn_stats {
    uint64_t disconnects, reconnects;
    uint64_t refused;       /* permission violations the server reported */
    char last_refused[256]; /* the last one, as the server said it */
};
void bus_conn_stats(struct bus_conn *c, struct bus_conn_stats *out);

/* The fleet's partition count: KV stoat_fleet key config.partitions (a
 * decimal number), BUS_DEFAULT_PARTITIONS when the bucket or key is absent.
 * Read with one direct get, so a host needs only that subject's permission.
 * STOAT_OK with *out set; an error when the server could not be asked
 * (disconnected, timeout, refused), with why. */
stoat_err bus_read_partitions(struct bus_conn *c, unsigned *out, char *why, size_t whylen);

/* ---- setup (`stoat fleet setup` calls it; tests too) ----
 *
 * Creates or updates the four streams (file storage, limits retention,
 * the duplicate window below; STOAT_HEALTH keeps 64 heartbeats per host)
 * and the two buckets (stoat_rules history 16, stoat_fleet history 1), and
 * when partitions is set writes it to stoat_fleet config.partitions.
 * Idempotent: an existing stream is updated to these settings; an existing
 * bucket is kept as it is. Consumers are the centre's (src/fleet). */
#define BUS_DUPLICATE_WINDOW_NS (20LL * 60 * 1000000000LL)
struct bus_setup_opts {
    int replicas;        /* 0: 1 */
    int64_t max_age_ns;  /* 0: unlimited */
    int64_t max_bytes;   /* per stream; 0: unlimited */
    unsigned partitions; /* 0: leave config.partitions as it is */
};
stoat_err bus_ensure_streams(struct bus_conn *c, const struct bus_setup_opts *o, char *why, size_t whylen);

/* Closes (buffered messages are flushed for up to a second). NULL is fine. */
void bus_close(struct bus_conn *c);

/* At the end of a program that connected: waits for nats.c's threads and
 * frees what the library holds (so leak checkers see nothing). */
void bus_shutdown(void);

/* Servers from a comma list (STOAT_NATS_URL's form): pointers into buf
 * (a copy of list); returns the count, at most max. */
size_t bus_split_servers(const char *list, char *buf, size_t buflen, const char **out, size_t max);

#endif
