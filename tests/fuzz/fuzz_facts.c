/* Fuzz harness for the facts a centre worker reads from STOAT_FACTS (one
 * compact JSON object per message, written by another process over the
 * bus: hostile input). facts_parse must refuse or read it within its
 * store; what it reads is written back (facts_json) and must parse again,
 * and from then on read and write the same bytes (the first write may
 * normalise: bytes that are not UTF-8 become \ufffd). Any crash, leak or
 * sanitizer report is a bug. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "behaviour/facts.h"
#include "util/buf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct facts_store st, st2;
    struct cross_fact f, g;
    char why[160];
    memset(&f, 0, sizeof f);
    st.used = 0;
    if (!facts_parse((const char *)data, size, &f, &st, why, sizeof why))
        return 0;
    struct buf b = {0}, c = {0}, d = {0};
    facts_json(&f, &b);
    memset(&g, 0, sizeof g);
    st2.used = 0;
    if (!facts_parse(b.p, b.len, &g, &st2, why, sizeof why))
        abort(); /* what we write we must read */
    facts_json(&g, &c);
    memset(&g, 0, sizeof g);
    st2.used = 0;
    if (!facts_parse(c.p, c.len, &g, &st2, why, sizeof why))
        abort();
    facts_json(&g, &d);
    if (c.len != d.len || memcmp(c.p, d.p, c.len) != 0)
        abort();
    buf_free(&b);
    buf_free(&c);
    buf_free(&d);
    return 0;
}
