/* Spike-input integer convolution (AVX512-VNNI, 16 output channels per vector).
 *
 * The layer's input holds whole numbers in [0, 255] (spike counts) and its weights whole
 * numbers in [-127, 127] (ternary in the converted networks), so the reduction can run in
 * int32, exactly, with vpdpbusd: each instruction multiplies 4 consecutive input channels
 * (u8, broadcast from one pixel) by the matching 4 weights of each of 16 output channels
 * (s8) and adds the 4 products to 16 int32 accumulators, 64 multiply-adds per instruction
 * against the 16 of an fp32 FMA.
 *
 * Structure as in gen_conv.c: a register tile of tn images x tr rows x tw cols x tq
 * output-channel blocks accumulates over all input channels and taps; tiles whose sizes
 * are not full get their own unrolled variant; tasks are (image group, row tile, channel
 * group) with images innermost. What differs is the input: the float map is converted per
 * task, before its tiles run, into a u8 scratch on the stack holding the rows the task
 * reads (every channel block, every padded column):
 *
 *     scratch [tn][Cb][rows][Wp][16] bytes, rows = (tr - 1) * SH + KH
 *
 * which is the blocked float layout with one byte per channel, so the 32-bit word at
 * (pixel, j) holds channels 4j .. 4j+3 of the block: exactly vpdpbusd's u8 operand. The
 * packed weights [Ob][ceil(C/4)][KH][KW][16][4] give the s8 operand as one aligned 64-byte
 * load per (channel quad, tap, block). Channel padding is zero on both sides (blocked maps
 * keep channels past C zero; the packing zero-fills), so quads past C add nothing.
 *
 * After the reduction each accumulator is converted to float (exact) and goes through the
 * same bias + epilogue + pooling code as the fp32 kernel, threshold units included. */
#include <stdio.h>
#include <string.h>

#include "kernels.h"

#define I8_ACC_BUDGET 24 /* accumulators: + tq weight vectors + broadcasts <= 32 registers */

static int imin(int a, int b) {
    return a < b ? a : b;
}
static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

/* rows of input a tile of tr output rows reads */
static int src_rows(const sn_conv_desc *d, int tr) {
    return (tr - 1) * d->SH + d->KH;
}

static int64_t scratch_bytes(const sn_conv_desc *d, int tn, int tr) {
    return (int64_t)tn * sn_lay_cb(&d->in) * src_rows(d, tr) * sn_lay_wp(&d->in) * 16;
}

int64_t sn_conv_i8_scratch_bytes(const sn_conv_desc *d) {
    return scratch_bytes(d, d->tn, d->tr);
}

int64_t sn_conv_i8_weight_bytes(int O, int C, int KH, int KW) {
    return (int64_t)ceil_div(O, 16) * ceil_div(C, 4) * KH * KW * 64;
}

int sn_conv_i8_choose_tile(sn_conv_desc *d) {
    int Ob = ceil_div(d->O, 16);
    int pk = d->epi.pool ? d->epi.pk : 1;
    double best = -1;
    for (int tq = 1; tq <= imin(Ob, 4); tq++) {
        int P = I8_ACC_BUDGET / tq;
        if (P < pk * pk) continue;
        for (int tr = pk; tr <= imin(d->OH, P); tr += pk) {
            for (int tw = pk; tw <= imin(d->OW, P / tr); tw += pk) {
                int tn = 1;
                if (tr == d->OH && tw == d->OW)
                    tn = (int)(P / (tr * tw) < d->N ? P / (tr * tw) : d->N);
                if (tn < 1) tn = 1;
                while (tn > 1 && scratch_bytes(d, tn, tr) > SN_CONV_I8_SCRATCH_MAX) tn--;
                if (scratch_bytes(d, tn, tr) > SN_CONV_I8_SCRATCH_MAX) continue;
                double tiles = (double)ceil_div((int)d->N, tn) * ceil_div(d->OH, tr) *
                               ceil_div(d->OW, tw) * ceil_div(Ob, tq);
                double work = (double)d->N * d->OH * d->OW * Ob;
                double per_tile = work / tiles; /* average accumulators per tile */
                /* Ties: more channel blocks per tile (fewer conversions of the same rows),
                 * then more rows (less overlap between the rows of neighbouring tasks). */
                double score = per_tile + 0.01 * tq + 0.001 * tr;
                if (score > best) {
                    best = score;
                    d->tn = tn;
                    d->tr = tr;
                    d->tw = tw;
                    d->tq = tq;
                }
            }
        }
    }
    return best < 0 ? -1 : 0;
}

static LLVMTypeRef t_v16i8(sn_irb *k) {
    return LLVMVectorType(k->t_i8, 16);
}

static LLVMValueRef gep_i32(sn_irb *k, LLVMValueRef p, LLVMValueRef idx) {
    return LLVMBuildInBoundsGEP2(k->b, k->t_i32, p, &idx, 1, "");
}
static LLVMValueRef gep_i32c(sn_irb *k, LLVMValueRef p, int64_t idx) {
    return idx == 0 ? p : gep_i32(k, p, irb_i64(k, idx));
}

static LLVMValueRef vpdpbusd(sn_irb *k, LLVMValueRef acc, LLVMValueRef u8, LLVMValueRef s8) {
    static const char name[] = "llvm.x86.avx512.vpdpbusd.512";
    unsigned id = LLVMLookupIntrinsicID(name, sizeof name - 1);
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(k->mod, id, NULL, 0);
    LLVMTypeRef fty = LLVMIntrinsicGetType(k->ctx, id, NULL, 0);
    LLVMValueRef args[3] = {acc, u8, s8};
    return LLVMBuildCall2(k->b, fty, fn, args, 3, "");
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

/* An <16 x i32> accumulator slot in the entry block of the function being built. */
static LLVMValueRef slot_i32(sn_irb *k) {
    LLVMBasicBlockRef cur = LLVMGetInsertBlock(k->b);
    LLVMValueRef first = LLVMGetFirstInstruction(k->entry);
    if (first)
        LLVMPositionBuilderBefore(k->b, first);
    else
        LLVMPositionBuilderAtEnd(k->b, k->entry);
    LLVMValueRef a = LLVMBuildAlloca(k->b, k->t_vi32, "acc");
    LLVMSetAlignment(a, 64);
    LLVMPositionBuilderAtEnd(k->b, cur);
    return a;
}

/* One tile variant: tile(xs, w, b, y, theta) with xs the scratch (i32*) at the tile's
 * first image, channel block 0, first source row and column; w (i32*) the packed weights
 * of its first channel block; theta the thresholds of that block. */
/* An int32 accumulator slot's sum as floats (exact below 2^24). */
static LLVMValueRef sum_f32(sn_irb *t, LLVMValueRef acc) {
    return LLVMBuildSIToFP(t->b, LLVMBuildLoad2(t->b, t->t_vi32, acc, ""), t->t_vf, "");
}

static LLVMValueRef gen_tile(sn_irb *k, const sn_conv_desc *d, int nn, int rr, int ww, int qq) {
    const int vl = 16;
    char name[96];
    snprintf(name, sizeof name, "tile_i8_n%d_r%d_w%d_q%d", nn, rr, ww, qq);
    /* tile(u8 scratch, s8 weights, b, y, thresholds) */
    LLVMTypeRef params[5] = {k->t_pi32, k->t_pi32, k->t_pf, k->t_pf, k->t_pf};
    sn_irb t;
    LLVMValueRef fn = sn_conv_tile_begin(k, &t, name, params, 5, 5);
    LLVMValueRef xs = LLVMGetParam(fn, 0), w = LLVMGetParam(fn, 1), b = LLVMGetParam(fn, 2),
                 y = LLVMGetParam(fn, 3), th = LLVMGetParam(fn, 4);
    LLVMTypeRef pv = LLVMPointerType(t.t_vi32, 0);

    int C4 = ceil_div(d->in.C, 4);
    int64_t taps = (int64_t)d->KH * d->KW;
    /* scratch strides in 32-bit words */
    int64_t s_pix = 4, s_row = sn_lay_wp(&d->in) * s_pix;
    int64_t s_plane = src_rows(d, d->tr) * s_row, s_img = sn_lay_cb(&d->in) * s_plane;
    int64_t w_quad = taps * vl, w_block = C4 * w_quad; /* words */
    int nacc = nn * rr * ww * qq;
    LLVMValueRef acc[256];
    for (int a = 0; a < nacc; a++) {
        acc[a] = slot_i32(&t);
        LLVMBuildStore(t.b, LLVMConstNull(t.t_vi32), acc[a]);
    }
#define ACC(i, r, c, q) acc[(((i)*rr + (r)) * ww + (c)) * qq + (q)]
    irb_loop lq;
    LLVMValueRef q4 = irb_for(&t, &lq, irb_i64(&t, 0), irb_i64(&t, C4), 1, "quad");
    /* quad q4 = channels 4 q4 .. 4 q4 + 3: block q4 / 4, word q4 % 4 of each pixel */
    LLVMValueRef xoff =
        LLVMBuildAdd(t.b, irb_mul(&t, LLVMBuildLShr(t.b, q4, irb_i64(&t, 2), ""), s_plane),
                     LLVMBuildAnd(t.b, q4, irb_i64(&t, 3), ""), "");
    LLVMValueRef xq = gep_i32(&t, xs, xoff);
    LLVMValueRef wq = gep_i32(&t, w, irb_mul(&t, q4, w_quad));
    for (int kh = 0; kh < d->KH; kh++)
        for (int kw = 0; kw < d->KW; kw++) {
            LLVMValueRef wv[8], xk = launder(&t, xq);
            for (int q = 0; q < qq; q++) {
                LLVMValueRef p = gep_i32c(&t, wq, q * w_block + (kh * d->KW + kw) * vl);
                wv[q] = LLVMBuildLoad2(t.b, t.t_vi32, LLVMBuildBitCast(t.b, p, pv, ""), "");
                LLVMSetAlignment(wv[q], 64);
            }
            for (int i = 0; i < nn; i++)
                for (int r = 0; r < rr; r++)
                    for (int cc = 0; cc < ww; cc++) {
                        int64_t off = i * s_img + (int64_t)(r * d->SH + kh) * s_row +
                                      (int64_t)(cc * d->SW + kw) * s_pix;
                        LLVMValueRef xv = LLVMBuildLoad2(t.b, t.t_i32, gep_i32c(&t, xk, off), "");
                        LLVMSetAlignment(xv, 4);
                        LLVMValueRef xb = irb_bcast_i32(&t, xv);
                        for (int q = 0; q < qq; q++) {
                            LLVMValueRef s = ACC(i, r, cc, q);
                            LLVMValueRef cur = LLVMBuildLoad2(t.b, t.t_vi32, s, "");
                            LLVMBuildStore(t.b, vpdpbusd(&t, cur, xb, wv[q]), s);
                        }
                    }
        }
    irb_for_end(&t, &lq);

/* float(sum) (exact), then the fp32 kernel's bias, epilogue, pooling and store */
#undef ACC
    sn_conv_tile_end(&t, d, vl, nn, rr, ww, qq, acc, sum_f32, b, th, y, NULL);
    return fn;
}

/* Converts `rows` input rows (from src, a float* at image n0, channel block 0, the first
 * source row) of nn images, every channel block and padded column, to u8 in the scratch. */
static void gen_convert(sn_irb *k, const sn_conv_desc *d, LLVMValueRef src, LLVMValueRef scr,
                        int nn, int rows) {
    LLVMBuilderRef b = k->b;
    int Cb = sn_lay_cb(&d->in);
    int64_t in_plane = sn_lay_plane(&d->in), wp = sn_lay_wp(&d->in);
    int64_t nvec = rows * wp; /* consecutive vectors per (image, block) */
    int64_t s_plane = (int64_t)src_rows(d, d->tr) * wp * 16; /* bytes */
    LLVMTypeRef v8 = t_v16i8(k), pv8 = LLVMPointerType(v8, 0);
    const int unroll = 4;
    irb_loop lb;
    LLVMValueRef ic = irb_for(k, &lb, irb_i64(k, 0), irb_i64(k, (int64_t)nn * Cb), 1, "cvt");
    /* image i, block cb = ic: the float map is [N][Cb][...], so (n0 + i, cb) is ic planes on */
    LLVMValueRef sp = irb_gep(k, src, irb_mul(k, ic, in_plane));
    LLVMValueRef dp =
        LLVMBuildInBoundsGEP2(b, k->t_i8, scr, (LLVMValueRef[]){irb_mul(k, ic, s_plane)}, 1, "");
    int64_t full = nvec / unroll * unroll;
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
            LLVMValueRef f = irb_vload(k, irb_gep(k, sp, irb_mul(k, at, 16)), 64);
            LLVMValueRef iv = LLVMBuildFPToSI(b, f, k->t_vi32, "");
            LLVMValueRef bv = LLVMBuildTrunc(b, iv, v8, "");
            LLVMValueRef p =
                LLVMBuildInBoundsGEP2(b, k->t_i8, dp, (LLVMValueRef[]){irb_mul(k, at, 16)}, 1, "");
            LLVMValueRef s = LLVMBuildStore(b, bv, LLVMBuildBitCast(b, p, pv8, ""));
            LLVMSetAlignment(s, 16);
        }
        if (part == 0) irb_for_end(k, &lv);
    }
    irb_for_end(k, &lb);
}

void sn_gen_conv_i8(sn_irb *k, const sn_conv_desc *d) {
    const int vl = 16;
    sn_conv_frame f;
    sn_conv_frame_init(k, d, vl, gen_tile, &f);
    const sn_cpu_layout *in = &d->in, *out = &d->out;

    /* the u8 scratch, once per call (tasks reuse it) */
    LLVMTypeRef st = LLVMArrayType(k->t_i8, (unsigned)scratch_bytes(d, d->tn, d->tr));
    LLVMValueRef scr_arr = LLVMBuildAlloca(k->b, st, "scratch");
    LLVMSetAlignment(scr_arr, 64);
    LLVMValueRef scr = LLVMBuildBitCast(k->b, scr_arr, k->t_pi8, "");
    LLVMValueRef scr32 = LLVMBuildBitCast(k->b, scr_arr, k->t_pi32, "");

    LLVMValueRef x = irb_arg_buf(k, 0), y = irb_arg_buf(k, 3), b = irb_arg_buf(k, 2);
    LLVMValueRef w = LLVMBuildBitCast(k->b, irb_arg_buf(k, 1), k->t_pi32, "");
    int U = sn_epi_threshold_units(&d->epi);
    LLVMValueRef thb = U ? irb_arg_buf(k, 5) : y;
    int64_t o_pix = sn_lay_pix(out);
    int64_t w_block = (int64_t)ceil_div(in->C, 4) * d->KH * d->KW * vl; /* words */
    int64_t s_pix = 4; /* words per scratch pixel */
    sn_conv_task_begin(k, d, vl, &f);
    LLVMValueRef xsrc = irb_gep(k, x, f.x_off);
    LLVMValueRef wb = gep_i32(k, w, irb_mul(k, f.ob0, w_block));
    LLVMValueRef bb = irb_gep(k, b, f.b_off);
    LLVMValueRef tht = U ? irb_gep(k, thb, f.th_off) : y;
    LLVMValueRef yimg = irb_gep(k, y, f.y_img_off);
    LLVMValueRef yrow = irb_gep(k, y, f.y_row_off);
    for (int a = 0; a < 2; a++)
        for (int bq = 0; bq < 2; bq++)
            for (int e = 0; e < 2; e++) {
                LLVMBasicBlockRef cont = sn_conv_variant_begin(k, &f, a, bq, e);
                if (!cont) continue;
                gen_convert(k, d, xsrc, scr, f.nv[a], src_rows(d, f.rv[bq]));
                for (int col = 0; col < d->OW;) {
                    int c = sn_conv_col_variant(d, col);
                    LLVMValueRef xt =
                        gep_i32c(k, scr32, (int64_t)(col * d->SW + in->halo - d->PW) * s_pix);
                    LLVMValueRef yt = irb_gepc(k, yrow, (int64_t)(col / f.pk + out->halo) * o_pix);
                    LLVMValueRef args[5] = {xt, wb, bb, yt, tht};
                    LLVMValueRef fn = f.tiles[a][bq][c][e];
                    LLVMBuildCall2(k->b, LLVMGlobalGetValueType(fn), fn, args, 5, "");
                    col += f.wv[c];
                }
                sn_conv_variant_end(k, d, &f, yimg, a, bq, e, cont);
            }
    sn_conv_task_end(k, &f);
}
