/* YAML text -> document tree (see yaml_dom.h), with libyaml's event API.
 *
 * The tree is built iteratively with an explicit stack bounded by SN_YAML_MAX_DEPTH, so
 * hostile nesting cannot exhaust the C stack; node count, scalar size and input size are
 * bounded too. */
#include "yaml_dom.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "../../runtime/core/util.h"

/* ---- nodes ----------------------------------------------------------------------------- */

sn_ynode *sn_ynode_new(sn_ydoc *doc, sn_ynode_kind kind, const char *origin) {
    if (doc->nnodes >= SN_YAML_MAX_NODES) return NULL;
    sn_ynode *n = calloc(1, sizeof *n);
    if (!n) return NULL;
    n->kind = kind;
    n->origin = origin;
    doc->nnodes++;
    return n;
}

sn_ynode *sn_ynode_new_scalar(sn_ydoc *doc, const char *text, size_t len, const char *origin) {
    sn_ynode *n = sn_ynode_new(doc, SN_YSCALAR, origin);
    if (!n) return NULL;
    n->text = malloc(len + 1);
    if (!n->text) {
        sn_ynode_free(doc, n);
        return NULL;
    }
    if (len) memcpy(n->text, text, len);
    n->text[len] = '\0';
    n->len = len;
    return n;
}

void sn_ynode_free(sn_ydoc *doc, sn_ynode *n) {
    if (!n) return;
    for (int i = 0; i < n->n; i++) {
        if (n->keys) sn_ynode_free(doc, n->keys[i]);
        sn_ynode_free(doc, n->items[i]);
    }
    free(n->items);
    free(n->keys);
    free(n->text);
    free(n);
    if (doc) doc->nnodes--;
}

int sn_ynode_append(sn_ynode *parent, sn_ynode *key, sn_ynode *value) {
    if (parent->n == parent->cap) {
        int nc = parent->cap ? parent->cap * 2 : 4;
        sn_ynode **ni = realloc(parent->items, (size_t)nc * sizeof *ni);
        if (!ni) return 0;
        parent->items = ni;
        if (parent->kind == SN_YMAP) {
            sn_ynode **nk = realloc(parent->keys, (size_t)nc * sizeof *nk);
            if (!nk) return 0;
            parent->keys = nk;
        }
        parent->cap = nc;
    }
    if (parent->kind == SN_YMAP) parent->keys[parent->n] = key;
    parent->items[parent->n++] = value;
    return 1;
}

const char *sn_ydoc_intern(sn_ydoc *doc, const char *s) {
    if (doc->norigins == doc->origins_cap) {
        int nc = doc->origins_cap ? doc->origins_cap * 2 : 8;
        char **no = realloc(doc->origins, (size_t)nc * sizeof *no);
        if (!no) return NULL;
        doc->origins = no;
        doc->origins_cap = nc;
    }
    char *c = sn_strdup(s);
    if (!c) return NULL;
    doc->origins[doc->norigins++] = c;
    return c;
}

void sn_ydoc_free(sn_ydoc *doc) {
    if (!doc) return;
    sn_ynode_free(doc, doc->root);
    doc->root = NULL;
    for (int i = 0; i < doc->norigins; i++) free(doc->origins[i]);
    free(doc->origins);
    doc->origins = NULL;
    doc->norigins = doc->origins_cap = 0;
    doc->nnodes = 0;
}

int sn_ymap_find(const sn_ynode *map, const char *key) {
    if (!map || map->kind != SN_YMAP) return -1;
    size_t kl = strlen(key);
    for (int i = 0; i < map->n; i++)
        if (map->keys[i]->len == kl && memcmp(map->keys[i]->text, key, kl) == 0) return i;
    return -1;
}

sn_ynode *sn_ymap_get(const sn_ynode *map, const char *key) {
    int i = sn_ymap_find(map, key);
    return i < 0 ? NULL : map->items[i];
}

void sn_ynode_where(const sn_ydoc *doc, const sn_ynode *n, char *buf, size_t size) {
    if (n && n->origin)
        snprintf(buf, size, "%s", n->origin);
    else if (n)
        snprintf(buf, size, "%s:%d:%d", doc->name, n->line, n->col);
    else
        snprintf(buf, size, "%s", doc->name);
}

int sn_yscalar_is_null(const sn_ynode *n) {
    if (!n || n->kind != SN_YSCALAR || n->quoted) return 0;
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};
    for (size_t i = 0; i < SN_ARRAY_LEN(nulls); i++)
        if (strcmp(n->text, nulls[i]) == 0 && n->len == strlen(nulls[i])) return 1;
    return 0;
}

/* ---- input checks ---------------------------------------------------------------------- */

/* 1-based line and column (in characters) of byte `off`. */
static void offset_to_linecol(const unsigned char *s, size_t len, size_t off, int *line, int *col) {
    int l = 1, c = 1;
    if (off > len) off = len;
    for (size_t i = 0; i < off; i++) {
        if (s[i] == '\n') {
            l++;
            c = 1;
        } else if ((s[i] & 0xC0) != 0x80) {
            if (l < 1000000000 && c < 1000000000) c++;
        }
    }
    *line = l;
    *col = c;
}

/* Returns the offset of the first byte that is not valid UTF-8 (or is NUL), or len. */
static size_t utf8_invalid_at(const unsigned char *s, size_t len) {
    size_t i = 0;
    while (i < len) {
        unsigned char b = s[i];
        if (b == 0) return i;
        if (b < 0x80) {
            i++;
            continue;
        }
        int need;
        unsigned cp;
        if (b >= 0xC2 && b <= 0xDF) {
            need = 1;
            cp = b & 0x1F;
        } else if (b >= 0xE0 && b <= 0xEF) {
            need = 2;
            cp = b & 0x0F;
        } else if (b >= 0xF0 && b <= 0xF4) {
            need = 3;
            cp = b & 0x07;
        } else {
            return i;
        }
        if (len - i <= (size_t)need) return i;
        for (int k = 1; k <= need; k++) {
            if ((s[i + k] & 0xC0) != 0x80) return i;
            cp = (cp << 6) | (s[i + k] & 0x3F);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10FFFF ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return i;
        i += (size_t)need + 1;
    }
    return len;
}

/* ---- the event loop -------------------------------------------------------------------- */

typedef struct frame {
    sn_ynode *node;
    sn_ynode *key; /* mapping: the key waiting for its value */
} frame;

typedef struct parse_ctx {
    sn_ydoc *doc;
    const char *origin; /* NULL: file; else every node gets it and errors cite it */
    const unsigned char *text;
    size_t len;
    sn_status *st;
    frame stack[SN_YAML_MAX_DEPTH];
    int depth;
    sn_ynode *root;
} parse_ctx;

static int clamp_int(size_t v) {
    return v > 999999999 ? 999999999 : (int)v;
}

/* Formats the position prefix for a libyaml mark (0-based) into buf. */
static void mark_where(const parse_ctx *c, yaml_mark_t m, char *buf, size_t size) {
    if (c->origin)
        snprintf(buf, size, "%s", c->origin);
    else
        snprintf(buf, size, "%s:%d:%d", c->doc->name, clamp_int(m.line + 1),
                 clamp_int(m.column + 1));
}

static sn_code fail_at(parse_ctx *c, yaml_mark_t m, const char *what) {
    char where[1200];
    mark_where(c, m, where, sizeof where);
    return sn_fail(c->st, SN_ERR_INPUT, "%s: %s", where, what);
}

static sn_code fail_oom(parse_ctx *c) {
    return sn_fail(c->st, SN_ERR_RUNTIME, "%s: out of memory while reading YAML",
                   c->origin ? c->origin : c->doc->name);
}

static sn_code parser_error(parse_ctx *c, const yaml_parser_t *p) {
    if (p->error == YAML_MEMORY_ERROR) return fail_oom(c);
    char where[1200];
    const char *problem = p->problem ? p->problem : "invalid YAML";
    if (p->error == YAML_READER_ERROR) {
        int line, col;
        offset_to_linecol(c->text, c->len, p->problem_offset, &line, &col);
        if (c->origin)
            snprintf(where, sizeof where, "%s", c->origin);
        else
            snprintf(where, sizeof where, "%s:%d:%d", c->doc->name, line, col);
        return sn_fail(c->st, SN_ERR_INPUT, "%s: %s", where, problem);
    }
    mark_where(c, p->problem_mark, where, sizeof where);
    if (p->context)
        return sn_fail(c->st, SN_ERR_INPUT, "%s: %s (%s that started at line %d, column %d)", where,
                       problem, p->context, clamp_int(p->context_mark.line + 1),
                       clamp_int(p->context_mark.column + 1));
    return sn_fail(c->st, SN_ERR_INPUT, "%s: %s", where, problem);
}

static sn_ynode *new_node(parse_ctx *c, sn_ynode_kind kind, yaml_mark_t m) {
    if (c->doc->nnodes >= SN_YAML_MAX_NODES) {
        char msg[128];
        snprintf(msg, sizeof msg, "too many YAML nodes (the limit is %d)", SN_YAML_MAX_NODES);
        fail_at(c, m, msg);
        return NULL;
    }
    sn_ynode *n = sn_ynode_new(c->doc, kind, c->origin);
    if (!n) {
        fail_oom(c);
        return NULL;
    }
    if (!c->origin) {
        n->line = clamp_int(m.line + 1);
        n->col = clamp_int(m.column + 1);
    }
    return n;
}

/* Attaches a finished or just-opened node to its parent (or makes it the root). On error
 * the node is freed. */
static sn_code attach(parse_ctx *c, sn_ynode *n, yaml_mark_t m) {
    if (c->depth == 0) {
        c->root = n;
        return SN_OK;
    }
    frame *f = &c->stack[c->depth - 1];
    if (f->node->kind == SN_YSEQ) {
        if (!sn_ynode_append(f->node, NULL, n)) {
            sn_ynode_free(c->doc, n);
            return fail_oom(c);
        }
        return SN_OK;
    }
    if (!f->key) {
        if (n->kind != SN_YSCALAR) {
            sn_ynode_free(c->doc, n);
            return fail_at(c, m, "mapping keys must be plain strings, not sequences or mappings");
        }
        if (f->node->n >= SN_YAML_MAX_KEYS) {
            sn_ynode_free(c->doc, n);
            char msg[96];
            snprintf(msg, sizeof msg, "too many keys in one mapping (the limit is %d)",
                     SN_YAML_MAX_KEYS);
            return fail_at(c, m, msg);
        }
        for (int i = 0; i < f->node->n; i++) {
            const sn_ynode *k = f->node->keys[i];
            if (k->len == n->len && memcmp(k->text, n->text, n->len) == 0) {
                char msg[256];
                if (c->origin)
                    snprintf(msg, sizeof msg, "duplicate key '%.64s'", n->text);
                else
                    snprintf(msg, sizeof msg,
                             "duplicate key '%.64s' (first given at line %d, "
                             "column %d)",
                             n->text, k->line, k->col);
                sn_ynode_free(c->doc, n);
                return fail_at(c, m, msg);
            }
        }
        f->key = n;
        return SN_OK;
    }
    if (!sn_ynode_append(f->node, f->key, n)) {
        sn_ynode_free(c->doc, n);
        return fail_oom(c);
    }
    f->key = NULL;
    return SN_OK;
}

static sn_code check_props(parse_ctx *c, const yaml_event_t *ev, const yaml_char_t *anchor,
                           const yaml_char_t *tag) {
    (void)ev;
    if (anchor)
        return fail_at(c, ev->start_mark,
                       "YAML anchors (&name) are not supported in model files; write the "
                       "value out");
    if (tag)
        return fail_at(c, ev->start_mark,
                       "YAML tags (!tag) are not supported in model files; remove the tag");
    return SN_OK;
}

static sn_code handle_event(parse_ctx *c, yaml_event_t *ev, int *ndocs, int *done) {
    switch (ev->type) {
    case YAML_NO_EVENT:
    case YAML_STREAM_START_EVENT:
        return SN_OK;
    case YAML_STREAM_END_EVENT:
        *done = 1;
        return SN_OK;
    case YAML_DOCUMENT_START_EVENT:
        if (*ndocs > 0)
            return fail_at(c, ev->start_mark,
                           c->origin ? "expected a single value"
                                     : "a second YAML document ('---') is not allowed: a model "
                                       "file holds exactly one document");
        (*ndocs)++;
        return SN_OK;
    case YAML_DOCUMENT_END_EVENT:
        return SN_OK;
    case YAML_ALIAS_EVENT:
        return fail_at(c, ev->start_mark,
                       "YAML aliases (*name) are not supported in model files; write the value "
                       "out");
    case YAML_SCALAR_EVENT: {
        if (check_props(c, ev, ev->data.scalar.anchor, ev->data.scalar.tag) != SN_OK)
            return c->st->code;
        if (ev->data.scalar.length > SN_YAML_MAX_SCALAR) {
            char msg[96];
            snprintf(msg, sizeof msg, "value too long (%zu bytes; the limit is %d)",
                     ev->data.scalar.length, SN_YAML_MAX_SCALAR);
            return fail_at(c, ev->start_mark, msg);
        }
        sn_ynode *n = new_node(c, SN_YSCALAR, ev->start_mark);
        if (!n) return c->st->code;
        n->len = ev->data.scalar.length;
        n->text = malloc(n->len + 1);
        if (!n->text) {
            sn_ynode_free(c->doc, n);
            return fail_oom(c);
        }
        if (n->len) memcpy(n->text, ev->data.scalar.value, n->len);
        n->text[n->len] = '\0';
        n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
        return attach(c, n, ev->start_mark);
    }
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        int is_seq = ev->type == YAML_SEQUENCE_START_EVENT;
        if (check_props(c, ev,
                        is_seq ? ev->data.sequence_start.anchor : ev->data.mapping_start.anchor,
                        is_seq ? ev->data.sequence_start.tag : ev->data.mapping_start.tag) != SN_OK)
            return c->st->code;
        if (c->depth >= SN_YAML_MAX_DEPTH) {
            char msg[96];
            snprintf(msg, sizeof msg, "nesting too deep (the limit is %d levels)",
                     SN_YAML_MAX_DEPTH);
            return fail_at(c, ev->start_mark, msg);
        }
        sn_ynode *n = new_node(c, is_seq ? SN_YSEQ : SN_YMAP, ev->start_mark);
        if (!n) return c->st->code;
        /* A key that is a collection is rejected by attach() before it is pushed. */
        if (attach(c, n, ev->start_mark) != SN_OK) return c->st->code;
        c->stack[c->depth].node = n;
        c->stack[c->depth].key = NULL;
        c->depth++;
        return SN_OK;
    }
    case YAML_SEQUENCE_END_EVENT:
    case YAML_MAPPING_END_EVENT:
        if (c->depth > 0) c->depth--;
        return SN_OK;
    }
    return SN_OK;
}

/* Frees whatever a failed parse left behind: the root owns every attached node; pending
 * keys are owned by their frames. */
static void cleanup_failed(parse_ctx *c) {
    for (int i = 0; i < c->depth; i++) {
        sn_ynode_free(c->doc, c->stack[i].key);
        c->stack[i].key = NULL;
    }
    sn_ynode_free(c->doc, c->root);
    c->root = NULL;
    c->depth = 0;
}

static sn_code parse_tree(parse_ctx *c) {
    /* A UTF-8 byte-order mark is skipped here: libyaml, told the encoding, would read it as
     * content. */
    if (c->len >= 3 && c->text[0] == 0xEF && c->text[1] == 0xBB && c->text[2] == 0xBF) {
        c->text += 3;
        c->len -= 3;
    }
    size_t bad = utf8_invalid_at(c->text, c->len);
    if (bad < c->len) {
        int line, col;
        offset_to_linecol(c->text, c->len, bad, &line, &col);
        char where[1200];
        if (c->origin)
            snprintf(where, sizeof where, "%s", c->origin);
        else
            snprintf(where, sizeof where, "%s:%d:%d", c->doc->name, line, col);
        if (c->text[bad] == 0)
            return sn_fail(c->st, SN_ERR_INPUT, "%s: NUL byte in the YAML text", where);
        return sn_fail(c->st, SN_ERR_INPUT,
                       "%s: invalid UTF-8 (byte 0x%02x): YAML files must be UTF-8 text", where,
                       c->text[bad]);
    }
    yaml_parser_t p;
    if (!yaml_parser_initialize(&p)) return fail_oom(c);
    yaml_parser_set_input_string(&p, c->text, c->len);
    yaml_parser_set_encoding(&p, YAML_UTF8_ENCODING);
    int ndocs = 0, done = 0;
    sn_code rc = SN_OK;
    while (!done) {
        yaml_event_t ev;
        if (!yaml_parser_parse(&p, &ev)) {
            rc = parser_error(c, &p);
            break;
        }
        rc = handle_event(c, &ev, &ndocs, &done);
        yaml_event_delete(&ev);
        if (rc != SN_OK) break;
    }
    yaml_parser_delete(&p);
    if (rc != SN_OK) {
        cleanup_failed(c);
        return rc;
    }
    if (!c->root ||
        (!c->origin && c->root->kind == SN_YSCALAR && !c->root->quoted && c->root->len == 0)) {
        cleanup_failed(c);
        if (c->origin) return sn_fail(c->st, SN_ERR_INPUT, "%s: the value is empty", c->origin);
        return sn_fail(c->st, SN_ERR_INPUT, "%s:1:1: the YAML document is empty", c->doc->name);
    }
    return SN_OK;
}

sn_code sn_ydoc_parse(sn_ydoc *doc, const char *name, const char *text, size_t len, sn_status *st) {
    memset(doc, 0, sizeof *doc);
    sn_strlcpy(doc->name, name ? name : "<input>", sizeof doc->name);
    if (len > SN_YAML_MAX_BYTES)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: file too large (%zu bytes; a model YAML may have "
                       "at most %u)",
                       doc->name, len, SN_YAML_MAX_BYTES);
    parse_ctx c;
    memset(&c, 0, sizeof c);
    c.doc = doc;
    c.text = (const unsigned char *)(text ? text : "");
    c.len = text ? len : 0;
    c.st = st;
    if (parse_tree(&c) != SN_OK) return st->code;
    doc->root = c.root;
    return SN_OK;
}

sn_code sn_ydoc_parse_value(sn_ydoc *doc, const char *origin, const char *text, size_t len,
                            sn_ynode **out, sn_status *st) {
    *out = NULL;
    const char *org = sn_ydoc_intern(doc, origin);
    if (!org) return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", origin);
    if (len > SN_YAML_MAX_SCALAR)
        return sn_fail(st, SN_ERR_INPUT, "%s: value too long (%zu bytes)", origin, len);
    parse_ctx c;
    memset(&c, 0, sizeof c);
    c.doc = doc;
    c.origin = org;
    c.text = (const unsigned char *)text;
    c.len = len;
    c.st = st;
    if (parse_tree(&c) != SN_OK) return st->code;
    *out = c.root;
    return SN_OK;
}
