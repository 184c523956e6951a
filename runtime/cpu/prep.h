/* Preparation kernels of the CPU backend (plan prep steps, plain C): they turn the
 * weight store's PyTorch-layout tensors into what the generated kernels read, folding
 * batch norm and ternarizing on the way. Looked up by name for plans loaded from disk. */
#ifndef SN_CPU_PREP_H
#define SN_CPU_PREP_H

#include "../exec/plan.h"

/* ptrs: [0] w OIHW (or [M][K]), [1] bias or NULL, [2..5] bn gamma, beta, mean, var (NULL
 * without bn), [6] packed weights [Ob][C][KH][KW][vl], [7] packed bias [Ob*vl]. */
typedef struct sn_prep_conv_params {
    int O, C, KH, KW, vl;
    int ternary;
    float ternary_threshold;
    int bn;
    float eps;
    int winograd;  /* pack the F(2x2,3x3) transformed filters [16][Ob][C][vl] instead */
    int transpose; /* 1: w^T (input and output channels swapped, for a data gradient);
                      2: w^T flipped in space (the stride-1 data gradient as a convolution);
                      the packing then has C output channels reading O inputs, no bias */
    int int8;      /* pack for the VNNI integer convolution (sn_prep_conv_i8) instead */
} sn_prep_conv_params;

/* Inference batch norm normalizing around its mean, as runtime/ref does:
 * y = ((x - hi) - lo) * s + b (hi + lo the mean; a folded shift b - mean * s would cancel
 * against x * s and lose the mean's ulp when the mean is large against the spread).
 * ptrs: [0..3] gamma, beta, mean, var, [4] s [P], [5] b, hi, lo: three sections of P, with
 * P = C padded to a multiple of vl. The training statistics kernels write the same form. */
typedef struct sn_prep_bn_params {
    int C, vl;
    float eps;
} sn_prep_bn_params;

/* ptrs: [0] thresholds [C][U], [1] packed [ceil(C/vl)][U][vl], +inf in padded lanes. */
typedef struct sn_prep_theta_params {
    int C, U, vl;
} sn_prep_theta_params;

void sn_prep_theta(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);
/* Tasks [lo, hi) pack output-channel blocks of vl; sn_prep_conv_tasks says how many. */
void sn_prep_conv(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);
int64_t sn_prep_conv_tasks(const sn_prep_conv_params *p);
void sn_prep_bn(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);

/* Gated max pooling of spike trains (SN_OP_MAXPOOL with spike_gate), a plan step in plain C
 * used by both backends: for each window, out[t] = in[t] of the window input with the most
 * spikes in steps 0..t (first in window order on ties; padding never wins). ptrs: [0] x
 * [T][N] images of layout `in`, [1] y [T][N] images of layout `out` (halo and padded
 * channels written 0), [2] counts, one step's input (N images of layout `in`), zeroed at
 * the start unless `stateful` and ctx->t > 0 (step-major runs). Tasks: images [lo, hi). */
#include "layout.h"
typedef struct sn_spike_pool_params {
    int64_t N;
    int T;
    int KH, KW, SH, SW, PH, PW;
    sn_cpu_layout in, out;
    int stateful;
} sn_spike_pool_params;
void sn_spike_maxpool(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);

/* Weights of the integer convolution (sn_gen_conv_i8), what sn_prep_conv does when
 * p->int8 is set (same buffers, same tasks, same plan name "cpu.prep_conv"): OIHW floats
 * -> int8 [Ob][ceil(C/4)][KH][KW][vl][4] (4 consecutive input channels per 32-bit lane,
 * zero for o >= O or c >= C), and the bias as floats [Ob*vl] as for the fp32 kernels.
 * Ternary weights (p->ternary) are ternarized first; batch norm cannot be folded (p->bn
 * is an error). Every weight must be a whole number in [-127, 127]: a task that meets
 * one that is not (or NaN) stops, sets ctx->oom and adds 1 to ctx->bad_input, so binding
 * the weights fails (sn_plan_prepare's message names the layer and "cpu.prep_conv", worded
 * as "out of memory in preparation step"; a nonzero bad_input tells the two apart) rather
 * than computing with wrong weights (a weight file that breaks a layer's `weights:
 * integer` promise). */
void sn_prep_conv_i8(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);

/* Leak factors of a continuous-time neuron layer (prep_nir.c): k[e] = sn_nir_leak(dt,
 * tau[e], exact). ptrs: [0] tau [E], [1] k [E]. One task. */
typedef struct sn_prep_nir_leak_params {
    int64_t E;
    float dt;
    int exact;
} sn_prep_nir_leak_params;
void sn_prep_nir_leak(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);

/* ---- reduced-precision weights (--precision bf16 | int8): "cpu.prep_conv_q" ----
 * The layouts of the kernels that take low-precision operands, or the fp32 layouts with
 * every weight rounded to bf16. Batch norm is folded and ternary weights ternarized first,
 * as for fp32; the bias stays fp32 ([Ob*16], b * scale + shift).
 *   F32_BF16  the layouts of sn_prep_conv (direct, Winograd, transposed) of the folded
 *             weights rounded to bf16 (a Winograd filter is transformed after rounding);
 *   DP_BF16   [Ob][ceil(C/2)][KH][KW][16][2] bf16;
 *   DP_U8     [Ob][ceil(C/4)][KH][KW][16][4] s8;
 *   AMX_BF16  [Ob][KH*KW][ceil(C/32)][16][16][2] bf16 (one 1 KiB tile per tap and 32
 *             input channels: row r = channel pair r, column = output channel);
 *   AMX_U8    [Ob][KH*KW][ceil(C/64)][16][16][4] s8 (likewise with channel quads).
 * u8 formats quantize per output channel, symmetrically: a channel whose folded weights all
 * lie in {0, +-m} (ternary weights, after any batch-norm scale) gets step s_w = m and
 * weights in {-1, 0, 1}; any other channel s_w = max|w| / 127 and round(w / s_w). With
 * `integer` the weights must already be whole numbers in [-127, 127] (s_w = 1; anything
 * else fails the step as sn_prep_conv_i8 does). ptrs[8] receives the dequantization of
 * each channel: [Ob*16] floats in_scale * s_w[o], then [Ob*16] int32 compensations
 * in_zero * sum of the channel's integer weights. Tasks: blocks of 16 output channels (vl
 * for F32_BF16), one task with ternary weights. */
typedef enum sn_qpack_format {
    SN_QPACK_F32_BF16 = 1,
    SN_QPACK_DP_BF16,
    SN_QPACK_DP_U8,
    SN_QPACK_AMX_BF16,
    SN_QPACK_AMX_U8,
} sn_qpack_format;
typedef struct sn_prep_conv_q_params {
    sn_prep_conv_params c; /* shapes, ternary, batch norm; winograd / transpose for F32_BF16 */
    int format;
    int integer;
    float in_scale;
    int in_zero;
} sn_prep_conv_q_params;
void sn_prep_conv_q(sn_kctx *ctx, const void *params, void *const *ptrs, int64_t lo, int64_t hi);
int64_t sn_prep_conv_q_tasks(const sn_prep_conv_q_params *p);
/* Bytes of the packed weights of a format. */
int64_t sn_prep_conv_q_bytes(const sn_prep_conv_q_params *p);

/* Built-in (non-generated) kernels by name: "cpu.prep_conv", "cpu.prep_conv_q", "cpu.prep_bn",
 * "cpu.pack_theta", "cpu.prep_nir_leak" (preparation steps) and "cpu.spike_maxpool" (a plan
 * step). */
sn_cpu_fn sn_cpu_builtin(const char *name);
/* The size of the params a built-in kernel takes, or 0 for an unknown name. */
size_t sn_cpu_builtin_params_size(const char *name);
/* The task count a step of built-in kernel `name` with these params must have (params of
 * sn_cpu_builtin_params_size(name) bytes). */
int64_t sn_cpu_builtin_tasks(const char *name, const void *params);

#endif
