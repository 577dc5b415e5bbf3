/* See records.h. A record is a kind byte and fixed-width fields copied with
 * memcpy (the same process writes and reads them); strings are a length,
 * the bytes and a NUL, so the writer hands them on without copying again;
 * an absent string is the length NO_STR. Field positions (time, host,
 * channel, event id) are indexes into the event's fields rather than copies. */
#include "pipeline/records.h"

#include <string.h>

#include "behaviour/facts.h"
#include "behaviour/sources.h"
#include "behaviour/spoof.h"
#include "event/render.h"
#include "rules/ruleset.h"
#include "util/buf.h"
#include "util/copy.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

enum {
    REC_MATCH = 'M',
    REC_DIAG = 'D',
    REC_PROC = 'P'
};

#define NO_STR       UINT32_MAX
#define FIELDS_ALIGN 8 /* of a record's stoat_field array, from the buffer's start (malloc's) */

static void put_u32(struct buf *b, uint32_t v)
{
    buf_put(b, &v, sizeof(v));
}
static void put_u64(struct buf *b, uint64_t v)
{
    buf_put(b, &v, sizeof(v));
}
static void put_i32(struct buf *b, int32_t v)
{
    buf_put(b, &v, sizeof(v));
}
static void put_str(struct buf *b, const char *s, uint32_t n)
{
    put_u32(b, n);
    buf_put(b, s, n);
    buf_putc(b, 0);
}

static uint32_t get_u32(const char **p)
{
    uint32_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}
static uint64_t get_u64(const char **p)
{
    uint64_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}
static int32_t get_i32(const char **p)
{
    int32_t v;
    memcpy(&v, *p, sizeof(v));
    *p += sizeof(v);
    return v;
}
static const char *get_str(const char **p, uint32_t *n)
{
    *n = get_u32(p);
    if (*n == NO_STR) {
        *n = 0;
        return NULL;
    }
    const char *s = *p;
    *p += *n + 1;
    return s;
}

/* A string as put_str writes it, at o (room made). */
static inline char *place_str(char *o, const char *s, uint32_t n)
{
    memcpy(o, &n, sizeof(n));
    copy_short(o + sizeof(n), s, n);
    o[sizeof(n) + n] = 0;
    return o + sizeof(n) + n + 1;
}

/* The event's fields as stoat_alert takes them: their count and their
 * strings' size, then (at a multiple of 8 in the buffer) the array of
 * stoat_field, then each name and value NUL-ended. The array's names and
 * values are offsets in the buffer until the unit is parsed (fix_fields
 * makes them pointers, on the worker): the serial stage then takes the
 * array as it is rather than reading the fields one by one. */
static void put_fields(struct unit_worker *w, struct buf *b, const struct ev_field *fs, size_t nf)
{
    size_t strs = 0;
    for (size_t i = 0; i < nf; i++)
        strs += (size_t)fs[i].name_len + fs[i].val_len + 2;
    size_t at = b->len + 2 * sizeof(uint32_t);
    at = (at + FIELDS_ALIGN - 1) & ~(size_t)(FIELDS_ALIGN - 1);
    size_t end = at + nf * sizeof(struct stoat_field) + strs;
    buf_reserve(b, end - b->len + 1);
    uint32_t head[2] = {(uint32_t)nf, (uint32_t)strs};
    memcpy(b->p + b->len, head, sizeof(head));
    struct stoat_field *arr = (struct stoat_field *)(b->p + at);
    size_t o = at + nf * sizeof(struct stoat_field);
    for (size_t i = 0; i < nf; i++) {
        arr[i] = (struct stoat_field){.name = (const char *)(uintptr_t)o,
                                      .value = (const char *)(uintptr_t)(o + fs[i].name_len + 1),
                                      .name_len = fs[i].name_len,
                                      .value_len = fs[i].val_len,
                                      .type = fs[i].type};
        copy_short(b->p + o, fs[i].name, fs[i].name_len);
        o += fs[i].name_len;
        b->p[o++] = 0;
        copy_short(b->p + o, fs[i].val, fs[i].val_len);
        o += fs[i].val_len;
        b->p[o++] = 0;
    }
    b->p[o] = 0;
    b->len = o;
    if (w->nfix == w->fix_cap)
        XGROW(w->fix, w->fix_cap, w->nfix + 1);
    w->fix[w->nfix++] = (struct fields_at){.at = at, .n = nf};
}

/* The fields arrays of the unit's records, their offsets made pointers now
 * that the buffer will not move again. */
static void fix_fields(struct unit_worker *w, struct buf *b)
{
    for (size_t k = 0; k < w->nfix; k++) {
        struct stoat_field *arr = (struct stoat_field *)(b->p + w->fix[k].at);
        for (size_t i = 0; i < w->fix[k].n; i++) {
            arr[i].name = b->p + (uintptr_t)arr[i].name;
            arr[i].value = b->p + (uintptr_t)arr[i].value;
        }
    }
    w->nfix = 0;
}

/* A string that may be absent: its room as written, and it written at o
 * (room made). */
static inline size_t opt_size(const struct ev_field *f)
{
    return !f || f->type == STOAT_V_NULL ? sizeof(uint32_t) : sizeof(uint32_t) + f->val_len + 1;
}
static inline __attribute__((always_inline)) char *place_opt(char *o, const struct ev_field *f)
{
    if (!f || f->type == STOAT_V_NULL) {
        uint32_t none = NO_STR;
        memcpy(o, &none, sizeof(none));
        return o + sizeof(none);
    }
    return place_str(o, f->val, f->val_len);
}
static char *place_u64(char *o, uint64_t v)
{
    memcpy(o, &v, sizeof(v));
    return o + sizeof(v);
}

static int32_t index_of(const struct ev_field *base, const struct ev_field *f)
{
    return f ? (int32_t)(f - base) : -1;
}

/* The first field named name (case aside, ASCII) with a value, or -1: what
 * facts_field finds, looked for here rather than on the serial stage. */
static int32_t named_field(const struct ev_field *fs, size_t nf, const char *name, uint32_t nl)
{
    for (size_t i = 0; i < nf; i++)
        if (fs[i].name_len == nl && fs[i].val_len && ascii_eq_nocase(fs[i].name, name, nl))
            return (int32_t)i;
    return -1;
}

int32_t records_account_field(const struct ev_field *fs, size_t nf)
{
    int32_t i = -1;
    for (size_t k = 0; k < FACTS_ACCOUNT_FIELDS && i < 0; k++)
        i = named_field(fs, nf, facts_account_fields[k], (uint32_t)strlen(facts_account_fields[k]));
    return i >= 0 ? i + 1 : -1;
}

/* ------------------------------------------------- the worker's end */

static void ws_begin(void *ctx, uint64_t record, uint64_t line, uint64_t offset)
{
    struct unit_worker *w = ctx;
    engine_event_begin(w->m.eng);
    if (w->u->file->product)
        engine_event_product(w->m.eng, w->u->file->product);
    w->record = record;
    w->sf_set = false;
    w->line = line;
    w->offset = offset;
}

static char *ws_scratch(void *ctx, size_t n)
{
    return engine_scratch(((struct unit_worker *)ctx)->m.eng, n);
}

static uint32_t ws_field_id(void *ctx, const char *name, size_t len)
{
    return engine_field_id(((struct unit_worker *)ctx)->m.eng, name, len);
}

static bool ws_field(void *ctx, const char *name, uint32_t nlen, uint32_t id, const char *val, uint32_t vlen,
                     uint8_t type)
{
    return engine_event_add(((struct unit_worker *)ctx)->m.eng, name, nlen, id, val, vlen, type);
}

static void ws_fields(void *ctx, struct ev_field *fs, uint32_t n)
{
    engine_event_take(((struct unit_worker *)ctx)->m.eng, fs, n);
}

/* w->sf: the event's fields as stoat_alert has them (views of fs). */
static void view_fields(struct unit_worker *w, const struct ev_field *fs, size_t nf)
{
    if (w->sf_set)
        return;
    XGROW(w->sf, w->sf_cap, nf);
    for (size_t i = 0; i < nf; i++)
        w->sf[i] = (struct stoat_field){.name = fs[i].name,
                                        .value = fs[i].val,
                                        .name_len = fs[i].name_len,
                                        .value_len = fs[i].val_len,
                                        .type = fs[i].type};
    w->sf_set = true;
}

/* Nine bits of a name, from its length and its first and last bytes: two
 * names with different bits differ. */
static uint32_t name_bits(const char *s, uint32_t n)
{
    uint64_t a = 0, z = 0;
    if (n >= 8) {
        memcpy(&a, s, 8);
        memcpy(&z, s + n - 8, 8);
    } else if (n >= 4) {
        uint32_t x, y;
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        a = x;
        z = y;
    } else if (n) {
        a = (unsigned char)s[0] | (uint32_t)(unsigned char)s[n >> 1] << 8 | (uint32_t)(unsigned char)s[n - 1] << 16;
    }
    return (uint32_t)(((a * 0x9e3779b97f4a7c15ull) ^ ((z + n) * 0xc2b2ae3d27d4eb4full)) >> 55);
}

bool records_names_distinct(const struct ev_field *fs, size_t nf, uint32_t nids)
{
    enum {
        FEW = 16
    };
    uint16_t unknown[FEW]; /* their indexes: the names are looked at only when bits meet */
    size_t nu = 0;
    uint64_t seen[8] = {0}; /* the names' bits: none met twice, no name twice */
    bool same_bits = false;
    for (size_t i = 0; i < nf; i++) {
        if (fs[i].next >= 0)
            return false; /* an id met again: maybe a name, maybe its other case */
        if (fs[i].id < nids)
            continue;
        if (nu == FEW)
            return false;
        unknown[nu++] = (uint16_t)i;
        uint32_t h = name_bits(fs[i].name, fs[i].name_len);
        same_bits |= (seen[h >> 6] >> (h & 63)) & 1;
        seen[h >> 6] |= 1ull << (h & 63);
    }
    if (!same_bits)
        return true;
    struct stoat_field names[FEW];
    for (size_t k = 0; k < nu; k++)
        names[k] = (struct stoat_field){.name = fs[unknown[k]].name, .name_len = fs[unknown[k]].name_len};
    return event_names_unique(names, nu);
}

/* A rule of the event's is reported: its alerts will be digested. */
static bool reported(const struct match_result *r)
{
    for (size_t i = 0; i < r->n; i++)
        if (r->use[i] == USE_REPORT)
            return true;
    return false;
}

/* The event's fields as the sinks write them (event/render.h), when an
 * alert will surely be written for it (or every event is): rendering is a
 * good part of writing an alert, and here it runs on every worker rather
 * than on the one serial stage. Otherwise NO_STR, and a sink that needs it
 * renders it there. */
static void put_fields_json(struct unit_worker *w, struct buf *b, const struct match_result *r,
                            const struct ev_field *fs, size_t nf)
{
    bool render = w->all_events;
    for (size_t i = 0; i < r->n && !render; i++)
        render = r->use[i] == USE_REPORT;
    if (!render) {
        put_u32(b, NO_STR);
        return;
    }
    put_u32(b, 0); /* its length, once known */
    size_t at = b->len;
    if (records_names_distinct(fs, nf, (uint32_t)w->m.rs->fields.n)) {
        event_json_write_fields_distinct(b, fs, nf);
    } else {
        view_fields(w, fs, nf);
        event_json_write(b, w->sf, nf);
    }
    uint32_t n = (uint32_t)(b->len - at);
    memcpy(b->p + at - sizeof(n), &n, sizeof(n));
    buf_putc(b, 0);
}

/* What the parent-spoofing watch reads of the event (spoof.h), when a rule
 * of its hands the event to it: worked out here, from the event alone, so
 * that the serial stage only looks its table up. The event id as the
 * serial stage reads it (a NUL-ended copy: up to a NUL inside). */
/* keys_at: where the record's spoof keys go (read_ahead's), left 0 when
 * the watch takes no part. */
static void put_spoof(struct unit_worker *w, struct buf *b, const struct match_result *r, const struct ev_field *fs,
                      size_t nf, size_t keys_at)
{
    bool spoof = false;
    for (size_t i = 0; i < r->n && !spoof; i++)
        spoof = r->use[i] == USE_BEHAVIOUR && w->m.rs->rules[r->rules[i]].role == ROLE_SPOOF;
    buf_putc(b, (char)spoof);
    if (!spoof)
        return;
    char eid[8] = "";
    const struct ev_field *e = r->head.event_id;
    if (e) {
        size_t n = e->val ? strnlen(e->val, e->val_len) : 0;
        if (n < sizeof(eid)) {
            memcpy(eid, e->val, n);
            eid[n] = 0;
        } else {
            strcpy(eid, "-"); /* longer than any id it takes */
        }
    }
    /* the fields by the ids the engine has them by: no name of the event
     * compared but the few of those ids */
    const struct ev_field *first[SPOOF_NFIELDS];
    for (int k = 0; k < SPOOF_NFIELDS; k++)
        first[k] = w->spoof_no_id >> k & 1 ? NULL : engine_event_get(w->m.eng, w->spoof_ids[k]);
    struct spoof_facts f;
    spoof_facts_of_fields(e ? eid : NULL, fs, nf, first, w->spoof_no_id, &f);
    buf_put(b, &f, sizeof(f));
    /* the host as the serial stage hashes it (the field's value; "" when none) */
    const struct ev_field *host = r->head.host;
    bool named = host && host->type != STOAT_V_NULL;
    uint64_t keys[2];
    spoof_keys_of(spoof_host_hash_n(named ? host->val : "", named ? host->val_len : 0), &f, &keys[0], &keys[1]);
    memcpy(b->p + keys_at, keys, sizeof(keys));
}

/* The event's time (consume_time), worked out here rather than on the
 * serial stage. */
static int64_t time_of(const struct ev_field *f)
{
    return f && f->type != STOAT_V_NULL ? consume_time(f->val, f->val_len) : INT64_MIN;
}

/* A pid field as the serial stage reads it (consume_pid). */
static int64_t pid_of(const struct ev_field *f)
{
    return f && f->type != STOAT_V_NULL ? consume_pid(f->val, f->val_len) : -1;
}

/* The hash the writer's host table looks the host's name up by, worked out
 * here in parallel (the writer prefetches by it: read_ahead). */
static uint64_t host_hash(const struct ev_field *host)
{
    return host && host->type != STOAT_V_NULL ? strmap_hash(host->val, host->val_len) : 0;
}

/* A process start or end (the writer's write_proc), with one making of
 * room: the details, the time and the pids read here rather than on the
 * serial stage. */
static void put_proc(struct unit_worker *w, struct buf *b, const struct match_head *h, int spec)
{
    size_t need = 2 + opt_size(h->host) + 4 * sizeof(uint64_t);
    for (int f = 0; f < PF_COUNT; f++)
        need += opt_size(h->proc[f]);
    buf_reserve(b, need + 1);
    char *o = b->p + b->len;
    *o++ = REC_PROC;
    o = place_u64(o, host_hash(h->host)); /* first in each record, for read_ahead */
    *o++ = (char)w->m.rs->procs[spec].end;
    o = place_opt(o, h->host);
    o = place_u64(o, (uint64_t)time_of(h->time));
    for (int f = 0; f < PF_COUNT; f++)
        o = place_opt(o, h->proc[f]);
    o = place_u64(o, (uint64_t)pid_of(h->proc[PF_PID]));
    o = place_u64(o, (uint64_t)pid_of(h->proc[PF_PPID]));
    *o = 0;
    b->len = (size_t)(o - b->p);
}

static void ws_end(void *ctx)
{
    struct unit_worker *w = ctx;
    struct buf *b = &w->u->out;
    struct match_result r;
    matcher_run(&w->m, w->all_events, &r);
    const struct match_head *h = &r.head;
    /* process starts and ends feed the writer's process table, matched or not */
    if (r.spec >= 0)
        put_proc(w, b, h, r.spec);
    /* rules to report, and rules whose matches feed correlations or behaviour */
    if (!r.passed)
        return;
    buf_putc(b, REC_MATCH);
    put_u64(b, host_hash(h->host)); /* first in each record, for read_ahead */
    size_t spoof_keys_at = b->len;
    put_u64(b, 0); /* then the spoof keys (put_spoof's), for read_ahead too */
    put_u64(b, 0);
    put_u32(b, (uint32_t)r.n);
    for (size_t i = 0; i < r.n; i++) {
        put_u32(b, r.rules[i]);
        buf_putc(b, (char)r.use[i]);
    }
    const struct ev_field *fs;
    size_t nf = engine_event_fields(w->m.eng, &fs);
    put_u64(b, w->record);
    put_u64(b, w->line);
    put_u64(b, w->offset);
    put_i32(b, index_of(fs, h->time));
    put_u64(b, (uint64_t)time_of(h->time));
    put_i32(b, index_of(fs, h->host));
    put_i32(b, index_of(fs, h->channel));
    put_i32(b, index_of(fs, h->event_id));
    put_i32(b, reported(&r) ? records_account_field(fs, nf) : 0); /* 0: not worked out */
    buf_reserve(b, opt_size(h->guid) + sizeof(uint64_t) + opt_size(h->logon_id) + 1);
    char *o = place_opt(b->p + b->len, h->guid);
    o = place_u64(o, (uint64_t)pid_of(h->pid));
    o = place_opt(o, h->logon_id);
    *o = 0;
    b->len = (size_t)(o - b->p);
    put_fields(w, b, fs, nf);
    put_fields_json(w, b, &r, fs, nf);
    put_spoof(w, b, &r, fs, nf, spoof_keys_at);
}

static void ws_bad(void *ctx, uint64_t line, uint64_t offset, bool has_offset, bool warning, const char *why)
{
    struct unit_worker *w = ctx;
    struct buf *b = &w->u->out;
    buf_putc(b, REC_DIAG);
    buf_putc(b, (char)warning);
    put_u64(b, line);
    put_u64(b, offset);
    buf_putc(b, (char)has_offset);
    put_str(b, why, (uint32_t)strlen(why));
}

static void *reader_state(struct unit_worker *w, const struct reader_ops *ops)
{
    for (size_t i = 0; i < w->nws; i++)
        if (w->ws[i].ops == ops)
            return w->ws[i].state;
    if (w->nws == sizeof(w->ws) / sizeof(w->ws[0]))
        return NULL;
    w->ws[w->nws].ops = ops;
    w->ws[w->nws].state = ops->worker_create(w->m.rs->map);
    return w->ws[w->nws++].state;
}

void unit_parse(struct unit_worker *w, struct unit *u)
{
    if (!u->len && !u->map && !u->range_len)
        return;
    w->u = u;
    struct event_sink sink = {
        .ctx = w,
        .begin = ws_begin,
        .scratch = ws_scratch,
        .field_id = ws_field_id,
        .field = ws_field,
        .fields = ws_fields,
        .end = ws_end,
        .bad = ws_bad,
        .map = w->m.rs->map,
    };
    void *st = reader_state(w, u->file->reader);
    w->nfix = 0;
    if (st)
        u->file->reader->parse(st, u, &sink);
    fix_fields(w, &u->out);
}

void unit_worker_init(struct unit_worker *w, const struct stoat_ruleset *rs, enum stoat_level min_level,
                      bool all_events)
{
    memset(w, 0, sizeof(*w));
    matcher_init(&w->m, rs, min_level);
    w->all_events = all_events;
    for (int k = 0; k < SPOOF_NFIELDS; k++) {
        const char *name = spoof_field_name((size_t)k);
        w->spoof_ids[k] = fieldtab_lookup(&rs->fields, name, strlen(name));
        if (w->spoof_ids[k] == FIELD_UNKNOWN)
            w->spoof_no_id |= 1u << k;
    }
}

void unit_worker_fini(struct unit_worker *w, struct engine_counters *out)
{
    engine_counters(w->m.eng, out);
    free(w->sf);
    free(w->fix);
    for (size_t i = 0; i < w->nws; i++)
        w->ws[i].ops->worker_destroy(w->ws[i].state);
    matcher_fini(&w->m);
}

/* ------------------------------------------------- the writer's end */

/* A bad record or a note of u's file. */
static void report(const struct unit_writer *w, const struct unit *u, enum stoat_severity sev, uint64_t line,
                   uint64_t offset, bool has_offset, const char *msg)
{
    if (!w->diag)
        return;
    struct stoat_diag d = {.code = STOAT_ERR_INPUT,
                           .severity = sev,
                           .file = u->file->name,
                           .line = line,
                           .offset = offset,
                           .has_offset = has_offset,
                           .message = msg};
    w->diag(w->diag_ctx, &d);
}

/* A line number as the worker wrote it, made absolute (reader.h). */
static uint64_t line_of(const struct unit_writer *w, const struct unit *u, uint64_t line)
{
    return u->lines_relative ? w->line_base + line : line;
}

static const char *write_diag(struct unit_writer *w, const struct unit *u, const char *p)
{
    bool warning = *p++;
    uint64_t line = line_of(w, u, get_u64(&p)), offset = get_u64(&p);
    bool has_offset = *p++;
    uint32_t n;
    const char *msg = get_str(&p, &n);
    report(w, u, warning ? STOAT_SEV_WARNING : STOAT_SEV_ERROR, line, offset, has_offset, msg);
    return p;
}

/* The host's name hash (strmap_hash) of the record at p (one of u's, or
 * its end) starts loading while this one is written: the host's lookup is
 * the first thing the next record's event does, and the hosts of a day's
 * events interleave. The workers hashed the name. */
static void read_ahead(struct unit_writer *w, const struct unit *u, const char *p)
{
    if (p >= u->out.p + u->out.len || *p == REC_DIAG)
        return;
    char kind = *p++;
    uint64_t h = get_u64(&p);
    if (h != w->ahead) /* a start and its match are of one host */
        consumer_prefetch_host(w->con, h);
    w->ahead = h;
    if (kind == REC_MATCH) {
        uint64_t self = get_u64(&p), parent = get_u64(&p);
        if (self)
            consumer_prefetch_spoof(w->con, self, parent);
        /* the first rules': most events match one or two */
        uint32_t nr = get_u32(&p);
        for (uint32_t i = 0; i < nr && i < 2; i++, p++)
            consumer_prefetch_rule(w->con, get_u32(&p));
    }
}

static const char *write_proc(struct unit_writer *w, const struct unit *u, const char *p)
{
    p += sizeof(uint64_t); /* the host's hash, for read_ahead */
    bool is_end = *p++;
    uint32_t hl, fl[PF_COUNT];
    const char *hs = get_str(&p, &hl), *fv[PF_COUNT];
    int64_t t = (int64_t)get_u64(&p);
    for (int f = 0; f < PF_COUNT; f++)
        fv[f] = get_str(&p, &fl[f]);
    int64_t pid = (int64_t)get_u64(&p), ppid = (int64_t)get_u64(&p);
    read_ahead(w, u, p);
    consumer_proc_ids(w->con, is_end, hs, t, fv, pid, ppid);
    return p;
}

static const char *write_match(struct unit_writer *w, const struct unit *u, const char *p)
{
    p += 3 * sizeof(uint64_t); /* the host's hash and the spoof keys, for read_ahead */
    uint32_t nr = get_u32(&p);
    if (nr > w->rules_cap) {
        w->rules_cap = nr;
        w->rules = xrealloc(w->rules, nr * sizeof(*w->rules));
        w->use = xrealloc(w->use, nr * sizeof(*w->use));
    }
    for (uint32_t i = 0; i < nr; i++) {
        w->rules[i] = get_u32(&p);
        w->use[i] = (uint8_t)*p++;
    }
    uint64_t record = get_u64(&p), line = line_of(w, u, get_u64(&p)), offset = get_u64(&p);
    int32_t ts = get_i32(&p);
    int64_t time_ns = (int64_t)get_u64(&p);
    int32_t host = get_i32(&p), chan = get_i32(&p), eid = get_i32(&p), account = get_i32(&p);
    uint32_t gl, ll;
    const char *guid = get_str(&p, &gl);
    int64_t pid = (int64_t)get_u64(&p);
    const char *logon = get_str(&p, &ll);
    uint32_t nf = get_u32(&p), strs = get_u32(&p);
    p = u->out.p + ((size_t)(p - u->out.p) + FIELDS_ALIGN - 1) / FIELDS_ALIGN * FIELDS_ALIGN;
    const struct stoat_field *fields = (const struct stoat_field *)p;
    p += nf * sizeof(*fields) + strs;
    uint32_t jl;
    const char *json = get_str(&p, &jl);
    struct spoof_facts spoof;
    bool has_spoof = *p++;
    if (has_spoof) {
        memcpy(&spoof, p, sizeof(spoof));
        p += sizeof(spoof);
    }
    struct stoat_alert a = {
        .pos = {.file = u->file->name,
                .format = u->file->reader->name,
                .record = w->records + record,
                .line = line,
                .offset = offset},
        .timestamp = ts >= 0 ? fields[ts].value : NULL,
        .time_ns = time_ns,
        .host = host >= 0 ? fields[host].value : NULL,
        .channel = chan >= 0 ? fields[chan].value : NULL,
        .event_id = eid >= 0 ? fields[eid].value : NULL,
        .fields = fields,
        .nfields = nf,
        .fields_json = json,
        .fields_json_len = jl,
    };
    struct actor who = {
        .guid = guid, .pid = pid, .logon_id = logon, .spoof = has_spoof ? &spoof : NULL, .account_field = account};
    read_ahead(w, u, p);
    consumer_event(w->con, &a, w->rules, w->use, nr, &who);
    return p;
}

void unit_write(struct unit_writer *w, struct unit *u)
{
    if (u->file != w->file) {
        w->file = u->file;
        w->records = 0;
        w->line_base = 1;
        w->file_failed = false;
    }
    /* A note is a diagnostic only: the records it skipped are the reader's
     * to count (u->skipped), and a read error is counted in files_failed
     * (by the reading thread, or here once for a file its workers read). */
    /* (a worker's note is about the end of its range: said after the records) */
    if (u->note[0] && !u->lines_relative)
        report(w, u, STOAT_SEV_ERROR, u->note_line, 0, false, u->note);
    if (u->read_failed && !w->file_failed) {
        w->file_failed = true;
        w->stats->files_failed++;
    }
    const char *p = u->out.p, *end = p ? p + u->out.len : NULL;
    while (p && p < end) {
        char kind = *p++;
        if (kind == REC_DIAG)
            p = write_diag(w, u, p);
        else if (kind == REC_PROC)
            p = write_proc(w, u, p);
        else
            p = write_match(w, u, p);
    }
    if (u->note[0] && u->lines_relative)
        report(w, u, STOAT_SEV_ERROR, line_of(w, u, u->note_line), 0, false, u->note);
    w->stats->records += u->records;
    w->stats->events += u->events;
    w->stats->skipped += u->skipped;
    w->records += u->records;
    if (u->lines_relative)
        w->line_base += u->lines;
    if (u->last) {
        /* The file is freed with this unit and the next one may get its
         * address: forget it here rather than compare pointers later. */
        w->file = NULL;
        w->records = 0;
    }
}

void unit_writer_fini(struct unit_writer *w)
{
    free(w->rules);
    free(w->use);
}
