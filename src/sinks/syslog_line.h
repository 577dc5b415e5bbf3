/* The text of the syslog sink's lines, apart from syslog(3) so that what an
 * event can put into a log line is testable. One line per alert or incident,
 * "alert 12 key=value ...": numbers and stoat's own words bare, every string
 * from outside quoted and escaped by buf_visible (quotes, backslashes and
 * control characters; spaces are safe inside the quotes), "-" bare when
 * absent; times RFC 3339 UTC. */
#ifndef STOAT_SINKS_SYSLOG_LINE_H
#define STOAT_SINKS_SYSLOG_LINE_H

#include "stoat/alert.h"
#include "util/buf.h"

void syslog_alert_line(struct buf *b, const struct stoat_alert *a);
void syslog_incident_line(struct buf *b, const struct stoat_incident *inc);

#endif
