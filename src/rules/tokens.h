/* Token tables: a field's atoms that are whole ALGO=HEX tokens (the Hashes
 * field of Sysmon, "SHA1=...,MD5=...,IMPHASH=..." against rules' "MD5=abc"
 * lists), found without the scan. Such an atom's one '=' must lie on some
 * '=' of the value, so each '=' of a value is looked up once per shape
 * (algorithm name, hex length) whose name stands before it, in a hash table
 * keyed by the first hex bytes: the same atoms the caseless scan reports,
 * at any place, token boundaries or not, at a fraction of its cost per
 * byte. Built by the prefilter (prefilter.c) and by the snapshot reader
 * from the entries alone, so a file cannot hand it a table it did not make. */
#ifndef STOAT_RULES_TOKENS_H
#define STOAT_RULES_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "util/mem.h"

#define TOKEN_MAX_SHAPES 16
#define TOKEN_MAX_ALGO   16 /* name bytes before the '=' */
#define TOKEN_MIN_HEX    8  /* hex bytes after it: the table's key */
#define TOKEN_MAX_HEX    255

struct token_shape {
    uint8_t al, hl;
    char algo[TOKEN_MAX_ALGO]; /* lower case */
};

struct token_table {
    uint32_t field; /* the group's field whose values hold the atoms */
    uint32_t nshapes;
    struct token_shape shapes[TOKEN_MAX_SHAPES];
    uint16_t by_last[256]; /* the shapes whose name ends in that (lower-case) byte */
    uint32_t n;            /* entries */
    const uint32_t *atom;  /* the group atom of entry i */
    const uint8_t *shape;  /* its shape */
    const uint64_t *key;   /* its first 8 hex bytes, folded (tokens.c) */
    const uint32_t *off;   /* its text: blob + off[i], al + 1 + hl bytes */
    const char *blob;
    uint32_t mask;        /* slots - 1 */
    const uint32_t *slot; /* entry + 1; 0: empty */
};

/* Whether s is a token atom: 1..TOKEN_MAX_ALGO letters and digits, '=',
 * TOKEN_MIN_HEX..TOKEN_MAX_HEX hex digits; *al and *hl their lengths. */
bool token_shape_of(const char *s, size_t len, size_t *al, size_t *hl);

/* The table of n atoms (texts[i], lens[i]) standing for group atoms
 * atoms[i], in arena a; NULL when one is not a token atom or they have
 * more than TOKEN_MAX_SHAPES shapes. */
struct token_table *token_table_make(struct arena *a, uint32_t field, uint32_t n, const char *const *texts,
                                     const uint32_t *lens, const uint32_t *atoms);

/* Calls hit with the group atom of every entry that occurs in v (n bytes),
 * ASCII caseless, once per place it occurs. */
void token_find(const struct token_table *t, const char *v, size_t n, void (*hit)(void *ctx, uint32_t atom), void *ctx);

#endif
