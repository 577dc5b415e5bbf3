/* Internals shared by the auditd reader's files, from the ground up:
 * auditd_tokens.c (what one record line says: its header, its name=value
 * fields, numbers, syscall and record type names), auditd_join.c (the reading
 * thread: the records of one event joined into one run of items),
 * auditd_fields.c (a worker: the fields of each record), auditd_views.c (the
 * derived Sigma views) and auditd.c (a worker: one event at a time, and the
 * reader's entry in the registry). Each uses only what lies below it.
 *
 * Why a unit of binary items between the joiner and the workers: the joiner
 * has already found each record's line and event, so it hands them on as
 * (kind, line, bytes) items, and a worker need not find lines again and can
 * still report a problem at its line. The caps are here, in one list, because
 * they bound the reader as a whole: every input is bounded.
 */
#ifndef STOAT_READERS_AUDITD_INT_H
#define STOAT_READERS_AUDITD_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "readers/reader.h"

#define AU_LINE_MAX        (64u << 10) /* longer lines are reported and skipped */
#define AU_READ_BYTES      (1u << 20)  /* read-ahead buffer */
#define AU_MAX_OPEN        128         /* events waiting for more records */
#define AU_WINDOW          64          /* records of other events that finish one */
#define AU_MAX_RECORDS     2048        /* per event; the rest are dropped */
#define AU_EVENT_MAX_BYTES (4u << 20)  /* per event, staged */
#define AU_STAGING_MAX     (16u << 20) /* all open events together */
#define AU_KEY_MAX         192         /* node + time:serial */
#define AU_PROC_SLOTS      4096        /* pid -> image, direct-mapped */
#define AU_EXE_MAX         255
#define AU_MAX_ARGS        4096 /* argv entries read */
#define AU_ARG_FIELDS      1024 /* argv entries given as a0.. fields */
#define AU_MAX_PATHS       32   /* PATH records used by the views */
#define AU_MAX_PIECES      8192 /* a<N>[k] pieces of long arguments, per event */

#define AU_CHANNEL_RAW  "auditd"         /* the joined event */
#define AU_CHANNEL_VIEW "auditd-derived" /* its Sysmon-style views */

/* ------------------------------------------------------------ items */

/* The unit holds items: a 16-byte header and a payload padded to 8. */
enum {
    IT_EVENT = 1,
    IT_REC = 2,
    IT_PARENT = 3,
    IT_BAD = 4
};
enum {
    EV_TRUNCATED = 1
};

struct item {
    uint32_t len; /* payload bytes */
    uint8_t kind;
    uint8_t flags;
    uint16_t spare;
    uint64_t line;
};

struct ev_payload { /* IT_EVENT */
    uint32_t nrec;
    uint32_t dropped; /* records over the caps */
    uint64_t bytes;   /* payload bytes of its records */
};

#define ITEM_SIZE(len) (sizeof(struct item) + (((size_t)(len) + 7) & ~(size_t)7))

/* ------------------------------------------------------- record header */

struct au_hdr {
    const char *node, *type, *time, *serial, *stamp, *body;
    uint32_t node_len, type_len, time_len, serial_len, stamp_len;
    bool interp; /* ausearch -i: decoded values, local time */
};

static inline bool au_is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* [node=N ]type=T msg=audit(TIME:SERIAL): body   (ausearch -i: `) : body`).
 * Returns NULL, or why the line is not an audit record. */
const char *au_header(const char *p, const char *end, struct au_hdr *h);

/* ---------------------------------------------------------- tokenizer */

struct au_kv {
    const char *name, *val;
    uint32_t nlen, vlen;
    char quote; /* 0, '"', '\'' or '{' */
    bool unterminated;
};

enum {
    TOK_RAW,
    TOK_INTERP,
    TOK_INTERP_ARGS,
    TOK_REST
};

struct au_cur {
    const char *p, *end;
    int mode;
};

/* The next name=value of the record, or false at its end. */
bool au_next(struct au_cur *c, struct au_kv *kv);

static inline bool au_name_is(const struct au_kv *kv, const char *s, size_t n)
{
    return kv->nlen == n && memcmp(kv->name, s, n) == 0;
}
#define NAME_IS(kv, lit) au_name_is((kv), (lit), sizeof(lit) - 1)

static inline bool au_slice_is(const char *p, uint32_t n, const char *s, size_t sn)
{
    return n == sn && memcmp(p, s, sn) == 0;
}
#define SLICE_IS(p, n, lit) au_slice_is((p), (n), (lit), sizeof(lit) - 1)

static inline int au_hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inline bool au_is_hex(const char *p, uint32_t n)
{
    if (n < 2 || (n & 1))
        return false;
    for (uint32_t i = 0; i < n; i++)
        if (au_hexval(p[i]) < 0)
            return false;
    return true;
}

static inline size_t au_hex_decode(const char *p, uint32_t n, char *out)
{
    size_t k = 0;
    for (uint32_t i = 0; i + 1 < n; i += 2)
        out[k++] = (char)(au_hexval(p[i]) << 4 | au_hexval(p[i + 1]));
    return k;
}

/* A decimal number (at most 18 digits, maybe negative); *ok says whether it was one. */
int64_t au_parse_dec(const char *p, uint32_t n, bool *ok);
/* The syscall name of arch + number (raw), or the value itself (ausearch -i). */
const char *au_syscall_name(const char *arch, uint32_t alen, const char *num, uint32_t nlen, bool interp,
                            uint32_t *len);
/* The number of a record type name; UNKNOWN[1334] gives 1334; 0 when unknown. */
int au_rtype_num(const char *t, uint32_t n);
/* Records that only add detail to a syscall event. */
bool au_rtype_aux(int num);

/* ------------------------------------------------------------ joiner */

bool au_probe(const unsigned char *h, size_t n);
int au_open(struct input_file *f, struct input *in, char *why, size_t whylen);
enum fill_result au_fill(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen);
void au_close(struct input_file *f);

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
    uint32_t nargs; /* highest argument index seen + 1 */
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
    uint8_t len; /* 0: empty */
    uint32_t id;
};

struct au_worker {
    const struct event_sink *sink;
    struct au_name_slot names[AU_NAME_CACHE]; /* field name -> id, the ruleset's for this hunt */
    struct unit *u;
    char *dec; /* decoded values of the current event */
    size_t dec_len, dec_cap;
    struct au_arg *argv;
    struct au_hdr *hdrs; /* the current event's record headers (NULL type: unreadable) */
    const char **rec_end;
    uint64_t *rec_line;
    struct au_piece *pieces; /* a<N>[k] of long arguments, joined at the end */
    uint32_t npieces;
    struct au_facts f;
    bool full; /* the sink refused a field */
    bool warned_pieces;
    uint64_t line; /* of the record being read */
    uint64_t record;
    int64_t time_sec; /* the last second formatted */
    char time_str[32];
    size_t time_len;
};

/* n bytes of the event's decode buffer, or NULL when the reservation is
 * used up (the value is then left out; cannot happen within the estimate). */
char *au_dec_alloc(struct au_worker *w, size_t n);
/* Hands one field to the sink; once it refuses one, the rest are dropped. */
void au_emit(struct au_worker *w, const char *name, uint32_t nlen, const char *val, uint32_t vlen, uint8_t type);
/* A field whose name is a string literal. */
#define au_emit_lit(w, lit, val, vlen) au_emit((w), (lit), sizeof(lit) - 1, (val), (vlen), STOAT_V_STRING)

/* A warning at a line; the event is kept. */
void au_warn(struct au_worker *w, uint64_t line, const char *why);
/* The fields of one record, the facts the views need gathered on the way. */
void au_one_record(struct au_worker *w, const struct au_hdr *h, const char *end);
/* Long arguments from their pieces, once every record of the event is in. */
void au_join_pieces(struct au_worker *w);
/* The event's time as the rules see it, into w->f.time. */
void au_event_time(struct au_worker *w, const struct au_hdr *h);

/* Sets a fact and its length. */
#define AU_SET(f, field, v, n) ((f)->field = (v), (f)->field##_len = (n))

/* ------------------------------------------------------------- views */

/* The derived events of a finished raw event, if any: process, network or file. */
void au_views(struct au_worker *w, uint64_t line);

#endif
