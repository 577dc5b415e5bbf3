/* The auditd reader's fields, on a worker: each record of an event hands
 * its name=value fields to the sink, decoded, and notes on the way the facts
 * the derived views need (syscall, exe, pid, argv, cwd, paths, address).
 *
 * Every key=value of every record under its own name (`type` once per
 * record, so `type: PATH` matches an event with a PATH record), hex values
 * decoded (EXECVE arguments, proctitle, exe, name, cwd, ...), split arguments
 * (a2_len, a2[0], a2[1]...) joined back, the enriched upper-case fields
 * (SYSCALL, UID, ...), and the fields of msg='...' and {...} values.
 * Raw-format logs get `SYSCALL` from a syscall table. Where names collide the
 * argument vector wins: when an event has an EXECVE record, a0.. are its
 * arguments and the SYSCALL record's a0..a3 are given as syscall_a0..a3.
 *
 * Decoded values (hex, joined arguments, names made up here) go to the
 * worker's buffer for the event, au_dec_alloc (see auditd.c for why not
 * the sink's scratch). */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "readers/auditd_int.h"
#include "util/text.h"

/* --------------------------------------------------------- to the sink */

/* n bytes of the event's decode buffer, or NULL when the reservation is
 * used up (the value is then left out; cannot happen within the estimate). */
char *au_dec_alloc(struct au_worker *w, size_t n)
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

void au_emit(struct au_worker *w, const char *name, uint32_t nlen, const char *val, uint32_t vlen, uint8_t type)
{
    if (w->full)
        return;
    const struct event_sink *s = w->sink;
    if (!s->field(s->ctx, name, nlen, name_id(w, name, nlen), val, vlen, type))
        w->full = true;
}

void au_warn(struct au_worker *w, uint64_t line, const char *why)
{
    w->sink->bad(w->sink->ctx, line, 0, false, true, why);
}

/* -------------------------------------------------------------- values */

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

/* A value as it should be read: hex decoded for the fields auditd encodes. */
static void value_of(struct au_worker *w, const struct au_kv *kv, bool raw, const char **v, uint32_t *n)
{
    *v = kv->val;
    *n = kv->vlen;
    if (raw && !kv->quote && hex_field(kv) && au_is_hex(kv->val, kv->vlen)) {
        char *o = au_dec_alloc(w, kv->vlen / 2);
        if (o) {
            *v = o;
            *n = (uint32_t)au_hex_decode(kv->val, kv->vlen, o);
        }
    }
}

/* a<N>, a<N>[<K>] or a<N>_len: returns the kind (1 arg, 2 piece, 3 len, 0 not). */
static int arg_name(const struct au_kv *kv, uint32_t *idx, uint32_t *piece)
{
    const char *p = kv->name, *end = p + kv->nlen;
    if (kv->nlen < 2 || *p != 'a' || !au_is_digit(p[1]))
        return 0;
    p++;
    uint64_t n = 0;
    while (p < end && au_is_digit(*p)) {
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
    while (p < end && au_is_digit(*p)) {
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
            int64_t a = au_parse_dec(kv->val, kv->vlen, &ok);
            if (ok)
                w->f.argc = a;
        }
        au_emit(w, kv->name, kv->nlen, kv->val, kv->vlen, STOAT_V_STRING);
        return;
    }
    if (kind == 3)
        return; /* a<N>_len: the pieces say it */
    if (idx >= AU_MAX_ARGS)
        return;
    const char *v = kv->val;
    uint32_t n = kv->vlen;
    bool hex = raw && !kv->quote && au_is_hex(v, n);
    struct au_arg *a = &w->argv[idx];
    if (idx + 1 > w->f.nargs)
        w->f.nargs = idx + 1;
    if (kind == 1) {
        if (hex) {
            char *o = au_dec_alloc(w, n / 2);
            if (!o)
                return;
            n = (uint32_t)au_hex_decode(v, n, o);
            v = o;
        }
        *a = (struct au_arg){v, n, true};
        return;
    }
    /* a piece: kept until every record is in (ausearch -i prints the
     * records of an event last to first) */
    if (w->npieces == AU_MAX_PIECES) {
        if (!w->warned_pieces)
            au_warn(w, w->line, "more than 8192 pieces of long arguments; the rest were left out");
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
void au_join_pieces(struct au_worker *w)
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
        char *o = au_dec_alloc(w, total);
        if (o) {
            size_t k = 0;
            for (uint32_t p = i; p < j; p++) {
                const struct au_piece *pc = &w->pieces[p];
                if (pc->hex) {
                    k += au_hex_decode(pc->v, pc->len, o + k);
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
    if (!au_is_hex(hex, n) || n / 2 < 2)
        return;
    unsigned char b[128];
    uint32_t bn = n / 2 < sizeof(b) ? n / 2 : (uint32_t)sizeof(b);
    for (uint32_t i = 0; i < bn; i++)
        b[i] = (unsigned char)(au_hexval(hex[2 * i]) << 4 | au_hexval(hex[2 * i + 1]));
    unsigned fam = b[0] | (unsigned)b[1] << 8;
    if (fam > 255)
        fam = (unsigned)b[0] << 8 | b[1]; /* a big-endian machine */
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
            start = end = 3; /* abstract socket */
        while (end < bn && b[end])
            end++;
        char *o = au_dec_alloc(w, end - start + 1);
        if (o) {
            size_t k = 0;
            if (start == 3)
                o[k++] = '@';
            memcpy(o + k, b + start, end - start);
            au_emit_lit(w, "saddr_fam", "local", 5);
            au_emit_lit(w, "path", o, (uint32_t)(k + end - start));
        }
        return;
    } else if (fam == 16) {
        au_emit_lit(w, "saddr_fam", "netlink", 7);
        return;
    }
    if (!fname || !have_addr)
        return;
    size_t al = strlen(addr);
    char *o = au_dec_alloc(w, al + 8);
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
    au_emit_lit(w, "saddr_fam", fname, w->f.fam_len);
    au_emit_lit(w, "laddr", o, (uint32_t)al);
    au_emit_lit(w, "lport", o + al, (uint32_t)pl);
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
        au_emit(w, kv.name, kv.nlen, v, n, STOAT_V_STRING);
    }
    if (!any)
        au_emit(w, outer->name, outer->nlen, outer->val, outer->vlen, STOAT_V_STRING);
}

/* ------------------------------------------------------------- records */

enum {
    R_OTHER,
    R_SYSCALL,
    R_EXECVE,
    R_PATH,
    R_CWD,
    R_SOCKADDR,
    R_PROCTITLE
};

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

/* SYSCALL by name for a log that is not in the enriched format: the raw
 * format's number named from the table, ausearch -i's name as it is. */
static void syscall_field(struct au_worker *w, const struct au_hdr *h, const char *end)
{
    struct au_facts *f = &w->f;
    if (h->interp) {
        if (f->sc)
            au_emit(w, "SYSCALL", 7, f->sc, f->sc_len, STOAT_V_STRING);
        return;
    }
    struct au_cur c = {h->body, end, TOK_RAW};
    struct au_kv kv;
    const char *arch = NULL, *num = NULL;
    uint32_t alen = 0, nlen = 0;
    while (au_next(&c, &kv)) {
        if (NAME_IS(&kv, "arch"))
            arch = kv.val, alen = kv.vlen;
        else if (NAME_IS(&kv, "syscall"))
            num = kv.val, nlen = kv.vlen;
    }
    uint32_t sl = 0;
    const char *sn = num ? au_syscall_name(arch, alen, num, nlen, false, &sl) : NULL;
    if (sn) {
        AU_SET(f, sc, sn, sl);
        au_emit(w, "SYSCALL", 7, sn, sl, STOAT_V_STRING);
    }
}

/* The fields of one record, under their own names, and the facts the
 * views need noted in w->f on the way. */
void au_one_record(struct au_worker *w, const struct au_hdr *h, const char *end)
{
    bool raw = !h->interp;
    int kind = rkind(h->type, h->type_len);
    struct au_facts *f = &w->f;
    au_emit(w, "type", 4, h->type, h->type_len, STOAT_V_STRING);
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
            au_warn(w, w->line, "unterminated quoted value (a truncated record?); the value is kept as it stands");
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
                    char *o = au_dec_alloc(w, sizeof(nm));
                    if (o) {
                        memcpy(o, nm, sizeof(nm));
                        au_emit(w, o, sizeof(nm) - 1, v, n, STOAT_V_STRING);
                    }
                    continue;
                }
            } else if (NAME_IS(&kv, "syscall")) {
                AU_SET(f, sc, v, n);
            } else if (NAME_IS(&kv, "SYSCALL")) {
                AU_SET(f, sc, v, n);
                enriched_syscall = true;
            } else if (NAME_IS(&kv, "exe")) {
                AU_SET(f, exe, v, n);
            } else if (NAME_IS(&kv, "pid")) {
                AU_SET(f, pid, v, n);
            } else if (NAME_IS(&kv, "ppid")) {
                AU_SET(f, ppid, v, n);
            } else if (NAME_IS(&kv, "uid")) {
                AU_SET(f, uid, v, n);
            } else if (NAME_IS(&kv, "UID")) {
                AU_SET(f, uid_name, v, n);
            } else if (NAME_IS(&kv, "auid")) {
                AU_SET(f, auid, v, n);
            } else if (NAME_IS(&kv, "ses")) {
                AU_SET(f, ses, v, n);
            } else if (NAME_IS(&kv, "success")) {
                AU_SET(f, success, v, n);
            } else if (NAME_IS(&kv, "exit")) {
                AU_SET(f, exit, v, n);
            } else if (NAME_IS(&kv, "arch") && raw) {
                /* resolved below with the number */
            }
            break;
        case R_CWD:
            if (NAME_IS(&kv, "cwd"))
                AU_SET(f, cwd, v, n);
            break;
        case R_PATH:
            if (path && NAME_IS(&kv, "name"))
                path->name = v, path->name_len = n;
            else if (path && NAME_IS(&kv, "nametype"))
                path->nametype = v, path->nametype_len = n;
            break;
        case R_SOCKADDR:
            if (NAME_IS(&kv, "saddr") && !kv.quote && raw) {
                au_emit(w, kv.name, kv.nlen, v, n, STOAT_V_STRING);
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
                AU_SET(f, proctitle, v, n);
            break;
        default: break;
        }
        if (NAME_IS(&kv, "key") && memchr(v, '\x01', n)) {
            /* several rule keys: one value each */
            const char *p = v, *e = v + n;
            while (p <= e) {
                const char *q = memchr(p, '\x01', (size_t)(e - p));
                if (!q)
                    q = e;
                au_emit(w, "key", 3, p, (uint32_t)(q - p), STOAT_V_STRING);
                p = q + 1;
            }
            continue;
        }
        au_emit(w, kv.name, kv.nlen, v, n, STOAT_V_STRING);
    }
    if (kind == R_SYSCALL) {
        f->has_syscall = true;
        if (!enriched_syscall)
            syscall_field(w, h, end);
    }
}

/* ---------------------------------------------------------------- time */

/* "2023-11-14T22:13:20.123000Z" from 1700000000.123, or the local time of
 * ausearch -i (11/19/26 21:37:05.200) as 2026-11-19T21:37:05.200. */
void au_event_time(struct au_worker *w, const struct au_hdr *h)
{
    char *o = au_dec_alloc(w, 40);
    if (!o)
        return;
    const char *t = h->time;
    uint32_t n = h->time_len;
    if (!h->interp) {
        const char *dot = memchr(t, '.', n);
        bool ok = false;
        int64_t sec = dot && dot - t <= 11 ? au_parse_dec(t, (uint32_t)(dot - t), &ok) : 0;
        if (!dot || !ok || sec > 9000000000LL)
            goto asis; /* past the year 2255: not a time we can format */
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
        size_t l = w->time_len; /* "...:SS.000000Z": the micro-seconds go in place */
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
        while (i < n && au_is_digit(t[i]) && i - st < 4)
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
        if (n - i < 2 || !au_is_digit(t[i]) || !au_is_digit(t[i + 1]))
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
        while (i < n && au_is_digit(t[i]) && i - st <= 9)
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
