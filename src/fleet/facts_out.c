/* The partition workers' facts for the cross-host role: what behaviour
 * derives from a batch's events (logons, addresses, alert digests; see
 * behaviour/facts.h) becomes one message on stoat.fact.<worker>, JSON
 * lines of facts_json, published before the batch is acknowledged.
 *
 * Why it works this way:
 * - One message per event batch, with the message id "fact:<host>:<run>:
 *   <seq>" of that batch: a worker that dies after publishing but before
 *   its commit processes the batch again (or another worker does) and
 *   derives the same facts under the same id, which the stream's duplicate
 *   window drops. The stream's window is wider than any redelivery (20 min
 *   against AckWait 30 s plus a lease of 15 s).
 * - Facts are collected on the writer's thread while a round is in flight
 *   and sealed into their batch's message when the writer hands the batch
 *   back (the facts between two hand-backs are that batch's); the main
 *   thread publishes only when the round is settled, before the commit.
 * - A replayed batch (a partition taken over) had its facts published when
 *   it was first processed: what it derives again is dropped here.
 * - A batch whose facts pass FACTS_MSG_MAX (matches for the correlations
 *   spanning hosts can be many) goes out as several messages, split at
 *   whole lines, the later ones with ids ending ":<part>": the same facts
 *   split the same way, so their ids are stable across a reprocessing.
 * - Facts that come while no batch is in flight (correlations and chains
 *   closed by an idle worker's clock, or by its stop) belong to no batch:
 *   they go out at once, under an id made of their bytes, so the same facts
 *   sent twice are dropped by the stream. Waiting for the next batch lost
 *   them when none came, or when the next one was a replay. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "behaviour/facts.h"
#include "fleet/fleet.h"
#include "util/buf.h"
#include "util/mem.h"
#include "util/text.h"

#define FACTS_RETRY_MS 60000
#define FACTS_MSG_MAX  (512 * 1024) /* a message's facts, well under the server's 1 MiB payload */

struct sealed {
    char id[400];
    size_t off, len;
    unsigned count;
};

struct fleet_facts {
    struct stoat_bus_conn *conn;
    char subject[BUS_SUBJECT_MAX];
    struct buf cur; /* facts of the batch being processed (writer's thread) */
    unsigned ncur;
    struct buf out; /* sealed batches' payloads, back to back */
    struct sealed *sealed;
    size_t nsealed, capsealed;
    uint64_t published, facts;
    uint64_t derived, replayed; /* every fact added; those dropped with a replayed batch */
};

struct fleet_facts *fleet_facts_create(struct stoat_bus_conn *c, const char *worker)
{
    struct fleet_facts *f = xcalloc(1, sizeof(*f));
    f->conn = c;
    char tok[STOAT_BUS_TOKEN_MAX + 1];
    stoat_bus_host_token(worker, strlen(worker), tok);
    snprintf(f->subject, sizeof(f->subject), "stoat.fact.%s", tok);
    return f;
}

void fleet_facts_destroy(struct fleet_facts *f)
{
    if (!f)
        return;
    buf_free(&f->cur);
    buf_free(&f->out);
    free(f->sealed);
    free(f);
}

void fleet_facts_add(void *ctx, const struct cross_fact *fact)
{
    struct fleet_facts *f = ctx;
    facts_json(fact, &f->cur);
    buf_putc(&f->cur, '\n');
    f->ncur++;
    f->derived++;
}

/* The facts gathered so far become messages of at most FACTS_MSG_MAX, cut at
 * whole lines; base is the first one's id ("": none), the later ones add
 * ":<part>". */
static void seal_parts(struct fleet_facts *f, const char *base)
{
    for (size_t at = 0, part = 1; f->ncur && at < f->cur.len; part++) {
        /* whole lines up to the cap (one line alone is under it: FACTS_JSON_MAX) */
        size_t len = 0, count = 0;
        while (at + len < f->cur.len) {
            const char *p = f->cur.p + at + len, *nl = memchr(p, '\n', f->cur.len - at - len);
            size_t line = nl ? (size_t)(nl - p) + 1 : f->cur.len - at - len;
            if (count && len + line > FACTS_MSG_MAX)
                break;
            len += line;
            count++;
        }
        XGROW(f->sealed, f->capsealed, f->nsealed + 1);
        struct sealed *s = &f->sealed[f->nsealed++];
        if (part == 1 || !*base)
            snprintf(s->id, sizeof(s->id), "%s", base);
        else
            snprintf(s->id, sizeof(s->id), "%s:%zu", base, part);
        s->off = f->out.len;
        s->len = len;
        s->count = (unsigned)count;
        buf_put(&f->out, f->cur.p + at, len);
        at += len;
    }
    buf_clear(&f->cur);
    f->ncur = 0;
}

void fleet_facts_seal(struct fleet_facts *f, const char *host, const char *run, uint64_t seq, bool keep)
{
    char base[sizeof(((struct sealed *)0)->id) - 24] = "";
    if (run && *run) /* a batch without a run has no id to dedupe by */
        snprintf(base, sizeof(base), "fact:%s:%s:%llu", host, run, (unsigned long long)seq);
    if (!keep) {
        f->replayed += f->ncur;
        buf_clear(&f->cur);
        f->ncur = 0;
    }
    seal_parts(f, base);
}

size_t fleet_facts_seal_loose(struct fleet_facts *f)
{
    if (!f || !f->ncur)
        return 0;
    size_t n = f->ncur;
    char base[64];
    snprintf(base, sizeof(base), "fact:loose:%016llx%016llx",
             (unsigned long long)hash_bytes(f->cur.p, f->cur.len, 0x5eed),
             (unsigned long long)hash_bytes(f->cur.p, f->cur.len, 0xfac75));
    seal_parts(f, base);
    return n;
}

/* One sealed batch, waiting for the stream's answer. */
static natsStatus publish_one(struct fleet_facts *f, const struct sealed *s)
{
    natsMsg *m = NULL;
    natsStatus st = natsMsg_Create(&m, f->subject, NULL, f->out.p + s->off, (int)s->len);
    char count[24];
    snprintf(count, sizeof(count), "%u", s->count);
    if (st == NATS_OK && s->id[0])
        st = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, s->id);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(m, BUS_HDR_COUNT, count);
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    if (st == NATS_OK)
        st = js_PublishMsg(&pa, stoat_bus_js(f->conn), m, NULL, &je);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    return st;
}

stoat_err fleet_facts_flush(struct fleet_facts *f, char *why, size_t whylen)
{
    stoat_err e = STOAT_OK;
    for (size_t i = 0; i < f->nsealed; i++) {
        natsStatus st = publish_one(f, &f->sealed[i]);
        /* a node may be away for a while (the cluster elects a new leader,
         * the client reconnects and its buffer fills): wait for the
         * connection and try again, up to a minute, before giving up */
        for (int wait_ms = 100, spent = 0; st != NATS_OK && spent < FACTS_RETRY_MS; spent += wait_ms) {
            stoat_bus_conn_wait(f->conn, wait_ms);
            nats_Sleep(wait_ms);
            if (wait_ms < 2000)
                wait_ms *= 2;
            st = publish_one(f, &f->sealed[i]);
        }
        if (st != NATS_OK) {
            snprintf(why, whylen, "fleet: cannot publish facts to %s: %s", f->subject, natsStatus_GetText(st));
            e = STOAT_ERR_IO;
            break;
        }
        f->published++;
        f->facts += f->sealed[i].count;
    }
    f->nsealed = 0;
    buf_clear(&f->out);
    return e;
}

void fleet_facts_counts(const struct fleet_facts *f, uint64_t *messages, uint64_t *facts, uint64_t *derived,
                        uint64_t *replayed)
{
    *messages = f ? f->published : 0;
    *facts = f ? f->facts : 0;
    *derived = f ? f->derived : 0;
    *replayed = f ? f->replayed : 0;
}

size_t fleet_facts_sealed(const struct fleet_facts *f, size_t i, const char **id, const char **payload, size_t *len,
                          unsigned *count)
{
    if (!f || i >= f->nsealed)
        return f ? f->nsealed : 0;
    const struct sealed *s = &f->sealed[i];
    if (id)
        *id = s->id;
    if (payload)
        *payload = f->out.p + s->off;
    if (len)
        *len = s->len;
    if (count)
        *count = s->count;
    return f->nsealed;
}
