/* The alert store: alerts, incidents, the events they cite, process
 * ancestry, rule metadata, runs and the analysts' triage, in one SQLite file.
 *
 * Any producer writes through the same calls (`stoat hunt --db`, the live
 * sensor): begin a run, put alerts and incidents, end the run. A writer has
 * a thread of its own: put_alert and put_incident copy what they are given
 * into its queue and return, so the producer is not held up by SQLite (a
 * full queue makes it wait); every other call first waits until the queue
 * is written and committed. Writes are batched into transactions that
 * commit every `batch_alerts` alerts or `batch_ms` milliseconds, whichever
 * comes first, also when nothing more comes; the file is in WAL mode, so
 * readers (the report, the dashboard) see the last commit and are never
 * blocked by the writer, and a crash loses only what was not committed
 * (what stoat_store_commit or run_end returned for is committed).
 *
 * Readers ask for JSON: the dashboard's API reads documents, the report
 * reads the export's parts, and what both carry has one shape, so the
 * browser code reads one shape from both. A store handle is one SQLite
 * connection: use it from one thread at a time, open one per thread. A
 * file that is not a stoat store, a store made by a newer stoat, or a
 * damaged one gives STOAT_ERR_FORMAT and a message, never a crash. */
#ifndef STOAT_STORE_H
#define STOAT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/alert.h"
#include "stoat/error.h"

#ifdef __cplusplus
extern "C" {
#endif

#define STOAT_STORE_SCHEMA 7 /* the schema version this stoat writes */

struct stoat_store_opts {
    bool readonly;         /* report, dashboard readers */
    bool create;           /* create the file when it does not exist */
    unsigned batch_alerts; /* alerts per transaction; 0 = 16384 */
    unsigned batch_ms;     /* longest an alert waits for its commit; 0 = 1000 */
    /* Retention, saved in the store by a writer that sets it (0 = leave the
     * store's setting as it is; a negative value clears it): alerts older
     * than retain_days (by when they were stored) and the oldest beyond
     * retain_alerts are deleted with what only they referenced. */
    int64_t retain_days;
    int64_t retain_alerts;
    /* A writer that runs for weeks (stoat watch) applies retention in its
     * commits too, at most this often; 0 = at the run's end only. */
    unsigned prune_every_ms;
    /* Other writers store the same hosts' processes (the fleet's workers,
     * one taking a host over from another): a process this handle has not
     * stored itself is looked up in the file before it gets a row, through
     * an index on (host, GUID) made at open for it. Without it, a writer
     * remembers only its own rows, which is all one run needs and spares
     * every insert an index. */
    bool shared_processes;
    /* How long a write waits for another writer's lock before it fails;
     * 0 = 10 s. */
    unsigned busy_ms;
    /* Why the store could not be opened, for a human: one diagnostic (its
     * file the store's path). May be NULL. */
    stoat_diag_fn diag;
    void *diag_ctx;
};

struct stoat_store;

/* On failure *out is NULL and opts->diag (when given) has said why. */
stoat_err stoat_store_open(const char *path, const struct stoat_store_opts *opts, struct stoat_store **out);
/* Commits what is pending. Accepts NULL. */
void stoat_store_close(struct stoat_store *s);
/* The last error's message (SQLite's or stoat's), beginning with the
 * store's path when it is about the file. */
const char *stoat_store_errmsg(const struct stoat_store *s);
/* Hands the last error (e, with stoat_store_errmsg's message) to diag: its
 * file is the store's path when the message is about the file. */
void stoat_store_diag(const struct stoat_store *s, stoat_err e, stoat_diag_fn diag, void *diag_ctx);
/* The path the store was opened with. */
const char *stoat_store_path(const struct stoat_store *s);

/* ------------------------------------------------------------- writing */

/* producer: "hunt", "watch", ...; args: the command line, for the record. */
stoat_err stoat_store_run_begin(struct stoat_store *s, const char *producer, const char *args);
/* Queued: an error of the writer is returned by the next call (put_*,
 * commit, run_end, close's is only in errmsg). A correlation's alert keeps
 * its type, value, window and group, and links to the alerts it joins that
 * were put in this run. */
stoat_err stoat_store_put_alert(struct stoat_store *s, const struct stoat_alert *a);
/* Its alert_ids are the ids of alerts of the current run put before it. */
stoat_err stoat_store_put_incident(struct stoat_store *s, const struct stoat_incident *inc);
/* Writes what is queued and commits it; when it returns, it is in the file
 * (a live producer may call it when idle to show alerts at once). */
stoat_err stoat_store_commit(struct stoat_store *s);
/* Commits, records the run's figures (stats may be NULL) and applies retention. */
stoat_err stoat_store_run_end(struct stoat_store *s, const struct stoat_hunt_stats *stats);
/* Applies the retention setting now; *deleted (may be NULL) counts alerts removed. */
stoat_err stoat_store_prune(struct stoat_store *s, uint64_t *deleted);

/* A hunt sink writing into s (run begin, alerts, incidents, run end), the
 * run recorded as producer ("hunt", "watch") with args (the command line).
 * With own the sink closes the store when it is destroyed. A producer that
 * may sit idle with alerts pending (a live sensor) calls stoat_store_commit
 * when idle, or opens the store with batch_alerts = 1. */
void stoat_sink_store(struct stoat_store *s, bool own, const char *producer, const char *args, struct stoat_sink *sink);

/* --------------------------------------------------------------- fleet */

/* The centre of a fleet (`stoat fleet`) records which batches of a host's
 * run it has stored. Queued like an alert, so it is written in the same
 * transaction as the alerts put before it: a batch is marked exactly when
 * its alerts are in the file. */
stoat_err stoat_store_put_mark(struct stoat_store *s, const char *host, const char *run, uint64_t seq);
/* 1 when batch seq of (host, run) is marked, 0 when not, -1 on an error.
 * Reads what is committed: use a handle of its own (not a writer's). */
int stoat_store_marked(struct stoat_store *s, const char *host, const char *run, uint64_t seq);

/* 1 when a fleet incident (one naming hosts) whose first logon was from
 * -> to at first_ns is stored, 0 when not, -1 on an error: the fleet's
 * cross-host role asks before storing one, so a chain it reports again
 * after a takeover is not stored twice. Reads what is committed. */
int stoat_store_fleet_incident_known(struct stoat_store *s, int64_t first_ns, const char *from, const char *to);
/* 1 when a correlation alert like a (same rule, group and host, and the
 * same first or last event time of its window) is stored, 0 when not, -1
 * on an error: a fleet worker that rebuilt a window by replaying what
 * another worker had processed asks before storing its firing again.
 * Reads what is committed. */
int stoat_store_corr_known(struct stoat_store *s, const struct stoat_alert *a);
/* 1 when an incident of inc's host (one host's, not a fleet incident) with
 * the same first or last alert time is stored, 0 when not, -1 on an error:
 * a fleet worker that rebuilt a host's chains by replaying what another
 * worker had processed asks before storing the chain's incident again.
 * Reads what is committed. */
int stoat_store_incident_known(struct stoat_store *s, const struct stoat_incident *inc);
/* A host's heartbeat (the JSON as it came, at most 64 KiB) seen at seen_ns.
 * *was_silent (may be NULL) says the host had been flagged silent; the flag
 * is cleared. Commits what is queued first. */
stoat_err stoat_store_put_heartbeat(struct stoat_store *s, const char *host, int64_t seen_ns, const char *json,
                                    bool *was_silent);
/* Flags silent the hosts with a heartbeat none of which came since
 * before_ns, and not flagged yet; each is handed to fn (name, last seen). */
stoat_err stoat_store_flag_silent(struct stoat_store *s, int64_t before_ns,
                                  void (*fn)(void *ctx, const char *host, int64_t last_ns), void *ctx);
/* {"hosts":[{name, last_seen_ns, silent, alerts, heartbeat}]}: the hosts
 * that sent heartbeats, by name. */
stoat_err stoat_store_fleet_json(struct stoat_store *s, char **json, size_t *len);

/* -------------------------------------------------------------- triage */

enum stoat_triage {
    STOAT_TRIAGE_NEW = 0,
    STOAT_TRIAGE_ACKNOWLEDGED = 1,
    STOAT_TRIAGE_FALSE_POSITIVE = 2,
    STOAT_TRIAGE_CLOSED = 3,
};
#define STOAT_TRIAGE_COUNT 4
const char *stoat_triage_name(enum stoat_triage t); /* "new", "acknowledged", "false-positive", "closed" */
bool stoat_triage_parse(const char *name, enum stoat_triage *out);

enum stoat_target {
    STOAT_TARGET_ALERT = 0,
    STOAT_TARGET_INCIDENT = 1
};

#define STOAT_TRIAGE_NOTE_MAX 4000
#define STOAT_TRIAGE_WHO_MAX  100

/* Sets the state of one alert or incident and records who did it, when and
 * why. STOAT_ERR_NOTFOUND when there is no such target. */
stoat_err stoat_store_set_triage(struct stoat_store *s, enum stoat_target kind, uint64_t id, enum stoat_triage state,
                                 const char *note, const char *who);

/* ------------------------------------------------------------- queries */

/* Filters shared by the alert and incident lists. Zero values mean "any". */
struct stoat_filter {
    const char *host;
    const char *rule;       /* rule id (uuid) or title */
    const char *tactic;     /* "credential-access" */
    const char *technique;  /* "T1003" matches its sub-techniques too */
    const char *q;          /* words searched in titles, hosts, images, command lines, users */
    int min_level;          /* 0 = any */
    int state;              /* -1 = any, else enum stoat_triage */
    uint64_t incident;      /* alerts of this incident */
    int64_t from_ns, to_ns; /* 0 = unbounded */
    /* Paging: newest first. cursor_ns/cursor_id (from the last page's
     * "next") continue a listing; offset is for small jumps. */
    bool has_cursor;
    int64_t cursor_ns;
    uint64_t cursor_id;
    unsigned offset;
    unsigned limit; /* 0 = 100; at most 1000 */
    bool oldest_first;
};
void stoat_filter_init(struct stoat_filter *f);

/* Each returns a malloc'd, NUL-terminated JSON document in *json. */
stoat_err stoat_store_overview_json(struct stoat_store *s, char **json, size_t *len);
stoat_err stoat_store_alerts_json(struct stoat_store *s, const struct stoat_filter *f, char **json, size_t *len);
stoat_err stoat_store_alert_json(struct stoat_store *s, uint64_t id, char **json, size_t *len);
stoat_err stoat_store_tree_json(struct stoat_store *s, uint64_t alert_id, char **json, size_t *len);
stoat_err stoat_store_incidents_json(struct stoat_store *s, const struct stoat_filter *f, char **json, size_t *len);
/* One incident: its evidence, its alerts' groups (by rule and process tree)
 * and the first STOAT_INCIDENT_PAGE of its alerts in event time with their
 * trees; the others a page at a time from stoat_store_incident_alerts_json
 * (offset into time order; limit 0 = a page, at most STOAT_INCIDENT_PAGE_MAX).
 * A fleet incident's also has its edges and its alerts counted per host
 * (by_host); a page of one host's alerts, with that host's process trees,
 * is asked with host (NULL: every host's). */
#define STOAT_INCIDENT_PAGE     200
#define STOAT_INCIDENT_PAGE_MAX 1000
stoat_err stoat_store_incident_json(struct stoat_store *s, uint64_t id, char **json, size_t *len);
stoat_err stoat_store_incident_alerts_json(struct stoat_store *s, uint64_t id, const char *host, unsigned offset,
                                           unsigned limit, char **json, size_t *len);
stoat_err stoat_store_hosts_json(struct stoat_store *s, char **json, size_t *len);
stoat_err stoat_store_rules_json(struct stoat_store *s, char **json, size_t *len);
/* Queries of this handle running past ms milliseconds from now stop with
 * an error (0: no limit). A server sets one per request, so a pathological
 * filter cannot hold a thread. */
void stoat_store_set_deadline(struct stoat_store *s, unsigned ms);

/* A small stamp that changes whenever alerts, incidents or triage change. */
stoat_err stoat_store_version_json(struct stoat_store *s, char **json, size_t *len);

/* -------------------------------------------------------------- export */

/* The parts of a store that `stoat report` puts in its page, each one JSON
 * value in the compact form the page reads: rows that others cite (hosts,
 * events, processes) are given once, keyed by id, and alerts and processes
 * are arrays. Rules, incidents, triage entries and correlations have the
 * shapes of the documents above. */
enum stoat_export_part {
    STOAT_EXPORT_RUNS = 0,     /* [{id, producer, args, started, ended, alerts, status, pid, host}] */
    STOAT_EXPORT_RULES,        /* [rule] */
    STOAT_EXPORT_HOSTS,        /* {"<id>": name} */
    STOAT_EXPORT_ALERTS,       /* [[id, ns, ts, host, level, rule, image, cmd, user, state, logon, run, proc, ev]],
                                 * image, cmd, user null when the process (proc) says the same */
    STOAT_EXPORT_EVENTS,       /* {"<id>": event} of those alerts */
    STOAT_EXPORT_PROCESSES,    /* {"<id>": [parent, image, cmd, user, pid, start, guid]}: their ancestries */
    STOAT_EXPORT_CORRELATIONS, /* {"<alert id>": {type, value, first, last, group, evidence, alerts: [ids]}} */
    STOAT_EXPORT_INCIDENTS,    /* [incident with "alerts": [ids]] */
    STOAT_EXPORT_TRIAGE,       /* {"a:<id>" or "i:<id>": [{state, note, who, at}], newest first} */
};
#define STOAT_EXPORT_COUNT 9

/* Receives the text of an export, in pieces, in order. */
typedef void (*stoat_text_fn)(void *ctx, const char *text, size_t len);

/* Writes one part, a JSON value, through write (in pieces, in order: what
 * has been written when an error comes back is to be thrown away); *count
 * (may be NULL) is how many rows it holds. max_alerts: only the newest N
 * alerts (0 = all) and every alert of an incident, and the events,
 * processes and correlations of those. */
stoat_err stoat_store_export(struct stoat_store *s, enum stoat_export_part part, uint64_t max_alerts,
                             stoat_text_fn write, void *ctx, uint64_t *count);

#ifdef __cplusplus
}
#endif
#endif
