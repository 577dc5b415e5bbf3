/* Linux auditd logs: raw /var/log/audit/audit.log (RAW or ENRICHED format,
 * with or without node=), `ausearch` output (its ---- and time-> lines) and
 * the interpreted `ausearch -i` form (decoded values, names for numbers, local
 * times, the records of an event printed last to first).
 *
 * auditd writes one event as several records (SYSCALL, EXECVE, CWD, PATH...,
 * PROCTITLE, EOE) that share `msg=audit(TIME:SERIAL)`, and records of
 * neighbouring events interleave a little. Sigma's auditd rules read fields
 * of several records at once (type: EXECVE with a0, type: SYSCALL with exe),
 * and the process view needs argv, exe and cwd together, so an event must
 * reach one worker whole.
 *
 * The reader is built in layers, one file each (auditd_int.h lists them):
 * the tokenizer reads one record line; the joiner, on the reading thread,
 * puts the records of one event together; a worker names the fields of each
 * record, then the derived views of the event. This file is the worker's
 * outer loop: one event at a time, its header fields and its argument
 * vector, then its views.
 *
 * Added to the records' own fields: Channel "auditd", EventID = the number of
 * the main record's type (the first record that is neither SYSCALL nor
 * auxiliary, else SYSCALL), Computer (node= or the host option), audit_time,
 * serial; a0.. from the argument vector once every piece of it is in.
 *
 * Memory: values are slices of the unit where possible. Decoded values go to
 * a per-worker buffer reserved once per event (never moved while the event is
 * alive) rather than to sink->scratch, because one audit event becomes two
 * sink events (raw and derived) and the sink's scratch is reset by each begin.
 * Every input is bounded: line length, records and bytes per event, open
 * events, staged bytes, arguments, PATH records, field count (the caps are
 * listed in auditd_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readers/auditd_int.h"
#include "readers/reader.h"
#include "util/text.h"

/* ------------------------------------------------------------- worker */

static void *au_worker_create(const struct mapping *map)
{
    (void)map;
    struct au_worker *w = xcalloc(1, sizeof(*w));
    w->argv = xcalloc(AU_MAX_ARGS, sizeof(*w->argv));
    w->pieces = xcalloc(AU_MAX_PIECES, sizeof(*w->pieces));
    w->hdrs = xcalloc(AU_MAX_RECORDS, sizeof(*w->hdrs));
    w->rec_end = xcalloc(AU_MAX_RECORDS, sizeof(*w->rec_end));
    w->rec_line = xcalloc(AU_MAX_RECORDS, sizeof(*w->rec_line));
    return w;
}

static void au_worker_destroy(void *ws)
{
    struct au_worker *w = ws;
    if (!w)
        return;
    free(w->dec);
    free(w->argv);
    free(w->pieces);
    free(w->hdrs);
    free(w->rec_end);
    free(w->rec_line);
    free(w);
}

/* Before an event: fresh facts, and the decode buffer reserved for it. */
static void event_reset(struct au_worker *w, uint64_t bytes)
{
    memset(&w->f, 0, sizeof(w->f));
    w->full = false;
    w->npieces = 0;
    w->warned_pieces = false;
    /* what is decoded stays within four times the event's bytes (hex
     * halves, arguments joined from pieces, the command line and the paths
     * joined to cwd each take at most the bytes once more) plus the names of
     * the argument fields; au_dec_alloc refuses rather than overflow anyway */
    size_t need = 4 * (size_t)bytes + 32768;
    if (w->dec_cap < need) {
        free(w->dec);
        w->dec_cap = need;
        w->dec = xmalloc(need);
    }
    w->dec_len = 0;
}

/* What the first pass over an event's items found. */
struct au_scan {
    const char *next; /* after the event's items */
    uint32_t nrec;    /* records in w->hdrs */
    int main_num;     /* the main record's type number; 0: none */
    struct au_hdr h0; /* the first readable record's header */
    bool have_h0;
};

/* First pass: each record's header into w->hdrs, the main record, node and
 * time (of the first record), whether there is an EXECVE, the parent. */
static void scan_records(struct au_worker *w, const char *p, const char *end, uint32_t nrec_max, struct au_scan *sc)
{
    int sys_num = 0, first_num = 0;
    memset(sc, 0, sizeof(*sc));
    while (p < end && sc->nrec < nrec_max) {
        struct item it;
        memcpy(&it, p, sizeof(it));
        if ((size_t)(end - p) < ITEM_SIZE(it.len))
            break;
        const char *pl = p + sizeof(it);
        if (it.kind == IT_PARENT && !w->f.parent) {
            w->f.parent = pl;
            w->f.parent_len = it.len;
        } else if (it.kind == IT_REC) {
            struct au_hdr *hp = &w->hdrs[sc->nrec];
            w->rec_end[sc->nrec] = pl + it.len;
            w->rec_line[sc->nrec] = it.line;
            sc->nrec++;
            if (au_header(pl, pl + it.len, hp)) {
                hp->type = NULL;
            } else {
                const struct au_hdr h = *hp;
                if (!sc->have_h0) {
                    sc->h0 = h;
                    sc->have_h0 = true;
                }
                int num = au_rtype_num(h.type, h.type_len);
                if (!first_num)
                    first_num = num ? num : -1;
                if (num == 1300)
                    sys_num = num;
                else if (num == 1309)
                    w->f.has_execve = true;
                else if (!sc->main_num && num && !au_rtype_aux(num))
                    sc->main_num = num;
            }
        } else {
            break;
        }
        p += ITEM_SIZE(it.len);
    }
    if (!sc->main_num)
        sc->main_num = sys_num ? sys_num : (first_num > 0 ? first_num : 0);
    sc->next = p;
}

/* The fields of the event as a whole: Channel, EventID, Computer, node,
 * audit_time, serial. */
static void event_head(struct au_worker *w, const struct au_scan *sc)
{
    au_emit_lit(w, "Channel", AU_CHANNEL_RAW, sizeof(AU_CHANNEL_RAW) - 1);
    if (sc->main_num) {
        char *o = au_dec_alloc(w, 8);
        if (o) {
            int l = 0;
            char rev[8];
            for (int x = sc->main_num; x && l < 6; x /= 10)
                rev[l++] = (char)('0' + x % 10);
            for (int k = 0; k < l; k++)
                o[k] = rev[l - 1 - k];
            w->f.eid = o;
            w->f.eid_len = (uint32_t)l;
            au_emit(w, "EventID", 7, o, (uint32_t)l, STOAT_V_NUMBER);
        }
    }
    if (!sc->have_h0)
        return;
    const struct au_hdr *h0 = &sc->h0;
    if (h0->node_len)
        AU_SET(&w->f, computer, h0->node, h0->node_len);
    else if (w->u->file->host)
        AU_SET(&w->f, computer, w->u->file->host, (uint32_t)strlen(w->u->file->host));
    /* always given, empty when unknown: the host fields the mapping
     * tries next (hostname) are the remote side in audit records */
    if (!w->f.computer)
        AU_SET(&w->f, computer, "", 0);
    au_emit_lit(w, "Computer", w->f.computer, w->f.computer_len);
    if (h0->node_len)
        au_emit_lit(w, "node", h0->node, h0->node_len);
    au_event_time(w, h0);
    if (w->f.time)
        au_emit_lit(w, "audit_time", w->f.time, w->f.time_len);
    au_emit_lit(w, "serial", h0->serial, h0->serial_len);
}

/* The argument vector as a0, a1, ..., now that every piece is in. */
static void event_args(struct au_worker *w)
{
    uint32_t n = w->f.nargs < AU_ARG_FIELDS ? w->f.nargs : AU_ARG_FIELDS;
    for (uint32_t i = 0; i < n; i++) {
        if (!w->argv[i].set)
            continue;
        static const char digits[] = "0123456789";
        char nm[16];
        int l = 0;
        nm[l++] = 'a';
        char rev[12];
        int rl = 0;
        uint32_t x = i;
        do {
            rev[rl++] = digits[x % 10];
            x /= 10;
        } while (x);
        while (rl)
            nm[l++] = rev[--rl];
        char *o = au_dec_alloc(w, (size_t)l);
        if (!o)
            break;
        memcpy(o, nm, (size_t)l);
        au_emit(w, o, (uint32_t)l, w->argv[i].v ? w->argv[i].v : "", w->argv[i].len, STOAT_V_STRING);
    }
}

/* One event: its records are the next nrec IT_REC items at p. */
static const char *one_event(struct au_worker *w, uint64_t line, const struct ev_payload *evp, const char *p,
                             const char *end)
{
    const struct event_sink *s = w->sink;
    struct ev_payload ep = *evp;
    event_reset(w, ep.bytes);
    struct au_scan sc;
    scan_records(w, p, end, ep.nrec, &sc);
    w->u->records++;
    w->record++;
    s->begin(s->ctx, w->record, line, 0);
    if (ep.dropped) {
        char msg[128];
        snprintf(msg, sizeof(msg), "event has more than %u records or %u MiB; %u records were left out", AU_MAX_RECORDS,
                 AU_EVENT_MAX_BYTES >> 20, ep.dropped);
        au_warn(w, line, msg);
    }
    event_head(w, &sc);
    /* second pass: the records' fields */
    for (uint32_t i = 0; i < sc.nrec; i++) {
        w->line = w->rec_line[i];
        if (w->hdrs[i].type)
            au_one_record(w, &w->hdrs[i], w->rec_end[i]);
    }
    au_join_pieces(w);
    if (w->f.has_execve)
        event_args(w);
    if (w->full)
        au_warn(w, line, "event has too many fields; the rest were not read");
    s->end(s->ctx);
    w->u->events++;
    au_views(w, line);
    /* forget this event's arguments; a huge event's buffer goes back */
    for (uint32_t i = 0; i < w->f.nargs && i < AU_MAX_ARGS; i++)
        w->argv[i] = (struct au_arg){0};
    if (w->dec_cap > (8u << 20)) {
        free(w->dec);
        w->dec = NULL;
        w->dec_cap = w->dec_len = 0;
    }
    return sc.next;
}

static void au_parse(void *ws, struct unit *u, const struct event_sink *sink)
{
    struct au_worker *w = ws;
    w->sink = sink;
    w->u = u;
    w->record = 0;
    const char *p = u->data, *end = u->data + u->len;
    while (p < end && (size_t)(end - p) >= sizeof(struct item)) {
        struct item it;
        memcpy(&it, p, sizeof(it));
        if ((size_t)(end - p) < ITEM_SIZE(it.len))
            break;
        const char *next = p + ITEM_SIZE(it.len);
        if (it.kind == IT_BAD) {
            char msg[200];
            uint32_t n = it.len < 120 ? it.len : 120;
            snprintf(msg, sizeof(msg), "%.*s; the line is skipped", (int)n, p + sizeof(it));
            w->record++;
            u->records++;
            u->skipped++;
            sink->bad(sink->ctx, it.line, 0, false, false, msg);
            p = next;
        } else if (it.kind == IT_EVENT && it.len == sizeof(struct ev_payload)) {
            struct ev_payload ep;
            memcpy(&ep, p + sizeof(it), sizeof(ep));
            p = one_event(w, it.line, &ep, next, end);
        } else {
            p = next; /* a stray record: cannot happen, units are ours */
        }
    }
}

const struct reader_ops reader_auditd = {
    .name = "auditd",
    .probe = au_probe,
    .open = au_open,
    .fill = au_fill,
    .close = au_close,
    .worker_create = au_worker_create,
    .worker_destroy = au_worker_destroy,
    .parse = au_parse,
};
