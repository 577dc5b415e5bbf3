/* The process table behind every alert's ancestry.
 *
 * Process start events (Sysmon 1, Security 4688, Sysmon for Linux, auditd
 * exec, the live sensor) are recorded in input order, per host. A process is
 * known by its GUID when the source gives one (Sysmon ProcessGuid), else by its
 * pid and start time: a pid that is reused later starts a new entry, and a
 * lookup by pid finds the newest process with that pid that started at or
 * before the time asked, so reused pids never join the wrong tree. The table is
 * bounded (entries and bytes); the oldest entries go first, counted.
 *
 * A fork (the live sensor's EventID 1001: a GUID, the parent's GUID, the
 * parent's image, no command line) is a start too: the subshell of
 * `x=$(curl ...)` or `( ... )` is a process of its own, between the shell and
 * what it runs, and it runs its parent's command line until it execs. An exec
 * in a process the table has (same GUID, another image or command line)
 * replaces its program: ancestry shows what a process became, not what it
 * was first. */
#ifndef STOAT_BEHAVIOUR_PROCTREE_H
#define STOAT_BEHAVIOUR_PROCTREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/alert.h"

#define PROCTREE_MAX_DEPTH 12

/* A process start as the writer gets it; strings may be NULL, need not be
 * NUL-terminated beyond their lengths, and are copied. */
struct proc_start {
    const char *host;
    const char *guid, *parent_guid;
    int64_t pid, ppid; /* -1 unknown */
    int64_t time_ns;   /* INT64_MIN unknown */
    const char *image, *command_line, *user, *logon_id;
    const char *parent_image, *parent_command_line, *parent_user;
};

struct proc_entry;

struct proctree_stats {
    uint64_t starts, ends, evicted;
    size_t entries, bytes;
};

struct proctree;

struct proctree *proctree_create(size_t max_entries, size_t max_bytes);
void proctree_destroy(struct proctree *t); /* accepts NULL */

void proctree_start(struct proctree *t, const struct proc_start *p);
/* The table's id of a host name (NULL: none, as ""), given on first sight;
 * the _on forms take it instead of looking the name up again. */
uint32_t proctree_host(struct proctree *t, const char *host);
bool proctree_host_known(const struct proctree *t, const char *host, uint32_t *id);
void proctree_start_on(struct proctree *t, uint32_t host, const struct proc_start *p);
const struct proc_entry *proctree_find_on(const struct proctree *t, uint32_t host, const char *guid, int64_t pid,
                                          int64_t time_ns);
void proctree_end(struct proctree *t, const char *host, const char *guid, int64_t pid, int64_t time_ns);

/* The process an event was about: by GUID, else the newest process with this
 * pid on the host started at or before time_ns. NULL when unknown. */
const struct proc_entry *proctree_find(const struct proctree *t, const char *host, const char *guid, int64_t pid,
                                       int64_t time_ns);
/* Fills out[0..] with the process and its ancestors (at most max); returns
 * the count. Strings point into the table: valid until the next start. */
size_t proctree_ancestry(const struct proctree *t, const struct proc_entry *e, struct stoat_process *out, size_t max);
/* The topmost known ancestor's key within the host: processes of one tree
 * share it (used to join alerts of one tree into an incident). */
uint64_t proctree_root_key(const struct proctree *t, const struct proc_entry *e);
/* The process itself within the run (evidence about it is kept by this key),
 * and its parent's (0: not known). */
uint64_t proctree_proc_key(const struct proc_entry *e);
uint64_t proctree_parent_key(const struct proctree *t, const struct proc_entry *e);
/* proctree_ancestry, proctree_root_key (*tree) and proctree_parent_key
 * (*parent) at once: the ancestors are walked to once, not three times.
 * The processes come with their strings' JSON forms too (kept by the table
 * once rendered, within its byte bound: an alert's sinks write them as they
 * are). */
size_t proctree_enrich(struct proctree *t, const struct proc_entry *e, struct stoat_process *out, size_t max,
                       uint64_t *tree, uint64_t *parent);
const char *proctree_logon(const struct proctree *t, const struct proc_entry *e);
/* logon, or NULL when it is a "no session" value (auid -1) */
const char *proctree_real_logon(const char *logon);
/* Off: every string a start names is looked up by its hash, none among
 * the recent ones first: the reference the tests compare with. */
void proctree_recent_strings(struct proctree *t, bool on);
void proctree_get_stats(const struct proctree *t, struct proctree_stats *out);

#endif
