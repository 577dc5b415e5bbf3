/* The guess of a warm load: the ruleset file that the same rule paths and
 * configuration led to last time, decoded while the rule folders are listed
 * and stat'ed (on a virtual machine each took as long as the other, one
 * after the other). A guess file, keyed by a hash of what a load is given
 * before any stat, names that file's content key. The loader takes the
 * guessed ruleset only when the stat key's index or the files' bytes then
 * name that very key; else it is dropped unseen. Never trusted: a guess
 * only saves the wait. */
#ifndef STOAT_RULES_CACHE_GUESS_H
#define STOAT_RULES_CACHE_GUESS_H

#include <stdbool.h>
#include <stdint.h>

#include "rules/cache.h"
#include "rules/snapshot.h"

struct cache_guess {
    char *index; /* the guess file (NULL: none) */
    uint8_t key[RC_KEY_LEN];
    bool named; /* the guess file named ckey */
    uint8_t ckey[RC_KEY_LEN];
    char *path;               /* ckey's ruleset file */
    struct stoat_ruleset *rs; /* decoded from it (NULL: none that fits) */
    struct snap_diags diags;  /* its diagnostics, to replay only if taken */
};

/* Reads the guess file under key in dir and decodes the ruleset file it
 * names. Quiet: a guess that is missing or does not fit is no guess. */
void cache_guess_start(struct cache_guess *g, const char *dir, const uint8_t key[RC_KEY_LEN]);
/* The guessed ruleset, its diagnostics and its file's path handed over
 * when ckey (what the index or the files named) is its key; else false. */
bool cache_guess_take(struct cache_guess *g, const uint8_t ckey[RC_KEY_LEN], struct stoat_ruleset **rs,
                      struct snap_diags *diags, char **path);
/* The guessed ruleset let go, not taken (a cold build need not hold it). */
void cache_guess_drop(struct cache_guess *g);
/* Done: the guess file names ckey (the ruleset file the load used or
 * wrote; NULL: none) for the next load, written only when that changed. */
void cache_guess_end(struct cache_guess *g, const uint8_t *ckey);

#endif
