/* src/util/mem.c: the big tables' allocation (xcalloc_big): zeroed and
 * writable at every size either side of the 2 MiB where it becomes a mapping
 * of its own, aligned to 2 MiB there (the huge pages' condition), and given
 * back by xfree_big with the same sizes. */
#include "testutil.h"

#include <stdint.h>

#include "util/mem.h"

static void check_big(size_t n, size_t size)
{
    unsigned char *p = xcalloc_big(n, size);
    assert_non_null(p);
    size_t bytes = n * size;
    if (!bytes) {
        xfree_big(p, n, size);
        return;
    }
    for (size_t i = 0; i < bytes; i += 4093) /* a byte in every page, zero, then written */
        assert_int_equal(p[i], 0);
    assert_int_equal(p[bytes - 1], 0);
    memset(p, 0xA5, bytes);
    assert_int_equal(p[bytes - 1], 0xA5);
    if (bytes >= ((size_t)2 << 20))
        assert_int_equal((uintptr_t)p % ((size_t)2 << 20), 0);
    xfree_big(p, n, size);
}

static void test_big_sizes(void **state)
{
    (void)state;
    const size_t mib2 = (size_t)2 << 20;
    size_t sizes[] = {1, 4096, mib2 - 1, mib2, mib2 + 1, 3 * mib2 + 12345, 8 * mib2};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        check_big(sizes[i], 1);
        check_big(1, sizes[i]);
    }
    check_big(262144, 8); /* a proctree map's size */
    check_big(0, 16);     /* an empty table is still one allocation */
    xfree_big(NULL, 1, mib2);
}

/* Tables freed and made again (a map doubling) reuse nothing dirty. */
static void test_big_again_zeroed(void **state)
{
    (void)state;
    for (int round = 0; round < 4; round++) {
        size_t n = (size_t)1 << (18 + round);
        unsigned char *p = xcalloc_big(n, 8);
        for (size_t i = 0; i < n * 8; i += 4096)
            assert_int_equal(p[i], 0);
        memset(p, 0xFF, n * 8);
        xfree_big(p, n, 8);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_big_sizes),
        cmocka_unit_test(test_big_again_zeroed),
    };
    return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
