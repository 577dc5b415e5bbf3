/* fs_list (src/util/fs.c): the files and errors fs_walk gives, the same ones
 * in the same order, whatever the number of threads listing the folders,
 * each file with the stat stat() gives it. The tree has what a rule folder
 * can hold: nested folders, hidden entries, names the filter refuses, a
 * symlinked folder (not followed), a symlinked file (followed), a dangling
 * symlink (an error), a FIFO (skipped) and folders nested past the limit.
 * A folder of 1,500 long names takes several reads of the folder
 * (getdents64's buffer is 32 KiB), in an order unlike the names'; one
 * lister lists several paths in a row as fs_walk walks each. */
#include "testutil.h"

#include <errno.h>
#include <sys/stat.h>

#include "util/fs.h"

#define SEEN_MAX 4096
struct seen {
    char *what[SEEN_MAX];
    size_t n;
};

static int on_file(void *ctx, const char *path)
{
    struct seen *s = ctx;
    assert_true(s->n < SEEN_MAX);
    s->what[s->n++] = tu_strdup(path);
    return 0;
}

static void on_err(void *ctx, const char *path, const char *why)
{
    struct seen *s = ctx;
    assert_true(s->n < SEEN_MAX);
    size_t len = strlen(path) + strlen(why) + 8;
    char *m = malloc(len);
    assert_non_null(m);
    snprintf(m, len, "%s: %s", path, why);
    s->what[s->n++] = m;
}

static bool yml(const char *name)
{
    size_t n = strlen(name);
    return n > 4 && strcmp(name + n - 4, ".yml") == 0;
}

static void put(const char *dir, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fputs("title: x\n", f);
    fclose(f);
}

static void sub(const char *dir, const char *rel)
{
    char p[4096];
    snprintf(p, sizeof(p), "%s/%s", dir, rel);
    assert_int_equal(mkdir(p, 0700), 0);
}

static void make_tree(const char *d)
{
    char p[4096], t[4096];
    sub(d, "a");
    sub(d, "a/b");
    sub(d, "m");
    put(d, "a/1.yml");
    put(d, "a/2.txt");
    put(d, "a/.hidden.yml");
    put(d, "a/b/3.yml");
    put(d, "a/b/4.yml");
    put(d, "m/5.yml");
    put(d, "z.yml");
    sub(d, ".git");
    put(d, ".git/6.yml");
    snprintf(p, sizeof(p), "%s/link-dir", d);
    snprintf(t, sizeof(t), "%s/a", d);
    assert_int_equal(symlink(t, p), 0);
    snprintf(p, sizeof(p), "%s/link-file.yml", d);
    snprintf(t, sizeof(t), "%s/m/5.yml", d);
    assert_int_equal(symlink(t, p), 0);
    snprintf(p, sizeof(p), "%s/dangling.yml", d);
    assert_int_equal(symlink("/nonexistent/stoat-test", p), 0);
    snprintf(p, sizeof(p), "%s/pipe.yml", d);
    assert_int_equal(mkfifo(p, 0600), 0);
    /* deeper than FS_MAX_DEPTH: one error where the walk stops */
    snprintf(p, sizeof(p), "%s/deep", d);
    assert_int_equal(mkdir(p, 0700), 0);
    for (int i = 0; i < FS_MAX_DEPTH + 2; i++) {
        strcat(p, "/d");
        assert_int_equal(mkdir(p, 0700), 0);
    }
    strcat(p, "/7.yml");
    FILE *f = fopen(p, "w");
    assert_non_null(f);
    fclose(f);
}

struct listed {
    const struct seen *walked;
    size_t i;
};

static void on_found(void *ctx, const struct fs_found *f)
{
    struct listed *l = ctx;
    assert_true(l->i < l->walked->n);
    const char *want = l->walked->what[l->i++];
    if (f->err) {
        char m[4096];
        snprintf(m, sizeof(m), "%s: %s", f->path, f->err);
        assert_string_equal(m, want);
        return;
    }
    assert_string_equal(f->path, want);
    struct stat st;
    assert_int_equal(stat(f->path, &st), 0);
    assert_int_equal(f->st_errno, 0);
    assert_true(f->st.st_ino == st.st_ino && f->st.st_dev == st.st_dev && f->st.st_size == st.st_size &&
                f->st.st_mtim.tv_nsec == st.st_mtim.tv_nsec);
}

static void check_same(const char *root, unsigned threads)
{
    struct seen walked = {0};
    fs_walk(root, yml, on_file, on_err, &walked);
    struct listed l = {.walked = &walked};
    fs_list(root, yml, threads, on_found, &l);
    assert_int_equal(l.i, walked.n);
    for (size_t i = 0; i < walked.n; i++)
        free(walked.what[i]);
}

/* The same with one lister for several paths in a row (fs_lister_list):
 * what one listing left in its memory changes nothing of the next. */
static void check_same_lister(struct fs_lister *fl, const char *root)
{
    struct seen walked = {0};
    fs_walk(root, yml, on_file, on_err, &walked);
    struct listed l = {.walked = &walked};
    fs_lister_list(fl, root, yml, on_found, &l);
    assert_int_equal(l.i, walked.n);
    for (size_t i = 0; i < walked.n; i++)
        free(walked.what[i]);
}

/* Several paths added and listed at once (fs_lister_add, fs_lister_flush):
 * each path's files and errors, path after path, as fs_walk gives them one
 * by one; the same when the listing was started on its own threads first
 * (fs_lister_start), and nothing comes before the flush. */
static void check_same_many(struct fs_lister *fl, const char *const *roots, size_t n, bool start)
{
    struct seen walked = {0};
    for (size_t i = 0; i < n; i++)
        fs_walk(roots[i], yml, on_file, on_err, &walked);
    struct listed l = {.walked = &walked};
    for (size_t i = 0; i < n; i++)
        fs_lister_add(fl, roots[i], yml, on_found, &l);
    if (start) {
        fs_lister_start(fl);
        fs_lister_start(fl); /* once is enough */
    }
    assert_int_equal(l.i, 0); /* nothing before the flush */
    fs_lister_flush(fl);
    assert_int_equal(l.i, walked.n);
    for (size_t i = 0; i < walked.n; i++)
        free(walked.what[i]);
}

static void test_same_as_walk(void **state)
{
    (void)state;
    char d[] = "/tmp/stoat-fslist-XXXXXX";
    assert_non_null(mkdtemp(d));
    make_tree(d);
    /* what the walk itself gives, so that the comparison means something */
    struct seen walked = {0};
    fs_walk(d, yml, on_file, on_err, &walked);
    size_t files = 0, errors = 0;
    for (size_t i = 0; i < walked.n; i++) {
        if (strstr(walked.what[i], ": "))
            errors++;
        else
            files++;
        assert_null(strstr(walked.what[i], "hidden"));
        assert_null(strstr(walked.what[i], "link-dir"));
        free(walked.what[i]);
    }
    assert_int_equal(files, 6);  /* 1, 3, 4, 5, z and the symlinked file */
    assert_int_equal(errors, 2); /* the dangling symlink, the folder too deep */
    for (unsigned t = 1; t <= 4; t++)
        check_same(d, t);
    char file[4096];
    snprintf(file, sizeof(file), "%s/a/2.txt", d); /* a file given by name, whatever its name */
    check_same(file, 2);
    snprintf(file, sizeof(file), "%s/missing", d);
    check_same(file, 2);
    char given[4096], sub_a[4096];
    snprintf(given, sizeof(given), "%s/a/2.txt", d);
    snprintf(sub_a, sizeof(sub_a), "%s/a", d);
    const char *roots[] = {d, given, file, sub_a, d};
    for (unsigned t = 1; t <= 3; t++) {
        struct fs_lister *fl = fs_lister_new(t);
        check_same_many(fl, roots, sizeof(roots) / sizeof(*roots), false);
        check_same_many(fl, roots, sizeof(roots) / sizeof(*roots), true);
        fs_lister_free(fl);
    }
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

static void test_big_folder(void **state)
{
    (void)state;
    char d[] = "/tmp/stoat-fslist-XXXXXX";
    assert_non_null(mkdtemp(d));
    sub(d, "big");
    sub(d, "big/sub");
    char rel[256];
    for (int i = 0; i < 1500; i++) { /* 1,500 names of some 90 bytes: over 130 KiB of entries */
        snprintf(rel, sizeof(rel), "big/%s%04d-a-rule-file-name-as-long-as-sigmahq-gives-them-proc-creation-win.%s",
                 i % 2 ? "x" : "b", (i * 7919) % 1500, i % 3 ? "yml" : "txt");
        put(d, rel);
    }
    put(d, "big/sub/inner.yml");
    struct seen walked = {0};
    fs_walk(d, yml, on_file, on_err, &walked);
    assert_int_equal(walked.n, 1000 + 1); /* two in three end in .yml; the sub-folder's one */
    for (size_t i = 1; i < walked.n; i++) /* name order, the sub-folder in place */
        assert_true(strcmp(walked.what[i - 1], walked.what[i]) < 0);
    for (size_t i = 0; i < walked.n; i++)
        free(walked.what[i]);
    for (unsigned t = 1; t <= 4; t++)
        check_same(d, t);
    /* one lister, the big folder between smaller ones and again */
    char small[4200], missing[4200];
    snprintf(small, sizeof(small), "%s/big/sub", d);
    snprintf(missing, sizeof(missing), "%s/none", d);
    for (unsigned t = 1; t <= 3; t += 2) {
        struct fs_lister *fl = fs_lister_new(t);
        const char *roots[] = {small, d, missing, small, d, d};
        for (size_t i = 0; i < sizeof(roots) / sizeof(*roots); i++)
            check_same_lister(fl, roots[i]);
        check_same_many(fl, roots, sizeof(roots) / sizeof(*roots), t == 1);
        check_same_lister(fl, small);              /* a flush leaves nothing behind */
        fs_lister_add(fl, d, yml, on_found, NULL); /* dropped unlisted by the free */
        fs_lister_free(fl);
        /* started and never flushed: the free waits for its threads, and
         * nothing is delivered */
        fl = fs_lister_new(t);
        fs_lister_add(fl, d, yml, on_found, NULL);
        fs_lister_start(fl);
        fs_lister_free(fl);
        /* a path added while a listing runs: the first delivered, in order */
        struct seen during = {0};
        fs_walk(small, yml, on_file, on_err, &during);
        fs_walk(d, yml, on_file, on_err, &during);
        struct listed l = {.walked = &during};
        fl = fs_lister_new(t);
        fs_lister_add(fl, small, yml, on_found, &l);
        fs_lister_start(fl);
        fs_lister_add(fl, d, yml, on_found, &l);
        assert_int_equal(l.i, 1);
        fs_lister_flush(fl);
        assert_int_equal(l.i, during.n);
        fs_lister_free(fl);
        for (size_t i = 0; i < during.n; i++)
            free(during.what[i]);
    }
    char cmd[4200];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", d);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_same_as_walk),
        cmocka_unit_test(test_big_folder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
