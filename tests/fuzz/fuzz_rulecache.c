/* Fuzz harness for the compiled-rule caches' readers (src/rules/cache.c,
 * src/rules/snapshot.c). The first byte picks how the rest is used:
 *   even: the bytes are a cache file, read against two fixed databases;
 *   odd:  a valid cache file of those databases is edited at the places
 *         that hold counts, lengths and keys (the header, each database's
 *         key and length), maybe cut short, and its checksum made to fit
 *         again, so the bounds checks behind the checksum are reached;
 *   bit 2 set: the same two ways for a whole-ruleset file (snapshot.c) of
 *         a few rules: the bytes as a file under its key, or that file
 *         edited anywhere (Hyperscan's database bytes carry its own CRC),
 *         maybe cut, its checksum made to fit. A cut one must be refused.
 * The bytes of the databases themselves are never edited under a fitting
 * checksum: behind it they are Hyperscan's to check. Any crash, leak or
 * sanitizer report is a bug; so is a damaged file that is accepted. */
#include <openssl/sha.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "rules/cache.h"
#include "rules/loader.h"
#include "rules/snapshot.h"

#define HEADER     88
#define ENTRY_HEAD (RC_KEY_LEN + 8)

static hs_database_t *dbs[2];
static struct rc_db want[2];
static uint8_t *good;
static size_t good_len, entry_off[2];

static void compile_one(const char *const *lits, unsigned n, int k)
{
    size_t lens[4];
    unsigned flags[4], ids[4];
    for (unsigned i = 0; i < n; i++) {
        lens[i] = strlen(lits[i]);
        flags[i] = HS_FLAG_CASELESS | HS_FLAG_SINGLEMATCH;
        ids[i] = i;
    }
    hs_compile_error_t *err = NULL;
    if (hs_compile_lit_multi(lits, flags, ids, lens, n, HS_MODE_BLOCK, NULL, &dbs[k], &err) != HS_SUCCESS)
        abort();
    rulecache_db_key(lits, lens, flags, ids, n, want[k].key);
}

/* The two databases and a valid file of them, once. */
static void setup(void)
{
    static const char *const a[] = {"mimikatz", "sekurlsa"}, *const b[] = {"vssadmin", "delete", "shadows"};
    compile_one(a, 2, 0);
    compile_one(b, 3, 1);
    struct rc_db w[2] = {want[0], want[1]};
    w[0].db = &dbs[0];
    w[1].db = &dbs[1];
    char path[] = "/tmp/stoat-fuzz-rulecache-XXXXXX";
    int fd = mkstemp(path);
    char why[400];
    if (fd < 0 || !rulecache_write(path, w, 2, why, sizeof(why)))
        abort();
    FILE *f = fopen(path, "rb");
    fseek(f, 0, SEEK_END);
    good_len = (size_t)ftell(f);
    rewind(f);
    good = malloc(good_len);
    if (fread(good, 1, good_len, f) != good_len)
        abort();
    fclose(f);
    close(fd);
    unlink(path);
    entry_off[0] = HEADER;
    uint64_t l0 = 0;
    for (int i = 7; i >= 0; i--)
        l0 = l0 << 8 | good[HEADER + RC_KEY_LEN + i];
    entry_off[1] = HEADER + ENTRY_HEAD + (size_t)l0;
}

/* An offset that holds a count, a length or a key. */
static bool editable(size_t off)
{
    if (off < HEADER)
        return true;
    for (int k = 0; k < 2; k++)
        if (off >= entry_off[k] && off < entry_off[k] + ENTRY_HEAD)
            return true;
    return false;
}

static hs_database_t *got[2];

static bool read_back(const uint8_t *buf, size_t len)
{
    struct rc_db e[2] = {want[0], want[1]};
    e[0].db = &got[0];
    e[1].db = &got[1];
    char why[400];
    bool ok = rulecache_decode(buf, len, e, 2, why, sizeof(why));
    if (!ok && (got[0] || got[1]))
        abort(); /* a refused file leaves no database behind */
    for (int k = 0; k < 2; k++) {
        hs_free_database(got[k]);
        got[k] = NULL;
    }
    return ok;
}

/* ------------------------------------------------ the whole-ruleset file */

static const uint8_t snap_key[RC_KEY_LEN] = {7};
static uint8_t *snap;
static size_t snap_len;

static const char snap_rules[] = "title: a\nid: 11111111-0000-4000-8000-000000000001\n"
                                 "logsource: {product: windows, category: process_creation}\n"
                                 "detection:\n  sel: {CommandLine|re: 'mimi.atz', Image|endswith: '\\cmd.exe'}\n"
                                 "  net: {DestinationIp|cidr: 10.0.0.0/8}\n"
                                 "  condition: sel or not net\n"
                                 "---\ntitle: b\nlogsource: {product: windows, service: security}\n"
                                 "detection:\n  keywords: [evil, 'ba*d']\n  condition: keywords\n"
                                 "---\ntitle: c\nid: 11111111-0000-4000-8000-000000000003\ncorrelation:\n"
                                 "  type: event_count\n  rules: [11111111-0000-4000-8000-000000000001]\n"
                                 "  group-by: [User]\n  timespan: 5m\n  condition: {gte: 2}\n";

static void quiet(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    (void)d;
}

static void snap_setup(void)
{
    struct stoat_load_opts o = {.mapping_path = "data/mapping.yml", .diag = quiet};
    static char path[4096];
    const char *home = getenv("STOAT_HOME");
    if (home) {
        snprintf(path, sizeof(path), "%s/data/mapping.yml", home);
        o.mapping_path = path;
    }
    struct stoat_loader *l;
    if (loader_create(&o, &l))
        abort(); /* the mapping file must be found: run from the repository root */
    stoat_loader_add_text(l, "fuzz.yml", snap_rules, strlen(snap_rules));
    struct stoat_ruleset *rs = NULL;
    if (stoat_loader_build(l, &rs))
        abort();
    stoat_loader_destroy(l);
    struct snap_diags d;
    snapshot_diags_init(&d);
    char why[400];
    snap = snapshot_encode(rs, &d, snap_key, &snap_len, why, sizeof(why));
    if (!snap)
        abort();
    snapshot_diags_free(&d);
    stoat_ruleset_destroy(rs);
}

static bool snap_read(const uint8_t *buf, size_t len)
{
    uint8_t *exact = malloc(len ? len : 1); /* exactly these bytes: a read past them is ASan's */
    memcpy(exact, buf, len);
    struct snap_diags d;
    snapshot_diags_init(&d);
    char why[400];
    struct stoat_ruleset *rs = snapshot_decode(exact, len, snap_key, &d, why, sizeof(why));
    if (!rs && d.n)
        abort(); /* a refused file leaves nothing behind */
    bool ok = rs != NULL;
    stoat_ruleset_destroy(rs);
    snapshot_diags_free(&d);
    free(exact);
    return ok;
}

static void snap_one(const uint8_t *data, size_t size)
{
    if (!snap)
        snap_setup();
    if (!(data[0] & 1)) {
        snap_read(data + 1, size - 1);
        return;
    }
    uint8_t *f = malloc(snap_len);
    memcpy(f, snap, snap_len);
    size_t len = snap_len, i = 1;
    if (size > 2 && data[1] == 0xff) { /* cut short, its length made to fit */
        len = HEADER + (size_t)data[2] * (snap_len - HEADER) / 256;
        for (int k = 0; k < 8; k++)
            f[16 + k] = (uint8_t)((len - HEADER) >> (8 * k));
        i = 3;
    }
    for (; i + 2 < size; i += 3) {
        size_t off = HEADER + ((size_t)data[i] << 8 | data[i + 1]) % (snap_len - HEADER);
        if (off < len)
            f[off] = data[i + 2];
    }
    rulecache_sum(f + HEADER, len - HEADER, f + 24 + RC_KEY_LEN);
    if (snap_read(f, len) && len != snap_len)
        abort(); /* every section's end is checked: a cut file cannot be whole */
    free(f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!good)
        setup();
    if (size < 1)
        return 0;
    if (data[0] & 4) {
        snap_one(data, size);
        return 0;
    }
    if (!(data[0] & 1)) {
        uint8_t *copy = malloc(size); /* exactly the bytes given: a read past them is ASan's */
        memcpy(copy, data + 1, size - 1);
        read_back(copy, size - 1);
        free(copy);
        return 0;
    }
    uint8_t *f = malloc(good_len);
    memcpy(f, good, good_len);
    size_t len = good_len;
    bool changed = false;
    size_t i = 1;
    if (size > 2 && data[1] == 0xff) { /* cut short */
        len = (size_t)data[2] * good_len / 256;
        changed = len != good_len;
        i = 3;
    }
    for (; i + 2 < size; i += 3) {
        size_t off = ((size_t)data[i] << 8 | data[i + 1]) % good_len;
        if (off < len && editable(off) && f[off] != data[i + 2]) {
            f[off] = data[i + 2];
            changed = true;
        }
    }
    if (len > HEADER && !(data[0] & 2))
        SHA256(f + HEADER, len - HEADER, f + 24 + RC_KEY_LEN);
    uint8_t *exact = malloc(len ? len : 1);
    memcpy(exact, f, len);
    bool ok = read_back(exact, len);
    /* an edited count, length or key can only be refused (the checksum
     * bytes excepted: they are written again above) */
    bool sum_only = len == good_len;
    for (size_t k = 0; k < len && sum_only; k++)
        if (f[k] != good[k] && !(k >= 24 + RC_KEY_LEN && k < HEADER))
            sum_only = false;
    if (ok && changed && !sum_only)
        abort();
    free(exact);
    free(f);
    return 0;
}
