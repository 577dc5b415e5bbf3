/* EVTX files, chunks and records: everything above Binary XML.
 *
 * Why it works this way: the file header and chunk headers are advisory. A
 * dirty or half-written file lies about its chunk count, a chunk can have a
 * bad checksum and still hold good records, and old records linger in a
 * chunk's slack after the last one the header claims. So chunks are counted
 * from the file size, not the header; checksum mismatches are reported, not
 * fatal; each record is validated on its own (signature, size, trailing copy
 * of the size) and parsed; a damaged record is reported and the walk
 * resynchronises on the next record signature; and slack is scanned for
 * records that validate, skipping any whose id was already delivered from
 * the same chunk (older copies of live records). A slack record often points
 * at a template that newer records have overwritten, which would put its
 * values under the wrong names, so it is only delivered (flagged recovered)
 * when its template looks like one (plausible names and text, <Event> at
 * the root), every value has its substitution's declared type, the value
 * count matches, and its EventRecordID agrees with its header.
 *
 * Time is bounded like memory: each record gets a work budget (the caps in
 * evtx.h) that the Binary XML layer charges as it expands, and the records
 * of a chunk, slack included, share a larger one. So a crafted chunk costs
 * at most a fixed amount, whatever its records do.
 */
#include "readers/evtx/evtx.h"
#include "readers/evtx/evtx_int.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#if defined(__x86_64__)
#include <immintrin.h>
#endif

#define TPL_SLOTS 2048u /* > EVTX_MAX_TEMPLATES, power of two */
_Static_assert(TPL_SLOTS > EVTX_MAX_TEMPLATES + EVTX_MAX_TEMPLATES / 4, "template table needs free slots");
_Static_assert(TPL_SLOTS <= 65536u, "slot indexes are kept as 16 bits (tpl_used)");

struct evtx_file {
    const uint8_t *data;
    size_t len;
    char *name;
    uint32_t nchunks;
    size_t base; /* file offset of chunk 0: after the header, or found by scanning */
    /* header problems, reported with chunk 0 */
    const char *hdr_problem[4];
    unsigned nhdr_problems;
    char hdr_msg[2][160]; /* room for the problems that carry figures */
    uint32_t hdr_chunks;  /* what the header claims */
    bool truncated;       /* cut short: fewer bytes than the header's chunks, or a partial last chunk */
};

/* ---------------------------------------------------------------- CRC32 */

/* RFC 1952 CRC-32: chunk checksums cover most of the file, so this runs
   over every byte once and is a fair share of the time. Tables, slicing by
   16; where the CPU multiplies carry-less (PCLMULQDQ, x86-64 since 2010),
   long runs are folded 64 bytes a step first, which is an order of
   magnitude faster. Folding: a 128-bit block B followed by D more bits
   leaves the remainder mod P unchanged when replaced by B * x^D mod P,
   which for the bit-reflected CRC is lo(B) * K(D + 32) xor hi(B) * K(D - 32)
   with K(n) = reflect32(x^n mod P) << 1; the last block is then run
   through the tables from a zero register. */
static uint32_t crc_tab[16][256];
#if defined(__x86_64__)
static bool crc_clmul; /* the CPU has PCLMULQDQ and SSE4.1 */
#endif

static void crc_init(void)
{
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++)
            c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        crc_tab[0][i] = c;
    }
    for (uint32_t i = 0; i < 256; i++)
        for (int t = 1; t < 16; t++)
            crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^ crc_tab[0][crc_tab[t - 1][i] & 0xff];
#if defined(__x86_64__)
    __builtin_cpu_init();
    crc_clmul = __builtin_cpu_supports("pclmul") && __builtin_cpu_supports("sse4.1");
#endif
}

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* The register (not inverted) over n bytes, by the tables. */
static uint32_t crc_tables(uint32_t crc, const uint8_t *p, size_t n)
{
    while (n >= 16) {
        uint32_t a = evtx_le32(p) ^ crc, b = evtx_le32(p + 4), c = evtx_le32(p + 8), d = evtx_le32(p + 12);
        crc = crc_tab[15][a & 0xff] ^ crc_tab[14][(a >> 8) & 0xff] ^ crc_tab[13][(a >> 16) & 0xff] ^
              crc_tab[12][a >> 24] ^ crc_tab[11][b & 0xff] ^ crc_tab[10][(b >> 8) & 0xff] ^
              crc_tab[9][(b >> 16) & 0xff] ^ crc_tab[8][b >> 24] ^ crc_tab[7][c & 0xff] ^ crc_tab[6][(c >> 8) & 0xff] ^
              crc_tab[5][(c >> 16) & 0xff] ^ crc_tab[4][c >> 24] ^ crc_tab[3][d & 0xff] ^ crc_tab[2][(d >> 8) & 0xff] ^
              crc_tab[1][(d >> 16) & 0xff] ^ crc_tab[0][d >> 24];
        p += 16;
        n -= 16;
    }
    while (n >= 8) {
        uint32_t a = evtx_le32(p) ^ crc, b = evtx_le32(p + 4);
        crc = crc_tab[7][a & 0xff] ^ crc_tab[6][(a >> 8) & 0xff] ^ crc_tab[5][(a >> 16) & 0xff] ^ crc_tab[4][a >> 24] ^
              crc_tab[3][b & 0xff] ^ crc_tab[2][(b >> 8) & 0xff] ^ crc_tab[1][(b >> 16) & 0xff] ^ crc_tab[0][b >> 24];
        p += 8;
        n -= 8;
    }
    while (n--)
        crc = crc_tab[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
    return crc;
}

#if defined(__x86_64__)
#define CRC_K(lo, hi) _mm_set_epi64x((long long)(hi), (long long)(lo))

__attribute__((target("pclmul,sse4.1"))) static inline __m128i crc_fold(__m128i b, __m128i k, __m128i next)
{
    return _mm_xor_si128(_mm_xor_si128(_mm_clmulepi64_si128(b, k, 0x00), _mm_clmulepi64_si128(b, k, 0x11)), next);
}

/* The register over n bytes, n a multiple of 16 and at least 64. */
__attribute__((target("pclmul,sse4.1"))) static uint32_t crc_folded(uint32_t crc, const uint8_t *p, size_t n)
{
    const __m128i k4 = CRC_K(0x154442bd4ull, 0x1c6e41596ull); /* D = 512 */
    const __m128i k1 = CRC_K(0x1751997d0ull, 0x0ccaa009eull); /* D = 128 */
    __m128i b0 = _mm_xor_si128(_mm_loadu_si128((const __m128i *)(const void *)p), _mm_cvtsi32_si128((int)crc));
    __m128i b1 = _mm_loadu_si128((const __m128i *)(const void *)(p + 16));
    __m128i b2 = _mm_loadu_si128((const __m128i *)(const void *)(p + 32));
    __m128i b3 = _mm_loadu_si128((const __m128i *)(const void *)(p + 48));
    p += 64;
    n -= 64;
    for (; n >= 64; p += 64, n -= 64) {
        b0 = crc_fold(b0, k4, _mm_loadu_si128((const __m128i *)(const void *)p));
        b1 = crc_fold(b1, k4, _mm_loadu_si128((const __m128i *)(const void *)(p + 16)));
        b2 = crc_fold(b2, k4, _mm_loadu_si128((const __m128i *)(const void *)(p + 32)));
        b3 = crc_fold(b3, k4, _mm_loadu_si128((const __m128i *)(const void *)(p + 48)));
    }
    b0 = crc_fold(b0, k1, b1);
    b0 = crc_fold(b0, k1, b2);
    b0 = crc_fold(b0, k1, b3);
    for (; n >= 16; p += 16, n -= 16)
        b0 = crc_fold(b0, k1, _mm_loadu_si128((const __m128i *)(const void *)p));
    uint8_t last[16];
    _mm_storeu_si128((__m128i *)(void *)last, b0);
    return crc_tables(0, last, sizeof last);
}
#endif

uint32_t evtx_crc32(uint32_t crc, const uint8_t *p, size_t n)
{
    pthread_once(&crc_once, crc_init);
    crc = ~crc;
#if defined(__x86_64__)
    if (crc_clmul && n >= 64) {
        size_t whole = n & ~(size_t)15;
        crc = crc_folded(crc, p, whole);
        p += whole;
        n -= whole;
    }
#endif
    return ~crc_tables(crc, p, n);
}

/* ---------------------------------------------------------------- file */

bool evtx_probe(const uint8_t *head, size_t len)
{
    return head && len >= 8 && memcmp(head, "ElfFile\0", 8) == 0;
}

bool evtx_probe_chunks(const uint8_t *head, size_t len)
{
    if (!head)
        return false;
    if (len >= 8 && memcmp(head, "ElfChnk\0", 8) == 0)
        return true; /* no header at all: chunks carved out of something */
    return len >= EVTX_FILE_HEADER_SIZE + 8 && memcmp(head + EVTX_FILE_HEADER_SIZE, "ElfChnk\0", 8) == 0;
}

/* A chunk whose own header validates: signature and header checksum. */
static bool chunk_header_ok(const uint8_t *c, size_t avail)
{
    if (avail < EVTX_CHUNK_HEADER_SIZE || memcmp(c, "ElfChnk\0", 8) != 0)
        return false;
    uint32_t hcrc = evtx_crc32(evtx_crc32(0, c, 120), c + 128, EVTX_CHUNK_HEADER_SIZE - 128);
    return hcrc == evtx_le32(c + 124);
}

/* With no file header to say where the chunks are, the first chunk that
   validates, at a 512-byte boundary (a sector: where a header wiped in
   place or a carved file leaves it), fixes the 64 KiB grid they lie on.
   Returns how many chunks on that grid validate, and the grid's start. */
static uint32_t scan_for_chunks(const uint8_t *data, size_t len, size_t *base)
{
    for (size_t off = 0; off + EVTX_CHUNK_HEADER_SIZE <= len; off += 512) {
        if (!chunk_header_ok(data + off, len - off))
            continue;
        *base = off % EVTX_CHUNK_SIZE;
        uint32_t n = 0;
        for (size_t c = *base; c + EVTX_CHUNK_HEADER_SIZE <= len; c += EVTX_CHUNK_SIZE)
            n += chunk_header_ok(data + c, len - c);
        return n;
    }
    return 0;
}

static void set_err(struct evtx_error *err, const char *file, uint32_t chunk, uint64_t off, const char *reason)
{
    if (!err)
        return;
    err->file = file;
    err->chunk = chunk;
    err->offset = off;
    err->reason = reason;
}

/* The file object over len bytes of which data holds all (data) or none
   (head-only: a reader brings each chunk's bytes); head is the first
   head_len of them, what the header checks read. */
static int open_file(const uint8_t *data, const uint8_t *head, size_t head_len, size_t len, const char *name,
                     struct evtx_file **out, struct evtx_error *err)
{
    int ret = -1;
    struct evtx_file *f = NULL;
    *out = NULL;
    if (!name)
        name = "(memory)";
    bool headless = !evtx_probe(head, head_len);
    size_t base = EVTX_FILE_HEADER_SIZE;
    uint32_t found = 0;
    if (headless && (!data || (found = scan_for_chunks(data, len, &base)) == 0)) {
        set_err(err, name, UINT32_MAX, 0, "not an EVTX file (no ElfFile signature, and no chunk found by scanning)");
        goto out;
    }
    if (!headless && len < 128) {
        set_err(err, name, UINT32_MAX, 0, "file truncated inside its header (under 128 bytes)");
        goto out;
    }
    if (!headless && head_len < 128) {
        set_err(err, name, UINT32_MAX, 0, "the header's first 128 bytes were not given");
        goto out;
    }
    f = calloc(1, sizeof *f);
    if (!f) {
        set_err(err, name, UINT32_MAX, 0, "out of memory");
        goto out;
    }
    f->name = strdup(name);
    if (!f->name) {
        set_err(err, name, UINT32_MAX, 0, "out of memory");
        goto out;
    }
    f->data = data;
    f->len = len;
    f->base = base;
    size_t body = len > base ? len - base : 0;
    size_t n = (body + EVTX_CHUNK_SIZE - 1) / EVTX_CHUNK_SIZE;
    if (n > UINT32_MAX)
        n = UINT32_MAX;
    f->nchunks = (uint32_t)n;
    f->truncated = body % EVTX_CHUNK_SIZE != 0;
    if (headless) {
        /* what the header would say is unknown: no check against it */
        snprintf(f->hdr_msg[0], sizeof f->hdr_msg[0],
                 "file header damaged (no ElfFile signature): %u chunk%s recovered by scanning "
                 "for chunk signatures",
                 found, found == 1 ? "" : "s");
        f->hdr_problem[f->nhdr_problems++] = f->hdr_msg[0];
        f->hdr_chunks = UINT32_MAX;
        *out = f;
        f = NULL;
        ret = 0;
        goto out;
    }
    if (evtx_crc32(0, head, 120) != evtx_le32(head + 124))
        f->hdr_problem[f->nhdr_problems++] = "file header checksum mismatch";
    if (evtx_le32(head + 120) & 1)
        f->hdr_problem[f->nhdr_problems++] = "file header is marked dirty";
    f->hdr_chunks = evtx_le16(head + 42);
    uint64_t want = EVTX_FILE_HEADER_SIZE + (uint64_t)f->hdr_chunks * EVTX_CHUNK_SIZE;
    if (len < want)
        f->truncated = true;
    if (len < EVTX_FILE_HEADER_SIZE) {
        snprintf(f->hdr_msg[1], sizeof f->hdr_msg[1],
                 "file truncated inside its header (%zu of %u bytes): no chunk to read", len, EVTX_FILE_HEADER_SIZE);
        f->hdr_problem[f->nhdr_problems++] = f->hdr_msg[1];
    } else if (len < want) {
        snprintf(f->hdr_msg[1], sizeof f->hdr_msg[1],
                 "file truncated: %zu bytes, where the header's %u chunk%s take %llu; the "
                 "records before the cut are read",
                 len, f->hdr_chunks, f->hdr_chunks == 1 ? "" : "s", (unsigned long long)want);
        f->hdr_problem[f->nhdr_problems++] = f->hdr_msg[1];
    }
    *out = f;
    f = NULL;
    ret = 0;
out:
    evtx_close(f);
    return ret;
}

int evtx_open_mem(const uint8_t *data, size_t len, const char *name, struct evtx_file **out, struct evtx_error *err)
{
    return open_file(data, data, len, len, name, out, err);
}

int evtx_open_head(const uint8_t *head, size_t head_len, uint64_t file_len, const char *name, struct evtx_file **out,
                   struct evtx_error *err)
{
    *out = NULL;
    if (!evtx_probe(head, head_len) || file_len > SIZE_MAX) {
        set_err(err, name ? name : "(memory)", UINT32_MAX, 0, "no file header (ElfFile signature) to open by");
        return -1;
    }
    if (head_len > file_len)
        head_len = (size_t)file_len;
    return open_file(NULL, head, head_len, (size_t)file_len, name, out, err);
}

uint32_t evtx_chunk_count(const struct evtx_file *f)
{
    return f ? f->nchunks : 0;
}
uint64_t evtx_chunk_offset(const struct evtx_file *f, uint32_t chunk)
{
    return f ? f->base + (uint64_t)chunk * EVTX_CHUNK_SIZE : 0;
}
const char *evtx_file_name(const struct evtx_file *f)
{
    return f ? f->name : NULL;
}
size_t evtx_file_size(const struct evtx_file *f)
{
    return f ? f->len : 0;
}
bool evtx_file_truncated(const struct evtx_file *f)
{
    return f && f->truncated;
}

void evtx_close(struct evtx_file *f)
{
    if (!f)
        return;
    free(f->name);
    free(f);
}

/* ---------------------------------------------------------------- scratch */

struct evtx_scratch *evtx_scratch_create(void)
{
    struct evtx_scratch *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    evtx_arena_init(&s->chunk_arena, EVTX_CHUNK_ARENA_CAP);
    evtx_arena_init(&s->rec_arena, EVTX_RECORD_ARENA_CAP);
    s->tpl_cap = TPL_SLOTS;
    s->tpl_slots = calloc(TPL_SLOTS, sizeof *s->tpl_slots);
    s->builder = evtx_builder_create();
    s->tcache = evtx_tcache_create();
    if (!s->tpl_slots || !s->builder || !s->tcache) {
        evtx_scratch_destroy(s);
        return NULL;
    }
    return s;
}

uint64_t evtx_scratch_work(const struct evtx_scratch *s)
{
    return s ? s->total_work : 0;
}

void evtx_scratch_destroy(struct evtx_scratch *s)
{
    if (!s)
        return;
    evtx_arena_free(&s->chunk_arena);
    evtx_arena_free(&s->rec_arena);
    evtx_builder_destroy(s->builder);
    evtx_tcache_destroy(s->tcache);
    free(s->tlog.v);
    free(s->tpl_slots);
    free(s->fields);
    free(s->ids);
    free(s);
}

/* ---------------------------------------------------------------- chunks */

struct walk {
    const struct evtx_file *f;
    uint32_t idx;
    uint64_t base; /* file offset of the chunk */
    const struct evtx_visitor *v;
    struct evtx_chunk_ctx x;
    int delivered;
};

static void report_how(const struct walk *w, uint64_t off, const char *reason, bool rest)
{
    if (!w->v->error)
        return;
    struct evtx_error e = {w->f->name, w->idx, off, reason, rest};
    w->v->error(w->v->ctx, &e);
}

static void report(const struct walk *w, uint64_t off, const char *reason)
{
    report_how(w, off, reason, false);
}

/* Checks the record frame at chunk offset pos: signature, sizes, copy. */
static bool record_frame_ok(const uint8_t *c, size_t avail, size_t pos, uint32_t *size)
{
    if (pos + EVTX_RECORD_MIN_SIZE > avail)
        return false;
    if (memcmp(c + pos, "\x2a\x2a\0\0", 4) != 0)
        return false;
    uint32_t sz = evtx_le32(c + pos + 4);
    if (sz < EVTX_RECORD_MIN_SIZE || sz > avail - pos)
        return false;
    if (evtx_le32(c + pos + sz - 4) != sz)
        return false;
    *size = sz;
    return true;
}

static bool id_seen(const struct evtx_scratch *s, uint64_t id)
{
    for (size_t i = 0; i < s->nids; i++)
        if (s->ids[i] == id)
            return true;
    return false;
}

static int note_id(struct evtx_scratch *s, uint64_t id)
{
    if (s->nids == s->ids_cap) {
        size_t n = s->ids_cap ? s->ids_cap * 2 : 256;
        uint64_t *p = realloc(s->ids, n * sizeof *p);
        if (!p)
            return -2;
        s->ids = p;
        s->ids_cap = n;
    }
    s->ids[s->nids++] = id;
    return 0;
}

/* A recovered record whose EventRecordID field disagrees with its header
   was decoded with a template that is not its own. */
static bool event_id_agrees(const struct evtx_scratch *s, uint64_t id)
{
    for (size_t i = 0; i < s->nfields; i++) {
        const struct evtx_field *f = &s->fields[i];
        if (f->name_len != 13 || memcmp(f->name, "EventRecordID", 13) != 0)
            continue;
        return evtx_id_text_is(f->value, f->value_len, id);
    }
    return true;
}

/* Parses and delivers the record at pos (frame already checked). Returns 0
   when delivered, 1 when the record is damaged (reported unless quiet), 2
   when the chunk's work budget is spent (the caller reports it and stops),
   -1 when the visitor stops, -2 when out of memory. */
static int do_record(struct walk *w, size_t pos, uint32_t size, bool recovered, bool quiet)
{
    struct evtx_scratch *s = w->x.s;
    const uint8_t *c = w->x.chunk;
    const char *why = NULL;
    if (s->chunk_work >= EVTX_MAX_CHUNK_WORK)
        return 2;
    s->nfields = 0;
    evtx_arena_reset(&s->rec_arena);
    w->x.strict = recovered;
    int64_t budget = EVTX_MAX_CHUNK_WORK - (int64_t)s->chunk_work;
    if (budget > EVTX_MAX_RECORD_WORK)
        budget = EVTX_MAX_RECORD_WORK;
    w->x.work_left = budget;
    w->x.want_id = evtx_le64(c + pos + 8);
    w->x.id_pending = recovered && !s->no_early_id;
    w->x.id_from = 0;
    int rc = evtx_binxml_record(&w->x, c + pos + EVTX_RECORD_HEADER_SIZE, size - EVTX_RECORD_MIN_SIZE, &why);
    uint64_t spent = (uint64_t)(budget - w->x.work_left);
    s->chunk_work += spent;
    s->total_work += spent;
    if (rc == -4 && s->chunk_work >= EVTX_MAX_CHUNK_WORK)
        return 2;
    if (rc == -2 && (s->rec_arena.capped || s->chunk_arena.capped)) {
        /* a record that expands past the size caps is damage, not OOM */
        rc = -1;
        why = "record expands past the size caps";
    }
    if (rc == -2)
        return -2;
    if (rc) {
        if (!quiet)
            report(w, w->base + pos, why ? why : "malformed record");
        return 1;
    }
    uint64_t id = evtx_le64(c + pos + 8);
    if (recovered && !event_id_agrees(s, id))
        return 1;
    struct evtx_record r = {
        .record_id = id,
        .written_filetime = evtx_le64(c + pos + 16),
        .file_offset = w->base + pos,
        .size = size,
        .chunk = w->idx,
        .recovered = recovered,
        .nfields = s->nfields,
        .fields = s->fields,
    };
    if (note_id(s, r.record_id))
        return -2;
    w->delivered++;
    int stop = w->v->record ? w->v->record(w->v->ctx, &r) : 0;
    return stop ? -1 : 0;
}

/* Finds the next record signature at or after pos (8-byte aligned, like
   every record Windows writes). */
static size_t next_signature(const uint8_t *c, size_t pos, size_t end)
{
    pos = (pos + 7) & ~(size_t)7;
    while (pos + 4 <= end) {
        const uint8_t *q = memchr(c + pos, 0x2a, end - pos - 3);
        if (!q)
            break;
        pos = (size_t)(q - c);
        if (pos & 7) {
            pos = (pos + 7) & ~(size_t)7;
            continue;
        }
        if (c[pos + 1] == 0x2a && c[pos + 2] == 0 && c[pos + 3] == 0)
            return pos;
        pos += 8;
    }
    return end;
}

/* Unused chunks are 64 KiB of zeros: compare the block with itself shifted
   by one byte, which libc does a vector at a time. */
static bool all_zero(const uint8_t *p, size_t n)
{
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

/* Scans [pos, avail) for records that validate; delivered as recovered.
   Returns 0, or do_record's 2, -1 or -2. */
static int scan_slack(struct walk *w, size_t pos, size_t avail)
{
    const uint8_t *c = w->x.chunk;
    while ((pos = next_signature(c, pos, avail)) < avail) {
        uint32_t size;
        if (record_frame_ok(c, avail, pos, &size) && !id_seen(w->x.s, evtx_le64(c + pos + 8))) {
            int rc = do_record(w, pos, size, true, true);
            if (rc < 0 || rc == 2)
                return rc;
            if (rc == 0) {
                pos += size;
                continue;
            }
        }
        pos += 8;
    }
    return 0;
}

int evtx_parse_chunk(const struct evtx_file *f, uint32_t idx, struct evtx_scratch *s, const struct evtx_visitor *v)
{
    if (!f)
        return 0;
    uint64_t base = evtx_chunk_offset(f, idx);
    size_t avail = 0;
    if (f->data && idx < f->nchunks && base < f->len)
        avail = f->len - base < EVTX_CHUNK_SIZE ? f->len - base : EVTX_CHUNK_SIZE;
    return evtx_parse_chunk_at(f, idx, avail ? f->data + base : NULL, avail, s, v);
}

int evtx_parse_chunk_at(const struct evtx_file *f, uint32_t idx, const uint8_t *c, size_t avail, struct evtx_scratch *s,
                        const struct evtx_visitor *v)
{
    if (!f || !s || !v || (idx >= f->nchunks && idx != 0))
        return 0;
    struct walk w = {0};
    w.f = f;
    w.idx = idx;
    w.v = v;
    w.base = evtx_chunk_offset(f, idx);
    if (idx == 0) {
        struct walk hw = w;
        hw.idx = UINT32_MAX;
        for (unsigned i = 0; i < f->nhdr_problems; i++)
            report(&hw, 0, f->hdr_problem[i]);
    }
    if (idx >= f->nchunks || w.base >= f->len || !c || !avail)
        return 0; /* chunk 0 of a file with none: its header problems are all there is */
    if (avail > EVTX_CHUNK_SIZE)
        avail = EVTX_CHUNK_SIZE;

    evtx_arena_reset(&s->chunk_arena);
    evtx_tpl_cache_reset(s);
    if (++s->gen == 0) { /* wrapped: old entries could look current */
        memset(s->names, 0, sizeof s->names);
        s->gen = 1;
    }
    s->nids = 0;
    s->chunk_work = 0;
    w.x.chunk = c;
    w.x.len = avail;
    w.x.s = s;

    int rc = 0;
    if (avail < EVTX_CHUNK_HEADER_SIZE || memcmp(c, "ElfChnk\0", 8) != 0) {
        if (all_zero(c, avail))
            return 0; /* never used: normal at the end of a file */
        report(&w, w.base, avail < EVTX_CHUNK_HEADER_SIZE ? "truncated chunk header" : "bad chunk signature");
        if (avail > EVTX_CHUNK_HEADER_SIZE)
            rc = scan_slack(&w, EVTX_CHUNK_HEADER_SIZE, avail);
        goto out;
    }
    if (avail < EVTX_CHUNK_SIZE)
        report(&w, w.base, "truncated chunk: cut short by the end of the file");
    if (idx >= f->hdr_chunks)
        report(&w, w.base, "chunk beyond the header's chunk count (dirty file)");

    uint32_t hcrc = evtx_crc32(evtx_crc32(0, c, 120), c + 128, EVTX_CHUNK_HEADER_SIZE - 128);
    if (hcrc != evtx_le32(c + 124))
        report(&w, w.base, "chunk header checksum mismatch");

    uint32_t free_off = evtx_le32(c + 48);
    size_t end = free_off;
    if (free_off < EVTX_CHUNK_HEADER_SIZE || free_off > EVTX_CHUNK_SIZE) {
        report(&w, w.base + 48, "chunk free-space offset out of range");
        end = avail;
    } else if (end > avail) {
        end = avail;
    } else if (evtx_crc32(0, c + EVTX_CHUNK_HEADER_SIZE, end - EVTX_CHUNK_HEADER_SIZE) != evtx_le32(c + 52)) {
        report(&w, w.base, "chunk records checksum mismatch");
    }

    size_t pos = EVTX_CHUNK_HEADER_SIZE;
    bool resync = false;
    while (pos + EVTX_RECORD_MIN_SIZE <= end) {
        uint32_t size;
        if (!record_frame_ok(c, avail, pos, &size)) {
            if (!resync) {
                if (all_zero(c + pos, end - pos))
                    break; /* zero fill before the free offset: nothing more */
                report(&w, w.base + pos, "corrupt record header");
            }
            resync = true;
            pos = next_signature(c, pos + 8, end);
            continue;
        }
        rc = do_record(&w, pos, size, false, false);
        if (rc < 0 || rc == 2)
            goto out;
        resync = false;
        pos += size;
    }
    rc = scan_slack(&w, pos > end ? pos : end, avail);
out:
    if (rc == 2)
        report_how(&w, w.base, "the chunk's records pass the per-chunk work cap", true);
    if (rc == -1 || rc == -2)
        return rc;
    return w.delivered;
}

long evtx_parse_all(const struct evtx_file *f, struct evtx_scratch *s, const struct evtx_visitor *v)
{
    long total = 0;
    if (f && f->nchunks == 0) {
        struct walk w = {.f = f, .idx = UINT32_MAX, .v = v};
        for (unsigned i = 0; i < f->nhdr_problems; i++)
            report(&w, 0, f->hdr_problem[i]);
    }
    for (uint32_t i = 0; f && i < f->nchunks; i++) {
        int rc = evtx_parse_chunk(f, i, s, v);
        if (rc < 0)
            return rc;
        total += rc;
    }
    return total;
}
