/* Facts for cross-host analytics (cross.h), derived from events.
 *
 * The events that say who logged on from where are picked by rules that
 * behaviour adds to every load and that report nothing (like the evidence
 * rules): Windows Security 4624 (network and remote-interactive logons),
 * 4648 (explicit credentials towards a server), 4697 and System 7045
 * (services installed), RDP 1149 and LocalSessionManager 21/25, WinRM's
 * shell host (wsmprovhost) starting in a session; on Linux,
 * sshd's child processes (the account), sshd's accepted connections (the
 * address), auditd USER_LOGIN by sshd (both), and the connections a host
 * makes to the ports of remote administration (the address it uses). Here
 * an event of those rules becomes a fact; an alert becomes its digest. */
#ifndef STOAT_BEHAVIOUR_FACTS_H
#define STOAT_BEHAVIOUR_FACTS_H

#include <stdbool.h>
#include <stddef.h>

#include "behaviour/cross.h"
#include "stoat/alert.h"

#define FACTS_RULE_WIN_LOGON   "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e01"
#define FACTS_RULE_WIN_SERVICE "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e02"
#define FACTS_RULE_WIN_RDP     "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e03"
#define FACTS_RULE_LNX_SSH     "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e04"
#define FACTS_RULE_LNX_ACCEPT  "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e05"
#define FACTS_RULE_LNX_AUDIT   "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e06"
#define FACTS_RULE_ADDRESS     "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e07"
#define FACTS_RULE_WIN_WINRM   "4c1d7e90-3a6b-4f28-9d5e-2b7a8c0f1e08"

/* The rules as one multi-document YAML text (static). */
const char *facts_rules(void);

/* The value of an event field (case-insensitive name), copied into out;
 * NULL when absent or empty. */
const char *facts_field(const struct stoat_alert *a, const char *name, char *out, size_t outlen);

/* The fields that name an event's account, in the order they are looked
 * for (the first with a value): facts_digest's, and the workers' who find
 * it before the serial stage (records_account_field). */
#define FACTS_ACCOUNT_FIELDS 2
extern const char *const facts_account_fields[FACTS_ACCOUNT_FIELDS];

/* Room for the strings of one fact. */
struct facts_buf {
    char account[256], src_host[256], src_addr[64], dst_host[256], logon[64];
};

/* The logon fact an event of the facts rules describes; false when it is
 * none (a local, failed or machine-account logon, a connection). Strings
 * point into a and fb. */
bool facts_logon(const struct stoat_alert *a, struct cross_logon *out, struct facts_buf *fb);
/* The address a host used for a connection to remote administration
 * (FACTS_RULE_ADDRESS): the event's source address, or NULL. */
const char *facts_address(const struct stoat_alert *a, char *out, size_t outlen);

/* What facts_digest found in an event's fields, kept by its caller for the
 * event's next alert (most events of an attack have several): zeroed first. */
struct facts_memo {
    uint64_t event_serial; /* the event (0: none yet) */
    const struct stoat_field *fields;
    size_t nfields;
    bool found; /* User or SubjectUserName named the account below */
    char account[256];
};

/* memo told the account of a's event: field is 1 + the index of a's field
 * that names it, -1 none (as worked out with the event's fields, before
 * its first alert); 0 tells nothing. */
void facts_memo_take(struct facts_memo *memo, const struct stoat_alert *a, int32_t field);

/* The digest of a reported alert (strings point into a and acct); tactics is
 * chain_tactics_of the alert's rule (kept per rule by the caller). memo may
 * be NULL (every field looked up again). */
void facts_digest(const struct stoat_alert *a, uint32_t tactics, struct cross_alert *out, char acct[256],
                  struct facts_memo *memo);

/* ------------------------------------------------- on the bus (facts_json.c) */

#define FACTS_JSON_MAX 65536 /* one fact's JSON */
#define FACTS_STR_MAX  4096  /* one string of it, decoded */

struct buf;
/* f as one compact JSON object (no newline), appended to b. */
void facts_json(const struct cross_fact *f, struct buf *b);

/* Where a parsed fact's strings live (valid until the next parse). */
struct facts_store {
    char bytes[FACTS_JSON_MAX + 64];
    size_t used;
};
/* Reads one fact; false with why ("byte N: reason") when json is not one. */
bool facts_parse(const char *json, size_t n, struct cross_fact *f, struct facts_store *st, char *why, size_t whylen);

#endif
