/* See cli.h. */
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
    if (p->quiet_rules && d->rule_id)
        return;
    if (p->quiet_rules && (d->code == STOAT_ERR_RULE || d->code == STOAT_ERR_PLACEHOLDER ||
                           d->code == STOAT_ERR_SYNTAX || d->code == STOAT_ERR_LIMIT))
        return;
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
        const char *col = d->severity == STOAT_SEV_ERROR ? "\033[31m" : d->severity == STOAT_SEV_WARNING ? "\033[33m"
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

const char *cli_value(int argc, char **argv, int *i)
{
    if (*i + 1 >= argc) {
        fprintf(stderr, "stoat: %s needs a value\n", argv[*i]);
        return NULL;
    }
    return argv[++*i];
}

int cli_rule_option(struct rule_args *ra, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    if (!strcmp(a, "-r") || !strcmp(a, "--rules")) {
        const char *v = cli_value(argc, argv, i);
        if (!v)
            return -1;
        if (ra->nrule_paths >= 256) {
            fprintf(stderr, "stoat: too many -r paths\n");
            return -1;
        }
        ra->rule_paths[ra->nrule_paths++] = v;
        return 1;
    }
    if (!strcmp(a, "--no-default-rules")) {
        ra->no_default_rules = true;
        return 1;
    }
    if (!strcmp(a, "--mapping")) {
        ra->mapping = cli_value(argc, argv, i);
        return ra->mapping ? 1 : -1;
    }
    if (!strcmp(a, "--placeholders")) {
        ra->placeholders = cli_value(argc, argv, i);
        return ra->placeholders ? 1 : -1;
    }
    if (!strcmp(a, "--jewels")) {
        ra->jewels = cli_value(argc, argv, i);
        return ra->jewels ? 1 : -1;
    }
    if (!strcmp(a, "--baseline")) {
        ra->baseline = cli_value(argc, argv, i);
        return ra->baseline ? 1 : -1;
    }
    if (!strcmp(a, "--level") || !strcmp(a, "--status")) {
        bool levels = !strcmp(a, "--level"), ok;
        const char *v = cli_value(argc, argv, i);
        if (!v)
            return -1;
        unsigned m = parse_mask(v, levels, &ok);
        if (!ok) {
            fprintf(stderr, "stoat: %s: unknown %s in '%s'\n", a, levels ? "level" : "status", v);
            return -1;
        }
        if (levels)
            ra->select.level_mask = m;
        else
            ra->select.status_mask = m;
        return 1;
    }
    if (!strcmp(a, "--tag") || !strcmp(a, "--exclude-tag") || !strcmp(a, "--id") || !strcmp(a, "--exclude-id")) {
        const char *v = cli_value(argc, argv, i);
        if (!v)
            return -1;
        const char **arr;
        size_t *n, cap;
        if (!strcmp(a, "--tag")) {
            arr = ra->tags;
            n = &ra->select.ntags;
            cap = 64;
        } else if (!strcmp(a, "--exclude-tag")) {
            arr = ra->exclude_tags;
            n = &ra->select.nexclude_tags;
            cap = 64;
        } else if (!strcmp(a, "--id")) {
            arr = ra->ids;
            n = &ra->select.nids;
            cap = 256;
        } else {
            arr = ra->exclude_ids;
            n = &ra->select.nexclude_ids;
            cap = 256;
        }
        if (*n >= cap) {
            fprintf(stderr, "stoat: too many %s options\n", a);
            return -1;
        }
        arr[(*n)++] = v;
        return 1;
    }
    if (!strcmp(a, "--logsource")) {
        /* product[:category[:service]], empty parts mean any */
        const char *src = cli_value(argc, argv, i);
        if (!src)
            return -1;
        if (strlen(src) >= sizeof(ra->logsource_buf)) {
            fprintf(stderr, "stoat: --logsource value too long\n");
            return -1;
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
        return 1;
    }
    return 0;
}

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
          "      --logsource P[:C[:S]]  only rules of this product/category/service (globs allowed)\n",
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

int cli_behaviour_option(struct stoat_behaviour_opts *o, int argc, char **argv, int *i)
{
    const char *a = argv[*i];
    bool ok;
    if (!strcmp(a, "--incident-gap") || !strcmp(a, "--corr-lateness")) {
        ok = duration_ns(cli_value(argc, argv, i), a[2] == 'i' ? &o->incident_gap_ns : &o->corr_lateness_ns);
        if (!ok)
            fprintf(stderr, "stoat: %s takes a duration such as 90s, 30m or 2h\n", a);
    } else if (!strcmp(a, "--incident-min-score")) {
        const char *v = cli_value(argc, argv, i);
        char *end;
        double d = v ? strtod(v, &end) : -1;
        ok = v && !*end && d >= 0 && d <= 100;
        if (ok)
            o->incident_min_score = d > 0 ? d : 0.001;   /* 0 would mean the default */
        else
            fprintf(stderr, "stoat: --incident-min-score takes a score from 0 to 100\n");
    } else if (!strcmp(a, "--corr-memory") || !strcmp(a, "--proc-memory")) {
        ok = mebibytes(cli_value(argc, argv, i), a[2] == 'c' ? &o->corr_max_bytes : &o->proc_max_bytes);
        if (!ok)
            fprintf(stderr, "stoat: %s takes a size in MiB\n", a);
    } else {
        return 0;
    }
    return ok ? 1 : -1;
}

void cli_behaviour_options_help(FILE *f, bool live)
{
    fputs("Analytics:\n"
          "      --incident-gap T    alerts of a host further apart start a new incident (default 2h)\n"
          "      --incident-min-score N  attack chains scoring less are not incidents (default 50)\n"
          "      --corr-memory MIB   memory for correlation state and kept matches (default 64 each)\n"
          "      --proc-memory MIB   memory for the process table behind ancestries (default 64)\n",
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
    struct stoat_load_opts lo = {.mapping_path = mapping, .placeholders_path = ra->placeholders,
                                 .jewels_path = ra->jewels, .baseline_path = ra->baseline,
                                 .baseline_learn = ra->baseline_learn,
                                 .select = ra->select, .diag = cli_diag, .diag_ctx = dp};
    lo.select.tags = ra->tags;
    lo.select.exclude_tags = ra->exclude_tags;
    lo.select.ids = ra->ids;
    lo.select.exclude_ids = ra->exclude_ids;
    struct stoat_loader *l = NULL;
    struct stoat_ruleset *rs = NULL;
    if (stoat_loader_create(&lo, &l)) {
        free(mapping);
        return NULL;
    }
    if (default_rules && !ra->no_default_rules) {
        char *own = cli_home_path("rules");
        if (own)
            stoat_loader_add_path(l, own);
        free(own);
    }
    for (size_t i = 0; i < ra->nrule_paths; i++)
        stoat_loader_add_path(l, ra->rule_paths[i]);
    stoat_err e = stoat_loader_build(l, &rs);
    if (stats)
        stoat_loader_stats(l, stats);
    if (e)
        rs = NULL;
    if (rs && stats)
        stoat_ruleset_stats(rs, stats);
    stoat_loader_destroy(l);
    free(mapping);
    return rs;
}
