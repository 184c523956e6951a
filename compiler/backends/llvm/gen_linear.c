/* Fully connected layers: a register tile of tn rows x tq blocks of vl outputs, reduced
 * over K with one broadcast input value and tq weight vectors per step. */
#include <stdio.h>
#include <string.h>

#include "kernels.h"

static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}
static int mblocks(const sn_linear_desc *d, int vl) {
    return ceil_div(d->M, vl);
}

void sn_linear_choose_tile(sn_linear_desc *d, int nregs) {
    int budget = nregs >= 32 ? 28 : nregs >= 16 ? 12 : 6;
    int Mb = mblocks(d, d->vl);
    d->tq = Mb < 4 ? Mb : 4;
    while (d->tq > 1 && d->tq * 2 > budget) d->tq--;
    d->tn = budget / d->tq;
    if (d->tn > d->N) d->tn = (int)d->N;
    if (d->tn < 1) d->tn = 1;
}

int64_t sn_linear_tasks(const sn_linear_desc *d) {
    return (int64_t)ceil_div((int)d->N, d->tn) * ceil_div(mblocks(d, d->vl), d->tq);
}

static LLVMValueRef gen_tile(sn_irb *k, const sn_linear_desc *d, int nn, int qq, int last_lanes) {
    int vl = k->vl;
    char name[64];
    snprintf(name, sizeof name, "lin_n%d_q%d_l%d", nn, qq, last_lanes);
    /* tile(x, w, b, y, mask source at the tile's output position) */
    LLVMTypeRef params[5] = {k->t_pf, k->t_pf, k->t_pf, k->t_pf, k->t_pf};
    LLVMValueRef fn = LLVMAddFunction(k->mod, name, LLVMFunctionType(k->t_void, params, 5, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    sn_irb t = *k;
    t.fn = fn;
    t.b = LLVMCreateBuilderInContext(k->ctx);
    t.entry = LLVMAppendBasicBlockInContext(k->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(t.b, t.entry);
    LLVMValueRef x = LLVMGetParam(fn, 0), w = LLVMGetParam(fn, 1), b = LLVMGetParam(fn, 2),
                 y = LLVMGetParam(fn, 3);
    LLVMValueRef acc[64];
    for (int a = 0; a < nn * qq; a++) {
        acc[a] = irb_slot(&t);
        irb_slot_set(&t, acc[a], irb_vsplat(&t, 0.0f));
    }
    irb_loop lk;
    LLVMValueRef kk = irb_for(&t, &lk, irb_i64(&t, 0), irb_i64(&t, d->K), 1, "k");
    LLVMValueRef wk = irb_gep(&t, w, irb_mul(&t, kk, vl));
    LLVMValueRef xk = irb_gep(&t, x, kk);
    LLVMValueRef wv[8];
    for (int q = 0; q < qq; q++)
        wv[q] = irb_vload(&t, irb_gepc(&t, wk, (int64_t)q * d->K * vl), vl * 4);
    for (int i = 0; i < nn; i++) {
        LLVMValueRef xs = irb_bcast_load(&t, irb_gepc(&t, xk, (int64_t)i * d->K));
        for (int q = 0; q < qq; q++) {
            LLVMValueRef s = acc[i * qq + q];
            irb_slot_set(&t, s, irb_fma(&t, xs, wv[q], irb_slot_get(&t, s)));
        }
    }
    irb_for_end(&t, &lk);
    for (int i = 0; i < nn; i++)
        for (int q = 0; q < qq; q++) {
            LLVMValueRef v = irb_fadd(&t, irb_slot_get(&t, acc[i * qq + q]),
                                      irb_vload(&t, irb_gepc(&t, b, (int64_t)q * vl), vl * 4));
            v = sn_gen_epilogue(&t, &d->epi, v);
            LLVMValueRef dst = irb_gepc(&t, y, (int64_t)i * d->M + (int64_t)q * vl);
            if (d->epi.mask) {
                LLVMValueRef ms =
                    irb_gepc(&t, LLVMGetParam(fn, 4), (int64_t)i * d->M + (int64_t)q * vl);
                LLVMValueRef mv = q == qq - 1 && last_lanes < vl ? irb_vload_n(&t, ms, last_lanes)
                                                                 : irb_vload(&t, ms, 4);
                v = sn_gen_mask(&t, &d->epi, v, mv);
            }
            v = sn_gen_epi_store_value(&t, &d->epi, v);
            if (q == qq - 1 && last_lanes < vl)
                irb_vstore_n(&t, v, dst, last_lanes);
            else
                irb_vstore(&t, v, dst, 4);
        }
    LLVMBuildRetVoid(t.b);
    LLVMDisposeBuilder(t.b);
    return fn;
}

void sn_gen_linear(sn_irb *k, const sn_linear_desc *d) {
    int vl = k->vl;
    int Mb = mblocks(d, vl);
    int MG = ceil_div(Mb, d->tq);
    int NT = ceil_div((int)d->N, d->tn);
    int nvals[2] = {d->tn, (int)(d->N % d->tn)};
    int qvals[2] = {d->tq, Mb % d->tq};
    int lanes_last = d->M - (Mb - 1) * vl; /* lanes of the last block */
    /* variants: [n tail][q group kind]: q kind 0 = full group not containing the last
     * block, 1 = the last group (qvals[1] blocks or tq when divisible), whose last block
     * may be partial */
    LLVMValueRef tiles[2][2];
    memset(tiles, 0, sizeof tiles);
    int last_q = qvals[1] ? qvals[1] : d->tq;
    for (int a = 0; a < 2; a++) {
        if (!nvals[a]) continue;
        if (MG > 1) tiles[a][0] = gen_tile(k, d, nvals[a], d->tq, vl);
        tiles[a][1] = gen_tile(k, d, nvals[a], last_q, lanes_last);
    }
    LLVMValueRef x = irb_arg_buf(k, 0), w = irb_arg_buf(k, 1), b = irb_arg_buf(k, 2),
                 y = irb_arg_buf(k, 3);
    irb_loop lt;
    /* task = row tile * MG + column group */
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef mg = irb_remc(k, t, MG), nt = irb_divc(k, t, MG);
    LLVMValueRef n0 = irb_mul(k, nt, d->tn), mb0 = irb_mul(k, mg, d->tq);
    LLVMValueRef xt = irb_gep(k, x, irb_mul(k, n0, d->K));
    LLVMValueRef wt = irb_gep(k, w, irb_mul(k, mb0, (int64_t)d->K * vl));
    LLVMValueRef bt = irb_gep(k, b, irb_mul(k, mb0, vl));
    LLVMValueRef yoff = irb_add(k, irb_mul(k, n0, d->M), irb_mul(k, mb0, vl));
    LLVMValueRef yt = irb_gep(k, y, yoff);
    LLVMValueRef mt = irb_gep(k, d->epi.mask ? irb_arg_buf(k, 4) : y, yoff);
    LLVMValueRef is_last_n = irb_icmp_eq(k, nt, NT - 1), is_last_g = irb_icmp_eq(k, mg, MG - 1);
    for (int a = 0; a < 2; a++)
        for (int g = 0; g < 2; g++) {
            if (!tiles[a][g]) continue;
            LLVMValueRef cond = LLVMConstInt(LLVMInt1TypeInContext(k->ctx), 1, 0);
            if (nvals[1])
                cond =
                    LLVMBuildAnd(k->b, cond, a ? is_last_n : LLVMBuildNot(k->b, is_last_n, ""), "");
            cond = LLVMBuildAnd(k->b, cond, g ? is_last_g : LLVMBuildNot(k->b, is_last_g, ""), "");
            LLVMBasicBlockRef cont = irb_if(k, cond, "variant");
            LLVMValueRef args[5] = {xt, wt, bt, yt, mt};
            LLVMBuildCall2(k->b, LLVMGlobalGetValueType(tiles[a][g]), tiles[a][g], args, 5, "");
            irb_endif(k, cont);
        }
    irb_for_end(k, &lt);
}
