/* libnats, opened when a command first talks to NATS instead of linked
 * into the command (see nats_lib.c for why). Callers use nats.h's
 * functions as always; these say whether the library is there. */
#ifndef STOAT_BUS_NATS_LIB_H
#define STOAT_BUS_NATS_LIB_H

#include <stdbool.h>
#include <stddef.h>

/* Opens the library once (later calls return the first outcome); false
 * with why set when it or one of the functions stoat uses is missing.
 * Thread-safe. */
bool bus_nats_open(char *why, size_t whylen);

/* Whether it has been opened: nothing to close down otherwise. */
bool bus_nats_opened(void);

#endif
