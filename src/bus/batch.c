/* Event batches on the wire: zstd at level 1 out (zlib still in), a
 * bounded decoder in (why: batch.h). */
#include "bus/batch.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>
#include <zstd_errors.h>

static const char *encode_zlib(const char *raw, size_t len, struct buf *out)
{
    uLong bound = compressBound((uLong)len);
    buf_reserve(out, bound);
    uLongf n = bound;
    if (compress2((Bytef *)out->p, &n, (const Bytef *)raw, (uLong)len, Z_BEST_SPEED) != Z_OK || n >= len) {
        buf_clear(out);
        return NULL;
    }
    out->len = n;
    return BUS_ENC_ZLIB;
}

/* A level 1 context that writes the content size (the decoder sizes its
 * buffer from it) and a checksum of the lines (as zlib's Adler-32 did). */
static ZSTD_CCtx *zstd_cctx(void)
{
    ZSTD_CCtx *z = ZSTD_createCCtx();
    if (z && (ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_compressionLevel, 1)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_checksumFlag, 1)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(z, ZSTD_c_contentSizeFlag, 1)))) {
        ZSTD_freeCCtx(z);
        z = NULL;
    }
    return z;
}

const char *bus_batch_encode(struct bus_batch_enc *e, const char *raw, size_t len, struct buf *out)
{
    buf_clear(out);
    if (!len || len > BUS_BATCH_RAW_MAX)
        return NULL;
    if (e && e->zlib)
        return encode_zlib(raw, len, out);
    ZSTD_CCtx *z = e ? e->zc : NULL;
    if (!z) {
        z = zstd_cctx();
        if (!z)
            return NULL; /* no memory for a context: the lines go plain */
        if (e)
            e->zc = z;
    }
    size_t bound = ZSTD_compressBound(len);
    buf_reserve(out, bound);
    size_t n = ZSTD_compress2(z, out->p, bound, raw, len);
    if (!e)
        ZSTD_freeCCtx(z);
    if (ZSTD_isError(n) || n >= len) {
        buf_clear(out);
        return NULL;
    }
    out->len = n;
    return BUS_ENC_ZSTD;
}

void bus_batch_enc_free(struct bus_batch_enc *e)
{
    if (!e)
        return;
    ZSTD_freeCCtx(e->zc);
    e->zc = NULL;
}

uint64_t bus_batch_lines(const char *data, size_t len)
{
    uint64_t n = 0;
    size_t off = 0;
    while (off < len) {
        const char *nl = memchr(data + off, '\n', len - off);
        size_t end = nl ? (size_t)(nl - data) : len;
        if (end > off)
            n++;
        off = end + 1;
    }
    return n;
}

size_t bus_batch_piece_end(const char *data, size_t len, size_t at)
{
    size_t end = at;
    while (end < len) {
        const char *nl = memchr(data + end, '\n', len - end);
        size_t next = nl ? (size_t)(nl - data) + 1 : len;
        if (end > at && next - at > BUS_PIECE_BYTES)
            break;
        end = next;
    }
    return end;
}

unsigned bus_batch_pieces(const char *data, size_t len)
{
    unsigned n = 0;
    for (size_t at = 0; at < len; n++)
        at = bus_batch_piece_end(data, len, at);
    return n ? n : 1;
}

/* Inflates a whole zlib stream into out, at most BUS_BATCH_RAW_MAX bytes. */
static stoat_err inflate_all(const char *p, size_t n, struct buf *out, char *why, size_t whylen)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (inflateInit(&z) != Z_OK) {
        snprintf(why, whylen, "cannot start zlib");
        return STOAT_ERR_NOMEM;
    }
    stoat_err e = STOAT_OK;
    z.next_in = (Bytef *)p;
    z.avail_in = (uInt)n;
    size_t step = n * 8 < (64u << 10) ? (64u << 10) : n * 8;
    for (;;) {
        if (out->len >= BUS_BATCH_RAW_MAX) {
            snprintf(why, whylen, "inflates past %u bytes (at payload offset %zu): refused", BUS_BATCH_RAW_MAX,
                     n - z.avail_in);
            e = STOAT_ERR_LIMIT;
            goto out;
        }
        size_t room = BUS_BATCH_RAW_MAX - out->len;
        if (step > room)
            step = room;
        buf_reserve(out, step + 1); /* and the NUL */
        z.next_out = (Bytef *)out->p + out->len;
        z.avail_out = (uInt)step;
        int r = inflate(&z, Z_NO_FLUSH);
        out->len = (size_t)((char *)z.next_out - out->p);
        if (r == Z_STREAM_END)
            break;
        if (r == Z_OK)
            continue;
        if (r == Z_BUF_ERROR && z.avail_out > 0) { /* input used up before the stream ended */
            snprintf(why, whylen, "the zlib stream is truncated (ends at payload offset %zu)", n);
            e = STOAT_ERR_INPUT;
        } else if (r == Z_BUF_ERROR) {
            continue;
        } else {
            snprintf(why, whylen, "damaged zlib stream at payload offset %zu: %s", n - z.avail_in,
                     z.msg ? z.msg : "bad data");
            e = r == Z_MEM_ERROR ? STOAT_ERR_NOMEM : STOAT_ERR_INPUT;
        }
        goto out;
    }
    if (z.avail_in) {
        snprintf(why, whylen, "%u bytes follow the zlib stream (from payload offset %zu)", z.avail_in, n - z.avail_in);
        e = STOAT_ERR_INPUT;
    }
out:
    inflateEnd(&z);
    if (out->p)
        out->p[out->len] = 0;
    return e;
}

/* Decodes one zstd frame into out: the frame must be the whole payload and
 * declare its content size, which must be within BUS_BATCH_RAW_MAX; the
 * output is capped at that size, so a frame that lies about it fails. */
static stoat_err unzstd(const char *p, size_t n, struct buf *out, char *why, size_t whylen)
{
    static const unsigned char magic[4] = {0x28, 0xb5, 0x2f, 0xfd};
    if (n < 4 || memcmp(p, magic, 4) != 0) {
        snprintf(why, whylen, "not a zstd frame (no magic number at payload offset 0)");
        return STOAT_ERR_INPUT;
    }
    size_t fsz = ZSTD_findFrameCompressedSize(p, n);
    if (ZSTD_isError(fsz)) {
        if (ZSTD_getErrorCode(fsz) == ZSTD_error_srcSize_wrong)
            snprintf(why, whylen, "the zstd frame is truncated (the payload ends at offset %zu)", n);
        else
            snprintf(why, whylen, "damaged zstd frame: %s", ZSTD_getErrorName(fsz));
        return STOAT_ERR_INPUT;
    }
    if (fsz < n) {
        snprintf(why, whylen, "%zu bytes follow the zstd frame (from payload offset %zu)", n - fsz, fsz);
        return STOAT_ERR_INPUT;
    }
    unsigned long long csz = ZSTD_getFrameContentSize(p, n);
    if (csz == ZSTD_CONTENTSIZE_ERROR || csz == ZSTD_CONTENTSIZE_UNKNOWN) {
        snprintf(why, whylen, "the zstd frame does not declare its size (at payload offset 4): refused");
        return STOAT_ERR_INPUT;
    }
    if (csz > BUS_BATCH_RAW_MAX) {
        snprintf(why, whylen, "the zstd frame decodes to %llu bytes, past the %u a batch may hold: refused", csz,
                 BUS_BATCH_RAW_MAX);
        return STOAT_ERR_LIMIT;
    }
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d) {
        snprintf(why, whylen, "cannot start zstd");
        return STOAT_ERR_NOMEM;
    }
    buf_reserve(out, (size_t)csz + 1);
    size_t r = ZSTD_decompressDCtx(d, out->p, (size_t)csz, p, n);
    ZSTD_freeDCtx(d);
    if (ZSTD_isError(r) || r != csz) {
        if (!ZSTD_isError(r))
            snprintf(why, whylen, "damaged zstd frame: %zu bytes instead of the %llu it declares", r, csz);
        else if (ZSTD_getErrorCode(r) == ZSTD_error_checksum_wrong)
            snprintf(why, whylen, "damaged zstd frame: its checksum does not match the lines");
        else
            snprintf(why, whylen, "damaged zstd frame: %s", ZSTD_getErrorName(r));
        return STOAT_ERR_INPUT;
    }
    out->len = r;
    out->p[r] = 0;
    return STOAT_OK;
}

stoat_err bus_batch_decode(const char *enc, const char *payload, size_t plen, struct buf *out, struct bus_batch_view *v,
                           char *why, size_t whylen)
{
    memset(v, 0, sizeof *v);
    buf_clear(out);
    if (!payload)
        plen = 0;
    if (!enc || !enc[0]) {
        if (plen > BUS_BATCH_RAW_MAX) {
            snprintf(why, whylen, "%zu bytes of JSON lines: over the %u a batch may hold", plen, BUS_BATCH_RAW_MAX);
            return STOAT_ERR_LIMIT;
        }
        v->data = plen ? payload : "";
        v->len = plen;
        v->lines = bus_batch_lines(v->data, plen);
        return STOAT_OK;
    }
    bool zstd = strcmp(enc, BUS_ENC_ZSTD) == 0;
    if (!zstd && strcmp(enc, BUS_ENC_ZLIB) != 0) {
        snprintf(why, whylen, "unknown encoding \"%.40s\" (this centre reads JSON lines, zstd and zlib)", enc);
        return STOAT_ERR_UNSUPPORTED;
    }
    if (plen == 0 || plen > BUS_BATCH_RAW_MAX) {
        snprintf(why, whylen, "a %s payload of %zu bytes", enc, plen);
        return STOAT_ERR_INPUT;
    }
    stoat_err e = zstd ? unzstd(payload, plen, out, why, whylen) : inflate_all(payload, plen, out, why, whylen);
    if (e != STOAT_OK) {
        buf_clear(out);
        return e;
    }
    v->data = out->len ? out->p : "";
    v->len = out->len;
    v->lines = bus_batch_lines(v->data, v->len);
    return STOAT_OK;
}
