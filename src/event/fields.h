/* Field name interning. Every field name a rule, the mapping or the event
 * header logic refers to gets a small integer id when the ruleset is
 * compiled; readers turn an event's field names into ids once per name, and
 * the matcher then compares integers only. Names are matched without regard
 * to ASCII case ("CommandLine" and "commandline" are one field). The ids are
 * the event model's vocabulary (readers, compiler and matcher all speak them),
 * so the table sits in event/, below all three. */
#ifndef STOAT_EVENT_FIELDS_H
#define STOAT_EVENT_FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/strmap.h"

#define FIELD_UNKNOWN  UINT32_MAX - 1
#define FIELDS_MAX     (1u << 20)
#define FIELD_NAME_MAX 1024

struct fieldtab {
    struct strmap byname; /* folded name -> id */
    const char **names;   /* id -> name as first written */
    size_t n, cap;
};

void fieldtab_init(struct fieldtab *t);
void fieldtab_free(struct fieldtab *t);
uint32_t fieldtab_intern(struct fieldtab *t, const char *name, size_t len);
/* FIELD_UNKNOWN when the name was never interned. */
uint32_t fieldtab_lookup(const struct fieldtab *t, const char *name, size_t len);
static inline const char *fieldtab_name(const struct fieldtab *t, uint32_t id)
{
    return id < t->n ? t->names[id] : "?";
}

#endif
