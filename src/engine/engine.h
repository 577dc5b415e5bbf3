/* The per-thread matching context: run time only.
 *
 * A context holds one event at a time (event/event.h): its fields, and the
 * scratch arena its decoded values live in, reset (not freed) per event. A
 * generation-stamped index turns "the value of field 17" into one array read,
 * so the match loop never hashes a string. A context belongs to one thread;
 * the ruleset it reads (built by rules/, immutable) is shared. */
#ifndef STOAT_ENGINE_ENGINE_H
#define STOAT_ENGINE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/ruleset.h"
#include "stoat/rules.h"
#include "event/event.h"
#include "util/buf.h"

struct engine_ctx;

struct engine_ctx *engine_ctx_create(const struct stoat_ruleset *rs);
void engine_ctx_destroy(struct engine_ctx *c);

/* Starts a new event: forgets the previous one and resets the scratch. */
void engine_event_begin(struct engine_ctx *c);
/* Per-event memory for decoded values; valid until the next begin. */
char *engine_scratch(struct engine_ctx *c, size_t n);
/* Adds a field; false when the event already has EVENT_MAX_FIELDS. */
bool engine_event_add(struct engine_ctx *c, const char *name, uint32_t name_len, uint32_t id, const char *val,
                      uint32_t val_len, uint8_t type);
/* Adds all of a new event's fields at once (made by ev_field_set): the
 * engine reads fs in place, and may write into it, until the next begin.
 * Fields added before are kept, fs's after them. */
void engine_event_take(struct engine_ctx *c, struct ev_field *fs, uint32_t n);
/* The product of the event's source when its channel is not in the mapping. */
void engine_event_product(struct engine_ctx *c, const char *product);
/* Resolves a field name to its id (FIELD_UNKNOWN when no rule knows it). */
uint32_t engine_field_id(const struct engine_ctx *c, const char *name, size_t len);

/* Runs the rules of the event's logsource; returns how many matched and
 * points *rules at their indexes (valid until the next begin). An index with
 * ENGINE_DEFERRED set is a rule that reads Ancestors and may match: the
 * writer decides it with engine_eval_rule once it knows the ancestry. */
#define ENGINE_DEFERRED 0x80000000u
size_t engine_event_match(struct engine_ctx *c, const uint32_t **rules);

/* Evaluates one rule on the current event, as its logsource sees it (the
 * writer, for rules that read Ancestors). */
bool engine_eval_rule(struct engine_ctx *c, uint32_t rule);

/* After engine_event_match: the process start/end spec of the event's kind
 * (index into the ruleset's procs), or -1. */
int engine_event_procspec(const struct engine_ctx *c);

/* The current event, for output. */
size_t engine_event_fields(const struct engine_ctx *c, const struct ev_field **fields);
/* First value of a field id, or NULL. */
const struct ev_field *engine_event_get(const struct engine_ctx *c, uint32_t id);

struct engine_counters {
    uint64_t events;
    uint64_t unrouted;      /* events whose source no loaded rule reads */
    uint64_t evaluated;     /* rule evaluations (after the prefilter) */
    uint64_t candidates;    /* rules of the events' logsources (before the prefilter) */
    uint64_t regex_limited; /* evaluations where a regex hit a limit (counted as no match) */
    uint64_t byte_gated;    /* of the evaluations, those an ungated rule's byte gate ended */
    uint64_t field_scans;   /* scans of field databases (not keyword ones) */
    uint64_t scans_memo;    /* of those, answered from the scan memo */
    uint64_t scans_ahead;   /* of those, with the memo's lookup asked for ahead */
};
void engine_counters(const struct engine_ctx *c, struct engine_counters *out);

/* The limits a regular expression runs under, per value it is tried on:
 * backtracking steps (what JIT code and the interpreter both count: about
 * 0.3 ms of a pathological pattern), the interpreter's backtracking depth
 * and heap, and the JIT code's stack. Every SigmaHQ rule on the shared
 * EVTX logs needs at most 5,000 steps for a value (measured by lowering the
 * limit until evaluations hit it): a twentieth of this. */
#define ENGINE_RE_MATCH_LIMIT 100000u
#define ENGINE_RE_DEPTH_LIMIT 100000u
#define ENGINE_RE_HEAP_KIB    (32u * 1024)
#define ENGINE_RE_JIT_STACK   (1u << 20)

/* Adds c's evaluations stopped by a regex limit, per rule index, into *sum
 * (allocated, nrules entries, when c has some and *sum is NULL). */
void engine_regex_limited_add(const struct engine_ctx *c, uint64_t **sum);
/* c's own, per rule index; NULL when none. */
const uint64_t *engine_regex_limited(const struct engine_ctx *c);
/* The rules with such evaluations in the sums of per-rule counts (NULL
 * ones are empty), most first, the first max of them into top; returns how
 * many rules have some, *total (may be NULL) their evaluations. */
size_t engine_regex_limited_top(const struct stoat_ruleset *rs, const uint64_t *const *sums, size_t nsums,
                                struct stoat_rule_limit *top, size_t max, uint64_t *total);

#endif
