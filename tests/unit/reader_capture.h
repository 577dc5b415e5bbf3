/* Test helper for the text readers: runs a whole hunt (detection, reader,
 * routing, matching) over a string written to a temporary file, and keeps
 * every event (with its fields), the titles of the rules that fired on it and
 * every diagnostic, so that a test can ask "which events, which fields,
 * which alerts, which complaints at which line". Static functions only; a
 * test file includes it after testutil.h. */
#ifndef STOAT_TEST_READER_CAPTURE_H
#define STOAT_TEST_READER_CAPTURE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stoat/hunt.h"
#include "stoat/rules.h"

struct cap_field {
    char *name, *value;
    uint8_t type;
};

struct cap_event {
    char *channel, *eid, *format;
    uint64_t line, record;
    struct cap_field *f;
    size_t nf;
    char *rules[16];
    size_t nrules;
};

struct capture {
    struct cap_event *ev;
    size_t n, cap;
    char *diag[256]; /* "LINE:SEVERITY:message" */
    size_t ndiag;
    struct stoat_hunt_stats st;
};

static inline char *cap_strndup(const char *s, size_t n)
{
    char *o = malloc(n + 1);
    if (n)
        memcpy(o, s, n);
    o[n] = 0;
    return o;
}

static inline stoat_err cap_event_cb(void *ctx, const struct stoat_alert *a)
{
    struct capture *c = ctx;
    if (c->n == c->cap) {
        c->cap = c->cap ? 2 * c->cap : 64;
        c->ev = realloc(c->ev, c->cap * sizeof(*c->ev));
    }
    struct cap_event *e = &c->ev[c->n++];
    memset(e, 0, sizeof(*e));
    e->channel = a->channel ? strdup(a->channel) : NULL;
    e->eid = a->event_id ? strdup(a->event_id) : NULL;
    e->format = strdup(a->pos.format);
    e->line = a->pos.line;
    e->record = a->pos.record;
    e->nf = a->nfields;
    e->f = calloc(a->nfields + 1, sizeof(*e->f));
    for (size_t i = 0; i < a->nfields; i++) {
        e->f[i].name = cap_strndup(a->fields[i].name, a->fields[i].name_len);
        e->f[i].value = cap_strndup(a->fields[i].value, a->fields[i].value_len);
        e->f[i].type = a->fields[i].type;
    }
    return STOAT_OK;
}

/* Alerts of an event come right after the event itself. */
static inline stoat_err cap_alert_cb(void *ctx, const struct stoat_alert *a)
{
    struct capture *c = ctx;
    if (c->n && c->ev[c->n - 1].nrules < 16 && a->rule)
        c->ev[c->n - 1].rules[c->ev[c->n - 1].nrules++] = strdup(a->rule->title);
    return STOAT_OK;
}

static inline void cap_diag_cb(void *ctx, const struct stoat_diag *d)
{
    struct capture *c = ctx;
    if (c->ndiag < 256) {
        char buf[512];
        snprintf(buf, sizeof(buf), "%llu:%s:%s", (unsigned long long)d->line,
                 d->severity == STOAT_SEV_ERROR     ? "error"
                 : d->severity == STOAT_SEV_WARNING ? "warning"
                                                    : "note",
                 d->message ? d->message : "");
        c->diag[c->ndiag++] = strdup(buf);
    }
}

static inline void cap_quiet(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    if (d->severity == STOAT_SEV_ERROR)
        fprintf(stderr, "rule load: %s:%llu: %s\n", d->file ? d->file : "", (unsigned long long)d->line, d->message);
}

static struct stoat_ruleset *cap_rules(const char *yaml)
{
    struct stoat_load_opts o = {.mapping_path = "data/mapping.yml", .diag = cap_quiet};
    struct stoat_loader *l = NULL;
    if (stoat_loader_create(&o, &l))
        return NULL;
    if (yaml)
        stoat_loader_add_text(l, "test-rules.yml", yaml, strlen(yaml));
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    return rs;
}

/* Hunts the files at paths (or text written to a temporary file when
 * npaths is 0). */
static inline void cap_run_paths(struct capture *c, const struct stoat_ruleset *rs, const char *const *paths,
                                 size_t npaths, const char *host, unsigned threads)
{
    memset(c, 0, sizeof(*c));
    struct stoat_hunt_opts ho = {
        .threads = threads ? threads : 1, .all_events = true, .diag = cap_diag_cb, .diag_ctx = c, .host = host};
    struct stoat_hunt *h = NULL;
    stoat_hunt_create(rs, &ho, &h);
    struct stoat_sink s = {.ctx = c, .event = cap_event_cb, .alert = cap_alert_cb};
    stoat_hunt_add_sink(h, &s);
    stoat_hunt_run(h, paths, npaths);
    stoat_hunt_stats(h, &c->st);
    stoat_hunt_destroy(h);
}

static inline void cap_run(struct capture *c, const struct stoat_ruleset *rs, const char *text, size_t len,
                           const char *host, unsigned threads)
{
    char path[] = "/tmp/stoat-reader-test-XXXXXX";
    int fd = mkstemp(path);
    if (fd < 0) {
        memset(c, 0, sizeof(*c));
        return;
    }
    size_t off = 0;
    while (off < len) {
        ssize_t w = write(fd, text + off, len - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    close(fd);
    const char *paths[1] = {path};
    cap_run_paths(c, rs, paths, 1, host, threads);
    unlink(path);
}

static inline void cap_free(struct capture *c)
{
    for (size_t i = 0; i < c->n; i++) {
        struct cap_event *e = &c->ev[i];
        free(e->channel);
        free(e->eid);
        free(e->format);
        for (size_t k = 0; k < e->nf; k++) {
            free(e->f[k].name);
            free(e->f[k].value);
        }
        free(e->f);
        for (size_t k = 0; k < e->nrules; k++)
            free(e->rules[k]);
    }
    free(c->ev);
    for (size_t i = 0; i < c->ndiag; i++)
        free(c->diag[i]);
    memset(c, 0, sizeof(*c));
}

/* The nth (from 0) event of channel/eid (eid NULL: any). */
static const struct cap_event *cap_find(const struct capture *c, const char *channel, const char *eid, size_t nth)
{
    for (size_t i = 0; i < c->n; i++) {
        const struct cap_event *e = &c->ev[i];
        if (channel && (!e->channel || strcmp(e->channel, channel)))
            continue;
        if (eid && (!e->eid || strcmp(e->eid, eid)))
            continue;
        if (nth-- == 0)
            return e;
    }
    return NULL;
}

static inline size_t cap_count(const struct capture *c, const char *channel, const char *eid)
{
    size_t n = 0;
    while (cap_find(c, channel, eid, n))
        n++;
    return n;
}

/* The nth value of a field, or NULL. */
static inline const char *ev_get(const struct cap_event *e, const char *name, size_t nth)
{
    if (!e)
        return NULL;
    for (size_t i = 0; i < e->nf; i++)
        if (!strcmp(e->f[i].name, name) && nth-- == 0)
            return e->f[i].value;
    return NULL;
}

static inline size_t ev_nvalues(const struct cap_event *e, const char *name)
{
    size_t n = 0;
    while (ev_get(e, name, n))
        n++;
    return n;
}

static inline bool ev_fired(const struct cap_event *e, const char *title)
{
    if (!e)
        return false;
    for (size_t i = 0; i < e->nrules; i++)
        if (!strcmp(e->rules[i], title))
            return true;
    return false;
}

static inline size_t cap_alerts(const struct capture *c, const char *title)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n; i++)
        n += ev_fired(&c->ev[i], title);
    return n;
}

/* A diagnostic "LINE:SEVERITY:..." containing text, or NULL. */
static const char *cap_diag(const struct capture *c, uint64_t line, const char *severity, const char *text)
{
    char pre[64];
    snprintf(pre, sizeof(pre), "%llu:%s:", (unsigned long long)line, severity);
    for (size_t i = 0; i < c->ndiag; i++)
        if (!strncmp(c->diag[i], pre, strlen(pre)) && (!text || strstr(c->diag[i], text)))
            return c->diag[i];
    return NULL;
}

#define assert_str(a, b) assert_string_equal((a) ? (a) : "(null)", (b))

#endif
