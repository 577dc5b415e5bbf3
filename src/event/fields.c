/* See fields.h. Folding happens into a stack buffer; names longer than
 * FIELD_NAME_MAX are never interned and look up as unknown. */
#include "event/fields.h"

#include <string.h>

#include "util/text.h"

void fieldtab_init(struct fieldtab *t)
{
    memset(t, 0, sizeof(*t));
    strmap_init(&t->byname);
}

void fieldtab_free(struct fieldtab *t)
{
    strmap_free(&t->byname);
    free(t->names);
    memset(t, 0, sizeof(*t));
}

/* Folds case and drops spaces: Sigma names a Windows field "as it appears in
 * the log source with all spaces stripped" ("Threat Name" is ThreatName). */
static bool fold_name(const char *name, size_t len, char *out, size_t *outlen)
{
    if (len > FIELD_NAME_MAX)
        return false;
    size_t n = 0;
    for (size_t i = 0; i < len; i++)
        if (name[i] != ' ')
            out[n++] = (char)ascii_lower_table[(unsigned char)name[i]];
    *outlen = n;
    return true;
}

uint32_t fieldtab_intern(struct fieldtab *t, const char *name, size_t len)
{
    char folded[FIELD_NAME_MAX];
    size_t fl;
    if (!fold_name(name, len, folded, &fl) || t->n >= FIELDS_MAX)
        return FIELD_UNKNOWN;
    uint32_t id;
    if (strmap_get(&t->byname, folded, fl, &id))
        return id;
    id = (uint32_t)t->n;
    strmap_put(&t->byname, folded, fl, id);
    XGROW(t->names, t->cap, t->n + 1);
    t->names[t->n++] = arena_strndup(&t->byname.keys, name, len);
    return id;
}

uint32_t fieldtab_lookup(const struct fieldtab *t, const char *name, size_t len)
{
    char folded[FIELD_NAME_MAX];
    size_t fl;
    uint32_t id;
    if (!fold_name(name, len, folded, &fl))
        return FIELD_UNKNOWN;
    return strmap_get(&t->byname, folded, fl, &id) ? id : FIELD_UNKNOWN;
}
