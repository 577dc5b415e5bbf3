/* The auditd reader's tokenizer: what one record line says. Its header
 * ([node=N ]type=T msg=audit(TIME:SERIAL):), its name=value fields (bare,
 * "quoted", 'msg quoted' or {braced}), numbers, and the names of syscall
 * numbers and record types. Used by the joiner (headers, the SYSCALL facts
 * of the process table) and by the workers (every field).
 *
 * Why a cursor over the line and slices, never a copy: a record is read
 * twice (the joiner reads its header, a worker all of it), so reading must
 * cost no allocation; a value is a slice of the line, decoded later only
 * where auditd encodes it.
 *
 * ausearch -i leaves values unquoted, blanks and all: a value there ends
 * where a blank is followed by name=, an EXECVE argument only where one is
 * followed by a<N>=, and a proctitle runs to the end of the line. Its times
 * have no zone and are kept as the local times they are.
 *
 * Raw-format logs give syscalls as numbers: the generated table in
 * auditd_syscalls.h names them per architecture, as the enriched format
 * would. */
#include <string.h>

#include "readers/auditd_int.h"
#include "readers/auditd_syscalls.h"

/* ------------------------------------------------------- record header */

/* [node=N ]type=T msg=audit(TIME:SERIAL): body   (ausearch -i: `) : body`).
 * Returns NULL, or why the line is not an audit record. */
const char *au_header(const char *p, const char *end, struct au_hdr *h)
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
        if (!((c >= 'A' && c <= 'Z') || au_is_digit(c) || c == '_' || c == '[' || c == ']'))
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
        if (!au_is_digit(h->serial[i]))
            return "bad serial in msg=audit(...)";
    /* raw: seconds.millis; interpreted: a local date and time */
    bool raw = true, dot = false;
    for (uint32_t i = 0; i < h->time_len; i++) {
        char c = h->time[i];
        if (c == '.' && !dot && i > 0)
            dot = true;
        else if (!au_is_digit(c))
            raw = false;
    }
    if (!raw) {
        if (!memchr(h->time, ' ', h->time_len) || !au_is_digit(h->time[0]))
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

static inline bool au_sep(char c)
{
    return c == ' ' || c == '\t' || c == '\x1d' || c == '\r' || c == '\n';
}

static inline bool au_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || au_is_digit(c) || c == '_' || c == '-' || c == '[' ||
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
        while (q < end && au_is_digit(*q))
            q++;
        if (q == d || q >= end)
            return false;
        if (*q == '[') {
            q++;
            d = q;
            while (q < end && au_is_digit(*q))
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

bool au_next(struct au_cur *c, struct au_kv *kv)
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

/* ------------------------------------------------------------ numbers */

int64_t au_parse_dec(const char *p, uint32_t n, bool *ok)
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
        if (!au_is_digit(p[i]))
            return 0;
        v = v * 10 + (p[i] - '0');
    }
    *ok = true;
    return neg ? -v : v;
}

/* The syscall name of arch + number (raw), or the value itself (ausearch -i). */
const char *au_syscall_name(const char *arch, uint32_t alen, const char *num, uint32_t nlen, bool interp, uint32_t *len)
{
    if (interp) {
        *len = nlen;
        return nlen ? num : NULL;
    }
    bool ok;
    int64_t n = au_parse_dec(num, nlen, &ok);
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
    {"USER", 1005},
    {"LOGIN", 1006},
    {"USER_AUTH", 1100},
    {"USER_ACCT", 1101},
    {"USER_MGMT", 1102},
    {"CRED_ACQ", 1103},
    {"CRED_DISP", 1104},
    {"USER_START", 1105},
    {"USER_END", 1106},
    {"USER_AVC", 1107},
    {"USER_CHAUTHTOK", 1108},
    {"USER_ERR", 1109},
    {"CRED_REFR", 1110},
    {"USYS_CONFIG", 1111},
    {"USER_LOGIN", 1112},
    {"USER_LOGOUT", 1113},
    {"ADD_USER", 1114},
    {"DEL_USER", 1115},
    {"ADD_GROUP", 1116},
    {"DEL_GROUP", 1117},
    {"DAC_CHECK", 1118},
    {"CHGRP_ID", 1119},
    {"TEST", 1120},
    {"TRUSTED_APP", 1121},
    {"USER_SELINUX_ERR", 1122},
    {"USER_CMD", 1123},
    {"USER_TTY", 1124},
    {"CHUSER_ID", 1125},
    {"GRP_AUTH", 1126},
    {"SYSTEM_BOOT", 1127},
    {"SYSTEM_SHUTDOWN", 1128},
    {"SYSTEM_RUNLEVEL", 1129},
    {"SERVICE_START", 1130},
    {"SERVICE_STOP", 1131},
    {"GRP_MGMT", 1132},
    {"GRP_CHAUTHTOK", 1133},
    {"MAC_CHECK", 1134},
    {"ACCT_LOCK", 1135},
    {"ACCT_UNLOCK", 1136},
    {"USER_DEVICE", 1137},
    {"SOFTWARE_UPDATE", 1138},
    {"DAEMON_START", 1200},
    {"DAEMON_END", 1201},
    {"DAEMON_ABORT", 1202},
    {"DAEMON_CONFIG", 1203},
    {"DAEMON_RECONFIG", 1204},
    {"DAEMON_ROTATE", 1205},
    {"DAEMON_RESUME", 1206},
    {"DAEMON_ACCEPT", 1207},
    {"DAEMON_CLOSE", 1208},
    {"DAEMON_ERR", 1209},
    {"SYSCALL", 1300},
    {"PATH", 1302},
    {"IPC", 1303},
    {"SOCKETCALL", 1304},
    {"CONFIG_CHANGE", 1305},
    {"SOCKADDR", 1306},
    {"CWD", 1307},
    {"EXECVE", 1309},
    {"IPC_SET_PERM", 1311},
    {"MQ_OPEN", 1312},
    {"MQ_SENDRECV", 1313},
    {"MQ_NOTIFY", 1314},
    {"MQ_GETSETATTR", 1315},
    {"KERNEL_OTHER", 1316},
    {"FD_PAIR", 1317},
    {"OBJ_PID", 1318},
    {"TTY", 1319},
    {"EOE", 1320},
    {"BPRM_FCAPS", 1321},
    {"CAPSET", 1322},
    {"MMAP", 1323},
    {"NETFILTER_PKT", 1324},
    {"NETFILTER_CFG", 1325},
    {"SECCOMP", 1326},
    {"PROCTITLE", 1327},
    {"FEATURE_CHANGE", 1328},
    {"REPLACE", 1329},
    {"KERN_MODULE", 1330},
    {"FANOTIFY", 1331},
    {"TIME_INJOFFSET", 1332},
    {"TIME_ADJNTPVAL", 1333},
    {"BPF", 1334},
    {"EVENT_LISTENER", 1335},
    {"URINGOP", 1336},
    {"OPENAT2", 1337},
    {"DM_CTRL", 1338},
    {"DM_EVENT", 1339},
    {"AVC", 1400},
    {"SELINUX_ERR", 1401},
    {"AVC_PATH", 1402},
    {"MAC_POLICY_LOAD", 1403},
    {"MAC_STATUS", 1404},
    {"MAC_CONFIG_CHANGE", 1405},
    {"MAC_UNLBL_ALLOW", 1406},
    {"MAC_CIPSOV4_ADD", 1407},
    {"MAC_CIPSOV4_DEL", 1408},
    {"MAC_MAP_ADD", 1409},
    {"MAC_MAP_DEL", 1410},
    {"MAC_IPSEC_ADDSA", 1411},
    {"MAC_IPSEC_DELSA", 1412},
    {"MAC_IPSEC_ADDSPD", 1413},
    {"MAC_IPSEC_DELSPD", 1414},
    {"MAC_IPSEC_EVENT", 1415},
    {"MAC_UNLBL_STCADD", 1416},
    {"MAC_UNLBL_STCDEL", 1417},
    {"MAC_CALIPSO_ADD", 1418},
    {"MAC_CALIPSO_DEL", 1419},
    {"APPARMOR", 1500},
    {"APPARMOR_AUDIT", 1501},
    {"APPARMOR_ALLOWED", 1502},
    {"APPARMOR_DENIED", 1503},
    {"APPARMOR_HINT", 1504},
    {"APPARMOR_STATUS", 1505},
    {"APPARMOR_ERROR", 1506},
    {"APPARMOR_KILL", 1507},
    {"ANOM_PROMISCUOUS", 1700},
    {"ANOM_ABEND", 1701},
    {"ANOM_LINK", 1702},
    {"ANOM_CREAT", 1703},
    {"INTEGRITY_DATA", 1800},
    {"INTEGRITY_METADATA", 1801},
    {"INTEGRITY_STATUS", 1802},
    {"INTEGRITY_HASH", 1803},
    {"INTEGRITY_PCR", 1804},
    {"INTEGRITY_RULE", 1805},
    {"INTEGRITY_EVM_XATTR", 1806},
    {"INTEGRITY_POLICY_RULE", 1807},
    {"KERNEL", 2000},
    {"ANOM_LOGIN_FAILURES", 2100},
    {"ANOM_LOGIN_TIME", 2101},
    {"ANOM_LOGIN_SESSIONS", 2102},
    {"ANOM_LOGIN_ACCT", 2103},
    {"ANOM_LOGIN_LOCATION", 2104},
    {"ANOM_MAX_DAC", 2105},
    {"ANOM_MAX_MAC", 2106},
    {"ANOM_AMTU_FAIL", 2107},
    {"ANOM_RBAC_FAIL", 2108},
    {"ANOM_RBAC_INTEGRITY_FAIL", 2109},
    {"ANOM_CRYPTO_FAIL", 2110},
    {"ANOM_ACCESS_FS", 2111},
    {"ANOM_EXEC", 2112},
    {"ANOM_MK_EXEC", 2113},
    {"ANOM_ADD_ACCT", 2114},
    {"ANOM_DEL_ACCT", 2115},
    {"ANOM_MOD_ACCT", 2116},
    {"ANOM_ROOT_TRANS", 2117},
    {"ANOM_LOGIN_SERVICE", 2118},
    {"ANOM_LOGIN_ROOT", 2119},
    {"ANOM_ORIGIN_FAILURES", 2120},
    {"ANOM_SESSION", 2121},
    {"RESP_ANOMALY", 2200},
    {"RESP_ALERT", 2201},
    {"RESP_KILL_PROC", 2202},
    {"RESP_TERM_ACCESS", 2203},
    {"RESP_ACCT_REMOTE", 2204},
    {"RESP_ACCT_LOCK_TIMED", 2205},
    {"RESP_ACCT_UNLOCK_TIMED", 2206},
    {"RESP_ACCT_LOCK", 2207},
    {"RESP_TERM_LOCK", 2208},
    {"RESP_SEBOOL", 2209},
    {"RESP_EXEC", 2210},
    {"RESP_SINGLE", 2211},
    {"RESP_HALT", 2212},
    {"RESP_ORIGIN_BLOCK", 2213},
    {"RESP_ORIGIN_BLOCK_TIMED", 2214},
    {"RESP_ORIGIN_UNBLOCK_TIMED", 2215},
    {"USER_ROLE_CHANGE", 2300},
    {"ROLE_ASSIGN", 2301},
    {"ROLE_REMOVE", 2302},
    {"LABEL_OVERRIDE", 2303},
    {"LABEL_LEVEL_CHANGE", 2304},
    {"USER_LABELED_EXPORT", 2305},
    {"USER_UNLABELED_EXPORT", 2306},
    {"DEV_ALLOC", 2307},
    {"DEV_DEALLOC", 2308},
    {"FS_RELABEL", 2309},
    {"USER_MAC_POLICY_LOAD", 2310},
    {"ROLE_MODIFY", 2311},
    {"USER_MAC_CONFIG_CHANGE", 2312},
    {"USER_MAC_STATUS", 2313},
    {"CRYPTO_TEST_USER", 2400},
    {"CRYPTO_PARAM_CHANGE_USER", 2401},
    {"CRYPTO_LOGIN", 2402},
    {"CRYPTO_LOGOUT", 2403},
    {"CRYPTO_KEY_USER", 2404},
    {"CRYPTO_FAILURE_USER", 2405},
    {"CRYPTO_REPLAY_USER", 2406},
    {"CRYPTO_SESSION", 2407},
    {"CRYPTO_IKE_SA", 2408},
    {"CRYPTO_IPSEC_SA", 2409},
    {"VIRT_CONTROL", 2500},
    {"VIRT_RESOURCE", 2501},
    {"VIRT_MACHINE_ID", 2502},
    {"VIRT_INTEGRITY_CHECK", 2503},
    {"VIRT_CREATE", 2504},
    {"VIRT_DESTROY", 2505},
    {"VIRT_MIGRATE_IN", 2506},
    {"VIRT_MIGRATE_OUT", 2507},
};

/* The number of a type name; UNKNOWN[1334] gives 1334; 0 when unknown. */
int au_rtype_num(const char *t, uint32_t n)
{
    if (n > 8 && memcmp(t, "UNKNOWN[", 8) == 0 && t[n - 1] == ']') {
        bool ok;
        int64_t v = au_parse_dec(t + 8, n - 9, &ok);
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
    default: break;
    }
    for (size_t i = 0; i < sizeof(au_rtypes) / sizeof(au_rtypes[0]); i++) {
        const char *name = au_rtypes[i].name;
        if (name[0] == t[0] && strncmp(name, t, n) == 0 && name[n] == 0)
            return au_rtypes[i].num;
    }
    return 0;
}

/* Records that only add detail to a syscall event. */
bool au_rtype_aux(int num)
{
    switch (num) {
    case 1302:
    case 1303:
    case 1304:
    case 1306:
    case 1307:
    case 1309:
    case 1311:
    case 1312:
    case 1313:
    case 1314:
    case 1315:
    case 1317:
    case 1318:
    case 1320:
    case 1321:
    case 1322:
    case 1323:
    case 1327:
    case 1337: return true;
    default: return false;
    }
}
