/* Regressions the fuzz harnesses for the bus's bytes found (tests/fuzz/
 * fuzz_facts.c, fuzz_spool.c, fuzz_heartbeat.c, fuzz_bundle.c): each test
 * is the smallest form of an input that once failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "behaviour/facts.h"
#include "util/buf.h"

/* A fact is written, read, written again: the reader takes what the
 * writer wrote. */
static void round_trip(const struct cross_fact *in)
{
    struct facts_store *st = malloc(sizeof(*st));
    struct buf b = {0}, again = {0};
    char why[160];
    struct cross_fact out;
    facts_json(in, &b);
    assert_true(b.len <= FACTS_JSON_MAX);
    if (!facts_parse(b.p, b.len, &out, st, why, sizeof(why)))
        fail_msg("the writer's fact was refused: %s", why);
    facts_json(&out, &again);
    assert_true(facts_parse(again.p, again.len, &out, st, why, sizeof(why)));
    buf_free(&b);
    buf_free(&again);
    free(st);
}

/* Bytes that are not UTF-8 are written as \ufffd (6 bytes each) and read
 * back as U+FFFD (3 bytes each): a host name of 2,000 such bytes, within
 * the cap as written, was 6,000 bytes read and refused, "string too long"
 * (fuzz_facts). */
static void test_fact_not_utf8_within_cap(void **state)
{
    (void)state;
    char *h = malloc(2001);
    memset(h, 0xff, 2000);
    h[2000] = 0;
    struct cross_fact f = {.kind = CROSS_FACT_ADDRESS, .host = h, .addr = "10.0.0.1"};
    round_trip(&f);
    free(h);
}

/* Control bytes are written \u00XX, six bytes each: eleven strings of them
 * made a fact past the whole fact's cap. */
static void test_fact_control_bytes_within_cap(void **state)
{
    (void)state;
    char *s = malloc(FACTS_STR_MAX + 1);
    memset(s, 0x01, FACTS_STR_MAX);
    s[FACTS_STR_MAX] = 0;
    struct cross_fact f = {.kind = CROSS_FACT_ALERT,
                           .alert = {.id = 1,
                                     .host = s,
                                     .time_ns = 1,
                                     .rule_id = s,
                                     .rule_title = s,
                                     .account = s,
                                     .logon_id = s,
                                     .image = s,
                                     .parent_image = s}};
    round_trip(&f);
    /* a long one is cut on a character, never inside \u00XX or UTF-8 */
    char *u = malloc(3 * FACTS_STR_MAX + 1);
    for (int k = 0; k < FACTS_STR_MAX; k++)
        memcpy(u + 3 * k, "\xe2\x82\xac", 3);
    u[3 * FACTS_STR_MAX] = 0;
    struct cross_fact g = {.kind = CROSS_FACT_ADDRESS, .host = u, .addr = s};
    round_trip(&g);
    free(u);
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fact_not_utf8_within_cap),
        cmocka_unit_test(test_fact_control_bytes_within_cap),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
