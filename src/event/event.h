/* What an event is, and how its producer hands it over.
 *
 * An event is a list of (name, value) fields whose values are slices of the
 * producer's buffer where possible; anything decoded (JSON escapes, UTF-16)
 * goes into per-event scratch that the consumer resets, not frees, per event.
 * Field names arrive already resolved to interned ids (event/fields.h), so
 * nothing downstream hashes a string per event. This sits below the readers,
 * the rules and the engine: readers make events, the engine matches them, and
 * neither needs to know the other. */
#ifndef STOAT_EVENT_EVENT_H
#define STOAT_EVENT_EVENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "stoat/event.h"

#define EVENT_MAX_FIELDS 4096

/* A field's name as a producer keeps it for its next value: the first 16
 * bytes of struct ev_field, in one copy (ev_field_set_named). */
struct ev_field_name {
    const char *name;
    uint32_t name_len;
    uint32_t id; /* interned id or FIELD_UNKNOWN */
};

struct ev_field {
    const char *name; /* name, name_len and id first, as in struct ev_field_name */
    uint32_t name_len;
    uint32_t id; /* interned id or FIELD_UNKNOWN */
    const char *val;
    uint32_t val_len;
    int32_t next;                             /* next field with the same id, or -1 */
    const char *folded;                       /* case-folded value, made on first need */
    const uint64_t *bytes_folded, *bytes_raw; /* which byte values occur, made on first need */
    uint8_t type;                             /* enum stoat_vtype */
    /* The name is at most 64 bytes, none of which JSON escapes: the
     * event's rendering copies it as it is, unchecked. 0: not known. */
    uint8_t name_plain;
    /* A string decoded from JSON escapes, all of them \\ \" \n \r or \t
     * (the ones the event's rendering writes): the length of its escaped
     * bytes as the input had them (between the quotes), whose address is
     * kept in the 8 bytes before val (ev_field_raw). When no other byte of
     * them is below the space or from 0x80, the rendering copies them
     * rather than escape the value again (event_json_write_fields_distinct).
     * 0: none. */
    uint32_t raw_len;
};
_Static_assert(sizeof(struct ev_field) <= 64 &&
                   offsetof(struct ev_field, name_plain) == offsetof(struct ev_field, type) + 1 &&
                   offsetof(struct ev_field, raw_len) == offsetof(struct ev_field, type) + 4 &&
                   sizeof(struct ev_field) == offsetof(struct ev_field, type) + 8,
               "name_plain and raw_len fit in ev_field's padding, after type (ev_field_set_named)");
_Static_assert(offsetof(struct ev_field, name) == offsetof(struct ev_field_name, name) &&
                   offsetof(struct ev_field, name_len) == offsetof(struct ev_field_name, name_len) &&
                   offsetof(struct ev_field, id) == offsetof(struct ev_field_name, id) &&
                   offsetof(struct ev_field, val) >= sizeof(struct ev_field_name),
               "struct ev_field starts as struct ev_field_name");

/* Fills in a field as a producer makes it for event_sink.fields: what is
 * made on first need not made yet; next is the consumer's to link. Member
 * by member: a compound literal costs a copy through the stack. */
static inline void ev_field_set(struct ev_field *f, const char *name, uint32_t name_len, uint32_t id, const char *val,
                                uint32_t val_len, uint8_t type)
{
    f->name = name;
    f->val = val;
    f->folded = NULL;
    f->bytes_folded = f->bytes_raw = NULL;
    f->name_len = name_len;
    f->val_len = val_len;
    f->id = id;
    f->type = type;
    f->name_plain = 0;
    f->raw_len = 0;
}

/* The same with the name as a producer keeps it: one 16-byte copy, where
 * three members cost a load and a store each (the JSON reader sets ~40 a
 * record); and name_plain and raw_len (see there). */
static inline void ev_field_set_named(struct ev_field *f, const struct ev_field_name *n, const char *val,
                                      uint32_t val_len, uint8_t type, bool name_plain, uint32_t raw_len)
{
    memcpy(f, n, sizeof(*n));
    f->val = val;
    f->val_len = val_len;
    f->folded = NULL;
    f->bytes_folded = f->bytes_raw = NULL;
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    /* type, name_plain and raw_len (and the padding between) in one store */
    uint64_t tail = type | (uint64_t)name_plain << 8 | (uint64_t)raw_len << 32;
    memcpy((char *)f + offsetof(struct ev_field, type), &tail, sizeof(tail));
#else
    f->type = type;
    f->name_plain = name_plain;
    f->raw_len = raw_len;
#endif
}

/* The escaped bytes of a field with raw_len (see there). */
static inline const char *ev_field_raw(const struct ev_field *f)
{
    const char *raw;
    memcpy(&raw, f->val - sizeof(raw), sizeof(raw));
    return raw;
}

struct mapping;

/* What a producer (a reader) feeds, one record at a time. */
struct event_sink {
    void *ctx;
    /* record counts from 1 within the unit; the hunt makes it file-wide */
    void (*begin)(void *ctx, uint64_t record, uint64_t line, uint64_t offset);
    char *(*scratch)(void *ctx, size_t n);
    uint32_t (*field_id)(void *ctx, const char *name, size_t len);
    bool (*field)(void *ctx, const char *name, uint32_t name_len, uint32_t id, const char *val, uint32_t val_len,
                  uint8_t type);
    /* All of an event's fields at once (at most EVENT_MAX_FIELDS, made by
     * ev_field_set), in place of field() per value: one call per event
     * rather than one per field. The array stays the producer's, unchanged
     * until its next begin; the consumer may fill in what is made on first
     * need, and links next. */
    void (*fields)(void *ctx, struct ev_field *fs, uint32_t n);
    void (*end)(void *ctx);
    /* A record that could not be read (or, with warning, damage that cost
     * nothing): line or offset, and why. */
    void (*bad)(void *ctx, uint64_t line, uint64_t offset, bool has_offset, bool warning, const char *why);
    const struct mapping *map;
};

#endif
