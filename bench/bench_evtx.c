/* bench_evtx: how fast the EVTX reader turns files into fields, next to
 * evtxexport on the same files in the same run.
 *
 * Why this way: the reader is meant to be I/O-free (the caller mmaps), so
 * the files are read into memory first and only parsing is timed, on one
 * thread, N times over. evtxexport is timed as whole processes writing XML
 * to /dev/null, which is what a user of it pays; the ratio of the two is the
 * figure to watch. Benchmarks print figures; tests never time.
 *
 * Usage: bench_evtx [-n N] [-x] [DIR|FILE...]   (default: ../shared/data/evtx
 *        and ../shared/data/sigma/regression_data; -x skips evtxexport)
 */
#include "readers/evtx/evtx.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

struct blob {
    char *path;
    uint8_t *data;
    size_t len;
};

static struct blob *files;
static size_t nfiles, files_cap;

static void add_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return;
    struct stat st;
    if (fstat(fileno(f), &st) || st.st_size <= 0) {
        fclose(f);
        return;
    }
    uint8_t *d = malloc((size_t)st.st_size);
    if (!d || fread(d, 1, (size_t)st.st_size, f) != (size_t)st.st_size) {
        free(d);
        fclose(f);
        return;
    }
    fclose(f);
    if (nfiles == files_cap) {
        files_cap = files_cap ? files_cap * 2 : 256;
        files = realloc(files, files_cap * sizeof *files);
        if (!files)
            exit(1);
    }
    files[nfiles].path = strdup(path);
    files[nfiles].data = d;
    files[nfiles].len = (size_t)st.st_size;
    nfiles++;
}

static void walk(const char *path)
{
    struct stat st;
    if (stat(path, &st))
        return;
    if (!S_ISDIR(st.st_mode)) {
        size_t l = strlen(path);
        if (l > 5 && strcmp(path + l - 5, ".evtx") == 0)
            add_file(path);
        return;
    }
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char sub[4096];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        walk(sub);
    }
    closedir(d);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct count {
    unsigned long records, fields, record_bytes;
};

static int on_record(void *ctx, const struct evtx_record *r)
{
    struct count *c = ctx;
    c->records++;
    c->fields += r->nfields;
    c->record_bytes += r->size;
    return 0;
}

static double run_evtxexport(void)
{
    fflush(stdout); /* children must not inherit unwritten output */
    double t0 = now();
    for (size_t i = 0; i < nfiles; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            freopen("/dev/null", "w", stdout);
            freopen("/dev/null", "w", stderr);
            execlp("evtxexport", "evtxexport", "-f", "xml", files[i].path, (char *)NULL);
            _exit(127);
        }
        int st;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || (WIFEXITED(st) && WEXITSTATUS(st) == 127))
            return -1;
    }
    return now() - t0;
}

int main(int argc, char **argv)
{
    int iters = 5, ai = 1;
    int with_evtxexport = 1;
    for (; ai < argc && argv[ai][0] == '-'; ai++) {
        if (strcmp(argv[ai], "-n") == 0 && ai + 1 < argc)
            iters = atoi(argv[++ai]);
        else if (strcmp(argv[ai], "-x") == 0)
            with_evtxexport = 0;
    }
    if (ai < argc) {
        for (; ai < argc; ai++)
            walk(argv[ai]);
    } else {
        walk("../shared/data/evtx");
        walk("../shared/data/sigma/regression_data");
    }
    if (!nfiles) {
        printf("bench_evtx: SKIP: no .evtx files (../shared/data absent?)\n");
        return 0;
    }
    size_t bytes = 0;
    for (size_t i = 0; i < nfiles; i++)
        bytes += files[i].len;

    struct evtx_scratch *s = evtx_scratch_create();
    struct count c = {0};
    struct evtx_visitor v = {&c, on_record, NULL};
    double best = 1e30;
    for (int it = 0; it < iters; it++) {
        c.records = c.fields = c.record_bytes = 0;
        double t0 = now();
        for (size_t i = 0; i < nfiles; i++) {
            struct evtx_file *f;
            if (evtx_open_mem(files[i].data, files[i].len, files[i].path, &f, NULL))
                continue;
            evtx_parse_all(f, s, &v);
            evtx_close(f);
        }
        double dt = now() - t0;
        if (dt < best)
            best = dt;
    }
    double mb = (double)bytes / 1e6;
    printf("files: %zu, %.1f MB, %lu records, %lu fields per pass\n", nfiles, mb, c.records, c.fields);
    /* Files are mostly preallocated zero chunks and slack, so also give the
       rate over the bytes that records occupy. */
    printf("stoat evtx (1 thread, best of %d): %.3f s, %.0f MB/s of file, %.0f MB/s of records, "
           "%.0f records/s\n",
           iters, best, mb / best, (double)c.record_bytes / 1e6 / best, (double)c.records / best);
    if (with_evtxexport) {
        double t = run_evtxexport();
        if (t < 0) {
            printf("evtxexport: not available\n");
        } else {
            printf("evtxexport -f xml (1 pass): %.3f s, %.1f MB/s\n", t, mb / t);
            printf("ratio stoat/evtxexport: %.1fx\n", t / best);
        }
    }
    evtx_scratch_destroy(s);
    for (size_t i = 0; i < nfiles; i++) {
        free(files[i].path);
        free(files[i].data);
    }
    free(files);
    return 0;
}
