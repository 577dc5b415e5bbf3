/* Windows XML Event Log (EVTX) reader.
 *
 * Why it looks like this: an EVTX file is a 4 KiB header followed by 64 KiB
 * chunks that are self-contained (each has its own string and template
 * tables), so a chunk is the unit of work. The file object is immutable after
 * evtx_open_mem(); threads parse different chunks at once, each with its own
 * evtx_scratch, which holds every decoded byte and is reset (not freed) per
 * chunk. Records are not turned into XML: each one is flattened straight into
 * (name, value) fields the way Sigma rules name them, and handed to a
 * visitor; the fields live in the scratch and are valid only during the call.
 *
 * Damage (bad checksums, truncated or corrupt records, dirty headers) is
 * reported through visitor->error and parsing goes on with whatever still
 * validates. No function here reads outside the buffer it was given.
 *
 * The field types (struct evtx_field, enum evtx_vtype) are in evtx_field.h,
 * which this header includes: the parser's lower files need them without
 * the file API.
 */
#ifndef STOAT_READERS_EVTX_H
#define STOAT_READERS_EVTX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "readers/evtx/evtx_field.h"

#define EVTX_FILE_HEADER_SIZE 4096u
#define EVTX_CHUNK_SIZE       65536u

/* Work caps. Binary XML can make a record of a hundred bytes cost billions
   of steps (a template whose elements each expand the same nested Binary
   XML value, nested again), while the memory caps see nothing because the
   elements vanish. So the expansion is counted in work units: one per
   template op run, template instance, value read, array element and raw
   element compiled, one per 64 bytes rendered and one per 4 bytes of a
   template or raw element compiled. A record that passes
   EVTX_MAX_RECORD_WORK is reported and skipped; a chunk whose records
   together pass EVTX_MAX_CHUNK_WORK has the rest of its records skipped
   (reported once), so the time a file costs is bounded by its size. Real
   records stay far below both (the largest in the shared samples is
   noted in README). */
#define EVTX_MAX_RECORD_WORK (1u << 20)
#define EVTX_MAX_CHUNK_WORK  (1u << 22)

struct evtx_file;
struct evtx_scratch;

struct evtx_record {
    uint64_t record_id;
    uint64_t written_filetime; /* 100 ns intervals since 1601-01-01 UTC */
    uint64_t file_offset;      /* of the record header */
    uint32_t size;             /* record size in bytes, header to trailing copy */
    uint32_t chunk;
    bool recovered; /* found in chunk slack, past the last record */
    size_t nfields;
    const struct evtx_field *fields; /* valid only during the callback */
};

struct evtx_error {
    const char *file;
    uint32_t chunk;  /* UINT32_MAX when the error is about the file header */
    uint64_t offset; /* file offset of the damaged structure */
    const char *reason;
    bool rest_skipped; /* the rest of the chunk is not read */
};

struct evtx_visitor {
    void *ctx;
    int (*record)(void *ctx, const struct evtx_record *rec); /* non-zero stops */
    void (*error)(void *ctx, const struct evtx_error *err);  /* may be NULL */
};

/* True when head starts with the EVTX file signature "ElfFile\0". */
bool evtx_probe(const uint8_t *head, size_t len);
/* True when head has no file signature but a chunk signature "ElfChnk\0"
   where the first chunk would be: at 0 (no header at all) or at 4096 (the
   header wiped). Needs 4104 bytes of head for the second. */
bool evtx_probe_chunks(const uint8_t *head, size_t len);

/* Opens an in-memory EVTX file; data must outlive the file object. name is
   copied and used in error reports. Returns 0, or -1 with *err filled (when
   err is not NULL) if the buffer is not an EVTX file at all. A damaged but
   usable header is not a failure: it is reported again, chunk UINT32_MAX, by
   the first evtx_parse_chunk(chunk 0) call. So is a header that is gone
   (no file signature): then the chunks are found by scanning for chunk
   signatures whose chunk header checksum holds, as forensic readers do,
   and the report says how many were found; and a file shorter than its
   header's chunk count says. */
int evtx_open_mem(const uint8_t *data, size_t len, const char *name, struct evtx_file **out, struct evtx_error *err);

/* Opens an EVTX file by its header alone: head is its first head_len bytes
   (the header checks need 128; signature required, no scan for chunks) and
   file_len its size. The chunks' bytes are not kept: each is parsed by
   evtx_parse_chunk_at from bytes the caller read. Returns as evtx_open_mem. */
int evtx_open_head(const uint8_t *head, size_t head_len, uint64_t file_len, const char *name, struct evtx_file **out,
                   struct evtx_error *err);

/* Number of chunk slots present in the data (not what the header claims: a
   dirty file may hold more). Empty slots parse to no records. */
uint32_t evtx_chunk_count(const struct evtx_file *f);
/* File offset of a chunk slot: after the header, or on the grid that the
   scan found when the header is gone. */
uint64_t evtx_chunk_offset(const struct evtx_file *f, uint32_t chunk);

/* Parses one chunk, calling v->record for each valid record in order, then
   for records recovered from the chunk's slack. Returns the number of records
   delivered, or -1 if the visitor asked to stop, or -2 when out of memory. */
int evtx_parse_chunk(const struct evtx_file *f, uint32_t chunk, struct evtx_scratch *s, const struct evtx_visitor *v);
/* The same for chunk slot `chunk` whose bytes the caller read: avail of
   them at data (at most a chunk's are looked at; fewer when the file ends
   or was cut since it was opened). A file opened by its header is parsed
   this way; chunk 0 reports header problems even with no bytes. */
int evtx_parse_chunk_at(const struct evtx_file *f, uint32_t chunk, const uint8_t *data, size_t avail,
                        struct evtx_scratch *s, const struct evtx_visitor *v);

/* Convenience: every chunk in order with one scratch. Same return rules,
   summed. */
long evtx_parse_all(const struct evtx_file *f, struct evtx_scratch *s, const struct evtx_visitor *v);

const char *evtx_file_name(const struct evtx_file *f);
size_t evtx_file_size(const struct evtx_file *f);
/* Cut short: shorter than its header's chunks, or ending inside a chunk. */
bool evtx_file_truncated(const struct evtx_file *f);

struct evtx_scratch *evtx_scratch_create(void);
void evtx_scratch_destroy(struct evtx_scratch *s); /* accepts NULL */
/* Work units spent by this scratch since it was created (see the caps). */
uint64_t evtx_scratch_work(const struct evtx_scratch *s);
void evtx_close(struct evtx_file *f); /* accepts NULL */

/* Appends the record as one JSON object and a newline to a malloc'd buffer
   (*buf, *len used, *cap allocated; all may start as NULL/0). Control
   characters are escaped and invalid UTF-8 becomes \ufffd. Field names that
   repeat (e.g. unnamed Data) become one JSON array. Returns 0, -1 on ENOMEM. */
int evtx_record_to_json(const struct evtx_record *rec, char **buf, size_t *len, size_t *cap);

#endif
