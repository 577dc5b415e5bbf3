/* See fs.h. */
#include "util/fs.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
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
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (de->d_name[0] == '.')
            continue; /* ., .., and hidden files and folders */
        XGROW(names, cap, n + 1);
        /* the entry's type from the folder itself, after its name: a
         * regular file needs no stat (thousands of rule files) */
        size_t nl = strlen(de->d_name);
        names[n] = xmalloc(nl + 2);
        memcpy(names[n], de->d_name, nl + 1);
        names[n++][nl + 1] = de->d_type == DT_REG ? 'f' : de->d_type == DT_DIR ? 'd' : '?';
    }
    closedir(d);
    qsort(names, n, sizeof(*names), cmp_names);
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
