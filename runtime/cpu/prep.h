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

/* ptrs: [0..3] gamma, beta, mean, var, [4] scale, [5] shift (padded to a multiple of vl). */
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

/* Built-in (non-generated) kernels by name: "cpu.prep_conv", "cpu.prep_bn", "cpu.pack_theta",
 * "cpu.prep_nir_leak" (preparation steps) and "cpu.spike_maxpool" (a plan step). */
sn_cpu_fn sn_cpu_builtin(const char *name);
/* The size of the params a built-in kernel takes, or 0 for an unknown name. */
size_t sn_cpu_builtin_params_size(const char *name);
/* The task count a step of built-in kernel `name` with these params must have (params of
 * sn_cpu_builtin_params_size(name) bytes). */
int64_t sn_cpu_builtin_tasks(const char *name, const void *params);

#endif
