/* libFuzzer harness for the EVTX reader.
 *
 * Why the wrapping: a real file is a 4 KiB header plus 64 KiB chunks, far
 * more than a fuzzer mutates well. Input that starts with the file signature
 * is taken as a whole file; anything else becomes the body of chunk 0 behind
 * a fixed header, so mutations land in chunk headers, records and Binary XML
 * where the parsing is; such input is then also opened as it is, as a file
 * whose header is gone, which the reader recovers by scanning for chunks.
 * Every record is also rendered as JSON so the writer sees hostile field
 * text too.
 */
#include "readers/evtx/evtx.h"

#include <stdlib.h>
#include <string.h>

static int on_record(void *ctx, const struct evtx_record *r)
{
    struct {
        char *buf;
        size_t cap;
    } *j = ctx;
    size_t len = 0;
    evtx_record_to_json(r, &j->buf, &len, &j->cap);
    /* touch every field so a bad pointer shows up under ASan */
    size_t sum = 0;
    for (size_t i = 0; i < r->nfields; i++)
        sum += (unsigned char)r->fields[i].name[0] + r->fields[i].value_len +
               (r->fields[i].value_len ? (unsigned char)r->fields[i].value[r->fields[i].value_len - 1] : 0);
    return sum == (size_t)-1;
}

static void on_error(void *ctx, const struct evtx_error *e)
{
    (void)ctx;
    if (!e->reason || !e->file)
        abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct evtx_scratch *s;
    if (!s)
        s = evtx_scratch_create();
    uint8_t *buf = NULL;
    const uint8_t *p = data;
    size_t n = size;
    if (!evtx_probe(data, size)) {
        n = EVTX_FILE_HEADER_SIZE + size;
        buf = calloc(1, n);
        if (!buf)
            return 0;
        memcpy(buf, "ElfFile\0", 8);
        buf[32] = 128;  /* header size */
        buf[38] = 3;    /* major version */
        buf[40] = 0x00; /* header block size 4096 */
        buf[41] = 0x10;
        buf[42] = 1; /* one chunk */
        memcpy(buf + EVTX_FILE_HEADER_SIZE, data, size);
        p = buf;
    }
    struct evtx_file *f = NULL;
    struct evtx_error err;
    struct {
        char *buf;
        size_t cap;
    } j = {NULL, 0};
    struct evtx_visitor v = {&j, on_record, on_error};
    if (evtx_open_mem(p, n, "fuzz", &f, &err) == 0) {
        for (uint32_t i = 0; i < evtx_chunk_count(f); i++)
            evtx_parse_chunk(f, i, s, &v);
    }
    evtx_close(f);
    /* as the hunt reads a plain file: opened by its head, each chunk copied
       into a buffer of exactly the bytes read (what lies past it is not the
       parser's to look at) */
    f = NULL;
    if (evtx_open_head(p, n < 8192 ? n : 8192, n, "fuzz-head", &f, &err) == 0) {
        for (uint32_t i = 0; i < evtx_chunk_count(f) || i == 0; i++) {
            uint64_t off = evtx_chunk_offset(f, i);
            size_t got = i >= evtx_chunk_count(f) ? 0 : n - off < EVTX_CHUNK_SIZE ? n - off : EVTX_CHUNK_SIZE;
            uint8_t *c = got ? malloc(got) : NULL;
            if (c)
                memcpy(c, p + off, got);
            evtx_parse_chunk_at(f, i, c, c ? got : 0, s, &v);
            free(c);
        }
    }
    evtx_close(f);
    /* and the same bytes as a file whose header is gone: the chunk scan */
    f = NULL;
    if (buf && evtx_open_mem(data, size, "fuzz-headless", &f, &err) == 0) {
        for (uint32_t i = 0; i < evtx_chunk_count(f); i++)
            evtx_parse_chunk(f, i, s, &v);
    }
    evtx_close(f);
    free(j.buf);
    free(buf);
    return 0;
}
