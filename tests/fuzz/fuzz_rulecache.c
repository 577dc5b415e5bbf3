/* Fuzz harness for the compiled-rule cache's reader (src/rules/cache.c).
 * The first byte picks how the rest is used:
 *   even: the bytes are a cache file, read against two fixed databases;
 *   odd:  a valid cache file of those databases is edited at the places
 *         that hold counts, lengths and keys (the header, each database's
 *         key and length), maybe cut short, and its checksum made to fit
 *         again, so the bounds checks behind the checksum are reached.
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!good)
        setup();
    if (size < 1)
        return 0;
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
