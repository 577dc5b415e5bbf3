/* See cli.h. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

#include "util/fs.h"
#include "util/mem.h"
#include "util/text.h"

bool cli_isatty(FILE *f)
{
    return isatty(fileno(f)) == 1;
}

bool cli_color(FILE *f)
{
    const char *nc = getenv("NO_COLOR");
    return cli_isatty(f) && !(nc && *nc);
}

void cli_diag(void *ctx, const struct stoat_diag *d)
{
    struct diag_printer *p = ctx;
    bool rule_problem = d->rule_id || d->code == STOAT_ERR_RULE || d->code == STOAT_ERR_PLACEHOLDER ||
                        d->code == STOAT_ERR_SYNTAX || d->code == STOAT_ERR_LIMIT;
    if (p->quiet_rules && rule_problem) {
        /* a rejected document is named with its reason even so: a count
         * alone leaves the user to guess which rule went missing */
        if (d->severity != STOAT_SEV_ERROR || !p->name_rejected)
            return;
        if (p->rejected_named >= p->name_rejected) {
            p->rejected_unnamed++;
            return;
        }
        p->rejected_named++;
    }
    if (d->severity == STOAT_SEV_NOTE) {
        p->notes++;
        if (p->quiet_notes)
            return;
    } else if (d->severity == STOAT_SEV_WARNING) {
        p->warnings++;
        if (p->quiet_warnings)
            return;
    } else {
        p->errors++;
    }
    if (d->code == STOAT_ERR_INPUT && p->max_input_errors) {
        if (++p->input_errors == p->max_input_errors + 1) {
            fprintf(p->out, "stoat: more input errors follow; counting them without printing (see the summary)\n");
            return;
        }
        if (p->input_errors > p->max_input_errors)
            return;
    }
    char buf[2048];
    stoat_diag_format(d, buf, sizeof(buf));
    if (p->color) {
        const char *col = d->severity == STOAT_SEV_ERROR     ? "\033[31m"
                          : d->severity == STOAT_SEV_WARNING ? "\033[33m"
                                                             : "\033[2m";
        fprintf(p->out, "%s%s\033[0m\n", col, buf);
    } else {
        fprintf(p->out, "%s\n", buf);
    }
}

static bool has_mapping(const char *dir)
{
    char *p = fs_join(dir, "data/mapping.yml");
    struct stat st;
    bool ok = stat(p, &st) == 0;
    free(p);
    return ok;
}

char *cli_home(void)
{
    const char *env = getenv("STOAT_HOME");
    if (env && *env)
        return xstrdup(env);
    char *self = fs_self_dir();
    if (!self)
        return xstrdup(".");
    const char *cands[] = {"", "..", "../share/stoat", NULL};
    for (const char **c = cands; *c; c++) {
        char *d = **c ? fs_join(self, *c) : xstrdup(self);
        if (has_mapping(d)) {
            char *real = realpath(d, NULL);
            free(self);
            if (real) {
                free(d);
                return real;
            }
            return d;
        }
        free(d);
    }
    free(self);
    return xstrdup(".");
}

char *cli_home_path(const char *rel)
{
    char *home = cli_home();
    char *p = fs_join(home, rel);
    free(home);
    struct stat st;
    if (stat(p, &st) != 0) {
        free(p);
        return NULL;
    }
    return p;
}

static unsigned parse_mask(const char *v, bool levels, bool *ok)
{
    unsigned mask = 0;
    *ok = true;
    char *copy = xstrdup(v), *save = NULL;
    for (char *tok = strtok_r(copy, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        if (levels) {
            enum stoat_level l;
            if (!stoat_level_parse(tok, &l))
                *ok = false;
            else
                mask |= 1u << l;
        } else {
            enum stoat_status s;
            if (!stoat_status_parse(tok, &s))
                *ok = false;
            else
                mask |= 1u << s;
        }
    }
    free(copy);
    return mask;
}

/* The value after option argv[*i] (advancing *i), or NULL with a message. */
static const char *value_after(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "stoat: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

/* The row of table (or of a group in it) named a; *base moves to the
 * struct the row's offset is into. */
static const struct cli_option *find_option(const struct cli_option *t, const char *a, char **base)
{
    for (; t->kind != CLI_END; t++) {
        if (t->kind == CLI_GROUP) {
            char *inner = *base + t->off;
            const struct cli_option *o = find_option(t->group, a, &inner);
            if (o) {
                *base = inner;
                return o;
            }
        } else if (!strcmp(a, t->name) || (t->alias && !strcmp(a, t->alias))) {
            return t;
        }
    }
    return NULL;
}

int cli_parse(const struct cli_command *cmd, int argc, char **argv, int first, void *args)
{
    for (int i = first; i < argc; i++) {
        const char *a = argv[i];
        char *base = args;
        const struct cli_option *o = find_option(cmd->options, a, &base);
        if (!o) {
            bool is_option = a[0] == '-' && (a[1] || !cmd->dash_is_arg);
            if (is_option || !cmd->arg) {
                fprintf(stderr, "%s: unknown option '%s'", cmd->name, a);
                if (cmd->see_help)
                    fprintf(stderr, " (see %s --help)", cmd->name);
                fputc('\n', stderr);
                return EXIT_USAGE;
            }
            if (!cmd->arg(cmd, (char *)args + cmd->arg_off, a))
                return EXIT_USAGE;
            continue;
        }
        void *field = base + o->off;
        const char *v;
        struct cli_value val = {.cmd = cmd, .row = o, .opt = a};
        switch (o->kind) {
        case CLI_FLAG: *(bool *)field = true; break;
        case CLI_STRING:
            if (!(v = value_after(argc, argv, &i)))
                return EXIT_USAGE;
            *(const char **)field = v;
            break;
        case CLI_PARSE:
            val.v = value_after(argc, argv, &i);
            if (!o->parse(&val, field))
                return EXIT_USAGE;
            break;
        case CLI_HELP: cmd->usage(stdout); return EXIT_OK;
        default: break;
        }
    }
    return CLI_GO;
}

/* v as a whole number from 1 to max (nothing after it). */
static bool number_in(const char *v, long long max, long long *n)
{
    char *end;
    *n = v ? strtoll(v, &end, 10) : 0;
    return v && !*end && *n >= 1 && *n <= max;
}

bool cli_parse_count(const struct cli_value *val, void *field)
{
    long long n;
    if (!number_in(val->v, 1000000000000LL, &n)) {
        fprintf(stderr, "%s: %s takes a positive number\n", val->cmd->say, val->opt);
        return false;
    }
    *(int64_t *)field = n;
    return true;
}

bool cli_parse_threads(const struct cli_value *val, void *field)
{
    long long n;
    if (!number_in(val->v, val->row->max, &n)) {
        fprintf(stderr, "%s\n", val->row->bad);
        return false;
    }
    *(unsigned *)field = (unsigned)n;
    return true;
}

bool cli_arg_path(const struct cli_command *cmd, void *field, const char *a)
{
    (void)cmd;
    struct cli_paths *p = field;
    p->v[p->n++] = a;
    return true;
}

bool cli_arg_store(const struct cli_command *cmd, void *field, const char *a)
{
    const char **db = field;
    if (*db) {
        fprintf(stderr, "%s: one store at a time\n", cmd->name);
        return false;
    }
    *db = a;
    return true;
}

void cli_command_line(int argc, char **argv, char *out, size_t outlen)
{
    size_t len = 0;
    out[0] = 0;
    for (int k = 0; k < argc && len < outlen - 1; k++)
        len += (size_t)snprintf(out + len, outlen - len, "%s%s", k ? " " : "stoat ", argv[k]);
}

/* ---- the rule options (over struct rule_args) ---- */

/* A rule path or rules-side file that is not there is a mistake on the
 * command line: said before any work, exit 2. Going on would hunt with the
 * default rules alone and look like a clean result. */
static bool path_exists(const struct cli_value *val)
{
    struct stat sb;
    if (stat(val->v, &sb) == 0)
        return true;
    fprintf(stderr, "%s: %s %s: %s\n", val->cmd->say, val->opt, val->v, strerror(errno));
    return false;
}

static bool existing_file(const struct cli_value *val, void *field)
{
    if (!val->v || !path_exists(val))
        return false;
    *(const char **)field = val->v;
    return true;
}

static bool rule_path(const struct cli_value *val, void *field)
{
    struct rule_args *ra = field;
    if (!val->v || !path_exists(val))
        return false;
    if (ra->nrule_paths >= 256) {
        fprintf(stderr, "stoat: too many -r paths\n");
        return false;
    }
    ra->rule_paths[ra->nrule_paths++] = val->v;
    return true;
}

/* --level, --status: a comma-separated list into a bit mask. */
static bool mask_of(const struct cli_value *val, bool levels, unsigned *mask)
{
    bool ok;
    if (!val->v)
        return false;
    unsigned m = parse_mask(val->v, levels, &ok);
    if (!ok) {
        fprintf(stderr, "stoat: %s: unknown %s in '%s'\n", val->opt, levels ? "level" : "status", val->v);
        return false;
    }
    *mask = m;
    return true;
}

static bool rule_levels(const struct cli_value *val, void *field)
{
    return mask_of(val, true, field);
}

static bool rule_statuses(const struct cli_value *val, void *field)
{
    return mask_of(val, false, field);
}

/* --tag, --exclude-tag, --id, --exclude-id: repeatable, up to cap. */
static bool add_glob(const struct cli_value *val, const char **arr, size_t *n, size_t cap)
{
    if (!val->v)
        return false;
    if (*n >= cap) {
        fprintf(stderr, "stoat: too many %s options\n", val->opt);
        return false;
    }
    arr[(*n)++] = val->v;
    return true;
}

static bool rule_tag(const struct cli_value *val, void *field)
{
    struct rule_args *ra = field;
    return add_glob(val, ra->tags, &ra->select.ntags, 64);
}

static bool rule_exclude_tag(const struct cli_value *val, void *field)
{
    struct rule_args *ra = field;
    return add_glob(val, ra->exclude_tags, &ra->select.nexclude_tags, 64);
}

static bool rule_id(const struct cli_value *val, void *field)
{
    struct rule_args *ra = field;
    return add_glob(val, ra->ids, &ra->select.nids, 256);
}

static bool rule_exclude_id(const struct cli_value *val, void *field)
{
    struct rule_args *ra = field;
    return add_glob(val, ra->exclude_ids, &ra->select.nexclude_ids, 256);
}

/* product[:category[:service]], empty parts mean any */
static bool rule_logsource(const struct cli_value *val, void *field)
{
    struct rule_args *ra = field;
    const char *src = val->v;
    if (!src)
        return false;
    if (strlen(src) >= sizeof(ra->logsource_buf)) {
        fprintf(stderr, "stoat: --logsource value too long\n");
        return false;
    }
    char *v = strcpy(ra->logsource_buf, src);
    char *parts[3] = {NULL, NULL, NULL};
    char *p = v;
    for (int k = 0; k < 3 && p; k++) {
        char *c = strchr(p, ':');
        if (c)
            *c = 0;
        parts[k] = *p ? p : NULL;
        p = c ? c + 1 : NULL;
    }
    ra->select.product = parts[0];
    ra->select.category = parts[1];
    ra->select.service = parts[2];
    return true;
}

#define RA(f) offsetof(struct rule_args, f)
const struct cli_option cli_rule_options[] = {
    {CLI_PARSE, "--rules", "-r", 0, rule_path},
    {CLI_FLAG, "--no-default-rules", NULL, RA(no_default_rules)},
    {CLI_PARSE, "--mapping", NULL, RA(mapping), existing_file},
    {CLI_PARSE, "--placeholders", NULL, RA(placeholders), existing_file},
    {CLI_PARSE, "--jewels", NULL, RA(jewels), existing_file},
    {CLI_STRING, "--baseline", NULL, RA(baseline)},
    {CLI_PARSE, "--level", NULL, RA(select.level_mask), rule_levels},
    {CLI_PARSE, "--status", NULL, RA(select.status_mask), rule_statuses},
    {CLI_PARSE, "--tag", NULL, 0, rule_tag},
    {CLI_PARSE, "--exclude-tag", NULL, 0, rule_exclude_tag},
    {CLI_PARSE, "--id", NULL, 0, rule_id},
    {CLI_PARSE, "--exclude-id", NULL, 0, rule_exclude_id},
    {CLI_PARSE, "--logsource", NULL, 0, rule_logsource},
    {CLI_FLAG, "--no-cache", NULL, RA(no_cache)},
    {CLI_PARSE, "--compiled", NULL, RA(compiled), existing_file},
    {CLI_END},
};
#undef RA

void cli_rule_options_help(FILE *f)
{
    fputs("Rules:\n"
          "  -r, --rules PATH        add a rule file or folder (repeatable)\n"
          "      --no-default-rules  leave out stoat's own rules/ folder\n"
          "      --placeholders FILE values for %placeholders% (the expand modifier)\n"
          "      --jewels FILE       crown jewels: what must not leave (config/crown-jewels.example.yml)\n"
          "      --baseline FILE     raise first uses of tools, parents, command lines against this profile\n"
          "                          (made by stoat baseline learn)\n"
          "      --mapping FILE      logsource and field mapping (default data/mapping.yml)\n"
          "      --level L[,L]       only rules of these levels\n"
          "      --status S[,S]      only rules of these statuses (default: all but deprecated, unsupported)\n"
          "      --tag GLOB          only rules with a matching tag (repeatable), e.g. attack.t1003*\n"
          "      --exclude-tag GLOB  leave out rules with a matching tag\n"
          "      --id ID             only these rules, by id or name (repeatable, globs allowed)\n"
          "      --exclude-id ID     leave out these rules\n"
          "      --logsource P[:C[:S]]  only rules of this product/category/service (globs allowed)\n"
          "      --no-cache          neither read nor write the compiled-rule cache\n"
          "                          ($XDG_CACHE_HOME/stoat, else ~/.cache/stoat)\n"
          "      --compiled FILE     the compiled prefilter from FILE (stoat rules compile -o), never\n"
          "                          compiling: fails when FILE was made for other rules or options\n",
          f);
}

/* "90m", "2h", "30s" */
static bool duration_ns(const char *v, int64_t *ns)
{
    int64_t ms;
    if (!v || !parse_timespan(v, &ms) || ms <= 0 || ms > INT64_MAX / 1000000)
        return false;
    *ns = ms * 1000000;
    return true;
}

static bool mebibytes(const char *v, size_t *bytes)
{
    char *end;
    long n = v ? strtol(v, &end, 10) : 0;
    if (!v || *end || n < 1 || n > 1024 * 1024)
        return false;
    *bytes = (size_t)n << 20;
    return true;
}

static bool beh_duration(const struct cli_value *val, void *field)
{
    if (duration_ns(val->v, field))
        return true;
    fprintf(stderr, "stoat: %s takes a duration such as 90s, 30m or 2h\n", val->opt);
    return false;
}

static bool beh_score(const struct cli_value *val, void *field)
{
    char *end;
    double d = val->v ? strtod(val->v, &end) : -1;
    if (!(val->v && !*end && d >= 0 && d <= 100)) {
        fprintf(stderr, "stoat: --incident-min-score takes a score from 0 to 100\n");
        return false;
    }
    *(double *)field = d > 0 ? d : 0.001; /* 0 would mean the default */
    return true;
}

static bool beh_tag_level(const struct cli_value *val, void *field)
{
    enum stoat_level lv;
    if (val->v && strcmp(val->v, "off") == 0) {
        *(int *)field = -1;
        return true;
    }
    if (!val->v || !stoat_level_parse(val->v, &lv) || lv == STOAT_LEVEL_NONE) {
        fprintf(stderr, "stoat: --sysmon-tag-level takes a level (informational to critical) or off\n");
        return false;
    }
    *(int *)field = (int)lv;
    return true;
}

static bool beh_memory(const struct cli_value *val, void *field)
{
    if (mebibytes(val->v, field))
        return true;
    fprintf(stderr, "stoat: %s takes a size in MiB\n", val->opt);
    return false;
}

#define BO(f) offsetof(struct stoat_behaviour_opts, f)
const struct cli_option cli_behaviour_options[] = {
    {CLI_PARSE, "--incident-gap", NULL, BO(incident_gap_ns), beh_duration},
    {CLI_PARSE, "--corr-lateness", NULL, BO(corr_lateness_ns), beh_duration},
    {CLI_PARSE, "--incident-min-score", NULL, BO(incident_min_score), beh_score},
    {CLI_PARSE, "--corr-memory", NULL, BO(corr_max_bytes), beh_memory},
    {CLI_PARSE, "--proc-memory", NULL, BO(proc_max_bytes), beh_memory},
    {CLI_PARSE, "--sysmon-tag-level", NULL, BO(sysmon_tag_level), beh_tag_level},
    {CLI_END},
};
#undef BO

void cli_behaviour_options_help(FILE *f, bool live)
{
    fputs("Analytics:\n"
          "      --incident-gap T    alerts of a host further apart start a new incident (default 2h)\n"
          "      --incident-min-score N  attack chains scoring less are not incidents (default 50)\n"
          "      --corr-memory MIB   memory for correlation state and kept matches (default 64 each)\n"
          "      --proc-memory MIB   memory for the process table behind ancestries (default 64)\n"
          "      --sysmon-tag-level L  level of alerts raised for Sysmon events whose RuleName names an\n"
          "                          ATT&CK technique (technique_id=T...), or off (default medium)\n",
          f);
    if (live)
        fputs("      --corr-lateness T   how late an event may arrive and still count (default 60s)\n", f);
    else
        fputs("  Correlations read their matches in time order whatever the order of the files.\n", f);
}

struct stoat_ruleset *cli_load_rules(const struct rule_args *ra, struct diag_printer *dp,
                                     struct stoat_load_stats *stats, bool default_rules)
{
    char *mapping = ra->mapping ? xstrdup(ra->mapping) : cli_home_path("data/mapping.yml");
    if (!mapping) {
        fprintf(stderr, "stoat: cannot find data/mapping.yml (set STOAT_HOME to the stoat folder or give --mapping)\n");
        return NULL;
    }
    struct stoat_load_opts lo = {.mapping_path = mapping,
                                 .placeholders_path = ra->placeholders,
                                 .jewels_path = ra->jewels,
                                 .baseline_path = ra->baseline,
                                 .baseline_learn = ra->baseline_learn,
                                 .select = ra->select,
                                 .diag = cli_diag,
                                 .diag_ctx = dp,
                                 .compiled_in = ra->compiled,
                                 .compiled_out = ra->compile_out};
    char *cache_dir = ra->no_cache || ra->compiled ? NULL : stoat_rules_cache_dir();
    lo.cache_dir = cache_dir;
    lo.select.tags = ra->tags;
    lo.select.exclude_tags = ra->exclude_tags;
    lo.select.ids = ra->ids;
    lo.select.exclude_ids = ra->exclude_ids;
    struct stoat_loader *l = NULL;
    struct stoat_ruleset *rs = NULL;
    if (stoat_loader_create(&lo, &l)) {
        free(mapping);
        free(cache_dir);
        return NULL;
    }
    if (default_rules && !ra->no_default_rules) {
        char *own = cli_home_path("rules");
        if (own)
            stoat_loader_add_path(l, own);
        free(own);
    }
    for (size_t i = 0; i < ra->nrule_paths; i++)
        stoat_loader_add_path(l, ra->rule_paths[i]); /* one given before is read once (the loader) */
    stoat_err e = stoat_loader_build(l, &rs);
    if (stats)
        stoat_loader_stats(l, stats);
    if (e)
        rs = NULL;
    if (rs && stats)
        stoat_ruleset_stats(rs, stats);
    stoat_loader_destroy(l);
    free(mapping);
    free(cache_dir);
    return rs;
}
