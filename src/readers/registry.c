/* The reader registry: one entry per input format, tried in order. Binary
 * formats with a magic number come before the text formats whose probes are
 * guesses; those probes exclude each other (JSON starts with { or [, an audit
 * record with type= or node=, a Sysmon-for-Linux line holds its provider's
 * XML), so their order only matters for damaged heads. */
#include <string.h>

#include "readers/reader.h"

static const struct reader_ops *const readers[] = {
    &reader_evtx,
    &reader_json,
    &reader_auditd,
    &reader_sysmon_linux,
};

const struct reader_ops *reader_detect(const unsigned char *head, size_t n)
{
    for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
        if (readers[i]->probe(head, n))
            return readers[i];
    return NULL;
}

const struct reader_ops *reader_by_name(const char *name)
{
    for (size_t i = 0; i < sizeof(readers) / sizeof(readers[0]); i++)
        if (strcmp(readers[i]->name, name) == 0)
            return readers[i];
    return NULL;
}
