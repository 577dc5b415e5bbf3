/* The fleet tests' helper: makes the streams (stoat_bus_ensure_streams, as `stoat
 * fleet setup` does) and reads a stream back to count what it holds, so the
 * tests can check "every event once" by message id without a centre.
 *
 *   fleetcheck setup URL [PARTITIONS]
 *   fleetcheck count URL STREAM
 *       prints "messages M ids I events E badcount B hosts H nohost N" and
 *       one "host NAME EVENTS" line per host (from the payload's "host"):
 *       messages in the stream, distinct Nats-Msg-Id, event lines, messages
 *       whose Stoat-Count is not their line count, lines without a host;
 *       and one "sender NAME MESSAGES NUMBERS" line per Stoat-Host header
 *       (NUMBERS: the sequence numbers its messages stand for, Stoat-Span).
 *   fleetcheck last URL STREAM   the newest message's payload
 *   fleetcheck lines URL STREAM  every payload's lines
 * Payloads are read as the centre reads them (bus/batch.h: plain or zlib);
 * one that cannot be read counts as "undecodable". 
 *   fleetcheck push URL FILE...  a rule bundle of these files, as `stoat fleet
 *       rules push` writes one (docs/fleet.md); prints its version */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <zlib.h>

#include "bus/batch.h"
#include "bus/bus.h"
#include "util/buf.h"
#include "util/fs.h"
#include "util/strmap.h"

static struct stoat_bus_conn *conn(const char *url)
{
    const char *s[1] = {url};
    struct stoat_bus_opts o = {.servers = s, .nservers = 1, .connect_wait_ms = 5000};
    struct stoat_bus_conn *c = NULL;
    char why[512];
    if (stoat_bus_connect(&o, &c, why, sizeof why) != STOAT_OK || !stoat_bus_conn_wait(c, 5000)) {
        fprintf(stderr, "fleetcheck: cannot connect to %s %s\n", url, why);
        exit(2);
    }
    return c;
}

/* m's lines (bus/batch.h), or NULL. */
static const char *payload(natsMsg *m, struct buf *out, int *len)
{
    const char *enc = NULL;
    natsMsgHeader_Get(m, BUS_HDR_ENC, &enc);
    struct bus_batch_view v;
    char why[256];
    int n = natsMsg_GetDataLength(m);
    if (bus_batch_decode(enc, natsMsg_GetData(m), n > 0 ? (size_t)n : 0, out, &v, why, sizeof why) != STOAT_OK) {
        fprintf(stderr, "fleetcheck: %s\n", why);
        *len = 0;
        return NULL;
    }
    *len = (int)v.len;
    return v.data;
}

/* After a node's or the whole cluster's restart a stream answers nothing
 * until it has a leader, and a busy one may time out: such a request is
 * tried again, up to TRY_MS in all, so that a count is never short by what
 * a slow minute hid. Only "no such message" (deleted) is an answer. */
#define TRY_MS 60000

/* true, after a pause, while s is worth another try and *budget_ms lasts */
static bool try_again(natsStatus s, jsErrCode je, int *budget_ms)
{
    bool transient = je == 0 || je == JSClusterNotAvailErr || je == JSStreamOfflineErr || je == JSClusterNoPeersErr;
    if (s == NATS_OK || !transient || *budget_ms <= 0)
        return false;
    nats_Sleep(250);
    *budget_ms -= 250;
    return true;
}

static natsStatus stream_info(struct stoat_bus_conn *c, const char *stream, jsStreamInfo **si, jsErrCode *je)
{
    natsStatus s;
    int budget = TRY_MS;
    do {
        *je = 0;
        s = js_GetStreamInfo(si, stoat_bus_js(c), stream, NULL, je);
    } while (try_again(s, *je, &budget));
    return s;
}

/* NATS_OK, NATS_NOT_FOUND for a deleted message, else what persisted */
static natsStatus get_msg(struct stoat_bus_conn *c, const char *stream, uint64_t seq, natsMsg **m, int *budget_ms)
{
    natsStatus s;
    jsErrCode je;
    do {
        je = 0;
        s = js_GetMsg(m, stoat_bus_js(c), stream, seq, NULL, &je);
    } while (je != JSNoMessageFoundErr && try_again(s, je, budget_ms));
    if (je == JSNoMessageFoundErr)
        return NATS_NOT_FOUND;
    if (s != NATS_OK)
        fprintf(stderr, "fleetcheck: %s message %llu: %s (%d)\n", stream, (unsigned long long)seq,
                natsStatus_GetText(s), (int)je);
    return s;
}

static int count(struct stoat_bus_conn *c, const char *stream, bool last_only, bool print)
{
    struct buf zb = {0};
    int plen = 0;
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    natsStatus st = stream_info(c, stream, &si, &je);
    if (st != NATS_OK) {
        fprintf(stderr, "fleetcheck: no stream %s: %s (%d)\n", stream, natsStatus_GetText(st), (int)je);
        return 2;
    }
    uint64_t first = si->State.FirstSeq, last = si->State.LastSeq, msgs = si->State.Msgs;
    jsStreamInfo_Destroy(si);
    if (last_only) {
        natsMsg *m = NULL;
        const char *d = NULL;
        int budget = TRY_MS;
        if (msgs && get_msg(c, stream, last, &m, &budget) == NATS_OK && (d = payload(m, &zb, &plen)))
            printf("%.*s\n", plen, d);
        natsMsg_Destroy(m);
        buf_free(&zb);
        return 0;
    }
    struct strmap ids, hosts, senders;
    strmap_init(&ids);
    strmap_init(&hosts);
    strmap_init(&senders);
    uint64_t *hostev = calloc(1, sizeof *hostev * 100000);
    uint64_t *sendermsgs = calloc(1, sizeof *sendermsgs * 100000);
    uint64_t *sendernums = calloc(1, sizeof *sendernums * 100000);
    uint64_t n = 0, events = 0, bad = 0, nohost = 0, undecodable = 0, zstd = 0, zlib = 0, plain = 0;
    int budget = TRY_MS, rc = 0;
    for (uint64_t seq = first; msgs && seq <= last; seq++) {
        natsMsg *m = NULL;
        natsStatus gs = get_msg(c, stream, seq, &m, &budget);
        if (gs == NATS_NOT_FOUND)
            continue; /* deleted */
        if (gs != NATS_OK) {
            rc = 2; /* a count short by what could not be read would be a lie */
            break;
        }
        n++;
        const char *d = payload(m, &zb, &plen);
        undecodable += !d;
        const char *enc = NULL;
        natsMsgHeader_Get(m, BUS_HDR_ENC, &enc);
        zstd += enc && !strcmp(enc, BUS_ENC_ZSTD);
        zlib += enc && !strcmp(enc, BUS_ENC_ZLIB);
        plain += !enc || !*enc;
        if (print && d)
            printf("%.*s", plen, d);
        const char *id = NULL, *cnt = NULL, *sender = NULL;
        natsMsgHeader_Get(m, "Nats-Msg-Id", &id);
        natsMsgHeader_Get(m, "Stoat-Count", &cnt);
        if (natsMsgHeader_Get(m, "Stoat-Host", &sender) == NATS_OK && sender) {
            uint32_t idx = strmap_put(&senders, sender, strlen(sender), (uint32_t)senders.count);
            const char *span = NULL;
            natsMsgHeader_Get(m, BUS_HDR_SPAN, &span);
            if (idx < 100000) {
                sendermsgs[idx]++;
                sendernums[idx] += span ? strtoull(span, NULL, 10) : 1;
            }
        }
        if (id)
            strmap_put(&ids, id, strlen(id), 0);
        int len = d ? plen : 0;
        uint64_t lines = 0;
        for (int i = 0; i < len;) {
            const char *nl = memchr(d + i, '\n', (size_t)(len - i));
            int e = nl ? (int)(nl - d) : len;
            lines++;
            const char *h = memmem(d + i, (size_t)(e - i), "\"host\":\"", 8);
            if (h) {
                h += 8;
                const char *q = memchr(h, '"', (size_t)(d + e - h));
                if (q) {
                    uint32_t idx = strmap_put(&hosts, h, (size_t)(q - h), (uint32_t)hosts.count);
                    if (idx < 100000)
                        hostev[idx]++;
                }
            } else {
                nohost++;
            }
            i = e + 1;
        }
        events += lines;
        if (!cnt || strtoull(cnt, NULL, 10) != lines)
            bad++;
        natsMsg_Destroy(m);
    }
    if (print || rc)
        goto out;
    printf("messages %" PRIu64 " ids %zu events %" PRIu64 " badcount %" PRIu64 " hosts %zu nohost %" PRIu64
           " undecodable %" PRIu64 " zstd %" PRIu64 " zlib %" PRIu64 " plain %" PRIu64 "\n",
           n, ids.count, events, bad, hosts.count, nohost, undecodable, zstd, zlib, plain);
    for (size_t i = 0; i < hosts.cap; i++)
        if (hosts.slots[i].key && hosts.slots[i].value < 100000)
            printf("host %s %" PRIu64 "\n", hosts.slots[i].key, hostev[hosts.slots[i].value]);
    for (size_t i = 0; i < senders.cap; i++)
        if (senders.slots[i].key && senders.slots[i].value < 100000)
            printf("sender %s %" PRIu64 " %" PRIu64 "\n", senders.slots[i].key, sendermsgs[senders.slots[i].value],
                   sendernums[senders.slots[i].value]);
out:
    buf_free(&zb);
    free(hostev);
    free(sendermsgs);
    free(sendernums);
    strmap_free(&senders);
    strmap_free(&ids);
    strmap_free(&hosts);
    return rc;
}

static int push(struct stoat_bus_conn *c, char **files, int n)
{
    struct buf raw = {0};
    for (int i = 0; i < n; i++) {
        char *text = NULL, why[256];
        size_t len = 0;
        if (fs_read_file(files[i], 1 << 20, &text, &len, why, sizeof why) != 0) {
            fprintf(stderr, "fleetcheck: %s: %s\n", files[i], why);
            return 2;
        }
        const char *base = strrchr(files[i], '/') ? strrchr(files[i], '/') + 1 : files[i];
        buf_printf(&raw, "%s\n%zu\n", base, len);
        buf_put(&raw, text, len);
        free(text);
    }
    uLongf zlen = compressBound(raw.len);
    unsigned char *z = malloc(zlen);
    compress2(z, &zlen, (const Bytef *)raw.p, raw.len, 9);
    unsigned char h[32];
    unsigned hl = 0;
    EVP_Digest(z, zlen, h, &hl, EVP_sha256(), NULL);
    char sha[65];
    for (int i = 0; i < 32; i++)
        snprintf(sha + 2 * i, 3, "%02x", h[i]);
    kvStore *kv = NULL;
    uint64_t rev;
    char key[64], cur[256];
    int rc = js_KeyValue(&kv, stoat_bus_js(c), STOAT_BUS_KV_RULES) == NATS_OK ? 0 : 2;
    snprintf(key, sizeof key, "bundle.%.16s.0", sha);
    if (!rc && kvStore_Put(&rev, kv, key, z, (int)zlen) != NATS_OK)
        rc = 2;
    snprintf(cur, sizeof cur, "{\"version\":\"%.16s\",\"sha256\":\"%s\",\"chunks\":1,\"bytes\":%zu,\"pushed\":0}", sha,
             sha, raw.len);
    if (!rc && kvStore_PutString(&rev, kv, "current", cur) != NATS_OK)
        rc = 2;
    if (!rc)
        printf("%.16s\n", sha);
    kvStore_Destroy(kv);
    free(z);
    buf_free(&raw);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr,
                "usage: fleetcheck setup URL [PARTITIONS] | count|last|lines|delete URL STREAM | push URL FILE...\n");
        return 2;
    }
    struct stoat_bus_conn *c = conn(argv[2]);
    int rc = 0;
    if (!strcmp(argv[1], "setup")) {
        struct stoat_bus_setup_opts so = {.replicas = 1, .partitions = argc > 3 ? (unsigned)atoi(argv[3]) : 0};
        char why[512];
        if (stoat_bus_ensure_streams(c, &so, why, sizeof why) != STOAT_OK) {
            fprintf(stderr, "fleetcheck: %s\n", why);
            rc = 1;
        }
        unsigned p = 0;
        if (!rc && stoat_bus_read_partitions(c, &p, why, sizeof why) == STOAT_OK)
            printf("partitions %u\n", p);
    } else if (!strcmp(argv[1], "count") && argc > 3) {
        rc = count(c, argv[3], false, false);
    } else if (!strcmp(argv[1], "last") && argc > 3) {
        rc = count(c, argv[3], true, false);
    } else if (!strcmp(argv[1], "push") && argc > 3) {
        rc = push(c, argv + 3, argc - 3);
    } else if (!strcmp(argv[1], "lines") && argc > 3) {
        rc = count(c, argv[3], false, true);
    } else if (!strcmp(argv[1], "delete") && argc > 3) {
        /* a stream gone while its partitions key stays: publishes are refused */
        jsErrCode je = 0;
        if (js_DeleteStream(stoat_bus_js(c), argv[3], NULL, &je) != NATS_OK) {
            fprintf(stderr, "fleetcheck: cannot delete %s (%d)\n", argv[3], (int)je);
            rc = 1;
        }
    } else {
        rc = 2;
    }
    stoat_bus_close(c);
    stoat_bus_shutdown();
    return rc;
}
