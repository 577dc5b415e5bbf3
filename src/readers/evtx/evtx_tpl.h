/* Compiled templates: what evtx_binxml.c compiles a template definition
 * into and runs per record, and the cache that keeps them across chunks
 * (evtx_tcache.c).
 *
 * Why a cache across chunks: a chunk's template table is its own, so every
 * chunk of a log defines its templates again, and the same few templates
 * recur in every chunk and every file of a folder. A compiled template
 * depends only on the bytes its compile read and on the names it looked up
 * elsewhere in the chunk, so those are what a reuse is checked against:
 * the definition's GUID and size, the bytes the compile read (the name
 * offsets in them, which depend on where the definition sits, masked), and
 * the text of every name it referred to. A template is only reused when
 * its compile would read the same thing; a forged one with the same GUID is
 * compiled anew. The cache is bounded (entries, bytes, candidates per
 * GUID) and emptied, between chunks, when full.
 */
#ifndef STOAT_READERS_EVTX_TPL_H
#define STOAT_READERS_EVTX_TPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum {
    P_STATIC = 0,
    P_SUBST = 1
};

struct evtx_part {
    const char *s; /* P_STATIC: UTF-8 text */
    uint32_t len;  /* P_STATIC: its length; P_SUBST: the declared value type */
    uint16_t idx;  /* P_SUBST: substitution index */
    uint8_t kind;
    uint8_t opt; /* optional substitution */
};

/* Elements vanish at run time: an optional substitution whose value is
   NULL removes its whole element (with its attributes), and a parent whose
   children all vanished is then an empty element. So each element's first
   op pushes a mark (the field count then; `marks` says how many elements
   start at that op) and its last op (OP_TEXT or OP_CLOSE) pops it. */
#define OP_ATTR   1u  /* attribute: left out when its value is NULL */
#define OP_TEXT   2u  /* leaf text, closes the element; Binary XML expands */
#define OP_NESTED 4u  /* only expands Binary XML values, never a field */
#define OP_BARE   8u  /* leaf with attributes, no text: "" only if no attribute gave a field */
#define OP_CLOSE  16u /* closes a parent: "" if nothing was emitted inside */

struct evtx_op {
    const char *name;
    uint32_t name_len;
    uint32_t part0, nparts;   /* value */
    uint32_t npart0, nnparts; /* field name from <Data Name=...> parts */
    uint16_t flags;
    uint16_t marks;
};

struct evtx_tpl {
    uint32_t off;    /* chunk offset of the definition */
    int status;      /* 0 ok, -1 malformed */
    bool names_ok;   /* names look like names, static text like text */
    bool root_event; /* the root element is <Event> */
    const char *why;
    struct evtx_op *ops;
    struct evtx_part *parts;
    uint32_t nops, nparts;
};

/* What a compile read besides the definition's own bytes: every name
   offset field (inline or a reference elsewhere), and every element whose
   size field was found without its dependency identifier (that guess
   reads into the name offset that follows it). Chunk offsets. */
enum {
    EVTX_TREF_INLINE = 1, /* name offset field of a name that follows inline */
    EVTX_TREF_NAME = 2,   /* name offset field of a name elsewhere */
    EVTX_TREF_SO1 = 3     /* element token whose size field is at +1 */
};
struct evtx_tref {
    uint32_t pos;
    uint32_t kind;
};
struct evtx_tlog {
    struct evtx_tref *v;
    size_t n, cap;
    bool on;       /* a template is being compiled */
    bool overflow; /* more than the cap, or out of memory: not kept */
};
void evtx_tlog_add(struct evtx_tlog *l, size_t pos, uint32_t kind);

struct evtx_tcache;
struct evtx_tcache *evtx_tcache_create(void);
void evtx_tcache_destroy(struct evtx_tcache *tc);
/* At a chunk's start (no template of the last chunk is in use any more):
   empties the cache when it filled up. */
void evtx_tcache_chunk(struct evtx_tcache *tc);
/* The compiled template for the definition at chunk offset off (its 24
   header bytes and `size` body bytes are inside the chunk's len bytes),
   when one is kept whose compile read the same: fills *t (t->off = off)
   and the work its compile was charged. */
bool evtx_tcache_find(struct evtx_tcache *tc, const uint8_t *chunk, size_t len, uint32_t off, struct evtx_tpl *t,
                      uint64_t *cost);
/* Keeps a copy of template t, compiled from the definition at off whose
   compile read `used` body bytes and logged what else it read in log. */
void evtx_tcache_add(struct evtx_tcache *tc, const uint8_t *chunk, size_t len, uint32_t off, size_t used,
                     const struct evtx_tpl *t, uint64_t cost, const struct evtx_tlog *log);

#endif
