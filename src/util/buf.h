/* A growable byte buffer: output formatting (JSON lines, CSV, tables) and
 * building strings whose size is only known at the end. */
#ifndef STOAT_UTIL_BUF_H
#define STOAT_UTIL_BUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

struct buf {
    char *p;
    size_t len, cap;
};

void buf_reserve(struct buf *b, size_t extra);
void buf_free(struct buf *b);
static inline void buf_clear(struct buf *b)
{
    b->len = 0;
}
static inline void buf_put(struct buf *b, const void *s, size_t n)
{
    if (b->cap - b->len < n + 1)
        buf_reserve(b, n + 1);
    if (n) /* an empty buffer's NULL is a valid source of nothing, not for memcpy */
        memcpy(b->p + b->len, s, n);
    b->len += n;
    b->p[b->len] = 0;
}
static inline void buf_putc(struct buf *b, char c)
{
    if (b->cap - b->len < 2)
        buf_reserve(b, 2);
    b->p[b->len++] = c;
    b->p[b->len] = 0;
}
static inline void buf_puts(struct buf *b, const char *s)
{
    buf_put(b, s, strlen(s));
}
void buf_printf(struct buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void buf_vprintf(struct buf *b, const char *fmt, va_list ap);

/* JSON string body (no quotes): escapes controls, quotes and backslashes;
 * invalid UTF-8 becomes U+FFFD so the output is always valid JSON. */
void buf_json_escape(struct buf *b, const char *s, size_t n);
/* The same with the surrounding quotes. */
void buf_json_str(struct buf *b, const char *s, size_t n);
/* A JSON array of strings. */
void buf_json_strs(struct buf *b, const char *const *items, size_t n);
/* CSV field: quoted when it holds a comma, quote, CR or LF. */
void buf_csv_field(struct buf *b, const char *s, size_t n);
/* Text from outside (an event, a rule file) for a person's terminal or a log
 * line, so it cannot move the cursor, set the clipboard, forge a line or
 * reorder what is shown: every control character (C0, DEL, C1 as a byte or
 * as UTF-8 U+0080..U+009F) and every Unicode bidi control (U+061C, U+200E,
 * U+200F, U+202A..U+202E, U+2066..U+2069) is written escaped, visibly:
 * \n \r \t, \x1b, \u202e; so is each byte of invalid UTF-8 (\xff).
 * quoted: for the inside of "...", also \" and \\. The one escaping of
 * every human-facing sink (table, summary, syslog). */
void buf_visible(struct buf *b, const char *s, size_t n, bool quoted);

#endif
