/* The bus's face: what a program (the stoat command) needs to join the
 * fleet on NATS JetStream: the names of its streams and buckets, a host's
 * subject token, a connection, the streams' setup, a publisher of a host's
 * events and alerts, and the rule bundles pushed to the fleet. The layer
 * itself is src/bus/ (bus.h there says why it is made as it is); what is
 * not here is its own. Names and subjects are the fleet's contract
 * (docs/fleet.md). */
#ifndef STOAT_BUS_H
#define STOAT_BUS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <nats/nats.h>

#include "stoat/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- names (fixed: server configs and scripts rely on them) ---- */

#define STOAT_BUS_STREAM_EVENTS "STOAT_EVENTS" /* stoat.ev.>   */
#define STOAT_BUS_STREAM_ALERTS "STOAT_ALERTS" /* stoat.al.>   */
#define STOAT_BUS_STREAM_HEALTH "STOAT_HEALTH" /* stoat.hb.>   */
#define STOAT_BUS_STREAM_FACTS  "STOAT_FACTS"  /* stoat.fact.> */
#define STOAT_BUS_KV_RULES      "stoat_rules"
#define STOAT_BUS_KV_FLEET      "stoat_fleet"
#define STOAT_BUS_VERSION_MAX   32 /* a rule bundle's version (16 hex digits) fits */

/* ---- subjects ---- */

/* A host name as one subject token: lower case, bytes outside [a-z0-9_-]
 * become '_', an empty name is "unknown"; a name longer than 64 bytes keeps
 * its first 55 and gets '-' and 8 hex digits of the FNV-1a hash of the whole
 * name, so the token is at most STOAT_BUS_TOKEN_MAX bytes. */
#define STOAT_BUS_TOKEN_MAX 64
size_t stoat_bus_host_token(const char *name, size_t len, char out[STOAT_BUS_TOKEN_MAX + 1]);

/* 32-bit FNV-1a. */
uint32_t stoat_bus_fnv1a(const void *p, size_t n);

/* ---- connection ---- */

enum stoat_bus_state {
    STOAT_BUS_CONNECTING = 0, /* no server answered yet; retrying */
    STOAT_BUS_CONNECTED = 1,
    STOAT_BUS_DISCONNECTED = 2, /* lost; reconnecting (forever) */
    STOAT_BUS_CLOSED = 3,
};

/* What the connection reports: errors (a refused subject, a lost server)
 * and notes (reconnected). Called from the library's threads. */
typedef void (*stoat_bus_diag_fn)(void *ctx, enum stoat_severity sev, const char *msg);

#define STOAT_BUS_MAX_SERVERS 32
struct stoat_bus_opts {
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
    int64_t connect_wait_ms; /* how long stoat_bus_connect waits for a first server; 0: 2000 */
    stoat_bus_diag_fn diag;
    void *diag_ctx;
    /* State changes (from the library's threads); may be NULL. */
    void (*on_state)(void *ctx, enum stoat_bus_state st);
    void *state_ctx;
};

struct stoat_bus_conn;

/* Connects; when no server answers within connect_wait_ms it returns the
 * connection anyway in STOAT_BUS_CONNECTING and keeps trying in the background
 * with backoff (1 s doubling to 15 s, plus up to a quarter of jitter),
 * forever. Errors only for
 * what retrying cannot fix: a bad URL, an unreadable or too open credentials
 * file, an unreadable CA file (why says which). */
stoat_err stoat_bus_connect(const struct stoat_bus_opts *o, struct stoat_bus_conn **out, char *why, size_t whylen);
/* Waits until connected, up to ms; true when connected. */
bool stoat_bus_conn_wait(struct stoat_bus_conn *c, int64_t ms);
/* nats.c's JetStream context, for what the layer does not wrap (`stoat
 * fleet status` reads the consumers): valid until stoat_bus_close. */
jsCtx *stoat_bus_js(struct stoat_bus_conn *c);

/* The fleet's partition count: KV stoat_fleet key config.partitions (a
 * decimal number), BUS_DEFAULT_PARTITIONS when the bucket or key is absent.
 * Read with one direct get, so a host needs only that subject's permission.
 * STOAT_OK with *out set; an error when the server could not be asked
 * (disconnected, timeout, refused), with why. */
stoat_err stoat_bus_read_partitions(struct stoat_bus_conn *c, unsigned *out, char *why, size_t whylen);

/* ---- setup (`stoat fleet setup` calls it; tests too) ----
 *
 * Creates or updates the four streams (file storage, limits retention,
 * the duplicate window below; STOAT_HEALTH keeps 64 heartbeats per host)
 * and the two buckets (stoat_rules history 16, stoat_fleet history 1), and
 * when partitions is set writes it to stoat_fleet config.partitions.
 * Idempotent: an existing stream is updated to these settings; an existing
 * bucket is kept as it is. Consumers are the centre's (src/fleet). */
struct stoat_bus_setup_opts {
    int replicas;        /* 0: 1 */
    int64_t max_age_ns;  /* 0: unlimited */
    int64_t max_bytes;   /* per stream; 0: unlimited */
    unsigned partitions; /* 0: leave config.partitions as it is */
};
stoat_err stoat_bus_ensure_streams(struct stoat_bus_conn *c, const struct stoat_bus_setup_opts *o, char *why,
                                   size_t whylen);

/* Closes (buffered messages are flushed for up to a second). NULL is fine. */
void stoat_bus_close(struct stoat_bus_conn *c);

/* At the end of a program that connected: waits for nats.c's threads and
 * frees what the library holds (so leak checkers see nothing). */
void stoat_bus_shutdown(void);

/* ---- the host side: a publisher of events and alerts (src/bus/publish.h
 * says how it works) ---- */

/* What the caller adds to a heartbeat; filled on the publisher thread. */
struct stoat_bus_hb_extra {
    double events_per_s;   /* <0: the publisher's own rate */
    uint64_t lost;         /* events the source could not deliver */
    char rule_version[64]; /* "" : "local" */
    char sensor_mode[64];  /* "" : none (stoat publish) */
};

struct stoat_bus_pub_opts {
    const char *agent;     /* this host's name: heartbeats, and events that name none */
    const char *role;      /* "watch" or "publish", in the heartbeat */
    const char *spool_dir; /* required */
    uint64_t spool_max;    /* bytes; 0: 1 GiB */
    double spool_rate;     /* events/s drained; 0: 5000 */
    unsigned max_pending;  /* batches awaiting acks; 0: 64 */
    unsigned queue;        /* sealed batches waiting for the thread; 0: 32 */
    bool block;            /* a full queue makes the caller wait (else: spool) */
    int64_t ack_wait_ms;   /* 0: 10000 */
    int64_t flush_ms;      /* the longest a batch stays open; 0: 200 */
    unsigned batch_events; /* 0: BUS_BATCH_EVENTS */
    size_t batch_bytes;    /* 0: BUS_BATCH_BYTES */
    bool zlib;             /* event batches as zlib (for a centre older than zstd), not zstd */
    int64_t heartbeat_ms;  /* 0: 10000; <0: none */
    void (*hb_extra)(void *ctx, struct stoat_bus_hb_extra *x);
    void *hb_ctx;
    stoat_bus_diag_fn diag; /* any thread */
    void *diag_ctx;
};

/* The spool's counts (src/bus/spool.h). */
struct stoat_bus_spool_stats {
    uint64_t bytes;           /* on disk now (headers included) */
    uint64_t batches, events; /* waiting (not yet handed out) */
    uint64_t written_batches, written_events;
    uint64_t dropped_batches, dropped_events; /* the oldest, past the cap */
    uint64_t damaged;                         /* records skipped as damaged */
    uint64_t found_batches, found_events;     /* left by an earlier run, at open */
    uint64_t segments;
};

struct stoat_bus_pub_stats {
    uint64_t events, alerts;              /* lines handed in */
    uint64_t batches;                     /* sealed */
    uint64_t published;                   /* publishes (resends included) */
    uint64_t acked_batches, acked_events; /* this run's, acknowledged by the stream (each once) */
    uint64_t acked_alerts;
    uint64_t duplicates;                      /* acks saying the stream had it already */
    uint64_t failed;                          /* publishes that failed or timed out (then spooled) */
    uint64_t spooled_batches, spooled_events; /* written to the spool (a batch may be more than once) */
    uint64_t overflow;                        /* batches a full queue sent to the spool */
    uint64_t resent;                          /* batches drained from the spool and published */
    uint64_t earlier_acked_events;            /* events of an earlier run's spool, acknowledged */
    uint64_t too_long;                        /* lines over BUS_LINE_MAX, not sent */
    uint64_t heartbeats;
    unsigned partitions;                /* 0 until known */
    struct stoat_bus_spool_stats spool; /* the spool's own counts */
};

struct stoat_bus_pub;

/* Opens the spool and starts the thread. The connection stays the
 * caller's and must outlive the publisher. */
stoat_err stoat_bus_pub_create(struct stoat_bus_conn *c, const struct stoat_bus_pub_opts *o, struct stoat_bus_pub **out,
                               char *why, size_t whylen);

/* The stoat_line_fn shape (include/stoat/sinks.h) of the two, ctx the
 * publisher: a sink of lines feeds them directly. */
stoat_err stoat_bus_pub_event_line(void *p, const char *host, const char *line, size_t len);
stoat_err stoat_bus_pub_alert_line(void *p, const char *host, const char *line, size_t len);

/* Flushes, then waits up to wait_ms until every batch is acknowledged and
 * the spool is empty (a final heartbeat says so); true when all are. The
 * thread keeps running: stoat_bus_pub_destroy stops it. */
bool stoat_bus_pub_finish(struct stoat_bus_pub *p, int64_t wait_ms);

void stoat_bus_pub_stats(struct stoat_bus_pub *p, struct stoat_bus_pub_stats *out);
/* Stops the thread (what is still queued or awaiting acks goes to the
 * spool, for the next run) and frees. NULL is fine. */
void stoat_bus_pub_destroy(struct stoat_bus_pub *p);

/* ---- rule bundles pushed to stoat_rules (src/bus/rules.h) ---- */

struct stoat_bus_rules_watch;

stoat_err stoat_bus_rules_watch_start(struct stoat_bus_conn *c, struct stoat_bus_rules_watch **out, char *why,
                                      size_t whylen);
/* The newest version `current` named since the last call; true (and the
 * version in out) when it is new. */
bool stoat_bus_rules_watch_changed(struct stoat_bus_rules_watch *w, char *out, size_t outlen);
/* NULL is fine. */
void stoat_bus_rules_watch_stop(struct stoat_bus_rules_watch *w);

/* The current bundle's files, unpacked under dir (created, 0700; it must
 * not hold files of the same names), and its version; version "" and
 * nothing written when none was pushed yet. */
stoat_err stoat_bus_rules_fetch(struct stoat_bus_conn *c, const char *dir, char *version, size_t vlen, char *why,
                                size_t whylen);

#ifdef __cplusplus
}
#endif

#endif
