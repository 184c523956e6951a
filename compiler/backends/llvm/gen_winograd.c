/* Winograd F(2x2, 3x3) convolution for stride-1 3x3 layers on even maps.
 *
 * Each 2x2 output tile comes from a 4x4 input patch d: V = B^T d B (input transform),
 * M = V (.) U summed over input channels, with U = G g G^T the transformed 3x3 filter
 * (prepared once), and Y = A^T M A (output transform). The sum over channels is 16
 * independent GEMMs (one per transform position xi): tiles x C times C x O, which is where
 * the time goes: 16 multiplies per tile and channel pair instead of 36 for direct
 * convolution (2.25x fewer). With dyadic data every step is exact, so quantizer decisions
 * match the reference bit for bit.
 *
 *   B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]
 *   G   = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]
 *   A^T = [1 1 1 0; 0 1 -1 -1]
 *
 * Layouts: V is [16][tiles][Cpad] (channels contiguous, so the GEMM broadcasts one value
 * per step), U is [16][Ob][C][vl]. A task is P consecutive tiles x Q output-channel
 * blocks; the M values of a task live in a stack scratch [16][P][Q*vl] until the output
 * transform, which applies bias, the epilogue and a fused 2x2 pool (a tile is exactly one
 * pooling window) before storing. With fused_input the task transforms its own input
 * patches into a stack V (used when one task covers every output channel, so no patch is
 * transformed twice); otherwise a separate kernel (sn_gen_wino_input) fills V for the whole
 * batch first. */
#include <stdio.h>
#include <string.h>

#include "kernels.h"

static int ceil_div(int a, int b) {
    return (a + b - 1) / b;
}

int sn_wino_applies(const sn_conv_desc *d) {
    return d->KH == 3 && d->KW == 3 && d->SH == 1 && d->SW == 1 && d->PH == d->PW && d->PH <= 1 &&
           d->OH % 2 == 0 && d->OW % 2 == 0 && d->in.blocked && d->in.halo >= d->PH &&
           (!d->epi.pool || d->epi.pk == 2);
}

int64_t sn_wino_tiles(const sn_wino_desc *w) {
    return w->c.N * (w->c.OH / 2) * (w->c.OW / 2);
}

void sn_wino_choose(sn_wino_desc *w, int vl) {
    const sn_conv_desc *d = &w->c;
    int Ob = ceil_div(d->O, vl), Cpad = ceil_div(d->in.C, vl) * vl;
    int64_t T = sn_wino_tiles(w);
    w->vl = vl;
    if (Ob * vl <= 128) {
        w->fused_input = 1;
        w->Q = Ob;
        w->P = 8192 / (Cpad + Ob * vl); /* V + M scratch within ~512 KiB */
    } else {
        w->fused_input = 0;
        w->Q = 128 / vl < Ob ? 128 / vl : Ob;
        w->P = 4096 / (w->Q * vl); /* M scratch within ~256 KiB */
    }
    if (w->P > 64) w->P = 64;
    if (w->P < 1) w->P = 1;
    if (w->P > T) w->P = (int)T;
    /* Enough tasks for the threads to share: fewer tiles (P) or fewer channel blocks (Q)
     * per task. Every tile group reads all of its channel blocks' U, every channel group
     * all of V, so the one that re-reads fewer bytes is halved. With few tiles (VGG16's
     * 8x8 layers at batch 1: 16 tiles, 4 MiB of U) that is Q: splitting the tiles instead
     * read U four times over. The sums are the same either way. */
    double u_bytes = 16.0 * Cpad * Ob * vl * 4, v_bytes = 16.0 * (double)T * Cpad * 4;
    while (ceil_div((int)T, w->P) * ceil_div(Ob, w->Q) < 8) {
        int can_p = w->P > 4, can_q = !w->fused_input && w->Q > 1;
        if (!can_p && !can_q) break;
        double by_p =
            can_p ? u_bytes * ceil_div((int)T, w->P / 2) + v_bytes * ceil_div(Ob, w->Q) : 0;
        double by_q =
            can_q ? u_bytes * ceil_div((int)T, w->P) + v_bytes * ceil_div(Ob, w->Q / 2) : 0;
        if (can_p && (!can_q || by_p <= by_q))
            w->P /= 2;
        else
            w->Q /= 2;
    }
    w->rp = 28 / (w->Q < 4 ? w->Q : 4);
    if (vl < 16) w->rp = 12 / (w->Q < 2 ? w->Q : 2);
    if (w->rp < 1) w->rp = 1;
    /* register tiles of equal size: 16 tiles as 8 + 8, not 14 + 2 */
    int groups = ceil_div(w->P, w->rp);
    w->rp = ceil_div(w->P, groups);
}

int64_t sn_wino_tasks(const sn_wino_desc *w) {
    return (int64_t)ceil_div((int)sn_wino_tiles(w), w->P) * ceil_div(ceil_div(w->c.O, w->vl), w->Q);
}

int64_t sn_wino_v_floats(const sn_wino_desc *w) {
    return 16 * sn_wino_tiles(w) * (int64_t)(ceil_div(w->c.in.C, w->vl) * w->vl);
}

int64_t sn_wino_input_tasks(const sn_wino_desc *w) {
    return ceil_div((int)sn_wino_tiles(w), 32);
}

/* ---- transforms on vectors ---- */

/* V = B^T d B for a 4x4 patch of vectors d[i*4+j]. */
static void input_transform(sn_irb *k, LLVMValueRef *d, LLVMValueRef *v) {
    LLVMValueRef t[16];
    for (int j = 0; j < 4; j++) { /* rows: B^T d */
        LLVMValueRef d0 = d[0 * 4 + j], d1 = d[1 * 4 + j], d2 = d[2 * 4 + j], d3 = d[3 * 4 + j];
        t[0 * 4 + j] = irb_fsub(k, d0, d2);
        t[1 * 4 + j] = irb_fadd(k, d1, d2);
        t[2 * 4 + j] = irb_fsub(k, d2, d1);
        t[3 * 4 + j] = irb_fsub(k, d1, d3);
    }
    for (int i = 0; i < 4; i++) { /* columns: (.) B */
        LLVMValueRef a0 = t[i * 4 + 0], a1 = t[i * 4 + 1], a2 = t[i * 4 + 2], a3 = t[i * 4 + 3];
        v[i * 4 + 0] = irb_fsub(k, a0, a2);
        v[i * 4 + 1] = irb_fadd(k, a1, a2);
        v[i * 4 + 2] = irb_fsub(k, a2, a1);
        v[i * 4 + 3] = irb_fsub(k, a1, a3);
    }
}

/* Y = A^T m A: 2x2 outputs y[r*2+c]. */
static void output_transform(sn_irb *k, LLVMValueRef *m, LLVMValueRef *y) {
    LLVMValueRef t[8];
    for (int j = 0; j < 4; j++) {
        LLVMValueRef m0 = m[0 * 4 + j], m1 = m[1 * 4 + j], m2 = m[2 * 4 + j], m3 = m[3 * 4 + j];
        t[0 * 4 + j] = irb_fadd(k, irb_fadd(k, m0, m1), m2);
        t[1 * 4 + j] = irb_fsub(k, irb_fsub(k, m1, m2), m3);
    }
    for (int i = 0; i < 2; i++) {
        LLVMValueRef a0 = t[i * 4 + 0], a1 = t[i * 4 + 1], a2 = t[i * 4 + 2], a3 = t[i * 4 + 3];
        y[i * 2 + 0] = irb_fadd(k, irb_fadd(k, a0, a1), a2);
        y[i * 2 + 1] = irb_fsub(k, irb_fsub(k, a1, a2), a3);
    }
}

/* Decodes a global tile index into the input patch origin and the output position. */
typedef struct tile_pos {
    LLVMValueRef n, ty, tx;
} tile_pos;

static tile_pos decode_tile(sn_irb *k, const sn_conv_desc *d, LLVMValueRef t) {
    int TH = d->OH / 2, TW = d->OW / 2;
    tile_pos p;
    p.n = irb_divc(k, t, (int64_t)TH * TW);
    LLVMValueRef r = irb_remc(k, t, (int64_t)TH * TW);
    p.ty = irb_divc(k, r, TW);
    p.tx = irb_remc(k, r, TW);
    return p;
}

/* Transforms the input patch of tile t for every channel block into vrow (V[.][t][.] with
 * xi stride vstride). */
static void transform_tile(sn_irb *k, const sn_conv_desc *d, LLVMValueRef x, LLVMValueRef t,
                           LLVMValueRef vrow, int64_t vstride) {
    int vl = k->vl;
    const sn_cpu_layout *in = &d->in;
    int Cb = sn_lay_cb(in);
    tile_pos p = decode_tile(k, d, t);
    LLVMValueRef y0 = irb_addc(k, irb_mul(k, p.ty, 2), in->halo - d->PH);
    LLVMValueRef x0 = irb_addc(k, irb_mul(k, p.tx, 2), in->halo - d->PW);
    LLVMValueRef base =
        irb_gep(k, x,
                irb_add(k, irb_mul(k, p.n, sn_lay_image(in)),
                        irb_add(k, irb_mul(k, y0, sn_lay_row(in)), irb_mul(k, x0, vl))));
    irb_loop lc;
    LLVMValueRef cb = irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, Cb), 1, "cb");
    LLVMValueRef pb = irb_gep(k, base, irb_mul(k, cb, sn_lay_plane(in)));
    LLVMValueRef dv[16], v[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            dv[i * 4 + j] = irb_vload(
                k, irb_gepc(k, pb, (int64_t)i * sn_lay_row(in) + (int64_t)j * vl), vl * 4);
    input_transform(k, dv, v);
    LLVMValueRef vo = irb_gep(k, vrow, irb_mul(k, cb, vl));
    for (int xi = 0; xi < 16; xi++) irb_vstore(k, v[xi], irb_gepc(k, vo, xi * vstride), 4);
    irb_for_end(k, &lc);
}

void sn_gen_wino_input(sn_irb *k, const sn_wino_desc *w) {
    const sn_conv_desc *d = &w->c;
    int64_t T = sn_wino_tiles(w);
    int Cpad = ceil_div(d->in.C, k->vl) * k->vl;
    LLVMValueRef x = irb_arg_buf(k, 0), v = irb_arg_buf(k, 1);
    irb_loop lt, lp;
    LLVMValueRef task = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef t0 = irb_mul(k, task, 32);
    LLVMValueRef t1 = irb_addc(k, t0, 32);
    LLVMValueRef lim =
        LLVMBuildSelect(k->b, irb_icmp_lt(k, t1, irb_i64(k, T)), t1, irb_i64(k, T), "");
    LLVMValueRef t = irb_for(k, &lp, t0, lim, 1, "t");
    transform_tile(k, d, x, t, irb_gep(k, v, irb_mul(k, t, Cpad)), T * Cpad);
    irb_for_end(k, &lp);
    irb_for_end(k, &lt);
}

/* Zeroes the output halo cells next to a stored tile (stored coordinates: oy0, ox0, size
 * sz x sz) when the tile touches the border of the map. */
static void zero_tile_halo(sn_irb *k, const sn_cpu_layout *out, LLVMValueRef plane, tile_pos p,
                           int TH, int TW, int sz) {
    int h = out->halo, vl = k->vl;
    if (h == 0) return;
    LLVMValueRef zero = irb_vsplat(k, 0.0f);
    int64_t row = sn_lay_row(out);
    /* interior origin of the tile, in padded coordinates */
    LLVMValueRef oy = irb_addc(k, irb_mul(k, p.ty, sz), h),
                 ox = irb_addc(k, irb_mul(k, p.tx, sz), h);
    LLVMValueRef left = irb_icmp_eq(k, p.tx, 0), right = irb_icmp_eq(k, p.tx, TW - 1);
    LLVMValueRef top = irb_icmp_eq(k, p.ty, 0), bottom = irb_icmp_eq(k, p.ty, TH - 1);
    LLVMBasicBlockRef c;
    c = irb_if(k, left, "hl");
    for (int r = 0; r < sz; r++)
        for (int q = 1; q <= h; q++)
            irb_vstore(k, zero,
                       irb_gep(k, plane,
                               irb_add(k, irb_mul(k, irb_addc(k, oy, r), row),
                                       irb_mul(k, irb_addc(k, ox, -q), vl))),
                       vl * 4);
    irb_endif(k, c);
    c = irb_if(k, right, "hr");
    for (int r = 0; r < sz; r++)
        for (int q = 0; q < h; q++)
            irb_vstore(k, zero,
                       irb_gep(k, plane,
                               irb_add(k, irb_mul(k, irb_addc(k, oy, r), row),
                                       irb_mul(k, irb_addc(k, ox, sz + q), vl))),
                       vl * 4);
    irb_endif(k, c);
    /* top / bottom rows span the tile's columns plus the corner columns at the ends */
    for (int side = 0; side < 2; side++) {
        c = irb_if(k, side ? bottom : top, side ? "hb" : "ht");
        for (int q = 0; q < h; q++) {
            LLVMValueRef ry = side ? irb_addc(k, oy, sz + q) : irb_addc(k, oy, -1 - q);
            for (int cc = -h; cc < sz + h; cc++) {
                int corner = cc < 0 || cc >= sz;
                LLVMValueRef st = irb_gep(
                    k, plane, irb_add(k, irb_mul(k, ry, row), irb_mul(k, irb_addc(k, ox, cc), vl)));
                if (!corner) {
                    irb_vstore(k, zero, st, vl * 4);
                } else {
                    LLVMBasicBlockRef c2 = irb_if(k, cc < 0 ? left : right, "corner");
                    irb_vstore(k, zero, st, vl * 4);
                    irb_endif(k, c2);
                }
            }
        }
        irb_endif(k, c);
    }
}

/* The body of one task with a constant number of tiles P. */
static LLVMValueRef gen_task_body(sn_irb *k, const sn_wino_desc *w, int P, int Qn) {
    const sn_conv_desc *d = &w->c;
    int vl = k->vl, C = d->in.C, Cpad = ceil_div(C, vl) * vl, Ob = ceil_div(d->O, vl);
    int64_t T = sn_wino_tiles(w);
    char name[64];
    snprintf(name, sizeof name, "wino_p%d_q%d", P, Qn);
    /* body(x_or_V, U, bias, y, tile0, ob0, mask source) */
    LLVMTypeRef params[7] = {k->t_pf, k->t_pf, k->t_pf, k->t_pf, k->t_i64, k->t_i64, k->t_pf};
    LLVMValueRef fn = LLVMAddFunction(k->mod, name, LLVMFunctionType(k->t_void, params, 7, 0));
    LLVMSetLinkage(fn, LLVMInternalLinkage);
    sn_irb t = *k;
    t.fn = fn;
    t.b = LLVMCreateBuilderInContext(k->ctx);
    t.entry = LLVMAppendBasicBlockInContext(k->ctx, fn, "entry");
    LLVMPositionBuilderAtEnd(t.b, t.entry);
    LLVMValueRef src = LLVMGetParam(fn, 0), U = LLVMGetParam(fn, 1), bias = LLVMGetParam(fn, 2),
                 y = LLVMGetParam(fn, 3), tile0 = LLVMGetParam(fn, 4), ob0 = LLVMGetParam(fn, 5);
    int Qv = Qn * vl;
    /* scratch: M [16][P][Qv], V [16][P][Cpad] when the input is transformed here */
    LLVMTypeRef marr = LLVMArrayType(k->t_f32, (unsigned)(16 * P * Qv));
    LLVMValueRef mbuf = LLVMBuildAlloca(t.b, marr, "M");
    LLVMSetAlignment(mbuf, 64);
    LLVMValueRef M = LLVMBuildBitCast(t.b, mbuf, k->t_pf, "");
    LLVMValueRef V;
    int64_t vstride; /* floats between xi slabs of V */
    if (w->fused_input) {
        LLVMTypeRef varr = LLVMArrayType(k->t_f32, (unsigned)(16 * P * Cpad));
        LLVMValueRef vbuf = LLVMBuildAlloca(t.b, varr, "V");
        LLVMSetAlignment(vbuf, 64);
        V = LLVMBuildBitCast(t.b, vbuf, k->t_pf, "");
        vstride = (int64_t)P * Cpad;
        irb_loop lp;
        LLVMValueRef p = irb_for(&t, &lp, irb_i64(&t, 0), irb_i64(&t, P), 1, "p");
        transform_tile(&t, d, src, irb_add(&t, tile0, p), irb_gep(&t, V, irb_mul(&t, p, Cpad)),
                       vstride);
        irb_for_end(&t, &lp);
    } else {
        V = irb_gep(&t, src, irb_mul(&t, tile0, Cpad));
        vstride = T * Cpad;
    }
    /* 16 GEMMs: M[xi][p][q] = sum_c V[xi][p][c] * U[xi][ob0+q][c] */
    int qq = Qn < 4 ? Qn : 4;
    if (vl < 16 && qq > 2) qq = 2;
    irb_loop lx;
    LLVMValueRef xi = irb_for(&t, &lx, irb_i64(&t, 0), irb_i64(&t, 16), 1, "xi");
    LLVMValueRef Vx = irb_gep(&t, V, irb_mul(&t, xi, vstride));
    LLVMValueRef Ux = irb_gep(
        &t, U,
        irb_add(&t, irb_mul(&t, xi, (int64_t)Ob * C * vl), irb_mul(&t, ob0, (int64_t)C * vl)));
    LLVMValueRef Mx = irb_gep(&t, M, irb_mul(&t, xi, (int64_t)P * Qv));
    /* register tiles of np tiles x nq channel blocks: full ones in runtime loops, then the
     * tails (keeps the code small: at most four copies of the reduction loop) */
    int qfull = Qn / qq * qq, pfull = P / w->rp * w->rp;
    for (int qpart = 0; qpart < 2; qpart++) {
        int nq = qpart == 0 ? qq : Qn - qfull;
        if (nq == 0 || (qpart == 0 && qfull == 0)) continue;
        irb_loop lq;
        LLVMValueRef q0 = qpart == 0
                              ? irb_for(&t, &lq, irb_i64(&t, 0), irb_i64(&t, qfull), qq, "q0")
                              : irb_i64(&t, qfull);
        for (int ppart = 0; ppart < 2; ppart++) {
            int np = ppart == 0 ? w->rp : P - pfull;
            if (np == 0 || (ppart == 0 && pfull == 0)) continue;
            irb_loop lp0;
            LLVMValueRef p0 =
                ppart == 0 ? irb_for(&t, &lp0, irb_i64(&t, 0), irb_i64(&t, pfull), w->rp, "p0")
                           : irb_i64(&t, pfull);
            LLVMValueRef acc[64];
            for (int a = 0; a < np * nq; a++) {
                acc[a] = irb_slot(&t);
                irb_slot_set(&t, acc[a], irb_vsplat(&t, 0.0f));
            }
            LLVMValueRef uq = irb_gep(&t, Ux, irb_mul(&t, q0, (int64_t)C * vl));
            LLVMValueRef vp = irb_gep(&t, Vx, irb_mul(&t, p0, Cpad));
            irb_loop lc;
            LLVMValueRef c = irb_for(&t, &lc, irb_i64(&t, 0), irb_i64(&t, C), 1, "c");
            LLVMValueRef uc = irb_gep(&t, uq, irb_mul(&t, c, vl));
            LLVMValueRef vc = irb_gep(&t, vp, c);
            LLVMValueRef u[8];
            for (int q = 0; q < nq; q++)
                u[q] = irb_vload(&t, irb_gepc(&t, uc, (int64_t)q * C * vl), vl * 4);
            for (int r = 0; r < np; r++) {
                LLVMValueRef s = irb_bcast_load(&t, irb_gepc(&t, vc, (int64_t)r * Cpad));
                for (int q = 0; q < nq; q++)
                    irb_slot_set(&t, acc[r * nq + q],
                                 irb_fma(&t, s, u[q], irb_slot_get(&t, acc[r * nq + q])));
            }
            irb_for_end(&t, &lc);
            LLVMValueRef mo =
                irb_gep(&t, Mx, irb_add(&t, irb_mul(&t, p0, Qv), irb_mul(&t, q0, vl)));
            for (int r = 0; r < np; r++)
                for (int q = 0; q < nq; q++)
                    irb_vstore(&t, irb_slot_get(&t, acc[r * nq + q]),
                               irb_gepc(&t, mo, (int64_t)r * Qv + (int64_t)q * vl), vl * 4);
            if (ppart == 0) irb_for_end(&t, &lp0);
        }
        if (qpart == 0) irb_for_end(&t, &lq);
    }
    irb_for_end(&t, &lx);
    /* output transform, epilogue, store */
    const sn_cpu_layout *out = &d->out;
    int pool = d->epi.pool != 0;
    int sz = pool ? 1 : 2;
    int TH = d->OH / 2, TW = d->OW / 2;
    irb_loop lp;
    LLVMValueRef p = irb_for(&t, &lp, irb_i64(&t, 0), irb_i64(&t, P), 1, "p");
    tile_pos pos = decode_tile(&t, d, irb_add(&t, tile0, p));
    irb_loop lqo;
    LLVMValueRef q = irb_for(&t, &lqo, irb_i64(&t, 0), irb_i64(&t, Qn), 1, "q");
    {
        LLVMValueRef m[16], yv[4];
        LLVMValueRef mp = irb_gep(&t, M, irb_add(&t, irb_mul(&t, p, Qv), irb_mul(&t, q, vl)));
        for (int x2 = 0; x2 < 16; x2++)
            m[x2] = irb_vload(&t, irb_gepc(&t, mp, (int64_t)x2 * P * Qv), vl * 4);
        output_transform(&t, m, yv);
        LLVMValueRef obq = irb_add(&t, ob0, q);
        LLVMValueRef bv = irb_vload(&t, irb_gep(&t, bias, irb_mul(&t, obq, vl)), vl * 4);
        for (int i = 0; i < 4; i++) yv[i] = sn_gen_epilogue(&t, &d->epi, irb_fadd(&t, yv[i], bv));
        LLVMValueRef plane_off =
            irb_add(&t, irb_mul(&t, pos.n, sn_lay_image(out)), irb_mul(&t, obq, sn_lay_plane(out)));
        LLVMValueRef plane = irb_gep(&t, y, plane_off);
        LLVMValueRef oy = irb_addc(&t, irb_mul(&t, pos.ty, sz), out->halo);
        LLVMValueRef ox = irb_addc(&t, irb_mul(&t, pos.tx, sz), out->halo);
        LLVMValueRef at_off = irb_add(
            &t, plane_off, irb_add(&t, irb_mul(&t, oy, sn_lay_row(out)), irb_mul(&t, ox, vl)));
        LLVMValueRef at = irb_gep(&t, y, at_off);
        if (d->epi.mask)
            for (int i = 0; i < 4; i++)
                yv[i] = sn_gen_mask(
                    &t, &d->epi, yv[i],
                    irb_vload(&t,
                              irb_gepc(&t, irb_gep(&t, LLVMGetParam(fn, 6), at_off),
                                       (int64_t)(i / 2) * sn_lay_row(out) + (int64_t)(i % 2) * vl),
                              vl * 4));
        if (pool) {
            LLVMValueRef r;
            if (d->epi.pool == 1)
                r = irb_fmax(&t, irb_fmax(&t, yv[0], yv[1]), irb_fmax(&t, yv[2], yv[3]));
            else
                r = irb_fmul(&t,
                             irb_fadd(&t, irb_fadd(&t, yv[0], yv[1]), irb_fadd(&t, yv[2], yv[3])),
                             irb_vsplat(&t, 0.25f));
            irb_vstore(&t, sn_gen_epi_store_value(&t, &d->epi, r), at, vl * 4);
        } else {
            for (int i = 0; i < 4; i++)
                irb_vstore(
                    &t, sn_gen_epi_store_value(&t, &d->epi, yv[i]),
                    irb_gepc(&t, at, (int64_t)(i / 2) * sn_lay_row(out) + (int64_t)(i % 2) * vl),
                    vl * 4);
        }
        zero_tile_halo(&t, out, plane, pos, TH, TW, sz);
    }
    irb_for_end(&t, &lqo);
    irb_for_end(&t, &lp);
    LLVMBuildRetVoid(t.b);
    LLVMDisposeBuilder(t.b);
    return fn;
}

void sn_gen_wino(sn_irb *k, const sn_wino_desc *w) {
    int vl = k->vl;
    int Ob = ceil_div(w->c.O, vl);
    int64_t T = sn_wino_tiles(w);
    int NTC = ceil_div((int)T, w->P), OCG = ceil_div(Ob, w->Q);
    int ptail = (int)(T - (int64_t)(NTC - 1) * w->P), qtail = Ob - (OCG - 1) * w->Q;
    LLVMValueRef bodies[2][2];
    memset(bodies, 0, sizeof bodies);
    int pv[2] = {w->P, ptail}, qv[2] = {w->Q, qtail};
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            if ((a == 1 && ptail == w->P) || (b == 1 && qtail == w->Q)) continue;
            if ((a == 0 && NTC == 1 && ptail != w->P) || (b == 0 && OCG == 1 && qtail != w->Q))
                continue;
            bodies[a][b] = gen_task_body(k, w, pv[a], qv[b]);
        }
    LLVMValueRef mask_src = w->c.epi.mask ? irb_arg_buf(k, 4) : NULL;
    LLVMValueRef src = irb_arg_buf(k, 0), U = irb_arg_buf(k, 1), bias = irb_arg_buf(k, 2),
                 y = irb_arg_buf(k, 3);
    irb_loop lt;
    LLVMValueRef task = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef tc = irb_remc(k, task, NTC), ocg = irb_divc(k, task, NTC);
    LLVMValueRef tile0 = irb_mul(k, tc, w->P), ob0 = irb_mul(k, ocg, w->Q);
    LLVMValueRef last_t = irb_icmp_eq(k, tc, NTC - 1), last_q = irb_icmp_eq(k, ocg, OCG - 1);
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++) {
            if (!bodies[a][b]) continue;
            LLVMValueRef cond = LLVMConstInt(LLVMInt1TypeInContext(k->ctx), 1, 0);
            if (ptail != w->P)
                cond = LLVMBuildAnd(k->b, cond, a ? last_t : LLVMBuildNot(k->b, last_t, ""), "");
            if (qtail != w->Q)
                cond = LLVMBuildAnd(k->b, cond, b ? last_q : LLVMBuildNot(k->b, last_q, ""), "");
            LLVMBasicBlockRef cont = irb_if(k, cond, "variant");
            LLVMValueRef args[7] = {src, U, bias, y, tile0, ob0, mask_src ? mask_src : y};
            LLVMBuildCall2(k->b, LLVMGlobalGetValueType(bodies[a][b]), bodies[a][b], args, 7, "");
            irb_endif(k, cont);
        }
    irb_for_end(k, &lt);
}
