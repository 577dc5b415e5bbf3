/* src/behaviour/lateral.c and cross.c: the lateral movement graph and fleet
 * incidents, from facts built by hand.
 *
 * Each chaining test states the logons and alerts of a few hosts and what
 * must come out: one incident naming the hosts in the order reached, the
 * account and the edges in time order, or none (moves without alerts behind
 * them, alerts without a move between, routine work scoring low, activity
 * further apart than the gap). The halves of facts (sshd's accept and its
 * session, a service install and the logon that made it, a WinRM shell) are
 * joined; facts in any order give the same incident; live, a chain is
 * reported once, after it can no longer grow. */
#include "testutil.h"

#include "behaviour/baseline.h"
#include "behaviour/cross.h"
#include "behaviour/facts.h"
#include "behaviour/lateral.h"
#include "util/buf.h"

#define SEC     1000000000LL
#define MIN_NS  (60 * SEC)
#define HOUR_NS (60 * MIN_NS)
#define T0      1790000000000000000LL

/* -------------------------------------------------------------- harness */

struct got {
    char hosts[512], edges[1024], account[64], tactics[256];
    double score;
    size_t nalerts;
    uint64_t id;
    bool all_new;
};

struct rec {
    struct got v[16];
    size_t n, nedges_seen;
};

static void on_incident(void *ctx, const struct stoat_incident *inc)
{
    struct rec *r = ctx;
    assert_true(r->n < 16);
    struct got *g = &r->v[r->n++];
    memset(g, 0, sizeof(*g));
    assert_true(inc->nhosts >= 2);
    assert_string_equal(inc->host, inc->hosts[0].host);
    for (size_t i = 0; i < inc->nhosts; i++) {
        strcat(g->hosts, inc->hosts[i].host);
        strcat(g->hosts, " ");
    }
    g->all_new = true;
    for (size_t i = 0; i < inc->nedges; i++) {
        char e[200];
        snprintf(e, sizeof(e), "%s>%s(%s) ", inc->edges[i].from, inc->edges[i].to, inc->edges[i].via);
        strcat(g->edges, e);
        g->all_new &= inc->edges[i].is_new;
        if (i)
            assert_true(inc->edges[i].first_ns >= inc->edges[i - 1].first_ns);
    }
    for (size_t i = 0; i < inc->ntactics; i++) {
        strcat(g->tactics, inc->tactics[i]);
        strcat(g->tactics, " ");
    }
    snprintf(g->account, sizeof(g->account), "%s", inc->account ? inc->account : "");
    g->score = inc->score;
    g->nalerts = inc->nalerts;
    g->id = inc->id;
    size_t per_host = 0;
    for (size_t i = 0; i < inc->nhosts; i++)
        per_host += inc->hosts[i].nalerts;
    assert_int_equal(per_host, inc->nalerts);
}

static void on_edge(void *ctx, const struct stoat_incident_edge *e)
{
    (void)e;
    ((struct rec *)ctx)->nedges_seen++;
}

static struct cross *make(struct rec *r, bool live, const struct baseline *profile)
{
    memset(r, 0, sizeof(*r));
    struct cross_opts o = {.live = live, .lateness_ns = MIN_NS, .profile = profile};
    return cross_create(&o, &(struct cross_out){.ctx = r, .incident = on_incident, .edge = on_edge});
}

static uint32_t tac(const char *name)
{
    return chain_tactics_of(&name, 1);
}

/* when set, alert() gives each exact host name a slot, as behaviour's host
 * records do (cross_alert's host_slot) */
static bool use_slots;
static struct {
    const char *host;
    uint32_t slot;
} slots[16];

static uint32_t *slot_of(const char *host)
{
    size_t k = 0;
    while (k < 16 && slots[k].host && strcmp(slots[k].host, host) != 0)
        k++;
    assert_true(k < 16);
    slots[k].host = host;
    return &slots[k].slot;
}

static void alert(struct cross *c, uint64_t id, const char *host, int64_t t, const char *user, const char *logon,
                  const char *tactic, enum stoat_level level)
{
    char title[64];
    snprintf(title, sizeof(title), "rule %s %d", tactic, (int)level);
    cross_alert(c, &(struct cross_alert){.id = id,
                                         .host = host,
                                         .time_ns = t,
                                         .rule_title = title,
                                         .level = level,
                                         .tactics = tac(tactic),
                                         .account = user,
                                         .logon_id = logon,
                                         .image = "C:\\Windows\\System32\\cmd.exe",
                                         .host_slot = use_slots && *host ? slot_of(host) : NULL});
}

static void net_logon(struct cross *c, const char *to, int64_t t, const char *user, const char *ws, const char *ip,
                      const char *logon)
{
    cross_logon(c, &(struct cross_logon){.reporter = to,
                                         .account = user,
                                         .src_host = ws,
                                         .src_addr = ip,
                                         .dst_host = to,
                                         .dst_logon = logon,
                                         .time_ns = t,
                                         .via = CROSS_VIA_NETWORK});
}

/* The intrusion of the tests: ws -> fs (network logon, a service that runs
 * the staging as SYSTEM) -> dc (a session named by its logon id) -> lnx (ssh,
 * the two halves). */
static void intrusion(struct cross *c, int64_t t, bool shuffled)
{
    const char *ws = "ws1.corp.example", *fs = "fs1.corp.example", *dc = "dc1.corp.example";
    int order[10] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9};
    if (shuffled) {
        int s[10] = {9, 3, 7, 0, 5, 1, 8, 2, 6, 4};
        memcpy(order, s, sizeof(order));
    }
    for (int k = 0; k < 10; k++)
        switch (order[k]) {
        case 0: alert(c, 1, ws, t, "CORP\\m.keller", "0x5a3f1", "discovery", STOAT_LEVEL_MEDIUM); break;
        case 1:
            alert(c, 2, ws, t + 5 * MIN_NS, "CORP\\m.keller", "0x5a3f1", "credential-access", STOAT_LEVEL_HIGH);
            break;
        case 2:
            cross_address(c, ws, "10.1.1.10");
            net_logon(c, fs, t + 10 * MIN_NS, "m.keller", "WS1", "10.1.1.10", "0x77");
            break;
        case 3:
            /* 7045 names nobody: the network logon just before installed it */
            cross_logon(
                c, &(struct cross_logon){
                       .reporter = fs, .dst_host = fs, .time_ns = t + 10 * MIN_NS + 4 * SEC, .via = CROSS_VIA_SERVICE});
            break;
        case 4:
            alert(c, 3, fs, t + 12 * MIN_NS, "NT AUTHORITY\\SYSTEM", "0x3e7", "collection", STOAT_LEVEL_HIGH);
            break;
        case 5:
            net_logon(c, dc, t + 20 * MIN_NS, "m.keller", NULL, "10.1.1.20", "0x99");
            cross_address(c, fs, "10.1.1.20");
            break;
        case 6:
            cross_logon(c, &(struct cross_logon){.reporter = dc,
                                                 .dst_host = dc,
                                                 .dst_logon = "0x99",
                                                 .time_ns = t + 20 * MIN_NS + 2 * SEC,
                                                 .via = CROSS_VIA_WINRM});
            alert(c, 4, dc, t + 22 * MIN_NS, "NT AUTHORITY\\SYSTEM", "0x99", "credential-access", STOAT_LEVEL_HIGH);
            break;
        case 7:
            /* sshd: the accept names the address, its child the account */
            cross_logon(c, &(struct cross_logon){.reporter = "lnx1",
                                                 .dst_host = "lnx1",
                                                 .src_addr = "10.1.1.20",
                                                 .time_ns = t + 30 * MIN_NS,
                                                 .via = CROSS_VIA_SSH});
            cross_logon(c, &(struct cross_logon){.reporter = "lnx1",
                                                 .dst_host = "lnx1",
                                                 .account = "m.keller",
                                                 .time_ns = t + 30 * MIN_NS + 2 * SEC,
                                                 .via = CROSS_VIA_SSH});
            break;
        case 8: alert(c, 5, "lnx1", t + 33 * MIN_NS, "m.keller", "1004", "collection", STOAT_LEVEL_HIGH); break;
        case 9:
            /* someone else's work on the same hosts, not joined */
            alert(c, 6, fs, t + 15 * MIN_NS, "CORP\\o.berg", "0x123", "discovery", STOAT_LEVEL_MEDIUM);
            break;
        }
}

#define WANT_HOSTS "ws1.corp.example fs1.corp.example dc1.corp.example lnx1 "
#define WANT_EDGES                                                      \
    "ws1.corp.example>fs1.corp.example(network logon+service install) " \
    "fs1.corp.example>dc1.corp.example(network logon+winrm) fs1.corp.example>lnx1(ssh) "

/* ---------------------------------------------------------------- graph */

static void test_graph_edges(void **state)
{
    (void)state;
    struct lateral *g = lateral_create(3);
    bool created;
    struct lateral_edge *e =
        lateral_add(g, "m.keller", "CORP\\M.Keller", "ws1", "fs1", CROSS_VIA_NETWORK, T0 + 50, &created);
    assert_true(created);
    e = lateral_add(g, "m.keller", "m.keller", "ws1", "fs1", CROSS_VIA_EXPLICIT, T0 + 10, &created);
    assert_false(created);
    assert_string_equal(e->account, "CORP\\M.Keller"); /* as first spelled */
    assert_int_equal(e->count, 2);
    assert_true(e->first_ns == T0 + 10 && e->last_ns == T0 + 50);
    char via[128];
    lateral_via_text(e->via, via, sizeof(via));
    assert_string_equal(via, "network logon+explicit credentials");
    /* direction and account make other edges */
    lateral_add(g, "m.keller", NULL, "fs1", "ws1", CROSS_VIA_SSH, T0, &created);
    assert_true(created);
    lateral_add(g, "o.berg", NULL, "ws1", "fs1", CROSS_VIA_RDP, T0, &created);
    assert_true(created);
    assert_int_equal(lateral_count(g), 3);
    assert_non_null(lateral_find(g, "o.berg", "ws1", "fs1"));
    assert_null(lateral_find(g, "o.berg", "fs1", "ws1"));
    /* the cap: counted, not kept */
    assert_null(lateral_add(g, "x", NULL, "a", "b", CROSS_VIA_SSH, T0, &created));
    assert_false(created);
    assert_int_equal(lateral_dropped(g), 1);
    lateral_destroy(g);
    lateral_destroy(NULL);
}

static void test_account_key(void **state)
{
    (void)state;
    char k[256];
    cross_account_key("CORP\\M.Keller", k);
    assert_string_equal(k, "m.keller");
    cross_account_key("m.keller@corp.example", k);
    assert_string_equal(k, "m.keller");
    cross_account_key("NT AUTHORITY\\SYSTEM", k);
    assert_string_equal(k, "");
    cross_account_key("WS1$", k);
    assert_string_equal(k, "");
    cross_account_key(NULL, k);
    assert_string_equal(k, "");
}

/* cross_account_key as it was: the key, then every name of no person
 * compared with strcmp. */
static void account_key_reference(const char *account, char out[256])
{
    out[0] = 0;
    if (!account)
        return;
    const char *p = account;
    const char *bs = strrchr(p, '\\');
    if (bs)
        p = bs + 1;
    size_t n = strcspn(p, "@");
    if (n >= 256)
        n = 255;
    for (size_t i = 0; i < n; i++)
        out[i] = (char)(p[i] >= 'A' && p[i] <= 'Z' ? p[i] + 32 : p[i]);
    out[n] = 0;
    static const char *const anonymous[] = {"system",      "local service", "network service", "anonymous logon", "-",
                                            "localsystem", "dwm-1",         "umfd-0",          "umfd-1"};
    for (size_t i = 0; i < sizeof(anonymous) / sizeof(anonymous[0]); i++)
        if (strcmp(out, anonymous[i]) == 0)
            out[0] = 0;
    if (n && out[n - 1] == '$')
        out[0] = 0;
}

/* The names of no person are found by length, then bytes: the same keys
 * as strcmp against each, for them in any case, with a domain or a realm,
 * a byte more or less or another, and other names. */
static void test_account_key_as_strcmp(void **state)
{
    (void)state;
    static const char *const bases[] = {"system",
                                        "local service",
                                        "network service",
                                        "anonymous logon",
                                        "-",
                                        "localsystem",
                                        "dwm-1",
                                        "umfd-0",
                                        "umfd-1",
                                        "umfd-2",
                                        "systen",
                                        "network servicf",
                                        "anonymous logoN",
                                        "",
                                        "m.keller",
                                        "ws1$",
                                        "$",
                                        "\xc9t\xe9"};
    static const char *const forms[] = {
        "%s", "NT AUTHORITY\\%s", "%s@corp.example", "A\\B\\%s@x@y", "%sx", "x%s", "%s\\", "@%s"};
    char account[300], want[256], got[256];
    for (size_t b = 0; b < sizeof(bases) / sizeof(bases[0]); b++)
        for (size_t f = 0; f < sizeof(forms) / sizeof(forms[0]); f++)
            for (int upper = 0; upper < 2; upper++) {
                snprintf(account, sizeof(account), forms[f], bases[b]);
                for (char *c = account; upper && *c; c++)
                    if (*c >= 'a' && *c <= 'z')
                        *c = (char)(*c - 32);
                account_key_reference(account, want);
                cross_account_key(account, got);
                assert_string_equal(got, want);
            }
    memset(account, 's', 299); /* longer than a key */
    account[299] = 0;
    account_key_reference(account, want);
    cross_account_key(account, got);
    assert_string_equal(got, want);
}

/* --------------------------------------------------------------- chaining */

static void test_intrusion_one_incident(void **state)
{
    (void)state;
    struct rec r;
    struct cross *c = make(&r, false, NULL);
    intrusion(c, T0, false);
    cross_finish(c);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].hosts, WANT_HOSTS);
    assert_string_equal(r.v[0].edges, WANT_EDGES);
    assert_string_equal(r.v[0].account, "m.keller");
    assert_int_equal(r.v[0].nalerts, 5); /* not o.berg's */
    assert_non_null(strstr(r.v[0].tactics, "lateral-movement"));
    assert_true(r.v[0].score >= 50);
    assert_false(r.v[0].all_new); /* no baseline: nothing is called new */
    assert_int_equal(r.nedges_seen, 3);
    for (uint64_t id = 1; id <= 5; id++)
        assert_true(cross_covered(c, id));
    assert_false(cross_covered(c, 6));
    cross_destroy(c);
}

static void test_any_order(void **state)
{
    (void)state;
    struct rec r;
    struct cross *c = make(&r, false, NULL);
    intrusion(c, T0, true);
    cross_finish(c);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].hosts, WANT_HOSTS);
    assert_string_equal(r.v[0].edges, WANT_EDGES);
    cross_destroy(c);
}

static void test_moves_without_alerts(void **state)
{
    (void)state;
    struct rec r;
    struct cross *c = make(&r, false, NULL);
    /* the admin logs on everywhere; alerts only on the first host */
    alert(c, 1, "a", T0, "adm", NULL, "credential-access", STOAT_LEVEL_CRITICAL);
    alert(c, 2, "a", T0 + MIN_NS, "adm", NULL, "collection", STOAT_LEVEL_HIGH);
    net_logon(c, "b", T0 + 2 * MIN_NS, "adm", "a", NULL, NULL);
    net_logon(c, "c", T0 + 3 * MIN_NS, "adm", "a", NULL, NULL);
    /* someone else raises alerts on b */
    alert(c, 3, "b", T0 + 4 * MIN_NS, "other", NULL, "collection", STOAT_LEVEL_HIGH);
    cross_finish(c);
    assert_int_equal(r.n, 0);
    assert_int_equal(r.nedges_seen, 2); /* the graph has them all the same */
    cross_destroy(c);
}

static void test_alerts_without_move(void **state)
{
    (void)state;
    struct rec r;
    struct cross *c = make(&r, false, NULL);
    alert(c, 1, "a", T0, "u", NULL, "credential-access", STOAT_LEVEL_CRITICAL);
    alert(c, 2, "b", T0 + MIN_NS, "u", NULL, "collection", STOAT_LEVEL_HIGH);
    alert(c, 3, "c", T0 + 2 * MIN_NS, "u", NULL, "discovery", STOAT_LEVEL_HIGH);
    cross_finish(c);
    assert_int_equal(r.n, 0);
    cross_destroy(c);
}

static void test_routine_scores_low(void **state)
{
    (void)state;
    struct rec r;
    struct cross *c = make(&r, false, NULL);
    alert(c, 1, "a", T0, "adm", NULL, "discovery", STOAT_LEVEL_LOW);
    net_logon(c, "b", T0 + MIN_NS, "adm", "a", NULL, NULL);
    alert(c, 2, "b", T0 + 2 * MIN_NS, "adm", NULL, "collection", STOAT_LEVEL_MEDIUM);
    cross_finish(c);
    assert_int_equal(r.n, 0); /* 10 + 20 + 8 + 1: below 50 */
    cross_destroy(c);
}

static void test_gap(void **state)
{
    (void)state;
    struct rec r;
    struct cross *c = make(&r, false, NULL);
    alert(c, 1, "a", T0, "u", NULL, "credential-access", STOAT_LEVEL_CRITICAL);
    net_logon(c, "b", T0 + 5 * HOUR_NS, "u", "a", NULL, NULL); /* hours after the last alert on a */
    alert(c, 2, "b", T0 + 5 * HOUR_NS + MIN_NS, "u", NULL, "collection", STOAT_LEVEL_HIGH);
    cross_finish(c);
    assert_int_equal(r.n, 0);
    cross_destroy(c);
}

static void test_live_once(void **state)
{
    (void)state;
    struct rec r;
    struct cross *c = make(&r, true, NULL);
    intrusion(c, T0, false);
    cross_advance(c, T0 + 40 * MIN_NS);
    assert_int_equal(r.n, 0); /* could still grow */
    cross_advance(c, T0 + 33 * MIN_NS + 2 * HOUR_NS + 2 * MIN_NS);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.v[0].hosts, WANT_HOSTS);
    cross_advance(c, T0 + 33 * MIN_NS + 2 * HOUR_NS + 10 * MIN_NS);
    cross_finish(c);
    assert_int_equal(r.n, 1); /* once */
    struct cross_stats st;
    cross_get_stats(c, &st);
    assert_int_equal(st.incidents, 1);
    assert_int_equal(st.edges, 3);
    cross_destroy(c);
}

static void test_baseline_new_edges(void **state)
{
    (void)state;
    struct baseline *b = baseline_new();
    /* the profile knows every destination, and one of the logons */
    baseline_record_logon(b, "fs1.corp.example", "m.keller", "ws1.corp.example");
    baseline_record_logon(b, "dc1.corp.example", "adm", "fs1.corp.example");
    baseline_record_logon(b, "lnx1", "adm", "fs1.corp.example");
    assert_int_equal(baseline_check_logon(b, "fs1.corp.example", "M.Keller", "WS1.corp.example"), 1);
    assert_int_equal(baseline_check_logon(b, "dc1.corp.example", "m.keller", "fs1.corp.example"), 0);
    assert_int_equal(baseline_check_logon(b, "elsewhere", "m.keller", "fs1"), -1);
    struct rec r;
    struct cross *c = make(&r, false, b);
    intrusion(c, T0, false);
    cross_finish(c);
    assert_int_equal(r.n, 1);
    assert_false(r.v[0].all_new); /* ws1 -> fs1 is known */
    struct cross_stats st;
    cross_get_stats(c, &st);
    assert_int_equal(st.new_edges, 2);
    /* learning: the edges go into a profile */
    struct baseline *learnt = baseline_new();
    cross_learn(c, learnt);
    assert_int_equal(baseline_check_logon(learnt, "lnx1", "m.keller", "fs1.corp.example"), 1);
    baseline_free(learnt);
    cross_destroy(c);
    baseline_free(b);
}

/* ------------------------------------------------------------------ facts */

#define F(n, v)                                                                      \
    {                                                                                \
        .name = n, .value = v, .name_len = sizeof(n) - 1, .value_len = sizeof(v) - 1 \
    }

static bool logon_of(const char *rule, const char *eid, const struct stoat_field *f, size_t n, struct cross_logon *out,
                     struct facts_buf *fb)
{
    static struct stoat_rule_meta m;
    m.id = rule;
    struct stoat_alert a = {
        .rule = &m, .host = "fs1.corp.example", .time_ns = T0, .event_id = eid, .fields = f, .nfields = n};
    return facts_logon(&a, out, fb);
}

/* ------------------------------------------------------ kept strings */

/* An incident in full, as text: hosts with their alerts and processes,
 * rules, title, account. */
static void on_incident_text(void *ctx, const struct stoat_incident *inc)
{
    struct buf *b = ctx;
    buf_printf(b, "%llu %s|%s|%s|%.0f|", (unsigned long long)inc->id, inc->host, inc->title,
               inc->account ? inc->account : "-", inc->score);
    for (size_t h = 0; h < inc->nhosts; h++) {
        buf_printf(b, "[%s:", inc->hosts[h].host);
        for (size_t k = 0; k < inc->hosts[h].nalerts; k++)
            buf_printf(b, " %llu", (unsigned long long)inc->hosts[h].alert_ids[k]);
        for (size_t k = 0; k < inc->hosts[h].nprocesses; k++)
            buf_printf(b, " %s", inc->hosts[h].processes[k]);
        buf_puts(b, "]");
    }
    for (size_t i = 0; i < inc->nrules; i++)
        buf_printf(b, "{%s %s %d %llu}", inc->rules[i].id ? inc->rules[i].id : "-", inc->rules[i].title,
                   (int)inc->rules[i].level, (unsigned long long)inc->rules[i].alerts);
    buf_puts(b, "\n");
}

/* An alert whose strings are the caller's scratch, overwritten at once. */
static void scratch_alert(struct cross *c, uint64_t id, const char *host, int64_t t, const char *user,
                          const char *image, const char *rule_id, const char *tactic)
{
    char h[64], u[64], im[128], rid[64], title[64];
    snprintf(h, sizeof(h), "%s", host);
    snprintf(u, sizeof(u), "%s", user);
    snprintf(im, sizeof(im), "%s", image);
    snprintf(rid, sizeof(rid), "%s", rule_id);
    snprintf(title, sizeof(title), "title of %s", rule_id);
    cross_alert(c, &(struct cross_alert){.id = id,
                                         .host = h,
                                         .time_ns = t,
                                         .rule_id = rid,
                                         .rule_title = title,
                                         .level = STOAT_LEVEL_HIGH,
                                         .tactics = tac(tactic),
                                         .account = u,
                                         .image = im,
                                         .parent_image = im});
    memset(h, 'x', sizeof(h) - 1);
    memset(u, 'x', sizeof(u) - 1);
    memset(im, 'x', sizeof(im) - 1);
    memset(rid, 'x', sizeof(rid) - 1);
    memset(title, 'x', sizeof(title) - 1);
}

static void kept_strings_run(bool live, struct buf *out)
{
    struct cross_opts o = {.live = live, .lateness_ns = MIN_NS};
    struct cross *c = cross_create(&o, &(struct cross_out){.ctx = out, .incident = on_incident_text});
    static const char *const hosts[3] = {"ws1", "fs1", "dc1"};
    static const char *const images[3] = {"C:\\w\\cmd.exe", "C:\\w\\powershell.exe", "C:\\w\\rundll32.exe"};
    static const char *const tactics[3] = {"discovery", "credential-access", "collection"};
    char rid[16];
    uint64_t id = 0;
    for (int round = 0; round < 3; round++) {
        int64_t t = T0 + round * 6 * HOUR_NS;
        for (int h = 0; h < 3; h++) {
            if (h)
                net_logon(c, hosts[h], t + h * 10 * MIN_NS, "adm", hosts[h - 1], NULL, NULL);
            for (int k = 0; k < 4; k++) {
                snprintf(rid, sizeof(rid), "r%d", (h + k + round) % 5);
                scratch_alert(c, ++id, hosts[h], t + h * 10 * MIN_NS + (k + 1) * MIN_NS, round == 1 ? "adm2" : "adm",
                              images[(k + round) % 3], rid, tactics[k % 3]);
            }
        }
    }
    cross_finish(c); /* live too: no round before, so everything is chained here, as offline */
    cross_destroy(c);
}

/* Offline an alert's strings are kept once for all alerts (most repeat a
 * few hosts, users, images and rules), live each alert has its own: the
 * same incidents either way, and neither keeps the caller's memory. */
static void test_kept_strings(void **state)
{
    (void)state;
    struct buf once = {0}, each = {0};
    kept_strings_run(false, &once);
    kept_strings_run(true, &each);
    assert_non_null(strstr(once.p, "[ws1:"));
    assert_non_null(strstr(once.p, "C:\\w\\powershell.exe"));
    assert_non_null(strstr(once.p, "{r1 title of r1 "));
    assert_null(strstr(once.p, "xxx"));
    assert_string_equal(once.p, each.p);
    buf_free(&once);
    buf_free(&each);
}

/* kept_strings_run with many strings of one length and the same first
 * and last eight bytes (one slot of the recent kept strings, told apart
 * only when compared whole), in an order that changes each alert's. */
static void kept_strings_many_run(bool live, struct buf *out)
{
    struct cross_opts o = {.live = live, .lateness_ns = MIN_NS};
    struct cross *c = cross_create(&o, &(struct cross_out){.ctx = out, .incident = on_incident_text});
    static const char *const hosts[3] = {"ws1", "fs1", "dc1"};
    static const char *const tactics[3] = {"discovery", "credential-access", "collection"};
    char rid[16], image[64], user[32];
    uint64_t id = 0, r = 0x853c49e6748fea9bULL;
    for (int round = 0; round < 3; round++) {
        int64_t t = T0 + round * 6 * HOUR_NS;
        for (int h = 0; h < 3; h++) {
            if (h)
                net_logon(c, hosts[h], t + h * 10 * MIN_NS, "adm", hosts[h - 1], NULL, NULL);
            for (int k = 0; k < 40; k++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                snprintf(rid, sizeof(rid), "r%d", (int)(r >> 33) % 7);
                /* "C:\w\dir-NN\run.exe": one length, first and last eight bytes */
                snprintf(image, sizeof(image), "C:\\w\\dir-%02d\\run.exe", (int)(r >> 40) % 40);
                snprintf(user, sizeof(user), "CORP\\u%c%c-adm", 'a' + (int)(r >> 50) % 3, 'a' + (int)(r >> 55) % 3);
                scratch_alert(c, ++id, hosts[h], t + h * 10 * MIN_NS + (k + 1) * (MIN_NS / 8), k % 2 ? user : "adm",
                              image, rid, tactics[k % 3]);
            }
        }
    }
    cross_finish(c);
    cross_destroy(c);
}

static void test_kept_strings_many(void **state)
{
    (void)state;
    struct buf once = {0}, each = {0};
    kept_strings_many_run(false, &once);
    kept_strings_many_run(true, &each);
    assert_non_null(once.p);
    assert_non_null(strstr(once.p, "\\run.exe"));
    assert_null(strstr(once.p, "xxx"));
    assert_string_equal(once.p, each.p);
    buf_free(&once);
    buf_free(&each);
}

/* Attribution remembers the last host and account it looked up, and the
 * last host and session, by the kept strings' addresses (offline: alerts
 * share them); live every alert has its own copies and each is looked up
 * afresh. Alerts whose host is the same but account, logon session or none
 * (a service's) changes from one to the next or every other one, in time
 * order: the same incidents either way. */
static void attr_memo_run(bool live, struct buf *out)
{
    struct cross_opts o = {.live = live, .lateness_ns = MIN_NS};
    struct cross *c = cross_create(&o, &(struct cross_out){.ctx = out, .incident = on_incident_text});
    intrusion(c, T0, false);
    static const char *const users[4] = {"CORP\\m.keller", NULL, "NT AUTHORITY\\SYSTEM", "o.berg@corp.example"};
    static const char *const logons[3] = {"0x77", "0x99", NULL};
    static const char *const hosts[3] = {"fs1.corp.example", "FS1", "dc1.corp.example"};
    uint64_t id = 100;
    for (int k = 0; k < 24; k++)
        alert(c, ++id, hosts[(k / 4) % 3], T0 + 10 * MIN_NS + k * 30 * SEC, users[k % 4], logons[(k / 2) % 3],
              k % 2 ? "collection" : "discovery", STOAT_LEVEL_HIGH);
    cross_finish(c);
    cross_destroy(c);
}

static void test_attr_memo(void **state)
{
    (void)state;
    struct buf memo = {0}, fresh = {0};
    attr_memo_run(false, &memo);
    attr_memo_run(true, &fresh);
    assert_non_null(memo.p);
    assert_non_null(strstr(memo.p, "m.keller"));
    assert_string_equal(memo.p, fresh.p);
    buf_free(&memo);
    buf_free(&fresh);
}

/* attribute's memo of many accounts and sessions (more than its slots, so
 * they share slots and push each other out), their alerts interleaved in
 * time: offline they are found by the kept strings' addresses, live each
 * alert's are its own and looked up afresh; the same incidents either way.
 * Each account moves from a workstation to a server (a session there named
 * by its logon id) and raises alerts on both; some alerts name a session
 * never opened, some the machine account. */
static void attr_memo_many_run(bool live, struct buf *out)
{
    struct cross_opts o = {.live = live, .lateness_ns = MIN_NS};
    struct cross *c = cross_create(&o, &(struct cross_out){.ctx = out, .incident = on_incident_text});
    enum {
        USERS = 150
    };
    static const char *const tactics[3] = {"discovery", "credential-access", "collection"};
    char user[32], ws[16], srv[16], logon[16];
    for (int u = 0; u < USERS; u++) {
        snprintf(user, sizeof(user), "CORP\\user%03d", u);
        snprintf(ws, sizeof(ws), "ws%02d", u % 40);
        snprintf(srv, sizeof(srv), "fs%d", u % 10);
        snprintf(logon, sizeof(logon), "0x%x", 0x1000 + u);
        net_logon(c, srv, T0 - MIN_NS, user, ws, NULL, logon);
    }
    uint64_t id = 0;
    for (int k = 0; k < 6; k++)
        for (int u = 0; u < USERS; u++) {
            int64_t t = T0 + k * MIN_NS + u * (SEC / 4);
            snprintf(user, sizeof(user), "CORP\\user%03d", u);
            snprintf(ws, sizeof(ws), "ws%02d", u % 40);
            snprintf(srv, sizeof(srv), "fs%d", u % 10);
            snprintf(logon, sizeof(logon), "0x%x", 0x1000 + (k == 5 ? 0x9000 : 0) + u);
            alert(c, ++id, k % 2 ? srv : ws, t, k == 4 && u % 7 == 0 ? "NT AUTHORITY\\SYSTEM" : user,
                  k % 2 ? logon : NULL, tactics[k % 3], STOAT_LEVEL_HIGH);
        }
    cross_finish(c);
    cross_destroy(c);
}

static void test_attr_memo_many(void **state)
{
    (void)state;
    struct buf memo = {0}, fresh = {0};
    attr_memo_many_run(false, &memo);
    attr_memo_many_run(true, &fresh);
    assert_non_null(memo.p);
    size_t incidents = 0;
    for (const char *q = memo.p; (q = strchr(q, '\n')); q++)
        incidents++;
    assert_true(incidents >= 100);
    assert_non_null(strstr(memo.p, "user149"));
    assert_string_equal(memo.p, fresh.p);
    buf_free(&memo);
    buf_free(&fresh);
}

/* Offline, an alert of the event the last alert came from takes that
 * one's kept strings (by its event serial), and a rule's id and title are
 * kept once per rule (by its meta, the strings compared): the same
 * incidents as with neither (each string looked up), the same dropped
 * when the kept bytes are capped. Two rules share a meta here (one freed,
 * another at its address): told apart by their strings, each taking the
 * room of its own; rules' serials (r2 has none) tell them apart too.
 * Events' alerts come in runs. */
static void serials_run(bool serials, size_t max_bytes, struct buf *out, uint64_t *dropped)
{
    struct cross_opts o = {.lateness_ns = MIN_NS, .max_bytes = max_bytes};
    struct cross *c = cross_create(&o, &(struct cross_out){.ctx = out, .incident = on_incident_text});
    static const char *const hosts[3] = {"ws1", "fs1", "dc1"};
    static const char *const users[3] = {"adm", "CORP\\adm", "adm2"};
    static const char *const images[3] = {"C:\\w\\cmd.exe", "C:\\w\\powershell.exe", "C:\\w\\rundll32.exe"};
    static const char *const tactics[3] = {"discovery", "credential-access", "collection"};
    static const char metas[4][64]; /* a rule's meta each, apart enough to be told apart */
    uint64_t id = 0, event = 0;
    for (int h = 0; h < 3; h++) {
        int64_t t = T0 + h * 10 * MIN_NS;
        if (h)
            net_logon(c, hosts[h], t, "adm", hosts[h - 1], NULL, NULL);
        for (int e = 0; e < 6; e++) {
            event++;
            for (int k = 0; k < 1 + e % 3; k++) {
                char rid[16], title[32];
                int r = (e + k) % 4;
                snprintf(rid, sizeof(rid), "r%d", r);
                /* r3 (r1's meta) with a longer title: the room it takes is its own */
                snprintf(title, sizeof(title), r == 3 ? "title of r%d, a longer one" : "title of r%d", r);
                cross_alert(c, &(struct cross_alert){.id = ++id,
                                                     .host = hosts[h],
                                                     .time_ns = t + (e + 1) * MIN_NS,
                                                     .rule_id = rid,
                                                     .rule_title = title,
                                                     .level = STOAT_LEVEL_HIGH,
                                                     .tactics = tac(tactics[(e + k) % 3]),
                                                     .account = users[(h + e) % 3],
                                                     .logon_id = e % 2 ? "0x1" : NULL,
                                                     .image = images[e % 3],
                                                     .parent_image = images[(e + 1) % 3],
                                                     .event_serial = serials ? event : 0,
                                                     .rule_meta = serials ? metas[r == 3 ? 1 : r] : NULL,
                                                     .rule_serial = serials && r != 2 ? 100 + (uint64_t)r : 0});
            }
        }
    }
    cross_finish(c);
    struct cross_stats st;
    cross_get_stats(c, &st);
    *dropped = st.dropped;
    cross_destroy(c);
}

static void test_serials(void **state)
{
    (void)state;
    struct buf fast = {0}, slow = {0};
    uint64_t dropped_fast, dropped_slow;
    serials_run(true, 0, &fast, &dropped_fast);
    serials_run(false, 0, &slow, &dropped_slow);
    assert_non_null(slow.p);
    assert_non_null(strstr(slow.p, "{r3 title of r3, a longer one "));
    assert_non_null(strstr(slow.p, "{r1 title of r1 "));
    assert_string_equal(fast.p, slow.p);
    assert_int_equal(dropped_slow, 0);
    /* the kept bytes capped: the room an event's strings take, worked out
     * once for its alerts, drops the same alerts */
    for (size_t cap = 1000; cap <= 4000; cap += 700) {
        buf_clear(&fast);
        buf_clear(&slow);
        serials_run(true, cap, &fast, &dropped_fast);
        serials_run(false, cap, &slow, &dropped_slow);
        if (!dropped_slow)
            fail_msg("cap %zu: none dropped", cap);
        assert_int_equal(dropped_fast, dropped_slow);
        assert_string_equal(fast.p ? fast.p : "", slow.p ? slow.p : "");
    }
    buf_free(&fast);
    buf_free(&slow);
}

static void test_facts_from_events(void **state)
{
    (void)state;
    struct cross_logon l;
    struct facts_buf fb;
    const struct stoat_field net[] = {F("TargetUserName", "m.keller"), F("LogonType", "3"), F("WorkstationName", "WS1"),
                                      F("IpAddress", "10.1.1.10"), F("TargetLogonId", "0x77")};
    assert_true(logon_of(FACTS_RULE_WIN_LOGON, "4624", net, 5, &l, &fb));
    assert_string_equal(l.account, "m.keller");
    assert_string_equal(l.src_host, "WS1");
    assert_string_equal(l.src_addr, "10.1.1.10");
    assert_string_equal(l.dst_host, "fs1.corp.example");
    assert_string_equal(l.dst_logon, "0x77");
    assert_int_equal(l.via, CROSS_VIA_NETWORK);
    /* from nowhere: a local logon says nothing of movement */
    const struct stoat_field local[] = {F("TargetUserName", "m.keller"), F("LogonType", "3"), F("WorkstationName", "-"),
                                        F("IpAddress", "127.0.0.1")};
    assert_false(logon_of(FACTS_RULE_WIN_LOGON, "4624", local, 4, &l, &fb));
    /* explicit credentials towards the host itself: not a move */
    const struct stoat_field self[] = {F("TargetUserName", "m.keller"), F("TargetServerName", "localhost")};
    assert_false(logon_of(FACTS_RULE_WIN_LOGON, "4648", self, 2, &l, &fb));
    const struct stoat_field expl[] = {F("TargetUserName", "m.keller"), F("TargetServerName", "dc1")};
    assert_true(logon_of(FACTS_RULE_WIN_LOGON, "4648", expl, 2, &l, &fb));
    assert_string_equal(l.src_host, "fs1.corp.example");
    assert_string_equal(l.dst_host, "dc1");
    /* RDP's console session is not a move; a remote one is */
    const struct stoat_field lsm[] = {F("User", "CORP\\m.keller"), F("Address", "LOCAL")};
    assert_false(logon_of(FACTS_RULE_WIN_RDP, "21", lsm, 2, &l, &fb));
    const struct stoat_field rcm[] = {F("Param1", "m.keller"), F("Param3", "10.1.1.10")};
    assert_true(logon_of(FACTS_RULE_WIN_RDP, "1149", rcm, 2, &l, &fb));
    assert_int_equal(l.via, CROSS_VIA_RDP);
    /* a failed ssh login in the audit log */
    const struct stoat_field audit[] = {F("acct", "m.keller"), F("addr", "10.1.1.10"), F("res", "failed")};
    assert_false(logon_of(FACTS_RULE_LNX_AUDIT, "1112", audit, 3, &l, &fb));
    /* a successful one names the uid, and in enriched logs the name */
    const struct stoat_field ok[] = {F("id", "1001"), F("addr", "10.1.1.10"), F("res", "success"), F("ID", "alice")};
    assert_true(logon_of(FACTS_RULE_LNX_AUDIT, "1112", ok, 4, &l, &fb));
    assert_string_equal(l.account, "alice");
    assert_string_equal(l.src_addr, "10.1.1.10");
    assert_true(logon_of(FACTS_RULE_LNX_AUDIT, "1112", ok, 3, &l, &fb));
    assert_string_equal(l.account, "1001");
    /* a field longer than its buffer is cut, not overrun */
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = 0;
    const struct stoat_field longname[] = {{.name = "TargetUserName", .value = big, .name_len = 14, .value_len = 599},
                                           F("LogonType", "10"),
                                           F("IpAddress", "10.1.1.10")};
    assert_true(logon_of(FACTS_RULE_WIN_LOGON, "4624", longname, 3, &l, &fb));
    assert_int_equal(strlen(l.account), sizeof(fb.account) - 1);
    assert_int_equal(l.via, CROSS_VIA_RDP);
}

static void test_facts_json(void **state)
{
    (void)state;
    struct cross_fact in[3] = {
        {.kind = CROSS_FACT_LOGON,
         .logon = {.reporter = "lnx1",
                   .account = "m.\"k\"\u00e9",
                   .src_addr = "10.1.1.20",
                   .dst_host = "lnx1",
                   .time_ns = T0 + 5,
                   .via = CROSS_VIA_SSH}},
        {.kind = CROSS_FACT_ALERT,
         .alert = {.id = 42,
                   .host = "fs1",
                   .time_ns = T0,
                   .rule_title = "7-Zip\twith a password",
                   .level = STOAT_LEVEL_HIGH,
                   .tactics = 5,
                   .account = "SYSTEM",
                   .image = "C:\\7z.exe"}},
        {.kind = CROSS_FACT_ADDRESS, .host = "fs1", .addr = "10.1.1.20"},
    };
    struct facts_store *st = malloc(sizeof(*st));
    char why[128];
    for (int k = 0; k < 3; k++) {
        struct buf b = {0};
        facts_json(&in[k], &b);
        struct cross_fact out;
        assert_true(facts_parse(b.p, b.len, &out, st, why, sizeof(why)));
        assert_int_equal(out.kind, in[k].kind);
        struct buf again = {0};
        facts_json(&out, &again);
        assert_int_equal(again.len, b.len);
        assert_memory_equal(again.p, b.p, b.len); /* the same fact back */
        buf_free(&b);
        buf_free(&again);
    }
    struct cross_fact out;
    /* escapes decoded; unknown keys skipped */
    const char *j = "{\"fact\":\"address\",\"new_key\":[1],\"host\":\"h\\u00e9\\ud83d\\ude00\",\"addr\":\"a\"}";
    assert_false(facts_parse(j, strlen(j), &out, st, why, sizeof(why))); /* arrays are not facts' */
    j = "{\"fact\":\"address\",\"later\":true,\"host\":\"h\\u00e9\\ud83d\\ude00\\ud800\",\"addr\":\"a\"}";
    assert_true(facts_parse(j, strlen(j), &out, st, why, sizeof(why)));
    assert_string_equal(out.host, "h\xc3\xa9\xf0\x9f\x98\x80\xef\xbf\xbd");
    /* hostile: every error names where and why */
    static const char *const bad[] = {
        "",
        "{",
        "{\"fact\":\"x\"}",
        "{\"fact\":\"alert\",\"level\":9}",
        "{\"fact\":\"alert\",\"id\":\"1\"}",
        "{\"fact\":\"address\",\"host\":\"a\\q\"}",
        "{\"fact\":\"address\",\"host\":\"a\\u12\"}",
        "{\"fact\":\"address\",\"host\":\"a\x01\"}",
        "{\"fact\":\"address\"} x",
        "{\"fact\":\"address\",\"host\":\"a",
        "{\"fact\":\"logon\",\"time\":99999999999999999999}",
    };
    for (size_t k = 0; k < sizeof(bad) / sizeof(bad[0]); k++) {
        why[0] = 0;
        assert_false(facts_parse(bad[k], strlen(bad[k]), &out, st, why, sizeof(why)));
        assert_true(strncmp(why, "byte ", 5) == 0);
    }
    /* a string past its cap */
    struct buf b = {0};
    buf_puts(&b, "{\"fact\":\"address\",\"host\":\"");
    for (int k = 0; k < FACTS_STR_MAX + 1; k++)
        buf_putc(&b, 'h');
    buf_puts(&b, "\"}");
    assert_false(facts_parse(b.p, b.len, &out, st, why, sizeof(why)));
    assert_non_null(strstr(why, "too long"));
    buf_free(&b);
    free(st);
}

/* Hosts noted through the caller's slots (the first alert of a name fills
 * its slot, the others skip the lookup) give the incidents the lookup by
 * name gives, names differing by case included. */
static void test_host_slots_as_names(void **state)
{
    (void)state;
    for (int shuffled = 0; shuffled < 2; shuffled++) {
        struct rec by_name, by_slot;
        for (int pass = 0; pass < 2; pass++) {
            use_slots = pass;
            memset(slots, 0, sizeof(slots));
            struct cross *c = make(pass ? &by_slot : &by_name, false, NULL);
            intrusion(c, T0, shuffled);
            alert(c, 7, "WS1.CORP.EXAMPLE", T0 + 7 * MIN_NS, "CORP\\m.keller", "0x5a3f1", "discovery",
                  STOAT_LEVEL_HIGH);
            alert(c, 8, "ws1.corp.example", T0 + 8 * MIN_NS, "CORP\\m.keller", "0x5a3f1", "collection",
                  STOAT_LEVEL_HIGH);
            cross_finish(c);
            cross_destroy(c);
        }
        use_slots = false;
        assert_int_equal(by_name.n, 1);
        assert_int_equal(by_slot.n, by_name.n);
        assert_memory_equal(by_slot.v, by_name.v, by_name.n * sizeof(by_name.v[0]));
        assert_true(slots[0].slot != 0);
    }
}

/* facts_digest with a memo (kept between alerts) digests as it does without
 * one: alerts of one event, events taking turns in the same field array,
 * the account from User, SubjectUserName, the process or a correlation's
 * group, and none. */
static void digest_same(const struct stoat_alert *a, struct facts_memo *memo)
{
    struct cross_alert with, without;
    char acct_with[256], acct_without[256];
    facts_digest(a, 5, &with, acct_with, memo);
    facts_digest(a, 5, &without, acct_without, NULL);
    assert_int_equal(with.tactics, 5);
    assert_int_equal(with.event_serial, without.event_serial);
    assert_ptr_equal(with.image, without.image);
    if (!without.account) {
        assert_null(with.account);
        return;
    }
    assert_non_null(with.account);
    assert_string_equal(with.account, without.account);
}

static void test_digest_memo(void **state)
{
    (void)state;
    struct stoat_rule_meta m = {.id = "r", .title = "t", .level = STOAT_LEVEL_HIGH};
    struct stoat_field fields[3];
    struct stoat_process anc[1] = {{.image = "C:\\x.exe", .user = "CORP\\proc", .pid = 4}};
    const char *gn[] = {"TargetUserName"}, *gv[] = {"grouped"};
    struct stoat_corr_detail corr = {.group_names = gn, .group_values = gv, .ngroup = 1};
    struct facts_memo memo = {0};
    const char *names[] = {"User", "SubjectUserName", "Other", "user"};
    const char *values[] = {"CORP\\alice", "bob", "", "CORP\\carol"};
    uint64_t serial = 0;
    /* each round: an event's fields, then three alerts of it, one of them a
     * correlation's, the last two with the process known */
    for (int round = 0; round < 24; round++) {
        size_t nf = (size_t)(round % 3) + 1;
        for (size_t i = 0; i < nf; i++) {
            int k = (round / 3 + (int)i) % 4;
            fields[i] = (struct stoat_field){.name = names[k],
                                             .name_len = (uint32_t)strlen(names[k]),
                                             .value = values[(round + (int)i) % 4],
                                             .value_len = (uint32_t)strlen(values[(round + (int)i) % 4])};
        }
        struct stoat_alert a = {.rule = &m,
                                .host = "h",
                                .time_ns = T0,
                                .fields = fields,
                                .nfields = nf,
                                .event_serial = round % 5 == 4 ? 0 : ++serial};
        digest_same(&a, &memo);
        a.corr = &corr;
        digest_same(&a, &memo);
        a.corr = NULL;
        a.ancestry = anc;
        a.nancestry = 1;
        digest_same(&a, &memo);
        digest_same(&a, &memo);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_host_slots_as_names),
        cmocka_unit_test(test_graph_edges),
        cmocka_unit_test(test_account_key),
        cmocka_unit_test(test_account_key_as_strcmp),
        cmocka_unit_test(test_intrusion_one_incident),
        cmocka_unit_test(test_any_order),
        cmocka_unit_test(test_moves_without_alerts),
        cmocka_unit_test(test_alerts_without_move),
        cmocka_unit_test(test_routine_scores_low),
        cmocka_unit_test(test_gap),
        cmocka_unit_test(test_live_once),
        cmocka_unit_test(test_baseline_new_edges),
        cmocka_unit_test(test_kept_strings),
        cmocka_unit_test(test_kept_strings_many),
        cmocka_unit_test(test_attr_memo),
        cmocka_unit_test(test_attr_memo_many),
        cmocka_unit_test(test_serials),
        cmocka_unit_test(test_facts_from_events),
        cmocka_unit_test(test_facts_json),
        cmocka_unit_test(test_digest_memo),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
