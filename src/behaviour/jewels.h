/* Crown jewels: what must not leave (product specifications, chip layouts,
 * photographs of the fab), named by the operator in a YAML file.
 *
 * The file becomes Sigma rules, generated at load time (sources.c hands them
 * to the loader with their roles), so that the ordinary engine watches for the
 * single-event signals (an unusual process opens a jewel, an archiver or
 * encoder touches one, anything touches a canary) on every logsource that can
 * show them; and a rule for transfer tools that is not reported itself but
 * tells the writer when, in the same logon session or process tree, data may
 * be leaving after a jewel was touched. */
#ifndef STOAT_BEHAVIOUR_JEWELS_H
#define STOAT_BEHAVIOUR_JEWELS_H

#include <stdint.h>

#include "stoat/error.h"

/* Fixed ids of the generated rules, so alerts and tests can name them and
 * sources.c can give them their roles. */
#define JEWEL_RULE_SECURITY_READ   "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b61"
#define JEWEL_RULE_WIN_FILE        "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b62"
#define JEWEL_RULE_LNX_FILE        "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b63"
#define JEWEL_RULE_WIN_ARCHIVE     "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b64"
#define JEWEL_RULE_LNX_ARCHIVE     "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b65"
#define JEWEL_RULE_WIN_CMDLINE     "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b66"
#define JEWEL_RULE_LNX_CMDLINE     "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b67"
#define JEWEL_RULE_CANARY_SECURITY "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b68"
#define JEWEL_RULE_CANARY_WIN      "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b69"
#define JEWEL_RULE_CANARY_LNX      "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b6a"
#define JEWEL_RULE_WIN_TRANSFER    "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b6b"
#define JEWEL_RULE_LNX_TRANSFER    "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b6c"
#define JEWEL_RULE_EXFIL           "5b7e2d0a-4c1f-4d7e-8a3b-1f2e3d4c5b6d"

struct jewels {
    char *name; /* the file, for messages and rule descriptions */
    char **paths, **extensions, **hosts, **canaries, **readers;
    size_t npaths, nextensions, nhosts, ncanaries, nreaders;
    char **allow_users, **allow_parents; /* routine jobs that may archive jewels (backups) */
    size_t nallow_users, nallow_parents;
    char **internal; /* command-line fragments naming internal destinations */
    size_t ninternal;
    int64_t window_ns; /* access, then a transfer tool within this (default 6 h) */
};

stoat_err jewels_load(const char *path, struct jewels **out, stoat_diag_fn diag, void *diag_ctx);
stoat_err jewels_load_text(const char *name, const char *text, size_t len, struct jewels **out, stoat_diag_fn diag,
                           void *diag_ctx);
/* The generated rules as one multi-document YAML text (malloc'd). */
char *jewels_rules(const struct jewels *j);
void jewels_free(struct jewels *j); /* accepts NULL */

#endif
