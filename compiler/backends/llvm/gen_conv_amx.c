/* AMX convolutions (stride 1): tdpbf16ps (bf16 x bf16, fp32 sums) and tdpbusd (u8 x s8,
 * exact int32 sums) on the tile registers.
 *
 * A convolution with stride 1 is a GEMM over "virtual pixels": with the input rows a task
 * reads converted into a scratch laid out pixel-major, [rows][Wp][Cp] (Wp the padded width,
 * Cp the channels padded to a whole number of 64-byte chunks), the output pixel (r, c) of
 * the task reads, for tap (kh, kw), the scratch pixel v + kh*Wp + kw (+ the halo offset)
 * with v = r*Wp + c, for every c < Wp. So 16 consecutive virtual pixels are 16 rows at a
 * fixed stride: one tile load (A: 16 pixels x 64 bytes of channels). Columns c >= OW are
 * computed and thrown away (2*halo of every Wp).
 *
 * A task is (image, group of R output rows): it converts the rows it reads once, then for
 * each pair of 16-channel output blocks (B: 16 rows of channel pairs/quads x 16 output
 * channels, packed by sn_prep_conv_q AMX_BF16 / AMX_U8) and each pair of 16-pixel blocks
 * accumulates 2 x 2 C tiles over every tap and 64-byte chunk, fully unrolled (no tile
 * crosses a loop edge), and stores them into a stack region [virtual pixel][32 channels].
 * The epilogue then walks the real output pixels window by window with the direct
 * kernels' tile end: dequantization (u8), bias, epilogue, pooling, threshold units, bf16
 * rounding, store; and zeroes the output halo.
 *
 * Tiles: 2 A + 2 B + 4 C = the 8 registers. LLVM inserts the tile configuration (every
 * tile 16 rows x 64 bytes); the kernel releases the tiles when it returns.
 *
 * Not run on this project's development machines (no AMX): compiled by the tests, run
 * where the CPU has AMX. */
#include <stdio.h>
#include <string.h>

#include "kernels.h"

static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

int sn_conv_amx_applies(const sn_conv_desc *d) {
    return d->SH == 1 && d->SW == 1 && d->in.blocked && d->in.vl == 16 && d->out.vl == 16 &&
           d->PH <= d->in.halo && d->PW <= d->in.halo && !d->epi.mask && d->KH * d->KW <= 64;
}

/* elements per 64-byte chunk of channels: 32 bf16 or 64 u8 */
static int chunk(const sn_conv_amx_desc *a) {
    return a->u8 ? 64 : 32;
}
static int esz(const sn_conv_amx_desc *a) {
    return a->u8 ? 1 : 2;
}
static int kchunks(const sn_conv_amx_desc *a) {
    return ceil_div(a->c.in.C, chunk(a));
}
/* virtual pixels of a task, rounded to whole pairs of 16 */
static int vpad(const sn_conv_amx_desc *a) {
    return ceil_div(a->rows * (int)sn_lay_wp(&a->c.in), 32) * 32;
}
/* scratch rows: the last padded virtual pixel's farthest tap stays inside */
static int srows(const sn_conv_amx_desc *a) {
    const sn_conv_desc *d = &a->c;
    int wp = (int)sn_lay_wp(&d->in), off = d->in.halo - d->PW;
    return ceil_div(vpad(a) + (d->KH - 1) * wp + d->KW - 1 + off + 1, wp);
}

int64_t sn_conv_amx_scratch_bytes(const sn_conv_amx_desc *a) {
    return (int64_t)srows(a) * sn_lay_wp(&a->c.in) * kchunks(a) * 64 + (int64_t)vpad(a) * 32 * 4;
}

int sn_conv_amx_choose(sn_conv_amx_desc *a) {
    const sn_conv_desc *d = &a->c;
    if (!sn_conv_amx_applies(d) || kchunks(a) * d->KH * d->KW > 256) return -1;
    int pk = d->epi.pool ? d->epi.pk : 1;
    if (pk > 8) return -1;
    /* about 256 virtual pixels a task, whole pooling windows, within the stack budget */
    int wp = (int)sn_lay_wp(&d->in);
    int R = 256 / wp / pk * pk;
    if (R < pk) R = pk;
    if (R > (d->OH + pk - 1) / pk * pk) R = (d->OH + pk - 1) / pk * pk;
    for (; R >= pk; R -= pk) {
        a->rows = R;
        if (sn_conv_amx_scratch_bytes(a) <= SN_CONV_AMX_SCRATCH_MAX) return 0;
    }
    return -1;
}

int64_t sn_conv_amx_tasks(const sn_conv_amx_desc *a) {
    return a->c.N * ceil_div(a->c.OH, a->rows);
}

static LLVMValueRef intrinsic(sn_irb *k, const char *name, LLVMValueRef *args, unsigned n) {
    unsigned id = LLVMLookupIntrinsicID(name, strlen(name));
    LLVMValueRef fn = LLVMGetIntrinsicDeclaration(k->mod, id, NULL, 0);
    LLVMTypeRef fty = LLVMIntrinsicGetType(k->ctx, id, NULL, 0);
    return LLVMBuildCall2(k->b, fty, fn, args, n, "");
}

static LLVMValueRef i16c(sn_irb *k, int v) {
    return LLVMConstInt(LLVMInt16TypeInContext(k->ctx), (unsigned long long)v, 0);
}

static LLVMValueRef gep8(sn_irb *k, LLVMValueRef p, LLVMValueRef off) {
    return LLVMBuildInBoundsGEP2(k->b, k->t_i8, p, &off, 1, "");
}

/* tile load of 16 rows x 64 bytes at p (i8*) with a row stride in bytes */
static LLVMValueRef tload(sn_irb *k, LLVMValueRef p, int64_t stride) {
    LLVMValueRef args[4] = {i16c(k, 16), i16c(k, 64), p, irb_i64(k, stride)};
    return intrinsic(k, "llvm.x86.tileloadd64.internal", args, 4);
}

/* The region's sums as floats: u8 sums minus the compensation, times the scale. */
typedef struct amx_sum {
    const sn_conv_amx_desc *a;
    LLVMValueRef scale[2], comp[2];
} amx_sum;

static LLVMValueRef region_sum(sn_irb *t, LLVMValueRef p, int q, void *arg) {
    const amx_sum *s = arg;
    LLVMTypeRef vt = s->a->u8 ? t->t_vi32 : t->t_vf;
    LLVMValueRef v =
        LLVMBuildLoad2(t->b, vt, LLVMBuildBitCast(t->b, p, LLVMPointerType(vt, 0), ""), "");
    LLVMSetAlignment(v, 64);
    if (!s->a->u8) return v;
    if (!s->a->dequant) return LLVMBuildSIToFP(t->b, v, t->t_vf, "");
    v = LLVMBuildSub(t->b, v, s->comp[q], "");
    return irb_fmul(t, LLVMBuildSIToFP(t->b, v, t->t_vf, ""), s->scale[q]);
}

/* The epilogue of one pooling window of nq channel blocks: epi(region, b, y, th, qs) with
 * region at the window's first virtual pixel (its channel-pair slot), b/th/qs at the first
 * block, y at the pooled output. */
static LLVMValueRef gen_window(sn_irb *k, const sn_conv_amx_desc *a, int nq) {
    const sn_conv_desc *d = &a->c;
    char name[64];
    snprintf(name, sizeof name, "amx_window_q%d", nq);
    LLVMTypeRef params[5] = {k->t_pf, k->t_pf, k->t_pf, k->t_pf, k->t_pf};
    sn_irb t;
    LLVMValueRef fn = sn_conv_tile_begin(k, &t, name, params, 5, 5);
    LLVMValueRef reg = LLVMGetParam(fn, 0), b = LLVMGetParam(fn, 1), y = LLVMGetParam(fn, 2),
                 th = LLVMGetParam(fn, 3), qs = LLVMGetParam(fn, 4);
    int pk = d->epi.pool ? d->epi.pk : 1;
    int64_t wp = sn_lay_wp(&d->in);
    amx_sum s;
    memset(&s, 0, sizeof s);
    s.a = a;
    if (a->u8 && a->dequant) {
        int Ob = ceil_div(d->O, 16);
        LLVMTypeRef pv = LLVMPointerType(t.t_vi32, 0);
        LLVMValueRef qi = LLVMBuildBitCast(t.b, qs, t.t_pi32, "");
        for (int q = 0; q < nq; q++) {
            s.scale[q] = irb_vload(&t, irb_gepc(&t, qs, (int64_t)q * 16), 64);
            LLVMValueRef cp = LLVMBuildInBoundsGEP2(
                t.b, t.t_i32, qi, (LLVMValueRef[]){irb_i64(&t, (int64_t)Ob * 16 + q * 16)}, 1, "");
            s.comp[q] = LLVMBuildLoad2(t.b, t.t_vi32, LLVMBuildBitCast(t.b, cp, pv, ""), "");
            LLVMSetAlignment(s.comp[q], 64);
        }
    }
    LLVMValueRef acc[2 * 8 * 8]; /* sn_conv_amx_choose: windows up to 8 x 8 */
    for (int r = 0; r < pk; r++)
        for (int c = 0; c < pk; c++)
            for (int q = 0; q < nq; q++) /* region rows hold 32 floats: [q][16] */
                acc[(r * pk + c) * nq + q] = irb_gepc(&t, reg, ((int64_t)r * wp + c) * 32 + q * 16);
    sn_conv_tile_end(&t, d, 16, 1, pk, pk, nq, acc, region_sum, &s, b, th, y, NULL);
    return fn;
}

/* The GEMM of one channel pair block (nq blocks from weight block w) over every pixel pair of
 * the task: gemm(scratch, w, region) as an internal function. */
static LLVMValueRef gen_gemm(sn_irb *k, const sn_conv_amx_desc *a, int nq) {
    const sn_conv_desc *d = &a->c;
    char name[64];
    snprintf(name, sizeof name, "amx_gemm_q%d", nq);
    LLVMTypeRef params[3] = {k->t_pi8, k->t_pi8, k->t_pi8};
    sn_irb t;
    LLVMValueRef fn = sn_conv_tile_begin(k, &t, name, params, 3, 3);
    LLVMValueRef scr = LLVMGetParam(fn, 0), w = LLVMGetParam(fn, 1), reg = LLVMGetParam(fn, 2);
    int KC = kchunks(a), taps = d->KH * d->KW;
    int64_t wp = sn_lay_wp(&d->in), pix = (int64_t)KC * 64; /* scratch bytes per pixel */
    int64_t off0 = (int64_t)(d->in.halo - d->PW);           /* column offset of tap kw = 0 */
    int64_t wblock = (int64_t)taps * KC * 1024;             /* bytes per output block */
    const char *dp = a->u8 ? "llvm.x86.tdpbusd.internal" : "llvm.x86.tdpbf16ps.internal";
    irb_loop lm;
    LLVMValueRef v0 = irb_for(&t, &lm, irb_i64(&t, 0), irb_i64(&t, vpad(a)), 32, "vpair");
    LLVMValueRef c[2][2];
    for (int m = 0; m < 2; m++)
        for (int q = 0; q < nq; q++) {
            LLVMValueRef args[2] = {i16c(&t, 16), i16c(&t, 64)};
            c[m][q] = intrinsic(&t, "llvm.x86.tilezero.internal", args, 2);
        }
    LLVMValueRef abase = gep8(&t, scr, irb_mul(&t, irb_addc(&t, v0, off0), pix));
    for (int tap = 0; tap < taps; tap++) {
        int64_t toff = ((int64_t)(tap / d->KW) * wp + tap % d->KW) * pix;
        for (int kc = 0; kc < KC; kc++) {
            LLVMValueRef A[2], B[2];
            for (int m = 0; m < 2; m++)
                A[m] = tload(&t, gep8(&t, abase, irb_i64(&t, toff + m * 16 * pix + kc * 64)), pix);
            for (int q = 0; q < nq; q++)
                B[q] = tload(
                    &t, gep8(&t, w, irb_i64(&t, q * wblock + ((int64_t)tap * KC + kc) * 1024)), 64);
            for (int m = 0; m < 2; m++)
                for (int q = 0; q < nq; q++) {
                    LLVMValueRef args[6] = {i16c(&t, 16), i16c(&t, 64), i16c(&t, 64),
                                            c[m][q],      A[m],         B[q]};
                    c[m][q] = intrinsic(&t, dp, args, 6);
                }
        }
    }
    /* region [virtual pixel][32 x 4 bytes]: block q at byte 64 q */
    for (int m = 0; m < 2; m++)
        for (int q = 0; q < nq; q++) {
            LLVMValueRef p =
                gep8(&t, reg, irb_addc(&t, irb_mul(&t, irb_addc(&t, v0, m * 16), 128), q * 64));
            LLVMValueRef args[5] = {i16c(&t, 16), i16c(&t, 64), p, irb_i64(&t, 128), c[m][q]};
            intrinsic(&t, "llvm.x86.tilestored64.internal", args, 5);
        }
    irb_for_end(&t, &lm);
    LLVMBuildRetVoid(t.b);
    LLVMDisposeBuilder(t.b);
    return fn;
}

/* Converts `rows` padded input rows from src (a float* at image n, block 0, the first
 * source row) into the scratch rows from 0: [row][Wp][Cp] bf16 or u8. */
static void gen_convert(sn_irb *k, const sn_conv_amx_desc *a, LLVMValueRef src, LLVMValueRef scr,
                        LLVMValueRef rows) {
    const sn_conv_desc *d = &a->c;
    LLVMBuilderRef b = k->b;
    int Cb = sn_lay_cb(&d->in), es = esz(a);
    int64_t wp = sn_lay_wp(&d->in), pix = (int64_t)kchunks(a) * 64;
    LLVMTypeRef et = es == 1 ? k->t_i8 : LLVMInt16TypeInContext(k->ctx);
    LLVMTypeRef ve = LLVMVectorType(et, 16), pve = LLVMPointerType(ve, 0);
    irb_loop lb, lp;
    LLVMValueRef cb = irb_for(k, &lb, irb_i64(k, 0), irb_i64(k, Cb), 1, "cb");
    LLVMValueRef sp = irb_gep(k, src, irb_mul(k, cb, sn_lay_plane(&d->in)));
    LLVMValueRef dp = gep8(k, scr, irb_mul(k, cb, 16 * es));
    LLVMValueRef npix = LLVMBuildMul(b, rows, irb_i64(k, wp), "");
    LLVMValueRef p = irb_for(k, &lp, irb_i64(k, 0), npix, 1, "px");
    LLVMValueRef f = irb_vload(k, irb_gep(k, sp, irb_mul(k, p, 16)), 64), cv;
    if (!a->u8) {
        LLVMValueRef args[1] = {f};
        cv = intrinsic(k, "llvm.x86.avx512bf16.cvtneps2bf16.512", args, 1);
    } else {
        if (a->in_mul != 1.0f) f = irb_fmul(k, f, irb_vsplat(k, a->in_mul));
        f = irb_unary(k, "llvm.roundeven", f);
        if (a->in_zero) f = irb_fadd(k, f, irb_vsplat(k, (float)a->in_zero));
        f = irb_fmin(k, irb_fmax(k, f, irb_vsplat(k, a->in_zero ? 1.0f : 0.0f)),
                     irb_vsplat(k, 255.0f));
        cv = LLVMBuildTrunc(b, LLVMBuildFPToSI(b, f, k->t_vi32, ""), ve, "");
    }
    LLVMValueRef s =
        LLVMBuildStore(b, cv, LLVMBuildBitCast(b, gep8(k, dp, irb_mul(k, p, pix)), pve, ""));
    LLVMSetAlignment(s, (unsigned)(16 * es));
    irb_for_end(k, &lp);
    irb_for_end(k, &lb);
}

/* Zeroes the output halo around pooled rows [prow0, prow0 + prows) of every channel block
 * of image yimg, and the top / bottom halo rows when first / last. */
static void zero_halo(sn_irb *k, const sn_conv_desc *d, LLVMValueRef yimg, LLVMValueRef prow0,
                      LLVMValueRef prows, LLVMValueRef first, LLVMValueRef last) {
    const sn_cpu_layout *out = &d->out;
    int h = out->halo;
    if (h == 0) return;
    int64_t row = sn_lay_row(out), wp = sn_lay_wp(out);
    LLVMValueRef zero = irb_vsplat(k, 0.0f);
    irb_loop lb, lr;
    LLVMValueRef ob = irb_for(k, &lb, irb_i64(k, 0), irb_i64(k, sn_lay_cb(out)), 1, "hb");
    LLVMValueRef plane = irb_gep(k, yimg, irb_mul(k, ob, sn_lay_plane(out)));
    LLVMValueRef r = irb_for(k, &lr, irb_i64(k, 0), prows, 1, "hr");
    LLVMValueRef rp = irb_gep(k, plane, irb_mul(k, irb_addc(k, irb_add(k, prow0, r), h), row));
    for (int c = 0; c < h; c++) {
        irb_vstore(k, zero, irb_gepc(k, rp, (int64_t)c * 16), 64);
        irb_vstore(k, zero, irb_gepc(k, rp, (wp - 1 - c) * 16), 64);
    }
    irb_for_end(k, &lr);
    for (int side = 0; side < 2; side++) {
        LLVMBasicBlockRef cont = irb_if(k, side ? last : first, side ? "bottom" : "top");
        for (int rr = 0; rr < h; rr++) {
            int64_t at = (side ? (int64_t)(out->H + h + rr) : rr) * row;
            for (int64_t c = 0; c < wp; c++)
                irb_vstore(k, zero, irb_gepc(k, plane, at + c * 16), 64);
        }
        irb_endif(k, cont);
    }
    irb_for_end(k, &lb);
}

void sn_gen_conv_amx(sn_irb *k, const sn_conv_amx_desc *a) {
    const sn_conv_desc *d = &a->c;
    int Ob = ceil_div(d->O, 16), pk = d->epi.pool ? d->epi.pk : 1;
    int R = a->rows, RT = ceil_div(d->OH, R), OHp = d->OH / pk, OWp = d->OW / pk;
    int64_t wp = sn_lay_wp(&d->in);
    int64_t sbytes = (int64_t)srows(a) * wp * kchunks(a) * 64, rbytes = (int64_t)vpad(a) * 128;
    LLVMValueRef gemm[2] = {gen_gemm(k, a, 2), Ob % 2 ? gen_gemm(k, a, 1) : NULL};
    LLVMValueRef win[2] = {gen_window(k, a, 2), Ob % 2 ? gen_window(k, a, 1) : NULL};
    /* scratch and region, zeroed once per call (padded channels and rows past the map) */
    LLVMTypeRef at = LLVMArrayType(k->t_i8, (unsigned)(sbytes + rbytes));
    LLVMValueRef arr = LLVMBuildAlloca(k->b, at, "scratch");
    LLVMSetAlignment(arr, 64);
    LLVMValueRef scr = LLVMBuildBitCast(k->b, arr, k->t_pi8, "");
    LLVMBuildMemSet(k->b, scr, LLVMConstInt(k->t_i8, 0, 0), irb_i64(k, sbytes + rbytes), 64);
    LLVMValueRef reg = gep8(k, scr, irb_i64(k, sbytes));
    LLVMValueRef regf = LLVMBuildBitCast(k->b, reg, k->t_pf, "");
    LLVMValueRef x = irb_arg_buf(k, 0), y = irb_arg_buf(k, 3), bias = irb_arg_buf(k, 2);
    LLVMValueRef w = LLVMBuildBitCast(k->b, irb_arg_buf(k, 1), k->t_pi8, "");
    LLVMValueRef qsb = a->u8 && a->dequant ? irb_arg_buf(k, 4) : y;
    int U = sn_epi_threshold_units(&d->epi);
    LLVMValueRef thb = U ? irb_arg_buf(k, 5) : y;
    const sn_cpu_layout *in = &d->in, *out = &d->out;
    int64_t wblock = (int64_t)d->KH * d->KW * kchunks(a) * 1024;
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef n = irb_remc(k, t, d->N), rt = irb_divc(k, t, d->N);
    LLVMValueRef r0 = irb_mul(k, rt, R);
    /* input rows from padded row r0 + halo - PH: as many as exist (the rest is never read
     * by a real output pixel) */
    LLVMValueRef first = irb_addc(k, r0, in->halo - d->PH);
    LLVMValueRef avail = LLVMBuildSub(k->b, irb_i64(k, sn_lay_hp(in)), first, "");
    LLVMValueRef want = irb_i64(k, srows(a));
    LLVMValueRef nrows = LLVMBuildSelect(k->b, irb_icmp_lt(k, avail, want), avail, want, "");
    LLVMValueRef xsrc = irb_gep(
        k, x, irb_add(k, irb_mul(k, n, sn_lay_image(in)), irb_mul(k, first, sn_lay_row(in))));
    gen_convert(k, a, xsrc, scr, nrows);
    /* pooled output rows of this task */
    LLVMValueRef prow0 = irb_divc(k, r0, pk);
    LLVMValueRef left = LLVMBuildSub(k->b, irb_i64(k, OHp), prow0, "");
    LLVMValueRef prows = LLVMBuildSelect(k->b, irb_icmp_lt(k, left, irb_i64(k, R / pk)), left,
                                         irb_i64(k, R / pk), "");
    LLVMValueRef yimg = irb_gep(k, y, irb_mul(k, n, sn_lay_image(out)));
    for (int e = 0; e < 2; e++) { /* pairs of blocks, then the odd one (e = 1) */
        int groups = e == 0 ? Ob / 2 : Ob % 2;
        if (groups == 0) continue;
        irb_loop lq;
        LLVMValueRef g = irb_for(k, &lq, irb_i64(k, 0), irb_i64(k, groups), 1, "pair");
        LLVMValueRef ob0 = e == 0 ? irb_mul(k, g, 2) : irb_i64(k, Ob - 1);
        LLVMValueRef wq = gep8(k, w, irb_mul(k, ob0, wblock));
        LLVMValueRef args[3] = {scr, wq, reg};
        LLVMBuildCall2(k->b, LLVMGlobalGetValueType(gemm[e]), gemm[e], args, 3, "");
        LLVMValueRef bq = irb_gep(k, bias, irb_mul(k, ob0, 16));
        LLVMValueRef qq = a->u8 && a->dequant ? irb_gep(k, qsb, irb_mul(k, ob0, 16)) : y;
        LLVMValueRef tq = U ? irb_gep(k, thb, irb_mul(k, ob0, (int64_t)U * 16)) : y;
        LLVMValueRef yq = irb_gep(k, yimg, irb_mul(k, ob0, sn_lay_plane(out)));
        irb_loop lr, lc;
        LLVMValueRef pr = irb_for(k, &lr, irb_i64(k, 0), prows, 1, "prow");
        LLVMValueRef pc = irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, OWp), 1, "pcol");
        LLVMValueRef v = irb_add(k, irb_mul(k, irb_mul(k, pr, pk), wp), irb_mul(k, pc, pk));
        LLVMValueRef rg = irb_gep(k, regf, irb_mul(k, v, 32));
        LLVMValueRef yo = irb_gep(
            k, yq,
            irb_add(k, irb_mul(k, irb_addc(k, irb_add(k, prow0, pr), out->halo), sn_lay_row(out)),
                    irb_mul(k, irb_addc(k, pc, out->halo), sn_lay_pix(out))));
        LLVMValueRef wargs[5] = {rg, bq, yo, tq, qq};
        LLVMBuildCall2(k->b, LLVMGlobalGetValueType(win[e]), win[e], wargs, 5, "");
        irb_for_end(k, &lc);
        irb_for_end(k, &lr);
        irb_for_end(k, &lq);
    }
    zero_halo(k, d, yimg, prow0, prows, irb_icmp_eq(k, rt, 0), irb_icmp_eq(k, rt, RT - 1));
    irb_for_end(k, &lt);
    intrinsic(k, "llvm.x86.tilerelease", NULL, 0);
}
