/* The JSON reader's reading thread: it only cuts the input into units at
 * record boundaries; workers parse. In line mode a unit ends at the last
 * newline of a block (memrchr); in object mode (pretty-printed objects, or
 * the elements of a top-level array) after the last complete top-level value,
 * found by a string-aware brace count. The mode is taken from the first
 * object: lines when it closes on its first line.
 *
 * Why so little work here: one reading thread feeds every worker, so it
 * must go at the speed of the disk. A record bigger than a block makes the
 * unit grow, up to RECORD_MAX_BYTES; a bigger one is reported and skipped to
 * the next line. A read error after some bytes (a truncated .gz) hands the
 * good records before it on first and is reported on the next call.
 *
 * JSON lines in a plain file go further: the reading thread hands out byte
 * ranges and nothing else, and each worker reads its range itself
 * (json_range_load): a record belongs to the range its line starts in, so
 * the worker skips to the first line start and reads on past the range's end
 * to finish its last line. This takes the copy, the line search and the line
 * count off the one reading thread, which with many workers would be the
 * limit; line numbers are counted per range and made whole by the writer. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "readers/json_int.h"

/* A JSON-lines range: small enough that the worker's buffer, read into
 * and then parsed, stays in the core's own cache, and that the pool's
 * buffers touch little fresh memory (each is first written by the read) */
#ifndef JSON_RANGE_BYTES
#define JSON_RANGE_BYTES (256u << 10)
#endif

struct json_state {
    enum json_mode mode;
    bool array_open; /* inside a top-level [ ... ] */
    bool started;
    uint64_t line; /* line number of the next unread byte */
    uint64_t offset;
    char *carry; /* bytes of an incomplete record */
    size_t ncarry, carry_cap;
    bool eof;
    bool skipping_long; /* dropping the rest of an over-long line */
    char *read_error;   /* an input error held back until the bytes before it are handed over */
    /* JSON lines in a plain file: handed out by byte range (JM_RANGE), the
     * workers reading it through their own descriptor; the state then lives
     * until the writer is through with the file (json_release) */
    bool ranged;
    int fd;
    uint64_t size;
};

bool json_probe(const unsigned char *h, size_t n)
{
    size_t i = 0;
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    /* Blank lines only: an empty JSON-lines log, not an unknown format. */
    if (i == n)
        return n > 0;
    if (h[i] != '{' && h[i] != '[')
        return false;
    /* One brace is a 1-in-128 guess on random bytes: a binary file (a
     * damaged .evtx) would be read as thousands of malformed records. So
     * the next token must fit (a name, a closer, an element) and the first
     * line must be text: JSON has no raw control bytes outside its white
     * space, and a binary head has them within a few bytes. */
    unsigned char open = h[i++];
    size_t j = i;
    while (j < n && (h[j] == ' ' || h[j] == '\t' || h[j] == '\r' || h[j] == '\n'))
        j++;
    if (j < n) {
        unsigned char c = h[j];
        bool fits = open == '{' ? (c == '"' || c == '}') : (c == '{' || c == '[' || c == ']' || c == '"');
        if (!fits)
            return false;
    }
    for (; i < n && h[i] != '\n'; i++)
        if ((h[i] < 0x20 && h[i] != '\t' && h[i] != '\r') || h[i] == 0x7f)
            return false;
    return true;
}

/* Decides line mode or object mode from the first object of the head. */
static enum json_mode detect_mode(const unsigned char *h, size_t n, bool *array)
{
    size_t i = 0;
    if (n >= 3 && h[0] == 0xEF && h[1] == 0xBB && h[2] == 0xBF)
        i = 3;
    while (i < n && (h[i] == ' ' || h[i] == '\t' || h[i] == '\r' || h[i] == '\n'))
        i++;
    *array = i < n && h[i] == '[';
    if (*array)
        return JM_OBJECTS;
    int depth = 0;
    bool str = false;
    for (; i < n; i++) {
        unsigned char c = h[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
            continue;
        }
        if (c == '"')
            str = true;
        else if (c == '{' || c == '[')
            depth++;
        else if (c == '}' || c == ']') {
            if (--depth == 0)
                return JM_LINES; /* the first object closed on its first line */
        } else if (c == '\n')
            return JM_OBJECTS; /* an object spanning lines */
    }
    return JM_LINES; /* a first line longer than the head */
}

int json_open(struct input_file *f, struct input *in, char *why, size_t whylen)
{
    (void)why;
    (void)whylen;
    struct json_state *s = xcalloc(1, sizeof(*s));
    const unsigned char *head;
    size_t n = input_peek(in, &head);
    bool array;
    s->mode = detect_mode(head, n, &array);
    s->array_open = array;
    s->line = 1;
    s->fd = -1;
    f->reader_state = s;
    /* JSON lines in a plain file: split by byte range, so that the reading
     * thread does no more than hand out offsets, and the workers read, find
     * lines and count them in parallel (why line numbers are relative in such
     * units: reader.h). A pipe or a compressed file can only be read in order. */
    struct stat st;
    int fd = input_fd(in);
    if (s->mode == JM_LINES && fd >= 0 && fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0) {
        s->fd = fcntl(fd, F_DUPFD_CLOEXEC, 0);
        s->ranged = s->fd >= 0;
        s->size = (uint64_t)st.st_size;
    }
    return 0;
}

static void state_free(struct json_state *s)
{
    if (!s)
        return;
    if (s->fd >= 0)
        close(s->fd);
    free(s->carry);
    free(s->read_error);
    free(s);
}

void json_close(struct input_file *f)
{
    struct json_state *s = f->reader_state;
    if (!s || s->ranged)
        return; /* the workers may still be reading: json_release */
    state_free(s);
    f->reader_state = NULL;
}

void json_release(struct input_file *f)
{
    state_free(f->reader_state);
    f->reader_state = NULL;
}

/* Newlines in [p, p + n). Pretty-printed records have one every few dozen
 * bytes, so they are counted sixteen bytes at a time; in JSON lines they are
 * a record apart, and memchr, which jumps from one to the next faster than
 * the count reads, is used (sparse). */
uint64_t json_count_lines(const char *p, size_t n, bool sparse)
{
    uint64_t c = 0;
    if (sparse) {
        const char *end = p + n;
        while ((p = memchr(p, '\n', (size_t)(end - p)))) {
            c++;
            p++;
        }
        return c;
    }
#ifdef __SSE2__
    const __m128i nl = _mm_set1_epi8('\n'), zero = _mm_setzero_si128();
#define NL16(at) _mm_cmpeq_epi8(_mm_loadu_si128((const __m128i *)(const void *)(p + (at))), nl)
    while (n >= 64) {
        /* per-byte counters (four a round), summed before any can pass 255 */
        __m128i acc = zero;
        for (int k = 0; k < 63 && n >= 64; k++, p += 64, n -= 64)
            acc = _mm_sub_epi8(acc, _mm_add_epi8(_mm_add_epi8(NL16(0), NL16(16)), _mm_add_epi8(NL16(32), NL16(48))));
        __m128i sum = _mm_sad_epu8(acc, zero);
        c += (uint64_t)_mm_cvtsi128_si32(sum) + (uint64_t)_mm_cvtsi128_si32(_mm_srli_si128(sum, 8));
    }
#undef NL16
#endif
    for (; n; p++, n--)
        c += *p == '\n';
    return c;
}

/* Object mode: the end of the last complete top-level value in [0, n), or 0. */
static size_t last_object_end(const char *p, size_t n)
{
    int depth = 0;
    bool str = false;
    size_t last = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (str) {
            if (c == '\\')
                i++;
            else if (c == '"')
                str = false;
            continue;
        }
        switch (c) {
        case '"': str = true; break;
        case '{': depth++; break;
        case '[':
            /* At the top a '[' opens an array of records: its elements are
             * the units' records, not the array (which may be any size). */
            if (depth > 0)
                depth++;
            break;
        case '}':
        case ']':
            if (depth > 0 && --depth == 0)
                last = i + 1;
            break;
        default: break;
        }
    }
    return last;
}

/* Reads n bytes at off, as far as the file goes; -1 on an error. */
static long read_at(int fd, char *buf, size_t n, uint64_t off)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, buf + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break; /* the file is shorter than when it was opened */
        got += (size_t)r;
    }
    return (long)got;
}

bool json_range_load(struct unit *u, size_t *at, size_t *range_end, bool *long_line)
{
    const struct json_state *s = u->file->reader_state;
    uint64_t from = u->range_begin ? u->range_begin - 1 : 0;
    size_t want = (size_t)(u->range_begin + u->range_len - from);
    *at = (size_t)(u->range_begin - from);
    *long_line = false;
    u->len = 0;
    u->file_offset = from;
    XGROW(u->data, u->cap, want + 1);
    long r = read_at(s->fd, u->data, want, from);
    if (r < 0)
        goto fail;
    u->len = (size_t)r;
    *range_end = u->len < want ? u->len : want;
    if (*range_end <= *at || u->data[u->len - 1] == '\n' || from + u->len >= s->size) {
        u->data[u->len] = 0;
        return true;
    }
    /* The last line that starts in the range runs past it: read on to its
     * end, up to the record cap, from a block the size of a few events (the
     * next range reads what this one reads past the line again) doubling
     * for long lines. */
    const char *nl = memrchr(u->data + *at, '\n', *range_end - *at);
    size_t start = nl ? (size_t)(nl - u->data) + 1 : (u->range_begin == 0 || u->data[0] == '\n' ? *at : SIZE_MAX);
    if (start == SIZE_MAX) {
        u->data[u->len] = 0; /* no line starts in this range: it lies inside one */
        return true;
    }
    for (size_t block = 8192;; block *= 2) {
        if (u->len - start > RECORD_MAX_BYTES) {
            u->len = start;
            *long_line = true;
            break;
        }
        XGROW(u->data, u->cap, u->len + block + 1);
        r = read_at(s->fd, u->data + u->len, block, from + u->len);
        if (r < 0)
            goto fail;
        const char *e = memchr(u->data + u->len, '\n', (size_t)r);
        u->len += (size_t)r;
        if (e || (size_t)r < block) { /* the line's end, or the file's */
            size_t line_end = e ? (size_t)(e - u->data) : u->len;
            if (line_end - start > RECORD_MAX_BYTES) {
                u->len = start;
                *long_line = true;
            } else if (e) {
                u->len = line_end + 1;
            }
            break;
        }
    }
    u->data[u->len] = 0;
    return true;
fail:
    snprintf(u->note, sizeof(u->note), "read error at offset %llu, %llu bytes skipped: %s",
             (unsigned long long)u->range_begin, (unsigned long long)u->range_len, strerror(errno));
    u->read_failed = true;
    u->len = 0;
    return false;
}

enum fill_result json_fill(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen)
{
    struct json_state *s = f->reader_state;
    if (s->ranged) {
        if (s->offset >= s->size)
            return FILL_END;
        u->mode = JM_RANGE;
        u->lines_relative = true;
        u->range_begin = s->offset;
        u->range_len = s->size - s->offset < JSON_RANGE_BYTES ? s->size - s->offset : JSON_RANGE_BYTES;
        s->offset += u->range_len;
        input_handed_out(in, s->offset);
        return s->offset >= s->size ? FILL_LAST : FILL_MORE;
    }
    if (s->eof && s->ncarry == 0) {
        if (!s->read_error)
            return FILL_END;
        snprintf(why, whylen, "%s", s->read_error);
        return FILL_ERROR;
    }
    u->len = 0;
    u->mode = s->mode;
    size_t want = UNIT_BYTES;
    /* carried bytes first; they may be more than one block */
    if (s->ncarry) {
        if (s->ncarry + 1 > u->cap) {
            u->data = xrealloc(u->data, s->ncarry + 1);
            u->cap = s->ncarry + 1;
        }
        memcpy(u->data, s->carry, s->ncarry);
        u->len = s->ncarry;
        s->ncarry = 0;
        if (u->len > want)
            want = u->len;
    }
    for (;;) {
        if (u->cap < want + 1) {
            u->data = xrealloc(u->data, want + 1);
            u->cap = want + 1;
        }
        while (!s->eof && u->len < want) {
            long r = input_read(in, u->data + u->len, want - u->len, why, whylen);
            if (r < 0 && u->len == 0)
                return FILL_ERROR;
            if (r < 0) {
                /* The records read before the error (a truncated .gz, say)
                 * are still good: hand them over, report on the next call. */
                s->read_error = xstrdup(why);
                s->eof = true;
                break;
            }
            if (r == 0)
                s->eof = true;
            u->len += (size_t)r;
        }
        /* The last unit ended where the stream does (a stream of whole
         * MiBs, the last line ending the last): nothing is left, and no
         * record was cut (the growing below would call it one too long). */
        if (s->eof && u->len == 0)
            return FILL_END;
        size_t cut;
        if (s->eof) {
            cut = u->len;
        } else if (s->mode == JM_LINES) {
            const char *nl = memrchr(u->data, '\n', u->len);
            cut = nl ? (size_t)(nl - u->data) + 1 : 0;
        } else {
            cut = last_object_end(u->data, u->len);
            /* take trailing whitespace/commas with it so the next unit starts clean */
            while (cut && cut < u->len &&
                   (u->data[cut] == '\n' || u->data[cut] == '\r' || u->data[cut] == ' ' || u->data[cut] == '\t' ||
                    u->data[cut] == ','))
                cut++;
        }
        if (cut == 0) {
            /* one record bigger than the block: grow, up to the record cap */
            if (want >= RECORD_MAX_BYTES) {
                snprintf(u->note, sizeof(u->note), "record longer than %u MiB, skipped", RECORD_MAX_BYTES >> 20);
                u->note_line = s->line;
                u->skipped++;
                /* drop up to the next line start that can begin a record, a
                 * block at a time; what follows that newline is kept */
                s->line += json_count_lines(u->data, u->len, s->mode == JM_LINES);
                s->offset += u->len;
                u->len = 0;
                long r;
                while ((r = input_read(in, u->data, u->cap - 1, why, whylen)) > 0) {
                    const char *nl = memchr(u->data, '\n', (size_t)r);
                    if (!nl) {
                        s->offset += (uint64_t)r;
                        continue;
                    }
                    size_t used = (size_t)(nl - u->data) + 1, rest = (size_t)r - used;
                    s->offset += used;
                    s->line++;
                    if (rest) {
                        XGROW(s->carry, s->carry_cap, rest);
                        memcpy(s->carry, nl + 1, rest);
                        s->ncarry = rest;
                    }
                    break;
                }
                if (r < 0)
                    return FILL_ERROR;
                if (r == 0)
                    s->eof = true;
                u->first_line = s->line;
                u->file_offset = s->offset;
                return FILL_MORE; /* a unit with the note only */
            }
            want = want * 2 < RECORD_MAX_BYTES ? want * 2 : RECORD_MAX_BYTES;
            continue;
        }
        /* keep the incomplete tail for the next unit */
        size_t rest = u->len - cut;
        if (rest) {
            XGROW(s->carry, s->carry_cap, rest);
            memcpy(s->carry, u->data + cut, rest);
            s->ncarry = rest;
        }
        u->len = cut;
        break;
    }
    u->data[u->len] = 0;
    u->first_line = s->line;
    u->file_offset = s->offset;
    s->line += json_count_lines(u->data, u->len, s->mode == JM_LINES);
    s->offset += u->len;
    /* a read error is said by the next call */
    return s->eof && !s->ncarry && !s->read_error ? FILL_LAST : FILL_MORE;
}
