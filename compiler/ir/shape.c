/* Shape inference and cost model for every op. */
#include <math.h>
#include <string.h>

#include "../../runtime/core/util.h"
#include "ir.h"

int64_t sn_tensor_images(const sn_tensor *t) {
    int64_t n = 1;
    for (int i = 0; i < t->lead; i++) n *= t->shape.d[i];
    return n;
}

void sn_tensor_dims(const sn_tensor *t, int *C, int *H, int *W) {
    *C = (int)t->shape.d[t->lead];
    *H = t->shape.rank > t->lead + 1 ? (int)t->shape.d[t->lead + 1] : 1;
    *W = t->shape.rank > t->lead + 2 ? (int)t->shape.d[t->lead + 2] : 1;
}

static sn_code need_inputs(int nin, int lo, int hi, sn_status *st) {
    if (nin < lo || nin > hi)
        return sn_fail(st, SN_ERR_INPUT, "expects %d..%d inputs, got %d", lo, hi, nin);
    return SN_OK;
}

/* An activation with `feat` feature dims after its leading dims. */
static sn_code need_act(const sn_tensor *x, int feat, const char *what, sn_status *st) {
    char b[96];
    if (x->lead < 1 || x->shape.rank != x->lead + feat)
        return sn_fail(st, SN_ERR_INPUT, "expects %s, got a tensor of shape %s", what,
                       sn_shape_str(&x->shape, b, sizeof b));
    return SN_OK;
}

/* Output size of a sliding window; 0 when the window does not fit. */
static int64_t window_out(int64_t in, int k, int s, int p) {
    if (k <= 0 || s <= 0 || p < 0 || in + 2 * (int64_t)p < k) return 0;
    return (in + 2 * (int64_t)p - k) / s + 1;
}

static sn_code infer_window(const sn_tensor *x, const sn_attrs *a, const char *what, int64_t *oh,
                            int64_t *ow, sn_status *st) {
    int64_t h = x->shape.d[x->lead + 1], w = x->shape.d[x->lead + 2];
    if (a->kh <= 0 || a->kw <= 0 || a->sh <= 0 || a->sw <= 0 || a->ph < 0 || a->pw < 0)
        return sn_fail(st, SN_ERR_INPUT, "invalid %s window %dx%d stride %dx%d padding %dx%d", what,
                       a->kh, a->kw, a->sh, a->sw, a->ph, a->pw);
    *oh = window_out(h, a->kh, a->sh, a->ph);
    *ow = window_out(w, a->kw, a->sw, a->pw);
    if (*oh <= 0 || *ow <= 0)
        return sn_fail(st, SN_ERR_INPUT,
                       "%s kernel %dx%d is larger than its input %lldx%lld (padding %dx%d)", what,
                       a->kh, a->kw, (long long)h, (long long)w, a->ph, a->pw);
    return SN_OK;
}

sn_code sn_infer_shapes(const sn_graph *g, sn_op op, const int *in, int nin, const sn_attrs *a,
                        sn_shape *out, int *out_lead, sn_dtype *out_dtype, int *nout,
                        sn_status *st) {
    char b1[96], b2[96];
    for (int i = 0; i < nin; i++)
        if (in[i] < 0 || in[i] >= g->ntensors)
            return sn_fail(st, SN_ERR_INPUT, "input %d refers to a missing tensor", i);
    const sn_tensor *x = nin > 0 ? &g->tensors[in[0]] : NULL;
    *nout = 1;
    out_dtype[0] = SN_F32;
    if (x) {
        out[0] = x->shape;
        out_lead[0] = x->lead;
    }
    switch (op) {
    case SN_OP_CONV2D: {
        if (need_inputs(nin, a->has_bias ? 3 : 2, a->has_bias ? 3 : 2, st)) return st->code;
        if (need_act(x, 3, "a [N, C, H, W] input", st)) return st->code;
        const sn_tensor *w = &g->tensors[in[1]];
        int64_t c = x->shape.d[x->lead];
        if (w->shape.rank != 4 || w->shape.d[1] != c || w->shape.d[2] != a->kh ||
            w->shape.d[3] != a->kw)
            return sn_fail(st, SN_ERR_INPUT, "weight %s does not fit input %s with kernel %dx%d",
                           sn_shape_str(&w->shape, b1, sizeof b1),
                           sn_shape_str(&x->shape, b2, sizeof b2), a->kh, a->kw);
        if (a->has_bias) {
            const sn_tensor *bias = &g->tensors[in[2]];
            if (bias->shape.rank != 1 || bias->shape.d[0] != w->shape.d[0])
                return sn_fail(st, SN_ERR_INPUT, "bias %s does not match %lld output channels",
                               sn_shape_str(&bias->shape, b1, sizeof b1), (long long)w->shape.d[0]);
        }
        int64_t oh, ow;
        if (infer_window(x, a, "convolution", &oh, &ow, st)) return st->code;
        out[0].d[x->lead] = w->shape.d[0];
        out[0].d[x->lead + 1] = oh;
        out[0].d[x->lead + 2] = ow;
        return SN_OK;
    }
    case SN_OP_LINEAR: {
        if (need_inputs(nin, a->has_bias ? 3 : 2, a->has_bias ? 3 : 2, st)) return st->code;
        if (need_act(x, 1, "a flat [N, features] input (add a flatten layer before it)", st))
            return st->code;
        const sn_tensor *w = &g->tensors[in[1]];
        int64_t k = x->shape.d[x->lead];
        if (w->shape.rank != 2 || w->shape.d[1] != k)
            return sn_fail(st, SN_ERR_INPUT,
                           "expects %lld input features (weight %s) but its input has %lld",
                           (long long)(w->shape.rank == 2 ? w->shape.d[1] : -1),
                           sn_shape_str(&w->shape, b1, sizeof b1), (long long)k);
        if (a->has_bias) {
            const sn_tensor *bias = &g->tensors[in[2]];
            if (bias->shape.rank != 1 || bias->shape.d[0] != w->shape.d[0])
                return sn_fail(st, SN_ERR_INPUT, "bias %s does not match %lld outputs",
                               sn_shape_str(&bias->shape, b1, sizeof b1), (long long)w->shape.d[0]);
        }
        out[0].d[x->lead] = w->shape.d[0];
        return SN_OK;
    }
    case SN_OP_MAXPOOL:
    case SN_OP_AVGPOOL:
    case SN_OP_SUMPOOL: {
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (need_act(x, 3, "a [N, C, H, W] input", st)) return st->code;
        if (a->ph * 2 > a->kh || a->pw * 2 > a->kw)
            return sn_fail(st, SN_ERR_INPUT, "padding %dx%d must be at most half the kernel %dx%d",
                           a->ph, a->pw, a->kh, a->kw);
        if (a->spike_gate && (op != SN_OP_MAXPOOL || x->lead != 2))
            return sn_fail(st, SN_ERR_INPUT,
                           "spike_gate needs max pooling of spike trains (a [T, N, C, H, W] "
                           "input: put it after a spiking layer in a network with an snn "
                           "section)");
        int64_t oh, ow;
        if (infer_window(x, a, "pooling", &oh, &ow, st)) return st->code;
        out[0].d[x->lead + 1] = oh;
        out[0].d[x->lead + 2] = ow;
        return SN_OK;
    }
    case SN_OP_RELU:
    case SN_OP_DROPOUT:
    case SN_OP_QUANT:
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (x->lead < 1) return sn_fail(st, SN_ERR_INPUT, "expects an activation input");
        if (op == SN_OP_DROPOUT && !(a->p >= 0.0f && a->p < 1.0f))
            return sn_fail(st, SN_ERR_INPUT, "dropout probability %g is outside [0, 1)", a->p);
        if (op == SN_OP_QUANT && (a->quant.k < 0 || a->quant.k > 16 || !(a->quant.B > 0.0f)))
            return sn_fail(st, SN_ERR_INPUT, "needs 0 <= k <= 16 and B > 0 (got k=%d, B=%g)",
                           a->quant.k, a->quant.B);
        return SN_OK;
    case SN_OP_BATCHNORM: {
        if (need_inputs(nin, 5, 5, st)) return st->code;
        if (x->lead < 1 || (x->shape.rank != x->lead + 1 && x->shape.rank != x->lead + 3))
            return sn_fail(st, SN_ERR_INPUT, "expects [N, C] or [N, C, H, W], got %s",
                           sn_shape_str(&x->shape, b1, sizeof b1));
        int64_t c = x->shape.d[x->lead];
        for (int i = 1; i < 5; i++) {
            const sn_tensor *p = &g->tensors[in[i]];
            if (p->shape.rank != 1 || p->shape.d[0] != c)
                return sn_fail(st, SN_ERR_INPUT, "parameter %s is %s, expected [%lld]", p->name,
                               sn_shape_str(&p->shape, b1, sizeof b1), (long long)c);
        }
        if (!(a->eps > 0.0f)) return sn_fail(st, SN_ERR_INPUT, "eps must be > 0");
        return SN_OK;
    }
    case SN_OP_FLATTEN: {
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (x->lead < 1 || x->shape.rank <= x->lead)
            return sn_fail(st, SN_ERR_INPUT, "expects an activation with feature dims");
        int64_t f = 1;
        for (int i = x->lead; i < x->shape.rank; i++) f *= x->shape.d[i];
        out[0].rank = x->lead + 1;
        out[0].d[x->lead] = f;
        return SN_OK;
    }
    case SN_OP_TERNARY:
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (!(a->ternary_threshold > 0.0f))
            return sn_fail(st, SN_ERR_INPUT, "ternary threshold must be > 0");
        out_lead[0] = 0;
        return SN_OK;
    case SN_OP_NEURON:
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (x->lead != 2)
            return sn_fail(st, SN_ERR_INPUT,
                           "a spiking neuron needs a time-major [T, N, ...] input (add an snn "
                           "section with T and an encoder)");
        if (!(a->neuron.v_threshold > 0.0f))
            return sn_fail(st, SN_ERR_INPUT, "v_threshold must be > 0");
        if (a->neuron.model == SN_NEURON_LIF && !(a->neuron.tau > 1.0f))
            return sn_fail(st, SN_ERR_INPUT, "tau must be > 1 (got %g)", a->neuron.tau);
        if (a->record_v) { /* the membrane potentials, shaped like the spikes */
            *nout = 2;
            out[1] = x->shape;
            out_lead[1] = x->lead;
            out_dtype[1] = SN_F32;
        }
        return SN_OK;
    case SN_OP_SCALE: {
        if (need_inputs(nin, 2, 2, st)) return st->code;
        if (x->lead < 1 || x->shape.rank <= x->lead)
            return sn_fail(st, SN_ERR_INPUT, "expects an activation input");
        const sn_tensor *sc = &g->tensors[in[1]];
        sn_shape per = sn_shape_make(x->shape.rank - x->lead, x->shape.d + x->lead);
        if (!sn_shape_eq(&sc->shape, &per))
            return sn_fail(st, SN_ERR_INPUT, "scale %s does not match the per-sample shape %s",
                           sn_shape_str(&sc->shape, b1, sizeof b1),
                           sn_shape_str(&per, b2, sizeof b2));
        return SN_OK;
    }
    case SN_OP_NIR_NEURON: {
        const sn_nir_neuron_params *p = &a->nir;
        if ((unsigned)p->model > SN_NIR_THRESHOLD)
            return sn_fail(st, SN_ERR_INPUT, "unknown NIR neuron model %d", (int)p->model);
        int want = 1;
        for (int k = 0; k < SN_NIRP_COUNT; k++) want += sn_nir_neuron_uses(p, k);
        if (need_inputs(nin, want, want, st)) return st->code;
        if (p->model != SN_NIR_THRESHOLD && x->lead != 2)
            return sn_fail(st, SN_ERR_INPUT,
                           "a neuron needs a time-major [T, N, ...] input (add an snn section "
                           "with T and an encoder)");
        if (x->lead < 1 || x->shape.rank <= x->lead)
            return sn_fail(st, SN_ERR_INPUT, "expects an activation input");
        if ((p->model == SN_NIR_LIF || p->model == SN_NIR_LI) &&
            !(p->dt > 0.0f && p->dt < INFINITY))
            return sn_fail(st, SN_ERR_INPUT, "dt must be a positive number of seconds (got %g)",
                           (double)p->dt);
        sn_shape per = sn_shape_make(x->shape.rank - x->lead, x->shape.d + x->lead);
        for (int i = 1; i < nin; i++) {
            const sn_tensor *q = &g->tensors[in[i]];
            if (!sn_shape_eq(&q->shape, &per))
                return sn_fail(st, SN_ERR_INPUT,
                               "parameter %s is %s, expected the per-sample shape %s", q->name,
                               sn_shape_str(&q->shape, b1, sizeof b1),
                               sn_shape_str(&per, b2, sizeof b2));
        }
        if (a->record_v && (p->model == SN_NIR_IF || p->model == SN_NIR_LIF)) {
            *nout = 2;
            out[1] = x->shape;
            out_lead[1] = x->lead;
            out_dtype[1] = SN_F32;
        }
        return SN_OK;
    }
    case SN_OP_THRESHOLD: {
        if (need_inputs(nin, 2, 2, st)) return st->code;
        if (x->lead < 1 || x->shape.rank < x->lead + 1)
            return sn_fail(st, SN_ERR_INPUT, "expects an activation input");
        const sn_tensor *th = &g->tensors[in[1]];
        if (th->shape.rank != 2 || th->shape.d[0] != x->shape.d[x->lead] || th->shape.d[1] != a->U)
            return sn_fail(st, SN_ERR_INPUT, "thresholds %s do not match %lld channels x %d units",
                           sn_shape_str(&th->shape, b1, sizeof b1), (long long)x->shape.d[x->lead],
                           a->U);
        return SN_OK;
    }
    case SN_OP_ENCODE_POISSON:
    case SN_OP_ENCODE_DIRECT:
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (x->lead != 1) return sn_fail(st, SN_ERR_INPUT, "expects a [N, ...] input");
        if (a->T < 1) return sn_fail(st, SN_ERR_INPUT, "T must be >= 1 (got %d)", a->T);
        if (x->shape.rank + 1 > SN_MAX_RANK)
            return sn_fail(st, SN_ERR_INPUT, "input rank too large for a time axis");
        out[0].rank = x->shape.rank + 1;
        out[0].d[0] = a->T;
        for (int i = 0; i < x->shape.rank; i++) out[0].d[i + 1] = x->shape.d[i];
        out_lead[0] = 2;
        return SN_OK;
    case SN_OP_SPIKE_DROP:
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (!(a->p >= 0.0f && a->p <= 1.0f))
            return sn_fail(st, SN_ERR_INPUT,
                           "spike deletion probability must be in [0, 1] (got %g)", (double)a->p);
        if (a->U < 1) return sn_fail(st, SN_ERR_INPUT, "spike_drop needs U >= 1");
        out[0] = x->shape;
        out_lead[0] = x->lead;
        return SN_OK;
    case SN_OP_TIME_MEAN:
        if (need_inputs(nin, 1, 1, st)) return st->code;
        if (x->lead != 2) return sn_fail(st, SN_ERR_INPUT, "expects a [T, N, ...] input");
        out[0].rank = x->shape.rank - 1;
        for (int i = 1; i < x->shape.rank; i++) out[0].d[i - 1] = x->shape.d[i];
        out_lead[0] = 1;
        return SN_OK;
    case SN_OP_SOFTMAX_CE:
    case SN_OP_MSE_ONEHOT: {
        if (need_inputs(nin, 2, 2, st)) return st->code;
        if (need_act(x, 1, "[N, classes] scores", st)) return st->code;
        if (x->lead != 1) return sn_fail(st, SN_ERR_INPUT, "expects [N, classes] scores");
        const sn_tensor *lab = &g->tensors[in[1]];
        if (lab->dtype != SN_I32 || lab->shape.rank != 1 || lab->shape.d[0] != x->shape.d[0])
            return sn_fail(st, SN_ERR_INPUT, "labels must be I32 [%lld]", (long long)x->shape.d[0]);
        if (op == SN_OP_SOFTMAX_CE && !(a->label_smoothing >= 0.0f && a->label_smoothing < 1.0f))
            return sn_fail(st, SN_ERR_INPUT, "label smoothing must be in [0, 1)");
        out[0].rank = 0;
        out_lead[0] = 0;
        return SN_OK;
    }
    case SN_OP_BATCHNORM_TRAIN: {
        if (need_inputs(nin, 6, 6, st)) return st->code;
        if (x->lead < 1 || (x->shape.rank != x->lead + 1 && x->shape.rank != x->lead + 3))
            return sn_fail(st, SN_ERR_INPUT, "expects [N, C] or [N, C, H, W], got %s",
                           sn_shape_str(&x->shape, b1, sizeof b1));
        int64_t c = x->shape.d[x->lead];
        for (int i = 1; i < 5; i++) {
            const sn_tensor *p = &g->tensors[in[i]];
            if (p->shape.rank != 1 || p->shape.d[0] != c)
                return sn_fail(st, SN_ERR_INPUT, "parameter %s does not have %lld channels",
                               p->name, (long long)c);
        }
        *nout = 3;
        for (int o = 1; o < 3; o++) {
            out[o] = sn_shape1(c);
            out_lead[o] = 0;
            out_dtype[o] = SN_F32;
        }
        return SN_OK;
    }
    case SN_OP_CONV2D_BWD_DATA:
    case SN_OP_LINEAR_BWD_DATA:
    case SN_OP_FLATTEN_BWD:
    case SN_OP_TIME_MEAN_BWD:
    case SN_OP_ENCODE_DIRECT_BWD: {
        int want = op == SN_OP_CONV2D_BWD_DATA || op == SN_OP_LINEAR_BWD_DATA ? 3 : 2;
        if (need_inputs(nin, want, want, st)) return st->code;
        const sn_tensor *ref = &g->tensors[in[want - 1]]; /* the forward input: gives the shape */
        out[0] = ref->shape;
        out_lead[0] = ref->lead;
        return SN_OK;
    }
    case SN_OP_CONV2D_BWD_WEIGHT: {
        if (need_inputs(nin, 2, 2, st)) return st->code;
        const sn_tensor *dy = &g->tensors[in[1]];
        if (need_act(x, 3, "the forward input [N, C, H, W]", st) ||
            need_act(dy, 3, "dy [N, O, OH, OW]", st))
            return st->code;
        out[0] = sn_shape4(dy->shape.d[dy->lead], x->shape.d[x->lead], a->kh, a->kw);
        out_lead[0] = 0;
        if (a->has_bias) {
            *nout = 2;
            out[1] = sn_shape1(dy->shape.d[dy->lead]);
            out_lead[1] = 0;
            out_dtype[1] = SN_F32;
        }
        return SN_OK;
    }
    case SN_OP_LINEAR_BWD_WEIGHT: {
        if (need_inputs(nin, 2, 2, st)) return st->code;
        const sn_tensor *dy = &g->tensors[in[1]];
        if (need_act(x, 1, "the forward input [N, K]", st) || need_act(dy, 1, "dy [N, M]", st))
            return st->code;
        out[0] = sn_shape2(dy->shape.d[dy->lead], x->shape.d[x->lead]);
        out_lead[0] = 0;
        if (a->has_bias) {
            *nout = 2;
            out[1] = sn_shape1(dy->shape.d[dy->lead]);
            out_lead[1] = 0;
            out_dtype[1] = SN_F32;
        }
        return SN_OK;
    }
    case SN_OP_POOL_BWD:
    case SN_OP_RELU_BWD:
    case SN_OP_QUANT_BWD:
    case SN_OP_NEURON_BWD:
    case SN_OP_ADD: {
        if (need_inputs(nin, 2, 2, st)) return st->code;
        const sn_tensor *dy = &g->tensors[in[1]];
        if (op != SN_OP_POOL_BWD && !sn_shape_eq(&x->shape, &dy->shape))
            return sn_fail(st, SN_ERR_INPUT, "operand shapes differ: %s and %s",
                           sn_shape_str(&x->shape, b1, sizeof b1),
                           sn_shape_str(&dy->shape, b2, sizeof b2));
        return SN_OK;
    }
    case SN_OP_BATCHNORM_BWD: {
        if (need_inputs(nin, 5, 5, st)) return st->code;
        int64_t c = x->shape.d[x->lead];
        *nout = 3;
        for (int o = 1; o < 3; o++) {
            out[o] = sn_shape1(c);
            out_lead[o] = 0;
            out_dtype[o] = SN_F32;
        }
        return SN_OK;
    }
    case SN_OP_DROPOUT_BWD:
        if (need_inputs(nin, 1, 1, st)) return st->code;
        return SN_OK;
    case SN_OP_SOFTMAX_CE_BWD:
    case SN_OP_MSE_ONEHOT_BWD:
        if (need_inputs(nin, 2, 2, st)) return st->code;
        return SN_OK;
    case SN_OP_SGD_UPDATE:
    case SN_OP_ADAM_UPDATE: {
        int want = op == SN_OP_SGD_UPDATE ? (a->opt_momentum > 0 ? 3 : 2) : 4;
        if (need_inputs(nin, want, want, st)) return st->code;
        for (int i = 1; i < nin; i++)
            if (!sn_shape_eq(&g->tensors[in[i]].shape, &x->shape))
                return sn_fail(st, SN_ERR_INPUT, "state %s does not match parameter %s",
                               g->tensors[in[i]].name, x->name);
        *nout = 0;
        return SN_OK;
    }
    case SN_OP_COUNT:
        break;
    }
    return sn_fail(st, SN_ERR_INPUT, "unknown op %d", (int)op);
}

int64_t sn_node_macs(const sn_graph *g, int i) {
    const sn_node *n = &g->nodes[i];
    const sn_tensor *x = &g->tensors[n->in[0]];
    const sn_tensor *y = &g->tensors[n->out[0]];
    switch (n->op) {
    case SN_OP_CONV2D: {
        const sn_tensor *w = &g->tensors[n->in[1]];
        return sn_tensor_images(y) * y->shape.d[y->lead] * y->shape.d[y->lead + 1] *
               y->shape.d[y->lead + 2] * w->shape.d[1] * w->shape.d[2] * w->shape.d[3];
    }
    case SN_OP_LINEAR: {
        const sn_tensor *w = &g->tensors[n->in[1]];
        return sn_tensor_images(x) * w->shape.d[0] * w->shape.d[1];
    }
    /* gradients: as many multiply-adds as the forward op (x here is dy, or x for weights) */
    case SN_OP_CONV2D_BWD_DATA: {
        const sn_tensor *w = &g->tensors[n->in[1]];
        return sn_tensor_images(x) * x->shape.d[x->lead] * x->shape.d[x->lead + 1] *
               x->shape.d[x->lead + 2] * w->shape.d[1] * w->shape.d[2] * w->shape.d[3];
    }
    case SN_OP_CONV2D_BWD_WEIGHT: {
        const sn_tensor *dy = &g->tensors[n->in[1]];
        return sn_tensor_images(dy) * dy->shape.d[dy->lead] * dy->shape.d[dy->lead + 1] *
               dy->shape.d[dy->lead + 2] * y->shape.d[1] * y->shape.d[2] * y->shape.d[3];
    }
    case SN_OP_LINEAR_BWD_DATA: {
        const sn_tensor *w = &g->tensors[n->in[1]];
        return sn_tensor_images(x) * w->shape.d[0] * w->shape.d[1];
    }
    case SN_OP_LINEAR_BWD_WEIGHT:
        return sn_tensor_images(x) * y->shape.d[0] * y->shape.d[1];
    default:
        return 0;
    }
}
