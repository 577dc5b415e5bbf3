/* Heartbeats and silence: what the centre needs of a heartbeat (the host
 * it names) and the rules of its own alerts.
 *
 * Why the host is read from the JSON and not only from the subject: the
 * subject carries the host token (lower case, shortened), the heartbeat the
 * name the host's events carry, which is what the alerts' host rows hold.
 * The JSON is a stranger's: only a top-level "host" string is taken, its
 * escapes refused rather than decoded, and its length capped. */
#include <string.h>

#include "fleet/fleet.h"

const char *fleet_heartbeat_host(const char *json, size_t len, char *out, size_t outlen)
{
    static const char key[] = "\"host\"";
    if (!json || len < 2 || json[0] != '{' || outlen < 2)
        return NULL;
    const char *end = json + len;
    int depth = 0;
    bool in_str = false;
    for (const char *p = json; p < end; p++) {
        char ch = *p;
        if (in_str) {
            if (ch == '\\')
                p++;
            else if (ch == '"')
                in_str = false;
            continue;
        }
        if (ch == '{' || ch == '[') {
            depth++;
        } else if (ch == '}' || ch == ']') {
            depth--;
        } else if (ch == '"') {
            if (depth == 1 && (size_t)(end - p) > sizeof(key) - 1 && !memcmp(p, key, sizeof(key) - 1)) {
                const char *q = p + sizeof(key) - 1;
                while (q < end && (*q == ' ' || *q == ':' || *q == '\t'))
                    q++;
                if (q >= end || *q != '"')
                    return NULL;
                const char *v = ++q;
                while (q < end && *q != '"' && *q != '\\' && (unsigned char)*q >= 0x20)
                    q++;
                if (q >= end || *q != '"' || q == v || (size_t)(q - v) >= outlen)
                    return NULL;
                memcpy(out, v, (size_t)(q - v));
                out[q - v] = 0;
                return out;
            }
            in_str = true;
        }
    }
    return NULL;
}

static const char *const fleet_tags[] = {"stoat.fleet"};

static const struct stoat_rule_meta rule_silent = {
    .kind = STOAT_RULE_DETECTION,
    .id = "3c1e6b8e-5a0f-4f57-9d1e-5f7e0c2a9b11",
    .title = "Host stopped reporting",
    .description = "No heartbeat from the host for three intervals: its stoat, its network or the host itself "
                   "stopped, or someone stopped them.",
    .author = "stoat fleet",
    .level = STOAT_LEVEL_HIGH,
    .status = STOAT_STATUS_STABLE,
    .product = "stoat",
    .category = "fleet",
    .tags = {fleet_tags, 1},
};

static const struct stoat_rule_meta rule_returned = {
    .kind = STOAT_RULE_DETECTION,
    .id = "8d0b7f2a-1c4e-4f7a-b6a5-2e9d3c1f0a27",
    .title = "Host reports again",
    .description = "A host that had stopped reporting sends heartbeats again.",
    .author = "stoat fleet",
    .level = STOAT_LEVEL_LOW,
    .status = STOAT_STATUS_STABLE,
    .product = "stoat",
    .category = "fleet",
    .tags = {fleet_tags, 1},
};

const struct stoat_rule_meta *fleet_silence_rule(bool returned)
{
    return returned ? &rule_returned : &rule_silent;
}
