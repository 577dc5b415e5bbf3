/* See fs.h. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
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
 * whatever thread listed what. */
struct lnode;
struct litem {
    struct fs_found f;
    struct lnode *sub; /* a folder, listed as a node of its own */
};
struct lnode {
    char *path;
    int depth;
    char *err; /* could not be listed: this error in its place */
    struct litem *v;
    size_t n, cap;
};
struct lister {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    struct lnode **q;
    size_t qhead, qn, qcap, busy;
    bool (*accept)(const char *);
};

static struct lnode *lnode_new(char *path, int depth)
{
    struct lnode *n = xcalloc(1, sizeof(*n));
    n->path = path;
    n->depth = depth;
    return n;
}

static void lister_push(struct lister *ls, struct lnode *n)
{
    pthread_mutex_lock(&ls->mu);
    XGROW(ls->q, ls->qcap, ls->qn + 1);
    ls->q[ls->qn++] = n;
    pthread_cond_signal(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
}

static struct litem *litem_add(struct lnode *n, char *path)
{
    XGROW(n->v, n->cap, n->n + 1);
    struct litem *it = &n->v[n->n++];
    memset(it, 0, sizeof(*it));
    it->f.path = path;
    return it;
}

static char *errtext(int e)
{
    char b[256];
    return xstrdup(strerror_r(e, b, sizeof(b)));
}

/* A folder to be listed at child's place, or (not a folder) a file or an
 * error as walk() would give, from stat. */
static void add_walked(struct lister *ls, struct lnode *n, char *child)
{
    struct stat st;
    if (stat(child, &st) != 0) {
        litem_add(n, child)->f.err = errtext(errno);
    } else if (S_ISREG(st.st_mode)) {
        litem_add(n, child)->f.st = st;
    } else if (S_ISDIR(st.st_mode)) {
        struct litem *it = litem_add(n, NULL);
        it->sub = lnode_new(child, n->depth + 1);
        lister_push(ls, it->sub);
    } else {
        free(child);
    }
}

/* One folder, as walk_dir would go through it. */
static void list_node(struct lister *ls, struct lnode *n)
{
    if (n->depth >= FS_MAX_DEPTH) {
        n->err = xstrdup("directory nesting deeper than 32 levels, not entered");
        return;
    }
    DIR *d = opendir(n->path);
    if (!d) {
        n->err = errtext(errno);
        return;
    }
    size_t count;
    char **names = dir_names(d, &count);
    for (size_t i = 0; i < count; i++) {
        char *child = fs_join(n->path, names[i]);
        char type = names[i][strlen(names[i]) + 1];
        struct stat cst;
        if (type == 'f') {
            if (!ls->accept || ls->accept(names[i])) {
                struct litem *it = litem_add(n, child);
                if (fstatat(dirfd(d), names[i], &it->f.st, 0) != 0)
                    it->f.st_errno = errno ? errno : EIO;
                child = NULL;
            }
        } else if (type == 'd' || (lstat(child, &cst) == 0 && S_ISDIR(cst.st_mode))) {
            struct litem *it = litem_add(n, NULL);
            it->sub = lnode_new(child, n->depth + 1);
            lister_push(ls, it->sub);
            child = NULL;
        } else if (lstat(child, &cst) == 0 && S_ISLNK(cst.st_mode) && stat(child, &cst) == 0 && S_ISDIR(cst.st_mode)) {
            /* symlinked directories could loop; not followed */
        } else if (!ls->accept || ls->accept(names[i])) {
            add_walked(ls, n, child);
            child = NULL;
        }
        free(child);
        free(names[i]);
    }
    free(names);
    closedir(d);
}

static void *lister_run(void *arg)
{
    struct lister *ls = arg;
    pthread_mutex_lock(&ls->mu);
    for (;;) {
        while (ls->qhead == ls->qn && ls->busy > 0)
            pthread_cond_wait(&ls->cv, &ls->mu);
        if (ls->qhead == ls->qn)
            break; /* nothing queued and no one listing: done */
        struct lnode *n = ls->q[ls->qhead++];
        ls->busy++;
        pthread_mutex_unlock(&ls->mu);
        list_node(ls, n);
        pthread_mutex_lock(&ls->mu);
        ls->busy--;
    }
    pthread_cond_broadcast(&ls->cv);
    pthread_mutex_unlock(&ls->mu);
    return NULL;
}

/* The tree depth first, each file or error to fn; the nodes freed. */
static void flatten(struct lnode *node, fs_found_fn fn, void *ctx)
{
    if (node->err)
        fn(ctx, &(struct fs_found){.path = node->path, .err = node->err});
    for (size_t i = 0; i < node->n; i++) {
        struct litem *it = &node->v[i];
        if (it->sub) {
            flatten(it->sub, fn, ctx);
            continue;
        }
        fn(ctx, &it->f);
        free(it->f.path);
        free(it->f.err);
    }
    free(node->err);
    free(node->path);
    free(node->v);
    free(node);
}

#define LIST_THREADS_MAX 8

void fs_list(const char *path, bool (*accept)(const char *name), unsigned threads, fs_found_fn fn, void *ctx)
{
    struct stat st;
    if (stat(path, &st) != 0) {
        char *why = errtext(errno);
        fn(ctx, &(struct fs_found){.path = (char *)path, .err = why});
        free(why);
        return;
    }
    if (S_ISREG(st.st_mode)) /* as fs_walk: a file given by name is taken whatever its name */
        fn(ctx, &(struct fs_found){.path = (char *)path, .st = st});
    if (!S_ISDIR(st.st_mode))
        return;
    struct lister ls = {.accept = accept};
    pthread_mutex_init(&ls.mu, NULL);
    pthread_cond_init(&ls.cv, NULL);
    struct lnode *root = lnode_new(xstrdup(path), 0);
    lister_push(&ls, root);
    if (threads > LIST_THREADS_MAX)
        threads = LIST_THREADS_MAX;
    pthread_t th[LIST_THREADS_MAX];
    unsigned started = 0;
    for (unsigned i = 1; i < threads; i++)
        if (pthread_create(&th[started], NULL, lister_run, &ls) == 0)
            started++; /* one fewer helper is only slower */
    lister_run(&ls);
    for (unsigned i = 0; i < started; i++)
        pthread_join(th[i], NULL);
    flatten(root, fn, ctx);
    free(ls.q);
    pthread_cond_destroy(&ls.cv);
    pthread_mutex_destroy(&ls.mu);
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
