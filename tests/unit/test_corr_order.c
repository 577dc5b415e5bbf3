/* A fleet worker's correlations (behaviour/corr_stream.h, CORR_PART_HOSTS)
 * when a host's matches come out of order: a publisher spools a batch whose
 * publish timed out and sends its newer ones first, so the worker feeds the
 * host's later matches at an idle round (its clock moves on) before the
 * earlier ones arrive. The host's windows must come out as if everything
 * had been fed in time order: the same firings (rule, group, window), none
 * lost; a firing repeated by the rebuild has the same rule, group and window
 * (the centre's store knows it by those and stores it once); and the memory
 * stays within the cap with many hosts. */
#include "corr_testutil.h"

#include <stdlib.h>

#include "behaviour/corr_stream.h"
#include "fleet/xcorr.h"
#include "util/buf.h"

#define DUR_S(x) ((int64_t)(x)*1000000000LL)

static const char *order_yaml = "title: Discovery burst\n"
                                "correlation: {type: value_count, rules: [disc], group-by: [Computer, User],\n"
                                "              timespan: 10m, condition: {field: Image, gte: 4}}\n"
                                "---\n"
                                "title: Three discoveries\n"
                                "correlation: {type: event_count, rules: [disc], group-by: [Computer],\n"
                                "              timespan: 10m, condition: {gte: 3}}\n"
                                "---\n"
                                "title: Logon then discovery\n"
                                "correlation: {type: temporal, rules: [logon, disc], group-by: [Computer],\n"
                                "              timespan: 10m}\n"
                                "---\n"
                                "title: Discovery\nname: disc\n"
                                "logsource: {product: windows, category: process_creation}\n"
                                "detection: {selection: {Image|endswith: '.exe'}, condition: selection}\n"
                                "---\n"
                                "title: Logon\nname: logon\n"
                                "logsource: {product: windows, service: security}\n"
                                "detection: {selection: {EventID: 4624}, condition: selection}\n";

/* Firings as the store would know them: rule, host, group, window. */
struct seen {
    struct buf keys; /* one line each */
    size_t n;
};

static void on_alert(void *ctx, struct stoat_alert *a)
{
    struct seen *o = ctx;
    assert_non_null(a->corr);
    buf_printf(&o->keys, "%s|%s|%lld|%lld|%g", a->rule->title, a->host ? a->host : "", (long long)a->corr->first_ns,
               (long long)a->corr->last_ns, a->corr->value);
    for (size_t i = 0; i < a->corr->ngroup; i++)
        buf_printf(&o->keys, "|%s", a->corr->group_values[i]);
    buf_putc(&o->keys, '\n');
    o->n++;
}

static int line_cmp(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* The distinct firings, sorted, one line each; *repeats: lines seen again. */
static char *distinct(struct seen *o, size_t *repeats)
{
    buf_putc(&o->keys, 0);
    char **l = calloc(o->n + 1, sizeof(*l));
    size_t n = 0;
    for (char *p = o->keys.p, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = 0;
        l[n++] = p;
    }
    qsort(l, n, sizeof(*l), line_cmp);
    struct buf out = {0};
    *repeats = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && strcmp(l[i], l[i - 1]) == 0) {
            ++*repeats;
            continue;
        }
        buf_printf(&out, "%s\n", l[i]);
    }
    buf_putc(&out, 0);
    free(l);
    return out.p;
}

struct m {
    const char *rule; /* "disc" or "logon" */
    const char *image;
    int64_t t;
};

/* One host's day: a logon and a burst of five programs within minutes,
 * then one more discovery three hours later (it moves the host's clock far
 * past the burst's windows). */
static const struct m day[] = {
    {"logon", NULL, 0},
    {"disc", "whoami.exe", 20},
    {"disc", "net.exe", 40},
    {"disc", "nltest.exe", 60},
    {"disc", "ipconfig.exe", 80},
    {"disc", "arp.exe", 100},
    {"disc", "tasklist.exe", 3 * 3600},
};
#define NDAY (sizeof(day) / sizeof(day[0]))

static void feed_m(struct corr_stream *s, const struct stoat_ruleset *rs, const char *host, const struct m *x,
                   int64_t base)
{
    struct stoat_field f[4];
    size_t n = 0;
    f[n++] =
        (struct stoat_field){.name = "Computer", .name_len = 8, .value = host, .value_len = (uint32_t)strlen(host)};
    f[n++] = (struct stoat_field){.name = "User", .name_len = 4, .value = "CORP\\eve", .value_len = 8};
    if (x->image)
        f[n++] = (struct stoat_field){
            .name = "Image", .name_len = 5, .value = x->image, .value_len = (uint32_t)strlen(x->image)};
    else
        f[n++] = (struct stoat_field){
            .name = "EventID", .name_len = 7, .value = "4624", .value_len = 4, .type = STOAT_V_NUMBER};
    struct stoat_alert a = {.host = host, .time_ns = base + DUR_S(x->t), .fields = f, .nfields = n};
    corr_stream_match(s, &a, (uint32_t)stoat_ruleset_find(rs, x->rule), 0);
}

enum order {
    IN_ORDER,
    LATE_ONLY,
    LATE_FIRST
};

/* nhosts hosts' days through a worker's stream: in time order, only each
 * host's matches from `split` on, or those first, an idle round, then the
 * rest. Returns the distinct firings; *repeats, st and the most memory
 * seen after an idle round as they came. */
static char *run(const struct stoat_ruleset *rs, size_t nhosts, enum order ord, size_t split, size_t cap,
                 struct stoat_hunt_stats *st, size_t *repeats, size_t *most)
{
    struct stoat_behaviour_opts bo = {.corr_offline_lateness_ns = DUR_S(48 * 3600), .corr_max_bytes = cap};
    struct seen o = {0};
    memset(st, 0, sizeof(*st));
    struct corr_stream *s = corr_stream_create_part(rs, &bo, STOAT_LEVEL_NONE, st, on_alert, &o, CORR_PART_HOSTS);
    assert_non_null(s);
    char host[32];
    *most = 0;
    for (int pass = 0; pass < (ord == LATE_FIRST ? 2 : 1); pass++) {
        size_t from = ord == IN_ORDER || pass ? 0 : split, to = pass ? split : NDAY;
        for (size_t k = 0; k < nhosts; k++) {
            size_t h = pass ? nhosts - 1 - k : k; /* the late come back newest first */
            snprintf(host, sizeof(host), "ws%05zu", h);
            int64_t base = T0 + DUR_S((int64_t)(h % 97) * 60);
            for (size_t i = from; i < to; i++)
                feed_m(s, rs, host, &day[i], base);
            if (k % 64 == 63 || k + 1 == nhosts) { /* the worker goes idle now and then */
                corr_stream_idle(s, DUR_S(1));
                if (corr_stream_bytes(s) > *most)
                    *most = corr_stream_bytes(s);
            }
        }
    }
    corr_stream_finish(s);
    corr_stream_destroy(s);
    char *d = distinct(&o, repeats);
    buf_free(&o.keys);
    return d;
}

/* The distinct lines of a and b, sorted. */
static char *both(const char *a, const char *b)
{
    struct seen o = {0};
    buf_puts(&o.keys, a);
    buf_puts(&o.keys, b);
    for (size_t i = 0; i < o.keys.len; i++)
        o.n += o.keys.p[i] == '\n';
    size_t rep;
    char *d = distinct(&o, &rep);
    buf_free(&o.keys);
    return d;
}

/* One host, split at every match: the end of its day comes first, the
 * start after an idle round. Every firing of the day in time order is
 * there (on main the start came too late for the windows, the clock three
 * hours on: the burst never fired), and nothing else but what the end
 * alone raised before the start came (stored by then: a stream does not
 * take back). A firing the rebuild repeats is the same firing. */
static void test_late_start_of_day(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(order_yaml);
    struct stoat_hunt_stats st;
    size_t rep, most;
    char *want = run(rs, 1, IN_ORDER, 0, 0, &st, &rep, &most);
    assert_int_equal(rep, 0);
    assert_int_equal(st.corr_rebuilt, 0);
    /* in time order: the temporal at whoami, three discoveries at nltest, the burst at ipconfig */
    assert_non_null(strstr(want, "Discovery burst|ws00000|"));
    assert_non_null(strstr(want, "Three discoveries|ws00000|"));
    assert_non_null(strstr(want, "Logon then discovery|ws00000|"));
    for (size_t split = 1; split < NDAY; split++) {
        char *alone = run(rs, 1, LATE_ONLY, split, 0, &st, &rep, &most);
        char *expect = both(want, alone);
        char *got = run(rs, 1, LATE_FIRST, split, 0, &st, &rep, &most);
        assert_string_equal(got, expect);
        assert_int_equal(st.corr_rebuilt, 1);
        assert_int_equal(st.corr_late, 0);
        assert_int_equal(st.corr_unkept, 0);
        free(got);
        free(expect);
        free(alone);
    }
    free(want);
    stoat_ruleset_destroy(rs);
}

/* Many hosts, each out of order (split before ipconfig: the end alone
 * fires nothing), the worker idle between groups of them: every host's
 * firings as in time order; then the same under a cap small enough that
 * the kept matches of the hosts fed least recently go: memory stays within
 * it (kept matches counted in), what went is counted, the hosts still kept
 * whole are judged right and no firing is one that time order lacks. */
static void test_many_hosts_within_cap(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(order_yaml);
    struct stoat_hunt_stats st;
    size_t rep, most;
    const size_t nhosts = 3000, split = 4;
    char *alone = run(rs, nhosts, LATE_ONLY, split, 0, &st, &rep, &most);
    assert_string_equal(alone, "");
    char *want = run(rs, nhosts, IN_ORDER, 0, 0, &st, &rep, &most);
    assert_int_equal(rep, 0);
    char *got = run(rs, nhosts, LATE_FIRST, split, 0, &st, &rep, &most);
    assert_string_equal(got, want);
    assert_int_equal(st.corr_rebuilt, nhosts);
    assert_int_equal(st.corr_unkept, 0);
    free(got);
    const size_t cap = 2 << 20; /* some hundred hosts: more than the worker feeds between idle rounds */
    got = run(rs, nhosts, LATE_FIRST, split, cap, &st, &rep, &most);
    assert_true(most <= cap);
    assert_true(most > cap / 2); /* the cap was reached, so it was what held */
    assert_true(st.corr_unkept > 0);
    assert_true(st.corr_rebuilt > 0 && st.corr_rebuilt < nhosts);
    /* the hosts still whole when their start came were judged as in time
     * order; the others had given their state back (nothing to rebuild) or
     * lost their start (late, counted); nothing else fired */
    size_t bursts = 0;
    for (char *p = got, *nl; (nl = strchr(p, '\n')) != NULL; p = nl + 1) {
        *nl = 0;
        char line[256];
        snprintf(line, sizeof(line), "%s\n", p);
        assert_non_null(strstr(want, line));
        bursts += strncmp(p, "Discovery burst|", 16) == 0;
    }
    assert_true(bursts >= 64); /* at least the hosts of one idle round */
    free(got);
    free(want);
    free(alone);
    stoat_ruleset_destroy(rs);
}

static const char *spanning_yaml = "title: One account on two hosts\n"
                                   "correlation: {type: value_count, rules: [fail], group-by: [TargetUserName],\n"
                                   "              timespan: 1h, condition: {field: Computer, gte: 2}}\n"
                                   "---\n"
                                   "title: Failed logon\nname: fail\nid: 5e0f3c1a-1111-4c4c-9d9d-000000000002\n"
                                   "logsource: {product: windows, service: security}\n"
                                   "detection: {selection: {EventID: 4625}, condition: selection}\n";

static void xmatch(struct fleet_xcorr *x, const char *host, int64_t t)
{
    struct cross_match m = {
        .host = host, .rule_id = "5e0f3c1a-1111-4c4c-9d9d-000000000002", .time_ns = t, .summary = "4625", .nfields = 2};
    m.names[0] = "Computer";
    m.values[0] = host;
    m.names[1] = "TargetUserName";
    m.values[1] = "eve";
    m.types[0] = m.types[1] = STOAT_V_STRING;
    fleet_xcorr_add(x, &m);
}

/* The cross-host role (fleet/xcorr.c) keeps and rebuilds through the same
 * stream, one engine: the worker holding host a runs behind the others, so
 * a's fail comes after c's (10 minutes later) and b's (3 hours later) were
 * fed at an idle round. It must fire as in time order: a and c within the
 * hour (before the rebuild the clock was three hours on: a was late). */
static void test_cross_role_late_worker(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(spanning_yaml);
    char *res[2];
    for (int late = 0; late < 2; late++) {
        struct seen o = {0};
        struct fleet_xcorr *x = fleet_xcorr_create(rs, NULL, STOAT_LEVEL_NONE, on_alert, &o);
        assert_non_null(x);
        if (!late)
            xmatch(x, "a", T0);
        xmatch(x, "c", T0 + DUR_S(600));
        xmatch(x, "b", T0 + DUR_S(3 * 3600));
        fleet_xcorr_idle(x, DUR_S(1));
        if (late)
            xmatch(x, "a", T0);
        fleet_xcorr_idle(x, DUR_S(1));
        uint64_t kept, rebuilt;
        fleet_xcorr_counts(x, &kept, &rebuilt);
        assert_int_equal(kept, 3);
        assert_int_equal(rebuilt, (uint64_t)late);
        fleet_xcorr_destroy(x);
        size_t rep;
        res[late] = distinct(&o, &rep);
        buf_free(&o.keys);
    }
    assert_non_null(strstr(res[0], "One account on two hosts||"));
    assert_string_equal(res[1], res[0]);
    free(res[0]);
    free(res[1]);
    stoat_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_late_start_of_day),
        cmocka_unit_test(test_many_hosts_within_cap),
        cmocka_unit_test(test_cross_role_late_worker),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
