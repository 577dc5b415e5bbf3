/* The compiled-rule cache (src/rules/cache.c): a file written is read back
 * whole and scans as the compiled databases do; a file damaged in any byte,
 * cut at any length, of another format or for other databases is refused
 * (the caller then compiles) and leaves no database behind; counts and
 * lengths are bounded even when the checksum is made to fit. Through the
 * loader: a second load reads the cache, a damaged one is noted and
 * rebuilt, --compiled files are held to their rules. Every cache here lives
 * in a temporary folder. */
#include "testutil.h"

#include <fcntl.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "rules/cache.h"
#include "rules/loader.h"
#include "rules/ruleset.h"
#include "rules/snapshot.h"
#include "util/fs.h"

/* ------------------------------------------------------------- helpers */

struct two_dbs {
    hs_database_t *db[2];
    hs_database_t *out[2];
    struct rc_db e[2];
};

static hs_database_t *compile_lits(const char *const *lits, size_t n)
{
    size_t lens[8];
    unsigned flags[8], ids[8];
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(lits[i]);
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = (unsigned)i;
    }
    hs_database_t *db = NULL;
    hs_compile_error_t *err = NULL;
    assert_int_equal(hs_compile_lit_multi(lits, flags, ids, lens, (unsigned)n, HS_MODE_BLOCK, NULL, &db, &err),
                     HS_SUCCESS);
    return db;
}

static void key_of(const char *const *lits, size_t n, uint8_t key[RC_KEY_LEN])
{
    size_t lens[8];
    unsigned flags[8], ids[8];
    for (size_t i = 0; i < n; i++) {
        lens[i] = strlen(lits[i]);
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = (unsigned)i;
    }
    rulecache_db_key(lits, lens, flags, ids, n, key);
}

static const char *const lits_a[] = {"mimikatz", "sekurlsa"};
static const char *const lits_b[] = {"vssadmin", "shadows", "delete"};

/* Two databases compiled, and entries that receive them from a file. */
static void two_make(struct two_dbs *t)
{
    memset(t, 0, sizeof(*t));
    t->db[0] = compile_lits(lits_a, 2);
    t->db[1] = compile_lits(lits_b, 3);
    key_of(lits_a, 2, t->e[0].key);
    key_of(lits_b, 3, t->e[1].key);
}

static void two_free(struct two_dbs *t)
{
    for (int i = 0; i < 2; i++) {
        hs_free_database(t->db[i]);
        hs_free_database(t->out[i]);
    }
}

/* The file's bytes, written from the compiled databases. */
static uint8_t *written(struct two_dbs *t, size_t *len)
{
    char *dir = tu_temp_dir();
    char path[512], why[400];
    snprintf(path, sizeof(path), "%s/c.hsc", dir);
    struct rc_db w[2] = {t->e[0], t->e[1]};
    w[0].db = &t->db[0];
    w[1].db = &t->db[1];
    assert_true(rulecache_write(path, w, 2, why, sizeof(why)));
    struct stat st;
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    uint8_t *buf = malloc((size_t)st.st_size);
    assert_int_equal(fread(buf, 1, (size_t)st.st_size, f), (size_t)st.st_size);
    fclose(f);
    *len = (size_t)st.st_size;
    tu_rm_rf(dir);
    free(dir);
    return buf;
}

static bool decode(struct two_dbs *t, const uint8_t *buf, size_t len, char *why, size_t whylen)
{
    for (int i = 0; i < 2; i++) {
        hs_free_database(t->out[i]);
        t->out[i] = (hs_database_t *)0x1; /* must come back NULL on failure */
        t->e[i].db = &t->out[i];
    }
    bool ok = rulecache_decode(buf, len, t->e, 2, why, whylen);
    if (!ok)
        for (int i = 0; i < 2; i++)
            assert_null(t->out[i]);
    return ok;
}

static int on_match(unsigned id, unsigned long long from, unsigned long long to, unsigned flags, void *ctx)
{
    (void)from;
    (void)to;
    (void)flags;
    *(unsigned *)ctx |= 1u << id;
    return 0;
}

static unsigned scan(hs_database_t *db, const char *s)
{
    hs_scratch_t *scr = NULL;
    assert_int_equal(hs_alloc_scratch(db, &scr), HS_SUCCESS);
    unsigned seen = 0;
    assert_int_equal(hs_scan(db, s, (unsigned)strlen(s), 0, scr, on_match, &seen), HS_SUCCESS);
    hs_free_scratch(scr);
    return seen;
}

/* The payload's checksum made to fit again, so the checks behind it run. */
static void fix_sum(uint8_t *buf, size_t len)
{
    SHA256(buf + 88, len - 88, buf + 56);
}

/* The whole-ruleset file's damage check is not a SHA-256 (cache.c). */
static void fix_snap_sum(uint8_t *buf, size_t len)
{
    rulecache_sum(buf + 88, len - 88, buf + 56);
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* ------------------------------------------------------------- the format */

static void test_round_trip(void **state)
{
    (void)state;
    struct two_dbs t;
    two_make(&t);
    size_t len;
    uint8_t *buf = written(&t, &len);
    char why[400] = "";
    assert_true(decode(&t, buf, len, why, sizeof(why)));
    assert_int_equal(scan(t.out[0], "x SEKURLSA::logonpasswords MimiKatz"), 3);
    assert_int_equal(scan(t.out[1], "vssadmin delete"), 5);
    assert_int_equal(scan(t.out[1], "mimikatz"), 0);
    assert_int_equal(scan(t.out[0], "nothing"), 0);
    free(buf);
    two_free(&t);
}

static void test_every_flipped_byte(void **state)
{
    (void)state;
    struct two_dbs t;
    two_make(&t);
    size_t len;
    uint8_t *buf = written(&t, &len);
    char why[400];
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x5a;
        if (decode(&t, buf, len, why, sizeof(why)))
            fail_msg("a file with byte %zu of %zu flipped was accepted", i, len);
        buf[i] ^= 0x5a;
    }
    assert_true(decode(&t, buf, len, why, sizeof(why)));
    free(buf);
    two_free(&t);
}

static void test_every_truncation(void **state)
{
    (void)state;
    struct two_dbs t;
    two_make(&t);
    size_t len;
    uint8_t *buf = written(&t, &len);
    char why[400];
    for (size_t n = 0; n < len; n++) {
        uint8_t *cut = malloc(n ? n : 1); /* exactly n bytes: a read past them is ASan's */
        memcpy(cut, buf, n);
        if (decode(&t, cut, n, why, sizeof(why)))
            fail_msg("a file cut to %zu of %zu bytes was accepted", n, len);
        free(cut);
    }
    free(buf);
    two_free(&t);
}

static void test_wrong_format_and_key(void **state)
{
    (void)state;
    struct two_dbs t;
    two_make(&t);
    size_t len;
    uint8_t *buf = written(&t, &len);
    char why[400];
    buf[8] = 2; /* format 2 */
    assert_false(decode(&t, buf, len, why, sizeof(why)));
    assert_non_null(strstr(why, "format 2"));
    buf[8] = 1;
    /* the same file asked for other databases (another rule set) */
    uint8_t saved[RC_KEY_LEN];
    memcpy(saved, t.e[1].key, RC_KEY_LEN);
    const char *other[] = {"vssadmin", "shadows", "resize"};
    key_of(other, 3, t.e[1].key);
    assert_false(decode(&t, buf, len, why, sizeof(why)));
    assert_non_null(strstr(why, "other rules"));
    memcpy(t.e[1].key, saved, RC_KEY_LEN);
    /* asked for one database only */
    t.out[0] = NULL;
    t.e[0].db = &t.out[0];
    assert_false(rulecache_decode(buf, len, t.e, 1, why, sizeof(why)));
    assert_null(t.out[0]);
    free(buf);
    two_free(&t);
}

static void test_huge_counts_and_lengths(void **state)
{
    (void)state;
    struct two_dbs t;
    two_make(&t);
    size_t len;
    uint8_t *buf = written(&t, &len);
    uint8_t *copy = malloc(len + 16);
    char why[400];
    /* a huge count */
    memcpy(copy, buf, len);
    memset(copy + 12, 0xff, 4);
    assert_false(decode(&t, copy, len, why, sizeof(why)));
    /* a huge payload length */
    memcpy(copy, buf, len);
    memset(copy + 16, 0xff, 8);
    assert_false(decode(&t, copy, len, why, sizeof(why)));
    /* the first database's length past the end, checksum made to fit */
    memcpy(copy, buf, len);
    put64(copy + 88 + RC_KEY_LEN, UINT64_MAX - 3);
    fix_sum(copy, len);
    assert_false(decode(&t, copy, len, why, sizeof(why)));
    assert_non_null(strstr(why, "past the end"));
    /* the databases swapped in place: each under the other's key */
    memcpy(copy, buf, len);
    copy[88] ^= 1;
    fix_sum(copy, len);
    assert_false(decode(&t, copy, len, why, sizeof(why)));
    assert_non_null(strstr(why, "another database's key"));
    /* bytes after the last database, counted in the payload */
    memcpy(copy, buf, len);
    memset(copy + len, 0, 16);
    put64(copy + 16, len + 16 - 88);
    fix_sum(copy, len + 16);
    assert_false(decode(&t, copy, len + 16, why, sizeof(why)));
    assert_non_null(strstr(why, "after the last"));
    /* a database Hyperscan does not recognise (its magic), checksum fitting */
    memcpy(copy, buf, len);
    copy[88 + RC_KEY_LEN + 8] ^= 0xff;
    fix_sum(copy, len);
    assert_false(decode(&t, copy, len, why, sizeof(why)));
    assert_non_null(strstr(why, "Hyperscan refused"));
    /* and the file untouched still reads */
    assert_true(decode(&t, buf, len, why, sizeof(why)));
    free(copy);
    free(buf);
    two_free(&t);
}

/* ------------------------------------------------------ folder and files */

/* rulecache_file_map reads a file whole into huge pages: every byte, at
 * lengths about a huge page's; an empty, missing or non-regular one is
 * refused and said so. */
static void test_file_map(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    char path[512], why[400];
    snprintf(path, sizeof(path), "%s/f", dir);
    const size_t huge = (size_t)2 << 20, lens[] = {1, 4095, huge - 1, huge, huge + 1, 3 * huge + 12345};
    uint8_t *want = malloc(lens[5]);
    assert_non_null(want);
    for (size_t i = 0; i < lens[5]; i++)
        want[i] = (uint8_t)(i * 2654435761u >> 13);
    for (size_t k = 0; k < sizeof(lens) / sizeof(*lens); k++) {
        FILE *f = fopen(path, "wb");
        assert_non_null(f);
        assert_int_equal(fwrite(want, 1, lens[k], f), lens[k]);
        fclose(f);
        const uint8_t *buf;
        size_t len;
        bool missing = true;
        assert_true(rulecache_file_map(path, &buf, &len, &missing, why, sizeof(why)));
        assert_false(missing);
        assert_int_equal(len, lens[k]);
        assert_memory_equal(buf, want, len);
        rulecache_file_unmap(buf, len);
    }
    const uint8_t *buf;
    size_t len;
    bool missing = false;
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    assert_false(rulecache_file_map(path, &buf, &len, &missing, why, sizeof(why)));
    assert_false(missing);
    assert_false(rulecache_file_map(dir, &buf, &len, &missing, why, sizeof(why)));
    unlink(path);
    assert_false(rulecache_file_map(path, &buf, &len, &missing, why, sizeof(why)));
    assert_true(missing);
    free(want);
    tu_rm_rf(dir);
    free(dir);
}

static void test_folder_and_trim(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    char sub[512], why[400];
    snprintf(sub, sizeof(sub), "%s/a/b/stoat", dir);
    uint8_t key[RC_KEY_LEN] = {0xab, 0xcd};
    char *p = rulecache_path(sub, key, why, sizeof(why));
    assert_non_null(p);
    assert_non_null(strstr(p, "/stoat-abcd"));
    struct stat st;
    assert_int_equal(stat(sub, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0700);
    free(p);
    /* a folder others may write is not used */
    assert_int_equal(chmod(sub, 0777), 0);
    assert_null(rulecache_path(sub, key, why, sizeof(why)));
    assert_non_null(strstr(why, "not ours alone"));
    assert_int_equal(chmod(sub, 0700), 0);
    /* 20 files, the oldest first: trimmed to 16 they lose the 4 oldest but
     * the one kept; and to 2,000 bytes, all but the newest two */
    char names[20][600];
    for (int i = 0; i < 20; i++) {
        snprintf(names[i], sizeof(names[i]), "%s/stoat-%02d.hsc", sub, i);
        FILE *f = fopen(names[i], "w");
        assert_non_null(f);
        fprintf(f, "%1000d", i);
        fclose(f);
        struct timespec ts[2] = {{.tv_sec = 1000000 + i}, {.tv_sec = 1000000 + i}};
        assert_int_equal(utimensat(AT_FDCWD, names[i], ts, 0), 0);
    }
    rulecache_trim(sub, names[1], 16, UINT64_MAX);
    for (int i = 0; i < 20; i++)
        assert_int_equal(access(names[i], F_OK) == 0, i == 1 || i >= 5);
    rulecache_trim(sub, NULL, 16, 2000);
    for (int i = 0; i < 20; i++)
        assert_int_equal(access(names[i], F_OK) == 0, i >= 18);
    tu_rm_rf(dir);
    free(dir);
}

static void test_cache_dir_rules(void **state)
{
    (void)state;
    char *keep_x = getenv("XDG_CACHE_HOME") ? tu_strdup(getenv("XDG_CACHE_HOME")) : NULL;
    char *keep_h = getenv("HOME") ? tu_strdup(getenv("HOME")) : NULL;
    setenv("XDG_CACHE_HOME", "/x/cache", 1);
    setenv("HOME", "/home/u", 1);
    char *d = stoat_rules_cache_dir();
    assert_string_equal(d, "/x/cache/stoat");
    free(d);
    setenv("XDG_CACHE_HOME", "relative", 1); /* ignored, as the specification says */
    d = stoat_rules_cache_dir();
    assert_string_equal(d, "/home/u/.cache/stoat");
    free(d);
    unsetenv("XDG_CACHE_HOME");
    unsetenv("HOME");
    d = stoat_rules_cache_dir();
    if (geteuid() == 0)
        assert_string_equal(d, "/var/cache/stoat");
    else
        assert_null(d);
    free(d);
    if (keep_x)
        setenv("XDG_CACHE_HOME", keep_x, 1);
    if (keep_h)
        setenv("HOME", keep_h, 1);
    free(keep_x);
    free(keep_h);
}

/* ------------------------------------------------------- through the loader */

static const char rule_text[] = "title: t\n"
                                "id: 0b9a3a4e-1111-4c2b-9f0e-000000000001\n"
                                "logsource: {product: windows, category: process_creation}\n"
                                "detection:\n"
                                "  sel: {CommandLine|contains: [mimikatz, 'sekurlsa::']}\n"
                                "  condition: sel\n";

/* Loads rule_text with these cache options; NULL when the build failed. */
static struct stoat_ruleset *load(const char *cache_dir, const char *in, const char *out, struct tu_diags *ds,
                                  bool *cached)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(),
                                .diag = tu_diag_cb,
                                .diag_ctx = ds,
                                .cache_dir = cache_dir,
                                .compiled_in = in,
                                .compiled_out = out};
    struct stoat_loader *l = NULL;
    assert_int_equal(stoat_loader_create(&o, &l), STOAT_OK);
    assert_int_equal(stoat_loader_add_text(l, "r.yml", rule_text, strlen(rule_text)), STOAT_OK);
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    struct stoat_load_stats st = {0};
    if (rs)
        stoat_ruleset_stats(rs, &st);
    *cached = st.prefilter_cached;
    return rs;
}

/* The one cache file of this ending in dir (its path into out). */
static void only_file_ext(const char *dir, const char *ext, char *out, size_t outlen)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "ls %s/stoat-*%s", dir, ext);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    assert_non_null(fgets(out, (int)outlen, p));
    out[strcspn(out, "\n")] = 0;
    char more[600];
    assert_null(fgets(more, sizeof(more), p));
    pclose(p);
}

/* Removes the whole-ruleset cache files (snapshot.c) of dir. */
static void remove_rsc(const char *dir)
{
    char cmd[600];
    snprintf(cmd, sizeof(cmd), "rm -f %s/stoat-*.rsc", dir);
    assert_int_equal(system(cmd), 0);
}

static void test_loader_reads_and_rebuilds(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    struct tu_diags ds = {0};
    bool cached;
    stoat_ruleset_destroy(load(dir, NULL, NULL, &ds, &cached));
    assert_false(cached);
    assert_int_equal(ds.n, 0); /* a cold cache is nothing to say */
    stoat_ruleset_destroy(load(dir, NULL, NULL, &ds, &cached));
    assert_true(cached);
    char path[600];
    only_file_ext(dir, ".hsc", path, sizeof(path));
    /* the prefilter's file alone (the whole ruleset's removed): damaged in
     * the middle, it is noted, compiled, written anew */
    remove_rsc(dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 200, SEEK_SET);
    fputc(0x42 ^ fgetc(f), f);
    fclose(f);
    struct stoat_ruleset *rs = load(dir, NULL, NULL, &ds, &cached);
    assert_non_null(rs);
    assert_false(cached);
    assert_non_null(tu_diags_find(&ds, "rule cache ignored and rebuilt"));
    assert_int_equal(tu_diags_find(&ds, "rebuilt")->severity, STOAT_SEV_NOTE);
    stoat_ruleset_destroy(rs);
    stoat_ruleset_destroy(load(dir, NULL, NULL, &ds, &cached));
    assert_true(cached);
    tu_diags_free(&ds);
    tu_rm_rf(dir);
    free(dir);
}

static void test_compiled_file(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    char file[600];
    snprintf(file, sizeof(file), "%s/rules.hsc", dir);
    struct tu_diags ds = {0};
    bool cached;
    stoat_ruleset_destroy(load(NULL, NULL, file, &ds, &cached));
    assert_false(cached);
    struct stoat_ruleset *rs = load(NULL, file, NULL, &ds, &cached);
    assert_non_null(rs);
    assert_true(cached);
    stoat_ruleset_destroy(rs);
    /* a compiled file of other rules: the load fails, naming it */
    FILE *f = fopen(file, "wb");
    assert_non_null(f);
    fputs("STOATHSC but not these rules", f);
    fclose(f);
    assert_null(load(NULL, file, NULL, &ds, &cached));
    const struct tu_diag *d = tu_diags_find(&ds, "not the compiled form of these rules");
    assert_non_null(d);
    assert_int_equal(d->severity, STOAT_SEV_ERROR);
    tu_diags_free(&ds);
    tu_rm_rf(dir);
    free(dir);
}

/* ------------------------------------------------- the whole ruleset file */

#define SID1 "0b9a3a4e-2222-4c2b-9f0e-000000000001"

/* Rules with every kind of pattern, node, test and link the format holds,
 * one the compiler rejects (an error to replay), one duplicate id (a
 * warning), one unrouted, a filter and a correlation. */
static const char snap_rules[] =
    "title: every pattern\n"
    "id: " SID1 "\n"
    "logsource: {product: windows, category: process_creation}\n"
    "detection:\n"
    "  sel:\n"
    "    CommandLine|re: 'mimi.atz'\n"
    "    Image|endswith: '\\cmd.exe'\n"
    "  glob: {ParentImage: '*\\explorer*.ex?'}\n"
    "  net: {DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']}\n"
    "  num: {ProcessId|gt: 5}\n"
    "  ref: {User|fieldref: ParentUser}\n"
    "  any: {Company: '*'}\n"
    "  gone: {Product: null}\n"
    "  when: {UtcTime|minute: 5}\n"
    "  condition: (sel and glob) or 1 of net* or (num and not ref) or all of any* or gone or when\n"
    "---\n"
    "title: keywords\n"
    "id: 0b9a3a4e-2222-4c2b-9f0e-000000000002\n"
    "logsource: {product: windows, service: security}\n"
    "detection:\n"
    "  keywords: [evil, 'bad*thing']\n"
    "  condition: keywords\n"
    "---\n"
    "title: rejected\n"
    "id: 0b9a3a4e-2222-4c2b-9f0e-000000000003\n"
    "logsource: {product: windows}\n"
    "detection:\n"
    "  sel: {Image|nosuchmodifier: x}\n"
    "  condition: sel\n"
    "---\n"
    "title: twice\n"
    "id: " SID1 "\n"
    "logsource: {product: nowhere}\n"
    "detection:\n"
    "  sel: {Image: x}\n"
    "  condition: sel\n"
    "---\n"
    "title: not the admins\n"
    "logsource: {product: windows, category: process_creation}\n"
    "filter:\n  rules: [" SID1 "]\n  selection:\n    User|startswith: 'CORP\\adm_'\n  condition: selection\n"
    "---\n"
    "title: three\n"
    "id: 0b9a3a4e-2222-4c2b-9f0e-000000000005\n"
    "correlation:\n"
    "    type: event_count\n"
    "    rules: [" SID1 ", nothing-by-this-name]\n"
    "    group-by: [User]\n"
    "    timespan: 10m\n"
    "    condition: {gte: 3}\n";

/* A load of snap_rules through a cache folder (the loader's own sources
 * only: a small file); NULL when the build failed. */
static struct stoat_ruleset *snap_load(const char *dir, struct tu_diags *ds, struct stoat_load_stats *st)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .diag = tu_diag_cb, .diag_ctx = ds, .cache_dir = dir};
    struct stoat_loader *l = NULL;
    assert_int_equal(loader_create(&o, &l), STOAT_OK);
    assert_int_equal(stoat_loader_add_text(l, "snap.yml", snap_rules, strlen(snap_rules)), STOAT_OK);
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    if (rs && st)
        stoat_ruleset_stats(rs, st);
    return rs;
}

static const uint8_t snap_key[RC_KEY_LEN] = {1, 2, 3};

/* A ruleset file of snap_rules, with its diagnostics. */
static uint8_t *snap_file(size_t *len)
{
    char *dir = tu_temp_dir();
    struct tu_diags ds = {0};
    struct stoat_ruleset *rs = snap_load(dir, &ds, NULL);
    assert_non_null(rs);
    struct snap_diags d;
    snapshot_diags_init(&d);
    snapshot_diags_add(&d, &(struct stoat_diag){.severity = STOAT_SEV_WARNING, .file = "f", .message = "m"});
    char why[400];
    uint8_t *buf = snapshot_encode(rs, &d, snap_key, len, why, sizeof(why));
    assert_non_null(buf);
    snapshot_diags_free(&d);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    tu_rm_rf(dir);
    free(dir);
    return buf;
}

/* Decodes exactly len bytes (a copy: a read past them is ASan's); true when
 * accepted. A refused file leaves no diagnostics behind. */
static bool snap_decode(const uint8_t *buf, size_t len)
{
    uint8_t *copy = malloc(len ? len : 1);
    memcpy(copy, buf, len);
    struct snap_diags d;
    snapshot_diags_init(&d);
    char why[400] = "";
    struct stoat_ruleset *rs = snapshot_decode(copy, len, snap_key, &d, why, sizeof(why));
    if (!rs)
        assert_int_equal(d.n, 0);
    else
        assert_int_equal(d.n, 1);
    stoat_ruleset_destroy(rs);
    snapshot_diags_free(&d);
    free(copy);
    return rs != NULL;
}

/* The warm load is the cold one: the same diagnostics in the same order,
 * the same figures, and a ruleset that writes the very same file. */
static void test_snapshot_is_the_cold_load(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    struct tu_diags cold = {0}, warm = {0};
    struct stoat_load_stats sc, sw;
    struct stoat_ruleset *a = snap_load(dir, &cold, &sc);
    struct stoat_ruleset *b = snap_load(dir, &warm, &sw);
    assert_non_null(a);
    assert_non_null(b);
    assert_false(sc.prefilter_cached);
    assert_true(sw.prefilter_cached);
    assert_int_equal(sc.loaded, 3);
    assert_int_equal(sc.rejected, 1);
    assert_int_equal(sc.filters, 1);
    assert_int_equal(sc.correlations, 1);
    sc.load_seconds = sw.load_seconds = 0;
    sc.prefilter_cached = sw.prefilter_cached = false;
    assert_memory_equal(&sc, &sw, sizeof(sc));
    assert_true(cold.n >= 3); /* the rejected rule, the duplicate id, the unknown correlation name */
    assert_int_equal(cold.n, warm.n);
    for (size_t i = 0; i < cold.n; i++) {
        assert_string_equal(cold.v[i].text, warm.v[i].text);
        assert_int_equal(cold.v[i].code, warm.v[i].code);
    }
    struct snap_diags d;
    snapshot_diags_init(&d);
    size_t la, lb;
    char why[400];
    uint8_t *fa = snapshot_encode(a, &d, snap_key, &la, why, sizeof(why));
    uint8_t *fb = snapshot_encode(b, &d, snap_key, &lb, why, sizeof(why));
    assert_int_equal(la, lb);
    assert_memory_equal(fa, fb, la);
    /* an edited rule is another key: the edit is seen */
    free(fa);
    free(fb);
    snapshot_diags_free(&d);
    stoat_ruleset_destroy(a);
    stoat_ruleset_destroy(b);
    tu_diags_free(&cold);
    tu_diags_free(&warm);
    tu_rm_rf(dir);
    free(dir);
}

/* Another rule text, mapping or selection is another file. */
static void test_snapshot_key_follows_the_rules(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    struct tu_diags ds = {0};
    struct stoat_load_stats st;
    stoat_ruleset_destroy(snap_load(dir, &ds, &st));
    const char *other = "title: other\nlogsource: {product: windows, category: process_creation}\n"
                        "detection:\n  sel: {Image|endswith: '\\\\whoami.exe'}\n  condition: sel\n";
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .diag = tu_diag_cb, .diag_ctx = &ds, .cache_dir = dir};
    for (int k = 0; k < 2; k++) {
        struct stoat_loader *l = NULL;
        assert_int_equal(loader_create(&o, &l), STOAT_OK);
        stoat_loader_add_text(l, "snap.yml", other, strlen(other));
        struct stoat_ruleset *rs = NULL;
        assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
        stoat_loader_destroy(l);
        stoat_ruleset_stats(rs, &st);
        assert_int_equal(st.prefilter_cached, k == 1);
        assert_int_equal(stoat_ruleset_count(rs), 1);
        assert_string_equal(stoat_ruleset_rule(rs, 0)->title, "other");
        stoat_ruleset_destroy(rs);
    }
    o.select.level_mask = 1u << STOAT_LEVEL_HIGH; /* a selection is part of the key */
    struct stoat_loader *l = NULL;
    assert_int_equal(loader_create(&o, &l), STOAT_OK);
    stoat_loader_add_text(l, "snap.yml", other, strlen(other));
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    stoat_loader_destroy(l);
    stoat_ruleset_stats(rs, &st);
    assert_false(st.prefilter_cached);
    assert_int_equal(stoat_ruleset_count(rs), 0);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    tu_rm_rf(dir);
    free(dir);
}

static void test_snapshot_every_flipped_byte(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = snap_file(&len);
    assert_true(snap_decode(buf, len));
    for (size_t i = 0; i < len; i++) {
        buf[i] ^= 0x5a;
        if (snap_decode(buf, len))
            fail_msg("a ruleset file with byte %zu of %zu flipped was accepted", i, len);
        buf[i] ^= 0x5a;
    }
    free(buf);
}

static void test_snapshot_every_truncation(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = snap_file(&len);
    for (size_t n = 0; n < len; n++)
        if (snap_decode(buf, n))
            fail_msg("a ruleset file cut to %zu of %zu bytes was accepted", n, len);
    free(buf);
}

/* Behind a checksum made to fit (anyone can compute one), every byte
 * changed and every cut: refused or read whole, never a crash, a leak or
 * a read out of bounds (ASan and LeakSanitizer run this in make test). A
 * cut is always refused: each section's end is checked. */
static void test_snapshot_hostile_with_fitting_checksum(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = snap_file(&len);
    size_t accepted = 0, tried = 0;
    for (size_t i = 88; i < len; i++) {
        /* every byte one bit off; every seventh all ones too (a huge count,
         * length or id): each decode compiles regexes, so not all twice */
        for (int k = 0; k < (i % 7 ? 1 : 2); k++) {
            uint8_t keep = buf[i];
            buf[i] = k ? 0xff : (uint8_t)(keep ^ 0x01);
            fix_snap_sum(buf, len);
            accepted += snap_decode(buf, len);
            tried++;
            buf[i] = keep;
        }
    }
    fix_snap_sum(buf, len);
    assert_true(snap_decode(buf, len));
    assert_true(accepted < tried);         /* most changes are caught */
    for (size_t n = 89; n < len; n += 3) { /* every third cut: the cheap test above has every one */
        put64(buf + 16, n - 88);
        fix_snap_sum(buf, n);
        if (snap_decode(buf, n))
            fail_msg("a ruleset file cut to %zu of %zu bytes (length and checksum fitted) was accepted", n, len);
    }
    free(buf);
}

/* Rules whose Hashes atoms make a token table (rules/tokens.h): 40 rules
 * of two ALGO=HEX atoms each, and one of another field. */
static struct stoat_ruleset *token_rules(void)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping()};
    struct stoat_loader *l = NULL;
    assert_int_equal(loader_create(&o, &l), STOAT_OK);
    char text[600];
    for (unsigned i = 0; i <= 40; i++) {
        if (i < 40)
            snprintf(text, sizeof(text),
                     "title: t%u\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
                     "  s:\n    Hashes|contains:\n      - 'MD5=%08x%08x%08x%08x'\n      - 'SHA1=%08x%08x%08x%08x%08x'\n"
                     "  condition: s\n",
                     i, i, 7 * i, 11 * i, 13 * i, i, 3 * i, 5 * i, 17 * i, 19 * i);
        else
            snprintf(text, sizeof(text),
                     "title: c\nlogsource: {product: windows, category: process_creation}\ndetection:\n"
                     "  s:\n    CommandLine|contains: 'tokencmd'\n  condition: s\n");
        assert_int_equal(stoat_loader_add_text(l, "t.yml", text, strlen(text)), STOAT_OK);
    }
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    assert_non_null(rs);
    return rs;
}

/* A token table is read back from its entries, each checked: behind a
 * fitting checksum, a changed count, field, atom, length or text is
 * refused or read whole, never a crash or a read out of bounds (ASan in
 * make test); a text that is not a token is refused. */
static void test_snapshot_hostile_token_table(void **state)
{
    (void)state;
    struct stoat_ruleset *rs = token_rules();
    const struct token_table *t = NULL;
    for (size_t g = 0; g < rs->ngroups && !t; g++)
        t = rs->groups[g].tokens;
    assert_non_null(t);
    assert_int_equal(t->n, 80);
    size_t first_len = (size_t)t->shapes[t->shape[0]].al + 1 + t->shapes[t->shape[0]].hl;
    char first[300];
    memcpy(first, t->blob, first_len);
    struct snap_diags d;
    snapshot_diags_init(&d);
    snapshot_diags_add(&d, &(struct stoat_diag){.severity = STOAT_SEV_WARNING, .file = "f", .message = "m"});
    char why[400];
    size_t len;
    uint8_t *buf = snapshot_encode(rs, &d, snap_key, &len, why, sizeof(why));
    assert_non_null(buf);
    snapshot_diags_free(&d);
    stoat_ruleset_destroy(rs);
    assert_true(snap_decode(buf, len));
    const uint8_t *at = NULL; /* the last copy: the rule's own pattern comes first */
    for (const uint8_t *p = buf; (p = memmem(p, len - (size_t)(p - buf), first, first_len)) != NULL; p++)
        at = p;
    assert_non_null(at);
    assert_true(at[-4] == first_len + 1 && !at[-3] && !at[-2] && !at[-1]);
    /* the table: count, field, then entries of atom, length + 1, text */
    size_t from = (size_t)(at - buf) - 16, to = from + 16 + 3 * (8 + first_len);
    size_t accepted = 0, tried = 0;
    for (size_t i = from; i < to; i++)
        for (int k = 0; k < 3; k++) {
            uint8_t keep = buf[i];
            buf[i] = k == 0 ? (uint8_t)(keep ^ 0x01) : k == 1 ? 0xff : 'z';
            fix_snap_sum(buf, len);
            accepted += snap_decode(buf, len);
            tried++;
            buf[i] = keep;
        }
    assert_true(accepted < tried);
    /* a hex digit or the '=' of a text changed: not a token */
    for (size_t i = 0; i < first_len; i++) {
        uint8_t keep = buf[at - buf + i];
        buf[at - buf + i] = 'z';
        fix_snap_sum(buf, len);
        if (snap_decode(buf, len) && (i >= 3 || keep == '='))
            fail_msg("a token text with byte %zu made 'z' was accepted", i);
        buf[at - buf + i] = keep;
    }
    fix_snap_sum(buf, len);
    assert_true(snap_decode(buf, len));
    free(buf);
}

/* A warm load compiles no regex: each is compiled on first use, by
 * whichever hunting thread comes first, once. */
struct re_race {
    const struct pattern *p;
    pcre2_code *got;
};

static void *re_first_use(void *arg)
{
    struct re_race *x = arg;
    x->got = pattern_regex(x->p);
    return NULL;
}

static bool re_matches(pcre2_code *re, const char *s)
{
    pcre2_match_data *md = pcre2_match_data_create(1, NULL);
    int rc = pcre2_match(re, (PCRE2_SPTR)s, strlen(s), 0, 0, md, NULL);
    pcre2_match_data_free(md);
    return rc >= 0;
}

static void test_snapshot_regex_on_first_use(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = snap_file(&len);
    struct snap_diags d;
    snapshot_diags_init(&d);
    char why[400];
    struct stoat_ruleset *rs = snapshot_decode(buf, len, snap_key, &d, why, sizeof(why));
    assert_non_null(rs);
    assert_int_equal(rs->nregexes, 0);
    assert_int_equal(rs->nlazy_re, 1);
    const struct pattern *p = rs->lazy_re[0];
    assert_null(atomic_load(&p->re));
    struct re_race x[4];
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        x[i] = (struct re_race){.p = p};
        assert_int_equal(pthread_create(&t[i], NULL, re_first_use, &x[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        assert_ptr_equal(x[i].got, x[0].got);
    assert_ptr_equal(atomic_load(&p->re), x[0].got);
    assert_true(re_matches(x[0].got, "run mimikatz now"));
    assert_false(re_matches(x[0].got, "mimi\natz"));
    stoat_ruleset_destroy(rs); /* the regex goes with it (LeakSanitizer) */
    snapshot_diags_free(&d);
    snapshot_diags_init(&d);
    /* a source that no longer compiles, under a fitting checksum: read, and
     * the pattern matches nothing (never a crash, never a NULL to match) */
    uint8_t *at = memmem(buf, len, "mimi.atz", 8);
    assert_non_null(at);
    at[4] = '(';
    fix_snap_sum(buf, len);
    rs = snapshot_decode(buf, len, snap_key, &d, why, sizeof(why));
    assert_non_null(rs);
    pcre2_code *re = pattern_regex(rs->lazy_re[0]);
    assert_non_null(re);
    assert_false(re_matches(re, "mimi(atz"));
    assert_false(re_matches(re, "mimikatz"));
    stoat_ruleset_destroy(rs);
    snapshot_diags_free(&d);
    free(buf);
}

/* A region too small for what the file decodes to: the rest comes from
 * the arena, malloc and Hyperscan's own allocation, and is freed as such
 * (ASan and LeakSanitizer check it in make test). */
static void test_snapshot_region_fills_up(void **state)
{
    (void)state;
    size_t len;
    uint8_t *buf = snap_file(&len);
    const size_t caps[] = {4096, 16384, 65536};
    for (size_t i = 0; i < sizeof(caps) / sizeof(*caps); i++) {
        snapshot_region_cap = caps[i];
        struct snap_diags d;
        snapshot_diags_init(&d);
        char why[400];
        struct stoat_ruleset *rs = snapshot_decode(buf, len, snap_key, &d, why, sizeof(why));
        snapshot_region_cap = 0;
        assert_non_null(rs);
        assert_int_equal(stoat_ruleset_count(rs), 3);
        size_t l2;
        uint8_t *again = snapshot_encode(rs, &d, snap_key, &l2, why, sizeof(why));
        assert_non_null(again);
        assert_int_equal(l2, len);
        assert_memory_equal(again, buf, len);
        free(again);
        stoat_ruleset_destroy(rs);
        snapshot_diags_free(&d);
    }
    free(buf);
}

/* Through a hunt: a warm-loaded rule whose regex is compiled on first use
 * decides as the cold-loaded one does, with two threads (the rule feeds
 * the correlation "three": three matches by one user raise it; its other
 * branches are kept false: a Product, no Company, no address). */
static size_t regex_hunt(const struct stoat_ruleset *rs, const char *cmd)
{
    char ev[1200];
    size_t n = 0;
    for (int i = 0; i < 3; i++)
        n += (size_t)snprintf(ev + n, sizeof(ev) - n,
                              "{\"Channel\":\"Microsoft-Windows-Sysmon/Operational\",\"EventID\":1,"
                              "\"UtcTime\":\"2026-01-01 10:00:0%d.000\",\"User\":\"CORP\\\\bob\",\"Product\":\"p\","
                              "\"CommandLine\":\"%s\",\"Image\":\"C:\\\\w\\\\cmd.exe\","
                              "\"ParentImage\":\"C:\\\\w\\\\explorer.exe\"}\n",
                              i, cmd);
    struct tu_hunt h;
    struct tu_hunt_opts o = {.threads = 2};
    assert_int_equal(tu_hunt_data(rs, ev, n, ".jsonl", &o, &h), STOAT_OK);
    size_t alerts = h.n;
    tu_hunt_free(&h);
    return alerts;
}

static void test_snapshot_regex_hunts(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    size_t hit[2], miss[2];
    for (int k = 0; k < 2; k++) {
        struct tu_diags ds = {0};
        struct stoat_load_stats st;
        struct stoat_ruleset *rs = snap_load(dir, &ds, &st);
        assert_non_null(rs);
        assert_int_equal(st.prefilter_cached, k == 1);
        assert_int_equal(rs->nlazy_re, k == 1 ? 1 : 0);
        miss[k] = regex_hunt(rs, "x mimi katz y");
        hit[k] = regex_hunt(rs, "x mimikatz y");
        stoat_ruleset_destroy(rs);
        tu_diags_free(&ds);
    }
    assert_int_equal(miss[0], 0);
    assert_true(hit[0] >= 1);
    assert_int_equal(miss[1], miss[0]);
    assert_int_equal(hit[1], hit[0]);
    tu_rm_rf(dir);
    free(dir);
}

/* The damage check: every one-bit change and every other length changes
 * it (cache.c: a change stays in its lane for good). */
static void test_damage_sum(void **state)
{
    (void)state;
    uint8_t b[300], base[RC_KEY_LEN], got[RC_KEY_LEN];
    for (size_t i = 0; i < sizeof(b); i++)
        b[i] = (uint8_t)(i * 37 + 11);
    rulecache_sum(b, sizeof(b), base);
    for (size_t i = 0; i < sizeof(b); i++)
        for (int bit = 0; bit < 8; bit++) {
            b[i] ^= (uint8_t)(1u << bit);
            rulecache_sum(b, sizeof(b), got);
            if (!memcmp(got, base, RC_KEY_LEN))
                fail_msg("bit %d of byte %zu flipped, same sum", bit, i);
            b[i] ^= (uint8_t)(1u << bit);
        }
    for (size_t n = 0; n < sizeof(b); n++) {
        rulecache_sum(b, n, got);
        if (!memcmp(got, base, RC_KEY_LEN))
            fail_msg("cut to %zu bytes, same sum", n);
    }
    memset(b, 0, sizeof(b)); /* zeros of two lengths (a file cut and padded) differ too */
    rulecache_sum(b, 64, base);
    rulecache_sum(b, 96, got);
    assert_memory_not_equal(base, got, RC_KEY_LEN);
}

/* Through the loader: a damaged whole-ruleset file is noted and rebuilt. */
static void test_snapshot_damaged_is_rebuilt(void **state)
{
    (void)state;
    char *dir = tu_temp_dir();
    struct tu_diags ds = {0};
    struct stoat_load_stats st;
    stoat_ruleset_destroy(snap_load(dir, &ds, &st));
    char path[600];
    only_file_ext(dir, ".rsc", path, sizeof(path));
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    fseek(f, 300, SEEK_SET);
    fputc(0x42 ^ fgetc(f), f);
    fclose(f);
    size_t before = ds.n;
    struct stoat_ruleset *rs = snap_load(dir, &ds, &st);
    assert_non_null(rs);
    assert_true(ds.n > before);
    const struct tu_diag *d = tu_diags_find(&ds, "rule cache ignored and rebuilt");
    assert_non_null(d);
    assert_int_equal(d->severity, STOAT_SEV_NOTE);
    assert_int_equal(stoat_ruleset_count(rs), 3);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    rs = snap_load(dir, &ds, &st); /* written anew */
    assert_true(st.prefilter_cached);
    assert_null(tu_diags_find(&ds, "rule cache"));
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    tu_rm_rf(dir);
    free(dir);
}

/* Rule files by path: a warm load finds the ruleset by the files' stat
 * alone once they are older than the load (an index file); a file edited
 * in place, even to the same size, is seen at once and never served the
 * old ruleset. */
static struct stoat_ruleset *load_path(const char *cache, const char *rules, bool *guess_taken, struct tu_diags *ds)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .diag = tu_diag_cb, .diag_ctx = ds, .cache_dir = cache};
    struct stoat_loader *l = NULL;
    assert_int_equal(loader_create(&o, &l), STOAT_OK);
    assert_int_equal(stoat_loader_add_path(l, rules), STOAT_OK);
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    *guess_taken = loader_guess_taken(l);
    stoat_loader_destroy(l);
    return rs;
}

static struct stoat_ruleset *path_load(const char *cache, const char *rules, struct stoat_load_stats *st)
{
    struct tu_diags ds = {0};
    bool taken;
    struct stoat_ruleset *rs = load_path(cache, rules, &taken, &ds);
    stoat_ruleset_stats(rs, st);
    tu_diags_free(&ds);
    return rs;
}

static size_t count_files(const char *dir, const char *ext)
{
    char cmd[700], line[600];
    snprintf(cmd, sizeof(cmd), "ls %s/stoat-*%s 2>/dev/null", dir, ext);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    while (fgets(line, sizeof(line), p))
        n++;
    pclose(p);
    return n;
}

static void test_snapshot_by_stat(void **state)
{
    (void)state;
    char *cache = tu_temp_dir(), *rules = tu_temp_dir(), file[600];
    snprintf(file, sizeof(file), "%s/r.yml", rules);
    const char *one = "title: AAAA\nlogsource: {product: windows, category: process_creation}\n"
                      "detection:\n  sel: {Image|endswith: '\\\\whoami.exe'}\n  condition: sel\n";
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fputs(one, f);
    fclose(f);
    struct stoat_load_stats st;
    /* a file changed just now is not trusted by its stat: no index */
    stoat_ruleset_destroy(path_load(cache, rules, &st));
    assert_false(st.prefilter_cached);
    assert_int_equal(count_files(cache, ".rsi"), 0);
    sleep(3); /* now it is old enough */
    stoat_ruleset_destroy(path_load(cache, rules, &st));
    assert_true(st.prefilter_cached);
    assert_int_equal(count_files(cache, ".rsi"), 1);
    stoat_ruleset_destroy(path_load(cache, rules, &st)); /* by the index */
    assert_true(st.prefilter_cached);
    /* edited in place, the same size: another ruleset */
    f = fopen(file, "r+");
    assert_non_null(f);
    fputs("title: BBBB", f);
    fclose(f);
    struct stoat_ruleset *rs = path_load(cache, rules, &st);
    assert_string_equal(stoat_ruleset_rule(rs, 0)->title, "BBBB"); /* (its prefilter is the old one's) */
    assert_int_equal(count_files(cache, ".rsc"), 2);
    stoat_ruleset_destroy(rs);
    assert_int_equal(count_files(cache, ".rsi"), 1); /* the edited file is too new to index */
    rs = path_load(cache, rules, &st);
    assert_true(st.prefilter_cached); /* by its bytes */
    assert_string_equal(stoat_ruleset_rule(rs, 0)->title, "BBBB");
    stoat_ruleset_destroy(rs);
    tu_rm_rf(cache);
    tu_rm_rf(rules);
    free(cache);
    free(rules);
}

/* The guess (loader.c): the ruleset file the same paths led to last time
 * is decoded while the folders are listed, and taken only when the index
 * or the files' bytes then name it. An edit, the edit undone, a damaged
 * guess file: each load still has the rules as they are. */
static void expect_guess(const char *cache, const char *rules, const char *title, bool taken_expected)
{
    struct tu_diags ds = {0};
    bool taken;
    struct stoat_ruleset *rs = load_path(cache, rules, &taken, &ds);
    assert_string_equal(stoat_ruleset_rule(rs, 0)->title, title);
    assert_int_equal(taken, taken_expected);
    assert_null(tu_diags_find(&ds, "rule cache"));
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
}

static void put_title(const char *file, const char *title, const char *mode)
{
    FILE *f = fopen(file, mode);
    assert_non_null(f);
    if (mode[0] == 'w')
        fputs("title: ", f);
    fputs(title, f);
    if (mode[0] == 'w')
        fputs("\nlogsource: {product: windows, category: process_creation}\n"
              "detection:\n  sel: {Image|endswith: '\\\\whoami.exe'}\n  condition: sel\n",
              f);
    fclose(f);
}

static void test_guess_is_only_a_guess(void **state)
{
    (void)state;
    char *cache = tu_temp_dir(), *rules = tu_temp_dir(), file[600], guess[700];
    snprintf(file, sizeof(file), "%s/r.yml", rules);
    put_title(file, "AAAA", "w");
    expect_guess(cache, rules, "AAAA", false); /* cold: built, and the guess written */
    assert_int_equal(count_files(cache, ".rsg"), 1);
    sleep(3);                                  /* old enough to be indexed by stat */
    expect_guess(cache, rules, "AAAA", true);  /* by the files' bytes */
    expect_guess(cache, rules, "AAAA", true);  /* by the index */
    put_title(file, "title: BBBB", "r+");      /* in place, the same size */
    expect_guess(cache, rules, "BBBB", false); /* the guess named AAAA's */
    expect_guess(cache, rules, "BBBB", true);  /* now it names BBBB's */
    put_title(file, "title: AAAA", "r+");      /* undone: AAAA's file is still there */
    expect_guess(cache, rules, "AAAA", false);
    expect_guess(cache, rules, "AAAA", true);
    /* a damaged guess file is no guess, and is written again */
    only_file_ext(cache, ".rsg", guess, sizeof(guess));
    FILE *g = fopen(guess, "r+");
    assert_non_null(g);
    fputs("damaged", g);
    fclose(g);
    expect_guess(cache, rules, "AAAA", false);
    expect_guess(cache, rules, "AAAA", true);
    assert_int_equal(count_files(cache, ".rsg"), 1);
    tu_rm_rf(cache);
    tu_rm_rf(rules);
    free(cache);
    free(rules);
}

/* Many rule files: their stat is taken in threads at the build (loader.c,
 * stat_files); an edit in place of any one of them is still seen, and a
 * file gone between the walk and the build is reported, not indexed. */
static void write_rule(const char *dir, int i, const char *title)
{
    char file[600];
    snprintf(file, sizeof(file), "%s/r%04d.yml", dir, i);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fprintf(f,
            "title: %s\nlogsource: {product: windows, category: process_creation}\n"
            "detection:\n  sel: {Image|endswith: '\\\\w%04d.exe'}\n  condition: sel\n",
            title, i);
    fclose(f);
}

/* Folders and a text given in turn keep their order with the cache as
 * without it: the folders are listed together at the build, the text's
 * rules still between theirs; a missing folder's error in its place. */
static struct stoat_ruleset *mixed_load(const char *cache, const char *a, const char *b, struct tu_diags *ds)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .diag = tu_diag_cb, .diag_ctx = ds, .cache_dir = cache};
    struct stoat_loader *l = NULL;
    assert_int_equal(loader_create(&o, &l), STOAT_OK);
    const char *text = "title: TEXT\nlogsource: {product: windows, category: process_creation}\n"
                       "detection:\n  sel: {Image|endswith: '\\\\text.exe'}\n  condition: sel\n";
    assert_int_equal(stoat_loader_add_path(l, a), STOAT_OK);
    assert_int_equal(stoat_loader_add_text(l, "text.yml", text, strlen(text)), STOAT_OK);
    assert_int_equal(stoat_loader_add_path(l, b), STOAT_OK);
    assert_int_equal(stoat_loader_add_path(l, "/nonexistent/stoat-rules"), STOAT_ERR_IO);
    assert_int_equal(stoat_loader_add_path(l, a), STOAT_OK); /* the same files again: loaded once */
    assert_int_equal(stoat_loader_add_path(l, b), STOAT_OK);
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    stoat_loader_destroy(l);
    return rs;
}

static void test_paths_and_text_in_order(void **state)
{
    (void)state;
    char *cache = tu_temp_dir(), *a = tu_temp_dir(), *b = tu_temp_dir();
    for (int i = 0; i < 3; i++)
        write_rule(a, i, i == 1 ? "A1" : "A");
    write_rule(b, 7, "B");
    const char *want[] = {"A", "A1", "A", "TEXT", "B"};
    for (int round = 0; round < 3; round++) { /* no cache, cold, warm */
        struct tu_diags ds = {0};
        struct stoat_ruleset *rs = mixed_load(round ? cache : NULL, a, b, &ds);
        struct stoat_load_stats st;
        stoat_ruleset_stats(rs, &st);
        assert_int_equal(st.prefilter_cached, round == 2);
        assert_int_equal(stoat_ruleset_count(rs), 5);
        for (size_t i = 0; i < 5; i++)
            assert_string_equal(stoat_ruleset_rule(rs, i)->title, want[i]);
        assert_int_equal(st.folders_again, 2); /* a and b given again: read once, and said */
        assert_int_equal(st.files_again, 0);
        assert_int_equal(ds.n, 3);
        assert_non_null(tu_diags_find(&ds, "/nonexistent/stoat-rules"));
        assert_int_equal(tu_diags_count(&ds, STOAT_SEV_NOTE), 2);
        char note[700];
        snprintf(note, sizeof(note), "%s: note: given before: read once", b);
        assert_non_null(tu_diags_find(&ds, note));
        stoat_ruleset_destroy(rs);
        tu_diags_free(&ds);
    }
    tu_rm_rf(cache);
    tu_rm_rf(a);
    tu_rm_rf(b);
    free(cache);
    free(a);
    free(b);
}

/* A rule file reached again (by a link, a second name, a folder and a file
 * in it, a link to the folder) is loaded once, in its first place, as if
 * named once: the same rules in the same order, with the cache (cold and
 * warm), without, and with the figures asked halfway (the queue parsed,
 * the rest loaded as given), each file reached again said in a note and
 * counted. */
static void put_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void put_link(const char *target, const char *path)
{
    unlink(path);
    assert_int_equal(symlink(target, path), 0);
}

static struct stoat_ruleset *paths_load(const char *cache, const char *const *paths, size_t n, size_t stats_at,
                                        struct tu_diags *ds, struct stoat_load_stats *st)
{
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .diag = tu_diag_cb, .diag_ctx = ds, .cache_dir = cache};
    struct stoat_loader *l = NULL;
    assert_int_equal(loader_create(&o, &l), STOAT_OK);
    for (size_t i = 0; i < n; i++) {
        if (i == stats_at)
            stoat_loader_stats(l, st);
        assert_int_equal(stoat_loader_add_path(l, paths[i]), STOAT_OK);
    }
    struct stoat_ruleset *rs = NULL;
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    stoat_loader_destroy(l);
    stoat_ruleset_stats(rs, st);
    return rs;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The diagnostics' texts, sorted, one a line. */
static char *sorted_texts(const struct tu_diags *ds)
{
    const char **v = malloc((ds->n + 1) * sizeof(*v));
    assert_non_null(v);
    for (size_t i = 0; i < ds->n; i++)
        v[i] = ds->v[i].text;
    qsort(v, ds->n, sizeof(*v), cmp_str);
    struct tu_str s = {0};
    for (size_t i = 0; i < ds->n; i++)
        tu_str_printf(&s, "%s\n", v[i]);
    free(v);
    tu_str_puts(&s, "");
    return s.p;
}

static void test_file_reached_again_loaded_once(void **state)
{
    (void)state;
    char *cache = tu_temp_dir(), *dir = tu_temp_dir(), sub[600], link[700], file[700], alias[700], top[600];
    snprintf(sub, sizeof(sub), "%s/sub", dir);
    assert_int_equal(mkdir(sub, 0700), 0);
    for (int i = 0; i < 3; i++)
        write_rule(sub, i, i == 0 ? "S0" : i == 1 ? "S1" : "S2");
    write_rule(dir, 9, "TOP");
    snprintf(top, sizeof(top), "%s/r0009.yml", dir);
    snprintf(file, sizeof(file), "%s/r0001.yml", sub);
    snprintf(link, sizeof(link), "%s/sub-link", dir);
    put_link(sub, link);
    snprintf(alias, sizeof(alias), "%s/alias.yml", sub); /* a link to a file, in the folder itself */
    put_link(top, alias);
    /* named once: sub (its alias.yml is TOP, r0000-r0002 after it), then TOP's own file again */
    const char *once[] = {sub, top};
    const char *want[] = {"TOP", "S0", "S1", "S2"};
    const char *twice[] = {file, sub, link, top, dir, sub};
    char *notes0 = NULL;
    for (int round = 0; round < 4; round++) { /* no cache, cold, warm, the figures asked halfway */
        struct tu_diags ds = {0};
        struct stoat_load_stats st;
        size_t at = round == 3 ? 1 : SIZE_MAX;
        struct stoat_ruleset *rs = paths_load(round ? cache : NULL, once, 2, at, &ds, &st);
        assert_int_equal(stoat_ruleset_count(rs), 4);
        for (size_t i = 0; i < 4; i++)
            assert_string_equal(stoat_ruleset_rule(rs, i)->title, want[i]);
        if (round < 3)
            assert_int_equal(st.prefilter_cached, round == 2);
        assert_int_equal(st.files_again, 1); /* top, after alias.yml */
        assert_int_equal(st.folders_again, 0);
        stoat_ruleset_destroy(rs);
        tu_diags_free(&ds);
        /* r0001 first, then the rest of sub in its order, sub again by a
         * link and by name, top again, the parent of all */
        const char *want2[] = {"S1", "TOP", "S0", "S2"};
        rs = paths_load(round ? cache : NULL, twice, 6, round == 3 ? 3 : SIZE_MAX, &ds, &st);
        if (round == 0 || round == 2) /* cold, the rules' databases may be those of the load named once */
            assert_int_equal(st.prefilter_cached, round == 2);
        assert_int_equal(stoat_ruleset_count(rs), 4);
        for (size_t i = 0; i < 4; i++)
            assert_string_equal(stoat_ruleset_rule(rs, i)->title, want2[i]);
        assert_string_equal(stoat_ruleset_rule(rs, 0)->file, file);
        assert_string_equal(stoat_ruleset_rule(rs, 1)->file, alias);
        assert_int_equal(st.files, 4);
        assert_int_equal(st.folders_again, 2);           /* the link to sub, sub */
        assert_int_equal(st.files_again, 1 + 1 + 1 + 4); /* r0001 in sub; top; in dir: r0009, sub's four */
        assert_int_equal(ds.n, 2 + 7);
        assert_int_equal(tu_diags_count(&ds, STOAT_SEV_NOTE), ds.n);
        char note[1400];
        snprintf(note, sizeof(note), "%s: note: the same folder as %s, given before: read once", link, sub);
        assert_non_null(tu_diags_find(&ds, note));
        snprintf(note, sizeof(note), "%s: note: the same file as %s, given before: loaded once, under that name", top,
                 alias);
        assert_non_null(tu_diags_find(&ds, note));
        assert_null(tu_diags_find(&ds, "duplicate rule id"));
        /* the same notes every way; a folder's comes as it is given, a
         * file's in its place among the files' (with the cache, at the build) */
        char *notes = sorted_texts(&ds);
        if (!notes0)
            notes0 = notes;
        else {
            assert_string_equal(notes, notes0);
            free(notes);
        }
        stoat_ruleset_destroy(rs);
        tu_diags_free(&ds);
    }
    free(notes0);
    tu_rm_rf(cache);
    tu_rm_rf(dir);
    free(cache);
    free(dir);
}

/* The cache's keys say which file was reached again: names a, b, c with b
 * a link to a and c another file, then b that other file and c the link,
 * are the same names and the same bytes in the same order; the second
 * load's rules come from b. The key had nothing for a file reached again,
 * so the second load was served the first's ruleset, its rule naming c. */
static void test_file_reached_again_in_the_key(void **state)
{
    (void)state;
    char *cache = tu_temp_dir(), *dir = tu_temp_dir(), a[600], b[600], c[600], x[600];
    snprintf(b, sizeof(b), "%s/b.yml", dir);
    snprintf(c, sizeof(c), "%s/c.yml", dir);
    snprintf(x, sizeof(x), "%s/r0002.yml", dir);
    write_rule(dir, 1, "A");
    write_rule(dir, 2, "X");
    char *text, why[200];
    size_t len;
    snprintf(a, sizeof(a), "%s/r0001.yml", dir);
    assert_int_equal(fs_read_file(x, 1 << 20, &text, &len, why, sizeof(why)), 0);
    const char *paths[] = {a, b, c};
    for (int round = 0; round < 3; round++) { /* the first layout cold; the second cold, warm */
        if (round == 0) {
            put_link(a, b);
            put_text(c, text);
        } else if (round == 1) {
            unlink(b);
            put_text(b, text);
            put_link(a, c);
        }
        struct tu_diags ds = {0};
        struct stoat_load_stats st;
        struct stoat_ruleset *rs = paths_load(cache, paths, 3, SIZE_MAX, &ds, &st);
        if (round != 1) /* cold, the databases are those of the first layout */
            assert_int_equal(st.prefilter_cached, round == 2);
        assert_int_equal(stoat_ruleset_count(rs), 2);
        assert_string_equal(stoat_ruleset_rule(rs, 0)->file, a);
        assert_string_equal(stoat_ruleset_rule(rs, 1)->title, "X");
        assert_string_equal(stoat_ruleset_rule(rs, 1)->file, round ? b : c);
        assert_int_equal(st.files_again, 1);
        char note[1400];
        snprintf(note, sizeof(note), "%s: note: the same file as %s", round ? c : b, a);
        assert_non_null(tu_diags_find(&ds, note)); /* the warm load's replayed from the cache */
        stoat_ruleset_destroy(rs);
        tu_diags_free(&ds);
    }
    free(text);
    tu_rm_rf(cache);
    tu_rm_rf(dir);
    free(cache);
    free(dir);
}

static void test_snapshot_by_stat_many(void **state)
{
    (void)state;
    enum {
        N = 1100,
        EDIT = 777
    };
    char *cache = tu_temp_dir(), *rules = tu_temp_dir();
    for (int i = 0; i < N; i++)
        write_rule(rules, i, "AAAA");
    sleep(3); /* old enough to be trusted by stat */
    struct stoat_load_stats st;
    stoat_ruleset_destroy(path_load(cache, rules, &st));
    assert_false(st.prefilter_cached);
    assert_int_equal(count_files(cache, ".rsi"), 1);
    struct stoat_ruleset *rs = path_load(cache, rules, &st); /* by the index */
    assert_true(st.prefilter_cached);
    assert_int_equal(stoat_ruleset_count(rs), N);
    stoat_ruleset_destroy(rs);
    write_rule(rules, EDIT, "BBBB");   /* in place, the same size */
    rs = path_load(cache, rules, &st); /* (its prefilter is the old one's) */
    assert_int_equal(stoat_ruleset_count(rs), N);
    assert_string_equal(stoat_ruleset_rule(rs, EDIT)->title, "BBBB");
    stoat_ruleset_destroy(rs);
    /* a file removed after the walk, before the build: reported, the load
     * not indexed, the rest loaded (a text added after the folder has the
     * folder listed first: the walk is over when it returns) */
    struct tu_diags ds = {0};
    struct stoat_load_opts o = {.mapping_path = tu_mapping(), .diag = tu_diag_cb, .diag_ctx = &ds, .cache_dir = cache};
    struct stoat_loader *l = NULL;
    assert_int_equal(loader_create(&o, &l), STOAT_OK);
    assert_int_equal(stoat_loader_add_path(l, rules), STOAT_OK);
    const char *extra = "title: EXTRA\nlogsource: {product: windows, category: process_creation}\n"
                        "detection:\n  sel: {Image|endswith: '\\\\extra.exe'}\n  condition: sel\n";
    assert_int_equal(stoat_loader_add_text(l, "extra.yml", extra, strlen(extra)), STOAT_OK);
    char gone[600];
    snprintf(gone, sizeof(gone), "%s/r%04d.yml", rules, 5);
    assert_int_equal(unlink(gone), 0);
    size_t indexes = count_files(cache, ".rsi");
    rs = NULL;
    assert_int_equal(stoat_loader_build(l, &rs), STOAT_OK);
    stoat_loader_destroy(l);
    stoat_ruleset_stats(rs, &st);
    assert_int_equal(stoat_ruleset_count(rs), N - 1 + 1);
    assert_string_equal(stoat_ruleset_rule(rs, N - 1)->title, "EXTRA");
    assert_int_equal(st.rejected, 1);
    const struct tu_diag *d = tu_diags_find(&ds, "cannot read rule file");
    assert_non_null(d);
    assert_non_null(strstr(d->text, "r0005.yml"));
    assert_int_equal(count_files(cache, ".rsi"), indexes);
    stoat_ruleset_destroy(rs);
    tu_diags_free(&ds);
    tu_rm_rf(cache);
    tu_rm_rf(rules);
    free(cache);
    free(rules);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_every_flipped_byte),
        cmocka_unit_test(test_every_truncation),
        cmocka_unit_test(test_wrong_format_and_key),
        cmocka_unit_test(test_huge_counts_and_lengths),
        cmocka_unit_test(test_file_map),
        cmocka_unit_test(test_folder_and_trim),
        cmocka_unit_test(test_cache_dir_rules),
        cmocka_unit_test(test_loader_reads_and_rebuilds),
        cmocka_unit_test(test_compiled_file),
        cmocka_unit_test(test_snapshot_is_the_cold_load),
        cmocka_unit_test(test_snapshot_key_follows_the_rules),
        cmocka_unit_test(test_snapshot_every_flipped_byte),
        cmocka_unit_test(test_snapshot_every_truncation),
        cmocka_unit_test(test_snapshot_hostile_with_fitting_checksum),
        cmocka_unit_test(test_snapshot_hostile_token_table),
        cmocka_unit_test(test_snapshot_damaged_is_rebuilt),
        cmocka_unit_test(test_snapshot_by_stat),
        cmocka_unit_test(test_guess_is_only_a_guess),
        cmocka_unit_test(test_snapshot_regex_on_first_use),
        cmocka_unit_test(test_snapshot_regex_hunts),
        cmocka_unit_test(test_snapshot_region_fills_up),
        cmocka_unit_test(test_damage_sum),
        cmocka_unit_test(test_snapshot_by_stat_many),
        cmocka_unit_test(test_paths_and_text_in_order),
        cmocka_unit_test(test_file_reached_again_loaded_once),
        cmocka_unit_test(test_file_reached_again_in_the_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
