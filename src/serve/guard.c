/* The dashboard's connection guard. Why it exists and why it works this way:
 * - libmicrohttpd's own timeout counts idle time only: a client that sends
 *   one header line every few seconds is never idle and never done, and a
 *   few hundred such clients hold every connection slot. Its per-address
 *   limit (set in serve.c) stops one address; it does nothing against many.
 * - So every connection here has a deadline: its whole request must be in
 *   within request_ms of the connection's start or of the previous answer
 *   (keep-alive waiting counts), and the answer must be made and taken
 *   within answer_ms. Nothing in libmicrohttpd 0.9 bounds that, and it
 *   offers no call to close a connection from outside its callbacks; so a
 *   thread of ours waits for the earliest deadline and shuts the socket
 *   down (shutdown(2), not close: libmicrohttpd sees the end of the stream
 *   in its own thread and cleans up as for any client that left).
 * - The descriptor is only touched under the lock, and libmicrohttpd
 *   reports a connection closed (serve_guard_notify, same lock) before it
 *   closes the descriptor: a number reused by a newer connection is never
 *   shut down by mistake.
 * - The reserve: once more than limit - reserve connections are open, each
 *   new one closes the connection that has waited longest for its request
 *   (never one being answered). A flood from many addresses then cannot
 *   take the last slots: a new client gets in, and its request, sent at
 *   once, is in long before it would be the oldest. */
#include "serve/guard.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

#include "serve/mhd.h"
#include "util/mem.h"

struct guard_conn {
    struct guard_conn *prev, *next;
    int fd;
    int64_t deadline_ms;
    bool waiting; /* for (the rest of) a request, not being answered */
    bool cut;     /* shut down; libmicrohttpd has yet to notice */
};

struct serve_guard {
    pthread_mutex_t lock;
    pthread_cond_t wake;
    pthread_t thread;
    bool stopping;
    struct guard_conn *head;
    unsigned open; /* connections not cut */
    unsigned high; /* more than this open: close the longest waiting */
    unsigned request_ms, answer_ms;
    int64_t next_ms; /* when the thread wakes next; INT64_MAX: when told */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Under the lock. */
static void guard_cut(struct serve_guard *g, struct guard_conn *k)
{
    shutdown(k->fd, SHUT_RDWR);
    k->cut = true;
    g->open--;
}

/* Under the lock: a deadline earlier than the thread's next wake-up wakes it. */
static void guard_set_deadline(struct serve_guard *g, struct guard_conn *k, int64_t deadline_ms)
{
    k->deadline_ms = deadline_ms;
    if (deadline_ms < g->next_ms)
        pthread_cond_signal(&g->wake);
}

static void *guard_main(void *arg)
{
    struct serve_guard *g = arg;
    pthread_mutex_lock(&g->lock);
    while (!g->stopping) {
        int64_t now = now_ms(), next = INT64_MAX;
        for (struct guard_conn *k = g->head; k; k = k->next) {
            if (k->cut)
                continue;
            if (k->deadline_ms <= now)
                guard_cut(g, k);
            else if (k->deadline_ms < next)
                next = k->deadline_ms;
        }
        g->next_ms = next;
        if (next == INT64_MAX) {
            pthread_cond_wait(&g->wake, &g->lock);
        } else {
            struct timespec ts = {.tv_sec = (time_t)(next / 1000), .tv_nsec = (long)(next % 1000) * 1000000};
            pthread_cond_timedwait(&g->wake, &g->lock, &ts);
        }
    }
    pthread_mutex_unlock(&g->lock);
    return NULL;
}

struct serve_guard *serve_guard_start(unsigned limit, unsigned reserve, unsigned request_ms, unsigned answer_ms,
                                      char *err, size_t errlen)
{
    struct serve_guard *g = xcalloc(1, sizeof(*g));
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&g->lock, NULL);
    pthread_cond_init(&g->wake, &ca);
    pthread_condattr_destroy(&ca);
    g->high = limit > reserve ? limit - reserve : 1;
    g->request_ms = request_ms;
    g->answer_ms = answer_ms;
    g->next_ms = INT64_MAX;
    int rc = pthread_create(&g->thread, NULL, guard_main, g);
    if (rc != 0) {
        snprintf(err, errlen, "cannot start the connection guard: %s", strerror(rc));
        pthread_cond_destroy(&g->wake);
        pthread_mutex_destroy(&g->lock);
        free(g);
        return NULL;
    }
    return g;
}

void serve_guard_stop(struct serve_guard *g)
{
    if (!g)
        return;
    pthread_mutex_lock(&g->lock);
    g->stopping = true;
    pthread_cond_signal(&g->wake);
    pthread_mutex_unlock(&g->lock);
    pthread_join(g->thread, NULL);
    while (g->head) { /* none once the daemon has stopped; kept safe anyway */
        struct guard_conn *k = g->head;
        g->head = k->next;
        free(k);
    }
    pthread_cond_destroy(&g->wake);
    pthread_mutex_destroy(&g->lock);
    free(g);
}

static void guard_opened(struct serve_guard *g, struct MHD_Connection *c, void **socket_context)
{
    const union MHD_ConnectionInfo *fi = serve_mhd.get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!fi)
        return; /* not watched; libmicrohttpd's idle timeout still applies */
    struct guard_conn *k = xcalloc(1, sizeof(*k));
    k->fd = fi->connect_fd;
    k->waiting = true;
    pthread_mutex_lock(&g->lock);
    k->next = g->head;
    if (g->head)
        g->head->prev = k;
    g->head = k;
    g->open++;
    guard_set_deadline(g, k, now_ms() + g->request_ms);
    if (g->open > g->high) {
        struct guard_conn *oldest = NULL;
        for (struct guard_conn *o = k->next; o; o = o->next)
            if (!o->cut && o->waiting && (!oldest || o->deadline_ms < oldest->deadline_ms))
                oldest = o;
        if (oldest)
            guard_cut(g, oldest);
    }
    pthread_mutex_unlock(&g->lock);
    *socket_context = k;
}

static void guard_closed(struct serve_guard *g, void **socket_context)
{
    struct guard_conn *k = *socket_context;
    if (!k)
        return;
    pthread_mutex_lock(&g->lock);
    if (k->prev)
        k->prev->next = k->next;
    else
        g->head = k->next;
    if (k->next)
        k->next->prev = k->prev;
    if (!k->cut)
        g->open--;
    pthread_mutex_unlock(&g->lock);
    free(k);
    *socket_context = NULL;
}

void serve_guard_notify(void *cls, struct MHD_Connection *c, void **socket_context,
                        enum MHD_ConnectionNotificationCode toe)
{
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        guard_opened(cls, c, socket_context);
    else if (toe == MHD_CONNECTION_NOTIFY_CLOSED)
        guard_closed(cls, socket_context);
}

static struct guard_conn *guard_conn_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *ci = serve_mhd.get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return ci ? ci->socket_context : NULL;
}

static void guard_phase(struct serve_guard *g, struct MHD_Connection *c, bool waiting)
{
    struct guard_conn *k = guard_conn_of(c);
    if (!g || !k)
        return;
    pthread_mutex_lock(&g->lock);
    k->waiting = waiting;
    guard_set_deadline(g, k, now_ms() + (waiting ? g->request_ms : g->answer_ms));
    pthread_mutex_unlock(&g->lock);
}

void serve_guard_request_in(struct serve_guard *g, struct MHD_Connection *c)
{
    guard_phase(g, c, false);
}

void serve_guard_answered(struct serve_guard *g, struct MHD_Connection *c)
{
    guard_phase(g, c, true);
}
