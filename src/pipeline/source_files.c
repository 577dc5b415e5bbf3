/* See source_files.h. Each input is recognised by its content
 * (reader_detect), opened by its reader on this thread, and filled into units
 * until it ends; what a reader cannot read is named with the reason and
 * counted, and the hunt goes on with the next input. */
#include "pipeline/source_files.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "readers/reader.h"
#include "util/fs.h"
#include "util/mem.h"

void source_files_release(void *ctx, struct input_file *f)
{
    (void)ctx;
    if (f->reader && f->reader->release)
        f->reader->release(f);
    free((char *)f->name);
    free(f);
}

/* A file that cannot be read, or is skipped. */
static void report(struct files_source *s, enum stoat_severity sev, stoat_err code, const char *path, const char *msg)
{
    if (!s->diag)
        return;
    struct stoat_diag d = {.code = code, .severity = sev, .file = path, .message = msg};
    s->diag(s->diag_ctx, &d);
}

static void progress(struct files_source *s, struct input *in, uint64_t total)
{
    if (s->progress)
        s->progress(s->progress_ctx, s->bytes_before + input_raw_pos(in), total);
}

/* The extension of path, lower case, past a ".gz" (into ext, "" if none). */
static void extension(const char *path, char ext[16])
{
    const char *slash = strrchr(path, '/'), *base = slash ? slash + 1 : path;
    size_t n = strlen(base);
    if (n > 3 && strcasecmp(base + n - 3, ".gz") == 0)
        n -= 3;
    size_t dot = n;
    while (dot > 0 && base[dot - 1] != '.')
        dot--;
    ext[0] = 0;
    if (dot == 0 || n - dot >= 16)
        return;
    for (size_t i = dot; i < n; i++)
        ext[i - dot] = (char)((base[i] >= 'A' && base[i] <= 'Z') ? base[i] + 32 : base[i]);
    ext[n - dot] = 0;
}

/* A name that says "event data": such a file no reader takes is damaged,
 * not a stray README, and is said so even inside a folder. */
static bool named_as_events(const char *ext)
{
    static const char *const names[] = {"evtx", "json", "jsonl", "ndjson", NULL};
    for (const char *const *n = names; *n; n++)
        if (strcmp(ext, *n) == 0)
            return true;
    return false;
}

/* An input no reader takes: nothing to read in an empty file, a note inside
 * a folder (a README; named in the summary too), an error when named on the
 * command line, or inside a folder when its name says it holds events. */
static void unknown_format(struct files_source *s, const char *path, size_t nhead)
{
    char ext[16];
    extension(path, ext);
    if (nhead == 0) {
        s->stats->files++; /* an empty file: nothing to read, nothing wrong */
    } else if (s->in_dir && !named_as_events(ext)) {
        report(s, STOAT_SEV_NOTE, STOAT_ERR_FORMAT, path, "not an event log stoat reads; skipped");
        if (s->stats->files_skipped < STOAT_SKIPPED_NAMED)
            s->stats->skipped_names[s->stats->files_skipped] = xstrdup(path);
        s->stats->files_skipped++;
    } else if (s->in_dir) {
        char why[160]; /* (.evtx never gets here: its reader is tried and says why it fails) */
        snprintf(why, sizeof(why),
                 "damaged: named .%s, but its content is neither JSON nor another format "
                 "stoat reads",
                 ext);
        report(s, STOAT_SEV_ERROR, STOAT_ERR_FORMAT, path, why);
        s->stats->files_failed++;
    } else {
        report(s, STOAT_SEV_ERROR, STOAT_ERR_FORMAT, path,
               "not a format stoat reads (EVTX, JSON lines, JSON arrays, JSON objects, auditd logs, "
               "Sysmon for Linux syslog; gzip or not)");
        s->stats->files_failed++;
    }
}

static int read_file(void *ctx, const char *path)
{
    struct files_source *s = ctx;
    char why[256];
    struct input *in = input_open(path, why, sizeof(why));
    if (!in) {
        report(s, STOAT_SEV_ERROR, STOAT_ERR_IO, path, why);
        s->stats->files_failed++;
        return 0;
    }
    const unsigned char *head;
    size_t nh = input_peek(in, &head);
    const struct reader_ops *ops = reader_detect(head, nh);
    char ext[16];
    extension(path, ext);
    if (!ops && nh && strcmp(ext, "evtx") == 0)
        ops = &reader_evtx; /* its reader scans the whole file for chunks, or says why not */
    if (!ops) {
        unknown_format(s, path, nh);
        input_close(in);
        return 0;
    }
    struct input_file *f = xcalloc(1, sizeof(*f));
    f->name = xstrdup(path);
    f->reader = ops;
    f->host = s->host;
    if (ops->open(f, in, why, sizeof(why))) {
        report(s, STOAT_SEV_ERROR, STOAT_ERR_INPUT, path, why);
        s->stats->files_failed++;
        source_files_release(s, f);
        input_close(in);
        return 0;
    }
    s->stats->files++;
    if (f->incomplete)
        s->stats->files_failed++; /* read as far as it goes; the reader said where it ends */
    uint64_t total = input_raw_size(in);
    for (;;) {
        struct unit *u = units_take(s->units);
        u->file = f;
        enum fill_result rc = ops->fill(f, in, u, why, sizeof(why));
        progress(s, in, total);
        if (rc == FILL_MORE) {
            units_send(s->units, u);
            continue;
        }
        if (rc == FILL_ERROR) {
            snprintf(u->note, sizeof(u->note), "read error, the rest of the file is skipped: %s", why);
            s->stats->files_failed++;
        }
        /* Done reading: close before the last unit goes out, because
         * whoever writes that unit frees f. */
        ops->close(f);
        u->last = true; /* what the failed read left in the unit is still parsed */
        units_send(s->units, u);
        break;
    }
    s->bytes_before += input_raw_pos(in);
    s->stats->bytes += input_raw_pos(in);
    input_close(in);
    return 0;
}

static void walk_err(void *ctx, const char *path, const char *why)
{
    struct files_source *s = ctx;
    report(s, STOAT_SEV_ERROR, STOAT_ERR_IO, path, why);
    s->stats->files_failed++;
}

void source_files_run(struct files_source *s, const char *const *paths, size_t npaths)
{
    for (size_t i = 0; i < npaths; i++) {
        if (strcmp(paths[i], "-") == 0) {
            s->in_dir = false;
            read_file(s, "-");
        } else if (fs_is_dir(paths[i])) {
            s->in_dir = true;
            fs_walk(paths[i], NULL, read_file, walk_err, s);
        } else {
            s->in_dir = false;
            read_file(s, paths[i]);
        }
    }
}
