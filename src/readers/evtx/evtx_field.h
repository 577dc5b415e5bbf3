/* EVTX fields: what the reader turns a record into, a list of (name, value,
 * value type), the way Sigma rules name them.
 *
 * Why a header of its own: the lower layers of the reader (value rendering,
 * Binary XML) produce these fields, and the file API in evtx.h is built on
 * them; with the types here, both include this header and neither needs the
 * other, so the parser's files stand in layers with no include running back
 * up.
 */
#ifndef STOAT_READERS_EVTX_FIELD_H
#define STOAT_READERS_EVTX_FIELD_H

#include <stdint.h>

/* What a field's value text is; the text itself is always UTF-8 rendered the
   way evtxexport renders that value type. */
enum evtx_vtype {
    EVTX_V_STRING = 0, /* UTF-16 or ANSI string, entity/char refs, CDATA */
    EVTX_V_INT,        /* signed decimal */
    EVTX_V_UINT,       /* unsigned decimal */
    EVTX_V_FLOAT,
    EVTX_V_BOOL,   /* "true" / "false" */
    EVTX_V_NULL,   /* absent value: the text is "" */
    EVTX_V_HEX,    /* hexadecimal integer (HexInt32/64, size_t): "0x..." */
    EVTX_V_BINARY, /* binary data as upper-case hex digits */
    EVTX_V_GUID,   /* "{XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX}" */
    EVTX_V_SID,    /* "S-1-5-..." */
    EVTX_V_TIME,   /* FILETIME or SYSTEMTIME as ISO 8601 UTC */
    EVTX_V_COUNT
};

struct evtx_field {
    const char *name;
    uint32_t name_len;
    const char *value; /* NUL-terminated as a convenience; value_len excludes it */
    uint32_t value_len;
    uint8_t type; /* enum evtx_vtype */
    /* the name was made for this record (<Data Name="%1">, from a value):
       its address is reused by the next record for another name */
    uint8_t name_fresh;
};

/* Name of a value type ("string", "int", ...), for dumps and tests. */
const char *evtx_vtype_name(uint8_t type);

#endif
