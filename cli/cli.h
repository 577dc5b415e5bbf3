/* Shared bits of the stoat command: finding the project's data files,
 * printing diagnostics, option helpers. Each subcommand lives in its own file
 * and is a thin user of libstoat. */
#ifndef STOAT_CLI_H
#define STOAT_CLI_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "stoat/error.h"
#include "stoat/hunt.h"
#include "stoat/rules.h"

/* Exit codes, documented in the README and `stoat help`. */
enum {
    EXIT_OK = 0,          /* ran to the end */
    EXIT_ALERTS = 1,      /* alerts found and --fail-on-alert given; rules check: some rejected */
    EXIT_USAGE = 2,       /* bad command line */
    EXIT_FATAL = 3,       /* nothing could be done (no rules, no mapping, output not writable) */
    EXIT_PARTIAL = 4,     /* ran, but some inputs could not be read */
};

struct diag_printer {
    FILE *out;
    bool color;
    bool quiet_notes;      /* notes (e.g. unknown files in folders) not printed */
    bool quiet_warnings;
    bool quiet_rules;      /* problems with single rules not printed */
    size_t errors, warnings, notes;
    size_t max_input_errors;   /* input problems printed before going quiet; 0 = all */
    size_t input_errors;
};

void cli_diag(void *ctx, const struct stoat_diag *d);

/* The folder holding data/mapping.yml and rules/ (STOAT_HOME, or next to the
 * executable, or its parent). Caller frees. */
char *cli_home(void);
/* <home>/<rel> when it exists, else NULL. Caller frees. */
char *cli_home_path(const char *rel);

bool cli_isatty(FILE *f);
bool cli_color(FILE *f);   /* a TTY and NO_COLOR unset */

/* Options shared by commands that load rules. */
struct rule_args {
    const char *rule_paths[256];
    size_t nrule_paths;
    bool no_default_rules;
    const char *mapping;
    const char *placeholders;
    const char *jewels;
    const char *baseline;
    bool baseline_learn;
    struct stoat_rule_select select;
    const char *tags[64], *exclude_tags[64], *ids[256], *exclude_ids[256];
    char logsource_buf[512];
};

/* The value after option argv[*i] (advancing *i), or NULL with a message. */
const char *cli_value(int argc, char **argv, int *i);

/* Consumes one rule option at argv[*i] (advancing *i past its value);
 * returns 1 when taken, 0 when not a rule option, -1 on a bad value. */
int cli_rule_option(struct rule_args *ra, int argc, char **argv, int *i);
void cli_rule_options_help(FILE *f);
/* Consumes one option of the analytics beyond single events (incidents,
 * correlations, the process table) like cli_rule_option. */
int cli_behaviour_option(struct stoat_behaviour_opts *o, int argc, char **argv, int *i);
void cli_behaviour_options_help(FILE *f, bool live);
/* Loads and builds; prints problems through the printer. NULL on failure. */
struct stoat_ruleset *cli_load_rules(const struct rule_args *ra, struct diag_printer *dp,
                                     struct stoat_load_stats *stats, bool default_rules);

int cmd_hunt(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
