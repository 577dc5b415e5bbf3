/* An incident's alerts a page at a time, and grouped (incident.c). */
#ifndef STOAT_STORE_INCIDENT_H
#define STOAT_STORE_INCIDENT_H

#include "store/store_int.h"

#define STOAT_INCIDENT_GROUPS_MAX_S "300" /* rule-and-tree groups listed; the largest first */

/* Appends "alerts":[page],"tree":[their ancestries],"offset","limit","total","next". */
int store_incident_page(struct stoat_store *s, struct buf *b, int64_t id, int64_t host, unsigned offset,
                        unsigned limit);
/* Appends "by_rule":[every rule: alerts, span, trees], "groups":[the largest
 * groups by rule and top of the process tree]. */
int store_incident_groups(struct stoat_store *s, struct buf *b, int64_t id);
/* "by_host": a fleet incident's alerts counted per host, in the order they came. */
int store_incident_by_host(struct stoat_store *s, struct buf *b, int64_t id);

#endif
