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
 *   back (the facts between two hand-backs are that batch's), and published
 *   then, without waiting; the main thread, when the round is settled and
 *   before the commit, awaits their acks together. (Published at the
 *   settle, the round's facts cost it a round trip to the R3 stream while
 *   the pipeline stood still: 30-90 ms a round, 0.4 s the first.)
 *   Any message not acknowledged then is sent again one at a time, as
 *   before; its id makes a copy the stream stored already a no-op. The
 *   cross role takes facts of several workers in any order, so the order
 *   a retry may change does not matter.
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
#include <pthread.h>
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
#define FACTS_ACK_MS   10000        /* the round's acks, all of them */

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
    /* the round's messages in flight (index as sealed; NULL once answered
     * or taken back) and which the stream acknowledged; the ack handler
     * runs on a nats.c thread */
    jsCtx *js;
    pthread_mutex_t mu;
    natsMsg **flight;
    bool *ok;
    size_t nflight, capflight;
};

struct fleet_facts *fleet_facts_create(struct stoat_bus_conn *c, const char *worker)
{
    struct fleet_facts *f = xcalloc(1, sizeof(*f));
    f->conn = c;
    char tok[STOAT_BUS_TOKEN_MAX + 1];
    stoat_bus_host_token(worker, strlen(worker), tok);
    snprintf(f->subject, sizeof(f->subject), "stoat.fact.%s", tok);
    pthread_mutex_init(&f->mu, NULL);
    return f;
}

void fleet_facts_destroy(struct fleet_facts *f)
{
    if (!f)
        return;
    buf_free(&f->cur);
    buf_free(&f->out);
    free(f->sealed);
    jsCtx_Destroy(f->js);
    free(f->flight);
    free(f->ok);
    pthread_mutex_destroy(&f->mu);
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
static void send_from(struct fleet_facts *f, size_t from);

static void seal_parts(struct fleet_facts *f, const char *base)
{
    size_t from = f->nsealed;
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
    send_from(f, from);
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

/* A sealed batch's message. */
static natsStatus make_msg(struct fleet_facts *f, const struct sealed *s, natsMsg **out)
{
    natsMsg *m = NULL;
    natsStatus st = natsMsg_Create(&m, f->subject, NULL, f->out.p + s->off, (int)s->len);
    char count[24];
    snprintf(count, sizeof(count), "%u", s->count);
    if (st == NATS_OK && s->id[0])
        st = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, s->id);
    if (st == NATS_OK)
        st = natsMsgHeader_Set(m, BUS_HDR_COUNT, count);
    if (st != NATS_OK) {
        natsMsg_Destroy(m);
        m = NULL;
    }
    *out = m;
    return st;
}

/* One sealed batch, waiting for the stream's answer. */
static natsStatus publish_one(struct fleet_facts *f, const struct sealed *s)
{
    natsMsg *m = NULL;
    natsStatus st = make_msg(f, s, &m);
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    if (st == NATS_OK)
        st = js_PublishMsg(&pa, stoat_bus_js(f->conn), m, NULL, &je);
    jsPubAck_Destroy(pa);
    natsMsg_Destroy(m);
    return st;
}

static void on_ack(jsCtx *js, natsMsg *m, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    struct fleet_facts *f = closure;
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->nflight; i++)
        if (f->flight[i] == m) {
            f->flight[i] = NULL;
            f->ok[i] = pa && !pae;
            break;
        }
    pthread_mutex_unlock(&f->mu);
    natsMsg_Destroy(m);
}

/* Takes a message back from the context (unanswered): not in flight any more. */
static void forget(struct fleet_facts *f, natsMsg *m)
{
    pthread_mutex_lock(&f->mu);
    for (size_t i = 0; i < f->nflight; i++)
        if (f->flight[i] == m)
            f->flight[i] = NULL;
    pthread_mutex_unlock(&f->mu);
}

static bool js_ready(struct fleet_facts *f)
{
    if (f->js)
        return true;
    if (!f->conn)
        return false;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.PublishAsync.MaxPending = 4096;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = f;
    if (natsConnection_JetStream(&f->js, bus_nats(f->conn), &jo) != NATS_OK)
        f->js = NULL; /* each goes one at a time, at the flush */
    return f->js != NULL;
}

/* The messages sealed from index from on, published now without waiting
 * (the writer's thread, as each batch is handed back): their round trips
 * overlap the rest of the round, and the flush only awaits what is left. */
static void send_from(struct fleet_facts *f, size_t from)
{
    if (from >= f->nsealed || !js_ready(f))
        return;
    pthread_mutex_lock(&f->mu);
    if (f->nsealed > f->capflight) {
        size_t cap = f->nsealed * 2;
        f->flight = xrealloc(f->flight, cap * sizeof(*f->flight));
        f->ok = xrealloc(f->ok, cap * sizeof(*f->ok));
        memset(f->flight + f->capflight, 0, (cap - f->capflight) * sizeof(*f->flight));
        memset(f->ok + f->capflight, 0, (cap - f->capflight) * sizeof(*f->ok));
        f->capflight = cap;
    }
    for (size_t i = from; i < f->nsealed; i++) {
        f->flight[i] = NULL;
        f->ok[i] = false;
    }
    f->nflight = f->nsealed;
    pthread_mutex_unlock(&f->mu);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = FACTS_ACK_MS;
    for (size_t i = from; i < f->nsealed; i++) {
        natsMsg *m = NULL;
        if (make_msg(f, &f->sealed[i], &m) != NATS_OK)
            continue;
        pthread_mutex_lock(&f->mu);
        f->flight[i] = m; /* before the publish: its ack may come at once */
        pthread_mutex_unlock(&f->mu);
        if (js_PublishMsgAsync(f->js, &m, &po) != NATS_OK) {
            forget(f, m);
            natsMsg_Destroy(m);
        }
    }
}

/* Waits for the answers to what send_from published; f->ok says which the
 * stream acknowledged. */
static void await_all(struct fleet_facts *f)
{
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = FACTS_ACK_MS;
    if (js_PublishAsyncComplete(f->js, &po) != NATS_OK) {
        natsMsgList left = {0};
        if (js_PublishAsyncGetPendingList(&left, f->js) == NATS_OK)
            for (int i = 0; i < left.Count; i++)
                forget(f, left.Msgs[i]);
        natsMsgList_Destroy(&left);
    }
    pthread_mutex_lock(&f->mu);
    f->nflight = 0; /* a late answer finds nothing */
    pthread_mutex_unlock(&f->mu);
}

stoat_err fleet_facts_flush(struct fleet_facts *f, char *why, size_t whylen)
{
    stoat_err e = STOAT_OK;
    if (f->nsealed && f->js)
        await_all(f);
    for (size_t i = 0; i < f->nsealed; i++) {
        if (f->js && i < f->capflight && f->ok[i]) {
            f->published++;
            f->facts += f->sealed[i].count;
            continue;
        }
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
    if (f->capflight)
        memset(f->ok, 0, f->capflight * sizeof(*f->ok));
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
