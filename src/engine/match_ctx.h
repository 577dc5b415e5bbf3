/* The match context of one thread (engine.h's struct engine_ctx), shared by
 * the files of the engine that read it: match.c (scans and evaluation) and
 * event_ctx.c (its life and the event's field intake). Internal: nothing
 * outside src/engine includes it. */
#ifndef STOAT_ENGINE_MATCH_CTX_H
#define STOAT_ENGINE_MATCH_CTX_H

#include "engine/engine.h"

#include "engine/scan_layout.h"
#include "engine/scan_memo.h"
#include "event/route.h"

/* The regex memo (re_match): slots, and the longest value it keeps. */
#define RE_MEMO_SLOTS   2048
#define RE_MEMO_MAX_LEN 240

/* A kind of event (channel and event id values as given) whose route key
 * found its class: the next events of that kind take key and class from
 * here instead of making the key and looking it up. A channel longer than
 * the slot's room is not kept. */
#define ROUTE_MEMO_SLOTS   16
#define ROUTE_MEMO_CHANNEL 96
#define ROUTE_SPEC_UNKNOWN (-2)

struct route_memo {
    uint16_t channel_len, eid_len, key_len; /* channel_len 0: empty */
    uint32_t cls;
    int32_t spec; /* engine_event_procspec's answer for the key */
    uint64_t key_hash;
    char channel[ROUTE_MEMO_CHANNEL];
    char eid[24];
    char key[ROUTE_MEMO_CHANNEL + 32];
};

struct re_memo {
    const struct pattern *p;
    uint16_t len;
    bool match;
    char val[RE_MEMO_MAX_LEN];
};

/* An ungated rule's byte gate (match.c, rule_gate): the rule cannot match
 * unless some value of field holds (case-folded) a byte of mask. */
struct byte_gate {
    uint32_t field;
    uint64_t mask[4];
};

/* A field scan's memo hash, worked out before the event's first scan; db
 * NULL: none was. */
struct memo_ahead {
    const void *db;
    uint64_t hash;
};

struct engine_ctx {
    const struct stoat_ruleset *rs;
    struct arena scratch;
    struct ev_field *f; /* the event's fields: own, or a producer's (engine_event_take) */
    uint32_t n, cap;    /* cap: room at f before add must move to own */
    struct ev_field *own;
    uint32_t own_cap;
    size_t vbytes; /* the event's values, a NUL after each: what a scan buffer needs */
    /* field id -> first field index, valid when gen matches */
    uint32_t *slot_gen;
    int32_t *slot_idx;
    uint32_t gen;
    size_t nslots;
    /* renamed view: saved slots to restore */
    uint32_t *saved_id;
    uint32_t *saved_gen;
    int32_t *saved_idx;
    size_t nsaved, saved_cap;
    const char *product;
    hs_scratch_t *hs;
    uint64_t *hits;
    size_t *group_off;
    struct buf scan;              /* one field's values, for its database */
    struct buf scan_all;          /* every value, in its class's layout (scan_layout.h) */
    struct scan_layout **layouts; /* per class, made on its first event */
    uint32_t *span_at;            /* layout order entry -> offset of its values in scan_all */
    size_t span_cap;
    uint32_t *laid; /* field index -> laid_gen when scan_all holds its value */
    size_t laid_cap;
    uint32_t laid_gen;
    pcre2_match_data *md;
    pcre2_match_context *mctx; /* the regex limits */
    pcre2_jit_stack *jit_stack;
    bool re_limited;            /* a regex of the rule being evaluated hit a limit */
    struct re_memo *re_memo;    /* RE_MEMO_SLOTS, made on first use */
    struct scan_memo scan_memo; /* field databases' reports (scan_memo.h) */
    struct memo_ahead *ahead;   /* by the class's database index (scan.c, memo_ahead) */
    size_t ahead_cap;
    bool ahead_on;              /* for this event */
    uint64_t *re_limited_rules; /* per rule index, evaluations that did; NULL until one does */
    uint32_t *matched;
    size_t nmatched, matched_cap;
    char route_key[ROUTE_KEY_MAX]; /* channel + event id of the event, for other lookups */
    size_t route_key_len;          /* 0: the event has none */
    uint64_t route_key_hash;       /* of route_key, for both maps it is looked up in */
    struct route_memo *route_memo; /* ROUTE_MEMO_SLOTS, made on the first event */
    int32_t route_spec;            /* the key's process spec when known, else ROUTE_SPEC_UNKNOWN */
    uint32_t *atom_stamp;          /* atom id -> gen of the last event whose scan saw it */
    bool atoms_valid;              /* this event was scanned: stamps can rule patterns out */
    /* per rule index: 0 not looked at yet, 1 no byte gate, else gates[k - 2]
     * (made on the rule's first evaluation after a scan) */
    uint16_t *gate_of;
    struct byte_gate *gates;
    size_t ngates, gates_cap;
    struct engine_counters counters;
};

/* The process spec of the event's route key (engine_event_procspec). */
static inline int32_t route_key_spec(const struct engine_ctx *c)
{
    uint32_t spec;
    if (c->route_key_len &&
        strmap_get_hashed(&c->rs->proc_routes, c->route_key, c->route_key_len, c->route_key_hash, &spec))
        return (int32_t)spec;
    return -1;
}

/* The first field of id in the event (or the view), -1: none. Inline: the
 * evaluation looks fields up all the time. */
static inline int32_t slot_get(const struct engine_ctx *c, uint32_t id)
{
    return (id < c->nslots && c->slot_gen[id] == c->gen) ? c->slot_idx[id] : -1;
}

/* The event's prefilter scan for its class (scan.c): the hits of the
 * class's groups (c->hits) and the atoms' stamps set by what it found;
 * c->atoms_valid false when there was no scan or a scan failed. */
void engine_scan(struct engine_ctx *c, const struct route_class *cls);

#endif
