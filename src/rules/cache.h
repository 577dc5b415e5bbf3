/* The compiled prefilter cache: the Hyperscan databases of a ruleset, saved
 * so that the next load of the same rules deserialises them instead of
 * compiling (compiling is most of a load's time; see cache.c for why only
 * the databases are kept). prefilter.c decides when; this file reads and
 * writes the bytes, and treats them as hostile input. */
#ifndef STOAT_RULES_CACHE_H
#define STOAT_RULES_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hs/hs.h>

#define RC_KEY_LEN 32 /* SHA-256 */

/* Cache files kept: a few rule sets in use side by side (a prefilter file
 * and a whole-ruleset file each), each a few MB */
#define RC_MAX_FILES 32 /* a prefilter, a ruleset, an index and a guess file each */
#define RC_MAX_BYTES (256ull << 20)

/* One database: the key of what it compiles, and where it goes. */
struct rc_db {
    uint8_t key[RC_KEY_LEN];
    hs_database_t **db;
};

/* The key of one database: a hash of every input of its compilation. */
void rulecache_db_key(const char *const *pats, const size_t *lens, const unsigned *flags, const unsigned *ids, size_t n,
                      uint8_t key[RC_KEY_LEN]);
/* The key of a whole set: the format, stoat's version, Hyperscan's version
 * and this host's platform, and every database's key in order. */
void rulecache_set_key(const struct rc_db *dbs, size_t n, uint8_t key[RC_KEY_LEN]);

/* An incremental SHA-256 for keys (hash_bytes hashes the length first);
 * hash_build adds stoat's and Hyperscan's versions and this host's platform:
 * what makes a cache file of one build unfit for another. */
void *rulecache_hash_begin(void);
void rulecache_hash_bytes(void *h, const void *p, size_t n);
void rulecache_hash_u64(void *h, uint64_t v);
void rulecache_hash_build(void *h);
void rulecache_hash_end(void *h, uint8_t key[RC_KEY_LEN]);
void rulecache_sha256(const void *p, size_t n, uint8_t sum[RC_KEY_LEN]);
/* A checksum for damage, not a key (cache.c says why it is enough): many
 * times faster than SHA-256 over a file of megabytes. */
void rulecache_sum(const void *p, size_t n, uint8_t sum[RC_KEY_LEN]);

/* A whole file (a regular one, not followed through a symbolic link, at
 * most 1 GiB) into *buf (malloc'd); *missing when it does not exist. */
bool rulecache_file_read(const char *path, uint8_t **buf, size_t *len, bool *missing, char *why, size_t whylen);
/* The same in memory on huge pages (not malloc's; cache.c says why), for a
 * large file read once. Free with rulecache_file_unmap. */
bool rulecache_file_map(const char *path, const uint8_t **buf, size_t *len, bool *missing, char *why, size_t whylen);
void rulecache_file_unmap(const uint8_t *buf, size_t len);
/* Writes len bytes to path atomically (a temporary file renamed), mode 0600. */
bool rulecache_file_write(const char *path, const uint8_t *buf, size_t len, char *why, size_t whylen);

/* Decodes a cache held in memory into dbs (every one, in order): true when it
 * is whole and made for exactly these databases. Else false, why says what
 * was wrong, and every *db is NULL. */
bool rulecache_decode(const uint8_t *buf, size_t len, const struct rc_db *dbs, size_t n, char *why, size_t whylen);
/* rulecache_decode of a file. *missing is set when the file does not exist
 * (a cold cache, nothing to say). */
bool rulecache_read(const char *path, const struct rc_db *dbs, size_t n, bool *missing, char *why, size_t whylen);
/* Writes dbs to path atomically (a temporary file renamed), mode 0600. */
bool rulecache_write(const char *path, const struct rc_db *dbs, size_t n, char *why, size_t whylen);

/* The cache folder, made (0700) when missing and refused when it is not a
 * folder of ours that only we can write: dir/stoat-<hex key>.hsc, malloc'd,
 * or NULL with why. */
char *rulecache_path(const char *dir, const uint8_t key[RC_KEY_LEN], char *why, size_t whylen);
/* The same with another ending (".rsc": a whole ruleset, rules/snapshot.h). */
char *rulecache_path_ext(const char *dir, const uint8_t key[RC_KEY_LEN], const char *ext, char *why, size_t whylen);
/* The index from a stat key (rule files by name and stat, rules/loader.c)
 * to the content key of their ruleset file: read (true when whole, and for
 * skey) or written (quietly: without it a load reads the files). */
bool rulecache_index_read(const char *path, const uint8_t skey[RC_KEY_LEN], uint8_t ckey[RC_KEY_LEN]);
void rulecache_index_write(const char *path, const uint8_t skey[RC_KEY_LEN], const uint8_t ckey[RC_KEY_LEN]);
/* Removes the oldest cache files (by last use) until the folder holds at most
 * max_files of them and max_bytes, never keep. */
void rulecache_trim(const char *dir, const char *keep, size_t max_files, uint64_t max_bytes);
/* Marks path as just used, for rulecache_trim. */
void rulecache_touch(const char *path);

#endif
