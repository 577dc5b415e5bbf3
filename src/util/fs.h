/* Files: reading a whole (capped) file, and walking directories in a stable
 * (sorted) order so that runs over the same tree give the same output;
 * fs_list walks the same way in threads, for a caller that wants every
 * file's stat before it reads any (the rule cache's key). */
#ifndef STOAT_UTIL_FS_H
#define STOAT_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#define FS_MAX_DEPTH 32

/* Reads path into a NUL-terminated malloc'd buffer; fails (with a reason in
 * why) when larger than cap. Returns 0 on success. */
int fs_read_file(const char *path, size_t cap, char **out, size_t *len, char *why, size_t whylen);

/* Reads exactly len bytes of fd into buf (through EINTR); false, with
 * "read: <reason>" in why, on an error or an early end. */
bool fs_read_exact(int fd, void *buf, size_t len, char *why, size_t whylen);

/* Writes all n bytes of p to fd, through partial writes and EINTR; false
 * on an error (errno says which). */
bool fs_write_all(int fd, const void *p, size_t n);

/* Calls fn for every regular file under path (path itself when it is a file),
 * in sorted order, following no symlinked directories. accept filters names
 * (NULL: all). An unreadable entry is reported through err and skipped. */
typedef int (*fs_file_fn)(void *ctx, const char *path);
typedef void (*fs_err_fn)(void *ctx, const char *path, const char *why);
int fs_walk(const char *path, bool (*accept)(const char *name), fs_file_fn fn, fs_err_fn err, void *ctx);

/* What fs_list found, in fs_walk's order: a file, with its stat (st_errno
 * 0 when stat succeeded), or an error about path (err set). */
struct fs_found {
    char *path;
    char *err;
    int st_errno;
    struct stat st;
};
/* Calls fn with fs_walk's files and errors, the same ones in the same
 * order, each file stat'ed as its folder is listed; the folders listed by
 * up to threads threads at once (1: this one alone). fn runs in the
 * calling thread, after the listing; what it is given lives until it
 * returns. */
typedef void (*fs_found_fn)(void *ctx, const struct fs_found *f);
void fs_list(const char *path, bool (*accept)(const char *name), unsigned threads, fs_found_fn fn, void *ctx);

/* The same for several paths: the threads' memory (on huge pages, fs.c
 * says why) is kept from one to the next rather than mapped and zeroed
 * afresh for each path. fs_lister_add queues a path; fs_lister_flush lists
 * every queued path at once and then calls each one's fn with its files,
 * path after path in the order added, as fs_list would one by one.
 * fs_lister_start begins that listing on threads of its own and returns,
 * for the caller to do something else meanwhile; flush then waits for it.
 * fs_lister_list is add and flush for one path. fs_lister_free drops what
 * was added and not flushed (a listing started is finished first). */
struct fs_lister;
struct fs_lister *fs_lister_new(unsigned threads);
void fs_lister_add(struct fs_lister *fl, const char *path, bool (*accept)(const char *name), fs_found_fn fn, void *ctx);
void fs_lister_start(struct fs_lister *fl);
void fs_lister_flush(struct fs_lister *fl);
void fs_lister_list(struct fs_lister *fl, const char *path, bool (*accept)(const char *name), fs_found_fn fn,
                    void *ctx);
void fs_lister_free(struct fs_lister *fl);

bool fs_is_dir(const char *path);
/* Joins a and b with one '/'; malloc'd. */
char *fs_join(const char *a, const char *b);
/* Directory of the running executable (malloc'd), or NULL. */
char *fs_self_dir(void);

#endif
