/* The site's own Sysmon configuration as detections.
 *
 * The community Sysmon configurations name the ATT&CK technique each of
 * their include rules stands for in the event's RuleName
 * ("technique_id=T1055,technique_name=Process Injection"): an event logged
 * under such a rule is the site's own detection. A hidden generated rule
 * (sources.c) hands those events to behaviour, which reports each as an
 * alert of the technique it names. A Sigma rule cannot take its tags from
 * the event, so the rule an alert points at is made here, one per technique
 * on first sight, and kept as long as behaviour runs: alerts, chains and the
 * store refer to rules by pointer. */
#ifndef STOAT_BEHAVIOUR_SYSMON_TAGS_H
#define STOAT_BEHAVIOUR_SYSMON_TAGS_H

#include <stddef.h>

#include "stoat/rules.h"

/* Fixed id of the generated rule (see jewels.h for why). */
#define SYSMON_TAG_RULE "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a10"

/* At most this many techniques get a rule of their own; events naming
 * others are counted and not reported (ATT&CK has some 800). */
#define SYSMON_TAGS_MAX 2048

struct sysmon_tags;

/* level: of the alerts raised (STOAT_LEVEL_NONE: medium). */
struct sysmon_tags *sysmon_tags_create(enum stoat_level level);
void sysmon_tags_destroy(struct sysmon_tags *t); /* accepts NULL */

/* The rule to report an event with this RuleName as, or NULL when the name
 * carries no well-formed technique id (or the table is full). */
const struct stoat_rule_meta *sysmon_tags_rule(struct sysmon_tags *t, const char *rule_name, size_t len);

/* Events that named a technique past SYSMON_TAGS_MAX. */
size_t sysmon_tags_dropped(const struct sysmon_tags *t);

/* The generated rule: Sysmon events whose RuleName names a technique. */
const char *sysmon_tags_rules(void);

#endif
