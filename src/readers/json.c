/* The JSON reader: JSON lines, JSON arrays and concatenated (pretty-printed)
 * objects, detected from the first object, in the shapes EVTX converters
 * write ({"Event":{"System":...,"EventData":...}}, xmltodict's
 * {"@Name":...,"#text":...}) or flat.
 *
 * The reader is built in layers (json_int.h lists them): the reading thread
 * only finds record boundaries (json_read.c); workers parse records with a
 * small recursive-descent parser (json_parse.c) that flattens nested names
 * into Sigma field names as the mapping file says, through a tree of the
 * names each worker has seen (json_names.c), so a path and its Sigma name
 * are worked out once and most keys are matched by comparing a word or two.
 *
 * This file is a worker's loop over a unit: in line mode a record per line;
 * in object mode objects one after another (maybe in [ ], maybe separated by
 * commas), and after a malformed one the loop resynchronises at the next
 * line that starts an object no deeper than it, so one bad record costs only
 * itself. */
#include <stdio.h>
#include <string.h>

#include "readers/reader.h"
#include "util/text.h"
#include "readers/json_int.h"

/* ------------------------------------------------------------ worker */

static void *json_worker_create(const struct mapping *map)
{
    struct json_worker *w = xcalloc(1, sizeof(*w));
    w->map = map;
    w->table_cap = 1024;
    w->table = xcalloc(w->table_cap, sizeof(*w->table));
    arena_init(&w->mem, 65536);
    /* the two roots are cached (their children are) but never guessed:
     * a mask of 0 cannot give a head of 1 */
    w->root = (struct jnode){.path = "", .serial = 1, .head = 1, .state = NS_SILENT};
    w->named = (struct jnode){.path = "", .serial = 2, .head = 1, .state = NS_SILENT};
    w->serials = 2;
    return w;
}

static void json_worker_destroy(void *ws)
{
    struct json_worker *w = ws;
    if (!w)
        return;
    free(w->table);
    free(w->dec);
    arena_free(&w->mem);
    free(w);
}

static uint64_t line_at(const struct unit *u, const char *from, uint64_t from_line, const char *at)
{
    (void)u;
    return from_line + json_count_lines(from, (size_t)(at - from), false);
}

static void json_parse(void *ws, struct unit *u, const struct event_sink *sink)
{
    struct json_worker *w = ws;
    w->sink = sink;
    w->field = sink->field;
    w->ctx = sink->ctx;
    w->u = u;
    const char *p = u->data, *end = u->data + u->len;
    uint64_t line = u->first_line, record = 0;   /* records are counted within the unit */
    if (u->mode == JM_LINES) {
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            const char *s = json_skip_ws(p, le);
            const char *e = le;
            while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (s < e) {
                if (p == u->data && line == 1 && e - s >= 3 && (unsigned char)s[0] == 0xEF &&
                    (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
                    s += 3;   /* byte order mark */
                u->records++;
                record++;
                const char *q = json_parse_record(w, s, e, record, line);
                if (q) {
                    q = json_skip_ws(q, e);
                    if (q < e && *q != ',') {
                        char msg[96];
                        snprintf(msg, sizeof(msg), "text after the JSON object on this line was ignored");
                        sink->bad(sink->ctx, line, 0, false, true, msg);
                    }
                }
            }
            line++;
            p = le + 1;
        }
        return;
    }
    /* objects: one after another, maybe inside [ ], maybe comma-separated */
    const char *line_base = p;
    uint64_t base_line = line;
    while (p < end) {
        p = json_skip_ws(p, end);
        if (p < end && (*p == ',' || *p == '[' || *p == ']' || (unsigned char)*p == 0xEF)) {
            if ((unsigned char)*p == 0xEF && end - p >= 3)
                p += 3;
            else
                p++;
            continue;
        }
        if (p >= end)
            break;
        uint64_t at = line_at(u, line_base, base_line, p);
        line_base = p;
        base_line = at;
        u->records++;
        record++;
        const char *q = json_parse_record(w, p, end, record, at);
        if (q) {
            p = q;
            continue;
        }
        /* Resynchronise at the next line that starts an object as far in as
         * this record's line or less: the next element of a pretty-printed
         * array is indented like this one, the objects nested in this record
         * deeper. */
        const char *ls = p;
        while (ls > u->data && ls[-1] != '\n')
            ls--;
        size_t indent = 0;
        while (ls + indent < p && (ls[indent] == ' ' || ls[indent] == '\t'))
            indent++;
        const char *r = p + 1;
        for (;;) {
            const char *nl = memchr(r, '\n', (size_t)(end - r));
            if (!nl) {
                r = end;
                break;
            }
            r = nl + 1;
            size_t k = 0;
            while (r + k < end && k <= indent && (r[k] == ' ' || r[k] == '\t'))
                k++;
            if (k <= indent && r + k < end && r[k] == '{') {
                r += k;
                break;
            }
        }
        p = r;
    }
}

const struct reader_ops reader_json = {
    .name = "json",
    .probe = json_probe,
    .open = json_open,
    .fill = json_fill,
    .close = json_close,
    .worker_create = json_worker_create,
    .worker_destroy = json_worker_destroy,
    .parse = json_parse,
};
