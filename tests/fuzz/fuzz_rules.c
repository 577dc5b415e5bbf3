/* Fuzz harness for the rule loader: YAML, the Sigma tree, conditions,
 * modifiers, regexes, placeholders and the prefilter build all run on the
 * input as one rule file. Any crash, leak or sanitizer report is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "stoat/rules.h"

static void quiet(void *ctx, const struct stoat_diag *d)
{
    (void)ctx;
    (void)d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct stoat_load_opts o = {.mapping_path = "data/mapping.yml", .diag = quiet};
    const char *home = getenv("STOAT_HOME");
    static char path[4096];
    if (home) {
        strncpy(path, home, sizeof(path) - 32);
        strcat(path, "/data/mapping.yml");
        o.mapping_path = path;
    }
    struct stoat_loader *l;
    if (stoat_loader_create(&o, &l))
        abort(); /* the mapping file must be found: run from the repository root */
    stoat_loader_add_text(l, "fuzz.yml", (const char *)data, size);
    struct stoat_ruleset *rs = NULL;
    stoat_loader_build(l, &rs);
    stoat_loader_destroy(l);
    stoat_ruleset_destroy(rs);
    return 0;
}
