/* One error channel: a create function that fails says why through the
 * caller's diag callback (as loading rules and opening a store do), with
 * an error code, and leaves *out NULL. No message buffer in any signature. */
#include "testutil.h"

#include "stoat/serve.h"
#include "stoat/watch.h"

static void test_serve_refuses_open_address_without_token(void **state)
{
    (void)state;
    struct tu_diags ds = {0};
    struct stoat_serve_opts o = {
        .db_path = "/nonexistent/none.db", .addr = "192.0.2.1", .diag = tu_diag_cb, .diag_ctx = &ds};
    struct stoat_serve *sv = (struct stoat_serve *)&ds; /* must be reset */
    assert_int_equal(stoat_serve_start(&o, &sv), STOAT_ERR_ARG);
    assert_null(sv);
    assert_int_equal(ds.n, 1);
    assert_int_equal(ds.v[0].code, STOAT_ERR_ARG);
    assert_int_equal(ds.v[0].severity, STOAT_SEV_ERROR);
    assert_non_null(tu_diags_find(&ds, "192.0.2.1 is not a loopback address"));
    tu_diags_free(&ds);
}

static void test_serve_names_missing_store(void **state)
{
    (void)state;
    struct tu_diags ds = {0};
    struct stoat_serve_opts o = {.db_path = "/nonexistent/none.db", .diag = tu_diag_cb, .diag_ctx = &ds};
    struct stoat_serve *sv = NULL;
    assert_int_not_equal(stoat_serve_start(&o, &sv), STOAT_OK);
    assert_null(sv);
    assert_int_equal(ds.n, 1);
    assert_non_null(tu_diags_find(&ds, "no such store"));
    tu_diags_free(&ds);
}

static void test_serve_without_diag_still_fails_cleanly(void **state)
{
    (void)state;
    struct stoat_serve_opts o = {.db_path = "/nonexistent/none.db"};
    struct stoat_serve *sv = NULL;
    assert_int_not_equal(stoat_serve_start(&o, &sv), STOAT_OK);
    assert_null(sv);
}

static void test_watch_names_missing_replay(void **state)
{
    (void)state;
    struct tu_diags ds = {0};
    struct stoat_ruleset *rs = tu_build1("title: T\nid: 00000000-0000-4000-8000-0000000000c1\nstatus: test\n"
                                         "level: low\nlogsource: " TU_PROC "\ndetection:\n  sel:\n"
                                         "    CommandLine|contains: x\n  condition: sel\n",
                                         NULL, NULL);
    assert_non_null(rs);
    struct stoat_watch_opts o = {.replay_path = "/nonexistent/capture", .diag = tu_diag_cb, .diag_ctx = &ds};
    struct stoat_watch *w = NULL;
    assert_int_not_equal(stoat_watch_create(rs, &o, &w), STOAT_OK);
    assert_null(w);
    assert_int_equal(ds.n, 1);
    assert_int_equal(ds.v[0].severity, STOAT_SEV_ERROR);
    assert_non_null(tu_diags_find(&ds, "/nonexistent/capture"));
    tu_diags_free(&ds);
    stoat_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_serve_refuses_open_address_without_token),
        cmocka_unit_test(test_serve_names_missing_store),
        cmocka_unit_test(test_serve_without_diag_still_fails_cleanly),
        cmocka_unit_test(test_watch_names_missing_replay),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
