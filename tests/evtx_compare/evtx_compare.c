/* evtx_compare: checks stoat's EVTX reader against evtxexport, field by field.
 *
 * Why this way: the reader's output is what Sigma rules match on, so it must
 * be right to the byte. evtxexport (libevtx) is an independent
 * implementation; we run it on the same file, parse its XML, flatten each
 * event with the same naming rules as the reader (Element_Attribute, leaf
 * text, <Data Name=X> -> X), and compare the two ordered field lists. The
 * XML parser is a small hand-written one because evtxexport's XML is not
 * always well-formed (it leaves quotes unescaped in text).
 *
 * Usage:
 *   evtx_compare FILE.evtx...        compare; one line per file, then a total
 *   evtx_compare --json FILE.evtx... dump our records as JSON lines
 * Exit status: 0 when every file passed.
 *
 * Known differences that are bugs of evtxexport are listed in `known[]`
 * below, each with the file and record it was seen in and why.
 */
#include "readers/evtx/evtx.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/wait.h>
#include <unistd.h>

/* ------------------------------------------------------------ known diffs */

/* A difference evtxexport gets wrong. `file` is matched as a suffix of the
   path, record is the EventRecordID (0 = any), field the field name. */
struct known_diff {
    const char *file;
    const char *record;
    const char *field;
    const char *why;
};

static const struct known_diff known[] = {
    {NULL, NULL, NULL, NULL},
};

/* ------------------------------------------------------------ buffers */

struct buf {
    char *p;
    size_t len, cap;
};

static int buf_put(struct buf *b, const char *s, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t c = b->cap ? b->cap * 2 : 4096;
        while (c < b->len + n + 1)
            c *= 2;
        char *q = realloc(b->p, c);
        if (!q)
            return -1;
        b->p = q;
        b->cap = c;
    }
    memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
    return 0;
}

static int read_file(const char *path, struct buf *b)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -1;
    char tmp[65536];
    size_t n;
    int rc = 0;
    while ((n = fread(tmp, 1, sizeof tmp, f)) > 0)
        if (buf_put(b, tmp, n)) {
            rc = -1;
            break;
        }
    fclose(f);
    return rc;
}

/* Runs evtxexport -f xml on path; stdout into out, stderr into err. */
static int run_evtxexport(const char *path, struct buf *out, struct buf *err)
{
    int po[2], pe[2];
    if (pipe(po) || pipe(pe))
        return -1;
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        dup2(po[1], 1);
        dup2(pe[1], 2);
        close(po[0]);
        close(pe[0]);
        close(po[1]);
        close(pe[1]);
        execlp("evtxexport", "evtxexport", "-f", "xml", path, (char *)NULL);
        _exit(127);
    }
    close(po[1]);
    close(pe[1]);
    /* drain both pipes; stderr is small, read it after stdout */
    char tmp[65536];
    ssize_t n;
    while ((n = read(po[0], tmp, sizeof tmp)) > 0)
        buf_put(out, tmp, (size_t)n);
    while ((n = read(pe[0], tmp, sizeof tmp)) > 0)
        buf_put(err, tmp, (size_t)n);
    close(po[0]);
    close(pe[0]);
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128;
}

/* ------------------------------------------------------------ fields */

struct fld {
    char *name, *value;
    int type; /* ours: enum evtx_vtype; theirs: -1 */
};

struct event {
    struct fld *f;
    size_t n, cap;
    unsigned long long record_id;
    bool recovered;
};

struct events {
    struct event *e;
    size_t n, cap;
};

static void ev_add(struct event *e, const char *name, size_t nl, const char *v, size_t vl, int type)
{
    if (e->n == e->cap) {
        e->cap = e->cap ? e->cap * 2 : 32;
        e->f = realloc(e->f, e->cap * sizeof *e->f);
        if (!e->f)
            abort();
    }
    struct fld *f = &e->f[e->n++];
    f->name = strndup(name, nl);
    f->value = strndup(v, vl);
    f->type = type;
    if (!f->name || !f->value)
        abort();
}

static struct event *evs_new(struct events *s)
{
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 64;
        s->e = realloc(s->e, s->cap * sizeof *s->e);
        if (!s->e)
            abort();
    }
    struct event *e = &s->e[s->n++];
    memset(e, 0, sizeof *e);
    return e;
}

static void evs_free(struct events *s)
{
    for (size_t i = 0; i < s->n; i++) {
        for (size_t k = 0; k < s->e[i].n; k++) {
            free(s->e[i].f[k].name);
            free(s->e[i].f[k].value);
        }
        free(s->e[i].f);
    }
    free(s->e);
    memset(s, 0, sizeof *s);
}

/* ------------------------------------------------------------ our side */

struct ours {
    struct events *evs;
    struct buf errors;
    bool json;
    struct buf json_buf;
};

static int on_record(void *ctx, const struct evtx_record *r)
{
    struct ours *o = ctx;
    if (o->json) {
        size_t len = 0;
        if (evtx_record_to_json(r, &o->json_buf.p, &len, &o->json_buf.cap) == 0)
            fwrite(o->json_buf.p, 1, len, stdout);
        return 0;
    }
    struct event *e = evs_new(o->evs);
    e->record_id = r->record_id;
    e->recovered = r->recovered;
    for (size_t i = 0; i < r->nfields; i++)
        ev_add(e, r->fields[i].name, r->fields[i].name_len, r->fields[i].value, r->fields[i].value_len,
               r->fields[i].type);
    return 0;
}

static void on_error(void *ctx, const struct evtx_error *err)
{
    struct ours *o = ctx;
    char line[512];
    int n = snprintf(line, sizeof line, "    stoat: chunk %d offset %llu: %s\n",
                     err->chunk == UINT32_MAX ? -1 : (int)err->chunk, (unsigned long long)err->offset, err->reason);
    buf_put(&o->errors, line, (size_t)n);
}

/* ------------------------------------------------------------ XML side */

struct xattr {
    char *name, *value;
};

struct xnode {
    char *name;
    struct xattr *a;
    size_t na;
    struct xnode **kids;
    size_t nk;
    struct buf text;
};

static void xfree(struct xnode *n)
{
    if (!n)
        return;
    free(n->name);
    for (size_t i = 0; i < n->na; i++) {
        free(n->a[i].name);
        free(n->a[i].value);
    }
    free(n->a);
    for (size_t i = 0; i < n->nk; i++)
        xfree(n->kids[i]);
    free(n->kids);
    free(n->text.p);
    free(n);
}

static void put_utf8(struct buf *b, unsigned long c)
{
    char o[4];
    size_t n;
    if (c < 0x80) {
        o[0] = (char)c;
        n = 1;
    } else if (c < 0x800) {
        o[0] = (char)(0xc0 | (c >> 6));
        o[1] = (char)(0x80 | (c & 0x3f));
        n = 2;
    } else if (c < 0x10000) {
        o[0] = (char)(0xe0 | (c >> 12));
        o[1] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[2] = (char)(0x80 | (c & 0x3f));
        n = 3;
    } else {
        o[0] = (char)(0xf0 | (c >> 18));
        o[1] = (char)(0x80 | ((c >> 12) & 0x3f));
        o[2] = (char)(0x80 | ((c >> 6) & 0x3f));
        o[3] = (char)(0x80 | (c & 0x3f));
        n = 4;
    }
    buf_put(b, o, n);
}

/* Appends s[0..n) to b with XML entities decoded. */
static void unescape(struct buf *b, const char *s, size_t n)
{
    static const struct {
        const char *e;
        char c;
    } ents[] = {
        {"lt;", '<'}, {"gt;", '>'}, {"amp;", '&'}, {"quot;", '"'}, {"apos;", '\''},
    };
    size_t i = 0;
    while (i < n) {
        if (s[i] != '&') {
            size_t k = i;
            while (k < n && s[k] != '&')
                k++;
            buf_put(b, s + i, k - i);
            i = k;
            continue;
        }
        bool done = false;
        for (size_t e = 0; e < sizeof ents / sizeof ents[0]; e++) {
            size_t l = strlen(ents[e].e);
            if (i + 1 + l <= n && memcmp(s + i + 1, ents[e].e, l) == 0) {
                buf_put(b, &ents[e].c, 1);
                i += 1 + l;
                done = true;
                break;
            }
        }
        if (!done && i + 2 < n && s[i + 1] == '#') {
            char *end;
            unsigned long c = s[i + 2] == 'x' ? strtoul(s + i + 3, &end, 16) : strtoul(s + i + 2, &end, 10);
            if (end < s + n && *end == ';') {
                put_utf8(b, c);
                i = (size_t)(end - s) + 1;
                done = true;
            }
        }
        if (!done) {
            buf_put(b, "&", 1);
            i++;
        }
    }
}

struct xp {
    const char *s;
    size_t pos, len;
    const char *err;
};

static bool is_name_char(char c)
{
    return c && !strchr(" \t\r\n/>=\"'<", c);
}

static struct xnode *parse_element(struct xp *p, int depth);

/* Parses content until the matching end tag of `n`. */
static int parse_content(struct xp *p, struct xnode *n, int depth)
{
    while (p->pos < p->len) {
        const char *s = p->s + p->pos;
        if (s[0] != '<') {
            const char *lt = memchr(s, '<', p->len - p->pos);
            size_t k = lt ? (size_t)(lt - s) : p->len - p->pos;
            unescape(&n->text, s, k);
            p->pos += k;
            continue;
        }
        if (strncmp(s, "</", 2) == 0) {
            const char *gt = memchr(s, '>', p->len - p->pos);
            if (!gt) {
                p->err = "unterminated end tag";
                return -1;
            }
            p->pos += (size_t)(gt - s) + 1;
            return 0;
        }
        if (strncmp(s, "<![CDATA[", 9) == 0) {
            const char *e = strstr(s + 9, "]]>");
            if (!e) {
                p->err = "unterminated CDATA";
                return -1;
            }
            buf_put(&n->text, s + 9, (size_t)(e - s - 9));
            p->pos += (size_t)(e - s) + 3;
            continue;
        }
        if (strncmp(s, "<?", 2) == 0 || strncmp(s, "<!--", 4) == 0) {
            const char *e = strstr(s, s[1] == '?' ? "?>" : "-->");
            if (!e) {
                p->err = "unterminated PI";
                return -1;
            }
            p->pos += (size_t)(e - s) + (s[1] == '?' ? 2 : 3);
            continue;
        }
        struct xnode *k = parse_element(p, depth + 1);
        if (!k)
            return -1;
        n->kids = realloc(n->kids, (n->nk + 1) * sizeof *n->kids);
        n->kids[n->nk++] = k;
    }
    p->err = "unexpected end of XML";
    return -1;
}

static struct xnode *parse_element(struct xp *p, int depth)
{
    if (depth > 100) {
        p->err = "too deep";
        return NULL;
    }
    struct xnode *n = calloc(1, sizeof *n);
    p->pos++; /* '<' */
    size_t st = p->pos;
    while (p->pos < p->len && is_name_char(p->s[p->pos]))
        p->pos++;
    n->name = strndup(p->s + st, p->pos - st);
    for (;;) {
        while (p->pos < p->len && strchr(" \t\r\n", p->s[p->pos]))
            p->pos++;
        if (p->pos >= p->len) {
            p->err = "unterminated start tag";
            goto fail;
        }
        char c = p->s[p->pos];
        if (c == '/') {
            p->pos += 2; /* "/>" */
            return n;
        }
        if (c == '>') {
            p->pos++;
            if (parse_content(p, n, depth))
                goto fail;
            return n;
        }
        st = p->pos;
        while (p->pos < p->len && is_name_char(p->s[p->pos]))
            p->pos++;
        size_t nl = p->pos - st;
        if (p->pos + 1 >= p->len || p->s[p->pos] != '=' || (p->s[p->pos + 1] != '"' && p->s[p->pos + 1] != '\'')) {
            p->err = "bad attribute";
            goto fail;
        }
        char q = p->s[p->pos + 1];
        p->pos += 2;
        /* evtxexport does not escape quotes in attribute values: the value
           ends at the quote followed by a space, '/' or '>'. */
        size_t vs = p->pos;
        while (p->pos < p->len && !(p->s[p->pos] == q && p->pos + 1 < p->len && strchr(" \t\r\n/>", p->s[p->pos + 1])))
            p->pos++;
        struct buf v = {0};
        unescape(&v, p->s + vs, p->pos - vs);
        p->pos++;
        n->a = realloc(n->a, (n->na + 1) * sizeof *n->a);
        n->a[n->na].name = strndup(p->s + st, nl);
        n->a[n->na].value = v.p ? v.p : strdup("");
        n->na++;
    }
fail:
    xfree(n);
    return NULL;
}

/* The reader's flattening rules, applied to an XML tree. */
static void flatten(struct xnode *n, struct event *e)
{
    int name_attr = -1;
    if (strcmp(n->name, "Data") == 0)
        for (size_t i = 0; i < n->na; i++)
            if (strcmp(n->a[i].name, "Name") == 0)
                name_attr = (int)i;
    size_t nattrs = 0;
    for (size_t i = 0; i < n->na; i++) {
        const char *an = n->a[i].name;
        if ((int)i == name_attr)
            continue;
        if (strncmp(an, "xmlns", 5) == 0 && (an[5] == 0 || an[5] == ':'))
            continue;
        char nm[512];
        int l = snprintf(nm, sizeof nm, "%s_%s", n->name, an);
        ev_add(e, nm, (size_t)l, n->a[i].value, strlen(n->a[i].value), -1);
        nattrs++;
    }
    if (n->nk) {
        for (size_t i = 0; i < n->nk; i++)
            flatten(n->kids[i], e);
        return;
    }
    if (n->text.len || !nattrs) {
        const char *nm = name_attr >= 0 ? n->a[name_attr].value : n->name;
        ev_add(e, nm, strlen(nm), n->text.p ? n->text.p : "", n->text.len, -1);
    }
}

static int parse_xml(const char *s, size_t len, struct events *out, const char **err)
{
    struct xp p = {s, 0, len, NULL};
    while (p.pos < len) {
        const char *lt = memchr(s + p.pos, '<', len - p.pos);
        if (!lt)
            break;
        p.pos = (size_t)(lt - s);
        if (strncmp(lt, "<?", 2) == 0) {
            const char *e = strstr(lt, "?>");
            p.pos = e ? (size_t)(e - s) + 2 : len;
            continue;
        }
        struct xnode *n = parse_element(&p, 0);
        if (!n) {
            *err = p.err;
            return -1;
        }
        struct event *e = evs_new(out);
        flatten(n, e);
        xfree(n);
    }
    return 0;
}

/* ------------------------------------------------------------ compare */

static const char *field_value(const struct event *e, const char *name)
{
    for (size_t i = 0; i < e->n; i++)
        if (strcmp(e->f[i].name, name) == 0)
            return e->f[i].value;
    return "?";
}

static const struct known_diff *is_known(const char *file, const char *rid, const char *field)
{
    size_t fl = strlen(file);
    for (size_t i = 0; known[i].file; i++) {
        size_t kl = strlen(known[i].file);
        if (kl > fl || strcmp(file + fl - kl, known[i].file) != 0)
            continue;
        if (known[i].record && strcmp(known[i].record, rid) != 0)
            continue;
        if (known[i].field && strcmp(known[i].field, field) != 0)
            continue;
        return &known[i];
    }
    return NULL;
}

static void show(const char *s)
{
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '\n')
            fputs("\\n", stdout);
        else if (c == '\r')
            fputs("\\r", stdout);
        else if (c == '\t')
            fputs("\\t", stdout);
        else if (c < 0x20)
            printf("\\x%02x", c);
        else
            putchar(c);
    }
    putchar('"');
}

struct totals {
    unsigned long files_ok, files_bad, records, fields, explained;
    unsigned long unchecked;
};

/* The same hex number: evtxexport pads to the type's width
   ("0x00000000000003e7"), stoat writes it as Windows does ("0x3e7"). */
static bool same_hex(const char *a, const char *b)
{
    if (strncmp(a, "0x", 2) != 0 || strncmp(b, "0x", 2) != 0 || !a[2] || !b[2])
        return false;
    if (strspn(a + 2, "0123456789abcdefABCDEF") != strlen(a + 2) ||
        strspn(b + 2, "0123456789abcdefABCDEF") != strlen(b + 2))
        return false;
    a += 2 + strspn(a + 2, "0");
    b += 2 + strspn(b + 2, "0");
    return strcasecmp(a, b) == 0;
}

/* Compares one event; prints differences. Returns number of unexplained. */
static int compare_event(const char *file, size_t idx, const struct event *a, const struct event *b, struct totals *t)
{
    int bad = 0;
    const char *rid = field_value(b, "EventRecordID");
    size_t i = 0, k = 0;
    while (i < a->n || k < b->n) {
        const struct fld *fa = i < a->n ? &a->f[i] : NULL;
        const struct fld *fb = k < b->n ? &b->f[k] : NULL;
        if (fa && fb && strcmp(fa->name, fb->name) == 0) {
            t->fields++;
            if (strcmp(fa->value, fb->value) != 0 && !same_hex(fa->value, fb->value)) {
                const struct known_diff *kd = is_known(file, rid, fa->name);
                if (kd) {
                    t->explained++;
                } else {
                    if (bad++ < 5) {
                        printf("    record #%zu (EventRecordID %s) field %s (%s): ours ", idx, rid, fa->name,
                               evtx_vtype_name((uint8_t)fa->type));
                        show(fa->value);
                        fputs(" evtxexport ", stdout);
                        show(fb->value);
                        putchar('\n');
                    }
                }
            }
            i++;
            k++;
            continue;
        }
        /* names differ: the field is missing on one side */
        const char *nm = fa ? fa->name : fb->name;
        if (is_known(file, rid, nm)) {
            t->explained++;
        } else if (bad++ < 5) {
            if (fa && fb)
                printf("    record #%zu (EventRecordID %s) field order/name: ours %s=", idx, rid, fa->name);
            else if (fa)
                printf("    record #%zu (EventRecordID %s) only ours: %s=", idx, rid, fa->name);
            else
                printf("    record #%zu (EventRecordID %s) only evtxexport: %s=", idx, rid, fb->name);
            show(fa ? fa->value : fb->value);
            if (fa && fb) {
                printf(" evtxexport %s=", fb->name);
                show(fb->value);
            }
            putchar('\n');
        }
        /* resynchronise: skip the side whose name appears later on the other */
        if (fa && fb) {
            bool fa_later = false;
            for (size_t q = k; q < b->n; q++)
                if (strcmp(b->f[q].name, fa->name) == 0)
                    fa_later = true;
            if (fa_later)
                k++;
            else
                i++;
        } else if (fa) {
            i++;
        } else {
            k++;
        }
    }
    return bad;
}

static bool compare_file(const char *path, struct totals *t)
{
    struct buf data = {0}, xml = {0}, xerr = {0};
    struct events ours_evs = {0}, theirs = {0};
    struct ours o = {&ours_evs, {0}, false, {0}};
    struct evtx_file *f = NULL;
    struct evtx_scratch *s = NULL;
    bool ok = false;
    const char *xml_err = NULL;

    if (read_file(path, &data)) {
        printf("FAIL %s: cannot read: %s\n", path, strerror(errno));
        goto out;
    }
    struct evtx_error err;
    if (evtx_open_mem((const uint8_t *)data.p, data.len, path, &f, &err)) {
        printf("FAIL %s: %s\n", path, err.reason);
        goto out;
    }
    s = evtx_scratch_create();
    struct evtx_visitor v = {&o, on_record, on_error};
    if (!s || evtx_parse_all(f, s, &v) < 0) {
        printf("FAIL %s: parse failed\n", path);
        goto out;
    }
    int xrc = run_evtxexport(path, &xml, &xerr);
    if (xrc == 127) {
        printf("FAIL %s: cannot run evtxexport\n", path);
        goto out;
    }
    if (parse_xml(xml.p ? xml.p : "", xml.len, &theirs, &xml_err)) {
        printf("FAIL %s: cannot parse evtxexport XML: %s\n", path, xml_err);
        goto out;
    }
    /* evtxexport (items mode) leaves out what we recovered from slack */
    size_t nours = 0;
    struct event **cmp = calloc(ours_evs.n + 1, sizeof *cmp);
    if (!cmp)
        goto out;
    for (size_t i = 0; i < ours_evs.n; i++)
        if (!ours_evs.e[i].recovered)
            cmp[nours++] = &ours_evs.e[i];

    int bad = 0;
    size_t n = nours < theirs.n ? nours : theirs.n;
    for (size_t i = 0; i < n; i++)
        bad += compare_event(path, i, cmp[i], &theirs.e[i], t);
    free(cmp);
    t->records += n;
    if (theirs.n > nours) {
        printf("    evtxexport has %zu records, stoat %zu\n", theirs.n, nours);
        bad++;
    }
    char note[512] = "";
    if (nours > theirs.n) {
        if (xrc != 0) {
            /* evtxexport stops at the first record it cannot read */
            const char *e = xerr.p ? xerr.p : "";
            const char *nl = strchr(e, '\n');
            const char *why = nl ? nl + 1 : e;
            const char *nl2 = strchr(why, '\n');
            snprintf(note, sizeof note, "; evtxexport failed after %zu records (%.*s), %zu of ours unchecked", theirs.n,
                     (int)(nl2 ? nl2 - why : (long)strlen(why)), why, nours - theirs.n);
            t->unchecked += nours - theirs.n;
        } else {
            printf("    stoat has %zu records, evtxexport %zu\n", nours, theirs.n);
            bad++;
        }
    }
    ok = bad == 0;
    printf("%s %s (%zu records%s%s)\n", ok ? "PASS" : "FAIL", path, n, ours_evs.n > nours ? ", plus recovered" : "",
           note);
    if (o.errors.len)
        fputs(o.errors.p, stdout);
out:
    if (ok)
        t->files_ok++;
    else
        t->files_bad++;
    evtx_scratch_destroy(s);
    evtx_close(f);
    evs_free(&ours_evs);
    evs_free(&theirs);
    free(data.p);
    free(xml.p);
    free(xerr.p);
    free(o.errors.p);
    return ok;
}

static int dump_json(int argc, char **argv)
{
    int rc = 0;
    for (int i = 0; i < argc; i++) {
        struct buf data = {0};
        struct evtx_file *f = NULL;
        struct evtx_scratch *s = NULL;
        struct ours o = {NULL, {0}, true, {0}};
        struct evtx_error err;
        if (read_file(argv[i], &data) || evtx_open_mem((const uint8_t *)data.p, data.len, argv[i], &f, &err)) {
            fprintf(stderr, "%s: cannot open\n", argv[i]);
            rc = 1;
            goto next;
        }
        s = evtx_scratch_create();
        struct evtx_visitor v = {&o, on_record, on_error};
        evtx_parse_all(f, s, &v);
        if (o.errors.len)
            fprintf(stderr, "%s:\n%s", argv[i], o.errors.p);
    next:
        evtx_scratch_destroy(s);
        evtx_close(f);
        free(data.p);
        free(o.errors.p);
        free(o.json_buf.p);
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--json") == 0)
        return dump_json(argc - 2, argv + 2);
    struct totals t = {0};
    for (int i = 1; i < argc; i++)
        compare_file(argv[i], &t);
    printf("records compared: %lu, fields compared: %lu, explained differences: %lu, "
           "records evtxexport could not read: %lu\n",
           t.records, t.fields, t.explained, t.unchecked);
    printf("evtx-compare: %lu passed, %lu failed\n", t.files_ok, t.files_bad);
    return t.files_bad ? 1 : 0;
}
