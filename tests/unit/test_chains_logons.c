/* src/behaviour/chains.c: the kept logons (the pending records' sessions),
 * live, compacted after each release while many are kept.
 *
 * The cap counts PEND_BYTES a kept record, its logon's 24 bytes included,
 * and nothing else beside them: compacting them must take no memory of its
 * own. The program links with -Wl,--wrap=xgrow (Makefile), so the arrays
 * chains.c grows pass through __wrap_xgrow below, which notes the largest
 * one of 4-byte entries (the only such arrays chains.c should keep are a
 * host's open chains' positions: a few here). */
#include "testutil.h"

#include "behaviour/chains.h"

#define MIN_NS (60 * 1000000000LL)
#define T0     1790000000000000000LL

void __real_xgrow(void **p, size_t *cap, size_t need, size_t esz);
void __wrap_xgrow(void **p, size_t *cap, size_t need, size_t esz);

static size_t most_4byte; /* the most entries a 4-byte array was grown to */

void __wrap_xgrow(void **p, size_t *cap, size_t need, size_t esz)
{
    if (esz == 4 && need > most_4byte)
        most_4byte = need;
    __real_xgrow(p, cap, need, esz);
}

#define HOSTS 3000
#define STEPS 12 /* records a host, a minute apart */

struct seen {
    char *logon[HOSTS];
    size_t nalerts[HOSTS], incidents;
};

static void on_incident(void *ctx, const struct stoat_incident *inc)
{
    struct seen *s = ctx;
    unsigned h;
    assert_int_equal(sscanf(inc->host, "h%u", &h), 1);
    assert_true(h < HOSTS);
    assert_int_equal(s->nalerts[h], 0); /* one chain a host */
    s->nalerts[h] = inc->nalerts;
    s->logon[h] = tu_strdup(inc->logon_id);
    s->incidents++;
}

/* A host's session at step j: its own, of every length up to the cut; a
 * fifth of the hosts name two (then the chain names none), some none. */
static void logon_of(unsigned h, int j, char out[CHAIN_LOGON_MAX])
{
    char full[64];
    if (h % 5 == 4)
        snprintf(full, sizeof(full), "0x%x", j % 2 ? h : h + 1000000);
    else if (h % 7 == 6)
        full[0] = 0;
    else
        snprintf(full, sizeof(full), "%.*s%x", (int)(h % 23), "0000000000000000000000000", h);
    size_t n = strnlen(full, CHAIN_LOGON_MAX - 1); /* cut as behaviour.c cuts */
    memcpy(out, full, n);
    memset(out + n, 0, CHAIN_LOGON_MAX - n);
}

/* Thousands of sessions kept at once, the hosts' records interleaved in a
 * shuffled time order and released a few minutes behind: every release
 * compacts the kept logons with many named and many not, and every chain's
 * session is still the one its records name (cut to 23 bytes), or none when
 * they name two. */
static void test_live_compaction(void **state)
{
    (void)state;
    static struct seen seen;
    memset(&seen, 0, sizeof(seen));
    struct chains_opts o = {
        .gap_ns = 60 * MIN_NS, .min_score = 0, .max_alerts = 1000, .live = true, .lateness_ns = 3 * MIN_NS};
    struct chains *c = chains_create(&o, &(struct chains_out){.ctx = &seen, .incident = on_incident});
    const char *tags[] = {"discovery"};
    struct stoat_rule_meta m = {.id = "disc", .title = "disc", .level = STOAT_LEVEL_LOW, .attack_tactics = {tags, 1}};
    uint32_t r = chains_rule(c, &m);
    uint32_t ids[HOSTS];
    for (unsigned h = 0; h < HOSTS; h++) {
        char name[16];
        snprintf(name, sizeof(name), "h%u", h);
        ids[h] = chains_host(c, name);
    }
    most_4byte = 0;
    uint64_t id = 0;
    for (int j = 0; j < STEPS; j++) {
        for (unsigned i = 0; i < HOSTS; i++) {
            unsigned h = (unsigned)(((uint64_t)i * 1237 + (uint64_t)j * 71) % HOSTS); /* a shuffle */
            /* times run a little out of order within two minutes */
            int64_t t = T0 + (int64_t)j * MIN_NS + (int64_t)((h * 7919u + (unsigned)j) % 120) * 1000000000LL;
            struct chain_alert a = {.id = ++id, .time_ns = t, .key = h + 1, .proc = h + 1, .host = ids[h], .rule = r};
            logon_of(h, j, a.logon);
            chains_add(c, &a);
            if (i % 500 == 499)
                chains_advance(c, T0 + (int64_t)j * MIN_NS);
        }
    }
    chains_finish(c);
    assert_int_equal(seen.incidents, HOSTS);
    for (unsigned h = 0; h < HOSTS; h++) {
        assert_int_equal(seen.nalerts[h], STEPS);
        char want[CHAIN_LOGON_MAX];
        logon_of(h, 0, want);
        if (h % 5 == 4 || !want[0])
            assert_null(seen.logon[h]);
        else
            assert_string_equal(seen.logon[h], want);
        free(seen.logon[h]);
    }
    chains_destroy(c);
    assert_in_range(most_4byte, 0, 16);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_live_compaction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
