/* Kernels of the training step: weight gradients, the strided data gradient, pooling
 * backward, loss gradients and optimizer updates. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

LLVMValueRef sn_gen_mask(sn_irb *k, const sn_epilogue *e, LLVMValueRef v, LLVMValueRef m) {
    if (!e->mask) return v;
    LLVMValueRef zero = irb_vsplat(k, 0.0f);
    LLVMValueRef keep = LLVMBuildFCmp(k->b, LLVMRealOGT, m, zero, "");
    if (e->mask == 2)
        keep = LLVMBuildAnd(k->b, keep,
                            LLVMBuildFCmp(k->b, LLVMRealOLT, m, irb_vsplat(k, e->mask_B), ""), "");
    return LLVMBuildSelect(k->b, keep, v, zero, "");
}

/* -------------------------------------------------------- conv weight grad ---- */

void sn_convw_choose(sn_convw_desc *d, int vl, int nregs) {
    int budget = nregs >= 32 ? 28 : 12;
    int taps = d->KH * d->KW;
    d->taps = taps < budget ? taps : budget;
    int Ob = ceil_div(d->O, vl);
    d->tq = budget / d->taps;
    if (d->tq > Ob) d->tq = Ob;
    if (d->tq < 1) d->tq = 1;
}

int64_t sn_convw_tasks(const sn_convw_desc *d, int vl) {
    int Ob = ceil_div(d->O, vl);
    return (int64_t)ceil_div(Ob, d->tq) * d->in.C * ceil_div(d->KH * d->KW, d->taps);
}

/* One task body with constants: nq channel blocks, taps [t0, t0+nt). */
static LLVMValueRef convw_body(sn_irb *k, const sn_convw_desc *d, int nq, int t0, int nt) {
    int vl = k->vl;
    char name[64];
    snprintf(name, sizeof name, "convw_q%d_t%d_%d", nq, t0, nt);
    /* body(x_channel_plane, dy_block, dw_out) */
    LLVMTypeRef params[3] = {k->t_pf, k->t_pf, k->t_pf};
    LLVMValueRef fn = LLVMAddFunction(k->mod, name, LLVMFunctionType(k->t_void, params, 3, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    sn_irb t = *k;
    t.fn = fn;
    t.b = LLVMCreateBuilderInContext(k->ctx);
    t.entry = LLVMAppendBasicBlockInContext(k->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(t.b, t.entry);
    LLVMValueRef x = LLVMGetParam(fn, 0), dy = LLVMGetParam(fn, 1), dw = LLVMGetParam(fn, 2);
    const sn_cpu_layout *in = &d->in, *dl = &d->dy;
    LLVMValueRef acc[64];
    for (int a = 0; a < nt * nq; a++) {
        acc[a] = irb_slot(&t);
        irb_slot_set(&t, acc[a], irb_vsplat(&t, 0.0f));
    }
    irb_loop ln, lh, lw;
    LLVMValueRef n = irb_for(&t, &ln, irb_i64(&t, 0), irb_i64(&t, d->N), 1, "n");
    LLVMValueRef oh = irb_for(&t, &lh, irb_i64(&t, 0), irb_i64(&t, d->OH), 1, "oh");
    LLVMValueRef ow = irb_for(&t, &lw, irb_i64(&t, 0), irb_i64(&t, d->OW), 1, "ow");
    LLVMValueRef dyp =
        irb_gep(&t, dy,
                irb_add(&t, irb_mul(&t, n, sn_lay_image(dl)),
                        irb_add(&t, irb_mul(&t, irb_addc(&t, oh, dl->halo), sn_lay_row(dl)),
                                irb_mul(&t, irb_addc(&t, ow, dl->halo), vl))));
    LLVMValueRef dv[8];
    for (int q = 0; q < nq; q++)
        dv[q] = irb_vload(&t, irb_gepc(&t, dyp, (int64_t)q * sn_lay_plane(dl)), vl * 4);
    LLVMValueRef xp =
        irb_gep(&t, x,
                irb_add(&t, irb_mul(&t, n, sn_lay_image(in)),
                        irb_add(&t,
                                irb_mul(&t, irb_addc(&t, irb_mul(&t, oh, d->SH), in->halo - d->PH),
                                        sn_lay_row(in)),
                                irb_mul(&t, irb_addc(&t, irb_mul(&t, ow, d->SW), in->halo - d->PW),
                                        sn_lay_pix(in)))));
    for (int i = 0; i < nt; i++) {
        int tap = t0 + i, kh = tap / d->KW, kw = tap % d->KW;
        LLVMValueRef xs = irb_bcast_load(
            &t, irb_gepc(&t, xp, (int64_t)kh * sn_lay_row(in) + (int64_t)kw * sn_lay_pix(in)));
        for (int q = 0; q < nq; q++)
            irb_slot_set(&t, acc[i * nq + q],
                         irb_fma(&t, xs, dv[q], irb_slot_get(&t, acc[i * nq + q])));
    }
    irb_for_end(&t, &lw);
    irb_for_end(&t, &lh);
    irb_for_end(&t, &ln);
    /* dw points at [ob0][c][0][0]: block stride C*KH*KW*vl, tap stride vl */
    int64_t bstride = (int64_t)in->C * d->KH * d->KW * vl;
    for (int i = 0; i < nt; i++)
        for (int q = 0; q < nq; q++)
            irb_vstore(&t, irb_slot_get(&t, acc[i * nq + q]),
                       irb_gepc(&t, dw, q * bstride + (int64_t)(t0 + i) * vl), vl * 4);
    LLVMBuildRetVoid(t.b);
    LLVMDisposeBuilder(t.b);
    return fn;
}

void sn_gen_convw(sn_irb *k, const sn_convw_desc *d) {
    int vl = k->vl;
    int Ob = ceil_div(d->O, vl), OBG = ceil_div(Ob, d->tq), C = d->in.C;
    int taps = d->KH * d->KW, TC = ceil_div(taps, d->taps);
    int qtail = Ob - (OBG - 1) * d->tq;
    LLVMValueRef x = irb_arg_buf(k, 0), dy = irb_arg_buf(k, 1), dw = irb_arg_buf(k, 2);
    irb_loop lt;
    LLVMValueRef task = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef tc = irb_remc(k, task, TC), rest = irb_divc(k, task, TC);
    LLVMValueRef c = irb_remc(k, rest, C), og = irb_divc(k, rest, C);
    LLVMValueRef ob0 = irb_mul(k, og, d->tq);
    const sn_cpu_layout *in = &d->in;
    LLVMValueRef coff = in->blocked ? irb_add(k, irb_mul(k, irb_divc(k, c, vl), sn_lay_plane(in)),
                                              irb_remc(k, c, vl))
                                    : irb_mul(k, c, sn_lay_plane(in));
    LLVMValueRef xc = irb_gep(k, x, coff);
    LLVMValueRef dyb = irb_gep(k, dy, irb_mul(k, ob0, sn_lay_plane(&d->dy)));
    LLVMValueRef dwb = irb_gep(
        k, dw,
        irb_add(k, irb_mul(k, ob0, (int64_t)C * taps * vl), irb_mul(k, c, (int64_t)taps * vl)));
    for (int chunk = 0; chunk < TC; chunk++) {
        int t0 = chunk * d->taps, nt = taps - t0 < d->taps ? taps - t0 : d->taps;
        LLVMBasicBlockRef cc = irb_if(k, irb_icmp_eq(k, tc, chunk), "chunk");
        for (int v = 0; v < 2; v++) {
            int nq = v == 0 ? d->tq : qtail;
            if (v == 1 && qtail == d->tq) continue;
            LLVMValueRef fn = convw_body(k, d, nq, t0, nt);
            LLVMValueRef cond = qtail == d->tq ? LLVMConstInt(LLVMInt1TypeInContext(k->ctx), 1, 0)
                                : v == 0       ? LLVMBuildNot(k->b, irb_icmp_eq(k, og, OBG - 1), "")
                                               : irb_icmp_eq(k, og, OBG - 1);
            LLVMBasicBlockRef cont = irb_if(k, cond, "variant");
            LLVMValueRef args[3] = {xc, dyb, dwb};
            LLVMBuildCall2(k->b, LLVMGlobalGetValueType(fn), fn, args, 3, "");
            irb_endif(k, cont);
        }
        irb_endif(k, cc);
    }
    irb_for_end(k, &lt);
}

/* ------------------------------------------------------------------ unpack ---- */

int64_t sn_unpack_tasks(const sn_unpack_desc *d, int vl) {
    return ceil_div(d->O, vl);
}

void sn_gen_unpack(sn_irb *k, const sn_unpack_desc *d) {
    int vl = k->vl;
    int64_t per = (int64_t)d->C * d->KH * d->KW; /* floats per output channel */
    LLVMValueRef src = irb_arg_buf(k, 0), dst = irb_arg_buf(k, 1);
    irb_loop lt, li, ll;
    LLVMValueRef ob = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "ob");
    LLVMValueRef i = irb_for(k, &li, irb_i64(k, 0), irb_i64(k, per), 1, "i");
    LLVMValueRef l = irb_for(k, &ll, irb_i64(k, 0), irb_i64(k, vl), 1, "l");
    LLVMValueRef o = irb_add(k, irb_mul(k, ob, vl), l);
    LLVMBasicBlockRef cont = irb_if(k, irb_icmp_lt(k, o, irb_i64(k, d->O)), "valid");
    LLVMValueRef v = irb_load(
        k, irb_gep(k, src, irb_add(k, irb_mul(k, irb_add(k, irb_mul(k, ob, per), i), vl), l)));
    irb_store(k, v, irb_gep(k, dst, irb_add(k, irb_mul(k, o, per), i)));
    irb_endif(k, cont);
    irb_for_end(k, &ll);
    irb_for_end(k, &li);
    irb_for_end(k, &lt);
}

/* ---------------------------------------------------- conv data grad (gather) ---- */

int64_t sn_convd_tasks(const sn_convd_desc *d, int vl) {
    return d->N * sn_lay_cb(&d->dx);
}

void sn_gen_convd(sn_irb *k, const sn_convd_desc *d) {
    int vl = k->vl;
    const sn_cpu_layout *dl = &d->dy, *xl = &d->dx;
    int Cb = sn_lay_cb(xl);
    LLVMValueRef dy = irb_arg_buf(k, 0), w = irb_arg_buf(k, 1), dx = irb_arg_buf(k, 2);
    LLVMValueRef m = d->epi.mask ? irb_arg_buf(k, 3) : NULL;
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef n = irb_divc(k, t, Cb), cb = irb_remc(k, t, Cb);
    LLVMValueRef plane =
        irb_add(k, irb_mul(k, n, sn_lay_image(xl)), irb_mul(k, cb, sn_lay_plane(xl)));
    /* zero the whole output plane (halo included), then accumulate into the interior */
    irb_loop lz;
    LLVMValueRef zi = irb_for(k, &lz, irb_i64(k, 0), irb_i64(k, sn_lay_plane(xl)), vl, "z");
    irb_vstore(k, irb_vsplat(k, 0.0f), irb_gep(k, dx, irb_add(k, plane, zi)), vl * 4);
    irb_for_end(k, &lz);
    LLVMValueRef wc = irb_gep(k, w, irb_mul(k, cb, (int64_t)d->O * d->KH * d->KW * vl));
    LLVMValueRef dyn = irb_gep(k, dy, irb_mul(k, n, sn_lay_image(dl)));
    int OH = dl->H, OW = dl->W;
    irb_loop ly, lx;
    LLVMValueRef ih = irb_for(k, &ly, irb_i64(k, 0), irb_i64(k, xl->H), 1, "ih");
    LLVMValueRef iw = irb_for(k, &lx, irb_i64(k, 0), irb_i64(k, xl->W), 1, "iw");
    LLVMValueRef acc = irb_slot(k);
    irb_slot_set(k, acc, irb_vsplat(k, 0.0f));
    for (int kh = 0; kh < d->KH; kh++)
        for (int kw = 0; kw < d->KW; kw++) {
            LLVMValueRef nh = irb_addc(k, ih, d->PH - kh), nw = irb_addc(k, iw, d->PW - kw);
            LLVMValueRef oh = irb_divc(k, nh, d->SH), ow = irb_divc(k, nw, d->SW);
            LLVMBuilderRef b = k->b;
            LLVMValueRef ok =
                LLVMBuildAnd(b,
                             LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, nh, irb_i64(k, 0), ""),
                                          irb_icmp_eq(k, irb_remc(k, nh, d->SH), 0), ""),
                             LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, nw, irb_i64(k, 0), ""),
                                          irb_icmp_eq(k, irb_remc(k, nw, d->SW), 0), ""),
                             "");
            ok = LLVMBuildAnd(b, ok,
                              LLVMBuildAnd(b, irb_icmp_lt(k, oh, irb_i64(k, OH)),
                                           irb_icmp_lt(k, ow, irb_i64(k, OW)), ""),
                              "");
            LLVMBasicBlockRef cont = irb_if(k, ok, "tap");
            LLVMValueRef pix = irb_add(k, irb_mul(k, irb_addc(k, oh, dl->halo), sn_lay_row(dl)),
                                       irb_mul(k, irb_addc(k, ow, dl->halo), vl));
            irb_loop lo;
            LLVMValueRef o = irb_for(k, &lo, irb_i64(k, 0), irb_i64(k, d->O), 1, "o");
            LLVMValueRef dys = irb_bcast_load(
                k, irb_gep(k, dyn,
                           irb_add(k,
                                   irb_add(k, irb_mul(k, irb_divc(k, o, vl), sn_lay_plane(dl)),
                                           irb_remc(k, o, vl)),
                                   pix)));
            LLVMValueRef wv =
                irb_vload(k,
                          irb_gep(k, wc,
                                  irb_addc(k, irb_mul(k, o, (int64_t)d->KH * d->KW * vl),
                                           (int64_t)(kh * d->KW + kw) * vl)),
                          vl * 4);
            irb_slot_set(k, acc, irb_fma(k, dys, wv, irb_slot_get(k, acc)));
            irb_for_end(k, &lo);
            irb_endif(k, cont);
        }
    LLVMValueRef at = irb_add(k, plane,
                              irb_add(k, irb_mul(k, irb_addc(k, ih, xl->halo), sn_lay_row(xl)),
                                      irb_mul(k, irb_addc(k, iw, xl->halo), vl)));
    LLVMValueRef v = irb_slot_get(k, acc);
    if (m) v = sn_gen_mask(k, &d->epi, v, irb_vload(k, irb_gep(k, m, at), vl * 4));
    irb_vstore(k, v, irb_gep(k, dx, at), vl * 4);
    irb_for_end(k, &lx);
    irb_for_end(k, &ly);
    irb_for_end(k, &lt);
}

/* ------------------------------------------------------- linear weight grad ---- */

void sn_linw_choose(sn_linw_desc *d, int vl, int nregs) {
    int budget = nregs >= 32 ? 28 : 12;
    int Kv = ceil_div(d->K, vl);
    d->tq = Kv < 4 ? Kv : 4;
    d->tr = budget / d->tq;
    if (d->tr > d->M) d->tr = d->M;
    if (d->tr < 1) d->tr = 1;
}

int64_t sn_linw_tasks(const sn_linw_desc *d, int vl) {
    return (int64_t)ceil_div(d->M, d->tr) * ceil_div(ceil_div(d->K, vl), d->tq);
}

static LLVMValueRef linw_body(sn_irb *k, const sn_linw_desc *d, int nr, int nq, int last_lanes) {
    int vl = k->vl;
    char name[64];
    snprintf(name, sizeof name, "linw_r%d_q%d_l%d", nr, nq, last_lanes);
    LLVMTypeRef params[3] = {k->t_pf, k->t_pf, k->t_pf};
    LLVMValueRef fn = LLVMAddFunction(k->mod, name, LLVMFunctionType(k->t_void, params, 3, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    sn_irb t = *k;
    t.fn = fn;
    t.b = LLVMCreateBuilderInContext(k->ctx);
    t.entry = LLVMAppendBasicBlockInContext(k->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(t.b, t.entry);
    LLVMValueRef x = LLVMGetParam(fn, 0), dy = LLVMGetParam(fn, 1), dw = LLVMGetParam(fn, 2);
    LLVMValueRef acc[64];
    for (int a = 0; a < nr * nq; a++) {
        acc[a] = irb_slot(&t);
        irb_slot_set(&t, acc[a], irb_vsplat(&t, 0.0f));
    }
    irb_loop ln;
    LLVMValueRef n = irb_for(&t, &ln, irb_i64(&t, 0), irb_i64(&t, d->N), 1, "n");
    LLVMValueRef xr = irb_gep(&t, x, irb_mul(&t, n, d->K)),
                 dr = irb_gep(&t, dy, irb_mul(&t, n, d->M));
    LLVMValueRef xv[8];
    for (int q = 0; q < nq; q++) {
        LLVMValueRef p = irb_gepc(&t, xr, (int64_t)q * vl);
        xv[q] =
            q == nq - 1 && last_lanes < vl ? irb_vload_n(&t, p, last_lanes) : irb_vload(&t, p, 4);
    }
    for (int r = 0; r < nr; r++) {
        LLVMValueRef s = irb_bcast_load(&t, irb_gepc(&t, dr, r));
        for (int q = 0; q < nq; q++)
            irb_slot_set(&t, acc[r * nq + q],
                         irb_fma(&t, s, xv[q], irb_slot_get(&t, acc[r * nq + q])));
    }
    irb_for_end(&t, &ln);
    for (int r = 0; r < nr; r++)
        for (int q = 0; q < nq; q++) {
            LLVMValueRef p = irb_gepc(&t, dw, (int64_t)r * d->K + (int64_t)q * vl);
            LLVMValueRef v = irb_slot_get(&t, acc[r * nq + q]);
            if (q == nq - 1 && last_lanes < vl)
                irb_vstore_n(&t, v, p, last_lanes);
            else
                irb_vstore(&t, v, p, 4);
        }
    LLVMBuildRetVoid(t.b);
    LLVMDisposeBuilder(t.b);
    return fn;
}

void sn_gen_linw(sn_irb *k, const sn_linw_desc *d) {
    int vl = k->vl;
    int Kv = ceil_div(d->K, vl), KG = ceil_div(Kv, d->tq), MR = ceil_div(d->M, d->tr);
    int rtail = d->M - (MR - 1) * d->tr, qtail = Kv - (KG - 1) * d->tq;
    int lanes_last = d->K - (Kv - 1) * vl;
    LLVMValueRef x = irb_arg_buf(k, 0), dy = irb_arg_buf(k, 1), dw = irb_arg_buf(k, 2);
    irb_loop lt;
    LLVMValueRef task = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef kg = irb_remc(k, task, KG), mr = irb_divc(k, task, KG);
    LLVMValueRef m0 = irb_mul(k, mr, d->tr), k0 = irb_mul(k, kg, (int64_t)d->tq * vl);
    LLVMValueRef xa = irb_gep(k, x, k0), da = irb_gep(k, dy, m0),
                 wa = irb_gep(k, dw, irb_add(k, irb_mul(k, m0, d->K), k0));
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            int nr = a ? rtail : d->tr, nq = b ? qtail : d->tq;
            if ((a && rtail == d->tr) || (b && (qtail == d->tq && lanes_last == vl))) continue;
            if (!a && MR == 1 && rtail != d->tr) continue;
            if (!b && KG == 1 && (qtail != d->tq || lanes_last != vl)) continue;
            int ll = b || (KG == 1) ? lanes_last : vl;
            LLVMValueRef fn = linw_body(k, d, nr, nq, ll);
            LLVMValueRef cond = LLVMConstInt(LLVMInt1TypeInContext(k->ctx), 1, 0);
            if (rtail != d->tr)
                cond = LLVMBuildAnd(k->b, cond,
                                    a ? irb_icmp_eq(k, mr, MR - 1)
                                      : LLVMBuildNot(k->b, irb_icmp_eq(k, mr, MR - 1), ""),
                                    "");
            if (qtail != d->tq || lanes_last != vl)
                cond = LLVMBuildAnd(k->b, cond,
                                    b ? irb_icmp_eq(k, kg, KG - 1)
                                      : LLVMBuildNot(k->b, irb_icmp_eq(k, kg, KG - 1), ""),
                                    "");
            LLVMBasicBlockRef cont = irb_if(k, cond, "variant");
            LLVMValueRef args[3] = {xa, da, wa};
            LLVMBuildCall2(k->b, LLVMGlobalGetValueType(fn), fn, args, 3, "");
            irb_endif(k, cont);
        }
    irb_for_end(k, &lt);
}

/* --------------------------------------------------------------- pool bwd ---- */

int64_t sn_poolb_tasks(const sn_poolb_desc *d) {
    return d->N * sn_lay_cb(&d->x);
}

void sn_gen_poolb(sn_irb *k, const sn_poolb_desc *d) {
    int vl = k->vl;
    const sn_cpu_layout *xl = &d->x, *yl = &d->dy;
    int Cb = sn_lay_cb(xl);
    LLVMValueRef x = irb_arg_buf(k, 0), dy = irb_arg_buf(k, 1), dx = irb_arg_buf(k, 2);
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef n = irb_divc(k, t, Cb), cb = irb_remc(k, t, Cb);
    LLVMValueRef xoff =
        irb_add(k, irb_mul(k, n, sn_lay_image(xl)), irb_mul(k, cb, sn_lay_plane(xl)));
    LLVMValueRef xp = irb_gep(k, x, xoff), dxp = irb_gep(k, dx, xoff);
    LLVMValueRef yp = irb_gep(
        k, dy, irb_add(k, irb_mul(k, n, sn_lay_image(yl)), irb_mul(k, cb, sn_lay_plane(yl))));
    irb_loop lz;
    LLVMValueRef zi = irb_for(k, &lz, irb_i64(k, 0), irb_i64(k, sn_lay_plane(xl)), vl, "z");
    irb_vstore(k, irb_vsplat(k, 0.0f), irb_gep(k, dxp, zi), vl * 4);
    irb_for_end(k, &lz);
    irb_loop lo, lw;
    LLVMValueRef oh = irb_for(k, &lo, irb_i64(k, 0), irb_i64(k, yl->H), 1, "oh");
    LLVMValueRef ow = irb_for(k, &lw, irb_i64(k, 0), irb_i64(k, yl->W), 1, "ow");
    LLVMValueRef g =
        irb_vload(k,
                  irb_gep(k, yp,
                          irb_add(k, irb_mul(k, irb_addc(k, oh, yl->halo), sn_lay_row(yl)),
                                  irb_mul(k, irb_addc(k, ow, yl->halo), vl))),
                  vl * 4);
    LLVMBuilderRef b = k->b;
    int taps = d->KH * d->KW;
    LLVMValueRef addr[64], okv[64];
    for (int tp = 0; tp < taps && tp < 64; tp++) {
        int kh = tp / d->KW, kw = tp % d->KW;
        LLVMValueRef ih = irb_addc(k, irb_mul(k, oh, d->SH), kh - d->PH),
                     iw = irb_addc(k, irb_mul(k, ow, d->SW), kw - d->PW);
        LLVMValueRef ok =
            LLVMBuildAnd(b,
                         LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, ih, irb_i64(k, 0), ""),
                                      irb_icmp_lt(k, ih, irb_i64(k, xl->H)), ""),
                         LLVMBuildAnd(b, LLVMBuildICmp(b, LLVMIntSGE, iw, irb_i64(k, 0), ""),
                                      irb_icmp_lt(k, iw, irb_i64(k, xl->W)), ""),
                         "");
        /* clamp into the map so the address is always valid */
        LLVMValueRef ch = LLVMBuildSelect(b, ok, ih, irb_i64(k, 0), ""),
                     cw = LLVMBuildSelect(b, ok, iw, irb_i64(k, 0), "");
        addr[tp] = irb_add(k, irb_mul(k, irb_addc(k, ch, xl->halo), sn_lay_row(xl)),
                           irb_mul(k, irb_addc(k, cw, xl->halo), vl));
        okv[tp] = ok;
    }
    if (d->max) {
        LLVMValueRef best = irb_vsplat(k, -INFINITY), idx = irb_vsplat(k, -1.0f);
        for (int tp = 0; tp < taps; tp++) {
            LLVMValueRef v = irb_vload(k, irb_gep(k, xp, addr[tp]), vl * 4);
            LLVMValueRef cmp = LLVMBuildFCmp(b, LLVMRealOGT, v, best, "");
            LLVMValueRef gt = LLVMBuildSelect(b, okv[tp], cmp, LLVMConstNull(LLVMTypeOf(cmp)), "");
            best = LLVMBuildSelect(b, gt, v, best, "");
            idx = LLVMBuildSelect(b, gt, irb_vsplat(k, (float)tp), idx, "");
        }
        for (int tp = 0; tp < taps; tp++) {
            LLVMValueRef hit = LLVMBuildFCmp(b, LLVMRealOEQ, idx, irb_vsplat(k, (float)tp), "");
            LLVMValueRef p = irb_gep(k, dxp, addr[tp]);
            irb_vstore(k,
                       irb_fadd(k, irb_vload(k, p, vl * 4),
                                LLVMBuildSelect(b, hit, g, irb_vsplat(k, 0.0f), "")),
                       p, vl * 4);
        }
    } else {
        LLVMValueRef share = irb_fmul(k, g, irb_vsplat(k, 1.0f / (float)taps));
        for (int tp = 0; tp < taps; tp++) {
            LLVMBasicBlockRef cont = irb_if(k, okv[tp], "in");
            LLVMValueRef p = irb_gep(k, dxp, addr[tp]);
            irb_vstore(k, irb_fadd(k, irb_vload(k, p, vl * 4), share), p, vl * 4);
            irb_endif(k, cont);
        }
    }
    irb_for_end(k, &lw);
    irb_for_end(k, &lo);
    irb_for_end(k, &lt);
}

/* ------------------------------------------------------------- loss grads ---- */

static LLVMValueRef dexp(sn_irb *k, const char *name, LLVMValueRef x) {
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(k->mod, id, &dbl, 1);
    return LLVMBuildCall2(k->b, LLVMIntrinsicGetType(k->ctx, id, &dbl, 1), fn, &x, 1, "");
}

void sn_gen_loss_grad(sn_irb *k, const sn_loss_desc *d) {
    LLVMBuilderRef b = k->b;
    LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
    LLVMValueRef z = irb_arg_buf(k, 0), out = irb_arg_buf(k, 2);
    LLVMValueRef labp =
        LLVMBuildGEP2(b, k->t_pi8, k->a_ptrs, (LLVMValueRef[]){irb_i64(k, 1)}, 1, "");
    LLVMValueRef lab = LLVMBuildBitCast(b, LLVMBuildLoad2(b, k->t_pi8, labp, ""), k->t_pi32, "");
    int K = d->K;
    double eps = d->smoothing;
    /* the mean over the global batch (a data-parallel rank's share of it), or over N */
    LLVMValueRef N =
        d->over_gbatch
            ? LLVMBuildSIToFP(b, sn_kctx_load(k, sn_kctx_gbatch_offset(), k->t_i64), dbl, "")
            : LLVMConstReal(dbl, (double)d->N);
    irb_loop ln;
    LLVMValueRef n = irb_for(k, &ln, irb_i64(k, 0), irb_i64(k, d->N), 1, "n");
    LLVMValueRef zr = irb_gep(k, z, irb_mul(k, n, K)), gr = irb_gep(k, out, irb_mul(k, n, K));
    LLVMValueRef label = LLVMBuildSExt(
        b, LLVMBuildLoad2(b, k->t_i32, LLVMBuildGEP2(b, k->t_i32, lab, &n, 1, ""), ""), k->t_i64,
        "");
    LLVMValueRef zj[1024];
    for (int j = 0; j < K; j++) zj[j] = LLVMBuildFPExt(b, irb_load(k, irb_gepc(k, zr, j)), dbl, "");
    if (!d->mse) {
        LLVMValueRef mx = LLVMConstReal(dbl, -INFINITY);
        for (int j = 0; j < K; j++)
            mx = LLVMBuildSelect(b, LLVMBuildFCmp(b, LLVMRealOGT, zj[j], mx, ""), zj[j], mx, "");
        LLVMValueRef se = LLVMConstReal(dbl, 0.0);
        for (int j = 0; j < K; j++)
            se = LLVMBuildFAdd(b, se, dexp(k, "llvm.exp", LLVMBuildFSub(b, zj[j], mx, "")), "");
        LLVMValueRef lse = LLVMBuildFAdd(b, mx, dexp(k, "llvm.log", se), "");
        for (int j = 0; j < K; j++) {
            LLVMValueRef isl = LLVMBuildICmp(b, LLVMIntEQ, label, irb_i64(k, j), "");
            LLVMValueRef q = LLVMBuildSelect(b, isl, LLVMConstReal(dbl, 1.0 - eps + eps / K),
                                             LLVMConstReal(dbl, eps / K), "");
            LLVMValueRef pj = dexp(k, "llvm.exp", LLVMBuildFSub(b, zj[j], lse, ""));
            LLVMValueRef gv = LLVMBuildFDiv(b, LLVMBuildFSub(b, pj, q, ""), N, "");
            irb_store(k, LLVMBuildFPTrunc(b, gv, k->t_f32, ""), irb_gepc(k, gr, j));
        }
    } else {
        for (int j = 0; j < K; j++) {
            LLVMValueRef isl = LLVMBuildICmp(b, LLVMIntEQ, label, irb_i64(k, j), "");
            LLVMValueRef oh =
                LLVMBuildSelect(b, isl, LLVMConstReal(dbl, 1.0), LLVMConstReal(dbl, 0.0), "");
            LLVMValueRef gv = LLVMBuildFDiv(
                b, LLVMBuildFMul(b, LLVMConstReal(dbl, 2.0), LLVMBuildFSub(b, zj[j], oh, ""), ""),
                LLVMBuildFMul(b, N, LLVMConstReal(dbl, (double)K), ""), "");
            irb_store(k, LLVMBuildFPTrunc(b, gv, k->t_f32, ""), irb_gepc(k, gr, j));
        }
    }
    irb_for_end(k, &ln);
}

/* -------------------------------------------------------------- optimizers ---- */

#define OPT_CHUNK 16384

int64_t sn_optim_tasks(const sn_optim_desc *d) {
    return (d->n + OPT_CHUNK - 1) / OPT_CHUNK;
}

static void optim_vec(sn_irb *k, const sn_optim_desc *d, LLVMValueRef p, LLVMValueRef g,
                      LLVMValueRef s1, LLVMValueRef s2, LLVMValueRef off, int lanes,
                      LLVMValueRef lr, LLVMValueRef step_size, LLVMValueRef bc2_sqrt) {
    LLVMValueRef pp = irb_gep(k, p, off), gp = irb_gep(k, g, off);
    LLVMValueRef pv = lanes == k->vl ? irb_vload(k, pp, 4) : irb_vload_n(k, pp, lanes);
    LLVMValueRef gv = lanes == k->vl ? irb_vload(k, gp, 4) : irb_vload_n(k, gp, lanes);
    if (d->weight_decay != 0.0f)
        gv = irb_fadd(k, gv, irb_fmul(k, irb_vsplat(k, d->weight_decay), pv));
    if (!d->adam) {
        if (d->momentum != 0.0f) {
            LLVMValueRef bp = irb_gep(k, s1, off);
            LLVMValueRef buf = lanes == k->vl ? irb_vload(k, bp, 4) : irb_vload_n(k, bp, lanes);
            buf = irb_fadd(k, irb_fmul(k, irb_vsplat(k, d->momentum), buf), gv);
            if (lanes == k->vl)
                irb_vstore(k, buf, bp, 4);
            else
                irb_vstore_n(k, buf, bp, lanes);
            gv = d->nesterov ? irb_fadd(k, gv, irb_fmul(k, irb_vsplat(k, d->momentum), buf)) : buf;
        }
        pv = irb_fsub(k, pv, irb_fmul(k, lr, gv));
    } else {
        LLVMValueRef mp = irb_gep(k, s1, off), vp = irb_gep(k, s2, off);
        LLVMValueRef m = lanes == k->vl ? irb_vload(k, mp, 4) : irb_vload_n(k, mp, lanes);
        LLVMValueRef v = lanes == k->vl ? irb_vload(k, vp, 4) : irb_vload_n(k, vp, lanes);
        m = irb_fadd(k, irb_fmul(k, irb_vsplat(k, d->beta1), m),
                     irb_fmul(k, irb_vsplat(k, 1.0f - d->beta1), gv));
        v = irb_fadd(k, irb_fmul(k, irb_vsplat(k, d->beta2), v),
                     irb_fmul(k, irb_fmul(k, irb_vsplat(k, 1.0f - d->beta2), gv), gv));
        LLVMValueRef denom =
            irb_fadd(k, irb_fdiv(k, irb_unary(k, "llvm.sqrt", v), bc2_sqrt), irb_vsplat(k, d->eps));
        pv = irb_fsub(k, pv, irb_fdiv(k, irb_fmul(k, step_size, m), denom));
        if (lanes == k->vl) {
            irb_vstore(k, m, mp, 4);
            irb_vstore(k, v, vp, 4);
        } else {
            irb_vstore_n(k, m, mp, lanes);
            irb_vstore_n(k, v, vp, lanes);
        }
    }
    if (lanes == k->vl)
        irb_vstore(k, pv, pp, 4);
    else
        irb_vstore_n(k, pv, pp, lanes);
}

void sn_gen_optim(sn_irb *k, const sn_optim_desc *d) {
    int vl = k->vl;
    LLVMBuilderRef b = k->b;
    LLVMValueRef p = irb_arg_buf(k, 0), g = irb_arg_buf(k, 1);
    LLVMValueRef s1 = d->adam || d->momentum != 0.0f ? irb_arg_buf(k, 2) : NULL;
    LLVMValueRef s2 = d->adam ? irb_arg_buf(k, 3) : NULL;
    LLVMValueRef lrs = sn_kctx_load(k, sn_kctx_lr_offset(), k->t_f32);
    LLVMValueRef lr = irb_bcast(k, lrs), step_size = NULL, bc2_sqrt = NULL;
    if (d->adam) {
        /* bias corrections as torch.optim.Adam: step_size = lr / (1 - beta1^t),
         * denominator sqrt(v) / sqrt(1 - beta2^t) + eps */
        LLVMTypeRef dbl = LLVMDoubleTypeInContext(k->ctx);
        LLVMValueRef st =
            LLVMBuildSIToFP(b, sn_kctx_load(k, sn_kctx_step_offset(), k->t_i64), dbl, "");
        unsigned id = LLVMLookupIntrinsicID("llvm.pow", 8);
        LLVMValueRef pw = LLVMGetIntrinsicDeclaration(k->mod, id, &dbl, 1);
        LLVMTypeRef pt = LLVMIntrinsicGetType(k->ctx, id, &dbl, 1);
        LLVMValueRef a1[2] = {LLVMConstReal(dbl, (double)d->beta1), st},
                     a2[2] = {LLVMConstReal(dbl, (double)d->beta2), st};
        LLVMValueRef bc1 =
            LLVMBuildFSub(b, LLVMConstReal(dbl, 1.0), LLVMBuildCall2(b, pt, pw, a1, 2, ""), "");
        LLVMValueRef bc2 =
            LLVMBuildFSub(b, LLVMConstReal(dbl, 1.0), LLVMBuildCall2(b, pt, pw, a2, 2, ""), "");
        LLVMValueRef ss = LLVMBuildFPTrunc(
            b, LLVMBuildFDiv(b, LLVMBuildFPExt(b, lrs, dbl, ""), bc1, ""), k->t_f32, "");
        unsigned sid = LLVMLookupIntrinsicID("llvm.sqrt", 9);
        LLVMValueRef sq = LLVMGetIntrinsicDeclaration(k->mod, sid, &dbl, 1);
        LLVMValueRef b2s = LLVMBuildFPTrunc(
            b, LLVMBuildCall2(b, LLVMIntrinsicGetType(k->ctx, sid, &dbl, 1), sq, &bc2, 1, ""),
            k->t_f32, "");
        step_size = irb_bcast(k, ss);
        bc2_sqrt = irb_bcast(k, b2s);
    }
    int64_t nfull_chunks = d->n / OPT_CHUNK, rem = d->n % OPT_CHUNK;
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef start = irb_mul(k, t, OPT_CHUNK);
    LLVMValueRef full = irb_icmp_lt(k, t, irb_i64(k, nfull_chunks));
    LLVMBasicBlockRef cont = irb_if(k, full, "full");
    irb_loop li;
    LLVMValueRef i = irb_for(k, &li, irb_i64(k, 0), irb_i64(k, OPT_CHUNK), vl, "i");
    optim_vec(k, d, p, g, s1, s2, irb_add(k, start, i), vl, lr, step_size, bc2_sqrt);
    irb_for_end(k, &li);
    irb_endif(k, cont);
    if (rem) {
        cont = irb_if(k, LLVMBuildNot(b, full, ""), "rest");
        int64_t vfull = rem / vl * vl;
        if (vfull) {
            irb_loop lr2;
            LLVMValueRef j = irb_for(k, &lr2, irb_i64(k, 0), irb_i64(k, vfull), vl, "j");
            optim_vec(k, d, p, g, s1, s2, irb_add(k, start, j), vl, lr, step_size, bc2_sqrt);
            irb_for_end(k, &lr2);
        }
        if (rem > vfull)
            optim_vec(k, d, p, g, s1, s2, irb_addc(k, start, vfull), (int)(rem - vfull), lr,
                      step_size, bc2_sqrt);
        irb_endif(k, cont);
    }
    irb_for_end(k, &lt);
}
