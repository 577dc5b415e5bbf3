/* Unit tests for the EVTX reader (src/readers/evtx/).
 *
 * Why hand-built buffers: the damage cases (bad checksums, truncated and
 * corrupt records, records in slack, lying headers) and the rarer Binary XML
 * shapes (every value type, arrays, nested Binary XML, entity and character
 * references) hardly occur in real sample files, so a small writer below
 * builds exactly the bytes each test needs, checksums included.
 */
#include "testutil.h"
#include "reader_capture.h"

#include "readers/evtx/evtx.h"
#include "readers/evtx/evtx_int.h"
#include "readers/reader.h"

#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

/* ------------------------------------------------------------ byte writer */

struct w {
    uint8_t *b;
    size_t pos, cap;
};

static void put(struct w *w, const void *p, size_t n)
{
    assert_true(w->pos + n <= w->cap);
    memcpy(w->b + w->pos, p, n);
    w->pos += n;
}
static void u8(struct w *w, uint8_t v)
{
    put(w, &v, 1);
}
static void u16(struct w *w, uint16_t v)
{
    put(w, &v, 2);
}
static void u32(struct w *w, uint32_t v)
{
    put(w, &v, 4);
}
static void u64(struct w *w, uint64_t v)
{
    put(w, &v, 8);
}
static void set32(struct w *w, size_t at, uint32_t v)
{
    memcpy(w->b + at, &v, 4);
}

static void utf16(struct w *w, const char *s)
{
    for (; *s; s++)
        u16(w, (uint8_t)*s);
}

static uint32_t crc32_ref(const uint8_t *p, size_t n, uint32_t crc)
{
    crc = ~crc;
    while (n--) {
        crc ^= *p++;
        for (int k = 0; k < 8; k++)
            crc = crc & 1 ? 0xedb88320u ^ (crc >> 1) : crc >> 1;
    }
    return ~crc;
}

/* An inline name: the offset field points right after itself. */
static void name(struct w *w, const char *s)
{
    u32(w, (uint32_t)(w->pos + 4));
    u32(w, 0);
    u16(w, 0);
    u16(w, (uint16_t)strlen(s));
    utf16(w, s);
    u16(w, 0);
}

/* Element start; returns where its size field is so it can be patched. */
static size_t open_el(struct w *w, const char *n, int has_attrs)
{
    u8(w, has_attrs ? 0x41 : 0x01);
    u16(w, 0xffff);
    size_t at = w->pos;
    u32(w, 0);
    name(w, n);
    if (has_attrs)
        u32(w, 0); /* attribute list size: not relied on */
    return at;
}
static void end_size(struct w *w, size_t at)
{
    set32(w, at, (uint32_t)(w->pos - at - 4));
}

static void attr(struct w *w, const char *n, int more)
{
    u8(w, more ? 0x46 : 0x06);
    name(w, n);
}
static void text(struct w *w, const char *s)
{
    u8(w, 0x05);
    u8(w, 0x01);
    u16(w, (uint16_t)strlen(s));
    utf16(w, s);
}
static void sub(struct w *w, uint16_t idx, uint8_t type, int optional)
{
    u8(w, optional ? 0x0e : 0x0d);
    u16(w, idx);
    u8(w, type);
}
static void close_start(struct w *w)
{
    u8(w, 0x02);
}
static void close_empty(struct w *w)
{
    u8(w, 0x03);
}
static void end_el(struct w *w)
{
    u8(w, 0x04);
}
static void frag(struct w *w)
{
    u8(w, 0x0f);
    u8(w, 1);
    u8(w, 1);
    u8(w, 0);
}

/* <Data Name="n">%idx</Data> */
static void data_sub(struct w *w, const char *n, uint16_t idx, uint8_t type, int optional)
{
    size_t at = open_el(w, "Data", 1);
    attr(w, "Name", 0);
    text(w, n);
    close_start(w);
    sub(w, idx, type, optional);
    end_el(w);
    end_size(w, at);
}

/* Template instance header with an inline definition; the body is written
   by the caller between tpl_begin and tpl_end. */
static size_t tpl_begin(struct w *w)
{
    u8(w, 0x0c);
    u8(w, 1);
    u32(w, 0x1234);
    u32(w, (uint32_t)(w->pos + 4)); /* definition follows */
    size_t def = w->pos;
    u32(w, 0);
    for (int i = 0; i < 16; i++)
        u8(w, (uint8_t)i);
    u32(w, 0); /* body size, patched */
    frag(w);
    return def;
}
static void tpl_end(struct w *w, size_t def)
{
    u8(w, 0x00);
    set32(w, def + 20, (uint32_t)(w->pos - def - 24));
}
/* A reference to a template defined earlier at chunk offset def. */
static void tpl_ref(struct w *w, size_t def)
{
    u8(w, 0x0c);
    u8(w, 1);
    u32(w, 0x1234);
    u32(w, (uint32_t)def);
}

struct val {
    uint8_t type;
    const void *p;
    uint16_t n;
};
static void values(struct w *w, const struct val *v, size_t n)
{
    u32(w, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        u16(w, v[i].n);
        u8(w, v[i].type);
        u8(w, 0);
    }
    for (size_t i = 0; i < n; i++)
        if (v[i].n)
            put(w, v[i].p, v[i].n);
}

/* ------------------------------------------------------------ file builder */

struct file {
    uint8_t *b;
    size_t len;
    struct w c; /* the chunk being written */
    size_t chunk_base;
    uint64_t first_id, last_id;
    size_t last_rec;
};

static void file_init(struct file *f, unsigned nchunks)
{
    f->len = 4096 + (size_t)nchunks * 65536;
    f->b = calloc(1, f->len);
    assert_non_null(f->b);
    memcpy(f->b, "ElfFile\0", 8);
    uint64_t last = nchunks ? nchunks - 1 : 0;
    memcpy(f->b + 16, &last, 8);
    f->b[32] = 128;
    f->b[36] = 1;
    f->b[38] = 3;
    f->b[41] = 0x10;
    f->b[42] = (uint8_t)nchunks;
}

static void file_header_crc(struct file *f)
{
    uint32_t crc = crc32_ref(f->b, 120, 0);
    memcpy(f->b + 124, &crc, 4);
}

static void chunk_begin(struct file *f, unsigned idx)
{
    f->chunk_base = 4096 + (size_t)idx * 65536;
    f->c.b = f->b + f->chunk_base;
    f->c.cap = 65536;
    f->c.pos = 512;
    memcpy(f->c.b, "ElfChnk\0", 8);
    f->c.b[40] = 128;
    f->first_id = f->last_id = 0;
}

/* Starts a record; returns its chunk offset. */
static size_t rec_begin(struct file *f, uint64_t id)
{
    size_t at = f->c.pos;
    u32(&f->c, 0x00002a2a);
    u32(&f->c, 0);
    u64(&f->c, id);
    u64(&f->c, 132000000000000000ull);
    if (!f->first_id)
        f->first_id = id;
    f->last_id = id;
    return at;
}
static void rec_end(struct file *f, size_t at)
{
    while ((f->c.pos + 4 - at) % 8)
        u8(&f->c, 0);
    uint32_t size = (uint32_t)(f->c.pos + 4 - at);
    u32(&f->c, size);
    set32(&f->c, at + 4, size);
    f->last_rec = at;
}

/* Closes the chunk: free-space offset at the current position, checksums. */
static void chunk_end(struct file *f)
{
    uint8_t *c = f->c.b;
    memcpy(c + 8, &f->first_id, 8);
    memcpy(c + 16, &f->last_id, 8);
    memcpy(c + 24, &f->first_id, 8);
    memcpy(c + 32, &f->last_id, 8);
    uint32_t last = (uint32_t)f->last_rec, free_off = (uint32_t)f->c.pos;
    memcpy(c + 44, &last, 4);
    memcpy(c + 48, &free_off, 4);
    uint32_t dcrc = crc32_ref(c + 512, free_off - 512, 0);
    memcpy(c + 52, &dcrc, 4);
    uint32_t hcrc = crc32_ref(c + 128, 384, crc32_ref(c, 120, 0));
    memcpy(c + 124, &hcrc, 4);
}

/* ------------------------------------------------------------ collecting */

struct fieldcopy {
    char name[64];
    char value[256];
    uint8_t type;
};
struct reccopy {
    uint64_t id;
    uint64_t off;
    bool recovered;
    size_t n;
    struct fieldcopy f[64];
};
struct got {
    struct reccopy r[16];
    size_t nrec;
    char errors[16][128];
    uint64_t err_off[16];
    size_t nerr;
    int stop_after;
};

static int on_rec(void *ctx, const struct evtx_record *r)
{
    struct got *g = ctx;
    assert_true(g->nrec < 16);
    struct reccopy *c = &g->r[g->nrec++];
    c->id = r->record_id;
    c->off = r->file_offset;
    c->recovered = r->recovered;
    c->n = r->nfields;
    assert_true(r->nfields <= 64);
    for (size_t i = 0; i < r->nfields; i++) {
        snprintf(c->f[i].name, sizeof c->f[i].name, "%.*s", (int)r->fields[i].name_len, r->fields[i].name);
        snprintf(c->f[i].value, sizeof c->f[i].value, "%.*s", (int)r->fields[i].value_len, r->fields[i].value);
        assert_int_equal(strlen(r->fields[i].value), r->fields[i].value_len);
        c->f[i].type = r->fields[i].type;
    }
    return g->stop_after && (int)g->nrec >= g->stop_after;
}

static void on_err(void *ctx, const struct evtx_error *e)
{
    struct got *g = ctx;
    if (g->nerr < 16) {
        g->err_off[g->nerr] = e->offset;
        snprintf(g->errors[g->nerr++], 128, "%s", e->reason);
    }
}

/* Parses the whole file; *work (when not NULL) gets the work units spent. */
static long parse_work(struct file *f, struct got *g, uint64_t *work)
{
    struct evtx_file *ef = NULL;
    struct evtx_error err;
    memset(g, 0, sizeof *g);
    assert_int_equal(evtx_open_mem(f->b, f->len, "test.evtx", &ef, &err), 0);
    struct evtx_scratch *s = evtx_scratch_create();
    struct evtx_visitor v = {g, on_rec, on_err};
    long n = evtx_parse_all(ef, s, &v);
    if (work)
        *work = evtx_scratch_work(s);
    evtx_scratch_destroy(s);
    evtx_close(ef);
    return n;
}

static long parse(struct file *f, struct got *g)
{
    return parse_work(f, g, NULL);
}

static const struct fieldcopy *field(const struct reccopy *r, const char *n)
{
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->f[i].name, n) == 0)
            return &r->f[i];
    return NULL;
}

static void expect(const struct reccopy *r, const char *n, const char *v, uint8_t type)
{
    const struct fieldcopy *f = field(r, n);
    if (!f)
        fail_msg("field %s missing", n);
    assert_string_equal(f->value, v);
    assert_int_equal(f->type, type);
}

static bool has_error(const struct got *g, const char *what)
{
    for (size_t i = 0; i < g->nerr; i++)
        if (strstr(g->errors[i], what))
            return true;
    return false;
}

/* ------------------------------------------------------------ a typical event */

static const uint16_t U16_4688 = 4688;
static const uint64_t FT = 132790500000000000ull; /* 2021-10-20T... */

/* Writes an event in the usual shape: System with a few optional
   substitutions, EventData with named, unnamed and Binary elements. */
static size_t typical_template_named(struct w *c, const char *prov);
static size_t typical_template(struct w *c)
{
    return typical_template_named(c, "Prov");
}
/* The same with another provider name (a different template under the
   same GUID: every template here has the same one). */
static size_t typical_template_named(struct w *c, const char *prov)
{
    size_t def = tpl_begin(c);
    size_t ev = open_el(c, "Event", 1);
    attr(c, "xmlns", 0);
    text(c, "http://schemas.microsoft.com/win/2004/08/events/event");
    close_start(c);
    size_t sy = open_el(c, "System", 0);
    close_start(c);
    size_t pr = open_el(c, "Provider", 1);
    attr(c, "Name", 0);
    text(c, prov);
    close_empty(c);
    end_size(c, pr);
    size_t id = open_el(c, "EventID", 0);
    close_start(c);
    sub(c, 0, 0x06, 0);
    end_el(c);
    end_size(c, id);
    size_t tc = open_el(c, "TimeCreated", 1);
    attr(c, "SystemTime", 0);
    sub(c, 1, 0x11, 1);
    close_empty(c);
    end_size(c, tc);
    size_t co = open_el(c, "Correlation", 1);
    attr(c, "ActivityID", 0);
    sub(c, 2, 0x0f, 1);
    close_empty(c);
    end_size(c, co);
    end_el(c);
    end_size(c, sy);
    size_t ed = open_el(c, "EventData", 0);
    close_start(c);
    data_sub(c, "CommandLine", 3, 0x01, 1);
    size_t d1 = open_el(c, "Data", 0);
    close_start(c);
    sub(c, 4, 0x01, 0);
    end_el(c);
    end_size(c, d1);
    size_t d2 = open_el(c, "Data", 0);
    close_start(c);
    sub(c, 5, 0x01, 0);
    end_el(c);
    end_size(c, d2);
    data_sub(c, "Gone", 6, 0x01, 1); /* optional, NULL: no field */
    data_sub(c, "Null", 7, 0x01, 0); /* normal, NULL: null field */
    end_el(c);
    end_size(c, ed);
    end_el(c);
    end_size(c, ev);
    tpl_end(c, def);
    return def;
}

static const uint8_t CMD[] = {'c', 0, 'm', 0, 'd', 0, ' ', 0, '/', 0, 'c', 0};
static const uint8_t A_[] = {'a', 0};
static const uint8_t B_[] = {'b', 0, 0, 0}; /* trailing NUL is dropped */

static void typical_values(struct w *c)
{
    struct val v[] = {
        {0x06, &U16_4688, 2}, {0x11, &FT, 8}, {0x00, NULL, 0}, {0x01, CMD, sizeof CMD},
        {0x01, A_, 2},        {0x01, B_, 4},  {0x00, NULL, 0}, {0x00, NULL, 0},
    };
    values(c, v, sizeof v / sizeof v[0]);
}

static void build_typical(struct file *f, unsigned nrec)
{
    file_init(f, 1);
    file_header_crc(f);
    chunk_begin(f, 0);
    size_t def = 0;
    for (unsigned i = 0; i < nrec; i++) {
        size_t r = rec_begin(f, 100 + i);
        frag(&f->c);
        if (i == 0) {
            def = typical_template(&f->c);
        } else {
            tpl_ref(&f->c, def);
        }
        typical_values(&f->c);
        u8(&f->c, 0x00);
        rec_end(f, r);
    }
    chunk_end(f);
}

/* A record of the typical event (its template defined at *tdef, or here
   when that is 0); returns the record's chunk offset. */
static size_t typical_record(struct file *f, uint64_t id, size_t *tdef)
{
    size_t r = rec_begin(f, id);
    frag(&f->c);
    if (*tdef)
        tpl_ref(&f->c, *tdef);
    else
        *tdef = typical_template(&f->c);
    typical_values(&f->c);
    u8(&f->c, 0x00);
    rec_end(f, r);
    return r;
}

/* ------------------------------------------------------------ tests */

static void test_probe_and_open(void **state)
{
    (void)state;
    uint8_t junk[200] = "NotAnEvtx";
    struct evtx_file *f = NULL;
    struct evtx_error err;
    assert_false(evtx_probe(junk, sizeof junk));
    assert_true(evtx_probe((const uint8_t *)"ElfFile\0xx", 10));
    assert_false(evtx_probe((const uint8_t *)"ElfFile", 7));
    assert_int_equal(evtx_open_mem(junk, sizeof junk, "j", &f, &err), -1);
    assert_null(f);
    assert_non_null(err.reason);
    uint8_t shorty[16] = "ElfFile";
    assert_int_equal(evtx_open_mem(shorty, sizeof shorty, "s", &f, &err), -1);
    evtx_close(NULL);
    evtx_scratch_destroy(NULL);
}

static void test_typical_event(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    build_typical(&f, 2);
    assert_int_equal(parse(&f, &g), 2);
    assert_int_equal(g.nerr, 0);
    for (int i = 0; i < 2; i++) {
        const struct reccopy *r = &g.r[i];
        assert_int_equal(r->id, 100 + i);
        assert_false(r->recovered);
        expect(r, "Provider_Name", "Prov", EVTX_V_STRING);
        expect(r, "EventID", "4688", EVTX_V_UINT);
        expect(r, "TimeCreated_SystemTime", "2021-10-18T17:00:00.000000000Z", EVTX_V_TIME);
        /* all attributes NULL: an empty element */
        expect(r, "Correlation", "", EVTX_V_STRING);
        assert_null(field(r, "Correlation_ActivityID"));
        expect(r, "CommandLine", "cmd /c", EVTX_V_STRING);
        assert_null(field(r, "Gone"));
        expect(r, "Null", "", EVTX_V_NULL);
        assert_null(field(r, "Event_xmlns"));
        /* unnamed Data: one field each, in order */
        size_t nd = 0;
        for (size_t k = 0; k < r->n; k++)
            if (strcmp(r->f[k].name, "Data") == 0)
                assert_string_equal(r->f[k].value, nd++ ? "b" : "a");
        assert_int_equal(nd, 2);
    }
    free(f.b);
}

/* Every value type through one template. */
static void test_value_types(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint8_t type;
        uint8_t bytes[32];
        uint16_t n;
        const char *want;
        uint8_t vtype;
    } cases[] = {
        {"S", 0x01, {'h', 0, 0xe9, 0, 0x3d, 0xd8, 0x00, 0xde}, 8, "h\xc3\xa9\xf0\x9f\x98\x80", EVTX_V_STRING},
        {"A", 0x02, {'x', 0x80, 0xe9}, 3, "x\xe2\x82\xac\xc3\xa9", EVTX_V_STRING},
        {"I8", 0x03, {0xff}, 1, "-1", EVTX_V_INT},
        {"U8", 0x04, {0xff}, 1, "255", EVTX_V_UINT},
        {"I16", 0x05, {0x00, 0x80}, 2, "-32768", EVTX_V_INT},
        {"U16", 0x06, {0xff, 0xff}, 2, "65535", EVTX_V_UINT},
        {"I32", 0x07, {0xfe, 0xff, 0xff, 0xff}, 4, "-2", EVTX_V_INT},
        {"U32", 0x08, {0xff, 0xff, 0xff, 0xff}, 4, "4294967295", EVTX_V_UINT},
        {"I64", 0x09, {0, 0, 0, 0, 0, 0, 0, 0x80}, 8, "-9223372036854775808", EVTX_V_INT},
        {"U64", 0x0a, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8, "18446744073709551615", EVTX_V_UINT},
        {"F32", 0x0b, {0x00, 0x00, 0xc0, 0x3f}, 4, "1.500000e+000", EVTX_V_FLOAT},
        {"F64", 0x0c, {0, 0, 0, 0, 0, 0, 0x59, 0xc0}, 8, "-1.000000e+002", EVTX_V_FLOAT},
        {"B1", 0x0d, {1, 0, 0, 0}, 4, "true", EVTX_V_BOOL},
        {"B0", 0x0d, {0, 0, 0, 0}, 4, "false", EVTX_V_BOOL},
        {"Bin", 0x0e, {0xde, 0xad, 0x01}, 3, "DEAD01", EVTX_V_BINARY},
        {"G",
         0x0f,
         {0x25, 0x96, 0x84, 0x54, 0x78, 0x54, 0x94, 0x49, 0xa5, 0xba, 0x3e, 0x3b, 0x03, 0x28, 0xc3, 0x0d},
         16,
         "{54849625-5478-4994-A5BA-3E3B0328C30D}",
         EVTX_V_GUID},
        {"Sz4", 0x10, {0x10, 0, 0, 0}, 4, "0x10", EVTX_V_HEX},
        {"Sz8", 0x10, {0x10, 0, 0, 0, 0, 0, 0, 0}, 8, "0x10", EVTX_V_HEX},
        {"FT",
         0x11,
         {0x00, 0x80, 0x3e, 0xd5, 0xde, 0xb1, 0x9d, 0x01},
         8,
         "1970-01-01T00:00:00.000000000Z",
         EVTX_V_TIME},
        {"ST",
         0x12,
         {0xe5, 0x07, 10, 0, 3, 0, 20, 0, 13, 0, 39, 0, 12, 0, 0x2d, 0x01},
         16,
         "2021-10-20T13:39:12.301000000Z",
         EVTX_V_TIME},
        {"Sid", 0x13, {1, 2, 0, 0, 0, 0, 0, 5, 32, 0, 0, 0, 0x20, 0x02, 0, 0}, 16, "S-1-5-32-544", EVTX_V_SID},
        {"H32", 0x14, {0xef, 0xbe, 0xad, 0xde}, 4, "0xdeadbeef", EVTX_V_HEX},
        {"H64", 0x15, {0x5f, 0xc6, 0xf4, 0x01, 0, 0, 0, 0}, 8, "0x1f4c65f", EVTX_V_HEX},
        /* as Windows writes them: no leading zeros, and zero is 0x0 */
        {"H32z", 0x14, {0, 0, 0, 0}, 4, "0x0", EVTX_V_HEX},
        {"H32s", 0x14, {0x17, 0, 0, 0}, 4, "0x17", EVTX_V_HEX},
        {"H64z", 0x15, {0, 0, 0, 0, 0, 0, 0, 0}, 8, "0x0", EVTX_V_HEX},
        {"H64max", 0x15, {0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, 8, "0xffffffffffffffff", EVTX_V_HEX},
    };
    enum {
        N = sizeof cases / sizeof cases[0]
    };
    struct file f;
    struct got g;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t r = rec_begin(&f, 1);
    struct w *c = &f.c;
    frag(c);
    size_t def = tpl_begin(c);
    size_t ed = open_el(c, "EventData", 0);
    close_start(c);
    for (int i = 0; i < N; i++)
        data_sub(c, cases[i].name, (uint16_t)i, cases[i].type, 0);
    end_el(c);
    end_size(c, ed);
    tpl_end(c, def);
    struct val v[N];
    for (int i = 0; i < N; i++)
        v[i] = (struct val){cases[i].type, cases[i].bytes, cases[i].n};
    values(c, v, N);
    u8(c, 0);
    rec_end(&f, r);
    chunk_end(&f);
    assert_int_equal(parse(&f, &g), 1);
    assert_int_equal(g.nerr, 0);
    for (int i = 0; i < N; i++)
        expect(&g.r[0], cases[i].name, cases[i].want, cases[i].vtype);
    free(f.b);
}

static void test_arrays(void **state)
{
    (void)state;
    static const uint8_t strs[] = {'a', 0, 0, 0, 'b', 0, 'c', 0, 0, 0};
    static const uint32_t nums[] = {1, 2, 3};
    static const uint64_t hexes[] = {0x10, 0x20};
    struct file f;
    struct got g;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t r = rec_begin(&f, 1);
    struct w *c = &f.c;
    frag(c);
    size_t def = tpl_begin(c);
    size_t ed = open_el(c, "EventData", 0);
    close_start(c);
    data_sub(c, "Strs", 0, 0x81, 0);
    data_sub(c, "Nums", 1, 0x88, 0);
    data_sub(c, "Hex", 2, 0x95, 0);
    data_sub(c, "Empty", 3, 0x81, 0);
    end_el(c);
    end_size(c, ed);
    tpl_end(c, def);
    struct val v[] = {
        {0x81, strs, sizeof strs},
        {0x88, nums, sizeof nums},
        {0x95, hexes, sizeof hexes},
        {0x81, NULL, 0},
    };
    values(c, v, 4);
    u8(c, 0);
    rec_end(&f, r);
    chunk_end(&f);
    assert_int_equal(parse(&f, &g), 1);
    const struct reccopy *rc = &g.r[0];
    const char *want[][2] = {
        {"Strs", "a"}, {"Strs", "bc"},  {"Nums", "1"},   {"Nums", "2"},
        {"Nums", "3"}, {"Hex", "0x10"}, {"Hex", "0x20"}, {"Empty", ""},
    };
    assert_int_equal(rc->n, 8);
    for (size_t i = 0; i < 8; i++) {
        assert_string_equal(rc->f[i].name, want[i][0]);
        assert_string_equal(rc->f[i].value, want[i][1]);
    }
    free(f.b);
}

/* UserData as a Binary XML substitution holding its own template. */
static void test_nested_binxml(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t r = rec_begin(&f, 7);
    struct w *c = &f.c;
    frag(c);
    size_t def = tpl_begin(c);
    size_t ev = open_el(c, "Event", 0);
    close_start(c);
    size_t ud = open_el(c, "UserData", 0);
    close_start(c);
    sub(c, 0, 0x21, 0);
    end_el(c);
    end_size(c, ud);
    end_el(c);
    end_size(c, ev);
    tpl_end(c, def);
    /* the value: write it in place after the descriptor */
    u32(c, 1);
    size_t desc = c->pos;
    u16(c, 0);
    u8(c, 0x21);
    u8(c, 0);
    size_t start = c->pos;
    frag(c);
    size_t inner = tpl_begin(c);
    size_t lf = open_el(c, "LogFileCleared", 1);
    attr(c, "xmlns", 0);
    text(c, "http://manifests.microsoft.com/win/2004/08/windows/eventlog");
    close_start(c);
    size_t un = open_el(c, "SubjectUserName", 0);
    close_start(c);
    sub(c, 0, 0x01, 0);
    end_el(c);
    end_size(c, un);
    size_t inf = open_el(c, "Info", 1);
    attr(c, "Kind", 0);
    sub(c, 1, 0x08, 0);
    close_start(c);
    text(c, "x");
    u8(c, 0x48); /* char ref, more follows */
    u16(c, 0x263a);
    u8(c, 0x49); /* entity ref &amp; */
    name(c, "amp");
    u8(c, 0x07); /* CDATA */
    u16(c, 2);
    utf16(c, "<>");
    end_el(c);
    end_size(c, inf);
    end_el(c);
    end_size(c, lf);
    tpl_end(c, inner);
    static const uint8_t adm[] = {'a', 0, 'd', 0, 'm', 0};
    static const uint32_t kind = 9;
    struct val iv[] = {{0x01, adm, sizeof adm}, {0x08, &kind, 4}};
    values(c, iv, 2);
    u8(c, 0x00);
    uint16_t vsize = (uint16_t)(c->pos - start);
    memcpy(c->b + desc, &vsize, 2);
    u8(c, 0x00);
    rec_end(&f, r);
    chunk_end(&f);
    assert_int_equal(parse(&f, &g), 1);
    assert_int_equal(g.nerr, 0);
    const struct reccopy *rc = &g.r[0];
    expect(rc, "SubjectUserName", "adm", EVTX_V_STRING);
    expect(rc, "Info_Kind", "9", EVTX_V_UINT);
    expect(rc, "Info", "x\xe2\x98\xba&<>", EVTX_V_STRING);
    assert_null(field(rc, "UserData"));
    assert_null(field(rc, "LogFileCleared_xmlns"));
    free(f.b);
}

/* A record of plain elements, no template; plus a processing instruction. */
static void test_raw_elements(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t r = rec_begin(&f, 1);
    struct w *c = &f.c;
    frag(c);
    u8(c, 0x0a); /* PI target */
    name(c, "xml-stylesheet");
    u8(c, 0x0b); /* PI data */
    u16(c, 1);
    utf16(c, "x");
    size_t ev = open_el(c, "Event", 0);
    close_start(c);
    size_t a = open_el(c, "A", 0);
    close_start(c);
    text(c, "one");
    end_el(c);
    end_size(c, a);
    size_t b = open_el(c, "B", 0);
    close_empty(c);
    end_size(c, b);
    end_el(c);
    end_size(c, ev);
    u8(c, 0x00);
    rec_end(&f, r);
    chunk_end(&f);
    assert_int_equal(parse(&f, &g), 1);
    assert_int_equal(g.r[0].n, 2);
    expect(&g.r[0], "A", "one", EVTX_V_STRING);
    expect(&g.r[0], "B", "", EVTX_V_STRING);
    free(f.b);
}

static void test_bad_checksums_keep_records(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    build_typical(&f, 3);
    f.c.b[600] ^= 0x55; /* inside the template name area of record 1? no: in its data */
    f.c.b[124] ^= 1;    /* chunk header checksum */
    f.b[124] ^= 1;      /* file header checksum */
    long n = parse(&f, &g);
    assert_true(has_error(&g, "file header checksum"));
    assert_true(has_error(&g, "chunk header checksum"));
    assert_true(has_error(&g, "records checksum"));
    /* the flipped byte may damage record 1; records 2 and 3 stay */
    assert_true(n >= 2);
    free(f.b);
}

static void test_corrupt_record_skipped(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    build_typical(&f, 3);
    /* break record 2's trailing size copy */
    uint32_t size1, size2;
    memcpy(&size1, f.c.b + 512 + 4, 4);
    memcpy(&size2, f.c.b + 512 + size1 + 4, 4);
    f.c.b[512 + size1 + size2 - 4] ^= 0xff;
    assert_int_equal(parse(&f, &g), 2);
    assert_int_equal(g.r[0].id, 100);
    assert_int_equal(g.r[1].id, 102);
    assert_false(g.r[1].recovered);
    assert_true(has_error(&g, "corrupt record"));
    free(f.b);
}

static void test_truncated_binxml_reported(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    build_typical(&f, 2);
    /* record 2: the value count claims more values than there are bytes */
    uint32_t size1;
    memcpy(&size1, f.c.b + 512 + 4, 4);
    size_t r2 = 512 + size1;
    /* record 2 is header(24) frag(4) ref(10) then the value count */
    uint32_t huge = 60000;
    memcpy(f.c.b + r2 + 24 + 4 + 10, &huge, 4);
    assert_int_equal(parse(&f, &g), 1);
    assert_true(has_error(&g, "Binary XML"));
    free(f.b);
}

static void test_slack_recovery(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    build_typical(&f, 3);
    /* pretend the chunk ends after record 2: record 3 is now slack */
    uint32_t size1, size2;
    memcpy(&size1, f.c.b + 512 + 4, 4);
    memcpy(&size2, f.c.b + 512 + size1 + 4, 4);
    size_t end2 = 512 + size1 + size2;
    /* and put a stale copy of record 1 (same id) after record 3 */
    size_t r3_end = f.c.pos;
    memcpy(f.c.b + r3_end, f.c.b + 512, size1);
    f.c.pos = end2;
    f.last_id = 101;
    f.last_rec = 512 + size1;
    chunk_end(&f);
    assert_int_equal(parse(&f, &g), 3);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.r[2].id, 102);
    assert_true(g.r[2].recovered);
    expect(&g.r[2], "CommandLine", "cmd /c", EVTX_V_STRING);
    free(f.b);
}

static void test_dirty_file_more_chunks(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    /* two chunks in the file, header says one and dirty */
    file_init(&f, 2);
    f.b[42] = 1;
    f.b[120] = 1;
    file_header_crc(&f);
    for (unsigned k = 0; k < 2; k++) {
        chunk_begin(&f, k);
        size_t r = rec_begin(&f, 10 + k);
        frag(&f.c);
        typical_template(&f.c);
        typical_values(&f.c);
        u8(&f.c, 0);
        rec_end(&f, r);
        chunk_end(&f);
    }
    assert_int_equal(parse(&f, &g), 2);
    assert_true(has_error(&g, "dirty"));
    assert_true(has_error(&g, "beyond the header"));
    free(f.b);
}

static void test_truncated_file(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    build_typical(&f, 3);
    uint32_t size1, size2;
    memcpy(&size1, f.c.b + 512 + 4, 4);
    memcpy(&size2, f.c.b + 512 + size1 + 4, 4);
    /* cut the file in the middle of record 3 */
    f.len = 4096 + 512 + size1 + size2 + 10;
    assert_int_equal(parse(&f, &g), 2);
    assert_true(has_error(&g, "truncated chunk"));
    /* the header's one chunk is not all there: said once for the file */
    assert_true(has_error(&g, "file truncated: "));
    /* and a file cut inside the header */
    f.len = 1000;
    assert_int_equal(parse(&f, &g), 0);
    assert_true(has_error(&g, "truncated inside its header (1000 of 4096 bytes)"));
    free(f.b);
}

/* Three chunk slots: chunks 0 and 1 hold records 1-3 and 4-6, slot 2 was
   never used. */
static void build_two_chunks(struct file *f)
{
    file_init(f, 3);
    f->b[42] = 2;
    file_header_crc(f);
    for (unsigned k = 0; k < 2; k++) {
        chunk_begin(f, k);
        size_t tdef = 0;
        for (unsigned i = 1; i <= 3; i++)
            typical_record(f, 3 * k + i, &tdef);
        chunk_end(f);
    }
}

static void expect_same_records(const struct got *a, const struct got *b, int64_t shift)
{
    assert_int_equal(a->nrec, b->nrec);
    for (size_t i = 0; i < a->nrec; i++) {
        assert_int_equal(a->r[i].id, b->r[i].id);
        assert_int_equal(a->r[i].off + (uint64_t)shift, b->r[i].off);
        assert_int_equal(a->r[i].recovered, b->r[i].recovered);
        assert_int_equal(a->r[i].n, b->r[i].n);
        for (size_t k = 0; k < a->r[i].n; k++) {
            assert_string_equal(a->r[i].f[k].name, b->r[i].f[k].name);
            assert_string_equal(a->r[i].f[k].value, b->r[i].f[k].value);
        }
    }
}

/* The same file parsed as the hunt's reader does (opened by its head alone,
   each chunk read into a buffer of its own and parsed from there) and from
   memory: the same records, errors and offsets. */
static void parse_by_head(const uint8_t *b, size_t len, struct got *g)
{
    struct evtx_file *ef = NULL;
    struct evtx_error err;
    memset(g, 0, sizeof *g);
    size_t head = len < 8192 ? len : 8192; /* what input_open peeks */
    assert_int_equal(evtx_open_head(b, head, len, "test.evtx", &ef, &err), 0);
    struct evtx_scratch *s = evtx_scratch_create();
    struct evtx_visitor v = {g, on_rec, on_err};
    uint8_t *chunk = malloc(65536);
    assert_non_null(chunk);
    uint32_t n = evtx_chunk_count(ef);
    for (uint32_t c = 0; c < (n ? n : 1); c++) {
        size_t off = c < n ? (size_t)evtx_chunk_offset(ef, c) : len, got = len - off < 65536 ? len - off : 65536;
        memset(chunk, 0xee, 65536); /* nothing past what was read may be looked at */
        memcpy(chunk, b + off, got);
        evtx_parse_chunk_at(ef, c, chunk, got, s, &v);
    }
    free(chunk);
    evtx_scratch_destroy(s);
    evtx_close(ef);
}

static void expect_same_by_head(struct file *f, size_t len)
{
    struct got a, b;
    struct file cut = *f;
    cut.len = len;
    parse(&cut, &a);
    parse_by_head(f->b, len, &b);
    expect_same_records(&a, &b, 0);
    assert_int_equal(a.nerr, b.nerr);
    for (size_t i = 0; i < a.nerr; i++) {
        assert_string_equal(a.errors[i], b.errors[i]);
        assert_int_equal(a.err_off[i], b.err_off[i]);
    }
}

static void test_open_by_head_same(void **state)
{
    (void)state;
    struct file f;
    build_two_chunks(&f);
    /* whole, and cut anywhere: in the header, in a record, at a chunk's end */
    for (size_t len = 128; len <= f.len; len += len < 4200 ? 61 : 997)
        expect_same_by_head(&f, len);
    expect_same_by_head(&f, 4096);
    expect_same_by_head(&f, 4096 + 65536);
    expect_same_by_head(&f, f.len);
    /* a dirty header with a bad checksum that claims one chunk */
    f.b[42] = 1;
    f.b[120] = 1;
    expect_same_by_head(&f, f.len);
    /* damage in a record and a chunk header */
    f.b[4096 + 512 + 40] ^= 0x55;
    f.b[4096 + 65536 + 60] ^= 0x55;
    expect_same_by_head(&f, f.len);
    /* no header to open by: the reader reads such a file whole */
    struct evtx_file *ef = NULL;
    struct evtx_error err;
    memset(f.b, 0, 8);
    assert_int_equal(evtx_open_head(f.b, 8192, f.len, "x", &ef, &err), -1);
    assert_null(ef);
    free(f.b);
}

/* Writes f to a temporary file (name into path): every byte, or (sparse)
   leaving out the chunk slots that are all zeros, as holes. */
static void write_evtx(const struct file *f, char *path, bool sparse)
{
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    for (size_t off = 0; off < f->len;) {
        size_t n = off < 4096 ? 4096 : f->len - off < 65536 ? f->len - off : 65536;
        bool zero = sparse && off >= 4096;
        for (size_t i = 0; zero && i < n; i++)
            zero = f->b[off + i] == 0;
        if (!zero)
            assert_int_equal(pwrite(fd, f->b + off, n, (off_t)off), (ssize_t)n);
        off += n;
    }
    assert_int_equal(ftruncate(fd, (off_t)f->len), 0);
    close(fd);
}

/* The chunk slots the reader hands out for the file at path, as a bit set,
 * filling units as the reading thread does (until a result other than
 * FILL_MORE, *end). */
static unsigned handed_out(const char *path, uint64_t *bytes, enum fill_result *end)
{
    char why[256];
    struct input *in = input_open(path, why, sizeof why);
    assert_non_null(in);
    struct input_file inf = {.name = path, .reader = &reader_evtx};
    assert_int_equal(reader_evtx.open(&inf, in, why, sizeof why), 0);
    unsigned got = 0;
    struct unit u;
    do {
        memset(&u, 0, sizeof u);
        *end = reader_evtx.fill(&inf, in, &u, why, sizeof why);
        for (uint32_t c = u.part_begin; *end > 0 && c < u.part_end; c++)
            got |= 1u << c;
    } while (*end == FILL_MORE);
    reader_evtx.close(&inf);
    reader_evtx.release(&inf);
    *bytes = input_raw_pos(in);
    input_close(in);
    return got;
}

/* Five chunk slots, records in 0 and 2, the rest never used: the slots a
   sparse copy leaves as holes are not handed out (where the file system
   keeps holes), and the hunt of either copy, on one thread or two, is the
   same as of the file in memory. */
static void test_sparse_holes_skipped(void **state)
{
    (void)state;
    struct file f;
    file_init(&f, 5);
    f.b[42] = 3;
    file_header_crc(&f);
    for (unsigned k = 0; k < 3; k += 2) {
        chunk_begin(&f, k);
        size_t tdef = 0;
        for (unsigned i = 1; i <= 3; i++)
            typical_record(&f, 10 * k + i, &tdef);
        chunk_end(&f);
    }
    struct got g;
    assert_int_equal(parse(&f, &g), 6);
    char dense[] = "/tmp/stoat-evtx-dense-XXXXXX", sparse[] = "/tmp/stoat-evtx-sparse-XXXXXX";
    write_evtx(&f, dense, false);
    write_evtx(&f, sparse, true);
    uint64_t bytes;
    enum fill_result end;
    assert_int_equal(handed_out(dense, &bytes, &end), 0x1f);
    assert_int_equal(bytes, f.len);
    assert_int_equal(end, FILL_LAST); /* the last chunk's unit says so: no empty unit after it */
    int fd = open(sparse, O_RDONLY);
    bool holes = lseek(fd, 4096 + 65536, SEEK_DATA) == 4096 + 2 * 65536;
    close(fd);
    assert_int_equal(handed_out(sparse, &bytes, &end), holes ? 0x05 : 0x1f);
    assert_int_equal(bytes, f.len);
    assert_int_equal(end, holes ? FILL_END : FILL_LAST); /* holes at the end: found by the call after */
    struct stoat_ruleset *rs = cap_rules(NULL);
    assert_non_null(rs);
    for (unsigned threads = 1; threads <= 2; threads++) {
        struct capture a, b;
        const char *pa[1] = {dense}, *pb[1] = {sparse};
        cap_run_paths(&a, rs, pa, 1, NULL, threads);
        cap_run_paths(&b, rs, pb, 1, NULL, threads);
        assert_int_equal(a.n, 6);
        assert_int_equal(b.n, 6);
        for (size_t i = 0; i < a.n; i++) {
            assert_int_equal(a.ev[i].record, b.ev[i].record);
            assert_int_equal(a.ev[i].nf, g.r[i].n);
            assert_int_equal(b.ev[i].nf, g.r[i].n);
            for (size_t k = 0; k < a.ev[i].nf; k++) {
                assert_string_equal(a.ev[i].f[k].value, g.r[i].f[k].value);
                assert_string_equal(b.ev[i].f[k].value, g.r[i].f[k].value);
            }
        }
        assert_int_equal(a.ndiag, b.ndiag);
        for (size_t i = 0; i < a.ndiag; i++)
            assert_string_equal(a.diag[i], b.diag[i]);
        assert_int_equal(a.st.bytes, f.len);
        assert_int_equal(b.st.bytes, f.len);
        assert_int_equal(a.st.files, 1);
        assert_int_equal(b.st.files, 1);
        cap_free(&a);
        cap_free(&b);
    }
    stoat_ruleset_destroy(rs);
    unlink(dense);
    unlink(sparse);
    free(f.b);
}

/* A file whose header is wiped (zeros, or overwritten) or gone (the chunks
   carved out alone) but whose chunks are intact: the chunks are found by
   their signatures and read as they would have been, and it is said. */
static void test_header_damaged_recovered(void **state)
{
    (void)state;
    struct file f;
    struct got intact, g;
    build_two_chunks(&f);
    assert_int_equal(parse(&f, &intact), 6);
    assert_int_equal(intact.nerr, 0);

    uint8_t *copy = malloc(f.len);
    assert_non_null(copy);
    memcpy(copy, f.b, f.len);
    for (int fill = 0; fill < 2; fill++) {
        memset(f.b, fill ? 0xa5 : 0, EVTX_FILE_HEADER_SIZE);
        assert_false(evtx_probe(f.b, f.len));
        assert_true(evtx_probe_chunks(f.b, f.len));
        assert_int_equal(parse(&f, &g), 6);
        expect_same_records(&intact, &g, 0);
        assert_int_equal(g.nerr, 1);
        assert_non_null(strstr(g.errors[0], "file header damaged"));
        assert_non_null(strstr(g.errors[0], "2 chunks recovered by scanning"));
    }

    struct file carved = f;
    carved.b = copy + EVTX_FILE_HEADER_SIZE;
    carved.len = f.len - EVTX_FILE_HEADER_SIZE;
    assert_true(evtx_probe_chunks(carved.b, carved.len));
    assert_int_equal(parse(&carved, &g), 6);
    expect_same_records(&intact, &g, -(int64_t)EVTX_FILE_HEADER_SIZE);

    /* header and first chunk header both gone: chunk 1 still fixes the
       grid; chunk 0's records are found by scanning it, as recovered */
    memset(f.b, 0, EVTX_FILE_HEADER_SIZE + 8);
    assert_false(evtx_probe_chunks(f.b, f.len));
    assert_int_equal(parse(&f, &g), 6);
    assert_true(has_error(&g, "1 chunk recovered by scanning"));
    assert_true(has_error(&g, "bad chunk signature"));
    assert_true(g.r[0].recovered);
    assert_int_equal(g.r[3].id, 4);
    assert_false(g.r[3].recovered);

    /* no header and no chunk that validates: not an EVTX file */
    memset(f.b + EVTX_FILE_HEADER_SIZE + EVTX_CHUNK_SIZE + 124, 0, 4);
    struct evtx_file *ef = NULL;
    struct evtx_error err;
    assert_int_equal(evtx_open_mem(f.b, f.len, "x", &ef, &err), -1);
    assert_null(ef);
    assert_non_null(strstr(err.reason, "no chunk found"));
    free(copy);
    free(f.b);
}

static void test_bad_chunk_signature(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    build_typical(&f, 2);
    memcpy(f.c.b, "Garbage!", 8);
    /* records are still found by scanning, as recovered */
    assert_int_equal(parse(&f, &g), 2);
    assert_true(g.r[0].recovered);
    assert_true(has_error(&g, "bad chunk signature"));
    free(f.b);
}

static void test_deep_nesting_rejected(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t r = rec_begin(&f, 1);
    frag(&f.c);
    for (int i = 0; i < 200; i++) {
        open_el(&f.c, "E", 0);
        close_start(&f.c);
    }
    for (int i = 0; i < 200; i++)
        end_el(&f.c);
    u8(&f.c, 0);
    rec_end(&f, r);
    chunk_end(&f);
    assert_int_equal(parse(&f, &g), 0);
    assert_true(has_error(&g, "Binary XML"));
    free(f.b);
}

/* A template whose body is a reference loop / points outside the chunk. */
static void test_bad_template_offset(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t r = rec_begin(&f, 1);
    frag(&f.c);
    tpl_ref(&f.c, 65530); /* definition would run past the chunk */
    u32(&f.c, 0);
    u8(&f.c, 0);
    rec_end(&f, r);
    r = rec_begin(&f, 2);
    frag(&f.c);
    tpl_ref(&f.c, 512); /* points at a record header, not a template */
    u32(&f.c, 0);
    u8(&f.c, 0);
    rec_end(&f, r);
    chunk_end(&f);
    parse(&f, &g);
    assert_true(has_error(&g, "Binary XML"));
    free(f.b);
}

/* ------------------------------------------------------------ work bombs */

/* The bomb template: FANOUT top-level <A>%0</A>, %0 optional. No parent
   element, so when every <A> vanishes nothing reaches the field list. */
static size_t bomb_template(struct w *c, int fanout)
{
    size_t def = tpl_begin(c);
    size_t name_at = 0;
    for (int i = 0; i < fanout; i++) {
        u8(c, 0x01);
        u16(c, 0xffff);
        size_t at = c->pos;
        u32(c, 0);
        if (i == 0) {
            name_at = c->pos + 4;
            name(c, "A");
        } else {
            u32(c, (uint32_t)name_at); /* the name written by the first one */
        }
        close_start(c);
        sub(c, 0, 0x21, 1);
        end_el(c);
        end_size(c, at);
    }
    tpl_end(c, def);
    return def;
}

/* The values of a bomb instance: %0 is Binary XML instantiating the bomb
   template again, `depth` levels down; at the bottom %0 is NULL. */
static void bomb_values(struct w *c, size_t def, int depth)
{
    u32(c, 1);
    size_t desc = c->pos;
    u16(c, 0);
    u8(c, depth ? 0x21 : 0x00);
    u8(c, 0);
    if (!depth)
        return;
    size_t start = c->pos;
    frag(c);
    tpl_ref(c, def);
    bomb_values(c, def, depth - 1);
    u8(c, 0x00);
    uint16_t size = (uint16_t)(c->pos - start);
    memcpy(c->b + desc, &size, 2);
}

/* A bomb record: 40 elements, each expanding a value that holds 40 more,
   three levels down: 40^4 element visits from about 150 bytes. */
static size_t bomb_record(struct file *f, uint64_t id, size_t *bdef)
{
    size_t r = rec_begin(f, id);
    frag(&f->c);
    if (*bdef)
        tpl_ref(&f->c, *bdef);
    else
        *bdef = bomb_template(&f->c, 40);
    bomb_values(&f->c, *bdef, 3);
    u8(&f->c, 0x00);
    rec_end(f, r);
    return r;
}

/* A record whose expansion passes the work cap is reported (file offset,
   reason) and skipped; the records around it are read, and the work spent
   on it stops at the cap. */
static void test_work_bomb_skipped(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t tdef = 0, bdef = 0;
    typical_record(&f, 1, &tdef);
    size_t b1 = bomb_record(&f, 2, &bdef);
    typical_record(&f, 3, &tdef);
    size_t b2 = bomb_record(&f, 4, &bdef);
    typical_record(&f, 5, &tdef);
    chunk_end(&f);
    uint64_t work;
    assert_int_equal(parse_work(&f, &g, &work), 3);
    assert_int_equal(g.r[0].id, 1);
    assert_int_equal(g.r[1].id, 3);
    assert_int_equal(g.r[2].id, 5);
    expect(&g.r[2], "CommandLine", "cmd /c", EVTX_V_STRING);
    assert_int_equal(g.nerr, 2);
    assert_non_null(strstr(g.errors[0], "work cap"));
    assert_non_null(strstr(g.errors[1], "work cap"));
    assert_int_equal(g.err_off[0], 4096 + b1);
    assert_int_equal(g.err_off[1], 4096 + b2);
    /* each bomb ran to the cap and no further; the good records cost
       next to nothing */
    assert_true(work > 2ull * EVTX_MAX_RECORD_WORK);
    assert_true(work < 2ull * EVTX_MAX_RECORD_WORK + 1000);
    free(f.b);
}

/* Many bombs in one chunk: the chunk's budget ends the chunk (reported
   once), so its cost does not grow with the number of bombs; the next
   chunk has a budget of its own and is read whole. */
static void test_work_bomb_chunk_cap(void **state)
{
    (void)state;
    struct file f;
    struct got g;
    file_init(&f, 2);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t tdef = 0, bdef = 0;
    for (uint64_t id = 1; id <= 200; id += 2) {
        typical_record(&f, id, &tdef);
        bomb_record(&f, id + 1, &bdef);
    }
    chunk_end(&f);
    chunk_begin(&f, 1);
    tdef = 0;
    for (uint64_t id = 1001; id <= 1005; id++)
        typical_record(&f, id, &tdef);
    chunk_end(&f);
    uint64_t work;
    long n = parse_work(&f, &g, &work);
    unsigned per_chunk = EVTX_MAX_CHUNK_WORK / EVTX_MAX_RECORD_WORK;
    /* chunk 0: the good record before each bomb until its budget is spent
       (per_chunk bombs: the last one ends the chunk); then chunk 1 whole */
    assert_int_equal(n, per_chunk + 5);
    assert_int_equal(g.r[g.nrec - 1].id, 1005);
    assert_true(has_error(&g, "per-chunk work cap"));
    assert_true(work <= (uint64_t)EVTX_MAX_CHUNK_WORK + 1000);
    assert_true(work >= (uint64_t)EVTX_MAX_CHUNK_WORK);
    free(f.b);
}

static void test_visitor_stop(void **state)
{
    (void)state;
    struct file f;
    build_typical(&f, 3);
    struct evtx_file *ef = NULL;
    assert_int_equal(evtx_open_mem(f.b, f.len, "t", &ef, NULL), 0);
    assert_int_equal(evtx_chunk_count(ef), 1);
    struct evtx_scratch *s = evtx_scratch_create();
    struct got g;
    memset(&g, 0, sizeof g);
    g.stop_after = 1;
    struct evtx_visitor v = {&g, on_rec, NULL};
    assert_int_equal(evtx_parse_chunk(ef, 0, s, &v), -1);
    assert_int_equal(g.nrec, 1);
    /* the same scratch can parse again afterwards */
    g.nrec = 0;
    g.stop_after = 0;
    assert_int_equal(evtx_parse_chunk(ef, 0, s, &v), 3);
    evtx_scratch_destroy(s);
    evtx_close(ef);
    free(f.b);
}

/* The file object is shared; each thread brings its own scratch. */
struct thread_job {
    const struct evtx_file *f;
    uint32_t chunk;
    unsigned long records, bytes;
};

static int count_rec(void *ctx, const struct evtx_record *r)
{
    struct thread_job *j = ctx;
    j->records++;
    for (size_t i = 0; i < r->nfields; i++)
        j->bytes += r->fields[i].value_len;
    return 0;
}

static void *thread_main(void *arg)
{
    struct thread_job *j = arg;
    struct evtx_scratch *s = evtx_scratch_create();
    struct evtx_visitor v = {j, count_rec, NULL};
    for (int k = 0; k < 50; k++)
        evtx_parse_chunk(j->f, j->chunk, s, &v);
    evtx_scratch_destroy(s);
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    struct file f;
    file_init(&f, 2);
    file_header_crc(&f);
    for (unsigned k = 0; k < 2; k++) {
        chunk_begin(&f, k);
        for (unsigned i = 0; i < 3; i++) {
            size_t r = rec_begin(&f, 10 * k + i + 1);
            frag(&f.c);
            typical_template(&f.c);
            typical_values(&f.c);
            u8(&f.c, 0);
            rec_end(&f, r);
        }
        chunk_end(&f);
    }
    struct evtx_file *ef = NULL;
    assert_int_equal(evtx_open_mem(f.b, f.len, "t", &ef, NULL), 0);
    struct thread_job jobs[2] = {{ef, 0, 0, 0}, {ef, 1, 0, 0}};
    pthread_t t[2];
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&t[i], NULL, thread_main, &jobs[i]), 0);
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(jobs[0].records, 150);
    assert_int_equal(jobs[1].records, 150);
    assert_int_equal(jobs[0].bytes, jobs[1].bytes);
    evtx_close(ef);
    free(f.b);
}

static void test_json(void **state)
{
    (void)state;
    struct evtx_field fs[] = {
        {"EventID", 7, "4688", 4, EVTX_V_UINT}, {"Cmd", 3, "a\"b\\c\n\x01\xff\xc3\xa9", 10, EVTX_V_STRING},
        {"Data", 4, "x", 1, EVTX_V_STRING},     {"Data", 4, "y", 1, EVTX_V_STRING},
        {"N", 1, "", 0, EVTX_V_NULL},           {"T", 1, "true", 4, EVTX_V_BOOL},
    };
    struct evtx_record r = {0};
    r.record_id = 5;
    r.chunk = 1;
    r.file_offset = 70000;
    r.nfields = 6;
    r.fields = fs;
    char *buf = NULL;
    size_t len = 0, cap = 0;
    assert_int_equal(evtx_record_to_json(&r, &buf, &len, &cap), 0);
    char *line = strndup(buf, len); /* the buffer is not NUL-terminated */
    assert_non_null(line);
    assert_string_equal(line, "{\"_record_id\":5,\"_chunk\":1,\"_offset\":70000,\"EventID\":4688,"
                              "\"Cmd\":\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\","
                              "\"Data\":[\"x\",\"y\"],\"N\":null,\"T\":true}\n");
    free(line);
    /* appending keeps what was there */
    assert_int_equal(evtx_record_to_json(&r, &buf, &len, &cap), 0);
    assert_true(len > 100);
    free(buf);
}

/* ------------------------------------------------------------ CRC-32 */

/* The checksum is zlib's crc32 whatever path computes it (tables, or
   64-byte folds where the CPU has carry-less multiplication): every length
   around the fold sizes, every alignment, and split in two calls. */
static void test_crc32_every_length(void **state)
{
    (void)state;
    uint8_t buf[1100];
    uint32_t seed = 12345;
    for (size_t i = 0; i < sizeof buf; i++) {
        seed = seed * 1103515245u + 12345u;
        buf[i] = (uint8_t)(seed >> 16);
    }
    for (size_t off = 0; off < 16; off++) {
        for (size_t n = 0; n + off <= 1070; n += (n < 300 ? 1 : 37)) {
            uint32_t want = (uint32_t)crc32(0, buf + off, (uInt)n);
            assert_int_equal(evtx_crc32(0, buf + off, n), want);
            size_t cut = n / 3;
            assert_int_equal(evtx_crc32(evtx_crc32(0, buf + off, cut), buf + off + cut, n - cut), want);
        }
    }
    /* a chunk's worth, from a running value */
    uint32_t want = (uint32_t)crc32(0x1234567u, buf, 1024);
    assert_int_equal(evtx_crc32(0x1234567u, buf, 1024), want);
}

/* ------------------------------------------------------------ UTF-16 */

/* The conversion unit by unit, as the format says: the fast paths (eight
   and four ASCII units at a time) must give the same bytes wherever the
   non-ASCII units, surrogates and NULs fall. */
static size_t utf16_slow(char *o, const uint16_t *u, size_t n)
{
    char *p = o;
    for (size_t i = 0; i < n && u[i]; i++) {
        uint32_t c = u[i];
        if (c >= 0xd800 && c <= 0xdbff && i + 1 < n && u[i + 1] >= 0xdc00 && u[i + 1] <= 0xdfff) {
            c = 0x10000 + ((c - 0xd800) << 10) + (u[i + 1] - 0xdc00u);
            i++;
        } else if (c >= 0xd800 && c <= 0xdfff) {
            c = 0xfffd;
        }
        if (c < 0x80) {
            *p++ = (char)c;
        } else if (c < 0x800) {
            *p++ = (char)(0xc0 | (c >> 6));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else if (c < 0x10000) {
            *p++ = (char)(0xe0 | (c >> 12));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        } else {
            *p++ = (char)(0xf0 | (c >> 18));
            *p++ = (char)(0x80 | ((c >> 12) & 0x3f));
            *p++ = (char)(0x80 | ((c >> 6) & 0x3f));
            *p++ = (char)(0x80 | (c & 0x3f));
        }
    }
    return (size_t)(p - o);
}

static void test_utf16_every_position(void **state)
{
    (void)state;
    static const uint16_t odd[] = {0x00e9, 0x4e2d, 0xd83d, 0xde00, 0xdc00, 0x0000, 0x007f, 0x0080, 0xffff};
    struct evtx_arena a;
    evtx_arena_init(&a, 1 << 20);
    uint8_t bytes[2 * 40 + 2];
    uint16_t u[40];
    char want[40 * 4 + 1];
    for (size_t n = 0; n <= 40; n++) {
        for (size_t at = 0; at < n; at++) {
            for (size_t k = 0; k < sizeof(odd) / sizeof(odd[0]); k++) {
                for (size_t i = 0; i < n; i++)
                    u[i] = (uint16_t)('A' + (i * 7) % 26);
                u[at] = odd[k];
                if (k == 2 && at + 1 < n)
                    u[at + 1] = 0xde00;      /* a pair, across the fast path's steps */
                memcpy(bytes + 1, u, 2 * n); /* unaligned, as in a chunk */
                const char *got;
                uint32_t len;
                assert_int_equal(evtx_utf16_to_utf8(&a, bytes + 1, n, &got, &len), 0);
                size_t wl = utf16_slow(want, u, n);
                assert_int_equal(len, wl);
                assert_memory_equal(got, want, wl);
                assert_int_equal(got[len], 0);
                evtx_arena_reset(&a);
            }
        }
    }
    evtx_arena_free(&a);
}

/* ------------------------------------------------------------ template cache */

/* A record of the typical shape whose template (provider prov) is defined
   inline here. */
static void named_record(struct file *f, uint64_t id, const char *prov)
{
    size_t r = rec_begin(f, id);
    frag(&f->c);
    typical_template_named(&f->c, prov);
    typical_values(&f->c);
    u8(&f->c, 0x00);
    rec_end(f, r);
}

/* Chunk 0 defines the typical template; chunk 1 first defines another one
   (same GUID, other size), then a template with provider prov2 at an offset
   other than in chunk 0. Parses with one scratch; returns the templates it
   reused. */
static uint64_t parse_two_chunks(const char *prov2, struct got *g)
{
    struct file f;
    file_init(&f, 2);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    named_record(&f, 100, "Prov");
    chunk_end(&f);
    chunk_begin(&f, 1);
    named_record(&f, 200, "Other provider");
    named_record(&f, 201, prov2);
    chunk_end(&f);

    struct evtx_file *ef = NULL;
    struct evtx_error err;
    memset(g, 0, sizeof *g);
    assert_int_equal(evtx_open_mem(f.b, f.len, "test.evtx", &ef, &err), 0);
    struct evtx_scratch *s = evtx_scratch_create();
    struct evtx_visitor v = {g, on_rec, on_err};
    assert_int_equal(evtx_parse_all(ef, s, &v), 3);
    uint64_t reused = s->tpl_reused;
    evtx_scratch_destroy(s);
    evtx_close(ef);
    free(f.b);
    return reused;
}

/* The same template in two chunks, at different offsets (so its inline
   name offsets differ): compiled once, and the second chunk's record reads
   exactly as the first's. */
static void test_template_reused_across_chunks(void **state)
{
    (void)state;
    struct got g;
    assert_int_equal(parse_two_chunks("Prov", &g), 1);
    assert_int_equal(g.nerr, 0);
    assert_int_equal(g.nrec, 3);
    expect(&g.r[1], "Provider_Name", "Other provider", EVTX_V_STRING);
    const struct reccopy *a = &g.r[0], *b = &g.r[2];
    assert_int_equal(b->id, 201);
    assert_int_equal(a->n, b->n);
    for (size_t i = 0; i < a->n; i++) {
        assert_string_equal(a->f[i].name, b->f[i].name);
        assert_string_equal(a->f[i].value, b->f[i].value);
        assert_int_equal(a->f[i].type, b->f[i].type);
    }
}

/* A template with the same GUID and size but other bytes is compiled
   anew, never taken for the cached one. */
static void test_template_forged_not_reused(void **state)
{
    (void)state;
    struct got g;
    assert_int_equal(parse_two_chunks("Prow", &g), 0);
    assert_int_equal(g.nerr, 0);
    expect(&g.r[0], "Provider_Name", "Prov", EVTX_V_STRING);
    expect(&g.r[2], "Provider_Name", "Prow", EVTX_V_STRING);
    expect(&g.r[2], "CommandLine", "cmd /c", EVTX_V_STRING);
}

/* A template <n>%0</n> defined inline; *name_off gets the chunk offset of
   its name, for another template to refer to. */
static void leaf_template(struct w *c, const char *n, size_t *name_off)
{
    size_t def = tpl_begin(c);
    size_t el = open_el(c, n, 0);
    *name_off = el + 8; /* after the size and the name offset fields */
    close_start(c);
    sub(c, 0, 0x01, 0);
    end_el(c);
    end_size(c, el);
    tpl_end(c, def);
}
/* The same shape, its element's name a reference to name_off. */
static void ref_template(struct w *c, size_t name_off)
{
    size_t def = tpl_begin(c);
    u8(c, 0x01);
    u16(c, 0xffff);
    size_t at = c->pos;
    u32(c, 0);
    u32(c, (uint32_t)name_off);
    close_start(c);
    sub(c, 0, 0x01, 0);
    end_el(c);
    end_size(c, at);
    tpl_end(c, def);
}
static void one_value_end(struct file *f, size_t r)
{
    struct val v[] = {{0x01, A_, 2}};
    values(&f->c, v, 1);
    u8(&f->c, 0x00);
    rec_end(f, r);
}

/* Each chunk: a leaf template named n (chunk 0 "Alpha", chunk 1 n1), then
   a template whose element refers to that name. The second template's
   bytes are the same in both chunks; what it names is not. */
static uint64_t parse_name_refs(const char *n1, struct got *g)
{
    struct file f;
    file_init(&f, 2);
    file_header_crc(&f);
    for (unsigned k = 0; k < 2; k++) {
        chunk_begin(&f, k);
        size_t name_off, r = rec_begin(&f, 100 + 10 * k);
        frag(&f.c);
        leaf_template(&f.c, k ? n1 : "Alpha", &name_off);
        one_value_end(&f, r);
        r = rec_begin(&f, 101 + 10 * k);
        frag(&f.c);
        ref_template(&f.c, name_off);
        one_value_end(&f, r);
        chunk_end(&f);
    }
    struct evtx_file *ef = NULL;
    struct evtx_error err;
    memset(g, 0, sizeof *g);
    assert_int_equal(evtx_open_mem(f.b, f.len, "test.evtx", &ef, &err), 0);
    struct evtx_scratch *s = evtx_scratch_create();
    struct evtx_visitor v = {g, on_rec, on_err};
    assert_int_equal(evtx_parse_all(ef, s, &v), 4);
    uint64_t reused = s->tpl_reused;
    evtx_scratch_destroy(s);
    evtx_close(ef);
    free(f.b);
    return reused;
}

/* A name a template refers to outside its own bytes is part of what a
   reuse is checked against. */
static void test_template_name_ref_checked(void **state)
{
    (void)state;
    struct got g;
    assert_int_equal(parse_name_refs("Alpha", &g), 2);
    assert_int_equal(g.nerr, 0);
    expect(&g.r[3], "Alpha", "a", EVTX_V_STRING);
    assert_int_equal(parse_name_refs("Alphb", &g), 0);
    assert_int_equal(g.nerr, 0);
    expect(&g.r[1], "Alpha", "a", EVTX_V_STRING);
    expect(&g.r[2], "Alphb", "a", EVTX_V_STRING);
    expect(&g.r[3], "Alphb", "a", EVTX_V_STRING);
    assert_null(field(&g.r[3], "Alpha"));
}

/* ------------------------------------------------------------ field ids */

static const uint8_t AAAA_[] = {'A', 0, 'A', 0, 'A', 0, 'A', 0};
static const uint8_t BBBB_[] = {'B', 0, 'B', 0, 'B', 0, 'B', 0};
static const uint8_t X_[] = {'x', 0};

/* A record of <Event><EventData><Data Name="%0">%1</Data></EventData>
   </Event>, its template defined at *def or here. */
static void named_by_value(struct file *f, uint64_t id, size_t *def, const uint8_t *nm, uint16_t nml)
{
    size_t r = rec_begin(f, id);
    struct w *c = &f->c;
    frag(c);
    if (*def) {
        tpl_ref(c, *def);
    } else {
        *def = tpl_begin(c);
        size_t ev = open_el(c, "Event", 0);
        close_start(c);
        size_t ed = open_el(c, "EventData", 0);
        close_start(c);
        size_t d = open_el(c, "Data", 1);
        attr(c, "Name", 0);
        sub(c, 0, 0x01, 0);
        close_start(c);
        sub(c, 1, 0x01, 0);
        end_el(c);
        end_size(c, d);
        end_el(c);
        end_size(c, ed);
        end_el(c);
        end_size(c, ev);
        tpl_end(c, *def);
    }
    struct val v[] = {{0x01, nm, nml}, {0x01, X_, 2}};
    values(c, v, 2);
    u8(c, 0x00);
    rec_end(f, r);
}

/* Two records of one chunk name their field by a value (AAAA, then BBBB):
   such a name is made anew for every record, at the same address, so it is
   not one to remember a field id by. The rule on BBBB fires on the second
   record only. */
static void test_field_named_by_value_matched(void **state)
{
    (void)state;
    struct file f;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t def = 0;
    named_by_value(&f, 1, &def, AAAA_, sizeof AAAA_);
    named_by_value(&f, 2, &def, BBBB_, sizeof BBBB_);
    chunk_end(&f);
    struct stoat_ruleset *rs = cap_rules(TU_RULE("{product: windows}", "  sel:\n    BBBB: x\n  condition: sel\n"));
    assert_non_null(rs);
    struct capture c;
    cap_run(&c, rs, (const char *)f.b, f.len, NULL, 1);
    assert_int_equal(c.n, 2);
    assert_null(cap_diag(&c, 0, "warning", NULL)); /* the file is sound */
    assert_string_equal(ev_get(&c.ev[0], "AAAA", 0), "x");
    assert_string_equal(ev_get(&c.ev[1], "BBBB", 0), "x");
    assert_false(ev_fired(&c.ev[0], "test rule"));
    assert_true(ev_fired(&c.ev[1], "test rule"));
    cap_free(&c);
    stoat_ruleset_destroy(rs);
    free(f.b);
}

/* A live record, then in slack a record whose Event carries a System value
   before a nested Binary XML value (UserData), as Windows writes them. */
static void build_slack_nested(struct file *f, size_t *rec, size_t *rec_end_off)
{
    file_init(f, 1);
    file_header_crc(f);
    chunk_begin(f, 0);
    size_t tdef = 0;
    typical_record(f, 100, &tdef);
    size_t live_end = f->c.pos, live_last = f->last_rec;
    uint64_t live_id = f->last_id;
    size_t r = rec_begin(f, 7);
    struct w *c = &f->c;
    frag(c);
    size_t def = tpl_begin(c);
    size_t ev = open_el(c, "Event", 0);
    close_start(c);
    size_t sys = open_el(c, "System", 0);
    close_start(c);
    size_t comp = open_el(c, "Computer", 0);
    close_start(c);
    sub(c, 0, 0x01, 0);
    end_el(c);
    end_size(c, comp);
    end_el(c);
    end_size(c, sys);
    size_t ud = open_el(c, "UserData", 0);
    close_start(c);
    sub(c, 1, 0x21, 0);
    end_el(c);
    end_size(c, ud);
    end_el(c);
    end_size(c, ev);
    tpl_end(c, def);
    static const uint8_t pc[] = {'p', 0, 'c', 0};
    u32(c, 2);
    u16(c, sizeof pc);
    u8(c, 0x01);
    u8(c, 0);
    size_t desc = c->pos;
    u16(c, 0);
    u8(c, 0x21);
    u8(c, 0);
    put(c, pc, sizeof pc);
    size_t start = c->pos;
    frag(c);
    size_t inner = tpl_begin(c);
    size_t lf = open_el(c, "LogFileCleared", 0);
    close_start(c);
    size_t un = open_el(c, "SubjectUserName", 0);
    close_start(c);
    sub(c, 0, 0x01, 0);
    end_el(c);
    end_size(c, un);
    end_el(c);
    end_size(c, lf);
    tpl_end(c, inner);
    static const uint8_t adm[] = {'a', 0, 'd', 0, 'm', 0};
    struct val iv[] = {{0x01, adm, sizeof adm}};
    values(c, iv, 1);
    u8(c, 0x00);
    uint16_t vsize = (uint16_t)(c->pos - start);
    memcpy(c->b + desc, &vsize, 2);
    u8(c, 0x00);
    rec_end(f, r);
    *rec = r;
    *rec_end_off = c->pos;
    /* the chunk ends after the live record: the second is slack */
    c->pos = live_end;
    f->last_id = live_id;
    f->last_rec = live_last;
    chunk_end(f);
}

static long parse_precheck(struct file *f, struct got *g, bool precheck)
{
    struct evtx_file *ef = NULL;
    struct evtx_error err;
    memset(g, 0, sizeof *g);
    assert_int_equal(evtx_open_mem(f->b, f->len, "test.evtx", &ef, &err), 0);
    struct evtx_scratch *s = evtx_scratch_create();
    s->no_precheck = !precheck;
    struct evtx_visitor v = {g, on_rec, on_err};
    long n = evtx_parse_all(ef, s, &v);
    evtx_scratch_destroy(s);
    evtx_close(ef);
    return n;
}

/* The strict precheck of slack records (nested instances' heads walked
   before anything is rendered) only saves work: a slack record with nested
   Binary XML, its bytes damaged one at a time in three ways, gives the same
   records, fields and errors with it as without it. */
static void test_slack_precheck_same(void **state)
{
    (void)state;
    struct file f;
    size_t rec, rec_end_off;
    build_slack_nested(&f, &rec, &rec_end_off);
    static struct got with, without;
    assert_int_equal(parse_precheck(&f, &with, true), 2);
    assert_true(with.r[1].recovered);
    expect(&with.r[1], "Computer", "pc", EVTX_V_STRING);
    expect(&with.r[1], "SubjectUserName", "adm", EVTX_V_STRING);
    unsigned dropped = 0, kept = 0;
    for (size_t at = rec + 24; at + 4 < rec_end_off; at++) {
        uint8_t *b = f.c.b + at, orig = *b;
        for (int how = 0; how < 3; how++) {
            *b = how == 0 ? (uint8_t)(orig ^ 0xff) : how == 1 ? 0 : (uint8_t)(orig + 1);
            long n1 = parse_precheck(&f, &with, true);
            long n2 = parse_precheck(&f, &without, false);
            assert_int_equal(n1, n2);
            assert_int_equal(with.nrec, without.nrec);
            assert_memory_equal(&with, &without, sizeof with);
            if (n1 == 2)
                kept++;
            else
                dropped++;
        }
        *b = orig;
    }
    /* both outcomes were exercised */
    assert_true(dropped > 10);
    assert_true(kept > 10);
    free(f.b);
}

/* A slack record (inline template) whose System holds a leaf that can be
   taken back (<Box Flag=%2>%3</Box>, %3 optional) and an optional
   <EventRecordID>%1</EventRecordID>, and whose EventData names a field by a
   value (<Data Name="%5">%6</Data>): values id (NULL: the element goes),
   flag, box text (NULL: Box and its Flag go), data name, data value. */
static void slack_id_record(struct file *f, uint64_t hdr_id, const uint64_t *id, const char *box, const char *dname,
                            uint64_t dval)
{
    struct w *c = &f->c;
    size_t r = rec_begin(f, hdr_id);
    frag(c);
    size_t def = tpl_begin(c);
    size_t ev = open_el(c, "Event", 0);
    close_start(c);
    size_t sys = open_el(c, "System", 0);
    close_start(c);
    size_t comp = open_el(c, "Computer", 0);
    close_start(c);
    sub(c, 0, 0x01, 0);
    end_el(c);
    end_size(c, comp);
    size_t bx = open_el(c, "Box", 1);
    attr(c, "Flag", 0);
    sub(c, 2, 0x0a, 0);
    close_start(c);
    sub(c, 3, 0x01, 1);
    end_el(c);
    end_size(c, bx);
    size_t rid = open_el(c, "EventRecordID", 0);
    close_start(c);
    sub(c, 1, 0x0a, 1);
    end_el(c);
    end_size(c, rid);
    end_el(c);
    end_size(c, sys);
    size_t ed = open_el(c, "EventData", 0);
    close_start(c);
    data_sub(c, "CommandLine", 4, 0x01, 1);
    size_t dn = open_el(c, "Data", 1);
    attr(c, "Name", 0);
    sub(c, 5, 0x01, 0);
    close_start(c);
    sub(c, 6, 0x0a, 0);
    end_el(c);
    end_size(c, dn);
    end_el(c);
    end_size(c, ed);
    end_el(c);
    end_size(c, ev);
    tpl_end(c, def);
    static const uint8_t pc[] = {'p', 0, 'c', 0}, cmd[] = {'c', 0, 'm', 0, 'd', 0};
    uint8_t boxu[16] = {0}, dnu[64] = {0};
    for (size_t i = 0; box && box[i]; i++)
        boxu[2 * i] = (uint8_t)box[i];
    for (size_t i = 0; dname[i]; i++)
        dnu[2 * i] = (uint8_t)dname[i];
    uint64_t flag = 5;
    struct val v[] = {
        {0x01, pc, sizeof pc},   {id ? 0x0a : 0x00, id, id ? 8 : 0},
        {0x0a, &flag, 8},        {box ? 0x01 : 0x00, boxu, box ? (uint16_t)(2 * strlen(box)) : 0},
        {0x01, cmd, sizeof cmd}, {0x01, dnu, (uint16_t)(2 * strlen(dname))},
        {0x0a, &dval, 8},
    };
    values(c, v, 7);
    u8(c, 0x00);
    rec_end(f, r);
}

static long parse_early_id(struct file *f, struct got *g, bool early, uint64_t *work)
{
    struct evtx_file *ef = NULL;
    struct evtx_error err;
    memset(g, 0, sizeof *g);
    assert_int_equal(evtx_open_mem(f->b, f->len, "test.evtx", &ef, &err), 0);
    struct evtx_scratch *s = evtx_scratch_create();
    s->no_early_id = !early;
    struct evtx_visitor v = {g, on_rec, on_err};
    long n = evtx_parse_all(ef, s, &v);
    *work = s->total_work;
    evtx_scratch_destroy(s);
    evtx_close(ef);
    return n;
}

/* A slack record's EventRecordID compared as soon as it is final only
   saves work: records whose first EventRecordID field is the element, a
   <Data Name="EventRecordID"> after a NULL element, or none at all, that
   agree or disagree with the header, their bytes then damaged one at a
   time in three ways, give the same records, fields and errors either way. */
static void test_slack_early_id_same(void **state)
{
    (void)state;
    struct file f;
    file_init(&f, 1);
    file_header_crc(&f);
    chunk_begin(&f, 0);
    size_t tdef = 0;
    typical_record(&f, 100, &tdef);
    size_t live_end = f.c.pos, live_last = f.last_rec;
    uint64_t live_id = f.last_id;
    uint64_t seven = 7, nine = 9;
    size_t slack0 = f.c.pos;
    slack_id_record(&f, 7, &seven, "x", "Other", 1);          /* kept */
    slack_id_record(&f, 8, &nine, NULL, "Other", 8);          /* dropped: 9 is not 8 */
    slack_id_record(&f, 10, NULL, "y", "EventRecordID", 10);  /* kept, by Data */
    slack_id_record(&f, 11, NULL, NULL, "EventRecordID", 12); /* dropped, by Data */
    slack_id_record(&f, 13, NULL, "z", "Other", 99);          /* kept: no id field */
    size_t slack_end = f.c.pos;
    f.c.pos = live_end;
    f.last_id = live_id;
    f.last_rec = live_last;
    chunk_end(&f);

    static struct got early, late;
    uint64_t w1, w2;
    assert_int_equal(parse_early_id(&f, &early, true, &w1), 4);
    assert_int_equal(parse_early_id(&f, &late, false, &w2), 4);
    assert_memory_equal(&early, &late, sizeof early);
    assert_true(w1 < w2); /* the two that disagree stopped early */
    assert_int_equal(early.r[1].id, 7);
    expect(&early.r[1], "Box_Flag", "5", EVTX_V_UINT);
    assert_int_equal(early.r[2].id, 10);
    expect(&early.r[2], "EventRecordID", "10", EVTX_V_UINT);
    assert_int_equal(early.r[3].id, 13);
    unsigned dropped = 0, kept = 0;
    for (size_t at = slack0; at < slack_end; at++) {
        uint8_t *b = f.c.b + at, orig = *b;
        for (int how = 0; how < 3; how++) {
            *b = how == 0 ? (uint8_t)(orig ^ 0xff) : how == 1 ? 0 : (uint8_t)(orig + 1);
            long n1 = parse_early_id(&f, &early, true, &w1);
            long n2 = parse_early_id(&f, &late, false, &w2);
            assert_int_equal(n1, n2);
            assert_memory_equal(&early, &late, sizeof early);
            assert_true(w1 <= w2);
            if (n1 == 4)
                kept++;
            else
                dropped++;
        }
        *b = orig;
    }
    assert_true(dropped > 10);
    assert_true(kept > 10);
    free(f.b);
}

/* Static text is judged 16 bytes a step: the same as a byte at a time,
   whatever the length and wherever the one control byte (or a tab, a line
   break, a byte above 0x7f) sits. */
static void test_plausible_text_blocks(void **state)
{
    (void)state;
    char buf[80];
    static const unsigned char probe[] = {0x00, 0x01, 0x08, 0x09, 0x0a, 0x0b, 0x0d, 0x1f, 0x20, 0x7f, 0x80, 0x9f, 0xff};
    for (uint32_t len = 0; len <= 72; len++) {
        memset(buf, 'a', sizeof buf);
        assert_true(evtx_plausible_text(buf, len));
        for (uint32_t at = 0; at < len; at++) {
            for (size_t k = 0; k < sizeof probe; k++) {
                buf[at] = (char)probe[k];
                bool want = !(probe[k] < 0x20 && probe[k] != '\t' && probe[k] != '\n' && probe[k] != '\r');
                assert_int_equal(evtx_plausible_text(buf, len), want);
                /* a control byte just past the end is not read */
                buf[len] = 0x01;
                assert_int_equal(evtx_plausible_text(buf, len), want);
                buf[len] = 'a';
            }
            buf[at] = '\n';
        }
    }
}

/* One record whose Event holds value %0 (type t, n bytes) as <V>%0</V>
   (fast: a leaf with one substitution) or as <Data Name="%1">%0</Data> with
   %1 = "V" (the general path, for a name made from a value). */
static void build_one_value(struct file *f, bool fast, uint8_t t, const uint8_t *d, uint16_t n)
{
    file_init(f, 1);
    file_header_crc(f);
    chunk_begin(f, 0);
    struct w *c = &f->c;
    size_t r = rec_begin(f, 1);
    frag(c);
    size_t def = tpl_begin(c);
    size_t ev = open_el(c, "Event", 0);
    close_start(c);
    size_t el = open_el(c, fast ? "V" : "Data", !fast);
    if (!fast) {
        attr(c, "Name", 0);
        sub(c, 1, 0x01, 0);
    }
    close_start(c);
    sub(c, 0, t, 0);
    end_el(c);
    end_size(c, el);
    end_el(c);
    end_size(c, ev);
    tpl_end(c, def);
    static const uint8_t vname[] = {'V', 0};
    struct val v[] = {{t, d, n}, {0x01, vname, sizeof vname}};
    values(c, v, 2);
    u8(c, 0x00);
    rec_end(f, r);
    chunk_end(f);
}

/* A leaf with one plain value goes straight to rendering it: every value
   type, at every size up to 24 bytes (most of them wrong for the type),
   gives the same field (or the same error) that way as through the
   general path. */
static void test_leaf_fast_path_same(void **state)
{
    (void)state;
    static const uint8_t types[] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a, 0x0b,
                                    0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15};
    uint8_t d[24];
    for (size_t i = 0; i < sizeof d; i++)
        d[i] = (uint8_t)(i * 37 + 5);
    d[0] = 1; /* a SID's revision */
    d[1] = 2; /* and its sub-authority count */
    static struct got a, b;
    unsigned delivered = 0, failed = 0;
    for (size_t k = 0; k < sizeof types; k++) {
        for (uint16_t n = 0; n <= sizeof d; n++) {
            struct file f1, f2;
            build_one_value(&f1, true, types[k], d, n);
            build_one_value(&f2, false, types[k], d, n);
            long n1 = parse_work(&f1, &a, NULL), n2 = parse_work(&f2, &b, NULL);
            assert_int_equal(n1, n2);
            assert_int_equal(a.nrec, b.nrec);
            assert_int_equal(a.nerr, b.nerr);
            for (size_t e = 0; e < a.nerr; e++)
                assert_string_equal(a.errors[e], b.errors[e]);
            if (a.nrec) {
                const struct fieldcopy *fa = field(&a.r[0], "V"), *fb = field(&b.r[0], "V");
                assert_non_null(fa);
                assert_non_null(fb);
                assert_string_equal(fa->value, fb->value);
                assert_int_equal(fa->type, fb->type);
                delivered++;
            } else {
                failed++;
            }
            free(f1.b);
            free(f2.b);
        }
    }
    assert_true(delivered > 100);
    assert_true(failed > 100);
}

/* The renderer's numbers (two digits a step, hex a byte a step) read as
   printf prints them, for edge values and a spread of others. */
static void expect_render(struct evtx_arena *a, uint8_t t, const void *d, size_t n, const char *want)
{
    const char *out;
    uint32_t len;
    uint8_t vt;
    assert_int_equal(evtx_render_value(a, t, d, n, &out, &len, &vt), 0);
    assert_string_equal(out, want);
    assert_int_equal(len, strlen(want));
}

static void test_numbers_as_printf(void **state)
{
    (void)state;
    struct evtx_arena a;
    evtx_arena_init(&a, 1u << 20);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 4000; i++) {
        uint64_t v;
        if (i < 130)
            v = i < 65    ? (i ? 1ull << (i - 1) : 0)
                : i < 129 ? (1ull << (i - 65)) - 1
                          : UINT64_MAX; /* powers of two, and one below */
        else if (i < 150)
            v = i == 130 ? UINT64_MAX : 10000000000000000000ull + (uint64_t)(i - 131) * 99;
        else {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            v = x >> (x % 64); /* every length */
        }
        uint8_t b[16];
        memcpy(b, &v, 8);
        memcpy(b + 8, &x, 8);
        char want[96];
        snprintf(want, sizeof want, "%llu", (unsigned long long)v);
        expect_render(&a, EVTX_T_U64, b, 8, want);
        snprintf(want, sizeof want, "%lld", (long long)v);
        expect_render(&a, EVTX_T_I64, b, 8, want);
        snprintf(want, sizeof want, "%u", (unsigned)(uint32_t)v);
        expect_render(&a, EVTX_T_U32, b, 4, want);
        snprintf(want, sizeof want, "%d", (int)(int32_t)v);
        expect_render(&a, EVTX_T_I32, b, 4, want);
        snprintf(want, sizeof want, "%u", (unsigned)(uint16_t)v);
        expect_render(&a, EVTX_T_U16, b, 2, want);
        snprintf(want, sizeof want, "%d", (int)(int16_t)v);
        expect_render(&a, EVTX_T_I16, b, 2, want);
        snprintf(want, sizeof want, "%u", (unsigned)(uint8_t)v);
        expect_render(&a, EVTX_T_U8, b, 1, want);
        snprintf(want, sizeof want, "%d", (int)(int8_t)v);
        expect_render(&a, EVTX_T_I8, b, 1, want);
        snprintf(want, sizeof want, "0x%llx", (unsigned long long)v);
        expect_render(&a, EVTX_T_HEX64, b, 8, want);
        snprintf(want, sizeof want, "0x%x", (unsigned)(uint32_t)v);
        expect_render(&a, EVTX_T_HEX32, b, 4, want);
        snprintf(want, sizeof want, "{%08X-%04X-%04X-%02X%02X-%02X%02X%02X%02X%02X%02X}", (unsigned)(uint32_t)v,
                 (unsigned)(uint16_t)(v >> 32), (unsigned)(uint16_t)(v >> 48), b[8], b[9], b[10], b[11], b[12], b[13],
                 b[14], b[15]);
        expect_render(&a, EVTX_T_GUID, b, 16, want);
        /* a SID: revision, two sub-authorities, a 48-bit big-endian authority */
        uint8_t sid[16] = {b[0], 2, b[1], b[2], b[3], b[4], b[5], b[6]};
        memcpy(sid + 8, b + 8, 8);
        uint64_t auth = 0;
        for (int k = 2; k < 8; k++)
            auth = auth << 8 | sid[k];
        uint32_t s1, s2;
        memcpy(&s1, sid + 8, 4);
        memcpy(&s2, sid + 12, 4);
        snprintf(want, sizeof want, "S-%u-%llu-%u-%u", sid[0], (unsigned long long)auth, s1, s2);
        expect_render(&a, EVTX_T_SID, sid, 16, want);
        evtx_arena_reset(&a);
    }
    evtx_arena_free(&a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_utf16_every_position),
        cmocka_unit_test(test_crc32_every_length),
        cmocka_unit_test(test_numbers_as_printf),
        cmocka_unit_test(test_probe_and_open),
        cmocka_unit_test(test_typical_event),
        cmocka_unit_test(test_value_types),
        cmocka_unit_test(test_arrays),
        cmocka_unit_test(test_nested_binxml),
        cmocka_unit_test(test_raw_elements),
        cmocka_unit_test(test_bad_checksums_keep_records),
        cmocka_unit_test(test_corrupt_record_skipped),
        cmocka_unit_test(test_truncated_binxml_reported),
        cmocka_unit_test(test_slack_recovery),
        cmocka_unit_test(test_slack_precheck_same),
        cmocka_unit_test(test_slack_early_id_same),
        cmocka_unit_test(test_plausible_text_blocks),
        cmocka_unit_test(test_leaf_fast_path_same),
        cmocka_unit_test(test_dirty_file_more_chunks),
        cmocka_unit_test(test_truncated_file),
        cmocka_unit_test(test_open_by_head_same),
        cmocka_unit_test(test_sparse_holes_skipped),
        cmocka_unit_test(test_header_damaged_recovered),
        cmocka_unit_test(test_bad_chunk_signature),
        cmocka_unit_test(test_deep_nesting_rejected),
        cmocka_unit_test(test_bad_template_offset),
        cmocka_unit_test(test_work_bomb_skipped),
        cmocka_unit_test(test_work_bomb_chunk_cap),
        cmocka_unit_test(test_visitor_stop),
        cmocka_unit_test(test_threads),
        cmocka_unit_test(test_json),
        cmocka_unit_test(test_template_reused_across_chunks),
        cmocka_unit_test(test_template_forged_not_reused),
        cmocka_unit_test(test_template_name_ref_checked),
        cmocka_unit_test(test_field_named_by_value_matched),
    };
    return cmocka_run_group_tests_name("evtx", tests, NULL, NULL);
}
