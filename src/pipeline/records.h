/* What a unit carries from the matching stage to the serial stage.
 *
 * A worker parses a unit with the unit's reader; each event is matched
 * (matcher.h) and what the serial stage needs is written into the unit's
 * output buffer as records: a process start or end, an event with the rules
 * it passed on (and, with all_events, every event), a bad-record note. The
 * event's own memory is gone by the time the writer runs, so the records
 * carry copies. The writer reads them back, strictly in the order units were
 * sent, and hands them to the consumer (consume.h). Both ends of the format
 * live in records.c, so they cannot drift apart. */
#ifndef STOAT_PIPELINE_RECORDS_H
#define STOAT_PIPELINE_RECORDS_H

#include <stdbool.h>
#include <stdint.h>

#include "behaviour/spoof.h"
#include "pipeline/consume.h"
#include "pipeline/matcher.h"
#include "readers/reader.h"

struct reader_ws {
    const struct reader_ops *ops;
    void *state;
};

/* The matching stage on one thread. */
struct unit_worker {
    struct matcher m;
    bool all_events;
    struct reader_ws ws[8]; /* per-thread state of each reader met */
    size_t nws;
    struct unit *u; /* being parsed */
    uint64_t record, line, offset;
    struct stoat_field *sf; /* the event's fields as the sinks take them, to render them */
    size_t sf_cap;
    bool sf_set; /* sf holds the current event's */
    /* the ids of spoof_field_name's names (spoof_facts_of_fields), a bit
     * each in spoof_no_id of those no rule knows */
    uint32_t spoof_ids[SPOOF_NFIELDS];
    uint32_t spoof_no_id;
    /* the fields arrays written into the unit, to be made pointers at its end */
    struct fields_at {
        size_t at, n;
    } * fix;
    size_t nfix, fix_cap;
};

void unit_worker_init(struct unit_worker *w, const struct stoat_ruleset *rs, enum stoat_level min_level,
                      bool all_events);
/* Frees; the engine's counts go to out. */
void unit_worker_fini(struct unit_worker *w, struct engine_counters *out);
/* Parses u into events, matches them, writes the records into u->out. */
void unit_parse(struct unit_worker *w, struct unit *u);

/* True when no two of an event's fields share a name, known from the ids
 * its reader gave them (event.h: the interned id of the name, else
 * FIELD_UNKNOWN): the ids below nids, the ruleset's, are told apart by the
 * engine's chains of a repeated id; only the few names no rule knows are
 * compared. False also when it cannot tell cheaply. */
bool records_names_distinct(const struct ev_field *fs, size_t nf, uint32_t nids);

/* The serial end: one, fed units in order. */
struct unit_writer {
    struct consumer *con;
    struct stoat_hunt_stats *stats; /* records, events, skipped */
    stoat_diag_fn diag;
    void *diag_ctx;
    struct input_file *file; /* file of the previous unit */
    uint64_t records;        /* records of that file before the unit */
    uint64_t line_base;      /* line number of the unit's first byte (units with relative lines) */
    bool file_failed;        /* its workers could not read some of it: counted once */
    uint32_t *rules;
    uint8_t *use;
    size_t rules_cap;
    uint64_t ahead; /* the host hash read_ahead prefetched last */
};

/* 1 + the index of the field that names the event's account as
 * facts_digest reads it (the first User with a value, else the first
 * SubjectUserName, names compared case aside), or -1 when none: worked out
 * by the workers for behaviour (struct actor's account_field). */
int32_t records_account_field(const struct ev_field *fs, size_t nf);

/* Reads u's records back into the consumer; counts. */
void unit_write(struct unit_writer *w, struct unit *u);
void unit_writer_fini(struct unit_writer *w);

#endif
