/* The JSON reader's parser, on a worker: one record, a JSON object, into
 * fields. A small recursive-descent parser (depth capped at JSON_MAX_DEPTH;
 * an object's nested objects are read in its own loop, arrays by calls)
 * walks the tree of names (json_names.c) as it goes, trying each node's
 * guess of the next key against the input before it scans and hashes one.
 * String values without escapes are slices of the unit buffer; escaped ones
 * are decoded into the event scratch, and keep where their escaped bytes are
 * (ev_field.raw_len), which the rendering may copy as they are.
 * {"Name": "X", "#text": "v"}, the way xmltodict writes <Data Name="X">v</Data>,
 * becomes the field X.
 *
 * Why the scanner (blanks, strings, numbers) and the parser share a file:
 * scanning strings is most of what a record costs, so parse_object inlines
 * the scanner's fast paths (sixteen bytes at a time where SSE2 is there)
 * into its loop; the rare slow paths (escapes, long runs of blanks) are
 * kept out of line. */
#include <stdio.h>
#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "readers/json_int.h"
#include "util/text.h"

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
        unsigned m = (unsigned)_mm_movemask_epi8(b) ^ 0xFFFFu; /* the bytes that are not blank */
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

const char *json_skip_ws(const char *p, const char *end)
{
    return skip_ws(p, end);
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
    if (end - p >= 16) {
        /* the loop tests against the last block's start: one compare a block */
        const char *last = end - 16;
        const __m128i quote = _mm_set1_epi8('"'), bslash = _mm_set1_epi8('\\');
        do {
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)p);
            int m = _mm_movemask_epi8(_mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, bslash)));
            if (m)
                return p + __builtin_ctz((unsigned)m);
            p += 16;
        } while (p <= last);
    }
#endif
    while (p < end && *p != '"' && *p != '\\')
        p++;
    return p;
}

/* What each single-byte escape (\" \\ \/ \b \f \n \r \t) stands for; 0: none
 * (\u, or a bad escape). */
static const char single_escape[256] = {
    ['"'] = '"', ['\\'] = '\\', ['/'] = '/', ['b'] = '\b', ['f'] = '\f', ['n'] = '\n', ['r'] = '\r', ['t'] = '\t',
};

/* The single-byte escapes the rendering does not write as they are (it
 * writes the bytes they stand for, or \u00XX); with \u, the ones after
 * which a string's escaped bytes are not kept (ev_field.raw_len). */
static const bool unkept_escape[256] = {['/'] = 1, ['b'] = 1, ['f'] = 1};

/* The closing quote of the string that starts at start, as the escapes
 * leave it (a backslash and the byte after it are skipped), or NULL. */
static const char *string_end(const char *start, const char *end)
{
    const char *q = find_special(start, end);
    while (q < end && *q != '"') {
        q += 2; /* the backslash and the character it escapes */
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
                                                           const char *end, const char **val, uint32_t *vlen,
                                                           uint32_t *raw_len)
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
#ifdef __SSE2__
    /* the run before the first backslash is mostly short ("C:", "CORP"):
     * one store of sixteen bytes when the record has them (out has room) */
    if (n <= 16 && end - start >= 16)
        _mm_storeu_si128((__m128i *)(void *)out, _mm_loadu_si128((const __m128i *)(const void *)start));
    else
#endif
        memcpy(out, start, n);
    const char *bad = NULL, *why = NULL;
    bool unkept = false; /* an escape the rendering writes otherwise */
    for (;;) {
        if (p >= end)
            break; /* no closing quote (string_end decides below) */
        if (*p == '"')
            goto done;
        /* a backslash, and the byte it escapes: most are one of the
         * single-byte escapes (the backslashes of Windows paths), looked up */
        if (end - p < 2)
            break;
        p++;
        char c = *p++;
        char single = single_escape[(unsigned char)c];
        if (single) {
            out[n++] = single;
            unkept |= unkept_escape[(unsigned char)c];
        } else if (c == 'u') {
            unkept = true;
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
                uint32_t lo =
                    (l0 < 0 || l1 < 0 || l2 < 0 || l3 < 0) ? 0 : (uint32_t)(l0 << 12 | l1 << 8 | l2 << 4 | l3);
                if (lo >= 0xDC00 && lo <= 0xDFFF) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp <= 0xDFFF)
                cp = 0xFFFD; /* a lone surrogate */
            n += utf8_encode(cp, out + n);
        } else {
            bad = p - 1;
            why = "bad escape in string";
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
    char *copy;
    if (!unkept) {
        /* the input's escaped bytes (their address before the value): the
         * rendering copies them when no byte between the escapes needs
         * escaping or checking */
        copy = w->sink->scratch(w->sink->ctx, sizeof(start) + n + 1);
        memcpy(copy, &start, sizeof(start));
        copy += sizeof(start);
        *raw_len = (uint32_t)(p - start);
    } else {
        copy = w->sink->scratch(w->sink->ctx, n + 1);
        *raw_len = 0;
    }
    memcpy(copy, out, n);
    copy[n] = 0;
    *val = copy;
    *vlen = (uint32_t)n;
    return p + 1;
}

/* Parses a string starting after the opening quote. Returns the position
 * after the closing quote, and the decoded value (a slice when unescaped). */
static inline const char *parse_string(struct json_worker *w, const char *p, const char *end, const char **val,
                                       uint32_t *vlen, uint32_t *raw_len)
{
    const char *q = find_special(p, end);
    if (q < end && *q == '"') {
        *val = p;
        *vlen = (uint32_t)(q - p);
        *raw_len = 0;
        return q + 1;
    }
    return parse_escaped(w, p, q, end, val, vlen, raw_len);
}

/* Room for one more field of the record: false when it has
 * EVENT_MAX_FIELDS already. */
static bool fields_grow(struct json_worker *w)
{
    size_t n = (size_t)(w->fs_at - w->fs), cap = (size_t)(w->fs_end - w->fs);
    if (cap >= EVENT_MAX_FIELDS)
        return false;
    cap = cap ? 2 * cap : 64;
    if (cap > EVENT_MAX_FIELDS)
        cap = EVENT_MAX_FIELDS;
    w->fs = xrealloc(w->fs, cap * sizeof(*w->fs));
    w->fs_at = w->fs + n;
    w->fs_end = w->fs + cap;
    return true;
}

static inline void emit_raw(struct json_worker *w, struct jnode *n, const char *val, uint32_t vlen, uint8_t type,
                            uint32_t raw_len)
{
    if (n->state != NS_READY) {
        if (n->state == NS_SILENT)
            return;
        json_resolve(w, n);
    }
    if (__builtin_expect(w->fs_at == w->fs_end, 0) && !fields_grow(w)) {
        w->too_many = true;
        return;
    }
    ev_field_set_named(w->fs_at++, &n->field, val, vlen, type, n->name_plain, raw_len);
}

/* A value without escaped bytes kept (ev_field.raw_len): most. */
static inline void emit(struct json_worker *w, struct jnode *n, const char *val, uint32_t vlen, uint8_t type)
{
    emit_raw(w, n, val, vlen, type, 0);
}

static const char *parse_value(struct json_worker *w, struct jnode *n, const char *p, const char *end, int depth);

/* The bytes a number may go on with: digits . e E + - */
static const bool number_byte[256] = {
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1, ['.'] = 1, ['e'] = 1, ['E'] = 1, ['+'] = 1, ['-'] = 1,
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
    uint32_t nlen = 0, vlen = 0, vraw = 0;
    uint8_t vtype = STOAT_V_STRING;
    for (int k = 0;; k++) {
        q = skip_ws(q, end);
        bool is_name = kind == KK_NAME, is_text = kind == KK_TEXT;
        if (!is_name && !is_text)
            return NULL;
        if (q < end && *q == '"') {
            const char *v;
            uint32_t vl, raw;
            q = parse_string(w, q + 1, end, &v, &vl, &raw);
            if (!q)
                return NULL;
            if (is_name) {
                name = v;
                nlen = vl;
            } else {
                val = v;
                vlen = vl;
                vraw = raw;
            }
        } else if (is_text && q < end && (*q == '-' || (*q >= '0' && *q <= '9'))) {
            const char *st = q;
            while (q < end &&
                   (*q == '-' || *q == '+' || *q == '.' || *q == 'e' || *q == 'E' || (*q >= '0' && *q <= '9')))
                q++;
            val = st;
            vlen = (uint32_t)(q - st);
            vraw = 0;
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
        uint32_t klen, kraw;
        q = parse_string(w, q + 1, end, &key, &klen, &kraw);
        if (!q)
            return NULL;
        q = skip_ws(q, end);
        if (q >= end || *q != ':')
            return NULL;
        q++;
        kind = json_key_kind(key, klen);
    }
    if (q >= end || *q != '}' || !name || !val)
        return NULL;
    if (nlen >= PATH_MAX_BYTES)
        return NULL;
    /* emit under the name alone, as <Data Name="X"> would be */
    struct jnode tmp;
    struct jnode *n = json_child_of(w, &w->named, name, nlen, &tmp);
    emit_raw(w, n, val, vlen, vtype, vraw);
    *done = true;
    return q + 1;
}

/* The key at p, a quoted name and its ':' (the guess missed): returns where
 * its value starts, or NULL. */
static const char *read_key(struct json_worker *w, const char *p, const char *end, const char **key, uint32_t *klen)
{
    if (p >= end || *p != '"') {
        jerr(w, p, "expected a quoted name");
        return NULL;
    }
    uint32_t raw;
    p = parse_string(w, p + 1, end, key, klen, &raw);
    if (!p)
        return NULL;
    if (!expect(&p, end, ':')) {
        jerr(w, p, "expected ':'");
        return NULL;
    }
    return p + 1;
}

/* Does the key at *p (after any blanks) hold g's guess? Then *p is past it
 * and its ':'. The guess is tried before blanks are skipped, as compact
 * records have none. */
static inline __attribute__((always_inline)) bool take_guess(const struct jnode *g, const char **p, const char *end)
{
    if (g && json_guess_holds(g, *p, end)) {
        *p += g->qlen;
        return true;
    }
    if (*p < end && (unsigned char)**p <= ' ') {
        *p = skip_ws(*p, end);
        if (g && json_guess_holds(g, *p, end)) {
            *p += g->qlen;
            return true;
        }
    }
    return false;
}

/* The member of obj named key, found or made; a cached one becomes the guess
 * kept at *guess. NULL when its path would be too long. */
static struct jnode *member(struct json_worker *w, struct jnode *obj, struct jnode **guess, const char *key,
                            uint32_t klen, struct jnode *tmp)
{
    struct jnode *child = json_child_of(w, obj, key, klen, tmp);
    if (!child) {
        jerr(w, key, "field name path too long");
        return NULL;
    }
    if (child->serial)
        *guess = child;
    return child;
}

/* An object, p after its '{', and the objects nested in it: they are read in
 * the same loop (the worker's levels keep where each was), not by a call a
 * level, which cost more than most of their members. */
static inline __attribute__((always_inline)) const char *parse_object_in(struct json_worker *w, struct jnode *obj,
                                                                         const char *p, const char *end, int depth,
                                                                         const bool compact)
{
    const int base = depth;
    struct jnode **guess; /* where the guess for the next key is kept */
    struct jnode *child;
    const char *lim; /* past the depth cap every value is refused (by parse_value) */
    const char *key;
    uint32_t klen;
open: /* p is after '{' */
    guess = &obj->first;
    lim = depth < JSON_MAX_DEPTH ? end : NULL;
    child = *guess;
    /* the first key: the object may be empty, or xmltodict's named value */
    {
        enum key_kind kind;
        if (take_guess(child, &p, end)) {
            kind = (enum key_kind)child->kind;
        } else {
            if (p < end && *p == '}') {
                p++;
                goto close;
            }
            if (!(p = read_key(w, p, end, &key, &klen)))
                return NULL;
            kind = json_key_kind(key, klen);
            child = NULL;
        }
        if (kind == KK_NAME || kind == KK_TEXT) {
            bool named;
            const char *after = try_named_value(w, kind, p, end, &named);
            if (named) {
                p = after;
                goto close;
            }
        }
        if (!child && !(child = member(w, obj, guess, key, klen, &w->levels[depth].tmp)))
            return NULL;
    }
    for (;;) {
        /* the value: strings, numbers and objects without going through
         * parse_value; blanks before it skipped only when there are some */
        for (;;) {
            char c = p < lim ? *p : 0;
            if (c == '"') {
                /* parse_string by hand: the slice's bounds stay in registers */
                const char *q = find_special(p + 1, end);
                if (q < end && *q == '"') {
                    emit(w, child, p + 1, (uint32_t)(q - p - 1), STOAT_V_STRING);
                    p = q + 1;
                } else {
                    const char *v;
                    uint32_t vl, raw;
                    p = parse_escaped(w, p + 1, q, end, &v, &vl, &raw);
                    if (!p)
                        return NULL;
                    emit_raw(w, child, v, vl, STOAT_V_STRING, raw);
                }
            } else if ((c >= '0' && c <= '9') || c == '-') {
                const char *st = p;
                p = scan_number(p, end);
                emit(w, child, st, (uint32_t)(p - st), STOAT_V_NUMBER);
            } else if (c == '{') {
                /* a level down: this object is taken up again at close */
                w->levels[depth].obj = obj;
                w->levels[depth].child = child;
                obj = child;
                depth++;
                p++;
                goto open;
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
    next:
        /* a child that is not cached has NULL here, and what the next key
         * writes there is never read: its level's tmp is reused */
        guess = &child->next;
        child = *guess;
        /* the comma and the guessed key in one compare (compact records) */
        if (compact && child && json_comma_guess_holds(child, p, end)) {
            p += child->qlen + 1;
            continue;
        }
        if (!expect(&p, end, ',')) {
            if (p < end && *p == '}') {
                p++;
                goto close;
            }
            jerr(w, p, "expected ',' or '}'");
            return NULL;
        }
        p++;
        if (!take_guess(child, &p, end)) {
            if (!(p = read_key(w, p, end, &key, &klen)))
                return NULL;
            if (!(child = member(w, obj, guess, key, klen, &w->levels[depth].tmp)))
                return NULL;
        }
    }
close: /* p is after the object's '}' */
    if (depth == base)
        return p;
    depth--;
    obj = w->levels[depth].obj;
    child = w->levels[depth].child;
    lim = depth < JSON_MAX_DEPTH ? end : NULL;
    goto next;
}

/* parse_object_in made twice: for records without blanks after their
 * commas and colons, which try the comma and the next key in one compare,
 * and for the others, which would only pay for that compare failing. */
static __attribute__((noinline)) const char *parse_object_compact(struct json_worker *w, struct jnode *obj,
                                                                  const char *p, const char *end, int depth)
{
    return parse_object_in(w, obj, p, end, depth, true);
}

static __attribute__((noinline)) const char *parse_object_blank(struct json_worker *w, struct jnode *obj, const char *p,
                                                                const char *end, int depth)
{
    return parse_object_in(w, obj, p, end, depth, false);
}

static const char *parse_object(struct json_worker *w, struct jnode *obj, const char *p, const char *end, int depth)
{
    return w->compact ? parse_object_compact(w, obj, p, end, depth) : parse_object_blank(w, obj, p, end, depth);
}

/* Is the record at p ('{') compact: its first key quoted right after the
 * brace, its value right after the colon (json.dumps's ", " and ": " are
 * not)? Records of a file are mostly all one or the other. */
static bool record_compact(const char *p, const char *end)
{
    if (end - p < 2 || p[1] != '"')
        return false;
    const char *q = find_special(p + 2, end);
    return end - q >= 3 && q[0] == '"' && q[1] == ':' && !is_blank(q[2]);
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
        uint32_t vl, raw;
        p = parse_string(w, p + 1, end, &v, &vl, &raw);
        if (p)
            emit_raw(w, n, v, vl, STOAT_V_STRING, raw);
        return p;
    }
    case '{': return parse_object(w, n, p + 1, end, depth);
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

/* Steps over one well-formed JSON value that is not looked at (a record
 * that is not an object); *what names its kind. NULL when it is malformed. */
static const char *skip_value(const char *p, const char *end, int depth, const char **what)
{
    p = skip_ws(p, end);
    if (p >= end || depth > JSON_MAX_DEPTH)
        return NULL;
    char c = *p;
    if (c == '"') {
        *what = "string";
        p = string_end(p + 1, end);
        return p ? p + 1 : NULL;
    }
    if (c == '-' || (c >= '0' && c <= '9')) {
        *what = "number";
        return scan_number(p, end);
    }
    static const char *const lits[] = {"true", "false", "null"};
    for (size_t i = 0; i < sizeof(lits) / sizeof(lits[0]); i++) {
        size_t n = strlen(lits[i]);
        if ((size_t)(end - p) >= n && memcmp(p, lits[i], n) == 0) {
            *what = i < 2 ? "boolean" : "null";
            return p + n;
        }
    }
    if (c != '[' && c != '{')
        return NULL;
    char close = c == '[' ? ']' : '}';
    p = skip_ws(p + 1, end);
    if (p < end && *p == close) {
        *what = c == '[' ? "array" : "object";
        return p + 1;
    }
    for (;;) {
        const char *ignored;
        if (c == '{') { /* the key */
            if (!expect(&p, end, '"') || !(p = string_end(p + 1, end)))
                return NULL;
            p++;
            if (!expect(&p, end, ':'))
                return NULL;
            p++;
        }
        p = skip_value(p, end, depth + 1, &ignored);
        if (!p)
            return NULL;
        if (expect(&p, end, ',')) {
            p++;
            continue;
        }
        if (p < end && *p == close) {
            *what = c == '[' ? "array" : "object";
            return p + 1;
        }
        return NULL;
    }
}

/* One record: [p, end). Returns where parsing stopped (the end of the
 * value), or NULL when the record is malformed. A well-formed value that is
 * not an object (an element of an array of events, say) is reported, counted
 * as skipped, and stepped over: what follows it is still read. */
const char *json_parse_record(struct json_worker *w, const char *p, const char *end, uint64_t record, uint64_t line)
{
    const struct event_sink *s = w->sink;
    w->err = NULL;
    w->too_many = false;
    w->fs_at = w->fs;
    s->begin(s->ctx, record, line, w->u->file_offset + (uint64_t)(p - w->u->data));
    const char *q;
    if (*p != '{') {
        const char *what = NULL;
        q = skip_value(p, end, 1, &what);
        if (q) {
            char msg[96];
            snprintf(msg, sizeof(msg), "not an event, skipped: a JSON %s where an object was expected", what);
            s->bad(s->ctx, line, 0, false, false, msg);
            w->u->skipped++;
            return q;
        }
        jerr(w, p, "a record must be a JSON object");
        q = NULL;
    } else {
        w->compact = record_compact(p, end);
        q = parse_object(w, &w->root, p + 1, end, 1);
    }
    if (!q) {
        char msg[160];
        snprintf(msg, sizeof(msg), "malformed JSON, record skipped: %s", w->err ? w->err : "parse error");
        uint64_t at = line + (w->err_at && w->err_at > p && w->err_at <= end
                                  ? json_count_lines(p, (size_t)(w->err_at - p), w->u->mode != JM_OBJECTS)
                                  : 0);
        s->bad(s->ctx, at, 0, false, false, msg);
        w->u->skipped++;
        return NULL;
    }
    if (w->too_many) {
        s->bad(s->ctx, line, 0, false, true, "record has too many fields; the rest were not read");
    }
    s->fields(s->ctx, w->fs, (uint32_t)(w->fs_at - w->fs));
    s->end(s->ctx);
    w->u->events++;
    return q;
}
