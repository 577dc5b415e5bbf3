/* The bus source of the pipeline (units.h): batches of events that came
 * over the fleet's bus, each the JSON lines `stoat dump` writes, become
 * units for the match workers, read by the ordinary JSON reader, so every
 * field rules see at the host they see at the centre.
 *
 * It knows nothing of NATS: the caller (the fleet's centre) hands it a
 * batch's bytes in a bus_input of its own, and is told, on the writer's
 * thread, when everything the batch's events raised has gone to the
 * consumer and its sinks (done), which is when the centre may mark the
 * batch stored, commit and acknowledge it. */
#ifndef STOAT_PIPELINE_SOURCE_BUS_H
#define STOAT_PIPELINE_SOURCE_BUS_H

#include <stddef.h>

#include "pipeline/units.h"

struct bus_input {
    struct input_file file; /* first: the writer hands it back */
    /* The batch is through the consumer (writer's thread). */
    void (*done)(void *ctx, struct bus_input *in);
    void *ctx;
};

/* Sends the batch's lines (at most RECORD_MAX_BYTES a line) as units; in
 * must live until done. in->file.name names the batch in diagnostics. */
void source_bus_send(struct units *u, struct bus_input *in, const char *data, size_t len);
/* units_opts.release for bus batches. */
void source_bus_release(void *ctx, struct input_file *f);

#endif
