/* See render.h. Both forms read the fields as the alert carries them
 * (stoat_field: name, value, type), so any producer's events come out alike;
 * a producer's own fields (ev_field) only add the escaped form a string may
 * already have, which is the bytes the escaping would write. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "event/event.h"
#include "event/render.h"
#include "util/copy.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

/* Fields worth a glance, in the order an analyst reads them. */
#define KEY_MAXLEN 32
/* (a longer name fails to compile: of_len below has no room for it) */
#define KEY(s)                                                                    \
    {                                                                             \
        s, sizeof(s) - 1 + 0 * sizeof(char[sizeof(s) - 1 <= KEY_MAXLEN ? 1 : -1]) \
    }
static const struct {
    const char *name;
    size_t len;
} key_fields[] = {
    KEY("Image"),
    KEY("NewProcessName"),
    KEY("CommandLine"),
    KEY("ParentImage"),
    KEY("ParentProcessName"),
    KEY("TargetFilename"),
    KEY("ImageLoaded"),
    KEY("TargetObject"),
    KEY("Details"),
    KEY("DestinationIp"),
    KEY("DestinationPort"),
    KEY("QueryName"),
    KEY("ScriptBlockText"),
    KEY("PipeName"),
    KEY("ServiceName"),
    KEY("TargetUserName"),
    KEY("SubjectUserName"),
    KEY("IpAddress"),
    KEY("User"),
    KEY("exe"),
    KEY("cmd"),
    KEY("proctitle"),
};
#undef KEY
enum {
    NKEYS = sizeof(key_fields) / sizeof(key_fields[0])
};
_Static_assert(NKEYS <= 32, "a key is a bit of a uint32_t");

void event_glance(struct buf *b, const struct stoat_field *fields, size_t n, size_t maxlen)
{
    /* one pass over the fields: each key's first field with a value, the
     * keys of a field's length told by a mask rather than tried in turn */
    uint32_t of_len[KEY_MAXLEN + 1] = {0};
    for (size_t k = 0; k < NKEYS; k++)
        of_len[key_fields[k].len] |= 1u << k;
    int32_t first[NKEYS];
    for (size_t k = 0; k < NKEYS; k++)
        first[k] = -1;
    for (size_t i = 0; i < n; i++) {
        const struct stoat_field *f = &fields[i];
        if (f->name_len > KEY_MAXLEN || f->value_len == 0)
            continue;
        for (uint32_t m = of_len[f->name_len]; m; m &= m - 1) {
            int k = __builtin_ctz(m);
            if (first[k] < 0 && memcmp(f->name, key_fields[k].name, f->name_len) == 0)
                first[k] = (int32_t)i;
        }
    }
    size_t start = b->len;
    for (size_t k = 0; k < NKEYS; k++) {
        if (first[k] >= 0) {
            const struct stoat_field *f = &fields[first[k]];
            buf_puts(b, b->len > start ? " | " : "");
            buf_put(b, f->name, f->name_len);
            buf_puts(b, ": ");
            /* no more than the cut below reads (a byte past maxlen) */
            size_t used = b->len - start, vl = f->value_len, at = b->len;
            if (used > maxlen)
                vl = 0;
            else if (vl > maxlen - used)
                vl = maxlen - used + 1;
            buf_put(b, f->value, vl);
            for (char *c = b->p + at; c < b->p + b->len; c++)
                if (*c == '\n' || *c == '\r' || *c == '\t')
                    *c = ' ';
        }
        if (b->len - start > maxlen)
            break;
    }
    if (b->len - start > maxlen) {
        b->len = start + utf8_cut(b->p + start, maxlen); /* not inside a character */
        buf_puts(b, "...");
    }
}

/* ---------------------------------------------------------------- JSON */

static bool valid_json_number(const char *s, size_t n)
{
    size_t i = 0;
    if (i < n && s[i] == '-')
        i++;
    if (i >= n)
        return false;
    if (s[i] == '0')
        i++;
    else if (s[i] >= '1' && s[i] <= '9')
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    else
        return false;
    if (i < n && s[i] == '.') {
        i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return false;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        if (i >= n || s[i] < '0' || s[i] > '9')
            return false;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
    }
    return i == n;
}

static void json_value(struct buf *b, const struct stoat_field *f)
{
    switch (f->type) {
    case STOAT_V_NULL: buf_put(b, "null", 4); return;
    case STOAT_V_BOOL:
        if (f->value_len == 4)
            buf_put(b, "true", 4);
        else
            buf_put(b, "false", 5);
        return;
    case STOAT_V_NUMBER:
        if (valid_json_number(f->value, f->value_len)) {
            buf_put(b, f->value, f->value_len);
            return;
        }
        break;
    default: break;
    }
    buf_json_str(b, f->value, f->value_len);
}

/* s[0..n) copied to o when it is one to eight digits without a leading
 * zero (true): valid JSON as it is. Counts, ids and pids are most of an
 * event's numbers, and valid_json_number's walk a byte at a time cost more
 * than the rest of writing them. */
static inline __attribute__((always_inline)) bool digits_copy(char *o, const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull;
    uint64_t v;
    if (n - 1 >= 8) /* (0 wraps) */
        return false;
    if (n >= 4) {
        uint32_t x, y; /* the first four and the last four: all of 4 to 8 */
        memcpy(&x, s, 4);
        memcpy(&y, s + n - 4, 4);
        v = x | (uint64_t)y << 32;
    } else {
        /* the first, middle and last bytes are all of them; '0' above */
        v = (unsigned char)s[0] | (uint32_t)(unsigned char)s[n >> 1] << 8 | (uint32_t)(unsigned char)s[n - 1] << 16 |
            (ones * '0') << 24;
    }
    /* each byte 0x30..0x39: high half 3, low half below 10 (no carry
     * leaves a byte: 15 + 6 fits) */
    if ((v & ones * 0xF0) != ones * 0x30 || (((v & ones * 0x0F) + ones * 0x06) & ones * 0xF0) || (s[0] == '0' && n > 1))
        return false;
    if (n >= 4) {
        memcpy(o, &v, 4);
        memcpy(o + n - 4, (const char *)&v + 4, 4);
    } else {
        o[0] = s[0];
        o[n >> 1] = s[n >> 1];
        o[n - 1] = s[n - 1];
    }
    return true;
}

/* A string value's escaped bytes as its JSON input had them (raw, rl:
 * their only escapes \\ \" \n \r \t, which buf_json_str writes as they
 * are), copied with their quotes when no other byte is below the space or
 * from 0x80 (true): then they are what buf_json_str would write. A block of
 * sixteen at a time, the last one overlapping the one before (no byte past
 * the input's read); out of line, as buf_json_str_escaped is. */
static __attribute__((noinline)) bool put_raw(struct buf *b, const char *raw, size_t rl)
{
    if (b->cap - b->len < rl + 3)
        buf_reserve(b, rl + 3);
    char *o = b->p + b->len + 1;
#if defined(__SSE2__)
    const __m128i space = _mm_set1_epi8(0x20); /* (signed: from 0x80 is below it too) */
    if (rl >= 16) {
        __m128i bad = _mm_setzero_si128();
        for (size_t i = 0;; i += 16) {
            size_t at = i + 16 < rl ? i : rl - 16;
            __m128i v = _mm_loadu_si128((const __m128i *)(const void *)(raw + at));
            bad = _mm_or_si128(bad, _mm_cmplt_epi8(v, space));
            _mm_storeu_si128((__m128i *)(void *)(o + at), v);
            if (at == rl - 16)
                break;
        }
        if (_mm_movemask_epi8(bad))
            return false;
    } else if (rl >= 8) {
        uint64_t x, y; /* the first eight and the last eight: all of 8 to 15 */
        memcpy(&x, raw, 8);
        memcpy(&y, raw + rl - 8, 8);
        if (_mm_movemask_epi8(_mm_cmplt_epi8(_mm_set_epi64x((long long)y, (long long)x), space)))
            return false;
        memcpy(o, &x, 8);
        memcpy(o + rl - 8, &y, 8);
    } else
#endif
    {
        for (size_t i = 0; i < rl; i++) {
            unsigned char c = (unsigned char)raw[i];
            if (c < 0x20 || c >= 0x80)
                return false;
            o[i] = (char)c;
        }
    }
    o[-1] = '"';
    o[rl] = '"';
    o[rl + 1] = 0;
    b->len += rl + 2;
    return true;
}

/* One member of the object when no two fields share a name: one making of
 * room, and a name and a string value of up to 64 bytes with nothing to
 * escape (most) written in place, no call; a string with its escaped bytes
 * (raw, rl; rl 0: none) as put_raw writes it; the rest as json_value writes
 * them. */
static inline __attribute__((always_inline)) void write_member(struct buf *b, bool first, const struct stoat_field *f,
                                                               bool name_plain, const char *raw, size_t rl)
{
    size_t nl = f->name_len, vl = f->value_len;
    /* ,"name":"value" */
    if (b->cap - b->len < nl + vl + 8)
        buf_reserve(b, nl + vl + 8);
    char *o = b->p + b->len;
    *o = ',';
    o += !first;
    if (name_plain) {
        o[0] = '"';
        copy_short(o + 1, f->name, nl);
        o[nl + 1] = '"';
        o[nl + 2] = ':';
        o += nl + 3;
        b->len = (size_t)(o - b->p);
    } else if (nl <= 64 && buf_json_plain_copy(o + 1, f->name, nl)) {
        o[0] = '"';
        o[nl + 1] = '"';
        o[nl + 2] = ':';
        o += nl + 3;
        b->len = (size_t)(o - b->p);
    } else {
        b->len = (size_t)(o - b->p);
        buf_json_str(b, f->name, nl);
        buf_putc(b, ':');
        o = b->p + b->len;
    }
    if (f->type == STOAT_V_STRING && rl) {
        /* escaped in the input: mostly as the escaping would write it */
        if (put_raw(b, raw, rl))
            return;
        /* else written below, at the buffer's place now: put_raw's reserve
         * may have moved it (rl can exceed the room reserved for vl) */
        o = b->p + b->len;
    }
    if (f->type == STOAT_V_STRING && vl <= 64 && b->cap - b->len >= vl + 3 &&
        buf_json_plain_copy(o + 1, f->value, vl)) {
        o[0] = '"';
        o[vl + 1] = '"';
        b->len += vl + 2;
    } else if (f->type == STOAT_V_NUMBER && b->cap - b->len >= vl + 1 && digits_copy(o, f->value, vl)) {
        b->len += vl;
    } else if (f->type == STOAT_V_STRING) {
        buf_json_str_escaped(b, f->value, vl);
    } else {
        json_value(b, f);
    }
}

static void write_distinct(struct buf *b, const struct stoat_field *fs, size_t n)
{
    buf_putc(b, '{');
    for (size_t i = 0; i < n; i++)
        write_member(b, i == 0, &fs[i], false, NULL, 0);
    buf_putc(b, '}');
}

static bool same_name(const struct stoat_field *a, const struct stoat_field *b)
{
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* A small open-addressing table (the pairwise check costs more than the
 * rest of an alert); a long list is left to the pairwise check. */
bool event_names_unique(const struct stoat_field *fs, size_t n)
{
    enum {
        SLOTS = 256
    };
    if (n > SLOTS / 2)
        return false; /* the pairwise path decides */
    uint16_t slot[SLOTS] = {0};
    for (size_t i = 0; i < n; i++) {
        const struct stoat_field *f = &fs[i];
        uint32_t h = (uint32_t)f->name_len * 0x9e3779b1u;
        if (f->name_len)
            h ^= ((uint32_t)(unsigned char)f->name[0] << 8 | (unsigned char)f->name[f->name_len - 1]) * 0x85ebca6bu;
        for (uint32_t k = h >> 24;; k = (k + 1) % SLOTS) {
            if (!slot[k]) {
                slot[k] = (uint16_t)(i + 1);
                break;
            }
            if (same_name(&fs[slot[k] - 1], f))
                return false;
        }
    }
    return true;
}

void event_json_write_distinct(struct buf *b, const struct stoat_field *fs, size_t n)
{
    write_distinct(b, fs, n);
}

void event_json_write_fields_distinct(struct buf *b, const struct ev_field *fs, size_t n)
{
    buf_putc(b, '{');
    for (size_t i = 0; i < n; i++) {
        const struct ev_field *e = &fs[i];
        struct stoat_field f = {
            .name = e->name, .value = e->val, .name_len = e->name_len, .value_len = e->val_len, .type = e->type};
        write_member(b, i == 0, &f, e->name_plain, e->raw_len ? ev_field_raw(e) : NULL, e->raw_len);
    }
    buf_putc(b, '}');
}

/* A repeated name becomes a list of its values, in its first one's place.
 * The fields of a name are chained through a hash table of the names:
 * compared pairwise, an auditd event's hundred fields (its records repeat
 * "type", "name" and more) cost thousands of comparisons, a sixth of
 * hunting such a log. */
#define CHAIN_FIRST ((size_t)1 << (sizeof(size_t) * 8 - 1)) /* in next[i]: field i is its name's first */

void event_json_write(struct buf *b, const struct stoat_field *fs, size_t n)
{
    if (event_names_unique(fs, n)) {
        write_distinct(b, fs, n);
        return;
    }
    size_t slots = 16;
    while (slots < 2 * n)
        slots *= 2;
    size_t local[512];
    size_t *mem = n + slots <= sizeof(local) / sizeof(local[0]) ? local : xmalloc((n + slots) * sizeof(*mem));
    /* next[i]: 1 + the next field of i's name, 0 for none; head[k]: 1 +
     * the first field of slot k's name (as far as the pass has come) */
    size_t *next = mem, *head = mem + n;
    memset(head, 0, slots * sizeof(*head));
    for (size_t i = n; i-- > 0;) {
        const struct stoat_field *f = &fs[i];
        size_t k = (size_t)strmap_hash(f->name, f->name_len) & (slots - 1);
        while (head[k] && !same_name(&fs[head[k] - 1], f))
            k = (k + 1) & (slots - 1);
        next[i] = head[k];
        head[k] = i + 1;
    }
    for (size_t k = 0; k < slots; k++)
        if (head[k])
            next[head[k] - 1] |= CHAIN_FIRST;
    buf_putc(b, '{');
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        if (!(next[i] & CHAIN_FIRST))
            continue;
        const struct stoat_field *f = &fs[i];
        if (!first)
            buf_putc(b, ',');
        first = false;
        buf_json_str(b, f->name, f->name_len);
        buf_putc(b, ':');
        size_t j = next[i] & ~CHAIN_FIRST;
        if (!j) {
            json_value(b, f);
            continue;
        }
        buf_putc(b, '[');
        json_value(b, f);
        for (; j; j = next[j - 1] & ~CHAIN_FIRST) {
            buf_putc(b, ',');
            json_value(b, &fs[j - 1]);
        }
        buf_putc(b, ']');
    }
    buf_putc(b, '}');
    if (mem != local)
        free(mem);
}
