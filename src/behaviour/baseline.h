/* Baselines: what is normal on each host, learned from a period's logs.
 *
 * For the living-off-the-land tools of data/lotl-tools.yml, a profile keeps
 * per host which of them ran, under which parents, and with which
 * command-line shapes (the variable parts masked: numbers, hex, GUIDs, user
 * and temp folder names, quoted strings). The profile is a YAML file a person
 * can read and edit. Checking a hunt against it raises the first use of a
 * tool, a parent or a shape on a host as a signal, so routine administration
 * stays quiet and the unusual stands out. */
#ifndef STOAT_BEHAVIOUR_BASELINE_H
#define STOAT_BEHAVIOUR_BASELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "stoat/error.h"

#define BASELINE_MAX_HOSTS 100000
#define BASELINE_MAX_ITEMS 20000 /* per host and kind */
#define BASELINE_SHAPE_MAX 240

/* Fixed ids of the generated rules (see jewels.h for why). */
#define BASELINE_RULE_WIN_WATCH "7c3a9e51-2d4b-4f6a-8e1c-0b2a3c4d5e71"
#define BASELINE_RULE_LNX_WATCH "7c3a9e51-2d4b-4f6a-8e1c-0b2a3c4d5e72"
#define BASELINE_RULE_NEW_TOOL  "7c3a9e51-2d4b-4f6a-8e1c-0b2a3c4d5e73"
#define BASELINE_RULE_NEW_PAIR  "7c3a9e51-2d4b-4f6a-8e1c-0b2a3c4d5e74"
#define BASELINE_RULE_NEW_SHAPE "7c3a9e51-2d4b-4f6a-8e1c-0b2a3c4d5e75"

enum novelty {
    NOV_NONE = 0,
    NOV_TOOL,
    NOV_PAIR,
    NOV_SHAPE
};

struct baseline;

struct baseline *baseline_new(void);
stoat_err baseline_load(const char *path, struct baseline **out, stoat_diag_fn diag, void *diag_ctx);
void baseline_free(struct baseline *b); /* accepts NULL */

/* Learning: one start of a watched tool. */
void baseline_record(struct baseline *b, const char *host, const char *image, const char *parent_image,
                     const char *command_line, int64_t time_ns);
/* Checking: what is new about this start on this host (NOV_NONE also for
 * hosts the profile does not know: nothing to compare with). */
enum novelty baseline_check(const struct baseline *b, const char *host, const char *image, const char *parent_image,
                            const char *command_line);
/* Logons between hosts (cross.h): account akey came to host from src. */
void baseline_record_logon(struct baseline *b, const char *host, const char *akey, const char *src);
/* -1: the profile knows nothing of the host; 0: a new logon there; 1: known */
int baseline_check_logon(const struct baseline *b, const char *host, const char *akey, const char *src);
stoat_err baseline_write(const struct baseline *b, FILE *out);
size_t baseline_hosts(const struct baseline *b);

/* The masked form of a command line (out has BASELINE_SHAPE_MAX bytes). */
void baseline_shape(const char *command_line, char *out);
/* The file name of an image path, lower case (out has 256 bytes). */
void baseline_tool(const char *image, char *out);

/* The generated watch rules (malloc'd YAML) for the tools listed in the
 * lotl-tools file; NULL with a diagnostic when it cannot be read. */
char *baseline_rules(const char *lotl_path, stoat_diag_fn diag, void *diag_ctx);

#endif
