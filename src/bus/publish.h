/* The host side of the fleet: events and alerts, as JSON lines, into
 * JetStream.
 *
 *   caller (sensor loop, a hunt's writer)            publisher thread               nats.c thread
 *   bus_pub_event --> open batch per (host, kind) --> queue --> js_PublishMsgAsync --> acks
 *                     sealed at 1,000 lines/768 KiB    |  \                            | failure,
 *                     or 200 ms after its first line   |   spool <-- connection down --+ timeout
 *                                                      |   spool --> drained at --spool-rate
 *                                                      +-- heartbeat every 10 s
 *
 * Why a thread and a queue: the caller never waits for the network. It only
 * copies a line into a batch; sealed batches go to a bounded queue that the
 * publisher thread sends. When the queue is full the caller either waits
 * (block: `stoat publish`, which has nothing better to do) or writes the
 * batch to the spool itself and counts it (`stoat watch`, whose sensor must
 * not stall). Event batches go out compressed (bus/batch.h: zlib on the
 * publisher thread, so the caller pays nothing; the spool keeps the
 * lines). Batches are sent with asynchronous publishes, at most
 * max_pending awaiting their acks; a batch whose ack says failure, or does
 * not come within ack_wait_ms, goes to the spool, and so does every batch
 * while the connection is down. The spool drains oldest first, at most
 * spool_rate events a second and at most half of max_pending at a time,
 * while live batches keep going first. One lock guards the publisher's
 * state; the network calls are made outside it.
 *
 * Message ids are <token>:<run>:<seq>, seq counting per (host, run, kind)
 * from 1, so that the centre's record of what it has stored stays a few
 * intervals per host and run; a batch keeps its id through every resend.
 *
 * Every count is exact and nothing is dropped silently: what the spool had
 * to drop past its cap is counted in events and batches, said on the diag
 * callback, in the heartbeat and in the stats. */
#ifndef STOAT_BUS_PUBLISH_H
#define STOAT_BUS_PUBLISH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus/bus.h"
#include "bus/spool.h"

#define BUS_BATCH_EVENTS 1000
#define BUS_BATCH_BYTES  (768u << 10) /* of lines; the message is zlib (bus/batch.h), or these if not smaller */
#define BUS_LINE_MAX     (900u << 10) /* a longer line cannot travel (1 MiB messages) */

/* What the caller adds to a heartbeat; filled on the publisher thread. */
struct bus_hb_extra {
    double events_per_s;   /* <0: the publisher's own rate */
    uint64_t lost;         /* events the source could not deliver */
    char rule_version[64]; /* "" : "local" */
    char sensor_mode[64];  /* "" : none (stoat publish) */
};

struct bus_pub_opts {
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
    int64_t heartbeat_ms;  /* 0: 10000; <0: none */
    void (*hb_extra)(void *ctx, struct bus_hb_extra *x);
    void *hb_ctx;
    bus_diag_fn diag; /* any thread */
    void *diag_ctx;
};

struct bus_pub_stats {
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
    unsigned partitions;      /* 0 until known */
    struct spool_stats spool; /* the spool's own counts */
};

struct bus_pub;

/* Opens the spool and starts the thread. The connection stays the
 * caller's and must outlive the publisher. */
stoat_err bus_pub_create(struct bus_conn *c, const struct bus_pub_opts *o, struct bus_pub **out, char *why,
                         size_t whylen);

/* One event: a JSON object on one line (a trailing newline is kept, one is
 * added when missing), of host (NULL or empty: the agent). Never waits for
 * the network (with block, it may wait for the publisher's queue). */
void bus_pub_event(struct bus_pub *p, const char *host, size_t hlen, const char *line, size_t len);
/* One alert (stoat.al.<host>), the same way. */
void bus_pub_alert(struct bus_pub *p, const char *host, size_t hlen, const char *line, size_t len);
/* The stoat_line_fn shape (include/stoat/sinks.h) of the two, ctx the
 * publisher: a sink of lines feeds them directly. */
stoat_err bus_pub_event_line(void *p, const char *host, const char *line, size_t len);
stoat_err bus_pub_alert_line(void *p, const char *host, const char *line, size_t len);

/* Seals every open batch. */
void bus_pub_flush(struct bus_pub *p);
/* Flushes, then waits up to wait_ms until every batch is acknowledged and
 * the spool is empty (a final heartbeat says so); true when all are. The
 * thread keeps running: bus_pub_destroy stops it. */
bool bus_pub_finish(struct bus_pub *p, int64_t wait_ms);

void bus_pub_stats(struct bus_pub *p, struct bus_pub_stats *out);
/* The run id (16 hex digits). */
const char *bus_pub_run(const struct bus_pub *p);
/* Stops the thread (what is still queued or awaiting acks goes to the
 * spool, for the next run) and frees. NULL is fine. */
void bus_pub_destroy(struct bus_pub *p);

#endif
