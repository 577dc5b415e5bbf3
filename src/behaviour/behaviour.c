/* See behaviour.h.
 *
 * Attack chains: per host, alerts closer in time than the gap join one open
 * chain. A chain closes when event time has moved a gap past its last alert
 * (or at the end of input) and becomes an incident when its score reaches the
 * threshold. The score follows how far the chain got along the intrusion an
 * analyst fears here (discovery, then credentials, then collection and staging,
 * then exfiltration or command and control), with smaller weight for the
 * steps in between and for the rules' levels, so that routine administration
 * (a few discovery commands, a night's backup) stays below the line while one
 * intruder's evening crosses it. Informational alerts never join a chain. */
#include "behaviour/behaviour.h"

#include <stdio.h>
#include <string.h>

#include "behaviour/baseline.h"
#include "behaviour/sources.h"
#include "rules/ruleset.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

/* Tactics as kill-chain steps. The first four are the story's stages. */
enum tactic {
    T_DISCOVERY, T_CREDENTIAL, T_COLLECTION, T_EXFIL, T_C2,
    T_RECON, T_INITIAL, T_EXECUTION, T_PERSISTENCE, T_PRIVESC, T_EVASION, T_LATERAL, T_IMPACT,
    T_COUNT
};

static const struct {
    const char *name;      /* as in attack.<name> tags, hyphenated */
    int order;             /* kill-chain position, for output */
    int points;
} tactics[T_COUNT] = {
    [T_RECON] = {"reconnaissance", 0, 3},
    [T_INITIAL] = {"initial-access", 1, 5},
    [T_EXECUTION] = {"execution", 2, 4},
    [T_PERSISTENCE] = {"persistence", 3, 5},
    [T_PRIVESC] = {"privilege-escalation", 4, 5},
    [T_EVASION] = {"defense-evasion", 5, 4},
    [T_CREDENTIAL] = {"credential-access", 6, 20},
    [T_DISCOVERY] = {"discovery", 7, 10},
    [T_LATERAL] = {"lateral-movement", 8, 8},
    [T_COLLECTION] = {"collection", 9, 20},
    [T_C2] = {"command-and-control", 10, 15},
    [T_EXFIL] = {"exfiltration", 11, 25},
    [T_IMPACT] = {"impact", 12, 10},
};

#define CHAIN_MAX_RULES 256
#define CHAIN_MAX_LOGONS 4

struct chain {
    char *host;
    uint32_t host_id;
    int64_t first_ns, last_ns;
    uint64_t *alerts;
    size_t nalerts, cap;
    uint32_t tactic_mask;
    int64_t tactic_first[T_COUNT];      /* when each tactic was first seen */
    uint64_t rules[CHAIN_MAX_RULES];    /* distinct rules, by a hash of id and title: rulesets may
                                         * be replaced (watch reloads) while a chain is open */
    size_t nrules;
    unsigned by_level[STOAT_LEVEL_COUNT];   /* distinct rules per level */
    char *logon;                        /* the one session, or NULL */
    bool mixed_logons;
    bool open;
};

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

struct behaviour {
    const struct stoat_ruleset *rs;
    /* from the ruleset: its behaviour data and the rules of the roles that
     * behaviour reports as (-1: none) */
    const struct baseline *profile;     /* the profile to check against, or NULL */
    int64_t jewel_window_ns;
    long exfil_rule;
    long novelty_rule[4];               /* by enum novelty (index 0 unused) */
    struct baseline *learn;             /* learning a profile */
    struct touch touches[MAX_TOUCHES];  /* a ring, newest at (ntouch - 1) % MAX */
    uint64_t ntouch;
    uint64_t cur_tree;                  /* tree of the event last enriched (0: unknown) */
    struct behaviour_opts o;
    struct behaviour_out out;
    struct proctree *procs;
    struct stoat_process anc[PROCTREE_MAX_DEPTH];
    struct strmap hosts;                /* host -> host id */
    uint32_t *host_open;                /* host id -> index of its open chain + 1 (0: none) */
    size_t host_open_cap, nhosts;
    struct chain *chains;               /* open chains */
    size_t nchains, chains_cap;
    uint64_t next_incident;
    int64_t now_ns;
    struct behaviour_stats st;
};

/* Takes the ruleset's behaviour data, and finds the rules behaviour reports
 * as by their roles (the last such rule, should several carry one). */
static void take_ruleset(struct behaviour *b, const struct stoat_ruleset *rs)
{
    const struct behaviour_data *d = behaviour_data_of(rs);
    b->rs = rs;
    b->profile = d ? d->baseline : NULL;
    b->jewel_window_ns = d ? d->jewel_window_ns : 0;
    b->exfil_rule = -1;
    for (int k = 0; k < 4; k++)
        b->novelty_rule[k] = -1;
    for (size_t r = 0; r < rs->nrules; r++) {
        uint8_t role = rs->rules[r].role;
        if (role == ROLE_JEWEL_EXFIL)
            b->exfil_rule = (long)r;
        else if (role >= ROLE_BASELINE_NEW_TOOL && role <= ROLE_BASELINE_NEW_SHAPE)
            b->novelty_rule[NOV_TOOL + (role - ROLE_BASELINE_NEW_TOOL)] = (long)r;
    }
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
    strmap_init(&b->hosts);
    b->now_ns = INT64_MIN;
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

static void chain_free(struct chain *c)
{
    free(c->host);
    free(c->alerts);
    free(c->logon);
    memset(c, 0, sizeof(*c));
}

void behaviour_destroy(struct behaviour *b)
{
    if (!b)
        return;
    for (size_t i = 0; i < b->nchains; i++)
        chain_free(&b->chains[i]);
    free(b->chains);
    free(b->host_open);
    for (size_t i = 0; i < MAX_TOUCHES; i++)
        free(b->touches[i].logon);
    strmap_free(&b->hosts);
    proctree_destroy(b->procs);
    baseline_free(b->learn);
    free(b);
}

void behaviour_proc_start(struct behaviour *b, const struct proc_start *p)
{
    proctree_start(b->procs, p);
}

void behaviour_proc_end(struct behaviour *b, const char *host, const char *guid, int64_t pid, int64_t time_ns)
{
    proctree_end(b->procs, host, guid, pid, time_ns);
}

void behaviour_enrich(struct behaviour *b, struct stoat_alert *a, const struct actor *who)
{
    a->ancestry = NULL;
    a->nancestry = 0;
    b->cur_tree = 0;
    if (!a->logon_id && who)
        a->logon_id = proctree_real_logon(who->logon_id);
    if (!who || (!who->guid && who->pid < 0))
        return;
    const struct proc_entry *e = proctree_find(b->procs, a->host, who->guid, who->pid, a->time_ns);
    if (!e)
        return;
    a->nancestry = proctree_ancestry(b->procs, e, b->anc, PROCTREE_MAX_DEPTH);
    a->ancestry = b->anc;
    b->cur_tree = proctree_root_key(b->procs, e);
    if (!a->logon_id)
        a->logon_id = proctree_logon(e);
}

/* ---------------------------------------------------------------- chains */

static int tactic_of(const char *name)
{
    for (int t = 0; t < T_COUNT; t++)
        if (strcmp(tactics[t].name, name) == 0)
            return t;
    return -1;
}

static double chain_score(const struct chain *c)
{
    double s = 0, between = 0;
    for (int t = 0; t < T_COUNT; t++)
        if (c->tactic_mask & (1u << t)) {
            if (t <= T_C2)
                s += tactics[t].points;
            else
                between += tactics[t].points;
        }
    s += between > 15 ? 15 : between;
    /* the story in order: discovery before credentials before collection
     * before the data leaves */
    static const int story[] = {T_DISCOVERY, T_CREDENTIAL, T_COLLECTION, T_EXFIL};
    int in_order = 0;
    int64_t prev = INT64_MIN;
    for (size_t i = 0; i < 4; i++) {
        int t = story[i];
        if (!(c->tactic_mask & (1u << t)))
            continue;
        if (c->tactic_first[t] >= prev) {
            in_order++;
            prev = c->tactic_first[t];
        }
    }
    if (in_order >= 3)
        s += 10;
    double lv = 0;
    if (c->by_level[STOAT_LEVEL_CRITICAL])
        lv += 15;
    lv += c->by_level[STOAT_LEVEL_HIGH] * 4.0 > 16 ? 16 : c->by_level[STOAT_LEVEL_HIGH] * 4.0;
    lv += c->by_level[STOAT_LEVEL_MEDIUM] > 5 ? 5 : c->by_level[STOAT_LEVEL_MEDIUM];
    s += lv;
    return s > 100 ? 100 : s;
}

static void close_chain(struct behaviour *b, size_t i)
{
    struct chain *c = &b->chains[i];
    double score = chain_score(c);
    b->st.chains++;
    if (score >= b->o.incident_min_score && b->out.incident) {
        const char *names[T_COUNT];
        size_t nt = 0;
        /* tactics in kill-chain order */
        for (int ord = 0; ord < T_COUNT; ord++)
            for (int t = 0; t < T_COUNT; t++)
                if ((c->tactic_mask & (1u << t)) && tactics[t].order == ord)
                    names[nt++] = tactics[t].name;
        struct buf title = {0};
        buf_printf(&title, "%s: ", c->host);
        static const int story[] = {T_DISCOVERY, T_CREDENTIAL, T_COLLECTION, T_EXFIL, T_C2};
        static const char *const label[] = {"discovery", "credential access", "collection", "exfiltration",
                                            "command and control"};
        bool any = false;
        for (size_t k = 0; k < 5; k++)
            if (c->tactic_mask & (1u << story[k])) {
                buf_printf(&title, "%s%s", any ? " -> " : "", label[k]);
                any = true;
            }
        if (!any)
            buf_puts(&title, nt ? names[0] : "suspicious activity");
        buf_printf(&title, " (%zu alerts, %zu rules)", c->nalerts, c->nrules);
        struct stoat_incident inc = {
            .id = ++b->next_incident,
            .host = c->host,
            .logon_id = c->mixed_logons ? NULL : c->logon,
            .title = title.p,
            .score = score,
            .level = score >= 80 ? STOAT_LEVEL_CRITICAL : score >= 60 ? STOAT_LEVEL_HIGH : STOAT_LEVEL_MEDIUM,
            .first_ns = c->first_ns,
            .last_ns = c->last_ns,
            .tactics = names,
            .ntactics = nt,
            .alert_ids = c->alerts,
            .nalerts = c->nalerts,
        };
        b->st.incidents++;
        b->out.incident(b->out.ctx, &inc);
        buf_free(&title);
    }
    b->host_open[c->host_id] = 0;
    chain_free(c);
    /* keep the array dense: move the last chain here and fix its host's index */
    if (i != b->nchains - 1) {
        b->chains[i] = b->chains[b->nchains - 1];
        memset(&b->chains[b->nchains - 1], 0, sizeof(*c));
        b->host_open[b->chains[i].host_id] = (uint32_t)i + 1;
    }
    b->nchains--;
}

static uint32_t host_of(struct behaviour *b, const char *host)
{
    uint32_t hid = strmap_put(&b->hosts, host, strlen(host), (uint32_t)b->nhosts);
    if (hid == b->nhosts) {
        XGROW(b->host_open, b->host_open_cap, b->nhosts + 1);
        b->host_open[b->nhosts++] = 0;
    }
    return hid;
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

void behaviour_watch(struct behaviour *b, const struct stoat_alert *a)
{
    const struct stoat_ruleset *rs = b->rs;
    size_t ri = rule_index(rs, a->rule);
    if (ri != SIZE_MAX && rs->rules[ri].role == ROLE_BASELINE_WATCH) {
        baseline_event(b, a);
        return;
    }
    if (b->exfil_rule < 0 || !b->out.alert)
        return;
    const char *host = a->host ? a->host : "(no host)";
    uint32_t hid = host_of(b, host);
    uint64_t n = b->ntouch < MAX_TOUCHES ? b->ntouch : MAX_TOUCHES;
    for (uint64_t k = 0; k < n; k++) {
        const struct touch *t = &b->touches[(b->ntouch - 1 - k) % MAX_TOUCHES];
        if (t->host_id != hid)
            continue;
        bool same = (b->cur_tree && t->tree == b->cur_tree) ||
                    (a->logon_id && t->logon && strcmp(a->logon_id, t->logon) == 0);
        if (!same)
            continue;
        if (a->time_ns != INT64_MIN && t->time_ns != INT64_MIN &&
            (a->time_ns < t->time_ns || apart_more_than(t->time_ns, a->time_ns, b->jewel_window_ns)))
            continue;
        struct stoat_alert x = *a;
        x.rule = &rs->rules[b->exfil_rule].meta;
        b->out.alert(b->out.ctx, &x);
        return;   /* one alert per transfer */
    }
}

void behaviour_alert(struct behaviour *b, const struct stoat_alert *a)
{
    const struct stoat_rule_meta *m = a->rule ? a->rule : a->correlation;
    if (m && is_touch(b, a)) {
        struct touch *t = &b->touches[b->ntouch++ % MAX_TOUCHES];
        free(t->logon);
        *t = (struct touch){.host_id = host_of(b, a->host ? a->host : "(no host)"),
                            .logon = a->logon_id ? xstrdup(a->logon_id) : NULL, .tree = b->cur_tree,
                            .time_ns = a->time_ns, .alert_id = a->id};
    }
    if (!m || m->level <= STOAT_LEVEL_INFORMATIONAL)
        return;
    const char *host = a->host ? a->host : "(no host)";
    int64_t t = a->time_ns != INT64_MIN ? a->time_ns : b->now_ns;
    uint32_t hid = host_of(b, host);
    uint32_t idx = b->host_open[hid];
    struct chain *c = idx ? &b->chains[idx - 1] : NULL;
    if (c && t != INT64_MIN && c->last_ns != INT64_MIN && apart_more_than(c->last_ns, t, b->o.incident_gap_ns)) {
        close_chain(b, idx - 1);
        c = NULL;
    }
    if (!c) {
        XGROW(b->chains, b->chains_cap, b->nchains + 1);
        c = &b->chains[b->nchains++];
        memset(c, 0, sizeof(*c));
        c->host = xstrdup(host);
        c->host_id = hid;
        c->first_ns = c->last_ns = t;
        for (int k = 0; k < T_COUNT; k++)
            c->tactic_first[k] = INT64_MAX;
        b->host_open[hid] = (uint32_t)b->nchains;
    }
    if (t != INT64_MIN) {
        if (c->first_ns == INT64_MIN || t < c->first_ns)
            c->first_ns = t;
        if (c->last_ns == INT64_MIN || t > c->last_ns)
            c->last_ns = t;
    }
    if (c->nalerts < b->o.incident_max_alerts) {
        XGROW(c->alerts, c->cap, c->nalerts + 1);
        c->alerts[c->nalerts++] = a->id;
    }
    uint64_t rk = hash_bytes(m->id ? m->id : "", m->id ? strlen(m->id) : 0,
                             hash_bytes(m->title ? m->title : "", m->title ? strlen(m->title) : 0, 3));
    bool new_rule = true;
    for (size_t i = 0; i < c->nrules; i++)
        if (c->rules[i] == rk)
            new_rule = false;
    if (new_rule && c->nrules < CHAIN_MAX_RULES) {
        c->rules[c->nrules++] = rk;
        c->by_level[m->level]++;
    }
    for (size_t i = 0; i < m->attack_tactics.n; i++) {
        int tac = tactic_of(m->attack_tactics.items[i]);
        if (tac < 0)
            continue;
        c->tactic_mask |= 1u << tac;
        if (t != INT64_MIN && t < c->tactic_first[tac])
            c->tactic_first[tac] = t;
        else if (t == INT64_MIN && c->tactic_first[tac] == INT64_MAX)
            c->tactic_first[tac] = (int64_t)c->nalerts;   /* no clock: input order stands in */
    }
    if (a->logon_id && !c->mixed_logons) {
        if (!c->logon)
            c->logon = xstrdup(a->logon_id);
        else if (strcmp(c->logon, a->logon_id) != 0)
            c->mixed_logons = true;
    }
}

void behaviour_advance(struct behaviour *b, int64_t now_ns)
{
    if (now_ns == INT64_MIN || (b->now_ns != INT64_MIN && now_ns <= b->now_ns))
        return;
    b->now_ns = now_ns;
    for (size_t i = 0; i < b->nchains;) {
        struct chain *c = &b->chains[i];
        if (c->last_ns != INT64_MIN && apart_more_than(c->last_ns, now_ns, b->o.incident_gap_ns))
            close_chain(b, i);   /* moves the last chain into i */
        else
            i++;
    }
}

stoat_err behaviour_write_baseline(const struct behaviour *b, const char *path)
{
    if (!b->learn)
        return STOAT_OK;
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
    /* oldest first, so incident ids follow time */
    while (b->nchains) {
        size_t oldest = 0;
        for (size_t i = 1; i < b->nchains; i++)
            if (b->chains[i].first_ns < b->chains[oldest].first_ns)
                oldest = i;
        close_chain(b, oldest);
    }
}

void behaviour_set_ruleset(struct behaviour *b, const struct stoat_ruleset *rs)
{
    take_ruleset(b, rs);
}

void behaviour_get_stats(const struct behaviour *b, struct behaviour_stats *out)
{
    *out = b->st;
    proctree_get_stats(b->procs, &out->procs);
}
