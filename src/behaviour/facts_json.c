/* Facts as compact JSON, one flat object each, for the bus between the
 * fleet's partition workers and its cross-host role (facts.h).
 *
 * Flat on purpose: every value is a string, an integer, a boolean or null,
 * so the reader is a small loop with its caps stated, not a general JSON
 * parser. What it reads comes off the network: every string is bounded,
 * escapes are decoded (\uXXXX to UTF-8; a lone surrogate becomes U+FFFD),
 * a key it does not know is skipped (a newer writer may add some), and any
 * error names the byte offset and why. */
#include "behaviour/facts.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/text.h"

/* A string the reader takes back: escaped, it is at most FACTS_STR_MAX
 * bytes (cut after a whole escape or UTF-8 character). The cap is on the
 * escaped form because escapes grow: a byte that is not UTF-8 is written
 * \ufffd and read back as three bytes, a control byte is six; capped so,
 * the decoded string is never longer than the reader's cap, and eleven
 * strings stay under FACTS_JSON_MAX. */
static void put_str(struct buf *b, const char *key, const char *v)
{
    if (!v)
        return;
    buf_printf(b, ",\"%s\":\"", key);
    size_t start = b->len;
    buf_json_escape(b, v, strlen(v));
    if (b->len - start > FACTS_STR_MAX) {
        const unsigned char *e = (const unsigned char *)b->p + start;
        size_t at = 0;
        for (;;) {
            size_t step = e[at] == '\\' ? (e[at + 1] == 'u' ? 6 : 2) : 1;
            if (e[at] >= 0xF0)
                step = 4;
            else if (e[at] >= 0xE0)
                step = 3;
            else if (e[at] >= 0xC0)
                step = 2;
            if (at + step > FACTS_STR_MAX)
                break;
            at += step;
        }
        b->len = start + at;
    }
    buf_putc(b, '"');
}

static void put_int(struct buf *b, const char *key, int64_t v)
{
    buf_printf(b, ",\"%s\":%lld", key, (long long)v);
}

void facts_json(const struct cross_fact *f, struct buf *b)
{
    switch (f->kind) {
    case CROSS_FACT_LOGON: {
        const struct cross_logon *l = &f->logon;
        buf_puts(b, "{\"fact\":\"logon\"");
        put_str(b, "reporter", l->reporter);
        put_str(b, "account", l->account);
        put_str(b, "src_host", l->src_host);
        put_str(b, "src_addr", l->src_addr);
        put_str(b, "dst_host", l->dst_host);
        put_str(b, "dst_logon", l->dst_logon);
        put_int(b, "time", l->time_ns);
        put_int(b, "via", l->via);
        break;
    }
    case CROSS_FACT_ALERT: {
        const struct cross_alert *a = &f->alert;
        buf_puts(b, "{\"fact\":\"alert\"");
        put_int(b, "id", (int64_t)a->id);
        put_str(b, "host", a->host);
        put_int(b, "time", a->time_ns);
        put_str(b, "rule_id", a->rule_id);
        put_str(b, "rule", a->rule_title);
        put_int(b, "level", a->level);
        put_int(b, "tactics", a->tactics);
        put_str(b, "account", a->account);
        put_str(b, "logon", a->logon_id);
        put_str(b, "image", a->image);
        put_str(b, "parent", a->parent_image);
        break;
    }
    case CROSS_FACT_ADDRESS:
        buf_puts(b, "{\"fact\":\"address\"");
        put_str(b, "host", f->host);
        put_str(b, "addr", f->addr);
        break;
    case CROSS_FACT_MATCH: {
        const struct cross_match *m = &f->match;
        size_t start = b->len;
        buf_puts(b, "{\"fact\":\"match\"");
        put_str(b, "host", m->host);
        put_str(b, "rule_id", m->rule_id);
        put_int(b, "time", m->time_ns);
        put_str(b, "summary", m->summary);
        /* fields as "name", "value" pairs in order; whole pairs only, and
         * the fact stays under the reader's cap (a field left out makes
         * the match not count for the correlations grouped by it) */
        for (size_t i = 0; i < m->nfields && i < CROSS_MATCH_FIELDS; i++) {
            if (b->len - start + 2 * FACTS_STR_MAX + 32 > FACTS_JSON_MAX)
                break;
            put_str(b, "name", m->names[i]);
            put_str(b, "value", m->values[i] ? m->values[i] : "");
            if (m->types[i])
                put_int(b, "type", m->types[i]);
        }
        break;
    }
    }
    buf_putc(b, '}');
}

/* ---------------------------------------------------------------- reading */

struct rd {
    const char *p;
    size_t n, at;
    struct facts_store *st;
    char *why;
    size_t whylen;
};

static bool fail(struct rd *r, const char *msg)
{
    snprintf(r->why, r->whylen, "byte %zu: %s", r->at, msg);
    return false;
}

static void ws(struct rd *r)
{
    while (r->at < r->n && (r->p[r->at] == ' ' || r->p[r->at] == '\t' || r->p[r->at] == '\r' || r->p[r->at] == '\n'))
        r->at++;
}

static bool lit(struct rd *r, char c)
{
    ws(r);
    if (r->at < r->n && r->p[r->at] == c) {
        r->at++;
        return true;
    }
    return false;
}

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

static bool hex4(struct rd *r, uint32_t *out)
{
    if (r->n - r->at < 4)
        return fail(r, "short \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) {
        int h = hexval(r->p[r->at + (size_t)i]);
        if (h < 0)
            return fail(r, "bad \\u escape");
        v = v << 4 | (uint32_t)h;
    }
    r->at += 4;
    *out = v;
    return true;
}

/* A string into the store; *out points at it (NUL-terminated). */
static bool str(struct rd *r, const char **out)
{
    if (!lit(r, '"'))
        return fail(r, "a string was expected");
    struct facts_store *st = r->st;
    char *dst = st->bytes + st->used;
    size_t len = 0, room = sizeof(st->bytes) - st->used;
    for (;;) {
        if (r->at >= r->n)
            return fail(r, "unterminated string");
        unsigned char c = (unsigned char)r->p[r->at++];
        char enc[4];
        size_t el = 1;
        enc[0] = (char)c;
        if (c == '"')
            break;
        if (c < 0x20)
            return fail(r, "control byte in a string");
        if (c == '\\') {
            if (r->at >= r->n)
                return fail(r, "unterminated escape");
            char e = r->p[r->at++];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t";
            const char *k = strchr(from, e);
            if (e && k) {
                enc[0] = to[k - from];
            } else if (e == 'u') {
                uint32_t cp;
                if (!hex4(r, &cp))
                    return false;
                if (cp >= 0xD800 && cp <= 0xDBFF && r->n - r->at >= 6 && r->p[r->at] == '\\' &&
                    r->p[r->at + 1] == 'u') {
                    uint32_t lo;
                    r->at += 2;
                    if (!hex4(r, &lo))
                        return false;
                    cp = lo >= 0xDC00 && lo <= 0xDFFF ? 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00) : 0xFFFD;
                } else if (cp >= 0xD800 && cp <= 0xDFFF) {
                    cp = 0xFFFD;
                }
                el = utf8_encode(cp, enc);
            } else {
                return fail(r, "unknown escape");
            }
        }
        if (len + el + 1 > room || len + el > FACTS_STR_MAX)
            return fail(r, "string too long");
        memcpy(dst + len, enc, el);
        len += el;
    }
    dst[len] = 0;
    st->used += len + 1;
    *out = dst;
    return true;
}

static bool num(struct rd *r, int64_t *out)
{
    ws(r);
    size_t s = r->at;
    if (r->at < r->n && r->p[r->at] == '-')
        r->at++;
    while (r->at < r->n && r->p[r->at] >= '0' && r->p[r->at] <= '9')
        r->at++;
    if (!parse_int64(r->p + s, r->at - s, out))
        return fail(r, "an integer was expected");
    return true;
}

/* A value this reader does not keep (a key it does not know). */
static bool skip_value(struct rd *r)
{
    ws(r);
    if (r->at < r->n && r->p[r->at] == '"') {
        const char *ignored;
        size_t used = r->st->used;
        bool ok = str(r, &ignored);
        r->st->used = used;
        return ok;
    }
    static const char *const words[] = {"true", "false", "null"};
    for (int i = 0; i < 3; i++) {
        size_t wl = strlen(words[i]);
        if (r->n - r->at >= wl && memcmp(r->p + r->at, words[i], wl) == 0) {
            r->at += wl;
            return true;
        }
    }
    int64_t v;
    return num(r, &v);
}

static bool is(const char *key, const char *name)
{
    return strcmp(key, name) == 0;
}

/* A match's key: "name" starts a field (past CROSS_MATCH_FIELDS, refused),
 * "value" gives the last one's value. */
static bool match_field(struct rd *r, const char *key, struct cross_match *m)
{
    const char **s = is(key, "host")      ? &m->host
                     : is(key, "rule_id") ? &m->rule_id
                     : is(key, "summary") ? &m->summary
                                          : NULL;
    if (s)
        return str(r, s);
    if (is(key, "time") || is(key, "type")) {
        int64_t v;
        if (!num(r, &v))
            return false;
        if (is(key, "time"))
            m->time_ns = v;
        else if (!m->nfields || v < STOAT_V_STRING || v > STOAT_V_NULL)
            return fail(r, "a field type out of range, or before its name");
        else
            m->types[m->nfields - 1] = (uint8_t)v;
        return true;
    }
    if (is(key, "name")) {
        if (m->nfields >= CROSS_MATCH_FIELDS)
            return fail(r, "more fields than a match carries");
        m->values[m->nfields] = "";
        m->types[m->nfields] = STOAT_V_STRING;
        return str(r, &m->names[m->nfields++]);
    }
    if (is(key, "value")) {
        if (!m->nfields)
            return fail(r, "a value before its name");
        return str(r, &m->values[m->nfields - 1]);
    }
    return skip_value(r);
}

/* One key's value into f (by the fact's kind, known from "fact" first). */
static bool field_of(struct rd *r, const char *key, struct cross_fact *f)
{
    struct cross_logon *l = &f->logon;
    struct cross_alert *a = &f->alert;
    const char **s = NULL;
    int64_t *n = NULL, v = 0;
    if (f->kind == CROSS_FACT_LOGON)
        s = is(key, "reporter")    ? &l->reporter
            : is(key, "account")   ? &l->account
            : is(key, "src_host")  ? &l->src_host
            : is(key, "src_addr")  ? &l->src_addr
            : is(key, "dst_host")  ? &l->dst_host
            : is(key, "dst_logon") ? &l->dst_logon
                                   : NULL;
    else if (f->kind == CROSS_FACT_ALERT)
        s = is(key, "host")      ? &a->host
            : is(key, "rule_id") ? &a->rule_id
            : is(key, "rule")    ? &a->rule_title
            : is(key, "account") ? &a->account
            : is(key, "logon")   ? &a->logon_id
            : is(key, "image")   ? &a->image
            : is(key, "parent")  ? &a->parent_image
                                 : NULL;
    else if (f->kind == CROSS_FACT_MATCH)
        return match_field(r, key, &f->match);
    else
        s = is(key, "host") ? &f->host : is(key, "addr") ? &f->addr : NULL;
    if (s)
        return str(r, s);
    if (is(key, "time") || is(key, "via") || is(key, "id") || is(key, "level") || is(key, "tactics"))
        n = &v;
    if (!n)
        return skip_value(r);
    if (!num(r, n))
        return false;
    if (is(key, "time")) {
        l->time_ns = v;
        a->time_ns = v;
    } else if (is(key, "via")) {
        l->via = (unsigned)(v & 0xffff);
    } else if (is(key, "id")) {
        a->id = (uint64_t)v;
    } else if (is(key, "level")) {
        if (v < 0 || v >= STOAT_LEVEL_COUNT)
            return fail(r, "level out of range");
        a->level = (enum stoat_level)v;
    } else {
        a->tactics = (uint32_t)v;
    }
    return true;
}

bool facts_parse(const char *json, size_t n, struct cross_fact *f, struct facts_store *st, char *why, size_t whylen)
{
    struct rd r = {.p = json, .n = n, .st = st, .why = why, .whylen = whylen};
    st->used = 0;
    memset(f, 0, sizeof(*f));
    f->logon.time_ns = f->alert.time_ns = f->match.time_ns = INT64_MIN;
    if (n > FACTS_JSON_MAX)
        return fail(&r, "fact longer than its cap");
    const char *key, *kind;
    if (!lit(&r, '{') || !str(&r, &key) || !is(key, "fact") || !lit(&r, ':') || !str(&r, &kind))
        return fail(&r, "a fact starts {\"fact\":KIND");
    f->kind = is(kind, "logon")     ? CROSS_FACT_LOGON
              : is(kind, "alert")   ? CROSS_FACT_ALERT
              : is(kind, "address") ? CROSS_FACT_ADDRESS
              : is(kind, "match")   ? CROSS_FACT_MATCH
                                    : 0;
    if (!f->kind)
        return fail(&r, "unknown kind of fact");
    while (lit(&r, ',')) {
        size_t used = st->used;
        if (!str(&r, &key) || !lit(&r, ':'))
            return fail(&r, "a key and ':' were expected");
        char k[32];
        snprintf(k, sizeof(k), "%s", key);
        st->used = used; /* the key's bytes are not kept */
        if (!field_of(&r, k, f))
            return false;
    }
    if (!lit(&r, '}'))
        return fail(&r, "',' or '}' was expected");
    ws(&r);
    if (r.at != n)
        return fail(&r, "bytes after the fact");
    return true;
}
