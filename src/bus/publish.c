/* The publisher (publish.h has the picture and the why). Here: a batch is a
 * payload of JSON lines with the fields of its message id; a host's state
 * (keyed by its subject token, so two names that make one token share one
 * sequence and never reuse an id) holds its open batches and sequences; the
 * thread seals aged batches, publishes the queue, drains the spool under a
 * token bucket and sends heartbeats; nats.c's ack handler settles batches.
 *
 * Open batches are also on one list in the order they were opened, which is
 * the order they age in: sealing what is older than flush_ms looks at the
 * oldest few, not at every host (a collector's file of 2,000 hosts had the
 * thread scan every host's state each time a batch was sealed: a quarter
 * of `stoat publish`'s instructions). The list also bounds the bytes open
 * at once (BUS_OPEN_BYTES): past it the oldest is sealed early.
 *
 * Counting rule: a batch is "acknowledged" once, when the stream answered
 * for it (stored or duplicate); it is live in exactly one place at a time
 * (open, queued, in flight, or in the spool), so no event is counted twice
 * and none is lost from the counts. */
#include "bus/publish.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bus/batch.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

struct batch {
    struct batch *next;
    uint8_t kind;
    char token[STOAT_BUS_TOKEN_MAX + 1];
    char host[SPOOL_HOST_MAX + 1];
    char id[SPOOL_ID_MAX + 1];
    uint32_t count;
    int64_t sealed_ns; /* wall clock */
    int64_t opened_ms; /* monotonic */
    uint32_t hidx;     /* open: its host's index, and its neighbours in age */
    struct batch *older, *newer;
    struct buf payload;
    uint64_t segment;         /* from the spool: its segment; 0 live */
    uint64_t spool_order;     /* from the spool: the how-many-th read */
    bool from_spool, earlier; /* earlier: an earlier run's */
    /* sent as pieces (bus/batch.h): how many, which have been answered,
     * and whether one was refused; acknowledged when all were */
    unsigned npieces;
    uint64_t answered;
    bool piece_failed, piece_dup;
};

struct hoststate {
    char token[STOAT_BUS_TOKEN_MAX + 1];
    char host[SPOOL_HOST_MAX + 1];
    uint64_t seq[3]; /* by kind */
    struct batch *open[3];
};

struct stoat_bus_pub {
    struct stoat_bus_conn *conn;
    struct stoat_bus_pub_opts o;
    char *agent, *role, *spool_dir;
    struct spool *spool;
    jsCtx *js;
    char run[17];
    pthread_t thread;
    bool thread_started;

    pthread_mutex_t mu;
    pthread_cond_t wake; /* the thread: work queued, or stop */
    pthread_cond_t room; /* callers: the queue has room; finish: progress */
    bool stop;
    struct strmap hostidx;         /* token -> index into hosts */
    struct batch *oldest, *newest; /* open batches in the order they were opened */
    size_t open_bytes;
    struct hoststate *hosts;
    size_t nhosts, caphosts;
    struct batch *qhead, *qtail;
    unsigned qlen;
    struct batch **inflight; /* max_pending slots */
    unsigned ninflight, nspool_inflight;
    /* spooled batches whose resend failed, oldest first: sent again before
     * anything newer is read from the spool, so a host's outage reaches the
     * stream in the order it happened (appended to the spool's end, a batch
     * refused while the stream elected its leader went behind later ones) */
    struct batch **retry; /* max_pending slots */
    unsigned nretry;
    uint64_t spool_reads;
    /* after a spooled batch failed, one at a time until one is acknowledged:
     * with a window in flight, a later batch could pass a refused earlier one */
    bool spool_probe;
    unsigned partitions;
    int64_t pause_until_ms; /* after a failure: no spool draining until then */
    struct stoat_bus_pub_stats st;
    uint64_t hb_events_mark;
    int64_t hb_mark_ms;
    bool said_stream;
    struct buf zbuf;           /* the publisher thread's: an event batch compressed */
    struct bus_batch_enc zenc; /* and its compression context */
};

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t wall_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static void say(struct stoat_bus_pub *p, enum stoat_severity sev, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(struct stoat_bus_pub *p, enum stoat_severity sev, const char *fmt, ...)
{
    if (!p->o.diag)
        return;
    char msg[640];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->o.diag(p->o.diag_ctx, sev, msg);
}

static void batch_free(struct batch *b)
{
    if (!b)
        return;
    buf_free(&b->payload);
    free(b);
}

/* ------------------------------------------------------------ the spool */

/* Writes b to the spool (any thread; without p->mu) and frees it. */
static void to_spool(struct stoat_bus_pub *p, struct batch *b)
{
    struct spool_rec r = {.kind = b->kind,
                          .count = b->count,
                          .sealed_ns = b->sealed_ns,
                          .host = b->host,
                          .host_len = strlen(b->host),
                          .id = b->id,
                          .id_len = strlen(b->id),
                          .payload = b->payload.p,
                          .len = b->payload.len};
    spool_append(p->spool, &r);
    pthread_mutex_lock(&p->mu);
    p->st.spooled_batches++;
    p->st.spooled_events += b->count;
    pthread_mutex_unlock(&p->mu);
    if (b->from_spool)
        spool_done(p->spool, b->segment);
    batch_free(b);
}

/* A batch whose send failed: a spooled one waits for its turn again in
 * the retry list (its record stays in the spool until it is acknowledged),
 * a live one goes to the spool's end. */
static void respool(struct stoat_bus_pub *p, struct batch *b)
{
    if (b->from_spool) {
        pthread_mutex_lock(&p->mu);
        if (p->nretry < p->o.max_pending) {
            unsigned i = p->nretry++;
            while (i > 0 && p->retry[i - 1]->spool_order > b->spool_order) {
                p->retry[i] = p->retry[i - 1];
                i--;
            }
            p->retry[i] = b;
            b = NULL;
        }
        p->spool_probe = true;
        pthread_mutex_unlock(&p->mu);
        if (!b)
            return;
    }
    to_spool(p, b);
}

/* ------------------------------------------------------------ batches */

static struct hoststate *host_state(struct stoat_bus_pub *p, const char *host, size_t hlen)
{
    if (!host || hlen == 0) {
        host = p->agent;
        hlen = strlen(p->agent);
    }
    char tok[STOAT_BUS_TOKEN_MAX + 1];
    size_t tl = stoat_bus_host_token(host, hlen, tok);
    uint32_t idx;
    if (strmap_get(&p->hostidx, tok, tl, &idx))
        return &p->hosts[idx];
    xgrow((void **)&p->hosts, &p->caphosts, p->nhosts + 1, sizeof *p->hosts);
    struct hoststate *h = &p->hosts[p->nhosts];
    memset(h, 0, sizeof *h);
    memcpy(h->token, tok, tl + 1);
    size_t n = hlen > SPOOL_HOST_MAX ? SPOOL_HOST_MAX : hlen;
    memcpy(h->host, host, n);
    h->host[n] = 0;
    strmap_put(&p->hostidx, tok, tl, (uint32_t)p->nhosts);
    return &p->hosts[p->nhosts++];
}

/* Seals h's open batch of kind into the queue (p->mu held). Returns a batch
 * the queue had no room for, which the caller spools after unlocking, or
 * NULL. With block, a caller waits for room instead; the publisher thread
 * itself (sealing aged batches) never waits, since it is what makes room:
 * it queues past the cap, by at most the batches open at once. */
static struct batch *seal(struct stoat_bus_pub *p, struct hoststate *h, uint8_t kind, bool thread)
{
    struct batch *b = h->open[kind];
    if (!b)
        return NULL;
    h->open[kind] = NULL;
    if (b->older)
        b->older->newer = b->newer;
    else
        p->oldest = b->newer;
    if (b->newer)
        b->newer->older = b->older;
    else
        p->newest = b->older;
    b->older = b->newer = NULL;
    p->open_bytes -= b->payload.len;
    b->sealed_ns = wall_ns();
    snprintf(b->id, sizeof b->id, "%s:%s:%" PRIu64, h->token, p->run, ++h->seq[kind]);
    /* the sequence numbers of the pieces it may have to go as (send_batch):
     * kept for it, so that every piece has an id and a mark of its own */
    if (kind == BUS_KIND_EVENTS && b->payload.len > BUS_PIECE_BYTES)
        h->seq[kind] += bus_batch_pieces(b->payload.p, b->payload.len) - 1;
    p->st.batches++;
    while (!thread && p->o.block && p->qlen >= p->o.queue && !p->stop)
        pthread_cond_wait(&p->room, &p->mu);
    if (!(thread && p->o.block) && p->qlen >= p->o.queue) {
        p->st.overflow++;
        return b;
    }
    b->next = NULL;
    if (p->qtail)
        p->qtail->next = b;
    else
        p->qhead = b;
    p->qtail = b;
    p->qlen++;
    pthread_cond_signal(&p->wake);
    return NULL;
}

static void add_line(struct stoat_bus_pub *p, uint8_t kind, const char *host, size_t hlen, const char *line, size_t len)
{
    struct batch *over = NULL, *over2 = NULL;
    bool nl = len && line[len - 1] == '\n';
    pthread_mutex_lock(&p->mu);
    if (kind == BUS_KIND_EVENTS)
        p->st.events++;
    else
        p->st.alerts++;
    if (len + !nl > BUS_LINE_MAX) {
        if (p->st.too_long++ == 0) {
            pthread_mutex_unlock(&p->mu);
            say(p, STOAT_SEV_WARNING,
                "bus: a record of %zu bytes is over the %u a message can carry; not sent "
                "(counted as not acknowledged)",
                len, BUS_LINE_MAX);
            return;
        }
        goto out;
    }
    struct hoststate *h = host_state(p, host, hlen);
    struct batch *b = h->open[kind];
    /* event batches are compressed (about twenty to one): large ones, few
     * messages; alerts go plain, so theirs must fit a message as they are */
    size_t cap = kind == BUS_KIND_EVENTS || p->o.batch_bytes < BUS_PIECE_BYTES ? p->o.batch_bytes : BUS_PIECE_BYTES;
    if (b && b->payload.len + len + 1 > cap)
        over = seal(p, h, kind, false);
    if (!h->open[kind]) {
        b = h->open[kind] = xcalloc(1, sizeof *b);
        b->kind = kind;
        memcpy(b->token, h->token, sizeof b->token);
        memcpy(b->host, h->host, sizeof b->host);
        b->opened_ms = mono_ms();
        b->hidx = (uint32_t)(h - p->hosts);
        b->older = p->newest;
        if (p->newest)
            p->newest->newer = b;
        else
            p->oldest = b;
        p->newest = b;
    }
    b = h->open[kind];
    size_t was = b->payload.len;
    buf_put(&b->payload, line, len);
    if (!nl)
        buf_putc(&b->payload, '\n');
    p->open_bytes += b->payload.len - was;
    if (++b->count >= p->o.batch_events)
        over2 = seal(p, h, kind, false);
    else if (p->open_bytes > BUS_OPEN_BYTES && !over)
        over2 = seal(p, &p->hosts[p->oldest->hidx], p->oldest->kind, false); /* memory stays bounded */
out:
    pthread_mutex_unlock(&p->mu);
    if (over)
        to_spool(p, over);
    if (over2)
        to_spool(p, over2);
}

void bus_pub_event(struct stoat_bus_pub *p, const char *host, size_t hlen, const char *line, size_t len)
{
    add_line(p, BUS_KIND_EVENTS, host, hlen, line, len);
}

void bus_pub_alert(struct stoat_bus_pub *p, const char *host, size_t hlen, const char *line, size_t len)
{
    add_line(p, BUS_KIND_ALERTS, host, hlen, line, len);
}

stoat_err stoat_bus_pub_event_line(void *p, const char *host, const char *line, size_t len)
{
    add_line(p, BUS_KIND_EVENTS, host, host ? strlen(host) : 0, line, len);
    return STOAT_OK;
}

stoat_err stoat_bus_pub_alert_line(void *p, const char *host, const char *line, size_t len)
{
    add_line(p, BUS_KIND_ALERTS, host, host ? strlen(host) : 0, line, len);
    return STOAT_OK;
}

/* Seals what is open (all, or what is older than flush_ms); overflow spooled.
 * thread: called by the publisher thread. */
static void seal_open(struct stoat_bus_pub *p, bool all, bool thread)
{
    int64_t now = mono_ms();
    for (;;) {
        struct batch *over = NULL;
        pthread_mutex_lock(&p->mu);
        struct batch *b;
        while (!over && (b = p->oldest) && (all || now - b->opened_ms >= p->o.flush_ms))
            over = seal(p, &p->hosts[b->hidx], b->kind, thread);
        pthread_mutex_unlock(&p->mu);
        if (!over)
            return;
        to_spool(p, over);
    }
}

void bus_pub_flush(struct stoat_bus_pub *p)
{
    seal_open(p, true, false);
}

/* ------------------------------------------------------------ sending */

/* The piece of b an id names (its sequence number minus b's), or -1. */
static int piece_of(const struct batch *b, const char *id)
{
    const char *c = strrchr(b->id, ':'), *d = strrchr(id, ':');
    if (!c || !d || c - b->id != d - id || memcmp(b->id, id, (size_t)(c - b->id)))
        return -1;
    char *e1 = NULL, *e2 = NULL;
    unsigned long long base = strtoull(c + 1, &e1, 10), seq = strtoull(d + 1, &e2, 10);
    if (*e1 || *e2 || seq < base || seq - base >= b->npieces)
        return -1;
    return (int)(seq - base);
}

/* The batch in flight a piece's ack belongs to, taken out once every piece
 * has been answered; *ok then says whether all were acknowledged. NULL while
 * pieces are still awaited, or for an id not in flight. */
static struct batch *piece_answered(struct stoat_bus_pub *p, const char *id, bool acked, bool dup, bool *ok)
{
    for (unsigned i = 0; i < p->ninflight; i++) {
        struct batch *b = p->inflight[i];
        int k = b->npieces > 1 ? piece_of(b, id) : -1;
        if (k < 0)
            continue;
        b->answered |= 1ull << k;
        b->piece_failed |= !acked;
        if (!acked) {
            p->st.failed++;
            p->pause_until_ms = mono_ms() + 1000;
        }
        b->piece_dup |= dup;
        if (b->answered != (b->npieces >= 64 ? ~0ull : (1ull << b->npieces) - 1))
            return NULL;
        *ok = !b->piece_failed;
        p->inflight[i] = p->inflight[--p->ninflight];
        if (b->from_spool)
            p->nspool_inflight--;
        return b;
    }
    return NULL;
}

static struct batch *inflight_take(struct stoat_bus_pub *p, const char *id)
{
    for (unsigned i = 0; i < p->ninflight; i++) {
        struct batch *b = p->inflight[i];
        if (b->npieces <= 1 && strcmp(b->id, id) == 0) {
            p->inflight[i] = p->inflight[--p->ninflight];
            if (b->from_spool)
                p->nspool_inflight--;
            return b;
        }
    }
    return NULL;
}

static void on_ack(jsCtx *js, natsMsg *msg, jsPubAck *pa, jsPubAckErr *pae, void *closure)
{
    (void)js;
    struct stoat_bus_pub *p = closure;
    const char *id = NULL;
    natsMsgHeader_Get(msg, BUS_HDR_MSG_ID, &id);
    pthread_mutex_lock(&p->mu);
    bool ok = pa != NULL, dup = pa && pa->Duplicate, pieces = false;
    struct batch *b = id ? inflight_take(p, id) : NULL;
    if (!b && id) {
        b = piece_answered(p, id, ok, dup, &ok);
        pieces = b != NULL;
        if (pieces) /* refused pieces were counted as they came */
            dup = b->piece_dup;
    }
    if (b && ok) {
        if (b->from_spool)
            p->spool_probe = false;
        p->st.acked_batches++;
        if (dup)
            p->st.duplicates++;
        if (b->earlier)
            p->st.earlier_acked_events += b->count;
        else if (b->kind == BUS_KIND_EVENTS)
            p->st.acked_events += b->count;
        else
            p->st.acked_alerts += b->count;
    } else if (b) {
        if (!pieces)
            p->st.failed++;
        p->pause_until_ms = mono_ms() + 1000;
    }
    pthread_cond_broadcast(&p->room);
    pthread_mutex_unlock(&p->mu);
    if (b && ok) {
        if (b->from_spool)
            spool_done(p->spool, b->segment);
        batch_free(b);
    } else if (b) {
        const char *why =
            pae && pae->ErrText && *pae->ErrText ? pae->ErrText : natsStatus_GetText(pae ? pae->Err : NATS_ERR);
        if (pae && pae->Err == NATS_NO_RESPONDERS && !p->said_stream) {
            p->said_stream = true;
            say(p, STOAT_SEV_WARNING, "bus: no stream takes %s's messages (run `stoat fleet setup`); spooling",
                b->token);
        } else {
            say(p, STOAT_SEV_NOTE, "bus: batch %s not acknowledged (%s); spooled to send again", b->id, why);
        }
        respool(p, b);
    }
    natsMsg_Destroy(msg);
}

/* The id's run and sequence: "<token>:<run>:<seq>". */
static void id_parts(const char *id, char run[32], char seq[32])
{
    const char *c2 = strrchr(id, ':');
    const char *c1 = c2 ? memrchr(id, ':', (size_t)(c2 - id)) : NULL;
    run[0] = seq[0] = 0;
    if (!c1)
        return;
    snprintf(run, 32, "%.*s", (int)(c2 - c1 - 1), c1 + 1);
    snprintf(seq, 32, "%s", c2 + 1);
}

/* A header value: no control bytes, at most 200 bytes. */
static void header_safe(char *out, size_t outlen, const char *s)
{
    size_t n = 0;
    for (; s[n] && n + 1 < outlen && n < 200; n++)
        out[n] = (unsigned char)s[n] < 0x20 || s[n] == 0x7f ? '?' : s[n];
    out[n] = 0;
}

/* One message of a batch: data (len bytes, enc its Stoat-Enc or NULL) under
 * id, with seq and count its own. */
static natsStatus make_msg(const char *subject, const char *id, const char *host, const char *run, uint64_t seq,
                           unsigned span, uint64_t count, const char *sent, const char *enc, const char *data,
                           size_t len, natsMsg **out)
{
    char sq[24], cn[24], sp[16];
    snprintf(sp, sizeof sp, "%u", span);
    snprintf(sq, sizeof sq, "%" PRIu64, seq);
    snprintf(cn, sizeof cn, "%" PRIu64, count);
    natsMsg *m = NULL;
    natsStatus s = natsMsg_Create(&m, subject, NULL, data, (int)len);
    if (s == NATS_OK && enc)
        s = natsMsgHeader_Set(m, BUS_HDR_ENC, enc);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, BUS_HDR_MSG_ID, id);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, BUS_HDR_HOST, host);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, BUS_HDR_RUN, run);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, BUS_HDR_SEQ, sq);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, BUS_HDR_COUNT, cn);
    if (s == NATS_OK)
        s = natsMsgHeader_Set(m, BUS_HDR_SENT, sent);
    if (s == NATS_OK && span > 1)
        s = natsMsgHeader_Set(m, BUS_HDR_SPAN, sp);
    if (s != NATS_OK) {
        natsMsg_Destroy(m);
        m = NULL;
    }
    *out = m;
    return s;
}

/* Takes b out of the table (it was not sent). */
static bool inflight_remove(struct stoat_bus_pub *p, struct batch *b)
{
    for (unsigned i = 0; i < p->ninflight; i++)
        if (p->inflight[i] == b) {
            p->inflight[i] = p->inflight[--p->ninflight];
            if (b->from_spool)
                p->nspool_inflight--;
            return true;
        }
    return false;
}

/* Publishes b (already in flight in the table). false: it was not sent and
 * is taken out again (the caller spools it).
 *
 * An event batch whose compressed lines would not fit one message (lines
 * that do not compress: a host sending random bytes) goes as pieces that
 * fit whatever they compress to (bus/batch.h), each with the sequence
 * number seal() kept for it, so each has its own message id and mark at the
 * centre. The batch is acknowledged when every piece was; one refused sends
 * them all again, and the stream's duplicate window drops those it has. */
static bool send_batch(struct stoat_bus_pub *p, struct batch *b, unsigned partitions)
{
    char subject[BUS_SUBJECT_MAX], run[32], seq[32], sent[32], host[256], id[SPOOL_ID_MAX + 1];
    if (b->kind == BUS_KIND_EVENTS)
        bus_subject_events(subject, b->token, bus_partition(b->token, partitions));
    else
        bus_subject_alerts(subject, b->token);
    id_parts(b->id, run, seq);
    uint64_t base = strtoull(seq, NULL, 10);
    format_time_ns(b->sealed_ns, sent);
    if (strlen(sent) > 24)
        memcpy(sent + 23, "Z", 2); /* milliseconds */
    header_safe(host, sizeof host, b->host);
    memcpy(id, b->id, sizeof id);
    bool resend = b->from_spool; /* b may be settled and freed as soon as its last message is sent */
    /* events are compressed on the way out (the spool keeps the lines:
     * a resend is compressed again); alerts stay plain for any reader */
    const char *enc =
        b->kind == BUS_KIND_EVENTS ? bus_batch_encode(&p->zenc, b->payload.p, b->payload.len, &p->zbuf) : NULL;
    bool whole = b->kind != BUS_KIND_EVENTS || (enc ? p->zbuf.len : b->payload.len) <= BUS_MSG_FIT;
    unsigned n = whole ? 1 : bus_batch_pieces(b->payload.p, b->payload.len);
    if (n > 64)
        n = 1, whole = true; /* not with batches of at most BUS_BATCH_BYTES: the server refuses it */
    pthread_mutex_lock(&p->mu);
    b->npieces = n;
    b->answered = 0;
    b->piece_failed = b->piece_dup = false;
    pthread_mutex_unlock(&p->mu);
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = p->o.ack_wait_ms;
    natsStatus s = NATS_OK;
    unsigned sent_n = 0;
    const char *data = b->payload.p;
    size_t len = b->payload.len, at = 0;
    for (unsigned k = 0; k < n && s == NATS_OK; k++) {
        natsMsg *m = NULL;
        if (whole) {
            /* sent whole, it stands for the sequence numbers kept for its
             * pieces too: the centre marks them all, no gap in its intervals */
            unsigned span = b->kind == BUS_KIND_EVENTS && len > BUS_PIECE_BYTES ? bus_batch_pieces(data, len) : 1;
            s = make_msg(subject, id, host, run, base, span, b->count, sent, enc, enc ? p->zbuf.p : data,
                         enc ? p->zbuf.len : len, &m);
        } else {
            size_t end = bus_batch_piece_end(data, len, at);
            const char *penc = bus_batch_encode(&p->zenc, data + at, end - at, &p->zbuf);
            char pid[SPOOL_ID_MAX + 24];
            snprintf(pid, sizeof pid, "%.*s:%" PRIu64, (int)(strrchr(id, ':') - id), id, base + k);
            s = make_msg(subject, pid, host, run, base + k, 1, bus_batch_lines(data + at, end - at), sent, penc,
                         penc ? p->zbuf.p : data + at, penc ? p->zbuf.len : end - at, &m);
            at = end;
        }
        if (s == NATS_OK)
            s = js_PublishMsgAsync(p->js, &m, &po);
        natsMsg_Destroy(m); /* NULL when the library took it */
        if (s == NATS_OK)
            sent_n++;
    }
    if (s == NATS_OK) {
        pthread_mutex_lock(&p->mu);
        p->st.published += sent_n;
        if (resend)
            p->st.resent++;
        pthread_mutex_unlock(&p->mu);
        return true;
    }
    pthread_mutex_lock(&p->mu);
    /* the ack handler may have taken it already (an immediate failure);
     * pieces sent before are answered into nothing, and sent again */
    bool again = whole ? inflight_take(p, id) != NULL : inflight_remove(p, b);
    p->st.failed++;
    p->pause_until_ms = mono_ms() + 1000;
    pthread_mutex_unlock(&p->mu);
    return !again;
}

/* Sends queued live batches while there is room in flight; when the
 * connection is down, moves them to the spool. */
static void send_live(struct stoat_bus_pub *p, bool up, unsigned parts)
{
    for (;;) {
        pthread_mutex_lock(&p->mu);
        struct batch *b = p->qhead;
        if (!b || (up && p->ninflight >= p->o.max_pending)) {
            pthread_mutex_unlock(&p->mu);
            return;
        }
        p->qhead = b->next;
        if (!p->qhead)
            p->qtail = NULL;
        p->qlen--;
        pthread_cond_broadcast(&p->room);
        if (up)
            p->inflight[p->ninflight++] = b;
        pthread_mutex_unlock(&p->mu);
        if (!up || !send_batch(p, b, parts))
            to_spool(p, b);
    }
}

/* One spooled batch into a batch object, or NULL. */
static struct batch *from_spool(struct stoat_bus_pub *p, struct buf *store)
{
    struct spool_item it;
    if (!spool_next(p->spool, &it, store))
        return NULL;
    struct batch *b = xcalloc(1, sizeof *b);
    b->kind = it.rec.kind;
    b->count = it.rec.count;
    b->sealed_ns = it.rec.sealed_ns;
    b->segment = it.segment;
    b->from_spool = true;
    b->spool_order = ++p->spool_reads;
    snprintf(b->host, sizeof b->host, "%.*s", (int)it.rec.host_len, it.rec.host);
    snprintf(b->id, sizeof b->id, "%.*s", (int)it.rec.id_len, it.rec.id);
    const char *c = memchr(b->id, ':', strlen(b->id));
    size_t tl = c ? (size_t)(c - b->id) : 0;
    if (tl == 0 || tl > STOAT_BUS_TOKEN_MAX)
        stoat_bus_host_token(b->host, strlen(b->host), b->token);
    else
        snprintf(b->token, sizeof b->token, "%.*s", (int)tl, b->id);
    char run[32], seq[32];
    id_parts(b->id, run, seq);
    b->earlier = strcmp(run, p->run) != 0;
    buf_put(&b->payload, it.rec.payload, it.rec.len);
    return b;
}

/* Drains the spool: oldest first, within the rate and half the window. */
static void drain(struct stoat_bus_pub *p, unsigned parts, double *tokens, struct buf *store)
{
    while (*tokens > 0) {
        pthread_mutex_lock(&p->mu);
        unsigned window = p->spool_probe ? 1 : (p->o.max_pending + 1) / 2;
        bool room = p->nspool_inflight < window && p->ninflight < p->o.max_pending && mono_ms() >= p->pause_until_ms;
        pthread_mutex_unlock(&p->mu);
        if (!room)
            return;
        pthread_mutex_lock(&p->mu);
        struct batch *b = NULL;
        if (p->nretry) {
            b = p->retry[0];
            memmove(p->retry, p->retry + 1, --p->nretry * sizeof *p->retry);
        }
        pthread_mutex_unlock(&p->mu);
        if (!b)
            b = from_spool(p, store);
        if (!b)
            return;
        *tokens -= b->count;
        pthread_mutex_lock(&p->mu);
        p->inflight[p->ninflight++] = b;
        p->nspool_inflight++;
        pthread_mutex_unlock(&p->mu);
        if (!send_batch(p, b, parts))
            respool(p, b);
    }
}

/* ------------------------------------------------------------ heartbeat */

/* NATS_OK once the stream acknowledged it; NATS_TIMEOUT while the health
 * stream has no leader; other errors (no such stream) will not pass later. */
static natsStatus heartbeat(struct stoat_bus_pub *p)
{
    struct stoat_bus_hb_extra x = {.events_per_s = -1};
    if (p->o.hb_extra)
        p->o.hb_extra(p->o.hb_ctx, &x);
    struct stoat_bus_pub_stats st;
    stoat_bus_pub_stats(p, &st);
    int64_t now = mono_ms();
    pthread_mutex_lock(&p->mu); /* the thread and stoat_bus_pub_finish both send heartbeats */
    double dt = (double)(now - p->hb_mark_ms) / 1000.0;
    double rate = dt > 0 ? (double)(st.events - p->hb_events_mark) / dt : 0;
    p->hb_mark_ms = now;
    p->hb_events_mark = st.events;
    pthread_mutex_unlock(&p->mu);
    if (x.events_per_s < 0)
        x.events_per_s = rate;
    char tok[STOAT_BUS_TOKEN_MAX + 1], subject[BUS_SUBJECT_MAX], t[32];
    stoat_bus_host_token(p->agent, strlen(p->agent), tok);
    bus_subject_heartbeat(subject, tok);
    format_time_ns(wall_ns(), t);
    struct buf b = {0};
    buf_puts(&b, "{\"host\":");
    buf_json_str(&b, p->agent, strlen(p->agent));
    buf_printf(&b, ",\"run\":\"%s\",\"role\":", p->run);
    buf_json_str(&b, p->role, strlen(p->role));
    buf_printf(&b,
               ",\"time\":\"%s\",\"events_per_s\":%.1f,\"events\":%" PRIu64 ",\"alerts\":%" PRIu64 ",\"lost\":%" PRIu64
               ",\"spooled_bytes\":%" PRIu64 ",\"spooled_events\":%" PRIu64 ",\"spool_dropped\":%" PRIu64
               ",\"spool_dropped_batches\":%" PRIu64 ",\"published\":%" PRIu64 ",\"acked\":%" PRIu64
               ",\"rule_version\":",
               t, x.events_per_s, st.events, st.alerts, x.lost, st.spool.bytes, st.spool.events,
               st.spool.dropped_events, st.spool.dropped_batches, st.published, st.acked_events);
    buf_json_str(&b, x.rule_version[0] ? x.rule_version : "local",
                 strlen(x.rule_version[0] ? x.rule_version : "local"));
    buf_puts(&b, ",\"sensor_mode\":");
    if (x.sensor_mode[0])
        buf_json_str(&b, x.sensor_mode, strlen(x.sensor_mode));
    else
        buf_puts(&b, "null");
    buf_puts(&b, ",\"format\":1}");
    /* Acknowledged by the stream: a plain publish is dropped without a word
     * while STOAT_HEALTH has no leader (a node just died), and a host's
     * last heartbeat carries its final counts (what its spool dropped). */
    jsPubOptions po;
    jsPubOptions_Init(&po);
    po.MaxWait = 2000;
    jsPubAck *pa = NULL;
    natsStatus ns = p->js ? js_Publish(&pa, p->js, subject, b.p, (int)b.len, &po, NULL) : NATS_NOT_INITIALIZED;
    jsPubAck_Destroy(pa);
    if (ns == NATS_OK) {
        pthread_mutex_lock(&p->mu);
        p->st.heartbeats++;
        pthread_mutex_unlock(&p->mu);
    }
    buf_free(&b);
    return ns;
}

/* ------------------------------------------------------------ the thread */

static void *pub_thread(void *arg)
{
    struct stoat_bus_pub *p = arg;
    struct buf store = {0};
    double tokens = 0;
    int64_t last = mono_ms(), next_hb = last + 1000;
    for (;;) {
        pthread_mutex_lock(&p->mu);
        if (!p->stop && !p->qhead) {
            struct timespec dl;
            clock_gettime(CLOCK_REALTIME, &dl);
            dl.tv_nsec += 20 * 1000000L;
            if (dl.tv_nsec >= 1000000000L) {
                dl.tv_sec++;
                dl.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&p->wake, &p->mu, &dl);
        }
        bool stop = p->stop;
        unsigned parts = p->partitions;
        pthread_mutex_unlock(&p->mu);
        if (stop)
            break;
        int64_t now = mono_ms();
        tokens += p->o.spool_rate * (double)(now - last) / 1000.0;
        if (tokens > p->o.spool_rate)
            tokens = p->o.spool_rate;
        last = now;
        seal_open(p, false, true);
        bool up = bus_conn_state(p->conn) == STOAT_BUS_CONNECTED;
        if (up && !parts) {
            char why[256];
            unsigned n = 0;
            if (stoat_bus_read_partitions(p->conn, &n, why, sizeof why) == STOAT_OK) {
                pthread_mutex_lock(&p->mu);
                parts = p->partitions = p->st.partitions = n;
                pthread_mutex_unlock(&p->mu);
            } else {
                say(p, STOAT_SEV_WARNING, "%s; retrying", why);
                up = false;
            }
        }
        send_live(p, up, parts);
        if (up)
            drain(p, parts, &tokens, &store);
        if (up && p->o.heartbeat_ms > 0 && now >= next_hb) {
            heartbeat(p);
            next_hb = now + p->o.heartbeat_ms;
        }
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->room);
        pthread_mutex_unlock(&p->mu);
    }
    buf_free(&store);
    return NULL;
}

/* ------------------------------------------------------------ life */

stoat_err stoat_bus_pub_create(struct stoat_bus_conn *c, const struct stoat_bus_pub_opts *o, struct stoat_bus_pub **out,
                               char *why, size_t whylen)
{
    *out = NULL;
    if (!o->spool_dir) {
        snprintf(why, whylen, "bus: the publisher needs a spool folder");
        return STOAT_ERR_ARG;
    }
    struct stoat_bus_pub *p = xcalloc(1, sizeof *p);
    p->conn = c;
    p->o = *o;
    p->agent = xstrdup(o->agent && *o->agent ? o->agent : "unknown");
    p->role = xstrdup(o->role ? o->role : "publish");
    p->spool_dir = xstrdup(o->spool_dir);
    p->zenc.zlib = o->zlib;
    p->o.agent = p->agent;
    p->o.role = p->role;
    p->o.spool_dir = p->spool_dir;
    if (!p->o.spool_rate)
        p->o.spool_rate = 5000;
    if (!p->o.max_pending)
        p->o.max_pending = 32; /* of batches up to 2 MiB: 64 MiB of lines in flight at most */
    if (!p->o.queue)
        p->o.queue = 32;
    if (!p->o.ack_wait_ms)
        p->o.ack_wait_ms = 10000;
    if (!p->o.flush_ms)
        p->o.flush_ms = 200;
    if (!p->o.batch_events || p->o.batch_events > SPOOL_COUNT_MAX)
        p->o.batch_events = BUS_BATCH_EVENTS;
    if (!p->o.batch_bytes || p->o.batch_bytes > BUS_BATCH_BYTES)
        p->o.batch_bytes = BUS_BATCH_BYTES;
    /* a small spool still holds several batches: one batch over the whole cap
     * would be dropped whole, and an outage would keep nothing */
    if (p->o.spool_max && p->o.batch_bytes > p->o.spool_max / 4)
        p->o.batch_bytes = p->o.spool_max / 4 > 4096 ? (size_t)(p->o.spool_max / 4) : 4096;
    if (!p->o.heartbeat_ms)
        p->o.heartbeat_ms = 10000;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->room, NULL);
    strmap_init(&p->hostidx);
    p->inflight = xcalloc(p->o.max_pending, sizeof *p->inflight);
    p->retry = xcalloc(p->o.max_pending, sizeof *p->retry);
    p->hb_mark_ms = mono_ms();
    /* the run id: 64 random bits, so that ids of two runs never meet */
    uint64_t r = 0;
    FILE *f = fopen("/dev/urandom", "rb");
    if (!f || fread(&r, sizeof r, 1, f) != 1)
        r = (uint64_t)wall_ns() ^ ((uint64_t)getpid() << 32);
    if (f)
        fclose(f);
    snprintf(p->run, sizeof p->run, "%016" PRIx64, r);

    stoat_err err;
    struct spool_opts so = {.dir = p->spool_dir, .max_bytes = o->spool_max, .diag = o->diag, .diag_ctx = o->diag_ctx};
    if ((err = spool_open(&so, &p->spool, why, whylen)) != STOAT_OK)
        goto fail;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = p->o.ack_wait_ms;
    jo.PublishAsync.MaxPending = (int64_t)p->o.max_pending * 2;
    jo.PublishAsync.AckHandler = on_ack;
    jo.PublishAsync.AckHandlerClosure = p;
    natsStatus s = natsConnection_JetStream(&p->js, bus_nats(c), &jo);
    if (s != NATS_OK) {
        snprintf(why, whylen, "bus: JetStream context: %s", natsStatus_GetText(s));
        err = STOAT_ERR_IO;
        goto fail;
    }
    if (pthread_create(&p->thread, NULL, pub_thread, p) != 0) {
        snprintf(why, whylen, "bus: cannot start the publisher thread");
        err = STOAT_ERR_NOMEM;
        goto fail;
    }
    p->thread_started = true;
    *out = p;
    return STOAT_OK;
fail:
    stoat_bus_pub_destroy(p);
    return err;
}

/* Everything settled: nothing open, queued, in flight or spooled. */
static bool settled(struct stoat_bus_pub *p)
{
    struct stoat_bus_spool_stats ss;
    spool_stats(p->spool, &ss);
    pthread_mutex_lock(&p->mu);
    bool open = p->oldest != NULL;
    bool done = !open && !p->qhead && p->ninflight == 0 && p->nretry == 0 && ss.batches == 0 && ss.segments == 0;
    pthread_mutex_unlock(&p->mu);
    return done;
}

bool stoat_bus_pub_finish(struct stoat_bus_pub *p, int64_t wait_ms)
{
    bus_pub_flush(p);
    int64_t end = mono_ms() + wait_ms;
    while (!settled(p)) {
        if (mono_ms() >= end)
            return false;
        usleep(20000);
    }
    /* The last one says how it ended (what the spool dropped): keep trying
     * for up to 20 s while the health stream elects a leader, which after a
     * node's or the whole cluster's restart can come well after the event
     * stream's. The events were stored, so the health stream exists (one
     * setup makes both): every failure is worth another try, and a last
     * failure is said, never silent. */
    if (p->o.heartbeat_ms <= 0)
        return true;
    int64_t hb_end = mono_ms() + 20000;
    natsStatus ns = NATS_NOT_YET_CONNECTED;
    for (;;) {
        if (bus_conn_state(p->conn) == STOAT_BUS_CONNECTED && (ns = heartbeat(p)) == NATS_OK)
            break;
        if (mono_ms() >= hb_end)
            break;
        usleep(250000);
    }
    if (ns != NATS_OK) {
        const char *last = nats_GetLastError(NULL);
        say(p, STOAT_SEV_WARNING, "bus: the last heartbeat (the final counts) was not stored: %s%s%s",
            natsStatus_GetText(ns), last ? ": " : "", last ? last : "");
    }
    return true;
}

void stoat_bus_pub_stats(struct stoat_bus_pub *p, struct stoat_bus_pub_stats *out)
{
    struct stoat_bus_spool_stats ss;
    spool_stats(p->spool, &ss);
    pthread_mutex_lock(&p->mu);
    *out = p->st;
    pthread_mutex_unlock(&p->mu);
    out->spool = ss;
}

const char *bus_pub_run(const struct stoat_bus_pub *p)
{
    return p->run;
}

void stoat_bus_pub_destroy(struct stoat_bus_pub *p)
{
    if (!p)
        return;
    if (p->thread_started) {
        pthread_mutex_lock(&p->mu);
        p->stop = true;
        pthread_cond_broadcast(&p->wake);
        pthread_cond_broadcast(&p->room);
        pthread_mutex_unlock(&p->mu);
        pthread_join(p->thread, NULL);
    }
    if (p->spool) {
        seal_open(p, true, false);
        send_live(p, false, 0); /* the queue to the spool */
        if (p->js) {            /* acks still due get a last chance */
            jsPubOptions po;
            jsPubOptions_Init(&po);
            po.MaxWait = 2000;
            js_PublishAsyncComplete(p->js, &po);
        }
        for (;;) { /* what is still in flight goes to the spool for the next run */
            pthread_mutex_lock(&p->mu);
            struct batch *b = p->ninflight ? p->inflight[--p->ninflight] : NULL;
            if (b && b->from_spool)
                p->nspool_inflight--;
            if (!b && p->nretry)
                b = p->retry[--p->nretry];
            pthread_mutex_unlock(&p->mu);
            if (!b)
                break;
            to_spool(p, b);
        }
    }
    jsCtx_Destroy(p->js);
    spool_close(p->spool);
    for (size_t i = 0; i < p->nhosts; i++)
        for (int k = 0; k < 3; k++)
            batch_free(p->hosts[i].open[k]);
    free(p->hosts);
    strmap_free(&p->hostidx);
    free(p->inflight);
    free(p->retry);
    buf_free(&p->zbuf);
    bus_batch_enc_free(&p->zenc);
    pthread_cond_destroy(&p->room);
    pthread_cond_destroy(&p->wake);
    pthread_mutex_destroy(&p->mu);
    free(p->agent);
    free(p->role);
    free(p->spool_dir);
    free(p);
}
