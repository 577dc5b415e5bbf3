/* Evidence for an incident's claims: what was observed of the processes of
 * an attack chain, as opposed to what its rules are tagged with.
 *
 * Three kinds of events are watched, through rules that behaviour adds to
 * every load and that report nothing themselves (sources.c): connections to
 * addresses outside the private ranges (with the bytes sent and received
 * where the source counts them: the live sensor at close), file events (a
 * file named by an upload exists when the logs showed it written or read
 * before), and the start of programs that upload (curl -T, scp, Invoke-
 * WebRequest -InFile, ...), whose file argument is read from the command
 * line. What was seen is kept per process, in a bounded table (the oldest
 * processes go first), and read when a chain closes: data left when bytes
 * went out to an outside address in an upload-shaped flow or an upload of an
 * existing file was not contradicted by a failed or empty connection; a
 * process talked to command and control when it connected to an outside
 * address. */
#ifndef STOAT_BEHAVIOUR_EVIDENCE_H
#define STOAT_BEHAVIOUR_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "behaviour/chains.h"

/* Fixed ids of the rules that feed evidence (see sources.c for their roles). */
#define EVIDENCE_RULE_NET    "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a01"
#define EVIDENCE_RULE_FILE   "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a02"
#define EVIDENCE_RULE_UPLOAD "8d3f6a10-2b7c-4e59-a1d4-6c0e9b2f7a03"

/* The rules as one multi-document YAML text (static). */
const char *evidence_rules(void);

/* A connection of a process (network_connection). */
struct ev_net {
    uint32_t host;
    uint64_t proc; /* 0: unknown (nothing is kept) */
    int64_t pid;
    const char *image;
    int64_t time_ns;
    const char *dst_ip, *dst_port;
    bool failed;  /* the connect did not complete */
    bool counted; /* sent and received are known (a close) */
    uint64_t sent, received;
};

struct evidence;

struct evidence *evidence_create(size_t max_procs);
void evidence_destroy(struct evidence *e); /* accepts NULL */

/* An address outside the private, loopback, link-local, shared and
 * multicast ranges (IPv4 or IPv6 text). */
bool evidence_outside(const char *ip);
/* The file an upload command sends, from its image and command line (NULL
 * when it is not an upload or names no file); relative names are taken from
 * cwd when known. Writes at most outlen bytes (NUL included). */
const char *evidence_upload_file(const char *image, const char *cmd, const char *cwd, char *out, size_t outlen);

void evidence_net(struct evidence *e, const struct ev_net *n);
void evidence_file(struct evidence *e, uint32_t host, const char *path, int64_t time_ns);
void evidence_upload(struct evidence *e, uint32_t host, uint64_t proc, int64_t pid, const char *image, int64_t time_ns,
                     const char *path);

/* Marks for the crown-jewel watch, live: a transfer tool started after a
 * jewel was touched (transfer), the exfiltration alert raised for a process
 * (alerted). */
void evidence_mark_transfer(struct evidence *e, uint32_t host, uint64_t proc, int64_t pid, const char *image);
bool evidence_is_transfer(const struct evidence *e, uint64_t proc);
/* true the first time it is asked for a process: one alert per process */
bool evidence_take_alert(struct evidence *e, uint32_t host, uint64_t proc, int64_t pid, const char *image);

/* What the processes' evidence shows (chains.h's judge). */
void evidence_judge(struct evidence *e, uint32_t host, const uint64_t *procs, size_t nprocs, struct chain_claims *out);

struct evidence_stats {
    uint64_t procs_evicted; /* processes whose evidence was dropped to stay within the table */
};
void evidence_get_stats(const struct evidence *e, struct evidence_stats *out);

#endif
