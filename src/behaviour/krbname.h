/* sAMAccountName spoofing (CVE-2021-42278/42287, "noPac") from the domain
 * controller's Kerberos events.
 *
 * The attack renames a computer account it controls to a domain
 * controller's name without the trailing $, asks for a TGT under that name,
 * renames the account back and asks for a service ticket to itself
 * (S4U2self): finding no account of that name, the KDC retries with a $ and
 * issues the ticket as the domain controller. Windows never names an account
 * so; the events show it by comparing fields of one event, which a Sigma
 * rule cannot: a TGT (4768) or a service ticket (4769) for an account named
 * like the domain controller that logs it, without the $, or a service
 * ticket for an account "X" to the service "X$". Stateless. */
#ifndef STOAT_BEHAVIOUR_KRBNAME_H
#define STOAT_BEHAVIOUR_KRBNAME_H

#include "stoat/alert.h"

/* Fixed id of the generated rule that hands 4768/4769 to behaviour, and of
 * the rule its alerts are reported as. */
#define KRBNAME_RULE "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a26"
#define KRBNAME_ID   "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a27"

/* The rule to raise a 4768/4769 as, or NULL. */
const struct stoat_rule_meta *krbname_event(const struct stoat_alert *a);

/* The generated rule (static YAML text). */
const char *krbname_rules(void);

#endif
