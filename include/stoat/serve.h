/* The dashboard: an HTTP server (libmicrohttpd) over a store, serving the
 * page and a JSON API, and taking the analysts' triage.
 *
 * It listens on loopback unless told otherwise, and any other address needs
 * a token (compared in constant time; sent as "Authorization: Bearer" or the
 * cookie set by /login). State changes need the page's CSRF token in a
 * header, a JSON body and, when the browser says where it came from, the
 * same origin. Requests and bodies are capped in size, and so are the
 * connections: per client address, in number, and in time (a whole request
 * has a deadline, however busily it trickles in). */
#ifndef STOAT_SERVE_H
#define STOAT_SERVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STOAT_SERVE_MAX_BODY  16384 /* bytes of a POST body */
#define STOAT_SERVE_MAX_URL   4096  /* bytes of a request target */
#define STOAT_SERVE_MAX_PARAM 512   /* bytes of one query parameter */
/* Connections: a slow or idle client must not hold a slot for long, and one
 * address, or many, must not take them all. */
#define STOAT_SERVE_MAX_CONNECTIONS 512 /* open at once */
#define STOAT_SERVE_PER_ADDRESS     32  /* open at once from one client address */
#define STOAT_SERVE_RESERVE         64  /* kept free: beyond 448 open, the longest waiting is closed */
#define STOAT_SERVE_REQUEST_S       10  /* a whole request, from the connection or the last answer */
#define STOAT_SERVE_ANSWER_S        60  /* making and sending an answer */

struct stoat_serve_opts {
    const char *db_path;
    const char *addr;   /* IPv4 or IPv6 literal; NULL = 127.0.0.1 */
    uint16_t port;      /* 0 = any free port (see stoat_serve_port) */
    const char *token;  /* required unless addr is a loopback address */
    unsigned threads;   /* 0 = 4 */
    bool log;           /* one line per request on standard error */
    stoat_diag_fn diag; /* why the dashboard could not start (may be NULL) */
    void *diag_ctx;
};

struct stoat_serve;

/* True for 127.0.0.0/8 and ::1. */
bool stoat_serve_is_loopback(const char *addr);
/* On failure *out is NULL and opts->diag (when given) has said why. */
stoat_err stoat_serve_start(const struct stoat_serve_opts *opts, struct stoat_serve **out);
uint16_t stoat_serve_port(const struct stoat_serve *s);
/* Stops and frees; accepts NULL. */
void stoat_serve_stop(struct stoat_serve *s);

#ifdef __cplusplus
}
#endif
#endif
