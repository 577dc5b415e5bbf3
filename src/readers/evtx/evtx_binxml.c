/* EVTX Binary XML: templates compiled once per chunk, records only fill in
 * their substitutions.
 *
 * Why: nearly every record is "template instance + values", and a chunk
 * reuses a handful of templates hundreds of times. So the first time a
 * template definition is seen in a chunk it is compiled into a flat list of
 * field ops (field name, then static text or which substitution to render),
 * already following the Sigma flattening rules; a record is then a loop over
 * those ops that renders its values straight into the scratch. No XML text
 * is ever built. The next chunk defines the same templates again: a compile
 * logs what it read, and evtx_tcache.c hands the compiled template back to
 * a later chunk whose definition reads the same.
 *
 * Flattening (context free, so a template compiles the same wherever it is
 * used): every attribute gives `Element_Attribute` (xmlns declarations
 * dropped); a leaf element (no child elements) gives `Element` = its text,
 * except `<Data Name="X">` which gives `X`. A leaf with attributes but no
 * content gives no text field (so `<Provider Name=.../>` is only
 * Provider_Name), an empty leaf without attributes gives "". A substitution
 * whose value turns out to be Binary XML (type 0x21, e.g. UserData) is
 * expanded in place instead of giving a text field.
 *
 * Every offset read from the chunk is checked against the chunk; element
 * nesting and nested Binary XML share one depth cap. Because a nested value
 * is expanded each time an op refers to it, the run time of a record is not
 * bounded by its size: every step of the execution is charged to the
 * record's work budget (spend()), and running out of it ends the record.
 */
#include "readers/evtx/evtx_int.h"
#include "readers/evtx/evtx_tpl.h"

#include <stdlib.h>

/* One substitution value of a template instance. */
struct evtx_val {
    uint32_t off; /* chunk offset */
    uint16_t size;
    uint8_t type;
};

/* Growable vectors for the compiler, owned by the builder and reused. */
struct builder {
    struct evtx_op *ops;
    size_t nops, ops_cap;
    struct evtx_part *parts;
    size_t nparts, parts_cap;
    struct evtx_part *text; /* text parts of the open elements, a stack */
    size_t ntext, text_cap;
    bool names_bad, root_seen, root_event;
};

struct cursor {
    const uint8_t *b; /* chunk */
    size_t pos, end;  /* chunk offsets */
};

/* ------------------------------------------------------------ helpers */

static int grow(void **p, size_t *cap, size_t need, size_t elem)
{
    if (need <= *cap)
        return 0;
    size_t n = *cap ? *cap * 2 : 64;
    while (n < need)
        n *= 2;
    if (n > (size_t)EVTX_MAX_FIELDS * 16)
        return -1;
    void *q = realloc(*p, n * elem);
    if (!q)
        return -2;
    *p = q;
    *cap = n;
    return 0;
}

/* Charges n work units to the record; true when that passes its budget. */
static inline bool spend(struct evtx_chunk_ctx *x, uint64_t n)
{
    x->work_left -= (int64_t)n;
    return x->work_left < 0;
}

/* The same without the test, for the bytes of a rendered value: it runs for
   nearly every value, so the test is left to the next instance or token
   (and evtx_binxml_record at the end); what can run up in between is
   bounded by the record arena's cap. */
static inline void charge(struct evtx_chunk_ctx *x, uint64_t n)
{
    x->work_left -= (int64_t)n;
}

static inline bool have(const struct cursor *c, size_t n)
{
    return c->pos <= c->end && c->end - c->pos >= n;
}

/* Reads a BinXML name at chunk offset `off` into the chunk arena. Names
   are referenced over and over (every element of a raw record names its
   tag), so each chunk keeps a small cache from offset to decoded name. */
static int read_name(struct evtx_chunk_ctx *x, size_t chunk_end, uint32_t off, const char **out, uint32_t *out_len,
                     size_t *name_size, bool *plausible)
{
    if ((size_t)off + 8 > chunk_end)
        return -1;
    size_t n = evtx_le16(x->chunk + off + 6);
    if (n > EVTX_MAX_NAME || (size_t)off + 8 + 2 * n > chunk_end)
        return -1;
    *name_size = 8 + 2 * n + 2; /* plus the NUL after the characters */
    struct evtx_name_slot *slot = &x->s->names[(off >> 1) % EVTX_NAME_SLOTS];
    if (slot->gen == x->s->gen && slot->off == off) {
        *out = slot->s;
        *out_len = slot->len;
        *plausible = slot->plausible;
        return 0;
    }
    int rc = evtx_utf16_to_utf8(&x->s->chunk_arena, x->chunk + off + 8, n, out, out_len);
    if (!rc) {
        slot->gen = x->s->gen;
        slot->off = off;
        slot->s = *out;
        slot->len = *out_len;
        /* judged once per name, not per element naming it */
        slot->plausible = evtx_plausible_name(*out, *out_len);
        *plausible = slot->plausible;
    }
    return rc;
}

/* A name is stored inline when its offset points right where we are; then
   the cursor steps over it. Otherwise it is a reference to an earlier copy. */
static int name_ref(struct evtx_chunk_ctx *x, struct cursor *c, const char **out, uint32_t *out_len, bool *plausible)
{
    if (!have(c, 4))
        return -1;
    uint32_t off = evtx_le32(c->b + c->pos);
    c->pos += 4;
    size_t sz;
    bool ok;
    int rc = read_name(x, x->len, off, out, out_len, &sz, plausible ? plausible : &ok);
    if (rc)
        return rc;
    if (x->s->tlog.on)
        evtx_tlog_add(&x->s->tlog, c->pos - 4, off == c->pos ? EVTX_TREF_INLINE : EVTX_TREF_NAME);
    if (off == c->pos) {
        if (!have(c, sz))
            return -1;
        c->pos += sz;
    }
    return 0;
}

static int push_part(struct evtx_part **v, size_t *n, size_t *cap, struct evtx_part p)
{
    int rc = grow((void **)v, cap, *n + 1, sizeof **v);
    if (rc)
        return rc;
    (*v)[(*n)++] = p;
    return 0;
}

static int push_op(struct builder *b, struct evtx_op op)
{
    if (b->nops >= EVTX_MAX_FIELDS)
        return -1;
    int rc = grow((void **)&b->ops, &b->ops_cap, b->nops + 1, sizeof *b->ops);
    if (rc)
        return rc;
    b->ops[b->nops++] = op;
    return 0;
}

static char *utf8_put(char *o, uint32_t c)
{
    if (c >= 0xd800 && c <= 0xdfff)
        c = 0xfffd;
    if (c < 0x80) {
        *o++ = (char)c;
    } else if (c < 0x800) {
        *o++ = (char)(0xc0 | (c >> 6));
        *o++ = (char)(0x80 | (c & 0x3f));
    } else {
        *o++ = (char)(0xe0 | (c >> 12));
        *o++ = (char)(0x80 | ((c >> 6) & 0x3f));
        *o++ = (char)(0x80 | (c & 0x3f));
    }
    return o;
}

static bool is_value_token(uint8_t t)
{
    switch (t & 0xbf) {
    case 0x05:
    case 0x07:
    case 0x08:
    case 0x09: return true;
    default: return t == 0x0d || t == 0x0e;
    }
}

/* Reads one value-ish token (text, CDATA, char ref, entity ref,
   substitution) as a part. */
static int read_value_part(struct evtx_chunk_ctx *x, struct cursor *c, struct evtx_part *p)
{
    struct evtx_arena *a = &x->s->chunk_arena;
    uint8_t t = c->b[c->pos];
    memset(p, 0, sizeof *p);
    switch (t) {
    case 0x05:
    case 0x45: {
        if (!have(c, 4))
            return -1;
        uint8_t vt = c->b[c->pos + 1];
        size_t n = evtx_le16(c->b + c->pos + 2);
        c->pos += 4;
        if (vt != EVTX_T_STRING || !have(c, 2 * n))
            return -1;
        p->kind = P_STATIC;
        int rc = evtx_utf16_to_utf8(a, c->b + c->pos, n, &p->s, &p->len);
        c->pos += 2 * n;
        return rc;
    }
    case 0x07:
    case 0x47: {
        if (!have(c, 3))
            return -1;
        size_t n = evtx_le16(c->b + c->pos + 1);
        c->pos += 3;
        if (!have(c, 2 * n))
            return -1;
        p->kind = P_STATIC;
        int rc = evtx_utf16_to_utf8(a, c->b + c->pos, n, &p->s, &p->len);
        c->pos += 2 * n;
        return rc;
    }
    case 0x08:
    case 0x48: {
        if (!have(c, 3))
            return -1;
        uint32_t ch = evtx_le16(c->b + c->pos + 1);
        c->pos += 3;
        char *o = evtx_arena_alloc(a, 4);
        if (!o)
            return -2;
        char *e = utf8_put(o, ch);
        *e = 0;
        p->kind = P_STATIC;
        p->s = o;
        p->len = (uint32_t)(e - o);
        return 0;
    }
    case 0x09:
    case 0x49: {
        c->pos++;
        const char *nm;
        uint32_t nl;
        int rc = name_ref(x, c, &nm, &nl, NULL);
        if (rc)
            return rc;
        static const struct {
            const char *n;
            const char *v;
        } ents[] = {
            {"lt", "<"}, {"gt", ">"}, {"amp", "&"}, {"quot", "\""}, {"apos", "'"},
        };
        p->kind = P_STATIC;
        for (size_t i = 0; i < sizeof ents / sizeof ents[0]; i++) {
            if (strlen(ents[i].n) == nl && memcmp(ents[i].n, nm, nl) == 0) {
                p->s = ents[i].v;
                p->len = 1;
                return 0;
            }
        }
        /* unknown entity: keep it as written */
        char *o = evtx_arena_alloc(a, nl + 3);
        if (!o)
            return -2;
        o[0] = '&';
        memcpy(o + 1, nm, nl);
        o[nl + 1] = ';';
        o[nl + 2] = 0;
        p->s = o;
        p->len = nl + 2;
        return 0;
    }
    case 0x0d:
    case 0x0e:
        if (!have(c, 4))
            return -1;
        p->kind = P_SUBST;
        p->idx = evtx_le16(c->b + c->pos + 1);
        p->len = c->b[c->pos + 3];
        p->opt = t == 0x0e;
        c->pos += 4;
        return 0;
    default: return -1;
    }
}

/* Processing instruction: target (name) then data (text); neither is a field. */
static int skip_pi(struct evtx_chunk_ctx *x, struct cursor *c)
{
    uint8_t t = c->b[c->pos];
    if (t == 0x0a) {
        c->pos++;
        const char *nm;
        uint32_t nl;
        return name_ref(x, c, &nm, &nl, NULL);
    }
    if (!have(c, 3))
        return -1;
    size_t n = evtx_le16(c->b + c->pos + 1);
    c->pos += 3;
    if (!have(c, 2 * n))
        return -1;
    c->pos += 2 * n;
    return 0;
}

struct attr {
    const char *name;
    uint32_t name_len;
    uint32_t part0, nparts;
};

#define MAX_ATTRS 64u

static int c_element(struct evtx_chunk_ctx *x, struct builder *b, struct cursor *c, unsigned depth);

/* Reads an element's attribute list (cursor on its size) into attrs, their
   values as parts in b->parts. */
static int c_attr_list(struct evtx_chunk_ctx *x, struct builder *b, struct cursor *c, struct attr *attrs,
                       unsigned *nattrs)
{
    if (!have(c, 4))
        return -1;
    c->pos += 4; /* attribute list size: the tokens delimit it anyway */
    while (have(c, 1) && (c->b[c->pos] & 0xbf) == 0x06) {
        if (*nattrs >= MAX_ATTRS)
            return -1;
        c->pos++;
        struct attr *at = &attrs[(*nattrs)++];
        bool plausible;
        int rc = name_ref(x, c, &at->name, &at->name_len, &plausible);
        if (rc)
            return rc;
        if (!plausible)
            b->names_bad = true;
        at->part0 = (uint32_t)b->nparts;
        while (have(c, 1) && is_value_token(c->b[c->pos])) {
            struct evtx_part p;
            rc = read_value_part(x, c, &p);
            if (rc)
                return rc;
            if (p.kind == P_STATIC && !evtx_plausible_text(p.s, p.len))
                b->names_bad = true;
            rc = push_part(&b->parts, &b->nparts, &b->parts_cap, p);
            if (rc)
                return rc;
        }
        at->nparts = (uint32_t)b->nparts - at->part0;
    }
    return 0;
}

/* An op per attribute that is a field (Element_Attribute): not the Name of
   <Data Name="X">, not an xmlns declaration. *nfield counts them. */
static int c_attr_ops(struct evtx_chunk_ctx *x, struct builder *b, const char *en, uint32_t el,
                      const struct attr *attrs, unsigned nattrs, int name_attr, unsigned *nfield)
{
    for (unsigned i = 0; i < nattrs; i++) {
        const struct attr *at = &attrs[i];
        if ((int)i == name_attr)
            continue;
        if (at->name_len >= 5 && memcmp(at->name, "xmlns", 5) == 0 && (at->name_len == 5 || at->name[5] == ':'))
            continue;
        struct evtx_op op = {0};
        op.name = evtx_join_name(&x->s->chunk_arena, en, el, at->name, at->name_len, &op.name_len);
        if (!op.name)
            return -2;
        op.part0 = at->part0;
        op.nparts = at->nparts;
        op.flags = OP_ATTR;
        int rc = push_op(b, op);
        if (rc)
            return rc;
        (*nfield)++;
    }
    return 0;
}

/* An element's content up to its end tag: child elements are compiled,
   text is kept on b->text for the element's own op. */
static int c_content(struct evtx_chunk_ctx *x, struct builder *b, struct cursor *c, unsigned depth, bool *has_child)
{
    for (;;) {
        if (!have(c, 1))
            return -1;
        uint8_t t = c->b[c->pos];
        if (t == 0x04) {
            c->pos++;
            return 0;
        }
        int rc;
        if ((t & 0xbf) == 0x01) {
            *has_child = true;
            rc = c_element(x, b, c, depth + 1);
        } else if (is_value_token(t)) {
            struct evtx_part p;
            rc = read_value_part(x, c, &p);
            if (!rc && p.kind == P_STATIC && !evtx_plausible_text(p.s, p.len))
                b->names_bad = true;
            if (!rc)
                rc = push_part(&b->text, &b->ntext, &b->text_cap, p);
        } else if (t == 0x0a || t == 0x0b) {
            rc = skip_pi(x, c);
        } else {
            return -1;
        }
        if (rc)
            return rc;
    }
}

/* The ops that close an element whose text parts start at b->text[text0]:
   a leaf's field (named by its tag, or by name_at for <Data Name="X">), or
   for a parent the Binary XML its text may hold and OP_CLOSE. */
static int c_close_ops(struct builder *b, const char *en, uint32_t el, const struct attr *name_at,
                       unsigned nfield_attrs, size_t text0, bool has_child)
{
    int rc;
    size_t ntext = b->ntext - text0;
    if (!has_child) {
        struct evtx_op op = {0};
        op.flags = OP_TEXT | (ntext || !nfield_attrs ? 0 : OP_BARE);
        if (name_at) {
            op.npart0 = name_at->part0;
            op.nnparts = name_at->nparts;
            if (op.nnparts == 1 && b->parts[op.npart0].kind == P_STATIC) {
                op.name = b->parts[op.npart0].s;
                op.name_len = b->parts[op.npart0].len;
                op.nnparts = 0;
            }
        } else {
            op.name = en;
            op.name_len = el;
        }
        op.part0 = (uint32_t)b->nparts;
        op.nparts = (uint32_t)ntext;
        for (size_t i = 0; i < ntext; i++) {
            rc = push_part(&b->parts, &b->nparts, &b->parts_cap, b->text[text0 + i]);
            if (rc)
                return rc;
        }
        return push_op(b, op);
    }
    /* Mixed content: text between child elements is layout; only a
       Binary XML substitution there still carries fields. */
    for (size_t i = 0; i < ntext; i++) {
        if (b->text[text0 + i].kind != P_SUBST)
            continue;
        struct evtx_op op = {0};
        op.flags = OP_NESTED;
        op.part0 = (uint32_t)b->nparts;
        op.nparts = 1;
        rc = push_part(&b->parts, &b->nparts, &b->parts_cap, b->text[text0 + i]);
        if (!rc)
            rc = push_op(b, op);
        if (rc)
            return rc;
    }
    struct evtx_op op = {0};
    op.flags = OP_CLOSE;
    op.name = en;
    op.name_len = el;
    return push_op(b, op);
}

/* Compiles one element (cursor on its open tag) and its subtree. */
static int c_element(struct evtx_chunk_ctx *x, struct builder *b, struct cursor *c, unsigned depth)
{
    if (depth > EVTX_MAX_DEPTH)
        return -1;
    size_t first_op = b->nops;
    if (!have(c, 7))
        return -1;
    uint8_t tok = c->b[c->pos];
    /* The dependency identifier (2 bytes) is normally there; when the size
       read after it cannot fit but the one read without it can, it is not. */
    size_t rest = c->end - c->pos;
    size_t so = 3;
    if (rest >= 11) {
        uint32_t s3 = evtx_le32(c->b + c->pos + 3);
        uint32_t s1 = evtx_le32(c->b + c->pos + 1);
        if (s3 > rest - 7 && s1 <= rest - 5) {
            so = 1;
            if (x->s->tlog.on) /* the guess read into the name offset */
                evtx_tlog_add(&x->s->tlog, c->pos, EVTX_TREF_SO1);
        }
    }
    c->pos += so + 4;
    const char *en;
    uint32_t el;
    bool plausible;
    int rc = name_ref(x, c, &en, &el, &plausible);
    if (rc)
        return rc;
    if (!plausible)
        b->names_bad = true;
    if (!b->root_seen) {
        b->root_seen = true;
        b->root_event = el == 5 && memcmp(en, "Event", 5) == 0;
    }

    struct attr attrs[MAX_ATTRS];
    unsigned nattrs = 0;
    if (tok & 0x40) {
        rc = c_attr_list(x, b, c, attrs, &nattrs);
        if (rc)
            return rc;
    }
    /* <Data Name="X"> names its field X. */
    int name_attr = -1;
    if (el == 4 && memcmp(en, "Data", 4) == 0) {
        for (unsigned i = 0; i < nattrs; i++)
            if (attrs[i].name_len == 4 && memcmp(attrs[i].name, "Name", 4) == 0)
                name_attr = (int)i;
    }
    unsigned nfield_attrs = 0;
    rc = c_attr_ops(x, b, en, el, attrs, nattrs, name_attr, &nfield_attrs);
    if (rc)
        return rc;

    if (!have(c, 1))
        return -1;
    uint8_t close = c->b[c->pos++];
    bool has_child = false;
    size_t text0 = b->ntext;
    if (close == 0x02) {
        rc = c_content(x, b, c, depth, &has_child);
        if (rc)
            return rc;
    } else if (close != 0x03) {
        return -1;
    }
    rc = c_close_ops(b, en, el, name_attr >= 0 ? &attrs[name_attr] : NULL, nfield_attrs, text0, has_child);
    if (rc)
        return rc;
    b->ops[first_op].marks++;
    b->ntext = text0;
    return 0;
}

/* Compiles a token stream [pos, end) (a template body or a record's raw
   elements) until its end-of-fragment token. */
static int c_stream(struct evtx_chunk_ctx *x, struct builder *b, struct cursor *c, unsigned depth)
{
    while (have(c, 1)) {
        uint8_t t = c->b[c->pos];
        int rc;
        if (t == 0x00) {
            c->pos++;
            return 0;
        } else if (t == 0x0f) {
            if (!have(c, 4))
                return -1;
            c->pos += 4;
            continue;
        } else if ((t & 0xbf) == 0x01) {
            rc = c_element(x, b, c, depth + 1);
        } else if (t == 0x0a || t == 0x0b) {
            rc = skip_pi(x, c);
        } else {
            return -1;
        }
        if (rc)
            return rc;
    }
    return 0; /* ran to the end without EOF: accept what was there */
}

static void builder_clear(struct builder *b)
{
    b->nops = b->nparts = b->ntext = 0;
    b->names_bad = b->root_seen = b->root_event = false;
}

/* Copies the builder's ops and parts into arena `a` as a template. */
static int builder_emit(struct builder *b, struct evtx_arena *a, struct evtx_tpl *t)
{
    t->ops = evtx_arena_alloc(a, b->nops * sizeof *t->ops + 1);
    t->parts = evtx_arena_alloc(a, b->nparts * sizeof *t->parts + 1);
    if (!t->ops || !t->parts)
        return -2;
    if (b->nops)
        memcpy(t->ops, b->ops, b->nops * sizeof *t->ops);
    if (b->nparts)
        memcpy(t->parts, b->parts, b->nparts * sizeof *t->parts);
    t->nops = (uint32_t)b->nops;
    t->nparts = (uint32_t)b->nparts;
    t->names_ok = !b->names_bad;
    t->root_event = b->root_event;
    return 0;
}

/* ------------------------------------------------------------ template cache */

static struct builder *builder_of(struct evtx_scratch *s)
{
    return s->builder;
}

struct builder *evtx_builder_create(void)
{
    return calloc(1, sizeof(struct builder));
}

void evtx_builder_destroy(struct builder *b)
{
    if (!b)
        return;
    free(b->ops);
    free(b->parts);
    free(b->text);
    free(b);
}

void evtx_tpl_cache_reset(struct evtx_scratch *s)
{
    for (uint32_t i = 0; s->tpl_slots && i < s->tpl_count; i++)
        s->tpl_slots[s->tpl_used[i]] = NULL;
    s->tpl_count = 0;
    evtx_tcache_chunk(s->tcache);
}

static struct evtx_tpl **tpl_slot(struct evtx_scratch *s, uint32_t off)
{
    uint32_t m = s->tpl_cap - 1;
    uint32_t h = (off * 2654435761u) >> 8;
    for (uint32_t i = 0;; i++) {
        struct evtx_tpl **p = &s->tpl_slots[(h + i) & m];
        if (!*p || (*p)->off == off)
            return p;
    }
}

static int tpl_get(struct evtx_chunk_ctx *x, uint32_t off, struct evtx_tpl **out)
{
    struct evtx_scratch *s = x->s;
    struct evtx_tpl **slot = tpl_slot(s, off);
    if (*slot) {
        *out = *slot;
        return (*slot)->status;
    }
    if (s->tpl_count >= EVTX_MAX_TEMPLATES)
        return -1;
    struct evtx_tpl *t = evtx_arena_alloc(&s->chunk_arena, sizeof *t);
    if (!t)
        return -2;
    memset(t, 0, sizeof *t);
    t->off = off;
    /* definition: next offset (4), GUID (16), body size (4), body */
    int rc = -1;
    uint64_t cost = 1;
    if (evtx_tcache_find(s->tcache, x->chunk, x->len, off, t, &cost)) {
        rc = 0; /* compiled in an earlier chunk from what reads the same */
        s->tpl_reused++;
    } else if ((size_t)off + 24 <= x->len) {
        uint32_t size = evtx_le32(x->chunk + off + 20);
        if ((size_t)off + 24 + size <= x->len) {
            struct builder *b = builder_of(s);
            builder_clear(b);
            struct cursor c = {x->chunk, (size_t)off + 24, (size_t)off + 24 + size};
            s->tlog.n = 0;
            s->tlog.overflow = false;
            s->tlog.on = s->tcache != NULL;
            rc = c_stream(x, b, &c, 0);
            s->tlog.on = false;
            if (!rc)
                rc = builder_emit(b, &s->chunk_arena, t);
            /* definitions may overlap, so compiling is work too */
            cost += (c.pos - ((size_t)off + 24)) / 4 + b->nops + b->nparts;
            if (!rc)
                evtx_tcache_add(s->tcache, x->chunk, x->len, off, c.pos - ((size_t)off + 24), t, cost, &s->tlog);
        }
    }
    if (rc == -2)
        return -2;
    t->status = rc;
    *slot = t;
    s->tpl_used[s->tpl_count++] = (uint16_t)(slot - s->tpl_slots);
    *out = t;
    /* charged once, after caching: the template itself is fine */
    if (spend(x, cost))
        return -4;
    return rc;
}

/* ------------------------------------------------------------ execution */

static int interp(struct evtx_chunk_ctx *x, size_t pos, size_t end, unsigned depth);

static int add_field(struct evtx_scratch *s, const char *name, uint32_t nl, const char *v, uint32_t vl, uint8_t type)
{
    if (s->nfields >= s->fields_cap) {
        if (s->nfields >= EVTX_MAX_FIELDS)
            return -1;
        int rc = grow((void **)&s->fields, &s->fields_cap, s->nfields + 1, sizeof *s->fields);
        if (rc)
            return rc;
    }
    struct evtx_field *f = &s->fields[s->nfields++];
    f->name = name;
    f->name_len = nl;
    f->value = v;
    f->value_len = vl;
    f->type = type;
    f->name_fresh = 0;
    return 0;
}

struct arr_ctx {
    struct evtx_chunk_ctx *x;
    const char *name;
    uint32_t name_len;
    uint8_t t;
    int rc;
};

static int arr_elem(void *ctx, const uint8_t *p, size_t n)
{
    struct arr_ctx *ac = ctx;
    const char *v;
    uint32_t vl;
    uint8_t vt;
    int rc = evtx_render_value(&ac->x->s->rec_arena, ac->t, p, n, &v, &vl, &vt);
    if (!rc && spend(ac->x, 1 + vl / 64))
        rc = -4;
    if (!rc)
        rc = add_field(ac->x->s, ac->name, ac->name_len, v, vl, vt);
    ac->rc = rc;
    return rc;
}

/* Renders one substitution value (not array, not BinXML) to text. */
static int render_val(struct evtx_chunk_ctx *x, const struct evtx_val *v, const char **out, uint32_t *len, uint8_t *vt)
{
    return evtx_render_value(&x->s->rec_arena, v->type, x->chunk + v->off, v->size, out, len, vt);
}

/* A plain value (not NULL, array or nested) rendered into one field. */
static inline int add_rendered(struct evtx_chunk_ctx *x, struct evtx_scratch *s, const char *name, uint32_t nl,
                               const struct evtx_val *v)
{
    const char *val;
    uint32_t vl;
    uint8_t vt;
    int rc = render_val(x, v, &val, &vl, &vt);
    if (rc)
        return rc;
    charge(x, vl / 64);
    return add_field(s, name, nl, val, vl, vt);
}

/* Concatenates parts (static text and substitutions) into one string. */
static int concat_parts(struct evtx_chunk_ctx *x, const struct evtx_part *p, uint32_t n, const struct evtx_val *vals,
                        uint32_t nvals, const char **out, uint32_t *out_len, uint8_t *out_type)
{
    struct evtx_arena *a = &x->s->rec_arena;
    const char **sv = evtx_arena_alloc(a, (size_t)n * sizeof *sv + 1);
    uint32_t *sl = evtx_arena_alloc(a, (size_t)n * sizeof *sl + 1);
    if (!sv || !sl)
        return -2;
    size_t total = 0;
    bool all_null = true;
    for (uint32_t i = 0; i < n; i++) {
        if (p[i].kind == P_STATIC) {
            sv[i] = p[i].s;
            sl[i] = p[i].len;
            all_null = false;
        } else if (p[i].idx >= nvals || vals[p[i].idx].type == EVTX_T_NULL) {
            sv[i] = "";
            sl[i] = 0;
        } else {
            const struct evtx_val *v = &vals[p[i].idx];
            uint8_t vt;
            int rc;
            if (v->type & EVTX_T_ARRAY || v->type == EVTX_T_BINXML)
                rc = -1; /* not renderable inside mixed text */
            else
                rc = render_val(x, v, &sv[i], &sl[i], &vt);
            if (rc)
                return rc;
            all_null = false;
        }
        total += sl[i];
    }
    if (total >= UINT32_MAX)
        return -1;
    if (spend(x, n + total / 64))
        return -4;
    char *o = evtx_arena_alloc(a, total + 1);
    if (!o)
        return -2;
    size_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        memcpy(o + k, sv[i], sl[i]);
        k += sl[i];
    }
    o[k] = 0;
    *out = o;
    *out_len = (uint32_t)k;
    *out_type = all_null ? EVTX_V_NULL : EVTX_V_STRING;
    return 0;
}

/* A slack record whose EventRecordID field disagrees with its header is
   dropped (evtx.c); most of those that reach the run are, so the field is
   compared as soon as it is final rather than after the whole record is
   rendered. Fields are only ever taken back by a leaf whose optional text
   is NULL (its attributes' fields), so once an element's text or close op
   has run, every field so far stays: the first EventRecordID among them
   is the record's first. Returns 0, or -3 when it is not the header's id. */
static int check_early_id(struct evtx_chunk_ctx *x)
{
    const struct evtx_scratch *s = x->s;
    for (size_t i = x->id_from; i < s->nfields; i++) {
        const struct evtx_field *f = &s->fields[i];
        if (f->name_len == 13 && memcmp(f->name, "EventRecordID", 13) == 0) {
            x->id_pending = false;
            return evtx_id_text_is(f->value, f->value_len, x->want_id) ? 0 : -3;
        }
    }
    x->id_from = s->nfields;
    return 0;
}

static int exec_ops(struct evtx_chunk_ctx *x, const struct evtx_tpl *t, const struct evtx_val *vals, uint32_t nvals,
                    unsigned depth)
{
    struct evtx_scratch *s = x->s;
    size_t marks[EVTX_MAX_DEPTH + 4];
    unsigned nmarks = 0;
    /* every op runs once here (nested values are charged by their own
       run), so the instance is charged for them all up front */
    if (spend(x, 1 + (uint64_t)t->nops))
        return -4;
    for (uint32_t i = 0; i < t->nops; i++) {
        const struct evtx_op *op = &t->ops[i];
        const struct evtx_part *p = t->parts + op->part0;
        const char *name = op->name;
        uint32_t nl = op->name_len;
        size_t mark = 0;
        int rc;

        if (x->id_pending && i && (t->ops[i - 1].flags & (OP_TEXT | OP_CLOSE)) && (rc = check_early_id(x)))
            return rc;
        for (unsigned k = 0; k < op->marks; k++) {
            if (nmarks >= sizeof marks / sizeof marks[0])
                return -1;
            marks[nmarks++] = s->nfields;
        }
        if (op->flags & (OP_TEXT | OP_CLOSE)) {
            if (!nmarks)
                return -1;
            mark = marks[--nmarks];
        }
        if (op->flags & OP_CLOSE) {
            if (s->nfields == mark && (rc = add_field(s, name, nl, "", 0, EVTX_V_STRING)))
                return rc;
            continue;
        }
        /* Most ops are a leaf holding one substitution with a plain value:
           the steps below all pass by for them, so they go straight to it. */
        if (op->flags == OP_TEXT && op->nparts == 1 && !op->nnparts && p->kind == P_SUBST && p->idx < nvals) {
            const struct evtx_val *v = &vals[p->idx];
            if (v->type != EVTX_T_NULL && v->type != EVTX_T_BINXML && !(v->type & EVTX_T_ARRAY)) {
                if ((rc = add_rendered(x, s, name, nl, v)))
                    return rc;
                continue;
            }
        }
        if ((op->flags & OP_BARE) && s->nfields != mark)
            continue;
        /* an optional substitution with a NULL value: no element at all */
        if ((op->flags & OP_TEXT) && op->nparts == 1 && p->kind == P_SUBST && p->opt &&
            (p->idx >= nvals || vals[p->idx].type == EVTX_T_NULL)) {
            s->nfields = mark;
            continue;
        }

        /* A Binary XML value expands in place of the text field. */
        if (op->flags & (OP_TEXT | OP_NESTED)) {
            bool nested = false;
            for (uint32_t k = 0; k < op->nparts; k++) {
                if (p[k].kind != P_SUBST || p[k].idx >= nvals)
                    continue;
                const struct evtx_val *v = &vals[p[k].idx];
                if (v->type != EVTX_T_BINXML)
                    continue;
                nested = true;
                rc = interp(x, v->off, (size_t)v->off + v->size, depth + 1);
                if (rc)
                    return rc;
            }
            if (nested || (op->flags & OP_NESTED))
                continue;
        }
        size_t first = s->nfields;
        if (op->nnparts) {
            uint8_t vt;
            rc = concat_parts(x, t->parts + op->npart0, op->nnparts, vals, nvals, &name, &nl, &vt);
            if (rc)
                return rc;
        }
        if (op->nparts == 0) {
            rc = add_field(s, name, nl, "", 0, EVTX_V_STRING);
        } else if (op->nparts == 1 && p->kind == P_STATIC) {
            rc = add_field(s, name, nl, p->s, p->len, EVTX_V_STRING);
        } else if (op->nparts == 1) {
            const struct evtx_val *v = p->idx < nvals ? &vals[p->idx] : NULL;
            if (!v || v->type == EVTX_T_NULL) {
                if (op->flags & OP_ATTR)
                    continue;
                rc = add_field(s, name, nl, "", 0, EVTX_V_NULL);
            } else if (v->type & EVTX_T_ARRAY) {
                struct arr_ctx ac = {x, name, nl, (uint8_t)(v->type & 0x7f), 0};
                int cnt = evtx_array_each(ac.t, x->chunk + v->off, v->size, arr_elem, &ac);
                if (cnt < 0)
                    return ac.rc ? ac.rc : -1;
                rc = cnt == 0 ? add_field(s, name, nl, "", 0, EVTX_V_NULL) : 0;
            } else {
                rc = add_rendered(x, s, name, nl, v);
            }
        } else {
            const char *val;
            uint32_t vl;
            uint8_t vt;
            rc = concat_parts(x, p, op->nparts, vals, nvals, &val, &vl, &vt);
            if (!rc && !(vt == EVTX_V_NULL && (op->flags & OP_ATTR)))
                rc = add_field(s, name, nl, val, vl, vt);
        }
        if (rc)
            return rc;
        for (size_t k = first; op->nnparts && k < s->nfields; k++)
            s->fields[k].name_fresh = 1;
    }
    return x->id_pending ? check_early_id(x) : 0;
}

/* Whether a value of type `actual` may fill a substitution declared as
   `decl`: the same type, NULL, or a hex integer for a size_t. */
static bool type_fits(uint32_t decl, uint8_t actual)
{
    if (actual == decl || actual == EVTX_T_NULL)
        return true;
    if ((decl & 0x7f) == EVTX_T_SIZE && (decl & EVTX_T_ARRAY) == (actual & EVTX_T_ARRAY))
        return (actual & 0x7f) == EVTX_T_HEX32 || (actual & 0x7f) == EVTX_T_HEX64;
    return false;
}

/* Records recovered from slack may point at a template that has since been
   overwritten by another one; their values then land under the wrong
   names. Such a record is only trusted when every value has the type its
   substitution declares. */
static bool values_fit(const struct evtx_tpl *t, const struct evtx_val *vals, uint32_t n)
{
    uint32_t used = 0;
    for (uint32_t i = 0; i < t->nparts; i++) {
        const struct evtx_part *p = &t->parts[i];
        if (p->kind != P_SUBST)
            continue;
        if (p->idx >= n || !type_fits(p->len, vals[p->idx].type))
            return false;
        if (p->idx + 1u > used)
            used = p->idx + 1u;
    }
    /* and the template uses exactly the values the instance carries */
    return used == n;
}

/* A template instance's head at c->pos (on the 0x0c token): finds or
   compiles the template and reads the value descriptors into the record
   arena (*vals, the arena's latest allocation), leaving c past the values.
   A strict record's values must fit the template. */
static int instance_head(struct evtx_chunk_ctx *x, struct cursor *c, unsigned depth, struct evtx_tpl **tp,
                         struct evtx_val **vp, uint32_t *np)
{
    if (!have(c, 10))
        return -1;
    uint32_t def = evtx_le32(c->b + c->pos + 6);
    c->pos += 10;
    if (def == c->pos) {
        /* the definition follows inline: step over it */
        if (!have(c, 24))
            return -1;
        uint32_t size = evtx_le32(c->b + c->pos + 20);
        if (!have(c, 24 + (size_t)size))
            return -1;
        c->pos += 24 + (size_t)size;
    }
    struct evtx_tpl *t;
    int rc = tpl_get(x, def, &t);
    if (rc)
        return rc;
    if (!have(c, 4))
        return -1;
    uint32_t n = evtx_le32(c->b + c->pos);
    c->pos += 4;
    if (n > EVTX_MAX_VALUES || !have(c, 4 * (size_t)n))
        return -1;
    if (spend(x, 1 + (uint64_t)n))
        return -4;
    struct evtx_val *vals = evtx_arena_alloc(&x->s->rec_arena, (size_t)n * sizeof *vals + 1);
    if (!vals)
        return -2;
    size_t data = c->pos + 4 * (size_t)n;
    for (uint32_t i = 0; i < n; i++) {
        const uint8_t *d = c->b + c->pos + 4 * (size_t)i;
        vals[i].size = evtx_le16(d);
        vals[i].type = d[2];
        vals[i].off = (uint32_t)data;
        data += vals[i].size;
    }
    if (data > c->end)
        return -1;
    c->pos = data;
    if (x->strict && (!t->names_ok || (depth == 0 && !t->root_event) || !values_fit(t, vals, n)))
        return -3;
    *tp = t;
    *vp = vals;
    *np = n;
    return 0;
}

static int strict_precheck(struct evtx_chunk_ctx *x, const struct evtx_tpl *t, const struct evtx_val *vals, uint32_t n,
                           unsigned depth);

/* The template instances a nested Binary XML value [pos, end) starts with,
   checked as strict_precheck says. */
static int precheck_value(struct evtx_chunk_ctx *x, size_t pos, size_t end, unsigned depth)
{
    if (depth > EVTX_MAX_TEMPLATE_NEST)
        return -1; /* as interp */
    struct cursor c = {x->chunk, pos, end};
    while (have(&c, 1)) {
        uint8_t tok = c.b[c.pos];
        if (spend(x, 1))
            return -4;
        if (tok == 0x00)
            return 0;
        if (tok == 0x0f) {
            if (!have(&c, 4))
                return -1;
            c.pos += 4;
            continue;
        }
        if (tok != 0x0c)
            return (tok & 0xbf) == 0x01 || tok == 0x0a || tok == 0x0b ? 0 : -1; /* left to the run */
        struct evtx_tpl *t;
        struct evtx_val *vals;
        uint32_t nv;
        int rc = instance_head(x, &c, depth, &t, &vals, &nv);
        if (!rc)
            rc = strict_precheck(x, t, vals, nv, depth);
        if (!rc)
            evtx_arena_trim(&x->s->rec_arena, vals, 0); /* the run reads them again */
        if (rc)
            return rc;
    }
    return 0;
}

/* A record from slack usually fails in a nested value (its EventData's
   template was overwritten), which exec_ops reaches only after rendering
   every System value before it. So a strict instance first walks the heads
   of the instances its Binary XML values start with, as the run would
   reach them: every op that expands a value does (see exec_ops), and what
   fails here fails there, in the same way, so the record is dropped
   without rendering anything. Element tokens are left to the run. The
   walk is charged as the run is (a crafted chunk's thousands of candidate
   records would otherwise walk large templates for free); a record that
   passes is charged for it twice, which slack records can afford. */
static int strict_precheck(struct evtx_chunk_ctx *x, const struct evtx_tpl *t, const struct evtx_val *vals, uint32_t n,
                           unsigned depth)
{
    uint32_t j = 0;
    while (j < n && vals[j].type != EVTX_T_BINXML)
        j++;
    if (j == n)
        return 0; /* nothing nested: most instances */
    if (spend(x, 1 + (uint64_t)t->nops))
        return -4;
    for (uint32_t i = 0; i < t->nops; i++) {
        const struct evtx_op *op = &t->ops[i];
        if (!(op->flags & (OP_TEXT | OP_NESTED)))
            continue;
        const struct evtx_part *p = t->parts + op->part0;
        for (uint32_t k = 0; k < op->nparts; k++) {
            if (p[k].kind != P_SUBST || p[k].idx >= n || vals[p[k].idx].type != EVTX_T_BINXML)
                continue;
            const struct evtx_val *v = &vals[p[k].idx];
            int rc = precheck_value(x, v->off, (size_t)v->off + v->size, depth + 1);
            if (rc)
                return rc;
        }
    }
    return 0;
}

/* A template instance at c->pos (on the 0x0c token): finds or compiles the
   template, reads the values and runs the template's ops. */
static int template_instance(struct evtx_chunk_ctx *x, struct cursor *c, unsigned depth)
{
    struct evtx_tpl *t;
    struct evtx_val *vals;
    uint32_t n;
    int rc = instance_head(x, c, depth, &t, &vals, &n);
    if (!rc && x->strict && !x->s->no_precheck)
        rc = strict_precheck(x, t, vals, n, depth);
    if (rc)
        return rc;
    return exec_ops(x, t, vals, n, depth);
}

/* Interprets a Binary XML document [pos, end): a record's event or a
   nested Binary XML value. */
static int interp(struct evtx_chunk_ctx *x, size_t pos, size_t end, unsigned depth)
{
    if (depth > EVTX_MAX_TEMPLATE_NEST)
        return -1;
    struct cursor c = {x->chunk, pos, end};
    while (have(&c, 1)) {
        uint8_t t = c.b[c.pos];
        int rc;
        if (spend(x, 1))
            return -4;
        if (t == 0x00) {
            return 0;
        } else if (t == 0x0f) {
            if (!have(&c, 4))
                return -1;
            c.pos += 4;
            continue;
        } else if (t == 0x0c) {
            rc = template_instance(x, &c, depth);
        } else if ((t & 0xbf) == 0x01) {
            /* Elements without a template: compile them into a throwaway
               op list in the record arena and run it with no values. */
            struct builder *b = builder_of(x->s);
            size_t start = c.pos;
            builder_clear(b);
            rc = c_element(x, b, &c, depth);
            /* compiled anew each time it is expanded: charge its bytes */
            if (!rc && spend(x, (c.pos - start) / 4 + b->nops + b->nparts))
                rc = -4;
            if (!rc && x->strict && (b->names_bad || (depth == 0 && !b->root_event)))
                rc = -3;
            if (!rc) {
                struct evtx_tpl tmp = {0};
                rc = builder_emit(b, &x->s->rec_arena, &tmp);
                if (!rc)
                    rc = exec_ops(x, &tmp, NULL, 0, depth);
            }
        } else if (t == 0x0a || t == 0x0b) {
            rc = skip_pi(x, &c);
        } else {
            return -1;
        }
        if (rc)
            return rc;
    }
    return 0;
}

int evtx_binxml_record(struct evtx_chunk_ctx *x, const uint8_t *data, size_t len, const char **why)
{
    size_t pos = (size_t)(data - x->chunk);
    int rc = interp(x, pos, pos + len, 0);
    if (rc == 0 && x->work_left < 0)
        rc = -4; /* the bytes of the last values rendered */
    if (rc == -1)
        *why = "malformed Binary XML";
    else if (rc == -3)
        *why = "values do not fit their template";
    else if (rc == -4)
        *why = "record expands past the work cap";
    else if (rc == -2)
        *why = "out of memory";
    return rc;
}
