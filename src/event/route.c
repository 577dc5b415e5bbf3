/* See route.h. A key starts with its kind ('c' channel, 'p' product); in a
 * channel key the event id follows 0x1f, and 0x1e ends a key for any other
 * id. Channel and product are case-folded as rules and events may spell them
 * differently. */
#include "event/route.h"

#include <string.h>

#include "util/text.h"

size_t route_key(char *buf, size_t cap, const char *channel, size_t clen, bool has_eid, int64_t eid)
{
    if (clen + 32 > cap)
        return 0;
    buf[0] = 'c';
    fold_case(channel, clen, buf + 1);
    size_t n = 1 + clen;
    if (has_eid) {
        /* by hand: this runs for every event, and snprintf costs more than the rest */
        char digits[24];
        size_t nd = 0;
        uint64_t v = eid < 0 ? (uint64_t)0 - (uint64_t)eid : (uint64_t)eid;
        do
            digits[nd++] = (char)('0' + v % 10);
        while ((v /= 10) != 0);
        buf[n++] = '\x1f';
        if (eid < 0)
            buf[n++] = '-';
        while (nd)
            buf[n++] = digits[--nd];
    } else
        buf[n++] = '\x1e';
    return n;
}

size_t route_key_product(char *buf, size_t cap, const char *product)
{
    size_t l = strlen(product);
    if (l + 2 > cap)
        return 0;
    buf[0] = 'p';
    fold_case(product, l, buf + 1);
    return l + 1;
}
