/* Memory on huge pages (src/util/mem.c): xmap_huge's mappings (aligned,
 * zeroed, whole huge pages), an arena whose blocks they are (what it hands
 * out stays where it was put, across blocks, a reset and a free), and the
 * heap after mem_heap_on_huge_pages, called first as main calls it: every
 * block still a block of its own, the large ones too, and the span it
 * advised marked so in /proc/self/smaps where the kernel has huge pages;
 * and the big tables' allocation (xcalloc_big): zeroed and writable at every
 * size either side of the 2 MiB where it becomes a mapping of its own,
 * aligned to 2 MiB there, given back by xfree_big with the same sizes;
 * and a thread's own arena after mem_thread_heap_on_huge_pages: the mapping
 * that holds its blocks advised, with the reserve it grows into. */
#include "testutil.h"

#include <malloc.h>
#include <pthread.h>
#include <stdint.h>

#include "util/mem.h"

#define HUGE ((size_t)2 << 20)

static void test_map_huge(void **state)
{
    (void)state;
    size_t sizes[] = {1, 4096, HUGE - 1, HUGE, HUGE + 1, 5 * HUGE};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(*sizes); i++) {
        size_t len = sizes[i];
        unsigned char *p = xmap_huge(&len);
        assert_true(len >= sizes[i] && len % HUGE == 0 && len - sizes[i] < HUGE);
        assert_true((uintptr_t)p % HUGE == 0);
        for (size_t off = 0; off < len; off += 4096)
            assert_int_equal(p[off], 0);
        p[len - 1] = 1;
        memset(p, 0x5a, sizes[i]);
        xunmap_huge(p, len);
    }
}

/* Blocks of the arena filled with a pattern each, checked after many more. */
static void test_arena_huge(void **state)
{
    (void)state;
    struct arena a;
    arena_init_huge(&a, 1u << 20);
    enum {
        N = 3000
    };
    unsigned char *v[N];
    size_t len[N];
    for (size_t i = 0; i < N; i++) {
        len[i] = 1 + (i * 7919) % 5000; /* 7.5 MB in all: several blocks */
        v[i] = arena_alloc(&a, len[i]);
        assert_true((uintptr_t)v[i] % 8 == 0);
        memset(v[i], (int)(i & 0xff), len[i]);
    }
    unsigned char *big = arena_zalloc(&a, 3 * HUGE); /* larger than a block */
    for (size_t off = 0; off < 3 * HUGE; off += 4096)
        assert_int_equal(big[off], 0);
    for (size_t i = 0; i < N; i++)
        for (size_t k = 0; k < len[i]; k++)
            assert_int_equal(v[i][k], i & 0xff);
    arena_reset(&a);
    char *s = arena_strdup(&a, "after the reset");
    assert_string_equal(s, "after the reset");
    arena_free(&a);
    arena_free(&a); /* freed twice: nothing left the second time */
}

/* mem_heap_on_huge_pages ran first (main): blocks small and large. */
static void test_heap_after(void **state)
{
    (void)state;
    enum {
        N = 20000
    };
    unsigned char **v = malloc(N * sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < N; i++) {
        size_t n = i % 1000 == 0 ? (size_t)3 << 20 : 16 + i % 700;
        v[i] = malloc(n);
        assert_non_null(v[i]);
        memset(v[i], (int)(i & 0xff), n < 64 ? n : 64);
    }
    for (size_t i = 0; i < N; i++) {
        for (size_t k = 0; k < 16; k++)
            assert_int_equal(v[i][k], i & 0xff);
        free(v[i]);
    }
    free(v);
}

static bool thp_offered(void)
{
    FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
    if (!f)
        return false;
    char b[128] = {0};
    bool ok = fgets(b, sizeof(b), f) && !strstr(b, "[never]");
    fclose(f);
    return ok;
}

/* The heap has a span advised for huge pages (VmFlags "hg"), of at least
 * what was asked but the unaligned ends. */
static void test_heap_advised(void **state)
{
    (void)state;
    if (!thp_offered() || !MEM_MALLOC_IS_GLIBC) {
        skip();
        return;
    }
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    unsigned long lo = 0, hi = 0, advised = 0;
    bool heap = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
            lo = a;
            hi = b;
            heap = strstr(line, "[heap]") != NULL;
        } else if (heap && !strncmp(line, "VmFlags:", 8) && strstr(line, " hg")) {
            advised += hi - lo;
        }
    }
    fclose(f);
    assert_true(advised >= (16u << 20) - 2 * HUGE);
}

/* The smaps VmFlags of the mapping holding at: whether it is advised
 * ("hg"), and its end (*hi); false when no mapping holds at. */
static bool advised_at(uintptr_t at, bool *hg, unsigned long *hi)
{
    FILE *f = fopen("/proc/self/smaps", "r");
    assert_non_null(f);
    char line[512];
    unsigned long lo = 0, end = 0;
    bool found = false, here = false;
    while (fgets(line, sizeof(line), f)) {
        unsigned long a, b;
        if (sscanf(line, "%lx-%lx ", &a, &b) == 2) {
            lo = a;
            end = b;
            here = lo <= at && at < end;
        } else if (here && !strncmp(line, "VmFlags:", 8)) {
            *hg = strstr(line, " hg") != NULL;
            *hi = end;
            found = true;
        }
    }
    fclose(f);
    return found;
}

struct thread_check {
    bool before, after, reserve; /* advised: the block's mapping, then; the reserve after */
    bool found;
};

static void *thread_heap(void *arg)
{
    struct thread_check *c = arg;
    void *block = malloc(1000); /* the thread's arena is made by its first malloc */
    unsigned long hi = 0, hi2 = 0;
    c->found = block && advised_at((uintptr_t)block, &c->before, &hi);
    mem_thread_heap_on_huge_pages();
    c->found = c->found && advised_at((uintptr_t)block, &c->after, &hi);
    /* the reserve the arena opens as it grows, right after the open part */
    bool reserve = false;
    if (c->found && advised_at(hi, &reserve, &hi2))
        c->reserve = reserve;
    free(block);
    return NULL;
}

static void test_thread_heap_advised(void **state)
{
    (void)state;
    if (!thp_offered() || !MEM_MALLOC_IS_GLIBC) {
        skip();
        return;
    }
    struct thread_check c = {0};
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, thread_heap, &c), 0);
    assert_int_equal(pthread_join(th, NULL), 0);
    assert_true(c.found);
    assert_false(c.before); /* what the test shows is the call's, not the kernel's default */
    assert_true(c.after);
    assert_true(c.reserve);
}

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
    mem_heap_on_huge_pages(16u << 20);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_map_huge),
        cmocka_unit_test(test_arena_huge),
        cmocka_unit_test(test_heap_after),
        cmocka_unit_test(test_heap_advised),
        cmocka_unit_test(test_big_sizes),
        cmocka_unit_test(test_big_again_zeroed),
        cmocka_unit_test(test_thread_heap_advised),
    };
    return cmocka_run_group_tests_name("mem", tests, NULL, NULL);
}
