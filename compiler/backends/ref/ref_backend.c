/* The reference backend: one plan step per IR node, each calling the plain C loop of the
 * reference interpreter (runtime/ref). Single-threaded on purpose: it is the oracle. */
#include "ref_backend.h"

#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/rng.h"
#include "../../../runtime/core/util.h"
#include "../../../runtime/cpu/pack.h"
#include "../../../runtime/cpu/prep.h"
#include "../../../runtime/ref/ref_ops.h"

typedef struct rk_n {
    int64_t n;
} rk_n;
typedef struct rk_quant {
    int64_t n;
    sn_quant_params q;
} rk_quant;
typedef struct rk_dropout {
    int64_t n;
    float p;
    uint64_t stream;
    int64_t images; /* leading images (time steps x batch): n / images elements each */
} rk_dropout;
typedef struct rk_ternary {
    int64_t n;
    float threshold;
} rk_ternary;
typedef struct rk_neuron {
    int T;
    int64_t n;
    sn_neuron_params np;
    int stateful; /* step-major: b[2 + record] holds the membrane potentials between runs */
    int record;   /* b[2] receives the membrane potentials of every step */
} rk_neuron;
typedef struct rk_nir {
    sn_nir_neuron_params p;
    int T;
    int64_t N, E;           /* images per step, elements per image */
    int prm[SN_NIRP_COUNT]; /* buffer slot of each parameter array, or -1 */
    int out, vout, state;   /* slots of the output, the recorded potentials, the state (-1) */
} rk_nir;
typedef struct rk_encode {
    int T;
    int64_t n;
    uint64_t stream;
    float scale; /* direct encoder */
    int U;       /* spike_drop */
    float p;     /* spike_drop */
} rk_encode;
typedef struct rk_loss {
    int64_t N;
    int K;
    float smoothing;
} rk_loss;

static void k_conv(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const sn_conv_params *cp = p;
    sn_ref_conv2d(cp, b[0], b[1], cp->has_bias ? b[2] : NULL, b[3]);
}
static void k_linear(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const sn_linear_params *lp = p;
    sn_ref_linear(lp, b[0], b[1], lp->has_bias ? b[2] : NULL, b[3]);
}
static void k_maxpool(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_maxpool2d(p, b[0], b[1]);
}
static void k_avgpool(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_avgpool2d(p, b[0], b[1]);
}
static void k_relu(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_relu(((const rk_n *)p)->n, b[0], b[1]);
}
static void k_copy(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    memcpy(b[1], b[0], (size_t)((const rk_n *)p)->n * sizeof(float));
}
static void k_bn(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_batchnorm_infer(p, b[0], b[1], b[2], b[3], b[4], b[5]);
}
static void k_dropout(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_dropout *d = p;
    sn_ref_dropout_part(d->n, d->p, c->training, c->seed, d->stream, d->n / d->images,
                        c->plan->batch, c->sample0, c->gbatch, b[0], b[1], NULL);
}
/* The forward mask regenerated from the run's seed: dx = dy * keep / (1 - p). */
static void k_dropout_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_dropout *d = p;
    const float *dy = b[0];
    float *dx = b[1];
    float scale = d->p < 1.0f ? 1.0f / (1.0f - d->p) : 0.0f;
    int64_t per = d->n / d->images;
    for (int64_t i = 0; i < d->n; i++) {
        uint64_t gi = sn_batch_index((uint64_t)i, per, c->plan->batch, c->sample0, c->gbatch);
        int keep = !c->training || (d->p < 1.0f && sn_rand_u01(c->seed, d->stream, gi) >= d->p);
        dx[i] = keep ? (c->training ? dy[i] * scale : dy[i]) : 0.0f;
    }
}
typedef struct rk_bn_train {
    sn_bn_params p;
} rk_bn_train;
static void k_bn_train(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_batchnorm_train_forward(p, b[0], b[1], b[2], b[3], b[4], b[6], b[7], b[8]);
    *(int64_t *)b[5] += 1; /* num_batches_tracked */
}
static void k_bn_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_batchnorm_backward(p, b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]);
}
static void k_conv_bwd_data(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_conv2d_backward_data(p, b[0], b[1], b[3]);
}
static void k_conv_bwd_weight(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const sn_conv_params *cp = p;
    sn_ref_conv2d_backward_weight(cp, b[0], b[1], b[2], cp->has_bias ? b[3] : NULL);
}
static void k_linear_bwd_data(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_linear_backward(p, b[2], b[1], b[0], b[3], NULL, NULL);
}
static void k_linear_bwd_weight(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const sn_linear_params *lp = p;
    sn_ref_linear_backward(lp, b[0], NULL, b[1], NULL, b[2], lp->has_bias ? b[3] : NULL);
}
typedef struct rk_pool_bwd {
    sn_pool_params p;
    int max;
} rk_pool_bwd;
static void k_pool_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_pool_bwd *q = p;
    if (q->max)
        sn_ref_maxpool2d_backward(&q->p, b[0], b[1], b[2]);
    else
        sn_ref_avgpool2d_backward(&q->p, b[1], b[2]);
}
static void k_relu_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_relu_backward(((const rk_n *)p)->n, b[0], b[1], b[2]);
}
static void k_quant_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_quant *q = p;
    sn_ref_quant_backward(q->n, &q->q, b[0], b[1], b[2]);
}
static void k_copy01(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    memcpy(b[2], b[0], (size_t)((const rk_n *)p)->n * sizeof(float));
}
static void k_softmax_ce_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_loss *l = p;
    sn_ref_softmax_ce(l->N, l->K, b[0], b[1], l->smoothing, b[2]);
}
static void k_mse_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_loss *l = p;
    sn_ref_mse_onehot(l->N, l->K, b[0], b[1], b[2]);
}
static void k_neuron_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    /* recompute the forward membrane trace rather than storing it */
    const rk_neuron *q = p;
    size_t bytes = (size_t)q->T * (size_t)q->n * sizeof(float);
    float *h = malloc(bytes), *s = malloc(bytes);
    if (!h || !s) {
        free(h);
        free(s);
        atomic_store(&c->oom, 1);
        return;
    }
    sn_ref_neuron_forward(&q->np, q->T, q->n, b[0], s, NULL, h);
    sn_ref_neuron_backward(&q->np, q->T, q->n, h, s, b[1], b[2], NULL);
    free(h);
    free(s);
}
static void k_time_mean_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_encode *e = p;
    sn_ref_time_mean_backward(e->T, e->n, b[0], b[2]);
}
static void k_direct_bwd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_encode *e = p;
    sn_ref_encode_direct_backward(e->T, e->n, b[0], b[2]);
}
static void k_add(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const float *x = b[0], *y = b[1];
    float *z = b[2];
    for (int64_t i = 0; i < ((const rk_n *)p)->n; i++) z[i] = x[i] + y[i];
}
typedef struct rk_opt {
    int64_t n;
    float momentum, weight_decay, beta1, beta2, eps;
    int nesterov;
} rk_opt;
static void k_sgd(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_opt *o = p;
    sn_ref_sgd_update(o->n, c->lr, o->momentum, o->weight_decay, o->nesterov, b[0], b[1],
                      o->momentum != 0.0f ? b[2] : NULL);
}
static void k_adam(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_opt *o = p;
    sn_ref_adam_update(o->n, c->lr, o->beta1, o->beta2, o->eps, o->weight_decay, c->step, b[0],
                       b[1], b[2], b[3]);
}
static void k_quant(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_quant *q = p;
    sn_ref_quant(q->n, &q->q, b[0], b[1]);
}
static void k_ternary(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_ternary *t = p;
    sn_ref_ternary(t->n, t->threshold, b[0], b[1]);
}
static void k_neuron(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_neuron *q = p;
    float *v = NULL;
    if (q->stateful) {
        v = b[2 + q->record];
        if (c->t == 0) {
            float vr = q->np.hard_reset ? q->np.v_reset : 0.0f;
            for (int64_t i = 0; i < q->n; i++) v[i] = vr;
        }
    }
    sn_ref_neuron_forward_v(&q->np, q->T, q->n, b[0], b[1], v, NULL, q->record ? b[2] : NULL);
}
static void k_nir_neuron(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_nir *q = p;
    const float *prm[SN_NIRP_COUNT];
    for (int k = 0; k < SN_NIRP_COUNT; k++) prm[k] = q->prm[k] >= 0 ? b[q->prm[k]] : NULL;
    float *v = NULL;
    if (q->state >= 0) {
        v = b[q->state];
        if (c->t == 0)
            for (int64_t n = 0; n < q->N; n++)
                for (int64_t e = 0; e < q->E; e++)
                    v[n * q->E + e] = sn_nir_initial_v(&q->p, prm, e);
    }
    sn_ref_nir_neuron(&q->p, q->T, q->N, q->E, b[0], prm, b[q->out], v,
                      q->vout >= 0 ? b[q->vout] : NULL);
}
static void k_scale(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_nir *q = p; /* N images of E elements */
    sn_ref_scale(q->N, q->E, b[0], b[1], b[2]);
}
static void k_sumpool(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_sumpool2d(p, b[0], b[1]);
}
static void k_threshold(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    sn_ref_threshold_units(p, b[0], b[1], b[2]);
}
static void k_poisson(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_encode *e = p;
    /* a rank's part of a global batch draws with the global indices */
    uint64_t base = (uint64_t)c->sample0 * (uint64_t)(e->n / c->plan->batch);
    int64_t bad = sn_ref_encode_poisson_part(base, c->t, e->T, e->n, sn_mix64(c->seed ^ e->stream),
                                             b[0], b[1]);
    if (bad) atomic_fetch_add(&c->bad_input, bad);
}
static void k_direct(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_encode *e = p;
    sn_ref_encode_direct(e->T, e->n, b[0], b[1]);
    if (e->scale != 0.0f && e->scale != 1.0f) {
        float *s = b[1];
        for (int64_t i = 0; i < (int64_t)e->T * e->n; i++) s[i] *= e->scale;
    }
}
static void k_spike_drop(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_encode *e = p;
    /* element i of step t is element t*n + i of the whole [T, ...] tensor */
    sn_ref_spike_drop_at((uint64_t)c->t * (uint64_t)e->n, e->n, e->U, e->p,
                         sn_rand_key(c->seed, e->stream), b[0], b[1]);
}
static void k_time_mean(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_encode *e = p;
    if (e->U) { /* step-major: b[2] holds the running sums (double) over the runs so far */
        double *acc = b[2];
        const float *x = b[0];
        float *y = b[1];
        for (int64_t i = 0; i < e->n; i++) {
            acc[i] = (c->t == 0 ? 0.0 : acc[i]) + (double)x[i];
            y[i] = (float)(acc[i] / e->T);
        }
        return;
    }
    sn_ref_time_mean(e->T, e->n, b[0], b[1]);
}
static void k_softmax_ce(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_loss *l = p;
    *(float *)b[2] = (float)sn_ref_softmax_ce(l->N, l->K, b[0], b[1], l->smoothing, NULL);
}
static void k_mse(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    const rk_loss *l = p;
    *(float *)b[2] = (float)sn_ref_mse_onehot(l->N, l->K, b[0], b[1], NULL);
}

sn_conv_params sn_conv_params_of(const sn_graph *g, const sn_node *nd) {
    const sn_tensor *x = &g->tensors[nd->in[0]], *y = &g->tensors[nd->out[0]];
    sn_conv_params p;
    memset(&p, 0, sizeof p);
    p.N = sn_tensor_images(x);
    p.C = (int)x->shape.d[x->lead];
    p.H = (int)x->shape.d[x->lead + 1];
    p.W = (int)x->shape.d[x->lead + 2];
    p.O = (int)y->shape.d[y->lead];
    p.OH = (int)y->shape.d[y->lead + 1];
    p.OW = (int)y->shape.d[y->lead + 2];
    p.KH = nd->a.kh;
    p.KW = nd->a.kw;
    p.SH = nd->a.sh;
    p.SW = nd->a.sw;
    p.PH = nd->a.ph;
    p.PW = nd->a.pw;
    p.has_bias = nd->a.has_bias;
    return p;
}

sn_pool_params sn_pool_params_of(const sn_graph *g, const sn_node *nd) {
    sn_conv_params c = sn_conv_params_of(g, nd);
    sn_pool_params p;
    memset(&p, 0, sizeof p);
    p.N = c.N;
    p.C = c.C;
    p.H = c.H;
    p.W = c.W;
    p.OH = c.OH;
    p.OW = c.OW;
    p.KH = c.KH;
    p.KW = c.KW;
    p.SH = c.SH;
    p.SW = c.SW;
    p.PH = c.PH;
    p.PW = c.PW;
    return p;
}

sn_linear_params sn_linear_params_of(const sn_graph *g, const sn_node *nd) {
    const sn_tensor *x = &g->tensors[nd->in[0]], *w = &g->tensors[nd->in[1]];
    sn_linear_params p;
    memset(&p, 0, sizeof p);
    p.N = sn_tensor_images(x);
    p.K = (int)w->shape.d[1];
    p.M = (int)w->shape.d[0];
    p.has_bias = nd->a.has_bias;
    return p;
}

sn_bn_params sn_bn_params_of(const sn_graph *g, const sn_node *nd) {
    const sn_tensor *x = &g->tensors[nd->in[0]];
    sn_bn_params p;
    memset(&p, 0, sizeof p);
    p.N = sn_tensor_images(x);
    p.C = (int)x->shape.d[x->lead];
    p.HW = 1;
    for (int i = x->lead + 1; i < x->shape.rank; i++) p.HW *= x->shape.d[i];
    p.eps = nd->a.eps;
    p.momentum = nd->a.momentum;
    return p;
}

int sn_plan_buffers_for_graph(const sn_graph *g, sn_plan *plan, int *tbuf, sn_status *st) {
    for (int t = 0; t < g->ntensors; t++) {
        const sn_tensor *x = &g->tensors[t];
        sn_buf_kind kind =
            x->kind == SN_T_PARAM || x->kind == SN_T_BUFFER || x->kind == SN_T_OPTSTATE
                ? SN_BUF_WEIGHT
                : SN_BUF_ARENA;
        tbuf[t] = sn_plan_add_buffer(plan, x->name, x->dtype, &x->shape, kind, st);
        if (tbuf[t] < 0) return -1;
    }
    plan->in_buf = tbuf[g->input];
    plan->out_buf = tbuf[g->output];
    plan->label_buf = g->label >= 0 ? tbuf[g->label] : -1;
    plan->loss_buf = g->loss >= 0 ? tbuf[g->loss] : -1;
    plan->batch = g->batch;
    plan->T = g->T;
    plan->step_major = g->step_major;
    plan->num_classes = g->num_classes;
    sn_strlcpy(plan->model, g->model, sizeof plan->model);
    return 0;
}

/* State kept by the plan between the runs of a step-major schedule. */
static int state_buffer(sn_plan *plan, const char *node, int64_t floats, sn_status *st) {
    char name[SN_PLAN_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.state", node);
    sn_shape s = sn_shape1(floats);
    return sn_plan_add_buffer(plan, name, SN_F32, &s, SN_BUF_OWNED, st);
}

static void k_round_bf16(sn_kctx *c, const void *p, void *const *b, int64_t lo, int64_t hi) {
    (void)c;
    (void)lo;
    (void)hi;
    const float *x = b[0];
    float *y = b[1];
    for (int64_t i = 0; i < ((const rk_n *)p)->n; i++) y[i] = sn_bf16_round(x[i]);
}

/* bf16: the operands of conv/linear nodes (forward and gradients, weights included) are
 * read from copies rounded to bf16, made by a step of their own before the first node that
 * reads them (rb[t]: the copy of tensor t, -1 until made). */
static int bf16_operands(const sn_graph *g, const sn_node *nd, int *bufs, int *rb, sn_plan *plan,
                         sn_status *st) {
    int slots = 0;
    switch (nd->op) {
    case SN_OP_CONV2D:
    case SN_OP_LINEAR:
    case SN_OP_CONV2D_BWD_DATA:
    case SN_OP_CONV2D_BWD_WEIGHT:
    case SN_OP_LINEAR_BWD_DATA:
    case SN_OP_LINEAR_BWD_WEIGHT:
        slots = 2; /* x or dy, and w or dy */
        break;
    default:
        return 0;
    }
    for (int j = 0; j < slots; j++) {
        int t = nd->in[j];
        if (rb[t] < 0) {
            const sn_tensor *x = &g->tensors[t];
            char name[SN_PLAN_NAME_MAX];
            sn_fmt(name, sizeof name, "%s@bf16", x->name);
            rb[t] = sn_plan_add_buffer(plan, name, SN_F32, &x->shape, SN_BUF_ARENA, st);
            rk_n p = {sn_shape_numel(&x->shape)};
            int rbufs[2] = {bufs[j], rb[t]};
            if (rb[t] < 0 || sn_plan_add_step(plan, name, "ref.round_bf16", k_round_bf16, &p,
                                              sizeof p, rbufs, 2, 1, st) < 0)
                return -1;
        }
        bufs[j] = rb[t];
    }
    return 0;
}

static sn_code lower_ref(const sn_graph *g, int bf16, sn_plan *plan, sn_status *st) {
    sn_plan_init(plan);
    sn_strlcpy(plan->backend, "ref", sizeof plan->backend);
    int *tbuf = sn_calloc((size_t)g->ntensors, sizeof(int));
    int *rb = sn_calloc((size_t)g->ntensors, sizeof(int));
    if (!tbuf || !rb) {
        free(tbuf);
        free(rb);
        return sn_fail(st, SN_ERR_RUNTIME, "out of memory");
    }
    for (int t = 0; t < g->ntensors; t++) rb[t] = -1;
    if (sn_plan_buffers_for_graph(g, plan, tbuf, st) < 0) goto fail;
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *nd = &g->nodes[i];
        const sn_tensor *x = &g->tensors[nd->in[0]];
        const sn_tensor *y = &g->tensors[nd->out[0]];
        int bufs[SN_STEP_MAX_BUFS];
        int nb = 0;
        for (int j = 0; j < nd->nin; j++) bufs[nb++] = tbuf[nd->in[j]];
        for (int j = 0; j < nd->nout; j++) bufs[nb++] = tbuf[nd->out[j]];
        if (bf16 && bf16_operands(g, nd, bufs, rb, plan, st) < 0) goto fail;
        int64_t nx = sn_shape_numel(&x->shape);
        uint64_t stream = sn_hash_str(SN_HASH_INIT, nd->name);
        char kname[SN_PLAN_NAME_MAX];
        snprintf(kname, sizeof kname, "ref.%s", sn_op_name(nd->op));
        int s = -1;
        switch (nd->op) {
        case SN_OP_CONV2D: {
            sn_conv_params p = sn_conv_params_of(g, nd);
            if (!p.has_bias) { /* keep the output in slot 3 */
                bufs[3] = bufs[2];
                bufs[2] = -1;
                nb = 4;
            }
            s = sn_plan_add_step(plan, nd->name, kname, k_conv, &p, sizeof p, bufs, nb, 1, st);
            if (s >= 0) plan->steps[s].macs = sn_node_macs(g, i);
            break;
        }
        case SN_OP_LINEAR: {
            sn_linear_params p = sn_linear_params_of(g, nd);
            if (!p.has_bias) {
                bufs[3] = bufs[2];
                bufs[2] = -1;
                nb = 4;
            }
            s = sn_plan_add_step(plan, nd->name, kname, k_linear, &p, sizeof p, bufs, nb, 1, st);
            if (s >= 0) plan->steps[s].macs = sn_node_macs(g, i);
            break;
        }
        case SN_OP_MAXPOOL:
        case SN_OP_AVGPOOL: {
            sn_pool_params p = sn_pool_params_of(g, nd);
            if (nd->a.spike_gate) { /* plain NCHW layouts; counts kept by the plan */
                sn_spike_pool_params q;
                memset(&q, 0, sizeof q);
                q.T = (int)x->shape.d[0];
                q.N = p.N / q.T;
                q.KH = p.KH;
                q.KW = p.KW;
                q.SH = p.SH;
                q.SW = p.SW;
                q.PH = p.PH;
                q.PW = p.PW;
                q.stateful = nd->a.stateful;
                q.in = (sn_cpu_layout){0, 1, p.C, p.H, p.W, 0};
                q.out = (sn_cpu_layout){0, 1, p.C, p.OH, p.OW, 0};
                if ((bufs[nb++] = state_buffer(plan, nd->name, q.N * p.C * p.H * p.W, st)) < 0)
                    goto fail;
                s = sn_plan_add_step(plan, nd->name, "cpu.spike_maxpool", sn_spike_maxpool, &q,
                                     sizeof q, bufs, nb, q.N, st);
                break;
            }
            s = sn_plan_add_step(plan, nd->name, kname,
                                 nd->op == SN_OP_MAXPOOL ? k_maxpool : k_avgpool, &p, sizeof p,
                                 bufs, nb, 1, st);
            break;
        }
        case SN_OP_RELU:
        case SN_OP_FLATTEN: {
            rk_n p = {nx};
            s = sn_plan_add_step(plan, nd->name, kname, nd->op == SN_OP_RELU ? k_relu : k_copy, &p,
                                 sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_BATCHNORM: {
            sn_bn_params p = sn_bn_params_of(g, nd);
            s = sn_plan_add_step(plan, nd->name, kname, k_bn, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_DROPOUT: {
            rk_dropout p = {nx, nd->a.p, nd->a.stream ? nd->a.stream : stream, sn_tensor_images(x)};
            s = sn_plan_add_step(plan, nd->name, kname, k_dropout, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_QUANT: {
            rk_quant p = {nx, nd->a.quant};
            s = sn_plan_add_step(plan, nd->name, kname, k_quant, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_TERNARY: {
            rk_ternary p = {nx, nd->a.ternary_threshold};
            s = sn_plan_add_step(plan, nd->name, kname, k_ternary, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_NEURON: {
            rk_neuron p = {(int)x->shape.d[0], nx / x->shape.d[0], nd->a.neuron, nd->a.stateful,
                           nd->nout > 1};
            if (p.stateful && (bufs[nb++] = state_buffer(plan, nd->name, p.n, st)) < 0) goto fail;
            s = sn_plan_add_step(plan, nd->name, kname, k_neuron, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_NIR_NEURON: {
            rk_nir p;
            memset(&p, 0, sizeof p);
            p.p = nd->a.nir;
            p.T = x->lead == 2 ? (int)x->shape.d[0] : 1;
            p.N = sn_tensor_images(x) / p.T;
            p.E = nx / sn_tensor_images(x);
            int slot = 1;
            for (int k = 0; k < SN_NIRP_COUNT; k++)
                p.prm[k] = sn_nir_neuron_uses(&p.p, k) ? slot++ : -1;
            p.out = nd->nin;
            p.vout = nd->nout > 1 ? nd->nin + 1 : -1;
            p.state = -1;
            if (nd->a.stateful) {
                p.state = nb;
                if ((bufs[nb++] = state_buffer(plan, nd->name, p.N * p.E, st)) < 0) goto fail;
            }
            s = sn_plan_add_step(plan, nd->name, kname, k_nir_neuron, &p, sizeof p, bufs, nb, 1,
                                 st);
            break;
        }
        case SN_OP_SCALE: {
            rk_nir p;
            memset(&p, 0, sizeof p);
            p.N = sn_tensor_images(x);
            p.E = nx / p.N;
            s = sn_plan_add_step(plan, nd->name, kname, k_scale, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_SUMPOOL: {
            sn_pool_params p = sn_pool_params_of(g, nd);
            s = sn_plan_add_step(plan, nd->name, kname, k_sumpool, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_ENCODE_POISSON:
        case SN_OP_ENCODE_DIRECT: {
            rk_encode p = {nd->a.T, nx, stream, nd->a.input_scale, 0, 0.0f};
            s = sn_plan_add_step(plan, nd->name, kname,
                                 nd->op == SN_OP_ENCODE_POISSON ? k_poisson : k_direct, &p,
                                 sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_SPIKE_DROP: {
            rk_encode p = {1, nx, nd->a.stream, 0.0f, nd->a.U, nd->a.p};
            s = sn_plan_add_step(plan, nd->name, kname, k_spike_drop, &p, sizeof p, bufs, nb, 1,
                                 st);
            break;
        }
        case SN_OP_TIME_MEAN: {
            rk_encode p = {(int)x->shape.d[0], nx / x->shape.d[0], 0, 0.0f, 0, 0.0f};
            if (nd->a.stateful) {
                p.T = nd->a.T;
                p.U = 1;
                if ((bufs[nb++] = state_buffer(plan, nd->name, 2 * p.n, st)) < 0) goto fail;
            }
            s = sn_plan_add_step(plan, nd->name, kname, k_time_mean, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_SOFTMAX_CE:
        case SN_OP_MSE_ONEHOT: {
            rk_loss p = {x->shape.d[0], (int)x->shape.d[1], nd->a.label_smoothing};
            s = sn_plan_add_step(plan, nd->name, kname,
                                 nd->op == SN_OP_SOFTMAX_CE ? k_softmax_ce : k_mse, &p, sizeof p,
                                 bufs, nb, 1, st);
            break;
        }
        case SN_OP_THRESHOLD: {
            sn_threshold_params p;
            memset(&p, 0, sizeof p);
            p.N = sn_tensor_images(x);
            p.C = (int)x->shape.d[x->lead];
            p.HW = nx / (p.N * p.C);
            p.U = nd->a.U;
            s = sn_plan_add_step(plan, nd->name, kname, k_threshold, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_BATCHNORM_TRAIN: {
            sn_bn_params p = sn_bn_params_of(g, nd);
            s = sn_plan_add_step(plan, nd->name, kname, k_bn_train, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_BATCHNORM_BWD: {
            sn_bn_params p = sn_bn_params_of(g, nd);
            s = sn_plan_add_step(plan, nd->name, kname, k_bn_bwd, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_CONV2D_BWD_DATA:
        case SN_OP_CONV2D_BWD_WEIGHT: {
            /* the forward convolution: its input x and output dy */
            sn_node fwd = *nd;
            int xin = nd->op == SN_OP_CONV2D_BWD_DATA ? nd->in[2] : nd->in[0];
            int yin = nd->op == SN_OP_CONV2D_BWD_DATA ? nd->in[0] : nd->in[1];
            fwd.in[0] = xin;
            fwd.out[0] = yin;
            sn_conv_params p = sn_conv_params_of(g, &fwd);
            if (nd->op == SN_OP_CONV2D_BWD_WEIGHT && !p.has_bias) bufs[3] = -1;
            s = sn_plan_add_step(
                plan, nd->name, kname,
                nd->op == SN_OP_CONV2D_BWD_DATA ? k_conv_bwd_data : k_conv_bwd_weight, &p, sizeof p,
                bufs, nd->op == SN_OP_CONV2D_BWD_WEIGHT ? 4 : nb, 1, st);
            if (s >= 0) plan->steps[s].macs = sn_node_macs(g, i);
            break;
        }
        case SN_OP_LINEAR_BWD_DATA:
        case SN_OP_LINEAR_BWD_WEIGHT: {
            int xin = nd->op == SN_OP_LINEAR_BWD_DATA ? nd->in[2] : nd->in[0];
            int yin = nd->op == SN_OP_LINEAR_BWD_DATA ? nd->in[0] : nd->in[1];
            const sn_tensor *xt = &g->tensors[xin], *yt = &g->tensors[yin];
            sn_linear_params p;
            memset(&p, 0, sizeof p);
            p.N = sn_tensor_images(xt);
            p.K = (int)xt->shape.d[xt->lead];
            p.M = (int)yt->shape.d[yt->lead];
            p.has_bias = nd->a.has_bias;
            if (nd->op == SN_OP_LINEAR_BWD_WEIGHT && !p.has_bias) bufs[3] = -1;
            s = sn_plan_add_step(
                plan, nd->name, kname,
                nd->op == SN_OP_LINEAR_BWD_DATA ? k_linear_bwd_data : k_linear_bwd_weight, &p,
                sizeof p, bufs, nd->op == SN_OP_LINEAR_BWD_WEIGHT ? 4 : nb, 1, st);
            if (s >= 0) plan->steps[s].macs = sn_node_macs(g, i);
            break;
        }
        case SN_OP_POOL_BWD: {
            sn_node fwd = *nd;
            fwd.in[0] = nd->in[0];
            fwd.out[0] = nd->in[1];
            rk_pool_bwd p;
            memset(&p, 0, sizeof p);
            p.p = sn_pool_params_of(g, &fwd);
            p.max = nd->a.max;
            s = sn_plan_add_step(plan, nd->name, kname, k_pool_bwd, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_RELU_BWD: {
            rk_n p = {nx};
            s = sn_plan_add_step(plan, nd->name, kname, k_relu_bwd, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_QUANT_BWD: {
            rk_quant p = {nx, nd->a.quant};
            s = sn_plan_add_step(plan, nd->name, kname, k_quant_bwd, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_DROPOUT_BWD: {
            rk_dropout p = {nx, nd->a.p, nd->a.stream, sn_tensor_images(x)};
            s = sn_plan_add_step(plan, nd->name, kname, k_dropout_bwd, &p, sizeof p, bufs, nb, 1,
                                 st);
            break;
        }
        case SN_OP_FLATTEN_BWD: {
            rk_n p = {nx};
            s = sn_plan_add_step(plan, nd->name, kname, k_copy01, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_SOFTMAX_CE_BWD:
        case SN_OP_MSE_ONEHOT_BWD: {
            rk_loss p = {x->shape.d[0], (int)x->shape.d[1], nd->a.label_smoothing};
            s = sn_plan_add_step(plan, nd->name, kname,
                                 nd->op == SN_OP_SOFTMAX_CE_BWD ? k_softmax_ce_bwd : k_mse_bwd, &p,
                                 sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_NEURON_BWD: {
            rk_neuron p = {(int)x->shape.d[0], nx / x->shape.d[0], nd->a.neuron, 0, 0};
            s = sn_plan_add_step(plan, nd->name, kname, k_neuron_bwd, &p, sizeof p, bufs, nb, 1,
                                 st);
            break;
        }
        case SN_OP_TIME_MEAN_BWD:
        case SN_OP_ENCODE_DIRECT_BWD: {
            /* sizes from the [T, N, ...] side: the input of time_mean bwd's forward, the ds of
             * the encoder's */
            const sn_tensor *tt =
                &g->tensors[nd->op == SN_OP_TIME_MEAN_BWD ? nd->in[1] : nd->in[0]];
            int64_t nt = sn_shape_numel(&tt->shape);
            rk_encode p = {(int)tt->shape.d[0], nt / tt->shape.d[0], 0, 0.0f, 0, 0.0f};
            s = sn_plan_add_step(plan, nd->name, kname,
                                 nd->op == SN_OP_TIME_MEAN_BWD ? k_time_mean_bwd : k_direct_bwd, &p,
                                 sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_ADD: {
            rk_n p = {nx};
            s = sn_plan_add_step(plan, nd->name, kname, k_add, &p, sizeof p, bufs, nb, 1, st);
            break;
        }
        case SN_OP_SGD_UPDATE:
        case SN_OP_ADAM_UPDATE: {
            rk_opt p;
            memset(&p, 0, sizeof p);
            p.n = nx;
            p.momentum = nd->a.opt_momentum;
            p.weight_decay = nd->a.weight_decay;
            p.beta1 = nd->a.beta1;
            p.beta2 = nd->a.beta2;
            p.eps = nd->a.opt_eps;
            p.nesterov = nd->a.nesterov;
            s = sn_plan_add_step(plan, nd->name, kname, nd->op == SN_OP_SGD_UPDATE ? k_sgd : k_adam,
                                 &p, sizeof p, bufs, nb, 1, st);
            if (s >= 0 && sn_plan_add_grad(plan, bufs[0], bufs[1], nx, s, st)) goto fail;
            break;
        }
        case SN_OP_COUNT:
            sn_fail(st, SN_ERR_RUNTIME, "ref backend: op %s of %s is not supported here",
                    sn_op_name(nd->op), nd->name);
            goto fail;
        }
        if (s < 0) goto fail;
        (void)y;
    }
    free(tbuf);
    free(rb);
    return SN_OK;
fail:
    free(tbuf);
    free(rb);
    sn_plan_free(plan);
    return st->code;
}

sn_code sn_lower_ref(const sn_graph *g, sn_plan *plan, sn_status *st) {
    return lower_ref(g, 0, plan, st);
}

sn_code sn_lower_ref_bf16(const sn_graph *g, sn_plan *plan, sn_status *st) {
    return lower_ref(g, 1, plan, st);
}
