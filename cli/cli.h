/* Shared bits of the stoat command: finding the project's data files,
 * printing diagnostics, the option tables and their one parser. Each
 * subcommand lives in its own file and is a thin user of libstoat. */
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
    EXIT_OK = 0,      /* ran to the end */
    EXIT_ALERTS = 1,  /* alerts found and --fail-on-alert given; rules check: some rejected */
    EXIT_USAGE = 2,   /* bad command line */
    EXIT_FATAL = 3,   /* nothing could be done (no rules, no mapping, output not writable) */
    EXIT_PARTIAL = 4, /* ran, but some inputs could not be read */
};

struct diag_printer {
    FILE *out;
    bool color;
    bool quiet_notes; /* notes (e.g. unknown files in folders) not printed */
    bool quiet_warnings;
    bool quiet_rules;     /* problems with single rules not printed */
    size_t name_rejected; /* with quiet_rules: still print this many rule errors (a
                              rejected document and why), then only count them */
    size_t rejected_named, rejected_unnamed;
    size_t errors, warnings, notes;
    size_t max_input_errors; /* input problems printed before going quiet; 0 = all */
    size_t input_errors;
};

void cli_diag(void *ctx, const struct stoat_diag *d);

/* The folder holding data/mapping.yml and rules/ (STOAT_HOME, or next to the
 * executable, or its parent). Caller frees. */
char *cli_home(void);
/* <home>/<rel> when it exists, else NULL. Caller frees. */
char *cli_home_path(const char *rel);

bool cli_isatty(FILE *f);
bool cli_color(FILE *f); /* a TTY and NO_COLOR unset */

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
    bool no_cache;           /* neither read nor write the compiled-rule cache */
    const char *compiled;    /* the prefilter from this file (stoat rules compile -o), never compiled */
    const char *compile_out; /* stoat rules compile: where to write it */
    struct stoat_rule_select select;
    const char *tags[64], *exclude_tags[64], *ids[256], *exclude_ids[256];
    char logsource_buf[512];
};

/* ---- options, from one declarative table per command ----
 *
 * A command describes its options in a table (name, alias, what the value
 * is, where in the command's argument struct it goes) and cli_parse reads
 * argv against it, so every command treats a missing value, an unknown
 * option and --help the same way. Shared groups (the rule options, the
 * analytics' options) are tables of their own, included by a CLI_GROUP row.
 * The messages about bad values are each command's own, as they always
 * were: the table says which. */
struct cli_command;
struct cli_option;

enum cli_kind {
    CLI_END = 0, /* ends a table */
    CLI_FLAG,    /* no value: sets the bool at off */
    CLI_STRING,  /* the value, as const char *, at off */
    CLI_PARSE,   /* the value given to parse, with the field at off */
    CLI_HELP,    /* the usage to standard output, exit 0 */
    CLI_GROUP,   /* the rows of group, over the struct at off */
};

/* What a parse function is given besides the field. */
struct cli_value {
    const struct cli_command *cmd;
    const struct cli_option *row;
    const char *opt; /* as written: "-j" or "--threads" */
    const char *v;   /* NULL when missing ("needs a value" was said) */
};

struct cli_option {
    enum cli_kind kind;
    const char *name;  /* "--output" */
    const char *alias; /* "-o", or NULL */
    size_t off;        /* offsetof in the command's argument struct (or the group's) */
    /* CLI_PARSE: false on a bad or missing value, after saying why where
     * the command does. */
    bool (*parse)(const struct cli_value *val, void *field);
    const struct cli_option *group;
    long max;        /* for cli_parse_threads: the most */
    const char *bad; /* for cli_parse_threads: the message on a bad value */
};

struct cli_command {
    const char *name; /* "stoat hunt": begins the unknown-option message */
    const char *say;  /* begins messages about values: "stoat" or "stoat watch" */
    bool see_help;    /* an unknown option adds "(see NAME --help)" */
    void (*usage)(FILE *f);
    const struct cli_option *options;
    /* An argument that is not an option, with the field at arg_off (false:
     * a bad command line). NULL: the command takes none, and each is an
     * unknown option. */
    bool (*arg)(const struct cli_command *cmd, void *field, const char *a);
    size_t arg_off;
    bool dash_is_arg; /* "-" alone is an argument (standard input), not an option */
};

#define CLI_GO (-1)
/* Reads argv[first..] into args by cmd's table. CLI_GO when the command goes
 * on; else its exit code: EXIT_OK after --help, EXIT_USAGE on a bad line. */
int cli_parse(const struct cli_command *cmd, int argc, char **argv, int first, void *args);

/* The groups: the rule options over a struct rule_args, the analytics'
 * over a struct stoat_behaviour_opts. */
extern const struct cli_option cli_rule_options[];
extern const struct cli_option cli_behaviour_options[];
void cli_rule_options_help(FILE *f);
void cli_behaviour_options_help(FILE *f, bool live);

/* Parsers shared by commands. A positive count up to 10^12 into an int64_t
 * ("SAY: OPT takes a positive number"); a thread count from 1 to the row's
 * max into an unsigned (the row's bad message). */
bool cli_parse_count(const struct cli_value *val, void *field);
bool cli_parse_threads(const struct cli_value *val, void *field);

/* Arguments: paths into a struct cli_paths (its v holds argc entries), or
 * one store ("NAME: one store at a time") into a const char *. */
struct cli_paths {
    const char **v;
    size_t n;
};
bool cli_arg_path(const struct cli_command *cmd, void *field, const char *a);
bool cli_arg_store(const struct cli_command *cmd, void *field, const char *a);

/* The command line as one string, for the store's record of runs. */
void cli_command_line(int argc, char **argv, char *out, size_t outlen);

/* Loads and builds; prints problems through the printer. NULL on failure. */
struct stoat_ruleset *cli_load_rules(const struct rule_args *ra, struct diag_printer *dp,
                                     struct stoat_load_stats *stats, bool default_rules);

int cmd_hunt(int argc, char **argv);
int cmd_publish(int argc, char **argv);
int cmd_rules(int argc, char **argv);
int cmd_dump(int argc, char **argv);
int cmd_baseline(int argc, char **argv);
int cmd_watch(int argc, char **argv);
int cmd_report(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_fleet(int argc, char **argv);

/* ---- the bus (cli/bus_args.c): options shared by the fleet commands ---- */
#include "stoat/bus.h"
#define CLI_SPOOL_DEFAULT "/var/lib/stoat/spool"
struct bus_args {
    const char *servers[STOAT_BUS_MAX_SERVERS];
    size_t nservers;
    const char *creds, *tls_ca, *spool;
    uint64_t spool_max;
    double spool_rate;
    bool zlib; /* --encoding zlib */
};
extern const struct cli_option cli_bus_options[];
void cli_bus_options_help(FILE *f);
/* Connects as host (the inbox prefix _INBOX_<token> with --creds); NULL
 * after saying why. */
struct stoat_bus_conn *cli_bus_connect(const struct bus_args *b, const char *host, struct diag_printer *dp);
/* The publisher's options from the bus options. */
void cli_bus_pub_opts(const struct bus_args *b, const char *host, const char *role, struct diag_printer *dp,
                      struct stoat_bus_pub_opts *o);

/* `stoat watch --publish` (cli/watch_publish.c). */
struct stoat_watch;
struct watch_pub;
/* Connects, starts the publisher, adds its sinks to w, watches the rules
 * bucket; NULL after saying why. */
struct watch_pub *watch_pub_start(const struct bus_args *b, struct stoat_watch *w, struct diag_printer *dp);
/* Before the sensor loads (and the watch drops to run_as): the spool folder
 * made, and owned by run_as (NULL: stays as it is), so the unprivileged
 * watch can write its batches there. False, having said why, when it cannot. */
bool watch_pub_prepare(const struct bus_args *b, const char *run_as);
void watch_pub_update(struct watch_pub *wp, uint64_t lost);
/* A new bundle version in the bucket since the last call (wp may be NULL). */
bool watch_pub_new_rules(struct watch_pub *wp, char *version, size_t vlen);
/* Fetches the bundle into the spool folder; its folder (malloc'd) or NULL. */
char *watch_pub_fetch_rules(struct watch_pub *wp, const char *version);
/* The rules of dir now run (its last component is the version). */
void watch_pub_rules_taken(struct watch_pub *wp, const char *dir);
void watch_pub_stop(struct watch_pub *wp, bool quiet);

#endif
