/* Unit tests of the correlation engine against a brute-force reference:
 * random streams, in order and late, judged by the engine and by a
 * reference that recomputes every window from the whole list of events
 * (the hand-written cases are in test_correlate.c).
 */
#include "corr_testutil.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviour/correlate.h"
#include "rules/ruleset.h"

static bool cond_ok(const struct stoat_corr_condition *c, double v)
{
    return !isnan(v) && (!c->has_gt || v > c->gt) && (!c->has_gte || v >= c->gte) && (!c->has_lt || v < c->lt) &&
           (!c->has_lte || v <= c->lte) && (!c->has_eq || v == c->eq) && (!c->has_neq || v != c->neq);
}

static bool lower_ok(const struct stoat_corr_condition *c, double v)
{
    return !isnan(v) && (!c->has_gt || v > c->gt) && (!c->has_gte || v >= c->gte);
}

/* ------------------------------------------- against a brute-force reference */

/* Random in-order streams over three users and three rules, judged by the
 * engine and by a reference that recomputes every window from the whole
 * list of events: the firings must be the same, whether corr_advance runs
 * along the way (freeing groups) or only at the end. */

#define RN 1500

struct rev {
    int64_t t;
    int user, rule, v, n;
};

struct rspec {
    const char *title;
    enum stoat_corr_type type;
    unsigned rules; /* bit per rule r0, r1, r2 */
    int64_t span;
    bool rising, numeric_field, share;
    struct stoat_corr_condition c; /* as the engine defaults it */
    double pct;
};

static const char *rand_yaml =
    "title: c_count\n"
    "correlation: {type: event_count, rules: [r0], group-by: [User], timespan: 60s, condition: {gte: 4}}\n"
    "---\n"
    "title: c_vcount\n"
    "correlation: {type: value_count, rules: [r0, r1], group-by: [User], timespan: 60s,\n"
    "              condition: {field: V, gte: 3}}\n"
    "---\n"
    "title: c_temp\n"
    "correlation: {type: temporal, rules: [r0, r1, r2], group-by: [User], timespan: 30s}\n"
    "---\n"
    "title: c_ord\n"
    "correlation: {type: temporal_ordered, rules: [r0, r1, r2], group-by: [User], timespan: 30s}\n"
    "---\n"
    "title: c_sum\n"
    "correlation: {type: value_sum, rules: [r1], group-by: [User], timespan: 60s, condition: {field: N, gt: 20}}\n"
    "---\n"
    "title: c_avg\n"
    "correlation: {type: value_avg, rules: [r2], group-by: [User], timespan: 60s, condition: {field: N, gte: 7}}\n"
    "---\n"
    "title: c_pct\n"
    "correlation: {type: value_percentile, rules: [r0, r2], group-by: [User], timespan: 60s,\n"
    "              condition: {field: N, percentile: 75, gte: 8}}\n"
    "---\n"
    "title: c_range\n"
    "correlation: {type: event_count, rules: [r1, r2], group-by: [User], timespan: 20s, condition: {gt: 2, lte: 4}}\n"
    "---\n"
    "title: c_lt\n"
    "correlation: {type: event_count, rules: [r1], group-by: [User], timespan: 60s, condition: {lt: 3}}\n"
    "---\n"
    "title: c_vc_eq\n"
    "correlation: {type: value_count, rules: [r0], group-by: [User], timespan: 60s, condition: {field: V, eq: 2}}\n"
    "---\n"
    "title: c_share\n"
    "correlation: {type: value_percentile, rules: [r0], group-by: [User], timespan: 60s,\n"
    "              condition: {field: V, lte: 20}}\n"
    "---\n"
    "title: c_ord_eq\n"
    "correlation: {type: temporal_ordered, rules: [r0, r1, r2], group-by: [User], timespan: 30s,\n"
    "              condition: {eq: 2}}\n"
    "---\n"
    "title: c_median_close\n"
    "correlation: {type: value_percentile, rules: [r1], group-by: [User], timespan: 45s,\n"
    "              condition: {field: N, percentile: 50, lte: 3}}\n"
    "---\n"
    "title: R0\nname: r0\nlogsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 1}, condition: selection}\n"
    "---\n"
    "title: R1\nname: r1\nlogsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 2}, condition: selection}\n"
    "---\n"
    "title: R2\nname: r2\nlogsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 3}, condition: selection}\n";

#define S_ ((int64_t)1000000000)
static const struct rspec rspecs[] = {
    {"c_count", STOAT_CORR_EVENT_COUNT, 1, 60 * S_, true, false, false, {.has_gte = true, .gte = 4}, 0},
    {"c_vcount", STOAT_CORR_VALUE_COUNT, 3, 60 * S_, true, false, false, {.has_gte = true, .gte = 3}, 0},
    {"c_temp", STOAT_CORR_TEMPORAL, 7, 30 * S_, true, false, false, {.has_gte = true, .gte = 3}, 0},
    {"c_ord", STOAT_CORR_TEMPORAL_ORDERED, 7, 30 * S_, true, false, false, {.has_gte = true, .gte = 3}, 0},
    {"c_sum", STOAT_CORR_VALUE_SUM, 2, 60 * S_, true, true, false, {.has_gt = true, .gt = 20}, 0},
    {"c_avg", STOAT_CORR_VALUE_AVG, 4, 60 * S_, true, true, false, {.has_gte = true, .gte = 7}, 0},
    {"c_pct", STOAT_CORR_VALUE_PERCENTILE, 5, 60 * S_, true, true, false, {.has_gte = true, .gte = 8}, 75},
    {"c_range",
     STOAT_CORR_EVENT_COUNT,
     6,
     20 * S_,
     true,
     false,
     false,
     {.has_gt = true, .gt = 2, .has_lte = true, .lte = 4},
     0},
    {"c_lt", STOAT_CORR_EVENT_COUNT, 2, 60 * S_, false, false, false, {.has_lt = true, .lt = 3}, 0},
    {"c_vc_eq", STOAT_CORR_VALUE_COUNT, 1, 60 * S_, false, false, false, {.has_eq = true, .eq = 2}, 0},
    {"c_share", STOAT_CORR_VALUE_PERCENTILE, 1, 60 * S_, false, false, true, {.has_lte = true, .lte = 20}, 0},
    {"c_ord_eq", STOAT_CORR_TEMPORAL_ORDERED, 7, 30 * S_, false, false, false, {.has_eq = true, .eq = 2}, 0},
    {"c_median_close", STOAT_CORR_VALUE_PERCENTILE, 2, 45 * S_, false, true, false, {.has_lte = true, .lte = 3}, 50},
};
#define NSPEC (sizeof(rspecs) / sizeof(rspecs[0]))

static int cmp_dbl(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The value of spec r over the events w[0..n) (in input order). */
static double ref_value(const struct rspec *r, const struct rev *const *w, int n)
{
    double x[RN], sum = 0;
    int k = 0;
    bool seen[8] = {false};
    switch (r->type) {
    case STOAT_CORR_EVENT_COUNT: return n;
    case STOAT_CORR_VALUE_COUNT:
        for (int i = 0; i < n; i++)
            if (!seen[w[i]->v]) {
                seen[w[i]->v] = true;
                k++;
            }
        return k;
    case STOAT_CORR_TEMPORAL:
        for (int i = 0; i < n; i++)
            if (!seen[w[i]->rule]) {
                seen[w[i]->rule] = true;
                k++;
            }
        return k;
    case STOAT_CORR_TEMPORAL_ORDERED:
        for (int i = 0; i < n && k < 3; i++)
            if (w[i]->rule == k)
                k++;
        return k;
    case STOAT_CORR_VALUE_SUM:
        for (int i = 0; i < n; i++)
            sum += w[i]->n;
        return sum;
    case STOAT_CORR_VALUE_AVG:
        for (int i = 0; i < n; i++)
            sum += w[i]->n;
        return n ? sum / n : NAN;
    case STOAT_CORR_VALUE_PERCENTILE:
        if (!n)
            return NAN;
        for (int i = 0; i < n; i++)
            x[i] = w[i]->n;
        qsort(x, (size_t)n, sizeof(x[0]), cmp_dbl);
        k = (int)ceil(r->pct / 100.0 * n);
        return x[k < 1 ? 0 : k > n ? n - 1 : k - 1];
    default: return NAN;
    }
}

static int ref_fires(const struct rspec *r, const struct rev *ev, int nev, double *vsum)
{
    int fires = 0;
    for (int u = 0; u < 3; u++) {
        const struct rev *mine[RN];
        int n = 0;
        for (int i = 0; i < nev; i++)
            if (ev[i].user == u && (r->rules >> ev[i].rule & 1))
                mine[n++] = &ev[i];
        if (r->rising) {
            bool armed = true;
            for (int i = 0; i < n; i++) {
                int64_t w0 = mine[i]->t - r->span;
                int a = i;
                while (a > 0 && mine[a - 1]->t >= w0)
                    a--;
                double before = ref_value(r, mine + a, i - a), after = ref_value(r, mine + a, i - a + 1);
                if (!lower_ok(&r->c, before))
                    armed = true;
                if (armed && cond_ok(&r->c, after)) {
                    armed = false;
                    fires++;
                    *vsum += after;
                }
            }
            continue;
        }
        for (int i = 0; i < n;) {
            int j = i;
            while (j < n && mine[j]->t <= mine[i]->t + r->span)
                j++;
            if (r->share) {
                int tally[8] = {0};
                for (int k = i; k < j; k++)
                    tally[mine[k]->v]++;
                for (int val = 0; val < 8; val++)
                    if (tally[val] && cond_ok(&r->c, 100.0 * tally[val] / (j - i))) {
                        fires++;
                        *vsum += 100.0 * tally[val] / (j - i);
                    }
            } else {
                double v = ref_value(r, mine + i, j - i);
                if (cond_ok(&r->c, v)) {
                    fires++;
                    *vsum += v;
                }
            }
            i = j;
        }
    }
    return fires;
}

struct tally {
    int fires[NSPEC];
    double vsum[NSPEC];
};

static void on_fire_tally(void *ctx, const struct corr_fire *f)
{
    struct tally *t = ctx;
    for (size_t i = 0; i < NSPEC; i++)
        if (strcmp(f->meta->title, rspecs[i].title) == 0) {
            t->fires[i]++;
            t->vsum[i] += f->value;
        }
}

static void test_random_against_reference(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(rand_yaml);
    uint32_t rid[3] = {(uint32_t)stoat_ruleset_find(rs, "r0"), (uint32_t)stoat_ruleset_find(rs, "r1"),
                       (uint32_t)stoat_ruleset_find(rs, "r2")};
    static struct rev ev[RN];
    uint64_t x = 88172645463325252ULL;
    for (int seed = 0; seed < 40; seed++) {
        int64_t t = T0;
        int maxgap = 1 + seed % 8; /* denser and sparser streams */
        for (int i = 0; i < RN; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t += (int64_t)(x % (uint64_t)(maxgap + 1)) * S_ + (int64_t)(x >> 40 & 1) * 500000000;
            ev[i] = (struct rev){.t = t,
                                 .user = (int)(x >> 8 & 3) % 3,
                                 .rule = (int)(x >> 12 & 3) % 3,
                                 .v = (int)(x >> 16 & 7) % 6,
                                 .n = (int)(x >> 20 & 15) % 10};
        }
        struct tally ref = {0};
        for (size_t c = 0; c < NSPEC; c++)
            ref.fires[c] = ref_fires(&rspecs[c], ev, RN, &ref.vsum[c]);
        for (int mode = 0; mode < 2; mode++) {
            struct corr_engine *e = corr_create(rs, NULL);
            struct tally got = {0};
            for (int i = 0; i < RN; i++) {
                char user[4] = {'u', (char)('0' + ev[i].user), 0}, v[2] = {(char)('a' + ev[i].v), 0},
                     n[2] = {(char)('0' + ev[i].n), 0};
                struct stoat_field f[3] = {
                    {.name = "User", .value = user, .name_len = 4, .value_len = 2},
                    {.name = "V", .value = v, .name_len = 1, .value_len = 1},
                    {.name = "N", .value = n, .name_len = 1, .value_len = 1, .type = STOAT_V_NUMBER},
                };
                struct corr_input in = {.rule = rid[ev[i].rule], .time_ns = ev[i].t, .fields = f, .nfields = 3};
                corr_feed(e, &in, on_fire_tally, &got);
                if (mode == 1 && i % 7 == 0)
                    corr_advance(e, ev[i].t, on_fire_tally, &got);
            }
            corr_advance(e, INT64_MAX, on_fire_tally, &got);
            for (size_t c = 0; c < NSPEC; c++) {
                if (got.fires[c] != ref.fires[c] || fabs(got.vsum[c] - ref.vsum[c]) > 1e-6)
                    fail_msg("seed %d mode %d %s: %d firings (sum %g), the reference %d (sum %g)", seed, mode,
                             rspecs[c].title, got.fires[c], got.vsum[c], ref.fires[c], ref.vsum[c]);
            }
            struct corr_stats st;
            corr_get_stats(e, &st);
            assert_int_equal(st.groups, 0);
            assert_int_equal(st.late_dropped, 0);
            corr_destroy(e);
        }
    }
    stoat_ruleset_destroy(rs);
}

/* Conditions judged when a window closes see late events exactly as if they
 * had come in time: a stream shuffled within the lateness, with corr_advance
 * along the way, fires as the sorted stream does. */
static int cmp_arrival(const void *a, const void *b)
{
    const int64_t *x = a, *y = b;
    return x[0] < y[0] ? -1 : x[0] > y[0];
}

static void test_random_late_close(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(rand_yaml);
    uint32_t rid[3] = {(uint32_t)stoat_ruleset_find(rs, "r0"), (uint32_t)stoat_ruleset_find(rs, "r1"),
                       (uint32_t)stoat_ruleset_find(rs, "r2")};
    static struct rev ev[RN];
    static int64_t arrival[RN][2]; /* arrival key, index */
    uint64_t x = 0x2545F4914F6CDD1DULL;
    for (int seed = 0; seed < 30; seed++) {
        int64_t t = T0;
        for (int i = 0; i < RN; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t += (int64_t)(x % 7) * S_ + 1; /* distinct times: ties would be taken in arrival order */
            ev[i] = (struct rev){.t = t,
                                 .user = (int)(x >> 8 & 3) % 3,
                                 .rule = (int)(x >> 12 & 3) % 3,
                                 .v = (int)(x >> 16 & 7) % 6,
                                 .n = (int)(x >> 20 & 15) % 10};
            arrival[i][0] = t + (int64_t)((x >> 24) % (uint64_t)(59 * S_)); /* up to 59 s late */
            arrival[i][1] = i;
        }
        qsort(arrival, RN, sizeof(arrival[0]), cmp_arrival);
        struct tally ref = {0}, got = {0};
        for (size_t c = 0; c < NSPEC; c++)
            if (!rspecs[c].rising)
                ref.fires[c] = ref_fires(&rspecs[c], ev, RN, &ref.vsum[c]);
        struct corr_engine *e = corr_create(rs, NULL);
        int64_t clock = INT64_MIN;
        for (int k = 0; k < RN; k++) {
            const struct rev *r = &ev[arrival[k][1]];
            char user[4] = {'u', (char)('0' + r->user), 0}, v[2] = {(char)('a' + r->v), 0},
                 n[2] = {(char)('0' + r->n), 0};
            struct stoat_field f[3] = {
                {.name = "User", .value = user, .name_len = 4, .value_len = 2},
                {.name = "V", .value = v, .name_len = 1, .value_len = 1},
                {.name = "N", .value = n, .name_len = 1, .value_len = 1},
            };
            struct corr_input in = {.rule = rid[r->rule], .time_ns = r->t, .fields = f, .nfields = 3};
            corr_feed(e, &in, on_fire_tally, &got);
            if (r->t > clock)
                clock = r->t;
            if (k % 5 == 0)
                corr_advance(e, clock, on_fire_tally, &got);
        }
        corr_advance(e, INT64_MAX, on_fire_tally, &got);
        /* (the rising correlations with 20 s and 30 s timespans do drop some:
         * 59 s late falls before their sliding windows) */
        for (size_t c = 0; c < NSPEC; c++)
            if (!rspecs[c].rising && (got.fires[c] != ref.fires[c] || fabs(got.vsum[c] - ref.vsum[c]) > 1e-6))
                fail_msg("seed %d %s: %d firings (sum %g), the reference %d (sum %g)", seed, rspecs[c].title,
                         got.fires[c], got.vsum[c], ref.fires[c], ref.vsum[c]);
        corr_destroy(e);
    }
    stoat_ruleset_destroy(rs);
}

/* Rising conditions with late events, against the rule as documented: at
 * each event, the window ends at its group's newest event so far; an event
 * before that window is dropped; events at one time are taken in arrival
 * order. */
static int cmp_rev_ptr(const void *a, const void *b)
{
    const struct rev *x = *(const struct rev *const *)a, *y = *(const struct rev *const *)b;
    return x->t < y->t ? -1 : x->t > y->t;
}

static int ref_rising_late(const struct rspec *r, const struct rev *const *arr, const int64_t *key, int nev,
                           double *vsum, int *dropped)
{
    static bool gone[RN];
    int fires = 0;
    for (int u = 0; u < 3; u++) {
        bool armed = true;
        int64_t newest = INT64_MIN;
        for (int k = 0; k < nev; k++) {
            const struct rev *e = arr[k];
            gone[k] = false;
            if (e->user != u || !(r->rules >> e->rule & 1))
                continue;
            if (newest != INT64_MIN && e->t < newest - r->span) {
                gone[k] = true;
                (*dropped)++;
                continue;
            }
            if (e->t > newest)
                newest = e->t;
            int64_t w0 = newest - r->span;
            const struct rev *w[RN];
            int n = 0;
            for (int j = k - 1; j >= 0 && key[j] >= key[k] - 200 * S_; j--)
                if (!gone[j] && arr[j]->user == u && (r->rules >> arr[j]->rule & 1) && arr[j]->t >= w0)
                    w[n++] = arr[j];
            /* w is in reverse arrival order: make it arrival order, then a stable sort by time */
            for (int i = 0; i < n / 2; i++) {
                const struct rev *tmp = w[i];
                w[i] = w[n - 1 - i];
                w[n - 1 - i] = tmp;
            }
            for (int i = 1; i < n; i++) /* insertion sort: stable */
                for (int j = i; j > 0 && cmp_rev_ptr(&w[j - 1], &w[j]) > 0; j--) {
                    const struct rev *tmp = w[j];
                    w[j] = w[j - 1];
                    w[j - 1] = tmp;
                }
            double before = ref_value(r, w, n);
            int at = n;
            while (at > 0 && w[at - 1]->t > e->t)
                at--;
            memmove(&w[at + 1], &w[at], (size_t)(n - at) * sizeof(w[0]));
            w[at] = e;
            double after = ref_value(r, w, n + 1);
            if (!lower_ok(&r->c, before))
                armed = true;
            if (armed && cond_ok(&r->c, after)) {
                armed = false;
                fires++;
                *vsum += after;
            }
        }
    }
    return fires;
}

static void test_random_late_rising(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(rand_yaml);
    uint32_t rid[3] = {(uint32_t)stoat_ruleset_find(rs, "r0"), (uint32_t)stoat_ruleset_find(rs, "r1"),
                       (uint32_t)stoat_ruleset_find(rs, "r2")};
    static struct rev ev[RN];
    static int64_t arrival[RN][2];
    static const struct rev *arr[RN];
    static int64_t key[RN];
    uint64_t x = 0x9E3779B97F4A7C15ULL;
    for (int seed = 0; seed < 30; seed++) {
        int64_t t = T0, jitter = (seed % 3 == 0 ? 59 : seed % 3 == 1 ? 19 : 5) * S_;
        for (int i = 0; i < RN; i++) {
            x ^= x << 13, x ^= x >> 7, x ^= x << 17;
            t += (int64_t)(x % 5) * S_ + (int64_t)(x >> 60 & 1); /* some ties */
            ev[i] = (struct rev){.t = t,
                                 .user = (int)(x >> 8 & 3) % 3,
                                 .rule = (int)(x >> 12 & 3) % 3,
                                 .v = (int)(x >> 16 & 7) % 6,
                                 .n = (int)(x >> 20 & 15) % 10};
            arrival[i][0] = t + (int64_t)((x >> 24) % (uint64_t)jitter);
            arrival[i][1] = i;
        }
        qsort(arrival, RN, sizeof(arrival[0]), cmp_arrival);
        for (int k = 0; k < RN; k++) {
            arr[k] = &ev[arrival[k][1]];
            key[k] = arrival[k][0];
        }
        struct tally ref = {0}, got = {0};
        int ref_dropped = 0;
        for (size_t c = 0; c < NSPEC; c++)
            if (rspecs[c].rising)
                ref.fires[c] = ref_rising_late(&rspecs[c], arr, key, RN, &ref.vsum[c], &ref_dropped);
        struct corr_engine *e = corr_create(rs, NULL);
        for (int k = 0; k < RN; k++) {
            const struct rev *r = arr[k];
            char user[4] = {'u', (char)('0' + r->user), 0}, v[2] = {(char)('a' + r->v), 0},
                 n[2] = {(char)('0' + r->n), 0};
            struct stoat_field f[3] = {
                {.name = "User", .value = user, .name_len = 4, .value_len = 2},
                {.name = "V", .value = v, .name_len = 1, .value_len = 1},
                {.name = "N", .value = n, .name_len = 1, .value_len = 1},
            };
            struct corr_input in = {.rule = rid[r->rule], .time_ns = r->t, .fields = f, .nfields = 3};
            corr_feed(e, &in, on_fire_tally, &got);
        }
        struct corr_stats st;
        corr_get_stats(e, &st);
        assert_int_equal(st.late_dropped, (uint64_t)ref_dropped);
        for (size_t c = 0; c < NSPEC; c++)
            if (rspecs[c].rising && (got.fires[c] != ref.fires[c] || fabs(got.vsum[c] - ref.vsum[c]) > 1e-6))
                fail_msg("seed %d %s: %d firings (sum %g), the reference %d (sum %g)", seed, rspecs[c].title,
                         got.fires[c], got.vsum[c], ref.fires[c], ref.vsum[c]);
        corr_destroy(e);
    }
    stoat_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_random_against_reference),
        cmocka_unit_test(test_random_late_close),
        cmocka_unit_test(test_random_late_rising),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
