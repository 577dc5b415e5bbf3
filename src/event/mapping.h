/* The mapping data file (data/mapping.yml): which events make up each Sigma
 * logsource, the field renames some sources need, how JSON paths flatten to
 * Sigma field names, which fields carry an event's time, host, channel and
 * id, and where process starts keep their details. It describes events, not
 * rules, so it sits with the event model: readers flatten JSON with it, the
 * rule compiler resolves logsources with it, the matcher finds the product of
 * a channel with it. Loaded once per loader; read-only afterwards. */
#ifndef STOAT_EVENT_MAPPING_H
#define STOAT_EVENT_MAPPING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"
#include "util/mem.h"

#define MAP_MAX_EVENT_IDS 256

struct map_rename {
    const char *from, *to;
};

/* A set of events: one channel (or every channel of a product) and some ids. */
struct map_selector {
    const char *channel; /* as written; NULL = every channel of product */
    const char *product; /* lower case */
    const int64_t *eids; /* sorted; neids == 0 means any id */
    size_t neids;
    const struct map_rename *renames;
    size_t nrenames;
};

struct map_entry {
    const char *product, *category, *service; /* lower case; NULL = not given */
    struct map_selector *sels;
    size_t nsels;
};

struct map_strip {
    const char *prefix; /* may contain "*" for one path component */
};

/* Where a process start or end event keeps each detail. */
enum proc_field {
    PF_GUID,
    PF_PARENT_GUID,
    PF_PID,
    PF_PPID,
    PF_IMAGE,
    PF_COMMAND_LINE,
    PF_USER,
    PF_LOGON_ID,
    PF_PARENT_IMAGE,
    PF_PARENT_COMMAND_LINE,
    PF_PARENT_USER,
    PF_COUNT
};
extern const char *const proc_field_names[PF_COUNT];

struct map_proc {
    const char *channel;
    const int64_t *eids;
    size_t neids;
    bool end;                     /* a process end (else a start) */
    const char *fields[PF_COUNT]; /* NULL: the source does not say */
};

/* The same with the names interned: a process start or end event kind, its
 * details' field ids (the compiled ruleset's copy, found by route key). */
struct proc_spec {
    bool end;
    uint32_t f[PF_COUNT]; /* FIELD_UNKNOWN: not given */
};

enum actor_field {
    AF_GUID,
    AF_PID,
    AF_IMAGE,
    AF_LOGON_ID,
    AF_COUNT
};

struct mapping {
    struct arena a;
    struct map_proc *procs;
    size_t nprocs;
    const char **actor[AF_COUNT]; /* for other events: the acting process's fields, first found wins */
    size_t nactor[AF_COUNT];
    struct map_entry *entries;
    size_t nentries;
    struct map_rename *json_renames;
    size_t njson_renames;
    const char **strip;
    size_t nstrip;
    const char **ts_fields, **host_fields, **channel_fields, **eid_fields, **provider_fields;
    size_t nts, nhost, nchannel, neid, nprovider;
    /* fields whose values Windows pads with spaces to a width: compared without them */
    const char **padded_fields;
    size_t npadded;
};

stoat_err mapping_load(const char *path, struct mapping **out, stoat_diag_fn diag, void *diag_ctx);
stoat_err mapping_load_text(const char *name, const char *text, size_t len, struct mapping **out, stoat_diag_fn diag,
                            void *diag_ctx);
void mapping_free(struct mapping *m);

/* The selectors a rule with this logsource reads, allocated in a. Returns the
 * count (0: no event source is mapped for it). */
size_t mapping_resolve(const struct mapping *m, const char *product, const char *category, const char *service,
                       struct arena *a, struct map_selector **out);

/* The product a channel belongs to according to the mapping, or NULL. */
const char *mapping_channel_product(const struct mapping *m, const char *channel, size_t len);

#endif
