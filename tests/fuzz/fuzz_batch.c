/* Fuzz harness for the fleet centre's batch decoder (src/bus/batch.c):
 * the first byte picks the Stoat-Enc value (none, "zstd", "zlib", an
 * unknown one), the rest is the payload as it came off the bus. Whatever decodes must
 * count its lines as bus_batch_lines does and go through the encoder and
 * back unchanged; whatever does not must say why.
 *
 * The harnesses link the library without src/bus (nats.c is not built for
 * fuzzing), so the decoder's one file, which needs only zlib, zstd and
 * util/buf, is compiled in here. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus/batch.c"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    static const char *const encs[] = {NULL, BUS_ENC_ZSTD, BUS_ENC_ZLIB, "lz4"};
    const char *enc = encs[data[0] % 4];
    const char *p = (const char *)data + 1;
    size_t n = size - 1;
    struct buf out = {0}, z = {0}, back = {0};
    struct bus_batch_view v;
    char why[256] = "";
    if (bus_batch_decode(enc, p, n, &out, &v, why, sizeof why) != STOAT_OK) {
        if (!why[0] || v.len || v.lines)
            abort();
        goto out;
    }
    if (v.len > BUS_BATCH_RAW_MAX || v.lines != bus_batch_lines(v.data, v.len))
        abort();
    struct bus_batch_enc zl = {.zlib = data[0] & 4};
    const char *e2 = bus_batch_encode(&zl, v.data, v.len, &z);
    bus_batch_enc_free(&zl);
    if (e2) {
        struct bus_batch_view w;
        if (bus_batch_decode(e2, z.p, z.len, &back, &w, why, sizeof why) != STOAT_OK || w.len != v.len ||
            memcmp(w.data, v.data, v.len) != 0)
            abort();
    }
out:
    buf_free(&out);
    buf_free(&z);
    buf_free(&back);
    return 0;
}
