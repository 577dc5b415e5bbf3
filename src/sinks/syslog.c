/* Alerts and incidents to syslog, one line each, for hosts whose logs are
 * collected centrally: the local syslog daemon forwards them with the rest.
 * A log line is read by people and parsed by collectors, so every value from
 * an event or a rule is quoted and escaped (syslog_line.h). */
#include <stdlib.h>
#include <string.h>
#include <syslog.h>

#include "sinks/syslog_line.h"
#include "stoat/sinks.h"
#include "util/mem.h"
#include "util/text.h"

/* A command line is cut here (on a character's boundary): one log line
 * should stay within what syslog daemons forward whole. */
enum {
    CMD_MAX = 400
};

static int priority(enum stoat_level l)
{
    switch (l) {
    case STOAT_LEVEL_CRITICAL: return LOG_CRIT;
    case STOAT_LEVEL_HIGH: return LOG_ERR;
    case STOAT_LEVEL_MEDIUM: return LOG_WARNING;
    case STOAT_LEVEL_LOW: return LOG_NOTICE;
    default: return LOG_INFO;
    }
}

static const char *field(const struct stoat_alert *a, const char *name, size_t *len)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < a->nfields; i++)
        if (a->fields[i].name_len == n && memcmp(a->fields[i].name, name, n) == 0) {
            *len = a->fields[i].value_len;
            return a->fields[i].value;
        }
    return NULL;
}

/* key="value" escaped, or key=- when there is none. */
static void kv(struct buf *b, const char *key, const char *v, size_t n)
{
    buf_printf(b, " %s=", key);
    if (!v) {
        buf_putc(b, '-');
        return;
    }
    buf_putc(b, '"');
    buf_visible(b, v, n, true);
    buf_putc(b, '"');
}

static void kv_str(struct buf *b, const char *key, const char *v)
{
    kv(b, key, v, v ? strlen(v) : 0);
}

static void kv_time(struct buf *b, const char *key, int64_t ns)
{
    char t[32];
    if (ns == INT64_MIN || ns == INT64_MAX) {
        buf_printf(b, " %s=-", key);
        return;
    }
    format_time_ns(ns, t);
    buf_printf(b, " %s=%s", key, t);
}

void syslog_alert_line(struct buf *b, const struct stoat_alert *a)
{
    size_t il = 0, cl = 0;
    const char *img = field(a, "Image", &il), *cmd = field(a, "CommandLine", &cl);
    if (cl > CMD_MAX)
        cl = utf8_cut(cmd, CMD_MAX);
    buf_printf(b, "alert %llu", (unsigned long long)a->id);
    kv_time(b, "time", a->time_ns);
    buf_printf(b, " level=%s", stoat_level_name(a->rule->level)[0] ? stoat_level_name(a->rule->level) : "-");
    kv_str(b, "host", a->host);
    kv_str(b, "rule", a->rule->title);
    kv_str(b, "id", a->rule->id);
    kv(b, "image", img, il);
    kv(b, "cmd", cmd, cl);
}

void syslog_incident_line(struct buf *b, const struct stoat_incident *inc)
{
    buf_printf(b, "incident %llu score=%.0f level=%s", (unsigned long long)inc->id, inc->score,
               stoat_level_name(inc->level)[0] ? stoat_level_name(inc->level) : "-");
    kv_str(b, "host", inc->host);
    kv_str(b, "title", inc->title);
    kv_time(b, "first", inc->first_ns);
    kv_time(b, "last", inc->last_ns);
    buf_printf(b, " alerts=%zu", inc->nalerts);
}

struct syslog_sink {
    struct buf line;
};

static stoat_err syslog_alert(void *ctx, const struct stoat_alert *a)
{
    struct syslog_sink *s = ctx;
    buf_clear(&s->line);
    syslog_alert_line(&s->line, a);
    syslog(LOG_AUTHPRIV | priority(a->rule->level), "%s", s->line.p);
    return STOAT_OK;
}

static stoat_err syslog_incident(void *ctx, const struct stoat_incident *inc)
{
    struct syslog_sink *s = ctx;
    buf_clear(&s->line);
    syslog_incident_line(&s->line, inc);
    syslog(LOG_AUTHPRIV | priority(inc->level), "%s", s->line.p);
    return STOAT_OK;
}

static void syslog_destroy(void *ctx)
{
    struct syslog_sink *s = ctx;
    closelog();
    buf_free(&s->line);
    free(s);
}

void stoat_sink_syslog(const char *ident, struct stoat_sink *sink)
{
    struct syslog_sink *s = xcalloc(1, sizeof(*s));
    openlog(ident ? ident : "stoat", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    *sink =
        (struct stoat_sink){.ctx = s, .alert = syslog_alert, .incident = syslog_incident, .destroy = syslog_destroy};
}
