/* Kernel generators of the CPU backend. Each takes a descriptor with every shape fixed
 * (batch included) and emits one LLVM module holding one kernel with the plan's CPU
 * signature. Task decomposition is part of each descriptor (see *_tasks). */
#ifndef SN_CPU_KERNELS_H
#define SN_CPU_KERNELS_H

#include "../../../runtime/core/op_params.h"
#include "irb.h"
#include "../../../runtime/cpu/layout.h"

/* ---- epilogues: elementwise ops applied to a conv/linear result before it is stored ---- */
typedef enum sn_epi_kind {
    SN_EPI_RELU = 1,
    SN_EPI_QUANT, /* Q(k, B) */
} sn_epi_kind;

#define SN_MAX_EPI 6
typedef struct sn_epi_op {
    sn_epi_kind kind;
    sn_quant_params q;
} sn_epi_op;

typedef struct sn_epilogue {
    int nops;
    sn_epi_op ops[SN_MAX_EPI];
    int pool; /* 0 none, 1 max, 2 avg (window == stride == pk, unpadded) */
    int pk;
} sn_epilogue;

/* Applies the epilogue ops (not the pool) to a vector. */
LLVMValueRef sn_gen_epilogue(sn_irb *k, const sn_epilogue *e, LLVMValueRef v);

/* ---- direct convolution, output-channel vectorized ----
 * ptrs: [0] input (layout `in`), [1] packed weights [Ob][C][KH][KW][vl], [2] bias
 * [Ob*vl] (zeros when the layer has none), [3] output (layout `out`, pooled dims if the
 * epilogue pools). A tile is tn images x tr rows x tw cols x tq output-channel blocks,
 * kept in registers over the whole input-channel loop. */
typedef struct sn_conv_desc {
    int64_t N;
    sn_cpu_layout in, out;
    int O, OH, OW; /* convolution output, before any pooling */
    int KH, KW, SH, SW, PH, PW;
    sn_epilogue epi;
    int tn, tr, tw, tq; /* tile */
} sn_conv_desc;

/* Picks a register tile for the target (nregs vector registers). */
void sn_conv_choose_tile(sn_conv_desc *d, int nregs);
int64_t sn_conv_tasks(const sn_conv_desc *d);
void sn_gen_conv(sn_irb *k, const sn_conv_desc *d);

/* ---- Winograd F(2x2, 3x3) convolution (gen_winograd.c) ----
 * ptrs: [0] input (fused_input) or the transformed input V [16][tiles][Cpad] filled by
 * the sn_gen_wino_input kernel (ptrs [0] input, [1] V), [1] transformed weights
 * [16][Ob][C][vl], [2] bias, [3] output. */
typedef struct sn_wino_desc {
    sn_conv_desc c; /* shapes, layouts and epilogue; the tile fields are unused */
    int vl;
    int P, Q, rp; /* tiles and channel blocks per task; tiles per register tile */
    int fused_input;
} sn_wino_desc;

int sn_wino_applies(const sn_conv_desc *d);
void sn_wino_choose(sn_wino_desc *w, int vl);
int64_t sn_wino_tiles(const sn_wino_desc *w);
int64_t sn_wino_tasks(const sn_wino_desc *w);
int64_t sn_wino_v_floats(const sn_wino_desc *w);
int64_t sn_wino_input_tasks(const sn_wino_desc *w);
void sn_gen_wino(sn_irb *k, const sn_wino_desc *w);
void sn_gen_wino_input(sn_irb *k, const sn_wino_desc *w);

/* ---- fully connected: y[n, m] = epi(sum_k x[n, k] w[m, k] + b[m]) ----
 * ptrs: [0] x plain [N][K], [1] packed weights [Mb][K][vl], [2] bias [Mb*vl], [3] y plain
 * [N][M]. Tile: tn rows x tq blocks of vl outputs. */
typedef struct sn_linear_desc {
    int64_t N;
    int K, M;
    int vl;
    sn_epilogue epi;
    int tn, tq;
} sn_linear_desc;

void sn_linear_choose_tile(sn_linear_desc *d, int nregs);
int64_t sn_linear_tasks(const sn_linear_desc *d);
void sn_gen_linear(sn_irb *k, const sn_linear_desc *d);

/* ---- pooling over a blocked or plain map (any window/stride/padding) ----
 * ptrs: [0] input, [1] output. One task per (image, channel block). */
typedef struct sn_pool_desc {
    int64_t N;
    sn_cpu_layout in, out;
    int max; /* 1 max, 0 avg (padding counted, PyTorch default) */
    int KH, KW, SH, SW, PH, PW;
    sn_epilogue epi; /* elementwise ops after the pool (no pool field) */
} sn_pool_desc;

int64_t sn_pool_tasks(const sn_pool_desc *d);
void sn_gen_pool(sn_irb *k, const sn_pool_desc *d);

/* ---- elementwise over a map: y = epi(scale[c] * x + shift[c]) ----
 * ptrs: [0] x, [1] y (same layout), [2] scale, [3] shift (per channel, padded to the
 * block width; only read when affine). Writes zeros into the halo. */
typedef struct sn_eltwise_desc {
    int64_t N;
    sn_cpu_layout lay;
    int affine; /* batchnorm folded into scale/shift */
    sn_epilogue epi;
} sn_eltwise_desc;

int64_t sn_eltwise_tasks(const sn_eltwise_desc *d);
void sn_gen_eltwise(sn_irb *k, const sn_eltwise_desc *d);

/* ---- layout conversion (reorders, flatten): copies every logical element ----
 * ptrs: [0] src, [1] dst. Destination halo is zeroed. Flatten to [N, C*H*W] in PyTorch
 * order is a conversion to plain with H = W = 1 and C = C*H*W (dst logical shape). */
typedef struct sn_reorder_desc {
    int64_t N;
    sn_cpu_layout src, dst; /* dst may differ in C/H/W only for a flatten */
    int flatten;
} sn_reorder_desc;

int64_t sn_reorder_tasks(const sn_reorder_desc *d);
void sn_gen_reorder(sn_irb *k, const sn_reorder_desc *d);

/* ---- spiking ops: tensors [T][M] with M = floats per time step (any layout: the ops
 * are elementwise over M, and zero halos/lanes stay zero) ---- */

/* IF/LIF dynamics over T steps, exactly the reference arithmetic. ptrs: [0] x [T][M],
 * [1] spikes [T][M]. Tasks: chunks of M. */
typedef struct sn_neuron_desc {
    int T;
    int64_t M;
    sn_neuron_params p;
} sn_neuron_desc;
int64_t sn_neuron_tasks(const sn_neuron_desc *d);
void sn_gen_neuron(sn_irb *k, const sn_neuron_desc *d);

/* Encoders: x [M] -> s [T][M]. Poisson draws u = sn_rand_u01(mix64(ctx->seed ^ stream), t,
 * i) and counts inputs outside [0, 1] into ctx->bad_input. ptrs: [0] x, [1] s. */
typedef struct sn_encode_desc {
    int T;
    int64_t M;
    int poisson;
    uint64_t stream;
} sn_encode_desc;
int64_t sn_encode_tasks(const sn_encode_desc *d);
void sn_gen_encode(sn_irb *k, const sn_encode_desc *d);

/* y[i] = (1/T) sum_t x[t][i], accumulated in double. ptrs: [0] x, [1] y. */
typedef struct sn_time_mean_desc {
    int T;
    int64_t M;
} sn_time_mean_desc;
int64_t sn_time_mean_tasks(const sn_time_mean_desc *d);
void sn_gen_time_mean(sn_irb *k, const sn_time_mean_desc *d);

/* Threshold units over a blocked map: count of theta[c][u] <= v. ptrs: [0] v, [1] packed
 * thresholds [Cb][U][vl] (+inf in padded lanes), [2] counts (same layout as v, halo
 * zeroed). One task per (image, channel block). */
typedef struct sn_threshold_desc {
    int64_t N;
    sn_cpu_layout lay;
    int U;
} sn_threshold_desc;
int64_t sn_threshold_tasks(const sn_threshold_desc *d);
void sn_gen_threshold(sn_irb *k, const sn_threshold_desc *d);

/* Losses over scores [N][K] (plain) and int32 labels [N]: one task writes the mean loss
 * (ptrs: [0] scores, [1] labels, [2] loss scalar). Computed in double like the reference. */
typedef struct sn_loss_desc {
    int64_t N;
    int K;
    int mse;         /* 0: softmax cross-entropy, 1: MSE against one-hot */
    float smoothing; /* cross-entropy label smoothing */
} sn_loss_desc;
void sn_gen_loss(sn_irb *k, const sn_loss_desc *d);

/* A floating-point peak probe: each task runs `iters` rounds of 12 independent vector FMAs
 * and stores the result to ptrs[0][task * vl ...]. FLOPs per task: iters * 12 * vl * 2. */
void sn_gen_peak(sn_irb *k, int64_t iters);

/* Offsets of sn_kctx fields, for kernels that read the seed or report bad input. */
int64_t sn_kctx_seed_offset(void);
int64_t sn_kctx_bad_input_offset(void);

#endif
