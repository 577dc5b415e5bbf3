/* See behaviour.h.
 *
 * Alerts are chained into incidents by chains.c, in event time; here each
 * alert gets its chain key (the logon session the event or its process
 * names, else the process tree, else none) and the process it is about, and
 * the evidence the incident's claims rest on is gathered (evidence.c) from
 * the rules behaviour adds to every load. The crown-jewel watch raises "data
 * sent out" after a jewel was touched in the same session or tree: live,
 * when the sensor counted bytes going out to an outside address (by a
 * transfer tool started after the touch, or in a flow that sent more than it
 * received); from logs, which count no bytes, when a transfer tool was run as
 * an upload of a file. */
#include "behaviour/behaviour.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviour/baseline.h"
#include "behaviour/chains.h"
#include "behaviour/cross.h"
#include "behaviour/evidence.h"
#include "behaviour/facts.h"
#include "behaviour/hosts.h"
#include "behaviour/krbname.h"
#include "behaviour/sources.h"
#include "behaviour/spoof.h"
#include "behaviour/sysmon_tags.h"
#include "rules/ruleset.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/text.h"

/* A crown jewel was touched here: a transfer tool in the same session or
 * tree soon after is data leaving. */
struct touch {
    uint32_t host_id;
    char *logon;
    uint64_t tree;
    int64_t time_ns;
    uint64_t alert_id;
};

#define MAX_TOUCHES 4096

/* the event last enriched: its process and tree */
struct actor_keys {
    uint64_t tree, proc, parent;
};

struct behaviour {
    const struct stoat_ruleset *rs;
    /* from the ruleset: its behaviour data and the rules of the roles that
     * behaviour reports as (-1: none) */
    const struct baseline *profile; /* the profile to check against, or NULL */
    int64_t jewel_window_ns;
    long exfil_rule;
    long novelty_rule[4];              /* by enum novelty (index 0 unused) */
    struct baseline *learn;            /* learning a profile */
    struct touch touches[MAX_TOUCHES]; /* a ring, newest at (ntouch - 1) % MAX */
    uint64_t ntouch;
    struct actor_keys cur; /* of the event last enriched (0: unknown) */
    struct behaviour_opts o;
    struct behaviour_out out;
    struct proctree *procs;
    struct stoat_process anc[PROCTREE_MAX_DEPTH];
    struct chains *chains;
    struct evidence *ev;
    struct cross *cross;      /* cross-host: lateral movement, fleet incidents */
    uint64_t incidents;       /* reported: single-host and fleet incidents share the numbers */
    struct sysmon_tags *tags; /* the rules Sysmon technique tags are reported as */
    struct spoof *spoof;      /* creators, parents and tokens of Windows processes */
    struct hosts hosts;       /* each host's ids in the parts above, looked up once */
    /* Per rule of the ruleset, by index: its chains id + 1 and its tactics + 1
     * (0: no alert of it yet). The ruleset's metas stay as they are while it
     * is loaded, so every further alert of a rule takes them from here. */
    struct rule_memo {
        uint32_t chains_rule, tactics;
    } * rule_memo;
    /* of the ruleset as taken, unique in the process: the upper half of
     * cross_alert's rule_serial */
    uint64_t rs_serial;
    struct facts_memo facts; /* the account of the event last digested */
    struct {
        uint64_t event_serial; /* 0: none */
        const char *name;      /* the alert's pointer to it */
        uint32_t rec;          /* its index in hosts */
    } host_memo;               /* the host of the event whose alerts came last */
    struct {
        uint64_t event_serial; /* 0: none */
        const char *logon;     /* the alert's pointer to its logon id */
        uint64_t tree, key;
    } chain_memo; /* the chain key of the event whose alerts came last */
    struct behaviour_stats st;
};

/* Takes the ruleset's behaviour data, and finds the rules behaviour reports
 * as by their roles (the last such rule, should several carry one). */
static void take_ruleset(struct behaviour *b, const struct stoat_ruleset *rs)
{
    static _Atomic uint64_t rs_serials;
    const struct behaviour_data *d = behaviour_data_of(rs);
    b->rs = rs;
    b->rs_serial = atomic_fetch_add_explicit(&rs_serials, 1, memory_order_relaxed) + 1;
    b->profile = d ? d->baseline : NULL;
    b->jewel_window_ns = d ? d->jewel_window_ns : 0;
    b->exfil_rule = -1;
    for (int k = 0; k < 4; k++)
        b->novelty_rule[k] = -1;
    free(b->rule_memo);
    b->rule_memo = xcalloc(rs->nrules ? rs->nrules : 1, sizeof(*b->rule_memo));
    for (size_t r = 0; r < rs->nrules; r++) {
        uint8_t role = rs->rules[r].role;
        if (role == ROLE_JEWEL_EXFIL)
            b->exfil_rule = (long)r;
        else if (role >= ROLE_BASELINE_NEW_TOOL && role <= ROLE_BASELINE_NEW_SHAPE)
            b->novelty_rule[NOV_TOOL + (role - ROLE_BASELINE_NEW_TOOL)] = (long)r;
    }
}

static void judge(void *ctx, uint32_t host, const uint64_t *procs, size_t nprocs, struct chain_claims *out)
{
    struct behaviour *b = ctx;
    evidence_judge(b->ev, host, procs, nprocs, out);
}

/* Incidents of both kinds, numbered in the order reported; a host's
 * incident whose alerts a fleet incident already named all is not told
 * again. */
static void on_incident(void *ctx, const struct stoat_incident *inc)
{
    struct behaviour *b = ctx;
    if (!inc->nhosts) {
        size_t k = 0;
        while (k < inc->nalerts && cross_covered(b->cross, inc->alert_ids[k]))
            k++;
        if (inc->nalerts && k == inc->nalerts)
            return;
    }
    struct stoat_incident x = *inc;
    x.id = ++b->incidents;
    if (b->out.incident)
        b->out.incident(b->out.ctx, &x);
}

static void cross_judge(void *ctx, const char *host, const uint64_t *procs, size_t nprocs, struct chain_claims *out)
{
    struct behaviour *b = ctx;
    /* a host the chains never saw has no evidence: looked up, not added,
     * so that this may run beside chains_finish_prepare */
    evidence_judge(b->ev, chains_host_find(b->chains, host), procs, nprocs, out);
}

struct behaviour *behaviour_create(const struct stoat_ruleset *rs, const struct behaviour_opts *opts,
                                   const struct behaviour_out *out)
{
    struct behaviour *b = xcalloc(1, sizeof(*b));
    take_ruleset(b, rs);
    if (opts)
        b->o = *opts;
    if (!b->o.incident_gap_ns)
        b->o.incident_gap_ns = 2 * 3600 * 1000000000LL;
    if (b->o.incident_min_score <= 0)
        b->o.incident_min_score = 50;
    if (!b->o.incident_max_alerts)
        b->o.incident_max_alerts = 10000;
    if (out)
        b->out = *out;
    b->procs = proctree_create(b->o.proc_max_entries, b->o.proc_max_bytes);
    const struct behaviour_data *d = behaviour_data_of(rs);
    if (d && d->baseline_learn)
        b->learn = baseline_new();
    struct chains_opts co = {.gap_ns = b->o.incident_gap_ns,
                             .min_score = b->o.incident_min_score,
                             .max_alerts = b->o.incident_max_alerts,
                             .max_bytes = b->o.incident_max_bytes,
                             .live = b->o.corr_live,
                             .lateness_ns = b->o.corr_lateness_ns > 0 ? b->o.corr_lateness_ns : 60 * 1000000000LL};
    b->chains = chains_create(&co, &(struct chains_out){.ctx = b, .judge = judge, .incident = on_incident});
    b->ev = evidence_create(0);
    struct cross_opts xo = {.gap_ns = co.gap_ns,
                            .min_score = co.min_score,
                            .live = co.live,
                            .lateness_ns = co.lateness_ns,
                            .profile = b->profile};
    b->cross = cross_create(&xo, &(struct cross_out){.ctx = b, .incident = on_incident, .judge = cross_judge});
    b->tags =
        sysmon_tags_create(b->o.sysmon_tag_level > 0 ? (enum stoat_level)b->o.sysmon_tag_level : STOAT_LEVEL_NONE);
    b->spoof = spoof_create(0);
    hosts_init(&b->hosts);
    return b;
}

/* later - earlier > span without overflow: event times come from the logs
 * and may be anywhere in int64 */
static bool apart_more_than(int64_t earlier, int64_t later, int64_t span)
{
    if (later <= earlier)
        return false;
    return (uint64_t)later - (uint64_t)earlier > (uint64_t)(span < 0 ? 0 : span);
}

void behaviour_destroy(struct behaviour *b)
{
    if (!b)
        return;
    chains_destroy(b->chains);
    cross_destroy(b->cross);
    evidence_destroy(b->ev);
    sysmon_tags_destroy(b->tags);
    spoof_destroy(b->spoof);
    hosts_free(&b->hosts);
    for (size_t i = 0; i < MAX_TOUCHES; i++)
        free(b->touches[i].logon);
    proctree_destroy(b->procs);
    baseline_free(b->learn);
    free(b->rule_memo);
    free(b);
}

void behaviour_prefetch_host(const struct behaviour *b, uint64_t host_hash)
{
    hosts_prefetch(&b->hosts, host_hash);
}

void behaviour_prefetch_rule(const struct behaviour *b, uint32_t r)
{
    if (r >= b->rs->nrules)
        return;
    __builtin_prefetch(&b->rule_memo[r]);
    cross_prefetch_rule(b->cross, &b->rs->rules[r].meta);
}

void behaviour_prefetch_spoof(const struct behaviour *b, uint64_t self, uint64_t parent)
{
    spoof_prefetch(b->spoof, self);
    if (parent)
        spoof_prefetch(b->spoof, parent);
}

void behaviour_proc_start(struct behaviour *b, const struct proc_start *p)
{
    struct host_rec *h = hosts_get(&b->hosts, p->host);
    if (!h->procs)
        h->procs = proctree_host(b->procs, p->host) + 1;
    proctree_start_on(b->procs, h->procs - 1, p);
}

/* The record of an alert's host, looked up once for an event's alerts (by
 * index: records move as new hosts come). */
static struct host_rec *host_of(struct behaviour *b, const struct stoat_alert *a)
{
    bool of_event = a->event_serial && !a->corr;
    if (of_event && a->event_serial == b->host_memo.event_serial && a->host == b->host_memo.name)
        return &b->hosts.recs[b->host_memo.rec];
    struct host_rec *h = hosts_get(&b->hosts, a->host);
    if (of_event) {
        b->host_memo.event_serial = a->event_serial;
        b->host_memo.name = a->host;
        b->host_memo.rec = (uint32_t)(h - b->hosts.recs);
    }
    return h;
}

/* The process table's entry of the alert's process, by its host's record. */
static const struct proc_entry *find_proc(struct behaviour *b, const struct stoat_alert *a, const struct actor *who,
                                          int64_t time_ns)
{
    const char *host = a->host;
    struct host_rec *h = host_of(b, a);
    uint32_t id;
    if (!h->procs) {
        if (!proctree_host_known(b->procs, host, &id))
            return NULL; /* not yet: a later start may add it */
        h->procs = id + 1;
    }
    return proctree_find_on(b->procs, h->procs - 1, who->guid, who->pid, time_ns);
}

static const char *host_name(const struct stoat_alert *a);

/* The chains' id of the alert's host. */
static uint32_t chains_id(struct behaviour *b, const struct stoat_alert *a)
{
    struct host_rec *h = host_of(b, a);
    if (!h->chains)
        h->chains = chains_host(b->chains, host_name(a)) + 1;
    return h->chains - 1;
}

void behaviour_proc_end(struct behaviour *b, const char *host, const char *guid, int64_t pid, int64_t time_ns)
{
    proctree_end(b->procs, host, guid, pid, time_ns);
}

/* A process the table does not know, by what the event says of it. */
static uint64_t loose_key(const char *host, const struct actor *who)
{
    if (who->guid)
        return hash_bytes(who->guid, strlen(who->guid), hash_bytes(host, strlen(host), 11));
    if (who->pid >= 0)
        return hash_mix((uint64_t)who->pid * 0x9E3779B97F4A7C15ULL ^ hash_bytes(host, strlen(host), 13));
    return 0;
}

void behaviour_enrich(struct behaviour *b, struct stoat_alert *a, const struct actor *who)
{
    a->ancestry = NULL;
    a->nancestry = 0;
    b->cur = (struct actor_keys){0};
    if (!a->logon_id && who)
        a->logon_id = proctree_real_logon(who->logon_id);
    if (who)
        facts_memo_take(&b->facts, a, who->account_field);
    if (!who || (!who->guid && who->pid < 0))
        return;
    const struct proc_entry *e = find_proc(b, a, who, a->time_ns);
    if (!e) {
        b->cur.proc = loose_key(a->host ? a->host : "", who);
        return;
    }
    uint64_t tree, parent;
    a->nancestry = proctree_enrich(b->procs, e, b->anc, PROCTREE_MAX_DEPTH, &tree, &parent);
    a->ancestry = b->anc;
    b->cur = (struct actor_keys){.tree = tree, .proc = proctree_proc_key(e), .parent = parent};
    if (!a->logon_id)
        a->logon_id = proctree_logon(b->procs, e);
}

static const char *host_name(const struct stoat_alert *a)
{
    return a->host ? a->host : "(no host)";
}

/* An alert of an event has been enriched just before (the consumer does so
 * for every event it reports); a correlation's alert has no event. */
static const struct actor_keys *keys_of(const struct behaviour *b, const struct stoat_alert *a)
{
    static const struct actor_keys none;
    return a->pos.file ? &b->cur : &none;
}

static uint64_t field_u64(const struct stoat_alert *a, const char *name, bool *found)
{
    char v[32];
    int64_t n;
    *found = facts_field(a, name, v, sizeof(v)) && parse_int64(v, strlen(v), &n) && n >= 0;
    return *found ? (uint64_t)n : 0;
}

static size_t rule_index(const struct stoat_ruleset *rs, const struct stoat_rule_meta *m);

static bool is_touch(const struct behaviour *b, const struct stoat_alert *a)
{
    size_t idx = rule_index(b->rs, a->rule);
    return idx != SIZE_MAX && b->rs->rules[idx].role == ROLE_JEWEL_TOUCH;
}

static size_t rule_index(const struct stoat_ruleset *rs, const struct stoat_rule_meta *m)
{
    if (!m || !rs->nrules || m < &rs->rules[0].meta || m > &rs->rules[rs->nrules - 1].meta)
        return SIZE_MAX;
    return (size_t)((const char *)m - (const char *)&rs->rules[0].meta) / sizeof(rs->rules[0]);
}

/* A watched tool started: learn it, or raise what is new about it. The
 * process itself and its parent come from the ancestry (the start event was
 * recorded just before). */
static void baseline_event(struct behaviour *b, const struct stoat_alert *a)
{
    const struct stoat_ruleset *rs = b->rs;
    if (!a->nancestry)
        return;
    const char *image = a->ancestry[0].image, *cmd = a->ancestry[0].command_line;
    const char *parent = a->nancestry > 1 ? a->ancestry[1].image : NULL;
    if (b->learn) {
        baseline_record(b->learn, a->host, image, parent, cmd, a->time_ns);
        return;
    }
    if (!b->profile || !b->out.alert)
        return;
    enum novelty nv = baseline_check(b->profile, a->host, image, parent, cmd);
    if (nv == NOV_NONE || b->novelty_rule[nv] < 0)
        return;
    struct stoat_alert x = *a;
    x.rule = &rs->rules[b->novelty_rule[nv]].meta;
    b->out.alert(b->out.ctx, &x);
}

/* The touch of a crown jewel this event follows: same host, same session or
 * tree, within the window before it. */
static const struct touch *touch_before(const struct behaviour *b, const struct stoat_alert *a, uint32_t hid)
{
    uint64_t tree = keys_of(b, a)->tree;
    uint64_t n = b->ntouch < MAX_TOUCHES ? b->ntouch : MAX_TOUCHES;
    for (uint64_t k = 0; k < n; k++) {
        const struct touch *t = &b->touches[(b->ntouch - 1 - k) % MAX_TOUCHES];
        if (t->host_id != hid)
            continue;
        bool same = (tree && t->tree == tree) || (a->logon_id && t->logon && strcmp(a->logon_id, t->logon) == 0);
        if (!same)
            continue;
        if (a->time_ns != INT64_MIN && t->time_ns != INT64_MIN &&
            (a->time_ns < t->time_ns || apart_more_than(t->time_ns, a->time_ns, b->jewel_window_ns)))
            continue;
        return t;
    }
    return NULL;
}

static void raise_exfil(struct behaviour *b, const struct stoat_alert *a)
{
    struct stoat_alert x = *a;
    x.rule = &b->rs->rules[b->exfil_rule].meta;
    b->out.alert(b->out.ctx, &x);
}

/* The program, as the event names it (after an exec the process table may
 * still know the one before), else as the table does. */
static const char *image_of(const struct stoat_alert *a, char *buf, size_t n)
{
    const char *v = facts_field(a, "Image", buf, n);
    if (!v)
        v = facts_field(a, "NewProcessName", buf, n);
    return v ? v : a->nancestry ? a->ancestry[0].image : NULL;
}

static int64_t pid_of(const struct stoat_alert *a)
{
    if (a->nancestry)
        return a->ancestry[0].pid;
    bool ok;
    uint64_t v = field_u64(a, "ProcessId", &ok);
    return ok ? (int64_t)v : -1;
}

/* The file an upload command of this process-start event sends, or NULL. */
static const char *upload_of(const struct stoat_alert *a, char *out, size_t n)
{
    char img[512], cwd[512];
    static char cmd[8192]; /* behaviour runs on one thread */
    const char *image = image_of(a, img, sizeof(img));
    const char *cl = a->nancestry && a->ancestry[0].command_line ? a->ancestry[0].command_line
                                                                 : facts_field(a, "CommandLine", cmd, sizeof(cmd));
    return evidence_upload_file(image, cl, facts_field(a, "CurrentDirectory", cwd, sizeof(cwd)), out, n);
}

/* A connection to an outside address: evidence, and live (where the bytes
 * are counted) the crown-jewel watch's proof that data left. */
static void net_event(struct behaviour *b, const struct stoat_alert *a, uint32_t hid)
{
    char ip[64], port[16], img[512], failed[16];
    bool counted, have_recv;
    struct ev_net n = {.host = hid,
                       .proc = keys_of(b, a)->proc,
                       .pid = pid_of(a),
                       .image = image_of(a, img, sizeof(img)),
                       .time_ns = a->time_ns,
                       .dst_ip = facts_field(a, "DestinationIp", ip, sizeof(ip)),
                       .dst_port = facts_field(a, "DestinationPort", port, sizeof(port))};
    n.sent = field_u64(a, "BytesSent", &counted);
    n.received = field_u64(a, "BytesReceived", &have_recv);
    n.counted = counted;
    n.failed = facts_field(a, "ConnectionFailed", failed, sizeof(failed)) && strcasecmp(failed, "true") == 0;
    if (!n.dst_ip || !evidence_outside(n.dst_ip))
        return;
    evidence_net(b->ev, &n);
    if (b->exfil_rule < 0 || !b->out.alert || n.failed || !n.counted || !n.sent || !touch_before(b, a, hid))
        return;
    /* a transfer tool started after the touch (or its child: scp's ssh), or
     * any program sending more than it receives */
    const struct actor_keys *k = keys_of(b, a);
    bool transfer = evidence_is_transfer(b->ev, k->proc) || evidence_is_transfer(b->ev, k->parent);
    if ((transfer || n.sent >= n.received) && evidence_take_alert(b->ev, hid, k->proc, n.pid, n.image))
        raise_exfil(b, a);
}

/* A transfer tool started after a jewel was touched. */
static void transfer_event(struct behaviour *b, const struct stoat_alert *a, uint32_t hid)
{
    if (b->exfil_rule < 0 || !b->out.alert || !touch_before(b, a, hid))
        return;
    const struct actor_keys *k = keys_of(b, a);
    char img[512], file[1024];
    if (b->o.corr_live) {
        /* the sensor counts the bytes: wait for them (net_event) */
        evidence_mark_transfer(b->ev, hid, k->proc, pid_of(a), image_of(a, img, sizeof(img)));
        return;
    }
    /* logs count no bytes: an upload of a file is the evidence */
    if (upload_of(a, file, sizeof(file)) &&
        evidence_take_alert(b->ev, hid, k->proc, pid_of(a), image_of(a, img, sizeof(img))))
        raise_exfil(b, a);
}

/* A fact to the caller (the fleet's workers), else to this run's chains
 * across hosts. */
static void fact_out(struct behaviour *b, const struct cross_fact *f)
{
    if (b->out.fact)
        b->out.fact(b->out.ctx, f);
    else
        cross_fact(b->cross, f);
}

/* A Sysmon event logged under a rule of the site's configuration that names
 * a technique: reported as that technique. */
static void sysmon_tag_event(struct behaviour *b, const struct stoat_alert *a)
{
    if (!b->out.alert || b->o.sysmon_tag_level < 0)
        return;
    for (size_t i = 0; i < a->nfields; i++) {
        const struct stoat_field *f = &a->fields[i];
        if (f->name_len != 8 || strncasecmp(f->name, "RuleName", 8) != 0)
            continue;
        const struct stoat_rule_meta *m = sysmon_tags_rule(b->tags, f->value, f->value_len);
        if (!m)
            return;
        struct stoat_alert x = *a;
        x.rule = m;
        b->out.alert(b->out.ctx, &x);
        return;
    }
}

/* The event as an alert of rule m (none when m is NULL). */
static void raise_as(struct behaviour *b, const struct stoat_alert *a, const struct stoat_rule_meta *m)
{
    if (!m || !b->out.alert)
        return;
    struct stoat_alert x = *a;
    x.rule = m;
    b->out.alert(b->out.ctx, &x);
}

/* A Windows process start or end: raised when its creator, stated parent
 * and token do not fit together. What it reads of the event comes worked
 * out (by the matching threads) when f is set. */
static void spoof_process(struct behaviour *b, struct stoat_alert *a, const struct actor *who, bool *enriched)
{
    const struct spoof_facts *f = who ? who->spoof : NULL;
    const struct stoat_rule_meta *m =
        f ? spoof_apply_host(b->spoof, a, host_of(b, a)->spoof_hash, f) : spoof_event(b->spoof, a);
    if (!m)
        return;
    if (!*enriched) { /* the alert shows the ancestry */
        behaviour_enrich(b, a, who);
        *enriched = true;
    }
    raise_as(b, a, m);
}

void behaviour_watch(struct behaviour *b, struct stoat_alert *a, const struct actor *who, bool *enriched)
{
    const struct stoat_ruleset *rs = b->rs;
    size_t ri = rule_index(rs, a->rule);
    uint8_t role = ri != SIZE_MAX ? rs->rules[ri].role : ROLE_NONE;
    if (role == ROLE_SPOOF) { /* its table needs nothing of the process table */
        spoof_process(b, a, who, enriched);
        return;
    }
    if (!*enriched) {
        behaviour_enrich(b, a, who);
        *enriched = true;
    }
    if (role == ROLE_BASELINE_WATCH) {
        baseline_event(b, a);
        return;
    }
    /* the host's id only for the roles that keep something per host: the
     * others (process starts for spoofing, most of what comes here) need no
     * lookup of the name */
    char buf[1024], img[512];
    switch (role) {
    case ROLE_EVIDENCE_NET: net_event(b, a, chains_id(b, a)); break;
    case ROLE_EVIDENCE_FILE:
        evidence_file(b->ev, chains_id(b, a), facts_field(a, "TargetFilename", buf, sizeof(buf)), a->time_ns);
        break;
    case ROLE_EVIDENCE_UPLOAD:
        if (upload_of(a, buf, sizeof(buf)))
            evidence_upload(b->ev, chains_id(b, a), keys_of(b, a)->proc, pid_of(a), image_of(a, img, sizeof(img)),
                            a->time_ns, buf);
        break;
    case ROLE_JEWEL_TRANSFER: transfer_event(b, a, chains_id(b, a)); break;
    case ROLE_FACT_LOGON: {
        struct cross_fact f = {.kind = CROSS_FACT_LOGON};
        struct facts_buf fb;
        if (facts_logon(a, &f.logon, &fb))
            fact_out(b, &f);
        break;
    }
    case ROLE_FACT_ADDRESS: {
        struct cross_fact f = {.kind = CROSS_FACT_ADDRESS, .host = a->host, .addr = facts_address(a, buf, sizeof(buf))};
        if (f.host && f.addr)
            fact_out(b, &f);
        break;
    }
    case ROLE_SYSMON_TAG: sysmon_tag_event(b, a); break;
    case ROLE_KRBNAME: raise_as(b, a, krbname_event(a)); break;
    default: break;
    }
}

/* The chain key: the logon session when the event or its process names
 * one, else the process tree, else none. */
static uint64_t session_or_tree(const struct stoat_alert *a, const struct actor_keys *k)
{
    if (a->logon_id && *a->logon_id) {
        /* Sysmon and Security may spell the same hex id in different cases
         * (the table: tolower's bytes in the C locale, without its call) */
        char id[64];
        size_t n = 0;
        for (; a->logon_id[n] && n < sizeof(id); n++)
            id[n] = (char)ascii_lower_table[(unsigned char)a->logon_id[n]];
        return hash_bytes(id, n, 0x5e55) | 1;
    }
    return k->tree & ~1ull; /* even: never a session's */
}

/* session_or_tree, worked out once for an event's alerts (its logon id the
 * same string, its tree the same). */
static uint64_t chain_key(struct behaviour *b, const struct stoat_alert *a, const struct actor_keys *k)
{
    bool of_event = a->event_serial && !a->corr;
    if (of_event && a->event_serial == b->chain_memo.event_serial && a->logon_id == b->chain_memo.logon &&
        k->tree == b->chain_memo.tree)
        return b->chain_memo.key;
    uint64_t key = session_or_tree(a, k);
    if (of_event) {
        b->chain_memo.event_serial = a->event_serial;
        b->chain_memo.logon = a->logon_id;
        b->chain_memo.tree = k->tree;
        b->chain_memo.key = key;
    }
    return key;
}

/* The memo of m's rule, or NULL for a meta not of the ruleset (a test's,
 * say: worked out every time). */
static struct rule_memo *memo_of(const struct behaviour *b, const struct stoat_rule_meta *m)
{
    size_t i = rule_index(b->rs, m);
    return i != SIZE_MAX && &b->rs->rules[i].meta == m ? &b->rule_memo[i] : NULL;
}

/* chains_rule and chain_tactics_of of m, once per rule of the ruleset. */
static void rule_ids(struct behaviour *b, const struct stoat_rule_meta *m, uint32_t *chains_id_out,
                     uint32_t *tactics_out)
{
    struct rule_memo *r = memo_of(b, m);
    if (r && r->chains_rule) {
        *chains_id_out = r->chains_rule - 1;
        *tactics_out = r->tactics - 1;
        return;
    }
    *chains_id_out = chains_rule(b->chains, m);
    *tactics_out = chain_tactics_of((const char *const *)m->attack_tactics.items, m->attack_tactics.n);
    if (r && *chains_id_out != UINT32_MAX)
        *r = (struct rule_memo){.chains_rule = *chains_id_out + 1, .tactics = *tactics_out + 1};
}

void behaviour_alert(struct behaviour *b, const struct stoat_alert *a)
{
    const struct stoat_rule_meta *m = a->rule ? a->rule : a->correlation;
    uint32_t hid = chains_id(b, a);
    const struct actor_keys *k = keys_of(b, a);
    if (m && is_touch(b, a)) {
        struct touch *t = &b->touches[b->ntouch++ % MAX_TOUCHES];
        free(t->logon);
        *t = (struct touch){.host_id = hid,
                            .logon = a->logon_id ? xstrdup(a->logon_id) : NULL,
                            .tree = k->tree,
                            .time_ns = a->time_ns,
                            .alert_id = a->id};
    }
    if (!m || m->level <= STOAT_LEVEL_INFORMATIONAL)
        return;
    uint32_t rule, tactics;
    rule_ids(b, m, &rule, &tactics);
    struct chain_alert r = {
        .id = a->id, .time_ns = a->time_ns, .key = chain_key(b, a, k), .proc = k->proc, .host = hid, .rule = rule};
    if (a->logon_id) { /* as much as fits, NUL-ended (no printf per alert) */
        size_t n = strnlen(a->logon_id, sizeof(r.logon) - 1);
        memcpy(r.logon, a->logon_id, n);
        r.logon[n] = 0;
    }
    chains_add(b->chains, &r);
    /* all but a match's arrays, which its nfields = 0 leaves unread: they
     * are most of the fact (1.1 KB to zero for every alert) */
    struct cross_fact f;
    memset(&f, 0, offsetof(struct cross_fact, match.names));
    f.kind = CROSS_FACT_ALERT;
    char acct[256];
    facts_digest(a, tactics, &f.alert, acct, &b->facts);
    f.alert.proc = k->proc;
    const struct rule_memo *rm = memo_of(b, m);
    if (rm) /* a rule of the ruleset: its strings stay while it is loaded */
        f.alert.rule_serial = b->rs_serial << 32 | (uint64_t)(rm - b->rule_memo + 1);
    if (!b->out.fact) /* the record of the host again: the chains may have told of incidents since */
        f.alert.host_slot = &host_of(b, a)->cross;
    fact_out(b, &f);
}

void behaviour_send_facts(struct behaviour *b, void (*fact)(void *ctx, const struct cross_fact *f))
{
    b->out.fact = fact;
}

void behaviour_advance(struct behaviour *b, int64_t now_ns)
{
    chains_advance(b->chains, now_ns);
    cross_advance(b->cross, now_ns);
}

void behaviour_quiet(struct behaviour *b, int64_t wall_ns)
{
    chains_quiet(b->chains, wall_ns);
}

stoat_err behaviour_write_baseline(const struct behaviour *b, const char *path)
{
    if (!b->learn)
        return STOAT_OK;
    cross_learn(b->cross, b->learn);
    FILE *f = fopen(path, "w");
    if (!f)
        return STOAT_ERR_IO;
    stoat_err e = baseline_write(b->learn, f);
    if (fclose(f) != 0)
        e = STOAT_ERR_IO;
    return e;
}

void behaviour_finish(struct behaviour *b)
{
    /* fleet incidents first: the hosts' incidents they contain are not told twice */
    cross_finish(b->cross);
    chains_finish(b->chains);
}

static void *prepare_chains(void *chains)
{
    chains_finish_prepare(chains);
    return NULL;
}

void behaviour_finish_parallel(struct behaviour *b)
{
    /* The hosts' chains are built on a thread of their own while the
     * cross-host chains finish here (they share only the host names, read);
     * the reports follow in the same order as behaviour_finish's. */
    pthread_t th;
    bool started = pthread_create(&th, NULL, prepare_chains, b->chains) == 0;
    cross_finish(b->cross);
    if (started)
        pthread_join(th, NULL);
    chains_finish(b->chains);
}

void behaviour_set_ruleset(struct behaviour *b, const struct stoat_ruleset *rs)
{
    take_ruleset(b, rs);
    cross_set_profile(b->cross, b->profile);
}

void behaviour_get_stats(const struct behaviour *b, struct behaviour_stats *out)
{
    *out = b->st;
    proctree_get_stats(b->procs, &out->procs);
    struct chains_stats cs;
    chains_get_stats(b->chains, &cs);
    out->chains = cs.chains;
    out->incidents = cs.incidents;
    out->incident_batches = cs.batches;
    out->incident_late = cs.late;
    struct evidence_stats es;
    evidence_get_stats(b->ev, &es);
    out->evidence_evicted = es.procs_evicted;
    struct cross_stats xs;
    cross_get_stats(b->cross, &xs);
    out->cross_dropped = xs.dropped;
}
