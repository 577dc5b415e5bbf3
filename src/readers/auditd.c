/* Linux auditd logs: raw /var/log/audit/audit.log (RAW or ENRICHED format,
 * with or without node=), `ausearch` output (its ---- and time-> lines) and
 * the interpreted `ausearch -i` form (decoded values, names for numbers, local
 * times, the records of an event printed last to first).
 *
 * auditd writes one event as several records (SYSCALL, EXECVE, CWD, PATH...,
 * PROCTITLE, EOE) that share `msg=audit(TIME:SERIAL)`, and records of
 * neighbouring events interleave a little. Sigma's auditd rules read fields
 * of several records at once (type: EXECVE with a0, type: SYSCALL with exe),
 * and the process view needs argv, exe and cwd together, so an event must
 * reach one worker whole.
 *
 * Why the join runs on the reading thread: units are parsed in parallel and in
 * any order, so only the reading thread, which sees the file in order, can
 * join records that a unit boundary would split; and it is the one place to
 * keep file-order state, the pid -> image table that gives a new process its
 * ParentImage. It does the cheap part only: find lines, read the header
 * (node, type, time:serial), keep a bounded window of open events, and write
 * each finished event into the unit as one run of records (a small binary item
 * per record, with its line number so that problems are reported at their
 * line). Open events simply stay in the reader's state across units. Workers
 * then tokenize, decode and name the fields.
 *
 * An event is finished when its EOE record arrives (auditd 3 often writes
 * none), when AU_WINDOW records of other events have followed its last one,
 * when `----` closes it (ausearch), or when the window of open events or of
 * staged bytes is full. Events leave in the order they began.
 *
 * Fields: every key=value of every record under its own name (`type` once
 * per record, so `type: PATH` matches an event with a PATH record), hex
 * values decoded (EXECVE arguments, proctitle, exe, name, cwd, ...), split
 * arguments (a2_len, a2[0], a2[1]...) joined back, the enriched upper-case
 * fields (SYSCALL, UID, ...), and the fields of msg='...' and {...} values.
 * Raw-format logs get `SYSCALL` from a syscall table. Where names collide the
 * argument vector wins: when an event has an EXECVE record, a0.. are its
 * arguments and the SYSCALL record's a0..a3 are given as syscall_a0..a3.
 * Added: Channel "auditd", EventID = the number of the main record's type
 * (the first record that is neither SYSCALL nor auxiliary, else SYSCALL),
 * Computer (node= or the host option), audit_time, serial.
 *
 * Derived views: a successful execve also becomes a second event on channel
 * "auditd-derived" with Sysmon's numbering and Sigma's field names, 1
 * (process_creation: Image, CommandLine = argv joined by blanks,
 * CurrentDirectory, User, LogonId = ses, ProcessId, ParentProcessId,
 * ParentImage when the parent pid was seen earlier in the file); so does a
 * connect/accept with an inet SOCKADDR, 3 (network_connection); a
 * successful create or open for writing, 11 (file_event: reads are not file
 * events, they stay in the auditd view); a delete, 23 (file_delete).
 * data/mapping.yml routes them; the raw event stays on channel auditd only,
 * so a process_creation rule never sees a non-exec event and an auditd rule
 * never sees the same event twice.
 *
 * ausearch -i leaves values unquoted, blanks and all: a value there ends
 * where a blank is followed by name=, an EXECVE argument only where one is
 * followed by a<N>=, and a proctitle runs to the end of the line. Its times
 * have no zone and are kept as the local times they are.
 *
 * Memory: values are slices of the unit where possible. Decoded values go to
 * a per-worker buffer reserved once per event (never moved while the event is
 * alive) rather than to sink->scratch, because one audit event becomes two
 * sink events (raw and derived) and the sink's scratch is reset by each begin.
 * Every input is bounded: line length, records and bytes per event, open
 * events, staged bytes, arguments, PATH records, field count. */
#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "readers/auditd_syscalls.h"
#include "readers/reader.h"
#include "util/text.h"

#define AU_LINE_MAX (64u << 10)          /* longer lines are reported and skipped */
#define AU_READ_BYTES (1u << 20)         /* read-ahead buffer */
#define AU_MAX_OPEN 128                  /* events waiting for more records */
#define AU_WINDOW 64                     /* records of other events that finish one */
#define AU_MAX_RECORDS 2048              /* per event; the rest are dropped */
#define AU_EVENT_MAX_BYTES (4u << 20)    /* per event, staged */
#define AU_STAGING_MAX (16u << 20)       /* all open events together */
#define AU_KEY_MAX 192                   /* node + time:serial */
#define AU_PROC_SLOTS 4096               /* pid -> image, direct-mapped */
#define AU_EXE_MAX 255
#define AU_MAX_ARGS 4096                 /* argv entries read */
#define AU_ARG_FIELDS 1024               /* argv entries given as a0.. fields */
#define AU_MAX_PATHS 32                  /* PATH records used by the views */
#define AU_MAX_PIECES 8192               /* a<N>[k] pieces of long arguments, per event */

#define CHANNEL_RAW "auditd"
#define CHANNEL_VIEW "auditd-derived"

/* ------------------------------------------------------------ items */

/* The unit holds items: a 16-byte header and a payload padded to 8. */
enum { IT_EVENT = 1, IT_REC = 2, IT_PARENT = 3, IT_BAD = 4 };
enum { EV_TRUNCATED = 1 };

struct item {
    uint32_t len;      /* payload bytes */
    uint8_t kind;
    uint8_t flags;
    uint16_t spare;
    uint64_t line;
};

struct ev_payload {    /* IT_EVENT */
    uint32_t nrec;
    uint32_t dropped;  /* records over the caps */
    uint64_t bytes;    /* payload bytes of its records */
};

#define ITEM_SIZE(len) (sizeof(struct item) + (((size_t)(len) + 7) & ~(size_t)7))

static void item_write(char *dst, uint8_t kind, uint8_t flags, uint64_t line, const void *p, uint32_t len)
{
    struct item it = {.len = len, .kind = kind, .flags = flags, .line = line};
    memcpy(dst, &it, sizeof(it));
    if (len)
        memcpy(dst + sizeof(it), p, len);
    size_t pad = ITEM_SIZE(len) - sizeof(it) - len;
    if (pad)
        memset(dst + sizeof(it) + len, 0, pad);
}

static void buf_item(struct buf *b, uint8_t kind, uint8_t flags, uint64_t line, const void *p, uint32_t len)
{
    size_t n = ITEM_SIZE(len);
    if (b->cap - b->len < n + 1)
        buf_reserve(b, n + 1);
    item_write(b->p + b->len, kind, flags, line, p, len);
    b->len += n;
}

static char *unit_room(struct unit *u, size_t n)
{
    if (u->cap - u->len < n + 1) {
        size_t cap = u->cap ? u->cap : UNIT_BYTES;
        while (cap - u->len < n + 1)
            cap *= 2;
        u->data = xrealloc(u->data, cap);
        u->cap = cap;
    }
    char *p = u->data + u->len;
    u->len += n;
    return p;
}

static void unit_item(struct unit *u, uint8_t kind, uint8_t flags, uint64_t line, const void *p, uint32_t len)
{
    item_write(unit_room(u, ITEM_SIZE(len)), kind, flags, line, p, len);
}

/* ------------------------------------------------------- record header */

struct au_hdr {
    const char *node, *type, *time, *serial, *stamp, *body;
    uint32_t node_len, type_len, time_len, serial_len, stamp_len;
    bool interp;       /* ausearch -i: decoded values, local time */
};

static bool is_digit(char c) { return c >= '0' && c <= '9'; }

/* [node=N ]type=T msg=audit(TIME:SERIAL): body   (ausearch -i: `) : body`).
 * Returns NULL, or why the line is not an audit record. */
static const char *au_header(const char *p, const char *end, struct au_hdr *h)
{
    memset(h, 0, sizeof(*h));
    const char *s = p;
    if (end - s >= 5 && memcmp(s, "node=", 5) == 0) {
        s += 5;
        h->node = s;
        while (s < end && *s != ' ')
            s++;
        h->node_len = (uint32_t)(s - h->node);
        if (!h->node_len || h->node_len > 128)
            return "bad node= name";
        while (s < end && *s == ' ')
            s++;
    }
    if (end - s < 5 || memcmp(s, "type=", 5) != 0)
        return "not an audit record (no type= at the start)";
    s += 5;
    h->type = s;
    while (s < end && *s != ' ') {
        char c = *s;
        if (!((c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '[' || c == ']'))
            return "bad record type";
        s++;
    }
    h->type_len = (uint32_t)(s - h->type);
    if (!h->type_len || h->type_len > 64)
        return "bad record type";
    while (s < end && *s == ' ')
        s++;
    if (end - s < 10 || memcmp(s, "msg=audit(", 10) != 0)
        return "no msg=audit(...) after the type";
    s += 10;
    const char *close = memchr(s, ')', (size_t)(end - s) < 64 ? (size_t)(end - s) : 64);
    if (!close)
        return "unterminated msg=audit(...)";
    h->stamp = s;
    h->stamp_len = (uint32_t)(close - s);
    const char *colon = NULL;
    for (const char *q = close; q > s;)
        if (*--q == ':') {
            colon = q;
            break;
        }
    if (!colon || colon == s)
        return "no serial in msg=audit(...)";
    h->time = s;
    h->time_len = (uint32_t)(colon - s);
    h->serial = colon + 1;
    h->serial_len = (uint32_t)(close - colon - 1);
    if (!h->serial_len || h->serial_len > 20)
        return "bad serial in msg=audit(...)";
    for (uint32_t i = 0; i < h->serial_len; i++)
        if (!is_digit(h->serial[i]))
            return "bad serial in msg=audit(...)";
    /* raw: seconds.millis; interpreted: a local date and time */
    bool raw = true, dot = false;
    for (uint32_t i = 0; i < h->time_len; i++) {
        char c = h->time[i];
        if (c == '.' && !dot && i > 0)
            dot = true;
        else if (!is_digit(c))
            raw = false;
    }
    if (!raw) {
        if (!memchr(h->time, ' ', h->time_len) || !is_digit(h->time[0]))
            return "bad time in msg=audit(...)";
        h->interp = true;
    } else if (!dot) {
        return "bad time in msg=audit(...)";
    }
    s = close + 1;
    while (s < end && *s == ' ')
        s++;
    if (s >= end || *s != ':')
        return "no ':' after msg=audit(...)";
    s++;
    h->body = s;
    return NULL;
}

/* ---------------------------------------------------------- tokenizer */

struct au_kv {
    const char *name, *val;
    uint32_t nlen, vlen;
    char quote;        /* 0, '"', '\'' or '{' */
    bool unterminated;
};

enum { TOK_RAW, TOK_INTERP, TOK_INTERP_ARGS, TOK_REST };

struct au_cur {
    const char *p, *end;
    int mode;
};

static inline bool au_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\x1d' || c == '\r' || c == '\n';
}

static inline bool au_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || is_digit(c) || c == '_' || c == '-' || c == '[' ||
           c == ']' || c == '.';
}

/* ausearch -i leaves values unquoted, spaces and all: a value ends where a
 * blank is followed by name=. With args set, only a<N>, a<N>[<M>], a<N>_len
 * and argc names end one (an argument may well contain "x=y"). */
static bool au_field_starts(const char *p, const char *end, bool args)
{
    const char *q = p;
    if (args) {
        if (end - q >= 5 && memcmp(q, "argc=", 5) == 0)
            return true;
        if (q >= end || *q != 'a')
            return false;
        q++;
        const char *d = q;
        while (q < end && is_digit(*q))
            q++;
        if (q == d || q >= end)
            return false;
        if (*q == '[') {
            q++;
            d = q;
            while (q < end && is_digit(*q))
                q++;
            if (q == d || q >= end || *q != ']')
                return false;
            q++;
        } else if (end - q >= 4 && memcmp(q, "_len", 4) == 0) {
            q += 4;
        }
        return q < end && *q == '=';
    }
    while (q < end && au_name_char(*q))
        q++;
    return q > p && q < end && *q == '=';
}

static bool au_next(struct au_cur *c, struct au_kv *kv)
{
    const char *end = c->end;
    for (;;) {
        while (c->p < end && au_sep(*c->p))
            c->p++;
        if (c->p >= end)
            return false;
        const char *s = c->p;
        while (c->p < end && *c->p != '=' && !au_sep(*c->p))
            c->p++;
        if (c->p >= end || *c->p != '=' || c->p == s) {
            /* a word that is not name=value (AVC text, "{ read }"): skip it */
            while (c->p < end && !au_sep(*c->p))
                c->p++;
            continue;
        }
        kv->name = s;
        kv->nlen = (uint32_t)(c->p - s);
        c->p++;
        kv->quote = 0;
        kv->unterminated = false;
        const char *v = c->p;
        if (v < end && (*v == '"' || *v == '\'' || *v == '{')) {
            char q = *v == '{' ? '}' : *v;
            const char *e = memchr(v + 1, q, (size_t)(end - v - 1));
            kv->quote = *v;
            kv->val = v + 1;
            if (!e) {
                kv->vlen = (uint32_t)(end - v - 1);
                kv->unterminated = true;
                c->p = end;
            } else {
                kv->vlen = (uint32_t)(e - v - 1);
                c->p = e + 1;
            }
            return true;
        }
        if (c->mode == TOK_REST) {
            c->p = end;
        } else if (c->mode == TOK_RAW) {
            while (c->p < end && !au_sep(*c->p))
                c->p++;
        } else {
            bool args = c->mode == TOK_INTERP_ARGS;
            for (;;) {
                const char *sp = memchr(c->p, ' ', (size_t)(end - c->p));
                if (!sp) {
                    c->p = end;
                    break;
                }
                const char *n = sp;
                while (n < end && *n == ' ')
                    n++;
                if (n >= end || au_field_starts(n, end, args)) {
                    c->p = sp;
                    break;
                }
                c->p = n;
            }
        }
        kv->val = v;
        kv->vlen = (uint32_t)(c->p - v);
        while (kv->vlen && (kv->val[kv->vlen - 1] == ' ' || kv->val[kv->vlen - 1] == '\r'))
            kv->vlen--;
        return true;
    }
}

static inline bool name_is(const struct au_kv *kv, const char *s, size_t n)
{
    return kv->nlen == n && memcmp(kv->name, s, n) == 0;
}
#define NAME_IS(kv, lit) name_is((kv), (lit), sizeof(lit) - 1)

static inline bool slice_is(const char *p, uint32_t n, const char *s, size_t sn)
{
    return n == sn && memcmp(p, s, sn) == 0;
}
#define SLICE_IS(p, n, lit) slice_is((p), (n), (lit), sizeof(lit) - 1)

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static bool is_hex(const char *p, uint32_t n)
{
    if (n < 2 || (n & 1))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (hexval(p[i]) < 0)
            return false;
    return true;
}

static size_t hex_decode(const char *p, uint32_t n, char *out)
{
    size_t k = 0;
    for (uint32_t i = 0; i + 1 < n; i += 2)
        out[k++] = (char)(hexval(p[i]) << 4 | hexval(p[i + 1]));
    return k;
}

/* Fields auditd writes as "quoted" or, when they hold blanks, quotes or
 * non-ASCII bytes, as bare hex (raw format only). */
static bool hex_field(const struct au_kv *kv)
{
    switch (kv->nlen) {
    case 3: return NAME_IS(kv, "exe") || NAME_IS(kv, "cwd") || NAME_IS(kv, "key") || NAME_IS(kv, "cmd");
    case 4:
        return NAME_IS(kv, "comm") || NAME_IS(kv, "name") || NAME_IS(kv, "path") || NAME_IS(kv, "data") ||
               NAME_IS(kv, "acct");
    case 5: return NAME_IS(kv, "ocomm") || NAME_IS(kv, "watch");
    case 9: return NAME_IS(kv, "proctitle");
    default: return false;
    }
}

static int64_t parse_dec(const char *p, uint32_t n, bool *ok)
{
    int64_t v = 0;
    bool neg = false;
    uint32_t i = 0;
    *ok = false;
    if (n && p[0] == '-') {
        neg = true;
        i = 1;
    }
    if (i >= n || n - i > 18)
        return 0;
    for (; i < n; i++) {
        if (!is_digit(p[i]))
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *ok = true;
    return neg ? -v : v;
}

/* 0x-prefixed or bare hex (raw SYSCALL arguments). */
static bool parse_hex_u64(const char *p, uint32_t n, uint64_t *out)
{
    if (n >= 2 && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        n -= 2;
    }
    if (!n || n > 16)
        return false;
    uint64_t v = 0;
    for (uint32_t i = 0; i < n; i++) {
        int h = hexval(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (uint64_t)h;
    }
    *out = v;
    return true;
}

/* The syscall name of arch + number (raw), or the value itself (ausearch -i). */
static const char *syscall_name(const char *arch, uint32_t alen, const char *num, uint32_t nlen, bool interp,
                                uint32_t *len)
{
    if (interp) {
        *len = nlen;
        return nlen ? num : NULL;
    }
    bool ok;
    int64_t n = parse_dec(num, nlen, &ok);
    if (!ok || n < 0)
        return NULL;
    const char *const *tab = NULL;
    size_t cnt = 0;
    if (SLICE_IS(arch, alen, "c000003e")) {
        tab = au_sys_x86_64;
        cnt = sizeof(au_sys_x86_64) / sizeof(au_sys_x86_64[0]);
    } else if (SLICE_IS(arch, alen, "40000003")) {
        tab = au_sys_i386;
        cnt = sizeof(au_sys_i386) / sizeof(au_sys_i386[0]);
    } else if (SLICE_IS(arch, alen, "c00000b7")) {
        tab = au_sys_aarch64;
        cnt = sizeof(au_sys_aarch64) / sizeof(au_sys_aarch64[0]);
    }
    if (!tab || (uint64_t)n >= cnt || !tab[n])
        return NULL;
    *len = (uint32_t)strlen(tab[n]);
    return tab[n];
}

/* --------------------------------------------------------- record types */

struct au_rtype {
    const char *name;
    uint16_t num;
};

/* Record type names and numbers (linux/audit.h, libaudit). */
static const struct au_rtype au_rtypes[] = {
    {"USER", 1005}, {"LOGIN", 1006}, {"USER_AUTH", 1100}, {"USER_ACCT", 1101}, {"USER_MGMT", 1102},
    {"CRED_ACQ", 1103}, {"CRED_DISP", 1104}, {"USER_START", 1105}, {"USER_END", 1106}, {"USER_AVC", 1107},
    {"USER_CHAUTHTOK", 1108}, {"USER_ERR", 1109}, {"CRED_REFR", 1110}, {"USYS_CONFIG", 1111},
    {"USER_LOGIN", 1112}, {"USER_LOGOUT", 1113}, {"ADD_USER", 1114}, {"DEL_USER", 1115}, {"ADD_GROUP", 1116},
    {"DEL_GROUP", 1117}, {"DAC_CHECK", 1118}, {"CHGRP_ID", 1119}, {"TEST", 1120}, {"TRUSTED_APP", 1121},
    {"USER_SELINUX_ERR", 1122}, {"USER_CMD", 1123}, {"USER_TTY", 1124}, {"CHUSER_ID", 1125},
    {"GRP_AUTH", 1126}, {"SYSTEM_BOOT", 1127}, {"SYSTEM_SHUTDOWN", 1128}, {"SYSTEM_RUNLEVEL", 1129},
    {"SERVICE_START", 1130}, {"SERVICE_STOP", 1131}, {"GRP_MGMT", 1132}, {"GRP_CHAUTHTOK", 1133},
    {"MAC_CHECK", 1134}, {"ACCT_LOCK", 1135}, {"ACCT_UNLOCK", 1136}, {"USER_DEVICE", 1137},
    {"SOFTWARE_UPDATE", 1138}, {"DAEMON_START", 1200}, {"DAEMON_END", 1201}, {"DAEMON_ABORT", 1202},
    {"DAEMON_CONFIG", 1203}, {"DAEMON_RECONFIG", 1204}, {"DAEMON_ROTATE", 1205}, {"DAEMON_RESUME", 1206},
    {"DAEMON_ACCEPT", 1207}, {"DAEMON_CLOSE", 1208}, {"DAEMON_ERR", 1209}, {"SYSCALL", 1300}, {"PATH", 1302},
    {"IPC", 1303}, {"SOCKETCALL", 1304}, {"CONFIG_CHANGE", 1305}, {"SOCKADDR", 1306}, {"CWD", 1307},
    {"EXECVE", 1309}, {"IPC_SET_PERM", 1311}, {"MQ_OPEN", 1312}, {"MQ_SENDRECV", 1313}, {"MQ_NOTIFY", 1314},
    {"MQ_GETSETATTR", 1315}, {"KERNEL_OTHER", 1316}, {"FD_PAIR", 1317}, {"OBJ_PID", 1318}, {"TTY", 1319},
    {"EOE", 1320}, {"BPRM_FCAPS", 1321}, {"CAPSET", 1322}, {"MMAP", 1323}, {"NETFILTER_PKT", 1324},
    {"NETFILTER_CFG", 1325}, {"SECCOMP", 1326}, {"PROCTITLE", 1327}, {"FEATURE_CHANGE", 1328},
    {"REPLACE", 1329}, {"KERN_MODULE", 1330}, {"FANOTIFY", 1331}, {"TIME_INJOFFSET", 1332},
    {"TIME_ADJNTPVAL", 1333}, {"BPF", 1334}, {"EVENT_LISTENER", 1335}, {"URINGOP", 1336}, {"OPENAT2", 1337},
    {"DM_CTRL", 1338}, {"DM_EVENT", 1339}, {"AVC", 1400}, {"SELINUX_ERR", 1401}, {"AVC_PATH", 1402},
    {"MAC_POLICY_LOAD", 1403}, {"MAC_STATUS", 1404}, {"MAC_CONFIG_CHANGE", 1405}, {"MAC_UNLBL_ALLOW", 1406},
    {"MAC_CIPSOV4_ADD", 1407}, {"MAC_CIPSOV4_DEL", 1408}, {"MAC_MAP_ADD", 1409}, {"MAC_MAP_DEL", 1410},
    {"MAC_IPSEC_ADDSA", 1411}, {"MAC_IPSEC_DELSA", 1412}, {"MAC_IPSEC_ADDSPD", 1413},
    {"MAC_IPSEC_DELSPD", 1414}, {"MAC_IPSEC_EVENT", 1415}, {"MAC_UNLBL_STCADD", 1416},
    {"MAC_UNLBL_STCDEL", 1417}, {"MAC_CALIPSO_ADD", 1418}, {"MAC_CALIPSO_DEL", 1419}, {"APPARMOR", 1500},
    {"APPARMOR_AUDIT", 1501}, {"APPARMOR_ALLOWED", 1502}, {"APPARMOR_DENIED", 1503}, {"APPARMOR_HINT", 1504},
    {"APPARMOR_STATUS", 1505}, {"APPARMOR_ERROR", 1506}, {"APPARMOR_KILL", 1507}, {"ANOM_PROMISCUOUS", 1700},
    {"ANOM_ABEND", 1701}, {"ANOM_LINK", 1702}, {"ANOM_CREAT", 1703}, {"INTEGRITY_DATA", 1800},
    {"INTEGRITY_METADATA", 1801}, {"INTEGRITY_STATUS", 1802}, {"INTEGRITY_HASH", 1803},
    {"INTEGRITY_PCR", 1804}, {"INTEGRITY_RULE", 1805}, {"INTEGRITY_EVM_XATTR", 1806},
    {"INTEGRITY_POLICY_RULE", 1807}, {"KERNEL", 2000}, {"ANOM_LOGIN_FAILURES", 2100},
    {"ANOM_LOGIN_TIME", 2101}, {"ANOM_LOGIN_SESSIONS", 2102}, {"ANOM_LOGIN_ACCT", 2103},
    {"ANOM_LOGIN_LOCATION", 2104}, {"ANOM_MAX_DAC", 2105}, {"ANOM_MAX_MAC", 2106}, {"ANOM_AMTU_FAIL", 2107},
    {"ANOM_RBAC_FAIL", 2108}, {"ANOM_RBAC_INTEGRITY_FAIL", 2109}, {"ANOM_CRYPTO_FAIL", 2110},
    {"ANOM_ACCESS_FS", 2111}, {"ANOM_EXEC", 2112}, {"ANOM_MK_EXEC", 2113}, {"ANOM_ADD_ACCT", 2114},
    {"ANOM_DEL_ACCT", 2115}, {"ANOM_MOD_ACCT", 2116}, {"ANOM_ROOT_TRANS", 2117}, {"ANOM_LOGIN_SERVICE", 2118},
    {"ANOM_LOGIN_ROOT", 2119}, {"ANOM_ORIGIN_FAILURES", 2120}, {"ANOM_SESSION", 2121}, {"RESP_ANOMALY", 2200},
    {"RESP_ALERT", 2201}, {"RESP_KILL_PROC", 2202}, {"RESP_TERM_ACCESS", 2203}, {"RESP_ACCT_REMOTE", 2204},
    {"RESP_ACCT_LOCK_TIMED", 2205}, {"RESP_ACCT_UNLOCK_TIMED", 2206}, {"RESP_ACCT_LOCK", 2207},
    {"RESP_TERM_LOCK", 2208}, {"RESP_SEBOOL", 2209}, {"RESP_EXEC", 2210}, {"RESP_SINGLE", 2211},
    {"RESP_HALT", 2212}, {"RESP_ORIGIN_BLOCK", 2213}, {"RESP_ORIGIN_BLOCK_TIMED", 2214},
    {"RESP_ORIGIN_UNBLOCK_TIMED", 2215}, {"USER_ROLE_CHANGE", 2300}, {"ROLE_ASSIGN", 2301},
    {"ROLE_REMOVE", 2302}, {"LABEL_OVERRIDE", 2303}, {"LABEL_LEVEL_CHANGE", 2304},
    {"USER_LABELED_EXPORT", 2305}, {"USER_UNLABELED_EXPORT", 2306}, {"DEV_ALLOC", 2307},
    {"DEV_DEALLOC", 2308}, {"FS_RELABEL", 2309}, {"USER_MAC_POLICY_LOAD", 2310}, {"ROLE_MODIFY", 2311},
    {"USER_MAC_CONFIG_CHANGE", 2312}, {"USER_MAC_STATUS", 2313}, {"CRYPTO_TEST_USER", 2400},
    {"CRYPTO_PARAM_CHANGE_USER", 2401}, {"CRYPTO_LOGIN", 2402}, {"CRYPTO_LOGOUT", 2403},
    {"CRYPTO_KEY_USER", 2404}, {"CRYPTO_FAILURE_USER", 2405}, {"CRYPTO_REPLAY_USER", 2406},
    {"CRYPTO_SESSION", 2407}, {"CRYPTO_IKE_SA", 2408}, {"CRYPTO_IPSEC_SA", 2409}, {"VIRT_CONTROL", 2500},
    {"VIRT_RESOURCE", 2501}, {"VIRT_MACHINE_ID", 2502}, {"VIRT_INTEGRITY_CHECK", 2503}, {"VIRT_CREATE", 2504},
    {"VIRT_DESTROY", 2505}, {"VIRT_MIGRATE_IN", 2506}, {"VIRT_MIGRATE_OUT", 2507},
};

/* The number of a type name; UNKNOWN[1334] gives 1334; 0 when unknown. */
static int rtype_num(const char *t, uint32_t n)
{
    if (n > 8 && memcmp(t, "UNKNOWN[", 8) == 0 && t[n - 1] == ']') {
        bool ok;
        int64_t v = parse_dec(t + 8, n - 9, &ok);
        return ok && v > 0 && v < 100000 ? (int)v : 0;
    }
    /* the records of nearly every event first */
    switch (n) {
    case 3:
        if (SLICE_IS(t, n, "CWD"))
            return 1307;
        if (SLICE_IS(t, n, "EOE"))
            return 1320;
        break;
    case 4:
        if (SLICE_IS(t, n, "PATH"))
            return 1302;
        break;
    case 6:
        if (SLICE_IS(t, n, "EXECVE"))
            return 1309;
        break;
    case 7:
        if (SLICE_IS(t, n, "SYSCALL"))
            return 1300;
        break;
    case 9:
        if (SLICE_IS(t, n, "PROCTITLE"))
            return 1327;
        break;
    default:
        break;
    }
    for (size_t i = 0; i < sizeof(au_rtypes) / sizeof(au_rtypes[0]); i++) {
        const char *name = au_rtypes[i].name;
        if (name[0] == t[0] && strncmp(name, t, n) == 0 && name[n] == 0)
            return au_rtypes[i].num;
    }
    return 0;
}

/* Records that only add detail to a syscall event. */
static bool rtype_aux(int num)
{
    switch (num) {
    case 1302: case 1303: case 1304: case 1306: case 1307: case 1309: case 1311: case 1312: case 1313:
    case 1314: case 1315: case 1317: case 1318: case 1320: case 1321: case 1322: case 1323: case 1327:
    case 1337:
        return true;
    default:
        return false;
    }
}

/* ------------------------------------------------------------ producer */

struct au_open {
    char key[AU_KEY_MAX];
    uint32_t key_len;
    struct buf st;             /* its IT_REC items */
    uint32_t nrec, dropped;
    uint64_t bytes;
    uint64_t last_seen;        /* record counter when its last record came */
    bool done;
    /* from its SYSCALL record, for the process table */
    bool has_sys, is_exec;
    int64_t pid, ppid;
    uint64_t node_hash;
    char exe[AU_EXE_MAX + 1];
    uint32_t exe_len;
};

struct au_proc {
    uint64_t key;              /* 0: empty */
    uint32_t len;
    char exe[AU_EXE_MAX + 1];
};

struct au_state {
    char *rb;                  /* read-ahead */
    size_t rb_len, rb_pos, rb_cap;
    bool eof, skipping;
    uint64_t line;             /* number of the next line */
    uint64_t records;          /* records seen */
    struct au_open slot[AU_MAX_OPEN];   /* a ring: head is the oldest */
    uint32_t head, nopen;
    size_t staged;
    struct au_proc *procs;
};

static bool au_probe(const unsigned char *h, size_t n)
{
    const char *p = (const char *)h, *end = p + n;
    /* skip blank lines, ausearch's ---- separators and time-> lines */
    for (int lines = 0; p < end && lines < 8; lines++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        const char *le = nl ? nl : end;
        const char *s = p;
        while (s < le && (*s == ' ' || *s == '\r' || *s == '\t'))
            s++;
        if (s == le || (le - s >= 4 && memcmp(s, "----", 4) == 0) || (le - s >= 6 && memcmp(s, "time->", 6) == 0)) {
            if (!nl)
                return false;
            p = nl + 1;
            continue;
        }
        struct au_hdr hd;
        if (!nl && le - s < 64)
            return false;   /* too little of the line to tell */
        /* the head may cut the line: the header is what counts */
        return au_header(s, le, &hd) == NULL;
    }
    return false;
}

static int au_open_file(struct input_file *f, struct input *in, char *why, size_t whylen)
{
    (void)in;
    (void)why;
    (void)whylen;
    struct au_state *s = xcalloc(1, sizeof(*s));
    s->rb_cap = AU_READ_BYTES + AU_LINE_MAX;
    s->rb = xmalloc(s->rb_cap);
    s->line = 1;
    s->procs = xcalloc(AU_PROC_SLOTS, sizeof(*s->procs));
    f->reader_state = s;
    f->product = "linux";
    return 0;
}

static void au_close(struct input_file *f)
{
    struct au_state *s = f->reader_state;
    if (!s)
        return;
    for (size_t i = 0; i < AU_MAX_OPEN; i++)
        buf_free(&s->slot[i].st);
    free(s->procs);
    free(s->rb);
    free(s);
    f->reader_state = NULL;
}

static uint64_t proc_key(uint64_t node_hash, int64_t pid)
{
    return (node_hash ^ ((uint64_t)pid * 0x9E3779B97F4A7C15ull)) | 1;   /* never 0 */
}

/* Direct-mapped: the newest process wins a slot. */
static struct au_proc *proc_slot(struct au_state *s, uint64_t node_hash, int64_t pid)
{
    uint64_t key = proc_key(node_hash, pid);
    struct au_proc *p = &s->procs[hash_mix(key) % AU_PROC_SLOTS];
    p->key = key;
    return p;
}

static const struct au_proc *proc_find(const struct au_state *s, uint64_t node_hash, int64_t pid)
{
    uint64_t key = proc_key(node_hash, pid);
    const struct au_proc *p = &s->procs[hash_mix(key) % AU_PROC_SLOTS];
    return p->key == key ? p : NULL;
}

/* The SYSCALL facts the process table needs, read on this thread. */
static void note_syscall(struct au_open *e, const struct au_hdr *h, const char *end)
{
    struct au_cur c = {h->body, end, h->interp ? TOK_INTERP : TOK_RAW};
    struct au_kv kv;
    const char *arch = NULL, *sc = NULL;
    uint32_t alen = 0, sclen = 0;
    bool ok, success = true;
    e->has_sys = true;
    e->pid = e->ppid = -1;
    while (au_next(&c, &kv)) {
        if (NAME_IS(&kv, "pid"))
            e->pid = parse_dec(kv.val, kv.vlen, &ok);
        else if (NAME_IS(&kv, "ppid"))
            e->ppid = parse_dec(kv.val, kv.vlen, &ok);
        else if (NAME_IS(&kv, "arch"))
            arch = kv.val, alen = kv.vlen;
        else if (NAME_IS(&kv, "syscall"))
            sc = kv.val, sclen = kv.vlen;
        else if (NAME_IS(&kv, "success"))
            success = SLICE_IS(kv.val, kv.vlen, "yes");
        else if (NAME_IS(&kv, "exe")) {
            if (!kv.quote && !h->interp && is_hex(kv.val, kv.vlen) && kv.vlen / 2 <= AU_EXE_MAX) {
                e->exe_len = (uint32_t)hex_decode(kv.val, kv.vlen, e->exe);
            } else if (kv.vlen <= AU_EXE_MAX) {
                memcpy(e->exe, kv.val, kv.vlen);
                e->exe_len = kv.vlen;
            }
        }
    }
    uint32_t nl = 0;
    const char *name = sc ? syscall_name(arch, alen, sc, sclen, h->interp, &nl) : NULL;
    e->is_exec = success && name && (SLICE_IS(name, nl, "execve") || SLICE_IS(name, nl, "execveat"));
    if (e->pid < 0)
        e->has_sys = false;
}

/* Moves the oldest open event into the unit. */
static void flush_head(struct au_state *s, struct unit *u)
{
    struct au_open *e = &s->slot[s->head];
    struct ev_payload ep = {.nrec = e->nrec, .dropped = e->dropped, .bytes = e->bytes};
    uint64_t line = 0;
    if (e->st.len >= sizeof(struct item)) {
        struct item first;
        memcpy(&first, e->st.p, sizeof(first));
        line = first.line;
    }
    unit_item(u, IT_EVENT, e->dropped ? EV_TRUNCATED : 0, line, &ep, sizeof(ep));
    if (e->has_sys) {
        if (e->is_exec && e->ppid >= 0) {
            const struct au_proc *pp = proc_find(s, e->node_hash, e->ppid);
            if (pp)
                unit_item(u, IT_PARENT, 0, line, pp->exe, pp->len);
        }
        if (e->exe_len) {
            struct au_proc *p = proc_slot(s, e->node_hash, e->pid);
            memcpy(p->exe, e->exe, e->exe_len);
            p->len = e->exe_len;
        }
    }
    if (e->st.len)
        memcpy(unit_room(u, e->st.len), e->st.p, e->st.len);
    s->staged -= e->st.len;
    buf_clear(&e->st);
    if (e->st.cap > (1u << 20))
        buf_free(&e->st);   /* a big event: give the memory back */
    s->head = (s->head + 1) % AU_MAX_OPEN;
    s->nopen--;
}

static void flush_ready(struct au_state *s, struct unit *u, bool all)
{
    while (s->nopen) {
        struct au_open *e = &s->slot[s->head];
        if (!(all || e->done || s->records - e->last_seen > AU_WINDOW || s->staged > AU_STAGING_MAX))
            break;
        flush_head(s, u);
    }
}

static void bad_line(struct unit *u, uint64_t line, const char *why)
{
    unit_item(u, IT_BAD, 0, line, why, (uint32_t)strlen(why));
}

static void take_line(struct au_state *s, struct unit *u, const char *p, size_t n, uint64_t line)
{
    while (n && (p[n - 1] == '\r' || p[n - 1] == ' '))
        n--;
    const char *end = p + n;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    if (p == end)
        return;
    if (end - p >= 6 && memcmp(p, "time->", 6) == 0)
        return;   /* ausearch without -i: the time of the next event, also in its records */
    if (end - p >= 4 && memcmp(p, "----", 4) == 0) {
        /* ausearch: the events so far are complete */
        for (uint32_t i = 0; i < s->nopen; i++)
            s->slot[(s->head + i) % AU_MAX_OPEN].done = true;
        flush_ready(s, u, false);
        return;
    }
    struct au_hdr h;
    const char *why = au_header(p, end, &h);
    if (why) {
        bad_line(u, line, why);
        return;
    }
    s->records++;
    /* the event it belongs to: node + time:serial; the newest first */
    char key[AU_KEY_MAX];
    uint32_t klen = h.node_len + 1 + h.stamp_len;
    if (klen > sizeof(key)) {
        bad_line(u, line, "record header too long");
        return;
    }
    if (h.node_len)
        memcpy(key, h.node, h.node_len);
    key[h.node_len] = '|';
    memcpy(key + h.node_len + 1, h.stamp, h.stamp_len);
    struct au_open *e = NULL;
    for (uint32_t i = s->nopen; i-- > 0;) {
        struct au_open *c = &s->slot[(s->head + i) % AU_MAX_OPEN];
        /* the serial is at the end: compare from there */
        if (c->key_len == klen && c->key[klen - 1] == key[klen - 1] && memcmp(c->key, key, klen) == 0 && !c->done) {
            e = c;
            break;
        }
    }
    bool eoe = SLICE_IS(h.type, h.type_len, "EOE");
    if (!e) {
        if (eoe)
            return;   /* the end of an event already gone */
        if (s->nopen == AU_MAX_OPEN)
            flush_head(s, u);
        e = &s->slot[(s->head + s->nopen) % AU_MAX_OPEN];
        s->nopen++;
        memcpy(e->key, key, klen);
        e->key_len = klen;
        e->nrec = e->dropped = 0;
        e->bytes = 0;
        e->done = false;
        e->has_sys = e->is_exec = false;
        e->exe_len = 0;
        e->node_hash = h.node_len ? hash_bytes(h.node, h.node_len, 3) : 0;
    }
    e->last_seen = s->records;
    if (eoe) {
        e->done = true;
    } else if (e->nrec >= AU_MAX_RECORDS || e->bytes + n > AU_EVENT_MAX_BYTES) {
        e->dropped++;
    } else {
        size_t before = e->st.len;
        buf_item(&e->st, IT_REC, 0, line, p, (uint32_t)n);
        s->staged += e->st.len - before;
        e->nrec++;
        e->bytes += n;
        if (SLICE_IS(h.type, h.type_len, "SYSCALL") && !e->has_sys)
            note_syscall(e, &h, end);
    }
    flush_ready(s, u, false);
}

/* The next line of the input, or false at its end. */
static bool next_line(struct au_state *s, struct input *in, struct unit *u, const char **lp, size_t *ln,
                      char *why, size_t whylen, int *err)
{
    for (;;) {
        char *p = s->rb + s->rb_pos;
        size_t avail = s->rb_len - s->rb_pos;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl) {
            s->rb_pos += (size_t)(nl - p) + 1;
            uint64_t line = s->line++;
            if (s->skipping) {
                s->skipping = false;   /* the end of an over-long line */
                continue;
            }
            if ((size_t)(nl - p) > AU_LINE_MAX) {
                bad_line(u, line, "line longer than 64 KiB, skipped");
                continue;
            }
            *lp = p;
            *ln = (size_t)(nl - p);
            return true;
        }
        if (s->eof) {
            if (!avail)
                return false;
            s->rb_pos = s->rb_len;
            uint64_t line = s->line++;
            if (s->skipping || avail > AU_LINE_MAX) {
                if (!s->skipping)
                    bad_line(u, line, "line longer than 64 KiB, skipped");
                s->skipping = false;
                continue;
            }
            *lp = p;
            *ln = avail;
            return true;
        }
        if (avail >= AU_LINE_MAX) {
            /* an endless line: report it once and drop bytes until its end */
            if (!s->skipping)
                bad_line(u, s->line, "line longer than 64 KiB, skipped");
            s->skipping = true;
            s->rb_pos = s->rb_len = 0;
            avail = 0;
        }
        memmove(s->rb, s->rb + s->rb_pos, avail);
        s->rb_len = avail;
        s->rb_pos = 0;
        long r = input_read(in, s->rb + s->rb_len, s->rb_cap - s->rb_len, why, whylen);
        if (r < 0) {
            *err = -1;
            return false;
        }
        if (r == 0)
            s->eof = true;
        s->rb_len += (size_t)r;
    }
}

static int au_fill(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen)
{
    struct au_state *s = f->reader_state;
    u->len = 0;
    u->mode = 1;
    u->first_line = s->line;
    int err = 0;
    while (u->len < UNIT_BYTES) {
        const char *lp;
        size_t ln;
        uint64_t line = s->line;
        if (!next_line(s, in, u, &lp, &ln, why, whylen, &err)) {
            flush_ready(s, u, true);
            break;
        }
        take_line(s, u, lp, ln, line);
    }
    if (err)
        return -1;
    return u->len ? 1 : 0;
}

/* ------------------------------------------------------------- worker */

struct au_arg {
    const char *v;
    uint32_t len;
    bool set;
};

struct au_piece {
    const char *v;
    uint32_t len;
    uint32_t arg, piece;
    bool hex;
};

struct au_path {
    const char *name, *nametype;
    uint32_t name_len, nametype_len;
};

/* What the derived views need, gathered while the raw event is emitted. */
struct au_facts {
    const char *sc, *exe, *pid, *ppid, *uid, *uid_name, *auid, *ses, *cwd, *success, *exit, *proctitle;
    uint32_t sc_len, exe_len, pid_len, ppid_len, uid_len, uid_name_len, auid_len, ses_len, cwd_len, success_len,
        exit_len, proctitle_len;
    const char *sa[4];
    uint32_t sa_len[4];
    bool has_syscall, has_execve;
    int64_t argc;
    uint32_t nargs;            /* highest argument index seen + 1 */
    const char *fam, *addr, *port;
    uint32_t fam_len, addr_len, port_len;
    struct au_path paths[AU_MAX_PATHS];
    uint32_t npaths;
    const char *parent;
    uint32_t parent_len;
    const char *computer, *time;
    uint32_t computer_len, time_len;
    const char *eid;
    uint32_t eid_len;
};

#define AU_NAME_CACHE 512

struct au_name_slot {
    char name[23];
    uint8_t len;               /* 0: empty */
    uint32_t id;
};

struct au_worker {
    const struct event_sink *sink;
    struct au_name_slot names[AU_NAME_CACHE];   /* field name -> id, the ruleset's for this hunt */
    struct unit *u;
    char *dec;                 /* decoded values of the current event */
    size_t dec_len, dec_cap;
    struct au_arg *argv;
    struct au_hdr *hdrs;       /* the current event's record headers (NULL type: unreadable) */
    const char **rec_end;
    uint64_t *rec_line;
    struct au_piece *pieces;   /* a<N>[k] of long arguments, joined at the end */
    uint32_t npieces;
    struct au_facts f;
    bool full;                 /* the sink refused a field */
    bool warned_pieces;
    uint64_t line;             /* of the record being read */
    uint64_t record;
    int64_t time_sec;          /* the last second formatted */
    char time_str[32];
    size_t time_len;
};

static void *au_worker_create(const struct mapping *map)
{
    (void)map;
    struct au_worker *w = xcalloc(1, sizeof(*w));
    w->argv = xcalloc(AU_MAX_ARGS, sizeof(*w->argv));
    w->pieces = xcalloc(AU_MAX_PIECES, sizeof(*w->pieces));
    w->hdrs = xcalloc(AU_MAX_RECORDS, sizeof(*w->hdrs));
    w->rec_end = xcalloc(AU_MAX_RECORDS, sizeof(*w->rec_end));
    w->rec_line = xcalloc(AU_MAX_RECORDS, sizeof(*w->rec_line));
    return w;
}

static void au_worker_destroy(void *ws)
{
    struct au_worker *w = ws;
    if (!w)
        return;
    free(w->dec);
    free(w->argv);
    free(w->pieces);
    free(w->hdrs);
    free(w->rec_end);
    free(w->rec_line);
    free(w);
}

/* n bytes of the event's decode buffer, or NULL when the reservation is
 * used up (the value is then left out; cannot happen within the estimate). */
static char *dec_alloc(struct au_worker *w, size_t n)
{
    if (w->dec_cap - w->dec_len < n)
        return NULL;
    char *p = w->dec + w->dec_len;
    w->dec_len += n;
    return p;
}

/* Field names repeat endlessly (pid, uid, exe, ...): a small direct-mapped
 * cache spares the ruleset's name table a lookup per field. */
static uint32_t name_id(struct au_worker *w, const char *name, uint32_t nlen)
{
    const struct event_sink *s = w->sink;
    if (nlen == 0 || nlen > sizeof(w->names[0].name))
        return s->field_id(s->ctx, name, nlen);
    uint32_t h = 2166136261u;
    for (uint32_t i = 0; i < nlen; i++)
        h = (h ^ (unsigned char)name[i]) * 16777619u;
    struct au_name_slot *c = &w->names[(h ^ (h >> 15)) % AU_NAME_CACHE];
    if (c->len == nlen && memcmp(c->name, name, nlen) == 0)
        return c->id;
    c->id = s->field_id(s->ctx, name, nlen);
    memcpy(c->name, name, nlen);
    c->len = (uint8_t)nlen;
    return c->id;
}

static void emit(struct au_worker *w, const char *name, uint32_t nlen, const char *val, uint32_t vlen, uint8_t type)
{
    if (w->full)
        return;
    const struct event_sink *s = w->sink;
    if (!s->field(s->ctx, name, nlen, name_id(w, name, nlen), val, vlen, type))
        w->full = true;
}

/* A field whose name is a string literal. */
#define emit_lit(w, lit, val, vlen) emit((w), (lit), sizeof(lit) - 1, (val), (vlen), STOAT_V_STRING)

static void warn(struct au_worker *w, uint64_t line, const char *why)
{
    w->sink->bad(w->sink->ctx, line, 0, false, true, why);
}

/* A value as it should be read: hex decoded for the fields auditd encodes. */
static void value_of(struct au_worker *w, const struct au_kv *kv, bool raw, const char **v, uint32_t *n)
{
    *v = kv->val;
    *n = kv->vlen;
    if (raw && !kv->quote && hex_field(kv) && is_hex(kv->val, kv->vlen)) {
        char *o = dec_alloc(w, kv->vlen / 2);
        if (o) {
            *v = o;
            *n = (uint32_t)hex_decode(kv->val, kv->vlen, o);
        }
    }
}

/* a<N>, a<N>[<K>] or a<N>_len: returns the kind (1 arg, 2 piece, 3 len, 0 not). */
static int arg_name(const struct au_kv *kv, uint32_t *idx, uint32_t *piece)
{
    const char *p = kv->name, *end = p + kv->nlen;
    if (kv->nlen < 2 || *p != 'a' || !is_digit(p[1]))
        return 0;
    p++;
    uint64_t n = 0;
    while (p < end && is_digit(*p)) {
        n = n * 10 + (uint64_t)(*p - '0');
        if (n > 1u << 30)
            return 0;
        p++;
    }
    *idx = (uint32_t)n;
    if (p == end)
        return 1;
    if (end - p == 4 && memcmp(p, "_len", 4) == 0)
        return 3;
    if (*p != '[')
        return 0;
    p++;
    uint64_t k = 0;
    const char *d = p;
    while (p < end && is_digit(*p)) {
        k = k * 10 + (uint64_t)(*p - '0');
        if (k > 1u << 30)
            return 0;
        p++;
    }
    if (p == d || p + 1 != end || *p != ']')
        return 0;
    *piece = (uint32_t)k;
    return 2;
}

static void execve_field(struct au_worker *w, const struct au_kv *kv, bool raw)
{
    uint32_t idx = 0, piece = 0;
    int kind = arg_name(kv, &idx, &piece);
    if (kind == 0) {
        if (NAME_IS(kv, "argc")) {
            bool ok;
            int64_t a = parse_dec(kv->val, kv->vlen, &ok);
            if (ok)
                w->f.argc = a;
        }
        emit(w, kv->name, kv->nlen, kv->val, kv->vlen, STOAT_V_STRING);
        return;
    }
    if (kind == 3)
        return;   /* a<N>_len: the pieces say it */
    if (idx >= AU_MAX_ARGS)
        return;
    const char *v = kv->val;
    uint32_t n = kv->vlen;
    bool hex = raw && !kv->quote && is_hex(v, n);
    struct au_arg *a = &w->argv[idx];
    if (idx + 1 > w->f.nargs)
        w->f.nargs = idx + 1;
    if (kind == 1) {
        if (hex) {
            char *o = dec_alloc(w, n / 2);
            if (!o)
                return;
            n = (uint32_t)hex_decode(v, n, o);
            v = o;
        }
        *a = (struct au_arg){v, n, true};
        return;
    }
    /* a piece: kept until every record is in (ausearch -i prints the
     * records of an event last to first) */
    if (w->npieces == AU_MAX_PIECES) {
        if (!w->warned_pieces)
            warn(w, w->line, "more than 8192 pieces of long arguments; the rest were left out");
        w->warned_pieces = true;
        return;
    }
    w->pieces[w->npieces++] = (struct au_piece){v, n, idx, piece, hex};
    a->set = true;
}

static int piece_cmp(const void *a, const void *b)
{
    const struct au_piece *x = a, *y = b;
    if (x->arg != y->arg)
        return x->arg < y->arg ? -1 : 1;
    return x->piece < y->piece ? -1 : x->piece > y->piece;
}

/* Long arguments from their pieces, in piece order. */
static void join_pieces(struct au_worker *w)
{
    if (!w->npieces)
        return;
    qsort(w->pieces, w->npieces, sizeof(*w->pieces), piece_cmp);
    for (uint32_t i = 0; i < w->npieces;) {
        uint32_t j = i;
        size_t total = 0;
        while (j < w->npieces && w->pieces[j].arg == w->pieces[i].arg) {
            total += w->pieces[j].hex ? w->pieces[j].len / 2 : w->pieces[j].len;
            j++;
        }
        char *o = dec_alloc(w, total);
        if (o) {
            size_t k = 0;
            for (uint32_t p = i; p < j; p++) {
                const struct au_piece *pc = &w->pieces[p];
                if (pc->hex) {
                    k += hex_decode(pc->v, pc->len, o + k);
                } else {
                    memcpy(o + k, pc->v, pc->len);
                    k += pc->len;
                }
            }
            w->argv[w->pieces[i].arg] = (struct au_arg){o, (uint32_t)k, true};
        }
        i = j;
    }
}

/* SOCKADDR saddr in hex: family, address, port (ausearch's names). */
static void decode_saddr(struct au_worker *w, const char *hex, uint32_t n)
{
    if (!is_hex(hex, n) || n / 2 < 2)
        return;
    unsigned char b[128];
    uint32_t bn = n / 2 < sizeof(b) ? n / 2 : (uint32_t)sizeof(b);
    for (uint32_t i = 0; i < bn; i++)
        b[i] = (unsigned char)(hexval(hex[2 * i]) << 4 | hexval(hex[2 * i + 1]));
    unsigned fam = b[0] | (unsigned)b[1] << 8;
    if (fam > 255)
        fam = (unsigned)b[0] << 8 | b[1];   /* a big-endian machine */
    char addr[INET6_ADDRSTRLEN];
    const char *fname = NULL;
    unsigned port = 0;
    bool have_addr = false;
    if (fam == 2 && bn >= 8) {
        fname = "inet";
        port = (unsigned)b[2] << 8 | b[3];
        have_addr = inet_ntop(AF_INET, b + 4, addr, sizeof(addr)) != NULL;
    } else if (fam == 10 && bn >= 24) {
        fname = "inet6";
        port = (unsigned)b[2] << 8 | b[3];
        have_addr = inet_ntop(AF_INET6, b + 8, addr, sizeof(addr)) != NULL;
    } else if (fam == 1) {
        fname = "local";
        uint32_t start = 2, end = start;
        if (bn > 2 && b[2] == 0)
            start = end = 3;   /* abstract socket */
        while (end < bn && b[end])
            end++;
        char *o = dec_alloc(w, end - start + 1);
        if (o) {
            size_t k = 0;
            if (start == 3)
                o[k++] = '@';
            memcpy(o + k, b + start, end - start);
            emit_lit(w, "saddr_fam", "local", 5);
            emit_lit(w, "path", o, (uint32_t)(k + end - start));
        }
        return;
    } else if (fam == 16) {
        emit_lit(w, "saddr_fam", "netlink", 7);
        return;
    }
    if (!fname || !have_addr)
        return;
    size_t al = strlen(addr);
    char *o = dec_alloc(w, al + 8);
    if (!o)
        return;
    memcpy(o, addr, al);
    int pl = snprintf(o + al, 8, "%u", port);
    w->f.fam = fname;
    w->f.fam_len = (uint32_t)strlen(fname);
    w->f.addr = o;
    w->f.addr_len = (uint32_t)al;
    w->f.port = o + al;
    w->f.port_len = (uint32_t)pl;
    emit_lit(w, "saddr_fam", fname, w->f.fam_len);
    emit_lit(w, "laddr", o, (uint32_t)al);
    emit_lit(w, "lport", o + al, (uint32_t)pl);
}

/* The fields inside msg='...' or {...}: one level, no further nesting. */
static void nested_fields(struct au_worker *w, const struct au_kv *outer, bool raw, bool sockaddr)
{
    struct au_cur c = {outer->val, outer->val + outer->vlen, raw ? TOK_RAW : TOK_INTERP};
    struct au_kv kv;
    bool any = false;
    while (au_next(&c, &kv)) {
        any = true;
        const char *v;
        uint32_t n;
        value_of(w, &kv, raw, &v, &n);
        if (sockaddr) {
            if (NAME_IS(&kv, "saddr_fam"))
                w->f.fam = v, w->f.fam_len = n;
            else if (NAME_IS(&kv, "laddr"))
                w->f.addr = v, w->f.addr_len = n;
            else if (NAME_IS(&kv, "lport"))
                w->f.port = v, w->f.port_len = n;
        }
        emit(w, kv.name, kv.nlen, v, n, STOAT_V_STRING);
    }
    if (!any)
        emit(w, outer->name, outer->nlen, outer->val, outer->vlen, STOAT_V_STRING);
}

enum { R_OTHER, R_SYSCALL, R_EXECVE, R_PATH, R_CWD, R_SOCKADDR, R_PROCTITLE };

static int rkind(const char *t, uint32_t n)
{
    switch (n) {
    case 3: return SLICE_IS(t, n, "CWD") ? R_CWD : R_OTHER;
    case 4: return SLICE_IS(t, n, "PATH") ? R_PATH : R_OTHER;
    case 6: return SLICE_IS(t, n, "EXECVE") ? R_EXECVE : R_OTHER;
    case 7: return SLICE_IS(t, n, "SYSCALL") ? R_SYSCALL : R_OTHER;
    case 8: return SLICE_IS(t, n, "SOCKADDR") ? R_SOCKADDR : R_OTHER;
    case 9: return SLICE_IS(t, n, "PROCTITLE") ? R_PROCTITLE : R_OTHER;
    default: return R_OTHER;
    }
}

#define SET(f, field, v, n) ((f)->field = (v), (f)->field##_len = (n))

static void one_record(struct au_worker *w, const struct au_hdr *h, const char *end)
{
    bool raw = !h->interp;
    int kind = rkind(h->type, h->type_len);
    struct au_facts *f = &w->f;
    emit(w, "type", 4, h->type, h->type_len, STOAT_V_STRING);
    int mode = raw ? TOK_RAW : kind == R_EXECVE ? TOK_INTERP_ARGS : kind == R_PROCTITLE ? TOK_REST : TOK_INTERP;
    struct au_cur c = {h->body, end, mode};
    struct au_kv kv;
    struct au_path *path = NULL;
    bool enriched_syscall = false, saddr_done = false;
    if (kind == R_PATH && f->npaths < AU_MAX_PATHS)
        path = &f->paths[f->npaths++];
    if (path)
        memset(path, 0, sizeof(*path));
    while (au_next(&c, &kv)) {
        if (kv.unterminated)
            warn(w, w->line, "unterminated quoted value (a truncated record?); the value is kept as it stands");
        if (kind == R_EXECVE) {
            execve_field(w, &kv, raw);
            continue;
        }
        if (kv.quote == '\'' || (kv.quote == '{' && kind != R_SOCKADDR)) {
            nested_fields(w, &kv, raw, false);
            continue;
        }
        const char *v;
        uint32_t n;
        value_of(w, &kv, raw, &v, &n);
        switch (kind) {
        case R_SYSCALL:
            if (kv.nlen == 2 && kv.name[0] == 'a' && kv.name[1] >= '0' && kv.name[1] <= '3') {
                int i = kv.name[1] - '0';
                f->sa[i] = v;
                f->sa_len[i] = n;
                if (f->has_execve) {
                    char nm[] = "syscall_a0";
                    nm[9] = kv.name[1];
                    /* the names live as long as the event: use the decode buffer */
                    char *o = dec_alloc(w, sizeof(nm));
                    if (o) {
                        memcpy(o, nm, sizeof(nm));
                        emit(w, o, sizeof(nm) - 1, v, n, STOAT_V_STRING);
                    }
                    continue;
                }
            } else if (NAME_IS(&kv, "syscall")) {
                SET(f, sc, v, n);
            } else if (NAME_IS(&kv, "SYSCALL")) {
                SET(f, sc, v, n);
                enriched_syscall = true;
            } else if (NAME_IS(&kv, "exe")) {
                SET(f, exe, v, n);
            } else if (NAME_IS(&kv, "pid")) {
                SET(f, pid, v, n);
            } else if (NAME_IS(&kv, "ppid")) {
                SET(f, ppid, v, n);
            } else if (NAME_IS(&kv, "uid")) {
                SET(f, uid, v, n);
            } else if (NAME_IS(&kv, "UID")) {
                SET(f, uid_name, v, n);
            } else if (NAME_IS(&kv, "auid")) {
                SET(f, auid, v, n);
            } else if (NAME_IS(&kv, "ses")) {
                SET(f, ses, v, n);
            } else if (NAME_IS(&kv, "success")) {
                SET(f, success, v, n);
            } else if (NAME_IS(&kv, "exit")) {
                SET(f, exit, v, n);
            } else if (NAME_IS(&kv, "arch") && raw) {
                /* resolved below with the number */
            }
            break;
        case R_CWD:
            if (NAME_IS(&kv, "cwd"))
                SET(f, cwd, v, n);
            break;
        case R_PATH:
            if (path && NAME_IS(&kv, "name"))
                path->name = v, path->name_len = n;
            else if (path && NAME_IS(&kv, "nametype"))
                path->nametype = v, path->nametype_len = n;
            break;
        case R_SOCKADDR:
            if (NAME_IS(&kv, "saddr") && !kv.quote && raw) {
                emit(w, kv.name, kv.nlen, v, n, STOAT_V_STRING);
                decode_saddr(w, v, n);
                saddr_done = w->f.fam != NULL;
                continue;
            }
            if (kv.quote == '{') {
                if (!saddr_done)
                    nested_fields(w, &kv, raw, true);
                continue;
            }
            break;
        case R_PROCTITLE:
            if (NAME_IS(&kv, "proctitle") && !kv.quote && raw && v != kv.val) {
                /* arguments are NUL-separated: show them with blanks */
                char *o = (char *)v;
                for (uint32_t i = 0; i < n; i++)
                    if (!o[i])
                        o[i] = ' ';
                while (n && o[n - 1] == ' ')
                    n--;
            }
            if (NAME_IS(&kv, "proctitle"))
                SET(f, proctitle, v, n);
            break;
        default:
            break;
        }
        if (NAME_IS(&kv, "key") && memchr(v, '\x01', n)) {
            /* several rule keys: one value each */
            const char *p = v, *e = v + n;
            while (p <= e) {
                const char *q = memchr(p, '\x01', (size_t)(e - p));
                if (!q)
                    q = e;
                emit(w, "key", 3, p, (uint32_t)(q - p), STOAT_V_STRING);
                p = q + 1;
            }
            continue;
        }
        emit(w, kv.name, kv.nlen, v, n, STOAT_V_STRING);
    }
    if (kind == R_SYSCALL) {
        f->has_syscall = true;
        if (raw && !enriched_syscall) {
            /* raw format: name the syscall as the enriched format would */
            struct au_cur c2 = {h->body, end, TOK_RAW};
            const char *arch = NULL, *num = NULL;
            uint32_t alen = 0, nlen = 0;
            while (au_next(&c2, &kv)) {
                if (NAME_IS(&kv, "arch"))
                    arch = kv.val, alen = kv.vlen;
                else if (NAME_IS(&kv, "syscall"))
                    num = kv.val, nlen = kv.vlen;
            }
            uint32_t sl = 0;
            const char *sn = num ? syscall_name(arch, alen, num, nlen, false, &sl) : NULL;
            if (sn) {
                SET(f, sc, sn, sl);
                emit(w, "SYSCALL", 7, sn, sl, STOAT_V_STRING);
            }
        } else if (!raw && !enriched_syscall && f->sc) {
            emit(w, "SYSCALL", 7, f->sc, f->sc_len, STOAT_V_STRING);
        }
    }
}

/* "2023-11-14T22:13:20.123000Z" from 1700000000.123, or the local time of
 * ausearch -i (11/19/26 21:37:05.200) as 2026-11-19T21:37:05.200. */
static void event_time(struct au_worker *w, const struct au_hdr *h)
{
    char *o = dec_alloc(w, 40);
    if (!o)
        return;
    const char *t = h->time;
    uint32_t n = h->time_len;
    if (!h->interp) {
        const char *dot = memchr(t, '.', n);
        bool ok = false;
        int64_t sec = dot && dot - t <= 11 ? parse_dec(t, (uint32_t)(dot - t), &ok) : 0;
        if (!dot || !ok || sec > 9000000000LL)
            goto asis;   /* past the year 2255: not a time we can format */
        int64_t frac = 0;
        int digits = 0;
        for (const char *q = dot + 1; q < t + n && digits < 9; q++, digits++)
            frac = frac * 10 + (*q - '0');
        while (digits++ < 9)
            frac *= 10;
        /* events of one second share the date: format it once */
        if (sec != w->time_sec || !w->time_len) {
            w->time_len = format_time_ns(sec * 1000000000LL, w->time_str);
            w->time_sec = sec;
        }
        size_t l = w->time_len;   /* "...:SS.000000Z": the micro-seconds go in place */
        memcpy(o, w->time_str, l);
        long us = (long)(frac / 1000);
        for (int k = 6; k > 0; k--, us /= 10)
            o[l - 1 - 7 + k] = (char)('0' + us % 10);
        w->f.time = o;
        w->f.time_len = (uint32_t)l;
        return;
    }
    /* M/D/Y[YY] H:M:S[.fff] */
    int mo = 0, d = 0, y = 0, hh = 0, mm = 0, ss = 0, ylen = 0;
    uint32_t i = 0;
    int *parts[3] = {&mo, &d, &y};
    for (int k = 0; k < 3; k++) {
        uint32_t st = i;
        while (i < n && is_digit(t[i]) && i - st < 4)
            *parts[k] = *parts[k] * 10 + (t[i++] - '0');
        if (i == st)
            goto asis;
        if (k == 2)
            ylen = (int)(i - st);
        if (k < 2) {
            if (i >= n || t[i] != '/')
                goto asis;
            i++;
        }
    }
    if (i >= n || t[i] != ' ')
        goto asis;
    i++;
    int *tp[3] = {&hh, &mm, &ss};
    for (int k = 0; k < 3; k++) {
        if (n - i < 2 || !is_digit(t[i]) || !is_digit(t[i + 1]))
            goto asis;
        *tp[k] = (t[i] - '0') * 10 + (t[i + 1] - '0');
        i += 2;
        if (k < 2) {
            if (i >= n || t[i] != ':')
                goto asis;
            i++;
        }
    }
    if (ylen == 2)
        y += 2000;
    if (mo < 1 || mo > 12 || d < 1 || d > 31 || hh > 23 || mm > 59 || ss > 60 || (ylen != 2 && ylen != 4))
        goto asis;
    int l = snprintf(o, 40, "%04d-%02d-%02dT%02d:%02d:%02d", y, mo, d, hh, mm, ss);
    if (i < n && t[i] == '.') {
        uint32_t st = i;
        i++;
        while (i < n && is_digit(t[i]) && i - st <= 9)
            i++;
        memcpy(o + l, t + st, i - st);
        l += (int)(i - st);
    }
    w->f.time = o;
    w->f.time_len = (uint32_t)l;
    return;
asis:
    memcpy(o, t, n < 40 ? n : 40);
    w->f.time = o;
    w->f.time_len = n < 40 ? n : 40;
}

#define is_sc(f, lit) ((f)->sc && SLICE_IS((f)->sc, (f)->sc_len, lit))

static bool succeeded(const struct au_facts *f)
{
    return !f->success || SLICE_IS(f->success, f->success_len, "yes");
}

static void view_common(struct au_worker *w, const char *eid)
{
    const struct au_facts *f = &w->f;
    emit_lit(w, "Channel", CHANNEL_VIEW, sizeof(CHANNEL_VIEW) - 1);
    emit(w, "EventID", 7, eid, (uint32_t)strlen(eid), STOAT_V_NUMBER);
    if (f->computer)
        emit_lit(w, "Computer", f->computer, f->computer_len);
    if (f->time)
        emit_lit(w, "audit_time", f->time, f->time_len);
    if (f->exe)
        emit_lit(w, "Image", f->exe, f->exe_len);
    if (f->uid_name)
        emit_lit(w, "User", f->uid_name, f->uid_name_len);
    else if (f->uid)
        emit_lit(w, "User", f->uid, f->uid_len);
    if (f->pid)
        emit_lit(w, "ProcessId", f->pid, f->pid_len);
}

static void view_begin(struct au_worker *w, uint64_t line)
{
    w->full = false;
    w->sink->begin(w->sink->ctx, w->record, line, 0);
}

static void view_end(struct au_worker *w)
{
    w->sink->end(w->sink->ctx);
}

static void view_process(struct au_worker *w, uint64_t line)
{
    struct au_facts *f = &w->f;
    /* the command line: the arguments joined by blanks */
    const char *cmd = NULL;
    size_t cl = 0;
    uint32_t nargs = f->argc > 0 && f->argc <= AU_MAX_ARGS ? (uint32_t)f->argc : f->nargs;
    if (f->has_execve && nargs) {
        size_t total = 0;
        for (uint32_t i = 0; i < nargs; i++)
            total += w->argv[i].len + 1;
        char *o = dec_alloc(w, total);
        if (o) {
            for (uint32_t i = 0; i < nargs; i++) {
                if (i)
                    o[cl++] = ' ';
                memcpy(o + cl, w->argv[i].v ? w->argv[i].v : "", w->argv[i].len);
                cl += w->argv[i].len;
            }
            cmd = o;
        }
    } else if (f->proctitle) {
        cmd = f->proctitle;
        cl = f->proctitle_len;
    }
    view_begin(w, line);
    view_common(w, "1");
    if (cmd)
        emit_lit(w, "CommandLine", cmd, (uint32_t)cl);
    if (f->cwd)
        emit_lit(w, "CurrentDirectory", f->cwd, f->cwd_len);
    if (f->ses)
        emit_lit(w, "LogonId", f->ses, f->ses_len);
    if (f->ppid)
        emit_lit(w, "ParentProcessId", f->ppid, f->ppid_len);
    if (f->parent)
        emit_lit(w, "ParentImage", f->parent, f->parent_len);
    view_end(w);
}

static void view_network(struct au_worker *w, uint64_t line, bool initiated)
{
    struct au_facts *f = &w->f;
    bool v6 = SLICE_IS(f->fam, f->fam_len, "inet6");
    view_begin(w, line);
    view_common(w, "3");
    emit_lit(w, "Initiated", initiated ? "true" : "false", initiated ? 4 : 5);
    if (initiated) {
        emit_lit(w, "DestinationIp", f->addr, f->addr_len);
        if (f->port)
            emit_lit(w, "DestinationPort", f->port, f->port_len);
        emit_lit(w, "DestinationIsIpv6", v6 ? "true" : "false", v6 ? 4 : 5);
    } else {
        emit_lit(w, "SourceIp", f->addr, f->addr_len);
        if (f->port)
            emit_lit(w, "SourcePort", f->port, f->port_len);
        emit_lit(w, "SourceIsIpv6", v6 ? "true" : "false", v6 ? 4 : 5);
    }
    view_end(w);
}

/* cwd + "/" + name for a relative name. */
static void full_path(struct au_worker *w, const struct au_path *p, const char **out, uint32_t *n)
{
    *out = p->name;
    *n = p->name_len;
    if (!p->name_len || p->name[0] == '/' || !w->f.cwd)
        return;
    const char *nm = p->name;
    uint32_t nl = p->name_len;
    while (nl >= 2 && nm[0] == '.' && nm[1] == '/') {
        nm += 2;
        nl -= 2;
    }
    uint32_t cl = w->f.cwd_len;
    while (cl > 1 && w->f.cwd[cl - 1] == '/')
        cl--;
    char *o = dec_alloc(w, (size_t)cl + 1 + nl);
    if (!o)
        return;
    memcpy(o, w->f.cwd, cl);
    size_t k = cl;
    if (!(cl == 1 && o[0] == '/'))
        o[k++] = '/';
    memcpy(o + k, nm, nl);
    *out = o;
    *n = (uint32_t)(k + nl);
}

static bool usable_name(const struct au_path *p)
{
    return p->name && p->name_len && !SLICE_IS(p->name, p->name_len, "(null)");
}

/* Open flags ask for writing: raw hex (O_WRONLY|O_RDWR|O_CREAT|O_TRUNC) or
 * ausearch's names. */
static bool write_flags(const char *v, uint32_t n)
{
    if (!v)
        return false;
    uint64_t x;
    if (parse_hex_u64(v, n, &x))
        return (x & (0x1 | 0x2 | 0x40 | 0x200)) != 0;
    return memmem(v, n, "O_WRONLY", 8) || memmem(v, n, "O_RDWR", 6) || memmem(v, n, "O_CREAT", 7) ||
           memmem(v, n, "O_TRUNC", 7);
}

static void view_files(struct au_worker *w, uint64_t line)
{
    struct au_facts *f = &w->f;
    if (!succeeded(f))
        return;
    const struct au_path *create = NULL, *del = NULL, *last = NULL;
    for (uint32_t i = 0; i < f->npaths; i++) {
        const struct au_path *p = &f->paths[i];
        if (!usable_name(p))
            continue;
        if (SLICE_IS(p->nametype, p->nametype_len, "CREATE") && !create)
            create = p;
        else if (SLICE_IS(p->nametype, p->nametype_len, "DELETE") && !del)
            del = p;
        else if (!SLICE_IS(p->nametype, p->nametype_len, "PARENT"))
            last = p;
    }
    const struct au_path *target = create;
    if (!target && last) {
        if (is_sc(f, "creat") || (is_sc(f, "open") && write_flags(f->sa[1], f->sa_len[1])) ||
            (is_sc(f, "openat") && write_flags(f->sa[2], f->sa_len[2])))
            target = last;
    }
    const char *p;
    uint32_t n;
    if (target) {
        full_path(w, target, &p, &n);
        view_begin(w, line);
        view_common(w, "11");
        emit_lit(w, "TargetFilename", p, n);
        view_end(w);
    }
    if (del) {
        full_path(w, del, &p, &n);
        view_begin(w, line);
        view_common(w, "23");
        emit_lit(w, "TargetFilename", p, n);
        view_end(w);
    }
}

static void views(struct au_worker *w, uint64_t line)
{
    struct au_facts *f = &w->f;
    if (!f->has_syscall || !f->sc)
        return;
    if ((is_sc(f, "execve") || is_sc(f, "execveat")) && succeeded(f)) {
        view_process(w, line);
        return;
    }
    bool connect = is_sc(f, "connect"), accept = is_sc(f, "accept") || is_sc(f, "accept4");
    if (is_sc(f, "socketcall") && f->sa[0]) {
        uint64_t call;
        if (parse_hex_u64(f->sa[0], f->sa_len[0], &call)) {
            connect = call == 3;
            accept = call == 5 || call == 18;
        } else {
            connect = SLICE_IS(f->sa[0], f->sa_len[0], "connect");
            accept = SLICE_IS(f->sa[0], f->sa_len[0], "accept") || SLICE_IS(f->sa[0], f->sa_len[0], "accept4");
        }
    }
    if ((connect || accept) && f->addr &&
        (SLICE_IS(f->fam, f->fam_len, "inet") || SLICE_IS(f->fam, f->fam_len, "inet6"))) {
        view_network(w, line, connect);
        return;
    }
    if (f->npaths)
        view_files(w, line);
}

/* One event: its records are the next nrec IT_REC items at p. */
static const char *one_event(struct au_worker *w, uint64_t line, const struct ev_payload *evp, const char *p,
                             const char *end)
{
    const struct event_sink *s = w->sink;
    struct ev_payload ep = *evp;
    memset(&w->f, 0, sizeof(w->f));
    w->full = false;
    w->npieces = 0;
    w->warned_pieces = false;
    /* what is decoded stays within four times the event's bytes (hex
     * halves, arguments joined from pieces, the command line and the paths
     * joined to cwd each take at most the bytes once more) plus the names of
     * the argument fields; dec_alloc refuses rather than overflow anyway */
    size_t need = 4 * (size_t)ep.bytes + 32768;
    if (w->dec_cap < need) {
        free(w->dec);
        w->dec_cap = need;
        w->dec = xmalloc(need);
    }
    w->dec_len = 0;
    /* first pass: main record, node, time, EXECVE present, parent */
    const char *q = p;
    int main_num = 0, sys_num = 0, first_num = 0;
    struct au_hdr h0 = {0};
    bool have_h0 = false;
    uint32_t nrec = 0;
    while (q < end && nrec < ep.nrec) {
        struct item it;
        memcpy(&it, q, sizeof(it));
        if ((size_t)(end - q) < ITEM_SIZE(it.len))
            break;
        const char *pl = q + sizeof(it);
        if (it.kind == IT_PARENT && !w->f.parent) {
            w->f.parent = pl;
            w->f.parent_len = it.len;
        } else if (it.kind == IT_REC) {
            struct au_hdr *hp = &w->hdrs[nrec];
            w->rec_end[nrec] = pl + it.len;
            w->rec_line[nrec] = it.line;
            nrec++;
            if (au_header(pl, pl + it.len, hp)) {
                hp->type = NULL;
            } else {
                const struct au_hdr h = *hp;
                if (!have_h0) {
                    h0 = h;
                    have_h0 = true;
                }
                int num = rtype_num(h.type, h.type_len);
                if (!first_num)
                    first_num = num ? num : -1;
                if (num == 1300)
                    sys_num = num;
                else if (num == 1309)
                    w->f.has_execve = true;
                else if (!main_num && num && !rtype_aux(num))
                    main_num = num;
            }
        } else {
            break;
        }
        q += ITEM_SIZE(it.len);
    }
    if (!main_num)
        main_num = sys_num ? sys_num : (first_num > 0 ? first_num : 0);
    w->u->records++;
    w->record++;
    s->begin(s->ctx, w->record, line, 0);
    if (ep.dropped) {
        char msg[128];
        snprintf(msg, sizeof(msg), "event has more than %u records or %u MiB; %u records were left out", AU_MAX_RECORDS,
                 AU_EVENT_MAX_BYTES >> 20, ep.dropped);
        warn(w, line, msg);
    }
    emit_lit(w, "Channel", CHANNEL_RAW, sizeof(CHANNEL_RAW) - 1);
    if (main_num) {
        char *o = dec_alloc(w, 8);
        if (o) {
            int l = 0;
            char rev[8];
            for (int x = main_num; x && l < 6; x /= 10)
                rev[l++] = (char)('0' + x % 10);
            for (int k = 0; k < l; k++)
                o[k] = rev[l - 1 - k];
            w->f.eid = o;
            w->f.eid_len = (uint32_t)l;
            emit(w, "EventID", 7, o, (uint32_t)l, STOAT_V_NUMBER);
        }
    }
    if (have_h0) {
        if (h0.node_len)
            SET(&w->f, computer, h0.node, h0.node_len);
        else if (w->u->file->host)
            SET(&w->f, computer, w->u->file->host, (uint32_t)strlen(w->u->file->host));
        /* always given, empty when unknown: the host fields the mapping
         * tries next (hostname) are the remote side in audit records */
        if (!w->f.computer)
            SET(&w->f, computer, "", 0);
        emit_lit(w, "Computer", w->f.computer, w->f.computer_len);
        if (h0.node_len)
            emit_lit(w, "node", h0.node, h0.node_len);
        event_time(w, &h0);
        if (w->f.time)
            emit_lit(w, "audit_time", w->f.time, w->f.time_len);
        emit_lit(w, "serial", h0.serial, h0.serial_len);
    }
    /* second pass: the records' fields */
    for (uint32_t i = 0; i < nrec; i++) {
        w->line = w->rec_line[i];
        if (w->hdrs[i].type)
            one_record(w, &w->hdrs[i], w->rec_end[i]);
    }
    p = q;
    /* the argument vector, now that every piece is in */
    join_pieces(w);
    if (w->f.has_execve) {
        uint32_t n = w->f.nargs < AU_ARG_FIELDS ? w->f.nargs : AU_ARG_FIELDS;
        for (uint32_t i = 0; i < n; i++) {
            if (!w->argv[i].set)
                continue;
            static const char digits[] = "0123456789";
            char nm[16];
            int l = 0;
            nm[l++] = 'a';
            char rev[12];
            int rl = 0;
            uint32_t x = i;
            do {
                rev[rl++] = digits[x % 10];
                x /= 10;
            } while (x);
            while (rl)
                nm[l++] = rev[--rl];
            char *o = dec_alloc(w, (size_t)l);
            if (!o)
                break;
            memcpy(o, nm, (size_t)l);
            emit(w, o, (uint32_t)l, w->argv[i].v ? w->argv[i].v : "", w->argv[i].len, STOAT_V_STRING);
        }
    }
    if (w->full)
        warn(w, line, "event has too many fields; the rest were not read");
    s->end(s->ctx);
    w->u->events++;
    views(w, line);
    /* forget this event's arguments; a huge event's buffer goes back */
    for (uint32_t i = 0; i < w->f.nargs && i < AU_MAX_ARGS; i++)
        w->argv[i] = (struct au_arg){0};
    if (w->dec_cap > (8u << 20)) {
        free(w->dec);
        w->dec = NULL;
        w->dec_cap = w->dec_len = 0;
    }
    return p;
}

static void au_parse(void *ws, struct unit *u, const struct event_sink *sink)
{
    struct au_worker *w = ws;
    w->sink = sink;
    w->u = u;
    w->record = 0;
    const char *p = u->data, *end = u->data + u->len;
    while (p < end && (size_t)(end - p) >= sizeof(struct item)) {
        struct item it;
        memcpy(&it, p, sizeof(it));
        if ((size_t)(end - p) < ITEM_SIZE(it.len))
            break;
        const char *next = p + ITEM_SIZE(it.len);
        if (it.kind == IT_BAD) {
            char msg[200];
            uint32_t n = it.len < 120 ? it.len : 120;
            snprintf(msg, sizeof(msg), "%.*s; the line is skipped", (int)n, p + sizeof(it));
            w->record++;
            u->records++;
            u->skipped++;
            sink->bad(sink->ctx, it.line, 0, false, false, msg);
            p = next;
        } else if (it.kind == IT_EVENT && it.len == sizeof(struct ev_payload)) {
            struct ev_payload ep;
            memcpy(&ep, p + sizeof(it), sizeof(ep));
            p = one_event(w, it.line, &ep, next, end);
        } else {
            p = next;   /* a stray record: cannot happen, units are ours */
        }
    }
}

const struct reader_ops reader_auditd = {
    .name = "auditd",
    .probe = au_probe,
    .open = au_open_file,
    .fill = au_fill,
    .close = au_close,
    .worker_create = au_worker_create,
    .worker_destroy = au_worker_destroy,
    .parse = au_parse,
};
