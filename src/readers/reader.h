/* Readers turn bytes into events. They know the event model (event/) and
 * nothing about rules or the engine: a reader splits an input into work units
 * on the reading thread (cheap: find record boundaries), then parses a unit on
 * a worker thread, handing each record's fields to an event sink. Readers are
 * listed in one registry table. */
#ifndef STOAT_READERS_READER_H
#define STOAT_READERS_READER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "event/event.h"
#include "event/mapping.h"
#include "util/buf.h"

struct input;

/* One input file as the hunt sees it. */
struct input_file {
    const char *name; /* as given; "-" for standard input */
    const struct reader_ops *reader;
    const char *product; /* product of its events when the channel is unknown */
    void *reader_state;  /* the reader's producer-side state */
    const char *host;    /* the hunt's host option (NULL: none), for logs that name no host */
    bool incomplete;     /* open found the file cut short (a truncated EVTX): it is read, as far as it
                                 * goes, reported by the reader, and counted as not read whole */
};

/* A batch of records, made on the reading thread, parsed on a worker. */
struct unit {
    uint64_t seq;
    struct input_file *file;
    char *data;
    size_t len, cap;
    uint64_t first_line;  /* line number of data[0] (text formats) */
    uint64_t file_offset; /* offset of data[0] in the (decompressed) input */
    int mode;             /* reader-specific */
    const uint8_t *map;   /* binary formats: the mapped file */
    size_t map_len;
    uint32_t part_begin, part_end; /* binary formats: e.g. EVTX chunks */
    bool last;                     /* the file's last unit: the writer closes it */
    /* A text file split by byte range: the worker reads [range_begin,
     * range_begin + range_len) itself, with the lines that start in it. The
     * worker cannot know how many lines come before its range, so its line
     * numbers (records, bad records, note_line) count from the range's first
     * byte, starting at 0, and it sets lines to the newlines in the range: the
     * writer, which sees the file's units in order, adds the lines before. */
    uint64_t range_begin, range_len;
    bool lines_relative;
    uint64_t lines;
    bool read_failed; /* the worker could not read its range (note says why) */
    char note[320];   /* a problem the reading thread (or the worker) found (at note_line) */
    uint64_t note_line;
    /* filled by the worker */
    struct buf out;
    uint64_t records, events, skipped;
};

#define UNIT_BYTES       (1u << 20) /* text read per unit */
#define RECORD_MAX_BYTES (16u << 20)

/* What a reader's fill made of the unit it was given. FILL_LAST when it
 * knows the unit holds the file's end: no call follows, and the unit goes
 * out as the file's last, rather than an empty one after it (on a folder
 * of small files, that empty unit was every second hand-over between the
 * threads). */
enum fill_result {
    FILL_ERROR = -1, /* why says; what the unit holds is still parsed */
    FILL_END = 0,    /* nothing more: the unit holds nothing */
    FILL_MORE = 1,   /* a unit, and more may follow */
    FILL_LAST = 2,   /* a unit, and nothing follows */
};

struct reader_ops {
    const char *name;
    /* Does this head of an input look like the format? */
    bool (*probe)(const unsigned char *head, size_t n);
    /* Reading thread: open state for a file, then fill units until
     * anything but FILL_MORE. */
    int (*open)(struct input_file *f, struct input *in, char *why, size_t whylen);
    enum fill_result (*fill)(struct input_file *f, struct input *in, struct unit *u, char *why, size_t whylen);
    void (*close)(struct input_file *f);
    /* Writer thread, after the file's last unit: frees what workers needed
     * (a mapped file). May be NULL. */
    void (*release)(struct input_file *f);
    /* Worker thread: per-thread state, and parsing one unit. */
    void *(*worker_create)(const struct mapping *map);
    void (*worker_destroy)(void *ws);
    void (*parse)(void *ws, struct unit *u, const struct event_sink *sink);
};

/* The registry: first reader whose probe accepts the head wins. */
const struct reader_ops *reader_detect(const unsigned char *head, size_t n);
const struct reader_ops *reader_by_name(const char *name);

extern const struct reader_ops reader_json;
/* reader_json's unit mode for JSON lines: what a source that fills units
 * itself (the fleet's bus batches, JSON lines by contract) sets. */
#define READER_JSON_LINES 1
extern const struct reader_ops reader_evtx;
extern const struct reader_ops reader_auditd;
extern const struct reader_ops reader_sysmon_linux;

/* ---- inputs: plain files, standard input, gzip (detected by magic) ---- */

struct input *input_open(const char *path, char *why, size_t whylen);
/* The first bytes (decompressed), for detection; does not consume them. */
size_t input_peek(struct input *in, const unsigned char **head);
/* Reads up to n decompressed bytes; 0 at the end; <0 on error (why set). */
long input_read(struct input *in, char *buf, size_t n, char *why, size_t whylen);
/* Bytes consumed from the underlying file (compressed size for .gz). */
uint64_t input_raw_pos(const struct input *in);
/* A reader that hands out a plain file by offset, its workers reading it
 * (pread on input_fd), says how far it has handed it out: the progress and
 * the bytes counted follow. */
void input_handed_out(struct input *in, uint64_t pos);
uint64_t input_raw_size(const struct input *in); /* 0 when unknown */
bool input_is_compressed(const struct input *in);
/* The plain file's descriptor (for mmap), or -1 (stdin, gzip). */
int input_fd(const struct input *in);
void input_close(struct input *in);

#endif
