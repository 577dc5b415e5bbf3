/* Route keys: how an event's kind is named when it is looked up. A kind is
 * the folded channel with the event id, the channel with any other id, or
 * (for a channel the mapping does not name) the product of its source. The
 * compiled ruleset keys its classes and process specs by them, and the
 * matcher builds them again for every event (the writer too, to find the view
 * a rule saw), so both sides must spell them the same way: here, once. */
#ifndef STOAT_EVENT_ROUTE_H
#define STOAT_EVENT_ROUTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ROUTE_KEY_MAX 600

/* The key of a channel and event id (has_eid) or of the channel alone; 0 when
 * it does not fit in cap. */
size_t route_key(char *buf, size_t cap, const char *channel, size_t clen, bool has_eid, int64_t eid);
/* The key of every channel of a product; 0 when it does not fit. */
size_t route_key_product(char *buf, size_t cap, const char *product);

#endif
