/* The order in which an event's values are laid into its one scan buffer,
 * per route class, so that most of the class's field databases read a span
 * of that buffer in place instead of a copy of their fields' values. */
#ifndef STOAT_ENGINE_SCAN_LAYOUT_H
#define STOAT_ENGINE_SCAN_LAYOUT_H

#include "event/event.h"
#include "rules/ruleset.h"
#include "util/copy.h"

#define SPAN_COPY UINT32_MAX /* the database's fields are not adjacent: copy them */

/* order[0..norder) are field ids whose values go first, in that order (the
 * event's other values follow, those keyword databases can find nothing in
 * left out). Field database k of the class (its groups'
 * databases in order, then its merged scans) reads the values of order
 * entries first[k] .. last[k] - 1, or first[k] == SPAN_COPY. Keyword
 * databases read the whole buffer and have no span. */
struct scan_layout {
    uint32_t keyword_min; /* the class's (route_class): shorter other values are left out */
    uint32_t ndbs;        /* the class's databases, its groups' and merged ones: first's length */
    uint32_t norder;
    uint32_t *order;
    uint32_t *first, *last;
};

/* A keyword database's fields: its one "field" is every value of the event. */
static inline bool scan_every_value(const uint32_t *ids, uint32_t nids)
{
    return nids == 1 && ids[0] == FIELD_ANY;
}

/* Builds the layout of class cls (heap memory; scan_layout_free). */
struct scan_layout *scan_layout_build(const struct stoat_ruleset *rs, const struct route_class *cls);
void scan_layout_free(struct scan_layout *l);

/* Appends a value and the NUL after it (a null value adds nothing). */
static inline char *put_value(char *o, const struct ev_field *f)
{
    if (f->type == STOAT_V_NULL)
        return o;
    copy_short(o, f->val, f->val_len);
    o += f->val_len;
    *o++ = 0;
    return o;
}

#endif
