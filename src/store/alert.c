/* What one alert and one incident write: the rows of their host, rule,
 * event, processes and correlation, and the alert's own row.
 *
 * Why it works this way:
 * - What a writer pays per alert is what decides the rate: the alert is one
 *   row of `alerts` (three indexes) and, for a process not stored before,
 *   one row of `processes`. Hosts and rules are looked up in caches of the
 *   handle (bounded, cleared when full) before the file.
 * - An event cited by several alerts is stored once (in a pack: packs.c);
 *   processes are stored once per host and process GUID (within what the
 *   writer remembers: writer.c) with a link to their parent, so the
 *   ancestry of every alert of an incident folds into one tree. An alert's
 *   image, command line and user are left NULL when its own process row,
 *   written with it, holds the same; readers take them from there.
 * - What can be worked out from the alert alone (its event record, what
 *   the list shows, its words, its processes' keys) is worked out by the
 *   producer's thread (store_alert_prepare, called by queue.c), so the
 *   writer's thread only writes.
 * - Incidents and correlations link to the alerts of the current run by
 *   their run-local ids, through a window of the newest rows (seq_note). */
#include <stdio.h>
#include <string.h>

#include "event/render.h"
#include "store/alert.h"
#include "store/db.h"
#include "store/packs.h"
#include "store/words.h"
#include "store/runs.h"
#include "store/writer.h"
#include "util/mem.h"
#include "util/text.h"

struct rule_cache {
    const struct stoat_rule_meta *meta;
    int64_t id;
};

static int64_t hour_of(int64_t ns)
{
    if (ns <= 0)
        return 0;
    return ns / 3600000000000LL;
}

/* ------------------------------------------------------------ the rows of an alert */

static int64_t host_row(struct stoat_store *s, const char *name, int *rc)
{
    if (!name || !*name)
        name = "(unknown host)";
    size_t n = strlen(name);
    uint32_t v;
    if (strmap_get(&s->hosts, name, n, &v))
        return v;
    sqlite3_stmt *g = s->st[ST_HOST_GET];
    store_bind_text(g, 1, name);
    int64_t id = 0;
    if ((*rc = sqlite3_step(g)) == SQLITE_ROW)
        id = sqlite3_column_int64(g, 0);
    sqlite3_reset(g);
    if (*rc != SQLITE_ROW && *rc != SQLITE_DONE)
        return 0;
    if (!id) {
        sqlite3_stmt *p = s->st[ST_HOST_PUT];
        store_bind_text(p, 1, name);
        if ((*rc = store_step_done(p)) != SQLITE_OK)
            return 0;
        id = sqlite3_last_insert_rowid(s->db);
    }
    *rc = SQLITE_OK;
    if (id <= (int64_t)UINT32_MAX && s->hosts.count < STORE_CACHE_MAX)
        strmap_put(&s->hosts, name, n, (uint32_t)id);
    return id;
}

static int64_t rule_row(struct stoat_store *s, const struct stoat_rule_meta *r, int *rc)
{
    *rc = SQLITE_OK;
    for (size_t i = 0; i < s->nrules; i++)
        if (s->rules[i].meta == r)
            return s->rules[i].id;
    sqlite3_stmt *st = s->st[ST_RULE_PUT];
    struct buf *b = &s->scratch;
    buf_clear(b);
    const char *title = r->title ? r->title : r->name ? r->name : "(untitled rule)";
    if (r->id)
        buf_puts(b, r->id);
    else {
        buf_puts(b, "title:");
        buf_puts(b, title);
    }
    store_bind_text(st, 1, b->p);
    store_bind_text(st, 2, r->id);
    store_bind_text(st, 3, title);
    sqlite3_bind_int(st, 4, (int)r->kind);
    sqlite3_bind_int(st, 5, (int)r->level);
    const char *status = stoat_status_name(r->status);
    store_bind_text(st, 6, status && *status ? status : NULL);
    buf_clear(b);
    buf_json_strs(b, r->tags.items, r->tags.n);
    store_bind_text(st, 7, b->p);
    buf_clear(b);
    buf_json_strs(b, r->attack_ids.items, r->attack_ids.n);
    store_bind_text(st, 8, b->p);
    buf_clear(b);
    buf_json_strs(b, r->attack_tactics.items, r->attack_tactics.n);
    store_bind_text(st, 9, b->p);
    store_bind_text(st, 10, r->product);
    store_bind_text(st, 11, r->category);
    store_bind_text(st, 12, r->service);
    store_bind_text(st, 13, r->description);
    store_bind_text(st, 14, r->file);
    int64_t id = 0;
    *rc = sqlite3_step(st);
    if (*rc == SQLITE_ROW)
        id = sqlite3_column_int64(st, 0);
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    if (*rc != SQLITE_ROW)
        return 0;
    *rc = SQLITE_OK;
    for (size_t i = 0; i < r->attack_tactics.n && *rc == SQLITE_OK; i++) {
        store_bind_text(s->st[ST_TACTIC_PUT], 1, r->attack_tactics.items[i]);
        sqlite3_bind_int64(s->st[ST_TACTIC_PUT], 2, id);
        *rc = store_step_done(s->st[ST_TACTIC_PUT]);
    }
    for (size_t i = 0; i < r->attack_ids.n && *rc == SQLITE_OK; i++) {
        store_bind_text(s->st[ST_TECH_PUT], 1, r->attack_ids.items[i]);
        sqlite3_bind_int64(s->st[ST_TECH_PUT], 2, id);
        *rc = store_step_done(s->st[ST_TECH_PUT]);
    }
    if (*rc != SQLITE_OK)
        return 0;
    if (s->nrules < STORE_CACHE_MAX) {
        XGROW(s->rules, s->caprules, s->nrules + 1);
        s->rules[s->nrules++] = (struct rule_cache){r, id};
    }
    return id;
}

static int64_t event_row(struct stoat_store *s, const struct pre *p, int *rc)
{
    *rc = SQLITE_OK;
    if (p->shared_ev && s->ev_id && s->ev_run == s->run_id)
        return s->ev_id;
    int64_t num = 0;
    if ((*rc = store_pack_add(s, p->rec, p->recn, &num)) != SQLITE_OK)
        return 0;
    s->ev_run = s->run_id;
    s->ev_id = num;
    return num;
}

/* A process another writer stored (shared_processes): remembered as if
 * this one had; NULL when the file has none (or on an error, in *rc). */
static struct store_proc_slot *proc_in_file(struct stoat_store *s, int64_t host, const char *guid, uint64_t h, int *rc)
{
    sqlite3_stmt *st = s->st[ST_PROC_FIND];
    sqlite3_bind_int64(st, 1, host);
    store_bind_static(st, 2, guid);
    struct store_proc_slot *c = NULL;
    int r = sqlite3_step(st);
    if (r == SQLITE_ROW)
        c = store_proc_put(s, h, sqlite3_column_int64(st, 0), sqlite3_column_int(st, 1) != 0);
    *rc = r == SQLITE_ROW || r == SQLITE_DONE ? SQLITE_OK : r;
    sqlite3_reset(st);
    sqlite3_clear_bindings(st);
    return c;
}

/* Stores the ancestry, root first, each linked to its parent; returns the
 * row of the alert's own process (ancestry[0]), *fresh when this call
 * wrote that row (so it holds exactly the alert's image, command line and
 * user). */
static int64_t process_rows(struct stoat_store *s, int64_t host, const struct stoat_alert *a, const struct pre *pr,
                            bool *fresh, int *rc)
{
    *rc = SQLITE_OK;
    *fresh = false;
    int64_t parent = 0;
    for (size_t k = pr->nanc; k-- > 0;) {
        const struct stoat_process *p = &a->ancestry[k];
        const char *guid = pr->guid[k];
        uint64_t h = pr->ph[k];
        if (h) {
            struct store_proc_slot *c = store_proc_get(s, h);
            if (!c && s->procs_shared && (c = proc_in_file(s, host, guid, h, rc)) == NULL && *rc != SQLITE_OK)
                return 0;
            if (c) {
                if (parent && !c->has_parent && parent != c->row) {
                    /* first seen as the top of a chain, now its parent is known */
                    sqlite3_bind_int64(s->st[ST_PROC_LINK], 1, c->row);
                    sqlite3_bind_int64(s->st[ST_PROC_LINK], 2, parent);
                    if ((*rc = store_step_done(s->st[ST_PROC_LINK])) != SQLITE_OK)
                        return 0;
                    c->has_parent = true;
                }
                parent = c->row;
                continue;
            }
        }
        sqlite3_stmt *st = s->st[ST_PROC_PUT];
        sqlite3_bind_int64(st, 1, host);
        store_bind_static(st, 2, guid);
        if (p->pid >= 0)
            sqlite3_bind_int64(st, 3, p->pid);
        else
            sqlite3_bind_null(st, 3);
        if (p->start_ns != INT64_MIN)
            sqlite3_bind_int64(st, 4, p->start_ns);
        else
            sqlite3_bind_null(st, 4);
        store_bind_static(st, 5, p->image);
        store_bind_static(st, 6, p->command_line);
        store_bind_static(st, 7, p->user);
        if (parent)
            sqlite3_bind_int64(st, 8, parent);
        else
            sqlite3_bind_null(st, 8);
        if ((*rc = store_step_bound(st)) != SQLITE_OK)
            return 0;
        int64_t id = sqlite3_last_insert_rowid(s->db);
        if (h)
            store_proc_put(s, h, id, parent != 0);
        if (k == 0)
            *fresh = true;
        parent = id;
    }
    return parent;
}

/* First value of a field, by name. */
static const struct stoat_field *field(const struct stoat_alert *a, const char *name, size_t n)
{
    for (size_t i = 0; i < a->nfields; i++)
        if (a->fields[i].name_len == n && memcmp(a->fields[i].name, name, n) == 0 && a->fields[i].value_len)
            return &a->fields[i];
    return NULL;
}
#define FIELD(a, lit) field((a), lit, sizeof(lit) - 1)

static void text_add(struct buf *b, const char *s, size_t n)
{
    if (b->len)
        buf_putc(b, ' ');
    if (s && n)
        buf_put(b, s, n);
}

/* Remembers the row of run-local alert id seq (ids arrive in order). */
static void seq_note(struct stoat_store *s, uint64_t seq, int64_t row)
{
    if (s->nseq == 0)
        s->seq_base = seq;
    if (seq != s->seq_base + s->nseq) {
        /* a producer that numbers differently: start the window again */
        s->nseq = 0;
        s->seq_base = seq;
    }
    if (s->nseq == SEQ_WINDOW) {
        size_t drop = SEQ_WINDOW / 2;
        memmove(s->seq_rows, s->seq_rows + drop, (s->nseq - drop) * sizeof(*s->seq_rows));
        s->nseq -= drop;
        s->seq_base += drop;
    }
    XGROW(s->seq_rows, s->capseq, s->nseq + 1);
    s->seq_rows[s->nseq++] = row;
}

static int64_t seq_row(const struct stoat_store *s, uint64_t seq)
{
    if (seq < s->seq_base || seq - s->seq_base >= s->nseq)
        return 0;
    return s->seq_rows[seq - s->seq_base];
}

/* What a correlation saw, beside its alert row: type, value, window, group
 * and links to the alerts it joins that were stored in this run. */
void store_corr_group_json(struct buf *b, const struct stoat_corr_detail *d)
{
    buf_putc(b, '{');
    for (size_t i = 0; i < d->ngroup; i++) {
        if (i)
            buf_putc(b, ',');
        const char *k = d->group_names[i] ? d->group_names[i] : "";
        buf_json_str(b, k, strlen(k));
        buf_putc(b, ':');
        if (d->group_values[i])
            buf_json_str(b, d->group_values[i], strlen(d->group_values[i]));
        else
            buf_puts(b, "null");
    }
    buf_putc(b, '}');
}

static int correlation_row(struct stoat_store *s, int64_t id, const struct stoat_corr_detail *d, const char *evidence)
{
    struct buf *b = &s->scratch;
    buf_clear(b);
    store_corr_group_json(b, d);
    sqlite3_stmt *st = s->st[ST_CORR_PUT];
    sqlite3_bind_int64(st, 1, id);
    store_bind_static(st, 2, stoat_corr_type_name(d->type));
    sqlite3_bind_double(st, 3, d->value);
    if (d->first_ns != INT64_MIN)
        sqlite3_bind_int64(st, 4, d->first_ns);
    if (d->last_ns != INT64_MIN)
        sqlite3_bind_int64(st, 5, d->last_ns);
    store_bind_textn(st, 6, b->p, b->len);
    store_bind_static(st, 7, evidence);
    int rc = store_step_done(st);
    for (size_t i = 0; i < d->nalert_ids && rc == SQLITE_OK; i++) {
        int64_t aid = seq_row(s, d->alert_ids[i]);
        if (!aid)
            continue; /* not stored in this run (or too long ago) */
        sqlite3_bind_int64(s->st[ST_CORR_ALERT], 1, id);
        sqlite3_bind_int64(s->st[ST_CORR_ALERT], 2, aid);
        rc = store_step_done(s->st[ST_CORR_ALERT]);
    }
    return rc;
}

/* ------------------------------------------------------------ putting alerts */

/* A string or null. */
static void json_str_or_null(struct buf *b, const char *v)
{
    if (v)
        buf_json_str(b, v, strlen(v));
    else
        buf_puts(b, "null");
}

/* The event's record, as packs keep it: where it was read, and its fields. */
static void event_record(struct buf *rec, const struct stoat_alert *a)
{
    buf_clear(rec);
    buf_puts(rec, "{\"file\":");
    json_str_or_null(rec, a->pos.file);
    buf_puts(rec, ",\"format\":");
    json_str_or_null(rec, a->pos.format);
    buf_printf(rec, ",\"record\":%llu", (unsigned long long)a->pos.record);
    if (a->pos.line)
        buf_printf(rec, ",\"line\":%llu,\"offset\":null", (unsigned long long)a->pos.line);
    else
        buf_printf(rec, ",\"line\":null,\"offset\":%llu", (unsigned long long)a->pos.offset);
    buf_puts(rec, ",\"channel\":");
    json_str_or_null(rec, a->channel);
    buf_puts(rec, ",\"event_id\":");
    json_str_or_null(rec, a->event_id);
    buf_puts(rec, ",\"fields\":");
    if (a->fields_json) /* rendered by the matching stage already */
        buf_put(rec, a->fields_json, a->fields_json_len);
    else
        event_json_write(rec, a->fields, a->nfields);
    buf_putc(rec, '}');
}

/* What the list shows without opening the event: the process's image,
 * command line and user, from the ancestry or the event's fields. */
static void pre_shown(const struct stoat_alert *a, struct pre *p)
{
    if (a->nancestry) {
        p->img = a->ancestry[0].image, p->cmd = a->ancestry[0].command_line, p->user = a->ancestry[0].user;
        p->imgn = p->img ? strlen(p->img) : 0, p->cmdn = p->cmd ? strlen(p->cmd) : 0;
        p->usern = p->user ? strlen(p->user) : 0;
        p->from_anc = true;
    }
    const struct stoat_field *f;
    if (!p->img && ((f = FIELD(a, "Image")) || (f = FIELD(a, "exe")) || (f = FIELD(a, "NewProcessName"))))
        p->img = f->value, p->imgn = f->value_len, p->from_anc = false;
    if (!p->cmd && ((f = FIELD(a, "CommandLine")) || (f = FIELD(a, "proctitle")) || (f = FIELD(a, "ScriptBlockText"))))
        p->cmd = f->value, p->cmdn = f->value_len, p->from_anc = false;
    if (!p->user && ((f = FIELD(a, "User")) || (f = FIELD(a, "TargetUserName")) || (f = FIELD(a, "SubjectUserName"))))
        p->user = f->value, p->usern = f->value_len, p->from_anc = false;
    if (p->cmdn > 8192) {
        p->cmdn = 8192;
        p->from_anc = false; /* the row has it whole, the list and the index a prefix */
    }
}

/* The words of the search index: what the search checks an alert against,
 * less the rule's title and the host's name (words.c); then a
 * correlation's evidence, in the same buffer. */
static void pre_text(const struct stoat_alert *a, struct pre *p, struct buf *text)
{
    buf_clear(text);
    text_add(text, p->img, p->imgn);
    text_add(text, p->cmd, p->cmdn);
    text_add(text, p->user, p->usern);
    p->text = text->p ? text->p : "";
    p->textn = text->len;
    if (a->corr && a->corr->nevidence) {
        /* what the correlation counted that was not reported: [{time, rule,
         * summary, and file, record, line or offset where known}], oldest
         * first; after the text in its buffer */
        size_t at = text->len;
        buf_putc(text, '[');
        for (size_t i = 0; i < a->corr->nevidence && i < 1000; i++) {
            const struct stoat_corr_evidence *v = &a->corr->evidence[i];
            buf_printf(text, "%s{\"time\":%lld,\"rule\":", i ? "," : "",
                       (long long)(v->time_ns == INT64_MIN ? 0 : v->time_ns));
            json_str_or_null(text, v->rule);
            buf_puts(text, ",\"summary\":");
            json_str_or_null(text, v->summary);
            if (v->pos.file) { /* where it was read, for the analyst to open */
                buf_puts(text, ",\"file\":");
                json_str_or_null(text, v->pos.file);
                buf_printf(text, ",\"record\":%llu,\"%s\":%llu", (unsigned long long)v->pos.record,
                           v->pos.line ? "line" : "offset",
                           (unsigned long long)(v->pos.line ? v->pos.line : v->pos.offset));
            }
            buf_putc(text, '}');
        }
        buf_putc(text, ']');
        p->text = text->p; /* the buffer may have moved */
        p->evidence = text->p + at;
        p->evidencen = text->len - at;
    }
}

/* Processes by a hash keyed by a seed of this handle: no input can aim at
 * a collision. */
static void pre_procs(uint64_t seed, const struct stoat_alert *a, struct pre *p, char (*gbuf)[48])
{
    const char *hname = a->host && *a->host ? a->host : "(unknown host)";
    p->nanc = a->nancestry > PRE_ANC ? PRE_ANC : a->nancestry;
    uint64_t hseed = seed ^ hash_bytes(hname, strlen(hname), seed);
    for (size_t k = 0; k < p->nanc; k++) {
        const struct stoat_process *q = &a->ancestry[k];
        const char *guid = q->guid;
        if (!guid && q->pid >= 0 && q->start_ns != INT64_MIN) {
            snprintf(gbuf[k], 48, "%lld@%lld", (long long)q->pid, (long long)q->start_ns);
            guid = gbuf[k];
        }
        p->guid[k] = guid;
        if (guid) {
            uint64_t h = hash_bytes(guid, strlen(guid), hseed);
            p->ph[k] = h + !h;
        }
    }
}

void store_alert_prepare(uint64_t seed, const struct stoat_alert *a, struct pre *p, struct buf *rec, struct buf *text,
                         char (*gbuf)[48], const char **last_file, uint64_t *last_record)
{
    memset(p, 0, sizeof(*p));
    /* several alerts on one event share it; a correlation's alert has no
     * event of its own (no file), only its group's fields */
    const char *file = a->pos.file;
    p->shared_ev = file && *last_file && *last_record == a->pos.record && !strcmp(*last_file, file);
    *last_file = file;
    *last_record = a->pos.record;
    event_record(rec, a);
    p->rec = rec->p;
    p->recn = rec->len;
    pre_shown(a, p);
    pre_text(a, p, text);
    pre_procs(seed, a, p, gbuf);
}

stoat_err store_alert_write(struct stoat_store *s, const struct stoat_alert *a, const struct pre *p)
{
    const struct stoat_rule_meta *r = a->rule ? a->rule : a->correlation;
    stoat_err e = STOAT_OK;
    int rc = SQLITE_OK;
    if (!s->run_id && (e = store_run_start(s, "unknown", NULL)) != STOAT_OK)
        return e;
    if ((e = store_tx_begin(s)) != STOAT_OK)
        return e;
    int64_t host = host_row(s, a->host, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t rule = rule_row(s, r, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t ev = event_row(s, p, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    bool fresh = false;
    int64_t proc = process_rows(s, host, a, p, &fresh, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    /* the process row just written holds these: the alert row need not */
    bool in_proc = fresh && proc && p->from_anc;

    sqlite3_stmt *st = s->st[ST_ALERT_PUT];
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, (int64_t)a->id);
    sqlite3_bind_int64(st, 3, a->time_ns == INT64_MIN ? 0 : a->time_ns);
    char tbuf[32];
    const char *when = time_rfc3339(a->timestamp, a->time_ns, tbuf); /* one time form in machine output */
    if (when)
        sqlite3_bind_text(st, 4, when, -1, SQLITE_TRANSIENT);
    else
        sqlite3_bind_null(st, 4);
    sqlite3_bind_int64(st, 5, host);
    sqlite3_bind_int64(st, 6, rule);
    sqlite3_bind_int(st, 7, (int)r->level);
    if (ev)
        sqlite3_bind_int64(st, 8, ev);
    else
        sqlite3_bind_null(st, 8);
    if (proc)
        sqlite3_bind_int64(st, 9, proc);
    else
        sqlite3_bind_null(st, 9);
    store_bind_static(st, 10, a->logon_id);
    if (!in_proc) {
        store_bind_textn(st, 11, p->img, p->imgn);
        store_bind_textn(st, 12, p->cmd, p->cmdn);
        /* three NULLs with a process mean "see the process row" to the
         * readers: say "none" otherwise */
        store_bind_textn(st, 13, p->user || p->img || p->cmd || !proc ? p->user : "", p->usern);
    } else {
        for (int i = 11; i <= 13; i++)
            sqlite3_bind_null(st, i);
    }
    if ((rc = store_step_bound(st)) != SQLITE_OK)
        goto fail;
    int64_t id = sqlite3_last_insert_rowid(s->db);
    seq_note(s, a->id, id);
    int64_t t = a->time_ns == INT64_MIN || a->time_ns < 0 ? 0 : a->time_ns;
    if ((rc = store_count_add(s, 0, hour_of(t), (int)r->level, 0)) != SQLITE_OK ||
        (rc = store_count_add(s, 1, host, (int)r->level, t)) != SQLITE_OK ||
        (rc = store_count_add(s, 2, rule, host, 0)) != SQLITE_OK)
        goto fail;
    if (a->corr && (rc = correlation_row(s, id, a->corr, p->evidence)) != SQLITE_OK)
        goto fail;
    if ((rc = store_words_alert(s, s->st[ST_TEXT_PUT], id, &p->text, &p->textn, 1)) != SQLITE_OK)
        goto fail;
    s->last_alert_id = (uint64_t)id;
    s->pending++;
    return store_tx_maybe_end(s);
fail:
    return store_fail(s, rc, "storing an alert");
}

static void incident_evidence_json(struct buf *b, const struct stoat_incident *inc)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < inc->nevidence; i++) {
        const struct stoat_incident_evidence *e = &inc->evidence[i];
        buf_puts(b, i ? ",{\"tactic\":" : "{\"tactic\":");
        if (e->tactic)
            buf_json_str(b, e->tactic, strlen(e->tactic));
        else
            buf_puts(b, "null");
        buf_printf(b, ",\"time\":%lld,\"text\":", (long long)(e->time_ns == INT64_MIN ? 0 : e->time_ns));
        buf_json_str(b, e->text ? e->text : "", e->text ? strlen(e->text) : 0);
        buf_putc(b, '}');
    }
    buf_putc(b, ']');
}

static void incident_rules_json(struct buf *b, const struct stoat_incident *inc)
{
    buf_putc(b, '[');
    for (size_t i = 0; i < inc->nrules; i++) {
        const struct stoat_incident_rule *r = &inc->rules[i];
        buf_puts(b, i ? ",{\"id\":" : "{\"id\":");
        if (r->id)
            buf_json_str(b, r->id, strlen(r->id));
        else
            buf_puts(b, "null");
        buf_puts(b, ",\"title\":");
        buf_json_str(b, r->title ? r->title : "", r->title ? strlen(r->title) : 0);
        buf_printf(b, ",\"level\":%d,\"alerts\":%llu}", (int)r->level, (unsigned long long)r->alerts);
    }
    buf_putc(b, ']');
}

/* A fleet incident's hosts and edges as JSON arrays (left empty for a
 * single host's incident). */
static void incident_fleet_json(struct buf *hosts, struct buf *edges, const struct stoat_incident *inc)
{
    if (!inc->nhosts)
        return;
    buf_putc(hosts, '[');
    for (size_t i = 0; i < inc->nhosts; i++) {
        if (i)
            buf_putc(hosts, ',');
        const char *h = inc->hosts[i].host ? inc->hosts[i].host : "";
        buf_json_str(hosts, h, strlen(h));
    }
    buf_putc(hosts, ']');
    buf_putc(edges, '[');
    for (size_t i = 0; i < inc->nedges; i++) {
        const struct stoat_incident_edge *e = &inc->edges[i];
        const char *v[4] = {e->account, e->from, e->to, e->via};
        static const char *const k[4] = {"account", "from", "to", "via"};
        buf_putc(edges, i ? ',' : '{');
        if (i)
            buf_putc(edges, '{');
        for (int f = 0; f < 4; f++) {
            buf_printf(edges, "%s\"%s\":", f ? "," : "", k[f]);
            buf_json_str(edges, v[f] ? v[f] : "", v[f] ? strlen(v[f]) : 0);
        }
        buf_printf(edges, ",\"first\":%lld,\"last\":%lld,\"new\":%s}",
                   (long long)(e->first_ns == INT64_MIN ? 0 : e->first_ns),
                   (long long)(e->last_ns == INT64_MIN ? 0 : e->last_ns), e->is_new ? "true" : "false");
    }
    buf_putc(edges, ']');
}

/* A fleet incident's alerts that other runs stored (the centre's workers,
 * whose alerts its cross-host role only heard of): found by host, event
 * time and their run's id, through the alerts' (host, time) index. Only
 * by a handle that stores no alert itself: a run that does (a hunt) links
 * its incidents to its own alerts by id, never to a twin of an older run. */
static int incident_hosts_link(struct stoat_store *s, int64_t iid, const struct stoat_incident *inc)
{
    int rc = SQLITE_OK;
    if (s->nseq)
        return rc;
    sqlite3_stmt *st = s->st[ST_INC_ALERT_AT];
    for (size_t h = 0; h < inc->nhosts && rc == SQLITE_OK; h++) {
        const struct stoat_incident_host *x = &inc->hosts[h];
        if (!x->alert_times || !x->nalerts)
            continue;
        int64_t host = host_row(s, x->host, &rc);
        for (size_t i = 0; i < x->nalerts && rc == SQLITE_OK; i++) {
            if (x->alert_times[i] == INT64_MIN || x->alert_ids[i] > INT64_MAX)
                continue;
            sqlite3_bind_int64(st, 1, iid);
            sqlite3_bind_int64(st, 2, host);
            sqlite3_bind_int64(st, 3, x->alert_times[i]);
            sqlite3_bind_int64(st, 4, (int64_t)x->alert_ids[i]);
            rc = store_step_done(st);
        }
    }
    return rc;
}

stoat_err store_incident_write(struct stoat_store *s, const struct stoat_incident *inc)
{
    stoat_err e;
    int rc = SQLITE_OK;
    if (!s->run_id && (e = store_run_start(s, "unknown", NULL)) != STOAT_OK)
        return e;
    if ((e = store_tx_begin(s)) != STOAT_OK)
        return e;
    int64_t host = host_row(s, inc->host, &rc);
    if (rc != SQLITE_OK)
        goto fail;
    struct buf *b = &s->scratch;
    buf_clear(b);
    buf_putc(b, '[');
    for (size_t i = 0; i < inc->ntactics; i++) {
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, inc->tactics[i], strlen(inc->tactics[i]));
    }
    buf_putc(b, ']');
    sqlite3_stmt *st = s->st[ST_INC_PUT];
    sqlite3_bind_int64(st, 1, s->run_id);
    sqlite3_bind_int64(st, 2, (int64_t)inc->id);
    sqlite3_bind_int64(st, 3, host);
    store_bind_text(st, 4, inc->logon_id);
    store_bind_text(st, 5, inc->title ? inc->title : "Incident");
    sqlite3_bind_double(st, 6, inc->score);
    sqlite3_bind_int(st, 7, (int)inc->level);
    sqlite3_bind_int64(st, 8, inc->first_ns == INT64_MIN ? 0 : inc->first_ns);
    sqlite3_bind_int64(st, 9, inc->last_ns == INT64_MIN ? 0 : inc->last_ns);
    store_bind_text(st, 10, b->p);
    sqlite3_bind_int64(st, 11, (int64_t)inc->nalerts);
    /* what the claims rest on and the alerts by rule, as JSON (tactics went
     * to the scratch buffer first: bound by value above) */
    struct buf ev = {0}, ru = {0}, fh = {0}, fe = {0};
    incident_evidence_json(&ev, inc);
    incident_rules_json(&ru, inc);
    incident_fleet_json(&fh, &fe, inc);
    sqlite3_bind_text(st, 12, ev.p, (int)ev.len, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 13, ru.p, (int)ru.len, SQLITE_TRANSIENT);
    store_bind_text(st, 14, fh.len ? fh.p : NULL);
    store_bind_text(st, 15, inc->nhosts ? inc->account : NULL);
    store_bind_text(st, 16, fe.len ? fe.p : NULL);
    rc = store_step_done(st);
    buf_free(&ev);
    buf_free(&ru);
    buf_free(&fh);
    buf_free(&fe);
    if (rc != SQLITE_OK)
        goto fail;
    int64_t iid = sqlite3_last_insert_rowid(s->db);
    for (size_t i = 0; i < inc->nalerts; i++) {
        int64_t aid = seq_row(s, inc->alert_ids[i]);
        if (!aid)
            continue; /* not stored in this run (or too long ago): the link is dropped */
        sqlite3_bind_int64(s->st[ST_INC_ALERT], 1, iid);
        sqlite3_bind_int64(s->st[ST_INC_ALERT], 2, aid);
        if ((rc = store_step_done(s->st[ST_INC_ALERT])) != SQLITE_OK)
            goto fail;
    }
    if ((rc = incident_hosts_link(s, iid, inc)) != SQLITE_OK)
        goto fail;
    s->pending++;
    return store_tx_maybe_end(s);
fail:
    return store_fail(s, rc, "storing an incident");
}
