#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "../../../runtime/cpu/prep.h"
#include "../../../runtime/exec/pool.h"
#include "cpu_backend.h"
#include "kernels.h"
#include "lower_internal.h"

static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

sn_cpu_layout lw_blocked(lower *L, int C, int H, int W) {
    sn_cpu_layout l = {1, L->vl, C, H, W, L->halo};
    return l;
}

sn_cpu_layout lw_flat(int K) {
    sn_cpu_layout l = {0, 1, K, 1, 1, 0};
    return l;
}

/* An arena buffer holding `lay` for `images` images. */
int lw_new_act(lower *L, const char *name, const sn_cpu_layout *lay, int64_t images) {
    sn_shape s = sn_shape2(images, sn_lay_image(lay));
    int b = sn_plan_add_buffer(L->plan, name, SN_F32, &s, SN_BUF_ARENA, L->st);
    if (b >= 0) sn_lay_name(lay, L->plan->bufs[b].layout, sizeof L->plan->bufs[b].layout);
    return b;
}

int lw_weight_buf(lower *L, int t) {
    if (t < 0) return -1;
    if (L->wbuf[t] >= 0) return L->wbuf[t];
    const sn_tensor *x = &L->g->tensors[t];
    L->wbuf[t] = sn_plan_add_buffer(L->plan, x->name, x->dtype, &x->shape, SN_BUF_WEIGHT, L->st);
    return L->wbuf[t];
}

int lw_owned_buf(lower *L, const char *name, int64_t floats) {
    sn_shape s = sn_shape1(floats);
    return sn_plan_add_buffer(L->plan, name, SN_F32, &s, SN_BUF_OWNED, L->st);
}

int lw_owned_typed(lower *L, const char *name, sn_dtype dtype, int64_t n) {
    sn_shape s = sn_shape1(n);
    return sn_plan_add_buffer(L->plan, name, dtype, &s, SN_BUF_OWNED, L->st);
}

int lw_take_round(lower *L, int t) {
    if (!L->want_round || t < 0 || !L->want_round[t]) return 0;
    L->rounded[t] = 1;
    return 1;
}

static void g_conv(sn_irb *k, const void *d) {
    sn_gen_conv(k, d);
}
static void g_linear(sn_irb *k, const void *d) {
    sn_gen_linear(k, d);
}
static void g_pool(sn_irb *k, const void *d) {
    sn_gen_pool(k, d);
}
static void g_eltwise(sn_irb *k, const void *d) {
    sn_gen_eltwise(k, d);
}
static void g_reorder(sn_irb *k, const void *d) {
    sn_gen_reorder(k, d);
}
static void g_neuron(sn_irb *k, const void *d) {
    sn_gen_neuron(k, d);
}
static void g_encode(sn_irb *k, const void *d) {
    sn_gen_encode(k, d);
}
static void g_time_mean(sn_irb *k, const void *d) {
    sn_gen_time_mean(k, d);
}
static void g_scale(sn_irb *k, const void *d) {
    sn_gen_scale(k, d);
}
static void g_nir_neuron(sn_irb *k, const void *d) {
    sn_gen_nir_neuron(k, d);
}
static void g_threshold(sn_irb *k, const void *d) {
    sn_gen_threshold(k, d);
}
static void g_spike_drop(sn_irb *k, const void *d) {
    sn_gen_spike_drop(k, d);
}
static void g_loss(sn_irb *k, const void *d) {
    sn_gen_loss(k, d);
}
static void g_wino(sn_irb *k, const void *d) {
    sn_gen_wino(k, d);
}
static void g_wino_input(sn_irb *k, const void *d) {
    sn_gen_wino_input(k, d);
}

/* Generates a kernel (once per distinct descriptor); compilation is deferred to one
 * parallel batch at the end of the lowering. Returns 0 and the symbol, or -1. */
static int kernel(lower *L, const char *kind, const void *desc, size_t size, gen_fn gen,
                  char *symbol_out) {
    uint64_t key = sn_hash_str(SN_HASH_INIT, kind);
    key = sn_hash64(key, desc, size);
    key = sn_hash64(key, &L->vl, sizeof L->vl);
    for (int i = 0; i < L->nkern; i++)
        if (L->kern[i].key == key) {
            strcpy(symbol_out, L->kern[i].symbol);
            return 0;
        }
    if (!sn_grow((void **)&L->kern, &L->capkern, L->nkern + 1, sizeof *L->kern) ||
        !sn_grow((void **)&L->jobs, &L->capjobs, L->njobs + 1, sizeof *L->jobs)) {
        sn_fail(L->st, SN_ERR_RUNTIME, "out of memory");
        return -1;
    }
    kentry *e = &L->kern[L->nkern++];
    e->key = key;
    snprintf(e->symbol, sizeof e->symbol, "%s_%s_%016llx", L->prefix, kind,
             (unsigned long long)key);
    sn_strlcpy(e->kind, kind, sizeof e->kind);
    strcpy(symbol_out, e->symbol);
    sn_irb k;
    irb_begin(&k, L->jit, e->symbol, L->vl);
    gen(&k, desc);
    irb_end(&k);
    sn_jit_job *jb = &L->jobs[L->njobs++];
    memset(jb, 0, sizeof *jb);
    jb->mod = k.mod;
    jb->ctx = k.ctx;
    sn_strlcpy(jb->name, e->symbol, sizeof jb->name);
    jb->capture = L->capture;
    return 0;
}

/* Compiles every pending kernel in parallel, then resolves each step's function. */
static sn_code compile_pending(lower *L) {
    int threads = L->threads > 0 ? L->threads : 0;
    if (threads <= 0) {
        sn_pool *probe = sn_pool_create(0);
        threads = sn_pool_size(probe);
        sn_pool_destroy(probe);
    }
    sn_code c = sn_jit_compile_batch(L->jit, L->jobs, L->njobs, threads, L->st);
    for (int i = 0; i < L->njobs; i++) {
        sn_jit_job *jb = &L->jobs[i];
        if (c == SN_OK && L->art &&
            sn_grow((void **)&L->art->k, &L->art->cap, L->art->n + 1, sizeof *L->art->k)) {
            sn_cpu_kernel_info *ki = &L->art->k[L->art->n++];
            memset(ki, 0, sizeof *ki);
            sn_strlcpy(ki->symbol, jb->name, sizeof ki->symbol);
            sn_strlcpy(ki->kind, L->kern[i].kind, sizeof ki->kind);
            ki->obj = jb->obj;
            ki->obj_size = jb->obj_size;
            ki->ir = jb->ir;
            ki->asm_text = jb->asm_text;
            jb->obj = NULL;
            jb->ir = NULL;
            jb->asm_text = NULL;
        }
        free(jb->obj);
        free(jb->ir);
        free(jb->asm_text);
    }
    L->njobs = 0;
    if (c != SN_OK) return c;
    for (int i = 0; i < L->plan->nsteps; i++) {
        sn_step *s = &L->plan->steps[i];
        if (s->fn) continue;
        s->fn = (sn_cpu_fn)sn_jit_lookup(L->jit, s->kernel, L->st);
        if (!s->fn) return L->st->code;
    }
    return SN_OK;
}

int lw_step(lower *L, const char *name, const char *kind, const void *desc, size_t size, gen_fn gen,
            const int *bufs, int nbufs, int64_t ntasks, int64_t macs) {
    char sym[64];
    if (kernel(L, kind, desc, size, gen, sym) < 0) return -1;
    int s = sn_plan_add_step(L->plan, name, sym, NULL, NULL, 0, bufs, nbufs, ntasks, L->st);
    if (s >= 0) {
        L->plan->steps[s].macs = macs;
        L->plan->steps[s].flops = 2 * macs;
    }
    return s;
}

int lw_lay_eq(const sn_cpu_layout *a, const sn_cpu_layout *b) {
    return a->blocked == b->blocked && (!a->blocked || a->vl == b->vl) && a->C == b->C &&
           a->H == b->H && a->W == b->W && a->halo == b->halo;
}

/* Buffer holding tensor t in layout `want`, inserting a reorder when the producer wrote
 * another layout. */
int lw_as_layout(lower *L, int t, const sn_cpu_layout *want) {
    if (L->buf[t] < 0) {
        sn_fail(L->st, SN_ERR_RUNTIME, "internal error: tensor %s has no buffer",
                L->g->tensors[t].name);
        return -1;
    }
    if (lw_lay_eq(&L->lay[t], want)) return L->buf[t];
    if (L->u8 && L->u8[t]) {
        sn_fail(L->st, SN_ERR_RUNTIME, "internal error: u8 tensor %s read in another layout",
                L->g->tensors[t].name);
        return -1;
    }
    char name[SN_PLAN_NAME_MAX];
    char ln[32];
    sn_lay_name(want, ln, sizeof ln);
    sn_fmt(name, sizeof name, "%s@%s", L->g->tensors[t].name, ln);
    int b = sn_plan_find_buffer(L->plan, name);
    if (b >= 0) return b;
    b = lw_new_act(L, name, want, sn_tensor_images(&L->g->tensors[t]));
    if (b < 0) return -1;
    sn_reorder_desc d;
    memset(&d, 0, sizeof d);
    d.N = sn_tensor_images(&L->g->tensors[t]);
    d.src = L->lay[t];
    d.dst = *want;
    int bufs[2] = {L->buf[t], b};
    char sname[SN_PLAN_NAME_MAX];
    sn_fmt(sname, sizeof sname, "reorder %s", L->g->tensors[t].name);
    if (lw_step(L, sname, "reorder", &d, sizeof d, g_reorder, bufs, 2, sn_reorder_tasks(&d), 0) < 0)
        return -1;
    return b;
}

int lw_operand(lower *L, int t, const sn_cpu_layout *want) {
    if (!L->want_round || L->rounded[t] || L->buf[t] < 0) return lw_as_layout(L, t, want);
    /* t rounded to bf16 by a step of its own, made once per layout: the reorder into the
     * layout when one is needed (it rounds as it copies), else an elementwise step */
    char name[SN_PLAN_NAME_MAX], ln[32];
    sn_lay_name(want, ln, sizeof ln);
    sn_fmt(name, sizeof name, "%s@bf16%s", L->g->tensors[t].name, ln);
    int r = sn_plan_find_buffer(L->plan, name);
    if (r >= 0) return r;
    int64_t images = sn_tensor_images(&L->g->tensors[t]);
    int reorder = !lw_lay_eq(&L->lay[t], want) && !(L->u8 && L->u8[t]);
    int b = reorder ? L->buf[t] : lw_as_layout(L, t, want);
    if (b < 0) return -1;
    r = lw_new_act(L, name, want, images);
    if (r < 0) return -1;
    if (reorder) {
        sn_reorder_desc rd;
        memset(&rd, 0, sizeof rd);
        rd.N = images;
        rd.src = L->lay[t];
        rd.dst = *want;
        rd.round_bf16 = 1;
        int rb[2] = {b, r};
        char sname[SN_PLAN_NAME_MAX];
        sn_fmt(sname, sizeof sname, "reorder %s (bf16)", L->g->tensors[t].name);
        return lw_step(L, sname, "reorder", &rd, sizeof rd, g_reorder, rb, 2, sn_reorder_tasks(&rd),
                       0) < 0
                   ? -1
                   : r;
    }
    sn_eltwise_desc d;
    memset(&d, 0, sizeof d);
    d.N = images;
    d.lay = *want;
    d.epi.round_bf16 = 1;
    int bufs[2] = {b, r};
    char sname[SN_PLAN_NAME_MAX];
    sn_fmt(sname, sizeof sname, "round %s to bf16", L->g->tensors[t].name);
    if (lw_step(L, sname, "eltwise", &d, sizeof d, g_eltwise, bufs, 2, sn_eltwise_tasks(&d), 0) < 0)
        return -1;
    return r;
}

int lw_set_output(lower *L, int t, const sn_cpu_layout *lay) {
    int b = lw_new_act(L, L->g->tensors[t].name, lay, sn_tensor_images(&L->g->tensors[t]));
    if (b < 0) return -1;
    L->buf[t] = b;
    L->lay[t] = *lay;
    return b;
}

/* Epilogue ops of group members after the anchor; returns the bn node (or -1) and the pool. */
int lw_collect_epilogue(lower *L, const sn_group *grp, sn_epilogue *e, int *bn) {
    memset(e, 0, sizeof *e);
    *bn = -1;
    for (int i = 1; i < grp->nnodes; i++) {
        const sn_node *n = &L->g->nodes[grp->nodes[i]];
        switch (n->op) {
        case SN_OP_BATCHNORM:
            *bn = grp->nodes[i];
            break;
        case SN_OP_RELU:
            e->ops[e->nops++].kind = SN_EPI_RELU;
            break;
        case SN_OP_QUANT:
            e->ops[e->nops].kind = SN_EPI_QUANT;
            e->ops[e->nops++].q = n->a.quant;
            break;
        case SN_OP_DROPOUT:
            break;            /* identity at inference */
        case SN_OP_THRESHOLD: /* fusion rule R8 (conv groups only, last) */
            e->ops[e->nops].kind = SN_EPI_THRESHOLD;
            e->ops[e->nops++].U = n->a.U;
            break;
        case SN_OP_MAXPOOL:
        case SN_OP_AVGPOOL:
            e->pool = n->op == SN_OP_MAXPOOL ? 1 : 2;
            e->pk = n->a.kh;
            break;
        default:
            sn_fail(L->st, SN_ERR_RUNTIME, "CPU backend: op %s of %s cannot be fused here",
                    sn_op_name(n->op), n->name);
            return -1;
        }
        if (e->nops >= SN_MAX_EPI) {
            sn_fail(L->st, SN_ERR_RUNTIME, "CPU backend: group %s has too many epilogue ops",
                    grp->name);
            return -1;
        }
    }
    e->round_bf16 = lw_take_round(L, grp->out);
    return 0;
}

/* Prep step packing the weights of a conv/linear anchor (with folded bn). */
int lw_pack_weights(lower *L, const sn_node *anchor, int bn, int O, int C, int KH, int KW,
                    int winograd, int transpose, int *pw, int *pb) {
    const sn_graph *g = L->g;
    int wt = anchor->in[1];
    sn_prep_conv_params p;
    memset(&p, 0, sizeof p);
    p.O = O;
    p.C = C;
    p.KH = KH;
    p.KW = KW;
    p.vl = L->vl;
    p.winograd = winograd;
    p.transpose = transpose;
    if (g->tensors[wt].producer >= 0 && g->nodes[g->tensors[wt].producer].op == SN_OP_TERNARY) {
        const sn_node *tn = &g->nodes[g->tensors[wt].producer];
        p.ternary = 1;
        p.ternary_threshold = tn->a.ternary_threshold;
        wt = tn->in[0];
    }
    /* a data gradient packs the weights only: no bias */
    int has_bias = anchor->a.has_bias && !transpose;
    int bufs[8] = {lw_weight_buf(L, wt),
                   has_bias ? lw_weight_buf(L, anchor->in[2]) : -1,
                   -1,
                   -1,
                   -1,
                   -1,
                   -1,
                   -1};
    if (bn >= 0) {
        const sn_node *b = &g->nodes[bn];
        p.bn = 1;
        p.eps = b->a.eps;
        for (int i = 0; i < 4; i++) bufs[2 + i] = lw_weight_buf(L, b->in[1 + i]);
    }
    /* packed as a convolution with O' output channels reading C' inputs */
    int Op = transpose ? C : O, Cp = transpose ? O : C;
    int Ob = ceil_div(Op, L->vl);
    char name[SN_PLAN_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.packed_weight%s", anchor->name, transpose ? "_t" : "");
    *pw = lw_owned_buf(L, name, (int64_t)Ob * L->vl * Cp * (winograd ? 16 : KH * KW));
    sn_fmt(name, sizeof name, "%s.packed_bias%s", anchor->name, transpose ? "_t" : "");
    *pb = lw_owned_buf(L, name, (int64_t)Ob * L->vl);
    if (*pw < 0 || *pb < 0) return -1;
    bufs[6] = *pw;
    bufs[7] = *pb;
    if (bufs[0] < 0 || (has_bias && bufs[1] < 0)) return -1;
    if (bn >= 0 && (bufs[2] < 0 || bufs[3] < 0 || bufs[4] < 0 || bufs[5] < 0)) return -1;
    if (L->prec == SN_PREC_BF16) { /* the same layouts of bf16-rounded weights */
        sn_prep_conv_q_params q;
        memset(&q, 0, sizeof q);
        q.c = p;
        q.format = SN_QPACK_F32_BF16;
        int s = sn_plan_add_prep(L->plan, anchor->name, "cpu.prep_conv_q", sn_prep_conv_q, &q,
                                 sizeof q, bufs, 8, L->st);
        if (s >= 0) L->plan->prep[s].ntasks = sn_prep_conv_q_tasks(&q);
        if (s >= 0 && bn < 0) L->plan->prep[s].out_mask = 3u << 6;
        return s;
    }
    int s = sn_plan_add_prep(L->plan, anchor->name, "cpu.prep_conv", sn_prep_conv, &p, sizeof p,
                             bufs, 8, L->st);
    if (s >= 0) L->plan->prep[s].ntasks = sn_prep_conv_tasks(&p);
    /* the packed weights and bias depend on the weights alone (folded batch norm also on
     * running statistics, which ranks keep apart) */
    if (s >= 0 && bn < 0) L->plan->prep[s].out_mask = 3u << 6;
    return s;
}

/* The packed thresholds of a threshold-unit node ([Cb][U][vl], +inf in padded lanes): an
 * owned buffer filled by a prep step. Returns the buffer or -1. */
static int pack_theta(lower *L, const sn_node *n, int C) {
    char name[SN_PLAN_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.packed_theta", n->name);
    int tb = sn_plan_find_buffer(L->plan, name);
    if (tb >= 0) return tb;
    tb = lw_owned_buf(L, name, (int64_t)ceil_div(C, L->vl) * L->vl * n->a.U);
    sn_prep_theta_params p = {C, n->a.U, L->vl};
    int pbufs[2] = {lw_weight_buf(L, n->in[1]), tb};
    if (tb < 0 || pbufs[0] < 0 ||
        sn_plan_add_prep(L->plan, n->name, "cpu.pack_theta", sn_prep_theta, &p, sizeof p, pbufs, 2,
                         L->st) < 0)
        return -1;
    return tb;
}

/* A threshold-unit kernel of its own: node n reading tensor n->in[0], writing tensor out. */
static sn_code threshold_step(lower *L, const sn_node *n, const char *name, int out) {
    const sn_tensor *x = &L->g->tensors[n->in[0]];
    sn_threshold_desc d;
    memset(&d, 0, sizeof d);
    d.N = sn_tensor_images(x);
    int C, H, W;
    sn_tensor_dims(x, &C, &H, &W);
    d.lay = lw_blocked(L, C, H, W);
    d.U = n->a.U;
    int vb = lw_as_layout(L, n->in[0], &d.lay);
    if (vb < 0) return L->st->code;
    int tb = pack_theta(L, n, C);
    if (tb < 0) return L->st->code;
    int yb = lw_set_output(L, out, &d.lay);
    if (yb < 0) return L->st->code;
    int bufs[3] = {vb, tb, yb};
    return lw_step(L, name, "threshold", &d, sizeof d, g_threshold, bufs, 3, sn_threshold_tasks(&d),
                   0) < 0
               ? L->st->code
               : SN_OK;
}

/* Whether conv node n may run as the exact integer kernel at any precision: its input is
 * known to hold spike counts in [0, 255] and its weights, a plain parameter, whole numbers
 * in [-127, 127]; no batch norm to fold (it would make the weights fractional). */
static int conv_spike_int(lower *L, const sn_node *n, int bn) {
    const sn_graph *g = L->g;
    return n->a.spike_input >= 1 && n->a.spike_input <= 255 && n->a.int_weights && bn < 0 &&
           g->tensors[n->in[1]].producer < 0;
}

/* Whether tensor t holds values on a known grid of at most 256 levels from 0: quantizer
 * levels Q(k, B) (*step 2^-k), threshold-unit counts or spikes (*step 1), found through the
 * ops that keep values on it (dropout only at inference, where it is the identity). Such
 * values are exact in u8 (and in bf16). */
static int tensor_grid(const sn_graph *g, int t, int inference, float *step) {
    *step = 1.0f;
    for (int guard = 0; guard < 64 && t >= 0; guard++) {
        int p = g->tensors[t].producer;
        if (p < 0) return 0;
        const sn_node *n = &g->nodes[p];
        switch (n->op) {
        case SN_OP_QUANT: {
            int k = n->a.quant.k;
            float top = k >= 0 && k <= 7 ? floorf(n->a.quant.B * (float)(1 << k) + 0.5f) : 1e9f;
            if (!(top <= 255.0f)) return 0;
            *step = 1.0f / (float)(1 << k);
            return 1;
        }
        case SN_OP_THRESHOLD:
            return n->a.U <= 255;
        case SN_OP_NEURON:
        case SN_OP_ENCODE_POISSON:
            return 1; /* spikes 0 / 1 */
        case SN_OP_DROPOUT:
            if (!inference) return 0; /* training scales the kept values by 1 / (1 - p) */
            t = n->in[0];
            break;
        case SN_OP_MAXPOOL: /* the maximum of values on a grid is on it */
        case SN_OP_FLATTEN:
            t = n->in[0];
            break;
        default:
            return 0;
        }
    }
    return 0;
}

/* The u8 quantization of conv n's input: a known grid (exact: quantizer levels, threshold
 * counts, spikes, or the spike_input the converter declared), else the calibrated scale of
 * the input tensor. Returns 0, or -1 when neither is known. */
static int act_quant(lower *L, const sn_node *conv, float *scale, int *zero, int *exact) {
    const sn_graph *g = L->g;
    *zero = 0;
    *exact = 1;
    *scale = 1.0f;
    if (conv->a.spike_input >= 1 && conv->a.spike_input <= 255) return 0;
    if (tensor_grid(g, conv->in[0], 1, scale)) return 0; /* int8: inference only */
    *exact = 0;
    const char *name = g->tensors[conv->in[0]].name;
    for (int i = 0; i < L->nact; i++)
        if (strcmp(L->act[i].name, name) == 0 && L->act[i].scale > 0 &&
            L->act[i].scale < INFINITY && (L->act[i].zero == 0 || L->act[i].zero == 128)) {
            *scale = L->act[i].scale;
            *zero = L->act[i].zero;
            return 0;
        }
    return -1;
}

/* Prep step packing the weights of conv node n (with folded bn) in a reduced-precision
 * format (cpu.prep_conv_q); *pq receives the dequantization scales of the u8 formats. */
static int pack_weights_q(lower *L, const sn_node *n, int bn, int format, int integer,
                          float in_scale, int in_zero, int O, int C, int KH, int KW, int *pw,
                          int *pb, int *pq) {
    const sn_graph *g = L->g;
    sn_prep_conv_q_params q;
    memset(&q, 0, sizeof q);
    q.c.O = O;
    q.c.C = C;
    q.c.KH = KH;
    q.c.KW = KW;
    q.c.vl = 16;
    q.format = format;
    q.integer = integer;
    q.in_scale = in_scale;
    q.in_zero = in_zero;
    int wt = n->in[1];
    if (g->tensors[wt].producer >= 0 && g->nodes[g->tensors[wt].producer].op == SN_OP_TERNARY) {
        const sn_node *tn = &g->nodes[g->tensors[wt].producer];
        q.c.ternary = 1;
        q.c.ternary_threshold = tn->a.ternary_threshold;
        wt = tn->in[0];
    }
    int bufs[9] = {lw_weight_buf(L, wt),
                   n->a.has_bias ? lw_weight_buf(L, n->in[2]) : -1,
                   -1,
                   -1,
                   -1,
                   -1,
                   -1,
                   -1,
                   -1};
    if (bn >= 0) {
        const sn_node *b = &g->nodes[bn];
        q.c.bn = 1;
        q.c.eps = b->a.eps;
        for (int i = 0; i < 4; i++)
            if ((bufs[2 + i] = lw_weight_buf(L, b->in[1 + i])) < 0) return -1;
    }
    if (bufs[0] < 0 || (n->a.has_bias && bufs[1] < 0)) return -1;
    int u8 = format == SN_QPACK_DP_U8 || format == SN_QPACK_AMX_U8;
    int64_t Ob = ceil_div(O, 16);
    static const char *const lname[] = {"", "", "bf16 O16i2", "s8 O16i4", "bf16 amx", "s8 amx"};
    char name[SN_PLAN_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.packed_weight_%s", n->name, u8 ? "s8" : "bf16");
    int64_t bytes = sn_prep_conv_q_bytes(&q);
    *pw = lw_owned_typed(L, name, u8 ? SN_I8 : SN_BF16, u8 ? bytes : bytes / 2);
    sn_fmt(name, sizeof name, "%s.packed_bias", n->name);
    *pb = lw_owned_buf(L, name, Ob * 16);
    *pq = -1;
    if (u8) {
        sn_fmt(name, sizeof name, "%s.dequant", n->name);
        *pq = lw_owned_buf(L, name, 2 * Ob * 16);
        if (*pq < 0) return -1;
        sn_strlcpy(L->plan->bufs[*pq].layout, "scale+comp", sizeof L->plan->bufs[*pq].layout);
    }
    if (*pw < 0 || *pb < 0) return -1;
    sn_strlcpy(L->plan->bufs[*pw].layout, lname[format], sizeof L->plan->bufs[*pw].layout);
    bufs[6] = *pw;
    bufs[7] = *pb;
    bufs[8] = *pq;
    int s = sn_plan_add_prep(L->plan, n->name, "cpu.prep_conv_q", sn_prep_conv_q, &q, sizeof q,
                             bufs, 9, L->st);
    if (s >= 0) L->plan->prep[s].ntasks = sn_prep_conv_q_tasks(&q);
    return s;
}

/* Prep step packing the weights of a spike convolution for the exact integer kernel
 * (whole-number weights, as they are). */
static int pack_weights_i8(lower *L, const sn_node *n, int O, int C, int KH, int KW, int *pw,
                           int *pb) {
    sn_prep_conv_params p;
    memset(&p, 0, sizeof p);
    p.O = O;
    p.C = C;
    p.KH = KH;
    p.KW = KW;
    p.vl = L->vl;
    p.int8 = 1;
    int bufs[8] = {lw_weight_buf(L, n->in[1]),
                   n->a.has_bias ? lw_weight_buf(L, n->in[2]) : -1,
                   -1,
                   -1,
                   -1,
                   -1,
                   -1,
                   -1};
    char name[SN_PLAN_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.packed_weight_i8", n->name);
    *pw = lw_owned_typed(L, name, SN_I8, sn_conv_dp_weight_bytes(SN_DP_U8_VNNI, O, C, KH, KW));
    sn_fmt(name, sizeof name, "%s.packed_bias", n->name);
    *pb = lw_owned_buf(L, name, (int64_t)ceil_div(O, L->vl) * L->vl);
    if (*pw < 0 || *pb < 0 || bufs[0] < 0 || (n->a.has_bias && bufs[1] < 0)) return -1;
    /* int8 [Ob][ceil(C/4)][KH][KW][16][4] */
    sn_strlcpy(L->plan->bufs[*pw].layout, "s8 O16i4", sizeof L->plan->bufs[*pw].layout);
    bufs[6] = *pw;
    bufs[7] = *pb;
    int s = sn_plan_add_prep(L->plan, n->name, "cpu.prep_conv", sn_prep_conv, &p, sizeof p, bufs, 8,
                             L->st);
    if (s >= 0) L->plan->prep[s].ntasks = sn_prep_conv_tasks(&p);
    return s;
}

static void g_conv_dp(sn_irb *k, const void *d) {
    sn_gen_conv_dp(k, d);
}
static void g_conv_amx(sn_irb *k, const void *d) {
    sn_gen_conv_amx(k, d);
}

/* int8: whether conv node n will run as an int8 dot-product kernel that can read its input
 * as a u8 map (lower_conv's choice for it: no AMX; a u8 input needs no scratch, so a tile
 * always exists). */
static int conv_reads_u8(lower *L, const sn_node *n) {
    float s;
    int z, e;
    return n->op == SN_OP_CONV2D && L->prec == SN_PREC_INT8 && L->vl == 16 &&
           (L->path == SN_PATH_I8_VNNI || L->path == SN_PATH_I8_EMU) && n->a.kh * n->a.kw <= 64 &&
           act_quant(L, n, &s, &z, &e) == 0;
}

/* int8: whether the output t of an int8 convolution is stored as a u8 map quantized for its
 * readers (every reader an int8 convolution reading it as its input with the same
 * scale, t not the plan's output); fills the epilogue's store fields. */
static int requantize_output(lower *L, int t, sn_epilogue *e) {
    const sn_graph *g = L->g;
    if (t == g->output || sn_epi_threshold_units(e)) return 0;
    int readers = 0;
    float scale = 0;
    int zero = 0;
    for (int i = 0; i < g->nnodes; i++) {
        const sn_node *n = &g->nodes[i];
        for (int j = 0; j < n->nin; j++) {
            if (n->in[j] != t) continue;
            float s;
            int z, ex;
            if (j != 0 || !conv_reads_u8(L, n) || act_quant(L, n, &s, &z, &ex) != 0) return 0;
            if (readers && (s != scale || z != zero)) return 0;
            scale = s;
            zero = z;
            readers++;
        }
    }
    if (readers == 0) return 0;
    e->store_u8 = 1;
    e->store_mul = 1.0f / scale;
    e->store_zero = zero;
    return 1;
}

/* The kernels a convolution can get. */
enum { CK_FP32 = 0, CK_DP_SPIKE, CK_DP_U8, CK_DP_BF16, CK_AMX };

/* A direct convolution step: its tile, and the arithmetic it executes (macs: the layer's). */
static sn_code direct_conv_step(lower *L, const char *name, sn_conv_desc *d, const int *bufs,
                                int nbufs, int64_t macs) {
    sn_conv_choose_tile(d, L->nregs);
    int s = lw_step(L, name, "conv", d, sizeof *d, g_conv, bufs, nbufs, sn_conv_tasks(d), macs);
    if (s < 0) return L->st->code;
    L->plan->steps[s].flops = 2 * sn_conv_executed_macs(d);
    return SN_OK;
}

static sn_code lower_conv(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]], *y0 = &g->tensors[n->out[0]];
    sn_conv_dp_desc q;
    memset(&q, 0, sizeof q);
    sn_conv_desc *d = &q.c;
    d->N = g->batch;
    int C, H, W;
    sn_tensor_dims(x, &C, &H, &W);
    for (int i = 0; i < x->lead - 1; i++) d->N *= x->shape.d[i]; /* T x N for spiking graphs */
    d->O = (int)y0->shape.d[y0->lead];
    d->OH = (int)y0->shape.d[y0->lead + 1];
    d->OW = (int)y0->shape.d[y0->lead + 2];
    d->KH = n->a.kh;
    d->KW = n->a.kw;
    d->SH = n->a.sh;
    d->SW = n->a.sw;
    d->PH = n->a.ph;
    d->PW = n->a.pw;
    int bn;
    if (lw_collect_epilogue(L, grp, &d->epi, &bn)) return L->st->code;
    int pk = d->epi.pool ? d->epi.pk : 1;
    d->out = lw_blocked(L, d->O, d->OH / pk, d->OW / pk);
    /* threshold units in the epilogue (fusion rule R8): always its last op */
    int thr = sn_group_find(g, grp, SN_OP_THRESHOLD);
    /* the kernel: a dot-product kernel (16 lanes, no mask) where the precision or the layer
     * asks for one and its scratch fits, else the fp32 kernels */
    int kind = CK_FP32, integer = conv_spike_int(L, n, bn), in_zero = 0, exact = 0;
    float in_scale = 1.0f;
    int dp_ok = L->vl == 16 && !d->epi.mask && d->KH * d->KW <= 64;
    if (dp_ok && L->prec == SN_PREC_INT8 &&
        (L->path == SN_PATH_I8_VNNI || L->path == SN_PATH_I8_EMU || L->path == SN_PATH_I8_AMX) &&
        act_quant(L, n, &in_scale, &in_zero, &exact) == 0) {
        kind = CK_DP_U8;
        q.kind = L->path == SN_PATH_I8_EMU ? SN_DP_U8_EMU : SN_DP_U8_VNNI;
        q.in_mul = 1.0f / in_scale;
        q.in_zero = in_zero;
        q.dequant = 1;
    } else if (dp_ok && integer && sn_jit_vnni(L->jit)) {
        kind = CK_DP_SPIKE; /* exact at every precision */
        q.kind = SN_DP_U8_VNNI;
        q.in_mul = 1.0f;
    } else if (dp_ok && L->prec == SN_PREC_BF16 &&
               (L->path == SN_PATH_BF16_DP || L->path == SN_PATH_BF16_AMX ||
                (L->dp_too && !lw_conv_uses_wino(L, d)))) {
        kind = CK_DP_BF16;
        q.kind = SN_DP_BF16;
    }
    sn_conv_amx_desc am;
    memset(&am, 0, sizeof am);
    if (kind != CK_FP32) {
        d->in = lw_blocked(L, C, H, W);
        /* AMX takes the stride-1 layers of its precision's plans */
        if ((kind == CK_DP_U8 && L->path == SN_PATH_I8_AMX) ||
            (kind == CK_DP_BF16 && L->path == SN_PATH_BF16_AMX)) {
            am.c = *d;
            am.u8 = kind == CK_DP_U8;
            am.in_mul = q.in_mul;
            am.in_zero = q.in_zero;
            am.dequant = q.dequant;
            if (sn_conv_amx_choose(&am) == 0) kind = CK_AMX;
        }
        /* int8 reading an int8 convolution's u8 output: no conversion */
        if (kind == CK_DP_U8 && L->u8 && L->u8[n->in[0]]) q.in_u8 = 1;
        if (kind != CK_AMX && sn_conv_dp_choose_tile(&q) != 0) kind = CK_FP32;
    }
    if (L->u8 && L->u8[n->in[0]] && !q.in_u8)
        return sn_fail(L->st, SN_ERR_RUNTIME,
                       "internal error: %s reads the u8 map %s but is not an int8 kernel", n->name,
                       x->name);
    /* input: a small-channel plain map is read directly (with a halo), otherwise blocked */
    const sn_cpu_layout *xl = &L->lay[n->in[0]];
    sn_cpu_layout want;
    if (kind == CK_FP32 && !xl->blocked && C < L->vl)
        want = (sn_cpu_layout){0, 1, C, H, W, L->halo};
    else
        want = lw_blocked(L, C, H, W);
    /* the dot-product kernels quantize or round their input themselves */
    int xb = kind == CK_FP32 ? lw_operand(L, n->in[0], &want) : lw_as_layout(L, n->in[0], &want);
    if (xb < 0) return L->st->code;
    d->in = want;
    int64_t macs = sn_node_macs(g, grp->nodes[0]);
    int pw, pb, pq = -1;
    if (kind == CK_AMX) {
        if (pack_weights_q(L, n, bn, am.u8 ? SN_QPACK_AMX_U8 : SN_QPACK_AMX_BF16, integer, in_scale,
                           in_zero, d->O, C, d->KH, d->KW, &pw, &pb, &pq) < 0)
            return L->st->code;
    } else if (kind == CK_DP_U8) {
        if (pack_weights_q(L, n, bn, SN_QPACK_DP_U8, integer, in_scale, in_zero, d->O, C, d->KH,
                           d->KW, &pw, &pb, &pq) < 0)
            return L->st->code;
    } else if (kind == CK_DP_BF16) {
        if (pack_weights_q(L, n, bn, SN_QPACK_DP_BF16, 0, 1.0f, 0, d->O, C, d->KH, d->KW, &pw, &pb,
                           &pq) < 0)
            return L->st->code;
    } else if (kind == CK_DP_SPIKE) {
        if (pack_weights_i8(L, n, d->O, C, d->KH, d->KW, &pw, &pb) < 0) return L->st->code;
    } else {
        int wino = lw_conv_uses_wino(L, d);
        if (lw_pack_weights(L, n, bn, d->O, C, d->KH, d->KW, wino, 0, &pw, &pb) < 0)
            return L->st->code;
        if (thr >= 0 && wino) {
            /* Winograd has no threshold epilogue: the convolution writes the membrane
             * potential, a threshold-unit kernel of its own counts */
            const sn_node *tn = &g->nodes[thr];
            d->epi.nops--;
            if (d->epi.round_bf16) { /* the counts are stored by the threshold step */
                d->epi.round_bf16 = 0;
                L->rounded[grp->out] = 0;
            }
            int vb = lw_set_output(L, tn->in[0], &d->out);
            if (vb < 0) return L->st->code;
            if (lw_conv_kernel(L, grp->name, d, xb, pw, pb, vb, -1, macs) != SN_OK)
                return L->st->code;
            char name[SN_PLAN_NAME_MAX];
            sn_fmt(name, sizeof name, "%s (threshold units)", grp->name);
            return threshold_step(L, tn, name, grp->out);
        }
    }
    int tb = thr >= 0 ? pack_theta(L, &g->nodes[thr], d->O) : -1;
    if (thr >= 0 && tb < 0) return L->st->code;
    int yb;
    if (kind == CK_DP_U8 && L->u8 && requantize_output(L, grp->out, &d->epi)) {
        /* requantized for its int8 readers in the epilogue: a u8 map, one byte a lane */
        const sn_tensor *yt = &g->tensors[grp->out];
        sn_shape s = sn_shape2(sn_tensor_images(yt), sn_lay_image(&d->out));
        yb = sn_plan_add_buffer(L->plan, yt->name, SN_U8, &s, SN_BUF_ARENA, L->st);
        if (yb < 0) return L->st->code;
        sn_lay_name(&d->out, L->plan->bufs[yb].layout, sizeof L->plan->bufs[yb].layout);
        L->buf[grp->out] = yb;
        L->lay[grp->out] = d->out;
        L->u8[grp->out] = 1;
    } else {
        yb = lw_set_output(L, grp->out, &d->out);
    }
    if (yb < 0) return L->st->code;
    if (kind == CK_FP32 && thr < 0)
        return lw_conv_kernel(L, grp->name, d, xb, pw, pb, yb, -1, macs);
    if (kind == CK_FP32) {
        /* ptrs: input, weights, bias, output, (mask: none), thresholds */
        int bufs[6] = {xb, pw, pb, yb, -1, tb};
        return direct_conv_step(L, grp->name, d, bufs, 6, macs);
    }
    /* ptrs: input, weights, bias, output, dequantization scales, thresholds */
    int bufs[6] = {xb, pw, pb, yb, pq, tb};
    if (kind == CK_AMX) {
        am.c = *d;
        return lw_step(L, grp->name, "conv_amx", &am, sizeof am, g_conv_amx, bufs, 6,
                       sn_conv_amx_tasks(&am), macs) < 0
                   ? L->st->code
                   : SN_OK;
    }
    const char *kname = kind == CK_DP_BF16 ? "conv_bf16" : "conv_i8";
    return lw_step(L, grp->name, kname, &q, sizeof q, g_conv_dp, bufs, 6, sn_conv_tasks(d), macs) <
                   0
               ? L->st->code
               : SN_OK;
}

/* Winograd F(2x2,3x3) does 4/9 of the multiplies but reads 16/9 of the weight bytes. With
 * few 2x2 output tiles per weight (a small batch of small maps: VGG16's 4x4 and 2x2 layers at
 * batch 1) a layer is bound by reading its weights and the direct kernel is faster (when this
 * rule came in, VGG16 at batch 1 went from about 9 ms to 6 on the 2-core Xeon of
 * bench/RESULTS.md; direct everywhere was about 7.5), and VGG16 packs 63 MiB of weights
 * instead of 102. Its 4x4 layers take Winograd again from batch 2, its 2x2 ones from batch 8
 * (batch 64 is unchanged). */
#define WINO_MIN_TILES 8

int lw_conv_uses_wino(lower *L, const sn_conv_desc *d) {
    int64_t tiles = d->N * (int64_t)(d->OH / 2) * (d->OW / 2);
    return L->algo != ALGO_DIRECT && sn_wino_applies(d) && d->in.C >= L->vl &&
           tiles >= WINO_MIN_TILES;
}

sn_code lw_conv_kernel(lower *L, const char *name, sn_conv_desc *d, int xb, int pw, int pb, int yb,
                       int mask_buf, int64_t macs) {
    int C = d->in.C;
    if (lw_conv_uses_wino(L, d)) {
        sn_wino_desc w;
        memset(&w, 0, sizeof w);
        w.c = *d;
        sn_wino_choose(&w, L->vl);
        int src = xb;
        if (!w.fused_input) { /* transform the whole batch's input first */
            char bname[SN_PLAN_NAME_MAX];
            sn_fmt(bname, sizeof bname, "%s.winograd_input", name);
            sn_shape vs = sn_shape1(sn_wino_v_floats(&w));
            src = sn_plan_add_buffer(L->plan, bname, SN_F32, &vs, SN_BUF_ARENA, L->st);
            if (src < 0) return L->st->code;
            sn_strlcpy(L->plan->bufs[src].layout, "wino16", sizeof L->plan->bufs[src].layout);
            int ib[2] = {xb, src};
            sn_fmt(bname, sizeof bname, "%s (input transform)", name);
            if (lw_step(L, bname, "wino_input", &w, sizeof w, g_wino_input, ib, 2,
                        sn_wino_input_tasks(&w), 0) < 0)
                return L->st->code;
        }
        int bufs[5] = {src, pw, pb, yb, mask_buf};
        int s = lw_step(L, name, "wino", &w, sizeof w, g_wino, bufs, mask_buf >= 0 ? 5 : 4,
                        sn_wino_tasks(&w), macs);
        if (s < 0) return L->st->code;
        /* executed arithmetic: 16 products per tile and channel pair (macs keeps the
         * direct-convolution count the layer stands for) */
        L->plan->steps[s].flops = 2 * 16 * sn_wino_tiles(&w) * (int64_t)C * d->O;
        return SN_OK;
    }
    int bufs[5] = {xb, pw, pb, yb, mask_buf};
    return direct_conv_step(L, name, d, bufs, mask_buf >= 0 ? 5 : 4, macs);
}

static sn_code lower_linear(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]], *w = &g->tensors[n->in[1]];
    sn_linear_desc d;
    memset(&d, 0, sizeof d);
    d.N = sn_tensor_images(x);
    d.K = (int)w->shape.d[1];
    d.M = (int)w->shape.d[0];
    d.vl = L->vl;
    int bn;
    if (lw_collect_epilogue(L, grp, &d.epi, &bn)) return L->st->code;
    sn_cpu_layout want = lw_flat(d.K);
    int xb = lw_operand(L, n->in[0], &want);
    if (xb < 0) return L->st->code;
    sn_linear_choose_tile(&d, L->nregs);
    int pw, pb;
    if (lw_pack_weights(L, n, bn, d.M, d.K, 1, 1, 0, 0, &pw, &pb) < 0) return L->st->code;
    sn_cpu_layout out = lw_flat(d.M);
    int yb = lw_set_output(L, grp->out, &out);
    if (yb < 0) return L->st->code;
    int bufs[4] = {xb, pw, pb, yb};
    return lw_step(L, grp->name, "linear", &d, sizeof d, g_linear, bufs, 4, sn_linear_tasks(&d),
                   sn_node_macs(g, grp->nodes[0])) < 0
               ? L->st->code
               : SN_OK;
}

static sn_code lower_eltwise(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]];
    sn_eltwise_desc d;
    memset(&d, 0, sizeof d);
    d.N = sn_tensor_images(x);
    int C, H, W;
    sn_tensor_dims(x, &C, &H, &W);
    /* the anchor is an op too: treat the whole group as an epilogue */
    sn_group all = *grp;
    memmove(all.nodes + 1, all.nodes, sizeof(int) * (size_t)grp->nnodes);
    all.nnodes = grp->nnodes + 1;
    int bn;
    if (lw_collect_epilogue(L, &all, &d.epi, &bn)) return L->st->code;
    sn_cpu_layout want = L->lay[n->in[0]];
    if (!want.blocked && !(H == 1 && W == 1) && want.halo > 0) want = lw_blocked(L, C, H, W);
    int xb = lw_as_layout(L, n->in[0], &want);
    if (xb < 0) return L->st->code;
    d.lay = want;
    int bufs[4] = {xb, -1, -1, -1};
    if (bn >= 0) {
        const sn_node *b = &g->nodes[bn];
        d.affine = 1;
        int padded = ceil_div(C, L->vl) * L->vl;
        char name[SN_PLAN_NAME_MAX];
        sn_fmt(name, sizeof name, "%s.scale", b->name);
        int sc = lw_owned_buf(L, name, padded);
        sn_fmt(name, sizeof name, "%s.shift_center", b->name); /* beta, mean hi, lo */
        int sh = lw_owned_buf(L, name, 3 * (int64_t)padded);
        int pbufs[6] = {lw_weight_buf(L, b->in[1]),
                        lw_weight_buf(L, b->in[2]),
                        lw_weight_buf(L, b->in[3]),
                        lw_weight_buf(L, b->in[4]),
                        sc,
                        sh};
        sn_prep_bn_params p = {C, L->vl, b->a.eps};
        if (sc < 0 || sh < 0 ||
            sn_plan_add_prep(L->plan, b->name, "cpu.prep_bn", sn_prep_bn, &p, sizeof p, pbufs, 6,
                             L->st) < 0)
            return L->st->code;
        bufs[2] = sc;
        bufs[3] = sh;
    }
    int yb = lw_set_output(L, grp->out, &want);
    if (yb < 0) return L->st->code;
    bufs[1] = yb;
    return lw_step(L, grp->name, "eltwise", &d, sizeof d, g_eltwise, bufs, d.affine ? 4 : 2,
                   sn_eltwise_tasks(&d), 0) < 0
               ? L->st->code
               : SN_OK;
}

static sn_code lower_single(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = n->nin ? &g->tensors[n->in[0]] : NULL;
    switch (n->op) {
    case SN_OP_TERNARY:
        return SN_OK; /* folded into the consumer's weight packing */
    case SN_OP_MAXPOOL:
    case SN_OP_AVGPOOL:
    case SN_OP_SUMPOOL: {
        if (n->a.spike_gate) { /* a plain-C step (sn_spike_maxpool), as in the reference */
            const sn_tensor *y = &g->tensors[n->out[0]];
            int C, H, W;
            sn_tensor_dims(x, &C, &H, &W);
            sn_spike_pool_params p;
            memset(&p, 0, sizeof p);
            p.T = (int)x->shape.d[0];
            p.N = sn_tensor_images(x) / p.T;
            p.KH = n->a.kh;
            p.KW = n->a.kw;
            p.SH = n->a.sh;
            p.SW = n->a.sw;
            p.PH = n->a.ph;
            p.PW = n->a.pw;
            p.stateful = n->a.stateful;
            p.in = L->lay[n->in[0]];
            p.out = lw_blocked(L, C, (int)y->shape.d[y->lead + 1], (int)y->shape.d[y->lead + 2]);
            char name[SN_PLAN_NAME_MAX];
            sn_fmt(name, sizeof name, "%s.counts", n->name);
            int bufs[3] = {L->buf[n->in[0]], lw_set_output(L, grp->out, &p.out),
                           lw_owned_buf(L, name, p.N * sn_lay_image(&p.in))};
            if (bufs[0] < 0 || bufs[1] < 0 || bufs[2] < 0) return L->st->code;
            (void)H;
            (void)W;
            return sn_plan_add_step(L->plan, grp->name, "cpu.spike_maxpool", sn_spike_maxpool, &p,
                                    sizeof p, bufs, 3, p.N, L->st) < 0
                       ? L->st->code
                       : SN_OK;
        }
        sn_pool_desc d;
        memset(&d, 0, sizeof d);
        d.N = sn_tensor_images(x);
        int C, H, W;
        sn_tensor_dims(x, &C, &H, &W);
        const sn_tensor *y = &g->tensors[n->out[0]];
        d.in = lw_blocked(L, C, H, W);
        d.out = lw_blocked(L, C, (int)y->shape.d[y->lead + 1], (int)y->shape.d[y->lead + 2]);
        d.max = n->op == SN_OP_MAXPOOL;
        d.sum = n->op == SN_OP_SUMPOOL;
        d.KH = n->a.kh;
        d.KW = n->a.kw;
        d.SH = n->a.sh;
        d.SW = n->a.sw;
        d.PH = n->a.ph;
        d.PW = n->a.pw;
        d.epi.round_bf16 = lw_take_round(L, grp->out);
        int xb = lw_as_layout(L, n->in[0], &d.in);
        if (xb < 0) return L->st->code;
        int yb = lw_set_output(L, grp->out, &d.out);
        if (yb < 0) return L->st->code;
        int bufs[2] = {xb, yb};
        return lw_step(L, grp->name, "pool", &d, sizeof d, g_pool, bufs, 2, sn_pool_tasks(&d), 0) <
                       0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_FLATTEN: {
        const sn_tensor *y = &g->tensors[n->out[0]];
        sn_reorder_desc d;
        memset(&d, 0, sizeof d);
        d.N = sn_tensor_images(x);
        d.src = L->lay[n->in[0]];
        d.dst = lw_flat((int)y->shape.d[y->lead]);
        d.flatten = 1;
        d.round_bf16 = lw_take_round(L, grp->out);
        if (L->buf[n->in[0]] < 0)
            return sn_fail(L->st, SN_ERR_RUNTIME, "internal error: flatten input has no buffer");
        int bufs[2] = {L->buf[n->in[0]], -1};
        int yb = lw_set_output(L, grp->out, &d.dst);
        if (yb < 0) return L->st->code;
        bufs[1] = yb;
        return lw_step(L, grp->name, "flatten", &d, sizeof d, g_reorder, bufs, 2,
                       sn_reorder_tasks(&d), 0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_ENCODE_POISSON:
    case SN_OP_ENCODE_DIRECT: {
        sn_encode_desc d;
        memset(&d, 0, sizeof d);
        d.T = n->a.T;
        d.poisson = n->op == SN_OP_ENCODE_POISSON;
        d.scale = n->a.input_scale;
        d.stream = sn_hash_str(SN_HASH_INIT, n->name); /* as the reference backend */
        sn_cpu_layout lay = L->lay[n->in[0]];
        lay.halo = 0; /* encoders index the elements densely, as the reference */
        int xb = lw_as_layout(L, n->in[0], &lay);
        if (xb < 0) return L->st->code;
        d.M = sn_tensor_images(x) * sn_lay_image(&lay);
        d.image = sn_lay_image(&lay);
        int yb = lw_set_output(L, grp->out, &lay);
        if (yb < 0) return L->st->code;
        int bufs[2] = {xb, yb};
        return lw_step(L, grp->name, "encode", &d, sizeof d, g_encode, bufs, 2, sn_encode_tasks(&d),
                       0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_SPIKE_DROP: {
        /* dense NCHW order, so element i is the reference's element i */
        int C, H, W;
        sn_tensor_dims(x, &C, &H, &W);
        sn_cpu_layout plain = {0, 1, C, H, W, 0};
        int xb = lw_as_layout(L, n->in[0], &plain);
        if (xb < 0) return L->st->code;
        sn_spike_drop_desc d;
        memset(&d, 0, sizeof d);
        d.M = sn_tensor_images(x) * sn_lay_image(&plain);
        d.U = n->a.U;
        d.p = n->a.p;
        d.stream = n->a.stream;
        int yb = lw_set_output(L, grp->out, &plain);
        if (yb < 0) return L->st->code;
        int bufs[2] = {xb, yb};
        return lw_step(L, grp->name, "spike_drop", &d, sizeof d, g_spike_drop, bufs, 2,
                       sn_spike_drop_tasks(&d), 0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_SCALE: {
        /* plain NCHW without halo: element e of an image is entry e of the scale array */
        int C, H, W;
        sn_tensor_dims(x, &C, &H, &W);
        sn_cpu_layout plain = {0, 1, C, H, W, 0};
        int xb = lw_as_layout(L, n->in[0], &plain);
        if (xb < 0) return L->st->code;
        sn_scale_desc d = {sn_tensor_images(x), (int64_t)C * H * W};
        int bufs[3] = {xb, lw_weight_buf(L, n->in[1]), lw_set_output(L, grp->out, &plain)};
        if (bufs[1] < 0 || bufs[2] < 0) return L->st->code;
        return lw_step(L, grp->name, "scale", &d, sizeof d, g_scale, bufs, 3, sn_scale_tasks(&d),
                       0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_NIR_NEURON: {
        int C, H, W;
        sn_tensor_dims(x, &C, &H, &W);
        sn_cpu_layout plain = {0, 1, C, H, W, 0};
        int xb = lw_as_layout(L, n->in[0], &plain);
        if (xb < 0) return L->st->code;
        sn_nir_neuron_desc d;
        memset(&d, 0, sizeof d);
        d.T = x->lead == 2 ? (int)x->shape.d[0] : 1;
        d.N = sn_tensor_images(x) / d.T;
        d.E = (int64_t)C * H * W;
        d.p = n->a.nir;
        d.stateful = n->a.stateful;
        d.record = n->nout > 1;
        int bufs[9] = {xb, -1, -1, -1, -1, -1, -1, -1, -1};
        int slot = 1; /* the parameter arrays follow x among the node's inputs */
        for (int k = 0; k < SN_NIRP_COUNT; k++) {
            if (!sn_nir_neuron_uses(&d.p, k)) continue;
            int wb = lw_weight_buf(L, n->in[slot++]);
            if (wb < 0) return L->st->code;
            if (k == SN_NIRP_TAU) { /* the kernel reads leak factors, made once per binding */
                char name[SN_PLAN_NAME_MAX];
                sn_fmt(name, sizeof name, "%s.leak", n->name);
                int kb = lw_owned_buf(L, name, d.E);
                sn_prep_nir_leak_params pp = {d.E, d.p.dt, d.p.exact};
                int pbufs[2] = {wb, kb};
                if (kb < 0 ||
                    sn_plan_add_prep(L->plan, n->name, "cpu.prep_nir_leak", sn_prep_nir_leak, &pp,
                                     sizeof pp, pbufs, 2, L->st) < 0)
                    return L->st->code;
                bufs[2] = kb;
            } else {
                bufs[2 + k] = wb;
            }
        }
        if ((bufs[1] = lw_set_output(L, grp->out, &plain)) < 0) return L->st->code;
        if (d.record && (bufs[8] = lw_set_output(L, n->out[1], &plain)) < 0) return L->st->code;
        if (d.stateful) {
            char name[SN_PLAN_NAME_MAX];
            sn_fmt(name, sizeof name, "%s.state", n->name);
            if ((bufs[7] = lw_owned_buf(L, name, d.N * d.E + L->vl)) < 0) return L->st->code;
        }
        return lw_step(L, grp->name, "nir_neuron", &d, sizeof d, g_nir_neuron, bufs, 9,
                       sn_nir_neuron_tasks(&d), 0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_NEURON:
    case SN_OP_TIME_MEAN: {
        if (L->buf[n->in[0]] < 0)
            return sn_fail(L->st, SN_ERR_RUNTIME, "internal error: no input buffer");
        sn_cpu_layout lay = L->lay[n->in[0]];
        int T = (int)x->shape.d[0];
        int64_t M = sn_tensor_images(x) / T * sn_lay_image(&lay);
        int record = n->op == SN_OP_NEURON && n->nout > 1;
        int bufs[4] = {L->buf[n->in[0]], lw_set_output(L, grp->out, &lay), -1, -1};
        if (bufs[1] < 0) return L->st->code;
        if (record && (bufs[2] = lw_set_output(L, n->out[1], &lay)) < 0) return L->st->code;
        if (n->a.stateful) { /* step-major: state kept between runs, padded to whole vectors */
            char name[SN_PLAN_NAME_MAX];
            sn_fmt(name, sizeof name, "%s.state", n->name);
            int64_t per = n->op == SN_OP_NEURON ? 1 : 2; /* floats per element */
            if ((bufs[2 + record] = lw_owned_buf(L, name, per * (M + L->vl))) < 0)
                return L->st->code;
        }
        if (n->op == SN_OP_NEURON) {
            sn_neuron_desc d;
            memset(&d, 0, sizeof d);
            d.T = T;
            d.M = M;
            d.p = n->a.neuron;
            d.stateful = n->a.stateful;
            d.record = record;
            return lw_step(L, grp->name, "neuron", &d, sizeof d, g_neuron, bufs,
                           2 + record + d.stateful, sn_neuron_tasks(&d), 0) < 0
                       ? L->st->code
                       : SN_OK;
        }
        sn_time_mean_desc d;
        memset(&d, 0, sizeof d);
        d.T = n->a.stateful ? n->a.T : T;
        d.M = M;
        d.stateful = n->a.stateful;
        return lw_step(L, grp->name, "time_mean", &d, sizeof d, g_time_mean, bufs,
                       d.stateful ? 3 : 2, sn_time_mean_tasks(&d), 0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_THRESHOLD:
        return threshold_step(L, n, grp->name, grp->out);
    case SN_OP_SOFTMAX_CE:
    case SN_OP_MSE_ONEHOT: {
        sn_loss_desc d;
        memset(&d, 0, sizeof d);
        d.N = x->shape.d[0];
        d.K = (int)x->shape.d[1];
        d.mse = n->op == SN_OP_MSE_ONEHOT;
        d.smoothing = n->a.label_smoothing;
        if (d.K > 1024)
            return sn_fail(L->st, SN_ERR_INPUT,
                           "the CPU loss kernel supports at most 1024 classes");
        sn_cpu_layout want = lw_flat(d.K);
        int xb = lw_as_layout(L, n->in[0], &want);
        if (xb < 0) return L->st->code;
        if (L->buf[n->in[1]] < 0)
            return sn_fail(L->st, SN_ERR_RUNTIME, "internal error: labels have no buffer");
        sn_shape sc = sn_shape_make(0, NULL);
        int lb = sn_plan_add_buffer(L->plan, g->tensors[grp->out].name, SN_F32, &sc, SN_BUF_ARENA,
                                    L->st);
        if (lb < 0) return L->st->code;
        L->buf[grp->out] = lb;
        int bufs[3] = {xb, L->buf[n->in[1]], lb};
        return lw_step(L, grp->name, "loss", &d, sizeof d, g_loss, bufs, 3, 1, 0) < 0 ? L->st->code
                                                                                      : SN_OK;
    }
    default:
        return sn_fail(L->st, SN_ERR_RUNTIME, "the CPU backend has no kernel for op %s (%s)",
                       sn_op_name(n->op), n->name);
    }
}

sn_code sn_lower_cpu(const sn_graph *g, const sn_groups *gs, sn_jit *jit,
                     const sn_cpu_options *opts, sn_plan *plan, sn_cpu_artifacts *art,
                     sn_status *st) {
    double t0 = sn_now();
    sn_plan_init(plan);
    sn_strlcpy(plan->backend, "cpu", sizeof plan->backend);
    sn_strlcpy(plan->model, g->model, sizeof plan->model);
    plan->batch = g->batch;
    plan->T = g->T;
    plan->step_major = g->step_major;
    plan->num_classes = g->num_classes;
    lower L;
    memset(&L, 0, sizeof L);
    sn_groups cpu_gs; /* gs with fusion rule R8 applied */
    memset(&cpu_gs, 0, sizeof cpu_gs);
    L.g = g;
    L.gs = gs;
    L.jit = jit;
    L.plan = plan;
    L.st = st;
    L.art = art;
    L.capture = opts ? opts->capture : SN_CAPTURE_NONE;
    L.prefix = opts && opts->symbol_prefix ? opts->symbol_prefix : "snk";
    L.vl = sn_jit_vector_width(jit);
    L.nregs = sn_jit_isa(jit) == SN_ISA_AVX512 ? 32 : 16;
    L.prec = opts ? opts->precision : SN_PREC_FP32;
    L.path = sn_cpu_path(jit, L.prec, &L.dp_too);
    L.act = opts ? opts->act : NULL;
    L.nact = opts ? opts->nact : 0;
    {
        /* SNNC_CONV=direct turns Winograd off (for comparisons and tests) */
        const char *algo = getenv("SNNC_CONV");
        L.algo = (algo && strcmp(algo, "direct") == 0) || (opts && opts->direct_conv) ? ALGO_DIRECT
                                                                                      : ALGO_AUTO;
    }
    for (int i = 0; i < g->nnodes; i++)
        if (g->nodes[i].op == SN_OP_CONV2D) {
            if (g->nodes[i].a.ph > L.halo) L.halo = g->nodes[i].a.ph;
            if (g->nodes[i].a.pw > L.halo) L.halo = g->nodes[i].a.pw;
        } else if (g->nodes[i].op == SN_OP_CONV2D_BWD_DATA && g->nodes[i].a.sh == 1 &&
                   g->nodes[i].a.sw == 1) {
            /* the stride-1 data gradient is a convolution with padding k - 1 - p */
            const sn_attrs *a = &g->nodes[i].a;
            if (a->kh - 1 - a->ph > L.halo) L.halo = a->kh - 1 - a->ph;
            if (a->kw - 1 - a->pw > L.halo) L.halo = a->kw - 1 - a->pw;
        }
    L.buf = sn_calloc((size_t)g->ntensors, sizeof(int));
    L.wbuf = sn_calloc((size_t)g->ntensors, sizeof(int));
    L.lay = sn_calloc((size_t)g->ntensors, sizeof(sn_cpu_layout));
    if (!L.buf || !L.wbuf || !L.lay) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    for (int t = 0; t < g->ntensors; t++) L.buf[t] = L.wbuf[t] = -1;
    if (L.prec == SN_PREC_INT8 && !(L.u8 = sn_calloc((size_t)g->ntensors, 1))) {
        sn_fail(st, SN_ERR_RUNTIME, "out of memory");
        goto fail;
    }
    if (L.prec == SN_PREC_BF16) { /* the data operands of convolutions and linear layers */
        L.want_round = sn_calloc((size_t)g->ntensors, 1);
        L.rounded = sn_calloc((size_t)g->ntensors, 1);
        if (!L.want_round || !L.rounded) {
            sn_fail(st, SN_ERR_RUNTIME, "out of memory");
            goto fail;
        }
        for (int i = 0; i < g->nnodes; i++) {
            const sn_node *n = &g->nodes[i];
            switch (n->op) {
            case SN_OP_CONV2D:
            case SN_OP_LINEAR:
            case SN_OP_CONV2D_BWD_DATA:
            case SN_OP_LINEAR_BWD_DATA:
                L.want_round[n->in[0]] = 1;
                break;
            case SN_OP_CONV2D_BWD_WEIGHT:
            case SN_OP_LINEAR_BWD_WEIGHT:
                L.want_round[n->in[0]] = L.want_round[n->in[1]] = 1;
                break;
            default:
                break;
            }
        }
        /* values on a grid of at most 256 levels (quantizer levels, spikes, counts) are bf16
         * numbers already: nothing to round */
        for (int t = 0; t < g->ntensors; t++) {
            float step;
            if (L.want_round[t] && tensor_grid(g, t, 0, &step)) L.want_round[t] = 0;
        }
    }
    /* threshold units join the convolution before them: its kernels have the epilogue */
    if (sn_fuse_thresholds(g, gs, &cpu_gs, st)) goto fail;
    gs = L.gs = &cpu_gs;
    {
        const sn_tensor *x = &g->tensors[g->input];
        int C, H, W;
        sn_tensor_dims(x, &C, &H, &W);
        sn_cpu_layout in = {0, 1, C, H, W, 0};
        plan->in_buf = sn_plan_add_buffer(plan, "input", SN_F32, &x->shape, SN_BUF_ARENA, st);
        if (plan->in_buf < 0) goto fail;
        sn_lay_name(&in, plan->bufs[plan->in_buf].layout, sizeof plan->bufs[plan->in_buf].layout);
        L.buf[g->input] = plan->in_buf;
        L.lay[g->input] = in;
        if (g->label >= 0) {
            plan->label_buf = sn_plan_add_buffer(plan, "label", SN_I32, &g->tensors[g->label].shape,
                                                 SN_BUF_ARENA, st);
            if (plan->label_buf < 0) goto fail;
            L.buf[g->label] = plan->label_buf;
        }
    }
    for (int i = 0; i < gs->n; i++) {
        const sn_group *grp = &gs->g[i];
        sn_code c;
        int handled = 0;
        if (lw_lower_train(&L, grp, &handled) != SN_OK) goto fail;
        if (handled) continue;
        switch (grp->kind) {
        case SN_G_CONV:
            c = lower_conv(&L, grp);
            break;
        case SN_G_LINEAR:
            c = lower_linear(&L, grp);
            break;
        case SN_G_ELTWISE:
            c = lower_eltwise(&L, grp);
            break;
        default:
            c = lower_single(&L, grp);
            break;
        }
        if (c != SN_OK || st->code) goto fail;
    }
    {
        int out = g->output;
        sn_cpu_layout want = lw_flat((int)g->tensors[out].shape.d[1]);
        plan->out_buf = lw_as_layout(&L, out, &want);
        if (plan->out_buf < 0) goto fail;
        if (g->loss >= 0) plan->loss_buf = L.buf[g->loss];
    }
    if (compile_pending(&L) != SN_OK) goto fail;
    sn_plan_memplan(plan);
    free(L.u8);
    free(L.want_round);
    free(L.rounded);
    free(L.buf);
    free(L.wbuf);
    free(L.lay);
    free(L.kern);
    free(L.jobs);
    sn_groups_free(&cpu_gs);
    if (art) art->compile_seconds += sn_now() - t0;
    return SN_OK;
fail:
    for (int i = 0; i < L.njobs; i++) { /* generated but never compiled */
        if (L.jobs[i].mod) LLVMDisposeModule(L.jobs[i].mod);
        if (L.jobs[i].ctx) LLVMContextDispose(L.jobs[i].ctx);
    }
    free(L.jobs);
    free(L.u8);
    free(L.want_round);
    free(L.rounded);
    free(L.buf);
    free(L.wbuf);
    free(L.lay);
    free(L.kern);
    sn_groups_free(&cpu_gs);
    sn_plan_free(plan);
    return st->code ? st->code : SN_ERR_RUNTIME;
}

void sn_cpu_artifacts_free(sn_cpu_artifacts *a) {
    for (int i = 0; i < a->n; i++) {
        free(a->k[i].obj);
        free(a->k[i].ir);
        free(a->k[i].asm_text);
    }
    free(a->k);
    memset(a, 0, sizeof *a);
}
