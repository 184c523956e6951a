#include "convert.h"

#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../runtime/ref/ref_ops.h"
#include "../ir/build.h"

sn_code sn_spec_copy(const sn_model_spec *src, sn_model_spec *dst, sn_status *st) {
    *dst = *src;
    dst->layers = NULL;
    if (src->nlayers > 0) {
        dst->layers = malloc((size_t)src->nlayers * sizeof *dst->layers);
        if (!dst->layers) {
            memset(dst, 0, sizeof *dst);
            return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        }
        memcpy(dst->layers, src->layers, (size_t)src->nlayers * sizeof *dst->layers);
    }
    return SN_OK;
}

int sn_spec_has_spiking(const sn_model_spec *s) {
    for (int i = 0; i < s->nlayers; i++)
        if (sn_layer_is_spiking(s->layers[i].kind)) return 1;
    return 0;
}

int sn_spec_has_quant(const sn_model_spec *s) {
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].kind == SN_LAYER_QUANT) return 1;
    return 0;
}

/* ---- shared helpers ---------------------------------------------------------------------- */

static void layer_name(const sn_layer_spec *l, char *buf, size_t n) {
    if (l->index >= 0)
        sn_fmt(buf, n, "%s.%d", l->module, l->index);
    else
        sn_fmt(buf, n, "%s.%s", l->module, sn_layer_kind_name(l->kind));
}

static const float *ann_param(const sn_weights *w, const sn_layer_spec *l, const char *suffix,
                              int64_t expect, sn_status *st) {
    char ln[SN_NAME_MAX + 16], name[SN_NAME_MAX + 48];
    layer_name(l, ln, sizeof ln);
    sn_fmt(name, sizeof name, "%s.%s", ln, suffix);
    int i = sn_weights_find(w, name);
    if (i < 0) {
        sn_fail(st, SN_ERR_INPUT, "the ANN weights have no tensor %s", name);
        return NULL;
    }
    if (w->desc[i].dtype != SN_F32 || sn_shape_numel(&w->desc[i].shape) != expect) {
        sn_fail(st, SN_ERR_INPUT, "ANN tensor %s has an unexpected size", name);
        return NULL;
    }
    return sn_weights_f32(w, i);
}

static float *snn_param(const sn_weights *w, const sn_layer_spec *l, const char *suffix,
                        int64_t expect, sn_status *st) {
    char ln[SN_NAME_MAX + 16], name[SN_NAME_MAX + 48];
    layer_name(l, ln, sizeof ln);
    sn_fmt(name, sizeof name, "%s.%s", ln, suffix);
    int i = sn_weights_find(w, name);
    if (i < 0 || sn_shape_numel(&w->desc[i].shape) != expect) {
        sn_fail(st, SN_ERR_RUNTIME, "internal error: converted network lacks %s", name);
        return NULL;
    }
    return sn_weights_f32(w, i);
}

/* Fan-in geometry of a synaptic layer: out channels, weights per output channel. The input
 * channel count comes from the weight store (the spec does not record it). */
static int synaptic_dims(const sn_weights *w, const sn_layer_spec *l, int64_t *O, int64_t *per,
                         sn_status *st) {
    char ln[SN_NAME_MAX + 16], name[SN_NAME_MAX + 48];
    layer_name(l, ln, sizeof ln);
    sn_fmt(name, sizeof name, "%s.weight", ln);
    int i = sn_weights_find(w, name);
    if (i < 0) {
        sn_fail(st, SN_ERR_INPUT, "the ANN weights have no tensor %s", name);
        return -1;
    }
    *O = w->desc[i].shape.d[0];
    *per = sn_shape_numel(&w->desc[i].shape) / *O;
    return 0;
}

/* Numbers the layers of each container 0, 1, 2, ... (the network: form of a spec, which
 * 'snnc convert' writes, gives layers their position as index), so the converted weights
 * are named as the written model will name them. */
static void renumber(sn_model_spec *s) {
    for (int i = 0; i < s->nlayers; i++) {
        if (s->layers[i].index < 0) continue;
        int pos = 0;
        for (int j = 0; j < i; j++)
            if (s->layers[j].index >= 0 && strcmp(s->layers[j].module, s->layers[i].module) == 0)
                pos++;
        s->layers[i].index = pos;
    }
}

/* Builds the converted spec's graph to get its parameter list, and the store. */
static sn_code make_store(sn_model_spec *snn, sn_weights *sw, sn_status *st) {
    renumber(snn);
    sn_graph g;
    sn_build_opts bo = {.batch = 1};
    if (sn_graph_build(snn, &bo, &g, st)) {
        sn_status_context(st, "building the converted network");
        return st->code;
    }
    sn_param_desc *d = NULL;
    int n = sn_graph_param_descs(&g, &d);
    sn_graph_free(&g);
    if (n < 0) return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    sn_code c = sn_weights_create(sw, d, n, st);
    free(d);
    return c;
}

static int push(sn_model_spec *s, int *cap, const sn_layer_spec *l, sn_status *st) {
    if (!sn_grow((void **)&s->layers, cap, s->nlayers + 1, sizeof *s->layers)) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    s->layers[s->nlayers++] = *l;
    return 0;
}

/* A batch norm's parameters and statistics in the ANN weights. */
typedef struct bn_view {
    const float *gamma, *beta, *mean, *var;
    float eps;
} bn_view;

static int bn_of(const sn_weights *aw, const sn_layer_spec *bl, int64_t C, bn_view *v,
                 sn_status *st) {
    v->gamma = ann_param(aw, bl, "weight", C, st);
    v->beta = ann_param(aw, bl, "bias", C, st);
    v->mean = ann_param(aw, bl, "running_mean", C, st);
    v->var = ann_param(aw, bl, "running_var", C, st);
    v->eps = bl->bn_eps;
    return v->gamma && v->beta && v->mean && v->var ? 0 : -1;
}

/* Effective (ternarized when the layer says so) float weights of a synaptic layer. */
static float *effective_weights(const sn_model_spec *ann, const sn_layer_spec *l, const float *w,
                                int64_t n, sn_status *st) {
    float *out = malloc((size_t)n * sizeof(float));
    if (!out) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        return NULL;
    }
    if (l->weight_quant == SN_WQ_TERNARY)
        sn_ref_ternary(n, ann->quant.ternary_threshold, w, out);
    else
        memcpy(out, w, (size_t)n * sizeof(float));
    return out;
}

/* ---- exact conversion --------------------------------------------------------------------- */

/* The ANN's count for a conv output z, with the reference interpreter's arithmetic. */
typedef struct act_fn {
    int has_bn;
    double mean, invstd, g, b;
    int relu;
    double scale, B;
} act_fn;

static int count_of(const act_fn *f, float z) {
    float y = z;
    if (f->has_bn) y = (float)(((double)z - f->mean) * f->invstd * f->g + f->b);
    if (f->relu) y = (y <= 0.0f) ? 0.0f : y;
    double v = (double)y;
    if (isnan(v)) return 0;
    if (v < 0.0) v = 0.0;
    if (v > f->B) v = f->B;
    return (int)floor(f->scale * v + 0.5);
}

/* Floats in order as integers (-0 and +0 both map to 0). */
static int64_t fkey(float f) {
    uint32_t u;
    memcpy(&u, &f, 4);
    return (u & 0x80000000u) ? -(int64_t)(u & 0x7fffffffu) : (int64_t)u;
}
static float fval(int64_t k) {
    uint32_t u = k < 0 ? ((uint32_t)(-k) | 0x80000000u) : (uint32_t)k;
    float f;
    memcpy(&f, &u, 4);
    return f;
}

/* Smallest float z (sign = +1) or, for sign = -1, the smallest z' with the count at -z'
 * reaching `need`; +inf when never, -inf when always. */
static float threshold_of(const act_fn *f, int sign, int need) {
    int64_t lo = fkey(-FLT_MAX), hi = fkey(FLT_MAX);
#define P(k) (count_of(f, sign > 0 ? fval(k) : -fval(k)) >= need)
    if (P(lo)) return -INFINITY;
    if (!P(hi)) return INFINITY;
    while (hi - lo > 1) { /* P(lo) false, P(hi) true */
        int64_t mid = lo + (hi - lo) / 2;
        if (P(mid))
            hi = mid;
        else
            lo = mid;
    }
#undef P
    return fval(hi);
}

static int first_quant_k(const sn_model_spec *s) {
    for (int i = 0; i < s->nlayers; i++)
        if (s->layers[i].kind == SN_LAYER_QUANT) return s->layers[i].quant_k;
    return -1;
}

sn_code sn_convert_exact(const sn_model_spec *ann, const sn_weights *aw, sn_model_spec *snn,
                         sn_weights *sw, sn_convert_info *info, sn_status *st) {
    memset(snn, 0, sizeof *snn);
    memset(sw, 0, sizeof *sw);
    memset(info, 0, sizeof *info);
    sn_sb_init(&info->notes);
    if (sn_spec_has_spiking(ann))
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: the network is already spiking (it has neurons or "
                       "threshold units): nothing to convert",
                       ann->source_path);
    int k0 = first_quant_k(ann);
    if (k0 < 0)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s: exact conversion needs quant (k, B) activations; this network has "
                       "none (use rate conversion: --mode rate)",
                       ann->source_path);
    if (sn_spec_copy(ann, snn, st)) return st->code;
    free(snn->layers); /* the layer list is rebuilt */
    snn->nlayers = 0;
    snn->layers = NULL;
    int cap = 0;
    /* the plan: which ANN layer becomes what; the data are filled once the store exists */
    typedef struct block {
        int syn, bn, relu, q; /* ANN layer indices (-1: absent) */
        int out_syn;          /* index in snn->layers */
        int out_thr;          /* threshold layer, -1 for the readout */
        double in_scale;      /* V = in_scale * z */
    } block;
    block *blocks = calloc((size_t)ann->nlayers + 1, sizeof *blocks);
    if (!blocks) {
        sn_spec_free(snn);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    int nb = 0, readout_seen = 0;
    double scale = ldexp(1.0, k0);
    char nm[SN_NAME_MAX + 16];
    for (int i = 0; i < ann->nlayers && !st->code; i++) {
        const sn_layer_spec *l = &ann->layers[i];
        layer_name(l, nm, sizeof nm);
        switch (l->kind) {
        case SN_LAYER_CONV2D:
        case SN_LAYER_LINEAR: {
            if (readout_seen) {
                sn_fail(st, SN_ERR_INPUT,
                        "layer %s: a synaptic layer after the readout layer; exact conversion "
                        "needs every conv/linear but the last to end in quant(k, B)",
                        nm);
                break;
            }
            block *b = &blocks[nb++];
            b->syn = i;
            b->bn = b->relu = b->q = -1;
            b->in_scale = scale;
            int j = i + 1;
            if (j < ann->nlayers && ann->layers[j].kind == SN_LAYER_BATCHNORM) b->bn = j++;
            if (j < ann->nlayers && ann->layers[j].kind == SN_LAYER_RELU) b->relu = j++;
            if (j < ann->nlayers && ann->layers[j].kind == SN_LAYER_QUANT) b->q = j++;
            sn_layer_spec syn = *l;
            if (l->weight_quant == SN_WQ_TERNARY) syn.weight_quant = SN_WQ_INTEGER;
            if (b->q < 0) {
                if (b->bn >= 0 || b->relu >= 0) {
                    sn_fail(st, SN_ERR_INPUT,
                            "layer %s: its %s is not followed by quant(k, B); exact conversion "
                            "needs conv/linear -> [batchnorm] -> [relu] -> quant blocks (use "
                            "--mode rate for other networks)",
                            nm, b->bn >= 0 ? "batchnorm" : "relu");
                    break;
                }
                readout_seen = 1;
                b->out_syn = snn->nlayers;
                b->out_thr = -1;
                if (push(snn, &cap, &syn, st)) break;
                info->blocks++;
                break;
            }
            const sn_layer_spec *q = &ann->layers[b->q];
            b->out_syn = snn->nlayers;
            if (push(snn, &cap, &syn, st)) break;
            sn_layer_spec th;
            memset(&th, 0, sizeof th);
            th.kind = SN_LAYER_THRESHOLD;
            th.loc = ann->layers[i + 1].loc;
            sn_strlcpy(th.module, l->module, sizeof th.module);
            th.index = ann->layers[i + 1].index;
            th.units = (int)ldexp((double)q->quant_B, q->quant_k);
            b->out_thr = snn->nlayers;
            if (push(snn, &cap, &th, st)) break;
            scale = ldexp(1.0, q->quant_k);
            info->blocks++;
            i = j - 1;
            break;
        }
        case SN_LAYER_MAXPOOL:
        case SN_LAYER_AVGPOOL:
        case SN_LAYER_FLATTEN:
        case SN_LAYER_DROPOUT:
            push(snn, &cap, l, st);
            break;
        case SN_LAYER_BATCHNORM:
        case SN_LAYER_RELU:
        case SN_LAYER_QUANT:
            sn_fail(st, SN_ERR_INPUT,
                    "layer %s (%s) does not follow a conv/linear layer: exact conversion needs "
                    "conv/linear -> [batchnorm] -> [relu] -> quant blocks",
                    nm, sn_layer_kind_name(l->kind));
            break;
        default:
            sn_fail(st, SN_ERR_INPUT, "layer %s (%s) cannot be converted", nm,
                    sn_layer_kind_name(l->kind));
            break;
        }
    }
    if (!st->code && !readout_seen)
        sn_fail(st, SN_ERR_INPUT,
                "%s: the last synaptic layer ends in quant; exact conversion reads the last "
                "conv/linear layer out as membrane potential, so it must have no activation",
                ann->source_path);
    if (st->code) goto fail;
    snn->snn.enabled = 1;
    snn->snn.T = 1;
    snn->snn.encoder = SN_ENC_DIRECT;
    snn->snn.input_scale = (float)ldexp(1.0, k0);
    snn->snn.readout = SN_READOUT_MEMBRANE;
    snn->quant.enabled = 0;
    info->input_scale = snn->snn.input_scale;
    {
        char name[SN_NAME_MAX];
        sn_fmt(name, sizeof name, "%.*s_snn", SN_NAME_MAX - 5, ann->name);
        sn_strlcpy(snn->name, name, sizeof snn->name);
    }
    if (make_store(snn, sw, st)) goto fail;

    for (int bi = 0; bi < nb; bi++) {
        const block *b = &blocks[bi];
        const sn_layer_spec *l = &ann->layers[b->syn];
        const sn_layer_spec *ol = &snn->layers[b->out_syn];
        layer_name(l, nm, sizeof nm);
        int64_t O, per;
        if (synaptic_dims(aw, l, &O, &per, st)) goto fail;
        const float *w = ann_param(aw, l, "weight", O * per, st);
        const float *bias = l->bias ? ann_param(aw, l, "bias", O, st) : NULL;
        float *ow = snn_param(sw, ol, "weight", O * per, st);
        float *ob = l->bias ? snn_param(sw, ol, "bias", O, st) : NULL;
        if (!w || !ow || (l->bias && (!bias || !ob))) goto fail;
        float *we = effective_weights(ann, l, w, O * per, st);
        if (!we) goto fail;
        bn_view bn = {NULL, NULL, NULL, NULL, 0.0f};
        if (b->bn >= 0 && bn_of(aw, &ann->layers[b->bn], O, &bn, st)) {
            free(we);
            goto fail;
        }
        const float *gam = bn.gamma, *bet = bn.beta, *mu = bn.mean, *var = bn.var;
        float eps = bn.eps;
        float *theta = NULL;
        int U = 0;
        if (b->out_thr >= 0) {
            U = snn->layers[b->out_thr].units;
            theta = snn_param(sw, &snn->layers[b->out_thr], "theta", O * U, st);
            if (!theta) {
                free(we);
                goto fail;
            }
        }
        int flipped = 0, constant = 0;
        for (int64_t c = 0; c < O; c++) {
            int sign = 1;
            act_fn f;
            memset(&f, 0, sizeof f);
            if (b->out_thr >= 0) {
                const sn_layer_spec *q = &ann->layers[b->q];
                f.relu = b->relu >= 0;
                f.scale = ldexp(1.0, q->quant_k);
                f.B = (double)q->quant_B;
                if (b->bn >= 0) {
                    if (!isfinite(gam[c]) || !isfinite(bet[c]) || !isfinite(mu[c]) ||
                        !(var[c] >= 0.0f) || !isfinite(var[c])) {
                        free(we);
                        sn_fail(st, SN_ERR_INPUT,
                                "layer %s.%d (batchnorm), channel %lld: gamma %g, beta %g, "
                                "mean %g, var %g are not usable (non-finite or negative var)",
                                ann->layers[b->bn].module, ann->layers[b->bn].index, (long long)c,
                                (double)gam[c], (double)bet[c], (double)mu[c], (double)var[c]);
                        goto fail;
                    }
                    f.has_bn = 1;
                    f.mean = (double)mu[c];
                    f.invstd = 1.0 / sqrt((double)var[c] + (double)eps);
                    f.g = (double)gam[c];
                    f.b = (double)bet[c];
                    if (gam[c] < 0.0f) sign = -1;
                    if (gam[c] == 0.0f) constant++;
                }
                for (int u = 0; u < U; u++) {
                    float t = threshold_of(&f, sign, u + 1);
                    theta[c * U + u] = (float)((double)t * b->in_scale);
                }
            }
            if (sign < 0) flipped++;
            for (int64_t j = 0; j < per; j++) ow[c * per + j] = (float)sign * we[c * per + j];
            if (ob) ob[c] = (float)((double)sign * (double)bias[c] * b->in_scale);
        }
        free(we);
        info->flipped_channels += flipped;
        info->constant_channels += constant;
        if (flipped)
            sn_sb_printf(&info->notes,
                         "%s: %d channel(s) with gamma < 0: weights negated, thresholds taken on "
                         "-V\n",
                         nm, flipped);
        if (constant)
            sn_sb_printf(&info->notes,
                         "%s: %d channel(s) with gamma = 0: constant output, thresholds +-inf\n",
                         nm, constant);
        if (l->weight_quant == SN_WQ_TERNARY)
            sn_sb_printf(&info->notes, "%s: ternary weights stored as integers {-1, 0, 1}\n", nm);
    }
    free(blocks);
    return SN_OK;
fail:
    free(blocks);
    sn_weights_free(sw);
    memset(sw, 0, sizeof *sw);
    sn_spec_free(snn);
    memset(snn, 0, sizeof *snn);
    sn_sb_free(&info->notes);
    return st->code ? st->code : SN_ERR_RUNTIME;
}

/* ---- rate conversion ---------------------------------------------------------------------- */

/* The blocks of a rate conversion: synaptic layer, optional batch norm, activation span. */
typedef struct rblock {
    int syn, bn;
    int act_first, act_last; /* -1 when the layer has no activation (the readout) */
} rblock;

static int rate_blocks(const sn_model_spec *ann, rblock *out, int max, sn_status *st) {
    int n = 0, readout = 0;
    char nm[SN_NAME_MAX + 16];
    if (sn_spec_has_spiking(ann)) {
        sn_fail(st, SN_ERR_INPUT,
                "%s: the network is already spiking (it has neurons or threshold units): "
                "nothing to convert",
                ann->source_path);
        return -1;
    }
    for (int i = 0; i < ann->nlayers; i++) {
        const sn_layer_spec *l = &ann->layers[i];
        layer_name(l, nm, sizeof nm);
        switch (l->kind) {
        case SN_LAYER_CONV2D:
        case SN_LAYER_LINEAR: {
            if (readout) {
                sn_fail(st, SN_ERR_INPUT,
                        "layer %s: a synaptic layer follows one without activation; rate "
                        "conversion needs every conv/linear but the last to have a relu",
                        nm);
                return -1;
            }
            if (n >= max) {
                sn_fail(st, SN_ERR_INPUT, "too many layers to convert");
                return -1;
            }
            rblock *b = &out[n++];
            b->syn = i;
            b->bn = b->act_first = b->act_last = -1;
            int j = i + 1;
            if (j < ann->nlayers && ann->layers[j].kind == SN_LAYER_BATCHNORM) b->bn = j++;
            if (j < ann->nlayers && ann->layers[j].kind == SN_LAYER_RELU) {
                b->act_first = b->act_last = j++;
                if (j < ann->nlayers && ann->layers[j].kind == SN_LAYER_QUANT) b->act_last = j++;
            } else if (j < ann->nlayers && ann->layers[j].kind == SN_LAYER_QUANT) {
                b->act_first = b->act_last = j++;
            }
            if (b->act_first < 0) {
                if (b->bn >= 0) {
                    sn_fail(st, SN_ERR_INPUT,
                            "layer %s: batchnorm without an activation after it cannot be rate "
                            "converted",
                            nm);
                    return -1;
                }
                readout = 1;
            }
            i = j - 1;
            break;
        }
        case SN_LAYER_MAXPOOL:
        case SN_LAYER_AVGPOOL:
        case SN_LAYER_FLATTEN:
        case SN_LAYER_DROPOUT:
            break;
        default:
            sn_fail(st, SN_ERR_INPUT,
                    "layer %s (%s) does not follow a conv/linear layer: rate conversion needs "
                    "conv/linear -> [batchnorm] -> relu [-> quant] blocks",
                    nm, sn_layer_kind_name(l->kind));
            return -1;
        }
    }
    if (!readout) {
        sn_fail(st, SN_ERR_INPUT,
                "%s: the last synaptic layer has an activation; rate conversion reads the last "
                "conv/linear layer out as membrane potential",
                ann->source_path);
        return -1;
    }
    return n;
}

int sn_convert_rate_points(const sn_model_spec *ann, int *layer_idx, int max, sn_status *st) {
    rblock *b = calloc((size_t)ann->nlayers + 1, sizeof *b);
    if (!b) return sn_fail(st, SN_ERR_RUNTIME, "out of memory"), -1;
    int n = rate_blocks(ann, b, ann->nlayers + 1, st), k = 0;
    for (int i = 0; i < n; i++)
        if (b[i].act_last >= 0) {
            if (k >= max) {
                free(b);
                return sn_fail(st, SN_ERR_INPUT, "too many activation layers"), -1;
            }
            layer_idx[k++] = b[i].act_last;
        }
    free(b);
    return n < 0 ? -1 : k;
}

sn_code sn_convert_rate(const sn_model_spec *ann, const sn_weights *aw, const double *lambda,
                        int npoints, sn_model_spec *snn, sn_weights *sw, sn_convert_info *info,
                        sn_status *st) {
    memset(snn, 0, sizeof *snn);
    memset(sw, 0, sizeof *sw);
    memset(info, 0, sizeof *info);
    sn_sb_init(&info->notes);
    rblock *blocks = calloc((size_t)ann->nlayers + 1, sizeof *blocks);
    int *out_syn = calloc((size_t)ann->nlayers + 1, sizeof *out_syn);
    if (!blocks || !out_syn) {
        free(blocks);
        free(out_syn);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    int nb = rate_blocks(ann, blocks, ann->nlayers + 1, st);
    if (nb < 0) {
        free(blocks);
        free(out_syn);
        return st->code;
    }
    if (sn_spec_copy(ann, snn, st)) {
        free(blocks);
        free(out_syn);
        return st->code;
    }
    free(snn->layers); /* the layer list is rebuilt */
    snn->nlayers = 0;
    snn->layers = NULL;
    int cap = 0, bi = 0, pi = 0;
    for (int i = 0; i < ann->nlayers && !st->code; i++) {
        const sn_layer_spec *l = &ann->layers[i];
        if (bi < nb && blocks[bi].syn == i) {
            const rblock *b = &blocks[bi];
            sn_layer_spec syn = *l;
            if (syn.weight_quant == SN_WQ_TERNARY) syn.weight_quant = SN_WQ_NONE;
            if (b->bn >= 0 || b->act_first >= 0) syn.bias = l->bias || b->bn >= 0;
            out_syn[bi] = snn->nlayers;
            if (push(snn, &cap, &syn, st)) break;
            if (b->act_first >= 0) {
                if (pi >= npoints) {
                    sn_fail(st, SN_ERR_INPUT, "%d activation scales given, more are needed",
                            npoints);
                    break;
                }
                sn_layer_spec nl;
                memset(&nl, 0, sizeof nl);
                nl.kind = ann->snn.neuron_kind == SN_LAYER_LIF ? SN_LAYER_LIF : SN_LAYER_IF;
                nl.loc = ann->layers[b->act_first].loc;
                sn_strlcpy(nl.module, l->module, sizeof nl.module);
                nl.index = ann->layers[b->act_first].index;
                nl.neuron = ann->snn.neuron;
                nl.neuron.v_threshold = 1.0f;
                nl.neuron.hard_reset = 0; /* soft reset: the residue carries over */
                nl.neuron.v_reset = 0.0f;
                if (push(snn, &cap, &nl, st)) break;
                pi++;
            }
            i = (b->act_last >= 0 ? b->act_last : b->bn >= 0 ? b->bn : b->syn);
            bi++;
            continue;
        }
        sn_layer_spec pl = *l;
        /* max pooling of spike trains passes the most active input's spikes, not the OR of
         * the window (which fires far more often than any input) */
        if (pl.kind == SN_LAYER_MAXPOOL) pl.spike_gate = 1;
        push(snn, &cap, &pl, st);
    }
    if (!st->code && pi != npoints)
        sn_fail(st, SN_ERR_INPUT, "%d activation scales given for %d activation layers", npoints,
                pi);
    if (st->code) goto fail;
    snn->snn.enabled = 1;
    snn->snn.encoder = SN_ENC_DIRECT;
    snn->snn.input_scale = 1.0f;
    snn->snn.readout = SN_READOUT_MEMBRANE;
    snn->quant.enabled = 0;
    if (!ann->snn.enabled) snn->snn.T = 32; /* rate coding needs time steps (--T overrides) */
    info->input_scale = 1.0f;
    {
        char name[SN_NAME_MAX];
        sn_fmt(name, sizeof name, "%.*s_snn", SN_NAME_MAX - 5, ann->name);
        sn_strlcpy(snn->name, name, sizeof snn->name);
    }
    if (make_store(snn, sw, st)) goto fail;
    double prev = 1.0;
    pi = 0;
    for (bi = 0; bi < nb; bi++) {
        const rblock *b = &blocks[bi];
        const sn_layer_spec *l = &ann->layers[b->syn];
        const sn_layer_spec *ol = &snn->layers[out_syn[bi]];
        char nm[SN_NAME_MAX + 16];
        layer_name(l, nm, sizeof nm);
        int64_t O, per;
        if (synaptic_dims(aw, l, &O, &per, st)) goto fail;
        const float *w = ann_param(aw, l, "weight", O * per, st);
        const float *bias = l->bias ? ann_param(aw, l, "bias", O, st) : NULL;
        float *ow = snn_param(sw, ol, "weight", O * per, st);
        float *ob = ol->bias ? snn_param(sw, ol, "bias", O, st) : NULL;
        if (!w || !ow || (l->bias && !bias) || (ol->bias && !ob)) goto fail;
        float *we = effective_weights(ann, l, w, O * per, st);
        if (!we) goto fail;
        bn_view bn = {NULL, NULL, NULL, NULL, 0.0f};
        if (b->bn >= 0 && bn_of(aw, &ann->layers[b->bn], O, &bn, st)) {
            free(we);
            goto fail;
        }
        const float *gam = bn.gamma, *bet = bn.beta, *mu = bn.mean, *var = bn.var;
        float eps = bn.eps;
        double lam = 1.0;
        if (b->act_first >= 0) {
            lam = lambda[pi++];
            if (!(lam > 0.0) || !isfinite(lam)) {
                free(we);
                sn_fail(st, SN_ERR_INPUT,
                        "layer %s: activation scale %g is not positive (the layer never fires on "
                        "the calibration data)",
                        nm, lam);
                goto fail;
            }
        }
        for (int64_t c = 0; c < O; c++) {
            double a = 1.0, sh = bias ? (double)bias[c] : 0.0;
            if (b->bn >= 0) {
                double inv = 1.0 / sqrt((double)var[c] + (double)eps);
                a = (double)gam[c] * inv;
                sh = (sh - (double)mu[c]) * a + (double)bet[c];
            }
            double ws = b->act_first >= 0 ? a * prev / lam : a * prev;
            double bs = b->act_first >= 0 ? sh / lam : sh;
            for (int64_t j = 0; j < per; j++)
                ow[c * per + j] = (float)((double)we[c * per + j] * ws);
            if (ob) ob[c] = (float)bs;
        }
        free(we);
        sn_sb_printf(&info->notes, "%s: lambda %.6g%s\n", nm, lam,
                     b->act_first >= 0 ? "" : " (readout: input scale only)");
        if (b->act_first >= 0) prev = lam;
        info->blocks++;
    }
    free(blocks);
    free(out_syn);
    return SN_OK;
fail:
    free(blocks);
    free(out_syn);
    sn_weights_free(sw);
    memset(sw, 0, sizeof *sw);
    sn_spec_free(snn);
    memset(snn, 0, sizeof *snn);
    sn_sb_free(&info->notes);
    return st->code ? st->code : SN_ERR_RUNTIME;
}
