/* Human output: a line per alert (table) and the closing summary. Colour is
 * the caller's decision (a TTY and no NO_COLOR); here it only picks escapes.
 * Every string that comes from outside (an event's host, image, command
 * line, a rule's title, a correlation's group values) goes through
 * buf_visible on its way to the terminal, so the only escape sequences that
 * reach it are the colours written here. Times are UTC, from the alert's
 * nanoseconds, in one form for alerts and incident ranges. */
#include <stdlib.h>
#include <string.h>

#include "event/render.h"
#include "stoat/sinks.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

static const char *level_color(enum stoat_level l)
{
    switch (l) {
    case STOAT_LEVEL_CRITICAL: return "\033[1;97;41m";
    case STOAT_LEVEL_HIGH: return "\033[1;31m";
    case STOAT_LEVEL_MEDIUM: return "\033[33m";
    case STOAT_LEVEL_LOW: return "\033[36m";
    default: return "\033[2m";
    }
}
#define RESET "\033[0m"
#define BOLD  "\033[1m"

static void span(char *out, size_t n, int64_t a, int64_t b);

/* Outside text, escaped (see buf_visible). */
static void shown(struct buf *b, const char *s)
{
    if (s)
        buf_visible(b, s, strlen(s), false);
}

/* Outside text in a column of width bytes: escaped, then cut (on a
 * character's boundary) or padded. */
static void shown_column(struct buf *b, const char *s, size_t width)
{
    size_t start = b->len;
    shown(b, s);
    if (b->len - start > width) {
        b->len = start + utf8_cut(b->p + start, width);
        b->p[b->len] = 0;
    }
    while (b->len - start < width)
        buf_putc(b, ' ');
}

/* "event_count 5 from 22:01:00 to 22:05:10 | User: x | alerts #3 #4 #9" */
static void corr_line(struct buf *b, const struct stoat_corr_detail *d)
{
    char when[80];
    span(when, sizeof(when), d->first_ns, d->last_ns);
    buf_printf(b, "%s %.6g, %s", stoat_corr_type_name(d->type), d->value, when);
    for (size_t i = 0; i < d->ngroup; i++) {
        buf_puts(b, " | ");
        shown(b, d->group_names[i]);
        buf_puts(b, ": ");
        shown(b, d->group_values[i] ? d->group_values[i] : "-");
    }
    if (d->nalert_ids) {
        buf_puts(b, " | alerts");
        size_t show = d->nalert_ids < 12 ? d->nalert_ids : 12;
        for (size_t i = 0; i < show; i++)
            buf_printf(b, " #%llu", (unsigned long long)d->alert_ids[i]);
        if (show < d->nalert_ids)
            buf_printf(b, " and %zu more", d->nalert_ids - show);
    }
    /* what it counted, one line each */
    for (size_t i = 0; i < d->nevidence; i++) {
        char t[32] = "-";
        if (d->evidence[i].time_ns != INT64_MIN)
            format_time_ns(d->evidence[i].time_ns, t);
        buf_printf(b, "\n        %.8s  ", t[0] != '-' ? t + 11 : t);
        shown(b, d->evidence[i].rule);
        buf_puts(b, ": ");
        shown(b, d->evidence[i].summary);
    }
}

struct table {
    FILE *out;
    bool color;
    struct buf b, glance;
};

static stoat_err table_alert(void *ctx, const struct stoat_alert *a)
{
    struct table *t = ctx;
    struct buf *b = &t->b;
    buf_clear(b);
    char ts[32] = "-";
    if (a->time_ns != INT64_MIN) {
        format_time_ns(a->time_ns, ts);
        ts[10] = ' ';
        ts[19] = 0;
    }
    const char *lvl = stoat_level_name(a->rule->level);
    buf_printf(b, "%-19s  ", ts);
    if (t->color)
        buf_puts(b, level_color(a->rule->level));
    buf_printf(b, "%-13s", lvl[0] ? lvl : "-");
    if (t->color)
        buf_puts(b, RESET);
    buf_puts(b, "  ");
    shown_column(b, a->host ? a->host : "-", 18);
    buf_puts(b, "  ");
    if (t->color)
        buf_puts(b, BOLD);
    shown(b, a->rule->title ? a->rule->title : "?");
    if (t->color)
        buf_puts(b, RESET);
    buf_puts(b, "\n      ");
    if (a->corr) {
        corr_line(b, a->corr);
    } else {
        buf_clear(&t->glance);
        event_glance(&t->glance, a->fields, a->nfields, 240);
        if (t->glance.len)
            buf_visible(b, t->glance.p, t->glance.len, false);
    }
    buf_putc(b, '\n');
    if (a->nancestry > 1) {
        /* the tree, root first: where did this come from */
        buf_puts(b, "      tree: ");
        for (size_t i = a->nancestry; i-- > 0;) {
            const char *img = a->ancestry[i].image;
            if (!img) {
                /* known only from its child's event: say so, with its pid */
                if (a->ancestry[i].pid >= 0)
                    buf_printf(b, "pid %lld (image not in the logs)", (long long)a->ancestry[i].pid);
                else
                    buf_puts(b, "(a process not in the logs)");
            } else {
                const char *base = strrchr(img, '\\');
                if (!base)
                    base = strrchr(img, '/');
                shown(b, base ? base + 1 : img);
            }
            if (i)
                buf_puts(b, " > ");
        }
        buf_putc(b, '\n');
    }
    return fwrite(b->p, 1, b->len, t->out) == b->len ? STOAT_OK : STOAT_ERR_IO;
}

static void span(char *out, size_t n, int64_t a, int64_t b)
{
    char x[64], y[64];
    if (a == INT64_MIN) {
        snprintf(out, n, "-");
        return;
    }
    format_time_ns(a, x);
    format_time_ns(b, y);
    x[19] = y[19] = 0;
    x[10] = ' ';
    /* same day: print the day once */
    snprintf(out, n, "%.19s to %.19s", x, strncmp(x, y, 10) == 0 ? y + 11 : y);
}

/* "hosts: a -> b -> c (account x)" of a fleet incident, into b */
static void fleet_line(struct buf *b, const struct stoat_incident *inc)
{
    buf_clear(b);
    buf_puts(b, "hosts: ");
    for (size_t i = 0; i < inc->nhosts; i++)
        buf_printf(b, "%s%s", i ? " -> " : "", inc->hosts[i].host);
    if (inc->account)
        buf_printf(b, " (account %s)", inc->account);
}

static stoat_err table_incident(void *ctx, const struct stoat_incident *inc)
{
    struct table *t = ctx;
    struct buf *b = &t->b;
    char when[64];
    span(when, sizeof(when), inc->first_ns, inc->last_ns);
    buf_clear(b);
    buf_printf(b, "\n%sINCIDENT %llu%s  score %.0f  %s%s%s  %s\n  ", t->color ? BOLD : "", (unsigned long long)inc->id,
               t->color ? RESET : "", inc->score, t->color ? level_color(inc->level) : "", stoat_level_name(inc->level),
               t->color ? RESET : "", when);
    shown(b, inc->title);
    buf_putc(b, '\n');
    if (inc->nhosts) {
        struct buf line = {0};
        fleet_line(&line, inc);
        buf_puts(b, "  ");
        shown(b, line.p);
        buf_putc(b, '\n');
        buf_free(&line);
        for (size_t i = 0; i < inc->nedges; i++) {
            const struct stoat_incident_edge *e = &inc->edges[i];
            char at[32];
            format_time_ns(e->first_ns, at);
            buf_puts(b, "  logon: ");
            shown(b, e->account);
            buf_putc(b, ' ');
            shown(b, e->from);
            buf_puts(b, " -> ");
            shown(b, e->to);
            buf_puts(b, " (");
            shown(b, e->via);
            buf_printf(b, ")%s at %s\n", e->is_new ? " new" : "", at);
        }
    }
    for (size_t i = 0; i < inc->nevidence; i++) {
        buf_puts(b, inc->evidence[i].tactic ? "  evidence: " : "  observed: ");
        shown(b, inc->evidence[i].text);
        buf_putc(b, '\n');
    }
    return fwrite(b->p, 1, b->len, t->out) == b->len ? STOAT_OK : STOAT_ERR_IO;
}

static void table_destroy(void *ctx)
{
    struct table *t = ctx;
    buf_free(&t->b);
    buf_free(&t->glance);
    free(t);
}

static stoat_err table_end(void *ctx, const struct stoat_hunt_stats *s)
{
    (void)s;
    struct table *t = ctx;
    return fflush(t->out) == 0 ? STOAT_OK : STOAT_ERR_IO;
}

void stoat_sink_table(FILE *out, bool color, struct stoat_sink *sink)
{
    struct table *t = xcalloc(1, sizeof(*t));
    t->out = out;
    t->color = color;
    *sink = (struct stoat_sink){
        .ctx = t, .alert = table_alert, .incident = table_incident, .end = table_end, .destroy = table_destroy};
}

/* ---------------------------------------------------------------- summary */

struct rule_count {
    const struct stoat_rule_meta *rule;
    uint64_t n;
};

struct host_count {
    const char *host;
    uint64_t n;
    uint64_t by_level[STOAT_LEVEL_COUNT];
};

#define SUMMARY_EVIDENCE 3 /* evidence lines shown per incident */

struct incident_row {
    uint64_t id;
    char *host, *title;
    char *hosts;                      /* a fleet incident's hosts line, else NULL */
    char *evidence[SUMMARY_EVIDENCE]; /* the first lines that support a claim */
    size_t nevidence, more;
    double score;
    enum stoat_level level;
    int64_t first_ns, last_ns;
    size_t nalerts;
};

struct summary {
    FILE *out;
    struct incident_row *inc;
    size_t ninc, inc_cap;
    struct stoat_summary_opts opts;
    struct strmap rule_idx, host_idx;
    struct rule_count *rules;
    size_t nrules, rcap;
    struct host_count *hosts;
    size_t nhosts, hcap;
    struct buf text;
};

/* Outside text for the summary: escaped into s->text, which it returns. */
static const char *summary_shown(struct summary *s, const char *v)
{
    buf_clear(&s->text);
    buf_visible(&s->text, v ? v : "", v ? strlen(v) : 0, false); /* a string even for "" */
    return s->text.p;
}

static stoat_err summary_alert(void *ctx, const struct stoat_alert *a)
{
    struct summary *s = ctx;
    uint32_t i;
    const void *key = &a->rule;
    if (!strmap_get(&s->rule_idx, key, sizeof(a->rule), &i)) {
        i = (uint32_t)s->nrules;
        strmap_put(&s->rule_idx, key, sizeof(a->rule), i);
        XGROW(s->rules, s->rcap, s->nrules + 1);
        s->rules[s->nrules++] = (struct rule_count){.rule = a->rule};
    }
    s->rules[i].n++;
    const char *host = a->host ? a->host : "(no host)";
    if (!strmap_get(&s->host_idx, host, strlen(host), &i)) {
        i = (uint32_t)s->nhosts;
        strmap_put(&s->host_idx, host, strlen(host), i);
        XGROW(s->hosts, s->hcap, s->nhosts + 1);
        s->hosts[s->nhosts++] = (struct host_count){.host = strmap_key(&s->host_idx, host, strlen(host))};
    }
    s->hosts[i].n++;
    s->hosts[i].by_level[a->rule->level]++;
    return STOAT_OK;
}

static stoat_err summary_incident(void *ctx, const struct stoat_incident *inc)
{
    struct summary *s = ctx;
    XGROW(s->inc, s->inc_cap, s->ninc + 1);
    s->inc[s->ninc++] = (struct incident_row){.id = inc->id,
                                              .host = xstrdup(inc->host ? inc->host : "-"),
                                              .title = xstrdup(inc->title ? inc->title : "-"),
                                              .score = inc->score,
                                              .level = inc->level,
                                              .first_ns = inc->first_ns,
                                              .last_ns = inc->last_ns,
                                              .nalerts = inc->nalerts};
    struct incident_row *r = &s->inc[s->ninc - 1];
    if (inc->nhosts) {
        struct buf line = {0};
        fleet_line(&line, inc);
        r->hosts = xstrdup(line.p);
        buf_free(&line);
    }
    /* data leaving first, then the rest that supports a claim */
    for (size_t k = 0; k < 2 * inc->nevidence; k++) {
        size_t i = k % inc->nevidence;
        const char *tac = inc->evidence[i].tactic;
        if (!tac || (k < inc->nevidence) != (strcmp(tac, "exfiltration") == 0))
            continue;
        if (r->nevidence < SUMMARY_EVIDENCE)
            r->evidence[r->nevidence++] = xstrdup(inc->evidence[i].text);
        else
            r->more++;
    }
    return STOAT_OK;
}

static int cmp_incident(const void *x, const void *y)
{
    const struct incident_row *a = x, *b = y;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

static int cmp_rule(const void *x, const void *y)
{
    const struct rule_count *a = x, *b = y;
    if (a->rule->level != b->rule->level)
        return a->rule->level > b->rule->level ? -1 : 1;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return strcmp(a->rule->title ? a->rule->title : "", b->rule->title ? b->rule->title : "");
}

static uint64_t weight(const struct host_count *h)
{
    return h->by_level[STOAT_LEVEL_CRITICAL] * 1000000 + h->by_level[STOAT_LEVEL_HIGH] * 10000 +
           h->by_level[STOAT_LEVEL_MEDIUM] * 100 + h->by_level[STOAT_LEVEL_LOW];
}

static int cmp_host(const void *x, const void *y)
{
    const struct host_count *a = x, *b = y;
    uint64_t wa = weight(a), wb = weight(b);
    if (wa != wb)
        return wa > wb ? -1 : 1;
    if (a->n != b->n)
        return a->n > b->n ? -1 : 1;
    return strcmp(a->host, b->host);
}

static void num(char *out, size_t n, uint64_t v)
{
    char tmp[32];
    int l = snprintf(tmp, sizeof(tmp), "%llu", (unsigned long long)v);
    size_t o = 0;
    for (int i = 0; i < l && o + 2 < n; i++) {
        if (i && (l - i) % 3 == 0)
            out[o++] = ',';
        out[o++] = tmp[i];
    }
    out[o] = 0;
}

static stoat_err summary_end(void *ctx, const struct stoat_hunt_stats *st)
{
    struct summary *s = ctx;
    FILE *o = s->out;
    bool c = s->opts.color;
    char a[32], b[32], d[32];
    fprintf(o, "\n%sstoat hunt summary%s\n", c ? BOLD : "", c ? RESET : "");
    num(a, sizeof(a), st->events);
    num(b, sizeof(b), st->skipped);
    num(d, sizeof(d), st->files);
    double rate = st->seconds > 0 ? (double)st->events / st->seconds : 0;
    fprintf(o, "  read %s file%s, %s events (%s malformed records skipped) in %.2f s, %.0f events/s\n", d,
            st->files == 1 ? "" : "s", a, b, st->seconds, rate);
    if (st->files_skipped) {
        /* named, so a damaged log cannot hide among READMEs: the first few here, all with --verbose */
        fprintf(o, "  %llu file%s in the folders given %s skipped:", (unsigned long long)st->files_skipped,
                st->files_skipped == 1 ? "" : "s",
                st->files_skipped == 1 ? "is not an event log and was" : "are not event logs and were");
        size_t named = 0;
        for (size_t i = 0; i < STOAT_SKIPPED_NAMED && st->skipped_names[i]; i++, named++)
            fprintf(o, "%s %s", i ? "," : "", summary_shown(s, st->skipped_names[i]));
        if (st->files_skipped > named)
            fprintf(o, " and %llu more (--verbose names each)", (unsigned long long)(st->files_skipped - named));
        fputc('\n', o);
    }
    if (st->files_failed)
        fprintf(o, "  %llu input%s could not be read, or not whole (see the messages above)\n",
                (unsigned long long)st->files_failed, st->files_failed == 1 ? "" : "s");
    if (s->opts.load) {
        const struct stoat_load_stats *l = s->opts.load;
        fprintf(o, "  rules: %zu loaded, %zu rejected, %zu correlations, %zu filters (%.2f s to load)\n", l->loaded,
                l->rejected, l->correlations, l->filters, l->load_seconds);
    }
    if (st->corr_fired || st->corr_late || st->corr_evicted || st->corr_unusable || st->corr_batches > 1) {
        fprintf(o, "  correlations: %llu fired", (unsigned long long)st->corr_fired);
        if (st->corr_batches > 1)
            fprintf(o, "; matches fed in %llu time-sorted batches (memory cap)", (unsigned long long)st->corr_batches);
        if (st->corr_late)
            fprintf(o, "; %llu matches too late for their window", (unsigned long long)st->corr_late);
        if (st->corr_evicted)
            fprintf(o, "; %llu groups or events evicted to stay within memory", (unsigned long long)st->corr_evicted);
        if (st->corr_unusable)
            fprintf(o, "; %llu matches without a field they group by", (unsigned long long)st->corr_unusable);
        fputc('\n', o);
    }
    if (st->cross_dropped)
        fprintf(o, "  cross-host: %llu facts dropped at the memory cap (fleet incidents may miss them)\n",
                (unsigned long long)st->cross_dropped);
    if (st->incident_batches > 1 || st->incident_late)
        fprintf(o, "  incidents: alerts chained in %llu time-sorted batches (memory cap), %llu out of time order\n",
                (unsigned long long)st->incident_batches, (unsigned long long)st->incident_late);
    if (st->proc_evicted)
        fprintf(o, "  process table: %llu oldest processes evicted to stay within memory\n",
                (unsigned long long)st->proc_evicted);
    if (st->regex_limited) {
        /* never silent: these rules may have missed what they look for */
        num(a, sizeof(a), st->regex_limited);
        fprintf(o, "  %sregex limits:%s %s rule evaluations undecided (counted as no match) in %zu rule%s:\n",
                c ? BOLD : "", c ? RESET : "", a, st->regex_limited_rules, st->regex_limited_rules == 1 ? "" : "s");
        for (size_t i = 0; i < st->regex_limited_rules && i < STOAT_LIMIT_RULES; i++) {
            const struct stoat_rule_meta *m = st->regex_limits[i].rule;
            num(a, sizeof(a), st->regex_limits[i].evaluations);
            fprintf(o, "    %-8s %s (%s)\n", a, m->title ? m->title : "?", m->id ? m->id : "no id");
        }
        if (st->regex_limited_rules > STOAT_LIMIT_RULES)
            fprintf(o, "    ... and %zu more rules\n", st->regex_limited_rules - STOAT_LIMIT_RULES);
    }
    if (s->ninc) {
        qsort(s->inc, s->ninc, sizeof(*s->inc), cmp_incident);
        fprintf(o, "\n  %s%zu incident%s%s\n", c ? BOLD : "", s->ninc, s->ninc == 1 ? "" : "s", c ? RESET : "");
        for (size_t i = 0; i < s->ninc; i++) {
            const struct incident_row *r = &s->inc[i];
            char when[64];
            span(when, sizeof(when), r->first_ns, r->last_ns);
            fprintf(o, "  #%-4llu %sscore %3.0f %-8s%s %s\n        %s\n", (unsigned long long)r->id,
                    c ? level_color(r->level) : "", r->score, stoat_level_name(r->level), c ? RESET : "", when,
                    summary_shown(s, r->title));
            if (r->hosts)
                fprintf(o, "        %s\n", summary_shown(s, r->hosts));
            for (size_t k = 0; k < r->nevidence; k++)
                fprintf(o, "        evidence: %s\n", summary_shown(s, r->evidence[k]));
            if (r->more)
                fprintf(o, "        evidence: %zu more\n", r->more);
        }
    } else {
        fprintf(o, "\n  no incidents\n");
    }
    num(a, sizeof(a), st->alerts);
    fprintf(o, "\n  %s alert%s", a, st->alerts == 1 ? "" : "s");
    for (int l = STOAT_LEVEL_CRITICAL; l >= STOAT_LEVEL_NONE; l--) {
        if (!st->alerts_by_level[l])
            continue;
        num(a, sizeof(a), st->alerts_by_level[l]);
        fprintf(o, "   %s%s %s%s", c ? level_color((enum stoat_level)l) : "",
                l ? stoat_level_name((enum stoat_level)l) : "no level", a, c ? RESET : "");
    }
    fputc('\n', o);
    if (!s->nrules) {
        fflush(o);
        return STOAT_OK;
    }
    qsort(s->rules, s->nrules, sizeof(*s->rules), cmp_rule);
    unsigned top = s->opts.top_rules ? s->opts.top_rules : 15;
    fprintf(o, "\n  %-8s %-13s %s\n", "alerts", "level", "rule");
    for (size_t i = 0; i < s->nrules && i < top; i++) {
        const struct rule_count *r = &s->rules[i];
        num(a, sizeof(a), r->n);
        fprintf(o, "  %-8s %s%-13s%s %s\n", a, c ? level_color(r->rule->level) : "",
                stoat_level_name(r->rule->level)[0] ? stoat_level_name(r->rule->level) : "-", c ? RESET : "",
                summary_shown(s, r->rule->title ? r->rule->title : "?"));
    }
    if (s->nrules > top)
        fprintf(o, "  ... and %zu more rules\n", s->nrules - top);
    qsort(s->hosts, s->nhosts, sizeof(*s->hosts), cmp_host);
    unsigned toph = s->opts.top_hosts ? s->opts.top_hosts : 10;
    fprintf(o, "\n  %-8s %-8s %-8s %-8s %s\n", "alerts", "crit", "high", "medium", "host");
    for (size_t i = 0; i < s->nhosts && i < toph; i++) {
        const struct host_count *h = &s->hosts[i];
        num(a, sizeof(a), h->n);
        fprintf(o, "  %-8s %-8llu %-8llu %-8llu %s\n", a, (unsigned long long)h->by_level[STOAT_LEVEL_CRITICAL],
                (unsigned long long)h->by_level[STOAT_LEVEL_HIGH], (unsigned long long)h->by_level[STOAT_LEVEL_MEDIUM],
                summary_shown(s, h->host));
    }
    if (s->nhosts > toph)
        fprintf(o, "  ... and %zu more hosts\n", s->nhosts - toph);
    fflush(o);
    return STOAT_OK;
}

static void summary_destroy(void *ctx)
{
    struct summary *s = ctx;
    strmap_free(&s->rule_idx);
    strmap_free(&s->host_idx);
    free(s->rules);
    free(s->hosts);
    buf_free(&s->text);
    for (size_t i = 0; i < s->ninc; i++) {
        free(s->inc[i].host);
        free(s->inc[i].title);
        free(s->inc[i].hosts);
        for (size_t k = 0; k < s->inc[i].nevidence; k++)
            free(s->inc[i].evidence[k]);
    }
    free(s->inc);
    free(s);
}

void stoat_sink_summary(FILE *out, const struct stoat_summary_opts *opts, struct stoat_sink *sink)
{
    struct summary *s = xcalloc(1, sizeof(*s));
    s->out = out;
    if (opts)
        s->opts = *opts;
    strmap_init(&s->rule_idx);
    strmap_init(&s->host_idx);
    *sink = (struct stoat_sink){
        .ctx = s, .alert = summary_alert, .incident = summary_incident, .end = summary_end, .destroy = summary_destroy};
}
