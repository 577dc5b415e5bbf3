/* See matcher.h. The head's fields are looked up by interned id in the
 * priority order the mapping gives (rs->host_ids, ...): a few array reads
 * per event, and none at all for the events that matter to nobody. */
#include "pipeline/matcher.h"

#include <string.h>

#include "behaviour/sources.h"
#include "rules/ruleset.h"
#include "util/mem.h"

void matcher_init(struct matcher *m, const struct stoat_ruleset *rs, enum stoat_level min_level)
{
    memset(m, 0, sizeof(*m));
    m->rs = rs;
    m->min_level = min_level;
    m->eng = engine_ctx_create(rs);
}

void matcher_fini(struct matcher *m)
{
    engine_ctx_destroy(m->eng);
    free(m->rules);
    free(m->use);
}

/* Splits engine_event_match's list into the rules worth passing on and
 * their use; returns how many. */
static size_t classify(const struct stoat_ruleset *rs, enum stoat_level min_level, const uint32_t *rules, size_t n,
                       uint32_t *out, uint8_t *use)
{
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        uint32_t idx = rules[i] & ~ENGINE_DEFERRED;
        const struct rule *r = &rs->rules[idx];
        bool silent = behaviour_role_silent(r->role);
        bool report = !r->correlation_only && !silent && r->meta.level >= min_level;
        if (!report && !r->feeds_correlation && !silent)
            continue;
        out[k] = idx;
        use[k] = silent                         ? USE_BEHAVIOUR
                 : (rules[i] & ENGINE_DEFERRED) ? USE_DEFERRED
                 : report                       ? USE_REPORT
                                                : USE_CORRELATION;
        k++;
    }
    return k;
}

static const struct ev_field *first_of(const struct engine_ctx *e, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const struct ev_field *f = engine_event_get(e, ids[i]);
        if (f && f->type != STOAT_V_NULL)
            return f;
    }
    return NULL;
}

static const struct ev_field *get_id(const struct engine_ctx *e, uint32_t id)
{
    const struct ev_field *f = id == FIELD_UNKNOWN ? NULL : engine_event_get(e, id);
    return f && f->type != STOAT_V_NULL ? f : NULL;
}

/* The one event header lookup every pipeline shares (see match_head). */
static void find_head(const struct stoat_ruleset *rs, const struct engine_ctx *e, const struct match_result *r,
                      struct match_head *h)
{
    int spec = r->spec;
    h->time = first_of(e, rs->ts_ids, rs->nts_ids);
    h->host = first_of(e, rs->host_ids, rs->nhost_ids);
    if (spec >= 0)
        for (int f = 0; f < PF_COUNT; f++)
            h->proc[f] = get_id(e, rs->procs[spec].f[f]);
    if (!r->passed)
        return;
    h->channel = first_of(e, rs->channel_ids, rs->nchannel_ids);
    h->event_id = first_of(e, rs->eid_ids, rs->neid_ids);
    if (spec >= 0 && !rs->procs[spec].end) {
        /* a start names the new process itself */
        h->guid = h->proc[PF_GUID];
        h->pid = h->proc[PF_PID];
        h->logon_id = h->proc[PF_LOGON_ID];
    } else {
        h->guid = first_of(e, rs->actor_ids[AF_GUID], rs->nactor_ids[AF_GUID]);
        h->pid = first_of(e, rs->actor_ids[AF_PID], rs->nactor_ids[AF_PID]);
        h->logon_id = first_of(e, rs->actor_ids[AF_LOGON_ID], rs->nactor_ids[AF_LOGON_ID]);
    }
}

void matcher_run(struct matcher *m, bool always, struct match_result *r)
{
    const uint32_t *matched;
    size_t n = engine_event_match(m->eng, &matched);
    if (n > m->cap) {
        m->cap = n;
        m->rules = xrealloc(m->rules, n * sizeof(*m->rules));
        m->use = xrealloc(m->use, n * sizeof(*m->use));
    }
    r->n = n ? classify(m->rs, m->min_level, matched, n, m->rules, m->use) : 0;
    r->rules = m->rules;
    r->use = m->use;
    r->spec = engine_event_procspec(m->eng);
    r->passed = r->n || always;
    if (r->passed || r->spec >= 0)
        find_head(m->rs, m->eng, r, &r->head);
}
