/* The auditd reader's derived views: Sigma's Linux process_creation,
 * network_connection, file_event and file_delete rules are written for
 * Sysmon's field names, not auditd's records.
 *
 * So a successful execve also becomes a second event on channel
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
 * A view is built from the facts the fields stage gathered (struct au_facts),
 * after the raw event is complete, so it needs no second reading of the
 * records. */
#include <string.h>

#include "readers/auditd_int.h"

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
        int h = au_hexval(p[i]);
        if (h < 0)
            return false;
        v = v << 4 | (uint64_t)h;
    }
    *out = v;
    return true;
}

#define is_sc(f, lit) ((f)->sc && SLICE_IS((f)->sc, (f)->sc_len, lit))

static bool succeeded(const struct au_facts *f)
{
    return !f->success || SLICE_IS(f->success, f->success_len, "yes");
}

static void view_common(struct au_worker *w, const char *eid)
{
    const struct au_facts *f = &w->f;
    au_emit_lit(w, "Channel", AU_CHANNEL_VIEW, sizeof(AU_CHANNEL_VIEW) - 1);
    au_emit(w, "EventID", 7, eid, (uint32_t)strlen(eid), STOAT_V_NUMBER);
    if (f->computer)
        au_emit_lit(w, "Computer", f->computer, f->computer_len);
    if (f->time)
        au_emit_lit(w, "audit_time", f->time, f->time_len);
    if (f->exe)
        au_emit_lit(w, "Image", f->exe, f->exe_len);
    if (f->uid_name)
        au_emit_lit(w, "User", f->uid_name, f->uid_name_len);
    else if (f->uid)
        au_emit_lit(w, "User", f->uid, f->uid_len);
    if (f->pid)
        au_emit_lit(w, "ProcessId", f->pid, f->pid_len);
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
        char *o = au_dec_alloc(w, total);
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
        au_emit_lit(w, "CommandLine", cmd, (uint32_t)cl);
    if (f->cwd)
        au_emit_lit(w, "CurrentDirectory", f->cwd, f->cwd_len);
    if (f->ses)
        au_emit_lit(w, "LogonId", f->ses, f->ses_len);
    if (f->ppid)
        au_emit_lit(w, "ParentProcessId", f->ppid, f->ppid_len);
    if (f->parent)
        au_emit_lit(w, "ParentImage", f->parent, f->parent_len);
    view_end(w);
}

static void view_network(struct au_worker *w, uint64_t line, bool initiated)
{
    struct au_facts *f = &w->f;
    bool v6 = SLICE_IS(f->fam, f->fam_len, "inet6");
    view_begin(w, line);
    view_common(w, "3");
    au_emit_lit(w, "Initiated", initiated ? "true" : "false", initiated ? 4 : 5);
    if (initiated) {
        au_emit_lit(w, "DestinationIp", f->addr, f->addr_len);
        if (f->port)
            au_emit_lit(w, "DestinationPort", f->port, f->port_len);
        au_emit_lit(w, "DestinationIsIpv6", v6 ? "true" : "false", v6 ? 4 : 5);
    } else {
        au_emit_lit(w, "SourceIp", f->addr, f->addr_len);
        if (f->port)
            au_emit_lit(w, "SourcePort", f->port, f->port_len);
        au_emit_lit(w, "SourceIsIpv6", v6 ? "true" : "false", v6 ? 4 : 5);
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
    char *o = au_dec_alloc(w, (size_t)cl + 1 + nl);
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
        au_emit_lit(w, "TargetFilename", p, n);
        view_end(w);
    }
    if (del) {
        full_path(w, del, &p, &n);
        view_begin(w, line);
        view_common(w, "23");
        au_emit_lit(w, "TargetFilename", p, n);
        view_end(w);
    }
}

void au_views(struct au_worker *w, uint64_t line)
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
