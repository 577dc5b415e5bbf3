/* The bytes of an event batch on the wire, both ways: the publisher's
 * encoder and the centre's decoder (docs/fleet.md, "Messages").
 *
 * Why compress: an event is about 1 KB of JSON and the stream keeps three
 * replicas of every batch, so bytes, not messages, were what the cluster
 * spent its CPU on (bench/fleet_centre.sh: the NATS nodes used five times
 * the worker's CPU).
 *
 * Why zstd (level 1) rather than zlib, which batches used first: on a
 * host's JSON lines it is about ten times faster both ways (zlib's fastest
 * level cost the publisher 31 instructions a byte, a third of `stoat
 * publish`'s whole cost, and the centre 11,000 instructions an event to
 * inflate) and its window sees the fields events repeat, so a batch
 * shrinks about twenty to one instead of twelve: half the bytes for the
 * cluster to store three times.
 *
 * The format is versioned by one header, Stoat-Enc: absent means the
 * payload is the JSON lines themselves (every publisher before the header,
 * and a batch that would not shrink); "zlib" a zlib stream (RFC 1950) of
 * those lines (publishers before zstd; still read); "zstd" one zstd frame
 * (RFC 8878) that declares its content size and carries its checksum. The
 * decoder is hostile-input code: a payload that is damaged, truncated,
 * followed by other bytes, or would decode past BUS_BATCH_RAW_MAX is
 * refused with a sentence saying why and where; an encoding it does not
 * know is refused by name. It never parses the lines: it counts them, so
 * the caller can check them against the batch's Stoat-Count.
 *
 * Only zlib and zstd are needed here (no nats.c), so the fuzz harness links
 * it alone (tests/fuzz/fuzz_batch.c). */
#ifndef STOAT_BUS_BATCH_H
#define STOAT_BUS_BATCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"
#include "util/buf.h"

#define BUS_HDR_ENC       "Stoat-Enc" /* absent: JSON lines; "zstd" or "zlib": compressed lines */
#define BUS_ENC_ZSTD      "zstd"
#define BUS_ENC_ZLIB      "zlib"
#define BUS_BATCH_RAW_MAX (4u << 20)   /* the most a batch may decode to (publishers seal at 2 MiB) */
#define BUS_PIECE_BYTES   (768u << 10) /* lines that fit one message whatever they compress to */
#define BUS_MSG_FIT       (901u << 10) /* a payload up to this fits the server's 1 MiB messages */

/* The encoder's state, kept between batches by one thread: a compression
 * context (making one per batch costs as much as compressing a small
 * batch). All zero is ready; zlib: send the format before zstd (for a
 * test of the centre's reading of it). */
struct bus_batch_enc {
    void *zc; /* ZSTD_CCtx */
    bool zlib;
};

/* Compresses a batch's lines into out (cleared first). e may be NULL (a
 * context for this call only). Returns the encoding to put in Stoat-Enc,
 * or NULL when the batch goes as it is (compressed it would not be
 * smaller, or it is empty). */
const char *bus_batch_encode(struct bus_batch_enc *e, const char *raw, size_t len, struct buf *out);
void bus_batch_enc_free(struct bus_batch_enc *e);

struct bus_batch_view {
    const char *data; /* the JSON lines: the payload itself, or out's bytes */
    size_t len;
    uint64_t lines; /* non-empty lines (a last one without its newline counts) */
};

/* Decodes a payload under its Stoat-Enc value (NULL or "": none). out
 * holds decoded bytes and is the caller's to free. On an error the view
 * is empty and why says what was wrong (offset into the payload where it
 * is known). */
stoat_err bus_batch_decode(const char *enc, const char *payload, size_t plen, struct buf *out, struct bus_batch_view *v,
                           char *why, size_t whylen);

/* Non-empty lines in data (the decoder's count). */
uint64_t bus_batch_lines(const char *data, size_t len);

/* A batch whose compressed form would not fit one message goes as pieces:
 * whole lines up to BUS_PIECE_BYTES each (one longer line alone, at most
 * BUS_LINE_MAX). piece_end gives the end of the piece that starts at at;
 * pieces how many the lines make (at least 1). The cut depends on the
 * lines alone, so a batch resent from the spool is cut the same way. */
size_t bus_batch_piece_end(const char *data, size_t len, size_t at);
unsigned bus_batch_pieces(const char *data, size_t len);

#endif
