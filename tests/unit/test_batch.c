/* src/bus/batch.c: an event batch comes back from the wire as the lines
 * that went in (zstd, zlib as publishers before zstd sent them, or plain
 * as publishers before the Stoat-Enc header), and every hostile payload
 * (truncated, damaged, followed by other bytes, decoding past the cap, a
 * frame hiding its size, an unknown encoding) is refused with a sentence,
 * after which the next batch decodes. */
#include "testutil.h"

#include <zlib.h>
#include <zstd.h>

#include "bus/batch.h"

/* n lines of a dump-like envelope, each different. */
static void lines(struct buf *b, unsigned n)
{
    buf_clear(b);
    for (unsigned i = 0; i < n; i++)
        buf_printf(b,
                   "{\"kind\":\"event\",\"host\":\"h1\",\"source\":{\"record\":%u},\"event\":{\"EventID\":4624,"
                   "\"TargetUserName\":\"user%u\",\"IpAddress\":\"10.0.%u.%u\"}}\n",
                   i + 1, i % 37, i % 251, i % 13);
}

static void roundtrip(struct bus_batch_enc *e, const char *want)
{
    struct buf raw = {0}, z = {0}, out = {0};
    lines(&raw, 500);
    const char *enc = bus_batch_encode(e, raw.p, raw.len, &z);
    assert_non_null(enc);
    assert_string_equal(enc, want);
    assert_true(z.len * 4 < raw.len); /* JSON lines of one host shrink */
    struct bus_batch_view v;
    char why[256] = "";
    assert_int_equal(bus_batch_decode(enc, z.p, z.len, &out, &v, why, sizeof why), STOAT_OK);
    assert_int_equal(v.len, raw.len);
    assert_memory_equal(v.data, raw.p, raw.len);
    assert_int_equal(v.lines, 500);
    buf_free(&raw);
    buf_free(&z);
    buf_free(&out);
}

/* zstd by default, with or without a kept context (used again for a
 * second batch); zlib when asked (the format before, still read). */
static void test_roundtrip(void **state)
{
    (void)state;
    struct bus_batch_enc e = {0};
    roundtrip(NULL, BUS_ENC_ZSTD);
    roundtrip(&e, BUS_ENC_ZSTD);
    roundtrip(&e, BUS_ENC_ZSTD);
    bus_batch_enc_free(&e);
    bus_batch_enc_free(&e); /* freed twice, or never used: nothing to do */
    e.zlib = true;
    roundtrip(&e, BUS_ENC_ZLIB);
    bus_batch_enc_free(&e);
    bus_batch_enc_free(NULL);
}

/* No header: the payload is the lines (old publishers, and a batch that
 * would not shrink); empty lines are not events, a last line without its
 * newline is. */
static void test_plain(void **state)
{
    (void)state;
    struct buf out = {0}, z = {0};
    struct bus_batch_view v;
    char why[256];
    const char *p = "{\"a\":1}\n\n{\"b\":2}\n{\"c\":3}";
    assert_int_equal(bus_batch_decode(NULL, p, strlen(p), &out, &v, why, sizeof why), STOAT_OK);
    assert_ptr_equal(v.data, p);
    assert_int_equal(v.lines, 3);
    assert_int_equal(bus_batch_decode("", p, strlen(p), &out, &v, why, sizeof why), STOAT_OK);
    assert_int_equal(v.lines, 3);
    assert_int_equal(bus_batch_decode(NULL, NULL, 0, &out, &v, why, sizeof why), STOAT_OK);
    assert_int_equal(v.lines, 0);
    /* what would not shrink goes as it is */
    assert_null(bus_batch_encode(NULL, "x", 1, &z));
    assert_null(bus_batch_encode(NULL, "", 0, &z));
    buf_free(&out);
    buf_free(&z);
}

/* Each bad payload is refused with why; the next good one decodes into
 * the same buffer. */
static void expect_refused(const char *enc, const char *p, size_t n, stoat_err code, const char *says)
{
    struct buf out = {0}, raw = {0}, z = {0};
    struct bus_batch_view v;
    char why[256] = "";
    assert_int_equal(bus_batch_decode(enc, p, n, &out, &v, why, sizeof why), code);
    assert_int_equal(v.len, 0);
    assert_int_equal(v.lines, 0);
    if (!strstr(why, says))
        fail_msg("\"%s\" does not say \"%s\"", why, says);
    lines(&raw, 20);
    const char *e2 = bus_batch_encode(NULL, raw.p, raw.len, &z);
    assert_non_null(e2);
    assert_int_equal(bus_batch_decode(e2, z.p, z.len, &out, &v, why, sizeof why), STOAT_OK);
    assert_int_equal(v.lines, 20);
    buf_free(&out);
    buf_free(&raw);
    buf_free(&z);
}

static void test_hostile_zlib(void **state)
{
    (void)state;
    struct buf raw = {0}, z = {0};
    struct bus_batch_enc zl = {.zlib = true};
    lines(&raw, 300);
    assert_non_null(bus_batch_encode(&zl, raw.p, raw.len, &z));
    /* truncated: the stream stops early */
    expect_refused(BUS_ENC_ZLIB, z.p, z.len - 9, STOAT_ERR_INPUT, "truncated");
    expect_refused(BUS_ENC_ZLIB, z.p, 2, STOAT_ERR_INPUT, "truncated");
    /* damaged: bytes changed in the middle */
    char *bad = malloc(z.len);
    assert_non_null(bad);
    memcpy(bad, z.p, z.len);
    for (size_t i = z.len / 2; i < z.len / 2 + 16; i++)
        bad[i] ^= 0x5a;
    expect_refused(BUS_ENC_ZLIB, bad, z.len, STOAT_ERR_INPUT, "zlib stream");
    /* not zlib at all */
    expect_refused(BUS_ENC_ZLIB, "{\"kind\":\"event\"}\n", 17, STOAT_ERR_INPUT,
                   "damaged zlib stream at payload offset");
    /* other bytes after the stream's end */
    char *more = malloc(z.len + 5);
    assert_non_null(more);
    memcpy(more, z.p, z.len);
    memcpy(more + z.len, "extra", 5);
    expect_refused(BUS_ENC_ZLIB, more, z.len + 5, STOAT_ERR_INPUT, "5 bytes follow");
    /* empty, and an encoding this side does not know */
    expect_refused(BUS_ENC_ZLIB, "", 0, STOAT_ERR_INPUT, "zlib payload of 0 bytes");
    expect_refused("lz4", z.p, z.len, STOAT_ERR_UNSUPPORTED, "unknown encoding \"lz4\"");
    /* a zlib stream under the zstd name */
    expect_refused(BUS_ENC_ZSTD, z.p, z.len, STOAT_ERR_INPUT, "not a zstd frame");
    free(bad);
    free(more);
    bus_batch_enc_free(&zl);
    buf_free(&raw);
    buf_free(&z);
}

static void test_hostile_zstd(void **state)
{
    (void)state;
    struct buf raw = {0}, z = {0};
    lines(&raw, 300);
    assert_string_equal(bus_batch_encode(NULL, raw.p, raw.len, &z), BUS_ENC_ZSTD);
    expect_refused(BUS_ENC_ZSTD, z.p, z.len - 9, STOAT_ERR_INPUT, "truncated");
    expect_refused(BUS_ENC_ZSTD, z.p, 6, STOAT_ERR_INPUT, "truncated");
    expect_refused(BUS_ENC_ZSTD, z.p, 3, STOAT_ERR_INPUT, "not a zstd frame");
    /* damaged in the middle: the decoder or the checksum says so */
    char *bad = malloc(z.len);
    assert_non_null(bad);
    memcpy(bad, z.p, z.len);
    for (size_t i = z.len / 2; i < z.len / 2 + 16; i++)
        bad[i] ^= 0x5a;
    expect_refused(BUS_ENC_ZSTD, bad, z.len, STOAT_ERR_INPUT, "damaged zstd frame");
    /* one byte of the lines' checksum changed */
    memcpy(bad, z.p, z.len);
    bad[z.len - 1] ^= 1;
    expect_refused(BUS_ENC_ZSTD, bad, z.len, STOAT_ERR_INPUT, "checksum");
    /* a second frame, or other bytes, after the first */
    char *more = malloc(z.len * 2);
    assert_non_null(more);
    memcpy(more, z.p, z.len);
    memcpy(more + z.len, z.p, z.len);
    expect_refused(BUS_ENC_ZSTD, more, z.len * 2, STOAT_ERR_INPUT, "bytes follow the zstd frame");
    expect_refused(BUS_ENC_ZSTD, "", 0, STOAT_ERR_INPUT, "zstd payload of 0 bytes");
    /* a frame that does not say how big it is (a streaming encoder's) */
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    assert_non_null(cc);
    ZSTD_CCtx_setParameter(cc, ZSTD_c_contentSizeFlag, 0);
    ZSTD_outBuffer ob = {more, z.len * 2, 0};
    ZSTD_inBuffer ib = {raw.p, raw.len, 0};
    assert_int_equal(ZSTD_compressStream2(cc, &ob, &ib, ZSTD_e_end), 0);
    ZSTD_freeCCtx(cc);
    expect_refused(BUS_ENC_ZSTD, more, ob.pos, STOAT_ERR_INPUT, "does not declare its size");
    free(bad);
    free(more);
    buf_free(&raw);
    buf_free(&z);
}

/* A small payload that decodes past the cap (a bomb) is refused without
 * decoding it all; so are plain lines over the cap. */
static void test_oversized(void **state)
{
    (void)state;
    size_t big = BUS_BATCH_RAW_MAX + (1u << 20);
    char *a = malloc(big);
    assert_non_null(a);
    memset(a, 'a', big);
    uLongf zn = compressBound(big);
    char *z = malloc(zn);
    assert_non_null(z);
    assert_int_equal(compress2((Bytef *)z, &zn, (Bytef *)a, big, 9), Z_OK);
    assert_true(zn < 64 * 1024);
    expect_refused(BUS_ENC_ZLIB, z, zn, STOAT_ERR_LIMIT, "inflates past");
    expect_refused(NULL, a, big, STOAT_ERR_LIMIT, "over the");
    /* zstd: refused from the size its frame declares */
    size_t zs = ZSTD_compress(z, compressBound(big), a, big, 19);
    assert_false(ZSTD_isError(zs));
    assert_true(zs < 64 * 1024);
    expect_refused(BUS_ENC_ZSTD, z, zs, STOAT_ERR_LIMIT, "past the");
    /* the encoder does not make what the decoder refuses */
    struct buf out = {0};
    assert_null(bus_batch_encode(NULL, a, big, &out));
    free(a);
    free(z);
    buf_free(&out);
}

/* The count the centre checks against Stoat-Count: what is there. */
static void test_counts(void **state)
{
    (void)state;
    assert_int_equal(bus_batch_lines("", 0), 0);
    assert_int_equal(bus_batch_lines("\n\n\n", 3), 0);
    assert_int_equal(bus_batch_lines("a\nb\n", 4), 2);
    assert_int_equal(bus_batch_lines("a\nb", 3), 2);
    assert_int_equal(bus_batch_lines("a\n\nb\n\n", 6), 2);
}

/* Pieces of a batch that does not fit one message: whole lines, each piece
 * at most BUS_PIECE_BYTES unless it is one longer line alone, every byte in
 * exactly one piece, and as many pieces as bus_batch_pieces says. */
static void test_pieces(void **state)
{
    (void)state;
    struct buf b = {0};
    /* lines of 1 to 9 KiB, then one of 800 KiB (over a piece alone), then more */
    for (int i = 0; i < 600; i++) {
        size_t n = 1024 + (size_t)(i % 9) * 1024 - 1;
        if (i == 300)
            n = 800u << 10;
        for (size_t k = 0; k < n; k++)
            buf_putc(&b, (char)('a' + (k + (size_t)i) % 26));
        buf_putc(&b, '\n');
    }
    unsigned want = bus_batch_pieces(b.p, b.len), got = 0;
    uint64_t lines = 0;
    size_t at = 0;
    bool alone = false;
    while (at < b.len) {
        size_t end = bus_batch_piece_end(b.p, b.len, at);
        assert_true(end > at);
        assert_true(end == b.len || b.p[end - 1] == '\n');
        uint64_t l = bus_batch_lines(b.p + at, end - at);
        assert_true(end - at <= BUS_PIECE_BYTES || l == 1);
        alone = alone || (l == 1 && end - at > BUS_PIECE_BYTES);
        lines += l;
        got++;
        at = end;
    }
    assert_true(alone);
    assert_int_equal(at, b.len);
    assert_int_equal(lines, 600);
    assert_int_equal(got, want);
    assert_true(want >= 3);
    assert_int_equal(bus_batch_pieces("", 0), 1);
    assert_int_equal(bus_batch_pieces("{}\n", 3), 1);
    buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_roundtrip),    cmocka_unit_test(test_plain),     cmocka_unit_test(test_hostile_zlib),
        cmocka_unit_test(test_hostile_zstd), cmocka_unit_test(test_oversized), cmocka_unit_test(test_counts),
        cmocka_unit_test(test_pieces),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
