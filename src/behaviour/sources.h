/* The rule sources behaviour adds to every load, and what their roles mean.
 *
 * The evidence incidents rest on, crown jewels and baselines are watched with ordinary Sigma rules that
 * behaviour generates from the operator's files (jewels.c, baseline.c), so
 * the compiler, the prefilter and the matcher treat them like any rule. The
 * loader (rules/) only carries them: it loads each generated source, stores
 * the role this file gives a rule id as a number, and keeps the data read
 * from the files with the ruleset. What a role means is decided here and in
 * behaviour.c, one floor above the rules. Since jewels and baselines come
 * with a load, the public stoat_loader_create is composed here: the rules'
 * loader, then these sources. */
#ifndef STOAT_BEHAVIOUR_SOURCES_H
#define STOAT_BEHAVIOUR_SOURCES_H

#include <stdbool.h>
#include <stdint.h>

struct baseline;
struct stoat_ruleset;

/* A rule's part in behaviour (struct rule's role). */
enum behaviour_role {
    ROLE_NONE = 0,
    ROLE_JEWEL_TOUCH,       /* a crown jewel was accessed: reported, and starts the exfiltration watch */
    ROLE_JEWEL_TRANSFER,    /* a transfer tool ran: checked against the jewels touched before */
    ROLE_JEWEL_EXFIL,       /* the rule the exfiltration alert is reported as */
    ROLE_BASELINE_WATCH,    /* a watched tool started: learned or checked against the profile */
    ROLE_BASELINE_NEW_TOOL, /* the rules first uses are reported as, in enum novelty's order */
    ROLE_BASELINE_NEW_PAIR,
    ROLE_BASELINE_NEW_SHAPE,
    ROLE_EVIDENCE_NET,    /* a connection to an outside address: evidence for incidents (evidence.h) */
    ROLE_EVIDENCE_FILE,   /* a file event: the file exists */
    ROLE_EVIDENCE_UPLOAD, /* a program that uploads started: its command line names what it sends */
    ROLE_FACT_LOGON,      /* a logon from elsewhere or its half: a fact for cross-host analytics (facts.h) */
    ROLE_FACT_ADDRESS,    /* a connection to remote administration: the address the host uses */
    ROLE_SYSMON_TAG,      /* a Sysmon event under a technique rule: raised as that technique (sysmon_tags.h) */
    ROLE_SPOOF,           /* a Windows process start or end: creator, parent and token compared (spoof.h) */
    ROLE_KRBNAME,         /* a Kerberos ticket: the account compared with the DC and the service (krbname.h) */
};

/* Matches of a rule in this role are not reported: they go to behaviour_watch. */
static inline bool behaviour_role_silent(uint8_t role)
{
    return role == ROLE_JEWEL_TRANSFER || role == ROLE_BASELINE_WATCH || role >= ROLE_EVIDENCE_NET;
}

/* What a ruleset carries for behaviour from the files its generated rules
 * came from; a reload reads them again with the rules. */
struct behaviour_data {
    struct baseline *baseline; /* the profile to check against, or NULL */
    bool baseline_learn;       /* learning a profile (stoat baseline learn) */
    int64_t jewel_window_ns;   /* a transfer this long after a touch still counts */
};

/* The ruleset's behaviour data, or NULL when it was loaded without jewels
 * and baselines. */
const struct behaviour_data *behaviour_data_of(const struct stoat_ruleset *rs);

#endif
