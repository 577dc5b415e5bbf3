/* See jewels.h. The configuration is parsed with the rule loader's YAML
 * reader (same caps, same file:line:column messages), and the rules are
 * written as Sigma text so that they go through exactly the checks and the
 * compiler every other rule does. Globs in the file are Sigma values already
 * ('*' and '?'), quoted for YAML here. */
#include "behaviour/jewels.h"
#include "stoat/behaviour.h"

#include <stdio.h>
#include <string.h>

#include "util/buf.h"
#include "util/config.h"
#include "util/mem.h"
#include "util/text.h"
#include "util/yaml.h"

#define JEWELS_MAX_FILE (1u << 20)

struct jload {
    struct jewels *j;
    struct yreport r;
};

static void jfail(struct jload *l, const struct ynode *n, const char *msg)
{
    yreport_fail(&l->r, n, msg);
}

static void list(struct jload *l, const struct ynode *root, const char *key, char ***out, size_t *n)
{
    const struct ynode *v = ynode_get(root, key);
    *out = NULL;
    *n = 0;
    if (!v || ynode_is_null(v))
        return;
    if (v->kind == YN_SCALAR) {
        *out = xcalloc(1, sizeof(**out));
        (*out)[0] = xstrdup(v->str);
        *n = 1;
        return;
    }
    if (v->kind != YN_SEQ) {
        jfail(l, v, "expected a list of strings");
        return;
    }
    *out = xcalloc(v->n + 1, sizeof(**out));
    for (uint32_t i = 0; i < v->n; i++) {
        if (v->items[i]->kind != YN_SCALAR) {
            jfail(l, v->items[i], "expected a string");
            return;
        }
        (*out)[(*n)++] = xstrdup(v->items[i]->str);
    }
}

static int on_doc(void *ctx, struct ynode *root, unsigned idx)
{
    struct jload *l = ctx;
    struct jewels *j = l->j;
    if (idx > 0 || root->kind != YN_MAP) {
        jfail(l, root, "a crown-jewel file is one map: paths, extensions, hosts, canaries, readers, transfer_window");
        return 1;
    }
    static const char *const known[] = {"name",    "paths",           "extensions", "hosts",    "canaries",
                                        "readers", "transfer_window", "allow",      "internal", NULL};
    for (uint32_t i = 0; i < root->n; i++) {
        const struct ynode *k = root->items[2 * i];
        bool ok = false;
        for (const char *const *q = known; *q && k->kind == YN_SCALAR; q++)
            ok |= strcmp(k->str, *q) == 0;
        if (!ok) {
            jfail(l, k, "unknown key (paths, extensions, hosts, canaries, readers, allow, internal, transfer_window)");
            return 1;
        }
    }
    list(l, root, "paths", &j->paths, &j->npaths);
    list(l, root, "extensions", &j->extensions, &j->nextensions);
    list(l, root, "hosts", &j->hosts, &j->nhosts);
    list(l, root, "canaries", &j->canaries, &j->ncanaries);
    list(l, root, "readers", &j->readers, &j->nreaders);
    list(l, root, "internal", &j->internal, &j->ninternal);
    const struct ynode *allow = ynode_get(root, "allow");
    if (allow && allow->kind != YN_MAP) {
        jfail(l, allow, "allow is a map: users, parents");
        return 1;
    }
    if (allow) {
        list(l, allow, "users", &j->allow_users, &j->nallow_users);
        list(l, allow, "parents", &j->allow_parents, &j->nallow_parents);
    }
    for (size_t i = 0; i < j->nextensions; i++)
        if (j->extensions[i][0] == '.')
            memmove(j->extensions[i], j->extensions[i] + 1, strlen(j->extensions[i]));
    const struct ynode *w = ynode_get(root, "transfer_window");
    if (w) {
        int64_t ms;
        if (w->kind != YN_SCALAR || !parse_timespan(w->str, &ms)) {
            jfail(l, w, "transfer_window is a number and a unit: 30m, 6h, 2d");
            return 1;
        }
        j->window_ns = ms * 1000000;
    }
    if (!l->r.err && !j->npaths && !j->nextensions && !j->ncanaries)
        jfail(l, root, "name at least one of paths, extensions, canaries");
    return l->r.err != 0;
}

stoat_err jewels_load_text(const char *name, const char *text, size_t len, struct jewels **out, stoat_diag_fn diag,
                           void *diag_ctx)
{
    struct jewels *j = xcalloc(1, sizeof(*j));
    j->name = xstrdup(name);
    j->window_ns = 6 * 3600 * 1000000000LL;
    struct arena a;
    arena_init(&a, 16384);
    struct jload l = {.j = j, .r = {.file = name, .diag = diag, .diag_ctx = diag_ctx}};
    stoat_err e = yaml_parse(name, text, len, &a, on_doc, &l, diag, diag_ctx);
    arena_free(&a);
    if (!e)
        e = l.r.err;
    if (e) {
        jewels_free(j);
        *out = NULL;
        return e;
    }
    *out = j;
    return STOAT_OK;
}

static stoat_err parse_jewels(const char *name, const char *text, size_t len, void *out, stoat_diag_fn diag,
                              void *diag_ctx)
{
    return jewels_load_text(name, text, len, out, diag, diag_ctx);
}

stoat_err jewels_load(const char *path, struct jewels **out, stoat_diag_fn diag, void *diag_ctx)
{
    *out = NULL;
    return config_load(path, JEWELS_MAX_FILE, "the crown-jewel file", parse_jewels, out, diag, diag_ctx);
}

static void free_list(char **v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(v[i]);
    free(v);
}

void jewels_free(struct jewels *j)
{
    if (!j)
        return;
    free(j->name);
    free_list(j->paths, j->npaths);
    free_list(j->extensions, j->nextensions);
    free_list(j->hosts, j->nhosts);
    free_list(j->canaries, j->ncanaries);
    free_list(j->readers, j->nreaders);
    free_list(j->allow_users, j->nallow_users);
    free_list(j->allow_parents, j->nallow_parents);
    free_list(j->internal, j->ninternal);
    free(j);
}

/* ------------------------------------------------------------- generation */

static void q(struct buf *b, const char *s)
{
    buf_putc(b, '\'');
    for (; *s; s++) {
        if (*s == '\'')
            buf_putc(b, '\'');
        if (*s == '\n' || *s == '\r')
            continue;
        buf_putc(b, *s);
    }
    buf_putc(b, '\'');
}

/* key: [v1, v2, ...] with each value quoted; prefix/suffix wrap each value. */
static void values(struct buf *b, const char *indent, const char *key, char *const *v, size_t n, const char *pre,
                   const char *post)
{
    buf_printf(b, "%s%s:\n", indent, key);
    for (size_t i = 0; i < n; i++) {
        struct buf t = {0};
        buf_printf(&t, "%s%s%s", pre, v[i], post);
        buf_printf(b, "%s    - ", indent);
        q(b, t.p);
        buf_putc(b, '\n');
        buf_free(&t);
    }
}

/* A path glob as a command-line fragment: its literal middle. */
static char *cmd_fragment(const char *glob)
{
    size_t n = strlen(glob), a = 0;
    while (a < n && (glob[a] == '*' || glob[a] == '?'))
        a++;
    while (n > a && (glob[n - 1] == '*' || glob[n - 1] == '?' || glob[n - 1] == '/' || glob[n - 1] == '\\'))
        n--; /* "tar c /srv/design/tapeout" names the folder without its slash */
    return xstrndup(glob + a, n - a);
}

static void header(struct buf *b, const struct jewels *j, const char *title, const char *id, const char *product,
                   const char *category, const char *service, const char *desc)
{
    buf_printf(b, "---\ntitle: %s\nid: %s\nstatus: stable\ndescription: ", title, id);
    struct buf d = {0};
    buf_printf(&d, "%s (generated by stoat from the crown-jewel file %s)", desc, j->name);
    q(b, d.p);
    buf_free(&d);
    buf_puts(b, "\nauthor: stoat\nlogsource:\n");
    if (product)
        buf_printf(b, "    product: %s\n", product);
    if (category)
        buf_printf(b, "    category: %s\n", category);
    if (service)
        buf_printf(b, "    service: %s\n", service);
    buf_puts(b, "detection:\n");
}

/* Routine jobs (backups) may archive jewels: their users or parent command
 * lines. Returns the condition suffix. */
static const char *allow_filter(struct buf *b, const struct jewels *j)
{
    if (j->nallow_users)
        values(b, "    ", "allowed_user:\n        User", j->allow_users, j->nallow_users, "", "");
    if (j->nallow_parents)
        values(b, "    ", "allowed_parent:\n        ParentCommandLine", j->allow_parents, j->nallow_parents, "", "");
    return j->nallow_users && j->nallow_parents ? " and not 1 of allowed_*"
           : j->nallow_users                    ? " and not allowed_user"
           : j->nallow_parents                  ? " and not allowed_parent"
                                                : "";
}

static void host_filter(struct buf *b, const struct jewels *j, bool *has)
{
    *has = j->nhosts > 0;
    if (*has)
        values(b, "    ", "hosts:\n        Computer", j->hosts, j->nhosts, "", "");
}

/* selection of jewel paths (and extensions) for a file field */
static void jewel_files(struct buf *b, const struct jewels *j, const char *field)
{
    buf_puts(b, "    jewel:\n");
    if (j->npaths)
        values(b, "        ", field, j->paths, j->npaths, "", "");
    if (j->nextensions) {
        buf_puts(b, "    jewel_ext:\n");
        struct buf k = {0};
        buf_printf(&k, "%s|endswith", field);
        values(b, "        ", k.p, j->extensions, j->nextensions, ".", "");
        buf_free(&k);
    }
}

static const char *jewel_cond(const struct jewels *j)
{
    return j->npaths && j->nextensions ? "(jewel or jewel_ext)" : j->npaths ? "jewel" : "jewel_ext";
}

static void jewel_cmdline(struct buf *b, const struct jewels *j)
{
    buf_puts(b, "    jewel:\n");
    char **frag = xcalloc(j->npaths + 1, sizeof(*frag));
    for (size_t i = 0; i < j->npaths; i++)
        frag[i] = cmd_fragment(j->paths[i]);
    if (j->npaths) {
        values(b, "        ", "CommandLine|contains", frag, j->npaths, "", "");
        buf_puts(b, "    jewel_cwd:\n");
        values(b, "        ", "CurrentDirectory", j->paths, j->npaths, "", "");
    }
    if (j->nextensions) {
        buf_puts(b, "    jewel_ext:\n");
        values(b, "        ", "CommandLine|contains", j->extensions, j->nextensions, ".", "");
    }
    for (size_t i = 0; i < j->npaths; i++)
        free(frag[i]);
    free(frag);
}

static const char *cmd_cond(const struct jewels *j)
{
    return j->npaths && j->nextensions ? "1 of jewel*" : j->npaths ? "(jewel or jewel_cwd)" : "jewel_ext";
}

/* 1. Security 4663 and 2. file events: a jewel opened or written by a program
 * that is not one of its usual readers */
static void access_rules(struct buf *b, const struct jewels *j)
{
    bool hosts;
    const char *hc;

    /* 1. Security 4663: an object in the jewels opened by an unusual process */
    header(b, j, "Crown Jewel Opened By An Unusual Process", JEWEL_RULE_SECURITY_READ, "windows", NULL, "security",
           "A file named in the crown-jewel file was opened by a program not listed as one of "
           "its usual readers");
    buf_puts(b, "    access:\n        EventID: 4663\n");
    jewel_files(b, j, "ObjectName");
    if (j->nreaders)
        values(b, "    ", "readers:\n        ProcessName", j->readers, j->nreaders, "", "");
    host_filter(b, j, &hosts);
    hc = hosts ? " and hosts" : "";
    buf_printf(b, "    condition: access and %s%s%s\n", jewel_cond(j), j->nreaders ? " and not readers" : "", hc);
    buf_puts(b, "level: high\ntags:\n    - attack.collection\n    - attack.t1005\n");

    /* 2. a file created in the jewels (Sysmon), or opened (the sensor) */
    static const struct {
        const char *id, *product, *title, *level;
    } files[] = {
        {JEWEL_RULE_WIN_FILE, "windows", "Crown Jewel File Written By An Unusual Process", "medium"},
        {JEWEL_RULE_LNX_FILE, "linux", "Crown Jewel File Opened By An Unusual Process", "high"},
    };
    for (size_t k = 0; k < 2; k++) {
        header(b, j, files[k].title, files[k].id, files[k].product, "file_event", NULL,
               "A file named in the crown-jewel file was written or opened by a program not listed as one of "
               "its usual readers");
        jewel_files(b, j, "TargetFilename");
        if (j->nreaders)
            values(b, "    ", "readers:\n        Image", j->readers, j->nreaders, "", "");
        host_filter(b, j, &hosts);
        buf_printf(b, "    condition: %s%s%s\n", jewel_cond(j), j->nreaders ? " and not readers" : "",
                   hosts ? " and hosts" : "");
        buf_printf(b, "level: %s\ntags:\n    - attack.collection\n    - attack.t1005\n", files[k].level);
    }
}

/* 3. and 4.: programs started on jewels */
static void command_rules(struct buf *b, const struct jewels *j)
{
    bool hosts;

    /* 3. an archiver or encoder with jewels on its command line or run in them */
    static const char *const win_archivers[] = {"\\7z.exe",      "\\7za.exe",     "\\7zr.exe", "\\rar.exe",
                                                "\\winrar.exe",  "\\makecab.exe", "\\tar.exe", "\\certutil.exe",
                                                "\\compact.exe", "\\diantz.exe",  "\\zip.exe", NULL};
    static const char *const lnx_archivers[] = {"/tar",   "/zip",  "/7z",   "/7za",    "/rar",      "/gzip",
                                                "/bzip2", "/xz",   "/zstd", "/base64", "/base32",   "/openssl",
                                                "/split", "/cpio", "/gpg",  "/xxd",    "/uuencode", NULL};
    const char *const *arch[2] = {win_archivers, lnx_archivers};
    const char *ids[2] = {JEWEL_RULE_WIN_ARCHIVE, JEWEL_RULE_LNX_ARCHIVE};
    const char *prods[2] = {"windows", "linux"};
    for (size_t k = 0; k < 2; k++) {
        header(b, j, "Crown Jewels Archived Or Encoded", ids[k], prods[k], "process_creation", NULL,
               "An archiver or encoder was run on files named in the crown-jewel file: the usual staging "
               "step before they are sent out");
        buf_puts(b, "    tool:\n        Image|endswith:\n");
        for (const char *const *t = arch[k]; *t; t++) {
            buf_puts(b, "            - ");
            q(b, *t);
            buf_putc(b, '\n');
        }
        jewel_cmdline(b, j);
        const char *allow = allow_filter(b, j);
        host_filter(b, j, &hosts);
        buf_printf(b, "    condition: tool and %s%s%s\n", cmd_cond(j), allow, hosts ? " and hosts" : "");
        /* medium: engineers zip their own designs for a review too; what
         * makes it an intrusion is the transfer that follows (critical) */
        buf_puts(b, "level: medium\ntags:\n    - attack.collection\n    - attack.t1560.001\n");
    }

    /* 4. any other program started on jewels, not a usual reader */
    const char *cids[2] = {JEWEL_RULE_WIN_CMDLINE, JEWEL_RULE_LNX_CMDLINE};
    for (size_t k = 0; k < 2; k++) {
        header(b, j, "Crown Jewels Named On An Unusual Command Line", cids[k], prods[k], "process_creation", NULL,
               "A program not listed as a usual reader was started with files named in the crown-jewel "
               "file on its command line");
        jewel_cmdline(b, j);
        if (j->nreaders)
            values(b, "    ", "readers:\n        Image", j->readers, j->nreaders, "", "");
        /* archivers have their own rule above: one alert per run */
        buf_puts(b, "    archiver:\n        Image|endswith:\n");
        for (const char *const *t = arch[k]; *t; t++) {
            buf_puts(b, "            - ");
            q(b, *t);
            buf_putc(b, '\n');
        }
        const char *allow = allow_filter(b, j);
        host_filter(b, j, &hosts);
        buf_printf(b, "    condition: %s%s and not archiver%s%s\n", cmd_cond(j), j->nreaders ? " and not readers" : "",
                   allow, hosts ? " and hosts" : "");
        /* low: engineers name their design files on command lines all day;
         * this alone does not start the exfiltration watch */
        buf_puts(b, "level: low\ntags:\n    - attack.collection\n    - attack.t1005\n");
    }
}

/* 5. canaries: nobody has a reason to touch them */
static void canary_rules(struct buf *b, const struct jewels *j)
{
    header(b, j, "Canary File Accessed", JEWEL_RULE_CANARY_SECURITY, "windows", NULL, "security",
           "A decoy file listed as a canary in the crown-jewel file was accessed");
    buf_puts(b, "    access:\n        EventID: [4656, 4663]\n");
    values(b, "    ", "canary:\n        ObjectName", j->canaries, j->ncanaries, "", "");
    buf_puts(b, "    condition: access and canary\nlevel: critical\ntags:\n    - attack.collection\n"
                "    - attack.t1005\n");
    const char *fids[2] = {JEWEL_RULE_CANARY_WIN, JEWEL_RULE_CANARY_LNX};
    const char *fprods[2] = {"windows", "linux"};
    for (size_t k = 0; k < 2; k++) {
        header(b, j, "Canary File Touched", fids[k], fprods[k], "file_event", NULL,
               "A decoy file listed as a canary in the crown-jewel file was written or opened");
        values(b, "    ", "canary:\n        TargetFilename", j->canaries, j->ncanaries, "", "");
        buf_puts(b, "    condition: canary\nlevel: critical\ntags:\n    - attack.collection\n"
                    "    - attack.t1005\n");
    }
}

/* 6. transfer tools: not reported; the writer watches them after a jewel was
 * touched in the same session or process tree */
static void transfer_rules(struct buf *b, const struct jewels *j)
{
    header(b, j, "Transfer Tool Run (crown-jewel watch)", JEWEL_RULE_WIN_TRANSFER, "windows", "process_creation", NULL,
           "A program that can send data out was started; reported only after crown-jewel access");
    buf_puts(b, "    tool:\n        Image|endswith:\n"
                "            - '\\curl.exe'\n            - '\\bitsadmin.exe'\n            - '\\scp.exe'\n"
                "            - '\\sftp.exe'\n            - '\\ftp.exe'\n            - '\\rclone.exe'\n"
                "            - '\\pscp.exe'\n            - '\\winscp.exe'\n            - '\\megacmd.exe'\n"
                "    certutil:\n        Image|endswith: '\\certutil.exe'\n"
                "        CommandLine|contains|windash: ['-urlcache', '-split', '-verifyctl']\n"
                "    powershell:\n        Image|endswith: ['\\powershell.exe', '\\pwsh.exe']\n"
                "        CommandLine|contains:\n            - 'Invoke-WebRequest'\n            - 'iwr '\n"
                "            - 'Invoke-RestMethod'\n            - 'irm '\n            - 'Start-BitsTransfer'\n"
                "            - 'UploadFile'\n            - 'UploadData'\n            - 'Net.WebClient'\n");
    if (j->ninternal)
        values(b, "    ", "internal:\n        CommandLine|contains", j->internal, j->ninternal, "", "");
    buf_printf(b,
               "    condition: (tool or certutil or powershell)%s\nlevel: informational\ntags:\n"
               "    - attack.exfiltration\n",
               j->ninternal ? " and not internal" : "");
    header(b, j, "Transfer Tool Run (crown-jewel watch)", JEWEL_RULE_LNX_TRANSFER, "linux", "process_creation", NULL,
           "A program that can send data out was started; reported only after crown-jewel access");
    buf_puts(b, "    tool:\n        Image|endswith:\n"
                "            - '/curl'\n            - '/wget'\n            - '/scp'\n            - '/sftp'\n"
                "            - '/rsync'\n            - '/nc'\n            - '/ncat'\n            - '/netcat'\n"
                "            - '/socat'\n            - '/ftp'\n            - '/rclone'\n            - '/ssh'\n"
                "            - '/aws'\n            - '/gsutil'\n            - '/azcopy'\n");
    if (j->ninternal)
        values(b, "    ", "internal:\n        CommandLine|contains", j->internal, j->ninternal, "", "");
    buf_printf(b, "    condition: tool%s\nlevel: informational\ntags:\n    - attack.exfiltration\n",
               j->ninternal ? " and not internal" : "");
}

/* 7. what the writer reports: no event routes here, the rule is its name */
static void exfil_rule(struct buf *b, const struct jewels *j)
{
    header(b, j, "Data Sent Out After Crown-Jewel Access", JEWEL_RULE_EXFIL, "stoat", NULL, "behaviour",
           "A transfer tool ran in the same logon session or process tree shortly after crown jewels were opened, "
           "archived or encoded there");
    buf_puts(b, "    never:\n        EventID: -1\n    condition: never\nlevel: critical\ntags:\n"
                "    - attack.exfiltration\n    - attack.t1048\n    - attack.t1567\n");
}

char *jewels_rules(const struct jewels *j)
{
    struct buf b = {0};
    if (j->npaths || j->nextensions) {
        access_rules(&b, j);
        command_rules(&b, j);
    }
    if (j->ncanaries)
        canary_rules(&b, j);
    transfer_rules(&b, j);
    exfil_rule(&b, j);
    return b.p;
}

size_t stoat_jewels_folders(const char *path, char **out, size_t max, stoat_diag_fn diag, void *diag_ctx)
{
    struct jewels *j = NULL;
    if (!path || jewels_load(path, &j, diag, diag_ctx) != STOAT_OK)
        return 0;
    size_t n = 0;
    for (size_t i = 0; i < j->npaths + j->ncanaries && n < max; i++) {
        const char *p = i < j->npaths ? j->paths[i] : j->canaries[i - j->npaths];
        if (p[0] != '/')
            continue;
        size_t len = strcspn(p, "*?");
        while (len > 1 && p[len - 1] != '/' && p[len] != 0)
            len--;
        while (len > 1 && p[len - 1] == '/')
            len--;
        if (len > 1)
            out[n++] = xstrndup(p, len);
    }
    jewels_free(j);
    return n;
}
