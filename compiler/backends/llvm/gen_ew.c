/* Multi-input elementwise kernels: gradient masks, sums, dropout, the batch-norm data
 * gradient. Same arithmetic as the reference ops. */
#include "kernels.h"

int64_t sn_ew_tasks(const sn_ew_desc *d, int vl) {
    return sn_iter_tasks(&d->lay, d->N, vl, 0);
}

typedef struct ew_state {
    const sn_ew_desc *d;
    LLVMValueRef y, x1, x2, A, B, C, M;
    LLVMValueRef key, training, scale; /* dropout */
    LLVMValueRef s0, ng;               /* dropout: ctx->sample0, ctx->gbatch */
} ew_state;

static void ew_body(sn_irb *k, const sn_iter_ctx *it, void *vs) {
    ew_state *s = vs;
    const sn_ew_desc *d = s->d;
    LLVMValueRef x1 = sn_iter_load(k, s->x1, it), v = NULL;
    LLVMValueRef zero = irb_vsplat(k, 0.0f);
    switch (d->op) {
    case SN_EW_MASK_POS: {
        LLVMValueRef x2 = sn_iter_load(k, s->x2, it);
        v = LLVMBuildSelect(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, x2, zero, ""), x1, zero, "");
        break;
    }
    case SN_EW_MASK_RANGE: {
        LLVMValueRef x2 = sn_iter_load(k, s->x2, it);
        LLVMValueRef in =
            LLVMBuildAnd(k->b, LLVMBuildFCmp(k->b, LLVMRealOGT, x2, zero, ""),
                         LLVMBuildFCmp(k->b, LLVMRealOLT, x2, irb_vsplat(k, d->B), ""), "");
        v = LLVMBuildSelect(k->b, in, x1, zero, "");
        break;
    }
    case SN_EW_ADD:
        v = irb_fadd(k, x1, sn_iter_load(k, s->x2, it));
        break;
    case SN_EW_AFFINE3:
        /* around the mean: x - mean is exact near it, so a large mean costs nothing */
        v = irb_fadd(
            k,
            irb_fadd(k, irb_fmul(k, sn_iter_chan(k, s->A, it), x1),
                     irb_fmul(k, sn_iter_chan(k, s->B, it),
                              irb_fsub(k, sn_iter_load(k, s->x2, it), sn_iter_chan(k, s->M, it)))),
            sn_iter_chan(k, s->C, it));
        break;
    case SN_EW_DROPOUT: {
        /* logical NCHW index of each lane */
        const sn_cpu_layout *l = &d->lay;
        int64_t hw = (int64_t)l->H * l->W;
        /* the image's index in the global batch: (n / nl) * gbatch + sample0 + n % nl */
        LLVMValueRef n = it->n;
        if (d->nl > 0) {
            LLVMValueRef nl = irb_i64(k, d->nl);
            n = irb_add(
                k, irb_add(k, LLVMBuildMul(k->b, LLVMBuildUDiv(k->b, n, nl, ""), s->ng, ""), s->s0),
                LLVMBuildURem(k->b, n, nl, ""));
        }
        LLVMValueRef base = irb_add(k, irb_mul(k, irb_add(k, irb_mul(k, n, l->C), it->c0), hw),
                                    irb_add(k, irb_mul(k, it->yy, l->W), it->xx));
        LLVMValueRef idx = irb_bcast_i32(k, LLVMBuildTrunc(k->b, base, k->t_i32, ""));
        if (k->vl > 1) {
            LLVMValueRef e[64];
            for (int i = 0; i < k->vl; i++)
                e[i] = LLVMConstInt(k->t_i32, (unsigned long long)(i * hw), 0);
            idx = LLVMBuildAdd(k->b, idx, LLVMConstVector(e, (unsigned)k->vl), "");
        }
        LLVMValueRef u = sn_gen_rand_u01(k, s->key, idx);
        LLVMValueRef keep = LLVMBuildFCmp(k->b, LLVMRealOGE, u, irb_vsplat(k, d->p), "");
        LLVMValueRef dropped = LLVMBuildSelect(
            k->b, keep, irb_fmul(k, x1, irb_vsplat(k, d->p < 1.0f ? 1.0f / (1.0f - d->p) : 0.0f)),
            zero, "");
        v = LLVMBuildSelect(k->b, s->training, dropped, x1, "");
        break;
    }
    }
    v = sn_gen_epi_store_value(k, &d->epi, sn_gen_epilogue(k, &d->epi, v));
    sn_iter_store(k, v, s->y, it);
}

void sn_gen_ew(sn_irb *k, const sn_ew_desc *d) {
    ew_state s;
    s.d = d;
    s.y = irb_arg_buf(k, 0);
    s.x1 = irb_arg_buf(k, 1);
    s.x2 = d->op == SN_EW_DROPOUT ? NULL : irb_arg_buf(k, 2);
    s.A = s.B = s.C = s.M = s.key = s.training = s.scale = s.s0 = s.ng = NULL;
    if (d->op == SN_EW_AFFINE3) {
        s.A = irb_arg_buf(k, 3);
        s.B = irb_arg_buf(k, 4);
        s.C = irb_arg_buf(k, 5);
        s.M = irb_arg_buf(k, 6);
    }
    if (d->op == SN_EW_DROPOUT) {
        LLVMValueRef seed = sn_kctx_load(k, sn_kctx_seed_offset(), k->t_i64);
        s.key = sn_gen_rand_key(k, seed, d->stream);
        s.s0 = sn_kctx_load(k, sn_kctx_sample0_offset(), k->t_i64);
        s.ng = sn_kctx_load(k, sn_kctx_gbatch_offset(), k->t_i64);
        LLVMValueRef tr = sn_kctx_load(k, sn_kctx_training_offset(), k->t_i32);
        s.training = LLVMBuildICmp(k->b, LLVMIntNE, tr, irb_i32(k, 0), "");
    }
    LLVMValueRef zh[1] = {s.y};
    sn_iter_fns fns = {ew_body, NULL, NULL};
    sn_gen_iter(k, &d->lay, d->N, 0, zh, 1, &fns, &s);
}
