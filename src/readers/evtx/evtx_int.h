/* Internals shared by the EVTX reader's files, from the ground up:
 * evtx_arena.c (the arena, declared in evtx_arena.h), evtx_value.c (value
 * rendering), evtx_tcache.c (compiled templates kept across chunks,
 * declared in evtx_tpl.h), evtx_binxml.c (Binary XML and templates),
 * evtx.c (file, chunks and records). Each of them uses only what lies below it; the JSON dump
 * writer (evtx_json.c) and the hunt glue (evtx_reader.c) need only the
 * public evtx.h.
 *
 * Why one header below them all: the named caps, the little-endian reads and
 * the scratch are what every layer shares, and keeping them here (with the
 * field types of evtx_field.h and the arena of evtx_arena.h, not the file
 * API of evtx.h) is what lets each file include downwards only.
 */
#ifndef STOAT_READERS_EVTX_INT_H
#define STOAT_READERS_EVTX_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "readers/evtx/evtx_arena.h"
#include "readers/evtx/evtx_field.h"
#include "readers/evtx/evtx_tpl.h"

#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the EVTX reader assumes a little-endian host"
#endif

/* Named size caps. */
#define EVTX_MAX_DEPTH         32u         /* element nesting + nested BinXML */
#define EVTX_MAX_TEMPLATE_NEST 8u          /* templates inside substitutions */
#define EVTX_MAX_FIELDS        65536u      /* fields in one record */
#define EVTX_MAX_VALUES        65536u      /* substitution values in one instance */
#define EVTX_CHUNK_ARENA_CAP   (64u << 20) /* templates and names of one chunk */
#define EVTX_RECORD_ARENA_CAP  (64u << 20) /* decoded values of one record */
#define EVTX_MAX_TEMPLATES     1536u       /* distinct templates in one chunk */
#define EVTX_MAX_NAME          1024u       /* characters in an element/attribute name */
#define EVTX_NAME_SLOTS        256u        /* name cache entries per scratch */
/* The work caps (EVTX_MAX_RECORD_WORK, EVTX_MAX_CHUNK_WORK) are public, in
   evtx.h: a caller may want to say what was skipped and why. */

#define EVTX_CHUNK_HEADER_SIZE  512u
#define EVTX_RECORD_HEADER_SIZE 24u
#define EVTX_RECORD_MIN_SIZE    (EVTX_RECORD_HEADER_SIZE + 4u)

static inline uint16_t evtx_le16(const uint8_t *p)
{
    return (uint16_t)(p[0] | (p[1] << 8));
}
static inline uint32_t evtx_le32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v; /* little-endian hosts only: checked above */
}
static inline uint64_t evtx_le64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

/* RFC 1952 CRC-32 of n bytes, continuing from crc (0 to start) (evtx.c). */
uint32_t evtx_crc32(uint32_t crc, const uint8_t *p, size_t n);

/* ---- values (evtx_value.c) ---- */
/* BinXML value types (the on-disk codes). */
enum {
    EVTX_T_NULL = 0x00,
    EVTX_T_STRING = 0x01,
    EVTX_T_ANSI = 0x02,
    EVTX_T_I8 = 0x03,
    EVTX_T_U8 = 0x04,
    EVTX_T_I16 = 0x05,
    EVTX_T_U16 = 0x06,
    EVTX_T_I32 = 0x07,
    EVTX_T_U32 = 0x08,
    EVTX_T_I64 = 0x09,
    EVTX_T_U64 = 0x0a,
    EVTX_T_F32 = 0x0b,
    EVTX_T_F64 = 0x0c,
    EVTX_T_BOOL = 0x0d,
    EVTX_T_BINARY = 0x0e,
    EVTX_T_GUID = 0x0f,
    EVTX_T_SIZE = 0x10,
    EVTX_T_FILETIME = 0x11,
    EVTX_T_SYSTIME = 0x12,
    EVTX_T_SID = 0x13,
    EVTX_T_HEX32 = 0x14,
    EVTX_T_HEX64 = 0x15,
    EVTX_T_BINXML = 0x21,
    EVTX_T_ARRAY = 0x80
};

/* Renders one value of on-disk type `t` (array bit clear) from data[0..n).
   Writes UTF-8 into arena memory and returns it through out and out_len
   (NUL-terminated), and the public type via *vtype. Returns 0, -1 when the
   data does not fit the type, -2 when out of memory. */
int evtx_render_value(struct evtx_arena *a, uint8_t t, const uint8_t *data, size_t n, const char **out,
                      uint32_t *out_len, uint8_t *vtype);

/* Splits an array value into its elements: calls fn per element with the
   element's bytes. Strings are NUL-separated UTF-16 / ANSI; the others are
   fixed-size. Returns the number of elements, or -1 on a malformed array. */
typedef int (*evtx_elem_fn)(void *ctx, const uint8_t *p, size_t n);
int evtx_array_each(uint8_t t, const uint8_t *data, size_t n, evtx_elem_fn fn, void *ctx);

/* UTF-16LE (n code units) to UTF-8 in the arena, NUL-terminated; unpaired
   surrogates become U+FFFD. Trailing NULs are dropped. */
int evtx_utf16_to_utf8(struct evtx_arena *a, const uint8_t *p, size_t units, const char **out, uint32_t *out_len);

/* Whether a name looks like an XML name, and static text like text (no
   control character but tab and line breaks): what a template decoded
   from overwritten bytes fails. */
bool evtx_plausible_name(const char *n, uint32_t len);
bool evtx_plausible_text(const char *s, uint32_t len);
/* "Elem" "_" "Attr" (NUL-terminated) in arena a, its length in *len. */
const char *evtx_join_name(struct evtx_arena *a, const char *e, uint32_t el, const char *t, uint32_t tl, uint32_t *len);

/* ---- BinXML (evtx_binxml.c) ---- */
struct evtx_chunk_ctx;
/* Parses one record's BinXML (data is inside the chunk) and fills the
   scratch's field list, spending at most c->work_left work units (what is
   left when it returns; below 0 past the budget). Returns 0, -1 on
   malformed data (*why set), -2 on out of memory, -3 when a strict record's
   values do not fit its template, -4 when the budget ran out. */
int evtx_binxml_record(struct evtx_chunk_ctx *c, const uint8_t *data, size_t len, const char **why);

struct evtx_name_slot {
    uint32_t off, gen, len;
    bool plausible; /* an XML name, as a template's names must be */
    const char *s;
};

/* Everything one thread needs to parse a chunk. */
struct evtx_tpl;
struct builder; /* the template compiler's reusable vectors */
struct builder *evtx_builder_create(void);
void evtx_builder_destroy(struct builder *b);
struct evtx_scratch {
    struct evtx_arena chunk_arena; /* templates, names: reset per chunk */
    struct evtx_arena rec_arena;   /* values of one record: reset per record */
    struct evtx_field *fields;     /* malloc'd, grows to the largest record */
    size_t nfields, fields_cap;
    /* template cache: open addressing on the definition offset */
    struct evtx_tpl **tpl_slots;
    uint32_t tpl_cap, tpl_count;
    /* the slots in use, so a chunk's reset clears a handful of them and
       not the whole table */
    uint16_t tpl_used[EVTX_MAX_TEMPLATES];
    struct builder *builder;
    struct evtx_tcache *tcache; /* compiled templates across chunks */
    struct evtx_tlog tlog;      /* what the template being compiled read */
    uint64_t tpl_reused;        /* templates taken from tcache (tests look) */
    bool no_precheck;           /* slack records decoded without the precheck (tests compare) */
    bool no_early_id;           /* slack records' ids checked only once decoded (tests compare) */
    struct evtx_name_slot names[EVTX_NAME_SLOTS];
    uint32_t gen; /* bumped per chunk: invalidates names[] */
    /* record-id set for slack recovery (offsets of records seen) */
    uint64_t *ids;
    size_t nids, ids_cap;
    /* Work units (see evtx.h) spent on the current chunk, and since the
       scratch was made. */
    uint64_t chunk_work, total_work;
};

struct evtx_chunk_ctx {
    const uint8_t *chunk; /* start of the chunk */
    size_t len;           /* bytes of the chunk that are present */
    struct evtx_scratch *s;
    bool strict;       /* values must match their declared types */
    int64_t work_left; /* of the current record's budget: one counter,
                              counted down, as it is touched for every value */
    /* A strict record whose first EventRecordID field is not want_id is
       dropped (evtx.c); while id_pending, the fields from id_from on are
       looked at as soon as they can no longer be taken back. */
    bool id_pending;
    uint64_t want_id;
    size_t id_from;
};

/* Whether a field's text is the decimal record id (as the reader
   compares an EventRecordID field with the record header's). */
static inline bool evtx_id_text_is(const char *v, uint32_t n, uint64_t id)
{
    uint64_t got = 0;
    for (uint32_t k = 0; k < n; k++) {
        if (v[k] < '0' || v[k] > '9')
            return false;
        got = got * 10 + (uint64_t)(v[k] - '0');
    }
    return got == id;
}

void evtx_tpl_cache_reset(struct evtx_scratch *s);

#endif
