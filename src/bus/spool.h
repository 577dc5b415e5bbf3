/* The publisher's spool: batches that could not go to the bus now (the
 * connection is down, the acks are at their cap, a publish failed or timed
 * out), kept on disk in a bounded folder until they can.
 *
 * Why segments of records rather than a file per batch or a database: a
 * batch is written once, read once, oldest first, and dropped oldest first
 * when the cap is reached, which is what appending to numbered files and
 * deleting the oldest file does, with a write() per batch and no index to
 * keep consistent. A record carries everything a resend needs (the host, the
 * kind, the message id, the count, the time it was sealed and the payload),
 * so a batch resent after any outage, or by the next run of the publisher,
 * has the same message id and the stream drops what it already holds. The
 * subject is not kept: it is worked out at sending time from the host and
 * the partition count the fleet has then.
 *
 * Past the cap the oldest whole SEGMENT goes (a segment is about a 32nd of
 * the cap, so at most that much more than strictly needed): its batches not
 * yet handed out are counted as dropped, exactly, from the counts kept per
 * segment. A write is one write() per batch, synced (fdatasync) when a
 * segment is closed and at spool_close: a crash of the machine may lose the
 * batches of the open segment since its last sync, a crash of stoat none.
 *
 * Format (docs/fleet.md has it too), little-endian, CRC-32 of zlib:
 *   segment "seg-<16 hex>.spool": "STOATSPL" u32 version(1) u32 0
 *   record:  u32 magic "SREC"  u32 body_len  u32 crc32(body)
 *   body:    u8 kind  u8 0  u16 host_len  u16 id_len  u16 0  u32 count
 *            i64 sealed_ns  host  id  payload
 * Reading is hostile-input code: lengths are capped, the CRC is checked, a
 * damaged record is reported (file, offset, reason) and skipped by looking
 * for the next magic whose record checks out; a record cut short by a crash
 * ends its segment.
 *
 * Thread-safe: every call takes the spool's lock. */
#ifndef STOAT_BUS_SPOOL_H
#define STOAT_BUS_SPOOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/bus.h"
#include "stoat/error.h"
#include "util/buf.h"

enum bus_kind {
    BUS_KIND_EVENTS = 1,
    BUS_KIND_ALERTS = 2
};

#define SPOOL_RECORD_MAX (8u << 20) /* body bytes */
#define SPOOL_HOST_MAX   255
#define SPOOL_ID_MAX     200
#define SPOOL_COUNT_MAX  10000000u

struct spool_rec {
    uint8_t kind;      /* enum bus_kind */
    uint32_t count;    /* events or alerts in the payload, >= 1 */
    int64_t sealed_ns; /* when the batch was sealed (wall clock) */
    const char *host;  /* as the events name it */
    size_t host_len;
    const char *id; /* Nats-Msg-Id */
    size_t id_len;
    const char *payload;
    size_t len;
};

/* What spool_next hands out: a record whose strings point into the
 * caller's buffer, and the segment it came from (for spool_done). */
struct spool_item {
    struct spool_rec rec;
    uint64_t segment;
};

struct spool_opts {
    const char *dir;        /* created (0700) when absent */
    uint64_t max_bytes;     /* the cap on the segments' bytes; 0: 1 GiB */
    uint64_t segment_bytes; /* 0: max_bytes / 32, between 64 KiB and 32 MiB */
    /* Damaged records, dropped batches (severity, message); any thread. */
    void (*diag)(void *ctx, enum stoat_severity sev, const char *msg);
    void *diag_ctx;
};

struct spool;

/* Opens the folder, taking over the segments an earlier run left (their
 * records are counted from the headers; payloads are checked when read).
 * Fails when the folder cannot be made or written (why says so), or when
 * another process holds it (an advisory lock on "lock"). */
stoat_err spool_open(const struct spool_opts *o, struct spool **out, char *why, size_t whylen);

/* Appends one batch; past the cap the oldest batches are dropped first
 * (counted, reported). A batch bigger than the cap is itself dropped.
 * STOAT_ERR_IO when the disk refused (the batch is lost: counted as dropped
 * and reported). */
stoat_err spool_append(struct spool *s, const struct spool_rec *r);

/* The oldest batch not yet handed out, into it (strings point into store).
 * 1: one; 0: none waiting. Damaged records are skipped (reported). */
int spool_next(struct spool *s, struct spool_item *it, struct buf *store);

/* A batch spool_next handed out is settled (acknowledged, or appended
 * again): once every batch of a fully read segment is, the segment goes. */
void spool_done(struct spool *s, uint64_t segment);

void spool_stats(struct spool *s, struct stoat_bus_spool_stats *out);
/* Flushes to the disk (fdatasync) and closes. NULL is fine. */
void spool_close(struct spool *s);

/* ---- the record format alone, for tests and the fuzzer ---- */

/* Appends a record's bytes (header and body) to b. */
void spool_encode(struct buf *b, const struct spool_rec *r);
/* Decodes the record at p[0..n): its size (> 0), 0 when n is too short for
 * the record its header announces, -1 when it is damaged (why says how). */
long spool_decode(const unsigned char *p, size_t n, struct spool_rec *r, char *why, size_t whylen);

#endif
