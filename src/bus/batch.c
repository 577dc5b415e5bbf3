/* Event batches on the wire: zlib at its fastest level out, a bounded
 * inflate in (why: batch.h). */
#include "bus/batch.h"

#include <stdio.h>
#include <string.h>
#include <zlib.h>

const char *bus_batch_encode(const char *raw, size_t len, struct buf *out)
{
    buf_clear(out);
    if (!len || len > BUS_BATCH_RAW_MAX)
        return NULL;
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
    if (strcmp(enc, BUS_ENC_ZLIB) != 0) {
        snprintf(why, whylen, "unknown encoding \"%.40s\" (this centre reads JSON lines and zlib)", enc);
        return STOAT_ERR_UNSUPPORTED;
    }
    if (plen == 0 || plen > BUS_BATCH_RAW_MAX) {
        snprintf(why, whylen, "a zlib payload of %zu bytes", plen);
        return STOAT_ERR_INPUT;
    }
    stoat_err e = inflate_all(payload, plen, out, why, whylen);
    if (e != STOAT_OK) {
        buf_clear(out);
        return e;
    }
    v->data = out->len ? out->p : "";
    v->len = out->len;
    v->lines = bus_batch_lines(v->data, v->len);
    return STOAT_OK;
}
