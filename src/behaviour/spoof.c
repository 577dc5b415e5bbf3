/* See spoof.h. Sessions are compared by logon id (Security writes
 * 0x00000000000003e7, Sysmon 0x3e7: both parse to one number), never by
 * account name, which Windows translates ("AUTORITE NT\Système"); only the
 * ParentUser fallback reads names, and only to tell whether parent and child
 * are of the same domain. Every field is outside input: numbers that do not
 * parse are unknown, and unknown never raises anything. The generated rules
 * take only events that name a logon id: a start without one tells nothing
 * of sessions, and the id's "0x" is the literal the prefilter gates them on.
 * Sysmon's process ends (5) name none and are not taken: a Sysmon parent is
 * checked by its program and its age instead. */
#include "behaviour/spoof.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "behaviour/facts.h"
#include "event/event.h"
#include "util/mem.h"
#include "util/text.h"

#define WAYS       4
#define MERGE_NS   (5 * 1000000000LL) /* one process's Sysmon 1 and 4688 are this close */
#define SYSTEM_ID  0x3e7ull
#define BUILTIN_LT 0x3e8ull /* logon ids below are the built-in sessions (SYSTEM, services, anonymous) */
/* A parent's start older than this is not trusted: without its end in the
 * logs (4689 is often not audited) the pid may have been reused since, by a
 * process whose start the logs do not have (before a reboot, out of a
 * sample). Spoofing towards a core SYSTEM process is still known by name,
 * and a token from elsewhere by 4688's Target. */
#define PARENT_AGE_NS (24 * 3600 * 1000000000LL)

/* What one process runs as. The flags share seq's word: 64 bytes a
 * record, so the full table (65,536 of them) is 4 MiB, two huge pages,
 * where 72 bytes took a third one, touched as the table fills. */
struct rec {
    uint64_t key;      /* 0: free */
    uint64_t seq : 60; /* insertion order: the oldest of a full set goes (2^60 starts: never reached) */
    /* system: runs as SYSTEM (session 0x3e7, or SYSTEM's account in another session: a duplicated token) */
    uint64_t system : 1, ended : 1, session_sure : 1, raised : 1;
    int64_t start_ns, end_ns;
    uint64_t creator; /* the caller's session (4688 Subject), 0: unknown */
    uint64_t session; /* its own session, 0: unknown */
    uint64_t image;   /* its program's file name, hashed in lower case (0: unknown) */
    uint64_t guid;    /* Sysmon's ProcessGuid, hashed (0: unknown): who the pid is, exactly */
};
_Static_assert(sizeof(struct rec) == 64, "a record is a cache line; the full table two huge pages");

/* The table starts small and doubles when a set is full, up to its full
 * size: only then is the oldest of a full set forgotten, so what is kept is
 * what a table of the full size from the start would keep, without
 * spreading a few hundred processes over megabytes (a page fault for
 * nearly every one). It doubles in place, in memory for the full size
 * mapped at the start and touched as the sets come into use: a table
 * allocated anew at each doubling cost five times the fresh memory. */
struct spoof {
    struct rec *recs; /* max_sets * WAYS, of which nsets * WAYS in use */
    /* recs' keys' tags (key_tag; 0: free), 16 bytes a set (256 KiB for
     * the full table): a lookup reads one line of them, then only the
     * record whose tag is the key's, where the records' keys were four
     * lines to read; and the doublings read the tags, not every record.
     * The records' keys were half the serial stage's last-level cache
     * misses on the realistic corpus. */
    uint32_t *tags;
    size_t nsets;    /* a power of two */
    size_t max_sets; /* what nsets grows to */
    uint64_t seq;
};

#define FIRST_SETS 256

static const char *const parent_tags[] = {"attack.defense-evasion", "attack.privilege-escalation", "attack.t1134.004"};
static const char *const parent_ids[] = {"T1134.004"};
static const char *const token_tags[] = {"attack.defense-evasion", "attack.privilege-escalation", "attack.t1134.004",
                                         "attack.t1134.002"};
static const char *const token_ids[] = {"T1134.004", "T1134.002"};
static const char *const system_tags[] = {"attack.defense-evasion", "attack.privilege-escalation", "attack.t1134.002"};
static const char *const system_ids[] = {"T1134.002"};
static const char *const tactics[] = {"defense-evasion", "privilege-escalation"};

#define META(ID, TITLE, DESC, TAGS, IDS)                                                                \
    {                                                                                                   \
        .kind = STOAT_RULE_DETECTION, .id = ID, .title = TITLE, .description = DESC, .author = "stoat", \
        .level = STOAT_LEVEL_HIGH, .status = STOAT_STATUS_EXPERIMENTAL, .product = "windows",           \
        .category = "process_creation", .tags = {TAGS, sizeof(TAGS) / sizeof(TAGS[0])},                 \
        .attack_ids = {IDS, sizeof(IDS) / sizeof(IDS[0])}, .attack_tactics = {                          \
            tactics,                                                                                    \
            2                                                                                           \
        }                                                                                               \
    }

static const struct stoat_rule_meta meta_parent =
    META(SPOOF_ID_PARENT, "Parent Process Spoofed: Creator Runs In Another Session Than The Stated Parent",
         "Security 4688 names as creator (Subject) an ordinary logon session, and the process it names as parent "
         "runs in another session (SYSTEM or another logon): the caller set the parent with "
         "PROC_THREAD_ATTRIBUTE_PARENT_PROCESS (generated by stoat)",
         parent_tags, parent_ids);
static const struct stoat_rule_meta meta_token =
    META(SPOOF_ID_TOKEN, "Process Started With A Token Not Its Creator's",
         "The creator of a process (Security 4688 Subject) runs in an ordinary logon session and the process in "
         "another (4688 Target, or its Sysmon 1): the token came from a spoofed parent or another process "
         "(generated by stoat)",
         token_tags, token_ids);
static const struct stoat_rule_meta meta_system =
    META(SPOOF_ID_SYSTEM, "SYSTEM Process Under A Process Of An Ordinary Session",
         "A process runs as SYSTEM while the process named as its parent runs in an ordinary logon session, "
         "which has no SYSTEM token of its own to give: a stolen or duplicated token (generated by stoat)",
         system_tags, system_ids);

struct spoof *spoof_create(size_t max_procs)
{
    struct spoof *s = xcalloc(1, sizeof(*s));
    size_t want = (max_procs ? max_procs : 65536) / WAYS;
    s->max_sets = 1;
    while (s->max_sets < want && s->max_sets < ((size_t)1 << 24))
        s->max_sets <<= 1;
    s->nsets = s->max_sets < FIRST_SETS ? s->max_sets : FIRST_SETS;
    s->recs = xcalloc_big(s->max_sets * WAYS, sizeof(*s->recs));
    s->tags = xcalloc_big(s->max_sets * WAYS, sizeof(*s->tags));
    return s;
}

void spoof_destroy(struct spoof *s)
{
    if (!s)
        return;
    xfree_big(s->recs, s->max_sets * WAYS, sizeof(*s->recs));
    xfree_big(s->tags, s->max_sets * WAYS, sizeof(*s->tags));
    free(s);
}

static int hex_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* "0x3e7" (hex) or "4688" (decimal), the n bytes at v up to a NUL among
 * them; false when it is neither or too long. */
static bool parse_num(const char *v, size_t n, uint64_t *out)
{
    if (!v)
        return false;
    const char *end = v + n;
    uint64_t x = 0;
    size_t digits = 0;
    if (n >= 2 && v[0] == '0' && (v[1] == 'x' || v[1] == 'X')) {
        for (v += 2; v < end && *v; v++, digits++) {
            int d = hex_value(*v);
            if (d < 0 || digits >= 16)
                return false;
            x = x << 4 | (uint64_t)d;
        }
    } else {
        for (; v < end && *v; v++, digits++) {
            if (*v < '0' || *v > '9' || digits >= 19)
                return false;
            x = x * 10 + (uint64_t)(*v - '0');
        }
    }
    *out = x;
    return digits > 0;
}

/* The fields spoof_facts_of reads. */
enum spoof_field {
    F_PROCESS_ID,
    F_PARENT_PROCESS_ID,
    F_IMAGE,
    F_PARENT_IMAGE,
    F_PROCESS_GUID,
    F_PARENT_PROCESS_GUID,
    F_LOGON_ID,
    F_USER,
    F_PARENT_USER,
    F_NEW_PROCESS_ID,
    F_NEW_PROCESS_NAME,
    F_PARENT_PROCESS_NAME,
    F_SUBJECT_LOGON_ID,
    F_TARGET_LOGON_ID,
    F_TARGET_USER_SID,
    F_COUNT
};
static const char *const field_names[F_COUNT] = {
    "ProcessId",         "ParentProcessId",   "Image",          "ParentImage",   "ProcessGuid",
    "ParentProcessGuid", "LogonId",           "User",           "ParentUser",    "NewProcessId",
    "NewProcessName",    "ParentProcessName", "SubjectLogonId", "TargetLogonId", "TargetUserSid"};
/* field_names in lower case (is_name). */
static const char *const lower_names[F_COUNT] = {
    "processid",         "parentprocessid",   "image",          "parentimage",   "processguid",
    "parentprocessguid", "logonid",           "user",           "parentuser",    "newprocessid",
    "newprocessname",    "parentprocessname", "subjectlogonid", "targetlogonid", "targetusersid"};
/* The names of each length (up to 17), as 1 + their enum spoof_field, 0
 * after the last: a field's length picks the one or two names it may be. */
#define NAME_LEN_MAX 17
static const uint8_t names_of_len[NAME_LEN_MAX + 1][3] = {
    [4] = {1 + F_USER},
    [5] = {1 + F_IMAGE},
    [7] = {1 + F_LOGON_ID},
    [9] = {1 + F_PROCESS_ID},
    [10] = {1 + F_PARENT_USER},
    [11] = {1 + F_PARENT_IMAGE, 1 + F_PROCESS_GUID},
    [12] = {1 + F_NEW_PROCESS_ID},
    [13] = {1 + F_TARGET_LOGON_ID, 1 + F_TARGET_USER_SID},
    [14] = {1 + F_NEW_PROCESS_NAME, 1 + F_SUBJECT_LOGON_ID},
    [15] = {1 + F_PARENT_PROCESS_ID},
    [17] = {1 + F_PARENT_PROCESS_GUID, 1 + F_PARENT_PROCESS_NAME},
};
static const uint8_t name_lens[F_COUNT] = {9, 15, 5, 11, 11, 17, 7, 4, 10, 12, 14, 17, 14, 13, 13};
_Static_assert(F_COUNT == SPOOF_NFIELDS, "spoof.h's count of the names");

const char *spoof_field_name(size_t k)
{
    return k < F_COUNT ? field_names[k] : NULL;
}

/* An event's fields of those names, each the first of its name (case aside)
 * with a value, as facts_field finds it: found by one pass over the fields
 * (spoof_facts_of), or by the ids the rule set gave the names
 * (spoof_facts_of_fields), instead of a pass a name (spoof_facts_of reads up
 * to ten). With a, each is looked up by facts_field: the reference the
 * tests compare with. */
struct picked {
    const struct stoat_alert *a; /* by name; NULL: v and n */
    const char *v[F_COUNT];      /* NULL: the event has none */
    uint32_t n[F_COUNT];
};

/* The first letters (a bit each, case aside) of the names of each length:
 * most fields' fail here, before the names are looked at. */
#define LETTER(c) (1u << ((c) - 'a'))
static const uint32_t first_letters[NAME_LEN_MAX + 1] = {
    [4] = LETTER('u'),  [5] = LETTER('i'),  [7] = LETTER('l'),
    [9] = LETTER('p'),  [10] = LETTER('p'), [11] = LETTER('p'),
    [12] = LETTER('n'), [13] = LETTER('t'), [14] = LETTER('n') | LETTER('s'),
    [15] = LETTER('p'), [17] = LETTER('p'),
};

/* Whether the n bytes at s (n: 4 to 17) are the name lower (ASCII lower
 * case letters only) in any case: a byte ORed with 0x20 is a given lower
 * case letter only when it is that letter in either case, so words of
 * eight (or four) bytes, overlapping at the end, compare at once what
 * strncasecmp compares a byte at a time. */
static bool is_name(const char *s, const char *lower, size_t n)
{
    if (n < 8) {
        uint32_t a, b, x, y;
        memcpy(&a, s, 4);
        memcpy(&b, s + n - 4, 4);
        memcpy(&x, lower, 4);
        memcpy(&y, lower + n - 4, 4);
        return ((a | 0x20202020u) == x) & ((b | 0x20202020u) == y);
    }
    uint64_t a, b, c, x, y, z;
    const uint64_t low = 0x2020202020202020ull;
    memcpy(&a, s, 8);
    memcpy(&b, s + n - 8, 8);
    memcpy(&c, s + (n > 16 ? 8 : 0), 8);
    memcpy(&x, lower, 8);
    memcpy(&y, lower + n - 8, 8);
    memcpy(&z, lower + (n > 16 ? 8 : 0), 8);
    return ((a | low) == x) & ((b | low) == y) & ((c | low) == z);
}

/* One field of the pass: taken as the first of the names in want (a bit
 * each) it is, when it has a value and none was taken before. */
static void pick_one(struct picked *pk, uint32_t want, const char *name, uint32_t name_len, const char *value,
                     uint32_t value_len)
{
    uint32_t letters = name_len <= NAME_LEN_MAX ? first_letters[name_len] : 0;
    if (!letters || !(letters >> ((((unsigned char)name[0] | 0x20) - 'a') & 31) & 1) || !value_len)
        return;
    for (const uint8_t *k = names_of_len[name_len]; *k; k++) {
        if ((want >> (*k - 1) & 1) && !pk->v[*k - 1] && is_name(name, lower_names[*k - 1], name_len)) {
            pk->v[*k - 1] = value;
            pk->n[*k - 1] = value_len;
            return;
        }
    }
}

static void pick(struct picked *pk, const struct stoat_alert *a, bool one_pass)
{
    memset(pk, 0, sizeof(*pk));
    if (!one_pass) {
        pk->a = a;
        return;
    }
    for (size_t i = 0; i < a->nfields; i++)
        pick_one(pk, (1u << F_COUNT) - 1, a->fields[i].name, a->fields[i].name_len, a->fields[i].value,
                 a->fields[i].value_len);
}

/* By the ids: first[k] starts the chain of the fields whose names fold as
 * name k's (event.h's next links, in event order), which may also hold
 * names that differ by spaces, so each is still compared; the names in
 * no_id have no id and are found by a pass over the fields. */
static void pick_by_id(struct picked *pk, const struct ev_field *fs, size_t nf,
                       const struct ev_field *const first[SPOOF_NFIELDS], uint32_t no_id)
{
    memset(pk, 0, sizeof(*pk));
    for (int k = 0; k < F_COUNT; k++) {
        if (no_id >> k & 1)
            continue;
        uint32_t len = name_lens[k];
        for (const struct ev_field *f = first[k]; f; f = f->next >= 0 ? &fs[f->next] : NULL) {
            if (f->name_len == len && f->val_len && is_name(f->name, lower_names[k], len)) {
                pk->v[k] = f->val;
                pk->n[k] = f->val_len;
                break;
            }
        }
    }
    for (size_t i = 0; no_id && i < nf; i++)
        pick_one(pk, no_id, fs[i].name, fs[i].name_len, fs[i].val, fs[i].val_len);
}

/* The field's value copied (cut to outlen - 1 bytes) as facts_field does;
 * NULL when the event has none. */
static const char *field(const struct picked *pk, enum spoof_field id, char *out, size_t outlen)
{
    if (pk->a)
        return facts_field(pk->a, field_names[id], out, outlen);
    if (!pk->v[id])
        return NULL;
    size_t n = pk->n[id] < outlen - 1 ? pk->n[id] : outlen - 1;
    memcpy(out, pk->v[id], n);
    out[n] = 0;
    return out;
}

static uint64_t num_field(const struct picked *pk, enum spoof_field id, bool *found)
{
    char buf[64];
    const char *v;
    size_t len;
    if (pk->a) {
        v = field(pk, id, buf, sizeof(buf));
        len = v ? strlen(v) : 0;
    } else { /* parsed where it is, as far as field would copy it */
        v = pk->v[id];
        len = pk->n[id] < sizeof(buf) - 1 ? pk->n[id] : sizeof(buf) - 1;
    }
    uint64_t n = 0;
    bool ok = parse_num(v, len, &n);
    if (found)
        *found = ok;
    return ok ? n : 0;
}

static bool ordinary(uint64_t logon)
{
    return logon >= BUILTIN_LT;
}

uint64_t spoof_host_hash(const char *host)
{
    return hash_bytes(host, strlen(host), 0x5b0f);
}

uint64_t spoof_host_hash_n(const char *host, size_t n)
{
    return hash_bytes(host, strnlen(host, n), 0x5b0f);
}

/* host_h: spoof_host_hash of the event's host */
static uint64_t key_of(uint64_t host_h, uint64_t pid)
{
    return hash_mix(host_h ^ (pid * 0x9E3779B97F4A7C15ULL)) | 1;
}

/* A key's tag: the bits that name its set (from bit 7; max_sets is at most
 * 2^24) and more, never 0. */
static uint32_t key_tag(uint64_t key)
{
    return (uint32_t)(key >> 7) | 0x80000000u;
}

/* The index of the first record of key's set (of its tag's) */
static size_t set_at(const struct spoof *s, uint32_t tag)
{
    return (tag & (s->nsets - 1)) * WAYS;
}

static inline struct rec *find(struct spoof *s, uint64_t key)
{
    uint32_t tag = key_tag(key);
    size_t at = set_at(s, tag);
    for (int w = 0; w < WAYS; w++)
        if (s->tags[at + w] == tag && s->recs[at + w].key == key)
            return &s->recs[at + w];
    return NULL;
}

void spoof_keys_of(uint64_t host_h, const struct spoof_facts *f, uint64_t *self, uint64_t *parent)
{
    *self = f->kind == SPOOF_NONE ? 0 : key_of(host_h, f->pid);
    *parent = f->kind == SPOOF_NONE || f->kind == SPOOF_END ? 0 : key_of(host_h, f->ppid);
}

void spoof_prefetch(const struct spoof *s, uint64_t key)
{
    size_t at = set_at(s, key_tag(key));
    __builtin_prefetch(&s->tags[at]);
    /* the set's records: four lines, any of which may be the key's */
    for (int w = 0; w < WAYS; w++)
        __builtin_prefetch(&s->recs[at + w]);
}

/* Both times known and further apart than span. */
static bool apart(int64_t x, int64_t y, int64_t span)
{
    if (x == INT64_MIN || y == INT64_MIN)
        return false;
    return x > y ? (uint64_t)x - (uint64_t)y > (uint64_t)span : (uint64_t)y - (uint64_t)x > (uint64_t)span;
}

static bool set_full(const uint32_t *tags)
{
    for (int w = 0; w < WAYS; w++)
        if (!tags[w])
            return false;
    return true;
}

/* Twice the sets: a record of set i stays, or moves to set i + n (the key's
 * next bit), which is still empty. Where in a set a record sits does not
 * matter: lookups try every way, and the one replaced is an empty way or
 * the oldest. */
static void grow(struct spoof *s)
{
    size_t n = s->nsets;
    s->nsets *= 2;
    for (size_t i = 0; i < n; i++) {
        size_t at = i * WAYS, up = (i + n) * WAYS;
        for (int w = 0; w < WAYS; w++) {
            uint32_t tag = s->tags[at + w];
            if (!(tag & n)) /* free, or its key's next bit says set i */
                continue;
            s->recs[up] = s->recs[at + w];
            s->tags[up++] = tag;
            s->recs[at + w] = (struct rec){0};
            s->tags[at + w] = 0;
        }
    }
}

/* The record of this process: the one of the same process seen from the
 * other source, else a new one (replacing an earlier process of the pid, or
 * the oldest of the set). */
static struct rec *record(struct spoof *s, uint64_t key, int64_t t)
{
    struct rec *r = find(s, key);
    if (r && !apart(r->start_ns, t, MERGE_NS))
        return r;
    if (!r) {
        uint32_t tag = key_tag(key);
        while (s->nsets < s->max_sets && set_full(&s->tags[set_at(s, tag)]))
            grow(s);
        size_t at = set_at(s, tag), to = at;
        for (size_t w = at + 1; w < at + WAYS && s->tags[to]; w++)
            if (!s->tags[w] || s->recs[w].seq < s->recs[to].seq)
                to = w;
        s->tags[to] = tag;
        r = &s->recs[to];
    }
    *r = (struct rec){.key = key, .seq = ++s->seq, .start_ns = t, .end_ns = INT64_MIN};
    return r;
}

/* The n bytes at v, hashed in lower case (at most 256 of them), never 0. */
static uint64_t lower_key(const char *v, size_t n, uint64_t seed)
{
    char low[256];
    if (n > sizeof(low))
        n = sizeof(low);
    ascii_lower_copy(low, v, n); /* eight bytes at a time: GUIDs are 38 */
    return hash_bytes(low, n, seed) | 1;
}

/* A GUID's text ("{...}"), hashed in lower case; 0 when absent. */
static uint64_t text_key(const char *v)
{
    return v && *v ? lower_key(v, strlen(v), 0x9e1d) : 0;
}

/* The file name of a program path, hashed in lower case; 0 when absent. */
static uint64_t image_key(const char *path)
{
    if (!path || !*path)
        return 0;
    /* from the end: the file name is a few bytes, the folders many */
    const char *end = path + strlen(path), *base = end;
    while (base > path && base[-1] != '\\' && base[-1] != '/')
        base--;
    return base < end ? lower_key(base, (size_t)(end - base), 0x1a9e) : 0;
}

/* The stated parent, when its start was seen not too long before, it had
 * not ended, and it ran the program the event names as the parent's. */
static const struct rec *parent_of(struct spoof *s, uint64_t host_h, uint64_t ppid, int64_t t, uint64_t image,
                                   uint64_t guid)
{
    const struct rec *p = find(s, key_of(host_h, ppid));
    if (!p || (image && p->image && image != p->image))
        return NULL;
    if (guid && p->guid && guid != p->guid)
        return NULL; /* another process of the pid (reused: the same program name is common, svchost) */
    if (t != INT64_MIN && p->start_ns != INT64_MIN && p->start_ns < t && apart(p->start_ns, t, PARENT_AGE_NS))
        return NULL;
    if (t != INT64_MIN && p->start_ns != INT64_MIN && p->start_ns > t && apart(p->start_ns, t, MERGE_NS))
        return NULL; /* a later process of the same pid */
    if (p->ended && t != INT64_MIN && p->end_ns != INT64_MIN && p->end_ns < t && apart(p->end_ns, t, MERGE_NS))
        return NULL;
    return p;
}

/* One of the core processes that only ever run as SYSTEM, in System32
 * ("C:\Windows\System32\lsass.exe"): a program of that name elsewhere is
 * anybody's. */
static bool core_system(const char *path)
{
    static const char *const names[] = {"smss.exe",  "csrss.exe",  "wininit.exe", "winlogon.exe", "services.exe",
                                        "lsass.exe", "lsaiso.exe", "lsm.exe",     "spoolsv.exe"};
    static const char dir[] = ":\\windows\\system32\\";
    if (!path || !path[0] || strncasecmp(path + 1, dir, sizeof(dir) - 1) != 0)
        return false;
    const char *name = path + 1 + sizeof(dir) - 1;
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        if (strcasecmp(name, names[i]) == 0)
            return true;
    return false;
}

/* Sysmon's ParentUser names an account of another domain than the child's
 * User ("CORP\alice" under "NT AUTHORITY\SYSTEM"): not a built-in account. */
static bool other_domain(const char *user, const char *parent_user)
{
    if (!user || !parent_user)
        return false;
    const char *u = strchr(user, '\\'), *p = strchr(parent_user, '\\');
    if (!u || !p || u == user || p == parent_user)
        return false;
    return (size_t)(u - user) != (size_t)(p - parent_user) || strncasecmp(user, parent_user, (size_t)(u - user)) != 0;
}

/* Sysmon's User for SYSTEM ("NT AUTHORITY\\SYSTEM"; a translated name is
 * known by the logon id only). */
static bool system_account(const char *user)
{
    const char *bs = user ? strrchr(user, '\\') : NULL;
    return bs && strcasecmp(bs + 1, "SYSTEM") == 0;
}

/* The session a 4688 says the new process runs in: its Target when the
 * event has one (0: the creator's own), else the creator's when that is an
 * ordinary session (an ordinary caller has no other token to give without
 * privileges); a built-in caller without Target may be a broker: unknown. */
static uint64_t security_session(const struct picked *pk, uint64_t creator)
{
    bool has_target;
    uint64_t target = num_field(pk, F_TARGET_LOGON_ID, &has_target);
    if (has_target)
        return target ? target : creator;
    return ordinary(creator) ? creator : 0;
}

/* Which of the events spoof_facts_of reads eid is: false when none. */
static bool kind_of(const char *eid, bool *security, bool *end)
{
    if (!eid)
        return false;
    *security = strcmp(eid, "4688") == 0 || strcmp(eid, "4689") == 0;
    *end = strcmp(eid, "4689") == 0;
    return *security || strcmp(eid, "1") == 0;
}

/* What spoof_event reads of one event (spoof.h), from its fields as pk has
 * them: the numbers they parse to and the hashes of the names, nothing of
 * the table. o was zeroed. */
static void facts_of(const struct picked *pk, bool security, bool end, struct spoof_facts *o)
{
    bool ok;
    o->pid = num_field(pk, security && !end ? F_NEW_PROCESS_ID : F_PROCESS_ID, &ok);
    if (!ok)
        return;
    if (end) {
        o->kind = SPOOF_END;
        return;
    }
    o->ppid = num_field(pk, security ? F_PROCESS_ID : F_PARENT_PROCESS_ID, &ok);
    if (!ok)
        return;
    o->kind = security ? SPOOF_START_SECURITY : SPOOF_START_SYSMON;
    char img[512], buf[512], ubuf[256], pbuf[256], gbuf[80];
    o->image = image_key(field(pk, security ? F_NEW_PROCESS_NAME : F_IMAGE, img, sizeof(img)));
    const char *pname = field(pk, security ? F_PARENT_PROCESS_NAME : F_PARENT_IMAGE, buf, sizeof(buf));
    o->parent_image = image_key(pname);
    if (security) {
        o->creator = num_field(pk, F_SUBJECT_LOGON_ID, NULL);
        o->session = security_session(pk, o->creator);
        char sid[64];
        const char *target = field(pk, F_TARGET_USER_SID, sid, sizeof(sid));
        o->system = o->session == SYSTEM_ID || (target && strcmp(target, "S-1-5-18") == 0);
        o->parent_core = core_system(pname);
        return;
    }
    o->guid = text_key(field(pk, F_PROCESS_GUID, gbuf, sizeof(gbuf)));
    o->parent_guid = text_key(field(pk, F_PARENT_PROCESS_GUID, gbuf, sizeof(gbuf)));
    o->session = num_field(pk, F_LOGON_ID, NULL);
    const char *user = field(pk, F_USER, ubuf, sizeof(ubuf));
    o->system = o->session == SYSTEM_ID || system_account(user);
    /* the child is SYSTEM's account and its parent's user is of another
     * domain (a token of 0x3e7 under another name says nothing) */
    o->system_by_name = system_account(user) && other_domain(user, field(pk, F_PARENT_USER, pbuf, sizeof(pbuf)));
}

static void facts_of_alert(const struct stoat_alert *a, struct spoof_facts *o, bool one_pass)
{
    memset(o, 0, sizeof(*o));
    bool security, end;
    if (!kind_of(a->event_id, &security, &end))
        return;
    struct picked pk;
    pick(&pk, a, one_pass);
    facts_of(&pk, security, end, o);
}

void spoof_facts_of(const struct stoat_alert *a, struct spoof_facts *o)
{
    facts_of_alert(a, o, true);
}

void spoof_facts_of_by_name(const struct stoat_alert *a, struct spoof_facts *o)
{
    facts_of_alert(a, o, false);
}

void spoof_facts_of_fields(const char *event_id, const struct ev_field *fs, size_t nf,
                           const struct ev_field *const first[SPOOF_NFIELDS], uint32_t no_id, struct spoof_facts *o)
{
    memset(o, 0, sizeof(*o));
    bool security, end;
    if (!kind_of(event_id, &security, &end))
        return;
    struct picked pk;
    pick_by_id(&pk, fs, nf, first, no_id);
    facts_of(&pk, security, end, o);
}

static const struct stoat_rule_meta *judge(struct spoof *s, const struct stoat_alert *a, uint64_t host_h,
                                           const struct rec *r, const struct spoof_facts *f)
{
    bool security = f->kind == SPOOF_START_SECURITY;
    const struct rec *p = parent_of(s, host_h, f->ppid, a->time_ns, f->parent_image, security ? 0 : f->parent_guid);
    uint64_t psess = p ? p->session : 0;
    if (!psess && security && f->parent_core)
        psess = SYSTEM_ID;
    if (ordinary(r->creator)) {
        if (psess && psess != r->creator)
            return &meta_parent;
        if (r->session && r->session != r->creator)
            return &meta_token;
    }
    if (r->system) {
        if (ordinary(psess))
            return &meta_system;
        if (!security && f->system_by_name)
            return &meta_system;
    }
    return NULL;
}

const struct stoat_rule_meta *spoof_apply(struct spoof *s, const struct stoat_alert *a, const struct spoof_facts *f)
{
    return spoof_apply_host(s, a, spoof_host_hash(a->host ? a->host : ""), f);
}

const struct stoat_rule_meta *spoof_apply_host(struct spoof *s, const struct stoat_alert *a, uint64_t host_h,
                                               const struct spoof_facts *f)
{
    if (f->kind == SPOOF_NONE)
        return NULL;
    if (f->kind == SPOOF_END) {
        struct rec *r = find(s, key_of(host_h, f->pid));
        if (r && !(a->time_ns != INT64_MIN && r->start_ns != INT64_MIN && a->time_ns < r->start_ns)) {
            r->ended = true;
            r->end_ns = a->time_ns;
        }
        return NULL;
    }
    struct rec *r = record(s, key_of(host_h, f->pid), a->time_ns);
    if (f->image)
        r->image = f->image;
    if (f->kind == SPOOF_START_SECURITY) {
        if (f->creator)
            r->creator = f->creator;
        if (f->session && !r->session_sure)
            r->session = f->session;
    } else {
        if (f->guid)
            r->guid = f->guid;
        if (f->session) { /* Sysmon reads the process's own token */
            r->session = f->session;
            r->session_sure = true;
        }
    }
    r->system |= f->system;
    if (r->raised)
        return NULL;
    const struct stoat_rule_meta *m = judge(s, a, host_h, r, f);
    if (m)
        r->raised = true;
    return m;
}

const struct stoat_rule_meta *spoof_event(struct spoof *s, const struct stoat_alert *a)
{
    struct spoof_facts f;
    spoof_facts_of(a, &f);
    return spoof_apply(s, a, &f);
}

const char *spoof_rules(void)
{
    return "---\n"
           "title: Process Start Or End In The Security Log (parent spoofing watch)\n"
           "id: " SPOOF_RULE_SECURITY "\n"
           "status: stable\n"
           "description: 'Security 4688/4689; not reported: behaviour compares the creator of each process with "
           "its stated parent and its token (generated by stoat)'\n"
           "author: stoat\n"
           "logsource:\n    product: windows\n    service: security\n"
           "detection:\n"
           "    process:\n        EventID:\n            - 4688\n            - 4689\n"
           "        SubjectLogonId|startswith: '0x'\n"
           "    condition: process\n"
           "level: informational\n"
           "---\n"
           "title: Process Start Or End In The Sysmon Log (parent spoofing watch)\n"
           "id: " SPOOF_RULE_SYSMON "\n"
           "status: stable\n"
           "description: 'Sysmon 1; not reported: behaviour compares the token of each process with its stated "
           "parent (generated by stoat)'\n"
           "author: stoat\n"
           "logsource:\n    product: windows\n    service: sysmon\n"
           "detection:\n"
           "    process:\n        EventID: 1\n        LogonId|startswith: '0x'\n"
           "    condition: process\n"
           "level: informational\n";
}
