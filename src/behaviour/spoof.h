/* Parent-process spoofing and processes started with another's token
 * (ATT&CK T1134.004, T1134.002), from Windows process starts.
 *
 * A process named as the parent with PROC_THREAD_ATTRIBUTE_PARENT_PROCESS is
 * what Sysmon 1 and Security 4688 both report as the parent; only Security
 * 4688 also tells who really called CreateProcess: its Subject is the
 * caller's token. Without spoofing, the caller is the parent, so both run in
 * the same logon session. Windows' own brokers that legitimately create a
 * process for another (UAC's AppInfo, seclogon for runas, WMI, DCOM, the task
 * scheduler, winlogon) call as SYSTEM, LocalService or NetworkService, so only
 * a caller in an ordinary logon (not one of the built-in sessions below
 * 0x3e8) is judged:
 *
 *  - the stated parent runs in another session than the caller (known from
 *    the parent's own start, Sysmon 1 or 4688, or because it is one of the
 *    core processes in System32 that only run as SYSTEM): the caller spoofed
 *    the parent (T1134.004);
 *  - the new process runs in another session than the caller (4688's Target,
 *    or the same process's Sysmon 1 a few seconds apart): its token is not
 *    the caller's, inherited from a spoofed parent or handed over
 *    (T1134.004, T1134.002).
 *
 * And, from either source: a process running as SYSTEM whose stated parent
 * runs in an ordinary session (its own start, or Sysmon's ParentUser outside
 * the child's NT AUTHORITY domain) was given a SYSTEM token by a process that
 * has no SYSTEM token of its own to give: token theft (T1134.002).
 *
 * What a process runs as is kept per host and pid in a bounded table (the
 * oldest go when a set is full); the events of one process from the two
 * sources meet there when they are at most MERGE seconds apart. Judging uses
 * what was seen before: a parent whose start comes later in the input (the
 * Sysmon log read after the Security log) is not known yet. */
#ifndef STOAT_BEHAVIOUR_SPOOF_H
#define STOAT_BEHAVIOUR_SPOOF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/alert.h"

/* Fixed ids of the generated rules that hand process starts and ends to
 * behaviour (Security, Sysmon), and of the rules its alerts are reported as. */
#define SPOOF_RULE_SECURITY "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a21"
#define SPOOF_RULE_SYSMON   "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a22"
#define SPOOF_ID_PARENT     "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a23"
#define SPOOF_ID_TOKEN      "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a24"
#define SPOOF_ID_SYSTEM     "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a25"

struct spoof;

/* max_procs: table size (0: a default of 64 Ki processes). */
struct spoof *spoof_create(size_t max_procs);
void spoof_destroy(struct spoof *s); /* accepts NULL */

/* A process start or end of the generated rules (Security 4688/4689,
 * Sysmon 1). Returns the rule to raise the event as, or NULL. A process
 * is raised once, whichever of its events shows it. */
const struct stoat_rule_meta *spoof_event(struct spoof *s, const struct stoat_alert *a);

/* What spoof_event reads of an event, worked out from the event alone
 * (its fields and event id; not its host or time, nothing of the table):
 * the matching threads work it out in parallel, and the serial stage only
 * looks the table up (spoof_apply). spoof_event is the two in a row. */
enum spoof_kind {
    SPOOF_NONE,           /* nothing to look at: not a start or end, or no pid */
    SPOOF_END,            /* Security 4689 */
    SPOOF_START_SECURITY, /* 4688 */
    SPOOF_START_SYSMON    /* Sysmon 1 */
};
struct spoof_facts {
    uint8_t kind;        /* enum spoof_kind */
    bool system;         /* runs as SYSTEM: its session, 4688's TargetUserSid, Sysmon's User */
    bool parent_core;    /* 4688: the parent is a core SYSTEM process in System32 */
    bool system_by_name; /* Sysmon: SYSTEM's account under a parent user of another domain */
    uint64_t pid, ppid;
    uint64_t image, parent_image; /* program file names, hashed (0: unknown) */
    uint64_t guid, parent_guid;   /* Sysmon's GUIDs, hashed (0: unknown) */
    uint64_t creator, session;    /* logon ids (0: unknown) */
};
void spoof_facts_of(const struct stoat_alert *a, struct spoof_facts *out);
/* The same, each field looked up by name (facts_field): slower, the
 * reference spoof_facts_of's one pass over the fields is tested against. */
void spoof_facts_of_by_name(const struct stoat_alert *a, struct spoof_facts *out);
/* The names of the fields spoof_facts_of reads (k below SPOOF_NFIELDS;
 * NULL past them): a caller that has an event's fields by id (event.h)
 * looks their ids up once. */
#define SPOOF_NFIELDS 15
const char *spoof_field_name(size_t k);
/* spoof_facts_of for an event's fields as the engine holds them (fs, nf,
 * linked by their next), its event id as stoat_alert's: first[k] is the
 * first field of name k's id (engine_event_get; NULL: none), bit k of
 * no_id set when the name has no id (then first[k] is not read and the
 * name is looked for by a pass over the fields). The same facts, without
 * comparing every field's name. */
struct ev_field;
void spoof_facts_of_fields(const char *event_id, const struct ev_field *fs, size_t nf,
                           const struct ev_field *const first[SPOOF_NFIELDS], uint32_t no_id, struct spoof_facts *out);
/* The table's part, for the event a (its host and time) whose facts f are. */
const struct stoat_rule_meta *spoof_apply(struct spoof *s, const struct stoat_alert *a, const struct spoof_facts *f);
/* spoof_apply with the hash of a's host worked out before (spoof_host_hash
 * of a->host, "" when NULL): the caller's record of the host keeps it. */
const struct stoat_rule_meta *spoof_apply_host(struct spoof *s, const struct stoat_alert *a, uint64_t host_h,
                                               const struct spoof_facts *f);
uint64_t spoof_host_hash(const char *host);
/* spoof_host_hash of the n bytes at host (up to a NUL among them). */
uint64_t spoof_host_hash_n(const char *host, size_t n);

/* The table's keys spoof_apply_host will look up for facts f of a host
 * whose spoof_host_hash is host_h: the process's and its parent's (0: none).
 * Worked out where the facts are (a worker), so that the serial stage can
 * start loading their sets an event ahead (spoof_prefetch): a table of 4
 * MiB probed at random misses the cache at every event. */
void spoof_keys_of(uint64_t host_h, const struct spoof_facts *f, uint64_t *self, uint64_t *parent);
/* Starts loading what looking key up (a key of spoof_keys_of) will read. */
void spoof_prefetch(const struct spoof *s, uint64_t key);

/* The generated rules as one multi-document YAML text (static). */
const char *spoof_rules(void);

#endif
