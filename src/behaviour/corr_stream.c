/* See corr_stream.h. The state between the serial stage and the
 * correlation engine (corr_engine.c): which fields correlations read, the
 * kept matches of an offline run, and the evidence of matches that were not
 * reported. A fleet worker's stream (CORR_PART_HOSTS) has an engine per
 * host, made when the host's first match is fed: an engine's clock is its
 * newest event, and the correlations it judges are grouped by host, so one
 * engine per host is one clock per host at no cost in meaning. The fleet's
 * streams also keep what they fed, to rebuild an engine whose matches came
 * out of order (see "rebuilding" below). */
#include "behaviour/corr_stream.h"

#include <stdlib.h>
#include <string.h>

#include "behaviour/quiet.h"
#include "event/render.h"
#include "event/route.h"
#include "rules/ruleset.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

/* Offline, the matches correlations read are kept (only the fields they
 * read) and fed in time order when the input ends: logs of one host come in
 * several files (Security, Sysmon, PowerShell), so input order is not time
 * order. When the kept matches reach their memory cap they are fed as one
 * time-sorted batch and keeping starts again; later batches' events that are
 * older than the correlation clock allows are counted as late. Live, matches
 * arrive in time order give or take the lateness and are fed at once. */
struct corr_kept {
    int64_t key;  /* time (or the last time before it) */
    uint64_t seq; /* input order among equal times */
    size_t off;   /* into the list's bytes */
    uint32_t len; /* the record's */
};

/* Kept matches: their records back to back (offsets rise with the index)
 * and the index. */
struct corr_keep {
    struct buf b;
    struct corr_kept *ix;
    size_t n, cap;
};

#define KEPT_HEAD 32 /* a record's fixed part: rule, alert id, time, three lengths */

#define CORR_VIEW_MAX 64 /* fields a correlation may read per event */

/* Matches of rules that only feed correlations are not alerts, so a firing
 * would name nothing the analyst can see. Each one fed gets an evidence id
 * (the correlation engine keeps it like an alert id, marked by the top bit)
 * and a line in this ring; a firing shows the lines still here. */
#define EVIDENCE_BIT    (1ull << 63)
#define EVIDENCE_RING   4096
#define EVIDENCE_GLANCE 300
struct corr_evidence {
    uint64_t id; /* 0: empty */
    int64_t time_ns;
    char *rule, *summary;
    struct stoat_record_pos pos; /* file and format the stream's copies (file NULL: not known) */
};

/* Files' and formats' names as evidence keeps them, each once: a hunt's
 * files are few beside its matches. Past the cap a match's place is not
 * kept (a fleet worker runs for months). */
#define EVIDENCE_FILES_MAX 65536

/* An engine and its clock's newest event: one per host (CORR_PART_HOSTS),
 * else one. The stream's memory cap holds for all its engines together: a
 * worker may see thousands of hosts. Each engine may use the whole cap
 * (one busy host among idle ones), and when the total goes over, the hosts
 * fed least recently give their oldest groups back first. */
struct corr_host {
    struct corr_engine *e;
    int64_t newest;              /* INT64_MIN: none yet */
    size_t bytes;                /* corr_bytes and the kept matches' when last counted */
    uint32_t fed_prev, fed_next; /* the list by last feed; NO_HOST ends it */
    struct corr_keep fed;        /* rebuilding: the matches fed, within the lateness */
    int64_t kept_from;           /* fed holds every match fed from this key on (INT64_MIN: all) */
    uint8_t mark;                /* MARK_*: during one batch */
    struct quiet_clock q;        /* corr_stream_quiet's */
};

#define NO_HOST UINT32_MAX

#define READ_HERE     1 /* a correlation this stream evaluates reads the rule */
#define READ_SPANNING 2 /* one spanning hosts does, evaluated elsewhere (forwarded) */

struct corr_stream {
    const struct stoat_ruleset *rs;
    enum stoat_level min_level; /* firings below are not reported */
    struct stoat_hunt_stats *stats;
    corr_alert_fn emit;
    void *emit_ctx;
    enum corr_part part;
    struct corr_host *eng;
    size_t neng, capeng;
    struct strmap eng_of;     /* CORR_PART_HOSTS: host name -> index into eng */
    struct corr_engine *plan; /* CORR_PART_HOSTS: never fed; the hosts' engines share its tables */
    size_t eng_bytes;         /* sum of the engines' bytes, the plan's included */
    uint32_t fed_newest, fed_oldest;
    bool *skip;     /* per correlation: not evaluated here */
    uint8_t *reads; /* per rule: READ_* */
    corr_match_fn fwd;
    void *fwd_ctx;
    struct strmap rule_of; /* CORR_PART_SPANNING: rule id -> index */
    bool corr_live;
    struct corr_opts corr_opts;
    struct fieldtab corr_names;     /* the fields correlations read */
    struct corr_keep pend;          /* offline: matches kept until the end (or idle) */
    uint64_t seq;                   /* matches taken: input order */
    bool rebuild;                   /* a fleet worker's: a host's late match rebuilds its engine */
    int64_t corr_last_time;         /* for matches without a time */
    struct corr_evidence *evidence; /* a ring of the unreported matches fed lately */
    uint64_t nevidence;
    struct strmap files; /* the names evidence's places point to (EVIDENCE_FILES_MAX) */
};

/* The stream's copy of a file's or format's name (NULL: none, or the cap reached). */
static const char *kept_name(struct corr_stream *s, const char *name)
{
    if (!name)
        return NULL;
    size_t n = strlen(name);
    const char *k = strmap_key(&s->files, name, n);
    if (k || s->files.count >= EVIDENCE_FILES_MAX)
        return k;
    bool added;
    return strmap_upsert(&s->files, name, n, 0, &added)->key;
}

/* A match's place in its file, as evidence keeps it. */
static struct stoat_record_pos kept_pos(struct corr_stream *s, const struct stoat_record_pos *pos)
{
    if (!pos || !pos->file)
        return (struct stoat_record_pos){0};
    struct stoat_record_pos k = *pos;
    k.file = kept_name(s, pos->file);
    k.format = k.file ? kept_name(s, pos->format) : NULL;
    return k.file ? k : (struct stoat_record_pos){0};
}

static uint64_t note_evidence(struct corr_stream *s, uint32_t rule, int64_t t, const char *summary, size_t n,
                              struct stoat_record_pos pos)
{
    if (!s->evidence)
        s->evidence = xcalloc(EVIDENCE_RING, sizeof(*s->evidence));
    uint64_t id = ++s->nevidence;
    struct corr_evidence *e = &s->evidence[id % EVIDENCE_RING];
    free(e->rule);
    free(e->summary);
    const char *title = s->rs->rules[rule].meta.title;
    *e = (struct corr_evidence){
        .id = id, .time_ns = t, .rule = xstrdup(title ? title : "?"), .summary = xstrndup(summary, n), .pos = pos};
    return id | EVIDENCE_BIT;
}

static void free_evidence(struct corr_stream *s)
{
    for (size_t i = 0; s->evidence && i < EVIDENCE_RING; i++) {
        free(s->evidence[i].rule);
        free(s->evidence[i].summary);
    }
    free(s->evidence);
    s->evidence = NULL;
}

static void corr_want(struct corr_stream *s, const char *name)
{
    if (name && *name)
        fieldtab_intern(&s->corr_names, name, strlen(name));
}

/* The renamed view the rule saw this event through (Security 4688 read as
 * process_creation calls SubjectUserName "User"), or NULL. */
static const struct renameset *rule_view(const struct stoat_ruleset *rs, const struct stoat_alert *a, uint32_t rule)
{
    if (!a->channel || !rs->nrsets)
        return NULL;
    char key[ROUTE_KEY_MAX];
    uint32_t cls;
    int64_t eid;
    size_t clen = strlen(a->channel), kl = 0;
    if (clen + 32 >= sizeof(key))
        return NULL;
    if (a->event_id && parse_int64(a->event_id, strlen(a->event_id), &eid))
        kl = route_key(key, sizeof(key), a->channel, clen, true, eid);
    if (!kl || !strmap_get(&rs->routes, key, kl, &cls)) {
        kl = route_key(key, sizeof(key), a->channel, clen, false, 0);
        if (!kl || !strmap_get(&rs->routes, key, kl, &cls))
            return NULL;
    }
    const struct route_class *rc = &rs->classes[cls];
    for (uint32_t g = 0; g < rc->ngroups; g++)
        if (rc->group[g] == rs->rules[rule].group)
            return rc->rset[g] ? &rs->rsets[rc->rset[g]] : NULL;
    return NULL;
}

static bool view_has(const struct stoat_field *v, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (v[i].name_len == len && strncasecmp(v[i].name, name, len) == 0)
            return true;
    return false;
}

static bool renamed_to(const struct renameset *rv, uint32_t id)
{
    for (uint32_t k = 0; rv && id != FIELD_UNKNOWN && k < rv->n; k++)
        if (rv->to[k] == id)
            return true;
    return false;
}

/* The event's fields that correlations read, as the rule saw it: through a
 * renamed view a target name (ProcessId for 4688) is the renamed field's,
 * never the raw field of that name. */
static size_t corr_view(const struct corr_stream *s, const struct stoat_alert *a, uint32_t rule,
                        struct stoat_field out[CORR_VIEW_MAX])
{
    const struct renameset *rv = rule_view(s->rs, a, rule);
    const struct fieldtab *ft = &s->rs->fields;
    size_t n = 0;
    for (size_t i = 0; i < a->nfields && n < CORR_VIEW_MAX; i++) {
        const struct stoat_field *f = &a->fields[i];
        if (fieldtab_lookup(&s->corr_names, f->name, f->name_len) == FIELD_UNKNOWN)
            continue;
        if (rv && renamed_to(rv, fieldtab_lookup(ft, f->name, f->name_len)))
            continue;
        out[n++] = *f;
    }
    for (size_t i = 0; rv && i < a->nfields && n < CORR_VIEW_MAX; i++) {
        uint32_t id = fieldtab_lookup(ft, a->fields[i].name, a->fields[i].name_len);
        for (uint32_t k = 0; id != FIELD_UNKNOWN && k < rv->n && n < CORR_VIEW_MAX; k++) {
            if (rv->from[k] != id)
                continue;
            const char *to = fieldtab_name(ft, rv->to[k]);
            size_t tl = strlen(to);
            if (fieldtab_lookup(&s->corr_names, to, tl) == FIELD_UNKNOWN || view_has(out, n, to, tl))
                continue;
            out[n] = a->fields[i];
            out[n].name = to;
            out[n].name_len = (uint32_t)tl;
            n++;
        }
    }
    return n;
}

static void on_corr_fire(void *ctx, const struct corr_fire *f)
{
    struct corr_stream *s = ctx;
    if (f->meta->level < s->min_level)
        return;
    struct stoat_field gf[32];
    size_t ng = f->ngroup < 32 ? f->ngroup : 32;
    for (size_t i = 0; i < ng; i++)
        gf[i] = (struct stoat_field){.name = f->group_names[i],
                                     .name_len = (uint32_t)strlen(f->group_names[i]),
                                     .value = f->group_values[i] ? f->group_values[i] : "",
                                     .value_len = f->group_values[i] ? (uint32_t)strlen(f->group_values[i]) : 0,
                                     .type = STOAT_V_STRING};
    uint64_t ids[64];
    struct stoat_corr_evidence ev[64];
    size_t nids = 0, nev = 0;
    for (size_t i = 0; i < f->nalert_ids; i++) {
        uint64_t id = f->alert_ids[i];
        if (!(id & EVIDENCE_BIT)) {
            if (nids < 64)
                ids[nids++] = id;
            continue;
        }
        const struct corr_evidence *e = s->evidence ? &s->evidence[(id & ~EVIDENCE_BIT) % EVIDENCE_RING] : NULL;
        if (e && e->id == (id & ~EVIDENCE_BIT) && nev < 64)
            ev[nev++] = (struct stoat_corr_evidence){
                .time_ns = e->time_ns, .rule = e->rule, .summary = e->summary, .pos = e->pos};
    }
    struct stoat_corr_detail d = {
        .type = s->rs->corrs[f->corr].corr.type,
        .value = f->value,
        .first_ns = f->first_ns,
        .last_ns = f->last_ns,
        .group_names = f->group_names,
        .group_values = f->group_values,
        .ngroup = f->ngroup,
        .alert_ids = ids,
        .nalert_ids = nids,
        .evidence = ev,
        .nevidence = nev,
    };
    char ts[32];
    bool timed = f->last_ns != INT64_MIN && f->last_ns != INT64_MAX;
    if (timed)
        format_time_ns(f->last_ns, ts);
    struct stoat_alert a = {
        .rule = f->meta,
        .correlation = f->meta,
        .corr = &d,
        .timestamp = timed ? ts : NULL,
        .time_ns = timed ? f->last_ns : INT64_MIN,
        .host = f->host,
        .fields = gf,
        .nfields = ng,
    };
    s->stats->corr_fired++;
    s->emit(s->emit_ctx, &a);
}

/* The host's entry (CORR_PART_HOSTS; else the one engine's), made when new. */
static uint32_t host_index(struct corr_stream *s, const char *host)
{
    uint32_t i = 0;
    if (s->part != CORR_PART_HOSTS)
        return 0;
    const char *h = host ? host : "";
    size_t n = strlen(h);
    if (!strmap_get(&s->eng_of, h, n, &i)) {
        i = (uint32_t)s->neng;
        strmap_put(&s->eng_of, h, n, i);
        XGROW(s->eng, s->capeng, s->neng + 1);
        s->eng[s->neng++] =
            (struct corr_host){.newest = INT64_MIN, .kept_from = INT64_MIN, .fed_prev = NO_HOST, .fed_next = NO_HOST};
    }
    return i;
}

static struct corr_host *engine_for(struct corr_stream *s, const char *host)
{
    uint32_t i = host_index(s, host);
    if (!s->eng[i].e) /* new, or given back to stay within the cap */
        s->eng[i].e = corr_create_like(s->plan);
    return &s->eng[i];
}

static void fed_unlink(struct corr_stream *s, uint32_t i)
{
    struct corr_host *h = &s->eng[i];
    if (h->fed_prev != NO_HOST)
        s->eng[h->fed_prev].fed_next = h->fed_next;
    else if (s->fed_newest == i)
        s->fed_newest = h->fed_next;
    if (h->fed_next != NO_HOST)
        s->eng[h->fed_next].fed_prev = h->fed_prev;
    else if (s->fed_oldest == i)
        s->fed_oldest = h->fed_prev;
    h->fed_prev = h->fed_next = NO_HOST;
}

static void fed_now(struct corr_stream *s, uint32_t i)
{
    if (s->fed_newest == i)
        return;
    fed_unlink(s, i);
    s->eng[i].fed_next = s->fed_newest;
    if (s->fed_newest != NO_HOST)
        s->eng[s->fed_newest].fed_prev = i;
    s->fed_newest = i;
    if (s->fed_oldest == NO_HOST)
        s->fed_oldest = i;
}

static size_t keep_bytes(const struct corr_keep *k)
{
    return k->b.len + k->n * sizeof(*k->ix);
}

static void keep_free(struct corr_keep *k)
{
    buf_free(&k->b);
    free(k->ix);
    *k = (struct corr_keep){0};
}

static void recount(struct corr_stream *s, struct corr_host *h)
{
    size_t now = corr_bytes(h->e) + keep_bytes(&h->fed);
    s->eng_bytes = s->eng_bytes - h->bytes + now;
    h->bytes = now;
}

static void add_stats(struct corr_stream *s, const struct corr_engine *e)
{
    struct corr_stats cs;
    corr_get_stats(e, &cs);
    s->stats->corr_late += cs.late_dropped;
    s->stats->corr_evicted += cs.evicted_groups + cs.evicted_events;
    s->stats->corr_unusable += cs.unusable;
}

/* Drops the first kept matches (the oldest: offsets rise with the index)
 * until `need` bytes are free or none is left; returns how many went, and
 * the newest key of those in *last. */
static size_t keep_drop_head(struct corr_keep *k, size_t need, int64_t *last)
{
    size_t d = 0, freed = 0;
    while (d < k->n && freed < need) {
        freed += k->ix[d].len + sizeof(*k->ix);
        if (k->ix[d].key > *last)
            *last = k->ix[d].key;
        d++;
    }
    if (d == k->n) {
        keep_free(k);
        return d;
    }
    size_t skip = k->ix[d].off;
    memmove(k->b.p, k->b.p + skip, k->b.len - skip);
    k->b.len -= skip;
    memmove(k->ix, k->ix + d, (k->n - d) * sizeof(*k->ix));
    k->n -= d;
    for (size_t i = 0; i < k->n; i++)
        k->ix[i].off -= skip;
    return d;
}

/* Host i's oldest kept matches go for memory (need bytes): a late match
 * before what is left can no longer rebuild its windows (it is late, as
 * without keeping) until the host starts anew (keep_cap). */
static void unkeep(struct corr_stream *s, uint32_t i, size_t need)
{
    struct corr_host *h = &s->eng[i];
    int64_t last = INT64_MIN;
    s->stats->corr_unkept += keep_drop_head(&h->fed, need, &last);
    int64_t from = last < INT64_MAX ? last + 1 : INT64_MAX;
    if (last != INT64_MIN && from > h->kept_from)
        h->kept_from = from;
    recount(s, h);
}

/* Back under the cap: from the hosts fed least recently, each one's kept
 * matches (only a late match needs them), then its groups; the host being
 * fed (cur) last of all. A host left without groups gives its engine
 * back too (its fixed part counts when thousands of hosts go quiet); the
 * next match makes a new one, and the host's newest event is kept here. */
static void keep_cap(struct corr_stream *s, uint32_t cur)
{
    size_t cap = s->corr_opts.max_bytes;
    for (uint32_t i = s->fed_oldest; i != NO_HOST && s->eng_bytes > cap;) {
        uint32_t prev = s->eng[i].fed_prev;
        struct corr_host *h = &s->eng[i];
        if (i != cur && h->fed.n)
            unkeep(s, i, s->eng_bytes - cap);
        if (i != cur && h->e && s->eng_bytes > cap) {
            size_t over = s->eng_bytes - cap, eb = corr_bytes(h->e);
            corr_trim(h->e, eb > over ? eb - over : 0);
            struct corr_stats cs;
            corr_get_stats(h->e, &cs);
            if (!cs.groups) { /* the host starts anew: what it keeps from now on is whole */
                add_stats(s, h->e);
                corr_destroy(h->e);
                h->e = NULL;
                fed_unlink(s, i);
                s->stats->corr_unkept += h->fed.n;
                keep_free(&h->fed);
                h->kept_from = INT64_MIN;
            }
            recount(s, h);
        }
        i = prev;
    }
    if (s->eng_bytes > cap && cur != NO_HOST) {
        struct corr_host *h = &s->eng[cur];
        size_t over = s->eng_bytes - cap, eb = corr_bytes(h->e);
        corr_trim(h->e, eb > over ? eb - over : 0);
        recount(s, h);
    }
}

static void corr_feed_now(struct corr_stream *s, const struct corr_input *in)
{
    struct corr_host *h = engine_for(s, in->host);
    if (in->time_ns != INT64_MIN && in->time_ns > h->newest)
        h->newest = in->time_ns;
    corr_feed(h->e, in, on_corr_fire, s);
    h->q.active = true;
    uint32_t i = (uint32_t)(h - s->eng);
    fed_now(s, i);
    recount(s, h);
    if (s->eng_bytes > s->corr_opts.max_bytes)
        keep_cap(s, i);
}

static void put32(struct buf *b, uint32_t v)
{
    buf_put(b, &v, sizeof v);
}
static void put64(struct buf *b, uint64_t v)
{
    buf_put(b, &v, sizeof v);
}
static uint32_t get32(const char **p)
{
    uint32_t v;
    memcpy(&v, *p, sizeof v);
    *p += sizeof v;
    return v;
}
static uint64_t get64(const char **p)
{
    uint64_t v;
    memcpy(&v, *p, sizeof v);
    *p += sizeof v;
    return v;
}

/* An evidence match's place in a kept record: its names as the stream's
 * copies (kept_name: they live as long as the stream), and three numbers. */
#define POS_BYTES 40
static void put_pos(struct buf *b, struct stoat_record_pos pos)
{
    put64(b, (uint64_t)(uintptr_t)pos.file);
    put64(b, (uint64_t)(uintptr_t)pos.format);
    put64(b, pos.record);
    put64(b, pos.line);
    put64(b, pos.offset);
}
static void get_pos(const char **p, struct stoat_record_pos *pos)
{
    pos->file = (const char *)(uintptr_t)get64(p);
    pos->format = (const char *)(uintptr_t)get64(p);
    pos->record = get64(p);
    pos->line = get64(p);
    pos->offset = get64(p);
}

static int kept_cmp(const void *x, const void *y)
{
    const struct corr_kept *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

/* Kept match i of k into its host's engine. */
static void feed_one(struct corr_stream *s, const struct corr_keep *k, size_t i)
{
    struct stoat_field view[CORR_VIEW_MAX];
    const char *p = k->b.p + k->ix[i].off;
    struct corr_input in = {.rule = get32(&p)};
    in.alert_id = get64(&p);
    in.time_ns = (int64_t)get64(&p);
    uint32_t hl = get32(&p), nf = get32(&p), gl = get32(&p);
    in.host = hl ? p : NULL;
    p += hl ? hl + 1 : 0;
    const char *glance = p;
    p += gl;
    for (uint32_t f = 0; f < nf; f++) {
        view[f].name_len = get32(&p);
        view[f].value_len = get32(&p);
        view[f].type = (uint8_t)*p++;
        view[f].name = p;
        p += view[f].name_len;
        view[f].value = p;
        p += view[f].value_len;
    }
    if (!in.alert_id) {
        struct stoat_record_pos pos;
        get_pos(&p, &pos);
        in.alert_id = note_evidence(s, in.rule, in.time_ns, glance, gl, pos);
    }
    in.fields = view;
    in.nfields = nf;
    corr_feed_now(s, &in);
}

/* ------------------------------------------- rebuilding (a fleet worker)
 *
 * A host's events may reach the worker out of order: a publisher whose
 * batch timed out (a NATS node died) spools it and sends its newer batches
 * first. Matches are fed when the worker goes idle, which also moves the
 * host's clock on; a sliding window that moved on takes no match from
 * before it, so the older batch, come last, would lose what a hunt over the
 * host's log finds. So each host keeps the matches it was fed (as kept
 * here: only the fields correlations read), back to the lateness behind
 * its newest, within the stream's memory cap (host by host from the one
 * fed least recently, its kept matches go before its groups: keep_cap).
 * When a batch brings a host a match older than what it was fed, its
 * engine is made anew and fed every kept match in time order, as a hunt
 * would be; a match older than what the cap left kept is only late, as
 * before. A window that the later matches alone made fire before the
 * earlier came stays fired (a stream does not take back). What fires again is known to the store by
 * rule, group and window (the centre asks it), so it is not stored twice.
 * The cross-host role's stream (CORR_PART_SPANNING, fleet/xcorr.c) is the
 * same with one engine: the worker holding one host may run behind the
 * others. */

#define MARK_FED    1 /* the host has matches in the batch */
#define MARK_LATE   2 /* some older than it was fed: rebuilt */
#define MARK_DIRECT 4 /* late, but older than its kept matches: fed as it comes (late) */

static void keep_copy(struct corr_keep *to, const struct corr_keep *from, size_t i)
{
    struct corr_kept e = from->ix[i];
    XGROW(to->ix, to->cap, to->n + 1);
    to->ix[to->n++] = (struct corr_kept){.key = e.key, .seq = e.seq, .off = to->b.len, .len = e.len};
    buf_put(&to->b, from->b.p + e.off, e.len);
}

/* The kept matches in time order, their bytes too (offsets rise again). */
static void keep_sort(struct corr_keep *k)
{
    qsort(k->ix, k->n, sizeof(*k->ix), kept_cmp);
    struct corr_keep sorted = {0};
    for (size_t i = 0; i < k->n; i++)
        keep_copy(&sorted, k, i);
    keep_free(k);
    *k = sorted;
}

/* Forgets the matches before cut: no window can take them any more.
 * Returns how many went. */
static size_t keep_prune(struct corr_keep *k, int64_t cut)
{
    if (!k->n || k->ix[0].key >= cut)
        return 0;
    size_t was = k->n;
    size_t w = 0, at = 0;
    for (size_t i = 0; i < k->n; i++) {
        struct corr_kept e = k->ix[i];
        if (e.key < cut)
            continue;
        memmove(k->b.p + at, k->b.p + e.off, e.len);
        e.off = at;
        at += e.len;
        k->ix[w++] = e;
    }
    k->n = w;
    k->b.len = at;
    return was - w;
}

static const char *kept_host(const struct corr_keep *k, size_t i)
{
    const char *p = k->b.p + k->ix[i].off + 20; /* past rule, alert id, time */
    return get32(&p) ? k->b.p + k->ix[i].off + KEPT_HEAD : NULL;
}

/* Host i's engine anew, fed every kept match in time order. */
static void rebuild(struct corr_stream *s, uint32_t i)
{
    struct corr_host *h = &s->eng[i];
    keep_sort(&h->fed);
    if (h->e) {
        add_stats(s, h->e);
        corr_destroy(h->e);
    }
    h->e = corr_create_like(s->plan);
    h->newest = INT64_MIN;
    recount(s, h);
    s->stats->corr_rebuilt++;
    for (size_t k = 0; k < s->eng[i].fed.n; k++) /* the same host: eng does not move */
        feed_one(s, &s->eng[i].fed, k);
}

/* The batch (time-sorted) host by host: kept, then fed, or a late host
 * rebuilt once; then what the lateness left behind is forgotten. */
static void feed_rebuilding(struct corr_stream *s)
{
    const struct corr_keep *pk = &s->pend;
    uint32_t *hi = xmalloc(pk->n * sizeof(*hi));
    for (size_t i = 0; i < pk->n; i++) {
        hi[i] = host_index(s, kept_host(pk, i));
        struct corr_host *h = &s->eng[hi[i]];
        h->mark |= MARK_FED;
        if (h->e && h->newest != INT64_MIN && pk->ix[i].key < h->newest) /* no engine: no state to miss it */
            h->mark |= MARK_LATE;
    }
    for (size_t i = 0; i < pk->n; i++) {
        keep_copy(&s->eng[hi[i]].fed, pk, i);
        if (!(s->eng[hi[i]].mark & MARK_LATE))
            feed_one(s, pk, i);
    }
    for (size_t i = 0; i < pk->n; i++) {
        struct corr_host *h = &s->eng[hi[i]];
        if ((h->mark & (MARK_LATE | MARK_DIRECT)) == MARK_LATE) {
            if (pk->ix[i].key < h->kept_from) { /* its first in the batch: the oldest */
                h->mark |= MARK_DIRECT;
            } else {
                h->mark &= (uint8_t)~MARK_LATE;
                rebuild(s, hi[i]);
            }
        }
        if (s->eng[hi[i]].mark & MARK_DIRECT)
            feed_one(s, pk, i);
    }
    for (size_t i = 0; i < pk->n; i++) {
        struct corr_host *h = &s->eng[hi[i]];
        if (!h->mark)
            continue;
        h->mark = 0;
        int64_t cut = h->newest != INT64_MIN && h->newest > INT64_MIN + s->corr_opts.lateness_ns
                          ? h->newest - s->corr_opts.lateness_ns
                          : INT64_MIN;
        if (keep_prune(&h->fed, cut) && cut > h->kept_from)
            h->kept_from = cut;
        recount(s, h);
    }
    if (s->eng_bytes > s->corr_opts.max_bytes)
        keep_cap(s, NO_HOST);
    free(hi);
}

/* Feeds the kept matches in time order and forgets them. */
static void corr_feed_kept(struct corr_stream *s)
{
    if (!s->pend.n)
        return;
    qsort(s->pend.ix, s->pend.n, sizeof(*s->pend.ix), kept_cmp);
    if (s->rebuild)
        feed_rebuilding(s);
    else
        for (size_t i = 0; i < s->pend.n; i++)
            feed_one(s, &s->pend, i);
    s->stats->corr_batches++;
    s->pend.n = 0;
    buf_clear(&s->pend.b);
}

/* One match into the engines: fed now (live) or kept to be fed in time
 * order. glance: the event's summary when it was not reported. */
static void take(struct corr_stream *s, uint32_t rule, uint64_t alert_id, int64_t time_ns, const char *host,
                 const struct stoat_field *view, size_t nf, const char *glance, size_t glen,
                 const struct stoat_record_pos *pos)
{
    if (s->corr_live) {
        if (!alert_id)
            alert_id = note_evidence(s, rule, time_ns, glance ? glance : "", glen, kept_pos(s, pos));
        struct corr_input in = {
            .rule = rule, .alert_id = alert_id, .time_ns = time_ns, .fields = view, .nfields = nf, .host = host};
        corr_feed_now(s, &in);
        return;
    }
    if (time_ns != INT64_MIN)
        s->corr_last_time = time_ns;
    size_t need = 32;
    for (size_t i = 0; i < nf; i++)
        need += 9 + view[i].name_len + view[i].value_len;
    need += (host ? strlen(host) + 1 : 0) + glen + (alert_id ? 0 : POS_BYTES);
    if (s->pend.b.len && s->pend.b.len + need > s->corr_opts.max_bytes)
        corr_feed_kept(s);
    XGROW(s->pend.ix, s->pend.cap, s->pend.n + 1);
    struct corr_kept *k = &s->pend.ix[s->pend.n++];
    *k = (struct corr_kept){.key = s->corr_last_time, .seq = s->seq++, .off = s->pend.b.len};
    struct buf *b = &s->pend.b;
    put32(b, rule);
    put64(b, alert_id);
    put64(b, (uint64_t)time_ns);
    size_t hl = host ? strlen(host) : 0;
    put32(b, (uint32_t)hl);
    put32(b, (uint32_t)nf);
    put32(b, (uint32_t)glen);
    if (hl) {
        buf_put(b, host, hl);
        buf_putc(b, 0);
    }
    buf_put(b, glance, glen);
    for (size_t i = 0; i < nf; i++) {
        put32(b, view[i].name_len);
        put32(b, view[i].value_len);
        buf_putc(b, (char)view[i].type);
        buf_put(b, view[i].name, view[i].name_len);
        buf_put(b, view[i].value, view[i].value_len);
    }
    if (!alert_id) /* evidence: where the match was read, after the fields */
        put_pos(b, kept_pos(s, pos));
    k->len = (uint32_t)(b->len - k->off);
}

/* The match goes to the cross-host role: the fields as the rule saw them
 * (copied: the event's may not end in NUL), the event at a glance. */
static void forward(struct corr_stream *s, const struct stoat_alert *a, uint32_t rule, const struct stoat_field *view,
                    size_t nf)
{
    const struct stoat_rule_meta *meta = &s->rs->rules[rule].meta;
    struct buf b = {0}, glance = {0};
    size_t off[2 * CROSS_MATCH_FIELDS];
    if (nf > CROSS_MATCH_FIELDS)
        nf = CROSS_MATCH_FIELDS;
    for (size_t i = 0; i < nf; i++) {
        off[2 * i] = b.len;
        buf_put(&b, view[i].name, view[i].name_len);
        buf_putc(&b, 0);
        off[2 * i + 1] = b.len;
        buf_put(&b, view[i].value, view[i].value_len);
        buf_putc(&b, 0);
    }
    event_glance(&glance, a->fields, a->nfields, EVIDENCE_GLANCE);
    buf_putc(&glance, 0);
    struct cross_match m = {.host = a->host,
                            .rule_id = meta->id      ? meta->id
                                       : meta->title ? meta->title
                                                     : "?",
                            .time_ns = a->time_ns,
                            .summary = glance.p,
                            .nfields = nf};
    for (size_t i = 0; i < nf; i++) {
        m.names[i] = b.p + off[2 * i];
        m.values[i] = b.p + off[2 * i + 1];
        m.types[i] = view[i].type;
    }
    s->fwd(s->fwd_ctx, &m);
    buf_free(&b);
    buf_free(&glance);
}

void corr_stream_match(struct corr_stream *s, const struct stoat_alert *a, uint32_t rule, uint64_t alert_id)
{
    uint8_t reads = rule < s->rs->nrules ? s->reads[rule] : 0;
    if (!reads)
        return;
    struct stoat_field view[CORR_VIEW_MAX];
    size_t nf = corr_view(s, a, rule, view);
    if ((reads & READ_SPANNING) && s->fwd)
        forward(s, a, rule, view, nf);
    if (!(reads & READ_HERE))
        return;
    struct buf glance = {0};
    if (!alert_id)
        event_glance(&glance, a->fields, a->nfields, EVIDENCE_GLANCE);
    take(s, rule, alert_id, a->time_ns, a->host, view, nf, glance.p, glance.len, &a->pos);
    buf_free(&glance);
}

void corr_stream_remote(struct corr_stream *s, const struct cross_match *m)
{
    uint32_t rule;
    if (!s || !m->rule_id || !strmap_get(&s->rule_of, m->rule_id, strlen(m->rule_id), &rule) ||
        !(s->reads[rule] & READ_HERE)) {
        if (s)
            s->stats->corr_unusable++;
        return;
    }
    struct stoat_field view[CROSS_MATCH_FIELDS];
    size_t nf = m->nfields < CROSS_MATCH_FIELDS ? m->nfields : CROSS_MATCH_FIELDS;
    for (size_t i = 0; i < nf; i++)
        view[i] = (struct stoat_field){.name = m->names[i],
                                       .name_len = (uint32_t)strlen(m->names[i]),
                                       .value = m->values[i],
                                       .value_len = (uint32_t)strlen(m->values[i]),
                                       .type = m->types[i]};
    const char *g = m->summary ? m->summary : "";
    take(s, rule, 0, m->time_ns, m->host, view, nf, g, strlen(g), NULL);
}

void corr_stream_forward(struct corr_stream *s, corr_match_fn fwd, void *ctx)
{
    if (!s)
        return;
    s->fwd = fwd;
    s->fwd_ctx = ctx;
}

void corr_stream_finish(struct corr_stream *s)
{
    corr_feed_kept(s);
    for (size_t i = 0; i < s->neng; i++) {
        corr_advance(s->eng[i].e, INT64_MAX, on_corr_fire, s);
        recount(s, &s->eng[i]);
        add_stats(s, s->eng[i].e);
    }
}

/* Which rules the correlations read: those evaluated here, and (HOSTS)
 * those spanning hosts, whose matches go on. */
static void note_reads(struct corr_stream *s)
{
    const struct stoat_ruleset *rs = s->rs;
    s->reads = xcalloc(rs->nrules ? rs->nrules : 1, 1);
    for (size_t k = 0; k < rs->ncorrs; k++) {
        const struct correlation *c = &rs->corrs[k];
        for (size_t p = 0; c->rule_index && p < c->corr.nrules; p++) {
            long ix = c->rule_index[p];
            if (ix >= 0 && (size_t)ix < rs->nrules)
                s->reads[ix] |= s->skip && s->skip[k] ? READ_SPANNING : READ_HERE;
        }
    }
    if (s->part == CORR_PART_ALL) /* as before the split: every match the writer hands in */
        memset(s->reads, READ_HERE, rs->nrules);
    for (uint32_t r = 0; s->part == CORR_PART_SPANNING && r < rs->nrules; r++) {
        const struct stoat_rule_meta *m = &rs->rules[r].meta;
        const char *id = m->id ? m->id : m->title;
        if (id && (s->reads[r] & READ_HERE))
            strmap_put(&s->rule_of, id, strlen(id), r);
    }
}

struct corr_stream *corr_stream_create_part(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *o,
                                            enum stoat_level min_level, struct stoat_hunt_stats *stats,
                                            corr_alert_fn emit, void *ctx, enum corr_part part)
{
    if (!rs->ncorrs)
        return NULL;
    struct corr_stream *s = xcalloc(1, sizeof(*s));
    *s = (struct corr_stream){
        .rs = rs, .min_level = min_level, .stats = stats, .emit = emit, .emit_ctx = ctx, .part = part};
    corr_default_opts(&s->corr_opts);
    s->corr_live = o->corr_live;
    s->rebuild = part != CORR_PART_ALL && !o->corr_live;
    if (o->corr_live && o->corr_lateness_ns > 0)
        s->corr_opts.lateness_ns = o->corr_lateness_ns;
    if (!o->corr_live && o->corr_offline_lateness_ns > 0)
        s->corr_opts.lateness_ns = o->corr_offline_lateness_ns;
    if (o->corr_max_bytes)
        s->corr_opts.max_bytes = o->corr_max_bytes;
    s->corr_last_time = INT64_MIN;
    fieldtab_init(&s->corr_names);
    strmap_init(&s->eng_of);
    strmap_init(&s->rule_of);
    strmap_init(&s->files);
    if (part != CORR_PART_ALL) {
        s->skip = xcalloc(rs->ncorrs, sizeof(bool));
        size_t spanning = corr_spanning_hosts(rs, s->skip);
        if (part == CORR_PART_SPANNING) {
            if (!spanning) {
                corr_stream_destroy(s);
                return NULL;
            }
            for (size_t k = 0; k < rs->ncorrs; k++)
                s->skip[k] = !s->skip[k];
        }
        s->corr_opts.skip = s->skip;
    }
    note_reads(s);
    s->fed_newest = s->fed_oldest = NO_HOST;
    if (part == CORR_PART_HOSTS || s->rebuild) { /* engines made anew from it */
        s->plan = corr_create(rs, &s->corr_opts);
        s->eng_bytes = corr_bytes(s->plan);
    }
    if (part != CORR_PART_HOSTS) {
        s->eng = xcalloc(1, sizeof(*s->eng));
        s->eng[0] = (struct corr_host){.e = s->plan ? corr_create_like(s->plan) : corr_create(rs, &s->corr_opts),
                                       .newest = INT64_MIN,
                                       .kept_from = INT64_MIN,
                                       .fed_prev = NO_HOST,
                                       .fed_next = NO_HOST};
        s->neng = s->capeng = 1;
    }
    for (size_t k = 0; k < rs->ncorrs; k++) {
        const struct sigma_correlation *sc = &rs->corrs[k].corr;
        for (size_t i = 0; i < sc->ngroup_by; i++)
            corr_want(s, sc->group_by[i]);
        for (size_t i = 0; i < sc->naliases; i++)
            for (size_t j = 0; j < sc->aliases[i].n; j++)
                corr_want(s, sc->aliases[i].fields[j]);
        corr_want(s, sc->cond.field);
    }
    return s;
}

struct corr_stream *corr_stream_create(const struct stoat_ruleset *rs, const struct stoat_behaviour_opts *o,
                                       enum stoat_level min_level, struct stoat_hunt_stats *stats, corr_alert_fn emit,
                                       void *ctx)
{
    return corr_stream_create_part(rs, o, min_level, stats, emit, ctx, CORR_PART_ALL);
}

void corr_stream_advance(struct corr_stream *s, int64_t now_ns)
{
    for (size_t i = 0; s->corr_live && now_ns != INT64_MIN && i < s->neng; i++) {
        corr_advance(s->eng[i].e, now_ns, on_corr_fire, s);
        recount(s, &s->eng[i]);
    }
}

void corr_stream_idle(struct corr_stream *s, int64_t idle_ns)
{
    if (!s)
        return;
    if (!s->corr_live)
        corr_feed_kept(s); /* what is kept is all there is for now */
    if (idle_ns <= 0)
        return;
    for (size_t i = 0; i < s->neng; i++) {
        int64_t newest = s->eng[i].newest; /* each host's own clock moves on */
        if (newest == INT64_MIN)
            continue;
        int64_t now = newest > INT64_MAX - idle_ns ? INT64_MAX - 1 : newest + idle_ns;
        corr_advance(s->eng[i].e, now, on_corr_fire, s);
        recount(s, &s->eng[i]);
    }
}

void corr_stream_quiet(struct corr_stream *s, int64_t wall_ns)
{
    if (!s)
        return;
    if (!s->corr_live)
        corr_feed_kept(s);
    int64_t to;
    for (size_t i = 0; i < s->neng; i++) {
        struct corr_host *h = &s->eng[i];
        if (quiet_look(&h->q, wall_ns, h->newest, &to) && h->e) {
            corr_advance(h->e, to, on_corr_fire, s);
            recount(s, h);
        }
    }
}

size_t corr_stream_bytes(const struct corr_stream *s)
{
    return s ? s->eng_bytes : 0;
}

size_t corr_stream_kept(const struct corr_stream *s)
{
    size_t n = 0;
    for (size_t i = 0; s && i < s->neng; i++)
        n += s->eng[i].fed.n;
    return n;
}

size_t corr_stream_engines(const struct corr_stream *s)
{
    return s ? s->neng : 0;
}

void corr_stream_destroy(struct corr_stream *s)
{
    if (!s)
        return;
    free_evidence(s);
    for (size_t i = 0; i < s->neng; i++) {
        corr_destroy(s->eng[i].e);
        keep_free(&s->eng[i].fed);
    }
    corr_destroy(s->plan); /* after the engines sharing its tables */
    free(s->eng);
    strmap_free(&s->eng_of);
    strmap_free(&s->rule_of);
    strmap_free(&s->files);
    free(s->skip);
    free(s->reads);
    fieldtab_free(&s->corr_names);
    keep_free(&s->pend);
    free(s);
}
