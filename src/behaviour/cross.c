/* See cross.h.
 *
 * Facts are kept as they come and chained in event time (offline at the
 * end; live, over what event time has passed, see cross_advance):
 *
 * 1. Logons become moves: an account from a place to a host. The halves are
 *    joined first: sshd's child process takes the address of sshd's accept
 *    on the same host just before it; a service install takes the account
 *    of the session that installed it (4697) or, when the event names none
 *    (7045), of the network logon into the host just before it; a WinRM
 *    shell host marks the logon of its session. Places are
 *    named by hosts where they can be: a workstation name or a host's own
 *    name (4648) by the hosts seen, an address by the hosts seen using it.
 * 2. Alerts are attributed to an account: the one whose logon opened the
 *    session the alert names, else the user the alert names, else (a
 *    program run as SYSTEM right after a service was installed, PsExec's
 *    way) the account that installed the service.
 * 3. Per account, moves in time order link hosts: a move from A to B joins
 *    A and B when the account raised alerts on B soon after it (within the
 *    gap) and on A around it, or A is already in the chain. A chain of two
 *    or more hosts is scored like a single host's (chains.h), with lateral
 *    movement as an observed tactic and the evidence each host's judge
 *    finds; scoring at least the threshold it is a fleet incident.
 *
 * Routine administration moves all the time; it becomes an incident only
 * when the hosts it joins raised alerts that, together, tell the story.
 * The incident itself is built in cross_report.c. */
#include "behaviour/cross_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "behaviour/baseline.h"
#include "behaviour/lateral.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/sorted.h"
#include "util/strmap.h"
#include "util/text.h"

#define NS               1000000000LL
#define SSH_PAIR_NS      (120 * NS) /* sshd's accept to its session's first process */
#define SERVICE_PAIR_NS  (300 * NS) /* a network logon to the service it installs */
#define SERVICE_RUN_NS   (600 * NS) /* a service install to what it runs as SYSTEM */
#define ARRIVAL_SLACK_NS (60 * NS)  /* clocks of two hosts: an alert a little before the logon it follows */

/* a service installed on a host by an account */
struct service {
    const char *host;
    char akey[256];
    int64_t t;
};

/* ----------------------------------------------------------------- names */

static void lower(const char *s, char *out, size_t n)
{
    size_t i = 0;
    for (; s[i] && i + 1 < n; i++)
        out[i] = (char)ascii_lower_table[(unsigned char)s[i]];
    out[i] = 0;
}

/* Returns the host's index + 1 (unchanged for no name). */
static size_t note_host(struct cross *c, const char *name)
{
    if (!name || !*name || (c->last_noted && strcmp(name, c->host_names[c->last_noted - 1]) == 0))
        return c->last_noted;
    char low[256], sh[256];
    lower(name, low, sizeof(low));
    uint32_t idx = strmap_put(&c->hosts, low, strlen(low), (uint32_t)c->nhosts);
    c->last_noted = idx + 1;
    if (idx != c->nhosts)
        return c->last_noted;
    XGROW(c->host_names, c->hcap, c->nhosts + 1);
    c->host_names[c->nhosts++] = xstrdup(name);
    size_t sl = strcspn(low, ".");
    memcpy(sh, low, sl);
    sh[sl] = 0;
    bool added;
    struct strmap_slot *v = strmap_upsert(&c->shorts, sh, sl, idx + 1, &added);
    if (!added && v->value != idx + 1)
        v->value = 0; /* two hosts share the short name: it names neither */
    return c->last_noted;
}

/* The host a name stands for (exactly, or by its first label), or NULL. */
static const char *host_by_name(const struct cross *c, const char *name)
{
    if (!name || !*name)
        return NULL;
    char low[256];
    lower(name, low, sizeof(low));
    uint32_t idx;
    if (strmap_get(&c->hosts, low, strlen(low), &idx))
        return c->host_names[idx];
    size_t sl = strcspn(low, ".");
    if (strmap_get(&c->shorts, low, sl, &idx) && idx)
        return c->host_names[idx - 1];
    return NULL;
}

static const char *host_by_addr(const struct cross *c, const char *addr)
{
    uint32_t idx;
    if (!addr || !strmap_get(&c->addrs, addr, strlen(addr), &idx))
        return NULL;
    return idx == UINT32_MAX ? NULL : c->host_names[idx];
}

/* ------------------------------------------------------------- life */

struct cross *cross_create(const struct cross_opts *o, const struct cross_out *out)
{
    struct cross *c = xcalloc(1, sizeof(*c));
    if (o)
        c->o = *o;
    if (c->o.gap_ns <= 0)
        c->o.gap_ns = 2 * 3600 * NS;
    if (c->o.min_score <= 0)
        c->o.min_score = 50;
    if (!c->o.max_facts)
        c->o.max_facts = 1000000;
    if (!c->o.max_bytes)
        c->o.max_bytes = (size_t)64 << 20;
    if (c->o.lateness_ns <= 0)
        c->o.lateness_ns = 60 * NS;
    c->next_id = c->o.first_incident_id ? c->o.first_incident_id : 1;
    if (out)
        c->out = *out;
    strmap_init(&c->hosts);
    strmap_init(&c->shorts);
    strmap_init(&c->addrs);
    strmap_init(&c->emitted);
    strmap_init(&c->strs);
    c->graph = lateral_create(0);
    c->done_upto = INT64_MIN;
    return c;
}

static void logon_free(struct xlogon *l)
{
    free(l->reporter);
    free(l->account);
    free(l->src_host);
    free(l->src_addr);
    free(l->dst_host);
    free(l->dst_logon);
}

static void alert_free(const struct cross *c, struct xalert *a)
{
    if (c->o.live)
        free((char *)a->host); /* the block holding all its strings (cross_alert) */
}

void cross_destroy(struct cross *c)
{
    if (!c)
        return;
    for (size_t i = 0; i < c->nlogons; i++)
        logon_free(&c->logons[i]);
    for (size_t i = 0; i < c->nalerts; i++)
        alert_free(c, &c->alerts[i]);
    free(c->logons);
    if (c->alerts_mapped)
        xfree_big(c->alerts, c->acap, sizeof(*c->alerts));
    else
        free(c->alerts);
    free(c->kept_rules);
    strmap_free(&c->strs);
    for (size_t i = 0; i < c->nhosts; i++)
        free(c->host_names[i]);
    free(c->host_names);
    strmap_free(&c->hosts);
    strmap_free(&c->shorts);
    strmap_free(&c->addrs);
    strmap_free(&c->emitted);
    lateral_destroy(c->graph);
    free(c->covered);
    free(c);
}

static char *dup_or_null(const char *s)
{
    return s && *s ? xstrdup(s) : NULL;
}

static size_t slen(const char *s)
{
    return s ? strlen(s) + 1 : 0;
}

/* s copied to *at (room made by the caller), which moves past it. */
static char *put_str(char **at, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = memcpy(*at, s, n);
    *at += n;
    return p;
}

/* The same for a string that may be absent or empty (NULL then, as dup_or_null). */
static char *put_opt(char **at, const char *s)
{
    return s && *s ? put_str(at, s) : NULL;
}

/* Room for one more fact of about n bytes (else it is dropped, counted). */
static bool room_for(struct cross *c, size_t n, size_t kept)
{
    if (kept >= c->o.max_facts || c->bytes + n > c->o.max_bytes) {
        c->st.dropped++;
        return false;
    }
    c->bytes += n;
    return true;
}

void cross_logon(struct cross *c, const struct cross_logon *f)
{
    if (f->time_ns == INT64_MIN || !f->dst_host || !*f->dst_host)
        return;
    size_t need = sizeof(struct xlogon) + slen(f->reporter) + slen(f->account) + slen(f->src_host) + slen(f->src_addr) +
                  slen(f->dst_host) + slen(f->dst_logon);
    if (!room_for(c, need, c->nlogons))
        return;
    note_host(c, f->reporter);
    XGROW(c->logons, c->lcap, c->nlogons + 1);
    c->logons[c->nlogons++] = (struct xlogon){.reporter = dup_or_null(f->reporter),
                                              .account = dup_or_null(f->account),
                                              .src_host = dup_or_null(f->src_host),
                                              .src_addr = dup_or_null(f->src_addr),
                                              .dst_host = xstrdup(f->dst_host),
                                              .dst_logon = dup_or_null(f->dst_logon),
                                              .t = f->time_ns,
                                              .via = f->via,
                                              .seq = ++c->seq};
    c->st.logons++;
}

/* The kept copy of s (offline). */
static const char *intern(struct cross *c, const char *s)
{
    size_t n = strlen(s);
    const char **r = &c->recent[recent_key(s, n, RECENT_BITS)];
    if (*r && strcmp(*r, s) == 0)
        return *r;
    bool added;
    return *r = strmap_upsert(&c->strs, s, n, 0, &added)->key;
}

/* The same for a string that may be absent or empty (NULL then, as put_opt). */
static const char *intern_opt(struct cross *c, const char *s)
{
    return s && *s ? intern(c, s) : NULL;
}

/* Room for one more alert. Offline, the most room_for lets in, at once:
 * a mapping touched only as it fills, where growing by doubling copied
 * the alerts to fresh pages again and again (an attack's every event
 * alerts, and fresh pages are dear). */
static void alerts_room(struct cross *c)
{
    if (!c->acap && !c->o.live) {
        size_t most = c->o.max_bytes / sizeof(struct xalert);
        if (most > c->o.max_facts)
            most = c->o.max_facts;
        if (most * sizeof(struct xalert) <= ((size_t)1 << 30)) {
            c->alerts = xcalloc_big(most + 1, sizeof(*c->alerts));
            c->acap = most + 1;
            c->alerts_mapped = true;
        }
    }
    if (c->nalerts + 1 > c->acap && c->alerts_mapped) {
        /* not reached: room_for caps the count below acap */
        struct xalert *p = xmalloc(2 * c->acap * sizeof(*p));
        memcpy(p, c->alerts, c->nalerts * sizeof(*p));
        xfree_big(c->alerts, c->acap, sizeof(*c->alerts));
        c->alerts = p;
        c->acap *= 2;
        c->alerts_mapped = false;
    }
    XGROW(c->alerts, c->acap, c->nalerts + 1);
}

/* Offline: the alert's host, account, session and images as kept; an alert
 * of the last one's event (by its serial) names the same, not looked up. */
static void keep_event_strs(struct cross *c, const struct cross_alert *a, size_t len, struct xalert *x)
{
    if (a->event_serial && a->event_serial == c->last_event_serial && c->nalerts) {
        const struct xalert *last = &c->alerts[c->nalerts - 1];
        x->host = last->host;
        x->account = last->account;
        x->logon = last->logon;
        x->image = last->image;
        x->parent = last->parent;
        return;
    }
    x->host = intern(c, a->host);
    x->account = intern_opt(c, a->account);
    x->logon = intern_opt(c, a->logon_id);
    x->image = intern_opt(c, a->image);
    x->parent = intern_opt(c, a->parent_image);
    c->last_event_serial = a->event_serial;
    c->last_event_len = len;
}

/* The kept_rules entry of a rule's meta (kept_rules made). */
static struct kept_rule *kept_slot(const struct cross *c, const void *meta)
{
    return &c->kept_rules[((uintptr_t)meta >> 4) % KEPT_RULES];
}

/* Offline: the rule's id and title as kept, looked up once per rule by its
 * meta, the strings compared (another rule may take a freed meta's address)
 * unless the rule's serial says they are the ones kept. Its entry when they
 * were kept, else NULL. */
static const struct kept_rule *kept_rule_of(const struct cross *c, const struct cross_alert *a, const char *title)
{
    if (!a->rule_meta || !c->kept_rules)
        return NULL;
    const struct kept_rule *kr = kept_slot(c, a->rule_meta);
    if (kr->meta != a->rule_meta)
        return NULL;
    if (a->rule_serial && kr->rule_serial == a->rule_serial)
        return kr;
    if (kr->id_given != !!a->rule_id || kr->title_given != !!a->rule_title)
        return NULL;
    bool same_id = kr->id ? a->rule_id && strcmp(kr->id, a->rule_id) == 0 : !a->rule_id || !*a->rule_id;
    return same_id && strcmp(kr->title, title) == 0 ? kr : NULL;
}

/* The same kept for the next alerts of the rule (kr: kept_rule_of's). */
static void keep_rule_strs(struct cross *c, const struct cross_alert *a, const char *title, size_t len,
                           const struct kept_rule *kr, struct xalert *x)
{
    if (kr) {
        x->rule_id = kr->id;
        x->rule_title = kr->title;
        return;
    }
    x->rule_id = intern_opt(c, a->rule_id);
    x->rule_title = intern(c, title);
    if (!a->rule_meta)
        return;
    if (!c->kept_rules)
        c->kept_rules = xcalloc(KEPT_RULES, sizeof(*c->kept_rules));
    *kept_slot(c, a->rule_meta) = (struct kept_rule){.meta = a->rule_meta,
                                                     .rule_serial = a->rule_serial,
                                                     .id = x->rule_id,
                                                     .title = x->rule_title,
                                                     .id_given = a->rule_id,
                                                     .title_given = a->rule_title,
                                                     .len = len};
}

/* The room the alert's host, account, session and images take: an alert of
 * the last kept one's event names the same (keep_event_strs). */
static size_t event_strs_len(const struct cross *c, const struct cross_alert *a)
{
    if (a->event_serial && a->event_serial == c->last_event_serial && c->nalerts)
        return c->last_event_len;
    return slen(a->host) + slen(a->account) + slen(a->logon_id) + slen(a->image) + slen(a->parent_image);
}

void cross_prefetch_rule(const struct cross *c, const void *rule_meta)
{
    if (c->kept_rules)
        __builtin_prefetch(kept_slot(c, rule_meta));
}

void cross_alert(struct cross *c, const struct cross_alert *a)
{
    if (a->time_ns == INT64_MIN || !a->host || a->level <= STOAT_LEVEL_INFORMATIONAL)
        return;
    size_t ev_len = event_strs_len(c, a);
    const char *title = a->rule_title ? a->rule_title : "?";
    /* a rule kept before: the room its strings take known, not measured again */
    const struct kept_rule *kr = c->o.live ? NULL : kept_rule_of(c, a, title);
    size_t rule_len = kr ? kr->len : slen(a->rule_id) + slen(a->rule_title);
    size_t need = sizeof(struct xalert) + ev_len + rule_len;
    if (!room_for(c, need, c->nalerts))
        return;
    c->last_noted = a->host_slot && *a->host_slot ? *a->host_slot : note_host(c, a->host);
    if (a->host_slot && *a->host)
        *a->host_slot = (uint32_t)c->last_noted;
    alerts_room(c);
    struct xalert x = {.id = a->id, .proc = a->proc, .t = a->time_ns, .level = a->level, .tactics = a->tactics};
    x.host_index = *a->host ? (uint32_t)c->last_noted : 0;
    if (!c->o.live) {
        keep_event_strs(c, a, ev_len, &x);
        keep_rule_strs(c, a, title, rule_len, kr, &x);
    } else {
        /* its strings in one block, the host first: one allocation rather
         * than seven, freed as one (alert_free) */
        char *block = xmalloc(need - sizeof(struct xalert) + 2), *at = block;
        x.host = put_str(&at, a->host);
        x.account = put_opt(&at, a->account);
        x.logon = put_opt(&at, a->logon_id);
        x.rule_id = put_opt(&at, a->rule_id);
        x.rule_title = put_str(&at, title);
        x.image = put_opt(&at, a->image);
        x.parent = put_opt(&at, a->parent_image);
    }
    c->alerts[c->nalerts++] = x;
    c->st.alerts++;
}

void cross_address(struct cross *c, const char *host, const char *addr)
{
    if (!host || !*host || !addr || !*addr)
        return;
    note_host(c, host);
    char low[256];
    lower(host, low, sizeof(low));
    uint32_t idx;
    strmap_get(&c->hosts, low, strlen(low), &idx);
    uint32_t *v = strmap_value(&c->addrs, addr, strlen(addr));
    if (!v) {
        if (c->addrs.count < c->o.max_facts)
            strmap_put(&c->addrs, addr, strlen(addr), idx);
        c->st.addresses++;
    } else if (*v != idx) {
        *v = UINT32_MAX; /* two hosts said they use it (NAT, DHCP): it names neither */
    }
}

void cross_fact(struct cross *c, const struct cross_fact *f)
{
    switch (f->kind) {
    case CROSS_FACT_LOGON: cross_logon(c, &f->logon); break;
    case CROSS_FACT_ALERT: cross_alert(c, &f->alert); break;
    case CROSS_FACT_ADDRESS: cross_address(c, f->host, f->addr); break;
    case CROSS_FACT_MATCH: break;
    }
}

/* ------------------------------------------------------------- moves */

static int cmp_logon(const void *x, const void *y)
{
    const struct xlogon *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static int cmp_alert(const void *x, const void *y)
{
    const struct xalert *a = x, *b = y;
    if (a->t != b->t)
        return a->t < b->t ? -1 : 1;
    return a->id < b->id ? -1 : a->id > b->id;
}

/* The address sshd accepted on host just before t (the session's first
 * process), else NULL. */
static const char *ssh_source(const struct cross *c, size_t before, const char *host, int64_t t)
{
    for (size_t k = before; k-- > 0;) {
        const struct xlogon *l = &c->logons[k];
        if (t - l->t > SSH_PAIR_NS)
            break;
        if ((l->via & CROSS_VIA_SSH) && !l->account && l->src_addr && strcasecmp(l->dst_host, host) == 0)
            return l->src_addr;
    }
    return NULL;
}

struct plan {
    struct move *moves;
    size_t nmoves, mcap;
    struct strmap sessions; /* "host \x1f logon" (lower case) -> the last move that opened it */
    struct service *svcs;
    size_t nsvcs, scap;
};

static size_t session_key(char *out, size_t n, const char *host, const char *logon)
{
    /* copied by hand: a printf per alert at the end of a run added up */
    size_t hl = strlen(host), ll = strlen(logon);
    if (hl + 1 + ll >= n)
        return 0;
    ascii_lower_copy(out, host, hl);
    out[hl] = '\x1f';
    ascii_lower_copy(out + hl + 1, logon, ll);
    out[hl + 1 + ll] = 0;
    return hl + 1 + ll;
}

/* The move that opened session logon on host, or NULL. */
static struct move *session_move(const struct plan *p, const char *host, const char *logon)
{
    char k[600];
    size_t kl = session_key(k, sizeof(k), host, logon);
    uint32_t i;
    return kl && strmap_get(&p->sessions, k, kl, &i) ? &p->moves[i] : NULL;
}

/* The move into host that opened session logon, or (logon NULL) the last
 * network move into host in [t - span, t]. */
static struct move *move_into(struct plan *p, const char *host, const char *logon, int64_t t, int64_t span)
{
    if (logon)
        return session_move(p, host, logon);
    for (size_t k = p->nmoves; k-- > 0;) {
        struct move *m = &p->moves[k];
        if (t - m->t > span)
            return NULL; /* moves are in time order */
        if (m->t <= t && strcasecmp(m->to, host) == 0 && (m->via & CROSS_VIA_NETWORK))
            return m;
    }
    return NULL;
}

static void add_service(struct plan *p, const char *host, const char *akey, int64_t t)
{
    if (!akey || !*akey)
        return;
    XGROW(p->svcs, p->scap, p->nsvcs + 1);
    struct service *s = &p->svcs[p->nsvcs++];
    s->host = host;
    snprintf(s->akey, sizeof(s->akey), "%s", akey);
    s->t = t;
}

/* A service install or a WinRM shell: marks the move of the session it
 * ran in; a service install is noted for what it runs as SYSTEM. */
static void session_fact(struct plan *p, const struct xlogon *l, const char *host)
{
    struct move *m = move_into(p, host, l->dst_logon, l->t, SERVICE_PAIR_NS);
    if (l->via == CROSS_VIA_WINRM) {
        if (m)
            m->via |= CROSS_VIA_WINRM;
        return;
    }
    char akey[256];
    cross_account_key(l->account, akey);
    if (m) {
        m->via |= CROSS_VIA_SERVICE;
        if (!akey[0])
            memcpy(akey, m->akey, sizeof(akey));
    }
    add_service(p, host, akey, l->t);
}

/* Logons in time order to moves (and services). */
static void make_moves(struct cross *c, struct plan *p)
{
    sort_unless_sorted(c->logons, c->nlogons, sizeof(*c->logons), cmp_logon);
    for (size_t i = 0; i < c->nlogons; i++) {
        const struct xlogon *l = &c->logons[i];
        const char *to = host_by_name(c, l->dst_host);
        if (!to)
            to = l->dst_host;
        if (l->via == CROSS_VIA_SERVICE || l->via == CROSS_VIA_WINRM) {
            session_fact(p, l, to);
            continue;
        }
        if (!l->account)
            continue; /* sshd's accept: a half, taken by its session */
        struct move m = {.f = l, .to = to, .via = l->via, .t = l->t};
        cross_account_key(l->account, m.akey);
        if (!m.akey[0])
            continue;
        const char *addr = l->src_addr;
        if (!addr && !l->src_host && (l->via & CROSS_VIA_SSH))
            addr = ssh_source(c, i, to, l->t);
        m.from = host_by_name(c, l->src_host);
        if (!m.from)
            m.from = host_by_addr(c, addr);
        m.from_host = m.from != NULL;
        if (!m.from)
            m.from = addr ? addr : l->src_host;
        if (!m.from || strcasecmp(m.from, m.to) == 0)
            continue;
        XGROW(p->moves, p->mcap, p->nmoves + 1);
        p->moves[p->nmoves] = m;
        char k[600];
        size_t kl = l->dst_logon ? session_key(k, sizeof(k), m.to, l->dst_logon) : 0;
        if (kl) {
            uint32_t *v = strmap_value(&p->sessions, k, kl);
            if (v)
                *v = (uint32_t)p->nmoves;
            else
                strmap_put(&p->sessions, k, kl, (uint32_t)p->nmoves);
        }
        p->nmoves++;
    }
}

/* Each move into the graph (once), telling the caller of new edges. */
static void graph_moves(struct cross *c, struct plan *p, int64_t upto)
{
    for (size_t i = 0; i < p->nmoves; i++) {
        struct move *m = &p->moves[i];
        if (m->t <= c->done_upto || m->t > upto)
            continue; /* live: taken by an earlier round, or not yet */
        bool created;
        struct lateral_edge *e = lateral_add(c->graph, m->akey, m->f->account, m->from, m->to, m->via, m->t, &created);
        if (!created || !e)
            continue;
        c->st.edges++;
        if (c->o.profile && baseline_check_logon(c->o.profile, m->to, m->akey, m->from) == 0) {
            e->is_new = true;
            c->st.new_edges++;
        }
        if (c->out.edge) {
            char via[128];
            lateral_via_text(e->via, via, sizeof(via));
            struct stoat_incident_edge ie = {.account = e->account,
                                             .from = e->from,
                                             .to = e->to,
                                             .via = via,
                                             .first_ns = e->first_ns,
                                             .last_ns = e->last_ns,
                                             .is_new = e->is_new};
            c->out.edge(c->out.ctx, &ie);
        }
    }
}

/* ----------------------------------------------------------- attribution */

/* The accounts' keys and the sessions' moves looked up so far in a run, by
 * the kept strings' addresses (offline alerts share them; a run keeps
 * them all): a few accounts and sessions come back across interleaved
 * hosts, where remembering the last one only missed at most alerts. */
#define ATTR_MEMO_SLOTS 64
struct attr_memo {
    struct {
        bool known;
        const char *account;
        char akey[256];
    } acct[ATTR_MEMO_SLOTS];
    struct {
        bool known;
        const char *host, *logon;
        const struct move *move;
    } sess[ATTR_MEMO_SLOTS];
};

static size_t memo_slot(const void *a, const void *b)
{
    return hash_mix((uint64_t)(uintptr_t)a * 31 + (uint64_t)(uintptr_t)b) % ATTR_MEMO_SLOTS;
}

/* The account an alert is attributed to ("" when none): a key of 256
 * bytes, valid until the next call. */
static const char *attribute(const struct cross *c, const struct plan *p, const struct xalert *a,
                             struct attr_memo *memo)
{
    /* host_by_name(c, a->host), as found when the alert came */
    const char *host = a->host_index ? c->host_names[a->host_index - 1] : NULL;
    const char *on = host ? host : a->host;
    if (a->logon) {
        size_t k = memo_slot(on, a->logon);
        if (!memo->sess[k].known || memo->sess[k].host != on || memo->sess[k].logon != a->logon) {
            memo->sess[k].move = session_move(p, on, a->logon);
            memo->sess[k].host = on;
            memo->sess[k].logon = a->logon;
            memo->sess[k].known = true;
        }
        if (memo->sess[k].move)
            return memo->sess[k].move->akey;
    }
    size_t k = memo_slot(a->account, NULL);
    if (!memo->acct[k].known || memo->acct[k].account != a->account) {
        cross_account_key(a->account, memo->acct[k].akey);
        memo->acct[k].account = a->account;
        memo->acct[k].known = true;
    }
    if (memo->acct[k].akey[0])
        return memo->acct[k].akey;
    for (size_t i = p->nsvcs; i-- > 0;) {
        const struct service *s = &p->svcs[i];
        if (s->t > a->t)
            continue;
        if (a->t - s->t > SERVICE_RUN_NS)
            break; /* services are in time order */
        if (strcasecmp(s->host, a->host) == 0)
            return s->akey;
    }
    return memo->acct[k].akey; /* "" */
}

/* ---------------------------------------------------------------- chains */

static bool active(const struct cross *c, const struct acct_alerts *aa, const char *host, int64_t lo, int64_t hi)
{
    /* the account's alerts are in time order: the first at or after lo */
    size_t a0 = 0, a1 = aa->n;
    while (a0 < a1) {
        size_t mid = a0 + (a1 - a0) / 2;
        if (c->alerts[aa->idx[mid]].t < lo)
            a0 = mid + 1;
        else
            a1 = mid;
    }
    for (size_t k = a0; k < aa->n && c->alerts[aa->idx[k]].t <= hi; k++)
        if (strcasecmp(c->alerts[aa->idx[k]].host, host) == 0)
            return true;
    return false;
}

static bool chain_has(const struct xchain *ch, const char *host)
{
    for (size_t i = 0; i < ch->nhosts; i++)
        if (strcasecmp(ch->hosts[i], host) == 0)
            return true;
    return false;
}

static void chain_put_host(struct xchain *ch, const char *host)
{
    if (chain_has(ch, host))
        return;
    XGROW(ch->hosts, ch->hcap, ch->nhosts + 1);
    ch->hosts[ch->nhosts++] = host;
}

/* Links the account's hosts by its moves (time order). */
static size_t link_hosts(const struct cross *c, const struct plan *p, const char *akey, const struct acct_alerts *aa,
                         struct xchain **out, size_t *cap)
{
    size_t n = 0;
    int64_t gap = c->o.gap_ns;
    for (size_t i = 0; i < p->nmoves; i++) {
        const struct move *m = &p->moves[i];
        if (strcmp(m->akey, akey) != 0 || !m->from_host)
            continue;
        if (!active(c, aa, m->to, m->t - ARRIVAL_SLACK_NS, m->t + gap))
            continue;
        struct xchain *ch = NULL;
        for (size_t k = 0; k < n && !ch; k++)
            if ((*out)[k].last + gap >= m->t && (chain_has(&(*out)[k], m->from) || chain_has(&(*out)[k], m->to)))
                ch = &(*out)[k];
        bool from_ok = (ch && chain_has(ch, m->from)) || active(c, aa, m->from, m->t - gap, m->t + gap);
        if (!from_ok)
            continue;
        if (!ch) {
            XGROW(*out, *cap, n + 1);
            ch = &(*out)[n++];
            memset(ch, 0, sizeof(*ch));
            snprintf(ch->akey, sizeof(ch->akey), "%s", akey);
            ch->first = m->t;
        }
        chain_put_host(ch, m->from);
        chain_put_host(ch, m->to);
        XGROW(ch->moves, ch->mcap, ch->nmoves + 1);
        ch->moves[ch->nmoves++] = m;
        if (m->t > ch->last)
            ch->last = m->t;
    }
    return n;
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

/* Chains everything kept up to upto; reports the chains that closed by
 * then (live: not reported before). */
static void run(struct cross *c, int64_t upto, bool all)
{
    struct plan p = {0};
    strmap_init(&p.sessions);
    make_moves(c, &p);
    graph_moves(c, &p, upto);
    sort_unless_sorted(c->alerts, c->nalerts, sizeof(*c->alerts), cmp_alert);
    c->last_event_serial = 0; /* the last alert kept is no longer last */
    /* per account: its alerts, then its chains */
    struct strmap accts;
    strmap_init(&accts);
    struct acct_alerts *aas = NULL;
    size_t naas = 0, aacap = 0;
    char(*keys)[256] = NULL;
    size_t kcap = 0;
    struct attr_memo *memo = xcalloc(1, sizeof(*memo));
    uint32_t last_k = UINT32_MAX; /* the account of the alert before: most alerts repeat it */
    for (size_t i = 0; i < c->nalerts; i++) {
        const char *akey = attribute(c, &p, &c->alerts[i], memo);
        if (!akey[0])
            continue;
        size_t kl = strlen(akey);
        uint32_t k = last_k != UINT32_MAX && strcmp(keys[last_k], akey) == 0
                         ? last_k
                         : strmap_put(&accts, akey, kl, (uint32_t)naas);
        last_k = k;
        if (k == naas) {
            XGROW(aas, aacap, naas + 1);
            XGROW(keys, kcap, naas + 1);
            memset(&aas[naas], 0, sizeof(aas[naas]));
            memcpy(keys[naas], akey, 256);
            naas++;
        }
        XGROW(aas[k].idx, aas[k].cap, aas[k].n + 1);
        aas[k].idx[aas[k].n++] = i;
    }
    struct xchain *chs = NULL;
    size_t chcap = 0;
    for (size_t k = 0; k < naas; k++) {
        size_t n = link_hosts(c, &p, keys[k], &aas[k], &chs, &chcap);
        for (size_t i = 0; i < n; i++) {
            struct xchain *ch = &chs[i];
            bool closed = all || ch->last + c->o.gap_ns < upto;
            char sig[300];
            int sl = snprintf(sig, sizeof(sig), "%s\x1f%lld", ch->akey, (long long)ch->first);
            if (closed && ch->nhosts >= 2 && !strmap_get(&c->emitted, sig, (size_t)sl, NULL)) {
                strmap_put(&c->emitted, sig, (size_t)sl, 1);
                cross_report_chain(c, ch, &aas[k]);
            }
            free(ch->hosts);
            free(ch->moves);
        }
    }
    free(memo);
    free(chs);
    for (size_t k = 0; k < naas; k++)
        free(aas[k].idx);
    free(aas);
    free(keys);
    strmap_free(&accts);
    free(p.moves);
    free(p.svcs);
    strmap_free(&p.sessions);
    if (c->ncovered > 1)
        qsort(c->covered, c->ncovered, sizeof(*c->covered), cmp_u64);
}

/* Live: facts too old to join any open chain go. */
static void forget_before(struct cross *c, int64_t t)
{
    size_t n = 0;
    c->bytes = 0; /* counted again for what stays */
    for (size_t i = 0; i < c->nlogons; i++)
        if (c->logons[i].t < t)
            logon_free(&c->logons[i]);
        else {
            const struct xlogon *l = &c->logons[i];
            c->bytes += sizeof(*l) + slen(l->reporter) + slen(l->account) + slen(l->src_host) + slen(l->src_addr) +
                        slen(l->dst_host) + slen(l->dst_logon);
            c->logons[n++] = c->logons[i];
        }
    c->nlogons = n;
    n = 0;
    for (size_t i = 0; i < c->nalerts; i++)
        if (c->alerts[i].t < t)
            alert_free(c, &c->alerts[i]);
        else {
            const struct xalert *a = &c->alerts[i];
            c->bytes += sizeof(*a) + slen(a->host) + slen(a->account) + slen(a->logon) + slen(a->rule_id) +
                        slen(a->rule_title) + slen(a->image) + slen(a->parent);
            c->alerts[n++] = c->alerts[i];
        }
    c->nalerts = n;
}

void cross_set_profile(struct cross *c, const struct baseline *profile)
{
    c->o.profile = profile;
}

void cross_advance(struct cross *c, int64_t now_ns)
{
    if (!c->o.live || now_ns == INT64_MIN)
        return;
    int64_t upto = now_ns - c->o.lateness_ns;
    /* a round per minute of event time: chaining reads everything kept */
    if (c->done_upto != INT64_MIN && upto - c->done_upto < 60 * NS)
        return;
    run(c, upto, false);
    c->done_upto = upto;
    forget_before(c, upto - 3 * c->o.gap_ns);
}

void cross_finish(struct cross *c)
{
    run(c, INT64_MAX, true);
    c->done_upto = INT64_MAX;
}

bool cross_covered(const struct cross *c, uint64_t id)
{
    return c->ncovered && bsearch(&id, c->covered, c->ncovered, sizeof(*c->covered), cmp_u64);
}

void cross_learn(const struct cross *c, struct baseline *profile)
{
    for (size_t i = 0; i < lateral_count(c->graph); i++) {
        const struct lateral_edge *e = lateral_get(c->graph, i);
        baseline_record_logon(profile, e->to, e->akey, e->from);
    }
}

void cross_get_stats(const struct cross *c, struct cross_stats *out)
{
    *out = c->st;
    out->dropped += lateral_dropped(c->graph);
}
