/* See config.h. The parser's diagnostics pass through a filter that turns
 * its errors into configuration errors; warnings and notes keep their code. */
#include "util/config.h"

#include <stdio.h>
#include <stdlib.h>

#include "util/fs.h"

struct config_diag {
    stoat_diag_fn diag;
    void *ctx;
};

static void as_config(void *ctx, const struct stoat_diag *d)
{
    const struct config_diag *cd = ctx;
    struct stoat_diag c = *d;
    if (c.severity == STOAT_SEV_ERROR)
        c.code = STOAT_ERR_CONFIG;
    cd->diag(cd->ctx, &c);
}

stoat_err config_load(const char *path, size_t cap, const char *what, config_parse_fn parse, void *out,
                      stoat_diag_fn diag, void *diag_ctx)
{
    struct config_diag cd = {diag, diag_ctx};
    char *text = NULL;
    size_t len = 0;
    char why[256];
    if (fs_read_file(path, cap, &text, &len, why, sizeof(why))) {
        if (diag) {
            char msg[400];
            snprintf(msg, sizeof(msg), "cannot read %s: %s", what, why);
            struct stoat_diag d = {.code = STOAT_ERR_CONFIG, .severity = STOAT_SEV_ERROR, .file = path, .message = msg};
            diag(diag_ctx, &d);
        }
        return STOAT_ERR_CONFIG;
    }
    stoat_err e = parse(path, text, len, out, diag ? as_config : NULL, diag ? &cd : NULL);
    free(text);
    return e;
}
