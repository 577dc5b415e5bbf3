/* See value_ops.h. */
#include "engine/value_ops.h"

#include <arpa/inet.h>
#include <string.h>

#include "util/text.h"

/* Where a dash of the windash class (G_DASH: '-', '/', or an en dash, em
 * dash or horizontal bar) that the glob's tokens from ti on (a dash, then
 * maybe a literal) can match first begins, at from or later; n: nowhere.
 * The positions a star's backtracking tries are every byte but those inside
 * a valid UTF-8 character, so every dash begins at one of them: jumping to
 * the next candidate gives what trying them one after another would, and a
 * literal after the dash is found by a search instead of a walk over a
 * command line's every character (windash rules are made of these). */
static size_t next_dash(const struct pattern *p, uint32_t ti, const unsigned char *s, size_t n, size_t from)
{
    const struct glob_tok *t = p->toks;
    if (ti + 1 < p->ntoks && t[ti + 1].kind == G_LIT && t[ti + 1].len) {
        const char *lit = p->lit + t[ti + 1].off;
        size_t len = t[ti + 1].len;
        for (size_t at = from + 1; at + len <= n;) {
            const char *hit = find_bytes((const char *)s + at, n - at, lit, len);
            if (!hit)
                return n;
            size_t h = (size_t)((const unsigned char *)hit - s);
            if (s[h - 1] == '-' || s[h - 1] == '/')
                return h - 1;
            if (h >= from + 3 && s[h - 3] == 0xE2 && s[h - 2] == 0x80 && s[h - 1] >= 0x93 && s[h - 1] <= 0x95)
                return h - 3;
            at = h + 1;
        }
        return n;
    }
    for (size_t i = from; i < n; i++)
        if (s[i] == '-' || s[i] == '/' || s[i] == 0xE2)
            return i;
    return n;
}

bool engine_glob_match(const struct pattern *p, const char *s, size_t n)
{
    const struct glob_tok *t = p->toks;
    uint32_t nt = p->ntoks, ti = 0;
    size_t si = 0;
    /* one backtrack point: the last '*' and where its match currently ends */
    uint32_t star_t = UINT32_MAX;
    size_t star_s = 0;
    for (;;) {
        if (ti < nt) {
            const struct glob_tok *k = &t[ti];
            switch (k->kind) {
            case G_STAR:
                if (ti + 1 == nt)
                    return true; /* a trailing star takes the rest */
                star_t = ti++;
                star_s = si;
                continue;
            case G_LIT:
                if (star_t == ti - 1 && ti > 0) {
                    /* right after a star: jump to the next occurrence */
                    const char *hit = n - si >= k->len ? find_bytes(s + si, n - si, p->lit + k->off, k->len) : NULL;
                    if (!hit)
                        return false;
                    si = (size_t)(hit - s) + k->len;
                    star_s = (size_t)(hit - s);
                    ti++;
                    continue;
                }
                if (n - si >= k->len && memcmp(s + si, p->lit + k->off, k->len) == 0) {
                    si += k->len;
                    ti++;
                    continue;
                }
                break;
            case G_ONE:
                if (si < n) {
                    si += utf8_char_len((const unsigned char *)s + si, n - si);
                    ti++;
                    continue;
                }
                break;
            case G_DASH:
                if (si < n && (s[si] == '-' || s[si] == '/')) {
                    si++;
                    ti++;
                    continue;
                }
                if (n - si >= 3 && (unsigned char)s[si] == 0xE2 && (unsigned char)s[si + 1] == 0x80 &&
                    (unsigned char)s[si + 2] >= 0x93 && (unsigned char)s[si + 2] <= 0x95) {
                    si += 3;
                    ti++;
                    continue;
                }
                break;
            }
        } else if (si == n) {
            return true;
        }
        /* mismatch: let the last star swallow one more character */
        if (star_t == UINT32_MAX || star_s >= n)
            return false;
        star_s += utf8_char_len((const unsigned char *)s + star_s, n - star_s);
        si = star_s;
        ti = star_t + 1;
        if (ti < nt && t[ti].kind == G_LIT) {
            /* retry the literal search from the new start */
            const struct glob_tok *k = &t[ti];
            const char *hit = n - si >= k->len ? find_bytes(s + si, n - si, p->lit + k->off, k->len) : NULL;
            if (!hit)
                return false;
            star_s = (size_t)(hit - s);
            si = star_s + k->len;
            ti++;
        } else if (ti < nt && t[ti].kind == G_DASH) {
            star_s = next_dash(p, ti, (const unsigned char *)s, n, star_s);
            if (star_s >= n)
                return false;
            si = star_s;
        }
    }
}

bool engine_parse_ip(const char *s, size_t n, struct cidr *out)
{
    char buf[64];
    while (n && (*s == ' ' || *s == '['))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == ']'))
        n--;
    if (n == 0 || n >= sizeof(buf))
        return false;
    memcpy(buf, s, n);
    buf[n] = 0;
    char *pct = strchr(buf, '%'); /* fe80::1%eth0 */
    if (pct)
        *pct = 0;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, buf, out->addr) == 1) {
        out->family = 4;
        return true;
    }
    if (inet_pton(AF_INET6, buf, out->addr) == 1) {
        out->family = 6;
        /* an IPv4-mapped address is also the IPv4 address */
        static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
        if (memcmp(out->addr, mapped, 12) == 0) {
            memmove(out->addr, out->addr + 12, 4);
            memset(out->addr + 4, 0, 12);
            out->family = 4;
        }
        return true;
    }
    return false;
}

bool engine_in_net(const struct cidr *ip, const struct cidr *net)
{
    if (ip->family != net->family)
        return false;
    uint8_t full = net->bits / 8, rest = net->bits % 8;
    if (memcmp(ip->addr, net->addr, full) != 0)
        return false;
    if (rest) {
        uint8_t mask = (uint8_t)(0xFF00u >> rest);
        if ((ip->addr[full] & mask) != (net->addr[full] & mask))
            return false;
    }
    return true;
}
