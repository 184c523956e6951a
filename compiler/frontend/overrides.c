/* `--set key.path=value` overrides, applied to the YAML tree before it is converted.
 *
 * Path components are mapping keys or decimal indices into existing list entries
 * (`network.0.features.2.conv2d.out_channels`). Missing mapping keys are created, so
 * `--set quant.k=1` works on a file without a quant section. The value is parsed as a
 * YAML value (`[16, M, 32]`, `{k: 1, B: 2}`, `0.1`, `none`); an empty value ("KEY=")
 * removes KEY, so that its default applies again. Every node an override makes
 * carries the origin "--set KEY", so validation errors about it (unknown key, wrong type)
 * name the override instead of a file position. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "yaml_dom.h"

#define MAX_COMPONENTS 16
#define MAX_KEY_LEN    512

static int parse_index(const char *s, int *out) {
    if (!*s) return 0;
    long v = 0;
    for (const char *p = s; *p; p++) {
        if (!isdigit((unsigned char)*p)) return 0;
        v = v * 10 + (*p - '0');
        if (v > 1000000) return 0;
    }
    *out = (int)v;
    return 1;
}

static const char *kind_word(const sn_ynode *n) {
    return n->kind == SN_YSEQ ? "a list" : n->kind == SN_YMAP ? "a mapping" : "a single value";
}

/* The node in *slot, to walk further into; an empty value (`train:` with nothing after it)
 * becomes an empty mapping first, so `--set train.lr=0.1` works on it. NULL on out of
 * memory. */
static sn_ynode *descend(sn_ydoc *doc, sn_ynode **slot, const char *origin) {
    if (!sn_yscalar_is_null(*slot)) return *slot;
    sn_ynode *m = sn_ynode_new(doc, SN_YMAP, origin);
    if (!m) return NULL;
    sn_ynode_free(doc, *slot);
    *slot = m;
    return m;
}

/* "KEY=" (nothing after '='): removes KEY so that its default applies. */
static sn_code remove_key(sn_ydoc *doc, const char *key, char **comp, int ncomp, sn_status *st) {
    sn_ynode *cur = doc->root;
    char parent[MAX_KEY_LEN] = "";
    for (int i = 0; i < ncomp; i++) {
        int last = i == ncomp - 1;
        if (cur->kind == SN_YSEQ) {
            int idx;
            if (last)
                return sn_fail(st, SN_ERR_INPUT,
                               "--set %s=: list entries cannot be removed; "
                               "set the whole list instead",
                               key);
            if (!parse_index(comp[i], &idx) || idx >= cur->n)
                return sn_fail(st, SN_ERR_INPUT,
                               "--set %s=: '%s' has no entry '%s' to remove "
                               "from",
                               key, parent, comp[i]);
            cur = cur->items[idx];
        } else {
            int at = cur->kind == SN_YMAP ? sn_ymap_find(cur, comp[i]) : -1;
            if (at < 0 && i == 0)
                return sn_fail(st, SN_ERR_INPUT,
                               "--set %s=: there is no top-level key '%s' to "
                               "remove",
                               key, comp[i]);
            if (at < 0)
                return sn_fail(st, SN_ERR_INPUT, "--set %s=: '%s' has no key '%s' to remove", key,
                               parent, comp[i]);
            if (last) {
                sn_ynode_free(doc, cur->keys[at]);
                sn_ynode_free(doc, cur->items[at]);
                for (int j = at; j + 1 < cur->n; j++) {
                    cur->keys[j] = cur->keys[j + 1];
                    cur->items[j] = cur->items[j + 1];
                }
                cur->n--;
                return SN_OK;
            }
            cur = cur->items[at];
        }
        size_t off = 0;
        for (int j = 0; j <= i; j++)
            off +=
                (size_t)snprintf(parent + off, sizeof parent - off, "%s%s", j ? "." : "", comp[j]);
    }
    return SN_OK;
}

sn_code sn_ydoc_apply_override(sn_ydoc *doc, const char *assignment, sn_status *st) {
    if (!assignment) return sn_fail(st, SN_ERR_INPUT, "--set: missing KEY=VALUE");
    const char *eq = strchr(assignment, '=');
    if (!eq)
        return sn_fail(st, SN_ERR_INPUT, "--set %.200s: expected KEY=VALUE (e.g. train.lr=0.1)",
                       assignment);
    /* the key, without surrounding blanks */
    const char *kb = assignment, *ke = eq;
    while (kb < ke && isspace((unsigned char)*kb)) kb++;
    while (ke > kb && isspace((unsigned char)ke[-1])) ke--;
    size_t klen = (size_t)(ke - kb);
    if (klen == 0)
        return sn_fail(st, SN_ERR_INPUT, "--set %.200s: the key before '=' is empty", assignment);
    if (klen >= MAX_KEY_LEN) return sn_fail(st, SN_ERR_INPUT, "--set %.64s...: key too long", kb);
    char key[MAX_KEY_LEN];
    memcpy(key, kb, klen);
    key[klen] = '\0';
    char origin[MAX_KEY_LEN + 8];
    snprintf(origin, sizeof origin, "--set %s", key);

    /* split the path */
    char parts[MAX_KEY_LEN];
    memcpy(parts, key, klen + 1);
    char *comp[MAX_COMPONENTS];
    int ncomp = 0;
    char *p = parts;
    for (;;) {
        char *dot = strchr(p, '.');
        if (dot) *dot = '\0';
        if (!*p) return sn_fail(st, SN_ERR_INPUT, "%s: empty component in the key path", origin);
        for (const char *q = p; *q; q++)
            if (isspace((unsigned char)*q) || *q == '=')
                return sn_fail(st, SN_ERR_INPUT, "%s: unexpected character '%c' in the key path",
                               origin, *q);
        if (ncomp == MAX_COMPONENTS)
            return sn_fail(st, SN_ERR_INPUT, "%s: key path has more than %d components", origin,
                           MAX_COMPONENTS);
        comp[ncomp++] = p;
        if (!dot) break;
        p = dot + 1;
    }

    const char *vb = eq + 1;
    while (*vb && isspace((unsigned char)*vb)) vb++;

    if (!doc->root || doc->root->kind != SN_YMAP)
        return sn_fail(st, SN_ERR_INPUT, "%s: the model file's top level is not a mapping", origin);
    if (!*vb) return remove_key(doc, key, comp, ncomp, st);

    sn_ynode *value = NULL;
    if (sn_ydoc_parse_value(doc, origin, vb, strlen(vb), &value, st) != SN_OK) return st->code;
    const char *org = value->origin; /* the interned copy */

    sn_ynode *cur = doc->root;
    for (int i = 0; i < ncomp; i++) {
        int last = i == ncomp - 1;
        /* the path walked so far, for messages */
        char sofar[MAX_KEY_LEN];
        size_t off = 0;
        for (int j = 0; j < i; j++)
            off += (size_t)snprintf(sofar + off, sizeof sofar - off, "%s%s", j ? "." : "", comp[j]);
        if (i == 0) snprintf(sofar, sizeof sofar, "the top level");

        if (cur->kind == SN_YSEQ) {
            int idx;
            if (!parse_index(comp[i], &idx)) {
                sn_ynode_free(doc, value);
                return sn_fail(st, SN_ERR_INPUT,
                               "%s: '%s' is a list: expected an index (0, 1, "
                               "...) instead of '%s'",
                               origin, sofar, comp[i]);
            }
            if (idx >= cur->n) {
                sn_ynode_free(doc, value);
                return sn_fail(st, SN_ERR_INPUT,
                               "%s: index %d is out of range: '%s' has %d "
                               "entr%s",
                               origin, idx, sofar, cur->n, cur->n == 1 ? "y" : "ies");
            }
            if (last) {
                sn_ynode_free(doc, cur->items[idx]);
                cur->items[idx] = value;
                return SN_OK;
            }
            cur = descend(doc, &cur->items[idx], org);
            if (!cur) break;
            continue;
        }
        if (cur->kind != SN_YMAP) {
            sn_ynode_free(doc, value);
            return sn_fail(st, SN_ERR_INPUT, "%s: '%s' is %s, so it has no '%s'", origin, sofar,
                           kind_word(cur), comp[i]);
        }
        int at = sn_ymap_find(cur, comp[i]);
        if (at >= 0) {
            if (last) {
                sn_ynode_free(doc, cur->items[at]);
                cur->items[at] = value;
                return SN_OK;
            }
            cur = descend(doc, &cur->items[at], org);
            if (!cur) break;
            continue;
        }
        if (cur->n >= SN_YAML_MAX_KEYS) {
            sn_ynode_free(doc, value);
            return sn_fail(st, SN_ERR_INPUT, "%s: too many keys in '%s'", origin, sofar);
        }
        sn_ynode *k = sn_ynode_new_scalar(doc, comp[i], strlen(comp[i]), org);
        sn_ynode *v = last ? value : sn_ynode_new(doc, SN_YMAP, org);
        if (!k || !v || !sn_ynode_append(cur, k, v)) {
            sn_ynode_free(doc, k);
            if (v != value) sn_ynode_free(doc, v);
            sn_ynode_free(doc, value);
            return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", origin);
        }
        if (last) return SN_OK;
        cur = v;
    }
    sn_ynode_free(doc, value); /* only reached when descend() ran out of memory */
    return sn_fail(st, SN_ERR_RUNTIME, "%s: out of memory", origin);
}
