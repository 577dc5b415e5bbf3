/* The units pipeline when a worker thread cannot be created: the workers
 * that did start (or the caller, when none did) still parse and write every
 * unit once and in order, every started thread is joined and none other,
 * and every worker's counts reach the stats.
 *
 * The test program links with -Wl,--wrap=pthread_create (Makefile): the
 * calls the library makes go through __wrap_pthread_create below, which
 * fails the ones the test names and passes the others on. */
#include "testutil.h"

#include <errno.h>
#include <pthread.h>

int __real_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);
int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg);

static unsigned creates;   /* calls since the test armed the counter */
static unsigned fail_mask; /* bit k: the (k + 1)th call fails */

int __wrap_pthread_create(pthread_t *th, const pthread_attr_t *attr, void *(*fn)(void *), void *arg)
{
    unsigned k = creates++;
    if (k < 32 && (fail_mask >> k & 1))
        return EAGAIN;
    return __real_pthread_create(th, attr, fn, arg);
}

static const char *const marker_rule = PROC_RULE("  sel:\n    CommandLine|contains: 'marker'\n  condition: sel\n");

#define NRECORDS 40000

/* Several units' worth (1 MiB each) of process events, every 7th a match,
 * with a record of a channel no rule reads now and then (unrouted). */
static size_t corpus(struct tu_str *s)
{
    size_t matches = 0;
    for (int i = 0; i < NRECORDS; i++) {
        if (i % 11 == 5) {
            tu_str_printf(s, "{\"Channel\":\"Security\",\"EventID\":4624,\"n\":%d}\n", i);
            continue;
        }
        bool match = i % 7 == 0;
        matches += match;
        tu_str_printf(s, "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"%s %d padding\"}\n",
                      match ? "marker" : "plain", i);
    }
    return matches;
}

static void hunt(const struct tu_str *s, unsigned threads, unsigned mask, struct tu_hunt *h)
{
    struct stoat_ruleset *rs = tu_build1(marker_rule, &(struct tu_diags){0}, &(struct stoat_load_stats){0});
    assert_non_null(rs);
    creates = 0; /* after the build, whose compiler threads are not the hunt's */
    fail_mask = mask;
    struct tu_hunt_opts o = {.threads = threads};
    tu_hunt_data(rs, s->p, s->len, ".jsonl", &o, h);
    fail_mask = 0;
    stoat_ruleset_destroy(rs);
}

static void same_as(const struct tu_hunt *h, const struct tu_hunt *want)
{
    assert_int_equal(h->err, STOAT_OK);
    assert_int_equal(h->diags.n, 0);
    assert_int_equal(h->n, want->n);
    for (size_t i = 0; i < h->n; i++) {
        assert_int_equal(h->v[i].record, want->v[i].record);
        assert_int_equal(h->v[i].line, want->v[i].line);
    }
    assert_int_equal(h->stats.records, NRECORDS);
    assert_int_equal(h->stats.events, want->stats.events);
    assert_int_equal(h->stats.unrouted, want->stats.unrouted);
    assert_int_equal(h->stats.evaluated, want->stats.evaluated);
    assert_int_equal(h->stats.candidates, want->stats.candidates);
}

/* -j 3 with the worker threads of mask refused: the same alerts, in the
 * same order, and the same counts as -j 1. */
static void refused(unsigned mask)
{
    struct tu_str s = {0};
    size_t matches = corpus(&s);
    struct tu_hunt want, h;
    hunt(&s, 1, 0, &want);
    assert_int_equal(want.n, matches);
    assert_true(want.stats.unrouted > 0 && want.stats.evaluated > 0);
    hunt(&s, 3, mask, &h);
    /* the hunt's threads: the three workers, then the end's chain sort */
    assert_int_equal(creates, 4);
    same_as(&h, &want);
    tu_hunt_free(&h);
    tu_hunt_free(&want);
    tu_str_free(&s);
}

static void test_none_refused(void **state)
{
    (void)state;
    refused(0);
}

static void test_first_worker_refused(void **state)
{
    (void)state;
    refused(1);
}

static void test_second_worker_refused(void **state)
{
    (void)state;
    refused(2);
}

static void test_first_and_third_refused(void **state)
{
    (void)state;
    refused(5);
}

/* none starts: the caller parses and writes inline */
static void test_every_worker_refused(void **state)
{
    (void)state;
    refused(7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_none_refused),          cmocka_unit_test(test_first_worker_refused),
        cmocka_unit_test(test_second_worker_refused), cmocka_unit_test(test_first_and_third_refused),
        cmocka_unit_test(test_every_worker_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
