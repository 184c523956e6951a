/* Per-channel reductions for training: batch-norm batch statistics (with the running
 * statistics update), the batch-norm gradient sums, bias gradients. One task per channel
 * block accumulates over every image and pixel in double precision, like the reference. */
#include <string.h>

#include "kernels.h"

int64_t sn_bn_tasks(const sn_bn_desc *d, int vl) {
    return sn_iter_tasks(&d->lay, d->N, vl, 1);
}

typedef struct bn_state {
    const sn_bn_desc *d;
    LLVMTypeRef vd;      /* <vl x double> */
    LLVMValueRef s1, s2; /* accumulator slots */
    LLVMValueRef p[10];
} bn_state;

static LLVMValueRef dsplat(sn_irb *k, bn_state *s, double v) {
    LLVMValueRef c = LLVMConstReal(LLVMDoubleTypeInContext(k->ctx), v);
    if (k->vl == 1) return c;
    LLVMValueRef e[64];
    for (int i = 0; i < k->vl; i++) e[i] = c;
    return LLVMConstVector(e, (unsigned)k->vl);
}

static LLVMValueRef ext(sn_irb *k, bn_state *s, LLVMValueRef v) {
    return LLVMBuildFPExt(k->b, v, s->vd, "");
}
static LLVMValueRef trunc_(sn_irb *k, LLVMValueRef v) {
    return LLVMBuildFPTrunc(k->b, v, k->t_vf, "");
}

/* Per-channel array access at block cb: exact-length arrays use masked access for the last
 * block; padded ones (save_*, scale, shift, coefficients) are full vectors. */
static LLVMValueRef chan_load(sn_irb *k, LLVMValueRef base, LLVMValueRef cb, int lanes) {
    LLVMValueRef p = irb_gep(k, base, irb_mul(k, cb, k->vl));
    return lanes == k->vl ? irb_vload(k, p, 4) : irb_vload_n(k, p, lanes);
}

static void chan_store(sn_irb *k, LLVMValueRef v, LLVMValueRef base, LLVMValueRef cb, int lanes) {
    LLVMValueRef p = irb_gep(k, base, irb_mul(k, cb, k->vl));
    if (lanes == k->vl)
        irb_vstore(k, v, p, 4);
    else
        irb_vstore_n(k, v, p, lanes);
}

static void begin(sn_irb *k, LLVMValueRef cb, int lanes, void *vs) {
    bn_state *s = vs;
    LLVMBuildStore(k->b, dsplat(k, s, 0.0), s->s1);
    LLVMBuildStore(k->b, dsplat(k, s, 0.0), s->s2);
}

static void stats_body(sn_irb *k, const sn_iter_ctx *it, void *vs) {
    bn_state *s = vs;
    LLVMValueRef x = ext(k, s, sn_iter_load(k, s->p[0], it));
    LLVMValueRef a = LLVMBuildLoad2(k->b, s->vd, s->s1, ""),
                 b = LLVMBuildLoad2(k->b, s->vd, s->s2, "");
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, a, x, ""), s->s1);
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, b, LLVMBuildFMul(k->b, x, x, ""), ""), s->s2);
}

static double count_of(const sn_bn_desc *d) {
    return (double)d->N * (double)d->lay.H * (double)d->lay.W;
}

static void stats_end(sn_irb *k, LLVMValueRef cb, int lanes, void *vs) {
    bn_state *s = vs;
    const sn_bn_desc *d = s->d;
    LLVMBuilderRef b = k->b;
    double m = count_of(d);
    LLVMValueRef mean = LLVMBuildFDiv(b, LLVMBuildLoad2(b, s->vd, s->s1, ""), dsplat(k, s, m), "");
    LLVMValueRef ex2 = LLVMBuildFDiv(b, LLVMBuildLoad2(b, s->vd, s->s2, ""), dsplat(k, s, m), "");
    LLVMValueRef var = LLVMBuildFSub(b, ex2, LLVMBuildFMul(b, mean, mean, ""), "");
    LLVMValueRef neg = LLVMBuildFCmp(b, LLVMRealOLT, var, dsplat(k, s, 0.0), "");
    var = LLVMBuildSelect(b, neg, dsplat(k, s, 0.0), var, "");
    unsigned id = LLVMLookupIntrinsicID("llvm.sqrt", 9);
    LLVMValueRef sq = LLVMGetIntrinsicDeclaration(k->mod, id, &s->vd, 1);
    LLVMValueRef arg = LLVMBuildFAdd(b, var, dsplat(k, s, (double)d->eps), "");
    LLVMValueRef invstd = LLVMBuildFDiv(
        b, dsplat(k, s, 1.0),
        LLVMBuildCall2(b, LLVMIntrinsicGetType(k->ctx, id, &s->vd, 1), sq, &arg, 1, ""), "");
    LLVMValueRef g = ext(k, s, chan_load(k, s->p[1], cb, lanes)),
                 be = ext(k, s, chan_load(k, s->p[2], cb, lanes));
    LLVMValueRef scale = LLVMBuildFMul(b, g, invstd, "");
    /* the normalization around the mean (sn_gen_eltwise): b, then the double mean as a
     * float pair hi + lo, each a section of P padded channels */
    const int64_t P = (int64_t)(d->lay.C + k->vl - 1) / k->vl * k->vl;
    LLVMValueRef hi = trunc_(k, mean);
    LLVMValueRef lo = trunc_(k, LLVMBuildFSub(b, mean, ext(k, s, hi), ""));
    chan_store(k, trunc_(k, mean), s->p[6], cb, k->vl);
    chan_store(k, trunc_(k, invstd), s->p[7], cb, k->vl);
    chan_store(k, trunc_(k, scale), s->p[8], cb, k->vl);
    chan_store(k, trunc_(k, be), s->p[9], cb, k->vl);
    chan_store(k, hi, irb_gepc(k, s->p[9], P), cb, k->vl);
    chan_store(k, lo, irb_gepc(k, s->p[9], 2 * P), cb, k->vl);
    double mom = d->momentum;
    LLVMValueRef rm = ext(k, s, chan_load(k, s->p[3], cb, lanes)),
                 rv = ext(k, s, chan_load(k, s->p[4], cb, lanes));
    LLVMValueRef unb = LLVMBuildFMul(b, var, dsplat(k, s, m / (m - 1.0)), "");
    rm = LLVMBuildFAdd(b, LLVMBuildFMul(b, rm, dsplat(k, s, 1.0 - mom), ""),
                       LLVMBuildFMul(b, mean, dsplat(k, s, mom), ""), "");
    rv = LLVMBuildFAdd(b, LLVMBuildFMul(b, rv, dsplat(k, s, 1.0 - mom), ""),
                       LLVMBuildFMul(b, unb, dsplat(k, s, mom), ""), "");
    chan_store(k, trunc_(k, rm), s->p[3], cb, lanes);
    chan_store(k, trunc_(k, rv), s->p[4], cb, lanes);
    LLVMBasicBlockRef cont = irb_if(k, irb_icmp_eq(k, cb, 0), "count");
    LLVMValueRef cp = LLVMBuildBitCast(b, s->p[5], LLVMPointerType(k->t_i64, 0), "");
    LLVMBuildStore(b, LLVMBuildAdd(b, LLVMBuildLoad2(b, k->t_i64, cp, ""), irb_i64(k, 1), ""), cp);
    irb_endif(k, cont);
}

/* bwd: sums of dy and dy * xhat */

static void bwd_body(sn_irb *k, const sn_iter_ctx *it, void *vs) {
    bn_state *s = vs;
    LLVMValueRef x = ext(k, s, sn_iter_load(k, s->p[0], it)),
                 dy = ext(k, s, sn_iter_load(k, s->p[1], it));
    LLVMValueRef mean = ext(k, s, sn_iter_chan(k, s->p[3], it)),
                 invstd = ext(k, s, sn_iter_chan(k, s->p[4], it));
    LLVMValueRef xhat = LLVMBuildFMul(k->b, LLVMBuildFSub(k->b, x, mean, ""), invstd, "");
    LLVMValueRef a = LLVMBuildLoad2(k->b, s->vd, s->s1, ""),
                 b = LLVMBuildLoad2(k->b, s->vd, s->s2, "");
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, a, dy, ""), s->s1);
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, b, LLVMBuildFMul(k->b, dy, xhat, ""), ""), s->s2);
}

static void bwd_end(sn_irb *k, LLVMValueRef cb, int lanes, void *vs) {
    bn_state *s = vs;
    LLVMBuilderRef b = k->b;
    double m = count_of(s->d);
    LLVMValueRef sdy = LLVMBuildLoad2(b, s->vd, s->s1, ""),
                 sdyx = LLVMBuildLoad2(b, s->vd, s->s2, "");
    chan_store(k, trunc_(k, sdyx), s->p[5], cb, lanes);
    chan_store(k, trunc_(k, sdy), s->p[6], cb, lanes);
    LLVMValueRef g = ext(k, s, chan_load(k, s->p[2], cb, lanes));
    LLVMValueRef invstd = ext(k, s, chan_load(k, s->p[4], cb, k->vl));
    LLVMValueRef kk = LLVMBuildFMul(b, g, invstd, "");
    LLVMValueRef t = LLVMBuildFDiv(b, LLVMBuildFMul(b, invstd, sdyx, ""), dsplat(k, s, m), "");
    LLVMValueRef A = kk;
    LLVMValueRef Bx = LLVMBuildFNeg(b, LLVMBuildFMul(b, kk, t, ""), "");
    LLVMValueRef C =
        LLVMBuildFNeg(b, LLVMBuildFMul(b, kk, LLVMBuildFDiv(b, sdy, dsplat(k, s, m), ""), ""), "");
    chan_store(k, trunc_(k, A), s->p[7], cb, k->vl);
    chan_store(k, trunc_(k, Bx), s->p[8], cb, k->vl);
    chan_store(k, trunc_(k, C), s->p[9], cb, k->vl);
}

/* synchronized batch norm: per-rank sums, as doubles, into [2][Cpad] */

static void dsum_store(sn_irb *k, bn_state *s, LLVMValueRef v, LLVMValueRef base, LLVMValueRef cb,
                       int64_t off) {
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    LLVMValueRef p = LLVMBuildBitCast(k->b, base, LLVMPointerType(dbl, 0), "");
    LLVMValueRef idx = irb_addc(k, irb_mul(k, cb, k->vl), off);
    p = LLVMBuildGEP2(k->b, dbl, p, &idx, 1, "");
    p = LLVMBuildBitCast(k->b, p, LLVMPointerType(s->vd, 0), "");
    LLVMSetAlignment(LLVMBuildStore(k->b, v, p), 8);
}

static int64_t cpad(sn_irb *k, const sn_bn_desc *d) {
    return (int64_t)((d->lay.C + k->vl - 1) / k->vl) * k->vl;
}

static void sums_end(sn_irb *k, LLVMValueRef cb, int lanes, void *vs) {
    bn_state *s = vs;
    dsum_store(k, s, LLVMBuildLoad2(k->b, s->vd, s->s1, ""), s->p[1], cb, 0);
    dsum_store(k, s, LLVMBuildLoad2(k->b, s->vd, s->s2, ""), s->p[1], cb, cpad(k, s->d));
}

static void bwd_sums_end(sn_irb *k, LLVMValueRef cb, int lanes, void *vs) {
    bn_state *s = vs;
    LLVMValueRef sdy = LLVMBuildLoad2(k->b, s->vd, s->s1, ""),
                 sdyx = LLVMBuildLoad2(k->b, s->vd, s->s2, "");
    chan_store(k, trunc_(k, sdyx), s->p[5], cb, lanes);
    chan_store(k, trunc_(k, sdy), s->p[6], cb, lanes);
    dsum_store(k, s, sdy, s->p[7], cb, 0);
    dsum_store(k, s, sdyx, s->p[7], cb, cpad(k, s->d));
}

static void bias_body(sn_irb *k, const sn_iter_ctx *it, void *vs) {
    bn_state *s = vs;
    LLVMValueRef dy = ext(k, s, sn_iter_load(k, s->p[0], it));
    LLVMBuildStore(k->b, LLVMBuildFAdd(k->b, LLVMBuildLoad2(k->b, s->vd, s->s1, ""), dy, ""),
                   s->s1);
}

static void bias_end(sn_irb *k, LLVMValueRef cb, int lanes, void *vs) {
    bn_state *s = vs;
    chan_store(k, trunc_(k, LLVMBuildLoad2(k->b, s->vd, s->s1, "")), s->p[1], cb, lanes);
}

void sn_gen_bn(sn_irb *k, const sn_bn_desc *d) {
    bn_state s;
    memset(&s, 0, sizeof s);
    s.d = d;
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    s.vd = k->vl > 1 ? LLVMVectorType(dbl, (unsigned)k->vl) : dbl;
    int np = d->kind == SN_BN_STATS || d->kind == SN_BN_BWD_REDUCE ? 10
             : d->kind == SN_BN_BWD_SUMS                           ? 8
                                                                   : 2;
    for (int i = 0; i < np; i++) s.p[i] = irb_arg_buf(k, i);
    /* accumulators in the entry block */
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(k->b);
    LLVMValueRef first = LLVMGetFirstInstruction(k->entry);
    if (first) LLVMPositionBuilderBefore(k->b, first);
    s.s1 = LLVMBuildAlloca(k->b, s.vd, "s1");
    s.s2 = LLVMBuildAlloca(k->b, s.vd, "s2");
    LLVMPositionBuilderAtEnd(k->b, cur);
    sn_iter_fns fns;
    switch (d->kind) {
    case SN_BN_STATS:
        fns = (sn_iter_fns){stats_body, begin, stats_end};
        break;
    case SN_BN_BWD_REDUCE:
        fns = (sn_iter_fns){bwd_body, begin, bwd_end};
        break;
    case SN_BN_SUMS:
        fns = (sn_iter_fns){stats_body, begin, sums_end};
        break;
    case SN_BN_BWD_SUMS:
        fns = (sn_iter_fns){bwd_body, begin, bwd_sums_end};
        break;
    default:
        fns = (sn_iter_fns){bias_body, begin, bias_end};
        break;
    }

    sn_gen_iter(k, &d->lay, d->N, 1, NULL, 0, &fns, &s);
}
