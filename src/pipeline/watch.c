/* See stoat/watch.h. `stoat watch` as a composition of the pipeline's
 * stages, in one thread:
 *
 *   sensor (source) --events--> matcher (matcher.h) --> consumer (consume.h) --> sinks
 *
 * The sensor's callback builds each event in the matcher's engine context
 * (field names are the sensor's string constants, so their ids are cached by
 * address); the matcher matches it and finds its head, as for a hunt's
 * workers; the results go straight to the same serial stage hunt's writer
 * feeds, with no units between (one thread, nothing to reorder). Live
 * incidents close when a host's chain has been quiet for the gap, measured on
 * the sensor's clock: the wall clock live, the clock the capture recorded
 * when a capture is replayed. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "pipeline/consume.h"
#include "pipeline/matcher.h"
#include "sensor/sensor.h"
#include "stoat/watch.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/text.h"

#define MAX_SINKS  8
#define NAME_CACHE 256
#define STDIO_SEEN 1024

struct name_slot {
    const char *name;
    uint32_t id;
    uint32_t len;
};

struct stoat_watch {
    const struct stoat_ruleset *rs;
    struct stoat_watch_opts opts;
    struct stoat_behaviour_opts bopts; /* the consumer's: correlations live */
    struct sensor *sensor;
    struct matcher m;
    struct consumer con;
    bool con_ready;
    struct stoat_sink sinks[MAX_SINKS];
    size_t nsinks;
    struct stoat_sink events_sink; /* every event (the fleet's publisher), when its event is set */
    struct stoat_hunt_stats hstats;
    struct name_slot names[NAME_CACHE];
    FILE *record;
    struct buf rec;
    struct stoat_field *fields;
    size_t fields_cap;
    uint64_t events, reloads;
    int64_t last_advance;
    /* Per sensor event kind, whether the ruleset reads it at all: 0 not
     * known yet, 1 yes, -1 no (no rule's logsource routes it and it is no
     * process start or end). Routing looks at the channel, event id and
     * product only, which are fixed per kind, so once one event of a kind
     * went nowhere they all do: without --record, such events (forks, most
     * of all) are counted and not built. Reset with the rules. */
    int8_t kind_read[SENSOR_KIND_MAX_];
    uint64_t stdio_seen[STDIO_SEEN]; /* socket keys (0 free) of programs started with a socket as stdio */
};

/* The one error of a create function goes to the caller's diag, as every
 * other problem does. */
static void create_failed(const struct stoat_watch_opts *o, stoat_err e, const char *msg)
{
    if (!o || !o->diag)
        return;
    struct stoat_diag d = {.code = e, .severity = STOAT_SEV_ERROR, .message = msg};
    o->diag(o->diag_ctx, &d);
}

stoat_err stoat_watch_create(const struct stoat_ruleset *rs, const struct stoat_watch_opts *opts,
                             struct stoat_watch **out)
{
    *out = NULL;
    char errbuf[512] = "";
    const size_t errlen = sizeof(errbuf);
    struct stoat_watch *w = xcalloc(1, sizeof(*w));
    w->rs = rs;
    if (opts)
        w->opts = *opts;
    if (w->opts.record_path) {
        w->record = fopen(w->opts.record_path, "a");
        if (!w->record) {
            snprintf(errbuf, errlen, "cannot open %s for the event record", w->opts.record_path);
            create_failed(opts, STOAT_ERR_IO, errbuf);
            free(w);
            return STOAT_ERR_IO;
        }
    }
    struct sensor_opts so = {.watch_paths = w->opts.watch_paths,
                             .nwatch = w->opts.nwatch,
                             .force_fallback = w->opts.force_fallback,
                             .no_default_files = w->opts.no_default_files,
                             .extra_files = w->opts.extra_files,
                             .nextra = w->opts.nextra,
                             .run_as = w->opts.run_as,
                             .capture_path = w->opts.capture_path,
                             .replay_path = w->opts.replay_path,
                             .replay_passes = w->opts.replay_passes};
    if (sensor_open(&so, &w->sensor, errbuf, errlen) != 0) {
        create_failed(opts, STOAT_ERR_UNSUPPORTED, errbuf);
        if (w->record)
            fclose(w->record);
        free(w);
        return STOAT_ERR_UNSUPPORTED;
    }
    matcher_init(&w->m, rs, w->opts.min_level);
    w->bopts = w->opts.behaviour;
    w->bopts.corr_live = true; /* events come as they happen */
    *out = w;
    return STOAT_OK;
}

const char *stoat_watch_mode(const struct stoat_watch *w)
{
    return sensor_mode(w->sensor);
}

stoat_err stoat_watch_add_sink(struct stoat_watch *w, const struct stoat_sink *sink)
{
    if (w->nsinks >= MAX_SINKS || w->con_ready)
        return STOAT_ERR_LIMIT;
    w->sinks[w->nsinks++] = *sink;
    if (sink->begin)
        sink->begin(sink->ctx);
    return STOAT_OK;
}

stoat_err stoat_watch_add_event_sink(struct stoat_watch *w, const struct stoat_sink *sink)
{
    if (w->events_sink.event || !sink->event)
        return STOAT_ERR_LIMIT;
    w->events_sink = *sink;
    if (sink->begin)
        sink->begin(sink->ctx);
    return STOAT_OK;
}

static void ready(struct stoat_watch *w)
{
    if (w->con_ready)
        return;
    consumer_init(&w->con, w->rs, w->sinks, w->nsinks, w->opts.min_level, false, &w->bopts, &w->hstats);
    w->con_ready = true;
}

void stoat_watch_set_rules(struct stoat_watch *w, const struct stoat_ruleset *rs)
{
    if (w->con_ready) /* its regex limit counts, before the rule numbers change */
        engine_regex_limited_add(w->m.eng, &w->con.regex_limited);
    matcher_fini(&w->m);
    matcher_init(&w->m, rs, w->opts.min_level);
    w->rs = rs;
    memset(w->names, 0, sizeof(w->names)); /* ids belong to the ruleset */
    memset(w->kind_read, 0, sizeof(w->kind_read));
    if (w->con_ready)
        consumer_set_ruleset(&w->con, rs);
    w->reloads++;
}

static int add_field(void *ctx, const char *name, const char *value)
{
    struct stoat_watch *w = ctx;
    struct name_slot *s = &w->names[((uintptr_t)name >> 3) % NAME_CACHE];
    if (s->name != name) {
        s->name = name;
        s->len = (uint32_t)strlen(name);
        s->id = engine_field_id(w->m.eng, name, s->len);
    }
    /* the sensor formats some values in a buffer it reuses for the next
     * field: keep a copy for the event's life */
    size_t n = strlen(value);
    char *v = engine_scratch(w->m.eng, n + 1);
    memcpy(v, value, n + 1);
    engine_event_add(w->m.eng, name, s->len, s->id, v, (uint32_t)n, STOAT_V_STRING);
    return 0;
}

static void record_event(struct stoat_watch *w, const struct ev_field *fs, size_t nf)
{
    struct buf *b = &w->rec;
    buf_clear(b);
    buf_putc(b, '{');
    for (size_t i = 0; i < nf; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, fs[i].name, fs[i].name_len);
        buf_putc(b, ':');
        buf_json_str(b, fs[i].val, fs[i].val_len);
    }
    buf_puts(b, "}\n");
    fwrite(b->p, 1, b->len, w->record);
}

/* The process start or end the event is, for the process table. */
static void feed_proc(struct stoat_watch *w, const struct match_result *r, int64_t t)
{
    const char *fv[PF_COUNT];
    uint32_t fl[PF_COUNT];
    for (int f = 0; f < PF_COUNT; f++) {
        fv[f] = r->head.proc[f] ? r->head.proc[f]->val : NULL;
        fl[f] = r->head.proc[f] ? r->head.proc[f]->val_len : 0;
    }
    consumer_proc(&w->con, w->rs->procs[r->spec].end, r->head.host ? r->head.host->val : NULL, t, fv, fl);
}

/* The engine's current event as the alert view sinks and the serial stage
 * read (fields in the watch's reused array). */
static struct stoat_alert event_view(struct stoat_watch *w, const struct match_head *h, int64_t t)
{
    const struct ev_field *fs;
    size_t nf = engine_event_fields(w->m.eng, &fs);
    if (nf > w->fields_cap) {
        w->fields_cap = nf;
        w->fields = xrealloc(w->fields, nf * sizeof(*w->fields));
    }
    for (size_t i = 0; i < nf; i++)
        w->fields[i] = (struct stoat_field){.name = fs[i].name,
                                            .name_len = fs[i].name_len,
                                            .value = fs[i].val,
                                            .value_len = fs[i].val_len,
                                            .type = fs[i].type};
    return (struct stoat_alert){
        .pos = {.file = "live", .format = "sensor", .record = w->events},
        .timestamp = h->time ? h->time->val : NULL,
        .time_ns = t,
        .host = h->host ? h->host->val : NULL,
        .channel = h->channel ? h->channel->val : NULL,
        .event_id = h->event_id ? h->event_id->val : NULL,
        .fields = w->fields,
        .nfields = nf,
    };
}

/* An event with rules passed on, to the serial stage. */
static void feed_event(struct stoat_watch *w, const struct match_result *r, int64_t t)
{
    const struct match_head *h = &r->head;
    struct stoat_alert a = event_view(w, h, t);
    struct actor who = {.guid = h->guid ? h->guid->val : NULL,
                        .pid = h->pid ? consume_pid(h->pid->val, h->pid->val_len) : -1,
                        .logon_id = h->logon_id ? h->logon_id->val : NULL};
    consumer_event(&w->con, &a, r->rules, r->use, r->n, &who);
}

/* Every event to the events sink, matched or not (rule NULL). */
static void pass_event(struct stoat_watch *w, const struct match_head *h, int64_t t)
{
    struct stoat_alert a = event_view(w, h, t);
    w->events_sink.event(w->events_sink.ctx, &a);
}

/* A program started with a socket on its standard streams (a reverse or bind
 * shell) passes that socket on to every command it runs: only the first
 * program with it is news, the later ones are marked StdioInherited=true so
 * that rules leave them to the first one's alert and process tree. Known by
 * the socket's two ends, forgotten when the connection closes; a direct-mapped
 * table (a collision forgets the older socket: its next program counts as
 * new again, an alert too many rather than one missed). */
static uint64_t socket_key(const struct sensor_event *ev)
{
    uint64_t h = hash_bytes(ev->src.addr, sizeof(ev->src.addr),
                            ev->src.port ^ (uint64_t)ev->dst.port << 16 ^ (uint64_t)ev->protocol << 32);
    h = hash_bytes(ev->dst.addr, sizeof(ev->dst.addr), h);
    return h ? h : 1;
}

static bool stdio_inherited(struct stoat_watch *w, const struct sensor_event *ev)
{
    if (ev->kind != SENSOR_SOCK_STDIO && ev->kind != SENSOR_CLOSE_STATS)
        return false;
    uint64_t k = socket_key(ev);
    uint64_t *slot = &w->stdio_seen[k % STDIO_SEEN];
    if (ev->kind == SENSOR_CLOSE_STATS) {
        if (*slot == k)
            *slot = 0;
        return false;
    }
    if (*slot == k)
        return true;
    *slot = k;
    return false;
}

static int on_event(void *ctx, const struct sensor_event *ev)
{
    struct stoat_watch *w = ctx;
    struct engine_ctx *e = w->m.eng;
    w->events++;
    bool inherited = stdio_inherited(w, ev); /* every close counts, read by rules or not */
    int8_t *read = (unsigned)ev->kind < SENSOR_KIND_MAX_ ? &w->kind_read[ev->kind] : NULL;
    if (read && *read < 0 && !w->record && !w->events_sink.event)
        return 0;
    engine_event_begin(e);
    engine_event_product(e, "linux");
    sensor_event_fields(w->sensor, ev, add_field, w);
    if (inherited)
        add_field(w, "StdioInherited", "true");
    if (w->record) {
        const struct ev_field *fs;
        size_t nf = engine_event_fields(e, &fs);
        record_event(w, fs, nf);
    }
    struct engine_counters before, after;
    if (read && !*read)
        engine_counters(e, &before);
    struct match_result r;
    /* publishing every event needs every event's head: "always", and then
     * only the events a rule matched go on to the consumer, as before */
    matcher_run(&w->m, w->events_sink.event != NULL, &r);
    r.passed = r.n > 0;
    if (read && !*read) {
        engine_counters(e, &after);
        *read = after.unrouted == before.unrouted || r.spec >= 0 ? 1 : -1;
    }
    /* UtcTime is the sensor's own ts_ns to the millisecond: no need to parse it back */
    int64_t t = r.head.time ? (int64_t)(ev->ts_ns - ev->ts_ns % 1000000u) : (int64_t)ev->ts_ns;
    if (w->events_sink.event)
        pass_event(w, &r.head, t);
    if (!r.passed && r.spec < 0)
        return 0; /* no rule passed on, no process start or end */
    if (r.spec >= 0)
        feed_proc(w, &r, t);
    if (r.passed)
        feed_event(w, &r, t);
    return 0;
}

int stoat_watch_poll(struct stoat_watch *w, int timeout_ms)
{
    ready(w);
    uint64_t before = w->events;
    int rc = sensor_poll(w->sensor, timeout_ms, on_event, w);
    /* the sensor's clock: the wall clock live, the recorded one in a replay */
    int64_t now = sensor_clock_ns(w->sensor);
    if (now - w->last_advance > 1000000000LL) {
        /* live: a chain that went quiet for the gap is an incident now */
        consumer_advance(&w->con, now);
        w->last_advance = now;
    }
    if (w->record && w->events != before)
        fflush(w->record);
    if (rc == -ENODATA)
        return STOAT_WATCH_END;
    return rc < 0 ? -1 : (int)(w->events - before);
}

void stoat_watch_stats(const struct stoat_watch *w, struct stoat_watch_stats *out)
{
    memset(out, 0, sizeof(*out));
    struct sensor_stats st;
    sensor_stats(w->sensor, &st);
    out->events = st.events;
    out->lost = st.lost_total;
    out->alerts = w->hstats.alerts;
    out->incidents = w->hstats.incidents;
    out->reloads = w->reloads;
    out->capture_error = st.capture_error;
    size_t o = 0;
    for (int i = 0; i < SENSOR_LOST_MAX_; i++) {
        if (!st.lost[i])
            continue;
        if (i == SENSOR_LOST_ARGV_CAP || i == SENSOR_LOST_PATH_CAP || i == SENSOR_LOST_PROC_RACE)
            out->marked += st.lost[i];
        int k = snprintf(out->lost_detail + o, sizeof(out->lost_detail) - o, "%s%s %llu", o ? ", " : "",
                         sensor_loss_name((enum sensor_loss)i), (unsigned long long)st.lost[i]);
        if (k < 0 || (size_t)k >= sizeof(out->lost_detail) - o)
            break;
        o += (size_t)k;
    }
    /* live, or as the finish left them */
    struct stoat_hunt_stats hs = w->hstats;
    if (w->con_ready)
        consumer_regex_stats(&w->con, w->m.eng, &hs);
    out->regex_limited = hs.regex_limited;
    o = 0;
    for (size_t i = 0; i < hs.regex_limited_rules && i < STOAT_LIMIT_RULES; i++) {
        const struct stoat_rule_meta *m = hs.regex_limits[i].rule;
        int k = snprintf(out->regex_detail + o, sizeof(out->regex_detail) - o, "%s%s %llu", o ? ", " : "",
                         m->title ? m->title
                         : m->id  ? m->id
                                  : "?",
                         (unsigned long long)hs.regex_limits[i].evaluations);
        if (k < 0 || (size_t)k >= sizeof(out->regex_detail) - o)
            break;
        o += (size_t)k;
    }
}

stoat_err stoat_watch_finish(struct stoat_watch *w)
{
    ready(w);
    engine_regex_limited_add(w->m.eng, &w->con.regex_limited);
    stoat_err err = consumer_fini(&w->con);
    w->con_ready = false;
    for (size_t s = 0; s < w->nsinks; s++)
        if (w->sinks[s].end) {
            stoat_err e = w->sinks[s].end(w->sinks[s].ctx, &w->hstats);
            if (e && !err)
                err = e;
        }
    if (w->record && fflush(w->record) != 0 && !err)
        err = STOAT_ERR_IO;
    return err;
}

void stoat_watch_destroy(struct stoat_watch *w)
{
    if (!w)
        return;
    if (w->con_ready)
        consumer_fini(&w->con);
    for (size_t s = 0; s < w->nsinks; s++)
        if (w->sinks[s].destroy)
            w->sinks[s].destroy(w->sinks[s].ctx);
    if (w->events_sink.destroy)
        w->events_sink.destroy(w->events_sink.ctx);
    sensor_close(w->sensor);
    matcher_fini(&w->m);
    if (w->record)
        fclose(w->record);
    buf_free(&w->rec);
    free(w->fields);
    free(w);
}
