/* Shared helpers of the unit tests: cmocka, temporary files, loading rules
 * from text with captured diagnostics, hunting files with a recording sink,
 * and a small strict JSON parser to check what the sinks write.
 *
 * Everything is `static inline` so that each test program takes only what it
 * uses and the Makefile rule (one .c per test program) stays as it is. Tests
 * run from the repository root; STOAT_HOME, when set, names it instead (the
 * mapping is $STOAT_HOME/data/mapping.yml). Nothing here times anything or
 * touches the network. */
#ifndef STOAT_TESTS_TESTUTIL_H
#define STOAT_TESTS_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stoat/error.h"
#include "stoat/hunt.h"
#include "stoat/rules.h"
#include "stoat/sinks.h"

/* ------------------------------------------------------------ strings */

static inline char *tu_strdup(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    char *d = malloc(n + 1);
    assert_non_null(d);
    memcpy(d, s, n + 1);
    return d;
}

/* A growable string. */
struct tu_str {
    char *p;
    size_t len, cap;
};

static inline void tu_str_put(struct tu_str *s, const char *p, size_t n)
{
    if (s->len + n + 1 > s->cap) {
        size_t cap = s->cap ? s->cap : 256;
        while (cap < s->len + n + 1)
            cap *= 2;
        s->p = realloc(s->p, cap);
        assert_non_null(s->p);
        s->cap = cap;
    }
    memcpy(s->p + s->len, p, n);
    s->len += n;
    s->p[s->len] = 0;
}

static inline void tu_str_puts(struct tu_str *s, const char *p)
{
    tu_str_put(s, p, strlen(p));
}

static inline void tu_str_printf(struct tu_str *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static inline void tu_str_printf(struct tu_str *s, const char *fmt, ...)
{
    char small[512];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof(small), fmt, ap);
    va_end(ap);
    assert_true(n >= 0);
    if ((size_t)n < sizeof(small)) {
        tu_str_put(s, small, (size_t)n);
        return;
    }
    char *big = malloc((size_t)n + 1);
    assert_non_null(big);
    va_start(ap, fmt);
    vsnprintf(big, (size_t)n + 1, fmt, ap);
    va_end(ap);
    tu_str_put(s, big, (size_t)n);
    free(big);
}

/* A JSON string literal of the bytes s[0..n), quotes included. Written here
 * (not with stoat's own escaper) so tests do not check the code with itself. */
static inline void tu_str_json(struct tu_str *s, const char *v, size_t n)
{
    tu_str_puts(s, "\"");
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v[i];
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\';
            esc[1] = (char)c;
            tu_str_put(s, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof(esc), "\\u%04x", c);
            tu_str_put(s, esc, 6);
        } else {
            tu_str_put(s, (const char *)&c, 1);
        }
    }
    tu_str_puts(s, "\"");
}

static inline void tu_str_free(struct tu_str *s)
{
    free(s->p);
    memset(s, 0, sizeof(*s));
}

/* --------------------------------------------------------------- paths */

static inline const char *tu_home(void)
{
    const char *h = getenv("STOAT_HOME");
    return h && *h ? h : ".";
}

static inline const char *tu_mapping(void)
{
    static char path[4096];
    snprintf(path, sizeof(path), "%s/data/mapping.yml", tu_home());
    return path;
}

/* Writes len bytes to a new file /tmp/stoat-test-XXXXXX<suffix>; the path
 * goes to out (>= 64 bytes). Remove it with unlink when done. */
static inline void tu_write_temp(const char *data, size_t len, const char *suffix, char *out, size_t outlen)
{
    snprintf(out, outlen, "/tmp/stoat-test-XXXXXX%s", suffix ? suffix : "");
    int fd = mkstemps(out, suffix ? (int)strlen(suffix) : 0);
    assert_true(fd >= 0);
    size_t done = 0;
    while (done < len) {
        ssize_t w = write(fd, data + done, len - done);
        assert_true(w > 0);
        done += (size_t)w;
    }
    assert_int_equal(close(fd), 0);
}

static inline char *tu_temp_text(const char *text, const char *suffix)
{
    static char path[256];
    tu_write_temp(text, strlen(text), suffix, path, sizeof(path));
    return tu_strdup(path);
}

/* A new empty directory /tmp/stoat-test-dir-XXXXXX (malloc'd path). */
static inline char *tu_temp_dir(void)
{
    char tmpl[] = "/tmp/stoat-test-dir-XXXXXX";
    assert_non_null(mkdtemp(tmpl));
    return tu_strdup(tmpl);
}

/* Removes a directory tree made by a test (no symlinks inside). */
static inline void tu_rm_rf(const char *path)
{
    char cmd[4200];
    assert_true(strncmp(path, "/tmp/stoat-test", 15) == 0);
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
    assert_int_equal(system(cmd), 0);
}

/* ---------------------------------------------------------- diagnostics */

struct tu_diag {
    stoat_err code;
    enum stoat_severity severity;
    char *file, *rule_id, *field, *message;
    uint64_t line, column;
    char *text; /* as stoat_diag_format writes it */
};

struct tu_diags {
    struct tu_diag *v;
    size_t n, cap;
};

static inline void tu_diag_cb(void *ctx, const struct stoat_diag *d)
{
    struct tu_diags *ds = ctx;
    if (ds->n == ds->cap) {
        ds->cap = ds->cap ? ds->cap * 2 : 16;
        ds->v = realloc(ds->v, ds->cap * sizeof(*ds->v));
        assert_non_null(ds->v);
    }
    struct tu_diag *t = &ds->v[ds->n++];
    memset(t, 0, sizeof(*t));
    t->code = d->code;
    t->severity = d->severity;
    t->file = tu_strdup(d->file);
    t->rule_id = tu_strdup(d->rule_id);
    t->field = tu_strdup(d->field);
    t->message = tu_strdup(d->message);
    t->line = d->line;
    t->column = d->column;
    int need = stoat_diag_format(d, NULL, 0);
    assert_true(need >= 0);
    t->text = malloc((size_t)need + 1);
    assert_non_null(t->text);
    stoat_diag_format(d, t->text, (size_t)need + 1);
}

static inline void tu_diags_free(struct tu_diags *ds)
{
    for (size_t i = 0; i < ds->n; i++) {
        free(ds->v[i].file);
        free(ds->v[i].rule_id);
        free(ds->v[i].field);
        free(ds->v[i].message);
        free(ds->v[i].text);
    }
    free(ds->v);
    memset(ds, 0, sizeof(*ds));
}

/* The first diagnostic whose formatted text contains sub (any when NULL). */
static inline const struct tu_diag *tu_diags_find(const struct tu_diags *ds, const char *sub)
{
    for (size_t i = 0; i < ds->n; i++)
        if (!sub || strstr(ds->v[i].text, sub))
            return &ds->v[i];
    return NULL;
}

static inline size_t tu_diags_count(const struct tu_diags *ds, enum stoat_severity sev)
{
    size_t n = 0;
    for (size_t i = 0; i < ds->n; i++)
        n += ds->v[i].severity == sev;
    return n;
}

static inline void tu_diags_print(const struct tu_diags *ds, const char *why)
{
    fprintf(stderr, "  -- %zu diagnostic(s)%s%s:\n", ds->n, why ? " " : "", why ? why : "");
    for (size_t i = 0; i < ds->n; i++)
        fprintf(stderr, "     %s\n", ds->v[i].text);
}

/* --------------------------------------------------------------- loading */

/* What to load: rule texts (each one "file"), optional placeholder text or
 * file, a selection. */
struct tu_rules {
    const char *const *texts;
    size_t ntexts;
    const char *placeholders;      /* YAML text of a placeholder file, or NULL */
    const char *placeholders_path; /* or a path */
    const char *mapping_path;      /* NULL: the repository's */
    struct stoat_rule_select select;
};

/* Builds a ruleset; NULL when the loader or the build failed. Diagnostics go
 * to ds, the load statistics to ls (both optional). */
static inline struct stoat_ruleset *tu_build(const struct tu_rules *r, struct tu_diags *ds, struct stoat_load_stats *ls)
{
    char *ph = NULL;
    if (r->placeholders)
        ph = tu_temp_text(r->placeholders, ".yml");
    struct stoat_load_opts lo = {.mapping_path = r->mapping_path ? r->mapping_path : tu_mapping(),
                                 .placeholders_path = ph ? ph : r->placeholders_path,
                                 .select = r->select,
                                 .diag = ds ? tu_diag_cb : NULL,
                                 .diag_ctx = ds};
    struct stoat_loader *l = NULL;
    struct stoat_ruleset *rs = NULL;
    stoat_err e = stoat_loader_create(&lo, &l);
    if (e == STOAT_OK) {
        for (size_t i = 0; i < r->ntexts; i++) {
            char name[64];
            snprintf(name, sizeof(name), r->ntexts == 1 ? "rule.yml" : "rule%zu.yml", i + 1);
            stoat_loader_add_text(l, name, r->texts[i], strlen(r->texts[i]));
        }
        if (stoat_loader_build(l, &rs) != STOAT_OK)
            rs = NULL;
        if (ls)
            stoat_loader_stats(l, ls);
    } else if (ls) {
        memset(ls, 0, sizeof(*ls));
    }
    stoat_loader_destroy(l);
    if (ph) {
        unlink(ph);
        free(ph);
    }
    return rs;
}

static inline struct stoat_ruleset *tu_build1(const char *rule, struct tu_diags *ds, struct stoat_load_stats *ls)
{
    const char *texts[1] = {rule};
    struct tu_rules r = {.texts = texts, .ntexts = 1};
    return tu_build(&r, ds, ls);
}

/* ----------------------------------------------------------------- hunting */

struct tu_alert {
    char *rule_id, *title, *host, *channel, *event_id, *timestamp;
    uint64_t record, line;
    int64_t time_ns;
    size_t nfields;
};

struct tu_hunt {
    struct tu_alert *v;
    size_t n, cap;
    struct stoat_hunt_stats stats;
    struct tu_diags diags; /* hunt diagnostics (bad records, unreadable files) */
    char *jsonl;           /* with want_jsonl: the jsonl sink's output */
    size_t jsonl_len;
    char *csv; /* with want_csv */
    size_t csv_len;
    stoat_err err;
};

static inline stoat_err tu_rec_alert(void *ctx, const struct stoat_alert *a)
{
    struct tu_hunt *h = ctx;
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 16;
        h->v = realloc(h->v, h->cap * sizeof(*h->v));
        assert_non_null(h->v);
    }
    struct tu_alert *t = &h->v[h->n++];
    memset(t, 0, sizeof(*t));
    t->rule_id = tu_strdup(a->rule->id);
    t->title = tu_strdup(a->rule->title);
    t->host = tu_strdup(a->host);
    t->channel = tu_strdup(a->channel);
    t->event_id = tu_strdup(a->event_id);
    t->timestamp = tu_strdup(a->timestamp);
    t->record = a->pos.record;
    t->line = a->pos.line;
    t->time_ns = a->time_ns;
    t->nfields = a->nfields;
    return STOAT_OK;
}

static inline void tu_hunt_free(struct tu_hunt *h)
{
    for (size_t i = 0; i < h->n; i++) {
        free(h->v[i].rule_id);
        free(h->v[i].title);
        free(h->v[i].host);
        free(h->v[i].channel);
        free(h->v[i].event_id);
        free(h->v[i].timestamp);
    }
    free(h->v);
    tu_diags_free(&h->diags);
    free(h->jsonl);
    free(h->csv);
    memset(h, 0, sizeof(*h));
}

struct tu_hunt_opts {
    bool want_jsonl, want_csv;
    unsigned threads; /* 0: 1 */
    enum stoat_level min_level;
};

static inline stoat_err tu_hunt_paths(const struct stoat_ruleset *rs, const char *const *paths, size_t npaths,
                                      const struct tu_hunt_opts *o, struct tu_hunt *out)
{
    memset(out, 0, sizeof(*out));
    struct tu_hunt_opts none = {0};
    if (!o)
        o = &none;
    struct stoat_hunt_opts ho = {
        .threads = o->threads ? o->threads : 1, .min_level = o->min_level, .diag = tu_diag_cb, .diag_ctx = &out->diags};
    struct stoat_hunt *h = NULL;
    assert_int_equal(stoat_hunt_create(rs, &ho, &h), STOAT_OK);
    struct stoat_sink rec = {.ctx = out, .alert = tu_rec_alert};
    assert_int_equal(stoat_hunt_add_sink(h, &rec), STOAT_OK);
    FILE *jf = NULL, *cf = NULL;
    if (o->want_jsonl) {
        jf = open_memstream(&out->jsonl, &out->jsonl_len);
        assert_non_null(jf);
        struct stoat_sink s;
        stoat_sink_jsonl(jf, &s);
        assert_int_equal(stoat_hunt_add_sink(h, &s), STOAT_OK);
    }
    if (o->want_csv) {
        cf = open_memstream(&out->csv, &out->csv_len);
        assert_non_null(cf);
        struct stoat_sink s;
        stoat_sink_csv(cf, &s);
        assert_int_equal(stoat_hunt_add_sink(h, &s), STOAT_OK);
    }
    out->err = stoat_hunt_run(h, paths, npaths);
    stoat_hunt_stats(h, &out->stats);
    stoat_hunt_destroy(h);
    if (jf)
        fclose(jf);
    if (cf)
        fclose(cf);
    return out->err;
}

/* Hunts the bytes data[0..len) written to a temporary file with suffix. */
static inline stoat_err tu_hunt_data(const struct stoat_ruleset *rs, const char *data, size_t len, const char *suffix,
                                     const struct tu_hunt_opts *o, struct tu_hunt *out)
{
    char path[256];
    tu_write_temp(data, len, suffix ? suffix : ".jsonl", path, sizeof(path));
    const char *paths[1] = {path};
    stoat_err e = tu_hunt_paths(rs, paths, 1, o, out);
    unlink(path);
    return e;
}

/* How many alerts the rules give on the events; -1 when no detection rule
 * was loaded. Diagnostics of loading and hunting are printed when ds is NULL
 * and the rules were rejected. */
static inline int tu_count(const struct tu_rules *r, const char *events, struct tu_diags *ds)
{
    struct tu_diags local = {0};
    struct tu_diags *d = ds ? ds : &local;
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(r, d, &ls);
    int n = -1;
    if (rs && ls.loaded > 0) {
        struct tu_hunt h;
        tu_hunt_data(rs, events, strlen(events), ".jsonl", NULL, &h);
        n = (int)h.n;
        tu_hunt_free(&h);
    }
    stoat_ruleset_destroy(rs);
    tu_diags_free(&local);
    return n;
}

static inline int count_matches(const char *rule_yaml, const char *events_jsonl)
{
    const char *texts[1] = {rule_yaml};
    struct tu_rules r = {.texts = texts, .ntexts = 1};
    return tu_count(&r, events_jsonl, NULL);
}

static inline int count_matches_ph(const char *rule_yaml, const char *placeholders_yaml, const char *events_jsonl)
{
    const char *texts[1] = {rule_yaml};
    struct tu_rules r = {.texts = texts, .ntexts = 1, .placeholders = placeholders_yaml};
    return tu_count(&r, events_jsonl, NULL);
}

/* Asserts the count; on a mismatch prints the rule, the events and every
 * diagnostic, so a failure says why. */
#define assert_matches(rule, events, expected)                                     \
    do {                                                                           \
        struct tu_diags ds_ = {0};                                                 \
        const char *texts_[1] = {(rule)};                                          \
        struct tu_rules r_ = {.texts = texts_, .ntexts = 1};                       \
        int got_ = tu_count(&r_, (events), &ds_);                                  \
        if (got_ != (expected)) {                                                  \
            fprintf(stderr, "  -- rule:\n%s\n  -- events:\n%s", (rule), (events)); \
            tu_diags_print(&ds_, NULL);                                            \
        }                                                                          \
        tu_diags_free(&ds_);                                                       \
        assert_int_equal(got_, (expected));                                        \
    } while (0)

#define assert_matches_ph(rule, ph, events, expected)                              \
    do {                                                                           \
        struct tu_diags ds_ = {0};                                                 \
        const char *texts_[1] = {(rule)};                                          \
        struct tu_rules r_ = {.texts = texts_, .ntexts = 1, .placeholders = (ph)}; \
        int got_ = tu_count(&r_, (events), &ds_);                                  \
        if (got_ != (expected)) {                                                  \
            fprintf(stderr, "  -- rule:\n%s\n  -- events:\n%s", (rule), (events)); \
            tu_diags_print(&ds_, NULL);                                            \
        }                                                                          \
        tu_diags_free(&ds_);                                                       \
        assert_int_equal(got_, (expected));                                        \
    } while (0)

/* True when the (single-document) rule is refused, with an error diagnostic
 * that has the file, a line and a message containing expected. */
static inline bool rule_rejected_ex(const char *rule_yaml, const char *placeholders, const char *expected,
                                    struct tu_diag *first_out)
{
    struct tu_diags ds = {0};
    const char *texts[1] = {rule_yaml};
    struct tu_rules r = {.texts = texts, .ntexts = 1, .placeholders = placeholders};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build(&r, &ds, &ls);
    bool ok = ls.loaded == 0 && ls.rejected >= 1;
    const struct tu_diag *d = NULL;
    for (size_t i = 0; i < ds.n; i++)
        if (ds.v[i].severity == STOAT_SEV_ERROR && (!expected || strstr(ds.v[i].text, expected))) {
            d = &ds.v[i];
            break;
        }
    ok = ok && d && d->file && strcmp(d->file, "rule.yml") == 0 && d->line > 0;
    if (first_out && d) {
        *first_out = *d;
        first_out->file = tu_strdup(d->file);
        first_out->rule_id = tu_strdup(d->rule_id);
        first_out->field = tu_strdup(d->field);
        first_out->message = tu_strdup(d->message);
        first_out->text = tu_strdup(d->text);
    }
    if (!ok) {
        fprintf(stderr, "  -- expected a rejection mentioning '%s' (loaded %zu, rejected %zu); rule:\n%s\n",
                expected ? expected : "", ls.loaded, ls.rejected, rule_yaml);
        tu_diags_print(&ds, NULL);
    }
    tu_diags_free(&ds);
    stoat_ruleset_destroy(rs);
    return ok;
}

static inline bool rule_rejected(const char *rule_yaml, const char *expected)
{
    return rule_rejected_ex(rule_yaml, NULL, expected, NULL);
}

static inline void tu_diag_clear(struct tu_diag *d)
{
    free(d->file);
    free(d->rule_id);
    free(d->field);
    free(d->message);
    free(d->text);
    memset(d, 0, sizeof(*d));
}

/* ------------------------------------------------------ rules and events */

/* A detection rule of the given logsource ("{product: windows, category:
 * process_creation}") whose detection block is det (indented two spaces). */
#define TU_RULE(logsource, det)                  \
    "title: test rule\n"                         \
    "id: 00000000-0000-4000-8000-000000000001\n" \
    "status: test\n"                             \
    "level: high\n"                              \
    "logsource: " logsource "\n"                 \
    "detection:\n" det

#define TU_PROC        "{product: windows, category: process_creation}"
#define PROC_RULE(det) TU_RULE(TU_PROC, det)

#define TU_SYSMON "Microsoft-Windows-Sysmon/Operational"

/* One flat Sysmon process-creation event (a JSON line) from name/value pairs
 * ending with NULL; values are raw bytes, escaped here. A name starting with
 * '#' takes its value as raw JSON (a number, a list, null). Returns a
 * malloc'd string. */
static inline char *tu_event_v(const char *channel, int eid, va_list ap)
{
    struct tu_str s = {0};
    tu_str_puts(&s, "{\"Channel\":");
    tu_str_json(&s, channel, strlen(channel));
    tu_str_printf(&s, ",\"EventID\":%d", eid);
    for (;;) {
        const char *name = va_arg(ap, const char *);
        if (!name)
            break;
        const char *val = va_arg(ap, const char *);
        bool raw = name[0] == '#';
        if (raw)
            name++;
        tu_str_puts(&s, ",");
        tu_str_json(&s, name, strlen(name));
        tu_str_puts(&s, ":");
        if (raw)
            tu_str_puts(&s, val);
        else
            tu_str_json(&s, val, strlen(val));
    }
    tu_str_puts(&s, "}\n");
    return s.p;
}

static inline char *tu_event(const char *channel, int eid, ...)
{
    va_list ap;
    va_start(ap, eid);
    char *e = tu_event_v(channel, eid, ap);
    va_end(ap);
    return e;
}

/* Alerts of one rule on one Sysmon EID 1 event built from pairs. */
static inline int tu_match_proc(const char *rule, ...)
{
    va_list ap;
    va_start(ap, rule);
    char *ev = tu_event_v(TU_SYSMON, 1, ap);
    va_end(ap);
    struct tu_diags ds = {0};
    const char *texts[1] = {rule};
    struct tu_rules r = {.texts = texts, .ntexts = 1};
    int n = tu_count(&r, ev, &ds);
    if (n < 0) {
        fprintf(stderr, "  -- rule rejected:\n%s\n", rule);
        tu_diags_print(&ds, NULL);
    }
    tu_diags_free(&ds);
    free(ev);
    return n;
}

/* Asserts that the rule matches (1) or not (0) the Sysmon EID 1 event. */
#define expect_proc(expected, rule, ...)                                                                    \
    do {                                                                                                    \
        int got_ = tu_match_proc((rule), __VA_ARGS__, NULL);                                                \
        if (got_ != (expected))                                                                             \
            fprintf(stderr, "  -- %s:%d: expected %d alert(s), got %d for rule:\n%s\n", __FILE__, __LINE__, \
                    (expected), got_, (rule));                                                              \
        assert_int_equal(got_, (expected));                                                                 \
    } while (0)

/* ------------------------------------------------------ a strict JSON DOM */

enum tu_jkind {
    TJ_NULL,
    TJ_BOOL,
    TJ_NUM,
    TJ_STR,
    TJ_ARR,
    TJ_OBJ
};

struct tu_json {
    enum tu_jkind kind;
    bool b;
    double num;
    char *str; /* TJ_STR (decoded), TJ_NUM (its text) */
    size_t len;
    struct tu_json *items; /* TJ_ARR / TJ_OBJ values */
    char **keys;           /* TJ_OBJ */
    size_t n;
};

struct tu_jparse {
    const char *p, *end;
    const char *err;
    int depth;
};

static inline void tu_json_free(struct tu_json *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->n; i++) {
        tu_json_free(&j->items[i]);
        if (j->keys)
            free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->str);
    memset(j, 0, sizeof(*j));
}

static inline void tu_jws(struct tu_jparse *p)
{
    while (p->p < p->end && (*p->p == ' ' || *p->p == '\t' || *p->p == '\n' || *p->p == '\r'))
        p->p++;
}

/* Strict UTF-8 (no overlongs, no surrogates); length of the sequence or 0. */
static inline size_t tu_utf8_len(const unsigned char *s, size_t n)
{
    if (!n)
        return 0;
    if (s[0] < 0x80)
        return 1;
    size_t l;
    uint32_t cp;
    if ((s[0] & 0xE0) == 0xC0) {
        l = 2;
        cp = s[0] & 0x1F;
    } else if ((s[0] & 0xF0) == 0xE0) {
        l = 3;
        cp = s[0] & 0x0F;
    } else if ((s[0] & 0xF8) == 0xF0) {
        l = 4;
        cp = s[0] & 0x07;
    } else {
        return 0;
    }
    if (n < l)
        return 0;
    for (size_t i = 1; i < l; i++) {
        if ((s[i] & 0xC0) != 0x80)
            return 0;
        cp = (cp << 6) | (s[i] & 0x3F);
    }
    if ((l == 2 && cp < 0x80) || (l == 3 && cp < 0x800) || (l == 4 && cp < 0x10000) || cp > 0x10FFFF ||
        (cp >= 0xD800 && cp <= 0xDFFF))
        return 0;
    return l;
}

static inline bool tu_jvalue(struct tu_jparse *p, struct tu_json *out);

static inline bool tu_jstring(struct tu_jparse *p, char **out, size_t *outlen)
{
    struct tu_str s = {0};
    tu_str_put(&s, "", 0);
    p->p++; /* opening quote */
    while (p->p < p->end && *p->p != '"') {
        unsigned char c = (unsigned char)*p->p;
        if (c < 0x20) {
            p->err = "control character in string";
            goto bad;
        }
        if (c == '\\') {
            if (p->end - p->p < 2) {
                p->err = "truncated escape";
                goto bad;
            }
            char e = p->p[1];
            p->p += 2;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e && simple) {
                static const char dec[] = "\"\\/\b\f\n\r\t";
                tu_str_put(&s, &dec[simple - "\"\\/bfnrt"], 1);
                continue;
            }
            if (e != 'u' || p->end - p->p < 4) {
                p->err = "bad escape";
                goto bad;
            }
            uint32_t cp = 0;
            for (int i = 0; i < 4; i++) {
                char h = p->p[i];
                int v = h >= '0' && h <= '9' ? h - '0' : (h | 32) >= 'a' && (h | 32) <= 'f' ? (h | 32) - 'a' + 10 : -1;
                if (v < 0) {
                    p->err = "bad \\u escape";
                    goto bad;
                }
                cp = cp * 16 + (uint32_t)v;
            }
            p->p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF) {
                if (p->end - p->p < 6 || p->p[0] != '\\' || p->p[1] != 'u') {
                    p->err = "lone high surrogate";
                    goto bad;
                }
                uint32_t lo = (uint32_t)strtoul((char[5]){p->p[2], p->p[3], p->p[4], p->p[5], 0}, NULL, 16);
                if (lo < 0xDC00 || lo > 0xDFFF) {
                    p->err = "bad low surrogate";
                    goto bad;
                }
                p->p += 6;
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
            } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
                p->err = "lone low surrogate";
                goto bad;
            }
            char u[4];
            size_t k;
            if (cp < 0x80) {
                u[0] = (char)cp;
                k = 1;
            } else if (cp < 0x800) {
                u[0] = (char)(0xC0 | (cp >> 6));
                u[1] = (char)(0x80 | (cp & 0x3F));
                k = 2;
            } else if (cp < 0x10000) {
                u[0] = (char)(0xE0 | (cp >> 12));
                u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[2] = (char)(0x80 | (cp & 0x3F));
                k = 3;
            } else {
                u[0] = (char)(0xF0 | (cp >> 18));
                u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
                u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
                u[3] = (char)(0x80 | (cp & 0x3F));
                k = 4;
            }
            tu_str_put(&s, u, k);
            continue;
        }
        size_t l = tu_utf8_len((const unsigned char *)p->p, (size_t)(p->end - p->p));
        if (!l) {
            p->err = "invalid UTF-8";
            goto bad;
        }
        tu_str_put(&s, p->p, l);
        p->p += l;
    }
    if (p->p >= p->end) {
        p->err = "unterminated string";
        goto bad;
    }
    p->p++;
    *out = s.p;
    *outlen = s.len;
    return true;
bad:
    tu_str_free(&s);
    return false;
}

static inline bool tu_jvalue(struct tu_jparse *p, struct tu_json *out)
{
    memset(out, 0, sizeof(*out));
    tu_jws(p);
    if (p->p >= p->end) {
        p->err = "unexpected end";
        return false;
    }
    if (++p->depth > 200) {
        p->err = "too deep";
        return false;
    }
    char c = *p->p;
    bool ok = true;
    if (c == '"') {
        out->kind = TJ_STR;
        ok = tu_jstring(p, &out->str, &out->len);
    } else if (c == '{' || c == '[') {
        bool obj = c == '{';
        out->kind = obj ? TJ_OBJ : TJ_ARR;
        p->p++;
        tu_jws(p);
        size_t cap = 0;
        if (p->p < p->end && *p->p == (obj ? '}' : ']')) {
            p->p++;
        } else {
            for (;;) {
                if (out->n == cap) {
                    cap = cap ? cap * 2 : 8;
                    out->items = realloc(out->items, cap * sizeof(*out->items));
                    if (obj)
                        out->keys = realloc(out->keys, cap * sizeof(*out->keys));
                }
                if (obj) {
                    tu_jws(p);
                    size_t kl;
                    if (p->p >= p->end || *p->p != '"' || !tu_jstring(p, &out->keys[out->n], &kl)) {
                        if (!p->err)
                            p->err = "expected a key";
                        ok = false;
                        break;
                    }
                    tu_jws(p);
                    if (p->p >= p->end || *p->p != ':') {
                        free(out->keys[out->n]);
                        p->err = "expected ':'";
                        ok = false;
                        break;
                    }
                    p->p++;
                }
                if (!tu_jvalue(p, &out->items[out->n])) {
                    if (obj)
                        free(out->keys[out->n]);
                    ok = false;
                    break;
                }
                out->n++;
                tu_jws(p);
                if (p->p < p->end && *p->p == ',') {
                    p->p++;
                    continue;
                }
                if (p->p < p->end && *p->p == (obj ? '}' : ']')) {
                    p->p++;
                    break;
                }
                p->err = "expected ',' or a closing bracket";
                ok = false;
                break;
            }
        }
    } else if (p->end - p->p >= 4 && !memcmp(p->p, "null", 4)) {
        out->kind = TJ_NULL;
        p->p += 4;
    } else if (p->end - p->p >= 4 && !memcmp(p->p, "true", 4)) {
        out->kind = TJ_BOOL;
        out->b = true;
        p->p += 4;
    } else if (p->end - p->p >= 5 && !memcmp(p->p, "false", 5)) {
        out->kind = TJ_BOOL;
        p->p += 5;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        /* the JSON number grammar, strictly */
        const char *st = p->p, *q = p->p;
        if (*q == '-')
            q++;
        if (q < p->end && *q == '0')
            q++;
        else if (q < p->end && *q >= '1' && *q <= '9')
            while (q < p->end && *q >= '0' && *q <= '9')
                q++;
        else
            ok = false;
        if (ok && q < p->end && *q == '.') {
            q++;
            if (q >= p->end || *q < '0' || *q > '9')
                ok = false;
            while (q < p->end && *q >= '0' && *q <= '9')
                q++;
        }
        if (ok && q < p->end && (*q == 'e' || *q == 'E')) {
            q++;
            if (q < p->end && (*q == '+' || *q == '-'))
                q++;
            if (q >= p->end || *q < '0' || *q > '9')
                ok = false;
            while (q < p->end && *q >= '0' && *q <= '9')
                q++;
        }
        if (!ok) {
            p->err = "bad number";
        } else {
            out->kind = TJ_NUM;
            out->len = (size_t)(q - st);
            out->str = malloc(out->len + 1);
            memcpy(out->str, st, out->len);
            out->str[out->len] = 0;
            out->num = strtod(out->str, NULL);
            p->p = q;
        }
    } else {
        p->err = "unexpected character";
        ok = false;
    }
    p->depth--;
    if (!ok)
        tu_json_free(out);
    return ok;
}

/* Parses exactly one JSON value spanning s[0..n) (blanks around allowed). */
static inline bool tu_json_parse(const char *s, size_t n, struct tu_json *out, const char **err)
{
    struct tu_jparse p = {.p = s, .end = s + n};
    bool ok = tu_jvalue(&p, out);
    if (ok) {
        tu_jws(&p);
        if (p.p != p.end) {
            tu_json_free(out);
            p.err = "trailing bytes";
            ok = false;
        }
    }
    if (err)
        *err = p.err;
    return ok;
}

static inline const struct tu_json *tu_json_get(const struct tu_json *o, const char *key)
{
    if (!o || o->kind != TJ_OBJ)
        return NULL;
    for (size_t i = 0; i < o->n; i++)
        if (strcmp(o->keys[i], key) == 0)
            return &o->items[i];
    return NULL;
}

/* Path lookup: "rule.attack.techniques". */
static inline const struct tu_json *tu_json_path(const struct tu_json *o, const char *path)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", path);
    char *save = NULL;
    for (char *k = strtok_r(buf, ".", &save); k && o; k = strtok_r(NULL, ".", &save))
        o = tu_json_get(o, k);
    return o;
}

static inline const char *tu_json_str(const struct tu_json *o, const char *path)
{
    const struct tu_json *v = tu_json_path(o, path);
    return v && v->kind == TJ_STR ? v->str : NULL;
}

#endif
