/* src/behaviour/chains.c: alerts joined into incidents in event time.
 *
 * Records are built by hand, so each test states the times, keys and rules
 * that must (or must not) make one chain, and the scores are worked out from
 * the table in chains.c (discovery 10, credential access 20, collection 20,
 * +10 when they came in that order; low alerts add nothing for their level).
 * Named defects each have a test: a gap measured from a chain's first alert
 * instead of its last, an in-order bonus given the wrong way round, chains
 * that depend on the order the records came in. */
#include "testutil.h"

#include <pthread.h>

#include "behaviour/chains.h"
#include "util/sorted.h"

#define MIN_NS  (60 * 1000000000LL)
#define HOUR_NS (60 * MIN_NS)
#define T0      1790000000000000000LL /* 2026-09-21, any day will do */

/* -------------------------------------------------------------- harness */

struct got {
    uint64_t id;
    char *host, *title, *logon;
    double score;
    int64_t first, last;
    uint64_t *alerts;
    size_t nalerts;
    char tactics[256];
    size_t nrules;
    uint64_t rule_alerts; /* the sum of the per-rule counts */
};

struct rec {
    struct got v[256];
    size_t n;
};

static void on_incident(void *ctx, const struct stoat_incident *inc)
{
    struct rec *r = ctx;
    assert_true(r->n < 256);
    struct got *g = &r->v[r->n++];
    memset(g, 0, sizeof(*g));
    g->id = inc->id;
    g->host = tu_strdup(inc->host);
    g->title = tu_strdup(inc->title);
    g->logon = tu_strdup(inc->logon_id);
    g->score = inc->score;
    g->first = inc->first_ns;
    g->last = inc->last_ns;
    g->alerts = malloc((inc->nalerts + 1) * sizeof(uint64_t));
    memcpy(g->alerts, inc->alert_ids, inc->nalerts * sizeof(uint64_t));
    g->nalerts = inc->nalerts;
    for (size_t i = 0; i < inc->ntactics; i++) {
        strcat(g->tactics, inc->tactics[i]);
        strcat(g->tactics, " ");
    }
    g->nrules = inc->nrules;
    for (size_t i = 0; i < inc->nrules; i++)
        g->rule_alerts += inc->rules[i].alerts;
}

static void rec_free(struct rec *r)
{
    for (size_t i = 0; i < r->n; i++) {
        free(r->v[i].host);
        free(r->v[i].title);
        free(r->v[i].logon);
        free(r->v[i].alerts);
    }
    r->n = 0;
}

/* rules by tactic, at level low: only the tactics score */
static const char *const disc_tags[] = {"discovery"};
static const char *const cred_tags[] = {"credential-access"};
static const char *const coll_tags[] = {"collection"};
static const char *const exfil_tags[] = {"exfiltration", "command-and-control"};

static struct stoat_rule_meta rule(const char *id, const char *const *tactics, size_t n, enum stoat_level level)
{
    return (struct stoat_rule_meta){
        .id = id, .title = id, .level = level, .attack_tactics = {.items = tactics, .n = n}};
}

struct world {
    struct chains *c;
    struct rec got;
    uint32_t disc, cred, coll, exfil, high;
};

static void world_init(struct world *w, int64_t gap, double min_score, const struct chains_out *out)
{
    memset(w, 0, sizeof(*w));
    struct chains_opts o = {.gap_ns = gap, .min_score = min_score, .max_alerts = 1000};
    struct chains_out def = {.ctx = &w->got, .incident = on_incident};
    w->c = chains_create(&o, out ? out : &def);
    struct stoat_rule_meta m;
    m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
    w->disc = chains_rule(w->c, &m);
    m = rule("cred", cred_tags, 1, STOAT_LEVEL_LOW);
    w->cred = chains_rule(w->c, &m);
    m = rule("coll", coll_tags, 1, STOAT_LEVEL_LOW);
    w->coll = chains_rule(w->c, &m);
    m = rule("exfil", exfil_tags, 2, STOAT_LEVEL_LOW);
    w->exfil = chains_rule(w->c, &m);
    m = rule("high", NULL, 0, STOAT_LEVEL_HIGH);
    w->high = chains_rule(w->c, &m);
}

static void add(struct world *w, uint64_t id, int64_t t, const char *host, uint64_t key, uint32_t rule_id)
{
    struct chain_alert a = {
        .id = id, .time_ns = t, .key = key, .proc = id, .host = chains_host(w->c, host), .rule = rule_id};
    chains_add(w->c, &a);
}

static void world_free(struct world *w)
{
    chains_destroy(w->c);
    rec_free(&w->got);
}

/* ------------------------------------------------------------------ gap */

/* Alerts every 90 minutes for three hours, gap 2 h: each is within the gap
 * of the one before, so one chain, though the last is 3 h after the first. */
static void test_gap_from_last_alert(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    add(&w, 1, T0, "h", 0, w.disc);
    add(&w, 2, T0 + 90 * MIN_NS, "h", 0, w.cred);
    add(&w, 3, T0 + 180 * MIN_NS, "h", 0, w.coll);
    chains_finish(w.c);
    assert_int_equal(w.got.n, 1);
    assert_int_equal(w.got.v[0].nalerts, 3);
    assert_true(w.got.v[0].first == T0 && w.got.v[0].last == T0 + 180 * MIN_NS);
    world_free(&w);
}

/* A silence longer than the gap makes two chains, also when the records
 * come newest first. */
static void test_silence_splits(void **state)
{
    (void)state;
    for (int reversed = 0; reversed < 2; reversed++) {
        struct world w;
        world_init(&w, 2 * HOUR_NS, 1, NULL);
        int64_t t[4] = {T0, T0 + 60 * MIN_NS, T0 + 60 * MIN_NS + 2 * HOUR_NS + MIN_NS, T0 + 4 * HOUR_NS};
        uint32_t r[4] = {w.disc, w.cred, w.coll, w.disc};
        for (int i = 0; i < 4; i++) {
            int k = reversed ? 3 - i : i;
            add(&w, (uint64_t)k + 1, t[k], "h", 0, r[k]);
        }
        chains_finish(w.c);
        assert_int_equal(w.got.n, 2);
        /* oldest first: ids follow time */
        assert_int_equal(w.got.v[0].nalerts, 2);
        assert_true(w.got.v[0].first == t[0] && w.got.v[0].last == t[1]);
        assert_int_equal(w.got.v[1].nalerts, 2);
        assert_true(w.got.v[1].first == t[2] && w.got.v[1].last == t[3]);
        assert_true(w.got.v[0].id < w.got.v[1].id);
        world_free(&w);
    }
}

/* An alert twenty months older than a chain, arriving after it (a folder of
 * samples), does not join it. */
static void test_old_alert_does_not_join(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    add(&w, 1, T0, "h", 0, w.disc);
    add(&w, 2, T0 + MIN_NS, "h", 0, w.cred);
    add(&w, 3, T0 - 600 * 24 * HOUR_NS, "h", 0, w.coll);
    chains_finish(w.c);
    assert_int_equal(w.got.n, 2);
    assert_int_equal(w.got.v[0].nalerts, 1);
    assert_int_equal(w.got.v[0].alerts[0], 3);
    assert_int_equal(w.got.v[1].nalerts, 2);
    world_free(&w);
}

/* -------------------------------------------------------------- scoring */

static double score_of(struct world *w, const uint32_t rules[3])
{
    for (int i = 0; i < 3; i++)
        add(w, (uint64_t)i + 1, T0 + i * 10 * MIN_NS, "h", 0, rules[i]);
    chains_finish(w->c);
    assert_int_equal(w->got.n, 1);
    return w->got.v[0].score;
}

/* Discovery, credentials and collection: 10 + 20 + 20, and 10 more in that
 * order. Out of order the same alerts lose the bonus. Neither reaches the
 * cap, so both are what the table says. */
static void test_score_in_and_out_of_order(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    uint32_t in_order[3] = {w.disc, w.cred, w.coll};
    double a = score_of(&w, in_order);
    world_free(&w);
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    uint32_t out_of_order[3] = {w.coll, w.cred, w.disc};
    double b = score_of(&w, out_of_order);
    world_free(&w);
    assert_true(a == 10 + 20 + 20 + 10);
    assert_true(b == 10 + 20 + 20);
    /* the threshold: the same chain is an incident at 60, not above */
    world_init(&w, 2 * HOUR_NS, 60, NULL);
    score_of(&w, in_order);
    world_free(&w);
    world_init(&w, 2 * HOUR_NS, 61, NULL);
    for (int i = 0; i < 3; i++)
        add(&w, (uint64_t)i + 1, T0 + i * 10 * MIN_NS, "h", 0, in_order[i]);
    chains_finish(w.c);
    assert_int_equal(w.got.n, 0);
    world_free(&w);
}

/* Levels: a high alert adds 4 per distinct high rule (16 at most). */
static void test_score_levels(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    add(&w, 1, T0, "h", 0, w.disc);
    add(&w, 2, T0 + MIN_NS, "h", 0, w.high);
    add(&w, 3, T0 + 2 * MIN_NS, "h", 0, w.high); /* the same rule again: counted once */
    chains_finish(w.c);
    assert_int_equal(w.got.n, 1);
    assert_true(w.got.v[0].score == 10 + 4);
    assert_int_equal(w.got.v[0].nrules, 2);
    assert_int_equal(w.got.v[0].rule_alerts, 3);
    world_free(&w);
}

/* A rule tagged exfiltration and command and control claims neither: only
 * the judge's evidence does. */
static bool judge_exfil;
static void judge(void *ctx, uint32_t host, const uint64_t *procs, size_t nprocs, struct chain_claims *out)
{
    (void)ctx;
    (void)host;
    (void)procs;
    (void)nprocs;
    static const struct stoat_incident_evidence ev = {.tactic = "exfiltration",
                                                      .time_ns = T0 + 30 * MIN_NS,
                                                      .text = "1.0 MB sent to 203.0.113.7:443 by curl (pid 7)"};
    *out = (struct chain_claims){.exfil = judge_exfil,
                                 .exfil_ns = T0 + 30 * MIN_NS,
                                 .c2_ns = INT64_MIN,
                                 .evidence = judge_exfil ? &ev : NULL,
                                 .nevidence = judge_exfil};
}

static void test_claims_need_evidence(void **state)
{
    (void)state;
    for (int ev = 0; ev < 2; ev++) {
        struct world w;
        judge_exfil = ev;
        struct chains_out out = {.ctx = &w.got, .incident = on_incident, .judge = judge};
        world_init(&w, 2 * HOUR_NS, 1, &out);
        add(&w, 1, T0, "h", 0, w.disc);
        add(&w, 2, T0 + MIN_NS, "h", 0, w.cred);
        add(&w, 3, T0 + 2 * MIN_NS, "h", 0, w.coll);
        add(&w, 4, T0 + 3 * MIN_NS, "h", 0, w.exfil);
        chains_finish(w.c);
        assert_int_equal(w.got.n, 1);
        const struct got *g = &w.got.v[0];
        assert_true((strstr(g->title, "exfiltration") != NULL) == ev);
        assert_true((strstr(g->tactics, "exfiltration") != NULL) == ev);
        assert_null(strstr(g->title, "command and control"));
        assert_null(strstr(g->tactics, "command-and-control"));
        /* 60 for the story in order, 25 for the data leaving */
        assert_true(g->score == (ev ? 60 + 25 : 60));
        world_free(&w);
    }
}

/* ------------------------------------------------------------------ keys */

/* Two sessions on one host at the same time are two chains; an alert with
 * neither key joins the chain active last; a keyed alert takes over a chain
 * that had no key. */
/* The tactics a score names come in kill-chain order (chains.c's
 * tactics[].order, written out here), whichever of them were reached. */
static void test_tactics_in_order(void **state)
{
    (void)state;
    static const char *const order[CHAIN_TACTICS] = {
        "reconnaissance",      "initial-access",    "execution", "persistence",      "privilege-escalation",
        "defense-evasion",     "credential-access", "discovery", "lateral-movement", "collection",
        "command-and-control", "exfiltration",      "impact"};
    struct chain_claims cl = {.exfil = true, .c2 = true, .exfil_ns = INT64_MIN, .c2_ns = INT64_MIN};
    /* every subset of the first eight and of the last eight (all thirteen between them) */
    for (unsigned half = 0; half < 2; half++)
        for (unsigned sub = 0; sub < 256; sub++) {
            const char *in[CHAIN_TACTICS], *want[CHAIN_TACTICS];
            size_t n = 0;
            for (unsigned i = 0; i < 8; i++)
                if (sub & (1u << i))
                    in[n++] = order[half ? 5 + i : i];
            /* the reached ones, reversed on the way in: order is the table's */
            for (size_t i = 0; i < n; i++)
                want[i] = in[i];
            for (size_t i = 0; i < n / 2; i++) {
                const char *t = in[i];
                in[i] = in[n - 1 - i];
                in[n - 1 - i] = t;
            }
            struct chain_tally t;
            chain_tally_init(&t);
            chain_tally_add(&t, chain_tactics_of(in, n), STOAT_LEVEL_HIGH, T0, true);
            /* exfiltration and c2 count only as claimed: claim exactly those reached */
            bool exfil = false, c2 = false;
            for (size_t i = 0; i < n; i++) {
                exfil |= strcmp(in[i], "exfiltration") == 0;
                c2 |= strcmp(in[i], "command-and-control") == 0;
            }
            cl.exfil = exfil;
            cl.c2 = c2;
            const char *names[CHAIN_TACTICS];
            size_t nn = 0;
            chain_tally_score(&t, &cl, T0, names, &nn, NULL);
            assert_int_equal(nn, n);
            for (size_t i = 0; i < n; i++)
                assert_string_equal(names[i], want[i]);
        }
}

static void test_keys(void **state)
{
    (void)state;
    struct world w;
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    add(&w, 1, T0, "h", 0, w.disc);                 /* no key yet */
    add(&w, 2, T0 + MIN_NS, "h", 0xA1, w.cred);     /* session A takes it over */
    add(&w, 3, T0 + 2 * MIN_NS, "h", 0xB1, w.disc); /* session B: its own */
    add(&w, 4, T0 + 3 * MIN_NS, "h", 0xA1, w.coll);
    add(&w, 5, T0 + 4 * MIN_NS, "h", 0xB1, w.cred);
    add(&w, 6, T0 + 5 * MIN_NS, "h", 0, w.coll);        /* no key: B was active last */
    add(&w, 7, T0 + 6 * MIN_NS, "other", 0xA1, w.coll); /* the same key on another host */
    chains_finish(w.c);
    assert_int_equal(w.got.n, 3);
    assert_int_equal(w.got.v[0].nalerts, 3); /* 1, 2, 4 */
    assert_int_equal(w.got.v[0].alerts[2], 4);
    assert_int_equal(w.got.v[1].nalerts, 3); /* 3, 5, 6 */
    assert_int_equal(w.got.v[1].alerts[2], 6);
    assert_string_equal(w.got.v[2].host, "other");
    world_free(&w);
}

/* ------------------------------------------------------------ any order */

static uint64_t rng = 88172645463325252ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

#define NREC 300

struct sample {
    uint64_t id;
    int64_t t;
    const char *host;
    uint64_t key;
    int rule;
};

/* an incident as text: everything but its id */
static void signature(const struct got *g, char *out, size_t n)
{
    int o = snprintf(out, n, "%s|%s|%.0f|%lld|%lld|%s|", g->host, g->title, g->score, (long long)g->first,
                     (long long)g->last, g->tactics);
    for (size_t i = 0; i < g->nalerts && o > 0 && (size_t)o < n; i++)
        o += snprintf(out + o, n - (size_t)o, "%llu,", (unsigned long long)g->alerts[i]);
}

static int cmp_u64(const void *x, const void *y)
{
    uint64_t a = *(const uint64_t *)x, b = *(const uint64_t *)y;
    return a < b ? -1 : a > b;
}

static void *prepare_on_thread(void *c)
{
    chains_finish_prepare(c);
    return NULL;
}

/* two_steps: chains_finish_prepare on a thread of its own, then
 * chains_finish, as behaviour_finish_parallel does; stats: what chains
 * counted (may be NULL). */
static size_t run_samples_as(const struct sample *s, const size_t *order, char sigs[][4096], bool live, bool two_steps,
                             struct chains_stats *stats)
{
    struct world w;
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    if (live) {
        /* live with a lateness larger than the disorder: the same chains */
        chains_destroy(w.c);
        struct chains_opts o = {
            .gap_ns = 2 * HOUR_NS, .min_score = 1, .max_alerts = 1000, .live = true, .lateness_ns = 400 * HOUR_NS};
        w.c = chains_create(&o, &(struct chains_out){.ctx = &w.got, .incident = on_incident});
        struct stoat_rule_meta m;
        const char *const *tags[4] = {disc_tags, cred_tags, coll_tags, exfil_tags};
        const char *ids[4] = {"disc", "cred", "coll", "exfil"};
        uint32_t *slot[4] = {&w.disc, &w.cred, &w.coll, &w.exfil};
        for (int k = 0; k < 4; k++) {
            m = rule(ids[k], tags[k], k == 3 ? 2 : 1, STOAT_LEVEL_LOW);
            *slot[k] = chains_rule(w.c, &m);
        }
    }
    uint32_t rules[4] = {w.disc, w.cred, w.coll, w.exfil};
    for (size_t i = 0; i < NREC; i++) {
        const struct sample *x = &s[order[i]];
        add(&w, x->id, x->t, x->host, x->key, rules[x->rule]);
        if (live && i % 50 == 49)
            chains_advance(w.c, T0 + 48 * HOUR_NS); /* nothing is older than the lateness yet */
    }
    if (two_steps) {
        pthread_t th;
        assert_int_equal(pthread_create(&th, NULL, prepare_on_thread, w.c), 0);
        pthread_join(th, NULL);
        assert_int_equal(w.got.n, 0); /* preparing reports nothing */
    }
    chains_finish(w.c);
    if (stats)
        chains_get_stats(w.c, stats);
    size_t n = w.got.n;
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(w.got.v[i].id, i + 1); /* in the order of their ids */
        qsort(w.got.v[i].alerts, w.got.v[i].nalerts, sizeof(uint64_t), cmp_u64);
        signature(&w.got.v[i], sigs[i], 4096);
    }
    world_free(&w);
    return n;
}

static size_t run_samples(const struct sample *s, const size_t *order, char sigs[][4096], bool live)
{
    return run_samples_as(s, order, sigs, live, false, NULL);
}

/* Several hosts, sessions and trees, bursts and silences: shuffled, the
 * records give the same incidents as in time order, ids included. */
static void test_shuffled_input(void **state)
{
    (void)state;
    static struct sample s[NREC];
    static const char *const hosts[3] = {"ws1", "ws2", "srv"};
    int64_t t = T0;
    for (size_t i = 0; i < NREC; i++) {
        /* mostly minutes apart, now and then hours (a new chain) */
        t += (int64_t)(next() % 7 == 0 ? (next() % 5 + 1) * HOUR_NS : (next() % 20) * MIN_NS);
        s[i] = (struct sample){
            .id = i + 1, .t = t, .host = hosts[next() % 3], .key = next() % 4 * 0x100, .rule = (int)(next() % 4)};
    }
    static char want[256][4096], have[256][4096];
    size_t order[NREC];
    for (size_t i = 0; i < NREC; i++)
        order[i] = i;
    size_t n = run_samples(s, order, want, false);
    assert_true(n > 5);
    for (int round = 0; round < 20; round++) {
        for (size_t i = NREC - 1; i > 0; i--) {
            size_t j = next() % (i + 1), x = order[i];
            order[i] = order[j];
            order[j] = x;
        }
        bool live = round % 4 == 3;
        size_t m = run_samples(s, order, have, live);
        assert_int_equal(m, n);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(have[i], want[i]);
    }
}

/* The end in two steps (the chains built and closed on another thread,
 * then reported: behaviour_finish_parallel) reports the same incidents in
 * the same order, with the same counts, as chains_finish alone; also after
 * live rounds, and again for a second round of input. */
static void test_finish_in_two_steps(void **state)
{
    (void)state;
    static struct sample s[NREC];
    static const char *const hosts[4] = {"ws1", "ws2", "srv", "dc"};
    int64_t t = T0;
    for (size_t i = 0; i < NREC; i++) {
        t += (int64_t)(next() % 6 == 0 ? (next() % 4 + 1) * HOUR_NS : (next() % 30) * MIN_NS);
        s[i] = (struct sample){
            .id = i + 1, .t = t, .host = hosts[next() % 4], .key = next() % 3 * 0x100, .rule = (int)(next() % 4)};
    }
    size_t order[NREC];
    for (size_t i = 0; i < NREC; i++)
        order[i] = NREC - 1 - i; /* newest first: nothing is chained before the end */
    static char one[256][4096], two[256][4096];
    for (int live = 0; live < 2; live++) {
        struct chains_stats a, b;
        size_t n = run_samples_as(s, order, one, live, false, &a);
        size_t m = run_samples_as(s, order, two, live, true, &b);
        assert_true(n > 5);
        assert_int_equal(m, n);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(two[i], one[i]);
        assert_int_equal(b.chains, a.chains);
        assert_int_equal(b.incidents, a.incidents);
        assert_int_equal(b.batches, a.batches);
        assert_int_equal(b.late, a.late);
    }
    /* a second round after a finish: prepared again, not taken as done */
    struct world w;
    world_init(&w, 2 * HOUR_NS, 1, NULL);
    add(&w, 1, T0, "h", 0, w.disc);
    add(&w, 2, T0 + MIN_NS, "h", 0, w.cred);
    chains_finish_prepare(w.c);
    chains_finish(w.c);
    assert_int_equal(w.got.n, 1);
    add(&w, 3, T0 + 20 * HOUR_NS, "h", 0, w.disc);
    add(&w, 4, T0 + 20 * HOUR_NS + MIN_NS, "h", 0, w.coll);
    chains_finish(w.c);
    assert_int_equal(w.got.n, 2);
    assert_int_equal(w.got.v[1].nalerts, 2);
    world_free(&w);
}

/* Ties between chains starting at the same time go by what the records
 * say (host and rule names, kept hashed per host and rule), not by the
 * ids the names got in input order nor by the order records came in. */
static void ties_run(bool reversed, char *sig, size_t n)
{
    struct rec got = {0};
    struct chains_opts o = {.gap_ns = 2 * HOUR_NS, .min_score = 1, .max_alerts = 1000};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
    static const char *const hosts[4] = {"ws1", "ws2", "srv", "dc"};
    static const char *const names[3] = {"disc-a", "disc-b", "disc-c"};
    uint32_t h[4], r[3];
    for (int k = 0; k < 4; k++)
        h[reversed ? 3 - k : k] = chains_host(c, hosts[reversed ? 3 - k : k]);
    for (int k = 0; k < 3; k++) {
        int i = reversed ? 2 - k : k;
        struct stoat_rule_meta m = rule(names[i], disc_tags, 1, STOAT_LEVEL_LOW);
        r[i] = chains_rule(c, &m);
    }
    for (int k = 0; k < 12; k++) {
        int i = reversed ? 11 - k : k;
        chains_add(c, &(struct chain_alert){.id = (uint64_t)i + 1, .time_ns = T0, .host = h[i % 4], .rule = r[i % 3]});
    }
    chains_finish(c);
    sig[0] = 0;
    for (size_t i = 0; i < got.n; i++) {
        size_t at = strlen(sig);
        snprintf(sig + at, n - at, "%llu %s %llu|", (unsigned long long)got.v[i].id, got.v[i].host,
                 (unsigned long long)got.v[i].alerts[0]);
    }
    chains_destroy(c);
    rec_free(&got);
}

static void test_ties_by_name(void **state)
{
    (void)state;
    char a[1024], b[1024];
    ties_run(false, a, sizeof(a));
    ties_run(true, b, sizeof(b));
    assert_non_null(strstr(a, "4 "));
    assert_string_equal(a, b);
}

/* ------------------------------------------------------------ the caps */

/* Past the memory cap the kept records are chained as a batch: chaining goes
 * on, and a record older than what a batch chained is counted as late. */
static void test_batches(void **state)
{
    (void)state;
    struct rec got = {0};
    struct chains_opts o = {.gap_ns = 2 * HOUR_NS, .min_score = 1, .max_alerts = 1000, .max_bytes = 1};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
    struct stoat_rule_meta m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
    uint32_t r = chains_rule(c, &m), h = chains_host(c, "h");
    for (uint64_t i = 0; i < 40; i++)
        chains_add(c, &(struct chain_alert){.id = i + 1, .time_ns = T0 + (int64_t)i * MIN_NS, .host = h, .rule = r});
    chains_add(c, &(struct chain_alert){.id = 41, .time_ns = T0 - 10 * MIN_NS, .host = h, .rule = r});
    chains_finish(c);
    struct chains_stats st;
    chains_get_stats(c, &st);
    assert_true(st.batches >= 2);
    assert_int_equal(st.late, 1);
    /* the batches kept the chain whole: 41 alerts within minutes */
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].nalerts, 41);
    chains_destroy(c);
    rec_free(&got);
}

/* The kept records' sessions are kept once for a run of records naming
 * the same (and, live, only while records name them): a chain's session is
 * still the one its alerts name, cut to CHAIN_LOGON_MAX - 1 bytes, or none
 * when they name two, as when each record held its own copy. Hosts' records
 * interleaved in a shuffled time order; offline, in batches of 16 (the cap)
 * and live, advancing as they come (some late). */
static void test_logons_as_kept(void **state)
{
    (void)state;
    static const char *const hosts[] = {"same", "cased", "one", "long", "two"};
    static const char *const logons[][6] = {
        {"0x3e7", "0x3e7", "0x3e7", "0x3e7", "0x3e7", "0x3e7"},
        {"0x5a3c1f", "0x5a3c1f", "0x5A3C1F", "0x5a3c1f", "0x5a3c1f", "0x5a3c1f"},
        {"", "", "0x1", "", "", ""},
        {"0x00000000005a3c1f-and-more", "0x00000000005a3c1f-and-more-still", "0x00000000005a3c1f-and-more", "", "",
         "0x00000000005a3c1f-and-mo"},
        {"0x2", "0x3", "0x2", "0x3", "0x2", "0x3"},
    };
    static const char *const want[] = {"0x3e7", NULL, "0x1", "0x00000000005a3c1f-and-", NULL};
    for (int mode = 0; mode < 3; mode++) {
        struct rec got = {0};
        struct chains_opts o = {.gap_ns = 2 * HOUR_NS, .min_score = 0, .max_alerts = 1000};
        if (mode == 1)
            o.max_bytes = 1;
        if (mode == 2) {
            o.live = true;
            o.lateness_ns = 3 * MIN_NS;
        }
        struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
        struct stoat_rule_meta m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
        uint32_t r = chains_rule(c, &m);
        int64_t newest = INT64_MIN;
        for (int i = 0; i < 30; i++) {
            int k = (i * 7) % 30; /* a shuffle: times 0..29 minutes */
            int h = k % 5, j = k / 5;
            struct chain_alert a = {.id = (uint64_t)k + 1,
                                    .time_ns = T0 + (int64_t)k * MIN_NS,
                                    .proc = (uint64_t)h + 1,
                                    .host = chains_host(c, hosts[h]),
                                    .rule = r};
            snprintf(a.logon, sizeof(a.logon), "%s", logons[h][j]);
            chains_add(c, &a);
            if (a.time_ns > newest)
                newest = a.time_ns;
            if (mode == 2 && i % 3 == 2)
                chains_advance(c, newest);
        }
        chains_finish(c);
        assert_int_equal(got.n, 5);
        for (size_t g = 0; g < got.n; g++) {
            size_t h = 0;
            while (h < 5 && strcmp(got.v[g].host, hosts[h]) != 0)
                h++;
            assert_true(h < 5);
            assert_int_equal(got.v[g].nalerts, 6);
            if (want[h])
                assert_string_equal(got.v[g].logon, want[h]);
            else
                assert_null(got.v[g].logon);
        }
        chains_destroy(c);
        rec_free(&got);
    }
}

/* Live: records wait the lateness; a chain closes when event time is a gap
 * and the lateness past its last alert; a record later than the lateness is
 * chained out of order and counted. */
static void test_live(void **state)
{
    (void)state;
    struct rec got = {0};
    struct chains_opts o = {
        .gap_ns = 2 * HOUR_NS, .min_score = 1, .max_alerts = 1000, .live = true, .lateness_ns = MIN_NS};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
    struct stoat_rule_meta m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
    uint32_t r = chains_rule(c, &m), h = chains_host(c, "h");
    chains_add(c, &(struct chain_alert){.id = 2, .time_ns = T0 + 30 * 1000000000LL, .host = h, .rule = r});
    chains_add(c, &(struct chain_alert){.id = 1, .time_ns = T0, .host = h, .rule = r}); /* within the lateness */
    chains_advance(c, T0 + 2 * HOUR_NS);
    assert_int_equal(got.n, 0); /* could still grow */
    chains_advance(c, T0 + 2 * HOUR_NS + 30 * 1000000000LL + MIN_NS + 1);
    assert_int_equal(got.n, 1);
    assert_int_equal(got.v[0].alerts[0], 1); /* chained in time order */
    chains_add(c, &(struct chain_alert){.id = 3, .time_ns = T0 + 40 * 1000000000LL, .host = h, .rule = r});
    chains_finish(c);
    struct chains_stats st;
    chains_get_stats(c, &st);
    assert_int_equal(st.late, 1);
    assert_int_equal(got.n, 2); /* too late for the closed chain: one of its own */
    chains_destroy(c);
    rec_free(&got);
}

/* Offline (a fleet worker keeps alerts like a hunt): each look
 * (chains_quiet, about once a second) chains what was kept and moves a
 * quiet host's clock on by the wall time it has been quiet, so a chain the
 * gap has closed becomes an incident now, not at the end of an input that
 * never ends. The clock moves by the time since the host went quiet, not by
 * that again at every look: looks every 5 s for 55 s (whose sum is 330 s)
 * leave a one-minute gap open (chains_idle added each look's quiet time to
 * the clock the last one had moved, and closed it after 25 s). */
#define WALL0 (1000 * 1000000000LL)
static void test_quiet_closes(void **state)
{
    (void)state;
    struct rec got = {0};
    struct chains_opts o = {.gap_ns = MIN_NS, .min_score = 1, .max_alerts = 1000};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
    struct stoat_rule_meta m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
    uint32_t r = chains_rule(c, &m), h = chains_host(c, "h");
    chains_add(c, &(struct chain_alert){.id = 2, .time_ns = T0 + 30 * 1000000000LL, .host = h, .rule = r});
    chains_add(c, &(struct chain_alert){.id = 1, .time_ns = T0, .host = h, .rule = r});
    chains_quiet(c, WALL0); /* chained now; quiet from here */
    for (int64_t k = 1; k <= 11; k++) {
        chains_quiet(c, WALL0 + k * 5 * 1000000000LL);
        assert_int_equal(got.n, 0); /* within the gap of wall time: it may still grow */
    }
    chains_quiet(c, WALL0 + MIN_NS + 1);
    assert_int_equal(got.n, 1); /* a gap past: closed, without more input */
    assert_int_equal(got.v[0].nalerts, 2);
    assert_int_equal(got.v[0].alerts[0], 1); /* chained in time order */
    chains_add(c, &(struct chain_alert){.id = 3, .time_ns = T0 + 45 * 1000000000LL, .host = h, .rule = r});
    chains_finish(c);
    assert_int_equal(got.n, 2); /* the closed chain does not take it */
    chains_destroy(c);
    rec_free(&got);
}

/* A busy worker: one host alerts before every look, another went quiet.
 * The quiet host's chain closes a gap of wall time after its last alert,
 * although the worker never ran out of input; the busy host's stays open. */
static void test_quiet_host_beside_busy(void **state)
{
    (void)state;
    struct rec got = {0};
    struct chains_opts o = {.gap_ns = MIN_NS, .min_score = 1, .max_alerts = 1000};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
    struct stoat_rule_meta m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
    uint32_t r = chains_rule(c, &m), busy = chains_host(c, "busy"), quiet = chains_host(c, "quiet");
    chains_add(c, &(struct chain_alert){.id = 1, .time_ns = T0, .host = quiet, .rule = r});
    uint64_t id = 2;
    for (int64_t k = 0; k <= 70; k++) { /* a look a second, the busy host's alert before each */
        chains_add(c, &(struct chain_alert){.id = id++, .time_ns = T0 + k * 1000000000LL, .host = busy, .rule = r});
        chains_quiet(c, WALL0 + k * 1000000000LL);
        if (k <= 60)
            assert_int_equal(got.n, 0);
    }
    assert_int_equal(got.n, 1);
    assert_string_equal(got.v[0].host, "quiet");
    chains_finish(c);
    assert_int_equal(got.n, 2);
    assert_string_equal(got.v[1].host, "busy");
    assert_int_equal(got.v[1].nalerts, 71);
    chains_destroy(c);
    rec_free(&got);
}

/* Each host has its own clock: a host whose alerts come hours behind
 * another's (a fleet worker reads many hosts; one replays an old day) is
 * chained by its own time. With one clock for all, the other host's time
 * closed the behind host's chain between its two alerts an hour apart. */
static void test_clock_per_host(void **state)
{
    (void)state;
    struct rec got = {0};
    struct chains_opts o = {.gap_ns = 2 * HOUR_NS, .min_score = 1, .max_alerts = 1000};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
    struct stoat_rule_meta m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
    uint32_t r = chains_rule(c, &m), ahead = chains_host(c, "ahead"), behind = chains_host(c, "behind");
    chains_add(c, &(struct chain_alert){.id = 1, .time_ns = T0 + 10 * HOUR_NS, .host = ahead, .rule = r});
    chains_quiet(c, WALL0);
    chains_add(c, &(struct chain_alert){.id = 2, .time_ns = T0, .host = behind, .rule = r});
    chains_quiet(c, WALL0 + 1000000000LL);
    chains_add(c, &(struct chain_alert){.id = 3, .time_ns = T0 + HOUR_NS, .host = behind, .rule = r});
    chains_finish(c);
    struct chains_stats st;
    chains_get_stats(c, &st);
    assert_int_equal(st.late, 0); /* late for the host ahead's clock, not for its own */
    assert_int_equal(got.n, 2);
    for (size_t i = 0; i < got.n; i++)
        if (strcmp(got.v[i].host, "behind") == 0)
            assert_int_equal(got.v[i].nalerts, 2);
        else
            assert_int_equal(got.v[i].nalerts, 1);
    chains_destroy(c);
    rec_free(&got);
}

/* sort_unless_sorted (the records' sorts skip arrays already in order)
 * leaves what qsort leaves: sorted, reversed, nearly sorted (one element
 * out of place, at either end or inside), random and short arrays. */
struct sort_item {
    int64_t when;
    uint64_t seq;
};

static int cmp_sort_item(const void *x, const void *y)
{
    const struct sort_item *a = x, *b = y;
    if (a->when != b->when)
        return a->when < b->when ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void test_sort_unless_sorted(void **state)
{
    (void)state;
    enum {
        N = 300
    };
    static struct sort_item a[N], b[N];
    uint64_t r = 12345;
    for (int kind = 0; kind < 7; kind++) {
        for (size_t n = 0; n <= N; n += (n < 4 ? 1 : 37)) {
            for (size_t i = 0; i < n; i++) {
                r = r * 6364136223846793005ULL + 1442695040888963407ULL;
                int64_t w = kind == 0 ? (int64_t)i / 3 : kind == 1 ? (int64_t)(n - i) : (int64_t)(r >> 40) % 50;
                a[i] = (struct sort_item){kind >= 2 && kind <= 5 ? (int64_t)i : w, i};
            }
            if (n > 1 && kind == 2)
                a[n - 1].when = -1; /* the last out of place */
            if (n > 1 && kind == 3)
                a[0].when = (int64_t)n; /* the first */
            if (n > 2 && kind == 4)
                a[n / 2].when = 0; /* one inside */
            if (n > 1 && kind == 5)
                a[n - 1].when = a[n - 2].when; /* in order, with a tie */
            memcpy(b, a, n * sizeof(*a));
            sort_unless_sorted(a, n, sizeof(*a), cmp_sort_item);
            qsort(b, n, sizeof(*b), cmp_sort_item);
            for (size_t i = 0; i < n; i++)
                assert_true(a[i].when == b[i].when && a[i].seq == b[i].seq);
        }
    }
}

/* chains_rule's memo (by the meta's address) gives the ids the key gives:
 * many rules through few slots, a meta whose id, title or level changes in
 * place, a meta without title and one titled "?" (what a rule without title
 * is kept as). */
static void test_rule_memo_matches_key(void **state)
{
    (void)state;
    struct chains_opts o = {.gap_ns = HOUR_NS, .max_alerts = 1000};
    struct chains *memo = chains_create(&o, NULL), *key = chains_create(&o, NULL);
    static struct stoat_rule_meta metas[300];
    static char ids[300][16], titles[300][16];
    uint64_t r = 99;
    for (int step = 0; step < 5000; step++) {
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        size_t i = (size_t)(r >> 33) % 300;
        struct stoat_rule_meta *m = &metas[i];
        int v = (int)(r >> 20) % 4; /* what the meta at i names now */
        snprintf(ids[i], sizeof ids[i], "r%d", (int)(i % 50) + (v == 1));
        snprintf(titles[i], sizeof titles[i], "%s", v == 3 ? "?" : i % 7 ? "title" : "other");
        m->id = i % 97 == 0 ? NULL : ids[i];
        m->title = v == 2 && i % 3 == 0 ? NULL : titles[i];
        m->level = (enum stoat_level)((r >> 10) % 3);
        assert_int_equal(chains_rule(memo, m), chains_rule_by_key(key, m));
    }
    chains_destroy(memo);
    chains_destroy(key);
}

/* A chain's lists (alerts, rules, processes) keep their first item in the
 * chain and move to the heap with the second: every length lists its items
 * as they came, once each, whether the chain closed or stayed open until
 * the end. */
static uint64_t judged_procs[64];
static size_t njudged;
static void judge_copy(void *ctx, uint32_t host, const uint64_t *procs, size_t nprocs, struct chain_claims *out)
{
    (void)ctx;
    (void)host;
    assert_true(nprocs <= 64);
    memcpy(judged_procs, procs, nprocs * sizeof(*procs));
    njudged = nprocs;
    *out = (struct chain_claims){.exfil_ns = INT64_MIN, .c2_ns = INT64_MIN};
}

static void test_lists_in_place_then_heap(void **state)
{
    (void)state;
    static const size_t lengths[] = {1, 2, 3, 4, 5, 8, 9, 17, 40};
    for (size_t li = 0; li < sizeof(lengths) / sizeof(lengths[0]); li++) {
        size_t n = lengths[li];
        struct world w;
        struct chains_out out = {.ctx = &w.got, .incident = on_incident, .judge = judge_copy};
        world_init(&w, 2 * HOUR_NS, 0, &out);
        uint32_t rules[4] = {w.disc, w.cred, w.coll, w.high};
        for (size_t i = 0; i < n; i++) {
            /* processes 2, 1, 2, 2, 3, 3, 4, ...: repeats listed once */
            uint64_t proc = i % 2 ? i / 2 + 1 : i / 2 + 2 - (i > 0);
            struct chain_alert a = {.id = 100 + i,
                                    .time_ns = T0 + (int64_t)i * MIN_NS,
                                    .key = 0,
                                    .proc = proc,
                                    .host = chains_host(w.c, "h"),
                                    .rule = rules[i % 4]};
            chains_add(w.c, &a);
        }
        njudged = 0;
        chains_finish(w.c);
        assert_int_equal(w.got.n, 1);
        const struct got *g = &w.got.v[0];
        assert_int_equal(g->nalerts, n);
        for (size_t i = 0; i < n; i++)
            assert_int_equal(g->alerts[i], 100 + i);
        assert_int_equal(g->nrules, n < 4 ? n : 4);
        assert_int_equal(g->rule_alerts, n);
        /* the distinct processes, in the order first met */
        uint64_t want[64];
        size_t nw = 0;
        for (size_t i = 0; i < n; i++) {
            uint64_t proc = i % 2 ? i / 2 + 1 : i / 2 + 2 - (i > 0);
            size_t k = 0;
            while (k < nw && want[k] != proc)
                k++;
            if (k == nw)
                want[nw++] = proc;
        }
        assert_int_equal(njudged, nw);
        for (size_t k = 0; k < nw; k++)
            assert_int_equal(judged_procs[k], want[k]);
        world_free(&w);
    }
}

/* A tactic is known by its name exactly (by the first letter, then the
 * names of that letter): each of the thirteen is its own bit, and names
 * near them (case, a byte more or less, other first letters) are none. */
static void test_tactic_names(void **state)
{
    (void)state;
    static const char *const names[CHAIN_TACTICS] = {
        "reconnaissance",      "initial-access",    "execution", "persistence",      "privilege-escalation",
        "defense-evasion",     "credential-access", "discovery", "lateral-movement", "collection",
        "command-and-control", "exfiltration",      "impact"};
    uint32_t all = 0;
    for (int i = 0; i < CHAIN_TACTICS; i++) {
        uint32_t m = chain_tactics_of(&names[i], 1);
        assert_int_equal(__builtin_popcount(m), 1);
        assert_int_equal(all & m, 0);
        all |= m;
        char near[64];
        size_t n = strlen(names[i]);
        snprintf(near, sizeof(near), "%s", names[i]);
        near[n - 1] = 0; /* a byte less */
        const char *in[1] = {near};
        assert_int_equal(chain_tactics_of(in, 1), 0);
        snprintf(near, sizeof(near), "%sx", names[i]); /* a byte more */
        assert_int_equal(chain_tactics_of(in, 1), 0);
        snprintf(near, sizeof(near), "%s", names[i]);
        near[0] = (char)(near[0] - 32); /* case */
        assert_int_equal(chain_tactics_of(in, 1), 0);
        near[0] = (char)(near[0] + 33); /* the next letter */
        assert_int_equal(chain_tactics_of(in, 1), 0);
    }
    assert_int_equal(all, (1u << CHAIN_TACTICS) - 1);
    static const char *const none[] = {"", "-", "\xff", "{", "`", "z", "c", "impact\n", NULL};
    assert_int_equal(chain_tactics_of(none, sizeof(none) / sizeof(none[0])), 0);
}

/* sort_unless_sorted, by its insertion steps or its way out to qsort, gives
 * what a stable sort gives: arrays in order, nearly in order (neighbours
 * swapped, one element far back), reversed (past the budget), random, with
 * many ties (kept in input order), of small and of large elements. */
struct sort_rec {
    uint32_t key, seq;
    char pad[80];
};
struct sort_big {
    uint32_t key, seq;
    char pad[300];
};

static int cmp_key(const void *x, const void *y)
{
    const struct sort_rec *a = x, *b = y;
    return a->key < b->key ? -1 : a->key > b->key;
}
static int cmp_key_seq(const void *x, const void *y)
{
    const struct sort_rec *a = x, *b = y;
    if (a->key != b->key)
        return a->key < b->key ? -1 : 1;
    return a->seq < b->seq ? -1 : a->seq > b->seq;
}
static int cmp_big_key(const void *x, const void *y)
{
    const struct sort_big *a = x, *b = y;
    return a->key < b->key ? -1 : a->key > b->key;
}

static void test_sort_nearly_sorted(void **state)
{
    (void)state;
    enum {
        N = 3000
    };
    static struct sort_rec got[N], want[N];
    static struct sort_big big[N];
    uint64_t r = 88172645463325252ULL;
    for (int shape = 0; shape < 7; shape++)
        for (size_t n = 0; n < N; n = n * 3 + 1) {
            for (size_t i = 0; i < n; i++) {
                r ^= r << 13, r ^= r >> 7, r ^= r << 17;
                uint32_t k = (uint32_t)i * 4;
                switch (shape) {
                case 0: break;                                            /* in order */
                case 1: k = (uint32_t)(r % 7 ? i * 4 : i * 4 - 9); break; /* a few back */
                case 2: k = (uint32_t)(n - i); break;                     /* reversed */
                case 3: k = (uint32_t)r; break;                           /* random */
                case 4: k = (uint32_t)(r % 5); break;                     /* ties */
                case 5: k = (uint32_t)(i / 3 * 4 + r % 3); break;         /* small groups out of order */
                case 6: k = i == n / 2 ? 0 : (uint32_t)i * 4; break;      /* one far back */
                }
                got[i] = (struct sort_rec){.key = k, .seq = (uint32_t)i};
                big[i] = (struct sort_big){.key = k, .seq = (uint32_t)i};
            }
            memcpy(want, got, n * sizeof(*got));
            qsort(want, n, sizeof(*want), cmp_key_seq);
            sort_unless_sorted(got, n, sizeof(*got), cmp_key);
            sort_unless_sorted(big, n, sizeof(*big), cmp_big_key);
            for (size_t i = 0; i < n; i++) {
                assert_int_equal(got[i].key, want[i].key);
                assert_int_equal(got[i].seq, want[i].seq);
                assert_int_equal(big[i].key, want[i].key);
                assert_int_equal(big[i].seq, want[i].seq);
            }
        }
}

/* A chain's lists (alerts, rules, processes) past their first item live in
 * blocks the chains keep and hand to the next chain once one is reported,
 * malloc's past 4 KiB: live rounds of chains of 1 to 700 alerts, each of
 * its own process and of up to 300 rules, report every alert id in order
 * and every rule's count, round after round on the blocks freed before. */
static void test_list_blocks(void **state)
{
    (void)state;
    struct rec got = {0};
    struct chains_opts o = {
        .gap_ns = HOUR_NS, .min_score = 1, .max_alerts = 100000, .live = true, .lateness_ns = MIN_NS};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = on_incident});
    static char ids[300][16];
    static struct stoat_rule_meta metas[300];
    uint32_t rules[300];
    for (int i = 0; i < 300; i++) {
        snprintf(ids[i], sizeof(ids[i]), "r%d", i);
        metas[i] = rule(ids[i], disc_tags, 1, STOAT_LEVEL_LOW);
        rules[i] = chains_rule(c, &metas[i]);
    }
    static const size_t sizes[] = {1, 2, 5, 700, 3, 64, 513, 9, 300, 4};
    enum {
        HOSTS = 10
    };
    uint32_t hosts[HOSTS];
    for (int h = 0; h < HOSTS; h++) {
        char name[16];
        snprintf(name, sizeof(name), "h%d", h);
        hosts[h] = chains_host(c, name);
    }
    uint64_t id = 0;
    static uint64_t want[HOSTS][700];
    for (int round = 0; round < 4; round++) {
        int64_t t0 = T0 + round * 10 * HOUR_NS;
        size_t n[HOSTS], most = 0;
        for (int h = 0; h < HOSTS; h++) {
            n[h] = sizes[(h + round) % HOSTS];
            most = n[h] > most ? n[h] : most;
        }
        /* the hosts' alerts interleaved: their lists grow side by side */
        for (size_t k = 0; k < most; k++)
            for (int h = 0; h < HOSTS; h++) {
                if (k >= n[h])
                    continue;
                want[h][k] = ++id;
                chains_add(c, &(struct chain_alert){.id = id,
                                                    .time_ns = t0 + (int64_t)k * 1000000,
                                                    .host = hosts[h],
                                                    .proc = 1000 + k,
                                                    .rule = rules[k % 300]});
            }
        chains_advance(c, t0 + 3 * HOUR_NS);
        assert_int_equal(got.n, HOSTS);
        for (size_t i = 0; i < got.n; i++) {
            const struct got *g = &got.v[i];
            int h = atoi(g->host + 1);
            assert_int_equal(g->nalerts, n[h]);
            for (size_t k = 0; k < n[h]; k++)
                assert_int_equal(g->alerts[k], want[h][k]);
            size_t nrules = n[h] < 300 ? n[h] : 300;
            assert_int_equal(g->nrules, nrules > 256 ? 256 : nrules);
        }
        rec_free(&got);
    }
    chains_destroy(c);
}

/* The score as worked out tactic by tactic over the whole table: the
 * story's five (claimed ones only for exfiltration and c2) in full, the
 * rest up to 15, 10 for three story steps in order, the levels, at most
 * 100. */
static double score_by_table(const bool *in, const int64_t *first, const struct chain_claims *cl, int64_t last,
                             const unsigned *by_level)
{
    static const char *const story[] = {"discovery", "credential-access", "collection", "exfiltration",
                                        "command-and-control"};
    static const int story_points[] = {10, 20, 20, 25, 15};
    static const int other_points[] = {3, 5, 4, 5, 5, 4, 8, 10}; /* recon .. evasion, lateral, impact */
    (void)story;
    bool reached[5] = {in[0], in[1], in[2], cl->exfil, cl->c2};
    int64_t when[5] = {first[0], first[1], first[2], cl->exfil_ns != INT64_MIN ? cl->exfil_ns : last,
                       cl->c2_ns != INT64_MIN ? cl->c2_ns : last};
    double s = 0, between = 0;
    for (int k = 0; k < 5; k++)
        if (reached[k])
            s += story_points[k];
    for (int k = 0; k < 8; k++)
        if (in[5 + k])
            between += other_points[k];
    s += between > 15 ? 15 : between;
    int in_order = 0;
    int64_t prev = INT64_MIN;
    for (int k = 0; k < 4; k++)
        if (reached[k] && when[k] >= prev) {
            in_order++;
            prev = when[k];
        }
    if (in_order >= 3)
        s += 10;
    double lv = by_level[STOAT_LEVEL_CRITICAL] ? 15 : 0;
    lv += by_level[STOAT_LEVEL_HIGH] * 4.0 > 16 ? 16 : by_level[STOAT_LEVEL_HIGH] * 4.0;
    lv += by_level[STOAT_LEVEL_MEDIUM] > 5 ? 5 : by_level[STOAT_LEVEL_MEDIUM];
    s += lv;
    return s > 100 ? 100 : s;
}

/* Scores add up the reached tactics' bits only: each the table's, over
 * every mix of the thirteen, random times, levels and claims. */
static void test_score_every_mix(void **state)
{
    (void)state;
    /* the story's five first, then the others as score_by_table counts them */
    static const char *const tactic[CHAIN_TACTICS] = {
        "discovery",       "credential-access", "collection", "exfiltration", "command-and-control",
        "reconnaissance",  "initial-access",    "execution",  "persistence",  "privilege-escalation",
        "defense-evasion", "lateral-movement",  "impact"};
    uint64_t r = 77;
    for (unsigned sub = 0; sub < (1u << CHAIN_TACTICS); sub++) {
        struct chain_tally t;
        chain_tally_init(&t);
        bool in[CHAIN_TACTICS] = {0};
        int64_t first[CHAIN_TACTICS];
        unsigned by_level[STOAT_LEVEL_COUNT] = {0};
        for (int k = 0; k < CHAIN_TACTICS; k++) {
            first[k] = INT64_MAX;
            if (!(sub & (1u << k)))
                continue;
            for (int rep = 0; rep < 2; rep++) {
                r = r * 6364136223846793005ull + 1442695040888963407ull;
                int64_t when = T0 + (int64_t)((r >> 33) % 1000) * MIN_NS;
                enum stoat_level lv = (enum stoat_level)((r >> 20) % STOAT_LEVEL_COUNT);
                bool new_rule = (r >> 50) & 1;
                chain_tally_add(&t, chain_tactics_of(&tactic[k], 1), lv, when, new_rule);
                if (new_rule)
                    by_level[lv]++;
                in[k] = true;
                if (when < first[k])
                    first[k] = when;
            }
        }
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        struct chain_claims cl = {.exfil = r & 1,
                                  .c2 = (r >> 1) & 1,
                                  .exfil_ns = (r >> 2) & 1 ? INT64_MIN : T0 + (int64_t)((r >> 33) % 1000) * MIN_NS,
                                  .c2_ns = (r >> 3) & 1 ? INT64_MIN : T0 + (int64_t)((r >> 43) % 1000) * MIN_NS};
        int64_t last = T0 + 500 * MIN_NS;
        const char *names[CHAIN_TACTICS];
        size_t nn = 0;
        uint32_t mask = 0;
        double got = chain_tally_score(&t, &cl, last, names, &nn, &mask);
        double want = score_by_table(in, first, &cl, last, by_level);
        if (got != want)
            fail_msg("tactics %#x, claims %d %d: score %g, by the table %g", sub, cl.exfil, cl.c2, got, want);
        size_t reached = 0;
        for (int k = 0; k < CHAIN_TACTICS; k++)
            reached += k == 3 ? cl.exfil : k == 4 ? cl.c2 : in[k];
        assert_int_equal(nn, reached);
    }
}

/* ---------------------------------------------------------------- title */

/* The title as it was printf'd: "host: story (N alerts, M rules)", the
 * story the told tactics in its order joined by " -> ", else the first
 * tactic named, else "suspicious activity". */
static void title_by_printf(const struct got *g, uint64_t total, char *out, size_t cap)
{
    static const char *const tags[] = {"discovery", "credential-access", "collection", "exfiltration",
                                       "command-and-control"};
    static const char *const label[] = {"discovery", "credential access", "collection", "exfiltration",
                                        "command and control"};
    char story[256] = "";
    bool any = false;
    for (size_t k = 0; k < 5; k++) {
        char tag[64];
        snprintf(tag, sizeof(tag), "%s ", tags[k]);
        bool told = strncmp(g->tactics, tag, strlen(tag)) == 0;
        char spaced[72];
        snprintf(spaced, sizeof(spaced), " %s", tag);
        told = told || strstr(g->tactics, spaced);
        if (told) {
            size_t n = strlen(story);
            snprintf(story + n, sizeof(story) - n, "%s%s", any ? " -> " : "", label[k]);
            any = true;
        }
    }
    if (!any) {
        if (g->tactics[0])
            snprintf(story, sizeof(story), "%.*s", (int)strcspn(g->tactics, " "), g->tactics);
        else
            snprintf(story, sizeof(story), "suspicious activity");
    }
    snprintf(out, cap, "%s: %s (%llu alerts, %u rules)", g->host, story, (unsigned long long)total,
             (unsigned)g->nrules);
}

/* Titles are put piece by piece: each as the printf'd one, over random
 * chains of every tactic (none, one, the story's in any mix), with counts
 * of one to several digits. */
static void test_title_as_printf(void **state)
{
    (void)state;
    static const char *const all[] = {
        "reconnaissance",      "initial-access",    "execution", "persistence",      "privilege-escalation",
        "defense-evasion",     "credential-access", "discovery", "lateral-movement", "collection",
        "command-and-control", "exfiltration",      "impact"};
    uint64_t r = 0x9e3779b97f4a7c15ull;
    for (int round = 0; round < 60; round++) {
        struct rec got = {0};
        struct chains_opts o = {.gap_ns = HOUR_NS, .min_score = 0, .max_alerts = 1000};
        struct chains_out out = {.ctx = &got, .incident = on_incident};
        struct chains *c = chains_create(&o, &out);
        uint32_t rules[14];
        char ids[14][16];
        for (int k = 0; k < 14; k++) {
            snprintf(ids[k], sizeof(ids[k]), "r%d", k);
            /* rule 13 has no tactic; others one */
            struct stoat_rule_meta m = rule(ids[k], k < 13 ? &all[k] : NULL, k < 13, STOAT_LEVEL_LOW);
            rules[k] = chains_rule(c, &m);
        }
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        size_t nrules = 1 + (r >> 33) % 5, nalerts = 1 + (r >> 40) % (round < 30 ? 12 : 1500);
        uint32_t pick[5];
        for (size_t k = 0; k < nrules; k++) {
            r = r * 6364136223846793005ull + 1442695040888963407ull;
            pick[k] = rules[(r >> 35) % 14];
        }
        const char *host = round % 2 ? "ws1.corp.example" : "h";
        for (size_t i = 0; i < nalerts; i++) {
            struct chain_alert a = {.id = i + 1,
                                    .time_ns = T0 + (int64_t)i * 1000,
                                    .proc = i + 1,
                                    .host = chains_host(c, host),
                                    .rule = pick[i % nrules]};
            chains_add(c, &a);
        }
        chains_finish(c);
        assert_int_equal(got.n, 1);
        char want[512];
        title_by_printf(&got.v[0], nalerts, want, sizeof(want));
        assert_string_equal(got.v[0].title, want);
        chains_destroy(c);
        rec_free(&got);
    }
}

/* A tally counts distinct rules per level in 16 bits, saturating: 65,536
 * high rules score as many as four (wrapped, they scored as none). */
static void test_tally_levels_saturate(void **state)
{
    (void)state;
    struct chain_tally many, four;
    chain_tally_init(&many);
    chain_tally_init(&four);
    for (unsigned i = 0; i < 65536; i++)
        chain_tally_add(&many, 0, STOAT_LEVEL_HIGH, T0, true);
    for (unsigned i = 0; i < 4; i++)
        chain_tally_add(&four, 0, STOAT_LEVEL_HIGH, T0, true);
    struct chain_claims cl = {.exfil_ns = INT64_MIN, .c2_ns = INT64_MIN};
    const char *names[CHAIN_TACTICS];
    size_t nn;
    double want = chain_tally_score(&four, &cl, T0, names, &nn, NULL);
    assert_true(want > 0);
    assert_true(chain_tally_score(&many, &cl, T0, names, &nn, NULL) == want);
}

/* Chains open by the ten thousand (an attack's records on many hosts)
 * are kept in a mapping of their own at the end, which a live round after
 * it outgrows, open and closed both: every chain is still told once. */
struct tally_ctx {
    size_t n;
    uint64_t ids; /* the sum of the incidents' alert ids */
};

static void count_incident(void *ctx, const struct stoat_incident *inc)
{
    struct tally_ctx *t = ctx;
    t->n++;
    for (size_t i = 0; i < inc->nalerts; i++)
        t->ids += inc->alert_ids[i];
}

#define MANY_CHAINS 12000
static void test_many_open_chains(void **state)
{
    (void)state;
    struct tally_ctx got = {0};
    struct chains_opts o = {
        .gap_ns = 2 * HOUR_NS, .min_score = 1, .max_alerts = 1000, .live = true, .lateness_ns = 100 * HOUR_NS};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &got, .incident = count_incident});
    struct stoat_rule_meta m = rule("disc", disc_tags, 1, STOAT_LEVEL_LOW);
    uint32_t r = chains_rule(c, &m);
    uint32_t *h = malloc(2 * MANY_CHAINS * sizeof(*h));
    for (size_t i = 0; i < 2 * MANY_CHAINS; i++) {
        char name[32];
        snprintf(name, sizeof(name), "host%zu", i);
        h[i] = chains_host(c, name);
    }
    /* round one: all kept, chained at the finish (into the mapping) */
    uint64_t want = 0;
    for (uint64_t i = 1; i <= MANY_CHAINS; i++) {
        chains_add(c, &(struct chain_alert){.id = i, .time_ns = T0 + (int64_t)i, .host = h[i - 1], .rule = r});
        want += i;
    }
    chains_finish(c);
    assert_int_equal(got.n, MANY_CHAINS);
    assert_true(got.ids == want);
    /* round two: more chains open at once than the mapping holds, then
     * all closed as time passes, then told */
    got = (struct tally_ctx){0};
    want = 0;
    int64_t t1 = T0 + 10 * HOUR_NS;
    for (uint64_t i = 1; i <= 2 * MANY_CHAINS; i++) {
        uint64_t id = MANY_CHAINS + i;
        chains_add(c, &(struct chain_alert){.id = id, .time_ns = t1 + (int64_t)i, .host = h[i - 1], .rule = r});
        want += id;
    }
    chains_advance(c, t1 + 100 * HOUR_NS + 3 * MANY_CHAINS); /* chained, still open */
    assert_int_equal(got.n, 0);
    chains_advance(c, t1 + 103 * HOUR_NS + 3 * MANY_CHAINS); /* the gap has closed them all */
    assert_int_equal(got.n, 2 * MANY_CHAINS);
    assert_true(got.ids == want);
    struct chains_stats st;
    chains_get_stats(c, &st);
    assert_int_equal(st.chains, 3 * MANY_CHAINS);
    chains_destroy(c);
    free(h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sort_unless_sorted),
        cmocka_unit_test(test_title_as_printf),
        cmocka_unit_test(test_score_every_mix),
        cmocka_unit_test(test_rule_memo_matches_key),
        cmocka_unit_test(test_lists_in_place_then_heap),
        cmocka_unit_test(test_gap_from_last_alert),
        cmocka_unit_test(test_silence_splits),
        cmocka_unit_test(test_old_alert_does_not_join),
        cmocka_unit_test(test_score_in_and_out_of_order),
        cmocka_unit_test(test_score_levels),
        cmocka_unit_test(test_claims_need_evidence),
        cmocka_unit_test(test_tactics_in_order),
        cmocka_unit_test(test_keys),
        cmocka_unit_test(test_shuffled_input),
        cmocka_unit_test(test_finish_in_two_steps),
        cmocka_unit_test(test_ties_by_name),
        cmocka_unit_test(test_batches),
        cmocka_unit_test(test_logons_as_kept),
        cmocka_unit_test(test_live),
        cmocka_unit_test(test_quiet_closes),
        cmocka_unit_test(test_quiet_host_beside_busy),
        cmocka_unit_test(test_clock_per_host),
        cmocka_unit_test(test_tactic_names),
        cmocka_unit_test(test_sort_nearly_sorted),
        cmocka_unit_test(test_list_blocks),
        cmocka_unit_test(test_tally_levels_saturate),
        cmocka_unit_test(test_many_open_chains),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
