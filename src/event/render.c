/* See render.h. Both forms read the fields as the alert carries them
 * (stoat_field: name, value, type), so any producer's events come out alike. */
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "event/render.h"
#include "util/text.h"

/* Fields worth a glance, in the order an analyst reads them. */
static const char *const key_fields[] = {
    "Image",
    "NewProcessName",
    "CommandLine",
    "ParentImage",
    "ParentProcessName",
    "TargetFilename",
    "ImageLoaded",
    "TargetObject",
    "Details",
    "DestinationIp",
    "DestinationPort",
    "QueryName",
    "ScriptBlockText",
    "PipeName",
    "ServiceName",
    "TargetUserName",
    "SubjectUserName",
    "IpAddress",
    "User",
    "exe",
    "cmd",
    "proctitle",
    NULL,
};

void event_glance(struct buf *b, const struct stoat_field *fields, size_t n, size_t maxlen)
{
    size_t start = b->len;
    for (const char *const *k = key_fields; *k; k++) {
        size_t kl = strlen(*k);
        for (size_t i = 0; i < n; i++) {
            const struct stoat_field *f = &fields[i];
            if (f->name_len != kl || memcmp(f->name, *k, kl) != 0 || f->value_len == 0)
                continue;
            buf_puts(b, b->len > start ? " | " : "");
            buf_put(b, f->name, f->name_len);
            buf_puts(b, ": ");
            for (size_t j = 0; j < f->value_len; j++) {
                char c = f->value[j];
                buf_putc(b, (c == '\n' || c == '\r' || c == '\t') ? ' ' : c);
            }
            break;
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
    case STOAT_V_NULL: buf_puts(b, "null"); return;
    case STOAT_V_BOOL: buf_puts(b, f->value_len == 4 ? "true" : "false"); return;
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

static bool same_name(const struct stoat_field *a, const struct stoat_field *b)
{
    return a->name_len == b->name_len && memcmp(a->name, b->name, a->name_len) == 0;
}

/* True when no two fields share a name, found with a small open-addressing
 * table (the pairwise check costs more than the rest of an alert). */
static bool names_unique(const struct stoat_field *fs, size_t n)
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

/* A repeated name becomes a list of its values. */
void event_json_write(struct buf *b, const struct stoat_field *fs, size_t n)
{
    buf_putc(b, '{');
    if (names_unique(fs, n)) {
        for (size_t i = 0; i < n; i++) {
            if (i)
                buf_putc(b, ',');
            buf_json_str(b, fs[i].name, fs[i].name_len);
            buf_putc(b, ':');
            json_value(b, &fs[i]);
        }
        buf_putc(b, '}');
        return;
    }
    bool first = true;
    for (size_t i = 0; i < n; i++) {
        const struct stoat_field *f = &fs[i];
        /* already written as part of an earlier list? */
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = same_name(&fs[j], f);
        if (seen)
            continue;
        size_t count = 1;
        for (size_t j = i + 1; j < n; j++)
            count += same_name(&fs[j], f);
        if (!first)
            buf_putc(b, ',');
        first = false;
        buf_json_str(b, f->name, f->name_len);
        buf_putc(b, ':');
        if (count == 1) {
            json_value(b, f);
            continue;
        }
        buf_putc(b, '[');
        bool fv = true;
        for (size_t j = i; j < n; j++)
            if (same_name(&fs[j], f)) {
                if (!fv)
                    buf_putc(b, ',');
                fv = false;
                json_value(b, &fs[j]);
            }
        buf_putc(b, ']');
    }
    buf_putc(b, '}');
}
