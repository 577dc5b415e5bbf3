/* The dashboard's connection guard: a deadline on every connection and a
 * reserve of free slots for new clients (see guard.c for why). */
#ifndef STOAT_SERVE_GUARD_H
#define STOAT_SERVE_GUARD_H

#include <microhttpd.h>
#include <stddef.h>

struct serve_guard;

/* Starts the thread that closes connections past their deadline. Once more
 * than limit - reserve connections are open, each new one closes the one
 * that has waited longest for its request. request_ms: time for a whole
 * request, from the connection's start or the previous answer; answer_ms:
 * time to make and send the answer. NULL on failure, with err set. */
struct serve_guard *serve_guard_start(unsigned limit, unsigned reserve, unsigned request_ms, unsigned answer_ms,
                                      char *err, size_t errlen);
/* After MHD_stop_daemon (which reports every connection closed); accepts NULL. */
void serve_guard_stop(struct serve_guard *g);

/* MHD_OPTION_NOTIFY_CONNECTION callback; its closure is the guard. */
void serve_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe);
/* The whole request is in: its answer's clock starts. */
void serve_guard_request_in(struct serve_guard *g, struct MHD_Connection *c);
/* The answer is done (MHD_OPTION_NOTIFY_COMPLETED): the next request's clock starts. */
void serve_guard_answered(struct serve_guard *g, struct MHD_Connection *c);

#endif
