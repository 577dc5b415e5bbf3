/* JSON lines and CSV output. The JSON form nests what belongs together
 * (rule, source, event) and keeps event values typed: numbers stay numbers.
 * A field that occurs several times in an event becomes a list. The event
 * object itself is event/render.c's, because the store keeps the same one. */
#include <stdint.h>
#include <stdio_ext.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "event/render.h"
#include "stoat/sinks.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/mem.h"
#include "util/text.h"

/* A rule's part of its alerts, as written the last time (stoat_alert's rule_serial). */
struct rule_json {
    uint64_t serial;
    const struct stoat_rule_meta *meta;
    char *p;
    size_t len;
};

struct jsonl {
    FILE *out;
    bool caller_locks;  /* out's locking is its owner's (FSETLOCKING_BYCALLER): no lock per line */
    stoat_line_fn line; /* instead of out: each line handed over (the fleet's publisher) */
    void *line_ctx;
    struct buf b;
    /* What alerts repeat, kept as written: the rule's part by the rule's
     * index (one ruleset at a time: a rule of another drops them all), and
     * the last event's part (an attack's event alerts for several rules). */
    struct rule_json *rules;
    size_t nrules, rules_cap;
    uint64_t rules_of;      /* the ruleset part of their serials */
    struct buf head, event; /* its time and host, and what follows its rule to the line's end */
    uint64_t event_serial;
    /* The start of the source object ("file" and "format"), as written for
     * the last alert: a file's events all begin it alike. */
    char *source_file, *source_format; /* copies: the alert's may be freed after it */
    struct buf source;
    /* Blocks (stoat_sink_jsonl_blocks): b gathers the lines, written to fd
     * once block bytes wait, not copied into out's buffer first. An event's
     * part is then kept where it was written in b, at event_at (before
     * written_to when carried over a block's write), not in event. */
    int fd; /* -1: lines go through out */
    size_t block, written_to, event_at;
};

/* Where a line begins: b emptied, unless it gathers a block. */
static void line_start(struct jsonl *j)
{
    if (j->fd < 0)
        buf_clear(&j->b);
}

/* The lines gathered to fd, after what out holds (written before them); the
 * last event's part stays at b's start for its next alerts. */
static stoat_err write_block(struct jsonl *j)
{
    struct buf *b = &j->b;
    bool ok = fflush(j->out) == 0;
    ok = fs_write_all(j->fd, b->p + j->written_to, b->len - j->written_to) && ok;
    size_t keep = j->event_serial ? j->event.len : 0;
    if (keep)
        memmove(b->p, b->p + j->event_at, keep);
    j->event_at = 0;
    b->len = j->written_to = keep;
    if (b->p)
        b->p[b->len] = 0;
    return ok ? STOAT_OK : STOAT_ERR_IO;
}

static void forget_rules(struct jsonl *j)
{
    for (size_t i = 0; i < j->nrules; i++)
        free(j->rules[i].p);
    free(j->rules);
    j->rules = NULL;
    j->nrules = j->rules_cap = 0;
}

/* The line in j->b to its file or its taker; host is the record's (NULL when none). */
static stoat_err emit(struct jsonl *j, const char *host)
{
    if (j->line)
        return j->line(j->line_ctx, host, j->b.p, j->b.len);
    if (j->fd >= 0)
        return j->b.len - j->written_to >= j->block ? write_block(j) : STOAT_OK;
    return fwrite(j->b.p, 1, j->b.len, j->out) == j->b.len ? STOAT_OK : STOAT_ERR_IO;
}

/* The line that is j->b and then tail: to a file as two pieces, so that
 * the tail (an event's part of its alerts, most of a line) is copied only
 * into the file's buffer, not into j->b first. */
static stoat_err emit_with(struct jsonl *j, const char *host, const struct buf *tail)
{
    if (j->line) {
        buf_put(&j->b, tail->p, tail->len);
        return emit(j, host);
    }
    if (!j->caller_locks)
        flockfile(j->out); /* the two pieces together, as one fwrite would be */
    bool ok = fwrite_unlocked(j->b.p, 1, j->b.len, j->out) == j->b.len &&
              fwrite_unlocked(tail->p, 1, tail->len, j->out) == tail->len;
    if (!j->caller_locks)
        funlockfile(j->out);
    return ok ? STOAT_OK : STOAT_ERR_IO;
}

/* Alert ids, comma-separated: an incident lists up to thousands, and a
 * printf each was most of writing it. */
static void put_ids(struct buf *b, const uint64_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (i)
            buf_putc(b, ',');
        buf_put_u64(b, ids[i]);
    }
}

/* ,"key": and v[0..n) as a JSON string. A short value with nothing to
 * escape (most of an alert's: its time, host, channel, event id) goes in
 * with the key after one check of the room, the key's bytes constants once
 * inlined; any other the way buf_json_str writes it. */
static inline __attribute__((always_inline)) void json_keyed_str(struct buf *b, const char *key, size_t keylen,
                                                                 const char *v, size_t n)
{
    if (n <= 64 && b->cap - b->len >= keylen + n + 3) {
        char *o = b->p + b->len;
        if (buf_json_plain_copy(o + keylen + 1, v, n)) {
            memcpy(o, key, keylen);
            o[keylen] = '"';
            o[keylen + n + 1] = '"';
            o[keylen + n + 2] = 0;
            b->len += keylen + n + 2;
            return;
        }
    }
    buf_put(b, key, keylen);
    buf_json_str(b, v, n);
}

/* ,"key": and the string or null. The key is a literal (ours: nothing to
 * escape), its quotes and colon joined to it when compiled: one copy of a
 * known length, not three measured ones. */
static inline __attribute__((always_inline)) void json_opt_strn(struct buf *b, const char *key, size_t keylen,
                                                                const char *v)
{
    if (v) {
        json_keyed_str(b, key, keylen, v, strlen(v));
    } else {
        buf_put(b, key, keylen);
        buf_put(b, "null", 4);
    }
}
#define json_opt_str(b, key, v) json_opt_strn(b, ",\"" key "\":", sizeof(",\"" key "\":") - 1, v)

/* json_opt_strn for a string that may come as JSON already (j: its form
 * there, p NULL when not): the key and the form after one check of the
 * room, the key's bytes constants once inlined. */
static inline __attribute__((always_inline)) void json_opt_textn(struct buf *b, const char *key, size_t keylen,
                                                                 const char *v, struct stoat_json_text j)
{
    if (!j.p) {
        json_opt_strn(b, key, keylen, v);
        return;
    }
    if (b->cap - b->len < keylen + j.len + 1)
        buf_reserve(b, keylen + j.len + 1);
    char *o = b->p + b->len;
    memcpy(o, key, keylen);
    memcpy(o + keylen, j.p, j.len);
    b->len += keylen + j.len;
    b->p[b->len] = 0;
}
#define json_opt_text(b, key, v, j) json_opt_textn(b, ",\"" key "\":", sizeof(",\"" key "\":") - 1, v, j)

static void json_source(struct jsonl *j, struct buf *b, const struct stoat_alert *a);

static void json_time(struct buf *b, const char *key, int64_t ns);

/* Where an event was read, as a "source" object's members after its file
 * (json_source writes an alert's with the channel and event id too). */
static void json_place(struct buf *b, const struct stoat_record_pos *pos)
{
    buf_puts(b, ",\"record\":");
    buf_put_u64(b, pos->record);
    buf_puts(b, pos->line ? ",\"line\":" : ",\"offset\":");
    buf_put_u64(b, pos->line ? pos->line : pos->offset);
}

/* A correlation's evidence event's source: {"file", "format", "record", "line" or "offset"}. */
static void json_evidence_source(struct buf *b, const struct stoat_record_pos *pos)
{
    buf_puts(b, "\"source\":{\"file\":");
    buf_json_str(b, pos->file, strlen(pos->file));
    json_opt_str(b, "format", pos->format);
    json_place(b, pos);
    buf_putc(b, '}');
}

/* The evidence event that completed a correlation (the newest at its
 * window's last time, its place known), which the alert names as its
 * source; NULL when a reported alert completed it (in "alerts", with its
 * own source) or the place is not known. */
static const struct stoat_record_pos *corr_source(const struct stoat_corr_detail *d)
{
    for (size_t i = d ? d->nevidence : 0; i-- > 0;)
        if (d->evidence[i].time_ns == d->last_ns)
            return d->evidence[i].pos.file ? &d->evidence[i].pos : NULL;
    return NULL;
}

/* What a correlation saw: its type and value, window, groups and the
 * reported alerts inside the window. */
static void json_correlation(struct buf *b, const struct stoat_corr_detail *d)
{
    buf_puts(b, ",\"correlation\":{\"type\":");
    const char *t = stoat_corr_type_name(d->type);
    buf_json_str(b, t, strlen(t));
    buf_printf(b, ",\"value\":%.15g", d->value);
    json_time(b, "first", d->first_ns);
    json_time(b, "last", d->last_ns);
    buf_puts(b, ",\"group\":{");
    for (size_t i = 0; i < d->ngroup; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, d->group_names[i], strlen(d->group_names[i]));
        buf_putc(b, ':');
        if (d->group_values[i])
            buf_json_str(b, d->group_values[i], strlen(d->group_values[i]));
        else
            buf_puts(b, "null");
    }
    buf_puts(b, "},\"alerts\":[");
    put_ids(b, d->alert_ids, d->nalert_ids);
    buf_puts(b, "],\"evidence\":[");
    for (size_t i = 0; i < d->nevidence; i++) {
        buf_puts(b, i ? ",{\"rule\":" : "{\"rule\":");
        buf_json_str(b, d->evidence[i].rule, strlen(d->evidence[i].rule));
        json_time(b, "time", d->evidence[i].time_ns);
        json_opt_str(b, "event", d->evidence[i].summary);
        if (d->evidence[i].pos.file) {
            buf_putc(b, ',');
            json_evidence_source(b, &d->evidence[i].pos);
        }
        buf_putc(b, '}');
    }
    buf_puts(b, "]}");
}

/* The event's fields as one object: as the matching stage rendered them,
 * or rendered here. */
static void fields_json(struct buf *b, const struct stoat_alert *a)
{
    if (a->fields_json)
        buf_put(b, a->fields_json, a->fields_json_len);
    else
        event_json_write(b, a->fields, a->nfields);
}

static void json_rule(struct jsonl *j, const struct stoat_alert *a);
static void json_alert_event(struct jsonl *j, struct buf *b, const struct stoat_alert *a);

/* The event's part of an alert's line, gathering a block: written in place
 * the first time, copied from there for its next alerts (event.len its
 * length). */
static stoat_err block_event(struct jsonl *j, const struct stoat_alert *a, bool known)
{
    struct buf *b = &j->b;
    if (known) {
        size_t n = j->event.len;
        buf_reserve(b, n + 1); /* first: the copy's source is b's own */
        memcpy(b->p + b->len, b->p + j->event_at, n);
        b->len += n;
        b->p[b->len] = 0;
    } else {
        j->event_at = b->len;
        json_alert_event(j, b, a);
        j->event.len = b->len - j->event_at;
        j->event_serial = a->event_serial;
    }
    return emit(j, a->host);
}

static stoat_err jsonl_alert(void *ctx, const struct stoat_alert *a)
{
    struct jsonl *j = ctx;
    struct buf *b = &j->b;
    line_start(j);
    buf_puts(b, "{\"kind\":\"alert\",\"id\":");
    buf_put_u64(b, a->id);
    /* the event's time, host and all after the rule as written for its
     * last alert, when the serial says it is the same event */
    bool keep = a->event_serial && !a->corr, known = keep && a->event_serial == j->event_serial;
    if (known) {
        buf_put(b, j->head.p, j->head.len);
    } else {
        size_t at = b->len;
        char t[32];
        json_opt_str(b, "timestamp", time_rfc3339(a->timestamp, a->time_ns, t));
        json_opt_str(b, "host", a->host);
        if (keep) {
            buf_clear(&j->head);
            buf_put(&j->head, b->p + at, b->len - at);
        }
    }
    json_rule(j, a);
    if (!keep) {
        json_alert_event(j, b, a);
        return emit(j, a->host);
    }
    if (j->fd >= 0)
        return block_event(j, a, known);
    /* the event's part, the line's end included, kept for its next alerts */
    if (!known) {
        buf_clear(&j->event);
        json_alert_event(j, &j->event, a);
        j->event_serial = a->event_serial;
    }
    return emit_with(j, a->host, &j->event);
}

/* The alert's level and rule, as written for the rule's last alert when
 * the serial says it is the same rule. */
static void json_rule(struct jsonl *j, const struct stoat_alert *a)
{
    struct buf *b = &j->b;
    const struct stoat_rule_meta *r = a->rule;
    uint64_t serial = a->rule_serial;
    size_t k = (uint32_t)serial; /* the rule's index + 1 */
    if (serial && k && serial >> 32 != j->rules_of) {
        forget_rules(j);
        j->rules_of = serial >> 32;
    }
    if (serial && k && k <= j->nrules && j->rules[k - 1].serial == serial && j->rules[k - 1].meta == r) {
        buf_put(b, j->rules[k - 1].p, j->rules[k - 1].len);
        return;
    }
    size_t at = b->len;
    json_opt_str(b, "level", stoat_level_name(r->level)[0] ? stoat_level_name(r->level) : NULL);
    buf_puts(b, ",\"rule\":{\"id\":");
    if (r->id)
        buf_json_str(b, r->id, strlen(r->id));
    else
        buf_puts(b, "null");
    json_opt_str(b, "title", r->title);
    json_opt_str(b, "status", stoat_status_name(r->status)[0] ? stoat_status_name(r->status) : NULL);
    buf_puts(b, ",\"tags\":");
    buf_json_strs(b, r->tags.items, r->tags.n);
    buf_puts(b, ",\"attack\":{\"techniques\":");
    buf_json_strs(b, r->attack_ids.items, r->attack_ids.n);
    buf_puts(b, ",\"tactics\":");
    buf_json_strs(b, r->attack_tactics.items, r->attack_tactics.n);
    buf_puts(b, "},\"logsource\":{");
    bool first = true;
    const char *ls[3][2] = {{"product", r->product}, {"category", r->category}, {"service", r->service}};
    for (int i = 0; i < 3; i++)
        if (ls[i][1]) {
            if (!first)
                buf_putc(b, ',');
            first = false;
            buf_putc(b, '"');
            buf_puts(b, ls[i][0]);
            buf_puts(b, "\":");
            buf_json_str(b, ls[i][1], strlen(ls[i][1]));
        }
    buf_putc(b, '}');
    json_opt_str(b, "file", r->file);
    buf_puts(b, "},");
    if (!serial || !k)
        return;
    if (k > j->nrules) {
        XGROW(j->rules, j->rules_cap, k);
        memset(j->rules + j->nrules, 0, (k - j->nrules) * sizeof(*j->rules));
        j->nrules = k;
    }
    struct rule_json *rj = &j->rules[k - 1];
    free(rj->p);
    *rj = (struct rule_json){.serial = serial, .meta = r, .p = xmalloc(b->len - at), .len = b->len - at};
    memcpy(rj->p, b->p + at, rj->len);
}

/* The alert's event, to b: source, correlation, logon, ancestry, fields,
 * and the line's end. */
static void json_alert_event(struct jsonl *j, struct buf *b, const struct stoat_alert *a)
{
    const struct stoat_record_pos *cs = a->pos.file ? NULL : corr_source(a->corr);
    if (a->pos.file)
        json_source(j, b, a);
    else if (cs)
        json_evidence_source(b, cs);
    else
        buf_puts(b, "\"source\":null");
    if (a->corr)
        json_correlation(b, a->corr);
    json_opt_str(b, "logon_id", a->logon_id);
    if (a->nancestry) {
        buf_puts(b, ",\"ancestry\":[");
        for (size_t i = 0; i < a->nancestry; i++) {
            const struct stoat_process *pr = &a->ancestry[i];
            /* the image's key joined to the brace (the first without the comma) */
            if (i)
                json_opt_textn(b, ",{\"image\":", 10, pr->image, pr->image_json);
            else
                json_opt_textn(b, "{\"image\":", 9, pr->image, pr->image_json);
            json_opt_text(b, "command_line", pr->command_line, pr->command_line_json);
            json_opt_text(b, "user", pr->user, pr->user_json);
            json_opt_text(b, "guid", pr->guid, pr->guid_json);
            if (pr->pid >= 0) {
                buf_puts(b, ",\"pid\":");
                buf_put_u64(b, (uint64_t)pr->pid);
            }
            buf_putc(b, '}');
        }
        buf_putc(b, ']');
    }
    buf_puts(b, ",\"event\":");
    fields_json(b, a);
    buf_puts(b, "}\n");
}

static void json_time(struct buf *b, const char *key, int64_t ns)
{
    buf_puts(b, ",\"");
    buf_puts(b, key);
    buf_puts(b, "\":");
    if (ns == INT64_MIN || ns == INT64_MAX) {
        buf_puts(b, "null");
        return;
    }
    char t[32];
    size_t n = format_time_ns(ns, t);
    buf_json_str(b, t, n);
}

/* A fleet incident's hosts (each with its alerts and processes), account
 * and logons; a single host's incident has none of these keys. */
static void json_fleet(struct buf *b, const struct stoat_incident *inc)
{
    buf_puts(b, ",\"hosts\":[");
    for (size_t i = 0; i < inc->nhosts; i++) {
        const struct stoat_incident_host *h = &inc->hosts[i];
        buf_puts(b, i ? ",{\"host\":" : "{\"host\":");
        buf_json_str(b, h->host, strlen(h->host));
        buf_puts(b, ",\"alerts\":[");
        put_ids(b, h->alert_ids, h->nalerts);
        buf_puts(b, "],\"processes\":[");
        for (size_t k = 0; k < h->nprocesses; k++) {
            if (k)
                buf_putc(b, ',');
            buf_json_str(b, h->processes[k], strlen(h->processes[k]));
        }
        buf_puts(b, "]}");
    }
    buf_putc(b, ']');
    json_opt_str(b, "account", inc->account);
    buf_puts(b, ",\"edges\":[");
    for (size_t i = 0; i < inc->nedges; i++) {
        const struct stoat_incident_edge *e = &inc->edges[i];
        buf_puts(b, i ? ",{\"account\":" : "{\"account\":");
        buf_json_str(b, e->account ? e->account : "", e->account ? strlen(e->account) : 0);
        json_opt_str(b, "from", e->from);
        json_opt_str(b, "to", e->to);
        json_opt_str(b, "via", e->via);
        json_time(b, "first", e->first_ns);
        json_time(b, "last", e->last_ns);
        buf_puts(b, e->is_new ? ",\"new\":true}" : ",\"new\":false}");
    }
    buf_putc(b, ']');
}

static stoat_err jsonl_incident(void *ctx, const struct stoat_incident *inc)
{
    struct jsonl *j = ctx;
    struct buf *b = &j->b;
    line_start(j);
    buf_puts(b, "{\"kind\":\"incident\",\"id\":");
    buf_put_u64(b, inc->id);
    json_opt_str(b, "host", inc->host);
    json_opt_str(b, "logon_id", inc->logon_id);
    json_opt_str(b, "title", inc->title);
    buf_puts(b, ",\"score\":");
    buf_put_f0(b, inc->score);
    json_opt_str(b, "level", stoat_level_name(inc->level));
    json_time(b, "first", inc->first_ns);
    json_time(b, "last", inc->last_ns);
    buf_puts(b, ",\"tactics\":[");
    for (size_t i = 0; i < inc->ntactics; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, inc->tactics[i], strlen(inc->tactics[i]));
    }
    buf_puts(b, "],\"alerts\":[");
    put_ids(b, inc->alert_ids, inc->nalerts);
    buf_puts(b, "],\"evidence\":[");
    for (size_t i = 0; i < inc->nevidence; i++) {
        const struct stoat_incident_evidence *ev = &inc->evidence[i];
        buf_puts(b, i ? ",{\"tactic\":" : "{\"tactic\":");
        if (ev->tactic)
            buf_json_str(b, ev->tactic, strlen(ev->tactic));
        else
            buf_puts(b, "null");
        json_time(b, "time", ev->time_ns);
        json_opt_str(b, "text", ev->text);
        buf_putc(b, '}');
    }
    buf_puts(b, "],\"rules\":[");
    for (size_t i = 0; i < inc->nrules; i++) {
        const struct stoat_incident_rule *r = &inc->rules[i];
        buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        if (r->id)
            buf_json_str(b, r->id, strlen(r->id));
        else
            buf_puts(b, "null");
        json_opt_str(b, "title", r->title);
        json_opt_str(b, "level", stoat_level_name(r->level));
        buf_puts(b, ",\"alerts\":");
        buf_put_u64(b, r->alerts);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
    if (inc->nhosts)
        json_fleet(b, inc);
    buf_puts(b, "}\n");
    return emit(j, inc->host);
}

static stoat_err jsonl_end(void *ctx, const struct stoat_hunt_stats *s)
{
    (void)s;
    struct jsonl *j = ctx;
    if (!j->out)
        return STOAT_OK;
    stoat_err e = j->fd >= 0 ? write_block(j) : STOAT_OK;
    return fflush(j->out) == 0 ? e : STOAT_ERR_IO;
}

static void jsonl_destroy(void *ctx)
{
    struct jsonl *j = ctx;
    buf_free(&j->b);
    buf_free(&j->head);
    buf_free(&j->event);
    buf_free(&j->source);
    free(j->source_file);
    free(j->source_format);
    forget_rules(j);
    free(j);
}

void stoat_sink_jsonl(FILE *out, struct stoat_sink *sink)
{
    struct jsonl *j = xcalloc(1, sizeof(*j));
    j->out = out;
    j->fd = -1;
    j->caller_locks = __fsetlocking(out, FSETLOCKING_QUERY) == FSETLOCKING_BYCALLER;
    *sink = (struct stoat_sink){
        .ctx = j, .alert = jsonl_alert, .incident = jsonl_incident, .end = jsonl_end, .destroy = jsonl_destroy};
}

void stoat_sink_jsonl_blocks(FILE *out, size_t block_bytes, struct stoat_sink *sink)
{
    stoat_sink_jsonl(out, sink);
    struct jsonl *j = sink->ctx;
    j->fd = fileno(out);
    if (j->fd < 0)
        return; /* no descriptor (a stream in memory): through out */
    j->block = block_bytes ? block_bytes : (size_t)1 << 20;
    buf_reserve(&j->b, j->block + 4096); /* a block and a line: seldom grown */
}

static bool same_str(const char *x, const char *y)
{
    return x && y ? strcmp(x, y) == 0 : x == y;
}

static void json_source(struct jsonl *j, struct buf *b, const struct stoat_alert *a)
{
    if (j->source_file && strcmp(j->source_file, a->pos.file) == 0 && same_str(j->source_format, a->pos.format)) {
        buf_put(b, j->source.p, j->source.len);
    } else {
        size_t at = b->len;
        buf_puts(b, "\"source\":{\"file\":");
        buf_json_str(b, a->pos.file, strlen(a->pos.file));
        json_opt_str(b, "format", a->pos.format);
        free(j->source_file);
        free(j->source_format);
        j->source_file = xstrdup(a->pos.file);
        j->source_format = a->pos.format ? xstrdup(a->pos.format) : NULL;
        buf_clear(&j->source);
        buf_put(&j->source, b->p + at, b->len - at);
    }
    json_place(b, &a->pos);
    json_opt_str(b, "channel", a->channel);
    json_opt_str(b, "event_id", a->event_id);
    buf_putc(b, '}');
}

/* For the fleet every event has a time, RFC 3339 UTC: the event's own (its
 * written form stays among its fields), else the time it was read, said by
 * "timestamp_received" (a log that carries no time at all). */
static void fleet_time(struct buf *b, const struct stoat_alert *a)
{
    char t[32];
    bool known = a->time_ns != INT64_MIN;
    struct timespec now;
    if (!known)
        clock_gettime(CLOCK_REALTIME, &now);
    format_time_ns(known ? a->time_ns : (int64_t)now.tv_sec * 1000000000LL + now.tv_nsec, t);
    buf_puts(b, ",\"timestamp\":\"");
    buf_puts(b, t);
    buf_putc(b, '"');
    if (!known)
        buf_puts(b, ",\"timestamp_received\":true");
}

static stoat_err dump_event(void *ctx, const struct stoat_alert *a)
{
    struct jsonl *j = ctx;
    struct buf *b = &j->b;
    line_start(j);
    char t[32];
    buf_puts(b, "{\"kind\":\"event\"");
    if (j->line)
        fleet_time(b, a);
    else
        json_opt_str(b, "timestamp", time_rfc3339(a->timestamp, a->time_ns, t));
    json_opt_str(b, "host", a->host);
    buf_putc(b, ',');
    json_source(j, b, a);
    buf_puts(b, ",\"event\":");
    fields_json(b, a);
    buf_puts(b, "}\n");
    return emit(j, a->host);
}

void stoat_sink_dump(FILE *out, struct stoat_sink *sink)
{
    struct jsonl *j = xcalloc(1, sizeof(*j));
    j->out = out;
    j->fd = -1;
    *sink = (struct stoat_sink){.ctx = j, .event = dump_event, .end = jsonl_end, .destroy = jsonl_destroy};
}

void stoat_sink_lines(stoat_line_fn fn, void *ctx, bool events, struct stoat_sink *sink)
{
    struct jsonl *j = xcalloc(1, sizeof(*j));
    j->fd = -1;
    j->line = fn;
    j->line_ctx = ctx;
    *sink = (struct stoat_sink){.ctx = j, .end = jsonl_end, .destroy = jsonl_destroy};
    if (events) {
        sink->event = dump_event;
    } else {
        sink->alert = jsonl_alert;
        sink->incident = jsonl_incident;
    }
}

/* ------------------------------------------------------------------- csv */

struct csv_row {
    int64_t t;
    uint64_t seq;
    char *text;
    size_t len;
};

struct csv {
    FILE *out;
    struct csv_row *rows;
    size_t n, cap;
    struct buf b;
};

static bool header_field(const struct stoat_field *f)
{
    static const char *const skip[] = {"Channel",
                                       "EventID",
                                       "Computer",
                                       "TimeCreated_SystemTime",
                                       "EventRecordID",
                                       "Provider_Name",
                                       "Provider_Guid",
                                       "Keywords",
                                       "Level",
                                       "Task",
                                       "Opcode",
                                       "Version",
                                       "Execution_ProcessID",
                                       "Execution_ThreadID",
                                       "Security_UserID",
                                       NULL};
    for (const char *const *s = skip; *s; s++)
        if (strlen(*s) == f->name_len && memcmp(*s, f->name, f->name_len) == 0)
            return true;
    return false;
}

static stoat_err csv_alert(void *ctx, const struct stoat_alert *a)
{
    struct csv *c = ctx;
    struct buf *b = &c->b;
    buf_clear(b);
    const struct stoat_rule_meta *r = a->rule;
    char t[32];
    const char *when = time_rfc3339(a->timestamp, a->time_ns, t);
    const char *cols[] = {when ? when : "", a->host ? a->host : "", stoat_level_name(r->level), r->id ? r->id : "",
                          r->title ? r->title : ""};
    for (size_t i = 0; i < 5; i++) {
        buf_csv_field(b, cols[i], strlen(cols[i]));
        buf_putc(b, ',');
    }
    struct buf tmp = {0};
    for (size_t i = 0; i < r->attack_tactics.n; i++)
        buf_printf(&tmp, "%s%s", i ? " " : "", r->attack_tactics.items[i]);
    buf_csv_field(b, tmp.p ? tmp.p : "", tmp.len);
    buf_putc(b, ',');
    buf_clear(&tmp);
    for (size_t i = 0; i < r->attack_ids.n; i++)
        buf_printf(&tmp, "%s%s", i ? " " : "", r->attack_ids.items[i]);
    buf_csv_field(b, tmp.p ? tmp.p : "", tmp.len);
    buf_putc(b, ',');
    const char *ch = a->channel ? a->channel : "", *eid = a->event_id ? a->event_id : "";
    buf_csv_field(b, ch, strlen(ch));
    buf_putc(b, ',');
    buf_csv_field(b, eid, strlen(eid));
    buf_putc(b, ',');
    buf_csv_field(b, a->pos.file ? a->pos.file : "", a->pos.file ? strlen(a->pos.file) : 0);
    /* Record: the event's own EventRecordID, the number Windows tools and
     * other timelines show (empty when the event has none); Line: where a
     * text input holds it, empty for EVTX and other binary inputs, which
     * have no lines (the record id finds the event there). */
    buf_putc(b, ',');
    for (size_t i = 0; i < a->nfields; i++)
        if (a->fields[i].name_len == 13 && memcmp(a->fields[i].name, "EventRecordID", 13) == 0) {
            buf_csv_field(b, a->fields[i].value, a->fields[i].value_len);
            break;
        }
    buf_putc(b, ',');
    if (a->pos.line)
        buf_printf(b, "%llu", (unsigned long long)a->pos.line);
    buf_putc(b, ',');
    buf_clear(&tmp);
    for (size_t i = 0; i < a->nfields; i++) {
        const struct stoat_field *f = &a->fields[i];
        if (header_field(f) || f->type == STOAT_V_NULL || f->value_len == 0)
            continue; /* details say what the event holds: no empty fields */
        if (tmp.len)
            buf_puts(&tmp, " | ");
        buf_put(&tmp, f->name, f->name_len);
        buf_puts(&tmp, ": ");
        buf_put(&tmp, f->value, f->value_len);
    }
    buf_csv_field(b, tmp.p ? tmp.p : "", tmp.len);
    buf_free(&tmp);
    buf_puts(b, "\r\n");
    XGROW(c->rows, c->cap, c->n + 1);
    c->rows[c->n] = (struct csv_row){.t = a->time_ns, .seq = c->n, .text = xstrndup(b->p, b->len), .len = b->len};
    c->n++;
    return STOAT_OK;
}

static int cmp_row(const void *x, const void *y)
{
    const struct csv_row *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static stoat_err csv_end(void *ctx, const struct stoat_hunt_stats *s)
{
    (void)s;
    struct csv *c = ctx;
    stoat_err e = STOAT_OK;
    qsort(c->rows, c->n, sizeof(*c->rows), cmp_row);
    static const char header[] =
        "Timestamp,Host,Level,RuleId,RuleTitle,Tactics,Techniques,Channel,EventID,File,Record,Line,Details\r\n";
    if (fwrite(header, 1, sizeof(header) - 1, c->out) != sizeof(header) - 1)
        e = STOAT_ERR_IO;
    for (size_t i = 0; i < c->n; i++)
        if (fwrite(c->rows[i].text, 1, c->rows[i].len, c->out) != c->rows[i].len)
            e = STOAT_ERR_IO;
    if (fflush(c->out) != 0)
        e = STOAT_ERR_IO;
    return e;
}

static void csv_destroy(void *ctx)
{
    struct csv *c = ctx;
    for (size_t i = 0; i < c->n; i++)
        free(c->rows[i].text);
    free(c->rows);
    buf_free(&c->b);
    free(c);
}

void stoat_sink_csv(FILE *out, struct stoat_sink *sink)
{
    struct csv *c = xcalloc(1, sizeof(*c));
    c->out = out;
    *sink = (struct stoat_sink){.ctx = c, .alert = csv_alert, .end = csv_end, .destroy = csv_destroy};
}
