/* YAML tree -> sn_model_spec: defaults, validation and VGG expansion.
 *
 * The schema is documented in docs/model-yaml.md; keep the two in step. Every error is
 * SN_ERR_INPUT with the position of the offending node ("FILE:LINE:COL", or "--set KEY"
 * for a value that came from an override) and says what was expected. */
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "spec.h"
#include "yaml_dom.h"

#define MAX_LAYERS   4096
#define MAX_CHANNELS (1 << 20) /* channels, features, classes */
#define MAX_SPATIAL  65536     /* input height/width */
#define MAX_KERNEL   4096      /* kernel, stride, padding */
#define MAX_EPOCHS   1000000
#define MAX_BATCH    (1 << 20)
#define MAX_QUANT_K  16
#define MAX_LEVELS   65536 /* 2^k * B */

typedef struct cv {
    sn_ydoc *doc;
    sn_status *st;
    sn_model_spec *spec;
    int layers_cap;
} cv;

/* ---- messages -------------------------------------------------------------------------- */

static sn_code errf(cv *c, const sn_ynode *at, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static sn_code errf(cv *c, const sn_ynode *at, const char *fmt, ...) {
    char where[1200], msg[2048];
    sn_ynode_where(c->doc, at, where, sizeof where);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* "--set train.lr: train.lr must be ..." reads better as "--set train.lr: must be ..." */
    const char *m = msg;
    if (at && at->origin && strncmp(at->origin, "--set ", 6) == 0) {
        size_t k = strlen(at->origin + 6);
        if (strncmp(msg, at->origin + 6, k) == 0 && (msg[k] == ':' || msg[k] == ' '))
            m = msg + k + (msg[k] == ':' ? 2 : 1);
    }
    return sn_fail(c->st, SN_ERR_INPUT, "%s: %s", where, m);
}

/* "train.lr", "layer features.3 (conv2d): kernel_size", or just the key at the top. */
static void field(char *buf, size_t n, const char *scope, const char *key) {
    if (!scope || !*scope)
        snprintf(buf, n, "%s", key);
    else if (strncmp(scope, "layer ", 6) == 0)
        snprintf(buf, n, "%s: %s", scope, key);
    else
        snprintf(buf, n, "%s.%s", scope, key);
}

/* A short, printable rendering of a node for messages: 'text', a list, a mapping. */
static const char *show(const sn_ynode *n, char *buf, size_t size) {
    if (n->kind == SN_YSEQ) return "a list";
    if (n->kind == SN_YMAP) return "a mapping";
    size_t o = 0;
    buf[o++] = '\'';
    size_t i = 0, shown = 0;
    while (i < n->len && o + 8 < size && shown < 48) {
        unsigned char ch = (unsigned char)n->text[i];
        size_t w = ch < 0x80 ? 1 : ch >= 0xF0 ? 4 : ch >= 0xE0 ? 3 : 2;
        if (i + w > n->len) break;
        if (ch < 0x20 || ch == 0x7F) {
            buf[o++] = '?';
        } else {
            memcpy(buf + o, n->text + i, w);
            o += w;
        }
        i += w;
        shown++;
    }
    if (i < n->len && o + 4 < size) {
        memcpy(buf + o, "...", 3);
        o += 3;
    }
    buf[o++] = '\'';
    buf[o] = '\0';
    return buf;
}

/* The scalar's text without quotes, for "got 0" in range errors. */
static const char *raw(const sn_ynode *n, char *buf, size_t size) {
    show(n, buf, size);
    size_t len = strlen(buf);
    if (len >= 2 && buf[0] == '\'' && buf[len - 1] == '\'') {
        memmove(buf, buf + 1, len - 2);
        buf[len - 2] = '\0';
    }
    return buf;
}

static sn_code type_err(cv *c, const sn_ynode *n, const char *scope, const char *key,
                        const char *expected) {
    char f[256], s[300];
    field(f, sizeof f, scope, key);
    if (n->kind == SN_YSCALAR && n->quoted && strstr(expected, "number"))
        return errf(c, n,
                    "%s: expected %s, got the quoted string %s (write numbers without "
                    "quotes)",
                    f, expected, show(n, s, sizeof s));
    if (n->kind == SN_YSCALAR && sn_yscalar_is_null(n))
        return errf(c, n, "%s: expected %s, got an empty value", f, expected);
    return errf(c, n, "%s: expected %s, got %s", f, expected, show(n, s, sizeof s));
}

/* The candidate a misspelt `word` most likely meant, or NULL: a near edit (sn_suggest), a
 * swap of two neighbouring letters ("agv" -> "avg"), or a unique prefix ("kernel" ->
 * "kernel_size"). */
static const char *suggest(const char *word, const char *const *cands) {
    const char *s = sn_suggest(word, cands);
    if (s) return s;
    size_t wl = strlen(word);
    for (int i = 0; cands[i]; i++) {
        size_t cl = strlen(cands[i]);
        if (cl != wl || wl < 2) continue;
        size_t first = wl, diffs = 0;
        for (size_t k = 0; k < wl; k++)
            if (word[k] != cands[i][k]) {
                if (first == wl) first = k;
                diffs++;
            }
        if (diffs == 2 && first + 1 < wl && word[first] == cands[i][first + 1] &&
            word[first + 1] == cands[i][first])
            return cands[i];
    }
    if (wl < 3) return NULL;
    const char *hit = NULL;
    for (int i = 0; cands[i]; i++) {
        size_t cl = strlen(cands[i]);
        int prefix = cl > wl ? !strncmp(cands[i], word, wl) : !strncmp(word, cands[i], cl);
        if (prefix && cl >= 3) {
            if (hit) return NULL; /* ambiguous */
            hit = cands[i];
        }
    }
    return hit;
}

/* Is n the plain or quoted scalar `word` (and nothing more: no embedded NUL)? */
static int is_word(const sn_ynode *n, const char *word) {
    return n->kind == SN_YSCALAR && n->len == strlen(word) && memcmp(n->text, word, n->len) == 0;
}

/* ---- scalars --------------------------------------------------------------------------- */

/* 1: an integer in *out; 0: not an integer; -1: an integer too large for long long. */
static int parse_ll(const sn_ynode *n, long long *out) {
    if (n->kind != SN_YSCALAR || n->quoted || n->len != strlen(n->text)) return 0;
    const char *s = n->text;
    int neg = 0;
    if (*s == '+' || *s == '-') neg = *s++ == '-';
    if (!*s) return 0;
    unsigned long long v = 0;
    int over = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9') return 0;
        if (v > (ULLONG_MAX - 9) / 10)
            over = 1;
        else
            v = v * 10 + (unsigned)(*s - '0');
    }
    if (over || v > (unsigned long long)LLONG_MAX) return -1;
    *out = neg ? -(long long)v : (long long)v;
    return 1;
}

/* 1: a finite number in *out; 0: not a number; -1: nan/inf; -2: beyond float range. */
static int parse_num(const sn_ynode *n, double *out) {
    if (n->kind != SN_YSCALAR || n->quoted || n->len != strlen(n->text)) return 0;
    const char *s = n->text;
    const char *p = s;
    if (*p == '+' || *p == '-') p++;
    {
        const char *q = *p == '.' ? p + 1 : p;
        if (!strcmp(q, "inf") || !strcmp(q, "Inf") || !strcmp(q, "INF") || !strcmp(q, "nan") ||
            !strcmp(q, "NaN") || !strcmp(q, "NAN"))
            return -1;
    }
    int digits = 0;
    while (*p >= '0' && *p <= '9') p++, digits++;
    if (*p == '.') {
        p++;
        while (*p >= '0' && *p <= '9') p++, digits++;
    }
    if (!digits) return 0;
    if (*p == 'e' || *p == 'E') {
        p++;
        if (*p == '+' || *p == '-') p++;
        if (!(*p >= '0' && *p <= '9')) return 0;
        while (*p >= '0' && *p <= '9') p++;
    }
    if (*p) return 0;
    double v = strtod(s, NULL);
    if (!isfinite(v)) return -2;
    if (fabs(v) > FLT_MAX) return -2;
    *out = v;
    return 1;
}

static int rd_int(cv *c, const sn_ynode *n, const char *scope, const char *key, long long lo,
                  long long hi, int *out) {
    long long v = 0;
    int r = parse_ll(n, &v);
    char f[256], s[300];
    field(f, sizeof f, scope, key);
    if (r == 0) {
        double d;
        if (parse_num(n, &d) == 1)
            return errf(c, n, "%s: expected a whole number, got %s", f, show(n, s, sizeof s)), -1;
        return type_err(c, n, scope, key, "an integer"), -1;
    }
    if (r < 0)
        return errf(c, n, "%s: %s is out of range (allowed: %lld to %lld)", f, show(n, s, sizeof s),
                    lo, hi),
               -1;
    if (v < lo) return errf(c, n, "%s must be at least %lld, got %lld", f, lo, v), -1;
    if (v > hi) return errf(c, n, "%s must be at most %lld, got %lld", f, hi, v), -1;
    *out = (int)v;
    return 0;
}

/* Range of a float: lo/hi with open (exclusive) flags; hi = INFINITY for none. */
typedef struct frange {
    double lo;
    int lo_open;
    double hi;
    int hi_open;
} frange;

static const frange F_ANY = {-FLT_MAX, 0, FLT_MAX, 0};
static const frange F_POS = {0, 1, INFINITY, 0};    /* > 0 */
static const frange F_NONNEG = {0, 0, INFINITY, 0}; /* >= 0 */
static const frange F_UNIT_HALFOPEN = {0, 0, 1, 1}; /* [0, 1) */

static int rd_float(cv *c, const sn_ynode *n, const char *scope, const char *key, frange r,
                    float *out) {
    double v;
    int p = parse_num(n, &v);
    char f[256], s[300];
    field(f, sizeof f, scope, key);
    if (p == 0) return type_err(c, n, scope, key, "a number"), -1;
    if (p == -1) return errf(c, n, "%s: NaN and infinity are not allowed", f), -1;
    if (p == -2)
        return errf(c, n, "%s: %s is out of range for a 32-bit float", f, show(n, s, sizeof s)), -1;
    /* Check the value that will be used: the 32-bit float (1e-53 is 0, 0.99999999 is 1). */
    float fv = (float)v;
    double dv = (double)fv;
    int bad_lo = r.lo_open ? !(dv > r.lo) : !(dv >= r.lo);
    int bad_hi = isinf(r.hi) ? 0 : r.hi_open ? !(dv < r.hi) : !(dv <= r.hi);
    if (bad_lo || bad_hi) {
        char note[64] = "";
        if (dv != v) snprintf(note, sizeof note, " (%g as a 32-bit float)", dv);
        if (isinf(r.hi))
            errf(c, n, "%s must be %s %g, got %s%s", f, r.lo_open ? "greater than" : "at least",
                 r.lo, raw(n, s, sizeof s), note);
        else
            errf(c, n, "%s must be in %c%g, %g%c, got %s%s", f, r.lo_open ? '(' : '[', r.lo, r.hi,
                 r.hi_open ? ')' : ']', raw(n, s, sizeof s), note);
        return -1;
    }
    *out = fv;
    return 0;
}

static int rd_bool(cv *c, const sn_ynode *n, const char *scope, const char *key, int *out) {
    static const char *const t[] = {"true", "True", "TRUE"};
    static const char *const f[] = {"false", "False", "FALSE"};
    if (n->kind == SN_YSCALAR && !n->quoted) {
        for (int i = 0; i < 3; i++) {
            if (is_word(n, t[i])) return *out = 1, 0;
            if (is_word(n, f[i])) return *out = 0, 0;
        }
    }
    return type_err(c, n, scope, key, "true or false"), -1;
}

static int rd_string(cv *c, const sn_ynode *n, const char *scope, const char *key, char *buf,
                     size_t size) {
    char f[256];
    field(f, sizeof f, scope, key);
    if (n->kind != SN_YSCALAR || sn_yscalar_is_null(n))
        return type_err(c, n, scope, key, "a string"), -1;
    if (n->len != strlen(n->text))
        return errf(c, n, "%s: the string contains a NUL character", f), -1;
    if (n->len >= size)
        return errf(c, n, "%s: the string is too long (%zu bytes, at most %zu)", f, n->len,
                    size - 1),
               -1;
    memcpy(buf, n->text, n->len + 1);
    return 0;
}

/* Picks one of `names` (NULL-terminated); suggests the nearest on a typo. */
static int rd_enum(cv *c, const sn_ynode *n, const char *scope, const char *key,
                   const char *const *names, int *out) {
    char f[256], s[300], list[512];
    field(f, sizeof f, scope, key);
    size_t o = 0;
    list[0] = '\0';
    for (int i = 0; names[i]; i++)
        o += (size_t)snprintf(list + o, o < sizeof list ? sizeof list - o : 0, "%s%s",
                              i ? (names[i + 1] ? ", " : " or ") : "", names[i]);
    if (n->kind != SN_YSCALAR || n->len != strlen(n->text)) {
        char what[600];
        snprintf(what, sizeof what, "one of %s", list);
        return type_err(c, n, scope, key, what), -1;
    }
    for (int i = 0; names[i]; i++)
        if (!strcmp(n->text, names[i])) return *out = i, 0;
    const char *sug = suggest(n->text, names);
    if (sug)
        return errf(c, n, "%s: unknown value %s; did you mean '%s'?", f, show(n, s, sizeof s), sug),
               -1;
    return errf(c, n, "%s: expected one of %s, got %s", f, list, show(n, s, sizeof s)), -1;
}

/* ---- mappings -------------------------------------------------------------------------- */

/* A section written with nothing after it (`train:`) counts as an empty mapping. */
static int expect_map(cv *c, const sn_ynode *n, const char *what) {
    if (n->kind == SN_YMAP || sn_yscalar_is_null(n)) return 0;
    char s[300];
    errf(c, n, "%s: expected a mapping of keys (key: value), got %s", what, show(n, s, sizeof s));
    return -1;
}

/* Every key of `map` must be in `allowed` (NULL-terminated). */
static int check_keys(cv *c, const sn_ynode *map, const char *scope, const char *const *allowed) {
    for (int i = 0; i < map->n; i++) {
        const sn_ynode *k = map->keys[i];
        int ok = 0;
        for (int j = 0; allowed[j] && !ok; j++)
            ok = k->len == strlen(allowed[j]) && !strcmp(k->text, allowed[j]);
        if (ok) continue;
        char s[300], in[300], list[600];
        if (scope && *scope)
            snprintf(in, sizeof in, " in %s", scope);
        else
            snprintf(in, sizeof in, " at the top level");
        const char *sug = k->len == strlen(k->text) ? suggest(k->text, allowed) : NULL;
        if (sug)
            return errf(c, k, "unknown key %s%s; did you mean '%s'?", show(k, s, sizeof s), in,
                        sug),
                   -1;
        size_t o = 0;
        list[0] = '\0';
        for (int j = 0; allowed[j]; j++)
            o += (size_t)snprintf(list + o, o < sizeof list ? sizeof list - o : 0, "%s%s",
                                  j ? ", " : "", allowed[j]);
        if (!allowed[0])
            return errf(c, k, "unknown key %s%s: it takes no parameters", show(k, s, sizeof s), in),
                   -1;
        return errf(c, k, "unknown key %s%s; expected one of: %s", show(k, s, sizeof s), in, list),
               -1;
    }
    return 0;
}

static const sn_ynode *get(const sn_ynode *map, const char *key) {
    return map ? sn_ymap_get(map, key) : NULL;
}

static const sn_ynode *need(cv *c, const sn_ynode *map, const char *key, const char *scope) {
    const sn_ynode *v = get(map, key);
    if (!v) {
        if (scope && *scope)
            errf(c, map, "missing required key '%s' in %s", key, scope);
        else
            errf(c, map, "missing required top-level key '%s'", key);
    }
    return v;
}

static const sn_ynode *key_node(const sn_ynode *map, const char *key) {
    int i = sn_ymap_find(map, key);
    return i < 0 ? map : map->keys[i];
}

/* Optional readers: leave *out alone when the key is absent. */
static int opt_int(cv *c, const sn_ynode *m, const char *scope, const char *key, long long lo,
                   long long hi, int *out) {
    const sn_ynode *v = get(m, key);
    return v ? rd_int(c, v, scope, key, lo, hi, out) : 0;
}
static int opt_float(cv *c, const sn_ynode *m, const char *scope, const char *key, frange r,
                     float *out) {
    const sn_ynode *v = get(m, key);
    return v ? rd_float(c, v, scope, key, r, out) : 0;
}
static int opt_bool(cv *c, const sn_ynode *m, const char *scope, const char *key, int *out) {
    const sn_ynode *v = get(m, key);
    return v ? rd_bool(c, v, scope, key, out) : 0;
}
static int opt_enum(cv *c, const sn_ynode *m, const char *scope, const char *key,
                    const char *const *names, int *out) {
    const sn_ynode *v = get(m, key);
    return v ? rd_enum(c, v, scope, key, names, out) : 0;
}

/* An int or [h, w] list. */
static int rd_pair(cv *c, const sn_ynode *n, const char *scope, const char *key, long long lo,
                   long long hi, int *h, int *w) {
    if (n->kind == SN_YSEQ) {
        char f[256];
        field(f, sizeof f, scope, key);
        if (n->n != 2)
            return errf(c, n,
                        "%s: expected an integer or a list [height, width] of 2 integers, got a "
                        "list of %d",
                        f, n->n),
                   -1;
        if (rd_int(c, n->items[0], scope, key, lo, hi, h) ||
            rd_int(c, n->items[1], scope, key, lo, hi, w))
            return -1;
        return 0;
    }
    if (n->kind != SN_YSCALAR)
        return type_err(c, n, scope, key, "an integer or [height, width]"), -1;
    if (rd_int(c, n, scope, key, lo, hi, h)) return -1;
    *w = *h;
    return 0;
}

/* A list of 1..max numbers (a single number counts as a list of one). */
static int rd_float_list(cv *c, const sn_ynode *n, const char *scope, const char *key, frange r,
                         int max, float *out, int *count) {
    if (n->kind == SN_YSCALAR) {
        if (rd_float(c, n, scope, key, r, &out[0])) return -1;
        *count = 1;
        return 0;
    }
    char f[256];
    field(f, sizeof f, scope, key);
    if (n->kind != SN_YSEQ) return type_err(c, n, scope, key, "a number or a list of numbers"), -1;
    if (n->n == 0) return errf(c, n, "%s: the list is empty", f), -1;
    if (n->n > max) return errf(c, n, "%s: at most %d entries, got %d", f, max, n->n), -1;
    for (int i = 0; i < n->n; i++)
        if (rd_float(c, n->items[i], scope, key, r, &out[i])) return -1;
    *count = n->n;
    return 0;
}

/* ---- layers ---------------------------------------------------------------------------- */

static const char *const KIND_NAMES[] = {
    "conv2d",  "linear",  "maxpool", "avgpool", "relu",          "batchnorm", "dropout",
    "flatten", "quant",   "if",      "lif",     "threshold",     "scale",     "sumpool",
    "nir_if",  "nir_lif", "nir_li",  "nir_i",   "nir_threshold", NULL};
static const char *const DISCRETIZATION_NAMES[] = {"euler", "exact", NULL};
static const char *const CT_RESET_NAMES[] = {"value", "subtract", NULL};
static const char *const CT_COMPARE_NAMES[] = {"gt", "ge", NULL};
static const char *const WEIGHT_NAMES[] = {"float", "ternary", "integer", NULL};
static const char *const SURR_NAMES[] = {"atan", "sigmoid", NULL};

static float surrogate_default_alpha(sn_surrogate s) {
    return s == SN_SURR_SIGMOID ? 4.0f : 2.0f;
}

static void layer_scope(char *buf, size_t n, const char *module, int index, sn_layer_kind k) {
    if (index >= 0)
        snprintf(buf, n, "layer %s.%d (%s)", module, index, KIND_NAMES[k]);
    else
        snprintf(buf, n, "layer %s (%s)", module, KIND_NAMES[k]);
}

static void set_loc(sn_layer_spec *l, const sn_ynode *at) {
    if (at && !at->origin) {
        l->loc.line = at->line;
        l->loc.col = at->col;
    }
}

/* The fields every layer of a kind gets before its parameters are read; the VGG expansion
 * and the network form share this, so the two give identical specs. */
static void layer_init(cv *c, sn_layer_spec *l, sn_layer_kind kind, const char *module, int index,
                       const sn_ynode *at) {
    memset(l, 0, sizeof *l);
    l->kind = kind;
    sn_strlcpy(l->module, module, sizeof l->module);
    l->index = index;
    set_loc(l, at);
    switch (kind) {
    case SN_LAYER_CONV2D:
    case SN_LAYER_LINEAR:
        l->stride_h = l->stride_w = kind == SN_LAYER_CONV2D ? 1 : 0;
        l->bias = 1;
        l->weight_quant = SN_WQ_NONE;
        break;
    case SN_LAYER_BATCHNORM:
        l->bn_eps = 1e-5f;
        l->bn_momentum = 0.1f;
        break;
    case SN_LAYER_DROPOUT:
        l->dropout_p = 0.5f;
        break;
    case SN_LAYER_QUANT:
        l->quant_k = c->spec->quant.k;
        l->quant_B = c->spec->quant.B;
        break;
    case SN_LAYER_IF:
    case SN_LAYER_LIF:
        l->neuron = c->spec->snn.neuron;
        break;
    default:
        break;
    }
}

static int push_layer(cv *c, const sn_layer_spec *l, const sn_ynode *at) {
    sn_model_spec *s = c->spec;
    if (s->nlayers >= MAX_LAYERS)
        return errf(c, at, "the network has more than %d layers", MAX_LAYERS), -1;
    if (!sn_grow((void **)&s->layers, &c->layers_cap, s->nlayers + 1, sizeof *s->layers)) {
        sn_fail(c->st, SN_ERR_RUNTIME, "out of memory building the layer list");
        return -1;
    }
    s->layers[s->nlayers++] = *l;
    return 0;
}

static int check_levels(cv *c, const sn_ynode *at, const char *scope, int k, float B) {
    double levels = ldexp((double)B, k);
    char f[256];
    field(f, sizeof f, scope, "B");
    if (levels > MAX_LEVELS)
        return errf(c, at, "%s: 2^k * B = %g quantization levels is too many (at most %d)", f,
                    levels, MAX_LEVELS),
               -1;
    if (fabs(levels - floor(levels + 0.5)) > 1e-6 || levels < 1)
        return errf(c, at,
                    "%s: 2^k * B must be a whole number >= 1 (the count of quantization "
                    "steps, i.e. threshold units per neuron); got 2^%d * %g = %g",
                    f, k, (double)B, levels),
               -1;
    return 0;
}

/* Neuron parameters on top of `base`. lif: the LIF-only keys are allowed. */
static int read_neuron(cv *c, const sn_ynode *m, const char *scope, int lif,
                       const sn_neuron_spec *base, sn_neuron_spec *out) {
    *out = *base;
    if (!m) return 0;
    int surr = (int)base->surrogate;
    if (opt_enum(c, m, scope, "surrogate", SURR_NAMES, &surr)) return -1;
    out->surrogate = (sn_surrogate)surr;
    if (get(m, "surrogate") && out->surrogate != base->surrogate)
        out->alpha = surrogate_default_alpha(out->surrogate);
    if (opt_float(c, m, scope, "alpha", F_POS, &out->alpha)) return -1;
    if (opt_float(c, m, scope, "v_threshold", F_POS, &out->v_threshold)) return -1;
    const sn_ynode *vr = get(m, "v_reset");
    if (vr) {
        if (vr->kind == SN_YSCALAR && !vr->quoted &&
            (sn_yscalar_is_null(vr) || is_word(vr, "none") || is_word(vr, "None"))) {
            out->hard_reset = 0;
            out->v_reset = 0.0f;
        } else {
            double d;
            if (parse_num(vr, &d) == 0)
                return type_err(c, vr, scope, "v_reset",
                                "a number (hard reset) or none (soft reset)"),
                       -1;
            if (rd_float(c, vr, scope, "v_reset", F_ANY, &out->v_reset)) return -1;
            out->hard_reset = 1;
        }
    }
    if (opt_bool(c, m, scope, "detach_reset", &out->detach_reset)) return -1;
    if (lif) {
        frange tau_r = {1, 1, INFINITY, 0};
        if (opt_float(c, m, scope, "tau", tau_r, &out->tau)) return -1;
        if (opt_bool(c, m, scope, "decay_input", &out->decay_input)) return -1;
    }
    return 0;
}

static const char *const IF_KEYS[] = {"v_threshold", "v_reset", "detach_reset",
                                      "surrogate",   "alpha",   NULL};
static const char *const LIF_KEYS[] = {"tau",          "decay_input", "v_threshold", "v_reset",
                                       "detach_reset", "surrogate",   "alpha",       NULL};

/* conv2d / pool padding: int, [h, w], "same" or "valid". */
static int read_padding(cv *c, const sn_ynode *n, const char *scope, sn_layer_spec *l, int conv) {
    if (conv && n->kind == SN_YSCALAR && !n->quoted && parse_ll(n, &(long long){0}) == 0) {
        char f[256];
        field(f, sizeof f, scope, "padding");
        if (is_word(n, "valid")) {
            l->pad_h = l->pad_w = 0;
            return 0;
        }
        if (is_word(n, "same")) {
            if (l->stride_h != 1 || l->stride_w != 1)
                return errf(c, n,
                            "%s: 'same' needs stride 1 (got stride %dx%d); give the padding "
                            "as a number",
                            f, l->stride_h, l->stride_w),
                       -1;
            if (l->kernel_h % 2 == 0 || l->kernel_w % 2 == 0)
                return errf(c, n,
                            "%s: 'same' needs an odd kernel size (got %dx%d): an even kernel "
                            "would need asymmetric padding",
                            f, l->kernel_h, l->kernel_w),
                       -1;
            l->pad_h = l->kernel_h / 2;
            l->pad_w = l->kernel_w / 2;
            return 0;
        }
        return type_err(c, n, scope, "padding", "an integer, [height, width], same or valid"), -1;
    }
    return rd_pair(c, n, scope, "padding", 0, MAX_KERNEL, &l->pad_h, &l->pad_w);
}

static int read_weights(cv *c, const sn_ynode *m, const char *scope, sn_layer_spec *l) {
    int wq = (int)l->weight_quant;
    if (opt_enum(c, m, scope, "weights", WEIGHT_NAMES, &wq)) return -1;
    l->weight_quant = (sn_weight_quant)wq;
    return 0;
}

/* Reads the parameters of one layer (m may be NULL: no parameters written). `at` is the
 * node errors about missing keys point at. */
static int read_layer_params(cv *c, const sn_ynode *m, const sn_ynode *at, const char *scope,
                             sn_layer_spec *l) {
    static const char *const CONV_KEYS[] = {"out_channels", "kernel_size", "stride", "padding",
                                            "bias",         "weights",     NULL};
    static const char *const LINEAR_KEYS[] = {"out_features", "in_features", "bias", "weights",
                                              NULL};
    static const char *const POOL_KEYS[] = {"kernel_size", "stride", "padding", NULL};
    static const char *const MAXPOOL_KEYS[] = {"kernel_size", "stride", "padding", "spike_gate",
                                               NULL};
    static const char *const BN_KEYS[] = {"eps", "momentum", NULL};
    static const char *const DROPOUT_KEYS[] = {"p", NULL};
    static const char *const QUANT_KEYS[] = {"k", "B", NULL};
    static const char *const THRESHOLD_KEYS[] = {"units", NULL};
    static const char *const NIR_LIF_KEYS[] = {"dt", "discretization", "reset", "compare", NULL};
    static const char *const NIR_LI_KEYS[] = {"dt", "discretization", NULL};
    static const char *const NIR_IF_KEYS[] = {"reset", "compare", NULL};
    static const char *const NIR_THRESHOLD_KEYS[] = {"compare", NULL};
    static const char *const NO_KEYS[] = {NULL};
    const sn_ynode *mm = m;
    const sn_ynode *v;
    switch (l->kind) {
    case SN_LAYER_CONV2D: {
        if (!mm)
            return errf(c, at,
                        "%s needs out_channels and kernel_size (write conv2d: "
                        "{out_channels: 64, kernel_size: 3})",
                        scope),
                   -1;
        if (check_keys(c, mm, scope, CONV_KEYS)) return -1;
        if (!(v = need(c, mm, "out_channels", scope)) ||
            rd_int(c, v, scope, "out_channels", 1, MAX_CHANNELS, &l->out_channels))
            return -1;
        l->out_features = l->out_channels;
        if (!(v = need(c, mm, "kernel_size", scope)) ||
            rd_pair(c, v, scope, "kernel_size", 1, MAX_KERNEL, &l->kernel_h, &l->kernel_w))
            return -1;
        if ((v = get(mm, "stride")) &&
            rd_pair(c, v, scope, "stride", 1, MAX_KERNEL, &l->stride_h, &l->stride_w))
            return -1;
        if ((v = get(mm, "padding")) && read_padding(c, v, scope, l, 1)) return -1;
        if (opt_bool(c, mm, scope, "bias", &l->bias) || read_weights(c, mm, scope, l)) return -1;
        return 0;
    }
    case SN_LAYER_LINEAR: {
        if (!mm)
            return errf(c, at, "%s needs out_features (write linear: {out_features: 10})", scope),
                   -1;
        if (check_keys(c, mm, scope, LINEAR_KEYS)) return -1;
        if (!(v = need(c, mm, "out_features", scope)) ||
            rd_int(c, v, scope, "out_features", 1, MAX_CHANNELS, &l->out_features))
            return -1;
        if (opt_int(c, mm, scope, "in_features", 0, MAX_CHANNELS, &l->in_features)) return -1;
        if (opt_bool(c, mm, scope, "bias", &l->bias) || read_weights(c, mm, scope, l)) return -1;
        return 0;
    }
    case SN_LAYER_MAXPOOL:
    case SN_LAYER_AVGPOOL:
    case SN_LAYER_SUMPOOL: {
        if (!mm)
            return errf(c, at, "%s needs kernel_size (write %s: {kernel_size: 2})", scope,
                        KIND_NAMES[l->kind]),
                   -1;
        if (check_keys(c, mm, scope, l->kind == SN_LAYER_MAXPOOL ? MAXPOOL_KEYS : POOL_KEYS) ||
            opt_bool(c, mm, scope, "spike_gate", &l->spike_gate))
            return -1;
        if (!(v = need(c, mm, "kernel_size", scope)) ||
            rd_pair(c, v, scope, "kernel_size", 1, MAX_KERNEL, &l->kernel_h, &l->kernel_w))
            return -1;
        l->stride_h = l->kernel_h;
        l->stride_w = l->kernel_w;
        if ((v = get(mm, "stride")) &&
            rd_pair(c, v, scope, "stride", 1, MAX_KERNEL, &l->stride_h, &l->stride_w))
            return -1;
        if ((v = get(mm, "padding"))) {
            if (read_padding(c, v, scope, l, 0)) return -1;
            if (2 * l->pad_h > l->kernel_h || 2 * l->pad_w > l->kernel_w) {
                char f[256];
                field(f, sizeof f, scope, "padding");
                return errf(c, v,
                            "%s: padding %dx%d is more than half the kernel %dx%d (as in "
                            "PyTorch, pooling padding may be at most kernel_size / 2)",
                            f, l->pad_h, l->pad_w, l->kernel_h, l->kernel_w),
                       -1;
            }
        }
        return 0;
    }
    case SN_LAYER_BATCHNORM:
        if (mm && (check_keys(c, mm, scope, BN_KEYS) ||
                   opt_float(c, mm, scope, "eps", F_POS, &l->bn_eps)))
            return -1;
        if (mm) {
            frange mr = {0, 0, 1, 0};
            if (opt_float(c, mm, scope, "momentum", mr, &l->bn_momentum)) return -1;
        }
        return 0;
    case SN_LAYER_DROPOUT:
        if (mm && (check_keys(c, mm, scope, DROPOUT_KEYS) ||
                   opt_float(c, mm, scope, "p", F_UNIT_HALFOPEN, &l->dropout_p)))
            return -1;
        return 0;
    case SN_LAYER_QUANT: {
        if (mm && check_keys(c, mm, scope, QUANT_KEYS)) return -1;
        if (!c->spec->quant.enabled) {
            const char *missing = !get(mm, "k") ? "k" : !get(mm, "B") ? "B" : NULL;
            if (missing)
                return errf(c, mm ? mm : at,
                            "%s: missing %s: give k and B on the layer or in a "
                            "top-level quant section",
                            scope, missing),
                       -1;
        }
        if (opt_int(c, mm, scope, "k", 0, MAX_QUANT_K, &l->quant_k) ||
            opt_float(c, mm, scope, "B", F_POS, &l->quant_B))
            return -1;
        return check_levels(c,
                            get(mm, "B") ? get(mm, "B")
                            : mm         ? mm
                                         : at,
                            scope, l->quant_k, l->quant_B);
    }
    case SN_LAYER_IF:
    case SN_LAYER_LIF: {
        int lif = l->kind == SN_LAYER_LIF;
        if (mm && check_keys(c, mm, scope, lif ? LIF_KEYS : IF_KEYS)) return -1;
        sn_neuron_spec base = l->neuron;
        return read_neuron(c, mm, scope, lif, &base, &l->neuron);
    }
    case SN_LAYER_RELU:
    case SN_LAYER_FLATTEN:
    case SN_LAYER_SCALE:
    case SN_LAYER_NIR_I:
        if (mm && check_keys(c, mm, scope, NO_KEYS)) return -1;
        return 0;
    case SN_LAYER_NIR_THRESHOLD:
        if (mm && check_keys(c, mm, scope, NIR_THRESHOLD_KEYS)) return -1;
        return opt_enum(c, mm, scope, "compare", CT_COMPARE_NAMES, &l->ct.ge);
    case SN_LAYER_NIR_LIF:
    case SN_LAYER_NIR_LI:
    case SN_LAYER_NIR_IF: {
        int leaky = l->kind != SN_LAYER_NIR_IF, spiking = l->kind != SN_LAYER_NIR_LI;
        const char *const *keys = l->kind == SN_LAYER_NIR_LIF  ? NIR_LIF_KEYS
                                  : l->kind == SN_LAYER_NIR_LI ? NIR_LI_KEYS
                                                               : NIR_IF_KEYS;
        if (mm && check_keys(c, mm, scope, keys)) return -1;
        if (leaky) {
            if (!mm)
                return errf(c, at, "%s needs dt, the time step in seconds (write %s: {dt: 1.0e-4})",
                            scope, KIND_NAMES[l->kind]),
                       -1;
            if (!(v = need(c, mm, "dt", scope)) || rd_float(c, v, scope, "dt", F_POS, &l->ct.dt))
                return -1;
            if (opt_enum(c, mm, scope, "discretization", DISCRETIZATION_NAMES, &l->ct.exact))
                return -1;
        }
        if (spiking && (opt_enum(c, mm, scope, "reset", CT_RESET_NAMES, &l->ct.subtract) ||
                        opt_enum(c, mm, scope, "compare", CT_COMPARE_NAMES, &l->ct.ge)))
            return -1;
        return 0;
    }
    case SN_LAYER_THRESHOLD:
        if (!mm) return errf(c, at, "%s needs units (write threshold: {units: 4})", scope), -1;
        if (check_keys(c, mm, scope, THRESHOLD_KEYS)) return -1;
        if (!(v = need(c, mm, "units", scope)) ||
            rd_int(c, v, scope, "units", 1, MAX_LEVELS, &l->units))
            return -1;
        return 0;
    case SN_LAYER_KIND_COUNT:
        break;
    }
    return 0;
}

static int is_identifier(const char *s, size_t len) {
    if (len == 0 || len != strlen(s)) return 0;
    if (!((s[0] >= 'a' && s[0] <= 'z') || (s[0] >= 'A' && s[0] <= 'Z') || s[0] == '_')) return 0;
    for (size_t i = 1; i < len; i++) {
        char ch = s[i];
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return 0;
    }
    return 1;
}

/* One entry of a container's layer list: `op` or `op: {params}`. */
static int read_layer(cv *c, const sn_ynode *item, const char *module, int index) {
    const sn_ynode *opn, *params = NULL;
    char s[300];
    if (item->kind == SN_YSCALAR) {
        opn = item;
    } else if (item->kind == SN_YMAP) {
        if (item->n != 1)
            return errf(c, item,
                        "layer %s.%d: a layer is written as 'op' or 'op: "
                        "{params}' (one key), but this mapping has %d keys; indent the "
                        "parameters under the op name",
                        module, index, item->n),
                   -1;
        opn = item->keys[0];
        params = item->items[0];
        if (sn_yscalar_is_null(params)) params = NULL;
    } else {
        return errf(c, item,
                    "layer %s.%d: expected a layer ('op' or 'op: {params}'), "
                    "got a list",
                    module, index),
               -1;
    }
    int kind = -1;
    for (int k = 0; KIND_NAMES[k]; k++)
        if (opn->len == strlen(KIND_NAMES[k]) && !strcmp(opn->text, KIND_NAMES[k])) kind = k;
    if (kind < 0) {
        const char *sug = opn->len == strlen(opn->text) ? suggest(opn->text, KIND_NAMES) : NULL;
        if (sug)
            return errf(c, opn, "layer %s.%d: unknown op %s; did you mean '%s'?", module, index,
                        show(opn, s, sizeof s), sug),
                   -1;
        return errf(c, opn,
                    "layer %s.%d: unknown op %s; the ops are conv2d, linear, "
                    "maxpool, avgpool, sumpool, relu, batchnorm, dropout, flatten, quant, "
                    "scale, if, lif, threshold, nir_if, nir_lif, nir_li, nir_i, nir_threshold",
                    module, index, show(opn, s, sizeof s)),
               -1;
    }
    if (params && params->kind != SN_YMAP)
        return errf(c, params, "layer %s.%d (%s): expected a mapping of parameters, got %s", module,
                    index, KIND_NAMES[kind], show(params, s, sizeof s)),
               -1;
    sn_layer_spec l;
    layer_init(c, &l, (sn_layer_kind)kind, module, index, opn);
    char scope[200];
    layer_scope(scope, sizeof scope, module, index, l.kind);
    if (read_layer_params(c, params, item, scope, &l)) return -1;
    return push_layer(c, &l, item);
}

static int read_network(cv *c, const sn_ynode *net) {
    char s[300];
    if (net->kind != SN_YSEQ)
        return errf(c, net, "network: expected a list of containers (- features: [...]), got %s",
                    show(net, s, sizeof s)),
               -1;
    if (net->n == 0) return errf(c, net, "network: the list of containers is empty"), -1;
    if (net->n > SN_MAX_LIST)
        return errf(c, net, "network: at most %d containers, got %d", SN_MAX_LIST, net->n), -1;
    char names[SN_MAX_LIST][SN_NAME_MAX];
    int ncont = 0;
    for (int i = 0; i < net->n; i++) {
        const sn_ynode *it = net->items[i];
        if (it->kind == SN_YSCALAR) {
            /* A functional flatten between containers: torch.flatten in forward(), no slot in
             * any Sequential (index -1). It belongs to the next container (the previous one at
             * the end). */
            if (strcmp(it->text, "flatten") != 0 || it->len != 7)
                return errf(c, it,
                            "network: entry %d: only 'flatten' may stand between "
                            "containers; put %s inside a container (- name: [layers])",
                            i, show(it, s, sizeof s)),
                       -1;
            const char *owner = NULL;
            for (int j = i + 1; j < net->n && !owner; j++)
                if (net->items[j]->kind == SN_YMAP && net->items[j]->n == 1)
                    owner = net->items[j]->keys[0]->text;
            if (!owner && ncont > 0) owner = names[ncont - 1];
            if (!owner)
                return errf(c, it, "network: a functional flatten needs a container next to it"),
                       -1;
            if (strlen(owner) >= SN_NAME_MAX) owner = "?"; /* rejected when the container is read */
            sn_layer_spec l;
            layer_init(c, &l, SN_LAYER_FLATTEN, owner, -1, it);
            if (push_layer(c, &l, it)) return -1;
            continue;
        }
        if (it->kind != SN_YMAP || it->n != 1)
            return errf(c, it,
                        "network: entry %d: expected a container written as 'name: [layers]' "
                        "(one key)%s",
                        i, it->kind == SN_YMAP ? ", got a mapping with several keys" : ""),
                   -1;
        const sn_ynode *kn = it->keys[0], *layers = it->items[0];
        if (!is_identifier(kn->text, kn->len) || kn->len >= SN_NAME_MAX)
            return errf(c, kn,
                        "network: container name %s must be an identifier (letters, digits, "
                        "_; at most %d characters)",
                        show(kn, s, sizeof s), SN_NAME_MAX - 1),
                   -1;
        for (int j = 0; j < ncont; j++)
            if (!strcmp(names[j], kn->text))
                return errf(c, kn, "network: container name '%s' is used twice", kn->text), -1;
        sn_strlcpy(names[ncont++], kn->text, SN_NAME_MAX);
        if (sn_yscalar_is_null(layers) || (layers->kind == SN_YSEQ && layers->n == 0))
            return errf(c, layers->kind == SN_YSEQ ? layers : kn,
                        "network: container '%s' is empty", kn->text),
                   -1;
        if (layers->kind != SN_YSEQ)
            return errf(c, layers, "network: container '%s': expected a list of layers, got %s",
                        kn->text, show(layers, s, sizeof s)),
                   -1;
        for (int j = 0; j < layers->n; j++)
            if (read_layer(c, layers->items[j], kn->text, j)) return -1;
    }
    if (ncont == 0) return errf(c, net, "network: no containers, only functional layers"), -1;
    return 0;
}

/* ---- the VGG form ---------------------------------------------------------------------- */

typedef enum { ACT_RELU, ACT_QUANT, ACT_IF, ACT_LIF } vgg_act;

static int add_simple(cv *c, sn_layer_kind k, const char *module, int *index, const sn_ynode *at) {
    sn_layer_spec l;
    layer_init(c, &l, k, module, (*index)++, at);
    return push_layer(c, &l, at);
}

static int add_activation(cv *c, vgg_act act, const char *module, int *index, const sn_ynode *at) {
    switch (act) {
    case ACT_RELU:
        return add_simple(c, SN_LAYER_RELU, module, index, at);
    case ACT_QUANT:
        if (add_simple(c, SN_LAYER_RELU, module, index, at)) return -1;
        return add_simple(c, SN_LAYER_QUANT, module, index, at);
    case ACT_IF:
        return add_simple(c, SN_LAYER_IF, module, index, at);
    case ACT_LIF:
        return add_simple(c, SN_LAYER_LIF, module, index, at);
    }
    return 0;
}

static int read_vgg(cv *c, const sn_ynode *vgg, const sn_ynode *num_classes_node) {
    static const char *const VGG_KEYS[] = {"cfg", "conv", "pool", "classifier", "activation", NULL};
    static const char *const CONV_KEYS[] = {"kernel_size", "stride",  "padding", "bias",
                                            "batch_norm",  "weights", NULL};
    static const char *const POOL_KEYS[] = {"type", "kernel_size", "stride", "padding", NULL};
    static const char *const CLS_KEYS[] = {"hidden",           "dropout", "bias",
                                           "dropout_position", "weights", NULL};
    static const char *const ACT_NAMES[] = {"relu", "quant", "if", "lif", NULL};
    static const char *const POOL_TYPES[] = {"max", "avg", NULL};
    static const char *const POSITIONS[] = {"after", "before", NULL};
    sn_model_spec *s = c->spec;
    char str[300];
    if (expect_map(c, vgg, "vgg") || check_keys(c, vgg, "vgg", VGG_KEYS)) return -1;

    /* conv template */
    sn_layer_spec conv;
    layer_init(c, &conv, SN_LAYER_CONV2D, "features", 0, NULL);
    conv.kernel_h = conv.kernel_w = 3;
    conv.pad_h = conv.pad_w = 1;
    int batch_norm = 0;
    const sn_ynode *cm = get(vgg, "conv"), *v;
    if (cm) {
        if (expect_map(c, cm, "vgg.conv") || check_keys(c, cm, "vgg.conv", CONV_KEYS)) return -1;
        if ((v = get(cm, "kernel_size")) &&
            rd_pair(c, v, "vgg.conv", "kernel_size", 1, MAX_KERNEL, &conv.kernel_h, &conv.kernel_w))
            return -1;
        if ((v = get(cm, "stride")) &&
            rd_pair(c, v, "vgg.conv", "stride", 1, MAX_KERNEL, &conv.stride_h, &conv.stride_w))
            return -1;
        if ((v = get(cm, "padding")) && read_padding(c, v, "vgg.conv", &conv, 1)) return -1;
        if (opt_bool(c, cm, "vgg.conv", "bias", &conv.bias) ||
            opt_bool(c, cm, "vgg.conv", "batch_norm", &batch_norm) ||
            read_weights(c, cm, "vgg.conv", &conv))
            return -1;
    }
    /* pool template */
    int pool_type = 0;
    sn_layer_spec pool;
    layer_init(c, &pool, SN_LAYER_MAXPOOL, "features", 0, NULL);
    pool.kernel_h = pool.kernel_w = 2;
    pool.stride_h = pool.stride_w = 2;
    const sn_ynode *pm = get(vgg, "pool");
    if (pm) {
        if (expect_map(c, pm, "vgg.pool") || check_keys(c, pm, "vgg.pool", POOL_KEYS) ||
            opt_enum(c, pm, "vgg.pool", "type", POOL_TYPES, &pool_type))
            return -1;
        if ((v = get(pm, "kernel_size"))) {
            if (rd_pair(c, v, "vgg.pool", "kernel_size", 1, MAX_KERNEL, &pool.kernel_h,
                        &pool.kernel_w))
                return -1;
            pool.stride_h = pool.kernel_h;
            pool.stride_w = pool.kernel_w;
        }
        if ((v = get(pm, "stride")) &&
            rd_pair(c, v, "vgg.pool", "stride", 1, MAX_KERNEL, &pool.stride_h, &pool.stride_w))
            return -1;
        if ((v = get(pm, "padding"))) {
            if (read_padding(c, v, "vgg.pool", &pool, 0)) return -1;
            if (2 * pool.pad_h > pool.kernel_h || 2 * pool.pad_w > pool.kernel_w)
                return errf(c, v,
                            "vgg.pool.padding: padding %dx%d is more than half the kernel "
                            "%dx%d (PyTorch allows at most kernel_size / 2)",
                            pool.pad_h, pool.pad_w, pool.kernel_h, pool.kernel_w),
                       -1;
        }
    }
    pool.kind = pool_type ? SN_LAYER_AVGPOOL : SN_LAYER_MAXPOOL;
    /* classifier */
    int hidden[SN_MAX_LIST], nhidden = 0, cls_bias = 1, position = 0;
    const sn_ynode *hidden_nodes[SN_MAX_LIST];
    float dropout = 0.5f;
    sn_weight_quant cls_wq = SN_WQ_NONE;
    const sn_ynode *clm = get(vgg, "classifier");
    if (clm) {
        if (expect_map(c, clm, "vgg.classifier") || check_keys(c, clm, "vgg.classifier", CLS_KEYS))
            return -1;
        const sn_ynode *h = get(clm, "hidden");
        if (h) {
            if (h->kind != SN_YSEQ)
                return type_err(c, h, "vgg.classifier", "hidden",
                                "a list of layer widths ([512, 256] or [])"),
                       -1;
            if (h->n > SN_MAX_LIST)
                return errf(c, h, "vgg.classifier.hidden: at most %d entries, got %d", SN_MAX_LIST,
                            h->n),
                       -1;
            for (int i = 0; i < h->n; i++) {
                if (rd_int(c, h->items[i], "vgg.classifier", "hidden", 1, MAX_CHANNELS, &hidden[i]))
                    return -1;
                hidden_nodes[i] = h->items[i];
            }
            nhidden = h->n;
        }
        if (opt_float(c, clm, "vgg.classifier", "dropout", F_UNIT_HALFOPEN, &dropout) ||
            opt_bool(c, clm, "vgg.classifier", "bias", &cls_bias) ||
            opt_enum(c, clm, "vgg.classifier", "dropout_position", POSITIONS, &position))
            return -1;
        sn_layer_spec tmp;
        layer_init(c, &tmp, SN_LAYER_LINEAR, "classifier", 0, NULL);
        if (read_weights(c, clm, "vgg.classifier", &tmp)) return -1;
        cls_wq = tmp.weight_quant;
    }
    int act = ACT_RELU;
    const sn_ynode *actn = get(vgg, "activation");
    if (actn && rd_enum(c, actn, "vgg", "activation", ACT_NAMES, &act)) return -1;
    if (act == ACT_QUANT && !s->quant.enabled)
        return errf(c, actn,
                    "vgg.activation: quant needs a top-level quant section giving k and "
                    "B (e.g. quant: {k: 1, B: 2})"),
               -1;

    /* cfg */
    const sn_ynode *cfg = need(c, vgg, "cfg", "vgg");
    if (!cfg) return -1;
    if (cfg->kind != SN_YSEQ)
        return type_err(c, cfg, "vgg", "cfg", "a list of channel counts and M ([64, M, 128, M])"),
               -1;
    if (cfg->n == 0) return errf(c, cfg, "vgg.cfg: the list is empty"), -1;
    if (cfg->n > SN_MAX_LIST)
        return errf(c, cfg, "vgg.cfg: at most %d entries, got %d", SN_MAX_LIST, cfg->n), -1;
    for (int i = 0; i < cfg->n; i++) {
        const sn_ynode *e = cfg->items[i];
        char key[32];
        snprintf(key, sizeof key, "cfg[%d]", i);
        if (e->kind == SN_YSCALAR && e->len == 1 && e->text[0] == 'M') {
            s->vgg_cfg[i] = 0;
            continue;
        }
        long long dummy;
        if (parse_ll(e, &dummy) == 0)
            return errf(c, e, "vgg.%s: expected a channel count or M (pooling), got %s", key,
                        show(e, str, sizeof str)),
                   -1;
        if (rd_int(c, e, "vgg", key, 1, MAX_CHANNELS, &s->vgg_cfg[i])) return -1;
    }
    s->vgg_cfg_len = cfg->n;
    s->from_vgg = 1;

    /* expansion: features */
    int fi = 0, last_channels = s->in_channels;
    for (int i = 0; i < cfg->n; i++) {
        const sn_ynode *e = cfg->items[i];
        if (s->vgg_cfg[i] == 0) {
            sn_layer_spec l = pool;
            l.index = fi++;
            set_loc(&l, e);
            if (push_layer(c, &l, e)) return -1;
            continue;
        }
        sn_layer_spec l = conv;
        l.out_channels = l.out_features = s->vgg_cfg[i];
        l.index = fi++;
        set_loc(&l, e);
        if (push_layer(c, &l, e)) return -1;
        if (batch_norm && add_simple(c, SN_LAYER_BATCHNORM, "features", &fi, e)) return -1;
        if (add_activation(c, (vgg_act)act, "features", &fi, e)) return -1;
        last_channels = s->vgg_cfg[i];
    }
    /* flatten (functional, no Sequential slot) then the classifier */
    const sn_ynode *flat_at = clm ? clm : vgg;
    sn_layer_spec fl;
    layer_init(c, &fl, SN_LAYER_FLATTEN, "classifier", -1, flat_at);
    if (push_layer(c, &fl, flat_at)) return -1;
    int ci = 0, prev = last_channels;
    for (int i = 0; i <= nhidden; i++) {
        int final = i == nhidden;
        const sn_ynode *at = final ? (clm ? clm : num_classes_node) : hidden_nodes[i];
        if (!final && position == 1 && dropout > 0) {
            if (add_simple(c, SN_LAYER_DROPOUT, "classifier", &ci, at)) return -1;
            c->spec->layers[c->spec->nlayers - 1].dropout_p = dropout;
        }
        sn_layer_spec l;
        layer_init(c, &l, SN_LAYER_LINEAR, "classifier", ci++, at);
        l.in_features = prev;
        l.out_features = final ? s->num_classes : hidden[i];
        l.bias = cls_bias;
        l.weight_quant = cls_wq;
        if (push_layer(c, &l, at)) return -1;
        if (final) break;
        if (add_activation(c, (vgg_act)act, "classifier", &ci, at)) return -1;
        if (position == 0 && dropout > 0) {
            if (add_simple(c, SN_LAYER_DROPOUT, "classifier", &ci, at)) return -1;
            c->spec->layers[c->spec->nlayers - 1].dropout_p = dropout;
        }
        prev = hidden[i];
    }
    return 0;
}

/* ---- sections -------------------------------------------------------------------------- */

static void defaults(sn_model_spec *s) {
    s->quant.enabled = 0;
    s->quant.k = 1;
    s->quant.B = 2.0f;
    s->quant.ternary_threshold = 0.7f;

    s->snn.enabled = 0;
    s->snn.T = 1;
    s->snn.encoder = SN_ENC_DIRECT;
    s->snn.input_scale = 1.0f;
    s->snn.readout = SN_READOUT_RATE;
    s->snn.neuron_kind = SN_LAYER_IF;
    sn_neuron_spec *n = &s->snn.neuron;
    n->tau = 2.0f;
    n->v_threshold = 1.0f;
    n->hard_reset = 1;
    n->v_reset = 0.0f;
    n->decay_input = 1;
    n->detach_reset = 0;
    n->surrogate = SN_SURR_ATAN;
    n->alpha = 2.0f;

    s->data.dataset = SN_DATA_NONE;
    s->data.scale = 1.0f / 255.0f;

    sn_train_spec *t = &s->train;
    t->optimizer = SN_OPT_SGD;
    t->lr = 0.01f;
    t->momentum = 0.0f;
    t->beta1 = 0.9f;
    t->beta2 = 0.999f;
    t->eps = 1e-8f;
    t->schedule = SN_SCHED_CONSTANT;
    t->gamma = 0.1f;
    t->epochs = 1;
    t->batch_size = 64;
    t->loss = SN_LOSS_CROSS_ENTROPY;
    t->init = SN_INIT_TORCH_DEFAULT;
    t->seed = 0;
    t->shuffle = 1;
}

static int read_quant(cv *c, const sn_ynode *q) {
    static const char *const KEYS[] = {"k", "B", "ternary_threshold", NULL};
    if (expect_map(c, q, "quant") || check_keys(c, q, "quant", KEYS)) return -1;
    sn_quant_spec *qs = &c->spec->quant;
    qs->enabled = 1;
    if (opt_int(c, q, "quant", "k", 0, MAX_QUANT_K, &qs->k) ||
        opt_float(c, q, "quant", "B", F_POS, &qs->B) ||
        opt_float(c, q, "quant", "ternary_threshold", F_NONNEG, &qs->ternary_threshold))
        return -1;
    return check_levels(c, get(q, "B") ? get(q, "B") : q, "quant", qs->k, qs->B);
}

static int read_snn(cv *c, const sn_ynode *m) {
    static const char *const KEYS[] = {"T", "encoder", "input_scale", "readout", "neuron", NULL};
    static const char *const NEURON_KEYS[] = {"model",     "tau",         "v_threshold",
                                              "v_reset",   "decay_input", "detach_reset",
                                              "surrogate", "alpha",       NULL};
    static const char *const ENC[] = {"direct", "poisson", NULL};
    static const char *const RO[] = {"rate", "membrane", NULL};
    static const char *const MODELS[] = {"if", "lif", NULL};
    if (expect_map(c, m, "snn") || check_keys(c, m, "snn", KEYS)) return -1;
    sn_snn_spec *s = &c->spec->snn;
    s->enabled = 1;
    int enc = (int)s->encoder, ro = (int)s->readout;
    if (opt_int(c, m, "snn", "T", 1, 1000000, &s->T) ||
        opt_enum(c, m, "snn", "encoder", ENC, &enc) || opt_enum(c, m, "snn", "readout", RO, &ro) ||
        opt_float(c, m, "snn", "input_scale", F_POS, &s->input_scale))
        return -1;
    if (enc == SN_ENC_POISSON && s->input_scale != 1.0f)
        return errf(c, get(m, "input_scale"),
                    "snn.input_scale: only the direct encoder scales its input (the Poisson "
                    "encoder reads firing probabilities in [0, 1])"),
               -1;
    s->encoder = (sn_encoder)enc;
    s->readout = (sn_readout)ro;
    const sn_ynode *n = get(m, "neuron");
    if (n) {
        if (expect_map(c, n, "snn.neuron") || check_keys(c, n, "snn.neuron", NEURON_KEYS))
            return -1;
        int model = 0;
        if (opt_enum(c, n, "snn.neuron", "model", MODELS, &model)) return -1;
        s->neuron_kind = model ? SN_LAYER_LIF : SN_LAYER_IF;
        sn_neuron_spec base = s->neuron;
        if (read_neuron(c, n, "snn.neuron", 1, &base, &s->neuron)) return -1;
    }
    return 0;
}

static int read_data(cv *c, const sn_ynode *m) {
    static const char *const KEYS[] = {
        "dataset", "path", "scale", "mean", "std", "per_image_standardization", "augment", NULL};
    static const char *const AUG_KEYS[] = {"random_crop", "hflip", "brightness", "contrast", NULL};
    static const char *const CROP_KEYS[] = {"size", "padding", NULL};
    static const char *const DATASETS[] = {"none", "cifar10", "cifar100", "mnist", NULL};
    if (expect_map(c, m, "data") || check_keys(c, m, "data", KEYS)) return -1;
    sn_data_spec *d = &c->spec->data;
    int ds = 0;
    if (opt_enum(c, m, "data", "dataset", DATASETS, &ds)) return -1;
    d->dataset = (sn_dataset_kind)ds;
    const sn_ynode *v;
    if ((v = get(m, "path")) && rd_string(c, v, "data", "path", d->path, sizeof d->path)) return -1;
    if (opt_float(c, m, "data", "scale", F_POS, &d->scale)) return -1;
    int C = c->spec->in_channels;
    if ((v = get(m, "mean"))) {
        if (rd_float_list(c, v, "data", "mean", F_ANY, 4, d->mean, &d->nmean)) return -1;
        if (d->nmean != 1 && d->nmean != C)
            return errf(c, v, "data.mean: expected 1 entry or one per input channel (%d), got %d",
                        C, d->nmean),
                   -1;
    }
    if ((v = get(m, "std"))) {
        if (rd_float_list(c, v, "data", "std", F_POS, 4, d->std, &d->nstd)) return -1;
        if (d->nstd != 1 && d->nstd != C)
            return errf(c, v, "data.std: expected 1 entry or one per input channel (%d), got %d", C,
                        d->nstd),
                   -1;
    }
    if (opt_bool(c, m, "data", "per_image_standardization", &d->per_image_standardization))
        return -1;
    const sn_ynode *a = get(m, "augment");
    if (a) {
        if (expect_map(c, a, "data.augment") || check_keys(c, a, "data.augment", AUG_KEYS))
            return -1;
        sn_augment_spec *g = &d->augment;
        const sn_ynode *rc = get(a, "random_crop");
        if (rc) {
            if (expect_map(c, rc, "data.augment.random_crop") ||
                check_keys(c, rc, "data.augment.random_crop", CROP_KEYS))
                return -1;
            if (!get(rc, "size") && !get(rc, "padding"))
                return errf(c, rc,
                            "data.augment.random_crop: give size (crop to this size) "
                            "and/or padding (pad each side, then crop back)"),
                       -1;
            if (opt_int(c, rc, "data.augment.random_crop", "size", 1, MAX_SPATIAL,
                        &g->random_crop_size) ||
                opt_int(c, rc, "data.augment.random_crop", "padding", 0, MAX_KERNEL,
                        &g->random_crop_padding))
                return -1;
            if (g->random_crop_size && (g->random_crop_size != c->spec->in_height ||
                                        g->random_crop_size != c->spec->in_width))
                return errf(c, get(rc, "size"),
                            "data.augment.random_crop.size: crops of %d x %d do "
                            "not match the model input %d x %d",
                            g->random_crop_size, g->random_crop_size, c->spec->in_height,
                            c->spec->in_width),
                       -1;
        }
        if (opt_bool(c, a, "data.augment", "hflip", &g->hflip) ||
            opt_float(c, a, "data.augment", "brightness", F_NONNEG, &g->brightness))
            return -1;
        if ((v = get(a, "contrast"))) {
            float r[2];
            int nr = 0;
            if (v->kind != SN_YSEQ || v->n != 2)
                return type_err(c, v, "data.augment", "contrast", "a list [low, high]"), -1;
            if (rd_float_list(c, v, "data.augment", "contrast", F_NONNEG, 2, r, &nr)) return -1;
            if (!(r[0] <= r[1]) || r[1] <= 0)
                return errf(c, v,
                            "data.augment.contrast: expected 0 <= low <= high and high > 0, "
                            "got [%g, %g]",
                            (double)r[0], (double)r[1]),
                       -1;
            g->contrast_lo = r[0];
            g->contrast_hi = r[1];
        }
    }
    return 0;
}

static int parse_seed(cv *c, const sn_ynode *n, uint64_t *out) {
    if (n->kind != SN_YSCALAR || n->quoted || n->len == 0 || n->len != strlen(n->text))
        return type_err(c, n, "train", "seed", "a non-negative integer"), -1;
    uint64_t v = 0;
    const char *p = n->text;
    if (*p == '+') p++;
    if (!*p) return type_err(c, n, "train", "seed", "a non-negative integer"), -1;
    for (; *p; p++) {
        if (*p < '0' || *p > '9')
            return type_err(c, n, "train", "seed", "a non-negative integer"), -1;
        unsigned dgt = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - dgt) / 10)
            return errf(c, n, "train.seed: too large (at most 18446744073709551615)"), -1;
        v = v * 10 + dgt;
    }
    *out = v;
    return 0;
}

/* A key that only applies to some settings of another key. */
static int only_for(cv *c, const sn_ynode *m, const char *key, int applies, const char *what) {
    const sn_ynode *k = get(m, key);
    if (k && !applies)
        return errf(c, key_node(m, key),
                    "train.%s only applies %s; remove it (with --set, "
                    "'--set train.%s=' removes a key)",
                    key, what, key),
               -1;
    return 0;
}

static int read_train(cv *c, const sn_ynode *m) {
    static const char *const KEYS[] = {"optimizer",
                                       "lr",
                                       "momentum",
                                       "nesterov",
                                       "weight_decay",
                                       "betas",
                                       "eps",
                                       "schedule",
                                       "milestones",
                                       "gamma",
                                       "min_lr",
                                       "warmup_epochs",
                                       "warmup_start_lr",
                                       "epochs",
                                       "batch_size",
                                       "label_smoothing",
                                       "loss",
                                       "init",
                                       "init_mode",
                                       "seed",
                                       "shuffle",
                                       "sync_bn",
                                       NULL};
    static const char *const OPTS[] = {"sgd", "adam", NULL};
    static const char *const SCHEDS[] = {"constant", "multistep", "cosine", NULL};
    static const char *const LOSSES[] = {"cross_entropy", "mse", NULL};
    static const char *const INITS[] = {"torch_default", "kaiming_normal", "kaiming_uniform",
                                        "xavier_uniform", NULL};
    static const char *const MODES[] = {"fan_in", "fan_out", NULL};
    if (expect_map(c, m, "train") || check_keys(c, m, "train", KEYS)) return -1;
    sn_train_spec *t = &c->spec->train;
    int opt = 0, sched = 0, loss = 0, init = 0, mode = 0;
    if (opt_enum(c, m, "train", "optimizer", OPTS, &opt)) return -1;
    t->optimizer = (sn_optimizer)opt;
    t->lr = opt == SN_OPT_ADAM ? 1e-3f : 1e-2f;
    if (opt_float(c, m, "train", "lr", F_POS, &t->lr)) return -1;
    if (only_for(c, m, "momentum", opt == SN_OPT_SGD, "to optimizer sgd") ||
        only_for(c, m, "nesterov", opt == SN_OPT_SGD, "to optimizer sgd") ||
        only_for(c, m, "betas", opt == SN_OPT_ADAM, "to optimizer adam") ||
        only_for(c, m, "eps", opt == SN_OPT_ADAM, "to optimizer adam"))
        return -1;
    if (opt_float(c, m, "train", "momentum", F_UNIT_HALFOPEN, &t->momentum) ||
        opt_bool(c, m, "train", "nesterov", &t->nesterov) ||
        opt_float(c, m, "train", "weight_decay", F_NONNEG, &t->weight_decay) ||
        opt_float(c, m, "train", "eps", F_POS, &t->eps))
        return -1;
    if (t->nesterov && t->momentum <= 0)
        return errf(c, get(m, "nesterov"), "train.nesterov needs momentum > 0 (as in PyTorch)"), -1;
    const sn_ynode *v;
    if ((v = get(m, "betas"))) {
        float b[2];
        int nb = 0;
        if (v->kind != SN_YSEQ || v->n != 2)
            return type_err(c, v, "train", "betas", "a list [beta1, beta2]"), -1;
        if (rd_float_list(c, v, "train", "betas", F_UNIT_HALFOPEN, 2, b, &nb)) return -1;
        t->beta1 = b[0];
        t->beta2 = b[1];
    }
    if (opt_enum(c, m, "train", "schedule", SCHEDS, &sched)) return -1;
    t->schedule = (sn_schedule)sched;
    if (only_for(c, m, "milestones", sched == SN_SCHED_MULTISTEP, "to schedule multistep") ||
        only_for(c, m, "gamma", sched == SN_SCHED_MULTISTEP, "to schedule multistep") ||
        only_for(c, m, "min_lr", sched == SN_SCHED_COSINE, "to schedule cosine"))
        return -1;
    if (opt_int(c, m, "train", "epochs", 1, MAX_EPOCHS, &t->epochs) ||
        opt_int(c, m, "train", "batch_size", 1, MAX_BATCH, &t->batch_size))
        return -1;
    if (sched == SN_SCHED_MULTISTEP) {
        const sn_ynode *ms = need(c, m, "milestones", "train (schedule multistep)");
        if (!ms) return -1;
        if (ms->kind != SN_YSEQ)
            return type_err(c, ms, "train", "milestones", "a list of epochs ([30, 60])"), -1;
        if (ms->n == 0) return errf(c, ms, "train.milestones: the list is empty"), -1;
        if (ms->n > SN_MAX_LIST)
            return errf(c, ms, "train.milestones: at most %d entries, got %d", SN_MAX_LIST, ms->n),
                   -1;
        for (int i = 0; i < ms->n; i++) {
            if (rd_int(c, ms->items[i], "train", "milestones", 1, MAX_EPOCHS, &t->milestones[i]))
                return -1;
            if (i > 0 && t->milestones[i] <= t->milestones[i - 1])
                return errf(c, ms->items[i], "train.milestones: must be increasing (%d after %d)",
                            t->milestones[i], t->milestones[i - 1]),
                       -1;
        }
        t->nmilestones = ms->n;
        if (opt_float(c, m, "train", "gamma", F_POS, &t->gamma)) return -1;
    }
    if (opt_float(c, m, "train", "min_lr", F_NONNEG, &t->min_lr)) return -1;
    if (t->min_lr > t->lr)
        return errf(c, get(m, "min_lr"), "train.min_lr (%g) is larger than lr (%g)",
                    (double)t->min_lr, (double)t->lr),
               -1;
    if (opt_int(c, m, "train", "warmup_epochs", 0, MAX_EPOCHS, &t->warmup_epochs) ||
        opt_float(c, m, "train", "warmup_start_lr", F_NONNEG, &t->warmup_start_lr))
        return -1;
    if (t->warmup_epochs > t->epochs)
        return errf(c, get(m, "warmup_epochs"), "train.warmup_epochs (%d) is more than epochs (%d)",
                    t->warmup_epochs, t->epochs),
               -1;
    if (opt_float(c, m, "train", "label_smoothing", F_UNIT_HALFOPEN, &t->label_smoothing) ||
        opt_enum(c, m, "train", "loss", LOSSES, &loss))
        return -1;
    t->loss = (sn_loss)loss;
    if (t->loss == SN_LOSS_MSE && t->label_smoothing > 0)
        return errf(c, get(m, "label_smoothing"),
                    "train.label_smoothing only applies to loss "
                    "cross_entropy"),
               -1;
    if (opt_enum(c, m, "train", "init", INITS, &init)) return -1;
    t->init = (sn_init)init;
    if (only_for(c, m, "init_mode",
                 init == SN_INIT_KAIMING_NORMAL || init == SN_INIT_KAIMING_UNIFORM,
                 "to init kaiming_normal or kaiming_uniform") ||
        opt_enum(c, m, "train", "init_mode", MODES, &mode))
        return -1;
    t->init_fan_out = mode;
    if ((v = get(m, "seed")) && parse_seed(c, v, &t->seed)) return -1;
    if (opt_bool(c, m, "train", "shuffle", &t->shuffle)) return -1;
    if (opt_bool(c, m, "train", "sync_bn", &t->sync_bn)) return -1;
    return 0;
}

static int read_name(cv *c, const sn_ynode *n) {
    char *name = c->spec->name;
    if (rd_string(c, n, "", "name", name, SN_NAME_MAX)) return -1;
    if (!name[0]) return errf(c, n, "name: must not be empty"), -1;
    for (const char *p = name; *p; p++) {
        char ch = *p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_' || ch == '-' || ch == '.'))
            return errf(c, n,
                        "name: only letters, digits, '_', '-' and '.' are allowed (it names "
                        "the run directory), got '%c'",
                        ch),
                   -1;
    }
    if (name[0] == '.' || name[0] == '-')
        return errf(c, n, "name: must not start with '%c'", name[0]), -1;
    return 0;
}

static int dataset_channels(sn_dataset_kind d) {
    return d == SN_DATA_MNIST ? 1 : 3;
}
static int dataset_classes(sn_dataset_kind d) {
    return d == SN_DATA_CIFAR100 ? 100 : 10;
}
static const char *dataset_name(sn_dataset_kind d) {
    return d == SN_DATA_CIFAR10 ? "cifar10" : d == SN_DATA_CIFAR100 ? "cifar100" : "mnist";
}

static int convert(cv *c, const sn_ynode *root) {
    static const char *const TOP[] = {"name",  "input", "num_classes", "vgg",   "network",
                                      "quant", "snn",   "data",        "train", NULL};
    static const char *const INPUT_KEYS[] = {"channels", "height", "width", NULL};
    sn_model_spec *s = c->spec;
    char str[300];
    if (root->kind != SN_YMAP)
        return errf(c, root,
                    "the top level must be a mapping (name:, input:, num_classes:, vgg: "
                    "or network:, ...), got %s",
                    show(root, str, sizeof str)),
               -1;
    if (check_keys(c, root, "", TOP)) return -1;
    defaults(s);
    const sn_ynode *v;
    if (!(v = need(c, root, "name", "")) || read_name(c, v)) return -1;
    const sn_ynode *in = need(c, root, "input", "");
    if (!in || expect_map(c, in, "input") || check_keys(c, in, "input", INPUT_KEYS)) return -1;
    if (!(v = need(c, in, "channels", "input")) ||
        rd_int(c, v, "input", "channels", 1, MAX_CHANNELS, &s->in_channels) ||
        !(v = need(c, in, "height", "input")) ||
        rd_int(c, v, "input", "height", 1, MAX_SPATIAL, &s->in_height) ||
        !(v = need(c, in, "width", "input")) ||
        rd_int(c, v, "input", "width", 1, MAX_SPATIAL, &s->in_width))
        return -1;
    if ((long long)s->in_channels * s->in_height * s->in_width > (1LL << 30))
        return errf(c, in, "input: %d x %d x %d values per image is too many", s->in_channels,
                    s->in_height, s->in_width),
               -1;
    const sn_ynode *ncn = need(c, root, "num_classes", "");
    if (!ncn || rd_int(c, ncn, "", "num_classes", 1, MAX_CHANNELS, &s->num_classes)) return -1;

    if ((v = get(root, "quant")) && read_quant(c, v)) return -1;
    if ((v = get(root, "snn")) && read_snn(c, v)) return -1;

    const sn_ynode *vgg = get(root, "vgg"), *net = get(root, "network");
    if (vgg && net)
        return errf(c, key_node(root, "network"), "give either vgg: or network:, not both"), -1;
    if (!vgg && !net)
        return errf(c, root, "missing the network: give vgg: {cfg: [...]} or network: [...]"), -1;
    if (vgg ? read_vgg(c, vgg, ncn) : read_network(c, net)) return -1;

    if ((v = get(root, "data")) && read_data(c, v)) return -1;
    if ((v = get(root, "train")) && read_train(c, v)) return -1;

    /* consistency between sections */
    sn_data_spec *d = &s->data;
    if (d->dataset != SN_DATA_NONE) {
        const sn_ynode *dn = get(get(root, "data"), "dataset");
        if (dataset_channels(d->dataset) != s->in_channels)
            return errf(c, dn, "data.dataset: %s images have %d channel%s but input.channels is %d",
                        dataset_name(d->dataset), dataset_channels(d->dataset),
                        dataset_channels(d->dataset) == 1 ? "" : "s", s->in_channels),
                   -1;
        if (s->num_classes < dataset_classes(d->dataset))
            return errf(c, ncn, "num_classes is %d but %s has %d classes", s->num_classes,
                        dataset_name(d->dataset), dataset_classes(d->dataset)),
                   -1;
    }
    if (s->snn.enabled && s->snn.encoder == SN_ENC_POISSON &&
        (d->nmean || d->nstd || d->per_image_standardization || d->scale > 1.0f / 255.0f + 1e-7f)) {
        const sn_ynode *en = get(get(root, "snn"), "encoder");
        return errf(c, en,
                    "snn.encoder: poisson needs inputs in [0, 1]: use data.scale 1/255 "
                    "(0.00392156863) without mean, std or per_image_standardization"),
               -1;
    }
    return 0;
}

/* ---- entry points ---------------------------------------------------------------------- */

sn_code sn_spec_parse(const char *name, const char *text, size_t len, const char *const *overrides,
                      int noverrides, sn_model_spec *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    if (!name) name = "<input>";
    sn_ydoc doc;
    if (sn_ydoc_parse(&doc, name, text, len, st) != SN_OK) {
        sn_ydoc_free(&doc);
        return st->code;
    }
    for (int i = 0; i < noverrides && overrides; i++) {
        if (sn_ydoc_apply_override(&doc, overrides[i], st) != SN_OK) {
            sn_ydoc_free(&doc);
            return st->code;
        }
    }
    cv c;
    memset(&c, 0, sizeof c);
    c.doc = &doc;
    c.st = st;
    c.spec = out;
    sn_strlcpy(out->source_path, name, sizeof out->source_path);
    int bad = convert(&c, doc.root);
    sn_ydoc_free(&doc);
    if (bad || !sn_ok(st)) {
        if (sn_ok(st)) sn_fail(st, SN_ERR_INPUT, "%s: invalid model", name);
        sn_spec_free(out);
        memset(out, 0, sizeof *out);
        return st->code;
    }
    return SN_OK;
}

sn_code sn_spec_load(const char *path, const char *const *overrides, int noverrides,
                     sn_model_spec *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    unsigned char *data = NULL;
    size_t size = 0;
    if (sn_read_file(path, &data, &size, st) != SN_OK) return st->code;
    sn_code rc = sn_spec_parse(path, (const char *)data, size, overrides, noverrides, out, st);
    free(data);
    return rc;
}

void sn_spec_free(sn_model_spec *spec) {
    if (!spec) return;
    free(spec->layers);
    spec->layers = NULL;
    spec->nlayers = 0;
}
