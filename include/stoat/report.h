/* The report: one self-contained HTML file made from a store, for reading
 * offline and handing on. Everything (styles, code, data) is inside the
 * file; it makes no network request. */
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
    uint64_t max_alerts;       /* the newest N alerts (0 = all), plus every alert of an incident */
    const char *title;         /* shown as the source; NULL = the store's file name */
};

struct stoat_report_stats {
    uint64_t alerts, incidents, events, processes, bytes;
};

stoat_err stoat_report_write(struct stoat_store *s, const struct stoat_report_opts *opts, FILE *out,
                             struct stoat_report_stats *stats);

#ifdef __cplusplus
}
#endif
#endif
