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
