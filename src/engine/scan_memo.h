/* The scan memo: what a field database's scan reported for some bytes,
 * remembered per thread. The same values come back event after event (a
 * service's command line, the images of a host's programs, the same
 * registry keys), and the big field databases are the dearest part of an
 * event's prefilter: Hyperscan reads hundreds of KB of tables for
 * CommandLine's 7,486 literals, 15-30 cycles a byte. A slot keeps the
 * database and the whole bytes, so a report is only replayed for the same
 * bytes scanned by the same database; a scan that failed, bytes longer than
 * SCAN_MEMO_MAX_LEN and reports of more than SCAN_MEMO_MAX_IDS atoms are
 * not kept. Internal to src/engine. */
#ifndef STOAT_ENGINE_SCAN_MEMO_H
#define STOAT_ENGINE_SCAN_MEMO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

/* Direct-mapped, 512 KB of slots. The realistic day's field scans found in
 * it: 1,024 slots 72%, 4,096 86%, 16,384 93% (1.05x faster than 4,096 by
 * turns, median of 7 rounds). What slots keep is held to
 * SCAN_MEMO_MAX_BYTES: past that a slot only takes bytes that fit its room. */
#define SCAN_MEMO_SLOTS     16384
#define SCAN_MEMO_MAX_LEN   1024
#define SCAN_MEMO_MAX_IDS   48
#define SCAN_MEMO_MAX_BYTES (4u << 20)

/* Half a cache line, the slots on 32-byte boundaries: a lookup reads one
 * line (at 40 bytes, half the slots spanned two). */
struct scan_memo_slot {
    const void *db; /* NULL: empty */
    uint32_t *data; /* the ids, then the bytes */
    uint32_t check; /* the hash's high half (its low bits chose the slot) */
    uint32_t len;
    uint16_t nids;
    uint16_t cap; /* bytes at data */
};

struct scan_memo {
    struct scan_memo_slot *slots; /* made on first use */
    size_t bytes;                 /* the slots' rooms */
};

/* The slot for db's scan of p[0..len): *held when it holds that scan's ids
 * (scan_memo_ids); NULL when such bytes are not kept. *hash is for
 * scan_memo_keep. */
struct scan_memo_slot *scan_memo_find(struct scan_memo *m, const void *db, const char *p, size_t len, uint64_t *hash,
                                      bool *held);

static inline const uint32_t *scan_memo_ids(const struct scan_memo_slot *s)
{
    return s->data;
}

/* Slot s of m now holds db's scan of p[0..len): nids ids (at most
 * SCAN_MEMO_MAX_IDS), in the order they were reported; or it keeps what it
 * held when its room would grow past m's SCAN_MEMO_MAX_BYTES. */
void scan_memo_keep(struct scan_memo *m, struct scan_memo_slot *s, const void *db, uint64_t hash, const char *p,
                    size_t len, const uint32_t *ids, uint32_t nids);

/* Looking up ahead: an event's field scans come one after another, and each
 * lookup waits on memory twice (its slot, then the slot's data), so the
 * engine hashes every value it will scan first and asks for the slots
 * (scan_memo_ask), then for the data of the slots that may hold them
 * (scan_memo_ask_data), and then scans with the hashes it has. */
uint64_t scan_memo_hash(const void *db, const char *p, size_t len);
void scan_memo_ask(const struct scan_memo *m, uint64_t hash);
void scan_memo_ask_data(const struct scan_memo *m, const void *db, uint64_t hash);

/* db's scan of p[0..len) with scratch hs, each report passed to on(ctx),
 * or the report replayed from the memo (*remembered) when it scanned the
 * same bytes before. False when Hyperscan failed. */
bool scan_memo_scan(struct scan_memo *m, const hs_database_t *db, hs_scratch_t *hs, const char *p, size_t len,
                    match_event_handler on, void *ctx, bool *remembered);
/* The same with the bytes' hash known (scan_memo_hash's, or any: a wrong
 * one costs a scan, never a wrong report, as the slot compares the bytes). */
bool scan_memo_scan_hashed(struct scan_memo *m, const hs_database_t *db, hs_scratch_t *hs, const char *p, size_t len,
                           uint64_t hash, match_event_handler on, void *ctx, bool *remembered);

void scan_memo_free(struct scan_memo *m);

#endif
