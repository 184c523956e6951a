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
    int is_int; /* number was written without fraction/exponent and fits int64 */
    int64_t integer;
    char *string;          /* STRING: the decoded text (NUL-terminated; may contain no NUL) */
    struct sn_json *items; /* ARRAY / OBJECT values */
    char **keys;           /* OBJECT keys, parallel to items */
    int count;
    size_t offset; /* byte offset in the source, for messages */
} sn_json;

/* Arrays and objects nest at most this deep. */
#define SN_JSON_MAX_DEPTH 64

/* Parses text[0..len). `what` names the source in messages. Objects with a repeated key
 * are rejected. The strings may not contain "\u0000" (they are NUL-terminated). On
 * failure *out is left as an empty NULL value (safe to sn_json_free). */
sn_code sn_json_parse(const char *what, const char *text, size_t len, sn_json *out, sn_status *st);
/* Same, for text found at byte base_offset of a larger file: messages and the `offset`
 * fields count from the start of that file. */
sn_code sn_json_parse_at(const char *what, const char *text, size_t len, size_t base_offset,
                         sn_json *out, sn_status *st);
/* "null", "boolean", "number", "string", "array", "object". */
const char *sn_json_type_name(sn_json_type t);
void sn_json_free(sn_json *j);
/* Object member by key, or NULL. */
const sn_json *sn_json_get(const sn_json *obj, const char *key);

#endif
