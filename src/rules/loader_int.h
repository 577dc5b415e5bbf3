/* What the loader's files share, and nothing outside rules/ includes:
 *
 * loader.c       given files, folders and texts -> parsed rules, the cache
 * loader_link.c  the build's links: filters and correlations to the rules
 *                they name */
#ifndef STOAT_RULES_LOADER_INT_H
#define STOAT_RULES_LOADER_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <time.h>

#include "rules/cache_guess.h"
#include "rules/compile.h"
#include "rules/loader.h"
#include "rules/ruleset.h"
#include "rules/snapshot.h"
#include "util/fs.h"
#include "util/strmap.h"

struct pending_filter {
    struct stoat_rule_meta meta;
    const char **rules;
    size_t nrules;
    const struct pnode *root;
};

struct stoat_loader {
    struct stoat_load_opts opts;
    struct stoat_ruleset *rs;
    struct compiler comp;
    struct placeholders *ph;
    struct strmap roles; /* rule id -> role, from generated sources */
    struct rule *rules;
    size_t nrules, rcap;
    struct correlation *corrs;
    size_t ncorrs, ccap;
    struct pending_filter *filters;
    size_t nfilters, fcap;
    struct strmap ids;        /* id or name -> rule index + 1 */
    struct strmap files_seen; /* rule files by device and inode -> first name (file_seen) */
    char **seen;              /* names files_seen points to, once there is no queue */
    size_t nseen, seen_cap;
    bool queue_names_seen; /* the queue's names are seen's (seen_take_queue) */
    struct folder_given {  /* folders given to add_path (folder_given_before) */
        dev_t dev;
        ino_t ino;
        char *name;
    } * folders;
    size_t nfolders, folders_cap;
    size_t files_again, folders_again; /* the stats', kept apart: a cached ruleset's do not know them */
    struct stoat_load_stats stats;
    struct timespec t0;
    bool started;
    bool hidden;           /* adding a hidden source (loader.h) */
    struct hidden_source { /* added when the ruleset is built, after every other rule */
        char *name, *text;
        size_t len;
    } * deferred;
    size_t ndeferred;
    stoat_err fatal;
    /* The ruleset cache (see the top): on while nothing has been parsed. */
    bool defer;
    void *key;                   /* SHA-256 of everything given so far, files by name (their bytes at the build) */
    void *skey;                  /* the same with files by name and stat (see defer_file) */
    void *gkey;                  /* skey's material before any stat, the paths as given: the guess's */
    struct timespec began;       /* real time: files changed since are not trusted by stat */
    bool stat_failed;            /* some rule file's stat: the stat key stands for nothing */
    struct fs_lister *lister;    /* the folders given, listed while deferring (one for all: fs.h) */
    struct pending {             /* given, not parsed yet, in order */
        char *name, *text, *msg; /* file: read at the build when needed; msg: an error about */
        size_t len;              /* name, to report then */
        bool not_file, rejects;  /* a generated source; an error that rejects a file */
        bool file;               /* a rule file given by path */
        bool st_ok;              /* st is a regular file's, not too large (stat_files) */
        bool stated;             /* st_ok and st set as the folder was listed */
        bool dup;                /* the same file as one given before it (first_name): not loaded again */
        bool dup_checked;        /* file_seen was asked */
        struct stat st;          /* a file's, at the build */
    } * pending;
    size_t npending, pcap;
    struct snap_diags rec;    /* the diagnostics of the parse, for the cache file */
    struct cache_guess guess; /* under gkey's end, read while listing */
    bool guess_taken;
    stoat_diag_fn user_diag;
    void *user_ctx;
};

/* A diagnostic for the caller, when it asked for them. */
static inline void loader_diag_note(struct stoat_loader *l, enum stoat_severity sev, stoat_err code, const char *file,
                                    unsigned line, const char *rule_id, const char *msg)
{
    if (!l->opts.diag)
        return;
    struct stoat_diag d = {
        .code = code, .severity = sev, .file = file, .line = line, .rule_id = rule_id, .message = msg};
    l->opts.diag(l->opts.diag_ctx, &d);
}
/* Filters attached to the rules they name, correlations given their rules'
 * indexes; what names nothing loaded is a warning. */
void loader_link(struct stoat_loader *l);

#endif
