/* libmicrohttpd, opened when a dashboard starts instead of linked into the
 * command (see mhd.c for why). The same functions, called through
 * serve_mhd.name once serve_mhd_open has succeeded. */
#ifndef STOAT_SERVE_MHD_H
#define STOAT_SERVE_MHD_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <microhttpd.h>

struct serve_mhd_fns {
    struct MHD_Response *(*create_response_from_buffer)(size_t, void *, enum MHD_ResponseMemoryMode);
    enum MHD_Result (*add_response_header)(struct MHD_Response *, const char *, const char *);
    enum MHD_Result (*queue_response)(struct MHD_Connection *, unsigned int, struct MHD_Response *);
    void (*destroy_response)(struct MHD_Response *);
    const char *(*lookup_connection_value)(struct MHD_Connection *, enum MHD_ValueKind, const char *);
    int (*get_connection_values_n)(struct MHD_Connection *, enum MHD_ValueKind, MHD_KeyValueIteratorN, void *);
    const union MHD_ConnectionInfo *(*get_connection_info)(struct MHD_Connection *, enum MHD_ConnectionInfoType, ...);
    const union MHD_DaemonInfo *(*get_daemon_info)(struct MHD_Daemon *, enum MHD_DaemonInfoType, ...);
    struct MHD_Daemon *(*start_daemon_va)(unsigned int, uint16_t, MHD_AcceptPolicyCallback, void *,
                                          MHD_AccessHandlerCallback, void *, va_list);
    void (*stop_daemon)(struct MHD_Daemon *);
};

extern struct serve_mhd_fns serve_mhd;

/* Opens the library once (later calls return the first outcome); false
 * with why set when it or one of its functions is missing. Thread-safe. */
bool serve_mhd_open(char *why, size_t whylen);

/* MHD_start_daemon, which takes its options as variable arguments. */
struct MHD_Daemon *serve_mhd_start(unsigned int flags, uint16_t port, MHD_AccessHandlerCallback dh, void *dh_cls, ...);

#endif
