/* `stoat fleet setup`'s part: the centre's durable pull consumers.
 *
 * Why these settings: part-<p> filters stoat.ev.*.<p> (a 2.9 consumer has
 * one filter subject, so the partition is a subject token); explicit acks,
 * sent only once a batch's alerts are committed; MaxAckPending is the
 * fetch size, so after a worker dies the messages behind its unacked ones
 * wait until those are redelivered (AckWait) and each host stays in order.
 * "health" reads the heartbeats, "cross" the facts (STOAT_FACTS) for the
 * cross-host role; facts are small, so it may hold more unacknowledged. Adding a consumer that exists with the
 * same settings is a no-op on the server; with other settings (a new batch
 * size) it is updated, so the call is idempotent. */
#include <stdio.h>
#include <string.h>

#include "fleet/fleet.h"

static stoat_err ensure_consumer(jsCtx *js, const char *stream, const char *name, const char *filter, int pending,
                                 int replicas, char *why, size_t whylen)
{
    jsConsumerConfig cc;
    jsConsumerConfig_Init(&cc);
    cc.Durable = name;
    cc.FilterSubject = filter;
    cc.AckPolicy = js_AckExplicit;
    cc.AckWait = FLEET_ACK_WAIT_NS;
    cc.DeliverPolicy = js_DeliverAll;
    cc.MaxAckPending = pending;
    cc.MaxRequestBatch = pending;
    cc.Replicas = replicas > 0 ? replicas : 0; /* 0: the stream's */
    jsErrCode je = 0;
    jsConsumerInfo *ci = NULL;
    natsStatus s = js_AddConsumer(&ci, js, stream, &cc, NULL, &je);
    if (s != NATS_OK) {
        jsConsumerInfo_Destroy(ci);
        ci = NULL;
        s = js_UpdateConsumer(&ci, js, stream, &cc, NULL, &je);
    }
    jsConsumerInfo_Destroy(ci);
    if (s != NATS_OK) {
        const char *last = nats_GetLastError(NULL);
        snprintf(why, whylen, "fleet: consumer %s on %s: %s (JetStream error %d)%s%s", name, stream,
                 natsStatus_GetText(s), (int)je, last ? ": " : "", last ? last : "");
        return STOAT_ERR_IO;
    }
    return STOAT_OK;
}

stoat_err stoat_fleet_setup_consumers(struct stoat_bus_conn *c, unsigned partitions, int replicas, char *why,
                                      size_t whylen)
{
    jsCtx *js = stoat_bus_js(c);
    char name[32], filter[64];
    for (unsigned p = 0; p < partitions; p++) {
        snprintf(name, sizeof(name), STOAT_FLEET_CONSUMER_PREFIX "%u", p);
        snprintf(filter, sizeof(filter), "stoat.ev.*.%u", p);
        stoat_err e = ensure_consumer(js, STOAT_BUS_STREAM_EVENTS, name, filter, FLEET_BATCH, replicas, why, whylen);
        if (e != STOAT_OK)
            return e;
    }
    stoat_err e = ensure_consumer(js, STOAT_BUS_STREAM_HEALTH, STOAT_FLEET_CONSUMER_HEALTH, "stoat.hb.>", FLEET_BATCH,
                                  replicas, why, whylen);
    if (e != STOAT_OK)
        return e;
    return ensure_consumer(js, STOAT_BUS_STREAM_FACTS, STOAT_FLEET_CONSUMER_CROSS, "stoat.fact.>", FLEET_CROSS_PENDING,
                           replicas, why, whylen);
}

/* `stoat fleet status`: here, not in the command, because the command links
 * no nats.c function of its own (the library is opened by src/bus/nats_lib.c
 * and kept out of libstoat-api's globals). */
void stoat_fleet_status(struct stoat_bus_conn *c, FILE *out)
{
    unsigned parts = 0;
    char why[256];
    if (stoat_bus_read_partitions(c, &parts, why, sizeof(why)) != STOAT_OK)
        return;
    uint64_t pending = 0, acked_pending = 0;
    unsigned read = 0;
    for (unsigned p = 0; p <= parts; p++) {
        char name[32];
        if (p == parts)
            snprintf(name, sizeof(name), STOAT_FLEET_CONSUMER_HEALTH);
        else
            snprintf(name, sizeof(name), STOAT_FLEET_CONSUMER_PREFIX "%u", p);
        jsConsumerInfo *ci = NULL;
        jsErrCode je = 0;
        if (js_GetConsumerInfo(&ci, stoat_bus_js(c), p == parts ? STOAT_BUS_STREAM_HEALTH : STOAT_BUS_STREAM_EVENTS,
                               name, NULL, &je) != NATS_OK)
            continue;
        read++;
        if (p < parts) {
            pending += ci->NumPending;
            acked_pending += (uint64_t)ci->NumAckPending;
        }
        jsConsumerInfo_Destroy(ci);
    }
    if (!read) {
        fprintf(stderr,
                "stoat: cannot read the consumers (has `stoat fleet setup` run, and may this user read them?)\n");
        return;
    }
    fprintf(out, "partitions: %u, lag: %llu batches waiting, %llu awaiting acks\n", parts, (unsigned long long)pending,
            (unsigned long long)acked_pending);
    kvStore *kv = NULL;
    if (js_KeyValue(&kv, stoat_bus_js(c), STOAT_BUS_KV_FLEET) == NATS_OK) {
        kvKeysList keys = {0};
        if (kvStore_Keys(&keys, kv, NULL) == NATS_OK) {
            for (int i = 0; i < keys.Count; i++) {
                kvEntry *e = NULL;
                if (strncmp(keys.Keys[i], "lease.", 6) || kvStore_Get(&e, kv, keys.Keys[i]) != NATS_OK)
                    continue;
                fprintf(out, "%-14s %s\n", keys.Keys[i], kvEntry_ValueString(e));
                kvEntry_Destroy(e);
            }
            kvKeysList_Destroy(&keys);
        }
        kvStore_Destroy(kv);
    }
    kvStore *rk = NULL;
    kvEntry *cur = NULL;
    if (js_KeyValue(&rk, stoat_bus_js(c), STOAT_BUS_KV_RULES) == NATS_OK && kvStore_Get(&cur, rk, "current") == NATS_OK)
        fprintf(out, "rules: %.*s\n", kvEntry_ValueLen(cur) < 400 ? kvEntry_ValueLen(cur) : 400,
                (const char *)kvEntry_Value(cur));
    else
        fprintf(out, "rules: (no bundle pushed)\n");
    kvEntry_Destroy(cur);
    kvStore_Destroy(rk);
}
