/* src/behaviour/krbname.c: sAMAccountName spoofing (noPac) from 4768/4769,
 * next to the tickets every domain has: computers' own tickets (with their
 * $), users' tickets to computers, names that only begin alike. */
#include "testutil.h"

#include "behaviour/krbname.h"

static const struct stoat_rule_meta *ticket(const char *host, const char *eid, const char *user, const char *service)
{
    struct stoat_field f[2];
    size_t n = 0;
    if (user)
        f[n++] = (struct stoat_field){
            .name = "TargetUserName", .value = user, .name_len = 14, .value_len = (uint32_t)strlen(user)};
    if (service)
        f[n++] = (struct stoat_field){
            .name = "ServiceName", .value = service, .name_len = 11, .value_len = (uint32_t)strlen(service)};
    struct stoat_alert a = {.host = host, .time_ns = 0, .event_id = eid, .fields = f, .nfields = n};
    return krbname_event(&a);
}

#define DC "dc01.corp.example"

static void test_spoofed_names(void **state)
{
    (void)state;
    /* a TGT for "dc01" on dc01 */
    const struct stoat_rule_meta *m = ticket(DC, "4768", "dc01", "krbtgt");
    assert_non_null(m);
    assert_string_equal(m->id, KRBNAME_ID);
    assert_int_equal(m->level, STOAT_LEVEL_HIGH);
    /* S4U2self of "DC01" to "dc01$" (case does not matter) */
    assert_non_null(ticket(DC, "4769", "DC01@CORP.EXAMPLE", "dc01$"));
    /* another computer's name, to that computer, logged by another DC */
    assert_non_null(ticket("dc02.corp.example", "4769", "fs01@CORP.EXAMPLE", "FS01$"));
    /* a host name without a domain */
    assert_non_null(ticket("DC01", "4768", "dc01", "krbtgt"));
}

static void test_ordinary_tickets(void **state)
{
    (void)state;
    assert_null(ticket(DC, "4768", "DC01$", "krbtgt"));             /* the DC's own TGT */
    assert_null(ticket(DC, "4769", "DC01$@CORP.EXAMPLE", "DC01$")); /* and its own service ticket */
    assert_null(ticket(DC, "4769", "alice@CORP.EXAMPLE", "FS01$")); /* a user to a server */
    assert_null(ticket(DC, "4768", "dc01-admin", "krbtgt"));        /* begins like the DC */
    assert_null(ticket(DC, "4768", "dc0", "krbtgt"));               /* a prefix of it */
    assert_null(ticket(DC, "4769", "fs01@CORP.EXAMPLE", "FS01$X")); /* not the same name */
    assert_null(ticket(DC, "4769", "fs01@CORP.EXAMPLE", "fs01"));   /* a service named as the user */
    assert_null(ticket(DC, "4769", "@CORP.EXAMPLE", "$"));          /* an empty name */
    assert_null(ticket(DC, "4624", "dc01", "krbtgt"));              /* another event */
    assert_null(ticket(DC, "4768", NULL, "krbtgt"));                /* no account */
    assert_null(ticket(NULL, "4768", "dc01", NULL));                /* no host, no service */
    struct stoat_alert a = {.event_id = NULL};
    assert_null(krbname_event(&a));
}

static void test_rule_text(void **state)
{
    (void)state;
    assert_non_null(strstr(krbname_rules(), KRBNAME_RULE));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spoofed_names),
        cmocka_unit_test(test_ordinary_tickets),
        cmocka_unit_test(test_rule_text),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
