/* src/behaviour/hosts.c: the serial stage's record of each host, looked up
 * once an event. A name gives the same record however the names before it
 * ran (the last-host memo must never answer for another name), the record
 * of no host is apart from every name, and the ids the parts keep in it are
 * the ones their own lookups give (the process table's here). */
#include "testutil.h"

#include <stdio.h>

#include "behaviour/hosts.h"
#include "behaviour/proctree.h"
#include "behaviour/spoof.h"

#define NAMES 300

static void test_same_record_for_same_name(void **state)
{
    (void)state;
    struct hosts h;
    hosts_init(&h);
    static char names[NAMES][32];
    size_t index[NAMES + 1]; /* by name; [NAMES]: no host */
    for (int i = 0; i < NAMES; i++) {
        /* names that share prefixes and differ by case: compared whole */
        snprintf(names[i], sizeof(names[i]), i % 2 ? "Host-%d.corp" : "host-%d.corp", i / 2);
        index[i] = SIZE_MAX;
    }
    index[NAMES] = SIZE_MAX;
    uint64_t x = 88172645463325252ULL;
    for (int step = 0; step < 20000; step++) {
        x ^= x << 13, x ^= x >> 7, x ^= x << 17;
        /* runs of one name and interleaved names both */
        int k = (int)(x % (NAMES + 1));
        int repeat = 1 + (int)(x >> 40) % 3;
        for (int r = 0; r < repeat; r++) {
            char copy[32]; /* another address than the name's before */
            const char *name = NULL;
            if (k < NAMES) {
                snprintf(copy, sizeof(copy), "%s", names[k]);
                name = copy;
            }
            struct host_rec *rec = hosts_get(&h, name);
            size_t at = (size_t)(rec - h.recs);
            if (index[k] == SIZE_MAX)
                index[k] = at;
            assert_int_equal(at, index[k]);
            if (name) {
                assert_string_equal(rec->name, name);
                assert_true(rec->spoof_hash == spoof_host_hash(name));
            } else {
                assert_null(rec->name);
                assert_true(rec->spoof_hash == spoof_host_hash(""));
            }
        }
    }
    for (int i = 0; i <= NAMES; i++)
        for (int j = i + 1; j <= NAMES; j++)
            if (index[i] != SIZE_MAX && index[j] != SIZE_MAX)
                assert_true(index[i] != index[j]);
    hosts_free(&h);
}

/* The process table's id kept in the record finds what a lookup by name
 * finds, for hosts interleaved. */
static void test_proctree_ids_kept(void **state)
{
    (void)state;
    struct hosts h;
    hosts_init(&h);
    struct proctree *by_id = proctree_create(0, 0), *by_name = proctree_create(0, 0);
    char host[16];
    for (int i = 0; i < 400; i++) {
        snprintf(host, sizeof(host), "h%d", (i * 7) % 13);
        struct proc_start p = {.host = i % 17 ? host : NULL,
                               .pid = 100 + i,
                               .ppid = 100 + i / 2,
                               .time_ns = i,
                               .image = "C:\\x.exe",
                               .command_line = "x"};
        struct host_rec *r = hosts_get(&h, p.host);
        if (!r->procs)
            r->procs = proctree_host(by_id, p.host) + 1;
        proctree_start_on(by_id, r->procs - 1, &p);
        proctree_start(by_name, &p);
        for (int pid = 100; pid < 100 + i; pid += 5) {
            const struct proc_entry *a = proctree_find_on(by_id, r->procs - 1, NULL, pid, i);
            const struct proc_entry *b = proctree_find(by_name, p.host, NULL, pid, i);
            assert_int_equal(a == NULL, b == NULL);
            if (a)
                assert_true(proctree_proc_key(a) == proctree_proc_key(b) &&
                            proctree_root_key(by_id, a) == proctree_root_key(by_name, b));
        }
    }
    uint32_t id;
    assert_false(proctree_host_known(by_id, "never", &id));
    assert_true(proctree_host_known(by_id, "h3", &id) && id == hosts_get(&h, "h3")->procs - 1);
    proctree_destroy(by_id);
    proctree_destroy(by_name);
    hosts_free(&h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_record_for_same_name),
        cmocka_unit_test(test_proctree_ids_kept),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
