/* The host side of the fleet: events and alerts, as JSON lines, into
 * JetStream.
 *
 *   caller (sensor loop, a hunt's writer)            publisher thread               nats.c thread
 *   bus_pub_event --> open batch per (host, kind) --> queue --> js_PublishMsgAsync --> acks
 *                     sealed at 2,000 lines/2 MiB      |  \                            | failure,
 *                     or 200 ms after its first line   |   spool <-- connection down --+ timeout
 *                                                      |   spool --> drained at --spool-rate
 *                                                      +-- heartbeat every 10 s
 *
 * Why a thread and a queue: the caller never waits for the network. It only
 * copies a line into a batch; sealed batches go to a bounded queue that the
 * publisher thread sends. When the queue is full the caller either waits
 * (block: `stoat publish`, which has nothing better to do) or writes the
 * batch to the spool itself and counts it (`stoat watch`, whose sensor must
 * not stall). Event batches go out compressed (bus/batch.h: zstd on the
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

/* Why event batches are this large: the nodes of an R3 cluster pay for
 * every message (replication, acks, the consumer's delivery and ack) more
 * than for its bytes once compressed (~100 KiB a batch). In one pair of
 * runs of bench/fleet_centre.sh (centre alone, load 6) 400 messages of up
 * to 768 KiB of lines cost the nodes 7.7 us of CPU an event, 160 of up to
 * 2 MiB 5.9. Alert batches go plain and stay at BUS_PIECE_BYTES; an event
 * batch that does not compress goes as pieces of that size (send_batch). */
#define BUS_BATCH_EVENTS 2000
#define BUS_BATCH_BYTES  (2u << 20)   /* of lines; the message is zstd (bus/batch.h), or pieces if it would not fit */
#define BUS_LINE_MAX     (900u << 10) /* a longer line cannot travel (1 MiB messages) */
#define BUS_OPEN_BYTES   (64u << 20)  /* open batches' lines, all hosts: past it the oldest is sealed */

/* One event: a JSON object on one line (a trailing newline is kept, one is
 * added when missing), of host (NULL or empty: the agent). Never waits for
 * the network (with block, it may wait for the publisher's queue). */
void bus_pub_event(struct stoat_bus_pub *p, const char *host, size_t hlen, const char *line, size_t len);
/* One alert (stoat.al.<host>), the same way. */
void bus_pub_alert(struct stoat_bus_pub *p, const char *host, size_t hlen, const char *line, size_t len);

/* Seals every open batch. */
void bus_pub_flush(struct stoat_bus_pub *p);

/* The run id (16 hex digits). */
const char *bus_pub_run(const struct stoat_bus_pub *p);

#endif
