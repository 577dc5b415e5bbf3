/* Work sharing between `stoat fleet` processes: leases in KV stoat_fleet.
 *
 * Why it works this way:
 * - A partition must be read by one worker at a time, or a host's events
 *   would be split between process trees and read out of order. A lease
 *   "lease.<p>" says who reads it ("<worker id> <deadline ms>"); it is
 *   taken with a create (fails when someone has it) or, once expired, with
 *   an update at the revision that was read (fails when someone else got
 *   there first), and renewed the same way. The bucket's compare-and-set is
 *   the only arbiter: no clock is compared but to see a deadline passed.
 * - Workers say they live with "worker.<id>" (its deadline), renewed with
 *   the leases. Each takes at most ceil(roles / live workers), so a new
 *   worker gets its share as the others give back what is over theirs, and
 *   a dead one's leases expire after FLEET_LEASE_MS and are taken over.
 * - The roles are the partitions and two more, the health role (lease
 *   "health": heartbeats and silence alarms) and the cross-host role
 *   (lease "cross": facts, lateral movement, fleet incidents), shared the
 *   same way.
 * - Leases move only between rounds of the centre's loop, when nothing is
 *   fetched and unacknowledged: what a dead worker fetched is redelivered
 *   after the consumer's AckWait, and the store's batch marks make that
 *   harmless. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fleet/fleet.h"
#include "util/mem.h"

struct fleet_leases {
    kvStore *kv;
    char id[128];
    unsigned roles; /* partitions + 2 */
    bool *held;
    uint64_t *rev; /* the revision of our lease, when held */
};

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void role_key(const struct fleet_leases *l, unsigned r, char *out, size_t n)
{
    if (r + 1 == l->roles)
        snprintf(out, n, "lease.cross");
    else if (r + 2 == l->roles)
        snprintf(out, n, "lease.health");
    else
        snprintf(out, n, "lease.%u", r);
}

stoat_err fleet_leases_open(struct bus_conn *c, const char *id, unsigned partitions, struct fleet_leases **out,
                            char *why, size_t whylen)
{
    *out = NULL;
    kvStore *kv = NULL;
    natsStatus s = js_KeyValue(&kv, bus_js(c), BUS_KV_FLEET);
    if (s != NATS_OK) {
        snprintf(why, whylen, "fleet: bucket %s: %s (has `stoat fleet setup` run?)", BUS_KV_FLEET,
                 natsStatus_GetText(s));
        return STOAT_ERR_IO;
    }
    struct fleet_leases *l = xcalloc(1, sizeof(*l));
    l->kv = kv;
    snprintf(l->id, sizeof(l->id), "%s", id);
    l->roles = partitions + 2;
    l->held = xcalloc(l->roles, sizeof(bool));
    l->rev = xcalloc(l->roles, sizeof(uint64_t));
    *out = l;
    return STOAT_OK;
}

/* A lease's value: owner and deadline; false when it is not one. */
static bool parse_lease(const char *v, char *owner, size_t on, int64_t *deadline)
{
    const char *sp = v ? strrchr(v, ' ') : NULL;
    if (!sp || (size_t)(sp - v) >= on)
        return false;
    memcpy(owner, v, (size_t)(sp - v));
    owner[sp - v] = 0;
    char *end = NULL;
    *deadline = strtoll(sp + 1, &end, 10);
    return end != sp + 1 && !*end;
}

/* Live workers (this one included), forgetting the dead ones' keys. */
static unsigned live_workers(struct fleet_leases *l, int64_t now)
{
    kvKeysList keys = {0};
    unsigned live = 1;
    if (kvStore_Keys(&keys, l->kv, NULL) != NATS_OK)
        return live;
    char mine[160];
    snprintf(mine, sizeof(mine), "worker.%s", l->id);
    for (int i = 0; i < keys.Count; i++) {
        const char *k = keys.Keys[i];
        if (strncmp(k, "worker.", 7) || !strcmp(k, mine))
            continue;
        kvEntry *e = NULL;
        if (kvStore_Get(&e, l->kv, k) != NATS_OK)
            continue;
        const char *v = kvEntry_ValueString(e);
        int64_t deadline = v ? strtoll(v, NULL, 10) : 0;
        if (deadline > now)
            live++;
        else if (deadline < now - FLEET_LEASE_MS)
            kvStore_Delete(l->kv, k); /* long dead: tidy */
        kvEntry_Destroy(e);
    }
    kvKeysList_Destroy(&keys);
    return live;
}

void fleet_leases_tick(struct fleet_leases *l, bool *held, bool *changed)
{
    int64_t now = now_ms(), deadline = now + FLEET_LEASE_MS;
    char key[160], val[200];
    snprintf(key, sizeof(key), "worker.%s", l->id);
    snprintf(val, sizeof(val), "%lld", (long long)deadline);
    uint64_t rev = 0;
    kvStore_PutString(&rev, l->kv, key, val);
    unsigned live = live_workers(l, now);
    unsigned share = (l->roles + live - 1) / live, have = 0;
    snprintf(val, sizeof(val), "%s %lld", l->id, (long long)deadline);
    bool moved = false;
    /* renew ours first, giving back what is over our share */
    for (unsigned r = 0; r < l->roles; r++) {
        if (!l->held[r])
            continue;
        role_key(l, r, key, sizeof(key));
        if (have >= share) {
            kvStore_Delete(l->kv, key);
            l->held[r] = false;
            moved = true;
            continue;
        }
        if (kvStore_UpdateString(&rev, l->kv, key, val, l->rev[r]) == NATS_OK) {
            l->rev[r] = rev;
            have++;
        } else {
            l->held[r] = false; /* someone took it (we were late): theirs now */
            moved = true;
        }
    }
    /* then free or expired ones, up to the share */
    for (unsigned r = 0; r < l->roles && have < share; r++) {
        if (l->held[r])
            continue;
        role_key(l, r, key, sizeof(key));
        kvEntry *e = NULL;
        natsStatus s = kvStore_Get(&e, l->kv, key);
        natsStatus took = NATS_ERR;
        if (s == NATS_NOT_FOUND) {
            took = kvStore_CreateString(&rev, l->kv, key, val);
        } else if (s == NATS_OK) {
            char owner[160];
            int64_t until = 0;
            bool ok = parse_lease(kvEntry_ValueString(e), owner, sizeof(owner), &until);
            if (!ok || until < now || !strcmp(owner, l->id))
                took = kvStore_UpdateString(&rev, l->kv, key, val, kvEntry_Revision(e));
        }
        kvEntry_Destroy(e);
        if (took == NATS_OK) {
            l->held[r] = true;
            l->rev[r] = rev;
            have++;
            moved = true;
        }
    }
    memcpy(held, l->held, l->roles * sizeof(bool));
    *changed = moved;
}

void fleet_leases_release(struct fleet_leases *l)
{
    if (!l)
        return;
    char key[160];
    for (unsigned r = 0; r < l->roles; r++)
        if (l->held[r]) {
            role_key(l, r, key, sizeof(key));
            kvStore_Delete(l->kv, key);
            l->held[r] = false;
        }
    snprintf(key, sizeof(key), "worker.%s", l->id);
    kvStore_Delete(l->kv, key);
}

void fleet_leases_close(struct fleet_leases *l)
{
    if (!l)
        return;
    kvStore_Destroy(l->kv);
    free(l->held);
    free(l->rev);
    free(l);
}

int fleet_replay(struct bus_conn *conn, const char *stream, const char *durable, const char *filter, int64_t start_ns,
                 uint64_t start_seq, fleet_replay_fn fn, void *ctx, uint64_t *floor_seq, int *je)
{
    /* only what the consumer has seen acknowledged was acted on: up to its
     * ack floor (nothing at all for a consumer never read) */
    jsConsumerInfo *ci = NULL;
    *floor_seq = 0;
    if (js_GetConsumerInfo(&ci, bus_js(conn), stream, durable, NULL, NULL) == NATS_OK) {
        *floor_seq = ci->AckFloor.Stream;
        jsConsumerInfo_Destroy(ci);
    }
    if (!*floor_seq || (start_seq && start_seq > *floor_seq))
        return 0;
    jsSubOptions so;
    jsSubOptions_Init(&so);
    so.Stream = stream;
    so.Ordered = true;
    if (start_seq) {
        so.Config.DeliverPolicy = js_DeliverByStartSequence;
        so.Config.OptStartSeq = start_seq;
    } else {
        so.Config.DeliverPolicy = js_DeliverByStartTime;
        so.Config.OptStartTime = start_ns;
    }
    natsSubscription *sub = NULL;
    jsErrCode e = 0;
    if (js_SubscribeSync(&sub, bus_js(conn), filter, NULL, &so, &e) != NATS_OK) {
        *je = (int)e;
        return -1;
    }
    for (;;) {
        natsMsg *m = NULL;
        if (natsSubscription_NextMsg(&m, sub, 1000) != NATS_OK)
            break; /* nothing within a second: the end */
        uint64_t pending = 0, sseq = 0;
        jsMsgMetaData *md = NULL;
        if (natsMsg_GetMetaData(&md, m) == NATS_OK) {
            pending = md->NumPending;
            sseq = md->Sequence.Stream;
            jsMsgMetaData_Destroy(md);
        }
        if (sseq > *floor_seq) { /* past what was acknowledged: the durable's to deliver */
            natsMsg_Destroy(m);
            break;
        }
        fn(ctx, m);
        if (!pending)
            break;
    }
    natsSubscription_Unsubscribe(sub);
    natsSubscription_Destroy(sub);
    return 1;
}
