/* Input streams. A file, or standard input, is read in large blocks; when
 * its first bytes are the gzip magic it is inflated on the fly (several
 * concatenated members too, as `cat a.gz b.gz` makes). The first decompressed
 * bytes are kept aside so format detection can look at them without
 * consuming anything. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "readers/reader.h"
#include "util/mem.h"

#define RAW_BLOCK (256u << 10)
/* Past the 4 KiB EVTX file header: the first chunk's signature there is how
 * an EVTX file whose header was wiped is recognised. */
#define PEEK_BYTES 8192

struct input {
    int fd;
    bool owns_fd;
    bool gz;
    bool gz_done; /* stream ended (no further member) */
    bool raw_eof;
    bool in_member; /* inside a gzip member: its end is still to come */
    unsigned members;
    z_stream zs;
    unsigned char *raw; /* compressed bytes */
    uint64_t raw_pos, raw_size;
    unsigned char peek[PEEK_BYTES];
    size_t peek_len, peek_off;
    bool eof;
};

static long read_raw(struct input *in, unsigned char *buf, size_t n)
{
    for (;;) {
        ssize_t r = read(in->fd, buf, n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r > 0)
            in->raw_pos += (uint64_t)r;
        return (long)r;
    }
}

/* Decompressed bytes straight from the source (no peek buffer). Returns as
 * soon as some bytes are ready and no more input is buffered, so a pipe is
 * followed as it arrives. */
static long read_stream(struct input *in, char *buf, size_t n, char *why, size_t whylen)
{
    if (!in->gz) {
        long r = read_raw(in, (unsigned char *)buf, n);
        if (r < 0)
            snprintf(why, whylen, "%s", strerror(errno));
        return r;
    }
    if (in->gz_done || n == 0)
        return 0;
    if (n > (1u << 30))
        n = 1u << 30;
    in->zs.next_out = (unsigned char *)buf;
    in->zs.avail_out = (uInt)n;
    while (in->zs.avail_out > 0) {
        if (in->zs.avail_in == 0 && !in->raw_eof) {
            if (in->zs.avail_out < n)
                break; /* hand over what we have before blocking again */
            long r = read_raw(in, in->raw, RAW_BLOCK);
            if (r < 0) {
                snprintf(why, whylen, "%s", strerror(errno));
                return -1;
            }
            if (r == 0) {
                in->raw_eof = true;
            } else {
                in->zs.next_in = in->raw;
                in->zs.avail_in = (uInt)r;
            }
        }
        if (in->zs.avail_in == 0 && in->raw_eof && !in->in_member) {
            in->gz_done = true;
            break;
        }
        bool fresh = !in->in_member;
        uInt before = in->zs.avail_out;
        int zr = inflate(&in->zs, Z_NO_FLUSH);
        in->in_member = true;
        if (zr == Z_STREAM_END) {
            in->in_member = false;
            in->members++;
            inflateReset(&in->zs); /* another member may follow */
            continue;
        }
        if (zr == Z_BUF_ERROR || (zr == Z_OK && in->zs.avail_out == before && in->zs.avail_in == 0)) {
            if (in->raw_eof && in->zs.avail_in == 0) {
                if (in->zs.avail_out < n)
                    break; /* return what we have; the next call reports the truncation */
                in->gz_done = true;
                snprintf(why, whylen, "gzip stream truncated");
                return -1;
            }
            continue;
        }
        if (zr != Z_OK) {
            if (fresh && in->members > 0) {
                /* bytes after the last member that are not gzip: ignore them */
                in->gz_done = true;
                in->in_member = false;
                break;
            }
            snprintf(why, whylen, "gzip data corrupt: %s", in->zs.msg ? in->zs.msg : "inflate failed");
            return -1;
        }
    }
    return (long)(n - in->zs.avail_out);
}

struct input *input_open(const char *path, char *why, size_t whylen)
{
    struct input *in = xcalloc(1, sizeof(*in));
    if (strcmp(path, "-") == 0) {
        in->fd = 0;
    } else {
        in->fd = open(path, O_RDONLY | O_CLOEXEC);
        if (in->fd < 0) {
            snprintf(why, whylen, "%s", strerror(errno));
            free(in);
            return NULL;
        }
        in->owns_fd = true;
        struct stat st;
        if (fstat(in->fd, &st) == 0) {
            if (S_ISDIR(st.st_mode)) {
                snprintf(why, whylen, "is a directory");
                input_close(in);
                return NULL;
            }
            if (S_ISREG(st.st_mode))
                in->raw_size = (uint64_t)st.st_size;
        }
    }
    /* sniff the gzip magic from the first raw bytes: a plain file's whole
     * head comes in the same read (a pipe may give only some, or two) */
    long r = read_raw(in, in->peek, in->raw_size ? PEEK_BYTES : 2);
    if (r < 0) {
        snprintf(why, whylen, "%s", strerror(errno));
        input_close(in);
        return NULL;
    }
    if (r >= 2 && in->peek[0] == 0x1f && in->peek[1] == 0x8b) {
        in->gz = true;
        in->raw = xmalloc(RAW_BLOCK);
        memcpy(in->raw, in->peek, (size_t)r); /* compressed: the peek is refilled decompressed */
        if (inflateInit2(&in->zs, 16 + MAX_WBITS) != Z_OK) {
            snprintf(why, whylen, "cannot start gzip decompression");
            input_close(in);
            return NULL;
        }
        in->zs.next_in = in->raw;
        in->zs.avail_in = (uInt)r;
    } else {
        in->peek_len = (size_t)r;
    }
    /* fill the peek buffer */
    while (in->peek_len < PEEK_BYTES) {
        long k = read_stream(in, (char *)in->peek + in->peek_len, PEEK_BYTES - in->peek_len, why, whylen);
        if (k < 0) {
            input_close(in);
            return NULL;
        }
        if (k == 0)
            break;
        in->peek_len += (size_t)k;
    }
    return in;
}

size_t input_peek(struct input *in, const unsigned char **head)
{
    *head = in->peek + in->peek_off;
    return in->peek_len - in->peek_off;
}

long input_read(struct input *in, char *buf, size_t n, char *why, size_t whylen)
{
    if (in->peek_off < in->peek_len) {
        size_t k = in->peek_len - in->peek_off;
        if (k > n)
            k = n;
        memcpy(buf, in->peek + in->peek_off, k);
        in->peek_off += k;
        return (long)k;
    }
    return read_stream(in, buf, n, why, whylen);
}

uint64_t input_raw_pos(const struct input *in)
{
    return in->raw_pos;
}
void input_handed_out(struct input *in, uint64_t pos)
{
    if (!in->gz && pos > in->raw_pos)
        in->raw_pos = pos;
}
uint64_t input_raw_size(const struct input *in)
{
    return in->raw_size;
}
bool input_is_compressed(const struct input *in)
{
    return in->gz;
}
int input_fd(const struct input *in)
{
    return in->gz || !in->owns_fd ? -1 : in->fd;
}

void input_close(struct input *in)
{
    if (!in)
        return;
    if (in->gz)
        inflateEnd(&in->zs);
    if (in->owns_fd && in->fd >= 0)
        close(in->fd);
    free(in->raw);
    free(in);
}
