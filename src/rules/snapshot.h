/* The whole compiled ruleset as bytes: what a warm load reads instead of
 * the rule files' YAML. The loader (loader.c) decides when: it keys the file
 * by a hash of everything a load reads (rule files' names and bytes in
 * order, generated sources, roles, the mapping, the placeholders, the
 * selection, stoat's and Hyperscan's builds) and, on a hit, takes the
 * ruleset from here and replays the diagnostics the cold load gave, so a
 * warm load says and does exactly what the cold one did. This file writes
 * and reads the bytes, and treats them as hostile input (snapshot.c). */
#ifndef STOAT_RULES_SNAPSHOT_H
#define STOAT_RULES_SNAPSHOT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "rules/cache.h"
#include "stoat/error.h"
#include "util/mem.h"

struct stoat_ruleset;

/* The diagnostics of a load, copied (strings in a). */
struct snap_diags {
    struct stoat_diag *v;
    size_t n, cap;
    struct arena a;
};

void snapshot_diags_init(struct snap_diags *d);
void snapshot_diags_add(struct snap_diags *d, const struct stoat_diag *diag);
void snapshot_diags_free(struct snap_diags *d);

/* The file of a built ruleset (its stats included) and the load's
 * diagnostics, under key: malloc'd, or NULL with why (a database Hyperscan
 * cannot serialise). */
uint8_t *snapshot_encode(const struct stoat_ruleset *rs, const struct snap_diags *d, const uint8_t key[RC_KEY_LEN],
                         size_t *len, char *why, size_t whylen);

/* A ruleset from a file made under key, every count, offset, length and id
 * checked: the ruleset (without mapping or attachment: the caller's) and
 * the diagnostics to replay, or NULL with why and nothing left behind. */
struct stoat_ruleset *snapshot_decode(const uint8_t *buf, size_t len, const uint8_t key[RC_KEY_LEN],
                                      struct snap_diags *d, char *why, size_t whylen);

/* snapshot_decode of the ruleset file at path (mapped and unmapped here),
 * d initialised either way; *missing: there is no such file (nothing to
 * say, why empty). */
struct stoat_ruleset *snapshot_read_file(const char *path, const uint8_t key[RC_KEY_LEN], struct snap_diags *d,
                                         bool *missing, char *why, size_t whylen);

/* Tests only: the size of a decoded ruleset's region (0: from the file's). */
extern size_t snapshot_region_cap;

/* Unmaps a decoded ruleset's region (stoat_ruleset_destroy). */
void snapshot_region_unmap(uint8_t *mem, size_t len);

#endif
