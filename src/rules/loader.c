/* The rule loader: files -> YAML -> Sigma tree -> compiled rules, one file at
 * a time. Each file's YAML and syntax tree live in a scratch arena freed as
 * soon as the file's rules are compiled, so loading thousands of rules never
 * holds them all in parse form. What a rule keeps (metadata, program) is
 * copied into the ruleset's arena. Building links filters and correlations to
 * the rules they name, gives rules the roles generated sources named them for
 * (loader.h) and makes the routes and prefilter databases.
 *
 * With a cache folder, a load is first a key: the loader hashes what it is
 * given (files' names and bytes in order, generated sources and roles, the
 * mapping, the placeholders, the selection) and parses nothing until the
 * build. There, a ruleset cache file under that key (rules/snapshot.h) is
 * the ruleset, and the diagnostics the cold load gave are replayed; else
 * everything queued is parsed in order as it would have been, its
 * diagnostics recorded, and the result written for the next load. Rule
 * files are first looked up by their stat (an index file, see content_key
 * for when stat can be trusted), so a warm load need not read them.
 * While the folders are listed, the ruleset file the same paths led to
 * last time is decoded, and taken only if it is the one named then
 * (rules/cache_guess.h). */
#include "rules/loader.h"

#include <limits.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "event/route.h"
#include "rules/compile.h"
#include "rules/loader_int.h"
#include "rules/meta.h"
#include "rules/ruleset.h"
#include "rules/snapshot.h"
#include "util/fs.h"
#include "util/text.h"
#include "util/yaml.h"

/* --------------------------------------------------------- the cache key */

/* Material of both keys. */
static void key_u64(struct stoat_loader *l, uint64_t v)
{
    rulecache_hash_u64(l->key, v);
    rulecache_hash_u64(l->skey, v);
    if (l->gkey)
        rulecache_hash_u64(l->gkey, v);
}

static void key_bytes(struct stoat_loader *l, const void *p, size_t n)
{
    rulecache_hash_bytes(l->key, p, n);
    rulecache_hash_bytes(l->skey, p, n);
    if (l->gkey)
        rulecache_hash_bytes(l->gkey, p, n);
}

static void key_str(struct stoat_loader *l, const char *s)
{
    key_u64(l, s != NULL);
    if (s)
        key_bytes(l, s, strlen(s));
}

static void key_strv(struct stoat_loader *l, const char *const *v, size_t n)
{
    key_u64(l, n);
    for (size_t i = 0; i < n; i++)
        key_str(l, v[i]);
}

/* A configuration file's bytes; false when it cannot be read (the load then
 * goes without the cache). */
static bool key_file(struct stoat_loader *l, const char *path)
{
    key_str(l, path);
    if (!path)
        return true;
    char *text, why[256];
    size_t len;
    if (fs_read_file(path, 64u << 20, &text, &len, why, sizeof(why)))
        return false;
    key_bytes(l, text, len);
    free(text);
    return true;
}

/* Everything a load reads before its rule files. */
static void start_key(struct stoat_loader *l)
{
    const struct stoat_load_opts *o = &l->opts;
    const struct stoat_rule_select *s = &o->select;
    l->key = rulecache_hash_begin();
    l->skey = rulecache_hash_begin();
    l->gkey = rulecache_hash_begin();
    l->defer = true;
    clock_gettime(CLOCK_REALTIME, &l->began);
    key_str(l, "stoat ruleset cache 1");
    rulecache_hash_build(l->key);
    rulecache_hash_build(l->skey);
    rulecache_hash_build(l->gkey);
    char pcre[64] = ""; /* regexes are compiled again from source, on first use (snapshot.c) */
    pcre2_config(PCRE2_CONFIG_VERSION, pcre);
    key_str(l, pcre);
    if (!key_file(l, o->mapping_path) || !key_file(l, o->placeholders_path)) {
        l->defer = false;
        return;
    }
    key_u64(l, s->level_mask);
    key_u64(l, s->status_mask);
    key_strv(l, s->tags, s->ntags);
    key_strv(l, s->exclude_tags, s->nexclude_tags);
    key_strv(l, s->ids, s->nids);
    key_strv(l, s->exclude_ids, s->nexclude_ids);
    key_str(l, s->product);
    key_str(l, s->category);
    key_str(l, s->service);
}

/* Queues a text (taking it) or an error about name, and adds it to the key. */
static void defer_entry(struct stoat_loader *l, const char *name, char *text, size_t len, const char *msg,
                        bool not_file, bool rejects)
{
    key_u64(l, text ? 1 : 2 + rejects);
    key_str(l, name);
    if (text)
        key_bytes(l, text, len);
    key_str(l, msg);
    key_u64(l, not_file);
    XGROW(l->pending, l->pcap, l->npending + 1);
    memset(&l->pending[l->npending], 0, sizeof(l->pending[0]));
    l->pending[l->npending++] = (struct pending){.name = xstrdup(name),
                                                 .text = text,
                                                 .msg = msg ? xstrdup(msg) : NULL,
                                                 .len = len,
                                                 .not_file = not_file,
                                                 .rejects = rejects};
}

static stoat_err parse_text(struct stoat_loader *l, const char *name, const char *text, size_t len);

/* A file reached twice (`-r rules` beside stoat's own rules folder, a folder
 * and a file in it, overlapping folders, a link, two spellings of one path)
 * is one file: loaded once, in its first place and under the name it was
 * first given, or each of its rules would fire twice. files_seen keeps
 * each file's first name as an index + 1 (v) into the names of the queue
 * while there is one (a warm load copies no name), else of seen, which
 * takes the queue's over when it goes (flush). Gives 0 when st is new,
 * else the first's v. */
static inline uint32_t file_seen(struct stoat_loader *l, const struct stat *st, uint32_t v)
{
    const uint64_t k[2] = {(uint64_t)st->st_dev, (uint64_t)st->st_ino};
    uint32_t had = strmap_put(&l->files_seen, (const char *)k, sizeof(k), v);
    if (had == v)
        return 0;
    l->files_again++;
    return had;
}

static const char *seen_name(const struct stoat_loader *l, uint32_t v)
{
    return l->defer ? l->pending[v - 1].name : l->seen[v - 1];
}

/* The first name of a file file_seen has seen. */
static const char *first_name(const struct stoat_loader *l, const struct stat *st)
{
    const uint64_t k[2] = {(uint64_t)st->st_dev, (uint64_t)st->st_ino};
    uint32_t v = 0;
    strmap_get(&l->files_seen, (const char *)k, sizeof(k), &v);
    return v ? seen_name(l, v) : "?";
}

/* When the queue is parsed and goes: its names, seen's now, by the same
 * index (seen is empty until then: it takes the files given after the
 * queue). A ruleset from the cache drops the queue unparsed, and
 * files_seen with it. */
static void seen_take_queue(struct stoat_loader *l)
{
    XGROW(l->seen, l->seen_cap, l->npending);
    for (size_t i = 0; i < l->npending; i++)
        l->seen[i] = l->pending[i].name;
    l->nseen = l->npending;
    l->queue_names_seen = true;
}

/* A file or folder named again, said where it is met (a note: nothing is
 * wrong, but a count of rules lower than the files named would suggest
 * asks for a reason). */
static void note_again(struct stoat_loader *l, const char *name, const char *first, bool folder)
{
    char msg[PATH_MAX + 100];
    if (!strcmp(name, first))
        snprintf(msg, sizeof(msg), "given before: %s once", folder ? "read" : "loaded");
    else
        snprintf(msg, sizeof(msg), "the same %s as %s, given before: %s", folder ? "folder" : "file", first,
                 folder ? "read once" : "loaded once, under that name");
    loader_diag_note(l, STOAT_SEV_NOTE, STOAT_OK, name, 0, NULL, msg);
}

/* A file reached again, in a key: its place, and which file it is (the
 * note the cached ruleset replays names it). */
static void key_again(void *h, const char *first)
{
    rulecache_hash_u64(h, 6);
    rulecache_hash_u64(h, strlen(first));
    rulecache_hash_bytes(h, first, strlen(first));
}

/* A rule file, not read yet: in both keys by name (its place among the
 * rest). What stat says of it joins the stat key at the build, every
 * file's at once (stat_files), and its bytes the content key, only when the
 * stat key does not already name a ruleset file (cache_lookup). */
static void defer_file(struct stoat_loader *l, const char *path)
{
    key_u64(l, 4);
    key_str(l, path);
    XGROW(l->pending, l->pcap, l->npending + 1);
    l->pending[l->npending++] = (struct pending){.name = xstrdup(path), .file = true};
}

/* Every queued rule file's stat, in threads: a warm load's largest part
 * was thousands of stat calls one after another (several microseconds
 * each, on a virtual machine more), and they do not depend on each other. */
#define STAT_THREADS_MAX 4
#define STAT_PER_THREAD  512 /* fewer files than this each: not worth a thread */

struct stat_job {
    struct pending *v;
    size_t from, n, step;
};

static bool stat_usable(const struct stat *st)
{
    return S_ISREG(st->st_mode) && (uint64_t)st->st_size <= YAML_MAX_FILE_BYTES;
}

static void *stat_some(void *arg)
{
    const struct stat_job *j = arg;
    for (size_t i = j->from; i < j->n; i += j->step) {
        struct pending *p = &j->v[i];
        if (p->file && !p->stated)
            p->st_ok = stat(p->name, &p->st) == 0 && stat_usable(&p->st);
    }
    return NULL;
}

static unsigned stat_threads(size_t files)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    size_t t = files / STAT_PER_THREAD;
    if (t > STAT_THREADS_MAX)
        t = STAT_THREADS_MAX;
    if (cpus > 0 && t > (size_t)cpus)
        t = (size_t)cpus;
    return t < 1 ? 1 : (unsigned)t;
}

/* The files not stat'ed yet (those fs_list gave came with theirs). */
static void stat_files(struct stoat_loader *l)
{
    size_t left = 0;
    for (size_t i = 0; i < l->npending; i++)
        left += l->pending[i].file && !l->pending[i].stated;
    size_t t = left ? stat_threads(left) : 0;
    struct stat_job jobs[STAT_THREADS_MAX];
    pthread_t th[STAT_THREADS_MAX];
    bool started[STAT_THREADS_MAX] = {false};
    for (size_t i = 0; i < t; i++) /* interleaved: each thread's share alike, whatever the folders */
        jobs[i] = (struct stat_job){.v = l->pending, .from = i, .n = l->npending, .step = t};
    for (size_t i = 1; i < t; i++)
        started[i] = pthread_create(&th[i], NULL, stat_some, &jobs[i]) == 0;
    if (t)
        stat_some(&jobs[0]);
    for (size_t i = 1; i < t; i++) {
        if (started[i])
            pthread_join(th[i], NULL);
        else
            stat_some(&jobs[i]); /* no thread: this one does its share */
    }
    for (size_t i = 0; i < l->npending; i++) {
        struct pending *p = &l->pending[i];
        if (!p->file)
            continue;
        if (!p->st_ok) { /* read at the build, as any file; never trusted by stat */
            rulecache_hash_u64(l->skey, UINT64_MAX);
            l->stat_failed = true;
            continue;
        }
        p->dup_checked = true;
        uint32_t first = file_seen(l, &p->st, (uint32_t)i + 1);
        if (first) {
            p->dup = true;
            key_again(l->skey, seen_name(l, first));
            continue;
        }
        const struct stat *st = &p->st;
        const uint64_t v[] = {(uint64_t)st->st_dev,         (uint64_t)st->st_ino,         (uint64_t)st->st_size,
                              (uint64_t)st->st_mode,        (uint64_t)st->st_mtim.tv_sec, (uint64_t)st->st_mtim.tv_nsec,
                              (uint64_t)st->st_ctim.tv_sec, (uint64_t)st->st_ctim.tv_nsec};
        for (size_t k = 0; k < sizeof(v) / sizeof(*v); k++)
            rulecache_hash_u64(l->skey, v[k]);
    }
}

/* A rule file not read yet (the figures asked before the build). */
static void load_pending_file(struct stoat_loader *l, const struct pending *p)
{
    char *text, why[256];
    size_t len;
    if (fs_read_file(p->name, YAML_MAX_FILE_BYTES, &text, &len, why, sizeof(why))) {
        char msg[400];
        snprintf(msg, sizeof(msg), "cannot read rule file: %s", why);
        loader_diag_note(l, STOAT_SEV_ERROR, STOAT_ERR_IO, p->name, 0, NULL, msg);
        l->stats.rejected++;
        return;
    }
    parse_text(l, p->name, text, len);
    free(text);
}

static bool same_file(const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* The content key: every rule file read now (its bytes kept for the parse
 * after a miss), its SHA-256 in the order given. *trusted: each file was
 * last changed (ctime, which no one can set back) over 2 s before this load
 * began and is as stat said while it was read, so a later change of any
 * of them shows in its stat: the stat key may stand for this key. */
static void content_key(struct stoat_loader *l, uint8_t key[RC_KEY_LEN], bool *trusted)
{
    *trusted = true;
    for (size_t i = 0; i < l->npending; i++) {
        struct pending *p = &l->pending[i];
        if (!p->file)
            continue;
        if (p->dup) {
            key_again(l->key, first_name(l, &p->st));
            continue;
        }
        char why[256], msg[400];
        struct stat now;
        if (fs_read_file(p->name, YAML_MAX_FILE_BYTES, &p->text, &p->len, why, sizeof(why))) {
            snprintf(msg, sizeof(msg), "cannot read rule file: %s", why);
            p->msg = xstrdup(msg);
            p->rejects = true;
            rulecache_hash_u64(l->key, 5);
            rulecache_hash_bytes(l->key, msg, strlen(msg));
            *trusted = false;
            continue;
        }
        uint8_t sum[RC_KEY_LEN];
        rulecache_sha256(p->text, p->len, sum);
        rulecache_hash_u64(l->key, 4);
        rulecache_hash_bytes(l->key, sum, sizeof(sum));
        if (!p->st_ok || stat(p->name, &now) != 0 || !same_file(&now, &p->st) ||
            p->st.st_ctim.tv_sec + 2 > l->began.tv_sec)
            *trusted = false;
    }
    rulecache_hash_end(l->key, key);
    l->key = NULL;
}

static void drop_pending(struct stoat_loader *l)
{
    const bool names_too = !l->queue_names_seen;
    for (size_t i = 0; i < l->npending; i++) {
        if (names_too)
            free(l->pending[i].name);
        free(l->pending[i].text);
        free(l->pending[i].msg);
    }
    free(l->pending);
    l->pending = NULL;
    l->npending = l->pcap = 0;
    l->queue_names_seen = false;
}

/* Diagnostics while parsing: kept for the cache file, and passed on. */
static void record_diag(void *ctx, const struct stoat_diag *d)
{
    struct stoat_loader *l = ctx;
    snapshot_diags_add(&l->rec, d);
    if (l->user_diag)
        l->user_diag(l->user_ctx, d);
}

static void recording(struct stoat_loader *l, bool on)
{
    l->opts.diag = on ? record_diag : l->user_diag;
    l->opts.diag_ctx = on ? l : l->user_ctx;
    l->comp.diag = l->opts.diag;
    l->comp.diag_ctx = l->opts.diag_ctx;
}

/* The folders given so far listed (fs_lister_add), their files and errors
 * queued and keyed: before anything else is queued or keyed, which must
 * come after them. */
static void list_given(struct stoat_loader *l)
{
    if (l->lister)
        fs_lister_flush(l->lister);
}

/* Parses what was queued, in order, as if it had been parsed when given;
 * from now on the loader parses at once and the cache is not read. */
static void flush(struct stoat_loader *l)
{
    if (!l->defer)
        return;
    l->defer = false;
    list_given(l);
    fs_lister_free(l->lister);
    l->lister = NULL;
    recording(l, true);
    seen_take_queue(l);
    for (size_t i = 0; i < l->npending; i++) {
        struct pending *p = &l->pending[i];
        if (p->file && !p->dup_checked && !p->text && stat(p->name, &p->st) == 0) /* flushed before the build's stat */
            p->dup = file_seen(l, &p->st, (uint32_t)i + 1) != 0;
        if (p->dup) {
            note_again(l, p->name, first_name(l, &p->st), false);
            continue;
        }
        if (p->text) {
            parse_text(l, p->name, p->text, p->len);
            if (p->not_file)
                l->stats.files--; /* not a file the user gave */
        } else if (p->file && !p->msg) {
            load_pending_file(l, p);
        } else {
            loader_diag_note(l, STOAT_SEV_ERROR, STOAT_ERR_IO, p->name, 0, NULL, p->msg);
            l->stats.rejected += p->rejects;
        }
    }
    drop_pending(l);
}

/* The mapping and the placeholders are configuration files: a problem with
 * them stops the load (config_load reports it as a configuration error). */
stoat_err loader_create(const struct stoat_load_opts *opts, struct stoat_loader **out)
{
    *out = NULL;
    if (!opts || !opts->mapping_path)
        return STOAT_ERR_ARG;
    struct stoat_loader *l = xcalloc(1, sizeof(*l));
    l->opts = *opts;
    clock_gettime(CLOCK_MONOTONIC, &l->t0);
    struct stoat_ruleset *rs = xcalloc(1, sizeof(*rs));
    arena_init(&rs->arena, 1 << 20);
    fieldtab_init(&rs->fields);
    l->rs = rs;
    strmap_init(&l->ids);
    strmap_init(&l->files_seen);
    strmap_init(&l->roles);
    stoat_err e = mapping_load(opts->mapping_path, &rs->map, opts->diag, opts->diag_ctx);
    if (!e && opts->placeholders_path)
        e = placeholders_load(opts->placeholders_path, &l->ph, opts->diag, opts->diag_ctx);
    if (e) {
        stoat_loader_destroy(l);
        return e;
    }
    l->comp = (struct compiler){
        .out = &rs->arena, .fields = &rs->fields, .ph = l->ph, .diag = opts->diag, .diag_ctx = opts->diag_ctx};
    snapshot_diags_init(&l->rec);
    l->user_diag = opts->diag;
    l->user_ctx = opts->diag_ctx;
    if (opts->cache_dir && !opts->compiled_in && !opts->compiled_out)
        start_key(l);
    l->comp.late_fields[0] = fieldtab_intern(&rs->fields, FIELD_ANCESTORS, strlen(FIELD_ANCESTORS));
    l->comp.late_fields[1] = fieldtab_intern(&rs->fields, FIELD_ANCESTOR_CMDS, strlen(FIELD_ANCESTOR_CMDS));
    rs->field_ancestors = l->comp.late_fields[0];
    rs->field_ancestor_cmds = l->comp.late_fields[1];
    *out = l;
    return STOAT_OK;
}

stoat_err loader_add_source(struct stoat_loader *l, const struct rule_source *src)
{
    list_given(l);
    for (size_t i = 0; i < src->nroles; i++) {
        strmap_put(&l->roles, src->roles[i].id, strlen(src->roles[i].id), src->roles[i].role);
        if (l->key) {
            key_str(l, src->roles[i].id);
            key_u64(l, src->roles[i].role);
        }
    }
    if (l->key) {
        key_u64(l, src->hidden);
        key_str(l, src->name);
        key_bytes(l, src->text, src->len);
    }
    if (l->defer && !src->hidden) {
        defer_entry(l, src->name, xstrndup(src->text, src->len), src->len, NULL, true, false);
        return STOAT_OK;
    }
    if (src->hidden) {
        /* its rules go last, so that the user's keep their indexes */
        l->deferred = xrealloc(l->deferred, (l->ndeferred + 1) * sizeof(*l->deferred));
        l->deferred[l->ndeferred++] =
            (struct hidden_source){.name = xstrdup(src->name), .text = xstrndup(src->text, src->len), .len = src->len};
        return STOAT_OK;
    }
    stoat_err e = stoat_loader_add_text(l, src->name, src->text, src->len);
    l->stats.files--; /* not a file the user gave */
    return e;
}

bool loader_guess_taken(const struct stoat_loader *l)
{
    return l->guess_taken;
}

void loader_attach(struct stoat_loader *l, void *data, void (*free_fn)(void *data))
{
    l->rs->attached = data;
    l->rs->attached_free = free_fn;
}

struct file_ctx {
    struct stoat_loader *l;
    const char *file; /* in the ruleset arena: rule metadata points at it */
    struct arena *parse;
    size_t yaml_errors; /* documents (or a file's rest) the YAML layer rejected */
};

/* The YAML layer's errors, counted as rejected documents on their way to the
 * caller's diagnostics. */
static void count_yaml_error(void *ctx, const struct stoat_diag *d)
{
    struct file_ctx *f = ctx;
    if (d->severity == STOAT_SEV_ERROR)
        f->yaml_errors++;
    if (f->l->opts.diag)
        f->l->opts.diag(f->l->opts.diag_ctx, d);
}

static void add_detection(struct file_ctx *f, struct sigma_rule *r)
{
    struct stoat_loader *l = f->l;
    struct stoat_ruleset *rs = l->rs;
    if (!l->hidden && !meta_selected(&l->opts.select, &r->meta)) {
        l->stats.deselected++;
        return;
    }
    struct compiled prog;
    if (compile_detection(&l->comp, r, &prog)) {
        l->stats.rejected++;
        return;
    }
    if (r->meta.id) {
        uint32_t prev;
        if (strmap_get(&l->ids, r->meta.id, strlen(r->meta.id), &prev)) {
            char msg[300];
            snprintf(msg, sizeof(msg), "duplicate rule id, first loaded from %s; both are kept",
                     prev && prev <= l->nrules ? l->rules[prev - 1].meta.file : "?");
            loader_diag_note(l, STOAT_SEV_WARNING, STOAT_ERR_RULE, f->file, r->meta.line, r->meta.id, msg);
        }
    }
    XGROW(l->rules, l->rcap, l->nrules + 1);
    struct rule *dst = &l->rules[l->nrules];
    memset(dst, 0, sizeof(*dst));
    meta_copy(&rs->arena, &r->meta, &dst->meta);
    dst->meta.file = f->file;
    dst->prog = prog;
    dst->needs_ancestry = compile_needs_late(&l->comp, prog.root);
    struct map_selector *sels;
    dst->nsels = mapping_resolve(rs->map, r->meta.product, r->meta.category, r->meta.service, &rs->arena, &sels);
    dst->sels = sels;
    if (!dst->nsels)
        l->stats.unrouted++;
    l->nrules++;
    if (dst->meta.id)
        strmap_put(&l->ids, dst->meta.id, strlen(dst->meta.id), (uint32_t)l->nrules);
    if (dst->meta.name)
        strmap_put(&l->ids, dst->meta.name, strlen(dst->meta.name), (uint32_t)l->nrules);
    l->stats.loaded++;
}

static int on_doc(void *ctx, struct ynode *root, unsigned idx)
{
    (void)idx;
    struct file_ctx *f = ctx;
    struct stoat_loader *l = f->l;
    struct sigma_rule r;
    l->stats.documents++;
    if (sigma_parse_doc(f->file, root, f->parse, &r, l->opts.diag, l->opts.diag_ctx)) {
        l->stats.rejected++;
        return 0;
    }
    switch (r.kind) {
    case STOAT_RULE_DETECTION: add_detection(f, &r); break;
    case STOAT_RULE_FILTER: {
        const struct pnode *root_node;
        if (compile_filter(&l->comp, &r, &root_node)) {
            l->stats.rejected++;
            break;
        }
        XGROW(l->filters, l->fcap, l->nfilters + 1);
        struct pending_filter *pf = &l->filters[l->nfilters++];
        meta_copy(&l->rs->arena, &r.meta, &pf->meta);
        pf->meta.file = f->file;
        pf->rules = strv_copy(&l->rs->arena, r.filter.rules, r.filter.nrules);
        pf->nrules = r.filter.nrules;
        pf->root = root_node;
        break;
    }
    case STOAT_RULE_CORRELATION: {
        if (!meta_selected(&l->opts.select, &r.meta)) {
            l->stats.deselected++;
            break;
        }
        XGROW(l->corrs, l->ccap, l->ncorrs + 1);
        struct correlation *c = &l->corrs[l->ncorrs++];
        memset(c, 0, sizeof(*c));
        meta_copy(&l->rs->arena, &r.meta, &c->meta);
        c->meta.file = f->file;
        corr_copy(&l->rs->arena, &r.corr, &c->corr);
        l->stats.correlations++;
        break;
    }
    }
    return 0;
}

static bool rule_file_name(const char *name)
{
    size_t n = strlen(name);
    return (n > 4 && strcmp(name + n - 4, ".yml") == 0) || (n > 5 && strcmp(name + n - 5, ".yaml") == 0);
}

stoat_err stoat_loader_add_text(struct stoat_loader *l, const char *name, const char *text, size_t len)
{
    list_given(l);
    if (l->defer) {
        defer_entry(l, name, xstrndup(text, len), len, NULL, false, false);
        return STOAT_OK; /* with a cache, errors are reported at the build */
    }
    return parse_text(l, name, text, len);
}

static stoat_err parse_text(struct stoat_loader *l, const char *name, const char *text, size_t len)
{
    struct arena parse;
    arena_init(&parse, 65536);
    struct file_ctx f = {.l = l, .file = arena_strdup(&l->rs->arena, name), .parse = &parse};
    l->stats.files++;
    size_t before = l->stats.documents;
    stoat_err e = yaml_parse(f.file, text, len, &parse, on_doc, &f, count_yaml_error, &f);
    l->stats.documents += f.yaml_errors;
    l->stats.rejected += f.yaml_errors; /* each YAML error rejects a document or the rest of the file */
    if (e && l->stats.documents == before)
        l->stats.rejected++; /* a file that gave no document at all counts as one rejected */
    arena_free(&parse);
    return e;
}

static int load_file(void *ctx, const char *path)
{
    struct stoat_loader *l = ctx;
    char *text;
    size_t len;
    char why[256];
    if (l->defer) {
        defer_file(l, path);
        return 0;
    }
    struct stat st;
    if (stat(path, &st) == 0) {
        uint32_t first = file_seen(l, &st, (uint32_t)l->nseen + 1);
        if (first) {
            note_again(l, path, seen_name(l, first), false);
            return 0;
        }
        XGROW(l->seen, l->seen_cap, l->nseen + 1);
        l->seen[l->nseen++] = xstrdup(path);
    }
    if (fs_read_file(path, YAML_MAX_FILE_BYTES, &text, &len, why, sizeof(why))) {
        char msg[400];
        snprintf(msg, sizeof(msg), "cannot read rule file: %s", why);
        loader_diag_note(l, STOAT_SEV_ERROR, STOAT_ERR_IO, path, 0, NULL, msg);
        l->stats.rejected++;
        return 0;
    }
    parse_text(l, path, text, len);
    free(text);
    return 0;
}

static void walk_err(void *ctx, const char *path, const char *why)
{
    struct stoat_loader *l = ctx;
    char msg[400];
    snprintf(msg, sizeof(msg), "cannot read: %s", why);
    if (l->defer)
        defer_entry(l, path, NULL, 0, msg, false, false);
    else
        loader_diag_note(l, STOAT_SEV_ERROR, STOAT_ERR_IO, path, 0, NULL, msg);
}

static void listed_file(void *ctx, const struct fs_found *f)
{
    struct stoat_loader *l = ctx;
    if (f->err) {
        walk_err(l, f->path, f->err);
        return;
    }
    defer_file(l, f->path);
    struct pending *p = &l->pending[l->npending - 1];
    p->stated = true;
    p->st = f->st;
    p->st_ok = f->st_errno == 0 && stat_usable(&p->st);
}

/* A folder given again (`-r rules` beside stoat's own rules folder, a link
 * to it) is not listed again: its files would each be found loaded already
 * (file_seen), but only after listing the folder, stat'ing and keying each
 * one (225 files and a twentieth of a warm load's listing for stoat's own).
 * Nothing of it is keyed: the rules are the same as with the folder given
 * once, and so is their cache file. The same folder only: one inside
 * another is file_seen's. */
static bool folder_given_before(struct stoat_loader *l, const struct stat *st, const char *path)
{
    for (size_t i = 0; i < l->nfolders; i++)
        if (l->folders[i].dev == st->st_dev && l->folders[i].ino == st->st_ino) {
            l->folders_again++;
            note_again(l, path, l->folders[i].name, true);
            return true;
        }
    XGROW(l->folders, l->folders_cap, l->nfolders + 1);
    l->folders[l->nfolders++] = (struct folder_given){st->st_dev, st->st_ino, xstrdup(path)};
    return false;
}

stoat_err stoat_loader_add_path(struct stoat_loader *l, const char *path)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
        if (folder_given_before(l, &st, path))
            return STOAT_OK;
    } else {
        FILE *f = fopen(path, "r");
        if (!f) {
            list_given(l);
            walk_err(l, path, "no such file or directory");
            return STOAT_ERR_IO;
        }
        fclose(f);
    }
    if (l->defer) { /* the cache's key wants every file's stat first: listed and stat'ed in threads */
        if (l->gkey) {
            rulecache_hash_u64(l->gkey, 6);
            rulecache_hash_bytes(l->gkey, path, strlen(path));
        }
        if (!l->lister)
            l->lister = fs_lister_new(stat_threads(STAT_THREADS_MAX * STAT_PER_THREAD));
        fs_lister_add(l->lister, path, rule_file_name, listed_file, l); /* listed with the next ones */
        return STOAT_OK;
    }
    fs_walk(path, rule_file_name, load_file, walk_err, l);
    return STOAT_OK;
}

/* ----------------------------------------------------------------- build */

static const uint32_t *intern_list(struct stoat_ruleset *rs, const char *const *names, size_t n)
{
    uint32_t *v = arena_alloc(&rs->arena, (n ? n : 1) * sizeof(*v));
    for (size_t i = 0; i < n; i++)
        v[i] = fieldtab_intern(&rs->fields, names[i], strlen(names[i]));
    return v;
}

/* The hidden sources' rules, after all others, neither counted nor selected. */
static void add_hidden(struct stoat_loader *l)
{
    struct stoat_load_stats before = l->stats;
    size_t first = l->nrules;
    l->hidden = true;
    for (size_t i = 0; i < l->ndeferred; i++)
        parse_text(l, l->deferred[i].name, l->deferred[i].text, l->deferred[i].len);
    l->hidden = false;
    l->stats = before;
    l->rs->nhidden = l->nrules - first;
}

/* n (from path) becomes the loader's ruleset (the loader's mapping and
 * attachment kept), d's diagnostics replayed, both taken. */
static void take_snapshot(struct stoat_loader *l, const char *path, struct stoat_ruleset *n, struct snap_diags *d)
{
    rulecache_touch(path);
    struct stoat_ruleset *old = l->rs;
    n->map = old->map;
    n->attached = old->attached;
    n->attached_free = old->attached_free;
    old->map = NULL;
    old->attached = NULL;
    old->attached_free = NULL;
    stoat_ruleset_destroy(old);
    l->rs = n;
    for (size_t i = 0; i < d->n && l->user_diag; i++)
        l->user_diag(l->user_ctx, &d->v[i]);
    snapshot_diags_free(d);
}

/* The ruleset from the cache file under key, taken; false when there is
 * none that fits. *path: the file to write after a build. */
static bool read_snapshot(struct stoat_loader *l, const uint8_t key[RC_KEY_LEN], char **path)
{
    char why[400], msg[480];
    *path = rulecache_path_ext(l->opts.cache_dir, key, ".rsc", why, sizeof(why));
    if (!*path)
        return false; /* the prefilter's cache says why */
    struct snap_diags d;
    bool missing;
    struct stoat_ruleset *n = snapshot_read_file(*path, key, &d, &missing, why, sizeof(why));
    if (!n) {
        snapshot_diags_free(&d);
        if (!missing) {
            snprintf(msg, sizeof(msg), "rule cache ignored and rebuilt: %s", why);
            loader_diag_note(l, STOAT_SEV_NOTE, STOAT_OK, *path, 0, NULL, msg);
        }
        return false;
    }
    take_snapshot(l, *path, n, &d);
    return true;
}

/* The guessed ruleset taken, when key (what the index or the files'
 * bytes named) is its key. *path: its file. */
static bool guess_take(struct stoat_loader *l, const uint8_t key[RC_KEY_LEN], char **path)
{
    struct stoat_ruleset *n;
    struct snap_diags d;
    if (!cache_guess_take(&l->guess, key, &n, &d, path))
        return false;
    take_snapshot(l, *path, n, &d);
    l->guess_taken = true;
    return true;
}

/* The ruleset of the cache for these rules: by the stat key's index when
 * it names one, else by the content key (the files read). *path: the file
 * to write after a miss; ckey its key; *index: the index to write (the
 * stat key's, when the files can be trusted by stat), or NULL. */
static bool cache_lookup(struct stoat_loader *l, uint8_t ckey[RC_KEY_LEN], uint8_t skey[RC_KEY_LEN], char **path,
                         char **index)
{
    uint8_t ikey[RC_KEY_LEN];
    char why[400];
    if (l->lister)
        fs_lister_start(l->lister);
    if (l->gkey) { /* while the lister lists */
        uint8_t gkey[RC_KEY_LEN];
        rulecache_hash_end(l->gkey, gkey);
        l->gkey = NULL;
        cache_guess_start(&l->guess, l->opts.cache_dir, gkey);
    }
    list_given(l);
    fs_lister_free(l->lister); /* every path is given: its memory back before the ruleset's */
    l->lister = NULL;
    stat_files(l);
    rulecache_hash_end(l->skey, skey);
    l->skey = NULL;
    *path = NULL;
    *index = l->stat_failed ? NULL : rulecache_path_ext(l->opts.cache_dir, skey, ".rsi", why, sizeof(why));
    bool indexed = *index && rulecache_index_read(*index, skey, ikey);
    if (indexed && (guess_take(l, ikey, path) || read_snapshot(l, ikey, path))) {
        memcpy(ckey, ikey, RC_KEY_LEN);
        rulecache_touch(*index);
        free(*index);
        *index = NULL;
        return true;
    }
    free(*path);
    *path = NULL;
    bool trusted;
    content_key(l, ckey, &trusted);
    bool hit =
        !(indexed && !memcmp(ikey, ckey, RC_KEY_LEN)) && (guess_take(l, ckey, path) || read_snapshot(l, ckey, path));
    if (!*path) /* tried by the index, or not at all */
        *path = rulecache_path_ext(l->opts.cache_dir, ckey, ".rsc", why, sizeof(why));
    if (!trusted || !*path) {
        free(*index);
        *index = NULL;
    }
    if (hit && *index)
        rulecache_index_write(*index, skey, ckey);
    cache_guess_drop(&l->guess);
    return hit;
}

/* After a build from the rules: the cache file for the next load. */
static bool write_snapshot(struct stoat_loader *l, const uint8_t key[RC_KEY_LEN], const char *path)
{
    char why[400], msg[480];
    size_t len = 0;
    uint8_t *buf = snapshot_encode(l->rs, &l->rec, key, &len, why, sizeof(why));
    bool ok = buf && rulecache_file_write(path, buf, len, why, sizeof(why));
    if (!ok) {
        snprintf(msg, sizeof(msg), "rule cache not written: %s", why);
        loader_diag_note(l, STOAT_SEV_NOTE, STOAT_OK, path, 0, NULL, msg);
    }
    free(buf);
    rulecache_trim(l->opts.cache_dir, path, RC_MAX_FILES, RC_MAX_BYTES);
    return ok;
}

static void finish_stats(struct stoat_loader *l, struct stoat_ruleset *rs)
{
    struct timespec t1;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    l->stats.load_seconds = (double)(t1.tv_sec - l->t0.tv_sec) + (double)(t1.tv_nsec - l->t0.tv_nsec) / 1e9;
    l->stats.prefilter_cached = rs->stats.prefilter_cached;
    l->stats.files_again = l->files_again;
    l->stats.folders_again = l->folders_again;
    rs->stats = l->stats;
}

stoat_err stoat_loader_build(struct stoat_loader *l, struct stoat_ruleset **out)
{
    *out = NULL;
    uint8_t ckey[RC_KEY_LEN], skey[RC_KEY_LEN];
    char *path = NULL, *index = NULL;
    bool cache = l->defer;
    if (cache) {
        if (cache_lookup(l, ckey, skey, &path, &index)) {
            struct stoat_ruleset *rs = l->rs;
            l->defer = false; /* nothing to parse, ever */
            drop_pending(l);
            strmap_free(&l->files_seen); /* its values named the queue's names */
            strmap_init(&l->files_seen);
            l->stats = rs->stats;
            rs->stats.prefilter_cached = true;
            finish_stats(l, rs);
            l->rs = NULL;
            *out = rs;
            cache_guess_end(&l->guess, ckey);
            free(path);
            free(index);
            return STOAT_OK;
        }
        flush(l);
    }
    struct stoat_ruleset *rs = l->rs;
    add_hidden(l);
    loader_link(l);
    recording(l, false);
    rs->regexes = l->comp.regexes;
    rs->nregexes = l->comp.nregexes;
    l->comp.regexes = NULL;
    l->comp.nregexes = 0;
    rs->rules = l->rules;
    rs->nrules = l->nrules;
    rs->corrs = l->corrs;
    rs->ncorrs = l->ncorrs;
    l->rules = NULL;
    l->corrs = NULL;
    l->nrules = l->ncorrs = 0;
    const struct mapping *m = rs->map;
    rs->ts_ids = intern_list(rs, (const char *const *)m->ts_fields, m->nts);
    rs->nts_ids = m->nts;
    rs->host_ids = intern_list(rs, (const char *const *)m->host_fields, m->nhost);
    rs->nhost_ids = m->nhost;
    rs->channel_ids = intern_list(rs, (const char *const *)m->channel_fields, m->nchannel);
    rs->nchannel_ids = m->nchannel;
    rs->eid_ids = intern_list(rs, (const char *const *)m->eid_fields, m->neid);
    rs->neid_ids = m->neid;
    rs->padded_ids = intern_list(rs, (const char *const *)m->padded_fields, m->npadded);
    rs->npadded_ids = m->npadded;
    /* the roles generated sources gave, by rule id */
    for (size_t r = 0; r < rs->nrules && l->roles.count; r++) {
        const char *id = rs->rules[r].meta.id;
        uint32_t role;
        if (id && strmap_get(&l->roles, id, strlen(id), &role))
            rs->rules[r].role = (uint8_t)role;
    }
    /* process start/end events, found by route key like rules */
    strmap_init(&rs->proc_routes);
    rs->procs = arena_zalloc(&rs->arena, (m->nprocs + 1) * sizeof(*rs->procs));
    rs->nprocs = m->nprocs;
    for (size_t i = 0; i < m->nprocs; i++) {
        const struct map_proc *mp = &m->procs[i];
        rs->procs[i].end = mp->end;
        for (int f = 0; f < PF_COUNT; f++)
            rs->procs[i].f[f] =
                mp->fields[f] ? fieldtab_intern(&rs->fields, mp->fields[f], strlen(mp->fields[f])) : FIELD_UNKNOWN;
        for (size_t k = 0; k < mp->neids; k++) {
            char key[ROUTE_KEY_MAX];
            size_t kl = route_key(key, sizeof(key), mp->channel, strlen(mp->channel), true, mp->eids[k]);
            if (kl)
                strmap_put(&rs->proc_routes, key, kl, (uint32_t)i);
        }
    }
    for (int a = 0; a < AF_COUNT; a++) {
        rs->actor_ids[a] = intern_list(rs, m->actor[a], m->nactor[a]);
        rs->nactor_ids[a] = m->nactor[a];
    }
    stoat_err e = ruleset_build_routes(rs, &l->opts);
    if (e) {
        l->rs = rs;
        free(path);
        free(index);
        return e;
    }
    finish_stats(l, rs);
    if (cache && path && write_snapshot(l, ckey, path)) {
        if (index)
            rulecache_index_write(index, skey, ckey);
        cache_guess_end(&l->guess, ckey);
    }
    free(path);
    free(index);
    l->rs = NULL;
    *out = rs;
    return STOAT_OK;
}

void stoat_loader_stats(const struct stoat_loader *l, struct stoat_load_stats *out)
{
    /* queued texts are counted once parsed: the loader is the caller's, not
     * const, whatever this signature promises about what it reports */
    flush((struct stoat_loader *)l);
    recording((struct stoat_loader *)l, false);
    *out = l->stats;
    out->files_again = l->files_again;
    out->folders_again = l->folders_again;
}

void stoat_loader_destroy(struct stoat_loader *l)
{
    if (!l)
        return;
    stoat_ruleset_destroy(l->rs); /* set only when build did not hand it over */
    for (size_t i = 0; i < l->comp.nregexes; i++)
        pcre2_code_free(l->comp.regexes[i]);
    free(l->comp.regexes);
    free(l->rules);
    free(l->corrs);
    free(l->filters);
    strmap_free(&l->ids);
    strmap_free(&l->files_seen);
    for (size_t i = 0; i < l->nseen; i++)
        free(l->seen[i]);
    free(l->seen);
    for (size_t i = 0; i < l->nfolders; i++)
        free(l->folders[i].name);
    free(l->folders);
    strmap_free(&l->roles);
    placeholders_free(l->ph);
    for (size_t i = 0; i < l->ndeferred; i++) {
        free(l->deferred[i].name);
        free(l->deferred[i].text);
    }
    free(l->deferred);
    drop_pending(l);
    fs_lister_free(l->lister);
    snapshot_diags_free(&l->rec);
    uint8_t unused[RC_KEY_LEN];
    if (l->key)
        rulecache_hash_end(l->key, unused);
    if (l->skey)
        rulecache_hash_end(l->skey, unused);
    if (l->gkey)
        rulecache_hash_end(l->gkey, unused);
    cache_guess_end(&l->guess, NULL);
    free(l);
}
