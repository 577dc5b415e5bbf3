/* An event's fields as the library hands them out: a name, a value and the
 * value's type. Alerts carry them (stoat/alert.h includes this); they
 * have a header of their own because the parts that make and match events
 * (readers, the engine) need the value types and nothing of the alerts. */
#ifndef STOAT_EVENT_H
#define STOAT_EVENT_H

#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

enum stoat_vtype {
    STOAT_V_STRING = 0,
    STOAT_V_NUMBER = 1,
    STOAT_V_BOOL = 2,
    STOAT_V_NULL = 3
};

struct stoat_field {
    const char *name;
    const char *value;
    uint32_t name_len;
    uint32_t value_len;
    uint8_t type; /* enum stoat_vtype */
};

#ifdef __cplusplus
}
#endif
#endif
