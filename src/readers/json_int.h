/* Internals shared by the JSON reader's files, from the ground up:
 * json_read.c (the reading thread: record boundaries), json_names.c (the
 * tree of names and their Sigma names), json_parse.c (a worker: one record,
 * scanned and parsed) and json.c (a worker's loop over a unit, and the
 * reader's registry entry). Each uses only what lies below it.
 *
 * Why the worker's state and the names tree are declared here: the parser
 * walks the tree node by node and tries each node's guess of the next key
 * (json_guess_holds, inline: it runs for nearly every key), while
 * json_names.c builds the nodes; both need the node's layout.
 */
#ifndef STOAT_READERS_JSON_INT_H
#define STOAT_READERS_JSON_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "readers/reader.h"
#include "util/mem.h"
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#define JSON_MAX_DEPTH 64
#define PATH_MAX_BYTES 2048
/* What a worker caches of the names it has seen (tests may build with less) */
#ifndef PATH_CACHE_MAX
#define PATH_CACHE_MAX 65536 /* nodes */
#endif
#ifndef PATH_CACHE_BYTES
#define PATH_CACHE_BYTES (32u << 20) /* their keys and paths */
#endif

enum json_mode {
    JM_LINES = 1,
    JM_OBJECTS = 2,
    JM_RANGE = 3 /* JSON lines, a byte range of the plain file the worker reads itself */
};

/* ------------------------------------------------------- reading thread (json_read.c) */

bool json_probe(const unsigned char *h, size_t n);
int json_open(struct input_file *f, struct input *in, char *why, size_t whylen);
enum fill_result json_fill(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen);
void json_close(struct input_file *f);
void json_release(struct input_file *f);

/* A worker: reads a JM_RANGE unit's bytes into u->data (u->len, and
 * u->file_offset the offset of data[0]): from the byte before its range, to
 * see whether a line starts at its first byte, to the end of the last line
 * that starts in it. *at and *range_end: where the range starts and ends in
 * u->data. When that last line is longer than RECORD_MAX_BYTES, the data is
 * cut where it starts and *long_line is set. False when nothing could be read
 * (u->note says why, u->read_failed is set). */
bool json_range_load(struct unit *u, size_t *at, size_t *range_end, bool *long_line);

/* Newlines in [p, p + n). Pretty-printed records have one every few dozen
 * bytes, so they are counted sixteen bytes at a time; in JSON lines they are
 * a record apart, and memchr, which jumps from one to the next faster than
 * the count reads, is used (sparse). */
uint64_t json_count_lines(const char *p, size_t n, bool sparse);

/* ------------------------------------------------------------ names (json_names.c) */

/* The tree of the names a worker has seen (json_names.c says why). */
/* Whether a value under a node is handed on. */
enum node_state {
    NS_UNRESOLVED, /* the Sigma name and id are not known yet */
    NS_READY,
    NS_SILENT, /* an empty path (a value at the top level): nothing to name it */
};

enum key_kind {
    KK_PLAIN,
    KK_NAME,       /* Name or @Name: an object that starts with it may be a named value */
    KK_ATTRIBUTES, /* #attributes: no component; its children join with '_' */
    KK_TEXT,       /* #text: no component; may start a named value too */
};

struct jnode {
    uint64_t head, mask;      /* the guess test: first 8 bytes of qkey, and which of them count */
    uint64_t tail, tail_mask; /* the last 8 bytes of qkey; for a short key, the head again */
    const char *key;          /* decoded; cached nodes: in qkey */
    const char *qkey;         /* cached nodes: "key": as in compact JSON, zero-padded to 8 bytes */
    const char *path;         /* cached nodes: the flattened path */
    struct jnode *parent;
    /* guesses: first child, next sibling. Only cached nodes are stored
     * there; a node that is not cached starts with NULL in both and is
     * never guessed from (see parse_object). */
    struct jnode *first, *next;
    struct ev_field_name field; /* the Sigma name and its id, once resolved */
    uint64_t hash;
    uint32_t klen, qlen, plen;
    uint32_t need;    /* bytes the guess test reads: max(qlen, 8) */
    uint32_t tail_at; /* where the tail word starts: max(qlen, 8) - 8 */
    /* the guess test sixteen bytes at a time, when the record has them:
     * max(qlen, 16), or UINT32_MAX for a key the words test refuses (and for
     * a node that is never a guess: the roots, a node not cached) */
    uint32_t need16;
    uint32_t qv_ignore; /* the compare mask's bits past qlen: set */
    uint8_t qv[16];     /* the first 16 bytes of qkey, zero-padded */
    /* the same for ',' and qkey (json_comma_guess_holds): max(qlen + 1, 16)
     * or UINT32_MAX, and ',' and the first 15 bytes of qkey */
    uint32_t cneed;
    uint32_t cv_ignore;
    uint8_t cv[16];
    uint32_t serial; /* seeds the children's hashes; 0: not cached */
    uint8_t kind;    /* enum key_kind */
    uint8_t state;   /* enum node_state */
    bool attr;       /* children join with '_' (after #attributes) */
    bool name_plain; /* field.name, once resolved, as ev_field.name_plain */
};

/* What the parser keeps of an object while it reads one nested in it: it
 * loops into nested objects rather than calling itself, one level a depth */
struct json_level {
    struct jnode *obj, *child; /* the object, and its member whose value is the nested one */
    struct jnode tmp;          /* a member that is not cached */
};

struct json_worker {
    const struct mapping *map;
    struct jnode root;    /* the record; its children are the top-level names */
    struct jnode named;   /* parent of the X of {"Name": X, "#text": v}: the path is X alone */
    struct jnode **table; /* cached nodes by (parent, key) */
    size_t table_cap, nnodes;
    size_t cache_bytes; /* held by the nodes, their keys and paths */
    uint32_t serials;
    struct arena mem;          /* cached nodes, their keys and paths */
    char path[PATH_MAX_BYTES]; /* the path of a node that is not cached, built to resolve it */
    char *dec;                 /* escaped strings are decoded here first */
    size_t dec_cap;
    const struct event_sink *sink;
    struct ev_field *fs;     /* the record's fields, handed to the sink at its end */
    struct ev_field *fs_at;  /* where the next goes */
    struct ev_field *fs_end; /* fs + room, at most EVENT_MAX_FIELDS */
    struct unit *u;
    const char *err; /* first parse error of the record */
    const char *err_at;
    bool too_many;
    bool compact;                                 /* the record has no blanks after its first key (json_parse.c) */
    struct json_level levels[JSON_MAX_DEPTH + 1]; /* by depth (the record is 1) */
};

static inline uint64_t json_load64(const char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof(v));
    return v;
}

#ifdef __SSE2__
/* The rest of a key longer than a block, its first from bytes matched: the
 * blocks from there up to the last, which ends where qkey does; both sides
 * hold qlen bytes (g->qlen > 16, from <= 16). */
static inline bool json_key_rest_holds(const struct jnode *g, const char *p, uint32_t from)
{
    for (uint32_t i = from;; i += 16) {
        uint32_t at = i + 16 < g->qlen ? i : g->qlen - 16;
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)(p + at));
        __m128i k = _mm_loadu_si128((const __m128i *)(const void *)(g->qkey + at));
        if (_mm_movemask_epi8(_mm_cmpeq_epi8(a, k)) != 0xFFFF)
            return false;
        if (at == g->qlen - 16)
            return true;
    }
}
#endif

/* Does the input at p hold g's key, quoted, and a colon? Only keys without
 * '"' or '\' can be told from raw bytes; for the others mask is 0 and head
 * 1, which never holds. */
static inline bool json_guess_holds(const struct jnode *g, const char *p, const char *end)
{
#ifdef __SSE2__
    /* most keys (qlen <= 16) in one compare of sixteen bytes; the words
     * below when the record has fewer left */
    if (__builtin_expect((size_t)(end - p) >= g->need16, 1)) {
        __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
        __m128i k = _mm_loadu_si128((const __m128i *)(const void *)g->qv);
        if (((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, k)) | g->qv_ignore) != 0xFFFFu)
            return false;
        return __builtin_expect(g->qlen <= 16, 1) || json_key_rest_holds(g, p, 16);
    }
#endif
    if ((size_t)(end - p) < g->need)
        return false; /* the end of the record is near: the slow way */
    /* the first and last words cover keys of up to 13 bytes */
    if ((json_load64(p) & g->mask) != g->head || (json_load64(p + g->tail_at) & g->tail_mask) != g->tail)
        return false;
    /* longer keys (DestinationHostname): the words between, a word at a
     * time up to the tail word, which the last may overlap; both sides hold
     * qlen bytes, so no load passes them. Inline, not memcmp: mostly one word */
    for (uint32_t i = 8; i < g->tail_at; i += 8)
        if (json_load64(p + i) != json_load64(g->qkey + i))
            return false;
    return true;
}

/* Does the input at p hold a comma, then g's key, quoted, and a colon? The
 * comma and the next key of a compact record in one compare (a block, then
 * the rest of a longer key); false where SSE2 is not there (the caller then
 * tries the comma and json_guess_holds). */
static inline bool json_comma_guess_holds(const struct jnode *g, const char *p, const char *end)
{
#ifdef __SSE2__
    if ((size_t)(end - p) < g->cneed)
        return false;
    __m128i a = _mm_loadu_si128((const __m128i *)(const void *)p);
    __m128i k = _mm_loadu_si128((const __m128i *)(const void *)g->cv);
    if (((unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(a, k)) | g->cv_ignore) != 0xFFFFu)
        return false;
    return __builtin_expect(g->qlen <= 15, 1) || json_key_rest_holds(g, p + 1, 15);
#else
    (void)g, (void)p, (void)end;
    return false;
#endif
}

/* What a key is to the flattening: a plain name, Name, #attributes, #text. */
enum key_kind json_key_kind(const char *key, uint32_t klen);
/* The child of parent named key: a cached node, or *tmp filled in when the
 * parent is not cached or the cache is full. NULL when the path would be too
 * long. Under w->named every key is a plain component. */
struct jnode *json_child_of(struct json_worker *w, struct jnode *parent, const char *key, uint32_t klen,
                            struct jnode *tmp);
/* Works out n's Sigma name and id. A node that is not cached has its path
 * built from its chain of keys up to the nearest cached ancestor, and a name
 * taken from that path is copied into the event scratch: the engine keeps the
 * pointer until the end of the event. */
void json_resolve(struct json_worker *w, struct jnode *n);

/* ------------------------------------------------------------ records (json_parse.c) */

/* p past any blanks: for the loop over a unit (the parser inlines its own). */
const char *json_skip_ws(const char *p, const char *end);

/* One record: [p, end). Returns where parsing stopped (end of the value). */
const char *json_parse_record(struct json_worker *w, const char *p, const char *end, uint64_t record, uint64_t line);

#endif
