/* EVTX record -> one line of JSON, for `stoat dump` and debugging.
 *
 * Why this shape: it is the flattened view the rules see, so what a user
 * dumps is what a rule can match. Integers and booleans are JSON numbers and
 * booleans, everything else a string; a name that repeats (unnamed <Data>)
 * becomes an array so no value is lost. Text from the file is untrusted:
 * control characters are escaped and invalid UTF-8 becomes \ufffd, so the
 * output is always valid JSON.
 */
#include "readers/evtx/evtx.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct jbuf {
    char **buf;
    size_t *len, *cap;
};

static int reserve(struct jbuf *j, size_t n)
{
    if (*j->len + n <= *j->cap)
        return 0;
    size_t c = *j->cap ? *j->cap : 1024;
    while (c < *j->len + n)
        c *= 2;
    char *p = realloc(*j->buf, c);
    if (!p)
        return -1;
    *j->buf = p;
    *j->cap = c;
    return 0;
}

static int put(struct jbuf *j, const char *s, size_t n)
{
    if (reserve(j, n))
        return -1;
    memcpy(*j->buf + *j->len, s, n);
    *j->len += n;
    return 0;
}

/* Length of the valid UTF-8 sequence at p (1-4), or 0 if invalid. */
static size_t utf8_seq(const unsigned char *p, size_t n)
{
    unsigned c = p[0];
    size_t len;
    uint32_t cp;
    if (c < 0x80)
        return 1;
    if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        cp = cp << 6 | (p[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) || (len == 4 && (cp < 0x10000 || cp > 0x10ffff)))
        return 0;
    return len;
}

static int put_str(struct jbuf *j, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    /* worst case: every byte becomes \ufffd (6 bytes) */
    if (reserve(j, 6 * n + 2))
        return -1;
    char *o = *j->buf + *j->len;
    *o++ = '"';
    size_t i = 0;
    while (i < n) {
        unsigned c = p[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
            *o++ = (char)c;
            i++;
            continue;
        }
        if (c < 0x80) {
            *o++ = '\\';
            switch (c) {
            case '"': *o++ = '"'; break;
            case '\\': *o++ = '\\'; break;
            case '\n': *o++ = 'n'; break;
            case '\r': *o++ = 'r'; break;
            case '\t': *o++ = 't'; break;
            case '\b': *o++ = 'b'; break;
            case '\f': *o++ = 'f'; break;
            default: o += sprintf(o, "u%04x", c); break;
            }
            i++;
            continue;
        }
        size_t l = utf8_seq(p + i, n - i);
        if (!l) {
            memcpy(o, "\\ufffd", 6);
            o += 6;
            i++;
            continue;
        }
        memcpy(o, p + i, l);
        o += l;
        i += l;
    }
    *o++ = '"';
    *j->len = (size_t)(o - *j->buf);
    return 0;
}

static int put_value(struct jbuf *j, const struct evtx_field *f)
{
    switch (f->type) {
    case EVTX_V_INT:
    case EVTX_V_UINT:
    case EVTX_V_BOOL:
        if (f->value_len)
            return put(j, f->value, f->value_len);
        break;
    case EVTX_V_NULL: return put(j, "null", 4);
    default: break;
    }
    return put_str(j, f->value, f->value_len);
}

static bool same_name(const struct evtx_field *a, const struct evtx_field *b)
{
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

int evtx_record_to_json(const struct evtx_record *rec, char **buf, size_t *len, size_t *cap)
{
    struct jbuf j = {buf, len, cap};
    char head[160];
    int n = snprintf(head, sizeof head, "{\"_record_id\":%" PRIu64 ",\"_chunk\":%" PRIu32 ",\"_offset\":%" PRIu64 "%s",
                     rec->record_id, rec->chunk, rec->file_offset, rec->recovered ? ",\"_recovered\":true" : "");
    if (put(&j, head, (size_t)n))
        return -1;
    /* Grouping repeated names is quadratic: fine for the tens of fields of
       a real record, skipped for huge hostile ones (names then repeat). */
    bool group = rec->nfields <= 512;
    for (size_t i = 0; i < rec->nfields; i++) {
        const struct evtx_field *f = &rec->fields[i];
        bool dup_before = false;
        size_t count = group ? 0 : 1;
        for (size_t k = 0; group && k < rec->nfields && !dup_before; k++) {
            if (!same_name(f, &rec->fields[k]))
                continue;
            if (k < i)
                dup_before = true;
            count++;
        }
        if (dup_before)
            continue;
        if (put(&j, ",", 1) || put_str(&j, f->name, f->name_len) || put(&j, ":", 1))
            return -1;
        if (count == 1) {
            if (put_value(&j, f))
                return -1;
            continue;
        }
        if (put(&j, "[", 1))
            return -1;
        bool first = true;
        for (size_t k = i; k < rec->nfields; k++) {
            if (!same_name(f, &rec->fields[k]))
                continue;
            if ((!first && put(&j, ",", 1)) || put_value(&j, &rec->fields[k]))
                return -1;
            first = false;
        }
        if (put(&j, "]", 1))
            return -1;
    }
    return put(&j, "}\n", 2);
}
