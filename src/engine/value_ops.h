/* Value tests of the engine that need no match context: a Sigma glob against
 * a value, and an IP address against a network (|cidr). Apart from match.c
 * because they are self-contained and seldom hot. */
#ifndef STOAT_ENGINE_VALUE_OPS_H
#define STOAT_ENGINE_VALUE_OPS_H

#include <stdbool.h>
#include <stddef.h>

#include "rules/ruleset.h"

/* Whether the whole of s[0..n) matches glob pattern p ('*', '?', dashes). */
bool engine_glob_match(const struct pattern *p, const char *s, size_t n);

/* Parses an IPv4 or IPv6 address (brackets, spaces and a %zone around it
 * allowed; an IPv4-mapped IPv6 address becomes IPv4). */
bool engine_parse_ip(const char *s, size_t n, struct cidr *out);

/* Whether ip lies in net (same family, the first net->bits bits equal). */
bool engine_in_net(const struct cidr *ip, const struct cidr *net);

#endif
