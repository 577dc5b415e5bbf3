/* Fleet incidents from chains of hosts (cross.c links them): the chain's
 * edges, its account's alerts on its hosts and what each host's evidence
 * shows, scored as a single host's chain is (chains.h), with lateral
 * movement as an observed tactic. See cross.h. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "behaviour/cross_int.h"
#include "behaviour/lateral.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/strmap.h"

struct inc_build {
    struct stoat_incident_host *parts;
    struct stoat_incident_edge *edges;
    size_t nedges;
    char (*vias)[128];
    struct stoat_incident_rule *rules;
    size_t nrules;
    struct stoat_incident_evidence *ev;
    size_t nev, evcap;
    uint64_t *ids;
    size_t nids, idcap;
    struct strmap rule_idx;
    struct buf text; /* evidence texts, NUL-separated (offsets in ev_off) */
    size_t *ev_off;
    const char ***procs; /* per host */
    size_t *nprocs;
    uint64_t **host_ids;
    int64_t **host_times; /* of host_ids */
    size_t *nhost_ids;
};

static void push_evidence(struct inc_build *b, const char *tactic, int64_t t, const char *text)
{
    XGROW(b->ev, b->evcap, b->nev + 1);
    size_t cap2 = b->evcap;
    b->ev_off = xrealloc(b->ev_off, cap2 * sizeof(*b->ev_off));
    b->ev_off[b->nev] = b->text.len;
    buf_puts(&b->text, text);
    buf_putc(&b->text, 0);
    b->ev[b->nev++] = (struct stoat_incident_evidence){.tactic = tactic, .time_ns = t};
}

static void push_unique(const char ***arr, size_t *n, const char *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < *n; i++)
        if (strcmp((*arr)[i], s) == 0)
            return;
    if (*n >= 32)
        return; /* enough to see the tree; the alerts carry every ancestry */
    *arr = xrealloc(*arr, (*n + 1) * sizeof(**arr));
    (*arr)[(*n)++] = s;
}

static void build_free(struct inc_build *b, size_t nhosts)
{
    for (size_t h = 0; h < nhosts; h++) {
        free(b->procs[h]);
        free(b->host_ids[h]);
        free(b->host_times[h]);
    }
    free(b->procs);
    free(b->nprocs);
    free(b->host_ids);
    free(b->host_times);
    free(b->nhost_ids);
    free(b->parts);
    free(b->edges);
    free(b->vias);
    free(b->rules);
    free(b->ev);
    free(b->ev_off);
    free(b->ids);
    strmap_free(&b->rule_idx);
    buf_free(&b->text);
}

static void cover(struct cross *c, uint64_t id)
{
    XGROW(c->covered, c->ccap, c->ncovered + 1);
    c->covered[c->ncovered++] = id;
}

/* The chain's edges in the order first used, with their own span. */
static void chain_edges(struct cross *c, const struct xchain *ch, struct inc_build *b, struct chain_tally *t)
{
    b->edges = xcalloc(ch->nmoves, sizeof(*b->edges));
    b->vias = xcalloc(ch->nmoves, sizeof(*b->vias));
    unsigned *via = xcalloc(ch->nmoves, sizeof(*via));
    for (size_t i = 0; i < ch->nmoves; i++) {
        const struct move *m = ch->moves[i];
        size_t k = 0;
        while (k < b->nedges && !(strcmp(b->edges[k].from, m->from) == 0 && strcmp(b->edges[k].to, m->to) == 0))
            k++;
        if (k == b->nedges) {
            const struct lateral_edge *ge = lateral_find(c->graph, m->akey, m->from, m->to);
            b->edges[b->nedges++] = (struct stoat_incident_edge){.account = ge ? ge->account : m->f->account,
                                                                 .from = m->from,
                                                                 .to = m->to,
                                                                 .first_ns = m->t,
                                                                 .last_ns = m->t,
                                                                 .is_new = ge && ge->is_new};
        }
        via[k] |= m->via;
        if (m->t > b->edges[k].last_ns)
            b->edges[k].last_ns = m->t;
        chain_tally_lateral(t, m->t);
    }
    for (size_t k = 0; k < b->nedges; k++) {
        lateral_via_text(via[k], b->vias[k], sizeof(b->vias[k]));
        b->edges[k].via = b->vias[k];
        char text[1024];
        snprintf(text, sizeof(text), "%s logged on from %s to %s (%s)%s", b->edges[k].account, b->edges[k].from,
                 b->edges[k].to, b->vias[k], b->edges[k].is_new ? ", never seen in the baseline" : "");
        push_evidence(b, "lateral-movement", b->edges[k].first_ns, text);
    }
    free(via);
}

/* The chain's alerts: tallied, listed per host, their processes noted. */
static void chain_alerts(struct cross *c, const struct xchain *ch, const struct acct_alerts *aa, struct inc_build *b,
                         struct chain_tally *t, int64_t *first, int64_t *last)
{
    int64_t lo = ch->first - c->o.gap_ns, hi = ch->last + c->o.gap_ns;
    strmap_init(&b->rule_idx);
    for (size_t k = 0; k < aa->n; k++) {
        const struct xalert *a = &c->alerts[aa->idx[k]];
        size_t h = 0;
        while (h < ch->nhosts && strcasecmp(ch->hosts[h], a->host) != 0)
            h++;
        if (h == ch->nhosts || a->t < lo || a->t > hi)
            continue;
        struct buf key = {0};
        buf_printf(&key, "%s\x1f%s\x1f%d", a->rule_id ? a->rule_id : "", a->rule_title, (int)a->level);
        uint32_t r = strmap_put(&b->rule_idx, key.p, key.len, (uint32_t)b->nrules);
        buf_free(&key);
        bool new_rule = r == b->nrules;
        if (new_rule) {
            b->rules = xrealloc(b->rules, (b->nrules + 1) * sizeof(*b->rules));
            b->rules[b->nrules++] =
                (struct stoat_incident_rule){.id = a->rule_id, .title = a->rule_title, .level = a->level};
        }
        b->rules[r].alerts++;
        chain_tally_add(t, a->tactics, a->level, a->t, new_rule);
        XGROW(b->ids, b->idcap, b->nids + 1);
        b->ids[b->nids++] = a->id;
        b->host_ids[h] = xrealloc(b->host_ids[h], (b->nhost_ids[h] + 1) * sizeof(uint64_t));
        b->host_times[h] = xrealloc(b->host_times[h], (b->nhost_ids[h] + 1) * sizeof(int64_t));
        b->host_times[h][b->nhost_ids[h]] = a->t;
        b->host_ids[h][b->nhost_ids[h]++] = a->id;
        push_unique(&b->procs[h], &b->nprocs[h], a->parent);
        push_unique(&b->procs[h], &b->nprocs[h], a->image);
        if (*first == INT64_MIN || a->t < *first)
            *first = a->t;
        if (a->t > *last)
            *last = a->t;
    }
}

/* What each host's evidence shows about the chain's processes there. */
static void chain_judge(struct cross *c, const struct xchain *ch, const struct acct_alerts *aa, struct inc_build *b,
                        struct chain_claims *all)
{
    *all = (struct chain_claims){.exfil_ns = INT64_MIN, .c2_ns = INT64_MIN};
    if (!c->out.judge)
        return;
    for (size_t h = 0; h < ch->nhosts; h++) {
        uint64_t procs[512];
        size_t np = 0;
        for (size_t k = 0; k < aa->n && np < 512; k++) {
            const struct xalert *a = &c->alerts[aa->idx[k]];
            if (!a->proc || strcasecmp(a->host, ch->hosts[h]) != 0)
                continue;
            size_t q = 0;
            while (q < np && procs[q] != a->proc)
                q++;
            if (q == np)
                procs[np++] = a->proc;
        }
        if (!np)
            continue;
        struct chain_claims cl = {.exfil_ns = INT64_MIN, .c2_ns = INT64_MIN};
        c->out.judge(c->out.ctx, ch->hosts[h], procs, np, &cl);
        if (cl.exfil && (!all->exfil || cl.exfil_ns < all->exfil_ns)) {
            all->exfil = true;
            all->exfil_ns = cl.exfil_ns;
        }
        if (cl.c2 && (!all->c2 || cl.c2_ns < all->c2_ns)) {
            all->c2 = true;
            all->c2_ns = cl.c2_ns;
        }
        for (size_t e = 0; e < cl.nevidence; e++) {
            char text[1200];
            snprintf(text, sizeof(text), "%s: %s", ch->hosts[h], cl.evidence[e].text ? cl.evidence[e].text : "");
            push_evidence(b, cl.evidence[e].tactic, cl.evidence[e].time_ns, text);
        }
    }
}

static int cmp_ev(const void *x, const void *y)
{
    const struct stoat_incident_evidence *a = x, *b = y;
    return a->time_ns < b->time_ns ? -1 : a->time_ns > b->time_ns;
}

void cross_report_chain(struct cross *c, const struct xchain *ch, const struct acct_alerts *aa)
{
    struct inc_build b = {0};
    size_t nh = ch->nhosts;
    b.procs = xcalloc(nh, sizeof(*b.procs));
    b.nprocs = xcalloc(nh, sizeof(*b.nprocs));
    b.host_ids = xcalloc(nh, sizeof(*b.host_ids));
    b.host_times = xcalloc(nh, sizeof(*b.host_times));
    b.nhost_ids = xcalloc(nh, sizeof(*b.nhost_ids));
    struct chain_tally t;
    chain_tally_init(&t);
    int64_t first = INT64_MIN, last = INT64_MIN;
    chain_edges(c, ch, &b, &t);
    chain_alerts(c, ch, aa, &b, &t, &first, &last);
    struct chain_claims cl;
    chain_judge(c, ch, aa, &b, &cl);
    const char *names[CHAIN_TACTICS];
    size_t nt;
    uint32_t mask;
    double score = chain_tally_score(&t, &cl, last, names, &nt, &mask);
    size_t with_alerts = 0;
    for (size_t h = 0; h < nh; h++)
        with_alerts += b.nhost_ids[h] != 0;
    if (score >= c->o.min_score && with_alerts >= 2 && c->out.incident) {
        for (size_t e = 0; e < b.nev; e++)
            b.ev[e].text = b.text.p + b.ev_off[e];
        if (b.nev > 1)
            qsort(b.ev, b.nev, sizeof(*b.ev), cmp_ev);
        b.parts = xcalloc(nh, sizeof(*b.parts));
        for (size_t h = 0; h < nh; h++)
            b.parts[h] = (struct stoat_incident_host){.host = ch->hosts[h],
                                                      .alert_ids = b.host_ids[h],
                                                      .alert_times = b.host_times[h],
                                                      .nalerts = b.nhost_ids[h],
                                                      .processes = b.procs[h],
                                                      .nprocesses = b.nprocs[h]};
        struct buf title = {0};
        buf_printf(&title, "fleet: %s across %zu hosts: ", b.edges[0].account, nh);
        chain_story(&title, mask, names, nt);
        buf_printf(&title, " (%zu alerts, %zu rules)", b.nids, b.nrules);
        struct stoat_incident inc = {.id = c->next_id++,
                                     .host = ch->hosts[0],
                                     .title = title.p,
                                     .score = score,
                                     .level = score >= 80   ? STOAT_LEVEL_CRITICAL
                                              : score >= 60 ? STOAT_LEVEL_HIGH
                                                            : STOAT_LEVEL_MEDIUM,
                                     .first_ns = first < ch->first ? first : ch->first,
                                     .last_ns = last > ch->last ? last : ch->last,
                                     .tactics = names,
                                     .ntactics = nt,
                                     .alert_ids = b.ids,
                                     .nalerts = b.nids,
                                     .evidence = b.ev,
                                     .nevidence = b.nev,
                                     .rules = b.rules,
                                     .nrules = b.nrules,
                                     .hosts = b.parts,
                                     .nhosts = nh,
                                     .account = b.edges[0].account,
                                     .edges = b.edges,
                                     .nedges = b.nedges};
        for (size_t i = 0; i < b.nids; i++)
            cover(c, b.ids[i]);
        c->st.incidents++;
        c->out.incident(c->out.ctx, &inc);
        buf_free(&title);
    }
    build_free(&b, nh);
}
