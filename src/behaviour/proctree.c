/* See proctree.h.
 *
 * Entries live in a ring indexed by their insertion number (seq), which is
 * also the eviction order: the oldest goes first. Two open-addressing maps
 * find them: (host, GUID) -> seq and (host, pid) -> seq of the newest process
 * with that pid; older processes with the same pid hang off it through
 * prev_pid. Maps delete exactly on eviction (backward-shift deletion), so
 * neither grows beyond the ring. Parents are found by key at walk time, not by
 * pointer, so evicting a parent never leaves a dangling link.
 *
 * The entries' strings are pooled: each distinct string is kept once, with
 * a count of the entries that name it, and goes with the last of them. A
 * day's process starts repeat a few hundred images, users and command lines
 * (and a child's parent GUID is its parent's GUID), so a table of tens of
 * MiB of strings as copies holds a few hundred KiB pooled: on the machines
 * stoat runs on, fresh memory is the dearest thing the table touches. The
 * byte bound still counts every entry's strings as its own, so the bound
 * evicts just as it would with copies, and the memory used stays below it. */
#include "behaviour/proctree.h"

#include <string.h>

#include "util/buf.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

/* An entry's strings, by their pool ids. */
enum {
    S_GUID,
    S_PARENT_GUID,
    S_IMAGE,
    S_COMMAND_LINE,
    S_USER,
    S_LOGON,
    S_COUNT
};

/* 72 bytes (it was 104): the ring is the table's largest memory, touched
 * fresh as it fills (two entries a start when the parents are not seen
 * starting), so a third less of it is a third fewer pages to zero. Strings
 * are 32-bit pool ids, not pointers; the byte count and whether the program
 * is a tree's top are read from the pooled strings. */
struct proc_entry {
    uint64_t seq; /* 0: free slot */
    int64_t pid, ppid, start_ns;
    uint32_t str[S_COUNT]; /* pool ids (0: not known) */
    uint32_t host;         /* host id */
    uint32_t guid_tag;     /* map tag of (host, guid): eviction needs no string */
    uint32_t parent_tag;   /* map tag of (host, parent_guid): walks up need no string */
    /* 1 + ring index of the previous process with this pid on the host (0:
     * none); what is there now is that process while its seq is below this
     * one's (a slot is only ever reused by a later seq) */
    uint32_t prev_pid;
};

/* What the byte bound counts for an entry besides its strings: the size it
 * had before it was made smaller, so that a bound evicts what it did. */
#define ENTRY_COUNTED 104

/* A pooled string: the entries naming it count it, and it goes with the
 * last. */
struct pstr {
    uint64_t hash;
    uint32_t refs;
    uint32_t len : 31;
    uint32_t top : 1; /* tree_top(s), worked out once for all the entries naming s */
    uint32_t id;      /* its index in by_id */
    /* s as JSON (pstr_json), rendered when an alert first shows it: the
     * processes of an attack's alerts repeat a few hundred strings, each
     * escaped once rather than for every alert. NULL: not yet, or not kept
     * (json_len JSON_NOT_KEPT). */
    uint32_t json_len;
    char *json;
    char s[];
};

/* The pool: open addressing by the strings' hashes, at most half full; and
 * the strings by id (ids of freed strings are given again). */
#define RECENT_BITS 10
struct pool {
    struct pstr **slot; /* NULL: empty */
    size_t cap, n;
    struct pstr **by_id; /* [0] is NULL */
    size_t ids, ids_cap;
    uint32_t *free_ids;
    size_t nfree, free_cap;
    /* Pooled strings by a cheap key of their bytes (recent_slot), NULL:
     * none. A start's image, command line, user and logon are mostly ones
     * the pool has: found here they cost a comparison instead of a hash
     * and a probe. Only a filter: a string is taken only when equal. */
    struct pstr *recent[1u << RECENT_BITS];
    bool no_recent;    /* the reference the tests compare with */
    size_t json_bytes; /* the kept JSON forms' (json_len + 1 each): the byte bound counts them */
};

/* A map slot: a 32-bit tag of the key's hash and the entry's ring index,
 * 8 bytes rather than a whole hash and seq. The maps are the table's most
 * touched memory (probed at random, rebuilt as they double), so half the
 * bytes is half the page faults and cache misses. The index is enough: a
 * map deletes exactly on eviction, so every index in it is a live entry's,
 * whose seq the ring has; the tag is only a filter before the match. */
struct slot {
    uint32_t tag; /* 0: empty */
    uint32_t idx;
};

struct map {
    struct slot *s;
    size_t cap, n; /* cap a power of two, at most 2^31 */
    size_t max;    /* what cap grows to: twice the ring's entries */
};

struct proctree {
    struct proc_entry *ring;
    size_t cap;        /* entries */
    uint64_t next_seq; /* seq of the next entry; seqs start at 1 */
    uint64_t oldest;   /* seq of the oldest live entry */
    size_t max_bytes, bytes, live;
    struct map by_guid, by_pid;
    struct strmap hosts;
    const char **host_names;
    size_t nhosts, hosts_cap;
    uint32_t last_host; /* the id host_id gave last (runs of one host's events are the rule) */
    struct proctree_stats st;
    struct pool strings;
};

/* ----------------------------------------------------------------- maps */

/* A map starts small and doubles, when three quarters full, up to its full
 * size: one sized for the whole ring from the start spreads a few hundred
 * processes over megabytes, a page fault for nearly every one; and one
 * doubled at half full is twice the memory for probes a slot shorter. */
#define MAP_FIRST 1024

static void map_init(struct map *m, size_t entries)
{
    size_t max = 16;
    while (max / 4 * 3 < entries)
        max *= 2;
    m->max = max;
    m->cap = max < MAP_FIRST ? max : MAP_FIRST;
    m->s = xcalloc_big(m->cap, sizeof(*m->s));
    m->n = 0;
}

static void map_grow(struct map *m)
{
    struct slot *old = m->s;
    size_t ocap = m->cap;
    m->cap *= 2;
    m->s = xcalloc_big(m->cap, sizeof(*m->s));
    size_t mask = m->cap - 1;
    for (size_t k = 0; k < ocap; k++) {
        if (!old[k].tag)
            continue;
        size_t i = old[k].tag & mask;
        while (m->s[i].tag)
            i = (i + 1) & mask;
        m->s[i] = old[k];
    }
    xfree_big(old, ocap, sizeof(*old));
}

/* The slot tag of a key hash: both halves folded, never 0 (an empty slot);
 * its low bits are the key's home slot. */
static uint32_t tag_of(uint64_t h)
{
    uint32_t t = (uint32_t)(h ^ (h >> 32));
    return t ? t : 1;
}

static void map_put(struct map *m, uint32_t tag, uint32_t idx)
{
    if ((m->n + 1) * 4 > m->cap * 3 && m->cap < m->max)
        map_grow(m);
    size_t mask = m->cap - 1;
    for (size_t i = tag & mask;; i = (i + 1) & mask) {
        if (!m->s[i].tag) {
            m->s[i] = (struct slot){tag, idx};
            m->n++;
            return;
        }
        if (m->s[i].tag == tag && m->s[i].idx == idx)
            return;
    }
}

/* Starts the load of h's first slot: a process start looks up several
 * unrelated keys, whose cache misses then overlap instead of queueing. */
static void map_prefetch(const struct map *m, uint32_t tag)
{
    __builtin_prefetch(&m->s[tag & (m->cap - 1)]);
}

/* Calls match(idx) on candidates until it gives a seq (the entry's, when it
 * is the one sought; 0 otherwise); returns that seq or 0. */
static uint64_t map_find(const struct map *m, uint32_t tag, uint64_t (*match)(const void *, uint32_t), const void *ctx)
{
    size_t mask = m->cap - 1;
    for (size_t i = tag & mask; m->s[i].tag; i = (i + 1) & mask) {
        if (m->s[i].tag != tag)
            continue;
        uint64_t seq = match(ctx, m->s[i].idx);
        if (seq)
            return seq;
    }
    return 0;
}

static void map_del(struct map *m, uint32_t tag, uint32_t idx)
{
    size_t mask = m->cap - 1, i = tag & mask;
    for (; m->s[i].tag; i = (i + 1) & mask)
        if (m->s[i].tag == tag && m->s[i].idx == idx)
            break;
    if (!m->s[i].tag)
        return;
    /* backward-shift: pull later entries of the cluster into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; m->s[j].tag; j = (j + 1) & mask) {
        size_t home = m->s[j].tag & mask;
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            m->s[hole] = m->s[j];
            hole = j;
        }
    }
    m->s[hole].tag = 0;
    m->n--;
}

struct proctree *proctree_create(size_t max_entries, size_t max_bytes)
{
    struct proctree *t = xcalloc(1, sizeof(*t));
    t->cap = max_entries ? max_entries : 200000;
    if (t->cap > ((size_t)1 << 30))
        t->cap = (size_t)1 << 30; /* ring indexes fit a map slot's 32 bits, and the maps' tags their homes */
    t->max_bytes = max_bytes ? max_bytes : (64u << 20);
    t->ring = xcalloc_big(t->cap, sizeof(*t->ring));
    t->next_seq = 1;
    t->oldest = 1;
    map_init(&t->by_guid, t->cap);
    map_init(&t->by_pid, t->cap);
    strmap_init(&t->hosts);
    return t;
}

/* ---------------------------------------------------------------- pool */

/* The session manager, services and init are the roots of everything: a
 * tree for our purpose stops below a process of theirs (proctree_root_key).
 * Known when a string is pooled, not on every walk up. */
static bool tree_top(const char *image)
{
    static const struct {
        const char *name;
        size_t len;
    } tops[] = {{"services.exe", 12}, {"wininit.exe", 11},  {"smss.exe", 8}, {"systemd", 7},     {"init", 4},
                {"winlogon.exe", 12}, {"explorer.exe", 12}, {"sshd", 4},     {"svchost.exe", 11}};
    if (!image)
        return false;
    const char *base = strrchr(image, '\\');
    if (!base)
        base = strrchr(image, '/');
    base = base ? base + 1 : image;
    size_t n = strlen(base);
    for (size_t i = 0; i < sizeof(tops) / sizeof(tops[0]); i++)
        if (n == tops[i].len && ascii_eq_nocase(base, tops[i].name, n))
            return true;
    return false;
}

#define POOL_FIRST 256
#define POOL_SEED  0x5eed

static void pool_grow(struct pool *p)
{
    struct pstr **old = p->slot;
    size_t ocap = p->cap;
    p->cap = ocap ? ocap * 2 : POOL_FIRST;
    p->slot = xcalloc(p->cap, sizeof(*p->slot));
    size_t mask = p->cap - 1;
    for (size_t k = 0; k < ocap; k++) {
        if (!old[k])
            continue;
        size_t i = old[k]->hash & mask;
        while (p->slot[i])
            i = (i + 1) & mask;
        p->slot[i] = old[k];
    }
    free(old);
}

static uint64_t str_hash(const char *s, size_t len)
{
    return hash_bytes(s, len, POOL_SEED);
}

static uint32_t new_id(struct pool *p, struct pstr *x)
{
    uint32_t id;
    if (p->nfree) {
        id = p->free_ids[--p->nfree];
    } else {
        if (!p->ids)
            p->ids = 1; /* 0 is no string */
        XGROW(p->by_id, p->ids_cap, p->ids + 1);
        id = (uint32_t)p->ids++;
    }
    p->by_id[id] = x;
    return id;
}

/* The id of the pooled copy of s[0..len), counted once more; 0 for NULL.
 * h: str_hash(s, len). */
static uint32_t pool_get(struct pool *p, const char *s, size_t len, uint64_t h)
{
    if (!s)
        return 0;
    if ((p->n + 1) * 2 > p->cap)
        pool_grow(p);
    size_t mask = p->cap - 1, i = h & mask;
    for (; p->slot[i]; i = (i + 1) & mask) {
        struct pstr *x = p->slot[i];
        if (x->hash == h && x->len == len && memcmp(x->s, s, len) == 0) {
            x->refs++;
            return x->id;
        }
    }
    struct pstr *x = xmalloc(sizeof(*x) + len + 1);
    x->hash = h;
    x->refs = 1;
    x->len = (uint32_t)len & 0x7fffffff;
    memcpy(x->s, s, len);
    x->s[len] = 0;
    x->top = tree_top(x->s);
    x->json_len = 0;
    x->json = NULL;
    x->id = new_id(p, x);
    p->slot[i] = x;
    p->n++;
    return x->id;
}

/* Where s[0..n) would sit in pool.recent. */
static size_t recent_slot(const char *s, size_t n)
{
    return recent_key(s, n, RECENT_BITS);
}

/* pool_get for a string that is often one the pool has. */
static uint32_t pool_get_recent(struct pool *p, const char *s, size_t len)
{
    if (p->no_recent)
        return pool_get(p, s, len, str_hash(s, len));
    struct pstr **r = &p->recent[recent_slot(s, len)], *x = *r;
    if (x && x->len == len && memcmp(x->s, s, len) == 0) {
        x->refs++;
        return x->id;
    }
    uint32_t id = pool_get(p, s, len, str_hash(s, len));
    *r = p->by_id[id];
    return id;
}

/* Counts the string of id (0: none) once less: the last count frees it. */
static void pool_put(struct pool *p, uint32_t id)
{
    if (!id)
        return;
    struct pstr *x = p->by_id[id];
    if (--x->refs)
        return;
    size_t mask = p->cap - 1, i = x->hash & mask;
    while (p->slot[i] != x)
        i = (i + 1) & mask;
    /* backward-shift: pull later strings of the cluster into the hole */
    size_t hole = i;
    for (size_t j = (i + 1) & mask; p->slot[j]; j = (j + 1) & mask) {
        size_t home = p->slot[j]->hash & mask;
        bool movable = hole <= j ? (home <= hole || home > j) : (home <= hole && home > j);
        if (movable) {
            p->slot[hole] = p->slot[j];
            hole = j;
        }
    }
    p->slot[hole] = NULL;
    p->n--;
    p->by_id[id] = NULL;
    struct pstr **r = &p->recent[recent_slot(x->s, x->len)];
    if (*r == x)
        *r = NULL;
    XGROW(p->free_ids, p->free_cap, p->nfree + 1);
    p->free_ids[p->nfree++] = id;
    if (x->json)
        p->json_bytes -= (size_t)x->json_len + 1;
    free(x->json);
    free(x);
}

static void pool_free(struct pool *p)
{
    for (size_t i = 0; i < p->cap; i++)
        if (p->slot[i]) {
            free(p->slot[i]->json);
            free(p->slot[i]);
        }
    free(p->slot);
    free(p->by_id);
    free(p->free_ids);
}

/* ---------------------------------------------------------------- table */

/* What the byte bound holds the table to: its entries as if their strings
 * were copies, and the JSON forms kept (once a pooled string). */
static size_t table_bytes(const struct proctree *t)
{
    return t->bytes + t->strings.json_bytes;
}

static const struct pstr *pstr_at(const struct proctree *t, uint32_t id)
{
    return id ? t->strings.by_id[id] : NULL;
}

/* The entry's string k (S_GUID...), NULL when not known. */
static const char *str(const struct proctree *t, const struct proc_entry *e, int k)
{
    return e->str[k] ? t->strings.by_id[e->str[k]]->s : NULL;
}

/* What the byte bound counts for e: as if its strings were its own, so
 * that the bound evicts whatever the sharing, and what it allows is an
 * upper bound. */
static size_t entry_bytes(const struct proctree *t, const struct proc_entry *e)
{
    size_t n = ENTRY_COUNTED;
    for (int k = 0; k < S_COUNT; k++)
        if (e->str[k])
            n += t->strings.by_id[e->str[k]]->len + 1;
    return n;
}

static void put_strings(struct proctree *t, struct proc_entry *e)
{
    for (int k = 0; k < S_COUNT; k++)
        pool_put(&t->strings, e->str[k]);
}

static void free_entry(struct proctree *t, struct proc_entry *e)
{
    put_strings(t, e);
    memset(e, 0, sizeof(*e));
}

void proctree_destroy(struct proctree *t)
{
    if (!t)
        return;
    /* the pool has every entry's strings: the ring need not be read */
    pool_free(&t->strings);
    xfree_big(t->ring, t->cap, sizeof(*t->ring));
    xfree_big(t->by_guid.s, t->by_guid.cap, sizeof(struct slot));
    xfree_big(t->by_pid.s, t->by_pid.cap, sizeof(struct slot));
    strmap_free(&t->hosts);
    free(t->host_names);
    free(t);
}

static uint32_t host_id(struct proctree *t, const char *host)
{
    if (!host)
        host = "";
    if (t->nhosts && strcmp(host, t->host_names[t->last_host]) == 0)
        return t->last_host;
    bool added;
    const struct strmap_slot *s = strmap_upsert(&t->hosts, host, strlen(host), (uint32_t)t->nhosts, &added);
    if (added) {
        XGROW(t->host_names, t->hosts_cap, t->nhosts + 1);
        t->host_names[t->nhosts++] = s->key;
    }
    return t->last_host = s->value;
}

static bool host_known(const struct proctree *t, const char *host, uint32_t *id)
{
    if (!host)
        host = "";
    if (t->nhosts && strcmp(host, t->host_names[t->last_host]) == 0) {
        *id = t->last_host;
        return true;
    }
    return strmap_get(&t->hosts, host, strlen(host), id);
}

/* The map tag of a GUID on a host, from the GUID's str_hash: the hash that
 * pools the string finds it in the map too. */
static uint32_t host_tag(uint32_t host, uint64_t h)
{
    return tag_of(hash_mix(h ^ (0x9dULL + host) * 0x9E3779B97F4A7C15ULL));
}

static uint32_t guid_tag(uint32_t host, const char *guid)
{
    return host_tag(host, str_hash(guid, strlen(guid)));
}

static uint32_t pid_tag(uint32_t host, int64_t pid)
{
    return tag_of(hash_mix(((uint64_t)host << 40) ^ (uint64_t)pid ^ 0x51d7));
}

/* The ring index of seq, which the maps keep. */
static uint32_t idx_of(const struct proctree *t, uint64_t seq)
{
    return (uint32_t)(seq % t->cap);
}

static struct proc_entry *at(const struct proctree *t, uint64_t seq)
{
    if (!seq)
        return NULL;
    struct proc_entry *e = &t->ring[seq % t->cap];
    return e->seq == seq ? e : NULL;
}

static void evict_oldest(struct proctree *t)
{
    while (t->oldest < t->next_seq && !at(t, t->oldest))
        t->oldest++;
    struct proc_entry *e = at(t, t->oldest);
    if (!e)
        return;
    if (e->str[S_GUID])
        map_del(&t->by_guid, e->guid_tag, idx_of(t, e->seq));
    if (e->pid >= 0)
        map_del(&t->by_pid, pid_tag(e->host, e->pid), idx_of(t, e->seq));
    t->bytes -= entry_bytes(t, e);
    t->live--;
    t->st.evicted++;
    free_entry(t, e);
    t->oldest++;
}

/* An absurd command line is kept in part. */
#define PROC_STRING_MAX 65536

static size_t opt_len(const char *s)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, PROC_STRING_MAX);
    return n + 1;
}

struct guid_q {
    const struct proctree *t;
    uint32_t host;
    const char *guid;
};

static uint64_t guid_match(const void *ctx, uint32_t idx)
{
    const struct guid_q *q = ctx;
    const struct proc_entry *e = &q->t->ring[idx];
    const char *guid = str(q->t, e, S_GUID);
    return e->host == q->host && guid && strcmp(guid, q->guid) == 0 ? e->seq : 0;
}

struct pid_q {
    const struct proctree *t;
    uint32_t host;
    int64_t pid;
};

static uint64_t pid_match(const void *ctx, uint32_t idx)
{
    const struct pid_q *q = ctx;
    const struct proc_entry *e = &q->t->ring[idx];
    return e->host == q->host && e->pid == q->pid ? e->seq : 0;
}

static uint64_t find_guid_t(const struct proctree *t, uint32_t host, const char *guid, uint32_t tag)
{
    struct guid_q q = {t, host, guid};
    return map_find(&t->by_guid, tag, guid_match, &q);
}

static uint64_t find_guid(const struct proctree *t, uint32_t host, const char *guid)
{
    return find_guid_t(t, host, guid, guid_tag(host, guid));
}

/* The previous process with e's pid on its host, while the table has it. */
static const struct proc_entry *prev_of_pid(const struct proctree *t, const struct proc_entry *e)
{
    if (!e->prev_pid)
        return NULL;
    const struct proc_entry *p = &t->ring[e->prev_pid - 1];
    return p->seq && p->seq < e->seq ? p : NULL;
}

/* Newest process with pid started at or before time_ns (unknown times match). */
static const struct proc_entry *find_pid(const struct proctree *t, uint32_t host, int64_t pid, int64_t time_ns)
{
    struct pid_q q = {t, host, pid};
    const struct proc_entry *e = at(t, map_find(&t->by_pid, pid_tag(host, pid), pid_match, &q));
    for (int hops = 0; e && hops < 64; hops++) {
        if (e->host != host || e->pid != pid)
            return NULL;
        if (time_ns == INT64_MIN || e->start_ns == INT64_MIN || e->start_ns <= time_ns)
            return e;
        e = prev_of_pid(t, e);
    }
    return NULL;
}

/* Sets e's strings (guid, parent guid, image, command line, user, logon: any
 * may be NULL), replacing any it had; the sources may be e's old strings.
 * guid_h: the str_hash of the whole src[0] and src[1] (0: work it out).
 * Gives entry_bytes of e after (the table's count is the caller's). */
static size_t set_strings(struct proctree *t, struct proc_entry *e, const char *const src[S_COUNT],
                          const uint64_t guid_h[2])
{
    uint32_t s[S_COUNT];
    size_t bytes = ENTRY_COUNTED;
    for (int k = 0; k < S_COUNT; k++) {
        if (!src[k]) {
            s[k] = 0;
            continue;
        }
        size_t len = opt_len(src[k]), n = len - 1;
        bytes += len;
        if (k >= S_IMAGE) { /* GUIDs come with their hashes, and are new */
            s[k] = pool_get_recent(&t->strings, src[k], n);
            continue;
        }
        uint64_t h = guid_h[k] && len <= PROC_STRING_MAX ? guid_h[k] : str_hash(src[k], n);
        s[k] = pool_get(&t->strings, src[k], n, h);
    }
    put_strings(t, e); /* after the gets: a source may be one of them */
    memcpy(e->str, s, sizeof(s));
    /* the hash of the copy kept: a GUID cut short is looked up as cut */
    e->parent_tag = s[S_PARENT_GUID] ? host_tag(e->host, pstr_at(t, s[S_PARENT_GUID])->hash) : 0;
    return bytes;
}

/* self_h, parent_h: str_hash of guid, parent_guid when set */
static struct proc_entry *insert(struct proctree *t, uint32_t host, const char *guid, uint64_t self_h,
                                 const char *parent_guid, uint64_t parent_h, int64_t pid, int64_t ppid, int64_t start,
                                 const char *image, const char *cmd, const char *user, const char *logon)
{
    if (t->live == t->cap)
        evict_oldest(t);
    uint64_t seq = t->next_seq++;
    struct proc_entry *e = &t->ring[seq % t->cap];
    if (e->seq)
        evict_oldest(t); /* the ring slot is the oldest's: make room */
    e->seq = seq;
    e->host = host;
    e->pid = pid;
    e->ppid = ppid;
    e->start_ns = start;
    t->bytes += set_strings(t, e, (const char *const[S_COUNT]){guid, parent_guid, image, cmd, user, logon},
                            (const uint64_t[2]){self_h, parent_h});
    t->live++;
    e->guid_tag = e->str[S_GUID] ? host_tag(host, self_h) : 0;
    if (e->str[S_GUID])
        map_put(&t->by_guid, e->guid_tag, idx_of(t, seq));
    if (pid >= 0) {
        struct pid_q q = {t, host, pid};
        uint32_t tag = pid_tag(host, pid);
        uint64_t prev = map_find(&t->by_pid, tag, pid_match, &q);
        if (prev)
            map_del(&t->by_pid, tag, idx_of(t, prev));
        e->prev_pid = prev ? idx_of(t, prev) + 1 : 0;
        map_put(&t->by_pid, tag, idx_of(t, seq));
    }
    while (table_bytes(t) > t->max_bytes && t->live > 1 && t->oldest != seq)
        evict_oldest(t);
    return e;
}

/* auditd's and Sysmon for Linux's "no login session" (auid/ses -1), which
 * would otherwise join every daemon into one session. */
const char *proctree_real_logon(const char *logon)
{
    if (!logon)
        return NULL;
    /* by the first byte: asked for every event, and most ids are none of these */
    switch (logon[0]) {
    case 0: return NULL;
    case '4': return strcmp(logon, "4294967295") == 0 ? NULL : logon;
    case '-': return strcmp(logon, "-1") == 0 ? NULL : logon;
    case '0':
        return (logon[1] | 0x20) == 'x' && (logon[2] | 0x20) == 'f' && str_ieq(logon, "0xffffffff") ? NULL : logon;
    default: return logon;
    }
}

static bool differs(const char *a, const char *b)
{
    return a && (!b || strcmp(a, b) != 0);
}

/* A start for a process the table has: an exec (the sensor's exec keeps the
 * ProcessGuid of the process, forked or exec'd before) makes it the program
 * it became, which its alerts and its children's ancestry must show; the
 * same start seen twice (two logs of one host) changes nothing. */
static void became(struct proctree *t, struct proc_entry *e, const struct proc_start *p)
{
    if (!p->command_line ||
        (!differs(p->image, str(t, e, S_IMAGE)) && !differs(p->command_line, str(t, e, S_COMMAND_LINE))))
        return;
    const char *logon = proctree_real_logon(p->logon_id);
    t->bytes -= entry_bytes(t, e);
    t->bytes += set_strings(
        t, e,
        (const char *const[S_COUNT]){str(t, e, S_GUID), p->parent_guid ? p->parent_guid : str(t, e, S_PARENT_GUID),
                                     p->image ? p->image : str(t, e, S_IMAGE), p->command_line,
                                     p->user ? p->user : str(t, e, S_USER), logon ? logon : str(t, e, S_LOGON)},
        (const uint64_t[2]){0, 0});
    while (table_bytes(t) > t->max_bytes && t->live > 1 && t->oldest != e->seq)
        evict_oldest(t);
}

uint32_t proctree_host(struct proctree *t, const char *host)
{
    return host_id(t, host);
}

bool proctree_host_known(const struct proctree *t, const char *host, uint32_t *id)
{
    return host_known(t, host, id);
}

void proctree_start(struct proctree *t, const struct proc_start *p)
{
    proctree_start_on(t, host_id(t, p->host), p);
}

void proctree_start_on(struct proctree *t, uint32_t host, const struct proc_start *p)
{
    t->st.starts++;
    /* every key this start looks up, loaded at once (the tables are larger
     * than the caches), and the entry the insert will evict */
    uint64_t parent_h = p->parent_guid ? str_hash(p->parent_guid, strlen(p->parent_guid)) : 0;
    uint64_t self_h = p->guid ? str_hash(p->guid, strlen(p->guid)) : 0;
    uint32_t parent_tag = p->parent_guid ? host_tag(host, parent_h) : 0;
    uint32_t self_tag = p->guid ? host_tag(host, self_h) : 0;
    if (p->parent_guid)
        map_prefetch(&t->by_guid, parent_tag);
    else if (p->ppid >= 0)
        map_prefetch(&t->by_pid, pid_tag(host, p->ppid));
    if (p->guid)
        map_prefetch(&t->by_guid, self_tag);
    if (p->pid >= 0)
        map_prefetch(&t->by_pid, pid_tag(host, p->pid));
    if (t->live == t->cap || table_bytes(t) > t->max_bytes)
        __builtin_prefetch(&t->ring[t->oldest % t->cap]);
    /* the parent, when the child's event describes it and we have not seen
     * it start: a stub, so that the tree has its top */
    bool have_parent = false;
    if (p->parent_guid)
        have_parent = find_guid_t(t, host, p->parent_guid, parent_tag) != 0;
    else if (p->ppid >= 0)
        have_parent = find_pid(t, host, p->ppid, p->time_ns) != NULL;
    if (!have_parent && (p->parent_guid || p->ppid >= 0) && (p->parent_image || p->parent_command_line))
        insert(t, host, p->parent_guid, parent_h, NULL, 0, p->ppid, -1, INT64_MIN, p->parent_image,
               p->parent_command_line, p->parent_user, NULL);
    if (p->guid) {
        uint64_t old = find_guid_t(t, host, p->guid, self_tag);
        struct proc_entry *e = at(t, old);
        if (e && e->start_ns == INT64_MIN) {
            /* a stub made from a child's event: now we see it start */
            map_del(&t->by_guid, e->guid_tag, idx_of(t, e->seq));
            if (e->pid >= 0)
                map_del(&t->by_pid, pid_tag(host, e->pid), idx_of(t, e->seq));
            t->bytes -= entry_bytes(t, e);
            t->live--;
            free_entry(t, e);
        } else if (e) {
            became(t, e, p); /* an exec in a process we know, or the same start seen twice */
            return;
        }
    }
    /* a fork names no command line: it runs its parent's until it execs */
    char *copied[4] = {NULL, NULL, NULL, NULL};
    const struct proc_entry *par =
        !p->command_line && p->parent_guid ? at(t, find_guid_t(t, host, p->parent_guid, parent_tag)) : NULL;
    if (par && differs(p->image, str(t, par, S_IMAGE)))
        par = NULL; /* another program whose source does not say its command line */
    if (par) {
        const char *src[4] = {p->image ? NULL : str(t, par, S_IMAGE), str(t, par, S_COMMAND_LINE),
                              p->user ? NULL : str(t, par, S_USER), p->logon_id ? NULL : str(t, par, S_LOGON)};
        for (int k = 0; k < 4; k++)
            copied[k] = src[k] ? xstrdup(src[k]) : NULL; /* the insert may evict the parent */
    }
    insert(t, host, p->guid, self_h, p->parent_guid, parent_h, p->pid, p->ppid, p->time_ns,
           p->image ? p->image : copied[0], par ? copied[1] : p->command_line, p->user ? p->user : copied[2],
           proctree_real_logon(p->logon_id ? p->logon_id : copied[3]));
    for (int k = 0; k < 4; k++)
        free(copied[k]);
}

void proctree_end(struct proctree *t, const char *host, const char *guid, int64_t pid, int64_t time_ns)
{
    (void)host;
    (void)guid;
    (void)pid;
    (void)time_ns;
    /* Ended processes stay: their children's alerts still need them as
     * ancestors, and a later start with the same pid is a new entry anyway.
     * The count is for the statistics. */
    t->st.ends++;
}

const struct proc_entry *proctree_find(const struct proctree *t, const char *host, const char *guid, int64_t pid,
                                       int64_t time_ns)
{
    uint32_t h;
    if (!host_known(t, host, &h))
        return NULL;
    return proctree_find_on(t, h, guid, pid, time_ns);
}

const struct proc_entry *proctree_find_on(const struct proctree *t, uint32_t h, const char *guid, int64_t pid,
                                          int64_t time_ns)
{
    if (guid) {
        const struct proc_entry *e = at(t, find_guid(t, h, guid));
        if (e)
            return e;
    }
    if (pid >= 0)
        return find_pid(t, h, pid, time_ns);
    return NULL;
}

static const struct proc_entry *parent_of(const struct proctree *t, const struct proc_entry *e)
{
    const struct proc_entry *p = NULL;
    if (e->str[S_PARENT_GUID])
        p = at(t, find_guid_t(t, e->host, str(t, e, S_PARENT_GUID), e->parent_tag));
    if (!p && e->ppid >= 0)
        p = find_pid(t, e->host, e->ppid, e->start_ns);
    return p == e ? NULL : p;
}

/* An entry as the ancestry of an alert shows it. */
static inline struct stoat_process as_process(const struct proctree *t, const struct proc_entry *e)
{
    return (struct stoat_process){.image = str(t, e, S_IMAGE),
                                  .command_line = str(t, e, S_COMMAND_LINE),
                                  .user = str(t, e, S_USER),
                                  .guid = str(t, e, S_GUID),
                                  .pid = e->pid,
                                  .start_ns = e->start_ns};
}

/* A JSON form longer than this many times its string (controls escaped
 * as \u00XX) is not kept: the pool's memory stays near its strings'. */
#define JSON_KEEP_FACTOR 2
#define JSON_NOT_KEPT    UINT32_MAX

/* The pooled string of id (0: none) as JSON, rendered and kept on first
 * use; p NULL when none or not kept. A form that would take the table past
 * its byte bound is not kept now (the sinks render the string themselves):
 * evicting here would free the strings of the ancestry being filled. */
static struct stoat_json_text pstr_json(struct proctree *t, uint32_t id)
{
    struct pstr *x = id ? t->strings.by_id[id] : NULL;
    if (!x || x->json_len == JSON_NOT_KEPT)
        return (struct stoat_json_text){0};
    if (!x->json) {
        struct buf b = {0};
        buf_json_str(&b, x->s, x->len);
        if (b.len > (size_t)x->len * JSON_KEEP_FACTOR + 2) {
            buf_free(&b);
            x->json_len = JSON_NOT_KEPT;
            return (struct stoat_json_text){0};
        }
        if (table_bytes(t) + b.len + 1 > t->max_bytes) {
            buf_free(&b);
            return (struct stoat_json_text){0};
        }
        x->json = xrealloc(b.p, b.len + 1);
        x->json_len = (uint32_t)b.len;
        t->strings.json_bytes += b.len + 1;
    }
    return (struct stoat_json_text){x->json, x->json_len};
}

/* as_process with the strings' JSON forms, for an alert's sinks. */
static inline struct stoat_process as_shown(struct proctree *t, const struct proc_entry *e)
{
    struct stoat_process p = as_process(t, e);
    p.image_json = pstr_json(t, e->str[S_IMAGE]);
    p.command_line_json = pstr_json(t, e->str[S_COMMAND_LINE]);
    p.user_json = pstr_json(t, e->str[S_USER]);
    p.guid_json = pstr_json(t, e->str[S_GUID]);
    return p;
}

size_t proctree_ancestry(const struct proctree *t, const struct proc_entry *e, struct stoat_process *out, size_t max)
{
    size_t n = 0;
    const struct proc_entry *seen[PROCTREE_MAX_DEPTH];
    while (e && n < max && n < PROCTREE_MAX_DEPTH) {
        for (size_t i = 0; i < n; i++)
            if (seen[i] == e)
                return n; /* a loop in bad data */
        seen[n] = e;
        out[n++] = as_process(t, e);
        e = parent_of(t, e);
    }
    return n;
}

uint64_t proctree_root_key(const struct proctree *t, const struct proc_entry *e)
{
    const struct proc_entry *top = e;
    for (int d = 0; e && d < PROCTREE_MAX_DEPTH; d++) {
        top = e;
        const struct proc_entry *p = parent_of(t, e);
        if (!p || !p->str[S_IMAGE] || pstr_at(t, p->str[S_IMAGE])->top)
            break;
        e = p;
    }
    return top ? hash_mix(top->seq * 0x9E3779B97F4A7C15ULL + top->host) : 0;
}

size_t proctree_enrich(struct proctree *t, const struct proc_entry *e, struct stoat_process *out, size_t max,
                       uint64_t *tree, uint64_t *parent)
{
    /* chain[i]: the i-th of the ancestry, chain[n]: the parent of the last */
    const struct proc_entry *chain[PROCTREE_MAX_DEPTH + 1];
    size_t n = 0;
    const struct proc_entry *c = e;
    while (c && n < max && n < PROCTREE_MAX_DEPTH) {
        bool again = false;
        for (size_t i = 0; i < n && !again; i++)
            again = chain[i] == c;
        if (again)
            break; /* a loop in bad data */
        chain[n] = c;
        out[n++] = as_shown(t, c);
        c = parent_of(t, c);
    }
    chain[n] = c;
    /* proctree_root_key's walk, its parents taken from the chain while it
     * follows it */
    const struct proc_entry *top = e;
    c = e;
    for (int d = 0; c && d < PROCTREE_MAX_DEPTH; d++) {
        top = c;
        const struct proc_entry *p = (size_t)d < n && chain[d] == c ? chain[d + 1] : parent_of(t, c);
        if (!p || !p->str[S_IMAGE] || pstr_at(t, p->str[S_IMAGE])->top)
            break;
        c = p;
    }
    *tree = top ? hash_mix(top->seq * 0x9E3779B97F4A7C15ULL + top->host) : 0;
    *parent = e ? proctree_proc_key(n ? chain[1] : parent_of(t, e)) : 0;
    return n;
}

uint64_t proctree_proc_key(const struct proc_entry *e)
{
    /* seqs are unique in the run; the host keeps the key apart from the tree's */
    return e ? hash_mix(e->seq * 0xC2B2AE3D27D4EB4FULL + e->host + 1) : 0;
}

uint64_t proctree_parent_key(const struct proctree *t, const struct proc_entry *e)
{
    return e ? proctree_proc_key(parent_of(t, e)) : 0;
}

const char *proctree_logon(const struct proctree *t, const struct proc_entry *e)
{
    return e ? str(t, e, S_LOGON) : NULL;
}

void proctree_recent_strings(struct proctree *t, bool on)
{
    t->strings.no_recent = !on;
}

void proctree_get_stats(const struct proctree *t, struct proctree_stats *out)
{
    *out = t->st;
    out->entries = t->live;
    out->bytes = table_bytes(t);
}
