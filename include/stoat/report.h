/* The report: one self-contained HTML file made from a store, for reading
 * offline and handing on. Everything (styles, code, data) is inside the
 * file; it makes no network request. It reads the store through the
 * store's export (stoat_store_export). */
#ifndef STOAT_REPORT_H
#define STOAT_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include "stoat/error.h"
#include "stoat/store.h"

#ifdef __cplusplus
extern "C" {
#endif

struct stoat_report_opts {
    uint64_t max_alerts; /* the newest N alerts (0 = all), plus every alert of an incident */
    const char *title;   /* shown as the source; NULL = the store's file name */
    stoat_diag_fn diag;  /* why a report could not be written (may be NULL) */
    void *diag_ctx;
};

struct stoat_report_stats {
    uint64_t alerts, incidents, events, processes, bytes;
};

/* Writes the report of s to out; on failure opts->diag has said why. */
stoat_err stoat_report_write(struct stoat_store *s, const struct stoat_report_opts *opts, FILE *out,
                             struct stoat_report_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
