/* The analytics beyond single events (process trees, attack chains,
 * correlations, crown jewels, baselines) as a caller tunes them. Each
 * pipeline's options carry these; the behaviour stage reads them and nothing
 * else of the pipeline that runs it. */
#ifndef STOAT_BEHAVIOUR_H
#define STOAT_BEHAVIOUR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stoat/error.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Limits and thresholds of the analytics beyond single events; zeros take
 * the defaults. */
struct stoat_behaviour_opts {
    size_t proc_max_entries;    /* process table cap (default 200,000) */
    size_t proc_max_bytes;      /* and its bytes (default 64 MiB) */
    int64_t incident_gap_ns;    /* alerts of a chain further apart (in event time) start a new one (default 2 h) */
    double incident_min_score;  /* chains scoring less are not incidents (default 50) */
    size_t incident_max_alerts; /* alert ids kept per incident (default 10,000) */
    size_t incident_max_bytes;  /* alerts kept to be chained in time order (default 64 MiB; past it, the
                                    * kept ones are chained as a batch) */
    const char *baseline_out;   /* learning (rules loaded with baseline_learn): write the profile here */
    /* Correlations. Offline (the default) the matches they read are kept
     * and fed in time order at the end, so files may come in any order;
     * live, they are fed as they come and may be corr_lateness_ns late.
     * Incidents likewise: offline, alerts are chained in time order at the
     * end; live, after waiting corr_lateness_ns of event time. */
    bool corr_live;
    int64_t corr_lateness_ns; /* live (default 60 s) */
    /* Offline, how much older than the newest a match fed after the kept
     * ones were fed early (a fleet worker gone idle) may be and still count
     * (0: the default 60 s). A fleet worker's one clock serves hosts whose
     * days may lie apart. */
    int64_t corr_offline_lateness_ns;
    size_t
        corr_max_bytes; /* correlation state (all hosts' engines together), and offline the kept matches (default 64 MiB each) */
    /* A Sysmon event whose RuleName names an ATT&CK technique
     * ("technique_id=T1055,...", as community Sysmon configurations write)
     * is raised as an alert of that technique at this level (an enum
     * stoat_level; 0: medium), or not at all when negative. */
    int sysmon_tag_level;
};

/* The folders a live sensor should watch for the crown-jewel file at path:
 * of each absolute path or canary it names, the part before the first
 * wildcard, cut back to a folder (/srv/designs/ANY.gds gives /srv/designs).
 * Windows paths are left out: they mean nothing to a Linux sensor. Up to
 * max malloc'd strings go to out (the caller frees each); returns how many.
 * A file that cannot be read gives 0 and, with diag, says why. */
size_t stoat_jewels_folders(const char *path, char **out, size_t max, stoat_diag_fn diag, void *diag_ctx);

#ifdef __cplusplus
}
#endif
#endif
