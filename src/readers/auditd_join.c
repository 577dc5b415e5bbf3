/* The auditd reader's joiner, on the reading thread: the records of one
 * event, which share `msg=audit(TIME:SERIAL)` and may interleave a little
 * with those of neighbouring events, become one run of items in the unit.
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
 * staged bytes is full. Events leave in the order they began. */
#include <stdio.h>
#include <string.h>

#include "readers/auditd_int.h"
#include "util/text.h"

/* ------------------------------------------------------------ items */

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

/* ------------------------------------------------------------ joiner */

struct au_open {
    char key[AU_KEY_MAX];
    uint32_t key_len;
    struct buf st; /* its IT_REC items */
    uint32_t nrec, dropped;
    uint64_t bytes;
    uint64_t last_seen; /* record counter when its last record came */
    bool done;
    /* from its SYSCALL record, for the process table */
    bool has_sys, is_exec;
    int64_t pid, ppid;
    uint64_t node_hash;
    char exe[AU_EXE_MAX + 1];
    uint32_t exe_len;
};

struct au_proc {
    uint64_t key; /* 0: empty */
    uint32_t len;
    char exe[AU_EXE_MAX + 1];
};

struct au_state {
    char *rb; /* read-ahead */
    size_t rb_len, rb_pos, rb_cap;
    bool eof, skipping;
    uint64_t line;                    /* number of the next line */
    uint64_t records;                 /* records seen */
    struct au_open slot[AU_MAX_OPEN]; /* a ring: head is the oldest */
    uint32_t head, nopen;
    size_t staged;
    struct au_proc *procs;
};

bool au_probe(const unsigned char *h, size_t n)
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
            return false; /* too little of the line to tell */
        /* the head may cut the line: the header is what counts */
        return au_header(s, le, &hd) == NULL;
    }
    return false;
}

int au_open(struct input_file *f, struct input *in, char *why, size_t whylen)
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

void au_close(struct input_file *f)
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
    return (node_hash ^ ((uint64_t)pid * 0x9E3779B97F4A7C15ull)) | 1; /* never 0 */
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
            e->pid = au_parse_dec(kv.val, kv.vlen, &ok);
        else if (NAME_IS(&kv, "ppid"))
            e->ppid = au_parse_dec(kv.val, kv.vlen, &ok);
        else if (NAME_IS(&kv, "arch"))
            arch = kv.val, alen = kv.vlen;
        else if (NAME_IS(&kv, "syscall"))
            sc = kv.val, sclen = kv.vlen;
        else if (NAME_IS(&kv, "success"))
            success = SLICE_IS(kv.val, kv.vlen, "yes");
        else if (NAME_IS(&kv, "exe")) {
            if (!kv.quote && !h->interp && au_is_hex(kv.val, kv.vlen) && kv.vlen / 2 <= AU_EXE_MAX) {
                e->exe_len = (uint32_t)au_hex_decode(kv.val, kv.vlen, e->exe);
            } else if (kv.vlen <= AU_EXE_MAX) {
                memcpy(e->exe, kv.val, kv.vlen);
                e->exe_len = kv.vlen;
            }
        }
    }
    uint32_t nl = 0;
    const char *name = sc ? au_syscall_name(arch, alen, sc, sclen, h->interp, &nl) : NULL;
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
        buf_free(&e->st); /* a big event: give the memory back */
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
        return; /* ausearch without -i: the time of the next event, also in its records */
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
            return; /* the end of an event already gone */
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
static bool next_line(struct au_state *s, struct input *in, struct unit *u, const char **lp, size_t *ln, char *why,
                      size_t whylen, int *err)
{
    for (;;) {
        char *p = s->rb + s->rb_pos;
        size_t avail = s->rb_len - s->rb_pos;
        char *nl = avail ? memchr(p, '\n', avail) : NULL;
        if (nl) {
            s->rb_pos += (size_t)(nl - p) + 1;
            uint64_t line = s->line++;
            if (s->skipping) {
                s->skipping = false; /* the end of an over-long line */
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

enum fill_result au_fill(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen)
{
    struct au_state *s = f->reader_state;
    u->len = 0;
    u->mode = 1;
    u->first_line = s->line;
    int err = 0;
    bool end = false;
    while (u->len < UNIT_BYTES) {
        const char *lp;
        size_t ln;
        uint64_t line = s->line;
        if (!next_line(s, in, u, &lp, &ln, why, whylen, &err)) {
            flush_ready(s, u, true); /* every event still open: nothing is left after */
            end = true;
            break;
        }
        take_line(s, u, lp, ln, line);
    }
    if (err)
        return FILL_ERROR;
    if (!u->len)
        return FILL_END;
    return end ? FILL_LAST : FILL_MORE;
}
