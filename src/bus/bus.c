/* The bus connection: nats.c options built the same way for every stoat
 * process, the library's callbacks turned into a state a caller can wait on
 * and into sentences, and the fleet's names (host token, partition,
 * subjects, credentials file).
 *
 * Why RetryOnFailedConnect and an unlimited reconnect: a host's stoat must
 * start and keep detecting while the bus is away (its batches go to the
 * spool), so a first connect that fails is not an error, and a connection is
 * never given up. The reconnect delay backs off (1 s doubling to 15 s, plus
 * up to a quarter of jitter) so that a fleet of thousands does not knock on
 * a restarted cluster in step. Publishes are never buffered by the library
 * while disconnected (reconnect buffer 0): the publisher checks the state and
 * spools, which is bounded and counted, rather than hiding batches in memory. */
#include "bus/bus.h"

#include <errno.h>
#include <stdarg.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "bus/nats_lib.h"

struct stoat_bus_conn {
    natsOptions *opts;
    natsConnection *nc;
    jsCtx *js;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    enum stoat_bus_state state;
    bool ever_connected;
    bool closing; /* stoat_bus_close: the disconnect it causes is not news */
    struct bus_conn_stats st;
    stoat_bus_diag_fn diag;
    void *diag_ctx;
    void (*on_state)(void *ctx, enum stoat_bus_state st);
    void *state_ctx;
    uint64_t jitter_seed;
};

/* ---------------------------------------------------------------- names */

uint32_t stoat_bus_fnv1a(const void *p, size_t n)
{
    const unsigned char *s = p;
    uint32_t h = 2166136261u;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 16777619u;
    }
    return h;
}

size_t stoat_bus_host_token(const char *name, size_t len, char out[STOAT_BUS_TOKEN_MAX + 1])
{
    if (!name || len == 0) {
        memcpy(out, "unknown", 8);
        return 7;
    }
    size_t n = len > STOAT_BUS_TOKEN_MAX ? 55 : len;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c >= 'A' && c <= 'Z')
            c = (unsigned char)(c - 'A' + 'a');
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-';
        out[i] = ok ? (char)c : '_';
    }
    if (len > STOAT_BUS_TOKEN_MAX) {
        snprintf(out + n, STOAT_BUS_TOKEN_MAX + 1 - n, "-%08x", stoat_bus_fnv1a(name, len));
        n += 9;
    }
    out[n] = 0;
    return n;
}

unsigned bus_partition(const char *token, unsigned partitions)
{
    if (partitions == 0)
        partitions = 1;
    return stoat_bus_fnv1a(token, strlen(token)) % partitions;
}

size_t bus_subject_events(char *out, const char *token, unsigned part)
{
    return (size_t)snprintf(out, BUS_SUBJECT_MAX, "stoat.ev.%s.%u", token, part);
}

size_t bus_subject_alerts(char *out, const char *token)
{
    return (size_t)snprintf(out, BUS_SUBJECT_MAX, "stoat.al.%s", token);
}

size_t bus_subject_heartbeat(char *out, const char *token)
{
    return (size_t)snprintf(out, BUS_SUBJECT_MAX, "stoat.hb.%s", token);
}

size_t bus_split_servers(const char *list, char *buf, size_t buflen, const char **out, size_t max)
{
    size_t n = 0;
    if (!list || buflen == 0)
        return 0;
    snprintf(buf, buflen, "%s", list);
    char *save = NULL;
    for (char *t = strtok_r(buf, ", \t", &save); t && n < max; t = strtok_r(NULL, ", \t", &save))
        out[n++] = t;
    return n;
}

const char *bus_state_name(enum stoat_bus_state s)
{
    switch (s) {
    case STOAT_BUS_CONNECTING: return "connecting";
    case STOAT_BUS_CONNECTED: return "connected";
    case STOAT_BUS_DISCONNECTED: return "disconnected";
    case STOAT_BUS_CLOSED: return "closed";
    }
    return "?";
}

/* ---------------------------------------------------------- credentials */

static void trim(char **s, char **e)
{
    while (*s < *e && (**s == ' ' || **s == '\t'))
        (*s)++;
    while (*e > *s && ((*e)[-1] == ' ' || (*e)[-1] == '\t' || (*e)[-1] == '\r'))
        (*e)--;
}

/* Parses "key: value" lines into c; 0, or -1 with why. */
static int creds_parse(const char *path, char *text, size_t n, struct bus_creds *c, char *why, size_t whylen)
{
    unsigned lineno = 0;
    char *p = text, *end = text + n;
    while (p < end) {
        char *nl = memchr(p, '\n', (size_t)(end - p));
        char *le = nl ? nl : end;
        lineno++;
        char *s = p, *e = le;
        p = nl ? nl + 1 : end;
        trim(&s, &e);
        if (s == e || *s == '#')
            continue;
        char *colon = memchr(s, ':', (size_t)(e - s));
        if (!colon) {
            snprintf(why, whylen, "%s:%u: expected \"key: value\"", path, lineno);
            return -1;
        }
        char *ks = s, *ke = colon, *vs = colon + 1, *ve = e;
        trim(&ks, &ke);
        trim(&vs, &ve);
        size_t kl = (size_t)(ke - ks), vl = (size_t)(ve - vs);
        char *dst = NULL;
        size_t cap = 0;
        if (kl == 4 && memcmp(ks, "user", 4) == 0) {
            dst = c->user;
            cap = sizeof c->user;
        } else if (kl == 8 && memcmp(ks, "password", 8) == 0) {
            dst = c->password;
            cap = sizeof c->password;
        } else {
            snprintf(why, whylen, "%s:%u: unknown key \"%.*s\" (user and password are known)", path, lineno,
                     (int)(kl > 40 ? 40 : kl), ks);
            return -1;
        }
        if (vl == 0 || vl >= cap || memchr(vs, 0, vl)) {
            snprintf(why, whylen, "%s:%u: %s is empty, too long or not text", path, lineno,
                     dst == c->user ? "user" : "password");
            return -1;
        }
        memcpy(dst, vs, vl);
        dst[vl] = 0;
    }
    if (!c->user[0] || !c->password[0]) {
        snprintf(why, whylen, "%s: needs both \"user:\" and \"password:\"", path);
        return -1;
    }
    return 0;
}

stoat_err bus_creds_load(const char *path, struct bus_creds *out, char *why, size_t whylen)
{
    stoat_err err = STOAT_ERR_IO;
    char text[BUS_CREDS_MAX + 1];
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        snprintf(why, whylen, "%s: cannot open the credentials file: %s", path, strerror(errno));
        goto out;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        snprintf(why, whylen, "%s: the credentials file is not a regular file", path);
        err = STOAT_ERR_CONFIG;
        goto out;
    }
    if (sb.st_mode & 077) {
        snprintf(why, whylen, "%s: the credentials file may be read by others (mode %03o); make it 0600", path,
                 (unsigned)(sb.st_mode & 0777));
        err = STOAT_ERR_CONFIG;
        goto out;
    }
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fd, text + n, sizeof text - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whylen, "%s: %s", path, strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > BUS_CREDS_MAX) {
            snprintf(why, whylen, "%s: the credentials file is over %u bytes", path, BUS_CREDS_MAX);
            err = STOAT_ERR_LIMIT;
            goto out;
        }
    }
    text[n] = 0;
    err = STOAT_ERR_CONFIG;
    if (creds_parse(path, text, n, out, why, whylen) != 0)
        goto out;
    err = STOAT_OK;
out:
    if (fd >= 0)
        close(fd);
    memset(text, 0, sizeof text); /* the password does not linger on the stack */
    if (err != STOAT_OK)
        memset(out, 0, sizeof *out);
    return err;
}

void bus_creds_format(char *out, size_t outlen, const char *host, const struct bus_creds *c)
{
    snprintf(out, outlen, "# stoat fleet credentials for host %s (keep mode 0600)\nuser: %s\npassword: %s\n", host,
             c->user, c->password);
}

/* ------------------------------------------------------------ callbacks */

static void say(struct stoat_bus_conn *c, enum stoat_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct stoat_bus_conn *c, enum stoat_severity sev, const char *fmt, ...)
{
    if (!c->diag)
        return;
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    c->diag(c->diag_ctx, sev, msg);
}

/* The caller's callback first: once the new state is out, stoat_bus_close may
 * free c (it waits for CLOSED), so nothing of c is touched after. */
static void set_state(struct stoat_bus_conn *c, enum stoat_bus_state s)
{
    if (c->on_state)
        c->on_state(c->state_ctx, s);
    pthread_mutex_lock(&c->mu);
    c->state = s;
    if (s == STOAT_BUS_CONNECTED)
        c->ever_connected = true;
    pthread_cond_broadcast(&c->cv);
    pthread_mutex_unlock(&c->mu);
}

static void on_connected(natsConnection *nc, void *closure)
{
    struct stoat_bus_conn *c = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    say(c, STOAT_SEV_NOTE, "bus: connected to %s", url);
    set_state(c, STOAT_BUS_CONNECTED);
}

static void on_disconnected(natsConnection *nc, void *closure)
{
    (void)nc;
    struct stoat_bus_conn *c = closure;
    pthread_mutex_lock(&c->mu);
    bool was = c->ever_connected && !c->closing;
    if (was)
        c->st.disconnects++;
    pthread_mutex_unlock(&c->mu);
    if (was)
        say(c, STOAT_SEV_WARNING,
            "bus: lost the connection to the servers; reconnecting (batches go to the "
            "spool meanwhile)");
    set_state(c, STOAT_BUS_DISCONNECTED);
}

static void on_reconnected(natsConnection *nc, void *closure)
{
    struct stoat_bus_conn *c = closure;
    char url[256] = "";
    natsConnection_GetConnectedUrl(nc, url, sizeof url);
    pthread_mutex_lock(&c->mu);
    c->st.reconnects++;
    pthread_mutex_unlock(&c->mu);
    say(c, STOAT_SEV_NOTE, "bus: reconnected to %s", url);
    set_state(c, STOAT_BUS_CONNECTED);
}

static void on_closed(natsConnection *nc, void *closure)
{
    (void)nc;
    set_state(closure, STOAT_BUS_CLOSED);
}

static void on_error(natsConnection *nc, natsSubscription *sub, natsStatus err, void *closure)
{
    struct stoat_bus_conn *c = closure;
    const char *text = NULL;
    natsConnection_GetLastError(nc, &text);
    if (!text || !*text)
        text = natsStatus_GetText(err);
    if (err == NATS_NOT_PERMITTED || strstr(text, "Permissions Violation")) {
        pthread_mutex_lock(&c->mu);
        c->st.refused++;
        snprintf(c->st.last_refused, sizeof c->st.last_refused, "%s", text);
        pthread_mutex_unlock(&c->mu);
        say(c, STOAT_SEV_ERROR,
            "bus: the server refused: %s; this host's credentials do not allow that subject (check --creds "
            "and the server's permissions for this host, docs/fleet.md)",
            text);
        return;
    }
    /* A subscription's trouble (a missed heartbeat of a watcher, a slow
     * consumer) is its own status: the connection's last error may be an
     * older, unrelated one and read as nonsense ("Insufficient Buffer"). */
    const char *subject = sub ? natsSubscription_GetSubject(sub) : NULL;
    if (subject)
        say(c, STOAT_SEV_WARNING, "bus: subscription to %s: %s", subject, natsStatus_GetText(err));
    else
        say(c, STOAT_SEV_WARNING, "bus: %s", text);
}

static int64_t reconnect_delay(natsConnection *nc, int attempts, void *closure)
{
    (void)nc;
    struct stoat_bus_conn *c = closure;
    int64_t d = 1000;
    for (int i = 1; i < attempts && d < 15000; i++)
        d *= 2;
    if (d > 15000)
        d = 15000;
    /* xorshift: a different jitter per host without a shared random state */
    uint64_t x = c->jitter_seed;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    c->jitter_seed = x;
    return d + (int64_t)(x % (uint64_t)(d / 4 + 1));
}

/* ------------------------------------------------------------ connection */

static stoat_err nats_fail(natsStatus s, const char *what, char *why, size_t whylen)
{
    const char *last = nats_GetLastError(NULL);
    snprintf(why, whylen, "bus: %s: %s%s%s", what, natsStatus_GetText(s), last && *last ? ": " : "", last ? last : "");
    return STOAT_ERR_CONFIG;
}

/* Options into c->opts; STOAT_OK or an error with why. */
static stoat_err build_opts(struct stoat_bus_conn *c, const struct stoat_bus_opts *o, char *why, size_t whylen)
{
    const char *urls[STOAT_BUS_MAX_SERVERS];
    char envbuf[2048];
    size_t n = 0;
    natsStatus s;
    if (o->nservers) {
        for (size_t i = 0; i < o->nservers && i < STOAT_BUS_MAX_SERVERS; i++)
            urls[n++] = o->servers[i];
    } else {
        const char *env = getenv("STOAT_NATS_URL");
        n = bus_split_servers(env, envbuf, sizeof envbuf, urls, STOAT_BUS_MAX_SERVERS);
        if (n == 0)
            urls[n++] = BUS_DEFAULT_URL;
    }
    for (size_t i = 0; i < n; i++) {
        if (strncmp(urls[i], "nats://", 7) != 0 && strncmp(urls[i], "tls://", 6) != 0) {
            snprintf(why, whylen, "bus: \"%s\": a server is nats://HOST:PORT or tls://HOST:PORT", urls[i]);
            return STOAT_ERR_ARG;
        }
    }
    if ((s = natsOptions_Create(&c->opts)) != NATS_OK)
        return nats_fail(s, "options", why, whylen);
    if ((s = natsOptions_SetServers(c->opts, urls, (int)n)) != NATS_OK)
        return nats_fail(s, "servers", why, whylen);
    if (o->creds) {
        struct bus_creds cr;
        stoat_err e = bus_creds_load(o->creds, &cr, why, whylen);
        if (e != STOAT_OK)
            return e;
        s = natsOptions_SetUserInfo(c->opts, cr.user, cr.password);
        memset(&cr, 0, sizeof cr);
        if (s != NATS_OK)
            return nats_fail(s, "credentials", why, whylen);
    }
    if (o->tls_ca) {
        if (access(o->tls_ca, R_OK) != 0) {
            snprintf(why, whylen, "%s: cannot read the CA file: %s", o->tls_ca, strerror(errno));
            return STOAT_ERR_IO;
        }
        if ((s = natsOptions_SetSecure(c->opts, true)) != NATS_OK ||
            (s = natsOptions_LoadCATrustedCertificates(c->opts, o->tls_ca)) != NATS_OK)
            return nats_fail(s, "TLS CA", why, whylen);
        if (o->tls_name && (s = natsOptions_SetExpectedHostname(c->opts, o->tls_name)) != NATS_OK)
            return nats_fail(s, "TLS name", why, whylen);
    }
    if (o->inbox && (s = natsOptions_SetCustomInboxPrefix(c->opts, o->inbox)) != NATS_OK)
        return nats_fail(s, "inbox prefix", why, whylen);
    if (o->name)
        natsOptions_SetName(c->opts, o->name);
    natsOptions_SetMaxReconnect(c->opts, -1);
    natsOptions_SetCustomReconnectDelay(c->opts, reconnect_delay, c);
    natsOptions_SetReconnectBufSize(c->opts, 0);
    natsOptions_SetFailRequestsOnDisconnect(c->opts, true);
    natsOptions_SetRetryOnFailedConnect(c->opts, true, on_connected, c);
    natsOptions_SetDisconnectedCB(c->opts, on_disconnected, c);
    natsOptions_SetReconnectedCB(c->opts, on_reconnected, c);
    natsOptions_SetClosedCB(c->opts, on_closed, c);
    natsOptions_SetErrorHandler(c->opts, on_error, c);
    return STOAT_OK;
}

stoat_err stoat_bus_connect(const struct stoat_bus_opts *o, struct stoat_bus_conn **out, char *why, size_t whylen)
{
    stoat_err err = STOAT_ERR_NOMEM;
    *out = NULL;
    if (!bus_nats_open(why, whylen))
        return STOAT_ERR_IO;
    struct stoat_bus_conn *c = calloc(1, sizeof *c);
    if (!c) {
        snprintf(why, whylen, "bus: out of memory");
        return err;
    }
    pthread_mutex_init(&c->mu, NULL);
    pthread_cond_init(&c->cv, NULL);
    c->diag = o->diag;
    c->diag_ctx = o->diag_ctx;
    c->on_state = o->on_state;
    c->state_ctx = o->state_ctx;
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    c->jitter_seed = ((uint64_t)ts.tv_nsec << 20) ^ (uint64_t)getpid() ^ (uint64_t)(uintptr_t)c;
    if (!c->jitter_seed)
        c->jitter_seed = 88172645463325252ull;
    if ((err = build_opts(c, o, why, whylen)) != STOAT_OK)
        goto out;
    natsStatus s = natsConnection_Connect(&c->nc, c->opts);
    if (s == NATS_OK) {
        set_state(c, STOAT_BUS_CONNECTED);
    } else if (s != NATS_NOT_YET_CONNECTED) {
        err = nats_fail(s, "connect", why, whylen);
        goto out;
    }
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = 5000;
    if ((s = natsConnection_JetStream(&c->js, c->nc, &jo)) != NATS_OK) {
        err = nats_fail(s, "JetStream context", why, whylen);
        goto out;
    }
    if (s == NATS_OK && bus_conn_state(c) != STOAT_BUS_CONNECTED)
        stoat_bus_conn_wait(c, o->connect_wait_ms > 0 ? o->connect_wait_ms : 2000);
    if (bus_conn_state(c) != STOAT_BUS_CONNECTED)
        say(c, STOAT_SEV_WARNING, "bus: no server answered yet; retrying in the background");
    *out = c;
    return STOAT_OK;
out:
    stoat_bus_close(c);
    return err;
}

enum stoat_bus_state bus_conn_state(const struct stoat_bus_conn *c)
{
    struct stoat_bus_conn *m = (struct stoat_bus_conn *)c;
    pthread_mutex_lock(&m->mu);
    enum stoat_bus_state s = m->state;
    pthread_mutex_unlock(&m->mu);
    return s;
}

bool stoat_bus_conn_wait(struct stoat_bus_conn *c, int64_t ms)
{
    struct timespec dl;
    clock_gettime(CLOCK_REALTIME, &dl);
    dl.tv_sec += ms / 1000;
    dl.tv_nsec += (ms % 1000) * 1000000L;
    if (dl.tv_nsec >= 1000000000L) {
        dl.tv_sec++;
        dl.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&c->mu);
    while (c->state != STOAT_BUS_CONNECTED && c->state != STOAT_BUS_CLOSED)
        if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0)
            break;
    bool ok = c->state == STOAT_BUS_CONNECTED;
    pthread_mutex_unlock(&c->mu);
    return ok;
}

void bus_conn_url(struct stoat_bus_conn *c, char *out, size_t outlen)
{
    out[0] = 0;
    if (c->nc && natsConnection_GetConnectedUrl(c->nc, out, outlen) != NATS_OK)
        out[0] = 0;
}

natsConnection *bus_nats(struct stoat_bus_conn *c)
{
    return c->nc;
}
jsCtx *stoat_bus_js(struct stoat_bus_conn *c)
{
    return c->js;
}

void bus_conn_stats(struct stoat_bus_conn *c, struct bus_conn_stats *out)
{
    pthread_mutex_lock(&c->mu);
    *out = c->st;
    pthread_mutex_unlock(&c->mu);
}

stoat_err stoat_bus_read_partitions(struct stoat_bus_conn *c, unsigned *out, char *why, size_t whylen)
{
    natsMsg *reply = NULL;
    stoat_err err = STOAT_ERR_IO;
    *out = BUS_DEFAULT_PARTITIONS;
    natsStatus s = natsConnection_Request(
        &reply, c->nc, "$JS.API.DIRECT.GET.KV_" STOAT_BUS_KV_FLEET ".$KV." STOAT_BUS_KV_FLEET "." BUS_KEY_PARTITIONS,
        NULL, 0, 3000);
    if (s == NATS_NO_RESPONDERS) { /* no bucket yet (or no direct get): the default */
        err = STOAT_OK;
        goto out;
    }
    if (s != NATS_OK) {
        snprintf(why, whylen, "bus: reading %s %s: %s", STOAT_BUS_KV_FLEET, BUS_KEY_PARTITIONS, natsStatus_GetText(s));
        goto out;
    }
    const char *status = NULL;
    if (natsMsgHeader_Get(reply, "Status", &status) == NATS_OK && status && *status) {
        if (strcmp(status, "404") == 0) { /* the key is absent */
            err = STOAT_OK;
            goto out;
        }
        snprintf(why, whylen, "bus: reading %s %s: the server answered %s", STOAT_BUS_KV_FLEET, BUS_KEY_PARTITIONS,
                 status);
        goto out;
    }
    const char *op = NULL;
    if (natsMsgHeader_Get(reply, "KV-Operation", &op) == NATS_OK && op) { /* deleted or purged */
        err = STOAT_OK;
        goto out;
    }
    char num[32];
    int len = natsMsg_GetDataLength(reply);
    if (len <= 0 || len >= (int)sizeof num) {
        snprintf(why, whylen, "bus: %s %s is not a number", STOAT_BUS_KV_FLEET, BUS_KEY_PARTITIONS);
        err = STOAT_ERR_CONFIG;
        goto out;
    }
    memcpy(num, natsMsg_GetData(reply), (size_t)len);
    num[len] = 0;
    char *end = NULL;
    unsigned long v = strtoul(num, &end, 10);
    if (end == num || *end || v < 1 || v > BUS_MAX_PARTITIONS) {
        snprintf(why, whylen, "bus: %s %s is \"%s\", not a number from 1 to %u", STOAT_BUS_KV_FLEET, BUS_KEY_PARTITIONS,
                 num, BUS_MAX_PARTITIONS);
        err = STOAT_ERR_CONFIG;
        goto out;
    }
    *out = (unsigned)v;
    err = STOAT_OK;
out:
    natsMsg_Destroy(reply);
    return err;
}

/* ------------------------------------------------------------ setup */

static stoat_err ensure_stream(jsCtx *js, const char *name, const char *subject, const struct stoat_bus_setup_opts *o,
                               int64_t per_subject, char *why, size_t whylen)
{
    jsStreamConfig sc;
    jsStreamConfig_Init(&sc);
    const char *subj[1] = {subject};
    sc.Name = name;
    sc.Subjects = subj;
    sc.SubjectsLen = 1;
    sc.Storage = js_FileStorage;
    sc.Retention = js_LimitsPolicy;
    sc.Replicas = o->replicas > 0 ? o->replicas : 1;
    sc.MaxAge = o->max_age_ns;
    sc.MaxBytes = o->max_bytes > 0 ? o->max_bytes : -1;
    sc.Duplicates = BUS_DUPLICATE_WINDOW_NS;
    if (per_subject > 0)
        sc.MaxMsgsPerSubject = per_subject;
    jsErrCode je = 0;
    jsStreamInfo *si = NULL;
    natsStatus s = js_AddStream(&si, js, &sc, NULL, &je);
    if (s != NATS_OK && je == JSStreamNameExistErr)
        s = js_UpdateStream(&si, js, &sc, NULL, &je);
    jsStreamInfo_Destroy(si);
    if (s != NATS_OK) {
        const char *last = nats_GetLastError(NULL);
        snprintf(why, whylen, "bus: stream %s: %s (JetStream error %d)%s%s", name, natsStatus_GetText(s), (int)je,
                 last ? ": " : "", last ? last : "");
        return STOAT_ERR_IO;
    }
    return STOAT_OK;
}

static stoat_err ensure_bucket(jsCtx *js, const char *name, int64_t history, const struct stoat_bus_setup_opts *o,
                               kvStore **kv, char *why, size_t whylen)
{
    kvConfig kc;
    kvConfig_Init(&kc);
    kc.Bucket = name;
    kc.History = history;
    kc.Replicas = o->replicas > 0 ? o->replicas : 1;
    kc.StorageType = js_FileStorage;
    natsStatus s = js_CreateKeyValue(kv, js, &kc);
    if (s != NATS_OK) /* exists already (perhaps with other settings): bind to it */
        s = js_KeyValue(kv, js, name);
    if (s != NATS_OK) {
        const char *last = nats_GetLastError(NULL);
        snprintf(why, whylen, "bus: bucket %s: %s%s%s", name, natsStatus_GetText(s), last ? ": " : "",
                 last ? last : "");
        return STOAT_ERR_IO;
    }
    return STOAT_OK;
}

stoat_err stoat_bus_ensure_streams(struct stoat_bus_conn *c, const struct stoat_bus_setup_opts *o, char *why,
                                   size_t whylen)
{
    stoat_err err;
    kvStore *rules = NULL, *fleet = NULL;
    if ((err = ensure_stream(c->js, STOAT_BUS_STREAM_EVENTS, "stoat.ev.>", o, 0, why, whylen)) != STOAT_OK ||
        (err = ensure_stream(c->js, STOAT_BUS_STREAM_ALERTS, "stoat.al.>", o, 0, why, whylen)) != STOAT_OK ||
        (err = ensure_stream(c->js, STOAT_BUS_STREAM_HEALTH, "stoat.hb.>", o, 64, why, whylen)) != STOAT_OK ||
        (err = ensure_stream(c->js, STOAT_BUS_STREAM_FACTS, "stoat.fact.>", o, 0, why, whylen)) != STOAT_OK)
        goto out;
    if ((err = ensure_bucket(c->js, STOAT_BUS_KV_RULES, 16, o, &rules, why, whylen)) != STOAT_OK ||
        (err = ensure_bucket(c->js, STOAT_BUS_KV_FLEET, 1, o, &fleet, why, whylen)) != STOAT_OK)
        goto out;
    if (o->partitions) {
        if (o->partitions > BUS_MAX_PARTITIONS) {
            snprintf(why, whylen, "bus: %u partitions is over the most, %u", o->partitions, BUS_MAX_PARTITIONS);
            err = STOAT_ERR_ARG;
            goto out;
        }
        char num[16];
        snprintf(num, sizeof num, "%u", o->partitions);
        uint64_t rev = 0;
        natsStatus s = kvStore_PutString(&rev, fleet, BUS_KEY_PARTITIONS, num);
        if (s != NATS_OK) {
            snprintf(why, whylen, "bus: writing %s %s: %s", STOAT_BUS_KV_FLEET, BUS_KEY_PARTITIONS,
                     natsStatus_GetText(s));
            err = STOAT_ERR_IO;
            goto out;
        }
    }
    err = STOAT_OK;
out:
    kvStore_Destroy(rules);
    kvStore_Destroy(fleet);
    return err;
}

void stoat_bus_close(struct stoat_bus_conn *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&c->mu);
    c->closing = true;
    pthread_mutex_unlock(&c->mu);
    if (c->nc) {
        natsConnection_FlushTimeout(c->nc, 1000);
        natsConnection_Close(c->nc);
        /* the closed callback runs on the library's thread and touches c:
         * wait for it before freeing */
        struct timespec dl;
        clock_gettime(CLOCK_REALTIME, &dl);
        dl.tv_sec += 5;
        pthread_mutex_lock(&c->mu);
        while (c->state != STOAT_BUS_CLOSED)
            if (pthread_cond_timedwait(&c->cv, &c->mu, &dl) != 0)
                break;
        pthread_mutex_unlock(&c->mu);
    }
    jsCtx_Destroy(c->js);
    natsConnection_Destroy(c->nc);
    natsOptions_Destroy(c->opts);
    pthread_cond_destroy(&c->cv);
    pthread_mutex_destroy(&c->mu);
    free(c);
}

void stoat_bus_shutdown(void)
{
    if (bus_nats_opened()) /* never opened: nothing to close, and no library to load for it */
        nats_CloseAndWait(2000);
}
