/* Feeds synthetic base matches to the correlation engine and prints feeds/s.
 *
 *   bench_corr [--feeds N] [--groups N] [--max-mb N] [RULES_YAML]
 *
 * Run from the repository root (it reads data/mapping.yml). Without a rule
 * file it loads four correlations that stand for the usual shapes: a brute
 * force count (event_count gte 100 by User, keeps 102 times per group), a
 * spray (value_count of User by ComputerName), a three-step temporal_ordered
 * chain, and an exfiltration sum (value_sum, which keeps every value of its
 * window). Events advance 1 ms each, in order, with one in 64 arriving up to
 * 30 s late; corr_advance runs every 1024 feeds, as the writer would call it.
 * Prints feeds/s, the largest state seen (groups, bytes) and the counters. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "behaviour/correlate.h"
#include "rules/ruleset.h"

static const char *default_rules =
    "title: Brute force\n"
    "correlation: {type: event_count, rules: [fail], group-by: [User], timespan: 10m, condition: {gte: 100}}\n"
    "---\n"
    "title: Spray\n"
    "correlation: {type: value_count, rules: [fail], group-by: [ComputerName], timespan: 1h,\n"
    "              condition: {field: User, gte: 50}}\n"
    "---\n"
    "title: Chain\n"
    "correlation: {type: temporal_ordered, rules: [fail, ok, proc], group-by: [User], timespan: 5m}\n"
    "---\n"
    "title: Exfil\n"
    "correlation: {type: value_sum, rules: [net], group-by: [ComputerName], timespan: 1h,\n"
    "              condition: {field: Bytes, gt: 1000000000}}\n"
    "---\n"
    "title: Failed logon\nname: fail\nlogsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 4625}, condition: selection}\n"
    "---\n"
    "title: Logon\nname: ok\nlogsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 4624}, condition: selection}\n"
    "---\n"
    "title: Process\nname: proc\nlogsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 4688}, condition: selection}\n"
    "---\n"
    "title: Network\nname: net\nlogsource: {product: windows, service: security}\n"
    "detection: {selection: {EventID: 5156}, condition: selection}\n";

static uint64_t fired;

static void on_fire(void *ctx, const struct corr_fire *f)
{
    (void)ctx;
    (void)f;
    fired++;
}

static uint64_t rng = 0x9E3779B97F4A7C15ULL;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    long feeds = 5000000, groups = 10000, max_mb = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--feeds") && i + 1 < argc)
            feeds = atol(argv[++i]);
        else if (!strcmp(argv[i], "--groups") && i + 1 < argc)
            groups = atol(argv[++i]);
        else if (!strcmp(argv[i], "--max-mb") && i + 1 < argc)
            max_mb = atol(argv[++i]);
        else
            path = argv[i];
    }
    if (feeds < 1 || groups < 1) {
        fprintf(stderr, "usage: bench_corr [--feeds N] [--groups N] [--max-mb N] [RULES_YAML]\n");
        return 2;
    }
    struct stoat_load_opts lo = {.mapping_path = "data/mapping.yml"};
    struct stoat_loader *l = NULL;
    struct stoat_ruleset *rs = NULL;
    if (stoat_loader_create(&lo, &l) ||
        (path ? stoat_loader_add_path(l, path)
              : stoat_loader_add_text(l, "bench", default_rules, strlen(default_rules))) ||
        stoat_loader_build(l, &rs)) {
        fprintf(stderr, "bench_corr: cannot load the rules\n");
        stoat_loader_destroy(l);
        return 1;
    }
    stoat_loader_destroy(l);
    struct corr_opts o;
    corr_default_opts(&o);
    if (max_mb)
        o.max_bytes = (size_t)max_mb << 20;
    struct corr_engine *e = corr_create(rs, &o);
    if (!e) {
        fprintf(stderr, "bench_corr: no correlations\n");
        stoat_ruleset_destroy(rs);
        return 1;
    }
    long read[8];
    int nread = 0;
    for (size_t r = 0; r < rs->nrules && nread < 8; r++)
        if (corr_reads(e, (uint32_t)r))
            read[nread++] = (long)r;

    /* the values, made once: feeding must be what is timed */
    char(*users)[24] = malloc((size_t)groups * sizeof(*users));
    char(*hosts)[16] = malloc(128 * sizeof(*hosts));
    for (long i = 0; i < groups; i++)
        snprintf(users[i], sizeof(users[i]), "user%ld", i);
    for (int i = 0; i < 128; i++)
        snprintf(hosts[i], sizeof(hosts[i]), "ws%03d", i);
    static const char *const sizes[] = {"512", "1400", "65536", "20", "900000"};

    int64_t t = (int64_t)1767225600 * 1000000000;
    size_t peak_bytes = 0, peak_groups = 0;
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long i = 0; i < feeds; i++) {
        uint64_t x = next();
        t += 1000000;
        const char *u = users[x % (uint64_t)groups], *h = hosts[(x >> 20) % 128];
        struct stoat_field f[6] = {
            {.name = "EventID", .value = "4625", .name_len = 7, .value_len = 4},
            {.name = "Computer Name", .value = h, .name_len = 13, .value_len = (uint32_t)strlen(h)},
            {.name = "TargetDomainName", .value = "CORP", .name_len = 16, .value_len = 4},
            {.name = "User", .value = u, .name_len = 4, .value_len = (uint32_t)strlen(u)},
            {.name = "LogonType", .value = "3", .name_len = 9, .value_len = 1},
            {.name = "Bytes",
             .value = sizes[(x >> 40) % 5],
             .name_len = 5,
             .value_len = (uint32_t)strlen(sizes[(x >> 40) % 5])},
        };
        struct corr_input in = {.rule = (uint32_t)read[(x >> 8) % (uint64_t)nread],
                                .alert_id = (x >> 50) % 4 ? 0 : (uint64_t)i + 1,
                                .time_ns = (x >> 56) % 64 ? t : t - (int64_t)((x >> 30) % 30000) * 1000000,
                                .fields = f,
                                .nfields = 6,
                                .host = h};
        corr_feed(e, &in, on_fire, NULL);
        if ((i & 1023) == 0) {
            corr_advance(e, t, on_fire, NULL);
            struct corr_stats now;
            corr_get_stats(e, &now);
            if (now.bytes > peak_bytes)
                peak_bytes = now.bytes;
            if (now.groups > peak_groups)
                peak_groups = now.groups;
        }
    }
    corr_advance(e, INT64_MAX, on_fire, NULL);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    struct corr_stats st;
    corr_get_stats(e, &st);
    printf("corr: %ld feeds (%ld users, %zu correlations) in %.3f s: %.2f M feeds/s, %.0f ns/feed\n", feeds, groups,
           rs->ncorrs, s, (double)feeds / s / 1e6, s * 1e9 / (double)feeds);
    printf("corr: state at most %zu groups, %.1f MiB (cap %.0f MiB)\n", peak_groups, (double)peak_bytes / 1048576,
           (double)o.max_bytes / 1048576);
    printf("corr: fired %llu, late dropped %llu, evicted %llu groups and %llu events, unusable %llu\n",
           (unsigned long long)fired, (unsigned long long)st.late_dropped, (unsigned long long)st.evicted_groups,
           (unsigned long long)st.evicted_events, (unsigned long long)st.unusable);
    corr_destroy(e);
    stoat_ruleset_destroy(rs);
    free(users);
    free(hosts);
    return 0;
}
