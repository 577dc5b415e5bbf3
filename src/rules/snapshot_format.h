/* The snapshot file's layout, shared by its writer (snapshot_write.c) and
 * its reader (snapshot.c); snapshot.c's top comment says why it is built
 * this way.
 *
 * Layout (little-endian): "STOATRSC" u32 format u32 0 u64 payload_len
 * u8[32] key u8[32] sum(payload); the payload is the sections in the
 * order write_body emits them and the reader takes them. */
#ifndef STOAT_RULES_SNAPSHOT_FORMAT_H
#define STOAT_RULES_SNAPSHOT_FORMAT_H

#include "rules/cache.h"

#define SN_MAGIC "STOATRSC"
#define SN_FORMAT \
    11u /* 3: databases without HS_FLAG_SINGLEMATCH; 4: atom tables as words; 5: merged class databases; 6: settled
          atoms; 7: token tables; 8: merged databases per class; 9: a class's shortest keyword atom; 10: an AND's
          gating child keeps its place by cost; 11: padded fields */
#define SN_HEADER    (8 + 4 + 4 + 8 + RC_KEY_LEN + RC_KEY_LEN)
#define SN_MAX_DEPTH 1024 /* node nesting: far above the compiler's, well within the evaluator's stack */

#endif
