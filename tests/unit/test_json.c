/* The JSON reader, through whole hunts: JSON lines, arrays, concatenated
 * pretty-printed objects, gzip, the SigmaHQ (#attributes/#text) and
 * xmltodict (@Name/#text) shapes, Winlogbeat paths, escapes, malformed and
 * oversized records (reported with file:line, skipped, the rest processed),
 * and files that hold nothing. */
#include "testutil.h"

#include <sys/stat.h>
#include <zlib.h>

#include "event/mapping.h"
#include "event/render.h"
#include "readers/json_int.h"
#include "readers/reader.h"
#include "util/buf.h"
#include "util/text.h"

/* Matches any process-creation event whose CommandLine contains "marker". */
static const char *const marker_rule = PROC_RULE("  sel:\n    CommandLine|contains: 'marker'\n  condition: sel\n");

#define EV(cl) "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"" cl "\"}"

static struct stoat_ruleset *load(const char *rule)
{
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build1(rule, &ds, &ls);
    if (!rs || ls.loaded != 1)
        tu_diags_print(&ds, "loading");
    assert_non_null(rs);
    assert_int_equal(ls.loaded, 1);
    tu_diags_free(&ds);
    return rs;
}

/* Hunts data (as a file with suffix) with rule; h is the caller's to free. */
static void hunt(const char *rule, const char *data, size_t len, const char *suffix, struct tu_hunt *h)
{
    struct stoat_ruleset *rs = load(rule);
    struct tu_hunt_opts o = {.want_jsonl = true};
    tu_hunt_data(rs, data, len, suffix, &o, h);
    stoat_ruleset_destroy(rs);
}

static void hunt_str(const char *data, struct tu_hunt *h)
{
    hunt(marker_rule, data, strlen(data), ".jsonl", h);
}

static void test_json_lines(void **state)
{
    (void)state;
    const char *data = EV("a marker") "\n" EV("nothing") "\n\n   \n" EV("marker b") "\r\n" EV("c marker");
    struct tu_hunt h;
    hunt_str(data, &h);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.stats.files, 1);
    assert_int_equal(h.stats.records, 4);
    assert_int_equal(h.stats.events, 4);
    assert_int_equal(h.stats.skipped, 0);
    assert_int_equal(h.stats.files_failed, 0);
    assert_int_equal(h.v[0].record, 1);
    assert_int_equal(h.v[0].line, 1);
    assert_int_equal(h.v[1].record, 3);
    assert_int_equal(h.v[1].line, 5); /* blank lines count as lines, not records */
    assert_int_equal(h.v[2].record, 4);
    assert_int_equal(h.v[2].line, 6); /* no newline at the end */
    assert_int_equal(h.diags.n, 0);
    tu_hunt_free(&h);
}

static void test_byte_order_mark(void **state)
{
    (void)state;
    struct tu_hunt h;
    hunt_str("\xef\xbb\xbf" EV("marker") "\n" EV("marker") "\n", &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.stats.skipped, 0);
    tu_hunt_free(&h);
    hunt_str("\xef\xbb\xbf[\n" EV("marker") ",\n" EV("marker") "\n]\n", &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.stats.skipped, 0);
    tu_hunt_free(&h);
}

static void test_json_array(void **state)
{
    (void)state;
    struct tu_hunt h;
    hunt_str("[" EV("marker 1") "," EV("no") "," EV("marker 3") "]", &h); /* one line */
    assert_int_equal(h.n, 2);
    assert_int_equal(h.stats.records, 3);
    assert_int_equal(h.v[1].record, 3);
    tu_hunt_free(&h);
    hunt_str("[\n  " EV("marker 1") ",\n  " EV("no") ",\n  " EV("marker 3") "\n]\n", &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.stats.records, 3);
    assert_int_equal(h.v[0].line, 2);
    assert_int_equal(h.v[1].line, 4);
    tu_hunt_free(&h);
    hunt_str("[]", &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.stats.records, 0);
    assert_int_equal(h.stats.files_failed, 0);
    tu_hunt_free(&h);
}

/* A JSON array bigger than the 16 MiB record cap: its elements are the
 * records, not the array. One line, and pretty-printed. */
static void test_big_json_array(void **state)
{
    (void)state;
    for (int pretty = 0; pretty < 2; pretty++) {
        struct tu_str s = {0};
        tu_str_puts(&s, pretty ? "[\n" : "[");
        int n = 140000;
        for (int i = 0; i < n; i++)
            tu_str_printf(&s, "%s%s" EV("%s %d") "%s", i ? "," : "", pretty ? "\n  " : "",
                          i % 1000 == 0 ? "marker" : "plain padding padding padding padding padding padding", i, "");
        tu_str_puts(&s, pretty ? "\n]\n" : "]");
        assert_true(s.len > (17u << 20));
        struct tu_hunt h;
        hunt(marker_rule, s.p, s.len, ".json", &h);
        if (h.stats.records != (uint64_t)n)
            tu_diags_print(&h.diags, pretty ? "pretty array" : "one-line array");
        assert_int_equal(h.stats.records, n);
        assert_int_equal(h.stats.skipped, 0);
        assert_int_equal(h.n, n / 1000);
        assert_int_equal(h.v[h.n - 1].record, (uint64_t)(n / 1000 - 1) * 1000 + 1);
        tu_hunt_free(&h);
        tu_str_free(&s);
    }
}

/* A bad element in a pretty-printed array costs that element only. */
static void test_malformed_array_element(void **state)
{
    (void)state;
    const char *data =
        "[\n"
        "  {\n    \"Channel\": \"" TU_SYSMON "\",\n    \"EventID\": 1,\n    \"CommandLine\": \"marker 1\"\n  },\n"
        "  {\n    \"Channel\": \"" TU_SYSMON "\",\n    \"EventID\": 1,\n    \"CommandLine\": \"marker 2\" \"oops\",\n"
        "    \"Nested\": [\n      {\"a\": 1},\n      {\"b\": 2}\n    ]\n  },\n"
        "  {\n    \"Channel\": \"" TU_SYSMON "\",\n    \"EventID\": 1,\n    \"CommandLine\": \"marker 3\"\n  },\n"
        "  {\n    \"Channel\": \"" TU_SYSMON "\",\n    \"EventID\": 1,\n    \"CommandLine\": \"marker 4\"\n  }\n"
        "]\n";
    struct tu_hunt h;
    hunt(marker_rule, data, strlen(data), ".json", &h);
    assert_int_equal(h.stats.skipped, 1);
    assert_int_equal(h.diags.n, 1);
    assert_int_equal(h.diags.v[0].line, 10);
    if (h.n != 3)
        fprintf(stderr, "  -- %zu alerts after one bad element, expected 3\n", h.n);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.stats.events, 3);
    assert_int_equal(h.v[1].line, 16);
    assert_int_equal(h.v[2].line, 21);
    tu_hunt_free(&h);
}

/* JSON lines with more than one record on a line: side by side, separated by
 * a comma, or as an array. Each is an event, none is lost or complained of. */
static void test_several_records_on_a_line(void **state)
{
    (void)state;
    const char *data = EV("marker 1") " " EV("marker 2") "\n" EV("marker 3") "," EV(
        "marker 4") ",\n"
                    "[" EV("marker 5") ", " EV("marker 6") "]\n" EV("marker 7") "\n";
    struct tu_hunt h;
    hunt_str(data, &h);
    assert_int_equal(h.n, 7);
    assert_int_equal(h.stats.records, 7);
    assert_int_equal(h.stats.events, 7);
    assert_int_equal(h.stats.skipped, 0);
    assert_int_equal(h.diags.n, 0);
    static const uint64_t lines[] = {1, 1, 2, 2, 3, 3, 4};
    for (size_t i = 0; i < h.n; i++) {
        assert_int_equal(h.v[i].record, i + 1);
        assert_int_equal(h.v[i].line, lines[i]);
    }
    tu_hunt_free(&h);
}

/* An array of events with elements that are not objects, and a malformed
 * one: each of those is reported and counted, every event after it is
 * read. On one line and pretty-printed. */
static void test_array_elements_not_objects(void **state)
{
    (void)state;
    for (int pretty = 0; pretty < 2; pretty++) {
        const char *sep = pretty ? ",\n  " : ",";
        struct tu_str s = {0};
        tu_str_printf(&s,
                      "[%s" EV("marker 1") "%s5%s\"text\"%snull%s[1, {\"a\": 2}]%s" EV(
                          "marker 2") "%s"
                                      "{\"a\": }%s" EV("marker 3") "%stru%s" EV("marker 4") "%s]\n",
                      pretty ? "\n  " : "", sep, sep, sep, sep, sep, sep, sep, sep, sep, pretty ? "\n" : "");
        struct tu_hunt h;
        hunt(marker_rule, s.p, s.len, ".json", &h);
        assert_int_equal(h.n, 4);
        assert_int_equal(h.stats.events, 4);
        assert_int_equal(h.stats.records, 10);
        assert_int_equal(h.stats.skipped, 6);
        assert_int_equal(h.diags.n, 6);
        static const char *const why[] = {"a JSON number", "a JSON string",  "a JSON null",
                                          "a JSON array",  "malformed JSON", "malformed JSON"};
        static const uint64_t bad_lines[] = {3, 4, 5, 6, 8, 10}, event_lines[] = {2, 7, 9, 11};
        for (size_t i = 0; i < 6; i++) {
            if (!strstr(h.diags.v[i].text, why[i]))
                fail_msg("diagnostic %zu: %s (expected %s)", i, h.diags.v[i].text, why[i]);
            assert_int_equal(h.diags.v[i].line, pretty ? bad_lines[i] : 1);
        }
        for (size_t i = 0; i < h.n; i++)
            assert_int_equal(h.v[i].line, pretty ? event_lines[i] : 1);
        tu_hunt_free(&h);
        free(s.p);
    }
}

/* Many malformed records on one line, and in pretty-printed objects each
 * on a line indented deeper than the last: each is counted once, and the
 * event after them is read. */
static void test_many_bad_records(void **state)
{
    (void)state;
    for (int pretty = 0; pretty < 2; pretty++) {
        struct tu_str s = {0};
        tu_str_puts(&s, "[");
        for (int i = 0; i < 2000; i++) {
            if (pretty)
                tu_str_printf(&s, "\n%*s", 1 + i % 40, "");
            tu_str_puts(&s, "{\"a\": },");
        }
        tu_str_puts(&s, pretty ? "\n" EV("marker") "]\n" : EV("marker") "]");
        struct tu_hunt h;
        hunt(marker_rule, s.p, s.len, ".json", &h);
        assert_int_equal(h.n, 1);
        assert_int_equal(h.stats.skipped, 2000);
        assert_int_equal(h.stats.records, 2001);
        tu_hunt_free(&h);
        free(s.p);
    }
}

/* Like the .json files of SigmaHQ's regression_data: pretty-printed objects, one after
 * another, in the Event/System/EventData shape with #attributes. */
static const char *const pretty =
    "{\n"
    "  \"Event\": {\n"
    "    \"#attributes\": {\"xmlns\": \"http://schemas.microsoft.com/win/2004/08/events/event\"},\n"
    "    \"System\": {\n"
    "      \"Provider\": {\"#attributes\": {\"Name\": \"Microsoft-Windows-Sysmon\", \"Guid\": \"5770385F\"}},\n"
    "      \"EventID\": 1,\n"
    "      \"TimeCreated\": {\"#attributes\": {\"SystemTime\": \"2025-11-27T07:40:10.165324Z\"}},\n"
    "      \"Correlation\": null,\n"
    "      \"Execution\": {\"#attributes\": {\"ProcessID\": 3544, \"ThreadID\": 4272}},\n"
    "      \"Channel\": \"Microsoft-Windows-Sysmon/Operational\",\n"
    "      \"Computer\": \"ws1.corp\",\n"
    "      \"Security\": {\"#attributes\": {\"UserID\": \"S-1-5-18\"}}\n"
    "    },\n"
    "    \"EventData\": {\n"
    "      \"Image\": \"C:\\\\Windows\\\\System32\\\\whoami.exe\",\n"
    "      \"CommandLine\": \"whoami /all\"\n"
    "    }\n"
    "  }\n"
    "}\n"
    "{\n"
    "  \"Event\": {\n"
    "    \"System\": {\n"
    "      \"Provider\": {\"#attributes\": {\"Name\": \"Microsoft-Windows-Sysmon\"}},\n"
    "      \"EventID\": {\"#attributes\": {\"Qualifiers\": \"\"}, \"#text\": \"1\"},\n"
    "      \"TimeCreated\": {\"#attributes\": {\"SystemTime\": \"2025-11-27T07:41:00.000000Z\"}},\n"
    "      \"Channel\": \"Microsoft-Windows-Sysmon/Operational\",\n"
    "      \"Computer\": \"ws2.corp\"\n"
    "    },\n"
    "    \"EventData\": {\n"
    "      \"Image\": \"C:\\\\Windows\\\\System32\\\\whoami.exe\",\n"
    "      \"CommandLine\": \"whoami\"\n"
    "    }\n"
    "  }\n"
    "}\n";

static void test_pretty_objects_sigmahq_shape(void **state)
{
    (void)state;
    const char *rule = PROC_RULE("  sel:\n    Image|endswith: '\\whoami.exe'\n"
                                 "    Provider_Name: 'Microsoft-Windows-Sysmon'\n    Execution_ProcessID: 3544\n"
                                 "  condition: sel\n");
    struct tu_hunt h;
    hunt(rule, pretty, strlen(pretty), ".json", &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.stats.records, 2);
    assert_int_equal(h.stats.events, 2);
    assert_string_equal(h.v[0].host, "ws1.corp");
    assert_string_equal(h.v[0].timestamp, "2025-11-27T07:40:10.165324Z");
    assert_true(h.v[0].time_ns == 1764229210165324000LL);
    assert_string_equal(h.v[0].channel, TU_SYSMON);
    assert_string_equal(h.v[0].event_id, "1");
    assert_int_equal(h.v[0].line, 1);
    tu_hunt_free(&h);
    /* the second event: EventID as {"#text": "1"} still routes */
    const char *r2 = PROC_RULE("  sel:\n    CommandLine: 'whoami'\n    EventID_Qualifiers: ''\n  condition: sel\n");
    hunt(r2, pretty, strlen(pretty), ".json", &h);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.v[0].host, "ws2.corp");
    assert_string_equal(h.v[0].event_id, "1");
    assert_int_equal(h.v[0].line, 20);
    assert_int_equal(h.v[0].record, 2);
    tu_hunt_free(&h);
}

static void test_xmltodict_data(void **state)
{
    (void)state;
    const char *data = "{\"Event\":{\"System\":{\"EventID\":4688,\"Channel\":\"Security\",\"Computer\":\"dc1\"},"
                       "\"EventData\":{\"Data\":[{\"@Name\":\"NewProcessName\",\"#text\":\"C:\\\\W\\\\ntdsutil.exe\"},"
                       "{\"@Name\":\"CommandLine\",\"#text\":\"ntdsutil \\\"ac i ntds\\\" ifm\"},"
                       "{\"#text\":\"0x2a\",\"@Name\":\"ProcessId\"},"
                       "{\"Name\":\"TokenElevationType\",\"#text\":1937}]}}}\n";
    const char *rule = PROC_RULE("  sel:\n    Image|endswith: '\\ntdsutil.exe'\n    CommandLine|contains: 'ifm'\n"
                                 "    ParentProcessId: '0x2a'\n    TokenElevationType: 1937\n  condition: sel\n");
    struct tu_hunt h;
    hunt(rule, data, strlen(data), ".jsonl", &h);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.v[0].host, "dc1");
    tu_hunt_free(&h);
}

/* Named values may come before the System element: the names that follow
 * them keep their own paths (Channel, EventID and Computer still route). */
static void test_xmltodict_data_before_system(void **state)
{
    (void)state;
    const char *data =
        "{\"Event\":{\"EventData\":{\"Data\":[{\"@Name\":\"NewProcessName\",\"#text\":\"C:\\\\W\\\\ntdsutil.exe\"},"
        "{\"@Name\":\"CommandLine\",\"#text\":\"ntdsutil ifm\"}],\"Extra\":{\"Name\":\"x\",\"Other\":1}},"
        "\"System\":{\"EventID\":4688,\"Channel\":\"Security\",\"Computer\":\"dc1\"}}}\n";
    const char *rule = PROC_RULE("  sel:\n    Image|endswith: '\\ntdsutil.exe'\n    CommandLine|contains: 'ifm'\n"
                                 "  condition: sel\n");
    struct tu_hunt h;
    hunt(rule, data, strlen(data), ".jsonl", &h);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.v[0].host, "dc1");
    assert_string_equal(h.v[0].channel, "Security");
    assert_string_equal(h.v[0].event_id, "4688");
    /* an object that only starts like a named value is flattened as usual */
    assert_non_null(strstr(h.jsonl, "\"Extra.Name\":\"x\""));
    assert_non_null(strstr(h.jsonl, "\"Extra.Other\":1"));
    tu_hunt_free(&h);
}

/* More distinct names than the reader caches (records of 4000 fields, each
 * name new): the names after the cache is full are worked out per record,
 * and the event still carries them right. */
static void test_more_names_than_the_cache(void **state)
{
    (void)state;
    struct buf b = {0};
    for (int r = 0; r < 18; r++) {
        buf_puts(&b, "{\"Junk\":{");
        for (int i = 0; i < 4000; i++)
            buf_printf(&b, "%s\"j%d_%d\":1", i ? "," : "", r, i);
        buf_puts(&b, "}}\n");
    }
    buf_puts(&b,
             "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker late\",\"Image\":\"C:\\\\x.exe\","
             "\"Deep\":{\"A\":{\"#attributes\":{\"B\":7}}}}\n");
    struct tu_hunt h;
    hunt(marker_rule, b.p, b.len, ".jsonl", &h);
    assert_int_equal(h.n, 1);
    assert_non_null(strstr(h.jsonl, "\"CommandLine\":\"marker late\""));
    assert_non_null(strstr(h.jsonl, "\"Image\":\"C:\\\\x.exe\""));
    assert_non_null(strstr(h.jsonl, "\"Deep.A_B\":7"));
    tu_hunt_free(&h);
    buf_free(&b);
}

/* A record of more than EVENT_MAX_FIELDS values: the first that many are
 * the event (matched, written), the rest dropped with a warning, and the
 * next record is read whole. */
static void test_too_many_fields(void **state)
{
    (void)state;
    struct buf b = {0};
    buf_puts(&b, "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker many\"");
    for (int i = 0; i < EVENT_MAX_FIELDS + 100; i++)
        buf_printf(&b, ",\"j%d\":%d", i, i);
    buf_puts(&b, ",\"Late\":\"marker\"}\n" EV("marker next") "\n");
    struct tu_hunt h;
    hunt(marker_rule, b.p, b.len, ".jsonl", &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.stats.events, 2);
    assert_non_null(tu_diags_find(&h.diags, "too many fields"));
    char last[32], first_dropped[32];
    snprintf(last, sizeof(last), "\"j%d\":%d", EVENT_MAX_FIELDS - 4, EVENT_MAX_FIELDS - 4);
    snprintf(first_dropped, sizeof(first_dropped), "\"j%d\":", EVENT_MAX_FIELDS - 3);
    assert_non_null(strstr(h.jsonl, last));
    assert_null(strstr(h.jsonl, first_dropped));
    assert_null(strstr(h.jsonl, "\"Late\""));
    assert_non_null(strstr(h.jsonl, "marker next"));
    tu_hunt_free(&h);
    buf_free(&b);
}

static void test_winlogbeat_shape(void **state)
{
    (void)state;
    const char *data =
        "{\"@timestamp\":\"2025-01-02T03:04:05.000Z\",\"host\":{\"name\":\"srv9\"},"
        "\"winlog\":{\"channel\":\"Security\",\"event_id\":4688,\"computer_name\":\"srv9.corp\","
        "\"event_data\":{\"NewProcessName\":\"C:\\\\W\\\\vssadmin.exe\",\"CommandLine\":\"vssadmin create shadow\"}}}\n";
    const char *rule = PROC_RULE("  sel:\n    Image|endswith: '\\vssadmin.exe'\n    CommandLine|contains: 'shadow'\n"
                                 "  condition: sel\n");
    struct tu_hunt h;
    hunt(rule, data, strlen(data), ".jsonl", &h);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.v[0].host, "srv9.corp"); /* Computer comes first in the mapping */
    assert_string_equal(h.v[0].timestamp, "2025-01-02T03:04:05.000Z");
    assert_string_equal(h.v[0].event_id, "4688");
    tu_hunt_free(&h);
}

/* NXLog's flat shape (im_msvistalog, to_json): EventTime is the time
 * (zone-less: taken as UTC, which NXLog writes when configured as
 * docs/shippers.md says), Hostname the host, SourceName the provider. */
static void test_nxlog_shape(void **state)
{
    (void)state;
    const char *data =
        "{\"EventTime\":\"2026-11-19 06:03:00\",\"Hostname\":\"fs01.corp.example\",\"EventType\":\"AUDIT_SUCCESS\","
        "\"EventID\":4624,\"SourceName\":\"Microsoft-Windows-Security-Auditing\",\"Channel\":\"Security\","
        "\"TargetUserName\":\"alice\",\"LogonType\":\"3\",\"IpAddress\":\"10.0.0.5\","
        "\"EventReceivedTime\":\"2026-11-19 06:03:01\",\"SourceModuleType\":\"im_msvistalog\"}\n"
        "{\"EventTime\":\"2026-11-19T07:03:00.250+01:00\",\"Hostname\":\"fs02\",\"EventID\":4624,"
        "\"SourceName\":\"Microsoft-Windows-Security-Auditing\",\"Channel\":\"Security\",\"TargetUserName\":\"alice\"}\n";
    const char *rule = TU_RULE("{product: windows, service: security}",
                               "  sel:\n    EventID: 4624\n    TargetUserName: alice\n"
                               "    Provider_Name: Microsoft-Windows-Security-Auditing\n  condition: sel\n");
    struct tu_hunt h;
    hunt(rule, data, strlen(data), ".json", &h);
    assert_int_equal(h.n, 2);
    assert_string_equal(h.v[0].host, "fs01.corp.example");
    assert_true(h.v[0].time_ns == 1795068180000000000LL); /* 2026-11-19T06:03:00Z */
    assert_string_equal(h.v[1].host, "fs02");
    assert_true(h.v[1].time_ns == 1795068180250000000LL); /* the same instant, written with its zone */
    tu_hunt_free(&h);
}

/* Fluent Bit's in_winevtlog: ComputerName is the host, TimeCreated has a
 * blank before its zone, ProviderName the provider. */
static void test_fluentbit_shape(void **state)
{
    (void)state;
    const char *data =
        "{\"Channel\":\"Security\",\"ProviderName\":\"Microsoft-Windows-Security-Auditing\",\"EventID\":4624,"
        "\"TimeCreated\":\"2026-11-19 15:03:00 +0900\",\"EventRecordID\":7,\"ComputerName\":\"dc01.corp\","
        "\"Message\":\"An account was successfully logged on.\",\"StringInserts\":[\"S-1-5-18\",\"alice\"]}\n";
    const char *rule = TU_RULE("{product: windows, service: security}",
                               "  sel:\n    EventID: 4624\n    Provider_Name: Microsoft-Windows-Security-Auditing\n"
                               "  condition: sel\n");
    struct tu_hunt h;
    hunt(rule, data, strlen(data), ".json", &h);
    assert_int_equal(h.n, 1);
    assert_string_equal(h.v[0].host, "dc01.corp");
    assert_true(h.v[0].time_ns == 1795068180000000000LL); /* 2026-11-19T06:03:00Z */
    tu_hunt_free(&h);
}

static void test_escapes(void **state)
{
    (void)state;
    static const struct {
        const char *json; /* the JSON string body as written in the file */
        const char *rule; /* the rule value (YAML single-quoted) */
    } cases[] = {
        {"smile \\ud83d\\ude00 marker", "smile \xf0\x9f\x98\x80 marker"}, /* surrogate pair -> U+1F600 */
        {"caf\\u00e9 marker", "café marker"},
        {"\\u041f\\u0420\\u0418 marker", "при marker"}, /* and folded */
        {"a\\\"q\\\" marker", "a\"q\" marker"},
        {"C:\\\\Temp\\\\marker", "C:\\Temp\\marker"},
        {"http:\\/\\/x\\/marker", "http://x/marker"},
        {"tab\\tmarker", "tab\tmarker"},
        {"lone \\ud800 marker", "lone \xef\xbf\xbd marker"}, /* lone surrogate -> U+FFFD */
        {"lone \\udc00x marker", "lone \xef\xbf\xbdx marker"},
        {"\\u0041\\u0062c marker", "Abc marker"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        struct tu_str ev = {0}, rule = {0};
        tu_str_printf(&ev, "{\"Channel\":\"%s\",\"EventID\":1,\"CommandLine\":\"%s\"}\n", TU_SYSMON, cases[i].json);
        tu_str_printf(&rule, PROC_RULE("  sel:\n    CommandLine: '%s'\n  condition: sel\n"), cases[i].rule);
        struct tu_hunt h;
        hunt(rule.p, ev.p, ev.len, ".jsonl", &h);
        if (h.n != 1) {
            fprintf(stderr, "  -- escape case %zu: %s\n", i, ev.p);
            tu_diags_print(&h.diags, NULL);
        }
        assert_int_equal(h.n, 1);
        assert_int_equal(h.stats.skipped, 0);
        tu_hunt_free(&h);
        tu_str_free(&ev);
        tu_str_free(&rule);
    }
    /* bad escapes make the record malformed */
    struct tu_hunt h;
    hunt_str("{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"bad \\x marker\"}\n"
             "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"bad \\u12 marker\"}\n"
             "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"bad \\uZZZZ marker\"}\n" EV("marker") "\n",
             &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.stats.skipped, 3);
    assert_int_equal(h.diags.n, 3);
    tu_hunt_free(&h);
}

static void test_values_of_every_type(void **state)
{
    (void)state;
    const char *data = "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker\",\"Flag\":true,"
                       "\"Off\":false,\"Nothing\":null,\"Num\":-1.5e3,\"Tags\":[\"a\",\"b\",[\"c\"]],"
                       "\"Empty\":{},\"EmptyList\":[],\"Nested\":{\"Deep\":{\"Er\":\"x\"}}}\n";
    const char *rule = PROC_RULE("  sel:\n    Flag: true\n    Off: 'false'\n    Num|lt: -1000\n    Tags: c\n"
                                 "    Nested.Deep.Er: x\n    Nothing: null\n  condition: sel\n");
    struct tu_hunt h;
    hunt(rule, data, strlen(data), ".jsonl", &h);
    assert_int_equal(h.n, 1);
    tu_hunt_free(&h);
}

static void test_malformed_records(void **state)
{
    (void)state;
    const char *data = EV("marker 1") "\n"                     /* 1 */
                                      "{\"Channel\": \"x\",\n" /* 2: unterminated */
        EV("marker 3") "\n"                                    /* 3 */
                       "not json at all\n"                     /* 4 */
                       "[1, 2]\n"                              /* 5: an array, not an object */
                       "{\"a\" 1}\n"                           /* 6: no colon */
                       "{\"a\": tru}\n"                        /* 7 */
                       "{\"a\": \"unterminated}\n"             /* 8 */
        EV("marker 9") " trailing\n"                           /* 9: the event, then a bad record */
        EV("marker 10") "\n";                                  /* 10 */
    struct tu_hunt h;
    hunt_str(data, &h);
    assert_int_equal(h.n, 4);
    assert_int_equal(h.stats.records, 11);
    assert_int_equal(h.stats.events, 4);
    assert_int_equal(h.stats.skipped, 7);
    assert_int_equal(h.stats.files_failed, 0);
    static const uint64_t bad_lines[] = {2, 4, 5, 6, 7, 8, 9};
    assert_int_equal(h.diags.n, 7);
    for (size_t i = 0; i < h.diags.n; i++) {
        const struct tu_diag *d = &h.diags.v[i];
        assert_int_equal(d->code, STOAT_ERR_INPUT);
        assert_non_null(d->file);
        assert_non_null(strstr(d->file, "/tmp/stoat-test-"));
        if (d->line != bad_lines[i])
            fprintf(stderr, "  -- diagnostic %zu at line %llu, expected %llu: %s\n", i, (unsigned long long)d->line,
                    (unsigned long long)bad_lines[i], d->text);
        assert_int_equal(d->line, bad_lines[i]);
    }
    assert_non_null(strstr(h.diags.v[2].text, "a JSON array where an object was expected"));
    assert_non_null(strstr(h.diags.v[6].text, "malformed JSON, record skipped"));
    assert_int_equal(h.v[2].line, 9);
    assert_int_equal(h.v[2].record, 9);
    assert_int_equal(h.v[3].line, 10);
    assert_int_equal(h.v[3].record, 11);
    tu_hunt_free(&h);
}

static void test_malformed_in_pretty_objects(void **state)
{
    (void)state;
    const char *data = "{\n  \"Channel\": \"" TU_SYSMON "\",\n  \"EventID\": 1,\n  \"CommandLine\": \"marker\"\n}\n"
                       "{\n  \"Channel\": \"" TU_SYSMON "\"\n  \"EventID\": 1\n}\n" /* line 6: missing comma */
                       "{\n  \"Channel\": \"" TU_SYSMON "\",\n  \"EventID\": 1,\n  \"CommandLine\": \"marker\"\n}\n";
    struct tu_hunt h;
    hunt_str(data, &h);
    assert_int_equal(h.n, 2);
    assert_int_equal(h.stats.skipped, 1);
    assert_int_equal(h.stats.events, 2);
    assert_int_equal(h.diags.n, 1);
    assert_int_equal(h.diags.v[0].line, 8); /* where the comma is missing */
    assert_int_equal(h.v[1].line, 10);
    tu_hunt_free(&h);
}

static void test_deep_nesting(void **state)
{
    (void)state;
    struct tu_str s = {0};
    tu_str_puts(&s, EV("marker") "\n{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker\",\"x\":");
    for (int i = 0; i < 100; i++)
        tu_str_puts(&s, "{\"a\":");
    tu_str_puts(&s, "1");
    for (int i = 0; i < 100; i++)
        tu_str_puts(&s, "}");
    tu_str_puts(&s, "}\n{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker\",\"y\":");
    for (int i = 0; i < 100000; i++)
        tu_str_puts(&s, "["); /* a stack-smashing attempt */
    tu_str_puts(&s, "\n" EV("marker") "\n");
    /* 60 levels are fine */
    tu_str_puts(&s, "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker\",\"z\":");
    for (int i = 0; i < 60; i++)
        tu_str_puts(&s, "[");
    for (int i = 0; i < 60; i++)
        tu_str_puts(&s, "]");
    tu_str_puts(&s, "}\n");
    struct tu_hunt h;
    hunt_str(s.p, &h);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.stats.skipped, 2);
    assert_int_equal(h.diags.n, 2);
    assert_non_null(strstr(h.diags.v[0].text, "deeper than 64"));
    assert_int_equal(h.diags.v[0].line, 2);
    assert_int_equal(h.diags.v[1].line, 3);
    tu_hunt_free(&h);
    tu_str_free(&s);
}

/* A filler line of exactly n bytes, newline included (no marker). */
static void filler(struct tu_str *s, size_t n)
{
    tu_str_puts(s, "{\"x\":\"");
    for (size_t i = 8; i < n; i++)
        tu_str_puts(s, "x");
    tu_str_puts(s, "\"}\n");
}

/* A plain JSON-lines file is split by byte range among the workers: a line
 * starting exactly at a range's first byte, one across a range's end, a
 * malformed line, and a last line over the cap without a final newline keep
 * their line numbers, whatever the thread count. */
static void test_ranges(void **state)
{
    (void)state;
    struct tu_str s = {0};
    tu_str_puts(&s, EV("marker 1") "\n"); /* line 1 */
    filler(&s, UNIT_BYTES - s.len);       /* line 2: ends where the first range does */
    tu_str_puts(&s, EV("marker 2") "\n"); /* line 3, at byte UNIT_BYTES */
    filler(&s, 2 * UNIT_BYTES - 10 - s.len);
    tu_str_puts(&s, EV("marker 3") "\n{\"broken\": \n\n" EV("marker 4") "\n"); /* lines 5 to 8 */
    tu_str_puts(&s, "{\"x\":\"");                                              /* line 9 */
    char *fill = malloc(17u << 20);
    memset(fill, 'B', 17u << 20);
    tu_str_put(&s, fill, 17u << 20);
    free(fill);
    for (unsigned threads = 1; threads <= 3; threads += 2) {
        struct stoat_ruleset *rs = load(marker_rule);
        struct tu_hunt_opts o = {.threads = threads};
        struct tu_hunt h;
        tu_hunt_data(rs, s.p, s.len, ".jsonl", &o, &h);
        stoat_ruleset_destroy(rs);
        assert_int_equal(h.n, 4);
        uint64_t lines[4] = {1, 3, 5, 8};
        for (int i = 0; i < 4; i++)
            assert_int_equal(h.v[i].line, lines[i]);
        assert_int_equal(h.stats.skipped, 2);
        assert_int_equal(h.diags.n, 2);
        assert_int_equal(h.diags.v[0].line, 6);
        assert_non_null(strstr(h.diags.v[0].text, "malformed"));
        assert_int_equal(h.diags.v[1].line, 9);
        assert_non_null(strstr(h.diags.v[1].text, "longer than"));
        tu_hunt_free(&h);
    }
    tu_str_free(&s);
}

/* Every unit is written once and in order whatever the thread count, with
 * units of unequal cost (some nearly all matches, some nearly all filler),
 * so that any worker, the writer's home or not, finishes first or last. */
static void test_units_in_order(void **state)
{
    (void)state;
    struct tu_str s = {0};
    uint64_t line = 0, want_lines[4096];
    size_t nwant = 0;
    uint64_t r = 0x9E3779B97F4A7C15ULL;
    while (s.len < 14 * (size_t)UNIT_BYTES) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        if (r % 3 == 0) {
            filler(&s, 20000 + (size_t)(r >> 20) % 200000);
            line++;
            continue;
        }
        for (int k = 0; k < 50 && nwant < 4096; k++) {
            tu_str_printf(&s, EV("marker %zu") "\n", nwant);
            want_lines[nwant++] = ++line;
        }
    }
    for (unsigned threads = 1; threads <= 8; threads += threads < 3 ? 1 : 5 - threads / 2) {
        struct stoat_ruleset *rs = load(marker_rule);
        struct tu_hunt_opts o = {.threads = threads};
        struct tu_hunt h;
        tu_hunt_data(rs, s.p, s.len, ".jsonl", &o, &h);
        stoat_ruleset_destroy(rs);
        assert_int_equal(h.n, nwant);
        for (size_t i = 0; i < nwant; i++)
            assert_int_equal(h.v[i].line, want_lines[i]);
        assert_int_equal(h.diags.n, 0);
        tu_hunt_free(&h);
    }
    tu_str_free(&s);
}

static void test_huge_record(void **state)
{
    (void)state;
    /* 20 MiB on one line, between two good records */
    size_t big = 20u << 20;
    struct tu_str s = {0};
    tu_str_puts(&s, EV("marker 1") "\n{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker ");
    char *fill = malloc(big);
    memset(fill, 'A', big);
    tu_str_put(&s, fill, big);
    free(fill);
    tu_str_puts(&s, "\"}\n" EV("marker 3") "\n" EV("marker 4") "\n");
    struct tu_hunt h;
    hunt_str(s.p, &h);
    tu_str_free(&s);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.stats.skipped, 1);
    assert_int_equal(h.diags.n, 1);
    assert_non_null(strstr(h.diags.v[0].text, "longer than"));
    assert_int_equal(h.diags.v[0].line, 2);
    assert_int_equal(h.v[1].line, 3); /* line numbers survive the skip */
    assert_int_equal(h.v[2].line, 4);
    tu_hunt_free(&h);

    /* the same as a pretty-printed object stream */
    s = (struct tu_str){0};
    tu_str_puts(&s, "{\n  \"Channel\": \"" TU_SYSMON "\",\n  \"EventID\": 1,\n  \"CommandLine\": \"marker\"\n}\n"
                    "{\n  \"Channel\": \"" TU_SYSMON "\",\n  \"CommandLine\": \"");
    fill = malloc(big);
    memset(fill, 'B', big);
    tu_str_put(&s, fill, big);
    free(fill);
    tu_str_puts(&s,
                "\"\n}\n{\n  \"Channel\": \"" TU_SYSMON "\",\n  \"EventID\": 1,\n  \"CommandLine\": \"marker\"\n}\n");
    hunt_str(s.p, &h);
    tu_str_free(&s);
    assert_int_equal(h.n, 2);
    assert_true(h.stats.skipped >= 1);
    assert_true(h.diags.n >= 1);
    tu_hunt_free(&h);
}

static void test_invalid_utf8_output_valid(void **state)
{
    (void)state;
    const char *data =
        "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"marker \xff\xfe \xc3\x28 \xed\xa0\x80"
        " \xf4\x90\x80\x80 \xe2\x82\",\"Bad\xc0\xafName\":\"v\",\"Ctl\":\"a\\u0001b\\u001fc\\u0000d\"}\n";
    struct tu_hunt h;
    hunt_str(data, &h);
    assert_int_equal(h.n, 1);
    assert_non_null(h.jsonl);
    struct tu_json j;
    const char *err = NULL;
    char *nl = memchr(h.jsonl, '\n', h.jsonl_len);
    assert_non_null(nl);
    assert_int_equal((size_t)(nl - h.jsonl) + 1, h.jsonl_len); /* one line */
    bool ok = tu_json_parse(h.jsonl, (size_t)(nl - h.jsonl), &j, &err);
    if (!ok)
        fprintf(stderr, "  -- invalid JSON output (%s): %.*s\n", err, (int)h.jsonl_len, h.jsonl);
    assert_true(ok);
    const char *cl = tu_json_str(&j, "event.CommandLine");
    assert_non_null(cl);
    assert_true(strncmp(cl, "marker ", 7) == 0);
    const char *ctl = tu_json_str(&j, "event.Ctl");
    assert_non_null(ctl);
    assert_memory_equal(ctl,
                        "a\x01"
                        "b\x1f"
                        "c",
                        5);
    tu_json_free(&j);
    tu_hunt_free(&h);
}

static void test_gzip(void **state)
{
    (void)state;
    char path[256];
    snprintf(path, sizeof(path), "/tmp/stoat-test-XXXXXX.jsonl.gz");
    int fd = mkstemps(path, 9);
    assert_true(fd >= 0);
    close(fd);
    /* two gzip members, as `cat a.gz b.gz` makes, and enough data for
     * several units */
    for (int member = 0; member < 2; member++) {
        gzFile g = gzopen(path, member ? "ab" : "wb");
        assert_non_null(g);
        for (int i = 0; i < 30000; i++) {
            char line[256];
            int n = snprintf(line, sizeof(line), EV("%s %d") "\n", i % 1000 == 0 ? "marker" : "plain", i);
            assert_int_equal(gzwrite(g, line, (unsigned)n), n);
        }
        assert_int_equal(gzclose(g), Z_OK);
    }
    struct stoat_ruleset *rs = load(marker_rule);
    const char *paths[1] = {path};
    struct tu_hunt h;
    tu_hunt_paths(rs, paths, 1, NULL, &h);
    assert_int_equal(h.n, 60);
    assert_int_equal(h.stats.records, 60000);
    assert_int_equal(h.stats.files_failed, 0);
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(h.stats.bytes, (uint64_t)st.st_size); /* compressed bytes */
    assert_int_equal(h.v[59].record, 59001);
    assert_int_equal(h.v[59].line, 59001);
    tu_hunt_free(&h);

    /* a truncated gzip file: what was read is processed, the file is reported */
    FILE *f = fopen(path, "r+");
    assert_non_null(f);
    assert_int_equal(ftruncate(fileno(f), st.st_size / 4), 0); /* inside the first member */
    fclose(f);
    /* what zlib itself can still inflate: every complete line of it must
     * become an event (none thrown away with the damaged block) */
    gzFile g = gzopen(path, "rb");
    assert_non_null(g);
    uint64_t complete = 0, markers = 0;
    struct tu_str all = {0};
    char buf[65536];
    int got;
    while ((got = gzread(g, buf, sizeof(buf))) > 0)
        tu_str_put(&all, buf, (size_t)got);
    gzclose(g);
    for (char *p = all.p, *nl; p && (nl = memchr(p, '\n', all.len - (size_t)(p - all.p))); p = nl + 1) {
        complete++;
        markers += memmem(p, (size_t)(nl - p), "marker", 6) != NULL;
    }
    tu_str_free(&all);
    assert_true(complete > 1000 && complete < 30000);
    tu_hunt_paths(rs, paths, 1, NULL, &h);
    if (h.stats.events != complete)
        fprintf(stderr, "  -- %llu events read of the truncated file, zlib inflates %llu complete lines\n",
                (unsigned long long)h.stats.events, (unsigned long long)complete);
    assert_int_equal(h.stats.events, complete);
    assert_int_equal(h.n, markers);
    assert_int_equal(h.stats.files_failed, 1);
    assert_non_null(tu_diags_find(&h.diags, "truncated"));
    tu_hunt_free(&h);
    unlink(path);
    stoat_ruleset_destroy(rs);
}

static void test_threads_keep_order(void **state)
{
    (void)state;
    /* more than one unit (1 MiB each), four workers: alerts in input order */
    struct tu_str s = {0};
    for (int i = 0; i < 40000; i++)
        tu_str_printf(&s, EV("%s %d padding padding padding") "\n", i % 7 == 0 ? "marker" : "plain", i);
    struct stoat_ruleset *rs = load(marker_rule);
    struct tu_hunt h;
    struct tu_hunt_opts o = {.threads = 4};
    tu_hunt_data(rs, s.p, s.len, ".jsonl", &o, &h);
    assert_int_equal(h.n, (40000 + 6) / 7);
    for (size_t i = 0; i < h.n; i++)
        assert_int_equal(h.v[i].record, i * 7 + 1);
    assert_int_equal(h.stats.records, 40000);
    tu_hunt_free(&h);
    stoat_ruleset_destroy(rs);
    tu_str_free(&s);
}

static void test_empty_and_blank_files(void **state)
{
    (void)state;
    struct tu_hunt h;
    hunt_str("", &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.stats.files, 1);
    assert_int_equal(h.stats.files_failed, 0);
    assert_int_equal(h.stats.records, 0);
    assert_int_equal(h.diags.n, 0);
    tu_hunt_free(&h);
    /* a JSON-lines file of blank lines holds no records, and nothing is wrong */
    hunt_str("\n\n   \r\n\t\n", &h);
    assert_int_equal(h.n, 0);
    if (h.stats.files_failed || h.diags.n)
        tu_diags_print(&h.diags, "on a file of blanks");
    assert_int_equal(h.stats.files_failed, 0);
    assert_int_equal(h.stats.files, 1);
    assert_int_equal(h.stats.records, 0);
    assert_int_equal(h.diags.n, 0);
    tu_hunt_free(&h);
    /* something that is not JSON at all is an unknown format */
    hunt_str("Nov 27 07:40:10 host sshd[1]: Accepted\n", &h);
    assert_int_equal(h.stats.files_failed, 1);
    assert_non_null(tu_diags_find(&h.diags, "not a format"));
    tu_hunt_free(&h);
}

/* A binary file whose first byte happens to be { or [ (1 in 128 for random
 * bytes) is not JSON: a damaged .evtx was once read as hundreds of malformed
 * JSON records instead of being named as a damaged EVTX file. */
static void test_binary_head_is_not_json(void **state)
{
    (void)state;
    static const unsigned char heads[][16] = {
        {'[', 0x9d, 0x0f, 0x4f, 0xb5, 0x17, 'x', '-', 0x03, 0xc4, 0x91, 'G', '%', 0xda, 'e', ']'},
        {'{', '"', 'a', 0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x0e, 0x0f, 0x10, 0x11},
        {' ', '{', 0x80, 0x00, '"', 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d},
    };
    for (size_t k = 0; k < sizeof(heads) / sizeof(heads[0]); k++) {
        unsigned char data[8192];
        for (size_t i = 0; i < sizeof(data); i++)
            data[i] = (unsigned char)(i * 131u + 7u + (i >> 3));
        memcpy(data, heads[k], sizeof(heads[k]));
        struct tu_hunt h;
        hunt(marker_rule, (const char *)data, sizeof(data), ".evtx", &h);
        assert_int_equal(h.stats.files_failed, 1);
        assert_int_equal(h.stats.records, 0);
        if (!tu_diags_find(&h.diags, "not a usable EVTX file"))
            tu_diags_print(&h.diags, "on a binary .evtx that starts like JSON");
        assert_non_null(tu_diags_find(&h.diags, "not a usable EVTX file"));
        assert_null(tu_diags_find(&h.diags, "malformed JSON"));
        tu_hunt_free(&h);
    }
    /* still JSON: an array of objects, an object with a name, an empty array */
    const char *good[] = {"[\n  " EV("marker 1") "\n]\n", "  " EV("marker 2") "\n", "[]\n"};
    for (size_t k = 0; k < 3; k++) {
        struct tu_hunt h;
        hunt_str(good[k], &h);
        assert_int_equal(h.stats.files_failed, 0);
        assert_int_equal(h.n, k < 2 ? 1 : 0);
        tu_hunt_free(&h);
    }
}

static void test_paths(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(marker_rule);
    char *dir = tu_temp_dir();
    char p1[4200], p2[4200], p3[4200], sub[4200];
    snprintf(p1, sizeof(p1), "%s/a.jsonl", dir);
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    snprintf(p2, sizeof(p2), "%s/sub/b.json", dir);
    snprintf(p3, sizeof(p3), "%s/README.md", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    FILE *f = fopen(p1, "w");
    fputs(EV("marker a1") "\n" EV("marker a2") "\n", f);
    fclose(f);
    f = fopen(p2, "w");
    fputs("[" EV("marker b1") "]", f);
    fclose(f);
    f = fopen(p3, "w");
    fputs("# notes\n", f);
    fclose(f);
    const char *paths[2] = {dir, "/tmp/stoat-test-does-not-exist.jsonl"};
    struct tu_hunt h;
    tu_hunt_paths(rs, paths, 2, NULL, &h);
    assert_int_equal(h.n, 3);
    assert_int_equal(h.stats.files, 2);
    assert_int_equal(h.stats.files_skipped, 1); /* the README inside the folder */
    assert_int_equal(h.stats.files_failed, 1);  /* the missing file */
    /* sorted walk: README.md, a.jsonl, sub/b.json; records count per file */
    assert_int_equal(h.v[0].record, 1);
    assert_int_equal(h.v[1].record, 2);
    assert_int_equal(h.v[2].record, 1);
    const struct tu_diag *d = tu_diags_find(&h.diags, "does-not-exist");
    assert_non_null(d);
    assert_int_equal(d->severity, STOAT_SEV_ERROR);
    tu_hunt_free(&h);
    tu_rm_rf(dir);
    free(dir);
    stoat_ruleset_destroy(rs);
}

/* Record numbers count within each file, however many files a hunt reads
 * (short relative names, as a shell glob gives them). */
static void test_records_per_file(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = load(marker_rule);
    char *dir = tu_temp_dir();
    char cwd[4096];
    assert_non_null(getcwd(cwd, sizeof(cwd)));
    assert_int_equal(chdir(dir), 0);
    enum {
        NF = 12
    };
    char names[NF][32];
    const char *paths[NF];
    for (int f = 0; f < NF; f++) {
        snprintf(names[f], sizeof(names[f]), "f%02d.jsonl", f);
        paths[f] = names[f];
        FILE *fp = fopen(names[f], "w");
        assert_non_null(fp);
        for (int i = 0; i <= f % 3; i++)
            fprintf(fp, EV("marker %d") "\n", i);
        fclose(fp);
    }
    for (unsigned threads = 1; threads <= 4; threads += 3) {
        struct tu_hunt h;
        struct tu_hunt_opts o = {.threads = threads};
        tu_hunt_paths(rs, paths, NF, &o, &h);
        size_t k = 0;
        for (int f = 0; f < NF; f++)
            for (int i = 0; i <= f % 3; i++, k++) {
                assert_true(k < h.n);
                if (h.v[k].record != (uint64_t)i + 1)
                    fail_msg("-j %u: file %d, event %d: record %llu, expected %d", threads, f, i,
                             (unsigned long long)h.v[k].record, i + 1);
            }
        assert_int_equal(h.n, k);
        tu_hunt_free(&h);
    }
    assert_int_equal(chdir(cwd), 0);
    tu_rm_rf(dir);
    free(dir);
    stoat_ruleset_destroy(rs);
}

/* ------------------------------------------------ the parser's fast paths, against slow ones */

/* A worker as json.c makes one, over an empty mapping, with a sink that
 * keeps the record's last value and its error. */
struct direct {
    struct json_worker w;
    struct mapping map;
    struct unit u;
    struct event_sink sink;
    char scratch[16384];
    size_t used;
    char val[8192];
    size_t val_len;
    char all[16384]; /* every field of the record, "name=value\n" */
    size_t all_len;
    char why[160];
    struct buf raw_json, json; /* each field rendered (d_fields) */
    size_t with_raw;           /* fields that kept their escaped bytes (ev_field.raw_len) */
};

static void d_begin(void *ctx, uint64_t record, uint64_t line, uint64_t offset)
{
    struct direct *d = ctx;
    (void)record, (void)line, (void)offset;
    d->used = 0;
    d->val_len = SIZE_MAX;
    d->all_len = 0;
    d->why[0] = 0;
}

static char *d_scratch(void *ctx, size_t n)
{
    struct direct *d = ctx;
    assert_true(d->used + n <= sizeof(d->scratch));
    d->used += n;
    return d->scratch + d->used - n;
}

static uint32_t d_field_id(void *ctx, const char *name, size_t len)
{
    (void)ctx, (void)name, (void)len;
    return 0;
}

/* Keeps the record's last value. Each field is rendered from the fields as
 * they are (a string's escaped bytes copied where they are kept) and as the
 * alert's views of them (escaped again): the same bytes. */
static void d_fields(void *ctx, struct ev_field *fs, uint32_t n)
{
    struct direct *d = ctx;
    for (uint32_t i = 0; i < n; i++) {
        struct stoat_field sf = {.name = fs[i].name,
                                 .value = fs[i].val,
                                 .name_len = fs[i].name_len,
                                 .value_len = fs[i].val_len,
                                 .type = fs[i].type};
        buf_clear(&d->raw_json);
        buf_clear(&d->json);
        event_json_write_fields_distinct(&d->raw_json, &fs[i], 1);
        event_json_write(&d->json, &sf, 1);
        assert_int_equal(d->raw_json.len, d->json.len);
        assert_memory_equal(d->raw_json.p, d->json.p, d->json.len);
        d->with_raw += fs[i].raw_len != 0;
    }
    for (uint32_t i = 0; i < n; i++) {
        int k = snprintf(d->all + d->all_len, sizeof(d->all) - d->all_len, "%.*s=%.*s\n", (int)fs[i].name_len,
                         fs[i].name, (int)fs[i].val_len, fs[i].val);
        assert_true(k > 0 && (size_t)k < sizeof(d->all) - d->all_len);
        d->all_len += (size_t)k;
    }
    if (!n)
        return;
    assert_true(fs[n - 1].val_len < sizeof(d->val));
    memcpy(d->val, fs[n - 1].val, fs[n - 1].val_len);
    d->val_len = fs[n - 1].val_len;
}

static void d_end(void *ctx)
{
    (void)ctx;
}

static void d_bad(void *ctx, uint64_t line, uint64_t offset, bool has_offset, bool warning, const char *why)
{
    struct direct *d = ctx;
    (void)line, (void)offset, (void)has_offset, (void)warning;
    snprintf(d->why, sizeof(d->why), "%s", why);
}

static struct direct *direct_new(void)
{
    struct direct *d = calloc(1, sizeof(*d));
    assert_non_null(d);
    d->sink = (struct event_sink){.ctx = d,
                                  .begin = d_begin,
                                  .scratch = d_scratch,
                                  .field_id = d_field_id,
                                  .fields = d_fields,
                                  .end = d_end,
                                  .bad = d_bad,
                                  .map = &d->map};
    d->w.map = &d->map;
    d->w.table_cap = 1024;
    d->w.table = calloc(d->w.table_cap, sizeof(*d->w.table));
    arena_init(&d->w.mem, 65536);
    d->w.root = (struct jnode){
        .path = "", .serial = 1, .head = 1, .need16 = UINT32_MAX, .cneed = UINT32_MAX, .state = NS_SILENT};
    d->w.named = (struct jnode){
        .path = "", .serial = 2, .head = 1, .need16 = UINT32_MAX, .cneed = UINT32_MAX, .state = NS_SILENT};
    d->w.serials = 2;
    d->w.sink = &d->sink;
    d->w.u = &d->u;
    d->u.mode = JM_LINES;
    return d;
}

static void direct_free(struct direct *d)
{
    buf_free(&d->raw_json);
    buf_free(&d->json);
    free(d->w.table);
    free(d->w.dec);
    free(d->w.fs);
    arena_free(&d->w.mem);
    free(d);
}

/* Parses the record text (exactly its bytes in a block of their own, so
 * that a load past the record is an error under AddressSanitizer). */
static bool direct_parse(struct direct *d, const char *text, size_t n)
{
    char *copy = malloc(n + 1);
    assert_non_null(copy);
    memcpy(copy, text, n);
    copy[n] = 0;
    d->u.data = copy;
    d->u.len = n;
    const char *q = json_parse_record(&d->w, copy, copy + n, 1, 1);
    free(copy);
    d->u.data = NULL;
    return q != NULL;
}

/* The key guess (sixteen bytes at a time where the record has them, else
 * two masked words and the words between), and the comma and key guess of
 * compact records, against a plain comparison of the quoted key: every key
 * length to 60, the input exact, with any one byte changed, and cut short at
 * every length; a key with a quote or backslash (its raw bytes are escaped)
 * never holds. */
static void test_key_guess_fast_path(void **state)
{
    (void)state;
    struct direct *d = direct_new();
    for (uint32_t klen = 1; klen <= 60; klen++) {
        char key[64];
        for (uint32_t i = 0; i < klen; i++)
            key[i] = (char)('A' + (i * 7 + klen) % 26);
        struct jnode tmp;
        const struct jnode *g = json_child_of(&d->w, &d->w.root, key, klen, &tmp);
        assert_non_null(g);
        assert_true(g->serial != 0);
        size_t qlen = klen + 3;
        char in[96];
        memset(in, 'x', sizeof(in));
        in[0] = '"';
        memcpy(in + 1, key, klen);
        in[klen + 1] = '"';
        in[klen + 2] = ':';
        for (size_t cut = 0; cut <= qlen + 8; cut++) {
            char *exact = malloc(cut ? cut : 1); /* the input ends exactly at cut */
            assert_non_null(exact);
            memcpy(exact, in, cut);
            bool slow = cut >= g->need && memcmp(exact, g->qkey, qlen) == 0;
            assert_true(json_guess_holds(g, exact, exact + cut) == slow);
            assert_int_equal(slow, cut >= (qlen < 8 ? 8 : qlen));
            free(exact);
        }
        for (size_t at = 0; at < qlen; at++) {
            char changed[96];
            memcpy(changed, in, sizeof(in));
            changed[at] ^= 0x20;
            assert_false(json_guess_holds(g, changed, changed + sizeof(changed)));
        }
        /* the comma and the key in one compare, against the comma and the
         * plain comparison (never, without SSE2: the caller's slow way) */
        char with_comma[97];
        with_comma[0] = ',';
        memcpy(with_comma + 1, in, sizeof(in));
        for (size_t cut = 0; cut <= qlen + 17; cut++) {
            char *exact = malloc(cut ? cut : 1);
            assert_non_null(exact);
            memcpy(exact, with_comma, cut);
            bool slow = cut >= (qlen + 1 < 16 ? 16 : qlen + 1) && memcmp(exact + 1, g->qkey, qlen) == 0;
#ifndef __SSE2__
            slow = false;
#endif
            assert_true(json_comma_guess_holds(g, exact, exact + cut) == slow);
            free(exact);
        }
        for (size_t at = 0; at <= qlen; at++) {
            char changed[97];
            memcpy(changed, with_comma, sizeof(changed));
            changed[at] ^= at ? 0x20 : 0x01;
            assert_false(json_comma_guess_holds(g, changed, changed + sizeof(changed)));
        }
    }
    for (uint32_t klen = 1; klen <= 40; klen++) {
        char key[48], in[96];
        memset(key, 'k', klen);
        key[klen / 2] = klen % 2 ? '"' : '\\';
        struct jnode tmp;
        const struct jnode *g = json_child_of(&d->w, &d->w.root, key, klen, &tmp);
        assert_non_null(g);
        memset(in, 'x', sizeof(in));
        memcpy(in, g->qkey, klen + 3);
        for (size_t cut = 0; cut <= sizeof(in); cut += 7)
            assert_false(json_guess_holds(g, in, in + cut));
        char with_comma[97] = {','};
        memcpy(with_comma + 1, in, sizeof(in));
        assert_false(json_comma_guess_holds(g, with_comma, with_comma + sizeof(with_comma)));
    }
    direct_free(d);
}

/* JSON string decoding, the slow way: a byte at a time. */
static int slow_hex(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static size_t slow_decode(const char *s, size_t n, char *out)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] != '\\') {
            out[o++] = s[i];
            continue;
        }
        char c = s[++i];
        const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
        const char *k = strchr(from, c);
        if (c && k) {
            out[o++] = to[k - from];
            continue;
        }
        assert_int_equal(c, 'u'); /* the generator writes no others */
        uint32_t cp = 0;
        for (int j = 1; j <= 4; j++)
            cp = cp << 4 | (uint32_t)slow_hex(s[i + j]);
        i += 4;
        if (cp >= 0xD800 && cp <= 0xDBFF && i + 6 < n && s[i + 1] == '\\' && s[i + 2] == 'u') {
            uint32_t lo = 0;
            for (int j = 3; j <= 6; j++)
                lo = lo << 4 | (uint32_t)slow_hex(s[i + j]);
            if (lo >= 0xDC00 && lo <= 0xDFFF) {
                cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                i += 6;
            }
        }
        if (cp >= 0xD800 && cp <= 0xDFFF)
            cp = 0xFFFD;
        o += utf8_encode(cp, out + o);
    }
    return o;
}

/* Escaped strings decoded by the parser (a single-escape table, sixteen
 * bytes at a time between escapes, the run before the first in one store)
 * against the slow decoder: random mixes of runs and escapes, the string
 * first or last in its record (so near the record's end or not), and bad
 * escapes reported as before. */
static void test_escaped_strings_fast_path(void **state)
{
    (void)state;
    static const char *const escapes[] = {
        "\\\\",    "\\\"",           "\\/",     "\\b",     "\\f",    "\\n", "\\r", "\\t", "\\u00e9",
        "\\u0041", "\\ud83d\\ude00", "\\ud800", "\\udc00", "\\uFFFF"};
    struct direct *d = direct_new();
    uint64_t r = 0x9E3779B97F4A7C15ULL;
    for (int round = 0; round < 4000; round++) {
        char body[1024];
        size_t n = 0;
        int parts = 1 + round % 9;
        for (int k = 0; k < parts; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            size_t run = (size_t)(r % 40) * (k % 2);
            for (size_t i = 0; i < run; i++)
                body[n++] = (char)('a' + (r >> (i % 48)) % 26);
            const char *e = escapes[(r >> 20) % (sizeof(escapes) / sizeof(escapes[0]))];
            memcpy(body + n, e, strlen(e));
            n += strlen(e);
        }
        char want[1024];
        size_t want_len = slow_decode(body, n, want);
        char rec[1200];
        int len = round % 2 ? snprintf(rec, sizeof(rec), "{\"k\":\"%.*s\"}", (int)n, body)
                            : snprintf(rec, sizeof(rec), "{\"k\":\"%.*s\",\"Other\":\"value\",\"n\":1}", (int)n, body);
        bool ok = direct_parse(d, rec, (size_t)len);
        if (!ok)
            fprintf(stderr, "  -- %s: %s\n", rec, d->why);
        assert_true(ok);
        if (round % 2 == 0) { /* the value read last was another's: read k alone */
            len = snprintf(rec, sizeof(rec), "{\"k\":\"%.*s\"}", (int)n, body);
            assert_true(direct_parse(d, rec, (size_t)len));
        }
        assert_int_equal(d->val_len, want_len);
        assert_memory_equal(d->val, want, want_len);
    }
    static const struct {
        const char *rec, *why;
    } bad[] = {
        {"{\"k\":\"C:\\x\"}", "malformed JSON, record skipped: bad escape in string"},
        {"{\"k\":\"C:\\\\Windows\\q and more than sixteen bytes\"}",
         "malformed JSON, record skipped: bad escape in string"},
        {"{\"k\":\"a\\u12\"}", "malformed JSON, record skipped: bad \\u escape"},
        {"{\"k\":\"a\\uZZZZ\"}", "malformed JSON, record skipped: bad \\u escape"},
        {"{\"k\":\"a\\x", "malformed JSON, record skipped: unterminated string"},
        {"{\"k\":\"a\\\\", "malformed JSON, record skipped: unterminated string"},
        {"{\"k\":\"a\\", "malformed JSON, record skipped: unterminated string"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_false(direct_parse(d, bad[i].rec, strlen(bad[i].rec)));
        assert_string_equal(d->why, bad[i].why);
    }
    direct_free(d);
}

/* A string's escaped bytes copied into the event's rendering where the
 * reader kept them (only \\ \" \n \r \t escapes) give what escaping the
 * decoded value again gives (d_fields compares the two for every field):
 * random values of plain bytes, quotes, backslashes, slashes, control bytes
 * and NULs, UTF-8 valid and not, each written raw or escaped in one of the
 * ways JSON allows, of lengths around a block, the short copy's 64 bytes
 * and the escaping's chunk; under names plain and not, up to 64 bytes and
 * longer (ev_field.name_plain). */
static void test_kept_escapes_render_alike(void **state)
{
    (void)state;
    static const char *const pieces[] = {"a",    "Z",    "~",        " ",           "\\",           "\"",
                                         "/",    "\n",   "\r",       "\t",          "\b",           "\f",
                                         "\x01", "\x1f", "\x7f",     "\xc3\xa9",    "\xe2\x80\xa8", "\xf0\x9f\x98\x80",
                                         "\xff", "\xc3", "\xc0\x80", "\xed\xa0\x80"};
    struct direct *d = direct_new();
    struct tu_str body = {0}, rec = {0};
    uint64_t r = 0x853C49E6748FEA9BULL;
    size_t kept = 0;
    for (int round = 0; round < 6000; round++) {
        r ^= r << 13, r ^= r >> 7, r ^= r << 17;
        static const size_t lens[] = {1, 7, 15, 16, 17, 31, 33, 63, 64, 65, 200, 4100};
        size_t len = lens[r % (sizeof(lens) / sizeof(lens[0]))];
        /* mostly plain with a backslash now and then, as paths are; or anything */
        bool paths = (r >> 8) % 2;
        if (!paths && len > 200)
            len = 200; /* (up to four bytes a piece: the direct sink's room) */
        body.len = 0;
        for (size_t k = 0; k < len; k++) {
            r ^= r << 13, r ^= r >> 7, r ^= r << 17;
            const char *pc = paths ? ((r >> 3) % 6   ? "p"
                                      : (r >> 9) % 4 ? "\\"
                                                     : "\"")
                                   : pieces[(r >> 3) % (sizeof(pieces) / sizeof(pieces[0]))];
            unsigned char c = (unsigned char)pc[0];
            uint32_t how = (uint32_t)(r >> 20) % 4;
            if (c == '\\' || c == '"') {
                tu_str_puts(&body, how == 3 ? (c == '\\' ? "\\u005c" : "\\u0022") : (c == '\\' ? "\\\\" : "\\\""));
            } else if (c < 0x20 && how) {
                const char *esc = c == '\n'   ? "\\n"
                                  : c == '\r' ? "\\r"
                                  : c == '\t' ? "\\t"
                                  : c == '\b' ? "\\b"
                                  : c == '\f' ? "\\f"
                                              : NULL;
                if (esc && how != 3)
                    tu_str_puts(&body, esc);
                else
                    tu_str_printf(&body, "\\u%04X", c);
            } else if (c == '/' && how == 1) {
                tu_str_puts(&body, "\\/");
            } else if (c < 0x80 && how == 3) {
                tu_str_printf(&body, "\\u%04x", c);
            } else if (c == 0x7f && how == 2) {
                tu_str_puts(&body, "\\u0000"); /* a NUL */
            } else {
                tu_str_puts(&body, pc); /* as it is: control bytes, invalid UTF-8 too */
            }
        }
        /* names plain or not (ev_field.name_plain), to 64 bytes and past */
        static const char *const keys[] = {"k",
                                           "k\\\"q",
                                           "\\u00e9t\\u00e9",
                                           "a\\tb",
                                           "back\\\\slash",
                                           "ThisNameIsSixtyFourBytesLongExactlyXXXXXXXXXXXXXXXXXXXXXXXXXXXXX",
                                           "ThisNameIsSixtyFiveBytesLongExactlyXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX"};
        const char *key = keys[(r >> 40) % (sizeof(keys) / sizeof(keys[0]))];
        rec.len = 0;
        tu_str_printf(&rec, round % 2 ? "{\"%s\":\"" : "{\"Other\":1,\"%s\":\"", key);
        tu_str_put(&rec, body.p, body.len);
        tu_str_puts(&rec, round % 3 ? "\"}" : "\",\"n\":\"x\\\\y\"}");
        size_t before = d->with_raw;
        bool ok = direct_parse(d, rec.p, rec.len);
        if (!ok)
            fprintf(stderr, "  -- %s: %s\n", rec.p, d->why);
        assert_true(ok);
        kept += d->with_raw > before;
    }
    assert_true(kept > 1000); /* the copy was taken, and often */
    free(body.p);
    free(rec.p);
    direct_free(d);
}

/* ------------------------------------------------ nested objects, read in one loop */

/* A random record for test_nested_objects_fast_path, written twice: as it is
 * (nested objects read by parse_object's loop, a level down and back up
 * without a call) and with every nested object in [ ] (each read by a call
 * of its own, through parse_value: the old way), and with the fields it must
 * give, "path=value\n", as a plain recursive flattening sees them. */
struct gen {
    uint64_t r;
    struct tu_str direct, wrapped, want;
};

static uint32_t gen_next(struct gen *g, uint32_t n)
{
    g->r ^= g->r << 13, g->r ^= g->r >> 7, g->r ^= g->r << 17;
    return (uint32_t)(g->r >> 11) % n;
}

/* Blanks between tokens, sometimes (blanks_on-printed records). */
static void gen_blank(struct gen *g, bool blanks_on)
{
    static const char *const blanks[] = {" ", "\n  ", "\t", "\r\n", "                  "};
    if (blanks_on && gen_next(g, 3) == 0) {
        const char *b = blanks[gen_next(g, 5)];
        tu_str_puts(&g->direct, b);
        tu_str_puts(&g->wrapped, b);
    }
}

static void gen_both(struct gen *g, const char *text)
{
    tu_str_puts(&g->direct, text);
    tu_str_puts(&g->wrapped, text);
}

static void gen_want(struct gen *g, const char *path, const char *val)
{
    tu_str_puts(&g->want, path);
    tu_str_puts(&g->want, "=");
    tu_str_puts(&g->want, val);
    tu_str_puts(&g->want, "\n");
}

/* A string value, its escapes anywhere (so at any place in a 16-byte block),
 * and what it decodes to. */
static void gen_string(struct gen *g, char *text, char *decoded)
{
    static const struct {
        const char *in, *out;
    } esc[] = {
        {"\\\\", "\\"}, {"\\\"", "\""}, {"\\n", "\n"}, {"\\u00e9", "\xc3\xa9"}, {"\\ud83d\\ude00", "\xf0\x9f\x98\x80"}};
    size_t t = 0, o = 0;
    uint32_t len = gen_next(g, 40);
    text[t++] = '"';
    for (uint32_t i = 0; i < len; i++) {
        if (gen_next(g, 12) == 0) {
            uint32_t e = gen_next(g, 5);
            memcpy(text + t, esc[e].in, strlen(esc[e].in));
            t += strlen(esc[e].in);
            memcpy(decoded + o, esc[e].out, strlen(esc[e].out));
            o += strlen(esc[e].out);
        } else {
            text[t++] = decoded[o++] = (char)('a' + gen_next(g, 26));
        }
    }
    text[t++] = '"';
    text[t] = decoded[o] = 0;
}

static void gen_object(struct gen *g, const char *path, int depth, bool blanks_on);

/* A member's value under path. */
static void gen_value(struct gen *g, const char *path, int depth, bool blanks_on)
{
    static const char *const scalars[][2] = {{"0", "0"},       {"-12.5e+3", "-12.5e+3"}, {"4294967296", "4294967296"},
                                             {"true", "true"}, {"false", "false"},       {"null", ""},
                                             {"7", "7"}};
    /* objects (kinds 3 and 4) up to 10 levels down, in records of up to ~2 KB */
    uint32_t kind = gen_next(g, depth < 10 && g->direct.len < 2000 ? 5 : 3);
    if (kind == 0) {
        char text[512], decoded[512];
        gen_string(g, text, decoded);
        gen_both(g, text);
        gen_want(g, path, decoded);
    } else if (kind == 1) {
        uint32_t k = gen_next(g, 7);
        gen_both(g, scalars[k][0]);
        gen_want(g, path, scalars[k][1]);
    } else if (kind == 2) { /* an array of scalars: a field each */
        gen_both(g, "[");
        uint32_t n = 1 + gen_next(g, 3);
        for (uint32_t i = 0; i < n; i++) {
            uint32_t k = gen_next(g, 7);
            gen_both(g, i ? "," : "");
            gen_both(g, scalars[k][0]);
            gen_want(g, path, scalars[k][1]);
        }
        gen_both(g, "]");
    } else {
        tu_str_puts(&g->wrapped, "[");
        gen_object(g, path, depth + 1, blanks_on);
        tu_str_puts(&g->wrapped, "]");
    }
}

static void gen_object(struct gen *g, const char *path, int depth, bool blanks_on)
{
    /* a few names, some longer than a block, so guesses hit and miss */
    static const char *const keys[] = {
        "a", "Image", "EventData", "DestinationHostname", "k7", "AVeryLongKeyNameOfMoreThanThirtyTwoBytes"};
    gen_both(g, "{");
    uint32_t n = gen_next(g, 5);
    for (uint32_t i = 0; i < n; i++) {
        gen_blank(g, blanks_on);
        if (i)
            gen_both(g, ",");
        gen_blank(g, blanks_on);
        const char *key = keys[gen_next(g, 6)];
        gen_both(g, "\"");
        gen_both(g, key);
        gen_both(g, "\"");
        gen_blank(g, blanks_on);
        gen_both(g, ":");
        gen_blank(g, blanks_on);
        char sub[1024];
        snprintf(sub, sizeof(sub), "%s%s%s", path, *path ? "." : "", key);
        gen_value(g, sub, depth, blanks_on);
    }
    gen_blank(g, blanks_on);
    gen_both(g, "}");
}

/* Nested objects read in parse_object's loop against one call a level: the
 * same fields in the same order as the plain flattening, in compact and
 * blanks_on records, small (shorter than a block) and large; every cut of a
 * record is refused, reading nothing past its end (the bytes are a block of
 * their own, for AddressSanitizer); the depth cap where it was. */
static void test_nested_objects_fast_path(void **state)
{
    (void)state;
    struct direct *d = direct_new();
    struct gen g = {.r = 0x2545F4914F6CDD1DULL};
    char *seen = malloc(sizeof(d->all));
    assert_non_null(seen);
    for (int round = 0; round < 3000; round++) {
        g.direct.len = g.wrapped.len = g.want.len = 0;
        gen_object(&g, "", 1, round % 3 == 0); /* a third with blanks */
        const char *want = g.want.len ? g.want.p : "";
        /* twice: the second time the names are guesses */
        for (int pass = 0; pass < 2; pass++) {
            assert_true(direct_parse(d, g.direct.p, g.direct.len));
            memcpy(seen, d->all, d->all_len);
            size_t seen_len = d->all_len;
            if (seen_len != strlen(want) || memcmp(seen, want, seen_len) != 0)
                fail_msg("record %s\ngave\n%.*swanted\n%s", g.direct.p, (int)seen_len, seen, want);
            assert_true(direct_parse(d, g.wrapped.p, g.wrapped.len));
            assert_int_equal(d->all_len, seen_len);
            assert_memory_equal(d->all, seen, seen_len);
        }
        if (round % 10 == 0)
            for (size_t cut = 0; cut < g.direct.len; cut++) {
                assert_false(direct_parse(d, g.direct.p, cut));
                assert_true(strncmp(d->why, "malformed JSON, record skipped: ", 32) == 0);
            }
    }
    free(seen);
    tu_str_free(&g.direct);
    tu_str_free(&g.wrapped);
    tu_str_free(&g.want);
    /* the cap: a value 63 objects down is read, 64 down refused, as ever */
    for (int k = 62; k <= 63; k++)
        for (int empty = 0; empty <= 1; empty++) {
            struct tu_str r = {0};
            tu_str_puts(&r, "{\"n\":");
            for (int i = 0; i < k; i++)
                tu_str_puts(&r, "{\"a\":");
            tu_str_puts(&r, empty ? "{}" : "1");
            for (int i = 0; i < k; i++)
                tu_str_puts(&r, "}");
            tu_str_puts(&r, "}");
            bool ok = direct_parse(d, r.p, r.len);
            assert_int_equal(ok, k == 62);
            if (!ok)
                assert_string_equal(d->why, "malformed JSON, record skipped: nesting deeper than 64 levels");
            tu_str_free(&r);
        }
    direct_free(d);
}

/* ev_field_set_named (the name in one copy) against ev_field_set. */
static void test_field_set_named(void **state)
{
    (void)state;
    struct ev_field a, b;
    struct ev_field_name n = {.name = "Image", .name_len = 5, .id = 77};
    memset(&a, 0xA5, sizeof(a));
    memset(&b, 0x5A, sizeof(b));
    ev_field_set(&a, "Image", 5, 77, "x.exe", 5, STOAT_V_STRING);
    n.name = a.name; /* the same literal's address */
    ev_field_set_named(&b, &n, a.val, 5, STOAT_V_STRING, false, 0);
    assert_ptr_equal(a.name, b.name);
    assert_int_equal(a.name_len, b.name_len);
    assert_int_equal(a.id, b.id);
    assert_ptr_equal(a.val, b.val);
    assert_int_equal(a.val_len, b.val_len);
    assert_null(b.folded);
    assert_null(b.bytes_folded);
    assert_null(b.bytes_raw);
    assert_int_equal(a.type, b.type);
    assert_int_equal(a.name_plain, b.name_plain);
    assert_int_equal(a.raw_len, b.raw_len);
    ev_field_set_named(&b, &n, a.val, 5, STOAT_V_NUMBER, true, 0);
    assert_int_equal(b.type, STOAT_V_NUMBER);
    assert_true(b.name_plain);
    assert_int_equal(b.raw_len, 0);
    ev_field_set_named(&b, &n, a.val, 5, STOAT_V_STRING, false, 0xFFFFFFFFu);
    assert_int_equal(b.type, STOAT_V_STRING);
    assert_false(b.name_plain);
    assert_int_equal(b.raw_len, 0xFFFFFFFFu);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_json_lines),
        cmocka_unit_test(test_byte_order_mark),
        cmocka_unit_test(test_json_array),
        cmocka_unit_test(test_big_json_array),
        cmocka_unit_test(test_malformed_array_element),
        cmocka_unit_test(test_pretty_objects_sigmahq_shape),
        cmocka_unit_test(test_xmltodict_data),
        cmocka_unit_test(test_xmltodict_data_before_system),
        cmocka_unit_test(test_more_names_than_the_cache),
        cmocka_unit_test(test_too_many_fields),
        cmocka_unit_test(test_winlogbeat_shape),
        cmocka_unit_test(test_nxlog_shape),
        cmocka_unit_test(test_fluentbit_shape),
        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_key_guess_fast_path),
        cmocka_unit_test(test_escaped_strings_fast_path),
        cmocka_unit_test(test_kept_escapes_render_alike),
        cmocka_unit_test(test_nested_objects_fast_path),
        cmocka_unit_test(test_field_set_named),
        cmocka_unit_test(test_values_of_every_type),
        cmocka_unit_test(test_malformed_records),
        cmocka_unit_test(test_several_records_on_a_line),
        cmocka_unit_test(test_array_elements_not_objects),
        cmocka_unit_test(test_many_bad_records),
        cmocka_unit_test(test_malformed_in_pretty_objects),
        cmocka_unit_test(test_deep_nesting),
        cmocka_unit_test(test_huge_record),
        cmocka_unit_test(test_ranges),
        cmocka_unit_test(test_units_in_order),
        cmocka_unit_test(test_invalid_utf8_output_valid),
        cmocka_unit_test(test_gzip),
        cmocka_unit_test(test_threads_keep_order),
        cmocka_unit_test(test_empty_and_blank_files),
        cmocka_unit_test(test_binary_head_is_not_json),
        cmocka_unit_test(test_paths),
        cmocka_unit_test(test_records_per_file),
    };
    return cmocka_run_group_tests_name("json", tests, NULL, NULL);
}
