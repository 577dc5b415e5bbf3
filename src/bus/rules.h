/* Rule bundles in KV stoat_rules, the host's side: watch the key `current`
 * and fetch the bundle it names, for `stoat watch --publish` to reload.
 *
 * The format is the one `stoat fleet rules push` writes (src/fleet/bundle.c,
 * docs/fleet.md): every rule file as "<name>\n<length>\n<bytes>", the whole
 * zlib-compressed and cut into chunks bundle.<version>.<n> (n from 0), then
 * current = {"version","sha256","chunks","bytes","pushed"}, written last, so
 * a reader never sees half a bundle. version is the first 16 hex digits of
 * the SHA-256 of the compressed bytes; a bundle whose hash or size does not
 * match is refused whole.
 *
 * Why a thread of our own around nats.c's watcher: the bucket may not exist
 * yet and the bus may be down when the watch starts, and a watcher does not
 * outlive every outage; the thread binds, watches, and binds again, and the
 * caller only asks "changed since I last asked?" between two polls of its
 * sensor, so a reload never runs on the library's threads. */
#ifndef STOAT_BUS_RULES_H
#define STOAT_BUS_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "bus/bus.h"
#include "stoat/bus.h"

#define BUS_BUNDLE_MAX   (64u << 20) /* unpacked bytes */
#define BUS_BUNDLE_CHUNK (512u << 10)

/* What `current` says of the bundle; read from the bucket (hostile). */
struct bus_bundle_head {
    char version[STOAT_BUS_VERSION_MAX];
    char sha256[80];
    unsigned long chunks, bytes;
};
/* Parses `current`: false with why when it is not a bundle's (a member
 * missing, not hex, or chunks and bytes over the caps). */
bool bus_rules_head(const char *json, size_t n, struct bus_bundle_head *h, char *why, size_t whylen);

/* The bundle's entries (the unpacked bytes) into files under dir; for the
 * fetch and for tests. */
stoat_err bus_rules_unpack(const char *dir, const char *raw, size_t n, char *why, size_t whylen);

#endif
