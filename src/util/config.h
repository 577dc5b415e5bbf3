/* Configuration files: the mapping, placeholders, crown jewels, baselines and
 * the list of watched tools are all read the same way, so they share one
 * loader. A file is read whole up to its cap, and one that cannot be read is
 * reported as "cannot read the <what>: <why>"; its text then goes to the
 * caller's parser. Every error about a configuration file, the parser's
 * included, is reported as a configuration error (STOAT_ERR_CONFIG): such a
 * file stops a load, unlike a bad rule, and a caller that hides rule syntax
 * errors still shows it. */
#ifndef STOAT_UTIL_CONFIG_H
#define STOAT_UTIL_CONFIG_H

#include <stddef.h>

#include "stoat/error.h"

/* Parses the text of file `name` into *out (the caller's type). */
typedef stoat_err (*config_parse_fn)(const char *name, const char *text, size_t len, void *out, stoat_diag_fn diag,
                                     void *diag_ctx);

/* Reads path (at most cap bytes) and hands it to parse; what names the file
 * in the message when it cannot be read ("the mapping file"). */
stoat_err config_load(const char *path, size_t cap, const char *what, config_parse_fn parse, void *out,
                      stoat_diag_fn diag, void *diag_ctx);

#endif
