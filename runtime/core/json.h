/* A small, strict JSON reader (RFC 8259) for safetensors headers, plan files and golden
 * data. Numbers are kept as double and as the original text (for exact int64). Depth and
 * size are bounded; malformed input gives a message with the byte offset. */
#ifndef SN_JSON_H
#define SN_JSON_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

typedef enum sn_json_type {
    SN_JSON_NULL = 0,
    SN_JSON_BOOL,
    SN_JSON_NUMBER,
    SN_JSON_STRING,
    SN_JSON_ARRAY,
    SN_JSON_OBJECT
} sn_json_type;

typedef struct sn_json {
    sn_json_type type;
    int boolean;
    double number;
    int is_int;        /* number was written without fraction/exponent and fits int64 */
    int64_t integer;
    char *string;      /* STRING: the decoded text (NUL-terminated; may contain no NUL) */
    struct sn_json *items; /* ARRAY / OBJECT values */
    char **keys;       /* OBJECT keys, parallel to items */
    int count;
    size_t offset;     /* byte offset in the source, for messages */
} sn_json;

/* Parses text[0..len). `what` names the source in messages. */
sn_code sn_json_parse(const char *what, const char *text, size_t len, sn_json *out,
                      sn_status *st);
void sn_json_free(sn_json *j);
/* Object member by key, or NULL. */
const sn_json *sn_json_get(const sn_json *obj, const char *key);

#endif
