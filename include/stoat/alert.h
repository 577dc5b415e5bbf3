/* What a run of the rules produces, and the sinks that take it: alerts (with
 * their event, position, ancestry and, for a correlation, what it saw),
 * incidents, and the run's counts. Every pipeline (`stoat hunt` over logs,
 * `stoat watch` live, and next the fleet's consumer) hands the same types to
 * the same sinks; the parts that make them (behaviour) and take them (sinks,
 * the store) include this header and nothing of the pipelines. */
#ifndef STOAT_ALERT_H
#define STOAT_ALERT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"
#include "stoat/event.h"
#include "stoat/rules.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Where an event came from. line is 0 for binary formats (offset is set). */
struct stoat_record_pos {
    const char *file;   /* "-" for standard input */
    const char *format; /* "json", "evtx", ... */
    uint64_t record;    /* 1-based index of the record in the file */
    uint64_t line;
    uint64_t offset;
};

/* A string as a JSON value: quoted and escaped, the bytes a sink writes
 * for it. p NULL: not given (the sink renders the string itself). */
struct stoat_json_text {
    const char *p;
    size_t len;
};

/* One process of an alert's ancestry (the process itself first, then its
 * parent, grandparent, ...). Strings may be NULL when the logs did not say. */
struct stoat_process {
    const char *image;
    const char *command_line;
    const char *user;
    const char *guid; /* Sysmon ProcessGuid, or pid@start for other sources */
    int64_t pid;      /* -1 when unknown */
    int64_t start_ns; /* INT64_MIN when unknown */
    /* The strings above as JSON, when the producer keeps them so (the
     * process table renders each of its strings once, not for every alert
     * that shows it); as long-lived as the strings. */
    struct stoat_json_text image_json, command_line_json, user_json, guid_json;
};

/* A match a correlation counted that was not reported on its own (its rule
 * only feeds correlations): what it was, for the analyst. */
struct stoat_corr_evidence {
    int64_t time_ns;
    const char *rule;            /* the rule's title */
    const char *summary;         /* the event's fields worth a glance, "Image: ... | CommandLine: ..." */
    struct stoat_record_pos pos; /* where the event was read (file NULL: not known, e.g. another host's) */
};

/* What a correlation rule saw when it fired. */
struct stoat_corr_detail {
    enum stoat_corr_type type;
    double value;                   /* the count, distinct count, rules seen, sum, average, percentile or share */
    int64_t first_ns, last_ns;      /* its window's events */
    const char *const *group_names; /* group-by fields (alias names) and their values */
    const char *const *group_values;
    size_t ngroup;
    const uint64_t *alert_ids; /* the reported alerts it joins (may be empty) */
    size_t nalert_ids;
    const struct stoat_corr_evidence *evidence; /* the unreported matches, oldest first, as far as kept */
    size_t nevidence;
};

struct stoat_alert {
    uint64_t id;                               /* 1, 2, 3, ... in output order within a run */
    const struct stoat_rule_meta *rule;        /* the rule, or the correlation rule that fired */
    const struct stoat_rule_meta *correlation; /* the same as rule when a correlation fired, else NULL */
    const struct stoat_corr_detail *corr;      /* with correlation: what it saw */
    struct stoat_record_pos pos;               /* file NULL for a correlation's alert */
    const char *timestamp;                     /* as the event wrote it, NULL when absent */
    int64_t time_ns;                           /* INT64_MIN when unknown */
    const char *host;                          /* NULL when absent */
    const char *channel;
    const char *event_id;
    const char *logon_id; /* the logon session when the event names one, else NULL */
    const struct stoat_field *fields;
    size_t nfields;
    const struct stoat_process *ancestry; /* nancestry == 0 when unknown */
    size_t nancestry;
    /* fields as one JSON object, the bytes a sink would write for them, when
     * the matching stage rendered it already (on a worker, off the serial
     * stage); NULL: render it from fields. Lives as long as fields. */
    const char *fields_json;
    size_t fields_json_len;
    /* For a sink that keeps what it wrote (0: nothing to keep), unique in
     * the process: alerts with one event_serial are of one event and say
     * the same of it (time, host, source, logon, ancestry, fields); alerts with one
     * rule_serial are of one rule (the same rule pointer too). */
    uint64_t event_serial, rule_serial;
};

/* What an incident's claims rest on: something observed, not a rule's tag. */
struct stoat_incident_evidence {
    const char *tactic; /* "exfiltration", "command-and-control", or NULL: observed, no claim (nothing sent) */
    int64_t time_ns;    /* INT64_MIN when unknown */
    const char *text;   /* for a human: "1.2 MB sent to 203.0.113.7:443 by curl (pid 812)" */
};

/* The alerts of an incident by rule, for grouping a large one. */
struct stoat_incident_rule {
    const char *id; /* may be NULL */
    const char *title;
    enum stoat_level level;
    uint64_t alerts; /* its alerts in the incident (all of them, listed or not) */
};

/* A logon from one place to another on the way of a fleet incident: an
 * edge of the lateral movement graph. */
struct stoat_incident_edge {
    const char *account; /* as the logs spelled it first */
    const char *from;    /* the host it came from, or its address when no host is known by it */
    const char *to;
    const char *via; /* "network logon", "explicit credentials", "service install", "rdp", "ssh", ... ("+"-joined) */
    int64_t first_ns, last_ns; /* of this edge within the incident */
    bool is_new;               /* not in the learned baseline (false without one) */
};

/* One host of a fleet incident: its alerts and the programs they were about. */
struct stoat_incident_host {
    const char *host;
    const uint64_t *alert_ids;
    const int64_t *alert_times; /* each alert's event time (NULL: not given): with the host and
                                   the id, a store finds the alerts that a run of another
                                   process stored (the fleet centre's cross-host role) */
    size_t nalerts;
    const char *const *processes; /* images of the alerts' processes and their parents, first seen first */
    size_t nprocesses;
};

/* Alerts of one host (and, where known, one logon session or process tree)
 * joined in event time into one story, scored by how far it got along the
 * attack (discovery -> credential access -> collection -> exfiltration) and by
 * the levels of its alerts. Exfiltration and command and control are claimed
 * only on evidence (data sent out, an upload of a file that exists, a
 * connection to an outside address), never on a rule's tag alone. A fleet
 * incident is one such story across hosts (see hosts below). */
struct stoat_incident {
    uint64_t id; /* 1, 2, 3, ... within a run */
    const char *host;
    const char *logon_id; /* NULL when the alerts span sessions */
    const char *title;    /* one line for a human */
    double score;         /* 0..100 */
    enum stoat_level level;
    int64_t first_ns, last_ns;
    const char *const *tactics; /* ATT&CK tactics reached, in kill-chain order */
    size_t ntactics;
    const uint64_t *alert_ids; /* the alerts it joins (stoat_alert.id) */
    size_t nalerts;
    const struct stoat_incident_evidence *evidence; /* what the claims rest on, oldest first */
    size_t nevidence;
    const struct stoat_incident_rule *rules; /* its rules, in the order they first alerted */
    size_t nrules;
    /* A fleet incident (nhosts > 0): a chain across hosts joined by one
     * account's logons; host is the first host, hosts every host in the
     * order the chain reached them, edges the logons in time order. */
    const struct stoat_incident_host *hosts;
    size_t nhosts;
    const char *account;
    const struct stoat_incident_edge *edges;
    size_t nedges;
};

#define STOAT_SKIPPED_NAMED 5

struct stoat_hunt_stats {
    uint64_t files;         /* inputs read */
    uint64_t files_failed;  /* inputs that could not be opened, recognised or read whole (a truncated EVTX) */
    uint64_t files_skipped; /* files inside folders that are not event logs (a README, say) */
    /* The first STOAT_SKIPPED_NAMED of them by name, for the summary; the hunt
     * owns the strings until it is destroyed. */
    const char *skipped_names[STOAT_SKIPPED_NAMED];
    uint64_t bytes;    /* bytes read (compressed size for .gz) */
    uint64_t records;  /* records seen */
    uint64_t events;   /* records turned into events */
    uint64_t skipped;  /* malformed records skipped */
    uint64_t unrouted; /* events of sources no loaded rule reads */
    uint64_t alerts;
    uint64_t alerts_by_level[STOAT_LEVEL_COUNT];
    uint64_t incidents;
    uint64_t incident_batches;  /* time-sorted batches alerts were chained in (1 unless memory ran out) */
    uint64_t incident_late;     /* alerts chained after later ones (live: later than the lateness allows) */
    uint64_t proc_evicted;      /* processes dropped from the bounded process table */
    uint64_t cross_dropped;     /* cross-host facts (logons, alert digests) dropped at their memory cap */
    uint64_t corr_fired;        /* correlation alerts */
    uint64_t corr_late;         /* matches too late for their correlation window (dropped) */
    uint64_t corr_evicted;      /* correlation groups or events dropped to stay within memory */
    uint64_t corr_unusable;     /* matches without a field their correlation groups by */
    uint64_t corr_batches;      /* time-sorted batches the matches were fed in (1 unless memory ran out) */
    uint64_t corr_rebuilt;      /* fleet worker: a host's correlation windows rebuilt for a match older than
                                   those it was fed (its events came out of order) */
    uint64_t corr_unkept;       /* fleet worker: matches no longer kept for such a rebuild, for memory */
    uint64_t evaluated;         /* rule evaluations after the prefilter */
    uint64_t candidates;        /* rules that routing alone would have evaluated */
    uint64_t regex_limited;     /* rule evaluations a regex limit left undecided (counted as no match) */
    size_t regex_limited_rules; /* how many rules had some; the first STOAT_LIMIT_RULES, most first (rules.h): */
    struct stoat_rule_limit regex_limits[STOAT_LIMIT_RULES];
    double seconds;
};

/* A sink receives alerts one at a time, in input order, from one thread. */
struct stoat_sink {
    void *ctx;
    stoat_err (*begin)(void *ctx);
    stoat_err (*alert)(void *ctx, const struct stoat_alert *a);
    /* With stoat_hunt_opts.all_events: every event, matched or not (rule NULL). */
    stoat_err (*event)(void *ctx, const struct stoat_alert *e);
    /* An incident, after all the alerts it names have been given to alert. */
    stoat_err (*incident)(void *ctx, const struct stoat_incident *inc);
    stoat_err (*end)(void *ctx, const struct stoat_hunt_stats *stats);
    void (*destroy)(void *ctx);
};

#ifdef __cplusplus
}
#endif
#endif
