/* The JSON reader: JSON lines, JSON arrays and concatenated (pretty-printed)
 * objects, detected from the first object.
 *
 * The reading thread only finds record boundaries: in line mode the last
 * newline of a block (memrchr), otherwise a string-aware brace count. Workers
 * parse records with a small recursive-descent parser (depth capped) that
 * flattens nested names into Sigma field names as the mapping file says:
 * "Event.System.Provider.#attributes.Name" becomes "Provider_Name". Each
 * worker keeps a tree of the names it has seen, so a path and its Sigma name
 * are worked out once; and as the records of a log name their fields in the
 * same order, the parser first checks the input against the key that came
 * next last time, which for most keys replaces scanning and hashing them by
 * comparing a word or two (see struct jnode). String values without escapes
 * are slices of the unit buffer; escaped ones are decoded into the event
 * scratch. */
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "readers/reader.h"
#include "util/text.h"

#define JSON_MAX_DEPTH 64
#define PATH_MAX_BYTES 2048
/* What a worker caches of the names it has seen (tests may build with less) */
#ifndef PATH_CACHE_MAX
#define PATH_CACHE_MAX 65536            /* nodes */
#endif
#ifndef PATH_CACHE_BYTES
#define PATH_CACHE_BYTES (32u << 20)    /* their keys and paths */
#endif

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

/* Newlines in [p, p + n). Pretty-printed records have one every few dozen
 * bytes, so they are counted sixteen bytes at a time; in JSON lines they are
 * a record apart, and memchr, which jumps from one to the next faster than
 * the count reads, is used (sparse). */
static uint64_t count_lines(const char *p, size_t n, bool sparse)
{
    uint64_t c = 0;
    if (sparse) {
        const char *end = p + n;
        while ((p = memchr(p, '\n', (size_t)(end - p)))) {
            c++;
            p++;
        }
        return c;
    }
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
#define NL16(at) _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + (at))), nl)
    while (n >= 64) {
        /* per-byte counters (four a round), summed before any can pass 255 */
        __m128i acc = zero;
        for (int k = 0; k < 63 && n >= 64; k++, p += 64, n -= 64)
            acc = _mm_sub_epi8(acc, _mm_add_epi8(_mm_add_epi8(NL16(0), NL16(16)), _mm_add_epi8(NL16(32), NL16(48))));
        __m128i sum = _mm_sad_epu8(acc, zero);
        c += (uint64_t)_mm_cvtsi128_si32(sum) + (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(sum, 8));
    }
#undef NL16
#endif
    for (; n; p++, n--)
        c += *p == '\n';
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
                s->line += count_lines(u->data, u->len, s->mode == JM_LINES);
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
    s->line += count_lines(u->data, u->len, s->mode == JM_LINES);
    s->offset += u->len;
    return 1;
}

/* ------------------------------------------------------------ worker */

/* The names of a record form a tree: "Event" -> "System" -> "Provider" ...
 * Each worker keeps the nodes of that tree it has seen, keyed by (parent,
 * key), so a field costs a look-up of its own key rather than a hash of its
 * whole dotted path, and the flattened path and its Sigma name are worked out
 * once per node. Records of one log repeat their names in the same order, so
 * a node also remembers the key that came first under it and the key that
 * followed it last time; the parser tries that guess against the input bytes
 * ("key": with its quotes and colon) first and, when it holds (most keys),
 * needs neither a scan for the closing quote nor a hash. */

/* Whether a value under a node is handed on. */
enum node_state {
    NS_UNRESOLVED,   /* the Sigma name and id are not known yet */
    NS_READY,
    NS_SILENT,       /* an empty path (a value at the top level): nothing to name it */
};

enum key_kind {
    KK_PLAIN,
    KK_NAME,         /* Name or @Name: an object that starts with it may be a named value */
    KK_ATTRIBUTES,   /* #attributes: no component; its children join with '_' */
    KK_TEXT,         /* #text: no component; may start a named value too */
};

struct jnode {
    uint64_t head, mask;          /* the guess test: first 8 bytes of qkey, and which of them count */
    uint64_t tail, tail_mask;     /* the last 8 bytes of qkey; for a short key, the head again */
    const char *key;              /* decoded; cached nodes: in qkey */
    const char *qkey;             /* cached nodes: "key": as in compact JSON, zero-padded to 8 bytes */
    const char *path;             /* cached nodes: the flattened path */
    struct jnode *parent;
    /* guesses: first child, next sibling. Only cached nodes are stored
     * there; a node that is not cached starts with NULL in both and is
     * never guessed from (see parse_object). */
    struct jnode *first, *next;
    const char *name;             /* the Sigma name, once resolved */
    uint64_t hash;
    uint32_t klen, qlen, plen;
    uint32_t need;                /* bytes the guess test reads: max(qlen, 8) */
    uint32_t tail_at;             /* where the tail word starts: max(qlen, 8) - 8 */
    uint32_t serial;              /* seeds the children's hashes; 0: not cached */
    uint32_t name_len, id;
    uint8_t kind;                 /* enum key_kind */
    uint8_t state;                /* enum node_state */
    bool attr;                    /* children join with '_' (after #attributes) */
};

struct json_worker {
    const struct mapping *map;
    struct jnode root;            /* the record; its children are the top-level names */
    struct jnode named;           /* parent of the X of {"Name": X, "#text": v}: the path is X alone */
    struct jnode **table;         /* cached nodes by (parent, key) */
    size_t table_cap, nnodes;
    size_t cache_bytes;           /* held by the nodes, their keys and paths */
    uint32_t serials;
    struct arena mem;             /* cached nodes, their keys and paths */
    char path[PATH_MAX_BYTES];    /* the path of a node that is not cached, built to resolve it */
    char *dec;                    /* escaped strings are decoded here first */
    size_t dec_cap;
    const struct event_sink *sink;
    bool (*field)(void *ctx, const char *name, uint32_t name_len, uint32_t id, const char *val, uint32_t val_len,
                  uint8_t type);   /* the sink's, called per value */
    void *ctx;
    struct unit *u;
    const char *err;              /* first parse error of the record */
    const char *err_at;
    bool too_many;
};

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

static enum key_kind key_kind(const char *key, uint32_t klen)
{
    if (klen == 11 && memcmp(key, "#attributes", 11) == 0)
        return KK_ATTRIBUTES;
    if (klen == 5 && memcmp(key, "#text", 5) == 0)
        return KK_TEXT;
    if ((klen == 4 && memcmp(key, "Name", 4) == 0) || (klen == 5 && memcmp(key, "@Name", 5) == 0))
        return KK_NAME;
    return KK_PLAIN;
}

static inline uint64_t load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

/* Does the input at p hold g's key, quoted, and a colon? Only keys without
 * '"' or '\' can be told from raw bytes; for the others mask is 0 and head
 * 1, which never holds. */
static inline bool guess_holds(const struct jnode *g, const char *p, const char *end)
{
    if ((size_t)(end - p) < g->need)
        return false;   /* the end of the record is near: the slow way */
    /* the first and last words cover keys of up to 13 bytes */
    if ((load64(p) & g->mask) != g->head || (load64(p + g->tail_at) & g->tail_mask) != g->tail)
        return false;
    return g->qlen <= 16 || memcmp(p + 8, g->qkey + 8, g->qlen - 16) == 0;
}

static void cache_insert(struct json_worker *w, struct jnode *n)
{
    if ((w->nnodes + 1) * 2 > w->table_cap) {
        size_t nc = w->table_cap * 2;
        struct jnode **nt = xcalloc(nc, sizeof(*nt));
        for (size_t i = 0; i < w->table_cap; i++) {
            if (!w->table[i])
                continue;
            size_t j = w->table[i]->hash & (nc - 1);
            while (nt[j])
                j = (j + 1) & (nc - 1);
            nt[j] = w->table[i];
        }
        free(w->table);
        w->table = nt;
        w->table_cap = nc;
    }
    size_t mask = w->table_cap - 1, i = n->hash & mask;
    while (w->table[i])
        i = (i + 1) & mask;
    w->table[i] = n;
    w->nnodes++;
}

/* The child of parent named key: a cached node, or *tmp filled in when the
 * parent is not cached or the cache is full. NULL when the path would be too
 * long. Under w->named every key is a plain component. */
static struct jnode *child_of(struct json_worker *w, struct jnode *parent, const char *key, uint32_t klen,
                              struct jnode *tmp)
{
    bool named = parent == &w->named;
    enum key_kind kind = named ? KK_PLAIN : key_kind(key, klen);
    bool component = kind == KK_PLAIN || kind == KK_NAME;
    if (component && !named && parent->plen + klen + 1 >= PATH_MAX_BYTES)
        return NULL;
    uint64_t h = 0;
    if (parent->serial) {
        h = hash_bytes(key, klen, parent->serial);
        size_t mask = w->table_cap - 1;
        for (size_t i = h & mask; w->table[i]; i = (i + 1) & mask) {
            struct jnode *e = w->table[i];
            if (e->hash == h && e->parent == parent && e->klen == klen && memcmp(e->key, key, klen) == 0)
                return e;
        }
    }
    *tmp = (struct jnode){
        .key = key,
        .parent = parent,
        .head = 1,
        .klen = klen,
        .qlen = klen + 3,
        .plen = !component ? parent->plen : parent->plen ? parent->plen + 1 + klen : klen,
        .kind = (uint8_t)kind,
        .attr = kind == KK_ATTRIBUTES,
    };
    tmp->state = tmp->plen ? NS_UNRESOLVED : NS_SILENT;
    /* a hostile input with endless distinct names: stop caching */
    if (!parent->serial || w->nnodes >= PATH_CACHE_MAX || w->cache_bytes >= PATH_CACHE_BYTES)
        return tmp;
    w->cache_bytes += sizeof(struct jnode) + tmp->qlen + 8 + tmp->plen;
    struct jnode *n = arena_alloc(&w->mem, sizeof(*n));
    *n = *tmp;
    n->serial = ++w->serials;
    n->hash = h;
    char *q = arena_zalloc(&w->mem, n->qlen < 8 ? 8 : n->qlen);
    q[0] = '"';
    memcpy(q + 1, key, klen);
    q[klen + 1] = '"';
    q[klen + 2] = ':';
    n->qkey = q;
    n->key = q + 1;
    if (!memchr(key, '"', klen) && !memchr(key, '\\', klen)) {
        unsigned char ones[8] = {0};
        memset(ones, 0xFF, n->qlen < 8 ? n->qlen : 8);
        memcpy(&n->mask, ones, sizeof(n->mask));
        n->head = load64(q) & n->mask;
    }
    n->need = n->qlen < 8 ? 8 : n->qlen;
    n->tail_at = n->need - 8;
    n->tail_mask = n->tail_at ? ~(uint64_t)0 : n->mask;
    n->tail = load64(q + n->tail_at) & n->tail_mask;
    if (!component) {
        n->path = parent->path;
    } else if (!parent->plen) {
        n->path = n->key;   /* the key alone */
    } else {
        char *path = arena_alloc(&w->mem, n->plen);
        memcpy(path, parent->path, parent->plen);
        path[parent->plen] = parent->attr ? '_' : '.';
        memcpy(path + parent->plen + 1, key, klen);
        n->path = path;
    }
    cache_insert(w, n);
    return n;
}

/* Works out n's Sigma name and id. A node that is not cached has its path
 * built from its chain of keys up to the nearest cached ancestor, and a name
 * taken from that path is copied into the event scratch: the engine keeps the
 * pointer until the end of the event. */
static void resolve(struct json_worker *w, struct jnode *n)
{
    const char *path = n->path;
    if (!n->serial) {
        const struct jnode *a = n;
        for (; !a->serial; a = a->parent) {
            if (a->kind == KK_ATTRIBUTES || a->kind == KK_TEXT)
                continue;
            uint32_t at = a->plen - a->klen;
            memcpy(w->path + at, a->key, a->klen);
            if (a->parent->plen)
                w->path[at - 1] = a->parent->attr ? '_' : '.';
        }
        memcpy(w->path, a->path, a->plen);
        path = w->path;
    }
    const char *name;
    size_t nlen;
    map_path(w, path, n->plen, &name, &nlen);
    if (!n->serial && name >= w->path && name < w->path + n->plen) {
        char *copy = w->sink->scratch(w->sink->ctx, nlen + 1);
        memcpy(copy, name, nlen);
        copy[nlen] = 0;
        name = copy;
    }
    n->name = name;
    n->name_len = (uint32_t)nlen;
    n->id = w->sink->field_id(w->sink->ctx, name, nlen);
    n->state = NS_READY;
}

static inline bool is_blank(char c)
{
    return c == ' ' || c == '\n' || c == '\r' || c == '\t';
}

/* The rest of a run of blanks (p is on its second byte): the indentation
 * of pretty-printed JSON, sixteen bytes at a time. */
static __attribute__((noinline)) const char *skip_blank_run(const char *p, const char *end)
{
#ifdef __SSE2__
    const __m128i sp = _mm_set1_epi8(' '), nl = _mm_set1_epi8('\n'), cr = _mm_set1_epi8('\r'),
                  tab = _mm_set1_epi8('\t');
    while (end - p >= 16) {
        __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i b = _mm_or_si128(_mm_or_si128(_mm_cmpeq_epi8(v, sp), _mm_cmpeq_epi8(v, nl)),
                                 _mm_or_si128(_mm_cmpeq_epi8(v, cr), _mm_cmpeq_epi8(v, tab)));
        unsigned m = (unsigned)_mm_movemask_epi8(b) ^ 0xFFFFu;   /* the bytes that are not blank */
        if (m)
            return p + __builtin_ctz(m);
        p += 16;
    }
#endif
    while (p < end && is_blank(*p))
        p++;
    return p;
}

static inline const char *skip_ws(const char *p, const char *end)
{
    if (p < end && is_blank(*p)) {
        p++;
        if (p < end && is_blank(*p))
            p = skip_blank_run(p, end);
    }
    return p;
}

/* Is the byte at p (after any blanks) c? Records are mostly compact, so the
 * byte itself is tried first and blanks are skipped only when it is not c. */
static inline bool expect(const char **p, const char *end, char c)
{
    if (*p < end && **p == c)
        return true;
    *p = skip_ws(*p, end);
    return *p < end && **p == c;
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

/* The closing quote of the string that starts at start, as the escapes
 * leave it (a backslash and the byte after it are skipped), or NULL. */
static const char *string_end(const char *start, const char *end)
{
    const char *q = find_special(start, end);
    while (q < end && *q != '"') {
        q += 2;   /* the backslash and the character it escapes */
        if (q < end)
            q = find_special(q, end);
    }
    return q < end ? q : NULL;
}

/* The rest of parse_string when the string has escapes (or no end): p is
 * the first backslash (or end). The value is decoded in one pass into the
 * worker's buffer, then copied into the event scratch at its size; a
 * malformed string is reported as it was by a pass that found its end first:
 * "unterminated" wins over a bad escape. Out of line: most strings have no
 * escapes. */
static __attribute__((noinline)) const char *parse_escaped(struct json_worker *w, const char *start, const char *p,
                                                           const char *end, const char **val, uint32_t *vlen)
{
    /* the decoded text is never longer than the input it comes from; 16
     * more for the stores below */
    size_t need = (size_t)(end - start) + 16;
    if (w->dec_cap < need) {
        w->dec_cap = need > 2 * w->dec_cap ? need : 2 * w->dec_cap;
        free(w->dec);
        w->dec = xmalloc(w->dec_cap);
    }
    char *out = w->dec;
    size_t n = (size_t)(p - start);
    memcpy(out, start, n);
    const char *bad = NULL, *why = NULL;
    for (;;) {
        if (p >= end)
            break;   /* no closing quote (string_end decides below) */
        if (*p == '"')
            goto done;
        /* a backslash, and the byte it escapes */
        if (end - p < 2)
            break;
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
            /* a quote among the four makes one of them no hex digit */
            int h0 = -1, h1 = -1, h2 = -1, h3 = -1;
            if (end - p >= 4) {
                h0 = hexval(p[0]);
                h1 = hexval(p[1]);
                h2 = hexval(p[2]);
                h3 = hexval(p[3]);
            }
            if (h0 < 0 || h1 < 0 || h2 < 0 || h3 < 0) {
                bad = p;
                why = "bad \\u escape";
                break;
            }
            uint32_t cp = (uint32_t)(h0 << 12 | h1 << 8 | h2 << 4 | h3);
            p += 4;
            if (cp >= 0xD800 && cp <= 0xDBFF && end - p >= 6 && p[0] == '\\' && p[1] == 'u') {
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
            bad = p - 1;
            why = "bad escape in string";
            break;
        }
        if (bad)
            break;
        /* Copy the run up to the next quote or backslash, sixteen bytes at
         * a time while the record has them: the runs are short (path
         * components), so this beats a search and a copy call per run. A
         * store may pass the run by up to 16 bytes: out has room, as n
         * never passes p - start. */
#ifdef __SSE2__
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        for (;;) {
            if (end - p < 16) {
                const char *r = find_special(p, end);
                memcpy(out + n, p, (size_t)(r - p));
                n += (size_t)(r - p);
                p = r;
                break;
            }
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            _mm_storeu_si128((__m128i *)(void *)(out + n), v);
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
            if (m) {
                unsigned k = (unsigned)__builtin_ctz((unsigned)m);
                n += k;
                p += k;
                break;
            }
            n += 16;
            p += 16;
        }
#else
        const char *r = find_special(p, end);
        memcpy(out + n, p, (size_t)(r - p));
        n += (size_t)(r - p);
        p = r;
#endif
    }
    /* malformed: unterminated comes first */
    if (!string_end(start, end))
        jerr(w, start, "unterminated string");
    else
        jerr(w, bad, why);
    return NULL;
done:;
    char *copy = w->sink->scratch(w->sink->ctx, n + 1);
    memcpy(copy, out, n);
    copy[n] = 0;
    *val = copy;
    *vlen = (uint32_t)n;
    return p + 1;
}

/* Parses a string starting after the opening quote. Returns the position
 * after the closing quote, and the decoded value (a slice when unescaped). */
static inline const char *parse_string(struct json_worker *w, const char *p, const char *end, const char **val,
                                       uint32_t *vlen)
{
    const char *q = find_special(p, end);
    if (q < end && *q == '"') {
        *val = p;
        *vlen = (uint32_t)(q - p);
        return q + 1;
    }
    return parse_escaped(w, p, q, end, val, vlen);
}

static inline void emit(struct json_worker *w, struct jnode *n, const char *val, uint32_t vlen, uint8_t type)
{
    if (n->state != NS_READY) {
        if (n->state == NS_SILENT)
            return;
        resolve(w, n);
    }
    if (!w->field(w->ctx, n->name, n->name_len, n->id, val, vlen, type))
        w->too_many = true;
}

static const char *parse_value(struct json_worker *w, struct jnode *n, const char *p, const char *end, int depth);

/* The bytes a number may go on with: digits . e E + - */
static const bool number_byte[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['.'] = 1, ['e'] = 1, ['E'] = 1, ['+'] = 1, ['-'] = 1,
};

static inline const char *scan_number(const char *p, const char *end)
{
    p++;
    while (p < end && number_byte[(unsigned char)*p])
        p++;
    return p;
}

/* {"Name": "X", "#text": "v"} (xmltodict's rendering of <Data Name="X">v</Data>)
 * becomes the field X. The caller has read the object's first key, of kind
 * KK_NAME or KK_TEXT, and its ':'; q is after the colon. Returns where the
 * object ends, or NULL (done false) when it is not that shape. */
static const char *try_named_value(struct json_worker *w, enum key_kind kind, const char *q, const char *end,
                                   bool *done)
{
    *done = false;
    const char *name = NULL, *val = NULL;
    uint32_t nlen = 0, vlen = 0;
    uint8_t vtype = STOAT_V_STRING;
    for (int k = 0;; k++) {
        q = skip_ws(q, end);
        bool is_name = kind == KK_NAME, is_text = kind == KK_TEXT;
        if (!is_name && !is_text)
            return NULL;
        if (q < end && *q == '"') {
            const char *v;
            uint32_t vl;
            q = parse_string(w, q + 1, end, &v, &vl);
            if (!q)
                return NULL;
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
            return NULL;
        }
        q = skip_ws(q, end);
        if (k == 1)
            break;
        /* the second key */
        if (q >= end || *q != ',')
            return NULL;
        q = skip_ws(q + 1, end);
        if (q >= end || *q != '"')
            return NULL;
        const char *key;
        uint32_t klen;
        q = parse_string(w, q + 1, end, &key, &klen);
        if (!q)
            return NULL;
        q = skip_ws(q, end);
        if (q >= end || *q != ':')
            return NULL;
        q++;
        kind = key_kind(key, klen);
    }
    if (q >= end || *q != '}' || !name || !val)
        return NULL;
    if (nlen >= PATH_MAX_BYTES)
        return NULL;
    /* emit under the name alone, as <Data Name="X"> would be */
    struct jnode tmp;
    emit(w, child_of(w, &w->named, name, nlen, &tmp), val, vlen, vtype);
    *done = true;
    return q + 1;
}

static const char *parse_object(struct json_worker *w, struct jnode *obj, const char *p, const char *end, int depth)
{
    /* p is after '{' */
    struct jnode **guess = &obj->first;   /* where the guess for the next key is kept */
    struct jnode tmp;                     /* a child that is not cached */
    /* past the depth cap every value is refused (by parse_value) */
    const char *lim = depth < JSON_MAX_DEPTH ? end : NULL;
    bool first = true;
    for (;;) {
        /* the key: the guess is tried before blanks are skipped, as
         * compact records have none */
        struct jnode *child = *guess;
        bool hit = child && guess_holds(child, p, end);
        if (!hit && p < end && (unsigned char)*p <= ' ') {
            p = skip_ws(p, end);
            hit = child && guess_holds(child, p, end);
        }
        enum key_kind kind;
        const char *key = NULL;
        uint32_t klen = 0;
        if (hit) {
            p += child->qlen;
            kind = (enum key_kind)child->kind;
        } else {
            child = NULL;
            if (first && p < end && *p == '}')
                return p + 1;
            if (p >= end || *p != '"') {
                jerr(w, p, "expected a quoted name");
                return NULL;
            }
            p = parse_string(w, p + 1, end, &key, &klen);
            if (!p)
                return NULL;
            if (!expect(&p, end, ':')) {
                jerr(w, p, "expected ':'");
                return NULL;
            }
            p++;
            kind = key_kind(key, klen);
        }
        if (first) {
            first = false;
            if (kind == KK_NAME || kind == KK_TEXT) {
                bool named;
                const char *after = try_named_value(w, kind, p, end, &named);
                if (named)
                    return after;
            }
        }
        if (!child) {
            child = child_of(w, obj, key, klen, &tmp);
            if (!child) {
                jerr(w, key, "field name path too long");
                return NULL;
            }
            if (child->serial)
                *guess = child;
        }
        /* the value: strings, numbers and objects without going through
         * parse_value; blanks before it skipped only when there are some */
        for (;;) {
            char c = p < lim ? *p : 0;
            if (c == '"') {
                const char *v;
                uint32_t vl;
                p = parse_string(w, p + 1, end, &v, &vl);
                if (!p)
                    return NULL;
                emit(w, child, v, vl, STOAT_V_STRING);
            } else if ((c >= '0' && c <= '9') || c == '-') {
                const char *st = p;
                p = scan_number(p, end);
                emit(w, child, st, (uint32_t)(p - st), STOAT_V_NUMBER);
            } else if (c == '{') {
                p = parse_object(w, child, p + 1, end, depth + 1);
                if (!p)
                    return NULL;
            } else if (p < end && is_blank(*p)) {
                p = skip_ws(p, end);
                continue;
            } else {
                p = parse_value(w, child, p, end, depth + 1);
                if (!p)
                    return NULL;
            }
            break;
        }
        /* a child that is not cached has NULL here, and what the next key
         * writes there is never read: tmp is reused */
        guess = &child->next;
        if (!expect(&p, end, ',')) {
            if (p < end && *p == '}')
                return p + 1;
            jerr(w, p, "expected ',' or '}'");
            return NULL;
        }
        p++;
    }
}

static const char *parse_value(struct json_worker *w, struct jnode *n, const char *p, const char *end, int depth)
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
            emit(w, n, v, vl, STOAT_V_STRING);
        return p;
    }
    case '{':
        return parse_object(w, n, p + 1, end, depth);
    case '[': {
        p = skip_ws(p + 1, end);
        if (p < end && *p == ']')
            return p + 1;
        for (;;) {
            p = parse_value(w, n, skip_ws(p, end), end, depth + 1);
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
            emit(w, n, "true", 4, STOAT_V_BOOL);
            return p + 4;
        }
        break;
    case 'f':
        if (end - p >= 5 && memcmp(p, "false", 5) == 0) {
            emit(w, n, "false", 5, STOAT_V_BOOL);
            return p + 5;
        }
        break;
    case 'n':
        if (end - p >= 4 && memcmp(p, "null", 4) == 0) {
            emit(w, n, "", 0, STOAT_V_NULL);
            return p + 4;
        }
        break;
    default:
        if (*p == '-' || (*p >= '0' && *p <= '9')) {
            const char *st = p;
            p = scan_number(p, end);
            emit(w, n, st, (uint32_t)(p - st), STOAT_V_NUMBER);
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
    return from_line + count_lines(from, (size_t)(at - from), false);
}

/* One record: [p, end). Returns where parsing stopped (end of the value). */
static const char *parse_record(struct json_worker *w, const char *p, const char *end, uint64_t record,
                                uint64_t line)
{
    const struct event_sink *s = w->sink;
    w->err = NULL;
    w->too_many = false;
    s->begin(s->ctx, record, line, w->u->file_offset + (uint64_t)(p - w->u->data));
    const char *q;
    if (*p != '{') {
        jerr(w, p, "a record must be a JSON object");
        q = NULL;
    } else {
        q = parse_object(w, &w->root, p + 1, end, 1);
    }
    if (!q) {
        char msg[160];
        snprintf(msg, sizeof(msg), "malformed JSON, record skipped: %s", w->err ? w->err : "parse error");
        uint64_t at = line + (w->err_at && w->err_at > p && w->err_at <= end ? count_lines(p, (size_t)(w->err_at - p), w->u->mode == JM_LINES) : 0);
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
    w->field = sink->field;
    w->ctx = sink->ctx;
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
