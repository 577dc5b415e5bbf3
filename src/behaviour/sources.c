/* See sources.h. The baseline watch is added before the jewels' rules, and
 * both before any rule file, as the rule order decides which alert of an
 * event comes first. The evidence rules come with every load, hidden (they
 * are not the user's rules: not counted, not deselected); they report
 * nothing, so their place does not matter. A file that cannot be read or
 * understood stops the load, as the mapping does. */
#include "behaviour/sources.h"

#include <stdio.h>
#include <string.h>

#include "behaviour/baseline.h"
#include "behaviour/evidence.h"
#include "behaviour/facts.h"
#include "behaviour/jewels.h"
#include "behaviour/krbname.h"
#include "behaviour/spoof.h"
#include "behaviour/sysmon_tags.h"
#include "rules/loader.h"
#include "rules/ruleset.h"
#include "util/mem.h"

static const struct rule_role jewel_roles[] = {
    {JEWEL_RULE_SECURITY_READ, ROLE_JEWEL_TOUCH},   {JEWEL_RULE_WIN_FILE, ROLE_JEWEL_TOUCH},
    {JEWEL_RULE_LNX_FILE, ROLE_JEWEL_TOUCH},        {JEWEL_RULE_WIN_ARCHIVE, ROLE_JEWEL_TOUCH},
    {JEWEL_RULE_LNX_ARCHIVE, ROLE_JEWEL_TOUCH},     {JEWEL_RULE_CANARY_SECURITY, ROLE_JEWEL_TOUCH},
    {JEWEL_RULE_CANARY_WIN, ROLE_JEWEL_TOUCH},      {JEWEL_RULE_CANARY_LNX, ROLE_JEWEL_TOUCH},
    {JEWEL_RULE_WIN_TRANSFER, ROLE_JEWEL_TRANSFER}, {JEWEL_RULE_LNX_TRANSFER, ROLE_JEWEL_TRANSFER},
    {JEWEL_RULE_EXFIL, ROLE_JEWEL_EXFIL},
};

static const struct rule_role baseline_roles[] = {
    {BASELINE_RULE_WIN_WATCH, ROLE_BASELINE_WATCH},     {BASELINE_RULE_LNX_WATCH, ROLE_BASELINE_WATCH},
    {BASELINE_RULE_NEW_TOOL, ROLE_BASELINE_NEW_TOOL},   {BASELINE_RULE_NEW_PAIR, ROLE_BASELINE_NEW_PAIR},
    {BASELINE_RULE_NEW_SHAPE, ROLE_BASELINE_NEW_SHAPE},
};

static const struct rule_role evidence_roles[] = {
    {EVIDENCE_RULE_NET, ROLE_EVIDENCE_NET},
    {EVIDENCE_RULE_FILE, ROLE_EVIDENCE_FILE},
    {EVIDENCE_RULE_UPLOAD, ROLE_EVIDENCE_UPLOAD},
};

static const struct rule_role facts_roles[] = {
    {FACTS_RULE_WIN_LOGON, ROLE_FACT_LOGON},  {FACTS_RULE_WIN_SERVICE, ROLE_FACT_LOGON},
    {FACTS_RULE_WIN_RDP, ROLE_FACT_LOGON},    {FACTS_RULE_LNX_SSH, ROLE_FACT_LOGON},
    {FACTS_RULE_LNX_ACCEPT, ROLE_FACT_LOGON}, {FACTS_RULE_LNX_AUDIT, ROLE_FACT_LOGON},
    {FACTS_RULE_WIN_WINRM, ROLE_FACT_LOGON},  {FACTS_RULE_ADDRESS, ROLE_FACT_ADDRESS},
};

static const struct rule_role sysmon_tag_roles[] = {
    {SYSMON_TAG_RULE, ROLE_SYSMON_TAG},
};

static const struct rule_role spoof_roles[] = {
    {SPOOF_RULE_SECURITY, ROLE_SPOOF},
    {SPOOF_RULE_SYSMON, ROLE_SPOOF},
};

static const struct rule_role krbname_roles[] = {
    {KRBNAME_RULE, ROLE_KRBNAME},
};

static void free_data(void *p)
{
    struct behaviour_data *d = p;
    if (!d)
        return;
    baseline_free(d->baseline);
    free(d);
}

const struct behaviour_data *behaviour_data_of(const struct stoat_ruleset *rs)
{
    return rs && rs->attached_free == free_data ? rs->attached : NULL;
}

/* The watch for the tools of the lotl list (by default lotl-tools.yml beside
 * the mapping). */
static stoat_err add_baseline_watch(struct stoat_loader *l, const struct stoat_load_opts *opts)
{
    char *lotl = NULL;
    if (opts->lotl_path) {
        lotl = xstrdup(opts->lotl_path);
    } else {
        const char *slash = strrchr(opts->mapping_path, '/');
        lotl = slash ? xstrndup(opts->mapping_path, (size_t)(slash - opts->mapping_path) + 1) : xstrdup("");
        lotl = xrealloc(lotl, strlen(lotl) + 32);
        strcat(lotl, "lotl-tools.yml");
    }
    char *text = baseline_rules(lotl, opts->diag, opts->diag_ctx);
    free(lotl);
    if (!text)
        return STOAT_ERR_CONFIG;
    struct rule_source src = {.name = "baseline watch (rules generated from lotl-tools.yml)",
                              .text = text,
                              .len = strlen(text),
                              .roles = baseline_roles,
                              .nroles = sizeof(baseline_roles) / sizeof(baseline_roles[0])};
    loader_add_source(l, &src);
    free(text);
    return STOAT_OK;
}

static void add_jewel_rules(struct stoat_loader *l, const struct jewels *j)
{
    char *text = jewels_rules(j);
    char name[512];
    snprintf(name, sizeof(name), "%s (rules generated from it)", j->name);
    struct rule_source src = {.name = name,
                              .text = text,
                              .len = strlen(text),
                              .roles = jewel_roles,
                              .nroles = sizeof(jewel_roles) / sizeof(jewel_roles[0])};
    loader_add_source(l, &src);
    free(text);
}

stoat_err stoat_loader_create(const struct stoat_load_opts *opts, struct stoat_loader **out)
{
    stoat_err e = loader_create(opts, out);
    if (e)
        return e;
    struct stoat_loader *l = *out;
    struct jewels *j = NULL;
    struct behaviour_data *d = NULL;
    if (opts->jewels_path && (e = jewels_load(opts->jewels_path, &j, opts->diag, opts->diag_ctx)))
        goto out;
    if (j || opts->baseline_path || opts->baseline_learn) {
        d = xcalloc(1, sizeof(*d));
        d->baseline_learn = opts->baseline_learn;
        d->jewel_window_ns = j ? j->window_ns : 0;
        loader_attach(l, d, free_data); /* the ruleset (or the loader) owns it now */
    }
    if (opts->baseline_path && (e = baseline_load(opts->baseline_path, &d->baseline, opts->diag, opts->diag_ctx)))
        goto out;
    if (d && (d->baseline || d->baseline_learn) && (e = add_baseline_watch(l, opts)))
        goto out;
    if (j)
        add_jewel_rules(l, j);
    const char *ev = evidence_rules();
    loader_add_source(l, &(struct rule_source){.name = "incident evidence (rules generated by stoat)",
                                               .text = ev,
                                               .len = strlen(ev),
                                               .roles = evidence_roles,
                                               .nroles = sizeof(evidence_roles) / sizeof(evidence_roles[0]),
                                               .hidden = true});
    const char *fr = facts_rules();
    loader_add_source(l, &(struct rule_source){.name = "cross-host facts (rules generated by stoat)",
                                               .text = fr,
                                               .len = strlen(fr),
                                               .roles = facts_roles,
                                               .nroles = sizeof(facts_roles) / sizeof(facts_roles[0]),
                                               .hidden = true});
    const char *st = sysmon_tags_rules();
    loader_add_source(l, &(struct rule_source){.name = "Sysmon configuration tags (rule generated by stoat)",
                                               .text = st,
                                               .len = strlen(st),
                                               .roles = sysmon_tag_roles,
                                               .nroles = sizeof(sysmon_tag_roles) / sizeof(sysmon_tag_roles[0]),
                                               .hidden = true});
    const char *sp = spoof_rules();
    loader_add_source(l, &(struct rule_source){.name = "parent spoofing watch (rules generated by stoat)",
                                               .text = sp,
                                               .len = strlen(sp),
                                               .roles = spoof_roles,
                                               .nroles = sizeof(spoof_roles) / sizeof(spoof_roles[0]),
                                               .hidden = true});
    const char *kn = krbname_rules();
    loader_add_source(l, &(struct rule_source){.name = "sAMAccountName spoofing watch (rule generated by stoat)",
                                               .text = kn,
                                               .len = strlen(kn),
                                               .roles = krbname_roles,
                                               .nroles = sizeof(krbname_roles) / sizeof(krbname_roles[0]),
                                               .hidden = true});
out:
    jewels_free(j);
    if (e) {
        stoat_loader_destroy(l);
        *out = NULL;
    }
    return e;
}
