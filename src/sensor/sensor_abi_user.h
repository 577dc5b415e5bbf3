/* sensor_abi.h for user space: the kernel's fixed-width type names come from
 * <linux/types.h>, so one header describes the wire format for both sides. */
#ifndef STOAT_SENSOR_ABI_USER_H
#define STOAT_SENSOR_ABI_USER_H
#include <linux/types.h>
#include "sensor/sensor_abi.h"
#endif
