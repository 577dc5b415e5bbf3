/* The store's file: its schema and migrations, and the settings kept in it
 * (schema.c). */
#ifndef STOAT_STORE_SCHEMA_H
#define STOAT_STORE_SCHEMA_H

#include <stdbool.h>
#include <stdint.h>

#include "store/store_int.h"

/* Checks what the file is and brings its schema to ours (a reader's only
 * if it is ours already); fresh_ok: an empty file becomes a store. On
 * failure s->errmsg says why. */
stoat_err store_schema_check(struct stoat_store *s, bool fresh_ok);

/* A setting of `meta` (dflt when unset); setting one with clear removes it. */
int64_t store_meta_int(struct stoat_store *s, const char *key, int64_t dflt);
int store_meta_set_int(struct stoat_store *s, const char *key, int64_t v, bool clear);

#endif
