/* fleet_pub: a small publisher of `stoat dump` JSON lines for the fleet's
 * tests and benchmark, standing in for `stoat publish` where the test must
 * steer what a publisher does (a fixed run id, resending batches, many
 * simulated hosts at once):
 *
 *   fleet_pub --server URL [--creds F] [--tls-ca F] [--run HEX] [--repeat N] [--batch N] [--once]
 *             [--rate EVENTS_PER_S] [--hb HOST] [--claim NAME] [--raw|--zlib] [--garble] [--miscount]
 *             HOST=FILE...
 *
 * Each FILE (JSON lines) is published as HOST's events in batches with the
 * fleet's headers (docs: fleet-design, "Messages"), to stoat.ev.<token>.<p>.
 * Publishes are asynchronous; a publish that fails (a node died, a timeout)
 * is sent again with the same message id until acknowledged, so the stream
 * gets each batch once (--once: no second try, and a short wait, for the
 * test of refused subjects). --hb HOST publishes one heartbeat; --claim
 * NAME puts NAME in the batches' Stoat-Host (a forgery the centre must
 * drop). Batches are compressed as `stoat publish` sends them (bus/batch.h;
 * up to 2,000 events or 2 MiB of lines, --batch N and --batch-kib K to
 * change it); --raw sends the plain JSON lines
 * of publishers before compression (up to 200 KiB), for the figures before
 * and the centre's reading of both; --zlib compresses with zlib as
 * publishers before zstd did (the centre reads all three); --garble cuts the last 8 bytes off
 * each compressed batch (a truncated payload the centre must refuse and
 * count, then go on); --miscount declares one event more in Stoat-Count
 * than the batch holds. Prints "published: N events, M batches,
 * A acked". */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/batch.h"
#include "bus/bus.h"
#include "bus/publish.h"
#include "util/fs.h"
#include "util/mem.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static natsMsg **failed;
static size_t nfailed, capfailed;
static uint64_t acked;

/* A fresh copy of a message to send again (one that went out carries its
 * reply subject and is refused a second time). */
static natsMsg *msg_copy(natsMsg *m)
{
    natsMsg *n = NULL;
    natsMsg_Create(&n, natsMsg_GetSubject(m), NULL, natsMsg_GetData(m), natsMsg_GetDataLength(m));
    const char **keys = NULL;
    int nk = 0;
    if (natsMsgHeader_Keys(m, &keys, &nk) == NATS_OK) {
        for (int i = 0; i < nk; i++) {
            const char *v = NULL;
            if (natsMsgHeader_Get(m, keys[i], &v) == NATS_OK)
                natsMsgHeader_Set(n, keys[i], v);
        }
        free((void *)keys);
    }
    return n;
}

static void on_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js, (void)closure, (void)pa, (void)pae;
    pthread_mutex_lock(&mu);
    if (pae) {
        XGROW(failed, capfailed, nfailed + 1);
        failed[nfailed++] = msg_copy(m);
    } else {
        acked++;
    }
    pthread_mutex_unlock(&mu);
    natsMsg_Destroy(m);
}

static void sent_now(char *out, size_t n)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    struct tm tm;
    gmtime_r(&ts.tv_sec, &tm);
    snprintf(out, n, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000, tm.tm_mon + 1, tm.tm_mday,
             tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ts.tv_nsec / 1000000));
}

/* An ack that does not come within 5 s fails the publish (it is sent again). */
static uint64_t published_n;
static void send(jsCtx *js, natsMsg *m)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 5000;
    while (js_PublishMsgAsync(js, &m, &po) != NATS_OK)
        usleep(10000);
}

static bool raw, garble, miscount;
static struct buf zbuf;
static struct bus_batch_enc zenc;

/* pre: zbuf holds the batch encoded already, and pre_enc is its encoding */
static void publish(jsCtx *js, const char *subject, const char *host, const char *tok, const char *run, uint64_t seq,
                    const char *data, size_t len, unsigned count, bool pre, const char *pre_enc)
{
    natsMsg *m = NULL;
    const char *enc = pre ? pre_enc : raw ? NULL : bus_batch_encode(&zenc, data, len, &zbuf);
    if (enc) {
        natsMsg_Create(&m, subject, NULL, zbuf.p, (int)zbuf.len - (garble && zbuf.len > 8 ? 8 : 0));
        natsMsgHeader_Set(m, BUS_HDR_ENC, enc);
    } else {
        natsMsg_Create(&m, subject, NULL, data, (int)len);
    }
    char id[400], num[32], sent[64];
    snprintf(id, sizeof(id), "%s:%s:%llu", tok, run, (unsigned long long)seq);
    natsMsgHeader_Set(m, BUS_HDR_MSG_ID, id);
    natsMsgHeader_Set(m, BUS_HDR_HOST, host);
    natsMsgHeader_Set(m, BUS_HDR_RUN, run);
    snprintf(num, sizeof(num), "%llu", (unsigned long long)seq);
    natsMsgHeader_Set(m, BUS_HDR_SEQ, num);
    snprintf(num, sizeof(num), "%u", count + miscount);
    natsMsgHeader_Set(m, BUS_HDR_COUNT, num);
    sent_now(sent, sizeof(sent));
    natsMsgHeader_Set(m, BUS_HDR_SENT, sent);
    send(js, m);
}

/* Sends the failed ones again until none is left. */
static bool once;

static void settle(jsCtx *js)
{
    for (;;) {
        jsPubOptions po;
        jsPubOptions_Init(&po);
        po.MaxWait = once ? 3000 : 30000;
        js_PublishAsyncComplete(js, &po);
        pthread_mutex_lock(&mu);
        natsMsg **list = failed;
        size_t n = nfailed;
        failed = NULL;
        nfailed = capfailed = 0;
        pthread_mutex_unlock(&mu);
        pthread_mutex_lock(&mu);
        bool all = acked >= published_n;
        pthread_mutex_unlock(&mu);
        if ((!n && all) || once) {
            for (size_t i = 0; i < n; i++)
                natsMsg_Destroy(list[i]);
            free(list);
            return;
        }
        if (n)
            usleep(200000);
        for (size_t i = 0; i < n; i++)
            send(js, list[i]);
        free(list);
    }
}

int main(int argc, char **argv)
{
    const char *servers[STOAT_BUS_MAX_SERVERS];
    char why0[512];
    size_t nservers = 0;
    char run[17];
    snprintf(run, sizeof(run), "%08x%08x", (unsigned)time(NULL), (unsigned)getpid());
    unsigned repeat = 1, batch = BUS_BATCH_EVENTS, batch_kib = BUS_BATCH_BYTES >> 10;
    const char *creds = NULL, *hb = NULL, *tls_ca = NULL, *claim = NULL;
    double rate = 0; /* events a second; 0: as fast as the acks allow */
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (!strcmp(argv[i], "--server") && i + 1 < argc && nservers < STOAT_BUS_MAX_SERVERS)
            servers[nservers++] = argv[++i];
        else if (!strcmp(argv[i], "--run") && i + 1 < argc)
            snprintf(run, sizeof(run), "%s", argv[++i]);
        else if (!strcmp(argv[i], "--repeat") && i + 1 < argc)
            repeat = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--creds") && i + 1 < argc)
            creds = argv[++i];
        else if (!strcmp(argv[i], "--rate") && i + 1 < argc)
            rate = atof(argv[++i]);
        else if (!strcmp(argv[i], "--claim") && i + 1 < argc)
            claim = argv[++i];
        else if (!strcmp(argv[i], "--tls-ca") && i + 1 < argc)
            tls_ca = argv[++i];
        else if (!strcmp(argv[i], "--hb") && i + 1 < argc)
            hb = argv[++i];
        else if (!strcmp(argv[i], "--once"))
            once = true;
        else if (!strcmp(argv[i], "--raw"))
            raw = true;
        else if (!strcmp(argv[i], "--zlib"))
            zenc.zlib = true;
        else if (!strcmp(argv[i], "--garble"))
            garble = true;
        else if (!strcmp(argv[i], "--miscount"))
            miscount = true;
        else if (!strcmp(argv[i], "--batch") && i + 1 < argc)
            batch = (unsigned)atoi(argv[++i]);
        else if (!strcmp(argv[i], "--batch-kib") && i + 1 < argc)
            batch_kib = (unsigned)atoi(argv[++i]);
        else
            break;
    }
    if ((i >= argc && !hb) || !batch) {
        fprintf(stderr, "usage: fleet_pub --server URL [--run HEX] [--repeat N] [--batch N] HOST=FILE...\n");
        return 2;
    }
    char inbox[300] = "";
    if (creds) { /* a host's user: its own inbox prefix, as the server allows */
        struct bus_creds cr;
        if (bus_creds_load(creds, &cr, why0, sizeof(why0)) != STOAT_OK) {
            fprintf(stderr, "fleet_pub: %s\n", why0);
            return 1;
        }
        snprintf(inbox, sizeof(inbox), "_INBOX_%s", cr.user);
    }
    struct stoat_bus_opts bo = {.servers = servers,
                                .nservers = nservers,
                                .name = "fleet_pub",
                                .creds = creds,
                                .tls_ca = tls_ca,
                                .inbox = inbox[0] ? inbox : NULL};
    struct stoat_bus_conn *c = NULL;
    char why[512];
    if (stoat_bus_connect(&bo, &c, why, sizeof(why)) != STOAT_OK || !stoat_bus_conn_wait(c, 10000)) {
        fprintf(stderr, "fleet_pub: cannot connect %s\n", why);
        return 1;
    }
    unsigned parts = 0;
    if (stoat_bus_read_partitions(c, &parts, why, sizeof(why)) != STOAT_OK) {
        fprintf(stderr, "fleet_pub: %s\n", why);
        return 1;
    }
    jsCtx *js = NULL;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 256;
    jo.PublishAsync.AckHandler = on_ack;
    jo.Wait = 10000;
    natsConnection_JetStream(&js, bus_nats(c), &jo);
    uint64_t events = 0, batches = 0;
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (hb) {
        char tok[STOAT_BUS_TOKEN_MAX + 1], subject[BUS_SUBJECT_MAX], body[600], sent[64];
        stoat_bus_host_token(hb, strlen(hb), tok);
        bus_subject_heartbeat(subject, tok);
        sent_now(sent, sizeof(sent));
        snprintf(body, sizeof(body), "{\"host\":\"%s\",\"run\":\"%s\",\"time\":\"%s\",\"rule_version\":\"local\"}", hb,
                 run, sent);
        natsMsg *m = NULL;
        natsMsg_Create(&m, subject, NULL, body, (int)strlen(body));
        send(js, m);
        batches++;
        published_n++;
    }
    for (int k = i; k < argc; k++) {
        char *eq = strchr(argv[k], '=');
        if (!eq)
            continue;
        *eq = 0;
        const char *host = argv[k], *path = eq + 1;
        char *data = NULL;
        size_t len = 0;
        if (fs_read_file(path, (size_t)1 << 31, &data, &len, why, sizeof(why)) != 0) {
            fprintf(stderr, "fleet_pub: %s\n", why);
            return 1;
        }
        char tok[STOAT_BUS_TOKEN_MAX + 1], subject[BUS_SUBJECT_MAX];
        stoat_bus_host_token(host, strlen(host), tok);
        bus_subject_events(subject, tok, bus_partition(tok, parts));
        uint64_t seq = 0;
        for (unsigned r = 0; r < repeat; r++) {
            size_t off = 0;
            while (off < len) {
                size_t start = off;
                unsigned count = 0;
                while (off < len && count < batch && off - start < (raw ? (200u << 10) : ((size_t)batch_kib << 10))) {
                    const char *nl = memchr(data + off, '\n', len - off);
                    off = nl ? (size_t)(nl - data) + 1 : len;
                    count++;
                }
                /* as stoat publish does: what would not fit a message compressed
                 * goes in pieces (here simply cut there; the ids count on) */
                bool pre = false;
                const char *pre_enc = NULL;
                if (!raw && off - start > BUS_PIECE_BYTES) {
                    pre_enc = bus_batch_encode(&zenc, data + start, off - start, &zbuf);
                    pre = (pre_enc ? zbuf.len : off - start) <= BUS_MSG_FIT;
                    if (!pre) {
                        off = bus_batch_piece_end(data, off, start);
                        count = (unsigned)bus_batch_lines(data + start, off - start);
                    }
                }
                publish(js, subject, claim ? claim : host, tok, run, ++seq, data + start, off - start, count, pre,
                        pre_enc);
                events += count;
                batches++;
                published_n++;
                if (rate > 0) { /* keep to the rate: sleep until this many events are due */
                    struct timespec now;
                    clock_gettime(CLOCK_MONOTONIC, &now);
                    double due = (double)events / rate,
                           at = (double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9;
                    if (due > at)
                        usleep((useconds_t)((due - at) * 1e6));
                }
            }
        }
        free(data);
    }
    settle(js);
    printf("published: %llu events, %llu batches, %llu acked\n", (unsigned long long)events,
           (unsigned long long)batches, (unsigned long long)acked);
    jsCtx_Destroy(js);
    buf_free(&zbuf);
    bus_batch_enc_free(&zenc);
    stoat_bus_close(c);
    stoat_bus_shutdown();
    return acked == batches ? 0 : 1;
}
