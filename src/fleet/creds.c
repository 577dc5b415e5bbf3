/* `stoat fleet creds HOST`: a host's credentials and the server's side of
 * them.
 *
 * Why user and password with a bcrypt hash: Debian's nats-server 2.9 reads
 * a bcrypt hash ("$2..." passwords) in its config, so the server never
 * holds the password itself, and nats.c sends user and password over the
 * TLS connection; nkeys would need the nkeys tooling on every host. The
 * hash comes from libcrypt (libxcrypt: $2b$, cost 11), the password from
 * the kernel's random source (24 bytes, 32 characters).
 *
 * The permissions are what /work/notes/nats-perm-proto.conf verified: a
 * host publishes only under its own token (events of every partition, its
 * alerts, its heartbeats) and the JetStream calls that read and watch the
 * stoat_rules bucket; it subscribes only to its own inbox prefix (the bus
 * sets "_INBOX_<token>"), so it can read nothing of other hosts, write no
 * bucket, and pull no stream. */
#include <crypt.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include "fleet/fleet.h"

static bool random_password(char *out, size_t n)
{
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    unsigned char r[24];
    if (getrandom(r, sizeof(r), 0) != (ssize_t)sizeof(r) || n < 33)
        return false;
    /* 24 bytes, 6 bits a character: 32 characters */
    for (size_t i = 0, o = 0; i < sizeof(r); i += 3) {
        uint32_t v = (uint32_t)r[i] << 16 | (uint32_t)r[i + 1] << 8 | r[i + 2];
        for (int k = 3; k >= 0; k--)
            out[o++] = alphabet[(v >> (6 * k)) & 63];
    }
    out[32] = 0;
    return true;
}

stoat_err stoat_fleet_creds_make(const char *host, const char *path, char *conf, size_t conflen, char *why,
                                 size_t whylen)
{
    char tok[STOAT_BUS_TOKEN_MAX + 1];
    stoat_bus_host_token(host, strlen(host), tok);
    struct bus_creds cr = {0};
    snprintf(cr.user, sizeof(cr.user), "%s", tok);
    if (!random_password(cr.password, sizeof(cr.password))) {
        snprintf(why, whylen, "fleet: no random bytes from the kernel");
        return STOAT_ERR_IO;
    }
    char salt[64];
    struct crypt_data cd;
    memset(&cd, 0, sizeof(cd));
    if (!crypt_gensalt_rn("$2b$", 11, NULL, 0, salt, sizeof(salt))) {
        snprintf(why, whylen, "fleet: libcrypt makes no bcrypt salt: %s", strerror(errno));
        return STOAT_ERR_IO;
    }
    const char *hash = crypt_r(cr.password, salt, &cd);
    if (!hash || hash[0] != '$') {
        snprintf(why, whylen, "fleet: libcrypt cannot hash with bcrypt");
        return STOAT_ERR_IO;
    }
    char text[1024];
    bus_creds_format(text, sizeof(text), host, &cr);
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        snprintf(why, whylen, "%s: %s%s", path, strerror(errno),
                 errno == EEXIST ? " (not overwritten: remove it to make new credentials)" : "");
        memset(&cr, 0, sizeof(cr));
        return STOAT_ERR_IO;
    }
    size_t n = strlen(text);
    bool ok = write(fd, text, n) == (ssize_t)n;
    if (close(fd) != 0)
        ok = false;
    memset(text, 0, sizeof(text));
    memset(&cr, 0, sizeof(cr));
    if (!ok) {
        snprintf(why, whylen, "%s: cannot write: %s", path, strerror(errno));
        unlink(path);
        return STOAT_ERR_IO;
    }
    snprintf(conf, conflen,
             "# stoat fleet: host %s (its credentials: %s)\n"
             "{ user: \"%s\", password: \"%s\", permissions: {\n"
             "    publish: { allow: [\"stoat.ev.%s.>\", \"stoat.al.%s\", \"stoat.hb.%s\",\n"
             "                       \"$JS.API.INFO\", \"$JS.API.STREAM.NAMES\",\n"
             "                       \"$JS.API.STREAM.INFO.KV_stoat_rules\", \"$JS.API.STREAM.INFO.KV_stoat_fleet\",\n"
             "                       \"$JS.API.CONSUMER.CREATE.KV_stoat_rules\", "
             "\"$JS.API.CONSUMER.CREATE.KV_stoat_rules.>\",\n"
             "                       \"$JS.API.CONSUMER.DELETE.KV_stoat_rules.>\",\n"
             "                       \"$JS.API.DIRECT.GET.KV_stoat_rules.>\", "
             "\"$JS.API.STREAM.MSG.GET.KV_stoat_rules\",\n"
             "                       \"$JS.API.DIRECT.GET.KV_stoat_fleet.$KV.stoat_fleet.config.partitions\",\n"
             "                       \"$JS.FC.KV_stoat_rules.>\", \"$JS.ACK.KV_stoat_rules.>\"] }\n"
             "    subscribe: { allow: [\"_INBOX_%s.>\"] }\n"
             "} }\n",
             host, path, tok, hash, tok, tok, tok, tok);
    return STOAT_OK;
}
