/* CPU lowering of the ops of a training step: batch-norm in training mode, training-mode
 * dropout, every backward op, and the optimizer updates. */
#include <stdio.h>
#include <string.h>

#include "../../../runtime/core/util.h"
#include "../../../runtime/cpu/bn_sync.h"
#include "../../../runtime/cpu/prep.h"
#include "lower_internal.h"

static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

static void g_ew(sn_irb *k, const void *d) {
    sn_gen_ew(k, d);
}
static void g_bn(sn_irb *k, const void *d) {
    sn_gen_bn(k, d);
}
static void g_eltwise(sn_irb *k, const void *d) {
    sn_gen_eltwise(k, d);
}
static void g_convw(sn_irb *k, const void *d) {
    sn_gen_convw(k, d);
}
static void g_unpack(sn_irb *k, const void *d) {
    sn_gen_unpack(k, d);
}
static void g_convd(sn_irb *k, const void *d) {
    sn_gen_convd(k, d);
}
static void g_linear(sn_irb *k, const void *d) {
    sn_gen_linear(k, d);
}
static void g_linw(sn_irb *k, const void *d) {
    sn_gen_linw(k, d);
}
static void g_poolb(sn_irb *k, const void *d) {
    sn_gen_poolb(k, d);
}
static void g_reorder(sn_irb *k, const void *d) {
    sn_gen_reorder(k, d);
}
static void g_loss_grad(sn_irb *k, const void *d) {
    sn_gen_loss_grad(k, d);
}
static void g_optim(sn_irb *k, const void *d) {
    sn_gen_optim(k, d);
}
static void g_neuron_bwd(sn_irb *k, const void *d) {
    sn_gen_neuron_bwd(k, d);
}
static void g_time_mean_bwd(sn_irb *k, const void *d) {
    sn_gen_time_bwd(k, d, 0);
}
static void g_direct_bwd(sn_irb *k, const void *d) {
    sn_gen_time_bwd(k, d, 1);
}

/* A per-channel vector buffer (padded to the block width) for tensor t, or an anonymous
 * one when t < 0. */
static int chan_buf(lower *L, int t, const char *name, int C) {
    int64_t padded = (int64_t)ceil_div(C, L->vl) * L->vl;
    sn_shape s = sn_shape1(padded);
    int b = sn_plan_add_buffer(L->plan, t >= 0 ? L->g->tensors[t].name : name, SN_F32, &s,
                               SN_BUF_ARENA, L->st);
    if (b >= 0 && t >= 0) {
        L->buf[t] = b;
        L->lay[t] = lw_flat(C);
        sn_strlcpy(L->plan->bufs[b].layout, "NC", sizeof L->plan->bufs[b].layout);
    }
    return b;
}

/* A plain buffer for a parameter gradient (same shape as the parameter). */
static int grad_buf(lower *L, int t) {
    const sn_tensor *x = &L->g->tensors[t];
    int b = sn_plan_add_buffer(L->plan, x->name, SN_F32, &x->shape, SN_BUF_ARENA, L->st);
    if (b >= 0) {
        L->buf[t] = b;
        L->lay[t] = lw_flat((int)sn_shape_numel(&x->shape));
        sn_strlcpy(L->plan->bufs[b].layout, "plain", sizeof L->plan->bufs[b].layout);
    }
    return b;
}

static int64_t nimg(const sn_tensor *x) {
    return sn_tensor_images(x);
}

/* The activation layout a tensor gets in the CPU backend: blocked maps, flat vectors. */
static sn_cpu_layout act_layout(lower *L, const sn_tensor *x) {
    int C, H, W;
    sn_tensor_dims(x, &C, &H, &W);
    return x->shape.rank == x->lead + 1 ? lw_flat(C) : lw_blocked(L, C, H, W);
}

/* Synchronized batch norm (runtime/cpu/bn_sync.h): this rank's sums, their sum over the
 * ranks, then the statistics. bufs as the stats kernel's. */
static sn_code sync_stats(lower *L, const sn_group *grp, const sn_bn_desc *stats, const int *bufs,
                          int C) {
    char name[SN_PLAN_NAME_MAX];
    int64_t Cp = (int64_t)ceil_div(C, L->vl) * L->vl;
    sn_shape ss = sn_shape1(2 * Cp);
    sn_fmt(name, sizeof name, "%s.sums", grp->name);
    int sums = sn_plan_add_buffer(L->plan, name, SN_F64, &ss, SN_BUF_ARENA, L->st);
    if (sums < 0) return L->st->code;
    sn_bn_desc d = *stats;
    d.kind = SN_BN_SUMS;
    int kb[2] = {bufs[0], sums};
    sn_fmt(name, sizeof name, "%s (sums)", grp->name);
    if (lw_step(L, name, "bn_sums", &d, sizeof d, g_bn, kb, 2, sn_bn_tasks(&d, L->vl), 0) < 0)
        return L->st->code;
    sn_coll_params cp = {2 * Cp, 0};
    sn_fmt(name, sizeof name, "%s (sum over ranks)", grp->name);
    if (sn_plan_add_step(L->plan, name, "cpu.allreduce", sn_plan_collective_step, &cp, sizeof cp,
                         &sums, 1, 1, L->st) < 0)
        return L->st->code;
    sn_bn_sync_params p = {C, (int)Cp, d.N * d.lay.H * d.lay.W, d.eps, d.momentum};
    int fb[10] = {bufs[1], bufs[2], bufs[3], bufs[4], bufs[5],
                  sums,    bufs[6], bufs[7], bufs[8], bufs[9]};
    sn_fmt(name, sizeof name, "%s (statistics)", grp->name);
    return sn_plan_add_step(L->plan, name, "cpu.bn_sync_finish", sn_bn_sync_finish, &p, sizeof p,
                            fb, 10, 1, L->st) < 0
               ? L->st->code
               : SN_OK;
}

static sn_code bn_train(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]];
    int C, H, W;
    sn_tensor_dims(x, &C, &H, &W);
    sn_cpu_layout lay = act_layout(L, x);
    int xb = lw_as_layout(L, n->in[0], &lay);
    int sm = chan_buf(L, n->out[1], NULL, C), si = chan_buf(L, n->out[2], NULL, C);
    char name[SN_PLAN_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.scale", n->name);
    int sc = chan_buf(L, -1, name, C);
    sn_fmt(name, sizeof name, "%s.shift_center", n->name); /* beta, mean hi, lo */
    int sh = chan_buf(L, -1, name, 3 * ceil_div(C, L->vl) * L->vl);
    if (xb < 0 || sm < 0 || si < 0 || sc < 0 || sh < 0) return L->st->code;
    sn_bn_desc d;
    memset(&d, 0, sizeof d);
    d.N = nimg(x);
    d.lay = lay;
    d.kind = SN_BN_STATS;
    d.eps = n->a.eps;
    d.momentum = n->a.momentum;
    int bufs[10] = {xb,
                    lw_weight_buf(L, n->in[1]),
                    lw_weight_buf(L, n->in[2]),
                    lw_weight_buf(L, n->in[3]),
                    lw_weight_buf(L, n->in[4]),
                    lw_weight_buf(L, n->in[5]),
                    sm,
                    si,
                    sc,
                    sh};
    for (int i = 1; i < 6; i++)
        if (bufs[i] < 0) return L->st->code;
    if (n->a.sync) {
        if (sync_stats(L, grp, &d, bufs, C)) return L->st->code;
    } else {
        sn_fmt(name, sizeof name, "%s (statistics)", grp->name);
        if (lw_step(L, name, "bn_stats", &d, sizeof d, g_bn, bufs, 10, sn_bn_tasks(&d, L->vl), 0) <
            0)
            return L->st->code;
    }
    /* normalize with the epilogue of the rest of the group */
    sn_eltwise_desc e;
    memset(&e, 0, sizeof e);
    e.N = nimg(x);
    e.lay = lay;
    e.affine = 1;
    int bn_unused;
    if (lw_collect_epilogue(L, grp, &e.epi, &bn_unused)) return L->st->code;
    int yb = lw_set_output(L, grp->out, &lay);
    if (yb < 0) return L->st->code;
    int eb[4] = {xb, yb, sc, sh};
    return lw_step(L, grp->name, "eltwise", &e, sizeof e, g_eltwise, eb, 4, sn_eltwise_tasks(&e),
                   0) < 0
               ? L->st->code
               : SN_OK;
}

static sn_code ew(lower *L, const sn_group *grp, sn_ew_op op, int x1, int x2, const sn_node *n) {
    const sn_tensor *t1 = &L->g->tensors[x1];
    sn_cpu_layout lay = L->lay[x1];
    if (L->buf[x1] < 0) lay = act_layout(L, t1);
    int b1 = lw_as_layout(L, x1, &lay);
    int b2 = x2 >= 0 ? lw_as_layout(L, x2, &lay) : -1;
    if (b1 < 0 || (x2 >= 0 && b2 < 0)) return L->st->code;
    sn_ew_desc d;
    memset(&d, 0, sizeof d);
    d.N = nimg(t1);
    d.lay = lay;
    d.op = op;
    d.B = n->a.quant.B;
    d.p = n->a.p;
    d.stream = n->a.stream;
    if (op == SN_EW_DROPOUT) d.nl = L->g->batch;
    d.epi.round_bf16 = lw_take_round(L, grp->out); /* it feeds bf16 layers */
    int yb = lw_set_output(L, grp->out, &lay);
    if (yb < 0) return L->st->code;
    int bufs[3] = {yb, b1, b2};
    return lw_step(L, grp->name, "ew", &d, sizeof d, g_ew, bufs, x2 >= 0 ? 3 : 2,
                   sn_ew_tasks(&d, L->vl), 0) < 0
               ? L->st->code
               : SN_OK;
}

static sn_code bn_bwd(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]];
    int C, H, W;
    sn_tensor_dims(x, &C, &H, &W);
    sn_cpu_layout lay = act_layout(L, x);
    int xb = lw_as_layout(L, n->in[0], &lay), dyb = lw_as_layout(L, n->in[1], &lay);
    int dg = chan_buf(L, n->out[1], NULL, C), db = chan_buf(L, n->out[2], NULL, C);
    char name[SN_PLAN_NAME_MAX];
    int cf[3];
    for (int i = 0; i < 3; i++) {
        sn_fmt(name, sizeof name, "%s.coef%d", n->name, i);
        cf[i] = chan_buf(L, -1, name, C);
    }
    if (xb < 0 || dyb < 0 || dg < 0 || db < 0 || cf[0] < 0 || cf[1] < 0 || cf[2] < 0)
        return L->st->code;
    sn_bn_desc d;
    memset(&d, 0, sizeof d);
    d.N = nimg(x);
    d.lay = lay;
    d.kind = SN_BN_BWD_REDUCE;
    int gb = lw_weight_buf(L, n->in[2]);
    if (gb < 0 || L->buf[n->in[3]] < 0 || L->buf[n->in[4]] < 0) return L->st->code;
    int bufs[10] = {xb, dyb, gb, L->buf[n->in[3]], L->buf[n->in[4]], dg, db, cf[0], cf[1], cf[2]};
    sn_fmt(name, sizeof name, "%s (sums)", grp->name);
    if (n->a.sync) {
        /* this rank's sums (and its gamma and beta gradients), their sum over the ranks, then
         * the coefficients of dx */
        int64_t Cp = (int64_t)ceil_div(C, L->vl) * L->vl;
        sn_shape ss = sn_shape1(2 * Cp);
        char sname[SN_PLAN_NAME_MAX];
        sn_fmt(sname, sizeof sname, "%s.sums", grp->name);
        int sums = sn_plan_add_buffer(L->plan, sname, SN_F64, &ss, SN_BUF_ARENA, L->st);
        if (sums < 0) return L->st->code;
        d.kind = SN_BN_BWD_SUMS;
        int kb[8] = {xb, dyb, gb, L->buf[n->in[3]], L->buf[n->in[4]], dg, db, sums};
        if (lw_step(L, name, "bn_bwd_sums", &d, sizeof d, g_bn, kb, 8, sn_bn_tasks(&d, L->vl), 0) <
            0)
            return L->st->code;
        sn_coll_params cp = {2 * Cp, 1};
        sn_fmt(name, sizeof name, "%s (sum over ranks)", grp->name);
        if (sn_plan_add_step(L->plan, name, "cpu.allreduce", sn_plan_collective_step, &cp,
                             sizeof cp, &sums, 1, 1, L->st) < 0)
            return L->st->code;
        sn_bn_sync_params p = {C, (int)Cp, d.N * d.lay.H * d.lay.W, n->a.eps, n->a.momentum};
        int fb[7] = {gb, L->buf[n->in[3]], L->buf[n->in[4]], sums, cf[0], cf[1], cf[2]};
        sn_fmt(name, sizeof name, "%s (coefficients)", grp->name);
        if (sn_plan_add_step(L->plan, name, "cpu.bn_sync_bwd_finish", sn_bn_sync_bwd_finish, &p,
                             sizeof p, fb, 7, 1, L->st) < 0)
            return L->st->code;
    } else if (lw_step(L, name, "bn_bwd", &d, sizeof d, g_bn, bufs, 10, sn_bn_tasks(&d, L->vl), 0) <
               0)
        return L->st->code;
    sn_ew_desc e;
    memset(&e, 0, sizeof e);
    e.N = nimg(x);
    e.lay = lay;
    e.op = SN_EW_AFFINE3;
    e.epi.round_bf16 = lw_take_round(L, n->out[0]); /* it feeds bf16 layers */
    int yb = lw_set_output(L, n->out[0], &lay);
    if (yb < 0) return L->st->code;
    int eb[7] = {yb, dyb, xb, cf[0], cf[1], cf[2], L->buf[n->in[3]]};
    return lw_step(L, grp->name, "ew", &e, sizeof e, g_ew, eb, 7, sn_ew_tasks(&e, L->vl), 0) < 0
               ? L->st->code
               : SN_OK;
}

/* The group's fused mask (relu/quant backward) and its saved-activation buffer. */
static int bwd_mask(lower *L, const sn_group *grp, const sn_cpu_layout *lay, sn_epilogue *epi) {
    memset(epi, 0, sizeof *epi);
    if (grp->nnodes < 2) return -1;
    const sn_node *m = &L->g->nodes[grp->nodes[1]];
    epi->mask = m->op == SN_OP_RELU_BWD ? 1 : 2;
    epi->mask_B = m->a.quant.B;
    return lw_as_layout(L, m->in[0], lay);
}

static sn_code conv_bwd_data(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *dy = &g->tensors[n->in[0]], *x = &g->tensors[n->in[2]];
    int C, H, W, O, OH, OW;
    sn_tensor_dims(x, &C, &H, &W);
    sn_tensor_dims(dy, &O, &OH, &OW);
    sn_cpu_layout dyl = lw_blocked(L, O, OH, OW), dxl = lw_blocked(L, C, H, W);
    int dyb = lw_operand(L, n->in[0], &dyl);
    if (dyb < 0) return L->st->code;
    sn_epilogue epi;
    int mb = bwd_mask(L, grp, &dxl, &epi);
    if (grp->nnodes > 1 && mb < 0) return L->st->code;
    int64_t macs = sn_node_macs(g, grp->nodes[0]);
    int pw, pb;
    if (n->a.sh == 1 && n->a.sw == 1 && n->a.kh - 1 - n->a.ph <= L->halo &&
        n->a.kw - 1 - n->a.pw <= L->halo && n->a.kh - 1 - n->a.ph >= 0 &&
        n->a.kw - 1 - n->a.pw >= 0) {
        /* stride 1: the data gradient is a convolution of dy with the flipped, transposed
         * filters and padding k - 1 - p */
        sn_conv_desc d;
        memset(&d, 0, sizeof d);
        d.N = nimg(dy);
        d.in = dyl;
        d.out = dxl;
        d.O = C;
        d.OH = H;
        d.OW = W;
        d.KH = n->a.kh;
        d.KW = n->a.kw;
        d.SH = d.SW = 1;
        d.PH = n->a.kh - 1 - n->a.ph;
        d.PW = n->a.kw - 1 - n->a.pw;
        d.epi = epi;
        int wino = lw_conv_uses_wino(L, &d);
        if (lw_pack_weights(L, n, -1, O, C, d.KH, d.KW, wino, 2, &pw, &pb) < 0) return L->st->code;
        int yb = lw_set_output(L, grp->out, &dxl);
        if (yb < 0) return L->st->code;
        return lw_conv_kernel(L, grp->name, &d, dyb, pw, pb, yb, mb, macs);
    }
    sn_convd_desc d;
    memset(&d, 0, sizeof d);
    d.N = nimg(dy);
    d.dy = dyl;
    d.dx = dxl;
    d.O = O;
    d.KH = n->a.kh;
    d.KW = n->a.kw;
    d.SH = n->a.sh;
    d.SW = n->a.sw;
    d.PH = n->a.ph;
    d.PW = n->a.pw;
    d.epi = epi;
    if (lw_pack_weights(L, n, -1, O, C, d.KH, d.KW, 0, 1, &pw, &pb) < 0) return L->st->code;
    int yb = lw_set_output(L, grp->out, &dxl);
    if (yb < 0) return L->st->code;
    int bufs[4] = {dyb, pw, yb, mb};
    return lw_step(L, grp->name, "conv_bwd_data", &d, sizeof d, g_convd, bufs, mb >= 0 ? 4 : 3,
                   sn_convd_tasks(&d, L->vl), macs) < 0
               ? L->st->code
               : SN_OK;
}

static sn_code conv_bwd_weight(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]], *dy = &g->tensors[n->in[1]];
    int C, H, W, O, OH, OW;
    sn_tensor_dims(x, &C, &H, &W);
    sn_tensor_dims(dy, &O, &OH, &OW);
    sn_cpu_layout dyl = lw_blocked(L, O, OH, OW);
    /* x in the layout the forward convolution read it (plain with a halo for a first layer) */
    sn_cpu_layout xl = L->lay[n->in[0]];
    if (!(xl.blocked || (!xl.blocked && xl.halo >= n->a.ph && xl.halo >= n->a.pw && xl.H == H)))
        xl = lw_blocked(L, C, H, W);
    if (xl.halo < n->a.ph || xl.halo < n->a.pw) xl = lw_blocked(L, C, H, W);
    int xb = lw_operand(L, n->in[0], &xl), dyb = lw_operand(L, n->in[1], &dyl);
    if (xb < 0 || dyb < 0) return L->st->code;
    sn_convw_desc d;
    memset(&d, 0, sizeof d);
    d.N = nimg(x);
    d.in = xl;
    d.dy = dyl;
    d.O = O;
    d.OH = OH;
    d.OW = OW;
    d.KH = n->a.kh;
    d.KW = n->a.kw;
    d.SH = n->a.sh;
    d.SW = n->a.sw;
    d.PH = n->a.ph;
    d.PW = n->a.pw;
    sn_convw_choose(&d, L->vl, L->nregs);
    char name[SN_PLAN_NAME_MAX];
    sn_fmt(name, sizeof name, "%s.packed_grad", n->name);
    sn_shape ps = sn_shape1((int64_t)ceil_div(O, L->vl) * L->vl * C * d.KH * d.KW);
    int pk = sn_plan_add_buffer(L->plan, name, SN_F32, &ps, SN_BUF_ARENA, L->st);
    int dwb = grad_buf(L, n->out[0]);
    if (pk < 0 || dwb < 0) return L->st->code;
    int bufs[3] = {xb, dyb, pk};
    if (lw_step(L, grp->name, "conv_bwd_weight", &d, sizeof d, g_convw, bufs, 3,
                sn_convw_tasks(&d, L->vl), sn_node_macs(g, grp->nodes[0])) < 0)
        return L->st->code;
    sn_unpack_desc u = {O, C, d.KH, d.KW};
    int ub[2] = {pk, dwb};
    sn_fmt(name, sizeof name, "%s (unpack)", grp->name);
    if (lw_step(L, name, "unpack", &u, sizeof u, g_unpack, ub, 2, sn_unpack_tasks(&u, L->vl), 0) <
        0)
        return L->st->code;
    if (n->nout > 1) {
        sn_bn_desc b;
        memset(&b, 0, sizeof b);
        b.N = nimg(dy);
        b.lay = dyl;
        b.kind = SN_BN_BIAS_GRAD;
        int dbb = chan_buf(L, n->out[1], NULL, O);
        if (dbb < 0) return L->st->code;
        int bb[2] = {dyb, dbb};
        sn_fmt(name, sizeof name, "%s (bias)", grp->name);
        if (lw_step(L, name, "bias_grad", &b, sizeof b, g_bn, bb, 2, sn_bn_tasks(&b, L->vl), 0) < 0)
            return L->st->code;
    }
    return SN_OK;
}

static sn_code linear_bwd(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    int data = n->op == SN_OP_LINEAR_BWD_DATA;
    int xi = data ? n->in[2] : n->in[0], dyi = data ? n->in[0] : n->in[1];
    const sn_tensor *x = &g->tensors[xi], *dy = &g->tensors[dyi];
    int K = (int)x->shape.d[x->lead], M = (int)dy->shape.d[dy->lead];
    sn_cpu_layout xl = lw_flat(K), yl = lw_flat(M);
    int dyb = lw_operand(L, dyi, &yl);
    if (dyb < 0) return L->st->code;
    if (data) {
        sn_epilogue epi;
        int mb = bwd_mask(L, grp, &xl, &epi);
        if (grp->nnodes > 1 && mb < 0) return L->st->code;
        sn_linear_desc d;
        memset(&d, 0, sizeof d);
        d.N = nimg(dy);
        d.K = M;
        d.M = K;
        d.vl = L->vl;
        d.epi = epi;
        sn_linear_choose_tile(&d, L->nregs);
        int pw, pb;
        if (lw_pack_weights(L, n, -1, M, K, 1, 1, 0, 1, &pw, &pb) < 0) return L->st->code;
        int yb = lw_set_output(L, grp->out, &xl);
        if (yb < 0) return L->st->code;
        int bufs[5] = {dyb, pw, pb, yb, mb};
        return lw_step(L, grp->name, "linear", &d, sizeof d, g_linear, bufs, mb >= 0 ? 5 : 4,
                       sn_linear_tasks(&d), sn_node_macs(g, grp->nodes[0])) < 0
                   ? L->st->code
                   : SN_OK;
    }
    int xb = lw_operand(L, xi, &xl);
    int dwb = grad_buf(L, n->out[0]);
    if (xb < 0 || dwb < 0) return L->st->code;
    sn_linw_desc d;
    memset(&d, 0, sizeof d);
    d.N = nimg(x);
    d.K = K;
    d.M = M;
    sn_linw_choose(&d, L->vl, L->nregs);
    int bufs[3] = {xb, dyb, dwb};
    if (lw_step(L, grp->name, "linear_bwd_weight", &d, sizeof d, g_linw, bufs, 3,
                sn_linw_tasks(&d, L->vl), sn_node_macs(g, grp->nodes[0])) < 0)
        return L->st->code;
    if (n->nout > 1) {
        sn_bn_desc b;
        memset(&b, 0, sizeof b);
        b.N = nimg(dy);
        b.lay = yl;
        b.kind = SN_BN_BIAS_GRAD;
        int dbb = chan_buf(L, n->out[1], NULL, M);
        if (dbb < 0) return L->st->code;
        int bb[2] = {dyb, dbb};
        char name[SN_PLAN_NAME_MAX];
        sn_fmt(name, sizeof name, "%s (bias)", grp->name);
        if (lw_step(L, name, "bias_grad", &b, sizeof b, g_bn, bb, 2, sn_bn_tasks(&b, L->vl), 0) < 0)
            return L->st->code;
    }
    return SN_OK;
}

static sn_code pool_bwd(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    const sn_tensor *x = &g->tensors[n->in[0]], *dy = &g->tensors[n->in[1]];
    int C, H, W, OH, OW, Cy;
    sn_tensor_dims(x, &C, &H, &W);
    sn_tensor_dims(dy, &Cy, &OH, &OW);
    sn_poolb_desc d;
    memset(&d, 0, sizeof d);
    d.N = nimg(x);
    d.x = lw_blocked(L, C, H, W);
    d.dy = lw_blocked(L, C, OH, OW);
    d.max = n->a.max;
    d.KH = n->a.kh;
    d.KW = n->a.kw;
    d.SH = n->a.sh;
    d.SW = n->a.sw;
    d.PH = n->a.ph;
    d.PW = n->a.pw;
    int xb = lw_as_layout(L, n->in[0], &d.x), dyb = lw_as_layout(L, n->in[1], &d.dy);
    if (xb < 0 || dyb < 0) return L->st->code;
    int yb = lw_set_output(L, grp->out, &d.x);
    if (yb < 0) return L->st->code;
    int bufs[3] = {xb, dyb, yb};
    return lw_step(L, grp->name, "pool_bwd", &d, sizeof d, g_poolb, bufs, 3, sn_poolb_tasks(&d),
                   0) < 0
               ? L->st->code
               : SN_OK;
}

static sn_code optim(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    sn_optim_desc d;
    memset(&d, 0, sizeof d);
    d.n = sn_shape_numel(&g->tensors[n->in[0]].shape);
    d.adam = n->op == SN_OP_ADAM_UPDATE;
    d.momentum = n->a.opt_momentum;
    d.weight_decay = n->a.weight_decay;
    d.beta1 = n->a.beta1;
    d.beta2 = n->a.beta2;
    d.eps = n->a.opt_eps;
    d.nesterov = n->a.nesterov;
    int bufs[4] = {lw_weight_buf(L, n->in[0]), L->buf[n->in[1]], -1, -1};
    for (int i = 2; i < n->nin; i++) bufs[i] = lw_weight_buf(L, n->in[i]);
    for (int i = 0; i < n->nin; i++)
        if (bufs[i] < 0)
            return sn_fail(L->st, SN_ERR_RUNTIME, "internal error: %s input %d has no buffer",
                           n->name, i);
    /* the gradient must be plain and exactly the parameter's size */
    const sn_tensor *gt = &g->tensors[n->in[1]];
    if (L->lay[n->in[1]].blocked || L->lay[n->in[1]].halo) {
        sn_cpu_layout want = lw_flat((int)sn_shape_numel(&gt->shape));
        (void)want;
        return sn_fail(L->st, SN_ERR_RUNTIME, "internal error: gradient %s is not plain", gt->name);
    }
    int s = lw_step(L, grp->name, d.adam ? "adam" : "sgd", &d, sizeof d, g_optim, bufs, n->nin,
                    sn_optim_tasks(&d), 0);
    if (s < 0) return L->st->code;
    /* what a data-parallel trainer reduces between backward and this step */
    return sn_plan_add_grad(L->plan, bufs[0], bufs[1], d.n, s, L->st);
}

/* Gradients of the ops over time steps. Every [T, N, ...] tensor keeps the layout of the
 * forward op's [T, N, ...] side, and the [N, ...] side the forward's too. */
static sn_code time_bwd(lower *L, const sn_group *grp) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];

    if (n->op == SN_OP_NEURON_BWD) {
        const sn_tensor *x = &g->tensors[n->in[0]];
        sn_cpu_layout lay = L->lay[n->in[0]];
        int T = (int)x->shape.d[0];
        sn_neuron_desc d;
        memset(&d, 0, sizeof d);
        d.T = T;
        d.M = sn_tensor_images(x) / T * sn_lay_image(&lay);
        d.p = n->a.neuron;
        int xb = L->buf[n->in[0]], sb = lw_as_layout(L, n->in[1], &lay);
        int yb = sb < 0 ? -1 : lw_set_output(L, grp->out, &lay);
        if (xb < 0 || yb < 0) return L->st->code ? L->st->code : SN_ERR_RUNTIME;
        int bufs[3] = {xb, sb, yb};
        return lw_step(L, grp->name, "neuron_bwd", &d, sizeof d, g_neuron_bwd, bufs, 3,
                       sn_neuron_tasks(&d), 0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    /* [T, N, ...] side: time mean's forward input (in[1]); direct encoder's ds (in[0]) */
    int seq = n->op == SN_OP_TIME_MEAN_BWD ? n->in[1] : n->in[0];
    const sn_tensor *xs = &g->tensors[seq];
    int T = (int)xs->shape.d[0];
    sn_cpu_layout lay;
    if (n->op == SN_OP_TIME_MEAN_BWD) {
        lay = L->lay[seq];
    } else {
        const sn_tensor *x = &g->tensors[n->out[0]];
        lay = x->shape.rank == x->lead + 1 ? lw_flat((int)x->shape.d[x->lead]) : act_layout(L, x);
        lay.halo = 0; /* as the encoder's forward */
    }
    sn_time_mean_desc d;
    memset(&d, 0, sizeof d);
    d.T = T;
    d.M = sn_tensor_images(xs) / T * sn_lay_image(&lay);
    int ib = lw_as_layout(L, n->in[0], &lay);
    if (ib < 0) return L->st->code;
    /* the encoder's dx keeps its halo-free layout: consumers reorder as they need */
    int yb = lw_set_output(L, grp->out, &lay);
    if (yb < 0) return L->st->code;
    int bufs[2] = {ib, yb};
    int direct = n->op == SN_OP_ENCODE_DIRECT_BWD;
    return lw_step(L, grp->name, direct ? "direct_bwd" : "time_mean_bwd", &d, sizeof d,
                   direct ? g_direct_bwd : g_time_mean_bwd, bufs, 2, sn_time_mean_tasks(&d), 0) < 0
               ? L->st->code
               : SN_OK;
}

sn_code lw_lower_train(lower *L, const sn_group *grp, int *handled) {
    const sn_graph *g = L->g;
    const sn_node *n = &g->nodes[grp->nodes[0]];
    *handled = 1;
    switch (n->op) {
    case SN_OP_BATCHNORM_TRAIN:
        return bn_train(L, grp);
    case SN_OP_DROPOUT:
        if (!n->a.training) break;
        return ew(L, grp, SN_EW_DROPOUT, n->in[0], -1, n);
    case SN_OP_DROPOUT_BWD:
        return ew(L, grp, SN_EW_DROPOUT, n->in[0], -1, n);
    case SN_OP_RELU_BWD:
        return ew(L, grp, SN_EW_MASK_POS, n->in[1], n->in[0], n);
    case SN_OP_QUANT_BWD:
        return ew(L, grp, SN_EW_MASK_RANGE, n->in[1], n->in[0], n);
    case SN_OP_ADD:
        return ew(L, grp, SN_EW_ADD, n->in[0], n->in[1], n);
    case SN_OP_BATCHNORM_BWD:
        return bn_bwd(L, grp);
    case SN_OP_CONV2D_BWD_DATA:
        return conv_bwd_data(L, grp);
    case SN_OP_CONV2D_BWD_WEIGHT:
        return conv_bwd_weight(L, grp);
    case SN_OP_LINEAR_BWD_DATA:
    case SN_OP_LINEAR_BWD_WEIGHT:
        return linear_bwd(L, grp);
    case SN_OP_POOL_BWD:
        return pool_bwd(L, grp);
    case SN_OP_FLATTEN_BWD: {
        const sn_tensor *x = &g->tensors[n->in[1]];
        sn_reorder_desc d;
        memset(&d, 0, sizeof d);
        d.N = nimg(x);
        d.dst = act_layout(L, x);
        d.src = lw_flat((int)(sn_shape_numel(&x->shape) / d.N));
        d.unflatten = 1;
        int sb = lw_as_layout(L, n->in[0], &d.src);
        int yb = sb < 0 ? -1 : lw_set_output(L, grp->out, &d.dst);
        if (yb < 0) return L->st->code;
        int bufs[2] = {sb, yb};
        return lw_step(L, grp->name, "unflatten", &d, sizeof d, g_reorder, bufs, 2,
                       sn_reorder_tasks(&d), 0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_SOFTMAX_CE_BWD:
    case SN_OP_MSE_ONEHOT_BWD: {
        const sn_tensor *x = &g->tensors[n->in[0]];
        sn_loss_desc d;
        memset(&d, 0, sizeof d);
        d.N = x->shape.d[0];
        d.K = (int)x->shape.d[1];
        d.mse = n->op == SN_OP_MSE_ONEHOT_BWD;
        d.smoothing = n->a.label_smoothing;
        /* one score row per image: a data-parallel rank's gradient is its share of the
         * global batch's (ctx->gbatch is the plan's batch in a single process) */
        d.over_gbatch = d.N == L->plan->batch;
        if (d.over_gbatch) L->plan->loss_over_gbatch = 1;
        if (d.K > 1024)
            return sn_fail(L->st, SN_ERR_INPUT,
                           "the CPU loss kernel supports at most 1024 classes");
        sn_cpu_layout lay = lw_flat(d.K);
        int xb = lw_as_layout(L, n->in[0], &lay);
        int yb = xb < 0 ? -1 : lw_set_output(L, grp->out, &lay);
        if (yb < 0) return L->st->code;
        int bufs[3] = {xb, L->buf[n->in[1]], yb};
        return lw_step(L, grp->name, "loss_grad", &d, sizeof d, g_loss_grad, bufs, 3, 1, 0) < 0
                   ? L->st->code
                   : SN_OK;
    }
    case SN_OP_SGD_UPDATE:
    case SN_OP_ADAM_UPDATE:
        return optim(L, grp);
    case SN_OP_NEURON_BWD:
    case SN_OP_TIME_MEAN_BWD:
    case SN_OP_ENCODE_DIRECT_BWD:
        return time_bwd(L, grp);
    default:
        break;
    }
    *handled = 0;
    return SN_OK;
}
