/* See source_bus.h. A batch is cut into units at line ends (a batch is
 * at most 256 KiB by contract, one unit; a bigger one from a broken or
 * hostile publisher is cut, never read past its end), and its last unit
 * is marked so the writer hands the batch back when it is through.
 *
 * Each line is `stoat dump`'s envelope {"kind":"event", "timestamp",
 * "host", "source":{...}, "event":{fields}}: the reader is given the
 * "event" object alone, whose fields are the record's own (Computer,
 * Channel, EventID, the time field), so the mapping derives time, host,
 * channel and id from them exactly as it did at the host. A line that is
 * not an envelope goes to the reader as it is. */
#include "pipeline/source_bus.h"

#include <string.h>

#include "util/mem.h"

void source_bus_release(void *ctx, struct input_file *f)
{
    (void)ctx;
    struct bus_input *in = (struct bus_input *)f;
    in->done(in->ctx, in);
}

/* The "event" member of an envelope line p[0..n): its value's span, or
 * false. Scans strings and depth only up to the member (the small
 * "source" object before it); the value runs to the envelope's last '}'. */
static bool envelope_event(const char *p, size_t n, size_t *vb, size_t *ve)
{
    static const char kind[] = "{\"kind\":\"event\"", key[] = "\"event\":";
    if (n < sizeof(kind) || memcmp(p, kind, sizeof(kind) - 1))
        return false;
    int depth = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '"') {
            if (depth == 1 && n - i > sizeof(key) - 1 && !memcmp(p + i, key, sizeof(key) - 1)) {
                size_t b = i + sizeof(key) - 1, e = n;
                while (e > b && p[e - 1] != '}')
                    e--;
                if (e <= b + 1 || p[b] != '{')
                    return false;
                *vb = b;
                *ve = e - 1; /* without the envelope's own '}' */
                return true;
            }
            /* to the closing quote: one not preceded by an odd run of backslashes */
            size_t s0 = ++i;
            for (;;) {
                const char *q = i < n ? memchr(p + i, '"', n - i) : NULL;
                if (!q) {
                    i = n;
                    break;
                }
                size_t j = (size_t)(q - p), k = j;
                while (k > s0 && p[k - 1] == '\\')
                    k--;
                i = j;
                if (((j - k) & 1) == 0)
                    break;
                i++;
            }
        } else if (c == '{' || c == '[') {
            depth++;
        } else if (c == '}' || c == ']') {
            depth--;
        }
    }
    return false;
}

/* Appends the reader's line for one envelope line to u. */
static void put_line(struct unit *u, const char *p, size_t n)
{
    size_t vb = 0, ve = n;
    if (!envelope_event(p, n, &vb, &ve))
        vb = 0, ve = n;
    size_t need = u->len + (ve - vb) + 2;
    if (u->cap < need) {
        u->data = xrealloc(u->data, need);
        u->cap = need;
    }
    memcpy(u->data + u->len, p + vb, ve - vb);
    u->len += ve - vb;
    u->data[u->len++] = '\n';
    u->data[u->len] = 0;
}

void source_bus_send(struct units *p, struct bus_input *in, const char *data, size_t len)
{
    in->file.reader = &reader_json;
    size_t off = 0;
    uint64_t line = 1;
    do {
        struct unit *u = units_take(p);
        u->file = &in->file;
        size_t n = len - off;
        if (n > UNIT_BYTES) {
            const char *nl = memrchr(data + off, '\n', UNIT_BYTES);
            n = nl ? (size_t)(nl - (data + off)) + 1 : UNIT_BYTES;
        }
        u->len = 0;
        uint64_t put = 0; /* each put_line adds one line */
        for (size_t i = 0; i < n; put++) {
            const char *nl = memchr(data + off + i, '\n', n - i);
            size_t ln = nl ? (size_t)(nl - (data + off + i)) : n - i;
            if (ln)
                put_line(u, data + off + i, ln);
            else
                put_line(u, "", 0); /* keeps line numbers */
            i += ln + 1;
        }
        if (!u->data) {
            u->data = xmalloc(1);
            u->cap = 1;
            u->data[0] = 0;
        }
        u->mode = READER_JSON_LINES;
        u->first_line = line;
        u->file_offset = off;
        line += put;
        off += n;
        u->last = off >= len;
        units_send(p, u);
    } while (off < len);
}
