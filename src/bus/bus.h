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

#include "stoat/bus.h"
#include "stoat/error.h"

/* ---- names (fixed: server configs and scripts rely on them; the streams
 * and buckets are in stoat/bus.h) ---- */

#define BUS_DUPLICATE_WINDOW_NS (20LL * 60 * 1000000000LL)
#define BUS_KEY_PARTITIONS      "config.partitions"
#define BUS_DEFAULT_PARTITIONS  16u
#define BUS_MAX_PARTITIONS      4096u
#define BUS_DEFAULT_URL         "nats://127.0.0.1:4222"

/* Headers every event and alert batch carries. */
#define BUS_HDR_MSG_ID "Nats-Msg-Id" /* <token>:<run>:<seq> */
#define BUS_HDR_HOST   "Stoat-Host"  /* the host name as the events give it */
#define BUS_HDR_RUN    "Stoat-Run"   /* 16 hex digits, new per publishing process */
#define BUS_HDR_SEQ    "Stoat-Seq"   /* 1, 2, ... per (host, run, kind) */
#define BUS_HDR_COUNT  "Stoat-Count" /* events (or alerts) in the payload */
#define BUS_HDR_SPAN   "Stoat-Span"  /* absent: 1; n: the batch stands for Stoat-Seq .. +n-1 (publish.c) */
#define BUS_SPAN_MAX   64u           /* a span past it is read as 1 */
#define BUS_HDR_SENT   "Stoat-Sent"  /* RFC 3339 UTC with ms: when the batch was sealed */

/* ---- subjects ---- */

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

const char *bus_state_name(enum stoat_bus_state s);

enum stoat_bus_state bus_conn_state(const struct stoat_bus_conn *c);
/* The server's URL now connected to ("" when none). */
void bus_conn_url(struct stoat_bus_conn *c, char *out, size_t outlen);
/* nats.c's objects, for what this layer does not wrap (the centre's pull
 * consumers): valid until stoat_bus_close. */
natsConnection *bus_nats(struct stoat_bus_conn *c);

/* Counters of the connection's life. */
struct bus_conn_stats {
    uint64_t disconnects, reconnects;
    uint64_t refused;       /* permission violations the server reported */
    char last_refused[256]; /* the last one, as the server said it */
};
void bus_conn_stats(struct stoat_bus_conn *c, struct bus_conn_stats *out);

/* Servers from a comma list (STOAT_NATS_URL's form): pointers into buf
 * (a copy of list); returns the count, at most max. */
size_t bus_split_servers(const char *list, char *buf, size_t buflen, const char **out, size_t max);

#endif
