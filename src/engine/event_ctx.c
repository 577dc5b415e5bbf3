/* See engine.h. The match context's life and the event's field intake:
 * fields added one at a time or taken from a producer, chained by name so
 * that the evaluation (match.c) finds every value of a field at once. */
#include <string.h>

#include "engine/match_ctx.h"

struct engine_ctx *engine_ctx_create(const struct stoat_ruleset *rs)
{
    struct engine_ctx *c = xcalloc(1, sizeof(*c));
    c->rs = rs;
    arena_init(&c->scratch, 1 << 16);
    c->nslots = rs->fields.n + 1;
    c->slot_gen = xcalloc(c->nslots, sizeof(*c->slot_gen));
    c->slot_idx = xcalloc(c->nslots, sizeof(*c->slot_idx));
    c->gen = 1;
    c->route_spec = ROUTE_SPEC_UNKNOWN;
    /* one hit bitmap per group, side by side: a class scans all its groups
     * before evaluating any */
    c->group_off = xcalloc(rs->ngroups + 1, sizeof(*c->group_off));
    size_t words = 0;
    for (size_t i = 0; i < rs->ngroups; i++) {
        c->group_off[i] = words;
        words += 2 * (size_t)rs->groups[i].nwords; /* set A's bitmap, then set B's */
    }
    c->hits = xcalloc(words + 1, sizeof(*c->hits));
    if (rs->scratch_proto && hs_clone_scratch(rs->scratch_proto, &c->hs) != HS_SUCCESS)
        c->hs = NULL;
    c->md = pcre2_match_data_create(1, NULL);
    c->mctx = pcre2_match_context_create(NULL);
    if (c->mctx) {
        pcre2_set_match_limit(c->mctx, ENGINE_RE_MATCH_LIMIT);
        pcre2_set_depth_limit(c->mctx, ENGINE_RE_DEPTH_LIMIT);
        pcre2_set_heap_limit(c->mctx, ENGINE_RE_HEAP_KIB);
        /* JIT code backtracks on a stack of its own, 32 KiB unless given
         * one: a long value could exhaust that long before the step limit */
        c->jit_stack = pcre2_jit_stack_create(32 * 1024, ENGINE_RE_JIT_STACK, NULL);
        if (c->jit_stack)
            pcre2_jit_stack_assign(c->mctx, NULL, c->jit_stack);
    }
    c->atom_stamp = xcalloc(rs->natoms + 1, sizeof(*c->atom_stamp));
    c->layouts = xcalloc(rs->nclasses + 1, sizeof(*c->layouts));
    return c;
}

void engine_ctx_destroy(struct engine_ctx *c)
{
    if (!c)
        return;
    arena_free(&c->scratch);
    free(c->own);
    free(c->slot_gen);
    free(c->slot_idx);
    free(c->saved_id);
    free(c->saved_gen);
    free(c->saved_idx);
    if (c->hs)
        hs_free_scratch(c->hs);
    free(c->hits);
    free(c->group_off);
    buf_free(&c->scan);
    buf_free(&c->scan_all);
    for (size_t i = 0; c->layouts && i < c->rs->nclasses; i++)
        scan_layout_free(c->layouts[i]);
    free(c->layouts);
    free(c->span_at);
    free(c->laid);
    pcre2_match_data_free(c->md);
    pcre2_match_context_free(c->mctx);
    pcre2_jit_stack_free(c->jit_stack);
    free(c->re_limited_rules);
    free(c->matched);
    free(c->atom_stamp);
    free(c->re_memo);
    scan_memo_free(&c->scan_memo);
    free(c->ahead);
    free(c->gate_of);
    free(c->gates);
    free(c->route_memo);
    free(c);
}

void engine_event_begin(struct engine_ctx *c)
{
    c->n = 0;
    c->f = c->own;
    c->cap = c->own_cap;
    c->vbytes = 0;
    c->product = NULL;
    c->nmatched = 0;
    if (++c->gen == 0) {
        memset(c->slot_gen, 0, c->nslots * sizeof(*c->slot_gen));
        memset(c->atom_stamp, 0, (c->rs->natoms + 1) * sizeof(*c->atom_stamp));
        c->gen = 1;
    }
    arena_reset(&c->scratch);
}

char *engine_scratch(struct engine_ctx *c, size_t n)
{
    return arena_alloc(&c->scratch, n);
}

uint32_t engine_field_id(const struct engine_ctx *c, const char *name, size_t len)
{
    return fieldtab_lookup(&c->rs->fields, name, len);
}

/* Windows pads some values with spaces to a width (the logon process name:
 * "NtLmSsp ", "Advapi  "), which the JSON its shippers forward already
 * lacks and the rules leave out (LogonProcessName: 'NtLmSsp'): the
 * mapping's padded fields are compared, and shown, without them. */
static void unpad(struct ev_field *f)
{
    if (f->type != STOAT_V_STRING || !f->val_len || f->val[f->val_len - 1] != ' ')
        return;
    while (f->val_len && f->val[f->val_len - 1] == ' ')
        f->val_len--;
    f->raw_len = 0; /* the escaped bytes as read still hold the spaces */
}

static bool is_padded(const struct stoat_ruleset *rs, uint32_t id)
{
    for (size_t k = 0; k < rs->npadded_ids; k++)
        if (rs->padded_ids[k] == id)
            return true;
    return false;
}

/* Out of line, so that the per-field path saves no registers for a call
 * it almost never makes. */
__attribute__((noinline, cold)) static void grow_fields(struct engine_ctx *c)
{
    bool taken = c->f != c->own; /* from a producer: own a copy to add to */
    size_t cap = c->own_cap;
    XGROW(c->own, cap, (size_t)c->n + 1);
    c->own_cap = (uint32_t)cap;
    if (taken && c->n)
        memcpy(c->own, c->f, c->n * sizeof(*c->f));
    c->f = c->own;
    c->cap = c->own_cap;
}

bool engine_event_add(struct engine_ctx *c, const char *name, uint32_t name_len, uint32_t id, const char *val,
                      uint32_t val_len, uint8_t type)
{
    if (c->n >= EVENT_MAX_FIELDS)
        return false;
    if (__builtin_expect(c->n == c->cap, 0))
        grow_fields(c);
    struct ev_field *f = &c->f[c->n];
    f->name = name;
    f->name_len = name_len;
    f->val = val;
    f->val_len = val_len;
    f->type = type;
    f->name_plain = 0;
    f->raw_len = 0;
    f->id = id;
    f->folded = NULL;
    f->bytes_folded = f->bytes_raw = NULL;
    f->next = -1;
    c->vbytes += (size_t)val_len + 1;
    if (c->rs->npadded_ids && is_padded(c->rs, id))
        unpad(f);
    if (id < c->nslots) {
        if (c->slot_gen[id] == c->gen) {
            /* append to the chain of this name, keeping event order */
            int32_t i = c->slot_idx[id];
            while (c->f[i].next >= 0)
                i = c->f[i].next;
            c->f[i].next = (int32_t)c->n;
        } else {
            c->slot_gen[id] = c->gen;
            c->slot_idx[id] = (int32_t)c->n;
        }
    }
    c->n++;
    return true;
}

void engine_event_take(struct engine_ctx *c, struct ev_field *fs, uint32_t n)
{
    if (c->n) { /* fields added already: the slow way, after them */
        for (uint32_t i = 0; i < n; i++)
            engine_event_add(c, fs[i].name, fs[i].name_len, fs[i].id, fs[i].val, fs[i].val_len, fs[i].type);
        return;
    }
    c->f = fs;
    c->n = c->cap = n < EVENT_MAX_FIELDS ? n : EVENT_MAX_FIELDS;
    /* Backwards: each field links to the next of its name, and the slot ends
     * at the first: the chains engine_event_add makes, without walking them. */
    size_t vbytes = 0;
    /* in locals: the stores to the int32_t links might otherwise be the
     * generation, which the compiler would read again for every field */
    uint32_t *slot_gen = c->slot_gen;
    int32_t *slot_idx = c->slot_idx;
    const uint32_t gen = c->gen;
    const size_t nslots = c->nslots;
    for (uint32_t i = c->n; i-- > 0;) {
        struct ev_field *f = &fs[i];
        uint32_t id = f->id;
        vbytes += (size_t)f->val_len + 1;
        f->next = -1;
        if (id < nslots) {
            if (slot_gen[id] == gen)
                f->next = slot_idx[id];
            slot_gen[id] = gen;
            slot_idx[id] = (int32_t)i;
        }
    }
    c->vbytes = vbytes;
    for (size_t k = 0; k < c->rs->npadded_ids; k++) {
        uint32_t id = c->rs->padded_ids[k];
        if (id < nslots && slot_gen[id] == gen)
            for (int32_t i = slot_idx[id]; i >= 0; i = fs[i].next)
                unpad(&fs[i]);
    }
}

void engine_event_product(struct engine_ctx *c, const char *product)
{
    c->product = product;
}

size_t engine_event_fields(const struct engine_ctx *c, const struct ev_field **fields)
{
    *fields = c->f;
    return c->n;
}

const struct ev_field *engine_event_get(const struct engine_ctx *c, uint32_t id)
{
    int32_t i = slot_get(c, id);
    return i >= 0 ? &c->f[i] : NULL;
}

int engine_event_procspec(const struct engine_ctx *c)
{
    return c->route_spec != ROUTE_SPEC_UNKNOWN ? c->route_spec : route_key_spec(c);
}

void engine_counters(const struct engine_ctx *c, struct engine_counters *out)
{
    *out = c->counters;
}

void engine_regex_limited_add(const struct engine_ctx *c, uint64_t **sum)
{
    if (!c || !c->re_limited_rules)
        return;
    if (!*sum)
        *sum = xcalloc(c->rs->nrules + 1, sizeof(**sum));
    for (size_t r = 0; r < c->rs->nrules; r++)
        (*sum)[r] += c->re_limited_rules[r];
}

const uint64_t *engine_regex_limited(const struct engine_ctx *c)
{
    return c ? c->re_limited_rules : NULL;
}
