/* The JSON reader: JSON lines, JSON arrays and concatenated (pretty-printed)
 * objects, detected from the first object.
 *
 * The reading thread only finds record boundaries: in line mode the last
 * newline of a block (memrchr), otherwise a string-aware brace count. Workers
 * parse records with a small recursive-descent parser (depth capped) that
 * flattens nested names into Sigma field names as the mapping file says:
 * "Event.System.Provider.#attributes.Name" becomes "Provider_Name". Each
 * distinct path is resolved once per worker and cached, so the per-field cost
 * is one hash of the path. String values without escapes are slices of the
 * unit buffer; escaped ones are decoded into the event scratch. */
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "engine/fields.h"
#include "readers/reader.h"
#include "util/text.h"

#define JSON_MAX_DEPTH 64
#define PATH_MAX_BYTES 2048
#define PATH_CACHE_MAX 65536

enum json_mode { JM_LINES = 1, JM_OBJECTS = 2 };

/* ------------------------------------------------------------ producer */

struct json_state {
    enum json_mode mode;
    bool array_open;       /* inside a top-level [ ... ] */
    bool started;
    uint64_t line;         /* line number of the next unread byte */
    uint64_t offset;
    char *carry;           /* bytes of an incomplete record */
    size_t ncarry, carry_cap;
    bool eof;
    bool skipping_long;    /* dropping the rest of an over-long line */
    char *read_error;      /* an input error held back until the bytes before it are handed over */
};

static bool json_probe(const unsigned char *h, size_t n)
{
    size_t i = 0;
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    /* Blank lines only: an empty JSON-lines log, not an unknown format. */
    if (i == n)
        return n > 0;
    return h[i] == '{' || h[i] == '[';
}

/* Decides line mode or object mode from the first object of the head. */
static enum json_mode detect_mode(const unsigned char *h, size_t n, bool *array)
{
    size_t i = 0;
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    *array = i < n && h[i] == '[';
    if (*array)
        return JM_OBJECTS;
    int depth = 0;
    bool str = false;
    for (; i < n; i++) {
        unsigned char c = h[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
            continue;
        }
        if (c == '"')
            str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (--depth == 0)
                return JM_LINES;   /* the first object closed on its first line */
        } else if (c == '\n')
            return JM_OBJECTS;     /* an object spanning lines */
    }
    return JM_LINES;               /* a first line longer than the head */
}

static int json_open(struct input_file *f, struct input *in, char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    struct json_state *s = xcalloc(1, sizeof(*s));
    const unsigned char *head;
    size_t n = input_peek(in, &head);
    bool array;
    s->mode = detect_mode(head, n, &array);
    s->array_open = array;
    s->line = 1;
    f->reader_state = s;
    return 0;
}

static void json_close(struct input_file *f)
{
    struct json_state *s = f->reader_state;
    if (!s)
        return;
    free(s->carry);
    free(s->read_error);
    free(s);
    f->reader_state = NULL;
}

static uint64_t count_lines(const char *p, size_t n)
{
    uint64_t c = 0;
    const char *end = p + n;
    while ((p = memchr(p, '\n', (size_t)(end - p)))) {
        c++;
        p++;
    }
    return c;
}

/* Object mode: the end of the last complete top-level value in [0, n), or 0. */
static size_t last_object_end(const char *p, size_t n)
{
    int depth = 0;
    bool str = false;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
            continue;
        }
        switch (c) {
        case '"': str = true; break;
        case '{': depth++; break;
        case '[':
            /* At the top a '[' opens an array of records: its elements are
             * the units' records, not the array (which may be any size). */
            if (depth > 0)
                depth++;
            break;
        case '}':
        case ']':
            if (depth > 0 && --depth == 0)
                last = i + 1;
            break;
        default: break;
        }
    }
    return last;
}

static int json_fill(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen)
{
    struct json_state *s = f->reader_state;
    if (s->eof && s->ncarry == 0) {
        if (!s->read_error)
            return 0;
        snprintf(why, whylen, "%s", s->read_error);
        return -1;
    }
    u->len = 0;
    u->mode = s->mode;
    size_t want = UNIT_BYTES;
    /* carried bytes first; they may be more than one block */
    if (s->ncarry) {
        if (s->ncarry + 1 > u->cap) {
            u->data = xrealloc(u->data, s->ncarry + 1);
            u->cap = s->ncarry + 1;
        }
        memcpy(u->data, s->carry, s->ncarry);
        u->len = s->ncarry;
        s->ncarry = 0;
        if (u->len > want)
            want = u->len;
    }
    for (;;) {
        if (u->cap < want + 1) {
            u->data = xrealloc(u->data, want + 1);
            u->cap = want + 1;
        }
        while (!s->eof && u->len < want) {
            long r = input_read(in, u->data + u->len, want - u->len, why, whylen);
            if (r < 0 && u->len == 0)
                return -1;
            if (r < 0) {
                /* The records read before the error (a truncated .gz, say)
                 * are still good: hand them over, report on the next call. */
                s->read_error = xstrdup(why);
                s->eof = true;
                break;
            }
            if (r == 0)
                s->eof = true;
            u->len += (size_t)r;
        }
        size_t cut;
        if (s->eof) {
            cut = u->len;
        } else if (s->mode == JM_LINES) {
            const char *nl = memrchr(u->data, '\n', u->len);
            cut = nl ? (size_t)(nl - u->data) + 1 : 0;
        } else {
            cut = last_object_end(u->data, u->len);
            /* take trailing whitespace/commas with it so the next unit starts clean */
            while (cut && cut < u->len && (u->data[cut] == '\n' || u->data[cut] == '\r' || u->data[cut] == ' ' ||
                                           u->data[cut] == '\t' || u->data[cut] == ','))
                cut++;
        }
        if (cut == 0) {
            /* one record bigger than the block: grow, up to the record cap */
            if (want >= RECORD_MAX_BYTES) {
                snprintf(u->note, sizeof(u->note), "record longer than %u MiB, skipped", RECORD_MAX_BYTES >> 20);
                u->note_line = s->line;
                u->skipped++;
                /* drop up to the next line start that can begin a record, a
                 * block at a time; what follows that newline is kept */
                s->line += count_lines(u->data, u->len);
                s->offset += u->len;
                u->len = 0;
                long r;
                while ((r = input_read(in, u->data, u->cap - 1, why, whylen)) > 0) {
                    const char *nl = memchr(u->data, '\n', (size_t)r);
                    if (!nl) {
                        s->offset += (uint64_t)r;
                        continue;
                    }
                    size_t used = (size_t)(nl - u->data) + 1, rest = (size_t)r - used;
                    s->offset += used;
                    s->line++;
                    if (rest) {
                        XGROW(s->carry, s->carry_cap, rest);
                        memcpy(s->carry, nl + 1, rest);
                        s->ncarry = rest;
                    }
                    break;
                }
                if (r < 0)
                    return -1;
                if (r == 0)
                    s->eof = true;
                u->first_line = s->line;
                u->file_offset = s->offset;
                return 1;   /* a unit with the note only */
            }
            want = want * 2 < RECORD_MAX_BYTES ? want * 2 : RECORD_MAX_BYTES;
            continue;
        }
        /* keep the incomplete tail for the next unit */
        size_t rest = u->len - cut;
        if (rest) {
            XGROW(s->carry, s->carry_cap, rest);
            memcpy(s->carry, u->data + cut, rest);
            s->ncarry = rest;
        }
        u->len = cut;
        break;
    }
    u->data[u->len] = 0;
    u->first_line = s->line;
    u->file_offset = s->offset;
    s->line += count_lines(u->data, u->len);
    s->offset += u->len;
    return 1;
}

/* ------------------------------------------------------------ worker */

struct path_entry {
    uint64_t hash;
    char *path;
    uint32_t path_len;
    const char *name;      /* the Sigma field name */
    uint32_t name_len;
    uint32_t id;
};

struct json_worker {
    const struct mapping *map;
    struct path_entry *cache;
    size_t cache_cap, cache_n;
    struct arena cache_mem;
    char path[PATH_MAX_BYTES];
    size_t plen;
    bool after_attributes;   /* the last path component was #attributes */
    const struct event_sink *sink;
    struct unit *u;
    const char *err;         /* first parse error of the record */
    const char *err_at;
    uint32_t nfields;
    bool too_many;
};

static void *json_worker_create(const struct mapping *map)
{
    struct json_worker *w = xcalloc(1, sizeof(*w));
    w->map = map;
    w->cache_cap = 1024;
    w->cache = xcalloc(w->cache_cap, sizeof(*w->cache));
    arena_init(&w->cache_mem, 65536);
    return w;
}

static void json_worker_destroy(void *ws)
{
    struct json_worker *w = ws;
    if (!w)
        return;
    free(w->cache);
    arena_free(&w->cache_mem);
    free(w);
}

/* Path -> Sigma name, by the mapping: exact renames first, then prefixes. */
static void map_path(struct json_worker *w, const char *p, size_t n, const char **name, size_t *nlen)
{
    const struct mapping *m = w->map;
    for (size_t i = 0; i < m->njson_renames; i++) {
        size_t l = strlen(m->json_renames[i].from);
        if (l == n && memcmp(m->json_renames[i].from, p, n) == 0) {
            *name = m->json_renames[i].to;
            *nlen = strlen(*name);
            return;
        }
    }
    for (size_t i = 0; i < m->nstrip; i++) {
        const char *pre = m->strip[i];
        size_t a = 0, b = 0;
        bool ok = true;
        while (pre[a] && ok) {
            if (pre[a] == '*') {
                /* one path component */
                while (b < n && p[b] != '.')
                    b++;
                a++;
                if (b == n)
                    ok = false;
                continue;
            }
            if (b >= n || pre[a] != p[b])
                ok = false;
            a++;
            b++;
        }
        if (ok && b < n) {
            *name = p + b;
            *nlen = n - b;
            return;
        }
    }
    *name = p;
    *nlen = n;
}

static const struct path_entry *resolve(struct json_worker *w)
{
    uint64_t h = hash_bytes(w->path, w->plen, 11);
    size_t mask = w->cache_cap - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
        struct path_entry *e = &w->cache[i];
        if (!e->path)
            break;
        if (e->hash == h && e->path_len == w->plen && memcmp(e->path, w->path, w->plen) == 0)
            return e;
    }
    /* miss: compute, and cache when there is room */
    const char *name;
    size_t nlen;
    map_path(w, w->path, w->plen, &name, &nlen);
    static __thread struct path_entry tmp;
    if (w->cache_n >= PATH_CACHE_MAX) {
        /* a hostile input with endless distinct names: stop caching */
        tmp.name = name;   /* points into w->path: valid until the path changes */
        tmp.name_len = (uint32_t)nlen;
        tmp.id = w->sink->field_id(w->sink->ctx, name, nlen);
        return &tmp;
    }
    if ((w->cache_n + 1) * 2 > w->cache_cap) {
        size_t nc = w->cache_cap * 2;
        struct path_entry *nt = xcalloc(nc, sizeof(*nt));
        for (size_t i = 0; i < w->cache_cap; i++) {
            if (!w->cache[i].path)
                continue;
            size_t j = w->cache[i].hash & (nc - 1);
            while (nt[j].path)
                j = (j + 1) & (nc - 1);
            nt[j] = w->cache[i];
        }
        free(w->cache);
        w->cache = nt;
        w->cache_cap = nc;
        mask = nc - 1;
    }
    size_t i = h & mask;
    while (w->cache[i].path)
        i = (i + 1) & mask;
    struct path_entry *e = &w->cache[i];
    e->hash = h;
    e->path = arena_memdup(&w->cache_mem, w->path, w->plen);
    e->path_len = (uint32_t)w->plen;
    /* the name is a suffix of the path or a mapping string */
    if (name >= w->path && name < w->path + w->plen)
        e->name = e->path + (name - w->path);
    else
        e->name = name;
    e->name_len = (uint32_t)nlen;
    e->id = w->sink->field_id(w->sink->ctx, e->name, nlen);
    w->cache_n++;
    return e;
}

static inline const char *skip_ws(const char *p, const char *end)
{
    while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
        p++;
    return p;
}

static void jerr(struct json_worker *w, const char *at, const char *msg)
{
    if (!w->err) {
        w->err = msg;
        w->err_at = at;
    }
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)(c | 32);
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    return -1;
}

/* Parses a string starting after the opening quote. Returns the position
 * after the closing quote, and the decoded value (a slice when unescaped). */
/* The first '"' or backslash in [p, end), or end. Sixteen bytes at a time:
 * string scanning is most of what parsing a record costs. */
static inline const char *find_special(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
        if (m)
            return p + __builtin_ctz((unsigned)m);
        p += 16;
    }
#endif
    while (p < end && *p != '"' && *p != '\\')
        p++;
    return p;
}

static const char *parse_string(struct json_worker *w, const char *p, const char *end, const char **val,
                                uint32_t *vlen)
{
    const char *start = p;
    p = find_special(p, end);
    if (p < end && *p == '"') {
        *val = start;
        *vlen = (uint32_t)(p - start);
        return p + 1;
    }
    /* escapes: find the end, then decode into scratch */
    const char *q = p;
    while (q < end && *q != '"') {
        q += 2;   /* the backslash and the character it escapes */
        if (q < end)
            q = find_special(q, end);
    }
    if (q >= end) {
        jerr(w, start, "unterminated string");
        return NULL;
    }
    char *out = w->sink->scratch(w->sink->ctx, (size_t)(q - start) + 1);
    size_t n = (size_t)(p - start);
    memcpy(out, start, n);
    while (p < q) {
        if (*p != '\\') {
            const char *run = memchr(p, '\\', (size_t)(q - p));
            size_t k = run ? (size_t)(run - p) : (size_t)(q - p);
            memcpy(out + n, p, k);
            n += k;
            p += k;
            continue;
        }
        p++;
        char c = *p++;
        switch (c) {
        case '"': out[n++] = '"'; break;
        case '\\': out[n++] = '\\'; break;
        case '/': out[n++] = '/'; break;
        case 'b': out[n++] = '\b'; break;
        case 'f': out[n++] = '\f'; break;
        case 'n': out[n++] = '\n'; break;
        case 'r': out[n++] = '\r'; break;
        case 't': out[n++] = '\t'; break;
        case 'u': {
            if (q - p < 4) {
                jerr(w, p, "bad \\u escape");
                return NULL;
            }
            int h0 = hexval(p[0]), h1 = hexval(p[1]), h2 = hexval(p[2]), h3 = hexval(p[3]);
            if (h0 < 0 || h1 < 0 || h2 < 0 || h3 < 0) {
                jerr(w, p, "bad \\u escape");
                return NULL;
            }
            uint32_t cp = (uint32_t)(h0 << 12 | h1 << 8 | h2 << 4 | h3);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && q - p >= 6 && p[0] == '\\' && p[1] == 'u') {
                int l0 = hexval(p[2]), l1 = hexval(p[3]), l2 = hexval(p[4]), l3 = hexval(p[5]);
                uint32_t lo = (l0 < 0 || l1 < 0 || l2 < 0 || l3 < 0) ? 0 : (uint32_t)(l0 << 12 | l1 << 8 | l2 << 4 | l3);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD;   /* a lone surrogate */
            n += utf8_encode(cp, out + n);
            break;
        }
        default:
            jerr(w, p - 1, "bad escape in string");
            return NULL;
        }
    }
    out[n] = 0;
    *val = out;
    *vlen = (uint32_t)n;
    return q + 1;
}

static void emit(struct json_worker *w, const char *val, uint32_t vlen, uint8_t type)
{
    if (w->plen == 0)
        return;   /* a scalar at the top level: nothing to name it */
    const struct path_entry *e = resolve(w);
    if (!w->sink->field(w->sink->ctx, e->name, e->name_len, e->id, val, vlen, type))
        w->too_many = true;
}

static const char *parse_value(struct json_worker *w, const char *p, const char *end, int depth);

/* Appends ".key" (or "_key" after #attributes; nothing for #text). Returns
 * the previous path length to restore, or -1 when the path is too long. */
static long path_push(struct json_worker *w, const char *key, uint32_t klen, bool *was_attr)
{
    size_t old = w->plen;
    *was_attr = w->after_attributes;
    if (klen == 11 && memcmp(key, "#attributes", 11) == 0) {
        w->after_attributes = true;
        return (long)old;
    }
    if (klen == 5 && memcmp(key, "#text", 5) == 0) {
        w->after_attributes = false;
        return (long)old;
    }
    if (w->plen + klen + 1 >= sizeof(w->path))
        return -1;
    if (w->plen)
        w->path[w->plen++] = w->after_attributes ? '_' : '.';
    memcpy(w->path + w->plen, key, klen);
    w->plen += klen;
    w->after_attributes = false;
    return (long)old;
}

/* {"Name": "X", "#text": "v"} (xmltodict's rendering of <Data Name="X">v</Data>)
 * becomes the field X. */
static const char *try_named_value(struct json_worker *w, const char *p, const char *end, bool *done)
{
    *done = false;
    const char *q = skip_ws(p, end);
    const char *name = NULL, *val = NULL;
    uint32_t nlen = 0, vlen = 0;
    uint8_t vtype = STOAT_V_STRING;
    for (int k = 0; k < 2; k++) {
        if (q >= end || *q != '"')
            return p;
        const char *key;
        uint32_t klen;
        q = parse_string(w, q + 1, end, &key, &klen);
        if (!q)
            return p;
        q = skip_ws(q, end);
        if (q >= end || *q != ':')
            return p;
        q = skip_ws(q + 1, end);
        bool is_name = (klen == 4 && memcmp(key, "Name", 4) == 0) || (klen == 5 && memcmp(key, "@Name", 5) == 0);
        bool is_text = klen == 5 && memcmp(key, "#text", 5) == 0;
        if (!is_name && !is_text)
            return p;
        if (q < end && *q == '"') {
            const char *v;
            uint32_t vl;
            q = parse_string(w, q + 1, end, &v, &vl);
            if (!q)
                return p;
            if (is_name) {
                name = v;
                nlen = vl;
            } else {
                val = v;
                vlen = vl;
            }
        } else if (is_text && q < end && (*q == '-' || (*q >= '0' && *q <= '9'))) {
            const char *st = q;
            while (q < end && (*q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
                q++;
            val = st;
            vlen = (uint32_t)(q - st);
            vtype = STOAT_V_NUMBER;
        } else {
            return p;
        }
        q = skip_ws(q, end);
        if (k == 0) {
            if (q >= end || *q != ',')
                return p;
            q = skip_ws(q + 1, end);
        }
    }
    if (q >= end || *q != '}' || !name || !val)
        return p;
    /* emit under the name alone, as <Data Name="X"> would be */
    size_t saved = w->plen;
    bool saved_attr = w->after_attributes;
    if (nlen >= sizeof(w->path))
        return p;
    memcpy(w->path, name, nlen);
    w->plen = nlen;
    w->after_attributes = false;
    emit(w, val, vlen, vtype);
    w->plen = saved;
    w->after_attributes = saved_attr;
    *done = true;
    return q + 1;
}

static const char *parse_object(struct json_worker *w, const char *p, const char *end, int depth)
{
    /* p is after '{' */
    bool named;
    const char *after = try_named_value(w, p, end, &named);
    if (named)
        return after;
    p = skip_ws(p, end);
    if (p < end && *p == '}')
        return p + 1;
    for (;;) {
        p = skip_ws(p, end);
        if (p >= end || *p != '"') {
            jerr(w, p, "expected a quoted name");
            return NULL;
        }
        const char *key;
        uint32_t klen;
        p = parse_string(w, p + 1, end, &key, &klen);
        if (!p)
            return NULL;
        p = skip_ws(p, end);
        if (p >= end || *p != ':') {
            jerr(w, p, "expected ':'");
            return NULL;
        }
        bool was_attr;
        long old = path_push(w, key, klen, &was_attr);
        if (old < 0) {
            jerr(w, key, "field name path too long");
            return NULL;
        }
        p = parse_value(w, skip_ws(p + 1, end), end, depth + 1);
        w->plen = (size_t)old;
        w->after_attributes = was_attr;
        if (!p)
            return NULL;
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p++;
            continue;
        }
        if (p < end && *p == '}')
            return p + 1;
        jerr(w, p, "expected ',' or '}'");
        return NULL;
    }
}

static const char *parse_value(struct json_worker *w, const char *p, const char *end, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        jerr(w, p, "nesting deeper than 64 levels");
        return NULL;
    }
    if (p >= end) {
        jerr(w, p, "unexpected end of record");
        return NULL;
    }
    switch (*p) {
    case '"': {
        const char *v;
        uint32_t vl;
        p = parse_string(w, p + 1, end, &v, &vl);
        if (p)
            emit(w, v, vl, STOAT_V_STRING);
        return p;
    }
    case '{':
        return parse_object(w, p + 1, end, depth);
    case '[': {
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']')
            return p + 1;
        for (;;) {
            p = parse_value(w, skip_ws(p, end), end, depth + 1);
            if (!p)
                return NULL;
            p = skip_ws(p, end);
            if (p < end && *p == ',') {
                p++;
                continue;
            }
            if (p < end && *p == ']')
                return p + 1;
            jerr(w, p, "expected ',' or ']'");
            return NULL;
        }
    }
    case 't':
        if (end - p >= 4 && memcmp(p, "true", 4) == 0) {
            emit(w, "true", 4, STOAT_V_BOOL);
            return p + 4;
        }
        break;
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            emit(w, "false", 5, STOAT_V_BOOL);
            return p + 5;
        }
        break;
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            emit(w, "", 0, STOAT_V_NULL);
            return p + 4;
        }
        break;
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            const char *st = p;
            p++;
            while (p < end && ((*p >= '0' && *p <= '9') || *p == '.' || *p == 'e' || *p == 'E' || *p == '+' ||
                               *p == '-'))
                p++;
            emit(w, st, (uint32_t)(p - st), STOAT_V_NUMBER);
            return p;
        }
        break;
    }
    jerr(w, p, "unexpected character");
    return NULL;
}

static uint64_t line_at(const struct unit *u, const char *from, uint64_t from_line, const char *at)
{
    (void)u;
    return from_line + count_lines(from, (size_t)(at - from));
}

/* One record: [p, end). Returns where parsing stopped (end of the value). */
static const char *parse_record(struct json_worker *w, const char *p, const char *end, uint64_t record,
                                uint64_t line)
{
    const struct event_sink *s = w->sink;
    w->err = NULL;
    w->plen = 0;
    w->after_attributes = false;
    w->too_many = false;
    s->begin(s->ctx, record, line, w->u->file_offset + (uint64_t)(p - w->u->data));
    const char *q;
    if (*p != '{') {
        jerr(w, p, "a record must be a JSON object");
        q = NULL;
    } else {
        q = parse_object(w, p + 1, end, 1);
    }
    if (!q) {
        char msg[160];
        snprintf(msg, sizeof(msg), "malformed JSON, record skipped: %s", w->err ? w->err : "parse error");
        uint64_t at = line + (w->err_at && w->err_at > p && w->err_at <= end ? count_lines(p, (size_t)(w->err_at - p)) : 0);
        s->bad(s->ctx, at, 0, false, false, msg);
        w->u->skipped++;
        return NULL;
    }
    if (w->too_many) {
        s->bad(s->ctx, line, 0, false, true, "record has too many fields; the rest were not read");
    }
    s->end(s->ctx);
    w->u->events++;
    return q;
}

static void json_parse(void *ws, struct unit *u, const struct event_sink *sink)
{
    struct json_worker *w = ws;
    w->sink = sink;
    w->u = u;
    const char *p = u->data, *end = u->data + u->len;
    uint64_t line = u->first_line, record = 0;   /* records are counted within the unit */
    if (u->mode == JM_LINES) {
        while (p < end) {
            const char *nl = memchr(p, '\n', (size_t)(end - p));
            const char *le = nl ? nl : end;
            const char *s = skip_ws(p, le);
            const char *e = le;
            while (e > s && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            if (s < e) {
                if (p == u->data && line == 1 && e - s >= 3 && (unsigned char)s[0] == 0xEF &&
                    (unsigned char)s[1] == 0xBB && (unsigned char)s[2] == 0xBF)
                    s += 3;   /* byte order mark */
                u->records++;
                record++;
                const char *q = parse_record(w, s, e, record, line);
                if (q) {
                    q = skip_ws(q, e);
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
        p = skip_ws(p, end);
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
        const char *q = parse_record(w, p, end, record, at);
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
