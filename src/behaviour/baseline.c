/* See baseline.h. One map holds everything, keyed "host \x1f kind \x1f item",
 * so a fleet of thousands of hosts costs one table, not three per host. */
#include "behaviour/baseline.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"
#include "util/config.h"
#include "util/mem.h"
#include "util/strmap.h"
#include "util/text.h"
#include "util/yaml.h"

#define BASELINE_MAX_FILE (256u << 20)

struct baseline {
    struct strmap items; /* key -> count */
    struct strmap hosts; /* host -> 1 */
};

enum kind {
    K_TOOL = 't',
    K_PAIR = 'p',
    K_SHAPE = 's',
    K_LOGON = 'l'
};

struct baseline *baseline_new(void)
{
    struct baseline *b = xcalloc(1, sizeof(*b));
    strmap_init(&b->items);
    strmap_init(&b->hosts);
    return b;
}

void baseline_free(struct baseline *b)
{
    if (!b)
        return;
    strmap_free(&b->items);
    strmap_free(&b->hosts);
    free(b);
}

size_t baseline_hosts(const struct baseline *b)
{
    return b->hosts.count;
}

void baseline_tool(const char *image, char *out)
{
    const char *base = image ? image : "";
    for (const char *p = base; *p; p++)
        if (*p == '\\' || *p == '/')
            base = p + 1;
    size_t i = 0;
    for (; base[i] && i < 255; i++)
        out[i] = (char)ascii_lower_table[(unsigned char)base[i]];
    out[i] = 0;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

void baseline_shape(const char *cmd, char *out)
{
    size_t o = 0;
    const char *p = cmd ? cmd : "";
    char prev = ' ';
    while (*p && o + 4 < BASELINE_SHAPE_MAX) {
        char c = (char)ascii_lower_table[(unsigned char)*p];
        /* a user's folder is everyone's folder */
        if ((c == 'u' || c == 'h') && (prev == '\\' || prev == '/')) {
            static const char *const homes[] = {"users\\", "users/", "home/", NULL};
            bool masked = false;
            for (const char *const *h = homes; *h && !masked; h++) {
                size_t hl = strlen(*h);
                if (strncasecmp(p, *h, hl) == 0) {
                    memcpy(out + o, *h, hl < BASELINE_SHAPE_MAX - o - 4 ? hl : 0);
                    o += hl < BASELINE_SHAPE_MAX - o - 4 ? hl : 0;
                    p += hl;
                    while (*p && *p != '\\' && *p != '/' && *p != ' ' && *p != '"')
                        p++;
                    out[o++] = '*';
                    masked = true;
                }
            }
            if (masked) {
                prev = '*';
                continue;
            }
        }
        /* hex and digit runs (pids, sizes, dates, GUIDs, hashes, addresses) */
        if (c >= '0' && c <= '9') {
            while (*p && (is_hex((char)ascii_lower_table[(unsigned char)*p]) || *p == '-'))
                p++;
            out[o++] = '#';
            prev = '#';
            continue;
        }
        if (c == ' ' && prev == ' ') {
            p++;
            continue;
        }
        out[o++] = c;
        prev = c;
        p++;
    }
    while (o && out[o - 1] == ' ')
        o--;
    out[o] = 0;
}

static size_t key(char *buf, size_t cap, const char *host, enum kind k, const char *item)
{
    int n = snprintf(buf, cap, "%s\x1f%c\x1f%s", host ? host : "", (char)k, item);
    return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

static void add(struct baseline *b, const char *host, enum kind k, const char *item, uint32_t count)
{
    char kb[1024];
    size_t kl = key(kb, sizeof(kb), host, k, item);
    if (!kl)
        return;
    const char *h = host ? host : "";
    if (!strmap_get(&b->hosts, h, strlen(h), NULL)) {
        if (b->hosts.count >= BASELINE_MAX_HOSTS)
            return;
        strmap_put(&b->hosts, h, strlen(h), 1);
    }
    uint32_t *v = strmap_value(&b->items, kb, kl);
    if (v) {
        *v = *v > UINT32_MAX - count ? UINT32_MAX : *v + count;
        return;
    }
    if (b->items.count >= (size_t)BASELINE_MAX_ITEMS * 64)
        return; /* bounded: a hostile log cannot grow the profile without end */
    strmap_put(&b->items, kb, kl, count);
}

static void bump(struct baseline *b, const char *host, enum kind k, const char *item)
{
    add(b, host, k, item, 1);
}

void baseline_record(struct baseline *b, const char *host, const char *image, const char *parent_image,
                     const char *command_line, int64_t time_ns)
{
    (void)time_ns;
    char tool[256], parent[256], shape[BASELINE_SHAPE_MAX], pair[520];
    baseline_tool(image, tool);
    if (!tool[0])
        return;
    bump(b, host, K_TOOL, tool);
    if (parent_image) {
        baseline_tool(parent_image, parent);
        snprintf(pair, sizeof(pair), "%s > %s", parent, tool);
        bump(b, host, K_PAIR, pair);
    }
    if (command_line) {
        baseline_shape(command_line, shape);
        bump(b, host, K_SHAPE, shape);
    }
}

static bool has(const struct baseline *b, const char *host, enum kind k, const char *item)
{
    char kb[1024];
    size_t kl = key(kb, sizeof(kb), host, k, item);
    return kl && strmap_get(&b->items, kb, kl, NULL);
}

enum novelty baseline_check(const struct baseline *b, const char *host, const char *image, const char *parent_image,
                            const char *command_line)
{
    const char *h = host ? host : "";
    if (!strmap_get(&b->hosts, h, strlen(h), NULL))
        return NOV_NONE;
    char tool[256], parent[256], shape[BASELINE_SHAPE_MAX], pair[520];
    baseline_tool(image, tool);
    if (!tool[0])
        return NOV_NONE;
    if (!has(b, host, K_TOOL, tool))
        return NOV_TOOL;
    if (parent_image) {
        baseline_tool(parent_image, parent);
        snprintf(pair, sizeof(pair), "%s > %s", parent, tool);
        if (!has(b, host, K_PAIR, pair))
            return NOV_PAIR;
    }
    if (command_line) {
        baseline_shape(command_line, shape);
        if (!has(b, host, K_SHAPE, shape))
            return NOV_SHAPE;
    }
    return NOV_NONE;
}

/* a logon as a profile item: "account < source", lower case */
static void logon_item(char *out, size_t n, const char *akey, const char *src)
{
    snprintf(out, n, "%s < %s", akey ? akey : "", src ? src : "");
    for (char *p = out; *p; p++)
        *p = (char)ascii_lower_table[(unsigned char)*p];
}

void baseline_record_logon(struct baseline *b, const char *host, const char *akey, const char *src)
{
    char item[600];
    logon_item(item, sizeof(item), akey, src);
    bump(b, host, K_LOGON, item);
}

int baseline_check_logon(const struct baseline *b, const char *host, const char *akey, const char *src)
{
    const char *h = host ? host : "";
    if (!strmap_get(&b->hosts, h, strlen(h), NULL))
        return -1;
    char item[600];
    logon_item(item, sizeof(item), akey, src);
    return has(b, host, K_LOGON, item) ? 1 : 0;
}

/* ------------------------------------------------------------------ files */

static void yq(FILE *f, const char *s)
{
    fputc('\'', f);
    for (; *s; s++) {
        if (*s == '\'')
            fputc('\'', f);
        if ((unsigned char)*s < 0x20)
            continue;
        fputc(*s, f);
    }
    fputc('\'', f);
}

struct row {
    const char *host;
    char kind;
    const char *item;
    uint32_t count;
};

static int cmp_row(const void *x, const void *y)
{
    const struct row *a = x, *b = y;
    int c = strcmp(a->host, b->host);
    if (c)
        return c;
    if (a->kind != b->kind) {
        static const char order[] = {K_TOOL, K_PAIR, K_SHAPE, K_LOGON};
        int ra = 0, rb = 0;
        for (int i = 0; i < 4; i++) {
            ra = order[i] == a->kind ? i : ra;
            rb = order[i] == b->kind ? i : rb;
        }
        return ra - rb;
    }
    return strcmp(a->item, b->item);
}

stoat_err baseline_write(const struct baseline *b, FILE *out)
{
    struct row *rows = xcalloc(b->items.count + 1, sizeof(*rows));
    size_t n = 0;
    char **copies = xcalloc(b->items.count + 1, sizeof(*copies));
    for (size_t i = 0; i < b->items.cap; i++) {
        const struct strmap_slot *s = &b->items.slots[i];
        if (!s->key)
            continue;
        char *c = xstrndup(s->key, s->len);
        copies[n] = c;
        char *k1 = strchr(c, '\x1f');
        if (!k1 || !k1[1] || k1[2] != '\x1f') {
            free(c);
            continue;
        }
        *k1 = 0;
        rows[n] = (struct row){.host = c, .kind = k1[1], .item = k1 + 3, .count = s->value};
        n++;
    }
    qsort(rows, n, sizeof(*rows), cmp_row);
    fputs("# stoat baseline: what is normal on each host, learned from logs.\n"
          "# Edit freely: delete what should not count as normal, add what should.\n"
          "# tools: living-off-the-land tools seen running (how often);\n"
          "# pairs: parent > tool; shapes: command lines with numbers, hex, user and\n"
          "# temp names masked (# and *); logons: account < where it came from.\n"
          "# Used by: stoat hunt --baseline FILE\n"
          "hosts:\n",
          out);
    const char *host = NULL;
    char kind = 0;
    for (size_t i = 0; i < n; i++) {
        const struct row *r = &rows[i];
        if (!host || strcmp(host, r->host) != 0) {
            host = r->host;
            kind = 0;
            fputs("  ", out);
            yq(out, r->host);
            fputs(":\n", out);
        }
        if (r->kind != kind) {
            kind = r->kind;
            fprintf(out, "    %s:\n",
                    kind == K_TOOL    ? "tools"
                    : kind == K_PAIR  ? "pairs"
                    : kind == K_SHAPE ? "shapes"
                                      : "logons");
        }
        fputs("      ", out);
        if (kind == K_TOOL) {
            yq(out, r->item);
            fprintf(out, ": %u\n", r->count);
        } else {
            fputs("- ", out);
            yq(out, r->item);
            fputc('\n', out);
        }
    }
    for (size_t i = 0; i < n; i++)
        free(copies[i]);
    free(copies);
    free(rows);
    return ferror(out) ? STOAT_ERR_IO : STOAT_OK;
}

struct bload {
    struct baseline *b;
    struct yreport r;
};

static void bfail(struct bload *l, const struct ynode *n, const char *msg)
{
    yreport_fail(&l->r, n, msg);
}

static int on_doc(void *ctx, struct ynode *root, unsigned idx)
{
    struct bload *l = ctx;
    const struct ynode *hosts = ynode_get(root, "hosts");
    if (idx > 0 || !hosts || (hosts->kind != YN_MAP && !ynode_is_null(hosts))) {
        bfail(l, root, "a baseline is a map with 'hosts' (as stoat baseline learn writes it)");
        return 1;
    }
    for (uint32_t i = 0; hosts->kind == YN_MAP && i < hosts->n && !l->r.err; i++) {
        const struct ynode *hn = hosts->items[2 * i], *hv = hosts->items[2 * i + 1];
        if (hn->kind != YN_SCALAR || (hv->kind != YN_MAP && !ynode_is_null(hv))) {
            bfail(l, hn, "each host maps to tools, pairs and shapes");
            return 1;
        }
        const char *h = hn->str;
        if (!strmap_get(&l->b->hosts, h, strlen(h), NULL))
            strmap_put(&l->b->hosts, h, strlen(h), 1);
        const struct ynode *tools = ynode_get(hv, "tools");
        if (tools && tools->kind == YN_MAP)
            for (uint32_t k = 0; k < tools->n; k++)
                if (tools->items[2 * k]->kind == YN_SCALAR) {
                    char t[256];
                    baseline_tool(tools->items[2 * k]->str, t);
                    add(l->b, h, K_TOOL, t, 1);
                }
        if (tools && tools->kind == YN_SEQ)
            for (uint32_t k = 0; k < tools->n; k++)
                if (tools->items[k]->kind == YN_SCALAR) {
                    char t[256];
                    baseline_tool(tools->items[k]->str, t);
                    add(l->b, h, K_TOOL, t, 1);
                }
        static const char *const kinds[3] = {"pairs", "shapes", "logons"};
        static const enum kind kind_of[3] = {K_PAIR, K_SHAPE, K_LOGON};
        for (int kk = 0; kk < 3; kk++) {
            const struct ynode *v = ynode_get(hv, kinds[kk]);
            if (!v || ynode_is_null(v))
                continue;
            if (v->kind != YN_SEQ) {
                bfail(l, v, "pairs, shapes and logons are lists");
                return 1;
            }
            for (uint32_t k = 0; k < v->n; k++)
                if (v->items[k]->kind == YN_SCALAR) {
                    const char *item = v->items[k]->str;
                    char norm[BASELINE_SHAPE_MAX];
                    if (kk == 1) {
                        /* a hand-written shape is masked the same way */
                        baseline_shape(item, norm);
                        item = norm;
                    } else {
                        size_t n = strlen(item);
                        size_t m = n < sizeof(norm) - 1 ? n : sizeof(norm) - 1;
                        for (size_t c = 0; c < m; c++)
                            norm[c] = (char)ascii_lower_table[(unsigned char)item[c]];
                        norm[m] = 0;
                        item = norm;
                    }
                    add(l->b, h, kind_of[kk], item, 1);
                }
        }
    }
    return l->r.err != 0;
}

static stoat_err parse_baseline(const char *name, const char *text, size_t len, void *out, stoat_diag_fn diag,
                                void *diag_ctx)
{
    struct baseline *b = baseline_new();
    struct arena a;
    arena_init(&a, 1 << 16);
    struct bload l = {.b = b, .r = {.file = name, .diag = diag, .diag_ctx = diag_ctx}};
    stoat_err e = yaml_parse_capped(name, text, len, BASELINE_MAX_FILE, 20u << 20, &a, on_doc, &l, diag, diag_ctx);
    arena_free(&a);
    if (!e)
        e = l.r.err;
    if (e) {
        baseline_free(b);
        return e;
    }
    *(struct baseline **)out = b;
    return STOAT_OK;
}

stoat_err baseline_load(const char *path, struct baseline **out, stoat_diag_fn diag, void *diag_ctx)
{
    *out = NULL;
    return config_load(path, BASELINE_MAX_FILE, "the baseline", parse_baseline, out, diag, diag_ctx);
}

/* ------------------------------------------------------------------ rules */

struct tools {
    char **win, **lnx;
    size_t nwin, nlnx;
};

static void take_list(struct tools *t, const struct ynode *v, char ***out, size_t *n)
{
    if (!v || v->kind != YN_SEQ)
        return;
    *out = xcalloc(v->n + 1, sizeof(**out));
    for (uint32_t i = 0; i < v->n; i++)
        if (v->items[i]->kind == YN_SCALAR)
            (*out)[(*n)++] = xstrdup(v->items[i]->str);
    (void)t;
}

static int tools_doc(void *ctx, struct ynode *root, unsigned idx)
{
    struct tools *t = ctx;
    if (idx == 0) {
        take_list(t, ynode_get(root, "windows"), &t->win, &t->nwin);
        take_list(t, ynode_get(root, "linux"), &t->lnx, &t->nlnx);
    }
    return 0;
}

static void watch_rule(struct buf *b, const char *id, const char *product, const char *sep, char **tools, size_t n)
{
    buf_printf(b,
               "---\ntitle: Living-Off-The-Land Tool Started (baseline watch)\nid: %s\nstatus: stable\n"
               "description: 'Not reported: tells the baseline check a watched tool started'\nauthor: stoat\n"
               "logsource:\n    product: %s\n    category: process_creation\ndetection:\n    tool:\n"
               "        Image|endswith:\n",
               id, product);
    for (size_t i = 0; i < n; i++) {
        buf_printf(b, "            - '%s", sep);
        for (const char *p = tools[i]; *p; p++) {
            if (*p == '\'')
                buf_putc(b, '\'');
            buf_putc(b, *p);
        }
        buf_puts(b, "'\n");
    }
    buf_puts(b, "    condition: tool\nlevel: informational\n");
}

static void signal_rule(struct buf *b, const char *id, const char *title, const char *desc, const char *level)
{
    buf_printf(b,
               "---\ntitle: %s\nid: %s\nstatus: stable\ndescription: '%s'\nauthor: stoat\n"
               "logsource:\n    product: stoat\n    service: behaviour\ndetection:\n    never:\n"
               "        EventID: -1\n    condition: never\nlevel: %s\ntags:\n    - attack.execution\n"
               "    - attack.t1059\n",
               title, id, desc, level);
}

static stoat_err parse_tools(const char *name, const char *text, size_t len, void *out, stoat_diag_fn diag,
                             void *diag_ctx)
{
    struct arena a;
    arena_init(&a, 16384);
    stoat_err e = yaml_parse(name, text, len, &a, tools_doc, out, diag, diag_ctx);
    arena_free(&a);
    return e;
}

char *baseline_rules(const char *lotl_path, stoat_diag_fn diag, void *diag_ctx)
{
    struct tools t = {0};
    stoat_err e =
        config_load(lotl_path, 1u << 20, "the list of living-off-the-land tools", parse_tools, &t, diag, diag_ctx);
    struct buf b = {0};
    if (!e && (t.nwin || t.nlnx)) {
        if (t.nwin)
            watch_rule(&b, BASELINE_RULE_WIN_WATCH, "windows", "\\", t.win, t.nwin);
        if (t.nlnx)
            watch_rule(&b, BASELINE_RULE_LNX_WATCH, "linux", "/", t.lnx, t.nlnx);
        signal_rule(&b, BASELINE_RULE_NEW_TOOL, "First Use Of A Living-Off-The-Land Tool On This Host",
                    "The host has not run this tool before (its baseline does not list it)", "medium");
        signal_rule(&b, BASELINE_RULE_NEW_PAIR, "Living-Off-The-Land Tool Started By A New Parent",
                    "This tool has run on the host before, but never under this parent", "low");
        signal_rule(&b, BASELINE_RULE_NEW_SHAPE, "New Command Line For A Living-Off-The-Land Tool",
                    "This tool has run on the host under this parent before, but never with this shape of "
                    "command line",
                    "low");
    }
    for (size_t i = 0; i < t.nwin; i++)
        free(t.win[i]);
    for (size_t i = 0; i < t.nlnx; i++)
        free(t.lnx[i]);
    free(t.win);
    free(t.lnx);
    return b.p;
}
