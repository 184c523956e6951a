/* A small YAML document tree for the frontend.
 *
 * The YAML text is read with libyaml's event API into scalars, sequences and mappings,
 * each recording where it was written (1-based line and column) so that every later
 * error can point at the YAML. What is accepted:
 *   - exactly one document, valid UTF-8 (a UTF-8 byte-order mark is allowed), no NUL bytes;
 *   - scalars, sequences and mappings in block or flow style;
 *   - mapping keys are scalars and are unique within their mapping.
 * What is rejected (with FILE:LINE:COL): anchors, aliases and explicit tags (a model file
 * has no use for them and resolving them would let a small file expand into a huge
 * tree), a second document, an empty stream, duplicate keys, and inputs beyond the limits
 * below. libyaml's own syntax errors become "FILE:LINE:COL: <problem> (<context>)".
 *
 * Nodes that come from a `--set` override carry `origin` ("--set train.lr"): messages
 * about them name the override instead of a file position.
 */
#ifndef SN_YAML_DOM_H
#define SN_YAML_DOM_H

#include <stddef.h>

#include "../../runtime/core/status.h"

#define SN_YAML_MAX_BYTES  (4u << 20) /* input size */
#define SN_YAML_MAX_DEPTH  64         /* nesting of sequences and mappings */
#define SN_YAML_MAX_NODES  100000     /* nodes per document */
#define SN_YAML_MAX_SCALAR 65536      /* bytes per scalar */
#define SN_YAML_MAX_KEYS   1024       /* entries per mapping */

typedef enum sn_ynode_kind { SN_YSCALAR, SN_YSEQ, SN_YMAP } sn_ynode_kind;

typedef struct sn_ynode {
    sn_ynode_kind kind;
    int line, col;      /* 1-based; 0 for nodes made by an override */
    const char *origin; /* NULL: from the file; else "--set KEY" (owned by the document) */
    /* SN_YSCALAR */
    char *text; /* NUL-terminated; `len` bytes (may hold an escaped NUL: check len) */
    size_t len;
    int quoted; /* 1 for quoted, literal or folded scalars: always strings, never numbers */
    /* SN_YSEQ: items[0..n); SN_YMAP: keys[i] (scalars) -> items[i] */
    int n, cap;
    struct sn_ynode **items;
    struct sn_ynode **keys;
} sn_ynode;

typedef struct sn_ydoc {
    sn_ynode *root;
    char name[1024]; /* the file name used in messages */
    int nnodes;
    char **origins; /* strings that nodes' `origin` point to */
    int norigins, origins_cap;
} sn_ydoc;

/* Parses `text` (len bytes, need not be NUL-terminated) as one YAML document. On error
 * returns SN_ERR_INPUT ("NAME:LINE:COL: ...") or SN_ERR_RUNTIME (out of memory) and
 * leaves doc empty. Always call sn_ydoc_free afterwards. */
sn_code sn_ydoc_parse(sn_ydoc *doc, const char *name, const char *text, size_t len, sn_status *st);
void sn_ydoc_free(sn_ydoc *doc);

/* Parses `text` as a single YAML value (a `--set` right-hand side) into a new tree whose
 * nodes all carry `origin` (copied into doc). Errors read "ORIGIN: <problem>". The tree is
 * not attached anywhere: attach it, or free it with sn_ynode_free. */
sn_code sn_ydoc_parse_value(sn_ydoc *doc, const char *origin, const char *text, size_t len,
                            sn_ynode **out, sn_status *st);

/* Allocation helpers for building trees by hand (overrides); NULL on out of memory or when
 * the document's node limit is reached. */
sn_ynode *sn_ynode_new(sn_ydoc *doc, sn_ynode_kind kind, const char *origin);
sn_ynode *sn_ynode_new_scalar(sn_ydoc *doc, const char *text, size_t len, const char *origin);
/* Appends to a sequence (key NULL) or a mapping; returns 0 on out of memory. */
int sn_ynode_append(sn_ynode *parent, sn_ynode *key, sn_ynode *value);
void sn_ynode_free(sn_ydoc *doc, sn_ynode *n);
/* Copies `s` into the document; returns the copy (for `origin`), NULL on out of memory. */
const char *sn_ydoc_intern(sn_ydoc *doc, const char *s);

/* The value stored under `key` in a mapping, or NULL (also when `map` is not a mapping). */
sn_ynode *sn_ymap_get(const sn_ynode *map, const char *key);
/* Index of `key` in a mapping, or -1. */
int sn_ymap_find(const sn_ynode *map, const char *key);

/* "NAME:LINE:COL" for a file node, or the override's origin ("--set KEY"). */
void sn_ynode_where(const sn_ydoc *doc, const sn_ynode *n, char *buf, size_t size);

/* A scalar is "null" when it is plain and spelled "", "~", "null", "Null" or "NULL". */
int sn_yscalar_is_null(const sn_ynode *n);

/* Applies one "key.path=value" override (see overrides.c); errors read "--set KEY: ...". */
sn_code sn_ydoc_apply_override(sn_ydoc *doc, const char *assignment, sn_status *st);

#endif
