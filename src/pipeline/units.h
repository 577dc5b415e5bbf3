/* The stages between a source of units and the serial stage, as `stoat hunt`
 * runs them and as the next pipeline, the fleet's consumer, will:
 *
 *   source --units--> N match workers --units+records--> ordered writer --> consumer --> sinks
 *   (caller's thread)  (unit_parse, records.c)            (unit_write)       (consume.c)
 *
 * A source is whatever turns its inputs into units (readers/reader.h) on the
 * caller's thread: files and folders (source_files.h) today, bus messages
 * next; it needs nothing but this header. It takes a free unit with
 * units_take, which waits while every unit of the fixed pool is out (so
 * memory is bounded by the pool, whatever the input size), fills it as a
 * reader's fill does (bytes, or a mapped part; u->file names the input and
 * the reader whose parse runs on a worker), and hands it on with units_send.
 * The writer takes units back strictly in the order they were sent, so
 * alerts come out in input order whatever the thread count; it is a role
 * the workers take in turn (one at a time), not a thread of its own. The source marks
 * a file's last unit (u->last); once the writer has written it, the file
 * goes back to the source's release. With one thread everything runs inline,
 * without queues. */
#ifndef STOAT_PIPELINE_UNITS_H
#define STOAT_PIPELINE_UNITS_H

#include <stdbool.h>

#include "readers/reader.h"
#include "stoat/alert.h"

struct consumer;

struct units_opts {
    unsigned threads; /* >= 1; 1 runs inline */
    enum stoat_level min_level;
    bool all_events;    /* every event goes to the consumer, matched or not */
    stoat_diag_fn diag; /* bad records and notes of the units */
    void *diag_ctx;
    /* The source's: the writer is through with f (its last unit was
     * written). Called by whichever worker writes, one at a time. */
    void (*release)(void *ctx, struct input_file *f);
    void *release_ctx;
};

struct units;

/* Starts the workers; the writer hands what it reads to con and
 * counts records, events and skipped records in stats. */
struct units *units_start(const struct stoat_ruleset *rs, const struct units_opts *o, struct consumer *con,
                          struct stoat_hunt_stats *stats);
/* A free unit, reset (waits for one). */
struct unit *units_take(struct units *p);
/* To the workers, and in this order to the writer. */
void units_send(struct units *p, struct unit *u);
/* Waits until every unit sent is written, stops the threads, adds the
 * workers' counts (unrouted, evaluated, candidates) to stats and frees. */
void units_finish(struct units *p);

#endif
