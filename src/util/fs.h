/* Files: reading a whole (capped) file, and walking directories in a stable
 * (sorted) order so that runs over the same tree give the same output. */
#ifndef STOAT_UTIL_FS_H
#define STOAT_UTIL_FS_H

#include <stdbool.h>
#include <stddef.h>

#define FS_MAX_DEPTH 32

/* Reads path into a NUL-terminated malloc'd buffer; fails (with a reason in
 * why) when larger than cap. Returns 0 on success. */
int fs_read_file(const char *path, size_t cap, char **out, size_t *len, char *why, size_t whylen);

/* Calls fn for every regular file under path (path itself when it is a file),
 * in sorted order, following no symlinked directories. accept filters names
 * (NULL: all). An unreadable entry is reported through err and skipped. */
typedef int (*fs_file_fn)(void *ctx, const char *path);
typedef void (*fs_err_fn)(void *ctx, const char *path, const char *why);
int fs_walk(const char *path, bool (*accept)(const char *name), fs_file_fn fn, fs_err_fn err, void *ctx);

bool fs_is_dir(const char *path);
/* Joins a and b with one '/'; malloc'd. */
char *fs_join(const char *a, const char *b);
/* Directory of the running executable (malloc'd), or NULL. */
char *fs_self_dir(void);

#endif
