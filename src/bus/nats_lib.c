/* libnats, opened with dlopen by the first command that talks to NATS
 * (fleet, publish, watch --publish) instead of linked into the command.
 *
 * Why not linked: Debian ships no static archive of it, and the shared
 * library brings libssl, libcrypto and protobuf-c: at every start of the
 * command, whatever it does, the dynamic loader mapped and relocated the
 * four (21,000 relocations in libcrypto alone, each page written a page
 * fault), a fifth of a warm rule load's start (LD_DEBUG=statistics, perf).
 *
 * The functions keep their names: each one stoat calls is defined here with
 * the prototype nats.h declares (the compiler checks every definition
 * against it) and calls the library's own, which dlsym found when the
 * library was opened; callers include nats.h as before. A function used
 * for the first time must be added to NATS_FUNCS, or the link fails. */
#include "bus/nats_lib.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <nats/nats.h>

#ifndef BUS_NATS_SONAME
#define BUS_NATS_SONAME "libnats.so.3.4"
#endif

/* F(return type, name, parameters, arguments); V(name, parameters, arguments) for void. */
// clang-format off
#define NATS_FUNCS(F, V) \
    F(natsStatus, jsConsumerConfig_Init, (jsConsumerConfig *cc), (cc)) \
    V(jsConsumerInfo_Destroy, (jsConsumerInfo *ci), (ci)) \
    V(jsCtx_Destroy, (jsCtx *js), (js)) \
    F(natsStatus, jsFetchRequest_Init, (jsFetchRequest *request), (request)) \
    V(jsMsgMetaData_Destroy, (jsMsgMetaData *meta), (meta)) \
    F(natsStatus, jsOptions_Init, (jsOptions *opts), (opts)) \
    V(jsPubAck_Destroy, (jsPubAck *pubAck), (pubAck)) \
    F(natsStatus, jsPubOptions_Init, (jsPubOptions *opts), (opts)) \
    F(natsStatus, jsStreamConfig_Init, (jsStreamConfig *cfg), (cfg)) \
    V(jsStreamInfo_Destroy, (jsStreamInfo *si), (si)) \
    F(natsStatus, jsSubOptions_Init, (jsSubOptions *opts), (opts)) \
    F(natsStatus, js_AddConsumer, \
        (jsConsumerInfo **ci, jsCtx *js, const char *stream, jsConsumerConfig *cfg, jsOptions *opts, \
         jsErrCode *errCode), \
        (ci, js, stream, cfg, opts, errCode)) \
    F(natsStatus, js_AddStream, \
        (jsStreamInfo **si, jsCtx *js, jsStreamConfig *cfg, jsOptions *opts, jsErrCode *errCode), \
        (si, js, cfg, opts, errCode)) \
    F(natsStatus, js_CreateKeyValue, (kvStore **new_kv, jsCtx *js, kvConfig *cfg), (new_kv, js, cfg)) \
    F(natsStatus, js_DeleteStream, \
        (jsCtx *js, const char *stream, jsOptions *opts, jsErrCode *errCode), \
        (js, stream, opts, errCode)) \
    F(natsStatus, js_GetConsumerInfo, \
        (jsConsumerInfo **ci, jsCtx *js, const char *stream, const char *consumer, jsOptions *opts, \
         jsErrCode *errCode), \
        (ci, js, stream, consumer, opts, errCode)) \
    F(natsStatus, js_GetMsg, \
        (natsMsg **msg, jsCtx *js, const char *stream, uint64_t seq, jsOptions *opts, jsErrCode *errCode), \
        (msg, js, stream, seq, opts, errCode)) \
    F(natsStatus, js_GetStreamInfo, \
        (jsStreamInfo **si, jsCtx *js, const char *stream, jsOptions *opts, jsErrCode *errCode), \
        (si, js, stream, opts, errCode)) \
    F(natsStatus, js_KeyValue, (kvStore **new_kv, jsCtx *js, const char *bucket), (new_kv, js, bucket)) \
    F(natsStatus, js_Publish, \
        (jsPubAck **pubAck, jsCtx *js, const char *subj, const void *data, int dataLen, jsPubOptions *opts, \
         jsErrCode *errCode), \
        (pubAck, js, subj, data, dataLen, opts, errCode)) \
    F(natsStatus, js_PublishAsyncComplete, (jsCtx *js, jsPubOptions *opts), (js, opts)) \
    F(natsStatus, js_PublishAsyncGetPendingList, (natsMsgList *pending, jsCtx *js), (pending, js)) \
    F(natsStatus, js_PublishMsg, \
        (jsPubAck **pubAck, jsCtx *js, natsMsg *msg, jsPubOptions *opts, jsErrCode *errCode), \
        (pubAck, js, msg, opts, errCode)) \
    F(natsStatus, js_PublishMsgAsync, (jsCtx *js, natsMsg **msg, jsPubOptions *opts), (js, msg, opts)) \
    F(natsStatus, js_PullSubscribe, \
        (natsSubscription **sub, jsCtx *js, const char *subject, const char *durable, jsOptions *opts, \
         jsSubOptions *subOpts, jsErrCode *errCode), \
        (sub, js, subject, durable, opts, subOpts, errCode)) \
    F(natsStatus, js_SubscribeSync, \
        (natsSubscription **sub, jsCtx *js, const char *subject, jsOptions *opts, jsSubOptions *subOpts, \
         jsErrCode *errCode), \
        (sub, js, subject, opts, subOpts, errCode)) \
    F(natsStatus, js_UpdateConsumer, \
        (jsConsumerInfo **ci, jsCtx *js, const char *stream, jsConsumerConfig *cfg, jsOptions *opts, \
         jsErrCode *errCode), \
        (ci, js, stream, cfg, opts, errCode)) \
    F(natsStatus, js_UpdateStream, \
        (jsStreamInfo **si, jsCtx *js, jsStreamConfig *cfg, jsOptions *opts, jsErrCode *errCode), \
        (si, js, cfg, opts, errCode)) \
    F(natsStatus, kvConfig_Init, (kvConfig *cfg), (cfg)) \
    V(kvEntry_Destroy, (kvEntry *e), (e)) \
    F(kvOperation, kvEntry_Operation, (kvEntry *e), (e)) \
    F(uint64_t, kvEntry_Revision, (kvEntry *e), (e)) \
    F(const void *, kvEntry_Value, (kvEntry *e), (e)) \
    F(int, kvEntry_ValueLen, (kvEntry *e), (e)) \
    F(const char *, kvEntry_ValueString, (kvEntry *e), (e)) \
    V(kvKeysList_Destroy, (kvKeysList *list), (list)) \
    F(natsStatus, kvStore_CreateString, \
        (uint64_t *rev, kvStore *kv, const char *key, const char *data), \
        (rev, kv, key, data)) \
    F(natsStatus, kvStore_Delete, (kvStore *kv, const char *key), (kv, key)) \
    V(kvStore_Destroy, (kvStore *kv), (kv)) \
    F(natsStatus, kvStore_Get, (kvEntry **new_entry, kvStore *kv, const char *key), (new_entry, kv, key)) \
    F(natsStatus, kvStore_Keys, (kvKeysList *list, kvStore *kv, kvWatchOptions *opts), (list, kv, opts)) \
    F(natsStatus, kvStore_Put, \
        (uint64_t *rev, kvStore *kv, const char *key, const void *data, int len), \
        (rev, kv, key, data, len)) \
    F(natsStatus, kvStore_PutString, \
        (uint64_t *rev, kvStore *kv, const char *key, const char *data), \
        (rev, kv, key, data)) \
    F(natsStatus, kvStore_UpdateString, \
        (uint64_t *rev, kvStore *kv, const char *key, const char *data, uint64_t last), \
        (rev, kv, key, data, last)) \
    F(natsStatus, kvStore_Watch, \
        (kvWatcher **new_watcher, kvStore *kv, const char *keys, kvWatchOptions *opts), \
        (new_watcher, kv, keys, opts)) \
    V(kvWatcher_Destroy, (kvWatcher *w), (w)) \
    F(natsStatus, kvWatcher_Next, (kvEntry **new_entry, kvWatcher *w, int64_t timeout), (new_entry, w, timeout)) \
    V(natsConnection_Close, (natsConnection *nc), (nc)) \
    F(natsStatus, natsConnection_Connect, (natsConnection **nc, natsOptions *options), (nc, options)) \
    V(natsConnection_Destroy, (natsConnection *nc), (nc)) \
    F(natsStatus, natsConnection_Flush, (natsConnection *nc), (nc)) \
    F(natsStatus, natsConnection_FlushTimeout, (natsConnection *nc, int64_t timeout), (nc, timeout)) \
    F(natsStatus, natsConnection_GetConnectedUrl, \
        (natsConnection *nc, char *buffer, size_t bufferSize), \
        (nc, buffer, bufferSize)) \
    F(natsStatus, natsConnection_GetLastError, (natsConnection *nc, const char **lastError), (nc, lastError)) \
    F(natsStatus, natsConnection_JetStream, (jsCtx **js, natsConnection *nc, jsOptions *opts), (js, nc, opts)) \
    F(natsStatus, natsConnection_PublishRequestString, \
        (natsConnection *nc, const char *subj, const char *reply, const char *str), \
        (nc, subj, reply, str)) \
    F(natsStatus, natsConnection_Request, \
        (natsMsg **replyMsg, natsConnection *nc, const char *subj, const void *data, int dataLen, int64_t timeout), \
        (replyMsg, nc, subj, data, dataLen, timeout)) \
    F(natsStatus, natsConnection_SubscribeSync, \
        (natsSubscription **sub, natsConnection *nc, const char *subject), \
        (sub, nc, subject)) \
    F(natsStatus, natsInbox_Create, (natsInbox **newInbox), (newInbox)) \
    V(natsInbox_Destroy, (natsInbox *inbox), (inbox)) \
    F(natsStatus, natsMsgHeader_Get, (natsMsg *msg, const char *key, const char **value), (msg, key, value)) \
    F(natsStatus, natsMsgHeader_Keys, (natsMsg *msg, const char ***keys, int *count), (msg, keys, count)) \
    F(natsStatus, natsMsgHeader_Set, (natsMsg *msg, const char *key, const char *value), (msg, key, value)) \
    V(natsMsgList_Destroy, (natsMsgList *list), (list)) \
    F(natsStatus, natsMsg_Ack, (natsMsg *msg, jsOptions *opts), (msg, opts)) \
    F(natsStatus, natsMsg_AckSync, (natsMsg *msg, jsOptions *opts, jsErrCode *errCode), (msg, opts, errCode)) \
    F(natsStatus, natsMsg_Create, \
        (natsMsg **newMsg, const char *subj, const char *reply, const char *data, int dataLen), \
        (newMsg, subj, reply, data, dataLen)) \
    V(natsMsg_Destroy, (natsMsg *msg), (msg)) \
    F(const char *, natsMsg_GetData, (const natsMsg *msg), (msg)) \
    F(int, natsMsg_GetDataLength, (const natsMsg *msg), (msg)) \
    F(natsStatus, natsMsg_GetMetaData, (jsMsgMetaData **new_meta, natsMsg *msg), (new_meta, msg)) \
    F(const char *, natsMsg_GetReply, (const natsMsg *msg), (msg)) \
    F(const char *, natsMsg_GetSubject, (const natsMsg *msg), (msg)) \
    F(natsStatus, natsMsg_Nak, (natsMsg *msg, jsOptions *opts), (msg, opts)) \
    F(natsStatus, natsOptions_Create, (natsOptions **newOpts), (newOpts)) \
    V(natsOptions_Destroy, (natsOptions *opts), (opts)) \
    F(natsStatus, natsOptions_LoadCATrustedCertificates, (natsOptions *opts, const char *fileName), (opts, fileName)) \
    F(natsStatus, natsOptions_SetClosedCB, \
        (natsOptions *opts, natsConnectionHandler closedCb, void *closure), \
        (opts, closedCb, closure)) \
    F(natsStatus, natsOptions_SetCustomInboxPrefix, (natsOptions *opts, const char *inboxPrefix), (opts, inboxPrefix)) \
    F(natsStatus, natsOptions_SetCustomReconnectDelay, \
        (natsOptions *opts, natsCustomReconnectDelayHandler cb, void *closure), \
        (opts, cb, closure)) \
    F(natsStatus, natsOptions_SetDisconnectedCB, \
        (natsOptions *opts, natsConnectionHandler disconnectedCb, void *closure), \
        (opts, disconnectedCb, closure)) \
    F(natsStatus, natsOptions_SetErrorHandler, \
        (natsOptions *opts, natsErrHandler errHandler, void *closure), \
        (opts, errHandler, closure)) \
    F(natsStatus, natsOptions_SetExpectedHostname, (natsOptions *opts, const char *hostname), (opts, hostname)) \
    F(natsStatus, natsOptions_SetFailRequestsOnDisconnect, \
        (natsOptions *opts, bool failRequests), \
        (opts, failRequests)) \
    F(natsStatus, natsOptions_SetMaxReconnect, (natsOptions *opts, int maxReconnect), (opts, maxReconnect)) \
    F(natsStatus, natsOptions_SetName, (natsOptions *opts, const char *name), (opts, name)) \
    F(natsStatus, natsOptions_SetReconnectBufSize, \
        (natsOptions *opts, int reconnectBufSize), \
        (opts, reconnectBufSize)) \
    F(natsStatus, natsOptions_SetReconnectedCB, \
        (natsOptions *opts, natsConnectionHandler reconnectedCb, void *closure), \
        (opts, reconnectedCb, closure)) \
    F(natsStatus, natsOptions_SetRetryOnFailedConnect, \
        (natsOptions *opts, bool retry, natsConnectionHandler connectedCb, void *closure), \
        (opts, retry, connectedCb, closure)) \
    F(natsStatus, natsOptions_SetSecure, (natsOptions *opts, bool secure), (opts, secure)) \
    F(natsStatus, natsOptions_SetServers, \
        (natsOptions *opts, const char **servers, int serversCount), \
        (opts, servers, serversCount)) \
    F(natsStatus, natsOptions_SetUserInfo, \
        (natsOptions *opts, const char *user, const char *password), \
        (opts, user, password)) \
    F(const char *, natsStatus_GetText, (natsStatus s), (s)) \
    V(natsSubscription_Destroy, (natsSubscription *sub), (sub)) \
    F(natsStatus, natsSubscription_FetchRequest, \
        (natsMsgList *list, natsSubscription *sub, jsFetchRequest *request), \
        (list, sub, request)) \
    F(natsStatus, natsSubscription_NextMsg, \
        (natsMsg **nextMsg, natsSubscription *sub, int64_t timeout), \
        (nextMsg, sub, timeout)) \
    F(const char *, natsSubscription_GetSubject, (natsSubscription *sub), (sub)) \
    F(natsStatus, natsSubscription_Unsubscribe, (natsSubscription *sub), (sub)) \
    F(natsStatus, nats_CloseAndWait, (int64_t timeout), (timeout)) \
    F(const char *, nats_GetLastError, (natsStatus *status), (status)) \
    V(nats_Sleep, (int64_t sleepTime), (sleepTime))
// clang-format on

#define SLOT_F(ret, name, params, args) __typeof__(name) *name;
#define SLOT_V(name, params, args)      __typeof__(name) *name;
struct nats_fns {
    NATS_FUNCS(SLOT_F, SLOT_V)
};

#define SYM_F(ret, name, params, args) {#name, offsetof(struct nats_fns, name)},
#define SYM_V(name, params, args)      {#name, offsetof(struct nats_fns, name)},
static const struct {
    const char *name;
    size_t off;
} syms[] = {NATS_FUNCS(SYM_F, SYM_V)};

static struct nats_fns lib;
static atomic_bool loaded;
static pthread_once_t once = PTHREAD_ONCE_INIT;
static char open_err[512];

static void open_once(void)
{
    void *h = dlopen(BUS_NATS_SONAME, RTLD_NOW | RTLD_LOCAL);
    if (!h) {
        const char *e = dlerror();
        snprintf(open_err, sizeof(open_err),
                 "cannot load %s (the NATS client library, for fleet, publish and watch --publish): %s",
                 BUS_NATS_SONAME, e ? e : "unknown error");
        return;
    }
    struct nats_fns f;
    for (size_t i = 0; i < sizeof(syms) / sizeof(*syms); i++) {
        void *p = dlsym(h, syms[i].name);
        if (!p) {
            snprintf(open_err, sizeof(open_err), "%s has no %s", BUS_NATS_SONAME, syms[i].name);
            dlclose(h);
            return;
        }
        memcpy((char *)&f + syms[i].off, &p,
               sizeof(p)); /* an object pointer into a function pointer, as POSIX allows */
    }
    lib = f; /* the handle stays open for the life of the process */
    loaded = true;
}

bool bus_nats_open(char *why, size_t whylen)
{
    pthread_once(&once, open_once);
    if (!loaded)
        snprintf(why, whylen, "%s", open_err);
    return loaded;
}

bool bus_nats_opened(void)
{
    return loaded;
}

/* Every entry to NATS passes stoat_bus_connect, which opens the library or
 * fails with the reason; a call before it (a test's own message) opens the
 * library here, and without one there is nothing sensible to return. */
static const struct nats_fns *fns(void)
{
    char why[sizeof(open_err)];
    if (!bus_nats_open(why, sizeof(why))) {
        fprintf(stderr, "stoat: %s\n", why);
        abort();
    }
    return &lib;
}

#define DEF_F(ret, name, params, args) \
    ret name params                    \
    {                                  \
        return fns()->name args;       \
    }
#define DEF_V(name, params, args) \
    void name params              \
    {                             \
        fns()->name args;         \
    }
NATS_FUNCS(DEF_F, DEF_V)
