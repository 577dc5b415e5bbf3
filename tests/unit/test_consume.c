/* src/pipeline/consume.c: the values the serial stage reads of events.
 * consume_time reads the usual timestamp shape on a fast path, with the
 * last minute's date arithmetic kept: it must read every text as the slow
 * path (parse_timestamp) does, whatever came before. */
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "pipeline/consume.h"

static void same(const char *s, size_t n)
{
    int64_t fast = consume_time(s, (uint32_t)n), slow = consume_time_slow(s, (uint32_t)n);
    if (fast != slow)
        fail_msg("\"%.*s\": fast %lld, slow %lld", (int)n, s, (long long)fast, (long long)slow);
}

static void test_time_shapes(void **state)
{
    (void)state;
    static const char *const texts[] = {"2026-11-18T11:06:40.000000Z",
                                        "2026-11-18T11:06:41.5Z",
                                        "2026-11-18 11:06:40.000",
                                        "2026-11-18t11:06:40z",
                                        "2026-11-18T11:06:40Z",
                                        "2026-11-18T11:06:40",
                                        "2026-11-18T11:07:00.1234567891234Z",
                                        "2026-11-18T11:07:60Z",
                                        "2026-11-18T11:07:61Z",
                                        "2026-11-18T11:07:6xZ",
                                        "2026-11-18T11:07:00.Z",
                                        "2026-11-18T11:07:00,25Z",
                                        "2026-11-18T11:07:00.25+02:00",
                                        "2026-11-18T11:07:00 +0900",
                                        " 2026-11-18T11:07:00Z",
                                        "2026-11-18T11:07:00Z ",
                                        "2026-11-18T24:07:00Z",
                                        "2026-11-18T23:60:00Z",
                                        "2026-13-18T11:07:00Z",
                                        "2026-11-32T11:07:00Z",
                                        "2026-11-18X11:07:00Z",
                                        "1677-09-21T00:12:44Z",
                                        "1677-09-21T00:12:43.145224191Z",
                                        "2262-04-11T23:47:16.854775807Z",
                                        "2262-04-11T23:47:17Z",
                                        "9999-12-31T23:59:59Z",
                                        "0000-01-01T00:00:00Z",
                                        "1700-01-01T00:00:00Z",
                                        "2199-12-31T23:59:60.999999999Z",
                                        "2024-02-29T12:00:00Z",
                                        "2023-02-29T12:00:00Z",
                                        "2026-11-18",
                                        "2026-11-18T11:06",
                                        "2026-11-18T11:06:4",
                                        "",
                                        "x",
                                        "2026-11-18T11:06:40.000000ZZ",
                                        "2026-11-18T1a:06:40Z",
                                        "2026-11-18T11:0a:40Z",
                                        "2O26-11-18T11:06:40Z",
                                        "-026-11-18T11:06:40Z",
                                        "2026-1-118T11:06:40Z"};
    /* each twice and after each other, so that cached minutes meet the
     * texts they do not fit */
    for (int round = 0; round < 3; round++)
        for (size_t i = 0; i < sizeof(texts) / sizeof(texts[0]); i++) {
            same(texts[i], strlen(texts[i]));
            same(texts[(i * 7 + round) % (sizeof(texts) / sizeof(texts[0]))],
                 strlen(texts[(i * 7 + round) % (sizeof(texts) / sizeof(texts[0]))]));
        }
    assert_int_equal(consume_time(NULL, 0), INT64_MIN);
}

/* Random edits of a timestamp: a byte changed, the text cut, in a run
 * where the minute cache holds what the previous text left. */
static void test_time_mutations(void **state)
{
    (void)state;
    static const char base[] = "2026-11-18T11:06:40.123456789Z";
    static const char bytes[] = "0123456789:-.,TtZz +x";
    uint64_t r = 12345;
    for (int k = 0; k < 200000; k++) {
        char t[40];
        memcpy(t, base, sizeof(base));
        size_t n = sizeof(base) - 1;
        r = r * 6364136223846793005ULL + 1442695040888963407ULL;
        int edits = (int)(r >> 62);
        for (int e = 0; e < edits; e++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            t[(r >> 33) % n] = bytes[(r >> 20) % (sizeof(bytes) - 1)];
        }
        if ((r >> 10) % 4 == 0)
            n = (size_t)((r >> 40) % (n + 1));
        same(t, n);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_time_shapes),
        cmocka_unit_test(test_time_mutations),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
