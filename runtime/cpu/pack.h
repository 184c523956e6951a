/* Data preparation for the CPU backend's kernels: weight packing (with batch-norm
 * folding and ternarization applied on the way) and conversions between logical NCHW and
 * the physical layouts of runtime/cpu/layout.h. Run when weights are bound or change,
 * and by tests; the per-batch work is all in generated kernels. */
#ifndef SN_CPU_PACK_H
#define SN_CPU_PACK_H

#include <stdint.h>
#include <string.h>

#include "layout.h"

/* bf16: the upper half of a float, rounded to nearest even (NaN kept as a quiet NaN) */
static inline float sn_bf16_round(float x) {
    uint32_t u;
    memcpy(&u, &x, sizeof u);
    if ((u & 0x7fffffffu) > 0x7f800000u) return x;
    u = (u + 0x7fffu + ((u >> 16) & 1u)) & 0xffff0000u;
    memcpy(&x, &u, sizeof x);
    return x;
}
static inline uint16_t sn_bf16_bits(float x) {
    uint32_t u;
    float r = sn_bf16_round(x);
    memcpy(&u, &r, sizeof u);
    return (uint16_t)((u >> 16) | ((u & 0x7fffffffu) > 0x7f800000u ? 0x40u : 0u));
}

/* Per-output-channel affine folded into a conv/linear: w' = w * scale[o],
 * b' = b * scale[o] + shift[o]. From batchnorm: scale = gamma / sqrt(var + eps),
 * shift = beta - mean * scale. */
void sn_bn_fold(int C, const float *gamma, const float *beta, const float *mean, const float *var,
                float eps, float *scale, float *shift);

/* Ternarizes w (n values) into out, as the reference op does. */
void sn_ternarize(int64_t n, float threshold_factor, const float *w, float *out);

/* The packed weight layouts the kernels read (written by sn_prep_conv):
 *   direct convolution and linear: OIHW -> [ceil(O/vl)][C][KH][KW][vl], zero for o >= O;
 *   Winograd F(2x2,3x3): U = G g G^T as [16][ceil(O/vl)][C][vl];
 *   bias * scale + shift padded with zeros to ceil(O/vl)*vl. */

/* NCHW [N][C][H][W] <-> layout (halo written as zeros). */
void sn_layout_from_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst);
void sn_layout_to_nchw(const float *src, int64_t N, const sn_cpu_layout *l, float *dst);
static inline int64_t sn_layout_floats(const sn_cpu_layout *l, int64_t N) {
    return N * sn_lay_image(l);
}

#endif
