/* Data preparation for the CPU backend's kernels: weight packing (with batch-norm
 * folding and ternarization applied on the way) and conversions between logical NCHW and
 * the physical layouts of runtime/cpu/layout.h. Run when weights are bound or change,
 * and by tests; the per-batch work is all in generated kernels. */
#ifndef SN_CPU_PACK_H
#define SN_CPU_PACK_H

#include <stdint.h>

#include "layout.h"

/* Per-output-channel affine folded into a conv/linear: w' = w * scale[o],
 * b' = b * scale[o] + shift[o]. From batchnorm: scale = gamma / sqrt(var + eps),
 * shift = beta - mean * scale. */
void sn_bn_fold(int C, const float *gamma, const float *beta, const float *mean, const float *var,
                float eps, float *scale, float *shift);

/* Ternarizes w (n values) into out, as the reference op does. */
void sn_ternarize(int64_t n, float threshold_factor, const float *w, float *out);

/* OIHW -> [ceil(O/vl)][C][KH][KW][vl], zero for o >= O; scale may be NULL. */
void sn_pack_conv_weights(const float *w, int O, int C, int KH, int KW, int vl, const float *scale,
                          float *out);
/* 3x3 OIHW -> Winograd F(2x2,3x3) filters U = G g G^T as [16][ceil(O/vl)][C][vl]. */
void sn_pack_wino_weights(const float *w, int O, int C, int vl, const float *scale, float *out);
/* [M][K] -> [ceil(M/vl)][K][vl]; scale may be NULL. */
void sn_pack_linear_weights(const float *w, int M, int K, int vl, const float *scale, float *out);
/* bias (may be NULL = 0) * scale (may be NULL = 1) + shift (may be NULL = 0), padded with
 * zeros to ceil(O/vl)*vl. */
void sn_pack_bias(const float *b, int O, int vl, const float *scale, const float *shift,
                  float *out);

/* NCHW [N][C][H][W] <-> layout (halo written as zeros). */
void sn_layout_from_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst);
void sn_layout_to_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst);
static inline int64_t sn_layout_floats(const sn_cpu_layout *l, int64_t N) {
    return N * sn_lay_image(l);
}

#endif
