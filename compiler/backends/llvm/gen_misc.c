/* Pooling, elementwise and layout-conversion kernels. These move little arithmetic, so
 * they favour simple loops; what matters is that they exist for every op (so fusion can
 * be switched off) and handle every layout and halo. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "kernels.h"

/* ---------------------------------------------------------------- pooling ---- */

int64_t sn_pool_tasks(const sn_pool_desc *d) {
    return d->N * sn_lay_cb(&d->in);
}

/* Zeroes the halo of one plane (rows x cols of vl-wide pixels around the interior). */
static void zero_plane_halo(sn_irb *k, LLVMValueRef plane, const sn_cpu_layout *l) {
    int h = l->halo;
    if (h == 0) return;
    int vl = k->vl;
    int64_t row = sn_lay_row(l), wp = sn_lay_wp(l), hp = sn_lay_hp(l);
    LLVMValueRef zero = irb_vsplat(k, 0.0f);
    irb_loop lr;
    LLVMValueRef r = irb_for(k, &lr, irb_i64(k, 0), irb_i64(k, hp), 1, "zr");
    LLVMValueRef rp = irb_gep(k, plane, irb_mul(k, r, row));
    LLVMValueRef edge = LLVMBuildOr(k->b, irb_icmp_lt(k, r, irb_i64(k, h)),
                                    LLVMBuildICmp(k->b, LLVMIntSGE, r, irb_i64(k, hp - h), ""), "");
    LLVMBasicBlockRef cont = irb_if(k, edge, "full");
    for (int64_t c = 0; c < wp; c++) irb_vstore(k, zero, irb_gepc(k, rp, c * vl), vl * 4);
    irb_endif(k, cont);
    for (int c = 0; c < h; c++) {
        irb_vstore(k, zero, irb_gepc(k, rp, (int64_t)c * vl), vl * 4);
        irb_vstore(k, zero, irb_gepc(k, rp, (wp - 1 - c) * vl), vl * 4);
    }
    irb_for_end(k, &lr);
}

void sn_gen_pool(sn_irb *k, const sn_pool_desc *d) {
    int vl = k->vl;
    const sn_cpu_layout *in = &d->in, *out = &d->out;
    int Cb = sn_lay_cb(in);
    LLVMValueRef x = irb_arg_buf(k, 0), y = irb_arg_buf(k, 1);
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef n = irb_divc(k, t, Cb), cb = irb_remc(k, t, Cb);
    LLVMValueRef xp = irb_gep(
        k, x, irb_add(k, irb_mul(k, n, sn_lay_image(in)), irb_mul(k, cb, sn_lay_plane(in))));
    LLVMValueRef yp = irb_gep(
        k, y, irb_add(k, irb_mul(k, n, sn_lay_image(out)), irb_mul(k, cb, sn_lay_plane(out))));
    zero_plane_halo(k, yp, out);
    irb_loop lo, lw;
    LLVMValueRef oh = irb_for(k, &lo, irb_i64(k, 0), irb_i64(k, out->H), 1, "oh");
    LLVMValueRef ow = irb_for(k, &lw, irb_i64(k, 0), irb_i64(k, out->W), 1, "ow");
    float padv = d->max ? -INFINITY : 0.0f;
    LLVMValueRef acc = NULL;
    for (int kh = 0; kh < d->KH; kh++)
        for (int kw = 0; kw < d->KW; kw++) {
            LLVMValueRef ih = irb_addc(k, irb_mul(k, oh, d->SH), kh - d->PH);
            LLVMValueRef iw = irb_addc(k, irb_mul(k, ow, d->SW), kw - d->PW);
            LLVMValueRef v;
            if (d->PH == 0 && d->PW == 0) {
                v = irb_vload(
                    k,
                    irb_gep(k, xp,
                            irb_add(k, irb_mul(k, irb_addc(k, ih, in->halo), sn_lay_row(in)),
                                    irb_mul(k, irb_addc(k, iw, in->halo), vl))),
                    vl * 4);
            } else {
                /* clamp the address into the map, then substitute the pad value */
                LLVMValueRef okh =
                    LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, ih, irb_i64(k, 0), ""),
                                 irb_icmp_lt(k, ih, irb_i64(k, in->H)), "");
                LLVMValueRef okw =
                    LLVMBuildAnd(k->b, LLVMBuildICmp(k->b, LLVMIntSGE, iw, irb_i64(k, 0), ""),
                                 irb_icmp_lt(k, iw, irb_i64(k, in->W)), "");
                LLVMValueRef ok = LLVMBuildAnd(k->b, okh, okw, "");
                LLVMValueRef ch = LLVMBuildSelect(k->b, okh, ih, irb_i64(k, 0), "");
                LLVMValueRef cw = LLVMBuildSelect(k->b, okw, iw, irb_i64(k, 0), "");
                LLVMValueRef ld = irb_vload(
                    k,
                    irb_gep(k, xp,
                            irb_add(k, irb_mul(k, irb_addc(k, ch, in->halo), sn_lay_row(in)),
                                    irb_mul(k, irb_addc(k, cw, in->halo), vl))),
                    vl * 4);
                v = LLVMBuildSelect(k->b, ok, ld, irb_vsplat(k, padv), "");
            }
            if (!acc)
                acc = v;
            else
                acc = d->max ? irb_fmax(k, acc, v) : irb_fadd(k, acc, v);
        }
    if (!d->max && !d->sum) acc = irb_fmul(k, acc, irb_vsplat(k, 1.0f / (float)(d->KH * d->KW)));
    acc = sn_gen_epi_store_value(k, &d->epi, sn_gen_epilogue(k, &d->epi, acc));
    irb_vstore(k, acc,
               irb_gep(k, yp,
                       irb_add(k, irb_mul(k, irb_addc(k, oh, out->halo), sn_lay_row(out)),
                               irb_mul(k, irb_addc(k, ow, out->halo), vl))),
               vl * 4);
    irb_for_end(k, &lw);
    irb_for_end(k, &lo);
    irb_for_end(k, &lt);
}

/* ------------------------------------------------------------ elementwise ---- */

int64_t sn_eltwise_tasks(const sn_eltwise_desc *d) {
    return d->lay.blocked ? d->N * sn_lay_cb(&d->lay) : d->N;
}

/* Batch norm around its mean: ((v - hi) - lo) * s + b (the subtraction is exact near the
 * mean, so a large mean costs nothing; see sn_prep_bn_params). */
static LLVMValueRef bn_normalize(sn_irb *k, LLVMValueRef v, LLVMValueRef s, LLVMValueRef b,
                                 LLVMValueRef hi, LLVMValueRef lo) {
    return irb_fma(k, irb_fsub(k, irb_fsub(k, v, hi), lo), s, b);
}

void sn_gen_eltwise(sn_irb *k, const sn_eltwise_desc *d) {
    int vl = k->vl;
    const sn_cpu_layout *l = &d->lay;
    LLVMValueRef x = irb_arg_buf(k, 0), y = irb_arg_buf(k, 1);
    LLVMValueRef sc = d->affine ? irb_arg_buf(k, 2) : NULL,
                 sh = d->affine ? irb_arg_buf(k, 3) : NULL;
    /* the sections of sh: b, then the mean's hi and lo */
    const int64_t P = (int64_t)(l->C + vl - 1) / vl * vl;
    LLVMValueRef shi = d->affine ? irb_gepc(k, sh, P) : NULL,
                 slo = d->affine ? irb_gepc(k, sh, 2 * P) : NULL;
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    if (l->blocked) {
        int Cb = sn_lay_cb(l);
        LLVMValueRef n = irb_divc(k, t, Cb), cb = irb_remc(k, t, Cb);
        LLVMValueRef off =
            irb_add(k, irb_mul(k, n, sn_lay_image(l)), irb_mul(k, cb, sn_lay_plane(l)));
        LLVMValueRef xp = irb_gep(k, x, off), yp = irb_gep(k, y, off);
        LLVMValueRef s = NULL, b = NULL, hi = NULL, lo = NULL;
        if (d->affine) {
            LLVMValueRef co = irb_mul(k, cb, vl);
            s = irb_vload(k, irb_gep(k, sc, co), vl * 4);
            b = irb_vload(k, irb_gep(k, sh, co), vl * 4);
            hi = irb_vload(k, irb_gep(k, shi, co), vl * 4);
            lo = irb_vload(k, irb_gep(k, slo, co), vl * 4);
        }
        zero_plane_halo(k, yp, l);
        irb_loop lr, lc;
        LLVMValueRef r = irb_for(k, &lr, irb_i64(k, 0), irb_i64(k, l->H), 1, "r");
        LLVMValueRef c = irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, l->W), 1, "c");
        LLVMValueRef po = irb_add(k, irb_mul(k, irb_addc(k, r, l->halo), sn_lay_row(l)),
                                  irb_mul(k, irb_addc(k, c, l->halo), vl));
        LLVMValueRef v = irb_vload(k, irb_gep(k, xp, po), vl * 4);
        if (d->affine) v = bn_normalize(k, v, s, b, hi, lo);
        v = sn_gen_epi_store_value(k, &d->epi, sn_gen_epilogue(k, &d->epi, v));
        irb_vstore(k, v, irb_gep(k, yp, po), vl * 4);
        irb_for_end(k, &lc);
        irb_for_end(k, &lr);
    } else if (l->H == 1 && l->W == 1 && l->halo == 0) {
        /* flat [N][C]: vectors run along the channels */
        LLVMValueRef xp = irb_gep(k, x, irb_mul(k, t, l->C)),
                     yp = irb_gep(k, y, irb_mul(k, t, l->C));
        int full = l->C / vl * vl;
        for (int part = 0; part < 2; part++) {
            int lanes = part == 0 ? vl : l->C - full;
            if ((part == 0 && full == 0) || lanes == 0) continue;
            irb_loop lc;
            LLVMValueRef c = part == 0 ? irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, full), vl, "c")
                                       : irb_i64(k, full);
            LLVMValueRef v = lanes == vl ? irb_vload(k, irb_gep(k, xp, c), 4)
                                         : irb_vload_n(k, irb_gep(k, xp, c), lanes);
            if (d->affine) {
                LLVMValueRef s = lanes == vl ? irb_vload(k, irb_gep(k, sc, c), 4)
                                             : irb_vload_n(k, irb_gep(k, sc, c), lanes);
                LLVMValueRef b = lanes == vl ? irb_vload(k, irb_gep(k, sh, c), 4)
                                             : irb_vload_n(k, irb_gep(k, sh, c), lanes);
                LLVMValueRef hi = lanes == vl ? irb_vload(k, irb_gep(k, shi, c), 4)
                                              : irb_vload_n(k, irb_gep(k, shi, c), lanes);
                LLVMValueRef lo = lanes == vl ? irb_vload(k, irb_gep(k, slo, c), 4)
                                              : irb_vload_n(k, irb_gep(k, slo, c), lanes);
                v = bn_normalize(k, v, s, b, hi, lo);
            }
            v = sn_gen_epi_store_value(k, &d->epi, sn_gen_epilogue(k, &d->epi, v));
            if (lanes == vl)
                irb_vstore(k, v, irb_gep(k, yp, c), 4);
            else
                irb_vstore_n(k, v, irb_gep(k, yp, c), lanes);
            if (part == 0) irb_for_end(k, &lc);
        }
    } else {
        /* plain map without halo: one image per task; vectors run along each channel's
         * contiguous plane */
        int64_t plane = sn_lay_plane(l);
        LLVMValueRef img = irb_mul(k, t, sn_lay_image(l));
        irb_loop lc;
        LLVMValueRef c = irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, l->C), 1, "c");
        LLVMValueRef off = irb_add(k, img, irb_mul(k, c, plane));
        LLVMValueRef xp = irb_gep(k, x, off), yp = irb_gep(k, y, off);
        LLVMValueRef s = NULL, b = NULL, hi = NULL, lo = NULL;
        if (d->affine) {
            s = irb_bcast_load(k, irb_gep(k, sc, c));
            b = irb_bcast_load(k, irb_gep(k, sh, c));
            hi = irb_bcast_load(k, irb_gep(k, shi, c));
            lo = irb_bcast_load(k, irb_gep(k, slo, c));
        }
        int64_t full = plane / vl * vl;
        if (full > 0) {
            irb_loop li;
            LLVMValueRef i = irb_for(k, &li, irb_i64(k, 0), irb_i64(k, full), vl, "i");
            LLVMValueRef v = irb_vload(k, irb_gep(k, xp, i), 4);
            if (d->affine) v = bn_normalize(k, v, s, b, hi, lo);
            v = sn_gen_epi_store_value(k, &d->epi, sn_gen_epilogue(k, &d->epi, v));
            irb_vstore(k, v, irb_gep(k, yp, i), 4);
            irb_for_end(k, &li);
        }
        if (plane > full) {
            LLVMValueRef v = irb_vload_n(k, irb_gepc(k, xp, full), (int)(plane - full));
            if (d->affine) v = bn_normalize(k, v, s, b, hi, lo);
            v = sn_gen_epi_store_value(k, &d->epi, sn_gen_epilogue(k, &d->epi, v));
            irb_vstore_n(k, v, irb_gepc(k, yp, full), (int)(plane - full));
        }
        irb_for_end(k, &lc);
    }
    irb_for_end(k, &lt);
}

/* ---------------------------------------------------------------- reorder ---- */

int64_t sn_reorder_tasks(const sn_reorder_desc *d) {
    return d->N;
}

void sn_gen_reorder(sn_irb *k, const sn_reorder_desc *d) {
    const sn_cpu_layout *s = &d->src, *o = &d->dst;
    LLVMValueRef x = irb_arg_buf(k, 0), y = irb_arg_buf(k, 1);
    irb_loop lt;
    LLVMValueRef n = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "n");
    LLVMValueRef xi = irb_gep(k, x, irb_mul(k, n, sn_lay_image(s)));
    LLVMValueRef yi = irb_gep(k, y, irb_mul(k, n, sn_lay_image(o)));
    /* Clear the destination image first when it has a halo or padded channel lanes. */
    int padded_lanes = o->blocked && o->C % o->vl != 0;
    if (o->halo > 0 || padded_lanes) {
        irb_loop lz;
        LLVMValueRef i = irb_for(k, &lz, irb_i64(k, 0), irb_i64(k, sn_lay_image(o)), 1, "z");
        irb_store(k, irb_f32(k, 0.0f), irb_gep(k, yi, i));
        irb_for_end(k, &lz);
    }
    /* every logical element (c, y, x) of the source (of the destination for an unflatten) */
    const sn_cpu_layout *logical = d->unflatten ? o : s;
    irb_loop lc, ly, lx;
    LLVMValueRef c = irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, logical->C), 1, "c");
    LLVMValueRef yy = irb_for(k, &ly, irb_i64(k, 0), irb_i64(k, logical->H), 1, "y");
    LLVMValueRef xx = irb_for(k, &lx, irb_i64(k, 0), irb_i64(k, logical->W), 1, "x");
    LLVMValueRef sp = s->blocked
                          ? irb_add(k,
                                    irb_add(k, irb_mul(k, irb_divc(k, c, s->vl), sn_lay_plane(s)),
                                            irb_remc(k, c, s->vl)),
                                    irb_add(k, irb_mul(k, irb_addc(k, yy, s->halo), sn_lay_row(s)),
                                            irb_mul(k, irb_addc(k, xx, s->halo), sn_lay_pix(s))))
                          : irb_add(k, irb_mul(k, c, sn_lay_plane(s)),
                                    irb_add(k, irb_mul(k, irb_addc(k, yy, s->halo), sn_lay_row(s)),
                                            irb_addc(k, xx, s->halo)));
    if (d->unflatten) /* the source is plain [C*H*W] in PyTorch order */
        sp = irb_add(k, irb_mul(k, irb_add(k, irb_mul(k, c, o->H), yy), o->W), xx);
    LLVMValueRef v = irb_load(k, irb_gep(k, xi, sp));
    if (d->round_bf16) v = sn_gen_round_bf16(k, v);
    LLVMValueRef dp;
    if (d->flatten) {
        /* PyTorch flatten order: ((c * H) + y) * W + x, into a plain [N][C*H*W] */
        dp = irb_add(k, irb_mul(k, irb_add(k, irb_mul(k, c, s->H), yy), s->W), xx);
    } else if (o->blocked) {
        dp = irb_add(
            k,
            irb_add(k, irb_mul(k, irb_divc(k, c, o->vl), sn_lay_plane(o)), irb_remc(k, c, o->vl)),
            irb_add(k, irb_mul(k, irb_addc(k, yy, o->halo), sn_lay_row(o)),
                    irb_mul(k, irb_addc(k, xx, o->halo), sn_lay_pix(o))));
    } else {
        dp = irb_add(k, irb_mul(k, c, sn_lay_plane(o)),
                     irb_add(k, irb_mul(k, irb_addc(k, yy, o->halo), sn_lay_row(o)),
                             irb_addc(k, xx, o->halo)));
    }
    irb_store(k, v, irb_gep(k, yi, dp));
    irb_for_end(k, &lx);
    irb_for_end(k, &ly);
    irb_for_end(k, &lc);
    irb_for_end(k, &lt);
}

/* ------------------------------------------------------------------- peak ---- */

void sn_gen_peak(sn_irb *k, int64_t iters) {
    sn_gen_peak_kind(k, iters, SN_PEAK_FMA);
}

void sn_gen_peak_kind(sn_irb *k, int64_t iters, sn_peak_kind kind) {
    static const char *const name[] = {"", "llvm.x86.avx512bf16.dpbf16ps.512",
                                       "llvm.x86.avx512.vpdpbusd.512"};
    LLVMValueRef out = irb_arg_buf(k, 0);
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMTypeRef acc_ty = kind == SN_PEAK_VPDPBUSD ? k->t_vi32 : k->t_vf;
    LLVMValueRef acc[12];
    for (int i = 0; i < 12; i++) {
        acc[i] = irb_slot(k);
        if (kind == SN_PEAK_VPDPBUSD) /* the same slot, holding int32 lanes */
            acc[i] = LLVMBuildBitCast(k->b, acc[i], LLVMPointerType(acc_ty, 0), "");
        LLVMValueRef init = irb_vsplat(k, (float)i);
        LLVMBuildStore(k->b, kind == SN_PEAK_VPDPBUSD ? LLVMConstBitCast(init, acc_ty) : init,
                       acc[i]);
    }
    LLVMValueRef a = irb_vsplat(k, 0.999999f), b = irb_vsplat(k, 1e-7f);
    LLVMValueRef ones = LLVMConstBitCast(irb_vsplat(k, 1.0f), k->t_vi32); /* (1, 0) bf16 pairs */
    unsigned id = kind == SN_PEAK_FMA ? 0 : LLVMLookupIntrinsicID(name[kind], strlen(name[kind]));
    irb_loop li;
    irb_for(k, &li, irb_i64(k, 0), irb_i64(k, iters), 1, "i");
    for (int i = 0; i < 12; i++) {
        LLVMValueRef v = LLVMBuildLoad2(k->b, acc_ty, acc[i], "");
        if (kind == SN_PEAK_FMA) {
            v = irb_fma(k, v, a, b);
        } else {
            LLVMValueRef args[3] = {v, ones, ones};
            v = LLVMBuildCall2(k->b, LLVMIntrinsicGetType(k->ctx, id, NULL, 0),
                               LLVMGetIntrinsicDeclaration(k->mod, id, NULL, 0), args, 3, "");
        }
        LLVMBuildStore(k->b, v, acc[i]);
    }
    irb_for_end(k, &li);
    LLVMValueRef s = LLVMBuildLoad2(k->b, acc_ty, acc[0], "");
    for (int i = 1; i < 12; i++) {
        LLVMValueRef v = LLVMBuildLoad2(k->b, acc_ty, acc[i], "");
        s = kind == SN_PEAK_VPDPBUSD ? LLVMBuildAdd(k->b, s, v, "") : irb_fadd(k, s, v);
    }
    if (kind == SN_PEAK_VPDPBUSD) s = LLVMBuildSIToFP(k->b, s, k->t_vf, "");
    irb_vstore(k, s, irb_gep(k, out, irb_mul(k, t, k->vl)), 4);
    irb_for_end(k, &lt);
}
