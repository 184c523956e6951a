/* Strict RFC 8259 JSON reader. See json.h. */
#include "json.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

typedef struct jparser {
    const char *what;
    const unsigned char *s;
    size_t len, pos, base;
    sn_status *st;
} jparser;

const char *sn_json_type_name(sn_json_type t) {
    switch (t) {
    case SN_JSON_NULL:
        return "null";
    case SN_JSON_BOOL:
        return "boolean";
    case SN_JSON_NUMBER:
        return "number";
    case SN_JSON_STRING:
        return "string";
    case SN_JSON_ARRAY:
        return "array";
    case SN_JSON_OBJECT:
        return "object";
    }
    return "?";
}

/* Describes the byte at `at` for messages: 'x', byte 0x01, or end of input. */
static const char *describe(const jparser *p, size_t at, char *buf, size_t n) {
    if (at >= p->len) {
        snprintf(buf, n, "end of input");
    } else {
        unsigned char c = p->s[at];
        if (c >= 0x21 && c < 0x7f)
            snprintf(buf, n, "'%c'", c);
        else if (c == ' ')
            snprintf(buf, n, "a space");
        else
            snprintf(buf, n, "byte 0x%02x", c);
    }
    return buf;
}

static sn_code jfail(jparser *p, size_t at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static sn_code jfail(jparser *p, size_t at, const char *fmt, ...) {
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (at > p->len) at = p->len;
    if (p->len && memchr(p->s, '\n', p->len)) {
        size_t line = 1, col = 1;
        for (size_t i = 0; i < at; i++) {
            if (p->s[i] == '\n') {
                line++;
                col = 1;
            } else {
                col++;
            }
        }
        return sn_fail(p->st, SN_ERR_INPUT,
                       "%s: invalid JSON at byte %zu (line %zu, column %zu): %s", p->what,
                       p->base + at, line, col, msg);
    }
    return sn_fail(p->st, SN_ERR_INPUT, "%s: invalid JSON at byte %zu: %s", p->what, p->base + at,
                   msg);
}

static sn_code joom(jparser *p) {
    return sn_fail(p->st, SN_ERR_RUNTIME, "%s: out of memory while parsing JSON", p->what);
}

static void skip_ws(jparser *p) {
    while (p->pos < p->len) {
        unsigned char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r') break;
        p->pos++;
    }
}

static int is_digit(unsigned char c) {
    return c >= '0' && c <= '9';
}

static int hexval(unsigned char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

/* Reads 4 hex digits at p->pos (after "\u"). Returns -1 (and fails) if malformed. */
static long read_hex4(jparser *p) {
    long v = 0;
    for (int i = 0; i < 4; i++) {
        int h = p->pos + (size_t)i < p->len ? hexval(p->s[p->pos + (size_t)i]) : -1;
        if (h < 0) {
            char d[32];
            jfail(p, p->pos + (size_t)i, "expected 4 hex digits after \\u, found %s",
                  describe(p, p->pos + (size_t)i, d, sizeof d));
            return -1;
        }
        v = v * 16 + h;
    }
    p->pos += 4;
    return v;
}

static void put_utf8(sn_strbuf *sb, unsigned long cp) {
    char b[4];
    size_t n;
    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    sn_sb_append(sb, b, n);
}

/* Length of the valid UTF-8 sequence at s[0..avail), or 0 if invalid (overlong forms,
 * UTF-16 surrogates and code points above U+10FFFF are invalid). */
static size_t utf8_seq_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    size_t n;
    unsigned char lo = 0x80, hi = 0xbf;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef) {
        n = 3;
        if (c == 0xe0) lo = 0xa0;
        if (c == 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        n = 4;
        if (c == 0xf0) lo = 0x90;
        if (c == 0xf4) hi = 0x8f;
    } else {
        return 0;
    }
    if (avail < n) return 0;
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if (s[i] < 0x80 || s[i] > 0xbf) return 0;
    return n;
}

/* Parses a string literal at p->pos (which is '"'); *out gets a malloc'ed copy. */
static sn_code parse_string(jparser *p, char **out) {
    *out = NULL;
    size_t start = p->pos;
    p->pos++; /* opening quote */
    sn_strbuf sb;
    sn_sb_init(&sb);
    for (;;) {
        if (p->pos >= p->len) {
            sn_sb_free(&sb);
            return jfail(p, p->len, "unterminated string (started at byte %zu): expected '\"'",
                         p->base + start);
        }
        unsigned char c = p->s[p->pos];
        if (c == '"') {
            p->pos++;
            break;
        }
        if (c < 0x20) {
            sn_sb_free(&sb);
            return jfail(p, p->pos,
                         "control character 0x%02x inside a string (it must be escaped, e.g. "
                         "\\u%04x)",
                         c, c);
        }
        if (c == '\\') {
            size_t esc = p->pos;
            p->pos++;
            if (p->pos >= p->len) {
                sn_sb_free(&sb);
                return jfail(p, p->pos,
                             "expected an escape character after '\\', found end of input");
            }
            unsigned char e = p->s[p->pos++];
            switch (e) {
            case '"':
                sn_sb_append(&sb, "\"", 1);
                break;
            case '\\':
                sn_sb_append(&sb, "\\", 1);
                break;
            case '/':
                sn_sb_append(&sb, "/", 1);
                break;
            case 'b':
                sn_sb_append(&sb, "\b", 1);
                break;
            case 'f':
                sn_sb_append(&sb, "\f", 1);
                break;
            case 'n':
                sn_sb_append(&sb, "\n", 1);
                break;
            case 'r':
                sn_sb_append(&sb, "\r", 1);
                break;
            case 't':
                sn_sb_append(&sb, "\t", 1);
                break;
            case 'u': {
                long cp = read_hex4(p);
                if (cp < 0) {
                    sn_sb_free(&sb);
                    return p->st->code;
                }
                if (cp >= 0xdc00 && cp <= 0xdfff) {
                    sn_sb_free(&sb);
                    return jfail(p, esc,
                                 "lone low surrogate \\u%04lX (not preceded by a high surrogate)",
                                 cp);
                }
                if (cp >= 0xd800 && cp <= 0xdbff) {
                    if (p->pos + 1 >= p->len || p->s[p->pos] != '\\' || p->s[p->pos + 1] != 'u') {
                        sn_sb_free(&sb);
                        return jfail(p, esc,
                                     "lone high surrogate \\u%04lX: expected a low surrogate "
                                     "\\uDC00..\\uDFFF to follow",
                                     cp);
                    }
                    size_t esc2 = p->pos;
                    p->pos += 2;
                    long lo = read_hex4(p);
                    if (lo < 0) {
                        sn_sb_free(&sb);
                        return p->st->code;
                    }
                    if (lo < 0xdc00 || lo > 0xdfff) {
                        sn_sb_free(&sb);
                        return jfail(p, esc2,
                                     "high surrogate \\u%04lX is followed by \\u%04lX, expected a "
                                     "low surrogate \\uDC00..\\uDFFF",
                                     cp, lo);
                    }
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                }
                if (cp == 0) {
                    sn_sb_free(&sb);
                    return jfail(p, esc, "\\u0000 (NUL) is not supported inside strings");
                }
                put_utf8(&sb, (unsigned long)cp);
                break;
            }
            default: {
                char d[32];
                sn_sb_free(&sb);
                return jfail(p, p->pos - 1,
                             "invalid escape: expected one of \\\" \\\\ \\/ \\b \\f \\n \\r \\t "
                             "\\uXXXX, found %s",
                             describe(p, p->pos - 1, d, sizeof d));
            }
            }
            continue;
        }
        size_t n = utf8_seq_len(p->s + p->pos, p->len - p->pos);
        if (n == 0) {
            sn_sb_free(&sb);
            return jfail(p, p->pos, "invalid UTF-8 byte 0x%02x inside a string", c);
        }
        sn_sb_append(&sb, (const char *)p->s + p->pos, n);
        p->pos += n;
    }
    if (sb.oom) {
        sn_sb_free(&sb);
        return joom(p);
    }
    *out = sb.data ? sb.data : sn_strdup("");
    if (!*out) return joom(p);
    return SN_OK;
}

static sn_code parse_number(jparser *p, sn_json *out) {
    size_t start = p->pos;
    char d[32];
    int integral = 1;
    if (p->s[p->pos] == '-') p->pos++;
    if (p->pos >= p->len || !is_digit(p->s[p->pos]))
        return jfail(p, p->pos, "expected a digit after '-', found %s",
                     describe(p, p->pos, d, sizeof d));
    if (p->s[p->pos] == '0') {
        p->pos++;
        if (p->pos < p->len && is_digit(p->s[p->pos]))
            return jfail(p, start, "numbers may not have leading zeros");
    } else {
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    if (p->pos < p->len && p->s[p->pos] == '.') {
        integral = 0;
        p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return jfail(p, p->pos, "expected a digit after '.', found %s",
                         describe(p, p->pos, d, sizeof d));
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        integral = 0;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-')) p->pos++;
        if (p->pos >= p->len || !is_digit(p->s[p->pos]))
            return jfail(p, p->pos, "expected a digit in the exponent, found %s",
                         describe(p, p->pos, d, sizeof d));
        while (p->pos < p->len && is_digit(p->s[p->pos])) p->pos++;
    }
    size_t n = p->pos - start;
    char small[64];
    char *tok = n < sizeof small ? small : malloc(n + 1);
    if (!tok) return joom(p);
    memcpy(tok, p->s + start, n);
    tok[n] = '\0';
    double v = strtod(tok, NULL); /* snnc never calls setlocale: '.' is the decimal point */
    if (tok != small) free(tok);
    if (isinf(v)) return jfail(p, start, "number is too large for a double");
    out->type = SN_JSON_NUMBER;
    out->number = v;
    if (integral) {
        /* exact int64 from the digits */
        size_t i = start;
        int neg = p->s[i] == '-';
        if (neg) i++;
        uint64_t mag = 0;
        int overflow = 0;
        for (; i < p->pos; i++) {
            unsigned dig = (unsigned)(p->s[i] - '0');
            if (mag > (UINT64_MAX - dig) / 10) {
                overflow = 1;
                break;
            }
            mag = mag * 10 + dig;
        }
        if (!overflow && !neg && mag <= (uint64_t)INT64_MAX) {
            out->is_int = 1;
            out->integer = (int64_t)mag;
        } else if (!overflow && neg && mag <= (uint64_t)INT64_MAX + 1) {
            out->is_int = 1;
            out->integer = mag == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)mag;
        }
    }
    return SN_OK;
}

static void *grow_array(void *ptr, int *cap, int need, size_t elem) {
    if (need <= *cap) return ptr;
    if (need > (1 << 28)) return NULL;
    int nc = *cap ? *cap : 4;
    while (nc < need) nc *= 2;
    void *np = realloc(ptr, (size_t)nc * elem);
    if (!np) return NULL;
    memset((char *)np + (size_t)*cap * elem, 0, (size_t)(nc - *cap) * elem);
    *cap = nc;
    return np;
}

static sn_code parse_value(jparser *p, sn_json *out, int depth);

typedef struct keyref {
    const char *key;
    int idx;
} keyref;

static int keyref_cmp(const void *a, const void *b) {
    const keyref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    if (c) return c;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Rejects repeated keys; reports the repeat that comes first in the text. */
static sn_code check_duplicates(jparser *p, const sn_json *obj, const size_t *keyoff) {
    if (obj->count < 2) return SN_OK;
    keyref *refs = malloc((size_t)obj->count * sizeof *refs);
    if (!refs) return joom(p);
    for (int i = 0; i < obj->count; i++) {
        refs[i].key = obj->keys[i];
        refs[i].idx = i;
    }
    qsort(refs, (size_t)obj->count, sizeof *refs, keyref_cmp);
    int best = -1, first = -1;
    for (int i = 1; i < obj->count; i++) {
        if (strcmp(refs[i].key, refs[i - 1].key) == 0 && (best < 0 || refs[i].idx < best)) {
            best = refs[i].idx;
            first = refs[i - 1].idx;
        }
    }
    free(refs);
    if (best < 0) return SN_OK;
    /* `first` is the previous occurrence in sorted order; find the very first one. */
    for (int i = 0; i < best; i++) {
        if (strcmp(obj->keys[i], obj->keys[best]) == 0) {
            first = i;
            break;
        }
    }
    sn_strbuf k;
    sn_sb_init(&k);
    sn_sb_json_str(&k, obj->keys[best]);
    sn_code c = jfail(p, keyoff[best] - p->base, "duplicate key %s in object (first at byte %zu)",
                      sn_sb_cstr(&k), keyoff[first]);
    sn_sb_free(&k);
    return c;
}

static sn_code parse_object(jparser *p, sn_json *out, int depth) {
    char d[32];
    out->type = SN_JSON_OBJECT;
    p->pos++; /* '{' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == '}') {
        p->pos++;
        return SN_OK;
    }
    int cap = 0, kcap = 0, ocap = 0;
    size_t *keyoff = NULL;
    sn_code rc = SN_OK;
    for (;;) {
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != '"') {
            if (out->count > 0 && p->pos < p->len && p->s[p->pos] == '}')
                rc = jfail(p, p->pos, "trailing comma before '}' is not allowed");
            else
                rc = jfail(p, p->pos, "expected a string key, found %s",
                           describe(p, p->pos, d, sizeof d));
            break;
        }
        size_t kpos = p->pos;
        sn_json *ni = grow_array(out->items, &cap, out->count + 1, sizeof *out->items);
        if (ni) out->items = ni;
        char **nk = grow_array(out->keys, &kcap, out->count + 1, sizeof *out->keys);
        if (nk) out->keys = nk;
        size_t *no = grow_array(keyoff, &ocap, out->count + 1, sizeof *keyoff);
        if (no) keyoff = no;
        if (!ni || !nk || !no) {
            rc = joom(p);
            break;
        }
        char *key = NULL;
        rc = parse_string(p, &key);
        if (rc != SN_OK) break;
        int i = out->count++;
        out->keys[i] = key;
        memset(&out->items[i], 0, sizeof out->items[i]);
        keyoff[i] = p->base + kpos;
        skip_ws(p);
        if (p->pos >= p->len || p->s[p->pos] != ':') {
            rc = jfail(p, p->pos, "expected ':' after the object key, found %s",
                       describe(p, p->pos, d, sizeof d));
            break;
        }
        p->pos++;
        rc = parse_value(p, &out->items[i], depth + 1);
        if (rc != SN_OK) break;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == '}') {
            p->pos++;
            rc = check_duplicates(p, out, keyoff);
            break;
        }
        rc = jfail(p, p->pos, "expected ',' or '}' after an object member, found %s",
                   describe(p, p->pos, d, sizeof d));
        break;
    }
    free(keyoff);
    return rc;
}

static sn_code parse_array(jparser *p, sn_json *out, int depth) {
    char d[32];
    out->type = SN_JSON_ARRAY;
    p->pos++; /* '[' */
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == ']') {
        p->pos++;
        return SN_OK;
    }
    int cap = 0;
    for (;;) {
        skip_ws(p);
        if (out->count > 0 && p->pos < p->len && p->s[p->pos] == ']')
            return jfail(p, p->pos, "trailing comma before ']' is not allowed");
        sn_json *ni = grow_array(out->items, &cap, out->count + 1, sizeof *out->items);
        if (!ni) return joom(p);
        out->items = ni;
        int i = out->count++;
        memset(&out->items[i], 0, sizeof out->items[i]);
        sn_code rc = parse_value(p, &out->items[i], depth + 1);
        if (rc != SN_OK) return rc;
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == ']') {
            p->pos++;
            return SN_OK;
        }
        return jfail(p, p->pos, "expected ',' or ']' after an array element, found %s",
                     describe(p, p->pos, d, sizeof d));
    }
}

static sn_code parse_literal(jparser *p, const char *word, sn_json *out) {
    size_t n = strlen(word);
    if (p->len - p->pos < n || memcmp(p->s + p->pos, word, n) != 0) {
        char d[32];
        return jfail(p, p->pos, "expected a value (did you mean '%s'?), found %s", word,
                     describe(p, p->pos, d, sizeof d));
    }
    p->pos += n;
    (void)out;
    return SN_OK;
}

static sn_code parse_value(jparser *p, sn_json *out, int depth) {
    char d[32];
    skip_ws(p);
    out->offset = p->base + p->pos;
    if (p->pos >= p->len) return jfail(p, p->pos, "expected a value, found end of input");
    unsigned char c = p->s[p->pos];
    switch (c) {
    case '{':
    case '[':
        if (depth >= SN_JSON_MAX_DEPTH)
            return jfail(p, p->pos, "arrays/objects nested deeper than %d levels",
                         SN_JSON_MAX_DEPTH);
        return c == '{' ? parse_object(p, out, depth) : parse_array(p, out, depth);
    case '"':
        out->type = SN_JSON_STRING;
        return parse_string(p, &out->string);
    case 't':
        out->type = SN_JSON_BOOL;
        out->boolean = 1;
        return parse_literal(p, "true", out);
    case 'f':
        out->type = SN_JSON_BOOL;
        out->boolean = 0;
        return parse_literal(p, "false", out);
    case 'n':
        out->type = SN_JSON_NULL;
        return parse_literal(p, "null", out);
    default:
        if (c == '-' || is_digit(c)) return parse_number(p, out);
        if (c == 0xef && p->pos == 0 && p->len >= 3 && p->s[1] == 0xbb && p->s[2] == 0xbf)
            return jfail(p, p->pos, "a UTF-8 byte order mark is not allowed; expected a value");
        return jfail(p, p->pos,
                     "expected a value (object, array, string, number, true, false or null), "
                     "found %s",
                     describe(p, p->pos, d, sizeof d));
    }
}

sn_code sn_json_parse_at(const char *what, const char *text, size_t len, size_t base_offset,
                         sn_json *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    jparser p = {what ? what : "JSON", (const unsigned char *)text, len, 0, base_offset, st};
    if (!text) len = p.len = 0;
    sn_code rc = parse_value(&p, out, 0);
    if (rc == SN_OK) {
        skip_ws(&p);
        if (p.pos < p.len) {
            char d[32];
            rc = jfail(&p, p.pos, "expected end of input after the JSON value, found %s",
                       describe(&p, p.pos, d, sizeof d));
        }
    }
    if (rc != SN_OK) sn_json_free(out);
    return rc;
}

sn_code sn_json_parse(const char *what, const char *text, size_t len, sn_json *out, sn_status *st) {
    return sn_json_parse_at(what, text, len, 0, out, st);
}

void sn_json_free(sn_json *j) {
    if (!j) return;
    for (int i = 0; i < j->count; i++) {
        if (j->items) sn_json_free(&j->items[i]);
        if (j->keys) free(j->keys[i]);
    }
    free(j->items);
    free(j->keys);
    free(j->string);
    memset(j, 0, sizeof *j);
}

const sn_json *sn_json_get(const sn_json *obj, const char *key) {
    if (!obj || obj->type != SN_JSON_OBJECT || !key) return NULL;
    for (int i = 0; i < obj->count; i++)
        if (strcmp(obj->keys[i], key) == 0) return &obj->items[i];
    return NULL;
}
