/* Direct convolution kernels, vectorized over output channels.
 *
 * The inner step is an outer product: one vector of vl output-channel weights times one
 * broadcast input value, accumulated for every pixel of the tile. A tile of tn images x
 * tr rows x tw cols x tq channel blocks stays in registers for the whole reduction over
 * input channels and kernel taps, so each weight vector loaded is used tn*tr*tw times
 * and each input value tq times. Tiles whose sizes are not full (the ends of rows,
 * columns, the batch, the channel blocks) get their own fully unrolled variant.
 *
 * Task order puts images innermost, so consecutive tasks on a thread reuse the same
 * weights from cache (what matters for the deep layers with small maps). */
#include <stdio.h>
#include <string.h>

#include "kernels.h"

static int imin(int a, int b) {
    return a < b ? a : b;
}
static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

int sn_conv_search_tile(sn_conv_desc *d, int vl, int budget, double row_tie, sn_tile_fit fit,
                        const void *arg) {
    int Ob = ceil_div(d->O, vl);
    int pk = d->epi.pool ? d->epi.pk : 1;
    double best = -1;
    for (int tq = 1; tq <= imin(Ob, 4); tq++) {
        int P = budget / tq;
        if (P < pk * pk) continue;
        for (int tr = pk; tr <= imin(d->OH, P); tr += pk) {
            for (int tw = pk; tw <= imin(d->OW, P / tr); tw += pk) {
                int tn = 1;
                if (tr == d->OH && tw == d->OW)
                    tn = (int)(P / (tr * tw) < d->N ? P / (tr * tw) : d->N);
                if (tn < 1) tn = 1;
                if (fit && (tn = fit(arg, tn, tr)) < 1) continue;
                double tiles = (double)ceil_div((int)d->N, tn) * ceil_div(d->OH, tr) *
                               ceil_div(d->OW, tw) * ceil_div(Ob, tq);
                double work = (double)d->N * d->OH * d->OW * Ob;
                double per_tile = work / tiles; /* average accumulators per tile */
                /* Ties: prefer more channel blocks per tile (less input re-reading), then
                 * (row_tie > 0) more rows. */
                double score = per_tile + 0.01 * tq + row_tie * tr;
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

static int conv_placed_tiles(const sn_conv_desc *d);
static int conv_whole_map(const sn_conv_desc *d);
static int in_padding(const sn_conv_desc *d, int r, int c, int kh, int kw);

void sn_conv_choose_tile(sn_conv_desc *d, int nregs) {
    int budget = nregs >= 32 ? 28 : nregs >= 16 ? 12 : 6;
    if (sn_conv_search_tile(d, d->out.vl, budget, 0.0, NULL, NULL) < 0) {
        /* budget smaller than the pool window: minimal tile */
        d->tn = 1;
        d->tr = d->epi.pool ? d->epi.pk : 1;
        d->tw = d->tr;
        d->tq = 1;
    }
    /* A small map whose weights outweigh its input many times over (VGG16's 4x4 layers at
     * batch 1: 9 MiB of weights, 32 KiB of input): one tile covers the whole map, so each
     * weight is read once, by the one task of its channel blocks (the search's 2x4 tiles
     * read them twice), and used by every pixel whose taps reach it. */
    int px = d->OH * d->OW, Ob = ceil_div(d->O, d->out.vl);
    if (conv_placed_tiles(d) && px <= budget &&
        (int64_t)d->O * d->KH * d->KW >= 16 * d->N * (int64_t)d->in.H * d->in.W) {
        d->tr = d->OH;
        d->tw = d->OW;
        d->tq = imin(imin(4, Ob), budget / px);
        d->tn = (int)imin((int)d->N, budget / (px * d->tq));
    }
}

int64_t sn_conv_executed_macs(const sn_conv_desc *d) {
    int64_t pairs = (int64_t)d->OH * d->OW * d->KH * d->KW; /* pixel-tap products */
    if (conv_placed_tiles(d) || conv_whole_map(d)) {        /* the padding's left out */
        pairs = 0;
        for (int r = 0; r < d->OH; r++)
            for (int c = 0; c < d->OW; c++)
                for (int kh = 0; kh < d->KH; kh++)
                    for (int kw = 0; kw < d->KW; kw++) pairs += !in_padding(d, r, c, kh, kw);
    }
    return d->N * pairs * d->in.C * d->O;
}

int64_t sn_conv_tasks(const sn_conv_desc *d) {
    int Ob = ceil_div(d->O, d->out.vl);
    return (int64_t)ceil_div((int)d->N, d->tn) * ceil_div(d->OH, d->tr) * ceil_div(Ob, d->tq);
}

int sn_epi_threshold_units(const sn_epilogue *e) {
    for (int i = 0; i < e->nops; i++)
        if (e->ops[i].kind == SN_EPI_THRESHOLD) return e->ops[i].U;
    return 0;
}

LLVMValueRef sn_gen_epilogue(sn_irb *k, const sn_epilogue *e, LLVMValueRef v) {
    return sn_gen_epilogue_at(k, e, v, NULL);
}

LLVMValueRef sn_gen_epilogue_at(sn_irb *k, const sn_epilogue *e, LLVMValueRef v,
                                LLVMValueRef theta) {
    for (int i = 0; i < e->nops; i++) {
        const sn_epi_op *op = &e->ops[i];
        switch (op->kind) {
        case SN_EPI_RELU:
            v = irb_fmax(k, v, irb_vsplat(k, 0.0f));
            break;
        case SN_EPI_QUANT: {
            float s = (float)(1 << op->q.k);
            v = irb_fmin(k, irb_fmax(k, v, irb_vsplat(k, 0.0f)), irb_vsplat(k, op->q.B));
            v = irb_floor(k, irb_fadd(k, irb_fmul(k, v, irb_vsplat(k, s)), irb_vsplat(k, 0.5f)));
            v = irb_fmul(k, v, irb_vsplat(k, 1.0f / s));
            break;
        }
        case SN_EPI_THRESHOLD: {
            /* count of theta[u] <= v, exactly the reference's comparison (NaN counts 0);
             * the lowering only builds this op for kernels that pass the thresholds */
            if (!theta) break;
            LLVMValueRef one = irb_vsplat(k, 1.0f), cnt = irb_vsplat(k, 0.0f);
            for (int u = 0; u < op->U; u++) { /* a compare and a masked add per unit */
                LLVMValueRef th = irb_vload(k, irb_gepc(k, theta, (int64_t)u * k->vl), k->vl * 4);
                cnt = irb_select_ge(k, v, th, irb_fadd(k, cnt, one), cnt);
            }
            v = cnt;
            break;
        }
        }
    }
    return v;
}

LLVMValueRef sn_gen_round_bf16(sn_irb *k, LLVMValueRef v) {
    /* bits + 0x7fff + (bit 16 of bits), then the low half cleared: round to nearest even;
     * large finite values round up to infinity as they should; NaN is kept as it is. Works
     * on a float or a vector of floats of any width. */
    LLVMBuilderRef b = k->b;
    LLVMTypeRef vt = LLVMTypeOf(v);
    int n = LLVMGetTypeKind(vt) == LLVMVectorTypeKind ? (int)LLVMGetVectorSize(vt) : 0;
    LLVMTypeRef ti = n ? LLVMVectorType(k->t_i32, (unsigned)n) : k->t_i32;
    LLVMValueRef c[4];
    const int32_t cv[4] = {16, 0x7fff, 1, (int32_t)0xffff0000u};
    for (int j = 0; j < 4; j++) {
        c[j] = irb_i32(k, cv[j]);
        if (n) {
            LLVMValueRef e[64];
            for (int i = 0; i < n; i++) e[i] = c[j];
            c[j] = LLVMConstVector(e, (unsigned)n);
        }
    }
    LLVMValueRef bits = LLVMBuildBitCast(b, v, ti, "");
    LLVMValueRef lsb = LLVMBuildAnd(b, LLVMBuildLShr(b, bits, c[0], ""), c[2], "");
    LLVMValueRef r = LLVMBuildAdd(b, LLVMBuildAdd(b, bits, c[1], ""), lsb, "");
    r = LLVMBuildBitCast(b, LLVMBuildAnd(b, r, c[3], ""), vt, "");
    LLVMValueRef nan = LLVMBuildFCmp(b, LLVMRealUNO, v, v, "");
    return LLVMBuildSelect(b, nan, v, r, "");
}

LLVMValueRef sn_gen_epi_store_value(sn_irb *k, const sn_epilogue *e, LLVMValueRef v) {
    return e->round_bf16 ? sn_gen_round_bf16(k, v) : v;
}

void sn_gen_store_u8(sn_irb *k, const sn_epilogue *e, LLVMValueRef v, LLVMValueRef base,
                     int64_t off) {
    LLVMBuilderRef b = k->b;
    if (e->store_mul != 1.0f) v = irb_fmul(k, v, irb_vsplat(k, e->store_mul));
    v = irb_unary(k, "llvm.roundeven", v);
    if (e->store_zero) v = irb_fadd(k, v, irb_vsplat(k, (float)e->store_zero));
    v = irb_fmin(k, irb_fmax(k, v, irb_vsplat(k, e->store_zero ? 1.0f : 0.0f)),
                 irb_vsplat(k, 255.0f));
    LLVMTypeRef v8 = LLVMVectorType(k->t_i8, (unsigned)k->vl);
    LLVMValueRef q = LLVMBuildTrunc(b, LLVMBuildFPToSI(b, v, k->t_vi32, ""), v8, "");
    LLVMValueRef p8 = LLVMBuildBitCast(b, base, k->t_pi8, "");
    LLVMValueRef p =
        LLVMBuildInBoundsGEP2(b, k->t_i8, p8, (LLVMValueRef[]){irb_i64(k, off)}, 1, "");
    LLVMValueRef st = LLVMBuildStore(b, q, LLVMBuildBitCast(b, p, LLVMPointerType(v8, 0), ""));
    LLVMSetAlignment(st, (unsigned)k->vl);
}

static int conv_whole_map(const sn_conv_desc *d) {
    return d->tr >= d->OH && d->tw >= d->OW;
}

/* Small maps: every task's tiles get their own functions, made for their place in the
 * map, so that their products with the zero padding are left out (a 4x4 map computes 100 of
 * its 144 pixel-tap products, a 2x2 one 16 of 36). */
static int conv_placed_tiles(const sn_conv_desc *d) {
    return d->OH <= 8 && d->OW <= 8;
}

/* Whether output pixel (r, c) of the map reads the padding at tap (kh, kw). */
static int in_padding(const sn_conv_desc *d, int r, int c, int kh, int kw) {
    int y = r * d->SH + kh - d->PH, x = c * d->SW + kw - d->PW;
    return y < 0 || y >= d->in.H || x < 0 || x >= d->in.W;
}

/* Whether any pixel of an rr x ww tile at output (r0, c0) reads real input at tap (kh, kw). */
static int tap_used(const sn_conv_desc *d, int r0, int c0, int rr, int ww, int kh, int kw) {
    for (int r = 0; r < rr; r++)
        for (int c = 0; c < ww; c++)
            if (!in_padding(d, r0 + r, c0 + c, kh, kw)) return 1;
    return 0;
}

static LLVMValueRef slot_sum(sn_irb *t, LLVMValueRef acc, int q, void *ctx) {
    (void)q;
    (void)ctx;
    return irb_slot_get(t, acc);
}

/* One tile variant as an internal function: tile(x, w, b, y, mask source, thresholds)
 * with every pointer already at the tile origin (the thresholds at its first channel
 * block). A tile made for its place (r0, c0 >= 0: its first output row and column) leaves
 * out its products with the padding; r0 < 0: anywhere. */
static LLVMValueRef gen_tile_at(sn_irb *k, const sn_conv_desc *d, int nn, int rr, int ww, int qq,
                                int r0, int c0) {
    int vl = k->vl;
    char name[96];
    if (r0 >= 0)
        snprintf(name, sizeof name, "tile_n%d_r%d_w%d_q%d_at%d_%d", nn, rr, ww, qq, r0, c0);
    else
        snprintf(name, sizeof name, "tile_n%d_r%d_w%d_q%d", nn, rr, ww, qq);
    /* tile(x, w, b, y, mask source, thresholds) */
    LLVMTypeRef params[6] = {k->t_pf, k->t_pf, k->t_pf, k->t_pf, k->t_pf, k->t_pf};
    sn_irb t;
    LLVMValueRef fn = sn_conv_tile_begin(k, &t, name, params, 6, 4);
    LLVMValueRef x = LLVMGetParam(fn, 0), w = LLVMGetParam(fn, 1), b = LLVMGetParam(fn, 2),
                 y = LLVMGetParam(fn, 3);

    const sn_cpu_layout *in = &d->in;
    int C = d->in.C;
    int64_t in_img = sn_lay_image(in), in_row = sn_lay_row(in), in_pix = sn_lay_pix(in);
    int64_t taps = (int64_t)d->KH * d->KW;
    int64_t w_chan = taps * vl; /* floats per input channel in the packed weights */
    int64_t w_block = (int64_t)C * w_chan;
    int nacc = nn * rr * ww * qq;
    int placed = r0 >= 0;
    LLVMValueRef acc[256];
    for (int a = 0; a < nacc; a++) {
        acc[a] = irb_slot(&t);
        irb_slot_set(&t, acc[a], irb_vsplat(&t, 0.0f));
    }
#define ACC(i, r, c, q) acc[(((i)*rr + (r)) * ww + (c)) * qq + (q)]
    /* Input channels: full groups of L lanes, then a tail group. Blocked input: a group
     * is a channel block (lane stride 1); plain input: one group of C channels. */
    int L = in->blocked ? in->vl : C;
    int G = C / L, tail = C % L;
    int64_t gstride = in->blocked ? sn_lay_plane(in) : 0;
    int64_t lstride = in->blocked ? 1 : sn_lay_plane(in);
    for (int part = 0; part < 2; part++) {
        int groups = part == 0 ? G : (tail ? 1 : 0);
        int lanes = part == 0 ? L : tail;
        if (groups == 0 || lanes == 0) continue;
        irb_loop lg, ll;
        LLVMValueRef g = irb_for(&t, &lg, irb_i64(&t, part == 0 ? 0 : G),
                                 irb_i64(&t, part == 0 ? G : G + 1), 1, "g");
        LLVMValueRef l = irb_for(&t, &ll, irb_i64(&t, 0), irb_i64(&t, lanes), 1, "l");
        LLVMValueRef xoff = irb_add(&t, irb_mul(&t, g, gstride), irb_mul(&t, l, lstride));
        LLVMValueRef xc = irb_gep(&t, x, xoff);
        LLVMValueRef c = irb_add(&t, irb_mul(&t, g, L), l);
        LLVMValueRef wc = irb_gep(&t, w, irb_mul(&t, c, w_chan));
        for (int kh = 0; kh < d->KH; kh++)
            for (int kw = 0; kw < d->KW; kw++) {
                if (placed && !tap_used(d, r0, c0, rr, ww, kh, kw)) continue;
                LLVMValueRef wv[8];
                for (int q = 0; q < qq; q++)
                    wv[q] = irb_vload(&t, irb_gepc(&t, wc, q * w_block + (kh * d->KW + kw) * vl),
                                      vl * 4);
                for (int i = 0; i < nn; i++)
                    for (int r = 0; r < rr; r++)
                        for (int cc = 0; cc < ww; cc++) {
                            if (placed && in_padding(d, r0 + r, c0 + cc, kh, kw)) continue;
                            int64_t off = i * in_img + (int64_t)(r * d->SH + kh) * in_row +
                                          (int64_t)(cc * d->SW + kw) * in_pix;
                            LLVMValueRef xs = irb_bcast_load(&t, irb_gepc(&t, xc, off));
                            for (int q = 0; q < qq; q++) {
                                LLVMValueRef s = ACC(i, r, cc, q);
                                irb_slot_set(&t, s, irb_fma(&t, xs, wv[q], irb_slot_get(&t, s)));
                            }
                        }
            }
        irb_for_end(&t, &ll);
        irb_for_end(&t, &lg);
    }
#undef ACC
    sn_conv_tile_end(&t, d, vl, nn, rr, ww, qq, acc, slot_sum, NULL, b, LLVMGetParam(fn, 5), y,
                     LLVMGetParam(fn, 4));
    return fn;
}

/* A tile whose place is not known when generated (the whole map's is: the origin). */
static LLVMValueRef gen_tile(sn_irb *k, const sn_conv_desc *d, int nn, int rr, int ww, int qq) {
    int whole = conv_whole_map(d);
    return gen_tile_at(k, d, nn, rr, ww, qq, whole ? 0 : -1, whole ? 0 : -1);
}

LLVMValueRef sn_conv_tile_begin(const sn_irb *k, sn_irb *t, const char *name, LLVMTypeRef *params,
                                unsigned n, unsigned noalias) {
    LLVMValueRef fn = LLVMAddFunction(k->mod, name, LLVMFunctionType(k->t_void, params, n, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    unsigned kind = LLVMGetEnumAttributeKindForName("noalias", 7);
    for (unsigned i = 0; i < noalias; i++)
        LLVMAddAttributeAtIndex(fn, i + 1, LLVMCreateEnumAttribute(k->ctx, kind, 0));
    /* generate into fn with a temporary irb state */
    *t = *k;
    t->fn = fn;
    t->b = LLVMCreateBuilderInContext(k->ctx);
    t->entry = LLVMAppendBasicBlockInContext(k->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(t->b, t->entry);
    return fn;
}

void sn_conv_tile_end(sn_irb *t, const sn_conv_desc *d, int vl, int nn, int rr, int ww, int qq,
                      const LLVMValueRef *acc, sn_conv_sum_fn sum, void *sum_ctx, LLVMValueRef b,
                      LLVMValueRef th, LLVMValueRef y, LLVMValueRef mask) {
    const sn_cpu_layout *out = &d->out;
    int64_t o_img = sn_lay_image(out), o_plane = sn_lay_plane(out), o_row = sn_lay_row(out),
            o_pix = sn_lay_pix(out);
    LLVMValueRef bias[8], theta[8];
    int U = sn_epi_threshold_units(&d->epi);
    for (int q = 0; q < qq; q++) {
        bias[q] = irb_vload(t, irb_gepc(t, b, (int64_t)q * vl), vl * 4);
        theta[q] = U ? irb_gepc(t, th, (int64_t)q * U * vl) : NULL;
    }
    int pk = d->epi.pool ? d->epi.pk : 1;
    for (int i = 0; i < nn; i++)
        for (int q = 0; q < qq; q++)
            for (int pr = 0; pr < rr / pk; pr++)
                for (int pc = 0; pc < ww / pk; pc++) {
                    LLVMValueRef res = NULL;
                    for (int dr = 0; dr < pk; dr++)
                        for (int dc = 0; dc < pk; dc++) {
                            int r = pr * pk + dr, c = pc * pk + dc;
                            LLVMValueRef v = irb_fadd(
                                t, sum(t, acc[((i * rr + r) * ww + c) * qq + q], q, sum_ctx),
                                bias[q]);
                            v = sn_gen_epilogue_at(t, &d->epi, v, theta[q]);
                            if (!res)
                                res = v;
                            else if (d->epi.pool == 1)
                                res = irb_fmax(t, res, v);
                            else
                                res = irb_fadd(t, res, v);
                        }
                    if (d->epi.pool == 2)
                        res = irb_fmul(t, res, irb_vsplat(t, 1.0f / (float)(pk * pk)));
                    int64_t off =
                        i * o_img + q * o_plane + (int64_t)pr * o_row + (int64_t)pc * o_pix;
                    if (d->epi.mask && mask) /* the dot-product kernels run no mask */
                        res = sn_gen_mask(t, &d->epi, res,
                                          irb_vload(t, irb_gepc(t, mask, off), vl * 4));
                    res = sn_gen_epi_store_value(t, &d->epi, res);
                    if (d->epi.store_u8)
                        sn_gen_store_u8(t, &d->epi, res, y, off);
                    else
                        irb_vstore(t, res, irb_gepc(t, y, off), vl * 4);
                }
    LLVMBuildRetVoid(t->b);
    LLVMDisposeBuilder(t->b);
}

/* Zeroes the halo of output rows [row0, row0+rows) (in stored coordinates) for images
 * [0, nn) and channel blocks [0, qq) of the tile at y (image n0, block ob0, interior
 * origin), plus the top/bottom halo rows when first/last. */
void sn_gen_conv_zero_halo(sn_irb *k, const sn_conv_desc *d, LLVMValueRef yimg, int nn, int qq,
                           LLVMValueRef row0, int rows, LLVMValueRef first, LLVMValueRef last) {
    const sn_cpu_layout *out = &d->out;
    int h = out->halo;
    if (h == 0) return;
    int vl = k->vl;
    int64_t o_img = sn_lay_image(out), o_plane = sn_lay_plane(out), o_row = sn_lay_row(out);
    int64_t wp = sn_lay_wp(out);
    LLVMValueRef zero = irb_vsplat(k, 0.0f);
    if (d->epi.store_u8) { /* a u8 map (yimg an i8*): the halo is the quantized zero */
        sn_epilogue e = d->epi;
        for (int i = 0; i < nn; i++)
            for (int q = 0; q < qq; q++) {
                LLVMValueRef plane = LLVMBuildInBoundsGEP2(
                    k->b, k->t_i8, yimg, (LLVMValueRef[]){irb_i64(k, i * o_img + q * o_plane)}, 1,
                    "");
                irb_loop lr;
                LLVMValueRef r = irb_for(k, &lr, irb_i64(k, 0), irb_i64(k, rows), 1, "hr");
                LLVMValueRef rowp = LLVMBuildInBoundsGEP2(
                    k->b, k->t_i8, plane,
                    (LLVMValueRef[]){irb_mul(k, irb_addc(k, irb_add(k, row0, r), h), o_row)}, 1,
                    "");
                for (int c = 0; c < h; c++) {
                    sn_gen_store_u8(k, &e, zero, rowp, (int64_t)c * vl);
                    sn_gen_store_u8(k, &e, zero, rowp, (wp - 1 - c) * vl);
                }
                irb_for_end(k, &lr);
                for (int side = 0; side < 2; side++) {
                    LLVMBasicBlockRef cont =
                        irb_if(k, side ? last : first, side ? "bottom" : "top");
                    for (int rr = 0; rr < h; rr++)
                        for (int64_t c = 0; c < wp; c++)
                            sn_gen_store_u8(k, &e, zero, plane,
                                            (side ? (int64_t)(out->H + h + rr) : rr) * o_row +
                                                c * vl);
                    irb_endif(k, cont);
                }
            }
        return;
    }
    for (int i = 0; i < nn; i++)
        for (int q = 0; q < qq; q++) {
            LLVMValueRef plane =
                irb_gepc(k, yimg, i * o_img + q * o_plane); /* row 0 of the padded map */
            /* side columns of this task's rows */
            irb_loop lr;
            LLVMValueRef r = irb_for(k, &lr, irb_i64(k, 0), irb_i64(k, rows), 1, "hr");
            LLVMValueRef rowp =
                irb_gep(k, plane, irb_mul(k, irb_addc(k, irb_add(k, row0, r), h), o_row));
            for (int c = 0; c < h; c++) {
                irb_vstore(k, zero, irb_gepc(k, rowp, (int64_t)c * vl), vl * 4);
                irb_vstore(k, zero, irb_gepc(k, rowp, (wp - 1 - c) * vl), vl * 4);
            }
            irb_for_end(k, &lr);
            /* top rows */
            LLVMBasicBlockRef cont = irb_if(k, first, "top");
            for (int rr = 0; rr < h; rr++)
                for (int64_t c = 0; c < wp; c++)
                    irb_vstore(k, zero, irb_gepc(k, plane, rr * o_row + c * vl), vl * 4);
            irb_endif(k, cont);
            cont = irb_if(k, last, "bottom");
            for (int rr = 0; rr < h; rr++)
                for (int64_t c = 0; c < wp; c++)
                    irb_vstore(k, zero,
                               irb_gepc(k, plane, (int64_t)(out->H + h + rr) * o_row + c * vl),
                               vl * 4);
            irb_endif(k, cont);
        }
}

void sn_conv_frame_init(sn_irb *k, const sn_conv_desc *d, int vl, sn_conv_tile_fn tile,
                        sn_conv_frame *f) {
    memset(f, 0, sizeof *f);
    f->Ob = ceil_div(d->O, vl);
    f->OCG = ceil_div(f->Ob, d->tq);
    f->RT = ceil_div(d->OH, d->tr);
    f->NT = ceil_div((int)d->N, d->tn);
    f->pk = d->epi.pool ? d->epi.pk : 1;
    f->nv[0] = d->tn;
    f->nv[1] = (int)(d->N % d->tn);
    f->rv[0] = d->tr;
    f->rv[1] = d->OH % d->tr;
    f->wv[0] = d->tw;
    f->wv[1] = d->OW % d->tw;
    f->qv[0] = d->tq;
    f->qv[1] = f->Ob % d->tq;
    for (int a = 0; a < 2; a++)
        for (int bq = 0; bq < 2; bq++)
            for (int c = 0; c < 2; c++)
                for (int e = 0; e < 2; e++)
                    if (tile && f->nv[a] && f->rv[bq] && f->wv[c] && f->qv[e])
                        f->tiles[a][bq][c][e] = tile(k, d, f->nv[a], f->rv[bq], f->wv[c], f->qv[e]);
}

void sn_conv_task_begin(sn_irb *k, const sn_conv_desc *d, int vl, sn_conv_frame *f) {
    LLVMValueRef t = irb_for(k, &f->lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef nt = irb_remc(k, t, f->NT);
    LLVMValueRef rest = irb_divc(k, t, f->NT);
    LLVMValueRef rt = irb_remc(k, rest, f->RT);
    LLVMValueRef ocg = irb_divc(k, rest, f->RT);
    f->n0 = irb_mul(k, nt, f->nv[0]);
    f->r0 = irb_mul(k, rt, f->rv[0]);
    f->ob0 = irb_mul(k, ocg, f->qv[0]);
    f->orow0 = irb_divc(k, f->r0, f->pk);
    f->last_n = irb_icmp_eq(k, nt, f->NT - 1);
    f->last_r = irb_icmp_eq(k, rt, f->RT - 1);
    f->last_q = irb_icmp_eq(k, ocg, f->OCG - 1);
    f->first_r = irb_icmp_eq(k, rt, 0);
    const sn_cpu_layout *in = &d->in, *out = &d->out;
    f->x_off = irb_add(
        k, irb_mul(k, f->n0, sn_lay_image(in)),
        irb_mul(k, irb_addc(k, irb_mul(k, f->r0, d->SH), in->halo - d->PH), sn_lay_row(in)));
    f->y_img_off =
        irb_add(k, irb_mul(k, f->n0, sn_lay_image(out)), irb_mul(k, f->ob0, sn_lay_plane(out)));
    f->y_row_off =
        irb_add(k, f->y_img_off, irb_mul(k, irb_addc(k, f->orow0, out->halo), sn_lay_row(out)));
    f->b_off = irb_mul(k, f->ob0, vl);
    f->th_off = irb_mul(k, f->ob0, (int64_t)sn_epi_threshold_units(&d->epi) * vl);
}

void sn_conv_task_end(sn_irb *k, sn_conv_frame *f) {
    irb_for_end(k, &f->lt);
}

LLVMBasicBlockRef sn_conv_variant_begin(sn_irb *k, const sn_conv_frame *f, int a, int bq, int e) {
    if (!f->nv[a] || !f->rv[bq] || !f->qv[e]) return NULL;
    /* a tail variant runs on the last task of its dimension, the full one elsewhere */
    LLVMValueRef cond = LLVMConstInt(LLVMInt1TypeInContext(k->ctx), 1, 0);
    const LLVMValueRef last[3] = {f->last_n, f->last_r, f->last_q};
    const int tail[3] = {f->nv[1], f->rv[1], f->qv[1]}, which[3] = {a, bq, e};
    for (int i = 0; i < 3; i++)
        if (tail[i])
            cond =
                LLVMBuildAnd(k->b, cond, which[i] ? last[i] : LLVMBuildNot(k->b, last[i], ""), "");
    return irb_if(k, cond, "variant");
}

void sn_conv_variant_end(sn_irb *k, const sn_conv_desc *d, const sn_conv_frame *f,
                         LLVMValueRef yimg, int a, int bq, int e, LLVMBasicBlockRef cont) {
    sn_gen_conv_zero_halo(k, d, yimg, f->nv[a], f->qv[e], f->orow0, f->rv[bq] / f->pk, f->first_r,
                          f->last_r);
    irb_endif(k, cont);
}

int sn_conv_col_variant(const sn_conv_desc *d, int col) {
    return d->OW - col >= d->tw ? 0 : 1;
}

void sn_gen_conv(sn_irb *k, const sn_conv_desc *d) {
    int vl = k->vl;
    sn_conv_frame f;
    /* placed tiles are made below, for each row tile and column */
    int placed = conv_placed_tiles(d) && !conv_whole_map(d);
    sn_conv_frame_init(k, d, vl, placed ? NULL : gen_tile, &f);
    const sn_cpu_layout *in = &d->in, *out = &d->out;
    LLVMValueRef x = irb_arg_buf(k, 0), w = irb_arg_buf(k, 1), b = irb_arg_buf(k, 2),
                 y = irb_arg_buf(k, 3);
    /* the mask source has the output's layout: the same offsets address it */
    LLVMValueRef mbase = d->epi.mask ? irb_arg_buf(k, 4) : y;
    /* the thresholds of the tile's first channel block (or any pointer: unused) */
    int U = sn_epi_threshold_units(&d->epi);
    LLVMValueRef thb = U ? irb_arg_buf(k, 5) : y;
    int64_t in_pix = sn_lay_pix(in), o_pix = sn_lay_pix(out);
    int64_t w_block = (int64_t)d->in.C * d->KH * d->KW * vl;
    sn_conv_task_begin(k, d, vl, &f);
    /* tile origins that do not depend on the column */
    LLVMValueRef xrow = irb_gep(k, x, f.x_off);
    LLVMValueRef wb = irb_gep(k, w, irb_mul(k, f.ob0, w_block));
    LLVMValueRef bb = irb_gep(k, b, f.b_off);
    LLVMValueRef tht = U ? irb_gep(k, thb, f.th_off) : y;
    LLVMValueRef yimg = irb_gep(k, y, f.y_img_off);
    LLVMValueRef yrow_off = f.y_row_off;
    LLVMValueRef yrow = irb_gep(k, y, yrow_off);
    for (int a = 0; a < 2; a++)
        for (int bq = 0; bq < 2; bq++)
            for (int e = 0; e < 2; e++) {
                LLVMBasicBlockRef cont = sn_conv_variant_begin(k, &f, a, bq, e);
                if (!cont) continue;
                /* the row tiles of this variant: any (-1), or each in turn when placed */
                for (int rt = placed ? 0 : -1; rt < (placed ? f.RT : 0); rt++) {
                    LLVMBasicBlockRef at = NULL;
                    if (placed) {
                        if ((rt == f.RT - 1 && f.rv[1]) != bq) continue; /* not this variant's */
                        at = irb_if(k, irb_icmp_eq(k, f.r0, (int64_t)rt * f.rv[0]), "row_tile");
                    }
                    for (int col = 0; col < d->OW;) {
                        int c = sn_conv_col_variant(d, col);
                        LLVMValueRef xt =
                            irb_gepc(k, xrow, (int64_t)(col * d->SW + in->halo - d->PW) * in_pix);
                        LLVMValueRef yt =
                            irb_gepc(k, yrow, (int64_t)(col / f.pk + out->halo) * o_pix);
                        /* the same position in the mask source */
                        LLVMValueRef mt = irb_gep(
                            k, mbase,
                            irb_addc(k, yrow_off, (int64_t)(col / f.pk + out->halo) * o_pix));
                        LLVMValueRef args[6] = {xt, wb, bb, yt, mt, tht};
                        LLVMValueRef fn = placed ? gen_tile_at(k, d, f.nv[a], f.rv[bq], f.wv[c],
                                                               f.qv[e], rt * f.rv[0], col)
                                                 : f.tiles[a][bq][c][e];
                        LLVMBuildCall2(k->b, LLVMGlobalGetValueType(fn), fn, args, 6, "");
                        col += f.wv[c];
                    }
                    if (at) irb_endif(k, at);
                }
                sn_conv_variant_end(k, d, &f, yimg, a, bq, e, cont);
            }
    sn_conv_task_end(k, &f);
}
