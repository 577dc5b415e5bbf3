/* The output formats that ship with stoat, as hunt sinks.
 *
 * jsonl:   one JSON object per alert, "kind": "alert" (later kinds join it).
 * csv:     a timeline, one row per alert, sorted by event time.
 * table:   one readable line per alert, for a terminal.
 * summary: counts by level, rule and host, printed when the hunt ends.
 * Each constructor fills a stoat_sink that stoat_hunt_add_sink takes over;
 * the FILE stays the caller's. */
#ifndef STOAT_SINKS_H
#define STOAT_SINKS_H

#include <stdbool.h>
#include <stdio.h>

#include "stoat/alert.h"

#ifdef __cplusplus
extern "C" {
#endif

void stoat_sink_jsonl(FILE *out, struct stoat_sink *sink);
/* The same lines written straight to out's descriptor in blocks of
 * block_bytes (0: 1 MiB), not through its buffer: each written once, not
 * copied there first. What out holds when a block is written goes before
 * it; the caller writes nothing to out between the sink's lines and its
 * end, which writes the last block. A stream without a descriptor is
 * written as stoat_sink_jsonl writes it. */
void stoat_sink_jsonl_blocks(FILE *out, size_t block_bytes, struct stoat_sink *sink);
void stoat_sink_csv(FILE *out, struct stoat_sink *sink);
void stoat_sink_table(FILE *out, bool color, struct stoat_sink *sink);
/* Every event as one JSON object (its source and flattened fields), for
 * `stoat dump`; needs stoat_hunt_opts.all_events. */
void stoat_sink_dump(FILE *out, struct stoat_sink *sink);

/* The same lines handed to fn instead of written to a file (the fleet's
 * publisher): with events, every event as stoat_sink_dump writes it (needs
 * all_events); else every alert and incident as stoat_sink_jsonl writes
 * them. host is the record's host (NULL when none); the line ends in '\n'
 * and is valid only during the call. */
typedef stoat_err (*stoat_line_fn)(void *ctx, const char *host, const char *line, size_t len);
void stoat_sink_lines(stoat_line_fn fn, void *ctx, bool events, struct stoat_sink *sink);

/* One line per alert and incident to the local syslog (facility authpriv). */
void stoat_sink_syslog(const char *ident, struct stoat_sink *sink);

struct stoat_summary_opts {
    bool color;
    unsigned top_rules;                  /* rows of the rule table; 0 = 15 */
    unsigned top_hosts;                  /* 0 = 10 */
    const struct stoat_load_stats *load; /* printed when given */
};
void stoat_sink_summary(FILE *out, const struct stoat_summary_opts *opts, struct stoat_sink *sink);

#ifdef __cplusplus
}
#endif
#endif
