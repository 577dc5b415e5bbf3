/* src/pipeline/records.c: the field the workers find as naming an event's
 * account (records_account_field) is the one facts_digest would read with
 * facts_field (User, else SubjectUserName, case aside, with a value), and
 * facts_digest told it before the event's first alert (facts_memo_take)
 * digests as it does looking the fields up itself. */
#include "testutil.h"

#include "behaviour/facts.h"
#include "event/event.h"
#include "pipeline/records.h"

static void test_account_field(void **state)
{
    (void)state;
    static const char *const names[] = {
        "User",        "user",           "USER", "SubjectUserName", "subjectusername", "Usr", "Users", "Us\0r", "Image",
        "SubjectUser", "TargetUserName", "uSeR", "SUBJECTUSERNAME"};
    static const uint32_t name_lens[] = {4, 4, 4, 15, 15, 3, 5, 4, 5, 11, 14, 4, 15};
    enum {
        N = 12
    };
    struct ev_field fs[N];
    struct stoat_field sf[N];
    char values[N][300];
    uint64_t r = 0x2545F4914F6CDD1DULL;
    uint64_t serial = 0;
    struct facts_memo memo = {0};
    for (int round = 0; round < 20000; round++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        size_t nf = r % (N + 1);
        for (size_t i = 0; i < nf; i++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            size_t k = r % (sizeof(names) / sizeof(names[0]));
            /* empty now and then; now and then longer than the copy keeps */
            size_t vl = (r >> 8) % 4 == 0 ? 0 : (r >> 12) % 7 == 0 ? 280 : snprintf(values[i], 300, "v%zu", i);
            if (vl == 280)
                memset(values[i], 'a' + (int)i, vl);
            values[i][vl] = 0;
            fs[i] = (struct ev_field){
                .name = names[k], .name_len = name_lens[k], .val = values[i], .val_len = (uint32_t)vl};
            sf[i] = (struct stoat_field){
                .name = names[k], .name_len = name_lens[k], .value = values[i], .value_len = (uint32_t)vl};
        }
        int32_t field = records_account_field(fs, nf);
        struct stoat_alert a = {.fields = sf, .nfields = nf, .host = "h", .event_serial = ++serial};
        char want[256], got[256];
        const char *v = facts_field(&a, "User", want, sizeof(want));
        if (!v)
            v = facts_field(&a, "SubjectUserName", want, sizeof(want));
        if (!v) {
            assert_int_equal(field, -1);
        } else {
            assert_true(field >= 1 && (size_t)field <= nf);
            size_t n = sf[field - 1].value_len < 255 ? sf[field - 1].value_len : 255;
            memcpy(got, sf[field - 1].value, n);
            got[n] = 0;
            assert_string_equal(got, want);
        }
        /* told before the first alert, the digest as without the memo */
        facts_memo_take(&memo, &a, field);
        struct cross_alert with, without;
        char acct_with[256], acct_without[256];
        facts_digest(&a, 0, &with, acct_with, &memo);
        facts_digest(&a, 0, &without, acct_without, NULL);
        if (!without.account)
            assert_null(with.account);
        else
            assert_string_equal(with.account, without.account);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_account_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
