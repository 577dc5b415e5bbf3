/* See fs.h. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/mem.h"

int fs_read_file(const char *path, size_t cap, char **out, size_t *len, char *why, size_t whylen)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    int rc = -1;
    char *buf = NULL;
    *out = NULL;
    *len = 0;
    if (fd < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        return -1;
    }
    struct stat st;
    if (fstat(fd, &st) != 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        goto out;
    }
    if (!S_ISREG(st.st_mode)) {
        snprintf(why, whylen, "not a regular file");
        goto out;
    }
    if ((size_t)st.st_size > cap) {
        snprintf(why, whylen, "file of %lld bytes is over the %zu byte cap", (long long)st.st_size, cap);
        goto out;
    }
    size_t size = (size_t)st.st_size, got = 0;
    buf = xmalloc(size + 1);
    while (got < size) {
        ssize_t r = read(fd, buf + got, size - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(why, whylen, "%s", strerror(errno));
            goto out;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    buf[got] = 0;
    *out = buf;
    *len = got;
    buf = NULL;
    rc = 0;
out:
    free(buf);
    close(fd);
    return rc;
}

bool fs_write_all(int fd, const void *p, size_t n)
{
    const char *b = p;
    while (n) {
        ssize_t w = write(fd, b, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

bool fs_read_exact(int fd, void *buf, size_t len, char *why, size_t whylen)
{
    size_t got = 0;
    while (got < len) {
        ssize_t r = read(fd, (char *)buf + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            snprintf(why, whylen, "read: %s", r < 0 ? strerror(errno) : "shorter than its size");
            return false;
        }
        got += (size_t)r;
    }
    return true;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static int walk_dir(const char *path, int depth, bool (*accept)(const char *), fs_file_fn fn, fs_err_fn err, void *ctx);

/* A folder's entries but the hidden ones, sorted, each name followed by
 * its type from the folder itself ('f' regular file, 'd' folder, '?' ask
 * stat): a regular file needs no stat to be known as one. */
static char **dir_names(DIR *d, size_t *count)
{
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue; /* ., .., and hidden files and folders */
        XGROW(names, cap, n + 1);
        size_t nl = strlen(de->d_name);
        names[n] = xmalloc(nl + 2);
        memcpy(names[n], de->d_name, nl + 1);
        names[n++][nl + 1] = de->d_type == DT_REG ? 'f' : de->d_type == DT_DIR ? 'd' : '?';
    }
    if (n)
        qsort(names, n, sizeof(*names), cmp_names);
    *count = n;
    return names;
}

static int walk(const char *path, int depth, bool (*accept)(const char *), fs_file_fn fn, fs_err_fn err, void *ctx)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        if (err)
            err(ctx, path, strerror(errno));
        return 0;
    }
    if (S_ISREG(st.st_mode))
        return fn(ctx, path);
    if (!S_ISDIR(st.st_mode))
        return 0;
    return walk_dir(path, depth, accept, fn, err, ctx);
}

/* A folder's entries in name order; one the folder itself says is a folder
 * (d_type) is entered without a stat of its own: two system calls fewer
 * per folder, hundreds in a rule tree. */
static int walk_dir(const char *path, int depth, bool (*accept)(const char *), fs_file_fn fn, fs_err_fn err, void *ctx)
{
    if (depth >= FS_MAX_DEPTH) {
        if (err)
            err(ctx, path, "directory nesting deeper than 32 levels, not entered");
        return 0;
    }
    DIR *d = opendir(path);
    if (!d) {
        if (err)
            err(ctx, path, strerror(errno));
        return 0;
    }
    size_t n;
    char **names = dir_names(d, &n);
    closedir(d);
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (rc == 0) {
            char *child = fs_join(path, names[i]);
            struct stat cst;
            char type = names[i][strlen(names[i]) + 1];
            if (type == 'f') {
                if (!accept || accept(names[i]))
                    rc = fn(ctx, child);
            } else if (type == 'd') {
                rc = walk_dir(child, depth + 1, accept, fn, err, ctx);
            } else if (lstat(child, &cst) == 0 && S_ISDIR(cst.st_mode)) {
                rc = walk(child, depth + 1, accept, fn, err, ctx);
            } else if (lstat(child, &cst) == 0 && S_ISLNK(cst.st_mode) && stat(child, &cst) == 0 &&
                       S_ISDIR(cst.st_mode)) {
                /* symlinked directories could loop; not followed */
            } else if (!accept || accept(names[i])) {
                rc = walk(child, depth + 1, accept, fn, err, ctx);
            }
            free(child);
        }
        free(names[i]);
    }
    free(names);
    return rc;
}

int fs_walk(const char *path, bool (*accept)(const char *name), fs_file_fn fn, fs_err_fn err, void *ctx)
{
    return walk(path, 0, accept, fn, err, ctx);
}

/* ------------------------------------------------------------- fs_list
 * Why threads: a warm rule load's largest part was listing some 600 rule
 * folders and then stat'ing their 4,000 files one system call at a time
 * (2-3 us each on a virtual machine, where a call alone costs about 1 us).
 * Folders are independent, so each thread takes the next folder from a
 * queue, lists it, stats its files (relative to the open folder) and queues
 * its sub-folders. Each folder keeps its entries in name order with its
 * sub-folders in place, and the result is read off that tree depth first
 * afterwards: the same files and errors in the same order as fs_walk,
 * whatever thread listed what.
 *
 * Why each thread's memory is an arena of its own on huge pages: a thread's
 * malloc is a heap of its own, fresh pages whose every first touch is a
 * trap (tens of microseconds on a virtual machine); the names, paths and
 * stats of 4,000 files touched some 300 such pages. A folder is read with
 * getdents64 rather than readdir: opendir asks fstat of every folder too. */
#define LIST_THREADS_MAX 8
#define LIST_DENTS_BYTES (32u << 10)

struct lnode;
struct litem {
    struct fs_found f;
    struct lnode *sub; /* a folder, listed as a node of its own */
};
struct lnode {
    char *path;
    int depth;
    bool (*accept)(const char *); /* its root's filter: roots listed together may differ */
    char *err;                    /* could not be listed: this error in its place */
    struct litem *v;
    size_t n;
};
/* A folder to list, or (node NULL) n of a big folder's files to stat. */
struct ljob {
    struct lnode *node;
    struct litem *items;
    size_t n;
};
struct lister {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct ljob *q;
    size_t qhead, qn, qcap, busy;
};
struct lworker {
    struct lister *ls;
    struct arena *a;
    uint8_t *dents; /* getdents64's buffer */
    char **names;   /* a folder's, reused folder after folder */
    size_t ncap;
};

static struct lnode *lnode_new(struct arena *a, char *path, int depth, bool (*accept)(const char *))
{
    struct lnode *n = arena_zalloc(a, sizeof(*n));
    n->path = path;
    n->depth = depth;
    n->accept = accept;
    return n;
}

static void lister_push(struct lister *ls, struct ljob job)
{
    pthread_mutex_lock(&ls->mu);
    XGROW(ls->q, ls->qcap, ls->qn + 1);
    ls->q[ls->qn++] = job;
    pthread_cond_signal(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
}

static struct litem *litem_add(struct lnode *n, char *path)
{
    struct litem *it = &n->v[n->n++]; /* v holds one per name of the folder */
    memset(it, 0, sizeof(*it));
    it->f.path = path;
    return it;
}

static char *errtext(struct arena *a, int e)
{
    char b[256];
    return arena_strdup(a, strerror_r(e, b, sizeof(b)));
}

/* A folder's entries but the hidden ones, as dir_names gives them (each
 * name followed by its type), sorted, into w->names; the names in w's
 * arena. A read error ends the list, as it ends readdir's. */
static size_t read_names(struct lworker *w, int fd)
{
    size_t n = 0;
    for (;;) {
        ssize_t got = getdents64(fd, w->dents, LIST_DENTS_BYTES);
        if (got <= 0)
            break;
        for (size_t off = 0; off < (size_t)got;) {
            const struct dirent64 *de = (const struct dirent64 *)(w->dents + off);
            if (de->d_reclen == 0 || de->d_reclen > (size_t)got - off)
                break; /* the kernel's records always fit; never loop on one that does not */
            off += de->d_reclen;
            if (de->d_name[0] == '.')
                continue; /* ., .., and hidden files and folders */
            if (n == w->ncap) {
                size_t nc = w->ncap ? 2 * w->ncap : 256;
                char **v = arena_alloc(w->a, nc * sizeof(*v)); /* the old one stays in the arena, unused */
                if (n)
                    memcpy(v, w->names, n * sizeof(*v));
                w->names = v;
                w->ncap = nc;
            }
            size_t nl = strlen(de->d_name);
            char *name = arena_alloc(w->a, nl + 2);
            memcpy(name, de->d_name, nl + 1);
            name[nl + 1] = de->d_type == DT_REG ? 'f' : de->d_type == DT_DIR ? 'd' : '?';
            w->names[n++] = name;
        }
    }
    if (n)
        qsort(w->names, n, sizeof(*w->names), cmp_names);
    return n;
}

static char *join_in(struct arena *a, const char *dir, const char *name)
{
    size_t dl = strlen(dir), nl = strlen(name);
    while (dl > 1 && dir[dl - 1] == '/')
        dl--;
    char *p = arena_alloc(a, dl + nl + 2);
    memcpy(p, dir, dl);
    p[dl] = '/';
    memcpy(p + dl + 1, name, nl + 1);
    return p;
}

/* A folder to be listed at child's place, or (not a folder) a file or an
 * error as walk() would give, from stat. */
static void add_walked(struct lworker *w, struct lnode *n, char *child)
{
    struct stat st;
    if (stat(child, &st) != 0) {
        litem_add(n, child)->f.err = errtext(w->a, errno);
    } else if (S_ISREG(st.st_mode)) {
        litem_add(n, child)->f.st = st;
    } else if (S_ISDIR(st.st_mode)) {
        struct litem *it = litem_add(n, NULL);
        it->sub = lnode_new(w->a, child, n->depth + 1, n->accept);
        lister_push(w->ls, (struct ljob){.node = it->sub});
    }
}

/* Files stat'ed by path (as fast as relative to their open folder: the
 * call's own cost is most of it), those list_node marked. */
static void stat_items(struct litem *it, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!it[i].sub && it[i].f.st_errno == -1)
            it[i].f.st_errno = stat(it[i].f.path, &it[i].f.st) == 0 ? 0 : errno ? errno : EIO;
}

/* A folder's files stat'ed: a big folder's (SigmaHQ's process_creation
 * holds 1,200 rules) in slices other threads take too, or the thread that
 * lists it would stat them alone, some 4 ms, while the rest wait idle. */
#define LIST_STAT_SLICE 128

static void stat_files(struct lworker *w, struct lnode *n, int fd)
{
    size_t own = n->n < LIST_STAT_SLICE ? n->n : LIST_STAT_SLICE;
    for (size_t from = own; from < n->n; from += LIST_STAT_SLICE) {
        size_t k = n->n - from < LIST_STAT_SLICE ? n->n - from : LIST_STAT_SLICE;
        lister_push(w->ls, (struct ljob){.items = n->v + from, .n = k});
    }
    for (size_t i = 0; i < own; i++) {
        struct litem *it = &n->v[i];
        if (!it->sub && it->f.st_errno == -1) {
            const char *name = strrchr(it->f.path, '/') + 1;
            it->f.st_errno = fstatat(fd, name, &it->f.st, 0) == 0 ? 0 : errno ? errno : EIO;
        }
    }
}

/* One folder, as walk_dir would go through it. */
static void list_node(struct lworker *w, struct lnode *n)
{
    if (n->depth >= FS_MAX_DEPTH) {
        n->err = arena_strdup(w->a, "directory nesting deeper than 32 levels, not entered");
        return;
    }
    int fd = open(n->path, O_RDONLY | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC); /* opendir's flags */
    if (fd < 0) {
        n->err = errtext(w->a, errno);
        return;
    }
    size_t count = read_names(w, fd);
    n->v = arena_alloc(w->a, (count ? count : 1) * sizeof(*n->v));
    bool (*accept)(const char *) = n->accept;
    for (size_t i = 0; i < count; i++) {
        const char *name = w->names[i];
        char type = name[strlen(name) + 1];
        char *child = join_in(w->a, n->path, name);
        struct stat cst;
        if (type == 'f') {
            if (!accept || accept(name))
                litem_add(n, child)->f.st_errno = -1; /* stat'ed below */
        } else if (type == 'd' || (lstat(child, &cst) == 0 && S_ISDIR(cst.st_mode))) {
            struct litem *it = litem_add(n, NULL);
            it->sub = lnode_new(w->a, child, n->depth + 1, n->accept);
            lister_push(w->ls, (struct ljob){.node = it->sub});
        } else if (lstat(child, &cst) == 0 && S_ISLNK(cst.st_mode) && stat(child, &cst) == 0 && S_ISDIR(cst.st_mode)) {
            /* symlinked directories could loop; not followed */
        } else if (!accept || accept(name)) {
            add_walked(w, n, child);
        }
    }
    stat_files(w, n, fd);
    close(fd);
}

static void *lister_run(void *arg)
{
    struct lworker *w = arg;
    struct lister *ls = w->ls;
    w->dents = arena_alloc(w->a, LIST_DENTS_BYTES);
    pthread_mutex_lock(&ls->mu);
    for (;;) {
        while (ls->qhead == ls->qn && ls->busy > 0)
            pthread_cond_wait(&ls->cv, &ls->mu);
        if (ls->qhead == ls->qn)
            break; /* nothing queued and no one listing: done */
        struct ljob job = ls->q[ls->qhead++];
        ls->busy++;
        pthread_mutex_unlock(&ls->mu);
        if (job.node)
            list_node(w, job.node);
        else
            stat_items(job.items, job.n);
        pthread_mutex_lock(&ls->mu);
        ls->busy--;
    }
    pthread_cond_broadcast(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
    return NULL;
}

/* The tree depth first, each file or error to fn. */
static void flatten(const struct lnode *node, fs_found_fn fn, void *ctx)
{
    if (node->err)
        fn(ctx, &(struct fs_found){.path = node->path, .err = node->err});
    for (size_t i = 0; i < node->n; i++) {
        const struct litem *it = &node->v[i];
        if (it->sub)
            flatten(it->sub, fn, ctx);
        else
            fn(ctx, &it->f);
    }
}

/* A path given to list: what its own stat said, or the folder to list. */
struct lroot {
    char *path;
    bool (*accept)(const char *);
    fs_found_fn fn;
    void *ctx;
    struct fs_found found; /* the path itself: a file (st) or an error (err); path NULL when neither */
    struct lnode *node;    /* a folder: its listing */
};

struct fs_lister {
    unsigned threads;
    struct arena mem[LIST_THREADS_MAX]; /* each thread's, kept from one listing to the next */
    struct lroot *roots;                /* added, not listed yet */
    size_t nroots, roots_cap;
    /* the listing under way (begin_listing to fs_lister_flush) */
    bool listing;
    bool caller_lists; /* the caller takes the first worker's part in flush */
    struct lister ls;
    struct lworker w[LIST_THREADS_MAX];
    pthread_t th[LIST_THREADS_MAX];
    unsigned started;
};

struct fs_lister *fs_lister_new(unsigned threads)
{
    struct fs_lister *fl = xcalloc(1, sizeof(*fl));
    fl->threads = threads < 1 ? 1 : threads > LIST_THREADS_MAX ? LIST_THREADS_MAX : threads;
    for (unsigned i = 0; i < fl->threads; i++)
        arena_init_huge(&fl->mem[i], 1u << 20);
    return fl;
}

static void drop_roots(struct fs_lister *fl)
{
    for (size_t i = 0; i < fl->nroots; i++)
        free(fl->roots[i].path);
    fl->nroots = 0;
}

static void end_listing(struct fs_lister *fl, bool deliver);

void fs_lister_free(struct fs_lister *fl)
{
    if (!fl)
        return;
    if (fl->listing)
        end_listing(fl, false); /* its threads use what is freed here */
    drop_roots(fl);
    free(fl->roots);
    for (unsigned i = 0; i < fl->threads; i++)
        arena_free(&fl->mem[i]);
    free(fl);
}

void fs_lister_add(struct fs_lister *fl, const char *path, bool (*accept)(const char *name), fs_found_fn fn, void *ctx)
{
    if (fl->listing)
        fs_lister_flush(fl); /* what was started first, in order */
    XGROW(fl->roots, fl->roots_cap, fl->nroots + 1);
    fl->roots[fl->nroots++] = (struct lroot){.path = xstrdup(path), .accept = accept, .fn = fn, .ctx = ctx};
}

/* Each root's own stat, in the order given: a file given by name is taken
 * whatever its name (as fs_walk), a folder queued for the threads. */
static size_t stat_roots(struct fs_lister *fl, struct lister *ls)
{
    size_t folders = 0;
    for (size_t i = 0; i < fl->nroots; i++) {
        struct lroot *r = &fl->roots[i];
        if (stat(r->path, &r->found.st) != 0) {
            r->found.path = r->path;
            r->found.err = errtext(&fl->mem[0], errno);
            continue;
        }
        if (S_ISREG(r->found.st.st_mode))
            r->found.path = r->path;
        if (!S_ISDIR(r->found.st.st_mode))
            continue;
        r->node = lnode_new(&fl->mem[0], r->path, 0, r->accept);
        XGROW(ls->q, ls->qcap, ls->qn + 1);
        ls->q[ls->qn++] = (struct ljob){.node = r->node};
        folders++;
    }
    return folders;
}

/* The roots' stats, then their folders listed by the threads: all of
 * them, or (caller_works) all but the first worker, whose part the caller
 * takes in flush. With no thread at all the caller lists alone. */
static void begin_listing(struct fs_lister *fl, bool caller_works)
{
    fl->listing = true;
    fl->started = 0;
    fl->ls = (struct lister){0};
    pthread_mutex_init(&fl->ls.mu, NULL);
    pthread_cond_init(&fl->ls.cv, NULL);
    bool folders = stat_roots(fl, &fl->ls) > 0;
    for (unsigned i = 0; i < fl->threads; i++)
        fl->w[i] = (struct lworker){.ls = &fl->ls, .a = &fl->mem[i]};
    for (unsigned i = caller_works ? 1 : 0; folders && i < fl->threads; i++)
        if (pthread_create(&fl->th[fl->started], NULL, lister_run, &fl->w[i]) == 0)
            fl->started++; /* one fewer helper is only slower */
    fl->caller_lists = folders && (caller_works || fl->started == 0);
}

void fs_lister_start(struct fs_lister *fl)
{
    if (!fl->listing && fl->nroots)
        begin_listing(fl, false);
}

/* The listing's threads done, and (deliver) each root's files to its fn. */
static void end_listing(struct fs_lister *fl, bool deliver)
{
    if (fl->caller_lists)
        lister_run(&fl->w[0]);
    for (unsigned i = 0; i < fl->started; i++)
        pthread_join(fl->th[i], NULL);
    for (size_t i = 0; deliver && i < fl->nroots; i++) {
        const struct lroot *r = &fl->roots[i];
        if (r->found.path)
            r->fn(r->ctx, &r->found);
        if (r->node)
            flatten(r->node, r->fn, r->ctx);
    }
    drop_roots(fl);
    for (unsigned i = 0; i < fl->threads; i++)
        arena_reset(&fl->mem[i]);
    free(fl->ls.q);
    pthread_cond_destroy(&fl->ls.cv);
    pthread_mutex_destroy(&fl->ls.mu);
    fl->listing = false;
}

/* Why every path given at once: listed one after another, each listing
 * ended with a thread alone on its last folder while the others waited,
 * and started and joined its threads again. */
void fs_lister_flush(struct fs_lister *fl)
{
    if (!fl->listing)
        begin_listing(fl, true);
    end_listing(fl, true);
}

void fs_lister_list(struct fs_lister *fl, const char *path, bool (*accept)(const char *name), fs_found_fn fn, void *ctx)
{
    fs_lister_add(fl, path, accept, fn, ctx);
    fs_lister_flush(fl);
}

void fs_list(const char *path, bool (*accept)(const char *name), unsigned threads, fs_found_fn fn, void *ctx)
{
    struct fs_lister *fl = fs_lister_new(threads);
    fs_lister_list(fl, path, accept, fn, ctx);
    fs_lister_free(fl);
}

bool fs_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

char *fs_join(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    while (la > 1 && a[la - 1] == '/')
        la--;
    char *p = xmalloc(la + lb + 2);
    memcpy(p, a, la);
    p[la] = '/';
    memcpy(p + la + 1, b, lb + 1);
    return p;
}

char *fs_self_dir(void)
{
    char buf[4096];
    ssize_t n = readlink("/proc/self/exe", buf, sizeof(buf) - 1);
    if (n <= 0)
        return NULL;
    buf[n] = 0;
    char *slash = strrchr(buf, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    return xstrdup(buf[0] ? buf : "/");
}
