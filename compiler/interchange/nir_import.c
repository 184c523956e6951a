/* NIR document -> model YAML + weights (docs/nir.md).
 *
 * The graph must be a chain from its Input to its Output; the one exception is the form in
 * which multi-threshold units travel: a node feeding several Threshold nodes whose outputs
 * all meet (and are summed) at the next node, which becomes a `threshold` layer. Every
 * node is checked before anything is written: its type, its fields (no unknown ones, the
 * right kind and shape, finite values), and that its shape chains with the node before.
 * Errors name the file, the node, its type and the field. */
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../ir/build.h"
#include "nir.h"

#define MAX_DIM      (1 << 20)
#define MAX_KERNEL   4096
#define MAX_ELEMENTS ((int64_t)1 << 28) /* values of one imported array */
#define CONTAINER    "net"

typedef struct arr {
    char name[SN_NAME_MAX + 32];
    int64_t n;
    float *v;
} arr;

typedef struct imp {
    const sn_nir_doc *doc;
    const sn_nir_graph *g;
    const sn_nir_import_opts *o;
    sn_status *st;
    sn_strbuf *yaml, *notes;
    arr *arrays;
    int narrays, cap;
    int index; /* next layer index in the container */
    /* the current per-sample shape */
    int rank; /* 1 or 3 */
    int64_t d[3];
    char input_line[160]; /* the model's input: section */
    int64_t num_classes;
    double dt;
    int old_version; /* written before NIR 1.0.6 (no v_reset) */
} imp;

/* ---- messages -------------------------------------------------------------------------- */

static sn_code nfail(imp *m, const sn_nir_node *n, const char *field, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static sn_code nfail(imp *m, const sn_nir_node *n, const char *field, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    if (field)
        return sn_fail(m->st, SN_ERR_INPUT, "%s: node '%s' (%s): field '%s': %s", m->doc->source,
                       n->key, n->type, field, msg);
    return sn_fail(m->st, SN_ERR_INPUT, "%s: node '%s' (%s): %s", m->doc->source, n->key, n->type,
                   msg);
}

static void note(imp *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void note(imp *m, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    sn_sb_vprintf(m->notes, fmt, ap);
    va_end(ap);
    sn_sb_puts(m->notes, "\n");
}

static const char *shape_text(int rank, const int64_t *d, char *buf, size_t n) {
    size_t o = (size_t)snprintf(buf, n, "[");
    for (int i = 0; i < rank && o + 24 < n; i++)
        o += (size_t)snprintf(buf + o, n - o, "%s%lld", i ? ", " : "", (long long)d[i]);
    snprintf(buf + o, n - o, "]");
    return buf;
}

static const char *cur_text(const imp *m, char *buf, size_t n) {
    return shape_text(m->rank, m->d, buf, n);
}

static int64_t cur_numel(const imp *m) {
    int64_t n = 1;
    for (int i = 0; i < m->rank; i++) n *= m->d[i];
    return n;
}

/* ---- fields ---------------------------------------------------------------------------- */

static const sn_nir_field *field(const sn_nir_node *n, const char *name) {
    return sn_nir_find_field(n->fields, n->nfields, name);
}

/* Every field of n must be in `allowed` (NULL-terminated); input_type/output_type are
 * accepted on any node (the reference reader's dataclasses hold them) and checked by the
 * caller where they matter. */
static sn_code check_fields(imp *m, const sn_nir_node *n, const char *const *allowed) {
    for (int i = 0; i < n->nfields; i++) {
        const char *f = n->fields[i].name;
        int ok = !strcmp(f, "input_type") || !strcmp(f, "output_type");
        for (int k = 0; allowed[k] && !ok; k++) ok = !strcmp(f, allowed[k]);
        if (!ok) {
            char list[512] = "";
            size_t o = 0;
            for (int k = 0; allowed[k] && o + 40 < sizeof list; k++)
                o += (size_t)snprintf(list + o, sizeof list - o, "%s%s", k ? ", " : "", allowed[k]);
            const char *sug = sn_suggest(f, allowed);
            return nfail(m, n, f, "unknown field%s%s%s (a %s node has %s)",
                         sug ? "; did you mean '" : "", sug ? sug : "", sug ? "'?" : "", n->type,
                         list[0] ? list : "no fields");
        }
    }
    return SN_OK;
}

static const sn_nir_field *need(imp *m, const sn_nir_node *n, const char *name) {
    const sn_nir_field *f = field(n, name);
    if (!f) nfail(m, n, name, "missing (a %s node needs it)", n->type);
    return f;
}

static int is_number(const sn_nir_field *f) {
    return f->kind == SN_NIR_FLOAT || f->kind == SN_NIR_INT;
}

/* A whole number: a scalar or a 1-element array, integer dtype or an integral float. */
static sn_code get_int(imp *m, const sn_nir_node *n, const sn_nir_field *f, int64_t lo, int64_t hi,
                       int64_t *out) {
    if (!is_number(f) || f->numel != 1 || f->rank > 1)
        return nfail(m, n, f->name, "expected one whole number");
    double v = f->f[0];
    if (!(v == floor(v)) || v < (double)lo || v > (double)hi)
        return nfail(m, n, f->name, "%g is not a whole number in [%lld, %lld]", v, (long long)lo,
                     (long long)hi);
    *out = (int64_t)v;
    return SN_OK;
}

/* A pair of whole numbers: [a, b], or one number for both. */
static sn_code get_pair(imp *m, const sn_nir_node *n, const sn_nir_field *f, int64_t lo, int64_t hi,
                        int64_t out[2]) {
    if (!is_number(f) || f->rank > 1 || (f->numel != 1 && f->numel != 2))
        return nfail(m, n, f->name, "expected two whole numbers (height, width)");
    for (int i = 0; i < 2; i++) {
        double v = f->f[f->numel == 2 ? i : 0];
        if (!(v == floor(v)) || v < (double)lo || v > (double)hi)
            return nfail(m, n, f->name, "%g is not a whole number in [%lld, %lld]", v,
                         (long long)lo, (long long)hi);
        out[i] = (int64_t)v;
    }
    return SN_OK;
}

/* A numeric array with finite values. */
static sn_code check_values(imp *m, const sn_nir_node *n, const sn_nir_field *f) {
    if (!is_number(f))
        return nfail(m, n, f->name, "expected numbers, got %s",
                     f->kind == SN_NIR_STRING ? "a string" : "something else");
    if (f->numel > MAX_ELEMENTS)
        return nfail(m, n, f->name, "%lld values is too many", (long long)f->numel);
    for (int64_t i = 0; i < f->numel; i++)
        if (!isfinite(f->f[i]))
            return nfail(m, n, f->name, "value %lld is %s (parameters must be finite)",
                         (long long)i, isnan(f->f[i]) ? "NaN" : "infinite");
    return SN_OK;
}

/* Adds a named weight array (float32) and returns its storage. */
static float *add_array(imp *m, const char *suffix, int64_t n) {
    if (!sn_grow((void **)&m->arrays, &m->cap, m->narrays + 1, sizeof *m->arrays)) {
        sn_fail(m->st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    arr *a = &m->arrays[m->narrays];
    memset(a, 0, sizeof *a);
    snprintf(a->name, sizeof a->name, "%s.%d.%s", CONTAINER, m->index, suffix);
    a->n = n;
    a->v = sn_calloc((size_t)(n > 0 ? n : 1), sizeof(float));
    if (!a->v) {
        sn_fail(m->st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    m->narrays++;
    return a->v;
}

/* A per-neuron parameter array for the current shape, from field f: the same shape, one
 * value for all, or (for a [C, H, W] layer) one value per channel. */
static sn_code neuron_array(imp *m, const sn_nir_node *n, const sn_nir_field *f, const char *suffix,
                            float **out) {
    *out = NULL;
    if (check_values(m, n, f)) return m->st->code;
    int64_t E = cur_numel(m);
    int same = f->rank == m->rank;
    for (int i = 0; same && i < m->rank; i++) same = f->dims[i] == m->d[i];
    int per_channel = m->rank == 3 && f->rank == 1 && f->dims[0] == m->d[0];
    if (!same && f->numel != 1 && !per_channel) {
        char a[96], b[96];
        return nfail(m, n, f->name,
                     "shape %s does not fit the layer's per-sample shape %s (the shapes do not "
                     "chain)",
                     shape_text(f->rank, f->dims, a, sizeof a), cur_text(m, b, sizeof b));
    }
    float *v = add_array(m, suffix, E);
    if (!v) return m->st->code;
    int64_t plane = m->rank == 3 ? m->d[1] * m->d[2] : 1;
    for (int64_t e = 0; e < E; e++)
        v[e] = (float)(same ? f->f[e] : per_channel ? f->f[e / plane] : f->f[0]);
    *out = v;
    return SN_OK;
}

/* input_type / output_type, when given, must be the shape they claim. */
static sn_code check_type_field(imp *m, const sn_nir_node *n, const char *name, int rank,
                                const int64_t *d) {
    const sn_nir_field *f = field(n, name);
    if (!f) return SN_OK;
    int ok = is_number(f) && f->rank <= 1 && f->numel == rank;
    for (int i = 0; ok && i < rank; i++) ok = f->f[i] == (double)d[i];
    if (!ok) {
        char a[96];
        return nfail(m, n, name, "does not match the shape %s the node %s",
                     shape_text(rank, d, a, sizeof a),
                     !strcmp(name, "input_type") ? "receives" : "produces");
    }
    return SN_OK;
}

/* ---- nodes ----------------------------------------------------------------------------- */

static sn_code need_flat(imp *m, const sn_nir_node *n) {
    if (m->rank == 1) return SN_OK;
    char a[96];
    return nfail(m, n, NULL,
                 "receives a [C, H, W] map %s but needs a vector: the shapes do not chain (a "
                 "Flatten node must come before it)",
                 cur_text(m, a, sizeof a));
}

static sn_code need_map(imp *m, const sn_nir_node *n) {
    if (m->rank == 3) return SN_OK;
    char a[96];
    return nfail(m, n, NULL,
                 "receives a vector %s but needs a [C, H, W] map: the shapes do not chain",
                 cur_text(m, a, sizeof a));
}

/* Text from the file in a YAML comment: printable ASCII only (keys, versions and paths are
 * free bytes; a comment must stay one line of valid UTF-8). */
static void comment_text(sn_strbuf *sb, const char *s) {
    for (const unsigned char *p = (const unsigned char *)s; *p; p++)
        sn_sb_printf(sb, "%c", *p < 0x20 || *p >= 0x7f ? '?' : *p);
}

static void yaml_layer(imp *m, const sn_nir_node *n, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void yaml_layer(imp *m, const sn_nir_node *n, const char *fmt, ...) {
    sn_sb_puts(m->yaml, "      - ");
    va_list ap;
    va_start(ap, fmt);
    sn_sb_vprintf(m->yaml, fmt, ap);
    va_end(ap);
    if (n) {
        sn_sb_printf(m->yaml, "  # %s.%d: NIR node '", CONTAINER, m->index);
        comment_text(m->yaml, n->key);
        sn_sb_puts(m->yaml, "' (");
        comment_text(m->yaml, n->type);
        sn_sb_puts(m->yaml, ")");
    } else {
        sn_sb_printf(m->yaml, "  # %s.%d", CONTAINER, m->index);
    }
    sn_sb_puts(m->yaml, "\n");
    m->index++;
}

static sn_code imp_affine(imp *m, const sn_nir_node *n, int with_bias) {
    static const char *const AFFINE[] = {"weight", "bias", NULL};
    static const char *const LINEAR[] = {"weight", NULL};
    if (check_fields(m, n, with_bias ? AFFINE : LINEAR) || need_flat(m, n)) return m->st->code;
    const sn_nir_field *w = need(m, n, "weight"), *b = with_bias ? need(m, n, "bias") : NULL;
    if (!w || (with_bias && !b)) return m->st->code;
    if (check_values(m, n, w)) return m->st->code;
    if (w->rank != 2 || w->dims[0] < 1 || w->dims[0] > MAX_DIM || w->dims[1] != m->d[0]) {
        char a[96];
        return nfail(m, n, "weight",
                     "shape %s does not fit: expected [out, %lld] for an input of %lld features "
                     "(the shapes do not chain)",
                     shape_text(w->rank, w->dims, a, sizeof a), (long long)m->d[0],
                     (long long)m->d[0]);
    }
    int64_t M = w->dims[0], K = w->dims[1];
    if (check_type_field(m, n, "input_type", 1, m->d)) return m->st->code;
    if (b) {
        if (check_values(m, n, b)) return m->st->code;
        if (b->rank != 1 || b->dims[0] != M) {
            char a[96];
            return nfail(m, n, "bias", "shape %s does not match the %lld outputs of weight",
                         shape_text(b->rank, b->dims, a, sizeof a), (long long)M);
        }
    }
    float *wv = add_array(m, "weight", M * K);
    if (!wv) return m->st->code;
    for (int64_t i = 0; i < M * K; i++) wv[i] = (float)w->f[i];
    if (b) {
        float *bv = add_array(m, "bias", M);
        if (!bv) return m->st->code;
        for (int64_t i = 0; i < M; i++) bv[i] = (float)b->f[i];
    }
    m->d[0] = M;
    if (check_type_field(m, n, "output_type", 1, m->d)) return m->st->code;
    yaml_layer(m, n, "linear: {out_features: %lld, bias: %s}", (long long)M, b ? "true" : "false");
    return SN_OK;
}

static sn_code imp_scale(imp *m, const sn_nir_node *n) {
    static const char *const F[] = {"scale", NULL};
    if (check_fields(m, n, F)) return m->st->code;
    const sn_nir_field *s = need(m, n, "scale");
    float *v;
    if (!s || neuron_array(m, n, s, "scale", &v)) return m->st->code;
    yaml_layer(m, n, "scale");
    return SN_OK;
}

/* Output size of a window along one axis (PyTorch floor mode), or 0 when it does not fit. */
static int64_t out_size(int64_t in, int64_t k, int64_t s, int64_t pad_total) {
    if (in + pad_total < k || s < 1) return 0;
    return (in + pad_total - k) / s + 1;
}

static sn_code imp_conv(imp *m, const sn_nir_node *n) {
    static const char *const F[] = {"weight",   "bias",   "stride",      "padding",
                                    "dilation", "groups", "input_shape", NULL};
    if (check_fields(m, n, F) || need_map(m, n)) return m->st->code;
    const sn_nir_field *w = need(m, n, "weight");
    if (!w || check_values(m, n, w)) return m->st->code;
    int64_t C = m->d[0], H = m->d[1], W = m->d[2];
    int64_t groups = 1, stride[2] = {1, 1}, dil[2] = {1, 1}, pad[2] = {0, 0};
    const sn_nir_field *f;
    if ((f = field(n, "groups")) && get_int(m, n, f, 1, MAX_DIM, &groups)) return m->st->code;
    if ((f = field(n, "stride")) && get_pair(m, n, f, 1, MAX_KERNEL, stride)) return m->st->code;
    if ((f = field(n, "dilation")) && get_pair(m, n, f, 1, MAX_KERNEL, dil)) return m->st->code;
    if (w->rank != 4 || w->dims[0] < 1 || w->dims[0] > MAX_DIM || w->dims[2] < 1 ||
        w->dims[2] > MAX_KERNEL || w->dims[3] < 1 || w->dims[3] > MAX_KERNEL) {
        char a[96];
        return nfail(m, n, "weight",
                     "shape %s: expected [out_channels, in_channels / groups, kH, kW]",
                     shape_text(w->rank, w->dims, a, sizeof a));
    }
    int64_t O = w->dims[0], Cg = w->dims[1], KH = w->dims[2], KW = w->dims[3];
    if (C % groups || O % groups || Cg != C / groups) {
        char a[96];
        return nfail(m, n, "weight",
                     "shape %s does not fit an input of %lld channels in %lld groups (the shapes "
                     "do not chain)",
                     shape_text(w->rank, w->dims, a, sizeof a), (long long)C, (long long)groups);
    }
    if ((f = field(n, "input_shape"))) {
        int64_t hw[2];
        if (get_pair(m, n, f, 1, 1 << 30, hw)) return m->st->code;
        if (hw[0] != H || hw[1] != W)
            return nfail(m, n, "input_shape",
                         "[%lld, %lld] but the node receives %lldx%lld maps (the shapes do not "
                         "chain)",
                         (long long)hw[0], (long long)hw[1], (long long)H, (long long)W);
    }
    /* effective (dilated) kernel, and the padding on each side */
    int64_t EKH = dil[0] * (KH - 1) + 1, EKW = dil[1] * (KW - 1) + 1;
    int64_t lo[2] = {0, 0}, hi[2] = {0, 0};
    const sn_nir_field *pf = field(n, "padding");
    const char *padding_word = NULL;
    if (pf && pf->kind == SN_NIR_STRING) {
        padding_word = pf->numel == 1 ? pf->s[0] : "";
        if (!strcmp(padding_word, "valid")) {
            /* no padding */
        } else if (!strcmp(padding_word, "same")) {
            if (stride[0] != 1 || stride[1] != 1)
                return nfail(m, n, "padding",
                             "'same' needs stride 1 (as in PyTorch), the node has stride %lldx%lld",
                             (long long)stride[0], (long long)stride[1]);
            lo[0] = (EKH - 1) / 2;
            hi[0] = EKH - 1 - lo[0];
            lo[1] = (EKW - 1) / 2;
            hi[1] = EKW - 1 - lo[1];
        } else {
            return nfail(m, n, "padding", "'%s': expected two whole numbers, \"same\" or \"valid\"",
                         padding_word);
        }
    } else if (pf) {
        if (get_pair(m, n, pf, 0, MAX_KERNEL, pad)) return m->st->code;
        lo[0] = hi[0] = pad[0];
        lo[1] = hi[1] = pad[1];
    }
    int64_t OH = out_size(H, EKH, stride[0], lo[0] + hi[0]);
    int64_t OW = out_size(W, EKW, stride[1], lo[1] + hi[1]);
    if (OH < 1 || OW < 1)
        return nfail(m, n, NULL,
                     "the %lldx%lld kernel (dilated) does not fit the %lldx%lld input with its "
                     "padding (the shapes do not chain)",
                     (long long)EKH, (long long)EKW, (long long)H, (long long)W);
    const sn_nir_field *b = field(n, "bias");
    if (b) {
        if (check_values(m, n, b)) return m->st->code;
        if (b->rank != 1 || b->dims[0] != O) {
            char a[96];
            return nfail(m, n, "bias", "shape %s does not match the %lld output channels",
                         shape_text(b->rank, b->dims, a, sizeof a), (long long)O);
        }
        /* NIR's Conv2d always has a bias; all zeros is a convolution without one (the form
         * snnc exports bias-free convolutions in, so export + import keeps the model) */
        int zero = 1;
        for (int64_t i = 0; i < O; i++) zero &= b->f[i] == 0.0;
        if (zero) b = NULL;
    }
    if (check_type_field(m, n, "input_type", 3, m->d)) return m->st->code;
    /* snnc's conv2d pads symmetrically: an extra row/column of padding on the far side is a
     * zero row/column at the start of the kernel with one more padding on both sides */
    int64_t xh = hi[0] - lo[0], xw = hi[1] - lo[1]; /* 0 or 1 */
    int64_t PH = hi[0], PW = hi[1];
    int64_t KH2 = EKH + xh, KW2 = EKW + xw;
    if (KH2 > MAX_KERNEL || KW2 > MAX_KERNEL || PH * 2 >= KH2 + 2 * MAX_KERNEL)
        return nfail(m, n, NULL, "the dilated kernel %lldx%lld is too large", (long long)KH2,
                     (long long)KW2);
    int64_t total = O * C * KH2 * KW2;
    if (total > MAX_ELEMENTS)
        return nfail(m, n, "weight", "the dense equivalent kernel would hold %lld values",
                     (long long)total);
    float *wv = add_array(m, "weight", total);
    if (!wv) return m->st->code;
    int64_t og = O / groups;
    for (int64_t o = 0; o < O; o++) {
        int64_t grp = o / og;
        for (int64_t cg = 0; cg < Cg; cg++) {
            int64_t c = grp * Cg + cg;
            for (int64_t kh = 0; kh < KH; kh++)
                for (int64_t kw = 0; kw < KW; kw++) {
                    int64_t y = xh + kh * dil[0], x = xw + kw * dil[1];
                    wv[((o * C + c) * KH2 + y) * KW2 + x] =
                        (float)w->f[((o * Cg + cg) * KH + kh) * KW + kw];
                }
        }
    }
    if (b) {
        float *bv = add_array(m, "bias", O);
        if (!bv) return m->st->code;
        for (int64_t i = 0; i < O; i++) bv[i] = (float)b->f[i];
    }
    if (groups > 1 || dil[0] > 1 || dil[1] > 1 || xh || xw)
        note(
            m,
            "node '%s' (Conv2d): groups %lld, dilation %lldx%lld%s imported as an equivalent dense "
            "%lldx%lld convolution (zero weights fill the gaps)",
            n->key, (long long)groups, (long long)dil[0], (long long)dil[1],
            xh || xw ? ", asymmetric 'same' padding" : "", (long long)KH2, (long long)KW2);
    m->d[0] = O;
    m->d[1] = OH;
    m->d[2] = OW;
    if (check_type_field(m, n, "output_type", 3, m->d)) return m->st->code;
    yaml_layer(m, n,
               "conv2d: {out_channels: %lld, kernel_size: [%lld, %lld], stride: [%lld, %lld], "
               "padding: [%lld, %lld], bias: %s}",
               (long long)O, (long long)KH2, (long long)KW2, (long long)stride[0],
               (long long)stride[1], (long long)PH, (long long)PW, b ? "true" : "false");
    return SN_OK;
}

static sn_code imp_pool(imp *m, const sn_nir_node *n, int sum) {
    static const char *const F[] = {"kernel_size", "stride", "padding", NULL};
    if (check_fields(m, n, F) || need_map(m, n)) return m->st->code;
    int64_t k[2], s[2], p[2] = {0, 0};
    const sn_nir_field *f = need(m, n, "kernel_size");
    if (!f || get_pair(m, n, f, 1, MAX_KERNEL, k)) return m->st->code;
    s[0] = k[0];
    s[1] = k[1];
    if ((f = field(n, "stride")) && get_pair(m, n, f, 1, MAX_KERNEL, s)) return m->st->code;
    if ((f = field(n, "padding")) && get_pair(m, n, f, 0, MAX_KERNEL, p)) return m->st->code;
    if (2 * p[0] > k[0] || 2 * p[1] > k[1])
        return nfail(m, n, "padding",
                     "%lldx%lld is more than half the %lldx%lld window (PyTorch and snnc allow "
                     "at most kernel_size / 2)",
                     (long long)p[0], (long long)p[1], (long long)k[0], (long long)k[1]);
    int64_t OH = out_size(m->d[1], k[0], s[0], 2 * p[0]);
    int64_t OW = out_size(m->d[2], k[1], s[1], 2 * p[1]);
    if (OH < 1 || OW < 1)
        return nfail(m, n, "kernel_size", "the %lldx%lld window does not fit the %lldx%lld input",
                     (long long)k[0], (long long)k[1], (long long)m->d[1], (long long)m->d[2]);
    if (check_type_field(m, n, "input_type", 3, m->d)) return m->st->code;
    m->d[1] = OH;
    m->d[2] = OW;
    yaml_layer(m, n, "%s: {kernel_size: [%lld, %lld], stride: [%lld, %lld], padding: [%lld, %lld]}",
               sum ? "sumpool" : "avgpool", (long long)k[0], (long long)k[1], (long long)s[0],
               (long long)s[1], (long long)p[0], (long long)p[1]);
    return SN_OK;
}

static sn_code imp_flatten(imp *m, const sn_nir_node *n) {
    static const char *const F[] = {"start_dim", "end_dim", NULL};
    if (check_fields(m, n, F)) return m->st->code;
    int64_t s = 1, e = -1; /* the NIR dataclass defaults */
    const sn_nir_field *f;
    if ((f = field(n, "start_dim")) && get_int(m, n, f, -8, 8, &s)) return m->st->code;
    if ((f = field(n, "end_dim")) && get_int(m, n, f, -8, 8, &e)) return m->st->code;
    if (check_type_field(m, n, "input_type", m->rank, m->d)) return m->st->code;
    int r = m->rank;
    int64_t s0 = s < 0 ? s + r : s, e0 = e < 0 ? e + r : e;
    if (s0 < 0 || e0 >= r || s0 > e0)
        return nfail(m, n, "start_dim",
                     "dims %lld..%lld do not fit the per-sample shape of rank %d (NIR dims index "
                     "the sample, without batch and time)",
                     (long long)s, (long long)e, r);
    int full = s0 == 0 && e0 == r - 1;
    if (!full && s0 == 1 && e0 == r - 1 && r == 3) {
        /* start_dim 1 over [C, H, W] gives [C, H*W]; writers that count a batch dim mean a
         * flatten of the whole sample, and nothing in snnc takes [C, H*W] */
        note(m,
             "node '%s' (Flatten): start_dim 1 on a per-sample [C, H, W] shape read as a flatten "
             "of the whole sample (the writer counted the batch dim)",
             n->key);
        full = 1;
    }
    if (!full) {
        char a[96];
        return nfail(m, n, NULL,
                     "flattening dims %lld..%lld of %s leaves a multi-dimensional sample, which "
                     "snnc's layers do not take (only a flatten of the whole sample is supported)",
                     (long long)s, (long long)e, cur_text(m, a, sizeof a));
    }
    int64_t total = cur_numel(m);
    if (m->rank == 3) yaml_layer(m, n, "flatten");
    m->rank = 1;
    m->d[0] = total;
    if (check_type_field(m, n, "output_type", 1, m->d)) return m->st->code;
    return SN_OK;
}

/* The NIR version as three numbers ("0.1.1" -> 0, 1, 1); 0 when it does not parse. */
static int version_before(const char *v, int a, int b, int c) {
    int x = 0, y = 0, z = 0;
    if (sscanf(v, "%d.%d.%d", &x, &y, &z) < 2) return 0;
    if (x != a) return x < a;
    if (y != b) return y < b;
    return z < c;
}

/* snnc export's metadata: the node's own, else the graph's (unless that says "mixed"). */
static int meta_says(const imp *m, const sn_nir_node *n, const char *key, const char *value) {
    const sn_nir_field *f = sn_nir_find_field(n->meta, n->nmeta, key);
    if (!f) f = sn_nir_find_field(m->g->meta, m->g->nmeta, key);
    return f && f->kind == SN_NIR_STRING && f->numel == 1 && !strcmp(f->s[0], value);
}

static sn_code imp_neuron(imp *m, const sn_nir_node *n, sn_nir_model kind) {
    static const char *const LIF[] = {"tau", "r", "v_leak", "v_threshold", "v_reset", NULL};
    static const char *const LI[] = {"tau", "r", "v_leak", NULL};
    static const char *const IF[] = {"r", "v_threshold", "v_reset", NULL};
    static const char *const I[] = {"r", NULL};
    static const char *const TH[] = {"threshold", NULL};
    const char *const *allowed = kind == SN_NIR_LIF  ? LIF
                                 : kind == SN_NIR_LI ? LI
                                 : kind == SN_NIR_IF ? IF
                                 : kind == SN_NIR_I  ? I
                                                     : TH;
    if (check_fields(m, n, allowed)) return m->st->code;
    if (check_type_field(m, n, "input_type", m->rank, m->d) ||
        check_type_field(m, n, "output_type", m->rank, m->d))
        return m->st->code;
    sn_nir_neuron_params p;
    memset(&p, 0, sizeof p);
    p.model = kind;
    int leaky = kind == SN_NIR_LIF || kind == SN_NIR_LI;
    p.exact = m->o->exact_given ? m->o->exact : meta_says(m, n, "discretization", "exact");
    int spiking = kind == SN_NIR_LIF || kind == SN_NIR_IF;
    int has_reset = spiking && field(n, "v_reset");
    if (spiking || kind == SN_NIR_THRESHOLD) p.ge = meta_says(m, n, "threshold", "ge");
    if (spiking) {
        if (has_reset)
            p.subtract = meta_says(m, n, "reset", "subtract");
        else
            p.subtract = m->o->reset == SN_NIR_RESET_SUBTRACT;
        if (!has_reset && !m->o->reset_given && m->old_version)
            note(m,
                 "warning: node '%s' (%s) has no v_reset: the file was written by NIR %s, before "
                 "1.0.6, when its authors meant subtractive reset (v <- v - v_threshold); reset "
                 "to 0 applied, as the reference reader does (use --reset subtract for that)",
                 n->key, n->type, m->doc->version[0] ? m->doc->version : "(unknown)");
        else if (!has_reset)
            note(m, "node '%s' (%s) has no v_reset: %s", n->key, n->type,
                 p.subtract ? "subtractive reset (--reset subtract)" : "reset to 0");
        else if (p.subtract)
            note(m,
                 "node '%s' (%s): subtractive reset, as the file's metadata says (snnc wrote it; "
                 "NIR has no form for it)",
                 n->key, n->type);
    }
    /* validate and collect the arrays in the layer's parameter order */
    for (int k = 0; k < SN_NIRP_COUNT; k++) {
        if (!sn_nir_neuron_uses(&p, k)) continue;
        const char *fname = sn_nir_param_name(kind, k);
        const sn_nir_field *f = field(n, fname);
        float *v;
        if (k == SN_NIRP_V_RESET && !f) { /* zeros */
            if (!(v = add_array(m, fname, cur_numel(m)))) return m->st->code;
            continue;
        }
        if (!f) return nfail(m, n, fname, "missing (a %s node needs it)", n->type);
        if (neuron_array(m, n, f, fname, &v)) return m->st->code;
        if (k == SN_NIRP_V_THRESHOLD && p.ge) /* snnc wrote nextafter(theta, -inf): undo */
            for (int64_t e = 0; e < cur_numel(m); e++) v[e] = nextafterf(v[e], INFINITY);
        if (k == SN_NIRP_TAU) {
            int64_t E = cur_numel(m);
            double maxk = 0;
            for (int64_t e = 0; e < E; e++) {
                if (!(v[e] > 0.0f))
                    return nfail(m, n, "tau", "value %lld is %g: time constants must be > 0",
                                 (long long)e, (double)v[e]);
                double kk = m->dt / (double)v[e];
                if (kk > maxk) maxk = kk;
            }
            if (!p.exact && maxk > 1.0)
                note(m,
                     "warning: node '%s' (%s): dt/tau reaches %.3g > 1, where forward Euler "
                     "overshoots; use a smaller --dt or --discretization exact",
                     n->key, n->type, maxk);
        }
    }
    /* under subtractive reset v_reset is not used, but it must still be a valid array */
    if (spiking && p.subtract && has_reset && check_values(m, n, field(n, "v_reset")))
        return m->st->code;
    char dt[32];
    snprintf(dt, sizeof dt, "%.9g", m->dt);
    switch (kind) {
    case SN_NIR_LIF:
        yaml_layer(m, n, "nir_lif: {dt: %s, discretization: %s, reset: %s%s}", dt,
                   p.exact ? "exact" : "euler", p.subtract ? "subtract" : "value",
                   p.ge ? ", compare: ge" : "");
        break;
    case SN_NIR_LI:
        yaml_layer(m, n, "nir_li: {dt: %s, discretization: %s}", dt, p.exact ? "exact" : "euler");
        break;
    case SN_NIR_IF:
        yaml_layer(m, n, "nir_if: {reset: %s%s}", p.subtract ? "subtract" : "value",
                   p.ge ? ", compare: ge" : "");
        break;
    case SN_NIR_I:
        yaml_layer(m, n, "nir_i");
        break;
    case SN_NIR_THRESHOLD:
        yaml_layer(m, n, "%s", p.ge ? "nir_threshold: {compare: ge}" : "nir_threshold");
        break;
    }
    (void)leaky;
    return SN_OK;
}

/* Parallel Threshold nodes whose outputs are summed: snnc's threshold units. Unit u fires
 * when v > theta'_u, i.e. v >= nextafter(theta'_u, +inf) in float32; the thresholds must be
 * the same over each channel's map. */
static sn_code imp_units(imp *m, const sn_nir_node *from, const sn_nir_node *const *th, int U) {
    int64_t C = m->d[0], plane = m->rank == 3 ? m->d[1] * m->d[2] : 1;
    float *theta = sn_calloc((size_t)(C * U), sizeof(float));
    if (!theta) return sn_fail(m->st, SN_ERR_RUNTIME, "out of memory");
    sn_code c = SN_OK;
    for (int u = 0; u < U && !c; u++) {
        const sn_nir_node *n = th[u];
        static const char *const F[] = {"threshold", NULL};
        const sn_nir_field *f;
        float *v;
        /* expanded to the layer's shape in a scratch array (dropped: not a weight) */
        int saved = m->narrays;
        if (check_fields(m, n, F) || !(f = need(m, n, "threshold")) ||
            neuron_array(m, n, f, "threshold", &v)) {
            c = m->st->code;
            break;
        }
        for (int64_t ch = 0; ch < C && !c; ch++) {
            for (int64_t i = 1; i < plane && !c; i++)
                if (v[ch * plane + i] != v[ch * plane])
                    c = nfail(m, n, "threshold",
                              "differs within channel %lld: parallel Threshold nodes import as "
                              "snnc threshold units, which have one threshold per channel",
                              (long long)ch);
            theta[ch * U + u] = nextafterf(v[ch * plane], INFINITY);
        }
        free(m->arrays[saved].v);
        m->narrays = saved;
    }
    float *t = c ? NULL : add_array(m, "theta", C * U);
    if (t) memcpy(t, theta, (size_t)(C * U) * sizeof(float));
    free(theta);
    if (!t) return m->st->code;
    note(m,
         "node '%s' feeds %d parallel Threshold nodes summed by the next node: imported as one "
         "threshold layer of %d units",
         from->key, U, U);
    sn_sb_printf(m->yaml, "      - threshold: {units: %d}  # %s.%d: NIR nodes '", U, CONTAINER,
                 m->index);
    comment_text(m->yaml, th[0]->key);
    sn_sb_puts(m->yaml, "'..'");
    comment_text(m->yaml, th[U - 1]->key);
    sn_sb_printf(m->yaml, "' (%d x Threshold)\n", U);
    m->index++;
    return SN_OK;
}

/* ---- the graph ------------------------------------------------------------------------- */

static const sn_nir_field *meta(const sn_nir_graph *g, const char *name) {
    return sn_nir_find_field(g->meta, g->nmeta, name);
}

static int node_index(const sn_nir_graph *g, const char *key) {
    for (int i = 0; i < g->nnodes; i++)
        if (!strcmp(g->nodes[i].key, key)) return i;
    return -1;
}

static sn_code gfail(imp *m, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static sn_code gfail(imp *m, const char *fmt, ...) {
    char msg[1536];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return sn_fail(m->st, SN_ERR_INPUT, "%s: %s", m->doc->source, msg);
}

static sn_code unsupported(imp *m, const sn_nir_node *n) {
    const char *why;
    if (!strcmp(n->type, "CubaLIF") || !strcmp(n->type, "CubaLI"))
        why = "current-based neurons (a synaptic current state feeding the membrane) are not "
              "supported by snnc";
    else if (!strcmp(n->type, "Delay"))
        why = "delays are not supported by snnc";
    else if (!strcmp(n->type, "Conv1d"))
        why = "snnc has 2-D convolutions only";
    else if (!strcmp(n->type, "NIRGraph"))
        why = "nested graphs (e.g. recurrent layers exported as subgraphs) are not supported by "
              "snnc";
    else if (!strcmp(n->type, "Input") || !strcmp(n->type, "Output"))
        why = "a graph has one Input and one Output";
    else
        return nfail(m, n, NULL,
                     "unknown node type (snnc imports Input, Output, Affine, Linear, Scale, "
                     "Conv2d, SumPool2d, AvgPool2d, Flatten, IF, LIF, LI, I, Threshold)");
    return nfail(m, n, NULL, "cannot be imported: %s", why);
}

static sn_code import_graph(imp *m) {
    const sn_nir_graph *g = m->g;
    int N = g->nnodes;
    if (N == 0) return gfail(m, "the graph has no nodes");
    int *indeg = sn_calloc((size_t)N, sizeof(int)), *outdeg = sn_calloc((size_t)N, sizeof(int));
    char *seen = sn_calloc((size_t)N, 1);
    int *src = sn_calloc((size_t)(g->nedges ? g->nedges : 1), sizeof(int));
    int *dst = sn_calloc((size_t)(g->nedges ? g->nedges : 1), sizeof(int));
    const sn_nir_node **units = sn_calloc((size_t)N, sizeof *units);
    sn_code c = SN_OK;
    if (!indeg || !outdeg || !seen || !src || !dst || !units) {
        c = sn_fail(m->st, SN_ERR_RUNTIME, "out of memory");
        goto done;
    }
    for (int i = 0; i < N && !c; i++)
        for (int j = 0; j < i && !c; j++)
            if (!strcmp(g->nodes[i].key, g->nodes[j].key))
                c = gfail(m, "two nodes are named '%s'", g->nodes[i].key);
    for (int e = 0; e < g->nedges && !c; e++) {
        src[e] = node_index(g, g->edges[e].src);
        dst[e] = node_index(g, g->edges[e].dst);
        if (src[e] < 0 || dst[e] < 0) {
            c = gfail(m, "edge %d ('%s' -> '%s') names a node that does not exist: '%s'", e,
                      g->edges[e].src, g->edges[e].dst,
                      src[e] < 0 ? g->edges[e].src : g->edges[e].dst);
            break;
        }
        for (int f = 0; f < e; f++)
            if (src[f] == src[e] && dst[f] == dst[e])
                c = gfail(m, "edge '%s' -> '%s' is listed twice", g->edges[e].src, g->edges[e].dst);
        if (src[e] == dst[e])
            c = nfail(m, &g->nodes[src[e]], NULL,
                      "has an edge to itself: recurrent connections cannot be imported");
        outdeg[src[e]]++;
        indeg[dst[e]]++;
    }
    if (c) goto done;
    /* recurrent connections: a depth-first search from every node finds an edge back to a
     * node still on the stack (iterative: graphs may be long chains) */
    {
        int *color = sn_calloc((size_t)N, sizeof(int)), *stack = sn_calloc((size_t)N, sizeof(int));
        int *next_e = sn_calloc((size_t)N, sizeof(int));
        if (!color || !stack || !next_e) c = sn_fail(m->st, SN_ERR_RUNTIME, "out of memory");
        for (int root = 0; root < N && !c; root++) {
            if (color[root]) continue;
            int sp = 0;
            stack[sp++] = root;
            color[root] = 1;
            next_e[root] = 0;
            while (sp > 0 && !c) {
                int u = stack[sp - 1], e = next_e[u]++;
                if (e >= g->nedges) {
                    color[u] = 2;
                    sp--;
                    continue;
                }
                if (src[e] != u) continue;
                int v = dst[e];
                if (color[v] == 1) {
                    c = nfail(m, &g->nodes[v], NULL,
                              "is reached again through edge '%s' -> '%s': recurrent connections "
                              "cannot be imported",
                              g->edges[e].src, g->edges[e].dst);
                } else if (!color[v]) {
                    color[v] = 1;
                    next_e[v] = 0;
                    stack[sp++] = v;
                }
            }
        }
        free(color);
        free(stack);
        free(next_e);
    }
    if (c) goto done;
    int in = -1, out = -1;
    for (int i = 0; i < N && !c; i++) {
        const sn_nir_node *n = &g->nodes[i];
        if (!strcmp(n->type, "Input")) {
            if (in >= 0)
                c = gfail(m,
                          "the graph has two Input nodes ('%s', '%s'); snnc imports graphs with "
                          "one input",
                          g->nodes[in].key, n->key);
            in = i;
        } else if (!strcmp(n->type, "Output")) {
            if (out >= 0)
                c = gfail(m,
                          "the graph has two Output nodes ('%s', '%s'); snnc imports graphs "
                          "with one output",
                          g->nodes[out].key, n->key);
            out = i;
        }
    }
    if (c) goto done;
    if (in < 0 || out < 0) {
        c = gfail(m, "the graph has no %s node (NIR graphs name their ports explicitly)",
                  in < 0 ? "Input" : "Output");
        goto done;
    }
    if (indeg[in]) {
        c = nfail(m, &g->nodes[in], NULL, "the Input has incoming edges");
        goto done;
    }
    if (outdeg[out]) {
        c = nfail(m, &g->nodes[out], NULL, "the Output has outgoing edges");
        goto done;
    }
    /* Input */
    {
        const sn_nir_node *n = &g->nodes[in];
        static const char *const F[] = {"shape", NULL};
        const sn_nir_field *f;
        if (check_fields(m, n, F) || !(f = need(m, n, "shape"))) {
            c = m->st->code;
            goto done;
        }
        if (!is_number(f) || f->rank > 1 || (f->numel != 1 && f->numel != 3)) {
            c = nfail(m, n, "shape",
                      "expected [K] or [C, H, W] (per-sample shapes: no batch, no time)");
            goto done;
        }
        m->rank = (int)f->numel;
        for (int i = 0; i < m->rank; i++) {
            double v = f->f[i];
            if (!(v == floor(v)) || v < 1 || v > (i == 0 ? MAX_DIM : 65536)) {
                c = nfail(m, n, "shape", "entry %d is %g, not a size in [1, %d]", i, v,
                          i == 0 ? MAX_DIM : 65536);
                goto done;
            }
            m->d[i] = (int64_t)v;
        }
        if (m->rank == 3 && m->d[0] * m->d[1] * m->d[2] > ((int64_t)1 << 30)) {
            c = nfail(m, n, "shape", "the sample is too large");
            goto done;
        }
        snprintf(m->input_line, sizeof m->input_line,
                 "input: {channels: %lld, height: %lld, width: %lld}\n", (long long)m->d[0],
                 (long long)(m->rank == 3 ? m->d[1] : 1), (long long)(m->rank == 3 ? m->d[2] : 1));
    }
    if (m->rank == 1) yaml_layer(m, NULL, "flatten");
    seen[in] = 1;
    int cur = in;
    for (;;) {
        const sn_nir_node *n = &g->nodes[cur];
        if (cur == out) break;
        int nsucc = 0, succ = -1;
        for (int e = 0; e < g->nedges; e++)
            if (src[e] == cur) nsucc++, succ = dst[e];
        if (nsucc == 0) {
            c = nfail(m, n, NULL, "leads nowhere: no path from it to the Output");
            goto done;
        }
        int next;
        if (nsucc == 1) {
            next = succ;
            if (seen[next]) {
                c = nfail(m, &g->nodes[next], NULL,
                          "is reached again from '%s': recurrent connections cannot be imported",
                          n->key);
                goto done;
            }
            if (indeg[next] > 1) {
                c = nfail(m, &g->nodes[next], NULL,
                          "has %d inputs: snnc imports chains of nodes (and parallel Threshold "
                          "nodes summed by one node, the form of multi-threshold units)",
                          indeg[next]);
                goto done;
            }
        } else {
            /* parallel Threshold nodes, all feeding one node */
            int U = 0, merge = -1;
            for (int e = 0; e < g->nedges && !c; e++) {
                if (src[e] != cur) continue;
                int t = dst[e];
                const sn_nir_node *tn = &g->nodes[t];
                int tsucc = -1, tn_out = 0;
                for (int f = 0; f < g->nedges; f++)
                    if (src[f] == t) tn_out++, tsucc = dst[f];
                if (strcmp(tn->type, "Threshold") != 0 || indeg[t] != 1 || tn_out != 1 ||
                    (merge >= 0 && tsucc != merge)) {
                    c = nfail(m, n, NULL,
                              "feeds %d nodes: snnc imports chains of nodes, and parallel "
                              "Threshold nodes only when all of them feed the same next node",
                              nsucc);
                    break;
                }
                merge = tsucc;
                units[U++] = tn;
                seen[t] = 1;
            }
            if (c) goto done;
            if (merge < 0 || seen[merge] || indeg[merge] != U) {
                c = nfail(m, n, NULL,
                          "feeds parallel Threshold nodes whose outputs do not meet at one node "
                          "with no other input");
                goto done;
            }
            if (imp_units(m, n, units, U)) {
                c = m->st->code;
                goto done;
            }
            next = merge;
            if (next == out) {
                cur = next;
                seen[next] = 1;
                continue;
            }
        }
        seen[next] = 1;
        cur = next;
        const sn_nir_node *x = &g->nodes[cur];
        if (cur == out) break;
        const char *t = x->type;
        sn_code r;
        if (!strcmp(t, "Affine"))
            r = imp_affine(m, x, 1);
        else if (!strcmp(t, "Linear"))
            r = imp_affine(m, x, 0);
        else if (!strcmp(t, "Scale"))
            r = imp_scale(m, x);
        else if (!strcmp(t, "Conv2d"))
            r = imp_conv(m, x);
        else if (!strcmp(t, "SumPool2d"))
            r = imp_pool(m, x, 1);
        else if (!strcmp(t, "AvgPool2d"))
            r = imp_pool(m, x, 0);
        else if (!strcmp(t, "Flatten"))
            r = imp_flatten(m, x);
        else if (!strcmp(t, "IF"))
            r = imp_neuron(m, x, SN_NIR_IF);
        else if (!strcmp(t, "LIF"))
            r = imp_neuron(m, x, SN_NIR_LIF);
        else if (!strcmp(t, "LI"))
            r = imp_neuron(m, x, SN_NIR_LI);
        else if (!strcmp(t, "I"))
            r = imp_neuron(m, x, SN_NIR_I);
        else if (!strcmp(t, "Threshold"))
            r = imp_neuron(m, x, SN_NIR_THRESHOLD);
        else
            r = unsupported(m, x);
        if (r) {
            c = r;
            goto done;
        }
    }
    /* Output */
    {
        const sn_nir_node *n = &g->nodes[out];
        static const char *const F[] = {"shape", NULL};
        const sn_nir_field *f;
        if (check_fields(m, n, F) || !(f = need(m, n, "shape"))) {
            c = m->st->code;
            goto done;
        }
        int ok = is_number(f) && f->rank <= 1 && f->numel == m->rank;
        for (int i = 0; ok && i < m->rank; i++) ok = f->f[i] == (double)m->d[i];
        if (!ok) {
            char a[96] = "(not a list of sizes)", b[96];
            if (is_number(f) && f->rank <= 1 && f->numel <= 8) {
                int64_t d[8];
                for (int i = 0; i < (int)f->numel; i++) d[i] = (int64_t)f->f[i];
                shape_text((int)f->numel, d, a, sizeof a);
            }
            c = nfail(m, n, "shape",
                      "%s does not match the shape %s the graph produces (the "
                      "shapes do not chain)",
                      a, cur_text(m, b, sizeof b));
            goto done;
        }
        int64_t K = cur_numel(m);
        if (K > MAX_DIM) {
            c = nfail(m, n, "shape", "%lld outputs is too many (at most %d)", (long long)K,
                      MAX_DIM);
            goto done;
        }
        if (m->rank == 3) yaml_layer(m, NULL, "flatten");
        m->num_classes = K;
    }
    for (int i = 0; i < N; i++)
        if (!seen[i]) {
            c = nfail(m, &g->nodes[i], NULL,
                      "is not on the path from the Input to the Output (snnc imports chains of "
                      "nodes)");
            break;
        }
done:
    free(indeg);
    free(outdeg);
    free(seen);
    free(src);
    free(dst);
    free(units);
    return c;
}

/* A model name from a file name: letters, digits, _ - . kept, the rest '_'. */
static void make_name(const char *in, char *out, size_t n) {
    size_t o = 0;
    for (const char *p = in; *p && o + 1 < n; p++) {
        char ch = *p;
        int ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
                 ch == '_' || (o > 0 && (ch == '-' || ch == '.'));
        out[o++] = ok ? ch : '_';
    }
    out[o] = '\0';
    if (!o) sn_strlcpy(out, "nir_model", n);
}

sn_code sn_nir_import(const sn_nir_doc *doc, const sn_nir_import_opts *o, const char *yaml_name,
                      sn_nir_imported *out, sn_status *st) {
    memset(out, 0, sizeof *out);
    sn_sb_init(&out->yaml);
    sn_sb_init(&out->notes);
    imp m;
    memset(&m, 0, sizeof m);
    m.doc = doc;
    m.g = &doc->g;
    m.o = o;
    m.st = st;
    sn_strbuf body;
    sn_sb_init(&body);
    m.yaml = &body;
    m.notes = &out->notes;
    m.old_version = doc->version[0] && version_before(doc->version, 1, 0, 6);
    /* the time step: --dt, else the file's (snnc writes one), else needed only by LIF/LI */
    int leaky = 0;
    for (int i = 0; i < m.g->nnodes; i++)
        leaky |= !strcmp(m.g->nodes[i].type, "LIF") || !strcmp(m.g->nodes[i].type, "LI");
    const sn_nir_field *mdt = meta(m.g, "dt");
    if (o->dt > 0) {
        m.dt = o->dt;
    } else if (mdt && is_number(mdt) && mdt->numel == 1 && mdt->f[0] > 0 && isfinite(mdt->f[0])) {
        m.dt = mdt->f[0];
        note(&m, "time step %g s from the file's metadata", m.dt);
    } else if (leaky) {
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the graph has LIF/LI nodes, which are continuous-time: give the time "
                       "step to discretize them at with --dt SECONDS (e.g. --dt 1e-4)",
                       doc->source);
    } else {
        m.dt = 1e-4; /* unused: nothing leaks */
    }
    if (leaky && !((float)m.dt > 0.0f && isfinite((float)m.dt)))
        return sn_fail(st, SN_ERR_INPUT, "%s: dt %g s is not a positive 32-bit float", doc->source,
                       m.dt);
    char name[SN_NAME_MAX];
    make_name(o->name && *o->name ? o->name : "nir_model", name, sizeof name);
    sn_sb_printf(&out->yaml, "# Imported by snnc %s from ", SNNC_VERSION);
    comment_text(&out->yaml, doc->source);
    sn_sb_puts(&out->yaml, " (NIR ");
    comment_text(&out->yaml, doc->version[0] ? doc->version : "version unknown");
    sn_sb_puts(&out->yaml, ").\n# Neuron parameters, weights and thresholds are in the weights "
                           "file; LIF and LI nodes are\n# discretized at each layer's dt, by "
                           "its discretization rule (docs/nir.md).\n");
    sn_sb_printf(&out->yaml, "name: %s\n", name);
    sn_code c = import_graph(&m);
    if (!c) {
        sn_sb_puts(&out->yaml, m.input_line);
        sn_sb_printf(&out->yaml, "num_classes: %lld\n", (long long)m.num_classes);
        int T = o->T;
        const sn_nir_field *mt = meta(m.g, "T");
        if (T <= 0 && mt && is_number(mt) && mt->numel == 1 && mt->f[0] >= 1 && mt->f[0] <= 1e6 &&
            mt->f[0] == floor(mt->f[0]))
            T = (int)mt->f[0];
        if (T <= 0) T = 100;
        const sn_nir_field *mr = meta(m.g, "readout");
        int membrane =
            mr && mr->kind == SN_NIR_STRING && mr->numel == 1 && !strcmp(mr->s[0], "membrane");
        sn_sb_printf(&out->yaml, "snn: {T: %d, encoder: direct, readout: %s}\n", T,
                     membrane ? "membrane" : "rate");
        sn_sb_puts(&out->yaml, "network:\n  - " CONTAINER ":\n");
        sn_sb_append(&out->yaml, sn_sb_cstr(&body), body.len);
    }
    if (!c && body.oom) c = sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    sn_sb_free(&body);
    if (!c && out->yaml.oom) c = sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    if (!c) {
        /* the model must parse and build like any YAML (the same checks as every command) */
        const char *text = sn_sb_cstr(&out->yaml);
        if (sn_spec_parse(yaml_name, text, strlen(text), NULL, 0, &out->spec, st) != SN_OK) {
            sn_status_context(st, "internal error: the imported model does not parse");
            c = st->code;
        }
    }
    sn_graph gr;
    sn_graph_init(&gr);
    sn_param_desc *descs = NULL;
    if (!c) {
        sn_build_opts bo = {.batch = 1, .T = 1};
        if (sn_graph_build(&out->spec, &bo, &gr, st) != SN_OK) {
            sn_status_context(st, "while building the imported model of %s", doc->source);
            c = st->code;
        }
    }
    if (!c) {
        int nd = sn_graph_param_descs(&gr, &descs);
        if (nd < 0 || sn_weights_create(&out->weights, descs, nd, st) != SN_OK) {
            c = st->code ? st->code : sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        } else {
            for (int i = 0; i < nd && !c; i++) {
                int a = -1;
                for (int k = 0; k < m.narrays; k++)
                    if (!strcmp(m.arrays[k].name, descs[i].name)) a = k;
                int64_t n = sn_shape_numel(&descs[i].shape);
                if (a < 0 || m.arrays[a].n != n)
                    c = sn_fail(st, SN_ERR_RUNTIME,
                                "internal error: imported weights do not match the model at %s",
                                descs[i].name);
                else
                    memcpy(out->weights.data[i], m.arrays[a].v, (size_t)n * sizeof(float));
            }
            if (!c && nd != m.narrays)
                c = sn_fail(st, SN_ERR_RUNTIME,
                            "internal error: %d imported arrays for %d model tensors", m.narrays,
                            nd);
        }
    }
    free(descs);
    sn_graph_free(&gr);
    for (int k = 0; k < m.narrays; k++) free(m.arrays[k].v);
    free(m.arrays);
    int nodes = doc->g.nnodes;
    out->nlayers_in = nodes;
    if (c) {
        sn_nir_imported_free(out);
        return c;
    }
    return SN_OK;
}

void sn_nir_imported_free(sn_nir_imported *m) {
    sn_sb_free(&m->yaml);
    sn_sb_free(&m->notes);
    sn_spec_free(&m->spec);
    sn_weights_free(&m->weights);
    memset(m, 0, sizeof *m);
}
