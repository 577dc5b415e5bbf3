/* The order in which an event's values are laid into its one scan buffer,
 * per route class, so that most of the class's field databases read a span
 * of that buffer in place instead of a copy of their fields' values. */
#ifndef STOAT_ENGINE_SCAN_LAYOUT_H
#define STOAT_ENGINE_SCAN_LAYOUT_H

#include <string.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "event/event.h"
#include "rules/ruleset.h"

#define SPAN_COPY UINT32_MAX /* the database's fields are not adjacent: copy them */

/* order[0..norder) are field ids whose values go first, in that order (the
 * event's other values follow, those keyword databases can find nothing in
 * left out). Field database k of the class (its groups'
 * databases in order, then its merged scans) reads the values of order
 * entries first[k] .. last[k] - 1, or first[k] == SPAN_COPY. Keyword
 * databases read the whole buffer and have no span. */
struct scan_layout {
    uint32_t keyword_min; /* the class's (route_class): shorter other values are left out */
    uint32_t norder;
    uint32_t *order;
    uint32_t *first, *last;
};

/* Builds the layout of class cls (heap memory; scan_layout_free). */
struct scan_layout *scan_layout_build(const struct stoat_ruleset *rs, const struct route_class *cls);
void scan_layout_free(struct scan_layout *l);

/* n bytes from s to o: most values are short, and a call of memcpy costs
 * more than copying them with two overlapping loads and stores (which read
 * and write only the n bytes). */
static inline void copy_value(char *o, const char *s, size_t n)
{
    if (n >= 8 && n <= 16) {
        uint64_t a, b;
        memcpy(&a, s, 8);
        memcpy(&b, s + n - 8, 8);
        memcpy(o, &a, 8);
        memcpy(o + n - 8, &b, 8);
    } else if (n >= 4 && n < 8) {
        uint32_t a, b;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(o, &a, 4);
        memcpy(o + n - 4, &b, 4);
    } else if (n > 16 && n <= 32) {
#ifdef __SSE2__
        __m128i a = _mm_loadu_si128((const __m128i *)s), b = _mm_loadu_si128((const __m128i *)(s + n - 16));
        _mm_storeu_si128((__m128i *)o, a);
        _mm_storeu_si128((__m128i *)(o + n - 16), b);
#else
        memcpy(o, s, n);
#endif
    } else if (n > 32) {
        memcpy(o, s, n);
    } else if (n) { /* 1 to 3 */
        o[0] = s[0];
        o[n / 2] = s[n / 2];
        o[n - 1] = s[n - 1];
    }
}

/* Appends a value and the NUL after it (a null value adds nothing). */
static inline char *put_value(char *o, const struct ev_field *f)
{
    if (f->type == STOAT_V_NULL)
        return o;
    copy_value(o, f->val, f->val_len);
    o += f->val_len;
    *o++ = 0;
    return o;
}

#endif
