/* Dot-product convolutions: the reduction on packed low-precision operands (AVX-512, 16
 * output channels per vector).
 *
 * One instruction multiplies the epw consecutive input channels of one pixel (a 32-bit
 * word, broadcast) by the matching epw weights of each of 16 output channels and adds the
 * products to 16 accumulators:
 *   vpdpbusd   u8 x s8, 4 channels a word, exact int32 sums (64 multiply-adds against the
 *              16 of an fp32 FMA);
 *   vpmaddwd   the same u8 x s8 products without VNNI: even and odd bytes widened to 16
 *              bits, two vpmaddwd and two adds per word (exact too);
 *   vdpbf16ps  bf16 x bf16, 2 channels a word, fp32 sums (the products are exact in fp32).
 *
 * Structure as in gen_conv.c: a register tile of tn images x tr rows x tw cols x tq
 * output-channel blocks accumulates over all input channels and taps; tiles whose sizes
 * are not full get their own unrolled variant; tasks are (image group, row tile, channel
 * group) with images innermost (the frame in gen_conv.c). What differs is the input: the
 * float map is converted per task, before its tiles run, into a scratch on the stack
 * holding the rows the task reads (every channel block, every padded column):
 *
 *     scratch [tn][Cb][rows][Wp][16] elements, rows = (tr - 1) * SH + KH
 *
 * which is the blocked float layout with one element per channel, so the 32-bit word at
 * (pixel, j) holds channels epw*j .. epw*j + epw-1 of the block: exactly the instruction's
 * broadcast operand. The packed weights [Ob][G][KH][KW][16][epw] give the other operand as
 * one aligned 64-byte load per (channel group, tap, block). Channel padding is zero on both
 * sides (blocked maps keep channels past C zero; the packing zero-fills), so groups past C
 * add nothing (a zero u8 input is q = in_zero, whose products the compensation removes).
 *
 * After the reduction each accumulator becomes a float vector (int32 sums: minus the
 * zero-point compensation, converted exactly, times the per-channel dequantization scale)
 * and goes through the same bias + epilogue + pooling code as the fp32 kernel, threshold
 * units included. */
#include <stdio.h>
#include <string.h>

#include "kernels.h"

/* accumulators: + tq weight vectors + broadcasts <= 32 registers (the emulation keeps two
 * widened copies of each) */
#define DP_ACC_BUDGET     24
#define DP_ACC_BUDGET_EMU 18

static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

int sn_conv_dp_epw(int kind) {
    return kind == SN_DP_BF16 ? 2 : 4;
}

/* bytes per scratch element */
static int esize(int kind) {
    return 4 / sn_conv_dp_epw(kind);
}

/* rows of input a tile of tr output rows reads */
static int src_rows(const sn_conv_desc *d, int tr) {
    return (tr - 1) * d->SH + d->KH;
}

static int64_t scratch_bytes(const sn_conv_dp_desc *dp, int tn, int tr) {
    const sn_conv_desc *d = &dp->c;
    if (dp->in_u8) return 0; /* the tiles read the u8 map itself */
    return (int64_t)tn * sn_lay_cb(&d->in) * src_rows(d, tr) * sn_lay_wp(&d->in) * 16 *
           esize(dp->kind);
}

int64_t sn_conv_dp_scratch_bytes(const sn_conv_dp_desc *d) {
    return scratch_bytes(d, d->c.tn, d->c.tr);
}

int64_t sn_conv_dp_weight_bytes(int kind, int O, int C, int KH, int KW) {
    return (int64_t)ceil_div(O, 16) * ceil_div(C, sn_conv_dp_epw(kind)) * KH * KW * 64;
}

/* the largest image count <= tn whose scratch for tr rows fits, or 0 */
static int scratch_fit(const void *arg, int tn, int tr) {
    const sn_conv_dp_desc *dp = arg;
    while (tn > 1 && scratch_bytes(dp, tn, tr) > SN_CONV_DP_SCRATCH_MAX) tn--;
    return scratch_bytes(dp, tn, tr) > SN_CONV_DP_SCRATCH_MAX ? 0 : tn;
}

int sn_conv_dp_choose_tile(sn_conv_dp_desc *dp) {
    sn_conv_desc *d = &dp->c;
    int pk = d->epi.pool ? d->epi.pk : 1;
    int budget = dp->kind == SN_DP_U8_EMU ? DP_ACC_BUDGET_EMU : DP_ACC_BUDGET;
    /* ties: more channel blocks per tile (fewer conversions of the same rows), then more
     * rows (less overlap between the rows of neighbouring tasks) */
    if (sn_conv_search_tile(d, 16, budget, 0.001, scratch_fit, dp) == 0) return 0;
    if (scratch_bytes(dp, 1, pk) <= SN_CONV_DP_SCRATCH_MAX) {
        /* the pooling window outnumbers the registers: the minimal tile (it spills) */
        d->tn = 1;
        d->tr = pk;
        d->tw = pk;
        d->tq = 1;
        return 0;
    }
    return -1;
}

/* p + off bytes, as an i8* (p any pointer) */
static LLVMValueRef gep8(sn_irb *k, LLVMValueRef p, LLVMValueRef off) {
    LLVMValueRef p8 = LLVMBuildBitCast(k->b, p, k->t_pi8, "");
    return LLVMBuildInBoundsGEP2(k->b, k->t_i8, p8, &off, 1, "");
}

static LLVMValueRef gep_i32(sn_irb *k, LLVMValueRef p, LLVMValueRef idx) {
    return LLVMBuildInBoundsGEP2(k->b, k->t_i32, p, &idx, 1, "");
}
static LLVMValueRef gep_i32c(sn_irb *k, LLVMValueRef p, int64_t idx) {
    return idx == 0 ? p : gep_i32(k, p, irb_i64(k, idx));
}

static LLVMValueRef call_intrinsic(sn_irb *k, const char *name, LLVMValueRef *args, unsigned n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(k->mod, id, NULL, 0);
    LLVMTypeRef fty = LLVMIntrinsicGetType(k->ctx, id, NULL, 0);
    return LLVMBuildCall2(k->b, fty, fn, args, n, "");
}

static LLVMValueRef splat_i32(sn_irb *k, int32_t v) {
    LLVMValueRef e[16];
    for (int i = 0; i < 16; i++) e[i] = irb_i32(k, v);
    return LLVMConstVector(e, 16);
}

/* p, through an empty volatile asm: the same address, but LLVM can no longer tell. The
 * taps of a tile read overlapping input words (pixel c at tap kw+1 is pixel c+1 at tap kw);
 * left alone, LLVM merges those broadcasts across taps and keeps them live, which runs
 * out of registers and spills accumulators. Laundering the pointer per tap keeps one
 * broadcast-from-memory per use instead. */
static LLVMValueRef launder(sn_irb *k, LLVMValueRef p) {
    LLVMTypeRef ty = LLVMTypeOf(p);
    LLVMTypeRef fty = LLVMFunctionType(ty, &ty, 1, 0);
    char code[] = "", cons[] = "=r,0";
    LLVMValueRef as =
        LLVMGetInlineAsm(fty, code, 0, cons, sizeof cons - 1, 1, 0, LLVMInlineAsmDialectATT, 0);
    return LLVMBuildCall2(k->b, fty, as, &p, 1, "");
}

/* An accumulator slot of type ty in the entry block of the function being built. */
static LLVMValueRef slot_of(sn_irb *k, LLVMTypeRef ty) {
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(k->b);
    LLVMValueRef first = LLVMGetFirstInstruction(k->entry);
    if (first)
        LLVMPositionBuilderBefore(k->b, first);
    else
        LLVMPositionBuilderAtEnd(k->b, k->entry);
    LLVMValueRef a = LLVMBuildAlloca(k->b, ty, "acc");
    LLVMSetAlignment(a, 64);
    LLVMPositionBuilderAtEnd(k->b, cur);
    return a;
}

/* The sum of an accumulator as floats: bf16 sums are floats already; int32 sums minus the
 * compensation, converted (exact below 2^24), times the dequantization scale. */
typedef struct sum_ctx {
    const sn_conv_dp_desc *d;
    LLVMValueRef scale[8], comp[8];
} sum_ctx;

static LLVMValueRef sum_f32(sn_irb *t, LLVMValueRef acc, int q, void *arg) {
    const sum_ctx *c = arg;
    if (c->d->kind == SN_DP_BF16) return LLVMBuildLoad2(t->b, t->t_vf, acc, "");
    LLVMValueRef s = LLVMBuildLoad2(t->b, t->t_vi32, acc, "");
    if (!c->d->dequant) return LLVMBuildSIToFP(t->b, s, t->t_vf, "");
    s = LLVMBuildSub(t->b, s, c->comp[q], "");
    return irb_fmul(t, LLVMBuildSIToFP(t->b, s, t->t_vf, ""), c->scale[q]);
}

/* The widened operands of the vpmaddwd emulation: a word's even bytes and odd bytes, each
 * in the low byte of a 16-bit lane, zero-extended (u8) or sign-extended (s8). */
static void widen_u8(sn_irb *k, LLVMValueRef w, LLVMValueRef *even, LLVMValueRef *odd) {
    LLVMTypeRef v32 = LLVMVectorType(LLVMInt16TypeInContext(k->ctx), 32);
    LLVMValueRef m = splat_i32(k, 0x00ff00ff);
    *even = LLVMBuildBitCast(k->b, LLVMBuildAnd(k->b, w, m, ""), v32, "");
    *odd = LLVMBuildBitCast(
        k->b, LLVMBuildAnd(k->b, LLVMBuildLShr(k->b, w, splat_i32(k, 8), ""), m, ""), v32, "");
}
static void widen_s8(sn_irb *k, LLVMValueRef w, LLVMValueRef *even, LLVMValueRef *odd) {
    LLVMTypeRef i16 = LLVMInt16TypeInContext(k->ctx), v32 = LLVMVectorType(i16, 32);
    LLVMValueRef e[32];
    for (int i = 0; i < 32; i++) e[i] = LLVMConstInt(i16, 8, 0);
    LLVMValueRef eight = LLVMConstVector(e, 32);
    LLVMValueRef h = LLVMBuildBitCast(k->b, w, v32, "");
    *even = LLVMBuildAShr(k->b, LLVMBuildShl(k->b, h, eight, ""), eight, "");
    *odd = LLVMBuildAShr(k->b, h, eight, "");
}

/* One tile variant: tile(xs, w, b, y, theta, qscale) with xs the scratch (i32*) at the
 * tile's first image, channel block 0, first source row and column; w (i32*) the packed
 * weights of its first channel block; theta the thresholds of that block; qscale the
 * dequantization scales of that block (their compensations Ob*16 words further). d is the
 * first member of the kernel's sn_conv_dp_desc (sn_gen_conv_dp hands the frame &dp->c). */
static LLVMValueRef gen_tile(sn_irb *k, const sn_conv_desc *d, int nn, int rr, int ww, int qq) {
    const sn_conv_dp_desc *dp = (const sn_conv_dp_desc *)d;
    const int vl = 16, epw = sn_conv_dp_epw(dp->kind), wpp = 16 / epw;
    static const char *const kname[] = {"vnni", "emu", "bf16"};
    char name[96];
    snprintf(name, sizeof name, "tile_%s_n%d_r%d_w%d_q%d", kname[dp->kind], nn, rr, ww, qq);
    LLVMTypeRef params[6] = {k->t_pi32, k->t_pi32, k->t_pf, k->t_pf, k->t_pf, k->t_pf};
    sn_irb t;
    LLVMValueRef fn = sn_conv_tile_begin(k, &t, name, params, 6, 6);
    LLVMValueRef xs = LLVMGetParam(fn, 0), w = LLVMGetParam(fn, 1), b = LLVMGetParam(fn, 2),
                 y = LLVMGetParam(fn, 3), th = LLVMGetParam(fn, 4), qs = LLVMGetParam(fn, 5);
    LLVMTypeRef pv = LLVMPointerType(t.t_vi32, 0);
    int bf16 = dp->kind == SN_DP_BF16;
    LLVMTypeRef acc_ty = bf16 ? t.t_vf : t.t_vi32;

    int G = ceil_div(d->in.C, epw);
    int Ob = ceil_div(d->O, vl);
    int64_t taps = (int64_t)d->KH * d->KW;
    /* scratch (or u8 map) strides in 32-bit words */
    int64_t s_pix = wpp, s_row = sn_lay_wp(&d->in) * s_pix;
    int64_t s_plane = (dp->in_u8 ? sn_lay_hp(&d->in) : src_rows(d, d->tr)) * s_row;
    int64_t s_img = sn_lay_cb(&d->in) * s_plane;
    int64_t w_group = taps * vl, w_block = G * w_group; /* words */
    int nacc = nn * rr * ww * qq;
    LLVMValueRef acc[256];
    for (int a = 0; a < nacc; a++) {
        acc[a] = slot_of(&t, acc_ty);
        LLVMBuildStore(t.b, LLVMConstNull(acc_ty), acc[a]);
    }
#define ACC(i, r, c, q) acc[(((i)*rr + (r)) * ww + (c)) * qq + (q)]
    irb_loop lg;
    LLVMValueRef g = irb_for(&t, &lg, irb_i64(&t, 0), irb_i64(&t, G), 1, "group");
    /* group g = channels epw*g ...: block g / wpp, word g % wpp of each pixel */
    LLVMValueRef xoff = LLVMBuildAdd(
        t.b, irb_mul(&t, LLVMBuildLShr(t.b, g, irb_i64(&t, wpp == 4 ? 2 : 3), ""), s_plane),
        LLVMBuildAnd(t.b, g, irb_i64(&t, wpp - 1), ""), "");
    LLVMValueRef xg = gep_i32(&t, xs, xoff);
    LLVMValueRef wg = gep_i32(&t, w, irb_mul(&t, g, w_group));
    for (int kh = 0; kh < d->KH; kh++)
        for (int kw = 0; kw < d->KW; kw++) {
            LLVMValueRef wv[8], we[8], wo[8], xk = launder(&t, xg);
            for (int q = 0; q < qq; q++) {
                LLVMValueRef p = gep_i32c(&t, wg, q * w_block + (kh * d->KW + kw) * vl);
                wv[q] = LLVMBuildLoad2(t.b, t.t_vi32, LLVMBuildBitCast(t.b, p, pv, ""), "");
                LLVMSetAlignment(wv[q], 64);
                if (dp->kind == SN_DP_U8_EMU) widen_s8(&t, wv[q], &we[q], &wo[q]);
            }
            for (int i = 0; i < nn; i++)
                for (int r = 0; r < rr; r++)
                    for (int cc = 0; cc < ww; cc++) {
                        int64_t off = i * s_img + (int64_t)(r * d->SH + kh) * s_row +
                                      (int64_t)(cc * d->SW + kw) * s_pix;
                        LLVMValueRef xv = LLVMBuildLoad2(t.b, t.t_i32, gep_i32c(&t, xk, off), "");
                        LLVMSetAlignment(xv, 4);
                        LLVMValueRef xb = irb_bcast_i32(&t, xv), xe = NULL, xo = NULL;
                        if (dp->kind == SN_DP_U8_EMU) widen_u8(&t, xb, &xe, &xo);
                        for (int q = 0; q < qq; q++) {
                            LLVMValueRef s = ACC(i, r, cc, q);
                            LLVMValueRef cur = LLVMBuildLoad2(t.b, acc_ty, s, ""), nv;
                            if (dp->kind == SN_DP_U8_VNNI) {
                                LLVMValueRef args[3] = {cur, xb, wv[q]};
                                nv = call_intrinsic(&t, "llvm.x86.avx512.vpdpbusd.512", args, 3);
                            } else if (dp->kind == SN_DP_BF16) {
                                LLVMValueRef args[3] = {cur, xb, wv[q]};
                                nv =
                                    call_intrinsic(&t, "llvm.x86.avx512bf16.dpbf16ps.512", args, 3);
                            } else {
                                LLVMValueRef a1[2] = {xe, we[q]}, a2[2] = {xo, wo[q]};
                                LLVMValueRef p1 =
                                    call_intrinsic(&t, "llvm.x86.avx512.pmaddw.d.512", a1, 2);
                                LLVMValueRef p2 =
                                    call_intrinsic(&t, "llvm.x86.avx512.pmaddw.d.512", a2, 2);
                                nv = LLVMBuildAdd(t.b, cur, LLVMBuildAdd(t.b, p1, p2, ""), "");
                            }
                            LLVMBuildStore(t.b, nv, s);
                        }
                    }
        }
    irb_for_end(&t, &lg);
#undef ACC
    /* float(sum) (dequantized), then the fp32 kernel's bias, epilogue, pooling and store */
    sum_ctx sc;
    memset(&sc, 0, sizeof sc);
    sc.d = dp;
    if (!bf16 && dp->dequant) {
        LLVMValueRef qi = LLVMBuildBitCast(t.b, qs, t.t_pi32, "");
        for (int q = 0; q < qq; q++) {
            sc.scale[q] = irb_vload(&t, irb_gepc(&t, qs, (int64_t)q * vl), vl * 4);
            LLVMValueRef cp = gep_i32c(&t, qi, (int64_t)Ob * vl + (int64_t)q * vl);
            sc.comp[q] = LLVMBuildLoad2(t.b, t.t_vi32, LLVMBuildBitCast(t.b, cp, pv, ""), "");
            LLVMSetAlignment(sc.comp[q], 64);
        }
    }
    sn_conv_tile_end(&t, d, vl, nn, rr, ww, qq, acc, sum_f32, &sc, b, th, y, NULL);
    return fn;
}

/* Converts `rows` input rows (from src, a float* at image n0, channel block 0, the first
 * source row) of nn images, every channel block and padded column, into the scratch. */
static void gen_convert(sn_irb *k, const sn_conv_dp_desc *dp, LLVMValueRef src, LLVMValueRef scr,
                        int nn, int rows) {
    const sn_conv_desc *d = &dp->c;
    LLVMBuilderRef b = k->b;
    int Cb = sn_lay_cb(&d->in), es = esize(dp->kind);
    int64_t in_plane = sn_lay_plane(&d->in), wp = sn_lay_wp(&d->in);
    int64_t nvec = rows * wp;                                     /* vectors per (image, block) */
    int64_t s_plane = (int64_t)src_rows(d, d->tr) * wp * 16 * es; /* bytes */
    LLVMTypeRef et = es == 1 ? k->t_i8 : LLVMInt16TypeInContext(k->ctx);
    LLVMTypeRef ve = LLVMVectorType(et, 16), pve = LLVMPointerType(ve, 0);
    const int unroll = 4;
    irb_loop lb;
    LLVMValueRef ic = irb_for(k, &lb, irb_i64(k, 0), irb_i64(k, (int64_t)nn * Cb), 1, "cvt");
    /* image i, block cb = ic: the float map is [N][Cb][...], so (n0 + i, cb) is ic planes on */
    LLVMValueRef sp = irb_gep(k, src, irb_mul(k, ic, in_plane));
    LLVMValueRef dp8 =
        LLVMBuildInBoundsGEP2(b, k->t_i8, scr, (LLVMValueRef[]){irb_mul(k, ic, s_plane)}, 1, "");
    int64_t full = nvec / unroll * unroll;
    float lo = dp->in_zero ? 1.0f : 0.0f;
    for (int part = 0; part < 2; part++) {
        LLVMValueRef base;
        irb_loop lv;
        int n = part == 0 ? unroll : (int)(nvec - full);
        if (n == 0 || (part == 0 && full == 0)) continue;
        if (part == 0)
            base = irb_for(k, &lv, irb_i64(k, 0), irb_i64(k, full), unroll, "cv");
        else
            base = irb_i64(k, full);
        for (int u = 0; u < n; u++) {
            LLVMValueRef at = irb_addc(k, base, u);
            LLVMValueRef f = irb_vload(k, irb_gep(k, sp, irb_mul(k, at, 16)), 64), cv;
            if (dp->kind == SN_DP_BF16) {
                cv = call_intrinsic(k, "llvm.x86.avx512bf16.cvtneps2bf16.512", &f, 1);
            } else {
                if (dp->in_mul != 1.0f) f = irb_fmul(k, f, irb_vsplat(k, dp->in_mul));
                f = irb_unary(k, "llvm.roundeven", f);
                if (dp->in_zero) f = irb_fadd(k, f, irb_vsplat(k, (float)dp->in_zero));
                f = irb_fmin(k, irb_fmax(k, f, irb_vsplat(k, lo)), irb_vsplat(k, 255.0f));
                cv = LLVMBuildTrunc(b, LLVMBuildFPToSI(b, f, k->t_vi32, ""), ve, "");
            }
            LLVMValueRef p = LLVMBuildInBoundsGEP2(
                b, k->t_i8, dp8, (LLVMValueRef[]){irb_mul(k, at, 16 * es)}, 1, "");
            LLVMValueRef s = LLVMBuildStore(b, cv, LLVMBuildBitCast(b, p, pve, ""));
            LLVMSetAlignment(s, (unsigned)(16 * es));
        }
        if (part == 0) irb_for_end(k, &lv);
    }
    irb_for_end(k, &lb);
}

void sn_gen_conv_dp(sn_irb *k, const sn_conv_dp_desc *dp) {
    const int vl = 16;
    const sn_conv_desc *d = &dp->c;
    sn_conv_frame f;
    sn_conv_frame_init(k, d, vl, gen_tile, &f);
    const sn_cpu_layout *in = &d->in, *out = &d->out;
    int epw = sn_conv_dp_epw(dp->kind);

    /* the scratch, once per call (tasks reuse it); none for a u8 input map */
    LLVMValueRef scr = NULL, scr32 = NULL;
    if (!dp->in_u8) {
        LLVMTypeRef st = LLVMArrayType(k->t_i8, (unsigned)scratch_bytes(dp, d->tn, d->tr));
        LLVMValueRef scr_arr = LLVMBuildAlloca(k->b, st, "scratch");
        LLVMSetAlignment(scr_arr, 64);
        scr = LLVMBuildBitCast(k->b, scr_arr, k->t_pi8, "");
        scr32 = LLVMBuildBitCast(k->b, scr_arr, k->t_pi32, "");
    }

    LLVMValueRef x = irb_arg_buf(k, 0), y = irb_arg_buf(k, 3), b = irb_arg_buf(k, 2);
    int u8out = d->epi.store_u8;
    LLVMValueRef w = LLVMBuildBitCast(k->b, irb_arg_buf(k, 1), k->t_pi32, "");
    LLVMValueRef qsb = dp->dequant ? irb_arg_buf(k, 4) : y;
    int U = sn_epi_threshold_units(&d->epi);
    LLVMValueRef thb = U ? irb_arg_buf(k, 5) : y;
    int64_t o_pix = sn_lay_pix(out);
    int64_t w_block = (int64_t)ceil_div(in->C, epw) * d->KH * d->KW * vl; /* words */
    int64_t s_pix = 16 / epw; /* words per scratch pixel */
    sn_conv_task_begin(k, d, vl, &f);
    /* a u8 map (input or output) has one byte per element: its offsets are in bytes */
    LLVMValueRef xsrc = dp->in_u8 ? gep8(k, x, f.x_off) : irb_gep(k, x, f.x_off);
    LLVMValueRef wb = gep_i32(k, w, irb_mul(k, f.ob0, w_block));
    LLVMValueRef bb = irb_gep(k, b, f.b_off);
    LLVMValueRef qst = dp->dequant ? irb_gep(k, qsb, f.b_off) : y;
    LLVMValueRef tht = U ? irb_gep(k, thb, f.th_off) : y;
    LLVMValueRef yimg = u8out ? gep8(k, y, f.y_img_off) : irb_gep(k, y, f.y_img_off);
    LLVMValueRef yrow = u8out ? gep8(k, y, f.y_row_off) : irb_gep(k, y, f.y_row_off);
    for (int a = 0; a < 2; a++)
        for (int bq = 0; bq < 2; bq++)
            for (int e = 0; e < 2; e++) {
                LLVMBasicBlockRef cont = sn_conv_variant_begin(k, &f, a, bq, e);
                if (!cont) continue;
                if (!dp->in_u8) gen_convert(k, dp, xsrc, scr, f.nv[a], src_rows(d, f.rv[bq]));
                for (int col = 0; col < d->OW;) {
                    int c = sn_conv_col_variant(d, col);
                    int64_t xc = (int64_t)(col * d->SW + in->halo - d->PW) * s_pix;
                    LLVMValueRef xt =
                        dp->in_u8 ? LLVMBuildBitCast(k->b, gep8(k, xsrc, irb_i64(k, xc * 4)),
                                                     k->t_pi32, "")
                                  : gep_i32c(k, scr32, xc);
                    int64_t yc = (int64_t)(col / f.pk + out->halo) * o_pix;
                    LLVMValueRef yt =
                        u8out ? LLVMBuildBitCast(k->b, gep8(k, yrow, irb_i64(k, yc)), k->t_pf, "")
                              : irb_gepc(k, yrow, yc);
                    LLVMValueRef args[6] = {xt, wb, bb, yt, tht, qst};
                    LLVMValueRef fn = f.tiles[a][bq][c][e];
                    LLVMBuildCall2(k->b, LLVMGlobalGetValueType(fn), fn, args, 6, "");
                    col += f.wv[c];
                }
                sn_conv_variant_end(k, d, &f, yimg, a, bq, e, cont);
            }
    sn_conv_task_end(k, &f);
}
