/* Sysmon for Linux: one XML <Event> per line, as syslog writes it
 * (`Nov 19 21:37:05 host sysmon: <Event>...</Event>`, RFC 3339 stamps too)
 * or as `journalctl -o cat` / `-o short` prints it.
 *
 * Why our own XML reader: the shape is fixed and small (Event > System |
 * EventData > leaves with attributes), so a strict, bounded, iterative reader
 * of exactly that subset (elements, attributes, text, the five entities and
 * character references; no DTD, comments, CDATA or processing instructions)
 * is a few hundred lines, allocates nothing, and cannot be talked into
 * recursion or entity expansion. A general XML library would accept far more
 * than Sysmon writes and cost a dependency.
 *
 * Field names follow the EVTX reader, so the mapping's Linux-Sysmon/Operational
 * entries and the rules see the same events whichever way the log arrived:
 * an attribute gives Element_Attribute (Provider_Name, TimeCreated_SystemTime),
 * a leaf element its text (EventID, Channel, Computer), <Data Name="X"> the
 * field X; a leaf with attributes and no text gives only its attributes, an
 * empty leaf without attributes "". Values are slices of the unit; values
 * with entities are decoded into the event scratch.
 *
 * The reading thread only cuts units at line ends (the last newline of a
 * block; a longer line is carried to the next unit, up to a cap). Lines
 * without an <Event> element are other programs' syslog lines and are passed
 * over quietly; a line with one that does not parse (a syslog daemon that
 * truncated a long event, say) is reported with its line number and skipped. */
#include <stdio.h>
#include <string.h>

#include "readers/reader.h"
#include "util/text.h"

#define SL_LINE_MAX     (1u << 20) /* a longer line is reported and skipped */
#define SL_MAX_DEPTH    8          /* Event > EventData > Data is 3 */
#define SL_MAX_ATTRS    16         /* per element */
#define SL_MAX_ELEMENTS 1024       /* per event */

/* ------------------------------------------------------------ producer */

struct sl_state {
    uint64_t line; /* number of the next unread line */
    uint64_t offset;
    char *carry;
    size_t ncarry, carry_cap;
    bool eof;
};

/* A line of the head that holds a Sysmon-for-Linux event. The head may end
 * inside that line: the start of the event is what counts. */
static bool sl_probe(const unsigned char *h, size_t n)
{
    static const char prov[] = "<Provider Name=\"Linux-Sysmon\"";
    const char *p = (const char *)h, *end = p + n;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *ev = memmem(p, (size_t)(le - p), "<Event", 6);
        if (ev && (size_t)(le - ev) > 6 && (ev[6] == '>' || ev[6] == ' ')) {
            const char *pv = memmem(ev, (size_t)(le - ev), prov, sizeof(prov) - 1);
            const char *sys = memmem(ev, (size_t)(le - ev), "<System>", 8);
            if (pv && sys && sys < pv && pv - ev < 256)
                return true;
        }
        if (!nl)
            break;
        p = nl + 1;
    }
    return false;
}

static int sl_open(struct input_file *f, struct input *in, char *why, size_t whylen)
{
    (void)in;
    (void)why;
    (void)whylen;
    struct sl_state *s = xcalloc(1, sizeof(*s));
    s->line = 1;
    f->reader_state = s;
    f->product = "linux";
    return 0;
}

static void sl_close(struct input_file *f)
{
    struct sl_state *s = f->reader_state;
    if (!s)
        return;
    free(s->carry);
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

static enum fill_result sl_fill(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen)
{
    struct sl_state *s = f->reader_state;
    if (s->eof && s->ncarry == 0)
        return FILL_END;
    u->len = 0;
    size_t want = UNIT_BYTES;
    if (s->ncarry > want)
        want = s->ncarry;
    if (u->cap < want + 1) {
        u->data = xrealloc(u->data, want + 1);
        u->cap = want + 1;
    }
    if (s->ncarry) {
        memcpy(u->data, s->carry, s->ncarry);
        u->len = s->ncarry;
        s->ncarry = 0;
    }
    size_t cut;
    for (;;) {
        while (!s->eof && u->len < want) {
            long r = input_read(in, u->data + u->len, want - u->len, why, whylen);
            if (r < 0)
                return FILL_ERROR;
            if (r == 0)
                s->eof = true;
            u->len += (size_t)r;
        }
        if (s->eof) {
            cut = u->len;
            break;
        }
        const char *nl = memrchr(u->data, '\n', u->len);
        if (nl) {
            cut = (size_t)(nl - u->data) + 1;
            break;
        }
        if (want >= SL_LINE_MAX) {
            /* one line longer than the cap: report it and drop to its end */
            snprintf(u->note, sizeof(u->note), "line longer than %u MiB, skipped", SL_LINE_MAX >> 20);
            u->note_line = s->line;
            u->skipped++;
            s->offset += u->len;
            u->len = 0;
            char c;
            long r;
            while ((r = input_read(in, &c, 1, why, whylen)) == 1) {
                s->offset++;
                if (c == '\n')
                    break;
            }
            if (r < 0)
                return FILL_ERROR;
            if (r == 0)
                s->eof = true;
            s->line++;
            u->first_line = s->line;
            u->file_offset = s->offset;
            return FILL_MORE; /* a unit with the note only */
        }
        want *= 2;
        u->data = xrealloc(u->data, want + 1);
        u->cap = want + 1;
    }
    size_t rest = u->len - cut;
    if (rest) {
        XGROW(s->carry, s->carry_cap, rest);
        memcpy(s->carry, u->data + cut, rest);
        s->ncarry = rest;
    }
    u->len = cut;
    u->data[u->len] = 0;
    u->first_line = s->line;
    u->file_offset = s->offset;
    s->line += count_lines(u->data, u->len);
    s->offset += u->len;
    return s->eof && !s->ncarry ? FILL_LAST : FILL_MORE;
}

/* ------------------------------------------------------------- worker */

struct sl_elem {
    const char *name;
    uint32_t name_len;
    const char *field; /* <Data Name="X">: X */
    uint32_t field_len;
    const char *text; /* first text run inside */
    uint32_t text_len;
    bool text_escaped; /* holds entities */
    bool children;
    bool attrs; /* gave an attribute field */
};

struct sl_worker {
    const struct event_sink *sink;
    struct unit *u;
    struct sl_elem stack[SL_MAX_DEPTH];
    bool full;
};

static void *sl_worker_create(const struct mapping *map)
{
    (void)map;
    return xcalloc(1, sizeof(struct sl_worker));
}

static void sl_worker_destroy(void *ws)
{
    free(ws);
}

static bool name_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool name_char(char c)
{
    return name_start(c) || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static bool xml_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static int hexv(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes entities of [p, p+n) into the event scratch. NULL: a bad entity. */
static const char *unescape(struct sl_worker *w, const char *p, uint32_t n, uint32_t *out_len)
{
    char *o = w->sink->scratch(w->sink->ctx, (size_t)n + 1);
    uint32_t k = 0;
    const char *end = p + n;
    while (p < end) {
        if (*p != '&') {
            o[k++] = *p++;
            continue;
        }
        const char *semi = memchr(p, ';', (size_t)(end - p) < 12 ? (size_t)(end - p) : 12);
        if (!semi)
            return NULL;
        size_t el = (size_t)(semi - p - 1);
        const char *e = p + 1;
        if (el == 2 && !memcmp(e, "lt", 2))
            o[k++] = '<';
        else if (el == 2 && !memcmp(e, "gt", 2))
            o[k++] = '>';
        else if (el == 3 && !memcmp(e, "amp", 3))
            o[k++] = '&';
        else if (el == 4 && !memcmp(e, "quot", 4))
            o[k++] = '"';
        else if (el == 4 && !memcmp(e, "apos", 4))
            o[k++] = '\'';
        else if (el >= 2 && e[0] == '#') {
            uint32_t cp = 0;
            bool hex = e[1] == 'x' || e[1] == 'X';
            size_t i = hex ? 2 : 1;
            if (i >= el)
                return NULL;
            for (; i < el; i++) {
                int d = hex ? hexv(e[i]) : (e[i] >= '0' && e[i] <= '9' ? e[i] - '0' : -1);
                if (d < 0 || cp > 0x10FFFF)
                    return NULL;
                cp = cp * (hex ? 16 : 10) + (uint32_t)d;
            }
            if (cp == 0 || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
                return NULL;
            /* an encoded character is never longer than its reference */
            k += (uint32_t)utf8_encode(cp, o + k);
        } else {
            return NULL;
        }
        p = semi + 1;
    }
    o[k] = 0;
    *out_len = k;
    return o;
}

static void field(struct sl_worker *w, const char *name, uint32_t nlen, const char *val, uint32_t vlen)
{
    if (w->full)
        return;
    const struct event_sink *s = w->sink;
    uint8_t type = STOAT_V_STRING;
    if ((nlen == 7 && !memcmp(name, "EventID", 7)) || (nlen == 13 && !memcmp(name, "EventRecordID", 13))) {
        type = STOAT_V_NUMBER;
        for (uint32_t i = 0; i < vlen; i++)
            if (val[i] < '0' || val[i] > '9')
                type = STOAT_V_STRING;
        if (!vlen)
            type = STOAT_V_STRING;
    }
    if (!s->field(s->ctx, name, nlen, s->field_id(s->ctx, name, nlen), val, vlen, type))
        w->full = true;
}

/* The attributes of a start tag, p just after its name, up to its '>' or
 * '/' (where *pp is left): each gives Element_Attribute, the Name of a <Data>
 * names its field, namespace declarations give nothing. Returns NULL, or why
 * the tag is malformed. */
static const char *parse_attrs(struct sl_worker *w, struct sl_elem *e, const char **pp, const char *end)
{
    const char *p = *pp;
    const char *nm = e->name;
    uint32_t nl = e->name_len;
    bool is_data = nl == 4 && !memcmp(nm, "Data", 4);
    unsigned nattr = 0;
    for (;;) {
        const char *ws = p;
        while (p < end && xml_space(*p))
            p++;
        if (p >= end)
            return "unterminated start tag";
        if (*p == '>' || *p == '/') {
            *pp = p;
            return NULL;
        }
        if (p == ws)
            return "attributes must be separated by blanks";
        const char *an = p;
        if (!name_start(*p))
            return "bad attribute name";
        while (p < end && name_char(*p))
            p++;
        uint32_t anl = (uint32_t)(p - an);
        while (p < end && xml_space(*p))
            p++;
        if (p >= end || *p != '=')
            return "attribute without a value";
        p++;
        while (p < end && xml_space(*p))
            p++;
        if (p >= end || (*p != '"' && *p != '\''))
            return "attribute value not quoted";
        char q = *p++;
        const char *av = p;
        const char *close = memchr(p, q, (size_t)(end - p));
        if (!close)
            return "unterminated attribute value";
        if (memchr(av, '<', (size_t)(close - av)))
            return "'<' in an attribute value";
        uint32_t avl = (uint32_t)(close - av);
        p = close + 1;
        if (++nattr > SL_MAX_ATTRS)
            return "more than 16 attributes on an element";
        if (memchr(av, '&', avl) && !(av = unescape(w, av, avl, &avl)))
            return "bad entity in an attribute value";
        if (anl >= 5 && !memcmp(an, "xmlns", 5) && (anl == 5 || an[5] == ':'))
            continue; /* namespace declarations are not fields */
        if (is_data && anl == 4 && !memcmp(an, "Name", 4)) {
            e->field = av;
            e->field_len = avl;
            continue;
        }
        /* Element_Attribute */
        uint32_t fl = nl + 1 + anl;
        char *fname = w->sink->scratch(w->sink->ctx, fl + 1);
        memcpy(fname, nm, nl);
        fname[nl] = '_';
        memcpy(fname + nl + 1, an, anl);
        fname[fl] = 0;
        field(w, fname, fl, av, avl);
        e->attrs = true;
    }
}

/* Parses <Event ...> ... </Event> at p. Returns NULL on success, else why. */
static const char *parse_event(struct sl_worker *w, const char *p, const char *end)
{
    int depth = 0;
    unsigned elements = 0;
    bool done = false;
    while (p < end && !done) {
        if (*p != '<') {
            /* text: belongs to the innermost element */
            const char *lt = memchr(p, '<', (size_t)(end - p));
            if (!lt)
                return "text after the last element (a truncated event?)";
            if (depth == 0)
                return "text outside the Event element";
            struct sl_elem *e = &w->stack[depth - 1];
            bool blank = true;
            for (const char *q = p; q < lt && blank; q++)
                blank = xml_space(*q);
            if (!blank) {
                if (e->text)
                    return "text in pieces around child elements";
                e->text = p;
                e->text_len = (uint32_t)(lt - p);
                e->text_escaped = memchr(p, '&', (size_t)(lt - p)) != NULL;
            }
            p = lt;
            continue;
        }
        p++;
        if (p < end && *p == '/') {
            /* end tag */
            p++;
            const char *nm = p;
            while (p < end && name_char(*p))
                p++;
            uint32_t nl = (uint32_t)(p - nm);
            while (p < end && xml_space(*p))
                p++;
            if (p >= end || *p != '>')
                return "unterminated end tag";
            p++;
            if (depth == 0)
                return "end tag without a start tag";
            struct sl_elem *e = &w->stack[depth - 1];
            if (nl != e->name_len || memcmp(nm, e->name, nl) != 0)
                return "end tag does not match its start tag";
            if (!e->children && (e->text || !e->attrs || e->field)) {
                const char *v = e->text ? e->text : "";
                uint32_t vl = e->text ? e->text_len : 0;
                if (e->text_escaped && !(v = unescape(w, e->text, e->text_len, &vl)))
                    return "bad entity in element text";
                if (e->field)
                    field(w, e->field, e->field_len, v, vl);
                else
                    field(w, e->name, e->name_len, v, vl);
            }
            depth--;
            if (depth == 0)
                done = true;
            continue;
        }
        if (p < end && (*p == '!' || *p == '?'))
            return "comments, CDATA, declarations and processing instructions are not part of a Sysmon event";
        /* start tag */
        const char *nm = p;
        if (p >= end || !name_start(*p))
            return "bad element name";
        while (p < end && name_char(*p))
            p++;
        uint32_t nl = (uint32_t)(p - nm);
        if (depth == 0 && !(nl == 5 && !memcmp(nm, "Event", 5)))
            return "the outer element is not Event";
        if (depth == SL_MAX_DEPTH)
            return "elements nested deeper than 8";
        if (++elements > SL_MAX_ELEMENTS)
            return "more than 1024 elements";
        if (depth > 0) {
            struct sl_elem *parent = &w->stack[depth - 1];
            if (parent->text)
                return "text in pieces around child elements";
            parent->children = true;
        }
        struct sl_elem *e = &w->stack[depth];
        memset(e, 0, sizeof(*e));
        e->name = nm;
        e->name_len = nl;
        const char *why = parse_attrs(w, e, &p, end);
        if (why)
            return why;
        if (*p == '/') {
            p++;
            if (p >= end || *p != '>')
                return "bad empty-element tag";
            p++;
            /* <X/>: a leaf without text */
            if (!e->attrs || e->field) {
                if (e->field)
                    field(w, e->field, e->field_len, "", 0);
                else
                    field(w, nm, nl, "", 0);
            }
            if (depth == 0)
                done = true;
            continue;
        }
        p++; /* '>' */
        depth++;
    }
    if (!done)
        return "the Event element is not closed (a truncated event?)";
    return NULL;
}

static void sl_parse(void *ws, struct unit *u, const struct event_sink *sink)
{
    struct sl_worker *w = ws;
    w->sink = sink;
    w->u = u;
    const char *p = u->data, *end = u->data + u->len;
    uint64_t line = u->first_line, record = 0;
    while (p < end) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        /* the event: the first "<Event" followed by '>' or a blank */
        const char *ev = p;
        for (;;) {
            ev = memmem(ev, (size_t)(le - ev), "<Event", 6);
            if (!ev || (le - ev > 6 && (ev[6] == '>' || xml_space(ev[6]))))
                break;
            ev += 6;
        }
        if (ev) {
            const char *e = le;
            while (e > ev && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
                e--;
            u->records++;
            record++;
            sink->begin(sink->ctx, record, line, 0);
            w->full = false;
            const char *why = parse_event(w, ev, e);
            if (why) {
                char msg[200];
                snprintf(msg, sizeof(msg), "malformed Sysmon event, line skipped: %s", why);
                sink->bad(sink->ctx, line, 0, false, false, msg);
                u->skipped++;
            } else {
                if (w->full)
                    sink->bad(sink->ctx, line, 0, false, true, "event has too many fields; the rest were not read");
                sink->end(sink->ctx);
                u->events++;
            }
        }
        line++;
        p = le + 1;
    }
}

const struct reader_ops reader_sysmon_linux = {
    .name = "sysmon-linux",
    .probe = sl_probe,
    .open = sl_open,
    .fill = sl_fill,
    .close = sl_close,
    .worker_create = sl_worker_create,
    .worker_destroy = sl_worker_destroy,
    .parse = sl_parse,
};
