/* Alerts and incidents to syslog, one line each, for hosts whose logs are
 * collected centrally: the local syslog daemon forwards them with the rest. */
#include <string.h>
#include <syslog.h>

#include "stoat/sinks.h"
#include "util/mem.h"

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

static const char *field(const struct stoat_alert *a, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < a->nfields; i++)
        if (a->fields[i].name_len == n && memcmp(a->fields[i].name, name, n) == 0)
            return a->fields[i].value;
    return NULL;
}

static stoat_err syslog_alert(void *ctx, const struct stoat_alert *a)
{
    (void)ctx;
    const char *img = field(a, "Image"), *cmd = field(a, "CommandLine");
    syslog(LOG_AUTHPRIV | priority(a->rule->level), "alert %llu level=%s host=%s rule=\"%s\" id=%s image=%s cmd=\"%.400s\"",
           (unsigned long long)a->id, stoat_level_name(a->rule->level), a->host ? a->host : "-",
           a->rule->title ? a->rule->title : "-", a->rule->id ? a->rule->id : "-", img ? img : "-", cmd ? cmd : "");
    return STOAT_OK;
}

static stoat_err syslog_incident(void *ctx, const struct stoat_incident *inc)
{
    (void)ctx;
    syslog(LOG_AUTHPRIV | priority(inc->level), "incident %llu score=%.0f level=%s host=%s \"%s\" alerts=%zu",
           (unsigned long long)inc->id, inc->score, stoat_level_name(inc->level), inc->host ? inc->host : "-",
           inc->title ? inc->title : "-", inc->nalerts);
    return STOAT_OK;
}

static void syslog_destroy(void *ctx)
{
    (void)ctx;
    closelog();
}

void stoat_sink_syslog(const char *ident, struct stoat_sink *sink)
{
    openlog(ident ? ident : "stoat", LOG_PID | LOG_NDELAY, LOG_AUTHPRIV);
    *sink = (struct stoat_sink){.alert = syslog_alert, .incident = syslog_incident, .destroy = syslog_destroy};
}
