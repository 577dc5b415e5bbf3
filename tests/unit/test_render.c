/* src/event/render.c's event object and the fast paths under it, each
 * against a slow reference: buf_json_plain_copy against a byte predicate,
 * buf_json_str_escaped against buf_json_str, the object of distinct names
 * (written in place) against one written field by field with buf_json_str,
 * its numbers (short digits in place) against JSON's grammar,
 * records_names_distinct (the ids' verdict) against the names, and
 * event_glance (one pass) against the loop over its keys. */
#include "testutil.h"

#include "event/fields.h"
#include "event/render.h"
#include "pipeline/records.h"
#include "util/buf.h"
#include "util/text.h"

/* Deterministic, so that a failure repeats. */
static uint32_t rnd_state = 12345;
static uint32_t rnd(void)
{
    rnd_state = rnd_state * 1103515245u + 12345u;
    return rnd_state >> 8;
}

static bool plain_ref(const unsigned char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] < 0x20 || s[i] >= 0x80 || s[i] == '"' || s[i] == '\\')
            return false;
    return true;
}

/* Every special byte at every position of every length to 70: copied
 * exactly when the predicate says plain (and at most 64 bytes), and not a
 * byte written outside o[0..n). */
static void test_plain_copy_every_position(void **state)
{
    (void)state;
    static const unsigned char special[] = {0x00, 0x01, 0x1f, '"', '\\', '\n', 0x7f, 0x80, 0xc3, 0xff, ' ', '~', 'a'};
    for (size_t n = 0; n <= 70; n++)
        for (size_t at = 0; at < (n ? n : 1); at++)
            for (size_t k = 0; k < sizeof(special); k++) {
                unsigned char *v = malloc(n ? n : 1); /* exactly n: a read past it is the sanitizer's */
                assert_non_null(v);
                for (size_t i = 0; i < n; i++)
                    v[i] = (unsigned char)('A' + (i * 5 + at) % 26);
                if (n)
                    v[at] = special[k];
                char out[80];
                memset(out, '#', sizeof(out));
                bool got = buf_json_plain_copy(out + 4, (const char *)v, n);
                bool want = n <= 64 && plain_ref(v, n);
                assert_int_equal(got, want);
                for (size_t i = 0; i < 4; i++)
                    assert_int_equal(out[i], '#');
                for (size_t i = 4 + n; i < sizeof(out); i++)
                    assert_int_equal(out[i], '#');
                if (got && n)
                    assert_memory_equal(out + 4, v, n);
                free(v);
            }
}

/* A value of random bytes drawn mostly from what needs escaping. */
static size_t random_value(unsigned char *v, size_t max)
{
    static const unsigned char alphabet[] = "abcXYZ019 :.-\\\"\x01\x1f\n\t\x7f\xc3\xa9\xe2\x82\xac\xff";
    size_t n = rnd() % (max + 1);
    bool plain = rnd() % 2;
    for (size_t i = 0; i < n; i++)
        v[i] = plain ? (unsigned char)('a' + rnd() % 26) : alphabet[rnd() % (sizeof(alphabet) - 1)];
    return n;
}

static void test_str_escaped_matches_str(void **state)
{
    (void)state;
    struct buf a = {0}, b = {0};
    unsigned char v[300];
    for (int round = 0; round < 20000; round++) {
        size_t n = random_value(v, round % 2 ? 80 : sizeof(v));
        buf_clear(&a);
        buf_clear(&b);
        buf_puts(&a, "x");
        buf_puts(&b, "x");
        buf_json_str(&a, (const char *)v, n);
        buf_json_str_escaped(&b, (const char *)v, n);
        assert_int_equal(a.len, b.len);
        assert_memory_equal(a.p, b.p, a.len + 1);
    }
    buf_free(&a);
    buf_free(&b);
}

/* The object as the plain loop writes it: a field at a time. */
static void object_ref(struct buf *b, const struct stoat_field *fs, size_t n, const bool *number_ok)
{
    buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        const struct stoat_field *f = &fs[i];
        if (i)
            buf_putc(b, ',');
        buf_json_str(b, f->name, f->name_len);
        buf_putc(b, ':');
        if (f->type == STOAT_V_NULL)
            buf_puts(b, "null");
        else if (f->type == STOAT_V_BOOL)
            buf_puts(b, f->value_len == 4 ? "true" : "false");
        else if (f->type == STOAT_V_NUMBER && number_ok[i])
            buf_put(b, f->value, f->value_len);
        else
            buf_json_str(b, f->value, f->value_len);
    }
    buf_putc(b, '}');
}

/* Random events of distinct names (some to escape, some long) and values
 * of every type, into an empty buffer and after what one holds: the in-place
 * object is the field-by-field one, and event_json_write (which checks the
 * names) writes the same. */
static void test_distinct_object_matches_reference(void **state)
{
    (void)state;
    static const char *const numbers[] = {"0", "-1", "12345", "3.25", "-0.5e-3", "1E+9", "12345678901234567890"};
    static const char *const not_numbers[] = {"", "-", "01x", "1.", ".5", "0x1f", "1e", "NaN", "12a"};
    enum {
        MAXF = 40
    };
    struct stoat_field fs[MAXF];
    bool number_ok[MAXF];
    char names[MAXF][96], values[MAXF][300];
    struct buf got = {0}, want = {0}, gen = {0};
    for (int round = 0; round < 3000; round++) {
        size_t n = rnd() % MAXF;
        for (size_t i = 0; i < n; i++) {
            /* distinct: the index and a # lead the name */
            size_t nl = (size_t)snprintf(names[i], sizeof(names[i]), "%zu#", i); /* (no # below) */
            nl += random_value((unsigned char *)names[i] + nl, round % 3 ? 20 : 90);
            struct stoat_field *f = &fs[i];
            *f = (struct stoat_field){.name = names[i], .name_len = (uint32_t)nl, .value = values[i]};
            number_ok[i] = false;
            switch (rnd() % 6) {
            case 0:
                f->type = STOAT_V_NUMBER;
                number_ok[i] = rnd() % 3 != 0;
                strcpy(values[i], number_ok[i] ? numbers[rnd() % 7] : not_numbers[rnd() % 9]);
                f->value_len = (uint32_t)strlen(values[i]);
                break;
            case 1:
                f->type = STOAT_V_BOOL;
                f->value_len = rnd() % 2 ? 4 : 5;
                memcpy(values[i], f->value_len == 4 ? "true" : "false", f->value_len);
                break;
            case 2:
                f->type = STOAT_V_NULL;
                f->value_len = 0;
                break;
            default:
                f->type = STOAT_V_STRING;
                f->value_len = (uint32_t)random_value((unsigned char *)values[i], rnd() % 4 ? 70 : sizeof(values[i]));
            }
        }
        buf_clear(&want);
        object_ref(&want, fs, n, number_ok);
        /* into a buffer of every state: fresh (no room at all), or with text */
        buf_free(&got);
        if (round % 2)
            buf_puts(&got, "prefix:");
        size_t at = got.len;
        event_json_write_distinct(&got, fs, n);
        assert_int_equal(got.len - at, want.len);
        assert_memory_equal(got.p + at, want.p, want.len);
        assert_int_equal(got.p[got.len], 0);
        buf_clear(&gen);
        event_json_write(&gen, fs, n);
        assert_int_equal(gen.len, want.len);
        assert_memory_equal(gen.p, want.p, want.len);
    }
    buf_free(&got);
    buf_free(&want);
    buf_free(&gen);
}

/* JSON's number grammar, one rule at a time: the slow reference for what
 * the object writes bare. */
static bool ref_json_number(const char *s, size_t n)
{
    size_t i = 0, d;
    if (i < n && s[i] == '-')
        i++;
    for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
        ;
    if (i == d || (s[d] == '0' && i - d > 1))
        return false;
    if (i < n && s[i] == '.') {
        for (d = ++i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return false;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        for (d = i; i < n && s[i] >= '0' && s[i] <= '9'; i++)
            ;
        if (i == d)
            return false;
    }
    return i == n;
}

/* Number values (the short digits' in-place path and json_value's walk):
 * every string of up to three bytes over digits and the bytes a number may
 * hold or that border the digits, then random ones to twelve bytes, each
 * alone in exactly its own length and among other fields, written bare
 * exactly when JSON's grammar takes them. */
static void test_number_values_match_reference(void **state)
{
    (void)state;
    static const char alphabet[] = "0123456789-+.eE/:a ";
    enum {
        A = sizeof(alphabet) - 1
    };
    struct buf got = {0}, want = {0};
    for (uint32_t k = 0; k < A * A * A + A * A + A + 1 + 20000; k++) {
        char v[16];
        size_t n = 0;
        if (k < A * A * A + A * A + A + 1) {
            /* k in a mixed base: its length, then its bytes */
            uint32_t r = k, len = r == 0 ? 0 : r <= A ? 1 : r <= A + A * A ? 2 : 3;
            r -= len == 0 ? 0 : len == 1 ? 1 : len == 2 ? 1 + A : 1 + A + A * A;
            for (; n < len; n++, r /= A)
                v[n] = alphabet[r % A];
        } else {
            n = rnd() % 13;
            for (size_t i = 0; i < n; i++)
                v[i] = rnd() % 4 ? (char)('0' + rnd() % 10) : alphabet[rnd() % A];
        }
        char *exact = malloc(n ? n : 1); /* exactly n: a read past it is the sanitizer's */
        memcpy(exact, v, n);
        bool ok = ref_json_number(exact, n);
        struct stoat_field fs[3] = {
            {.name = "a", .name_len = 1, .value = "x", .value_len = 1, .type = STOAT_V_STRING},
            {.name = "n", .name_len = 1, .value = exact, .value_len = (uint32_t)n, .type = STOAT_V_NUMBER},
            {.name = "z", .name_len = 1, .value = "0", .value_len = 1, .type = STOAT_V_NUMBER},
        };
        const bool number_ok[3] = {false, ok, true};
        for (int alone = 0; alone < 2; alone++) {
            size_t at = alone ? 1 : 0, nf = alone ? 1 : 3;
            buf_clear(&want);
            object_ref(&want, fs + at, nf, number_ok + at);
            buf_free(&got);
            event_json_write_distinct(&got, fs + at, nf);
            if (got.len != want.len || memcmp(got.p, want.p, want.len) != 0)
                fail_msg("number \"%.*s\": got %s want %s", (int)n, exact, got.p, want.p);
        }
        free(exact);
    }
    buf_free(&got);
    buf_free(&want);
}

/* A repeated name still becomes a list (event_json_write's other path). */
static void test_repeated_name_is_a_list(void **state)
{
    (void)state;
    struct stoat_field fs[] = {
        {.name = "a", .name_len = 1, .value = "1", .value_len = 1, .type = STOAT_V_NUMBER},
        {.name = "b\"", .name_len = 2, .value = "x\\y", .value_len = 3, .type = STOAT_V_STRING},
        {.name = "a", .name_len = 1, .value = "two", .value_len = 3, .type = STOAT_V_STRING},
    };
    struct buf b = {0};
    event_json_write(&b, fs, 3);
    assert_string_equal(b.p, "{\"a\":[1,\"two\"],\"b\\\"\":\"x\\\\y\"}");
    assert_false(event_names_unique(fs, 3));
    assert_true(event_names_unique(fs, 2));
    buf_free(&b);
}

/* Names repeated in any pattern, up to past the unique check's table (128
 * fields), are grouped as the plain pairwise reading says: each name once,
 * where it first comes, a list when it repeats, its values in order. */
static void test_repeated_names_grouped(void **state)
{
    (void)state;
    enum {
        MAXN = 400
    };
    static struct stoat_field fs[MAXN];
    static char names[MAXN][16], values[MAXN][24];
    uint32_t seed = 12345;
    struct buf got = {0}, want = {0}, one = {0};
    for (int round = 0; round < 300; round++) {
        seed = seed * 1103515245u + 12345u;
        size_t n = 2 + (seed >> 8) % (MAXN - 1);
        size_t pool = 1 + (seed >> 20) % 60;
        for (size_t i = 0; i < n; i++) {
            seed = seed * 1103515245u + 12345u;
            snprintf(names[i], sizeof(names[i]), "n%u", (unsigned)((seed >> 8) % pool));
            bool num = (seed >> 4) & 1;
            snprintf(values[i], sizeof(values[i]), num ? "%u" : "v\"%u", (unsigned)(seed >> 12));
            fs[i] = (struct stoat_field){.name = names[i],
                                         .name_len = strlen(names[i]),
                                         .value = values[i],
                                         .value_len = strlen(values[i]),
                                         .type = num ? STOAT_V_NUMBER : STOAT_V_STRING};
        }
        /* the reference: pairwise, each value rendered alone */
        buf_clear(&want);
        buf_putc(&want, '{');
        for (size_t i = 0; i < n; i++) {
            bool seen = false;
            for (size_t j = 0; j < i && !seen; j++)
                seen = !strcmp(names[j], names[i]);
            if (seen)
                continue;
            size_t count = 0;
            for (size_t j = i; j < n; j++)
                count += !strcmp(names[j], names[i]);
            if (want.len > 1)
                buf_putc(&want, ',');
            buf_printf(&want, "\"%s\":", names[i]);
            if (count > 1)
                buf_putc(&want, '[');
            bool firstv = true;
            for (size_t j = i; j < n; j++) {
                if (strcmp(names[j], names[i]))
                    continue;
                buf_clear(&one);
                event_json_write(&one, &fs[j], 1); /* {"name":value} */
                size_t skip = strlen(names[j]) + 4;
                if (!firstv)
                    buf_putc(&want, ',');
                firstv = false;
                buf_put(&want, one.p + skip, one.len - skip - 1);
            }
            if (count > 1)
                buf_putc(&want, ']');
        }
        buf_putc(&want, '}');
        buf_clear(&got);
        event_json_write(&got, fs, n);
        assert_string_equal(got.p, want.p);
    }
    buf_free(&got);
    buf_free(&want);
    buf_free(&one);
}

/* Fields as a reader and the engine leave them: the id of the name (the
 * same for its other case), FIELD_UNKNOWN when no rule knows it, and the
 * chain of a repeated id. */
static void make_fields(struct ev_field *fs, const char *const *names, const uint32_t *ids, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        fs[i] = (struct ev_field){.name = names[i], .name_len = (uint32_t)strlen(names[i]), .id = ids[i], .next = -1};
        for (size_t j = 0; j < i; j++)
            if (ids[j] == ids[i] && ids[i] != FIELD_UNKNOWN) {
                size_t k = j;
                while (fs[k].next >= 0)
                    k = (size_t)fs[k].next;
                fs[k].next = (int32_t)i;
                break;
            }
    }
}

static bool names_really_distinct(const struct ev_field *fs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < i; j++)
            if (fs[i].name_len == fs[j].name_len && memcmp(fs[i].name, fs[j].name, fs[i].name_len) == 0)
                return false;
    return true;
}

static void test_names_distinct_by_ids(void **state)
{
    (void)state;
    struct ev_field fs[40];
    {
        const char *names[] = {"Image", "CommandLine", "xmlns", "Opcode"};
        const uint32_t ids[] = {0, 1, FIELD_UNKNOWN, FIELD_UNKNOWN};
        make_fields(fs, names, ids, 4);
        assert_true(records_names_distinct(fs, 4, 2));
    }
    {
        const char *names[] = {"Image", "CommandLine", "image"}; /* one id, two cases: not told apart cheaply */
        const uint32_t ids[] = {0, 1, 0};
        make_fields(fs, names, ids, 3);
        assert_false(records_names_distinct(fs, 3, 2));
    }
    {
        const char *names[] = {"Image", "xmlns", "Opcode", "xmlns"}; /* a name no rule knows, twice */
        const uint32_t ids[] = {0, FIELD_UNKNOWN, FIELD_UNKNOWN, FIELD_UNKNOWN};
        make_fields(fs, names, ids, 4);
        assert_false(records_names_distinct(fs, 4, 2));
    }
    {
        /* unknown names alike in length, start and end (the bits the check
         * keeps of a name), different in the middle: told apart by comparing */
        const char *names[] = {"abcdefgh_X_12345678", "Image", "abcdefgh_Y_12345678"};
        const uint32_t ids[] = {FIELD_UNKNOWN, 0, FIELD_UNKNOWN};
        make_fields(fs, names, ids, 3);
        assert_true(records_names_distinct(fs, 3, 2));
        const char *same[] = {"abcdefgh_X_12345678", "Image", "abcdefgh_X_12345678"};
        make_fields(fs, same, ids, 3);
        assert_false(records_names_distinct(fs, 3, 2));
    }
    /* random names from a small pool, some of them known: never "distinct"
     * when they are not, and "distinct" whenever they are and the unknown
     * ones are few */
    static const char *const pool[] = {"Image",    "image",       "CommandLine", "User", "a",      "b",
                                       "Opcode",   "xmlns",       "Version",     "Task", "Level",  "Keywords",
                                       "RuleName", "UtcTime",     "x",           "y",    "Hashes", "Product",
                                       "Company",  "Description", "FileVersion", "z"};
    const size_t npool = sizeof(pool) / sizeof(pool[0]);
    for (int round = 0; round < 20000; round++) {
        size_t n = rnd() % 30;
        const char *names[40];
        uint32_t ids[40];
        size_t unknown = 0;
        for (size_t i = 0; i < n; i++) {
            size_t k = rnd() % npool;
            names[i] = pool[k];
            /* the first six known, by folded name: Image and image share one */
            ids[i] = k < 6 ? (uint32_t)(k == 1 ? 0 : k) : FIELD_UNKNOWN;
            unknown += k >= 6;
        }
        make_fields(fs, names, ids, n);
        bool got = records_names_distinct(fs, n, 6), real = names_really_distinct(fs, n);
        if (got)
            assert_true(real);
        bool case_pair = false; /* "Image" and "image": one id, distinct names */
        for (size_t i = 0; i < n; i++)
            for (size_t j = 0; j < n; j++)
                case_pair |= strcmp(names[i], "Image") == 0 && strcmp(names[j], "image") == 0;
        if (real && !case_pair && unknown <= 16)
            assert_true(got);
    }
}

/* event_glance as it was: each key tried against every field in turn. */
static void glance_ref(struct buf *b, const struct stoat_field *fields, size_t n, size_t maxlen)
{
    static const char *const keys[] = {"Image",
                                       "NewProcessName",
                                       "CommandLine",
                                       "ParentImage",
                                       "ParentProcessName",
                                       "TargetFilename",
                                       "ImageLoaded",
                                       "TargetObject",
                                       "Details",
                                       "DestinationIp",
                                       "DestinationPort",
                                       "QueryName",
                                       "ScriptBlockText",
                                       "PipeName",
                                       "ServiceName",
                                       "TargetUserName",
                                       "SubjectUserName",
                                       "IpAddress",
                                       "User",
                                       "exe",
                                       "cmd",
                                       "proctitle",
                                       NULL};
    size_t start = b->len;
    for (const char *const *k = keys; *k; k++) {
        size_t kl = strlen(*k);
        for (size_t i = 0; i < n; i++) {
            const struct stoat_field *f = &fields[i];
            if (f->name_len != kl || memcmp(f->name, *k, kl) != 0 || f->value_len == 0)
                continue;
            buf_puts(b, b->len > start ? " | " : "");
            buf_put(b, f->name, f->name_len);
            buf_puts(b, ": ");
            for (size_t j = 0; j < f->value_len; j++) {
                char c = f->value[j];
                buf_putc(b, (c == '\n' || c == '\r' || c == '\t') ? ' ' : c);
            }
            break;
        }
        if (b->len - start > maxlen)
            break;
    }
    if (b->len - start > maxlen) {
        b->len = start + utf8_cut(b->p + start, maxlen);
        buf_puts(b, "...");
    }
}

/* Random events of key names (repeated, some empty), their other cases
 * and others, glanced at with every kind of limit: as the loop over keys. */
static void test_glance_matches_reference(void **state)
{
    (void)state;
    static const char *const pool[] = {
        "Image",     "image",           "CommandLine",       "ParentImage",     "User", "exe",    "cmd",
        "proctitle", "ScriptBlockText", "ParentProcessName", "DestinationPort", "Imag", "Images", "xmlns",
        "",          "TargetObject",    "Details",           "QueryName"};
    enum {
        MAXF = 30
    };
    struct stoat_field fs[MAXF];
    char values[MAXF][120];
    struct buf got = {0}, want = {0};
    for (int round = 0; round < 20000; round++) {
        size_t n = rnd() % MAXF;
        for (size_t i = 0; i < n; i++) {
            const char *name = pool[rnd() % (sizeof(pool) / sizeof(pool[0]))];
            size_t vl = rnd() % 4 ? random_value((unsigned char *)values[i], sizeof(values[i])) : 0;
            fs[i] = (struct stoat_field){.name = name,
                                         .name_len = (uint32_t)strlen(name),
                                         .value = values[i],
                                         .value_len = (uint32_t)vl,
                                         .type = STOAT_V_STRING};
        }
        size_t maxlen = rnd() % 3 ? rnd() % 200 : rnd() % 2 ? 400 : SIZE_MAX;
        buf_clear(&got);
        buf_clear(&want);
        buf_puts(&got, "x");
        buf_puts(&want, "x");
        event_glance(&got, fs, n, maxlen);
        glance_ref(&want, fs, n, maxlen);
        assert_int_equal(got.len, want.len);
        assert_memory_equal(got.p, want.p, got.len);
    }
    buf_free(&got);
    buf_free(&want);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_plain_copy_every_position),
        cmocka_unit_test(test_str_escaped_matches_str),
        cmocka_unit_test(test_distinct_object_matches_reference),
        cmocka_unit_test(test_number_values_match_reference),
        cmocka_unit_test(test_repeated_name_is_a_list),
        cmocka_unit_test(test_repeated_names_grouped),
        cmocka_unit_test(test_names_distinct_by_ids),
        cmocka_unit_test(test_glance_matches_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
