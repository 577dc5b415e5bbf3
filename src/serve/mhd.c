/* libmicrohttpd opened with dlopen when a dashboard starts.
 *
 * Why not linked: the library brings GnuTLS and its eight dependencies
 * (p11-kit, libffi, nettle, hogweed, gmp, tasn1, idn2, unistring), and the
 * dynamic loader maps, relocates and initialises all of them at every start
 * of the command, whatever it does: about 6 ms of CPU and 200 page faults
 * out of a 57 ms warm rule load (perf stat, LD_DEBUG=statistics). Only
 * `stoat serve` needs HTTP, so only it pays for it. The header is the
 * same (libmicrohttpd-dev), so every call is checked against the real
 * prototypes; the SONAME is the one the -dev package's libmicrohttpd.so
 * names (the Makefile passes it). */
#include "serve/mhd.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#ifndef SERVE_MHD_SONAME
#define SERVE_MHD_SONAME "libmicrohttpd.so.12"
#endif

struct serve_mhd_fns serve_mhd;

static pthread_once_t once = PTHREAD_ONCE_INIT;
static char open_err[512];

static bool sym(void *h, const char *name, void *slot)
{
    void *p = dlsym(h, name);
    if (!p) {
        snprintf(open_err, sizeof(open_err), "%s has no %s", SERVE_MHD_SONAME, name);
        return false;
    }
    memcpy(slot, &p, sizeof(p)); /* an object pointer into a function pointer, as POSIX allows */
    return true;
}

static void open_once(void)
{
    void *h = dlopen(SERVE_MHD_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(open_err, sizeof(open_err), "cannot load %s (libmicrohttpd, for the dashboard): %s", SERVE_MHD_SONAME,
                 e ? e : "unknown error");
        return;
    }
    struct serve_mhd_fns f;
    if (!sym(h, "MHD_create_response_from_buffer", &f.create_response_from_buffer) ||
        !sym(h, "MHD_add_response_header", &f.add_response_header) ||
        !sym(h, "MHD_queue_response", &f.queue_response) || !sym(h, "MHD_destroy_response", &f.destroy_response) ||
        !sym(h, "MHD_lookup_connection_value", &f.lookup_connection_value) ||
        !sym(h, "MHD_get_connection_values_n", &f.get_connection_values_n) ||
        !sym(h, "MHD_get_connection_info", &f.get_connection_info) ||
        !sym(h, "MHD_get_daemon_info", &f.get_daemon_info) || !sym(h, "MHD_start_daemon_va", &f.start_daemon_va) ||
        !sym(h, "MHD_stop_daemon", &f.stop_daemon)) {
        dlclose(h);
        return;
    }
    serve_mhd = f; /* the handle stays open for the life of the process */
}

bool serve_mhd_open(char *why, size_t whylen)
{
    pthread_once(&once, open_once);
    if (serve_mhd.stop_daemon)
        return true;
    snprintf(why, whylen, "%s", open_err);
    return false;
}

struct MHD_Daemon *serve_mhd_start(unsigned int flags, uint16_t port, MHD_AccessHandlerCallback dh, void *dh_cls, ...)
{
    va_list ap;
    va_start(ap, dh_cls);
    struct MHD_Daemon *d = serve_mhd.start_daemon_va(flags, port, NULL, NULL, dh, dh_cls, ap);
    va_end(ap);
    return d;
}
