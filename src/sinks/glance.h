/* The fields of an event worth a glance, in the order an analyst reads them
 * ("Image: ... | CommandLine: ... | ParentImage: ..."), shared by the table
 * and by the evidence a correlation's alert carries. */
#ifndef STOAT_SINKS_GLANCE_H
#define STOAT_SINKS_GLANCE_H

#include <stddef.h>

#include "stoat/alert.h"
#include "util/buf.h"

/* Appends at most about maxlen bytes (cut with "..."); line breaks and tabs
 * become spaces. */
void sink_glance(struct buf *b, const struct stoat_field *fields, size_t n, size_t maxlen);

#endif
