/* Fuzz harness for heartbeats as the centre reads them (STOAT_HEALTH: a
 * host's JSON, hostile input): only a top-level "host" string is taken,
 * within the output's size, with no escape and no control byte in it. Any
 * crash, sanitizer report or a host that breaks those rules is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fleet/fleet.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char host[256];
    for (size_t cap = 2; cap <= sizeof host; cap *= 2) {
        const char *h = fleet_heartbeat_host((const char *)data, size, host, cap);
        if (!h)
            continue;
        size_t n = strlen(h);
        if (h != host || n == 0 || n >= cap)
            abort();
        for (size_t i = 0; i < n; i++)
            if ((unsigned char)h[i] < 0x20 || h[i] == '"' || h[i] == '\\')
                abort();
    }
    return 0;
}
