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
 * The entries' strings are carved from large chunks in turn rather than
 * malloc'd one by one: entries leave in about the order they came, so a
 * chunk empties as a whole and goes; and a chunk is backed by huge pages
 * where the kernel gives them, so tens of MiB of command lines cost a few
 * page faults, not thousands. */
#include "behaviour/proctree.h"

#include <string.h>

#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"

struct proc_entry {
    uint64_t seq;      /* 0: free slot */
    uint32_t host;     /* host id */
    uint64_t prev_pid; /* seq of the previous process with this pid on the host, 0 none */
    uint64_t guid_h;   /* guid_hash(host, guid): eviction needs no string */
    uint64_t parent_h; /* guid_hash(host, parent_guid): walks up need no string */
    bool tree_top;     /* its program is one a tree stops below (proctree_root_key) */
    int64_t pid, ppid, start_ns;
    char *guid, *parent_guid;
    char *image, *command_line, *user, *logon_id;
    char *strings;       /* the one allocation the strings above point into */
    struct chunk *chunk; /* the chunk strings is in; NULL: malloc'd on its own */
    size_t bytes;
};

#define CHUNK_BYTES ((size_t)8 << 20)
#define CHUNK_OWN   (CHUNK_BYTES / 16) /* strings this long get an allocation of their own */

struct chunk {
    size_t used; /* bytes handed out */
    size_t live; /* entries whose strings are here */
    char data[];
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
    struct chunk *cur; /* the chunk new strings go to */
};

/* ----------------------------------------------------------------- maps */

/* A map starts small and doubles up to its full size (at most half full
 * then too): one sized for the whole ring from the start spreads a few
 * hundred processes over megabytes, a page fault for nearly every one. */
#define MAP_FIRST 1024

static void map_init(struct map *m, size_t entries)
{
    size_t max = 16;
    while (max < entries * 2)
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

static void map_put(struct map *m, uint64_t h, uint32_t idx)
{
    if ((m->n + 1) * 2 > m->cap && m->cap < m->max)
        map_grow(m);
    uint32_t tag = tag_of(h);
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
static void map_prefetch(const struct map *m, uint64_t h)
{
    __builtin_prefetch(&m->s[tag_of(h) & (m->cap - 1)]);
}

/* Calls match(idx) on candidates until it gives a seq (the entry's, when it
 * is the one sought; 0 otherwise); returns that seq or 0. */
static uint64_t map_find(const struct map *m, uint64_t h, uint64_t (*match)(const void *, uint32_t), const void *ctx)
{
    uint32_t tag = tag_of(h);
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

static void map_del(struct map *m, uint64_t h, uint32_t idx)
{
    uint32_t tag = tag_of(h);
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

/* ---------------------------------------------------------------- table */

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

/* n bytes for e's strings. */
static char *strings_alloc(struct proctree *t, struct proc_entry *e, size_t n)
{
    n = (n + 7) & ~(size_t)7;
    if (n > CHUNK_OWN) {
        e->chunk = NULL;
        return xmalloc(n);
    }
    if (!t->cur || CHUNK_BYTES - sizeof(struct chunk) - t->cur->used < n) {
        if (t->cur && !t->cur->live)
            xfree_big(t->cur, 1, CHUNK_BYTES);
        t->cur = xcalloc_big(1, CHUNK_BYTES);
    }
    e->chunk = t->cur;
    t->cur->live++;
    char *p = t->cur->data + t->cur->used;
    t->cur->used += n;
    return p;
}

/* The strings of an entry, given back (the chunk goes with its last
 * entry's, unless it is the one being filled). */
static void strings_free(struct proctree *t, char *p, struct chunk *c)
{
    if (!c) {
        free(p);
        return;
    }
    if (--c->live == 0 && c != t->cur)
        xfree_big(c, 1, CHUNK_BYTES);
}

static void free_entry(struct proctree *t, struct proc_entry *e)
{
    if (e->strings)
        strings_free(t, e->strings, e->chunk);
    memset(e, 0, sizeof(*e));
}

void proctree_destroy(struct proctree *t)
{
    if (!t)
        return;
    /* only the slots ever handed out (seq % cap for seq from 1): the rest
     * of the ring was never touched, and reading it would fault in every
     * page of it (24 MB by default) just to find zeros */
    size_t used = t->next_seq < t->cap ? (size_t)t->next_seq : t->cap;
    for (size_t i = 0; i < used; i++)
        if (t->ring[i].seq)
            free_entry(t, &t->ring[i]);
    xfree_big(t->cur, 1, CHUNK_BYTES);
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
    size_t n = strlen(host);
    uint32_t id;
    if (strmap_get(&t->hosts, host, n, &id))
        return t->last_host = id;
    id = t->last_host = (uint32_t)t->nhosts;
    strmap_put(&t->hosts, host, n, id);
    XGROW(t->host_names, t->hosts_cap, t->nhosts + 1);
    t->host_names[t->nhosts++] = strmap_key(&t->hosts, host, n);
    return id;
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

static uint64_t guid_hash(uint32_t host, const char *guid)
{
    return hash_bytes(guid, strlen(guid), 0x9d + host);
}

static uint64_t pid_hash(uint32_t host, int64_t pid)
{
    return hash_mix(((uint64_t)host << 40) ^ (uint64_t)pid ^ 0x51d7);
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
    if (e->guid)
        map_del(&t->by_guid, e->guid_h, idx_of(t, e->seq));
    if (e->pid >= 0)
        map_del(&t->by_pid, pid_hash(e->host, e->pid), idx_of(t, e->seq));
    t->bytes -= e->bytes;
    t->live--;
    t->st.evicted++;
    free_entry(t, e);
    t->oldest++;
}

/* An entry's strings share one allocation: a process start costs one
 * malloc, not six. An absurd command line is kept in part. */
#define PROC_STRING_MAX 65536

static size_t opt_len(const char *s)
{
    if (!s)
        return 0;
    size_t n = strnlen(s, PROC_STRING_MAX);
    return n + 1;
}

static char *put_opt(char **at, const char *s, size_t len)
{
    if (!s)
        return NULL;
    char *r = *at;
    memcpy(r, s, len - 1);
    r[len - 1] = 0;
    *at += len;
    return r;
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
    return e->host == q->host && e->guid && strcmp(e->guid, q->guid) == 0 ? e->seq : 0;
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

static uint64_t find_guid_h(const struct proctree *t, uint32_t host, const char *guid, uint64_t h)
{
    struct guid_q q = {t, host, guid};
    return map_find(&t->by_guid, h, guid_match, &q);
}

static uint64_t find_guid(const struct proctree *t, uint32_t host, const char *guid)
{
    return find_guid_h(t, host, guid, guid_hash(host, guid));
}

/* Newest process with pid started at or before time_ns (unknown times match). */
static const struct proc_entry *find_pid(const struct proctree *t, uint32_t host, int64_t pid, int64_t time_ns)
{
    struct pid_q q = {t, host, pid};
    uint64_t seq = map_find(&t->by_pid, pid_hash(host, pid), pid_match, &q);
    for (int hops = 0; seq && hops < 64; hops++) {
        const struct proc_entry *e = at(t, seq);
        if (!e || e->host != host || e->pid != pid)
            return NULL;
        if (time_ns == INT64_MIN || e->start_ns == INT64_MIN || e->start_ns <= time_ns)
            return e;
        seq = e->prev_pid;
    }
    return NULL;
}

/* The session manager, services and init are the roots of everything: a
 * tree for our purpose stops below a process of theirs (proctree_root_key).
 * Known when the entry's program is set, not on every walk up. */
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

/* Sets e's strings (guid, parent guid, image, command line, user, logon: any
 * may be NULL) in one new allocation, replacing any it had; the sources may
 * point into e's old strings. parent_h: guid_hash of src[1] (0: work it out). */
static void set_strings(struct proctree *t, struct proc_entry *e, const char *const src[6], uint64_t parent_h)
{
    size_t len[6], total = 0;
    for (int k = 0; k < 6; k++)
        total += len[k] = opt_len(src[k]);
    char *old = e->strings;
    struct chunk *old_chunk = e->chunk;
    char *at = e->strings = total ? strings_alloc(t, e, total) : NULL;
    if (!total)
        e->chunk = NULL;
    e->guid = put_opt(&at, src[0], len[0]);
    e->parent_guid = put_opt(&at, src[1], len[1]);
    e->image = put_opt(&at, src[2], len[2]);
    e->command_line = put_opt(&at, src[3], len[3]);
    e->user = put_opt(&at, src[4], len[4]);
    e->logon_id = put_opt(&at, src[5], len[5]);
    /* the caller's hash of the parent GUID, unless the copy was cut short */
    e->parent_h = !e->parent_guid                         ? 0
                  : parent_h && len[1] <= PROC_STRING_MAX ? parent_h
                                                          : guid_hash(e->host, e->parent_guid);
    e->tree_top = tree_top(e->image);
    if (old)
        strings_free(t, old, old_chunk);
    t->bytes -= e->bytes;
    e->bytes = sizeof(*e) + total;
    t->bytes += e->bytes;
}

/* guid_h, parent_h: guid_hash(host, guid), (host, parent_guid) when set */
static struct proc_entry *insert(struct proctree *t, uint32_t host, const char *guid, uint64_t guid_h,
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
    set_strings(t, e, (const char *const[6]){guid, parent_guid, image, cmd, user, logon}, parent_h);
    t->live++;
    e->guid_h = e->guid ? guid_h : 0;
    if (e->guid)
        map_put(&t->by_guid, guid_h, idx_of(t, seq));
    if (pid >= 0) {
        struct pid_q q = {t, host, pid};
        uint64_t h = pid_hash(host, pid);
        uint64_t prev = map_find(&t->by_pid, h, pid_match, &q);
        if (prev)
            map_del(&t->by_pid, h, idx_of(t, prev));
        e->prev_pid = prev;
        map_put(&t->by_pid, h, idx_of(t, seq));
    }
    while (t->bytes > t->max_bytes && t->live > 1 && t->oldest != seq)
        evict_oldest(t);
    return e;
}

/* auditd's and Sysmon for Linux's "no login session" (auid/ses -1), which
 * would otherwise join every daemon into one session. */
const char *proctree_real_logon(const char *logon)
{
    if (!logon || !*logon || strcmp(logon, "4294967295") == 0 || strcmp(logon, "-1") == 0 ||
        str_ieq(logon, "0xffffffff"))
        return NULL;
    return logon;
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
    if (!p->command_line || (!differs(p->image, e->image) && !differs(p->command_line, e->command_line)))
        return;
    const char *logon = proctree_real_logon(p->logon_id);
    set_strings(t, e,
                (const char *const[6]){e->guid, p->parent_guid ? p->parent_guid : e->parent_guid,
                                       p->image ? p->image : e->image, p->command_line, p->user ? p->user : e->user,
                                       logon ? logon : e->logon_id},
                0);
    while (t->bytes > t->max_bytes && t->live > 1 && t->oldest != e->seq)
        evict_oldest(t);
}

void proctree_start(struct proctree *t, const struct proc_start *p)
{
    uint32_t host = host_id(t, p->host);
    t->st.starts++;
    /* every key this start looks up, loaded at once (the tables are larger
     * than the caches), and the entry the insert will evict */
    uint64_t parent_h = p->parent_guid ? guid_hash(host, p->parent_guid) : 0;
    uint64_t self_h = p->guid ? guid_hash(host, p->guid) : 0;
    if (p->parent_guid)
        map_prefetch(&t->by_guid, parent_h);
    else if (p->ppid >= 0)
        map_prefetch(&t->by_pid, pid_hash(host, p->ppid));
    if (p->guid)
        map_prefetch(&t->by_guid, self_h);
    if (p->pid >= 0)
        map_prefetch(&t->by_pid, pid_hash(host, p->pid));
    if (t->live == t->cap || t->bytes > t->max_bytes)
        __builtin_prefetch(&t->ring[t->oldest % t->cap]);
    /* the parent, when the child's event describes it and we have not seen
     * it start: a stub, so that the tree has its top */
    bool have_parent = false;
    if (p->parent_guid)
        have_parent = find_guid_h(t, host, p->parent_guid, parent_h) != 0;
    else if (p->ppid >= 0)
        have_parent = find_pid(t, host, p->ppid, p->time_ns) != NULL;
    if (!have_parent && (p->parent_guid || p->ppid >= 0) && (p->parent_image || p->parent_command_line))
        insert(t, host, p->parent_guid, parent_h, NULL, 0, p->ppid, -1, INT64_MIN, p->parent_image,
               p->parent_command_line, p->parent_user, NULL);
    if (p->guid) {
        uint64_t old = find_guid_h(t, host, p->guid, self_h);
        struct proc_entry *e = at(t, old);
        if (e && e->start_ns == INT64_MIN) {
            /* a stub made from a child's event: now we see it start */
            map_del(&t->by_guid, e->guid_h, idx_of(t, e->seq));
            if (e->pid >= 0)
                map_del(&t->by_pid, pid_hash(host, e->pid), idx_of(t, e->seq));
            t->bytes -= e->bytes;
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
        !p->command_line && p->parent_guid ? at(t, find_guid_h(t, host, p->parent_guid, parent_h)) : NULL;
    if (par && differs(p->image, par->image))
        par = NULL; /* another program whose source does not say its command line */
    if (par) {
        const char *src[4] = {p->image ? NULL : par->image, par->command_line, p->user ? NULL : par->user,
                              p->logon_id ? NULL : par->logon_id};
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
    if (e->parent_guid)
        p = at(t, find_guid_h(t, e->host, e->parent_guid, e->parent_h));
    if (!p && e->ppid >= 0)
        p = find_pid(t, e->host, e->ppid, e->start_ns);
    return p == e ? NULL : p;
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
        out[n++] = (struct stoat_process){.image = e->image,
                                          .command_line = e->command_line,
                                          .user = e->user,
                                          .guid = e->guid,
                                          .pid = e->pid,
                                          .start_ns = e->start_ns};
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
        if (!p || !p->image || p->tree_top)
            break;
        e = p;
    }
    return top ? hash_mix(top->seq * 0x9E3779B97F4A7C15ULL + top->host) : 0;
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

const char *proctree_logon(const struct proc_entry *e)
{
    return e ? e->logon_id : NULL;
}

void proctree_get_stats(const struct proctree *t, struct proctree_stats *out)
{
    *out = t->st;
    out->entries = t->live;
    out->bytes = t->bytes;
}
