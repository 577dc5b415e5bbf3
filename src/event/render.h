/* An event written out, the same wherever it is shown or kept:
 * - as one JSON object (the sinks' "event", the store's event records, what
 *   `stoat dump` writes and a later reader takes back), values keeping their
 *   type and a repeated name becoming a list of its values;
 * - as the fields worth a glance, in the order an analyst reads them
 *   ("Image: ... | CommandLine: ... | ParentImage: ..."), for the table and
 *   for the evidence a correlation's alert carries.
 * It is about the event model only, so the sinks, the store and the
 * behaviour stage (none of which may include another) all use it. */
#ifndef STOAT_EVENT_RENDER_H
#define STOAT_EVENT_RENDER_H

#include <stdbool.h>
#include <stddef.h>

#include "stoat/event.h"
#include "util/buf.h"

/* Appends the object {"name":value,...}. */
void event_json_write(struct buf *b, const struct stoat_field *fields, size_t n);
/* The same when the caller knows that no two fields share a name (it
 * spares the check). */
void event_json_write_distinct(struct buf *b, const struct stoat_field *fields, size_t n);
/* The same from a producer's fields (event/event.h), where a string may
 * carry its escaped form as the input had it (ev_field.raw_len): copied
 * rather than escaped again, the same bytes. */
struct ev_field;
void event_json_write_fields_distinct(struct buf *b, const struct ev_field *fields, size_t n);
/* True when no two fields share a name (false also for more than 128
 * fields: then event_json_write checks them pairwise). */
bool event_names_unique(const struct stoat_field *fields, size_t n);

/* Appends at most about maxlen bytes (cut with "..."); line breaks and tabs
 * become spaces. */
void event_glance(struct buf *b, const struct stoat_field *fields, size_t n, size_t maxlen);

#endif
