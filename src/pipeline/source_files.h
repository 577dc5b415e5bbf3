/* The files source of the offline pipeline (units.h): what `stoat hunt`
 * and `stoat dump` read. Paths, folders walked recursively and "-" for
 * standard input become units for the workers, each file read by the reader
 * its content calls for. */
#ifndef STOAT_PIPELINE_SOURCE_FILES_H
#define STOAT_PIPELINE_SOURCE_FILES_H

#include <stdbool.h>
#include <stdint.h>

#include "pipeline/units.h"

struct files_source {
    struct units *units;
    struct stoat_hunt_stats *stats; /* files, failed, skipped, bytes */
    stoat_diag_fn diag;
    void *diag_ctx;
    void (*progress)(void *ctx, uint64_t bytes_done, uint64_t bytes_total);
    void *progress_ctx;
    const char *host; /* for logs that name none */
    /* its own */
    bool in_dir;           /* unknown formats inside folders are notes */
    uint64_t bytes_before; /* bytes of finished inputs */
};

void source_files_run(struct files_source *s, const char *const *paths, size_t npaths);
/* units_opts.release for its files. */
void source_files_release(void *ctx, struct input_file *f);

#endif
