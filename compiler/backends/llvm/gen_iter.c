/* Iteration over the elements of an activation in any CPU layout, one vector of channels
 * at a time, for elementwise and per-channel-reduction kernels.
 *
 * Blocked maps: a vector is the vl channels of one pixel. Flat [N][C] tensors: a vector is
 * vl consecutive channels of one row (the last one masked when C is not a multiple).
 * Tasks are (image, channel block) for elementwise work, or channel blocks (all images in
 * one task) for per-channel reductions. Outputs listed in zero_halo get zeros written into
 * their halo (the interior is the body's job). */
#include "kernels.h"

int64_t sn_iter_tasks(const sn_cpu_layout *l, int64_t N, int vl, int by_channel) {
    int64_t cb = l->blocked ? sn_lay_cb(l) : (l->C + vl - 1) / vl;
    return by_channel ? cb : N * cb;
}

static void zero_halo_plane(sn_irb *k, LLVMValueRef plane, const sn_cpu_layout *l) {
    int h = l->halo, vl = k->vl;
    if (h == 0) return;
    int64_t row = sn_lay_row(l), wp = sn_lay_wp(l), hp = sn_lay_hp(l);
    LLVMValueRef zero = irb_vsplat(k, 0.0f);
    irb_loop lr;
    LLVMValueRef r = irb_for(k, &lr, irb_i64(k, 0), irb_i64(k, hp), 1, "zr");
    LLVMValueRef rp = irb_gep(k, plane, irb_mul(k, r, row));
    LLVMValueRef edge = LLVMBuildOr(k->b, irb_icmp_lt(k, r, irb_i64(k, h)),
                                    LLVMBuildICmp(k->b, LLVMIntSGE, r, irb_i64(k, hp - h), ""), "");
    LLVMBasicBlockRef cont = irb_if(k, edge, "zfull");
    irb_loop lc;
    LLVMValueRef c = irb_for(k, &lc, irb_i64(k, 0), irb_i64(k, wp), 1, "zc");
    irb_vstore(k, zero, irb_gep(k, rp, irb_mul(k, c, vl)), vl * 4);
    irb_for_end(k, &lc);
    irb_endif(k, cont);
    for (int c2 = 0; c2 < h; c2++) {
        irb_vstore(k, zero, irb_gepc(k, rp, (int64_t)c2 * vl), vl * 4);
        irb_vstore(k, zero, irb_gepc(k, rp, (wp - 1 - c2) * vl), vl * 4);
    }
    irb_for_end(k, &lr);
}

/* The interior of one (image, channel block) of a blocked map. */
static void blocked_plane(sn_irb *k, const sn_cpu_layout *l, LLVMValueRef n, LLVMValueRef cb,
                          LLVMValueRef *zero_halo, int nz, sn_iter_body body, void *state) {
    int vl = k->vl;
    LLVMValueRef pbase =
        irb_add(k, irb_mul(k, n, sn_lay_image(l)), irb_mul(k, cb, sn_lay_plane(l)));
    for (int z = 0; z < nz; z++) zero_halo_plane(k, irb_gep(k, zero_halo[z], pbase), l);
    irb_loop ly, lx;
    LLVMValueRef yy = irb_for(k, &ly, irb_i64(k, 0), irb_i64(k, l->H), 1, "y");
    LLVMValueRef xx = irb_for(k, &lx, irb_i64(k, 0), irb_i64(k, l->W), 1, "x");
    sn_iter_ctx it;
    it.n = n;
    it.c0 = irb_mul(k, cb, vl);
    it.yy = yy;
    it.xx = xx;
    it.lanes = vl;
    it.off = irb_add(k, pbase,
                     irb_add(k, irb_mul(k, irb_addc(k, yy, l->halo), sn_lay_row(l)),
                             irb_mul(k, irb_addc(k, xx, l->halo), vl)));
    body(k, &it, state);
    irb_for_end(k, &lx);
    irb_for_end(k, &ly);
}

/* One (row, channel block) of a flat tensor; lanes < vl for the last block. */
static void flat_vector(sn_irb *k, const sn_cpu_layout *l, LLVMValueRef n, LLVMValueRef cb,
                        int lanes, sn_iter_body body, void *state) {
    sn_iter_ctx it;
    it.n = n;
    it.c0 = irb_mul(k, cb, k->vl);
    it.yy = it.xx = irb_i64(k, 0);
    it.lanes = lanes;
    it.off = irb_add(k, irb_mul(k, n, l->C), it.c0);
    body(k, &it, state);
}

/* Runs hook(k, cb, lanes, state) with lanes the valid channels of block cb (a constant per
 * emitted copy: the last block gets its own copy when C is not a multiple of vl). */
static void per_block(sn_irb *k, const sn_cpu_layout *l, LLVMValueRef cb,
                      void (*hook)(sn_irb *k, LLVMValueRef cb, int lanes, void *state),
                      void *state) {
    int vl = k->vl;
    int64_t Cb = (l->C + vl - 1) / vl;
    int tail = l->C - (int)(Cb - 1) * vl;
    if (tail == vl) {
        hook(k, cb, vl, state);
        return;
    }
    LLVMValueRef last = irb_icmp_eq(k, cb, Cb - 1);
    LLVMBasicBlockRef cont = irb_if(k, LLVMBuildNot(k->b, last, ""), "full");
    hook(k, cb, vl, state);
    irb_endif(k, cont);
    cont = irb_if(k, last, "tail");
    hook(k, cb, tail, state);
    irb_endif(k, cont);
}

void sn_gen_iter(sn_irb *k, const sn_cpu_layout *l, int64_t N, int by_channel,
                 LLVMValueRef *zero_halo, int nz, const sn_iter_fns *fns, void *state) {
    int vl = k->vl;
    sn_iter_body body = fns->body;
    int64_t Cb = l->blocked ? sn_lay_cb(l) : (l->C + vl - 1) / vl;
    int tail = l->blocked ? vl : l->C - (int)(Cb - 1) * vl;
    irb_loop lt;
    LLVMValueRef t = irb_for(k, &lt, k->a_lo, k->a_hi, 1, "task");
    LLVMValueRef cb = by_channel ? t : irb_remc(k, t, Cb);
    if (by_channel && fns->begin) per_block(k, l, cb, fns->begin, state);
    irb_loop ln;
    LLVMValueRef n =
        by_channel ? irb_for(k, &ln, irb_i64(k, 0), irb_i64(k, N), 1, "n") : irb_divc(k, t, Cb);
    if (l->blocked) {
        blocked_plane(k, l, n, cb, zero_halo, nz, body, state);
    } else if (tail == vl) {
        flat_vector(k, l, n, cb, vl, body, state);
    } else {
        LLVMValueRef last = irb_icmp_eq(k, cb, Cb - 1);
        LLVMBasicBlockRef cont = irb_if(k, LLVMBuildNot(k->b, last, ""), "full");
        flat_vector(k, l, n, cb, vl, body, state);
        irb_endif(k, cont);
        cont = irb_if(k, last, "tail");
        flat_vector(k, l, n, cb, tail, body, state);
        irb_endif(k, cont);
    }
    if (by_channel) irb_for_end(k, &ln);
    if (by_channel && fns->end) per_block(k, l, cb, fns->end, state);
    irb_for_end(k, &lt);
}

LLVMValueRef sn_iter_load(sn_irb *k, LLVMValueRef base, const sn_iter_ctx *it) {
    LLVMValueRef p = irb_gep(k, base, it->off);
    return it->lanes == k->vl ? irb_vload(k, p, 4) : irb_vload_n(k, p, it->lanes);
}

void sn_iter_store(sn_irb *k, LLVMValueRef v, LLVMValueRef base, const sn_iter_ctx *it) {
    LLVMValueRef p = irb_gep(k, base, it->off);
    if (it->lanes == k->vl)
        irb_vstore(k, v, p, 4);
    else
        irb_vstore_n(k, v, p, it->lanes);
}

/* A per-channel vector (vl channels from c0) of a [Cpad] parameter array. */
LLVMValueRef sn_iter_chan(sn_irb *k, LLVMValueRef base, const sn_iter_ctx *it) {
    LLVMValueRef p = irb_gep(k, base, it->c0);
    return it->lanes == k->vl ? irb_vload(k, p, 4) : irb_vload_n(k, p, it->lanes);
}
