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
 * This file is a worker's loop over a unit: objects one after another (maybe
 * in [ ], maybe separated by commas), over the whole unit in object mode and
 * over each line in line mode (a line may hold several). Every element is a
 * record, and no event is dropped unsaid: an element that is not an object is
 * reported and counted, and after a malformed one the loop resynchronises
 * past its braces, or at the next line that starts an object no deeper than
 * it, so one bad record costs only itself. */
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
    w->root = (struct jnode){
        .path = "", .serial = 1, .head = 1, .need16 = UINT32_MAX, .cneed = UINT32_MAX, .state = NS_SILENT};
    w->named = (struct jnode){
        .path = "", .serial = 2, .head = 1, .need16 = UINT32_MAX, .cneed = UINT32_MAX, .state = NS_SILENT};
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
    free(w->fs);
    arena_free(&w->mem);
    free(w);
}

static uint64_t line_at(const struct unit *u, const char *from, uint64_t from_line, const char *at)
{
    (void)u;
    return from_line + json_count_lines(from, (size_t)(at - from), false);
}

/* How far in the line of p starts (blanks before its first byte). */
static size_t indent_of(const struct unit *u, const char *p)
{
    const char *ls = p;
    while (ls > u->data && ls[-1] != '\n')
        ls--;
    size_t indent = 0;
    while (ls + indent < p && (ls[indent] == ' ' || ls[indent] == '\t'))
        indent++;
    return indent;
}

/* Where to go on after the malformed record at p: past its braces when they
 * balance (counted as the reading thread counts them, but with a string also
 * ending at a line end, so that a broken quote costs one line), or for one
 * that is not even an object at the next '{'; but in object mode no further
 * than the next line that starts an object as far in as the line of p or
 * less (the next element of a pretty-printed array is indented like this
 * one, the objects nested in this record deeper), and in line mode no
 * further than the line. So one bad record costs only itself, also in an
 * array written on one line. One pass, which stops at the first of these,
 * and the indent is looked up once the pass leaves the line of p: the work
 * is that of the bytes skipped. */
static const char *resync(const struct unit *u, const char *p, const char *end)
{
    bool opener = *p == '{', str = false;
    int depth = 0;
    size_t indent = SIZE_MAX;
    for (const char *q = p; q < end; q++) {
        char c = *q;
        if (c == '\n') {
            str = false;
            if (u->mode != JM_OBJECTS)
                continue;
            if (indent == SIZE_MAX)
                indent = indent_of(u, p);
            const char *r = q + 1;
            size_t k = 0;
            while (r + k < end && k <= indent && (r[k] == ' ' || r[k] == '\t'))
                k++;
            if (k <= indent && r + k < end && r[k] == '{')
                return r + k;
            continue;
        }
        if (!opener) {
            if (c == '{')
                return q;
        } else if (str) {
            if (c == '\\' && end - q > 1 && q[1] != '\n')
                q++;
            else if (c == '"')
                str = false;
        } else if (c == '"') {
            str = true;
        } else if (c == '{' || c == '[') {
            depth++;
        } else if ((c == '}' || c == ']') && --depth <= 0) {
            return q + 1;
        }
    }
    return end;
}

/* Whether the '[' at p opens an array of records (the file's array, or an
 * array of them in it): its first element is an object or another such
 * array. Otherwise the array is one element, not an event. */
static bool opens_records(const char *p, const char *end)
{
    const char *q = p;
    do
        q = json_skip_ws(q + 1, end);
    while (q < end && *q == '[');
    return q >= end || *q == '{' || *q == ']';
}

/* The records of [p, end), one after another: objects, maybe inside [ ],
 * maybe separated by commas; in line mode the span is one line, which may
 * hold several. Every element is a record: one that is not an object is
 * reported and counted, and the elements after it are still read. */
static void parse_span(struct json_worker *w, struct unit *u, const char *p, const char *end, uint64_t line,
                       uint64_t *record)
{
    const char *line_base = p;
    uint64_t base_line = line;
    while (p < end) {
        p = json_skip_ws(p, end);
        if (p >= end)
            break;
        if (*p == ',' || *p == ']' || (*p == '[' && opens_records(p, end))) {
            p++;
            continue;
        }
        if (end - p >= 3 && memcmp(p, "\xef\xbb\xbf", 3) == 0) { /* byte order mark */
            p += 3;
            continue;
        }
        uint64_t at = line_at(u, line_base, base_line, p);
        line_base = p;
        base_line = at;
        u->records++;
        (*record)++;
        const char *q = json_parse_record(w, p, end, *record, at);
        p = q ? q : resync(u, p, end);
    }
}

/* A byte range of a JSON-lines file (JM_RANGE): the lines that start in
 * it, numbered from its first byte (the writer adds the lines before it:
 * reader.h), and the count of its newlines. */
static void parse_range(struct json_worker *w, struct unit *u)
{
    size_t at, range_end;
    bool long_line;
    if (!json_range_load(u, &at, &range_end, &long_line))
        return;
    const char *data = u->data, *end = data + u->len;
    size_t counted = range_end < u->len ? range_end : u->len;
    /* the range's newlines (u->lines) are counted as the lines are found:
     * the lines visited end at every newline before the range's end, so no
     * second pass over the range is needed */
    const char *count_end = data + counted;
    uint64_t newlines = 0;
    /* the first line that starts in the range, and its number */
    const char *p = data + at;
    uint64_t line = 0, record = 0;
    if (at && data[0] != '\n') {
        const char *nl = memchr(p, '\n', counted > at ? counted - at : 0);
        newlines += nl != NULL;
        p = nl ? nl + 1 : end;
        line = 1;
    }
    while (p < end && p < data + range_end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        newlines += nl && nl < count_end;
        parse_span(w, u, p, le, line, &record);
        line++;
        p = le + 1;
    }
    u->lines = newlines;
    if (long_line) {
        snprintf(u->note, sizeof(u->note), "record longer than %u MiB, skipped", RECORD_MAX_BYTES >> 20);
        u->note_line = line;
        u->skipped++;
    }
}

static void json_parse(void *ws, struct unit *u, const struct event_sink *sink)
{
    struct json_worker *w = ws;
    w->sink = sink;
    w->u = u;
    if (u->mode == JM_RANGE) {
        parse_range(w, u);
        return;
    }
    const char *p = u->data, *end = u->data + u->len;
    uint64_t line = u->first_line, record = 0; /* records are counted within the unit */
    if (u->mode != JM_LINES) {
        parse_span(w, u, p, end, line, &record);
        return;
    }
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        parse_span(w, u, p, le, line, &record);
        line++;
        p = le + 1;
    }
}

_Static_assert(READER_JSON_LINES == JM_LINES, "reader.h names the lines mode");

const struct reader_ops reader_json = {
    .name = "json",
    .probe = json_probe,
    .open = json_open,
    .fill = json_fill,
    .close = json_close,
    .release = json_release,
    .worker_create = json_worker_create,
    .worker_destroy = json_worker_destroy,
    .parse = json_parse,
};
