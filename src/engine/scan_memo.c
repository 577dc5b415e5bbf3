/* The scan memo (scan_memo.h). */
#include "engine/scan_memo.h"

#include <stdlib.h>
#include <string.h>

#include "util/mem.h"
#include "util/text.h"

_Static_assert(sizeof(struct scan_memo_slot) == 32, "a slot is half a cache line");
_Static_assert(SCAN_MEMO_MAX_IDS * sizeof(uint32_t) + SCAN_MEMO_MAX_LEN <= UINT16_MAX, "a slot's room fits its cap");

/* The bytes' hash for the memo alone (never stored, so free to differ from
 * hash_bytes): four words a step in four lanes, whose multiplies do not wait
 * on each other. A slot compares the whole bytes, so a made collision only
 * costs a scan. */
static uint64_t memo_hash(const char *p, size_t n, uint64_t seed)
{
    const uint64_t m = 0x9E3779B97F4A7C15ull;
    uint64_t lane[4] = {seed ^ n, seed + m, seed ^ 0xC2B2AE3D27D4EB4Full, seed - m};
    size_t left = n;
    for (; left >= 32; p += 32, left -= 32)
        for (int k = 0; k < 4; k++) {
            uint64_t w;
            memcpy(&w, p + 8 * k, 8);
            lane[k] = (lane[k] ^ w) * m;
            lane[k] ^= lane[k] >> 31;
        }
    for (int k = 0; left >= 8; p += 8, left -= 8, k++) {
        uint64_t w;
        memcpy(&w, p, 8);
        lane[k] = (lane[k] ^ w) * m;
    }
    if (left) {
        uint64_t w = 0;
        if (n >= 8) {
            memcpy(&w, p + left - 8, 8); /* the word that ends with the tail */
        } else {
            for (size_t i = 0; i < left; i++)
                w |= (uint64_t)(unsigned char)p[i] << (8 * i);
        }
        lane[3] = (lane[3] ^ w ^ left) * m;
    }
    uint64_t h =
        lane[0] ^ (lane[1] << 17 | lane[1] >> 47) ^ (lane[2] << 31 | lane[2] >> 33) ^ (lane[3] << 47 | lane[3] >> 17);
    return hash_mix(h);
}

uint64_t scan_memo_hash(const void *db, const char *p, size_t len)
{
    return memo_hash(p, len, (uint64_t)(uintptr_t)db);
}

void scan_memo_ask(const struct scan_memo *m, uint64_t hash)
{
    if (m->slots)
        __builtin_prefetch(&m->slots[hash & (SCAN_MEMO_SLOTS - 1)]);
}

void scan_memo_ask_data(const struct scan_memo *m, const void *db, uint64_t hash)
{
    if (!m->slots)
        return;
    const struct scan_memo_slot *s = &m->slots[hash & (SCAN_MEMO_SLOTS - 1)];
    if (s->db == db && s->check == (uint32_t)(hash >> 32)) {
        __builtin_prefetch(s->data);
        if (s->nids * sizeof(uint32_t) + s->len > 64) /* a longer value's second line */
            __builtin_prefetch((const char *)s->data + 64);
    }
}

static struct scan_memo_slot *find_hashed(struct scan_memo *m, const void *db, const char *p, size_t len, uint64_t h,
                                          bool *held)
{
    *held = false;
    if (len > SCAN_MEMO_MAX_LEN)
        return NULL;
    if (!m->slots)
        m->slots = xcalloc_aligned(64, SCAN_MEMO_SLOTS, sizeof(*m->slots));
    struct scan_memo_slot *s = &m->slots[h & (SCAN_MEMO_SLOTS - 1)];
    *held = s->db == db && s->check == (uint32_t)(h >> 32) && s->len == len &&
            memcmp((const char *)(s->data + s->nids), p, len) == 0;
    return s;
}

struct scan_memo_slot *scan_memo_find(struct scan_memo *m, const void *db, const char *p, size_t len, uint64_t *hash,
                                      bool *held)
{
    *hash = len > SCAN_MEMO_MAX_LEN ? 0 : scan_memo_hash(db, p, len);
    return find_hashed(m, db, p, len, *hash, held);
}

void scan_memo_keep(struct scan_memo *m, struct scan_memo_slot *s, const void *db, uint64_t hash, const char *p,
                    size_t len, const uint32_t *ids, uint32_t nids)
{
    size_t need = nids * sizeof(*ids) + len;
    if (need > s->cap) {
        size_t room = need < 128 ? 128 : need;
        if (m->bytes - s->cap + room > SCAN_MEMO_MAX_BYTES)
            return;
        m->bytes = m->bytes - s->cap + room;
        free(s->data);
        s->cap = (uint16_t)room;
        s->data = xmalloc(s->cap);
    }
    memcpy(s->data, ids, nids * sizeof(*ids));
    memcpy((char *)(s->data + nids), p, len);
    s->db = db;
    s->check = (uint32_t)(hash >> 32);
    s->len = (uint32_t)len;
    s->nids = (uint16_t)nids;
}

/* Records what a scan reports, and passes each report on. */
struct scan_record {
    match_event_handler on;
    void *ctx;
    uint32_t n;
    bool over;
    uint32_t ids[SCAN_MEMO_MAX_IDS];
};

static int on_recorded(unsigned int id, unsigned long long from, unsigned long long to, unsigned int flags, void *ctx)
{
    struct scan_record *r = ctx;
    uint32_t i = 0;
    while (i < r->n && r->ids[i] != id)
        i++;
    if (i == r->n) {
        if (r->n < SCAN_MEMO_MAX_IDS)
            r->ids[r->n++] = id;
        else
            r->over = true;
    }
    return r->on(id, from, to, flags, r->ctx);
}

bool scan_memo_scan_hashed(struct scan_memo *m, const hs_database_t *db, hs_scratch_t *hs, const char *p, size_t len,
                           uint64_t hash, match_event_handler on, void *ctx, bool *remembered)
{
    bool held;
    struct scan_memo_slot *slot = find_hashed(m, db, p, len, hash, &held);
    *remembered = held;
    if (held) {
        const uint32_t *ids = scan_memo_ids(slot);
        for (uint32_t i = 0; i < slot->nids; i++)
            on(ids[i], 0, 0, 0, ctx);
        return true;
    }
    if (!slot)
        return hs_scan(db, p, (unsigned)len, 0, hs, on, ctx) == HS_SUCCESS;
    struct scan_record r = {.on = on, .ctx = ctx};
    if (hs_scan(db, p, (unsigned)len, 0, hs, on_recorded, &r) != HS_SUCCESS)
        return false;
    if (!r.over)
        scan_memo_keep(m, slot, db, hash, p, len, r.ids, r.n);
    return true;
}

bool scan_memo_scan(struct scan_memo *m, const hs_database_t *db, hs_scratch_t *hs, const char *p, size_t len,
                    match_event_handler on, void *ctx, bool *remembered)
{
    uint64_t hash = len > SCAN_MEMO_MAX_LEN ? 0 : scan_memo_hash(db, p, len); /* not kept: no hash needed */
    return scan_memo_scan_hashed(m, db, hs, p, len, hash, on, ctx, remembered);
}

void scan_memo_free(struct scan_memo *m)
{
    for (size_t i = 0; m->slots && i < SCAN_MEMO_SLOTS; i++)
        free(m->slots[i].data);
    free(m->slots);
    m->slots = NULL;
    m->bytes = 0;
}
